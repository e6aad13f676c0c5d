package integration

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

const convergedProducts = "orders-admin=approved,orders-read=approved"

// convergedKey reports whether a key is approved with both products approved.
func convergedKey(c *apigee.Credential) bool {
	return c.Status == apigee.StatusApproved && products(c) == convergedProducts
}

// TestDriftCorrectedAtResync: changes made in Apigee behind the operator's
// back (product removed, product added, key revoked, key deleted) are
// undone at the next resync (the per-object resyncInterval).
func TestDriftCorrectedAtResync(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d)
		create(t, credentialsSecret(ns, "creds", "driftKey", "driftSecret"))
		k := newKey(ns, "orders", "creds")
		k.Spec.ResyncInterval = &metav1.Duration{Duration: 500 * time.Millisecond}
		create(t, k)
		waitConverged(t, ns, "orders")
		ctx, raw := context.Background(), a.raw(t)
		ref := apigee.KeyRef{Developer: developer, App: appName, ConsumerKey: "driftKey"}

		if err := raw.RemoveProduct(ctx, ref, "orders-admin"); err != nil {
			t.Fatal(err)
		}
		a.waitKey(t, "removed product restored", "driftKey", convergedKey)

		a.emu.ResetCalls()
		if _, err := raw.AddProducts(ctx, ref, []string{"inventory"}, nil); err != nil {
			t.Fatal(err)
		}
		a.waitKey(t, "added product removed", "driftKey", convergedKey)
		for _, c := range a.emu.CallLog() {
			if c.Operation == emulator.OpDeleteKeyProduct && !containsPath(c.Path, "inventory") {
				t.Errorf("correcting drift removed a product the spec lists: %s", c.Path)
			}
		}

		if err := raw.SetKeyStatus(ctx, ref, apigee.ActionRevoke); err != nil {
			t.Fatal(err)
		}
		a.waitKey(t, "revoked key approved again", "driftKey", convergedKey)

		if err := raw.DeleteKey(ctx, ref); err != nil {
			t.Fatal(err)
		}
		got := a.waitKey(t, "deleted key imported again", "driftKey", convergedKey)
		if got.ConsumerSecret != "driftSecret" {
			t.Errorf("re-imported key has another secret")
		}
	})
}

// TestDriftCorrectedWhenSecretOrObjectChanges: with a resync far away, a
// change to the Secret's metadata (the metadata-only watch) or to the
// object triggers the correction.
func TestDriftCorrectedWhenSecretOrObjectChanges(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d) // the manager resyncs hourly
		create(t, credentialsSecret(ns, "creds", "watchKey", "watchSecret"))
		create(t, newKey(ns, "orders", "creds"))
		waitConverged(t, ns, "orders")
		ctx, raw := context.Background(), a.raw(t)
		ref := apigee.KeyRef{Developer: developer, App: appName, ConsumerKey: "watchKey"}

		if err := raw.RemoveProduct(ctx, ref, "orders-read"); err != nil {
			t.Fatal(err)
		}
		touchSecret(t, ns, "creds")
		a.waitKey(t, "drift corrected after the Secret changed", "watchKey", convergedKey)

		if err := raw.SetKeyStatus(ctx, ref, apigee.ActionRevoke); err != nil {
			t.Fatal(err)
		}
		update(t, ns, "orders", func(k *apigeev1alpha1.DeveloperAppKey) {
			k.Annotations = map[string]string{"example.com/nudge": "1"}
		})
		a.waitKey(t, "drift corrected after the object changed", "watchKey", convergedKey)
	})
}
