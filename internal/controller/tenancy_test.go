package controller

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2/google"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/auth"
)

func ambientSpec(endpoint string) apigeev1alpha1.ApigeeConnectionSpec {
	return apigeev1alpha1.ApigeeConnectionSpec{Organization: "acme", Platform: apigeev1alpha1.PlatformX, Endpoint: endpoint,
		Auth: apigeev1alpha1.ConnectionAuth{WorkloadIdentity: &apigeev1alpha1.WorkloadIdentityAuth{}}}
}

func namespacedConn(spec apigeev1alpha1.ApigeeConnectionSpec) *connection {
	return fromNamespaced(&apigeev1alpha1.ApigeeConnection{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "c", UID: "uid-a"}, Spec: spec})
}

func clusterConn(spec apigeev1alpha1.ApigeeConnectionSpec) *connection {
	return fromCluster(&apigeev1alpha1.ClusterApigeeConnection{ObjectMeta: metav1.ObjectMeta{Name: "c", UID: "uid-c"},
		Spec: apigeev1alpha1.ClusterApigeeConnectionSpec{ApigeeConnectionSpec: spec}})
}

func TestAmbientAllowed(t *testing.T) {
	bearer := ambientSpec("http://tenant.example")
	bearer.Auth = apigeev1alpha1.ConnectionAuth{BearerToken: &apigeev1alpha1.SecretKeyAuth{}}
	cases := []struct {
		reason  string
		optIn   bool
		conn    *connection
		allowed bool
	}{
		{"an administrator's cluster connection may use the ambient identity anywhere it names", false, clusterConn(ambientSpec("http://127.0.0.1:8080")), true},
		{"a cluster connection at the default endpoint", false, clusterConn(ambientSpec("")), true},
		{"a namespace without the opt-in, even at Google", false, namespacedConn(ambientSpec("")), false},
		{"a namespace without the opt-in, at its own server", false, namespacedConn(ambientSpec("http://tenant.example")), false},
		{"opt-in: the default endpoint is Google's", true, namespacedConn(ambientSpec("")), true},
		{"opt-in: a regional Google endpoint", true, namespacedConn(ambientSpec("https://eu-apigee.googleapis.com")), true},
		{"opt-in: explicit port 443", true, namespacedConn(ambientSpec("https://apigee.googleapis.com:443")), true},
		{"opt-in: a tenant's server", true, namespacedConn(ambientSpec("https://tenant.example")), false},
		{"opt-in: Google's host over http", true, namespacedConn(ambientSpec("http://apigee.googleapis.com")), false},
		{"opt-in: another port on Google's host", true, namespacedConn(ambientSpec("https://apigee.googleapis.com:8443")), false},
		{"opt-in: a look-alike host", true, namespacedConn(ambientSpec("https://apigee.googleapis.com.tenant.example")), false},
		{"opt-in: a suffix without the dot", true, namespacedConn(ambientSpec("https://evilgoogleapis.com")), false},
		{"opt-in: user info hiding the host", true, namespacedConn(ambientSpec("https://x.googleapis.com@tenant.example")), false},
		{"a namespace's own credentials are its business", false, namespacedConn(bearer), true},
	}
	for _, c := range cases {
		err := Tenancy{NamespacedAmbientCredentials: c.optIn}.ambientAllowed(c.conn)
		if got := err == nil; got != c.allowed {
			t.Errorf("%s: allowed = %v (%v), want %v", c.reason, got, err, c.allowed)
			continue
		}
		if err != nil && classify(err).reason != apigeev1alpha1.ReasonAmbientCredentialsNotAllowed {
			t.Errorf("%s: reason %q", c.reason, classify(err).reason)
		}
	}
}

// TestConfigRefusesBeforeAnyToken: a refused connection gets no client
// config, so the ambient identity is never even looked up.
func TestConfigRefusesBeforeAnyToken(t *testing.T) {
	lookups := 0
	find := auth.CredentialsFinder(func(context.Context, ...string) (*google.Credentials, error) {
		lookups++
		return nil, nil
	})
	cs := NewConnections(nil, nil, nil, nil, Tenancy{FindAmbient: find})
	_, err := cs.config(context.Background(), namespacedConn(ambientSpec("http://tenant.example")))
	ce := classify(err)
	if ce.reason != apigeev1alpha1.ReasonAmbientCredentialsNotAllowed || ce.retry {
		t.Errorf("want a terminal AmbientCredentialsNotAllowed, got %v", err)
	}
	cfg, err := cs.config(context.Background(), clusterConn(ambientSpec("http://127.0.0.1:8080")))
	if err != nil || cfg.Auth.Method != auth.MethodApplicationDefault || cfg.Auth.FindAmbient == nil {
		t.Errorf("a cluster connection must get the ambient identity, got %v, %v", cfg.Auth, err)
	}
	if lookups != 0 {
		t.Errorf("building a config must not look the identity up, did %d times", lookups)
	}
}

func TestRateLimits(t *testing.T) {
	spec := ambientSpec("")
	spec.RateLimit = &apigeev1alpha1.RateLimit{RequestsPerMinute: 1, Burst: 1}
	type limits struct{ Budget, Own apigee.Rate }
	cases := []struct {
		reason string
		conn   *connection
		want   limits
	}{
		{"a namespace's rateLimit caps only its own calls", namespacedConn(spec), limits{Own: apigee.Rate{PerMinute: 1, Burst: 1}}},
		{"an administrator's rateLimit is the organization's budget", clusterConn(spec), limits{Budget: apigee.Rate{PerMinute: 1, Burst: 1}}},
		{"no rateLimit leaves the budget to the operator", namespacedConn(ambientSpec("")), limits{}},
	}
	for _, c := range cases {
		budget, own := rateLimits(c.conn)
		if diff := cmp.Diff(c.want, limits{budget, own}); diff != "" {
			t.Errorf("%s: -want +got:\n%s", c.reason, diff)
		}
	}
	cs := NewConnections(nil, nil, nil, nil, Tenancy{NamespacedAmbientCredentials: true, OrganizationRate: apigee.Rate{PerMinute: 3000}})
	cfg, err := cs.config(context.Background(), namespacedConn(spec))
	if err != nil {
		t.Fatal(err)
	}
	got := []any{cfg.RequestsPerMinute, cfg.Burst, cfg.DefaultRate, cfg.ConnectionRate, cfg.ConnectionID}
	want := []any{0, 0, apigee.Rate{PerMinute: 3000}, apigee.Rate{PerMinute: 1, Burst: 1}, "uid-a"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("a namespaced connection must not set the organization's budget: -want +got:\n%s", diff)
	}
}
