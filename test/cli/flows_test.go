package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/auth"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/connect"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

var (
	developers = []string{"alice@example.com", "bob@example.com"}
	apps       = []string{"orders", "billing"}
)

// seededKey is a key the test put in an organization, by location.
type seededKey struct {
	developer, app, key, secret string
}

// seed gives each developer's apps a generated key and one imported key
// with sentinel values, products (one manual, approved or revoked),
// attributes; the first key has a scope, the second a 30-day lifetime (X
// only: Edge does not expire imported keys), the fourth a revoked status.
func seed(t *testing.T, o *org, d emulator.Dialect) []seededKey {
	t.Helper()
	scaffold(t, o)
	c := apigeeClient(t, o, d)
	ctx := context.Background()
	var out []seededKey
	for i, dev := range developers {
		for j, app := range apps {
			n := i*len(apps) + j
			k := seededKey{dev, app, fmt.Sprintf("SENTINELkey%dQz", n), fmt.Sprintf("SENTINELsecret%dQz", n)}
			req := apigee.ImportRequest{ConsumerKey: k.key, ConsumerSecret: k.secret}
			if n == 1 {
				req.ExpiresInSeconds = 30 * 24 * 3600
			}
			if _, err := c.ImportKey(ctx, dev, app, req); err != nil {
				t.Fatal(err)
			}
			ref := apigee.KeyRef{Developer: dev, App: app, ConsumerKey: k.key}
			attrs := []apigee.Attribute{{Name: "tier", Value: fmt.Sprint("gold-", n)}}
			if _, err := c.AddProducts(ctx, ref, []string{"orders-read", "orders-admin"}, attrs); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				if _, err := c.SetScopes(ctx, ref, []string{"read"}); err != nil {
					t.Fatal(err)
				}
			}
			action := []apigee.Action{apigee.ActionApprove, apigee.ActionRevoke}[n%2]
			if err := c.SetProductStatus(ctx, ref, "orders-admin", action); err != nil {
				t.Fatal(err)
			}
			if n == 3 {
				if err := c.SetKeyStatus(ctx, ref, apigee.ActionRevoke); err != nil {
					t.Fatal(err)
				}
			}
			out = append(out, k)
		}
	}
	return out
}

