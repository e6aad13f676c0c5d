package controller

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
)

// ClusterApigeeConnectionReconciler probes cluster-wide connections.
type ClusterApigeeConnectionReconciler struct {
	prober *connectionProber
}

// Reconcile probes one ClusterApigeeConnection.
func (r *ClusterApigeeConnectionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	c := &apigeev1alpha1.ClusterApigeeConnection{}
	if err := r.prober.client.Get(ctx, req.NamespacedName, c); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !c.DeletionTimestamp.IsZero() {
		r.prober.connections.Forget(c.UID)
		return ctrl.Result{}, nil
	}
	return r.prober.reconcile(ctx, fromCluster(c))
}

func (r *ClusterApigeeConnectionReconciler) setup(mgr ctrl.Manager, secrets *secretWatch) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("clusterapigeeconnection").
		For(&apigeev1alpha1.ClusterApigeeConnection{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesMetadata(secretMetadata(), secrets.toConnections(apigeev1alpha1.GroupVersion.WithKind("ClusterApigeeConnection"))).
		Complete(r)
}
