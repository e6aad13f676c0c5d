package controller

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/connect"
)

// TestClientRebuiltOnlyWhenItsSecretChanges: every reconcile of every key
// asks for its connection's client; that costs no API server read. A
// watch event of the connection's Secret, or a new spec, makes the next
// use read the Secret again and build a client from what it holds now.
func TestClientRebuiltOnlyWhenItsSecretChanges(t *testing.T) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "token"}, Data: map[string][]byte{"token": []byte("first")}}
	reads := 0
	apiReader := fake.NewClientBuilder().WithObjects(secret).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			reads++
			return c.Get(ctx, key, obj, opts...)
		},
	}).Build()
	var built []string
	factory := func(_ context.Context, cfg connect.Config) (apigee.Client, error) {
		built = append(built, cfg.Auth.BearerToken)
		return &countingReads{}, nil
	}
	cs := NewConnections(nil, apiReader, factory, nil, Tenancy{})
	spec := ambientSpec("http://apigee.test")
	spec.Auth = apigeev1alpha1.ConnectionAuth{BearerToken: &apigeev1alpha1.SecretKeyAuth{SecretRef: apigeev1alpha1.SecretReference{Name: "token"}}}
	conn := namespacedConn(spec)
	use := func(step string, wantReads int, wantBuilt ...string) {
		t.Helper()
		if _, err := cs.ClientFor(context.Background(), conn); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if reads != wantReads || len(built) != len(wantBuilt) || built[len(built)-1] != wantBuilt[len(wantBuilt)-1] {
			t.Fatalf("%s: %d Secret reads, clients built with %q; want %d reads, %q", step, reads, built, wantReads, wantBuilt)
		}
	}
	use("first use", 1, "first")
	for range 100 {
		use("a key's reconcile", 1, "first")
	}
	secret.Data["token"] = []byte("second")
	if err := apiReader.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	use("changed, but no event yet", 1, "first")
	cs.SecretChanged(types.NamespacedName{Namespace: "team-a", Name: "other"})
	use("another Secret's event", 1, "first")
	cs.SecretChanged(types.NamespacedName{Namespace: "team-a", Name: "token"})
	use("after the Secret's event", 2, "first", "second")
	use("once rebuilt", 2, "first", "second")
	conn.object.SetGeneration(2)
	use("a new spec", 3, "first", "second", "second")
}
