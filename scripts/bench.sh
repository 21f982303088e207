#!/usr/bin/env bash
# Benchmarks: what `make bench` runs. BENCHMARKS.md records the figures.
#
#   1. every Benchmark under pkg/ (handlers per route on the memory store and
#      DynamoDB Local, BenchmarkMeOverhead for SPEC §5's 5% target, oauth and
#      store benchmarks), COUNT runs each
#   2. cold start: e2e BenchmarkColdStart, each function's built bootstrap in a
#      fresh Lambda runtime emulator, COLDSTART_RUNS starts each
#   3. the sizes of the arm64 bootstraps `make build` ships
#
# DynamoDB Local is started on a free port and stopped on exit. Raw output goes
# to BENCH_OUT (default build/bench/); a summary with the median of each metric
# over the runs is printed at the end (and saved as summary.txt).
#
#   COUNT=5 COLDSTART_RUNS=10 BENCH=. scripts/bench.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

COUNT=${COUNT:-5}
COLDSTART_RUNS=${COLDSTART_RUNS:-10}
BENCH=${BENCH:-.}
out=${BENCH_OUT:-build/bench}

# shellcheck source=scripts/dynamodb-local.sh
. scripts/dynamodb-local.sh
sizes_dir=$(mktemp -d)
cleanup() {
	dynamodb_local_stop
	rm -rf "$sizes_dir"
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

echo "bench: go test -run='^\$' -bench=ColdStart -benchtime=${COLDSTART_RUNS}x ./e2e/" >&2
go test -run='^$' -bench=ColdStart -benchtime="${COLDSTART_RUNS}x" -timeout=30m ./e2e/ | tee "$out/coldstart.txt"

echo "bench: make build-<LogicalId> (GOARCH=arm64, as SAM builds them) for the sizes" >&2
: >"$out/sizes.txt"
for fn in LoginFunction CallbackFunction MeFunction LogoutFunction; do
	make -s build-"$fn" ARTIFACTS_DIR="$sizes_dir/$fn" GOARCH=arm64
	bytes=$(stat -c %s "$sizes_dir/$fn/bootstrap")
	printf '%-17s %9d bytes  %5.2f MiB  linux/arm64\n' "$fn" "$bytes" "$(echo "$bytes" | awk '{print $1 / 1048576}')" >>"$out/sizes.txt"
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

{
	echo "== machine"
	cat "$out/machine.txt"
	echo
	echo "== pkg benchmarks (median of $COUNT runs)"
	summarize "$out/pkg.txt"
	echo
	echo "== cold start under the Lambda runtime emulator (mean of $COLDSTART_RUNS starts, host arch)"
	summarize "$out/coldstart.txt"
	echo
	echo "== bootstrap sizes"
	cat "$out/sizes.txt"
} | tee "$out/summary.txt"
echo "bench: raw output in $out/" >&2
