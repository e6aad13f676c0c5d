package apigee

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts and times Apigee management calls at the transport.
// Labels are the organization, the operation (from the context, never the
// URL) and the HTTP status or "error"; no label ever holds a key.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics creates the collectors and registers them with reg (nil: not
// registered). Registering twice reuses the collectors already there.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
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
	m.requests.WithLabelValues(org, op, code).Inc()
	m.duration.WithLabelValues(org, op).Observe(d.Seconds())
}
