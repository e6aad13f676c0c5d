package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// maxBody bounds request bodies; real bodies here are a few KB at most.
const maxBody = 1 << 20

// serve runs one request through the pipeline: faults (before anything, so
// a faulted request changes nothing unless AfterEffect), auth, org, quota,
// then the operation. Every request is recorded, whatever happened.
func (e *Emulator) serve(wr wire, w http.ResponseWriter, r *http.Request) {
	rt := parseRoute(wr.dialect(), r)
	call := Call{Operation: rt.op, Method: r.Method, Path: rt.logPath, At: e.now()}
	// The call is recorded as soon as its status is known, before the
	// response leaves, so a client that got its answer can rely on Calls.
	var once sync.Once
	record := func(status int) { once.Do(func() { call.Status = status; e.record(call) }) }
	defer record(0) // nothing written: dropped, or the client went away
	sw := &statusWriter{ResponseWriter: w, onStatus: record}

	// Read the request before any injected latency, as a server does:
	// only then does net/http notice a client that gives up (a timeout),
	// so a slow or hanging answer ends with the client's request.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		r.Body = io.NopCloser(failingReader{err})
	}
	plan := e.planFaults(rt.op)
	if !sleep(r, plan.latency) {
		return // client gave up while we were slow
	}
	if plan.fails() && !plan.after {
		e.fault(wr, sw, plan)
		return
	}
	if err := e.admit(r, rt); err != nil {
		writeError(wr, sw, err)
		return
	}
	if plan.fails() { // AfterEffect: make the change, then fail anyway
		e.dispatch(wr, discard{}, r, rt)
		e.fault(wr, sw, plan)
		return
	}
	e.dispatch(wr, sw, r, rt)
}

// failingReader fails every read with its error (a body read too large).
type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

// admit checks auth, the route, the organization and the quota.
func (e *Emulator) admit(r *http.Request, rt route) *apiError {
	if !e.authorized(r) {
		return errUnauthorized()
	}
	if rt.op == OpUnknown {
		return errRoute(rt.status)
	}
	if err := checkMediaTypes(r); err != nil {
		return err
	}
	if rt.org != e.opts.Organization {
		return errOrgNotFound(rt.org)
	}
	if ok, retry := e.takeQuota(); !ok {
		return errQuota(retry)
	}
	return nil
}

// dispatch runs the operation and writes its response.
func (e *Emulator) dispatch(wr wire, w http.ResponseWriter, r *http.Request, rt route) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(wr, w, errInvalid("protocol.http.TooBigBody", "Request body too large"))
		return
	}
	rt.ref.developer = e.resolveDeveloper(wr.dialect(), rt.ref.developer)
	status, v, apiErr := e.operation(rt.op)(e, wr, rt, body)
	if apiErr != nil {
		writeError(wr, w, apiErr)
		return
	}
	writeJSON(w, status, v)
}

// resolveDeveloper is the developer a path names. X and Edge keep an email
// as written (X accepts only lower case); Edge finds it in any case unless
// Options.EdgeEmailsExactCase, X only as stored (docs/emulator.md).
func (e *Emulator) resolveDeveloper(d Dialect, ref string) string {
	if d != Edge || e.opts.EdgeEmailsExactCase || ref == "" {
		return ref
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.s.foldDeveloper(ref)
}

// fault answers with the injected status, or drops the connection.
func (e *Emulator) fault(wr wire, w *statusWriter, p faultPlan) {
	if p.drop {
		w.onStatus(0)
		dropConnection(w)
		return
	}
	writeError(wr, w, errFault(p.status, retryAfterSeconds(p.retryAfter)))
}

func writeError(wr wire, w http.ResponseWriter, err *apiError) {
	status := err.statusFor(wr.dialect())
	if err.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(err.retryAfter))
	}
	if status == http.StatusUnauthorized {
		scheme := `Bearer realm="apigee"`
		if wr.dialect() == Edge {
			scheme = `Basic realm="apigee"`
		}
		w.Header().Set("WWW-Authenticate", scheme)
	}
	writeJSON(w, status, wr.errorBody(err, status))
}

// writeJSON writes v as the body; nil v means no body (204), and then no
// Content-Type either: there is no content to describe.
func writeJSON(w http.ResponseWriter, status int, v any) {
	if v == nil {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	b, err := json.Marshal(v)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// dropConnection closes the connection without a response. Hijacking works
// for HTTP/1; otherwise aborting the handler resets the stream.
func dropConnection(w *statusWriter) {
	if conn, _, err := http.NewResponseController(w.ResponseWriter).Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}

// sleep waits d, or less if the request is cancelled (then false).
func sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// statusWriter remembers the status for the call log.
// statusWriter reports the response status once, before it is sent.
type statusWriter struct {
	http.ResponseWriter
	onStatus func(int)
}

func (w *statusWriter) WriteHeader(status int) {
	w.onStatus(status)
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.onStatus(http.StatusOK)
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// discard swallows the response of an AfterEffect operation.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
