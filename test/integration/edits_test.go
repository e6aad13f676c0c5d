package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv"
)

// readyDrops counts, from the manager's informer, how often the object's
// Ready condition goes from True to anything else.
func readyDrops(t *testing.T, ns, name string) func() int {
	t.Helper()
	var mu sync.Mutex
	n := 0
	ready := func(k *apigeev1alpha1.DeveloperAppKey) bool {
		return k != nil && meta.IsStatusConditionTrue(k.Status.Conditions, apigeev1alpha1.ConditionReady)
	}
	watchKey(t, ns, name, func(old, k *apigeev1alpha1.DeveloperAppKey) {
		if ready(old) && !ready(k) {
			mu.Lock()
			n++
			mu.Unlock()
		}
	})
	return func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// TestReadyKeyStaysReadyWhileOrganizationHeld (issue 21, 7): Apigee
// answers 503 until the organization's breaker holds it (Unreachable).
// The Ready key still works in Apigee: it stays Ready=True Converged,
// and Synced=False says its connection is not Ready (Unreachable). When
// Apigee answers again, Synced turns True; Ready never dropped.
func TestReadyKeyStaysReadyWhileOrganizationHeld(t *testing.T) {
	a, ns := setup(t, emulator.X)
	create(t, credentialsSecret(ns, "creds", "heldKey", "heldSecret"))
	create(t, newKey(ns, "orders", "creds"))
	waitConverged(t, ns, "orders")
	drops := readyDrops(t, ns, "orders")

	a.emu.InjectFault(emulator.Fault{Status: 503})
	eventually(t, "the organization held and the key told", func() (bool, string) {
		touchSecret(t, ns, "creds")
		time.Sleep(300 * time.Millisecond) // longer than the harness's snapshot TTL
		synced := meta.FindStatusCondition(get(t, ns, "orders").Status.Conditions, apigeev1alpha1.ConditionSynced)
		return synced != nil && synced.Status == "False" && containsText(synced.Message, apigeev1alpha1.ReasonConnectionNotReady) &&
			containsText(synced.Message, "(Unreachable)"), synced.String()
	})
	if got := readyCondition(get(t, ns, "orders")); got.Status != "True" || got.Reason != apigeev1alpha1.ReasonConverged {
		t.Errorf("a working key left Ready while its organization was held: %+v", got)
	}

	a.emu.ClearFaults()
	eventually(t, "Synced again", func() (bool, string) {
		touchSecret(t, ns, "creds")
		time.Sleep(300 * time.Millisecond)
		synced := meta.FindStatusCondition(get(t, ns, "orders").Status.Conditions, apigeev1alpha1.ConditionSynced)
		return synced != nil && synced.Status == "True", synced.String()
	})
	if n := drops(); n != 0 {
		t.Errorf("Ready dropped %d times while the organization was held", n)
	}
}

// onFirstImport runs edit once, when Apigee has created the namespace's
// first key but before the operator sees the answer: the status write
// that would record the key then conflicts with the edit and is lost.
type onFirstImport struct {
	mu   sync.Mutex
	ns   string
	edit func()
	done bool
}

func (h *onFirstImport) onCall(c emulator.Call) {
	if c.Operation != emulator.OpCreateKey || c.Status/100 != 2 {
		return
	}
	h.mu.Lock()
	if h.ns == "" || h.done {
		h.mu.Unlock()
		return
	}
	h.done = true
	edit := h.edit
	h.mu.Unlock()
	edit()
}

func (h *onFirstImport) arm(ns string, edit func()) {
	h.mu.Lock()
	h.ns, h.edit = ns, edit
	h.mu.Unlock()
}

// editObject changes the object straight through the API server, from
// inside an emulator call (no test helpers that fail the test there).
func editObject(ns, name string, change func(*apigeev1alpha1.DeveloperAppKey)) {
	ctx := context.Background()
	for range 20 {
		k := &apigeev1alpha1.DeveloperAppKey{}
		if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, k); err != nil {
			continue
		}
		change(k)
		if err := k8s.Update(ctx, k); err == nil {
			return
		}
	}
}

