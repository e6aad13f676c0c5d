package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Defaults that depend on more than one field, so the CRD cannot set them.
const (
	DefaultEndpointX    = "https://apigee.googleapis.com"
	DefaultEndpointEdge = "https://api.enterprise.apigee.com"

	DefaultConsumerKeyField    = "consumerKey"
	DefaultConsumerSecretField = "consumerSecret"
	DefaultServiceAccountKey   = "key.json"
	DefaultBearerTokenKey      = "token"
	DefaultGracePeriod         = 24 * time.Hour
)

// EffectivePlatform is the platform, X when unset.
func (s *ApigeeConnectionSpec) EffectivePlatform() Platform {
	if s.Platform == "" {
		return PlatformX
	}
	return s.Platform
}

// EffectiveEndpoint is the endpoint, or the platform's public one.
func (s *ApigeeConnectionSpec) EffectiveEndpoint() string {
	switch {
	case s.Endpoint != "":
		return s.Endpoint
	case s.EffectivePlatform() == PlatformEdge:
		return DefaultEndpointEdge
	default:
		return DefaultEndpointX
	}
}

// KeyField is the Secret data key of the consumer key.
func (c *CredentialsSource) KeyField() string {
	return orDefault(c.ConsumerKeyField, DefaultConsumerKeyField)
}

// SecretField is the Secret data key of the consumer secret.
func (c *CredentialsSource) SecretField() string {
	return orDefault(c.ConsumerSecretField, DefaultConsumerSecretField)
}

// KeyOr is the Secret data key holding the value, or def when unset
// (DefaultServiceAccountKey, DefaultBearerTokenKey).
func (s *SecretKeyAuth) KeyOr(def string) string {
	return orDefault(s.Key, def)
}

// UsernameField is the Secret data key of the username.
func (b *BasicAuth) UsernameField() string {
	return orDefault(b.UsernameKey, "username")
}

// PasswordField is the Secret data key of the password.
func (b *BasicAuth) PasswordField() string {
	return orDefault(b.PasswordKey, "password")
}

// EffectiveGracePeriod is how long a rotated-out key keeps working.
func (r *RotationPolicy) EffectiveGracePeriod() time.Duration {
	if r.GracePeriod.Duration == 0 {
		return DefaultGracePeriod
	}
	return r.GracePeriod.Duration
}

// ConnectionKind is the referenced kind, ApigeeConnection when unset.
func (r *ConnectionReference) ConnectionKind() string {
	return orDefault(r.Kind, "ApigeeConnection")
}

// WantedProductStatus is a product's wanted approval, Approved when unset.
func (p *APIProductRef) WantedProductStatus() ApprovalStatus {
	if p.Status == "" {
		return Approved
	}
	return p.Status
}

// WantedKeyStatus is the key's wanted approval, Approved when unset.
func (s *DeveloperAppKeySpec) WantedKeyStatus() ApprovalStatus {
	if s.Status == "" {
		return Approved
	}
	return s.Status
}

// Paused reports whether the paused annotation stops reconciling.
func Paused(annotations map[string]string) bool {
	return annotations[PausedAnnotation] == "true"
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// ConnectionConditions returns the status conditions of either connection
// kind, and nil for any other object.
func ConnectionConditions(o any) []metav1.Condition {
	switch c := o.(type) {
	case *ApigeeConnection:
		return c.Status.Conditions
	case *ClusterApigeeConnection:
		return c.Status.Conditions
	}
	return nil
}

// EffectiveDeletionPolicy is what happens to a key of this origin when it
// leaves management: the policy set, or Delete for a key the operator
// created and Orphan for any other (adopted, or of unknown origin).
func (s *DeveloperAppKeySpec) EffectiveDeletionPolicy(origin KeyOrigin) DeletionPolicy {
	switch {
	case s.DeletionPolicy != "":
		return s.DeletionPolicy
	case origin == KeyOriginCreated:
		return DeletionPolicyDelete
	}
	return DeletionPolicyOrphan
}
