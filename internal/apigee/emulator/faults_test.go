package emulator

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func TestAuth(t *testing.T) {
	bearer := func(o *Options) { o.BearerToken = "tok" }
	basicOpts := func(o *Options) { o.BasicUser, o.BasicPassword = "admin", "pw" }
	both := func(o *Options) { bearer(o); basicOpts(o) }
	tests := []struct {
		name   string
		opts   func(*Options)
		header string
		want   int
		why    string
	}{
		{"no auth configured", nil, "", 200, "neither token nor user set: no check"},
		{"right bearer", bearer, "Bearer tok", 200, "the configured token"},
		{"wrong bearer", bearer, "Bearer nope", 401, "another token"},
		{"missing", bearer, "", 401, "no Authorization header"},
		{"basic when only bearer set", bearer, basic("admin", "pw"), 401, "Basic not configured"},
		{"right basic", basicOpts, basic("admin", "pw"), 200, "the configured user and password"},
		{"wrong password", basicOpts, basic("admin", "x"), 401, "password must match"},
		{"both set, bearer", both, "Bearer tok", 200, "either method works"},
		{"both set, basic", both, basic("admin", "pw"), 200, "either method works"},
	}
	for _, tc := range tests {
		for _, d := range dialects {
			t.Run(tc.name+"/"+string(d), func(t *testing.T) {
				f := newFixture(t, tc.opts)
				var hdr []string
				if tc.header != "" {
					hdr = []string{"Authorization", tc.header}
				}
				r := f.do(t, d, "GET", app1, "", hdr...)
				if r.status != tc.want {
					t.Fatalf("%s: status %d, want %d", tc.why, r.status, tc.want)
				}
				if tc.want != 401 {
					return
				}
				want := xErr(401, "UNAUTHENTICATED", "Request had invalid authentication credentials")
				if d == Edge {
					want = edgeErr("security.Unauthorized", "Request had invalid authentication credentials")
				}
				if diff := cmp.Diff(want, r.json(t)); diff != "" {
					t.Errorf("401 body (-want +got):\n%s", diff)
				}
				if r.header.Get("WWW-Authenticate") == "" {
					t.Errorf("401 without WWW-Authenticate")
				}
			})
		}
	}
}

func TestQuota(t *testing.T) {
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.RequestsPerMinute = 3 })
			for i := range 3 {
				f.mustDo(t, d, 200, "GET", app1, "")
				f.clock.Advance(10 * time.Second) // requests at 0s, 10s, 20s
				_ = i
			}
			// At 30s the window holds 3 requests; the oldest leaves at 60s.
			r := f.do(t, d, "GET", app1, "")
			if r.status != http.StatusTooManyRequests {
				t.Fatalf("4th request in a minute: status %d, want 429", r.status)
			}
			if got := r.header.Get("Retry-After"); got != "30" {
				t.Errorf("Retry-After = %q, want 30 (seconds until the oldest request leaves the window)", got)
			}
			want := xErr(429, "RESOURCE_EXHAUSTED", "Quota exceeded for management API requests per minute")
			if d == Edge {
				want = edgeErr("quota.QuotaExceeded", "Quota exceeded for management API requests per minute")
			}
			if diff := cmp.Diff(want, r.json(t)); diff != "" {
				t.Errorf("429 body (-want +got):\n%s", diff)
			}
			f.clock.Advance(30*time.Second + time.Millisecond) // the 0s request leaves the window
			f.mustDo(t, d, 200, "GET", app1, "")
			f.mustDo(t, d, 429, "GET", app1, "") // 10s, 20s and 60s are still inside
			if got := f.emu.Calls(OpGetApp); got != 6 {
				t.Errorf("Calls(GetApp) = %d, want 6: rejected requests are counted too", got)
			}
		})
	}
}

func TestQuotaUnlimited(t *testing.T) {
	f := newFixture(t, nil)
	for range 50 {
		f.mustDo(t, X, 200, "GET", "", "")
	}
}

