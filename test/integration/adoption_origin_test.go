package integration

import (
	"testing"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// TestAdoptedKeyIsNotTakenOver (issue 20, 2): someone holding a portal
// key's values writes an object for it, with no deletionPolicy. The 409
// adopts the key (status.keyOrigin Adopted), a new secret in their Secret
// re-creates nothing (AdoptedKeyProtected), and deleting the object
// leaves the key in Apigee, working, with its secret.
func TestAdoptedKeyIsNotTakenOver(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d)
		a.preImport(t, appName, "portalKey", "portalSecret")
		create(t, credentialsSecret(ns, "creds", "portalKey", "portalSecret"))
		create(t, newKey(ns, "orders", "creds"))
		if got := waitConverged(t, ns, "orders"); got.Status.KeyOrigin != apigeev1alpha1.KeyOriginAdopted {
			t.Fatalf("keyOrigin = %q, want Adopted", got.Status.KeyOrigin)
		}

		a.emu.ResetCalls()
		setSecretField(t, ns, "creds", "consumerSecret", "takenOverSecret")
		waitReason(t, ns, "orders", apigeev1alpha1.ReasonAdoptedKeyProtected)
		deleteKey(t, ns, "orders")
		waitGone(t, ns, "orders")
		if n := a.emu.Calls(emulator.OpDeleteKey) + a.emu.Calls(emulator.OpCreateKey); n != 0 {
			t.Errorf("an adopted key was deleted or re-created (%d calls): %v", n, withoutProbes(a.emu.CallLog()))
		}
		if c := a.key(t, appName, "portalKey"); c == nil || c.ConsumerSecret != "portalSecret" {
			t.Errorf("the portal key's holder lost it: %+v", c)
		}
	})
}

// TestAdoptedKeyDeletedWhenAsked: with an explicit deletionPolicy Delete
// the adopted key is re-created with the new secret (then the operator's
// own: keyOrigin Created) and deleted with the object.
func TestAdoptedKeyDeletedWhenAsked(t *testing.T) {
	a, ns := setup(t, emulator.X)
	a.preImport(t, appName, "askedKey", "askedSecret")
	create(t, credentialsSecret(ns, "creds", "askedKey", "askedSecret"))
	k := newKey(ns, "orders", "creds")
	k.Spec.DeletionPolicy = apigeev1alpha1.DeletionPolicyDelete
	create(t, k)
	waitConverged(t, ns, "orders")

	setSecretField(t, ns, "creds", "consumerSecret", "replacedSecret")
	a.waitKey(t, "re-created with the new secret", "askedKey", func(c *apigee.Credential) bool { return c.ConsumerSecret == "replacedSecret" })
	eventually(t, "keyOrigin Created", func() (bool, string) {
		o := get(t, ns, "orders").Status.KeyOrigin
		return o == apigeev1alpha1.KeyOriginCreated, string(o)
	})
	deleteKey(t, ns, "orders")
	waitGone(t, ns, "orders")
	if a.key(t, appName, "askedKey") != nil {
		t.Error("deletionPolicy Delete should delete the key with the object")
	}
}

// TestCreatedKeyDeletedByDefault: a key the operator imported, with no
// deletionPolicy, is deleted with its object, as before.
func TestCreatedKeyDeletedByDefault(t *testing.T) {
	a, ns := setup(t, emulator.Edge)
	create(t, credentialsSecret(ns, "creds", "ownKey", "ownSecret"))
	create(t, newKey(ns, "orders", "creds"))
	if got := waitConverged(t, ns, "orders"); got.Status.KeyOrigin != apigeev1alpha1.KeyOriginCreated || got.Spec.DeletionPolicy != "" {
		t.Fatalf("keyOrigin %q, deletionPolicy %q: want Created and unset", got.Status.KeyOrigin, got.Spec.DeletionPolicy)
	}
	deleteKey(t, ns, "orders")
	waitGone(t, ns, "orders")
	if a.key(t, appName, "ownKey") != nil {
		t.Error("a key the operator created should be deleted with its object")
	}
}
