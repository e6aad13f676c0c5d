package apigee

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/time/rate"
)

func TestTransportMetricsAndLogs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/busy") {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()

	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	if NewMetrics(reg) == nil {
		t.Fatal("registering twice must reuse the collectors")
	}
	limiter := rate.NewLimiter(1000, 10)
	hc := &http.Client{Transport: NewTransport(nil, TransportOptions{Organization: "acme", Limiter: limiter, Metrics: m})}

	var logs bytes.Buffer
	log := funcr.New(func(prefix, args string) { logs.WriteString(args + "\n") }, funcr.Options{Verbosity: 10})
	ctx := WithConsumerKey(WithOperation(logr.NewContext(context.Background(), log), OpGetKey), "SENTINELKEY")

	get := func(path string, clients ...*http.Client) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		c := hc
		if len(clients) > 0 {
			c = clients[0]
		}
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	get("/keys/SENTINELKEY")
	get("/keys/SENTINELKEY/busy")
	// The organization is held for the Retry-After: the next call is not
	// sent, and says when to come back instead of waiting.
	var busy *Error
	if err := get("/keys/SENTINELKEY"); !errors.As(err, &busy) || busy.Reason != ReasonOrganizationBusy ||
		busy.RetryAfter < 900*time.Millisecond || busy.RetryAfter > 1100*time.Millisecond {
		t.Errorf("after a 429 with Retry-After: 1, the next call: %v; want ReasonOrganizationBusy, RetryAfter about 1s", err)
	}
	srv.Close()
	// Another connection to the organization with no limiter of its own,
	// so the call goes (and fails) while the organization is held.
	get("/down", &http.Client{Transport: NewTransport(nil, TransportOptions{Organization: "acme", Metrics: m})})

	want := `
# HELP apigee_key_operator_apigee_requests_total Apigee management API requests, by organization, operation and HTTP status ("error": no response).
# TYPE apigee_key_operator_apigee_requests_total counter
apigee_key_operator_apigee_requests_total{code="200",operation="GetKey",organization="acme"} 1
apigee_key_operator_apigee_requests_total{code="429",operation="GetKey",organization="acme"} 1
apigee_key_operator_apigee_requests_total{code="error",operation="GetKey",organization="acme"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "apigee_key_operator_apigee_requests_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.duration); n != 1 {
		t.Errorf("want one duration series, got %d", n)
	}
	if strings.Contains(logs.String(), "SENTINELKEY") || strings.Contains(logs.String(), "/keys/") {
		t.Errorf("logs hold the key or path:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), Fingerprint("SENTINELKEY")) {
		t.Errorf("logs should name the key by fingerprint:\n%s", logs.String())
	}
}
