package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv"
)

// createKeys makes n keys named prefix-i on orders-app through connRef.
func createKeys(t *testing.T, ns, prefix string, n int, connRef apigeev1alpha1.ConnectionReference) []string {
	t.Helper()
	var names []string
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		create(t, credentialsSecret(ns, name, fmt.Sprintf("%s%sKey%d", prefix, ns, i), fmt.Sprintf("%sSecret%d", prefix, i)))
		k := newKey(ns, name, name)
		k.Spec.ConnectionRef = connRef
		create(t, k)
		names = append(names, name)
	}
	return names
}

// readyCount is how many of the keys are Ready.
func readyCount(t *testing.T, ns string, names []string) int {
	t.Helper()
	n := 0
	for _, name := range names {
		if meta.IsStatusConditionTrue(get(t, ns, name).Status.Conditions, apigeev1alpha1.ConditionReady) {
			n++
		}
	}
	return n
}

// maxInWindow is the most calls any window of length w holds.
func maxInWindow(calls []emulator.Call, w time.Duration) int {
	at := make([]time.Time, len(calls))
	for i, c := range calls {
		at[i] = c.At
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	most, j := 0, 0
	for i := range at {
		for at[i].Sub(at[j]) >= w {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}

// TestThrottledOrganizationHoldsNoOneElse: organization A's budget is 120
// calls a minute (an administrator's ClusterApigeeConnection) and it has a
// backlog of keys to import. Organization B's new keys, applied after A's,
// are Ready within 10 seconds: no worker waits on A's budget while B's
// keys are queued. A's calls stay within its budget throughout, and A
// keeps making progress.
func TestThrottledOrganizationHoldsNoOneElse(t *testing.T) {
	a, nsA := setup(t, emulator.X)
	budget := &apigeev1alpha1.ClusterApigeeConnection{ObjectMeta: metav1.ObjectMeta{Name: "throttled-" + nsA},
		Spec: apigeev1alpha1.ClusterApigeeConnectionSpec{
			AllowedNamespaces:    apigeev1alpha1.AllowedNamespaces{Names: []string{nsA}},
			ApigeeConnectionSpec: connectionSpec(a, a.srv.URL, apigeev1alpha1.SecretReference{Namespace: nsA, Name: "apigee-token"})}}
	budget.Spec.RateLimit = &apigeev1alpha1.RateLimit{RequestsPerMinute: 120, Burst: 4}
	create(t, budget)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), budget) })
	eventually(t, "cluster connection Ready", func() (bool, string) {
		got := &apigeev1alpha1.ClusterApigeeConnection{}
		if err := k8s.Get(context.Background(), types.NamespacedName{Name: budget.Name}, got); err != nil {
			return false, err.Error()
		}
		return meta.IsStatusConditionTrue(got.Status.Conditions, apigeev1alpha1.ConditionReady), "not Ready"
	})
	a.emu.ResetCalls()
	backlog := createKeys(t, nsA, "a", 40, apigeev1alpha1.ConnectionReference{Kind: "ClusterApigeeConnection", Name: budget.Name})
	eventually(t, "A's backlog under way", func() (bool, string) {
		n := len(withoutProbes(a.emu.CallLog()))
		return n >= 8, fmt.Sprintf("%d calls to A", n)
	})

	b, nsB := setup(t, emulator.X)
	start := time.Now()
	keysB := createKeys(t, nsB, "b", 10, apigeev1alpha1.ConnectionReference{Name: "prod"})
	testenv.Eventually(t, 10*time.Second, "B's keys Ready within 10 s", func() (bool, string) {
		n := readyCount(t, nsB, keysB)
		return n == len(keysB), fmt.Sprintf("%d of %d Ready", n, len(keysB))
	})
	t.Logf("B's %d keys Ready in %s while A had %d keys waiting", len(keysB), time.Since(start).Round(time.Millisecond),
		len(backlog)-readyCount(t, nsA, backlog))
	if got := len(b.emu.CallLog()); got == 0 {
		t.Fatal("B's keys converged without calls")
	}

	eventually(t, "A keeps making progress", func() (bool, string) {
		n := readyCount(t, nsA, backlog)
		return n >= 4, fmt.Sprintf("%d of A's keys Ready", n)
	})
	calls := a.emu.CallLog()
	// 120 a minute is 2 a second, after a burst of 4 (one more for calls
	// stamped at the edge of a window).
	for _, w := range []time.Duration{time.Second, 5 * time.Second, 10 * time.Second} {
		allowed := 4 + int(2*w.Seconds()) + 1
		if got := maxInWindow(calls, w); got > allowed {
			t.Errorf("A got %d calls within %s; its budget allows %d", got, w, allowed)
		}
	}
	if n := readyCount(t, nsA, backlog); n == len(backlog) {
		t.Errorf("A's whole backlog converged: the test did not hold A throttled while B's keys ran")
	}
	assertFirstTurnQuiet(t, nsA, "org-"+nsA, backlog)
}

// assertFirstTurnQuiet: keys still waiting for their first turn have no
// status written (a large import would otherwise write every key once more
// just to say it waits), and apigee_key_operator_keys_waiting counts them.
func assertFirstTurnQuiet(t *testing.T, ns, org string, keys []string) {
	t.Helper()
	unseen := 0
	for _, name := range keys {
		k := &apigeev1alpha1.DeveloperAppKey{}
		if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, k); err != nil {
			t.Fatal(err)
		}
		if len(k.Status.Conditions) == 0 && k.Status.ObservedGeneration == 0 {
			unseen++
		}
	}
	waiting := metricSum(t, "apigee_key_operator_keys_waiting", map[string]string{"organization": org})
	t.Logf("%d of %d keys not yet taken show no status; %.0f waiting by the gauge", unseen, len(keys), waiting)
	if unseen == 0 || waiting == 0 {
		t.Errorf("%d keys waiting for their first turn without status, %.0f by apigee_key_operator_keys_waiting; want both above 0 "+
			"(a waiting new key gets no status write)", unseen, waiting)
	}
}

