package integration

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// expiringKey expires expiresIn after import; the harness resyncs hourly,
// so anything sooner comes from the expiry schedule itself.
func expiringKey(ns, name, secretName string, expiresIn time.Duration) *apigeev1alpha1.DeveloperAppKey {
	k := newKey(ns, name, secretName)
	k.Spec.ExpiresInSeconds = ptr(int64(expiresIn / time.Second))
	return k
}

// TestKeyExpiresAtTheInstant (issue 10, 1): a key inside the warning
// window is Converged with a Ready message saying when it expires and one
// KeyExpiringSoon warning; at expiresAt (not at the next resync) it turns
// Ready=False KeyExpired with the time, with a Warning event. The
// expiration metric carries expiresAt.
func TestKeyExpiresAtTheInstant(t *testing.T) {
	_, ns := setup(t, emulator.X)
	create(t, credentialsSecret(ns, "creds", "shortLivedKey", "shortLivedSecret"))
	create(t, expiringKey(ns, "orders", "creds", 5*time.Second))
	k := waitConverged(t, ns, "orders")
	if k.Status.ExpiresAt == nil {
		t.Fatal("status.expiresAt not set")
	}
	expiresAt := k.Status.ExpiresAt.UTC().Format(time.RFC3339)
	if msg := readyCondition(k).Message; !strings.Contains(msg, "expires at "+expiresAt) {
		t.Errorf("Ready message %q should say when the key expires", msg)
	}
	waitEvent(t, ns, "orders", corev1.EventTypeWarning, "KeyExpiringSoon")
	labels := map[string]string{"namespace": ns, "name": "orders"}
	if got := metricSum(t, "apigee_key_operator_key_expiration_timestamp_seconds", labels); got != float64(k.Status.ExpiresAt.Unix()) {
		t.Errorf("expiration metric = %v, want %d", got, k.Status.ExpiresAt.Unix())
	}

	k = waitReason(t, ns, "orders", apigeev1alpha1.ReasonKeyExpired)
	c := readyCondition(k)
	if c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, expiresAt) {
		t.Errorf("Ready = %s %q, want False with the expiry time", c.Status, c.Message)
	}
	if c.LastTransitionTime.Time.Before(k.Status.ExpiresAt.Time.Truncate(time.Second)) {
		t.Errorf("KeyExpired at %s, before the key expired at %s", c.LastTransitionTime, expiresAt)
	}
	waitEvent(t, ns, "orders", corev1.EventTypeWarning, apigeev1alpha1.ReasonKeyExpired)
	if n := eventCounts(t, ns, "orders")["KeyExpiringSoon"]; n != 1 {
		t.Errorf("KeyExpiringSoon sent %d times, want once", n)
	}
}

// workingKeyWatch polls the emulator and records any moment when no key of
// the app works: approved, not expired, with orders-read approved.
type workingKeyWatch struct {
	mu      sync.Mutex
	polls   int
	outages []time.Time
}

