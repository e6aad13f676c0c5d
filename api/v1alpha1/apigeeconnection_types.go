package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Platform is the Apigee product line an organization runs on.
// +kubebuilder:validation:Enum=X;Hybrid;Edge
type Platform string

const (
	PlatformX      Platform = "X"
	PlatformHybrid Platform = "Hybrid"
	PlatformEdge   Platform = "Edge"
)

// ApigeeConnectionSpec says how to reach and authenticate to one Apigee
// organization.
// +kubebuilder:validation:XValidation:rule="self.platform != 'Edge' || (!has(self.auth.workloadIdentity) && !has(self.auth.serviceAccountKey))",message="workloadIdentity and serviceAccountKey authenticate to Apigee X and hybrid only; Edge uses basic, edgeOAuth or bearerToken"
// +kubebuilder:validation:XValidation:rule="self.platform == 'Edge' || (!has(self.auth.basic) && !has(self.auth.edgeOAuth))",message="basic and edgeOAuth authenticate to Apigee Edge only; X and hybrid use workloadIdentity, serviceAccountKey or bearerToken"
type ApigeeConnectionSpec struct {
	// Organization is the Apigee organization name, e.g. "acme-prod". On X
	// and hybrid it is usually the Google Cloud project ID.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9-]*$`
	Organization string `json:"organization"`

	// Platform is X, Hybrid or Edge. X and Hybrid share one management API.
	// +kubebuilder:default=X
	// +optional
	Platform Platform `json:"platform,omitempty"`

	// Endpoint is the management API base URL, without "/v1". Defaults to
	// https://apigee.googleapis.com for X and Hybrid (set a regional
	// endpoint such as https://eu-apigee.googleapis.com for data-residency
	// organizations) and https://api.enterprise.apigee.com for Edge; Edge
	// Private Cloud uses its management server, e.g. http://ms.internal:8080.
	// +kubebuilder:validation:Pattern=`^https?://[^/?#\s]+(/[^?#\s]*)?$`
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// Auth says how to authenticate. Exactly one method must be set.
	Auth ConnectionAuth `json:"auth"`

	// RateLimit caps management calls. On a ClusterApigeeConnection it is
	// the organization's budget, shared by every connection and key using
	// the organization. On an ApigeeConnection it caps only that
	// connection's own calls, which also stay within the organization's
	// budget: it can neither slow other namespaces nor raise the budget.
	// The budget defaults to the operator's --organization-requests-per-minute:
	// 4800 requests per minute on X and Hybrid (quota 6000) and 8000 on
	// Edge (quota 10000), leaving room for people and pipelines.
	// +optional
	RateLimit *RateLimit `json:"rateLimit,omitempty"`
}

// ConnectionAuth holds exactly one authentication method.
// +kubebuilder:validation:XValidation:rule="[has(self.workloadIdentity), has(self.serviceAccountKey), has(self.basic), has(self.edgeOAuth), has(self.bearerToken)].filter(x, x).size() == 1",message="exactly one of workloadIdentity, serviceAccountKey, basic, edgeOAuth or bearerToken must be set"
type ConnectionAuth struct {
	// WorkloadIdentity uses the operator's own Google identity, its
	// Application Default Credentials: GKE Workload Identity, the metadata
	// server or GOOGLE_APPLICATION_CREDENTIALS. X and Hybrid only. It is
	// meant for ClusterApigeeConnections, set up by administrators, whose
	// endpoint receives the tokens. An ApigeeConnection may use it only when
	// the operator runs with --namespaced-ambient-credentials, and then only
	// towards https://*.googleapis.com endpoints; otherwise Ready is False
	// with reason AmbientCredentialsNotAllowed and no call is made.
	// +optional
	WorkloadIdentity *WorkloadIdentityAuth `json:"workloadIdentity,omitempty"`

	// ServiceAccountKey uses a Google service-account JSON key stored in a
	// Secret. X and Hybrid only.
	// +optional
	ServiceAccountKey *SecretKeyAuth `json:"serviceAccountKey,omitempty"`

	// Basic uses HTTP Basic authentication with a username and password
	// from a Secret. Edge only (the built-in method on Private Cloud).
	// +optional
	Basic *BasicAuth `json:"basic,omitempty"`

	// EdgeOAuth exchanges a username and password from a Secret for OAuth2
	// tokens (password grant) and refreshes them. Edge only.
	// +optional
	EdgeOAuth *EdgeOAuthAuth `json:"edgeOAuth,omitempty"`

	// BearerToken sends a static token from a Secret. Any platform; the
	// token is not refreshed, so it suits tests and short-lived setups.
	// +optional
	BearerToken *SecretKeyAuth `json:"bearerToken,omitempty"`
}

