package bench

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv"
)

const (
	developer = "dev@example.com"
	token     = "bench-token"
	workers   = 32 // concurrent creates and deletes of the bench's own objects
)

// harness is one bench run: the control plane, the operator binary, and
// where logs go.
type harness struct {
	b          *testing.B
	ctx        context.Context
	env        *testenv.Env
	c          client.Client // the bench's own client (the admin user)
	cfg        *rest.Config
	size       size
	bin        string   // the operator binary
	chartEnv   []string // the environment the chart gives it (GOMEMLIMIT, GOGC)
	kubeconfig string
	outDir     string // logs, kept after the run
	began      time.Time
}

func newHarness(b *testing.B, ctx context.Context, sz size) *harness {
	out, err := os.MkdirTemp("", "apigee-key-operator-bench-")
	if err != nil {
		b.Fatal(err)
	}
	h := &harness{b: b, ctx: ctx, size: sz, outDir: out, began: time.Now()}
	h.bin = buildOperator(b, out)
	h.chartEnv = chartEnv(b)
	h.env = testenv.Start(b)
	h.cfg = rest.CopyConfig(h.env.Config)
	h.cfg.QPS, h.cfg.Burst = -1, 0 // the bench's creates are not throttled client-side
	if h.c, err = client.New(h.cfg, client.Options{Scheme: h.env.Scheme}); err != nil {
		b.Fatal(err)
	}
	h.kubeconfig = filepath.Join(out, "kubeconfig")
	if err := os.WriteFile(h.kubeconfig, h.env.KubeConfig, 0o600); err != nil {
		b.Fatal(err)
	}
	return h
}

// buildOperator builds the operator binary as the Dockerfile does.
func buildOperator(b *testing.B, dir string) string {
	return build(b, dir, "apigee-key-operator", "./cmd/apigee-key-operator")
}

// build builds pkg into dir/name as the Dockerfile builds the operator.
func build(b *testing.B, dir, name, pkg string) string {
	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg)
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// loadAverage is the machine's 1-minute load average (0 if unknown).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	_, _ = fmt.Sscan(string(b), &l)
	return l
}

// progress prints a timestamped line, so a long run can be followed.
func (h *harness) progress(format string, args ...any) {
	fmt.Printf("[%6s] %s\n", time.Since(h.began).Round(time.Second), fmt.Sprintf(format, args...))
}

// machine describes where the figures come from.
func (h *harness) machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%d cores (%s), %s/%s, %s", runtime.NumCPU(), model, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// parallel runs do(i) for i in [0, n) on workers goroutines and fails the
// bench on the first error.
func (h *harness) parallel(n int, do func(ctx context.Context, i int) error) {
	if err := h.tryParallel(n, do); err != nil {
		h.b.Fatal(err)
	}
}

