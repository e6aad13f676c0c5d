package bench

import (
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"
)

// usage is where a phase's time went, from the API server's and the
// operator's metrics.
type usage struct {
	elapsed       time.Duration
	api           map[string]mean    // API server requests by "VERB resource"
	reconciles    map[string]float64 // DeveloperAppKey reconciles by result
	reconcileMean float64            // seconds
	reconcileSum  float64            // worker-seconds spent reconciling keys
	workers       int                // the operator's DeveloperAppKey workers
	queueWaitMean float64            // seconds a key waited in the queue
	apigee        map[string]mean    // Apigee calls by operation, timed at the transport
	operatorCPU   float64            // CPU seconds the operator used
	apiserverCPU  float64            // CPU seconds the API server used
	maxLoad       float64            // the machine's highest 1-minute load average seen
}

type mean struct {
	seconds float64
	count   uint64
}

func measureUsage(elapsed time.Duration, api0, api1, op0, op1 samples) usage {
	u := usage{elapsed: elapsed, api: apiRequests(api0, api1), reconciles: map[string]float64{},
		apigee:       map[string]mean{},
		operatorCPU:  op1.sum("process_cpu_seconds_total", nil) - op0.sum("process_cpu_seconds_total", nil),
		apiserverCPU: api1.sum("process_cpu_seconds_total", nil) - api0.sum("process_cpu_seconds_total", nil)}
	key := map[string]string{"controller": "developerappkey"}
	for _, m := range op1.matching("controller_runtime_reconcile_total", key) {
		r := label(m, "result")
		u.reconciles[r] = m.GetCounter().GetValue() - op0.sum("controller_runtime_reconcile_total", map[string]string{"controller": "developerappkey", "result": r})
	}
	var n uint64
	u.reconcileMean, n = meanSince(op0, op1, "controller_runtime_reconcile_time_seconds", key)
	u.reconcileSum = u.reconcileMean * float64(n)
	u.workers = int(op1.sum("controller_runtime_max_concurrent_reconciles", key))
	u.queueWaitMean, _ = meanSince(op0, op1, "workqueue_queue_duration_seconds", map[string]string{"name": "developerappkey"})
	for _, m := range op1.matching("apigee_key_operator_apigee_request_duration_seconds", nil) {
		opName := label(m, "operation")
		s, c := meanSince(op0, op1, "apigee_key_operator_apigee_request_duration_seconds", map[string]string{"operation": opName})
		if c > 0 {
			u.apigee[opName] = mean{s, c}
		}
	}
	return u
}

// describe prints the usage per key (per converged key for an import,
// per app for a resync window).
func (u usage) describe(w io.Writer, per int, unit string) {
	total := 0.0
	for _, v := range u.reconciles {
		total += v
	}
	fmt.Fprintf(w, "  - DeveloperAppKey reconciles: %.2f per %s %s; mean %s, mean wait in the queue %s\n",
		total/float64(per), unit, sortedFloats(u.reconciles, per), secs(u.reconcileMean), secs(u.queueWaitMean))
	fmt.Fprintf(w, "  - workers busy: %.0f%% of %d workers × %s\n",
		100*u.reconcileSum/(float64(u.workers)*u.elapsed.Seconds()), u.workers, u.elapsed.Round(time.Second))
	fmt.Fprintf(w, "  - CPU: the operator %.0f s, the API server %.0f s, in %s on %d cores (highest 1-minute load average %.1f; other work on the machine counts)\n",
		u.operatorCPU, u.apiserverCPU, u.elapsed.Round(time.Second), runtime.NumCPU(), u.maxLoad)
	var ops []string
	for _, op := range slices.Sorted(maps.Keys(u.apigee)) {
		m := u.apigee[op]
		ops = append(ops, fmt.Sprintf("%s %.2f/%s at %s", op, float64(m.count)/float64(per), unit, secs(m.seconds)))
	}
	fmt.Fprintf(w, "  - Apigee calls (time on the wire, after the limiter): %s\n", strings.Join(ops, ", "))
	var reqs []string
	for _, k := range slices.Sorted(maps.Keys(u.api)) {
		if m := u.api[k]; float64(m.count)/float64(per) >= 0.01 && !strings.HasPrefix(k, "WATCH") {
			reqs = append(reqs, fmt.Sprintf("%s %.2f at %s", k, float64(m.count)/float64(per), secs(m.seconds)))
		}
	}
	fmt.Fprintf(w, "  - API server requests per %s, with the server's mean latency (the bench's own creates included): %s\n", unit, strings.Join(reqs, ", "))
}

func sortedFloats(m map[string]float64, per int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, m[k]/float64(per)))
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func secs(s float64) string {
	if math.IsNaN(s) {
		return "n/a"
	}
	return (time.Duration(s * float64(time.Second))).Round(100 * time.Microsecond).String()
}

