package contract

import (
	"context"
	"math"
	"sync"
	"testing"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// TestLimiterRate checks the organization's request rate as the emulator
// counts it (its call log's timestamps), not as the test times it: two
// clients of one organization, four goroutines each, share one limiter.
func TestLimiterRate(t *testing.T) {
	const (
		perMinute = 1200
		calls     = 100
	)
	for _, d := range dialects[:2] {
		t.Run(d.name, func(t *testing.T) {
			e := newEnv(t, d, nil)
			opts := clientOptions{requestsPerMinute: perMinute, burst: 1}
			clients := []apigee.Client{e.client(opts), e.client(opts)}
			e.emu.ResetCalls()

			var wg sync.WaitGroup
			work := make(chan struct{}, calls)
			for i := 0; i < calls; i++ {
				work <- struct{}{}
			}
			close(work)
			for g := 0; g < 8; g++ {
				c := clients[g%2]
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range work {
						if err := c.Probe(context.Background()); err != nil {
							t.Error(err)
						}
					}
				}()
			}
			wg.Wait()

			log := e.emu.CallLog()
			if len(log) != calls {
				t.Fatalf("emulator saw %d calls, want %d", len(log), calls)
			}
			span := log[len(log)-1].At.Sub(log[0].At)
			// calls-1 intervals: the first call is the burst token.
			got := float64(calls-1) / span.Minutes()
			t.Logf("%d calls in %v: %.0f per minute", calls, span, got)
			if math.Abs(got-perMinute)/perMinute > 0.05 {
				t.Errorf("observed %.0f requests per minute, want %d ± 5%%", got, perMinute)
			}
		})
	}
}
