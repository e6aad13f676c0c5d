package main

import (
	"context"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv"
)

// TestRecordsSecret: a bare name is in the operator's namespace (the
// lease's, else the pod's); outside a cluster there is none.
func TestRecordsSecret(t *testing.T) {
	dir := t.TempDir()
	saNamespace := filepath.Join(dir, "namespace")
	if err := os.WriteFile(saNamespace, []byte("operator-ns\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := serviceAccountNamespace
	t.Cleanup(func() { serviceAccountNamespace = old })
	for _, c := range []struct {
		o      options
		saFile string
		want   string
	}{
		{options{recordsSecret: "ops/recs"}, saNamespace, "ops/recs"},
		{options{recordsSecret: "recs", leaderElectNS: "lease-ns"}, saNamespace, "lease-ns/recs"},
		{options{recordsSecret: "recs"}, saNamespace, "operator-ns/recs"},
		{options{recordsSecret: "recs"}, filepath.Join(dir, "missing"), "/"},
		{options{recordsSecret: ""}, saNamespace, "/"},
	} {
		serviceAccountNamespace = c.saFile
		if got := c.o.records().String(); got != c.want {
			t.Errorf("records() with %+v = %q, want %q", c.o, got, c.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	cases := []struct {
		reason  string
		args    []string
		wantErr string
	}{
		{"defaults are valid", nil, ""},
		{"every flag", []string{"--metrics-bind-address=0", "--metrics-secure=false", "--leader-elect", "--resync-interval=1m",
			"--watch-namespaces=a, b", "-v=5", "--log-format=console", "--max-concurrent-reconciles=2"}, ""},
		{"resync too short", []string{"--resync-interval=10ms"}, "--resync-interval must be at least 1s"},
		{"bad log format", []string{"--log-format=xml"}, `--log-format must be "json" or "console"`},
		{"negative verbosity", []string{"-v=-1"}, "-v must not be negative"},
		{"no workers", []string{"--max-concurrent-reconciles=0"}, "--max-concurrent-reconciles must be at least 1"},
		{"namespace share over the workers", []string{"--max-concurrent-reconciles=4", "--namespace-max-concurrent-reconciles=5"}, "--namespace-max-concurrent-reconciles must be between 0 and --max-concurrent-reconciles (4)"},
		{"tenancy flags", []string{"--namespaced-ambient-credentials", "--organization-requests-per-minute=3000", "--organization-burst=5"}, ""},
		{"negative budget", []string{"--organization-requests-per-minute=-1"}, "--organization-requests-per-minute must be between 0 and 100000"},
		{"no burst", []string{"--organization-burst=0"}, "--organization-burst must be between 1 and 1000"},
		{"lease timings", []string{"--leader-elect", "--leader-election-namespace=ops", "--leader-election-lease-duration=6s",
			"--leader-election-renew-deadline=4s", "--leader-election-retry-period=1s"}, ""},
		{"lease no longer than the renew deadline", []string{"--leader-election-lease-duration=10s"},
			"--leader-election-lease-duration (10s) must be longer than --leader-election-renew-deadline (10s)"},
		{"renew deadline within a jittered retry", []string{"--leader-election-renew-deadline=2400ms", "--leader-election-retry-period=2s"},
			"--leader-election-renew-deadline (2.4s) must be longer than 1.2 times --leader-election-retry-period (2s)"},
		{"no retry period", []string{"--leader-election-retry-period=0s"}, "must be positive"},
		{"negative lease", []string{"--leader-election-lease-duration=-1s"}, "must be positive"},
		{"records Secret with a namespace", []string{"--records-secret=ops/records"}, ""},
		{"records Secret path", []string{"--records-secret=a/b/c"}, `--records-secret must be "name" or "namespace/name"`},
		{"no organization series", []string{"--organization-series=0"}, "--organization-series must be between 1 and 100000"},
	}
	for _, c := range cases {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		_, err := parseFlags(fs, c.args)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v", c.reason, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: got %v, want %q", c.reason, err, c.wantErr)
		}
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	if o, _ := parseFlags(fs, nil); o.tenancy().NamespacedAmbientCredentials || o.tenancy().OrganizationRate != (apigee.Rate{Burst: 20}) {
		t.Errorf("by default the ambient identity is not lent to namespaces and budgets are the platform's, got %+v", o.tenancy())
	}
	m := managerOptions(parsed(t))
	if m.PprofBindAddress != "0" {
		t.Errorf("pprof is served at %q by default; want it off (\"0\"): it is unauthenticated", m.PprofBindAddress)
	}
	if *m.LeaseDuration != 15*time.Second || *m.RenewDeadline != 10*time.Second || *m.RetryPeriod != 2*time.Second || !m.LeaderElectionReleaseOnCancel {
		t.Errorf("leader election defaults: lease %s, renew %s, retry %s, release on cancel %t; want controller-runtime's 15s, 10s, 2s and a release",
			*m.LeaseDuration, *m.RenewDeadline, *m.RetryPeriod, m.LeaderElectionReleaseOnCancel)
	}
	m = managerOptions(parsed(t, "--leader-elect", "--leader-election-namespace=ops", "--leader-election-lease-duration=6s",
		"--leader-election-renew-deadline=4s", "--leader-election-retry-period=1s"))
	if !m.LeaderElection || m.LeaderElectionNamespace != "ops" || *m.LeaseDuration != 6*time.Second || *m.RenewDeadline != 4*time.Second || *m.RetryPeriod != time.Second {
		t.Errorf("leader election flags not passed to the manager: %t %q %s %s %s", m.LeaderElection, m.LeaderElectionNamespace, *m.LeaseDuration, *m.RenewDeadline, *m.RetryPeriod)
	}
	fs = flag.NewFlagSet("test", flag.ContinueOnError)
	o, _ := parseFlags(fs, []string{"--watch-namespaces= a,,b "})
	if got := o.namespaces(); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("namespaces() = %q", got)
	}
}

// parsed parses valid flags.
func parsed(t *testing.T, args ...string) options {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	o, err := parseFlags(fs, args)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestRunServesProbesAndMetrics starts the real manager against the test
// control plane and checks its probe and metrics endpoints.
func TestRunServesProbesAndMetrics(t *testing.T) {
	env := testenv.Start(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", kubeconfig)
	probes, metrics, pprof := freeAddr(t), freeAddr(t), freeAddr(t)
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	o, err := parseFlags(fs, []string{"--health-probe-bind-address=" + probes, "--metrics-bind-address=" + metrics, "--metrics-secure=false",
		"--pprof-bind-address=" + pprof})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, o) }()
	waitOK(t, "http://"+probes+"/healthz", "ok")
	waitOK(t, "http://"+probes+"/readyz", "ok")
	waitOK(t, "http://"+pprof+"/debug/pprof/", "heap")
	// The controllers register once started, with the configured workers.
	waitOK(t, "http://"+metrics+"/metrics", `controller_runtime_max_concurrent_reconciles{controller="developerappkey"} 32`)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v after cancel", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("manager did not stop")
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitOK waits until url answers 200 with a body containing want.
func waitOK(t *testing.T, url, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), want) {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s never answered 200 with %q", url, want)
}

// TestStopsWithinTheGracePeriod: the manager gives up on reconciles in
// flight before the kubelet's grace period ends (chart and kustomize), so
// a stopping leader always gets to release its lease.
func TestStopsWithinTheGracePeriod(t *testing.T) {
	timeout := *managerOptions(options{}).GracefulShutdownTimeout
	for _, file := range []string{"charts/apigee-key-operator/values.yaml", "config/manager/manager.yaml"} {
		data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), file))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`terminationGracePeriodSeconds: (\d+)`).FindSubmatch(data)
		if m == nil {
			t.Fatalf("%s sets no terminationGracePeriodSeconds", file)
		}
		grace, _ := strconv.Atoi(string(m[1]))
		if timeout+2*time.Second > time.Duration(grace)*time.Second {
			t.Errorf("%s: grace period %ds leaves less than 2s after the manager's shutdown timeout %s", file, grace, timeout)
		}
	}
}
