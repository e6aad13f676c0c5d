// Package controller holds one reconciler per kind: DeveloperAppKey,
// ApigeeConnection and ClusterApigeeConnection.
package controller

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/prometheus/client_golang/prometheus"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/connect"
)

// Options configure every reconciler.
type Options struct {
	// ResyncInterval is how often a converged object is re-read from Apigee.
	ResyncInterval time.Duration
	// ClientFactory builds Apigee clients; nil means connect.New.
	ClientFactory ClientFactory
	// SnapshotTTL is how long keys of one app share a GET app; default 5s.
	SnapshotTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ExpiryWarningWindow is how long before a key expires the
	// KeyExpiringSoon warning is sent and Ready says when; default 7 days.
	ExpiryWarningWindow time.Duration
	// Tenancy is what the operator lends to connections: its ambient
	// identity and each organization's call budget.
	Tenancy Tenancy
	// CallTimeout bounds each Apigee call; default connect.DefaultTimeout.
	CallTimeout time.Duration
	// OrganizationConcurrency is how many keys of one organization are
	// reconciled at once; default half the manager's workers (at least
	// one), so an organization that is slow or hangs leaves the other
	// half to every other organization.
	OrganizationConcurrency int
	// NamespaceConcurrency is how many keys of one namespace, across all
	// of its connections and organizations, are reconciled at once;
	// default half the manager's workers (at least one). Organization
	// names are a tenant's to choose: this share is what bounds a tenant
	// whose endpoints hang, however many organizations it names.
	NamespaceConcurrency int
	// RecordsSecret names the Secret, in the operator's own namespace, that
	// holds the key it signs its import intents with; created on first
	// start. Empty: a key for this process only, so intents written before
	// a restart or by another replica are ignored (never trusted).
	RecordsSecret types.NamespacedName
	// OrganizationSeries is how many organizations get metric series of
	// their own (tenants name organizations; the rest count as "_other");
	// default apigee.DefaultOrganizationSeries.
	OrganizationSeries int
}

// DefaultExpiryWarningWindow is how long before expiry a key is reported
// as expiring soon.
const DefaultExpiryWarningWindow = 7 * 24 * time.Hour

// Setup registers the reconcilers with the manager.
func Setup(ctx context.Context, mgr ctrl.Manager, o Options) error {
	o = withDefaults(o)
	if err := registerIndexes(ctx, mgr); err != nil {
		return err
	}
	signingKey, err := loadSigningKey(ctx, mgr.GetClient(), mgr.GetAPIReader(), o.RecordsSecret)
	if err != nil {
		return err
	}
	apiMetrics := apigee.NewMetrics(metrics.Registry)
	apiMetrics.LimitOrganizations(o.OrganizationSeries)
	conns := NewConnections(mgr.GetClient(), mgr.GetAPIReader(), o.ClientFactory, apiMetrics, o.Tenancy)
	conns.callTimeout = o.CallTimeout
	halfTheWorkers := max(1, mgr.GetControllerOptions().MaxConcurrentReconciles/2)
	if o.OrganizationConcurrency <= 0 {
		o.OrganizationConcurrency = halfTheWorkers
	}
	if o.NamespaceConcurrency <= 0 {
		o.NamespaceConcurrency = halfTheWorkers
	}
	gates := newOrgGates(o.OrganizationConcurrency, o.NamespaceConcurrency, o.Now)
	gates.maxSeries = o.OrganizationSeries
	gates.waitingKeys = register(metrics.Registry, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "apigee_key_operator_keys_waiting",
		Help: "DeveloperAppKeys waiting for a turn with their organization (its budget, its share of the workers, or its answer).",
	}, []string{"endpoint", "organization"}))
	snapshots := newAppSnapshots(o.SnapshotTTL, o.ResyncInterval, o.Now)
	shareOrganizationState(conns, gates, snapshots)
	secrets := &secretWatch{client: mgr.GetClient(), connectionSecretChanged: conns.SecretChanged}
	prober := &connectionProber{client: mgr.GetClient(), connections: conns, interval: o.ResyncInterval,
		metrics: newConnectionMetrics(metrics.Registry)}
	if err := (&ApigeeConnectionReconciler{prober: prober}).setup(mgr, secrets); err != nil {
		return err
	}
	if err := (&ClusterApigeeConnectionReconciler{prober: prober}).setup(mgr, secrets); err != nil {
		return err
	}
	keys := &DeveloperAppKeyReconciler{
		client: mgr.GetClient(), apiReader: mgr.GetAPIReader(), connections: conns,
		snapshots: snapshots, gates: gates, recorder: mgr.GetEventRecorder("apigee-key-operator"), refusals: newRefusals(), intents: intentSigner{key: signingKey},
		metrics: newKeyMetrics(metrics.Registry), resync: o.ResyncInterval, now: o.Now, expiryWarning: o.ExpiryWarningWindow,
	}
	return keys.setup(mgr, secrets)
}

// shareOrganizationState ties the gates and the snapshots to the
// connections: they hear when an organization's health changes, and let go
// of what they keep for a connection or an organization once it is gone.
func shareOrganizationState(conns *Connections, gates *orgGates, snapshots *appSnapshots) {
	conns.onHealth = gates.healthChanged
	conns.onConnectionGone = func(uid types.UID) { snapshots.forgetConnection(string(uid)) }
	conns.onOrganizationGone = func(endpoint, org string) {
		gates.forgetOrganization(apigee.OrgKey(endpoint, org))
		snapshots.forgetOrganization(endpoint, org)
	}
}

func withDefaults(o Options) Options {
	if o.ResyncInterval <= 0 {
		o.ResyncInterval = 10 * time.Minute
	}
	if o.ClientFactory == nil {
		o.ClientFactory = connect.New
	}
	if o.SnapshotTTL <= 0 {
		o.SnapshotTTL = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OrganizationSeries <= 0 {
		o.OrganizationSeries = apigee.DefaultOrganizationSeries
	}
	if o.ExpiryWarningWindow <= 0 {
		o.ExpiryWarningWindow = DefaultExpiryWarningWindow
	}
	return o
}
