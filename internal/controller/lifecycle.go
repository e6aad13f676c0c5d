package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// A key's lifecycle beyond convergence: when it expires, when the operator
// renews a key it generated, renewal on request, and the app it depends on.
// The policies are pure functions of the status and a clock, as
// cert-manager's renewal policies are; the acts are below them.

// renewalTime is when a generated key is due for renewal: renewBefore (or
// renewBeforePercentage of its lifetime) before it expires. Nil when the
// spec asks for no renewal or the key never expires.
func renewalTime(spec *apigeev1alpha1.DeveloperAppKeySpec, issued, expires time.Time) *time.Time {
	if expires.IsZero() {
		return nil
	}
	var before time.Duration
	switch r := spec.Rotation; {
	case r.RenewBefore != nil:
		before = r.RenewBefore.Duration
	case r.RenewBeforePercentage != nil && !issued.IsZero():
		before = expires.Sub(issued) * time.Duration(*r.RenewBeforePercentage) / 100
	default:
		return nil
	}
	t := expires.Add(-before)
	return &t
}

// checkRenewalTime refuses a renewal due before a tenth of the key's
// lifetime has passed (the CRD refuses such a renewBefore too): every new
// key would be renewed as soon as it was issued, without end.
func checkRenewalTime(renewAt *time.Time, key apigee.Credential) error {
	if renewAt == nil || key.IssuedAt.IsZero() {
		return nil
	}
	lifetime := key.ExpiresAt.Sub(key.IssuedAt)
	if renewAt.Sub(key.IssuedAt) >= lifetime/10 {
		return nil
	}
	return terminal(apigeev1alpha1.ReasonInvalidSpec, fmt.Sprintf(
		"rotation.renewBefore leaves less than a tenth of the key's %s lifetime before the renewal: the operator "+
			"would renew every new key at once; shorten renewBefore (or renewBeforePercentage below 90)", lifetime))
}

// expired reports whether the key's expiresAt has passed.
func expired(st *apigeev1alpha1.DeveloperAppKeyStatus, now time.Time) bool {
	return st.ExpiresAt != nil && !now.Before(st.ExpiresAt.Time)
}

// expiringSoon reports whether the key expires within the warning window.
func expiringSoon(st *apigeev1alpha1.DeveloperAppKeyStatus, now time.Time, window time.Duration) bool {
	return st.ExpiresAt != nil && !expired(st, now) && st.ExpiresAt.Sub(now) <= window
}

// renewal says whether the converged run should renew now and why: a new
// rotate request, or the scheduled renewal time.
func renewal(k *apigeev1alpha1.DeveloperAppKey, current *apigee.Credential, now time.Time) (trigger string, due bool) {
	if req := k.Annotations[apigeev1alpha1.RotateAnnotation]; req != "" && req != k.Status.LastRotateRequest {
		return "Requested", true
	}
	if t := renewalTime(&k.Spec, current.IssuedAt, current.ExpiresAt); t != nil && !now.Before(*t) {
		return "Scheduled", true
	}
	return "", false
}

// lifecycle runs after the key converged: it records when the key will be
// renewed and renews a generated key when due or asked. A key the user
// supplies is never changed: a rotate request on it is refused.
func (run *keyRun) lifecycle(ctx context.Context) error {
	k, cur := run.k, run.current
	if cur == nil || !run.owns() || k.Spec.ManagementPolicy == apigeev1alpha1.ManagementPolicyObserveOnly {
		return nil // ObserveOnly changes nothing, the Secret included
	}
	if run.creds.serving != "" {
		// The staged key is in Apigee and converged: now the Secret may
		// hold it.
		return run.r.switchSecret(ctx, k, run.creds)
	}
	// Whole seconds, as status stores them: the requeue for the renewal
	// then never comes before the renewal is due.
	seen := apigee.Credential{IssuedAt: cur.IssuedAt.Truncate(time.Second), ExpiresAt: cur.ExpiresAt.Truncate(time.Second)}
	run.renewAt = renewalTime(&k.Spec, seen.IssuedAt, seen.ExpiresAt)
	if err := checkRenewalTime(run.renewAt, seen); err != nil {
		run.renewAt = nil
		return err
	}
	trigger, due := renewal(k, &seen, run.now)
	if !due {
		return nil
	}
	req := k.Annotations[apigeev1alpha1.RotateAnnotation]
	if !run.creds.generated {
		if trigger == "Requested" {
			run.r.event(k, corev1.EventTypeWarning, "RotateRefused", "Rotate", fmt.Sprintf(
				"The key comes from Secret %q, which you supply: to rotate it, put a new consumer key in that Secret",
				k.Spec.Credentials.SecretRef.Name))
			k.Status.LastRotateRequest = req
		}
		return nil
	}
	if mayDefer(trigger, run.previous, seen.ExpiresAt) {
		// A renewal now would retire a replaced key before its grace
		// period ends (the rotation ceiling): it waits for the oldest to
		// retire, which brings the object back.
		run.r.event(k, corev1.EventTypeNormal, "RenewalDeferred", "RenewKey", fmt.Sprintf(
			"The %s renewal waits until %s, when the oldest of the %d replaced keys still working retires",
			trigger, run.previous[0].RetireAfter.UTC().Format(time.RFC3339), len(run.previous)))
		return nil
	}
	if err := run.r.renewSecret(ctx, k, run.creds, trigger); err != nil {
		return err
	}
	if trigger == "Requested" {
		k.Status.LastRotateRequest = req
	}
	return nil
}

