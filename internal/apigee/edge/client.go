// Package edge implements apigee.Client for Apigee Edge (SaaS and Private
// Cloud) on net/http. One request per method, no retries: wrap with
// apigee.WithRetries (connect does).
package edge

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// DefaultEndpoint is Edge SaaS. Private Cloud: the management server, e.g.
// http://ms:8080.
const DefaultEndpoint = "https://api.enterprise.apigee.com"

// Config configures a client for one organization.
type Config struct {
	Endpoint     string // default DefaultEndpoint
	Organization string
	// HTTPClient carries authentication and the traffic transport
	// (apigee.NewTransport); default http.DefaultClient.
	HTTPClient *http.Client
}

// Client talks to one Edge organization.
type Client struct {
	base string // endpoint + /v1/organizations/{org}
	hc   *http.Client
}

var _ apigee.Client = (*Client)(nil)

// New returns a client. It makes no request.
func New(cfg Config) (*Client, error) {
	if cfg.Organization == "" {
		return nil, &apigee.Error{Class: apigee.ClassInvalid, Operation: "New", Message: "organization is required"}
	}
	endpoint := strings.TrimRight(cmp.Or(cfg.Endpoint, DefaultEndpoint), "/")
	if _, err := url.Parse(endpoint); err != nil {
		return nil, &apigee.Error{Class: apigee.ClassInvalid, Operation: "New", Message: "endpoint is not a URL"}
	}
	return &Client{
		base: endpoint + "/v1/organizations/" + url.PathEscape(cfg.Organization),
		hc:   apigee.LimitResponses(cfg.HTTPClient, apigee.MaxResponseBytes),
	}, nil
}

// request is one Edge call.
type request struct {
	op     string
	method string
	path   string // below base, already escaped
	action string // ?action=, sent with an empty octet-stream body
	body   any    // JSON body, or nil
	red    apigee.Redactor
}

// do sends r and decodes a 2xx answer into out (nil: ignored).
func (c *Client) do(ctx context.Context, r request, out any) error {
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return apigee.ErrorFromTransport(r.op, err, r.red)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return apigee.ErrorFromTransport(r.op, err, r.red)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The status says what failed; an error body cut short (too
		// large, say) only leaves its message out.
		return apigee.ErrorFromFailure(r.op, failure(resp, body), r.red)
	}
	if err != nil {
		return apigee.ErrorFromTransport(r.op, err, r.red)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		// A 2xx we cannot read (a proxy's page?) may go away on retry.
		return &apigee.Error{Class: apigee.ClassUnavailable, Operation: r.op, StatusCode: resp.StatusCode,
			Message: fmt.Sprintf("cannot decode the %d response", resp.StatusCode)}
	}
	return nil
}

func (c *Client) newRequest(ctx context.Context, r request) (*http.Request, error) {
	u := c.base + r.path
	if r.action != "" {
		u += "?action=" + url.QueryEscape(r.action)
	}
	var body io.Reader = http.NoBody
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	switch {
	case r.body != nil:
		req.Header.Set("Content-Type", "application/json")
	case r.action != "":
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	return req, nil
}

// failure reads an Edge error body: {"code","message","contexts"}.
func failure(resp *http.Response, body []byte) apigee.Failure {
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &e) // a non-JSON body leaves both empty
	return apigee.Failure{
		StatusCode: resp.StatusCode,
		Code:       e.Code,
		Message:    e.Message,
		RetryAfter: apigee.ParseRetryAfter(resp.Header, time.Now()),
	}
}

// Paths; every segment escaped. Keys are validated before use. Emails go
// as written: Edge keeps a developer's email in the case it was created
// with, and whether it finds it in another case is not on record, so
// only the case the spec names is sure to find it (docs/emulator.md).
func appPath(developer, app string) string {
	return "/developers/" + url.PathEscape(developer) + "/apps/" + url.PathEscape(app)
}

func keyPath(ref apigee.KeyRef) string {
	return appPath(ref.Developer, ref.App) + "/keys/" + url.PathEscape(ref.ConsumerKey)
}

func productPath(ref apigee.KeyRef, product string) string {
	return keyPath(ref) + "/apiproducts/" + url.PathEscape(product)
}

// begin validates ref and labels ctx for the transport.
func begin(ctx context.Context, op string, ref apigee.KeyRef) (context.Context, error) {
	if err := apigee.ValidateKeyRef(op, ref); err != nil {
		return ctx, err
	}
	return apigee.WithConsumerKey(apigee.WithOperation(ctx, op), ref.ConsumerKey), nil
}
