package chart

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestGeneratedTemplatesUpToDate runs hack/generate-chart-crds.sh into a
// scratch directory and compares: the chart's CRDs and RBAC rules must be
// what config/ (and so the Go markers) say.
func TestGeneratedTemplatesUpToDate(t *testing.T) {
	scratch := t.TempDir()
	out, err := exec.Command(filepath.Join(root, "hack", "generate-chart-crds.sh"), scratch).CombinedOutput()
	if err != nil {
		t.Fatalf("generate-chart-crds.sh: %v\n%s", err, out)
	}
	generated, _ := filepath.Glob(filepath.Join(scratch, "templates", "crds", "*.yaml"))
	committed, _ := filepath.Glob(filepath.Join(chartDir, "templates", "crds", "*.yaml"))
	if len(generated) != len(committed) {
		t.Errorf("%d generated CRD templates, %d in the chart: run make chart-crds", len(generated), len(committed))
	}
	generated = append(generated, filepath.Join(scratch, "templates", "_manager_rules.tpl"))
	for _, g := range generated {
		rel, _ := filepath.Rel(scratch, g)
		want, _ := os.ReadFile(g)
		got, err := os.ReadFile(filepath.Join(chartDir, rel))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s is stale: run make chart-crds", rel)
		}
	}
}

// TestGeneratorIsDeterministic: two runs give the same bytes, which
// hack/verify-generated.sh relies on.
func TestGeneratorIsDeterministic(t *testing.T) {
	runs := [2]string{t.TempDir(), t.TempDir()}
	for _, dir := range runs {
		if out, err := exec.Command(filepath.Join(root, "hack", "generate-chart-crds.sh"), dir).CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	a, b := tree(t, runs[0]), tree(t, runs[1])
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("runs wrote %d and %d files", len(a), len(b))
	}
	for name, content := range a {
		if b[name] != content {
			t.Errorf("%s differs between runs", name)
		}
	}
}

func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEveryValueIsDocumented: each value in values.schema.json is in
// values.yaml (so it has a visible default) and in the README's table.
func TestEveryValueIsDocumented(t *testing.T) {
	var schema map[string]any
	b, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	if schema["additionalProperties"] != false {
		t.Error("values.schema.json must set additionalProperties: false at the top level")
	}
	var values map[string]any
	vb, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(vb, &values); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	paths := leafPaths(schema, schema, "")
	sort.Strings(paths)
	for _, p := range paths {
		if p == "global" {
			continue // Helm's subchart values, not ours
		}
		if !hasPath(values, p) {
			t.Errorf("value %s is in values.schema.json but not values.yaml", p)
		}
		if !strings.Contains(string(readme), "| `"+p+"` |") {
			t.Errorf("value %s is not in the README's values table", p)
		}
	}
}

// leafPaths lists the dotted paths of schema properties that hold values
// (objects without declared properties, like annotations, are leaves),
// following local $refs into root's definitions.
func leafPaths(root, schema map[string]any, prefix string) []string {
	if ref, ok := schema["$ref"].(string); ok {
		defs, _ := root["definitions"].(map[string]any)
		schema, _ = defs[strings.TrimPrefix(ref, "#/definitions/")].(map[string]any)
	}
	props, _ := schema["properties"].(map[string]any)
	if len(props) == 0 {
		return []string{strings.TrimPrefix(prefix, ".")}
	}
	var out []string
	for name, sub := range props {
		s, _ := sub.(map[string]any)
		out = append(out, leafPaths(root, s, prefix+"."+name)...)
	}
	return out
}

func hasPath(values map[string]any, path string) bool {
	var cur any = values
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}
