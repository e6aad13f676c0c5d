package emulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Issue 11: the wire shapes of the record, each pinned against a sample
// quoted (a few lines) from its public source.

// TestEdgeCreateAnswerOmitsExpiresAt pins Edge's keys/create answer to the
// sample in apigee/apigee-client-php
// tests/offline-test-data/v1/organizations/phpunit/developers/…/apps/
// phpunit_test_app/keys/create/POST.json:
//
//	{"apiProducts": [], "attributes": [], "consumerKey": "phpunit_test_app_key",
//	 "consumerSecret": "phpunit_test_app_secret", "issuedAt": 648345600000,
//	 "scopes": [], "status": "approved"}
func TestEdgeCreateAnswerOmitsExpiresAt(t *testing.T) {
	f := newFixture(t, nil)
	got := f.mustDo(t, Edge, 201, "POST", app1+"/keys/create", `{"consumerKey":"k1","consumerSecret":"s1"}`).json(t)
	var fields []string
	for k := range got {
		fields = append(fields, k)
	}
	want := []string{"apiProducts", "attributes", "consumerKey", "consumerSecret", "issuedAt", "scopes", "status"}
	if diff := cmp.Diff(want, fields, sorted); diff != "" {
		t.Errorf("fields of the create answer (-want +got):\n%s", diff)
	}
	if _, ok := f.mustDo(t, Edge, 200, "GET", keyPath("k1"), "").json(t)["expiresAt"]; !ok {
		t.Errorf("reads carry expiresAt (…/keys/{key}/GET.json: \"expiresAt\": -1)")
	}
}

var sorted = cmpopts.SortSlices(func(a, b string) bool { return a < b })

// TestEdgeKeyAttributesRoute pins POST K/attributes to apigee-client-php
// (AttributesAwareEntityControllerTrait::updateAttributes sends
// {"attribute": [...]}; …/keys/phpunit_test_app_key/attributes/POST.json
// answers {"attribute": [{"name": "foo", "value": "bar"}, …]}), and Edge's
// POST K without apiProducts (required by its reference) to a 400.
func TestEdgeKeyAttributesRoute(t *testing.T) {
	f := newFixture(t, nil)
	f.mustDo(t, Edge, 201, "POST", app1+"/keys/create", `{"consumerKey":"k1","consumerSecret":"s1"}`)
	got := f.mustDo(t, Edge, 200, "POST", keyPath("k1")+"/attributes", `{"attribute":[{"name":"foo","value":"bar"}]}`).json(t)
	want := map[string]any{"attribute": []any{map[string]any{"name": "foo", "value": "bar"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	r := f.do(t, Edge, "POST", keyPath("k1"), `{"attributes":[{"name":"a","value":"b"}]}`)
	if r.status != 400 || r.json(t)["code"] != "keymanagement.service.InvalidRequest" {
		t.Errorf("Edge POST K without apiProducts: %d %s", r.status, r.body)
	}
	f.mustDo(t, X, 404, "POST", keyPath("k1")+"/attributes", `{"attribute":[]}`)
	app, _ := f.emu.App("dev@example.com", "app1")
	if c, _ := app.Credential("k1"); len(c.Attributes) != 1 || c.Attributes[0].Name != "foo" {
		t.Errorf("attributes = %v", c.Attributes)
	}
}

// TestUndefinedScopes pins X's answer to a real one quoted on
// discuss.google.dev (topic 131289, "Invalid scope error"):
//
//	{"code": 400, "message": "Invalid scopes. Scopes must be contained in [modules:read, courses:read]",
//	 "status": "INVALID_ARGUMENT", "details": [{"@type": "type.googleapis.com/google.rpc.PreconditionFailure",
//	 "violations": [{"type": "keymanagement.service.InvalidScopes", "subject": "…", "description": "Invalid scopes. …"}]},
//	 {"@type": "type.googleapis.com/google.rpc.RequestInfo", "requestId": "4204281115099135940"}]}
//
// The reference (replaceDeveloperAppKey): scopes "must already be defined
// for the API products associated with the app". Edge: the same code.
func TestUndefinedScopes(t *testing.T) {
	const msg = "Invalid scopes. Scopes must be contained in [admin]"
	want := map[Dialect]map[string]any{
		X:    xErr(400, "INVALID_ARGUMENT", msg),
		Edge: edgeErr("keymanagement.service.InvalidScopes", msg),
	}
	want[X]["error"].(map[string]any)["details"] = []any{
		map[string]any{"@type": "type.googleapis.com/google.rpc.PreconditionFailure",
			"violations": []any{map[string]any{"type": "keymanagement.service.InvalidScopes", "subject": "", "description": msg}}},
		map[string]any{"@type": "type.googleapis.com/google.rpc.RequestInfo", "requestId": "ID"},
	}
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			f := newFixture(t, nil)
			f.mustDo(t, d, map[Dialect]int{X: 200, Edge: 201}[d], "POST", app1+"/keys/create", `{"consumerKey":"k1","consumerSecret":"s1"}`)
			r := f.do(t, d, "POST", keyPath("k1"), `{"apiProducts":["manual-p"],"scopes":["read"]}`)
			if diff := cmp.Diff(want[d], sameRequestID(r.json(t))); r.status != 400 || diff != "" {
				t.Errorf("scope of another product: status %d, body (-want +got):\n%s", r.status, diff)
			}
			f.mustDo(t, d, 200, "POST", keyPath("k1"), `{"apiProducts":["manual-p"],"scopes":["admin"]}`)
			f.mustDo(t, d, 400, "PUT", keyPath("k1"), `{"scopes":["admin","write"]}`)
			f.mustDo(t, d, 200, "PUT", keyPath("k1"), `{"scopes":[]}`)
		})
	}
}

