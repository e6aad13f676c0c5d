package apigee

import (
	"fmt"
	"sync"
	"time"
)

// Health thresholds: after FailureThreshold attempts in a row that timed
// out, failed to connect or answered 502, 503 or 504, an organization is unreachable
// and its calls fail at once for a cool-down, first FirstCooldown, doubled
// after each failed trial up to MaxCooldown. Five, not fewer, so a burst of
// 503s that retries ride out does not stop everyone's calls.
const (
	FailureThreshold = 5
	FirstCooldown    = 5 * time.Second
	MaxCooldown      = 5 * time.Minute
)

// ReasonOrganizationUnreachable: the organization stopped answering (see
// Health); the call was not made. RetryAfter says when the next trial may go.
const ReasonOrganizationUnreachable = "OrganizationUnreachable"

// Health is one organization's circuit breaker, shared by every connection
// to it (endpoint and organization). While it is open no call waits on the
// organization: each fails at once, so a hanging endpoint holds no worker
// beyond the calls that found out. When the cool-down ends, one call of a
// kind that failed goes as a trial; its success closes the breaker, its
// failure (a trial that hangs until the timeout included) reopens it for
// twice as long.
//
// Why the kind: the probe (GET organization) is cheap and an endpoint a
// tenant runs can answer it at once while holding every key call. Were the
// probe the trial, each success would wake every key to hang again.
type Health struct {
	mu        sync.Mutex
	now       func() time.Time
	onChange  func()
	failures  int
	openUntil time.Time // zero: closed
	cooldown  time.Duration
	trialing  bool
	last      string
	// failedKinds are the kinds of call (callKind) that failed since
	// the breaker last closed: only those may be its trial.
	failedKinds map[callKind]bool
}

// callKind groups operations by what answering them proves: the probe,
// or the key and app calls.
type callKind bool

const (
	probeCall callKind = true
	keyCall   callKind = false
)

func kindOf(op string) callKind { return callKind(op == OpProbe) }

// HealthStatus is what people are told about an organization.
type HealthStatus struct {
	Reachable bool
	// Failures in a row, and the last one (operation and what happened;
	// never a URL or a key).
	Failures int
	Last     string
	// NextTrial is when a call may go again while unreachable; Trialing
	// says one is under way.
	NextTrial time.Time
	Trialing  bool
	// KeyCallTrial: only a key or app call may be the next trial (those
	// failed, the probe did not), so the probe cannot tell whether the
	// organization answers again: a key must make the trial.
	KeyCallTrial bool
}

// Status returns the organization's health now.
func (h *Health) Status() HealthStatus {
	if h == nil {
		return HealthStatus{Reachable: true}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return HealthStatus{Reachable: h.openUntil.IsZero(), Failures: h.failures, Last: h.last, NextTrial: h.openUntil, Trialing: h.trialing,
		KeyCallTrial: !h.openUntil.IsZero() && !h.failedKinds[probeCall]}
}

// admit lets a call go, and says whether it is the trial of an open
// breaker; otherwise it returns ReasonOrganizationUnreachable.
func (h *Health) admit(op string) (trial bool, err error) {
	if h == nil {
		return false, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.openUntil.IsZero() {
		return false, nil
	}
	now := h.now()
	if !h.trialing && !now.Before(h.openUntil) && h.failedKinds[kindOf(op)] {
		h.trialing = true
		return true, nil
	}
	next := h.openUntil
	if next.Before(now) {
		next = now // a trial is under way
	}
	return false, &Error{Class: ClassUnavailable, Reason: ReasonOrganizationUnreachable, Operation: op,
		RetryAfter: next.Sub(now), Message: h.describe()}
}

// describe says why calls are held; h.mu is held.
func (h *Health) describe() string {
	return fmt.Sprintf("the organization is not answering (%d calls in a row failed; last: %s); "+
		"calls are held until a trial call succeeds", h.failures, h.last)
}

// succeeded records an answer that was not a server failure. While the
// breaker is open only its trial closes it: a call let through before it
// opened proves nothing about the calls that failed.
func (h *Health) succeeded(trial bool) {
	if h == nil {
		return
	}
	h.mu.Lock()
	changed := !h.openUntil.IsZero()
	if changed && !trial {
		h.mu.Unlock()
		return
	}
	h.failures, h.openUntil, h.cooldown, h.last, h.trialing, h.failedKinds = 0, time.Time{}, 0, "", false, nil
	h.mu.Unlock()
	if changed {
		h.notify()
	}
}

// failed records an attempt of op that timed out, could not connect or
// answered 5xx; what says which, without URL or key.
func (h *Health) failed(trial bool, op, what string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.failures++
	h.last = what
	if h.failedKinds == nil {
		h.failedKinds = map[callKind]bool{}
	}
	h.failedKinds[kindOf(op)] = true
	opened := false
	switch {
	case trial:
		h.trialing = false
		h.cooldown = min(2*h.cooldown, MaxCooldown)
		h.openUntil = h.now().Add(h.cooldown)
		opened = true
	case h.openUntil.IsZero() && h.failures >= FailureThreshold:
		h.cooldown = FirstCooldown
		h.openUntil = h.now().Add(h.cooldown)
		opened = true
	}
	h.mu.Unlock()
	if opened {
		h.notify()
	}
}

// abandon gives a trial back when the caller gave up before an answer.
func (h *Health) abandon(trial bool) {
	if h == nil || !trial {
		return
	}
	h.mu.Lock()
	h.trialing = false
	h.mu.Unlock()
}

func (h *Health) notify() {
	if h.onChange != nil {
		h.onChange()
	}
}

// HealthRegistry keeps one Health per organization (endpoint and name).
type HealthRegistry struct {
	mu       sync.Mutex
	now      func() time.Time
	onChange func(orgKey string)
	orgs     map[string]*Health
}

// NewHealthRegistry returns an empty registry; onChange (may be nil) is
// called, outside any lock, when an organization becomes unreachable or
// reachable again, or its cool-down is renewed.
func NewHealthRegistry(now func() time.Time, onChange func(orgKey string)) *HealthRegistry {
	if now == nil {
		now = time.Now
	}
	return &HealthRegistry{now: now, onChange: onChange, orgs: map[string]*Health{}}
}

// Organization returns the organization's Health, created when new.
func (r *HealthRegistry) Organization(endpoint, org string) *Health {
	key := OrgKey(endpoint, org)
	r.mu.Lock()
	defer r.mu.Unlock()
	h, ok := r.orgs[key]
	if !ok {
		h = &Health{now: r.now}
		if r.onChange != nil {
			h.onChange = func() { r.onChange(key) }
		}
		r.orgs[key] = h
	}
	return h
}

// Forget drops the organization's Health: no connection reaches it any
// more. A connection that comes back starts with a closed breaker.
func (r *HealthRegistry) Forget(endpoint, org string) {
	r.mu.Lock()
	delete(r.orgs, OrgKey(endpoint, org))
	r.mu.Unlock()
}

// Len is how many organizations have a Health.
func (r *HealthRegistry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.orgs)
}

// Lookup returns the organization's Health, or nil before its first client.
func (r *HealthRegistry) Lookup(endpoint, org string) *Health {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.orgs[OrgKey(endpoint, org)]
}
