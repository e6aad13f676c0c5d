package apigee

import "fmt"

// MaxKeyBytes is the documented limit for a consumer key or secret.
const MaxKeyBytes = 2048

// ValidateKeyRef checks a KeyRef before it is put into a URL path: the
// consumer key must be a valid key value and developer and app non-empty.
func ValidateKeyRef(op string, ref KeyRef) error {
	if ref.Developer == "" || ref.App == "" {
		return invalid(op, "developer and app are required")
	}
	return validateValue(op, "consumer key", ref.ConsumerKey)
}

// ValidateImport checks the values of a key to import. Apigee's enforcement
// is unconfirmed, so the rules (letters, digits, '_' and '-'; at most 2 KB)
// are checked here. Messages never contain the values.
func ValidateImport(op string, req ImportRequest) error {
	if err := validateValue(op, "consumer key", req.ConsumerKey); err != nil {
		return err
	}
	return validateValue(op, "consumer secret", req.ConsumerSecret)
}

func validateValue(op, what, v string) error {
	switch {
	case v == "":
		return invalid(op, what+" is empty")
	case len(v) > MaxKeyBytes:
		return invalid(op, fmt.Sprintf("%s is %d bytes, more than the %d allowed", what, len(v), MaxKeyBytes))
	}
	for i := 0; i < len(v); i++ {
		if !ValidKeyByte(v[i]) {
			return invalid(op, fmt.Sprintf("%s contains a character other than letters, digits, '_' and '-' at byte %d", what, i))
		}
	}
	return nil
}

// ValidKeyByte reports whether b may appear in a consumer key or secret.
func ValidKeyByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-'
}

func invalid(op, msg string) *Error {
	return &Error{Class: ClassInvalid, Operation: op, Message: msg}
}
