# Parley developer targets. `make help` lists them.
.DEFAULT_GOAL := help
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c

# Every target runs the Node.js and npm pinned in hack/versions.env (hack/node.sh installs
# them into the cache once), never the machine's own node: their bin directory comes first.
export PARLEY_CACHE ?= $(HOME)/.cache/parley
NODE_VERSION := $(shell sed -n 's/^NODE_VERSION=//p' hack/versions.env)
NODE_HOME := $(PARLEY_CACHE)/node-$(NODE_VERSION)
export PATH := $(NODE_HOME)/bin:$(PATH)
# Named by version, so a bump in versions.env makes a new target and, being newer than the
# install stamp below, reinstalls the modules for the new Node.js too.
NODE := $(NODE_HOME)/.complete

$(NODE):
	hack/node.sh

# npm ci runs again only when the lockfile or the Node.js version changes.
INSTALLED := node_modules/.installed

$(INSTALLED): package.json package-lock.json $(NODE)
	npm ci --no-audit --no-fund
	@touch $@

.PHONY: help node install build dev test typecheck lint layout unit browser generate bench bench-peers bench-flows bench-real chaos chaos-short soak sbom clean infra-up infra-down infra-status cluster-up cluster-down cluster-status e2e-cluster e2e-serve

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

node: $(NODE) ## install the pinned Node.js and npm into the cache (every target does this first)
	@echo "node $$(node --version), npm $$(npm --version): $(NODE_HOME)/bin"

install: $(INSTALLED) ## install the npm dependencies (npm ci) if the lockfile changed

build: $(INSTALLED) ## compile TypeScript into dist/ and build the web messenger into dist/web
	npm run --silent build

dev: build ## run the whole platform in one process on embedded back ends (ARGS="--port 9000" to pass flags)
	node dist/services/cli/parley.js dev $(ARGS)

test: typecheck lint layout infra-up unit e2e-serve browser e2e-cluster ## start the real back ends, type-check, lint, check the layout and run every test, browser tests included (what CI runs)

typecheck: $(INSTALLED) ## type-check everything, tests included
	npm run --silent typecheck

lint: $(INSTALLED) ## lint with typescript-eslint
	npm run --silent lint

# Test code: *.test.ts, test helpers (testing/), contract suites (contract/), e2e support (support/).
TEST_CODE := \.test\.ts$$|/(testing|contract|support)/

layout: $(INSTALLED) ## check which folders may import which (.dependency-cruiser.cjs) and that the build emits no test code
	npm run --silent layout
	@# What `npm run build` compiles into dist/, asked of tsc itself: a dist/ left by an older
	@# build may hold stale files, and CI's fresh clone has none, so listing dist/ proves nothing.
	@leaks=$$(npx tsc -p tsconfig.build.json --listFilesOnly | grep "^$$PWD/" | grep -E '$(TEST_CODE)' || true); \
	  if [[ -n "$$leaks" ]]; then echo "test code compiled into dist/:"; echo "$$leaks"; exit 1; fi; \
	  echo "✔ npm run build emits no test code into dist/"

unit: $(INSTALLED) ## run the vitest suites (unit, contract and end-to-end)
	npm test

e2e-serve: build infra-up ## the protocol's end-to-end suites against the production shape: 2 gateways and 1, then 2, parley serve replicas of each service on the real back ends
	npx vitest run --config services/e2e/support/vitest.serve.config.ts

browser: $(INSTALLED) ## install Debian's chromium if missing (hack/chromium.sh), then run the web messenger's browser tests
	hack/chromium.sh
	npm run --silent test:web

infra-up: ## start Kafka, Cassandra, Redis, S3Proxy and a Kubernetes control plane on 127.0.0.1 (downloads cached in ~/.cache/parley)
	hack/infra.sh up

infra-down: ## stop the local back ends
	hack/infra.sh down

infra-status: ## show which local back ends run
	hack/infra.sh status

cluster-up: ## start the one-node Kubernetes cluster that runs real pods (hack/cluster; root; builds kubelet, images... once into ~/.cache/parley)
	hack/cluster/cluster.sh up

cluster-down: ## stop the one-node cluster: its pods, network rules, node processes and control plane
	hack/cluster/cluster.sh down

cluster-status: ## show whether the one-node cluster runs
	hack/cluster/cluster.sh status

# The image tags of this run: the revision, and a second tag of the same image that
# `helm upgrade` rolls the operator to.
E2E_TAG := e2e-$(shell git rev-parse --short HEAD 2>/dev/null || echo local)

e2e-cluster: build infra-up cluster-up ## helm-install Parley on the one-node cluster with the image built from dist/ and run the real-pod end-to-end tests
	hack/cluster/images.sh parley $(E2E_TAG) $(E2E_TAG)-upgrade
	PARLEY_E2E_IMAGE_TAG=$(E2E_TAG) PARLEY_E2E_UPGRADE_TAG=$(E2E_TAG)-upgrade npx vitest run --config operator/e2e-cluster/support/vitest.config.ts

generate: $(INSTALLED) ## regenerate the CRD, the chart's RBAC roles, the field tables in docs/operator.md and docs/configuration.md
	npm run --silent generate

bench: build ## Parley beside a bare ws server, interleaved, ratios beside their targets (docs/benchmarks.md), then start-up, asset memory and big-group-burst figures (not a test: nothing fails on a number)
	node dist/services/bench/suite/suite.js $(BENCH_ARGS)
	node dist/services/cli/startup-bench.js
	node dist/services/bench/assets-memory.js
	node dist/services/bench/big-group-burst.js

bench-peers: build ## the same suite with Centrifugo v6 beside them in the idle and fan-out scenarios (built from its Go module into ~/.cache/parley)
	node dist/services/bench/suite/suite.js --peers $(BENCH_ARGS)

bench-flows: build ## the earlier single-server figures: 1:1 throughput, memory per connection, group fan-out tiers
	node dist/services/bench/run.js

bench-real: build infra-up ## the same figures for parley serve processes on the real back ends
	node dist/services/bench/real-backends.js

chaos: build infra-up ## fault scenarios on the real back ends, printing the table of docs/operations.md (restarts the shared Kafka, Redis and Cassandra; needs root for iptables)
	node dist/services/chaos/run.js

chaos-short: build infra-up ## only the fault scenarios that leave the shared back ends running (process kill, replica kill at 2 replicas, spike, reconnect storm, partition, 3-broker Kafka, Redis Cluster failover)
	node dist/services/chaos/run.js short

soak: build infra-up ## 30 minutes of steady traffic on the real back ends, printing memory per minute and latency at the start and end (not in make test)
	node dist/services/chaos/run.js soak --after 10 --drain 30

sbom: build ## write dist/sbom.cdx.json, the CycloneDX SBOM of the production modules the image ships (docs/operations.md)
	node dist/services/tools/generate-sbom.js

clean: ## remove build output and installed modules
	rm -rf dist node_modules
