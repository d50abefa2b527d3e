--
-- Batched nested loops (batch.c): a join whose inner side is a dynamo_fdw
-- key lookup by the outer row gets the keys of fetch_size outer rows in one
-- pipelined multi-key GET ("Dynamo Batched Keys" under the Nested Loop).
-- Every join type must return exactly what the plain parameterized nested
-- loop returns (dynamo_fdw.enable_batched_join = off): NULL keys, duplicate
-- keys, absent and deleted keys, siblings, the transaction's queued writes.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
RESET client_min_messages;
\getenv nodes DYNAMO_FDW_NODES
\getenv keys DYNAMO_FDW_KEYS
\set key_file :keys '/admin.key'
-- blind writes beside what a key holds make siblings
CREATE SERVER bsib FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes :'nodes', write_mode 'immediate', insert_mode 'sibling');
CREATE USER MAPPING FOR CURRENT_USER SERVER bsib OPTIONS (key_file :'key_file');
-- the transactional defaults: writes queued until COMMIT
CREATE SERVER bx FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes :'nodes');
CREATE USER MAPPING FOR CURRENT_USER SERVER bx OPTIONS (key_file :'key_file');
CREATE FOREIGN TABLE items_w (key text, value jsonb) SERVER bsib OPTIONS (bucket 'batch_items');
CREATE FOREIGN TABLE items (key text, value jsonb, vclock jsonb, siblings int, context text)
  SERVER bx OPTIONS (bucket 'batch_items');

INSERT INTO items_w SELECT 'k' || i, jsonb_build_object('v', i) FROM generate_series(1, 20) AS i;
-- k3 and k7 get a sibling each; k5 is deleted (a tombstone)
INSERT INTO items_w VALUES ('k3', '{"v": 103}'), ('k7', '{"v": 107}');
DELETE FROM items WHERE key = 'k5';
SELECT key, count(*) AS rows, max(siblings) AS siblings FROM items
 WHERE key IN ('k3', 'k5', 'k7') GROUP BY key ORDER BY key;

-- the outer rows: duplicates, NULLs, absent and deleted keys
CREATE TABLE probe (n int, id text, ids text[]);
INSERT INTO probe VALUES
  (1, 'k1', '{k1,k2}'), (2, 'k3', '{k3,NULL}'), (3, 'k3', NULL), (4, NULL, '{}'),
  (5, 'k5', '{k5,k6}'), (6, 'nope', '{nope}'), (7, 'k7', '{k7,k7}'), (8, NULL, NULL),
  (9, 'k9', '{k9}'), (10, 'k1', '{k20,k19}'), (11, 'k20', '{k11}'), (12, '', '{""}');
ANALYZE probe;

-- compare a query's rows with the batched path and without (both nested
-- loops: hash and merge joins are off), and say which plan each one used
CREATE FUNCTION batch_check(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  batched text[];
  plain text[];
  plan_b text := '';
  plan_p text := '';
  line text;
BEGIN
  PERFORM set_config('enable_hashjoin', 'off', true);
  PERFORM set_config('enable_mergejoin', 'off', true);
  PERFORM set_config('dynamo_fdw.enable_batched_join', 'on', true);
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP plan_b := plan_b || line; END LOOP;
  EXECUTE format('SELECT coalesce(array_agg(t::text ORDER BY t::text), ''{}'') FROM (%s) t', q)
    INTO batched;
  PERFORM set_config('dynamo_fdw.enable_batched_join', 'off', true);
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP plan_p := plan_p || line; END LOOP;
  EXECUTE format('SELECT coalesce(array_agg(t::text ORDER BY t::text), ''{}'') FROM (%s) t', q)
    INTO plain;
  PERFORM set_config('dynamo_fdw.enable_batched_join', 'on', true);
  RETURN format('%s rows; batched path %s, plain nested loop %s; %s',
                cardinality(batched),
                CASE WHEN plan_b LIKE '%Dynamo Batched Keys%' THEN 'used' ELSE 'NOT used' END,
                CASE WHEN plan_p LIKE '%Nested Loop%' AND plan_p NOT LIKE '%Batched%'
                     THEN 'used' ELSE 'NOT used' END,
                CASE WHEN batched = plain THEN 'same rows' ELSE 'DIFFERENT: ' || batched::text
                     || ' vs ' || plain::text END);
END $$;

-- every join type
SELECT batch_check($$SELECT p.n, i.key, i.value, i.siblings FROM probe p JOIN items i ON i.key = p.id$$);
SELECT batch_check($$SELECT p.n, i.key, i.value FROM probe p LEFT JOIN items i ON i.key = p.id$$);
SELECT batch_check($$SELECT p.n FROM probe p WHERE EXISTS (SELECT 1 FROM items i WHERE i.key = p.id)$$);
SELECT batch_check($$SELECT p.n FROM probe p WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.key = p.id)$$);
SELECT batch_check($$SELECT i.key, i.value FROM items i WHERE i.key IN (SELECT id FROM probe)$$);
SELECT batch_check($$SELECT p.n FROM probe p WHERE p.id IN (SELECT key FROM items)$$);
-- a filter on the inner side, and a join filter over both sides
SELECT batch_check($$SELECT p.n, i.value FROM probe p LEFT JOIN items i
  ON i.key = p.id AND (i.value->>'v')::int > 5$$);
