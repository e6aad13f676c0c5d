package controller

import (
	"fmt"
	"net/url"
	"strings"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/auth"
)

// Tenancy is what the operator lends to connections, chosen by whoever runs
// it. A namespace's connection may use only its own credentials and limit
// only its own calls; the operator's ambient Google identity and each
// organization's call budget belong to administrators.
type Tenancy struct {
	// NamespacedAmbientCredentials lets ApigeeConnections (namespaced) use
	// workloadIdentity, towards Google endpoints only. Off by default: any
	// tenant could otherwise act as the operator's Google service account.
	NamespacedAmbientCredentials bool
	// OrganizationRate is each organization's call budget unless a
	// ClusterApigeeConnection sets one; zero fields: the platform defaults.
	OrganizationRate apigee.Rate
	// FindAmbient finds the ambient credentials; nil: Google Application
	// Default Credentials. Tests inject their own identity.
	FindAmbient auth.CredentialsFinder
}

// ambientAllowed says whether conn may authenticate as the operator's
// ambient identity (workloadIdentity), and if not, why. An administrator's
// ClusterApigeeConnection may use it towards any endpoint it names; a
// namespaced one needs the opt-in and a Google endpoint, so no tenant can
// point the operator's token at its own server.
func (t Tenancy) ambientAllowed(conn *connection) error {
	if conn.spec.Auth.WorkloadIdentity == nil || conn.allowed != nil {
		return nil
	}
	if !t.NamespacedAmbientCredentials {
		return terminal(apigeev1alpha1.ReasonAmbientCredentialsNotAllowed,
			"workloadIdentity (the operator's own Google identity) is for ClusterApigeeConnections set up by an administrator; "+
				"the operator does not lend it to ApigeeConnections (flag --namespaced-ambient-credentials is off): "+
				"use serviceAccountKey with your own service account, or ask an administrator for a ClusterApigeeConnection")
	}
	if endpoint := conn.spec.EffectiveEndpoint(); !isGoogleEndpoint(endpoint) {
		return terminal(apigeev1alpha1.ReasonAmbientCredentialsNotAllowed, fmt.Sprintf(
			"workloadIdentity on an ApigeeConnection sends the operator's Google tokens only to https://*.googleapis.com, not to %s: "+
				"remove spec.endpoint or set a Google endpoint, use another auth method, or ask an administrator for a ClusterApigeeConnection",
			origin(endpoint)))
	}
	return nil
}

// isGoogleEndpoint reports whether endpoint is https on a *.googleapis.com
// host at the default port, where Google tokens may go.
func isGoogleEndpoint(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "https" || u.User != nil || (u.Port() != "" && u.Port() != "443") {
		return false
	}
	return strings.HasSuffix(strings.ToLower(u.Hostname()), ".googleapis.com")
}

// origin is scheme://host of endpoint, for messages (no path, no user).
func origin(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "an unparsable endpoint"
	}
	return u.Scheme + "://" + u.Host
}

// rateLimits splits a connection's rateLimit by whose it is. An
// administrator's ClusterApigeeConnection sets the organization's budget,
// shared by everyone; a namespace's ApigeeConnection caps only its own
// calls, so it can neither slow another namespace nor raise the budget.
func rateLimits(conn *connection) (budget, own apigee.Rate) {
	rl := conn.spec.RateLimit
	if rl == nil {
		return budget, own
	}
	r := apigee.Rate{PerMinute: int(rl.RequestsPerMinute), Burst: int(rl.Burst)}
	if conn.allowed != nil {
		return r, own
	}
	return budget, r
}
