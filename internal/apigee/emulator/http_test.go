package emulator

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestWireFormat pins the body shapes: X sends int64s as strings and omits
// empty lists, Edge sends numbers and []. Every response is JSON.
func TestWireFormat(t *testing.T) {
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			f := newFixture(t, nil)
			created := f.mustDo(t, d, map[Dialect]int{X: 200, Edge: 201}[d], "POST", app1+"/keys/create",
				`{"consumerKey":"imported-key_1","consumerSecret":"imported-secret","expiresInSeconds":3600}`)
			wantKey := createdWireKey(d, "imported-key_1", "imported-secret", t0ms, t0ms+3600_000)
			if diff := cmp.Diff(wantKey, created.json(t)); diff != "" {
				t.Errorf("created key (-want +got):\n%s", diff)
			}

			f.mustDo(t, d, 200, "POST", keyPath("imported-key_1"), `{"apiProducts":["auto-p"],"attributes":[{"name":"tier","value":"gold"}]}`)
			got := f.mustDo(t, d, 200, "GET", keyPath("imported-key_1"), "")
			expires := int64(t0ms + 3600_000)
			if d == Edge {
				expires = -1 // Edge applies no expiry to an imported key
			}
			wantKey = wireKey(d, "imported-key_1", "imported-secret", "approved", t0ms, expires,
				list(prodRef("auto-p", "approved")), list(map[string]any{"name": "tier", "value": "gold"}), nil)
			if diff := cmp.Diff(wantKey, got.json(t)); diff != "" {
				t.Errorf("GET key (-want +got):\n%s", diff)
			}
			if ct := got.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}

			app := f.mustDo(t, d, 200, "GET", app1, "").json(t)
			creds, _ := app["credentials"].([]any)
			if len(creds) != 2 {
				t.Fatalf("app credentials = %d, want the generated key and the imported one", len(creds))
			}
			if diff := cmp.Diff(wantKey, creds[1]); diff != "" {
				t.Errorf("app credential (-want +got):\n%s", diff)
			}
			for _, field := range []string{"createdAt", "lastModifiedAt"} {
				if d == X {
					if _, ok := app[field].(string); !ok {
						t.Errorf("X app %s = %#v, want a string", field, app[field])
					}
				} else if _, ok := app[field].(json.Number); !ok {
					t.Errorf("Edge app %s = %#v, want a number", field, app[field])
				}
			}
			if _, present := app["attributes"]; present != (d == Edge) {
				t.Errorf("empty app attributes present = %v, want %v (X omits, Edge [])", present, d == Edge)
			}
		})
	}
}

