// Command run-local runs the operator with a local control plane and the
// Apigee emulator, applies config/samples and waits for the sample key:
// `make run-local`. Stop it with Ctrl-C.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/apigee-key-operator/apigee-key-operator/internal/localrun"
)

func main() {
	o := localrun.Options{Out: os.Stdout, Stay: true}
	flag.StringVar(&o.RepoRoot, "repo", ".", "Repository root (config/ is read from there).")
	flag.StringVar(&o.XAddr, "emulator-addr", "127.0.0.1:8081", "Address of the Apigee emulator (X dialect).")
	flag.StringVar(&o.EdgeAddr, "edge-emulator-addr", "127.0.0.1:8082", "Address of the Edge organization acme-legacy.")
	flag.StringVar(&o.StateDir, "state-dir", "bin/local", "Where the kubeconfig and the operator log go.")
	flag.DurationVar(&o.Wait, "wait", 3*time.Minute, "How long to wait for the sample key to be Ready.")
	flag.Parse()
	if err := os.MkdirAll(o.StateDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := localrun.Run(ctrl.SetupSignalHandler(), o); err != nil {
		fmt.Fprintln(os.Stderr, "run-local:", err)
		os.Exit(1)
	}
}
