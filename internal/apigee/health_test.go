package apigee

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv/clock"
)

// scripted is a base transport whose answers a test sets call by call.
type scripted struct {
	mu    sync.Mutex
	code  int
	err   error
	block chan struct{} // when set, each call waits for it
	sent  atomic.Int32
}

func (s *scripted) set(code int, err error) {
	s.mu.Lock()
	s.code, s.err = code, err
	s.mu.Unlock()
}

func (s *scripted) RoundTrip(req *http.Request) (*http.Response, error) {
	s.sent.Add(1)
	s.mu.Lock()
	code, err, block := s.code, s.err, s.block
	s.mu.Unlock()
	if block != nil {
		<-block
	}
	if err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: code, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

func healthRig(t *testing.T) (*scripted, *Transport, *HealthRegistry, *clock.Fake, *atomic.Int32) {
	t.Helper()
	clock := clock.NewFake(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
	var changes atomic.Int32
	reg := NewHealthRegistry(clock.Now, func(string) { changes.Add(1) })
	base := &scripted{code: 200}
	tr := NewTransport(base, TransportOptions{Organization: "acme", Health: reg.Organization("http://apigee.test", "acme")})
	return base, tr, reg, clock, &changes
}

func unreachableErr(err error) (*Error, bool) {
	var e *Error
	return e, errors.As(err, &e) && e.Reason == ReasonOrganizationUnreachable
}

// TestHealthOpensAfterFailuresInARow: four 503s leave the organization
// reachable; the fifth in a row makes it unreachable, and then calls fail
// at once without being sent, saying when the next trial may go.
func TestHealthOpensAfterFailuresInARow(t *testing.T) {
	base, tr, reg, _, changes := healthRig(t)
	ctx := WithOperation(context.Background(), OpGetApp)
	base.set(503, nil)
	for i := 1; i < FailureThreshold; i++ {
		if err := call(t, tr, ctx); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if !reg.Lookup("http://apigee.test", "acme").Status().Reachable {
		t.Fatalf("unreachable after %d failures; want %d", FailureThreshold-1, FailureThreshold)
	}
	if err := call(t, tr, ctx); err != nil {
		t.Fatal(err)
	}
	st := reg.Lookup("http://apigee.test", "acme").Status()
	if st.Reachable || st.Failures != FailureThreshold || st.Last != "GetApp answered HTTP 503" {
		t.Errorf("after %d failures: %+v", FailureThreshold, st)
	}
	if changes.Load() != 1 {
		t.Errorf("onChange called %d times, want 1", changes.Load())
	}
	sent := base.sent.Load()
	e, ok := unreachableErr(call(t, tr, ctx))
	if !ok || e.RetryAfter != FirstCooldown || e.Class != ClassUnavailable {
		t.Errorf("call while unreachable: %+v", e)
	}
	if base.sent.Load() != sent {
		t.Error("a call was sent while the organization was unreachable")
	}
}

// TestHealthSuccessResetsTheCount: failures must be in a row.
func TestHealthSuccessResetsTheCount(t *testing.T) {
	base, tr, reg, _, _ := healthRig(t)
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		base.set(502, nil)
		for i := 1; i < FailureThreshold; i++ {
			_ = call(t, tr, ctx)
		}
		base.set(404, nil) // an answer, even an error, is not a server failure
		_ = call(t, tr, ctx)
	}
	if st := reg.Lookup("http://apigee.test", "acme").Status(); !st.Reachable || st.Failures != 0 {
		t.Errorf("status %+v; want reachable with no failures", st)
	}
}

// TestHealthTrialCalls: after the cool-down one call goes as a trial while
// others still fail at once; a failed trial doubles the cool-down, a
// successful one makes the organization reachable again.
func TestHealthTrialCalls(t *testing.T) {
	base, tr, reg, clock, changes := healthRig(t)
	ctx := WithOperation(context.Background(), OpGetApp)
	base.set(0, context.DeadlineExceeded) // no answer within the timeout
	for i := 0; i < FailureThreshold; i++ {
		_ = call(t, tr, ctx)
	}
	h := reg.Lookup("http://apigee.test", "acme")
	if st := h.Status(); st.Reachable || st.Last != "GetApp got no answer within 0s (connecting)" {
		t.Fatalf("after timeouts: %+v", st)
	}

	clock.Advance(FirstCooldown)
	base.set(503, nil)
	if err := call(t, tr, ctx); err != nil { // the trial goes, and fails
		t.Fatalf("trial: %v", err)
	}
	e, ok := unreachableErr(call(t, tr, ctx))
	if !ok || e.RetryAfter != 2*FirstCooldown {
		t.Fatalf("after a failed trial: %+v; want a cool-down of %s", e, 2*FirstCooldown)
	}

	clock.Advance(2 * FirstCooldown)
	release := make(chan struct{})
	base.mu.Lock()
	base.code, base.err, base.block = 200, nil, release
	base.mu.Unlock()
	trialDone := make(chan error)
	go func() { trialDone <- call(t, tr, ctx) }()
	for base.sent.Load() < int32(FailureThreshold+2) {
		time.Sleep(time.Millisecond) // the trial is in flight
	}
	if _, ok := unreachableErr(call(t, tr, ctx)); !ok {
		t.Error("a second call went while the trial was in flight")
	}
	close(release)
	if err := <-trialDone; err != nil {
		t.Fatal(err)
	}
	if st := h.Status(); !st.Reachable || st.Failures != 0 {
		t.Errorf("after a good trial: %+v", st)
	}
	if got := changes.Load(); got != 3 { // opened, reopened, closed
		t.Errorf("onChange called %d times, want 3", got)
	}
}

// TestHealthIgnoresCallersThatGiveUp: a cancelled call, throttling and a
// 500 say nothing about whether the organization answers.
func TestHealthIgnoresCallersThatGiveUp(t *testing.T) {
	base, tr, reg, _, _ := healthRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	base.set(0, context.Canceled)
	for i := 0; i < 2*FailureThreshold; i++ {
		_ = call(t, tr, ctx)
	}
	base.set(429, nil)
	for i := 0; i < 2*FailureThreshold; i++ {
		_ = call(t, tr, context.Background())
	}
	// Edge answers some request errors with 500, which anyone with a
	// connection can provoke: not a sign the organization is down.
	base.set(500, nil)
	for i := 0; i < 2*FailureThreshold; i++ {
		_ = call(t, tr, context.Background())
	}
	if st := reg.Lookup("http://apigee.test", "acme").Status(); !st.Reachable || st.Failures != 0 {
		t.Errorf("status %+v; want reachable", st)
	}
}

// TestHealthIsPerOrganizationAndEndpoint: a server that merely names the
// same organization (a tenant's own, say) cannot make the real one
// unreachable.
func TestHealthIsPerOrganizationAndEndpoint(t *testing.T) {
	reg := NewHealthRegistry(nil, nil)
	fake := NewTransport(&scripted{code: 503}, TransportOptions{Organization: "acme", Health: reg.Organization("http://tenant.test", "acme")})
	for i := 0; i < 2*FailureThreshold; i++ {
		_ = call(t, fake, context.Background())
	}
	if reg.Lookup("http://tenant.test", "acme").Status().Reachable {
		t.Error("the failing server's organization should be unreachable")
	}
	if !reg.Organization("http://apigee.test/", "acme").Status().Reachable {
		t.Error("the real organization was marked unreachable by another server's failures")
	}
	if OrgKey("HTTP://Apigee.test/", "acme") != OrgKey("http://apigee.test", "acme") {
		t.Error("OrgKey should ignore the endpoint's case and trailing slash")
	}
}

// deadlineErr is a base transport that gives up at the request's deadline
// with an error that does not say it timed out, as net/http may.
type deadlineErr struct{}

func (deadlineErr) RoundTrip(req *http.Request) (*http.Response, error) {
	<-req.Context().Done()
	return nil, errors.New("net/http: request canceled")
}

// TestHealthCountsADeadlineAsATimeout: a call whose deadline passed is a
// timeout, whatever the error's words.
func TestHealthCountsADeadlineAsATimeout(t *testing.T) {
	reg := NewHealthRegistry(nil, nil)
	tr := NewTransport(deadlineErr{}, TransportOptions{Organization: "acme", Health: reg.Organization("http://apigee.test", "acme")})
	for i := 0; i < FailureThreshold; i++ {
		ctx, cancel := context.WithTimeout(WithOperation(context.Background(), OpImportKey), time.Millisecond)
		_ = call(t, tr, ctx)
		cancel()
	}
	if st := reg.Lookup("http://apigee.test", "acme").Status(); st.Reachable || st.Last != "ImportKey got no answer within 0s (connecting)" {
		t.Errorf("status %+v; want unreachable after timeouts", st)
	}
}

// TestHealthProbeCannotCloseWhatKeyCallsOpened: an endpoint that answers
// the probe at once and holds every key call (a tenant's own server) keeps
// its breaker open. The probe is not the trial of failed key calls, and
// fails at once while the breaker is open; the trial is a key call, and one
// that hangs until its deadline reopens the breaker for twice as long.
func TestHealthProbeCannotCloseWhatKeyCallsOpened(t *testing.T) {
	base, tr, reg, clock, _ := healthRig(t)
	getApp := WithOperation(context.Background(), OpGetApp)
	probe := WithOperation(context.Background(), OpProbe)
	base.set(0, context.DeadlineExceeded) // key calls hang until the timeout
	for range FailureThreshold {
		_ = call(t, tr, getApp)
	}
	h := reg.Lookup("http://apigee.test", "acme")
	clock.Advance(FirstCooldown)
	base.set(200, nil) // the probe would be answered at once
	sent := base.sent.Load()
	if _, ok := unreachableErr(call(t, tr, probe)); !ok || base.sent.Load() != sent {
		t.Fatal("the probe went as the trial of failed key calls")
	}
	if st := h.Status(); st.Reachable || st.Trialing {
		t.Fatalf("after the probe: %+v; want still unreachable, no trial under way", st)
	}
	base.set(0, context.DeadlineExceeded)
	if err := call(t, tr, getApp); err == nil {
		t.Fatal("the hanging trial succeeded")
	}
	e, ok := unreachableErr(call(t, tr, getApp))
	if !ok || e.RetryAfter != 2*FirstCooldown {
		t.Fatalf("after a trial that hung: %+v; want a cool-down of %s", e, 2*FirstCooldown)
	}
}

// TestHealthProbeIsTheTrialWhenProbesFailed: an organization that is down
// for every call (the probe failed too) is reopened by a probe.
func TestHealthProbeIsTheTrialWhenProbesFailed(t *testing.T) {
	base, tr, reg, clock, _ := healthRig(t)
	probe := WithOperation(context.Background(), OpProbe)
	base.set(503, nil)
	for range FailureThreshold {
		_ = call(t, tr, probe)
	}
	clock.Advance(FirstCooldown)
	base.set(200, nil)
	if err := call(t, tr, probe); err != nil {
		t.Fatal(err)
	}
	if st := reg.Lookup("http://apigee.test", "acme").Status(); !st.Reachable {
		t.Errorf("after a good probe trial: %+v; want reachable", st)
	}
}

// TestHealthRegistryForgets: a forgotten organization starts afresh.
func TestHealthRegistryForgets(t *testing.T) {
	reg := NewHealthRegistry(nil, nil)
	reg.Organization("http://a", "o").failed(false, OpGetApp, "x")
	reg.Forget("http://a", "o")
	if reg.Len() != 0 || reg.Lookup("http://a", "o") != nil {
		t.Errorf("%d organizations kept after Forget", reg.Len())
	}
}
