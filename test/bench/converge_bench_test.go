// Package bench measures how many Apigee calls and how much time the
// operator needs to converge many keys, against the quota. Run with
// `make bench`; BENCH_KEYS and BENCH_APPS change the size (the design's
// target is 10,000 keys in 100 apps).
package bench

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
	"github.com/apigee-key-operator/apigee-key-operator/internal/controller"
	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv"
)

const quotaPerMinute = 6000 // Apigee X's management quota

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkConverge creates BENCH_KEYS keys spread over BENCH_APPS apps and
// reports calls per key, wall time and that time against the quota's
// minimum for two calls a key.
func BenchmarkConverge(b *testing.B) {
	keys, apps := envInt("BENCH_KEYS", 400), envInt("BENCH_APPS", 4)
	env := testenv.Start(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startManager(b, ctx, env)
	for i := 0; i < b.N; i++ {
		emu, ns := seed(b, env, apps, i)
		start := time.Now()
		createKeys(b, env.Client, ns, keys, apps)
		waitAllReady(b, env.Client, ns, keys)
		elapsed := time.Since(start)
		calls := emu.TotalCalls()
		minimum := time.Duration(float64(2*keys) / quotaPerMinute * float64(time.Minute))
		b.ReportMetric(float64(calls)/float64(keys), "calls/key")
		b.ReportMetric(elapsed.Seconds(), "s/converge")
		b.ReportMetric(elapsed.Seconds()/minimum.Seconds(), "x-quota-minimum")
		fmt.Printf("converged %d keys in %d apps: %d Apigee calls (%.2f/key), %s; the quota allows 2 calls/key in %s\n",
			keys, apps, calls, float64(calls)/float64(keys), elapsed.Round(time.Millisecond), minimum)
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b.ReportMetric(float64(m.HeapAlloc)/(1<<20), "MiB-heap")
}

func startManager(b *testing.B, ctx context.Context, env *testenv.Env) {
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
}

func seed(b *testing.B, env *testenv.Env, apps, round int) (*emulator.Emulator, string) {
	ns := env.Namespace(b, nil)
	org := "bench-" + ns
	emu := emulator.New(emulator.Options{Organization: org, BearerToken: "t", RequestsPerMinute: quotaPerMinute})
	emu.AddDeveloper("dev@example.com")
	emu.AddProduct("p1", "auto")
	emu.AddProduct("p2", "auto")
	for a := range apps {
		if _, err := emu.AddApp("dev@example.com", fmt.Sprintf("app-%d", a)); err != nil {
			b.Fatal(err)
		}
	}
	srv := httptest.NewServer(emu.Handler(emulator.X))
	b.Cleanup(srv.Close)
	must(b, env.Client.Create(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tok"}, StringData: map[string]string{"token": "t"}}))
	must(b, env.Client.Create(context.Background(), &apigeev1alpha1.ApigeeConnection{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "prod"},
		Spec: apigeev1alpha1.ApigeeConnectionSpec{Organization: org, Endpoint: srv.URL,
			Auth: apigeev1alpha1.ConnectionAuth{BearerToken: &apigeev1alpha1.SecretKeyAuth{SecretRef: apigeev1alpha1.SecretReference{Name: "tok"}}}},
	}))
	emu.ResetCalls()
	return emu, ns
}

func createKeys(b *testing.B, c client.Client, ns string, keys, apps int) {
	ctx := context.Background()
	for i := range keys {
		name := fmt.Sprintf("key-%d", i)
		must(b, c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			StringData: map[string]string{"consumerKey": fmt.Sprintf("benchKey%s%d", ns, i), "consumerSecret": fmt.Sprintf("benchSecret%d", i)}}))
		must(b, c.Create(ctx, &apigeev1alpha1.DeveloperAppKey{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: apigeev1alpha1.DeveloperAppKeySpec{
				ConnectionRef: apigeev1alpha1.ConnectionReference{Name: "prod"}, Developer: "dev@example.com",
				App: fmt.Sprintf("app-%d", i%apps), Credentials: apigeev1alpha1.CredentialsSource{SecretRef: apigeev1alpha1.LocalSecretReference{Name: name}},
				APIProducts: []apigeev1alpha1.APIProductRef{{Name: "p1"}, {Name: "p2"}},
			},
		}))
	}
}

func waitAllReady(b *testing.B, c client.Client, ns string, keys int) {
	deadline := time.Now().Add(30 * time.Minute)
	for time.Now().Before(deadline) {
		list := &apigeev1alpha1.DeveloperAppKeyList{}
		must(b, c.List(context.Background(), list, client.InNamespace(ns)))
		ready := 0
		for _, k := range list.Items {
			if meta.IsStatusConditionTrue(k.Status.Conditions, apigeev1alpha1.ConditionReady) {
				ready++
			}
		}
		if ready == keys {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.Fatalf("keys did not converge")
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }
