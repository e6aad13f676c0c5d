package emulator

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// store is the state of the one organization. It is not safe for concurrent
// use: the Emulator's mutex guards every call.
type store struct {
	org        string
	developers map[string]*developer // by developer id
	emails     map[string]string     // lower-cased email -> developer id
	products   map[string]*product
	keys       map[string]*app // consumer key -> owning app: keys are unique per org
	// lag: how long reads return an app's state from before a key import
	// or product change (Options.ReadLag).
	lag time.Duration
	// maxCreds caps the credentials of one app; 0: no cap
	// (Options.MaxCredentialsPerApp).
	maxCreds int
}

type developer struct {
	id, email, firstName, lastName, userName string
	status                                   string // active (default) or inactive
	attributes                               []apigee.Attribute
	createdAt, modifiedAt                    time.Time
	apps                                     []*app // in creation order
}

type product struct {
	name     string
	approval string   // "auto" or "manual"
	scopes   []string // the OAuth scopes keys with this product may carry
	// details is what the client sent beyond name, approval and scopes
	// (display name, description, proxies, environments, attributes,
	// quota…), answered back as sent.
	details   productRequest
	createdAt time.Time
}

type app struct {
	name, id, developerID string
	developerEmail        string
	status                string // approved (default) or revoked
	callbackURL           string
	attributes            []apigee.Attribute
	products              []string // the app's apiProducts, as last set on the app
	createdAt, modifiedAt time.Time
	creds                 []*apigee.Credential // in creation order
	// stale is what reads return until staleUntil: the app before the
	// first write of a lag window (Options.ReadLag).
	stale      *appSnapshot
	staleUntil time.Time
}

// appSnapshot is a copy of an app, safe to render outside the lock.
type appSnapshot struct {
	apigee.App
	DeveloperEmail string
	CallbackURL    string
	Attributes     []apigee.Attribute
	Products       []string
	LastModifiedAt time.Time
}

// developerSnapshot is a copy of a developer, safe to render outside the lock.
type developerSnapshot struct {
	ID, Email, FirstName, LastName, UserName string
	Status                                   string
	Attributes                               []apigee.Attribute
	Apps                                     []string
	CreatedAt, LastModifiedAt                time.Time
}

func newStore(org string) *store {
	return &store{
		org:        org,
		developers: map[string]*developer{},
		emails:     map[string]string{},
		products:   map[string]*product{},
		keys:       map[string]*app{},
	}
}

// keyRef is a parsed key path: developer (email or id), app, consumer key.
type keyRef struct{ developer, app, key string }

// --- lookups -----------------------------------------------------------------

// developer finds a developer by id, then by email as stored, case
// included. Emails are kept as written (X accepts only lower case; Edge
// keeps capitals); a lookup that ignores case resolves the name first
// (foldDeveloper).
func (s *store) developer(ref string) (*developer, *apiError) {
	if d, ok := s.developers[ref]; ok {
		return d, nil
	}
	if id, ok := s.emails[strings.ToLower(ref)]; ok && s.developers[id].email == ref {
		return s.developers[id], nil
	}
	return nil, errDeveloperNotFound(ref, s.org)
}

// foldDeveloper is the stored email for an email written in any case, or
// ref unchanged when no developer has that email.
func (s *store) foldDeveloper(ref string) string {
	if id, ok := s.emails[strings.ToLower(ref)]; ok {
		return s.developers[id].email
	}
	return ref
}

func (s *store) app(devRef, name string) (*app, *apiError) {
	d, err := s.developer(devRef)
	if err != nil {
		return nil, err
	}
	for _, a := range d.apps {
		if a.name == name {
			return a, nil
		}
	}
	return nil, errAppNotFound(name, devRef)
}

// key finds a key of an app; a key of another app is "not in this app".
func (s *store) key(ref keyRef) (*app, *apigee.Credential, *apiError) {
	a, err := s.app(ref.developer, ref.app)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range a.creds {
		if c.ConsumerKey == ref.key {
			return a, c, nil
		}
	}
	return nil, nil, errKeyNotInApp()
}

// --- creation ----------------------------------------------------------------

// createDeveloper keeps the email as written; two emails that differ only
// in case are one developer (the second create is a 409).
func (s *store) createDeveloper(req developerRequest, id string, now time.Time) (*developer, *apiError) {
	if req.Email == "" {
		return nil, errInvalid("developer.service.InvalidEmail", "Developer email is required")
	}
	if _, ok := s.emails[strings.ToLower(req.Email)]; ok {
		return nil, errAlreadyExists("developer.service.DeveloperAlreadyExists",
			fmt.Sprintf("Developer with email %s already exists", req.Email))
	}
	d := &developer{id: id, email: req.Email, firstName: req.FirstName, lastName: req.LastName, userName: req.UserName,
		status: "active", attributes: toAttributes(req.Attributes), createdAt: now, modifiedAt: now}
	s.developers[id] = d
	s.emails[strings.ToLower(req.Email)] = id
	return d, nil
}

