package emulator

import (
	"fmt"
	"os"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// Seed is the YAML file cmd/apigee-emulator starts from; see
// config/emulator/seed.yaml.
type Seed struct {
	Organization string          `json:"organization"`
	Auth         SeedAuth        `json:"auth,omitempty"`
	Quota        SeedQuota       `json:"quota,omitempty"`
	Products     []SeedProduct   `json:"products,omitempty"`
	Developers   []SeedDeveloper `json:"developers,omitempty"`
	// ReadLag is Options.ReadLag ("2s"); MaxCredentialsPerApp likewise.
	ReadLag              string `json:"readLag,omitempty"`
	MaxCredentialsPerApp int    `json:"maxCredentialsPerApp,omitempty"`
}

// SeedAuth: the credentials the emulator accepts; none means no auth check.
type SeedAuth struct {
	BearerToken string     `json:"bearerToken,omitempty"`
	Basic       *SeedBasic `json:"basic,omitempty"`
}

type SeedBasic struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

type SeedQuota struct {
	RequestsPerMinute int `json:"requestsPerMinute,omitempty"`
}

type SeedProduct struct {
	Name         string   `json:"name"`
	ApprovalType string   `json:"approvalType,omitempty"` // auto (default) or manual
	Scopes       []string `json:"scopes,omitempty"`       // the scopes keys with it may carry
}

type SeedDeveloper struct {
	Email string   `json:"email"`
	Apps  []string `json:"apps,omitempty"`
}

// SeededApp is an app the seed created, with its generated key. Print the
// key's fingerprint, never its value.
type SeededApp struct {
	Developer, App string
	Key            apigee.Credential
}

// LoadSeed reads and validates a seed file.
func LoadSeed(path string) (*Seed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ParseSeed(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ParseSeed decodes a seed strictly: unknown fields are errors, so a typo
// does not silently disable auth.
func ParseSeed(data []byte) (*Seed, error) {
	var s Seed
	if err := yaml.UnmarshalStrict(data, &s); err != nil {
		return nil, err
	}
	if s.Organization == "" {
		return nil, fmt.Errorf("organization is required")
	}
	for _, p := range s.Products {
		if p.Name == "" {
			return nil, fmt.Errorf("product without a name")
		}
		if p.ApprovalType != "" && p.ApprovalType != "auto" && p.ApprovalType != "manual" {
			return nil, fmt.Errorf("product %s: approvalType must be auto or manual", p.Name)
		}
	}
	for _, d := range s.Developers {
		if d.Email == "" {
			return nil, fmt.Errorf("developer without an email")
		}
	}
	if b := s.Auth.Basic; b != nil && b.User == "" {
		return nil, fmt.Errorf("auth.basic.user is required")
	}
	if _, err := s.readLag(); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *Seed) readLag() (time.Duration, error) {
	if s.ReadLag == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s.ReadLag)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("readLag %q: want a duration such as 2s", s.ReadLag)
	}
	return d, nil
}

// Options returns emulator options with the seed's org, auth and quota.
func (s *Seed) Options() Options {
	o := Options{Organization: s.Organization, BearerToken: s.Auth.BearerToken, RequestsPerMinute: s.Quota.RequestsPerMinute,
		MaxCredentialsPerApp: s.MaxCredentialsPerApp}
	o.ReadLag, _ = s.readLag() // checked by ParseSeed
	if b := s.Auth.Basic; b != nil {
		o.BasicUser, o.BasicPassword = b.User, b.Password
	}
	return o
}

// Apply creates the seed's products, developers and apps.
func (e *Emulator) Apply(s *Seed) ([]SeededApp, error) {
	for _, p := range s.Products {
		e.AddProduct(p.Name, p.ApprovalType, WithScopes(p.Scopes...))
	}
	var out []SeededApp
	for _, d := range s.Developers {
		e.AddDeveloper(d.Email)
		for _, name := range d.Apps {
			key, err := e.AddApp(d.Email, name)
			if err != nil {
				return nil, fmt.Errorf("developer %s app %s: %w", d.Email, name, err)
			}
			out = append(out, SeededApp{Developer: d.Email, App: name, Key: key})
		}
	}
	return out, nil
}
