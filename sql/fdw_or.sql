--
-- An OR of key equalities (key = a OR key = b, mixed with IN and = ANY) is
-- one pipelined multi-key GET of every arm's keys, not a coverage scan.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
RESET client_min_messages;
\getenv nodes DYNAMO_FDW_NODES
\getenv keys DYNAMO_FDW_KEYS
\set key_file :keys '/admin.key'
CREATE SERVER ors FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes :'nodes');
CREATE USER MAPPING FOR CURRENT_USER SERVER ors OPTIONS (key_file :'key_file');
CREATE FOREIGN TABLE ort (key text, value text) SERVER ors OPTIONS (bucket 'or_keys');
INSERT INTO ort SELECT 'k' || i, 'v' || i FROM generate_series(1, 30) AS i;

EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, VERBOSE)
  SELECT * FROM ort WHERE key = 'k1' OR key = 'k2';
SELECT * FROM ort WHERE key = 'k1' OR key = 'k2' ORDER BY key;
-- mixed with IN and = ANY; a key named twice is asked for once; absent keys
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, VERBOSE)
  SELECT * FROM ort WHERE key = 'k3' OR key IN ('k4', 'k3', 'nope') OR key = ANY (ARRAY['k5']);
SELECT * FROM ort WHERE key = 'k3' OR key IN ('k4', 'k3', 'nope') OR key = ANY (ARRAY['k5'])
 ORDER BY key;
-- parameters, NULLs among them, in a generic plan
SET plan_cache_mode = force_generic_plan;
PREPARE orp(text, text[]) AS SELECT * FROM ort WHERE key = $1 OR key = ANY ($2) OR key = 'k9';
EXPLAIN (COSTS OFF, VERBOSE) EXECUTE orp('k7', ARRAY['k8', NULL]);
EXECUTE orp('k7', ARRAY['k8', NULL]);
EXECUTE orp(NULL, NULL);
RESET plan_cache_mode;
-- the same rows as the coverage scan the OR used to be
SELECT (SELECT array_agg(key ORDER BY key) FROM ort WHERE key = 'k10' OR key = 'k11' OR key = 'k1')
     = (SELECT array_agg(key ORDER BY key) FROM ort WHERE key || '' IN ('k10', 'k11', 'k1')) AS same;
-- an arm that is not a key equality leaves the OR a local filter of a scan
EXPLAIN (COSTS OFF) SELECT * FROM ort WHERE key = 'k1' OR value = 'v2';
SELECT * FROM ort WHERE key = 'k1' OR value = 'v2' ORDER BY key;
-- ... and an OR beside a key equality filters that GET's rows
EXPLAIN (COSTS OFF) SELECT * FROM ort WHERE key = 'k1' AND (value = 'v1' OR value = 'v2');
-- in a join, an OR of outer columns is the batched lookup's key
CREATE TABLE orl (a text, b text);
INSERT INTO orl VALUES ('k1', 'k2'), ('k2', NULL), (NULL, 'k30'), ('x', 'y');
ANALYZE orl;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
EXPLAIN (COSTS OFF) SELECT l.a, l.b, t.key FROM orl l JOIN ort t ON t.key = l.a OR t.key = l.b;
SELECT l.a, l.b, t.key FROM orl l JOIN ort t ON t.key = l.a OR t.key = l.b ORDER BY 1, 2, 3;
RESET enable_hashjoin;
RESET enable_mergejoin;
DROP TABLE orl;
DROP SERVER ors CASCADE;
