package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// operator is the operator binary running as its own process, as in
// production: default flags but --resync-interval=60s, and the probe and
// metrics endpoints on free loopback ports (metrics over plain HTTP, so
// the bench can read them; nothing scrapes them otherwise).
type operator struct {
	name       string
	cmd        *exec.Cmd
	metricsURL string
	pprofURL   string
	log        *logWatch
	exited     chan struct{}
	exitErr    error
}

// controllers are the operator's controllers; each logs "Starting workers"
// once its caches, the Secret metadata cache included, are synced.
var controllers = []string{"developerappkey", "apigeeconnection", "clusterapigeeconnection"}

// startOperator starts the operator binary; env adds to its environment
// after the chart's (GOGC=100, say, to try another setting).
func (h *harness) startOperator(name string, env ...string) *operator {
	metricsAddr, probeAddr, pprofAddr := freeAddr(h), freeAddr(h), freeAddr(h)
	f, err := os.Create(filepath.Join(h.outDir, "operator-"+name+".log"))
	if err != nil {
		h.b.Fatal(err)
	}
	o := &operator{name: name, metricsURL: "http://" + metricsAddr + "/metrics", pprofURL: "http://" + pprofAddr + "/debug/pprof/",
		exited: make(chan struct{}),
		log:    &logWatch{file: f, started: map[string]bool{}}}
	o.cmd = exec.Command(h.bin, "--resync-interval="+resync.String(),
		"--metrics-bind-address="+metricsAddr, "--metrics-secure=false", "--health-probe-bind-address="+probeAddr,
		"--pprof-bind-address="+pprofAddr)
	o.cmd.Env = append(environWithout("KUBECONFIG", "GOMEMLIMIT", "GOGC"), "KUBECONFIG="+h.kubeconfig)
	o.cmd.Env = append(o.cmd.Env, h.chartEnv...)
	o.cmd.Env = append(o.cmd.Env, env...)
	o.cmd.Stdout, o.cmd.Stderr = o.log, o.log
	if err := o.cmd.Start(); err != nil {
		h.b.Fatal(err)
	}
	go func() {
		o.exitErr = o.cmd.Wait()
		close(o.exited)
	}()
	h.b.Cleanup(func() { o.kill() })
	o.await(h, "its controllers started (caches synced)", 3*time.Minute, func() bool { return o.log.allStarted(controllers) })
	h.progress("operator %s (pid %d) started; environment from the chart: %s", name, o.cmd.Process.Pid, strings.Join(h.chartEnv, " "))
	return o
}

// await polls cond every 100 ms; it fails the bench when the operator
// exits or timeout passes first.
func (o *operator) await(h *harness, what string, timeout time.Duration, cond func() bool) {
	deadline := time.After(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-o.exited:
			h.b.Fatalf("operator %s exited (%v) waiting for %s; log tail:\n%s", o.name, o.exitErr, what, o.log.tail())
		case <-deadline:
			h.b.Fatalf("operator %s: timed out waiting for %s; log tail:\n%s", o.name, what, o.log.tail())
		case <-tick.C:
		}
	}
}

// sleep waits d; it fails the bench if the operator exits meanwhile.
func (o *operator) sleep(h *harness, d time.Duration) {
	select {
	case <-time.After(d):
	case <-o.exited:
		h.b.Fatalf("operator %s exited (%v); log tail:\n%s", o.name, o.exitErr, o.log.tail())
	}
}

// stop ends the operator as Kubernetes would: SIGTERM, then SIGKILL.
func (o *operator) stop(h *harness) {
	_ = o.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-o.exited:
	case <-time.After(40 * time.Second):
		o.kill()
		<-o.exited
	}
	h.progress("operator %s stopped; %d error lines in its log", o.name, o.log.errorCount())
}

func (o *operator) kill() {
	select {
	case <-o.exited:
	default:
		_ = o.cmd.Process.Kill()
	}
}

// memory is the operator process's memory at one moment.
type memory struct {
	rss, peak  uint64 // VmRSS and VmHWM, bytes
	anon, file uint64 // RssAnon and RssFile: the binary's pages are file-backed
	heap, sys  float64
}

func (m memory) rssMiB() float64 { return float64(m.rss) / (1 << 20) }

