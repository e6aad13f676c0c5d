package integration

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// Sequences found by a hostile-tenant review of the ownership and
// lifecycle code; each failed before its fix.

// TestForgedImportIntentKeepsNothing: a tenant in another namespace, with
// no working connection, writes an import-pending annotation naming the
// victim's rotated-out key. The victim still deletes that key after its
// grace period: an intent anyone can write never counts as ownership.
func TestForgedImportIntentKeepsNothing(t *testing.T) {
	a, ns := setup(t, emulator.X)
	create(t, credentialsSecret(ns, "creds", "victimK1", "victimS1"))
	create(t, rotatingKey(ns, 3*time.Second, apigeev1alpha1.DeletionPolicyDelete))
	loc := waitConverged(t, ns, "orders").Status.Location

	hostile := namespace(t)
	t.Cleanup(func() { releaseKeys(hostile) })
	intent, err := json.Marshal(map[string]any{"fingerprint": apigee.Fingerprint("victimK1"),
		"location": map[string]string{"endpoint": loc.Endpoint, "organization": loc.Organization}})
	if err != nil {
		t.Fatal(err)
	}
	squat := newKey(hostile, "squat", "nothing")
	squat.Spec.ConnectionRef.Name = "does-not-exist"
	squat.Annotations = map[string]string{apigeev1alpha1.ImportPendingAnnotation: string(intent)}
	create(t, squat)

	setSecretField(t, ns, "creds", "consumerKey", "victimK2")
	waitRotated(t, ns, "victimK1", "victimK2")
	eventually(t, "K1 retired and deleted", func() (bool, string) {
		return len(get(t, ns, "orders").Status.PreviousKeys) == 0 && a.key(t, appName, "victimK1") == nil, "not yet"
	})
}

// TestRenewBeforeMustLeaveALifetime: a renewBefore as long as the key's
// lifetime would renew every new key at once; the API server refuses it.
func TestRenewBeforeMustLeaveALifetime(t *testing.T) {
	_, ns := setup(t, emulator.X)
	k := expiringKey(ns, "orders", "generated", time.Hour)
	k.Spec.Credentials.Generate = true
	k.Spec.Rotation.RenewBefore = &metav1.Duration{Duration: 2 * time.Hour}
	err := k8s.Create(context.Background(), k)
	if err == nil || !strings.Contains(err.Error(), "a tenth of the key's lifetime") {
		t.Fatalf("create = %v, want a refusal saying renewBefore must leave a tenth of the lifetime", err)
	}
}

// TestOrphanAfterGenerateTurnedOff: generate true, then false, then the
// object is deleted with Orphan: the Secret it generated is still released
// from garbage collection (it holds the only copy of the key's values).
func TestOrphanAfterGenerateTurnedOff(t *testing.T) {
	_, ns := setup(t, emulator.X)
	k := newKey(ns, "orders", "generated")
	k.Spec.Credentials.Generate = true
	k.Spec.DeletionPolicy = apigeev1alpha1.DeletionPolicyOrphan
	create(t, k)
	k = waitConverged(t, ns, "orders")
	update(t, ns, "orders", func(k *apigeev1alpha1.DeveloperAppKey) { k.Spec.Credentials.Generate = false })
	waitConverged(t, ns, "orders")

	deleteKey(t, ns, "orders")
	waitGone(t, ns, "orders")
	for _, r := range getSecret(t, ns, "generated").OwnerReferences {
		if r.UID == k.UID {
			t.Errorf("the orphaned key's Secret is still owned by the deleted object: garbage collection would delete it")
		}
	}
}

// TestObserveOnlyGuessReadsAsMissing: an ObserveOnly object naming a key
// that is on the app with another secret reads as one whose app lacks the
// key (issue 20, 5: no oracle), never as a plan that says the secret
// differs, and writes nothing.
func TestObserveOnlyGuessReadsAsMissing(t *testing.T) {
	a, ns := setup(t, emulator.X)
	a.preImport(t, appName, "consoleKey", "consoleSecret")
	create(t, credentialsSecret(ns, "guess", "consoleKey", "guessedSecret"))
	k := newKey(ns, "guess", "guess")
	k.Spec.ManagementPolicy = apigeev1alpha1.ManagementPolicyObserveOnly
	create(t, k)
	got := waitReason(t, ns, "guess", apigeev1alpha1.ReasonDrifted)
	if msg := readyCondition(got).Message; !strings.HasSuffix(msg, "would import the key") || strings.Contains(msg, "secret") {
		t.Errorf("ObserveOnly message %q: want the one for a missing key", msg)
	}
	if n := a.writes() - 1; n != 0 { // the pre-import was the one write
		t.Errorf("ObserveOnly wrote to Apigee: %v", a.emu.CallLog())
	}
}

