package integration

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// kstatusOf reads the object from the API server as Flux and Config Sync
// do (unstructured: a typed read would drop a zero observedGeneration)
// and returns the kstatus library's verdict.
func kstatusOf(t *testing.T, obj client.Object) status.Status {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(apigeev1alpha1.GroupVersion.WithKind(kindOf(obj)))
	if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}, u); err != nil {
		t.Fatal(err)
	}
	res, err := status.Compute(u)
	if err != nil {
		t.Fatal(err)
	}
	return res.Status
}

func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *apigeev1alpha1.ApigeeConnection:
		return "ApigeeConnection"
	case *apigeev1alpha1.ClusterApigeeConnection:
		return "ClusterApigeeConnection"
	}
	return "DeveloperAppKey"
}

// TestKstatusReadsRealObjects (issue 24, 1): objects the operator wrote
// status for, read back from the API server, get kstatus's intended
// verdict: Current when Ready, Failed at once for a conflict, a missing
// Secret or app, or a rejected token (a Flux sync fails with the reason
// instead of waiting for its timeout), InProgress for an object not
// reconciled yet (the CRD's status default) or waiting for its turn.
func TestKstatusReadsRealObjects(t *testing.T) {
	a, ns := setup(t, emulator.X)
	a.preImport(t, appName, "takenKey", "takenSecret")
	create(t, credentialsSecret(ns, "creds", "goodKey", "goodSecret"))
	create(t, credentialsSecret(ns, "taken", "takenKey", "otherSecret"))
	create(t, credentialsSecret(ns, "lost", "lostKey", "lostSecret"))

	good := newKey(ns, "good", "creds")
	conflict := newKey(ns, "conflict", "taken")
	noSecret := newKey(ns, "no-secret", "missing")
	noApp := newKey(ns, "no-app", "lost")
	noApp.Spec.App = "no-such-app"
	paused := newKey(ns, "paused", "creds")
	paused.Annotations = map[string]string{apigeev1alpha1.PausedAnnotation: "true"}
	for _, k := range []*apigeev1alpha1.DeveloperAppKey{good, conflict, noSecret, noApp, paused} {
		create(t, k)
	}
	waitConverged(t, ns, "good")
	waitReason(t, ns, "conflict", apigeev1alpha1.ReasonKeyConflict)
	waitReason(t, ns, "no-secret", apigeev1alpha1.ReasonSecretNotFound)
	waitReason(t, ns, "no-app", apigeev1alpha1.ReasonAppNotFound)

	create(t, tokenSecret(ns, "wrong-token", "wrong"))
	wrong := connectionTo(ns, "wrong", a, "wrong-token")
	create(t, wrong)
	waitConnectionReason(t, ns, "wrong", apigeev1alpha1.ReasonUnauthorized)

	for obj, want := range map[client.Object]status.Status{
		&apigeev1alpha1.DeveloperAppKey{}:  status.CurrentStatus,
		conflict:                           status.FailedStatus,
		noSecret:                           status.FailedStatus,
		noApp:                              status.FailedStatus,
		paused:                             status.InProgressStatus,
		&apigeev1alpha1.ApigeeConnection{}: status.CurrentStatus,
		wrong:                              status.FailedStatus,
	} {
		switch o := obj.(type) {
		case *apigeev1alpha1.DeveloperAppKey:
			if o.Name == "" {
				o.Namespace, o.Name = ns, "good"
			}
		case *apigeev1alpha1.ApigeeConnection:
			if o.Name == "" {
				o.Namespace, o.Name = ns, "prod"
			}
		}
		if got := kstatusOf(t, obj); got != want {
			t.Errorf("%s %s: kstatus says %s, want %s", kindOf(obj), obj.GetName(), got, want)
		}
	}
}
