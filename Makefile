# One root go.mod builds every function. `sam build` runs the build-<LogicalId>
# targets (BuildMethod: makefile) with ARTIFACTS_DIR set; `make build` runs the
# same targets into build/<LogicalId>/ so what we test is what SAM ships.
SHELL := /bin/bash
GO ?= go
# What the template declares (Architectures: [arm64]). `:=` ignores an exported GOARCH, so
# `GOARCH=amd64 sam build` still ships arm64; `make GOARCH=amd64 build-X` (a command-line
# variable) still overrides it, as the emulator tests do to build for the host.
GOARCH := arm64
GOFLAGS_BUILD := -trimpath -tags lambda.norpc -ldflags="-s -w"
# Every AWS::Serverless::Function of template.yaml (e2e/deploy_test.go checks the list).
FUNCTIONS := LoginFunction CallbackFunction MeFunction LogoutFunction AuthorizerFunction ExampleProfileFunction

.PHONY: build test dev bench fuzz clean

build: $(addprefix build/,$(FUNCTIONS))

build/%:
	$(MAKE) build-$* ARTIFACTS_DIR=$(CURDIR)/build/$*

define lambda_target
build-$(1):
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH) $(GO) build $(GOFLAGS_BUILD) -o $$(ARTIFACTS_DIR)/bootstrap ./$(2)
endef
$(eval $(call lambda_target,LoginFunction,functions/login))
$(eval $(call lambda_target,CallbackFunction,functions/callback))
$(eval $(call lambda_target,MeFunction,functions/me))
$(eval $(call lambda_target,LogoutFunction,functions/logout))
$(eval $(call lambda_target,AuthorizerFunction,functions/authorizer))
$(eval $(call lambda_target,ExampleProfileFunction,examples/profile))

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