// TestAppEditDuringImportLosesNoKey (issue 21, 4): spec.app changes while
// the first import is in flight, and the status write recording the key is
// lost. The next run finds the key where its signed intent says, records it
// there, and stops with LocationChanged instead of importing on the new
// app; deleting the object deletes the key it created. No key is left that
// nobody records.
func TestAppEditDuringImportLosesNoKey(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		hook := &onFirstImport{}
		a, ns := setup(t, d, func(o *emulator.Options) { o.OnCall = hook.onCall })
		hook.arm(ns, func() {
			editObject(ns, "orders", func(k *apigeev1alpha1.DeveloperAppKey) { k.Spec.App = "other-app" })
		})
		create(t, credentialsSecret(ns, "creds", "editedKey", "editedSecret"))
		create(t, newKey(ns, "orders", "creds"))

		k := waitReason(t, ns, "orders", apigeev1alpha1.ReasonLocationChanged)
		if loc := k.Status.Location; k.Status.ConsumerKeyFingerprint != apigee.Fingerprint("editedKey") || loc == nil || loc.App != appName ||
			k.Status.KeyOrigin != apigeev1alpha1.KeyOriginCreated {
			t.Fatalf("status should record the key on %s as the operator's own: %+v", appName, k.Status)
		}
		if a.key(t, appName, "editedKey") == nil {
			t.Fatal("the imported key is gone")
		}
		for _, c := range a.emu.CallLog() {
			if c.Operation == emulator.OpCreateKey && strings.Contains(c.Path, "/apps/other-app") {
				t.Errorf("the edit made the operator import on the new app before resolving the old one: %v", c)
			}
		}

		deleteKey(t, ns, "orders")
		waitGone(t, ns, "orders")
		if a.key(t, appName, "editedKey") != nil || len(deletesOf(a.emu.CallLog(), "editedKey")) != 1 {
			t.Errorf("deleting the object should delete the key it created, once")
		}
	})
}

// TestConsumerKeyEditDuringImportLosesNoKey (issue 21, 4): the Secret
// changes to K2 while K1's first import is in flight, and the status write
// recording K1 is lost. The next run records K1 from its intent and
// rotates to K2 as any rotation does: K1 is a previous key, retired after
// its grace period, never left working and unrecorded.
func TestConsumerKeyEditDuringImportLosesNoKey(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		hook := &onFirstImport{}
		a, ns := setup(t, d, func(o *emulator.Options) { o.OnCall = hook.onCall })
		hook.arm(ns, func() {
			ctx := context.Background()
			s := &corev1.Secret{}
			if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "creds"}, s); err == nil {
				s.Data["consumerKey"], s.Data["consumerSecret"] = []byte("secondKey"), []byte("secondSecret")
				_ = k8s.Update(ctx, s)
			}
			editObject(ns, "orders", func(k *apigeev1alpha1.DeveloperAppKey) {
				if k.Labels == nil {
					k.Labels = map[string]string{}
				}
				k.Labels["edited"] = "true"
			})
		})
		create(t, credentialsSecret(ns, "creds", "firstKey", "firstSecret"))
		create(t, rotatingKey(ns, 2*time.Second, ""))

		waitRotated(t, ns, "firstKey", "secondKey")
		eventually(t, "the first key retired", func() (bool, string) {
			return a.key(t, appName, "firstKey") == nil && len(get(t, ns, "orders").Status.PreviousKeys) == 0, "not yet"
		})
		if a.key(t, appName, "secondKey") == nil {
			t.Fatal("the second key is missing")
		}
	})
}

