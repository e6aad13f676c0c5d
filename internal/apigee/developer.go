package apigee

import "strings"

// NormalDeveloper is the developer as the clients send it in paths: an
// email in lower case (Apigee X stores emails in lower case and may not
// find a mixed-case one; Edge matches either), a developer id unchanged.
func NormalDeveloper(d string) string {
	if strings.Contains(d, "@") {
		return strings.ToLower(d)
	}
	return d
}
