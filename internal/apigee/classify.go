package apigee

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Failure is what a dialect read from an HTTP error response.
type Failure struct {
	StatusCode int
	// Code is the machine-readable cause: Edge's "code"
	// (e.g. keymanagement.service.ConsumerKeyAlreadyExists) or the same
	// string from an X error's details, or "".
	Code       string
	Message    string
	RetryAfter time.Duration
}

// Known error codes, shared by Edge bodies and X error details. Codes not
// in docs/apigee-api.md are the emulator's plausible guesses; the message
// and status rules below cover them when the real ones differ.
var codeClasses = map[string]struct {
	class    Class
	resource Resource
	reason   string
}{
	"keymanagement.service.ConsumerKeyAlreadyExists":               {ClassConflict, "", ""},
	"keymanagement.service.InvalidClientIdForGivenApp":             {ClassNotFound, ResourceKey, ""},
	"developer.service.AppDoesNotExist":                            {ClassNotFound, ResourceApp, ""},
	"developer.service.DeveloperIdDoesNotExist":                    {ClassNotFound, ResourceDeveloper, ""},
	"developer.service.DeveloperDoesNotExist":                      {ClassNotFound, ResourceDeveloper, ""},
	"keymanagement.service.apiproduct_doesnot_exist":               {ClassNotFound, ResourceProduct, ""},
	"keymanagement.service.ApiProductNotAssociatedWithConsumerKey": {ClassInvalid, ResourceProduct, ReasonProductNotAssociated},
	"organizations.OrganizationDoesNotExist":                       {ClassNotFound, ResourceOrganization, ""},
	"keymanagement.service.InvalidScopes":                          {ClassInvalid, "", ReasonInvalidScopes},
	"keymanagement.service.CredentialLimitExceeded":                {ClassInvalid, "", ReasonCredentialLimit},
}

// ErrorFromFailure classifies an HTTP error response: by code first, then
// by message for the cases both dialects describe only in words, then by
// status. The message is redacted.
func ErrorFromFailure(op string, f Failure, r Redactor) *Error {
	e := &Error{Operation: op, StatusCode: f.StatusCode, Message: r.Redact(f.Message)}
	if e.Message == "" {
		e.Message = http.StatusText(f.StatusCode)
	}
	e.Class, e.Resource, e.Reason = classify(f.StatusCode, f.Code, f.Message)
	if e.Class == ClassRateLimited {
		e.RetryAfter = f.RetryAfter
	}
	return e
}

func classify(status int, code, msg string) (Class, Resource, string) {
	if c, ok := codeClasses[code]; ok {
		return c.class, c.resource, c.reason
	}
	lower := strings.ToLower(msg)
	// X answers 400 and Edge 500 when the product is not on the key: a
	// request error either way, never "retry later".
	if strings.Contains(lower, "not associated") {
		return ClassInvalid, ResourceProduct, ReasonProductNotAssociated
	}
	// The credential limit's status and wording are not on record: any
	// answer that says so is final, not "retry later", even a 5xx.
	if status >= 400 && strings.Contains(lower, "credential") && (strings.Contains(lower, "maximum") || strings.Contains(lower, "limit")) {
		return ClassInvalid, "", ReasonCredentialLimit
	}
	switch {
	case status == http.StatusUnauthorized:
		return ClassUnauthorized, "", ""
	case status == http.StatusForbidden:
		return ClassForbidden, "", ""
	case status == http.StatusTooManyRequests:
		return ClassRateLimited, "", ""
	case status == http.StatusConflict:
		return ClassConflict, "", ""
	case status == http.StatusNotFound:
		return ClassNotFound, resourceFromMessage(lower), ""
	case status == http.StatusBadRequest && strings.Contains(lower, "does not exist"):
		// X and Edge name an unknown product with a 400.
		return ClassNotFound, resourceFromMessage(lower), ""
	case status == http.StatusRequestTimeout || status >= 500:
		return ClassUnavailable, "", ""
	}
	return ClassInvalid, "", ""
}

// resourcePatterns recognise what a "does not exist" message is about.
var resourcePatterns = []struct {
	pattern  string
	resource Resource
}{
	{"consumer key", ResourceKey},
	{"consumerkey", ResourceKey},
	{"app named", ResourceApp},
	{"developerapp", ResourceApp},
	{"developer", ResourceDeveloper},
	{"api product", ResourceProduct},
	{"apiproduct", ResourceProduct},
	{"organization", ResourceOrganization},
}

// resourceFromMessage picks the pattern found earliest in the message:
// messages name their subject first ("API Product [developer-api] does not
// exist" is about a product, whatever the product is called).
func resourceFromMessage(lower string) Resource {
	best, at := Resource(""), len(lower)+1
	for _, p := range resourcePatterns {
		if i := strings.Index(lower, p.pattern); i >= 0 && i < at {
			best, at = p.resource, i
		}
	}
	return best
}

// ErrorFromTransport turns a failure to get a response (connection error,
// timeout, cancelled context, undecodable body, failed token fetch) into an
// *Error. A *url.Error's text holds the request URL, which holds the
// consumer key, so only its inner error is used, redacted.
func ErrorFromTransport(op string, err error, r Redactor) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		c := *ae
		c.Operation = op
		c.Message = r.Redact(c.Message)
		return &c
	}
	err = unwrapURLError(err)
	e := &Error{Class: ClassUnavailable, Operation: op, Message: "request failed: " + r.Redact(err.Error())}
	switch {
	case isTimeout(err):
		e.Reason, e.Message = ReasonTimeout, "request timed out: "+r.Redact(err.Error())
	case errors.Is(err, context.Canceled):
		e.Message = "request was cancelled: " + r.Redact(err.Error())
	}
	return e
}

// ReasonTimeout: the request got no answer in time. It is not retried in
// the same reconcile: the attempt already cost the whole timeout.
const ReasonTimeout = "Timeout"

// isTimeout reports whether err is a deadline that passed or a network
// timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// unwrapURLError strips every *url.Error layer, keeping none of their text.
func unwrapURLError(err error) error {
	for {
		var ue *url.Error
		if !errors.As(err, &ue) {
			return err
		}
		if ue.Err == nil {
			return errors.New(ue.Op + " request failed")
		}
		err = ue.Err
	}
}

// ParseRetryAfter reads a Retry-After header (seconds or an HTTP date).
func ParseRetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(s)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}
