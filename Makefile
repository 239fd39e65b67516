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
# The e2e node provider's kubelet and scheduler, from the same module and build.
NODE_BINARIES := $(addprefix $(CONTROLPLANE)/,kubelet kube-scheduler)
# cert-manager's controller and CA injector, run as processes by the node provider.
CERT_MANAGER_VERSION := v1.21.2
CERT_MANAGER_DIR := $(CURDIR)/.cache/cert-manager/$(CERT_MANAGER_VERSION)
CM_BINARIES   := $(CERT_MANAGER_DIR)/controller $(CERT_MANAGER_DIR)/cainjector
K8S_LDFLAGS   := -s -w -X k8s.io/component-base/version.gitVersion=$(K8S_VERSION) \
                 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 \
                 -X k8s.io/component-base/version.gitTreeState=clean

# The Kyverno CLI that `make bench` times beside `bouncer check`, pinned in
# bench/kyverno and cached like the control plane (a 400 MB binary).
KYVERNO_VERSION := v1.19.1
KYVERNO         := $(CURDIR)/.cache/kyverno/$(KYVERNO_VERSION)/kyverno

# `make e2e-knative`'s cluster additions, each pinned in its own module under
# e2e/tools and cached like the control plane: Knative Serving, Traefik (its
# ingress), kube-proxy (Service ClusterIPs on the node) and CoreDNS (cluster
# DNS).
KNATIVE_VERSION := v0.50.0
KNATIVE_DIR     := $(CURDIR)/.cache/knative/$(KNATIVE_VERSION)
KNATIVE_BINARIES := $(addprefix $(KNATIVE_DIR)/,controller webhook autoscaler activator queue)
TRAEFIK_VERSION := v3.6.12
TRAEFIK         := $(CURDIR)/.cache/traefik/$(TRAEFIK_VERSION)/traefik
KUBE_PROXY      := $(CONTROLPLANE)/kube-proxy
COREDNS_VERSION := v1.15.0
COREDNS         := $(CURDIR)/.cache/coredns/$(COREDNS_VERSION)/coredns

VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X bouncer.dev/bouncer/internal/version.Version=$(VERSION) -X bouncer.dev/bouncer/internal/version.Commit=$(COMMIT)
PORT     ?= 8080
FUZZTIME ?= 30s
# Deployment settings: override on the command line.
REGION       ?= europe-west1
GKE_CLUSTER  ?=
GKE_LOCATION ?= $(REGION)
IMAGE        ?=
CA_BUNDLE    ?=
INJECT_CA_FROM ?=
# How long deploy-knative waits for the certificate served at the Service's
# URL to verify: an ingress loads a just-issued certificate a moment late.
TLS_WAIT     ?= 60s
# How long, in seconds, deploy-knative waits for Knative's certificate: the
# Service is Ready, with an http URL, before it is issued.
CERT_WAIT    ?= 180
CERT_MANAGER ?=
POLICY       ?=
POLICY_SECRET ?=
# Where deploy-audit stores POLICY for the audit's CronJob: configmap, as
# deploy-kubernetes does, or secret, as deploy-knative does.
POLICY_FROM  ?= configmap
KNATIVE_URL  ?=
KUBECTL      ?= kubectl

PREFLIGHT_CA = $(if $(CA_BUNDLE),--ca-bundle '$(abspath $(CA_BUNDLE))') $(if $(INJECT_CA_FROM),--inject-ca-from '$(INJECT_CA_FROM)')

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/bouncer and bin/bouncer-audit, which `bouncer audit` runs from beside it (reproducible: -trimpath, no VCS stamping beyond the commit).
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/bouncer ./cmd/bouncer
	cd cmd/bouncer-audit && CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o ../../bin/bouncer-audit .

# The server replaces the recipe's shell (exec), so the SIGTERM that make
# forwards to its child reaches the server itself; `go run` would die on
# SIGTERM and leave the server it started running (cmd/functions tests this).
.PHONY: run
run: ## Run the functions locally with the Functions Framework on $PORT (default 8080), embedded default policy.
	go build -o bin/functions ./cmd/functions
	PORT=$(PORT) exec bin/functions

.PHONY: test
test: lint unit soak e2e ## Run every test: lint, unit, golden, fuzz seeds, the soak and the e2e suite (CI's command).