// scaffold creates the developers, products and apps (each app with the
// key Apigee generates), the same in every organization.
func scaffold(t *testing.T, o *org) {
	t.Helper()
	o.emu.AddProduct("orders-read", "auto", emulator.WithScopes("read"))
	o.emu.AddProduct("orders-admin", "manual")
	for _, dev := range developers {
		o.emu.AddDeveloper(dev)
		for _, app := range apps {
			if _, err := o.emu.AddApp(dev, app); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func apigeeClient(t *testing.T, o *org, d emulator.Dialect) apigee.Client {
	t.Helper()
	platform := connect.PlatformX
	if d == emulator.Edge {
		platform = connect.PlatformEdge
	}
	c, err := connect.New(context.Background(), connect.Config{Platform: platform, Organization: o.emu.Organization(),
		Endpoint: o.srv.URL, Auth: auth.Config{Method: auth.MethodBearerToken, BearerToken: token}, Limiters: apigee.NewLimiterRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sentinels(keys []seededKey) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.key, k.secret)
	}
	return out
}

// TestOnboardInPlace: export an X organization's keys through a connection
// in the cluster, Secrets applied straight to it; apply the manifests to
// the same organization. Every key is adopted, nothing in Apigee changes.
func TestOnboardInPlace(t *testing.T) {
	o := newOrg(t, emulator.X, "acme")
	keys := seed(t, o, emulator.X)
	ns := namespaceWithConnection(t, o, emulator.X)
	dir := t.TempDir()

	exp := run(t, "export", "--connection", "prod", "-n", ns, "--output-dir", dir, "--apply-secrets")
	if exp.code != 0 {
		t.Fatalf("export exit %d: %s", exp.code, exp.err)
	}
	if !strings.Contains(exp.out, "Exported 4 keys") || !strings.Contains(exp.out, "4 auto-generated") {
		t.Errorf("export summary: %s", exp.out)
	}
	checkExported(t, dir, keys, true)
	plan := run(t, "plan", "--from", dir, "--connection", "prod", "-n", ns)
	if plan.code != 0 || !strings.Contains(plan.out, "4 keys: 4 would adopt") {
		t.Fatalf("plan exit %d:\n%s\n%s", plan.code, plan.out, plan.err)
	}

	o.emu.ResetCalls()
	applied := applyDir(t, dir)
	for _, k := range applied {
		waitConverged(t, ns, k.Name)
	}
	writes, attempts := o.successfulWrites()
	if writes != 0 || len(attempts) != 0 {
		t.Errorf("onboarding wrote to Apigee: %d successful writes, attempts %v", writes, attempts)
	}
	t.Logf("calls while converging: %d, write attempts %v", o.emu.TotalCalls(), attempts)
	// Planned again, the applied objects are no conflict with themselves;
	// a copy of one manifest under another name is.
	if again := run(t, "plan", "--from", dir, "--connection", "prod", "-n", ns); again.code != 0 || !strings.Contains(again.out, "4 keys: 4 would adopt") {
		t.Errorf("plan after applying: exit %d\n%s", again.code, again.out)
	}
	copyDir := t.TempDir()
	first := applied[0]
	manifest, err := os.ReadFile(filepath.Join(dir, first.Name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	renamed := strings.Replace(string(manifest), "name: "+first.Name+"\n", "name: "+first.Name+"-copy\n", 1)
	if err := os.WriteFile(filepath.Join(copyDir, "copy.yaml"), []byte(renamed), 0o600); err != nil {
		t.Fatal(err)
	}
	dup := run(t, "plan", "--from", copyDir, "--connection", "prod", "-n", ns)
	if dup.code == 0 || !strings.Contains(dup.out, "already managed by DeveloperAppKey "+ns+"/"+first.Name) {
		t.Errorf("plan of a copy: exit %d\n%s", dup.code, dup.out)
	}
	// Exported in place again, the keys now managed are left out.
	reexport := run(t, "export", "--connection", "prod", "-n", ns, "--output-dir", t.TempDir(), "--dry-run")
	if reexport.code != 0 || !strings.Contains(reexport.out, "Would write 0 DeveloperAppKeys") ||
		!strings.Contains(reexport.err, "4 already managed by DeveloperAppKeys") {
		t.Errorf("export after onboarding: exit %d\n%s\n%s", reexport.code, reexport.out, reexport.err)
	}
	status := run(t, "status", "-n", ns)
	if status.code != 0 || !strings.Contains(status.out, "DeveloperAppKeys: 4") ||
		!strings.Contains(status.out, "Converged") || strings.Contains(status.out, "NotObservedYet") {
		t.Errorf("status exit %d:\n%s\n%s", status.code, status.out, status.err)
	}
	noneLeaked(t, sentinels(keys), map[string]string{
		"export stdout": exp.out + reexport.out, "export stderr": exp.err + reexport.err, "plan stdout": plan.out, "plan stderr": plan.err,
		"status stdout": status.out, "status stderr": status.err,
		"the manifests directory": dirText(t, dir), "the operator's logs": logs.String(),
	})
}

// TestMigrateEdgeToX: export an Edge organization with Secrets as files,
// plan against an X organization (failing while apps are missing), then
// apply: X holds every key with the same values, products, statuses and
// attributes.
func TestMigrateEdgeToX(t *testing.T) {
	edge := newOrg(t, emulator.Edge, "legacy")
	keys := seed(t, edge, emulator.Edge)
	x := newOrg(t, emulator.X, "modern")
	ns := namespaceWithConnection(t, x, emulator.X)
	dir, secrets := t.TempDir(), filepath.Join(t.TempDir(), "secrets")
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	exp := run(t, "export", "--platform", "Edge", "--organization", "legacy", "--endpoint", edge.srv.URL,
		"--token-file", tokenFile, "--target-connection", "prod", "-n", ns, "--output-dir", dir, "--secrets-dir", secrets)
	if exp.code != 0 {
		t.Fatalf("export exit %d: %s", exp.code, exp.err)
	}
	checkSecretFiles(t, secrets, 4)
	checkExported(t, dir, keys, false)

	x.emu.ResetCalls()
	early := run(t, "plan", "--from", dir, "--secrets-dir", secrets, "--connection", "prod", "-n", ns, "--output", "json")
	if early.code != 1 || !strings.Contains(early.out, `"missing developer": 4`) ||
		!strings.Contains(early.out, `"detail": "create developer alice@example.com, app orders, product orders-read, product orders-admin"`) {
		t.Fatalf("plan before the X org is scaffolded: exit %d\n%s", early.code, early.out)
	}
	scaffold(t, x)
	x.emu.ResetCalls()
	plan := run(t, "plan", "--from", dir, "--secrets-dir", secrets, "--connection", "prod", "-n", ns)
	if plan.code != 0 || !strings.Contains(plan.out, "4 keys: 4 ready") {
		t.Fatalf("plan exit %d:\n%s\n%s", plan.code, plan.out, plan.err)
	}
	if writes, attempts := x.successfulWrites(); writes != 0 || len(attempts) != 0 || !strings.Contains(plan.out, fmt.Sprintf("with %d calls", x.emu.TotalCalls())) {
		t.Errorf("plan: %d writes, attempts %v; its count of calls: %s", writes, attempts, plan.out)
	}

	applySecretsDir(t, secrets)
	for _, k := range applyDir(t, dir) {
		waitConverged(t, ns, k.Name)
	}
	for _, k := range keys {
		if diff := cmp.Diff(credential(t, edge, k), credential(t, x, k)); diff != "" {
			t.Errorf("key %s/%s differs between Edge and X (-edge +x):\n%s", k.developer, k.app, diff)
		}
	}
	noneLeaked(t, sentinels(keys), map[string]string{
		"export stdout": exp.out, "export stderr": exp.err, "plan stdout": plan.out + early.out, "plan stderr": plan.err + early.err,
		"the manifests directory": dirText(t, dir), "the operator's logs": logs.String(),
	})
}

// comparable is what must survive a migration.
type comparable struct {
	Key, Secret, Status string
	Products            []string
	Attributes          []apigee.Attribute
	Scopes              []string
}

func credential(t *testing.T, o *org, k seededKey) comparable {
	t.Helper()
	a, ok := o.emu.App(k.developer, k.app)
	if !ok {
		t.Fatalf("app %s/%s missing", k.developer, k.app)
	}
	c, ok := a.Credential(k.key)
	if !ok {
		t.Fatalf("key %s/%s missing in %s", k.developer, k.app, o.emu.Organization())
	}
	var products []string
	for _, p := range c.Products {
		products = append(products, p.Name+"="+p.Status)
	}
	slices.Sort(products)
	return comparable{Key: c.ConsumerKey, Secret: c.ConsumerSecret, Status: c.Status, Products: products, Attributes: c.Attributes,
		Scopes: c.Scopes}
}

// checkSecretFiles: n Secret files, each readable by the user only.
func checkSecretFiles(t *testing.T, dir string, n int) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) != n {
		t.Fatalf("%d Secret files, want %d", len(files), n)
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(f), st.Mode().Perm())
		}
	}
}

// checkExported: one manifest per seeded key with its scopes and, where
// the key expires (X), its remaining lifetime.
func checkExported(t *testing.T, dir string, keys []seededKey, expires bool) {
	t.Helper()
	got := map[string]string{}
	for _, m := range manifests(t, dir) {
		lifetime := "never"
		if s := m.Spec.ExpiresInSeconds; s != nil {
			lifetime = fmt.Sprint(*s > 29*24*3600 && *s < 31*24*3600) // the emulator's clock runs ahead
		}
		got[m.Spec.Developer+"/"+m.Spec.App] = fmt.Sprintf("scopes %v, expires %s", m.Spec.Scopes, lifetime)
	}
	want := map[string]string{}
	for i, k := range keys {
		scopes, lifetime := "[]", "never"
		if i == 0 {
			scopes = "[read]"
		}
		if i == 1 && expires {
			lifetime = "true"
		}
		want[k.developer+"/"+k.app] = fmt.Sprintf("scopes %s, expires %s", scopes, lifetime)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("exported scopes and lifetimes (-want +got):\n%s", diff)
	}
}
