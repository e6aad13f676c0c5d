// Package emulator is an in-memory Apigee management API for one
// organization, served as an http.Handler in both dialects: Apigee X/hybrid
// and Apigee Edge. It follows docs/apigee-api.md (the behaviour of the real
// services) closely enough for the clients and the operator to be tested
// against it: key import, product association with approval types, status
// calls, the error table, wire formats, auth, quota, and injected faults.
//
// Both handlers share one state, so a key imported through X is visible
// through Edge. The emulator never prints consumer keys or secrets; only
// response bodies carry them, as the real API's do.
package emulator

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// Dialect selects the API family a handler speaks.
type Dialect string

const (
	X    Dialect = "X"    // Apigee X and hybrid
	Edge Dialect = "Edge" // Apigee Edge (SaaS and Private Cloud)
)

// Options configure an Emulator. The zero value is a usable emulator for the
// organization "emulator" with no auth and no quota.
type Options struct {
	// Organization is the one org served; other orgs answer 404.
	Organization string
	// BearerToken, when set, is accepted as "Authorization: Bearer <token>".
	BearerToken string
	// BasicUser and BasicPassword, when set, are accepted as Basic auth.
	// With neither a token nor a user set, no auth is checked; otherwise
	// missing or wrong credentials answer 401.
	BasicUser, BasicPassword string
	// RequestsPerMinute is the org's quota in a sliding one-minute window
	// measured by Clock; 0 = unlimited. Over quota answers 429 with
	// Retry-After.
	RequestsPerMinute int
	// Clock defaults to time.Now; it stamps issuedAt, expiresAt, createdAt
	// and the call log, and drives the quota window.
	Clock func() time.Time
	// KeyGenerator makes generated consumer keys and secrets; the default is
	// 32 random letters and digits from crypto/rand.
	KeyGenerator func() string
	// Seed seeds the random source of probabilistic faults (default 1), so
	// tests are deterministic. SetSeed changes it later.
	Seed uint64
	// EmptyCredentialsAfterCreate makes GET app answer credentials [] for
	// this long after the app was created, as Apigee sometimes does.
	EmptyCredentialsAfterCreate time.Duration
	// WriteAnswersWithoutSecret makes the answers of writes (create,
	// update, replace, delete, remove product) omit consumerSecret. The
	// record does not say every write answer carries it, so the operator
	// must never decide a delete from one; reads always carry it.
	WriteAnswersWithoutSecret bool
	// XKeyActionNoContent makes X answer POST K?action= with 204 instead of
	// 200 and the key (both are accepted by the Go client).
	XKeyActionNoContent bool
	// ReadLag makes reads (GET app, GET key) return an app as it was before
	// a key import or a product change for this long after it, as Apigee's
	// eventually consistent reads may (the Terraform provider retries reads
	// after app creation for this reason). Measured on Clock.
	ReadLag time.Duration
	// MaxCredentialsPerApp caps the keys of one app; an import beyond it
	// answers 400. Edge's limit is 100; 0 = no cap.
	MaxCredentialsPerApp int
	// EdgeEmailsExactCase makes Edge find a developer's email in a path
	// only in the case it was created with. By default Edge finds it in
	// any case; which one real Edge does is not on record, so clients are
	// tested against both (docs/emulator.md).
	EdgeEmailsExactCase bool
	// OnCall, if set, is called after every request with its (redacted) Call.
	OnCall func(Call)
}

// Emulator is the organization's state plus call accounting and faults.
// It is safe for concurrent use.
type Emulator struct {
	opts    Options
	created time.Time // the org's createdAt

	mu     sync.Mutex // guards everything below
	s      *store
	calls  []Call
	counts map[string]int
	faults []*Fault
	rand   *rand.Rand
	window []time.Time // admitted requests in the last minute (quota)
}

