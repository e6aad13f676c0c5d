package contract

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/auth"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// The key most cases import.
const (
	key    = "IMPORTED_key-1"
	secret = "IMPORTED_secret-1"
)

// fixture is the state every case starts from: a developer, products
// auto1, auto2 (auto approval) and manual1 (manual), the app with its
// generated key, and another app.
type fixture struct {
	auto apigee.Credential // the app's generated key
	ref  apigee.KeyRef     // the imported key, once imported
}

func seed(t *testing.T, e *env) *fixture {
	t.Helper()
	e.emu.AddDeveloper(developer)
	e.emu.AddProduct("auto1", "auto", emulator.WithScopes("read", "write"))
	e.emu.AddProduct("auto2", "auto")
	e.emu.AddProduct("manual1", "manual")
	auto, err := e.emu.AddApp(developer, app)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.emu.AddApp(developer, "other"); err != nil {
		t.Fatal(err)
	}
	return &fixture{auto: auto, ref: apigee.KeyRef{Developer: developer, App: app, ConsumerKey: key}}
}

// imported seeds the imported key, optionally with products.
func imported(products ...string) func(context.Context, apigee.Client) error {
	return func(ctx context.Context, c apigee.Client) error {
		if _, err := c.ImportKey(ctx, developer, app, apigee.ImportRequest{ConsumerKey: key, ConsumerSecret: secret}); err != nil {
			return err
		}
		if len(products) == 0 {
			return nil
		}
		_, err := c.AddProducts(ctx, apigee.KeyRef{Developer: developer, App: app, ConsumerKey: key}, products, nil)
		return err
	}
}

// wantErr is the part of an *apigee.Error a caller decides on.
type wantErr struct {
	Class      apigee.Class
	Resource   apigee.Resource
	Reason     string
	RetryAfter time.Duration
}

func errOf(err error) wantErr {
	var e *apigee.Error
	if !errors.As(err, &e) {
		if err != nil {
			return wantErr{Class: "not an *apigee.Error: " + apigee.Class(err.Error())}
		}
		return wantErr{}
	}
	return wantErr{e.Class, e.Resource, e.Reason, e.RetryAfter}
}

type contractCase struct {
	reason string
	// setup seeds state through a client and arranges faults.
	setup func(ctx context.Context, c apigee.Client) error
	fault *emulator.Fault
	// auth replaces the dialect's credentials.
	auth func(d dialect, tokenURL string) auth.Config
	run  func(ctx context.Context, c apigee.Client, f *fixture) (any, error)
	want any
	err  wantErr
	// calls are emulator operation counts made by run (nil: not checked).
	calls map[string]int
	// only, when set, runs the case in that dialect only.
	only emulator.Dialect
}

// credentials compare without server-set times.
var credOpts = cmp.Options{
	cmpopts.IgnoreFields(apigee.Credential{}, "IssuedAt", "ExpiresAt"),
	cmpopts.EquateEmpty(),
}

func getKey(ctx context.Context, c apigee.Client, f *fixture) (any, error) {
	return c.GetKey(ctx, f.ref)
}

// then runs a write and returns the key as read afterwards.
func then(write func(ctx context.Context, c apigee.Client, f *fixture) error) func(context.Context, apigee.Client, *fixture) (any, error) {
	return func(ctx context.Context, c apigee.Client, f *fixture) (any, error) {
		if err := write(ctx, c, f); err != nil {
			return nil, err
		}
		return getKey(ctx, c, f)
	}
}

func cred(status string, products ...apigee.ProductStatus) *apigee.Credential {
	return &apigee.Credential{ConsumerKey: key, ConsumerSecret: secret, Status: status, Products: products}
}

func ps(name, status string) apigee.ProductStatus {
	return apigee.ProductStatus{Name: name, Status: status}
}

