package apigee

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLimitResponsesCutsAtTheLimit: an answer of exactly the limit is read
// whole; one byte more fails with ReasonResponseTooLarge, whose message
// names the limit and none of the answer.
func TestLimitResponsesCutsAtTheLimit(t *testing.T) {
	const limit = 2 << 20
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) }))
	t.Cleanup(srv.Close)
	hc := LimitResponses(srv.Client(), limit)
	read := func() ([]byte, error) {
		req, _ := http.NewRequestWithContext(WithOperation(context.Background(), OpGetApp), http.MethodGet, srv.URL, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	body = strings.Repeat("s", limit)
	if b, err := read(); err != nil || len(b) != limit {
		t.Fatalf("an answer of exactly the limit: %d bytes, %v; want it whole", len(b), err)
	}
	body = "SECRETVALUE" + strings.Repeat("s", limit)
	_, err := read()
	var e *Error
	if !errors.As(err, &e) || e.Class != ClassInvalid || e.Reason != ReasonResponseTooLarge || e.Operation != OpGetApp {
		t.Fatalf("an answer over the limit: %v; want ClassInvalid, ReasonResponseTooLarge, GetApp", err)
	}
	if !strings.Contains(e.Message, "2 MiB") || strings.Contains(e.Error(), "SECRET") {
		t.Errorf("the message must name the limit and nothing of the answer: %q", e.Error())
	}
}
