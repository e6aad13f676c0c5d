package apigee

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"
)

// Status values Apigee reports for keys and for products on a key.
const (
	StatusApproved = "approved"
	StatusRevoked  = "revoked"
	StatusPending  = "pending"
)

// Action is an approval action on a key or on one product of a key.
type Action string

const (
	ActionApprove Action = "approve"
	ActionRevoke  Action = "revoke"
)

// Attribute is a name/value pair on a key.
type Attribute struct {
	Name  string
	Value string
}

// ProductStatus is one API product associated with a key.
type ProductStatus struct {
	Name   string
	Status string // approved, pending or revoked
}

// Credential is one key of a developer app. It holds the consumer key and
// secret: never log, print or put it in an error. String and GoString redact.
type Credential struct {
	ConsumerKey    string
	ConsumerSecret string
	Status         string // approved or revoked
	Products       []ProductStatus
	Attributes     []Attribute
	Scopes         []string
	IssuedAt       time.Time
	ExpiresAt      time.Time // zero: never expires
}

// String identifies the credential by fingerprint only.
func (c Credential) String() string {
	return fmt.Sprintf("Credential{key: %s, status: %s}", Fingerprint(c.ConsumerKey), c.Status)
}

// GoString keeps %#v from printing the key and secret.
func (c Credential) GoString() string { return c.String() }

// Clone returns a deep copy, so callers can change it freely.
func (c *Credential) Clone() Credential {
	out := *c
	out.Products = slices.Clone(c.Products)
	out.Attributes = slices.Clone(c.Attributes)
	out.Scopes = slices.Clone(c.Scopes)
	return out
}

// App is a developer app with all of its credentials.
type App struct {
	Name        string
	AppID       string
	DeveloperID string
	// Status is approved or revoked; a revoked app makes every key on it
	// unusable while each key still reports approved.
	Status      string
	Credentials []Credential
	CreatedAt   time.Time
}

// Clone returns a deep copy of the app and its credentials.
func (a *App) Clone() *App {
	out := *a
	out.Credentials = make([]Credential, len(a.Credentials))
	for i := range a.Credentials {
		out.Credentials[i] = a.Credentials[i].Clone()
	}
	return &out
}

// Size approximates the bytes the app holds in memory: its strings and a
// word or so per element. Caches of apps bound their memory with it.
func (a *App) Size() int {
	const overhead = 64 // headers of a struct, string or slice, rounded up
	n := overhead + len(a.Name) + len(a.AppID) + len(a.DeveloperID) + len(a.Status)
	for i := range a.Credentials {
		c := &a.Credentials[i]
		n += 4*overhead + len(c.ConsumerKey) + len(c.ConsumerSecret) + len(c.Status)
		for _, p := range c.Products {
			n += overhead + len(p.Name) + len(p.Status)
		}
		for _, at := range c.Attributes {
			n += overhead + len(at.Name) + len(at.Value)
		}
		for _, sc := range c.Scopes {
			n += overhead + len(sc)
		}
	}
	return n
}

// Credential returns the app's credential with the given consumer key.
func (a *App) Credential(consumerKey string) (*Credential, bool) {
	for i := range a.Credentials {
		if a.Credentials[i].ConsumerKey == consumerKey {
			return &a.Credentials[i], true
		}
	}
	return nil, false
}

// KeyRef names one key: the developer (email or id), the app and the
// consumer key. String redacts the consumer key.
type KeyRef struct {
	Developer   string
	App         string
	ConsumerKey string
}

// String names the key by fingerprint so a KeyRef is safe to log.
func (r KeyRef) String() string {
	return fmt.Sprintf("%s/%s/%s", r.Developer, r.App, Fingerprint(r.ConsumerKey))
}

// GoString keeps %#v from printing the consumer key.
func (r KeyRef) GoString() string { return r.String() }

// ImportRequest is a key to create with the caller's own values.
type ImportRequest struct {
	ConsumerKey    string
	ConsumerSecret string
	// ExpiresInSeconds is the key's lifetime; 0 or -1 means it never expires.
	ExpiresInSeconds int64
}

// String redacts the key and secret.
func (r ImportRequest) String() string {
	return fmt.Sprintf("ImportRequest{key: %s, expiresInSeconds: %d}", Fingerprint(r.ConsumerKey), r.ExpiresInSeconds)
}

// GoString keeps %#v from printing the key and secret.
func (r ImportRequest) GoString() string { return r.String() }

// Fingerprint identifies a consumer key without revealing it: "sha256:" and
// the first 16 hex digits of its SHA-256.
func Fingerprint(consumerKey string) string {
	sum := sha256.Sum256([]byte(consumerKey))
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// WithImportedValues fills in the key and secret an import answer left
// out: the reference does not promise write answers carry the secret, and
// the key just created has the values sent. Without this, an answer with
// no secret would cost the operator a read to learn it is the same key.
func WithImportedValues(c *Credential, req ImportRequest) *Credential {
	if c == nil {
		return nil
	}
	if c.ConsumerKey == "" {
		c.ConsumerKey = req.ConsumerKey
	}
	if c.ConsumerSecret == "" {
		c.ConsumerSecret = req.ConsumerSecret
	}
	return c
}
