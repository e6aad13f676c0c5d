package emulator

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// TestSampleSeed: the sample shipped in config/samples is valid and seeds
// what docs/emulator.md promises.
func TestSampleSeed(t *testing.T) {
	seed, err := LoadSeed("../../../config/emulator/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	opts := seed.Options()
	if opts.Organization != "acme-prod" || opts.BearerToken != "local-dev-token" {
		t.Errorf("options = org %q token set %v", opts.Organization, opts.BearerToken != "")
	}
	e := New(opts)
	apps, err := e.Apply(seed)
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 1 || apps[0].App != "orders-app" || apps[0].Developer != "partner@example.com" {
		t.Fatalf("seeded apps = %v", apps)
	}
	app, ok := e.App("partner@example.com", "orders-app")
	if !ok || len(app.Credentials) != 1 || app.Credentials[0].ConsumerKey != apps[0].Key.ConsumerKey {
		t.Fatalf("orders-app = %v", app)
	}
	if _, err := e.s.app("partner@example.com", "orders-app"); err != nil {
		t.Fatal(err)
	}
	if got := e.s.products["orders-admin"].approval; got != "manual" {
		t.Errorf("orders-admin approval = %q, want manual", got)
	}
}

func TestParseSeedRejects(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"no organization", "products: []", "organization is required"},
		{"typo in auth", "organization: o\nauth:\n  bearerTokn: x", "unknown field"},
		{"bad approval type", "organization: o\nproducts:\n- name: p\n  approvalType: sometimes", "approvalType must be auto or manual"},
		{"developer without email", "organization: o\ndevelopers:\n- apps: [a]", "developer without an email"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSeed([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestParseSeedBasicAuthAndQuota(t *testing.T) {
	seed, err := ParseSeed([]byte("organization: o\nauth:\n  basic: {user: u, password: p}\nquota: {requestsPerMinute: 10}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := seed.Options()
	want := Options{Organization: "o", BasicUser: "u", BasicPassword: "p", RequestsPerMinute: 10}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b func() string) bool { return true })); diff != "" {
		t.Errorf("options (-want +got):\n%s", diff)
	}
}

// TestSeedingAPI: the Go seeding and inspection methods.
func TestSeedingAPI(t *testing.T) {
	e := New(Options{Organization: "o", KeyGenerator: counterKeys()})
	id := e.AddDeveloper("a@example.com")
	if again := e.AddDeveloper("a@example.com"); again != id || len(id) != 36 {
		t.Errorf("AddDeveloper ids %q, %q: want one UUID for one email", id, again)
	}
	key, err := e.AddApp(id, "app") // by developer id
	if err != nil {
		t.Fatal(err)
	}
	want := apigee.Credential{ConsumerKey: "gen000001", ConsumerSecret: "gen000002", Status: "approved", IssuedAt: key.IssuedAt}
	if diff := cmp.Diff(want, key); diff != "" {
		t.Errorf("AddApp key (-want +got):\n%s", diff)
	}
	if _, err := e.AddApp("a@example.com", "app"); err == nil {
		t.Errorf("second AddApp with the same name succeeded")
	}
	if _, err := e.AddApp("nobody@example.com", "app"); err == nil {
		t.Errorf("AddApp for an unknown developer succeeded")
	}

	app, ok := e.App("a@example.com", "app")
	if !ok || app.DeveloperID != id || app.Name != "app" || len(app.Credentials) != 1 {
		t.Fatalf("App = %+v, %v", app, ok)
	}
	app.Credentials[0].Status = "revoked" // a deep copy: must not leak back
	app.Credentials[0].Products = append(app.Credentials[0].Products, apigee.ProductStatus{Name: "x"})
	again, _ := e.App("a@example.com", "app")
	if again.Credentials[0].Status != "approved" || len(again.Credentials[0].Products) != 0 {
		t.Errorf("App returned shared state, not a copy")
	}
	if _, ok := e.App("a@example.com", "nope"); ok {
		t.Errorf("App found a missing app")
	}
}

// TestGeneratedKeyCollision: a generated key that is already taken (a
// KeyGenerator repeating itself) is a conflict, never a second owner.
func TestGeneratedKeyCollision(t *testing.T) {
	e := New(Options{Organization: "o", KeyGenerator: func() string { return "same" }})
	e.AddDeveloper("a@example.com")
	if _, err := e.AddApp("a@example.com", "one"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddApp("a@example.com", "two"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second app with a taken generated key: err = %v, want a conflict", err)
	}
	if _, ok := e.App("a@example.com", "two"); ok {
		t.Errorf("the app was created although its key was taken")
	}
}
