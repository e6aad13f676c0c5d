package isolation

import (
	"context"
	"fmt"
	"os"
	"path"
	"strconv"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
	"github.com/apigee-key-operator/apigee-key-operator/internal/controller"
	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// stormResult is what a change during a resync storm measured.
type stormResult struct {
	keys int
	// changeReady is how long the changed key took to be Ready again.
	changeReady time.Duration
	// readsBefore is how many of the storm's GET app calls were made
	// before the change was done; the storm makes one per key.
	readsBefore int
	// storm is how long every key's resync took.
	storm time.Duration
}

// changeDuringResyncStorm converges n keys (one per app), restarts the
// operator so that every key is due for its resync at once (each a GET
// app at 25 ms, within the default budget of 4,800 calls a minute), and
// changes one key while the resyncs run.
func changeDuringResyncStorm(t testing.TB, n int) stormResult {
	env := testenv.Start(t)
	o := newOrg(t, "storm", n)
	ns := env.Namespace(t, nil)
	first := startManager(t, env, controller.Options{ResyncInterval: time.Hour, Tenancy: fastBudget})
	o.connect(t, env.Client, ns)
	names := createKeys(t, env.Client, ns, "k", n, n)
	waitAllReady(t, env.Client, ns, n, 10*time.Minute)
	first.stop()

	o.emu.InjectFault(emulator.Fault{Latency: 25 * time.Millisecond})
	o.emu.ResetCalls()
	stormStart := time.Now()
	startManager(t, env, controller.Options{ResyncInterval: time.Hour})
	testenv.Eventually(t, time.Minute, "resyncs under way", func() (bool, string) {
		got := gets(o.emu.CallLog())
		return got >= 50, fmt.Sprintf("%d GET app", got)
	})

	changed := notYetResynced(o.emu.CallLog(), names)
	start := time.Now()
	updateKey(t, env.Client, ns, changed, func(k *apigeev1alpha1.DeveloperAppKey) {
		k.Spec.APIProducts = append(k.Spec.APIProducts, apigeev1alpha1.APIProductRef{Name: "p2"})
	})
	testenv.Eventually(t, time.Minute, "the changed key Ready again", func() (bool, string) {
		k := &apigeev1alpha1.DeveloperAppKey{}
		must(t, env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: changed}, k))
		return converged(k) && len(k.Status.APIProducts) == 2, fmt.Sprint(meta.FindStatusCondition(k.Status.Conditions, apigeev1alpha1.ConditionReady))
	})
	res := stormResult{keys: n, changeReady: time.Since(start), readsBefore: gets(o.emu.CallLog())}
	testenv.Eventually(t, 10*time.Minute, "every key resynced", func() (bool, string) {
		got := gets(o.emu.CallLog())
		return got >= n, fmt.Sprintf("%d of %d GET app", got, n)
	})
	res.storm = time.Since(stormStart)
	return res
}

// notYetResynced picks a key whose app (each key has its own) has not
// been read since the restart: its resync is still queued.
func notYetResynced(calls []emulator.Call, names []string) string {
	read := map[string]bool{}
	for _, c := range calls {
		if c.Operation == emulator.OpGetApp {
			read[path.Base(c.Path)] = true
		}
	}
	for i := len(names) - 1; i >= 0; i-- {
		if !read[fmt.Sprintf("app-%d", i)] {
			return names[i]
		}
	}
	return names[0]
}

func updateKey(t testing.TB, c client.Client, ns, name string, change func(*apigeev1alpha1.DeveloperAppKey)) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, "update "+name, func() (bool, string) {
		k := &apigeev1alpha1.DeveloperAppKey{}
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, k); err != nil {
			return false, err.Error()
		}
		change(k)
		if err := c.Update(context.Background(), k); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

// TestChangeBeforeResyncs: with every one of 2,000 converged keys due for
// its resync at once (the operator just restarted), a key changed by its
// user is reconciled before the resyncs that were queued ahead of it: it
// is Ready with the change while most of the resyncs are still to come.
func TestChangeBeforeResyncs(t *testing.T) {
	n := envInt("ISOLATION_KEYS", 2000)
	res := changeDuringResyncStorm(t, n)
	t.Logf("%d keys: the changed key was Ready %s after the change, after %d of the %d resync reads; every resync took %s",
		n, res.changeReady.Round(time.Millisecond), res.readsBefore, n, res.storm.Round(time.Millisecond))
	if res.readsBefore > n/2 {
		t.Errorf("the change was done only after %d of %d resync reads: resyncs went first", res.readsBefore, n)
	}
}

// saturatedResult is what the throttled-neighbour scenario measured.
type saturatedResult struct {
	backlog, keys int
	// ready is how long B's keys took to be Ready.
	ready time.Duration
	// waitingA is how many of A's keys were not Ready when B's were.
	waitingA int
}

