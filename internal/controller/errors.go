package controller

import (
	"errors"
	"time"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// conditionError is a failure reported in the Ready condition. Terminal ones
// wait for a change (or the resync) instead of retrying with backoff.
type conditionError struct {
	reason, message string
	retry           bool
	// after, for a retry, is when to come back instead of backing off: the
	// connection's own rate limit said so.
	after time.Duration
	// wait: the organization cannot take the key now (no budget, not
	// answering); nothing failed. The key waits for its turn (orgGates)
	// instead of retrying, and a Ready key stays Ready.
	wait bool
}

func (e *conditionError) Error() string { return e.reason + ": " + e.message }

func terminal(reason, message string) error {
	return &conditionError{reason: reason, message: message}
}

// classify turns any error of a reconcile into a conditionError.
func classify(err error) *conditionError {
	var ce *conditionError
	if errors.As(err, &ce) {
		return ce
	}
	if reason, ok := notFoundReason(err); ok {
		return &conditionError{reason: reason, message: err.Error()}
	}
	if msg, ok := requestAdvice(err); ok {
		return &conditionError{reason: apigeev1alpha1.ReasonInvalidRequest, message: msg}
	}
	switch apigee.ClassOf(err) {
	case apigee.ClassInvalid:
		return &conditionError{reason: apigeev1alpha1.ReasonInvalidRequest, message: err.Error()}
	case apigee.ClassUnauthorized:
		return &conditionError{reason: apigeev1alpha1.ReasonUnauthorized, message: err.Error()}
	case apigee.ClassForbidden:
		return &conditionError{reason: apigeev1alpha1.ReasonForbidden, message: err.Error()}
	case apigee.ClassRateLimited:
		if d := ownLimitDelay(err); d > 0 {
			return &conditionError{reason: apigeev1alpha1.ReasonRateLimited, message: err.Error(), retry: true, after: d}
		}
		return &conditionError{reason: apigeev1alpha1.ReasonRateLimited, wait: true, message: "waiting for the organization's call budget " +
			"(its rate limit, or Apigee's answer 429); keys of other organizations are not held up"}
	case apigee.ClassUnavailable:
		if hasReason(err, apigee.ReasonOrganizationUnreachable) {
			return &conditionError{reason: apigeev1alpha1.ReasonUnreachable, message: err.Error(), wait: true}
		}
		return &conditionError{reason: apigeev1alpha1.ReasonUnreachable, message: err.Error(), retry: true}
	}
	// Kubernetes API errors and anything unexpected: retry with backoff.
	return &conditionError{reason: apigeev1alpha1.ReasonReconcileFailed, message: err.Error(), retry: true}
}

func hasReason(err error, reason string) bool {
	var e *apigee.Error
	return errors.As(err, &e) && e.Reason == reason
}

// ownLimitDelay is how long the connection's own rateLimit asked to wait,
// or 0 for any other rate limit.
func ownLimitDelay(err error) time.Duration {
	var e *apigee.Error
	if errors.As(err, &e) && e.Reason == apigee.ReasonConnectionRateLimit {
		return e.RetryAfter
	}
	return 0
}

// notFoundReason maps "developer/app/product does not exist" to a reason. A
// key that vanished mid-reconcile is not terminal: the next pass re-imports.
func notFoundReason(err error) (string, bool) {
	switch {
	case apigee.IsNotFound(err, apigee.ResourceDeveloper):
		return apigeev1alpha1.ReasonDeveloperNotFound, true
	case apigee.IsNotFound(err, apigee.ResourceApp):
		return apigeev1alpha1.ReasonAppNotFound, true
	case apigee.IsNotFound(err, apigee.ResourceProduct):
		return apigeev1alpha1.ReasonProductNotFound, true
	}
	return "", false
}

// requestAdvice says what to fix for the request errors whose cause is
// known: both are final, whatever status the service used.
func requestAdvice(err error) (string, bool) {
	var e *apigee.Error
	if !errors.As(err, &e) {
		return "", false
	}
	// Whatever the body says (a proxy may drop X's details), a request
	// error of SetScopes is about the scopes.
	reason := e.Reason
	if e.Class == apigee.ClassInvalid && e.Operation == apigee.OpSetScopes {
		reason = apigee.ReasonInvalidScopes
	}
	switch reason {
	case apigee.ReasonInvalidScopes:
		return "spec.scopes names a scope that no API product of the key defines; define it on a product " +
			"or remove it from spec.scopes: " + err.Error(), true
	case apigee.ReasonCredentialLimit:
		return "the app holds as many keys as Apigee allows (Edge: 100 per app); delete keys the app no longer " +
			"needs, then change this object to retry: " + err.Error(), true
	}
	return "", false
}
