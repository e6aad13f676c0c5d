package controller

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// keyMetrics exports how many DeveloperAppKeys are in each Ready reason,
// when each key expires, and how many renewals the operator made.
type keyMetrics struct {
	mu         sync.Mutex
	reasons    map[types.NamespacedName]string
	gauge      *prometheus.GaugeVec
	expiration *prometheus.GaugeVec
	renewals   *prometheus.CounterVec
}

func newKeyMetrics(reg prometheus.Registerer) *keyMetrics {
	m := &keyMetrics{
		reasons: map[types.NamespacedName]string{},
		gauge: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apigee_key_operator_developerappkeys",
			Help: "DeveloperAppKeys by the reason of their Ready condition.",
		}, []string{"reason"})),
		expiration: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apigee_key_operator_key_expiration_timestamp_seconds",
			Help: "When the DeveloperAppKey's current Apigee key expires, in seconds since the epoch; absent for keys that never expire.",
		}, []string{"namespace", "name"})),
		renewals: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apigee_key_operator_key_renewals_total",
			Help: "Generated keys the operator renewed, by namespace and trigger (Scheduled: rotation.renewBefore; Requested: the rotate annotation).",
		}, []string{"namespace", "trigger"})),
	}
	return m
}

// register registers c, or returns the collector already registered under
// its name (several managers in one test process share the registry).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			return are.ExistingCollector.(C)
		}
	}
	return c
}

// connectionMetrics exports whether each connection's last probe worked,
// for alerts on connections that are not Ready.
type connectionMetrics struct{ ready *prometheus.GaugeVec }

func newConnectionMetrics(reg prometheus.Registerer) *connectionMetrics {
	return &connectionMetrics{ready: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "apigee_key_operator_connection_ready",
		Help: "1 when the connection's Ready condition is True, 0 otherwise.",
	}, []string{"kind", "namespace", "name"}))}
}

// set records the connection's readiness.
func (m *connectionMetrics) set(kind string, key types.NamespacedName, ready bool) {
	v := 0.0
	if ready {
		v = 1
	}
	m.ready.WithLabelValues(kind, key.Namespace, key.Name).Set(v)
}

// forget removes a deleted connection's series.
func (m *connectionMetrics) forget(kind string, key types.NamespacedName) {
	m.ready.DeleteLabelValues(kind, key.Namespace, key.Name)
}

// forget removes a deleted key's series.
func (m *keyMetrics) forget(key types.NamespacedName) {
	m.set(key, "")
	m.setExpiry(key, nil)
}

// setExpiry records when the key expires; nil removes the series.
func (m *keyMetrics) setExpiry(key types.NamespacedName, expiresAt *metav1.Time) {
	if expiresAt == nil {
		m.expiration.DeleteLabelValues(key.Namespace, key.Name)
		return
	}
	m.expiration.WithLabelValues(key.Namespace, key.Name).Set(float64(expiresAt.Unix()))
}

// renewed counts one renewal.
func (m *keyMetrics) renewed(namespace, trigger string) {
	m.renewals.WithLabelValues(namespace, trigger).Inc()
}

// set records the key's reason; "" forgets the key.
func (m *keyMetrics) set(key types.NamespacedName, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, had := m.reasons[key]
	if had && old == reason {
		return
	}
	if had {
		m.gauge.WithLabelValues(old).Dec()
		delete(m.reasons, key)
	}
	if reason != "" {
		m.reasons[key] = reason
		m.gauge.WithLabelValues(reason).Inc()
	}
}
