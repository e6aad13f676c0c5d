package apigee

import "strings"

// NormalDeveloper is the developer as the X client sends it in paths: an
// email in lower case (Apigee X stores emails in lower case and may not
// find a mixed-case one), a developer id unchanged. The Edge client sends
// the email as written: Edge keeps capitals.
func NormalDeveloper(d string) string {
	if strings.Contains(d, "@") {
		return strings.ToLower(d)
	}
	return d
}
