package emulator

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// The rest of the developer and app lifecycle, as migration tools and the
// npm clients use it (issue 24): delete a developer or an app, list a
// developer's apps, read an app by id, approve or revoke an app, generate
// a key, update an app, set a developer's status. Sources per call are in
// docs/emulator.md (Fidelity, issue 24).

func init() {
	handlers[OpDeleteDeveloper] = (*Emulator).deleteDeveloper
	handlers[OpSetDeveloperStatus] = (*Emulator).setDeveloperStatus
	handlers[OpListDeveloperApps] = (*Emulator).listDeveloperApps
	handlers[OpDeleteApp] = (*Emulator).deleteApp
	handlers[OpUpdateApp] = (*Emulator).updateApp
	handlers[OpGenerateKey] = (*Emulator).generateKey
	handlers[OpSetAppStatus] = (*Emulator).setAppStatus
	handlers[OpGetAppByID] = (*Emulator).getAppByID
	handlers[OpGetProduct] = (*Emulator).getProduct
	handlers[OpDeleteProduct] = (*Emulator).deleteProduct
}

// deleteDeveloper removes the developer with its apps and their keys and
// answers the deleted developer (X: the Developer resource; apigeetool's
// deletedeveloper expects 200).
func (e *Emulator) deleteDeveloper(wr wire, rt route, _ []byte) (int, any, *apiError) {
	e.mu.Lock()
	d, err := e.s.developer(rt.ref.developer)
	var snap developerSnapshot
	if err == nil {
		snap = d.snapshot()
		e.s.deleteDeveloper(d)
	}
	e.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, wr.developer(snap, e.opts.Organization), nil
}

