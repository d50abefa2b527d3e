#!/usr/bin/env bash
# scripts/test-sql.sh — the pg_regress step of scripts/test.sh, runnable on
# its own once the tree is built and installed (make && make install):
# starts a throw-away dynamod cluster (scripts/dynamo-cluster.sh, 3 nodes,
# or DYNAMO_FDW_TEST_NODES) and a throw-away PostgreSQL run as "postgres",
# runs the suites in sql/ (or those named in REGRESS="a b") against the
# PostgreSQL that PG_CONFIG names (default: pg_config on PATH), prints
# regression.diffs on failure, and stops both.  The suites read the
# cluster's addresses and keys with \getenv: DYNAMO_FDW_NODES,
# DYNAMO_FDW_NODE1, DYNAMO_FDW_KEYS.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/dynamo-cluster.sh

# PG_CONFIG: the PostgreSQL to test against (default: pg_config on PATH),
# where the extension must be installed (make PG_CONFIG=... install)
PG_CONFIG=${PG_CONFIG:-pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
PGTMP=$(mktemp -d /tmp/dynamo_fdw_pg.XXXXXX)
CLTMP=$(mktemp -d /tmp/dynamo_fdw_cluster.XXXXXX)
cleanup() {
  if [ -f "$PGTMP/data/postmaster.pid" ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGTMP/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  cluster_stop "$CLTMP"
  rm -rf "$PGTMP" "$CLTMP"
}
trap cleanup EXIT

cluster_start "$CLTMP" "${DYNAMO_FDW_TEST_NODES:-3}"
PGPORT=$(cluster_free_port)
chown postgres "$PGTMP"
run_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
run_pg "$PGBIN/initdb" -D "$PGTMP/data" -U postgres --auth=trust >/dev/null
run_pg "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGTMP" start >/dev/null
if ! make -s installcheck PG_CONFIG="$PG_CONFIG" PGHOST=127.0.0.1 PGPORT="$PGPORT" PGUSER=postgres \
     ${REGRESS:+REGRESS="$REGRESS"}; then
  cat regression.diffs 2>/dev/null || true
  exit 1
fi
