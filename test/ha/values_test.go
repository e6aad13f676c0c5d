package ha

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
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

// values finds the keys' and secrets' values in text: as they are,
// base64-encoded (Secret data in JSON), or any 16 characters of them (a
// hex dump of a protobuf body shows 16 bytes a line; the values are long
// enough that one such line lies wholly inside them, and their random part
// makes every 16 characters their own).
type values struct {
	windows map[string]string // 16 characters of a value → its key's fingerprint
	encoded map[string]string // a value base64-encoded → its key's fingerprint
}

func valuesOf(keys []keySpec) values {
	x := values{windows: map[string]string{}, encoded: map[string]string{}}
	for _, k := range keys {
		for _, v := range []string{k.key, k.secret} {
			for i := 0; i+16 <= len(v); i++ {
				x.windows[v[i:i+16]] = k.fingerprint()
			}
			x.encoded[base64.StdEncoding.EncodeToString([]byte(v))] = k.fingerprint()
			x.encoded[base64.RawURLEncoding.EncodeToString([]byte(v))] = k.fingerprint()
		}
	}
	return x
}

// find returns the fingerprints of the keys whose values appear in text.
func (x values) find(text string) []string {
	found := map[string]bool{}
	for i := 0; i+16 <= len(text); i++ {
		if fp, ok := x.windows[text[i:i+16]]; ok {
			found[fp] = true
		}
	}
	for v, fp := range x.encoded {
		if strings.Contains(text, v) {
			found[fp] = true
		}
	}
	out := slices.Sorted(maps.Keys(found))
	return out
}

// noneLeaked fails if a key or secret value appears in a replica's output.
func noneLeaked(t *testing.T, keys []keySpec, replicas ...*replica) {
	t.Helper()
	x := valuesOf(keys)
	for _, r := range replicas {
		out := r.out.String()
		// A line from each replica's start: its output was captured.
		if !strings.Contains(out, "Starting operator") {
			t.Errorf("replica %s never logged its start: its output was not captured", r.name)
		}
		for _, fp := range x.find(out) {
			t.Errorf("the value of key %s or of its secret appears in the output of replica %s", fp, r.name)
		}
	}
}
