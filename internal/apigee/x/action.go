package x

import (
	"bytes"
	"io"
	"net/http"
)

const octetStream = "application/octet-stream"

// withActionFix returns a copy of hc whose transport sends approve/revoke
// calls (POST …?action=) the way Apigee documents them: an empty body with
// Content-Type application/octet-stream. The generated client would send
// "{}" as application/json, and fails to decode an empty 2xx answer.
func withActionFix(hc *http.Client) *http.Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	c := *hc
	c.Transport = actionTransport{base: hc.Transport}
	return &c
}

type actionTransport struct{ base http.RoundTripper }

func (t actionTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	if req.Method != http.MethodPost || req.URL.Query().Get("action") == "" {
		return base.RoundTrip(req)
	}
	if req.Body != nil {
		req.Body.Close() // the RoundTripper owns the body it was given
	}
	r := req.Clone(req.Context())
	r.Body, r.GetBody, r.ContentLength = http.NoBody, nil, 0
	r.Header.Set("Content-Type", octetStream)
	resp, err := base.RoundTrip(r)
	if err == nil {
		emptyToObject(resp)
	}
	return resp, err
}

// emptyToObject gives the generated client "{}" to decode when a
// successful action call answers with no body (Edge-style 204 or 200).
func emptyToObject(resp *http.Response) {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err == nil && len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Del("Content-Length")
}