// report is the table and what explains it.
type report struct {
	size              size
	baseline          baseline
	memEmpty, memFull memory
	floor             memory // a program linking the operator's libraries, doing nothing
	run1, run2        convergence
	resync            resyncReads
}

func (r report) print(w io.Writer, machine string) {
	sz := r.size
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	fmt.Fprintf(w, "\n## Scale: %d keys (%d apps × %d, 2 auto-approved products each), %d unrelated Secrets\n\n",
		sz.keys, sz.apps, sz.keys/max(1, sz.apps), sz.secrets)
	fmt.Fprintf(w, "Apigee (emulator) latency %s a call, quota %d calls/min; the operator binary with default flags, --resync-interval=%s, GOMEMLIMIT and GOGC as the chart sets them. Machine: %s.\n\n",
		apigeeLatency, quotaPerMinute, resync, machine)
	fmt.Fprintln(w, "| figure | measured | goal | met |")
	fmt.Fprintln(w, "|---|---|---|---|")
	fmt.Fprintf(w, "| calls per key | %.2f | 2.00 | %s |\n", r.run1.callsPerKey(), yes(r.run1.callsPerKey() <= 2.005))
	fmt.Fprintf(w, "| time to all Ready vs. the minimum at the connection's own limit (4,800/min) | %.2f× (%s vs. %s) | ≤ 1.05× | %s |\n",
		r.run1.ratio(), r.run1.elapsed.Round(time.Second), r.run1.minimum().Round(time.Second), yes(r.run1.ratio() <= 1.05))
	fmt.Fprintf(w, "| time to all Ready vs. the quota's minimum when the connection allows 6,000/min | %.2f× (%s vs. %s), %d calls answered 429 (%.1f%%) | ≤ 1.10×, with no 429 storm | %s |\n",
		r.run2.ratio(), r.run2.elapsed.Round(time.Second), r.run2.minimum().Round(time.Second), r.run2.throttled(),
		100*float64(r.run2.throttled())/float64(max(1, r.run2.calls.total)), yes(r.run2.ratio() <= 1.10 && r.run2.throttled()*100 <= r.run2.calls.total))
	fmt.Fprintf(w, "| reads per resync cycle (%d apps) | %.2f per app | ≤ 1.1 per app | %s |\n", sz.apps, r.resync.readsPerApp(), yes(r.resync.readsPerApp() <= 1.1))
	fmt.Fprintf(w, "| operator RSS with %d unrelated Secrets, before any key | %.0f MiB | ≤ 40 MiB | %s |\n", sz.secrets, r.memEmpty.rssMiB(), yes(r.memEmpty.rssMiB() <= 40))
	fmt.Fprintf(w, "| RSS of a program that links the operator's libraries (controller-runtime with its metrics authentication filter, the Apigee client) and does nothing | %.0f MiB (%.0f of it its binary's file-backed pages) | — | — |\n", r.floor.rssMiB(), mib(r.floor.file))
	fmt.Fprintf(w, "| operator RSS at %d keys + %d Secrets | %.0f MiB | ≤ 150 MiB | %s |\n", sz.keys, sz.secrets, r.memFull.rssMiB(), yes(r.memFull.rssMiB() <= 150))
	fmt.Fprintf(w, "| sequential procedure (import, then add products, one key at a time) | %s for %d keys (%s a key, measured on %d keys) | — | — |\n",
		r.baseline.extrapolated(sz.keys).Round(time.Second), sz.keys, r.baseline.perKey().Round(100*time.Microsecond), r.baseline.keys)

	fmt.Fprintf(w, "\nA 429 storm would be more than 1%% of calls answered 429. The operator at the default budget is %.1f× faster than the sequential procedure.\n",
		r.baseline.extrapolated(sz.keys).Seconds()/r.run1.elapsed.Seconds())
	fmt.Fprintf(w, "\nMemory: before any key %s; at %d keys %s.\n", r.memEmpty, sz.keys, r.memFull)
	for _, c := range []struct {
		name string
		run  convergence
	}{{"4,800/min (default budget)", r.run1}, {"6,000/min (ClusterApigeeConnection rateLimit)", r.run2}} {
		fmt.Fprintf(w, "\nImport at %s: %d Apigee calls %v, statuses %v; Ready: half in %s, 90%% in %s, all in %s\n",
			c.name, c.run.calls.total, c.run.calls.byOp, c.run.calls.byStatus,
			c.run.percentile(0.5).Round(time.Second), c.run.percentile(0.9).Round(time.Second), c.run.elapsed.Round(time.Second))
		c.run.usage.describe(w, c.run.keys, "key")
	}
	fmt.Fprintf(w, "\nResync (%d × %s, after the first interval once every key was Ready, in which each key's first resync also records its developer's ID and the app reads were %.2f per app): %d Apigee calls %v\n",
		r.resync.cycles, resync, r.resync.firstReads, r.resync.calls.total, r.resync.calls.byOp)
	r.resync.usage.describe(w, r.resync.apps*r.resync.cycles, "app and interval")
}
