package emulator

import (
	"math"
	"math/rand/v2"
	"time"
)

// Fault makes matching requests fail or slow down. Faults are applied
// before authentication, quota and the operation, so a faulted request
// changes nothing, unless AfterEffect is set.
type Fault struct {
	Operation  string // "" = every operation
	Status     int    // e.g. 500, 503, 429; 0 = no error status (latency only)
	RetryAfter time.Duration
	// Probability is the chance per matching request, 0..1. 0 is treated as
	// 1 (always) so that Fault{Status: 503} does what it says.
	Probability float64
	Latency     time.Duration // added delay before handling (real time, not Clock)
	Drop        bool          // close the connection without a response
	Remaining   int           // >0: applies to this many requests, then expires; 0 = unlimited
	// AfterEffect performs the operation first, then answers with Status (or
	// drops): a change was made but the client saw a failure.
	AfterEffect bool
}

// faultPlan is what the faults firing for one request add up to.
type faultPlan struct {
	latency    time.Duration
	status     int
	retryAfter time.Duration
	drop       bool
	after      bool
}

func (p faultPlan) fails() bool { return p.drop || p.status != 0 }

// InjectFault adds a fault; faults are evaluated in the order added.
func (e *Emulator) InjectFault(f Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = append(e.faults, &f)
}

// ClearFaults removes every fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = nil
}

// SetSeed reseeds the random source that decides probabilistic faults.
func (e *Emulator) SetSeed(seed uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rand = newRand(seed)
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// planFaults decides which faults fire for an operation. Every firing fault
// adds its latency and uses up one of its Remaining; the first one with a
// Status or Drop decides the response.
func (e *Emulator) planFaults(op string) faultPlan {
	e.mu.Lock()
	defer e.mu.Unlock()
	var p faultPlan
	kept := e.faults[:0]
	for _, f := range e.faults {
		fired := (f.Operation == "" || f.Operation == op) && e.roll(f.Probability)
		if fired {
			p.add(f)
			if f.Remaining > 0 {
				f.Remaining--
				if f.Remaining == 0 {
					continue // expired: drop it from the list
				}
			}
		}
		kept = append(kept, f)
	}
	e.faults = kept
	return p
}

func (p *faultPlan) add(f *Fault) {
	p.latency += f.Latency
	if p.fails() || (!f.Drop && f.Status == 0) {
		return
	}
	p.status, p.drop, p.retryAfter, p.after = f.Status, f.Drop, f.RetryAfter, f.AfterEffect
}

func (e *Emulator) roll(probability float64) bool {
	if probability <= 0 || probability >= 1 {
		return true
	}
	return e.rand.Float64() < probability
}

// retryAfterSeconds rounds a duration up to whole seconds for Retry-After.
func retryAfterSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}
