// Package isolation measures how the operator shares its workers between
// organizations and between changes and background resyncs, with its own
// control plane and managers (a test here restarts the manager). The
// tests check the behaviour; `make bench` prints the figures.
package isolation

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
	"github.com/apigee-key-operator/apigee-key-operator/internal/controller"
	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv"
)

const (
	developer = "dev@example.com"
	token     = "t"
)

// manager runs the operator's controllers as in production (16 workers)
// until stop is called; stop waits for it to end.
type manager struct {
	stop func()
}

func startManager(t testing.TB, env *testenv.Env, o controller.Options) *manager {
	t.Helper()
	return startManagerWith(t, env, o, 16)
}

// startManagerWith runs the controllers with the given number of workers.
func startManagerWith(t testing.TB, env *testenv.Env, o controller.Options, workers int) *manager {
	t.Helper()
	ctrl.SetLogger(logr.Discard()) // figures only; logs are checked elsewhere
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: new(true), MaxConcurrentReconciles: workers},
		Client:     controller.ClientOptions(),
		Cache:      controller.CacheOptions(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := controller.Setup(ctx, mgr, o); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	m := &manager{stop: sync.OnceFunc(func() { cancel(); wg.Wait() })}
	t.Cleanup(m.stop)
	return m
}

// org is one emulated organization with apps app-0 … app-(apps-1) of the
// developer and the auto-approved product p1, served over HTTP (X).
type org struct {
	emu *emulator.Emulator
	url string
}

func newOrg(t testing.TB, name string, apps int) *org {
	t.Helper()
	emu := emulator.New(emulator.Options{Organization: name, BearerToken: token})
	emu.AddDeveloper(developer)
	emu.AddProduct("p1", "auto")
	emu.AddProduct("p2", "auto")
	for a := range apps {
		if _, err := emu.AddApp(developer, fmt.Sprintf("app-%d", a)); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(emu.Handler(emulator.X))
	t.Cleanup(srv.Close)
	return &org{emu: emu, url: srv.URL}
}

// connect creates the namespace's token Secret and an ApigeeConnection
// "prod" to o, and waits for it to be Ready.
func (o *org) connect(t testing.TB, c client.Client, ns string) {
	t.Helper()
	createToken(t, c, ns)
	createConnection(t, c, ns, "prod", o.emu.Organization(), o.url)
	waitConnectionReady(t, c, ns, "prod")
}

// createToken creates the namespace's token Secret "tok".
func createToken(t testing.TB, c client.Client, ns string) {
	t.Helper()
	must(t, c.Create(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tok"}, StringData: map[string]string{"token": token}}))
}

// createConnection creates an ApigeeConnection name to organization org
// at url, authenticated with the Secret "tok".
func createConnection(t testing.TB, c client.Client, ns, name, org, url string) {
	t.Helper()
	must(t, c.Create(context.Background(), &apigeev1alpha1.ApigeeConnection{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: apigeev1alpha1.ApigeeConnectionSpec{Organization: org, Endpoint: url,
			Auth: apigeev1alpha1.ConnectionAuth{BearerToken: &apigeev1alpha1.SecretKeyAuth{SecretRef: apigeev1alpha1.SecretReference{Name: "tok"}}}},
	}))
}

func waitConnectionReady(t testing.TB, c client.Client, ns, name string) {
	t.Helper()
	testenv.Eventually(t, time.Minute, "connection Ready", func() (bool, string) {
		cond := connectionReady(t, c, ns, name)
		return cond != nil && cond.Status == metav1.ConditionTrue, fmt.Sprint(cond)
	})
}

// connectionReady is the connection's Ready condition (nil: none yet).
func connectionReady(t testing.TB, c client.Client, ns, name string) *metav1.Condition {
	t.Helper()
	conn := &apigeev1alpha1.ApigeeConnection{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, conn); err != nil {
		return nil
	}
	return meta.FindStatusCondition(conn.Status.Conditions, apigeev1alpha1.ConditionReady)
}

// createKeys makes n keys named prefix-i (and their Secrets) spread over
// apps, each with product p1, through the connection "prod" — several
// writers at once, as kubectl apply of a directory would.
func createKeys(t testing.TB, c client.Client, ns, prefix string, n, apps int) []string {
	t.Helper()
	return createKeysVia(t, c, ns, "prod", prefix, n, apps, nil)
}

// createKeysVia is createKeys through the connection conn; change, if
// set, adjusts each key before it is created.
func createKeysVia(t testing.TB, c client.Client, ns, conn, prefix string, n, apps int, change func(*apigeev1alpha1.DeveloperAppKey)) []string {
	t.Helper()
	names := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				name := fmt.Sprintf("%s-%d", prefix, i)
				names[i] = name
				ctx := context.Background()
				if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
					StringData: map[string]string{"consumerKey": fmt.Sprintf("%s%sKey%d", prefix, ns, i), "consumerSecret": fmt.Sprintf("%sSecret%d", prefix, i)}}); err != nil {
					errs <- err
					return
				}
				k := &apigeev1alpha1.DeveloperAppKey{
					ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
					Spec: apigeev1alpha1.DeveloperAppKeySpec{
						ConnectionRef: apigeev1alpha1.ConnectionReference{Name: conn}, Developer: developer,
						App: fmt.Sprintf("app-%d", i%apps), Credentials: apigeev1alpha1.CredentialsSource{SecretRef: apigeev1alpha1.LocalSecretReference{Name: name}},
						APIProducts: []apigeev1alpha1.APIProductRef{{Name: "p1"}},
					},
				}
				if change != nil {
					change(k)
				}
				if err := c.Create(ctx, k); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return names
}

// ready counts the namespace's keys that are Ready with their spec
// observed.
func ready(t testing.TB, c client.Client, ns string) int {
	t.Helper()
	list := &apigeev1alpha1.DeveloperAppKeyList{}
	must(t, c.List(context.Background(), list, client.InNamespace(ns)))
	n := 0
	for _, k := range list.Items {
		if converged(&k) {
			n++
		}
	}
	return n
}

func converged(k *apigeev1alpha1.DeveloperAppKey) bool {
	return meta.IsStatusConditionTrue(k.Status.Conditions, apigeev1alpha1.ConditionReady) && k.Status.ObservedGeneration == k.Generation
}

// waitAllReady waits (up to timeout) until the namespace's n keys are Ready.
func waitAllReady(t testing.TB, c client.Client, ns string, n int, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, timeout, fmt.Sprintf("%d keys Ready in %s", n, ns), func() (bool, string) {
		got := ready(t, c, ns)
		return got == n, fmt.Sprintf("%d of %d Ready", got, n)
	})
}

// gets counts the GET app calls in calls.
func gets(calls []emulator.Call) int {
	n := 0
	for _, c := range calls {
		if c.Operation == emulator.OpGetApp {
			n++
		}
	}
	return n
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fastBudget lets the set-up phases go as fast as the machine allows; the
// scenarios set the limits they measure.
var fastBudget = controller.Tenancy{OrganizationRate: apigee.Rate{PerMinute: 100000, Burst: 200}}