// TestXEmailsLowerCase: X refuses a developer email with capitals (400
// "email address has to be lowercase") and finds none in a path. Edge
// keeps the email as written (apigee-edge-js test/developer.js creates
// "Last.First@…" developers and reads each listed email back unchanged;
// apigee/devrel issue 696: Edge exports carry capitals), refuses a second
// developer that differs only in case, and finds the email in any case
// unless EdgeEmailsExactCase.
func TestXEmailsLowerCase(t *testing.T) {
	f := newFixture(t, nil)
	const body = `{"email":"New@Example.com","firstName":"n","lastName":"n","userName":"n"}`
	r := f.do(t, X, "POST", "/developers", body)
	if r.status != 400 || !strings.Contains(string(r.body), "email address has to be lowercase") {
		t.Errorf("X create with capitals: %d %s", r.status, r.body)
	}
	dev := f.mustDo(t, Edge, 201, "POST", "/developers", body).json(t)
	if dev["email"] != "New@Example.com" {
		t.Errorf("Edge stored %v, want the email as written", dev["email"])
	}
	if got := f.mustDo(t, Edge, 200, "GET", "/developers/new@example.com", "").json(t); got["email"] != "New@Example.com" {
		t.Errorf("Edge read back %v", got["email"])
	}
	f.mustDo(t, Edge, 409, "POST", "/developers", `{"email":"new@EXAMPLE.com","firstName":"n","lastName":"n","userName":"n"}`)
	f.mustDo(t, X, 404, "GET", "/developers/DEV@example.com/apps/app1", "")
	f.mustDo(t, Edge, 200, "GET", "/developers/DEV@example.com/apps/app1", "")

	exact := newFixture(t, func(o *Options) { o.EdgeEmailsExactCase = true })
	exact.mustDo(t, Edge, 201, "POST", "/developers", body)
	exact.mustDo(t, Edge, 200, "GET", "/developers/New@Example.com", "")
	r = exact.do(t, Edge, "GET", "/developers/new@example.com", "")
	if r.status != 404 || !strings.Contains(string(r.body), "DeveloperId new@example.com does not exist") {
		t.Errorf("exact case, another case: %d %s", r.status, r.body)
	}
}

// TestXErrorDetails: X 404s carry a PreconditionFailure (the Edge-style
// code as violation type) and a RequestInfo; an unknown organization is
// Google's 403, e.g. `googleapi: Error 403: Permission denied on resource
// "organizations/apigee-sync-authorization"` (crossplane-contrib/
// provider-upjet-gcp issue 193).
func TestXErrorDetails(t *testing.T) {
	f := newFixture(t, nil)
	var body struct {
		Error struct {
			Details []map[string]any `json:"details"`
		} `json:"error"`
	}
	r := f.mustDo(t, X, 404, "GET", "/developers/dev@example.com/apps/nope", "")
	if err := json.Unmarshal(r.body, &body); err != nil || len(body.Error.Details) != 2 {
		t.Fatalf("details: %s", r.body)
	}
	types := []any{body.Error.Details[0]["@type"], body.Error.Details[1]["@type"]}
	if diff := cmp.Diff([]any{"type.googleapis.com/google.rpc.PreconditionFailure", "type.googleapis.com/google.rpc.RequestInfo"}, types); diff != "" {
		t.Errorf("detail types (-want +got):\n%s", diff)
	}
	r = f.mustDo(t, X, 403, "GET", "/v1/organizations/nope/developers/dev@example.com", "")
	if !strings.Contains(string(r.body), `Permission denied on resource \"organizations/nope\"`) {
		t.Errorf("unknown org: %s", r.body)
	}
}

