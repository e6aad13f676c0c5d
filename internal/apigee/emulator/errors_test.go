package emulator

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// xErr and edgeErr are the two error formats of docs/apigee-api.md.
func xErr(code int, status, message string) map[string]any {
	return map[string]any{"error": map[string]any{"code": json.Number(fmt.Sprint(code)), "message": message, "status": status}}
}

// xNotFound is an X 404 as real X answers it: a PreconditionFailure whose
// violation type is the Edge-style code, and a RequestInfo (its random
// requestId compared as "ID", see sameRequestID).
func xNotFound(message, code, subject string) map[string]any {
	m := xErr(404, "NOT_FOUND", message)
	m["error"].(map[string]any)["details"] = []any{
		map[string]any{"@type": "type.googleapis.com/google.rpc.PreconditionFailure",
			"violations": []any{map[string]any{"type": code, "subject": subject, "description": message}}},
		map[string]any{"@type": "type.googleapis.com/google.rpc.RequestInfo", "requestId": "ID"},
	}
	return m
}

// sameRequestID replaces the requestId of X error details by "ID".
func sameRequestID(body map[string]any) map[string]any {
	e, _ := body["error"].(map[string]any)
	details, _ := e["details"].([]any)
	for _, d := range details {
		if m, ok := d.(map[string]any); ok && m["requestId"] != nil {
			m["requestId"] = "ID"
		}
	}
	return body
}

func edgeErr(code, message string) map[string]any {
	return map[string]any{"code": code, "message": message, "contexts": []any{}}
}

