package emulator

import (
	"net/http"
	"time"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// edgeWire is the Apigee Edge format: plain JSON numbers, empty lists
// present as [], its own error body, 201 on create and 204 on status calls.
type edgeWire struct{}

type edgeKey struct {
	APIProducts    []productRef `json:"apiProducts"`
	Attributes     []attribute  `json:"attributes"`
	ConsumerKey    string       `json:"consumerKey"`
	ConsumerSecret string       `json:"consumerSecret"`
	ExpiresAt      *int64       `json:"expiresAt,omitempty"` // nil: absent, as in the create answer
	IssuedAt       int64        `json:"issuedAt"`
	Scopes         []string     `json:"scopes"`
	Status         string       `json:"status"`
}

// edgeAttributes is the body and answer of POST K/attributes.
type edgeAttributes struct {
	Attribute []attribute `json:"attribute"`
}

type edgeApp struct {
	APIProducts    []string    `json:"apiProducts"`
	AppFamily      string      `json:"appFamily"`
	AppID          string      `json:"appId"`
	Attributes     []attribute `json:"attributes"`
	CallbackURL    string      `json:"callbackUrl"`
	CreatedAt      int64       `json:"createdAt"`
	Credentials    []edgeKey   `json:"credentials"`
	DeveloperID    string      `json:"developerId"`
	LastModifiedAt int64       `json:"lastModifiedAt"`
	Name           string      `json:"name"`
	Scopes         []string    `json:"scopes"`
	Status         string      `json:"status"`
}

type edgeDeveloper struct {
	Apps             []string    `json:"apps"`
	Attributes       []attribute `json:"attributes"`
	Companies        []string    `json:"companies"`
	CreatedAt        int64       `json:"createdAt"`
	DeveloperID      string      `json:"developerId"`
	Email            string      `json:"email"`
	FirstName        string      `json:"firstName"`
	LastModifiedAt   int64       `json:"lastModifiedAt"`
	LastName         string      `json:"lastName"`
	OrganizationName string      `json:"organizationName"`
	Status           string      `json:"status"`
	UserName         string      `json:"userName"`
}

type edgeOrganization struct {
	Name           string         `json:"name"`
	DisplayName    string         `json:"displayName"`
	Type           string         `json:"type"`
	Environments   []string       `json:"environments"`
	Properties     edgeProperties `json:"properties"`
	CreatedAt      int64          `json:"createdAt"`
	LastModifiedAt int64          `json:"lastModifiedAt"`
}

// edgeProperties is the organization's properties.property[] list, as in
// a real org's answer (apigee-client-php
// tests/offline-test-data/v1/organizations/phpunit/GET.json); apigee-edge-js
// reads it (Organization.getProperties) and fails without it.
type edgeProperties struct {
	Property []attribute `json:"property"`
}

type edgeError struct {
	Code     string   `json:"code"`
	Message  string   `json:"message"`
	Contexts []string `json:"contexts"`
}

func (edgeWire) dialect() Dialect { return Edge }

func (edgeWire) key(c apigee.Credential) any {
	expires := expiresMillis(c.ExpiresAt)
	return edgeKey{
		APIProducts:    productRefs(c.Products),
		Attributes:     attributes(c.Attributes),
		ConsumerKey:    c.ConsumerKey,
		ConsumerSecret: c.ConsumerSecret,
		ExpiresAt:      &expires,
		IssuedAt:       millis(c.IssuedAt),
		Scopes:         nonNil(c.Scopes),
		Status:         c.Status,
	}
}

func (w edgeWire) app(a appSnapshot, withCredentials bool) any {
	out := edgeApp{APIProducts: nonNil(a.Products), AppFamily: "default", AppID: a.AppID, Attributes: attributes(a.Attributes),
		CallbackURL: a.CallbackURL, CreatedAt: millis(a.CreatedAt), Credentials: []edgeKey{}, DeveloperID: a.DeveloperID,
		LastModifiedAt: millis(a.LastModifiedAt), Name: a.Name, Scopes: []string{}, Status: a.Status}
	if withCredentials {
		for _, c := range a.Credentials {
			out.Credentials = append(out.Credentials, w.key(c).(edgeKey))
		}
	}
	return out
}

func (edgeWire) developer(d developerSnapshot, org string) any {
	return edgeDeveloper{Apps: nonNil(d.Apps), Attributes: attributes(d.Attributes), Companies: []string{},
		CreatedAt: millis(d.CreatedAt), DeveloperID: d.ID, Email: d.Email, FirstName: d.FirstName,
		LastModifiedAt: millis(d.LastModifiedAt), LastName: d.LastName, OrganizationName: org,
		Status: d.Status, UserName: d.UserName}
}

func (edgeWire) organization(name string, created time.Time) any {
	return edgeOrganization{Name: name, DisplayName: name, Type: "paid", Environments: []string{"prod", "test"},
		Properties: edgeProperties{Property: []attribute{
			{Name: "features.isSmbOrganization", Value: "false"},
			{Name: "features.isCpsEnabled", Value: "true"},
			{Name: "features.isHTTPStatusTooManyRequestEnabled", Value: "true"},
		}},
		CreatedAt: millis(created), LastModifiedAt: millis(created)}
}

func (edgeWire) errorBody(e *apiError, _ int) any {
	return edgeError{Code: e.code, Message: e.message, Contexts: []string{}}
}

func (edgeWire) createdStatus() int { return http.StatusCreated }

// createdKey: Edge's keys/create answer has no expiresAt (the sample in
// apigee/apigee-client-php tests/offline-test-data/.../keys/create/POST.json);
// Edge cannot expire an imported key anyway.
func (w edgeWire) createdKey(c apigee.Credential) any {
	k := w.key(c).(edgeKey)
	k.ExpiresAt = nil
	return k
}

func (edgeWire) keyActionResponse(apigee.Credential) (int, any) { return http.StatusNoContent, nil }

func (edgeWire) productActionResponse() (int, any) { return http.StatusNoContent, nil }