.PHONY: unit
unit: ## Run the unit, golden and process tests, fuzz seeds (race detector), the deploy checks (Cloud Run's rules, Knative's own validation), and the CEL agreement tests.
	go test -race -count=1 ./...
	cd cmd/bouncer-audit && go test -count=1 ./...
	cd deploy && go test -count=1 ./...
	cd bench && go test -count=1 ./cmd/bench
	cd deploy/knativeverify && go test -count=1 ./...
	cd e2e && go test -count=1 ./auditlog/
	cd e2e && go test -count=1 -v ./agreement/ 2>&1 | grep -E 'FIGURE|agree|^(---|ok|FAIL|PASS|panic)|\.go:[0-9]+'

SOAK_SECONDS ?= 60

.PHONY: soak
soak: ## Serve at saturation from another process for SOAK_SECONDS (default 60): 0 errors, no goroutine leak, RSS printed.
	BOUNCER_SOAK_SECONDS=$(SOAK_SECONDS) go test -count=1 -v -run '^TestSoakAtSaturation$$' ./internal/server 2>&1 | grep -E 'FIGURE|^(---|ok|FAIL|PASS|panic)|\.go:[0-9]+'

E2E_ENV := BOUNCER_CONTROLPLANE=$(CONTROLPLANE) BOUNCER_CERT_MANAGER=$(CERT_MANAGER_DIR)
KNATIVE_ENV := BOUNCER_KNATIVE=$(KNATIVE_DIR) BOUNCER_TRAEFIK=$(TRAEFIK) BOUNCER_COREDNS=$(COREDNS)

.PHONY: e2e
e2e: controlplane node-tools ## Run the e2e suite: local control plane with the webhooks and the compiled policies, then on a real node.
	cd e2e && BOUNCER_E2E_ENGINE=webhook $(E2E_ENV) go test -tags e2e -p 1 -count=1 -timeout 30m -v .
	cd e2e && BOUNCER_E2E_ENGINE=compiled $(E2E_ENV) go test -tags e2e -p 1 -count=1 -timeout 30m -v .
	cd e2e && BOUNCER_E2E_PROVIDER=node $(E2E_ENV) go test -tags e2e -p 1 -count=1 -timeout 40m -v .

.PHONY: controlplane
controlplane: $(CP_BINARIES) ## Build the pinned control plane and the node's kubelet and scheduler once (about 20 minutes cold on 2 cores), cached in .cache/.

.PHONY: node-tools
node-tools: $(NODE_BINARIES) $(CM_BINARIES) ## Build the node provider's kubelet, scheduler and cert-manager once, cached in .cache/.

$(CP_BINARIES) $(NODE_BINARIES) &: e2e/tools/go.mod e2e/tools/go.sum
	@mkdir -p $(CONTROLPLANE)
	@echo "building kube-apiserver, kube-controller-manager, kubectl, kubelet, kube-scheduler $(K8S_VERSION) and etcd into $(CONTROLPLANE)"
	@echo "this happens once per version; expect about 20 minutes on 2 cores"
	@cd e2e/tools && go build -v -trimpath -ldflags '$(K8S_LDFLAGS)' -o $(CONTROLPLANE)/ \
	    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl \
	    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-scheduler ./etcd 2>&1 \
	  | awk '/^#|: /{print; next} {n++} n%250==0 {printf "  ... %d packages compiled\n", n; fflush()}'
	@touch $(CP_BINARIES) $(NODE_BINARIES)
	@ls -la $(CONTROLPLANE)

