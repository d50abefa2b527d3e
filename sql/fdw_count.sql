--
-- count(*) pushed down as a coverage count (plan.c, scan.c): the nodes send
-- every key's sibling set without values, and the FDW counts what the scan
-- would return.  It must equal the plain scan's count (with
-- dynamo_fdw.enable_count_pushdown = off) in every case: tombstones,
-- siblings, the transaction's queued writes, R = 1, 2, 3.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
RESET client_min_messages;
\getenv nodes DYNAMO_FDW_NODES
\getenv keys DYNAMO_FDW_KEYS
\set key_file :keys '/admin.key'
-- blind writes beside what a key holds make siblings
CREATE SERVER csib FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes :'nodes', write_mode 'immediate', insert_mode 'sibling');
CREATE USER MAPPING FOR CURRENT_USER SERVER csib OPTIONS (key_file :'key_file');
-- the transactional defaults: writes queued until COMMIT
CREATE SERVER cx FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes :'nodes');
CREATE USER MAPPING FOR CURRENT_USER SERVER cx OPTIONS (key_file :'key_file');
CREATE FOREIGN TABLE cnt_w (key text, value jsonb) SERVER csib OPTIONS (bucket 'count_items');
CREATE FOREIGN TABLE cnt (key text, value jsonb, vclock jsonb, siblings int, context text)
  SERVER cx OPTIONS (bucket 'count_items');

-- an empty bucket counts 0
SELECT count(*) FROM cnt;

INSERT INTO cnt_w SELECT 'k' || i, jsonb_build_object('v', repeat('x', 200)) FROM generate_series(1, 300) AS i;
-- siblings on k3, k7 (two), k9; tombstones: k5, k11 deleted
INSERT INTO cnt_w VALUES ('k3', '{"v": 3}'), ('k7', '{"v": 7}'), ('k7', '{"v": 77}'), ('k9', '{"v": 9}');
DELETE FROM cnt WHERE key IN ('k5', 'k11');

-- pushed down: no values shipped, one request per partition page
EXPLAIN (COSTS OFF) SELECT count(*) FROM cnt;
SELECT count(*) FROM cnt;
SET dynamo_fdw.enable_count_pushdown = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM cnt;
SELECT count(*) FROM cnt;
RESET dynamo_fdw.enable_count_pushdown;
-- two counts in one row; count(*) with something else is not pushed down
SELECT count(*) AS a, count(*) AS b FROM cnt;
EXPLAIN (COSTS OFF) SELECT count(*), count(value) FROM cnt;
SELECT count(*), count(value) FROM cnt;
-- a qual, a key condition or GROUP BY: the plain plans
EXPLAIN (COSTS OFF) SELECT count(*) FROM cnt WHERE key = 'k7';
SELECT count(*) FROM cnt WHERE key = 'k7';
EXPLAIN (COSTS OFF) SELECT count(*) FROM cnt WHERE siblings > 1;
EXPLAIN (COSTS OFF) SELECT key, count(*) FROM cnt GROUP BY key;

-- every R: the pushed-down count equals the scan's
SET dynamo_fdw.r = 1;
SELECT count(*) AS pushed FROM cnt;
-- in a subquery, and beside a join (not pushed down: two relations)
SELECT (SELECT count(*) FROM cnt) AS pushed_in_subquery;
CREATE FUNCTION plan_has(q text, pat text) RETURNS bool LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
  FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
    IF l LIKE '%' || pat || '%' THEN RETURN true; END IF;
  END LOOP;
  RETURN false;
END $$;
SELECT plan_has('SELECT count(*) FROM cnt a JOIN cnt b USING (key)', 'coverage count') AS join_pushed,
       plan_has('SELECT (SELECT count(*) FROM cnt)', 'coverage count') AS subquery_pushed;
SET dynamo_fdw.enable_count_pushdown = off;
SELECT count(*) AS scanned FROM cnt;
RESET dynamo_fdw.enable_count_pushdown;
SET dynamo_fdw.r = 2;
SELECT count(*) AS pushed FROM cnt;
SET dynamo_fdw.enable_count_pushdown = off;
SELECT count(*) AS scanned FROM cnt;
RESET dynamo_fdw.enable_count_pushdown;
SET dynamo_fdw.r = 3;
SELECT count(*) AS pushed FROM cnt;
SET dynamo_fdw.enable_count_pushdown = off;
SELECT count(*) AS scanned FROM cnt;
RESET dynamo_fdw.enable_count_pushdown;
RESET dynamo_fdw.r;

-- the transaction's queued writes are counted as the scan returns them:
-- a new key, a deleted key, a key with siblings replaced by one version,
-- a deleted key written again
BEGIN;
INSERT INTO cnt (key, value) VALUES ('new1', '1'), ('new2', '2'), ('new3', '3');
DELETE FROM cnt WHERE key = 'k1';
UPDATE cnt SET value = '"one"' WHERE key = 'k7';
INSERT INTO cnt (key, value) VALUES ('k5', '5');
SELECT count(*) AS pushed FROM cnt;
SET LOCAL dynamo_fdw.enable_count_pushdown = off;
SELECT count(*) AS scanned FROM cnt;
ROLLBACK;
SELECT count(*) FROM cnt;

-- EXPLAIN ANALYZE: the SCAN requests of the count
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM cnt;

-- a table with a merge_function: not pushed down (the merge decides the rows)
CREATE FOREIGN TABLE cnt_m (key text, value jsonb, siblings int)
  SERVER cx OPTIONS (bucket 'count_items', merge_function 'dynamo_merge_latest');
EXPLAIN (COSTS OFF) SELECT count(*) FROM cnt_m;
SELECT count(*) FROM cnt_m;

TRUNCATE cnt;
SELECT count(*) FROM cnt;
DROP FOREIGN TABLE cnt, cnt_w, cnt_m;
DROP FUNCTION plan_has(text, text);
DROP SERVER csib CASCADE;
DROP SERVER cx CASCADE;
