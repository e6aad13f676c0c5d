package cli

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
)

type statusOptions struct {
	allNamespaces bool
	expiring      time.Duration
}

func newStatusCommand(env *Env) *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Summarize DeveloperAppKeys and connections in the current context",
		Long: `Count DeveloperAppKeys by the reason of their Ready condition, list the keys that are
not Ready, those expiring within --expiring-within, and connections that are not Ready.`,
		Example: `  # The keys and connections of one namespace
  kubectl apigee-keys status -n team-a

  # Every namespace, keys expiring within a week
  kubectl apigee-keys status -A --expiring-within 168h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runStatus(cmd.Context(), env, o) },
	}
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "every namespace")
	cmd.Flags().DurationVar(&o.expiring, "expiring-within", 30*24*time.Hour, "report keys expiring within this time")
	return cmd
}

func runStatus(ctx context.Context, env *Env, o *statusOptions) error {
	kc, err := env.kube()
	if err != nil {
		return err
	}
	var opts []client.ListOption
	if !o.allNamespaces {
		opts = append(opts, client.InNamespace(kc.namespace))
	}
	var keys apigeev1alpha1.DeveloperAppKeyList
	if err := kc.client.List(ctx, &keys, opts...); err != nil {
		return fmt.Errorf("listing DeveloperAppKeys: %w", err)
	}
	printKeyStatus(env, keys.Items, env.Now().Add(o.expiring))
	return printConnectionStatus(ctx, env, kc, opts)
}

// printKeyStatus: counts by Ready reason, then the keys that need a look.
func printKeyStatus(env *Env, keys []apigeev1alpha1.DeveloperAppKey, soon time.Time) {
	byReason := map[string]int{}
	t := newTable(env.Out, "NAMESPACE", "NAME", "READY", "REASON", "EXPIRES")
	for _, k := range keys {
		ready, reason := condition(k.Status.Conditions, k.Generation, k.Status.ObservedGeneration)
		byReason[reason]++
		expiring := k.Status.ExpiresAt != nil && k.Status.ExpiresAt.Time.Before(soon)
		if ready != "True" || expiring {
			t.row(k.Namespace, k.Name, ready, reason, expiry(k.Status.ExpiresAt))
		}
	}
	fmt.Fprintf(env.Out, "DeveloperAppKeys: %d\n", len(keys))
	reasons := make([]string, 0, len(byReason))
	for r := range byReason {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(env.Out, "  %-24s %d\n", r, byReason[r])
	}
	fmt.Fprintln(env.Out, "\nNot Ready or expiring soon:")
	t.flushOrNone()
}

func condition(conds []metav1.Condition, gen, observed int64) (string, string) {
	c := meta.FindStatusCondition(conds, apigeev1alpha1.ConditionReady)
	if c == nil || observed != gen {
		return "Unknown", "NotObservedYet"
	}
	return string(c.Status), c.Reason
}

func expiry(t *metav1.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func printConnectionStatus(ctx context.Context, env *Env, kc *kubeClient, opts []client.ListOption) error {
	var conns apigeev1alpha1.ApigeeConnectionList
	if err := kc.client.List(ctx, &conns, opts...); err != nil {
		return fmt.Errorf("listing ApigeeConnections: %w", err)
	}
	var cluster apigeev1alpha1.ClusterApigeeConnectionList
	clusterErr := kc.client.List(ctx, &cluster)
	fmt.Fprintln(env.Out, "\nConnections not Ready:")
	t := newTable(env.Out, "KIND", "NAMESPACE", "NAME", "REASON", "MESSAGE")
	for _, c := range conns.Items {
		if ready, reason := condition(c.Status.Conditions, c.Generation, c.Status.ObservedGeneration); ready != "True" {
			t.row("ApigeeConnection", c.Namespace, c.Name, reason, message(c.Status.Conditions))
		}
	}
	for _, c := range cluster.Items {
		if ready, reason := condition(c.Status.Conditions, c.Generation, c.Status.ObservedGeneration); ready != "True" {
			t.row("ClusterApigeeConnection", "", c.Name, reason, message(c.Status.Conditions))
		}
	}
	t.flushOrNone()
	if clusterErr != nil {
		fmt.Fprintln(env.Err, "Note: cannot list ClusterApigeeConnections (permissions?); shown only namespaced ones.")
	}
	return nil
}

func message(conds []metav1.Condition) string {
	if c := meta.FindStatusCondition(conds, apigeev1alpha1.ConditionReady); c != nil {
		return c.Message
	}
	return ""
}