// TestFaults: injected faults answer before the operation takes effect
// (nothing changes) unless AfterEffect, and expire after Remaining.
func TestFaults(t *testing.T) {
	const create = `{"consumerKey":"k1","consumerSecret":"s1"}`
	tests := []struct {
		name        string
		why         string
		fault       Fault
		wantStatus  []int // for consecutive CreateKey requests (X: 200 on success)
		wantCreated bool  // whether k1 exists at the end
		wantHeader  string
	}{
		{
			name: "503 before effect", why: "a faulted create changes nothing",
			fault: Fault{Operation: OpCreateKey, Status: 503, Remaining: 1}, wantStatus: []int{503}, wantCreated: false,
		},
		{
			name: "503 after effect", why: "the key exists although the client saw 503; the retry gets 409",
			fault: Fault{Operation: OpCreateKey, Status: 503, Remaining: 1, AfterEffect: true}, wantStatus: []int{503, 409}, wantCreated: true,
		},
		{
			name: "Remaining expires the fault", why: "two failures, then the real answer",
			fault: Fault{Operation: OpCreateKey, Status: 500, Remaining: 2}, wantStatus: []int{500, 500, 200, 409}, wantCreated: true,
		},
		{
			name: "429 with Retry-After", why: "Retry-After in whole seconds, rounded up",
			fault: Fault{Status: 429, RetryAfter: 1500 * time.Millisecond, Remaining: 1}, wantStatus: []int{429, 200}, wantCreated: true, wantHeader: "2",
		},
		{
			name: "other operation unaffected", why: "Operation filters",
			fault: Fault{Operation: OpGetApp, Status: 503}, wantStatus: []int{200}, wantCreated: true,
		},
		{
			name: "latency only", why: "a fault without Status or Drop only delays",
			fault: Fault{Operation: OpCreateKey, Latency: 20 * time.Millisecond}, wantStatus: []int{200}, wantCreated: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.emu.InjectFault(tc.fault)
			start := time.Now()
			for i, want := range tc.wantStatus {
				r := f.do(t, X, "POST", app1+"/keys", create)
				if r.status != want {
					t.Fatalf("%s: request %d: status %d, want %d", tc.why, i, r.status, want)
				}
				if i == 0 && tc.wantHeader != "" && r.header.Get("Retry-After") != tc.wantHeader {
					t.Errorf("Retry-After = %q, want %q", r.header.Get("Retry-After"), tc.wantHeader)
				}
			}
			if elapsed := time.Since(start); elapsed < tc.fault.Latency {
				t.Errorf("took %v, want at least the injected latency %v", elapsed, tc.fault.Latency)
			}
			app, _ := f.emu.App("dev@example.com", "app1")
			if _, created := app.Credential("k1"); created != tc.wantCreated {
				t.Errorf("%s: key created = %v, want %v", tc.why, created, tc.wantCreated)
			}
			if got := f.emu.Calls(OpCreateKey); got != len(tc.wantStatus) {
				t.Errorf("Calls(CreateKey) = %d, want %d: faulted requests count", got, len(tc.wantStatus))
			}
		})
	}
}

func TestFaultFormats(t *testing.T) {
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			f := newFixture(t, nil)
			f.emu.InjectFault(Fault{Status: 503})
			r := f.do(t, d, "GET", app1, "")
			want := xErr(503, "UNAVAILABLE", "Service Unavailable")
			if d == Edge {
				want = edgeErr("emulator.InjectedFault", "Service Unavailable")
			}
			if diff := cmp.Diff(want, r.json(t)); diff != "" {
				t.Errorf("fault body (-want +got):\n%s", diff)
			}
			f.emu.ClearFaults()
			f.mustDo(t, d, 200, "GET", app1, "")
		})
	}
}

func TestFaultDrop(t *testing.T) {
	for _, afterEffect := range []bool{false, true} {
		t.Run(map[bool]string{false: "before", true: "after effect"}[afterEffect], func(t *testing.T) {
			f := newFixture(t, nil)
			f.emu.InjectFault(Fault{Operation: OpCreateKey, Drop: true, Remaining: 1, AfterEffect: afterEffect})
			req, _ := http.NewRequest("POST", f.srv[X].URL+"/v1/organizations/acme"+app1+"/keys", strings.NewReader(`{"consumerKey":"k1","consumerSecret":"s1"}`))
			if res, err := f.srv[X].Client().Do(req); err == nil {
				res.Body.Close()
				t.Fatalf("dropped request answered %d, want a connection error", res.StatusCode)
			}
			app, _ := f.emu.App("dev@example.com", "app1")
			if _, created := app.Credential("k1"); created != afterEffect {
				t.Errorf("key created = %v, want %v", created, afterEffect)
			}
			log := f.emu.CallLog()
			if len(log) != 1 || log[0].Status != 0 || log[0].Operation != OpCreateKey {
				t.Errorf("call log = %+v, want one CreateKey with status 0", log)
			}
			f.mustDo(t, X, map[bool]int{false: 200, true: 409}[afterEffect], "POST", app1+"/keys", `{"consumerKey":"k1","consumerSecret":"s1"}`)
		})
	}
}

