package localrun

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/auth"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/connect"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// The organizations a local run serves, for README's "Bring existing keys
// under management": acme-prod (X, from config/emulator/seed.yaml) also
// holds keys made by hand for onboarding in place; acme-legacy (Edge) holds
// keys to migrate to acme-prod.
const (
	onboardDeveloper = "mobile@example.com"
	onboardApp       = "mobile-app"

	LegacyOrganization = "acme-legacy"
	// LegacyUser and LegacyPassword are acme-legacy's Basic auth and Edge
	// OAuth credentials: a local emulator's, like local-dev-token.
	LegacyUser     = "admin@example.com"
	LegacyPassword = "local-dev-password"
	legacyToken    = "local-dev-token"
)

// org is one emulated organization being served.
type org struct {
	emu    *emulator.Emulator
	url    string
	seeded []emulator.SeededApp
	stop   func()
}

// shiftClock is time.Now moved by a shift the seeding sets: apps made "an
// hour ago", keys added by hand now, so no hand-made key looks like the
// key Apigee generated with its app.
type shiftClock struct{ shift atomic.Int64 }

func (c *shiftClock) Now() time.Time          { return time.Now().Add(time.Duration(c.shift.Load())) }
func (c *shiftClock) set(shift time.Duration) { c.shift.Store(int64(shift)) }

// requestLog writes one line per Apigee request to both organizations:
// method, path (keys as fingerprints), status and operation.
type requestLog struct {
	mu sync.Mutex
	w  io.WriteCloser
}

func openRequestLog(dir string) (*requestLog, error) {
	f, err := os.Create(filepath.Join(dir, "apigee-requests.log"))
	return &requestLog{w: f}, err
}

func (l *requestLog) hook(organization string) func(emulator.Call) {
	return func(c emulator.Call) {
		l.mu.Lock()
		defer l.mu.Unlock()
		fmt.Fprintf(l.w, "%s %s %s %s -> %d (%s)\n", time.Now().UTC().Format(time.RFC3339), organization, c.Method, c.Path, c.Status, c.Operation)
	}
}

// startX serves config/emulator/seed.yaml's organization in the X dialect
// and adds the hand-made keys to onboard.
func startX(ctx context.Context, o Options, log *requestLog) (*org, error) {
	seed, err := emulator.LoadSeed(filepath.Join(o.RepoRoot, "config", "emulator", "seed.yaml"))
	if err != nil {
		return nil, err
	}
	clock := &shiftClock{}
	clock.set(-time.Hour)
	opts := seed.Options()
	opts.Clock, opts.OnCall = clock.Now, log.hook(seed.Organization)
	emu := emulator.New(opts)
	seeded, err := emu.Apply(seed)
	if err != nil {
		return nil, err
	}
	emu.AddDeveloper(onboardDeveloper)
	if _, err := emu.AddApp(onboardDeveloper, onboardApp); err != nil {
		return nil, err
	}
	x, err := serve(emu, emulator.X, o.XAddr, nil)
	if err != nil {
		return nil, err
	}
	x.seeded = seeded
	clock.set(0)
	err = addKeys(ctx, x, connect.PlatformX, auth.Config{Method: auth.MethodBearerToken, BearerToken: opts.BearerToken}, []handMadeKey{
		{onboardDeveloper, onboardApp, []string{"orders-read"}, nil, []apigee.Attribute{{Name: "channel", Value: "ios"}}, false},
		{onboardDeveloper, onboardApp, []string{"orders-read", "orders-admin"}, []string{"orders-admin"}, []apigee.Attribute{{Name: "channel", Value: "android"}}, false},
	})
	if err != nil {
		x.stop()
		return nil, err
	}
	return x, nil
}