func (s *store) createProduct(name, approval string, scopes []string, details productRequest, now time.Time) *apiError {
	if name == "" {
		return errInvalid("keymanagement.service.InvalidAPIProductName", "API Product name is required")
	}
	switch approval {
	case "":
		approval = "auto"
	case "auto", "manual":
	default:
		return errInvalid("keymanagement.service.InvalidApprovalType", "approvalType must be auto or manual")
	}
	if _, ok := s.products[name]; ok {
		return errAlreadyExists("keymanagement.service.APIProductAlreadyExists",
			fmt.Sprintf("API Product [%s] already exists", name))
	}
	s.products[name] = &product{name: name, approval: approval, scopes: slices.Clone(scopes), details: details, createdAt: now}
	return nil
}

// newApp is what an app create sets.
type newApp struct {
	name, id, callbackURL string
	products              []string
	attributes            []apigee.Attribute
	keyExpiresIn          int64 // milliseconds; 0 or -1: the generated key never expires
}

// createApp creates the app and, as Apigee does, one generated key carrying
// the given products.
func (s *store) createApp(devRef string, n newApp, key, secret string, now time.Time) (*app, *apiError) {
	d, err := s.developer(devRef)
	if err != nil {
		return nil, err
	}
	name, products := n.name, n.products
	if name == "" {
		return nil, errInvalid("developer.service.InvalidAppName", "App name is required")
	}
	for _, a := range d.apps {
		if a.name == name {
			return nil, errAlreadyExists("developer.service.AppAlreadyExists",
				fmt.Sprintf("App named %s already exists under %s", name, devRef))
		}
	}
	if err := s.checkProducts(products); err != nil {
		return nil, err
	}
	if err := checkKeyExpiresIn(n.keyExpiresIn); err != nil {
		return nil, err
	}
	if _, taken := s.keys[key]; taken {
		return nil, errDuplicateKey(fmt.Sprintf("organizations/%s/developers/%s/apps/%s", s.org, devRef, name))
	}
	a := &app{name: name, id: n.id, developerID: d.id, developerEmail: d.email, callbackURL: n.callbackURL,
		attributes: slices.Clone(n.attributes), products: slices.Clone(products), createdAt: now, modifiedAt: now}
	d.apps = append(d.apps, a)
	d.modifiedAt = now
	c := s.addKey(a, key, secret, now, 0)
	c.ExpiresAt = generatedKeyExpiry(now, n.keyExpiresIn)
	s.addProducts(c, products)
	return a, nil
}

// checkKeyExpiresIn: keyExpiresIn is -1 (never), or a positive number of
// milliseconds; 0 is taken as unset.
func checkKeyExpiresIn(ms int64) *apiError {
	if ms < -1 {
		return errInvalid("keymanagement.service.InvalidKeyExpiresIn", "keyExpiresIn must be -1 or a positive number of milliseconds")
	}
	return nil
}

// generatedKeyExpiry is a generated key's expiresAt: issuedAt + keyExpiresIn
// milliseconds (the DeveloperApp reference: "Expiration time, in
// milliseconds, for the consumer key that is generated"); zero: never.
func generatedKeyExpiry(issued time.Time, ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return issued.Add(time.Duration(ms) * time.Millisecond)
}

// createKey imports a key. The key starts approved with no products,
// whatever the request said (documented Apigee behaviour).
func (s *store) createKey(devRef, appName, key, secret string, expiresIn int64, now time.Time) (*apigee.Credential, *apiError) {
	a, err := s.app(devRef, appName)
	if err != nil {
		return nil, err
	}
	if err := validateSecretValue("consumer key", "keymanagement.service.InvalidConsumerKey", key); err != nil {
		return nil, err
	}
	if err := validateSecretValue("consumer secret", "keymanagement.service.InvalidConsumerSecret", secret); err != nil {
		return nil, err
	}
	if expiresIn < -1 {
		return nil, errInvalid("keymanagement.service.InvalidExpiresIn", "expiresInSeconds must be -1 or positive")
	}
	if _, taken := s.keys[key]; taken {
		return nil, errDuplicateKey(fmt.Sprintf("organizations/%s/developers/%s/apps/%s", s.org, devRef, appName))
	}
	if s.maxCreds > 0 && len(a.creds) >= s.maxCreds {
		return nil, errCredentialLimit(s.maxCreds)
	}
	s.beginLag(a, now)
	return s.addKey(a, key, secret, now, expiresIn), nil
}

