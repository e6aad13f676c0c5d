// Package connect builds a ready apigee.Client for one connection:
// authentication, then the organization's traffic transport (limiter,
// metrics, logs), then the dialect's client, then retries.
package connect

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/auth"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/edge"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/x"
)

// Platform is the Apigee product a connection talks to.
type Platform string

const (
	PlatformX      Platform = "X"
	PlatformHybrid Platform = "Hybrid" // same API as X
	PlatformEdge   Platform = "Edge"
)

// DefaultTimeout bounds one HTTP attempt, whatever the caller's context.
const DefaultTimeout = 60 * time.Second

// Config describes one connection.
type Config struct {
	Platform     Platform
	Organization string
	// Endpoint defaults per platform (x.DefaultEndpoint, edge.DefaultEndpoint).
	Endpoint string
	Auth     auth.Config
	// RequestsPerMinute and Burst default per platform
	// (apigee.DefaultXRequestsPerMinute, DefaultEdgeRequestsPerMinute, DefaultBurst).
	RequestsPerMinute int
	Burst             int
	// Limiters shares one limiter per organization between connections;
	// nil: a registry shared by every connection in the process.
	Limiters *apigee.LimiterRegistry
	// Metrics records requests; nil: none.
	Metrics *apigee.Metrics
	// Retry bounds retries; the zero value means the defaults.
	Retry apigee.RetryOptions
	// Transport is the network transport under everything; nil:
	// http.DefaultTransport. Tests point it at their servers.
	Transport http.RoundTripper
	// Timeout bounds one attempt; default DefaultTimeout.
	Timeout time.Duration
}

// processLimiters serves connections that bring no registry, so the
// organization's limit still holds across all of them.
var processLimiters = apigee.NewLimiterRegistry()

// New returns a client with retries for the connection. Only Edge OAuth
// makes a request here (the password grant); every other failure of the
// credentials shows up in the first call, so callers Probe.
func New(ctx context.Context, cfg Config) (apigee.Client, error) {
	endpoint, rpm, err := defaults(cfg)
	if err != nil {
		return nil, err
	}
	authRT, err := auth.NewTransport(ctx, cfg.Auth, endpoint, cfg.Transport)
	if err != nil {
		return nil, err
	}
	limiters := cfg.Limiters
	if limiters == nil {
		limiters = processLimiters
	}
	hc := &http.Client{
		Transport: apigee.NewTransport(authRT, apigee.TransportOptions{
			Organization: cfg.Organization,
			Limiter:      limiters.For(endpoint, cfg.Organization, rpm, cfg.Burst),
			Metrics:      cfg.Metrics,
		}),
		Timeout: cfg.Timeout,
	}
	if hc.Timeout <= 0 {
		hc.Timeout = DefaultTimeout
	}
	c, err := dialect(cfg.Platform, endpoint, cfg.Organization, hc)
	if err != nil {
		return nil, err
	}
	return apigee.WithRetries(c, cfg.Retry), nil
}

// defaults returns the endpoint and rate for the platform.
func defaults(cfg Config) (endpoint string, rpm int, err error) {
	endpoint, rpm = cfg.Endpoint, cfg.RequestsPerMinute
	switch cfg.Platform {
	case PlatformX, PlatformHybrid:
		if endpoint == "" {
			endpoint = x.DefaultEndpoint
		}
		if rpm <= 0 {
			rpm = apigee.DefaultXRequestsPerMinute
		}
	case PlatformEdge:
		if endpoint == "" {
			endpoint = edge.DefaultEndpoint
		}
		if rpm <= 0 {
			rpm = apigee.DefaultEdgeRequestsPerMinute
		}
	default:
		return "", 0, invalid(fmt.Sprintf("unknown platform %q: want X, Hybrid or Edge", cfg.Platform))
	}
	if cfg.Organization == "" {
		return "", 0, invalid("organization is required")
	}
	return endpoint, rpm, nil
}

func dialect(p Platform, endpoint, org string, hc *http.Client) (apigee.Client, error) {
	if p == PlatformEdge {
		return edge.New(edge.Config{Endpoint: endpoint, Organization: org, HTTPClient: hc})
	}
	return x.New(x.Config{Endpoint: endpoint, Organization: org, HTTPClient: hc})
}

func invalid(msg string) *apigee.Error {
	return &apigee.Error{Class: apigee.ClassInvalid, Operation: "Connect", Message: msg}
}
