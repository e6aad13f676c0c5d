package chart

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

const schemaError = "values don't meet the specifications of the schema"

func TestLintStrict(t *testing.T) {
	for name, args := range map[string][]string{
		"default values": nil,
		"every option":   {"-f", allValues},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := helm(t, nil, append([]string{"lint", "--strict", chartDir}, args...)...)
			if err != nil || strings.Contains(out, "[WARNING]") || strings.Contains(out, "[ERROR]") {
				t.Fatalf("helm lint --strict: %v\n%s", err, out)
			}
		})
	}
}

// TestDefaultRender checks what a plain `helm install` creates.
func TestDefaultRender(t *testing.T) {
	objs := objects(t, render(t))
	for kind, want := range map[string]int{
		"CustomResourceDefinition": 3, "ServiceAccount": 1, "Deployment": 1, "Service": 1,
		"ClusterRole": 3, "ClusterRoleBinding": 2, "Role": 2, "RoleBinding": 2,
		"PodDisruptionBudget": 0, "ServiceMonitor": 0, "NetworkPolicy": 0,
	} {
		if got := len(ofKind(objs, kind)); got != want {
			t.Errorf("%d %s objects, want %d", got, kind, want)
		}
	}
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" && ns != "apigee-key-operator" {
			t.Errorf("%s %s in namespace %s, want the release namespace", o.GetKind(), o.GetName(), ns)
		}
	}

	dep := deployment(t, objs)
	checkRestricted(t, dep)
	checkProbes(t, dep, 8081)
	c := dep.Spec.Template.Spec.Containers[0]
	if want := "ghcr.io/apigee-key-operator/apigee-key-operator:" + appVersion(t); c.Image != want {
		t.Errorf("image %s, want %s", c.Image, want)
	}
	wantArgs := []string{
		"--metrics-bind-address=:8443", "--metrics-secure=true", "--health-probe-bind-address=:8081",
		"--leader-elect", "--resync-interval=10m", "--expiry-warning-window=168h", "--namespaced-ambient-credentials=false",
		"--organization-requests-per-minute=0", "--organization-burst=20",
		"--records-secret=apigee-key-operator/keyop-apigee-key-operator-records", "-v=0", "--log-format=json",
	}
	if !reflect.DeepEqual(c.Args, wantArgs) {
		t.Errorf("args %q, want %q", c.Args, wantArgs)
	}
	checkRecordsRole(t, objs, "keyop-apigee-key-operator")
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %v: want CPU requests and a memory limit", c.Resources)
	}
	if want := []corev1.EnvVar{{Name: "GOMEMLIMIT", Value: "230MiB"}, {Name: "GOGC", Value: "50"}}; !reflect.DeepEqual(c.Env, want) {
		t.Errorf("env %v, want GOMEMLIMIT at 90%% of the 256Mi limit and GOGC 50: %v", c.Env, want)
	}
	if dep.Spec.Template.Spec.ServiceAccountName != "keyop-apigee-key-operator" {
		t.Errorf("serviceAccountName %q", dep.Spec.Template.Spec.ServiceAccountName)
	}

	checkCRDs(t, objs, true)
	var role rbacv1.ClusterRole
	into(t, named(t, objs, "ClusterRole", "keyop-apigee-key-operator-manager"), &role)
	if want := markerRules(t); !reflect.DeepEqual(role.Rules, want) {
		t.Errorf("manager ClusterRole rules differ from config/rbac/role.yaml:\n got %+v\nwant %+v", role.Rules, want)
	}
}

// checkRecordsRole: the operator may read its records Secret, by name,
// and create it, in the release namespace, whatever it watches.
func checkRecordsRole(t *testing.T, objs []*unstructured.Unstructured, fullname string) {
	t.Helper()
	var role rbacv1.Role
	var binding rbacv1.RoleBinding
	into(t, named(t, objs, "Role", fullname+"-records"), &role)
	into(t, named(t, objs, "RoleBinding", fullname+"-records"), &binding)
	want := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{fullname + "-records"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}},
	}
	if !reflect.DeepEqual(role.Rules, want) || role.Namespace != "apigee-key-operator" || binding.RoleRef.Name != role.Name {
		t.Errorf("records Role %+v bound by %+v: want get on the records Secret and create, in the release namespace", role, binding)
	}
}

