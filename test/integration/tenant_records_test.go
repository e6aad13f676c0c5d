package integration

import (
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// forgedIntent is an import-pending value a tenant writes by hand: the
// shape the operator writes, without the operator's signature (or with a
// made-up one).
func forgedIntent(t *testing.T, consumerKey string, loc apigeev1alpha1.KeyLocation, mac string) string {
	t.Helper()
	in := map[string]any{"fingerprint": apigee.Fingerprint(consumerKey), "location": loc}
	if mac != "" {
		in["mac"] = mac
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// setIntent writes an import-pending annotation on the object, as a
// tenant who may edit its own objects can.
func setIntent(t *testing.T, ns, name, value string) {
	t.Helper()
	update(t, ns, name, func(k *apigeev1alpha1.DeveloperAppKey) {
		if k.Annotations == nil {
			k.Annotations = map[string]string{}
		}
		k.Annotations[apigeev1alpha1.ImportPendingAnnotation] = value
	})
}

// callsOutside lists the calls whose path is on none of the apps.
func callsOutside(calls []emulator.Call, apps ...string) []emulator.Call {
	var out []emulator.Call
	for _, c := range withoutProbes(calls) {
		if !strings.Contains(c.Path, "/apps") {
			continue // developer and product reads name no key
		}
		on := false
		for _, app := range apps {
			on = on || strings.Contains(c.Path, "/apps/"+app)
		}
		if !on {
			out = append(out, c)
		}
	}
	return out
}

// TestForgedIntentSteersNothing (issue 20, 3): team-b writes on its own
// objects import intents naming team-a's key on team-a's app: one by
// hand, one with a made-up signature, one copied from team-a's own object
// (signed by the operator, but for another object). Deleting team-b's
// objects reads and deletes nothing outside team-b's app, says nothing
// about team-a's key, and team-a's key keeps working.
func TestForgedIntentSteersNothing(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		tt := newTwoTeams(t, d)
		a := tt.a
		create(t, credentialsSecret(tt.nsA, "a-creds", "teamAKey", "teamASecret"))
		create(t, tt.sharedKey(tt.nsA, "orders", "a-creds", developer, appName, "orders-read"))
		victim := waitConverged(t, tt.nsA, "orders")
		genuine := victim.Annotations[apigeev1alpha1.ImportPendingAnnotation]
		if !strings.Contains(genuine, `"mac"`) {
			t.Fatalf("the operator's own intent is not signed: %q", genuine)
		}

		forged := map[string]string{
			"by-hand":     forgedIntent(t, "teamAKey", *victim.Status.Location, ""),
			"made-up-mac": forgedIntent(t, "teamAKey", *victim.Status.Location, "bWFkZS11cA"),
			"copied":      genuine,
		}
		for name := range forged {
			create(t, credentialsSecret(tt.nsB, name, "teamB-"+name, "teamBSecret-"+name))
			create(t, tt.sharedKey(tt.nsB, name, name, teamBDeveloper, "b-app", "b-read"))
			waitConverged(t, tt.nsB, name)
		}
		a.emu.ResetCalls()
		for name, value := range forged {
			setIntent(t, tt.nsB, name, value)
			deleteKey(t, tt.nsB, name)
		}
		for name := range forged {
			waitGone(t, tt.nsB, name)
		}

		if c := a.key(t, appName, "teamAKey"); c == nil || c.ConsumerSecret != "teamASecret" {
			t.Fatalf("team-a's key was touched by a forged intent: %+v", c)
		}
		if n := len(deletesOf(a.emu.CallLog(), "teamAKey")); n != 0 {
			t.Errorf("team-a's key was deleted %d times", n)
		}
		if out := callsOutside(a.emu.CallLog(), "b-app"); len(out) != 0 {
			t.Errorf("a forged intent made the operator call outside team-b's app: %v", out)
		}
		events := allEventText(t, tt.nsB)
		for _, leak := range []string{apigeev1alpha1.ReasonImportUnconfirmed, apigee.Fingerprint("teamAKey"), appName} {
			if strings.Contains(events, leak) {
				t.Errorf("team-b's events reveal %q about team-a's key: %s", leak, events)
			}
		}
	})
}

// TestForgedIntentMakesNoCreatedKey (issue 20, 2 and 3): someone holding a
// portal key's values writes an object for it, marked for adoption (so the
// operator reads before it imports), with a hand-written intent claiming
// the operator was importing that very key there. The key is adopted
// (keyOrigin Adopted, as no intent of the operator's says otherwise), and
// deleting the object with no deletionPolicy leaves it.
func TestForgedIntentMakesNoCreatedKey(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d)
		a.preImport(t, appName, "portalKey", "portalSecret")
		loc := apigeev1alpha1.KeyLocation{Endpoint: a.srv.URL, Organization: a.emu.Organization(), Developer: developer, App: appName}
		create(t, credentialsSecret(ns, "creds", "portalKey", "portalSecret"))
		k := newKey(ns, "orders", "creds")
		k.Annotations = map[string]string{apigeev1alpha1.AdoptAnnotation: "true",
			apigeev1alpha1.ImportPendingAnnotation: forgedIntent(t, "portalKey", loc, "")}
		create(t, k)
		if got := waitConverged(t, ns, "orders"); got.Status.KeyOrigin != apigeev1alpha1.KeyOriginAdopted {
			t.Fatalf("keyOrigin = %q: a hand-written intent made an existing key the operator's own", got.Status.KeyOrigin)
		}
		deleteKey(t, ns, "orders")
		waitGone(t, ns, "orders")
		if c := a.key(t, appName, "portalKey"); c == nil || len(deletesOf(a.emu.CallLog(), "portalKey")) != 0 {
			t.Errorf("the adopted portal key was deleted: %+v", c)
		}
	})
}

