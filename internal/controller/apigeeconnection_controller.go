package controller

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
)

// ApigeeConnectionReconciler probes namespaced connections.
type ApigeeConnectionReconciler struct {
	prober *connectionProber
}

// Reconcile probes one ApigeeConnection.
func (r *ApigeeConnectionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	c := &apigeev1alpha1.ApigeeConnection{}
	return r.prober.reconcileObject(ctx, req, c, func() *connection { return fromNamespaced(c) })
}

func (r *ApigeeConnectionReconciler) setup(mgr ctrl.Manager, secrets *secretWatch) error {
	return r.prober.setup(mgr, r, "ApigeeConnection", &apigeev1alpha1.ApigeeConnection{}, secrets)
}
