package chart

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
	"github.com/apigee-key-operator/apigee-key-operator/internal/controller"
	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv"
)

const releaseNamespace = "apigee-key-operator"

// TestEndToEndUnderChartRBAC installs the chart, runs the manager with the
// chart's ServiceAccount permissions (impersonation), applies config/samples
// with kubectl and waits for the sample key with `kubectl wait`: the chart's
// RBAC is enough to converge and delete a key.
func TestEndToEndUnderChartRBAC(t *testing.T) {
	c := startCluster(t)
	c.namespaces(t, releaseNamespace)
	manifests := render(t)
	c.apply(t, manifests)

	emu, url := startEmulator(t)
	startManagerAs(t, c.env.Config, "system:serviceaccount:"+releaseNamespace+":"+serviceAccountName(t, manifests))

	c.run(t, "", "apply", "-k", filepath.Join(root, "config", "samples"))
	c.run(t, "", "-n", "team-a", "patch", "apigeeconnection", "prod", "--type=merge", "-p", `{"spec":{"endpoint":"`+url+`"}}`)
	c.run(t, "", "-n", "team-a", "wait", "--for=condition=Ready", "apigeeconnection/prod", "--timeout=60s")
	c.run(t, "", "-n", "team-a", "wait", "--for=condition=Ready", "developerappkey/partner-orders", "--timeout=120s")

	app, _ := emu.App("partner@example.com", "orders-app")
	if len(app.Credentials) != 1 {
		t.Fatalf("app has %d keys, want only the imported one (the auto-generated key deleted)", len(app.Credentials))
	}
	key := app.Credentials[0]
	if key.ConsumerKey != "pOrdersLegacyKey7Fq2Zx9LmW4tR8vB3nK6" || len(key.Products) != 2 {
		t.Fatalf("imported key has %d products", len(key.Products))
	}

	c.run(t, "", "-n", "team-a", "delete", "developerappkey/partner-orders", "--timeout=60s")
	if app, _ := emu.App("partner@example.com", "orders-app"); len(app.Credentials) != 0 {
		t.Errorf("deletionPolicy Delete left %d keys", len(app.Credentials))
	}
}

func startEmulator(t *testing.T) (*emulator.Emulator, string) {
	t.Helper()
	seed, err := emulator.LoadSeed(filepath.Join(root, "config", "emulator", "seed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	emu := emulator.New(seed.Options())
	if _, err := emu.Apply(seed); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu.Handler(emulator.X))
	t.Cleanup(srv.Close)
	return emu, srv.URL
}

// startManagerAs runs the operator's manager with leader election, as user.
func startManagerAs(t *testing.T, admin *rest.Config, user string) {
	t.Helper()
	cfg := rest.CopyConfig(admin)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: testenv.Scheme(), Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		LeaderElection: true, LeaderElectionID: "apigee-key-operator.apigee.keyoperator.io", LeaderElectionNamespace: releaseNamespace,
		Controller: config.Controller{SkipNameValidation: ptr(true)},
		Cache:      controller.CacheOptions(), Client: controller.ClientOptions(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := controller.Setup(ctx, mgr, controller.Options{}); err != nil {
		t.Fatal(err)
	}
	go func() { _ = mgr.Start(ctx) }()
}

// serviceAccountName finds the chart's ServiceAccount in the manifests.
func serviceAccountName(t *testing.T, manifests string) string {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifests), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			break
		}
		if obj.GetKind() == "ServiceAccount" {
			return obj.GetName()
		}
	}
	t.Fatal("no ServiceAccount in the chart")
	return ""
}

func ptr[T any](v T) *T { return &v }