// TestRotationCeiling (issue 21, 6): four rotate requests on a generated
// key with a long grace period, one after another. Two renewals go
// through; the others wait (RenewalDeferred) rather than pile up keys:
// the app never holds more than maxLiveKeys of the object's keys. A user
// who changes the Secret's key four times meanwhile gets the same ceiling
// by the oldest replaced key retiring early (RotationCeiling).
func TestRotationCeiling(t *testing.T) {
	const maxLiveKeys = 3 // the current key and two replaced ones, as documented
	a, ns := setup(t, emulator.X)
	gen := newKey(ns, "generated", "gen-creds")
	gen.Spec.Credentials.Generate = true
	gen.Spec.Rotation.GracePeriod = metav1.Duration{Duration: 24 * time.Hour}
	gen.Spec.AutoGeneratedKeys = apigeev1alpha1.AutoGeneratedKeysDelete
	create(t, gen)
	waitConverged(t, ns, "generated")

	for i, req := range []string{"r1", "r2", "r3", "r4"} {
		annotate(t, ns, "generated", apigeev1alpha1.RotateAnnotation, req)
		if i < 2 {
			eventually(t, "renewal "+req, func() (bool, string) {
				k := get(t, ns, "generated")
				return k.Status.LastRotateRequest == req && len(k.Status.PreviousKeys) == i+1 &&
					readyCondition(k).Reason == apigeev1alpha1.ReasonConverged, k.Status.LastRotateRequest
			})
		}
	}
	waitEvent(t, ns, "generated", corev1.EventTypeNormal, "RenewalDeferred")
	k := get(t, ns, "generated")
	if k.Status.LastRotateRequest != "r2" || len(k.Status.PreviousKeys) != 2 {
		t.Errorf("past the ceiling a rotate request must wait: last request %q, %d previous keys", k.Status.LastRotateRequest, len(k.Status.PreviousKeys))
	}
	if n := a.keyCount(t, appName); n > maxLiveKeys {
		t.Errorf("%d keys live on the app; the ceiling is %d", n, maxLiveKeys)
	}

	create(t, credentialsSecret(ns, "user-creds", "userKey0", "userSecret0"))
	user := newKey(ns, "orders", "user-creds")
	user.Spec.App = "other-app"
	user.Spec.Rotation.GracePeriod = metav1.Duration{Duration: 24 * time.Hour}
	create(t, user)
	waitConverged(t, ns, "orders")
	for i := 1; i <= 4; i++ {
		changeSecret(t, ns, "user-creds", func(s *corev1.Secret) {
			s.Data["consumerKey"], s.Data["consumerSecret"] = []byte(fmt.Sprintf("userKey%d", i)), []byte(fmt.Sprintf("userSecret%d", i))
		})
		waitRotated(t, ns, fmt.Sprintf("userKey%d", i-1), fmt.Sprintf("userKey%d", i))
	}
	eventually(t, "the ceiling holds for supplied keys", func() (bool, string) {
		k := get(t, ns, "orders")
		live := 0
		for i := 0; i <= 4; i++ {
			if a.key(t, "other-app", fmt.Sprintf("userKey%d", i)) != nil {
				live++
			}
		}
		return len(k.Status.PreviousKeys) == 2 && live == maxLiveKeys, fmt.Sprintf("%d previous, %d live", len(k.Status.PreviousKeys), live)
	})
	if a.key(t, "other-app", "userKey4") == nil || a.key(t, "other-app", "userKey3") == nil || a.key(t, "other-app", "userKey2") == nil {
		t.Error("the newest keys must be the ones kept")
	}
	waitEvent(t, ns, "orders", corev1.EventTypeWarning, "RotationCeiling")
}

// TestRenewalSwitchesTheSecretLast (issue 21, 5): with Apigee refusing
// imports (503), a rotate request stages the new key beside the Secret's
// fields, which keep the working key for the whole outage. When Apigee
// answers again the new key is imported and converged first, then the
// Secret's fields switch to it in one update; the old key keeps working.
// At every read of the Secret during the sequence Apigee holds its key.
func TestRenewalSwitchesTheSecretLast(t *testing.T) {
	a, ns := setup(t, emulator.X)
	gen := newKey(ns, "generated", "gen-creds")
	gen.Spec.Credentials.Generate = true
	gen.Spec.Rotation.GracePeriod = metav1.Duration{Duration: time.Hour}
	create(t, gen)
	waitConverged(t, ns, "generated")
	old := string(getSecret(t, ns, "gen-creds").Data["consumerKey"])
	servesAWorkingKey := func() string {
		s := getSecret(t, ns, "gen-creds")
		key, secret := string(s.Data["consumerKey"]), string(s.Data["consumerSecret"])
		if c := a.key(t, appName, key); c == nil || c.ConsumerSecret != secret {
			t.Fatalf("the Secret holds a key Apigee does not accept")
		}
		return key
	}

	a.emu.InjectFault(emulator.Fault{Operation: emulator.OpCreateKey, Status: 503})
	annotate(t, ns, "generated", apigeev1alpha1.RotateAnnotation, "during-outage")
	eventually(t, "the new key staged", func() (bool, string) {
		servesAWorkingKey()
		_, staged := getSecret(t, ns, "gen-creds").Data["consumerKey.next"]
		return staged && a.emu.Calls(emulator.OpCreateKey) > 0, "not yet"
	})
	for range 10 { // the outage goes on: the Secret keeps the working key
		if got := servesAWorkingKey(); got != old {
			t.Fatal("the Secret's fields changed before Apigee had the new key")
		}
		time.Sleep(100 * time.Millisecond)
	}

	a.emu.ClearFaults()
	eventually(t, "the Secret switched to the renewed key", func() (bool, string) {
		key := servesAWorkingKey()
		_, staged := getSecret(t, ns, "gen-creds").Data["consumerKey.next"]
		return key != old && !staged, "not yet"
	})
	k := waitConverged(t, ns, "generated")
	if k.Status.ConsumerKeyFingerprint != apigee.Fingerprint(servesAWorkingKey()) || len(k.Status.PreviousKeys) != 1 ||
		k.Status.PreviousKeys[0].Fingerprint != apigee.Fingerprint(old) || a.key(t, appName, old) == nil {
		t.Errorf("after the switch the new key is current and the old one keeps working: %+v", k.Status)
	}
	waitEvent(t, ns, "generated", corev1.EventTypeNormal, "Renewed")
}