// neighbourOfSaturatedOrg gives organization A a budget of 120 calls a
// minute (an administrator's ClusterApigeeConnection) and backlog keys to
// import, then applies keys to organization B and times them.
func neighbourOfSaturatedOrg(t testing.TB, backlog, keys int) saturatedResult {
	env := testenv.Start(t)
	startManager(t, env, controller.Options{ResyncInterval: time.Hour})
	a := newOrg(t, "saturated", 10)
	nsA := env.Namespace(t, nil)
	a.connect(t, env.Client, nsA)
	must(t, env.Client.Create(context.Background(), &apigeev1alpha1.ClusterApigeeConnection{
		ObjectMeta: metav1.ObjectMeta{Name: "saturated-budget"},
		Spec: apigeev1alpha1.ClusterApigeeConnectionSpec{
			AllowedNamespaces: apigeev1alpha1.AllowedNamespaces{Names: []string{nsA}},
			ApigeeConnectionSpec: apigeev1alpha1.ApigeeConnectionSpec{Organization: a.emu.Organization(), Endpoint: a.url,
				RateLimit: &apigeev1alpha1.RateLimit{RequestsPerMinute: 120, Burst: 4},
				Auth: apigeev1alpha1.ConnectionAuth{BearerToken: &apigeev1alpha1.SecretKeyAuth{
					SecretRef: apigeev1alpha1.SecretReference{Namespace: nsA, Name: "tok"}}}}},
	}))
	testenv.Eventually(t, time.Minute, "A's budget set", func() (bool, string) {
		c := &apigeev1alpha1.ClusterApigeeConnection{}
		must(t, env.Client.Get(context.Background(), client.ObjectKey{Name: "saturated-budget"}, c))
		return meta.IsStatusConditionTrue(c.Status.Conditions, apigeev1alpha1.ConditionReady), "not Ready"
	})
	createKeys(t, env.Client, nsA, "a", backlog, 10)
	testenv.Eventually(t, time.Minute, "A's backlog under way", func() (bool, string) {
		got := a.emu.TotalCalls()
		return got >= 10, fmt.Sprintf("%d calls to A", got)
	})

	b := newOrg(t, "neighbour", 1)
	nsB := env.Namespace(t, nil)
	b.connect(t, env.Client, nsB)
	start := time.Now()
	createKeys(t, env.Client, nsB, "b", keys, 1)
	waitAllReady(t, env.Client, nsB, keys, 5*time.Minute)
	return saturatedResult{backlog: backlog, keys: keys, ready: time.Since(start), waitingA: backlog - ready(t, env.Client, nsA)}
}

// The hostile-tenant figure's sizes: issue 21's sequence (4 workers, a
// call timeout that a hanging call uses up).
const (
	hostileWorkers     = 4
	hostileVictims     = 6
	hostileCallTimeout = 5 * time.Second
)

// BenchmarkIsolation prints how long organization B's new keys take to be
// Ready while organization A, throttled to 120 calls a minute, has a
// backlog (the sizes: 300 and 10; ISOLATION_BACKLOG and
// ISOLATION_NEW change them), and how soon a changed key is Ready while
// every one of ISOLATION_KEYS (2,000) converged keys is due for a resync,
// and how long a healthy organization's new keys take while a tenant's own
// server holds every key call under three organization names.
func BenchmarkIsolation(b *testing.B) {
	backlog, keys, n := envInt("ISOLATION_BACKLOG", 300), envInt("ISOLATION_NEW", 10), envInt("ISOLATION_KEYS", 2000)
	for range b.N {
		sat := neighbourOfSaturatedOrg(b, backlog, keys)
		b.ReportMetric(sat.ready.Seconds(), "s-neighbour-ready")
		fmt.Printf("isolation: organization B's %d new keys Ready in %s while A (120 calls/min) had %d of %d keys waiting\n",
			sat.keys, sat.ready.Round(time.Millisecond), sat.waitingA, sat.backlog)
		h, _, _, _ := hostileTenant(b, hostileWorkers, hostileVictims, hostileCallTimeout)
		b.ReportMetric(h.median().Seconds(), "s-victim-median")
		fmt.Printf("hostile tenant: with %d workers and a tenant whose own server holds every key call under %d organization names (%d keys each), "+
			"another organization's %d new keys were Ready in a median of %s (max %s); the tenant held at most %d calls at once (its share: %d)\n",
			h.workers, hostileOrgs, hostileKeysPerOrg, len(h.victimReady), h.median().Round(time.Millisecond), h.max().Round(time.Millisecond), h.mostHeld, h.share)
		st := changeDuringResyncStorm(b, n)
		b.ReportMetric(st.changeReady.Seconds(), "s-change-ready")
		b.ReportMetric(st.storm.Seconds(), "s-resync-storm")
		fmt.Printf("event vs resync: with %d keys due for resync at once, a changed key was Ready in %s (after %d resync reads); the resyncs took %s\n",
			st.keys, st.changeReady.Round(time.Millisecond), st.readsBefore, st.storm.Round(time.Millisecond))
	}
}
