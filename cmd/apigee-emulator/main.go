// Command apigee-emulator runs the in-memory Apigee emulator, serving the
// Apigee X/hybrid and Apigee Edge dialects from one shared organization, for
// local runs and demos. It prints key fingerprints, never key values.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "apigee-emulator:", err)
		os.Exit(1)
	}
}

// run serves both dialects until ctx is done, then shuts down gracefully.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("apigee-emulator", flag.ContinueOnError)
	fs.SetOutput(stdout)
	seedPath := fs.String("seed", "", "seed YAML file (organization, auth, quota, products, developers)")
	org := fs.String("organization", "acme-prod", "organization to serve when no --seed is given")
	xAddr := fs.String("x-addr", "127.0.0.1:8081", "listen address of the Apigee X/hybrid dialect")
	edgeAddr := fs.String("edge-addr", "127.0.0.1:8082", "listen address of the Apigee Edge dialect")
	logRequests := fs.Bool("log-requests", false, "print one line per request (keys shown as fingerprints)")
	if err := fs.Parse(args); err != nil {
		return err
	}

	seed := &emulator.Seed{Organization: *org}
	if *seedPath != "" {
		var err error
		if seed, err = emulator.LoadSeed(*seedPath); err != nil {
			return err
		}
	}
	opts := seed.Options()
	if *logRequests {
		opts.OnCall = func(c emulator.Call) {
			fmt.Fprintf(stdout, "%s %s %s -> %d (%s)\n", c.At.Format(time.RFC3339), c.Method, c.Path, c.Status, c.Operation)
		}
	}
	emu := emulator.New(opts)
	seeded, err := emu.Apply(seed)
	if err != nil {
		return err
	}

	servers, err := listen(emu, map[emulator.Dialect]string{emulator.X: *xAddr, emulator.Edge: *edgeAddr}, stdout)
	if err != nil {
		return err
	}
	for _, s := range seeded {
		fmt.Fprintf(stdout, "generated key %s for app %s of %s\n", apigee.Fingerprint(s.Key.ConsumerKey), s.App, s.Developer)
	}
	return serve(ctx, servers)
}

// listen opens both listeners before serving so that address errors are
// reported at once, and prints each dialect's base URL.
func listen(emu *emulator.Emulator, addrs map[emulator.Dialect]string, stdout io.Writer) (map[*http.Server]net.Listener, error) {
	out := map[*http.Server]net.Listener{}
	for _, d := range []emulator.Dialect{emulator.X, emulator.Edge} {
		l, err := net.Listen("tcp", addrs[d])
		if err != nil {
			for _, open := range out {
				_ = open.Close()
			}
			return nil, fmt.Errorf("%s dialect: %w", d, err)
		}
		srv := &http.Server{Handler: emu.Handler(d), ReadHeaderTimeout: 10 * time.Second}
		out[srv] = l
		fmt.Fprintf(stdout, "Apigee %s dialect: http://%s/v1/organizations/%s\n", d, l.Addr(), emu.Organization())
	}
	return out, nil
}

// serve runs the servers until ctx ends or one fails, then shuts all down.
func serve(ctx context.Context, servers map[*http.Server]net.Listener) error {
	errs := make(chan error, len(servers))
	for srv, l := range servers {
		go func() { errs <- srv.Serve(l) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for srv := range servers {
		if e := srv.Shutdown(shutdownCtx); e != nil && err == nil {
			err = e
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
