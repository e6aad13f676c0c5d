package integration

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	dto "github.com/prometheus/client_model/go"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/auth"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/connect"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// raw is a client that changes Apigee behind the operator's back, as a
// person or a pipeline would. It records no metrics and logs nothing.
func (a *apigeeOrg) raw(t *testing.T) apigee.Client {
	t.Helper()
	platform := connect.PlatformX
	if a.dialect == emulator.Edge {
		platform = connect.PlatformEdge
	}
	c, err := connect.New(context.Background(), connect.Config{
		Platform: platform, Organization: a.emu.Organization(), Endpoint: a.srv.URL,
		Auth: auth.Config{Method: auth.MethodBearerToken, BearerToken: token},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// preImport creates a key on an app with the raw client.
func (a *apigeeOrg) preImport(t *testing.T, app, key, secret string) *apigee.Credential {
	t.Helper()
	c, err := a.raw(t).ImportKey(context.Background(), developer, app,
		apigee.ImportRequest{ConsumerKey: key, ConsumerSecret: secret})
	if err != nil {
		t.Fatalf("pre-creating a key on %s: %v", app, err)
	}
	return c
}

// changes counts calls that changed Apigee: writes it answered with 2xx.
func (a *apigeeOrg) changes() int {
	n := 0
	for _, c := range a.emu.CallLog() {
		if c.Method != "GET" && c.Status >= 200 && c.Status < 300 {
			n++
		}
	}
	return n
}

// waitKey waits until the emulator's key satisfies ok.
func (a *apigeeOrg) waitKey(t *testing.T, what, consumerKey string, ok func(c *apigee.Credential) bool) *apigee.Credential {
	t.Helper()
	var c *apigee.Credential
	eventually(t, what, func() (bool, string) {
		c = a.key(t, appName, consumerKey)
		if c == nil {
			return false, "key absent"
		}
		return ok(c), "key " + c.Status + " products " + products(c)
	})
	return c
}

// callsDuring clears the call log, waits out the window and returns the
// calls made meanwhile: the way to show that nothing retries hot.
func (a *apigeeOrg) callsDuring(window time.Duration) []emulator.Call {
	a.emu.ResetCalls()
	time.Sleep(window)
	return a.emu.CallLog()
}

// countOp counts calls of one operation.
func countOp(calls []emulator.Call, op string) int {
	n := 0
	for _, c := range calls {
		if c.Operation == op {
			n++
		}
	}
	return n
}

// withoutProbes drops the connection probes from a call log.
func withoutProbes(calls []emulator.Call) []emulator.Call {
	var out []emulator.Call
	for _, c := range calls {
		if c.Operation != emulator.OpGetOrganization {
			out = append(out, c)
		}
	}
	return out
}

// touchSecret changes only the Secret's metadata, which the operator
// watches, to trigger a reconcile of the keys that use it.
func touchSecret(t *testing.T, ns, name string) {
	t.Helper()
	changeSecret(t, ns, name, func(s *corev1.Secret) {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations["touched"] = time.Now().Format(time.RFC3339Nano)
	})
}

// setSecretField replaces one data field of a Secret.
func setSecretField(t *testing.T, ns, name, field, value string) {
	t.Helper()
	changeSecret(t, ns, name, func(s *corev1.Secret) { s.Data[field] = []byte(value) })
}

func changeSecret(t *testing.T, ns, name string, change func(*corev1.Secret)) {
	t.Helper()
	eventually(t, "update Secret "+name, func() (bool, string) {
		s := &corev1.Secret{}
		if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, s); err != nil {
			return false, err.Error()
		}
		change(s)
		if err := k8s.Update(context.Background(), s); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

func getSecret(t *testing.T, ns, name string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, s); err != nil {
		t.Fatal(err)
	}
	return s
}

// deleteObject deletes obj, failing the test on any error but NotFound.
func deleteObject(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Delete(context.Background(), obj); client.IgnoreNotFound(err) != nil {
		t.Fatalf("deleting %T %s: %v", obj, obj.GetName(), err)
	}
}

func deleteKey(t *testing.T, ns, name string) {
	t.Helper()
	deleteObject(t, &apigeev1alpha1.DeveloperAppKey{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
}

// waitGone waits until the key no longer exists in Kubernetes.
func waitGone(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, name+" deleted", func() (bool, string) {
		err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &apigeev1alpha1.DeveloperAppKey{})
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		return false, "still there"
	})
}

func readyCondition(k *apigeev1alpha1.DeveloperAppKey) metav1.Condition {
	if c := meta.FindStatusCondition(k.Status.Conditions, apigeev1alpha1.ConditionReady); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// keyEvents lists the events.k8s.io/v1 Events about one object.
func keyEvents(t *testing.T, ns, name string) []eventsv1.Event {
	t.Helper()
	list := &eventsv1.EventList{}
	if err := k8s.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// eventCounts counts an object's Events by reason.
func eventCounts(t *testing.T, ns, name string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, e := range keyEvents(t, ns, name) {
		out[e.Reason]++
	}
	return out
}

// waitEvent waits for an Event of the type and reason about the object.
func waitEvent(t *testing.T, ns, name, eventType, reason string) eventsv1.Event {
	t.Helper()
	var found eventsv1.Event
	eventually(t, eventType+" event "+reason+" for "+name, func() (bool, string) {
		for _, e := range keyEvents(t, ns, name) {
			if e.Type == eventType && e.Reason == reason {
				found = e
				return true, ""
			}
		}
		return false, "not yet"
	})
	return found
}

// allEventText is every Event in the namespace, both APIs, as text.
func allEventText(t *testing.T, ns string) string {
	t.Helper()
	var b strings.Builder
	v1 := &eventsv1.EventList{}
	if err := k8s.List(context.Background(), v1, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range v1.Items {
		b.WriteString(e.Reason + " " + e.Action + " " + e.Note + "\n")
	}
	core := &corev1.EventList{}
	if err := k8s.List(context.Background(), core, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range core.Items {
		b.WriteString(e.Reason + " " + e.Action + " " + e.Message + "\n")
	}
	return b.String()
}

// metricsText renders every metric of the manager's registry.
func metricsText(t *testing.T) string {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range families {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

// metricSum adds the values of a counter or gauge over the series whose
// labels include every label given.
func metricSum(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	sum := 0.0
	for _, m := range seriesOf(t, name, labels) {
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return sum
}

// hasSeries reports whether a series of the metric has every label given.
func hasSeries(t *testing.T, name string, labels map[string]string) bool {
	t.Helper()
	return len(seriesOf(t, name, labels)) > 0
}

// seriesOf returns the series of the metric whose labels include every
// label given.
func seriesOf(t *testing.T, name string, labels map[string]string) []*dto.Metric {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []*dto.Metric
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			if matches(have, labels) {
				out = append(out, m)
			}
		}
	}
	return out
}

func matches(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func containsText(s, part string) bool { return strings.Contains(s, part) }

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

// watchKey calls seen, from the manager's informer, for every version of
// the object it gets (old is nil when the object is added), until the test
// ends: what a user watching the object sees.
func watchKey(t *testing.T, ns, name string, seen func(old, k *apigeev1alpha1.DeveloperAppKey)) {
	t.Helper()
	inf, err := cached.GetInformer(context.Background(), &apigeev1alpha1.DeveloperAppKey{})
	if err != nil {
		t.Fatal(err)
	}
	mine := func(o any) *apigeev1alpha1.DeveloperAppKey {
		if k, ok := o.(*apigeev1alpha1.DeveloperAppKey); ok && k.Namespace == ns && k.Name == name {
			return k
		}
		return nil
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) {
			if k := mine(o); k != nil {
				seen(nil, k)
			}
		},
		UpdateFunc: func(old, o any) {
			if k := mine(o); k != nil {
				seen(mine(old), k)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inf.RemoveEventHandler(reg) })
}
