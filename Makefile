# The two commands a newcomer needs: `make run` and `make test`.
# Python is tooling only (moto, cfn-lint), installed into a git-ignored .venv.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VENV_STAMP := $(VENV)/.installed-$(shell cksum < infra/requirements.txt | cut -d' ' -f1)
# checkov pins boto3 and friends to versions the SAM CLI and moto refuse, so it
# has a venv of its own inside the git-ignored .venv.
CHECKOV_VENV := $(VENV)/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(shell cksum < infra/requirements-checkov.txt | cut -d' ' -f1)
GO_BUILD_FLAGS := -tags lambda.norpc -trimpath -ldflags "-s -w"
FUNCTIONS := AdminApiFunction:admin-api PublicApiFunction:public-api StreamFunction:stream DispatcherFunction:dispatcher ReconcilerFunction:reconciler

.PHONY: run test tools vet lint spectral sam-build build venv clean bench bench-hello bench-floors soak screenshots sdk-deps sdk-test

# Built, then exec'd: Ctrl-C reaches the program itself, which stops moto and
# exits 0 (go run would relink on every start and report the signal as an error).
run: $(VENV_STAMP)
	go build -o bin/pregate-local ./infra/local/cmd/pregate-local
	exec bin/pregate-local $(ARGS)

# PREGATE_MAKE_TEST: a test that cannot run here fails instead of skipping.
test: tools $(VENV_STAMP) vet lint spectral sam-build sdk-test
	PREGATE_MAKE_TEST=1 go test -count=1 -timeout 45m ./...

# curl, jq, Chromium, Node.js and npm: installed with apt-get as root, or a hint.
tools:
	@bash infra/ensure-tools.sh

# Spectral's spectral:oas ruleset on the API reference: no warning allowed.
# Pinned in infra/spectral/package-lock.json; npm ci runs no install scripts.
SPECTRAL_DIR := infra/spectral
SPECTRAL_STAMP := $(SPECTRAL_DIR)/node_modules/.installed-$(shell cksum < $(SPECTRAL_DIR)/package-lock.json | cut -d' ' -f1)
spectral: $(SPECTRAL_STAMP)
	$(SPECTRAL_DIR)/node_modules/.bin/spectral lint docs/openapi.yaml --ruleset $(SPECTRAL_DIR)/.spectral.yaml --fail-severity=warn
