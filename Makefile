# Flotilla — build, test, benchmark and demo.
#
# Tools (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl, kwok, helm, and Dex for the portal's browser tests) are built
# from Go modules into ./bin, keyed by version: a stamp per binary makes a
# second `make tools` a no-op. Built binaries are also kept in
# $(TOOLCACHE) so a fresh clone on the same machine copies instead of
# rebuilding. The first cold build takes about 20 minutes on 2 cores that
# nothing else uses (see README.md).

SHELL := /bin/bash
GO ?= go
export GOTOOLCHAIN := local

BIN := $(CURDIR)/bin
TOOLCACHE ?= $(HOME)/.cache/flotilla/tools

# The version the Flotilla binaries and images carry: a release tag
# (v0.1.0), `git describe` of a later commit (v0.1.0-3-gabc1234), or the
# bare commit (abc1234) before the first tag; -dirty with uncommitted
# changes. REGISTRY prefixes the image names.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REGISTRY ?= ghcr.io/flotilla-hpc
VERSION_PKG := github.com/flotilla-hpc/flotilla/internal/version
LDFLAGS := -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Registry=$(REGISTRY)

ETCD_VERSION := v3.6.16
KUBE_VERSION := v1.37.2
KWOK_VERSION := v0.8.0
# Dex (the OIDC provider the portal's browser tests log in through) has no
# tagged release on the module proxy that builds; tools/dex pins a commit.
DEX_VERSION := v0.0.0-20260806151424-ab64ed778070
HELM_VERSION := v4.3.1

KUBE_LDFLAGS := -s -w \
	-X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=37 \
	-X k8s.io/component-base/version.gitTreeState=clean \
	-X k8s.io/client-go/pkg/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/client-go/pkg/version.gitMajor=1 \
	-X k8s.io/client-go/pkg/version.gitMinor=37

KUBE_CMDS := kube-apiserver kube-controller-manager kube-scheduler kubectl
STAMPS := $(BIN)/.etcd-$(ETCD_VERSION) $(BIN)/.kwok-$(KWOK_VERSION) $(BIN)/.dex-$(DEX_VERSION) \
	$(foreach c,$(KUBE_CMDS),$(BIN)/.$(c)-$(KUBE_VERSION)) $(BIN)/.helm-$(HELM_VERSION)

# The commands `make demo` runs (build only these for it).
DEMO_CMDS := flotilla flotilla-hub flotilla-agent flotilla-init flotilla-localnode

.PHONY: all build build-demo tools test test-short soak bench demo lint lint-go lint-helm lint-terraform images chart clean

all: build

# flotilla-localnode is its own module (test/localnode: virtual-kubelet's
# dependencies stay out of the project's go.mod).
LOCALNODE := test/localnode

