package integration

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// A terminal failure is looked at again at the resync only. With a resync
// of 1s, a 3s window holds at most 3 resyncs (4 with one in flight); a
// retry with backoff (5ms, 10ms, 20ms…) would make about ten.
const (
	terminalResync  = time.Second
	terminalWindow  = 3 * time.Second
	maxTerminalRuns = 4
)

// conflictingKey is newKey with the short resync used to count calls.
func conflictingKey(ns, name, secretName string) *apigeev1alpha1.DeveloperAppKey {
	k := newKey(ns, name, secretName)
	k.Spec.ResyncInterval = &metav1.Duration{Duration: terminalResync}
	return k
}

// assertNoRetryStorm counts the calls of a window of resyncs: nothing
// changes Apigee and no operation is called more than once a resync.
func assertNoRetryStorm(t *testing.T, a *apigeeOrg) {
	t.Helper()
	calls := withoutProbes(a.callsDuring(terminalWindow))
	perOp := map[string]int{}
	for _, c := range calls {
		perOp[c.Operation]++
		if c.Method != "GET" && c.Status >= 200 && c.Status < 300 {
			t.Errorf("a terminal failure changed Apigee: %s %s", c.Operation, c.Path)
		}
	}
	for op, n := range perOp {
		if n > maxTerminalRuns {
			t.Errorf("%s called %d times in %s with a %s resync: retrying hot", op, n, terminalWindow, terminalResync)
		}
	}
}

// keyInUseMessage is the one message for a key in use elsewhere, whatever
// the reason: it must not tell a guesser which reason holds.
const keyInUseMessage = "is already in use in organization"

// assertKeyConflict waits for KeyConflict, its Warning event, and checks
// nothing was deleted and no retry storm follows.
func assertKeyConflict(t *testing.T, a *apigeeOrg, ns, name, messagePart string) {
	t.Helper()
	k := waitReason(t, ns, name, apigeev1alpha1.ReasonKeyConflict)
	if c := readyCondition(k); c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, messagePart) {
		t.Errorf("Ready = %s %q, want False mentioning %q", c.Status, c.Message, messagePart)
	}
	waitEvent(t, ns, name, corev1.EventTypeWarning, apigeev1alpha1.ReasonKeyConflict)
	assertNoRetryStorm(t, a)
	if n := a.emu.Calls(emulator.OpDeleteKey) + a.emu.Calls(emulator.OpDeleteKeyProduct); n != 0 {
		t.Errorf("a conflict deleted something: %v", a.emu.CallLog())
	}
}

// TestConflictKeyOnAnotherApp: the consumer key belongs to another app.
func TestConflictKeyOnAnotherApp(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d)
		a.preImport(t, "other-app", "takenKey", "takenSecret")
		keysBefore := a.keyCount(t, appName)
		create(t, credentialsSecret(ns, "creds", "takenKey", "takenSecret"))
		create(t, conflictingKey(ns, "orders", "creds"))

		assertKeyConflict(t, a, ns, "orders", keyInUseMessage)
		if a.key(t, "other-app", "takenKey") == nil {
			t.Errorf("the other app's key is gone")
		}
		if n := a.keyCount(t, appName); n != keysBefore {
			t.Errorf("orders-app has %d keys, had %d", n, keysBefore)
		}
	})
}

// TestConflictKeyWithAnotherSecret: the key is on this app with another
// secret; it is not re-created, nor are its products touched.
func TestConflictKeyWithAnotherSecret(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d)
		before := a.preImport(t, appName, "clashKey", "theirSecret")
		create(t, credentialsSecret(ns, "creds", "clashKey", "ourSecret"))
		create(t, conflictingKey(ns, "orders", "creds"))

		assertKeyConflict(t, a, ns, "orders", keyInUseMessage)
		got := a.key(t, appName, "clashKey")
		if got == nil || got.ConsumerSecret != "theirSecret" || !got.IssuedAt.Equal(before.IssuedAt) || len(got.Products) != 0 {
			t.Errorf("the existing key was changed: %+v", got != nil)
		}
	})
}

// TestConflictTwoObjectsClaimOneKey: the object that claims a managed key
// later gets KeyConflict without calling Apigee, and deleting it leaves the
// key alone. Both objects are created together (creation times have
// one-second resolution, so they likely tie) and the later claimant's name
// sorts first: a name tie-break alone would hand it the working key.
func TestConflictTwoObjectsClaimOneKey(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d)
		create(t, credentialsSecret(ns, "creds", "sharedKey", "sharedSecret"))
		create(t, newKey(ns, "zz-first", "creds"))
		create(t, conflictingKey(ns, "aa-later", "copy")) // its Secret comes later
		waitConverged(t, ns, "zz-first")
		waitReason(t, ns, "aa-later", apigeev1alpha1.ReasonSecretNotFound)

		a.emu.ResetCalls()
		create(t, credentialsSecret(ns, "copy", "sharedKey", "sharedSecret"))
		waitReason(t, ns, "aa-later", apigeev1alpha1.ReasonKeyConflict)
		if n := a.emu.TotalCalls(); n != 0 {
			t.Errorf("the later claimant called Apigee %d times: %v", n, a.emu.CallLog())
		}
		assertKeyConflict(t, a, ns, "aa-later", "DeveloperAppKey zz-first in this namespace")
		if n := a.emu.TotalCalls(); n != 0 {
			t.Errorf("the later claimant called Apigee %d times at resync: %v", n, a.emu.CallLog())
		}

		deleteKey(t, ns, "aa-later")
		waitGone(t, ns, "aa-later")
		if got := a.key(t, appName, "sharedKey"); got == nil || !convergedKey(got) {
			t.Errorf("deleting the later claimant changed the key")
		}
		touchSecret(t, ns, "creds")
		if k := waitConverged(t, ns, "zz-first"); k.Status.ConsumerKeyFingerprint == "" {
			t.Errorf("the first object lost its key")
		}
	})
}
