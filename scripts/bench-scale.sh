#!/usr/bin/env bash
#
# bench-scale.sh
#	What `make bench-scale` runs: how one WiredTiger node grows with its
#	data.  For each key count (SCALE_KEYS, default 1 M and 4 M keys of 100
#	bytes) a fresh node with --cache-mb SCALE_CACHE_MB (default 256) and the
#	default durability (flush) is loaded, then read, then restarted, and one
#	row is printed:
#
#	  load/s      PUTs per second writing every key once (keys in order,
#	              16 connections, pipeline depth 16)
#	  get/s       GETs per second of uniformly random keys (SCALE_GETS of
#	              them, default 500000, same clients)
#	  rss_MiB     the node's resident size after the GETs (STATUS memory.rss)
#	  cache_MiB   WiredTiger's cache then (memory.engine_cache)
#	  over_MiB    rss - the configured cache: the node's own memory, which
#	              README "Memory" bounds at 64 MiB
#	  disk_MiB    the data directory after a clean stop, WiredTiger's log
#	              files included
#	  table_MiB   of which the table of objects (objects.wt)
#	  restart_s   from starting the stopped node again until it answers a
#	              GET (it reads every key at start to rebuild its partition
#	              trees, so this grows with the keys)
#
#	Not part of the test command (it takes a few minutes).  Ports are free
#	loopback ports picked here; the node is stopped and its data directory
#	removed however the script ends.  Assumes `make` has built build/.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

KEYS_LIST=${SCALE_KEYS:-"1000000 4000000"}
CACHE_MB=${SCALE_CACHE_MB:-256}
GETS=${SCALE_GETS:-500000}
STEP_TIMEOUT=${SCALE_TIMEOUT:-900}

DYNAMOD=build/dynamod
DYNCLI=build/dynamo-cli
DYNBENCH=build/dynamo-bench

die() {
	echo "bench-scale.sh: $*" >&2
	exit 1
}

for prog in "$DYNAMOD" "$DYNCLI" "$DYNBENCH"; do
	[[ -x $prog ]] || die "$prog is missing: run make first"
done
for prog in perl timeout du; do
	command -v "$prog" >/dev/null || die "$prog is not installed"
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dynamo-scale.XXXXXX")
NODE_PID=

cleanup() {
	if [[ -n $NODE_PID ]]; then
		kill "$NODE_PID" 2>/dev/null || true
		wait "$NODE_PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A free loopback port, as the tests pick theirs.
free_port() {
	perl -It/lib -MDynamoTest -e 'print DynamoTest::free_port(), "\n"'
}

now_ms() {
	perl -MTime::HiRes=time -e 'printf "%d\n", time * 1000'
}

# start_node: start dynamod on $NODE with data $DATA; sets NODE_PID.
start_node() {
	"$DYNAMOD" --id scale1 --listen "$NODE" --data "$DATA" --engine wiredtiger \
		--cache-mb "$CACHE_MB" --insecure >>"$TMP/dynamod.log" 2>&1 &
	NODE_PID=$!
}

# wait_get: poll a GET of key 0 until it answers (found), for up to
# STEP_TIMEOUT s; die if the node exits or never answers.
wait_get() {
	local deadline=$(($(date +%s) + STEP_TIMEOUT))
	while ! "$DYNCLI" --insecure --node "$NODE" get bench key:000000000000 >/dev/null 2>&1; do
		if ! kill -0 "$NODE_PID" 2>/dev/null; then
			sed 's/^/  /' "$TMP/dynamod.log" >&2
			die "dynamod exited during startup"
		fi
		(($(date +%s) < deadline)) || die "dynamod did not serve within $STEP_TIMEOUT s"
		sleep 0.05
	done
}

stop_node() {
	kill "$NODE_PID"
	wait "$NODE_PID" || die "dynamod exited with status $? on SIGTERM"
	NODE_PID=
}

# bench_ops OP ARGS...: run dynamo-bench, print OP's ops/s (its CSV line).
bench_ops() {
	local op=$1
	shift
	timeout "$STEP_TIMEOUT" "$DYNBENCH" --insecure --node "$NODE" --connections 16 \
		--pipeline 16 --value-size 100 --csv "$@" >"$TMP/out" ||
		{ cat "$TMP/out" >&2; die "dynamo-bench $* failed"; }
	awk -F, -v op="$op" '$1 == op { printf "%.0f\n", $2; found = 1 }
		END { exit !found }' "$TMP/out" || { cat "$TMP/out" >&2; die "no $op result"; }
}

# memory_mib: "rss cache" from STATUS, in MiB.
memory_mib() {
	"$DYNCLI" --insecure --node "$NODE" status | perl -MJSON::PP -e '
		my $m = decode_json(join "", <STDIN>)->{memory};
		printf "%.0f %.0f\n", $m->{rss} / 1048576, $m->{engine_cache} / 1048576'
}

printf '%-9s %9s %9s %8s %10s %9s %9s %10s %10s\n' keys load/s get/s rss_MiB cache_MiB \
	over_MiB disk_MiB table_MiB restart_s
for keys in $KEYS_LIST; do
	[[ $keys =~ ^[1-9][0-9]*$ ]] || die "SCALE_KEYS: \"$keys\" is not a positive integer"
	NODE=127.0.0.1:$(free_port)
	DATA=$TMP/data-$keys
	start_node
	# key 0 is not there yet: wait for the listener instead
	for ((i = 0; i < 200; i++)); do
		"$DYNCLI" --insecure --node "$NODE" status >/dev/null 2>&1 && break
		kill -0 "$NODE_PID" 2>/dev/null || { cat "$TMP/dynamod.log" >&2; die "dynamod exited"; }
		sleep 0.05
	done
	load=$(bench_ops PUT --op put --sequential --keys "$keys" --requests "$keys")
	get=$(bench_ops GET --op get --keys "$keys" --requests "$GETS")
	read -r rss cache < <(memory_mib)
	stop_node
	disk=$(du -sm "$DATA" | awk '{ print $1 }')
	table=$(du -sm "$DATA/objects.wt" | awk '{ print $1 }')
	t0=$(now_ms)
	start_node
	wait_get
	t1=$(now_ms)
	stop_node
	rm -rf "$DATA"
	printf '%-9s %9s %9s %8s %10s %9s %9s %10s %10.1f\n' "$keys" "$load" "$get" "$rss" \
		"$cache" $((rss - CACHE_MB)) "$disk" "$table" \
		"$(echo "$t0 $t1" | awk '{ print ($2 - $1) / 1000 }')"
done
