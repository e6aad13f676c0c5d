package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// Issue 24: the emulator against clients nobody here wrote. These cases
// send what apigeetool, apigee-edge-js and apigee-apim send (through a
// logging proxy, 131 calls) and check the answers the public record shows.
// They run in X (bearer token) and Edge (Basic auth) where the call exists
// in both.

// wireDialects are X and Edge with Basic auth (Edge OAuth adds nothing on
// the wire once it has a token).
var wireDialects = dialects[:2]

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// call sends one request with the dialect's credentials to the org's base
// path; header holds name/value pairs.
func (e *env) call(t *testing.T, method, path, body string, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, e.url+"/v1/organizations/"+org+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if e.d.emulator == emulator.X {
		req.Header.Set("Authorization", "Bearer "+token)
	} else {
		req.SetBasicAuth(user, password)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		_ = dec.Decode(&a.body)
	}
	return a
}

// must is call that fails the test unless the status is want.
func (e *env) must(t *testing.T, want int, method, path, body string, header ...string) answer {
	t.Helper()
	a := e.call(t, method, path, body, header...)
	if a.status != want {
		t.Fatalf("%s %s %s: status %d, want %d; body %s", e.d.name, method, path, a.status, want, a.raw)
	}
	return a
}

// created is a create's status: Edge 201 (apigeetool's createdeveloper,
// createapp, createproduct and createappkey accept only 201), X 200 (the
// discovery document gives every create the resource as its 200 answer).
func created(d dialect) int {
	if d.emulator == emulator.Edge {
		return http.StatusCreated
	}
	return http.StatusOK
}

// int64Of reads an int64 field in either dialect's form (X strings, Edge
// numbers).
func int64Of(t *testing.T, v any) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(fmt.Sprint(v), &n); err != nil {
		t.Fatalf("not an int64: %#v", v)
	}
	return n
}

func attrs(v any) map[string]string {
	out := map[string]string{}
	list, _ := v.([]any)
	for _, a := range list {
		m, _ := a.(map[string]any)
		out[fmt.Sprint(m["name"])] = fmt.Sprint(m["value"])
	}
	return out
}

