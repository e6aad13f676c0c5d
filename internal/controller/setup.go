// Package controller holds one reconciler per kind: DeveloperAppKey,
// ApigeeConnection and ClusterApigeeConnection.
package controller

import (
	"context"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

// Options configure every reconciler.
type Options struct {
	// ResyncInterval is how often a converged object is re-read from Apigee.
	ResyncInterval time.Duration
}

// Setup registers the reconcilers with the manager.
func Setup(ctx context.Context, mgr ctrl.Manager, o Options) error {
	return nil
}
