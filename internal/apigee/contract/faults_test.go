package contract

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// model is what the organization must look like after the operations,
// whatever faults happened on the way.
type model struct {
	approval map[string]string // product -> auto|manual
	apps     map[string][]*apigee.Credential
}

var soakApps = []string{"app-a", "app-b", "app-c"}

var soakProducts = map[string]string{"auto1": "auto", "auto2": "auto", "manual1": "manual", "manual2": "manual"}

// soakScopes are defined by every soak product.
var soakScopes = []string{"read", "write", "admin"}

// TestFaultSoak runs 200 operations under 20% 5xx (half of them after the
// change was made) and 10% 429 and checks that the final state equals the
// model: every effect happened exactly once.
func TestFaultSoak(t *testing.T) {
	for _, d := range dialects[:2] {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d, nil)
			m := seedSoak(t, e)
			e.emu.InjectFault(emulator.Fault{Status: 500, Probability: 0.10, AfterEffect: true})
			e.emu.InjectFault(emulator.Fault{Status: 503, Probability: 0.10 / 0.90})
			e.emu.InjectFault(emulator.Fault{Status: 429, Probability: 0.10 / 0.80})
			// Ten attempts: with 30% failures, five would leave a ~40% chance
			// that one of 200 operations gives up (the controller would requeue).
			c := e.client(clientOptions{retry: fastRetries(10)})

			rng := rand.New(rand.NewPCG(7, 11))
			for i := 0; i < 200; i++ {
				if err := m.step(context.Background(), c, rng, i); err != nil {
					t.Fatalf("operation %d: %v", i, err)
				}
			}
			e.emu.ClearFaults()
			m.check(t, e)
			faulted := 0
			for _, call := range e.emu.CallLog() {
				if call.Status >= 429 {
					faulted++
				}
			}
			t.Logf("%d requests, %d answered with an injected error", e.emu.TotalCalls(), faulted)
			if faulted < 30 {
				t.Errorf("only %d faults fired: the soak proves little", faulted)
			}
		})
	}
}

func seedSoak(t *testing.T, e *env) *model {
	e.emu.AddDeveloper(developer)
	m := &model{approval: soakProducts, apps: map[string][]*apigee.Credential{}}
	for p, a := range soakProducts {
		e.emu.AddProduct(p, a, emulator.WithScopes(soakScopes...))
	}
	for _, a := range soakApps {
		k, err := e.emu.AddApp(developer, a)
		if err != nil {
			t.Fatal(err)
		}
		m.apps[a] = []*apigee.Credential{{ConsumerKey: k.ConsumerKey, ConsumerSecret: k.ConsumerSecret, Status: apigee.StatusApproved}}
	}
	return m
}

