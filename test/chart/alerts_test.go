package chart

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv"
)

// TestAlertRules renders the chart's PrometheusRule and runs promtool (the
// pinned hack/promtool) on it: `check rules` lints the rules, and `test
// rules` evaluates each alert against synthetic series
// (testdata/alerts-test.yaml): it fires when it should, stays quiet when it
// should, and says what it should.
func TestAlertRules(t *testing.T) {
	objs := objects(t, render(t, "--set", "prometheusRule.enabled=true"))
	rule := only(t, objs, "PrometheusRule")
	spec, ok := rule.Object["spec"].(map[string]any)
	if !ok {
		t.Fatalf("PrometheusRule has no spec: %v", rule.Object)
	}
	rules, err := yaml.Marshal(map[string]any{"groups": spec["groups"]})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), rules, 0o600); err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join(root, "test", "chart", "testdata", "alerts-test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts-test.yaml"), tests, 0o600); err != nil {
		t.Fatal(err)
	}
	promtool := testenv.Promtool.Binary(t)
	for _, args := range [][]string{{"check", "rules", "rules.yaml"}, {"test", "rules", "alerts-test.yaml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}

// TestAlertRulesOffByDefault: no PrometheusRule unless asked for.
func TestAlertRulesOffByDefault(t *testing.T) {
	if n := len(ofKind(objects(t, render(t)), "PrometheusRule")); n != 0 {
		t.Errorf("%d PrometheusRules by default, want none", n)
	}
}