// New returns an empty emulator: no developers, apps or products.
func New(opts Options) *Emulator {
	if opts.Organization == "" {
		opts.Organization = "emulator"
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.KeyGenerator == nil {
		opts.KeyGenerator = randomKey
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	s := newStore(opts.Organization)
	s.lag, s.maxCreds = opts.ReadLag, opts.MaxCredentialsPerApp
	e := &Emulator{opts: opts, s: s, counts: map[string]int{}, rand: newRand(opts.Seed)}
	e.created = e.now()
	return e
}

// Organization is the name of the org this emulator serves.
func (e *Emulator) Organization() string { return e.opts.Organization }

// now is the Clock at millisecond precision, the precision of the wire.
func (e *Emulator) now() time.Time { return time.UnixMilli(e.opts.Clock().UnixMilli()).UTC() }

// Handler serves the dialect. Handlers of both dialects share the state,
// call counts and faults of e.
func (e *Emulator) Handler(d Dialect) http.Handler {
	var w wire = xWire{keyActionNoContent: e.opts.XKeyActionNoContent}
	if d == Edge {
		w = edgeWire{}
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { e.serve(w, rw, r) })
}

// --- seeding -----------------------------------------------------------------

// AddDeveloper creates a developer (or finds the one with this email in
// any case) and returns its id, which works in paths in place of the
// email. The email is kept as written, as Edge keeps it; X accepts only
// lower case, so seed X developers in lower case.
func (e *Emulator) AddDeveloper(email string) (developerID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if d, err := e.s.developer(e.s.foldDeveloper(email)); err == nil {
		return d.id
	}
	d, _ := e.s.createDeveloper(developerRequest{Email: email, UserName: email}, newUUID(), e.now())
	if d == nil {
		return ""
	}
	return d.id
}

// ProductOption adjusts a product made by AddProduct.
type ProductOption func(*product)

// WithScopes gives the product OAuth scopes; a key may carry only scopes
// one of its products defines.
func WithScopes(scopes ...string) ProductOption {
	return func(p *product) { p.scopes = append([]string(nil), scopes...) }
}

// AddProduct creates or updates an API product; approval is "auto" (the
// default) or "manual".
func (e *Emulator) AddProduct(name string, approval string, options ...ProductOption) {
	if approval != "manual" {
		approval = "auto"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.s.products[name]
	if !ok {
		if e.s.createProduct(name, approval, nil, productRequest{}, e.now()) != nil {
			return
		}
		p = e.s.products[name]
	}
	p.approval = approval
	for _, o := range options {
		o(p)
	}
}

// AddApp creates an app for the developer (email or id) with one generated
// key, approved and without products, and returns that key.
func (e *Emulator) AddApp(developer, app string) (apigee.Credential, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, err := e.s.createApp(e.s.foldDeveloper(developer), newApp{name: app, id: newUUID()}, e.freshKey(), e.opts.KeyGenerator(), e.now())
	if err != nil {
		return apigee.Credential{}, errors.New(err.message)
	}
	return a.creds[0].Clone(), nil
}

// freshKey generates a consumer key not yet used in the org. Call with e.mu
// held. A generator that keeps repeating itself gets its last value, which
// then fails as a duplicate like any other.
func (e *Emulator) freshKey() string {
	k := e.opts.KeyGenerator()
	for i := 0; i < 10 && e.s.keys[k] != nil; i++ {
		k = e.opts.KeyGenerator()
	}
	return k
}

// SetAppStatus approves or revokes an app, as a person in the console
// would (the operator never changes an app's status).
func (e *Emulator) SetAppStatus(developer, app, status string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, err := e.s.app(e.s.foldDeveloper(developer), app)
	if err != nil {
		return fmt.Errorf("app %s of %s: %s", app, developer, err.message)
	}
	a.status = status
	return nil
}

// --- inspection --------------------------------------------------------------

// App returns a deep copy of the app with all its credentials, whatever
// EmptyCredentialsAfterCreate and ReadLag say.
func (e *Emulator) App(developer, app string) (*apigee.App, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, err := e.s.app(e.s.foldDeveloper(developer), app)
	if err != nil {
		return nil, false
	}
	snap := a.snapshot()
	return &snap.App, true
}
