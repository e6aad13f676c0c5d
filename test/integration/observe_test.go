package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

func observing(ns, name, secretName string) *apigeev1alpha1.DeveloperAppKey {
	k := newKey(ns, name, secretName)
	k.Spec.ManagementPolicy = apigeev1alpha1.ManagementPolicyObserveOnly
	k.Spec.ResyncInterval = &metav1.Duration{Duration: 300 * time.Millisecond}
	return k
}

// waitDrifted waits for Drifted and checks the message lists a difference.
func waitDrifted(t *testing.T, ns, name, difference string) {
	t.Helper()
	k := waitReason(t, ns, name, apigeev1alpha1.ReasonDrifted)
	if c := readyCondition(k); c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, difference) {
		t.Errorf("Ready %s %q, want False listing %q", c.Status, c.Message, difference)
	}
}

// TestObserveOnlyMakesNoWrites: ObserveOnly reports what differs in the
// Ready condition and never writes, through several resyncs.
func TestObserveOnlyMakesNoWrites(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d)
		a.preImport(t, appName, "seenKey", "seenSecret")
		ref := apigee.KeyRef{Developer: developer, App: appName, ConsumerKey: "seenKey"}
		if _, err := a.raw(t).AddProducts(context.Background(), ref, []string{"orders-read", "inventory"}, nil); err != nil {
			t.Fatal(err)
		}
		create(t, credentialsSecret(ns, "seen", "seenKey", "seenSecret"))
		create(t, credentialsSecret(ns, "absent", "absentKey", "absentSecret"))
		keysBefore := a.keyCount(t, appName)
		a.emu.ResetCalls()

		create(t, observing(ns, "existing", "seen"))
		create(t, observing(ns, "missing", "absent"))
		waitDrifted(t, ns, "existing", "add products orders-admin")
		waitDrifted(t, ns, "existing", "remove product inventory")
		waitDrifted(t, ns, "missing", "import the key")
		time.Sleep(time.Second) // a few resyncs
		if n := a.writes(); n != 0 {
			t.Errorf("ObserveOnly sent %d writes: %v", n, a.emu.CallLog())
		}
		if n := a.keyCount(t, appName); n != keysBefore {
			t.Errorf("key count %d, was %d", n, keysBefore)
		}
	})
}

// TestPausedStopsReconciling: the paused annotation stops every Apigee
// call, even for a spec change; removing it resumes.
func TestPausedStopsReconciling(t *testing.T) {
	a, ns := setup(t, emulator.X)
	create(t, credentialsSecret(ns, "creds", "pauseKey", "pauseSecret"))
	k := newKey(ns, "orders", "creds")
	k.Spec.ResyncInterval = &metav1.Duration{Duration: 300 * time.Millisecond}
	create(t, k)
	waitConverged(t, ns, "orders")

	update(t, ns, "orders", func(k *apigeev1alpha1.DeveloperAppKey) {
		k.Annotations = map[string]string{apigeev1alpha1.PausedAnnotation: "true"}
	})
	eventually(t, "resyncs stop", func() (bool, string) {
		return len(a.callsDuring(700*time.Millisecond)) == 0, "still calling"
	})
	update(t, ns, "orders", func(k *apigeev1alpha1.DeveloperAppKey) {
		k.Spec.APIProducts = k.Spec.APIProducts[:1]
	})
	if calls := a.callsDuring(1500 * time.Millisecond); len(calls) != 0 {
		t.Errorf("paused key called Apigee: %v", calls)
	}
	if got := a.key(t, appName, "pauseKey"); products(got) != convergedProducts {
		t.Errorf("paused key changed in Apigee: %s", products(got))
	}
	if k := get(t, ns, "orders"); k.Status.ObservedGeneration == k.Generation {
		t.Errorf("a paused object's status caught up with its spec")
	}

	update(t, ns, "orders", func(k *apigeev1alpha1.DeveloperAppKey) {
		delete(k.Annotations, apigeev1alpha1.PausedAnnotation)
	})
	waitConverged(t, ns, "orders")
	if got := a.key(t, appName, "pauseKey"); products(got) != "orders-read=approved" {
		t.Errorf("after resuming, products = %s", products(got))
	}
}
