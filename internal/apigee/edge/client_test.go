package edge

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

type seen struct {
	Method, Path, Query, ContentType, Body string
}

type recorder struct {
	mu     sync.Mutex
	reqs   []seen
	status int
	body   string
	header http.Header
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, seen{req.Method, req.URL.EscapedPath(), req.URL.RawQuery, req.Header.Get("Content-Type"), string(b)})
	r.mu.Unlock()
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.WriteHeader(r.status)
	io.WriteString(w, r.body)
}

func newTestClient(t *testing.T, status int, body string) (*Client, *recorder) {
	t.Helper()
	rec := &recorder{status: status, body: body}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	c, err := New(Config{Endpoint: srv.URL + "/", Organization: "acme", HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

var ref = apigee.KeyRef{Developer: "dev@example.com", App: "my app", ConsumerKey: "KEY1"}

const wantKeyPath = "/v1/organizations/acme/developers/dev@example.com/apps/my%20app/keys/KEY1"

func TestRequestsOnTheWire(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		reason string
		status int
		body   string
		call   func(c *Client) error
		want   seen
		then   []seen // requests after want
	}{
		"ImportKey": {
			reason: "POST keys/create with plain numbers; 201 is success.",
			status: 201, body: `{"consumerKey":"KEY1"}`,
			call: func(c *Client) error {
				_, err := c.ImportKey(ctx, "dev@example.com", "my app", apigee.ImportRequest{ConsumerKey: "KEY1", ConsumerSecret: "S1", ExpiresInSeconds: 60})
				return err
			},
			want: seen{"POST", "/v1/organizations/acme/developers/dev@example.com/apps/my%20app/keys/create", "", "application/json",
				`{"consumerKey":"KEY1","consumerSecret":"S1","expiresInSeconds":60}`},
		},
		"AddProducts": {
			reason: "Merge-add products with the full attribute set.",
			status: 200, body: `{}`,
			call: func(c *Client) error {
				_, err := c.AddProducts(ctx, ref, []string{"p1"}, nil)
				return err
			},
			want: seen{"POST", wantKeyPath, "", "application/json", `{"apiProducts":["p1"],"attributes":[]}`},
		},
		"SetAttributes": {
			reason: "POST K/attributes {attribute:[…]} (apigee-client-php updateAttributes), then GET K for the rest of the key; never POST K without apiProducts.",
			status: 200, body: `{}`,
			call: func(c *Client) error {
				_, err := c.SetAttributes(ctx, ref, []apigee.Attribute{{Name: "a", Value: "b"}})
				return err
			},
			want: seen{"POST", wantKeyPath + "/attributes", "", "application/json", `{"attribute":[{"name":"a","value":"b"}]}`},
			then: []seen{{"GET", wantKeyPath, "", "", ""}},
		},
		"SetScopes": {
			reason: "PUT K with scopes.",
			status: 200, body: `{}`,
			call: func(c *Client) error {
				_, err := c.SetScopes(ctx, ref, []string{"read"})
				return err
			},
			want: seen{"PUT", wantKeyPath, "", "application/json", `{"scopes":["read"]}`},
		},
		"SetKeyStatus": {
			reason: "Empty octet-stream body; 204 is success.",
			status: 204,
			call:   func(c *Client) error { return c.SetKeyStatus(ctx, ref, apigee.ActionApprove) },
			want:   seen{"POST", wantKeyPath, "action=approve", "application/octet-stream", ""},
		},
		"SetProductStatus": {
			reason: "Empty octet-stream body on the product path.",
			status: 204,
			call:   func(c *Client) error { return c.SetProductStatus(ctx, ref, "p 1", apigee.ActionRevoke) },
			want:   seen{"POST", wantKeyPath + "/apiproducts/p%201", "action=revoke", "application/octet-stream", ""},
		},
		"RemoveProduct": {
			reason: "DELETE K/apiproducts/{p}.",
			status: 200, body: `{}`,
			call: func(c *Client) error { return c.RemoveProduct(ctx, ref, "p1") },
			want: seen{"DELETE", wantKeyPath + "/apiproducts/p1", "", "", ""},
		},
		"DeleteKey": {
			reason: "DELETE K.",
			status: 200, body: `{}`,
			call: func(c *Client) error { return c.DeleteKey(ctx, ref) },
			want: seen{"DELETE", wantKeyPath, "", "", ""},
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
			if diff := cmp.Diff(append([]seen{tc.want}, tc.then...), rec.reqs); diff != "" {
				t.Errorf("%s\n-want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestDecodesApp(t *testing.T) {
	body := `{"name":"my app","appId":"id1","developerId":"dev1","createdAt":1700000000000,
		"credentials":[{"consumerKey":"K","consumerSecret":"S","status":"approved","apiProducts":[],"attributes":[],"scopes":[],
		"issuedAt":1700000000000,"expiresAt":-1}]}`
	c, _ := newTestClient(t, 200, body)
	got, err := c.GetApp(context.Background(), "dev@example.com", "my app")
	if err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(1700000000000).UTC()
	want := &apigee.App{Name: "my app", AppID: "id1", DeveloperID: "dev1", CreatedAt: at,
		Credentials: []apigee.Credential{{ConsumerKey: "K", ConsumerSecret: "S", Status: "approved", IssuedAt: at}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("empty lists become nil and -1 the zero time: -want +got:\n%s", diff)
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
		"KeyNotInApp": {
			reason: "The code decides.",
			status: 404, body: `{"code":"keymanagement.service.InvalidClientIdForGivenApp","message":"Invalid consumer key for Given App","contexts":[]}`,
			want: &apigee.Error{Class: apigee.ClassNotFound, Resource: apigee.ResourceKey, Operation: "RemoveProduct", StatusCode: 404, Message: "Invalid consumer key for Given App"},
		},
		"AppDoesNotExist": {
			reason: "developer.service.AppDoesNotExist is the app.",
			status: 404, body: `{"code":"developer.service.AppDoesNotExist","message":"App named x does not exist under d"}`,
			want: &apigee.Error{Class: apigee.ClassNotFound, Resource: apigee.ResourceApp, Operation: "RemoveProduct", StatusCode: 404, Message: "App named x does not exist under d"},
		},
		"DeveloperDoesNotExist": {
			reason: "developer.service.DeveloperIdDoesNotExist is the developer.",
			status: 404, body: `{"code":"developer.service.DeveloperIdDoesNotExist","message":"DeveloperId d does not exist in organization acme"}`,
			want: &apigee.Error{Class: apigee.ClassNotFound, Resource: apigee.ResourceDeveloper, Operation: "RemoveProduct", StatusCode: 404, Message: "DeveloperId d does not exist in organization acme"},
		},
		"NotAssociated500": {
			reason: "Edge's 500 'not associated' is Invalid, not Unavailable.",
			status: 500, body: `{"code":"keymanagement.service.Whatever","message":"APIProduct is not associated with consumer key"}`,
			want: &apigee.Error{Class: apigee.ClassInvalid, Resource: apigee.ResourceProduct, Reason: apigee.ReasonProductNotAssociated,
				Operation: "RemoveProduct", StatusCode: 500, Message: "APIProduct is not associated with consumer key"},
		},
		"UnknownProduct": {
			reason: "400 'does not exist' about a product is NotFound product.",
			status: 400, body: `{"code":"x","message":"API Product [p1] does not exist"}`,
			want: &apigee.Error{Class: apigee.ClassNotFound, Resource: apigee.ResourceProduct, Operation: "RemoveProduct", StatusCode: 400, Message: "API Product [p1] does not exist"},
		},
		"RateLimited": {
			reason: "429 with Retry-After.",
			status: 429, header: http.Header{"Retry-After": {"4"}},
			want: &apigee.Error{Class: apigee.ClassRateLimited, Operation: "RemoveProduct", StatusCode: 429, Message: "Too Many Requests", RetryAfter: 4 * time.Second},
		},
		"ServerError": {
			reason: "Other 500s are Unavailable; a non-JSON body is not echoed.",
			status: 500, body: `oops KEY1`,
			want: &apigee.Error{Class: apigee.ClassUnavailable, Operation: "RemoveProduct", StatusCode: 500, Message: "Internal Server Error"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, rec := newTestClient(t, tc.status, tc.body)
			rec.header = tc.header
			err := c.RemoveProduct(context.Background(), ref, "p1")
			if diff := cmp.Diff(tc.want, err); diff != "" {
				t.Errorf("%s\n-want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestUndecodableSuccessIsUnavailable(t *testing.T) {
	c, _ := newTestClient(t, 200, `<html>`)
	_, err := c.GetKey(context.Background(), ref)
	if apigee.ClassOf(err) != apigee.ClassUnavailable {
		t.Errorf("want Unavailable, got %v", err)
	}
}

// TestOversizeAnswerFails: an answer over apigee.MaxResponseBytes is
// refused with a request error naming the limit (it used to be cut and
// then fail to decode, a retryable error); an oversize error body keeps
// the class its status gives.
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
	c, _ = newTestClient(t, 503, huge)
	if _, err := c.GetApp(context.Background(), "dev@example.com", "orders"); apigee.ClassOf(err) != apigee.ClassUnavailable {
		t.Errorf("an oversize 503: %v; want ClassUnavailable", err)
	}
}
