#!/usr/bin/env bash
#
# bench-sql.sh
#	The SQL part of `make bench` (scripts/bench.sh calls it): throw-away
#	servers on free loopback ports, the same pgbench load against each, and
#	the ratios the dynamo_fdw issue asks for.
#
#	  point SELECT     pgbench, CLIENTS clients (8), BENCH_SQL_SECONDS each
#	                   (10), prepared statements: SELECT value FROM t WHERE
#	                   key = :k on random keys of KEYS (BENCH_SQL_KEYS,
#	                   100,000), against
#	                     (a) a local heap table with a primary key,
#	                     (b) postgres_fdw to a loopback PostgreSQL holding (a),
#	                     (c) dynamo_fdw on a 3-node secure cluster (N=3,
#	                         R=W=2, WiredTiger with --durability none)
#	                   target: (c) >= 1.2 x (b)
#	  join             a 1,000-row local table of keys joined with the
#	                   foreign table, planned as one pipelined multi-key GET
#	                   (key = ANY(ARRAY(SELECT id FROM local))), against the
#	                   same 1,000 keys read by 1,000 single-key SELECTs from
#	                   one client; target: the join >= 10 x faster
#	  join as written  the same join written SELECT ... FROM j_local l JOIN
#	                   t_dyn d ON d.key = l.id (a batched nested loop:
#	                   keys fetched fetch_size outer rows at a time), and
#	                   with dynamo_fdw.enable_batched_join off (one GET per
#	                   outer row); target: batched within 1.5 x of the
#	                   = ANY(ARRAY(SELECT ...)) form
#	  count(*)         SELECT count(*) FROM t_dyn (the KEYS keys): pushed
#	                   down as a coverage count (pages without values) vs
#	                   dynamo_fdw.enable_count_pushdown off (the coverage
#	                   scan ships every value, PostgreSQL counts)
#	  async Append     UNION ALL of 4 foreign tables (ASYNC_KEYS, 20,000
#	                   keys each, 4 buckets) counted, with async_capable
#	                   (the 4 coverage scans concurrently) and with
#	                   enable_async_append off (one after another), reading
#	                   the values and counting the keys only
#	  writes           WRITE_ROWS (10,000) rows by INSERT ... SELECT, by
#	                   COPY, then UPDATE of every row and DELETE of every
#	                   row, each one statement (write_mode commit: sent at
#	                   COMMIT, pipelined); the same INSERT with write_mode
#	                   immediate; best of 3 rounds each (fresh buckets);
#	                   target: COPY, UPDATE and DELETE within 1.5 x of the
#	                   INSERT
#	  merge            point SELECT (pgbench, as above) of keys holding two
#	                   siblings each, without and with a merge_function
#	                   (dynamo_merge_union): the cost of calling it; and
#	                   the function's own time a call (one client, two
#	                   one-item carts)
#	                   (BENCH_SQL_ONLY=merge: this line alone;
#	                   BENCH_SQL_EXT_VERSION=0.1: the extension created
#	                   at that version -- 0.1's dynamo_merge_union is
#	                   plpgsql, 0.2's C -- the version is printed)
#
#	PostgreSQL runs as the postgres user (it refuses root); dynamod as the
#	caller.  Assumes `make` and `make install` (the extension must be
#	installed); run from anywhere.  Prints the plans it relies on, every
#	figure, and the ratios; exits non-zero if a server does not start or a
#	benchmark fails (not when a target is missed: that is for the reader).

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/dynamo-cluster.sh

SECONDS_EACH=${BENCH_SQL_SECONDS:-10}
CLIENTS=${BENCH_SQL_CLIENTS:-8}
KEYS=${BENCH_SQL_KEYS:-100000}
JOIN_KEYS=1000
WRITE_ROWS=${BENCH_SQL_WRITE_ROWS:-10000}
WRITE_ROUNDS=${BENCH_SQL_WRITE_ROUNDS:-3}
ASYNC_KEYS=${BENCH_SQL_ASYNC_KEYS:-20000}
declare -A TPS

