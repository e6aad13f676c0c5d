package ha

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"
)

// TestValuesFound: the leak check finds a value however a log line shows
// it (as is, base64 in a JSON Secret, a hex dump of a protobuf body at any
// offset) and nothing in text without one.
func TestValuesFound(t *testing.T) {
	keys := batch(3, []string{"app"}, "")
	x := valuesOf(keys)
	k := keys[1]
	for name, text := range map[string]string{
		"as is":  `{"msg":"x","value":"` + k.secret + `"}`,
		"base64": `{"data":{"consumerKey":"` + base64.StdEncoding.EncodeToString([]byte(k.key)) + `"}}`,
	} {
		if got := x.find(text); !slices.Equal(got, []string{k.fingerprint()}) {
			t.Errorf("%s: found %v, want %s", name, got, k.fingerprint())
		}
	}
	for offset := range 16 {
		body := make([]byte, offset)
		body = append(body, k.key...)
		if got := x.find(hex.Dump(body)); !slices.Equal(got, []string{k.fingerprint()}) {
			t.Errorf("hex dump, value at offset %d: found %v, want %s", offset, got, k.fingerprint())
		}
	}
	clean := fmt.Sprintf(`{"msg":"Imported","keyFingerprint":%q,"prefix":%q}`, k.fingerprint(), k.key[:15])
	if got := x.find(clean); len(got) != 0 {
		t.Errorf("found %v in a line with only a fingerprint and 15 characters of a key", got)
	}
}
