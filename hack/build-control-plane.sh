#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, etcd) and a pinned kubectl
# from the Go module proxy into bin/k8s/<version>/, only when missing.
# setup-envtest cannot download release binaries in our environment, so we
# compile them; the first run takes about 15 minutes on 2 cores, later runs
# reuse the Go build cache. Prints the directory for KUBEBUILDER_ASSETS.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
k8s_version="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2} $2 == "k8s.io/kubernetes" && $3 ~ /^v/ {print $3}' "$root/hack/k8s/go.mod" | head -1)"
[[ -n "$k8s_version" ]] || { echo "cannot read the k8s.io/kubernetes version from hack/k8s/go.mod" >&2; exit 1; }
out="$root/bin/k8s/${k8s_version#v}"
mkdir -p "$out"

build() { # build <wrapper dir> <package> <binary name>
	if [[ -x "$out/$3" ]]; then return; fi
	echo "Building $3 from $2 (first run only; this can take several minutes)" >&2
	(cd "$root/hack/$1" && CGO_ENABLED=0 go build -trimpath -o "$out/$3.tmp" "$2")
	mv "$out/$3.tmp" "$out/$3"
}

build etcd go.etcd.io/etcd/server/v3 etcd
build k8s k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver
build k8s k8s.io/kubernetes/cmd/kubectl kubectl
echo "$out"