$(SPECTRAL_STAMP): $(SPECTRAL_DIR)/package-lock.json
	cd $(SPECTRAL_DIR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

vet:
	go vet ./...

# The admin console's pictures in docs/console, taken by its browser tests.
screenshots: tools $(VENV_STAMP)
	PREGATE_SCREENSHOTS=1 go test -count=1 -run 'TestAdminConsole|TestPrivacyTeamDay' -v ./infra/browsertest

# Load and fault run (docs/internals/soak.md), not part of `make test`: SOAK_REQUESTS=5000 by default.
soak: $(VENV_STAMP)
	go run ./infra/soak

# sam validate --lint is SAM's own transform check plus cfn-lint; it calls no
# AWS API (telemetry off), so it needs no account or network. checkov is the
# policy linter: every finding is fixed or skipped in the template with its
# reason (Metadata: checkov: skip); it downloads nothing (--skip-download,
# BC_SKIP_MAPPING) and runs only the CloudFormation checks.
lint: $(VENV_STAMP) $(CHECKOV_STAMP)
	$(VENV)/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(VENV)/bin/sam validate --lint
	BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false $(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download \
	  --framework cloudformation --file template.yaml

# sam build as a deploy runs it: the Makefile's build-<LogicalId> targets
# (samconfig.toml's build_in_source; no Docker), into the git-ignored .aws-sam/.
# --no-cached: the Go build cache already makes a rebuild quick, and SAM's own
# cache would hash the whole source folder, .venv included.
sam-build: $(VENV_STAMP)
	SAM_CLI_TELEMETRY=0 $(VENV)/bin/sam build --no-cached --build-dir .aws-sam/build

venv: $(VENV_STAMP) $(CHECKOV_STAMP)

$(VENV_STAMP): infra/requirements.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.txt
	rm -f $(VENV)/.installed-* && touch $@

$(CHECKOV_STAMP): infra/requirements-checkov.txt | $(VENV_STAMP)
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-checkov.txt
	rm -f $(CHECKOV_VENV)/.installed-* && touch $@

# Lambda bundles: `sam build` calls build-<LogicalId> with ARTIFACTS_DIR set.
# LAMBDA_ARCH is the template's arm64; make bench also builds for this host.
LAMBDA_ARCH ?= arm64
define lambda_target
build-$(1):
	GOOS=linux GOARCH=$$(LAMBDA_ARCH) CGO_ENABLED=0 go build $(GO_BUILD_FLAGS) -o $$(ARTIFACTS_DIR)/bootstrap ./functions/$(2)
endef
$(foreach f,$(FUNCTIONS),$(eval $(call lambda_target,$(word 1,$(subst :, ,$(f))),$(word 2,$(subst :, ,$(f))))))

# Every function for linux/arm64 under $(BUILD_DIR)/<LogicalId>/bootstrap, as sam build would.
BUILD_DIR ?= bin
build:
	@for f in $(FUNCTIONS); do id=$${f%%:*}; \
	  $(MAKE) --no-print-directory build-$$id ARTIFACTS_DIR=$(CURDIR)/$(BUILD_DIR)/$$id || exit 1; \
	  ls -l $(BUILD_DIR)/$$id/bootstrap; done

# The Python and TypeScript validator SDKs and their examples: their own
# tools (a virtualenv inside the git-ignored .venv, npm ci from the committed
# lockfiles), reinstalled when the pinned versions change. sdk-test lints and
# type-checks both, runs their tests on the shared vectors, and installs each
# package as its users do; go test's infra/local then drives each example
# against the local system.
SDK_VENV := $(VENV)/sdk
SDK_VENV_STAMP := $(SDK_VENV)/.installed-$(shell cksum < validator/python/requirements-dev.txt | cut -d' ' -f1)
SDK_TS := validator/typescript
SDK_TS_STAMP := $(SDK_TS)/node_modules/.ci-$(shell cksum < $(SDK_TS)/package-lock.json | cut -d' ' -f1)
EXAMPLE_TS := examples/validator-typescript
EXAMPLE_TS_STAMP := $(EXAMPLE_TS)/node_modules/.ci-$(shell cksum < $(EXAMPLE_TS)/package-lock.json | cut -d' ' -f1)

sdk-deps: tools $(SDK_VENV_STAMP) $(SDK_TS_STAMP) $(EXAMPLE_TS_STAMP)

$(SDK_VENV_STAMP): validator/python/requirements-dev.txt
	test -x $(SDK_VENV)/bin/python || $(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/pip install --quiet --disable-pip-version-check -r validator/python/requirements-dev.txt
	rm -f $(SDK_VENV)/.installed-* && touch $@

# No install scripts run: dist/ is built below, when a source changed.
$(SDK_TS_STAMP): $(SDK_TS)/package-lock.json
	cd $(SDK_TS) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

$(EXAMPLE_TS_STAMP): $(EXAMPLE_TS)/package-lock.json | $(SDK_TS_STAMP)
	cd $(EXAMPLE_TS) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

$(SDK_TS)/dist/index.js: $(wildcard $(SDK_TS)/src/*.ts) $(SDK_TS)/tsconfig.json $(SDK_TS_STAMP)
	cd $(SDK_TS) && npm run --silent build

sdk-test: sdk-deps $(SDK_TS)/dist/index.js
	cd validator/python && $(CURDIR)/$(SDK_VENV)/bin/ruff check --config pyproject.toml . ../../examples/validator-python
	cd validator/python && $(CURDIR)/$(SDK_VENV)/bin/mypy --strict src tests ../../examples/validator-python/app.py
	cd validator/python && $(CURDIR)/$(SDK_VENV)/bin/pytest -q -p no:cacheprovider
	cd $(SDK_TS) && npm run --silent check && node --test test/
	$(SDK_TS)/node_modules/.bin/tsc -p $(EXAMPLE_TS)
	validator/packaging_test.sh $(CURDIR)/$(SDK_VENV)/bin/pip

# The figures of DEVELOPMENT.md "Benchmarks"; not part of make test.
# Sizes are of the arm64 build; init times are measured on a build for this
# host (bin/host, with a hello-world built the same way), each process
# served by the bench's own Lambda Runtime API.
# The hello world is written into git-ignored bin/ at bench time, so that only
# functions/<name>/main.go in the repository starts Lambda (internal/archtest);
# the leading _ keeps it out of ./... (go vet, go test).
HELLO_SRC := bin/_hello/main.go
define HELLO_GO
// The smallest aws-lambda-go function: make bench's cold-start baseline.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, json.RawMessage) (string, error) { return "hello", nil })
}
endef
export HELLO_GO
bench-hello:
	@mkdir -p $(dir $(HELLO_SRC)) && printf '%s\n' "$$HELLO_GO" > $(HELLO_SRC)
	GOOS=linux GOARCH=$$(go env GOARCH) CGO_ENABLED=0 go build $(GO_BUILD_FLAGS) -o bin/host/Hello/bootstrap ./$(dir $(HELLO_SRC))
# Each function's SDK floor: the hello world importing (blank) every public
# package of the AWS SDK and smithy-go the function links, so that it runs
# their package initialisation (service schemas, endpoint tables) and nothing
# of ours: the init the function cannot go below while it calls those services.
bench-floors:
	@for f in $(FUNCTIONS); do id=$${f%%:*}; src=bin/_floor/$$id; mkdir -p $$src; \
	  printf '%s\n' "$$HELLO_GO" > $$src/main.go; \
	  { echo 'package main'; echo 'import ('; \
	    go list -deps -tags lambda.norpc ./functions/$${f##*:} | grep -E '^github.com/aws/(aws-sdk-go-v2|smithy-go)/' | grep -v /internal | sed 's/.*/\t_ "&"/'; \
	    echo ')'; } > $$src/sdk.go; \
	  GOOS=linux GOARCH=$$(go env GOARCH) CGO_ENABLED=0 go build $(GO_BUILD_FLAGS) -o bin/host/floor/$$id/bootstrap ./$$src || exit 1; done
bench: $(VENV_STAMP) build bench-hello bench-floors
	@$(MAKE) --no-print-directory build BUILD_DIR=bin/host LAMBDA_ARCH=$$(go env GOARCH) > /dev/null
	go run ./infra/bench -arm64 bin -host bin/host $(BENCH_ARGS)

clean:
	rm -rf bin .aws-sam

# Every fuzz target, one at a time on one worker: `make fuzz FUZZTIME=5m`.
# `make test` runs their seed corpora (testdata/fuzz and f.Add) as unit tests.
FUZZTIME ?= 30s
.PHONY: fuzz
fuzz:
	@for pkg in $$(go list ./...); do \
	  for t in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$t $$pkg"; go test -run='^$$' -fuzz="^$$t\$$" -fuzztime=$(FUZZTIME) -parallel=1 $$pkg || exit 1; \
	  done; done
