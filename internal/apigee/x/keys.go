package x

import (
	"context"

	apigeev1 "google.golang.org/api/apigee/v1"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// ImportKey creates the key with the caller's values (Keys.Create). The key
// starts approved and without products.
func (c *Client) ImportKey(ctx context.Context, developer, app string, req apigee.ImportRequest) (*apigee.Credential, error) {
	ref := apigee.KeyRef{Developer: developer, App: app, ConsumerKey: req.ConsumerKey}
	ctx, err := begin(ctx, apigee.OpImportKey, ref)
	if err == nil {
		err = apigee.ValidateImport(apigee.OpImportKey, req)
	}
	if err != nil {
		return nil, err
	}
	body := &apigeev1.GoogleCloudApigeeV1DeveloperAppKey{ConsumerKey: req.ConsumerKey, ConsumerSecret: req.ConsumerSecret}
	if req.ExpiresInSeconds > 0 {
		body.ExpiresInSeconds = req.ExpiresInSeconds
	}
	k, err := c.keys().Create(c.appName(developer, app), body).Context(ctx).Do()
	cred, err := credential(apigee.OpImportKey, k, err, apigee.Redactor{ConsumerKey: req.ConsumerKey, ConsumerSecret: req.ConsumerSecret})
	return apigee.WithImportedValues(cred, req), err
}

// AddProducts appends products (UpdateDeveloperAppKey). The same call
// replaces attributes, so the full set is always sent, even when empty.
func (c *Client) AddProducts(ctx context.Context, ref apigee.KeyRef, products []string, attributes []apigee.Attribute) (*apigee.Credential, error) {
	ctx, err := begin(ctx, apigee.OpAddProducts, ref)
	if err != nil {
		return nil, err
	}
	body := attributesBody(attributes)
	for _, p := range products {
		body.ApiProducts = append(body.ApiProducts, p)
	}
	k, err := c.keys().UpdateDeveloperAppKey(c.keyName(ref), body).Context(ctx).Do()
	return credential(apigee.OpAddProducts, k, err, redactor(ref))
}

// SetAttributes replaces the key's attributes (UpdateDeveloperAppKey
// without products).
func (c *Client) SetAttributes(ctx context.Context, ref apigee.KeyRef, attributes []apigee.Attribute) (*apigee.Credential, error) {
	ctx, err := begin(ctx, apigee.OpSetAttributes, ref)
	if err != nil {
		return nil, err
	}
	k, err := c.keys().UpdateDeveloperAppKey(c.keyName(ref), attributesBody(attributes)).Context(ctx).Do()
	return credential(apigee.OpSetAttributes, k, err, redactor(ref))
}

// SetScopes replaces the key's scopes (ReplaceDeveloperAppKey with scopes
// only: whether PUT touches products is unconfirmed, so none are sent).
func (c *Client) SetScopes(ctx context.Context, ref apigee.KeyRef, scopes []string) (*apigee.Credential, error) {
	ctx, err := begin(ctx, apigee.OpSetScopes, ref)
	if err != nil {
		return nil, err
	}
	body := &apigeev1.GoogleCloudApigeeV1DeveloperAppKey{Scopes: scopes, ForceSendFields: []string{"Scopes"}}
	if body.Scopes == nil {
		body.Scopes = []string{}
	}
	k, err := c.keys().ReplaceDeveloperAppKey(c.keyName(ref), body).Context(ctx).Do()
	cred, err := credential(apigee.OpSetScopes, k, err, redactor(ref))
	return cred, apigee.NameScopes(err, scopes)
}

// RemoveProduct removes one product (Keys.Apiproducts.Delete).
func (c *Client) RemoveProduct(ctx context.Context, ref apigee.KeyRef, product string) error {
	ctx, err := begin(ctx, apigee.OpRemoveProduct, ref)
	if err != nil {
		return err
	}
	_, err = c.keys().Apiproducts.Delete(c.productName(ref, product)).Context(ctx).Do()
	return fail(apigee.OpRemoveProduct, err, redactor(ref))
}

// SetKeyStatus approves or revokes the key (POST K?action=…; the action
// transport sends it as an empty application/octet-stream body).
func (c *Client) SetKeyStatus(ctx context.Context, ref apigee.KeyRef, action apigee.Action) error {
	ctx, err := begin(ctx, apigee.OpSetKeyStatus, ref)
	if err != nil {
		return err
	}
	call := c.keys().UpdateDeveloperAppKey(c.keyName(ref), &apigeev1.GoogleCloudApigeeV1DeveloperAppKey{}).Action(string(action))
	call.Header().Set("Content-Type", octetStream)
	_, err = call.Context(ctx).Do()
	return fail(apigee.OpSetKeyStatus, err, redactor(ref))
}

// SetProductStatus approves or revokes one product on the key.
func (c *Client) SetProductStatus(ctx context.Context, ref apigee.KeyRef, product string, action apigee.Action) error {
	ctx, err := begin(ctx, apigee.OpSetProductStatus, ref)
	if err != nil {
		return err
	}
	call := c.keys().Apiproducts.UpdateDeveloperAppKeyApiProduct(c.productName(ref, product)).Action(string(action))
	call.Header().Set("Content-Type", octetStream)
	_, err = call.Context(ctx).Do()
	return fail(apigee.OpSetProductStatus, err, redactor(ref))
}

// DeleteKey deletes the key.
func (c *Client) DeleteKey(ctx context.Context, ref apigee.KeyRef) error {
	ctx, err := begin(ctx, apigee.OpDeleteKey, ref)
	if err != nil {
		return err
	}
	_, err = c.keys().Delete(c.keyName(ref)).Context(ctx).Do()
	return fail(apigee.OpDeleteKey, err, redactor(ref))
}

func attributesBody(attributes []apigee.Attribute) *apigeev1.GoogleCloudApigeeV1DeveloperAppKey {
	body := &apigeev1.GoogleCloudApigeeV1DeveloperAppKey{
		Attributes:      []*apigeev1.GoogleCloudApigeeV1Attribute{},
		ForceSendFields: []string{"Attributes"},
	}
	for _, a := range attributes {
		body.Attributes = append(body.Attributes, &apigeev1.GoogleCloudApigeeV1Attribute{Name: a.Name, Value: a.Value})
	}
	return body
}
