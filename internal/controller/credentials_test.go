package controller

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

func TestCredentialsFrom(t *testing.T) {
	long := strings.Repeat("k", apigee.MaxKeyBytes+1)
	cases := []struct {
		reason  string
		data    map[string]string
		wantErr string // substring of the message; "" for valid
	}{
		{"letters, digits, _ and - are valid", map[string]string{"consumerKey": "Ab_9-z", "consumerSecret": "s_1-X"}, ""},
		{"exactly 2 KB is valid", map[string]string{"consumerKey": long[1:], "consumerSecret": "s"}, ""},
		{"a missing key field", map[string]string{"consumerSecret": "s"}, `field "consumerKey" (the consumer key) is missing`},
		{"a missing secret field", map[string]string{"consumerKey": "k"}, `field "consumerSecret" (the consumer secret) is missing`},
		{"an empty value", map[string]string{"consumerKey": "", "consumerSecret": "s"}, "is empty"},
		{"a value over 2 KB", map[string]string{"consumerKey": long, "consumerSecret": "s"}, "is 2049 bytes; Apigee allows at most 2048"},
		{"a space is rejected", map[string]string{"consumerKey": "has space", "consumerSecret": "s"}, "has characters Apigee rejects"},
		{"a trailing newline is rejected", map[string]string{"consumerKey": "k", "consumerSecret": "s\n"}, "has characters Apigee rejects"},
	}
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"}, Data: map[string][]byte{}}
			for k, v := range c.data {
				s.Data[k] = []byte(v)
			}
			got, err := credentialsFrom(s, &apigeev1alpha1.CredentialsSource{})
			if c.wantErr == "" {
				if err != nil || got.key != c.data["consumerKey"] || got.secret != c.data["consumerSecret"] {
					t.Fatalf("got %v, want the values", err)
				}
				return
			}
			var ce *conditionError
			if !errors.As(err, &ce) || ce.reason != apigeev1alpha1.ReasonInvalidCredentials || ce.retry {
				t.Fatalf("want a terminal InvalidCredentials error, got %v", err)
			}
			if !strings.Contains(ce.message, c.wantErr) {
				t.Errorf("message %q does not contain %q", ce.message, c.wantErr)
			}
			for _, v := range c.data {
				if len(v) > 3 && strings.Contains(ce.message, v) {
					t.Errorf("message leaks a value: %q", ce.message)
				}
			}
		})
	}
}

func TestRandomCredentialIsValid(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		v := randomCredential(64)
		if len(v) != 64 {
			t.Fatalf("length %d", len(v))
		}
		for i := 0; i < len(v); i++ {
			if !apigee.ValidKeyByte(v[i]) || v[i] == '_' || v[i] == '-' {
				t.Fatalf("invalid character %q", v[i])
			}
		}
		if seen[v] {
			t.Fatalf("repeated value")
		}
		seen[v] = true
	}
}
