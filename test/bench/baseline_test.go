package bench

import (
	"fmt"
	"net/http"
	"time"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/x"
)

// baseline is the documented procedure a user would otherwise script:
// import the key, then add its products, one key at a time.
type baseline struct {
	keys    int
	elapsed time.Duration
	calls   callCounts
}

func (b baseline) perKey() time.Duration {
	if b.keys == 0 {
		return 0
	}
	return b.elapsed / time.Duration(b.keys)
}

// extrapolated is the time for n keys at the measured pace: one key at a
// time never comes near the quota, so the pace does not change with n.
func (b baseline) extrapolated(n int) time.Duration { return b.perKey() * time.Duration(n) }

// sequentialBaseline imports n keys into the org's baseline apps through
// the X client, with no limiter or retries: two calls a key, each after
// the one before. It favours the script: plain HTTP on one kept-alive
// connection, no token refresh, no checks between steps.
func (h *harness) sequentialBaseline(o *org, n int) baseline {
	const perApp = 100
	apps := (n + perApp - 1) / perApp
	for a := range apps {
		if _, err := o.emu.AddApp(developer, baselineApp(a)); err != nil {
			h.b.Fatal(err)
		}
	}
	c, err := x.New(x.Config{Endpoint: o.url, Organization: o.name,
		HTTPClient: &http.Client{Transport: bearer{http.DefaultTransport}}})
	if err != nil {
		h.b.Fatal(err)
	}
	calls0 := o.calls.snapshot()
	start := time.Now()
	for i := range n {
		app := baselineApp(i / perApp)
		key := fmt.Sprintf("baselineKey%d", i)
		if _, err := c.ImportKey(h.ctx, developer, app, apigee.ImportRequest{ConsumerKey: key, ConsumerSecret: fmt.Sprintf("baselineSecret%d", i)}); err != nil {
			h.b.Fatalf("baseline import %d: %v", i, err)
		}
		if _, err := c.AddProducts(h.ctx, apigee.KeyRef{Developer: developer, App: app, ConsumerKey: key}, []string{"p1", "p2"}, nil); err != nil {
			h.b.Fatalf("baseline add products %d: %v", i, err)
		}
	}
	return baseline{keys: n, elapsed: time.Since(start), calls: o.calls.snapshot().since(calls0)}
}

func baselineApp(a int) string { return fmt.Sprintf("baseline-%d", a) }

// bearer adds the emulator's token to every request.
type bearer struct{ base http.RoundTripper }

func (t bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+token)
	return t.base.RoundTrip(r)
}
