// Package x implements apigee.Client for Apigee X and hybrid on the
// generated google.golang.org/api/apigee/v1 client. One call per method, no
// retries: wrap with apigee.WithRetries (connect does).
package x

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"

	apigeev1 "google.golang.org/api/apigee/v1"
	"google.golang.org/api/option"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// DefaultEndpoint is the global X/hybrid management endpoint.
// Data-residency organizations use https://{region}-apigee.googleapis.com.
const DefaultEndpoint = "https://apigee.googleapis.com"

// Config configures a client for one organization.
type Config struct {
	Endpoint     string // default DefaultEndpoint
	Organization string
	// HTTPClient carries authentication and the traffic transport
	// (apigee.NewTransport); default http.DefaultClient.
	HTTPClient *http.Client
}

// Client talks to one X or hybrid organization.
type Client struct {
	svc *apigeev1.Service
	org string
}

var _ apigee.Client = (*Client)(nil)

// New returns a client. It makes no request.
func New(cfg Config) (*Client, error) {
	if cfg.Organization == "" {
		return nil, &apigee.Error{Class: apigee.ClassInvalid, Operation: "New", Message: "organization is required"}
	}
	endpoint := strings.TrimRight(cmp.Or(cfg.Endpoint, DefaultEndpoint), "/")
	svc, err := apigeev1.NewService(context.Background(),
		option.WithEndpoint(endpoint+"/"), // the generated client needs the slash
		option.WithHTTPClient(apigee.LimitResponses(withActionFix(cfg.HTTPClient), apigee.MaxResponseBytes)),
		// The generated client can log request bodies (secrets) when an
		// environment variable asks for it: never.
		option.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	)
	if err != nil {
		return nil, &apigee.Error{Class: apigee.ClassInvalid, Operation: "New", Message: err.Error()}
	}
	return &Client{svc: svc, org: cfg.Organization}, nil
}

// Probe reads the organization.
func (c *Client) Probe(ctx context.Context) error {
	ctx = apigee.WithOperation(ctx, apigee.OpProbe)
	_, err := c.svc.Organizations.Get("organizations/" + c.org).Context(ctx).Do()
	return fail(apigee.OpProbe, err, apigee.Redactor{})
}

// GetApp reads the app with all of its credentials.
func (c *Client) GetApp(ctx context.Context, developer, app string) (*apigee.App, error) {
	ctx = apigee.WithOperation(ctx, apigee.OpGetApp)
	if developer == "" || app == "" {
		return nil, &apigee.Error{Class: apigee.ClassInvalid, Operation: apigee.OpGetApp, Message: "developer and app are required"}
	}
	a, err := c.svc.Organizations.Developers.Apps.Get(c.appName(developer, app)).Context(ctx).Do()
	if err != nil {
		return nil, fail(apigee.OpGetApp, err, apigee.Redactor{})
	}
	return appFromX(a), nil
}

// GetKey reads one key.
func (c *Client) GetKey(ctx context.Context, ref apigee.KeyRef) (*apigee.Credential, error) {
	ctx, err := begin(ctx, apigee.OpGetKey, ref)
	if err != nil {
		return nil, err
	}
	k, err := c.keys().Get(c.keyName(ref)).Context(ctx).Do()
	return credential(apigee.OpGetKey, k, err, redactor(ref))
}

func (c *Client) keys() *apigeev1.OrganizationsDevelopersAppsKeysService {
	return c.svc.Organizations.Developers.Apps.Keys
}

// Resource names. The generated client expands them with {+name}: '/'
// stays, anything unsafe is escaped. Keys are validated before use.
// The developer's email is sent in lower case (apigee.NormalDeveloper).
func (c *Client) appName(developer, app string) string {
	return "organizations/" + c.org + "/developers/" + apigee.NormalDeveloper(developer) + "/apps/" + app
}

func (c *Client) keyName(ref apigee.KeyRef) string {
	return c.appName(ref.Developer, ref.App) + "/keys/" + ref.ConsumerKey
}

func (c *Client) productName(ref apigee.KeyRef, product string) string {
	return c.keyName(ref) + "/apiproducts/" + product
}

// begin validates ref and labels ctx for the transport.
func begin(ctx context.Context, op string, ref apigee.KeyRef) (context.Context, error) {
	if err := apigee.ValidateKeyRef(op, ref); err != nil {
		return ctx, err
	}
	return apigee.WithConsumerKey(apigee.WithOperation(ctx, op), ref.ConsumerKey), nil
}

func redactor(ref apigee.KeyRef) apigee.Redactor {
	return apigee.Redactor{ConsumerKey: ref.ConsumerKey}
}

// credential converts a key call's result.
func credential(op string, k *apigeev1.GoogleCloudApigeeV1DeveloperAppKey, err error, r apigee.Redactor) (*apigee.Credential, error) {
	if err != nil {
		return nil, fail(op, err, r)
	}
	return credentialFromKey(k), nil
}
