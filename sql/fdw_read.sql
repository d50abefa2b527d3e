--
-- Reads: key quals become quorum GETs (=, IN, = ANY, parameters), pipelined;
-- one row per live sibling with its vclock, the sibling count and the
-- context; R from the GUC, the table, the server or the cluster default,
-- shown by EXPLAIN.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
RESET client_min_messages;
\getenv nodes DYNAMO_FDW_NODES
\getenv keys DYNAMO_FDW_KEYS
\set key_file :keys '/admin.key'
CREATE SERVER reads FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes :'nodes');
CREATE USER MAPPING FOR CURRENT_USER SERVER reads OPTIONS (key_file :'key_file');
CREATE FOREIGN TABLE carts (
  key      text,
  value    jsonb,
  vclock   jsonb,
  siblings int,
  context  text
) SERVER reads OPTIONS (bucket 'read_carts');
INSERT INTO carts (key, value)
  SELECT 'cart' || i, jsonb_build_object('items', i) FROM generate_series(1, 20) AS i;

-- a point read
SELECT key, value, vclock, siblings, context IS NOT NULL AS has_context
  FROM carts WHERE key = 'cart1';
EXPLAIN (COSTS OFF) SELECT * FROM carts WHERE key = 'cart1';
-- the key on either side
SELECT key, value FROM carts WHERE 'cart2' = key;
-- a key that is not there is no row
SELECT * FROM carts WHERE key = 'nobody';
SELECT count(*) FROM carts WHERE key = NULL;
-- IN and = ANY: one GET per distinct key, absent keys and NULLs skipped
SELECT key, value FROM carts WHERE key IN ('cart3', 'cart1', 'nobody', 'cart3', NULL) ORDER BY key;
EXPLAIN (COSTS OFF) SELECT key FROM carts WHERE key IN ('cart3', 'cart1', 'nobody');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT key FROM carts WHERE key IN ('cart3', 'cart1', 'nobody', 'cart3');
SELECT key, value FROM carts WHERE key = ANY (ARRAY['cart4', 'cart5']) ORDER BY key;
SELECT count(*) FROM carts WHERE key = ANY ('{}'::text[]);
-- other quals are checked locally
SELECT key FROM carts WHERE key IN ('cart6', 'cart7') AND (value->>'items')::int > 6;
EXPLAIN (COSTS OFF) SELECT key FROM carts WHERE key IN ('cart6', 'cart7') AND (value->>'items')::int > 6;
-- two key quals: the one with fewer keys is used, the other checked locally
EXPLAIN (COSTS OFF) SELECT key FROM carts WHERE key IN ('cart6', 'cart7') AND key = 'cart6';
SELECT key FROM carts WHERE key IN ('cart6', 'cart7') AND key = 'cart6';
-- parameters: constants at execution
PREPARE one(text) AS SELECT key, value FROM carts WHERE key = $1;
EXECUTE one('cart8');
EXECUTE one('cart9');
EXPLAIN (COSTS OFF) EXECUTE one('cart8');
PREPARE many(text[]) AS SELECT key, value FROM carts WHERE key = ANY ($1) ORDER BY key;
EXECUTE many(ARRAY['cart10', 'cart11', 'cart12']);
-- a generic plan: the key is a Param
SET plan_cache_mode = force_generic_plan;
PREPARE generic(text) AS SELECT key FROM carts WHERE key = $1;
EXPLAIN (COSTS OFF) EXECUTE generic('cart1');
EXECUTE generic('cart13');
RESET plan_cache_mode;
-- stable expressions are evaluated before the scan
SELECT key FROM carts WHERE key = lower('CART14');
-- functions of the row cannot name keys
EXPLAIN (COSTS OFF) SELECT key FROM carts WHERE lower(key) = 'cart14';
-- only the columns asked for are converted
SELECT count(*) FROM carts WHERE key IN ('cart15', 'cart16');

-- R: the cluster default, then server, table, GUC; EXPLAIN says which
EXPLAIN (COSTS OFF, VERBOSE) SELECT value FROM carts WHERE key = 'cart1';
ALTER SERVER reads OPTIONS (ADD r '1');
EXPLAIN (COSTS OFF) SELECT value FROM carts WHERE key = 'cart1';
ALTER FOREIGN TABLE carts OPTIONS (ADD r '3');
EXPLAIN (COSTS OFF) SELECT value FROM carts WHERE key = 'cart1';
SELECT value FROM carts WHERE key = 'cart1';
BEGIN;
SET LOCAL dynamo_fdw.r = 2;
EXPLAIN (COSTS OFF) SELECT value FROM carts WHERE key = 'cart1';
SELECT value FROM carts WHERE key = 'cart1';
COMMIT;
EXPLAIN (COSTS OFF) SELECT value FROM carts WHERE key = 'cart1';
-- a GUC applies to a plan made before it
PREPARE cached AS SELECT value FROM carts WHERE key = 'cart1';
SET dynamo_fdw.r = 1;
EXPLAIN (COSTS OFF) EXECUTE cached;
RESET dynamo_fdw.r;
ALTER FOREIGN TABLE carts OPTIONS (DROP r);
ALTER SERVER reads OPTIONS (DROP r);
-- R above N is the node's to refuse
SET dynamo_fdw.r = 4;
\set SHOW_CONTEXT never
SELECT value FROM carts WHERE key = 'cart1';
\set SHOW_CONTEXT errors
RESET dynamo_fdw.r;