func credentialsOf(a map[string]any) []map[string]any {
	list, _ := a["credentials"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, c := range list {
		out = append(out, c.(map[string]any))
	}
	return out
}

// TestCreatesKeepWhatWasSent (items 5 and 6): developer attributes, app
// attributes and callbackUrl, product description, proxies and
// environments come back in the create answers (apigee-client-php
// offline-test-data developers/POST.json, …/apps/POST.json,
// apiproducts/POST.json); keyExpiresIn (milliseconds) sets the generated
// key's expiresAt (DeveloperApp.keyExpiresIn in the reference).
func TestCreatesKeepWhatWasSent(t *testing.T) {
	for _, d := range wireDialects {
		t.Run(d.name, func(t *testing.T) {
			e := newEnv(t, d, nil)
			dev := e.must(t, created(d), "POST", "/developers",
				`{"email":"mig@example.com","firstName":"M","lastName":"G","userName":"mg","attributes":[{"name":"tier","value":"gold"}]}`).body
			if attrs(dev["attributes"])["tier"] != "gold" {
				t.Errorf("developer attributes dropped: %v", dev)
			}
			p := e.must(t, created(d), "POST", "/apiproducts",
				`{"name":"p1","displayName":"P 1","description":"orders","approvalType":"auto","proxies":["orders-v1"],"environments":["test"],"attributes":[{"name":"access","value":"public"}]}`).body
			if p["description"] != "orders" || fmt.Sprint(p["proxies"]) != "[orders-v1]" || fmt.Sprint(p["environments"]) != "[test]" || attrs(p["attributes"])["access"] != "public" {
				t.Errorf("product fields dropped: %v", p)
			}
			app := e.must(t, created(d), "POST", "/developers/mig@example.com/apps",
				`{"name":"a1","apiProducts":["p1"],"callbackUrl":"https://cb.example","keyExpiresIn":3600000,"attributes":[{"name":"DisplayName","value":"A 1"}]}`).body
			if app["callbackUrl"] != "https://cb.example" || attrs(app["attributes"])["DisplayName"] != "A 1" {
				t.Errorf("app fields dropped: %v", app)
			}
			creds := credentialsOf(app)
			if len(creds) != 1 {
				t.Fatalf("generated keys: %d", len(creds))
			}
			issued, expires := int64Of(t, creds[0]["issuedAt"]), int64Of(t, creds[0]["expiresAt"])
			if expires != issued+3600000 {
				t.Errorf("keyExpiresIn ignored: issuedAt %d, expiresAt %d", issued, expires)
			}
			got := e.must(t, 200, "GET", "/developers/mig@example.com/apps/a1", "").body
			if got["callbackUrl"] != "https://cb.example" || int64Of(t, credentialsOf(got)[0]["expiresAt"]) != expires {
				t.Errorf("read back: %v", got)
			}
			e.must(t, 400, "POST", "/developers/mig@example.com/apps", `{"name":"a2","keyExpiresIn":-5}`)
		})
	}
}

// TestLifecycleRoutes (item 7): the calls a migration flow and the npm
// clients make beyond keys, in both dialects.
func TestLifecycleRoutes(t *testing.T) {
	for _, d := range wireDialects {
		t.Run(d.name, func(t *testing.T) {
			e := newEnv(t, d, nil)
			seed(t, e)
			const appPath = "/developers/" + developer + "/apps/" + app

			list := e.must(t, 200, "GET", "/developers/"+developer+"/apps", "")
			wantNames := map[emulator.Dialect]string{emulator.Edge: `["orders","other"]`}[d.emulator]
			if d.emulator == emulator.Edge && strings.TrimSpace(string(list.raw)) != wantNames {
				t.Errorf("Edge developer apps: %s, want the names", list.raw)
			}
			expanded := e.must(t, 200, "GET", "/developers/"+developer+"/apps?expand=true", "").body
			if apps, _ := expanded["app"].([]any); len(apps) != 2 {
				t.Errorf("expanded developer apps: %v", expanded)
			}

			a := e.must(t, 200, "GET", appPath, "").body
			byID := e.must(t, 200, "GET", "/apps/"+fmt.Sprint(a["appId"]), "").body
			if byID["name"] != app || len(credentialsOf(byID)) != 1 {
				t.Errorf("GET /apps/{id}: %v", byID)
			}
			e.must(t, 404, "GET", "/apps/no-such-id", "")

			gen := e.must(t, 200, "POST", appPath, `{"apiProducts":["auto1"],"keyExpiresIn":60000}`).body
			if creds := credentialsOf(gen); len(creds) != 2 || int64Of(t, creds[1]["expiresAt"]) != int64Of(t, creds[1]["issuedAt"])+60000 {
				t.Errorf("POST app generates a second key with its expiry: %v", gen)
			}

			revoked := e.must(t, 204, "POST", appPath+"?action=revoke", "", "Content-Type", "application/octet-stream")
			if len(revoked.raw) != 0 || e.must(t, 200, "GET", appPath, "").body["status"] != "revoked" {
				t.Errorf("app revoke: %d %s", revoked.status, revoked.raw)
			}
			e.must(t, 204, "POST", appPath+"?action=approve", "", "Content-Type", "application/octet-stream")

			upd := e.must(t, 200, "PUT", appPath, `{"name":"orders","attributes":[{"name":"Notes","value":"n"}],"callbackUrl":"https://new.example"}`).body
			if upd["callbackUrl"] != "https://new.example" || attrs(upd["attributes"])["Notes"] != "n" || len(credentialsOf(upd)) != 2 {
				t.Errorf("PUT app: %v", upd)
			}
			minted := e.must(t, 200, "PUT", appPath, `{"name":"orders","apiProducts":["auto2"]}`).body
			if len(credentialsOf(minted)) != 3 {
				t.Errorf("PUT app with a new product mints a key (docs/apigee-api.md): %d keys", len(credentialsOf(minted)))
			}

			e.must(t, 204, "POST", "/developers/"+developer+"?action=inactive", "", "Content-Type", "application/octet-stream")
			if st := e.must(t, 200, "GET", "/developers/"+developer, "").body["status"]; st != "inactive" {
				t.Errorf("developer status: %v", st)
			}
			e.must(t, 400, "POST", "/developers/"+developer+"?action=retired", "")

			if p := e.must(t, 200, "GET", "/apiproducts/auto1", "").body; p["name"] != "auto1" || p["approvalType"] != "auto" {
				t.Errorf("GET product: %v", p)
			}
			e.must(t, 404, "GET", "/apiproducts/nope", "")
			e.must(t, 409, "DELETE", "/apiproducts/auto1", "") // still on a key

			if del := e.must(t, 200, "DELETE", appPath, "").body; del["name"] != app {
				t.Errorf("DELETE app answers the app: %v", del)
			}
			e.must(t, 404, "GET", appPath, "")
			e.must(t, 200, "DELETE", "/apiproducts/auto1", "")
			if del := e.must(t, 200, "DELETE", "/developers/"+developer, "").body; del["email"] != developer {
				t.Errorf("DELETE developer answers the developer: %v", del)
			}
			e.must(t, 404, "GET", "/developers/"+developer, "")
			e.must(t, 404, "GET", "/developers/"+developer+"/apps/other", "")
		})
	}
}

// TestDeletedAppFreesItsKeys (item 7): a consumer key is unique in the
// org while its app exists; deleting the app frees it, so a migration can
// re-import it elsewhere.
func TestDeletedAppFreesItsKeys(t *testing.T) {
	for _, d := range wireDialects {
		t.Run(d.name, func(t *testing.T) {
			e := newEnv(t, d, nil)
			seed(t, e)
			body := `{"consumerKey":"` + key + `","consumerSecret":"` + secret + `"}`
			e.must(t, created(d), "POST", "/developers/"+developer+"/apps/"+app+"/keys/create", body)
			e.must(t, 409, "POST", "/developers/"+developer+"/apps/other/keys/create", body)
			e.must(t, 200, "DELETE", "/developers/"+developer+"/apps/"+app, "")
			e.must(t, created(d), "POST", "/developers/"+developer+"/apps/other/keys/create", body)
		})
	}
}

// TestEdgeOrganizationProperties (item 1): Edge's organization carries
// properties.property[] (a real org in apigee-client-php
// offline-test-data/v1/organizations/phpunit/GET.json); apigee-edge-js
// Organization.getProperties reads it.
func TestEdgeOrganizationProperties(t *testing.T) {
	e := newEnv(t, dialects[1], nil)
	o := e.must(t, 200, "GET", "", "").body
	props, _ := o["properties"].(map[string]any)
	if list, _ := props["property"].([]any); len(list) == 0 {
		t.Errorf("properties.property missing: %v", o)
	}
}

// TestEdgeExpandedAppsCarryCredentials (item 2): Edge's GET /apps?expand=true
// lists credentials without includeCred (apigee-edge-js AppCredential.find
// and its real-Edge test/appcredential.js "should find a previously added
// credential"); includeCred=false leaves them out. X keeps them behind
// includeCred=true (unconfirmed, the cautious reading).
func TestEdgeExpandedAppsCarryCredentials(t *testing.T) {
	for _, d := range wireDialects {
		t.Run(d.name, func(t *testing.T) {
			e := newEnv(t, d, nil)
			seed(t, e)
			count := func(query string) int {
				apps, _ := e.must(t, 200, "GET", "/apps?"+query, "").body["app"].([]any)
				n := 0
				for _, a := range apps {
					n += len(credentialsOf(a.(map[string]any)))
				}
				return n
			}
			want := map[emulator.Dialect]int{emulator.X: 0, emulator.Edge: 2}[d.emulator]
			if got := count("expand=true"); got != want {
				t.Errorf("expand=true: %d credentials, want %d", got, want)
			}
			if got := count("expand=true&includeCred=false"); got != 0 {
				t.Errorf("includeCred=false: %d credentials", got)
			}
			if got := count("expand=true&includeCred=true"); got != 2 {
				t.Errorf("includeCred=true: %d credentials", got)
			}
		})
	}
}

// TestPutKeyAddsProducts (item 3): PUT K with apiProducts adds them, as
// POST K does (apigee-edge-js addProduct PUTs {apiProducts:[p]} and its
// real-Edge test expects two products; apigeecli "apps keys update"
// relies on PUT associating products on X). The operator's SetScopes
// (PUT with scopes only) still leaves products alone.
func TestPutKeyAddsProducts(t *testing.T) {
	for _, d := range wireDialects {
		t.Run(d.name, func(t *testing.T) {
			e := newEnv(t, d, nil)
			f := seed(t, e)
			c := e.client(clientOptions{retry: fastRetries(1)})
			ctx := t.Context()
			if err := imported("auto1")(ctx, c); err != nil {
				t.Fatal(err)
			}
			k := e.must(t, 200, "PUT", "/developers/"+developer+"/apps/"+app+"/keys/"+key, `{"apiProducts":["manual1"]}`).body
			if ps, _ := k["apiProducts"].([]any); len(ps) != 2 {
				t.Fatalf("PUT K apiProducts: %v", k["apiProducts"])
			}
			got, err := c.SetScopes(ctx, f.ref, []string{"read"})
			if err != nil || len(got.Products) != 2 || got.Products[1].Status != "pending" {
				t.Errorf("SetScopes after PUT: %+v %v", got, err)
			}
		})
	}
}

// TestMediaTypes (item 8): a 204 carries no Content-Type; the emulator
// speaks JSON only and says so (Edge documents XML too): an XML body is
// 415, an Accept without JSON 406. Key actions take any Content-Type (the
// reference asks for application/octet-stream; the Go client sends
// application/json).
func TestMediaTypes(t *testing.T) {
	for _, d := range wireDialects {
		t.Run(d.name, func(t *testing.T) {
			e := newEnv(t, d, nil)
			seed(t, e)
			appPath := "/developers/" + developer + "/apps/" + app
			r := e.must(t, 204, "POST", appPath+"?action=revoke", "", "Content-Type", "application/octet-stream")
			if ct := r.header.Get("Content-Type"); ct != "" {
				t.Errorf("204 with Content-Type %q", ct)
			}
			e.must(t, 415, "POST", "/developers", `<Developer email="x@example.com"/>`, "Content-Type", "application/xml")
			e.must(t, 406, "GET", appPath, "", "Accept", "application/xml")
			e.must(t, 200, "GET", appPath, "", "Accept", "application/xml, application/json;q=0.5")
		})
	}
}