// tryParallel is parallel returning the first error, for use off the
// bench's goroutine.
func (h *harness) tryParallel(n int, do func(ctx context.Context, i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := do(h.ctx, i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// namespace creates a namespace (labels optional).
func (h *harness) namespace(name string) {
	if err := h.c.Create(h.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		h.b.Fatal(err)
	}
}

// createUnrelatedSecrets fills the cluster with Secrets the operator has
// no business with, shaped like a busy cluster's: spread over namespaces,
// labelled, half of them applied with kubectl (a last-applied copy of the
// data in an annotation), all with managedFields.
func (h *harness) createUnrelatedSecrets(n int) {
	if n == 0 {
		return
	}
	const perNamespace = 5000
	namespaces := (n + perNamespace - 1) / perNamespace
	for i := range namespaces {
		h.namespace(fmt.Sprintf("unrelated-%d", i))
	}
	payload := strings.Repeat("x", 512)
	h.parallel(n, func(ctx context.Context, i int) error {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: fmt.Sprintf("unrelated-%d", i%namespaces), Name: fmt.Sprintf("secret-%d", i),
				Labels: map[string]string{"app.kubernetes.io/name": fmt.Sprintf("service-%d", i%200), "app.kubernetes.io/managed-by": "bench"},
			},
			StringData: map[string]string{"password": payload},
		}
		if i%2 == 0 {
			s.Annotations = map[string]string{corev1.LastAppliedConfigAnnotation: fmt.Sprintf(
				`{"apiVersion":"v1","kind":"Secret","metadata":{"name":%q,"namespace":%q},"stringData":{"password":%q}}`, s.Name, s.Namespace, payload)}
		}
		return h.c.Create(ctx, s)
	})
}

// org is one Apigee organization on the emulator, with every call
// delayed by apigeeLatency and the quota enforced.
type org struct {
	name  string
	emu   *emulator.Emulator
	url   string
	apps  int
	calls *callCounter
}

func (h *harness) newOrg(name string, apps int) *org {
	o := &org{name: name, apps: apps, calls: newCallCounter()}
	o.emu = emulator.New(emulator.Options{Organization: name, BearerToken: token, RequestsPerMinute: quotaPerMinute, OnCall: o.calls.record})
	o.emu.InjectFault(emulator.Fault{Latency: apigeeLatency})
	o.emu.AddDeveloper(developer)
	o.emu.AddProduct("p1", "auto")
	o.emu.AddProduct("p2", "auto")
	for a := range apps {
		if _, err := o.emu.AddApp(developer, appName(a)); err != nil {
			h.b.Fatal(err)
		}
	}
	srv := httptest.NewServer(o.emu.Handler(emulator.X))
	h.b.Cleanup(srv.Close)
	o.url = srv.URL
	return o
}

func appName(a int) string { return fmt.Sprintf("app-%d", a) }

// callCounter counts the emulator's calls by operation and status.
type callCounter struct {
	mu       sync.Mutex
	byOp     map[string]int
	byStatus map[int]int
	total    int
}

func newCallCounter() *callCounter {
	return &callCounter{byOp: map[string]int{}, byStatus: map[int]int{}}
}

func (c *callCounter) record(call emulator.Call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total++
	c.byOp[call.Operation]++
	c.byStatus[call.Status]++
}

// callCounts is a snapshot of a callCounter.
type callCounts struct {
	total    int
	byOp     map[string]int
	byStatus map[int]int
}

func (c *callCounter) snapshot() callCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := callCounts{total: c.total, byOp: map[string]int{}, byStatus: map[int]int{}}
	for k, v := range c.byOp {
		s.byOp[k] = v
	}
	for k, v := range c.byStatus {
		s.byStatus[k] = v
	}
	return s
}

// since is what happened between an earlier snapshot and this one.
func (s callCounts) since(earlier callCounts) callCounts {
	d := callCounts{total: s.total - earlier.total, byOp: map[string]int{}, byStatus: map[int]int{}}
	for k, v := range s.byOp {
		if n := v - earlier.byOp[k]; n != 0 {
			d.byOp[k] = n
		}
	}
	for k, v := range s.byStatus {
		if n := v - earlier.byStatus[k]; n != 0 {
			d.byStatus[k] = n
		}
	}
	return d
}

// release removes a namespace's keys without the operator (stopped by
// then), their Secrets and its connection, so the next run's operator starts with the
// unrelated Secrets only. envtest runs no namespace controller, so the
// namespace itself would never empty.
func (h *harness) release(ns string) {
	list := &apigeev1alpha1.DeveloperAppKeyList{}
	if err := h.c.List(h.ctx, list, client.InNamespace(ns)); err != nil {
		h.b.Fatal(err)
	}
	unfinalize := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))
	h.parallel(len(list.Items), func(ctx context.Context, i int) error {
		return client.IgnoreNotFound(h.c.Patch(ctx, &list.Items[i], unfinalize))
	})
	if err := h.c.DeleteAllOf(h.ctx, &apigeev1alpha1.DeveloperAppKey{}, client.InNamespace(ns)); err != nil {
		h.b.Fatal(err)
	}
	for _, kind := range []client.Object{&apigeev1alpha1.ApigeeConnection{}, &corev1.Secret{}} {
		if err := h.c.DeleteAllOf(h.ctx, kind, client.InNamespace(ns)); err != nil {
			h.b.Fatal(err)
		}
	}
}
