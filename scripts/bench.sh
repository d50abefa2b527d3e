#!/usr/bin/env bash
#
# bench.sh
#	What `make bench` runs: throw-away servers on free loopback ports, the
#	same load against each, and a table of dynamod's numbers next to the
#	references measured in the same run (DESIGN.md sections 3 and 5):
#
#	  redis-server              redis-benchmark -t set,get (the network ceiling
#	                            of a single-threaded in-memory server)
#	  dynamod, wiredtiger       dynamo-bench over the network
#	  the store, in-process     dynamo-bench --inproc (no network: the ceiling
#	                            for dynamod's server path)
#	  dynamod --key/--trust     the same load over authenticated, encrypted
#	                            connections, against a second node started
#	                            with keys made here: the cost of encryption,
#	                            printed as secure/insecure ratios
#	  a 3-node cluster          N=3, R=W=2 (the defaults), dynamo-bench --route
#	                            (partition-aware: each request to the first
#	                            node of its key's preference list), the same
#	                            clients: printed next to the single node, with
#	                            the cluster/single ratio
#	  open loop at half of peak the single node and the cluster again, with
#	                            dynamo-bench --rate at half of the best PUT and
#	                            GET rate each just reached, latency measured
#	                            from when each request was due (no coordinated
#	                            omission): p50/p99/p99.9; each run is followed
#	                            by dynamo-bench --redis against redis-server at
#	                            the same rate (redis-benchmark has no fixed
#	                            rate), the reference its p99 is divided by
#	  dynamod --write-behind off  the single node's load once more against a
#	                            node that stores each write on the loop thread
#	                            (the default with --durability none writes
#	                            behind, README "Write-behind"): closed loop,
#	                            and an open-loop PUT row at the single node's
#	                            rate, printed as on/off ratios
#	  dynamod --durability fsync  against redis-server --appendonly yes
#	                            --appendfsync always: every acknowledged write
#	                            on disk first; PUT/SET only, 50 connections
#	                            and 1 (group commit: README "Durability")
#
#	Each closed-loop run also reads the server's CPU time (user + system, all
#	its threads, from /proc/PID/stat; the cluster's three nodes summed) before
#	and after, and the report prints it per request: on a machine shared with
#	other work the rates swing with the load, the CPU a request costs much
#	less, so that column is the one to compare two builds by.
#
#	50 connections without pipelining, then with pipeline depth 16; 100000
#	keys, 100-byte values, BENCH_REQUESTS requests per test (default 200000).
#	dynamod runs with --durability none, like redis with no persistence.
#
#	Each dynamo-bench run writes keys of its own (--fresh-keys): its PUTs are
#	blind writes, so reusing the keys of the run before would have it read and
#	rewrite that run's siblings too, and the second run would measure a
#	different data set from the first.
#
#	Assumes `make` has built build/dynamod, build/dynamo-cli and
#	build/dynamo-bench; run from anywhere (it moves to the repository root).
#	Exits non-zero if a server does not start or a benchmark fails.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

N=${BENCH_REQUESTS:-200000}
CONNS=50
KEYS=100000
VSIZE=100
PIPELINES=(1 16)
# a benchmark that takes longer than this has hung (a server that stopped
# answering): fail rather than wait forever
STEP_TIMEOUT=${BENCH_TIMEOUT:-600}

DYNAMOD=build/dynamod
DYNCLI=build/dynamo-cli
DYNBENCH=build/dynamo-bench

die() {
	echo "bench.sh: $*" >&2
	exit 1
}

for prog in "$DYNAMOD" "$DYNCLI" "$DYNBENCH"; do
	[[ -x $prog ]] || die "$prog is missing: run make first"
done
for prog in redis-server redis-cli redis-benchmark perl timeout; do
	command -v "$prog" >/dev/null || die "$prog is not installed"
done
[[ $N =~ ^[1-9][0-9]*$ ]] || die "BENCH_REQUESTS must be a positive integer, got \"$N\""

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dynamo-bench.XXXXXX")
PIDS=()
CL_PIDS=()

# Stop the servers we started (by their pids) and remove the scratch folder,
# whatever way the script ends.
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A free loopback port: bind port 0 and print what the kernel chose.
free_port() {
	perl -MIO::Socket::INET -e '
		my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
		                              Proto => "tcp", Listen => 1, ReuseAddr => 1)
			or die "cannot bind a loopback port: $!\n";
		print $s->sockport, "\n";'
}