// startLegacy serves acme-legacy in the Edge dialect, with Basic auth and
// Edge's OAuth token endpoint at /oauth/token.
func startLegacy(ctx context.Context, o Options, log *requestLog) (*org, error) {
	clock := &shiftClock{}
	clock.set(-time.Hour)
	emu := emulator.New(emulator.Options{Organization: LegacyOrganization, BasicUser: LegacyUser, BasicPassword: LegacyPassword,
		BearerToken: legacyToken, Clock: clock.Now, OnCall: log.hook(LegacyOrganization)})
	emu.AddProduct("orders-read", "auto", emulator.WithScopes("read"))
	emu.AddProduct("orders-admin", "manual", emulator.WithScopes("write"))
	emu.AddProduct("invoices", "auto")
	for _, a := range [][2]string{{"partner@example.com", "orders-app"}, {"billing@example.com", "invoices-app"}} {
		emu.AddDeveloper(a[0])
		if _, err := emu.AddApp(a[0], a[1]); err != nil {
			return nil, err
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/oauth/token", emu.TokenHandler())
	legacy, err := serve(emu, emulator.Edge, o.EdgeAddr, mux)
	if err != nil {
		return nil, err
	}
	clock.set(0)
	err = addKeys(ctx, legacy, connect.PlatformEdge, auth.Config{Method: auth.MethodBasic, Username: LegacyUser, Password: LegacyPassword}, []handMadeKey{
		{"partner@example.com", "orders-app", []string{"orders-read", "orders-admin"}, []string{"orders-admin"}, []apigee.Attribute{{Name: "tier", Value: "gold"}}, false},
		{"partner@example.com", "orders-app", []string{"orders-read"}, nil, []apigee.Attribute{{Name: "tier", Value: "trial"}}, true},
		{"billing@example.com", "invoices-app", []string{"invoices"}, nil, nil, false},
	})
	if err != nil {
		legacy.stop()
		return nil, err
	}
	return legacy, nil
}

// serve listens on addr and serves the dialect, with extra routes first.
func serve(emu *emulator.Emulator, d emulator.Dialect, addr string, mux *http.ServeMux) (*org, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w (is another local run still going?)", err)
	}
	var h http.Handler = emu.Handler(d)
	if mux != nil {
		mux.Handle("/", h)
		h = mux
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return &org{emu: emu, url: "http://" + l.Addr().String(), stop: func() { _ = srv.Close() }}, nil
}

// handMadeKey is a key someone imported or created after the app.
type handMadeKey struct {
	developer, app string
	products       []string
	approve        []string // manual products to approve
	attributes     []apigee.Attribute
	revoked        bool
}

// addKeys imports the keys through the API, with random values.
func addKeys(ctx context.Context, o *org, p connect.Platform, a auth.Config, keys []handMadeKey) error {
	c, err := connect.New(ctx, connect.Config{Platform: p, Organization: o.emu.Organization(), Endpoint: o.url, Auth: a,
		Limiters: apigee.NewLimiterRegistry()})
	if err != nil {
		return err
	}
	for _, k := range keys {
		key := rand.Text()
		if _, err := c.ImportKey(ctx, k.developer, k.app, apigee.ImportRequest{ConsumerKey: key, ConsumerSecret: rand.Text()}); err != nil {
			return fmt.Errorf("seeding %s: %w", o.emu.Organization(), err)
		}
		ref := apigee.KeyRef{Developer: k.developer, App: k.app, ConsumerKey: key}
		if _, err := c.AddProducts(ctx, ref, k.products, k.attributes); err != nil {
			return fmt.Errorf("seeding %s: %w", o.emu.Organization(), err)
		}
		for _, p := range k.approve {
			if err := c.SetProductStatus(ctx, ref, p, apigee.ActionApprove); err != nil {
				return fmt.Errorf("seeding %s: %w", o.emu.Organization(), err)
			}
		}
		if k.revoked {
			if err := c.SetKeyStatus(ctx, ref, apigee.ActionRevoke); err != nil {
				return fmt.Errorf("seeding %s: %w", o.emu.Organization(), err)
			}
		}
	}
	return nil
}
