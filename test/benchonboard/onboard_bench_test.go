// Package benchonboard measures onboarding in place at scale: an Apigee X
// organization's keys exported with kubectl-apigee_keys (Secrets applied to
// the cluster), planned, and the manifests applied to envtest with the
// operator's manager running, until every key is Ready. Adoption must make
// reads only. Run with `make bench`; BENCH_ONBOARD_KEYS and
// BENCH_ONBOARD_APPS change the size (default the 10,000 keys in
// 1,000 apps, 10 apps a developer).
package benchonboard

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/auth"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/connect"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
	"github.com/apigee-key-operator/apigee-key-operator/internal/cli"
	"github.com/apigee-key-operator/apigee-key-operator/internal/controller"
	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv"
)

const (
	quotaPerMinute = 6000 // Apigee X's management quota
	latency        = 25 * time.Millisecond
	appsPerDev     = 10
	token          = "t"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkOnboardInPlace exports, plans and applies an organization of
// BENCH_ONBOARD_KEYS keys in BENCH_ONBOARD_APPS apps, the emulator
// enforcing X's quota and answering every call 25 ms late, and reports the
// time and Apigee calls of each step. It fails if converging wrote to
// Apigee; it asserts no timing.
func BenchmarkOnboardInPlace(b *testing.B) {
	keys, apps := envInt("BENCH_ONBOARD_KEYS", 10000), envInt("BENCH_ONBOARD_APPS", 1000)
	ctrl.SetLogger(logr.Discard())
	env := testenv.Start(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cache := startManager(b, ctx, env)
	for b.Loop() {
		ns := env.Namespace(b, nil)
		emu := seedOrganization(b, env, ns, keys, apps)
		dir := b.TempDir()

		emu.ResetCalls()
		start := time.Now()
		exp := runCLI(b, env.Config, "export", "--connection", "prod", "-n", ns, "--output-dir", dir, "--apply-secrets")
		exportTime, exportCalls := time.Since(start), emu.TotalCalls()

		emu.ResetCalls()
		start = time.Now()
		plan := runCLI(b, env.Config, "plan", "--from", dir, "--connection", "prod", "-n", ns, "--output", "json")
		planTime, planCalls := time.Since(start), emu.TotalCalls()
		if want := fmt.Sprintf(`"would adopt": %d`, keys); !strings.Contains(plan, want) {
			b.Fatalf("plan does not say %s", want)
		}

		emu.ResetCalls()
		start = time.Now()
		applyDir(b, env.Client, dir)
		applied := time.Since(start)
		waitAllConverged(b, cache, ns, keys)
		converge := time.Since(start)
		byOp, writes := callsByOperation(emu.CallLog())
		if writes > 0 {
			b.Errorf("converging wrote to Apigee %d times: %s", writes, byOp)
		}

		b.ReportMetric(exportTime.Seconds(), "s/export")
		b.ReportMetric(float64(exportCalls), "export-calls")
		b.ReportMetric(converge.Seconds(), "s/converge")
		b.ReportMetric(float64(emu.TotalCalls())/float64(keys), "converge-calls/key")
		b.ReportMetric(float64(writes), "writes")
		fmt.Printf("onboarded %d keys in %d apps (X quota %d/min, %s latency):\n", keys, apps, quotaPerMinute, latency)
		fmt.Printf("  export, %d Secrets applied: %s; %s", keys, exportTime.Round(time.Millisecond), lastLines(exp, 1))
		fmt.Printf("  plan: %s, %d Apigee calls\n", planTime.Round(time.Millisecond), planCalls)
		fmt.Printf("  apply %d manifests (%s) until all Ready: %s; Apigee calls %s; writes %d\n",
			keys, applied.Round(time.Millisecond), converge.Round(time.Millisecond), byOp, writes)
	}
}

func startManager(b *testing.B, ctx context.Context, env *testenv.Env) client.Reader {
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: ptr(true), MaxConcurrentReconciles: 8},
		Client:     client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := controller.Setup(ctx, mgr, controller.Options{ResyncInterval: time.Hour}); err != nil {
		b.Fatal(err)
	}
	go func() { _ = mgr.Start(ctx) }()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		b.Fatal("manager cache did not sync")
	}
	return mgr.GetCache()
}