PGBIN=$(pg_config --bindir)
SHAREDIR=$(pg_config --sharedir)
[ -f "$SHAREDIR/extension/dynamo_fdw.control" ] || {
	echo "bench-sql.sh: dynamo_fdw is not installed: run make install first" >&2
	exit 1
}
[ -f "$SHAREDIR/extension/postgres_fdw.control" ] || {
	echo "bench-sql.sh: postgres_fdw (PostgreSQL contrib) is not installed" >&2
	exit 1
}

TMP=$(mktemp -d /tmp/dynamo_bench_sql.XXXXXX)
chmod 755 "$TMP"
PGDIR=$TMP/pg
CLDIR=$TMP/cluster
mkdir -p "$PGDIR" "$CLDIR"
run_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
	if [ -f "$PGDIR/data/postmaster.pid" ]; then
		run_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	cluster_stop "$CLDIR"
	rm -rf "$TMP"
}
trap cleanup EXIT

echo "== starting a 3-node secure dynamod cluster (WiredTiger, durability none)"
DYNAMO_CLUSTER_ENGINE=wiredtiger cluster_start "$CLDIR" 3 --durability none

echo "== starting PostgreSQL"
[ "$(id -u)" -eq 0 ] && chown postgres "$PGDIR"
PGPORT=$(cluster_free_port)
run_pg "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust --no-sync >/dev/null
run_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
	-o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGDIR -c fsync=off -c synchronous_commit=off -c shared_buffers=256MB -c max_connections=100" \
	start >/dev/null
export PGHOST=127.0.0.1 PGPORT PGUSER=postgres
psql_q() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d bench "$@"; }
"$PGBIN/createdb" bench

psql_q <<SQL
CREATE EXTENSION dynamo_fdw${BENCH_SQL_EXT_VERSION:+ VERSION '$BENCH_SQL_EXT_VERSION'};
CREATE SERVER ring FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes '$DYNAMO_FDW_NODES', batch_size '500');
CREATE USER MAPPING FOR CURRENT_USER SERVER ring OPTIONS (key_file '$DYNAMO_FDW_KEYS/admin.key');
SQL
psql_q -Atc "SELECT 'dynamo_fdw ' || extversion FROM pg_extension WHERE extname = 'dynamo_fdw'"

# pgbench SCRIPT_FILE CLIENTS ARGS...: the tps figure (excluding connections)
pgbench_tps() {
	local file=$1 clients=$2 out
	shift 2
	out=$("$PGBIN/pgbench" -n -M prepared -c "$clients" -j "$clients" -f "$file" "$@" bench 2>&1) || {
		echo "$out" >&2
		echo "bench-sql.sh: pgbench failed" >&2
		exit 1
	}
	if echo "$out" | grep -q "number of failed transactions: [1-9]"; then
		echo "$out" >&2
		echo "bench-sql.sh: pgbench transactions failed" >&2
		exit 1
	fi
	echo "$out" | sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p'
}

# pgbench_ms NAME SQL [SETTING]: one client's mean time of SQL in ms (SET
# SETTING first, in the same transaction, when given)
pgbench_ms() {
	{ [ -n "${3:-}" ] && printf 'SET %s;\n' "$3"; printf '%s;\n' "$2"; } >"$TMP/$1.sql"
	echo "1000 / $(pgbench_tps "$TMP/$1.sql" 1 -T "$SECONDS_EACH")" | bc -l
}

# BENCH_SQL_ONLY=merge: the merge line alone (it needs none of the data below)
if [ "${BENCH_SQL_ONLY:-}" != merge ]; then
echo "== loading $KEYS keys into a heap table, postgres_fdw (loopback) and dynamo_fdw"
psql_q <<SQL
CREATE EXTENSION postgres_fdw;
CREATE TABLE t_local (key text PRIMARY KEY, value text);
INSERT INTO t_local SELECT i::text, md5(i::text) || md5((i * 7)::text) || md5((i * 13)::text)
  FROM generate_series(1, $KEYS) AS i;
VACUUM ANALYZE t_local;
CREATE SERVER loopback FOREIGN DATA WRAPPER postgres_fdw
  OPTIONS (host '127.0.0.1', port '$PGPORT', dbname 'bench');
