package argocd

import (
	"bytes"
	"fmt"
	"strings"
)

// ConfigMapKey is the argocd-cm key that installs kind's health check.
func ConfigMapKey(kind string) string {
	return "resource.customizations.health." + Group + "_" + kind
}

// ConfigMap renders an argocd-cm snippet with every health check, for
// docs/argocd-cm.yaml and docs/argocd.md (a test keeps both current). It is
// written by hand rather than marshalled so the scripts stay readable block
// scalars.
func ConfigMap() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`# GENERATED from internal/argocd/resource_customizations by "make argocd-docs"; do not edit.
# Merge into Argo CD's argocd-cm:
#   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file docs/argocd-cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
`)
	for _, kind := range Kinds {
		script, err := HealthScript(kind)
		if err != nil {
			return nil, err
		}
		if strings.Contains(script, "\t") || !strings.HasSuffix(script, "\n") || strings.HasSuffix(script, "\n\n") {
			// A block scalar cannot hold tabs in its indentation and keeps
			// exactly one final newline.
			return nil, fmt.Errorf("%s health.lua must use spaces and end with exactly one newline", kind)
		}
		fmt.Fprintf(&b, "  %s: |\n", ConfigMapKey(kind))
		for _, line := range strings.SplitAfter(strings.TrimSuffix(script, "\n"), "\n") {
			if strings.TrimSpace(line) == "" {
				b.WriteString("\n")
				continue
			}
			b.WriteString("    " + line)
		}
		b.WriteString("\n")
	}
	return b.Bytes(), nil
}
