package emulator

import (
	"crypto/rand"
	"fmt"
)

const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomKey is the default KeyGenerator: 32 letters and digits from
// crypto/rand, valid as a consumer key or secret.
func randomKey() string {
	return randomString(32)
}

func randomString(n int) string {
	out := make([]byte, n)
	buf := make([]byte, 1)
	for i := 0; i < n; {
		if _, err := rand.Read(buf); err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		// Rejection sampling keeps the distribution uniform: 248 = 4*62.
		if buf[0] < 248 {
			out[i] = keyAlphabet[int(buf[0])%len(keyAlphabet)]
			i++
		}
	}
	return string(out)
}

// newUUID returns a random version 4 UUID, the shape of Apigee developer and
// app ids.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newRequestID is the requestId of an X error's RequestInfo: digits, as
// in real answers ("requestId": "4204281115099135940").
func newRequestID() string {
	b := []byte(randomString(19))
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}
