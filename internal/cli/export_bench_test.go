package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/auth"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/connect"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// BenchmarkExport10kKeys exports 10,000 imported keys in 1,000 apps of 100
// developers from an X emulator answering every call 25 ms late, through
// the default X client-side rate limit. It reports calls and seconds per
// export: figures, not a pass/fail timing.
func BenchmarkExport10kKeys(b *testing.B) {
	// The clock moves a second per reading, so imported keys are not taken
	// for the apps' generated ones.
	var offset atomic.Int64
	emu := emulator.New(emulator.Options{Organization: "bench", BearerToken: "t",
		Clock: func() time.Time { return time.Unix(1.7e9, 0).Add(time.Duration(offset.Add(int64(time.Second)))) }})
	srv := httptest.NewServer(emu.Handler(emulator.X))
	defer srv.Close()
	seedBench(b, emu, srv.URL)
	emu.InjectFault(emulator.Fault{Latency: 25 * time.Millisecond})
	tokenFile := filepath.Join(b.TempDir(), "token")
	_ = os.WriteFile(tokenFile, []byte("t"), 0o600)
	b.ResetTimer()
	for b.Loop() {
		emu.ResetCalls()
		start := time.Now()
		var out, errOut bytes.Buffer
		code := Main([]string{"export", "--platform", "X", "--organization", "bench", "--endpoint", srv.URL,
			"--token-file", tokenFile, "--target-connection", "prod", "-n", "bench",
			"--output-dir", b.TempDir(), "--secrets-dir", filepath.Join(b.TempDir(), "s")}, &Env{Out: &out, Err: &errOut})
		if code != 0 {
			b.Fatalf("export: %s", errOut.String())
		}
		b.ReportMetric(float64(emu.TotalCalls()), "calls/op")
		b.ReportMetric(time.Since(start).Seconds(), "s/export")
	}
}

func seedBench(b *testing.B, emu *emulator.Emulator, url string) {
	b.Helper()
	c, err := connect.New(context.Background(), connect.Config{Platform: connect.PlatformX, Organization: "bench", Endpoint: url,
		Auth: auth.Config{Method: auth.MethodBearerToken, BearerToken: "t"}, RequestsPerMinute: 1e9, Burst: 1e6,
		Limiters: apigee.NewLimiterRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	for d := range 100 {
		dev := fmt.Sprintf("dev%03d@example.com", d)
		emu.AddDeveloper(dev)
		for a := range 10 {
			app := fmt.Sprintf("app%d", a)
			if _, err := emu.AddApp(dev, app); err != nil {
				b.Fatal(err)
			}
			for k := range 10 {
				key := fmt.Sprintf("k%03d%d%d", d, a, k)
				if _, err := c.ImportKey(context.Background(), dev, app, apigee.ImportRequest{ConsumerKey: key, ConsumerSecret: "s" + key}); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}
