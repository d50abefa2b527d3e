--
-- Writes at COMMIT (write_mode 'commit', the default): ROLLBACK, ROLLBACK
-- TO SAVEPOINT, a failing statement and a check-option violation write
-- nothing; a transaction reads its own queued writes (by key, by list, in
-- joins and full scans) and a statement never reads its own; writes of one
-- key collapse; PREPARE is refused; insert modes and ON CONFLICT DO
-- NOTHING; write_mode 'immediate'.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
RESET client_min_messages;
\getenv nodes DYNAMO_FDW_NODES
\getenv keys DYNAMO_FDW_KEYS
\set key_file :keys '/admin.key'
CREATE SERVER tx FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes :'nodes');
CREATE USER MAPPING FOR CURRENT_USER SERVER tx OPTIONS (key_file :'key_file');
CREATE FOREIGN TABLE t (key text, value text, vclock jsonb, siblings int, context text)
  SERVER tx OPTIONS (bucket 'xact_t');
-- a second table over the same bucket: what one writes the other reads
CREATE FOREIGN TABLE t2 (key text, value text, siblings int, context text)
  SERVER tx OPTIONS (bucket 'xact_t');
CREATE TABLE ids (id text);
INSERT INTO ids VALUES ('a'), ('b'), ('zz');

INSERT INTO t (key, value) VALUES ('a', 'one'), ('b', 'two');

-- ROLLBACK undoes INSERT, UPDATE and DELETE
BEGIN;
INSERT INTO t (key, value) VALUES ('c', 'three');
UPDATE t SET value = 'ONE' WHERE key = 'a';
DELETE FROM t WHERE key = 'b';
-- the transaction reads its own writes: by key, by list, in a join, in a full scan
SELECT key, value, siblings, vclock IS NULL AS queued FROM t WHERE key = 'a';
SELECT key, value FROM t WHERE key IN ('a', 'b', 'c') ORDER BY key;
SELECT i.id, t.value FROM ids i LEFT JOIN t ON t.key = i.id ORDER BY i.id;
SELECT key, value FROM t ORDER BY key;
SELECT key, value FROM t2 ORDER BY key;
ROLLBACK;
SELECT key, value, siblings FROM t ORDER BY key;

-- ROLLBACK TO SAVEPOINT discards what the savepoint's part wrote, keeps the rest
BEGIN;
INSERT INTO t (key, value) VALUES ('c', 'three');
SAVEPOINT s1;
UPDATE t SET value = 'three!' WHERE key = 'c';
INSERT INTO t (key, value) VALUES ('d', 'four');
SELECT key, value FROM t WHERE key IN ('c', 'd') ORDER BY key;
ROLLBACK TO SAVEPOINT s1;
SELECT key, value FROM t WHERE key IN ('c', 'd') ORDER BY key;
SAVEPOINT s2;
UPDATE t SET value = 'THREE' WHERE key = 'c';
RELEASE SAVEPOINT s2;
COMMIT;
SELECT key, value, siblings FROM t ORDER BY key;

-- a statement that fails part way writes nothing
INSERT INTO t (key, value)
  SELECT 'f' || i, CASE WHEN i = 150 THEN NULL ELSE 'v' END FROM generate_series(1, 200) AS i;
SELECT count(*) FROM t WHERE key LIKE 'f%';
-- ... also inside a transaction that goes on after a savepoint
BEGIN;
INSERT INTO t (key, value) VALUES ('g1', 'kept');
SAVEPOINT s;
INSERT INTO t (key, value)
  SELECT 'g' || i, CASE WHEN i = 150 THEN NULL ELSE 'v' END FROM generate_series(2, 200) AS i;
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT key, value FROM t WHERE key LIKE 'g%';

-- a check option violation writes nothing
CREATE VIEW t_checked AS SELECT key, value FROM t WHERE value <> 'bad' WITH CHECK OPTION;
INSERT INTO t_checked VALUES ('h', 'bad');
SELECT count(*) FROM t WHERE key = 'h';

