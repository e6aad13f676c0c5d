package integration

// Upgrades from release 0.1: its status records consumerKeyFingerprint,
// organization and previousKeys, but no location (neither status.location
// nor previousKeys[].location) and no import-pending annotation. The
// operator must take such objects over without importing, deleting or
// re-creating anything that is not due, and record where their keys live.

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// convergedAs01 puts a key in Apigee as 0.1 would have left it for newKey:
// approved, with orders-read and orders-admin approved.
func convergedAs01(t *testing.T, a *apigeeOrg, key, secret string) {
	t.Helper()
	a.preImport(t, appName, key, secret)
	ctx := context.Background()
	ref := apigee.KeyRef{Developer: developer, App: appName, ConsumerKey: key}
	if _, err := a.raw(t).AddProducts(ctx, ref, []string{"orders-read", "orders-admin"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.raw(t).SetProductStatus(ctx, ref, "orders-admin", apigee.ActionApprove); err != nil {
		t.Fatal(err)
	}
	if got := a.key(t, appName, key); got == nil || !convergedKey(got) {
		t.Fatalf("setting up the 0.1 key: not converged")
	}
}

// status01 is the status 0.1 wrote for a converged key in org.
func status01(org, consumerKey string, previous ...apigeev1alpha1.PreviousKey) apigeev1alpha1.DeveloperAppKeyStatus {
	return apigeev1alpha1.DeveloperAppKeyStatus{
		ObservedGeneration:     1,
		Organization:           org,
		ConsumerKeyFingerprint: apigee.Fingerprint(consumerKey),
		PreviousKeys:           previous,
		KeyStatus:              apigee.StatusApproved,
		APIProducts: []apigeev1alpha1.APIProductStatus{
			{Name: "orders-read", Status: apigee.StatusApproved}, {Name: "orders-admin", Status: apigee.StatusApproved}},
		Conditions: []metav1.Condition{
			{Type: apigeev1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: apigeev1alpha1.ReasonConverged,
				Message: "Apigee matches the spec", ObservedGeneration: 1, LastTransitionTime: metav1.Now()},
			{Type: apigeev1alpha1.ConditionSynced, Status: metav1.ConditionTrue, Reason: apigeev1alpha1.ReasonReconcileSucceeded,
				Message: "The last reconcile succeeded", ObservedGeneration: 1, LastTransitionTime: metav1.Now()}},
	}
}

// create01 creates the object as 0.1 left it: paused while it is set up,
// with the finalizer, the defaulted deletionPolicy and the 0.1 status; no
// location, no import intent, no keyOrigin.
// Its short resync makes a window see several runs.
func create01(t *testing.T, ns, name, secretName string, st apigeev1alpha1.DeveloperAppKeyStatus) {
	t.Helper()
	k := locKey(ns, name, secretName)
	// Every release before keyOrigin defaulted deletionPolicy, so every
	// stored object carries it.
	k.Spec.DeletionPolicy = apigeev1alpha1.DeletionPolicyDelete
	k.Annotations = map[string]string{apigeev1alpha1.PausedAnnotation: "true"}
	controllerutil.AddFinalizer(k, apigeev1alpha1.Finalizer)
	create(t, k)
	k.Status = st
	if err := k8s.Status().Update(context.Background(), k); err != nil {
		t.Fatalf("writing the 0.1 status: %v", err)
	}
	got := get(t, ns, name)
	if got.Status.Location != nil || got.Status.ConsumerKeyFingerprint == "" {
		t.Fatalf("the 0.1 status did not stick: %+v", got.Status)
	}
	if _, ok := got.Annotations[apigeev1alpha1.ImportPendingAnnotation]; ok {
		t.Fatalf("a 0.1 object has no import-pending annotation")
	}
}

// upgrade removes the paused annotation: the new release takes over.
func upgrade(t *testing.T, ns, name string) {
	t.Helper()
	update(t, ns, name, func(k *apigeev1alpha1.DeveloperAppKey) {
		delete(k.Annotations, apigeev1alpha1.PausedAnnotation)
	})
}

// waitLocated waits until the object records a location and is Converged.
func waitLocated(t *testing.T, ns, name string) *apigeev1alpha1.DeveloperAppKey {
	t.Helper()
	var k *apigeev1alpha1.DeveloperAppKey
	eventually(t, name+" converged with a location", func() (bool, string) {
		k = get(t, ns, name)
		c := readyCondition(k)
		return k.Status.Location != nil && c.Reason == apigeev1alpha1.ReasonConverged, c.Reason + ": " + c.Message
	})
	return k
}

// assertDeveloperID checks the recorded location carries the developer's
// ID as Apigee resolves it.
func assertDeveloperID(t *testing.T, a *apigeeOrg, k *apigeev1alpha1.DeveloperAppKey) {
	t.Helper()
	app, _ := a.emu.App(developer, appName)
	if k.Status.Location == nil || app.DeveloperID == "" || k.Status.Location.DeveloperID != app.DeveloperID {
		t.Errorf("%s: status.location.developerId is not the developer's ID: %+v", k.Name, k.Status.Location)
	}
}

// TestUpgradeFrom01 takes over three objects written by 0.1, one after the
// other on one organization:
//
//  1. converged, no previous keys: it converges with no write at all (no
//     import, no delete) and records status.location with the developer ID;
//  2. a previous key without location whose retireAfter has passed: exactly
//     that key is deleted, at the object's own app, nothing is imported,
//     and the current key stays;
//  3. status.organization is not its connection's organization (the
//     connection was edited under 0.1), and the connection's organization
//     holds the same consumer key with another secret: LocationChanged, no
//     write, the key there keeps its secret.
func TestUpgradeFrom01(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d)
		org := a.emu.Organization()
		// Apigee as 0.1 left it, all set before any object runs (so no app
		// snapshot predates a key).
		convergedAs01(t, a, "legacyKey", "legacySecret")
		a.preImport(t, appName, "retiredKey", "retiredSecret")
		convergedAs01(t, a, "rotatedKey", "rotatedSecret")
		a.preImport(t, appName, "driftedKey", "someoneElsesSecret")

		// 1. A converged 0.1 object.
		create(t, credentialsSecret(ns, "legacy-creds", "legacyKey", "legacySecret"))
		create01(t, ns, "legacy", "legacy-creds", status01(org, "legacyKey"))
		a.emu.ResetCalls()
		upgrade(t, ns, "legacy")
		k := waitLocated(t, ns, "legacy")
		assertLocation(t, k, a)
		assertDeveloperID(t, a, k)
		calls := a.emu.CallLog()
		if n := countOp(calls, emulator.OpCreateKey) + countOp(calls, emulator.OpDeleteKey); n != 0 {
			t.Errorf("the upgrade imported or deleted: %v", locWrites(calls))
		}
		if w := locWrites(calls); len(w) != 0 {
			t.Errorf("the upgrade of a converged object wrote: %v", w)
		}
		assertKeyIntact(t, a, "legacy", "legacyKey", "legacySecret")

		// 2. A 0.1 previous key (no location) past its retireAfter.
		create(t, credentialsSecret(ns, "rotated-creds", "rotatedKey", "rotatedSecret"))
		due := apigeev1alpha1.PreviousKey{Fingerprint: apigee.Fingerprint("retiredKey"),
			RetireAfter: metav1.NewTime(time.Now().Add(-time.Hour))}
		create01(t, ns, "rotated", "rotated-creds", status01(org, "rotatedKey", due))
		a.emu.ResetCalls()
		upgrade(t, ns, "rotated")
		eventually(t, "the due 0.1 previous key retired", func() (bool, string) {
			k = get(t, ns, "rotated")
			return k.Status.Location != nil && len(k.Status.PreviousKeys) == 0, "previousKeys " + itoa(len(k.Status.PreviousKeys))
		})
		k = waitLocated(t, ns, "rotated")
		assertLocation(t, k, a)
		if !hasDeleted(k, "retiredKey", apigeev1alpha1.DeletedKeyRotated) {
			t.Errorf("deletedKeys = %+v, want the retired key as Rotated", k.Status.DeletedKeys)
		}
		calls = a.emu.CallLog()
		if a.key(t, appName, "retiredKey") != nil {
			t.Errorf("the due previous key is still in Apigee")
		}
		deletes := locDeletesOf(calls, "retiredKey")
		if len(deletes) != 1 || !strings.Contains(deletes[0], "/apps/"+appName+"/keys/") {
			t.Errorf("DELETEs of the retired key = %v, want one on %s", deletes, appName)
		}
		if n := countOp(calls, emulator.OpDeleteKey); n != 1 {
			t.Errorf("%d DELETEs, want only the retired key's: %v", n, locWrites(calls))
		}
		if n := countOp(calls, emulator.OpCreateKey); n != 0 {
			t.Errorf("the upgrade imported %d keys", n)
		}
		assertKeyIntact(t, a, "rotated", "rotatedKey", "rotatedSecret")
		assertKeyIntact(t, a, "legacy", "legacyKey", "legacySecret")

		// 3. A 0.1 object recorded in another organization.
		create(t, credentialsSecret(ns, "drifted-creds", "driftedKey", "driftedSecret"))
		create01(t, ns, "drifted", "drifted-creds", status01("org-retired", "driftedKey"))
		a.emu.ResetCalls()
		upgrade(t, ns, "drifted")
		k = waitReason(t, ns, "drifted", apigeev1alpha1.ReasonLocationChanged)
		if msg := readyCondition(k).Message; !strings.Contains(msg, "org-retired") || !strings.Contains(msg, org) {
			t.Errorf("LocationChanged message %q should name both organizations", msg)
		}
		if k.Status.Location != nil || k.Status.Organization != "org-retired" {
			t.Errorf("the status moved to the connection's organization: %q %+v", k.Status.Organization, k.Status.Location)
		}
		time.Sleep(locWindow)
		if w := locWrites(a.emu.CallLog()); len(w) != 0 {
			t.Errorf("an object recorded elsewhere wrote to the connection's organization: %v", w)
		}
		if got := a.key(t, appName, "driftedKey"); got == nil || got.ConsumerSecret != "someoneElsesSecret" {
			t.Errorf("the key in the connection's organization was deleted or re-created")
		}
	})
}