// TestConnectionEditDuringImportLosesNoKey (issue 21, 4): spec.connectionRef
// moves to a connection to another organization while the first import
// is in flight, and the status write recording the key is lost. The
// object stops with LocationChanged naming where the unresolved import
// is, and imports nothing in the other organization; pointed back, it
// records the key there as its own.
func TestConnectionEditDuringImportLosesNoKey(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		hook := &onFirstImport{}
		a, ns := setup(t, d, func(o *emulator.Options) { o.OnCall = hook.onCall })
		other := newApigee(t, d, "elsewhere-"+ns)
		create(t, connectionTo(ns, "elsewhere", other, "apigee-token"))
		waitConnectionReady(t, ns, "elsewhere")
		hook.arm(ns, func() {
			editObject(ns, "orders", func(k *apigeev1alpha1.DeveloperAppKey) { k.Spec.ConnectionRef.Name = "elsewhere" })
		})
		create(t, credentialsSecret(ns, "creds", "movedKey", "movedSecret"))
		create(t, newKey(ns, "orders", "creds"))

		k := waitReason(t, ns, "orders", apigeev1alpha1.ReasonLocationChanged)
		if msg := readyCondition(k).Message; !strings.Contains(msg, "is not resolved") || !strings.Contains(msg, a.emu.Organization()) {
			t.Errorf("the message should say where the unresolved import is: %q", msg)
		}
		if n := other.emu.Calls(emulator.OpCreateKey); n != 0 {
			t.Errorf("the operator imported in the other organization before resolving the first: %d creates", n)
		}
		update(t, ns, "orders", func(k *apigeev1alpha1.DeveloperAppKey) { k.Spec.ConnectionRef.Name = "prod" })
		k = waitConverged(t, ns, "orders")
		if k.Status.ConsumerKeyFingerprint != apigee.Fingerprint("movedKey") || k.Status.KeyOrigin != apigeev1alpha1.KeyOriginCreated {
			t.Errorf("pointed back, the key should be recorded as the operator's own: %+v", k.Status)
		}
		if n := a.emu.Calls(emulator.OpCreateKey); n != 1 {
			t.Errorf("the key was imported %d times, want once", n)
		}
	})
}