func (w *workingKeyWatch) run(ctx context.Context, a *apigeeOrg) {
	for ctx.Err() == nil {
		app, _ := a.emu.App(developer, appName)
		now := time.Now()
		works := false
		for _, c := range app.Credentials {
			if c.ConsumerKey == a.autoKey.ConsumerKey || c.Status != apigee.StatusApproved || (!c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt)) {
				continue
			}
			for _, p := range c.Products {
				works = works || (p.Name == "orders-read" && p.Status == apigee.StatusApproved)
			}
		}
		w.mu.Lock()
		w.polls++
		if !works {
			w.outages = append(w.outages, now)
		}
		w.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRenewalOfGeneratedKey (issue 10, 2): a generated key with
// rotation.renewBefore is renewed ahead of expiry: the operator writes new
// values into its Secret, the rotation imports them with the same products
// and keeps the old key for the grace period. At no moment, polled all the
// way, is there no working key.
func TestRenewalOfGeneratedKey(t *testing.T) {
	a, ns := setup(t, emulator.X)
	k := expiringKey(ns, "orders", "generated", 20*time.Second)
	k.Spec.Credentials.Generate = true
	k.Spec.Rotation = apigeev1alpha1.RotationPolicy{GracePeriod: metav1.Duration{Duration: 2 * time.Second},
		RenewBefore: &metav1.Duration{Duration: 14 * time.Second}}
	create(t, k)
	k = waitConverged(t, ns, "orders")
	first := k.Status.ConsumerKeyFingerprint
	if k.Status.RenewalTime == nil || !k.Status.RenewalTime.Equal(ptr(metav1.NewTime(k.Status.ExpiresAt.Add(-14*time.Second)))) {
		t.Fatalf("status.renewalTime = %v, want 14s before %v", k.Status.RenewalTime, k.Status.ExpiresAt)
	}
	ctx, stop := context.WithCancel(context.Background())
	watch := &workingKeyWatch{}
	done := make(chan struct{})
	go func() { watch.run(ctx, a); close(done) }()

	eventually(t, "renewed key imported and the old one retired", func() (bool, string) {
		k = get(t, ns, "orders")
		return k.Status.ConsumerKeyFingerprint != first && len(k.Status.PreviousKeys) == 0 &&
			meta.IsStatusConditionTrue(k.Status.Conditions, apigeev1alpha1.ConditionReady), "fingerprint " + k.Status.ConsumerKeyFingerprint
	})
	stop()
	<-done
	if len(watch.outages) != 0 {
		t.Errorf("no key worked at %d of %d polls, first at %s", len(watch.outages), watch.polls, watch.outages[0])
	}
	s := getSecret(t, ns, "generated")
	got := a.key(t, appName, string(s.Data["consumerKey"]))
	if got == nil || got.ConsumerSecret != string(s.Data["consumerSecret"]) || !convergedKey(got) {
		t.Errorf("the renewed Secret's key is not in Apigee with its products")
	}
	waitEvent(t, ns, "orders", corev1.EventTypeNormal, "Renewed")
	assertNotPrinted(t, ns, s.Data["consumerKey"], s.Data["consumerSecret"])
	if n := metricSum(t, "apigee_key_operator_key_renewals_total", map[string]string{"namespace": ns, "trigger": "Scheduled"}); n < 1 {
		t.Errorf("renewals counter = %v, want at least 1", n)
	}
}

// TestRotateAnnotation (issue 10, 3): a new value of the rotate annotation
// renews a generated key at once, is recorded in status and is not acted
// on twice; on a key the user supplies it is refused with an event, and
// the Secret is left alone.
func TestRotateAnnotation(t *testing.T) {
	_, ns := setup(t, emulator.X)
	gen := newKey(ns, "generated", "gen-creds")
	gen.Spec.Credentials.Generate = true
	gen.Spec.Rotation.GracePeriod = metav1.Duration{Duration: time.Second}
	create(t, gen)
	waitConverged(t, ns, "generated")
	before := string(getSecret(t, ns, "gen-creds").Data["consumerKey"])

	annotate(t, ns, "generated", apigeev1alpha1.RotateAnnotation, "first")
	eventually(t, "rotation on request", func() (bool, string) {
		k := get(t, ns, "generated")
		return k.Status.LastRotateRequest == "first" && k.Status.ConsumerKeyFingerprint != apigee.Fingerprint(before) &&
			readyCondition(k).Reason == apigeev1alpha1.ReasonConverged, k.Status.LastRotateRequest
	})
	renewed := string(getSecret(t, ns, "gen-creds").Data["consumerKey"])
	annotate(t, ns, "generated", "unrelated", "change") // another reconcile, same request
	waitConverged(t, ns, "generated")
	touchSecret(t, ns, "gen-creds")
	waitConverged(t, ns, "generated")
	if got := string(getSecret(t, ns, "gen-creds").Data["consumerKey"]); got != renewed {
		t.Errorf("the same rotate request was acted on twice")
	}

	create(t, credentialsSecret(ns, "user-creds", "userKey", "userSecret"))
	create(t, newKey(ns, "supplied", "user-creds"))
	waitConverged(t, ns, "supplied")
	annotate(t, ns, "supplied", apigeev1alpha1.RotateAnnotation, "please")
	e := waitEvent(t, ns, "supplied", corev1.EventTypeWarning, "RotateRefused")
	if !strings.Contains(e.Note, "user-creds") {
		t.Errorf("RotateRefused %q should say which Secret to change", e.Note)
	}
	eventually(t, "request recorded", func() (bool, string) {
		return get(t, ns, "supplied").Status.LastRotateRequest == "please", "not yet"
	})
	if s := getSecret(t, ns, "user-creds"); string(s.Data["consumerKey"]) != "userKey" || string(s.Data["consumerSecret"]) != "userSecret" {
		t.Errorf("the operator changed a Secret the user supplies")
	}
}

// annotate sets an annotation on the key object.
func annotate(t *testing.T, ns, name, key, value string) {
	t.Helper()
	update(t, ns, name, func(k *apigeev1alpha1.DeveloperAppKey) {
		if k.Annotations == nil {
			k.Annotations = map[string]string{}
		}
		k.Annotations[key] = value
	})
}

// TestAppRevoked (issue 10, 4): a revoked app makes Ready=False AppRevoked
// with a Warning; the operator changes nothing in Apigee; approving the app
// again brings Converged back.
func TestAppRevoked(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d)
		create(t, credentialsSecret(ns, "creds", "revokedAppKey", "revokedAppSecret"))
		create(t, newKey(ns, "orders", "creds"))
		waitConverged(t, ns, "orders")
		a.emu.ResetCalls()

		if err := a.emu.SetAppStatus(developer, appName, apigee.StatusRevoked); err != nil {
			t.Fatal(err)
		}
		k := touchUntilReason(t, ns, "creds", "orders", apigeev1alpha1.ReasonAppRevoked)
		if readyCondition(k).Status != metav1.ConditionFalse {
			t.Errorf("Ready should be False on a revoked app")
		}
		waitEvent(t, ns, "orders", corev1.EventTypeWarning, apigeev1alpha1.ReasonAppRevoked)
		if n := a.writes(); n != 0 {
			t.Errorf("the operator wrote to Apigee about a revoked app: %v", a.emu.CallLog())
		}

		if err := a.emu.SetAppStatus(developer, appName, apigee.StatusApproved); err != nil {
			t.Fatal(err)
		}
		touchUntilReason(t, ns, "creds", "orders", apigeev1alpha1.ReasonConverged)
	})
}

