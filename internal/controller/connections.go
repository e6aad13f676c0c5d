package controller

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/auth"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/connect"
	"github.com/apigee-key-operator/apigee-key-operator/internal/controller/grant"
)

// ClientFactory builds an Apigee client for a connection. Production uses
// connect.New; tests may point the transport at an emulator.
type ClientFactory func(ctx context.Context, cfg connect.Config) (apigee.Client, error)

// connection is either connection kind, seen through what they share.
type connection struct {
	object          client.Object
	spec            *apigeev1alpha1.ApigeeConnectionSpec
	status          *apigeev1alpha1.ConnectionStatus
	secretNamespace string                            // empty for workload identity
	allowed         *apigeev1alpha1.AllowedNamespaces // nil: namespaced connection
	grants          []apigeev1alpha1.Grant            // nil: the whole organization
	// scope is what the namespace that resolved the connection may reach
	// (Connections.Get sets it).
	scope grant.Scope
	// keysMakeTheTrial: its organization is unreachable and only a key's
	// call can be the trial that reopens it (Connections.Get sets it).
	keysMakeTheTrial bool
}

func fromNamespaced(c *apigeev1alpha1.ApigeeConnection) *connection {
	return &connection{object: c, spec: &c.Spec, status: &c.Status, secretNamespace: c.Namespace, scope: grant.WholeOrganization()}
}

func fromCluster(c *apigeev1alpha1.ClusterApigeeConnection) *connection {
	return &connection{object: c, spec: &c.Spec.ApigeeConnectionSpec, status: &c.Status, allowed: &c.Spec.AllowedNamespaces,
		grants: c.Spec.Grants, scope: grant.WholeOrganization()}
}

// secretRef returns the Secret the connection's auth method reads, if any.
func (c *connection) secretRef() (ref *apigeev1alpha1.SecretReference) {
	a := c.spec.Auth
	switch {
	case a.ServiceAccountKey != nil:
		ref = &a.ServiceAccountKey.SecretRef
	case a.Basic != nil:
		ref = &a.Basic.SecretRef
	case a.EdgeOAuth != nil:
		ref = &a.EdgeOAuth.SecretRef
	case a.BearerToken != nil:
		ref = &a.BearerToken.SecretRef
	}
	return ref
}

// secretKey is the namespace/name of the connection's Secret.
func (c *connection) secretKey() (types.NamespacedName, bool) {
	ref := c.secretRef()
	if ref == nil {
		return types.NamespacedName{}, false
	}
	ns := c.secretNamespace
	if ref.Namespace != "" {
		ns = ref.Namespace
	}
	return types.NamespacedName{Namespace: ns, Name: ref.Name}, true
}

// ready reports whether the connection's last probe succeeded for its
// current generation, or keys may go on to their organization's gate:
// when only key calls failed (the endpoint answers the probe, a tenant's
// own server, say), the probe cannot reopen the organization, and a key
// parked at the gate makes the trial.
func (c *connection) ready() bool {
	cond := meta.FindStatusCondition(c.status.Conditions, apigeev1alpha1.ConditionReady)
	if cond == nil || c.status.ObservedGeneration != c.object.GetGeneration() {
		return false
	}
	return cond.Status == metav1.ConditionTrue || cond.Reason == apigeev1alpha1.ReasonUnreachable && c.keysMakeTheTrial
}

// notReadyReason is " (Reason)" of the connection's Ready condition, or "".
func (c *connection) notReadyReason() string {
	if r := c.notReadyBecause(); r != "" {
		return " (" + r + ")"
	}
	return ""
}

// notReadyBecause is the reason of the connection's Ready condition when
// it is not True, or "".
func (c *connection) notReadyBecause() string {
	cond := meta.FindStatusCondition(c.status.Conditions, apigeev1alpha1.ConditionReady)
	if cond == nil || cond.Status == metav1.ConditionTrue {
		return ""
	}
	return cond.Reason
}

// Connections resolves connections and keeps one Apigee client per
// connection, rebuilt when the connection or its Secret changes.
type Connections struct {
	cached    client.Client
	apiReader client.Reader // Secrets are read uncached
	factory   ClientFactory
	limiters  *apigee.LimiterRegistry
	health    *apigee.HealthRegistry
	metrics   *apigee.Metrics
	tenancy   Tenancy
	// callTimeout bounds each Apigee call (0: connect.DefaultTimeout).
	callTimeout time.Duration
	// onHealth, if set, is told when an organization stops or starts
	// answering.
	onHealth func(orgKey string)
	// onConnectionGone and onOrganizationGone, if set, are told when a
	// connection is deleted and when no connection reaches an
	// organization any more, so that what was kept for them goes too.
	onConnectionGone   func(uid types.UID)
	onOrganizationGone func(endpoint, org string)

	mu      sync.Mutex
	clients map[types.UID]cachedClient
	// secretEpochs counts the watch events of each Secret a connection
	// uses: a client built before the last one is rebuilt.
	secretEpochs map[types.NamespacedName]uint64
	// byOrg lists the connections to each organization (apigee.OrgKey),
	// to tell them when it stops or starts answering; reaches is the
	// organization and UID of each connection there.
	byOrg   map[string]map[connectionRef]bool
	reaches map[connectionRef]reached
	// changed receives connections whose organization's health changed.
	changed map[string]chan event.GenericEvent // by kind
}

