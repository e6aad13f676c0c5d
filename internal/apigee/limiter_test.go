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
	a := r.For("https://apigee.googleapis.com/", "acme", 600, 5)
	if b := r.For("https://APIGEE.googleapis.com", "acme", 600, 5); b != a {
		t.Error("same organization on the same endpoint must share one limiter")
	}
	if c := r.For("https://apigee.googleapis.com", "other", 600, 5); c == a {
		t.Error("another organization must get its own limiter")
	}
	if d := r.For("http://ms:8080", "acme", 600, 5); d == a {
		t.Error("the same name on another endpoint is another organization")
	}
	r.For("https://apigee.googleapis.com", "acme", 1200, 7)
	got := struct {
		Limit rate.Limit
		Burst int
	}{a.Limit(), a.Burst()}
	want := struct {
		Limit rate.Limit
		Burst int
	}{20, 7}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changed limits must update the shared limiter: -want +got:\n%s", diff)
	}
	def := r.For("e", "defaults", 0, 0)
	if def.Limit() != rate.Limit(float64(DefaultXRequestsPerMinute)/60) || def.Burst() != DefaultBurst {
		t.Errorf("zero limits must mean the defaults, got %v/%d", def.Limit(), def.Burst())
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
