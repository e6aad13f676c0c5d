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

	// Grants scope what the allowed namespaces' keys may reach in the
	// organization. A key is served only when one grant selecting its
	// namespace covers the whole key: its developer, its app and every one
	// of its API products. Anything else gets Ready=False with the same
	// reason and message as when it does not exist in Apigee, and no
	// Apigee call is made for it. Unset, the connection grants its allowed
	// namespaces the whole organization, as before grants existed; its
	// Scoped condition says so.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	Grants []Grant `json:"grants,omitempty"`
}

// Grant gives the namespaces it selects some developers, apps and API
// products of the organization. An empty list grants nothing of its kind;
// "*" grants everything of it.
type Grant struct {
	// Namespaces selects the namespaces this grant is for, by name, by
	// label, or both. Only namespaces spec.allowedNamespaces allows can
	// use the connection at all.
	Namespaces AllowedNamespaces `json:"namespaces"`

	// Developers lists the developers whose apps the keys may use, by
	// email or developer ID. A pattern may use "*" for any run of
	// characters, e.g. "*@team-a.example.com". Emails match without
	// regard to case.
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=254
	Developers []string `json:"developers"`

	// Apps lists the app names the keys may use; "*" allowed as in
	// developers, e.g. "team-a-*".
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=255
	Apps []string `json:"apps"`

	// APIProducts lists the API products the keys may associate; "*"
	// allowed as in developers.
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=255
	APIProducts []string `json:"apiProducts"`

	// Approval says whether the keys may approve what Apigee left pending:
	// manual-approval products and keys. Denied (the default) leaves them
	// pending for an administrator, and the key says so with reason
	// ApprovalNotGranted; Allowed lets spec.approval approve them.
	// Revoking is always allowed.
	// +kubebuilder:validation:Enum=Allowed;Denied
	// +kubebuilder:default=Denied
	// +optional
	Approval GrantApproval `json:"approval,omitempty"`
}

// GrantApproval is whether a grant lets its keys approve.
type GrantApproval string

const (
	GrantApprovalAllowed GrantApproval = "Allowed"
	GrantApprovalDenied  GrantApproval = "Denied"
)

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
// +kubebuilder:printcolumn:name="Scope",type=string,JSONPath=`.status.conditions[?(@.type=="Scoped")].reason`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterApigeeConnection struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ClusterApigeeConnectionSpec `json:"spec"`
	// A new object reads as status.observedGeneration 0 until the operator
	// first writes its status, so kstatus (Flux, Config Sync) sees it
	// InProgress, not Current.
	// +kubebuilder:default={observedGeneration: 0}
	Status ConnectionStatus `json:"status,omitempty"`
}

// ClusterApigeeConnectionList is a list of ClusterApigeeConnection.
// +kubebuilder:object:root=true
type ClusterApigeeConnectionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterApigeeConnection `json:"items"`
}
