package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Tool is a pinned Go tool built from its own module under hack/ into bin/,
// when missing or older than that module's go.mod, so the tests need Go
// only. The first build takes a few minutes.
type Tool struct {
	name, module, pkg string
	once              sync.Once
	path              string
	err               error
}

var (
	// Helm renders and lints the chart (hack/helm).
	Helm = &Tool{name: "helm", module: "helm", pkg: "helm.sh/helm/v3/cmd/helm"}
	// Promtool checks the chart's alert rules (hack/promtool).
	Promtool = &Tool{name: "promtool", module: "promtool", pkg: "github.com/prometheus/prometheus/cmd/promtool"}
)

// Binary returns the tool's path, building it once per test process.
func (tl *Tool) Binary(t testing.TB) string {
	t.Helper()
	tl.once.Do(func() { tl.path, tl.err = tl.build() })
	if tl.err != nil {
		t.Fatalf("building %s: %v", tl.name, tl.err)
	}
	return tl.path
}

func (tl *Tool) build() (string, error) {
	root := RepoRoot()
	bin := filepath.Join(root, "bin", tl.name)
	if fresh(bin, filepath.Join(root, "hack", tl.module, "go.mod")) {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	// Build to a temporary name and rename, so a concurrent test package
	// never runs a half-written binary.
	tmp := fmt.Sprintf("%s.tmp%d", bin, os.Getpid())
	cmd := exec.Command("go", "build", "-C", filepath.Join(root, "hack", tl.module), "-o", tmp, tl.pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", errors.New(err.Error() + ": " + string(out))
	}
	return bin, os.Rename(tmp, bin)
}

// fresh reports whether bin exists and is newer than its source.
func fresh(bin, source string) bool {
	b, err := os.Stat(bin)
	if err != nil {
		return false
	}
	s, err := os.Stat(source)
	return err == nil && b.ModTime().After(s.ModTime())
}