// touchUntilReason triggers reconciles (through the Secret) until the key
// reports the reason: a change made behind the operator's back shows at
// the next read, which may come from a snapshot a moment old.
func touchUntilReason(t *testing.T, ns, secret, name, reason string) *apigeev1alpha1.DeveloperAppKey {
	t.Helper()
	var k *apigeev1alpha1.DeveloperAppKey
	eventually(t, name+" reason "+reason, func() (bool, string) {
		touchSecret(t, ns, secret)
		time.Sleep(300 * time.Millisecond) // longer than the harness's snapshot TTL
		k = get(t, ns, name)
		return readyCondition(k).Reason == reason, readyCondition(k).Reason
	})
	return k
}

// TestEdgeRefusesExpiry (issue 10, 5): Edge applies no expiry to imported
// keys, so expiresInSeconds on an Edge connection is a terminal
// ExpiryNotSupported with no Apigee call, not a key that never expires.
func TestEdgeRefusesExpiry(t *testing.T) {
	a, ns := setup(t, emulator.Edge)
	a.emu.ResetCalls()
	create(t, credentialsSecret(ns, "creds", "edgeExpiryKey", "edgeExpirySecret"))
	create(t, expiringKey(ns, "orders", "creds", time.Hour))
	k := waitReason(t, ns, "orders", apigeev1alpha1.ReasonExpiryNotSupported)
	if msg := readyCondition(k).Message; !strings.Contains(msg, "Edge") || !strings.Contains(msg, "re-create") {
		t.Errorf("message %q should say why and what to do", msg)
	}
	if calls := withoutProbes(a.emu.CallLog()); len(calls) != 0 {
		t.Errorf("calls were made: %v", calls)
	}
}

// TestConnectionReadyMetric (issue 10, 6): apigee_key_operator_connection_ready
// is 1 for a Ready connection, 0 for one that cannot authenticate, and
// gone once the connection is deleted.
func TestConnectionReadyMetric(t *testing.T) {
	a, ns := setup(t, emulator.X)
	labels := func(name string) map[string]string {
		return map[string]string{"kind": "ApigeeConnection", "namespace": ns, "name": name}
	}
	eventually(t, "ready metric 1", func() (bool, string) {
		return metricSum(t, "apigee_key_operator_connection_ready", labels("prod")) == 1, "not yet"
	})
	create(t, tokenSecret(ns, "wrong-token", "not-the-token"))
	create(t, connectionTo(ns, "broken", a, "wrong-token"))
	waitConnectionReason(t, ns, "broken", apigeev1alpha1.ReasonUnauthorized)
	eventually(t, "broken connection's series present and 0", func() (bool, string) {
		return hasSeries(t, "apigee_key_operator_connection_ready", labels("broken")) &&
			metricSum(t, "apigee_key_operator_connection_ready", labels("broken")) == 0, "not yet"
	})
	deleteObject(t, &apigeev1alpha1.ApigeeConnection{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "broken"}})
	eventually(t, "series removed", func() (bool, string) {
		return !hasSeries(t, "apigee_key_operator_connection_ready", labels("broken")), "still there"
	})
}