-- routing: preflist (default) or any, shown by EXPLAIN VERBOSE
ALTER SERVER reads OPTIONS (ADD routing 'any');
EXPLAIN (COSTS OFF, VERBOSE) SELECT value FROM carts WHERE key = ANY (ARRAY['cart1', 'cart2']);
SELECT key, value FROM carts WHERE key = ANY (ARRAY['cart1', 'cart2']) ORDER BY key;
ALTER SERVER reads OPTIONS (DROP routing);

-- columns by role, whatever their names and order
CREATE FOREIGN TABLE carts2 (
  ctx   text OPTIONS (role 'context'),
  n     bigint OPTIONS (role 'siblings'),
  id    text OPTIONS (role 'key'),
  clock text OPTIONS (role 'vclock'),
  doc   json OPTIONS (role 'value')
) SERVER reads OPTIONS (bucket 'read_carts');
SELECT id, doc, n, ctx = (SELECT context FROM carts WHERE key = 'cart2') AS same_context
  FROM carts2 WHERE id = 'cart2';
-- only the key
CREATE FOREIGN TABLE cart_keys (key text) SERVER reads OPTIONS (bucket 'read_carts');
SELECT * FROM cart_keys WHERE key IN ('cart1', 'nobody');

-- keys of other types: integers and uuids are pushed down, bytea keys are raw bytes
CREATE FOREIGN TABLE counters (key int, value bigint) SERVER reads OPTIONS (bucket 'read_counters');
INSERT INTO counters SELECT i, i * 100 FROM generate_series(1, 5) AS i;
SELECT * FROM counters WHERE key IN (2, 4) ORDER BY key;
SELECT * FROM counters WHERE key = 3::bigint;
EXPLAIN (COSTS OFF) SELECT * FROM counters WHERE key = 3::bigint;
CREATE FOREIGN TABLE blobs (key bytea, value bytea) SERVER reads OPTIONS (bucket 'read_blobs');
INSERT INTO blobs VALUES ('\x00ff'::bytea, '\xdeadbeef00'::bytea), ('abc'::bytea, '\x00'::bytea);
SELECT * FROM blobs WHERE key IN ('\x00ff'::bytea, 'abc'::bytea) ORDER BY key;
-- the same bytes seen as text
CREATE FOREIGN TABLE blobs_as_text (key text, value bytea) SERVER reads OPTIONS (bucket 'read_blobs');
SELECT * FROM blobs_as_text WHERE key = 'abc';
-- a key type whose equality is not byte equality is not pushed down
CREATE FOREIGN TABLE amounts (key numeric, value text) SERVER reads OPTIONS (bucket 'read_amounts');
EXPLAIN (COSTS OFF) SELECT * FROM amounts WHERE key = 1.0;

-- value_format 'row': the columns without a role are one JSON object
CREATE FOREIGN TABLE people (
  key     text,
  name    text,
  age     int,
  tags    text[],
  profile jsonb,
  active  boolean,
  score   float8,
  context text
) SERVER reads OPTIONS (bucket 'read_people', value_format 'row');
INSERT INTO people (key, name, age, tags, profile, active, score) VALUES
  ('p1', 'Ann', 31, '{a,b}', '{"city": "Oslo"}', true, 1.5),
  ('p2', 'Bob', NULL, NULL, NULL, false, 'NaN');
SELECT key, name, age, tags, profile, active, score FROM people WHERE key IN ('p1', 'p2') ORDER BY key;
-- the stored object, read through a raw table on the same bucket
CREATE FOREIGN TABLE people_raw (key text, value jsonb) SERVER reads OPTIONS (bucket 'read_people');
SELECT key, value FROM people_raw WHERE key IN ('p1', 'p2') ORDER BY key;
-- fields missing from the object are NULL, unknown fields are ignored
INSERT INTO people_raw VALUES ('p3', '{"name": "Cy", "height": 180}');
SELECT key, name, age FROM people WHERE key = 'p3';

-- values that do not convert say which column, table and key
INSERT INTO people_raw VALUES ('p4', '{"name": "Di", "age": "old"}');
SELECT * FROM people WHERE key = 'p4';
INSERT INTO people_raw VALUES ('p5', '[1, 2]');
SELECT * FROM people WHERE key = 'p5';
CREATE FOREIGN TABLE carts_as_int (key text, value int) SERVER reads OPTIONS (bucket 'read_carts');
SELECT * FROM carts_as_int WHERE key = 'cart1';
CREATE FOREIGN TABLE blobs_bad_text (key bytea, value text) SERVER reads OPTIONS (bucket 'read_blobs');
SELECT * FROM blobs_bad_text WHERE key = 'abc'::bytea;

-- an error in a subtransaction (caught by plpgsql) while its GETs are in
-- flight leaves the outer scan, whose GETs share the connections, intact
CREATE FUNCTION value_as_int(k text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN (SELECT value FROM carts_as_int WHERE key IN (k, k || '0', k || '1', k || '2'))::text;
EXCEPTION WHEN others THEN
  RETURN 'caught: ' || SQLERRM;
END $$;
SELECT key, value_as_int(key) FROM carts WHERE key IN ('cart1', 'cart2', 'cart3', 'cart4') ORDER BY key;
DROP FUNCTION value_as_int(text);

DROP SERVER reads CASCADE;
