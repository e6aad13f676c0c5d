package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// Issue 11: the operator against an emulator as strict as the record.

// quietWindow is how long a terminal failure is watched for retries.
const quietWindow = 2 * time.Second

// TestUndefinedScopeIsInvalidRequest (gap 1): a scope no product of the
// key defines is refused by Apigee (Edge 400 InvalidScopes, X 400); the
// operator reports InvalidRequest naming the scope and does not retry.
func TestUndefinedScopeIsInvalidRequest(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d)
		create(t, credentialsSecret(ns, "creds", "scopeKey", "scopeSecret"))
		k := newKey(ns, "orders", "creds")
		k.Spec.Scopes = []string{"read", "no-such-scope"}
		create(t, k)

		got := waitReason(t, ns, "orders", apigeev1alpha1.ReasonInvalidRequest)
		if msg := readyCondition(got).Message; !strings.Contains(msg, "no-such-scope") || !strings.Contains(msg, "spec.scopes") {
			t.Errorf("the condition does not name the scope and what to fix: %q", msg)
		}
		if calls := withoutProbes(a.callsDuring(quietWindow)); len(calls) != 0 {
			t.Errorf("a refused scope was retried: %v", calls)
		}
		if c := a.key(t, appName, "scopeKey"); c == nil || len(c.Scopes) != 0 {
			t.Errorf("the key is missing or took undefined scopes")
		}

		update(t, ns, "orders", func(k *apigeev1alpha1.DeveloperAppKey) { k.Spec.Scopes = []string{"read", "write"} })
		waitConverged(t, ns, "orders")
	})
}

// TestMixedCaseDeveloperEmail (gap 2; issue 24): X stores emails in lower
// case and the emulator finds a mixed-case one in an X path nowhere, so
// the X client sends emails in lower case. Edge keeps emails as written,
// so the Edge client sends the spec's spelling unchanged (the emulator's
// Edge finds it in any case by default). A mixed-case spec.developer
// converges in both dialects.
func TestMixedCaseDeveloperEmail(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d)
		create(t, credentialsSecret(ns, "creds", "caseKey", "caseSecret"))
		k := newKey(ns, "orders", "creds")
		k.Spec.Developer = "Partner@Example.COM"
		create(t, k)
		waitConverged(t, ns, "orders")

		for _, c := range a.emu.CallLog() {
			if !strings.Contains(c.Path, "/developers/") {
				continue
			}
			capitals := strings.Contains(c.Path, "Partner@Example.COM")
			if capitals != (d == emulator.Edge) {
				t.Errorf("%s: a call named the developer as %s: %s %s", d, map[bool]string{true: "written", false: "lower case"}[capitals], c.Method, c.Path)
			}
		}
		if c := a.key(t, appName, "caseKey"); c == nil || !convergedKey(c) {
			t.Errorf("the key did not converge")
		}
	})
}

// TestLaggingReadsNeverConflict (gap 6): reads lag a key import for a
// while, so the operator's next read does not show the key it imported.
// It looks again (a fresh read, an import answered 409, re-reads with
// backoff) and converges: no KeyConflict, no delete, one key created.
func TestLaggingReadsNeverConflict(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d, func(o *emulator.Options) { o.ReadLag = 2 * time.Second })
		create(t, credentialsSecret(ns, "creds", "lagKey", "lagSecret"))
		create(t, newKey(ns, "orders", "creds"))
		waitConverged(t, ns, "orders")

		// A change now makes the operator read the app inside the lag.
		update(t, ns, "orders", func(k *apigeev1alpha1.DeveloperAppKey) {
			k.Spec.APIProducts = append(k.Spec.APIProducts, apigeev1alpha1.APIProductRef{Name: "inventory"})
		})
		a.waitKey(t, "inventory added", "lagKey", func(c *apigee.Credential) bool {
			return strings.Contains(products(c), "inventory=approved")
		})
		waitConverged(t, ns, "orders")

		calls := a.emu.CallLog()
		if n := countOp(calls, emulator.OpDeleteKey); n != 0 {
			t.Errorf("a lagging read led to %d deletes", n)
		}
		if n := countOp(calls, emulator.OpCreateKey); n != 1 {
			t.Errorf("imports attempted = %d, want 1: a lagging read led to a second import", n)
		}
		if n := eventCounts(t, ns, "orders")[apigeev1alpha1.ReasonKeyConflict]; n != 0 {
			t.Errorf("a lagging read was reported as KeyConflict %d times", n)
		}
	})
}

