// Package localrun runs the whole operator on one machine with Go only: a
// local control plane (the envtest binaries), the Apigee emulator seeded
// from config/emulator/seed.yaml (X dialect) plus an Edge organization with
// keys to migrate, and the manager; it applies config/samples, waits for
// the sample key to be Ready and tells what happened. `make run-local`
// calls it.
package localrun

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
	"github.com/apigee-key-operator/apigee-key-operator/internal/controller"
	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv"
)

// Options of a local run.
type Options struct {
	RepoRoot string
	// XAddr is where the emulator serves the X dialect; the sample
	// connection points there.
	XAddr string
	// EdgeAddr is where acme-legacy, an Edge organization, is served.
	EdgeAddr string
	// StateDir receives the kubeconfig and the operator's log.
	StateDir string
	Out      io.Writer
	// Wait bounds the wait for the sample key.
	Wait time.Duration
	// Stay keeps everything running until ctx ends (Ctrl-C).
	Stay bool
}

const (
	sampleNamespace = "team-a"
	sampleKey       = "partner-orders"
	sampleDeveloper = "partner@example.com"
	sampleApp       = "orders-app"
)

// Run starts everything, converges the sample key and reports.
func Run(ctx context.Context, o Options) error {
	log, err := openRequestLog(o.StateDir)
	if err != nil {
		return err
	}
	defer log.w.Close()
	x, err := startX(ctx, o, log)
	if err != nil {
		return err
	}
	defer x.stop()
	fmt.Fprintf(o.Out, "Apigee emulator (X dialect) on %s, organization %s\n", x.url, x.emu.Organization())
	legacy, err := startLegacy(ctx, o, log)
	if err != nil {
		return err
	}
	defer legacy.stop()
	fmt.Fprintf(o.Out, "Apigee emulator (Edge dialect) on %s, organization %s (Basic auth or Edge OAuth at %s/oauth/token)\n",
		legacy.url, legacy.emu.Organization(), legacy.url)
	fmt.Fprintln(o.Out, "Apigee requests are logged in", filepath.Join(o.StateDir, "apigee-requests.log"))

	env, c, err := startControlPlane(o)
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	kubeconfig, err := filepath.Abs(filepath.Join(o.StateDir, "kubeconfig"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		return err
	}
	if err := startManager(ctx, env, o); err != nil {
		return err
	}
	fmt.Fprintln(o.Out, "Operator running; log in", filepath.Join(o.StateDir, "operator.log"))

	if err := applySamples(ctx, o, kubeconfig, x.url); err != nil {
		return err
	}
	k, err := waitReady(ctx, c, o.Wait)
	if err != nil {
		return err
	}
	report(o.Out, x.emu, k, x.seeded)
	fmt.Fprintf(o.Out, "\nKeys not yet under management: 2 in app %s of %s (acme-prod), 3 in %s (Edge):\n"+
		"README, \"Bring existing keys under management\", onboards and migrates them.\n", onboardApp, onboardDeveloper, LegacyOrganization)
	fmt.Fprintf(o.Out, "\nKeep going with kubectl:\n  export KUBECONFIG=%s\n  kubectl get developerappkeys -A\n", kubeconfig)
	if o.Stay {
		fmt.Fprintln(o.Out, "Press Ctrl-C to stop.")
		<-ctx.Done()
		fmt.Fprintln(o.Out, "Stopping.")
	}
	return nil
}

func startControlPlane(o Options) (*envtest.Environment, client.Client, error) {
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(o.RepoRoot, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, fmt.Errorf("starting the local control plane: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: testenv.Scheme()})
	return env, c, err
}

func startManager(ctx context.Context, env *envtest.Environment, o Options) error {
	logFile, err := os.Create(filepath.Join(o.StateDir, "operator.log"))
	if err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(logFile)))
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 testenv.Scheme(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  controller.CacheOptions(),
		Client:                 controller.ClientOptions(),
	})
	if err != nil {
		return err
	}
	if err := controller.Setup(ctx, mgr, controller.Options{ResyncInterval: time.Minute}); err != nil {
		return err
	}
	go func() { _ = mgr.Start(ctx) }()
	return nil
}

// sampleEndpoint is the emulator's address in config/samples.
const sampleEndpoint = "http://127.0.0.1:8081"

// applySamples runs the pinned kubectl, as a user would. When the emulator
// listens elsewhere, the samples are rendered and the connection's endpoint
// rewritten before anything is applied: a key must never be reconciled
// against whatever else answers at the sample's address.
func applySamples(ctx context.Context, o Options, kubeconfig, endpoint string) error {
	kubectl := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
	samples := filepath.Join(o.RepoRoot, "config", "samples")
	cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "apply", "-k", samples)
	if endpoint != sampleEndpoint {
		rendered, err := exec.CommandContext(ctx, kubectl, "kustomize", samples).Output()
		if err != nil {
			return fmt.Errorf("kubectl kustomize: %w", err)
		}
		cmd = exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "apply", "-f", "-")
		cmd.Stdin = strings.NewReader(strings.ReplaceAll(string(rendered), "endpoint: "+sampleEndpoint+"\n", "endpoint: "+endpoint+"\n"))
	}
	out, err := cmd.CombinedOutput()
	fmt.Fprintf(o.Out, "$ kubectl apply -k config/samples\n%s", out)
	if err != nil {
		return fmt.Errorf("kubectl apply: %w", err)
	}
	return nil
}

func waitReady(ctx context.Context, c client.Client, wait time.Duration) (*apigeev1alpha1.DeveloperAppKey, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	k := &apigeev1alpha1.DeveloperAppKey{}
	for {
		err := c.Get(ctx, types.NamespacedName{Namespace: sampleNamespace, Name: sampleKey}, k)
		cond := meta.FindStatusCondition(k.Status.Conditions, apigeev1alpha1.ConditionReady)
		if err == nil && cond != nil && cond.Status == "True" {
			return k, nil
		}
		select {
		case <-ctx.Done():
			if cond != nil {
				return nil, fmt.Errorf("sample key not Ready: %s: %s", cond.Reason, cond.Message)
			}
			return nil, fmt.Errorf("sample key not Ready: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// report prints what the emulator now holds, by fingerprint only.
func report(out io.Writer, emu *emulator.Emulator, k *apigeev1alpha1.DeveloperAppKey, seeded []emulator.SeededApp) {
	fmt.Fprintf(out, "\nDeveloperAppKey %s/%s is Ready: key %s is %s\n", k.Namespace, k.Name, k.Status.ConsumerKeyFingerprint, k.Status.KeyStatus)
	app, _ := emu.App(sampleDeveloper, sampleApp)
	fmt.Fprintf(out, "Apigee (emulator) app %s of %s now has %d key(s):\n", sampleApp, sampleDeveloper, len(app.Credentials))
	for _, c := range app.Credentials {
		var ps []string
		for _, p := range c.Products {
			ps = append(ps, p.Name+"="+p.Status)
		}
		fmt.Fprintf(out, "  %s status=%s products=[%s]\n", apigee.Fingerprint(c.ConsumerKey), c.Status, strings.Join(ps, ", "))
	}
	for _, s := range seeded {
		if s.App != sampleApp {
			continue
		}
		if _, still := app.Credential(s.Key.ConsumerKey); !still {
			fmt.Fprintf(out, "The key Apigee generated for the app (%s) was deleted (autoGeneratedKeys: Delete)\n", apigee.Fingerprint(s.Key.ConsumerKey))
		}
	}
}