-- a statement never reads its own writes: exactly the rows it read
INSERT INTO t (key, value) SELECT 'n' || i, 'v' FROM generate_series(1, 500) AS i;
INSERT INTO t (key, value) SELECT key || 'x', value FROM t WHERE key LIKE 'n%';
SELECT count(*) FROM t WHERE key LIKE 'n%';
SELECT count(*) FROM t WHERE key LIKE 'n%x';
-- the same inside a transaction whose earlier statement queued the rows
BEGIN;
INSERT INTO t (key, value) SELECT 'm' || i, 'v' FROM generate_series(1, 300) AS i;
INSERT INTO t (key, value) SELECT key || 'x', value FROM t WHERE key LIKE 'm%';
SELECT count(*) FROM t WHERE key LIKE 'm%';
COMMIT;
SELECT count(*) FROM t WHERE key LIKE 'm%';

-- several writes of one key in a transaction: one version, the last
BEGIN;
INSERT INTO t (key, value) VALUES ('k', 'first');
UPDATE t SET value = 'second' WHERE key = 'k';
UPDATE t SET value = 'third' WHERE key = 'k';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) UPDATE t SET value = 'fourth' WHERE key = 'k';
COMMIT;
SELECT key, value, siblings FROM t WHERE key = 'k';
-- a delete and an insert of one key in a transaction: the new value replaces the old
BEGIN;
DELETE FROM t WHERE key = 'k';
SELECT count(*) FROM t WHERE key = 'k';
INSERT INTO t (key, value) VALUES ('k', 'fifth');
COMMIT;
SELECT key, value, siblings FROM t WHERE key = 'k';
-- a key inserted and deleted in one transaction never reaches the cluster
BEGIN;
INSERT INTO t (key, value) VALUES ('gone', 'x');
DELETE FROM t WHERE key = 'gone';
COMMIT;
SELECT count(*) FROM t WHERE key = 'gone';

-- a cursor keeps what it saw when it was opened
BEGIN;
DECLARE cur CURSOR FOR SELECT key, value FROM t WHERE key = 'a';
UPDATE t SET value = 'changed' WHERE key = 'a';
FETCH ALL FROM cur;
SELECT value FROM t WHERE key = 'a';
ROLLBACK;

-- PREPARE TRANSACTION with queued writes is refused (and rolls back)
BEGIN;
INSERT INTO t (key, value) VALUES ('p', 'prepared?');
PREPARE TRANSACTION 'dyn';
SELECT count(*) FROM t WHERE key = 'p';

-- insert_mode 'error' (the default): a key that exists is a unique violation
INSERT INTO t (key, value) VALUES ('a', 'again');
-- ... also twice in one statement
INSERT INTO t (key, value) VALUES ('q', '1'), ('q', '2');
SELECT count(*) FROM t WHERE key = 'q';
-- ... and against the transaction's own earlier insert
BEGIN;
INSERT INTO t (key, value) VALUES ('q', '1');
INSERT INTO t (key, value) VALUES ('q', '2');
ROLLBACK;
-- a deleted key can be inserted again
DELETE FROM t WHERE key = 'b';
INSERT INTO t (key, value) VALUES ('b', 'two again');
SELECT key, value, siblings FROM t WHERE key = 'b';

-- ON CONFLICT DO NOTHING skips keys that exist; loading twice leaves one version per key
INSERT INTO t (key, value) SELECT 'l' || i, 'v' FROM generate_series(1, 50) AS i
  ON CONFLICT DO NOTHING;
INSERT INTO t (key, value) SELECT 'l' || i, 'w' FROM generate_series(1, 60) AS i
  ON CONFLICT DO NOTHING;
SELECT count(*), count(DISTINCT key), sum(siblings), count(*) FILTER (WHERE value = 'w') FROM t WHERE key LIKE 'l%';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  INSERT INTO t (key, value) VALUES ('l1', 'x'), ('l99', 'y') ON CONFLICT DO NOTHING;
-- the rows inserted are those RETURNING and the row count see
WITH ins AS (INSERT INTO t (key, value) VALUES ('l2', 'x'), ('l100', 'y'), ('l101', 'z')
             ON CONFLICT DO NOTHING RETURNING key)
