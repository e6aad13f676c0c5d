package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// TestExportFromEdgeByFlags: an Edge organization given by flags, through
// Edge OAuth (SaaS, a token endpoint such as a SAML zone's) and through
// Basic auth on a Private Cloud management server (a custom endpoint).
// Every key lands in the Secrets directory with its values; no key, secret
// or password is printed or written to the manifests.
func TestExportFromEdgeByFlags(t *testing.T) {
	const password = "SENTINELpasswordQz"
	cases := []struct {
		name, scheme string
		flags        func(credentials, tokenURL string) []string
	}{
		{"Edge OAuth", "Bearer", func(c, u string) []string { return []string{"--edge-oauth-file", c, "--token-url", u} }},
		{"Edge Private Cloud, Basic auth", "Basic", func(c, _ string) []string { return []string{"--basic-auth-file", c} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			schemes := map[string]int{}
			record := func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
					mu.Lock()
					schemes[scheme]++
					mu.Unlock()
					h.ServeHTTP(w, r)
				})
			}
			edge := newOrgWith(t, emulator.Edge, emulator.Options{Organization: "legacy", BasicUser: "admin", BasicPassword: password}, record)
			keys := seed(t, edge, emulator.Edge)
			grants := 0
			tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				grants++
				mu.Unlock()
				edge.emu.TokenHandler().ServeHTTP(w, r)
			}))
			t.Cleanup(tokens.Close)
			credentials := filepath.Join(t.TempDir(), "edge.cred")
			if err := os.WriteFile(credentials, []byte("admin:"+password+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			clear(schemes)
			mu.Unlock()
			dir, secrets := t.TempDir(), filepath.Join(t.TempDir(), "secrets")

			args := append([]string{"export", "--platform", "Edge", "--organization", "legacy", "--endpoint", edge.srv.URL,
				"--target-connection", "x-prod", "-n", "team-a", "--output-dir", dir, "--secrets-dir", secrets},
				tc.flags(credentials, tokens.URL+"/oauth/token")...)
			exp := run(t, args...)
			if exp.code != 0 || !strings.Contains(exp.out, "Exported 4 keys") {
				t.Fatalf("export exit %d:\n%s\n%s", exp.code, exp.out, exp.err)
			}
			mu.Lock()
			if len(schemes) != 1 || schemes[tc.scheme] == 0 {
				t.Errorf("Authorization schemes sent to Edge: %v, want %s only", schemes, tc.scheme)
			}
			if (grants > 0) != (tc.scheme == "Bearer") {
				t.Errorf("%d token grants", grants)
			}
			mu.Unlock()
			if diff := cmp.Diff(valuesOf(keys), secretValues(t, secrets)); diff != "" {
				t.Errorf("Secrets written (-seeded +got):\n%s", diff)
			}
			noneLeaked(t, append(sentinels(keys), password), map[string]string{
				"export stdout": exp.out, "export stderr": exp.err, "the manifests directory": dirText(t, dir)})
		})
	}
}

// TestExportKeepsRevokedAppsAndKeys: the apps list hides revoked apps and
// keys unless asked; export asks, exports them and says the app is revoked.
func TestExportKeepsRevokedAppsAndKeys(t *testing.T) {
	x := newOrg(t, emulator.X, "acme")
	keys := seed(t, x, emulator.X) // the fourth key is revoked
	if err := x.emu.SetAppStatus(developers[0], apps[1], apigee.StatusRevoked); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	dir, secrets := t.TempDir(), filepath.Join(t.TempDir(), "secrets")
	exp := run(t, "export", "--platform", "X", "--organization", "acme", "--endpoint", x.srv.URL, "--token-file", tokenFile,
		"--target-connection", "prod", "-n", "team-a", "--output-dir", dir, "--secrets-dir", secrets)
	if exp.code != 0 || !strings.Contains(exp.out, "Exported 4 keys") {
		t.Fatalf("export exit %d:\n%s\n%s", exp.code, exp.out, exp.err)
	}
	if want := "Warning: app " + developers[0] + "/" + apps[1] + " is revoked in Apigee: its 1 key(s) will report AppRevoked"; !strings.Contains(exp.err, want) {
		t.Errorf("stderr lacks %q:\n%s", want, exp.err)
	}
	if diff := cmp.Diff(valuesOf(keys), secretValues(t, secrets)); diff != "" {
		t.Errorf("Secrets written (-seeded +got):\n%s", diff)
	}
	plan := run(t, "plan", "--from", dir, "--secrets-dir", secrets, "--platform", "X", "--organization", "acme", "--endpoint", x.srv.URL,
		"--token-file", tokenFile, "--output", "json")
	if plan.code != 0 || strings.Count(plan.out, `"result": "would adopt"`) != 4 ||
		strings.Count(plan.out, "the app is revoked in Apigee: the key will report AppRevoked") != 1 {
		t.Errorf("plan: exit %d\n%s\n%s", plan.code, plan.out, plan.err)
	}
	statuses := map[string]apigeev1alpha1.ApprovalStatus{}
	for _, m := range manifests(t, dir) {
		statuses[m.Spec.Developer+"/"+m.Spec.App] = m.Spec.Status
	}
	want := map[string]apigeev1alpha1.ApprovalStatus{
		developers[0] + "/" + apps[0]: apigeev1alpha1.Approved, developers[0] + "/" + apps[1]: apigeev1alpha1.Approved,
		developers[1] + "/" + apps[0]: apigeev1alpha1.Approved, developers[1] + "/" + apps[1]: apigeev1alpha1.Revoked,
	}
	if diff := cmp.Diff(want, statuses); diff != "" {
		t.Errorf("key status in the manifests (-want +got):\n%s", diff)
	}
}

