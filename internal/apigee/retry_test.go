package apigee

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRetryDelay(t *testing.T) {
	o := RetryOptions{MaxAttempts: 10, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second, MaxRetryAfter: 10 * time.Second}
	unavailable := &Error{Class: ClassUnavailable}
	type want struct {
		Delay time.Duration
		Retry bool
	}
	cases := map[string]struct {
		reason  string
		attempt int
		err     error
		jitter  float64
		want    want
	}{
		"FirstRetryNoJitter":  {reason: "Half the base delay when the jitter is 0.", attempt: 1, err: unavailable, jitter: 0, want: want{50 * time.Millisecond, true}},
		"FirstRetryMaxJitter": {reason: "Close to the full base delay when the jitter is near 1.", attempt: 1, err: unavailable, jitter: 1, want: want{100 * time.Millisecond, true}},
		"Doubles":             {reason: "Exponential: the third attempt's delay is 4x base.", attempt: 3, err: unavailable, jitter: 1, want: want{400 * time.Millisecond, true}},
		"Capped":              {reason: "Never above MaxDelay.", attempt: 5, err: unavailable, jitter: 1, want: want{time.Second, true}},
		"LastAttempt":         {reason: "Bounded: no attempt after MaxAttempts.", attempt: 10, err: unavailable, want: want{0, false}},
		"RetryAfterWins":      {reason: "The server's Retry-After is a floor.", attempt: 1, err: &Error{Class: ClassRateLimited, RetryAfter: 2 * time.Second}, want: want{2 * time.Second, true}},
		"RetryAfterTooLong":   {reason: "A wait beyond MaxRetryAfter goes back to the caller.", attempt: 1, err: &Error{Class: ClassRateLimited, RetryAfter: time.Minute}, want: want{0, false}},
		"RateLimitedNoHeader": {reason: "429 without Retry-After backs off like a 5xx.", attempt: 2, err: &Error{Class: ClassRateLimited}, jitter: 0, want: want{100 * time.Millisecond, true}},
		"OwnLimit":            {reason: "A connection's own limit goes back to the caller: waiting would hold a worker.", attempt: 1, err: &Error{Class: ClassRateLimited, Reason: ReasonConnectionRateLimit, RetryAfter: 10 * time.Millisecond}, want: want{0, false}},
		"OrganizationBusy":    {reason: "So does the organization's budget.", attempt: 1, err: &Error{Class: ClassRateLimited, Reason: ReasonOrganizationBusy, RetryAfter: 10 * time.Millisecond}, want: want{0, false}},
		"Unreachable":         {reason: "And an organization that is not answering.", attempt: 1, err: &Error{Class: ClassUnavailable, Reason: ReasonOrganizationUnreachable}, want: want{0, false}},
		"Timeout":             {reason: "A timed-out attempt already cost the whole timeout.", attempt: 1, err: &Error{Class: ClassUnavailable, Reason: ReasonTimeout}, want: want{0, false}},
		"Conflict":            {reason: "Conflict cannot be fixed by retrying.", attempt: 1, err: &Error{Class: ClassConflict}, want: want{0, false}},
		"NotFound":            {reason: "Neither can NotFound.", attempt: 1, err: &Error{Class: ClassNotFound}, want: want{0, false}},
		"Unauthorized":        {reason: "Nor bad credentials.", attempt: 1, err: &Error{Class: ClassUnauthorized}, want: want{0, false}},
		"Success":             {reason: "Nothing to retry.", attempt: 1, err: nil, want: want{0, false}},
		"ForeignError":        {reason: "An error that is not *Error is not retried.", attempt: 1, err: errors.New("x"), want: want{0, false}},
		"HugeAttempt":         {reason: "No overflow for large attempt numbers.", attempt: 40, err: unavailable, jitter: 1, want: want{0, false}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d, retry := o.Delay(tc.attempt, tc.err, tc.jitter)
			if diff := cmp.Diff(tc.want, want{d, retry}); diff != "" {
				t.Errorf("%s\nDelay(%d): -want +got:\n%s", tc.reason, tc.attempt, diff)
			}
		})
	}
}

// fakeClient is a Client of function fields; an unset field fails the test.
type fakeClient struct {
	t                *testing.T
	ImportKeyFn      func() (*Credential, error)
	GetKeyFn         func() (*Credential, error)
	DeleteKeyFn      func() error
	RemoveProductFn  func() error
	SetKeyStatusFn   func() error
	unimplementedErr error
}

