package argocd

import (
	"encoding/json"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite docs/argocd-cm.yaml and the snippet in docs/argocd.md")

// healthTests is Argo CD's health_test.yaml format.
type healthTests struct {
	Tests []struct {
		HealthStatus HealthStatus `json:"healthStatus"`
		InputPath    string       `json:"inputPath"`
	} `json:"tests"`
}

// TestHealthScripts runs every case of every kind's health_test.yaml, as
// Argo CD's own resource customization tests do.
func TestHealthScripts(t *testing.T) {
	for _, kind := range Kinds {
		script, err := HealthScript(kind)
		if err != nil {
			t.Fatal(err)
		}
		var cases healthTests
		readYAML(t, path.Join(Dir(kind), "health_test.yaml"), &cases)
		if len(cases.Tests) == 0 {
			t.Fatalf("%s: no test cases", kind)
		}
		for _, tc := range cases.Tests {
			t.Run(kind+"/"+tc.InputPath, func(t *testing.T) {
				var obj map[string]any
				readYAML(t, path.Join(Dir(kind), tc.InputPath), &obj)
				if obj["kind"] != kind {
					t.Fatalf("testdata kind %v, want %s", obj["kind"], kind)
				}
				got, err := RunHealth(script, obj)
				if err != nil {
					t.Fatal(err)
				}
				if got != tc.HealthStatus {
					t.Errorf("got %+v, want %+v", got, tc.HealthStatus)
				}
			})
		}
	}
}

// TestEveryTestdataFileIsUsed catches a testdata file no case refers to.
func TestEveryTestdataFileIsUsed(t *testing.T) {
	for _, kind := range Kinds {
		var cases healthTests
		readYAML(t, path.Join(Dir(kind), "health_test.yaml"), &cases)
		used := map[string]bool{}
		for _, tc := range cases.Tests {
			used[tc.InputPath] = true
		}
		entries, err := customizations.ReadDir(path.Join(Dir(kind), "testdata"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !used["testdata/"+e.Name()] {
				t.Errorf("%s: testdata/%s is not in health_test.yaml", kind, e.Name())
			}
		}
	}
}

// TestCoverage makes sure each kind is tested in every state the brief
// promises: healthy, new, stale, suspended and at least three terminal
// reasons.
func TestCoverage(t *testing.T) {
	for _, kind := range Kinds {
		var cases healthTests
		readYAML(t, path.Join(Dir(kind), "health_test.yaml"), &cases)
		count := map[string]int{}
		inputs := map[string]bool{}
		for _, tc := range cases.Tests {
			count[tc.HealthStatus.Status]++
			inputs[tc.InputPath] = true
		}
		for _, in := range []string{"testdata/healthy.yaml", "testdata/progressing-new.yaml", "testdata/progressing-stale-generation.yaml", "testdata/suspended.yaml"} {
			if !inputs[in] {
				t.Errorf("%s: no case %s", kind, in)
			}
		}
		if count["Degraded"] < 3 {
			t.Errorf("%s: %d Degraded cases, want at least 3", kind, count["Degraded"])
		}
	}
}

// TestScriptsAreIdentical: the kinds share one script, so a fix to one
// must reach all three.
func TestScriptsAreIdentical(t *testing.T) {
	first, err := HealthScript(Kinds[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range Kinds[1:] {
		s, err := HealthScript(kind)
		if err != nil {
			t.Fatal(err)
		}
		if s != first {
			t.Errorf("%s/health.lua differs from %s/health.lua; keep them identical", kind, Kinds[0])
		}
	}
}

// reasonHealth is how a Ready=False condition with each reason in
// api/v1alpha1/conditions.go must look in Argo CD. A reason added there
// without an entry here fails TestEveryReasonIsClassified, so each new
// reason gets a decision.
var reasonHealth = map[string]string{
	"Progressing":          "Progressing",
	"ReconcileFailed":      "Progressing",
	"Unreachable":          "Progressing",
	"RateLimited":          "Progressing",
	"ConnectionNotReady":   "Progressing",
	"Deleting":             "Progressing",
	"Paused":               "Progressing", // annotation already removed: resuming
	"KeyConflict":          "Degraded",
	"SecretNotFound":       "Degraded",
	"InvalidCredentials":   "Degraded",
	"DeveloperNotFound":    "Degraded",
	"AppNotFound":          "Degraded",
	"ProductNotFound":      "Degraded",
	"InvalidRequest":       "Degraded",
	"ConnectionNotFound":   "Degraded",
	"ConnectionNotAllowed": "Degraded",
	"Unauthorized":         "Degraded",
	"Forbidden":            "Degraded",
	"InvalidSpec":          "Degraded",
	"Drifted":              "Degraded",
	// The operator will not lend its own identity: fix the connection.
	"AmbientCredentialsNotAllowed": "Degraded",
	// The connection reaches elsewhere than the keys live: a person decides.
	"LocationChanged": "Degraded",
	// Only inside a Deleting message today; as a reason it needs a person.
	"ImportUnconfirmed": "Degraded",
	// The key is useless until a person (or a renewal) replaces it.
	"KeyExpired": "Degraded",
	// The app is revoked in Apigee; the operator never changes it.
	"AppRevoked": "Degraded",
	// expiresInSeconds on Edge: re-create the object without it.
	"ExpiryNotSupported": "Degraded",
	// A person restores the secret or asks for Delete.
	"AdoptedKeyProtected": "Degraded",
	// An administrator approves in Apigee, or allows approval in the grant.
	"ApprovalNotGranted": "Degraded",
	// Success reasons never come with Ready=False; if they did, something
	// is wrong and Degraded says so.
	"Converged":          "Degraded",
	"ReconcileSucceeded": "Degraded",
	"Authenticated":      "Degraded",
	// A Ready=True reason (the key works, a delete waits); as Ready=False
	// it would be wrong.
	"WaitingForPeers": "Degraded",
	// Scoped reasons of a ClusterApigeeConnection, never a Ready reason.
	"Granted":           "Degraded",
	"WholeOrganization": "Degraded",
}

func TestEveryReasonIsClassified(t *testing.T) {
	script, err := HealthScript("DeveloperAppKey")
	if err != nil {
		t.Fatal(err)
	}
	for _, reason := range conditionReasons(t) {
		want, ok := reasonHealth[reason]
		if !ok {
			t.Errorf("reason %s from api/v1alpha1/conditions.go has no expected health; add it to reasonHealth (and the script if transient)", reason)
			continue
		}
		obj := map[string]any{
			"kind":     "DeveloperAppKey",
			"metadata": map[string]any{"name": "k", "generation": float64(1)},
			"status": map[string]any{
				"observedGeneration": float64(1),
				"conditions": []any{map[string]any{
					"type": "Ready", "status": "False", "reason": reason, "message": "m",
				}},
			},
		}
		got, err := RunHealth(script, obj)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != want || got.Message != "m" {
			t.Errorf("Ready=False %s: got %+v, want %s with the condition's message", reason, got, want)
		}
	}
}

// conditionReasons reads the Reason* constants from conditions.go.
func conditionReasons(t *testing.T) []string {
	t.Helper()
	file := filepath.Join("..", "..", "api", "v1alpha1", "conditions.go")
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || len(vs.Values) != 1 || !strings.HasPrefix(vs.Names[0].Name, "Reason") {
			return true
		}
		if lit, ok := vs.Values[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			reasons = append(reasons, s)
		}
		return true
	})
	if len(reasons) < 10 {
		t.Fatalf("found only %d reasons in %s", len(reasons), file)
	}
	return reasons
}

// TestScriptsAvoidStringLibrary: Argo CD does not open the string library,
// so string.x() or s:x() calls would fail only in Argo CD.
func TestScriptsAvoidStringLibrary(t *testing.T) {
	methodCall := regexp.MustCompile(`\bstring\.|[\w\)\]"]:\w+\(`)
	for _, kind := range Kinds {
		s, _ := HealthScript(kind)
		for i, line := range strings.Split(s, "\n") {
			code, _, _ := strings.Cut(line, "--")
			if methodCall.MatchString(code) {
				t.Errorf("%s/health.lua:%d uses the string library: %s", kind, i+1, line)
			}
		}
	}
}

// TestDocsEmbedCurrentScripts keeps docs/argocd-cm.yaml and the snippet in
// docs/argocd.md equal to the scripts. `make argocd-docs` (go test -update)
// rewrites both.
func TestDocsEmbedCurrentScripts(t *testing.T) {
	want, err := ConfigMap()
	if err != nil {
		t.Fatal(err)
	}
	cmFile := filepath.Join("..", "..", "docs", "argocd-cm.yaml")
	mdFile := filepath.Join("..", "..", "docs", "argocd.md")
	md, err := os.ReadFile(mdFile)
	if err != nil {
		t.Fatal(err)
	}
	newMD, err := replaceSnippet(string(md), string(want))
	if err != nil {
		t.Fatalf("%s: %v", mdFile, err)
	}
	if *update {
		writeFile(t, cmFile, want)
		writeFile(t, mdFile, []byte(newMD))
		return
	}
	if got, _ := os.ReadFile(cmFile); string(got) != string(want) {
		t.Errorf("%s is stale: run make argocd-docs", cmFile)
	}
	if newMD != string(md) {
		t.Errorf("the argocd-cm snippet in %s is stale: run make argocd-docs", mdFile)
	}
	checkConfigMapParses(t, want)
}

const (
	snippetBegin = "<!-- BEGIN GENERATED argocd-cm.yaml -->\n```yaml\n"
	snippetEnd   = "```\n<!-- END GENERATED argocd-cm.yaml -->"
)

// replaceSnippet puts cm between the markers in md.
func replaceSnippet(md, cm string) (string, error) {
	before, rest, ok := strings.Cut(md, snippetBegin)
	if !ok {
		return "", errMarkers
	}
	_, after, ok := strings.Cut(rest, snippetEnd)
	if !ok {
		return "", errMarkers
	}
	return before + snippetBegin + cm + snippetEnd + after, nil
}

type markersError struct{}

func (markersError) Error() string {
	return "missing the generated snippet markers " + strconv.Quote(snippetBegin) + " ... " + strconv.Quote(snippetEnd)
}

var errMarkers error = markersError{}

// checkConfigMapParses reads the snippet back as YAML: each data key must
// hold exactly its script, as Argo CD will see it.
func checkConfigMapParses(t *testing.T, cm []byte) {
	t.Helper()
	var parsed struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(cm, &parsed); err != nil {
		t.Fatal(err)
	}
	if len(parsed.Data) != len(Kinds) {
		t.Errorf("argocd-cm has %d keys, want %d", len(parsed.Data), len(Kinds))
	}
	for _, kind := range Kinds {
		script, _ := HealthScript(kind)
		if parsed.Data[ConfigMapKey(kind)] != script {
			t.Errorf("argocd-cm %s does not hold %s/health.lua exactly", ConfigMapKey(kind), kind)
		}
	}
}

func readYAML(t *testing.T, name string, into any) {
	t.Helper()
	b, err := customizations.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := json.Unmarshal(j, into); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
