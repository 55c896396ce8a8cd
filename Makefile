# galera-sentinel. `make help` lists the targets.

SHELL        := /bin/bash
GO           ?= go
BIN          := bin/galera-sentinel
DISTDIR      ?= dist
PLATFORMS    ?= linux/amd64 linux/arm64 linux/386
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT       ?= $(shell git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
# Static by default: no libc, runs on any distribution. The static-binary
# test fails if this is switched on.
CGO_ENABLED  ?= 0
export CGO_ENABLED
LDFLAGS      := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# The whole suite; integration tests start real mariadbd clusters.
TEST_TIMEOUT ?= 60m
# Test binaries run at once. The integration packages (e2e/*) mostly wait
# on mariadbd, and each cluster takes a slot of its own
# (internal/testcluster), so one more than GOMAXPROCS (go test's default,
# 2 on CI) pays; many more starve the state transfers past the tests'
# budgets on 2 cores. bench/suite-times.sh measures it.
TEST_P       ?= 3
STATICCHECK  := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: help build dist test test-go fuzz lint deps demo clean kube-deps kube-binaries image image-previous image-trixie haproxy-image e2e-k8s e2e-k8s-sweep

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/galera-sentinel for this machine
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/galera-sentinel

dist: ## static binaries for every platform under dist/
	@mkdir -p $(DISTDIR)
	@set -e; for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; out=$(DISTDIR)/galera-sentinel-$$os-$$arch; \
		echo "  $$out"; \
		GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $$out ./cmd/galera-sentinel; \
	done

deps: ## install the system packages the tests and the demo need (apt-get, idempotent)
	scripts/install-deps.sh

test: deps ## install what the tests need, then run the whole suite and each fuzzer briefly
	$(MAKE) test-go
	$(MAKE) fuzz

# Every parser of untrusted input has a fuzzer; `make fuzz` runs each for
# FUZZTIME (go test -fuzz takes one target per run; scripts/fuzz.sh runs
# one once more when Go's coordinator fails it at the end of the time
# having found nothing).
FUZZTIME    ?= 15s
FUZZTARGETS := ./internal/galera:FuzzParseGrastate ./internal/galera:FuzzParseRecoveredPosition \
               ./internal/peer:FuzzDecodeState ./internal/mysqlstat:FuzzParseSample \
               ./internal/galera:FuzzParseLastView

fuzz: ## run each fuzzer for FUZZTIME (default 15s)
	@set -e; for t in $(FUZZTARGETS); do \
		pkg=$${t%%:*}; fn=$${t#*:}; echo "  $$fn ($$pkg, $(FUZZTIME))"; \
		GO=$(GO) scripts/fuzz.sh $$pkg $$fn $(FUZZTIME); \
	done

test-go: ## run the whole suite (assumes deps are installed)
	$(GO) test -count=1 -p $(TEST_P) -timeout $(TEST_TIMEOUT) ./...

lint: ## gofmt, go vet, staticcheck (also the e2e-k8s files, build tag e2ek8s)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2ek8s ./e2e/kube/
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(STATICCHECK) -tags e2ek8s ./e2e/kube/

demo: deps build ## a local 3-node cluster under `run`, HAProxy in front, the cluster view; Ctrl-C stops it and removes everything
	$(BIN) demo

# --- Kubernetes (issue 11): the image, a real Kubernetes of worker nodes, e2e ---
# Built and cached under KUBE_CACHE (a second run builds nothing). See
# internal/testkube for what the cluster creates on the host.
KUBE_CACHE   ?= /var/cache/galera-sentinel-kube
IMAGE_TAG    ?= test
IMAGE_OUT    ?= $(KUBE_CACHE)/images/galera-sentinel-mariadb-$(IMAGE_TAG).tar
HAPROXY_OUT  ?= $(KUBE_CACHE)/images/galera-sentinel-haproxy-$(IMAGE_TAG).tar
IMAGE_TRIXIE_OUT ?= $(KUBE_CACHE)/images/galera-sentinel-mariadb-trixie.tar
IMAGE_PREVIOUS_OUT ?= $(KUBE_CACHE)/images/galera-sentinel-mariadb-previous.tar
E2E_TIMEOUT  ?= 80m
# Worker nodes, each a network namespace with its own containerd and
# kubelet: five, so that the base's required anti-affinity holds the scale
# to five members (S13); 0 is the older single node on the host.
E2E_NODES    ?= 5
export KUBE_CACHE

kube-deps: ## install containerd, runc, CNI plugins, buildah, debootstrap (apt-get, idempotent)
	scripts/kube-deps.sh

kube-binaries: ## build etcd, Kubernetes 1.31 and CoreDNS from the Go module proxy (cached)
	scripts/kube-binaries.sh

image: ## build the Dockerfile (on a debootstrap base) with buildah into an OCI archive (IMAGE_OUT)
	scripts/build-image.sh $(IMAGE_OUT) $(IMAGE_TAG)

image-trixie: ## the same image on Debian trixie (MariaDB 11.8), for upgrades (IMAGE_TRIXIE_OUT)
	SUITE=trixie scripts/build-image.sh $(IMAGE_TRIXIE_OUT) trixie

image-previous: ## the same image on the MariaDB release before the Dockerfile's pin, for the minor upgrade of e2e-k8s (IMAGE_PREVIOUS_OUT)
	scripts/build-image.sh --previous $(IMAGE_PREVIOUS_OUT) previous

haproxy-image: ## build HAProxy laid out as the official image (scripts/haproxy.Dockerfile), for the in-cluster HAProxy of e2e-k8s (HAPROXY_OUT)
	scripts/build-image.sh --haproxy $(HAPROXY_OUT) $(IMAGE_TAG)

e2e-k8s: kube-deps kube-binaries image image-previous image-trixie haproxy-image ## the scenarios of deploy/kubernetes on a real Kubernetes of E2E_NODES worker nodes
	GALERA_SENTINEL_IMAGE_ARCHIVE=$(IMAGE_OUT) GALERA_SENTINEL_HAPROXY_IMAGE_ARCHIVE=$(HAPROXY_OUT) GALERA_SENTINEL_TRIXIE_IMAGE_ARCHIVE=$(IMAGE_TRIXIE_OUT) GALERA_SENTINEL_PREVIOUS_IMAGE_ARCHIVE=$(IMAGE_PREVIOUS_OUT) GALERA_KUBE_CACHE=$(KUBE_CACHE) GALERA_KUBE_NODES=$(E2E_NODES) \
		$(GO) test -tags e2ek8s -count=1 -v -timeout $(E2E_TIMEOUT) ./e2e/kube/

e2e-k8s-sweep: ## remove whatever a killed e2e-k8s run left on this machine
	$(GO) run ./internal/testkube/testkube sweep

clean: ## remove build output
	rm -rf bin $(DISTDIR)
