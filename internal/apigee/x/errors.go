package x

import (
	"errors"
	"strings"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// fail maps a generated-client error to an *apigee.Error (nil for nil).
// Only the status, message, details and Retry-After of a *googleapi.Error
// are used: its Body and Error() text may echo the request.
func fail(op string, err error, r apigee.Redactor) error {
	if err == nil {
		return nil
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return apigee.ErrorFromTransport(op, err, r)
	}
	return apigee.ErrorFromFailure(op, apigee.Failure{
		StatusCode: ge.Code,
		Code:       detailCode(ge),
		Message:    ge.Message,
		RetryAfter: apigee.ParseRetryAfter(ge.Header, time.Now()),
	}, r)
}

// detailCode finds an Apigee error code such as
// keymanagement.service.ConsumerKeyAlreadyExists in the error's details
// (PreconditionFailure violation types, ErrorInfo reasons) or items.
func detailCode(ge *googleapi.Error) string {
	for _, d := range ge.Details {
		if c := findCode(d); c != "" {
			return c
		}
	}
	for _, item := range ge.Errors {
		if isCode(item.Reason) {
			return item.Reason
		}
	}
	return ""
}

func findCode(v any) string {
	switch t := v.(type) {
	case map[string]any:
		for _, k := range []string{"type", "reason"} {
			if s, ok := t[k].(string); ok && isCode(s) {
				return s
			}
		}
		for _, child := range t {
			if c := findCode(child); c != "" {
				return c
			}
		}
	case []any:
		for _, child := range t {
			if c := findCode(child); c != "" {
				return c
			}
		}
	}
	return ""
}

func isCode(s string) bool { return strings.Contains(s, ".service.") }