// TestReadLagAndLimit: reads lag imports and product changes by ReadLag
// (on Clock); imports beyond MaxCredentialsPerApp answer 400.
func TestReadLagAndLimit(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.ReadLag = 2 * time.Second; o.MaxCredentialsPerApp = 2 })
	f.mustDo(t, X, 200, "POST", app1+"/keys/create", `{"consumerKey":"k1","consumerSecret":"s1"}`)
	f.mustDo(t, X, 404, "GET", keyPath("k1"), "")
	f.clock.Advance(2 * time.Second)
	f.mustDo(t, X, 200, "POST", keyPath("k1"), `{"apiProducts":["auto-p"]}`)
	if k := f.mustDo(t, X, 200, "GET", keyPath("k1"), "").json(t); k["apiProducts"] != nil {
		t.Errorf("a product added inside the lag is read already: %v", k["apiProducts"])
	}
	f.clock.Advance(2 * time.Second)
	if k := f.mustDo(t, X, 200, "GET", keyPath("k1"), "").json(t); k["apiProducts"] == nil {
		t.Errorf("the product is not read after the lag")
	}
	r := f.do(t, Edge, "POST", app1+"/keys/create", `{"consumerKey":"k2","consumerSecret":"s2"}`)
	if r.status != 400 || r.json(t)["code"] != "keymanagement.service.CredentialLimitExceeded" {
		t.Errorf("third key: %d %s", r.status, r.body)
	}
}

// TestTokenHandler: Edge's password grant (edgecli:edgeclisecret, as
// get_token sends it) at any zone's /oauth/token; a SAML passcode grant is
// refused, since one-time passcodes cannot be automated.
func TestTokenHandler(t *testing.T) {
	e := New(Options{BearerToken: "tok", BasicUser: "u", BasicPassword: "p"})
	srv := httptest.NewServer(e.TokenHandler())
	defer srv.Close()
	post := func(form url.Values, user, pass string) int {
		req, _ := http.NewRequest("POST", srv.URL+"/oauth/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(user, pass)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	ok := url.Values{"grant_type": {"password"}, "username": {"u"}, "password": {"p"}}
	if got := post(ok, "edgecli", "edgeclisecret"); got != 200 {
		t.Errorf("password grant = %d", got)
	}
	if got := post(ok, "other", "client"); got != 401 {
		t.Errorf("another client = %d", got)
	}
	passcode := url.Values{"grant_type": {"password"}, "response_type": {"token"}, "passcode": {"123456"}}
	if got := post(passcode, "edgecli", "edgeclisecret"); got != 401 {
		t.Errorf("passcode grant = %d", got)
	}
}

// TestSeedScopesLagLimit: seed.yaml sets product scopes, the read lag and
// the credential limit.
func TestSeedScopesLagLimit(t *testing.T) {
	s, err := ParseSeed([]byte("organization: o\nreadLag: 1500ms\nmaxCredentialsPerApp: 100\nproducts:\n- name: p\n  scopes: [read, write]\n"))
	if err != nil {
		t.Fatal(err)
	}
	o := s.Options()
	if o.ReadLag != 1500*time.Millisecond || o.MaxCredentialsPerApp != 100 {
		t.Errorf("options: lag %v limit %d", o.ReadLag, o.MaxCredentialsPerApp)
	}
	e := New(o)
	if _, err := e.Apply(s); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"read", "write"}, e.s.products["p"].scopes); diff != "" {
		t.Errorf("scopes (-want +got):\n%s", diff)
	}
	if _, err := ParseSeed([]byte("organization: o\nreadLag: soon\n")); err == nil {
		t.Errorf("a bad readLag was accepted")
	}
}
