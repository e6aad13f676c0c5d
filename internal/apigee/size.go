package apigee

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// MaxResponseBytes bounds every answer the clients read: an app with the
// most keys Apigee holds is far smaller, and an endpoint is a tenant's to
// choose, so its answers must not be able to fill the operator's memory.
const MaxResponseBytes = 16 << 20

// ReasonResponseTooLarge: Apigee (or whatever answers at the connection's
// endpoint) sent more than MaxResponseBytes; nothing of it was used.
const ReasonResponseTooLarge = "ResponseTooLarge"

// LimitResponses returns a copy of hc (nil: http.DefaultClient) whose
// answers fail with ReasonResponseTooLarge once they pass limit bytes.
func LimitResponses(hc *http.Client, limit int64) *http.Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	c := *hc
	c.Transport = limitTransport{base: hc.Transport, limit: limit}
	return &c
}

type limitTransport struct {
	base  http.RoundTripper
	limit int64
}

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err == nil {
		resp.Body = &limitedBody{ReadCloser: http.MaxBytesReader(nil, resp.Body, t.limit), op: OperationFrom(req.Context()), limit: t.limit}
	}
	return resp, err
}

// limitedBody turns the size limit's error into the clients' own.
type limitedBody struct {
	io.ReadCloser
	op    string
	limit int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		err = ResponseTooLarge(b.op, b.limit)
	}
	return n, err
}

// ResponseTooLarge is the error of an answer over limit bytes. It names
// the limit, never what the answer held; retrying would read it again.
func ResponseTooLarge(op string, limit int64) *Error {
	return &Error{Class: ClassInvalid, Reason: ReasonResponseTooLarge, Operation: op,
		Message: fmt.Sprintf("the answer is larger than %d MiB, the most the operator reads from Apigee; nothing of it was used", limit>>20)}
}