// connectionRef names a connection of either kind.
type connectionRef struct {
	kind string
	key  types.NamespacedName
}

// reached is the organization a connection was last built for.
type reached struct {
	endpoint, org string
	uid           types.UID
}

func (r reached) orgKey() string { return apigee.OrgKey(r.endpoint, r.org) }

type cachedClient struct {
	version string // connection generation + its Secret's epoch
	client  apigee.Client
}

// NewConnections returns a resolver that builds clients with factory.
func NewConnections(cached client.Client, apiReader client.Reader, factory ClientFactory, metrics *apigee.Metrics, tenancy Tenancy) *Connections {
	cs := &Connections{
		cached: cached, apiReader: apiReader, factory: factory, metrics: metrics, tenancy: tenancy,
		limiters: apigee.NewLimiterRegistry(), clients: map[types.UID]cachedClient{}, secretEpochs: map[types.NamespacedName]uint64{},
		byOrg: map[string]map[connectionRef]bool{}, reaches: map[connectionRef]reached{},
		changed: map[string]chan event.GenericEvent{
			"ApigeeConnection": make(chan event.GenericEvent, 64), "ClusterApigeeConnection": make(chan event.GenericEvent, 64)},
	}
	cs.health = apigee.NewHealthRegistry(nil, func(orgKey string) {
		cs.healthChanged(orgKey)
		if cs.onHealth != nil {
			cs.onHealth(orgKey)
		}
	})
	return cs
}

// organization returns the limiter and health of an organization, shared
// by every connection to it (nil before its first client).
func (cs *Connections) organization(endpoint, org string) (*rate.Limiter, *apigee.Health) {
	return cs.limiters.Lookup(endpoint, org), cs.health.Lookup(endpoint, org)
}

// healthOf is the health of the organization conn reaches.
func (cs *Connections) healthOf(conn *connection) *apigee.Health {
	return cs.health.Lookup(conn.spec.EffectiveEndpoint(), conn.spec.Organization)
}

// remember notes that conn reaches its organization; the organization it
// reached before (its spec changed) is pruned if no one else reaches it.
func (cs *Connections) remember(conn *connection) {
	now := reached{endpoint: conn.spec.EffectiveEndpoint(), org: conn.spec.Organization, uid: conn.object.GetUID()}
	ref := connectionRef{kind: connectionKind(conn.object), key: client.ObjectKeyFromObject(conn.object)}
	cs.mu.Lock()
	gone, left := cs.leaveOrganization(ref, now.orgKey())
	cs.reaches[ref] = now
	if cs.byOrg[now.orgKey()] == nil {
		cs.byOrg[now.orgKey()] = map[connectionRef]bool{}
	}
	cs.byOrg[now.orgKey()][ref] = true
	cs.mu.Unlock()
	if left {
		cs.pruneOrganization(gone)
	}
}

// leaveOrganization takes ref off the organization it reached unless that
// is still orgKey, and says whether nobody reaches that organization now.
// cs.mu is held.
func (cs *Connections) leaveOrganization(ref connectionRef, orgKey string) (reached, bool) {
	before, ok := cs.reaches[ref]
	if !ok || before.orgKey() == orgKey {
		return before, false
	}
	delete(cs.reaches, ref)
	delete(cs.byOrg[before.orgKey()], ref)
	if len(cs.byOrg[before.orgKey()]) > 0 {
		return before, false
	}
	delete(cs.byOrg, before.orgKey())
	return before, true
}

// pruneOrganization drops what was kept for an organization that no
// connection reaches any more: its limiter, health, metric series (when no
// organization of that name is left at any endpoint), and through
// onOrganizationGone its lane and snapshots.
func (cs *Connections) pruneOrganization(gone reached) {
	cs.limiters.ForgetOrganization(gone.endpoint, gone.org)
	cs.health.Forget(gone.endpoint, gone.org)
	if !cs.reachesName(gone.org) {
		cs.metrics.ForgetOrganization(gone.org)
	}
	if cs.onOrganizationGone != nil {
		cs.onOrganizationGone(gone.endpoint, gone.org)
	}
}

