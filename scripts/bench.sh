#!/usr/bin/env bash
# Benchmarks: what `make bench` runs. BENCHMARKS.md records the figures against
# docs/contract.md §7's targets.
#
#   1. the package benchmarks under pkg/ and internal/routes/ (handlers per route
#      on the memory store and DynamoDB Local; BenchmarkMeOverhead and, where it
#      exists, BenchmarkAuthorizerOverhead: the handler's cost against a bare
#      GetItem, target under 10%), COUNT runs each
#   2. cold start: e2e BenchmarkColdStart, each function under functions/ started
#      alternately with a null Go function in fresh Lambda runtime emulators,
#      COLDSTARTS starts each; medians and their ratios (targets: me, login,
#      authorizer 2x; callback, logout 2.5x)
#   3. per function of the Makefile's FUNCTIONS: the arm64 bootstrap `make build`
#      ships, its size and its module list (`go version -m`); me and authorizer
#      must list no OpenID client, JWT library, Secrets Manager or SSM module; login,
#      callback and logout no Secrets Manager or SSM module (callback and logout read
#      their secrets with secretenv's signed calls; the script fails at the end otherwise)
#
# Times are reported, never asserted. DynamoDB Local is started on a free port and
# stopped on exit. Raw output goes to BENCH_OUT (default build/bench/); the summary
# is printed at the end and saved as summary.txt.
#
#   COUNT=5 COLDSTARTS=30 BENCH=. scripts/bench.sh
#   BENCH='^$' scripts/bench.sh           # cold start, sizes and modules only
#   COLDSTART_BOOTSTRAPS=dir scripts/bench.sh   # start prebuilt bootstraps,
#       dir/<LogicalId>/bootstrap (e.g. an earlier commit's, built for the host)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

COUNT=${COUNT:-5}
COLDSTARTS=${COLDSTARTS:-30}
BENCH=${BENCH:-.}
out=${BENCH_OUT:-build/bench}
export COLDSTARTS

# Modules a binary must not list (docs/contract.md §7: each binary links only what
# its route uses).
openid='github.com/coreos/go-oidc github.com/go-jose/go-jose golang.org/x/oauth2'
secrets='github.com/aws/aws-sdk-go-v2/service/secretsmanager github.com/aws/aws-sdk-go-v2/service/ssm'
heavy="$openid $secrets github.com/aws/aws-sdk-go-v2/config"
forbidden() {
	case $1 in
	MeFunction | AuthorizerFunction) echo "$openid $secrets" ;;
	LoginFunction | CallbackFunction | LogoutFunction) echo "$secrets" ;;
	esac
}

# shellcheck source=scripts/dynamodb-local.sh
. scripts/dynamodb-local.sh
bin_dir=$(mktemp -d)
cleanup() {
	dynamodb_local_stop
	rm -rf "$bin_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$out"
{
	echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "cpu:     $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') ($(nproc) cores)"
	echo "memory:  $(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
	echo "kernel:  $(uname -sr)"
	echo "go:      $(go version)"
	echo "java:    $(java -version 2>&1 | head -n 1)"
	echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} | tee "$out/machine.txt"

dynamodb_local_start # exports AWS_ENDPOINT_URL_DYNAMODB
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
export AWS_EC2_METADATA_DISABLED=true REQUIRE_DYNAMODB=1

echo "bench: go test -run='^\$' -bench='$BENCH' -benchmem -count=$COUNT ./pkg/... ./internal/routes/" >&2
go test -run='^$' -bench="$BENCH" -benchmem -count="$COUNT" -timeout=60m ./pkg/... ./internal/routes/ | tee "$out/pkg.txt"

echo "bench: COLDSTARTS=$COLDSTARTS go test -v -run='^\$' -bench='^BenchmarkColdStart\$' -benchtime=1x ./e2e/" >&2
go test -v -run='^$' -bench='^BenchmarkColdStart$' -benchtime=1x -timeout=60m ./e2e/ | tee "$out/coldstart.txt"

# The Makefile's functions and each one's main package (the last word of its build command).
functions=$(make -s --no-print-directory -f Makefile -f <(printf 'print-functions:\n\t@echo $(FUNCTIONS)\n') print-functions)
echo "bench: make build-<LogicalId> (GOARCH=arm64, as SAM builds them) for sizes and module lists" >&2
: >"$out/sizes.txt"
: >"$out/modules.txt"
for fn in $functions; do
	pkg=$(make -sn build-"$fn" ARTIFACTS_DIR=/artifacts | awk '{print $NF}')
	if [ ! -d "$pkg" ]; then
		printf '%-23s not built yet (no %s)\n' "$fn" "${pkg#./}" >>"$out/sizes.txt"
		continue
	fi
	make -s build-"$fn" ARTIFACTS_DIR="$bin_dir/$fn" GOARCH=arm64
	bytes=$(stat -c %s "$bin_dir/$fn/bootstrap")
	printf '%-23s %9d bytes  %5.2f MiB  linux/arm64\n' "$fn" "$bytes" "$(echo "$bytes" | awk '{print $1 / 1048576}')" >>"$out/sizes.txt"
	go version -m "$bin_dir/$fn/bootstrap" >"$out/modules-$fn.txt"
	echo "$fn" >>"$out/modules.txt"
done

# summarize prints, per benchmark, the median of each metric over the runs.
# Benchmark lines are "Name-P  N  value unit  value unit ...".
summarize() {
	# Fields: name, an order key (ns/op first, B/op and allocs/op last), unit, value.
	awk '/^Benchmark/ {
			for (i = 3; i < NF; i += 2) {
				u = $(i + 1)
				k = (u == "ns/op") ? 0 : (u == "B/op") ? 8 : (u == "allocs/op") ? 9 : 5
				print $1, k, u, $i
			}
		}' "$@" |
		sort -k1,1 -k2,2n -k3,3 -k4,4g |
		awk '
			function flush() {
				if (n == 0) return
				m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
				line = line sprintf("  %s %s", fmt(m), unit)
				n = 0
			}
			function fmt(x) { return (x >= 100 || x == int(x)) ? sprintf("%.0f", x) : sprintf("%.3g", x) }
			{
				if ($1 != name) {
					flush()
					if (line != "") print line
					name = $1; line = sprintf("%-40s", name); unit = ""
				}
				if ($3 != unit) { flush(); unit = $3 }
				v[++n] = $4
			}
			END { flush(); if (line != "") print line }'
}

