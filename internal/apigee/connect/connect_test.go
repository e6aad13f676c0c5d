package connect

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/auth"
)

func TestDefaults(t *testing.T) {
	type want struct {
		Endpoint string
		RPM      int
		Class    apigee.Class
	}
	cases := map[string]struct {
		reason string
		cfg    Config
		want   want
	}{
		"X":          {reason: "X defaults below its 6,000/min quota.", cfg: Config{Platform: PlatformX, Organization: "o"}, want: want{"https://apigee.googleapis.com", 4800, ""}},
		"Hybrid":     {reason: "Hybrid shares X's API.", cfg: Config{Platform: PlatformHybrid, Organization: "o"}, want: want{"https://apigee.googleapis.com", 4800, ""}},
		"Edge":       {reason: "Edge defaults below its 10,000/min quota.", cfg: Config{Platform: PlatformEdge, Organization: "o"}, want: want{"https://api.enterprise.apigee.com", 8000, ""}},
		"Private":    {reason: "Explicit values win.", cfg: Config{Platform: PlatformEdge, Organization: "o", Endpoint: "http://ms:8080", RequestsPerMinute: 100}, want: want{"http://ms:8080", 100, ""}},
		"NoPlatform": {reason: "The platform is required.", cfg: Config{Organization: "o"}, want: want{Class: apigee.ClassInvalid}},
		"NoOrg":      {reason: "The organization is required.", cfg: Config{Platform: PlatformX}, want: want{Class: apigee.ClassInvalid}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			endpoint, rpm, err := defaults(tc.cfg)
			if diff := cmp.Diff(tc.want, want{endpoint, rpm, apigee.ClassOf(err)}); diff != "" {
				t.Errorf("%s: -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestNewSharesTheOrganizationLimiter(t *testing.T) {
	reg := apigee.NewLimiterRegistry()
	cfg := Config{Platform: PlatformEdge, Organization: "o", Endpoint: "http://ms:8080", Limiters: reg, RequestsPerMinute: 600, Burst: 3,
		Auth: auth.Config{Method: auth.MethodBasic, Username: "u", Password: "p"}}
	if _, err := New(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	l := reg.For("http://ms:8080", "o", 600, 3)
	if l.Limit() != rate.Limit(10) || l.Burst() != 3 {
		t.Errorf("the connection's limits must be on the organization's limiter, got %v/%d", l.Limit(), l.Burst())
	}
	_, err := New(context.Background(), Config{Platform: PlatformX, Organization: "o", Auth: auth.Config{Method: auth.MethodBearerToken}})
	if apigee.ClassOf(err) != apigee.ClassUnauthorized {
		t.Errorf("missing credentials must be Unauthorized, got %v", err)
	}
}