var cases = map[string]contractCase{
	// --- success paths ---------------------------------------------------
	"Probe": {
		reason: "Probe reads the organization with the connection's credentials.",
		run:    func(ctx context.Context, c apigee.Client, _ *fixture) (any, error) { return nil, c.Probe(ctx) },
		calls:  map[string]int{emulator.OpGetOrganization: 1},
	},
	"GetApp": {
		reason: "GetApp returns the app and its generated key, with the secret.",
		run: func(ctx context.Context, c apigee.Client, f *fixture) (any, error) {
			a, err := c.GetApp(ctx, developer, app)
			if err != nil {
				return nil, err
			}
			return []any{a.Name, a.AppID != "", a.Credentials[0].ConsumerKey == f.auto.ConsumerKey, a.Credentials[0].ConsumerSecret == f.auto.ConsumerSecret, len(a.Credentials)}, nil
		},
		want:  []any{app, true, true, true, 1},
		calls: map[string]int{emulator.OpGetApp: 1},
	},
	"ImportKey": {
		reason: "An imported key starts approved without products: one call.",
		run: func(ctx context.Context, c apigee.Client, _ *fixture) (any, error) {
			return c.ImportKey(ctx, developer, app, apigee.ImportRequest{ConsumerKey: key, ConsumerSecret: secret})
		},
		want:  cred(apigee.StatusApproved),
		calls: map[string]int{emulator.OpCreateKey: 1},
	},
	"ImportKeyNoExpiryOnEdge": {
		only:   emulator.Edge,
		reason: "Edge applies no expiry to a key imported with its own values (its create answer has no expiresAt either).",
		run: func(ctx context.Context, c apigee.Client, f *fixture) (any, error) {
			created, err := c.ImportKey(ctx, developer, app, apigee.ImportRequest{ConsumerKey: key, ConsumerSecret: secret, ExpiresInSeconds: 3600})
			if err != nil {
				return nil, err
			}
			k, err := c.GetKey(ctx, f.ref)
			if err != nil {
				return nil, err
			}
			return []any{created.ExpiresAt.IsZero(), k.ExpiresAt.IsZero()}, nil
		},
		want: []any{true, true},
	},
	"ImportKeyExpiry": {
		only:   emulator.X,
		reason: "expiresInSeconds sets expiresAt = issuedAt + lifetime (read back: Edge's create answer has no expiresAt); no expiry is the zero time.",
		run: func(ctx context.Context, c apigee.Client, f *fixture) (any, error) {
			if _, err := c.ImportKey(ctx, developer, app, apigee.ImportRequest{ConsumerKey: key, ConsumerSecret: secret, ExpiresInSeconds: 3600}); err != nil {
				return nil, err
			}
			k, err := c.GetKey(ctx, f.ref)
			if err != nil {
				return nil, err
			}
			never, err := c.ImportKey(ctx, developer, app, apigee.ImportRequest{ConsumerKey: "never", ConsumerSecret: secret, ExpiresInSeconds: -1})
			if err != nil {
				return nil, err
			}
			return []any{k.ExpiresAt.Sub(k.IssuedAt), k.IssuedAt.IsZero(), never.ExpiresAt.IsZero()}, nil
		},
		want: []any{time.Hour, false, true},
	},
	"GetKey": {
		reason: "GetKey reads the key with its secret.",
		setup:  imported(),
		run:    getKey,
		want:   cred(apigee.StatusApproved),
		calls:  map[string]int{emulator.OpGetKey: 1},
	},
	"AddProducts": {
		reason: "Auto products are approved, manual ones pending; attributes are set in the same call.",
		setup:  imported(),
		run: func(ctx context.Context, c apigee.Client, f *fixture) (any, error) {
			return c.AddProducts(ctx, f.ref, []string{"auto1", "manual1"}, []apigee.Attribute{{Name: "tier", Value: "gold"}})
		},
		want: &apigee.Credential{ConsumerKey: key, ConsumerSecret: secret, Status: apigee.StatusApproved,
			Products:   []apigee.ProductStatus{ps("auto1", "approved"), ps("manual1", "pending")},
			Attributes: []apigee.Attribute{{Name: "tier", Value: "gold"}}},
		calls: map[string]int{emulator.OpUpdateKey: 1},
	},
	"AddProductsAppends": {
		reason: "Adding keeps the products already on the key.",
		setup:  imported("auto1"),
		run: func(ctx context.Context, c apigee.Client, f *fixture) (any, error) {
			return c.AddProducts(ctx, f.ref, []string{"auto2"}, nil)
		},
		want: cred(apigee.StatusApproved, ps("auto1", "approved"), ps("auto2", "approved")),
	},
	"SetAttributes": {
		reason: "Attributes are replaced; products stay.",
		setup:  imported("auto1"),
		run: then(func(ctx context.Context, c apigee.Client, f *fixture) error {
			if _, err := c.SetAttributes(ctx, f.ref, []apigee.Attribute{{Name: "a", Value: "1"}}); err != nil {
				return err
			}
			_, err := c.SetAttributes(ctx, f.ref, []apigee.Attribute{{Name: "b", Value: "2"}})
			return err
		}),
		want: &apigee.Credential{ConsumerKey: key, ConsumerSecret: secret, Status: apigee.StatusApproved,
			Products: []apigee.ProductStatus{ps("auto1", "approved")}, Attributes: []apigee.Attribute{{Name: "b", Value: "2"}}},
	},
	"SetScopes": {
		reason: "Scopes are replaced.",
		setup:  imported("auto1"),
		run: then(func(ctx context.Context, c apigee.Client, f *fixture) error {
			_, err := c.SetScopes(ctx, f.ref, []string{"read", "write"})
			return err
		}),
		want: &apigee.Credential{ConsumerKey: key, ConsumerSecret: secret, Status: apigee.StatusApproved,
			Products: []apigee.ProductStatus{ps("auto1", "approved")}, Scopes: []string{"read", "write"}},
	},
	"RemoveProduct": {
		reason: "One product goes; the others stay.",
		setup:  imported("auto1", "auto2"),
		run: then(func(ctx context.Context, c apigee.Client, f *fixture) error {
			return c.RemoveProduct(ctx, f.ref, "auto1")
		}),
		want: cred(apigee.StatusApproved, ps("auto2", "approved")),
	},
	"SetKeyStatus": {
		reason: "Revoke, then read: the key is revoked.",
		setup:  imported(),
		run: then(func(ctx context.Context, c apigee.Client, f *fixture) error {
			return c.SetKeyStatus(ctx, f.ref, apigee.ActionRevoke)
		}),
		want:  cred(apigee.StatusRevoked),
		calls: map[string]int{emulator.OpSetKeyStatus: 1, emulator.OpGetKey: 1},
	},
	"SetProductStatus": {
		reason: "Approving a pending manual product.",
		setup:  imported("manual1"),
		run: then(func(ctx context.Context, c apigee.Client, f *fixture) error {
			return c.SetProductStatus(ctx, f.ref, "manual1", apigee.ActionApprove)
		}),
		want: cred(apigee.StatusApproved, ps("manual1", "approved")),
	},
	"DeleteKey": {
		reason: "After deletion the key is not found.",
		setup:  imported(),
		run: then(func(ctx context.Context, c apigee.Client, f *fixture) error {
			return c.DeleteKey(ctx, f.ref)
		}),
		err: wantErr{Class: apigee.ClassNotFound, Resource: apigee.ResourceKey},
	},

	// --- error classes ---------------------------------------------------
	"DeveloperNotFound": {
		reason: "An unknown developer.",
		run: func(ctx context.Context, c apigee.Client, _ *fixture) (any, error) {
			return c.GetApp(ctx, "nobody@example.com", app)
		},
		err: wantErr{Class: apigee.ClassNotFound, Resource: apigee.ResourceDeveloper},
	},
	"AppNotFound": {
		reason: "An unknown app.",
		run: func(ctx context.Context, c apigee.Client, _ *fixture) (any, error) {
			return c.GetApp(ctx, developer, "nope")
		},
		err: wantErr{Class: apigee.ClassNotFound, Resource: apigee.ResourceApp},
	},
	"KeyNotFound": {
		reason: "A key not on the app.",
		run:    getKey,
		err:    wantErr{Class: apigee.ClassNotFound, Resource: apigee.ResourceKey},
	},
	"KeyOfAnotherApp": {
		reason: "The generated key of one app, asked for on another, is not found.",
		run: func(ctx context.Context, c apigee.Client, f *fixture) (any, error) {
			return c.GetKey(ctx, apigee.KeyRef{Developer: developer, App: "other", ConsumerKey: f.auto.ConsumerKey})
		},
		err: wantErr{Class: apigee.ClassNotFound, Resource: apigee.ResourceKey},
	},
	"ProductNotFound": {
		reason: "Adding an unknown product.",
		setup:  imported(),
		run: func(ctx context.Context, c apigee.Client, f *fixture) (any, error) {
			return c.AddProducts(ctx, f.ref, []string{"ghost"}, nil)
		},
		err: wantErr{Class: apigee.ClassNotFound, Resource: apigee.ResourceProduct},
	},
	"Conflict": {
		reason: "A first-attempt 409 is a conflict, even with the same secret: the caller reads and converges.",
		setup:  imported(),
		run: func(ctx context.Context, c apigee.Client, _ *fixture) (any, error) {
			return c.ImportKey(ctx, developer, app, apigee.ImportRequest{ConsumerKey: key, ConsumerSecret: secret})
		},
		err:   wantErr{Class: apigee.ClassConflict},
		calls: map[string]int{emulator.OpCreateKey: 1, emulator.OpGetKey: 0},
	},
	"ConflictOtherApp": {
		reason: "A consumer key is unique in the whole organization.",
		run: func(ctx context.Context, c apigee.Client, f *fixture) (any, error) {
			return c.ImportKey(ctx, developer, "other", apigee.ImportRequest{ConsumerKey: f.auto.ConsumerKey, ConsumerSecret: secret})
		},
		err: wantErr{Class: apigee.ClassConflict},
	},
	"InvalidCharacters": {
		reason: "Rejected before any request.",
		run: func(ctx context.Context, c apigee.Client, _ *fixture) (any, error) {
			return c.ImportKey(ctx, developer, app, apigee.ImportRequest{ConsumerKey: "has space", ConsumerSecret: secret})
		},
		err:   wantErr{Class: apigee.ClassInvalid},
		calls: map[string]int{emulator.OpCreateKey: 0},
	},
	"TooLong": {
		reason: "A secret over 2 KB is rejected before any request.",
		run: func(ctx context.Context, c apigee.Client, _ *fixture) (any, error) {
			return c.ImportKey(ctx, developer, app, apigee.ImportRequest{ConsumerKey: key, ConsumerSecret: strings.Repeat("s", 2049)})
		},
		err:   wantErr{Class: apigee.ClassInvalid},
		calls: map[string]int{emulator.OpCreateKey: 0},
	},
	"ProductNotAssociated": {
		reason: "Removing a product that is not on the key (X 400, Edge 500) is Invalid with a reason, first time.",
		setup:  imported(),
		run: func(ctx context.Context, c apigee.Client, f *fixture) (any, error) {
			return nil, c.RemoveProduct(ctx, f.ref, "auto1")
		},
		err:   wantErr{Class: apigee.ClassInvalid, Resource: apigee.ResourceProduct, Reason: apigee.ReasonProductNotAssociated},
		calls: map[string]int{emulator.OpDeleteKeyProduct: 1},
	},
	"Unauthorized": {
		reason: "Wrong credentials are Unauthorized (for Edge OAuth already at the token endpoint).",
		auth: func(d dialect, tokenURL string) auth.Config {
			a := d.auth(tokenURL)
			a.BearerToken, a.Password = "wrong", "wrong"
			return a
		},
		run: func(ctx context.Context, c apigee.Client, _ *fixture) (any, error) { return nil, c.Probe(ctx) },
		err: wantErr{Class: apigee.ClassUnauthorized},
	},
	"RateLimited": {
		reason: "A 429 asking for longer than the retry budget goes back to the caller with Retry-After.",
		setup:  imported(),
		fault:  &emulator.Fault{Operation: emulator.OpGetKey, Status: 429, RetryAfter: time.Minute},
		run:    getKey,
		err:    wantErr{Class: apigee.ClassRateLimited, RetryAfter: time.Minute},
		calls:  map[string]int{emulator.OpGetKey: 1},
	},
	"Unavailable": {
		reason: "A lasting 503 is Unavailable after the bounded attempts.",
		setup:  imported(),
		fault:  &emulator.Fault{Operation: emulator.OpGetKey, Status: 503},
		run:    getKey,
		err:    wantErr{Class: apigee.ClassUnavailable},
		calls:  map[string]int{emulator.OpGetKey: 3},
	},
	"ConnectionDropped": {
		// No call count: net/http itself resends a GET once when a reused
		// connection closes without an answer.
		reason: "A dropped connection is Unavailable.",
		setup:  imported(),
		fault:  &emulator.Fault{Operation: emulator.OpGetKey, Drop: true},
		run:    getKey,
		err:    wantErr{Class: apigee.ClassUnavailable},
	},
	"TransientRetried": {
		reason: "Two 503s, then success.",
		setup:  imported(),
		fault:  &emulator.Fault{Operation: emulator.OpGetKey, Status: 503, Remaining: 2},
		run: func(ctx context.Context, c apigee.Client, f *fixture) (any, error) {
			return getKey(ctx, c, f)
		},
		want:  cred(apigee.StatusApproved),
		calls: map[string]int{emulator.OpGetKey: 3},
	},
	"ImportLandedThenFailed": {
		reason: "The first import landed but answered 500: the retry's 409 is resolved by reading the key.",
		fault:  &emulator.Fault{Operation: emulator.OpCreateKey, Status: 500, AfterEffect: true, Remaining: 1},
		run: func(ctx context.Context, c apigee.Client, _ *fixture) (any, error) {
			return c.ImportKey(ctx, developer, app, apigee.ImportRequest{ConsumerKey: key, ConsumerSecret: secret})
		},
		want:  cred(apigee.StatusApproved),
		calls: map[string]int{emulator.OpCreateKey: 2, emulator.OpGetKey: 1},
	},
	"DeleteLandedThenDropped": {
		reason: "The first delete landed but the connection dropped: the retry's 404 is success.",
		setup:  imported(),
		fault:  &emulator.Fault{Operation: emulator.OpDeleteKey, Drop: true, AfterEffect: true, Remaining: 1},
		run: func(ctx context.Context, c apigee.Client, f *fixture) (any, error) {
			return nil, c.DeleteKey(ctx, f.ref)
		},
		calls: map[string]int{emulator.OpDeleteKey: 2},
	},
	"RemoveLandedThenFailed": {
		reason: "The first removal landed but answered 503: the retry's 'not associated' is success.",
		setup:  imported("auto1"),
		fault:  &emulator.Fault{Operation: emulator.OpDeleteKeyProduct, Status: 503, AfterEffect: true, Remaining: 1},
		run: then(func(ctx context.Context, c apigee.Client, f *fixture) error {
			return c.RemoveProduct(ctx, f.ref, "auto1")
		}),
		want:  cred(apigee.StatusApproved),
		calls: map[string]int{emulator.OpDeleteKeyProduct: 2},
	},
}

