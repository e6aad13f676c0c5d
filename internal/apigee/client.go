// Package apigee is the operator's narrow view of the Apigee management API:
// the few developer-app-key calls it needs, domain types that are independent
// of the X/hybrid and Edge wire formats, and error classes callers decide on.
//
// Implementations live in the x (Apigee X and hybrid) and edge (Apigee Edge)
// subpackages; emulator is an in-memory Apigee serving both dialects.
package apigee

import "context"

// Client manages developer app keys in one Apigee organization.
//
// Every method returns a *Error (see errors.go) on failure so callers can
// decide on its Class; no error string ever contains a consumer key or secret.
type Client interface {
	// Probe makes the cheapest authenticated call (GET organization) to
	// prove the endpoint is reachable and the credentials are accepted.
	Probe(ctx context.Context) error

	// GetApp returns the developer app with all of its credentials. It is
	// the operator's main read: one call observes every key of an app.
	GetApp(ctx context.Context, developer, app string) (*App, error)

	// GetKey returns one key of an app.
	GetKey(ctx context.Context, ref KeyRef) (*Credential, error)

	// ImportKey creates a key with the given consumer key and secret. The
	// new key is approved and has no products, whatever else was sent.
	ImportKey(ctx context.Context, developer, app string, req ImportRequest) (*Credential, error)

	// AddProducts associates products with the key (appending; products
	// already on the key are untouched). Because both dialects replace the
	// key's attributes on this call, attributes is the complete set the key
	// must keep.
	AddProducts(ctx context.Context, ref KeyRef, products []string, attributes []Attribute) (*Credential, error)

	// SetAttributes replaces the key's attributes with the given set.
	SetAttributes(ctx context.Context, ref KeyRef, attributes []Attribute) (*Credential, error)

	// SetScopes replaces the key's scopes.
	SetScopes(ctx context.Context, ref KeyRef, scopes []string) (*Credential, error)

	// RemoveProduct removes one product from the key.
	RemoveProduct(ctx context.Context, ref KeyRef, product string) error

	// SetKeyStatus approves or revokes the key itself.
	SetKeyStatus(ctx context.Context, ref KeyRef, action Action) error

	// SetProductStatus approves or revokes one product on the key.
	SetProductStatus(ctx context.Context, ref KeyRef, product string, action Action) error

	// DeleteKey deletes the key from the app.
	DeleteKey(ctx context.Context, ref KeyRef) error
}