// beginLag opens a lag window on a's reads, unless one is open: reads
// return a's state from before the window's first write until it ends.
func (s *store) beginLag(a *app, now time.Time) {
	if s.lag <= 0 || now.Before(a.staleUntil) {
		return
	}
	snap := a.snapshot()
	a.stale, a.staleUntil = &snap, now.Add(s.lag)
}

// readable is what a read of a returns at now: its state, or the one from
// before a write still inside its lag window.
func (a *app) readable(now time.Time) appSnapshot {
	if a.stale != nil && now.Before(a.staleUntil) {
		return *a.stale
	}
	return a.snapshot()
}

func (s *store) addKey(a *app, key, secret string, now time.Time, expiresIn int64) *apigee.Credential {
	c := &apigee.Credential{ConsumerKey: key, ConsumerSecret: secret, Status: apigee.StatusApproved, IssuedAt: now}
	if expiresIn > 0 {
		c.ExpiresAt = now.Add(time.Duration(expiresIn) * time.Second)
	}
	a.creds = append(a.creds, c)
	a.modifiedAt = now
	s.keys[key] = a
	return c
}

// --- key updates -------------------------------------------------------------

// keyUpdate is the body of POST K (UpdateDeveloperAppKey). A nil slice
// pointer means the field was absent from the request.
type keyUpdate struct {
	products   []string
	attributes *[]apigee.Attribute
	scopes     *[]string
}

// updateKey appends products (duplicates ignored), replaces attributes and
// scopes when present. Unknown products fail the whole call, changing nothing.
func (s *store) updateKey(ref keyRef, u keyUpdate, now time.Time) (*apigee.Credential, *apiError) {
	a, c, err := s.key(ref)
	if err != nil {
		return nil, err
	}
	if err := s.checkProducts(u.products); err != nil {
		return nil, err
	}
	if u.scopes != nil {
		if err := s.checkScopes(*u.scopes, c, u.products); err != nil {
			return nil, err
		}
	}
	if len(u.products) > 0 {
		s.beginLag(a, now)
	}
	s.addProducts(c, u.products)
	if u.attributes != nil {
		c.Attributes = slices.Clone(*u.attributes)
	}
	if u.scopes != nil {
		c.Scopes = slices.Clone(*u.scopes)
	}
	a.modifiedAt = now
	return c, nil
}

// replaceKey is PUT K: listed products are appended as POST K appends
// them (apigee-edge-js addProduct PUTs {apiProducts:[p]} and its real-Edge
// test expects the product added; apigeecli "apps keys update" relies on
// the same on X); scopes are replaced wholesale (absent means none, as the
// reference says PUT replaces them), attributes only when present.
func (s *store) replaceKey(ref keyRef, u keyUpdate, now time.Time) (*apigee.Credential, *apiError) {
	a, c, err := s.key(ref)
	if err != nil {
		return nil, err
	}
	if err := s.checkProducts(u.products); err != nil {
		return nil, err
	}
	if u.scopes != nil {
		if err := s.checkScopes(*u.scopes, c, u.products); err != nil {
			return nil, err
		}
	}
	if len(u.products) > 0 {
		s.beginLag(a, now)
	}
	s.addProducts(c, u.products)
	c.Scopes = nil
	if u.scopes != nil {
		c.Scopes = slices.Clone(*u.scopes)
	}
	if u.attributes != nil {
		c.Attributes = slices.Clone(*u.attributes)
	}
	a.modifiedAt = now
	return c, nil
}

// checkScopes rejects scopes that none of the key's products (with those
// being added) defines, as Edge (400 keymanagement.service.InvalidScopes)
// and the X reference ("must already be defined") say.
func (s *store) checkScopes(scopes []string, c *apigee.Credential, adding []string) *apiError {
	var defined []string
	for _, n := range adding {
		defined = append(defined, s.products[n].scopes...)
	}
	for _, p := range c.Products {
		if prod, ok := s.products[p.Name]; ok {
			defined = append(defined, prod.scopes...)
		}
	}
	for _, sc := range scopes {
		if !slices.Contains(defined, sc) {
			return errInvalidScopes(defined)
		}
	}
	return nil
}

func (s *store) checkProducts(names []string) *apiError {
	for _, n := range names {
		if _, ok := s.products[n]; !ok {
			return errProductNotFound(n)
		}
	}
	return nil
}

