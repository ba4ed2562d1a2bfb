# Flotilla — build, test, benchmark and demo.
#
# Tools (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok,
# and Dex for the portal's browser tests)
# are built from Go modules into ./bin, keyed by version: a stamp per binary
# makes a second `make tools` a no-op. Built binaries are also kept in
# $(TOOLCACHE) so a fresh clone on the same machine copies instead of
# rebuilding. The first cold build takes ~12 minutes on 2 cores.

SHELL := /bin/bash
GO ?= go
export GOTOOLCHAIN := local

BIN := $(CURDIR)/bin
TOOLCACHE ?= $(HOME)/.cache/flotilla/tools

ETCD_VERSION := v3.6.16
KUBE_VERSION := v1.37.2
KWOK_VERSION := v0.8.0
# Dex (the OIDC provider the portal's browser tests log in through) has no
# tagged release on the module proxy that builds; tools/dex pins a commit.
DEX_VERSION := v0.0.0-20260806151424-ab64ed778070

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
	$(foreach c,$(KUBE_CMDS),$(BIN)/.$(c)-$(KUBE_VERSION))

.PHONY: all build tools test test-short soak bench demo lint clean

all: build

build:
	@mkdir -p $(BIN)
	@if ls cmd/*/main.go >/dev/null 2>&1; then CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/...; fi

tools: $(STAMPS)

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
	@test/no-leftovers.sh $(BIN)

# Pure and unit tests only: seconds, no tools needed.
test-short:
	$(GO) test -count=1 -short ./...

# Long crash runs: 200 SIGKILLs per log store against real hub processes.
soak: build
	FLOTILLA_BIN=$(BIN) FLOTILLA_KILLS=200 $(GO) test -count=1 -timeout 90m -run 'TestReplicaSurvivesSIGKILLLoop' -v ./test/crash
	@test/no-leftovers.sh $(BIN)

bench: tools build
	FLOTILLA_BIN=$(BIN) $(GO) run ./test/bench -bin $(BIN)

demo: tools build
	@$(GO) build -o $(BIN)/flotilla-demo ./test/demo
	FLOTILLA_BIN=$(BIN) $(BIN)/flotilla-demo -bin $(BIN) $(DEMO_FLAGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BIN)
