package controller

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
)

// ClusterApigeeConnectionReconciler probes cluster-wide connections.
type ClusterApigeeConnectionReconciler struct {
	prober *connectionProber
}

// Reconcile probes one ClusterApigeeConnection.
func (r *ClusterApigeeConnectionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	c := &apigeev1alpha1.ClusterApigeeConnection{}
	return r.prober.reconcileObject(ctx, req, c, func() *connection { return fromCluster(c) })
}

func (r *ClusterApigeeConnectionReconciler) setup(mgr ctrl.Manager, secrets *secretWatch) error {
	return r.prober.setup(mgr, r, "ClusterApigeeConnection", &apigeev1alpha1.ClusterApigeeConnection{}, secrets)
}
