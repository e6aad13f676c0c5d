package integration

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// TestTenantRateLimitSlowsOnlyItself: namespace A's connection to an
// organization says requestsPerMinute: 1 (burst 1) and its probe spends
// that one call. Namespace B's key on the same organization, endpoint and
// emulator then converges with several calls at once: A's setting did not
// reach the organization's shared budget. (On a shared limiter at one call
// a minute, B's second call could not come within the 30 s wait.)
func TestTenantRateLimitSlowsOnlyItself(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, nsB := setup(t, d)
		nsA := namespace(t)
		create(t, tokenSecret(nsA, "apigee-token", token))
		slow := connectionTo(nsA, "slow", a, "apigee-token")
		slow.Spec.RateLimit = &apigeev1alpha1.RateLimit{RequestsPerMinute: 1, Burst: 1}
		create(t, slow)
		waitConnectionReason(t, nsA, "slow", apigeev1alpha1.ReasonAuthenticated) // A's one call

		a.emu.ResetCalls()
		create(t, credentialsSecret(nsB, "creds", "neighbourKey1", "neighbourSecret1"))
		create(t, newKey(nsB, "k", "creds"))
		k := waitConverged(t, nsB, "k")
		if k.Status.KeyStatus != "approved" {
			t.Errorf("key status %q", k.Status.KeyStatus)
		}
		if calls := withoutProbes(a.emu.CallLog()); len(calls) < 2 {
			t.Errorf("B's key converged with %d calls; the test needs at least 2 to show B was not held", len(calls))
		}
	})
}

// TestTenantRateLimitHoldsNoWorker: namespace A's keys use a connection
// capped at one call a minute, which its probe has spent. A's keys come
// back RateLimited at once, saying it is the connection's own limit,
// instead of waiting for a token while holding a worker; B's key, applied
// after them on the same organization, converges meanwhile.
func TestTenantRateLimitHoldsNoWorker(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, nsB := setup(t, d)
		nsA := namespace(t)
		t.Cleanup(func() { releaseKeys(nsA) })
		create(t, tokenSecret(nsA, "apigee-token", token))
		slow := connectionTo(nsA, "slow", a, "apigee-token")
		slow.Spec.RateLimit = &apigeev1alpha1.RateLimit{RequestsPerMinute: 1, Burst: 1}
		create(t, slow)
		waitConnectionReason(t, nsA, "slow", apigeev1alpha1.ReasonAuthenticated)
		for _, name := range []string{"a1", "a2", "a3"} {
			create(t, credentialsSecret(nsA, name, "slowKey-"+name, "slowSecret"))
			k := newKey(nsA, name, name)
			k.Spec.ConnectionRef.Name = "slow"
			create(t, k)
		}
		// Each key, once its turn with the organization comes (the gate lets
		// two of a namespace's organization's keys in at once here), finds
		// the connection's own limit spent and says so.
		for _, name := range []string{"a1", "a2", "a3"} {
			eventually(t, name+" RateLimited by its connection's own limit", func() (bool, string) {
				c := readyCondition(get(t, nsA, name))
				return c.Reason == apigeev1alpha1.ReasonRateLimited && containsText(c.Message, "own rateLimit"), c.Reason + ": " + c.Message
			})
		}

		create(t, credentialsSecret(nsB, "creds", "busyNeighbourKey", "busyNeighbourSecret"))
		create(t, newKey(nsB, "k", "creds"))
		waitConverged(t, nsB, "k")
		if a.key(t, appName, "slowKey-a1") != nil {
			t.Errorf("A's key was imported past its connection's own limit")
		}
	})
}

// TestRateLimitedProbeKeepsConnectionReady: a connection capped at one call
// a minute authenticated with its one call; its Secret changes (a watch
// event that re-probes it) and the re-probe finds the budget spent. The
// connection stays Ready (Authenticated): being out of budget proves
// nothing about its credentials.
func TestRateLimitedProbeKeepsConnectionReady(t *testing.T) {
	a, _ := setup(t, emulator.X)
	ns := namespace(t)
	create(t, tokenSecret(ns, "apigee-token", token))
	slow := connectionTo(ns, "slow", a, "apigee-token")
	slow.Spec.RateLimit = &apigeev1alpha1.RateLimit{RequestsPerMinute: 1, Burst: 1}
	create(t, slow)
	waitConnectionReason(t, ns, "slow", apigeev1alpha1.ReasonAuthenticated)
	probes := a.emu.Calls(emulator.OpGetOrganization)

	reconciles := metricSum(t, "controller_runtime_reconcile_total", map[string]string{"controller": "apigeeconnection"})
	touchSecret(t, ns, "apigee-token")
	eventually(t, "the connection re-probed", func() (bool, string) {
		n := metricSum(t, "controller_runtime_reconcile_total", map[string]string{"controller": "apigeeconnection"})
		return n > reconciles, "no reconcile yet"
	})
	if got := waitConnectionReason(t, ns, "slow", apigeev1alpha1.ReasonAuthenticated); got.Status != metav1.ConditionTrue {
		t.Errorf("a rate-limited re-probe turned the connection %s", got.Reason)
	}
	if n := a.emu.Calls(emulator.OpGetOrganization); n != probes {
		t.Errorf("the re-probe went to Apigee (%d probes, want %d): the budget should have held it", n, probes)
	}
}
