--
-- Full scans: anything that names no keys reads every partition once, each
-- from one replica (a coverage scan), in SCAN pages of fetch_size keys; one
-- row per live sibling as for GETs; other quals are checked locally.
-- Estimates come from the cluster's key counts until ANALYZE, which samples
-- a coverage scan.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
RESET client_min_messages;
\getenv nodes DYNAMO_FDW_NODES
\getenv keys DYNAMO_FDW_KEYS
\set key_file :keys '/admin.key'
CREATE SERVER scans FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes :'nodes', write_mode 'immediate', insert_mode 'sibling');
CREATE USER MAPPING FOR CURRENT_USER SERVER scans OPTIONS (key_file :'key_file');
CREATE FOREIGN TABLE items (key text, value jsonb, vclock jsonb, siblings int, context text)
  SERVER scans OPTIONS (bucket 'scan_items');
-- the rows a plan expects, from EXPLAIN
CREATE FUNCTION plan_rows(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE j json;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO j;
  RETURN (j->0->'Plan'->>'Plan Rows')::float8;
END $$;

-- an empty bucket
SELECT count(*) FROM items;
EXPLAIN (COSTS OFF) SELECT * FROM items;
INSERT INTO items (key, value)
  SELECT 'item' || i, jsonb_build_object('n', i, 'even', i % 2 = 0) FROM generate_series(1, 300) AS i;
-- every key once, whatever partition or node holds it
SELECT count(*), count(DISTINCT key), sum((value->>'n')::int) FROM items;
SELECT key, value FROM items WHERE (value->>'n')::int % 50 = 0 ORDER BY key;
EXPLAIN (COSTS OFF, VERBOSE) SELECT key FROM items WHERE (value->>'n')::int > 290;
-- pages of fetch_size keys: 300 keys over 64 partitions in pages of 5
ALTER FOREIGN TABLE items OPTIONS (ADD fetch_size '5');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM items;
SELECT count(*), count(DISTINCT key) FROM items;
ALTER FOREIGN TABLE items OPTIONS (SET fetch_size '1');
SELECT count(*), count(DISTINCT key) FROM items;
ALTER FOREIGN TABLE items OPTIONS (DROP fetch_size);
-- LIMIT stops early; what was in flight is dropped
SELECT count(*) FROM (SELECT key FROM items LIMIT 7) AS s;
SELECT count(*) FROM items;

-- estimates: the cluster's key count (its nodes' keys over N), then ANALYZE
SELECT plan_rows('SELECT * FROM items') =
       round((SELECT sum(keys) FROM dynamo_nodes('scans')) / 3.0) AS estimate_from_cluster;
ANALYZE items;
SELECT reltuples FROM pg_class WHERE oid = 'items'::regclass;
SELECT plan_rows('SELECT * FROM items') AS after_analyze;
SELECT plan_rows('SELECT * FROM items WHERE key = ''item1''') AS one_key;
SELECT attname, n_distinct, null_frac FROM pg_stats
 WHERE tablename = 'items' AND attname IN ('key', 'siblings') ORDER BY attname;

-- siblings in a scan: one row each, tombstones never
SELECT context AS base FROM items WHERE key = 'item2' \gset
INSERT INTO items (key, value, context) VALUES ('item2', '"A"', :'base'), ('item2', '"B"', :'base');
DELETE FROM items WHERE key = 'item3';
SELECT key, value, siblings FROM items WHERE key IN ('item2', 'item3') ORDER BY key, value::text;
SELECT count(*), count(DISTINCT key) FROM items;
SELECT key, value, siblings FROM items WHERE siblings > 1 ORDER BY key, value::text;

-- UPDATE and DELETE without a key: a scan, then writes with each key's context
UPDATE items SET value = jsonb_build_object('n', 0, 'merged', true) WHERE siblings > 1;
SELECT key, value, siblings FROM items WHERE key = 'item2';
EXPLAIN (COSTS OFF) DELETE FROM items WHERE (value->>'n')::int > 295;
DELETE FROM items WHERE (value->>'n')::int > 295;
SELECT count(*) FROM items;

-- a joined local table larger than the lookups are worth (even batched,
-- fetch_size keys a round trip): a scan and a hash join
CREATE TABLE wanted AS SELECT 'item' || i AS id FROM generate_series(1, 1000) AS i;
ANALYZE wanted;
ANALYZE items;
EXPLAIN (COSTS OFF) SELECT count(*) FROM wanted w JOIN items i ON i.key = w.id;
SELECT count(*) FROM wanted w JOIN items i ON i.key = w.id;
DROP TABLE wanted;

-- a key that does not convert to the key column's type is an error with context
CREATE FOREIGN TABLE blobs (key bytea, value text) SERVER scans OPTIONS (bucket 'scan_blobs');
INSERT INTO blobs VALUES ('\x00ff'::bytea, 'zero byte in the key');
CREATE FOREIGN TABLE blobs_text (key text, value text) SERVER scans OPTIONS (bucket 'scan_blobs');
SELECT * FROM blobs_text;
SELECT encode(key, 'hex'), value FROM blobs;

DROP FUNCTION plan_rows(text);
DROP SERVER scans CASCADE;
