package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// TestTransientFaultsConverge: with 429s, 503s and latency on every
// operation, and a create that lands but answers 503, every key still
// converges and the app holds exactly one copy of each.
func TestTransientFaultsConverge(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d)
		a.emu.InjectFault(emulator.Fault{Operation: emulator.OpCreateKey, Status: 503, AfterEffect: true, Remaining: 1})
		a.emu.InjectFault(emulator.Fault{Status: 429, RetryAfter: time.Second, Probability: 0.3, Remaining: 4})
		a.emu.InjectFault(emulator.Fault{Status: 503, Probability: 0.3})
		a.emu.InjectFault(emulator.Fault{Latency: 50 * time.Millisecond, Probability: 0.3})
		keysBefore := a.keyCount(t, appName)

		const n = 3
		for i := range n {
			name := fmt.Sprintf("key-%d", i)
			create(t, credentialsSecret(ns, name, fmt.Sprintf("faultKey%d", i), fmt.Sprintf("faultSecret%d", i)))
			create(t, newKey(ns, name, name))
		}
		for i := range n {
			waitConverged(t, ns, fmt.Sprintf("key-%d", i))
		}
		if got := a.keyCount(t, appName); got != keysBefore+n {
			t.Errorf("app has %d keys, want %d", got, keysBefore+n)
		}
		for i := range n {
			c := a.key(t, appName, fmt.Sprintf("faultKey%d", i))
			if c == nil || !convergedKey(c) || len(c.Products) != 2 {
				t.Errorf("key %d: %v", i, describe(c))
			}
		}
		if a.emu.Calls(emulator.OpDeleteKey) != 0 {
			t.Errorf("a fault led to a delete: %v", a.emu.CallLog())
		}
	})
}

func describe(c *apigee.Credential) string {
	if c == nil {
		return "absent"
	}
	return c.Status + " " + products(c)
}