func (m memory) String() string {
	return fmt.Sprintf("RSS %.1f MiB (anonymous %.1f, file-backed %.1f; peak %.1f) with %.1f MiB of Go heap allocated, %.1f MiB obtained by the Go runtime",
		m.rssMiB(), mib(m.anon), mib(m.file), mib(m.peak), m.heap/(1<<20), m.sys/(1<<20))
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// memoryNow reads VmRSS and VmHWM from /proc and the Go heap from metrics.
func (o *operator) memoryNow(h *harness) memory {
	m := processMemory(h, o.cmd.Process.Pid)
	if s, err := scrape(o.metricsURL); err == nil {
		m.heap = s.sum("go_memstats_heap_alloc_bytes", nil)
		m.sys = s.sum("go_memstats_sys_bytes", nil)
	}
	return m
}

// processMemory reads a process's VmRSS, VmHWM, RssAnon and RssFile.
func processMemory(h *harness, pid int) memory {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		h.b.Fatal(err)
	}
	var m memory
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseUint(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			m.rss = kb << 10
		case "VmHWM:":
			m.peak = kb << 10
		case "RssAnon:":
			m.anon = kb << 10
		case "RssFile:":
			m.file = kb << 10
		}
	}
	return m
}

// libraryFloor runs a program that links the libraries the operator is
// built on and does nothing (testdata/floor) and returns its memory once
// RSS has held still for a second (or after 30 s): the least any operator
// built on them can show.
func (h *harness) libraryFloor() memory {
	cmd := exec.Command(build(h.b, h.outDir, "floor", "./test/bench/testdata/floor"))
	if err := cmd.Start(); err != nil {
		h.b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	last := processMemory(h, cmd.Process.Pid)
	deadline := time.Now().Add(30 * time.Second)
	for still := 0; still < 10 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		m := processMemory(h, cmd.Process.Pid)
		if m.rss == last.rss {
			still++
		} else {
			still = 0
		}
		last = m
	}
	return last
}

// steadyMemory waits for the operator's steady state and returns its
// memory: a garbage collection completed after the call (idle, the Go
// runtime forces one every two minutes), then RSS within 1 MiB over 10 s
// of samples. It gives up waiting after four minutes.
func (o *operator) steadyMemory(h *harness) memory {
	since := float64(time.Now().UnixNano()) / 1e9
	collected := func() bool {
		s, err := scrape(o.metricsURL)
		return err == nil && s.sum("go_memstats_last_gc_time_seconds", nil) > since
	}
	var window []memory
	deadline := time.Now().Add(4 * time.Minute)
	for {
		window = append(window, o.memoryNow(h))
		if len(window) > 20 {
			window = window[1:]
		}
		if time.Now().After(deadline) {
			h.progress("operator %s: memory not steady after 4 minutes; taking the last sample", o.name)
			return window[len(window)-1]
		}
		if len(window) == 20 && collected() {
			lo, hi := window[0].rss, window[0].rss
			for _, m := range window {
				lo, hi = min(lo, m.rss), max(hi, m.rss)
			}
			if hi-lo < 1<<20 {
				return window[len(window)-1]
			}
		}
		time.Sleep(500 * time.Millisecond) // the sampling period
	}
}

// saveHeapProfile writes the operator's heap profile to the bench's
// output directory (go tool pprof -sample_index=inuse_space reads it) and
// returns its path; what is in use, not figures, so nothing is printed.
func (o *operator) saveHeapProfile(h *harness, name string) string {
	resp, err := http.Get(o.pprofURL + "heap?gc=1")
	if err != nil {
		h.progress("operator %s: no heap profile: %v", o.name, err)
		return ""
	}
	defer resp.Body.Close()
	path := filepath.Join(h.outDir, "heap-"+o.name+"-"+name+".pb.gz")
	f, err := os.Create(path)
	if err != nil {
		h.b.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		h.b.Fatal(err)
	}
	return path
}

func (o *operator) metrics(h *harness) samples {
	s, err := scrape(o.metricsURL)
	if err != nil {
		h.b.Fatalf("operator metrics: %v", err)
	}
	return s
}

// logWatch keeps the operator's log in a file and notes what the bench
// waits for. The operator logs no key or secret, and the bench prints only
// the tail of the log on failure.
type logWatch struct {
	mu      sync.Mutex
	file    *os.File
	partial []byte
	started map[string]bool
	errors  int
	last    []string
}

func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, _ = w.file.Write(p)
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.line(w.partial[:i])
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

func (w *logWatch) line(l []byte) {
	var entry struct {
		Level, Msg, Controller string
	}
	if json.Unmarshal(l, &entry) == nil {
		if entry.Msg == "Starting workers" {
			w.started[entry.Controller] = true
		}
		if entry.Level == "error" {
			w.errors++
		}
	}
	w.last = append(w.last, string(l))
	if len(w.last) > 30 {
		w.last = w.last[1:]
	}
}

func (w *logWatch) allStarted(names []string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, n := range names {
		if !w.started[n] {
			return false
		}
	}
	return true
}

func (w *logWatch) errorCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.errors
}

func (w *logWatch) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.last, "\n")
}

func freeAddr(h *harness) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func environWithout(names ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			drop = drop || name == n
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}