# -trimpath as in the image build (deploy/images/Dockerfile): the binaries
# do not depend on where the tree is, and the two share the build cache.
build:
	@mkdir -p $(BIN)
	@if ls cmd/*/main.go >/dev/null 2>&1; then CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...; fi
	cd $(LOCALNODE) && CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/flotilla-localnode

# The same flags as build: the two share the build cache (a demo after a
# build compiles nothing again) and the demo's commands carry the version.
build-demo:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ $(addprefix ./cmd/,$(filter-out flotilla-localnode,$(DEMO_CMDS)))
	cd $(LOCALNODE) && CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/flotilla-localnode

# The three tool builds are independent: run them side by side (the links
# are single-threaded; go build already spreads compiles over the cores).
tools:
	@$(MAKE) --no-print-directory -j3 $(STAMPS)

# build-tool NAME VERSION MODULE-DIR PACKAGE LDFLAGS
define build-tool
	@mkdir -p $(BIN) $(TOOLCACHE)
	@if [ -x $(TOOLCACHE)/$(1)-$(2) ]; then \
		echo "tools: $(1) $(2) from cache"; \
		cp $(TOOLCACHE)/$(1)-$(2) $(BIN)/$(1).tmp && mv $(BIN)/$(1).tmp $(BIN)/$(1); \
	else \
		echo "tools: building $(1) $(2) (slow the first time)"; \
		cd $(CURDIR)/tools/$(3) && $(GO) build -trimpath -ldflags '$(5)' -o $(BIN)/$(1).tmp $(4) && \
		mv $(BIN)/$(1).tmp $(BIN)/$(1) && \
		cp $(BIN)/$(1) $(TOOLCACHE)/$(1)-$(2).tmp && mv $(TOOLCACHE)/$(1)-$(2).tmp $(TOOLCACHE)/$(1)-$(2); \
	fi
	@rm -f $(BIN)/.$(1)-*
	@touch $(BIN)/.$(1)-$(2)
endef

$(BIN)/.etcd-$(ETCD_VERSION):
	$(call build-tool,etcd,$(ETCD_VERSION),etcd,go.etcd.io/etcd/server/v3,-s -w)

$(BIN)/.kwok-$(KWOK_VERSION):
	$(call build-tool,kwok,$(KWOK_VERSION),kwok,sigs.k8s.io/kwok/cmd/kwok,-s -w)

$(BIN)/.dex-$(DEX_VERSION):
	$(call build-tool,dex,$(DEX_VERSION),dex,github.com/dexidp/dex/cmd/dex,-s -w)

$(BIN)/.helm-$(HELM_VERSION): $(BIN)/.kwok-$(KWOK_VERSION)
	$(call build-tool,helm,$(HELM_VERSION),helm,helm.sh/helm/v4/cmd/helm,-s -w -X helm.sh/helm/v4/internal/version.version=$(HELM_VERSION))

$(BIN)/.kube-apiserver-$(KUBE_VERSION):
	$(call build-tool,kube-apiserver,$(KUBE_VERSION),kube,k8s.io/kubernetes/cmd/kube-apiserver,$(KUBE_LDFLAGS))

$(BIN)/.kube-controller-manager-$(KUBE_VERSION): $(BIN)/.kube-apiserver-$(KUBE_VERSION)
	$(call build-tool,kube-controller-manager,$(KUBE_VERSION),kube,k8s.io/kubernetes/cmd/kube-controller-manager,$(KUBE_LDFLAGS))

$(BIN)/.kube-scheduler-$(KUBE_VERSION): $(BIN)/.kube-controller-manager-$(KUBE_VERSION)
	$(call build-tool,kube-scheduler,$(KUBE_VERSION),kube,k8s.io/kubernetes/cmd/kube-scheduler,$(KUBE_LDFLAGS))

$(BIN)/.kubectl-$(KUBE_VERSION): $(BIN)/.kube-scheduler-$(KUBE_VERSION)
	$(call build-tool,kubectl,$(KUBE_VERSION),kube,k8s.io/kubernetes/cmd/kubectl,$(KUBE_LDFLAGS))

# Everything: pure cores, API, raft, and the suites against real control planes.
test: tools build
	FLOTILLA_BIN=$(BIN) $(GO) test -count=1 -timeout 30m ./...
	cd $(LOCALNODE) && $(GO) test -count=1 ./...
	@test/no-leftovers.sh $(BIN)

# Pure and unit tests only: seconds, no tools needed.
test-short:
	$(GO) test -count=1 -short ./...
	cd $(LOCALNODE) && $(GO) test -count=1 -short ./...

# Long crash runs: 200 SIGKILLs per log store against real hub processes.
soak: build
	FLOTILLA_BIN=$(BIN) FLOTILLA_KILLS=200 $(GO) test -count=1 -timeout 90m -run 'TestReplicaSurvivesSIGKILLLoop' -v ./test/crash
	@test/no-leftovers.sh $(BIN)

bench: tools build
	FLOTILLA_BIN=$(BIN) $(GO) run ./test/bench -bin $(BIN) $(BENCH_FLAGS)

demo: tools build-demo
	@$(GO) build -trimpath -o $(BIN)/flotilla-demo ./test/demo
	FLOTILLA_BIN=$(BIN) $(BIN)/flotilla-demo -bin $(BIN) $(DEMO_FLAGS)

lint: lint-go lint-helm lint-terraform

lint-go:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd $(LOCALNODE) && $(GO) vet ./...

# The chart: strict lint and a full render with the defaults and with every
# values file under ci/ (all options on), so a template error fails here.
CHART := deploy/helm/flotilla
lint-helm: $(BIN)/.helm-$(HELM_VERSION)
	$(BIN)/helm lint --strict $(CHART)
	$(BIN)/helm template flotilla $(CHART) >/dev/null
	@for f in $(CHART)/ci/*-values.yaml; do \
		echo "$(BIN)/helm lint --strict -f $$f && helm template -f $$f"; \
		$(BIN)/helm lint --strict $(CHART) -f $$f >/dev/null && $(BIN)/helm template flotilla $(CHART) -f $$f >/dev/null || exit 1; \
	done

# Terraform is not built from Go modules: it is checked where installed.
lint-terraform:
	@if command -v terraform >/dev/null 2>&1; then \
		if [ -n "$$TF_CLI_CONFIG_FILE" ] && [ ! -e "$$TF_CLI_CONFIG_FILE" ]; then export TF_CLI_CONFIG_FILE=/dev/null; fi; \
		echo "terraform fmt -check -recursive terraform"; terraform fmt -check -recursive terraform; \
	else \
		echo "lint: terraform is not installed: skipping 'terraform fmt -check -recursive terraform' (install Terraform >= 1.5 to run it)"; \
	fi

# Container images of every binary, tagged $(VERSION) (deploy/images):
# skipped with a message where no builder (docker with an engine, podman,
# buildah) is available.
images:
	@VERSION=$(VERSION) REGISTRY=$(REGISTRY) deploy/images/build.sh

# The chart packaged with the binaries' version as its appVersion, so every
# image it names carries the version the binaries were built with.
chart: $(BIN)/.helm-$(HELM_VERSION)
	$(BIN)/helm package $(CHART) --app-version $(VERSION) -d $(BIN)/charts

clean:
	rm -rf $(BIN)