CREATE USER MAPPING FOR CURRENT_USER SERVER loopback OPTIONS (user 'postgres');
CREATE FOREIGN TABLE t_pgfdw (key text, value text) SERVER loopback
  OPTIONS (table_name 't_local');
CREATE FOREIGN TABLE t_dyn (key text, value text) SERVER ring OPTIONS (bucket 'bench');
INSERT INTO t_dyn SELECT key, value FROM t_local;
ANALYZE t_pgfdw;
ANALYZE t_dyn;
CREATE TABLE j_local (id text PRIMARY KEY);
INSERT INTO j_local SELECT DISTINCT ((i * 7919) % $KEYS + 1)::text FROM generate_series(1, $JOIN_KEYS) AS i;
ANALYZE j_local;
SQL
psql_q -Atc "SELECT 'heap rows: ' || count(*) FROM t_local"
psql_q -Atc "SELECT 'dynamo keys read back by a coverage scan: ' || count(*) FROM t_dyn"
psql_q -Atc "SELECT 'join keys: ' || count(*) FROM j_local"

echo
echo "== plans"
for t in t_local t_pgfdw t_dyn; do
	echo "-- $t"
	psql_q -c "EXPLAIN (COSTS OFF) SELECT value FROM $t WHERE key = '42'"
done
JOIN_SQL="SELECT count(*), sum(length(d.value)) FROM j_local l
  JOIN (SELECT key, value FROM t_dyn WHERE key = ANY (ARRAY(SELECT id FROM j_local))) d ON d.key = l.id"
echo "-- the join"
psql_q -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) $JOIN_SQL"

echo
echo "== point SELECT: $CLIENTS clients, ${SECONDS_EACH}s each, random keys of $KEYS"
for t in t_local t_pgfdw t_dyn; do
	cat >"$TMP/point_$t.sql" <<SQL
\set k random(1, $KEYS)
SELECT value FROM $t WHERE key = :k::text;
SQL
	TPS[$t]=$(pgbench_tps "$TMP/point_$t.sql" "$CLIENTS" -T "$SECONDS_EACH")
	printf '  %-8s %12s tps\n' "$t" "${TPS[$t]}"
done

echo
echo "== join of $JOIN_KEYS local keys: one multi-key GET vs $JOIN_KEYS single-key SELECTs"
cat >"$TMP/join.sql" <<SQL
$JOIN_SQL;
SQL
# the same keys, one SELECT each (one client: a join is one client too)
psql_q -Atc "SELECT id FROM j_local ORDER BY id" >"$TMP/join_keys"
awk '{ printf "SELECT value FROM t_dyn WHERE key = '"'"'%s'"'"';\n", $1 }' "$TMP/join_keys" >"$TMP/singles.sql"
JOIN_TPS=$(pgbench_tps "$TMP/join.sql" 1 -T "$SECONDS_EACH")
start=$(date +%s.%N)
"$PGBIN/psql" -X -q -d bench -f "$TMP/singles.sql" >/dev/null
end=$(date +%s.%N)
SINGLES_MS=$(echo "($end - $start) * 1000" | bc -l)
# the same 1,000 statements through pgbench (prepared, no psql overhead)
cat >"$TMP/single.sql" <<SQL
\set k random(1, $KEYS)
SELECT value FROM t_dyn WHERE key = :k::text;
SQL
SINGLE_TPS=$(pgbench_tps "$TMP/single.sql" 1 -T "$SECONDS_EACH")
JOIN_MS=$(echo "1000 / $JOIN_TPS" | bc -l)
SINGLES_PGBENCH_MS=$(echo "$JOIN_KEYS * 1000 / $SINGLE_TPS" | bc -l)
printf '  one join (pipelined multi-key GET)       %10.2f ms\n' "$JOIN_MS"
printf '  %d single-key SELECTs, psql script      %10.2f ms\n' "$JOIN_KEYS" "$SINGLES_MS"
printf '  %d single-key SELECTs, pgbench prepared %10.2f ms\n' "$JOIN_KEYS" "$SINGLES_PGBENCH_MS"