$(CM_BINARIES) &: e2e/tools/certmanager/go.mod e2e/tools/certmanager/go.sum $(wildcard e2e/tools/certmanager/*/main.go)
	@mkdir -p $(CERT_MANAGER_DIR)
	@echo "building cert-manager $(CERT_MANAGER_VERSION)'s controller and cainjector into $(CERT_MANAGER_DIR); once per version, about 5 minutes on 2 cores"
	@cd e2e/tools/certmanager && go build -v -trimpath -ldflags '-s -w' -o $(CERT_MANAGER_DIR)/ ./controller ./cainjector 2>&1 \
	  | awk '/^#|: /{print; next} {n++} n%100==0 {printf "  ... %d packages compiled\n", n; fflush()}'
	@touch $(CM_BINARIES)
	@ls -la $(CERT_MANAGER_DIR)

# Opt-in, outside `make test`: about 3,300 more packages to build.
.PHONY: e2e-knative
e2e-knative: controlplane node-tools knative-tools ## Real Knative on the node (activator, Traefik, cert-manager TLS): scale to zero, the fail-open window of a cold start. Root; its first build about 15 minutes beyond the control plane's.
	cd e2e && BOUNCER_E2E_PROVIDER=knative $(E2E_ENV) $(KNATIVE_ENV) go test -tags e2e -p 1 -count=1 -timeout 45m -v -run '^TestKnative' .

.PHONY: knative-tools
knative-tools: $(KNATIVE_BINARIES) $(TRAEFIK) $(KUBE_PROXY) $(COREDNS) ## Build Knative Serving, Traefik, kube-proxy and CoreDNS once for e2e-knative, cached in .cache/.

$(KNATIVE_BINARIES) &: e2e/tools/knative/go.mod e2e/tools/knative/go.sum
	@mkdir -p $(KNATIVE_DIR)
	@echo "building Knative Serving $(KNATIVE_VERSION) (controller, webhook, autoscaler, activator, queue) into $(KNATIVE_DIR); once per version, a few minutes on 2 cores"
	@cd e2e/tools/knative && CGO_ENABLED=0 go build -v -trimpath -ldflags '-s -w' -o $(KNATIVE_DIR)/ \
	    knative.dev/serving/cmd/controller knative.dev/serving/cmd/webhook knative.dev/serving/cmd/autoscaler \
	    knative.dev/serving/cmd/activator knative.dev/serving/cmd/queue 2>&1 \
	  | awk '/^#|: /{print; next} {n++} n%250==0 {printf "  ... %d packages compiled\n", n; fflush()}'
	@touch $(KNATIVE_BINARIES)

$(TRAEFIK): e2e/tools/traefik/go.mod e2e/tools/traefik/go.sum
	@mkdir -p $(dir $(TRAEFIK))
	@echo "building Traefik $(TRAEFIK_VERSION) into $(TRAEFIK); once per version, about 6 minutes on 2 cores"
	@cd e2e/tools/traefik && CGO_ENABLED=0 go build -v -trimpath -ldflags '-s -w' -o $(TRAEFIK) github.com/traefik/traefik/v3/cmd/traefik 2>&1 \
	  | awk '/^#|: /{print; next} {n++} n%250==0 {printf "  ... %d packages compiled\n", n; fflush()}'
	@touch $(TRAEFIK)

$(KUBE_PROXY): e2e/tools/kubeproxy/go.mod e2e/tools/kubeproxy/go.sum
	@mkdir -p $(CONTROLPLANE)
	@echo "building kube-proxy $(K8S_VERSION) into $(CONTROLPLANE); once per version"
	@cd e2e/tools/kubeproxy && go build -v -trimpath -ldflags '$(K8S_LDFLAGS)' -o $(KUBE_PROXY) k8s.io/kubernetes/cmd/kube-proxy 2>&1 \
	  | awk '/^#|: /{print; next} {n++} n%250==0 {printf "  ... %d packages compiled\n", n; fflush()}'
	@touch $(KUBE_PROXY)

$(COREDNS): e2e/tools/coredns/go.mod e2e/tools/coredns/go.sum
	@mkdir -p $(dir $(COREDNS))
	@echo "building CoreDNS $(COREDNS_VERSION) into $(COREDNS); once per version, a few minutes on 2 cores"
	@cd e2e/tools/coredns && CGO_ENABLED=0 go build -v -trimpath -ldflags '-s -w' -o $(COREDNS) github.com/coredns/coredns 2>&1 \
	  | awk '/^#|: /{print; next} {n++} n%250==0 {printf "  ... %d packages compiled\n", n; fflush()}'
	@touch $(COREDNS)

FUZZ_TARGETS := ./internal/admission:FuzzHandler ./internal/admission:FuzzEncode ./internal/policy:FuzzParse ./internal/policy:FuzzMutate ./internal/rawjson:FuzzAgainstEncodingJSON ./internal/text:FuzzClip

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 30s); crashers land in testdata/fuzz as regression cases.
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; echo "fuzzing $$fn in $$pkg for $(FUZZTIME)"; \
	  go test $$pkg -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) 2>&1 | tail -n 3 || exit 1; done

# The Go files lint checks: git's list where there is a .git, else every
# file outside the caches (`gcloud builds submit` uploads no .git).
GO_FILES = $(shell git ls-files '*.go' 2>/dev/null | grep . || find . -name '*.go' -not -path './.cache/*' -not -path './bin/*')

.PHONY: lint
lint: ## gofmt, go vet and staticcheck (pinned in go.mod), for every module.
	@files="$(GO_FILES)"; n=$$(echo $$files | wc -w); \
	  if [ "$$n" -lt 50 ]; then echo "lint: found $$n Go files to check; refusing to pass on (almost) nothing"; exit 1; fi; \
	  out=$$(gofmt -l $$files); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi; \
	  echo "gofmt: $$n files clean"
	go vet ./...
	go tool staticcheck ./...
	@staticcheck=$$(go tool -n staticcheck); for m in e2e deploy deploy/knativeverify bench e2e/tools/certmanager cmd/bouncer-audit; do (cd $$m && go vet -tags e2e ./... && $$staticcheck -tags e2e ./...) || exit 1; done

.PHONY: webhookconfig
webhookconfig: build ## Regenerate each webhookconfig/*.yaml with the command on its first line.
	@for f in webhookconfig/*.yaml; do \
	  args=$$(head -1 $$f | sed -n 's/^# Generated by: bouncer //p'); \
	  echo "bouncer $$args > $$f"; bin/bouncer $$args > $$f.tmp && mv $$f.tmp $$f; done

.PHONY: image
image: build ## Build the container image offline into bin/bouncer-image.tar (no engine, no base image): /bouncer serve, and /bouncer-audit beside it.
	cd deploy && go run ./image --binary ../bin/bouncer --audit-binary ../bin/bouncer-audit --tarball ../bin/bouncer-image.tar --version '$(VERSION)' --revision '$(COMMIT)'

.PHONY: deploy-cloudrun
deploy-cloudrun: ## Test, build, push and deploy to Cloud Run with Cloud Build (REGION, GKE_CLUSTER, GKE_LOCATION, POLICY_SECRET).
	gcloud builds submit --config cloudbuild.yaml \
	  --substitutions=_REGION=$(REGION),_GKE_CLUSTER=$(GKE_CLUSTER),_GKE_LOCATION=$(GKE_LOCATION),_POLICY_SECRET=$(POLICY_SECRET),_VERSION=$(VERSION),_COMMIT=$(COMMIT)

# Stops before registering anything when the API server could not reach the
# Service or would not trust it: Knative's domain cluster-local, no TLS, an
# http URL, no DNS, a certificate from a private CA with no CA given, a
# certificate that the given CA does not verify. Under failurePolicy Ignore
# any of these would admit every write unjudged, without a word.
# INJECT_CA_FROM (NAMESPACE/NAME of the cert-manager CA Certificate behind
# Knative's issuer, deploy/knative/cert-manager) has cert-manager's CA
# injector keep caBundle current; CA_BUNDLE copies a CA once.
.PHONY: deploy-knative
deploy-knative: build ## Deploy IMAGE (by digest) as a Knative Service, check it is reachable and trusted, register the webhooks (INJECT_CA_FROM or CA_BUNDLE, POLICY, KNATIVE_URL).
	@test -n '$(IMAGE)' || { echo "set IMAGE=REGISTRY/bouncer@sha256:..."; exit 2; }
	cd deploy && go run ./preflight knative --kubectl "$$(command -v '$(KUBECTL)')" $(PREFLIGHT_CA) $(if $(KNATIVE_URL),--url '$(KNATIVE_URL)')
	$(KUBECTL) apply -f deploy/kubernetes/namespace.yaml
	$(if $(POLICY),$(KUBECTL) -n bouncer-system create secret generic bouncer-policy --from-file=policy.yaml='$(POLICY)' --dry-run=client -o yaml | $(KUBECTL) apply -f -)
	cd deploy && go run ./render --platform knative --image '$(IMAGE)' $(if $(POLICY),--policy-secret bouncer-policy) | $(KUBECTL) apply -f -
	$(KUBECTL) -n bouncer-system wait ksvc/bouncer --for=condition=Ready --timeout=180s
	@# Ready comes before Knative's certificate, with an http URL (and with
	@# the Route's CertificateProvisioned True, reason HTTPDowngrade): wait for
	@# the URL to turn https, for up to CERT_WAIT seconds.
	@if [ -z '$(KNATIVE_URL)' ]; then for i in $$(seq $(CERT_WAIT)); do \
	  url=$$($(KUBECTL) -n bouncer-system get ksvc bouncer -o jsonpath='{.status.url}' || true); \
	  case "$$url" in https://*) echo "the Service's URL is $$url"; exit 0;; esac; sleep 1; done; \
	  echo "the Service's URL is still $$url after $(CERT_WAIT) s: checking it anyway"; fi
	url='$(KNATIVE_URL)'; [ -n "$$url" ] || url=$$($(KUBECTL) -n bouncer-system get ksvc bouncer -o jsonpath='{.status.url}'); \
	  (cd deploy && go run ./preflight url --kubectl "$$(command -v '$(KUBECTL)')" --tls-wait '$(TLS_WAIT)' $(PREFLIGHT_CA) "$$url") && \
	  bin/bouncer webhookconfig --url "$$url" $(if $(INJECT_CA_FROM),--inject-ca-from '$(INJECT_CA_FROM)') $(if $(CA_BUNDLE),--ca-bundle '$(CA_BUNDLE)') \
	    $(if $(POLICY),--policy '$(POLICY)') | $(KUBECTL) apply -f -
	@# Until the CA injector fills caBundle with the CA, every call fails open.
	@if [ -n '$(INJECT_CA_FROM)' ]; then ns='$(INJECT_CA_FROM)'; ns=$${ns%%/*}; name='$(INJECT_CA_FROM)'; name=$${name#*/}; \
	  secret=$$($(KUBECTL) -n "$$ns" get certificates.cert-manager.io "$$name" -o jsonpath='{.spec.secretName}'); \
	  want=$$($(KUBECTL) -n "$$ns" get secret "$$secret" -o jsonpath='{.data.ca\.crt}'); \
	  for i in $$(seq 60); do \
	  v=$$($(KUBECTL) get validatingwebhookconfiguration bouncer-validate -o jsonpath='{.webhooks[*].clientConfig.caBundle}' || true); \
	  m=$$($(KUBECTL) get mutatingwebhookconfiguration bouncer-mutate -o jsonpath='{.webhooks[*].clientConfig.caBundle}' || true); \
	  if [ -n "$$want" ] && [ -z "$$(echo $$v $$m | tr ' ' '\n' | grep -vxF "$$want")" ] && [ -n "$$v" ] && [ -n "$$m" ]; then \
	    echo "the CA injector filled caBundle with the CA of $(INJECT_CA_FROM)"; exit 0; fi; sleep 1; done; \
	  echo "caBundle does not hold the CA of $(INJECT_CA_FROM) after 60 s: is the cert-manager CA injector running? Until it does, every call fails open"; exit 1; fi

