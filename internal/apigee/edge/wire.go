package edge

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// Edge's JSON. Integers are numbers on Edge, but int64 also accepts the
// X-style string so either dialect's answer decodes.

type wireImport struct {
	ConsumerKey      string `json:"consumerKey"`
	ConsumerSecret   string `json:"consumerSecret"`
	ExpiresInSeconds int64  `json:"expiresInSeconds,omitempty"`
}

type wireUpdate struct {
	APIProducts []string        `json:"apiProducts,omitempty"`
	Attributes  []wireAttribute `json:"attributes"` // always sent: it replaces
}

// wireAttributesBody is the body and answer of POST K/attributes.
type wireAttributesBody struct {
	Attribute []wireAttribute `json:"attribute"`
}

type wireScopes struct {
	Scopes []string `json:"scopes"`
}

type wireAttribute struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type wireProduct struct {
	APIProduct string `json:"apiproduct"`
	Status     string `json:"status"`
}

type wireKey struct {
	ConsumerKey    string          `json:"consumerKey"`
	ConsumerSecret string          `json:"consumerSecret"`
	Status         string          `json:"status"`
	APIProducts    []wireProduct   `json:"apiProducts"`
	Attributes     []wireAttribute `json:"attributes"`
	Scopes         []string        `json:"scopes"`
	IssuedAt       int64s          `json:"issuedAt"`
	ExpiresAt      int64s          `json:"expiresAt"`
}

type wireApp struct {
	Name        string    `json:"name"`
	AppID       string    `json:"appId"`
	DeveloperID string    `json:"developerId"`
	Status      string    `json:"status"`
	CreatedAt   int64s    `json:"createdAt"`
	Credentials []wireKey `json:"credentials"`
}

// int64s decodes a JSON number or a string holding one.
type int64s int64

func (n *int64s) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, `"`)
	if len(b) == 0 || string(b) == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	*n = int64s(v)
	return err
}

func (k wireKey) domain() *apigee.Credential {
	out := &apigee.Credential{
		ConsumerKey: k.ConsumerKey, ConsumerSecret: k.ConsumerSecret, Status: k.Status,
		Scopes: k.Scopes, IssuedAt: millis(k.IssuedAt), ExpiresAt: millis(k.ExpiresAt),
	}
	for _, p := range k.APIProducts {
		out.Products = append(out.Products, apigee.ProductStatus{Name: p.APIProduct, Status: p.Status})
	}
	for _, a := range k.Attributes {
		out.Attributes = append(out.Attributes, apigee.Attribute{Name: a.Name, Value: a.Value})
	}
	if len(out.Scopes) == 0 {
		out.Scopes = nil // Edge sends [] where X omits: one shape for callers
	}
	return out
}

func (a wireApp) domain() *apigee.App {
	out := &apigee.App{Name: a.Name, AppID: a.AppID, DeveloperID: a.DeveloperID, Status: a.Status, CreatedAt: millis(a.CreatedAt)}
	for _, k := range a.Credentials {
		out.Credentials = append(out.Credentials, *k.domain())
	}
	return out
}

func wireAttributes(in []apigee.Attribute) []wireAttribute {
	out := []wireAttribute{}
	for _, a := range in {
		out = append(out, wireAttribute(a))
	}
	return out
}

// millis converts epoch milliseconds; 0 and -1 ("never") are the zero time.
func millis(ms int64s) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(ms)).UTC()
}

var _ json.Unmarshaler = (*int64s)(nil)