// TestEveryOptionRender checks that each value in testdata/all-values.yaml
// reaches the manifests.
func TestEveryOptionRender(t *testing.T) {
	objs := objects(t, render(t, "-f", allValues))
	dep := deployment(t, objs)
	checkRestricted(t, dep)
	checkProbes(t, dep, 8082)
	spec := dep.Spec.Template.Spec
	c := spec.Containers[0]

	wantArgs := []string{
		"--metrics-bind-address=:9443", "--metrics-secure=true", "--health-probe-bind-address=:8082",
		"--leader-elect", "--leader-election-namespace=apigee-keys", "--resync-interval=5m", "--expiry-warning-window=72h",
		"--watch-namespaces=team-a,team-b", "--namespaced-ambient-credentials=true",
		"--organization-requests-per-minute=3000", "--organization-burst=10",
		"--records-secret=apigee-key-operator/apigee-keys-records", "-v=2", "--log-format=console", "-v=3",
	}
	if !reflect.DeepEqual(c.Args, wantArgs) {
		t.Errorf("args %q, want %q", c.Args, wantArgs)
	}
	checkRecordsRole(t, objs, "apigee-keys") // the release namespace is not among the watched ones
	checks := map[string]bool{
		"replicas 2":       *dep.Spec.Replicas == 2,
		"image":            c.Image == "europe-docker.pkg.dev/acme/mirror/apigee-key-operator:v0.1.1",
		"pullPolicy":       c.ImagePullPolicy == corev1.PullAlways,
		"imagePullSecrets": len(spec.ImagePullSecrets) == 1 && spec.ImagePullSecrets[0].Name == "regcred",
		"goGC, and extraEnv's GOMEMLIMIT instead of the chart's": reflect.DeepEqual(c.Env, []corev1.EnvVar{{Name: "GOGC", Value: "75"}, {Name: "GOMEMLIMIT", Value: "200MiB"}}),
		"nodeSelector":            spec.NodeSelector["cloud.google.com/gke-nodepool"] == "apigee-runtime",
		"tolerations":             len(spec.Tolerations) == 1 && spec.Tolerations[0].Key == "dedicated",
		"affinity":                spec.Affinity != nil && spec.Affinity.PodAntiAffinity != nil,
		"topologySpread":          len(spec.TopologySpreadConstraints) == 1,
		"podAnnotations":          dep.Spec.Template.Annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "true",
		"podLabels":               dep.Spec.Template.Labels["team"] == "platform",
		"serviceAccountName":      spec.ServiceAccountName == "apigee-key-operator",
		"terminationGracePeriod":  *spec.TerminationGracePeriodSeconds == 30,
		"resources":               c.Resources.Limits.Memory().String() == "512Mi",
		"metrics port":            containerPort(c, "metrics") == 9443,
		"liveness period":         c.LivenessProbe.PeriodSeconds == 30,
		"readiness initial delay": c.ReadinessProbe.InitialDelaySeconds == 3,
	}
	for name, ok := range checks {
		if !ok {
			t.Errorf("%s not rendered as set in all-values.yaml", name)
		}
	}

	var sa corev1.ServiceAccount
	into(t, only(t, objs, "ServiceAccount"), &sa)
	if sa.Annotations["iam.gke.io/gcp-service-account"] != "apigee-key-operator@acme-hybrid.iam.gserviceaccount.com" {
		t.Errorf("ServiceAccount annotations %v: want the Workload Identity annotation", sa.Annotations)
	}

	var pdb policyv1.PodDisruptionBudget
	into(t, only(t, objs, "PodDisruptionBudget"), &pdb)
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 ||
		!reflect.DeepEqual(pdb.Spec.Selector.MatchLabels, dep.Spec.Selector.MatchLabels) {
		t.Errorf("PodDisruptionBudget %+v: want minAvailable 1 selecting the operator pods", pdb.Spec)
	}

	var svc corev1.Service
	into(t, only(t, objs, "Service"), &svc)
	if svc.Spec.Ports[0].Port != 443 || svc.Spec.Ports[0].Name != "https" || svc.Annotations["cloud.google.com/neg"] == "" {
		t.Errorf("metrics Service %+v", svc)
	}
	sm := only(t, objs, "ServiceMonitor")
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(endpoints) != 1 {
		t.Fatalf("ServiceMonitor endpoints %v", endpoints)
	}
	ep, _ := endpoints[0].(map[string]any)
	if sm.GetLabels()["release"] != "prometheus" || ep["port"] != "https" || ep["scheme"] != "https" || ep["interval"] != "30s" {
		t.Errorf("ServiceMonitor %v", sm.Object)
	}

	pr := only(t, objs, "PrometheusRule")
	if rules := yamlText(t, pr.Object); pr.GetLabels()["release"] != "prometheus" || !strings.Contains(rules, "< 1209600") ||
		!strings.Contains(rules, "for: 1h") || !strings.Contains(rules, "for: 5m") {
		t.Errorf("PrometheusRule does not carry the values: %s", rules)
	}

	var np networkingv1.NetworkPolicy
	into(t, only(t, objs, "NetworkPolicy"), &np)
	if len(np.Spec.Ingress) != 2 || len(np.Spec.Egress) != 2 || len(np.Spec.PolicyTypes) != 2 ||
		np.Spec.Ingress[1].Ports[0].Port.IntValue() != 9443 || len(np.Spec.Ingress[1].From) != 1 {
		t.Errorf("NetworkPolicy %+v", np.Spec)
	}

	checkCRDs(t, objs, true)
	checkWatchNamespaceRBAC(t, objs)
	checkFlagsExist(t, c.Args)
}

