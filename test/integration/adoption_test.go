package integration

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// TestAdoption: a key already on the app with the Secret's secret is
// adopted: one optimistic create answered 409, no delete, the key keeps its
// issue time and gets the spec's products. The Events say so: Adopted and
// the products added, no import.
func TestAdoption(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d)
		before := a.preImport(t, appName, "adoptKey", "adoptSecret")
		create(t, credentialsSecret(ns, "creds", "adoptKey", "adoptSecret"))
		a.emu.ResetCalls()
		create(t, newKey(ns, "orders", "creds"))

		k := waitConverged(t, ns, "orders")
		var creates []emulator.Call
		for _, c := range a.emu.CallLog() {
			if c.Operation == emulator.OpCreateKey {
				creates = append(creates, c)
			}
		}
		if len(creates) != 1 || creates[0].Status != 409 {
			t.Errorf("create attempts = %+v, want exactly one answered 409", creates)
		}
		if n := a.emu.Calls(emulator.OpDeleteKey); n != 0 {
			t.Errorf("adoption deleted %d keys", n)
		}
		got := a.key(t, appName, "adoptKey")
		if !got.IssuedAt.Equal(before.IssuedAt) {
			t.Errorf("issuedAt %s, want the original %s: the key was re-created", got.IssuedAt, before.IssuedAt)
		}
		if !convergedKey(got) {
			t.Errorf("adopted key not converged: %s %s", got.Status, products(got))
		}
		if k.Status.ConsumerKeyFingerprint != apigee.Fingerprint("adoptKey") {
			t.Errorf("status fingerprint = %s", k.Status.ConsumerKeyFingerprint)
		}
		waitEvent(t, ns, "orders", corev1.EventTypeNormal, "Adopted")
		waitEvent(t, ns, "orders", corev1.EventTypeNormal, "AddProducts")
		if n := eventCounts(t, ns, "orders")["ImportKey"]; n != 0 {
			t.Errorf("%d ImportKey Events for a key that was adopted, not imported", n)
		}
	})
}
