package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterApigeeConnectionSpec is an ApigeeConnectionSpec that several
// namespaces may share.
type ClusterApigeeConnectionSpec struct {
	ApigeeConnectionSpec `json:",inline"`

	// AllowedNamespaces says whose DeveloperAppKeys may use this connection.
	// A key in any other namespace gets Ready=False with reason
	// ConnectionNotAllowed and no Apigee call is made for it.
	AllowedNamespaces AllowedNamespaces `json:"allowedNamespaces"`
}

// AllowedNamespaces selects namespaces by name, by label, or both (a
// namespace matching either is allowed). "selector: {}" allows every
// namespace.
// +kubebuilder:validation:XValidation:rule="has(self.names) || has(self.selector)",message="allowedNamespaces needs names, a selector, or both; use selector: {} to allow every namespace"
type AllowedNamespaces struct {
	// Names lists namespaces by name.
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	// +optional
	Names []string `json:"names,omitempty"`

	// Selector matches namespaces by label.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// ClusterApigeeConnection is a cluster-wide ApigeeConnection that keys in the
// namespaces it allows can reference with connectionRef.kind
// ClusterApigeeConnection. Its Secret references must name a namespace.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=capigeeconn,categories=apigee
// +kubebuilder:validation:XValidation:rule="(!has(self.spec.auth.serviceAccountKey) || has(self.spec.auth.serviceAccountKey.secretRef.__namespace__)) && (!has(self.spec.auth.basic) || has(self.spec.auth.basic.secretRef.__namespace__)) && (!has(self.spec.auth.edgeOAuth) || has(self.spec.auth.edgeOAuth.secretRef.__namespace__)) && (!has(self.spec.auth.bearerToken) || has(self.spec.auth.bearerToken.secretRef.__namespace__))",message="secretRef.namespace is required on ClusterApigeeConnection"
// +kubebuilder:printcolumn:name="Organization",type=string,JSONPath=`.spec.organization`
// +kubebuilder:printcolumn:name="Platform",type=string,JSONPath=`.spec.platform`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterApigeeConnection struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ClusterApigeeConnectionSpec `json:"spec"`
	Status ConnectionStatus            `json:"status,omitempty"`
}

// ClusterApigeeConnectionList is a list of ClusterApigeeConnection.
// +kubebuilder:object:root=true
type ClusterApigeeConnectionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterApigeeConnection `json:"items"`
}
