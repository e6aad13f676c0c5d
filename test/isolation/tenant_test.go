package isolation

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/controller"
	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv"
)

// hostileServer is a tenant's own "Apigee": it answers GET organization at
// once, so its connections are Ready, and holds every other call until the
// caller gives up. It counts the calls it holds, by organization.
type hostileServer struct {
	mu          sync.Mutex
	holding     map[string]int // organization → calls held now
	held        map[string]int // organization → calls held in all
	maxHolding  int            // most calls held at once, all organizations
	url         string
	closeServer func()
}

func newHostileServer(t testing.TB) *hostileServer {
	h := &hostileServer{holding: map[string]int{}, held: map[string]int{}}
	srv := httptest.NewServer(h)
	h.url, h.closeServer = srv.URL, func() { srv.CloseClientConnections(); srv.Close() }
	t.Cleanup(h.closeServer)
	return h
}

func (h *hostileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/") // v1 organizations {org} …
	if len(parts) < 3 {
		http.NotFound(w, r)
		return
	}
	org := parts[2]
	if len(parts) == 3 && r.Method == http.MethodGet {
		fmt.Fprintf(w, `{"name":%q}`, org)
		return
	}
	h.mu.Lock()
	h.holding[org]++
	h.held[org]++
	h.maxHolding = max(h.maxHolding, h.sum(h.holding))
	h.mu.Unlock()
	// The server notices a caller that gave up only once the request's
	// body is read.
	_, _ = io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
	h.mu.Lock()
	h.holding[org]--
	h.mu.Unlock()
}

func (h *hostileServer) sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// calls returns how many calls of org it has held in all, and how many
// it holds now.
func (h *hostileServer) calls(org string) (held, holding int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held[org], h.holding[org]
}

func (h *hostileServer) mostHeldAtOnce() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.maxHolding
}

// hostileResult is what the hostile-tenant scenario measured.
type hostileResult struct {
	workers, share int
	// victimReady is how long each of the healthy organization's new keys
	// took from creation to Ready, sorted.
	victimReady []time.Duration
	// mostHeld is the most calls the hostile server held at once: each
	// holds a worker.
	mostHeld int
}

func (r hostileResult) median() time.Duration { return r.victimReady[len(r.victimReady)/2] }
func (r hostileResult) max() time.Duration    { return r.victimReady[len(r.victimReady)-1] }

const hostileOrgs, hostileKeysPerOrg = 3, 6

// trialWindow covers an unreachable organization's first two trials
// (after 5 s, then 10 s more, each held for the call timeout).
const trialWindow = 20 * time.Second

// hostileTenant replays issue 21's first sequence: a tenant makes three
// ApigeeConnections to its own server under three organization names, six
// keys each; once the server holds their calls, another namespace applies
// victimKeys keys to a healthy organization.
func hostileTenant(t testing.TB, workers, victimKeys int, callTimeout time.Duration) (hostileResult, *hostileServer, *testenv.Env, string) {
	env := testenv.Start(t)
	startManagerWith(t, env, controller.Options{ResyncInterval: time.Hour, CallTimeout: callTimeout, Tenancy: fastBudget}, workers)
	hostile := newHostileServer(t)
	tenant := env.Namespace(t, nil)
	createToken(t, env.Client, tenant)
	for i := range hostileOrgs {
		name := fmt.Sprint("h-", i)
		createConnection(t, env.Client, tenant, name, name, hostile.url)
		waitConnectionReady(t, env.Client, tenant, name)
		createKeysVia(t, env.Client, tenant, name, name, hostileKeysPerOrg, 1, nil)
	}
	testenv.Eventually(t, time.Minute, "the tenant's calls held", func() (bool, string) {
		n := hostile.mostHeldAtOnce()
		return n >= 2, fmt.Sprintf("%d held at once", n)
	})

	victim := newOrg(t, "victim", victimKeys)
	nsV := env.Namespace(t, nil)
	victim.connect(t, env.Client, nsV)
	created := map[string]time.Time{}
	var mu sync.Mutex
	createKeysVia(t, env.Client, nsV, "prod", "v", victimKeys, victimKeys, func(k *apigeev1alpha1.DeveloperAppKey) {
		mu.Lock()
		created[k.Name] = time.Now()
		mu.Unlock()
	})
	readyAt := map[string]time.Duration{}
	pollEvery(t, 3*time.Minute, 20*time.Millisecond, "the victim's keys Ready", func() (bool, string) {
		list := &apigeev1alpha1.DeveloperAppKeyList{}
		must(t, env.Client.List(context.Background(), list, client.InNamespace(nsV)))
		for _, k := range list.Items {
			if _, seen := readyAt[k.Name]; !seen && converged(&k) {
				readyAt[k.Name] = time.Since(created[k.Name])
			}
		}
		return len(readyAt) == victimKeys, fmt.Sprintf("%d of %d Ready", len(readyAt), victimKeys)
	})
	res := hostileResult{workers: workers, share: max(1, workers/2), mostHeld: hostile.mostHeldAtOnce()}
	for _, d := range readyAt {
		res.victimReady = append(res.victimReady, d)
	}
	slices.Sort(res.victimReady)
	return res, hostile, env, tenant
}

