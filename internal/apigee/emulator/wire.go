package emulator

import (
	"time"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// wire renders resources and errors in one dialect's JSON, and knows the
// dialect's success statuses. x.go and edge.go implement it.
type wire interface {
	dialect() Dialect
	key(c apigee.Credential) any
	app(a appSnapshot, withCredentials bool) any
	developer(d developerSnapshot, org string) any
	organization(name string, created time.Time) any
	errorBody(e *apiError, status int) any
	createdStatus() int
	createdKey(c apigee.Credential) any // the answer of a key import
	keyActionResponse(c apigee.Credential) (int, any)
	productActionResponse() (int, any)
}

// productRef is apiProducts[] in responses, the same in both dialects.
type productRef struct {
	APIProduct string `json:"apiproduct"`
	Status     string `json:"status"`
}

type attribute struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func productRefs(ps []apigee.ProductStatus) []productRef {
	out := make([]productRef, 0, len(ps))
	for _, p := range ps {
		out = append(out, productRef{APIProduct: p.Name, Status: p.Status})
	}
	return out
}

func attributes(as []apigee.Attribute) []attribute {
	out := make([]attribute, 0, len(as))
	for _, a := range as {
		out = append(out, attribute{Name: a.Name, Value: a.Value})
	}
	return out
}

// nonNil turns a nil slice into an empty one so it renders as [].
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func millis(t time.Time) int64 { return t.UnixMilli() }

// expiresMillis is expiresAt on the wire: -1 for a key that never expires.
func expiresMillis(t time.Time) int64 {
	if t.IsZero() {
		return -1
	}
	return t.UnixMilli()
}
