package integration

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// normalEvents counts the object's Normal events by reason once count
// of them have arrived.
func normalEvents(t *testing.T, ns, name string, count int) map[string]int {
	t.Helper()
	var got map[string]int
	eventually(t, "Normal events for "+name, func() (bool, string) {
		got = map[string]int{}
		n := 0
		for _, e := range keyEvents(t, ns, name) {
			if e.Type == corev1.EventTypeNormal {
				got[e.Reason]++
				n++
			}
		}
		return n >= count, "have " + fmtCounts(got)
	})
	return got
}

func fmtCounts(m map[string]int) string {
	s := ""
	for _, k := range sortedKeys(m) {
		s += k + "=" + itoa(m[k]) + " "
	}
	return s
}

// TestOneEventPerChange: every change made in Apigee is in one Normal
// Event. An import and the calls that complete the new key (products, an
// approval) are one ImportKey Event naming them all; a later edit is an
// Event of its own.
func TestOneEventPerChange(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d)
		create(t, credentialsSecret(ns, "creds", "eventKey", "eventSecret"))
		create(t, newKey(ns, "orders", "creds"))
		waitConverged(t, ns, "orders")
		want := map[string]int{"ImportKey": 1}
		if got := normalEvents(t, ns, "orders", 1); !maps.Equal(got, want) {
			t.Errorf("events after import = %s, want %s", fmtCounts(got), fmtCounts(want))
		}
		if n := a.changes(); n != 3 {
			t.Errorf("%d changes in Apigee for an import, its products and an approval, want 3: %v", n, a.emu.CallLog())
		}
		imported := waitEvent(t, ns, "orders", corev1.EventTypeNormal, "ImportKey")
		if note := "Import the key; add products orders-read, orders-admin; approve product orders-admin"; imported.Note != note {
			t.Errorf("ImportKey note %q, want %q", imported.Note, note)
		}

		update(t, ns, "orders", func(k *apigeev1alpha1.DeveloperAppKey) { k.Spec.Status = apigeev1alpha1.Revoked })
		waitConverged(t, ns, "orders")
		want["SetKeyStatus"] = 1
		if got := normalEvents(t, ns, "orders", 2); !maps.Equal(got, want) {
			t.Errorf("events after revoking = %s, want %s", fmtCounts(got), fmtCounts(want))
		}
		if n := a.changes(); n != 4 {
			t.Errorf("%d changes in Apigee after revoking, want 4: %v", n, a.emu.CallLog())
		}
	})
}

// TestLongImportNoteIsKept: an import's Event names every product; with
// many long product names the note is cut to the API server's limit
// rather than the Event being refused.
func TestLongImportNoteIsKept(t *testing.T) {
	a, ns := setup(t, emulator.X)
	k := newKey(ns, "orders", "creds")
	k.Spec.APIProducts = nil
	for i := range 30 {
		name := fmt.Sprintf("a-product-with-a-rather-long-name-number-%02d", i)
		a.emu.AddProduct(name, "auto")
		k.Spec.APIProducts = append(k.Spec.APIProducts, apigeev1alpha1.APIProductRef{Name: name})
	}
	create(t, credentialsSecret(ns, "creds", "longNoteKey", "longNoteSecret"))
	create(t, k)
	waitConverged(t, ns, "orders")
	e := waitEvent(t, ns, "orders", corev1.EventTypeNormal, "ImportKey")
	if len(e.Note) > 1024 || !strings.HasPrefix(e.Note, "Import the key; add products a-product-with") || !strings.HasSuffix(e.Note, " …") {
		t.Errorf("ImportKey note of %d bytes: %q; want it cut to 1024 with a mark", len(e.Note), e.Note)
	}
}

// TestMetrics: Apigee requests are counted by organization, operation and
// code, matching what the emulator received; keys are counted by Ready
// reason and forgotten when deleted.
func TestMetrics(t *testing.T) {
	a, ns := setup(t, emulator.X)
	org := a.emu.Organization()
	create(t, credentialsSecret(ns, "creds", "metricKey", "metricSecret"))
	create(t, newKey(ns, "orders", "creds"))
	waitConverged(t, ns, "orders")

	requests := map[string]string{"ImportKey": emulator.OpCreateKey, "AddProducts": emulator.OpUpdateKey,
		"SetProductStatus": emulator.OpSetKeyProductStatus, "Probe": emulator.OpGetOrganization}
	for op, emuOp := range requests {
		got := metricSum(t, "apigee_key_operator_apigee_requests_total", map[string]string{"organization": org, "operation": op})
		if want := float64(a.emu.Calls(emuOp)); got != want || want == 0 {
			t.Errorf("requests_total{operation=%s} = %v, emulator saw %v", op, got, want)
		}
	}
	if got := metricSum(t, "apigee_key_operator_apigee_requests_total", map[string]string{"organization": org, "operation": "ImportKey", "code": "200"}) +
		metricSum(t, "apigee_key_operator_apigee_requests_total", map[string]string{"organization": org, "operation": "ImportKey", "code": "201"}); got != 1 {
		t.Errorf("successful ImportKey requests = %v, want 1", got)
	}
	if got := metricSum(t, "apigee_key_operator_developerappkeys", map[string]string{"reason": apigeev1alpha1.ReasonConverged}); got < 1 {
		t.Errorf("developerappkeys{reason=Converged} = %v", got)
	}

	gauge := func() float64 {
		return metricSum(t, "apigee_key_operator_developerappkeys", map[string]string{"reason": apigeev1alpha1.ReasonSecretNotFound})
	}
	before := gauge()
	create(t, newKey(ns, "unset", "no-such-secret"))
	waitReason(t, ns, "unset", apigeev1alpha1.ReasonSecretNotFound)
	eventually(t, "SecretNotFound counted", func() (bool, string) { return gauge() == before+1, "" })
	deleteKey(t, ns, "unset")
	waitGone(t, ns, "unset")
	eventually(t, "deleted key forgotten", func() (bool, string) { return gauge() == before, "" })
}