// TestHangingOrganizationHoldsNoOneElse: organization A's endpoint accepts
// requests and never answers. Its calls time out (the suite's call timeout
// is 3 s), it is marked unreachable after five in a row, and its
// connection says so with reason Unreachable; its keys wait for the
// connection without calls. B's keys, applied meanwhile, converge. When A answers again, a
// trial call reopens it and A's keys converge.
func TestHangingOrganizationHoldsNoOneElse(t *testing.T) {
	a, nsA := setup(t, emulator.X)
	a.emu.InjectFault(emulator.Fault{Latency: time.Hour}) // accepts, never answers
	keysA := createKeys(t, nsA, "a", 6, apigeev1alpha1.ConnectionReference{Name: "prod"})

	b, nsB := setup(t, emulator.X)
	keysB := createKeys(t, nsB, "b", 5, apigeev1alpha1.ConnectionReference{Name: "prod"})
	testenv.Eventually(t, 20*time.Second, "B's keys Ready", func() (bool, string) {
		n := readyCount(t, nsB, keysB)
		return n == len(keysB), fmt.Sprintf("%d of %d Ready", n, len(keysB))
	})
	if len(b.emu.CallLog()) == 0 {
		t.Fatal("B's keys converged without calls")
	}

	// What a user needs: reason Unreachable, and a true cause. The
	// endpoint accepts and never answers, so whichever phase each call
	// was in when its deadline passed (connecting on a loaded machine,
	// waiting for the response otherwise), the cause is "no answer
	// within", never "could not connect".
	cond := waitConnectionReason(t, nsA, "prod", apigeev1alpha1.ReasonUnreachable)
	if !containsText(cond.Message, "not answering") || !containsText(cond.Message, "no answer within") ||
		containsText(cond.Message, "could not connect") {
		t.Errorf("A's connection message should say it is not answering because calls got no answer in time: %q", cond.Message)
	}
	// A's keys wait on their connection, and say why.
	k := waitReason(t, nsA, keysA[0], apigeev1alpha1.ReasonConnectionNotReady)
	if msg := readyCondition(k).Message; !containsText(msg, "(Unreachable)") {
		t.Errorf("A's key should name its connection's reason: %q", msg)
	}

	// Unreachable, A costs no calls but the connection's trials: one per
	// cool-down (5 s, then 10 s, ...).
	before := len(a.emu.CallLog())
	time.Sleep(6 * time.Second) // a quiet period is what is measured here
	if extra := len(a.emu.CallLog()) - before; extra > 2 {
		t.Errorf("A got %d calls in 6 s while unreachable; want at most the trials (2)", extra)
	}

	a.emu.ClearFaults()
	testenv.Eventually(t, 90*time.Second, "A's connection Ready again", func() (bool, string) {
		c := &apigeev1alpha1.ApigeeConnection{}
		if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: nsA, Name: "prod"}, c); err != nil {
			return false, err.Error()
		}
		found := meta.FindStatusCondition(c.Status.Conditions, apigeev1alpha1.ConditionReady)
		return found != nil && found.Status == metav1.ConditionTrue, fmt.Sprint(found)
	})
	testenv.Eventually(t, 60*time.Second, "A's keys converge", func() (bool, string) {
		n := readyCount(t, nsA, keysA)
		return n == len(keysA), fmt.Sprintf("%d of %d Ready", n, len(keysA))
	})
	for _, name := range keysA {
		if c := a.key(t, appName, fmt.Sprintf("a%sKey%s", nsA, name[len("a-"):])); c == nil || len(c.Products) != 2 {
			t.Errorf("%s: %v", name, describe(c))
		}
	}
}

// TestTenantHangingEndpointsHoldOneProbeWorker: a tenant creates five
// connections to servers that accept requests and never answer. Its probes
// go one at a time (each holds a worker until the call timeout), so a
// neighbour's new connection is probed and Ready meanwhile.
func TestTenantHangingEndpointsHoldOneProbeWorker(t *testing.T) {
	var inFlight, most, seen atomic.Int32
	hang := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-r.Context().Done()
		inFlight.Add(-1)
	})
	tenant := namespace(t)
	create(t, tokenSecret(tenant, "apigee-token", token))
	for i := range 5 {
		srv := httptest.NewServer(hang)
		t.Cleanup(srv.Close)
		c := &apigeev1alpha1.ApigeeConnection{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: fmt.Sprintf("hang-%d", i)},
			Spec: apigeev1alpha1.ApigeeConnectionSpec{Organization: "hang", Endpoint: srv.URL,
				Auth: apigeev1alpha1.ConnectionAuth{BearerToken: &apigeev1alpha1.SecretKeyAuth{
					SecretRef: apigeev1alpha1.SecretReference{Name: "apigee-token"}}}}}
		create(t, c)
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), c) })
	}
	eventually(t, "the tenant's probes under way", func() (bool, string) {
		return seen.Load() > 0, "no probe yet"
	})

	setup(t, emulator.X) // the neighbour's connection is Ready (setup waits)
	eventually(t, "the tenant's probes go on", func() (bool, string) {
		return seen.Load() >= 3, fmt.Sprintf("%d probes", seen.Load())
	})
	if m := most.Load(); m > 1 {
		t.Errorf("the tenant had %d probes hanging at once; want one", m)
	}
}
