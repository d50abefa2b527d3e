#!/usr/bin/env bash
# scripts/fdw-demo.sh — the SQL half of the README's run command: a local
# PostgreSQL on top of the cluster scripts/run.sh starts, with dynamo_fdw.
#
#   bash scripts/fdw-demo.sh          (re)start PostgreSQL, set up and show SQL on the cluster
#   bash scripts/fdw-demo.sh stop     stop PostgreSQL
#
# It uses run.sh's conventions: the cluster's nodes on 127.0.0.1:$DYNAMO_PORT
# (7401) and the two ports after it, the admin key and trust file in
# $DYNAMO_HOME/keys (var/keys).  PostgreSQL keeps its data in
# $DYNAMO_HOME/pg and listens on 127.0.0.1:$DYNAMO_PG_PORT (7400); it runs
# as the postgres user, which cannot read the private key directory, so the
# user mapping carries the key and the trust file inline (options key and
# trust).  Every run keeps what a user made in the database (their own
# foreign tables, views, user mappings): it creates the demo's server ring,
# its user mapping and its tables carts, carts_merged and customers only when they are
# missing, points the server and mapping at this run's nodes and keys, and
# resets only the demo's own rows; then it shows: a point read, a join with
# a local table, a sibling made by two writes from one context and
# reconciled by the table's merge function (union, written back), and the
# cluster's nodes.
# Connect yourself with: psql -h 127.0.0.1 -p 7400 -U postgres dynamo
set -euo pipefail
cd "$(dirname "$0")/.."

HOME_DIR=${DYNAMO_HOME:-$PWD/var}
BASE_PORT=${DYNAMO_PORT:-7401}
PG_PORT=${DYNAMO_PG_PORT:-7400}
PGBIN=$(pg_config --bindir)
PGDATA_DIR="$HOME_DIR/pg"
KEYS="$HOME_DIR/keys"
run_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [ "${1:-}" = "stop" ]; then
  if [ -f "$PGDATA_DIR/data/postmaster.pid" ]; then
    run_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR/data" -m fast stop >/dev/null
  fi
  echo "PostgreSQL stopped (data kept in $PGDATA_DIR)"
  exit 0
fi

[ -f "$KEYS/admin.key" ] && [ -f "$KEYS/trust" ] ||
  { echo "fdw-demo.sh: no $KEYS/admin.key: start the cluster with scripts/run.sh first" >&2; exit 1; }

# PostgreSQL: made once, restarted on every run.
mkdir -p "$PGDATA_DIR"
[ "$(id -u)" -eq 0 ] && chown postgres "$PGDATA_DIR"
if [ ! -f "$PGDATA_DIR/data/PG_VERSION" ]; then
  run_pg "$PGBIN/initdb" -D "$PGDATA_DIR/data" -U postgres --auth=trust >/dev/null
fi
if [ -f "$PGDATA_DIR/data/postmaster.pid" ]; then
  run_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR/data" -m fast stop >/dev/null || true
fi
run_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR/data" -l "$PGDATA_DIR/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PGDATA_DIR" start >/dev/null
export PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=postgres
"$PGBIN/psql" -X -q -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'dynamo'" |
  grep -q 1 || "$PGBIN/createdb" dynamo

NODES="127.0.0.1:$BASE_PORT,127.0.0.1:$((BASE_PORT + 1)),127.0.0.1:$((BASE_PORT + 2))"
echo "PostgreSQL on 127.0.0.1:$PG_PORT (data in $PGDATA_DIR), database dynamo, with dynamo_fdw:"
echo
"$PGBIN/psql" -X -q -d dynamo -v ON_ERROR_STOP=1 -v nodes="$NODES" \
  -v key="$(cat "$KEYS/admin.key")" -v trust="$(cat "$KEYS/trust")" <<'SQL'
