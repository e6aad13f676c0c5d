package integration

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// rotatingKey wants orders-read revoked and orders-admin approved, so a
// replacement must restore statuses Apigee does not set by itself.
func rotatingKey(ns string, grace time.Duration, policy apigeev1alpha1.DeletionPolicy) *apigeev1alpha1.DeveloperAppKey {
	k := newKey(ns, "orders", "creds")
	k.Spec.APIProducts[0].Status = apigeev1alpha1.Revoked
	k.Spec.Rotation.GracePeriod = metav1.Duration{Duration: grace}
	k.Spec.DeletionPolicy = policy
	return k
}

const rotatedProducts = "orders-admin=approved,orders-read=revoked"

// waitRotated waits until the object manages newKey and lists oldKey as
// a previous key, and returns that entry.
func waitRotated(t *testing.T, ns, oldKey, newKey string) apigeev1alpha1.PreviousKey {
	t.Helper()
	var prev apigeev1alpha1.PreviousKey
	eventually(t, "rotation recorded", func() (bool, string) {
		k := get(t, ns, "orders")
		if readyCondition(k).Reason != apigeev1alpha1.ReasonConverged {
			return false, readyCondition(k).Reason
		}
		i := slices.IndexFunc(k.Status.PreviousKeys, func(p apigeev1alpha1.PreviousKey) bool {
			return p.Fingerprint == apigee.Fingerprint(oldKey)
		})
		if k.Status.ConsumerKeyFingerprint != apigee.Fingerprint(newKey) || i < 0 {
			return false, "status " + k.Status.ConsumerKeyFingerprint
		}
		prev = k.Status.PreviousKeys[i]
		return true, ""
	})
	return prev
}

// TestRotationDeletesOldKeyAfterGrace: a new consumer key in the Secret is
// imported with the same products and statuses; the old key keeps working
// until retireAfter and is deleted after it.
func TestRotationDeletesOldKeyAfterGrace(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d)
		create(t, credentialsSecret(ns, "creds", "rotOld", "rotSecret"))
		create(t, rotatingKey(ns, 3*time.Second, apigeev1alpha1.DeletionPolicyDelete))
		waitConverged(t, ns, "orders")

		setSecretField(t, ns, "creds", "consumerKey", "rotNew")
		prev := waitRotated(t, ns, "rotOld", "rotNew")
		checked := time.Now()
		if old := a.key(t, appName, "rotOld"); old == nil && checked.Before(prev.RetireAfter.Time) {
			t.Errorf("old key deleted before its retireAfter %s", prev.RetireAfter)
		}
		if got := a.key(t, appName, "rotNew"); got == nil || got.Status != "approved" || products(got) != rotatedProducts {
			t.Fatalf("new key not made like the old one")
		}

		eventually(t, "old key deleted after its grace period", func() (bool, string) {
			k := get(t, ns, "orders")
			deleted := slices.ContainsFunc(k.Status.DeletedKeys, func(dk apigeev1alpha1.DeletedKey) bool {
				return dk.Fingerprint == prev.Fingerprint && dk.Reason == apigeev1alpha1.DeletedKeyRotated
			})
			return deleted && len(k.Status.PreviousKeys) == 0 && a.key(t, appName, "rotOld") == nil, "not yet"
		})
		if time.Now().Before(prev.RetireAfter.Time) {
			t.Errorf("old key deleted before %s", prev.RetireAfter)
		}
		if a.key(t, appName, "rotNew") == nil {
			t.Errorf("the new key went too")
		}
	})
}

// TestRotationOrphanKeepsOldKey: under deletionPolicy Orphan the replaced
// key is forgotten after its grace period but stays in Apigee.
func TestRotationOrphanKeepsOldKey(t *testing.T) {
	a, ns := setup(t, emulator.X)
	create(t, credentialsSecret(ns, "creds", "orphanOld", "orphanSecret"))
	create(t, rotatingKey(ns, time.Second, apigeev1alpha1.DeletionPolicyOrphan))
	waitConverged(t, ns, "orders")

	setSecretField(t, ns, "creds", "consumerKey", "orphanNew")
	waitRotated(t, ns, "orphanOld", "orphanNew")
	eventually(t, "old key forgotten", func() (bool, string) {
		return len(get(t, ns, "orders").Status.PreviousKeys) == 0, "still listed"
	})
	if a.key(t, appName, "orphanOld") == nil || a.emu.Calls(emulator.OpDeleteKey) != 0 {
		t.Errorf("deletionPolicy Orphan deleted the old key")
	}
	if dk := get(t, ns, "orders").Status.DeletedKeys; len(dk) != 0 {
		t.Errorf("deletedKeys = %v, want none", dk)
	}
}