// TestLaggingProductChangeConverges (gap 6): reads lag a product removal,
// so the next reconcile sees the product still on the key and removes it
// again; Apigee answers "not associated", which means the removal is done,
// not a failure. Nothing is deleted or imported again.
func TestLaggingProductChangeConverges(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d, func(o *emulator.Options) { o.ReadLag = 2 * time.Second })
		create(t, credentialsSecret(ns, "creds", "lagProdKey", "lagProdSecret"))
		create(t, newKey(ns, "orders", "creds"))
		waitConverged(t, ns, "orders")
		eventually(t, "the import's lag over", func() (bool, string) {
			_, err := a.raw(t).GetKey(context.Background(), apigee.KeyRef{Developer: developer, App: appName, ConsumerKey: "lagProdKey"})
			return err == nil, fmt.Sprint(err)
		})

		update(t, ns, "orders", func(k *apigeev1alpha1.DeveloperAppKey) {
			k.Spec.APIProducts = k.Spec.APIProducts[:1]
		})
		a.waitKey(t, "orders-admin removed", "lagProdKey", func(c *apigee.Credential) bool { return products(c) == "orders-read=approved" })
		update(t, ns, "orders", func(k *apigeev1alpha1.DeveloperAppKey) {
			k.Annotations = map[string]string{"example.com/touch": "1"}
		})
		// The touch's read lags: the removal is sent again and met by "not
		// associated", which means it is done: no failure is reported.
		eventually(t, "the lagging removal answered", func() (bool, string) {
			return countOp(a.emu.CallLog(), emulator.OpDeleteKeyProduct) >= 2, "one removal so far"
		})
		waitSynced(t, ns, "orders", metav1.ConditionTrue, "")
		waitConverged(t, ns, "orders")
		if n := eventCounts(t, ns, "orders")[apigeev1alpha1.ReasonInvalidRequest]; n != 0 {
			t.Errorf("an already removed product was reported as InvalidRequest %d times", n)
		}
		calls := a.emu.CallLog()
		if countOp(calls, emulator.OpDeleteKey) != 0 || successes(calls, emulator.OpCreateKey) != 1 {
			t.Errorf("a lagging read led to a delete or a second key: %v", calls)
		}
		if got := a.key(t, appName, "lagProdKey"); products(got) != "orders-read=approved" {
			t.Errorf("products = %s", products(got))
		}
	})
}

// TestWriteAnswersWithoutSecretCostOneRead (gap 7): write answers without
// the secret make the operator confirm the key with one fresh read, no
// more, and never re-create it.
func TestWriteAnswersWithoutSecretCostOneRead(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		reads := func(without bool) int {
			a, ns := setup(t, d, func(o *emulator.Options) { o.WriteAnswersWithoutSecret = without })
			create(t, credentialsSecret(ns, "creds", "readsKey", "readsSecret"))
			create(t, newKey(ns, "orders", "creds"))
			waitConverged(t, ns, "orders")
			calls := a.emu.CallLog()
			if countOp(calls, emulator.OpDeleteKey) != 0 || countOp(calls, emulator.OpCreateKey) != 1 {
				t.Errorf("write answers without the secret: %v", calls)
			}
			return countOp(calls, emulator.OpGetApp) + countOp(calls, emulator.OpGetKey)
		}
		with, without := reads(false), reads(true)
		if without > with+1 {
			t.Errorf("reads without the secret in write answers = %d, with = %d: more than one extra read", without, with)
		}
	})
}

// TestCredentialLimitIsTerminal (gap 8): an app at Apigee's credential
// limit refuses the import; the operator says so once and does not retry.
func TestCredentialLimitIsTerminal(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d, func(o *emulator.Options) { o.MaxCredentialsPerApp = 2 })
		a.preImport(t, appName, "fillerKey", "fillerSecret") // the generated key and this one: full
		create(t, credentialsSecret(ns, "creds", "limitKey", "limitSecret"))
		create(t, newKey(ns, "orders", "creds"))

		got := waitReason(t, ns, "orders", apigeev1alpha1.ReasonInvalidRequest)
		if msg := readyCondition(got).Message; !strings.Contains(msg, "as many keys as Apigee allows") {
			t.Errorf("the condition does not say the app is full: %q", msg)
		}
		if calls := withoutProbes(a.callsDuring(quietWindow)); len(calls) != 0 {
			t.Errorf("an import refused for the limit was retried: %v", calls)
		}
		if a.keyCount(t, appName) != 2 {
			t.Errorf("the app's keys changed")
		}
		waitEvent(t, ns, "orders", corev1.EventTypeWarning, apigeev1alpha1.ReasonInvalidRequest)
	})
}

// waitSynced waits for the Synced condition's status, with a message
// starting with prefix.
func waitSynced(t *testing.T, ns, name string, status metav1.ConditionStatus, prefix string) {
	t.Helper()
	eventually(t, name+" Synced "+string(status), func() (bool, string) {
		c := meta.FindStatusCondition(get(t, ns, name).Status.Conditions, apigeev1alpha1.ConditionSynced)
		if c == nil {
			return false, "no Synced condition"
		}
		return c.Status == status && strings.HasPrefix(c.Message, prefix), c.Reason + ": " + c.Message
	})
}

// successes counts the calls of one operation answered with 2xx.
func successes(calls []emulator.Call, op string) int {
	n := 0
	for _, c := range calls {
		if c.Operation == op && c.Status/100 == 2 {
			n++
		}
	}
	return n
}
