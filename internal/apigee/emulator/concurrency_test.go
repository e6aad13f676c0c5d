package emulator

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// TestConcurrentImports: many goroutines import keys, add products and race
// on the same consumer keys through both dialects. Run with -race. Exactly
// one import of each contested key may succeed.
func TestConcurrentImports(t *testing.T) {
	f := newFixture(t, nil)
	const workers, keysPerWorker, contested = 16, 10, 5
	var wg sync.WaitGroup
	wins := make([]int, contested)
	var winsMu sync.Mutex
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := dialects[w%2]
			created := map[Dialect]int{X: 200, Edge: 201}[d]
			app := fmt.Sprintf("/developers/dev@example.com/apps/app%d", 1+w%2)
			for i := range keysPerWorker {
				key := fmt.Sprintf("w%d-k%d", w, i)
				if r := f.do(t, d, "POST", app+"/keys/create", `{"consumerKey":"`+key+`","consumerSecret":"s"}`); r.status != created {
					t.Errorf("import %s: %d", key, r.status)
					continue
				}
				if r := f.do(t, d, "POST", app+"/keys/"+key, `{"apiProducts":["auto-p","manual-p"]}`); r.status != http.StatusOK {
					t.Errorf("add products %s: %d", key, r.status)
				}
				f.do(t, d, "GET", app, "")
			}
			for c := range contested {
				r := f.do(t, d, "POST", app+"/keys/create", fmt.Sprintf(`{"consumerKey":"contested-%d","consumerSecret":"s"}`, c))
				switch r.status {
				case created:
					winsMu.Lock()
					wins[c]++
					winsMu.Unlock()
				case http.StatusConflict:
				default:
					t.Errorf("contested import: %d", r.status)
				}
			}
		}()
	}
	wg.Wait()
	for c, n := range wins {
		if n != 1 {
			t.Errorf("contested-%d imported %d times, want exactly once", c, n)
		}
	}
	total := 0
	for _, a := range []string{"app1", "app2"} {
		app, _ := f.emu.App("dev@example.com", a)
		for _, c := range app.Credentials {
			if c.ConsumerKey[0] == 'w' && len(c.Products) != 2 {
				t.Errorf("key %s has %d products, want 2", c, len(c.Products))
			}
		}
		total += len(app.Credentials)
	}
	if want := workers*keysPerWorker + contested + 2; total != want {
		t.Errorf("%d keys in app1+app2, want %d", total, want)
	}
	if got, want := f.emu.Calls(OpCreateKey), workers*(keysPerWorker+contested); got != want {
		t.Errorf("Calls(CreateKey) = %d, want %d", got, want)
	}
}