// TestNewSecretRecreatesKey: Apigee cannot change a secret, so a new
// secret for the same key re-creates it and restores products and
// statuses, with a Warning saying so and one RecreateKey Event for the
// re-creation and the calls that restored the key.
func TestNewSecretRecreatesKey(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d)
		create(t, credentialsSecret(ns, "creds", "resecretKey", "firstSecret"))
		k := rotatingKey(ns, time.Hour, apigeev1alpha1.DeletionPolicyDelete)
		k.Spec.Status = apigeev1alpha1.Revoked
		create(t, k)
		waitConverged(t, ns, "orders")

		setSecretField(t, ns, "creds", "consumerSecret", "secondSecret")
		got := a.waitKey(t, "key re-created with the new secret", "resecretKey", func(c *apigee.Credential) bool {
			return c.ConsumerSecret == "secondSecret" && c.Status == "revoked" && products(c) == rotatedProducts
		})
		if got == nil {
			return
		}
		k = waitConverged(t, ns, "orders")
		if k.Status.ConsumerKeyFingerprint != apigee.Fingerprint("resecretKey") || len(k.Status.PreviousKeys) != 0 {
			t.Errorf("status fingerprint %s previous %v", k.Status.ConsumerKeyFingerprint, k.Status.PreviousKeys)
		}
		waitEvent(t, ns, "orders", corev1.EventTypeWarning, "SecretChanged")
		recreated := waitEvent(t, ns, "orders", corev1.EventTypeNormal, "RecreateKey")
		if !strings.HasPrefix(recreated.Note, "Re-create the key with the new secret; add products ") || !strings.Contains(recreated.Note, "; revoke the key") {
			t.Errorf("RecreateKey note %q: want the re-creation, its products and its status", recreated.Note)
		}
		if n := eventCounts(t, ns, "orders")["RecreateKey"]; n != 1 {
			t.Errorf("%d RecreateKey Events for one re-creation", n)
		}
	})
}

// TestRecreateAnswered409StillSaysSo: when the import after a re-create's
// delete is answered 409 although it landed (the key is found on the app
// with the new secret), the run still says, in its RecreateKey Event, that
// it re-created the key: Apigee's old key was deleted.
func TestRecreateAnswered409StillSaysSo(t *testing.T) {
	a, ns := setup(t, emulator.X)
	create(t, credentialsSecret(ns, "creds", "conflictedKey", "firstSecret"))
	create(t, newKey(ns, "orders", "creds"))
	waitConverged(t, ns, "orders")

	a.emu.ResetCalls()
	a.emu.InjectFault(emulator.Fault{Operation: emulator.OpCreateKey, Status: 409, AfterEffect: true, Remaining: 1})
	setSecretField(t, ns, "creds", "consumerSecret", "secondSecret")
	a.waitKey(t, "key re-created with the new secret", "conflictedKey", func(c *apigee.Credential) bool {
		return c.ConsumerSecret == "secondSecret"
	})
	waitConverged(t, ns, "orders")
	// One delete, the old secret's, before the import; the key answered
	// 409 is kept, not deleted again.
	if d, c := a.emu.Calls(emulator.OpDeleteKey), a.emu.Calls(emulator.OpCreateKey); d != 1 || c != 1 {
		t.Errorf("%d deletes and %d creates for one re-creation, want 1 and 1: %v", d, c, a.emu.CallLog())
	}
	if got := a.key(t, appName, "conflictedKey"); got == nil || got.ConsumerSecret != "secondSecret" {
		t.Errorf("after the re-creation the key is %+v, want it with the new secret", got)
	}
	waitEvent(t, ns, "orders", corev1.EventTypeWarning, "SecretChanged")
	waitEvent(t, ns, "orders", corev1.EventTypeNormal, "RecreateKey")
}