# overhead prints the *Overhead benchmarks' percentages (medians over the runs) against
# the 10% target.
overhead() {
	summarize "$out/pkg.txt" | awk '$1 ~ /Overhead/ {
		found = 1
		for (i = 2; i < NF; i += 2) if ($(i + 1) ~ /%$/)
			printf "%-36s %-12s %6s %%  %s\n", $1, $(i + 1), $i, ($i < 10) ? "under 10%" : "NOT under 10%"
	} END { if (!found) print "(no *Overhead benchmark ran; BENCH=" ENVIRON["BENCH"] ")" }'
	if grep -q BenchmarkMeOverhead "$out/pkg.txt" && ! grep -q BenchmarkAuthorizerOverhead "$out/pkg.txt"; then
		echo "BenchmarkAuthorizerOverhead         did not run (internal/routes)"
	fi
}

# coldstart prints one line per function: medians, ratios to the null function and the
# target; functions the benchmark skipped with its reason.
coldstart() {
	printf '%-19s %8s %8s %6s  %8s %8s %6s  %6s  %s\n' function init null ratio first null ratio target verdict
	awk '/^BenchmarkColdStart\/.*-[0-9]+[ \t]/ {
		name = $1; sub(/^BenchmarkColdStart\//, "", name); sub(/-[0-9]+$/, "", name)
		delete m; for (i = 3; i < NF; i += 2) m[$(i + 1)] = $i
		t = m["target-ratio"]
		v = (m["init-ratio"] <= t && m["first-invoke-ratio"] <= t) ? "within" : "MISSED"
		printf "%-19s %6.2fms %6.2fms %5.2fx  %6.2fms %6.2fms %5.2fx  %5.1fx  %s (%d starts)\n", name,
			m["init-ms"], m["null-init-ms"], m["init-ratio"],
			m["first-invoke-ms"], m["null-first-invoke-ms"], m["first-invoke-ratio"], t, v, m["starts"]
	}
	/^    coldstart_test.go:[0-9]+: / { sub(/^    coldstart_test.go:[0-9]+: /, ""); skip = $0 }
	/^--- SKIP: BenchmarkColdStart\// { printf "%-19s skipped: %s\n", substr($3, 20), skip }' "$out/coldstart.txt"
}

# modules prints, per built function, which heavy modules its bootstrap lists and
# whether that keeps the function's rule; it returns 1 when a rule is broken.
modules() {
	local fn m rc=0 listed
	printf '%-23s %5s' function mods
	for m in $heavy; do printf '  %s' "${m##*/}"; done
	echo
	while read -r fn; do
		listed=$(awk '$1 == "dep" || $1 == "=>" {print $2}' "$out/modules-$fn.txt")
		printf '%-23s %5d' "$fn" "$(echo "$listed" | grep -c .)"
		for m in $heavy; do
			if echo "$listed" | grep -qE "^$m(/|$)"; then printf '  %s' yes; else printf '  %s' -; fi
		done
		local bad=""
		for m in $(forbidden "$fn"); do
			echo "$listed" | grep -qE "^$m(/|$)" && bad="$bad ${m##*/}"
		done
		if [ -n "$(forbidden "$fn")" ]; then
			if [ -n "$bad" ]; then
				printf '  FAIL: lists%s\n' "$bad"
				rc=1
			else
				printf '  ok: none of%s\n' "$(for m in $(forbidden "$fn"); do printf ' %s' "${m##*/}"; done)"
			fi
		else
			echo
		fi
	done <"$out/modules.txt"
	return "$rc"
}

{
	echo "== machine"
	cat "$out/machine.txt"
	echo
	echo "== package benchmarks (median of $COUNT runs)"
	summarize "$out/pkg.txt"
	echo
	echo "== handler overhead against a bare DynamoDB Local GetItem (target: under 10%)"
	overhead
	echo
	echo "== cold start under the Lambda runtime emulator: medians of $COLDSTARTS alternating starts, host arch${COLDSTART_BOOTSTRAPS:+, bootstraps from $COLDSTART_BOOTSTRAPS}"
	coldstart
	echo
	echo "== bootstrap sizes (make build, linux/arm64)"
	cat "$out/sizes.txt"
	echo
	echo "== modules per bootstrap (go version -m; full lists in $out/modules-<LogicalId>.txt)"
	modules || true
} | tee "$out/summary.txt"
modules_rc=0
grep -q "FAIL: lists" "$out/summary.txt" && modules_rc=1
echo "bench: raw output in $out/" >&2
if [ "$modules_rc" != 0 ]; then
	echo "bench: a bootstrap lists a module its route must not link (see the module table)" >&2
	exit 1
fi
