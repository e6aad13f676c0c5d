package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv/clock"
)

// t0 is the fake clock's start: 2026-01-02T03:04:05.678Z = 1767323045678 ms.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)

const t0ms = 1767323045678

// counterKeys is a deterministic KeyGenerator: gen000001, gen000002, …
func counterKeys() func() string {
	var mu sync.Mutex
	n := 0
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		n++
		return fmt.Sprintf("gen%06d", n)
	}
}

// fixture is an emulator for org "acme" served in both dialects, with
// products auto-p (auto) and manual-p (manual), developer dev@example.com
// with apps app1 and app2, and developer other@example.com with app app3.
type fixture struct {
	emu   *Emulator
	clock *clock.Fake
	srv   map[Dialect]*httptest.Server
	devID string
}

var dialects = []Dialect{X, Edge}

func newFixture(t *testing.T, mod func(*Options)) *fixture {
	t.Helper()
	clock := clock.NewFake(t0)
	opts := Options{Organization: "acme", Clock: clock.Now, KeyGenerator: counterKeys()}
	if mod != nil {
		mod(&opts)
	}
	f := &fixture{emu: New(opts), clock: clock, srv: map[Dialect]*httptest.Server{}}
	f.emu.AddProduct("auto-p", "auto", WithScopes("read", "write", "s1", "old"))
	f.emu.AddProduct("manual-p", "manual", WithScopes("admin"))
	f.devID = f.emu.AddDeveloper("dev@example.com")
	f.emu.AddDeveloper("other@example.com")
	for _, a := range [][2]string{{"dev@example.com", "app1"}, {"dev@example.com", "app2"}, {"other@example.com", "app3"}} {
		if _, err := f.emu.AddApp(a[0], a[1]); err != nil {
			t.Fatalf("AddApp %s: %v", a[1], err)
		}
	}
	for _, d := range dialects {
		srv := httptest.NewServer(f.emu.Handler(d))
		t.Cleanup(srv.Close)
		f.srv[d] = srv
	}
	f.emu.ResetCalls()
	return f
}

// keyPath is the path of a key of app1 of dev@example.com below the org.
func keyPath(key string) string { return "/developers/dev@example.com/apps/app1/keys/" + key }

const app1 = "/developers/dev@example.com/apps/app1"

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request to the org's base path (/v1/organizations/acme) of
// the dialect. path starting with "/v1/" is used as is.
func (f *fixture) do(t *testing.T, d Dialect, method, path, body string, header ...string) response {
	t.Helper()
	url := f.srv[d].URL + path
	if !strings.HasPrefix(path, "/v1/") {
		url = f.srv[d].URL + "/v1/organizations/acme" + path
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := f.srv[d].Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// mustDo is do that fails the test unless the status is want.
func (f *fixture) mustDo(t *testing.T, d Dialect, want int, method, path, body string) response {
	t.Helper()
	r := f.do(t, d, method, path, body)
	if r.status != want {
		t.Fatalf("%s %s %s: status %d, want %d; body %s", d, method, path, r.status, want, r.body)
	}
	return r
}

// json decodes the body keeping numbers as json.Number, so a test can tell
// "123" (X) from 123 (Edge).
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return m
}

// num is how an int64 looks on the wire in the dialect.
func num(d Dialect, v int64) any {
	if d == X {
		return fmt.Sprint(v)
	}
	return json.Number(fmt.Sprint(v))
}

// list is how a list looks on the wire: X omits empty lists (absent key is
// represented by the caller), Edge sends [].
func list(items ...any) []any {
	if items == nil {
		return []any{}
	}
	return items
}

func prodRef(name, status string) map[string]any {
	return map[string]any{"apiproduct": name, "status": status}
}

// createdWireKey is the expected answer of keys/create: Edge's has no
// expiresAt (apigee-client-php tests/offline-test-data/v1/organizations/
// phpunit/developers/…/keys/create/POST.json: apiProducts, attributes,
// consumerKey, consumerSecret, issuedAt, scopes, status).
func createdWireKey(d Dialect, key, secret string, issued, expires int64) map[string]any {
	m := wireKey(d, key, secret, "approved", issued, expires, nil, nil, nil)
	if d == Edge {
		delete(m, "expiresAt")
	}
	return m
}

// wireKey is the expected JSON of a key: fields set only when non-empty for
// X, always for Edge.
func wireKey(d Dialect, key, secret, status string, issued, expires int64, products, attrs, scopes []any) map[string]any {
	m := map[string]any{
		"consumerKey": key, "consumerSecret": secret, "status": status,
		"issuedAt": num(d, issued), "expiresAt": num(d, expires),
	}
	for name, l := range map[string][]any{"apiProducts": products, "attributes": attrs, "scopes": scopes} {
		if d == Edge {
			m[name] = list(l...)
		} else if len(l) > 0 {
			m[name] = l
		}
	}
	return m
}
