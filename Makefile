# bouncer: `make run` serves the functions locally; `make test` runs every test.
# `make` alone lists the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# The pinned control plane for the local e2e provider, built from the Go
# module proxy (e2e/tools) and cached, keyed by version, in .cache/.
K8S_VERSION   := v1.37.2
CONTROLPLANE  := $(CURDIR)/.cache/controlplane/$(K8S_VERSION)/bin
CP_BINARIES   := $(addprefix $(CONTROLPLANE)/,kube-apiserver kube-controller-manager kubectl etcd)
K8S_LDFLAGS   := -s -w -X k8s.io/component-base/version.gitVersion=$(K8S_VERSION) \
                 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 \
                 -X k8s.io/component-base/version.gitTreeState=clean

VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X bouncer.dev/bouncer/internal/version.Version=$(VERSION) -X bouncer.dev/bouncer/internal/version.Commit=$(COMMIT)
PORT     ?= 8080
FUZZTIME ?= 30s

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/bouncer (reproducible: -trimpath, no VCS stamping beyond the commit).
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/bouncer ./cmd/bouncer

.PHONY: run
run: ## Run the functions locally with the Functions Framework on $PORT (default 8080), embedded default policy.
	PORT=$(PORT) go run ./cmd/functions

.PHONY: test
test: lint unit e2e ## Run every test: lint, unit, golden, fuzz seeds and the e2e suite (CI's command).

.PHONY: unit
unit: ## Run the unit, golden and process tests, and the fuzz seed corpora, with the race detector.
	go test -race -count=1 ./...

.PHONY: e2e
e2e: controlplane ## Run the e2e suite against a real kube-apiserver, controller-manager and etcd.
	cd e2e && BOUNCER_CONTROLPLANE=$(CONTROLPLANE) go test -tags e2e -p 1 -count=1 -timeout 30m -v ./...

.PHONY: controlplane
controlplane: $(CP_BINARIES) ## Build the pinned control plane once (about 13 minutes cold on 2 cores), cached in .cache/.

$(CP_BINARIES) &: e2e/tools/go.mod e2e/tools/go.sum
	@mkdir -p $(CONTROLPLANE)
	@echo "building kube-apiserver, kube-controller-manager, kubectl $(K8S_VERSION) and etcd into $(CONTROLPLANE)"
	@echo "this happens once per version; expect about 13 minutes on 2 cores"
	@cd e2e/tools && go build -v -trimpath -ldflags '$(K8S_LDFLAGS)' -o $(CONTROLPLANE)/ \
	    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl ./etcd 2>&1 \
	  | awk '/^#|: /{print; next} {n++} n%250==0 {printf "  ... %d packages compiled (%s)\n", n, strftime("%H:%M:%S"); fflush()}'
	@touch $(CP_BINARIES)
	@ls -la $(CONTROLPLANE)

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 30s); crashers land in testdata/fuzz as regression cases.
	go test ./internal/admission -run '^$$' -fuzz '^FuzzHandler$$' -fuzztime $(FUZZTIME)

.PHONY: lint
lint: ## gofmt, go vet and staticcheck (pinned in go.mod), for both modules.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	go vet ./...
	go tool staticcheck ./...
	@if [ -f e2e/go.mod ]; then staticcheck=$$(go tool -n staticcheck); cd e2e && go vet -tags e2e ./... && $$staticcheck -tags e2e ./...; fi

.PHONY: webhookconfig
webhookconfig: ## Regenerate webhookconfig/ from the policy (URL from WEBHOOK_URL).
	go run ./cmd/bouncer webhookconfig --url '$(WEBHOOK_URL)' > webhookconfig/webhooks.yaml

.PHONY: clean
clean: ## Remove bin/ (keeps the cached control plane; rm -rf .cache to drop it).
	rm -rf bin