func (f *fakeClient) Probe(context.Context) error { return f.notImplemented() }
func (f *fakeClient) GetApp(context.Context, string, string) (*App, error) {
	return nil, f.notImplemented()
}
func (f *fakeClient) GetKey(context.Context, KeyRef) (*Credential, error) {
	if f.GetKeyFn == nil {
		return nil, f.notImplemented()
	}
	return f.GetKeyFn()
}
func (f *fakeClient) ImportKey(context.Context, string, string, ImportRequest) (*Credential, error) {
	return f.ImportKeyFn()
}
func (f *fakeClient) AddProducts(context.Context, KeyRef, []string, []Attribute) (*Credential, error) {
	return nil, f.notImplemented()
}
func (f *fakeClient) SetAttributes(context.Context, KeyRef, []Attribute) (*Credential, error) {
	return nil, f.notImplemented()
}
func (f *fakeClient) SetScopes(context.Context, KeyRef, []string) (*Credential, error) {
	return nil, f.notImplemented()
}
func (f *fakeClient) RemoveProduct(context.Context, KeyRef, string) error { return f.RemoveProductFn() }
func (f *fakeClient) SetKeyStatus(context.Context, KeyRef, Action) error  { return f.SetKeyStatusFn() }
func (f *fakeClient) SetProductStatus(context.Context, KeyRef, string, Action) error {
	return f.notImplemented()
}
func (f *fakeClient) DeleteKey(context.Context, KeyRef) error { return f.DeleteKeyFn() }
func (f *fakeClient) notImplemented() error {
	f.t.Helper()
	f.t.Error("not implemented")
	return errors.New("not implemented")
}

// sequence returns each error in turn, then the last one forever.
func sequence(errs ...error) (func() error, *int) {
	n := 0
	return func() error {
		i := min(n, len(errs)-1)
		n++
		return errs[i]
	}, &n
}

func fastRetries() RetryOptions {
	return RetryOptions{Sleep: func(context.Context, time.Duration) error { return nil }}
}