// intentAppearances counts, from the manager's informer, how often an
// import-pending annotation appears on the object: what a tenant watching
// its own object sees.
func intentAppearances(t *testing.T, ns, name string) func() int {
	t.Helper()
	var mu sync.Mutex
	n := 0
	has := func(k *apigeev1alpha1.DeveloperAppKey) bool {
		if k == nil {
			return false
		}
		_, ok := k.Annotations[apigeev1alpha1.ImportPendingAnnotation]
		return ok
	}
	watchKey(t, ns, name, func(old, k *apigeev1alpha1.DeveloperAppKey) {
		if !has(old) && has(k) {
			mu.Lock()
			n++
			mu.Unlock()
		}
	})
	return func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// conflictAnswer is what a tenant learns from one guessed key: the
// condition, the intent annotations it saw come and go, and how many
// reads of the app the answer took (what its timing is made of).
type conflictAnswer struct {
	reason, message string
	intents         int
	appReads        int
	appCalls        int // every call on the app: what the time to answer is made of
	intentLeft      bool
}

// guess creates, in ns, an object for consumerKey on app with a guessed
// secret and returns its answer.
func guess(t *testing.T, a *apigeeOrg, ns, name, consumerKey, app string, observeOnly bool, wantReason string) conflictAnswer {
	t.Helper()
	a.emu.ResetCalls()
	trace := intentAppearances(t, ns, name)
	create(t, credentialsSecret(ns, name, consumerKey, "guessedSecret"))
	k := newKey(ns, name, name)
	k.Spec.App = app
	if observeOnly {
		k.Spec.ManagementPolicy = apigeev1alpha1.ManagementPolicyObserveOnly
	}
	create(t, k)
	got := waitReason(t, ns, name, wantReason)
	_, left := got.Annotations[apigeev1alpha1.ImportPendingAnnotation]
	reads, calls := 0, 0
	for _, c := range a.emu.CallLog() {
		if c.Operation == emulator.OpGetApp && strings.HasSuffix(c.Path, "/apps/"+app) {
			reads++
		}
		if strings.Contains(c.Path, "/apps/"+app) {
			calls++
		}
	}
	return conflictAnswer{reason: wantReason, message: readyCondition(got).Message, intents: trace(), appReads: reads, appCalls: calls, intentLeft: left}
}

// TestNoOracleForKeysElsewhere (issue 20, 5): team-b, with its own
// connection to the organization team-a uses, guesses consumer keys. A key
// team-a's object manages and a key no object manages give the same
// answer: the same reason and message, the same import-pending annotation
// coming and going, the same number of reads of the app (what the time
// to answer is made of), on the app that holds the key and on another.
// ObserveOnly says the same Drifted for a key held on its app with
// another secret, managed or not, as for a key its app lacks. Nothing of
// team-a's is changed.
func TestNoOracleForKeysElsewhere(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, nsA := setup(t, d)
		create(t, credentialsSecret(nsA, "creds", "managedKey", "managedSecret"))
		create(t, newKey(nsA, "orders", "creds"))
		waitConverged(t, nsA, "orders")
		a.preImport(t, appName, "portalKey", "portalSecret")
		nsB := neighbour(t, a)

		conflict, drifted := apigeev1alpha1.ReasonKeyConflict, apigeev1alpha1.ReasonDrifted
		pairs := map[string][]conflictAnswer{
			"on the app holding the key": {
				guess(t, a, nsB, "managed", "managedKey", appName, false, conflict),
				guess(t, a, nsB, "unmanaged", "portalKey", appName, false, conflict)},
			"on another app": {
				guess(t, a, nsB, "managed-far", "managedKey", "other-app", false, conflict),
				guess(t, a, nsB, "unmanaged-far", "portalKey", "other-app", false, conflict)},
			"ObserveOnly": {
				guess(t, a, nsB, "managed-observe", "managedKey", appName, true, drifted),
				guess(t, a, nsB, "unmanaged-observe", "portalKey", appName, true, drifted),
				guess(t, a, nsB, "absent-observe", "managedKey", "other-app", true, drifted)},
		}
		for what, answers := range pairs {
			for i, got := range answers {
				if got.intentLeft {
					t.Errorf("%s, guess %d: an import-pending annotation was left behind", what, i)
				}
				if got != answers[0] {
					t.Errorf("%s, guess %d answers differently from guess 0:\n%+v\n%+v", what, i, got, answers[0])
				}
			}
		}
		if pairs["on the app holding the key"][0].message != pairs["on another app"][0].message {
			t.Error("a key on this app and a key elsewhere get different conflict messages")
		}
		if c := a.key(t, appName, "managedKey"); c == nil || c.ConsumerSecret != "managedSecret" {
			t.Errorf("team-a's key was changed: %+v", c)
		}
		if got := readyCondition(get(t, nsA, "orders")); got.Reason != apigeev1alpha1.ReasonConverged {
			t.Errorf("team-a's key left Ready: %+v", got)
		}
	})
}

