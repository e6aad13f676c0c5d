package emulator

import "time"

// Call is one request the emulator received. Path has any consumer key
// replaced by its apigee.Fingerprint, so a call log is safe to print.
type Call struct {
	Operation    string
	Method, Path string
	Status       int // 0 when the connection was dropped
	At           time.Time
}

// record adds a finished request to the log and counters.
func (e *Emulator) record(c Call) {
	e.mu.Lock()
	e.calls = append(e.calls, c)
	e.counts[c.Operation]++
	hook := e.opts.OnCall
	e.mu.Unlock()
	if hook != nil {
		hook(c)
	}
}

// Calls returns how many requests of the operation were received, including
// failed and faulted ones.
func (e *Emulator) Calls(operation string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counts[operation]
}

// TotalCalls returns how many requests were received.
func (e *Emulator) TotalCalls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.calls)
}

// CallLog returns a copy of every request received, oldest first.
func (e *Emulator) CallLog() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Call(nil), e.calls...)
}

// ResetCalls forgets the call log and counters (not the quota window).
func (e *Emulator) ResetCalls() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = nil
	e.counts = map[string]int{}
}
