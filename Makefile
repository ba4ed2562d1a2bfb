# Flotilla — build, test, benchmark and demo.
#
# Tools (etcd, the Kubernetes components, kwok) are built from Go modules
# into ./bin, keyed by version: a stamp per tool makes a second `make tools`
# a no-op. kube-apiserver, kube-controller-manager, kube-scheduler and
# kubectl are ONE multicall binary, bin/kube (tools/kube), with a symlink per
# component: they share most of their packages, so they are compiled and
# linked once. The three tools build in parallel. Built binaries are also
# kept in $(TOOLCACHE) so a fresh clone on the same machine copies instead
# of rebuilding. See the README for the measured cold build time.

SHELL := /bin/bash
GO ?= go
export GOTOOLCHAIN := local

BIN := $(CURDIR)/bin
TOOLCACHE ?= $(HOME)/.cache/flotilla/tools

ETCD_VERSION := v3.6.16
KUBE_VERSION := v1.37.2
KWOK_VERSION := v0.8.0

KUBE_LDFLAGS := -s -w \
	-X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=37 \
	-X k8s.io/component-base/version.gitTreeState=clean \
	-X k8s.io/client-go/pkg/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/client-go/pkg/version.gitMajor=1 \
	-X k8s.io/client-go/pkg/version.gitMinor=37

KUBE_CMDS := kube-apiserver kube-controller-manager kube-scheduler kubectl
STAMPS := $(BIN)/.etcd-$(ETCD_VERSION) $(BIN)/.kwok-$(KWOK_VERSION) $(BIN)/.kube-$(KUBE_VERSION)

# The commands `make demo` runs (build only these for it).
DEMO_CMDS := flotilla flotilla-hub flotilla-agent flotilla-init flotilla-localnode

.PHONY: all build build-demo tools test test-short soak bench demo lint clean

all: build

# flotilla-localnode is its own module (test/localnode: virtual-kubelet's
# dependencies stay out of the project's go.mod).
LOCALNODE := test/localnode

build:
	@mkdir -p $(BIN)
	@if ls cmd/*/main.go >/dev/null 2>&1; then CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/...; fi
	cd $(LOCALNODE) && CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/flotilla-localnode

build-demo:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ $(addprefix ./cmd/,$(filter-out flotilla-localnode,$(DEMO_CMDS)))
	cd $(LOCALNODE) && CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/flotilla-localnode

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

$(BIN)/.kube-$(KUBE_VERSION):
	$(call build-tool,kube,$(KUBE_VERSION),kube,.,$(KUBE_LDFLAGS))
	@for c in $(KUBE_CMDS); do ln -sfn kube $(BIN)/$$c; done

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
	FLOTILLA_BIN=$(BIN) $(GO) run ./test/bench -bin $(BIN)

demo: tools build-demo
	@$(GO) build -o $(BIN)/flotilla-demo ./test/demo
	FLOTILLA_BIN=$(BIN) $(BIN)/flotilla-demo -bin $(BIN) $(DEMO_FLAGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd $(LOCALNODE) && $(GO) vet ./...

clean:
	rm -rf $(BIN)
