# The two commands a newcomer needs: `make run` and `make test`.
# Python is tooling only (moto, cfn-lint), installed into a git-ignored .venv.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VENV_STAMP := $(VENV)/.installed-$(shell cksum < infra/requirements.txt | cut -d' ' -f1)
GO_BUILD_FLAGS := -tags lambda.norpc -trimpath -ldflags "-s -w"
FUNCTIONS := AdminApiFunction:admin-api PublicApiFunction:public-api StreamFunction:stream DispatcherFunction:dispatcher ReviewDeadlineFunction:review-deadline

.PHONY: run test vet unit lint build venv clean fuzz-seed soak

run: $(VENV_STAMP)
	go run ./infra/local/cmd/pregate-local $(ARGS)

test: $(VENV_STAMP) vet lint
	go test -count=1 ./...

vet:
	go vet ./...

# Load and fault run (docs/soak.md), not part of `make test`: SOAK_REQUESTS=5000 by default.
soak: $(VENV_STAMP)
	go run ./infra/soak

lint: $(VENV_STAMP)
	$(VENV)/bin/cfn-lint template.yaml

venv: $(VENV_STAMP)

$(VENV_STAMP): infra/requirements.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.txt
	rm -f $(VENV)/.installed-* && touch $@

# Lambda bundles: `sam build` calls build-<LogicalId> with ARTIFACTS_DIR set.
define lambda_target
build-$(1):
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build $(GO_BUILD_FLAGS) -o $$(ARTIFACTS_DIR)/bootstrap ./functions/$(2)
endef
$(foreach f,$(FUNCTIONS),$(eval $(call lambda_target,$(word 1,$(subst :, ,$(f))),$(word 2,$(subst :, ,$(f))))))

# Every function for linux/arm64 under bin/<LogicalId>/bootstrap, as sam build would.
build:
	@for f in $(FUNCTIONS); do id=$${f%%:*}; \
	  $(MAKE) --no-print-directory build-$$id ARTIFACTS_DIR=$(CURDIR)/bin/$$id || exit 1; \
	  ls -l bin/$$id/bootstrap; done

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