SELECT batch_check($$SELECT p.n, i.value FROM probe p JOIN items i
  ON i.key = p.id AND (i.value->>'v')::int > p.n$$);
-- the key is an expression of the outer row; and an array of keys
SELECT batch_check($$SELECT p.n, i.key FROM probe p JOIN items i ON i.key = 'k' || (p.n * 2)$$);
SELECT batch_check($$SELECT p.n, i.key, i.value FROM probe p JOIN items i ON i.key = ANY (p.ids)$$);
SELECT batch_check($$SELECT p.n, i.key FROM probe p LEFT JOIN items i ON i.key = ANY (p.ids)$$);

-- the rows themselves: siblings are one row each, NULL and absent keys none
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SELECT p.n, p.id, i.value, i.siblings FROM probe p LEFT JOIN items i ON i.key = p.id
 ORDER BY p.n, i.value::text;
EXPLAIN (COSTS OFF) SELECT p.n FROM probe p WHERE EXISTS (SELECT 1 FROM items i WHERE i.key = p.id);
EXPLAIN (COSTS OFF) SELECT i.key FROM items i WHERE i.key IN (SELECT id FROM probe);
EXPLAIN (COSTS OFF) SELECT p.n FROM probe p WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.key = p.id);

-- batches of fetch_size outer rows; duplicate keys are fetched once
ALTER FOREIGN TABLE items OPTIONS (ADD fetch_size '5');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT p.n, i.value FROM probe p JOIN items i ON i.key = p.id;
SELECT batch_check($$SELECT p.n, i.key, i.value FROM probe p LEFT JOIN items i ON i.key = p.id$$);
ALTER FOREIGN TABLE items OPTIONS (DROP fetch_size);
EXPLAIN (COSTS OFF, VERBOSE)
  SELECT p.n, i.value FROM probe p JOIN items i ON i.key = p.id;
-- off: the plain nested loop, one GET per outer row
SET dynamo_fdw.enable_batched_join = off;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT p.n, i.value FROM probe p JOIN items i ON i.key = p.id;
RESET dynamo_fdw.enable_batched_join;

-- the transaction's queued writes are seen through the batch as through
-- the plain loop: a new key, a deleted one, an update of a sibling pair
BEGIN;
INSERT INTO items (key, value) VALUES ('nope', '{"v": 0}');
DELETE FROM items WHERE key = 'k9';
UPDATE items SET value = '{"v": 33}' WHERE key = 'k3';
SELECT batch_check($$SELECT p.n, i.key, i.value, i.siblings FROM probe p JOIN items i ON i.key = p.id$$);
SELECT batch_check($$SELECT p.n, i.key, i.value FROM probe p LEFT JOIN items i ON i.key = p.id$$);
SELECT batch_check($$SELECT p.n FROM probe p WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.key = p.id)$$);
SELECT batch_check($$SELECT i.key, i.value FROM items i WHERE i.key IN (SELECT id FROM probe)$$);
SELECT p.n, p.id, i.value, i.siblings, i.vclock IS NULL AS queued
  FROM probe p JOIN items i ON i.key = p.id ORDER BY p.n, i.value::text;
ROLLBACK;
SELECT p.n, i.value FROM probe p JOIN items i ON i.key = p.id WHERE p.n IN (2, 6, 9)
 ORDER BY p.n, i.value::text;

-- a batched join inside a correlated subquery is rescanned with the outer query
SELECT q.x, (SELECT count(*) FROM probe p JOIN items i ON i.key = p.id WHERE p.n <= q.x) AS c
  FROM generate_series(1, 3) AS q(x) ORDER BY q.x;

RESET enable_hashjoin;
RESET enable_mergejoin;
DROP FUNCTION batch_check(text);
DROP TABLE probe;
DELETE FROM items;
DROP SERVER bsib CASCADE;
DROP SERVER bx CASCADE;
