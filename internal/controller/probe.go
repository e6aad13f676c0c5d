package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// connectionProber is what both connection reconcilers share: probe the
// organization and record Ready. Each kind keeps its own thin reconciler.
type connectionProber struct {
	client      client.Client
	connections *Connections
	interval    time.Duration
	metrics     *connectionMetrics
	probing     inFlight
}

// probeTurn is when a namespace's connection waiting for its turn to be
// probed comes back.
const probeTurn = 2 * time.Second

// inFlight notes which namespaces have a probe under way.
type inFlight struct {
	mu  sync.Mutex
	set map[string]bool
}

func (f *inFlight) start(ns string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.set[ns] {
		return false
	}
	if f.set == nil {
		f.set = map[string]bool{}
	}
	f.set[ns] = true
	return true
}

func (f *inFlight) end(ns string) {
	f.mu.Lock()
	delete(f.set, ns)
	f.mu.Unlock()
}

// reconcileObject loads a connection of either kind and probes it; a
// deleted connection's client is dropped.
func (p *connectionProber) reconcileObject(ctx context.Context, req ctrl.Request, obj client.Object, wrap func() *connection) (ctrl.Result, error) {
	kind := connectionKind(obj)
	if err := p.client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			p.connections.Forget(kind, req.NamespacedName)
			p.metrics.forget(kind, req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		p.connections.Forget(kind, req.NamespacedName)
		p.metrics.forget(kind, req.NamespacedName)
		return ctrl.Result{}, nil
	}
	// One probe at a time per namespace: a tenant's connections to
	// endpoints that hang hold at most one worker, for at most the call
	// timeout, whatever their number. Administrators' connections
	// (cluster-scoped) are not limited.
	if ns := req.Namespace; ns != "" {
		if !p.probing.start(ns) {
			return ctrl.Result{RequeueAfter: probeTurn}, nil
		}
		defer p.probing.end(ns)
	}
	res, err := p.reconcile(ctx, wrap())
	p.metrics.set(kind, req.NamespacedName, meta.IsStatusConditionTrue(wrap().status.Conditions, apigeev1alpha1.ConditionReady))
	return res, err
}

func connectionKind(obj client.Object) string {
	if _, ok := obj.(*apigeev1alpha1.ClusterApigeeConnection); ok {
		return "ClusterApigeeConnection"
	}
	return "ApigeeConnection"
}

// setup watches a connection kind (spec changes only: status writes are
// ours) and the Secrets it uses.
func (p *connectionProber) setup(mgr ctrl.Manager, r reconcile.Reconciler, kind string, obj client.Object, secrets *secretWatch) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named(strings.ToLower(kind)).
		For(obj, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesMetadata(secretMetadata(), secrets.toConnections(apigeev1alpha1.GroupVersion.WithKind(kind))).
		WatchesRawSource(source.Channel(p.connections.changed[kind], &handler.EnqueueRequestForObject{})).
		Complete(r)
}

// reconcile probes conn and writes its status if it changed.
func (p *connectionProber) reconcile(ctx context.Context, conn *connection) (ctrl.Result, error) {
	before := conn.status.DeepCopy()
	cond, after, retry := p.probe(ctx, conn)
	if stillAuthenticated(conn, cond) {
		cond = *meta.FindStatusCondition(conn.status.Conditions, apigeev1alpha1.ConditionReady)
	}
	cond.ObservedGeneration = conn.object.GetGeneration()
	meta.SetStatusCondition(&conn.status.Conditions, cond)
	if scoped, ok := scopedCondition(conn); ok {
		scoped.ObservedGeneration = conn.object.GetGeneration()
		meta.SetStatusCondition(&conn.status.Conditions, scoped)
	}
	setProgress(&conn.status.Conditions, cond, after > 0 || retry != nil, conn.object.GetGeneration())
	conn.status.ObservedGeneration = conn.object.GetGeneration()
	if !equality.Semantic.DeepEqual(before, conn.status) {
		if err := p.client.Status().Update(ctx, conn.object); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{RequeueAfter: time.Second}, nil // changed meanwhile: retry quietly
			}
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	switch {
	case after > 0:
		return ctrl.Result{RequeueAfter: after}, nil // the next trial of an unreachable organization
	case retry != nil:
		return ctrl.Result{}, retry // transient: let the queue back off
	}
	return ctrl.Result{RequeueAfter: p.interval}, nil
}

