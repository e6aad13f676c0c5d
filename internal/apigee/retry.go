package apigee

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Retry defaults: five attempts within a few seconds, so a reconcile
// rides out a blip but hands longer outages to the work queue's backoff.
const (
	DefaultMaxAttempts   = 5
	DefaultBaseDelay     = 100 * time.Millisecond
	DefaultMaxDelay      = 3 * time.Second
	DefaultMaxRetryAfter = time.Second
)

// RetryOptions bounds retries. The zero value means the defaults.
type RetryOptions struct {
	MaxAttempts int           // attempts in all, including the first
	BaseDelay   time.Duration // delay before the second attempt, doubled each time
	MaxDelay    time.Duration // cap of the exponential delay
	// MaxRetryAfter: a server asking to wait longer is not retried here;
	// the RateLimited error goes back to the caller, which comes back when
	// the organization has budget again (the transport pauses it).
	MaxRetryAfter time.Duration
	// Sleep waits d or until ctx is done; tests inject a fast one.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a number in [0,1); tests inject a fixed one.
	Jitter func() float64
}

func (o RetryOptions) withDefaults() RetryOptions {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = DefaultBaseDelay
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
	return o
}

// Delay decides whether attempt (1-based) failing with err is retried and
// after how long: only RateLimited and Unavailable, within MaxAttempts, an
// exponential delay with equal jitter (half fixed, half random), and never
// shorter than the server's Retry-After.
func (o RetryOptions) Delay(attempt int, err error, jitter float64) (time.Duration, bool) {
	if attempt >= o.MaxAttempts || !Retryable(err) {
		return 0, false
	}
	d := o.MaxDelay
	if shift := attempt - 1; shift < 30 && o.BaseDelay<<shift < o.MaxDelay {
		d = o.BaseDelay << shift
	}
	d = d/2 + time.Duration(jitter*float64(d/2))
	var e *Error
	if errors.As(err, &e) && handBack[e.Reason] {
		return 0, false // the caller comes back later; waiting here would hold a worker
	}
	if errors.As(err, &e) && e.RetryAfter > d {
		if e.RetryAfter > o.MaxRetryAfter {
			return 0, false
		}
		d = e.RetryAfter
	}
	return d, true
}

// handBack are the failures not retried within a call: waiting for them
// would hold a worker (a throttled connection or organization, one that
// is not answering), or the attempt already cost the whole timeout.
var handBack = map[string]bool{
	ReasonConnectionRateLimit:     true,
	ReasonOrganizationBusy:        true,
	ReasonOrganizationUnreachable: true,
	ReasonTimeout:                 true,
}

// wait sleeps before the next attempt unless ctx ends first or its
// deadline comes before the attempt could start.
func (o RetryOptions) wait(ctx context.Context, d time.Duration) error {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.DeadlineExceeded
	}
	return o.Sleep(ctx, d)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