func TestContract(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			for name, tc := range cases {
				if tc.only != "" && tc.only != d.emulator {
					continue
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					runCase(t, d, tc)
				})
			}
		})
	}
}

func runCase(t *testing.T, d dialect, tc contractCase) {
	ctx := context.Background()
	e := newEnv(t, d, nil)
	f := seed(t, e)
	opts := clientOptions{retry: fastRetries(3)}
	if tc.setup != nil {
		if err := tc.setup(ctx, e.client(opts)); err != nil {
			t.Fatalf("setup: %v", err)
		}
	}
	if tc.auth != nil {
		a := tc.auth(d, e.tokenURL)
		opts.auth = &a
	}
	if tc.fault != nil {
		e.emu.InjectFault(*tc.fault)
	}
	e.emu.ResetCalls()

	ctx = logr.NewContext(ctx, testr.NewWithOptions(t, testr.Options{Verbosity: 1}))
	got, err := any(nil), error(nil)
	c, err := e.connect(opts)
	if err == nil {
		got, err = tc.run(ctx, c, f)
	}
	if diff := cmp.Diff(tc.err, errOf(err)); diff != "" {
		t.Errorf("%s\nerror: -want +got:\n%s\n(%v)", tc.reason, diff, err)
	}
	if err == nil {
		if diff := cmp.Diff(tc.want, normalise(got), credOpts); diff != "" {
			t.Errorf("%s\nresult: -want +got:\n%s", tc.reason, diff)
		}
	}
	for op, n := range tc.calls {
		if got := e.emu.Calls(op); got != n {
			t.Errorf("%s\n%s calls: want %d, got %d", tc.reason, op, n, got)
		}
	}
}