// TestKeyBehaviour follows docs/apigee-api.md "The key resource" rule by
// rule, in both dialects.
func TestKeyBehaviour(t *testing.T) {
	type step struct {
		method, path, body string
		status             map[Dialect]int // nil: 200 in both
	}
	tests := []struct {
		name  string
		why   string
		steps []step
		// want is the key after the steps; nil skips the check.
		wantStatus   string
		wantProducts []any
		wantAttrs    []any
		wantScopes   []any
		wantExpires  int64
	}{
		{
			name: "create starts approved without products",
			why:  "create ignores status:revoked and apiProducts; a second call is needed",
			steps: []step{{method: "POST", path: app1 + "/keys/create",
				body:   `{"consumerKey":"k1","consumerSecret":"s1","status":"revoked","apiProducts":["auto-p"]}`,
				status: map[Dialect]int{X: 200, Edge: 201}}},
			wantStatus: "approved", wantExpires: -1,
		},
		{
			name: "expiresInSeconds as X string",
			why:  "expiresAt = issuedAt + expiresInSeconds*1000; X clients send int64 as strings",
			steps: []step{{method: "POST", path: app1 + "/keys/create", body: `{"consumerKey":"k1","consumerSecret":"s1","expiresInSeconds":"86400"}`,
				status: map[Dialect]int{X: 200, Edge: 201}}},
			wantStatus: "approved", wantExpires: t0ms + 86400_000,
		},
		{
			name: "expiresInSeconds -1 never expires",
			why:  "-1 means never: expiresAt -1",
			steps: []step{{method: "POST", path: app1 + "/keys/create", body: `{"consumerKey":"k1","consumerSecret":"s1","expiresInSeconds":-1}`,
				status: map[Dialect]int{X: 200, Edge: 201}}},
			wantStatus: "approved", wantExpires: -1,
		},
		{
			name: "manual product enters pending, auto approved, duplicates ignored",
			why:  "approval type decides the status; POST K appends and ignores products already there",
			steps: []step{
				{method: "POST", path: app1 + "/keys/create", body: `{"consumerKey":"k1","consumerSecret":"s1"}`, status: map[Dialect]int{X: 200, Edge: 201}},
				{method: "POST", path: keyPath("k1"), body: `{"apiProducts":["auto-p"]}`},
				{method: "POST", path: keyPath("k1"), body: `{"apiProducts":["manual-p","auto-p"]}`},
			},
			wantStatus:   "approved",
			wantProducts: list(prodRef("auto-p", "approved"), prodRef("manual-p", "pending")),
			wantExpires:  -1,
		},
		{
			name: "removing and re-adding a manual product resets it to pending",
			why:  "the reason clients must never remove-all-then-re-add",
			steps: []step{
				{method: "POST", path: app1 + "/keys/create", body: `{"consumerKey":"k1","consumerSecret":"s1"}`, status: map[Dialect]int{X: 200, Edge: 201}},
				{method: "POST", path: keyPath("k1"), body: `{"apiProducts":["manual-p"]}`},
				{method: "POST", path: keyPath("k1") + "/apiproducts/manual-p?action=approve", status: map[Dialect]int{X: 200, Edge: 204}},
				{method: "DELETE", path: keyPath("k1") + "/apiproducts/manual-p"},
				{method: "POST", path: keyPath("k1"), body: `{"apiProducts":["manual-p"]}`},
			},
			wantStatus: "approved", wantProducts: list(prodRef("manual-p", "pending")), wantExpires: -1,
		},
		{
			name: "attributes replaced when present, kept when absent; scopes replaced when present",
			why:  "POST K replaces attributes wholesale only if the field is sent",
			steps: []step{
				{method: "POST", path: app1 + "/keys/create", body: `{"consumerKey":"k1","consumerSecret":"s1"}`, status: map[Dialect]int{X: 200, Edge: 201}},
				{method: "POST", path: keyPath("k1"), body: `{"apiProducts":["auto-p"],"attributes":[{"name":"a","value":"1"},{"name":"b","value":"2"}],"scopes":["s1"]}`},
				{method: "POST", path: keyPath("k1"), body: `{"apiProducts":["auto-p"],"attributes":[{"name":"c","value":"3"}]}`},
				{method: "POST", path: keyPath("k1"), body: `{"apiProducts":["auto-p"]}`},
			},
			wantStatus: "approved", wantProducts: list(prodRef("auto-p", "approved")),
			wantAttrs: list(map[string]any{"name": "c", "value": "3"}), wantScopes: list("s1"), wantExpires: -1,
		},
		{
			name: "PUT replaces scopes and appends apiProducts",
			why:  "PUT appends listed products as POST does (apigee-edge-js addProduct and its real-Edge test; apigeecli apps keys update on X)",
			steps: []step{
				{method: "POST", path: app1 + "/keys/create", body: `{"consumerKey":"k1","consumerSecret":"s1"}`, status: map[Dialect]int{X: 200, Edge: 201}},
				{method: "POST", path: keyPath("k1"), body: `{"apiProducts":["manual-p"],"scopes":["admin"],"attributes":[{"name":"a","value":"1"}]}`},
				{method: "PUT", path: keyPath("k1"), body: `{"scopes":["admin"],"apiProducts":["auto-p"]}`},
			},
			wantStatus: "approved", wantAttrs: list(map[string]any{"name": "a", "value": "1"}),
			wantProducts: list(prodRef("manual-p", "pending"), prodRef("auto-p", "approved")),
			wantScopes:   list("admin"), wantExpires: -1,
		},
		{
			name: "revoke key, then revoke one product",
			why:  "X answers the key action with the key, Edge with 204; product action X {} / Edge 204",
			steps: []step{
				{method: "POST", path: app1 + "/keys/create", body: `{"consumerKey":"k1","consumerSecret":"s1"}`, status: map[Dialect]int{X: 200, Edge: 201}},
				{method: "POST", path: keyPath("k1"), body: `{"apiProducts":["auto-p","manual-p"]}`},
				{method: "POST", path: keyPath("k1") + "?action=revoke", status: map[Dialect]int{X: 200, Edge: 204}},
				{method: "POST", path: keyPath("k1") + "/apiproducts/auto-p?action=revoke", status: map[Dialect]int{X: 200, Edge: 204}},
			},
			wantStatus: "revoked", wantProducts: list(prodRef("auto-p", "revoked"), prodRef("manual-p", "pending")), wantExpires: -1,
		},
	}
	for _, tc := range tests {
		for _, d := range dialects {
			t.Run(tc.name+"/"+string(d), func(t *testing.T) {
				f := newFixture(t, nil)
				for _, s := range tc.steps {
					want := 200
					if s.status != nil {
						want = s.status[d]
					}
					f.mustDo(t, d, want, s.method, s.path, s.body)
				}
				got := f.mustDo(t, d, 200, "GET", keyPath("k1"), "").json(t)
				expires := tc.wantExpires
				if d == Edge {
					expires = -1 // Edge applies no expiry to an imported key
				}
				want := wireKey(d, "k1", "s1", tc.wantStatus, t0ms, expires, tc.wantProducts, tc.wantAttrs, tc.wantScopes)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s\nkey (-want +got):\n%s", tc.why, diff)
				}
			})
		}
	}
}

