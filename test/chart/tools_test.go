// Package chart tests the Helm chart and the kustomize install with the real
// tools: the pinned Helm (hack/helm) lints and renders the chart, and the
// pinned kubectl applies the output to a real kube-apiserver (envtest).
package chart

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv"
)

var (
	root      = testenv.RepoRoot()
	chartDir  = filepath.Join(root, "charts", "apigee-key-operator")
	allValues = filepath.Join(root, "test", "chart", "testdata", "all-values.yaml")
)

// helmBinary returns the pinned Helm (hack/helm).
func helmBinary(t *testing.T) string { return testenv.Helm.Binary(t) }

// helm runs the pinned Helm with its state in a temporary directory, so the
// tests never read or write the user's Helm configuration.
func helm(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(helmBinary(t), args...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

// render runs helm template for release "keyop" and fails the test on error.
func render(t *testing.T, args ...string) string {
	t.Helper()
	out, err := helm(t, nil, append([]string{"template", "keyop", chartDir, "--namespace", "apigee-key-operator"}, args...)...)
	if err != nil {
		t.Fatalf("helm template %v: %v\n%s", args, err, out)
	}
	return out
}

// kubectlBinary is the pinned kubectl that hack/build-control-plane.sh puts
// next to kube-apiserver (KUBEBUILDER_ASSETS, set by `make test`).
func kubectlBinary(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run the tests with `make test`, which builds the control plane and kubectl into bin/k8s/ and sets it")
	}
	return filepath.Join(dir, "kubectl")
}

// run runs a command with stdin and returns its combined output.
func run(name string, stdin string, env []string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

// objects splits a multi-document YAML stream into objects, skipping empty
// documents.
func objects(t *testing.T, manifests string) []*unstructured.Unstructured {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifests)))
	var out []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}

// ofKind returns the objects of kind.
func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// only returns the single object of kind, failing the test otherwise.
func only(t *testing.T, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	found := ofKind(objs, kind)
	if len(found) != 1 {
		t.Fatalf("want exactly one %s, got %d", kind, len(found))
	}
	return found[0]
}

// into converts an object to a typed one.
func into(t *testing.T, u *unstructured.Unstructured, typed any) {
	t.Helper()
	b, err := yaml.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, typed); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

// without drops the objects of kind from a manifest stream.
func without(t *testing.T, manifests, kind string) string {
	t.Helper()
	var b strings.Builder
	for _, o := range objects(t, manifests) {
		if o.GetKind() == kind {
			continue
		}
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.String()
}
