package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/leaderelection"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/controller"
)

// options are the operator's command-line settings.
type options struct {
	metricsAddr     string
	metricsSecure   bool
	probeAddr       string
	pprofAddr       string
	leaderElect     bool
	leaderElectNS   string
	leaseDuration   time.Duration // leader election timings
	renewDeadline   time.Duration
	retryPeriod     time.Duration
	resyncInterval  time.Duration
	expiryWarning   time.Duration
	watchNamespaces string
	verbosity       int
	logFormat       string
	concurrency     int
	// namespaceConcurrency caps one namespace's keys in flight (0: half).
	namespaceConcurrency int
	reconcileTimeout     time.Duration
	callTimeout          time.Duration
	// Tenancy: what the operator lends to namespaces.
	namespacedAmbient bool
	orgRequestsPerMin int
	orgBurst          int
	orgSeries         int
	// recordsSecret: where the key that signs the operator's import
	// intents is kept ("namespace/name" or "name").
	recordsSecret string
}

func parseFlags(fs *flag.FlagSet, args []string) (options, error) {
	var o options
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8443", `Address of the metrics endpoint; "0" disables it.`)
	fs.BoolVar(&o.metricsSecure, "metrics-secure", true, "Serve metrics over HTTPS with Kubernetes authentication and authorization; false serves plain HTTP.")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	fs.StringVar(&o.pprofAddr, "pprof-bind-address", "0", `Address of Go's /debug/pprof endpoints, unauthenticated: bind it to localhost (e.g. "127.0.0.1:6060") and reach it with kubectl port-forward; "0" disables it.`)
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "Elect a leader so only one replica reconciles; needed with more than one replica.")
	fs.StringVar(&o.leaderElectNS, "leader-election-namespace", "", "Namespace of the leader election lease; defaults to the pod's namespace.")
	fs.DurationVar(&o.leaseDuration, "leader-election-lease-duration", 15*time.Second, "How long a standby replica waits after the leader's last renewal before taking over: the longest pause in reconciling when a leader dies without releasing its lease.")
	fs.DurationVar(&o.renewDeadline, "leader-election-renew-deadline", 10*time.Second, "How long the leader keeps trying to renew its lease before it stops (and exits); less than the lease duration.")
	fs.DurationVar(&o.retryPeriod, "leader-election-retry-period", 2*time.Second, "How often replicas try to acquire or renew the lease.")
	fs.DurationVar(&o.resyncInterval, "resync-interval", 10*time.Minute, "How often a converged key is re-read from Apigee to correct drift.")
	fs.DurationVar(&o.expiryWarning, "expiry-warning-window", 7*24*time.Hour, "How long before a key expires the KeyExpiringSoon warning is sent and Ready says when.")
	fs.StringVar(&o.watchNamespaces, "watch-namespaces", "", "Comma-separated namespaces to watch for DeveloperAppKeys and ApigeeConnections; empty watches all.")
	fs.IntVar(&o.concurrency, "max-concurrent-reconciles", 32, "Objects of each kind reconciled at once; one organization's keys take at most half of them. Apigee calls stay within each organization's rate limit whatever this is.")
	fs.IntVar(&o.namespaceConcurrency, "namespace-max-concurrent-reconciles", 0, "Keys of one namespace reconciled at once, across all of its connections and organizations; 0: half of --max-concurrent-reconciles. "+
		"A tenant whose endpoints hang holds at most this many workers, however many organizations it names.")
	fs.DurationVar(&o.reconcileTimeout, "reconcile-timeout", 2*time.Minute, "Upper bound of one reconcile.")
	fs.DurationVar(&o.callTimeout, "apigee-call-timeout", 30*time.Second, "Upper bound of one Apigee management call. Calls that time out, fail to connect or answer 502/503/504 five times in a row make the organization Unreachable: its calls are held, and its keys wait without holding workers, until a trial call succeeds.")
	fs.BoolVar(&o.namespacedAmbient, "namespaced-ambient-credentials", false, "Let ApigeeConnections (namespaced) use workloadIdentity, the operator's own Google identity, towards https://*.googleapis.com endpoints only. "+
		"Off: only ClusterApigeeConnections, set up by administrators, may use it; anyone who can create an ApigeeConnection could otherwise act as the operator's service account.")
	fs.IntVar(&o.orgRequestsPerMin, "organization-requests-per-minute", 0, "Each organization's budget of Apigee management calls a minute, shared by every connection to it; 0: 4800 on X and Hybrid, 8000 on Edge. "+
		"A ClusterApigeeConnection's rateLimit overrides it for its organization; an ApigeeConnection's rateLimit only caps that connection's calls.")
	fs.IntVar(&o.orgBurst, "organization-burst", 20, "Calls an organization's budget lets go at once after a quiet period.")
	fs.IntVar(&o.orgSeries, "organization-series", 100, `Organizations that get metric series of their own (organization names are tenants' to choose); calls to any further one are counted under organization="_other".`)
	fs.StringVar(&o.recordsSecret, "records-secret", defaultRecordsSecret, "Secret (\"name\" in the operator's namespace, or \"namespace/name\") holding the key the operator signs its import-pending records with, created on first start; "+
		"replicas share it, so records survive restarts and failovers. Only records signed with it steer a delete. Empty, or outside a cluster with no namespace: a key for this process only.")
	fs.IntVar(&o.verbosity, "v", 0, "Log verbosity: 0 info, 1 debug, higher for more detail. Key and secret values are never logged.")
	fs.StringVar(&o.logFormat, "log-format", "json", "Log format: json or console.")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	return o, o.validate()
}

