--
-- TRUNCATE deletes every key of the bucket: a coverage scan, then a
-- tombstone per live key written with the context read (siblings too).
-- write_mode commit queues the deletes (ROLLBACK undoes them, the
-- transaction's own writes count); immediate sends them at once.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
RESET client_min_messages;
\getenv nodes DYNAMO_FDW_NODES
\getenv keys DYNAMO_FDW_KEYS
\set key_file :keys '/admin.key'
CREATE SERVER tr FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes :'nodes', batch_size '16');
CREATE USER MAPPING FOR CURRENT_USER SERVER tr OPTIONS (key_file :'key_file');
CREATE FOREIGN TABLE trt (key text, value jsonb, siblings int, context text)
  SERVER tr OPTIONS (bucket 'tr_bucket');
-- the same bucket, raw bytes, blind writes (siblings), sent at once
CREATE FOREIGN TABLE trraw (key text, value bytea) SERVER tr
  OPTIONS (bucket 'tr_bucket', write_mode 'immediate', insert_mode 'sibling');
INSERT INTO trt (key, value) SELECT 'k' || i, jsonb_build_object('i', i)
  FROM generate_series(1, 200) AS i;
INSERT INTO trraw VALUES ('k1', convert_to('{"i": 1001}', 'UTF8')), ('k2', convert_to('{"i": 1002}', 'UTF8'));
DELETE FROM trt WHERE key = 'k3';
SELECT count(*) AS rows, count(DISTINCT key) AS keys, max(siblings) AS siblings FROM trt;

-- ROLLBACK undoes a TRUNCATE (write_mode commit, the default)
BEGIN;
TRUNCATE trt;
SELECT count(*) FROM trt;
SELECT count(*) FROM trt WHERE key IN ('k1', 'k2', 'k4');
ROLLBACK;
SELECT count(*) AS rows, count(DISTINCT key) AS keys FROM trt;

-- the transaction's own writes: a key it inserted goes too, one it deleted
-- stays deleted; a write after the TRUNCATE stays
BEGIN;
INSERT INTO trt (key, value) VALUES ('new', '{"i": 0}');
DELETE FROM trt WHERE key = 'k4';
TRUNCATE trt;
SELECT count(*) FROM trt;
INSERT INTO trt (key, value) VALUES ('after', '{"i": -1}');
SELECT key, value FROM trt;
COMMIT;
SELECT key, value FROM trt;
SELECT key, convert_from(value, 'UTF8') AS value FROM trraw;

-- write_mode immediate: deleted before TRUNCATE returns (pipelined,
-- batch_size in flight)
INSERT INTO trraw SELECT 'i' || i, '\x00' FROM generate_series(1, 50) AS i;
ALTER FOREIGN TABLE trt OPTIONS (ADD write_mode 'immediate');
TRUNCATE trt;
SELECT count(*) FROM trraw;
-- an empty bucket: nothing to delete
TRUNCATE trt;
ALTER FOREIGN TABLE trt OPTIONS (DROP write_mode);

-- immediate deletes would be overtaken by the transaction's queued writes
INSERT INTO trraw VALUES ('x', '\x01');
BEGIN;
INSERT INTO trt (key, value) VALUES ('y', '{}');
ALTER FOREIGN TABLE trraw OPTIONS (SET insert_mode 'error');
TRUNCATE trraw;
ROLLBACK;

-- CASCADE has nothing to cascade to; RESTART IDENTITY nothing to restart
TRUNCATE trt CASCADE;
TRUNCATE trt RESTART IDENTITY;
SELECT count(*) FROM trraw;
-- updatable false refuses it
ALTER FOREIGN TABLE trt OPTIONS (ADD updatable 'false');
TRUNCATE trt;
ALTER FOREIGN TABLE trt OPTIONS (DROP updatable);
-- with a local table in the same statement
CREATE TABLE trl (a int);
INSERT INTO trl VALUES (1);
INSERT INTO trt (key, value) VALUES ('z', '{}');
TRUNCATE trl, trt;
SELECT (SELECT count(*) FROM trl) AS local, (SELECT count(*) FROM trt) AS foreign_rows;
DROP TABLE trl;
DROP SERVER tr CASCADE;
