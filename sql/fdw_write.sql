--
-- Writes: INSERT and COPY as quorum PUTs in pipelined batches, RETURNING,
-- a context that makes a write supersede what it covers, W from the GUC,
-- the table, the server or the cluster default; UPDATE and DELETE of keys
-- (the sibling cases are in fdw_siblings).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
RESET client_min_messages;
\getenv nodes DYNAMO_FDW_NODES
\getenv keys DYNAMO_FDW_KEYS
\set key_file :keys '/admin.key'
\set reader_key :keys '/reader.key'
-- Writes here are sent by each statement, blind unless a context is given
-- (write_mode immediate, insert_mode sibling: Dynamo's own semantics); the
-- transactional defaults are in fdw_xact.
CREATE SERVER writes FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes :'nodes', batch_size '25', write_mode 'immediate', insert_mode 'sibling');
CREATE USER MAPPING FOR CURRENT_USER SERVER writes OPTIONS (key_file :'key_file');
CREATE FOREIGN TABLE kv (key text, value text, vclock jsonb, siblings int, context text)
  SERVER writes OPTIONS (bucket 'write_kv');

-- a blind write, read back
INSERT INTO kv (key, value) VALUES ('a', 'one');
SELECT key, value, vclock, siblings FROM kv WHERE key = 'a';
-- RETURNING gives the written version's clock and the new context;
-- siblings is unknown to a write (NULL)
INSERT INTO kv (key, value) VALUES ('b', 'two')
  RETURNING key, value, vclock, siblings, context IS NOT NULL AS has_context;
-- the context RETURNING gives is the one a read gives
INSERT INTO kv (key, value) VALUES ('c', 'three') RETURNING context AS c_context \gset
SELECT context = :'c_context' AS same FROM kv WHERE key = 'c';
-- a write with that context supersedes the version: still one sibling
INSERT INTO kv (key, value, context) VALUES ('c', 'three again', :'c_context');
SELECT key, value, siblings FROM kv WHERE key = 'c';
-- vclock and siblings given to INSERT are ignored (the cluster sets them)
INSERT INTO kv VALUES ('d', 'four', '{"n9": 99}', 42, NULL);
SELECT key, value, vclock, siblings FROM kv WHERE key = 'd';

-- many rows: batches of batch_size PUTs, pipelined; EXPLAIN shows W and the batch size
EXPLAIN (COSTS OFF) INSERT INTO kv (key, value) SELECT 'k' || i, 'v' || i FROM generate_series(1, 100) AS i;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  INSERT INTO kv (key, value) SELECT 'k' || i, 'v' || i FROM generate_series(1, 100) AS i;
SELECT count(*), min(value), max(value)
  FROM kv WHERE key = ANY (ARRAY(SELECT 'k' || i FROM generate_series(1, 100) AS i));
-- RETURNING writes one row at a time
EXPLAIN (COSTS OFF) INSERT INTO kv (key, value) VALUES ('e', 'five') RETURNING vclock;
-- a table's batch_size wins over the server's
ALTER FOREIGN TABLE kv OPTIONS (ADD batch_size '7');
EXPLAIN (COSTS OFF) INSERT INTO kv (key, value) SELECT 'x', 'y';
ALTER FOREIGN TABLE kv OPTIONS (DROP batch_size);

-- COPY FROM goes through the same batched PUTs
COPY kv (key, value) FROM stdin;
copy1	first copied
copy2	second copied
copy3	third copied
\.
SELECT key, value FROM kv WHERE key IN ('copy1', 'copy2', 'copy3') ORDER BY key;

-- W: the cluster default, then server, table, GUC; EXPLAIN says which
ALTER SERVER writes OPTIONS (ADD w '1');
EXPLAIN (COSTS OFF) INSERT INTO kv (key, value) VALUES ('w', 'x');
ALTER FOREIGN TABLE kv OPTIONS (ADD w '3');
EXPLAIN (COSTS OFF) INSERT INTO kv (key, value) VALUES ('w', 'x');
INSERT INTO kv (key, value) VALUES ('w', 'written with w=3');
BEGIN;
SET LOCAL dynamo_fdw.w = 2;
EXPLAIN (COSTS OFF, VERBOSE) INSERT INTO kv (key, value) VALUES ('w', 'x');
COMMIT;
ALTER FOREIGN TABLE kv OPTIONS (DROP w);
ALTER SERVER writes OPTIONS (DROP w);
-- W above N is the node's to refuse
SET dynamo_fdw.w = 5;
\set SHOW_CONTEXT never
INSERT INTO kv (key, value) VALUES ('w', 'x');
\set SHOW_CONTEXT errors
RESET dynamo_fdw.w;