// reachesName: some connection reaches an organization called org.
func (cs *Connections) reachesName(org string) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, r := range cs.reaches {
		if r.org == org {
			return true
		}
	}
	return false
}

// healthChanged puts the organization's connections back on their queues,
// so their Ready condition says whether it answers.
func (cs *Connections) healthChanged(orgKey string) {
	cs.mu.Lock()
	var refs []connectionRef
	for ref := range cs.byOrg[orgKey] {
		refs = append(refs, ref)
	}
	cs.mu.Unlock()
	go func() {
		for _, ref := range refs {
			var obj client.Object = &apigeev1alpha1.ApigeeConnection{}
			if ref.kind == "ClusterApigeeConnection" {
				obj = &apigeev1alpha1.ClusterApigeeConnection{}
			}
			obj.SetNamespace(ref.key.Namespace)
			obj.SetName(ref.key.Name)
			cs.changed[ref.kind] <- event.GenericEvent{Object: obj}
		}
	}()
}

// Get returns the connection a key references, checking that the key's
// namespace may use it.
func (cs *Connections) Get(ctx context.Context, ref apigeev1alpha1.ConnectionReference, namespace string) (*connection, error) {
	conn, err := cs.load(ctx, ref, namespace)
	if apierrors.IsNotFound(err) {
		return nil, terminal(apigeev1alpha1.ReasonConnectionNotFound, fmt.Sprintf("%s %q not found", ref.ConnectionKind(), ref.Name))
	}
	if err != nil {
		return nil, err
	}
	conn.keysMakeTheTrial = cs.healthOf(conn).Status().KeyCallTrial
	if conn.allowed == nil {
		return conn, nil
	}
	nsLabels, err := cs.namespaceLabels(ctx, conn, namespace)
	if err != nil {
		return nil, err
	}
	if !grant.Selects(*conn.allowed, namespace, nsLabels) {
		return nil, terminal(apigeev1alpha1.ReasonConnectionNotAllowed, fmt.Sprintf("ClusterApigeeConnection %q does not allow namespace %q: add it to spec.allowedNamespaces", ref.Name, namespace))
	}
	conn.scope = grant.For(conn.grants, namespace, nsLabels)
	return conn, nil
}

func (cs *Connections) load(ctx context.Context, ref apigeev1alpha1.ConnectionReference, namespace string) (*connection, error) {
	if ref.ConnectionKind() == "ClusterApigeeConnection" {
		c := &apigeev1alpha1.ClusterApigeeConnection{}
		err := cs.cached.Get(ctx, types.NamespacedName{Name: ref.Name}, c)
		return fromCluster(c), err
	}
	c := &apigeev1alpha1.ApigeeConnection{}
	err := cs.cached.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, c)
	return fromNamespaced(c), err
}

// namespaceLabels reads the namespace's labels from the cache when a
// selector of the connection needs them; a namespace not found has none.
func (cs *Connections) namespaceLabels(ctx context.Context, conn *connection, namespace string) (map[string]string, error) {
	if !grant.NeedsLabels(*conn.allowed, conn.grants) {
		return nil, nil
	}
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := cs.cached.Get(ctx, types.NamespacedName{Name: namespace}, ns); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return ns.GetLabels(), nil
}

// ClientFor returns the connection's Apigee client, building it when the
// connection or its Secret changed since the last build.
func (cs *Connections) ClientFor(ctx context.Context, conn *connection) (apigee.Client, error) {
	// The version is taken before the Secret is read: a change seen
	// meanwhile leaves this build outdated, and the next use rebuilds.
	version := cs.version(conn)
	cs.mu.Lock()
	cached, ok := cs.clients[conn.object.GetUID()]
	cs.mu.Unlock()
	if ok && cached.version == version {
		return cached.client, nil
	}
	cfg, err := cs.config(ctx, conn)
	if err != nil {
		return nil, err
	}
	c, err := cs.factory(ctx, cfg)
	if err != nil {
		return nil, err
	}
	cs.remember(conn)
	cs.mu.Lock()
	cs.clients[conn.object.GetUID()] = cachedClient{version: version, client: c}
	cs.mu.Unlock()
	return c, nil
}