// seedOrganization fills an X organization with keys apps/appsPerDev
// developers, apps apps and keys keys imported after their apps, then
// turns on X's quota and the latency, and makes a Ready connection to it.
// While seeding, the emulator's clock moves a minute at every reading, so
// the quota's window never fills and no key is taken for its app's
// generated one; then it moves with real time.
func seedOrganization(b *testing.B, env *testenv.Env, ns string, keys, apps int) *emulator.Emulator {
	var offset atomic.Int64
	var seeding atomic.Bool
	seeding.Store(true)
	clock := func() time.Time {
		if seeding.Load() {
			offset.Add(int64(time.Minute))
		}
		return time.Now().Add(time.Duration(offset.Load()))
	}
	emu := emulator.New(emulator.Options{Organization: "bench-" + ns, BearerToken: token, RequestsPerMinute: quotaPerMinute, Clock: clock})
	srv := httptest.NewServer(emu.Handler(emulator.X))
	b.Cleanup(srv.Close)
	emu.AddProduct("orders-read", "auto")
	emu.AddProduct("orders-admin", "manual")
	c, err := connect.New(context.Background(), connect.Config{Platform: connect.PlatformX, Organization: emu.Organization(), Endpoint: srv.URL,
		Auth: auth.Config{Method: auth.MethodBearerToken, BearerToken: token}, RequestsPerMinute: 1e9, Burst: 1e6,
		Limiters: apigee.NewLimiterRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	type job struct {
		dev, app string
		n        int
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 8 {
		wg.Go(func() {
			for j := range jobs {
				if err := importKey(c, j.dev, j.app, j.n); err != nil {
					failed.Store(err)
				}
			}
		})
	}
	for a := range apps {
		dev := fmt.Sprintf("dev%04d@example.com", a/appsPerDev)
		if a%appsPerDev == 0 {
			emu.AddDeveloper(dev)
		}
		app := fmt.Sprintf("app%d", a%appsPerDev)
		if _, err := emu.AddApp(dev, app); err != nil {
			b.Fatal(err)
		}
		for k := a; k < keys; k += apps {
			jobs <- job{dev, app, k}
		}
	}
	close(jobs)
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatalf("seeding: %v", err)
	}
	seeding.Store(false)
	emu.InjectFault(emulator.Fault{Latency: latency})

	must(b, env.Client.Create(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "apigee-token"},
		StringData: map[string]string{"token": token}}))
	must(b, env.Client.Create(context.Background(), &apigeev1alpha1.ApigeeConnection{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "prod"},
		Spec: apigeev1alpha1.ApigeeConnectionSpec{Organization: emu.Organization(), Endpoint: srv.URL,
			Auth: apigeev1alpha1.ConnectionAuth{BearerToken: &apigeev1alpha1.SecretKeyAuth{SecretRef: apigeev1alpha1.SecretReference{Name: "apigee-token"}}}},
	}))
	testenv.Eventually(b, time.Minute, "connection Ready", func() (bool, string) {
		conn := &apigeev1alpha1.ApigeeConnection{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "prod"}, conn); err != nil {
			return false, err.Error()
		}
		return meta.IsStatusConditionTrue(conn.Status.Conditions, apigeev1alpha1.ConditionReady), fmt.Sprint(conn.Status.Conditions)
	})
	return emu
}