// step picks an operation that must succeed in the model's state, runs
// it, and applies it to the model.
func (m *model) step(ctx context.Context, c apigee.Client, rng *rand.Rand, i int) error {
	appName := soakApps[rng.IntN(len(soakApps))]
	keys := m.apps[appName]
	if len(keys) == 0 || rng.IntN(8) == 0 {
		return m.importKey(ctx, c, appName, i)
	}
	k := keys[rng.IntN(len(keys))]
	ref := apigee.KeyRef{Developer: developer, App: appName, ConsumerKey: k.ConsumerKey}
	switch rng.IntN(9) {
	case 0:
		return m.addProducts(ctx, c, ref, k, rng)
	case 1:
		if len(k.Products) == 0 {
			return m.addProducts(ctx, c, ref, k, rng)
		}
		p := k.Products[rng.IntN(len(k.Products))].Name
		k.Products = slices.DeleteFunc(k.Products, func(x apigee.ProductStatus) bool { return x.Name == p })
		return c.RemoveProduct(ctx, ref, p)
	case 2:
		k.Attributes = []apigee.Attribute{{Name: "n", Value: fmt.Sprint(i)}}
		_, err := c.SetAttributes(ctx, ref, k.Attributes)
		return err
	case 3:
		if len(k.Products) == 0 { // scopes must be defined by a product of the key
			return m.addProducts(ctx, c, ref, k, rng)
		}
		k.Scopes = []string{soakScopes[i%len(soakScopes)]}
		_, err := c.SetScopes(ctx, ref, k.Scopes)
		return err
	case 4:
		action := []apigee.Action{apigee.ActionApprove, apigee.ActionRevoke}[rng.IntN(2)]
		k.Status = status(action)
		return c.SetKeyStatus(ctx, ref, action)
	case 5:
		if len(k.Products) == 0 {
			return m.addProducts(ctx, c, ref, k, rng)
		}
		j := rng.IntN(len(k.Products))
		action := []apigee.Action{apigee.ActionApprove, apigee.ActionRevoke}[rng.IntN(2)]
		k.Products[j].Status = status(action)
		return c.SetProductStatus(ctx, ref, k.Products[j].Name, action)
	case 6:
		m.apps[appName] = slices.DeleteFunc(keys, func(x *apigee.Credential) bool { return x == k })
		return c.DeleteKey(ctx, ref)
	case 7:
		got, err := c.GetKey(ctx, ref)
		if err == nil && !cmp.Equal(k, got, credOpts) {
			return fmt.Errorf("GetKey differs from the model: %s", cmp.Diff(k, got, credOpts))
		}
		return err
	default:
		a, err := c.GetApp(ctx, developer, appName)
		if err == nil && len(a.Credentials) != len(keys) {
			return fmt.Errorf("GetApp has %d keys, the model %d", len(a.Credentials), len(keys))
		}
		return err
	}
}

func (m *model) importKey(ctx context.Context, c apigee.Client, appName string, i int) error {
	k := &apigee.Credential{ConsumerKey: fmt.Sprintf("soak-key-%03d", i), ConsumerSecret: fmt.Sprintf("soak-secret-%03d", i), Status: apigee.StatusApproved}
	m.apps[appName] = append(m.apps[appName], k)
	_, err := c.ImportKey(ctx, developer, appName, apigee.ImportRequest{ConsumerKey: k.ConsumerKey, ConsumerSecret: k.ConsumerSecret})
	return err
}

func (m *model) addProducts(ctx context.Context, c apigee.Client, ref apigee.KeyRef, k *apigee.Credential, rng *rand.Rand) error {
	names := []string{"auto1", "auto2", "manual1", "manual2"}
	rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	add := names[:1+rng.IntN(2)]
	for _, p := range add {
		if slices.ContainsFunc(k.Products, func(x apigee.ProductStatus) bool { return x.Name == p }) {
			continue
		}
		st := apigee.StatusApproved
		if m.approval[p] == "manual" {
			st = apigee.StatusPending
		}
		k.Products = append(k.Products, apigee.ProductStatus{Name: p, Status: st})
	}
	_, err := c.AddProducts(ctx, ref, add, k.Attributes)
	return err
}

func status(a apigee.Action) string {
	if a == apigee.ActionRevoke {
		return apigee.StatusRevoked
	}
	return apigee.StatusApproved
}

// check compares every app with the model and counts each key once.
func (m *model) check(t *testing.T, e *env) {
	t.Helper()
	seen := map[string]int{}
	for _, name := range soakApps {
		a, ok := e.emu.App(developer, name)
		if !ok {
			t.Fatalf("app %s is gone", name)
		}
		var got []*apigee.Credential
		for i := range a.Credentials {
			got = append(got, &a.Credentials[i])
			seen[a.Credentials[i].ConsumerKey]++
		}
		if diff := cmp.Diff(m.apps[name], got, credOpts); diff != "" {
			t.Errorf("app %s differs from the model (-want +got):\n%s", name, diff)
		}
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("key %s exists %d times", apigee.Fingerprint(k), n)
		}
	}
}
