# One root go.mod builds every function. `sam build` runs the build-<LogicalId>
# targets (BuildMethod: makefile) with ARTIFACTS_DIR set; `make build` runs the
# same targets into build/<LogicalId>/ so what we test is what SAM ships.
SHELL := /bin/bash
GO ?= go
GOARCH ?= arm64
GOFLAGS_BUILD := -trimpath -tags lambda.norpc -ldflags="-s -w"
FUNCTIONS := LoginFunction CallbackFunction MeFunction LogoutFunction

.PHONY: build test dev bench fuzz clean

build: $(addprefix build/,$(FUNCTIONS))

build/%:
	$(MAKE) build-$* ARTIFACTS_DIR=$(CURDIR)/build/$*

define lambda_target
build-$(1):
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH) $(GO) build $(GOFLAGS_BUILD) -o $$(ARTIFACTS_DIR)/bootstrap ./functions/$(2)
endef
$(eval $(call lambda_target,LoginFunction,login))
$(eval $(call lambda_target,CallbackFunction,callback))
$(eval $(call lambda_target,MeFunction,me))
$(eval $(call lambda_target,LogoutFunction,logout))

# The whole suite: DynamoDB Local, the emulator, Chromium and short fuzz runs.
test:
	./scripts/test.sh

# The four handlers, an embedded store and a dev OpenID provider on localhost.
dev:
	@$(GO) build -o build/dev ./cmd/dev && exec ./build/dev

bench:
	./scripts/bench.sh

# Every fuzz target for FUZZTIME (default 20s) each; make test runs them for 10s.
fuzz:
	./scripts/fuzz.sh

clean:
	rm -rf build .aws-sam
