package v1alpha1

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestEffectiveEndpoint(t *testing.T) {
	cases := []struct {
		reason string
		spec   ApigeeConnectionSpec
		want   string
	}{
		{"unset platform means X", ApigeeConnectionSpec{}, DefaultEndpointX},
		{"hybrid shares the X endpoint", ApigeeConnectionSpec{Platform: PlatformHybrid}, DefaultEndpointX},
		{"edge SaaS", ApigeeConnectionSpec{Platform: PlatformEdge}, DefaultEndpointEdge},
		{"explicit endpoint wins", ApigeeConnectionSpec{Platform: PlatformEdge, Endpoint: "http://ms:8080"}, "http://ms:8080"},
	}
	for _, c := range cases {
		if got := c.spec.EffectiveEndpoint(); got != c.want {
			t.Errorf("%s: got %q, want %q", c.reason, got, c.want)
		}
	}
}

func TestKeySpecDefaults(t *testing.T) {
	var spec DeveloperAppKeySpec
	if got := spec.Credentials.KeyField(); got != "consumerKey" {
		t.Errorf("KeyField default: got %q", got)
	}
	if got := spec.Credentials.SecretField(); got != "consumerSecret" {
		t.Errorf("SecretField default: got %q", got)
	}
	spec.Credentials.ConsumerKeyField, spec.Credentials.ConsumerSecretField = "id", "secret"
	if spec.Credentials.KeyField() != "id" || spec.Credentials.SecretField() != "secret" {
		t.Errorf("explicit fields not used: %q %q", spec.Credentials.KeyField(), spec.Credentials.SecretField())
	}
	if got := spec.Rotation.EffectiveGracePeriod(); got != 24*time.Hour {
		t.Errorf("grace period default: got %s", got)
	}
	spec.Rotation.GracePeriod = metav1.Duration{Duration: time.Minute}
	if got := spec.Rotation.EffectiveGracePeriod(); got != time.Minute {
		t.Errorf("explicit grace period: got %s", got)
	}
	if got := spec.ConnectionRef.ConnectionKind(); got != "ApigeeConnection" {
		t.Errorf("connection kind default: got %q", got)
	}
	if spec.WantedKeyStatus() != Approved || (&APIProductRef{}).WantedProductStatus() != Approved {
		t.Errorf("approval defaults must be Approved")
	}
	if (&APIProductRef{Status: Revoked}).WantedProductStatus() != Revoked {
		t.Errorf("explicit product status ignored")
	}
}

func TestPaused(t *testing.T) {
	for ann, want := range map[string]bool{"true": true, "false": false, "": false, "TRUE": false} {
		if got := Paused(map[string]string{PausedAnnotation: ann}); got != want {
			t.Errorf("Paused(%q) = %v, want %v", ann, got, want)
		}
	}
}
