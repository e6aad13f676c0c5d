package controller

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/types"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

func nn(name string) types.NamespacedName { return types.NamespacedName{Namespace: "ns", Name: name} }

// woken returns the next key the gate put back on the queue, or fails.
func woken(t *testing.T, g *orgGates) types.NamespacedName {
	t.Helper()
	select {
	case ev := <-g.wake:
		return types.NamespacedName{Namespace: ev.Object.GetNamespace(), Name: ev.Object.GetName()}
	case <-time.After(5 * time.Second):
		t.Fatal("no key was woken")
		return types.NamespacedName{}
	}
}

func noneWoken(t *testing.T, g *orgGates) {
	t.Helper()
	select {
	case ev := <-g.wake:
		t.Fatalf("%s was woken; want none", ev.Object.GetName())
	default:
	}
}

func waitReason(t *testing.T, err error) string {
	t.Helper()
	f := classify(err)
	if !f.wait {
		t.Fatalf("%v: want a wait", err)
	}
	return f.reason
}

var unlimited = rate.NewLimiter(rate.Inf, 1)

// entered is enter's error, for checks that look only at that.
func entered(_ bool, err error) error { return err }

// TestGateTurnsInOrder: an organization takes maxActive keys at once; the
// others wait and are woken in order as turns end, changed keys before
// resyncs, and a woken key's turn is kept for it against newcomers.
func TestGateTurnsInOrder(t *testing.T) {
	g := newOrgGates(2, 2, time.Now)
	g.waitingKeys = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "waiting"}, []string{"endpoint", "organization"})
	waiting := func(want float64) {
		t.Helper()
		if got := testutil.ToFloat64(g.waitingKeys.WithLabelValues("", "prod")); got != want {
			t.Fatalf("the gauge says %v keys wait; want %v", got, want)
		}
	}
	enter := func(name string) error { return entered(g.enter("org", unlimited, nil, nn(name), "", "prod", false)) }
	for _, k := range []string{"a", "b"} {
		if err := enter(k); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	// r1 and r2 come for their resync, c for a change (early, say its
	// Secret changed); newcomer below has not been seen before.
	g.resyncAt(nn("r1"), time.Now())
	g.resyncAt(nn("r2"), time.Now())
	g.resyncAt(nn("c"), time.Now().Add(time.Hour))
	for _, k := range []string{"r1", "r2", "c"} {
		if reason := waitReason(t, enter(k)); reason != apigeev1alpha1.ReasonRateLimited {
			t.Fatalf("%s parked with %s", k, reason)
		}
	}
	noneWoken(t, g)
	waiting(3)

	g.leave(nn("a"), false)
	if got := woken(t, g); got != nn("c") {
		t.Fatalf("woke %s first; want the changed key c", got.Name)
	}
	waiting(2)
	if err := entered(g.enter("org", unlimited, nil, nn("newcomer"), "", "prod", true)); err == nil {
		t.Fatal("a newcomer took the turn kept for c")
	}
	if err := enter("c"); err != nil {
		t.Fatalf("c, woken, could not enter: %v", err)
	}
	// The newcomer parked as a change (a new key): before r1.
	g.leave(nn("b"), false)
	if got := woken(t, g); got != nn("newcomer") {
		t.Fatalf("woke %s; want newcomer", got.Name)
	}
	// Its reconcile ends without entering (nothing to do there): the turn
	// passes on to r1, then r2.
	g.leave(nn("newcomer"), false)
	if got := woken(t, g); got != nn("r1") {
		t.Fatalf("woke %s; want r1", got.Name)
	}
	// r1 came for its resync; a key back early came for a change.
	if resync, err := g.enter("org", unlimited, nil, nn("r1"), "", "prod", false); err != nil || !resync {
		t.Fatalf("woken r1 entered: resync %v, %v; want a resync", resync, err)
	}
	g.leave(nn("r1"), false)
	if got := woken(t, g); got != nn("r2") {
		t.Fatalf("woke %s; want r2", got.Name)
	}
	g.resyncAt(nn("r2"), time.Now().Add(time.Hour))
	if resync, err := g.enter("org", unlimited, nil, nn("r2"), "", "prod", false); err != nil || resync {
		t.Fatalf("r2, back before its resync was due, entered: resync %v, %v; want a change", resync, err)
	}
	g.leave(nn("r2"), false)
	g.leave(nn("c"), false)
	noneWoken(t, g)
	waiting(0)
}

