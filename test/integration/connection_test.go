package integration

import (
	"context"
	"net/http/httptest"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

func tokenSecret(ns, name, value string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: map[string]string{"token": value}}
}

func connectionSpec(a *apigeeOrg, endpoint string, secretRef apigeev1alpha1.SecretReference) apigeev1alpha1.ApigeeConnectionSpec {
	platform := apigeev1alpha1.PlatformX
	if a.dialect == emulator.Edge {
		platform = apigeev1alpha1.PlatformEdge
	}
	return apigeev1alpha1.ApigeeConnectionSpec{Organization: a.emu.Organization(), Platform: platform, Endpoint: endpoint,
		Auth: apigeev1alpha1.ConnectionAuth{BearerToken: &apigeev1alpha1.SecretKeyAuth{SecretRef: secretRef}}}
}

// connectionTo is an ApigeeConnection to the emulator with a bearer token
// read from the Secret.
func connectionTo(ns, name string, a *apigeeOrg, secret string) *apigeev1alpha1.ApigeeConnection {
	return &apigeev1alpha1.ApigeeConnection{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: connectionSpec(a, a.srv.URL, apigeev1alpha1.SecretReference{Name: secret})}
}

// createClusterConnection makes a Ready ClusterApigeeConnection using the
// namespace's token Secret, deleted when the test ends.
func createClusterConnection(t *testing.T, name string, a *apigeeOrg, ns string, allowed apigeev1alpha1.AllowedNamespaces) {
	t.Helper()
	c := &apigeev1alpha1.ClusterApigeeConnection{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: apigeev1alpha1.ClusterApigeeConnectionSpec{AllowedNamespaces: allowed,
			ApigeeConnectionSpec: connectionSpec(a, a.srv.URL, apigeev1alpha1.SecretReference{Namespace: ns, Name: "apigee-token"})}}
	create(t, c)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), c) })
	eventually(t, "cluster connection "+name+" Ready", func() (bool, string) {
		got := &apigeev1alpha1.ClusterApigeeConnection{}
		if err := k8s.Get(context.Background(), types.NamespacedName{Name: name}, got); err != nil {
			return false, err.Error()
		}
		return meta.IsStatusConditionTrue(got.Status.Conditions, apigeev1alpha1.ConditionReady), "not Ready"
	})
}

// waitConnectionReason waits for the connection's Ready reason.
func waitConnectionReason(t *testing.T, ns, name, reason string) metav1.Condition {
	t.Helper()
	var cond metav1.Condition
	eventually(t, "connection "+name+" reason "+reason, func() (bool, string) {
		c := &apigeev1alpha1.ApigeeConnection{}
		if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, c); err != nil {
			return false, err.Error()
		}
		found := meta.FindStatusCondition(c.Status.Conditions, apigeev1alpha1.ConditionReady)
		if found == nil {
			return false, "no condition"
		}
		cond = *found
		return found.Reason == reason, found.Reason + ": " + found.Message
	})
	return cond
}

// TestConnectionMissingSecret: SecretNotFound until the Secret is created;
// the Secret watch re-probes it.
func TestConnectionMissingSecret(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		ns := namespace(t)
		a := newApigee(t, d, "org-"+ns)
		create(t, connectionTo(ns, "conn", a, "later"))
		waitConnectionReason(t, ns, "conn", apigeev1alpha1.ReasonSecretNotFound)
		create(t, tokenSecret(ns, "later", token))
		waitConnectionReason(t, ns, "conn", apigeev1alpha1.ReasonAuthenticated)
	})
}

// TestConnectionWrongToken: Unauthorized until the Secret holds the right
// token; updating the Secret re-probes it.
func TestConnectionWrongToken(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		ns := namespace(t)
		a := newApigee(t, d, "org-"+ns)
		create(t, tokenSecret(ns, "token", "wrong"))
		create(t, connectionTo(ns, "conn", a, "token"))
		if c := waitConnectionReason(t, ns, "conn", apigeev1alpha1.ReasonUnauthorized); c.Status != metav1.ConditionFalse {
			t.Errorf("Ready is %s", c.Status)
		}
		setSecretField(t, ns, "token", "token", token)
		waitConnectionReason(t, ns, "conn", apigeev1alpha1.ReasonAuthenticated)
	})
}

// TestConnectionUnreachable: an endpoint nobody answers is Unreachable.
func TestConnectionUnreachable(t *testing.T) {
	ns := namespace(t)
	a := newApigee(t, emulator.X, "org-"+ns)
	closed := httptest.NewServer(nil)
	closed.Close()
	create(t, tokenSecret(ns, "token", token))
	conn := connectionTo(ns, "conn", a, "token")
	conn.Spec.Endpoint = closed.URL
	create(t, conn)
	if c := waitConnectionReason(t, ns, "conn", apigeev1alpha1.ReasonUnreachable); c.Status != metav1.ConditionFalse {
		t.Errorf("Ready is %s", c.Status)
	}
}