// mayDefer: a requested renewal at the rotation ceiling waits for the
// oldest replaced key to retire, unless the current key would expire
// first. A scheduled renewal never waits (its key is about to expire): the
// ceiling retires the oldest replaced key early instead.
func mayDefer(trigger string, previous []apigeev1alpha1.PreviousKey, expires time.Time) bool {
	if trigger != "Requested" || len(previous) < maxPreviousKeys {
		return false
	}
	return expires.IsZero() || previous[0].RetireAfter.Time.Before(expires)
}

// renewSecret stages a new random consumer key and secret in the generated
// Secret, beside the fields workloads read. The Secret watch brings the
// object back, the run imports and converges the staged key, and only then
// does switchSecret put it in the Secret's fields: an Apigee that refuses
// the import leaves the Secret holding the key that works.
func (r *DeveloperAppKeyReconciler) renewSecret(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey, current keyCredentials, trigger string) error {
	s, ok, err := r.generatedSecretHolding(ctx, k, current)
	if err != nil || !ok {
		return err
	}
	patch := client.MergeFromWithOptions(s.DeepCopy(), client.MergeFromWithOptimisticLock{})
	s.Data[stagedField(k.Spec.Credentials.KeyField())] = []byte(randomCredential(32))
	s.Data[stagedField(k.Spec.Credentials.SecretField())] = []byte(randomCredential(64))
	if err := r.client.Patch(withoutBodyLogs(ctx), s, patch); err != nil {
		return err
	}
	r.metrics.renewed(k.Namespace, trigger)
	r.event(k, corev1.EventTypeNormal, "RenewalStaged", "RenewKey", fmt.Sprintf(
		"Staged a new consumer key and secret in Secret %q (%s renewal); its fields switch to them in one update once Apigee has the new key ready",
		s.Name, trigger))
	return nil
}

// switchSecret puts the staged key, now converged in Apigee, in the
// Secret's fields and drops the staged ones, in one update: workloads see
// the new key only once it works, and the old one keeps working for its
// grace period from then.
func (r *DeveloperAppKeyReconciler) switchSecret(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey, staged keyCredentials) error {
	s, ok, err := r.generatedSecretHolding(ctx, k, keyCredentials{key: staged.serving})
	if err != nil || !ok {
		return err
	}
	src := &k.Spec.Credentials
	if now, has, err := stagedCredentials(s, src); err != nil || !has || now.key != staged.key || now.secret != staged.secret {
		return err // staged again or changed since: the next run decides
	}
	patch := client.MergeFromWithOptions(s.DeepCopy(), client.MergeFromWithOptimisticLock{})
	s.Data[src.KeyField()], s.Data[src.SecretField()] = []byte(staged.key), []byte(staged.secret)
	delete(s.Data, stagedField(src.KeyField()))
	delete(s.Data, stagedField(src.SecretField()))
	if err := r.client.Patch(withoutBodyLogs(ctx), s, patch); err != nil {
		return err
	}
	r.event(k, corev1.EventTypeNormal, "Renewed", "RenewKey", fmt.Sprintf(
		"Secret %q now holds the renewed key %s; the replaced key keeps working for the grace period", s.Name, apigee.Fingerprint(staged.key)))
	return nil
}

// generatedSecretHolding reads the Secret this object generated, if it
// still holds want's key (and secret, when given) in its fields: someone
// who changed or replaced it since wins, and is never overwritten.
func (r *DeveloperAppKeyReconciler) generatedSecretHolding(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey, want keyCredentials) (*corev1.Secret, bool, error) {
	s := &corev1.Secret{}
	name := client.ObjectKey{Namespace: k.Namespace, Name: k.Spec.Credentials.SecretRef.Name}
	if err := r.apiReader.Get(withoutBodyLogs(ctx), name, s); err != nil {
		return nil, false, err
	}
	held, err := credentialsFrom(s, &k.Spec.Credentials)
	ok := err == nil && metav1.IsControlledBy(s, k) && held.key == want.key && (want.secret == "" || held.secret == want.secret)
	return s, ok, nil
}