// TestSpecEditWhileHeldIsNotApplied (review of issue 21, 7): while the
// organization is held a user revokes a Ready key. The key keeps working,
// but the revocation has not reached Apigee: the status keeps describing
// the earlier generation (observedGeneration), Reconciling says why, and
// kstatus reports InProgress, never Current. When Apigee answers, the
// revocation is applied and the status describes the new generation.
func TestSpecEditWhileHeldIsNotApplied(t *testing.T) {
	a, ns := setup(t, emulator.X)
	create(t, credentialsSecret(ns, "creds", "heldKey", "heldSecret"))
	k := newKey(ns, "orders", "creds")
	k.Spec.APIProducts = k.Spec.APIProducts[:1]
	create(t, k)
	waitConverged(t, ns, "orders")
	a.emu.InjectFault(emulator.Fault{Status: 503})
	eventually(t, "the organization held", func() (bool, string) {
		touchSecret(t, ns, "creds")
		time.Sleep(300 * time.Millisecond) // longer than the harness's snapshot TTL
		synced := meta.FindStatusCondition(get(t, ns, "orders").Status.Conditions, apigeev1alpha1.ConditionSynced)
		return synced != nil && synced.Status == "False" && containsText(synced.Message, "(Unreachable)"), synced.String()
	})
	update(t, ns, "orders", func(k *apigeev1alpha1.DeveloperAppKey) { k.Spec.Status = apigeev1alpha1.Revoked })
	eventually(t, "the edit seen and held back", func() (bool, string) {
		got := get(t, ns, "orders")
		synced := meta.FindStatusCondition(got.Status.Conditions, apigeev1alpha1.ConditionSynced)
		return synced != nil && synced.ObservedGeneration == got.Generation && synced.Status == "False", synced.String()
	})
	got := get(t, ns, "orders")
	if got.Status.ObservedGeneration == got.Generation {
		t.Errorf("status claims generation %d is applied while Apigee has the key %s", got.Generation, a.key(t, appName, "heldKey").Status)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, apigeev1alpha1.ConditionReconciling); c == nil || c.Status != "True" {
		t.Errorf("Reconciling should say what holds the edit back: %+v", got.Status.Conditions)
	}
	if s := kstatusOf(t, got); s != status.InProgressStatus {
		t.Errorf("kstatus says %s for a revocation that has not reached Apigee", s)
	}

	a.emu.ClearFaults()
	eventually(t, "the revocation applied", func() (bool, string) {
		touchSecret(t, ns, "creds")
		time.Sleep(300 * time.Millisecond)
		got := get(t, ns, "orders")
		return got.Status.ObservedGeneration == got.Generation && a.key(t, appName, "heldKey").Status == apigee.StatusRevoked &&
			readyCondition(got).Reason == apigeev1alpha1.ReasonConverged, readyCondition(got).Reason
	})
	if s := kstatusOf(t, get(t, ns, "orders")); s != status.CurrentStatus {
		t.Errorf("applied, kstatus says %s", s)
	}
}

// TestCeilingNeverLetsAGeneratedKeyExpire (review of issue 21, 6): two
// rotate requests fill the ceiling with replaced keys that work for an
// hour; the current key's scheduled renewal, due seconds later, still goes
// through (the oldest replaced key retires early) instead of waiting an
// hour while the key the Secret holds expires.
func TestCeilingNeverLetsAGeneratedKeyExpire(t *testing.T) {
	_, ns := setup(t, emulator.X)
	gen := newKey(ns, "generated", "gen-creds")
	gen.Spec.Credentials.Generate = true
	gen.Spec.ExpiresInSeconds = ptr(int64(30))
	gen.Spec.Rotation.GracePeriod = metav1.Duration{Duration: time.Hour}
	gen.Spec.Rotation.RenewBefore = &metav1.Duration{Duration: 20 * time.Second}
	create(t, gen)
	waitConverged(t, ns, "generated")
	for i, req := range []string{"r1", "r2"} {
		annotate(t, ns, "generated", apigeev1alpha1.RotateAnnotation, req)
		eventually(t, "renewal "+req, func() (bool, string) {
			k := get(t, ns, "generated")
			return k.Status.LastRotateRequest == req && len(k.Status.PreviousKeys) == i+1 &&
				readyCondition(k).Status == metav1.ConditionTrue, readyCondition(k).Reason
		})
	}
	renewed := get(t, ns, "generated").Status.ConsumerKeyFingerprint
	testenv.Eventually(t, 60*time.Second, "the scheduled renewal past the ceiling", func() (bool, string) {
		k := get(t, ns, "generated")
		if r := readyCondition(k); r.Reason == apigeev1alpha1.ReasonKeyExpired {
			t.Fatalf("the generated key expired while its renewal waited for the rotation ceiling: %s", r.Message)
		}
		return k.Status.ConsumerKeyFingerprint != renewed && len(k.Status.PreviousKeys) == 2, readyCondition(k).Reason
	})
}
