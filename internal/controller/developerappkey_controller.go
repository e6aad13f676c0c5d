package controller

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"time"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
	"sigs.k8s.io/controller-runtime/pkg/source"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// DeveloperAppKeyReconciler keeps one Apigee key matching each
// DeveloperAppKey.
type DeveloperAppKeyReconciler struct {
	client      client.Client
	apiReader   client.Reader
	connections *Connections
	snapshots   *appSnapshots
	gates       *orgGates
	recorder    recorder.EventRecorder
	refusals    *refusals
	// intents signs the import intents this operator writes.
	intents intentSigner
	metrics *keyMetrics
	resync  time.Duration
	// expiryWarning is how long before expiry KeyExpiringSoon is sent.
	expiryWarning time.Duration
	now           func() time.Time
}

// Reconcile reads as the story in docs: load, resolve, observe, plan, act,
// write status once.
func (r *DeveloperAppKeyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	k := &apigeev1alpha1.DeveloperAppKey{}
	if err := r.client.Get(ctx, req.NamespacedName, k); err != nil {
		r.metrics.forget(req.NamespacedName)
		r.gates.forget(req.NamespacedName)
		r.refusals.forget(req.NamespacedName)
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if apigeev1alpha1.Paused(k.Annotations) {
		log.FromContext(ctx).V(1).Info("Paused; not reconciling")
		return ctrl.Result{}, nil
	}
	before := k.Status.DeepCopy()
	previousReason := readyReason(k)
	run, err := r.talkToApigee(ctx, k)
	if !k.DeletionTimestamp.IsZero() && err == nil {
		r.metrics.forget(req.NamespacedName)
		r.gates.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	return r.finish(ctx, k, before, previousReason, run, err)
}

// talkToApigee syncs or finalizes the key within its turn with its
// organization (taken in sync or finalize). The turn ends with the Apigee
// calls, so the status write that follows holds no one up; a key stopped
// for want of budget waits first in line for the next.
func (r *DeveloperAppKeyReconciler) talkToApigee(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey) (run *keyRun, err error) {
	defer func() {
		r.gates.leave(types.NamespacedName{Namespace: k.Namespace, Name: k.Name}, err != nil && classify(err).wait)
	}()
	if k.DeletionTimestamp.IsZero() {
		return r.sync(ctx, k)
	}
	return nil, r.finalize(ctx, k)
}

// enterOrganization takes the key's turn with the organization its
// connection reaches, or parks the key until the organization can take it
// (see orgGates): no worker waits on an organization. resync says the key
// came for its background check, not for a change.
func (r *DeveloperAppKeyReconciler) enterOrganization(k *apigeev1alpha1.DeveloperAppKey, conn *connection) (resync bool, err error) {
	endpoint, org := conn.spec.EffectiveEndpoint(), conn.spec.Organization
	limiter, health := r.connections.organization(endpoint, org)
	changed := k.Generation != k.Status.ObservedGeneration || !readyTrue(k) || !k.DeletionTimestamp.IsZero()
	return r.gates.enter(apigee.OrgKey(endpoint, org), limiter, health,
		types.NamespacedName{Namespace: k.Namespace, Name: k.Name}, endpoint, org, changed)
}

// snapshotsSince is how old a snapshot of the app the run may use: a
// resync takes any read of the app made since the app's current slot
// began (one read per app per interval); anything else only a recent one
// (the zero time).
func (r *DeveloperAppKeyReconciler) snapshotsSince(k *apigeev1alpha1.DeveloperAppKey, resync bool) time.Time {
	if !resync {
		return time.Time{}
	}
	interval, now := r.interval(k), r.now()
	return now.Add(untilAppSlot(appOf(k), interval, now) - interval)
}

// sync makes Apigee match the spec and returns what it learned.
func (r *DeveloperAppKeyReconciler) sync(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey) (*keyRun, error) {
	conn, err := r.connections.Get(ctx, k.Spec.ConnectionRef, k.Namespace)
	if err != nil {
		return nil, err
	}
	if !conn.ready() {
		return nil, connectionNotReady(conn)
	}
	loc := locationFor(conn, &k.Spec)
	if err := checkLocation(k, loc, conn.object.GetName()); err != nil {
		return nil, err
	}
	if err := expiryOnEdge(conn, &k.Spec); err != nil {
		return nil, err
	}
	mayApprove, err := checkGrant(conn, k)
	if err != nil {
		return nil, err
	}
	// The turn first: a key that must wait costs no API server read.
	resync, err := r.enterOrganization(k, conn)
	if err != nil {
		return nil, err
	}
	c, err := r.connections.ClientFor(ctx, conn)
	if err != nil {
		return nil, err
	}
	creds, err := r.readCredentials(ctx, k, c, loc)
	if err != nil {
		return nil, err
	}
	name, inputs := types.NamespacedName{Namespace: k.Namespace, Name: k.Name}, runInputs(k, conn, creds)
	if err := r.refusals.repeat(name, inputs, r.now()); err != nil {
		return nil, err
	}
	run, err := r.syncKey(ctx, k, c, conn, loc, creds, resync, mayApprove)
	err = scopedNotFound(conn, k, err)
	r.refusals.remember(name, inputs, err, r.now().Add(r.requeueAfter(k)))
	return run, err
}

// connectionNotReady stops a key whose connection is not Ready. An
// organization that is not answering (Unreachable) is a wait, not a
// verdict: a key that was Ready stays Ready, as it still works in Apigee,
// and Synced says why nothing is checked; the organization's gate wakes it.
func connectionNotReady(conn *connection) error {
	msg := "connection " + conn.object.GetName() + " is not Ready" + conn.notReadyReason() + ": see its status"
	if conn.notReadyBecause() == apigeev1alpha1.ReasonUnreachable {
		return &conditionError{reason: apigeev1alpha1.ReasonConnectionNotReady, message: msg, wait: true}
	}
	return terminal(apigeev1alpha1.ReasonConnectionNotReady, msg)
}

// syncKey observes the key's app, converges it and runs its lifecycle.
func (r *DeveloperAppKeyReconciler) syncKey(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey, c apigee.Client, conn *connection, loc apigeev1alpha1.KeyLocation, creds keyCredentials, resync bool, mayApprove bool) (*keyRun, error) {
	run, err := r.newRun(ctx, k, c, string(conn.object.GetUID()), loc, creds)
	if err != nil {
		return run, err
	}
	run.mayApprove = mayApprove
	run.snapshotsSince = r.snapshotsSince(k, resync)
	if err := run.settlePendingImport(ctx, conn); err != nil {
		return run, err
	}
	if err := run.observe(ctx); err != nil {
		return run, err
	}
	if err := run.converge(ctx); err != nil || len(run.drift) > 0 {
		return run, err
	}
	return run, run.lifecycle(ctx)
}

// checkLocation stops an object whose recorded key lives somewhere other
// than where its connection now reaches: acting there would touch a key
// that is not this object's, and the recorded one would be forgotten.
func checkLocation(k *apigeev1alpha1.DeveloperAppKey, target apigeev1alpha1.KeyLocation, connName string) error {
	rec, ok := recordedLocation(k, target)
	if !ok || sameLocation(rec, target) {
		return nil
	}
	return locationChanged(rec, "connection "+connName+" now reaches "+describeLocation(target))
}

func locationChanged(rec apigeev1alpha1.KeyLocation, now string) error {
	return terminal(apigeev1alpha1.ReasonLocationChanged, fmt.Sprintf(
		"this object's keys live in %s, but %s; nothing was changed in either place. "+
			"Point spec.connectionRef (or the connection) back there, or delete this object "+
			"(deletionPolicy Orphan releases it and leaves the keys in Apigee)", describeLocation(rec), now))
}

// newRun checks the key is ours to manage and gathers what planning needs.
func (r *DeveloperAppKeyReconciler) newRun(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey, c apigee.Client, connID string, loc apigeev1alpha1.KeyLocation, creds keyCredentials) (*keyRun, error) {
	fp := apigee.Fingerprint(creds.key)
	// The finalizer before anything of ours can be in Apigee. A key's
	// first import writes it with the import intent, in one write; any
	// other run writes it first.
	managed := k.Spec.ManagementPolicy != apigeev1alpha1.ManagementPolicyObserveOnly
	if managed && !firstImport(k) {
		if err := r.ensureFinalizer(ctx, k); err != nil {
			return nil, err
		}
	}
	other, err := r.heldByAnother(ctx, k, loc, fp)
	if err != nil {
		return nil, err
	}
	heldElsewhere := other != nil && other.Namespace != k.Namespace && !recordsAt(k, fp, loc)
	if other != nil && !heldElsewhere {
		if managed {
			// A conflict leaves the same metadata as any other outcome,
			// telling a guesser nothing.
			err = r.ensureFinalizer(ctx, k)
		}
		if err == nil {
			err = conflictError(k, other, loc.Organization)
		}
		return nil, err
	}
	if rec, ok := recordedLocation(k, loc); ok {
		loc.DeveloperID = rec.DeveloperID
	}
	return &keyRun{r: r, k: k, client: c, connID: connID, loc: loc, creds: creds, fp: fp, heldElsewhere: heldElsewhere,
		previous: append([]apigeev1alpha1.PreviousKey(nil), k.Status.PreviousKeys...), now: r.now()}, nil
}

// finish writes status once, emits a Warning on a new failure and decides
// when to come back.
func (r *DeveloperAppKeyReconciler) finish(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey, before *apigeev1alpha1.DeveloperAppKeyStatus, previousReason string, run *keyRun, err error) (ctrl.Result, error) {
	var failure *conditionError
	if err != nil {
		failure = classify(err)
	}
	if failure != nil && failure.wait && run == nil && failure.reason == apigeev1alpha1.ReasonRateLimited &&
		(readyTrue(k) || previousReason == "") {
		// A working key waiting for its turn: nothing to tell anyone. Nor
		// for a new key waiting for its first: writing "waiting" on every
		// key of a large import would load the API server just when the
		// import needs it. apigee_key_operator_keys_waiting counts them.
		return ctrl.Result{RequeueAfter: r.requeueAfter(k), Priority: new(handler.LowPriority)}, nil
	}
	if run != nil {
		recordRun(&k.Status, run)
	}
	setConditions(k, run, failure, r.now(), r.expiryWarning)
	r.warnExpiringSoon(k)
	r.warnOnNewFailure(k, previousReason, failure)
	r.metrics.set(types.NamespacedName{Namespace: k.Namespace, Name: k.Name}, readyReason(k))
	r.metrics.setExpiry(types.NamespacedName{Namespace: k.Namespace, Name: k.Name}, k.Status.ExpiresAt)
	if werr := r.writeStatus(ctx, k, before); werr != nil {
		if apierrors.IsConflict(werr) {
			// The object changed meanwhile: come back soon, quietly.
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		return ctrl.Result{}, client.IgnoreNotFound(werr)
	}
	switch {
	case failure != nil && failure.wait:
		// The organization's gate wakes the key; the resync is a backstop.
		return ctrl.Result{RequeueAfter: r.requeueAfter(k), Priority: new(handler.LowPriority)}, nil
	case failure != nil && failure.after > 0:
		return ctrl.Result{RequeueAfter: failure.after}, nil // the connection's own limit said when
	case failure != nil && failure.retry:
		return ctrl.Result{}, err // transient: the queue backs off
	}
	return r.scheduleResync(k, run), nil
}

// peerWait is how soon a key that may delete its app's generated key
// looks again while another object on the app has not recorded its key.
const peerWait = 10 * time.Second

// scheduleResync schedules the key's next background check at low priority, so
// that changed keys are reconciled first (controller-runtime's priority
// queue), and tells the gate when it is due.
func (r *DeveloperAppKeyReconciler) scheduleResync(k *apigeev1alpha1.DeveloperAppKey, run *keyRun) ctrl.Result {
	d := r.requeueAfter(k)
	if run != nil && run.peers.unclaimed && k.Spec.AutoGeneratedKeys == apigeev1alpha1.AutoGeneratedKeysDelete {
		// The generated key waits for the app's other objects to record
		// theirs; look again soon rather than at the next resync.
		d = min(d, peerWait, run.peers.heldUntil.Sub(r.now())+time.Second)
	}
	r.gates.resyncAt(types.NamespacedName{Namespace: k.Namespace, Name: k.Name}, r.now().Add(d))
	return ctrl.Result{RequeueAfter: d, Priority: new(handler.LowPriority)}
}

// requeueAfter is the time until the key's app's next resync slot, or
// sooner when a lifecycle event or a rotated-out key's retirement is due.
func (r *DeveloperAppKeyReconciler) requeueAfter(k *apigeev1alpha1.DeveloperAppKey) time.Duration {
	d := untilAppSlot(appOf(k), r.interval(k), r.now())
	if until, ok := nextLifecycleEvent(&k.Status, r.now(), r.expiryWarning); ok && until < d {
		d = until
	}
	// Keys due more than a second ago were handled by this run, or are
	// held for a reason that a resync or a change will revisit.
	for _, p := range k.Status.PreviousKeys {
		if until := p.RetireAfter.Sub(r.now()) + time.Second; until > 0 && until < d {
			d = until
		}
	}
	return d
}

// interval is the key's resync interval.
func (r *DeveloperAppKeyReconciler) interval(k *apigeev1alpha1.DeveloperAppKey) time.Duration {
	if k.Spec.ResyncInterval != nil && k.Spec.ResyncInterval.Duration > 0 {
		return k.Spec.ResyncInterval.Duration
	}
	return r.resync
}

// untilAppSlot is the time until the app's next resync slot: one every
// interval, at an offset fixed by the app. The keys of one app thus come
// due together, and one GET app observes them all (appSnapshots), while
// apps spread evenly over the interval instead of resyncing in a burst.
func untilAppSlot(app string, interval time.Duration, now time.Time) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(app))
	slot := now.Truncate(interval).Add(time.Duration(h.Sum64() % uint64(interval)))
	for !slot.After(now) {
		slot = slot.Add(interval)
	}
	return slot.Sub(now)
}

// appOf names the app a key's resyncs are grouped by: the app as its
// connection reaches it (keys of one app behind different connections do
// not share reads).
func appOf(k *apigeev1alpha1.DeveloperAppKey) string {
	return connectionIndexValue(k) + "|" + normalDeveloper(k.Spec.Developer) + "|" + k.Spec.App
}

// event records an Event; notes never contain key or secret values.
func (r *DeveloperAppKeyReconciler) event(k *apigeev1alpha1.DeveloperAppKey, eventType, reason, action, note string) {
	r.recorder.Eventf(k, nil, eventType, reason, action, "%s", fitNote(note))
}

// noteLimit is the API server's limit on an Event's note, in bytes
// (NoteLengthLimit in its validation); a longer note is refused and the
// Event lost.
const noteLimit = 1024

// fitNote shortens a note to noteLimit: an import's note names every
// product, and a key may have a hundred.
func fitNote(note string) string {
	const more = " …"
	if len(note) <= noteLimit {
		return note
	}
	cut := noteLimit - len(more)
	for cut > 0 && !utf8.RuneStart(note[cut]) {
		cut-- // not inside a character
	}
	return note[:cut] + more
}

func (r *DeveloperAppKeyReconciler) setup(mgr ctrl.Manager, secrets *secretWatch) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("developerappkey").
		For(&apigeev1alpha1.DeveloperAppKey{}, builder.WithPredicates(keyChanged())).
		WatchesMetadata(secretMetadata(), secrets.toKeys()).
		WatchesRawSource(source.Channel(r.gates.wake, r.gates.wokenKeys())).
		Watches(&apigeev1alpha1.ApigeeConnection{}, connectionToKeys(r.client, "ApigeeConnection"), builder.WithPredicates(connectionChangedForKeys())).
		Watches(&apigeev1alpha1.ClusterApigeeConnection{}, connectionToKeys(r.client, "ClusterApigeeConnection"), builder.WithPredicates(connectionChangedForKeys())).
		Complete(r)
}

// keyChanged ignores our own status and import-intent writes (they would
// cost an Apigee read each) but passes spec, annotation (pause) and
// deletion changes.
func keyChanged() predicate.Predicate {
	return predicate.Or(predicate.GenerationChangedPredicate{},
		predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
			return !e.ObjectNew.GetDeletionTimestamp().IsZero() ||
				!maps.Equal(userAnnotations(e.ObjectOld), userAnnotations(e.ObjectNew))
		}})
}

// userAnnotations are the annotations without the operator's own record.
func userAnnotations(o client.Object) map[string]string {
	out := maps.Clone(o.GetAnnotations())
	delete(out, apigeev1alpha1.ImportPendingAnnotation)
	return out
}
