package emulator

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// keyRequest is the body of key create, POST K and PUT K in both dialects.
type keyRequest struct {
	ConsumerKey      string       `json:"consumerKey"`
	ConsumerSecret   string       `json:"consumerSecret"`
	ExpiresInSeconds flexInt      `json:"expiresInSeconds"`
	APIProducts      productNames `json:"apiProducts"`
	Attributes       *[]attribute `json:"attributes"` // nil: absent (kept)
	Scopes           *[]string    `json:"scopes"`     // nil: absent
}

type developerRequest struct {
	Email      string      `json:"email"`
	FirstName  string      `json:"firstName"`
	LastName   string      `json:"lastName"`
	UserName   string      `json:"userName"`
	Attributes []attribute `json:"attributes"`
}

// productRequest is also the product's body in answers: every field a
// client sends comes back as sent (apigee-client-php
// tests/offline-test-data/v1/organizations/phpunit/apiproducts/POST.json).
type productRequest struct {
	Name          string      `json:"name"`
	DisplayName   string      `json:"displayName"`
	Description   string      `json:"description,omitempty"`
	ApprovalType  string      `json:"approvalType"`
	APIResources  []string    `json:"apiResources,omitempty"`
	Environments  []string    `json:"environments,omitempty"`
	Proxies       []string    `json:"proxies,omitempty"`
	Scopes        []string    `json:"scopes,omitempty"`
	Attributes    []attribute `json:"attributes,omitempty"`
	Quota         string      `json:"quota,omitempty"`
	QuotaInterval string      `json:"quotaInterval,omitempty"`
	QuotaTimeUnit string      `json:"quotaTimeUnit,omitempty"`
}

// appRequest is the body of app create, key generation (POST app) and
// app update (PUT app).
type appRequest struct {
	Name         string       `json:"name"`
	APIProducts  productNames `json:"apiProducts"`
	Attributes   *[]attribute `json:"attributes"` // nil: absent
	CallbackURL  *string      `json:"callbackUrl"`
	KeyExpiresIn flexInt      `json:"keyExpiresIn"` // milliseconds
}

// toAttributes converts wire attributes; nil stays nil.
func toAttributes(as []attribute) []apigee.Attribute {
	if as == nil {
		return nil
	}
	out := make([]apigee.Attribute, 0, len(as))
	for _, a := range as {
		out = append(out, apigee.Attribute{Name: a.Name, Value: a.Value})
	}
	return out
}

// decode reads a JSON body; an empty body is an empty object.
func decode(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		// The decoder's message can quote the body (a key): never echo it.
		return errInvalid("messaging.adaptors.http.flow.ApplicationJsonParseError", "Invalid JSON payload received")
	}
	return nil
}

func decodeKeyUpdate(body []byte) (keyUpdate, *apiError) {
	var req keyRequest
	if err := decode(body, &req); err != nil {
		return keyUpdate{}, err
	}
	u := keyUpdate{products: req.APIProducts, scopes: req.Scopes}
	if req.Attributes != nil {
		as := toAttributes(*req.Attributes)
		u.attributes = &as
	}
	return u, nil
}

// flexInt accepts an int64 as a JSON number (Edge) or string (X).
type flexInt struct {
	v   int64
	set bool
}

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return err
	}
	f.v, f.set = v, true
	return nil
}

// productNames accepts product names as strings (what clients send) or as
// {"apiproduct": name} objects (what responses contain).
type productNames []string

func (p *productNames) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for _, r := range raw {
		var name string
		if err := json.Unmarshal(r, &name); err != nil {
			var ref productRef
			if err := json.Unmarshal(r, &ref); err != nil {
				return err
			}
			name = ref.APIProduct
		}
		*p = append(*p, name)
	}
	return nil
}