// stillAuthenticated: a probe held back by a call budget (the
// connection's own rateLimit, or Apigee's 429) proves nothing new, so a
// connection that authenticated for this generation stays Ready: a
// re-probe after a Secret event must not turn a working connection, and
// its keys, RateLimited.
func stillAuthenticated(conn *connection, probed metav1.Condition) bool {
	return probed.Reason == apigeev1alpha1.ReasonRateLimited && conn.ready()
}

// probe returns the Ready condition and either when to try again (the
// organization is not answering) or, for other transient failures, an
// error to retry with backoff. While the organization is unreachable the
// probe makes the trial call that reopens it to every key.
func (p *connectionProber) probe(ctx context.Context, conn *connection) (metav1.Condition, time.Duration, error) {
	c, err := p.connections.ClientFor(ctx, conn)
	if err == nil {
		err = c.Probe(ctx)
	}
	if err == nil {
		return readyCondition(metav1.ConditionTrue, apigeev1alpha1.ReasonAuthenticated,
			"Authenticated to organization "+conn.spec.Organization), 0, nil
	}
	if st := p.connections.healthOf(conn).Status(); !st.Reachable {
		return readyCondition(metav1.ConditionFalse, apigeev1alpha1.ReasonUnreachable, unreachableMessage(conn, st)),
			untilTrial(st), nil
	}
	reason, message, transient := connectionReason(err)
	cond := readyCondition(metav1.ConditionFalse, reason, message)
	if transient {
		return cond, 0, err
	}
	return cond, 0, nil
}

// untilTrial is when to probe an unreachable organization again: at its
// next trial, or, once that is due (a key call may be the trial, not the
// probe), after a first cool-down; the organization's health changing
// requeues the connection sooner.
func untilTrial(st apigee.HealthStatus) time.Duration {
	if d := time.Until(st.NextTrial); d >= time.Second {
		return d
	}
	return apigee.FirstCooldown
}

// unreachableMessage tells people what an unreachable organization means.
func unreachableMessage(conn *connection, st apigee.HealthStatus) string {
	return fmt.Sprintf("organization %s at %s is not answering: %d calls in a row failed (last: %s). "+
		"Calls to it are held and its keys wait without holding up other organizations; next trial call at %s",
		conn.spec.Organization, origin(conn.spec.EffectiveEndpoint()), st.Failures, st.Last, st.NextTrial.UTC().Format(time.RFC3339))
}

// connectionReason maps a probe error to a reason, a message and whether
// retrying soon may help.
func connectionReason(err error) (reason, message string, transient bool) {
	var ce *conditionError
	if errors.As(err, &ce) {
		return ce.reason, ce.message, ce.retry
	}
	switch apigee.ClassOf(err) {
	case apigee.ClassUnauthorized:
		return apigeev1alpha1.ReasonUnauthorized, err.Error(), false
	case apigee.ClassForbidden:
		return apigeev1alpha1.ReasonForbidden, err.Error(), false
	case apigee.ClassNotFound, apigee.ClassInvalid:
		return apigeev1alpha1.ReasonInvalidSpec, err.Error(), false
	case apigee.ClassRateLimited:
		return apigeev1alpha1.ReasonRateLimited, err.Error(), true
	}
	return apigeev1alpha1.ReasonUnreachable, err.Error(), true
}

func readyCondition(status metav1.ConditionStatus, reason, message string) metav1.Condition {
	return metav1.Condition{Type: apigeev1alpha1.ConditionReady, Status: status, Reason: reason, Message: message}
}