// checkWatchNamespaceRBAC: with watchNamespaces the namespaced permissions
// live in a Role per namespace, the ClusterRole keeps only the rest, and
// together they grant exactly what the markers ask for.
func checkWatchNamespaceRBAC(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	var cluster rbacv1.ClusterRole
	into(t, named(t, objs, "ClusterRole", "apigee-keys-manager"), &cluster)
	got := grants(cluster.Rules)
	for _, ns := range []string{"team-a", "team-b"} {
		var role rbacv1.Role
		var binding rbacv1.RoleBinding
		for _, o := range objs {
			if o.GetNamespace() == ns && o.GetName() == "apigee-keys-manager" {
				switch o.GetKind() {
				case "Role":
					into(t, o, &role)
				case "RoleBinding":
					into(t, o, &binding)
				}
			}
		}
		if len(role.Rules) == 0 || binding.RoleRef.Name != "apigee-keys-manager" ||
			binding.Subjects[0].Name != "apigee-key-operator" || binding.Subjects[0].Namespace != "apigee-key-operator" {
			t.Fatalf("namespace %s: want the manager Role and a RoleBinding to the operator's ServiceAccount, got %+v / %+v", ns, role, binding)
		}
		for g := range grants(role.Rules) {
			if !strings.HasPrefix(g, "/secrets ") && !strings.Contains(g, "/developerappkeys") && !strings.Contains(g, "/apigeeconnections") {
				t.Errorf("namespace %s Role grants %s, which is not namespaced", ns, g)
			}
			got[g] = true
		}
	}
	for g := range grants(cluster.Rules) {
		if strings.HasPrefix(g, "/secrets ") || strings.Contains(g, "/developerappkeys") || strings.Contains(g, "/apigeeconnections") {
			t.Errorf("ClusterRole grants %s cluster-wide despite watchNamespaces", g)
		}
	}
	if want := grants(markerRules(t)); !reflect.DeepEqual(got, want) {
		t.Errorf("ClusterRole + Roles grant %v, want the markers' %v", keys(got), keys(want))
	}
}

func TestLeaderElectionAndPodDisruptionBudget(t *testing.T) {
	cases := []struct {
		set                []string
		leaderElect, pdb   bool
		pdbMaxUnavailable1 bool
	}{
		{set: []string{"replicaCount=1", "leaderElection.enabled=false"}},
		{set: []string{"replicaCount=1"}, leaderElect: true},
		{set: []string{"replicaCount=2", "leaderElection.enabled=false"}, leaderElect: true, pdb: true},
		{set: []string{"replicaCount=3", "podDisruptionBudget.enabled=false"}, leaderElect: true},
		{set: []string{"replicaCount=2", "podDisruptionBudget.maxUnavailable=1"}, leaderElect: true, pdb: true, pdbMaxUnavailable1: true},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.set, ","), func(t *testing.T) {
			objs := objects(t, render(t, "--set", strings.Join(tc.set, ",")))
			args := deployment(t, objs).Spec.Template.Spec.Containers[0].Args
			if got := slices.Contains(args, "--leader-elect"); got != tc.leaderElect {
				t.Errorf("--leader-elect in args: %v, want %v", got, tc.leaderElect)
			}
			if got := slices.ContainsFunc(ofKind(objs, "Role"), func(o *unstructured.Unstructured) bool {
				return strings.HasSuffix(o.GetName(), "-leader-election")
			}); got != tc.leaderElect {
				t.Errorf("leader election Role rendered: %v, want %v", got, tc.leaderElect)
			}
			pdbs := ofKind(objs, "PodDisruptionBudget")
			if (len(pdbs) == 1) != tc.pdb {
				t.Fatalf("%d PodDisruptionBudgets, want one: %v", len(pdbs), tc.pdb)
			}
			if tc.pdbMaxUnavailable1 {
				var pdb policyv1.PodDisruptionBudget
				into(t, pdbs[0], &pdb)
				if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.MinAvailable != nil {
					t.Errorf("PodDisruptionBudget %+v, want maxUnavailable 1 only", pdb.Spec)
				}
			}
		})
	}
}

