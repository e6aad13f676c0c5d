package contract

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/auth"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/x"
)

// Issue 11: both clients against an emulator as strict as the record.

func apiErr(t *testing.T, err error) *apigee.Error {
	t.Helper()
	var e *apigee.Error
	if !errors.As(err, &e) {
		t.Fatalf("want an *apigee.Error, got %v", err)
	}
	return e
}

// TestScopesMustBeDefined (gap 1): a scope none of the key's products
// defines is a final request error naming the scope; defined ones pass.
func TestScopesMustBeDefined(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, d, nil)
			f := seed(t, e)
			c := e.client(clientOptions{retry: fastRetries(3)})
			if err := imported("auto1")(ctx, c); err != nil {
				t.Fatal(err)
			}
			_, err := c.SetScopes(ctx, f.ref, []string{"read", "undefined-scope"})
			ae := apiErr(t, err)
			if ae.Class != apigee.ClassInvalid || apigee.Retryable(err) || !strings.Contains(ae.Message, "undefined-scope") {
				t.Errorf("undefined scope: %v", err)
			}
			if ae.Reason != apigee.ReasonInvalidScopes {
				t.Errorf("the code keymanagement.service.InvalidScopes (Edge body, X details) not recognised: %+v", ae)
			}
			if e.emu.Calls(emulator.OpReplaceKey) != 1 {
				t.Errorf("a refused scope was retried")
			}
			k, err := c.SetScopes(ctx, f.ref, []string{"read", "write"})
			if err != nil || len(k.Scopes) != 2 {
				t.Errorf("defined scopes: %v %v", k, err)
			}
		})
	}
}

// TestEmailsLowerCase (gap 2): the X client sends a mixed-case email in
// lower case, which X (which stores only lower case) requires in paths.
func TestEmailsLowerCase(t *testing.T) {
	d := dialects[0]
	ctx := context.Background()
	e := newEnv(t, d, nil)
	seed(t, e)
	c := e.client(clientOptions{retry: fastRetries(1)})
	const mixed = "Dev@Example.COM"
	if _, err := c.ImportKey(ctx, mixed, app, apigee.ImportRequest{ConsumerKey: key, ConsumerSecret: secret}); err != nil {
		t.Fatalf("import for %s: %v", mixed, err)
	}
	a, err := c.GetApp(ctx, mixed, app)
	if err != nil || len(a.Credentials) != 2 {
		t.Fatalf("GetApp for %s: %v", mixed, err)
	}
	for _, call := range e.emu.CallLog() {
		if strings.Contains(call.Path, "Dev@") {
			t.Errorf("email sent in capitals: %s", call.Path)
		}
	}
}

// TestEdgeEmailsAsWritten (issue 24, item 4): Edge keeps a developer's
// email in the case it was created with (apigee-edge-js test/developer.js;
// apigee/devrel issue 696). Whether Edge finds it in another case is not
// on record, so the Edge client sends the email as the spec writes it and
// is tested against both readings: the spec in the stored case works in
// both, another case only where Edge ignores case, and is otherwise a
// final developer-not-found.
func TestEdgeEmailsAsWritten(t *testing.T) {
	const stored = "Mixed.Case@Example.com"
	for _, exact := range []bool{false, true} {
		for _, d := range dialects[1:] {
			t.Run(fmt.Sprintf("%s/exactCase=%v", d.name, exact), func(t *testing.T) {
				ctx := context.Background()
				e := newEnv(t, d, func(o *emulator.Options) { o.EdgeEmailsExactCase = exact })
				seed(t, e)
				e.emu.AddDeveloper(stored)
				if _, err := e.emu.AddApp(stored, app); err != nil {
					t.Fatal(err)
				}
				c := e.client(clientOptions{retry: fastRetries(3)})
				if _, err := c.ImportKey(ctx, stored, app, apigee.ImportRequest{ConsumerKey: key, ConsumerSecret: secret}); err != nil {
					t.Fatalf("import for %s as stored: %v", stored, err)
				}
				if a, err := c.GetApp(ctx, stored, app); err != nil || len(a.Credentials) != 2 {
					t.Fatalf("GetApp as stored: %v", err)
				}
				for _, call := range e.emu.CallLog() {
					if strings.Contains(call.Path, "/developers/") && !strings.Contains(call.Path, stored) {
						t.Errorf("email not sent as written: %s", call.Path)
					}
				}
				_, err := c.GetApp(ctx, strings.ToLower(stored), app)
				switch {
				case !exact && err != nil:
					t.Errorf("another case where Edge ignores case: %v", err)
				case exact && (!apigee.IsNotFound(err, apigee.ResourceDeveloper) || apigee.Retryable(err)):
					t.Errorf("another case where Edge matches case: want a final developer not found, got %v", err)
				}
			})
		}
	}
}

