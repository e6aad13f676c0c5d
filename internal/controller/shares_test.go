package controller

import (
	"context"
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

func in(ns, name string) types.NamespacedName { return types.NamespacedName{Namespace: ns, Name: name} }

// TestGateSharesAreByNamespace: a tenant that names three organizations
// holds no more turns than its namespace's share, however much room each
// organization has; another namespace's keys enter meanwhile, and the
// tenant's parked key is woken in another lane when one of its turns ends.
func TestGateSharesAreByNamespace(t *testing.T) {
	g := newOrgGates(2, 2, time.Now)
	enter := func(org string, key types.NamespacedName) error {
		return entered(g.enter(org, unlimited, nil, key, "", org, true))
	}
	for i, org := range []string{"t1", "t2"} {
		if err := enter(org, in("tenant", string(rune('a'+i)))); err != nil {
			t.Fatalf("the tenant's first keys: %v", err)
		}
	}
	err := enter("t3", in("tenant", "c"))
	if reason := waitReason(t, err); reason != apigeev1alpha1.ReasonRateLimited {
		t.Fatalf("the tenant's third key, in a third organization: %s", reason)
	}
	if g.held["tenant"] != 2 {
		t.Fatalf("the tenant holds %d turns; want its share, 2", g.held["tenant"])
	}
	if err := enter("t3", in("victim", "v")); err != nil {
		t.Fatalf("another namespace's key in the same organization was held: %v", err)
	}
	noneWoken(t, g)
	g.leave(in("tenant", "a"), false)
	if got := woken(t, g); got != in("tenant", "c") {
		t.Fatalf("woke %v; want the tenant's parked key", got)
	}
	if g.held["tenant"] != 2 {
		t.Errorf("after the wake the tenant holds %d turns; want 2 (b and c's invitation)", g.held["tenant"])
	}
}

// TestWokenKeysDoNotPassChanges: a key woken for its turn is queued at a
// change's priority, behind the changes already queued.
func TestWokenKeysDoNotPassChanges(t *testing.T) {
	q := priorityqueue.New[reconcile.Request]("woken-test")
	defer q.ShutDown()
	change := reconcile.Request{NamespacedName: in("victim", "changed")}
	q.Add(change)
	g := newOrgGates(1, 1, time.Now)
	g.wokenKeys().Generic(context.Background(), event.GenericEvent{Object: &apigeev1alpha1.DeveloperAppKey{}}, q)
	if got, _ := q.Get(); got != change {
		t.Errorf("the queue gave %v first; want the change queued before the wake", got)
	}
}

// TestGateTrialIsAKeyCall: keys of an organization whose key calls hang
// (its probe answered at once) wait; at the next trial the gate wakes one
// key, the probe cannot reopen the organization meanwhile, and the key's
// good call does, waking the rest.
func TestGateTrialIsAKeyCall(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	g := newOrgGates(4, 4, clock)
	reg := apigee.NewHealthRegistry(clock, g.healthChanged)
	health := reg.Organization("http://hostile.test", "h")
	orgKey := apigee.OrgKey("http://hostile.test", "h")
	call := func(op string, code int) error {
		tr := apigee.NewTransport(answering{code}, apigee.TransportOptions{Organization: "h", Health: health})
		req, _ := http.NewRequestWithContext(apigee.WithOperation(context.Background(), op), http.MethodGet, "http://hostile.test/v1", nil)
		resp, err := tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	for range apigee.FailureThreshold {
		_ = call(apigee.OpGetApp, 504)
	}
	for _, k := range []string{"k1", "k2"} {
		if reason := waitReason(t, entered(g.enter(orgKey, unlimited, health, nn(k), "", "h", true))); reason != apigeev1alpha1.ReasonConnectionNotReady {
			t.Fatalf("%s parked with %s", k, reason)
		}
	}
	now = now.Add(apigee.FirstCooldown)
	if err := call(apigee.OpProbe, 200); err == nil {
		t.Fatal("the probe went through an open breaker")
	}
	if health.Status().Reachable {
		t.Fatal("the probe reopened the organization")
	}
	g.healthChanged(orgKey) // what the pump's timer does at the trial time
	trialKey := woken(t, g)
	noneWoken(t, g)
	if err := entered(g.enter(orgKey, unlimited, health, trialKey, "", "h", true)); err != nil {
		t.Fatalf("the woken trial key was held: %v", err)
	}
	if err := call(apigee.OpGetApp, 200); err != nil {
		t.Fatalf("the trial key's call: %v", err)
	}
	g.leave(trialKey, false)
	if got := woken(t, g); got == trialKey {
		t.Fatalf("woke %s again", got.Name)
	}
}

// TestKeysGoToTheGateWhenOnlyTheyCanTrial: a connection Unreachable is not
// ready for its keys, unless only key calls failed (its probe cannot reopen
// the organization): then they go on to the gate, where one makes the trial.
func TestKeysGoToTheGateWhenOnlyTheyCanTrial(t *testing.T) {
	conn := namespacedConn(ambientSpec("http://hostile.test"))
	conn.status.Conditions = []metav1.Condition{{Type: apigeev1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: apigeev1alpha1.ReasonUnreachable}}
	if conn.ready() {
		t.Error("an Unreachable connection whose probe can make the trial is ready for its keys")
	}
	conn.keysMakeTheTrial = true
	if !conn.ready() {
		t.Error("an Unreachable connection whose keys must make the trial holds them back")
	}
	conn.status.Conditions[0].Reason = apigeev1alpha1.ReasonUnauthorized
	if conn.ready() {
		t.Error("an Unauthorized connection is ready for its keys")
	}
}
