package apigee

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"
)

func TestLimiterRegistry(t *testing.T) {
	r := NewLimiterRegistry()
	a := r.Organization("https://apigee.googleapis.com/", "acme", Rate{600, 5})
	if b := r.Organization("https://APIGEE.googleapis.com", "acme", Rate{600, 5}); b != a {
		t.Error("same organization on the same endpoint must share one limiter")
	}
	if c := r.Organization("https://apigee.googleapis.com", "other", Rate{600, 5}); c == a {
		t.Error("another organization must get its own limiter")
	}
	if d := r.Organization("http://ms:8080", "acme", Rate{600, 5}); d == a {
		t.Error("the same name on another endpoint is another organization")
	}
	type limits struct {
		Limit rate.Limit
		Burst int
	}
	r.Organization("https://apigee.googleapis.com", "acme", Rate{1, 1})
	if diff := cmp.Diff(limits{10, 5}, limits{a.Limit(), a.Burst()}); diff != "" {
		t.Errorf("a starting rate must not change an existing budget: -want +got:\n%s", diff)
	}
	r.SetOrganization("https://apigee.googleapis.com", "acme", Rate{1200, 7})
	if diff := cmp.Diff(limits{20, 7}, limits{a.Limit(), a.Burst()}); diff != "" {
		t.Errorf("an administrator's budget must update the shared limiter: -want +got:\n%s", diff)
	}
	def := r.Organization("e", "defaults", Rate{})
	if diff := cmp.Diff(limits{rate.Limit(float64(DefaultXRequestsPerMinute) / 60), DefaultBurst}, limits{def.Limit(), def.Burst()}); diff != "" {
		t.Errorf("zero limits must mean the defaults: -want +got:\n%s", diff)
	}
}

func TestConnectionLimiters(t *testing.T) {
	r := NewLimiterRegistry()
	a := r.Connection("uid-a", Rate{60, 2})
	if r.Connection("uid-a", Rate{120, 3}) != a || a.Limit() != 2 || a.Burst() != 3 {
		t.Errorf("a connection keeps one limiter across rebuilds, updated: got %v/%d", a.Limit(), a.Burst())
	}
	if r.Connection("uid-b", Rate{60, 2}) == a {
		t.Error("each connection must get its own limiter")
	}
	r.ForgetConnection("uid-a")
	if r.Connection("uid-a", Rate{60, 2}) == a {
		t.Error("a forgotten connection must start a new limiter")
	}
	if org := r.Organization("e", "o", Rate{}); org.Limit() != rate.Limit(float64(DefaultXRequestsPerMinute)/60) {
		t.Errorf("connection limiters must not touch the organization's, got %v", org.Limit())
	}
}

func TestPauseLimiterHoldsEveryone(t *testing.T) {
	l := rate.NewLimiter(100, 10)
	pauseLimiter(l, 300*time.Millisecond)
	pauseLimiter(l, 300*time.Millisecond) // concurrent 429s must not add up
	start := time.Now()
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	waited := time.Since(start)
	if waited < 250*time.Millisecond || waited > time.Second {
		t.Errorf("the next request waited %v, want about 300ms", waited)
	}
}