func TestCRDToggles(t *testing.T) {
	if crds := ofKind(objects(t, render(t, "--set", "crds.install=false")), "CustomResourceDefinition"); len(crds) != 0 {
		t.Errorf("crds.install=false rendered %d CRDs", len(crds))
	}
	checkCRDs(t, objects(t, render(t, "--set", "crds.keep=false")), false)
}

func TestMetricsToggles(t *testing.T) {
	objs := objects(t, render(t, "--set", "metrics.enabled=false,serviceMonitor.enabled=true,networkPolicy.enabled=true"))
	c := deployment(t, objs).Spec.Template.Spec.Containers[0]
	if c.Args[0] != "--metrics-bind-address=0" || containerPort(c, "metrics") != 0 {
		t.Errorf("metrics.enabled=false: args %q ports %v, want the endpoint off", c.Args, c.Ports)
	}
	for _, kind := range []string{"Service", "ServiceMonitor"} {
		if n := len(ofKind(objs, kind)); n != 0 {
			t.Errorf("metrics.enabled=false rendered %d %s", n, kind)
		}
	}
	if n := len(ofKind(objs, "ClusterRole")); n != 1 {
		t.Errorf("metrics.enabled=false: %d ClusterRoles, want only the manager's", n)
	}

	objs = objects(t, render(t, "--set", "metrics.secure=false"))
	c = deployment(t, objs).Spec.Template.Spec.Containers[0]
	var svc corev1.Service
	into(t, only(t, objs, "Service"), &svc)
	if !slices.Contains(c.Args, "--metrics-secure=false") || svc.Spec.Ports[0].Name != "http" || len(ofKind(objs, "ClusterRole")) != 1 {
		t.Errorf("metrics.secure=false: args %q, service port %q, %d ClusterRoles", c.Args, svc.Spec.Ports[0].Name, len(ofKind(objs, "ClusterRole")))
	}
}

func TestServiceAccountAndImageOptions(t *testing.T) {
	if out, err := helm(t, nil, "template", "keyop", chartDir, "--set", "serviceAccount.create=false"); err == nil || !strings.Contains(out, "serviceAccount.name is required") {
		t.Errorf("serviceAccount.create=false without a name: want an error, got %v\n%s", err, out)
	}
	objs := objects(t, render(t, "--set", "serviceAccount.create=false,serviceAccount.name=existing"))
	if len(ofKind(objs, "ServiceAccount")) != 0 || deployment(t, objs).Spec.Template.Spec.ServiceAccountName != "existing" {
		t.Error("serviceAccount.create=false: want no ServiceAccount and the pods running as the named one")
	}
	digest := "sha256:" + strings.Repeat("ab", 32)
	objs = objects(t, render(t, "--set", "image.digest="+digest))
	if img := deployment(t, objs).Spec.Template.Spec.Containers[0].Image; img != "ghcr.io/apigee-key-operator/apigee-key-operator@"+digest {
		t.Errorf("image.digest: image %s", img)
	}
	if objs := objects(t, render(t, "--set", "rbac.create=false")); len(ofKind(objs, "ClusterRole"))+len(ofKind(objs, "Role")) != 0 {
		t.Error("rbac.create=false still renders roles")
	}
}

