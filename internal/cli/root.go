package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
)

// Env is what the commands run against: their output streams, the
// cluster, the network, the clock. Tests replace any of it.
type Env struct {
	Out, Err io.Writer
	// RESTConfig returns the cluster and default namespace; nil: the
	// kubeconfig's current context (--kubeconfig, --context).
	RESTConfig func() (*rest.Config, string, error)
	// Transport carries Apigee requests; nil: http.DefaultTransport.
	Transport http.RoundTripper
	Now       func() time.Time
	// Terminal draws a progress bar on Err instead of progress lines.
	Terminal bool

	kubeconfig, context, namespace string
	cached                         *kubeClient
}

type kubeClient struct {
	client    client.Client
	namespace string
}

// Main runs the command line and returns the exit code.
func Main(args []string, env *Env) int {
	cmd := NewCommand(env)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		var exit exitError
		if errors.As(err, &exit) {
			return exit.code
		}
		fmt.Fprintf(env.Err, "Error: %v\n", err)
		return 1
	}
	return 0
}

// exitError ends a command with a code after it printed its own report.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// NewCommand is the root command, kubectl-apigee_keys.
func NewCommand(env *Env) *cobra.Command {
	if env.Now == nil {
		env.Now = time.Now
	}
	root := &cobra.Command{
		Use:   "kubectl-apigee_keys",
		Short: "Bring Apigee developer app keys under management as DeveloperAppKey manifests",
		Long: `Turn an Apigee organization (X, hybrid or Edge), an apigeecli export or a CSV file
into DeveloperAppKey manifests for Git, check them against a target organization,
and report on the keys in the current cluster. Also runs as "kubectl apigee-keys".

Consumer keys and secrets are never printed: keys are named by fingerprint.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Usage lines read as kubectl runs the plugin.
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl apigee-keys"},
	}
	root.SetOut(env.Out)
	root.SetErr(env.Err)
	pf := root.PersistentFlags()
	pf.StringVar(&env.kubeconfig, "kubeconfig", "", "path to the kubeconfig file")
	pf.StringVar(&env.context, "context", "", "kubeconfig context to use")
	pf.StringVarP(&env.namespace, "namespace", "n", "", "namespace of the DeveloperAppKeys, Secrets and ApigeeConnections; default the context's")
	root.AddCommand(newExportCommand(env), newPlanCommand(env), newStatusCommand(env))
	return root
}

// kube returns the cluster client, built once.
func (e *Env) kube() (*kubeClient, error) {
	if e.cached != nil {
		return e.cached, nil
	}
	cfg, ns, err := e.restConfig()
	if err != nil {
		return nil, fmt.Errorf("cannot reach the cluster: %w", err)
	}
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	_ = apigeev1alpha1.AddToScheme(scheme)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("cannot reach the cluster: %w", err)
	}
	if e.namespace != "" {
		ns = e.namespace
	}
	e.cached = &kubeClient{client: c, namespace: ns}
	return e.cached, nil
}

func (e *Env) restConfig() (*rest.Config, string, error) {
	if e.RESTConfig != nil {
		return e.RESTConfig()
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = e.kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: e.context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", err
	}
	ns, _, err := cc.Namespace()
	return cfg, ns, err
}

// targetNamespace is --namespace, else the context's, else "default",
// without contacting the cluster when it need not.
func (e *Env) targetNamespace(needCluster bool) (string, error) {
	if e.namespace != "" && !needCluster {
		return e.namespace, nil
	}
	if !needCluster {
		if _, ns, err := e.restConfig(); err == nil && ns != "" {
			return ns, nil
		}
		return "default", nil
	}
	kc, err := e.kube()
	if err != nil {
		return "", err
	}
	return kc.namespace, nil
}

// progress reports on Err, as a bar on a terminal.
func (e *Env) progress() *progress { return &progress{w: e.Err, terminal: e.Terminal} }

// DefaultEnv runs against the real terminal and kubeconfig.
func DefaultEnv() *Env {
	return &Env{Out: os.Stdout, Err: os.Stderr, Terminal: isTerminal(os.Stderr)}
}