.PHONY: deploy-kubernetes
deploy-kubernetes: build ## Deploy IMAGE as a plain Deployment and register the webhooks (CERT_MANAGER=1, or CA_BUNDLE of the Secret bouncer-tls; POLICY).
	@test -n '$(IMAGE)' || { echo "set IMAGE=REGISTRY/bouncer@sha256:..."; exit 2; }
	@test -n '$(CERT_MANAGER)$(CA_BUNDLE)' || { echo "set CERT_MANAGER=1 (cert-manager issues, renews and injects the CA) or CA_BUNDLE=the CA of the Secret bouncer-tls"; exit 2; }
	$(KUBECTL) apply -f deploy/kubernetes/namespace.yaml
	$(if $(CERT_MANAGER),$(KUBECTL) apply -f deploy/kubernetes/cert-manager/)
	$(if $(CERT_MANAGER),$(KUBECTL) -n bouncer-system wait certificate/bouncer --for=condition=Ready --timeout=120s)
	$(if $(POLICY),$(KUBECTL) -n bouncer-system create configmap bouncer-policy --from-file=policy.yaml='$(POLICY)' --dry-run=client -o yaml | $(KUBECTL) apply -f -)
	cd deploy && go run ./render --platform kubernetes --image '$(IMAGE)' $(if $(POLICY),--policy-configmap bouncer-policy) | $(KUBECTL) apply -f -
	$(KUBECTL) -n bouncer-system rollout status deployment/bouncer --timeout=180s
	bin/bouncer webhookconfig --service bouncer-system/bouncer $(if $(CERT_MANAGER),--inject-ca-from bouncer-system/bouncer-ca,--ca-bundle '$(CA_BUNDLE)') \
	  $(if $(POLICY),--policy '$(POLICY)') | $(KUBECTL) apply -f -

