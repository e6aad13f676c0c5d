package apigee

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"
)

// callPhase is how far an attempt got, so a failure can say truly what
// happened: an endpoint that accepts and never answers, a handshake that
// stalls and a body that never ends are each "no answer in time", at
// different points.
type callPhase int32

const (
	phaseConnecting callPhase = iota
	phaseTLS
	phaseWaiting // connected, request sent or being sent
	phaseReading // headers came, the body is being read
)

func (p callPhase) String() string {
	switch p {
	case phaseTLS:
		return "in the TLS handshake"
	case phaseWaiting:
		return "waiting for the response"
	case phaseReading:
		return "reading the response"
	}
	return "connecting"
}

// phaseTracker follows an attempt through its phases. httptrace calls it
// from the transport's own goroutines (a dial runs apart from the call).
type phaseTracker struct{ phase atomic.Int32 }

func (p *phaseTracker) set(ph callPhase) { p.phase.Store(int32(ph)) }
func (p *phaseTracker) get() callPhase   { return callPhase(p.phase.Load()) }

// withPhases returns ctx with a client trace that moves the tracker.
func withPhases(ctx context.Context) (context.Context, *phaseTracker) {
	p := &phaseTracker{}
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		ConnectStart:      func(string, string) { p.set(phaseConnecting) },
		TLSHandshakeStart: func() { p.set(phaseTLS) },
		GotConn:           func(httptrace.GotConnInfo) { p.set(phaseWaiting) },
	}), p
}

// deadlinePassed reports whether ctx's deadline is behind us. An
// http.Client's Timeout cancels an attempt through two timers (the
// request's Cancel channel and its context), and the transport may answer
// the first ("request canceled while waiting for connection") before the
// context says DeadlineExceeded; the clock decides, as the client's own
// timeout check does.
func deadlinePassed(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// timedOut: the attempt ended because its time was up, whatever error the
// transport chose to say so.
func timedOut(ctx context.Context, err error) bool {
	return isTimeout(err) || errors.Is(ctx.Err(), context.DeadlineExceeded) || deadlinePassed(ctx)
}

// describeFailure says what happened to an attempt that got no usable
// answer: op, then the cause, never a URL or a key.
func describeFailure(op string, phase callPhase, err error, ctx context.Context, elapsed time.Duration) string {
	if timedOut(ctx, err) {
		return fmt.Sprintf("%s got no answer within %s (%s)", op, elapsed.Round(time.Second), phase)
	}
	if phase == phaseReading {
		return op + " lost the connection while reading the response"
	}
	return op + " could not connect"
}

// watchedBody tells the organization's Health how an answer ended once
// its body has been read: a body that stalls until the deadline is no
// answer either. done is called at most once.
type watchedBody struct {
	io.ReadCloser
	once sync.Once
	done func(err error)
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.finish(err)
	}
	return n, err
}

// Close before the end counts as an answer: the caller had what it
// wanted (a size limit, say).
func (b *watchedBody) Close() error {
	b.finish(io.EOF)
	return b.ReadCloser.Close()
}

func (b *watchedBody) finish(err error) {
	b.once.Do(func() { b.done(err) })
}
