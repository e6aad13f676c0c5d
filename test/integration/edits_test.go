package integration

import (
	"context"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	toolscache "k8s.io/client-go/tools/cache"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// readyDrops counts, from the manager's informer, how often the object's
// Ready condition goes from True to anything else.
func readyDrops(t *testing.T, ns, name string) func() int {
	t.Helper()
	inf, err := cached.GetInformer(context.Background(), &apigeev1alpha1.DeveloperAppKey{})
	if err != nil {
		t.Fatal(err)
	}
	ready := func(o any) bool {
		k, ok := o.(*apigeev1alpha1.DeveloperAppKey)
		return ok && k.Namespace == ns && k.Name == name && meta.IsStatusConditionTrue(k.Status.Conditions, apigeev1alpha1.ConditionReady)
	}
	mine := func(o any) bool {
		k, ok := o.(*apigeev1alpha1.DeveloperAppKey)
		return ok && k.Namespace == ns && k.Name == name
	}
	var mu sync.Mutex
	n := 0
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{UpdateFunc: func(old, o any) {
		if mine(o) && ready(old) && !ready(o) {
			mu.Lock()
			n++
			mu.Unlock()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inf.RemoveEventHandler(reg) })
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
