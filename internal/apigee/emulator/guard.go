package emulator

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"
)

// authorized checks the request's credentials against Options. With neither
// a bearer token nor a basic user configured every request is accepted.
// Both dialects accept both methods: Edge takes bearer tokens from its OAuth
// endpoint, and accepting Basic on X costs nothing in tests.
func (e *Emulator) authorized(r *http.Request) bool {
	o := e.opts
	if o.BearerToken == "" && o.BasicUser == "" {
		return true
	}
	h := r.Header.Get("Authorization")
	if o.BearerToken != "" {
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok && equal(tok, o.BearerToken) {
			return true
		}
	}
	if o.BasicUser != "" {
		if u, p, ok := r.BasicAuth(); ok && equal(u, o.BasicUser) && equal(p, o.BasicPassword) {
			return true
		}
	}
	return false
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// takeQuota admits a request within a sliding one-minute window measured by
// the Clock. When the quota is used up it returns false and the seconds
// until the oldest admitted request leaves the window.
func (e *Emulator) takeQuota() (bool, int) {
	limit := e.opts.RequestsPerMinute
	if limit <= 0 {
		return true, 0
	}
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	cutoff := now.Add(-time.Minute)
	i := 0
	for i < len(e.window) && !e.window[i].After(cutoff) {
		i++
	}
	e.window = e.window[i:]
	if len(e.window) >= limit {
		return false, max(1, retryAfterSeconds(e.window[0].Sub(cutoff)))
	}
	e.window = append(e.window, now)
	return true, 0
}
