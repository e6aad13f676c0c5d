// Package cli runs kubectl-apigee_keys end to end: against Apigee emulators
// in both dialects and a real control plane (envtest) with the operator's
// manager running, as a user would onboard or migrate keys.
package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
	"github.com/apigee-key-operator/apigee-key-operator/internal/cli"
	"github.com/apigee-key-operator/apigee-key-operator/internal/controller"
	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv"
)

const token = "test-token"

var (
	k8s     client.Client
	restCfg *rest.Config
	logs    = &testenv.Buffer{}
)

// TestMain starts the control plane and the operator's manager, logging at
// the most verbose level into logs so tests can search it for secrets.
func TestMain(m *testing.M) {
	ctrl.SetLogger(zap.New(zap.WriteTo(logs), zap.Level(zapcore.Level(-10))))
	env, err := testenv.StartMain()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := startManager(env); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = env.Stop()
		os.Exit(1)
	}
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

func startManager(env *testenv.Env) error {
	k8s, restCfg = env.Client, env.Config
	skip := true
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: &skip},
		Cache:      controller.CacheOptions(), Client: controller.ClientOptions(),
	})
	if err != nil {
		return err
	}
	if err := controller.Setup(context.Background(), mgr, controller.Options{ResyncInterval: time.Hour, SnapshotTTL: 200 * time.Millisecond}); err != nil {
		return err
	}
	go func() { _ = mgr.Start(context.Background()) }()
	return nil
}

// org is one emulated organization behind an HTTP server. Its clock moves
// on a minute at every tick, so keys imported after an app are not taken
// for the key Apigee generated with it.
type org struct {
	emu *emulator.Emulator
	srv *httptest.Server
}

func newOrg(t *testing.T, d emulator.Dialect, name string) *org {
	t.Helper()
	return newOrgWith(t, d, emulator.Options{Organization: name}, nil)
}

// newOrgWith is newOrg with options (auth besides the token) and a
// middleware in front of the emulator.
func newOrgWith(t *testing.T, d emulator.Dialect, opts emulator.Options, wrap func(http.Handler) http.Handler) *org {
	t.Helper()
	var offset atomic.Int64
	opts.BearerToken = token
	opts.Clock = func() time.Time { return time.Now().Add(time.Duration(offset.Add(int64(time.Minute)))) }
	emu := emulator.New(opts)
	h := emu.Handler(d)
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &org{emu: emu, srv: srv}
}

// successfulWrites counts calls that changed Apigee (2xx on a non-GET).
func (o *org) successfulWrites() (n int, attempts map[string]int) {
	attempts = map[string]int{}
	for _, c := range o.emu.CallLog() {
		if c.Method == "GET" {
			continue
		}
		attempts[fmt.Sprintf("%s %d", c.Operation, c.Status)]++
		if c.Status >= 200 && c.Status < 300 {
			n++
		}
	}
	return n, attempts
}

// namespaceWithConnection makes a namespace and a Ready connection "name"
// to the org.
func namespaceWithConnection(t *testing.T, o *org, d emulator.Dialect, names ...string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "cli-"}}
	create(t, ns)
	t.Cleanup(func() { release(ns.Name) })
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "apigee-token"},
		StringData: map[string]string{"token": token}})
	addConnection(t, ns.Name, "prod", o, d)
	return ns.Name
}

func addConnection(t *testing.T, ns, name string, o *org, d emulator.Dialect) {
	t.Helper()
	platform := apigeev1alpha1.PlatformX
	if d == emulator.Edge {
		platform = apigeev1alpha1.PlatformEdge
	}
	create(t, &apigeev1alpha1.ApigeeConnection{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: apigeev1alpha1.ApigeeConnectionSpec{Organization: o.emu.Organization(), Platform: platform, Endpoint: o.srv.URL,
			Auth: apigeev1alpha1.ConnectionAuth{BearerToken: &apigeev1alpha1.SecretKeyAuth{
				SecretRef: apigeev1alpha1.SecretReference{Name: "apigee-token"}}}},
	})
	eventually(t, "connection "+name+" Ready", func() (bool, string) {
		c := &apigeev1alpha1.ApigeeConnection{}
		if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, c); err != nil {
			return false, err.Error()
		}
		cond := meta.FindStatusCondition(c.Status.Conditions, apigeev1alpha1.ConditionReady)
		return cond != nil && cond.Status == metav1.ConditionTrue, fmt.Sprint(cond)
	})
}

// release deletes the namespace's keys without touching Apigee.
func release(ns string) { testenv.ReleaseKeys(k8s, ns) }

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// result is what one run of the command printed.
type result struct {
	out, err string
	code     int
}

// run runs kubectl-apigee_keys in-process against the test cluster.
func run(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &cli.Env{Out: &out, Err: &errOut,
		RESTConfig: func() (*rest.Config, string, error) { return restCfg, "default", nil }}
	code := cli.Main(args, env)
	return result{out: out.String(), err: errOut.String(), code: code}
}

// applyDir creates every object in the manifests directory, as kubectl
// apply -k would.
func applyDir(t *testing.T, dir string) []*apigeev1alpha1.DeveloperAppKey {
	t.Helper()
	keys := manifests(t, dir)
	for _, k := range keys {
		create(t, k)
	}
	return keys
}

// applySecretsDir creates the Secrets export wrote as files.
func applySecretsDir(t *testing.T, dir string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		s := &corev1.Secret{}
		if err := yaml.UnmarshalStrict(b, s); err != nil {
			t.Fatalf("%s: not a Secret manifest", f)
		}
		create(t, s)
	}
}

func waitConverged(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, name+" Converged", func() (bool, string) {
		k := &apigeev1alpha1.DeveloperAppKey{}
		if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, k); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(k.Status.Conditions, apigeev1alpha1.ConditionReady)
		if c == nil {
			return false, "no Ready condition"
		}
		return c.Reason == apigeev1alpha1.ReasonConverged && k.Status.ObservedGeneration == k.Generation, c.Reason + ": " + c.Message
	})
}

// eventually polls cond for up to 60 seconds: these flows run many keys
// through a manager while other test packages share the machine.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, what, cond)
}

// noneLeaked fails if any sentinel appears in any of the texts.
func noneLeaked(t *testing.T, sentinels []string, texts map[string]string) {
	t.Helper()
	for where, text := range texts {
		for _, s := range sentinels {
			if strings.Contains(text, s) {
				t.Errorf("a key or secret value appears in %s", where)
			}
		}
	}
}

// dirText is the content of every file in dir.
func dirText(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			c, _ := os.ReadFile(p)
			b.Write(c)
		}
		return nil
	})
	return b.String()
}
