package controller

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// kstatusOf is the verdict of the kstatus library itself, as Flux and
// Config Sync compute it, for an object.
func kstatusOf(t *testing.T, obj runtime.Object) status.Status {
	t.Helper()
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	res, err := status.Compute(&unstructured.Unstructured{Object: raw})
	if err != nil {
		t.Fatal(err)
	}
	return res.Status
}

// TestKstatusVerdicts (issue 24, 1): every way a key's reconcile ends, put
// in status by setConditions, gets kstatus's intended verdict: Current
// when Ready, Failed for what waits on a person, InProgress for work
// under way or waiting.
func TestKstatusVerdicts(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ready := func(k *apigeev1alpha1.DeveloperAppKey) {
		setConditions(k, &keyRun{}, nil, now, time.Hour)
	}
	past := metav1.NewTime(now.Add(-time.Minute))
	cases := []struct {
		reason string
		before func(*apigeev1alpha1.DeveloperAppKey) // earlier runs
		run    *keyRun
		fail   *conditionError
		expire bool
		want   status.Status
	}{
		{reason: "Converged", run: &keyRun{}, want: status.CurrentStatus},
		{reason: "WaitingForPeers", run: &keyRun{heldGenerated: true}, want: status.CurrentStatus},
		{reason: "a Ready key during a transient failure", before: ready, fail: &conditionError{reason: apigeev1alpha1.ReasonUnreachable, retry: true}, want: status.CurrentStatus},
		{reason: "a Ready key whose organization is held", before: ready, fail: &conditionError{reason: apigeev1alpha1.ReasonConnectionNotReady, wait: true}, want: status.CurrentStatus},
		{reason: "a spec edit held back by a transient failure", before: func(k *apigeev1alpha1.DeveloperAppKey) {
			k.Generation = 1
			ready(k)
			k.Generation = 2
		}, fail: &conditionError{reason: apigeev1alpha1.ReasonConnectionNotReady, wait: true}, want: status.InProgressStatus},
		{reason: "Drifted", run: &keyRun{drift: []string{"import the key"}}, want: status.FailedStatus},
		{reason: "ApprovalNotGranted", run: &keyRun{withheld: []string{"product p"}}, want: status.FailedStatus},
		{reason: "AppRevoked", run: &keyRun{app: &apigee.App{Status: apigee.StatusRevoked}}, want: status.FailedStatus},
		{reason: "KeyExpired", run: &keyRun{}, expire: true, want: status.FailedStatus},
		{reason: "RateLimited, a new key", fail: &conditionError{reason: apigeev1alpha1.ReasonRateLimited, wait: true}, want: status.InProgressStatus},
		{reason: "Unreachable, a new key", fail: &conditionError{reason: apigeev1alpha1.ReasonUnreachable, retry: true}, want: status.InProgressStatus},
		{reason: "ConnectionNotReady (Unreachable), a new key", fail: &conditionError{reason: apigeev1alpha1.ReasonConnectionNotReady, wait: true}, want: status.InProgressStatus},
		{reason: "Deleting, retried", fail: &conditionError{reason: apigeev1alpha1.ReasonDeleting, retry: true}, want: status.InProgressStatus},
	}
	for _, reason := range []string{
		apigeev1alpha1.ReasonKeyConflict, apigeev1alpha1.ReasonSecretNotFound, apigeev1alpha1.ReasonInvalidCredentials,
		apigeev1alpha1.ReasonDeveloperNotFound, apigeev1alpha1.ReasonAppNotFound, apigeev1alpha1.ReasonProductNotFound,
		apigeev1alpha1.ReasonInvalidRequest, apigeev1alpha1.ReasonLocationChanged, apigeev1alpha1.ReasonAdoptedKeyProtected,
		apigeev1alpha1.ReasonExpiryNotSupported, apigeev1alpha1.ReasonConnectionNotFound, apigeev1alpha1.ReasonConnectionNotAllowed,
		apigeev1alpha1.ReasonConnectionNotReady, apigeev1alpha1.ReasonUnauthorized, apigeev1alpha1.ReasonForbidden,
		apigeev1alpha1.ReasonInvalidSpec, apigeev1alpha1.ReasonDeleting,
	} {
		cases = append(cases, struct {
			reason string
			before func(*apigeev1alpha1.DeveloperAppKey)
			run    *keyRun
			fail   *conditionError
			expire bool
			want   status.Status
		}{reason: reason + " (terminal)", fail: &conditionError{reason: reason, message: "m"}, want: status.FailedStatus})
	}
	for _, c := range cases {
		k := &apigeev1alpha1.DeveloperAppKey{TypeMeta: metav1.TypeMeta{APIVersion: apigeev1alpha1.GroupVersion.String(), Kind: "DeveloperAppKey"}}
		k.Generation = 2
		if c.before != nil {
			c.before(k)
			k.Generation = 2
		}
		if c.expire {
			k.Status.ExpiresAt = &past
		}
		setConditions(k, c.run, c.fail, now, time.Hour)
		if got := kstatusOf(t, k); got != c.want {
			t.Errorf("%s: kstatus says %s, want %s (conditions %+v)", c.reason, got, c.want, k.Status.Conditions)
		}
	}
}

// TestKstatusNeedsNoRewrite: a Ready key keeps exactly the conditions an
// earlier release wrote (no Stalled or Reconciling False added), so an
// upgrade writes no status; a key that leaves Ready gets one, and loses
// it when Ready again.
func TestKstatusNeedsNoRewrite(t *testing.T) {
	now := time.Now()
	k := &apigeev1alpha1.DeveloperAppKey{}
	setConditions(k, &keyRun{}, nil, now, time.Hour)
	if n := len(k.Status.Conditions); n != 2 {
		t.Fatalf("a Ready key has %d conditions, want Ready and Synced only: %+v", n, k.Status.Conditions)
	}
	setConditions(k, nil, &conditionError{reason: apigeev1alpha1.ReasonKeyConflict, message: "m"}, now, time.Hour)
	setConditions(k, nil, &conditionError{reason: apigeev1alpha1.ReasonKeyConflict, message: "m"}, now.Add(time.Minute), time.Hour)
	stalled := meta.FindStatusCondition(k.Status.Conditions, apigeev1alpha1.ConditionStalled)
	if stalled == nil || stalled.Status != metav1.ConditionTrue || stalled.Reason != apigeev1alpha1.ReasonKeyConflict ||
		meta.FindStatusCondition(k.Status.Conditions, apigeev1alpha1.ConditionReconciling) != nil {
		t.Fatalf("a conflict should be Stalled (and not Reconciling): %+v", k.Status.Conditions)
	}
	before := k.Status.DeepCopy()
	setConditions(k, nil, &conditionError{reason: apigeev1alpha1.ReasonKeyConflict, message: "m"}, now.Add(2*time.Minute), time.Hour)
	if !equality.Semantic.DeepEqual(before, &k.Status) {
		t.Error("the same stall changed the status (a status write every reconcile)")
	}
	setConditions(k, &keyRun{}, nil, now, time.Hour)
	if n := len(k.Status.Conditions); n != 2 {
		t.Errorf("Ready again, the key keeps %d conditions: %+v", n, k.Status.Conditions)
	}
}
