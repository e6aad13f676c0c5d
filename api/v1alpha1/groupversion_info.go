// Package v1alpha1 contains the API of apigee-key-operator: DeveloperAppKey,
// ApigeeConnection and ClusterApigeeConnection in group apigee.keyoperator.io.
// It imports apimachinery only, so clients can depend on it cheaply.
//
// +kubebuilder:object:generate=true
// +groupName=apigee.keyoperator.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the group and version of every kind in this package.
var GroupVersion = schema.GroupVersion{Group: "apigee.keyoperator.io", Version: "v1alpha1"}

var (
	// SchemeBuilder registers this package's kinds with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds this package's kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion,
		&DeveloperAppKey{}, &DeveloperAppKeyList{},
		&ApigeeConnection{}, &ApigeeConnectionList{},
		&ClusterApigeeConnection{}, &ClusterApigeeConnectionList{},
	)
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
