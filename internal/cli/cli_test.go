package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	sentinelKey    = "SENTINELkeyZq9"
	sentinelSecret = "SENTINELsecretZq9"
)

// apigeecli's apps export: a JSON array of GET app answers (X: integers
// as strings), and its developers export.
const appsJSON = `[
{"appId":"a1","name":"orders","developerId":"d1","createdAt":"1700000000000","status":"approved",
 "credentials":[
  {"consumerKey":"GENERATEDkey","consumerSecret":"GENERATEDsecret","status":"approved","issuedAt":"1700000000100","expiresAt":"-1"},
  {"consumerKey":"` + sentinelKey + `","consumerSecret":"` + sentinelSecret + `","status":"revoked",
   "apiProducts":[{"apiproduct":"p1","status":"approved"},{"apiproduct":"p2","status":"pending"}],
   "attributes":[{"name":"tier","value":"gold"}],"scopes":["read"],
   "issuedAt":"1700000600000","expiresAt":"4102444800000"}]}
]`

const developersJSON = `{"developer":[{"email":"dev@example.com","developerId":"d1"}]}`

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCLI(args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	env := &Env{Out: &out, Err: &errOut, Now: func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }}
	code = Main(args, env)
	return out.String(), errOut.String(), code
}

func TestExportFromApigeecli(t *testing.T) {
	apps, devs := write(t, "apps.json", appsJSON), write(t, "developers.json", developersJSON)
	dir, secrets := t.TempDir(), filepath.Join(t.TempDir(), "s")
	out, errOut, code := runCLI("export", "--from-apigeecli", apps, "--developers", devs, "--target-connection", "prod",
		"-n", "team-a", "--output-dir", dir, "--secrets-dir", secrets)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) != 2 { // the key and kustomization.yaml; the generated key left out
		t.Fatalf("files %v", files)
	}
	m := dirTextOf(t, dir)
	for _, want := range []string{"developer: dev@example.com", "app: orders", "status: Revoked", "name: p1",
		"name: tier", "value: gold", "- read", "expiresInSeconds: 2208988800", "deletionPolicy: Orphan",
		"namespace: team-a", "resources:"} {
		if !strings.Contains(m, want) {
			t.Errorf("manifests lack %q:\n%s", want, m)
		}
	}
	if !strings.Contains(errOut, "p2 is pending") {
		t.Errorf("no warning about the pending product: %s", errOut)
	}
	if strings.Contains(m, "rotation") {
		t.Errorf("an unset rotation was written (gracePeriod 0s overrides the default):\n%s", m)
	}
	if s := dirTextOf(t, secrets); !strings.Contains(s, "kind: Secret") || !strings.Contains(s, "consumerKey:") {
		t.Errorf("secrets dir: %s", s)
	}
	noLeak(t, out+errOut+m)
}

func TestExportFromCSV(t *testing.T) {
	csv := "developer,app,consumerKey,consumerSecret,products,status,attributes\n" +
		"dev@example.com,orders," + sentinelKey + "," + sentinelSecret + ",p1;p2:revoked,approved,tier=gold\n"
	dir := t.TempDir()
	out, errOut, code := runCLI("export", "--from-csv", write(t, "keys.csv", csv), "--target-connection", "prod",
		"-n", "team-a", "--output-dir", dir, "--secrets-dir", filepath.Join(t.TempDir(), "s"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	m := dirTextOf(t, dir)
	if !strings.Contains(m, "name: p2\n    status: Revoked") {
		t.Errorf("manifest:\n%s", m)
	}
	noLeak(t, out+errOut+m)
}

// Errors name the file, line and field, never the value.
func TestUnreadableSourcesSayWhere(t *testing.T) {
	cases := []struct {
		reason, flag, name, content, want string
	}{
		{"bad characters in a key", "--from-csv", "k.csv",
			"developer,app,consumerKey,consumerSecret\ndev@example.com,orders,ok,fine\ndev@example.com,orders," + sentinelKey + "!,s\n",
			":3: column consumerKey"},
		{"empty secret", "--from-csv", "k.csv", "developer,app,consumerKey,consumerSecret\nd,a," + sentinelKey + ",\n", ":2: column consumerSecret is empty"},
		{"unknown column", "--from-csv", "k.csv", "developer,app,consumerKey,consumerSecret,colour\n", ":1: unknown column"},
		{"a key where a list belongs", "--from-apigeecli", "apps.json", "[\n{\"name\":\"a\",\n\"credentials\":\"" + sentinelKey + "\"}]", "apps.json:3: field credentials"},
		{"broken JSON", "--from-apigeecli", "apps.json", "[\n{\"name\":\"" + sentinelKey + "\",,}]", "apps.json:2: not valid JSON"},
		{"no email for a developer id", "--from-apigeecli", "apps.json", `[{"name":"a","developerId":"d9"}]`, `developer id "d9" is not in --developers`},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			out, errOut, code := runCLI("export", tc.flag, write(t, tc.name, tc.content), "--target-connection", "prod",
				"-n", "x", "--output-dir", t.TempDir(), "--secrets-dir", filepath.Join(t.TempDir(), "s"))
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want it to contain %q", code, errOut, tc.want)
			}
			noLeak(t, out+errOut)
		})
	}
}

