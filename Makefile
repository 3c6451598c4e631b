# creditrun: `make` or `make help` lists the targets.

.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

GO     ?= go
GOPATH := $(firstword $(subst :, ,$(shell $(GO) env GOPATH)))
GOBIN  := $(GOPATH)/bin
# Tests find versitygw, which `make tools` installs here, on PATH.
export PATH := $(GOBIN):$(PATH)

VERSITYGW_VERSION     := v1.8.0
GOLANGCI_LINT_VERSION := v2.15.0
# toxiproxy's server puts network faults between the fault suite's processes.
TOXIPROXY_VERSION     := v2.12.0
# sudo only when not root (a fresh container has no sudo and needs none).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Benchmarks: override as `make bench BENCH=Reserve BENCHTIME=5s`.
BENCH     ?= .
BENCHTIME ?= 1s
# Every package with a Benchmark function (ledger/..., source/... and any other).
BENCH_PKGS = $(shell grep -rl --include='*_test.go' '^func Benchmark' . 2>/dev/null | xargs -r -n1 dirname | sort -u)

.PHONY: help run test faults bench lint build tools fmt-check docs-check

help: ## show the targets
	@echo "usage: make <target>"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# run builds, then execs the binary in place of the recipe's shell, so that
# creditrun is make's child and stops cleanly, saving its state, on Ctrl-C,
# on SIGTERM to make (which make passes on), and on SIGINT to make's pid
# alone (which make does not pass on: creditrun dev notices make was
# interrupted, see cmd/creditrun/makeparent_linux.go).
run: ## build bin/creditrun and run it on embedded defaults (creditrun dev); state stays in ./.creditrun
	$(GO) build -o bin/creditrun ./cmd/creditrun && exec bin/creditrun dev

test: tools ## install what the tests need if missing, then vet, check gofmt, and run every test with -race
	@echo "--- go vet"
	$(GO) vet ./...
	@echo "--- gofmt"
	@$(MAKE) --no-print-directory fmt-check
	@echo "--- go test"
	$(GO) test -race -timeout 30m ./...
	@echo "--- docs-check"
	@$(MAKE) --no-print-directory docs-check

faults: tools ## run the fault suite at length (CREDITRUN_FAULTS=long); `make test` runs it bounded
	@echo "--- go test -run TestFaults, at length (the summaries are the FAULTS lines; faults.log has it all)"
	CREDITRUN_FAULTS=long $(GO) test -race -count=1 -timeout 90m -run '^TestFaults' -v ./cmd/creditrun/ 2>&1 | tee faults.log | \
		grep -E 'FAULTS |acknowledged|^(--- |ok|FAIL|panic)' || true
	@! grep -qE '^(--- FAIL|FAIL|panic)' faults.log

fmt-check: ## list the Go files gofmt would change, and fail if there are any
	@unformatted=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*')); \
	if [ -n "$$unformatted" ]; then \
		echo "these files are not gofmt-ed (run gofmt -w on them):"; \
		echo "$$unformatted" | sed 's/^/  /'; \
		exit 1; \
	fi

bench: tools ## run the Go benchmarks (ledger, source, ...) and `creditrun bench`
	@echo "--- go test -bench in: $(BENCH_PKGS)"
	@if [ -n "$(strip $(BENCH_PKGS))" ]; then \
		$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -benchmem -count 1 $(BENCH_PKGS); \
	else \
		echo "no package has benchmarks yet"; \
	fi
	@echo "--- creditrun bench"
	$(GO) run ./cmd/creditrun bench

lint: ## run golangci-lint (config: .golangci.yaml)
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION) run ./...

docs-check: build ## run the shell blocks marked <!-- check --> in README.md and docs/*.md against a fresh creditrun dev
	$(GO) run ./internal/docscheck -bin bin/creditrun README.md docs/*.md

build: ## build bin/creditrun
	$(GO) build -o bin/creditrun ./cmd/creditrun

tools: ## install redis-server, redis-cli, a C compiler (for -race), chromium (console tests), curl and jq (docs-check), versitygw and toxiproxy-server when missing
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v redis-cli >/dev/null 2>&1 || missing="$$missing redis-tools"; \
	command -v "$$($(GO) env CC)" >/dev/null 2>&1 || missing="$$missing gcc libc6-dev"; \
	command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
	command -v jq >/dev/null 2>&1 || missing="$$missing jq"; \
	if [ -n "$$missing" ]; then \
		if ! command -v apt-get >/dev/null 2>&1; then \
			echo "missing:$$missing; no apt-get here, install them by hand"; exit 1; \
		fi; \
		echo "--- installing$$missing"; \
		$(SUDO) apt-get update -qq; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@if [ ! -x "$(GOBIN)/versitygw" ]; then \
		echo "--- installing versitygw $(VERSITYGW_VERSION) into $(GOBIN)"; \
		GOBIN="$(GOBIN)" $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION); \
	fi
	@# toxiproxy's module names its server binary "server": build it aside and
	@# install it under a name that says what it is.
	@if [ ! -x "$(GOBIN)/toxiproxy-server" ]; then \
		echo "--- installing toxiproxy-server $(TOXIPROXY_VERSION) into $(GOBIN)"; \
		tmp=$$(mktemp -d); \
		GOBIN="$$tmp" $(GO) install github.com/Shopify/toxiproxy/v2/cmd/server@$(TOXIPROXY_VERSION); \
		mkdir -p "$(GOBIN)"; \
		mv "$$tmp/server" "$(GOBIN)/toxiproxy-server"; \
		rmdir "$$tmp"; \
	fi