// TestNeighbourCannotHoldGeneratedKey (issue 20, 4): team-b writes objects
// on team-a's app name that never record a key: one under a developer that
// does not exist, with a Secret that never comes; one on a shared
// connection whose grant keeps team-b off team-a's app. Neither holds back
// team-a's autoGeneratedKeys: Delete, and team-a's key turns Converged
// (never while its delete is held). A peer on the same developer inside
// its grant does hold it, visibly: TestAutoGeneratedDeletedOncePeerRecords.
func TestNeighbourCannotHoldGeneratedKey(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		tt := newTwoTeams(t, d)
		a := tt.a
		blocker := tt.sharedKey(tt.nsB, "blocker", "never-comes", "nobody@team-b.example.com", appName)
		create(t, blocker)
		outside := tt.sharedKey(tt.nsB, "outside", "never-comes", developer, appName)
		create(t, outside)
		waitReason(t, tt.nsB, "outside", apigeev1alpha1.ReasonDeveloperNotFound) // not granted

		create(t, credentialsSecret(tt.nsA, "a-creds", "teamAKey", "teamASecret"))
		k := tt.sharedKey(tt.nsA, "orders", "a-creds", developer, appName, "orders-read")
		k.Spec.AutoGeneratedKeys = apigeev1alpha1.AutoGeneratedKeysDelete
		create(t, k)
		eventually(t, "team-a's generated key deleted", func() (bool, string) {
			return a.key(t, appName, a.autoKey.ConsumerKey) == nil, readyCondition(get(t, tt.nsA, "orders")).Reason
		})
		waitConverged(t, tt.nsA, "orders")
		if msg := allEventText(t, tt.nsA); strings.Contains(msg, tt.nsB) || strings.Contains(msg, "blocker") {
			t.Errorf("team-a's events name team-b's objects: %s", msg)
		}
	})
}