-- UPDATE writes with the context it read: one version remains
UPDATE kv SET value = 'ONE' WHERE key = 'a' RETURNING key, value, vclock, siblings;
SELECT key, value, vclock, siblings FROM kv WHERE key = 'a';
EXPLAIN (COSTS OFF) UPDATE kv SET value = 'x' WHERE key = 'a';
UPDATE kv SET value = value || '!' WHERE key IN ('b', 'c', 'nobody');
SELECT key, value, siblings FROM kv WHERE key IN ('b', 'c') ORDER BY key;
-- DELETE writes a tombstone with the context it read; the key is gone
DELETE FROM kv WHERE key = 'b' RETURNING key, value;
SELECT * FROM kv WHERE key = 'b';
EXPLAIN (COSTS OFF) DELETE FROM kv WHERE key = 'b';
DELETE FROM kv WHERE key = 'b';
-- a blind write brings a deleted key back as a new version
INSERT INTO kv (key, value) VALUES ('b', 'back');
SELECT key, value, siblings FROM kv WHERE key = 'b';
-- UPDATE ... FROM a local table, and a join in DELETE ... USING
CREATE TEMP TABLE fixes (key text, value text);
INSERT INTO fixes VALUES ('k1', 'fixed 1'), ('k2', 'fixed 2'), ('none', 'nothing');
ANALYZE fixes;
EXPLAIN (COSTS OFF) UPDATE kv SET value = fixes.value FROM fixes WHERE kv.key = fixes.key;
UPDATE kv SET value = fixes.value FROM fixes WHERE kv.key = fixes.key;
SELECT key, value FROM kv WHERE key IN ('k1', 'k2') ORDER BY key;
DELETE FROM kv USING fixes WHERE kv.key = fixes.key;
SELECT count(*) FROM kv WHERE key IN ('k1', 'k2', 'k3');

-- what cannot be written
INSERT INTO kv (key, value) VALUES (NULL, 'x');
INSERT INTO kv (key, value) VALUES ('', 'x');
INSERT INTO kv (key, value) VALUES (repeat('k', 4097), 'x');
INSERT INTO kv (key, value) VALUES ('n', NULL);
INSERT INTO kv (key, value, context) VALUES ('n', 'x', 'not a context');
UPDATE kv SET key = 'z' WHERE key = 'a';
UPDATE kv SET context = NULL WHERE key = 'a';
UPDATE kv SET siblings = 1 WHERE key = 'a';
CREATE FOREIGN TABLE kv_noctx (key text, value text) SERVER writes OPTIONS (bucket 'write_kv');
UPDATE kv_noctx SET value = 'x' WHERE key = 'a';
DELETE FROM kv_noctx WHERE key = 'a';
INSERT INTO kv_noctx VALUES ('f', 'six');
SELECT * FROM kv_noctx WHERE key = 'f';
-- a key with role read may read but not write
CREATE SERVER reader FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes :'nodes', write_mode 'immediate', insert_mode 'sibling');
CREATE USER MAPPING FOR CURRENT_USER SERVER reader OPTIONS (key_file :'reader_key');
CREATE FOREIGN TABLE kv_read (key text, value text, context text)
  SERVER reader OPTIONS (bucket 'write_kv');
SELECT key, value FROM kv_read WHERE key = 'a';
\set SHOW_CONTEXT never
INSERT INTO kv_read (key, value) VALUES ('r', 'x');
UPDATE kv_read SET value = 'x' WHERE key = 'a';
\set SHOW_CONTEXT errors

DROP SERVER reader CASCADE;
DROP SERVER writes CASCADE;
