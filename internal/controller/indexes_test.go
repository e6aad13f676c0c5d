package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
)

// TestConnectionEventsThatRequeueKeys: a connection's keys are requeued
// when its spec, deletion or Ready status or reason changes, not when the
// probe only rewrites the condition's message (an unreachable
// organization's next trial).
func TestConnectionEventsThatRequeueKeys(t *testing.T) {
	ready := func(status metav1.ConditionStatus, reason, message string) []metav1.Condition {
		return []metav1.Condition{{Type: apigeev1alpha1.ConditionReady, Status: status, Reason: reason, Message: message}}
	}
	namespaced := func(gen int64, conds []metav1.Condition) client.Object {
		c := &apigeev1alpha1.ApigeeConnection{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns", Generation: gen}}
		c.Status.Conditions = conds
		return c
	}
	cluster := func(gen int64, conds []metav1.Condition) client.Object {
		c := &apigeev1alpha1.ClusterApigeeConnection{ObjectMeta: metav1.ObjectMeta{Name: "c", Generation: gen}}
		c.Status.Conditions = conds
		return c
	}
	unreachable := ready(metav1.ConditionFalse, apigeev1alpha1.ReasonUnreachable, "next trial at 12:00:05")
	for kind, mk := range map[string]func(int64, []metav1.Condition) client.Object{"ApigeeConnection": namespaced, "ClusterApigeeConnection": cluster} {
		deleting := mk(2, unreachable)
		deleting.SetDeletionTimestamp(&metav1.Time{Time: time.Unix(1, 0)})
		for _, c := range []struct {
			what     string
			old, new client.Object
			want     bool
		}{
			{"the next trial's time in the message", mk(1, unreachable), mk(1, ready(metav1.ConditionFalse, apigeev1alpha1.ReasonUnreachable, "next trial at 12:00:15")), false},
			{"nothing", mk(1, ready(metav1.ConditionTrue, apigeev1alpha1.ReasonAuthenticated, "ok")), mk(1, ready(metav1.ConditionTrue, apigeev1alpha1.ReasonAuthenticated, "ok")), false},
			{"Ready again", mk(1, unreachable), mk(1, ready(metav1.ConditionTrue, apigeev1alpha1.ReasonAuthenticated, "ok")), true},
			{"no longer Ready", mk(1, ready(metav1.ConditionTrue, apigeev1alpha1.ReasonAuthenticated, "ok")), mk(1, unreachable), true},
			{"another reason", mk(1, unreachable), mk(1, ready(metav1.ConditionFalse, apigeev1alpha1.ReasonUnauthorized, "401")), true},
			{"first probed", mk(1, nil), mk(1, unreachable), true},
			{"a new spec", mk(1, unreachable), mk(2, unreachable), true},
			{"deletion", mk(2, unreachable), deleting, true},
		} {
			if got := connectionChangedForKeys().Update(event.UpdateEvent{ObjectOld: c.old, ObjectNew: c.new}); got != c.want {
				t.Errorf("%s, %s: requeue its keys %t; want %t", kind, c.what, got, c.want)
			}
		}
		if !connectionChangedForKeys().Create(event.CreateEvent{Object: mk(1, nil)}) || !connectionChangedForKeys().Delete(event.DeleteEvent{Object: mk(1, nil)}) {
			t.Errorf("%s created or deleted: its keys must be requeued", kind)
		}
	}
}