// TestStatusCallResponses pins status codes and bodies of the calls whose
// answers differ between the dialects.
func TestStatusCallResponses(t *testing.T) {
	tests := []struct {
		name, method, path, body, contentType string
		why                                   string
		want                                  map[Dialect]int
		wantBody                              map[Dialect]string // "" = no body; "key" = a key object
	}{
		{name: "key action, octet-stream empty body", method: "POST", path: keyPath("k1") + "?action=revoke", contentType: "application/octet-stream",
			why: "what X clients send", want: map[Dialect]int{X: 200, Edge: 204}, wantBody: map[Dialect]string{X: "key", Edge: ""}},
		{name: "key action, JSON {} (Go client default)", method: "POST", path: keyPath("k1") + "?action=approve&alt=json&prettyPrint=false", body: "{}", contentType: "application/json",
			why: "the official Go client sends {} as application/json", want: map[Dialect]int{X: 200, Edge: 204}, wantBody: map[Dialect]string{X: "key", Edge: ""}},
		{name: "product action", method: "POST", path: keyPath("k1") + "/apiproducts/auto-p?action=approve", contentType: "application/octet-stream",
			why: "X answers {}, Edge 204", want: map[Dialect]int{X: 200, Edge: 204}, wantBody: map[Dialect]string{X: "{}", Edge: ""}},
		{name: "remove product returns the key", method: "DELETE", path: keyPath("k1") + "/apiproducts/auto-p",
			why: "both answer 200 with the key", want: map[Dialect]int{X: 200, Edge: 200}, wantBody: map[Dialect]string{X: "key", Edge: "key"}},
		{name: "delete key returns the deleted key", method: "DELETE", path: keyPath("k1"),
			why: "both answer 200 with the key", want: map[Dialect]int{X: 200, Edge: 200}, wantBody: map[Dialect]string{X: "key", Edge: "key"}},
	}
	for _, tc := range tests {
		for _, d := range dialects {
			t.Run(tc.name+"/"+string(d), func(t *testing.T) {
				f := newFixture(t, nil)
				f.mustDo(t, d, map[Dialect]int{X: 200, Edge: 201}[d], "POST", app1+"/keys/create", `{"consumerKey":"k1","consumerSecret":"s1"}`)
				f.mustDo(t, d, 200, "POST", keyPath("k1"), `{"apiProducts":["auto-p"]}`)
				r := f.do(t, d, tc.method, tc.path, tc.body, "Content-Type", tc.contentType)
				if r.status != tc.want[d] {
					t.Fatalf("%s: status %d, want %d; body %s", tc.why, r.status, tc.want[d], r.body)
				}
				switch wb := tc.wantBody[d]; wb {
				case "":
					if len(r.body) != 0 {
						t.Errorf("%s: body %q, want none", tc.why, r.body)
					}
				case "key":
					if got := r.json(t)["consumerKey"]; got != "k1" {
						t.Errorf("%s: body %s, want the key", tc.why, r.body)
					}
				default:
					if string(r.body) != wb {
						t.Errorf("%s: body %q, want %q", tc.why, r.body, wb)
					}
				}
				// A 204 carries no content, so no Content-Type either.
				wantCT := "application/json"
				if r.status == 204 {
					wantCT = ""
				}
				if ct := r.header.Get("Content-Type"); ct != wantCT {
					t.Errorf("Content-Type %q, want %q", ct, wantCT)
				}
			})
		}
	}
}

