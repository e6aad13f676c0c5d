package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/pflag"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/auth"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/connect"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/edge"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/x"
	"github.com/apigee-key-operator/apigee-key-operator/internal/controller"
)

// connFlags name an organization: a connection object in the cluster, or
// the platform, organization, endpoint and a credentials file.
type connFlags struct {
	connection, clusterConnection       string
	platform, organization, endpoint    string
	tokenFile, basicAuthFile, saKeyFile string
	edgeOAuthFile, tokenURL, mfaToken   string
	requestsPerMinute                   int
}

func (f *connFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.connection, "connection", "", "ApigeeConnection (in --namespace) that reaches the organization")
	fs.StringVar(&f.clusterConnection, "cluster-connection", "", "ClusterApigeeConnection that reaches the organization")
	fs.StringVar(&f.platform, "platform", "", "X, Hybrid or Edge (without a connection)")
	fs.StringVar(&f.organization, "organization", "", "Apigee organization (without a connection)")
	fs.StringVar(&f.endpoint, "endpoint", "", "management endpoint; default per platform")
	fs.StringVar(&f.tokenFile, "token-file", "", "file holding a bearer token")
	fs.StringVar(&f.basicAuthFile, "basic-auth-file", "", "file holding user:password (Edge)")
	fs.StringVar(&f.saKeyFile, "service-account-key-file", "", "Google service-account JSON key (X, Hybrid)")
	fs.StringVar(&f.edgeOAuthFile, "edge-oauth-file", "", "file holding user:password for Edge OAuth (on SAML organizations, a machine user)")
	fs.StringVar(&f.tokenURL, "token-url", "", "Edge OAuth token endpoint; default "+auth.DefaultEdgeTokenURL+" (SAML: https://ZONE.login.apigee.com/oauth/token)")
	fs.StringVar(&f.mfaToken, "mfa-token", "", "one-time MFA code for the Edge OAuth grant")
	fs.IntVar(&f.requestsPerMinute, "requests-per-minute", 0, "client-side budget; default the platform's quota less a margin")
}

func (f *connFlags) set() bool {
	return f.connection != "" || f.clusterConnection != "" || f.organization != ""
}

// org is an organization reached through the operator's own clients: its
// auth, the per-organization limiter and retries. calls counts requests.
type org struct {
	name         string // for messages: the connection or organization
	organization string // the Apigee organization's name
	client       apigee.Client
	lister       apigee.Lister
	calls        *callCounter
	// where and credentials say what to check when a call fails.
	where, credentials string
}

// explain adds to a failed Apigee call what the user should check. The
// error itself never holds a secret (the clients redact).
func (o *org) explain(what string, err error) error {
	var hint string
	switch apigee.ClassOf(err) {
	case apigee.ClassUnauthorized:
		hint = "the credentials were refused: check " + o.credentials
	case apigee.ClassForbidden:
		hint = fmt.Sprintf("check that organization %q exists at %s and that the credentials may list its developers, apps and API products", o.organization, o.where)
	case apigee.ClassNotFound:
		hint = fmt.Sprintf("check that organization %q exists at %s", o.organization, o.where)
	case apigee.ClassUnavailable:
		hint = "check that " + o.where + " is the management endpoint and can be reached"
	}
	if hint == "" {
		return fmt.Errorf("%s %s: %w", what, o.name, err)
	}
	return fmt.Errorf("%s %s: %w\nHint: %s", what, o.name, err, hint)
}

// open builds the clients for the flags.
func (e *Env) open(ctx context.Context, f connFlags, namespace string) (*org, error) {
	calls := &callCounter{base: e.Transport, byOp: map[string]int{}}
	if f.connection != "" || f.clusterConnection != "" {
		return e.openConnection(ctx, f, namespace, calls)
	}
	if f.organization == "" {
		return nil, errors.New("name the organization: --connection, --cluster-connection, or --platform and --organization")
	}
	cfg, err := flagConfig(f)
	if err != nil {
		return nil, err
	}
	cfg.Transport = calls
	o := &org{name: "organization " + f.organization, organization: f.organization, calls: calls,
		where: endpointOf(cfg), credentials: credentialFlag(f)}
	o.client, o.lister, err = connect.NewWithLister(ctx, cfg)
	if err != nil {
		return nil, o.explain("connecting to", err)
	}
	return o, nil
}

func endpointOf(cfg connect.Config) string {
	switch {
	case cfg.Endpoint != "":
		return cfg.Endpoint
	case cfg.Platform == connect.PlatformEdge:
		return edge.DefaultEndpoint
	}
	return x.DefaultEndpoint
}

// credentialFlag names where the flags' credentials came from.
func credentialFlag(f connFlags) string {
	switch {
	case f.tokenFile != "":
		return "the token in --token-file " + f.tokenFile
	case f.basicAuthFile != "":
		return "the user and password in --basic-auth-file " + f.basicAuthFile
	case f.edgeOAuthFile != "":
		return "the user and password in --edge-oauth-file " + f.edgeOAuthFile + " (and --token-url, --mfa-token)"
	case f.saKeyFile != "":
		return "the key in --service-account-key-file " + f.saKeyFile
	}
	return "your Application Default Credentials (gcloud auth application-default login)"
}

