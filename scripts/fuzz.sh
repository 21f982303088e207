#!/usr/bin/env bash
# Runs every fuzz target under pkg/ and internal/ (each `func FuzzX` in a _test.go file) with
# `go test -fuzz` for FUZZTIME each, one at a time: go test fuzzes one target of
# one package per run. Plain `go test` already runs each target's seeds and its
# corpus in testdata/fuzz/<FuzzName>/; this explores beyond them.
#
#   scripts/fuzz.sh                 every target, FUZZTIME (default 20s) each
#   scripts/fuzz.sh Cookie|Query    only targets whose name matches the regexp
#   FUZZTIME=2m scripts/fuzz.sh
#
# A failing input is written to the package's testdata/fuzz/<FuzzName>/ (go test
# prints the path): fix the code, then commit the file as a regression test.
# Exits non-zero when any target failed; the others still run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

FUZZTIME=${FUZZTIME:-20s}
filter=${1:-.}

targets=$(grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' pkg internal | sed 's/:func /:/' | sort -u)
if [ -z "$targets" ]; then
	echo "fuzz: no fuzz targets under pkg/ or internal/" >&2
	exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=()
ran=0
while IFS=: read -r file name; do
	[[ $name =~ $filter ]] || continue
	pkg=./$(dirname "$file")
	ran=$((ran + 1))
	start=$SECONDS
	ok=0
	for attempt in 1 2 3; do
		if go test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "$pkg" >"$log" 2>&1; then
			ok=1
			break
		fi
		# A finding is written to testdata and is final. Anything else is the
		# fuzzing engine itself failing (e.g. "context deadline exceeded" on
		# an overloaded machine, or the first run in a fresh clone): try again, up to three runs, before calling it a failure.
		grep -q 'Failing input written to' "$log" && break
		echo "fuzz: $name: engine error without a failing input; retrying" >&2
	done
	if [ "$ok" = 1 ]; then
		# The last progress line tells how much was explored.
		progress=$(grep '^fuzz: elapsed' "$log" | tail -n 1 | sed 's/^fuzz: //')
		echo "fuzz: ok   $name ($pkg) $((SECONDS - start))s: $progress" >&2
	else
		echo "fuzz: FAIL $name ($pkg):" >&2
		cat "$log" >&2
		failed+=("$name")
	fi
done <<<"$targets"

if [ "$ran" -eq 0 ]; then
	echo "fuzz: no target matches $filter" >&2
	exit 1
fi
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: failed: ${failed[*]}" >&2
	exit 1
fi