# The scheduled audit (deploy/kubernetes/audit), judging with the functions'
# policy: POLICY is stored as they get it (the ConfigMap bouncer-policy, or
# with POLICY_FROM=secret the Secret bouncer-policy), so pass the same file as
# to deploy-kubernetes or deploy-knative; without POLICY it refuses when
# bouncer-system holds a policy, which the embedded default would ignore.
# The OpenReports CRDs are cluster-wide and may be installed already, maybe
# at a newer version, by Kyverno or Policy Reporter: they are created where
# missing and never replaced.
.PHONY: deploy-audit
deploy-audit: build ## Schedule `bouncer audit --apply` hourly as a CronJob of IMAGE, with its RBAC and the OpenReports CRDs (POLICY, POLICY_FROM=configmap|secret).
	@test -n '$(IMAGE)' || { echo "set IMAGE=REGISTRY/bouncer@sha256:..."; exit 2; }
	@case '$(POLICY_FROM)' in configmap|secret) ;; *) echo "POLICY_FROM=$(POLICY_FROM): want configmap (as deploy-kubernetes stores POLICY) or secret (as deploy-knative does)"; exit 2;; esac
	@if [ -z '$(POLICY)' ]; then \
	  found=$$($(KUBECTL) -n bouncer-system get configmap/bouncer-policy secret/bouncer-policy --ignore-not-found -o name); \
	  if [ -n "$$found" ]; then echo "deploy-audit: bouncer-system holds $$found, the functions' policy; pass the same file as POLICY=FILE, or the audit judges with the embedded default"; exit 2; fi; fi
	@for f in deploy/kubernetes/audit/openreports.io_*.yaml; do \
	  crd=$$(sed -n 's/^  name: //p' "$$f"); \
	  if [ -n "$$($(KUBECTL) get crd "$$crd" --ignore-not-found -o name)" ]; then echo "$$crd: installed already, left as it is"; \
	  else echo "$(KUBECTL) apply -f $$f"; $(KUBECTL) apply -f "$$f"; fi; done
	$(KUBECTL) wait crd/reports.openreports.io crd/clusterreports.openreports.io --for=condition=Established --timeout=60s
	$(KUBECTL) apply -f deploy/kubernetes/namespace.yaml
	$(if $(POLICY),$(KUBECTL) -n bouncer-system create $(if $(filter secret,$(POLICY_FROM)),secret generic,configmap) bouncer-policy --from-file=policy.yaml='$(POLICY)' --dry-run=client -o yaml | $(KUBECTL) apply -f -)
	bin/bouncer audit rbac $(if $(POLICY),--policy '$(POLICY)') | $(KUBECTL) apply -f -
	cd deploy && go run ./render --platform audit --image '$(IMAGE)' $(if $(POLICY),--policy-$(POLICY_FROM) bouncer-policy) | $(KUBECTL) apply -f -
	@echo "the first run is at the top of the hour; to run it now: $(KUBECTL) -n bouncer-system create job --from=cronjob/bouncer-audit bouncer-audit-now"

