package chart

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// cluster is a real kube-apiserver with the pinned kubectl and Helm pointed
// at it. It starts without CRDs: the chart and the installer bring their own.
type cluster struct {
	env        *envtest.Environment
	kubectl    string
	kubeconfig string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	kubectl := kubectlBinary(t)
	env := &envtest.Environment{}
	if _, err := env.Start(); err != nil {
		t.Fatalf("starting the test control plane: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	return &cluster{env: env, kubectl: kubectl, kubeconfig: kubeconfig}
}

// run runs kubectl with stdin and fails the test on error.
func (c *cluster) run(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := run(c.kubectl, stdin, nil, append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// apply applies manifests server-side, first as a dry run (the API server
// validates everything, CRD schemas and RBAC included, before anything
// changes), then for real. Pod Security warnings fail the test: the
// namespaces enforce and warn on "restricted".
func (c *cluster) apply(t *testing.T, manifests string) {
	t.Helper()
	base := []string{"apply", "--server-side", "--force-conflicts", "--field-manager=chart-test", "-f", "-"}
	for _, args := range [][]string{append(base, "--dry-run=server"), base} {
		out := c.run(t, manifests, args...)
		if strings.Contains(out, "PodSecurity") || strings.Contains(out, "Warning") {
			t.Errorf("kubectl %s warned:\n%s", strings.Join(args, " "), out)
		}
	}
}

// namespaces creates restricted namespaces, as a careful cluster admin would.
func (c *cluster) namespaces(t *testing.T, names ...string) {
	t.Helper()
	var b strings.Builder
	for _, n := range names {
		b.WriteString("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + n +
			"\n  labels:\n    pod-security.kubernetes.io/enforce: restricted\n    pod-security.kubernetes.io/warn: restricted\n")
	}
	c.run(t, b.String(), "apply", "--server-side", "--field-manager=chart-test", "-f", "-")
}

// can asserts what a ServiceAccount may do, through impersonation:
// each check is "verb resource [namespace]"; a leading "!" means must not.
func (c *cluster) can(t *testing.T, sa string, checks ...string) {
	t.Helper()
	for _, check := range checks {
		want := !strings.HasPrefix(check, "!")
		fields := strings.Fields(strings.TrimPrefix(check, "!"))
		// can-i reads "resource/x" as a resource name, so pass subresources apart.
		resource, sub, _ := strings.Cut(fields[1], "/")
		args := []string{"auth", "can-i", fields[0], resource, "--subresource=" + sub, "--as=system:serviceaccount:" + sa}
		if len(fields) > 2 {
			args = append(args, "-n", fields[2])
		} else {
			args = append(args, "--all-namespaces")
		}
		out, _ := run(c.kubectl, "", nil, append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
		if got := strings.TrimSpace(out) == "yes"; got != want {
			t.Errorf("%s: can-i %s = %q, want %v", sa, check, strings.TrimSpace(out), want)
		}
	}
}

// The operator's permissions in every install, checked as its
// ServiceAccount: what it needs, and what it must never have.
var operatorNeeds = []string{
	"list developerappkeys.apigee.keyoperator.io team-a",
	"patch developerappkeys.apigee.keyoperator.io/status team-a",
	"update developerappkeys.apigee.keyoperator.io/finalizers team-a",
	"watch apigeeconnections.apigee.keyoperator.io team-a",
	"update apigeeconnections.apigee.keyoperator.io/status team-a",
	"watch clusterapigeeconnections.apigee.keyoperator.io",
	"patch clusterapigeeconnections.apigee.keyoperator.io/status",
	"get secrets team-a",
	"create secrets team-a",
	"list namespaces",
	"create events.events.k8s.io team-a",
	"!update secrets team-a",
	"!delete secrets team-a",
	"!delete developerappkeys.apigee.keyoperator.io team-a",
	"!create developerappkeys.apigee.keyoperator.io team-a",
	"!update apigeeconnections.apigee.keyoperator.io team-a",
	"!list pods team-a",
}

// TestHelmInstallKeepsCRDs installs the chart with Helm, checks NOTES, and
// uninstalls it: the CRDs must stay (helm.sh/resource-policy: keep).
func TestHelmInstallKeepsCRDs(t *testing.T) {
	c := startCluster(t)
	env := []string{"KUBECONFIG=" + c.kubeconfig}
	out, err := helm(t, env, "install", "keyop", chartDir, "--namespace", "apigee-key-operator", "--create-namespace")
	if err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	if !strings.Contains(out, "kubectl -n apigee-key-operator rollout status deployment/keyop-apigee-key-operator") {
		t.Errorf("NOTES do not say how to check the rollout:\n%s", out)
	}
	c.run(t, "", "get", "deployment", "keyop-apigee-key-operator", "-n", "apigee-key-operator")

	out, err = helm(t, env, "uninstall", "keyop", "--namespace", "apigee-key-operator")
	if err != nil {
		t.Fatalf("helm uninstall: %v\n%s", err, out)
	}
	for _, crd := range []string{"developerappkeys", "apigeeconnections", "clusterapigeeconnections"} {
		c.run(t, "", "get", "crd", crd+".apigee.keyoperator.io")
	}
	if out, _ := run(c.kubectl, "", nil, "--kubeconfig", c.kubeconfig, "get", "deployment", "-n", "apigee-key-operator", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("helm uninstall left %s", out)
	}
}

// TestRenderedManifestsApply: what helm template and the kustomize installer
// produce is accepted by a real API server, Pod Security "restricted"
// included, and the ServiceAccounts get the permissions the markers ask for.
func TestRenderedManifestsApply(t *testing.T) {
	c := startCluster(t)
	c.namespaces(t, "apigee-key-operator", "apigee-keys", "team-a", "team-b")

	t.Run("chart with default values", func(t *testing.T) {
		c.apply(t, render(t))
		c.can(t, "apigee-key-operator:keyop-apigee-key-operator", operatorNeeds...)
		c.can(t, "apigee-key-operator:keyop-apigee-key-operator",
			"list secrets",
			"list developerappkeys.apigee.keyoperator.io",
			"create leases.coordination.k8s.io apigee-key-operator",
			"create tokenreviews.authentication.k8s.io",
			"create subjectaccessreviews.authorization.k8s.io",
		)
	})

	t.Run("chart with every option", func(t *testing.T) {
		// The test API server has no Prometheus Operator CRDs.
		c.apply(t, without(t, without(t, render(t, "-f", allValues), "ServiceMonitor"), "PrometheusRule"))
		c.can(t, "apigee-key-operator:apigee-key-operator", operatorNeeds...)
		c.can(t, "apigee-key-operator:apigee-key-operator",
			"get secrets team-b",
			"!list secrets",
			"!get secrets default",
			"!list developerappkeys.apigee.keyoperator.io default",
			"create leases.coordination.k8s.io apigee-keys",
		)
	})

	// A negative control: the Pod Security check above is live, so a
	// Deployment that breaks "restricted" is reported.
	t.Run("pod security is enforced", func(t *testing.T) {
		bad := render(t, "--set", "securityContext.allowPrivilegeEscalation=true")
		out := c.run(t, bad, "apply", "--server-side", "--field-manager=chart-test", "--dry-run=server", "-f", "-")
		if !strings.Contains(out, "would violate PodSecurity") {
			t.Errorf("allowPrivilegeEscalation=true passed without a Pod Security warning:\n%s", out)
		}
	})

	t.Run("kustomize install (dist/install.yaml)", func(t *testing.T) {
		// `make build-installer` renders the same; rendering here keeps the
		// test independent of make. The dry run needs the namespace first.
		manifests := c.run(t, "", "kustomize", filepath.Join(root, "config", "default"))
		c.namespaces(t, "apigee-key-operator-system")
		objs := objects(t, manifests)
		dep := deployment(t, objs)
		checkRestricted(t, dep)
		checkProbes(t, dep, 8081)
		checkFlagsExist(t, dep.Spec.Template.Spec.Containers[0].Args)
		if got, want := dep.Spec.Template.Spec.Containers[0].Env, deployment(t, objects(t, render(t))).Spec.Template.Spec.Containers[0].Env; !reflect.DeepEqual(got, want) {
			t.Errorf("the kustomize install's environment %v, want the chart's default %v", got, want)
		}
		c.apply(t, manifests)
		c.can(t, "apigee-key-operator-system:apigee-key-operator-controller-manager", operatorNeeds...)
		c.can(t, "apigee-key-operator-system:apigee-key-operator-controller-manager",
			"create leases.coordination.k8s.io apigee-key-operator-system",
		)
	})
}
