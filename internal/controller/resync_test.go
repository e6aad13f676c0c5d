package controller

import (
	"fmt"
	"testing"
	"time"
)

// TestAppSlotsAlignKeysOfOneApp: keys of one app, reconciled at different
// moments, come due at the same instant, within one interval; the slots of
// many apps spread over the interval.
func TestAppSlotsAlignKeysOfOneApp(t *testing.T) {
	interval := time.Minute
	base := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, app := range []string{"a", "orders-app", "ApigeeConnection/ns/prod|dev@example.com|app-7"} {
		var due time.Time
		for i, offset := range []time.Duration{0, 7 * time.Second, 29*time.Second + 300*time.Millisecond} {
			now := base.Add(offset)
			d := untilAppSlot(app, interval, now)
			if d <= 0 || d > interval {
				t.Fatalf("%s: next slot in %s; want within (0, %s]", app, d, interval)
			}
			if i > 0 && !now.Add(d).Equal(due) && !now.Add(d).Equal(due.Add(interval)) {
				t.Errorf("%s at +%s: due %s, another key of the app is due %s", app, offset, now.Add(d), due)
			}
			if i == 0 {
				due = now.Add(d)
			}
		}
	}
	buckets := map[int]int{}
	for i := range 100 {
		d := untilAppSlot(fmt.Sprintf("app-%d", i), interval, base)
		buckets[int(d/(interval/10))]++
	}
	for b := range 10 {
		if buckets[b] == 0 || buckets[b] > 25 {
			t.Errorf("100 apps over ten tenths of the interval: %v; want them spread", buckets)
			break
		}
	}
}
