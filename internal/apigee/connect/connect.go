// Package connect builds a ready apigee.Client for one connection:
// authentication, then the organization's traffic transport (limiter,
// metrics, logs), then the dialect's client, then retries.
package connect

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/time/rate"

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
// Management calls answer within a second or two; a call that takes half a
// minute is treated as a sign the organization is not answering.
const DefaultTimeout = 30 * time.Second

// Config describes one connection.
type Config struct {
	Platform     Platform
	Organization string
	// Endpoint defaults per platform (x.DefaultEndpoint, edge.DefaultEndpoint).
	Endpoint string
	Auth     auth.Config
	// RequestsPerMinute and Burst, when set, are the organization's budget
	// and set its limiter, shared by every connection to it: pass only an
	// administrator's setting, never a namespace's. Zero: the limiter keeps
	// its limits; a new one starts at DefaultRate.
	RequestsPerMinute int
	Burst             int
	// DefaultRate starts a new organization limiter; zero fields: the
	// platform's default (apigee.DefaultXRequestsPerMinute,
	// DefaultEdgeRequestsPerMinute, DefaultBurst).
	DefaultRate apigee.Rate
	// ConnectionRate, when set, caps this connection's own calls on top of
	// the organization's budget (a namespace's rateLimit). ConnectionID
	// keeps that limiter in Limiters across rebuilds of the client.
	ConnectionRate apigee.Rate
	ConnectionID   string
	// Limiters shares one limiter per organization between connections;
	// nil: a registry shared by every connection in the process.
	Limiters *apigee.LimiterRegistry
	// Health shares one circuit breaker per organization between
	// connections; nil: none.
	Health *apigee.HealthRegistry
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
	c, err := newDialect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return apigee.WithRetries(c, cfg.Retry), nil
}

// newDialect builds the dialect's client on the authenticated traffic
// transport, without retries.
func newDialect(ctx context.Context, cfg Config) (dialectClient, error) {
	endpoint, start, err := defaults(cfg)
	if err != nil {
		return nil, err
	}
	authRT, err := auth.NewTransport(ctx, cfg.Auth, endpoint, cfg.Transport)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{
		Transport: apigee.NewTransport(authRT, trafficOptions(cfg, endpoint, start)),
		Timeout:   cfg.Timeout,
	}
	if hc.Timeout <= 0 {
		hc.Timeout = DefaultTimeout
	}
	return dialect(cfg.Platform, endpoint, cfg.Organization, hc)
}

// trafficOptions picks the connection's limiters: the organization's,
// whose limits only an explicit budget changes, and the connection's own
// when it has a rate.
func trafficOptions(cfg Config, endpoint string, start apigee.Rate) apigee.TransportOptions {
	limiters := cfg.Limiters
	if limiters == nil {
		limiters = processLimiters
	}
	opts := apigee.TransportOptions{Organization: cfg.Organization, Metrics: cfg.Metrics}
	if cfg.Health != nil {
		opts.Health = cfg.Health.Organization(endpoint, cfg.Organization)
	}
	if budget := (apigee.Rate{PerMinute: cfg.RequestsPerMinute, Burst: cfg.Burst}); budget.PerMinute > 0 {
		opts.Limiter = limiters.SetOrganization(endpoint, cfg.Organization, budget)
	} else {
		opts.Limiter = limiters.Organization(endpoint, cfg.Organization, start)
	}
	if own := cfg.ConnectionRate; own.PerMinute > 0 {
		opts.ConnectionLimiter = ownLimiter(limiters, cfg.ConnectionID, own)
	}
	return opts
}

func ownLimiter(limiters *apigee.LimiterRegistry, id string, own apigee.Rate) *rate.Limiter {
	if id == "" {
		return own.NewLimiter() // unnamed: this client's alone
	}
	return limiters.Connection(id, own)
}

// defaults returns the endpoint and the starting rate of a new
// organization limiter for the platform.
func defaults(cfg Config) (endpoint string, start apigee.Rate, err error) {
	endpoint, start = cfg.Endpoint, cfg.DefaultRate
	def := apigee.Rate{PerMinute: apigee.DefaultXRequestsPerMinute, Burst: apigee.DefaultBurst}
	switch cfg.Platform {
	case PlatformX, PlatformHybrid:
		endpoint = cmp.Or(endpoint, x.DefaultEndpoint)
	case PlatformEdge:
		endpoint = cmp.Or(endpoint, edge.DefaultEndpoint)
		def.PerMinute = apigee.DefaultEdgeRequestsPerMinute
	default:
		return "", start, invalid(fmt.Sprintf("unknown platform %q: want X, Hybrid or Edge", cfg.Platform))
	}
	if cfg.Organization == "" {
		return "", start, invalid("organization is required")
	}
	if start.PerMinute <= 0 {
		start.PerMinute = def.PerMinute
	}
	if start.Burst <= 0 {
		start.Burst = def.Burst
	}
	return endpoint, start, nil
}

func dialect(p Platform, endpoint, org string, hc *http.Client) (dialectClient, error) {
	if p == PlatformEdge {
		return edge.New(edge.Config{Endpoint: endpoint, Organization: org, HTTPClient: hc})
	}
	return x.New(x.Config{Endpoint: endpoint, Organization: org, HTTPClient: hc})
}

func invalid(msg string) *apigee.Error {
	return &apigee.Error{Class: apigee.ClassInvalid, Operation: "Connect", Message: msg}
}
