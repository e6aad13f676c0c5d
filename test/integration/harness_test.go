// Package integration runs the operator's manager against a real
// kube-apiserver and etcd (envtest) with the Apigee emulator behind it, in
// both dialects. One control plane and one manager serve every test; each
// test gets its own namespace, emulator and connection.
package integration

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
	"github.com/apigee-key-operator/apigee-key-operator/internal/controller"
	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv"
)

const (
	developer = "partner@example.com"
	appName   = "orders-app"
	token     = "test-token"
)

var (
	k8s  client.Client
	logs = &testenv.Buffer{}
	// cached is the manager's cache, built with the operator's options.
	cached cache.Cache
)

// TestMain starts the control plane and the manager, with the most verbose
// logging captured so tests can check no key or secret is ever logged.
func TestMain(m *testing.M) {
	ctrl.SetLogger(zap.New(zap.WriteTo(logs), zap.Level(zapcore.Level(-10))))
	env, err := testenvStart()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

func testenvStart() (*testenv.Env, error) {
	env, err := testenv.StartMain()
	if err != nil {
		return nil, err
	}
	k8s = env.Client
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr(true), MaxConcurrentReconciles: 4},
		Cache:                  controller.CacheOptions(),
		Client:                 controller.ClientOptions(),
	})
	if err != nil {
		return env, err
	}
	cached = mgr.GetCache()
	if err := controller.Setup(context.Background(), mgr, controller.Options{ResyncInterval: time.Hour, SnapshotTTL: 200 * time.Millisecond, CallTimeout: 3 * time.Second,
		Tenancy:       controller.Tenancy{FindAmbient: ambient.find},
		RecordsSecret: types.NamespacedName{Namespace: "default", Name: "apigee-key-operator-records"},
		// Every test has an organization of its own: far more than the
		// default number with series of their own.
		OrganizationSeries: 100000}); err != nil {
		return env, err
	}
	go func() {
		if err := mgr.Start(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "manager stopped:", err)
		}
	}()
	return env, nil
}

func ptr[T any](v T) *T { return &v }

// apigeeOrg is one test's Apigee: an emulator seeded with a developer, an
// app (with its auto-generated key) and products, served in one dialect.
type apigeeOrg struct {
	emu     *emulator.Emulator
	srv     *httptest.Server
	dialect emulator.Dialect
	autoKey apigee.Credential
}

func newApigee(t *testing.T, d emulator.Dialect, org string, options ...func(*emulator.Options)) *apigeeOrg {
	t.Helper()
	opts := emulator.Options{Organization: org, BearerToken: token}
	for _, o := range options {
		o(&opts)
	}
	emu := emulator.New(opts)
	emu.AddDeveloper(developer)
	// Scopes must be defined by a product of the key, as in Apigee.
	emu.AddProduct("orders-read", "auto", emulator.WithScopes("read"))
	emu.AddProduct("orders-admin", "manual", emulator.WithScopes("write"))
	emu.AddProduct("inventory", "auto", emulator.WithScopes("inventory"))
	auto, err := emu.AddApp(developer, appName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := emu.AddApp(developer, "other-app"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu.Handler(d))
	t.Cleanup(srv.Close)
	return &apigeeOrg{emu: emu, srv: srv, dialect: d, autoKey: auto}
}

// key returns the credential with the consumer key, as the emulator has it.
func (a *apigeeOrg) key(t *testing.T, app, consumerKey string) *apigee.Credential {
	t.Helper()
	got, ok := a.emu.App(developer, app)
	if !ok {
		t.Fatalf("app %s missing", app)
	}
	c, _ := got.Credential(consumerKey)
	return c
}

// keyCount is how many keys the app has.
func (a *apigeeOrg) keyCount(t *testing.T, app string) int {
	got, _ := a.emu.App(developer, app)
	return len(got.Credentials)
}

// writes is the number of calls that change Apigee.
func (a *apigeeOrg) writes() int {
	n := 0
	for _, c := range a.emu.CallLog() {
		if c.Method != "GET" {
			n++
		}
	}
	return n
}

// setup creates a namespace with the connection's token Secret and a Ready
// connection named "prod" pointing at the emulator. Options adjust the
// emulator (an OnCall hook, say). When the test ends its keys are released
// and deleted before the emulator stops, so no leftover object keeps
// reconciling against a closed server while later tests run.
func setup(t *testing.T, d emulator.Dialect, options ...func(*emulator.Options)) (*apigeeOrg, string) {
	t.Helper()
	ns := namespace(t)
	org := "org-" + ns // each test its own organization, as consumer keys are unique per organization
	a := newApigee(t, d, org, options...)
	t.Cleanup(func() { releaseKeys(ns) })
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "apigee-token"},
		StringData: map[string]string{"token": token}})
	platform := apigeev1alpha1.PlatformX
	if d == emulator.Edge {
		platform = apigeev1alpha1.PlatformEdge
	}
	create(t, &apigeev1alpha1.ApigeeConnection{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "prod"},
		Spec: apigeev1alpha1.ApigeeConnectionSpec{Organization: org, Platform: platform, Endpoint: a.srv.URL,
			Auth: apigeev1alpha1.ConnectionAuth{BearerToken: &apigeev1alpha1.SecretKeyAuth{
				SecretRef: apigeev1alpha1.SecretReference{Name: "apigee-token"}}}},
	})
	waitConnectionReady(t, ns, "prod")
	return a, ns
}

