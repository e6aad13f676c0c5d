package integration

import (
	"testing"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// lettersAndDigits reports whether v is non-empty and only letters and digits.
func lettersAndDigits(v []byte) bool {
	for _, b := range v {
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9') {
			return false
		}
	}
	return len(v) > 0
}

// TestGenerateCreatesOwnedSecret: with generate and no Secret, the
// operator creates one owned by the key, with valid values, and imports it.
func TestGenerateCreatesOwnedSecret(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d)
		k := newKey(ns, "orders", "generated")
		k.Spec.Credentials.Generate = true
		create(t, k)
		k = waitConverged(t, ns, "orders")

		s := getSecret(t, ns, "generated")
		owner := s.OwnerReferences
		if len(owner) != 1 || owner[0].UID != k.UID || owner[0].Kind != "DeveloperAppKey" || owner[0].Controller == nil || !*owner[0].Controller {
			t.Errorf("Secret owners = %+v, want the DeveloperAppKey as controller", owner)
		}
		key, secret := s.Data["consumerKey"], s.Data["consumerSecret"]
		if !lettersAndDigits(key) || !lettersAndDigits(secret) {
			t.Fatalf("generated values are not letters and digits (lengths %d, %d)", len(key), len(secret))
		}
		got := a.key(t, appName, string(key))
		if got == nil || got.ConsumerSecret != string(secret) || !convergedKey(got) {
			t.Errorf("the generated key was not imported with its secret and products")
		}
	})
}

// TestGenerateNeverOverwritesSecret: an existing Secret is used as it is.
func TestGenerateNeverOverwritesSecret(t *testing.T) {
	a, ns := setup(t, emulator.X)
	create(t, credentialsSecret(ns, "creds", "keptKey", "keptSecret"))
	k := newKey(ns, "orders", "creds")
	k.Spec.Credentials.Generate = true
	create(t, k)
	waitConverged(t, ns, "orders")

	s := getSecret(t, ns, "creds")
	if string(s.Data["consumerKey"]) != "keptKey" || string(s.Data["consumerSecret"]) != "keptSecret" || len(s.OwnerReferences) != 0 {
		t.Errorf("the existing Secret was changed")
	}
	if got := a.key(t, appName, "keptKey"); got == nil || got.ConsumerSecret != "keptSecret" {
		t.Errorf("the existing Secret's key was not imported")
	}
}
