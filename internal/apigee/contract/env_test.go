package contract

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/auth"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/connect"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

const (
	org       = "acme"
	developer = "dev@example.com"
	app       = "orders"
	token     = "good-token"
	user      = "admin"
	password  = "good-password"
)

// dialect is one way the operator talks to Apigee.
type dialect struct {
	name     string
	emulator emulator.Dialect
	platform connect.Platform
	// auth returns the client's credentials; tokenURL is the test's OAuth
	// endpoint (which hands out token).
	auth func(tokenURL string) auth.Config
}

var dialects = []dialect{
	{"X", emulator.X, connect.PlatformX, func(string) auth.Config {
		return auth.Config{Method: auth.MethodBearerToken, BearerToken: token}
	}},
	{"EdgeBasic", emulator.Edge, connect.PlatformEdge, func(string) auth.Config {
		return auth.Config{Method: auth.MethodBasic, Username: user, Password: password}
	}},
	{"EdgeOAuth", emulator.Edge, connect.PlatformEdge, func(u string) auth.Config {
		return auth.Config{Method: auth.MethodEdgeOAuth, Username: user, Password: password, TokenURL: u}
	}},
}

// env is an emulator behind an HTTP server, and what the server saw.
type env struct {
	t        *testing.T
	d        dialect
	emu      *emulator.Emulator
	url      string
	tokenURL string
	limiters *apigee.LimiterRegistry
	registry *prometheus.Registry
	metrics  *apigee.Metrics

	mu   sync.Mutex
	seen []wireRequest
}

// wireRequest is what the recording middleware keeps of a request.
type wireRequest struct {
	Method, Query, ContentType string
	BodyLen                    int
}

// newEnv starts the emulator for d. mod may change its options.
func newEnv(t *testing.T, d dialect, mod func(*emulator.Options)) *env {
	t.Helper()
	opts := emulator.Options{Organization: org, BearerToken: token, BasicUser: user, BasicPassword: password}
	if mod != nil {
		mod(&opts)
	}
	e := &env{t: t, d: d, emu: emulator.New(opts), limiters: apigee.NewLimiterRegistry(), registry: prometheus.NewRegistry()}
	e.metrics = apigee.NewMetrics(e.registry)
	srv := httptest.NewServer(e.record(e.emu.Handler(d.emulator)))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	tok := httptest.NewServer(tokenEndpoint())
	t.Cleanup(tok.Close)
	e.tokenURL = tok.URL
	return e
}

// record keeps the method, query, content type and body size of requests.
func (e *env) record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		e.mu.Lock()
		e.seen = append(e.seen, wireRequest{r.Method, r.URL.Query().Get("action"), r.Header.Get("Content-Type"), len(b)})
		e.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// tokenEndpoint is Edge's OAuth endpoint: the password grant for the right
// client and user gets the token the emulator accepts.
func tokenEndpoint() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		cu, cp, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		if cu != "edgecli" || cp != "edgeclisecret" || r.Form.Get("grant_type") != "password" ||
			r.Form.Get("username") != user || r.Form.Get("password") != password {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"unauthorized"}`)
			return
		}
		fmt.Fprintf(w, `{"access_token":%q,"refresh_token":"r","token_type":"bearer","expires_in":1799}`, token)
	})
}

// clientOptions tune a client for a test.
type clientOptions struct {
	retry             apigee.RetryOptions
	requestsPerMinute int
	burst             int
	auth              *auth.Config
}

// fastRetries retries without sleeping, so fault tests run quickly.
func fastRetries(attempts int) apigee.RetryOptions {
	return apigee.RetryOptions{MaxAttempts: attempts, Sleep: func(context.Context, time.Duration) error { return nil }}
}

// client builds a client the way the controller does, through connect.New.
func (e *env) client(o clientOptions) apigee.Client {
	e.t.Helper()
	c, err := e.connect(o)
	if err != nil {
		e.t.Fatalf("connect.New: %v", err)
	}
	return c
}

func (e *env) connect(o clientOptions) (apigee.Client, error) {
	a := e.d.auth(e.tokenURL)
	if o.auth != nil {
		a = *o.auth
	}
	if o.requestsPerMinute == 0 {
		o.requestsPerMinute, o.burst = 600000, 1000 // out of the way unless a test measures it
	}
	return connect.New(context.Background(), connect.Config{
		Platform: e.d.platform, Organization: org, Endpoint: e.url, Auth: a,
		RequestsPerMinute: o.requestsPerMinute, Burst: o.burst,
		Limiters: e.limiters, Metrics: e.metrics, Retry: o.retry, Timeout: 10 * time.Second,
	})
}

func (e *env) requests() []wireRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]wireRequest(nil), e.seen...)
}

// connectAs connects the dialect's client to another organization.
func (e *env) connectAs(organization string) (apigee.Client, error) {
	return connect.New(context.Background(), connect.Config{
		Platform: e.d.platform, Organization: organization, Endpoint: e.url, Auth: e.d.auth(e.tokenURL),
		RequestsPerMinute: 600000, Burst: 1000, Limiters: e.limiters, Metrics: e.metrics,
		Retry: fastRetries(3), Timeout: 10 * time.Second,
	})
}
