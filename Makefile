# apigee-key-operator. Everything here needs Go only: tools are pinned Go
# modules under hack/ and built on first use.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

BIN ?= $(CURDIR)/bin
CONTROLLER_GEN := $(BIN)/controller-gen
HELM := $(BIN)/helm
GO_TEST_FLAGS ?= -race -count=1
# The envtest control plane (kube-apiserver, etcd, kubectl) built from the Go
# module proxy; the first build takes about 15 minutes on 2 cores.
ENVTEST_ASSETS = $(shell hack/build-control-plane.sh)

.PHONY: all
all: build

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC from the Go markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: verify
verify: ## Fail when generated files are stale (regenerates them, so commit the result).
	hack/verify-generated.sh

.PHONY: fmt
fmt: ## Run gofmt.
	gofmt -l -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet and check formatting.
	go vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

.PHONY: test
test: verify vet envtest ## Verify generated files, vet, and run every test on a real control plane.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test $(GO_TEST_FLAGS) ./...

.PHONY: envtest
envtest: ## Build the test control plane binaries into bin/k8s/<version>/ when missing.
	@hack/build-control-plane.sh >/dev/null

.PHONY: bench
bench: envtest ## Run the benchmarks and print their figures.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test -run '^$$' -bench . -benchmem ./...

##@ Build

.PHONY: build
build: ## Build the operator and the emulator into bin/.
	go build -o $(BIN)/apigee-key-operator ./cmd/apigee-key-operator
	go build -o $(BIN)/apigee-emulator ./cmd/apigee-emulator

##@ Tools

$(CONTROLLER_GEN): hack/tools/go.mod
	go build -C hack/tools -o $(CONTROLLER_GEN) sigs.k8s.io/controller-tools/cmd/controller-gen

$(HELM): hack/helm/go.mod
	go build -C hack/helm -o $(HELM) helm.sh/helm/v3/cmd/helm

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-16s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