// Forget drops a deleted connection's client, own limiter and snapshots,
// and its organization's state if no other connection reaches it. A
// connection gone from the cache before its deletion was seen (it had no
// finalizer) is forgotten by name (kind, key).
func (cs *Connections) Forget(kind string, key types.NamespacedName) {
	ref := connectionRef{kind: kind, key: key}
	cs.mu.Lock()
	was, known := cs.reaches[ref]
	gone, left := cs.leaveOrganization(ref, "")
	delete(cs.reaches, ref)
	delete(cs.clients, was.uid)
	cs.mu.Unlock()
	if !known {
		return
	}
	cs.limiters.ForgetConnection(string(was.uid))
	if cs.onConnectionGone != nil {
		cs.onConnectionGone(was.uid)
	}
	if left {
		cs.pruneOrganization(gone)
	}
}

// version identifies the inputs of a client: the connection's generation
// and how many times its Secret has changed (SecretChanged). It costs no
// API server read: every reconcile of every key asks for it.
func (cs *Connections) version(conn *connection) string {
	v := fmt.Sprintf("%d", conn.object.GetGeneration())
	key, ok := conn.secretKey()
	if !ok {
		return v
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return fmt.Sprintf("%s/%d", v, cs.secretEpochs[key])
}

// SecretChanged is told of every watch event (created, changed, deleted)
// of a Secret a connection uses: the connection's client is rebuilt from
// a fresh read of it at its next use.
func (cs *Connections) SecretChanged(key types.NamespacedName) {
	cs.mu.Lock()
	cs.secretEpochs[key]++
	cs.mu.Unlock()
}

// config turns the connection spec and its Secret into a client config,
// within what the operator's Tenancy lets the connection use.
func (cs *Connections) config(ctx context.Context, conn *connection) (connect.Config, error) {
	if err := cs.tenancy.ambientAllowed(conn); err != nil {
		return connect.Config{}, err
	}
	budget, own := rateLimits(conn)
	a, err := cs.authConfig(ctx, conn)
	cfg := connect.Config{
		Platform:          connect.Platform(conn.spec.EffectivePlatform()),
		Organization:      conn.spec.Organization,
		Endpoint:          conn.spec.EffectiveEndpoint(),
		Auth:              a,
		RequestsPerMinute: budget.PerMinute,
		Burst:             budget.Burst,
		DefaultRate:       cs.tenancy.OrganizationRate,
		ConnectionRate:    own,
		ConnectionID:      string(conn.object.GetUID()),
		Limiters:          cs.limiters,
		Health:            cs.health,
		Metrics:           cs.metrics,
		Timeout:           cs.callTimeout,
	}
	return cfg, err
}

func (cs *Connections) authConfig(ctx context.Context, conn *connection) (auth.Config, error) {
	a := conn.spec.Auth
	if a.WorkloadIdentity != nil {
		return auth.Config{Method: auth.MethodApplicationDefault, FindAmbient: cs.tenancy.FindAmbient}, nil
	}
	data, err := cs.secretData(ctx, conn)
	if err != nil {
		return auth.Config{}, err
	}
	switch {
	case a.ServiceAccountKey != nil:
		return auth.Config{Method: auth.MethodServiceAccountKey,
			ServiceAccountKey: data[a.ServiceAccountKey.KeyOr(apigeev1alpha1.DefaultServiceAccountKey)]}, nil
	case a.Basic != nil:
		return auth.Config{Method: auth.MethodBasic,
			Username: string(data[a.Basic.UsernameField()]),
			Password: string(data[a.Basic.PasswordField()])}, nil
	case a.EdgeOAuth != nil:
		o := a.EdgeOAuth
		return auth.Config{Method: auth.MethodEdgeOAuth, TokenURL: o.TokenURL,
			Username: string(data[o.UsernameField()]),
			Password: string(data[o.PasswordField()]),
			MFAToken: string(data[o.MFATokenKey])}, nil
	case a.BearerToken != nil:
		return auth.Config{Method: auth.MethodBearerToken,
			BearerToken: string(data[a.BearerToken.KeyOr(apigeev1alpha1.DefaultBearerTokenKey)])}, nil
	}
	return auth.Config{}, terminal(apigeev1alpha1.ReasonInvalidSpec, "spec.auth sets no method")
}

// secretData reads the connection's Secret through the API reader.
func (cs *Connections) secretData(ctx context.Context, conn *connection) (map[string][]byte, error) {
	key, _ := conn.secretKey()
	s := &corev1.Secret{}
	if err := cs.apiReader.Get(withoutBodyLogs(ctx), key, s); err != nil {
		return nil, secretError(err, key)
	}
	return s.Data, nil
}

func secretError(err error, key types.NamespacedName) error {
	if apierrors.IsNotFound(err) {
		return terminal(apigeev1alpha1.ReasonSecretNotFound, fmt.Sprintf("Secret %s not found", key))
	}
	return err
}

// secretMetadata is an empty metadata-only Secret for cached reads.
func secretMetadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return m
}
