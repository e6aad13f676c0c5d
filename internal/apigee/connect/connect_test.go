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
		Start    apigee.Rate
		Class    apigee.Class
	}
	cases := map[string]struct {
		reason string
		cfg    Config
		want   want
	}{
		"X":          {reason: "X defaults below its 6,000/min quota.", cfg: Config{Platform: PlatformX, Organization: "o"}, want: want{"https://apigee.googleapis.com", apigee.Rate{PerMinute: 4800, Burst: 20}, ""}},
		"Hybrid":     {reason: "Hybrid shares X's API.", cfg: Config{Platform: PlatformHybrid, Organization: "o"}, want: want{"https://apigee.googleapis.com", apigee.Rate{PerMinute: 4800, Burst: 20}, ""}},
		"Edge":       {reason: "Edge defaults below its 10,000/min quota.", cfg: Config{Platform: PlatformEdge, Organization: "o"}, want: want{"https://api.enterprise.apigee.com", apigee.Rate{PerMinute: 8000, Burst: 20}, ""}},
		"Private":    {reason: "Explicit values win.", cfg: Config{Platform: PlatformEdge, Organization: "o", Endpoint: "http://ms:8080", DefaultRate: apigee.Rate{PerMinute: 100}}, want: want{"http://ms:8080", apigee.Rate{PerMinute: 100, Burst: 20}, ""}},
		"NoPlatform": {reason: "The platform is required.", cfg: Config{Organization: "o"}, want: want{Class: apigee.ClassInvalid}},
		"NoOrg":      {reason: "The organization is required.", cfg: Config{Platform: PlatformX}, want: want{Class: apigee.ClassInvalid}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			endpoint, start, err := defaults(tc.cfg)
			if err != nil {
				start = apigee.Rate{}
			}
			if diff := cmp.Diff(tc.want, want{endpoint, start, apigee.ClassOf(err)}); diff != "" {
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
	l := reg.Organization("http://ms:8080", "o", apigee.Rate{})
	if l.Limit() != rate.Limit(10) || l.Burst() != 3 {
		t.Errorf("an explicit budget must be on the organization's limiter, got %v/%d", l.Limit(), l.Burst())
	}
	own := cfg
	own.RequestsPerMinute, own.Burst, own.ConnectionRate, own.ConnectionID = 0, 0, apigee.Rate{PerMinute: 60000, Burst: 1000}, "tenant"
	if _, err := New(context.Background(), own); err != nil {
		t.Fatal(err)
	}
	if l.Limit() != rate.Limit(10) || l.Burst() != 3 {
		t.Errorf("a connection's own rate must not change the organization's budget, got %v/%d", l.Limit(), l.Burst())
	}
	if c := reg.Connection("tenant", apigee.Rate{PerMinute: 60000, Burst: 1000}); c.Limit() != 1000 {
		t.Errorf("the connection's own limiter must carry its rate, got %v", c.Limit())
	}
	_, err := New(context.Background(), Config{Platform: PlatformX, Organization: "o", Auth: auth.Config{Method: auth.MethodBearerToken}})
	if apigee.ClassOf(err) != apigee.ClassUnauthorized {
		t.Errorf("missing credentials must be Unauthorized, got %v", err)
	}
}
