package apigee

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// phaseTimeout is the attempt timeout of the phase tests: short, since
// each test waits it out once.
const phaseTimeout = 300 * time.Millisecond

// phaseCall makes one GetApp call through a Transport on base, with an
// http.Client timeout as connect.New sets one, reads the whole body as the
// clients do, and returns the error as a client reports it and what the
// organization's Health recorded.
func phaseCall(t *testing.T, base http.RoundTripper, url string) (*Error, HealthStatus) {
	t.Helper()
	reg := NewHealthRegistry(nil, nil)
	h := reg.Organization("http://apigee.test", "acme")
	hc := &http.Client{Timeout: phaseTimeout, Transport: NewTransport(base, TransportOptions{Organization: "acme", Health: h})}
	req, err := http.NewRequestWithContext(WithOperation(context.Background(), OpGetApp), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("the call succeeded; want it to run out of time")
	}
	return ErrorFromTransport(OpGetApp, err, Redactor{}), h.Status()
}

// assertTimedOut: the caller is told "timed out" and Health records no
// answer in time, in the phase given.
func assertTimedOut(t *testing.T, e *Error, st HealthStatus, phase string) {
	t.Helper()
	if e.Reason != ReasonTimeout {
		t.Errorf("the caller's error: reason %q (%s); want %q", e.Reason, e.Message, ReasonTimeout)
	}
	want := "GetApp got no answer within 0s (" + phase + ")"
	if st.Failures != 1 || st.Last != want {
		t.Errorf("Health recorded %d failures, last %q; want 1, %q", st.Failures, st.Last, want)
	}
}

// TestDeadlineWhileConnecting: a dial that never completes (a SYN nobody
// answers, a full accept queue) is a timeout while connecting, not "could
// not connect".
func TestDeadlineWhileConnecting(t *testing.T) {
	base := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	e, st := phaseCall(t, base, "http://apigee.test/v1/organizations/acme")
	assertTimedOut(t, e, st, "connecting")
}

// TestDeadlineInTLSHandshake: a server that accepts the connection and
// never answers the TLS ClientHello.
func TestDeadlineInTLSHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			held <- c // accepted, never spoken to
		}
	}()
	defer func() {
		select {
		case c := <-held:
			c.Close()
		default:
		}
	}()
	e, st := phaseCall(t, &http.Transport{}, "https://"+ln.Addr().String()+"/v1/organizations/acme")
	assertTimedOut(t, e, st, "in the TLS handshake")
}

// TestDeadlineWaitingForHeaders: the endpoint accepts the request and
// never answers it (the emulator's hanging fault, a stuck gateway).
func TestDeadlineWaitingForHeaders(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	e, st := phaseCall(t, &http.Transport{}, srv.URL+"/v1/organizations/acme")
	assertTimedOut(t, e, st, "waiting for the response")
}

// TestDeadlineReadingTheBody: headers and part of the body come, then the
// body stalls. That is no answer either: before, the headers alone counted
// as one, so an endpoint stalling every body never opened the breaker.
func TestDeadlineReadingTheBody(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"name":"orders-app",`)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	e, st := phaseCall(t, &http.Transport{}, srv.URL+"/v1/organizations/acme")
	assertTimedOut(t, e, st, "reading the response")
}

// TestRefusedConnectionCouldNotConnect: a connection refused before the
// deadline is what "could not connect" means.
func TestRefusedConnectionCouldNotConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	e, st := phaseCall(t, &http.Transport{}, "http://"+addr+"/v1/organizations/acme")
	if e.Reason == ReasonTimeout {
		t.Errorf("a refused connection reported as a timeout: %s", e.Message)
	}
	if st.Last != "GetApp could not connect" {
		t.Errorf("Health recorded %q; want %q", st.Last, "GetApp could not connect")
	}
}

// TestAnsweredBodyCountsOnceRead: a whole answer closes a trial only
// when its body is in; one closed early (a size limit) counts too.
func TestAnsweredBodyCountsOnceRead(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 1<<16))
	}))
	defer srv.Close()
	h := NewHealthRegistry(nil, nil).Organization("http://apigee.test", "acme")
	for range FailureThreshold {
		h.failed(false, OpGetApp, "GetApp answered HTTP 503")
	}
	h.openUntil = time.Now().Add(-time.Second) // the cool-down is over: the next call is the trial
	hc := &http.Client{Transport: NewTransport(nil, TransportOptions{Organization: "acme", Health: h})}
	resp, err := hc.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if h.Status().Reachable {
		t.Fatal("reachable before the trial's body was read")
	}
	_, _ = io.ReadFull(resp.Body, make([]byte, 10))
	resp.Body.Close()
	if !h.Status().Reachable {
		t.Error("a trial whose answer was read (and closed early) should close the breaker")
	}
}

// pastDeadline is a context whose deadline has passed but which does not
// say so yet: the moment between an http.Client's two timeout timers.
type pastDeadline struct{ context.Context }

func (pastDeadline) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

// TestDescribeFailureByTheClock: a failure after the deadline is a
// timeout even when the context has not yet said so and the transport's
// words say "canceled while waiting for connection" (the race that made
// a hanging endpoint read "could not connect" on a loaded machine).
func TestDescribeFailureByTheClock(t *testing.T) {
	cases := map[string]struct {
		reason string
		ctx    context.Context
		err    error
		phase  callPhase
		want   string
	}{
		"race": {reason: "the Cancel channel closed before the context's timer fired",
			ctx: pastDeadline{context.Background()}, err: errors.New("net/http: request canceled while waiting for connection"),
			phase: phaseConnecting, want: "ImportKey got no answer within 3s (connecting)"},
		"refused": {reason: "a refusal within the deadline",
			ctx: context.Background(), err: errors.New("dial tcp: connection refused"),
			phase: phaseConnecting, want: "ImportKey could not connect"},
		"reset": {reason: "the connection broke mid-body, within the deadline",
			ctx: context.Background(), err: errors.New("read: connection reset by peer"),
			phase: phaseReading, want: "ImportKey lost the connection while reading the response"},
	}
	for name, tc := range cases {
		if got := describeFailure(OpImportKey, tc.phase, tc.err, tc.ctx, 3*time.Second); got != tc.want {
			t.Errorf("%s (%s): %q; want %q", name, tc.reason, got, tc.want)
		}
	}
}
