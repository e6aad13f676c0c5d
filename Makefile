# apigee-key-operator. Everything here needs Go only: tools are pinned Go
# modules under hack/ and built on first use.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

BIN ?= $(CURDIR)/bin
CONTROLLER_GEN := $(BIN)/controller-gen
HELM := $(BIN)/helm
PROMTOOL := $(BIN)/promtool
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
test: verify vet envtest $(HELM) $(PROMTOOL) ## Verify generated files, vet, and run every test on a real control plane.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test $(GO_TEST_FLAGS) ./...

.PHONY: envtest
envtest: ## Build the test control plane binaries into bin/k8s/<version>/ when missing.
	@hack/build-control-plane.sh >/dev/null

# The size test/bench imports: issue 14's, 10,000 keys in 100 apps with
# 50,000 unrelated Secrets (about 15 minutes on 2 cores).
BENCH_KEYS ?= 10000
BENCH_APPS ?= 100
BENCH_SECRETS ?= 50000

.PHONY: bench
bench: envtest ## Run the benchmarks and print their figures; test/bench prints the scale table (BENCH_KEYS, BENCH_APPS, BENCH_SECRETS).
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test -run '^$$' -bench . -benchmem $$(go list ./... | grep -v /test/bench$$)
	BENCH_KEYS=$(BENCH_KEYS) BENCH_APPS=$(BENCH_APPS) BENCH_SECRETS=$(BENCH_SECRETS) KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" \
		go test -v -run '^$$' -bench . -benchtime 1x -timeout 90m ./test/bench/

.PHONY: run-local
run-local: envtest ## Run control plane, Apigee emulator and operator locally; apply config/samples; Ctrl-C stops.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go run ./cmd/run-local

.PHONY: run
run: ## Run the operator against the cluster in $$KUBECONFIG.
	go run ./cmd/apigee-key-operator --metrics-secure=false --metrics-bind-address=:8080 --log-format=console

.PHONY: emulator
emulator: ## Serve the Apigee emulator (X on :8081, Edge on :8082) seeded from config/emulator/seed.yaml.
	go run ./cmd/apigee-emulator --seed config/emulator/seed.yaml

##@ Build

.PHONY: build
build: ## Build the operator, the emulator and the kubectl-apigee_keys plugin into bin/.
	go build -o $(BIN)/apigee-key-operator ./cmd/apigee-key-operator
	go build -o $(BIN)/apigee-emulator ./cmd/apigee-emulator
	go build -o $(BIN)/kubectl-apigee_keys ./cmd/kubectl-apigee_keys

##@ Deploy

.PHONY: build-installer
build-installer: envtest ## Render config/default (CRDs, RBAC, Deployment) into dist/install.yaml with the pinned kubectl.
	mkdir -p dist
	"$(ENVTEST_ASSETS)/kubectl" kustomize config/default > dist/install.yaml.tmp
	mv dist/install.yaml.tmp dist/install.yaml

.PHONY: chart-crds
chart-crds: manifests ## Regenerate the Helm chart's CRD templates and RBAC rules from config/.
	hack/generate-chart-crds.sh

.PHONY: helm-lint
helm-lint: $(HELM) ## Lint the Helm chart strictly, with default values and with every option set.
	$(HELM) lint --strict charts/apigee-key-operator
	$(HELM) lint --strict charts/apigee-key-operator -f test/chart/testdata/all-values.yaml

.PHONY: argocd-docs
argocd-docs: ## Regenerate docs/argocd-cm.yaml and its copy in docs/argocd.md from the Argo CD health.lua files.
	go test ./internal/argocd -run TestDocsEmbedCurrentScripts -count=1 -args -update

##@ Tools

$(CONTROLLER_GEN): hack/tools/go.mod
	go build -C hack/tools -o $(CONTROLLER_GEN) sigs.k8s.io/controller-tools/cmd/controller-gen

$(HELM): hack/helm/go.mod
	go build -C hack/helm -o $(HELM) helm.sh/helm/v3/cmd/helm

.PHONY: helm
helm: $(HELM) ## Build the pinned Helm into bin/helm.

$(PROMTOOL): hack/promtool/go.mod
	go build -C hack/promtool -o $(PROMTOOL) github.com/prometheus/prometheus/cmd/promtool

.PHONY: promtool
promtool: $(PROMTOOL) ## Build the pinned promtool into bin/promtool (the chart's alert rule tests use it).

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-16s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
