// Package auth builds the authenticating http.RoundTripper of an Apigee
// connection from plain values: the controller reads Secrets and passes
// their bytes; this package never touches Kubernetes. Failures are
// *apigee.Error values whose messages say what to fix and never contain
// secret material.
package auth

import (
	"fmt"
	"net/http"
)

// Method is how a connection authenticates.
type Method string

const (
	// MethodApplicationDefault: Google Application Default Credentials (GKE
	// Workload Identity, metadata server, GOOGLE_APPLICATION_CREDENTIALS). X/hybrid.
	MethodApplicationDefault Method = "ApplicationDefault"
	// MethodServiceAccountKey: a Google service-account JSON key. X/hybrid.
	MethodServiceAccountKey Method = "ServiceAccountKey"
	// MethodBasic: Edge Basic auth with a user and password.
	MethodBasic Method = "Basic"
	// MethodEdgeOAuth: Edge OAuth2 password grant, then bearer tokens.
	MethodEdgeOAuth Method = "EdgeOAuth"
	// MethodBearerToken: a static bearer token (either platform).
	MethodBearerToken Method = "BearerToken"
)

// Scope is the OAuth2 scope Apigee X/hybrid requires.
const Scope = "https://www.googleapis.com/auth/cloud-platform"

// DefaultEdgeTokenURL is Edge SaaS's token endpoint.
const DefaultEdgeTokenURL = "https://login.apigee.com/oauth/token"

// Edge's public OAuth client, the one its own tools use.
const (
	edgeClientID     = "edgecli"
	edgeClientSecret = "edgeclisecret"
)

// Config holds one connection's method and secret values. String and
// GoString redact, so a Config is safe to print.
type Config struct {
	Method Method
	// ServiceAccountKey is the JSON key file (MethodServiceAccountKey).
	ServiceAccountKey []byte
	// Username and Password (MethodBasic, MethodEdgeOAuth).
	Username, Password string
	// MFAToken is an optional one-time code for the first Edge OAuth grant.
	MFAToken string
	// TokenURL is the Edge OAuth token endpoint; default DefaultEdgeTokenURL.
	TokenURL string
	// BearerToken is the static token (MethodBearerToken).
	BearerToken string
	// TokenHTTPClient fetches tokens; default a client with a 30 s timeout.
	TokenHTTPClient *http.Client
	// FindAmbient finds the ambient credentials (MethodApplicationDefault);
	// nil: google.FindDefaultCredentials. Tests inject their own identity.
	FindAmbient CredentialsFinder
}

// String names the method only.
func (c Config) String() string { return fmt.Sprintf("auth.Config{Method: %s}", c.Method) }

// GoString keeps %#v from printing secrets.
func (c Config) GoString() string { return c.String() }

// Validate checks that the method's values are present.
func (c Config) Validate() error {
	missing := func(what string) error {
		return unauthorized(fmt.Sprintf("%s authentication needs %s: check the referenced Secret", c.Method, what))
	}
	switch c.Method {
	case MethodApplicationDefault:
	case MethodServiceAccountKey:
		if len(c.ServiceAccountKey) == 0 {
			return missing("a service-account JSON key")
		}
	case MethodBasic, MethodEdgeOAuth:
		if c.Username == "" || c.Password == "" {
			return missing("a username and a password")
		}
	case MethodBearerToken:
		if c.BearerToken == "" {
			return missing("a token")
		}
	default:
		return invalid(fmt.Sprintf("unknown authentication method %q", c.Method))
	}
	return nil
}
