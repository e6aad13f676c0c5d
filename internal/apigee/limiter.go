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

// Rate is a token bucket: calls a minute and how many may go at once.
type Rate struct {
	PerMinute, Burst int
}

// or fills r's zero fields from def.
func (r Rate) or(def Rate) Rate {
	if r.PerMinute <= 0 {
		r.PerMinute = def.PerMinute
	}
	if r.Burst <= 0 {
		r.Burst = def.Burst
	}
	return r
}

// apply sets l's limits to r, leaving the bucket's tokens alone.
func (r Rate) apply(l *rate.Limiter) {
	if limit := r.limit(); l.Limit() != limit {
		l.SetLimit(limit)
	}
	if l.Burst() != r.Burst {
		l.SetBurst(r.Burst)
	}
}

func (r Rate) limit() rate.Limit { return rate.Limit(float64(r.PerMinute) / 60) }

// NewLimiter returns a new token bucket at r (zero fields: the defaults).
func (r Rate) NewLimiter() *rate.Limiter {
	r = r.or(defaultRate)
	return rate.NewLimiter(r.limit(), r.Burst)
}

// defaultRate fills what a caller leaves unset: the lower platform default.
var defaultRate = Rate{PerMinute: DefaultXRequestsPerMinute, Burst: DefaultBurst}

// LimiterRegistry hands out the limiters of the process. Each organization
// has one shared limiter, its budget, that every call to it waits on. A
// connection may also have a limiter of its own that caps only its calls.
// Tenancy: only an administrator's setting (the operator's flag, a
// ClusterApigeeConnection) may change an organization's budget, so no
// namespace can slow, or raise the budget of, another's calls.
type LimiterRegistry struct {
	mu    sync.Mutex
	orgs  map[string]*rate.Limiter
	conns map[string]*rate.Limiter
}

// NewLimiterRegistry returns an empty registry.
func NewLimiterRegistry() *LimiterRegistry {
	return &LimiterRegistry{orgs: map[string]*rate.Limiter{}, conns: map[string]*rate.Limiter{}}
}

// Organization returns the organization's shared limiter, created at start
// when new (zero fields: DefaultXRequestsPerMinute, DefaultBurst). An
// existing limiter keeps its limits: only SetOrganization changes them.
func (r *LimiterRegistry) Organization(endpoint, org string, start Rate) *rate.Limiter {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.organization(endpoint, org, start)
}

// SetOrganization sets the organization's budget and returns its limiter.
// Callers pass administrators' settings only, never a namespace's.
func (r *LimiterRegistry) SetOrganization(endpoint, org string, budget Rate) *rate.Limiter {
	budget = budget.or(defaultRate)
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.organization(endpoint, org, budget)
	budget.apply(l)
	return l
}

func (r *LimiterRegistry) organization(endpoint, org string, start Rate) *rate.Limiter {
	key := OrgKey(endpoint, org)
	l, ok := r.orgs[key]
	if !ok {
		l = start.NewLimiter()
		r.orgs[key] = l
	}
	return l
}

// ForgetOrganization drops the organization's limiter: no connection
// reaches it any more.
func (r *LimiterRegistry) ForgetOrganization(endpoint, org string) {
	r.mu.Lock()
	delete(r.orgs, OrgKey(endpoint, org))
	r.mu.Unlock()
}

// Len is how many organization and connection limiters are kept.
func (r *LimiterRegistry) Len() (orgs, conns int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.orgs), len(r.conns)
}

// Lookup returns the organization's shared limiter, or nil before its
// first client.
func (r *LimiterRegistry) Lookup(endpoint, org string) *rate.Limiter {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.orgs[OrgKey(endpoint, org)]
}

// OrgKey names an organization wherever it is served: the endpoint (case
// and trailing slash aside) and the organization's name. Limits and health
// are per OrgKey, so a server that merely names the same organization
// shares nothing with the real one.
func OrgKey(endpoint, org string) string {
	return strings.ToLower(strings.TrimRight(endpoint, "/")) + "|" + org
}

// Connection returns the limiter that caps one connection's own calls,
// kept under id across client rebuilds (so rebuilding grants no fresh
// burst) and updated to own (zero fields: the defaults).
func (r *LimiterRegistry) Connection(id string, own Rate) *rate.Limiter {
	own = own.or(defaultRate)
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.conns[id]
	if !ok {
		l = own.NewLimiter()
		r.conns[id] = l
	}
	own.apply(l)
	return l
}

// ForgetConnection drops a deleted connection's limiter.
func (r *LimiterRegistry) ForgetConnection(id string) {
	r.mu.Lock()
	delete(r.conns, id)
	r.mu.Unlock()
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