// TestEdgeKeyAttributes (gap 3): Edge sets key attributes through POST
// K/attributes (its reference requires apiProducts on POST K), X through
// POST K; both answer the whole key with the new attributes.
func TestEdgeKeyAttributes(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, d, nil)
			f := seed(t, e)
			c := e.client(clientOptions{retry: fastRetries(1)})
			if err := imported("auto1")(ctx, c); err != nil {
				t.Fatal(err)
			}
			e.emu.ResetCalls()
			k, err := c.SetAttributes(ctx, f.ref, []apigee.Attribute{{Name: "tier", Value: "gold"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(k.Attributes) != 1 || len(k.Products) != 1 || k.ConsumerSecret != secret || k.Status != apigee.StatusApproved {
				t.Errorf("answer is not the whole key: %d attributes, %d products", len(k.Attributes), len(k.Products))
			}
			want := map[string]int{emulator.OpUpdateKey: 1}
			if d.emulator == emulator.Edge {
				want = map[string]int{emulator.OpSetKeyAttributes: 1, emulator.OpGetKey: 1}
			}
			for _, op := range []string{emulator.OpUpdateKey, emulator.OpSetKeyAttributes, emulator.OpGetKey} {
				if got := e.emu.Calls(op); got != want[op] {
					t.Errorf("%s calls = %d, want %d", op, got, want[op])
				}
			}
			got, _ := e.emu.App(developer, app)
			if c, _ := got.Credential(key); len(c.Attributes) != 1 || c.Attributes[0].Value != "gold" {
				t.Errorf("attributes not stored")
			}
		})
	}
}

// TestNotFoundDetailsKeepDecisions (gap 5): X 404s with PreconditionFailure
// and RequestInfo details classify as the plain ones did; an unknown
// organization (X 403, Edge 404) is final either way.
func TestNotFoundDetailsKeepDecisions(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, d, nil)
			f := seed(t, e)
			c := e.client(clientOptions{retry: fastRetries(3)})
			_, err := c.GetApp(ctx, "ghost@example.com", app)
			checkNotFound(t, err, apigee.ResourceDeveloper)
			_, err = c.GetApp(ctx, developer, "no-such-app")
			checkNotFound(t, err, apigee.ResourceApp)
			_, err = c.GetKey(ctx, f.ref)
			checkNotFound(t, err, apigee.ResourceKey)

			other, err := connectOrg(e, "other-org")
			if err == nil {
				err = other.Probe(ctx)
			}
			want := apigee.ClassNotFound
			if d.emulator == emulator.X {
				want = apigee.ClassForbidden
			}
			if apigee.ClassOf(err) != want || apigee.Retryable(err) {
				t.Errorf("unknown organization: %v", err)
			}
		})
	}
}

func checkNotFound(t *testing.T, err error, r apigee.Resource) {
	t.Helper()
	if !apigee.IsNotFound(err, r) || apigee.Retryable(err) {
		t.Errorf("want %s not found, got %v", r, err)
	}
}

// connectOrg is a client of the env's emulator for another organization.
func connectOrg(e *env, organization string) (apigee.Client, error) { return e.connectAs(organization) }

// TestPlainNotFoundForms (gap 5): X 404 bodies with and without details
// (the old emulator's and a proxy's) give the same class and resource.
func TestPlainNotFoundForms(t *testing.T) {
	const detailed = `{"error":{"code":404,"message":"App named a does not exist under d@example.com","status":"NOT_FOUND",
		"details":[{"@type":"type.googleapis.com/google.rpc.PreconditionFailure","violations":[{"type":"developer.service.AppDoesNotExist","subject":"developers/d@example.com/apps/a"}]},
		{"@type":"type.googleapis.com/google.rpc.RequestInfo","requestId":"123"}]}}`
	const plain = `{"error":{"code":404,"message":"App named a does not exist under d@example.com","status":"NOT_FOUND"}}`
	for name, body := range map[string]string{"detailed": detailed, "plain": plain} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte(body))
			}))
			defer srv.Close()
			c, err := x.New(x.Config{Endpoint: srv.URL, Organization: org, HTTPClient: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetApp(context.Background(), "d@example.com", "a")
			checkNotFound(t, err, apigee.ResourceApp)
		})
	}
}