// TestUnsignedIntentFromEarlierRelease: an object as a release before
// signing left it when an upgrade cut its import short: the key is in
// Apigee, the status records nothing, and the import-pending record is
// unsigned. The new release proves nothing from that record (a tenant
// could have written it), so it neither deletes nor re-creates the key:
// it finds the key with the Secret's secret and adopts it, Ready.
func TestUnsignedIntentFromEarlierRelease(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d)
		a.preImport(t, appName, "cutKey", "cutSecret") // the import that was cut short
		loc := apigeev1alpha1.KeyLocation{Endpoint: a.srv.URL, Organization: a.emu.Organization(), Developer: developer, App: appName}
		create(t, credentialsSecret(ns, "creds", "cutKey", "cutSecret"))
		k := newKey(ns, "orders", "creds")
		k.Annotations = map[string]string{apigeev1alpha1.ImportPendingAnnotation: forgedIntent(t, "cutKey", loc, "")}
		k.Finalizers = []string{apigeev1alpha1.Finalizer}
		a.emu.ResetCalls()
		create(t, k)

		got := waitConverged(t, ns, "orders")
		if got.Status.ConsumerKeyFingerprint != apigee.Fingerprint("cutKey") || got.Status.KeyOrigin != apigeev1alpha1.KeyOriginAdopted {
			t.Errorf("the key should be recorded, adopted: %+v", got.Status)
		}
		if n := len(deletesOf(a.emu.CallLog(), "cutKey")); n != 0 || a.key(t, appName, "cutKey") == nil {
			t.Errorf("the upgrade deleted the key (%d deletes)", n)
		}
		for _, c := range a.emu.CallLog() {
			if c.Operation == emulator.OpCreateKey && c.Status/100 == 2 {
				t.Errorf("the key was created again: %v", c)
			}
		}
	})
}

// captureIntents records, from the manager's informer, every import-pending
// value the object carries: what a tenant watching its own object sees.
func captureIntents(t *testing.T, ns, name string) func() []string {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	watchKey(t, ns, name, func(_, k *apigeev1alpha1.DeveloperAppKey) {
		if v, ok := k.Annotations[apigeev1alpha1.ImportPendingAnnotation]; ok {
			mu.Lock()
			seen = append(seen, v)
			mu.Unlock()
		}
	})
	return func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), seen...) }
}