// TestGoMemLimit: GOMEMLIMIT is goMemLimitPercent of the container's
// memory limit, in whole MiB, unless extraEnv sets it or nothing limits
// memory; a limit the chart cannot read fails the render with advice.
func TestGoMemLimit(t *testing.T) {
	cases := []struct {
		reason string
		set    []string
		want   string // GOMEMLIMIT; "" for none
		others int    // other environment variables
	}{
		// The defaults (230MiB) and a GOMEMLIMIT in extraEnv are checked by
		// TestDefaultRender and TestEveryOptionRender.
		{"binary suffix, a fraction, another percentage", []string{"--set", "resources.limits.memory=1.5Gi,goMemLimitPercent=50"}, "768MiB", 0},
		{"decimal suffix", []string{"--set", "resources.limits.memory=500M"}, "429MiB", 0},
		{"plain bytes, as YAML reads a number", []string{"--set", "resources.limits.memory=268435456"}, "230MiB", 0},
		{"percentage 0 turns it off", []string{"--set", "goMemLimitPercent=0"}, "", 0},
		{"no memory limit, nothing to derive it from", []string{"--set", "resources.limits=null"}, "", 0},
		{"other extraEnv comes with it", []string{"--set", "extraEnv[0].name=GODEBUG,extraEnv[0].value=madvdontneed=1"}, "230MiB", 1},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			t.Parallel()
			env := deployment(t, objects(t, render(t, tc.set...))).Spec.Template.Spec.Containers[0].Env
			got, others := "", 0
			for _, e := range env {
				if e.Name == "GOGC" {
					continue // TestGoGC
				}
				if e.Name != "GOMEMLIMIT" {
					others++
					continue
				}
				if got != "" {
					t.Errorf("GOMEMLIMIT set twice: %v", env)
				}
				got = e.Value
			}
			if got != tc.want || others != tc.others {
				t.Errorf("%s: GOMEMLIMIT %q and %d other variables, want %q and %d", tc.reason, got, others, tc.want, tc.others)
			}
		})
	}
	t.Run("a limit the chart cannot read", func(t *testing.T) {
		t.Parallel()
		out, err := helm(t, nil, "template", "keyop", chartDir, "--set-string", "resources.limits.memory=1e9")
		if err == nil || !strings.Contains(out, "set goMemLimitPercent: 0 and GOMEMLIMIT in extraEnv") {
			t.Errorf("want a render error with advice, got %v\n%s", err, out)
		}
	})
}

// TestGoGC: GOGC is goGC (50 by default, checked by TestDefaultRender),
// unset when goGC is null, and extraEnv's own GOGC wins.
func TestGoGC(t *testing.T) {
	cases := []struct {
		reason string
		set    []string
		want   []string // every GOGC in the container's environment
	}{
		{"another value", []string{"--set", "goGC=100"}, []string{"100"}},
		{"null leaves Go's default", []string{"--set", "goGC=null"}, nil},
		{"extraEnv's wins", []string{"--set", "extraEnv[0].name=GOGC,extraEnv[0].value=off"}, []string{"off"}},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, e := range deployment(t, objects(t, render(t, tc.set...))).Spec.Template.Spec.Containers[0].Env {
				if e.Name == "GOGC" {
					got = append(got, e.Value)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s: GOGC %q, want %q", tc.reason, got, tc.want)
			}
		})
	}
}

// TestSchemaRejectsBadValues: values.schema.json stops a bad value in both
// helm lint and helm template (and so helm install).
func TestSchemaRejectsBadValues(t *testing.T) {
	for _, set := range []string{
		"replicaCount=-1",
		"logFormat=xml",
		"logLevel=-2",
		"resyncInterval=often",
		"image.pullPolicy=Sometimes",
		"watchNamespaces[0]=Team_A",
		"namespacedAmbientCredentials=yes",
		"organizationRateLimit.requestsPerMinute=-1",
		"organizationRateLimit.burst=0",
		"metrics.port=70000",
		"unknownTopLevel=1",
		"crds.unknown=true",
		"podDisruptionBudget.maxUnavailable=half",
		"goMemLimitPercent=120",
		"goGC=0",
	} {
		t.Run(set, func(t *testing.T) {
			for _, cmd := range [][]string{
				{"template", "keyop", chartDir, "--set", set},
				{"lint", "--strict", chartDir, "--set", set},
			} {
				out, err := helm(t, nil, cmd...)
				if err == nil || !strings.Contains(out, schemaError) {
					t.Errorf("helm %s accepted %s: %v\n%s", cmd[0], set, err, out)
				}
			}
		})
	}
}