func TestDeletedKeyIsGone(t *testing.T) {
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			f := newFixture(t, nil)
			f.mustDo(t, d, map[Dialect]int{X: 200, Edge: 201}[d], "POST", app1+"/keys/create", `{"consumerKey":"k1","consumerSecret":"s1"}`)
			f.mustDo(t, d, 200, "DELETE", keyPath("k1"), "")
			f.mustDo(t, d, 404, "GET", keyPath("k1"), "")
			// The key is free again: a deleted key can be re-imported, even in another app.
			f.mustDo(t, d, map[Dialect]int{X: 200, Edge: 201}[d], "POST", "/developers/dev@example.com/apps/app2/keys/create", `{"consumerKey":"k1","consumerSecret":"s1"}`)
		})
	}
}

func TestCreateKeyPaths(t *testing.T) {
	tests := []struct {
		name, path string
		want       map[Dialect]int
		why        string
	}{
		{"keys/create", app1 + "/keys/create", map[Dialect]int{X: 200, Edge: 201}, "both dialects; Edge answers 201"},
		{"keys", app1 + "/keys", map[Dialect]int{X: 200, Edge: 404}, "POST …/keys is the X alias only"},
	}
	for _, tc := range tests {
		for _, d := range dialects {
			t.Run(tc.name+"/"+string(d), func(t *testing.T) {
				f := newFixture(t, nil)
				if r := f.do(t, d, "POST", tc.path, `{"consumerKey":"k1","consumerSecret":"s1"}`); r.status != tc.want[d] {
					t.Errorf("%s: status %d, want %d", tc.why, r.status, tc.want[d])
				}
			})
		}
	}
}

// TestCreateKeyGeneratesOmittedValues: real Apigee generates a key or
// secret the request leaves out.
func TestCreateKeyGeneratesOmittedValues(t *testing.T) {
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			f := newFixture(t, nil)
			got := f.mustDo(t, d, map[Dialect]int{X: 200, Edge: 201}[d], "POST", app1+"/keys/create", `{}`).json(t)
			key, _ := got["consumerKey"].(string)
			secret, _ := got["consumerSecret"].(string)
			if !strings.HasPrefix(key, "gen") || !strings.HasPrefix(secret, "gen") || key == secret {
				t.Errorf("generated key %q secret %q, want two distinct generated values", key, secret)
			}
		})
	}
}

func TestDefaultKeyGenerator(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		k := randomKey()
		if len(k) != 32 || !keyChars.MatchString(k) || seen[k] {
			t.Fatalf("randomKey() = %d chars, valid=%v, repeated=%v; want 32 new letters/digits", len(k), keyChars.MatchString(k), seen[k])
		}
		seen[k] = true
	}
}

func TestEdgeAlias(t *testing.T) {
	tests := []struct {
		d    Dialect
		want int
		why  string
	}{
		{Edge, 200, "Edge serves /v1/o/{org} as well"},
		{X, 404, "X has no /v1/o alias"},
	}
	for _, tc := range tests {
		t.Run(string(tc.d), func(t *testing.T) {
			f := newFixture(t, nil)
			if r := f.do(t, tc.d, "GET", "/v1/o/acme"+app1, ""); r.status != tc.want {
				t.Errorf("%s: status %d, want %d", tc.why, r.status, tc.want)
			}
		})
	}
}

// TestSharedState: a key imported through X is visible through Edge.
func TestSharedState(t *testing.T) {
	f := newFixture(t, nil)
	f.mustDo(t, X, 200, "POST", app1+"/keys", `{"consumerKey":"k1","consumerSecret":"s1"}`)
	f.mustDo(t, Edge, 200, "GET", keyPath("k1"), "")
	f.mustDo(t, Edge, 409, "POST", app1+"/keys/create", `{"consumerKey":"k1","consumerSecret":"s1"}`)
}

func TestDeveloperByIDOrEmail(t *testing.T) {
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			f := newFixture(t, nil)
			for _, ref := range []string{"dev@example.com", "DEV@example.com", f.devID} {
				if d == X && ref == "DEV@example.com" {
					continue // see TestXEmailsLowerCase
				}
				dev := f.mustDo(t, d, 200, "GET", "/developers/"+ref, "").json(t)
				if dev["developerId"] != f.devID || dev["email"] != "dev@example.com" {
					t.Errorf("GET developer %s = %v", ref, dev)
				}
				f.mustDo(t, d, 200, "GET", "/developers/"+ref+"/apps/app1", "")
			}
		})
	}
}