func (o options) validate() error {
	if o.expiryWarning <= 0 {
		return fmt.Errorf("--expiry-warning-window must be positive, got %s", o.expiryWarning)
	}
	if o.callTimeout < time.Second || o.callTimeout > o.reconcileTimeout {
		return fmt.Errorf("--apigee-call-timeout must be between 1s and --reconcile-timeout (%s), got %s", o.reconcileTimeout, o.callTimeout)
	}
	if o.resyncInterval < time.Second {
		return fmt.Errorf("--resync-interval must be at least 1s, got %s", o.resyncInterval)
	}
	if err := o.validateLeaderElection(); err != nil {
		return err
	}
	if o.concurrency < 1 {
		return fmt.Errorf("--max-concurrent-reconciles must be at least 1, got %d", o.concurrency)
	}
	if o.namespaceConcurrency < 0 || o.namespaceConcurrency > o.concurrency {
		return fmt.Errorf("--namespace-max-concurrent-reconciles must be between 0 and --max-concurrent-reconciles (%d), got %d", o.concurrency, o.namespaceConcurrency)
	}
	if o.orgRequestsPerMin < 0 || o.orgRequestsPerMin > 100000 {
		return fmt.Errorf("--organization-requests-per-minute must be between 0 and 100000, got %d", o.orgRequestsPerMin)
	}
	if o.orgSeries < 1 || o.orgSeries > 100000 {
		return fmt.Errorf("--organization-series must be between 1 and 100000, got %d", o.orgSeries)
	}
	if o.orgBurst < 1 || o.orgBurst > 1000 {
		return fmt.Errorf("--organization-burst must be between 1 and 1000, got %d", o.orgBurst)
	}
	if strings.Count(o.recordsSecret, "/") > 1 {
		return fmt.Errorf(`--records-secret must be "name" or "namespace/name", got %q`, o.recordsSecret)
	}
	if o.verbosity < 0 {
		return fmt.Errorf("-v must not be negative, got %d", o.verbosity)
	}
	if o.logFormat != "json" && o.logFormat != "console" {
		return fmt.Errorf(`--log-format must be "json" or "console", got %q`, o.logFormat)
	}
	return nil
}

// validateLeaderElection checks the lease timings as client-go's leader
// elector would, but before anything starts and naming the flags: the
// lease outlives the renew deadline, which outlives a jittered retry.
func (o options) validateLeaderElection() error {
	switch {
	case o.leaseDuration <= 0 || o.renewDeadline <= 0 || o.retryPeriod <= 0:
		return fmt.Errorf("--leader-election-lease-duration, --leader-election-renew-deadline and --leader-election-retry-period must be positive, got %s, %s, %s",
			o.leaseDuration, o.renewDeadline, o.retryPeriod)
	case o.leaseDuration <= o.renewDeadline:
		return fmt.Errorf("--leader-election-lease-duration (%s) must be longer than --leader-election-renew-deadline (%s)", o.leaseDuration, o.renewDeadline)
	case float64(o.renewDeadline) <= leaderelection.JitterFactor*float64(o.retryPeriod):
		return fmt.Errorf("--leader-election-renew-deadline (%s) must be longer than %.1f times --leader-election-retry-period (%s)",
			o.renewDeadline, leaderelection.JitterFactor, o.retryPeriod)
	}
	return nil
}

// tenancy is what the operator lends to connections.
func (o options) tenancy() controller.Tenancy {
	return controller.Tenancy{
		NamespacedAmbientCredentials: o.namespacedAmbient,
		OrganizationRate:             apigee.Rate{PerMinute: o.orgRequestsPerMin, Burst: o.orgBurst},
	}
}

// namespaces returns the watched namespaces, or nil for all.
func (o options) namespaces() []string {
	var out []string
	for _, ns := range strings.Split(o.watchNamespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			out = append(out, ns)
		}
	}
	return out
}

// newLogger builds a structured zap logger; -v N enables logr V(N) lines.
func newLogger(o options) logr.Logger {
	encoder := zap.JSONEncoder()
	if o.logFormat == "console" {
		encoder = zap.ConsoleEncoder()
	}
	return zap.New(encoder, zap.Level(zapcore.Level(-o.verbosity)))
}

// defaultRecordsSecret is the records Secret's name in the operator's
// namespace.
const defaultRecordsSecret = "apigee-key-operator-records"

// serviceAccountNamespace is where a pod learns its namespace.
var serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// records is the records Secret: a bare name is in the operator's own
// namespace (--leader-election-namespace, else the pod's). No namespace
// found (run outside a cluster): none, so the key lives in the process.
func (o options) records() types.NamespacedName {
	if ns, name, ok := strings.Cut(o.recordsSecret, "/"); ok {
		return types.NamespacedName{Namespace: ns, Name: name}
	}
	ns := o.leaderElectNS
	if ns == "" {
		b, _ := os.ReadFile(serviceAccountNamespace)
		ns = strings.TrimSpace(string(b))
	}
	if ns == "" || o.recordsSecret == "" {
		return types.NamespacedName{}
	}
	return types.NamespacedName{Namespace: ns, Name: o.recordsSecret}
}
