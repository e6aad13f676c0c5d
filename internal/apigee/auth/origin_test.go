package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/oauth2/google"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// capture records the Authorization headers of the requests it receives.
type capture struct {
	mu      sync.Mutex
	headers []string
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.headers = append(c.headers, r.Header.Get("Authorization"))
	c.mu.Unlock()
}

func (c *capture) seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.headers...)
}

// keyFile writes a service-account key whose token_uri is tokenURL.
func keyFile(t *testing.T, tokenURL string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(path, serviceAccountKey(t, tokenURL), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func jwtGrants() *tokenServer {
	return &tokenServer{accept: func(f map[string]string) bool {
		return f["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer" && f["assertion"] != ""
	}}
}

// TestApplicationDefaultFromEnvironment runs the production path: no
// finder injected, GOOGLE_APPLICATION_CREDENTIALS names a key file, and
// golang.org/x/oauth2/google makes the JWT grant at its token_uri.
func TestApplicationDefaultFromEnvironment(t *testing.T) {
	tsrv := httptest.NewServer(jwtGrants())
	defer tsrv.Close()
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", keyFile(t, tsrv.URL))
	api := echoAuth(t)
	rt, err := NewTransport(context.Background(), Config{Method: MethodApplicationDefault}, api.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := authHeader(t, rt, api.URL); err != nil || got != "Bearer access-1" {
		t.Errorf("want the ambient identity's token, got %q, %v", got, err)
	}
}

// TestCredentialsStayWithTheEndpoint: an endpoint that redirects elsewhere
// must not get the ambient token (nor any credential) sent on, whatever the
// redirect's kind.
func TestCredentialsStayWithTheEndpoint(t *testing.T) {
	tsrv := httptest.NewServer(jwtGrants())
	defer tsrv.Close()
	key := serviceAccountKey(t, tsrv.URL)
	find := func(ctx context.Context, scopes ...string) (*google.Credentials, error) {
		return google.CredentialsFromJSONWithType(ctx, key, google.ServiceAccount, scopes...)
	}
	elsewhere := &capture{}
	csrv := httptest.NewServer(elsewhere)
	defer csrv.Close()
	for _, code := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		redirect := httptest.NewServer(http.RedirectHandler(csrv.URL+"/v1/organizations/o", code))
		for _, cfg := range []Config{{Method: MethodApplicationDefault, FindAmbient: find}, {Method: MethodBasic, Username: "u", Password: "p"}} {
			rt, err := NewTransport(context.Background(), cfg, redirect.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = authHeader(t, rt, redirect.URL+"/v1/organizations/o")
			if apigee.ClassOf(err) != apigee.ClassInvalid {
				t.Errorf("%s after %d: want the redirect refused as InvalidArgument, got %v", cfg.Method, code, err)
			}
		}
		redirect.Close()
	}
	if got := elsewhere.seen(); len(got) != 0 {
		t.Errorf("another origin received %d requests (Authorization %q); want none", len(got), got)
	}
}

func TestOrigin(t *testing.T) {
	cases := map[string]struct {
		a, b string
		same bool
	}{
		"DefaultPort":   {"https://apigee.googleapis.com", "https://APIGEE.googleapis.com:443/v1/x", true},
		"HTTPDefault":   {"http://ms:80", "http://ms/v1", true},
		"Downgrade":     {"https://apigee.googleapis.com", "http://apigee.googleapis.com/v1", false},
		"OtherPort":     {"http://127.0.0.1:8080", "http://127.0.0.1:8081", false},
		"LookAlikeHost": {"https://apigee.googleapis.com", "https://apigee.googleapis.com.evil.example", false},
	}
	for name, tc := range cases {
		a, _ := url.Parse(tc.a)
		b, _ := url.Parse(tc.b)
		if got := origin(a) == origin(b); got != tc.same {
			t.Errorf("%s: origin(%s) == origin(%s) is %v, want %v", name, tc.a, tc.b, got, tc.same)
		}
	}
	if _, err := NewTransport(context.Background(), Config{Method: MethodBasic, Username: "u", Password: "p"}, "ftp://x", nil); apigee.ClassOf(err) != apigee.ClassInvalid {
		t.Errorf("a non-HTTP endpoint must be InvalidArgument, got %v", err)
	}
}
