package integration

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// badCase is a DeveloperAppKey that cannot converge and the reason it
// must report.
type badCase struct {
	reason string
	// secret is the credentials Secret to create; nil: none.
	secret *corev1.Secret
	// change adjusts the key made by conflictingKey (resync 1s).
	change func(k *apigeev1alpha1.DeveloperAppKey)
	// before prepares the namespace (another connection, say).
	before func(t *testing.T, a *apigeeOrg, ns string)
	// callsApigee: the failure comes from an Apigee answer, so each
	// resync may make calls (bounded); otherwise none at all.
	callsApigee bool
}

func secretWith(ns string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "creds"}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

// TestBadInput: each problem is reported with its reason, nothing in
// Apigee changes, and the failure is not retried hot.
func TestBadInput(t *testing.T) {
	valid := func(ns string) *corev1.Secret { return credentialsSecret(ns, "creds", "badKey", "badSecret") }
	cases := map[string]func(ns string) badCase{
		"SecretMissing": func(ns string) badCase {
			return badCase{reason: apigeev1alpha1.ReasonSecretNotFound}
		},
		"FieldMissing": func(ns string) badCase {
			return badCase{reason: apigeev1alpha1.ReasonInvalidCredentials, secret: secretWith(ns, map[string]string{"consumerKey": "badKey"})}
		},
		"EmptyValue": func(ns string) badCase {
			return badCase{reason: apigeev1alpha1.ReasonInvalidCredentials, secret: secretWith(ns, map[string]string{"consumerKey": "", "consumerSecret": "badSecret"})}
		},
		"InvalidCharacters": func(ns string) badCase {
			return badCase{reason: apigeev1alpha1.ReasonInvalidCredentials, secret: secretWith(ns, map[string]string{"consumerKey": "bad key!", "consumerSecret": "badSecret"})}
		},
		"ValueOver2KB": func(ns string) badCase {
			return badCase{reason: apigeev1alpha1.ReasonInvalidCredentials, secret: secretWith(ns, map[string]string{"consumerKey": "badKey", "consumerSecret": strings.Repeat("s", 2049)})}
		},
		"DeveloperNotFound": func(ns string) badCase {
			return badCase{reason: apigeev1alpha1.ReasonDeveloperNotFound, secret: valid(ns), callsApigee: true,
				change: func(k *apigeev1alpha1.DeveloperAppKey) { k.Spec.Developer = "nobody@example.com" }}
		},
		"AppNotFound": func(ns string) badCase {
			return badCase{reason: apigeev1alpha1.ReasonAppNotFound, secret: valid(ns), callsApigee: true,
				change: func(k *apigeev1alpha1.DeveloperAppKey) { k.Spec.App = "no-such-app" }}
		},
		"ProductNotFound": func(ns string) badCase {
			return badCase{reason: apigeev1alpha1.ReasonProductNotFound, secret: valid(ns), callsApigee: true,
				change: func(k *apigeev1alpha1.DeveloperAppKey) {
					k.Spec.APIProducts = append(k.Spec.APIProducts, apigeev1alpha1.APIProductRef{Name: "no-such-product"})
				}}
		},
		"ConnectionMissing": func(ns string) badCase {
			return badCase{reason: apigeev1alpha1.ReasonConnectionNotFound, secret: valid(ns),
				change: func(k *apigeev1alpha1.DeveloperAppKey) { k.Spec.ConnectionRef.Name = "absent" }}
		},
		"ConnectionNotReady": func(ns string) badCase {
			return badCase{reason: apigeev1alpha1.ReasonConnectionNotReady, secret: valid(ns),
				before: func(t *testing.T, a *apigeeOrg, ns string) {
					create(t, tokenSecret(ns, "wrong-token", "not-the-token"))
					create(t, connectionTo(ns, "unauthorized", a, "wrong-token"))
					waitConnectionReason(t, ns, "unauthorized", apigeev1alpha1.ReasonUnauthorized)
				},
				change: func(k *apigeev1alpha1.DeveloperAppKey) { k.Spec.ConnectionRef.Name = "unauthorized" }}
		},
		"NamespaceNotAllowed": func(ns string) badCase {
			return badCase{reason: apigeev1alpha1.ReasonConnectionNotAllowed, secret: valid(ns),
				before: func(t *testing.T, a *apigeeOrg, ns string) {
					createClusterConnection(t, "cluster-"+ns, a, ns, apigeev1alpha1.AllowedNamespaces{Names: []string{"somewhere-else"}})
				},
				change: func(k *apigeev1alpha1.DeveloperAppKey) {
					k.Spec.ConnectionRef = apigeev1alpha1.ConnectionReference{Kind: "ClusterApigeeConnection", Name: "cluster-" + ns}
				}}
		},
	}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			a, ns := setup(t, emulator.X)
			c := build(ns)
			runBadCase(t, a, ns, c)
		})
	}
}

func runBadCase(t *testing.T, a *apigeeOrg, ns string, c badCase) {
	t.Helper()
	if c.before != nil {
		c.before(t, a, ns)
	}
	if c.secret != nil {
		create(t, c.secret)
	}
	k := conflictingKey(ns, "orders", "creds")
	if c.change != nil {
		c.change(k)
	}
	keysBefore := a.keyCount(t, appName)
	a.emu.ResetCalls()
	create(t, k)

	k = waitReason(t, ns, "orders", c.reason)
	if readyCondition(k).Status != metav1.ConditionFalse {
		t.Errorf("Ready is not False")
	}
	waitEvent(t, ns, "orders", corev1.EventTypeWarning, c.reason)
	if !c.callsApigee {
		if calls := withoutProbes(a.emu.CallLog()); len(calls) != 0 {
			t.Errorf("called Apigee: %v", calls)
		}
	}
	assertNoRetryStorm(t, a)
	if !c.callsApigee {
		if calls := withoutProbes(a.emu.CallLog()); len(calls) != 0 {
			t.Errorf("called Apigee at resync: %v", calls)
		}
	}
	assertNothingRemoved(t, a, keysBefore)
}

// assertNothingRemoved: no key or product was deleted, no key added but
// (for ProductNotFound) the import itself.
func assertNothingRemoved(t *testing.T, a *apigeeOrg, keysBefore int) {
	t.Helper()
	if n := a.emu.Calls(emulator.OpDeleteKey) + a.emu.Calls(emulator.OpDeleteKeyProduct); n != 0 {
		t.Errorf("deleted something in Apigee: %v", a.emu.CallLog())
	}
	if n := a.keyCount(t, appName); n < keysBefore || n > keysBefore+1 {
		t.Errorf("orders-app has %d keys, had %d", n, keysBefore)
	}
	if a.key(t, appName, a.autoKey.ConsumerKey) == nil {
		t.Errorf("the app's key is gone")
	}
}

// TestExpiresInSecondsImmutable: the CRD rejects changing the lifetime
// after it is set.
func TestExpiresInSecondsImmutable(t *testing.T) {
	ns := namespace(t)
	k := newKey(ns, "orders", "creds")
	k.Spec.ExpiresInSeconds = ptr(int64(3600))
	create(t, k)
	k = get(t, ns, "orders")
	k.Spec.ExpiresInSeconds = ptr(int64(7200))
	if err := k8s.Update(context.Background(), k); err == nil {
		t.Errorf("changing expiresInSeconds was accepted")
	}
}
