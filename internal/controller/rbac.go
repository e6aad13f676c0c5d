package controller

// The operator's permissions, generated into config/rbac/role.yaml and the
// Helm chart by `make manifests`. Secrets need list and watch for the
// metadata-only watch, create for credentials.generate and the records
// Secret, and patch only for Secrets it generated: to stage and switch a
// renewed key, and to remove its own owner reference when the key is
// orphaned. It never changes a Secret the user supplies or deletes one.
//
// +kubebuilder:rbac:groups=apigee.keyoperator.io,resources=developerappkeys,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=apigee.keyoperator.io,resources=developerappkeys/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=apigee.keyoperator.io,resources=developerappkeys/finalizers,verbs=update
// +kubebuilder:rbac:groups=apigee.keyoperator.io,resources=apigeeconnections;clusterapigeeconnections,verbs=get;list;watch
// +kubebuilder:rbac:groups=apigee.keyoperator.io,resources=apigeeconnections/status;clusterapigeeconnections/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
