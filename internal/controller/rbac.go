package controller

// The operator's permissions, generated into config/rbac/role.yaml and the
// Helm chart by `make manifests`. Secrets need list and watch for the
// metadata-only watch, create for credentials.generate, and patch only to
// remove its own owner reference from a generated Secret whose key is
// orphaned; the operator never changes Secret data or deletes a Secret.
//
// +kubebuilder:rbac:groups=apigee.keyoperator.io,resources=developerappkeys,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=apigee.keyoperator.io,resources=developerappkeys/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=apigee.keyoperator.io,resources=developerappkeys/finalizers,verbs=update
// +kubebuilder:rbac:groups=apigee.keyoperator.io,resources=apigeeconnections;clusterapigeeconnections,verbs=get;list;watch
// +kubebuilder:rbac:groups=apigee.keyoperator.io,resources=apigeeconnections/status;clusterapigeeconnections/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
