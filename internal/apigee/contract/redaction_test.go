package contract

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

const (
	sentinelKey    = "SENTINELKEY123"
	sentinelSecret = "SENTINELSECRET456"
)

// leakCheck collects every log line and error of a run.
type leakCheck struct {
	mu   sync.Mutex
	logs bytes.Buffer
	errs []string
}

func (l *leakCheck) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		fmt.Fprintln(&l.logs, prefix, args)
	}, funcr.Options{Verbosity: 10})
}

// keep records an error in every format a caller might print it.
func (l *leakCheck) keep(err error) {
	if err != nil {
		l.errs = append(l.errs, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
	}
}

func (l *leakCheck) assertClean(t *testing.T, metrics string) {
	t.Helper()
	for what, text := range map[string]string{"logs": l.logs.String(), "errors": strings.Join(l.errs, "\n"), "metrics": metrics} {
		for _, s := range []string{sentinelKey, sentinelSecret} {
			if strings.Contains(text, s) {
				t.Errorf("%s contain %s:\n%s", what, s, text)
			}
		}
	}
	if !strings.Contains(l.logs.String(), apigee.Fingerprint(sentinelKey)) {
		t.Errorf("logs should name the key by its fingerprint")
	}
	if len(l.errs) < 10 {
		t.Errorf("only %d error texts checked: the error paths did not run", len(l.errs)/3)
	}
}

// TestNoSecretLeaks feeds sentinel values through every client path,
// success and failure, logging at the most verbose level, and looks for
// them in logs, errors and metrics.
func TestNoSecretLeaks(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			e := newEnv(t, d, nil)
			seed(t, e)
			l := &leakCheck{}
			ctx := logr.NewContext(context.Background(), l.logger())
			c := e.client(clientOptions{retry: fastRetries(3)})
			ref := apigee.KeyRef{Developer: developer, App: app, ConsumerKey: sentinelKey}
			imp := apigee.ImportRequest{ConsumerKey: sentinelKey, ConsumerSecret: sentinelSecret}
			keep := func(_ any, err error) { l.keep(err) }
			fault := func(f emulator.Fault) { e.emu.ClearFaults(); e.emu.InjectFault(f) }

			keep(c.ImportKey(ctx, developer, app, imp))
			keep(c.ImportKey(ctx, developer, app, imp)) // 409
			keep(c.ImportKey(ctx, developer, "missing-app", imp))
			keep(c.ImportKey(ctx, developer, app, apigee.ImportRequest{ConsumerKey: sentinelKey + ".x", ConsumerSecret: sentinelSecret}))
			keep(c.ImportKey(ctx, developer, app, apigee.ImportRequest{ConsumerKey: "other", ConsumerSecret: sentinelSecret + " x"}))
			keep(c.GetKey(ctx, ref))
			keep(c.GetApp(ctx, developer, app))
			keep(c.AddProducts(ctx, ref, []string{"auto1", "manual1"}, []apigee.Attribute{{Name: "a", Value: "b"}}))
			keep(c.AddProducts(ctx, ref, []string{"ghost"}, nil)) // product 404
			keep(c.SetAttributes(ctx, ref, nil))
			keep(c.SetScopes(ctx, ref, []string{"s"}))
			l.keep(c.SetKeyStatus(ctx, ref, apigee.ActionRevoke))
			l.keep(c.SetProductStatus(ctx, ref, "manual1", apigee.ActionApprove))
			l.keep(c.RemoveProduct(ctx, ref, "auto1"))
			l.keep(c.RemoveProduct(ctx, ref, "auto1")) // not associated

			fault(emulator.Fault{Operation: emulator.OpGetKey, Status: 503})
			keep(c.GetKey(ctx, ref))
			fault(emulator.Fault{Operation: emulator.OpGetKey, Drop: true})
			keep(c.GetKey(ctx, ref))
			fault(emulator.Fault{Operation: emulator.OpSetKeyStatus, Status: 429, RetryAfter: time.Minute})
			l.keep(c.SetKeyStatus(ctx, ref, apigee.ActionApprove))
			fault(emulator.Fault{Operation: emulator.OpDeleteKey, Drop: true, AfterEffect: true, Remaining: 1})
			l.keep(c.DeleteKey(ctx, ref))
			e.emu.ClearFaults()
			l.keep(c.DeleteKey(ctx, ref)) // key 404
			keep(c.GetKey(ctx, ref))
			fault(emulator.Fault{Operation: emulator.OpCreateKey, Status: 500, AfterEffect: true, Remaining: 1})
			keep(c.ImportKey(logr.NewContext(context.Background(), l.logger()), developer, app, imp)) // adopted on retry

			// A server that echoes the key and secret in its messages, and
			// one that is not there at all.
			e.url = echoServer(t, d.emulator)
			keep(c2(e).ImportKey(ctx, developer, app, imp))
			l.keep(c2(e).DeleteKey(ctx, ref))
			e.url = closedServer()
			keep(c2(e).GetKey(ctx, ref))

			l.assertClean(t, gather(t, e))
		})
	}
}

// c2 builds another client for e's current URL. The limiter registry is
// fresh: the 429 above paused the organization for a minute.
func c2(e *env) apigee.Client {
	e.limiters = apigee.NewLimiterRegistry()
	return e.client(clientOptions{retry: fastRetries(2)})
}

// echoServer answers every request with an error that quotes the path
// (with the key) and the secret, in the dialect's error format.
func echoServer(t *testing.T, d emulator.Dialect) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		msg := fmt.Sprintf("bad request %s %s with %s", r.Method, r.URL.Path, strings.ReplaceAll(string(b), `"`, "'"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		if d == emulator.X {
			fmt.Fprintf(w, `{"error":{"code":400,"message":%q,"status":"INVALID_ARGUMENT"}}`, msg)
			return
		}
		fmt.Fprintf(w, `{"code":"messaging.Echo","message":%q}`, msg)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func closedServer() string {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}

// gather renders every metric the clients recorded.
func gather(t *testing.T, e *env) string {
	t.Helper()
	mfs, err := e.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		fmt.Fprintln(&b, mf.String())
	}
	if !strings.Contains(b.String(), "ImportKey") {
		t.Errorf("metrics recorded nothing:\n%s", b.String())
	}
	return b.String()
}
