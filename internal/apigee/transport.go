package apigee

import (
	"context"
	"fmt"
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
	// Metrics records every attempt; nil: none.
	Metrics *Metrics
}

// Transport is the traffic discipline every Apigee request goes through:
// it waits on the connection's own limiter and the organization's before
// each attempt, records
// metrics, logs at V(1) without URL or body, and after a 429 with
// Retry-After holds back the whole organization. It does not retry: that
// needs to know the operation's semantics (see WithRetries).
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
	if err := t.wait(ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	elapsed := time.Since(start)

	op, code := OperationFrom(ctx), statusLabel(resp, err)
	t.opts.Metrics.observe(t.opts.Organization, op, code, elapsed)
	if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
		pauseLimiter(t.opts.Limiter, ParseRetryAfter(resp.Header, time.Now()))
	}
	logr.FromContextOrDiscard(ctx).V(1).Info("Apigee request done",
		"operation", op, "organization", t.opts.Organization, "code", code,
		"duration", elapsed, "keyFingerprint", keyFingerprintFrom(ctx))
	return resp, err
}

// maxConnectionWait is the longest a call waits on its connection's own
// limiter. A longer wait fails at once with ReasonConnectionRateLimit, so a
// tenant's low rateLimit never holds a worker that others' keys need.
const maxConnectionWait = time.Second

// wait takes a token from the connection's own limiter first, then from
// the organization's: a connection throttled by its own setting waits
// without holding a token of the shared budget.
func (t *Transport) wait(ctx context.Context) error {
	if l := t.opts.ConnectionLimiter; l != nil {
		if err := waitBriefly(ctx, l); err != nil {
			return err
		}
	}
	if t.opts.Limiter != nil {
		return t.opts.Limiter.Wait(ctx)
	}
	return nil
}

// waitBriefly takes a token from l if one comes within maxConnectionWait;
// otherwise it takes none and says when to come back.
func waitBriefly(ctx context.Context, l *rate.Limiter) error {
	r := l.Reserve()
	if !r.OK() {
		return l.Wait(ctx) // burst 0: let Wait report it
	}
	d := r.Delay()
	if d > maxConnectionWait {
		r.Cancel()
		return &Error{Class: ClassRateLimited, Reason: ReasonConnectionRateLimit, RetryAfter: d,
			Message: fmt.Sprintf("this connection's own rateLimit allows its next call in %s", d.Round(time.Second))}
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
