package apigee

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts and times Apigee management calls at the transport.
// Labels are the organization, the operation (from the context, never the
// URL) and the HTTP status or "error"; no label ever holds a key.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// orgs are the organization label values in use: tenants name
	// organizations, so at most maxOrgs of them get series of their own,
	// and the rest share OtherOrganizations.
	mu      sync.Mutex
	orgs    map[string]bool
	maxOrgs int
}

// DefaultOrganizationSeries is how many organizations get series of their
// own unless LimitOrganizations says otherwise; calls to any further
// organization are counted under OtherOrganizations until one is
// forgotten.
const DefaultOrganizationSeries = 100

// OtherOrganizations labels the calls of organizations beyond the limit.
const OtherOrganizations = "_other"

// OrganizationLabel returns the label value org's series use, taking one
// of the limited places if it has none yet.
func (m *Metrics) OrganizationLabel(org string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.orgs[org] || len(m.orgs) < m.maxOrgs {
		m.orgs[org] = true
		return org
	}
	return OtherOrganizations
}

// ForgetOrganization deletes org's series and frees its place: no
// connection reaches an organization of that name any more.
func (m *Metrics) ForgetOrganization(org string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	delete(m.orgs, org)
	m.mu.Unlock()
	m.requests.DeletePartialMatch(prometheus.Labels{"organization": org})
	m.duration.DeletePartialMatch(prometheus.Labels{"organization": org})
}

// LimitOrganizations sets how many organizations get series of their own.
func (m *Metrics) LimitOrganizations(n int) {
	m.mu.Lock()
	m.maxOrgs = n
	m.mu.Unlock()
}

// NewMetrics creates the collectors and registers them with reg (nil: not
// registered). Registering twice reuses the collectors already there.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		orgs: map[string]bool{}, maxOrgs: DefaultOrganizationSeries,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apigee_key_operator_apigee_requests_total",
			Help: "Apigee management API requests, by organization, operation and HTTP status (\"error\": no response).",
		}, []string{"organization", "operation", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "apigee_key_operator_apigee_request_duration_seconds",
			Help:    "Duration of Apigee management API requests, by organization and operation.",
			Buckets: prometheus.DefBuckets,
		}, []string{"organization", "operation"}),
	}
	if reg != nil {
		m.requests = register(reg, m.requests)
		m.duration = register(reg, m.duration)
	}
	return m
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	if err != nil {
		panic(err)
	}
	return c
}

// observe records one request; a nil *Metrics records nothing.
func (m *Metrics) observe(org, op, code string, d time.Duration) {
	if m == nil {
		return
	}
	org = m.OrganizationLabel(org)
	m.requests.WithLabelValues(org, op, code).Inc()
	m.duration.WithLabelValues(org, op).Observe(d.Seconds())
}