echo
echo "== the join as written: JOIN ... ON d.key = l.id (batched nested loop) vs = ANY(ARRAY(...))"
PLAIN_JOIN_SQL="SELECT count(*), sum(length(d.value)) FROM j_local l JOIN t_dyn d ON d.key = l.id"
psql_q -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) $PLAIN_JOIN_SQL"
PLAIN_JOIN_MS=$(pgbench_ms plain_join "$PLAIN_JOIN_SQL")
UNBATCHED_JOIN_MS=$(pgbench_ms plain_join_off "$PLAIN_JOIN_SQL" "dynamo_fdw.enable_batched_join = off")
printf '  JOIN ... ON d.key = l.id, batched        %10.2f ms\n' "$PLAIN_JOIN_MS"
printf '  JOIN ... ON d.key = l.id, not batched    %10.2f ms\n' "$UNBATCHED_JOIN_MS"
printf '  key = ANY(ARRAY(SELECT id FROM j_local)) %10.2f ms\n' "$JOIN_MS"

echo
echo "== count(*) of the $KEYS keys: coverage count (no values) vs the full scan"
COUNT_SQL="SELECT count(*) FROM t_dyn"
psql_q -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) $COUNT_SQL"
COUNT_PUSHED_MS=$(pgbench_ms count_pushed "$COUNT_SQL")
COUNT_SCAN_MS=$(pgbench_ms count_scan "$COUNT_SQL" "dynamo_fdw.enable_count_pushdown = off")
printf '  count(*) pushed down (no values)         %10.2f ms
' "$COUNT_PUSHED_MS"
printf '  count(*) over the full scan              %10.2f ms
' "$COUNT_SCAN_MS"

echo
echo "== UNION ALL over 4 foreign tables of $ASYNC_KEYS keys each: async Append vs one after another"
psql_q <<SQL
CREATE SERVER ring_async FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes '$DYNAMO_FDW_NODES', batch_size '500', async_capable 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER ring_async OPTIONS (key_file '$DYNAMO_FDW_KEYS/admin.key');
CREATE FOREIGN TABLE u1 (key text, value text) SERVER ring_async OPTIONS (bucket 'bench_u1');
CREATE FOREIGN TABLE u2 (key text, value text) SERVER ring_async OPTIONS (bucket 'bench_u2');
CREATE FOREIGN TABLE u3 (key text, value text) SERVER ring_async OPTIONS (bucket 'bench_u3');
CREATE FOREIGN TABLE u4 (key text, value text) SERVER ring_async OPTIONS (bucket 'bench_u4');
INSERT INTO u1 SELECT key, value FROM t_local WHERE key::int <= $ASYNC_KEYS;
INSERT INTO u2 SELECT key, value FROM t_local WHERE key::int <= $ASYNC_KEYS;
INSERT INTO u3 SELECT key, value FROM t_local WHERE key::int <= $ASYNC_KEYS;
INSERT INTO u4 SELECT key, value FROM t_local WHERE key::int <= $ASYNC_KEYS;
SQL
UNION_SQL="SELECT count(*), sum(length(value)) FROM (SELECT value FROM u1 UNION ALL SELECT value FROM u2 UNION ALL SELECT value FROM u3 UNION ALL SELECT value FROM u4) u"
psql_q -c "EXPLAIN (COSTS OFF) $UNION_SQL" | grep -E 'Append|Foreign Scan'
UNION_ASYNC_MS=$(pgbench_ms union_async "$UNION_SQL")
UNION_SERIAL_MS=$(pgbench_ms union_serial "$UNION_SQL" "enable_async_append = off")
# the same without the values (count(*) converts none): less work per row,
# so the waits on the nodes weigh more
UNION_KEYS_SQL="SELECT count(*) FROM (SELECT key FROM u1 UNION ALL SELECT key FROM u2 UNION ALL SELECT key FROM u3 UNION ALL SELECT key FROM u4) u"
UNION_KEYS_ASYNC_MS=$(pgbench_ms union_keys_async "$UNION_KEYS_SQL")
UNION_KEYS_SERIAL_MS=$(pgbench_ms union_keys_serial "$UNION_KEYS_SQL" "enable_async_append = off")
printf '  values: async Append (4 scans at once)   %10.2f ms\n' "$UNION_ASYNC_MS"
printf '  values: one after another               %10.2f ms\n' "$UNION_SERIAL_MS"
printf '  count(*): async Append                   %10.2f ms\n' "$UNION_KEYS_ASYNC_MS"
printf '  count(*): one after another              %10.2f ms\n' "$UNION_KEYS_SERIAL_MS"

