package apigee

import (
	"context"
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

// wait takes a token from the connection's own limiter first, then from
// the organization's: a connection throttled by its own setting waits
// without holding a token of the shared budget.
func (t *Transport) wait(ctx context.Context) error {
	for _, l := range []*rate.Limiter{t.opts.ConnectionLimiter, t.opts.Limiter} {
		if l == nil {
			continue
		}
		if err := l.Wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

func statusLabel(resp *http.Response, err error) string {
	if err != nil || resp == nil {
		return "error"
	}
	return strconv.Itoa(resp.StatusCode)
}
