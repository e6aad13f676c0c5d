package emulator

import (
	"fmt"
	"net/http"
	"time"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// xWire is the Apigee X / hybrid format: int64 fields are JSON strings
// (the Go client fails on bare numbers) and empty lists are omitted.
type xWire struct {
	keyActionNoContent bool
}

type xKey struct {
	APIProducts    []productRef `json:"apiProducts,omitempty"`
	Attributes     []attribute  `json:"attributes,omitempty"`
	ConsumerKey    string       `json:"consumerKey,omitempty"`
	ConsumerSecret string       `json:"consumerSecret,omitempty"`
	ExpiresAt      int64        `json:"expiresAt,string"`
	IssuedAt       int64        `json:"issuedAt,string"`
	Scopes         []string     `json:"scopes,omitempty"`
	Status         string       `json:"status,omitempty"`
}

type xApp struct {
	APIProducts    []string    `json:"apiProducts,omitempty"`
	AppID          string      `json:"appId"`
	Attributes     []attribute `json:"attributes,omitempty"`
	CallbackURL    string      `json:"callbackUrl,omitempty"`
	CreatedAt      int64       `json:"createdAt,string"`
	Credentials    []xKey      `json:"credentials,omitempty"`
	DeveloperID    string      `json:"developerId"`
	LastModifiedAt int64       `json:"lastModifiedAt,string"`
	Name           string      `json:"name"`
	Status         string      `json:"status"`
}

type xDeveloper struct {
	Apps             []string    `json:"apps,omitempty"`
	Attributes       []attribute `json:"attributes,omitempty"`
	CreatedAt        int64       `json:"createdAt,string"`
	DeveloperID      string      `json:"developerId"`
	Email            string      `json:"email"`
	FirstName        string      `json:"firstName,omitempty"`
	LastModifiedAt   int64       `json:"lastModifiedAt,string"`
	LastName         string      `json:"lastName,omitempty"`
	OrganizationName string      `json:"organizationName"`
	Status           string      `json:"status"`
	UserName         string      `json:"userName,omitempty"`
}

type xOrganization struct {
	Name           string `json:"name"`
	DisplayName    string `json:"displayName"`
	ProjectID      string `json:"projectId"`
	RuntimeType    string `json:"runtimeType"`
	State          string `json:"state"`
	CreatedAt      int64  `json:"createdAt,string"`
	LastModifiedAt int64  `json:"lastModifiedAt,string"`
}

// xError is the Google API error envelope.
type xError struct {
	Error xErrorBody `json:"error"`
}

type xErrorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	Details []any  `json:"details,omitempty"`
}

// xPreconditionFailure carries the Edge-style code as the violation type.
type xPreconditionFailure struct {
	Type       string       `json:"@type"`
	Violations []xViolation `json:"violations"`
}

type xViolation struct {
	Type        string `json:"type"`
	Subject     string `json:"subject"`
	Description string `json:"description,omitempty"`
}

// xRequestInfo identifies the request, as real X errors do.
type xRequestInfo struct {
	Type      string `json:"@type"`
	RequestID string `json:"requestId"`
}

func (xWire) dialect() Dialect { return X }

func (xWire) key(c apigee.Credential) any {
	return xKey{
		APIProducts:    omitEmpty(productRefs(c.Products)),
		Attributes:     omitEmpty(attributes(c.Attributes)),
		ConsumerKey:    c.ConsumerKey,
		ConsumerSecret: c.ConsumerSecret,
		ExpiresAt:      expiresMillis(c.ExpiresAt),
		IssuedAt:       millis(c.IssuedAt),
		Scopes:         omitEmpty(c.Scopes),
		Status:         c.Status,
	}
}

func (w xWire) app(a appSnapshot, withCredentials bool) any {
	out := xApp{APIProducts: omitEmpty(a.Products), AppID: a.AppID, Attributes: omitEmpty(attributes(a.Attributes)),
		CallbackURL: a.CallbackURL, CreatedAt: millis(a.CreatedAt), DeveloperID: a.DeveloperID,
		LastModifiedAt: millis(a.LastModifiedAt), Name: a.Name, Status: a.Status}
	if withCredentials {
		for _, c := range a.Credentials {
			out.Credentials = append(out.Credentials, w.key(c).(xKey))
		}
	}
	return out
}

func (xWire) developer(d developerSnapshot, org string) any {
	return xDeveloper{Apps: d.Apps, Attributes: omitEmpty(attributes(d.Attributes)), CreatedAt: millis(d.CreatedAt),
		DeveloperID: d.ID, Email: d.Email, FirstName: d.FirstName, LastModifiedAt: millis(d.LastModifiedAt),
		LastName: d.LastName, OrganizationName: org, Status: d.Status, UserName: d.UserName}
}

func (xWire) organization(name string, created time.Time) any {
	return xOrganization{Name: name, DisplayName: name, ProjectID: name, RuntimeType: "CLOUD", State: "ACTIVE",
		CreatedAt: millis(created), LastModifiedAt: millis(created)}
}

// errorBody: 409s, 404s and undefined scopes carry a PreconditionFailure
// whose violation type is the Edge-style code; 404s and undefined scopes
// also a RequestInfo (issue 11, gap 5; the scopes sample: discuss.google.dev
// topic 131289).
// An unknown organization is Google's 403, which says nothing about
// whether it exists.
func (xWire) errorBody(e *apiError, status int) any {
	if e.orgUnknown {
		return xError{Error: xErrorBody{Code: status, Status: googleStatus(status),
			Message: fmt.Sprintf("Permission denied on resource %q (or it may not exist).", e.subject)}}
	}
	body := xErrorBody{Code: status, Message: e.message, Status: googleStatus(status)}
	v := xViolation{Type: e.code, Subject: e.subject}
	if status == http.StatusNotFound || e.detailed {
		v.Description = e.message
	}
	notFound := status == http.StatusNotFound && e.code != routeCode
	if status == http.StatusConflict && e.subject != "" || notFound || e.detailed {
		body.Details = append(body.Details, xPreconditionFailure{
			Type: "type.googleapis.com/google.rpc.PreconditionFailure", Violations: []xViolation{v}})
	}
	if status == http.StatusNotFound || e.detailed {
		body.Details = append(body.Details, xRequestInfo{Type: "type.googleapis.com/google.rpc.RequestInfo", RequestID: newRequestID()})
	}
	return xError{Error: body}
}

func (xWire) createdStatus() int { return http.StatusOK }

func (w xWire) createdKey(c apigee.Credential) any { return w.key(c) }

// keyActionResponse: the API reference documents the key as the response of
// UpdateDeveloperAppKey, so X answers 200 with it; Options.XKeyActionNoContent
// switches to 204 for clients that must cope with either.
func (w xWire) keyActionResponse(c apigee.Credential) (int, any) {
	if w.keyActionNoContent {
		return http.StatusNoContent, nil
	}
	return http.StatusOK, w.key(c)
}

func (xWire) productActionResponse() (int, any) { return http.StatusOK, struct{}{} }

// omitEmpty turns an empty slice into nil so omitempty drops it.
func omitEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
