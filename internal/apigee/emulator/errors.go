package emulator

import (
	"fmt"
	"net/http"
	"strings"
)

// apiError is a failure the emulator answers with, independent of dialect.
// x.go and edge.go render it in their own body formats. Messages never
// contain a consumer key or secret.
type apiError struct {
	status     int    // HTTP status in both dialects unless edgeStatus is set
	edgeStatus int    // Edge's status when it differs from X's (0: same)
	code       string // Edge "code"; also the X violation type for 409
	message    string
	subject    string // X PreconditionFailure subject (409 and 404)
	retryAfter int    // seconds for a Retry-After header, 0: none
	orgUnknown bool   // the organization is not the emulator's (X: 403)
	detailed   bool   // X: PreconditionFailure and RequestInfo details, as on 404s
}

func (e *apiError) statusFor(d Dialect) int {
	if d == X && e.orgUnknown {
		return http.StatusForbidden
	}
	if d == Edge && e.edgeStatus != 0 {
		return e.edgeStatus
	}
	return e.status
}

// The cases of the error table in docs/apigee-api.md. Edge codes not given
// there are plausible guesses (docs/emulator.md lists them).

// errOrgNotFound: Edge answers 404. X answers an organization the caller
// cannot see, existing or not, with Google's 403 (see xWire.errorBody).
func errOrgNotFound(org string) *apiError {
	return &apiError{status: http.StatusNotFound, code: "organizations.OrganizationDoesNotExist",
		message: fmt.Sprintf("Organization %s does not exist", org), subject: "organizations/" + org, orgUnknown: true}
}

func errDeveloperNotFound(dev, org string) *apiError {
	return &apiError{status: http.StatusNotFound, code: "developer.service.DeveloperIdDoesNotExist",
		message: fmt.Sprintf("DeveloperId %s does not exist in organization %s", dev, org),
		subject: fmt.Sprintf("organizations/%s/developers/%s", org, dev)}
}

func errAppNotFound(app, dev string) *apiError {
	return &apiError{status: http.StatusNotFound, code: "developer.service.AppDoesNotExist",
		message: fmt.Sprintf("App named %s does not exist under %s", app, dev),
		subject: fmt.Sprintf("developers/%s/apps/%s", dev, app)}
}

// errKeyNotInApp: the subject would be the key's name, which holds the
// key; the emulator leaves it out (never echo a key).
func errKeyNotInApp() *apiError {
	return &apiError{status: http.StatusNotFound, code: "keymanagement.service.InvalidClientIdForGivenApp",
		message: "Invalid consumer key for Given App"}
}

// errInvalidScopes lists the scopes the key's products define, as real X
// does ("Invalid scopes. Scopes must be contained in [modules:read,
// courses:read]", discuss.google.dev topic 131289); X adds details.
func errInvalidScopes(defined []string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "keymanagement.service.InvalidScopes", detailed: true,
		message: fmt.Sprintf("Invalid scopes. Scopes must be contained in [%s]", strings.Join(defined, ", "))}
}

// errCredentialLimit: an app holds at most max credentials (Edge: 100).
// Status, code and wording are not on record: a 400 that names the limit.
func errCredentialLimit(max int) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "keymanagement.service.CredentialLimitExceeded",
		message: fmt.Sprintf("The app already has the maximum number of credentials (%d)", max)}
}

// errEdgeProductsRequired: Edge's reference marks apiProducts required on
// POST K; key attributes have their own route (POST K/attributes).
func errEdgeProductsRequired() *apiError {
	return errInvalid("keymanagement.service.InvalidRequest",
		"apiProducts is required: set key attributes with POST .../keys/{key}/attributes")
}

// errDuplicateKey: the subject names the app, not the key, so the key never
// ends up in an error body (the real subject is not documented).
func errDuplicateKey(subject string) *apiError {
	return &apiError{status: http.StatusConflict, code: "keymanagement.service.ConsumerKeyAlreadyExists",
		message: "ConsumerKey already exists", subject: subject}
}

func errProductNotFound(product string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "keymanagement.service.apiproduct_doesnot_exist",
		message: fmt.Sprintf("API Product [%s] does not exist", product)}
}

// errProductMissing: a product path names no product (404).
func errProductMissing(product string) *apiError {
	return &apiError{status: http.StatusNotFound, code: "keymanagement.service.apiproduct_doesnot_exist",
		message: fmt.Sprintf("API Product [%s] does not exist", product), subject: "apiproducts/" + product}
}

// errAppIDNotFound: /apps/{id} names no app.
func errAppIDNotFound(id string) *apiError {
	return &apiError{status: http.StatusNotFound, code: "developer.service.AppIdDoesNotExist",
		message: fmt.Sprintf("App with id %s does not exist", id), subject: "apps/" + id}
}

// errProductNotOnKey: X answers 400, Edge 500 with the same message.
func errProductNotOnKey() *apiError {
	return &apiError{status: http.StatusBadRequest, edgeStatus: http.StatusInternalServerError,
		code:    "keymanagement.service.ApiProductNotAssociatedWithConsumerKey",
		message: "APIProduct is not associated with consumer key"}
}

func errInvalid(code, message string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, message: message}
}

func errAlreadyExists(code, message string) *apiError {
	return &apiError{status: http.StatusConflict, code: code, message: message}
}

func errUnauthorized() *apiError {
	return &apiError{status: http.StatusUnauthorized, code: "security.Unauthorized",
		message: "Request had invalid authentication credentials"}
}

func errQuota(retryAfter int) *apiError {
	return &apiError{status: http.StatusTooManyRequests, code: "quota.QuotaExceeded",
		message: "Quota exceeded for management API requests per minute", retryAfter: retryAfter}
}

// routeCode marks a request the emulator does not serve.
const routeCode = "emulator.UnknownRequest"

func errRoute(status int) *apiError {
	return &apiError{status: status, code: routeCode, message: http.StatusText(status)}
}

// errFault is what an injected fault answers with.
func errFault(status, retryAfter int) *apiError {
	return &apiError{status: status, code: "emulator.InjectedFault", message: http.StatusText(status), retryAfter: retryAfter}
}

// googleStatus maps an HTTP status to the canonical google.rpc code name.
func googleStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "ABORTED"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusNotImplemented, http.StatusMethodNotAllowed:
		return "UNIMPLEMENTED"
	case http.StatusServiceUnavailable, http.StatusBadGateway:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	case http.StatusInternalServerError:
		return "INTERNAL"
	}
	return "UNKNOWN"
}