// TestReplayedIntentMakesNoCreatedKey (review of issue 20, 3): a tenant
// holding a portal key's values lets the operator adopt it, saves the
// signed intent it saw on its object, rotates away until the adopted key
// is forgotten, then writes the saved intent back and points the Secret at
// the portal key again. The intent proves an attempt, written after the
// portal key was issued: the key is adopted again, never Created, and
// deleting the object leaves it.
func TestReplayedIntentMakesNoCreatedKey(t *testing.T) {
	clock := &pastClock{}
	a, ns := setup(t, emulator.X, func(o *emulator.Options) { o.Clock = clock.time })
	a.preImport(t, appName, "portalKey", "portalSecret")
	clock.now()
	seen := captureIntents(t, ns, "orders")
	create(t, credentialsSecret(ns, "creds", "portalKey", "portalSecret"))
	k := newKey(ns, "orders", "creds")
	k.Spec.Rotation.GracePeriod = metav1.Duration{Duration: 2 * time.Second}
	create(t, k)
	if got := waitConverged(t, ns, "orders"); got.Status.KeyOrigin != apigeev1alpha1.KeyOriginAdopted {
		t.Fatalf("keyOrigin = %q, want Adopted", got.Status.KeyOrigin)
	}
	captured := seen()
	if len(captured) == 0 {
		t.Fatal("no signed intent was visible to a watcher: the test replays nothing")
	}
	changeSecret(t, ns, "creds", func(s *corev1.Secret) {
		s.Data["consumerKey"], s.Data["consumerSecret"] = []byte("tenantKey2"), []byte("tenantSecret2")
	})
	eventually(t, "the adopted portal key forgotten", func() (bool, string) {
		g := get(t, ns, "orders")
		return len(g.Status.PreviousKeys) == 0 && readyCondition(g).Reason == apigeev1alpha1.ReasonConverged, readyCondition(g).Message
	})
	setIntent(t, ns, "orders", captured[0])
	changeSecret(t, ns, "creds", func(s *corev1.Secret) {
		s.Data["consumerKey"], s.Data["consumerSecret"] = []byte("portalKey"), []byte("portalSecret")
	})
	var got *apigeev1alpha1.DeveloperAppKey
	eventually(t, "the portal key current again", func() (bool, string) {
		got = get(t, ns, "orders")
		return got.Status.ConsumerKeyFingerprint == apigee.Fingerprint("portalKey") &&
			readyCondition(got).Reason == apigeev1alpha1.ReasonConverged, readyCondition(got).Message
	})
	if got.Status.KeyOrigin != apigeev1alpha1.KeyOriginAdopted {
		t.Errorf("a replayed signed intent made the pre-existing portal key %q", got.Status.KeyOrigin)
	}
	deleteKey(t, ns, "orders")
	waitGone(t, ns, "orders")
	if a.key(t, appName, "portalKey") == nil {
		t.Errorf("deleting the object deleted the portal key it never created")
	}
}

// pastClock is an emulator clock that runs an hour behind until now() is
// called: keys made before then (a portal's) were issued long before any
// intent of the operator's.
type pastClock struct{ caughtUp atomic.Bool }

func (c *pastClock) time() time.Time {
	if c.caughtUp.Load() {
		return time.Now()
	}
	return time.Now().Add(-time.Hour)
}

func (c *pastClock) now() { c.caughtUp.Store(true) }

// onConflictImport runs edit once, when an import answers 409: the
// operator's removal of its intent then meets a changed object.
type onConflictImport struct {
	mu   sync.Mutex
	edit func()
}

func (h *onConflictImport) onCall(c emulator.Call) {
	if c.Operation != emulator.OpCreateKey || c.Status != 409 {
		return
	}
	h.mu.Lock()
	edit := h.edit
	h.edit = nil
	h.mu.Unlock()
	if edit != nil {
		edit()
	}
}

// TestEditDuring409KeepsKeyAdopted (review of issue 20, 3): a GitOps label
// lands while the import of a portal key's values answers 409, so the
// operator's removal of its intent conflicts and the intent stays. The
// next run still adopts the key (it was issued before the intent), and
// deleting the object leaves it.
func TestEditDuring409KeepsKeyAdopted(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		hook, clock := &onConflictImport{}, &pastClock{}
		a, ns := setup(t, d, func(o *emulator.Options) { o.OnCall, o.Clock = hook.onCall, clock.time })
		a.preImport(t, appName, "portalKey", "portalSecret")
		clock.now()
		hook.mu.Lock()
		hook.edit = func() {
			editObject(ns, "orders", func(k *apigeev1alpha1.DeveloperAppKey) {
				if k.Labels == nil {
					k.Labels = map[string]string{}
				}
				k.Labels["argocd.argoproj.io/instance"] = "orders"
			})
		}
		hook.mu.Unlock()
		create(t, credentialsSecret(ns, "creds", "portalKey", "portalSecret"))
		create(t, newKey(ns, "orders", "creds"))
		got := waitConverged(t, ns, "orders")
		if got.Status.KeyOrigin != apigeev1alpha1.KeyOriginAdopted {
			t.Errorf("a key that was in Apigee before the object is recorded %q", got.Status.KeyOrigin)
		}
		deleteKey(t, ns, "orders")
		waitGone(t, ns, "orders")
		if a.key(t, appName, "portalKey") == nil {
			t.Errorf("deleting the object deleted the portal key it never created")
		}
	})
}
