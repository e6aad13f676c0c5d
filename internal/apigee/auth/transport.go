package auth

import (
	"context"
	"net/http"
	"time"

	"golang.org/x/oauth2"
)

// NewTransport returns a RoundTripper that authenticates every request to
// endpoint on base (nil: http.DefaultTransport) and refuses requests to any
// other origin (see originGuard). Token sources outlive ctx (refreshes
// happen long after the call that built them); ctx bounds only the work
// done now, such as the first Edge OAuth grant.
func NewTransport(ctx context.Context, cfg Config, endpoint string, base http.RoundTripper) (http.RoundTripper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if base == nil {
		base = http.DefaultTransport
	}
	rt, err := credentialTransport(ctx, cfg, base)
	if err != nil {
		return nil, err
	}
	return newOriginGuard(endpoint, rt)
}

func credentialTransport(ctx context.Context, cfg Config, base http.RoundTripper) (http.RoundTripper, error) {
	if cfg.Method == MethodBasic {
		return basicTransport{user: cfg.Username, password: cfg.Password, base: base}, nil
	}
	src, err := tokenSource(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return bearerTransport{src: src, base: base}, nil
}

// tokenSource builds the method's source. Its context carries the token
// HTTP client and is never cancelled: the source keeps it for refreshes.
func tokenSource(ctx context.Context, cfg Config) (oauth2.TokenSource, error) {
	hc := tokenClient(cfg)
	tctx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, hc)
	switch cfg.Method {
	case MethodApplicationDefault:
		return applicationDefault(tctx, cfg.FindAmbient)
	case MethodServiceAccountKey:
		return serviceAccount(tctx, cfg.ServiceAccountKey)
	case MethodEdgeOAuth:
		return edgeOAuth(context.WithValue(ctx, oauth2.HTTPClient, hc), tctx, cfg)
	}
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: cfg.BearerToken, TokenType: "Bearer"}), nil
}

func tokenClient(cfg Config) *http.Client {
	if cfg.TokenHTTPClient != nil {
		return cfg.TokenHTTPClient
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// basicTransport adds Basic auth. RoundTrippers must not change the
// caller's request, hence the clone.
type basicTransport struct {
	user, password string
	base           http.RoundTripper
}

func (t basicTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.SetBasicAuth(t.user, t.password)
	return t.base.RoundTrip(r)
}

// bearerTransport adds a bearer token. Unlike oauth2.Transport it turns a
// failed token fetch into an *apigee.Error (Unauthorized when the token
// endpoint refused the credentials), with no secret in it.
type bearerTransport struct {
	src  oauth2.TokenSource
	base http.RoundTripper
}

func (t bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.src.Token()
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, tokenError(err)
	}
	r := req.Clone(req.Context())
	tok.SetAuthHeader(r)
	return t.base.RoundTrip(r)
}
