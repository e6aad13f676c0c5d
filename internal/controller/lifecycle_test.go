package controller

import (
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

func TestRenewalTime(t *testing.T) {
	issued, expires := t0, t0.Add(100*time.Hour)
	pct := func(p int32) *int32 { return &p }
	cases := []struct {
		reason string
		rot    apigeev1alpha1.RotationPolicy
		exp    time.Time
		want   time.Time // zero: no renewal
	}{
		{"no renewBefore: never renewed", apigeev1alpha1.RotationPolicy{}, expires, time.Time{}},
		{"renewBefore a duration before expiry", apigeev1alpha1.RotationPolicy{RenewBefore: &metav1.Duration{Duration: 10 * time.Hour}}, expires, t0.Add(90 * time.Hour)},
		{"renewBeforePercentage of the lifetime", apigeev1alpha1.RotationPolicy{RenewBeforePercentage: pct(25)}, expires, t0.Add(75 * time.Hour)},
		{"a key that never expires is never renewed", apigeev1alpha1.RotationPolicy{RenewBefore: &metav1.Duration{Duration: time.Hour}}, time.Time{}, time.Time{}},
	}
	for _, c := range cases {
		s := spec(func(s *apigeev1alpha1.DeveloperAppKeySpec) { s.Rotation = c.rot })
		got := renewalTime(s, issued, c.exp)
		if (got == nil) != c.want.IsZero() || (got != nil && !got.Equal(c.want)) {
			t.Errorf("%s: renewalTime = %v, want %v", c.reason, got, c.want)
		}
	}
}

func TestRenewalTrigger(t *testing.T) {
	cur := &apigee.Credential{IssuedAt: t0, ExpiresAt: t0.Add(10 * time.Hour)}
	key := func(renewBefore time.Duration, annotation, last string) *apigeev1alpha1.DeveloperAppKey {
		k := &apigeev1alpha1.DeveloperAppKey{Spec: *spec()}
		if renewBefore > 0 {
			k.Spec.Rotation.RenewBefore = &metav1.Duration{Duration: renewBefore}
		}
		if annotation != "" {
			k.Annotations = map[string]string{apigeev1alpha1.RotateAnnotation: annotation}
		}
		k.Status.LastRotateRequest = last
		return k
	}
	cases := []struct {
		reason  string
		k       *apigeev1alpha1.DeveloperAppKey
		now     time.Time
		trigger string
	}{
		{"before the renewal time nothing happens", key(time.Hour, "", ""), t0.Add(8 * time.Hour), ""},
		{"at the renewal time it is Scheduled", key(time.Hour, "", ""), t0.Add(9 * time.Hour), "Scheduled"},
		{"a new rotate request is acted on", key(0, "2026-11-30", ""), t0, "Requested"},
		{"the same request is not acted on twice", key(0, "2026-11-30", "2026-11-30"), t0, ""},
		{"a changed request is a new one", key(0, "again", "2026-11-30"), t0, "Requested"},
	}
	for _, c := range cases {
		trigger, due := renewal(c.k, cur, c.now)
		if trigger != c.trigger || due != (c.trigger != "") {
			t.Errorf("%s: renewal = %q, %v; want %q", c.reason, trigger, due, c.trigger)
		}
	}
}

func TestStateCondition(t *testing.T) {
	expiresAt := metav1.NewTime(t0.Add(48 * time.Hour))
	k := &apigeev1alpha1.DeveloperAppKey{Spec: *spec()}
	k.Spec.App = "app"
	k.Spec.Credentials.SecretRef.Name = "creds"
	k.Status.ExpiresAt = &expiresAt
	week := 7 * 24 * time.Hour
	revoked := &keyRun{app: &apigee.App{Status: apigee.StatusRevoked}}
	cases := []struct {
		reason     string
		run        *keyRun
		now        time.Time
		wantReason string
		wantStatus metav1.ConditionStatus
		wantText   string
	}{
		{"far from expiry: converged", nil, t0.Add(-30 * 24 * time.Hour), apigeev1alpha1.ReasonConverged, metav1.ConditionTrue, "matches the spec"},
		{"inside the window Ready says when", nil, t0, apigeev1alpha1.ReasonConverged, metav1.ConditionTrue, "expires at " + expiresAt.UTC().Format(time.RFC3339)},
		{"at the expiry instant: KeyExpired", nil, expiresAt.Time, apigeev1alpha1.ReasonKeyExpired, metav1.ConditionFalse, "put a new consumer key in Secret creds"},
		{"a revoked app makes the key useless", revoked, t0, apigeev1alpha1.ReasonAppRevoked, metav1.ConditionFalse, "app app is revoked"},
	}
	for _, c := range cases {
		got := stateCondition(k, c.run, c.now, week)
		if got.Reason != c.wantReason || got.Status != c.wantStatus || !strings.Contains(got.Message, c.wantText) {
			t.Errorf("%s: %s %s %q", c.reason, got.Status, got.Reason, got.Message)
		}
	}
}

func TestNextLifecycleEvent(t *testing.T) {
	expiresAt := metav1.NewTime(t0.Add(10 * 24 * time.Hour))
	renewAt := metav1.NewTime(t0.Add(8 * 24 * time.Hour))
	st := &apigeev1alpha1.DeveloperAppKeyStatus{ExpiresAt: &expiresAt}
	week := 7 * 24 * time.Hour
	if d, ok := nextLifecycleEvent(st, t0, week); !ok || d != 3*24*time.Hour {
		t.Errorf("first the warning window opens: got %s %v", d, ok)
	}
	st.RenewalTime = &renewAt
	if d, ok := nextLifecycleEvent(st, t0.Add(4*24*time.Hour), week); !ok || d != 4*24*time.Hour {
		t.Errorf("then the renewal: got %s %v", d, ok)
	}
	if d, ok := nextLifecycleEvent(st, t0.Add(9*24*time.Hour), week); !ok || d != 24*time.Hour {
		t.Errorf("then the expiry instant: got %s %v", d, ok)
	}
	if _, ok := nextLifecycleEvent(st, t0.Add(11*24*time.Hour), week); ok {
		t.Errorf("nothing after expiry")
	}
}

// TestRenewalDeferredOnlyWhenTheKeyOutlivesTheWait (review of issue 21, 6):
// at the rotation ceiling a requested renewal waits for the oldest replaced
// key, unless the current key would expire first; a scheduled one never
// waits.
func TestRenewalDeferredOnlyWhenTheKeyOutlivesTheWait(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	full := []apigeev1alpha1.PreviousKey{
		{Fingerprint: "sha256:1", RetireAfter: metav1.NewTime(now.Add(time.Hour))},
		{Fingerprint: "sha256:2", RetireAfter: metav1.NewTime(now.Add(2 * time.Hour))},
	}
	for _, c := range []struct {
		reason   string
		trigger  string
		previous []apigeev1alpha1.PreviousKey
		expires  time.Time
		want     bool
	}{
		{"requested, below the ceiling", "Requested", full[:1], time.Time{}, false},
		{"requested at the ceiling, the key never expires", "Requested", full, time.Time{}, true},
		{"requested at the ceiling, the key outlives the wait", "Requested", full, now.Add(3 * time.Hour), true},
		{"requested at the ceiling, the key expires first", "Requested", full, now.Add(30 * time.Minute), false},
		{"scheduled at the ceiling", "Scheduled", full, now.Add(30 * time.Minute), false},
	} {
		if got := mayDefer(c.trigger, c.previous, c.expires); got != c.want {
			t.Errorf("%s: mayDefer = %v", c.reason, got)
		}
	}
}

// TestNoCeilingWarningOnRotationBack (review of issue 21, 6): rotating back
// to a replaced key at the ceiling retires nothing early, so it warns of
// nothing; a rotation to a new key past the ceiling names the oldest.
func TestNoCeilingWarningOnRotationBack(t *testing.T) {
	loc := apigeev1alpha1.KeyLocation{Organization: "o", App: "a", Developer: "d"}
	now := time.Now()
	for _, c := range []struct {
		to   string
		warn bool
	}{{"fp-K1", false}, {"fp-K2", false}, {"fp-K4", true}} {
		rec := &noteRecorder{}
		k := &apigeev1alpha1.DeveloperAppKey{}
		k.Status.ConsumerKeyFingerprint, k.Status.Location, k.Status.KeyOrigin = "fp-K3", &loc, apigeev1alpha1.KeyOriginCreated
		run := &keyRun{r: &DeveloperAppKeyReconciler{recorder: rec}, k: k, loc: loc, now: now, previous: []apigeev1alpha1.PreviousKey{
			{Fingerprint: "fp-K1", RetireAfter: metav1.NewTime(now.Add(time.Hour)), Location: &loc},
			{Fingerprint: "fp-K2", RetireAfter: metav1.NewTime(now.Add(2 * time.Hour)), Location: &loc},
		}}
		run.claimAt(c.to, loc, apigeev1alpha1.KeyOriginCreated)
		warned := slices.ContainsFunc(rec.events, func(e string) bool { return strings.HasPrefix(e, "RotationCeiling") })
		if warned != c.warn {
			t.Errorf("rotation to %s: RotationCeiling warned %v, want %v (%v)", c.to, warned, c.warn, rec.events)
		}
	}
}
