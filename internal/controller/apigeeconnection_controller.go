package controller

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
)

// ApigeeConnectionReconciler probes namespaced connections.
type ApigeeConnectionReconciler struct {
	prober *connectionProber
}

// Reconcile probes one ApigeeConnection.
func (r *ApigeeConnectionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	c := &apigeev1alpha1.ApigeeConnection{}
	if err := r.prober.client.Get(ctx, req.NamespacedName, c); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !c.DeletionTimestamp.IsZero() {
		r.prober.connections.Forget(c.UID)
		return ctrl.Result{}, nil
	}
	return r.prober.reconcile(ctx, fromNamespaced(c))
}

func (r *ApigeeConnectionReconciler) setup(mgr ctrl.Manager, secrets *secretWatch) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("apigeeconnection").
		For(&apigeev1alpha1.ApigeeConnection{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesMetadata(secretMetadata(), secrets.toConnections(apigeev1alpha1.GroupVersion.WithKind("ApigeeConnection"))).
		Complete(r)
}
