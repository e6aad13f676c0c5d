package cli

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// TestApigeeFailuresSayWhatToCheck: bad credentials, an unknown
// organization and an unreachable endpoint end in an error that says what
// to check, in both dialects and every flag-given auth method, and never
// shows a credential.
func TestApigeeFailuresSayWhatToCheck(t *testing.T) {
	const (
		token    = "SENTINELtokenQ7"
		password = "SENTINELpasswordQ7"
	)
	emu := emulator.New(emulator.Options{Organization: "acme", BearerToken: token, BasicUser: "admin", BasicPassword: password})
	xSrv := httptest.NewServer(emu.Handler(emulator.X))
	defer xSrv.Close()
	edgeSrv := httptest.NewServer(emu.Handler(emulator.Edge))
	defer edgeSrv.Close()
	tokens := httptest.NewServer(emu.TokenHandler())
	defer tokens.Close()
	good, wrongPassword := write(t, "good", "admin:"+password), write(t, "wrong", "admin:not-"+password)
	goodToken, wrongToken := write(t, "token", token), write(t, "wrong-token", "x"+token)
	oauth := []string{"--token-url", tokens.URL + "/oauth/token"}

	cases := []struct {
		reason string
		args   []string
		want   string
	}{
		{"X, a refused token", []string{"--platform", "X", "--organization", "acme", "--endpoint", xSrv.URL, "--token-file", wrongToken},
			"Hint: the credentials were refused: check the token in --token-file"},
		{"X, an unknown organization", []string{"--platform", "x", "--organization", "acme-typo", "--endpoint", xSrv.URL, "--token-file", goodToken},
			`Hint: check that organization "acme-typo" exists at ` + xSrv.URL},
		{"Edge, an unknown organization", []string{"--platform", "Edge", "--organization", "acme-typo", "--endpoint", edgeSrv.URL, "--basic-auth-file", good},
			`Organization acme-typo does not exist` + "\n" + `Hint: check that organization "acme-typo" exists at ` + edgeSrv.URL},
		{"Edge Basic, a wrong password", []string{"--platform", "Edge", "--organization", "acme", "--endpoint", edgeSrv.URL, "--basic-auth-file", wrongPassword},
			"Hint: the credentials were refused: check the user and password in --basic-auth-file"},
		{"Edge OAuth, a wrong password", append([]string{"--platform", "Edge", "--organization", "acme", "--endpoint", edgeSrv.URL, "--edge-oauth-file", wrongPassword}, oauth...),
			"the token endpoint refused the credentials"},
		{"an endpoint nobody listens on", []string{"--platform", "Edge", "--organization", "acme", "--endpoint", "http://127.0.0.1:1", "--basic-auth-file", good},
			"Hint: check that http://127.0.0.1:1 is the management endpoint and can be reached"},
		{"two credential files", []string{"--platform", "Edge", "--organization", "acme", "--basic-auth-file", good, "--token-file", goodToken},
			"give one of --token-file"},
		{"a token URL without Edge OAuth", []string{"--platform", "Edge", "--organization", "acme", "--basic-auth-file", good, "--token-url", "https://zone.login.apigee.com/oauth/token"},
			"--token-url and --mfa-token go with --edge-oauth-file"},
		{"an unknown platform", []string{"--platform", "Apigee", "--organization", "acme", "--token-file", goodToken},
			`--platform must be X, Hybrid or Edge, not "Apigee"`},
		{"a password file without a colon", []string{"--platform", "Edge", "--organization", "acme", "--edge-oauth-file", goodToken},
			"--edge-oauth-file must hold user:password on one line"},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			out, errOut, code := runCLI(append([]string{"export", "--target-connection", "prod", "-n", "x", "--dry-run", "--output-dir", t.TempDir()}, tc.args...)...)
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant it to contain %q", code, errOut, tc.want)
			}
			if strings.Contains(out+errOut, token) || strings.Contains(out+errOut, password) {
				t.Errorf("a credential was printed")
			}
		})
	}
	// plan says the same.
	dir, secrets := t.TempDir(), t.TempDir()+"/s"
	if _, errOut, code := runCLI("export", "--from-csv", write(t, "k.csv", "developer,app,consumerKey,consumerSecret\nd@example.com,a,k1,s1\n"),
		"--target-connection", "prod", "-n", "x", "--output-dir", dir, "--secrets-dir", secrets); code != 0 {
		t.Fatalf("export: %s", errOut)
	}
	_, errOut, code := runCLI("plan", "--from", dir, "--secrets-dir", secrets, "--platform", "X", "--organization", "acme",
		"--endpoint", xSrv.URL, "--token-file", wrongToken)
	if code != 1 || !strings.Contains(errOut, "Hint: the credentials were refused") {
		t.Errorf("plan with a refused token: exit %d, stderr:\n%s", code, errOut)
	}
}
