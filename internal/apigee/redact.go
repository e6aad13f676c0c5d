package apigee

import "strings"

// Redactor removes a request's consumer key and secret from text that came
// from a server or from net/http before it goes into an error or a log.
type Redactor struct {
	ConsumerKey    string
	ConsumerSecret string
}

// Redact replaces the secret with "[redacted]" and the key with its
// fingerprint. The longer value goes first so neither survives inside the other.
func (r Redactor) Redact(s string) string {
	pairs := [][2]string{
		{r.ConsumerSecret, "[redacted]"},
		{r.ConsumerKey, Fingerprint(r.ConsumerKey)},
	}
	if len(r.ConsumerKey) > len(r.ConsumerSecret) {
		pairs[0], pairs[1] = pairs[1], pairs[0]
	}
	for _, p := range pairs {
		if p[0] != "" {
			s = strings.ReplaceAll(s, p[0], p[1])
		}
	}
	return s
}