// TestCredentialLimit (gap 8): an import beyond the app's credential limit
// is final, not retried.
func TestCredentialLimit(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, d, func(o *emulator.Options) { o.MaxCredentialsPerApp = 2 })
			seed(t, e)
			c := e.client(clientOptions{retry: fastRetries(3)})
			if _, err := c.ImportKey(ctx, developer, app, apigee.ImportRequest{ConsumerKey: "second", ConsumerSecret: secret}); err != nil {
				t.Fatal(err)
			}
			e.emu.ResetCalls()
			_, err := c.ImportKey(ctx, developer, app, apigee.ImportRequest{ConsumerKey: key, ConsumerSecret: secret})
			if ae := apiErr(t, err); ae.Reason != apigee.ReasonCredentialLimit || apigee.Retryable(err) {
				t.Errorf("limit: %+v", ae)
			}
			if n := e.emu.Calls(emulator.OpCreateKey); n != 1 {
				t.Errorf("imports = %d, want 1 (no retries)", n)
			}
		})
	}
}

// stepClock is a clock tests move by hand.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *stepClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestReadLag (gap 6): for ReadLag after an import, reads show the app as
// it was before; the key is there once the lag has passed.
func TestReadLag(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			clock := &stepClock{now: time.Now()}
			e := newEnv(t, d, func(o *emulator.Options) { o.ReadLag = 5 * time.Second; o.Clock = clock.Now })
			f := seed(t, e)
			c := e.client(clientOptions{retry: fastRetries(1)})
			if err := imported("auto1")(ctx, c); err != nil {
				t.Fatal(err)
			}
			if _, err := c.GetKey(ctx, f.ref); !apigee.IsNotFound(err, apigee.ResourceKey) {
				t.Errorf("inside the lag the key should not be read yet: %v", err)
			}
			if a, err := c.GetApp(ctx, developer, app); err != nil || len(a.Credentials) != 1 {
				t.Errorf("inside the lag the app should show only its generated key: %v", err)
			}
			clock.Add(5 * time.Second)
			if k, err := c.GetKey(ctx, f.ref); err != nil || len(k.Products) != 1 {
				t.Errorf("after the lag: %v %v", k, err)
			}
		})
	}
}

// TestEdgeZoneTokenURL (gap 9): an Edge connection on a SAML-enabled
// organization takes its tokens from the zone's endpoint,
// https://{zone}.login.apigee.com/oauth/token ("Access the Edge API with
// SAML", docs.apigee.com/api-platform/system-administration/using-saml):
// the token URL is the connection's setting, and a machine user's password
// grant there works end to end with the emulator's token endpoint.
func TestEdgeZoneTokenURL(t *testing.T) {
	const zoneURL = "https://acme-zone.login.apigee.com/oauth/token"
	e := newEnv(t, dialects[2], nil)
	seed(t, e)
	var mu sync.Mutex
	var hosts []string
	tokens := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts = append(hosts, r.Host+r.URL.Path)
		mu.Unlock()
		e.emu.TokenHandler().ServeHTTP(w, r)
	}))
	defer tokens.Close()
	a := auth.Config{Method: auth.MethodEdgeOAuth, Username: user, Password: password, TokenURL: zoneURL,
		TokenHTTPClient: zoneClient(tokens)}
	c, err := e.connect(clientOptions{auth: &a})
	if err != nil {
		t.Fatalf("connect through the zone: %v", err)
	}
	if err := c.Probe(context.Background()); err != nil {
		t.Fatalf("probe with a zone token: %v", err)
	}
	if len(hosts) == 0 || hosts[0] != "acme-zone.login.apigee.com/oauth/token" {
		t.Errorf("token requests went to %v", hosts)
	}

	bad := a
	bad.Password = "wrong"
	if _, err := e.connect(clientOptions{auth: &bad}); apigee.ClassOf(err) != apigee.ClassUnauthorized {
		t.Errorf("a refused grant: %v", err)
	}
}

// zoneClient resolves every host to the TLS test server, so the zone's
// real URL can be used unchanged.
func zoneClient(srv *httptest.Server) *http.Client {
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: tr.TLSClientConfig.RootCAs, ServerName: "example.com"}
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}
