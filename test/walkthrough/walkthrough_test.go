// Package walkthrough runs README's "Bring existing keys under management"
// as a new user would: every sh block of the section, in order, in bash,
// against the same local run as `make run-local`, with the plugin built
// from this tree and the pinned kubectl on the PATH. It checks what the
// section says happens: the outputs it shows, onboarding without a write
// to Apigee, the migrated keys identical in X, and no key or secret in any
// output.
package walkthrough

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/apigee-key-operator/apigee-key-operator/internal/localrun"
	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv"
)

const section = "## Bring existing keys under management\n"

// block is a fenced code block of the section.
type block struct{ lang, text string }

func TestReadmeOnboardingWalkthrough(t *testing.T) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run the tests with `make test`")
	}
	blocks := readmeBlocks(t)
	root := userTree(t, assets)
	state := filepath.Join(root, "bin", "local")
	runOut, xAddr, edgeAddr := startLocalRun(t, state)

	env := userEnv(root)
	var outputs []string
	var lastOut string
	writesMark := -1
	for i, b := range blocks {
		if b.lang == "text" {
			checkShown(t, b.text, lastOut)
			continue
		}
		script := strings.NewReplacer("127.0.0.1:8081", xAddr, "127.0.0.1:8082", edgeAddr).Replace(b.text)
		switch {
		case strings.Contains(script, "kubectl apigee-keys export --connection prod"):
			writesMark = len(requestLog(t, state))
		case strings.Contains(script, "--platform Edge") && writesMark >= 0:
			if w := writesSince(requestLog(t, state)[writesMark:], "acme-prod"); len(w) > 0 {
				t.Errorf("onboarding in place wrote to Apigee:\n%s", strings.Join(w, "\n"))
			}
		}
		want := 0
		if strings.Contains(script, "# exits 1") {
			want = 1
		}
		var code int
		lastOut, env, code = runBlock(t, root, env, script)
		outputs = append(outputs, lastOut)
		t.Logf("block %d, exit %d:\n%s\n%s", i, code, script, lastOut)
		if code != want {
			t.Fatalf("block %d exited %d, want %d:\n%s\noutput:\n%s", i, code, want, script, lastOut)
		}
	}
	if writesMark < 0 {
		t.Fatal("the section has no in-place export")
	}

	joined := strings.Join(outputs, "\n")
	for _, want := range []string{"2 keys: 2 would adopt", "Adopted the existing key", "3 keys: 3 ready", "DeveloperAppKeys: 6\n  Converged                6"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no %q in the walkthrough's output", want)
		}
	}
	values := checkMigrated(t, xAddr, edgeAddr)
	operatorLog, _ := os.ReadFile(filepath.Join(state, "operator.log"))
	texts := map[string]string{"the commands' output": joined, "run-local's output": runOut.String(), "the operator's log": string(operatorLog),
		"onboard/": dirText(t, filepath.Join(root, "onboard")), "migrate/": dirText(t, filepath.Join(root, "migrate"))}
	for where, text := range texts {
		for _, v := range values {
			if strings.Contains(text, v) {
				t.Errorf("a key or secret value appears in %s", where)
				break
			}
		}
	}
}

// readmeBlocks returns the section's sh and text blocks in order.
func readmeBlocks(t *testing.T) []block {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start := strings.Index(s, section)
	if start < 0 {
		t.Fatalf("README.md has no %q", strings.TrimSpace(section))
	}
	s = s[start+len(section):]
	if end := strings.Index(s, "\n## "); end >= 0 {
		s = s[:end]
	}
	var out []block
	for _, m := range regexp.MustCompile("(?s)```(sh|text)\n(.*?)```").FindAllStringSubmatch(s, -1) {
		out = append(out, block{lang: m[1], text: m[2]})
	}
	if len(out) < 5 {
		t.Fatalf("the section has %d code blocks", len(out))
	}
	return out
}

// userTree is a stand-in for the repository root as the user has it after
// `make run-local`: the plugin built from this tree (`make build` only
// checks it is there), the control plane's directory printed by
// hack/build-control-plane.sh, and bin/local for the run's state.
func userTree(t *testing.T, assets string) string {
	t.Helper()
	root := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(root, "bin", "kubectl-apigee_keys"), "./cmd/kubectl-apigee_keys")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the plugin: %v\n%s", err, out)
	}
	files := map[string]string{
		"Makefile":                    "build:\n\ttest -x bin/kubectl-apigee_keys\n",
		"hack/build-control-plane.sh": "#!/bin/sh\necho '" + assets + "'\n",
		"bin/local/.keep":             "",
	}
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// startLocalRun runs what `make run-local` runs, on free ports, until the
// test ends.
func startLocalRun(t *testing.T, state string) (out *testenv.Buffer, xAddr, edgeAddr string) {
	t.Helper()
	out = &testenv.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	var runErr error
	go func() {
		defer close(finished)
		runErr = localrun.Run(ctx, localrun.Options{RepoRoot: testenv.RepoRoot(), XAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0",
			StateDir: state, Out: out, Wait: 2 * time.Minute, Stay: true})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(30 * time.Second):
			t.Error("the local run did not stop")
		}
	})
	testenv.Eventually(t, 3*time.Minute, "the local run", func() (bool, string) {
		select {
		case <-finished:
			t.Fatalf("the local run ended: %v\n%s", runErr, out.String())
		default:
		}
		return strings.Contains(out.String(), "Press Ctrl-C to stop."), out.String()
	})
	addr := func(dialect string) string {
		m := regexp.MustCompile(`Apigee emulator \(` + dialect + ` dialect\) on http://([0-9.:]+)`).FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("no %s address in:\n%s", dialect, out.String())
		}
		return m[1]
	}
	return out, addr("X"), addr("Edge")
}