// normalise makes a typed nil comparable with an untyped one.
func normalise(v any) any {
	if c, ok := v.(*apigee.Credential); ok && c == nil {
		return nil
	}
	return v
}

// TestActionsSendEmptyOctetStream checks the wire: approve/revoke calls
// carry an empty application/octet-stream body in both dialects.
func TestActionsSendEmptyOctetStream(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, d, nil)
			f := seed(t, e)
			c := e.client(clientOptions{})
			if err := imported("manual1")(ctx, c); err != nil {
				t.Fatal(err)
			}
			for _, err := range []error{
				c.SetKeyStatus(ctx, f.ref, apigee.ActionRevoke),
				c.SetKeyStatus(ctx, f.ref, apigee.ActionApprove),
				c.SetProductStatus(ctx, f.ref, "manual1", apigee.ActionApprove),
				c.SetProductStatus(ctx, f.ref, "manual1", apigee.ActionRevoke),
			} {
				if err != nil {
					t.Fatal(err)
				}
			}
			var actions []wireRequest
			for _, r := range e.requests() {
				if r.Query != "" {
					actions = append(actions, r)
				}
			}
			want := []wireRequest{
				{"POST", "revoke", "application/octet-stream", 0},
				{"POST", "approve", "application/octet-stream", 0},
				{"POST", "approve", "application/octet-stream", 0},
				{"POST", "revoke", "application/octet-stream", 0},
			}
			if diff := cmp.Diff(want, actions); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}