# Checks the API server's kinds before applying anything: kubectl apply goes
# on past a kind the server does not serve, so the full compile output on
# 1.30-1.35 (no MutatingAdmissionPolicy) would half-install.
ONLY ?=
.PHONY: deploy-compiled
deploy-compiled: build ## Install the policy as in-process admission (bouncer compile), the namespace guard with it; ONLY=validate on 1.30-1.35, beside the mutate webhook (POLICY).
	@kinds=$$($(KUBECTL) api-resources --api-group=admissionregistration.k8s.io -o name) || { echo "deploy-compiled: cannot list the API server's kinds"; exit 2; }; \
	  for k in validatingadmissionpolicies validatingadmissionpolicybindings $(if $(filter validate,$(ONLY)),,mutatingadmissionpolicies mutatingadmissionpolicybindings); do \
	    if ! grep -qx "$$k.admissionregistration.k8s.io" <<<"$$kinds"; then \
	      echo "deploy-compiled: this API server serves no $$k (ValidatingAdmissionPolicy needs Kubernetes 1.30, MutatingAdmissionPolicy 1.36); nothing was applied."; \
	      echo "  On 1.30 to 1.35: make deploy-compiled ONLY=validate, and the mutate webhook with bouncer webhookconfig --only mutate."; exit 2; fi; done
	bin/bouncer compile $(if $(ONLY),--only $(ONLY)) $(if $(POLICY),--policy '$(POLICY)') | $(KUBECTL) apply -f -

