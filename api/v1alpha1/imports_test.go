package v1alpha1

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsApimachineryOnly keeps the API package cheap to depend on: it
// must not pull in controller-runtime (kubebuilder v4 convention).
func TestImportsApimachineryOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "sigs.k8s.io/controller-runtime") {
			t.Errorf("api/v1alpha1 depends on %s", dep)
		}
	}
	if !strings.Contains(string(out), "k8s.io/apimachinery/pkg/apis/meta/v1") {
		t.Errorf("go list output looks wrong:\n%s", out)
	}
}