// warnExpiringSoon sends the KeyExpiringSoon warning once per key.
func (r *DeveloperAppKeyReconciler) warnExpiringSoon(k *apigeev1alpha1.DeveloperAppKey) {
	st := &k.Status
	if !expiringSoon(st, r.now(), r.expiryWarning) || st.ExpiryWarnedFingerprint == st.ConsumerKeyFingerprint {
		return
	}
	st.ExpiryWarnedFingerprint = st.ConsumerKeyFingerprint
	r.event(k, corev1.EventTypeWarning, "KeyExpiringSoon", "Expiry", "The key "+st.ConsumerKeyFingerprint+
		" expires at "+st.ExpiresAt.UTC().Format(time.RFC3339)+"; "+renewAdvice(k))
}

// renewAdvice says what happens next, or what a person must do.
func renewAdvice(k *apigeev1alpha1.DeveloperAppKey) string {
	if k.Status.RenewalTime != nil {
		return "the operator renews it at " + k.Status.RenewalTime.UTC().Format(time.RFC3339)
	}
	return "put a new consumer key in Secret " + k.Spec.Credentials.SecretRef.Name + " to rotate it"
}

// stateCondition is the Ready condition of a run that failed nothing: a
// revoked app or an expired key makes a converged key useless.
func stateCondition(k *apigeev1alpha1.DeveloperAppKey, run *keyRun, now time.Time, window time.Duration) metav1.Condition {
	st := &k.Status
	switch {
	case run != nil && run.app != nil && run.app.Status == apigee.StatusRevoked:
		return condition(apigeev1alpha1.ConditionReady, metav1.ConditionFalse, apigeev1alpha1.ReasonAppRevoked,
			"app "+k.Spec.App+" is revoked in Apigee, so no key on it works; the operator never changes an app's status: approve the app in Apigee")
	case expired(st, now):
		return condition(apigeev1alpha1.ConditionReady, metav1.ConditionFalse, apigeev1alpha1.ReasonKeyExpired,
			"the key expired at "+st.ExpiresAt.UTC().Format(time.RFC3339)+"; "+renewAdvice(k))
	case expiringSoon(st, now, window):
		return condition(apigeev1alpha1.ConditionReady, metav1.ConditionTrue, apigeev1alpha1.ReasonConverged,
			"Apigee matches the spec; the key expires at "+st.ExpiresAt.UTC().Format(time.RFC3339)+" (in "+
				st.ExpiresAt.Sub(now).Round(time.Minute).String()+"); "+renewAdvice(k))
	case run != nil && run.heldGenerated:
		return condition(apigeev1alpha1.ConditionReady, metav1.ConditionTrue, apigeev1alpha1.ReasonWaitingForPeers,
			"the key is ready; deleting the key Apigee generated with the app (autoGeneratedKeys: Delete) waits until "+
				"another DeveloperAppKey on this app records its key, at the latest until "+
				run.peers.heldUntil.UTC().Format(time.RFC3339))
	}
	return condition(apigeev1alpha1.ConditionReady, metav1.ConditionTrue, apigeev1alpha1.ReasonConverged, "Apigee matches the spec")
}

// nextLifecycleEvent is the next instant the key's state changes by the
// clock alone: the warning window opens, the renewal is due, or it expires.
func nextLifecycleEvent(st *apigeev1alpha1.DeveloperAppKeyStatus, now time.Time, window time.Duration) (time.Duration, bool) {
	var next time.Duration
	found := false
	consider := func(t *metav1.Time, shift time.Duration) {
		if t == nil {
			return
		}
		if d := t.Add(shift).Sub(now); d > 0 && (!found || d < next) {
			next, found = d, true
		}
	}
	consider(st.ExpiresAt, -window)
	consider(st.RenewalTime, 0)
	consider(st.ExpiresAt, 0)
	return next, found
}

// expiryOnEdge refuses expiresInSeconds on Edge, which applies no expiry
// to an imported key: a key that silently never expires is worse.
func expiryOnEdge(conn *connection, spec *apigeev1alpha1.DeveloperAppKeySpec) error {
	if conn.spec.EffectivePlatform() != apigeev1alpha1.PlatformEdge || spec.ExpiresInSeconds == nil || *spec.ExpiresInSeconds <= 0 {
		return nil
	}
	return terminal(apigeev1alpha1.ReasonExpiryNotSupported,
		"Apigee Edge applies no expiry to a key imported with its own key and secret, so expiresInSeconds cannot be honoured "+
			"on connection "+conn.object.GetName()+"; nothing was sent. expiresInSeconds cannot be removed once set: "+
			"re-create this DeveloperAppKey without it, or use an Apigee X or hybrid organization")
}