SELECT key FROM ins ORDER BY key;
INSERT INTO t (key, value) VALUES ('l1', 'x') ON CONFLICT (key) DO NOTHING;
INSERT INTO t (key, value) VALUES ('l1', 'x') ON CONFLICT (key) DO UPDATE SET value = 'y';

-- insert_mode 'replace': an upsert that supersedes every sibling
ALTER FOREIGN TABLE t OPTIONS (ADD insert_mode 'replace');
INSERT INTO t (key, value) VALUES ('a', 'replaced'), ('new', 'fresh');
SELECT key, value, siblings FROM t WHERE key IN ('a', 'new') ORDER BY key;
-- insert_mode 'sibling': Dynamo's blind write, kept beside what the key holds
ALTER FOREIGN TABLE t OPTIONS (SET insert_mode 'sibling');
INSERT INTO t (key, value) VALUES ('a', 'sibling');
SELECT key, value, siblings FROM t WHERE key = 'a' ORDER BY value;
ALTER FOREIGN TABLE t OPTIONS (DROP insert_mode);
ALTER FOREIGN TABLE t OPTIONS (ADD insert_mode 'upsert');

-- write_mode 'immediate': each statement's writes are done when it ends
ALTER FOREIGN TABLE t OPTIONS (ADD write_mode 'immediate');
BEGIN;
INSERT INTO t (key, value) VALUES ('i1', 'now');
ROLLBACK;
SELECT key, value FROM t WHERE key = 'i1';
ALTER FOREIGN TABLE t OPTIONS (SET write_mode 'later');
ALTER FOREIGN TABLE t OPTIONS (DROP write_mode);
-- the GUC wins over the options
SET dynamo_fdw.write_mode = 'immediate';
BEGIN;
INSERT INTO t (key, value) VALUES ('i2', 'now');
ROLLBACK;
SELECT key, value FROM t WHERE key = 'i2';
EXPLAIN (COSTS OFF) INSERT INTO t (key, value) VALUES ('i3', 'x');
RESET dynamo_fdw.write_mode;
EXPLAIN (COSTS OFF) INSERT INTO t (key, value) VALUES ('i3', 'x');

-- RETURNING of a queued write: no clock or context yet
INSERT INTO t (key, value) VALUES ('r', 'ret') RETURNING key, value, vclock, context, siblings;

-- the queue is bounded
SET dynamo_fdw.write_queue_mb = 1;
INSERT INTO t (key, value) SELECT 'big' || i, repeat('x', 1000) FROM generate_series(1, 2000) AS i;
RESET dynamo_fdw.write_queue_mb;
SELECT count(*) FROM t WHERE key LIKE 'big%';

-- COPY is queued too, and undone by ROLLBACK
BEGIN;
COPY t (key, value) FROM stdin;
cp1	copied
cp2	copied
\.
SELECT key, value FROM t WHERE key LIKE 'cp%' ORDER BY key;
ROLLBACK;
SELECT count(*) FROM t WHERE key LIKE 'cp%';

-- a row-format UPDATE of a queued row keeps the fields no column names
CREATE FOREIGN TABLE rf_raw (key text, value text, context text) SERVER tx OPTIONS (bucket 'xact_rf');
CREATE FOREIGN TABLE rf (key text, name text, context text)
  SERVER tx OPTIONS (bucket 'xact_rf', value_format 'row');
BEGIN;
INSERT INTO rf_raw (key, value) VALUES ('r1', '{"name": "a", "extra": 1}');
UPDATE rf SET name = 'b' WHERE key = 'r1';
SELECT value FROM rf_raw WHERE key = 'r1';
COMMIT;
SELECT value FROM rf_raw WHERE key = 'r1';

DROP VIEW t_checked;
DROP TABLE ids;
DROP SERVER tx CASCADE;