// releaseKeys deletes the namespace's keys without touching Apigee.
func releaseKeys(ns string) { testenv.ReleaseKeys(k8s, ns) }

func namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "it-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// credentialsSecret makes the Secret a key imports from.
func credentialsSecret(ns, name, key, secret string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Data: map[string][]byte{"consumerKey": []byte(key), "consumerSecret": []byte(secret)}}
}

// newKey returns a DeveloperAppKey on orders-app with two products: the
// auto-approved orders-read and the manual orders-admin.
func newKey(ns, name, secretName string) *apigeev1alpha1.DeveloperAppKey {
	return &apigeev1alpha1.DeveloperAppKey{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: apigeev1alpha1.DeveloperAppKeySpec{
			ConnectionRef: apigeev1alpha1.ConnectionReference{Name: "prod"},
			Developer:     developer,
			App:           appName,
			Credentials:   apigeev1alpha1.CredentialsSource{SecretRef: apigeev1alpha1.LocalSecretReference{Name: secretName}},
			APIProducts:   []apigeev1alpha1.APIProductRef{{Name: "orders-read"}, {Name: "orders-admin"}},
		},
	}
}

func get(t *testing.T, ns, name string) *apigeev1alpha1.DeveloperAppKey {
	t.Helper()
	k := &apigeev1alpha1.DeveloperAppKey{}
	if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, k); err != nil {
		t.Fatal(err)
	}
	return k
}

// update re-reads the key, applies change and writes it, retrying conflicts.
func update(t *testing.T, ns, name string, change func(*apigeev1alpha1.DeveloperAppKey)) {
	t.Helper()
	eventually(t, "update "+name, func() (bool, string) {
		k := get(t, ns, name)
		change(k)
		if err := k8s.Update(context.Background(), k); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

// waitReason waits until the key's Ready condition has the reason and
// observedGeneration is current.
func waitReason(t *testing.T, ns, name, reason string) *apigeev1alpha1.DeveloperAppKey {
	t.Helper()
	var k *apigeev1alpha1.DeveloperAppKey
	eventually(t, name+" Ready reason "+reason, func() (bool, string) {
		k = get(t, ns, name)
		c := meta.FindStatusCondition(k.Status.Conditions, apigeev1alpha1.ConditionReady)
		if c == nil {
			return false, "no Ready condition"
		}
		return c.Reason == reason && k.Status.ObservedGeneration == k.Generation, c.Reason + ": " + c.Message
	})
	return k
}

func waitConverged(t *testing.T, ns, name string) *apigeev1alpha1.DeveloperAppKey {
	t.Helper()
	return waitReason(t, ns, name, apigeev1alpha1.ReasonConverged)
}

func waitConnectionReady(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, "connection "+name+" Ready", func() (bool, string) {
		c := &apigeev1alpha1.ApigeeConnection{}
		if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, c); err != nil {
			return false, err.Error()
		}
		cond := meta.FindStatusCondition(c.Status.Conditions, apigeev1alpha1.ConditionReady)
		if cond == nil {
			return false, "no condition"
		}
		return cond.Status == metav1.ConditionTrue, cond.Reason + ": " + cond.Message
	})
}

// eventually polls cond for up to 30 seconds.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, what, cond)
}

// products returns the key's products as name=status, sorted by name.
func products(c *apigee.Credential) string {
	var out []string
	for _, p := range c.Products {
		out = append(out, p.Name+"="+p.Status)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// dialects runs a test in both dialects.
func dialects(t *testing.T, test func(t *testing.T, d emulator.Dialect)) {
	for _, d := range []emulator.Dialect{emulator.X, emulator.Edge} {
		t.Run(string(d), func(t *testing.T) { test(t, d) })
	}
}
