// Package testenv starts a real kube-apiserver and etcd (envtest) with the
// operator's CRDs installed, for tests. The binaries come from
// hack/build-control-plane.sh via KUBEBUILDER_ASSETS, which `make test` sets.
package testenv

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
)

// Env is a running control plane.
type Env struct {
	*envtest.Environment
	Config *rest.Config
	Client client.Client
	Scheme *k8sruntime.Scheme
}

// RepoRoot is the repository root, found from this file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Scheme returns a scheme with the built-in kinds and ours.
func Scheme() *k8sruntime.Scheme {
	s := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := apigeev1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// Start starts the control plane for one test (or TestMain via StartMain)
// and stops it when the test ends.
func Start(t testing.TB) *Env {
	t.Helper()
	env, err := start()
	if err != nil {
		t.Fatalf("starting the test control plane: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	return env
}

// StartMain starts a control plane for a whole package (from TestMain);
// the caller stops it.
func StartMain() (*Env, error) { return start() }

// StartRestartable is Start with an API server that StopAPIServer and
// StartAPIServer can take down and bring back on the same port with the
// same certificates, so clients holding the kubeconfig reconnect to it.
// etcd keeps running, and the data with it.
func StartRestartable(t testing.TB) *Env {
	t.Helper()
	// A directory of our own: envtest deletes one it made itself when the
	// API server stops, and new certificates would not match the kubeconfig.
	certs := t.TempDir()
	env, err := start(func(te *envtest.Environment) {
		api := &envtest.APIServer{CertDir: certs}
		// Close watches when stopping, as a rolling restart does, instead
		// of waiting up to a minute for clients to hang up.
		api.Configure().Set("shutdown-watch-termination-grace-period", "2s")
		te.ControlPlane.APIServer = api
	})
	if err != nil {
		t.Fatalf("starting the test control plane: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	return env
}

// StopAPIServer stops the kube-apiserver (SIGTERM, as a restart would).
func (e *Env) StopAPIServer() error { return e.ControlPlane.GetAPIServer().Stop() }

// StartAPIServer starts the kube-apiserver again and waits until it is
// healthy.
func (e *Env) StartAPIServer() error { return e.ControlPlane.GetAPIServer().Start() }

func start(configure ...func(*envtest.Environment)) (*Env, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, errNoAssets
	}
	te := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	for _, c := range configure {
		c(te)
	}
	cfg, err := te.Start()
	if err != nil {
		return nil, err
	}
	scheme := Scheme()
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = te.Stop()
		return nil, err
	}
	return &Env{Environment: te, Config: cfg, Client: c, Scheme: scheme}, nil
}

type assetsError struct{}

func (assetsError) Error() string {
	return "KUBEBUILDER_ASSETS is not set: run the tests with `make test`, which builds the control plane into bin/k8s/ and sets it"
}

var errNoAssets error = assetsError{}

// Namespace creates a fresh namespace for a test and returns its name.
func (e *Env) Namespace(t testing.TB, labels map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-", Labels: labels}}
	if err := e.Client.Create(t.Context(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

// ReleaseKeys strips the finalizers of a namespace's DeveloperAppKeys and
// deletes them, leaving Apigee alone: a test's leftovers must not go on
// reconciling against an emulator that has stopped.
func ReleaseKeys(c client.Client, ns string) {
	ctx := context.Background()
	list := &apigeev1alpha1.DeveloperAppKeyList{}
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return
	}
	for i := range list.Items {
		k := &list.Items[i]
		patch := client.MergeFrom(k.DeepCopy())
		k.Finalizers = nil
		_ = c.Patch(ctx, k, patch)
		_ = c.Delete(ctx, k)
	}
}
