package integration

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2/google"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// ambientToken is the access token of the operator's own Google identity
// in these tests. It must reach only where an administrator sends it.
const ambientToken = "ya29.the-operators-own-ambient-token"

// ambient is the operator's ambient identity, injected through
// controller.Tenancy.FindAmbient: a service-account key file (an RSA key
// made here) whose token_uri is a local token server handing out
// ambientToken. The real golang.org/x/oauth2/google JWT grant runs.
var ambient = &ambientIdentity{}

type ambientIdentity struct {
	once   sync.Once
	key    []byte
	grants atomic.Int64 // tokens handed out
}

func (a *ambientIdentity) find(ctx context.Context, scopes ...string) (*google.Credentials, error) {
	a.once.Do(a.start)
	return google.CredentialsFromJSONWithType(ctx, a.key, google.ServiceAccount, scopes...)
}

// start serves the token endpoint for the rest of the process.
func (a *ambientIdentity) start() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || r.Form.Get("assertion") == "" {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		a.grants.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, ambientToken)
	}))
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	a.key, _ = json.Marshal(map[string]string{
		"type": "service_account", "client_email": "apigee-key-operator@project.iam.gserviceaccount.com", "private_key_id": "1",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "token_uri": srv.URL,
	})
}

// captureServer stands for a tenant's own server: it records the
// Authorization header of everything it receives.
type captureServer struct {
	mu      sync.Mutex
	headers []string
	srv     *httptest.Server
}

func newCaptureServer(t *testing.T) *captureServer {
	c := &captureServer{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.headers = append(c.headers, r.Method+" "+r.URL.Path+" Authorization: "+describeAuth(r.Header.Get("Authorization")))
		c.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// describeAuth names what an Authorization header carried, not its value.
func describeAuth(h string) string {
	switch {
	case h == "":
		return "none"
	case strings.Contains(h, ambientToken):
		return "THE AMBIENT TOKEN"
	}
	return "some credential"
}

func (c *captureServer) seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.headers...)
}

func workloadIdentity() apigeev1alpha1.ConnectionAuth {
	return apigeev1alpha1.ConnectionAuth{WorkloadIdentity: &apigeev1alpha1.WorkloadIdentityAuth{}}
}

// TestNamespacedConnectionCannotBorrowAmbientIdentity: a tenant's
// ApigeeConnection asks for workloadIdentity with its own server as the
// endpoint. The operator (without --namespaced-ambient-credentials) says
// why not, fetches no token and calls nothing; the tenant's key waits.
func TestNamespacedConnectionCannotBorrowAmbientIdentity(t *testing.T) {
	ns := namespace(t)
	t.Cleanup(func() { releaseKeys(ns) })
	tenant := newCaptureServer(t)
	grants := ambient.grants.Load()
	defer func() { // also when a wait below fails
		if got := tenant.seen(); len(got) != 0 {
			t.Errorf("the tenant's endpoint received %d requests, the first %q; want none", len(got), got[0])
		}
		if n := ambient.grants.Load() - grants; n != 0 {
			t.Errorf("%d ambient tokens were fetched for a refused connection", n)
		}
	}()
	create(t, &apigeev1alpha1.ApigeeConnection{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "borrowed"},
		Spec: apigeev1alpha1.ApigeeConnectionSpec{Organization: "victim-org", Platform: apigeev1alpha1.PlatformX,
			Endpoint: tenant.srv.URL, Auth: workloadIdentity()}})
	cond := waitConnectionReason(t, ns, "borrowed", apigeev1alpha1.ReasonAmbientCredentialsNotAllowed)
	if cond.Status != metav1.ConditionFalse || !strings.Contains(cond.Message, "--namespaced-ambient-credentials") ||
		!strings.Contains(cond.Message, "serviceAccountKey") {
		t.Errorf("the condition must say what to do: %s %s", cond.Status, cond.Message)
	}

	create(t, credentialsSecret(ns, "creds", "tenantKey123", "tenantSecret123"))
	k := newKey(ns, "k", "creds")
	k.Spec.ConnectionRef.Name = "borrowed"
	create(t, k)
	waitReason(t, ns, "k", apigeev1alpha1.ReasonConnectionNotReady)
	if strings.Contains(logs.String(), ambientToken) {
		t.Error("the ambient token appears in the logs")
	}
}

// TestClusterConnectionUsesAmbientIdentity: an administrator's
// ClusterApigeeConnection may use the ambient identity towards the endpoint
// it names (here the emulator, which accepts only the ambient token).
func TestClusterConnectionUsesAmbientIdentity(t *testing.T) {
	ns := namespace(t)
	a := newApigee(t, emulator.X, "org-"+ns, func(o *emulator.Options) { o.BearerToken = ambientToken })
	t.Cleanup(func() { releaseKeys(ns) })
	name := "ambient-" + ns
	c := &apigeev1alpha1.ClusterApigeeConnection{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: apigeev1alpha1.ClusterApigeeConnectionSpec{
			AllowedNamespaces: apigeev1alpha1.AllowedNamespaces{Names: []string{ns}},
			ApigeeConnectionSpec: apigeev1alpha1.ApigeeConnectionSpec{Organization: a.emu.Organization(),
				Platform: apigeev1alpha1.PlatformX, Endpoint: a.srv.URL, Auth: workloadIdentity()}}}
	create(t, c)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), c) })
	grants := ambient.grants.Load()
	waitClusterConnectionReason(t, name, apigeev1alpha1.ReasonAuthenticated)

	create(t, credentialsSecret(ns, "creds", "ambientKey123", "ambientSecret123"))
	k := newKey(ns, "k", "creds")
	k.Spec.ConnectionRef = apigeev1alpha1.ConnectionReference{Kind: "ClusterApigeeConnection", Name: name}
	create(t, k)
	waitConverged(t, ns, "k")
	if got := a.key(t, appName, "ambientKey123"); got == nil || got.ConsumerSecret != "ambientSecret123" {
		t.Errorf("the key was not imported with the ambient identity: %+v", got)
	}
	if ambient.grants.Load() == grants {
		t.Error("no ambient token was fetched: the real token flow did not run")
	}
	if strings.Contains(logs.String(), ambientToken) {
		t.Error("the ambient token appears in the logs")
	}
}

func waitClusterConnectionReason(t *testing.T, name, reason string) {
	t.Helper()
	eventually(t, "cluster connection "+name+" reason "+reason, func() (bool, string) {
		c := &apigeev1alpha1.ClusterApigeeConnection{}
		if err := k8s.Get(context.Background(), types.NamespacedName{Name: name}, c); err != nil {
			return false, err.Error()
		}
		for _, cond := range c.Status.Conditions {
			if cond.Type == apigeev1alpha1.ConditionReady {
				return cond.Reason == reason, cond.Reason + ": " + cond.Message
			}
		}
		return false, "no condition"
	})
}
