#!/usr/bin/env bash
# Regenerates every generated file and fails if any changed, so stale CRDs,
# deepcopy or RBAC never land. Independent of git state: it compares content
# before and after generation.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

generated() {
	find api config/crd/bases config/rbac/role.yaml charts/apigee-key-operator/templates \
		\( -name 'zz_generated*.go' -o -path 'config/crd/bases/*' -o -name role.yaml -o -path '*/templates/crds/*' \) \
		-type f 2>/dev/null | sort | xargs -r sha256sum
}

before="$(generated)"
make --no-print-directory manifests generate >/dev/null
[[ ! -x hack/generate-chart-crds.sh ]] || hack/generate-chart-crds.sh
after="$(generated)"

if [[ "$before" != "$after" ]]; then
	echo "Generated files were stale and have been regenerated; review and commit them:" >&2
	diff <(echo "$before") <(echo "$after") | grep '^[<>]' | awk '{print "  " $3}' | sort -u >&2
	exit 1
fi
echo "Generated files are up to date."
