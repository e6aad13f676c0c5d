package x

import (
	"time"

	apigeev1 "google.golang.org/api/apigee/v1"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// The generated client already turns X's int64-as-string fields into
// int64; these functions map the wire types to the domain types.

func appFromX(a *apigeev1.GoogleCloudApigeeV1DeveloperApp) *apigee.App {
	out := &apigee.App{Name: a.Name, AppID: a.AppId, DeveloperID: a.DeveloperId, Status: a.Status, CreatedAt: millis(a.CreatedAt)}
	for _, c := range a.Credentials {
		if c != nil {
			out.Credentials = append(out.Credentials, credentialFromX(c))
		}
	}
	return out
}

func credentialFromX(c *apigeev1.GoogleCloudApigeeV1Credential) apigee.Credential {
	out := apigee.Credential{
		ConsumerKey: c.ConsumerKey, ConsumerSecret: c.ConsumerSecret, Status: c.Status,
		Attributes: attributes(c.Attributes), Scopes: c.Scopes,
		IssuedAt: millis(c.IssuedAt), ExpiresAt: millis(c.ExpiresAt),
	}
	for _, p := range c.ApiProducts {
		if p != nil {
			out.Products = append(out.Products, apigee.ProductStatus{Name: p.Apiproduct, Status: p.Status})
		}
	}
	return out
}

// credentialFromKey converts a key call's answer, whose apiProducts is
// untyped: [{"apiproduct","status"}] in responses, plain names in requests.
func credentialFromKey(k *apigeev1.GoogleCloudApigeeV1DeveloperAppKey) *apigee.Credential {
	out := &apigee.Credential{
		ConsumerKey: k.ConsumerKey, ConsumerSecret: k.ConsumerSecret, Status: k.Status,
		Attributes: attributes(k.Attributes), Scopes: k.Scopes,
		IssuedAt: millis(k.IssuedAt), ExpiresAt: millis(k.ExpiresAt),
	}
	for _, p := range k.ApiProducts {
		if ps, ok := productStatus(p); ok {
			out.Products = append(out.Products, ps)
		}
	}
	return out
}

func productStatus(v any) (apigee.ProductStatus, bool) {
	switch p := v.(type) {
	case string:
		return apigee.ProductStatus{Name: p}, true
	case map[string]any:
		name, _ := p["apiproduct"].(string)
		status, _ := p["status"].(string)
		return apigee.ProductStatus{Name: name, Status: status}, name != ""
	}
	return apigee.ProductStatus{}, false
}

func attributes(in []*apigeev1.GoogleCloudApigeeV1Attribute) []apigee.Attribute {
	var out []apigee.Attribute
	for _, a := range in {
		if a != nil {
			out = append(out, apigee.Attribute{Name: a.Name, Value: a.Value})
		}
	}
	return out
}

// millis converts epoch milliseconds; 0 and -1 ("never") are the zero time.
func millis(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
