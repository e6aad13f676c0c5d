package controller

import (
	"strings"
	"testing"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// TestClassifyFidelityForms (issue 11): the X and Edge forms of the same
// failure lead to the same condition and the same (terminal) decision.
func TestClassifyFidelityForms(t *testing.T) {
	fail := func(op string, f apigee.Failure) error { return apigee.ErrorFromFailure(op, f, apigee.Redactor{}) }
	cases := map[string]struct {
		forms      []error
		reason     string
		mentioning string
	}{
		"UndefinedScope": {
			forms: []error{
				fail(apigee.OpSetScopes, apigee.Failure{StatusCode: 400, Code: "keymanagement.service.InvalidScopes", Message: "Invalid scopes [x]"}),
				fail(apigee.OpSetScopes, apigee.Failure{StatusCode: 400, Message: "Invalid scopes [x]"}),
			},
			reason: apigeev1alpha1.ReasonInvalidRequest, mentioning: "spec.scopes",
		},
		"CredentialLimit": {
			forms: []error{
				fail(apigee.OpImportKey, apigee.Failure{StatusCode: 400, Code: "keymanagement.service.CredentialLimitExceeded", Message: "too many"}),
				fail(apigee.OpImportKey, apigee.Failure{StatusCode: 500, Message: "The app already has the maximum number of credentials (100)"}),
			},
			reason: apigeev1alpha1.ReasonInvalidRequest, mentioning: "as many keys as Apigee allows",
		},
		"AppNotFoundWithAndWithoutDetails": {
			forms: []error{
				fail(apigee.OpGetApp, apigee.Failure{StatusCode: 404, Code: "developer.service.AppDoesNotExist", Message: "App named a does not exist under d"}),
				fail(apigee.OpGetApp, apigee.Failure{StatusCode: 404, Message: "App named a does not exist under d"}),
			},
			reason: apigeev1alpha1.ReasonAppNotFound,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for i, err := range tc.forms {
				got := classify(err)
				if got.reason != tc.reason || got.retry || !strings.Contains(got.message, tc.mentioning) {
					t.Errorf("form %d: reason %s retry %v message %q", i, got.reason, got.retry, got.message)
				}
			}
		})
	}
}