// TestErrorTable sends each error case of docs/apigee-api.md's table (and
// the emulator's own validation) to both dialects and compares the status
// and the whole body.
func TestErrorTable(t *testing.T) {
	const dup = `{"consumerKey":"taken-key","consumerSecret":"s"}`
	long := strings.Repeat("k", 2049)
	tests := []struct {
		name               string
		why                string
		method, path, body string
		xStatus, edgeHTTP  int
		xBody, edgeBody    map[string]any
		xOnly              bool // Edge takes no expiry on import, so cannot refuse one
	}{
		{
			name: "duplicate key in the same app", why: "keys are unique in the org",
			method: "POST", path: app1 + "/keys/create", body: dup,
			xStatus: 409, edgeHTTP: 409,
			xBody: map[string]any{"error": map[string]any{"code": json.Number("409"), "message": "ConsumerKey already exists", "status": "ABORTED",
				"details": []any{map[string]any{"@type": "type.googleapis.com/google.rpc.PreconditionFailure",
					"violations": []any{map[string]any{"type": "keymanagement.service.ConsumerKeyAlreadyExists",
						"subject": "organizations/acme/developers/dev@example.com/apps/app1"}}}}}},
			edgeBody: edgeErr("keymanagement.service.ConsumerKeyAlreadyExists", "ConsumerKey already exists"),
		},
		{
			name: "duplicate key in another developer's app", why: "uniqueness is org-wide, not per app",
			method: "POST", path: "/developers/other@example.com/apps/app3/keys/create", body: dup,
			xStatus: 409, edgeHTTP: 409,
			xBody: map[string]any{"error": map[string]any{"code": json.Number("409"), "message": "ConsumerKey already exists", "status": "ABORTED",
				"details": []any{map[string]any{"@type": "type.googleapis.com/google.rpc.PreconditionFailure",
					"violations": []any{map[string]any{"type": "keymanagement.service.ConsumerKeyAlreadyExists",
						"subject": "organizations/acme/developers/other@example.com/apps/app3"}}}}}},
			edgeBody: edgeErr("keymanagement.service.ConsumerKeyAlreadyExists", "ConsumerKey already exists"),
		},
		{
			name: "key of another app", why: "a key is addressed through its own app only",
			method: "GET", path: "/developers/dev@example.com/apps/app2/keys/taken-key",
			xStatus: 404, edgeHTTP: 404,
			xBody:    xNotFound("Invalid consumer key for Given App", "keymanagement.service.InvalidClientIdForGivenApp", ""),
			edgeBody: edgeErr("keymanagement.service.InvalidClientIdForGivenApp", "Invalid consumer key for Given App"),
		},
		{
			name: "unknown key", why: "same answer as a key of another app",
			method: "POST", path: keyPath("no-such-key"), body: `{"apiProducts":["auto-p"]}`,
			xStatus: 404, edgeHTTP: 404,
			xBody:    xNotFound("Invalid consumer key for Given App", "keymanagement.service.InvalidClientIdForGivenApp", ""),
			edgeBody: edgeErr("keymanagement.service.InvalidClientIdForGivenApp", "Invalid consumer key for Given App"),
		},
		{
			name: "app not found", why: "apps are per developer",
			method: "GET", path: "/developers/other@example.com/apps/app1",
			xStatus: 404, edgeHTTP: 404,
			xBody: xNotFound("App named app1 does not exist under other@example.com", "developer.service.AppDoesNotExist",
				"developers/other@example.com/apps/app1"),
			edgeBody: edgeErr("developer.service.AppDoesNotExist", "App named app1 does not exist under other@example.com"),
		},
		{
			name: "developer not found", why: "checked before the app",
			method: "POST", path: "/developers/ghost@example.com/apps/app1/keys/create", body: `{"consumerKey":"k","consumerSecret":"s"}`,
			xStatus: 404, edgeHTTP: 404,
			xBody: xNotFound("DeveloperId ghost@example.com does not exist in organization acme", "developer.service.DeveloperIdDoesNotExist",
				"organizations/acme/developers/ghost@example.com"),
			edgeBody: edgeErr("developer.service.DeveloperIdDoesNotExist", "DeveloperId ghost@example.com does not exist in organization acme"),
		},
		{
			name: "unknown product on add", why: "400, and nothing is added (checked below)",
			method: "POST", path: keyPath("taken-key"), body: `{"apiProducts":["auto-p","nope"]}`,
			xStatus: 400, edgeHTTP: 400,
			xBody:    xErr(400, "INVALID_ARGUMENT", "API Product [nope] does not exist"),
			edgeBody: edgeErr("keymanagement.service.apiproduct_doesnot_exist", "API Product [nope] does not exist"),
		},
		{
			name: "remove a product not on the key", why: "X answers 400 but Edge 500, same message",
			method: "DELETE", path: keyPath("taken-key") + "/apiproducts/manual-p",
			xStatus: 400, edgeHTTP: 500,
			xBody:    xErr(400, "INVALID_ARGUMENT", "APIProduct is not associated with consumer key"),
			edgeBody: edgeErr("keymanagement.service.ApiProductNotAssociatedWithConsumerKey", "APIProduct is not associated with consumer key"),
		},
		{
			name: "approve a product not on the key", why: "same failure as removing it",
			method: "POST", path: keyPath("taken-key") + "/apiproducts/manual-p?action=approve",
			xStatus: 400, edgeHTTP: 500,
			xBody:    xErr(400, "INVALID_ARGUMENT", "APIProduct is not associated with consumer key"),
			edgeBody: edgeErr("keymanagement.service.ApiProductNotAssociatedWithConsumerKey", "APIProduct is not associated with consumer key"),
		},
		{
			name: "invalid characters in the key", why: "letters, digits, _ and - only",
			method: "POST", path: app1 + "/keys/create", body: `{"consumerKey":"bad.key+1","consumerSecret":"s"}`,
			xStatus: 400, edgeHTTP: 400,
			xBody:    xErr(400, "INVALID_ARGUMENT", "Invalid consumer key: only letters, digits, _ and - are allowed"),
			edgeBody: edgeErr("keymanagement.service.InvalidConsumerKey", "Invalid consumer key: only letters, digits, _ and - are allowed"),
		},
		{
			name: "invalid characters in the secret", why: "the secret follows the same rule",
			method: "POST", path: app1 + "/keys/create", body: `{"consumerKey":"k","consumerSecret":"sec ret"}`,
			xStatus: 400, edgeHTTP: 400,
			xBody:    xErr(400, "INVALID_ARGUMENT", "Invalid consumer secret: only letters, digits, _ and - are allowed"),
			edgeBody: edgeErr("keymanagement.service.InvalidConsumerSecret", "Invalid consumer secret: only letters, digits, _ and - are allowed"),
		},
		{
			name: "key over 2 KB", why: "2048 bytes at most",
			method: "POST", path: app1 + "/keys/create", body: `{"consumerKey":"` + long + `","consumerSecret":"s"}`,
			xStatus: 400, edgeHTTP: 400,
			xBody:    xErr(400, "INVALID_ARGUMENT", "Invalid consumer key: longer than 2048 bytes"),
			edgeBody: edgeErr("keymanagement.service.InvalidConsumerKey", "Invalid consumer key: longer than 2048 bytes"),
		},
		{
			name: "secret over 2 KB", why: "2048 bytes at most",
			method: "POST", path: app1 + "/keys/create", body: `{"consumerKey":"k","consumerSecret":"` + long + `"}`,
			xStatus: 400, edgeHTTP: 400,
			xBody:    xErr(400, "INVALID_ARGUMENT", "Invalid consumer secret: longer than 2048 bytes"),
			edgeBody: edgeErr("keymanagement.service.InvalidConsumerSecret", "Invalid consumer secret: longer than 2048 bytes"),
		},
		{
			name: "invalid key action", why: "approve or revoke only",
			method: "POST", path: keyPath("taken-key") + "?action=delete",
			xStatus: 400, edgeHTTP: 400,
			xBody:    xErr(400, "INVALID_ARGUMENT", "Invalid action: expected approve or revoke"),
			edgeBody: edgeErr("keymanagement.service.InvalidAction", "Invalid action: expected approve or revoke"),
		},
		{
			name: "product status call without action", why: "the action is required",
			method: "POST", path: keyPath("taken-key") + "/apiproducts/auto-p",
			xStatus: 400, edgeHTTP: 400,
			xBody:    xErr(400, "INVALID_ARGUMENT", "Invalid action: expected approve or revoke"),
			edgeBody: edgeErr("keymanagement.service.InvalidAction", "Invalid action: expected approve or revoke"),
		},
		{
			name: "malformed JSON quoting a key", why: "400, and the message must not echo the body",
			method: "POST", path: app1 + "/keys/create", body: `{"consumerKey":"secret-looking-key","consumerSecret":`,
			xStatus: 400, edgeHTTP: 400,
			xBody:    xErr(400, "INVALID_ARGUMENT", "Invalid JSON payload received"),
			edgeBody: edgeErr("messaging.adaptors.http.flow.ApplicationJsonParseError", "Invalid JSON payload received"),
		},
		{
			name: "negative expiresInSeconds", why: "-1 is never; other negatives are invalid", xOnly: true,
			method: "POST", path: app1 + "/keys/create", body: `{"consumerKey":"k","consumerSecret":"s","expiresInSeconds":-5}`,
			xStatus: 400, edgeHTTP: 400,
			xBody:    xErr(400, "INVALID_ARGUMENT", "expiresInSeconds must be -1 or positive"),
			edgeBody: edgeErr("keymanagement.service.InvalidExpiresIn", "expiresInSeconds must be -1 or positive"),
		},
		{
			name: "another organization", why: "the emulator serves one org; X answers Google's 403, existing or not",
			method: "GET", path: "/v1/organizations/other-org",
			xStatus: 403, edgeHTTP: 404,
			xBody:    xErr(403, "PERMISSION_DENIED", `Permission denied on resource "organizations/other-org" (or it may not exist).`),
			edgeBody: edgeErr("organizations.OrganizationDoesNotExist", "Organization other-org does not exist"),
		},
		{
			name: "unknown path", why: "not an Apigee call",
			method: "GET", path: "/environments",
			xStatus: 404, edgeHTTP: 404,
			xBody:    map[string]any{"error": map[string]any{"code": json.Number("404"), "message": "Not Found", "status": "NOT_FOUND", "details": []any{map[string]any{"@type": "type.googleapis.com/google.rpc.RequestInfo", "requestId": "ID"}}}},
			edgeBody: edgeErr("emulator.UnknownRequest", "Not Found"),
		},
		{
			name: "known path, wrong method", why: "405 like the real front ends",
			method: "PATCH", path: keyPath("taken-key"),
			xStatus: 405, edgeHTTP: 405,
			xBody:    xErr(405, "UNIMPLEMENTED", "Method Not Allowed"),
			edgeBody: edgeErr("emulator.UnknownRequest", "Method Not Allowed"),
		},
	}
	for _, tc := range tests {
		for _, d := range dialects {
			if tc.xOnly && d != X {
				continue
			}
			t.Run(tc.name+"/"+string(d), func(t *testing.T) {
				f := newFixture(t, nil)
				f.mustDo(t, d, map[Dialect]int{X: 200, Edge: 201}[d], "POST", app1+"/keys/create", `{"consumerKey":"taken-key","consumerSecret":"s"}`)
				before, _ := f.emu.App("dev@example.com", "app1")

				r := f.do(t, d, tc.method, tc.path, tc.body)
				wantStatus, wantBody := tc.xStatus, tc.xBody
				if d == Edge {
					wantStatus, wantBody = tc.edgeHTTP, tc.edgeBody
				}
				if r.status != wantStatus {
					t.Errorf("%s: status %d, want %d", tc.why, r.status, wantStatus)
				}
				if diff := cmp.Diff(wantBody, sameRequestID(r.json(t))); diff != "" {
					t.Errorf("%s: body (-want +got):\n%s", tc.why, diff)
				}
				if ct := r.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
				for _, secret := range []string{"taken-key", "secret-looking-key", "bad.key+1", "sec ret"} {
					if strings.Contains(string(r.body), secret) {
						t.Errorf("error body contains the key or secret %q: %s", secret, r.body)
					}
				}
				after, _ := f.emu.App("dev@example.com", "app1")
				if diff := cmp.Diff(before, after); diff != "" {
					t.Errorf("a failed call changed the app (-before +after):\n%s", diff)
				}
			})
		}
	}
}