// manifests reads the DeveloperAppKeys export wrote.
func manifests(t *testing.T, dir string) []*apigeev1alpha1.DeveloperAppKey {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	var out []*apigeev1alpha1.DeveloperAppKey
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		k := &apigeev1alpha1.DeveloperAppKey{}
		if err := yaml.UnmarshalStrict(b, k); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, k)
	}
	return out
}

// valuesOf is each seeded key's value and secret.
func valuesOf(keys []seededKey) map[string]string {
	out := map[string]string{}
	for _, k := range keys {
		out[k.key] = k.secret
	}
	return out
}

// secretValues reads the Secret files export wrote: key -> secret.
func secretValues(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var s corev1.Secret
		if err := yaml.UnmarshalStrict(b, &s); err != nil {
			t.Fatalf("%s: not a Secret", filepath.Base(f))
		}
		out[string(s.Data["consumerKey"])] = string(s.Data["consumerSecret"])
	}
	return out
}

// TestExportThroughClusterConnection: a ClusterApigeeConnection names the
// source; the manifests use it; a namespace it does not allow gets no
// export and no Apigee call.
func TestExportThroughClusterConnection(t *testing.T) {
	x := newOrg(t, emulator.X, "acme")
	keys := seed(t, x, emulator.X)
	ns := namespaceWithConnection(t, x, emulator.X) // holds the token Secret
	name := "shared-" + ns
	conn := &apigeev1alpha1.ClusterApigeeConnection{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: apigeev1alpha1.ClusterApigeeConnectionSpec{
			ApigeeConnectionSpec: apigeev1alpha1.ApigeeConnectionSpec{Organization: "acme", Platform: apigeev1alpha1.PlatformX, Endpoint: x.srv.URL,
				Auth: apigeev1alpha1.ConnectionAuth{BearerToken: &apigeev1alpha1.SecretKeyAuth{
					SecretRef: apigeev1alpha1.SecretReference{Name: "apigee-token", Namespace: ns}}}},
			AllowedNamespaces: apigeev1alpha1.AllowedNamespaces{Names: []string{ns}}}}
	create(t, conn)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), conn) })

	dir := t.TempDir()
	exp := run(t, "export", "--cluster-connection", name, "-n", ns, "--output-dir", dir, "--secrets-dir", filepath.Join(t.TempDir(), "s"))
	if exp.code != 0 || !strings.Contains(exp.out, "Exported 4 keys") {
		t.Fatalf("export exit %d:\n%s\n%s", exp.code, exp.out, exp.err)
	}
	for _, m := range manifests(t, dir) {
		if m.Spec.ConnectionRef.Kind != "ClusterApigeeConnection" || m.Spec.ConnectionRef.Name != name {
			t.Errorf("%s: connectionRef %+v", m.Name, m.Spec.ConnectionRef)
		}
	}
	x.emu.ResetCalls()
	denied := run(t, "export", "--cluster-connection", name, "-n", "default", "--output-dir", t.TempDir(), "--dry-run")
	if denied.code == 0 || x.emu.TotalCalls() != 0 {
		t.Errorf("export from a namespace the connection does not allow: exit %d, %d Apigee calls\n%s", denied.code, x.emu.TotalCalls(), denied.err)
	}
	noneLeaked(t, sentinels(keys), map[string]string{"export stdout": exp.out + denied.out, "export stderr": exp.err + denied.err,
		"the manifests directory": dirText(t, dir)})
}