\set QUIET on
-- an earlier run's objects are kept (the user's own may depend on them):
-- IF NOT EXISTS, and the server and mapping get this run's nodes and keys
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
\set ECHO queries
CREATE SERVER IF NOT EXISTS ring FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes :'nodes');
ALTER SERVER ring OPTIONS (SET nodes :'nodes');
\set ECHO none
\echo 'CREATE USER MAPPING IF NOT EXISTS FOR CURRENT_USER SERVER ring OPTIONS (key \'(var/keys/admin.key)\', trust \'(var/keys/trust)\');'
CREATE USER MAPPING IF NOT EXISTS FOR CURRENT_USER SERVER ring OPTIONS (key :'key', trust :'trust');
ALTER USER MAPPING FOR CURRENT_USER SERVER ring OPTIONS (SET key :'key', SET trust :'trust');
\set ECHO queries
CREATE FOREIGN TABLE IF NOT EXISTS carts (
  key      text,
  value    jsonb,
  vclock   jsonb,
  siblings int,
  context  text
) SERVER ring OPTIONS (bucket 'sql_carts');
CREATE TABLE IF NOT EXISTS customers (id text PRIMARY KEY, name text, city text);
INSERT INTO customers VALUES
  ('alice', 'Alice', 'Oslo'), ('bob', 'Bob', 'Lyon'), ('carol', 'Carol', 'Porto')
  ON CONFLICT (id) DO UPDATE SET name = excluded.name, city = excluded.city;
\set ECHO none
RESET client_min_messages;
ANALYZE customers;
-- a previous run's carts go first, so every run starts alike
DELETE FROM carts WHERE key IN ('alice', 'bob', 'carol');
\set ECHO queries
INSERT INTO carts (key, value) VALUES
  ('alice', '{"items": ["apple"]}'),
  ('bob',   '{"items": ["bread", "tea"]}');
-- a quorum GET (R=2 of N=3)
SELECT key, value, vclock, siblings FROM carts WHERE key = 'alice';
-- a join with a local table: each customer's cart looked up by key
EXPLAIN (COSTS OFF) SELECT c.name, c.city, k.value->'items' AS items
  FROM customers c JOIN carts k ON k.key = c.id;
SELECT c.name, c.city, k.value->'items' AS items
  FROM customers c LEFT JOIN carts k ON k.key = c.id ORDER BY c.name;
-- two writers start from the same read of alice's cart: both versions are kept
SELECT context AS base FROM carts WHERE key = 'alice' \gset
INSERT INTO carts (key, value, context) VALUES ('alice', '{"items": ["apple", "pear"]}', :'base');
INSERT INTO carts (key, value, context) VALUES ('alice', '{"items": ["fig"]}', :'base');
SELECT key, value, vclock, siblings FROM carts WHERE key = 'alice' ORDER BY vclock::text;
-- the same bucket with its reconciliation declared once, as the paper's cart
-- does it: the versions merged by union, and the merge written back
CREATE FOREIGN TABLE IF NOT EXISTS carts_merged (
  key text, value jsonb, siblings int, context text
) SERVER ring OPTIONS (bucket 'sql_carts', merge_function 'dynamo_merge_union',
                       merge_write_back 'on');
SELECT key, value, siblings FROM carts_merged WHERE key = 'alice';
-- that read wrote the merge back: one version remains
SELECT key, value, vclock, siblings FROM carts WHERE key = 'alice';
-- the cluster, from SQL
SELECT id, address, status, partitions, keys FROM dynamo_nodes('ring') ORDER BY id;
SELECT rank, node_id, replica FROM dynamo_preflist('ring', 'sql_carts', 'alice');
-- an anti-entropy round on every node: the replicas already agree
SELECT node, partitions, exchanges, failed, keys_sent, keys_received FROM dynamo_repair('ring') ORDER BY node;
SQL
echo
echo "connect with: psql -h 127.0.0.1 -p $PG_PORT -U postgres dynamo"
echo "stop PostgreSQL with: bash scripts/fdw-demo.sh stop"
