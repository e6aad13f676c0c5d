package auth

import (
	"errors"
	"fmt"
	"net/url"

	"golang.org/x/oauth2"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

const opAuth = "Authenticate"

func unauthorized(msg string) *apigee.Error {
	return &apigee.Error{Class: apigee.ClassUnauthorized, Operation: opAuth, Message: msg}
}

func invalid(msg string) *apigee.Error {
	return &apigee.Error{Class: apigee.ClassInvalid, Operation: opAuth, Message: msg}
}

// tokenError classifies a failed token fetch. A refusal (4xx) is
// Unauthorized; anything else may pass and is Unavailable. Only the status
// and the OAuth error code are kept: bodies and URLs (which can carry an
// MFA code) are dropped.
func tokenError(err error) error {
	var ae *apigee.Error
	if errors.As(err, &ae) {
		return ae
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		status := re.Response.StatusCode
		msg := fmt.Sprintf("the token endpoint refused the credentials (HTTP %d %s): check the connection's Secret", status, re.ErrorCode)
		if status >= 400 && status < 500 && status != 429 {
			return &apigee.Error{Class: apigee.ClassUnauthorized, Operation: opAuth, StatusCode: status, Message: msg}
		}
		return &apigee.Error{Class: apigee.ClassUnavailable, Operation: opAuth, StatusCode: status,
			Message: fmt.Sprintf("the token endpoint failed (HTTP %d)", status)}
	}
	var ue *url.Error
	for errors.As(err, &ue) && ue.Err != nil {
		err = ue.Err
	}
	return &apigee.Error{Class: apigee.ClassUnavailable, Operation: opAuth, Message: "cannot get an access token: " + err.Error()}
}
