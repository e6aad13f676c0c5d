package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// echoAuth answers with the Authorization header it received.
func echoAuth(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Header.Get("Authorization"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// authHeader sends one request through rt and returns what the server saw.
func authHeader(t *testing.T, rt http.RoundTripper, url string) (string, error) {
	t.Helper()
	resp, err := (&http.Client{Transport: rt}).Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestValidate(t *testing.T) {
	cases := map[string]struct {
		reason string
		cfg    Config
		want   apigee.Class
	}{
		"ADC":             {reason: "Needs nothing.", cfg: Config{Method: MethodApplicationDefault}, want: ""},
		"SAKeyMissing":    {reason: "A service-account key is required.", cfg: Config{Method: MethodServiceAccountKey}, want: apigee.ClassUnauthorized},
		"BasicNoPassword": {reason: "Basic needs both values.", cfg: Config{Method: MethodBasic, Username: "u"}, want: apigee.ClassUnauthorized},
		"OAuthNoUser":     {reason: "The password grant needs both values.", cfg: Config{Method: MethodEdgeOAuth, Password: "p"}, want: apigee.ClassUnauthorized},
		"TokenMissing":    {reason: "A bearer token is required.", cfg: Config{Method: MethodBearerToken}, want: apigee.ClassUnauthorized},
		"Unknown":         {reason: "An unknown method is a spec error.", cfg: Config{Method: "Kerberos"}, want: apigee.ClassInvalid},
		"BasicOK":         {reason: "Complete.", cfg: Config{Method: MethodBasic, Username: "u", Password: "p"}, want: ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, apigee.ClassOf(tc.cfg.Validate())); diff != "" {
				t.Errorf("%s: -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestConfigPrintsNoSecret(t *testing.T) {
	cfg := Config{Method: MethodBasic, Username: "u", Password: "SENTINELPASSWORD", BearerToken: "SENTINELTOKEN"}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		if strings.Contains(s, "SENTINEL") {
			t.Errorf("printed config leaks a secret: %s", s)
		}
	}
}

func TestBasicAndBearer(t *testing.T) {
	srv := echoAuth(t)
	cases := map[string]struct {
		cfg  Config
		want string
	}{
		"Basic":  {cfg: Config{Method: MethodBasic, Username: "admin", Password: "pw"}, want: "Basic YWRtaW46cHc="},
		"Bearer": {cfg: Config{Method: MethodBearerToken, BearerToken: "tok"}, want: "Bearer tok"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rt, err := NewTransport(context.Background(), tc.cfg, srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := authHeader(t, rt, srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// tokenServer is an OAuth token endpoint. accept decides per form.
type tokenServer struct {
	mu     sync.Mutex
	forms  []map[string]string
	accept func(form map[string]string) bool
	n      int
}

func (s *tokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	form := map[string]string{}
	for k := range r.Form {
		form[k] = r.Form.Get(k)
	}
	if u, p, ok := r.BasicAuth(); ok {
		form["client"] = u + ":" + p
	}
	s.mu.Lock()
	s.forms = append(s.forms, form)
	s.n++
	n := s.n
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !s.accept(form) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":"unauthorized","error_description":"Bad credentials for %s"}`, form["password"])
		return
	}
	// expires_in 1: shorter than oauth2's expiry margin, so every use renews.
	fmt.Fprintf(w, `{"access_token":"access-%d","refresh_token":"refresh-%d","token_type":"bearer","expires_in":1}`, n, n)
}

func TestEdgeOAuth(t *testing.T) {
	ts := &tokenServer{accept: func(f map[string]string) bool {
		return f["client"] == "edgecli:edgeclisecret" &&
			(f["grant_type"] == "password" && f["username"] == "me" && f["password"] == "pw" ||
				f["grant_type"] == "refresh_token" && strings.HasPrefix(f["refresh_token"], "refresh-"))
	}}
	tsrv := httptest.NewServer(ts)
	defer tsrv.Close()
	api := echoAuth(t)

	cfg := Config{Method: MethodEdgeOAuth, Username: "me", Password: "pw", MFAToken: "123456", TokenURL: tsrv.URL}
	rt, err := NewTransport(context.Background(), cfg, api.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := authHeader(t, rt, api.URL); err != nil {
			t.Fatal(err)
		}
	}
	var grants []string
	for _, f := range ts.forms {
		grants = append(grants, f["grant_type"]+" mfa="+f["mfa_token"])
	}
	want := []string{"password mfa=123456", "refresh_token mfa=", "refresh_token mfa="}
	if diff := cmp.Diff(want, grants); diff != "" {
		t.Errorf("first a password grant with the MFA code, then refreshes: -want +got:\n%s", diff)
	}
}

func TestEdgeOAuthRefreshFallsBackToPassword(t *testing.T) {
	ts := &tokenServer{accept: func(f map[string]string) bool { return f["grant_type"] == "password" }}
	tsrv := httptest.NewServer(ts)
	defer tsrv.Close()
	api := echoAuth(t)
	rt, err := NewTransport(context.Background(), Config{Method: MethodEdgeOAuth, Username: "me", Password: "pw", TokenURL: tsrv.URL}, api.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := authHeader(t, rt, api.URL)
	if err != nil || got != "Bearer access-3" {
		t.Errorf("after a refused refresh the password grant must run again: got %q, %v", got, err)
	}
}

func TestEdgeOAuthRejected(t *testing.T) {
	ts := &tokenServer{accept: func(map[string]string) bool { return false }}
	tsrv := httptest.NewServer(ts)
	defer tsrv.Close()
	_, err := NewTransport(context.Background(), Config{Method: MethodEdgeOAuth, Username: "me", Password: "SENTINELPASSWORD", MFAToken: "999999", TokenURL: tsrv.URL}, "https://api.example", nil)
	if apigee.ClassOf(err) != apigee.ClassUnauthorized {
		t.Fatalf("want Unauthorized, got %v", err)
	}
	if strings.Contains(err.Error(), "SENTINELPASSWORD") || strings.Contains(err.Error(), "999999") {
		t.Errorf("error leaks a secret: %s", err)
	}
}

func serviceAccountKey(t *testing.T, tokenURI string) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	b, _ := json.Marshal(map[string]string{
		"type": "service_account", "client_email": "op@p.iam.gserviceaccount.com", "private_key_id": "1",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "token_uri": tokenURI,
	})
	return b
}

func TestServiceAccountKey(t *testing.T) {
	ts := &tokenServer{accept: func(f map[string]string) bool {
		return f["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer" && f["assertion"] != ""
	}}
	tsrv := httptest.NewServer(ts)
	defer tsrv.Close()
	api := echoAuth(t)
	rt, err := NewTransport(context.Background(), Config{Method: MethodServiceAccountKey, ServiceAccountKey: serviceAccountKey(t, tsrv.URL)}, api.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := authHeader(t, rt, api.URL)
	if err != nil || got != "Bearer access-1" {
		t.Errorf("want the JWT grant's token, got %q, %v", got, err)
	}
}

func TestServiceAccountKeyRejectedAtRequest(t *testing.T) {
	ts := &tokenServer{accept: func(map[string]string) bool { return false }}
	tsrv := httptest.NewServer(ts)
	defer tsrv.Close()
	api := echoAuth(t)
	rt, err := NewTransport(context.Background(), Config{Method: MethodServiceAccountKey, ServiceAccountKey: serviceAccountKey(t, tsrv.URL)}, api.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = authHeader(t, rt, api.URL)
	if apigee.ClassOf(err) != apigee.ClassUnauthorized {
		t.Errorf("a refused token request must be Unauthorized, got %v", err)
	}
}

func TestServiceAccountKeyInvalid(t *testing.T) {
	cases := map[string]struct {
		reason string
		key    string
	}{
		"NotJSON":    {reason: "Garbage in the Secret.", key: "SENTINEL-not-json"},
		"WrongType":  {reason: "Only service_account keys are accepted.", key: `{"type":"external_account","private_key":"SENTINEL"}`},
		"NoKey":      {reason: "A file without a private key.", key: `{"type":"service_account","client_email":"a@b"}`},
		"BadPEM":     {reason: "A private key that is not PEM.", key: `{"type":"service_account","client_email":"a@b","private_key":"SENTINEL"}`},
		"Truncated":  {reason: "A cut-off file.", key: `{"type":"service_account","private_key":"SENTI`},
		"EmptyArray": {reason: "JSON but not an object.", key: `[]`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := NewTransport(context.Background(), Config{Method: MethodServiceAccountKey, ServiceAccountKey: []byte(tc.key)}, "https://apigee.googleapis.com", nil)
			if apigee.ClassOf(err) != apigee.ClassUnauthorized {
				t.Fatalf("%s: want Unauthorized, got %v", tc.reason, err)
			}
			if strings.Contains(err.Error(), "SENTI") {
				t.Errorf("%s: error quotes the key: %s", tc.reason, err)
			}
		})
	}
}
