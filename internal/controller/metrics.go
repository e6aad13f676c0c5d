package controller

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
)

// keyMetrics exports how many DeveloperAppKeys are in each Ready reason.
type keyMetrics struct {
	mu      sync.Mutex
	reasons map[types.NamespacedName]string
	gauge   *prometheus.GaugeVec
}

func newKeyMetrics(reg prometheus.Registerer) *keyMetrics {
	m := &keyMetrics{
		reasons: map[types.NamespacedName]string{},
		gauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apigee_key_operator_developerappkeys",
			Help: "DeveloperAppKeys by the reason of their Ready condition.",
		}, []string{"reason"}),
	}
	if reg != nil {
		if err := reg.Register(m.gauge); err != nil {
			if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
				m.gauge = are.ExistingCollector.(*prometheus.GaugeVec)
			}
		}
	}
	return m
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
