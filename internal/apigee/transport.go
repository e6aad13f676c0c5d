package apigee

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/time/rate"
)

// TransportOptions configures the traffic transport of one connection.
type TransportOptions struct {
	Organization string
	// Limiter is the organization's shared limiter
	// (LimiterRegistry.Organization); nil: no client-side limit.
	Limiter *rate.Limiter
	// ConnectionLimiter caps this connection's own calls on top of the
	// organization's (LimiterRegistry.Connection); nil: no cap of its own.
	ConnectionLimiter *rate.Limiter
	// Health is the organization's circuit breaker (HealthRegistry);
	// nil: none.
	Health *Health
	// Metrics records every attempt; nil: none.
	Metrics *Metrics
}

// Transport is the traffic discipline every Apigee request goes through:
// it fails at once while the organization is unreachable (Health), takes a
// token from the connection's own limiter and the organization's without
// waiting more than a second for either, records metrics, logs at V(1)
// without URL or body, after a 429 with Retry-After holds back the whole
// organization, and tells Health how the attempt went. It does not retry:
// that needs to know the operation's semantics (see WithRetries).
type Transport struct {
	base http.RoundTripper
	opts TransportOptions
}

// NewTransport wraps base (nil: http.DefaultTransport).
func NewTransport(base http.RoundTripper, opts TransportOptions) *Transport {
	if base == nil {
		base = http.DefaultTransport
	}
	return &Transport{base: base, opts: opts}
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	op := OperationFrom(ctx)
	trial, err := t.opts.Health.admit(op)
	if err != nil {
		return nil, err
	}
	if err := t.wait(ctx); err != nil {
		t.opts.Health.abandon(trial)
		return nil, err
	}
	traced, phases := withPhases(ctx)
	start := time.Now()
	resp, err := t.base.RoundTrip(req.WithContext(traced))
	elapsed := time.Since(start)

	code := statusLabel(resp, err)
	t.opts.Metrics.observe(t.opts.Organization, op, code, elapsed)
	if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
		pauseLimiter(t.opts.Limiter, ParseRetryAfter(resp.Header, time.Now()))
	}
	logr.FromContextOrDiscard(ctx).V(1).Info("Apigee request done",
		"operation", op, "organization", t.opts.Organization, "code", code,
		"duration", elapsed, "keyFingerprint", keyFingerprintFrom(ctx))
	if err != nil {
		t.recordFailure(ctx, trial, op, describeFailure(op, phases.get(), err, ctx, elapsed))
		return nil, err
	}
	if serverDown(resp.StatusCode) {
		t.opts.Health.failed(trial, op, fmt.Sprintf("%s answered HTTP %d", op, resp.StatusCode))
		return resp, nil
	}
	// The answer counts once its body is in: a body that stalls until the
	// deadline is no answer either.
	phases.set(phaseReading)
	resp.Body = &watchedBody{ReadCloser: resp.Body, done: func(err error) {
		if err == io.EOF {
			t.opts.Health.succeeded(trial)
			return
		}
		t.recordFailure(ctx, trial, op, describeFailure(op, phaseReading, err, ctx, time.Since(start)))
	}}
	return resp, nil
}

// recordFailure tells the organization's Health of an attempt that got no
// usable answer (what says why); a caller that gave up (cancelled) says
// nothing either way.
func (t *Transport) recordFailure(ctx context.Context, trial bool, op, what string) {
	if errors.Is(ctx.Err(), context.Canceled) && !deadlinePassed(ctx) {
		t.opts.Health.abandon(trial)
		return
	}
	t.opts.Health.failed(trial, op, what)
}

// serverDown: the statuses of a server or gateway that cannot serve. Not
// 500: Edge answers some request errors with it (a product not on the
// key), and a tenant could otherwise send requests that make a shared
// organization look down.
func serverDown(code int) bool {
	return code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

// maxWait is the longest a call waits for a token of either limiter. A
// longer wait fails at once with when to come back (ReasonConnectionRateLimit
// or ReasonOrganizationBusy), so no worker is held by a throttled
// connection or organization while other organizations' keys wait.
const maxWait = time.Second

// ReasonOrganizationBusy: the organization's budget allows the next call
// only after RetryAfter. The caller comes back then instead of waiting.
const ReasonOrganizationBusy = "OrganizationBusy"

// wait takes a token from the connection's own limiter first, then from
// the organization's: a connection throttled by its own setting waits
// without holding a token of the shared budget.
func (t *Transport) wait(ctx context.Context) error {
	if l := t.opts.ConnectionLimiter; l != nil {
		if err := waitBriefly(ctx, l, ReasonConnectionRateLimit, "this connection's own rateLimit"); err != nil {
			return err
		}
	}
	if l := t.opts.Limiter; l != nil {
		return waitBriefly(ctx, l, ReasonOrganizationBusy, "the organization's call budget")
	}
	return nil
}

// waitBriefly takes a token from l if one comes within maxWait;
// otherwise it takes none and says, with reason, when to come back.
func waitBriefly(ctx context.Context, l *rate.Limiter, reason, whose string) error {
	r := l.Reserve()
	if !r.OK() {
		return l.Wait(ctx) // burst 0: let Wait report it
	}
	d := r.Delay()
	if d > maxWait {
		r.Cancel()
		return &Error{Class: ClassRateLimited, Reason: reason, RetryAfter: d,
			Message: fmt.Sprintf("%s allows the next call in %s", whose, d.Round(time.Second))}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return ctx.Err()
	}
}

func statusLabel(resp *http.Response, err error) string {
	if err != nil || resp == nil {
		return "error"
	}
	return strconv.Itoa(resp.StatusCode)
}
