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
	"github.com/apigee-key-operator/apigee-key-operator/internal/controller"
)

// connFlags name an organization: a connection object in the cluster, or
// the platform, organization, endpoint and a credentials file.
type connFlags struct {
	connection, clusterConnection       string
	platform, organization, endpoint    string
	tokenFile, basicAuthFile, saKeyFile string
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
	c, l, err := connect.NewWithLister(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &org{name: "organization " + f.organization, organization: f.organization, client: c, lister: l, calls: calls}, nil
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
	var organization string
	factory := func(ctx context.Context, cfg connect.Config) (apigee.Client, error) {
		cfg.Transport, cfg.Metrics = calls, nil
		organization = cfg.Organization
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
	return &org{name: ref.Kind + " " + ref.Name, organization: organization, client: c, lister: lister, calls: calls}, nil
}

// flagConfig builds a connection from flags and credential files.
func flagConfig(f connFlags) (connect.Config, error) {
	cfg := connect.Config{Platform: connect.Platform(f.platform), Organization: f.organization, Endpoint: f.endpoint,
		RequestsPerMinute: f.requestsPerMinute}
	if cfg.Platform == "" {
		return cfg, errors.New("--platform is required with --organization: X, Hybrid or Edge")
	}
	a, err := fileAuth(f)
	cfg.Auth = a
	return cfg, err
}

// fileAuth reads the one credentials file given; none means Application
// Default Credentials (X, Hybrid).
func fileAuth(f connFlags) (auth.Config, error) {
	switch {
	case f.tokenFile != "":
		b, err := readCredentialFile("--token-file", f.tokenFile)
		return auth.Config{Method: auth.MethodBearerToken, BearerToken: strings.TrimSpace(string(b))}, err
	case f.basicAuthFile != "":
		b, err := readCredentialFile("--basic-auth-file", f.basicAuthFile)
		user, pass, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
		if err == nil && !ok {
			err = errors.New("--basic-auth-file must hold user:password on one line")
		}
		return auth.Config{Method: auth.MethodBasic, Username: user, Password: pass}, err
	case f.saKeyFile != "":
		b, err := readCredentialFile("--service-account-key-file", f.saKeyFile)
		return auth.Config{Method: auth.MethodServiceAccountKey, ServiceAccountKey: b}, err
	case f.platform == string(connect.PlatformEdge):
		return auth.Config{}, errors.New("Edge needs --basic-auth-file or --token-file")
	}
	return auth.Config{Method: auth.MethodApplicationDefault}, nil
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
