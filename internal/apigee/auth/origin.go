package auth

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// originGuard sends requests to the connection's endpoint only. Credentials
// are attached further down, so a request to any other origin — a redirect
// to another host, or from https to http — is refused before it gets them.
// Refused, not sent bare: a 307 or 308 redirect resends the body, which
// can hold a consumer secret.
type originGuard struct {
	origin string // scheme://host:port of the endpoint
	next   http.RoundTripper
}

func newOriginGuard(endpoint string, next http.RoundTripper) (originGuard, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return originGuard{}, invalid(fmt.Sprintf("the endpoint %q is not an http or https URL", endpoint))
	}
	return originGuard{origin: origin(u), next: next}, nil
}

func (g originGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if got := origin(req.URL); got != g.origin {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, invalid(fmt.Sprintf("refusing to send credentials to %s: the connection's endpoint is %s", got, g.origin))
	}
	return g.next.RoundTrip(req)
}

// origin is scheme://host:port in lower case, with the scheme's default
// port made explicit so equal origins compare equal.
func origin(u *url.URL) string {
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[scheme]
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