.PHONY: uninstall
uninstall: ## Remove bouncer: the audit and its reports, the webhook configurations (admission stops at once), the compiled policies, the namespace guard, then the service.
	@# The audit first, its running Job with it (foreground), so that no run
	@# reports the uninstall itself as enforcement off. Its reports go too:
	@# they describe a policy no longer enforced, and Policy Reporter would
	@# show them as current. The OpenReports CRDs stay: other tools (Kyverno,
	@# Trivy, Policy Reporter) may share them, and deleting a CRD deletes
	@# every tool's reports.
	$(KUBECTL) -n bouncer-system delete cronjob bouncer-audit --cascade=foreground --ignore-not-found
	@for kind in reports clusterreports; do \
	  if $(KUBECTL) api-resources --api-group=openreports.io -o name | grep -qx "$$kind.openreports.io"; then \
	    echo "$(KUBECTL) delete $$kind.openreports.io -A -l app.kubernetes.io/managed-by=bouncer"; \
	    $(KUBECTL) delete "$$kind.openreports.io" -A -l app.kubernetes.io/managed-by=bouncer --ignore-not-found; fi; done
	$(KUBECTL) delete clusterrolebinding,clusterrole bouncer-audit --ignore-not-found
	$(KUBECTL) delete validatingwebhookconfiguration bouncer-validate --ignore-not-found
	$(KUBECTL) delete mutatingwebhookconfiguration bouncer-mutate --ignore-not-found
	@# Each kind on its own: a cluster before 1.36 serves no MutatingAdmissionPolicy at all.
	@for kind in validatingadmissionpolicybindings validatingadmissionpolicies mutatingadmissionpolicybindings mutatingadmissionpolicies; do \
	  if $(KUBECTL) api-resources -o name | grep -qx "$$kind.admissionregistration.k8s.io"; then \
	    $(KUBECTL) delete $$kind -l app.kubernetes.io/managed-by=bouncer-compile --ignore-not-found; fi; done
	@# The namespace guard, which both generators emit, goes last: nothing it guards is enforced any more.
	$(KUBECTL) delete validatingadmissionpolicybinding,validatingadmissionpolicy bouncer-namespace-guard --ignore-not-found
	$(KUBECTL) delete namespace bouncer-system --ignore-not-found

.PHONY: kyverno
kyverno: $(KYVERNO) ## Build the pinned Kyverno CLI once (about 8 minutes cold on 2 cores), cached in .cache/.

$(KYVERNO): bench/kyverno/go.mod bench/kyverno/go.sum
	@mkdir -p $(dir $(KYVERNO))
	@echo "building the Kyverno CLI $(KYVERNO_VERSION) into $(KYVERNO); this happens once per version"
	cd bench/kyverno && go build -o $(KYVERNO) github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno
	@touch $(KYVERNO)

.PHONY: bench
bench: controlplane kyverno ## Run every benchmark side by side (about 20 minutes) and write docs/benchmarks.md, its only writer.
	cd bench && go build -o ../bin/bench ./cmd/bench
	cd bench && BOUNCER_CONTROLPLANE=$(CONTROLPLANE) BOUNCER_KYVERNO=$(KYVERNO) taskset -c 0 ../bin/bench -root .. -out docs/benchmarks.md

.PHONY: bench-notes
bench-notes: ## Rewrite docs/benchmarks.md's "Since the previous report" after editing bench/changes.md; measures nothing.
	cd bench && go run ./cmd/bench -root .. -out docs/benchmarks.md -notes-only

.PHONY: clean
clean: ## Remove bin/ (keeps the cached control plane; rm -rf .cache to drop it).
	rm -rf bin
