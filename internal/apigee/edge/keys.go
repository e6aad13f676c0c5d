package edge

import (
	"context"
	"net/http"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// Probe reads the organization.
func (c *Client) Probe(ctx context.Context) error {
	ctx = apigee.WithOperation(ctx, apigee.OpProbe)
	return c.do(ctx, request{op: apigee.OpProbe, method: http.MethodGet}, nil)
}

// GetApp reads the app with all of its credentials.
func (c *Client) GetApp(ctx context.Context, developer, app string) (*apigee.App, error) {
	ctx = apigee.WithOperation(ctx, apigee.OpGetApp)
	if developer == "" || app == "" {
		return nil, &apigee.Error{Class: apigee.ClassInvalid, Operation: apigee.OpGetApp, Message: "developer and app are required"}
	}
	var a wireApp
	err := c.do(ctx, request{op: apigee.OpGetApp, method: http.MethodGet, path: appPath(developer, app)}, &a)
	if err != nil {
		return nil, err
	}
	return a.domain(), nil
}

// GetKey reads one key.
func (c *Client) GetKey(ctx context.Context, ref apigee.KeyRef) (*apigee.Credential, error) {
	return c.keyCall(ctx, apigee.OpGetKey, ref, http.MethodGet, nil)
}

// ImportKey creates the key with the caller's values (POST …/keys/create,
// 201). The key starts approved and without products.
func (c *Client) ImportKey(ctx context.Context, developer, app string, req apigee.ImportRequest) (*apigee.Credential, error) {
	ref := apigee.KeyRef{Developer: developer, App: app, ConsumerKey: req.ConsumerKey}
	ctx, err := begin(ctx, apigee.OpImportKey, ref)
	if err == nil {
		err = apigee.ValidateImport(apigee.OpImportKey, req)
	}
	if err != nil {
		return nil, err
	}
	body := wireImport{ConsumerKey: req.ConsumerKey, ConsumerSecret: req.ConsumerSecret}
	if req.ExpiresInSeconds > 0 {
		body.ExpiresInSeconds = req.ExpiresInSeconds
	}
	var k wireKey
	err = c.do(ctx, request{
		op: apigee.OpImportKey, method: http.MethodPost, path: appPath(developer, app) + "/keys/create", body: body,
		red: apigee.Redactor{ConsumerKey: req.ConsumerKey, ConsumerSecret: req.ConsumerSecret},
	}, &k)
	if err != nil {
		return nil, err
	}
	return apigee.WithImportedValues(k.domain(), req), nil
}

// AddProducts merges products into the key (POST K). Edge replaces the
// key's attributes on this call, so the full set is always sent.
func (c *Client) AddProducts(ctx context.Context, ref apigee.KeyRef, products []string, attributes []apigee.Attribute) (*apigee.Credential, error) {
	body := wireUpdate{APIProducts: products, Attributes: wireAttributes(attributes)}
	return c.keyCall(ctx, apigee.OpAddProducts, ref, http.MethodPost, body)
}

// SetAttributes replaces the key's attributes with POST K/attributes
// {"attribute":[…]}, the route Apigee's own PHP client uses
// (apigee/apigee-client-php AttributesAwareEntityControllerTrait::
// updateAttributes): Edge's reference requires apiProducts on POST K. The
// route answers only the attributes, so the key is read back (GET K) and
// the written attributes laid over it.
func (c *Client) SetAttributes(ctx context.Context, ref apigee.KeyRef, attributes []apigee.Attribute) (*apigee.Credential, error) {
	ctx, err := begin(ctx, apigee.OpSetAttributes, ref)
	if err != nil {
		return nil, err
	}
	var out wireAttributesBody
	err = c.do(ctx, request{op: apigee.OpSetAttributes, method: http.MethodPost, path: keyPath(ref) + "/attributes",
		body: wireAttributesBody{Attribute: wireAttributes(attributes)}, red: apigee.Redactor{ConsumerKey: ref.ConsumerKey}}, &out)
	if err != nil {
		return nil, err
	}
	k, err := c.GetKey(ctx, ref)
	if err != nil {
		return nil, err
	}
	k.Attributes = wireKey{Attributes: out.Attribute}.domain().Attributes
	return k, nil
}

// SetScopes replaces the key's scopes (PUT K).
func (c *Client) SetScopes(ctx context.Context, ref apigee.KeyRef, scopes []string) (*apigee.Credential, error) {
	if scopes == nil {
		scopes = []string{}
	}
	k, err := c.keyCall(ctx, apigee.OpSetScopes, ref, http.MethodPut, wireScopes{Scopes: scopes})
	return k, apigee.NameScopes(err, scopes)
}

// RemoveProduct removes one product (DELETE K/apiproducts/{p}).
func (c *Client) RemoveProduct(ctx context.Context, ref apigee.KeyRef, product string) error {
	return c.productCall(ctx, apigee.OpRemoveProduct, ref, product, http.MethodDelete, "")
}

// SetKeyStatus approves or revokes the key (POST K?action=…, 204).
func (c *Client) SetKeyStatus(ctx context.Context, ref apigee.KeyRef, action apigee.Action) error {
	ctx, err := begin(ctx, apigee.OpSetKeyStatus, ref)
	if err != nil {
		return err
	}
	return c.do(ctx, request{op: apigee.OpSetKeyStatus, method: http.MethodPost, path: keyPath(ref),
		action: string(action), red: apigee.Redactor{ConsumerKey: ref.ConsumerKey}}, nil)
}

// SetProductStatus approves or revokes one product on the key (204).
func (c *Client) SetProductStatus(ctx context.Context, ref apigee.KeyRef, product string, action apigee.Action) error {
	return c.productCall(ctx, apigee.OpSetProductStatus, ref, product, http.MethodPost, string(action))
}

// DeleteKey deletes the key (DELETE K).
func (c *Client) DeleteKey(ctx context.Context, ref apigee.KeyRef) error {
	_, err := c.keyCall(ctx, apigee.OpDeleteKey, ref, http.MethodDelete, nil)
	return err
}

// keyCall sends a request to K and returns the key Edge answers with.
func (c *Client) keyCall(ctx context.Context, op string, ref apigee.KeyRef, method string, body any) (*apigee.Credential, error) {
	ctx, err := begin(ctx, op, ref)
	if err != nil {
		return nil, err
	}
	var k wireKey
	err = c.do(ctx, request{op: op, method: method, path: keyPath(ref), body: body,
		red: apigee.Redactor{ConsumerKey: ref.ConsumerKey}}, &k)
	if err != nil {
		return nil, err
	}
	return k.domain(), nil
}

// productCall sends a request to K/apiproducts/{p}; its answer is not needed.
func (c *Client) productCall(ctx context.Context, op string, ref apigee.KeyRef, product, method, action string) error {
	ctx, err := begin(ctx, op, ref)
	if err != nil {
		return err
	}
	if product == "" {
		return &apigee.Error{Class: apigee.ClassInvalid, Operation: op, Message: "product is required"}
	}
	return c.do(ctx, request{op: op, method: method, path: productPath(ref, product), action: action,
		red: apigee.Redactor{ConsumerKey: ref.ConsumerKey}}, nil)
}
