// Command kubectl-apigee_keys brings existing Apigee developer app keys
// under management: export an organization to DeveloperAppKey manifests,
// plan them against a target, report status. Installed on the PATH it is
// also "kubectl apigee-keys".
package main

import (
	"os"

	"github.com/apigee-key-operator/apigee-key-operator/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.DefaultEnv()))
}
