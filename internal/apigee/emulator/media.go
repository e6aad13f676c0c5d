package emulator

import (
	"mime"
	"net/http"
	"strings"
)

// checkMediaTypes refuses what the emulator cannot speak instead of
// misreading it: Edge documents application/xml bodies and answers beside
// JSON, the emulator serves JSON only. An XML body answers 415; an Accept
// header that allows no JSON answers 406. Key and product actions send
// no body or an ignored one, so their Content-Type (the reference says
// application/octet-stream; the Go client sends application/json) is not
// checked.
func checkMediaTypes(r *http.Request) *apiError {
	if r.ContentLength != 0 && isXML(r.Header.Get("Content-Type")) {
		return &apiError{status: http.StatusUnsupportedMediaType, code: "emulator.UnsupportedMediaType",
			message: "The emulator reads JSON bodies only (Content-Type: application/json)"}
	}
	if accept := r.Header.Get("Accept"); accept != "" && !acceptsJSON(accept) {
		return &apiError{status: http.StatusNotAcceptable, code: "emulator.NotAcceptable",
			message: "The emulator answers in JSON only (Accept: application/json)"}
	}
	return nil
}

func isXML(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/xml" || mt == "text/xml")
}

// acceptsJSON: some media range of the Accept header covers
// application/json with a non-zero quality.
func acceptsJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" || params["q"] == "0.0" {
			continue
		}
		switch mt {
		case "application/json", "application/*", "*/*":
			return true
		}
	}
	return false
}