// deployment returns the single Deployment, typed.
func deployment(t *testing.T, objs []*unstructured.Unstructured) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	into(t, only(t, objs, "Deployment"), &d)
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(d.Spec.Template.Spec.Containers))
	}
	return &d
}

// checkRestricted asserts the "restricted" Pod Security Standard.
func checkRestricted(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	pod := d.Spec.Template.Spec.SecurityContext
	c := d.Spec.Template.Spec.Containers[0].SecurityContext
	switch {
	case pod == nil || c == nil:
		t.Fatal("missing pod or container securityContext")
	case pod.RunAsNonRoot == nil || !*pod.RunAsNonRoot:
		t.Error("pod runAsNonRoot is not true")
	case pod.SeccompProfile == nil || pod.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("pod seccompProfile is not RuntimeDefault")
	case c.AllowPrivilegeEscalation == nil || *c.AllowPrivilegeEscalation:
		t.Error("allowPrivilegeEscalation is not false")
	case c.ReadOnlyRootFilesystem == nil || !*c.ReadOnlyRootFilesystem:
		t.Error("readOnlyRootFilesystem is not true")
	case c.Capabilities == nil || !reflect.DeepEqual(c.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(c.Capabilities.Add) != 0:
		t.Error("capabilities do not drop ALL")
	}
}

// checkProbes: liveness on /healthz and readiness on /readyz, both on the
// probe port.
func checkProbes(t *testing.T, d *appsv1.Deployment, port int32) {
	t.Helper()
	c := d.Spec.Template.Spec.Containers[0]
	if containerPort(c, "probes") != port {
		t.Errorf("probes port %d, want %d", containerPort(c, "probes"), port)
	}
	for path, p := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "probes" {
			t.Errorf("probe for %s: %+v", path, p)
		}
	}
}

func containerPort(c corev1.Container, name string) int32 {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

// checkCRDs: the chart's CRDs are config/crd/bases (plus labels and the keep
// annotation when keep is wanted).
func checkCRDs(t *testing.T, objs []*unstructured.Unstructured, keep bool) {
	t.Helper()
	bases, _ := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	crds := ofKind(objs, "CustomResourceDefinition")
	if len(crds) != len(bases) || len(bases) == 0 {
		t.Fatalf("%d CRDs rendered, %d in config/crd/bases", len(crds), len(bases))
	}
	for _, base := range bases {
		var want unstructured.Unstructured
		b, err := os.ReadFile(base)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, &want.Object); err != nil {
			t.Fatal(err)
		}
		got := named(t, objs, "CustomResourceDefinition", want.GetName())
		if !reflect.DeepEqual(got.Object["spec"], want.Object["spec"]) {
			t.Errorf("CRD %s differs from %s: run make chart-crds", want.GetName(), base)
		}
		if has := got.GetAnnotations()["helm.sh/resource-policy"] == "keep"; has != keep {
			t.Errorf("CRD %s has helm.sh/resource-policy: keep: %v, want %v", want.GetName(), has, keep)
		}
	}
}

func named(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range ofKind(objs, kind) {
		if o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s", kind, name)
	return nil
}

// markerRules are the rules controller-gen wrote from the RBAC markers.
func markerRules(t *testing.T) []rbacv1.PolicyRule {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal(b, &role); err != nil {
		t.Fatal(err)
	}
	return role.Rules
}

// grants flattens rules into "group/resource verb" strings.
func grants(rules []rbacv1.PolicyRule) map[string]bool {
	out := map[string]bool{}
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out[g+"/"+res+" "+v] = true
				}
			}
		}
	}
	return out
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkFlagsExist: every flag the chart passes is defined by the operator
// (cmd/apigee-key-operator/flags.go), so a renamed flag breaks this test
// instead of crash-looping pods.
func checkFlagsExist(t *testing.T, args []string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "cmd", "apigee-key-operator", "flags.go"))
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	for _, m := range regexp.MustCompile(`fs\.\w+Var\([^,]+,\s*"([^"]+)"`).FindAllStringSubmatch(string(src), -1) {
		defined[m[1]] = true
	}
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !defined[name] {
			t.Errorf("the chart passes %s, but flags.go defines no flag %q (defined: %v)", a, name, keys(defined))
		}
	}
}

// appVersion reads appVersion from Chart.yaml.
func appVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.AppVersion
}

// yamlText renders an object as YAML, for checks on what it says.
func yamlText(t *testing.T, obj map[string]any) string {
	t.Helper()
	out, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
