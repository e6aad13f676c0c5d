package emulator

import (
	"net/http"
	"strings"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// handler performs one operation: it returns the success status and body,
// or the error to answer with.
type handler func(e *Emulator, wr wire, rt route, body []byte) (int, any, *apiError)

var handlers = map[string]handler{
	OpGetOrganization:     (*Emulator).getOrganization,
	OpGetDeveloper:        (*Emulator).getDeveloper,
	OpCreateDeveloper:     (*Emulator).createDeveloper,
	OpCreateProduct:       (*Emulator).createProduct,
	OpCreateApp:           (*Emulator).createApp,
	OpGetApp:              (*Emulator).getApp,
	OpCreateKey:           (*Emulator).createKey,
	OpGetKey:              (*Emulator).getKey,
	OpUpdateKey:           (*Emulator).updateKey,
	OpReplaceKey:          (*Emulator).replaceKey,
	OpDeleteKey:           (*Emulator).deleteKey,
	OpDeleteKeyProduct:    (*Emulator).deleteKeyProduct,
	OpSetKeyStatus:        (*Emulator).setKeyStatus,
	OpSetKeyProductStatus: (*Emulator).setKeyProductStatus,
	OpSetKeyAttributes:    (*Emulator).setKeyAttributes,
}

func (e *Emulator) operation(op string) handler {
	if h, ok := handlers[op]; ok {
		return h
	}
	return func(*Emulator, wire, route, []byte) (int, any, *apiError) {
		return 0, nil, errRoute(http.StatusNotFound)
	}
}

func (e *Emulator) getOrganization(wr wire, _ route, _ []byte) (int, any, *apiError) {
	return http.StatusOK, wr.organization(e.opts.Organization, e.created), nil
}

func (e *Emulator) getDeveloper(wr wire, rt route, _ []byte) (int, any, *apiError) {
	e.mu.Lock()
	d, err := e.s.developer(rt.ref.developer)
	var snap developerSnapshot
	if err == nil {
		snap = d.snapshot()
	}
	e.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, wr.developer(snap, e.opts.Organization), nil
}

func (e *Emulator) createDeveloper(wr wire, _ route, body []byte) (int, any, *apiError) {
	var req developerRequest
	if err := decode(body, &req); err != nil {
		return 0, nil, err
	}
	if wr.dialect() == X && req.Email != strings.ToLower(req.Email) {
		// X stores emails in lower case and refuses others (docs/emulator.md).
		return 0, nil, errInvalid("developer.service.InvalidEmail", "email address has to be lowercase")
	}
	e.mu.Lock()
	d, err := e.s.createDeveloper(req, newUUID(), e.now())
	var snap developerSnapshot
	if err == nil {
		snap = d.snapshot()
	}
	e.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	return wr.createdStatus(), wr.developer(snap, e.opts.Organization), nil
}

func (e *Emulator) createProduct(wr wire, _ route, body []byte) (int, any, *apiError) {
	var req productRequest
	if err := decode(body, &req); err != nil {
		return 0, nil, err
	}
	if req.ApprovalType == "" {
		req.ApprovalType = "auto"
	}
	if req.DisplayName == "" {
		req.DisplayName = req.Name
	}
	e.mu.Lock()
	err := e.s.createProduct(req.Name, req.ApprovalType, req.Scopes, req, e.now())
	var snap productSnapshot
	if err == nil {
		snap = e.s.products[req.Name].snapshot()
	}
	e.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	return wr.createdStatus(), productBody(wr, snap), nil
}

// createApp creates the app with its one generated key; products in the
// request go onto that key, as in Apigee.
func (e *Emulator) createApp(wr wire, rt route, body []byte) (int, any, *apiError) {
	var req appRequest
	if err := decode(body, &req); err != nil {
		return 0, nil, err
	}
	n := newApp{name: req.Name, id: newUUID(), products: req.APIProducts, keyExpiresIn: req.KeyExpiresIn.v}
	if req.Attributes != nil {
		n.attributes = toAttributes(*req.Attributes)
	}
	if req.CallbackURL != nil {
		n.callbackURL = *req.CallbackURL
	}
	e.mu.Lock()
	a, err := e.s.createApp(rt.ref.developer, n, e.freshKey(), e.opts.KeyGenerator(), e.now())
	var snap appSnapshot
	if err == nil {
		snap = a.snapshot()
	}
	e.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	return wr.createdStatus(), wr.app(snap, true), nil
}

// getApp returns the app with its credentials, or with none right after
// creation when EmptyCredentialsAfterCreate asks for Apigee's lag, or as
// it was before a write inside the ReadLag window.
func (e *Emulator) getApp(wr wire, rt route, _ []byte) (int, any, *apiError) {
	e.mu.Lock()
	a, err := e.s.app(rt.ref.developer, rt.ref.app)
	var snap appSnapshot
	if err == nil {
		snap = a.readable(e.now())
	}
	e.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	lagging := e.now().Before(snap.CreatedAt.Add(e.opts.EmptyCredentialsAfterCreate))
	return http.StatusOK, wr.app(snap, !lagging), nil
}

// createKey imports a key. An omitted consumerKey or consumerSecret is
// generated, as Apigee does; an omitted or -1 expiresInSeconds never expires.
func (e *Emulator) createKey(wr wire, rt route, body []byte) (int, any, *apiError) {
	var req keyRequest
	if err := decode(body, &req); err != nil {
		return 0, nil, err
	}
	expires := int64(-1)
	if req.ExpiresInSeconds.set && req.ExpiresInSeconds.v != 0 {
		expires = req.ExpiresInSeconds.v
	}
	if wr.dialect() == Edge {
		// Edge applies no expiry to a key created with its own values: its
		// keys/create takes no expiry (Apigee staff on the community,
		// question 69537 / discuss.google.dev topic 15185).
		expires = -1
	}
	return e.keyResult(wr.createdKey, func() (*apigee.Credential, *apiError) {
		key, secret := req.ConsumerKey, req.ConsumerSecret
		if key == "" {
			key = e.freshKey()
		}
		if secret == "" {
			secret = e.opts.KeyGenerator()
		}
		return e.s.createKey(rt.ref.developer, rt.ref.app, key, secret, expires, e.now())
	}, wr.createdStatus(), true)
}

// getKey reads the key as the app reads it, lag included.
func (e *Emulator) getKey(wr wire, rt route, _ []byte) (int, any, *apiError) {
	return e.keyResult(wr.key, func() (*apigee.Credential, *apiError) {
		a, _, err := e.s.key(rt.ref)
		if err != nil {
			return nil, err
		}
		snap := a.readable(e.now())
		if c, ok := snap.Credential(rt.ref.key); ok {
			return c, nil
		}
		return nil, errKeyNotInApp()
	}, http.StatusOK, false)
}

// updateKey is POST K. Edge's reference marks apiProducts required there;
// attributes alone go through POST K/attributes.
func (e *Emulator) updateKey(wr wire, rt route, body []byte) (int, any, *apiError) {
	u, err := decodeKeyUpdate(body)
	if err != nil {
		return 0, nil, err
	}
	if wr.dialect() == Edge && len(u.products) == 0 {
		return 0, nil, errEdgeProductsRequired()
	}
	return e.keyResult(wr.key, func() (*apigee.Credential, *apiError) {
		return e.s.updateKey(rt.ref, u, e.now())
	}, http.StatusOK, true)
}

func (e *Emulator) replaceKey(wr wire, rt route, body []byte) (int, any, *apiError) {
	u, err := decodeKeyUpdate(body)
	if err != nil {
		return 0, nil, err
	}
	return e.keyResult(wr.key, func() (*apigee.Credential, *apiError) {
		return e.s.replaceKey(rt.ref, u, e.now())
	}, http.StatusOK, true)
}

func (e *Emulator) deleteKey(wr wire, rt route, _ []byte) (int, any, *apiError) {
	return e.keyResult(wr.key, func() (*apigee.Credential, *apiError) {
		return e.s.deleteKey(rt.ref, e.now())
	}, http.StatusOK, true)
}

func (e *Emulator) deleteKeyProduct(wr wire, rt route, _ []byte) (int, any, *apiError) {
	return e.keyResult(wr.key, func() (*apigee.Credential, *apiError) {
		return e.s.removeKeyProduct(rt.ref, rt.product, e.now())
	}, http.StatusOK, true)
}

// setKeyStatus ignores the body: clients send an empty octet-stream, or
// "{}" as application/json (the Go client's default); both are fine.
func (e *Emulator) setKeyStatus(wr wire, rt route, _ []byte) (int, any, *apiError) {
	action, err := parseAction(rt.action)
	if err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	c, err := e.s.setKeyStatus(rt.ref, action, e.now())
	var out apigee.Credential
	if err == nil {
		out = c.Clone()
	}
	e.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	status, v := wr.keyActionResponse(out)
	return status, v, nil
}

func (e *Emulator) setKeyProductStatus(wr wire, rt route, _ []byte) (int, any, *apiError) {
	action, err := parseAction(rt.action)
	if err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	err = e.s.setKeyProductStatus(rt.ref, rt.product, action, e.now())
	e.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	status, v := wr.productActionResponse()
	return status, v, nil
}

// keyResult runs a store call under the lock and renders the key it
// returns. A write's answer omits the secret under
// WriteAnswersWithoutSecret.
func (e *Emulator) keyResult(render func(apigee.Credential) any, f func() (*apigee.Credential, *apiError), status int, write bool) (int, any, *apiError) {
	e.mu.Lock()
	c, err := f()
	var out apigee.Credential
	if err == nil {
		out = c.Clone()
	}
	e.mu.Unlock()
	if write && e.opts.WriteAnswersWithoutSecret {
		out.ConsumerSecret = ""
	}
	if err != nil {
		return 0, nil, err
	}
	return status, render(out), nil
}

// setKeyAttributes is Edge's POST K/attributes {"attribute":[…]}: it
// replaces the key's attributes and answers with them (apigee-client-php
// AttributesAwareEntityControllerTrait::updateAttributes and its
// offline-test-data keys/{key}/attributes/POST.json).
func (e *Emulator) setKeyAttributes(_ wire, rt route, body []byte) (int, any, *apiError) {
	var req edgeAttributes
	if err := decode(body, &req); err != nil {
		return 0, nil, err
	}
	attrs := toAttributes(nonNil(req.Attribute))
	e.mu.Lock()
	out, err := e.s.setKeyAttributes(rt.ref, attrs, e.now())
	e.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, edgeAttributes{Attribute: attributes(out)}, nil
}

func parseAction(a string) (apigee.Action, *apiError) {
	switch apigee.Action(a) {
	case apigee.ActionApprove, apigee.ActionRevoke:
		return apigee.Action(a), nil
	}
	return "", errInvalid("keymanagement.service.InvalidAction", "Invalid action: expected approve or revoke")
}
