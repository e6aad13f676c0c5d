package apigee

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Class is what a caller needs to know about a failure to decide what to do.
type Class string

const (
	// ClassNotFound: Resource says what is missing (developer, app, key, product).
	ClassNotFound Class = "NotFound"
	// ClassConflict: the consumer key already exists in the organization.
	ClassConflict Class = "Conflict"
	// ClassInvalid: the request is wrong and retrying will not help.
	ClassInvalid Class = "InvalidArgument"
	// ClassUnauthorized: credentials missing, wrong or expired (401).
	ClassUnauthorized Class = "Unauthorized"
	// ClassForbidden: the credentials lack permission (403).
	ClassForbidden Class = "Forbidden"
	// ClassRateLimited: the organization's quota is used up (429).
	ClassRateLimited Class = "RateLimited"
	// ClassUnavailable: 5xx, timeouts, connection errors; retry later.
	ClassUnavailable Class = "Unavailable"
)

// Resource names the thing an error is about.
type Resource string

const (
	ResourceOrganization Resource = "organization"
	ResourceDeveloper    Resource = "developer"
	ResourceApp          Resource = "app"
	ResourceKey          Resource = "key"
	ResourceProduct      Resource = "product"
)

// Error is the only error type the clients return. Message never contains a
// consumer key or secret; implementations redact server messages.
type Error struct {
	Class      Class
	Resource   Resource // set for ClassNotFound when known; product for ReasonProductNotAssociated
	Operation  string   // e.g. "ImportKey"
	StatusCode int      // HTTP status, 0 for transport failures
	Message    string
	// RetryAfter is the server's requested wait for ClassRateLimited, or 0.
	RetryAfter time.Duration
	// Reason is a finer, dialect-independent cause when one is known (see
	// the Reason constants), or "".
	Reason string
}

// ReasonConnectionRateLimit: the connection's own rateLimit (a tenant's
// setting) allows its next call only after RetryAfter. The caller comes
// back then instead of waiting: a worker never waits on a tenant's limit.
const ReasonConnectionRateLimit = "ConnectionRateLimit"

// ReasonProductNotAssociated: RemoveProduct named a product that is not on
// the key (X answers 400, Edge 500; both are ClassInvalid here).
const ReasonProductNotAssociated = "ProductNotAssociated"

func (e *Error) Error() string {
	what := string(e.Class)
	if e.Resource != "" {
		what = fmt.Sprintf("%s %s", e.Resource, e.Class)
	}
	if e.StatusCode != 0 {
		return fmt.Sprintf("apigee %s: %s (HTTP %d): %s", e.Operation, what, e.StatusCode, e.Message)
	}
	return fmt.Sprintf("apigee %s: %s: %s", e.Operation, what, e.Message)
}

// ClassOf returns the class of err, or "" when err is not an *Error.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ""
}

// IsNotFound reports whether err says the given resource does not exist.
func IsNotFound(err error, r Resource) bool {
	var e *Error
	return errors.As(err, &e) && e.Class == ClassNotFound && e.Resource == r
}

// ReasonInvalidScopes: a scope is not defined by any product of the key
// (Edge 400 keymanagement.service.InvalidScopes; X 400).
const ReasonInvalidScopes = "InvalidScopes"

// ReasonCredentialLimit: the app holds as many keys as Apigee allows (Edge:
// 100 per app); nothing can be imported until keys are deleted.
const ReasonCredentialLimit = "CredentialLimit"

// NameScopes adds the requested scopes to a request error of SetScopes:
// X's message lists the scopes the products define, not the refused ones.
func NameScopes(err error, scopes []string) error {
	var e *Error
	if !errors.As(err, &e) || e.Class != ClassInvalid || len(scopes) == 0 {
		return err
	}
	c := *e
	c.Message = fmt.Sprintf("%s (requested scopes: %s)", c.Message, strings.Join(scopes, ", "))
	return &c
}

// IsProductNotAssociated reports whether err says the product was not on the key.
func IsProductNotAssociated(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Reason == ReasonProductNotAssociated
}

// Retryable reports whether retrying later may succeed.
func Retryable(err error) bool {
	switch ClassOf(err) {
	case ClassRateLimited, ClassUnavailable:
		return true
	}
	return false
}