func TestRetryingResolvesAmbiguity(t *testing.T) {
	unavailable := &Error{Class: ClassUnavailable, Message: "503"}
	conflict := &Error{Class: ClassConflict, Message: "exists"}
	keyGone := &Error{Class: ClassNotFound, Resource: ResourceKey}
	appGone := &Error{Class: ClassNotFound, Resource: ResourceApp}
	notOnKey := &Error{Class: ClassInvalid, Resource: ResourceProduct, Reason: ReasonProductNotAssociated}
	ours := &Credential{ConsumerKey: "k", ConsumerSecret: "s"}
	theirs := &Credential{ConsumerKey: "k", ConsumerSecret: "other"}

	type result struct {
		Err   Class
		Calls int
		Key   bool
	}
	cases := map[string]struct {
		reason string
		run    func(f *fakeClient) (bool, error)
		setup  func(f *fakeClient) *int
		want   result
	}{
		"ImportFirstConflict": {
			reason: "A first-attempt 409 is a real conflict: no read.",
			setup: func(f *fakeClient) *int {
				fn, n := sequence(conflict)
				f.ImportKeyFn = func() (*Credential, error) { return nil, fn() }
				return n
			},
			want: result{Err: ClassConflict, Calls: 1},
		},
		"ImportRetryConflictSameSecret": {
			reason: "A retry's 409 with our secret on this app: the first attempt landed.",
			setup: func(f *fakeClient) *int {
				fn, n := sequence(unavailable, conflict)
				f.ImportKeyFn = func() (*Credential, error) { return nil, fn() }
				f.GetKeyFn = func() (*Credential, error) { return ours, nil }
				return n
			},
			want: result{Calls: 2, Key: true},
		},
		"ImportRetryConflictOtherSecret": {
			reason: "A retry's 409 with another secret is a conflict.",
			setup: func(f *fakeClient) *int {
				fn, n := sequence(unavailable, conflict)
				f.ImportKeyFn = func() (*Credential, error) { return nil, fn() }
				f.GetKeyFn = func() (*Credential, error) { return theirs, nil }
				return n
			},
			want: result{Err: ClassConflict, Calls: 2},
		},
		"ImportRetryConflictOtherApp": {
			reason: "A retry's 409 for a key on another app (404 here) is a conflict.",
			setup: func(f *fakeClient) *int {
				fn, n := sequence(unavailable, conflict)
				f.ImportKeyFn = func() (*Credential, error) { return nil, fn() }
				f.GetKeyFn = func() (*Credential, error) { return nil, keyGone }
				return n
			},
			want: result{Err: ClassConflict, Calls: 2},
		},
		"ImportRetryConflictReadFails": {
			reason: "When the read fails retryably, the loop tries again within its budget.",
			setup: func(f *fakeClient) *int {
				fn, n := sequence(unavailable, conflict)
				f.ImportKeyFn = func() (*Credential, error) { return nil, fn() }
				reads := 0
				f.GetKeyFn = func() (*Credential, error) {
					reads++
					if reads == 1 {
						return nil, unavailable
					}
					return ours, nil
				}
				return n
			},
			want: result{Calls: 3, Key: true},
		},
		"ImportGivesUp": {
			reason: "Bounded: five attempts, then the last error.",
			setup: func(f *fakeClient) *int {
				fn, n := sequence(unavailable)
				f.ImportKeyFn = func() (*Credential, error) { return nil, fn() }
				return n
			},
			want: result{Err: ClassUnavailable, Calls: 5},
		},
		"DeleteFirstNotFound": {
			reason: "A first-attempt 404 is returned.",
			setup: func(f *fakeClient) *int {
				fn, n := sequence(keyGone)
				f.DeleteKeyFn = fn
				return n
			},
			want: result{Err: ClassNotFound, Calls: 1},
		},
		"DeleteRetryNotFound": {
			reason: "A retry's key-404 means the first attempt deleted it.",
			setup: func(f *fakeClient) *int {
				fn, n := sequence(unavailable, keyGone)
				f.DeleteKeyFn = fn
				return n
			},
			want: result{Calls: 2},
		},
		"DeleteRetryAppNotFound": {
			reason: "An app-404 is not our own effect.",
			setup: func(f *fakeClient) *int {
				fn, n := sequence(unavailable, appGone)
				f.DeleteKeyFn = fn
				return n
			},
			want: result{Err: ClassNotFound, Calls: 2},
		},
		"RemoveFirstNotAssociated": {
			reason: "A first-attempt 'not associated' is returned.",
			setup: func(f *fakeClient) *int {
				fn, n := sequence(notOnKey)
				f.RemoveProductFn = fn
				return n
			},
			want: result{Err: ClassInvalid, Calls: 1},
		},
		"RemoveRetryNotAssociated": {
			reason: "A retry's 'not associated' means the first attempt removed it.",
			setup: func(f *fakeClient) *int {
				fn, n := sequence(&Error{Class: ClassRateLimited}, notOnKey)
				f.RemoveProductFn = fn
				return n
			},
			want: result{Calls: 2},
		},
		"StatusRetried": {
			reason: "Status calls are idempotent and simply retried.",
			setup: func(f *fakeClient) *int {
				fn, n := sequence(unavailable, unavailable, nil)
				f.SetKeyStatusFn = fn
				return n
			},
			want: result{Calls: 3},
		},
	}
	ref := KeyRef{Developer: "d", App: "a", ConsumerKey: "k"}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := &fakeClient{t: t}
			calls := tc.setup(f)
			c := WithRetries(f, fastRetries())
			ctx := context.Background()
			var err error
			var key *Credential
			switch {
			case f.ImportKeyFn != nil:
				key, err = c.ImportKey(ctx, "d", "a", ImportRequest{ConsumerKey: "k", ConsumerSecret: "s"})
			case f.DeleteKeyFn != nil:
				err = c.DeleteKey(ctx, ref)
			case f.RemoveProductFn != nil:
				err = c.RemoveProduct(ctx, ref, "p")
			case f.SetKeyStatusFn != nil:
				err = c.SetKeyStatus(ctx, ref, ActionApprove)
			}
			got := result{Err: ClassOf(err), Calls: *calls, Key: key != nil}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\n-want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestRetryingStopsAtDeadline(t *testing.T) {
	fn, n := sequence(&Error{Class: ClassUnavailable})
	f := &fakeClient{t: t, SetKeyStatusFn: fn}
	c := WithRetries(f, RetryOptions{BaseDelay: time.Hour, MaxDelay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err := c.SetKeyStatus(ctx, KeyRef{Developer: "d", App: "a", ConsumerKey: "k"}, ActionApprove)
	if ClassOf(err) != ClassUnavailable || *n != 1 {
		t.Errorf("want the first Unavailable after 1 call, got %v after %d", err, *n)
	}
	if time.Since(start) > 500*time.Millisecond {
		t.Errorf("waited for a retry that could not start before the deadline")
	}
}
