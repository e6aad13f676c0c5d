package apigee

import (
	"math"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Default client-side limits, below the platform quotas (6,000 calls a
// minute on X/hybrid, 10,000 on Edge) so people and pipelines sharing the
// organization keep some room.
const (
	DefaultXRequestsPerMinute    = 4800
	DefaultEdgeRequestsPerMinute = 8000
	DefaultBurst                 = 20
)

// LimiterRegistry hands out one token bucket per organization, shared by
// every client of that organization in the process.
type LimiterRegistry struct {
	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// NewLimiterRegistry returns an empty registry.
func NewLimiterRegistry() *LimiterRegistry {
	return &LimiterRegistry{limiters: map[string]*rate.Limiter{}}
}

// For returns the organization's limiter, creating it or updating its
// limits when they changed. requestsPerMinute <= 0 means
// DefaultXRequestsPerMinute (the lower default); burst <= 0 means DefaultBurst.
func (r *LimiterRegistry) For(endpoint, org string, requestsPerMinute, burst int) *rate.Limiter {
	if requestsPerMinute <= 0 {
		requestsPerMinute = DefaultXRequestsPerMinute
	}
	if burst <= 0 {
		burst = DefaultBurst
	}
	limit := rate.Limit(float64(requestsPerMinute) / 60)
	key := strings.ToLower(strings.TrimRight(endpoint, "/")) + "|" + org

	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.limiters[key]
	if !ok {
		l = rate.NewLimiter(limit, burst)
		r.limiters[key] = l
		return l
	}
	if l.Limit() != limit {
		l.SetLimit(limit)
	}
	if l.Burst() != burst {
		l.SetBurst(burst)
	}
	return l
}

// maxPause bounds how long one Retry-After can hold an organization, in
// case a server or proxy sends a silly value.
const maxPause = 5 * time.Minute

// pauseLimiter makes l hand out no token for d from now, so every client
// of the organization waits after a 429 with Retry-After. It reserves the
// tokens l would produce in that time; reservations that already reach
// further are left alone, so concurrent 429s do not add up.
func pauseLimiter(l *rate.Limiter, d time.Duration) {
	if l == nil || l.Limit() == rate.Inf || l.Burst() <= 0 || d <= 0 {
		return
	}
	d = min(d, maxPause)
	now := time.Now()
	target := -float64(l.Limit()) * d.Seconds()
	for {
		need := l.TokensAt(now) - target
		if need < 1 {
			return
		}
		n := min(int(math.Ceil(need)), l.Burst())
		if !l.ReserveN(now, n).OK() {
			return
		}
	}
}