// userEnv is a shell's environment: the system's PATH and tools, a home of
// its own, no kubeconfig yet.
func userEnv(root string) []string {
	env := []string{"HOME=" + filepath.Join(root, "home"), "TERM=dumb"}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "KUBEBUILDER_ASSETS=") {
			env = append(env, kv)
		}
	}
	return env
}

// runBlock runs one block in bash in root, stopping at the first failing
// command, and returns its output, the environment it leaves (what it
// exported), and its exit code.
func runBlock(t *testing.T, root string, env []string, script string) (string, []string, int) {
	t.Helper()
	envFile := filepath.Join(t.TempDir(), "env")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", "set -eo pipefail\n"+script+"\nenv -0 > "+envFile)
	cmd.Dir, cmd.Env = root, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running bash: %v", err)
	}
	if b, err := os.ReadFile(envFile); err == nil {
		env = strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	}
	return out.String(), env, code
}

var (
	fingerprint = regexp.MustCompile(`sha256:[0-9a-f]{16}`)
	nameHash    = regexp.MustCompile(`-[0-9a-f]{10}\b`)
	spaces      = regexp.MustCompile(`[ \t]+`)
)

// checkShown: every line of a text block the section shows appears in the
// output of the command before it, fingerprints and alignment aside (the
// local keys are random).
func checkShown(t *testing.T, shown, output string) {
	t.Helper()
	norm := func(s string) string {
		return spaces.ReplaceAllString(nameHash.ReplaceAllString(fingerprint.ReplaceAllString(s, "sha256:…"), "-…"), " ")
	}
	got := norm(output)
	for _, line := range strings.Split(shown, "\n") {
		if line = strings.TrimSpace(norm(line)); line != "" && !strings.Contains(got, line) {
			t.Errorf("README shows %q; the command printed:\n%s", line, output)
		}
	}
}

// requestLog is bin/local/apigee-requests.log, one request a line.
func requestLog(t *testing.T, state string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(state, "apigee-requests.log"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func writesSince(lines []string, organization string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, " "+organization+" ") && !strings.Contains(l, " "+organization+" GET ") {
			out = append(out, l)
		}
	}
	return out
}

// credential is what a migration must keep of a key.
type credential struct {
	ConsumerKey    string `json:"consumerKey"`
	ConsumerSecret string `json:"consumerSecret"`
	Status         string `json:"status"`
	APIProducts    []struct {
		Name   string `json:"apiproduct"`
		Status string `json:"status"`
	} `json:"apiProducts"`
	Attributes []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"attributes"`
}

// checkMigrated compares acme-legacy's migrated keys with acme-prod's and
// returns every key and secret value of both organizations.
func checkMigrated(t *testing.T, xAddr, edgeAddr string) []string {
	t.Helper()
	x := map[string]credential{}
	var values []string
	for _, a := range [][2]string{{"partner@example.com", "orders-app"}, {"mobile@example.com", "mobile-app"}, {"billing@example.com", "invoices-app"}} {
		for _, c := range appCredentials(t, "http://"+xAddr+"/v1/organizations/acme-prod", a, func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer local-dev-token")
		}) {
			x[c.ConsumerKey] = c
			values = append(values, c.ConsumerKey, c.ConsumerSecret)
		}
	}
	migrated := 0
	for _, a := range [][2]string{{"partner@example.com", "orders-app"}, {"billing@example.com", "invoices-app"}} {
		for _, c := range appCredentials(t, "http://"+edgeAddr+"/v1/organizations/"+localrun.LegacyOrganization, a, func(r *http.Request) {
			r.SetBasicAuth(localrun.LegacyUser, localrun.LegacyPassword)
		}) {
			values = append(values, c.ConsumerKey, c.ConsumerSecret)
			got, ok := x[c.ConsumerKey]
			if !ok {
				continue // the key Apigee generated with the Edge app stays behind
			}
			migrated++
			// Compared without the values, so a difference prints none.
			edgeSide, xSide := c, got
			edgeSide.ConsumerKey, xSide.ConsumerKey = "", ""
			edgeSide.ConsumerSecret, xSide.ConsumerSecret = "same", "same"
			if got.ConsumerSecret != c.ConsumerSecret {
				xSide.ConsumerSecret = "another"
			}
			if len(edgeSide.Attributes) == 0 && len(xSide.Attributes) == 0 {
				edgeSide.Attributes, xSide.Attributes = nil, nil // Edge says [], X omits empty lists
			}
			if diff := cmp.Diff(edgeSide, xSide); diff != "" {
				t.Errorf("a key of %s/%s differs between Edge and X (-edge +x):\n%s", a[0], a[1], diff)
			}
		}
	}
	if migrated != 3 {
		t.Errorf("%d keys of acme-legacy are in acme-prod, want 3", migrated)
	}
	return values
}

func appCredentials(t *testing.T, base string, app [2]string, authorize func(*http.Request)) []credential {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/developers/"+app[0]+"/apps/"+app[1], nil)
	if err != nil {
		t.Fatal(err)
	}
	authorize(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Credentials []credential `json:"credentials"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET app %s/%s: %d %v", app[0], app[1], resp.StatusCode, err)
	}
	return body.Credentials
}

// dirText is the content of every file in dir.
func dirText(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			c, _ := os.ReadFile(p)
			fmt.Fprintf(&b, "%s\n", c)
		}
		return nil
	})
	return b.String()
}
