package apigee

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

// answer is a base transport that answers every request with code.
type answer struct {
	code       int
	retryAfter string
}

func (a answer) RoundTrip(req *http.Request) (*http.Response, error) {
	h := http.Header{}
	if a.retryAfter != "" {
		h.Set("Retry-After", a.retryAfter)
	}
	return &http.Response{StatusCode: a.code, Header: h, Body: http.NoBody, Request: req}, nil
}

func call(t *testing.T, rt http.RoundTripper, ctx context.Context) error {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://apigee.test/v1/organizations/acme", nil)
	resp, err := rt.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
	}
	return err
}

// tenantAndNeighbour builds two connections to one organization: a
// tenant's capped at one call a minute, and a neighbour's without a cap.
func tenantAndNeighbour(r *LimiterRegistry, base http.RoundTripper) (tenant, neighbour *Transport) {
	org := r.Organization("http://apigee.test", "acme", Rate{})
	tenant = NewTransport(base, TransportOptions{Organization: "acme", Limiter: org,
		ConnectionLimiter: r.Connection("tenant", Rate{PerMinute: 1, Burst: 1})})
	neighbour = NewTransport(base, TransportOptions{Organization: "acme", Limiter: r.Organization("http://apigee.test", "acme", Rate{})})
	return tenant, neighbour
}

// TestTenantRateLimitsOnlyItsOwnCalls: a namespace's requestsPerMinute: 1
// empties its own bucket, not the organization's; the neighbour's calls
// take only shared tokens, which stay at the operator's budget.
func TestTenantRateLimitsOnlyItsOwnCalls(t *testing.T) {
	r := NewLimiterRegistry()
	tenant, neighbour := tenantAndNeighbour(r, answer{code: 200})
	org := r.Organization("http://apigee.test", "acme", Rate{})
	if err := call(t, tenant, context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := r.Connection("tenant", Rate{PerMinute: 1, Burst: 1}).Tokens(); got >= 1 {
		t.Fatalf("the tenant's own bucket must be empty after its call, has %.2f tokens", got)
	}
	// A deadline far shorter than the tenant's refill: Wait fails at once
	// instead of sleeping, so nothing here depends on the clock.
	short, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := call(t, tenant, short); err == nil {
		t.Error("the tenant's second call must wait on its own limiter")
	}
	before := org.Tokens()
	for i := 0; i < DefaultBurst-2; i++ {
		if err := call(t, neighbour, short); err != nil {
			t.Fatalf("the neighbour's call %d was held: %v", i+1, err)
		}
	}
	if org.Limit() != defaultRate.limit() || org.Burst() != DefaultBurst {
		t.Errorf("the organization's budget changed to %v/%d", org.Limit(), org.Burst())
	}
	if used := before - org.Tokens(); used > float64(DefaultBurst-2)+0.01 {
		t.Errorf("the neighbour's %d calls took %.2f shared tokens", DefaultBurst-2, used)
	}
}

// TestTenantTooManyRequestsHoldsTheOrganization: a 429 with Retry-After
// on any connection still pauses the organization's shared limiter.
func TestTenantTooManyRequestsHoldsTheOrganization(t *testing.T) {
	r := NewLimiterRegistry()
	tenant, _ := tenantAndNeighbour(r, answer{code: http.StatusTooManyRequests, retryAfter: "30"})
	if err := call(t, tenant, context.Background()); err != nil {
		t.Fatal(err)
	}
	org := r.Organization("http://apigee.test", "acme", Rate{})
	if got := org.Tokens(); got > -float64(org.Limit())*29 {
		t.Errorf("after Retry-After: 30 the organization must owe about 30 s of tokens, has %.1f", got)
	}
}

// TestConnectionLimitFailsFastWithRetryAfter: a call whose connection's own
// limit has no token for a long while is refused at once with
// ReasonConnectionRateLimit and when to come back, takes no token of the
// organization's budget (nor of its own), and is not retried by the client:
// a worker never waits on a tenant's setting.
func TestConnectionLimitFailsFastWithRetryAfter(t *testing.T) {
	r := NewLimiterRegistry()
	tenant, _ := tenantAndNeighbour(r, answer{code: 200})
	own := r.Connection("tenant", Rate{PerMinute: 1, Burst: 1})
	org := r.Organization("http://apigee.test", "acme", Rate{})
	if err := call(t, tenant, context.Background()); err != nil {
		t.Fatal(err)
	}
	ownBefore, orgBefore := own.Tokens(), org.Tokens()
	err := call(t, tenant, context.Background()) // no deadline: a wait would take a minute
	var e *Error
	if !errors.As(err, &e) || e.Class != ClassRateLimited || e.Reason != ReasonConnectionRateLimit {
		t.Fatalf("err = %v, want RateLimited with reason %s", err, ReasonConnectionRateLimit)
	}
	if e.RetryAfter < 50*time.Second || e.RetryAfter > time.Minute {
		t.Errorf("RetryAfter = %s, want about a minute", e.RetryAfter)
	}
	if own.Tokens() < ownBefore-0.01 || org.Tokens() < orgBefore-0.01 {
		t.Errorf("a refused call took tokens: own %.2f -> %.2f, organization %.2f -> %.2f", ownBefore, own.Tokens(), orgBefore, org.Tokens())
	}
	if _, retry := (RetryOptions{}).withDefaults().Delay(1, e, 0); retry {
		t.Errorf("the client retries a connection-rate-limit refusal, holding the worker")
	}
}