func TestOrganization(t *testing.T) {
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			f := newFixture(t, nil)
			org := f.mustDo(t, d, 200, "GET", "", "").json(t)
			if org["name"] != "acme" || org["createdAt"] != num(d, t0ms) {
				t.Errorf("organization = %v", org)
			}
		})
	}
}

// TestCreateResources: developers, products and apps can be created over
// HTTP (demos); a new app has one generated key carrying the products sent.
func TestCreateResources(t *testing.T) {
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			f := newFixture(t, nil)
			created := map[Dialect]int{X: 200, Edge: 201}[d]
			f.mustDo(t, d, created, "POST", "/developers", `{"email":"new@example.com","firstName":"N","lastName":"E","userName":"ne"}`)
			f.mustDo(t, d, 409, "POST", "/developers", `{"email":"new@example.com"}`)
			f.mustDo(t, d, created, "POST", "/apiproducts", `{"name":"gold","approvalType":"manual"}`)
			f.mustDo(t, d, 409, "POST", "/apiproducts", `{"name":"gold"}`)
			app := f.mustDo(t, d, created, "POST", "/developers/new@example.com/apps", `{"name":"shop","apiProducts":["gold"]}`).json(t)
			creds, _ := app["credentials"].([]any)
			if len(creds) != 1 {
				t.Fatalf("new app credentials = %v, want one generated key", app["credentials"])
			}
			cred := creds[0].(map[string]any)
			if diff := cmp.Diff([]any{prodRef("gold", "pending")}, cred["apiProducts"]); diff != "" {
				t.Errorf("generated key products (-want +got):\n%s", diff)
			}
			f.mustDo(t, d, 409, "POST", "/developers/new@example.com/apps", `{"name":"shop"}`)
			f.mustDo(t, d, 400, "POST", "/developers/new@example.com/apps", `{"name":"shop2","apiProducts":["nope"]}`)
			f.mustDo(t, d, 404, "POST", "/developers/nobody@example.com/apps", `{"name":"x"}`)
		})
	}
}

// TestEmptyCredentialsAfterCreate: the quirk toggle hides credentials of a
// freshly created app for a while.
func TestEmptyCredentialsAfterCreate(t *testing.T) {
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.EmptyCredentialsAfterCreate = 10 * time.Second })
			f.clock.Advance(time.Minute) // fixture apps are old now
			f.mustDo(t, d, map[Dialect]int{X: 200, Edge: 201}[d], "POST", "/developers/dev@example.com/apps", `{"name":"fresh"}`)
			countCreds := func() (int, bool) {
				app := f.mustDo(t, d, 200, "GET", "/developers/dev@example.com/apps/fresh", "").json(t)
				c, present := app["credentials"].([]any)
				return len(c), present
			}
			if n, present := countCreds(); n != 0 || present != (d == Edge) {
				t.Errorf("right after create: %d credentials (field present %v), want none (Edge: [])", n, present)
			}
			f.clock.Advance(11 * time.Second)
			if n, _ := countCreds(); n != 1 {
				t.Errorf("after the lag: %d credentials, want 1", n)
			}
			if n := len(f.mustDo(t, d, 200, "GET", app1, "").json(t)["credentials"].([]any)); n != 1 {
				t.Errorf("old app: %d credentials, want 1 (the quirk applies to new apps only)", n)
			}
		})
	}
}

func TestXKeyActionNoContent(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.XKeyActionNoContent = true })
	f.mustDo(t, X, 200, "POST", app1+"/keys", `{"consumerKey":"k1","consumerSecret":"s1"}`)
	r := f.mustDo(t, X, http.StatusNoContent, "POST", keyPath("k1")+"?action=revoke", "")
	if len(r.body) != 0 {
		t.Errorf("body %q, want none", r.body)
	}
}

// TestTooBigBody: a body over 1 MiB is refused, whole, before anything is
// changed (the emulator reads bodies before any injected latency).
func TestTooBigBody(t *testing.T) {
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			f := newFixture(t, nil)
			big := `{"consumerKey":"k","consumerSecret":"s","attributes":[{"name":"pad","value":"` + strings.Repeat("x", maxBody) + `"}]}`
			f.mustDo(t, d, 400, "POST", app1+"/keys/create", big)
			f.mustDo(t, d, 404, "GET", keyPath("k"), "") // not created
		})
	}
}