echo
echo "== ratios"
POINT_RATIO=$(echo "${TPS[t_dyn]} / ${TPS[t_pgfdw]}" | bc -l)
JOIN_RATIO=$(echo "$SINGLES_PGBENCH_MS / $JOIN_MS" | bc -l)
JOIN_RATIO_PSQL=$(echo "$SINGLES_MS / $JOIN_MS" | bc -l)
printf '  point SELECT dynamo_fdw / postgres_fdw   %6.2f x   (target >= 1.2)\n' "$POINT_RATIO"
printf '  point SELECT dynamo_fdw / heap table     %6.2f x\n' "$(echo "${TPS[t_dyn]} / ${TPS[t_local]}" | bc -l)"
printf '  join vs single SELECTs (pgbench)         %6.2f x   (target >= 10)\n' "$JOIN_RATIO"
printf '  join vs single SELECTs (psql script)     %6.2f x\n' "$JOIN_RATIO_PSQL"
printf '  JOIN as written / ANY(ARRAY) form        %6.2f x   (target <= 1.5)\n' "$(echo "$PLAIN_JOIN_MS / $JOIN_MS" | bc -l)"
printf '  JOIN not batched / batched               %6.2f x\n' "$(echo "$UNBATCHED_JOIN_MS / $PLAIN_JOIN_MS" | bc -l)"
printf '  count(*) full scan / pushed down         %6.2f x\n' "$(echo "$COUNT_SCAN_MS / $COUNT_PUSHED_MS" | bc -l)"
printf '  UNION ALL one after another / async      %6.2f x   (values)\n' "$(echo "$UNION_SERIAL_MS / $UNION_ASYNC_MS" | bc -l)"
printf '  UNION ALL one after another / async      %6.2f x   (count(*))\n' "$(echo "$UNION_KEYS_SERIAL_MS / $UNION_KEYS_ASYNC_MS" | bc -l)"

# sql_ms SQL: how long one statement takes (psql's \timing), in ms
sql_ms() {
	printf '\\timing on\n%s;\n' "$1" | psql_q | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
}

echo
echo "== writes of $WRITE_ROWS rows, one statement each, best of $WRITE_ROUNDS rounds (write_mode commit unless said)"
psql_q <<SQL
CREATE TABLE w_src AS SELECT 'w' || i AS key, md5(i::text) || md5((i * 7)::text) AS value
  FROM generate_series(1, $WRITE_ROWS) AS i;
SQL
psql_q -Atc "COPY w_src TO STDOUT" >"$TMP/w_src.tsv"
[ "$(id -u)" -eq 0 ] && chown postgres "$TMP/w_src.tsv"
# min_ms A B: the smaller of two times (an empty A is none yet)
min_ms() { if [ -z "$1" ]; then echo "$2"; else echo "if ($1 < $2) $1 else $2" | bc -l; fi; }
INS_MS='' COPY_MS='' UPD_MS='' DEL_MS='' IMM_MS=''
for r in $(seq 1 "$WRITE_ROUNDS"); do
	# fresh buckets each round: every statement writes keys nobody holds yet
	psql_q <<SQL
CREATE FOREIGN TABLE w_ins$r (key text, value text, context text) SERVER ring OPTIONS (bucket 'bench_w_ins$r');
CREATE FOREIGN TABLE w_copy$r (key text, value text) SERVER ring OPTIONS (bucket 'bench_w_copy$r');
CREATE FOREIGN TABLE w_imm$r (key text, value text) SERVER ring
  OPTIONS (bucket 'bench_w_imm$r', write_mode 'immediate');
