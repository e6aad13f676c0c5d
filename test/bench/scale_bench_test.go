// Package bench measures the operator as a user importing many keys sees
// it (issue 14, "Scale"): the operator binary runs as its own process with
// default flags and a 60 s resync against a real API server (envtest) that
// holds many unrelated Secrets, and the Apigee emulator answers every call
// after 25 ms and enforces Apigee X's quota of 6,000 calls a minute. The
// sequential procedure a user would otherwise script (import, then add
// products, one key at a time) runs against the same emulator as the
// baseline.
//
// `make bench` runs it at the size; BENCH_KEYS, BENCH_APPS and
// BENCH_SECRETS change it (develop with e.g. BENCH_KEYS=400 BENCH_APPS=4
// BENCH_SECRETS=2000). Figures are printed, never asserted.
package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// The workload of the issue.
const (
	apigeeLatency  = 25 * time.Millisecond // every Apigee call
	quotaPerMinute = 6000                  // Apigee X's management quota
	defaultBudget  = 4800                  // the operator's default budget for an X organization
	resync         = time.Minute           // --resync-interval
)

// size is what one run imports and what else the cluster holds.
type size struct {
	keys, apps, secrets int
	baselineKeys        int // keys the sequential baseline imports (a sample)
	resyncCycles        int // resync intervals watched after convergence
}

func sizeFromEnv() size {
	s := size{
		keys:         envInt("BENCH_KEYS", 10000),
		apps:         envInt("BENCH_APPS", 100),
		secrets:      envInt("BENCH_SECRETS", 50000),
		resyncCycles: envInt("BENCH_RESYNC_CYCLES", 2),
	}
	s.baselineKeys = min(envInt("BENCH_BASELINE_KEYS", 500), s.keys)
	return s
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v >= 0 {
		return v
	}
	return def
}

// BenchmarkScale prints the table. It runs once whatever b.N is:
// one pass takes minutes.
func BenchmarkScale(b *testing.B) {
	sz := sizeFromEnv()
	log.SetLogger(logr.Discard()) // the bench's own watch; the operator logs to its file
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := newHarness(b, ctx, sz)
	fmt.Printf("Scale bench: %d keys in %d apps (2 auto-approved products each), %d unrelated Secrets, Apigee latency %s, quota %d/min, resync %s; logs in %s\n",
		sz.keys, sz.apps, sz.secrets, apigeeLatency, quotaPerMinute, resync, h.outDir)
	var r report
	r.size = sz

	// The org whose budget is the default (4,800/min); the baseline runs
	// on it first, while nothing else calls it.
	org1 := h.newOrg("bench-default", sz.apps)
	r.baseline = h.sequentialBaseline(org1, sz.baselineKeys)
	h.progress("sequential baseline: %d keys in %s (%s a key)", r.baseline.keys, r.baseline.elapsed.Round(time.Millisecond), r.baseline.perKey())

	start := time.Now()
	h.createUnrelatedSecrets(sz.secrets)
	h.progress("created %d unrelated Secrets in %s", sz.secrets, time.Since(start).Round(time.Second))

	// Run 1: default budget. Memory before any key, convergence, resync
	// reads, memory at the full size.
	r.floor = h.libraryFloor()
	h.progress("a program that links the operator's libraries and does nothing: RSS %.1f MiB (anonymous %.1f, file-backed %.1f)",
		r.floor.rssMiB(), mib(r.floor.anon), mib(r.floor.file))
	op := h.startOperator("run1")
	r.memEmpty = op.steadyMemory(h)
	h.progress("operator RSS with %d unrelated Secrets, before any key: %s; heap profile %s", sz.secrets, r.memEmpty, op.saveHeapProfile(h, "empty"))
	r.run1 = h.converge(op, org1, "bench-default", false, defaultBudget)
	r.resync = h.watchResync(op, org1, sz.resyncCycles)
	r.memFull = op.memoryNow(h)
	h.progress("operator RSS at %d keys + %d Secrets: %s; heap profile %s", sz.keys, sz.secrets, r.memFull, op.saveHeapProfile(h, "full"))
	op.stop(h)
	h.release("bench-default")

	// Run 2: a ClusterApigeeConnection gives the organization the whole
	// quota (6,000/min).
	org2 := h.newOrg("bench-quota", sz.apps)
	op = h.startOperator("run2")
	r.run2 = h.converge(op, org2, "bench-quota", true, quotaPerMinute)
	op.stop(h)

	r.print(os.Stdout, h.machine())
	b.ReportMetric(r.run1.callsPerKey(), "calls/key")
	b.ReportMetric(r.run1.ratio(), "x-min-4800")
	b.ReportMetric(r.run2.ratio(), "x-min-6000")
	b.ReportMetric(float64(r.run2.throttled()), "429s-6000")
	b.ReportMetric(r.resync.readsPerApp(), "reads/app/resync")
	b.ReportMetric(r.memEmpty.rssMiB(), "MiB-rss-empty")
	b.ReportMetric(r.floor.rssMiB(), "MiB-rss-libraries")
	b.ReportMetric(r.memFull.rssMiB(), "MiB-rss-full")
	b.ReportMetric(r.baseline.perKey().Seconds()*float64(sz.keys)/r.run1.elapsed.Seconds(), "x-faster-than-sequential")
}