// addProducts associates products the key does not have yet: manual
// approval products enter pending, auto ones approved.
func (s *store) addProducts(c *apigee.Credential, names []string) {
	for _, n := range names {
		if slices.ContainsFunc(c.Products, func(p apigee.ProductStatus) bool { return p.Name == n }) {
			continue
		}
		status := apigee.StatusApproved
		if s.products[n].approval == "manual" {
			status = apigee.StatusPending
		}
		c.Products = append(c.Products, apigee.ProductStatus{Name: n, Status: status})
	}
}

func (s *store) removeKeyProduct(ref keyRef, name string, now time.Time) (*apigee.Credential, *apiError) {
	a, c, err := s.key(ref)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(c.Products, func(p apigee.ProductStatus) bool { return p.Name == name })
	if i < 0 {
		return nil, errProductNotOnKey()
	}
	s.beginLag(a, now)
	c.Products = slices.Delete(c.Products, i, i+1)
	a.modifiedAt = now
	return c, nil
}

func (s *store) setKeyStatus(ref keyRef, action apigee.Action, now time.Time) (*apigee.Credential, *apiError) {
	a, c, err := s.key(ref)
	if err != nil {
		return nil, err
	}
	c.Status = statusOf(action)
	a.modifiedAt = now
	return c, nil
}

func (s *store) setKeyProductStatus(ref keyRef, name string, action apigee.Action, now time.Time) *apiError {
	a, c, err := s.key(ref)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(c.Products, func(p apigee.ProductStatus) bool { return p.Name == name })
	if i < 0 {
		return errProductNotOnKey()
	}
	c.Products[i].Status = statusOf(action)
	a.modifiedAt = now
	return nil
}

func (s *store) deleteKey(ref keyRef, now time.Time) (*apigee.Credential, *apiError) {
	a, c, err := s.key(ref)
	if err != nil {
		return nil, err
	}
	a.creds = slices.DeleteFunc(a.creds, func(x *apigee.Credential) bool { return x == c })
	delete(s.keys, c.ConsumerKey)
	a.modifiedAt = now
	return c, nil
}

// setKeyAttributes is Edge's POST K/attributes: the key's attributes are
// replaced by the given set.
func (s *store) setKeyAttributes(ref keyRef, attrs []apigee.Attribute, now time.Time) ([]apigee.Attribute, *apiError) {
	a, c, err := s.key(ref)
	if err != nil {
		return nil, err
	}
	c.Attributes = slices.Clone(attrs)
	a.modifiedAt = now
	return slices.Clone(c.Attributes), nil
}

func statusOf(a apigee.Action) string {
	if a == apigee.ActionRevoke {
		return apigee.StatusRevoked
	}
	return apigee.StatusApproved
}

// --- validation --------------------------------------------------------------

var keyChars = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// maxKeyBytes is the documented 2 KB limit for keys and secrets.
const maxKeyBytes = 2048

// validateSecretValue checks a consumer key or secret. The messages name the
// field, never the value.
func validateSecretValue(field, code, v string) *apiError {
	if len(v) > maxKeyBytes {
		return errInvalid(code, fmt.Sprintf("Invalid %s: longer than %d bytes", field, maxKeyBytes))
	}
	if !keyChars.MatchString(v) {
		return errInvalid(code, fmt.Sprintf("Invalid %s: only letters, digits, _ and - are allowed", field))
	}
	return nil
}

// --- copies ------------------------------------------------------------------

func (a *app) appStatus() string {
	if a.status == "" {
		return apigee.StatusApproved
	}
	return a.status
}

func (a *app) snapshot() appSnapshot {
	s := appSnapshot{
		App:            apigee.App{Name: a.name, AppID: a.id, DeveloperID: a.developerID, Status: a.appStatus(), CreatedAt: a.createdAt},
		DeveloperEmail: a.developerEmail,
		CallbackURL:    a.callbackURL,
		Attributes:     slices.Clone(a.attributes),
		Products:       slices.Clone(a.products),
		LastModifiedAt: a.modifiedAt,
	}
	for _, c := range a.creds {
		s.Credentials = append(s.Credentials, c.Clone())
	}
	return s
}

func (d *developer) snapshot() developerSnapshot {
	s := developerSnapshot{ID: d.id, Email: d.email, FirstName: d.firstName, LastName: d.lastName,
		UserName: d.userName, Status: cmp.Or(d.status, "active"), Attributes: slices.Clone(d.attributes),
		CreatedAt: d.createdAt, LastModifiedAt: d.modifiedAt}
	for _, a := range d.apps {
		s.Apps = append(s.Apps, a.name)
	}
	return s
}
