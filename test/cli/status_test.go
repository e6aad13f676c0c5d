package cli

import (
	"context"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// TestStatusReportsExpiringKeysAndBrokenConnections: status counts keys by
// Ready reason, lists a key expiring within the window (and not beyond
// it), and a connection whose credentials are refused.
func TestStatusReportsExpiringKeysAndBrokenConnections(t *testing.T) {
	o := newOrg(t, emulator.X, "acme")
	scaffold(t, o)
	ns := namespaceWithConnection(t, o, emulator.X)
	ctx := context.Background()

	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wrong-token"}, StringData: map[string]string{"token": "x" + token}})
	broken := &apigeev1alpha1.ApigeeConnection{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "broken"},
		Spec: apigeev1alpha1.ApigeeConnectionSpec{Organization: "acme", Platform: apigeev1alpha1.PlatformX, Endpoint: o.srv.URL,
			Auth: apigeev1alpha1.ConnectionAuth{BearerToken: &apigeev1alpha1.SecretKeyAuth{SecretRef: apigeev1alpha1.SecretReference{Name: "wrong-token"}}}}}
	create(t, broken)
	eventually(t, "connection broken refused", func() (bool, string) {
		c := &apigeev1alpha1.ApigeeConnection{}
		if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "broken"}, c); err != nil {
			return false, err.Error()
		}
		cond := meta.FindStatusCondition(c.Status.Conditions, apigeev1alpha1.ConditionReady)
		return cond != nil && cond.Reason == "Unauthorized", "not yet"
	})

	lifetimes := map[string]int64{"expiring": 3 * 24 * 3600, "later": 90 * 24 * 3600}
	for name, seconds := range lifetimes {
		create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			StringData: map[string]string{"consumerKey": "SENTINELkey" + name, "consumerSecret": "SENTINELsecret" + name}})
		create(t, &apigeev1alpha1.DeveloperAppKey{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: apigeev1alpha1.DeveloperAppKeySpec{ConnectionRef: apigeev1alpha1.ConnectionReference{Name: "prod"},
				Developer: developers[0], App: apps[0], ExpiresInSeconds: &seconds,
				Credentials: apigeev1alpha1.CredentialsSource{SecretRef: apigeev1alpha1.LocalSecretReference{Name: name}}}})
	}
	for name := range lifetimes {
		waitConverged(t, ns, name)
	}

	st := run(t, "status", "-n", ns, "--expiring-within", "168h")
	if st.code != 0 {
		t.Fatalf("status exit %d: %s", st.code, st.err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`DeveloperAppKeys: 2\n  Converged +2\n`),
		regexp.MustCompile(`\n` + ns + ` +expiring +True +Converged +20\d\d-`),
		regexp.MustCompile(`Connections not Ready:\nKIND .*\nApigeeConnection +` + ns + ` +broken +Unauthorized `),
	} {
		if !want.MatchString(st.out) {
			t.Errorf("status output does not match %s:\n%s", want, st.out)
		}
	}
	if strings.Contains(st.out, " later ") {
		t.Errorf("a key expiring in 90 days is listed as expiring within a week:\n%s", st.out)
	}
	noneLeaked(t, []string{"SENTINELkeyexpiring", "SENTINELsecretexpiring", "SENTINELkeylater", "SENTINELsecretlater", "x" + token},
		map[string]string{"status stdout": st.out, "status stderr": st.err})
}
