package x

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// seen is one request as the server received it.
type seen struct {
	Method, Path, Query, ContentType, Body string
}

// recorder answers every request with status and body and remembers it.
type recorder struct {
	mu     sync.Mutex
	reqs   []seen
	status int
	body   string
	header http.Header
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	q := req.URL.Query()
	q.Del("alt")
	q.Del("prettyPrint")
	r.mu.Lock()
	r.reqs = append(r.reqs, seen{req.Method, req.URL.EscapedPath(), q.Encode(), req.Header.Get("Content-Type"), string(b)})
	r.mu.Unlock()
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(r.status)
	io.WriteString(w, r.body)
}

func newTestClient(t *testing.T, status int, body string) (*Client, *recorder) {
	t.Helper()
	rec := &recorder{status: status, body: body}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	c, err := New(Config{Endpoint: srv.URL, Organization: "acme", HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

var ref = apigee.KeyRef{Developer: "dev@example.com", App: "orders", ConsumerKey: "KEY1"}

const keyPath = "/v1/organizations/acme/developers/dev@example.com/apps/orders/keys/KEY1"

func TestRequestsOnTheWire(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		reason string
		status int
		body   string
		call   func(c *Client) error
		want   seen
	}{
		"ImportKey": {
			reason: "Create posts key, secret and expiry (int64 as string) to the app's keys.",
			status: 200, body: `{"consumerKey":"KEY1"}`,
			call: func(c *Client) error {
				_, err := c.ImportKey(ctx, "dev@example.com", "orders", apigee.ImportRequest{ConsumerKey: "KEY1", ConsumerSecret: "S1", ExpiresInSeconds: 3600})
				return err
			},
			want: seen{"POST", "/v1/organizations/acme/developers/dev@example.com/apps/orders/keys", "", "application/json",
				`{"consumerKey":"KEY1","consumerSecret":"S1","expiresInSeconds":"3600"}` + "\n"},
		},
		"AddProducts": {
			reason: "Products and the full attribute set in one POST K.",
			status: 200, body: `{}`,
			call: func(c *Client) error {
				_, err := c.AddProducts(ctx, ref, []string{"p1", "p2"}, []apigee.Attribute{{Name: "tier", Value: "gold"}})
				return err
			},
			want: seen{"POST", keyPath, "", "application/json", `{"apiProducts":["p1","p2"],"attributes":[{"name":"tier","value":"gold"}]}` + "\n"},
		},
		"AddProductsNoAttributes": {
			reason: "An empty attribute set is sent as [] so the server clears, not keeps, them.",
			status: 200, body: `{}`,
			call: func(c *Client) error {
				_, err := c.AddProducts(ctx, ref, []string{"p1"}, nil)
				return err
			},
			want: seen{"POST", keyPath, "", "application/json", `{"apiProducts":["p1"],"attributes":[]}` + "\n"},
		},
		"SetAttributes": {
			reason: "Attributes only: never apiProducts.",
			status: 200, body: `{}`,
			call: func(c *Client) error {
				_, err := c.SetAttributes(ctx, ref, []apigee.Attribute{{Name: "a", Value: "b"}})
				return err
			},
			want: seen{"POST", keyPath, "", "application/json", `{"attributes":[{"name":"a","value":"b"}]}` + "\n"},
		},
		"SetScopes": {
			reason: "PUT K with scopes only.",
			status: 200, body: `{}`,
			call: func(c *Client) error {
				_, err := c.SetScopes(ctx, ref, nil)
				return err
			},
			want: seen{"PUT", keyPath, "", "application/json", `{"scopes":[]}` + "\n"},
		},
		"SetKeyStatus": {
			reason: "Empty octet-stream body, action in the query.",
			status: 200, body: `{"consumerKey":"KEY1"}`,
			call: func(c *Client) error { return c.SetKeyStatus(ctx, ref, apigee.ActionRevoke) },
			want: seen{"POST", keyPath, "action=revoke", "application/octet-stream", ""},
		},
		"SetKeyStatusNoContent": {
			reason: "A 204 (or empty 200) answer is success.",
			status: 200, body: ``,
			call: func(c *Client) error { return c.SetKeyStatus(ctx, ref, apigee.ActionApprove) },
			want: seen{"POST", keyPath, "action=approve", "application/octet-stream", ""},
		},
		"SetProductStatus": {
			reason: "Empty octet-stream body on the product path.",
			status: 200, body: `{}`,
			call: func(c *Client) error { return c.SetProductStatus(ctx, ref, "p1", apigee.ActionApprove) },
			want: seen{"POST", keyPath + "/apiproducts/p1", "action=approve", "application/octet-stream", ""},
		},
		"RemoveProduct": {
			reason: "DELETE K/apiproducts/{p}.",
			status: 200, body: `{}`,
			call: func(c *Client) error { return c.RemoveProduct(ctx, ref, "p1") },
			want: seen{"DELETE", keyPath + "/apiproducts/p1", "", "", ""},
		},
		"DeleteKey": {
			reason: "DELETE K.",
			status: 200, body: `{}`,
			call: func(c *Client) error { return c.DeleteKey(ctx, ref) },
			want: seen{"DELETE", keyPath, "", "", ""},
		},
		"Probe": {
			reason: "GET the organization.",
			status: 200, body: `{"name":"acme"}`,
			call: func(c *Client) error { return c.Probe(ctx) },
			want: seen{"GET", "/v1/organizations/acme", "", "", ""},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, rec := newTestClient(t, tc.status, tc.body)
			if err := tc.call(c); err != nil {
				t.Fatalf("call failed: %v", err)
			}
			if diff := cmp.Diff([]seen{tc.want}, rec.reqs); diff != "" {
				t.Errorf("%s\n-want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestDecodesKey(t *testing.T) {
	body := `{"consumerKey":"KEY1","consumerSecret":"S1","status":"approved",
		"apiProducts":[{"apiproduct":"p1","status":"pending"}],
		"attributes":[{"name":"a","value":"b"}],"scopes":["s"],
		"issuedAt":"1700000000000","expiresAt":"-1"}`
	c, _ := newTestClient(t, 200, body)
	got, err := c.GetKey(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	want := &apigee.Credential{
		ConsumerKey: "KEY1", ConsumerSecret: "S1", Status: "approved",
		Products:   []apigee.ProductStatus{{Name: "p1", Status: "pending"}},
		Attributes: []apigee.Attribute{{Name: "a", Value: "b"}}, Scopes: []string{"s"},
		IssuedAt: time.UnixMilli(1700000000000).UTC(),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("int64 strings become times and -1 the zero time: -want +got:\n%s", diff)
	}
}

func TestDecodesApp(t *testing.T) {
	body := `{"name":"orders","appId":"id1","developerId":"dev1","createdAt":"1700000000000",
		"credentials":[{"consumerKey":"K","consumerSecret":"S","status":"revoked","expiresAt":"1800000000000"}]}`
	c, _ := newTestClient(t, 200, body)
	got, err := c.GetApp(context.Background(), "dev@example.com", "orders")
	if err != nil {
		t.Fatal(err)
	}
	want := &apigee.App{Name: "orders", AppID: "id1", DeveloperID: "dev1", CreatedAt: time.UnixMilli(1700000000000).UTC(),
		Credentials: []apigee.Credential{{ConsumerKey: "K", ConsumerSecret: "S", Status: "revoked", ExpiresAt: time.UnixMilli(1800000000000).UTC()}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}
}

func TestErrors(t *testing.T) {
	cases := map[string]struct {
		reason string
		status int
		body   string
		header http.Header
		want   *apigee.Error
	}{
		"ConflictFromDetails": {
			reason: "The violation type in the details decides.",
			status: 409,
			body: `{"error":{"code":409,"message":"ConsumerKey already exists","status":"ABORTED","details":[{"@type":"type.googleapis.com/google.rpc.PreconditionFailure",
				"violations":[{"type":"keymanagement.service.ConsumerKeyAlreadyExists","subject":"x"}]}]}}`,
			want: &apigee.Error{Class: apigee.ClassConflict, Operation: "GetKey", StatusCode: 409, Message: "ConsumerKey already exists"},
		},
		"KeyNotFound": {
			reason: "404 'Invalid consumer key for Given App' is the key.",
			status: 404, body: `{"error":{"code":404,"message":"Invalid consumer key for Given App","status":"NOT_FOUND"}}`,
			want: &apigee.Error{Class: apigee.ClassNotFound, Resource: apigee.ResourceKey, Operation: "GetKey", StatusCode: 404, Message: "Invalid consumer key for Given App"},
		},
		"RateLimited": {
			reason: "429 with Retry-After.",
			status: 429, body: `{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}`,
			header: http.Header{"Retry-After": {"2"}},
			want:   &apigee.Error{Class: apigee.ClassRateLimited, Operation: "GetKey", StatusCode: 429, Message: "Quota exceeded", RetryAfter: 2 * time.Second},
		},
		"EchoedKeyRedacted": {
			reason: "A message echoing the key is redacted; the raw body is never used.",
			status: 400, body: `{"error":{"code":400,"message":"bad key KEY1","status":"INVALID_ARGUMENT"}}`,
			want: &apigee.Error{Class: apigee.ClassInvalid, Operation: "GetKey", StatusCode: 400, Message: "bad key " + apigee.Fingerprint("KEY1")},
		},
		"HTMLFromProxy": {
			reason: "A non-JSON 502 is Unavailable with a status text.",
			status: 502, body: `<html>KEY1</html>`,
			want: &apigee.Error{Class: apigee.ClassUnavailable, Operation: "GetKey", StatusCode: 502, Message: "Bad Gateway"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, rec := newTestClient(t, tc.status, tc.body)
			rec.header = tc.header
			_, err := c.GetKey(context.Background(), ref)
			if diff := cmp.Diff(tc.want, err); diff != "" {
				t.Errorf("%s\n-want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestTransportErrorHasNoURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	c, err := New(Config{Endpoint: srv.URL, Organization: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetKey(context.Background(), ref)
	if apigee.ClassOf(err) != apigee.ClassUnavailable || strings.Contains(err.Error(), "KEY1") || strings.Contains(err.Error(), "/keys/") {
		t.Errorf("want a redacted Unavailable, got %v", err)
	}
}

func TestValidatesBeforeCalling(t *testing.T) {
	c, rec := newTestClient(t, 200, `{}`)
	_, err := c.ImportKey(context.Background(), "d", "a", apigee.ImportRequest{ConsumerKey: "bad/key", ConsumerSecret: "s"})
	if apigee.ClassOf(err) != apigee.ClassInvalid || len(rec.reqs) != 0 {
		t.Errorf("want Invalid without a request, got %v after %d requests", err, len(rec.reqs))
	}
}

// TestOversizeAnswerFails: an app answer over apigee.MaxResponseBytes (an
// endpoint the tenant runs, say) is refused with a request error that
// names the limit and none of the answer, instead of being held in memory.
func TestOversizeAnswerFails(t *testing.T) {
	huge := `{"name":"orders","attributes":[{"name":"a","value":"SECRETVALUE` + strings.Repeat("x", apigee.MaxResponseBytes) + `"}]}`
	c, _ := newTestClient(t, 200, huge)
	_, err := c.GetApp(context.Background(), "dev@example.com", "orders")
	var e *apigee.Error
	if !errors.As(err, &e) || e.Class != apigee.ClassInvalid || e.Reason != apigee.ReasonResponseTooLarge || e.Operation != apigee.OpGetApp {
		t.Fatalf("got %v; want ClassInvalid, ReasonResponseTooLarge from GetApp", err)
	}
	if !strings.Contains(e.Message, "16 MiB") || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("the message must name the limit and nothing of the answer: %q", err)
	}
}