// TestQuickRotationsKeepTrack: the Secret moves K1 -> K2, and to K3 while
// K2's import is in flight. The run that imports K3 may start from a
// cached object without the status that recorded K2; it must not overwrite
// that status, so K2 stays tracked (and retired later), never left working
// and forgotten.
func TestQuickRotationsKeepTrack(t *testing.T) {
	var next atomic.Value // "secret|key": what to write into the Secret after the next import
	next.Store("")
	a, ns := setup(t, emulator.X, func(o *emulator.Options) {
		o.OnCall = func(c emulator.Call) {
			if c.Operation != emulator.OpCreateKey || c.Status >= 300 {
				return
			}
			if v, _ := next.Swap("").(string); v != "" {
				parts := strings.SplitN(v, "|", 3)
				s := &corev1.Secret{}
				if k8s.Get(context.Background(), types.NamespacedName{Namespace: parts[0], Name: parts[1]}, s) == nil {
					s.Data["consumerKey"] = []byte(parts[2])
					_ = k8s.Update(context.Background(), s)
				}
			}
		}
	})
	for _, i := range []string{"0", "1", "2"} {
		name, sec := "o"+i, "creds"+i
		create(t, credentialsSecret(ns, sec, "r"+i+"K1", "rSecret"))
		k := newKey(ns, name, sec)
		k.Spec.Rotation.GracePeriod = metav1.Duration{Duration: time.Hour}
		create(t, k)
		waitConverged(t, ns, name)

		next.Store(ns + "|" + sec + "|r" + i + "K3")
		setSecretField(t, ns, sec, "consumerKey", "r"+i+"K2")
		eventually(t, "K3 current, K1 and K2 tracked", func() (bool, string) {
			g := get(t, ns, name)
			tracked := map[string]bool{}
			for _, p := range g.Status.PreviousKeys {
				tracked[p.Fingerprint] = true
			}
			untracked := a.key(t, appName, "r"+i+"K2") != nil && !tracked[apigee.Fingerprint("r"+i+"K2")]
			return g.Status.ConsumerKeyFingerprint == apigee.Fingerprint("r"+i+"K3") &&
				readyCondition(g).Reason == apigeev1alpha1.ReasonConverged && !untracked, "untracked K2: " + itoa(btoi(untracked))
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestObserveOnlyNeverRenews: a generated key switched to ObserveOnly is
// not renewed on request: its Secret keeps the values Apigee has.
func TestObserveOnlyNeverRenews(t *testing.T) {
	a, ns := setup(t, emulator.X)
	k := newKey(ns, "orders", "generated")
	k.Spec.Credentials.Generate = true
	create(t, k)
	waitConverged(t, ns, "orders")
	before := getSecret(t, ns, "generated").Data["consumerKey"]
	update(t, ns, "orders", func(k *apigeev1alpha1.DeveloperAppKey) {
		k.Spec.ManagementPolicy = apigeev1alpha1.ManagementPolicyObserveOnly
	})
	waitConverged(t, ns, "orders")
	annotate(t, ns, "orders", apigeev1alpha1.RotateAnnotation, "now")
	// Show that nothing happens: the annotation change is reconciled at
	// once, and a renewal would rewrite the Secret within this window.
	calls := a.callsDuring(2 * time.Second)
	if after := getSecret(t, ns, "generated").Data["consumerKey"]; string(after) != string(before) {
		t.Errorf("ObserveOnly rewrote the Secret with a key Apigee does not have")
	}
	for _, c := range calls {
		if c.Method != "GET" {
			t.Errorf("ObserveOnly wrote to Apigee: %s %s", c.Operation, c.Path)
		}
	}
}