// TestEmptiedLineLetsGoOfItsMemory: after a burst of keys, changes and
// resyncs, has waited and gone, the organization's line holds none of the
// room it grew: a new map, no slices.
func TestEmptiedLineLetsGoOfItsMemory(t *testing.T) {
	g := newOrgGates(1, 1, time.Now)
	enter := func(name string, changed bool) error {
		return entered(g.enter("org", unlimited, nil, nn(name), "", "prod", changed))
	}
	if err := enter("first", false); err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		_ = enter(fmt.Sprintf("k%d", i), i%2 == 1) // odd keys come for a change
	}
	lane := g.lanes["org"]
	grown := reflect.ValueOf(lane.waiting).Pointer()
	if len(lane.waiting) != 1000 || len(lane.changed) != 500 || len(lane.resync) != 500 {
		t.Fatalf("%d keys wait, %d changed and %d resyncs; want 1000, 500 and 500", len(lane.waiting), len(lane.changed), len(lane.resync))
	}
	g.forget(nn("k998")) // a key deleted while it waits leaves the line too
	g.leave(nn("first"), false)
	for range 999 {
		next := woken(t, g)
		if err := enter(next.Name, false); err != nil {
			t.Fatalf("%s, woken, could not enter: %v", next.Name, err)
		}
		g.leave(next, false)
	}
	noneWoken(t, g)
	if reflect.ValueOf(lane.waiting).Pointer() == grown || cap(lane.changed) != 0 || cap(lane.resync) != 0 {
		t.Errorf("emptied line keeps the map it grew, or room for %d changed and %d resyncs; want a new map and none", cap(lane.changed), cap(lane.resync))
	}
}

// TestGateWaitsForBudget: with the organization's budget spent, keys park
// instead of waiting in the limiter, and are woken when it refills.
func TestGateWaitsForBudget(t *testing.T) {
	g := newOrgGates(4, 4, time.Now)
	budget := rate.NewLimiter(rate.Limit(20), 1) // a token every 50ms
	if !budget.Allow() {
		t.Fatal("setup: budget empty")
	}
	if reason := waitReason(t, entered(g.enter("org", budget, nil, nn("k"), "", "prod", true))); reason != apigeev1alpha1.ReasonRateLimited {
		t.Fatalf("parked with %s", reason)
	}
	if got := woken(t, g); got != nn("k") {
		t.Fatalf("woke %s", got.Name)
	}
	if err := entered(g.enter("org", budget, nil, nn("k"), "", "prod", true)); err != nil {
		t.Fatalf("woken key could not enter: %v", err)
	}
	// Stopped mid-reconcile for want of budget: first in line again.
	g.resyncAt(nn("other"), time.Now())
	_ = entered(g.enter("org", budget, nil, nn("other"), "", "prod", false))
	budget.ReserveN(time.Now(), 1) // spend what refilled
	g.leave(nn("k"), true)
	if got := woken(t, g); got != nn("k") {
		t.Fatalf("woke %s; want k, parked again first", got.Name)
	}
}

type answering struct{ code int }

func (a answering) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: a.code, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

// TestGateHoldsUnreachableOrganizations: keys of an organization that is
// not answering park with Unreachable, other organizations' keys enter,
// and the parked keys are woken when it answers again.
func TestGateHoldsUnreachableOrganizations(t *testing.T) {
	g := newOrgGates(4, 4, time.Now)
	now := time.Now()
	reg := apigee.NewHealthRegistry(func() time.Time { return now }, g.healthChanged)
	health := reg.Organization("http://down.test", "down")
	do := func(code int) {
		tr := apigee.NewTransport(answering{code}, apigee.TransportOptions{Organization: "down", Health: health})
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://down.test/v1", nil)
		if resp, err := tr.RoundTrip(req); err == nil {
			resp.Body.Close()
		}
	}
	for i := 0; i < apigee.FailureThreshold; i++ {
		do(503)
	}
	err := entered(g.enter(apigee.OrgKey("http://down.test", "down"), unlimited, health, nn("k"), "", "down", true))
	// Key calls failed: the probe cannot reopen the organization, so the
	// key waits here, saying its connection is not Ready.
	if reason := waitReason(t, err); reason != apigeev1alpha1.ReasonConnectionNotReady {
		t.Fatalf("parked with %s: %v", reason, err)
	}
	if err := entered(g.enter("other-org", unlimited, nil, nn("elsewhere"), "", "up", true)); err != nil {
		t.Fatalf("another organization's key was held: %v", err)
	}
	noneWoken(t, g)
	// Once the cool-down is over a trial call of the kind that failed goes
	// (here a key call; see TestGateTrialIsAKeyCall) and its good answer
	// reopens the organization.
	now = now.Add(apigee.FirstCooldown)
	do(200)
	if got := woken(t, g); got != nn("k") {
		t.Fatalf("woke %s", got.Name)
	}
}

// TestGateChangeOvertakesResyncs: a key waiting for its resync that is
// then changed moves ahead of the keys that only resync.
func TestGateChangeOvertakesResyncs(t *testing.T) {
	g := newOrgGates(1, 1, time.Now)
	if err := entered(g.enter("org", unlimited, nil, nn("busy"), "", "prod", false)); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"r1", "r2", "r3"} {
		_ = entered(g.enter("org", unlimited, nil, nn(k), "", "prod", false))
	}
	_ = entered(g.enter("org", unlimited, nil, nn("r3"), "", "prod", true)) // its spec changed meanwhile
	g.leave(nn("busy"), false)
	if got := woken(t, g); got != nn("r3") {
		t.Fatalf("woke %s; want the changed r3", got.Name)
	}
	g.leave(nn("r3"), false)
	if got := woken(t, g); got != nn("r1") {
		t.Fatalf("woke %s; want r1", got.Name)
	}
}
