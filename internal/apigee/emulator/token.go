package emulator

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Edge's public OAuth client, the one its own tools (get_token, acurl) use.
const (
	edgeClientID     = "edgecli"
	edgeClientSecret = "edgeclisecret"
)

// TokenHandler serves Edge's OAuth token endpoint (POST …/oauth/token) at
// any host and path prefix, so a test can stand it in for
// https://login.apigee.com/oauth/token or a SAML zone's
// https://{zone}.login.apigee.com/oauth/token: the password grant (machine
// users) and the refresh grant for client edgecli:edgeclisecret and
// Options' BasicUser/BasicPassword hand out Options.BearerToken. A SAML
// passcode grant is refused: one-time passcodes cannot be automated.
// Token requests are not API calls: the call log does not see them.
func (e *Emulator) TokenHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/oauth/token") {
			writeToken(w, http.StatusNotFound, map[string]string{"error": "not_found"})
			return
		}
		if !e.grantOK(r) {
			writeToken(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized",
				"error_description": "Bad credentials"})
			return
		}
		writeToken(w, http.StatusOK, map[string]any{"access_token": e.opts.BearerToken, "token_type": "bearer",
			"refresh_token": refreshToken, "expires_in": 1799, "scope": "scim.me openid password.write approvals.me oauth.approvals"})
	})
}

// refreshToken is the one refresh token the emulator hands out.
const refreshToken = "emulator-refresh-token"

func (e *Emulator) grantOK(r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		return false
	}
	if u, p, ok := r.BasicAuth(); !ok || !equal(u, edgeClientID) || !equal(p, edgeClientSecret) || e.opts.BearerToken == "" {
		return false
	}
	switch r.PostForm.Get("grant_type") {
	case "password":
		return r.PostForm.Get("passcode") == "" && e.opts.BasicUser != "" &&
			equal(r.PostForm.Get("username"), e.opts.BasicUser) && equal(r.PostForm.Get("password"), e.opts.BasicPassword)
	case "refresh_token":
		return equal(r.PostForm.Get("refresh_token"), refreshToken)
	}
	return false
}

func writeToken(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
