package controller

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
)

// maxDeletedKeys bounds status.deletedKeys; the oldest entries go first.
const maxDeletedKeys = 20

// recordRun copies what a run learned about Apigee into the status. The
// location is recorded only where the managed key is known to live, never
// because a run was pointed somewhere (it may have failed there).
func recordRun(st *apigeev1alpha1.DeveloperAppKeyStatus, run *keyRun) {
	st.PreviousKeys = run.previous
	st.DeletedKeys = append(st.DeletedKeys, run.deleted...)
	if n := len(st.DeletedKeys); n > maxDeletedKeys {
		st.DeletedKeys = st.DeletedKeys[n-maxDeletedKeys:]
	}
	if run.current == nil || !run.owns() {
		return
	}
	loc := run.loc
	st.Location, st.Organization = &loc, loc.Organization
	c := run.current
	st.KeyStatus = c.Status
	st.APIProducts = make([]apigeev1alpha1.APIProductStatus, 0, len(c.Products))
	for _, p := range c.Products {
		st.APIProducts = append(st.APIProducts, apigeev1alpha1.APIProductStatus{Name: p.Name, Status: p.Status})
	}
	st.IssuedAt = timeOrNil(c.IssuedAt.IsZero(), c.IssuedAt)
	st.ExpiresAt = timeOrNil(c.ExpiresAt.IsZero(), c.ExpiresAt)
	st.RenewalTime = nil
	if run.renewAt != nil {
		st.RenewalTime = timeOrNil(false, *run.renewAt)
	}
}

// timeOrNil is t as the API server stores it (whole seconds), so a status
// built from Apigee's millisecond times equals the one read back, and a
// converged key is never rewritten. An expiry is thus seen up to a second
// early, never late.
func timeOrNil(zero bool, t time.Time) *metav1.Time {
	if zero {
		return nil
	}
	mt := metav1.NewTime(t.Truncate(time.Second))
	return &mt
}

// setConditions sets Ready and Synced from the run's outcome. A Ready
// condition carried over a transient failure keeps the generation it was
// earned for: a spec edited since is not applied yet, so the status still
// describes the earlier generation and Reconciling says what holds the
// edit back (kstatus: InProgress, never Current for an unapplied edit).
func setConditions(k *apigeev1alpha1.DeveloperAppKey, run *keyRun, failure *conditionError, now time.Time, window time.Duration) {
	gen := k.Generation
	transient := failure != nil && (failure.retry || failure.wait)
	ready, synced := conditionsFor(k, run, failure, now, window)
	applied := gen
	if transient && ready.Status == metav1.ConditionTrue {
		applied = ready.ObservedGeneration
	}
	ready.ObservedGeneration, synced.ObservedGeneration = applied, gen
	meta.SetStatusCondition(&k.Status.Conditions, ready)
	meta.SetStatusCondition(&k.Status.Conditions, synced)
	if applied != gen {
		ready = condition(apigeev1alpha1.ConditionReady, metav1.ConditionFalse, failure.reason,
			fmt.Sprintf("generation %d is not applied yet: %s", gen, failure.message))
	}
	setProgress(&k.Status.Conditions, ready, transient, gen)
	k.Status.ObservedGeneration = applied
}

func conditionsFor(k *apigeev1alpha1.DeveloperAppKey, run *keyRun, failure *conditionError, now time.Time, window time.Duration) (ready, synced metav1.Condition) {
	ok := metav1.Condition{Type: apigeev1alpha1.ConditionSynced, Status: metav1.ConditionTrue,
		Reason: apigeev1alpha1.ReasonReconcileSucceeded, Message: "The last reconcile succeeded"}
	switch {
	case failure != nil && (failure.retry || failure.wait) && expired(&k.Status, now):
		return stateCondition(k, nil, now, window), failed(failure)
	case failure != nil && (failure.retry || failure.wait) && readyTrue(k):
		// A transient failure does not make a working key unready.
		ready = *meta.FindStatusCondition(k.Status.Conditions, apigeev1alpha1.ConditionReady)
		return ready, failed(failure)
	case failure != nil:
		return condition(apigeev1alpha1.ConditionReady, metav1.ConditionFalse, failure.reason, failure.message), failed(failure)
	case run != nil && len(run.drift) > 0:
		return condition(apigeev1alpha1.ConditionReady, metav1.ConditionFalse, apigeev1alpha1.ReasonDrifted,
			"ObserveOnly: Apigee differs from the spec; would "+strings.Join(run.drift, "; ")), ok
	case run != nil && len(run.withheld) > 0:
		return condition(apigeev1alpha1.ConditionReady, metav1.ConditionFalse, apigeev1alpha1.ReasonApprovalNotGranted,
			"the key is in Apigee, but its connection's grant (spec.grants, approval: Denied) does not let it approve, so "+
				strings.Join(run.withheld, " and ")+" stay pending: an administrator can approve them in Apigee, "+
				"or allow approval in the grant"), ok
	}
	return stateCondition(k, run, now, window), ok
}

func failed(f *conditionError) metav1.Condition {
	return condition(apigeev1alpha1.ConditionSynced, metav1.ConditionFalse, apigeev1alpha1.ReasonReconcileFailed, f.reason+": "+f.message)
}

func condition(t string, s metav1.ConditionStatus, reason, message string) metav1.Condition {
	return metav1.Condition{Type: t, Status: s, Reason: reason, Message: message}
}

func readyTrue(k *apigeev1alpha1.DeveloperAppKey) bool {
	return meta.IsStatusConditionTrue(k.Status.Conditions, apigeev1alpha1.ConditionReady)
}

func readyReason(k *apigeev1alpha1.DeveloperAppKey) string {
	if c := meta.FindStatusCondition(k.Status.Conditions, apigeev1alpha1.ConditionReady); c != nil {
		return c.Reason
	}
	return ""
}

// writeStatus writes the status once, only when it changed.
func (r *DeveloperAppKeyReconciler) writeStatus(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey, before *apigeev1alpha1.DeveloperAppKeyStatus) error {
	if equality.Semantic.DeepEqual(before, &k.Status) {
		return nil
	}
	if !equality.Semantic.DeepEqual(before.Conditions, k.Status.Conditions) || before.ConsumerKeyFingerprint != k.Status.ConsumerKeyFingerprint {
		now := metav1.NewTime(r.now())
		k.Status.LastSyncTime = &now
	}
	return r.client.Status().Update(ctx, k)
}

// warnOnNewFailure emits a Warning event when the Ready reason changes to
// a failure, or to a state that makes the key useless (expired, revoked
// app), not on every resync.
func (r *DeveloperAppKeyReconciler) warnOnNewFailure(k *apigeev1alpha1.DeveloperAppKey, previousReason string, f *conditionError) {
	if f != nil && f.reason != previousReason && !(f.wait && f.reason == apigeev1alpha1.ReasonRateLimited) {
		r.event(k, corev1.EventTypeWarning, f.reason, "Reconcile", f.message)
		return
	}
	c := meta.FindStatusCondition(k.Status.Conditions, apigeev1alpha1.ConditionReady)
	if f == nil && c != nil && c.Reason != previousReason &&
		(c.Reason == apigeev1alpha1.ReasonKeyExpired || c.Reason == apigeev1alpha1.ReasonAppRevoked) {
		r.event(k, corev1.EventTypeWarning, c.Reason, "Reconcile", c.Message)
	}
}
