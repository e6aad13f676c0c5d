package apigee

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestErrorFromFailure(t *testing.T) {
	red := Redactor{ConsumerKey: "KEY123", ConsumerSecret: "SECRET456"}
	cases := map[string]struct {
		reason string
		in     Failure
		want   *Error
	}{
		"DuplicateKeyByCode": {
			reason: "Edge's code decides before the status.",
			in:     Failure{StatusCode: 409, Code: "keymanagement.service.ConsumerKeyAlreadyExists", Message: "ConsumerKey already exists"},
			want:   &Error{Class: ClassConflict, Operation: "op", StatusCode: 409, Message: "ConsumerKey already exists"},
		},
		"InvalidScopesByCode": {
			reason: "Edge's 400 for a scope no product of the key defines: final, with its reason.",
			in:     Failure{StatusCode: 400, Code: "keymanagement.service.InvalidScopes", Message: "Invalid scopes [x]"},
			want:   &Error{Class: ClassInvalid, Reason: ReasonInvalidScopes, Operation: "op", StatusCode: 400, Message: "Invalid scopes [x]"},
		},
		"CredentialLimitAs500": {
			reason: "The limit's status is not on record: even a 5xx that says so is final.",
			in:     Failure{StatusCode: 500, Message: "The app already has the maximum number of credentials (100)"},
			want:   &Error{Class: ClassInvalid, Reason: ReasonCredentialLimit, Operation: "op", StatusCode: 500, Message: "The app already has the maximum number of credentials (100)"},
		},
		"XUnknownOrganization": {
			reason: "X answers 403 for an organization that does not exist or cannot be seen.",
			in:     Failure{StatusCode: 403, Message: `Permission denied on resource "organizations/o" (or it may not exist).`},
			want:   &Error{Class: ClassForbidden, Operation: "op", StatusCode: 403, Message: `Permission denied on resource "organizations/o" (or it may not exist).`},
		},
		"KeyNotInAppByMessage": {
			reason: "X gives only words for a key that is not on the app.",
			in:     Failure{StatusCode: 404, Message: "Invalid consumer key for Given App"},
			want:   &Error{Class: ClassNotFound, Resource: ResourceKey, Operation: "op", StatusCode: 404, Message: "Invalid consumer key for Given App"},
		},
		"KeyNotInAppByCode": {
			reason: "Edge's code for a key not on the app.",
			in:     Failure{StatusCode: 404, Code: "keymanagement.service.InvalidClientIdForGivenApp", Message: "Invalid consumer key for Given App"},
			want:   &Error{Class: ClassNotFound, Resource: ResourceKey, Operation: "op", StatusCode: 404, Message: "Invalid consumer key for Given App"},
		},
		"AppNotFound": {
			reason: "The app message names the developer too; the app comes first.",
			in:     Failure{StatusCode: 404, Message: "App named orders does not exist under developer@example.com"},
			want:   &Error{Class: ClassNotFound, Resource: ResourceApp, Operation: "op", StatusCode: 404, Message: "App named orders does not exist under developer@example.com"},
		},
		"DeveloperNotFound": {
			reason: "The developer message names the organization after the developer.",
			in:     Failure{StatusCode: 404, Message: "DeveloperId d@x does not exist in organization acme"},
			want:   &Error{Class: ClassNotFound, Resource: ResourceDeveloper, Operation: "op", StatusCode: 404, Message: "DeveloperId d@x does not exist in organization acme"},
		},
		"UnknownProductIs400": {
			reason: "Both dialects answer 400 for an unknown product: it is NotFound product.",
			in:     Failure{StatusCode: 400, Message: "API Product [developer-api] does not exist"},
			want:   &Error{Class: ClassNotFound, Resource: ResourceProduct, Operation: "op", StatusCode: 400, Message: "API Product [developer-api] does not exist"},
		},
		"NotAssociatedX": {
			reason: "X answers 400 when the product is not on the key.",
			in:     Failure{StatusCode: 400, Message: "APIProduct is not associated with consumer key"},
			want: &Error{Class: ClassInvalid, Resource: ResourceProduct, Reason: ReasonProductNotAssociated, Operation: "op", StatusCode: 400,
				Message: "APIProduct is not associated with consumer key"},
		},
		"NotAssociatedEdge500": {
			reason: "Edge's 500 for the same case is not Unavailable.",
			in:     Failure{StatusCode: 500, Message: "APIProduct is not associated with consumer key"},
			want: &Error{Class: ClassInvalid, Resource: ResourceProduct, Reason: ReasonProductNotAssociated, Operation: "op", StatusCode: 500,
				Message: "APIProduct is not associated with consumer key"},
		},
		"RateLimitedKeepsRetryAfter": {
			reason: "429 carries the server's wait.",
			in:     Failure{StatusCode: 429, Message: "Quota exceeded", RetryAfter: 3 * time.Second},
			want:   &Error{Class: ClassRateLimited, Operation: "op", StatusCode: 429, Message: "Quota exceeded", RetryAfter: 3 * time.Second},
		},
		"RetryAfterOnlyForRateLimited": {
			reason: "RetryAfter is documented for ClassRateLimited only.",
			in:     Failure{StatusCode: 503, RetryAfter: 3 * time.Second},
			want:   &Error{Class: ClassUnavailable, Operation: "op", StatusCode: 503, Message: "Service Unavailable"},
		},
		"Unauthorized": {
			reason: "401 whatever the body.",
			in:     Failure{StatusCode: 401, Message: "Request had invalid authentication credentials"},
			want:   &Error{Class: ClassUnauthorized, Operation: "op", StatusCode: 401, Message: "Request had invalid authentication credentials"},
		},
		"Forbidden": {
			reason: "403.",
			in:     Failure{StatusCode: 403, Message: "Permission denied"},
			want:   &Error{Class: ClassForbidden, Operation: "op", StatusCode: 403, Message: "Permission denied"},
		},
		"ConflictByStatus": {
			reason: "A 409 without a known code is still a conflict.",
			in:     Failure{StatusCode: 409},
			want:   &Error{Class: ClassConflict, Operation: "op", StatusCode: 409, Message: "Conflict"},
		},
		"Invalid400": {
			reason: "Other 400s cannot be fixed by retrying.",
			in:     Failure{StatusCode: 400, Message: "Invalid characters"},
			want:   &Error{Class: ClassInvalid, Operation: "op", StatusCode: 400, Message: "Invalid characters"},
		},
		"BadGateway": {
			reason: "5xx is Unavailable.",
			in:     Failure{StatusCode: 502},
			want:   &Error{Class: ClassUnavailable, Operation: "op", StatusCode: 502, Message: "Bad Gateway"},
		},
		"MessageRedacted": {
			reason: "A server echoing the key or secret must not put them in the error.",
			in:     Failure{StatusCode: 400, Message: "bad key KEY123 with secret SECRET456"},
			want:   &Error{Class: ClassInvalid, Operation: "op", StatusCode: 400, Message: "bad key " + Fingerprint("KEY123") + " with secret [redacted]"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := ErrorFromFailure("op", tc.in, red)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nErrorFromFailure(...): -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestErrorFromTransport(t *testing.T) {
	red := Redactor{ConsumerKey: "KEY123"}
	inner := &Error{Class: ClassUnauthorized, Operation: "Authenticate", Message: "token refused"}
	cases := map[string]struct {
		reason string
		in     error
		want   *Error
	}{
		"URLErrorDropsURL": {
			reason: "A *url.Error's text holds the URL and so the key.",
			in:     &url.Error{Op: "Get", URL: "https://h/v1/organizations/o/developers/d/apps/a/keys/KEY123", Err: errors.New("connection refused")},
			want:   &Error{Class: ClassUnavailable, Operation: "op", Message: "request failed: connection refused"},
		},
		"InnerTextRedacted": {
			reason: "Even the inner error is redacted.",
			in:     &url.Error{Op: "Get", URL: "u", Err: errors.New("bad KEY123")},
			want:   &Error{Class: ClassUnavailable, Operation: "op", Message: "request failed: bad " + Fingerprint("KEY123")},
		},
		"DeadlineExceeded": {
			reason: "Timeouts are Unavailable, with the reason that keeps them from being retried in the same call.",
			in:     &url.Error{Op: "Get", URL: "u", Err: context.DeadlineExceeded},
			want:   &Error{Class: ClassUnavailable, Reason: ReasonTimeout, Operation: "op", Message: "request timed out: context deadline exceeded"},
		},
		"Cancelled": {
			reason: "A cancelled call is Unavailable, not a timeout.",
			in:     &url.Error{Op: "Get", URL: "u", Err: context.Canceled},
			want:   &Error{Class: ClassUnavailable, Operation: "op", Message: "request was cancelled: context canceled"},
		},
		"AuthErrorPassesThrough": {
			reason: "The auth transport's classified error keeps its class; the operation is the caller's.",
			in:     &url.Error{Op: "Get", URL: "u", Err: inner},
			want:   &Error{Class: ClassUnauthorized, Operation: "op", Message: "token refused"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := ErrorFromTransport("op", tc.in, red)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nErrorFromTransport(...): -want +got:\n%s", tc.reason, diff)
			}
			if strings.Contains(got.Error(), "KEY123") {
				t.Errorf("error leaks the key: %s", got)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := map[string]struct {
		reason string
		header string
		want   time.Duration
	}{
		"Seconds":  {reason: "The usual form.", header: "7", want: 7 * time.Second},
		"Date":     {reason: "HTTP date form.", header: now.Add(90 * time.Second).Format(http.TimeFormat), want: 90 * time.Second},
		"Past":     {reason: "A date in the past is no wait.", header: now.Add(-time.Minute).Format(http.TimeFormat), want: 0},
		"Missing":  {reason: "No header.", header: "", want: 0},
		"Garbage":  {reason: "Unparseable is ignored.", header: "soon", want: 0},
		"Negative": {reason: "Negative seconds are ignored.", header: "-3", want: 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set("Retry-After", tc.header)
			}
			if diff := cmp.Diff(tc.want, ParseRetryAfter(h, now)); diff != "" {
				t.Errorf("%s: -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestRedactor(t *testing.T) {
	cases := map[string]struct {
		reason string
		red    Redactor
		in     string
		want   string
	}{
		"Both":          {reason: "Key and secret.", red: Redactor{"abc", "xyz"}, in: "k=abc s=xyz", want: "k=" + Fingerprint("abc") + " s=[redacted]"},
		"SecretHasKey":  {reason: "The secret contains the key: the secret goes first.", red: Redactor{"abc", "abcdef"}, in: "abcdef", want: "[redacted]"},
		"KeyHasSecret":  {reason: "The key contains the secret: the key goes first.", red: Redactor{"abcdef", "abc"}, in: "abcdef", want: Fingerprint("abcdef")},
		"EmptyNoChange": {reason: "Nothing to redact.", red: Redactor{}, in: "hello", want: "hello"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.red.Redact(tc.in)); diff != "" {
				t.Errorf("%s: -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	cases := map[string]struct {
		reason string
		req    ImportRequest
		want   Class
	}{
		"Valid":       {reason: "Letters, digits, _ and -.", req: ImportRequest{ConsumerKey: "Ab_9-x", ConsumerSecret: "s"}, want: ""},
		"EmptyKey":    {reason: "A key is required.", req: ImportRequest{ConsumerSecret: "s"}, want: ClassInvalid},
		"BadChar":     {reason: "A dot is not allowed.", req: ImportRequest{ConsumerKey: "a.b", ConsumerSecret: "s"}, want: ClassInvalid},
		"SlashInKey":  {reason: "A slash would change the URL path.", req: ImportRequest{ConsumerKey: "a/b", ConsumerSecret: "s"}, want: ClassInvalid},
		"TooLong":     {reason: "More than 2 KB.", req: ImportRequest{ConsumerKey: strings.Repeat("a", 2049), ConsumerSecret: "s"}, want: ClassInvalid},
		"Exactly2KB":  {reason: "2 KB is allowed.", req: ImportRequest{ConsumerKey: strings.Repeat("a", 2048), ConsumerSecret: "s"}, want: ""},
		"SecretSpace": {reason: "The secret follows the same rules.", req: ImportRequest{ConsumerKey: "k", ConsumerSecret: "a b"}, want: ClassInvalid},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := ValidateImport("ImportKey", tc.req)
			if diff := cmp.Diff(tc.want, ClassOf(err)); diff != "" {
				t.Errorf("%s: -want +got:\n%s", tc.reason, diff)
			}
			if err != nil && (strings.Contains(err.Error(), "a.b") || strings.Contains(err.Error(), "a b")) {
				t.Errorf("error echoes the value: %s", err)
			}
		})
	}
}