// setDeveloperStatus is POST /developers/{d}?action=active|inactive: 204
// (the setDeveloperStatus reference: "returns the following HTTP status
// code: 204 No Content"; Edge documents the same call).
func (e *Emulator) setDeveloperStatus(_ wire, rt route, _ []byte) (int, any, *apiError) {
	if rt.action != "active" && rt.action != "inactive" {
		return 0, nil, errInvalid("developer.service.InvalidAction", "Invalid action: expected active or inactive")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	d, err := e.s.developer(rt.ref.developer)
	if err != nil {
		return 0, nil, err
	}
	d.status, d.modifiedAt = rt.action, e.now()
	return http.StatusNoContent, nil, nil
}

// listDeveloperApps is GET /developers/{d}/apps: the app names (Edge: a
// bare array; X: {"app":[{"appId":…}]}), or with expand=true
// {"app":[…]} with credentials (apigee-client-php
// …/developers/{id}/apps/GET_expand=true.json).
func (e *Emulator) listDeveloperApps(wr wire, rt route, _ []byte) (int, any, *apiError) {
	e.mu.Lock()
	d, err := e.s.developer(rt.ref.developer)
	var apps []appSnapshot
	if err == nil {
		for _, a := range d.apps {
			apps = append(apps, a.readable(e.now()))
		}
	}
	e.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	expand := rt.query.Get("expand") == "true"
	items := make([]any, 0, len(apps))
	for _, a := range apps {
		items = append(items, listItem(wr, expand, wr.app(a, true), "appId", developerAppName(wr, a)))
	}
	return http.StatusOK, listBody(wr, expand, "app", items), nil
}

// developerAppName is an unexpanded list item: Edge lists app names, X
// app ids (unconfirmed for X; the ListDeveloperAppsResponse holds
// DeveloperApp objects).
func developerAppName(wr wire, a appSnapshot) string {
	if wr.dialect() == Edge {
		return a.Name
	}
	return a.AppID
}

// deleteApp removes the app and its keys and answers the deleted app.
func (e *Emulator) deleteApp(wr wire, rt route, _ []byte) (int, any, *apiError) {
	e.mu.Lock()
	snap, err := e.s.deleteApp(rt.ref.developer, rt.ref.app)
	e.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, wr.app(snap, true), nil
}

// setAppStatus is POST app?action=approve|revoke: 204 ("If successful, the
// API call returns … 204 No Content", generateKeyPairOrUpdateDeveloperAppStatus).
func (e *Emulator) setAppStatus(_ wire, rt route, _ []byte) (int, any, *apiError) {
	action, err := parseAction(rt.action)
	if err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a, err := e.s.app(rt.ref.developer, rt.ref.app)
	if err != nil {
		return 0, nil, err
	}
	a.status, a.modifiedAt = statusOf(action), e.now()
	return http.StatusNoContent, nil, nil
}

// generateKey is POST app without ?action=: a new generated key with the
// listed products and keyExpiresIn (milliseconds), answered with the app
// (the reference: "Rather than replace an existing key, this API generates
// a new key"; apigee-edge-js appcredential add sends {apiProducts,
// attributes, keyExpiresIn}). Other fields of the body are not applied to
// the app (unconfirmed).
func (e *Emulator) generateKey(wr wire, rt route, body []byte) (int, any, *apiError) {
	var req appRequest
	if err := decode(body, &req); err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	snap, err := e.s.generateKey(rt.ref.developer, rt.ref.app, req.APIProducts, req.KeyExpiresIn.v,
		e.freshKey(), e.opts.KeyGenerator(), e.now())
	e.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, wr.app(snap, true), nil
}

// updateApp is PUT app: attributes replaced when present (the reference:
// "replaces the existing attributes"), callbackUrl set when present;
// products the app did not have mint a new key carrying them ("add an API
// product to a developer app and automatically generate an API key").
func (e *Emulator) updateApp(wr wire, rt route, body []byte) (int, any, *apiError) {
	var req appRequest
	if err := decode(body, &req); err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	snap, err := e.s.updateApp(rt.ref, req, e.freshKey(), e.opts.KeyGenerator(), e.now())
	e.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, wr.app(snap, true), nil
}

// getAppByID is GET /apps/{id}: the app with its credentials, as in the
// organization's apps list (apigee-client-php …/apps/{id}/GET.json).
func (e *Emulator) getAppByID(wr wire, rt route, _ []byte) (int, any, *apiError) {
	e.mu.Lock()
	a := e.s.appByID(rt.appID)
	var snap appSnapshot
	if a != nil {
		snap = a.readable(e.now())
	}
	e.mu.Unlock()
	if a == nil {
		return 0, nil, errAppIDNotFound(rt.appID)
	}
	return http.StatusOK, listedApp(wr, snap), nil
}

// --- store -------------------------------------------------------------------

func (s *store) deleteDeveloper(d *developer) {
	for _, a := range d.apps {
		s.forgetKeys(a)
	}
	delete(s.developers, d.id)
	delete(s.emails, strings.ToLower(d.email))
}

func (s *store) deleteApp(devRef, name string) (appSnapshot, *apiError) {
	a, err := s.app(devRef, name)
	if err != nil {
		return appSnapshot{}, err
	}
	d := s.developers[a.developerID]
	snap := a.snapshot()
	s.forgetKeys(a)
	d.apps = slices.DeleteFunc(d.apps, func(x *app) bool { return x == a })
	return snap, nil
}

// forgetKeys frees the app's consumer keys for reuse in the org.
func (s *store) forgetKeys(a *app) {
	for _, c := range a.creds {
		delete(s.keys, c.ConsumerKey)
	}
}

func (s *store) appByID(id string) *app {
	for _, d := range s.developers {
		for _, a := range d.apps {
			if a.id == id {
				return a
			}
		}
	}
	return nil
}

// generateKey adds a generated key with the products to the app.
func (s *store) generateKey(devRef, name string, products []string, expiresInMs int64, key, secret string, now time.Time) (appSnapshot, *apiError) {
	a, err := s.app(devRef, name)
	if err != nil {
		return appSnapshot{}, err
	}
	if err := s.mintKey(a, products, expiresInMs, key, secret, now); err != nil {
		return appSnapshot{}, err
	}
	return a.snapshot(), nil
}

// mintKey checks and adds one generated key carrying products.
func (s *store) mintKey(a *app, products []string, expiresInMs int64, key, secret string, now time.Time) *apiError {
	if err := s.checkProducts(products); err != nil {
		return err
	}
	if err := checkKeyExpiresIn(expiresInMs); err != nil {
		return err
	}
	if s.maxCreds > 0 && len(a.creds) >= s.maxCreds {
		return errCredentialLimit(s.maxCreds)
	}
	s.beginLag(a, now)
	c := s.addKey(a, key, secret, now, 0)
	c.ExpiresAt = generatedKeyExpiry(now, expiresInMs)
	s.addProducts(c, products)
	return nil
}

func (s *store) updateApp(ref keyRef, req appRequest, key, secret string, now time.Time) (appSnapshot, *apiError) {
	a, err := s.app(ref.developer, ref.app)
	if err != nil {
		return appSnapshot{}, err
	}
	if err := s.checkProducts(req.APIProducts); err != nil {
		return appSnapshot{}, err
	}
	if added := newProducts(a.products, req.APIProducts); len(added) > 0 {
		if err := s.mintKey(a, added, req.KeyExpiresIn.v, key, secret, now); err != nil {
			return appSnapshot{}, err
		}
		a.products = append(a.products, added...)
	}
	if req.Attributes != nil {
		a.attributes = toAttributes(*req.Attributes)
	}
	if req.CallbackURL != nil {
		a.callbackURL = *req.CallbackURL
	}
	a.modifiedAt = now
	return a.snapshot(), nil
}

// newProducts are the names in want that have is missing, once each.
func newProducts(have, want []string) []string {
	var out []string
	for _, p := range want {
		if !slices.Contains(have, p) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