# wait_ready NAME PID LOG CMD...: poll CMD for up to 10 s while the server
# PID is alive; on failure show the server's log and die.
wait_ready() {
	local name=$1 pid=$2 log=$3
	shift 3
	local i
	for ((i = 0; i < 100; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			sed 's/^/  /' "$log" >&2 || true
			die "$name exited during startup"
		fi
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	sed 's/^/  /' "$log" >&2 || true
	die "$name did not become ready within 10 s"
}

# ---- the servers ----

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
	--daemonize no --dir "$TMP" >"$TMP/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
wait_ready redis-server "$REDIS_PID" "$TMP/redis.log" \
	redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping

DYN_PORT=$(free_port)
DYN_NODE=127.0.0.1:$DYN_PORT
"$DYNAMOD" --id bench1 --listen "$DYN_NODE" --data "$TMP/dynamod" --engine wiredtiger \
	--durability none --insecure >"$TMP/dynamod.log" 2>&1 &
DYN_PID=$!
PIDS+=("$DYN_PID")
wait_ready dynamod "$DYN_PID" "$TMP/dynamod.log" \
	"$DYNCLI" --insecure --node "$DYN_NODE" status

# A second node with keys: the node's, the benchmark client's (role write),
# and the trust file both read (dynamo-bench finds it beside its key).
KEYS_DIR=$TMP/keys
mkdir -m 700 "$KEYS_DIR"
NODE_PK=$("$DYNAMOD" keygen --out "$KEYS_DIR/node.key")
BENCH_PK=$("$DYNAMOD" keygen --out "$KEYS_DIR/bench.key")
printf '%s node bench2\n%s write bench\n' "$NODE_PK" "$BENCH_PK" >"$KEYS_DIR/trust"
chmod 644 "$KEYS_DIR/trust"
SEC_PORT=$(free_port)
SEC_NODE=127.0.0.1:$SEC_PORT
"$DYNAMOD" --id bench2 --listen "$SEC_NODE" --data "$TMP/dynamod-secure" --engine wiredtiger \
	--durability none --key "$KEYS_DIR/node.key" --trust "$KEYS_DIR/trust" \
	>"$TMP/dynamod-secure.log" 2>&1 &
SEC_PID=$!
PIDS+=("$SEC_PID")
wait_ready "dynamod --key" "$SEC_PID" "$TMP/dynamod-secure.log" \
	"$DYNCLI" --key "$KEYS_DIR/bench.key" --node "$SEC_NODE" status

# The single node once more without write-behind, for the on/off comparison.
WBOFF_PORT=$(free_port)
WBOFF_NODE=127.0.0.1:$WBOFF_PORT
"$DYNAMOD" --id bench4 --listen "$WBOFF_NODE" --data "$TMP/dynamod-wboff" --engine wiredtiger \
	--durability none --write-behind off --insecure >"$TMP/dynamod-wboff.log" 2>&1 &
WBOFF_PID=$!
PIDS+=("$WBOFF_PID")
wait_ready "dynamod --write-behind off" "$WBOFF_PID" "$TMP/dynamod-wboff.log" \
	"$DYNCLI" --insecure --node "$WBOFF_NODE" status

# Three nodes as one cluster (the first founds it, the others join through
# it), --insecure like the single node they are compared with.
CL_NODES=()
for i in 1 2 3; do
	port=$(free_port)
	CL_NODES+=("127.0.0.1:$port")
	seeds=()
	((i > 1)) && seeds=(--seeds "${CL_NODES[0]}")
	"$DYNAMOD" --id "cl$i" --listen "127.0.0.1:$port" --data "$TMP/cluster$i" \
		--engine wiredtiger --durability none --insecure "${seeds[@]}" \
		>"$TMP/cluster$i.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	CL_PIDS+=("$pid")
	wait_ready "cluster node cl$i" "$pid" "$TMP/cluster$i.log" \
		"$DYNCLI" --insecure --node "127.0.0.1:$port" status
done
# every node must hold the 3-member ring and see the others up
cluster_ready() {
	local n
	for n in "${CL_NODES[@]}"; do
		"$DYNCLI" --insecure --node "$n" status | perl -MJSON::PP -e '
			my $s = decode_json(join "", <STDIN>);
			exit(($s->{ring_members} == 3 && !grep { $_->{status} ne "up" } @{ $s->{members} }) ? 0 : 1)' ||
			return 1
	done
}
wait_ready "the 3-node cluster" "${CL_PIDS[0]}" "$TMP/cluster1.log" cluster_ready

# ---- the runs ----
#
# Results are kept as "system op pipeline ops p50 p99 p999" lines in $RES.

RES=$TMP/results
# "system pipeline us_per_request" lines: the servers' CPU per request
CPU_RES=$TMP/cpu-results
CLK_TCK=$(getconf CLK_TCK)

# cpu_ticks PID...: the CPU time the processes have used, in clock ticks
cpu_ticks() {
	local pid t=0 v
	for pid in "$@"; do
		v=$(awk '{ print $14 + $15 }' "/proc/$pid/stat") || die "process $pid is gone"
		t=$((t + v))
	done
	echo "$t"
}

# cpu_note SYSTEM P TICKS_BEFORE TICKS_AFTER REQUESTS
cpu_note() {
	awk -v s="$1" -v p="$2" -v d="$(($4 - $3))" -v hz="$CLK_TCK" -v n="$5" \
		'BEGIN { printf "%s %s %.2f\n", s, p, d * 1e6 / hz / n }' >>"$CPU_RES"
}

# run_step NAME CMD...: run one benchmark with a deadline; its stdout goes to
# $TMP/out, its stderr is shown; die if it fails.
run_step() {
	local name=$1
	shift
	local rc=0
	timeout "$STEP_TIMEOUT" "$@" >"$TMP/out" || rc=$?
	if ((rc == 124)); then
		die "$name did not finish within $STEP_TIMEOUT s"
	elif ((rc != 0)); then
		cat "$TMP/out" >&2
		die "$name failed (exit status $rc)"
	fi
}

# redis-benchmark 7 CSV: "test","rps","avg_latency_ms","min_latency_ms",
# "p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms".
# It has no p99.9.
redis_run() {
	local p=$1 op t0
	t0=$(cpu_ticks "$REDIS_PID")
	run_step "redis-benchmark -P $p" \
		redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -c "$CONNS" -n "$N" -r "$KEYS" \
		-d "$VSIZE" -t set,get -P "$p" --csv
	cpu_note redis "$p" "$t0" "$(cpu_ticks "$REDIS_PID")" $((2 * N))
	for op in SET GET; do
		grep -q "^\"$op\"," "$TMP/out" ||
			{ cat "$TMP/out" >&2; die "redis-benchmark -P $p printed no $op result"; }
	done
	awk -F, -v p="$p" '
		{ gsub(/"/, "") }
		$1 == "SET" || $1 == "GET" {
			print "redis", ($1 == "SET" ? "PUT" : "GET"), p, $2, $5, $7, "-"
		}' "$TMP/out" >>"$RES"
}

# dynamo-bench CSV: op,ops_per_sec,p50_ms,p99_ms,p999_ms (after a header line).
dynamo_parse() {
	local system=$1 p=$2 op
	for op in PUT GET; do
		grep -q "^$op," "$TMP/out" ||
			{ cat "$TMP/out" >&2; die "dynamo-bench ($system) printed no $op result"; }
	done
	awk -F, -v s="$system" -v p="$p" '
		$1 == "PUT" || $1 == "GET" { print s, $1, p, $2, $3, $4, $5 }' "$TMP/out" >>"$RES"
}

dynamod_run() {
	local p=$1 t0
	t0=$(cpu_ticks "$DYN_PID")
	run_step "dynamo-bench --pipeline $p" \
		"$DYNBENCH" --insecure --node "$DYN_NODE" --connections "$CONNS" --pipeline "$p" \
		--keys "$KEYS" --value-size "$VSIZE" --requests "$N" --fresh-keys --csv
	cpu_note dynamod "$p" "$t0" "$(cpu_ticks "$DYN_PID")" $((2 * N))
	dynamo_parse dynamod "$p"
}

secure_run() {
	local p=$1
	run_step "dynamo-bench --key --pipeline $p" \
		"$DYNBENCH" --key "$KEYS_DIR/bench.key" --node "$SEC_NODE" --connections "$CONNS" \
		--pipeline "$p" --keys "$KEYS" --value-size "$VSIZE" --requests "$N" --fresh-keys --csv
	dynamo_parse secure "$p"
}

wboff_run() {
	local p=$1
	run_step "dynamo-bench --pipeline $p (--write-behind off)" \
		"$DYNBENCH" --insecure --node "$WBOFF_NODE" --connections "$CONNS" --pipeline "$p" \
		--keys "$KEYS" --value-size "$VSIZE" --requests "$N" --fresh-keys --csv
	dynamo_parse wboff "$p"
}

cluster_run() {
	local p=$1 t0
	t0=$(cpu_ticks "${CL_PIDS[@]}")
	run_step "dynamo-bench --route --pipeline $p" \
		"$DYNBENCH" --insecure --route --node "${CL_NODES[0]}" --connections "$CONNS" \
		--pipeline "$p" --keys "$KEYS" --value-size "$VSIZE" --requests "$N" --fresh-keys --csv
	cpu_note cluster "$p" "$t0" "$(cpu_ticks "${CL_PIDS[@]}")" $((2 * N))
	dynamo_parse cluster "$p"
}

inproc_run() {
	run_step "dynamo-bench --inproc wiredtiger" \
		"$DYNBENCH" --inproc wiredtiger --data "$TMP/inproc" --durability none \
		--keys "$KEYS" --value-size "$VSIZE" --requests "$N" --csv
	dynamo_parse inproc 1
}

: >"$RES"
: >"$CPU_RES"
for p in "${PIPELINES[@]}"; do
	redis_run "$p"
	dynamod_run "$p"
	secure_run "$p"
	wboff_run "$p"
	cluster_run "$p"
done
inproc_run

# Open loop: each system and op at half of the best rate it reached above
# (pipeline 1 or 16), for OPEN_SECONDS, with up to 16 requests in flight per
# connection.  No --fresh-keys: the GET run replays the PUT run's keys.
# Right after each run, the same load at the same rate against redis-server
# (dynamo-bench --redis, recorded as "redis@SYSTEM"): tail latency on this
# shared machine is only worth reading next to a reference measured under
# the same load, and run straight after, the two see much the same load.
OPEN_SECONDS=${BENCH_OPEN_SECONDS:-5}
[[ $OPEN_SECONDS =~ ^[1-9][0-9]*$ ]] ||
	die "BENCH_OPEN_SECONDS must be a positive integer, got \"$OPEN_SECONDS\""
OPEN_RES=$TMP/open-results
: >"$OPEN_RES"
half_peak() {
	awk -v s="$1" -v op="$2" '$1 == s && $2 == op && $4 > m { m = $4 } END { printf "%d", m / 2 }' "$RES"
}
# open_step SYSTEM OP RATE ARGS...: one open-loop run, its line into $OPEN_RES
open_step() {
	local system=$1 op=$2 rate=$3
	shift 3
	run_step "dynamo-bench --rate $rate ($system $op)" \
		"$DYNBENCH" "$@" --connections "$CONNS" --pipeline 16 --op "${op,,}" \
		--rate "$rate" --duration "$OPEN_SECONDS" --keys "$KEYS" --value-size "$VSIZE" --csv
	grep -q "^$op," "$TMP/out" ||
		{ cat "$TMP/out" >&2; die "dynamo-bench --rate ($system) printed no $op result"; }
	awk -F, -v s="$system" -v r="$rate" -v op="$op" \
		'$1 == op { print s, op, r, $2, $3, $4, $5 }' "$TMP/out" >>"$OPEN_RES"
}
open_run() {
	local system=$1 op rate
	shift
	for op in PUT GET; do
		rate=$(half_peak "$system" "$op")
		((rate > 0)) || die "no $op peak measured for $system"
		open_step "$system" "$op" "$rate" "$@"
		open_step "redis@$system" "$op" "$rate" --redis --node "127.0.0.1:$REDIS_PORT"
	done
}
open_run dynamod --insecure --node "$DYN_NODE"
# the node without write-behind at the single node's PUT rate
rate=$(half_peak dynamod PUT)
open_step wb-off PUT "$rate" --insecure --node "$WBOFF_NODE"
open_step redis@wb-off PUT "$rate" --redis --node "127.0.0.1:$REDIS_PORT"
open_run cluster --insecure --route --node "${CL_NODES[0]}"

# The servers must have survived the whole run.
kill -0 "$DYN_PID" 2>/dev/null || { sed 's/^/  /' "$TMP/dynamod.log" >&2; die "dynamod died"; }
kill -0 "$SEC_PID" 2>/dev/null ||
	{ sed 's/^/  /' "$TMP/dynamod-secure.log" >&2; die "dynamod --key died"; }
kill -0 "$WBOFF_PID" 2>/dev/null ||
	{ sed 's/^/  /' "$TMP/dynamod-wboff.log" >&2; die "dynamod --write-behind off died"; }
for i in 0 1 2; do
	kill -0 "${CL_PIDS[$i]}" 2>/dev/null ||
		{ sed 's/^/  /' "$TMP/cluster$((i + 1)).log" >&2; die "cluster node cl$((i + 1)) died"; }
done

# ---- durable writes: dynamod --durability fsync against redis AOF always ----
#
# Servers of their own, started only now so that their fsyncs do not load the
# runs above; FSYNC_N requests at 50 connections, a tenth of it at 1.

FSYNC_N=${BENCH_FSYNC_REQUESTS:-50000}
[[ $FSYNC_N =~ ^[1-9][0-9]*$ ]] ||
	die "BENCH_FSYNC_REQUESTS must be a positive integer, got \"$FSYNC_N\""
AOF_PORT=$(free_port)
mkdir "$TMP/aof"
redis-server --port "$AOF_PORT" --bind 127.0.0.1 --save "" --appendonly yes \
	--appendfsync always --daemonize no --dir "$TMP/aof" >"$TMP/redis-aof.log" 2>&1 &
AOF_PID=$!
PIDS+=("$AOF_PID")
wait_ready "redis-server --appendfsync always" "$AOF_PID" "$TMP/redis-aof.log" \
	redis-cli -h 127.0.0.1 -p "$AOF_PORT" ping
FS_PORT=$(free_port)
FS_NODE=127.0.0.1:$FS_PORT
"$DYNAMOD" --id bench3 --listen "$FS_NODE" --data "$TMP/dynamod-fsync" --engine wiredtiger \
	--durability fsync --insecure >"$TMP/dynamod-fsync.log" 2>&1 &
FS_PID=$!
PIDS+=("$FS_PID")
wait_ready "dynamod --durability fsync" "$FS_PID" "$TMP/dynamod-fsync.log" \
	"$DYNCLI" --insecure --node "$FS_NODE" status

FSYNC_RES=$TMP/fsync-results
: >"$FSYNC_RES"
: >"$TMP/fsync-groups"
for c in "$CONNS" 1; do
	n=$FSYNC_N
	((c == 1)) && n=$(((FSYNC_N + 9) / 10))
	run_step "dynamo-bench against dynamod --durability fsync, $c connections" \
		"$DYNBENCH" --insecure --node "$FS_NODE" --connections "$c" --op put \
		--keys "$KEYS" --value-size "$VSIZE" --requests "$n" --fresh-keys --csv
	grep -q '^PUT,' "$TMP/out" ||
		{ cat "$TMP/out" >&2; die "dynamo-bench (fsync) printed no PUT result"; }
	awk -F, -v c="$c" '$1 == "PUT" { print "dynamod", c, $2, $3, $4 }' "$TMP/out" >>"$FSYNC_RES"
	# the node's group-commit counters after each run, for the syncs per run
	"$DYNCLI" --insecure --node "$FS_NODE" status | perl -MJSON::PP -e '
		my $g = decode_json(join "", <STDIN>)->{group_commit};
		printf "%d %d %d %d\n", $ARGV[0], $g->{syncs}, $g->{synced_writes},
			$g->{sync_us_avg} * $g->{syncs}' "$c" >>"$TMP/fsync-groups"
	run_step "redis-benchmark against --appendfsync always, $c connections" \
		redis-benchmark -h 127.0.0.1 -p "$AOF_PORT" -c "$c" -n "$n" -r "$KEYS" -d "$VSIZE" \
		-t set --csv
	grep -q '^"SET",' "$TMP/out" ||
		{ cat "$TMP/out" >&2; die "redis-benchmark (AOF) printed no SET result"; }
	awk -F, -v c="$c" '{ gsub(/"/, "") } $1 == "SET" { print "redis", c, $2, $5, $7 }' \
		"$TMP/out" >>"$FSYNC_RES"
done
kill -0 "$FS_PID" 2>/dev/null ||
	{ sed 's/^/  /' "$TMP/dynamod-fsync.log" >&2; die "dynamod --durability fsync died"; }
FS_GROUP=$(awk '
	{ ds = $2 - s; dw = $3 - w; du = $4 - u; s = $2; w = $3; u = $4
	  printf "%s%d conn%s: %d syncs for %d writes (%.1f writes per sync, %.3f ms per sync)",
		(NR > 1) ? "; " : "", $1, ($1 == 1) ? "" : "s", ds, dw, ds ? dw / ds : 0,
		ds ? du / ds / 1000 : 0 }' "$TMP/fsync-groups")

# ---- the report ----

echo "dynamo bench  $(date -u '+%Y-%m-%d %H:%M:%S UTC')  nproc $(nproc)  requests $N" \
	"per test  ($CONNS connections, $KEYS keys, $VSIZE-byte values)"
echo "redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') (no persistence)," \
	"dynamod --engine wiredtiger --durability none; latencies in ms"
echo
awk '
	function ratio(a, b) { return (b > 0) ? sprintf("%.2f", a / b) : "-" }
	{
		k = $2 " " $3
		ops[$1, k] = $4; p50[$1, k] = $5; p99[$1, k] = $6; p999[$1, k] = $7
		if ($1 == "dynamod") rows[++n] = k
	}
	END {
		printf "%-4s %3s | %10s %7s %7s %7s | %10s %7s %7s %7s | %13s %14s\n",
			"op", "P", "redis/s", "p50", "p99", "p99.9",
			"dynamod/s", "p50", "p99", "p99.9", "dynamod/redis", "dynamod/inproc"
		for (i = 1; i <= n; i++) {
			k = rows[i]; split(k, f, " ")
			inp = "-"
			if (f[2] > 1) inp = ratio(ops["dynamod", k], ops["inproc", f[1] " 1"])
			printf "%-4s %3s | %10.0f %7.3f %7.3f %7s | %10.0f %7.3f %7.3f %7.3f | %13s %14s\n",
				f[1], f[2], ops["redis", k], p50["redis", k], p99["redis", k], p999["redis", k],
				ops["dynamod", k], p50["dynamod", k], p99["dynamod", k], p999["dynamod", k],
				ratio(ops["dynamod", k], ops["redis", k]), inp
		}
		print ""
		print "encryption: dynamod --key/--trust (XChaCha20-Poly1305 records) against --insecure, same load:"
		printf "%-4s %3s | %11s %7s %7s | %11s %7s %7s | %15s\n",
			"op", "P", "insecure/s", "p50", "p99", "secure/s", "p50", "p99", "secure/insecure"
		for (i = 1; i <= n; i++) {
			k = rows[i]; split(k, f, " ")
			printf "%-4s %3s | %11.0f %7.3f %7.3f | %11.0f %7.3f %7.3f | %15s\n",
				f[1], f[2], ops["dynamod", k], p50["dynamod", k], p99["dynamod", k],
				ops["secure", k], p50["secure", k], p99["secure", k],
				ratio(ops["secure", k], ops["dynamod", k])
		}
		print ""
		print "write-behind: the single node (writing behind, the default with --durability none)" \
			" against --write-behind off, same load:"
		printf "%-4s %3s | %11s %7s %7s | %11s %7s %7s | %7s\n",
			"op", "P", "on/s", "p50", "p99", "off/s", "p50", "p99", "on/off"
		for (i = 1; i <= n; i++) {
			k = rows[i]; split(k, f, " ")
			printf "%-4s %3s | %11.0f %7.3f %7.3f | %11.0f %7.3f %7.3f | %7s\n",
				f[1], f[2], ops["dynamod", k], p50["dynamod", k], p99["dynamod", k],
				ops["wboff", k], p50["wboff", k], p99["wboff", k],
				ratio(ops["dynamod", k], ops["wboff", k])
		}
		print ""
		print "3-node cluster (N=3, R=W=2, dynamo-bench --route) against the single node, same load:"
		printf "%-4s %3s | %11s %7s %7s %7s | %11s %7s %7s %7s | %14s\n",
			"op", "P", "single/s", "p50", "p99", "p99.9", "cluster/s", "p50", "p99", "p99.9",
			"cluster/single"
		for (i = 1; i <= n; i++) {
			k = rows[i]; split(k, f, " ")
			printf "%-4s %3s | %11.0f %7.3f %7.3f %7.3f | %11.0f %7.3f %7.3f %7.3f | %14s\n",
				f[1], f[2], ops["dynamod", k], p50["dynamod", k], p99["dynamod", k],
				p999["dynamod", k], ops["cluster", k], p50["cluster", k], p99["cluster", k],
				p999["cluster", k], ratio(ops["cluster", k], ops["dynamod", k])
		}
		print ""
		print "in-process store (wiredtiger, one operation at a time, no network):"
		for (o = 1; o <= 2; o++) {
			op = (o == 1) ? "PUT" : "GET"; k = op " 1"
			printf "%-4s %10.0f ops/s  p50 %.3f  p99 %.3f  p99.9 %.3f\n",
				op, ops["inproc", k], p50["inproc", k], p99["inproc", k], p999["inproc", k]
		}
	}' "$RES"

echo
echo "server CPU per request (user + system, every thread; the PUT and the GET run together;" \
	"the cluster: its three nodes), microseconds:"
awk '
	{ cpu[$1, $2] = $3; if ($1 == "redis") ps[++n] = $2 }
	END {
		printf "%3s | %8s %8s %8s | %13s %14s\n", "P", "redis", "dynamod", "cluster",
			"dynamod/redis", "cluster/single"
		for (i = 1; i <= n; i++) {
			p = ps[i]
			printf "%3s | %8.2f %8.2f %8.2f | %13.2f %14.2f\n", p, cpu["redis", p],
				cpu["dynamod", p], cpu["cluster", p],
				(cpu["redis", p] > 0) ? cpu["dynamod", p] / cpu["redis", p] : 0,
				(cpu["dynamod", p] > 0) ? cpu["cluster", p] / cpu["dynamod", p] : 0
		}
	}' "$CPU_RES"

echo
echo "open loop at half of peak ($CONNS connections, up to 16 in flight each, $OPEN_SECONDS s;" \
	"latency from when each request was due, ms),"
echo "each next to redis-server at the same rate (dynamo-bench --redis, run right after it):"
awk '
	function ratio(a, b) { return (b > 0) ? sprintf("%.2f", a / b) : "-" }
	{
		k = $1 " " $2
		rate[k] = $3; ops[k] = $4; p50[k] = $5; p99[k] = $6; p999[k] = $7
		if ($1 !~ /^redis@/) rows[++n] = k
	}
	END {
		printf "%-7s %-4s | %9s | %9s %7s %7s %7s | %9s %7s %7s %7s | %15s\n", "system", "op",
			"rate/s", "done/s", "p50", "p99", "p99.9", "redis/s", "p50", "p99", "p99.9",
			"p99 / redis p99"
		for (i = 1; i <= n; i++) {
			k = rows[i]; split(k, f, " "); r = "redis@" k
			printf "%-7s %-4s | %9d | %9.0f %7.3f %7.3f %7.3f | %9.0f %7.3f %7.3f %7.3f | %15s\n",
				(f[1] == "dynamod") ? "single" : f[1], f[2], rate[k],
				ops[k], p50[k], p99[k], p999[k], ops[r], p50[r], p99[r], p999[r],
				ratio(p99[k], p99[r])
		}
	}' "$OPEN_RES"

echo
echo "durable writes: dynamod --durability fsync (group commit) against redis-server" \
	"--appendonly yes --appendfsync always, same clients, $VSIZE-byte PUT/SET:"
awk '
	{ ops[$1, $2] = $3; p50[$1, $2] = $4; p99[$1, $2] = $5; if ($1 == "dynamod") cs[++n] = $2 }
	END {
		for (i = 1; i <= n; i++) {
			c = cs[i]
			fmt = "PUT fsync %d conn%s: dynamod %.0f/s, redis-aof-always %.0f/s, ratio %s"
			fmt = fmt "  (p50 %.3f / %.3f ms, p99 %.3f / %.3f ms)\n"
			r = (ops["redis", c] > 0) ? sprintf("%.2f", ops["dynamod", c] / ops["redis", c]) : "-"
			printf fmt, c, (c == 1) ? "" : "s", ops["dynamod", c], ops["redis", c], r,
				p50["dynamod", c], p50["redis", c], p99["dynamod", c], p99["redis", c]
		}
	}' "$FSYNC_RES"
echo "dynamod's group commit: $FS_GROUP"

# The SQL part: pgbench through a heap table, postgres_fdw and dynamo_fdw, and
# the pipelined join (its own throw-away servers; see scripts/bench-sql.sh).
echo
bash scripts/bench-sql.sh