// importKey imports key n with a product (one manual, approved), an
// attribute and, for every tenth key, a revoked status.
func importKey(c apigee.Client, dev, app string, n int) error {
	ctx := context.Background()
	key := fmt.Sprintf("benchKey%06d", n)
	if _, err := c.ImportKey(ctx, dev, app, apigee.ImportRequest{ConsumerKey: key, ConsumerSecret: "benchSecret" + key}); err != nil {
		return err
	}
	ref := apigee.KeyRef{Developer: dev, App: app, ConsumerKey: key}
	if _, err := c.AddProducts(ctx, ref, []string{"orders-read", "orders-admin"}, []apigee.Attribute{{Name: "tier", Value: "gold"}}); err != nil {
		return err
	}
	if err := c.SetProductStatus(ctx, ref, "orders-admin", apigee.ActionApprove); err != nil {
		return err
	}
	if n%10 == 9 {
		return c.SetKeyStatus(ctx, ref, apigee.ActionRevoke)
	}
	return nil
}

// runCLI runs kubectl-apigee_keys in-process against the test cluster and
// returns its stdout; a failure ends the benchmark.
func runCLI(b *testing.B, cfg *rest.Config, args ...string) string {
	var out, errOut bytes.Buffer
	env := &cli.Env{Out: &out, Err: &errOut, RESTConfig: func() (*rest.Config, string, error) { return cfg, "default", nil }}
	if code := cli.Main(args, env); code != 0 {
		b.Fatalf("kubectl-apigee_keys %s: exit %d\n%s", args[0], code, lastLines(errOut.String(), 5))
	}
	return out.String()
}

// applyDir creates every DeveloperAppKey in dir, as kubectl apply -k
// would, four at a time.
func applyDir(b *testing.B, c client.Client, dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	work := make(chan string)
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 4 {
		wg.Go(func() {
			for f := range work {
				if err := applyFile(c, f); err != nil {
					failed.Store(err)
				}
			}
		})
	}
	for _, f := range files {
		if filepath.Base(f) != "kustomization.yaml" {
			work <- f
		}
	}
	close(work)
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
}

func applyFile(c client.Client, f string) error {
	data, err := os.ReadFile(f)
	if err != nil {
		return err
	}
	k := &apigeev1alpha1.DeveloperAppKey{}
	if err := yaml.UnmarshalStrict(data, k); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(f), err)
	}
	return c.Create(context.Background(), k)
}

// waitAllConverged polls the manager's cache (no load on the API server)
// until every key in ns is Ready with reason Converged.
func waitAllConverged(b *testing.B, cache client.Reader, ns string, keys int) {
	deadline := time.Now().Add(60 * time.Minute)
	last := ""
	for time.Now().Before(deadline) {
		list := &apigeev1alpha1.DeveloperAppKeyList{}
		must(b, cache.List(context.Background(), list, client.InNamespace(ns)))
		reasons := map[string]int{}
		for _, k := range list.Items {
			c := meta.FindStatusCondition(k.Status.Conditions, apigeev1alpha1.ConditionReady)
			switch {
			case c == nil:
				reasons["none"]++
			case c.Status == metav1.ConditionTrue:
				reasons[c.Reason]++
			default:
				reasons["not Ready: "+c.Reason]++
			}
		}
		if len(list.Items) == keys && reasons[apigeev1alpha1.ReasonConverged] == keys {
			return
		}
		last = fmt.Sprint(reasons)
		time.Sleep(time.Second)
	}
	b.Fatalf("keys did not converge: %s", last)
}

// callsByOperation is "GetApp 1000, GetOrganization 1" and the number of
// calls that were not reads.
func callsByOperation(log []emulator.Call) (string, int) {
	byOp := map[string]int{}
	writes := 0
	for _, c := range log {
		byOp[c.Method+" "+c.Operation]++
		if c.Method != "GET" {
			writes++
		}
	}
	parts := make([]string, 0, len(byOp))
	for _, op := range slices.Sorted(maps.Keys(byOp)) {
		parts = append(parts, fmt.Sprintf("%s %d", op, byOp[op]))
	}
	return "(" + strings.Join(parts, ", ") + ")", writes
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n") + "\n"
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }
