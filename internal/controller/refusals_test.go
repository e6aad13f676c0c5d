package controller

import (
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

func TestRefusalRepeatsOnlyOnTheSameInputs(t *testing.T) {
	f := newRefusals()
	key := types.NamespacedName{Namespace: "a", Name: "k"}
	now := time.Unix(1000, 0)
	refused := &apigee.Error{Class: apigee.ClassInvalid, StatusCode: 400}
	f.remember(key, "in-1", refused, now.Add(time.Minute))

	if err := f.repeat(key, "in-1", now); !errors.Is(err, refused) {
		t.Errorf("the same inputs before the resync should get the remembered refusal, got %v", err)
	}
	if err := f.repeat(key, "in-2", now); err != nil {
		t.Errorf("changed inputs must be tried again, got %v", err)
	}
	if err := f.repeat(key, "in-1", now.Add(time.Minute)); err != nil {
		t.Errorf("at the resync slot the key must be tried again, got %v", err)
	}
	if err := f.repeat(types.NamespacedName{Namespace: "b", Name: "k"}, "in-1", now); err != nil {
		t.Errorf("another key's refusal was repeated: %v", err)
	}
}

func TestRefusalRemembersOnlyApigeeTerminalAnswers(t *testing.T) {
	key := types.NamespacedName{Namespace: "a", Name: "k"}
	now := time.Unix(1000, 0)
	for name, err := range map[string]error{
		"a transient failure":            &apigee.Error{Class: apigee.ClassUnavailable, StatusCode: 503},
		"a failure found in the cluster": terminal("KeyConflict", "in use"),
		"success":                        nil,
	} {
		f := newRefusals()
		f.remember(key, "in", &apigee.Error{Class: apigee.ClassInvalid, StatusCode: 400}, now.Add(time.Minute))
		f.remember(key, "in", err, now.Add(time.Minute))
		if got := f.repeat(key, "in", now); got != nil {
			t.Errorf("%s must clear the memory and be tried again, got %v", name, got)
		}
	}
}