// TestHostileTenantHoldsOnlyItsShare: with 4 workers, a tenant whose own
// server holds every key call under three organization names never holds
// more than its namespace's share (2) of the workers; the healthy
// organization's keys are all Ready meanwhile; and once the tenant's
// organizations are Unreachable, the probe its server answers does not
// make them Ready again: their trials are key calls, which hang and
// reopen the breaker.
func TestHostileTenantHoldsOnlyItsShare(t *testing.T) {
	res, hostile, env, tenant := hostileTenant(t, 4, 6, 2*time.Second)
	t.Logf("victim keys Ready: median %s, max %s; the hostile server held at most %d calls at once",
		res.median().Round(time.Millisecond), res.max().Round(time.Millisecond), res.mostHeld)
	if res.mostHeld > res.share {
		t.Errorf("the tenant held %d workers at once; its namespace's share is %d", res.mostHeld, res.share)
	}
	// Each organization, once Unreachable, stays so through its next
	// trials (after 5 s, then 10 s): they are key calls, which the server
	// holds (it counts them), never the probe it answers.
	unreachableSince, heldThen := map[string]time.Time{}, map[string]int{}
	pollEvery(t, 3*time.Minute, 50*time.Millisecond, "trials while Unreachable", func() (bool, string) {
		done, status := 0, ""
		for i := range hostileOrgs {
			name := fmt.Sprint("h-", i)
			cond := connectionReady(t, env.Client, tenant, name)
			held, _ := hostile.calls(name)
			since, seen := unreachableSince[name]
			switch {
			case seen && cond != nil && cond.Status == metav1.ConditionTrue:
				t.Fatalf("%s turned Ready while its server held every key call: %s", name, cond.Message)
			case !seen && cond != nil && cond.Reason == apigeev1alpha1.ReasonUnreachable:
				unreachableSince[name], heldThen[name] = time.Now(), held
			case seen && time.Since(since) > trialWindow && held > heldThen[name]:
				done++
			}
			status += fmt.Sprintf(" %s: %d held calls, %v;", name, held, cond)
		}
		return done == hostileOrgs, status
	})
	if most := hostile.mostHeldAtOnce(); most > res.share {
		t.Errorf("the tenant held %d workers at once during its trials; its share is %d", most, res.share)
	}
}

// pollEvery polls cond every interval until it holds or timeout passes.
func pollEvery(t testing.TB, timeout, interval time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline, last := time.Now().Add(timeout), ""
	for time.Now().Before(deadline) {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		time.Sleep(interval)
	}
	t.Fatalf("timed out waiting for %s; last: %s", what, last)
}