SQL
	INS_MS=$(min_ms "$INS_MS" "$(sql_ms "INSERT INTO w_ins$r (key, value) SELECT key, value FROM w_src")")
	COPY_MS=$(min_ms "$COPY_MS" "$(sql_ms "COPY w_copy$r (key, value) FROM '$TMP/w_src.tsv'")")
	UPD_MS=$(min_ms "$UPD_MS" "$(sql_ms "UPDATE w_ins$r SET value = value || '!'")")
	DEL_MS=$(min_ms "$DEL_MS" "$(sql_ms "DELETE FROM w_ins$r")")
	IMM_MS=$(min_ms "$IMM_MS" "$(sql_ms "INSERT INTO w_imm$r (key, value) SELECT key, value FROM w_src")")
done
psql_q -Atc "SELECT 'rows read back: copied ' || (SELECT count(*) FROM w_copy1) || ', inserted (immediate) ' || (SELECT count(*) FROM w_imm1) || ', left after DELETE ' || (SELECT count(*) FROM w_ins1)"
printf '  INSERT ... SELECT                       %10.1f ms\n' "$INS_MS"
printf '  COPY FROM                               %10.1f ms   %5.2f x INSERT   (target <= 1.5)\n' "$COPY_MS" "$(echo "$COPY_MS / $INS_MS" | bc -l)"
printf '  UPDATE of every row                     %10.1f ms   %5.2f x INSERT   (target <= 1.5)\n' "$UPD_MS" "$(echo "$UPD_MS / $INS_MS" | bc -l)"
printf '  DELETE of every row                     %10.1f ms   %5.2f x INSERT   (target <= 1.5)\n' "$DEL_MS" "$(echo "$DEL_MS / $INS_MS" | bc -l)"
printf '  INSERT ... SELECT, write_mode immediate %10.1f ms   %5.2f x commit\n' "$IMM_MS" "$(echo "$IMM_MS / $INS_MS" | bc -l)"
fi
echo
echo "== point SELECT of keys with 2 siblings: without and with merge_function (dynamo_merge_union)"
MERGE_KEYS=10000
psql_q <<SQL
CREATE FOREIGN TABLE m_raw (key text, value jsonb) SERVER ring
  OPTIONS (bucket 'bench_merge', insert_mode 'sibling');
CREATE FOREIGN TABLE m_merged (key text, value jsonb, siblings int) SERVER ring
  OPTIONS (bucket 'bench_merge', merge_function 'dynamo_merge_union');
INSERT INTO m_raw SELECT i::text, jsonb_build_object('items', jsonb_build_array('a' || i)) FROM generate_series(1, $MERGE_KEYS) i;
INSERT INTO m_raw SELECT i::text, jsonb_build_object('items', jsonb_build_array('b' || i)) FROM generate_series(1, $MERGE_KEYS) i;
SQL
psql_q -Atc "SELECT 'siblings of key 42: ' || count(*) || ' rows raw, ' || (SELECT count(*) FROM m_merged WHERE key = '42') || ' row merged' FROM m_raw WHERE key = '42'"
for t in m_raw m_merged; do
	cat >"$TMP/point_$t.sql" <<SQL
\set k random(1, $MERGE_KEYS)
SELECT value FROM $t WHERE key = :k::text;
SQL
	TPS[$t]=$(pgbench_tps "$TMP/point_$t.sql" "$CLIENTS" -T "$SECONDS_EACH")
done
printf '  2 siblings, one row each          %12s tps\n' "${TPS[m_raw]}"
printf '  2 siblings, merged into one row   %12s tps   %5.2f x without\n' "${TPS[m_merged]}" \
	"$(echo "${TPS[m_merged]} / ${TPS[m_raw]}" | bc -l)"
# the function alone, one client: 1,000 calls on two one-item carts a
# statement, less the same statement building the carts without merging
CARTS="ARRAY[jsonb_build_object('items', jsonb_build_array('a' || i)), jsonb_build_object('items', jsonb_build_array('b' || i))]"
MERGE_CALLS_MS=$(pgbench_ms merge_calls "SELECT count(dynamo_merge_union($CARTS, NULL)) FROM generate_series(1, 1000) i")
MERGE_BASE_MS=$(pgbench_ms merge_base "SELECT count($CARTS) FROM generate_series(1, 1000) i")
printf '  dynamo_merge_union alone          %12.2f us a call (two carts)\n' \
	"$(echo "$MERGE_CALLS_MS - $MERGE_BASE_MS" | bc -l)"
