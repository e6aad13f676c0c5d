package main

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/controller"
)

// run starts the manager and blocks until ctx ends.
func run(ctx context.Context, o options) error {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, managerOptions(o))
	if err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	if err := controller.Setup(ctx, mgr, controller.Options{ResyncInterval: o.resyncInterval, ExpiryWarningWindow: o.expiryWarning,
		Tenancy: o.tenancy(), CallTimeout: o.callTimeout, RecordsSecret: o.records(), OrganizationSeries: o.orgSeries, NamespaceConcurrency: o.namespaceConcurrency}); err != nil {
		return err
	}
	if o.records().Name == "" {
		ctrl.Log.Info("No records Secret: import-pending records are signed with a key for this process only, so records written before a restart are ignored")
	}
	ctrl.Log.Info("Starting operator", "resyncInterval", o.resyncInterval.String(), "namespaces", o.namespaces(),
		"namespacedAmbientCredentials", o.namespacedAmbient, "recordsSecret", o.records().String())
	return mgr.Start(ctx)
}

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntimeMust(clientgoscheme.AddToScheme(s))
	utilruntimeMust(apigeev1alpha1.AddToScheme(s))
	return s
}

func utilruntimeMust(err error) {
	if err != nil {
		panic(err)
	}
}

func managerOptions(o options) ctrl.Options {
	metrics := metricsserver.Options{BindAddress: o.metricsAddr, SecureServing: o.metricsSecure}
	if o.metricsSecure {
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	return ctrl.Options{
		Scheme:                  newScheme(),
		Metrics:                 metrics,
		HealthProbeBindAddress:  o.probeAddr,
		PprofBindAddress:        o.pprofAddr,
		LeaderElection:          o.leaderElect,
		LeaderElectionID:        "apigee-key-operator.apigee.keyoperator.io",
		LeaderElectionNamespace: o.leaderElectNS,
		// The cache holds what the controllers read and no more; Secret
		// data is never cached (see internal/controller/cache.go).
		Cache:      controller.CacheOptions(o.namespaces()...),
		Controller: config.Controller{MaxConcurrentReconciles: o.concurrency, ReconciliationTimeout: o.reconcileTimeout},
		Client:     controller.ClientOptions(),

		LeaseDuration: &o.leaseDuration,
		RenewDeadline: &o.renewDeadline,
		RetryPeriod:   &o.retryPeriod,
		// A replica that stops cleanly (rolling update, drain) hands the
		// lease over at once instead of leaving it to expire. The manager
		// releases it only after its reconciles have stopped, and main
		// exits right after.
		LeaderElectionReleaseOnCancel: true,
		// Stop within the pod's grace period (10 s in the chart and in
		// config/manager), so the lease is released rather than left to
		// expire when the kubelet kills a replica that is still stopping.
		GracefulShutdownTimeout: &gracefulShutdown,
	}
}

// gracefulShutdown bounds how long a stop waits for reconciles in flight.
var gracefulShutdown = 7 * time.Second
