package emulator

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apigeev1 "google.golang.org/api/apigee/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

// TestOfficialGoClient drives the X handler with google.golang.org/api's
// apigee/v1 client: every call the X client needs must decode, and errors
// must surface as *googleapi.Error with the right Code.
func TestOfficialGoClient(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.BearerToken = "tok" })
	ctx := context.Background()
	svc, err := apigeev1.NewService(ctx,
		option.WithEndpoint(f.srv[X].URL+"/"),
		option.WithHTTPClient(&http.Client{Transport: bearerTransport{"tok"}, Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	keys := svc.Organizations.Developers.Apps.Keys
	const app = "organizations/acme/developers/dev@example.com/apps/app1"
	const key = app + "/keys/go-client-key"

	created, err := keys.Create(app, &apigeev1.GoogleCloudApigeeV1DeveloperAppKey{
		ConsumerKey: "go-client-key", ConsumerSecret: "go-client-secret", ExpiresInSeconds: 60,
	}).Context(ctx).Do()
	if err != nil {
		t.Fatalf("Keys.Create: %v", err)
	}
	if created.Status != "approved" || created.IssuedAt != t0ms || created.ExpiresAt != t0ms+60_000 || len(created.ApiProducts) != 0 {
		t.Errorf("created = status %q issuedAt %d expiresAt %d products %v", created.Status, created.IssuedAt, created.ExpiresAt, created.ApiProducts)
	}

	if _, err := keys.Create_.Create(app, &apigeev1.GoogleCloudApigeeV1DeveloperAppKey{ConsumerKey: "go-client-key-2", ConsumerSecret: "s"}).Do(); err != nil {
		t.Fatalf("Keys.Create_.Create: %v", err)
	}

	updated, err := keys.UpdateDeveloperAppKey(key, &apigeev1.GoogleCloudApigeeV1DeveloperAppKey{
		ApiProducts: []any{"auto-p", "manual-p"},
		Attributes:  []*apigeev1.GoogleCloudApigeeV1Attribute{{Name: "tier", Value: "gold"}},
	}).Do()
	if err != nil {
		t.Fatalf("UpdateDeveloperAppKey: %v", err)
	}
	want := []any{
		map[string]any{"apiproduct": "auto-p", "status": "approved"},
		map[string]any{"apiproduct": "manual-p", "status": "pending"},
	}
	if diff := cmp.Diff(want, updated.ApiProducts); diff != "" {
		t.Errorf("products after add (-want +got):\n%s", diff)
	}

	if _, err := keys.UpdateDeveloperAppKey(key, &apigeev1.GoogleCloudApigeeV1DeveloperAppKey{}).Action("revoke").Do(); err != nil {
		t.Fatalf("UpdateDeveloperAppKey.Action(revoke): %v", err)
	}
	if _, err := keys.Apiproducts.UpdateDeveloperAppKeyApiProduct(key + "/apiproducts/manual-p").Action("approve").Do(); err != nil {
		t.Fatalf("UpdateDeveloperAppKeyApiProduct.Action(approve): %v", err)
	}
	if _, err := keys.ReplaceDeveloperAppKey(key, &apigeev1.GoogleCloudApigeeV1DeveloperAppKey{Scopes: []string{"read"}}).Do(); err != nil {
		t.Fatalf("ReplaceDeveloperAppKey: %v", err)
	}

	got, err := keys.Get(key).Do()
	if err != nil {
		t.Fatalf("Keys.Get: %v", err)
	}
	if got.Status != "revoked" || !cmp.Equal(got.Scopes, []string{"read"}) || len(got.Attributes) != 1 {
		t.Errorf("key = status %q scopes %v attributes %d", got.Status, got.Scopes, len(got.Attributes))
	}
	if diff := cmp.Diff([]any{
		map[string]any{"apiproduct": "auto-p", "status": "approved"},
		map[string]any{"apiproduct": "manual-p", "status": "approved"},
	}, got.ApiProducts); diff != "" {
		t.Errorf("products after approve (-want +got):\n%s", diff)
	}

	removed, err := keys.Apiproducts.Delete(key + "/apiproducts/auto-p").Do()
	if err != nil {
		t.Fatalf("Apiproducts.Delete: %v", err)
	}
	if len(removed.ApiProducts) != 1 {
		t.Errorf("products after remove = %v", removed.ApiProducts)
	}

	appRes, err := svc.Organizations.Developers.Apps.Get(app).Do()
	if err != nil {
		t.Fatalf("Apps.Get: %v", err)
	}
	if len(appRes.Credentials) != 3 || appRes.Credentials[1].ConsumerKey != "go-client-key" || appRes.Credentials[1].ApiProducts[0].Apiproduct != "manual-p" {
		t.Errorf("app credentials = %d, second %+v", len(appRes.Credentials), appRes.Credentials[1])
	}
	if appRes.CreatedAt != t0ms || appRes.DeveloperId != f.devID {
		t.Errorf("app createdAt %d developerId %q", appRes.CreatedAt, appRes.DeveloperId)
	}

	if _, err := svc.Organizations.Get("organizations/acme").Do(); err != nil {
		t.Fatalf("Organizations.Get: %v", err)
	}
	if _, err := svc.Organizations.Developers.Get("organizations/acme/developers/dev@example.com").Do(); err != nil {
		t.Fatalf("Developers.Get: %v", err)
	}

	deleted, err := keys.Delete(key).Do()
	if err != nil {
		t.Fatalf("Keys.Delete: %v", err)
	}
	if deleted.ConsumerKey != "go-client-key" {
		t.Errorf("deleted key = %q", deleted.ConsumerKey)
	}

	// Errors come back as *googleapi.Error with the status and message.
	_, err = keys.Create(app, &apigeev1.GoogleCloudApigeeV1DeveloperAppKey{ConsumerKey: "go-client-key-2", ConsumerSecret: "s"}).Do()
	assertGoogleError(t, err, 409, "ConsumerKey already exists")
	_, err = keys.Get(key).Do()
	assertGoogleError(t, err, 404, "Invalid consumer key for Given App")
	_, err = keys.Apiproducts.Delete(app + "/keys/go-client-key-2/apiproducts/auto-p").Do()
	assertGoogleError(t, err, 400, "APIProduct is not associated with consumer key")
}

func assertGoogleError(t *testing.T, err error, code int, message string) {
	t.Helper()
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		t.Fatalf("err = %v, want *googleapi.Error", err)
	}
	if gerr.Code != code || gerr.Message != message {
		t.Errorf("googleapi.Error = %d %q, want %d %q", gerr.Code, gerr.Message, code, message)
	}
}

// TestOfficialGoClientKeyActionNoContent: the Go client accepts a 204 too.
func TestOfficialGoClientKeyActionNoContent(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.XKeyActionNoContent = true })
	svc, err := apigeev1.NewService(context.Background(), option.WithEndpoint(f.srv[X].URL+"/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	keys := svc.Organizations.Developers.Apps.Keys
	const app = "organizations/acme/developers/dev@example.com/apps/app1"
	if _, err := keys.Create(app, &apigeev1.GoogleCloudApigeeV1DeveloperAppKey{ConsumerKey: "k1", ConsumerSecret: "s1"}).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.UpdateDeveloperAppKey(app+"/keys/k1", &apigeev1.GoogleCloudApigeeV1DeveloperAppKey{}).Action("revoke").Do(); err != nil {
		t.Fatalf("revoke with 204: %v", err)
	}
	if app, _ := f.emu.App("dev@example.com", "app1"); app.Credentials[1].Status != "revoked" {
		t.Errorf("status = %q, want revoked", app.Credentials[1].Status)
	}
}

type bearerTransport struct{ token string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}