// TestFaultProbability: probabilistic faults are deterministic for a seed.
func TestFaultProbability(t *testing.T) {
	run := func(seed uint64) []int {
		f := newFixture(t, func(o *Options) { o.Seed = seed })
		f.emu.InjectFault(Fault{Status: 503, Probability: 0.3})
		var out []int
		for range 200 {
			out = append(out, f.do(t, X, "GET", "", "").status)
		}
		return out
	}
	a, b := run(42), run(42)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different faults (-first +second):\n%s", diff)
	}
	failed := 0
	for _, s := range a {
		if s == 503 {
			failed++
		}
	}
	if failed < 30 || failed > 90 {
		t.Errorf("%d of 200 requests failed with probability 0.3, want about 60", failed)
	}
	if c := run(7); cmp.Equal(a, c) {
		t.Errorf("seeds 42 and 7 gave the same fault sequence")
	}
}

// TestCallCounting: every request counts under its operation name, in both
// dialects, and the log names keys by fingerprint only.
func TestCallCounting(t *testing.T) {
	f := newFixture(t, nil)
	const key = "counted-key"
	calls := []struct {
		d                  Dialect
		method, path, body string
		op                 string
	}{
		{X, "GET", "", "", OpGetOrganization},
		{Edge, "GET", "/developers/dev@example.com", "", OpGetDeveloper},
		{X, "POST", "/developers", `{"email":"n@example.com"}`, OpCreateDeveloper},
		{Edge, "POST", "/apiproducts", `{"name":"p"}`, OpCreateProduct},
		{X, "POST", "/developers/n@example.com/apps", `{"name":"a"}`, OpCreateApp},
		{Edge, "GET", app1, "", OpGetApp},
		{X, "POST", app1 + "/keys", `{"consumerKey":"` + key + `","consumerSecret":"s"}`, OpCreateKey},
		{Edge, "POST", app1 + "/keys/create", `{"consumerKey":"` + key + `","consumerSecret":"s"}`, OpCreateKey}, // 409 still counts
		{X, "GET", keyPath(key), "", OpGetKey},
		{Edge, "POST", keyPath(key), `{"apiProducts":["auto-p"]}`, OpUpdateKey},
		{X, "POST", keyPath(key) + "?action=revoke", "", OpSetKeyStatus},
		{X, "PUT", keyPath(key), `{"scopes":[]}`, OpReplaceKey},
		{Edge, "POST", keyPath(key) + "/apiproducts/auto-p?action=approve", "", OpSetKeyProductStatus},
		{X, "DELETE", keyPath(key) + "/apiproducts/auto-p", "", OpDeleteKeyProduct},
		{Edge, "DELETE", keyPath(key), "", OpDeleteKey},
		{X, "GET", "/nonsense", "", OpUnknown},
	}
	for _, c := range calls {
		f.do(t, c.d, c.method, c.path, c.body)
	}
	want := map[string]int{}
	for _, c := range calls {
		want[c.op]++
	}
	got := map[string]int{}
	for op := range want {
		got[op] = f.emu.Calls(op)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Calls (-want +got):\n%s", diff)
	}
	if f.emu.TotalCalls() != len(calls) {
		t.Errorf("TotalCalls = %d, want %d", f.emu.TotalCalls(), len(calls))
	}
	log := f.emu.CallLog()
	for i, c := range log {
		if strings.Contains(c.Path, key) {
			t.Errorf("call %d path %q contains the consumer key", i, c.Path)
		}
		if !c.At.Equal(t0) {
			t.Errorf("call %d at %v, want the fake clock %v", i, c.At, t0)
		}
	}
	if got, want := log[8].Path, "/v1/organizations/acme/developers/dev@example.com/apps/app1/keys/"+apigee.Fingerprint(key); got != want {
		t.Errorf("GetKey logged as %q, want %q", got, want)
	}
	if log[7].Status != 409 || log[15].Status != 404 {
		t.Errorf("logged statuses %d and %d, want 409 and 404", log[7].Status, log[15].Status)
	}
	f.emu.ResetCalls()
	if f.emu.TotalCalls() != 0 || f.emu.Calls(OpGetKey) != 0 || len(f.emu.CallLog()) != 0 {
		t.Errorf("ResetCalls left calls behind")
	}
}