// openConnection resolves a connection object exactly as the operator
// does (namespace rules, Secret, rate limits), then builds our clients.
func (e *Env) openConnection(ctx context.Context, f connFlags, namespace string, calls *callCounter) (*org, error) {
	kc, err := e.kube()
	if err != nil {
		return nil, err
	}
	ref := apigeev1alpha1.ConnectionReference{Kind: "ApigeeConnection", Name: f.connection}
	if f.clusterConnection != "" {
		ref = apigeev1alpha1.ConnectionReference{Kind: "ClusterApigeeConnection", Name: f.clusterConnection}
	}
	var lister apigee.Lister
	var organization, where string
	factory := func(ctx context.Context, cfg connect.Config) (apigee.Client, error) {
		cfg.Transport, cfg.Metrics = calls, nil
		organization, where = cfg.Organization, endpointOf(cfg)
		c, l, err := connect.NewWithLister(ctx, cfg)
		lister = l
		return c, err
	}
	// The user's own ambient identity is theirs to use, whatever the
	// operator allows namespaces.
	conns := controller.NewConnections(kc.client, kc.client, factory, nil, controller.Tenancy{NamespacedAmbientCredentials: true})
	conn, err := conns.Get(ctx, ref, namespace)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", ref.Kind, ref.Name, err)
	}
	c, err := conns.ClientFor(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", ref.Kind, ref.Name, err)
	}
	return &org{name: ref.Kind + " " + ref.Name, organization: organization, client: c, lister: lister, calls: calls,
		where: where, credentials: "the Secret that " + ref.Kind + " " + ref.Name + " names"}, nil
}

// flagConfig builds a connection from flags and credential files.
func flagConfig(f connFlags) (connect.Config, error) {
	cfg := connect.Config{Platform: platform(f.platform), Organization: f.organization, Endpoint: f.endpoint,
		RequestsPerMinute: f.requestsPerMinute}
	switch cfg.Platform {
	case connect.PlatformX, connect.PlatformHybrid, connect.PlatformEdge:
	case "":
		return cfg, errors.New("--platform is required with --organization: X, Hybrid or Edge")
	default:
		return cfg, fmt.Errorf("--platform must be X, Hybrid or Edge, not %q", f.platform)
	}
	a, err := fileAuth(f, cfg.Platform)
	cfg.Auth = a
	return cfg, err
}

// platform accepts X, Hybrid and Edge in any case.
func platform(s string) connect.Platform {
	for _, p := range []connect.Platform{connect.PlatformX, connect.PlatformHybrid, connect.PlatformEdge} {
		if strings.EqualFold(s, string(p)) {
			return p
		}
	}
	return connect.Platform(s)
}

// fileAuth reads the one credentials file given; none means Application
// Default Credentials (X, Hybrid).
func fileAuth(f connFlags, p connect.Platform) (auth.Config, error) {
	given := 0
	for _, file := range []string{f.tokenFile, f.basicAuthFile, f.saKeyFile, f.edgeOAuthFile} {
		if file != "" {
			given++
		}
	}
	if given > 1 {
		return auth.Config{}, errors.New("give one of --token-file, --basic-auth-file, --service-account-key-file, --edge-oauth-file")
	}
	if (f.tokenURL != "" || f.mfaToken != "") && f.edgeOAuthFile == "" {
		return auth.Config{}, errors.New("--token-url and --mfa-token go with --edge-oauth-file")
	}
	switch {
	case f.edgeOAuthFile != "":
		user, pass, err := userPassword("--edge-oauth-file", f.edgeOAuthFile)
		return auth.Config{Method: auth.MethodEdgeOAuth, Username: user, Password: pass, TokenURL: f.tokenURL, MFAToken: f.mfaToken}, err
	case f.tokenFile != "":
		b, err := readCredentialFile("--token-file", f.tokenFile)
		return auth.Config{Method: auth.MethodBearerToken, BearerToken: strings.TrimSpace(string(b))}, err
	case f.basicAuthFile != "":
		user, pass, err := userPassword("--basic-auth-file", f.basicAuthFile)
		return auth.Config{Method: auth.MethodBasic, Username: user, Password: pass}, err
	case f.saKeyFile != "":
		b, err := readCredentialFile("--service-account-key-file", f.saKeyFile)
		return auth.Config{Method: auth.MethodServiceAccountKey, ServiceAccountKey: b}, err
	case p == connect.PlatformEdge:
		return auth.Config{}, errors.New("Edge needs --basic-auth-file, --edge-oauth-file or --token-file")
	}
	return auth.Config{Method: auth.MethodApplicationDefault}, nil
}

// userPassword reads "user:password" from a file; the password may hold
// colons.
func userPassword(flag, path string) (string, string, error) {
	b, err := readCredentialFile(flag, path)
	if err != nil {
		return "", "", err
	}
	user, pass, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	if !ok || user == "" || pass == "" {
		return "", "", fmt.Errorf("%s must hold user:password on one line", flag)
	}
	return user, pass, nil
}

// readCredentialFile reads a file without ever quoting its content.
func readCredentialFile(flag, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read %s: %w", flag, path, unwrapPathError(err))
	}
	return b, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// callCounter counts the requests made to Apigee by operation, so every
// command can say what it cost.
type callCounter struct {
	base http.RoundTripper
	mu   sync.Mutex
	byOp map[string]int
}

func (c *callCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.byOp[apigee.OperationFrom(r.Context())]++
	c.mu.Unlock()
	base := c.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// Total is the number of requests made.
func (c *callCounter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.byOp {
		n += v
	}
	return n
}

// String is "12 calls (ListApps 10, ListDevelopers 2)".
func (c *callCounter) String() string {
	c.mu.Lock()
	parts := make([]string, 0, len(c.byOp))
	for op, n := range c.byOp {
		parts = append(parts, fmt.Sprintf("%s %d", op, n))
	}
	c.mu.Unlock()
	sort.Strings(parts)
	return fmt.Sprintf("%d calls (%s)", c.Total(), strings.Join(parts, ", "))
}
