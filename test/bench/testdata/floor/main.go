// Command floor links the libraries the operator is built on and does
// nothing: its RSS, mostly the pages of its own binary that starting it
// touched, is the least any operator built on them shows. The scale bench
// prints it next to the operator's RSS before any key.
package main

import (
	"os"
	"os/signal"
	"syscall"

	_ "google.golang.org/api/apigee/v1"
	_ "sigs.k8s.io/controller-runtime"
	_ "sigs.k8s.io/controller-runtime/pkg/metrics/filters"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	<-stop
}
