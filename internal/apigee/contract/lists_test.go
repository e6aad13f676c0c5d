package contract

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/connect"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// lister builds the Lister the way the command-line tool does.
func (e *env) lister(o clientOptions) (apigee.Client, apigee.Lister) {
	e.t.Helper()
	c, l, err := connect.NewWithLister(context.Background(), connect.Config{
		Platform: e.d.platform, Organization: org, Endpoint: e.url, Auth: e.d.auth(e.tokenURL),
		RequestsPerMinute: 600000, Burst: 1000, Limiters: e.limiters, Retry: o.retry,
	})
	if err != nil {
		e.t.Fatalf("connect.NewWithLister: %v", err)
	}
	return c, l
}

// seedOrg makes devs developers with apps apps each; every app holds its
// generated key and one imported key with a product and an attribute.
func seedOrg(t *testing.T, e *env, c apigee.Client, devs, apps int) {
	t.Helper()
	ctx := context.Background()
	e.emu.AddProduct("p1", "auto")
	e.emu.AddProduct("p2", "manual")
	e.emu.AddProduct("p3", "auto")
	for d := range devs {
		dev := fmt.Sprintf("dev%d@example.com", d)
		e.emu.AddDeveloper(dev)
		for a := range apps {
			name := fmt.Sprintf("app%d", a)
			if _, err := e.emu.AddApp(dev, name); err != nil {
				t.Fatal(err)
			}
			k := fmt.Sprintf("key-%d-%d", d, a)
			if _, err := c.ImportKey(ctx, dev, name, apigee.ImportRequest{ConsumerKey: k, ConsumerSecret: "s-" + k}); err != nil {
				t.Fatal(err)
			}
			ref := apigee.KeyRef{Developer: dev, App: name, ConsumerKey: k}
			if _, err := c.AddProducts(ctx, ref, []string{"p1"}, []apigee.Attribute{{Name: "tier", Value: "gold"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestListsPageThroughTheOrganization(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			e := newEnv(t, d, nil)
			c, l := e.lister(clientOptions{})
			seedOrg(t, e, c, 5, 2)
			ctx := context.Background()
			e.emu.ResetCalls()

			var emails []string
			ids := map[string]string{}
			if err := apigee.EachDeveloper(ctx, l, 2, func(page []apigee.Developer) error {
				for _, dv := range page {
					emails = append(emails, dv.Email)
					ids[dv.ID] = dv.Email
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			want := []string{"dev0@example.com", "dev1@example.com", "dev2@example.com", "dev3@example.com", "dev4@example.com"}
			if diff := cmp.Diff(want, emails); diff != "" {
				t.Errorf("developers (-want +got):\n%s", diff)
			}
			// Pages of 2 with the start repeated: {0,1} {1,2} {2,3} {3,4},
			// each full, then {4}: short, the end.
			if got := e.emu.Calls(emulator.OpListDevelopers); got != 5 {
				t.Errorf("ListDevelopers calls = %d, want 5", got)
			}

			var apps []apigee.ListedApp
			if err := apigee.EachApp(ctx, l, 3, func(page []apigee.ListedApp) error {
				apps = append(apps, page...)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(apps) != 10 {
				t.Fatalf("apps = %d, want 10", len(apps))
			}
			seen := map[string]bool{}
			for _, a := range apps {
				if seen[a.AppID] {
					t.Errorf("app %s listed twice", a.AppID)
				}
				seen[a.AppID] = true
				checkListedApp(t, d, a, ids)
			}

			var products []string
			if err := apigee.EachProduct(ctx, l, 2, func(page []apigee.Product) error {
				for _, p := range page {
					products = append(products, p.Name+"/"+p.ApprovalType)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"p1/auto", "p2/manual", "p3/auto"}, products); diff != "" {
				t.Errorf("products (-want +got):\n%s", diff)
			}
		})
	}
}

// checkListedApp: the app carries both keys with secrets, products and
// attributes; X names the developer's email, Edge only the id.
func checkListedApp(t *testing.T, d dialect, a apigee.ListedApp, ids map[string]string) {
	t.Helper()
	email := ids[a.DeveloperID]
	if email == "" {
		t.Fatalf("app %s: developer id %q not among the listed developers", a.Name, a.DeveloperID)
	}
	wantEmail := email
	if d.emulator == emulator.Edge {
		wantEmail = ""
	}
	if a.DeveloperEmail != wantEmail {
		t.Errorf("app %s: DeveloperEmail = %q, want %q", a.Name, a.DeveloperEmail, wantEmail)
	}
	if len(a.Credentials) != 2 || a.CreatedAt.IsZero() || a.Status != apigee.StatusApproved {
		t.Fatalf("app %s: %d credentials, createdAt %v, status %q", a.Name, len(a.Credentials), a.CreatedAt, a.Status)
	}
	imported := a.Credentials[1]
	if imported.ConsumerSecret != "s-"+imported.ConsumerKey {
		t.Errorf("app %s: the imported key's secret did not come back", a.Name)
	}
	if !slices.Equal(imported.Products, []apigee.ProductStatus{{Name: "p1", Status: apigee.StatusApproved}}) ||
		!slices.Equal(imported.Attributes, []apigee.Attribute{{Name: "tier", Value: "gold"}}) {
		t.Errorf("app %s: products %v attributes %v", a.Name, imported.Products, imported.Attributes)
	}
}

func TestListsRetryAndClassifyFailures(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			e := newEnv(t, d, nil)
			c, l := e.lister(clientOptions{retry: fastRetries(3)})
			seedOrg(t, e, c, 1, 1)
			e.emu.InjectFault(emulator.Fault{Operation: emulator.OpListApps, Status: 503, Remaining: 1})
			apps, err := l.ListApps(context.Background(), apigee.AllApps[0], "", 10)
			if err != nil || len(apps) != 1 {
				t.Fatalf("ListApps after one 503 = %d apps, %v; want the retry to succeed", len(apps), err)
			}
			e.emu.InjectFault(emulator.Fault{Operation: emulator.OpListDevelopers, Status: 401})
			_, err = l.ListDevelopers(context.Background(), "", 10)
			if apigee.ClassOf(err) != apigee.ClassUnauthorized {
				t.Fatalf("ListDevelopers on 401: class %q (%v), want Unauthorized", apigee.ClassOf(err), err)
			}
		})
	}
}

func TestListRejectsOversizedPages(t *testing.T) {
	for _, d := range dialects[:2] {
		t.Run(d.name, func(t *testing.T) {
			e := newEnv(t, d, nil)
			_, l := e.lister(clientOptions{retry: fastRetries(1)})
			if _, err := l.ListApps(context.Background(), apigee.AllApps[0], "", 1001); apigee.ClassOf(err) != apigee.ClassInvalid {
				t.Fatalf("rows=1001: class %q, want InvalidArgument", apigee.ClassOf(err))
			}
		})
	}
}

// TestListsIncludeRevokedAppsAndKeys: the apps list is documented to
// default to approved apps and approved keys; listing the organization must
// still bring the keys of a revoked app and a revoked key, each once.
func TestListsIncludeRevokedAppsAndKeys(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			e := newEnv(t, d, nil)
			c, l := e.lister(clientOptions{})
			seedOrg(t, e, c, 2, 2)
			ctx := context.Background()
			if err := e.emu.SetAppStatus("dev0@example.com", "app1", apigee.StatusRevoked); err != nil {
				t.Fatal(err)
			}
			ref := apigee.KeyRef{Developer: "dev1@example.com", App: "app0", ConsumerKey: "key-1-0"}
			if err := c.SetKeyStatus(ctx, ref, apigee.ActionRevoke); err != nil {
				t.Fatal(err)
			}
			// What a list with the defaults sees: neither.
			defaults, err := l.ListApps(ctx, apigee.AllApps[0], "", 10)
			if err != nil {
				t.Fatal(err)
			}
			if got := keysIn(defaults); slices.Contains(got, "key-0-1") || slices.Contains(got, "key-1-0") {
				t.Errorf("the approved/approved page holds %v", got)
			}

			var all []apigee.ListedApp
			e.emu.ResetCalls()
			if err := apigee.EachApp(ctx, l, 1000, func(page []apigee.ListedApp) error {
				all = append(all, page...)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if calls := e.emu.Calls(emulator.OpListApps); calls != len(apigee.AllApps) {
				t.Errorf("ListApps calls = %d, want one per filter (%d)", calls, len(apigee.AllApps))
			}
			got := keysIn(all)
			slices.Sort(got)
			if n := len(slices.Compact(slices.Clone(got))); len(got) != 8 || n != 8 {
				t.Errorf("keys listed: %d (%d distinct), want 8 once each", len(got), n)
			}
			for _, k := range []string{"key-0-1", "key-1-0"} {
				if !slices.Contains(got, k) {
					t.Errorf("%s (revoked app or revoked key) was not listed", k)
				}
			}
			if !slices.ContainsFunc(all, func(a apigee.ListedApp) bool { return a.Name == "app1" && a.Status == apigee.StatusRevoked }) {
				t.Errorf("the revoked app was not listed with its status")
			}
		})
	}
}

func keysIn(apps []apigee.ListedApp) []string {
	var out []string
	for _, a := range apps {
		for _, c := range a.Credentials {
			out = append(out, c.ConsumerKey)
		}
	}
	return out
}
