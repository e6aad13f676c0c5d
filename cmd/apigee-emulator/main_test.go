package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// TestRun starts the command on ephemeral ports with the sample seed, makes
// one call per dialect, checks that keys are printed as fingerprints only,
// and that cancelling the context stops it cleanly.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--seed", "../../config/emulator/seed.yaml",
			"--x-addr", "127.0.0.1:0", "--edge-addr", "127.0.0.1:0"}, w)
		w.Close()
	}()

	urls := map[string]string{}
	var printed []string
	lines := bufio.NewScanner(out)
	urlLine := regexp.MustCompile(`^Apigee (X|Edge) dialect: (http://\S+)$`)
	for len(printed) < 3 && lines.Scan() { // two URLs, one generated key
		printed = append(printed, lines.Text())
		if m := urlLine.FindStringSubmatch(lines.Text()); m != nil {
			urls[m[1]] = m[2]
		}
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	if len(urls) != 2 {
		t.Fatalf("printed %q, want both dialect URLs", printed)
	}

	var generated string
	for _, dialect := range []string{"X", "Edge"} {
		req, _ := http.NewRequest("GET", urls[dialect]+"/developers/partner@example.com/apps/orders-app", nil)
		req.Header.Set("Authorization", "Bearer local-dev-token")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", dialect, err)
		}
		var app struct {
			Credentials []struct {
				ConsumerKey string `json:"consumerKey"`
				IssuedAt    any    `json:"issuedAt"`
			} `json:"credentials"`
		}
		err = json.NewDecoder(res.Body).Decode(&app)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 || len(app.Credentials) != 1 {
			t.Fatalf("%s: GET app: %d %v %+v", dialect, res.StatusCode, err, app)
		}
		_, isString := app.Credentials[0].IssuedAt.(string)
		if isString != (dialect == "X") {
			t.Errorf("%s: issuedAt %#v: X sends strings, Edge numbers", dialect, app.Credentials[0].IssuedAt)
		}
		generated = app.Credentials[0].ConsumerKey
	}

	all := strings.Join(printed, "\n")
	if strings.Contains(all, generated) {
		t.Errorf("output contains the generated consumer key:\n%s", all)
	}
	if !strings.Contains(all, apigee.Fingerprint(generated)) {
		t.Errorf("output lacks the key's fingerprint %s:\n%s", apigee.Fingerprint(generated), all)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v after cancel, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop after cancel")
	}
}

func TestRunRejectsBadSeed(t *testing.T) {
	err := run(context.Background(), []string{"--seed", "does-not-exist.yaml"}, io.Discard)
	if err == nil {
		t.Fatal("run with a missing seed file succeeded")
	}
}