// WorkloadIdentityAuth selects Application Default Credentials. It has no
// fields: the pod's identity is used.
type WorkloadIdentityAuth struct{}

// SecretReference names a Secret. On an ApigeeConnection the Secret is in
// the connection's namespace and namespace must be empty; on a
// ClusterApigeeConnection namespace is required.
type SecretReference struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Namespace of the Secret. Required on ClusterApigeeConnection, not
	// allowed on ApigeeConnection.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// SecretKeyAuth reads one value from a Secret.
type SecretKeyAuth struct {
	// SecretRef names the Secret.
	SecretRef SecretReference `json:"secretRef"`

	// Key is the Secret data key holding the value. Defaults to "key.json"
	// for serviceAccountKey and "token" for bearerToken.
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Key string `json:"key,omitempty"`
}

// BasicAuth reads a username and password from a Secret.
type BasicAuth struct {
	// SecretRef names the Secret.
	SecretRef SecretReference `json:"secretRef"`

	// UsernameKey is the Secret data key holding the username.
	// +kubebuilder:default=username
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +optional
	UsernameKey string `json:"usernameKey,omitempty"`

	// PasswordKey is the Secret data key holding the password.
	// +kubebuilder:default=password
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +optional
	PasswordKey string `json:"passwordKey,omitempty"`
}

// EdgeOAuthAuth is the Apigee Edge OAuth2 password grant.
type EdgeOAuthAuth struct {
	BasicAuth `json:",inline"`

	// TokenURL is the token endpoint. On an Edge organization with SAML
	// enabled, use the zone's endpoint, https://{zone}.login.apigee.com/oauth/token,
	// with a machine user's password: one-time passcodes cannot be automated.
	// +kubebuilder:default="https://login.apigee.com/oauth/token"
	// +kubebuilder:validation:Pattern=`^https?://[^\s]+$`
	// +optional
	TokenURL string `json:"tokenURL,omitempty"`

	// MFATokenKey is the Secret data key holding a one-time MFA code, for
	// accounts that require one. Leave empty otherwise.
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +optional
	MFATokenKey string `json:"mfaTokenKey,omitempty"`
}

// RateLimit is a token bucket for management calls.
type RateLimit struct {
	// RequestsPerMinute is the sustained rate.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	RequestsPerMinute int32 `json:"requestsPerMinute"`

	// Burst is how many calls may go at once after a quiet period.
	// +kubebuilder:default=20
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Burst int32 `json:"burst,omitempty"`
}

// ConnectionStatus is the observed state of a connection.
type ConnectionStatus struct {
	// ObservedGeneration is the spec generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready says whether the last probe authenticated.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ApigeeConnection tells DeveloperAppKeys in its namespace how to reach an
// Apigee organization.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=apigeeconn,categories=apigee
// +kubebuilder:validation:XValidation:rule="(!has(self.spec.auth.serviceAccountKey) || !has(self.spec.auth.serviceAccountKey.secretRef.__namespace__)) && (!has(self.spec.auth.basic) || !has(self.spec.auth.basic.secretRef.__namespace__)) && (!has(self.spec.auth.edgeOAuth) || !has(self.spec.auth.edgeOAuth.secretRef.__namespace__)) && (!has(self.spec.auth.bearerToken) || !has(self.spec.auth.bearerToken.secretRef.__namespace__))",message="secretRef.namespace is not allowed on ApigeeConnection: the Secret must be in the connection's namespace"
// +kubebuilder:printcolumn:name="Organization",type=string,JSONPath=`.spec.organization`
// +kubebuilder:printcolumn:name="Platform",type=string,JSONPath=`.spec.platform`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ApigeeConnection struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ApigeeConnectionSpec `json:"spec"`
	// A new object reads as status.observedGeneration 0 until the operator
	// first writes its status, so kstatus (Flux, Config Sync) sees it
	// InProgress, not Current.
	// +kubebuilder:default={observedGeneration: 0}
	Status ConnectionStatus `json:"status,omitempty"`
}

// ApigeeConnectionList is a list of ApigeeConnection.
// +kubebuilder:object:root=true
type ApigeeConnectionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ApigeeConnection `json:"items"`
}
