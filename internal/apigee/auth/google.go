package auth

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
)

// CredentialsFinder finds the operator's ambient Google credentials; its
// signature is google.FindDefaultCredentials'.
type CredentialsFinder func(ctx context.Context, scopes ...string) (*google.Credentials, error)

// applicationDefault finds the pod's Google credentials with find (nil:
// google.FindDefaultCredentials). Tokens are fetched on first use, so a
// broken setup shows up in the first call (Probe).
func applicationDefault(ctx context.Context, find CredentialsFinder) (oauth2.TokenSource, error) {
	if find == nil {
		find = google.FindDefaultCredentials
	}
	creds, err := find(ctx, Scope)
	if err != nil {
		return nil, unauthorized("no Google Application Default Credentials found: on GKE bind the operator's " +
			"Kubernetes service account to a Google service account (Workload Identity), or use serviceAccountKey")
	}
	return creds.TokenSource, nil
}

// serviceAccountFile is the part of a key file checked before use.
type serviceAccountFile struct {
	Type        string `json:"type"`
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
}

// serviceAccount checks a JSON key file and builds its token source. Only
// the "service_account" type is accepted: other credential types can make
// the library call URLs taken from the file. Parse errors are not passed
// on: their text can quote the key.
func serviceAccount(ctx context.Context, key []byte) (oauth2.TokenSource, error) {
	if err := checkServiceAccount(key); err != nil {
		return nil, err
	}
	creds, err := google.CredentialsFromJSONWithType(ctx, key, google.ServiceAccount, Scope)
	if err != nil {
		return nil, unauthorized("the service-account key cannot be used: download a new JSON key for the service account")
	}
	return creds.TokenSource, nil
}

func checkServiceAccount(key []byte) error {
	var f serviceAccountFile
	if err := json.Unmarshal(key, &f); err != nil {
		return unauthorized("the service-account key is not JSON: expected the key file downloaded from Google Cloud IAM")
	}
	if f.Type != "service_account" {
		return unauthorized(fmt.Sprintf("the service-account key has type %q, expected \"service_account\"", f.Type))
	}
	if f.ClientEmail == "" || f.PrivateKey == "" {
		return unauthorized("the service-account key lacks client_email or private_key: download a new JSON key")
	}
	if !parsesAsPrivateKey(f.PrivateKey) {
		return unauthorized("the service-account key's private_key is not a PEM RSA key: download a new JSON key")
	}
	return nil
}

func parsesAsPrivateKey(s string) bool {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return false
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		return true
	}
	_, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	return err == nil
}