func TestSecretsNeverInTheManifestsDirectory(t *testing.T) {
	dir := t.TempDir()
	_, errOut, code := runCLI("export", "--from-csv", write(t, "k.csv", "developer,app,consumerKey,consumerSecret\n"),
		"--target-connection", "prod", "-n", "x", "--output-dir", dir, "--secrets-dir", filepath.Join(dir, "secrets"))
	if code == 0 || !strings.Contains(errOut, "--secrets-dir must be outside --output-dir") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	_, errOut, code = runCLI("export", "--from-csv", write(t, "k.csv", ""), "--target-connection", "prod", "-n", "x", "--output-dir", dir)
	if code == 0 || !strings.Contains(errOut, "exactly one of --apply-secrets or --secrets-dir") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	out, errOut, code := runCLI("export", "--from-apigeecli", write(t, "apps.json", appsJSON), "--developers",
		write(t, "d.json", developersJSON), "--target-connection", "prod", "-n", "x", "--output-dir", dir, "--dry-run")
	if code != 0 || !strings.Contains(out, "Would write 1 DeveloperAppKeys") {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("dry run created %s", dir)
	}
	noLeak(t, out+errOut)
}

func noLeak(t *testing.T, text string) {
	t.Helper()
	if strings.Contains(text, sentinelKey) || strings.Contains(text, sentinelSecret) {
		t.Errorf("a key or secret value was printed or written to the manifests")
	}
}

func dirTextOf(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		c, _ := os.ReadFile(f)
		b.Write(c)
	}
	return b.String()
}

// TestHelpShowsExamples: every command's --help has examples, naming the
// plugin as kubectl runs it.
func TestHelpShowsExamples(t *testing.T) {
	for _, cmd := range []string{"export", "plan", "status"} {
		out, errOut, code := runCLI(cmd, "--help")
		if code != 0 || !strings.Contains(out, "Usage:\n  kubectl apigee-keys "+cmd) || !strings.Contains(out, "Examples:\n  #") ||
			!strings.Contains(out, "\n  kubectl apigee-keys "+cmd+" ") {
			t.Errorf("%s --help: exit %d\n%s%s", cmd, code, out, errOut)
		}
	}
}

// TestFilters: --developer, --app, --product and --include-auto-generated
// select keys; the summary counts what they left out.
func TestFilters(t *testing.T) {
	apps := write(t, "apps.json", `[
{"appId":"a1","name":"orders","developerEmail":"alice@example.com","createdAt":"1700000000000","credentials":[
  {"consumerKey":"gen1","consumerSecret":"s","status":"approved","issuedAt":"1700000001000"},
  {"consumerKey":"k1","consumerSecret":"s","status":"approved","issuedAt":"1700000600000","apiProducts":[{"apiproduct":"p1","status":"approved"}]}]},
{"appId":"a2","name":"billing","developerEmail":"alice@example.com","createdAt":"1700000000000","credentials":[
  {"consumerKey":"k2","consumerSecret":"s","status":"approved","issuedAt":"1700000600000","apiProducts":[{"apiproduct":"p2","status":"approved"}]}]},
{"appId":"a3","name":"orders","developerEmail":"bob@example.com","createdAt":"1700000000000","credentials":[
  {"consumerKey":"k3","consumerSecret":"s","status":"approved","issuedAt":"1700000600000","apiProducts":[{"apiproduct":"p1","status":"approved"}]}]}
]`)
	cases := []struct {
		reason string
		flags  []string
		want   string
	}{
		{"none", nil, "Would write 3 DeveloperAppKeys; Read 4 keys; left out 1 auto-generated, 0 by filters"},
		{"developer, any case", []string{"--developer", "Alice@example.com"}, "Would write 2 DeveloperAppKeys; Read 4 keys; left out 1 auto-generated, 1 by filters"},
		{"app", []string{"--app", "orders"}, "Would write 2 DeveloperAppKeys; Read 4 keys; left out 1 auto-generated, 1 by filters"},
		{"product", []string{"--product", "p2", "--product", "p9"}, "Would write 1 DeveloperAppKeys; Read 4 keys; left out 1 auto-generated, 2 by filters"},
		{"developer and app", []string{"--developer", "bob@example.com", "--app", "billing"}, "Would write 0 DeveloperAppKeys; Read 4 keys; left out 1 auto-generated, 3 by filters"},
		{"generated keys too", []string{"--include-auto-generated", "--app", "orders"}, "Would write 3 DeveloperAppKeys; Read 4 keys; left out 0 auto-generated, 1 by filters"},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			out, errOut, code := runCLI(append([]string{"export", "--from-apigeecli", apps, "--target-connection", "prod", "-n", "x",
				"--output-dir", t.TempDir(), "--dry-run"}, tc.flags...)...)
			got := strings.TrimSpace(out[strings.Index(out, "Would write"):strings.Index(out, " for ")]) + "; " +
				strings.TrimPrefix(strings.SplitN(errOut, ", 0 expired", 2)[0], "Dry run: ")
			if code != 0 || got != tc.want {
				t.Errorf("exit %d: got %q, want %q\n%s", code, got, tc.want, errOut)
			}
		})
	}
}
