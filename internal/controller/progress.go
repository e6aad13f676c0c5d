package controller

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
)

// setProgress sets the two conditions kstatus reads (Flux, Config Sync,
// kpt and cli-utils judge custom resources by them): an object that is
// not Ready is Stalled when it waits on a person, Reconciling when work is
// under way or it waits for a turn, a connection or a transient failure.
// Both are "abnormal-true": present only while True, so a Ready object's
// status is the one earlier releases wrote and an upgrade rewrites none.
func setProgress(conds *[]metav1.Condition, ready metav1.Condition, transient bool, generation int64) {
	if ready.Status == metav1.ConditionTrue {
		meta.RemoveStatusCondition(conds, apigeev1alpha1.ConditionStalled)
		meta.RemoveStatusCondition(conds, apigeev1alpha1.ConditionReconciling)
		return
	}
	set, other := apigeev1alpha1.ConditionStalled, apigeev1alpha1.ConditionReconciling
	if transient {
		set, other = other, set
	}
	meta.RemoveStatusCondition(conds, other)
	meta.SetStatusCondition(conds, metav1.Condition{Type: set, Status: metav1.ConditionTrue,
		Reason: ready.Reason, Message: ready.Message, ObservedGeneration: generation})
}
