--
-- Write paths under attack (a review of issues 12 and 14): what a
-- transaction mixing write modes, subtransactions and merges must not do.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
RESET client_min_messages;
\getenv nodes DYNAMO_FDW_NODES
\getenv keys DYNAMO_FDW_KEYS
\set key_file :keys '/admin.key'
CREATE SERVER rv FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes :'nodes');
CREATE USER MAPPING FOR CURRENT_USER SERVER rv OPTIONS (key_file :'key_file');
CREATE FOREIGN TABLE rq (key text, value text, siblings int, context text)
  SERVER rv OPTIONS (bucket 'review');
CREATE FOREIGN TABLE ri (key text, value text, siblings int, context text)
  SERVER rv OPTIONS (bucket 'review', write_mode 'immediate');

-- An immediate write of a key the transaction has queued a write of is
-- refused: sent at COMMIT, the queued write would bring back a key the
-- immediate DELETE removed, or stand beside the immediate UPDATE as a
-- sibling.
BEGIN;
INSERT INTO rq (key, value) VALUES ('m1', 'queued');
DELETE FROM ri WHERE key = 'm1';
ROLLBACK;
SELECT key, value FROM rq WHERE key = 'm1';
INSERT INTO rq (key, value) VALUES ('m2', 'orig');
BEGIN;
UPDATE rq SET value = 'queued' WHERE key = 'm2';
SET LOCAL dynamo_fdw.write_mode = 'immediate';
UPDATE rq SET value = 'immediate' WHERE key = 'm2';
ROLLBACK;
BEGIN;
INSERT INTO rq (key, value) VALUES ('m3', 'queued');
INSERT INTO ri (key, value) VALUES ('m3', 'immediate');
ROLLBACK;
BEGIN;
INSERT INTO rq (key, value) VALUES ('m3', 'queued');
COPY ri (key, value) FROM STDIN;
m3	refused
\.
ROLLBACK;
-- nothing of those transactions was written
SELECT key, value, siblings FROM rq WHERE key IN ('m1', 'm2', 'm3') ORDER BY key;
-- keys the transaction did not queue are written immediately as before
BEGIN;
INSERT INTO rq (key, value) VALUES ('m5', 'queued');
UPDATE ri SET value = 'immediate' WHERE key = 'm2';
COMMIT;
SELECT key, value, siblings FROM rq WHERE key IN ('m2', 'm5') ORDER BY key;

-- A merge written back at once does not go over a version the
-- transaction queued (which COMMIT would then send beside it).
CREATE FOREIGN TABLE rj (key text, value jsonb, siblings int, context text)
  SERVER rv OPTIONS (bucket 'review_merge', insert_mode 'sibling');
CREATE FOREIGN TABLE rju (key text, value jsonb, siblings int, context text)
  SERVER rv OPTIONS (bucket 'review_merge', merge_function 'dynamo_merge_union',
                     merge_write_back 'on');
INSERT INTO rj (key, value) VALUES ('cart', '["a"]');
INSERT INTO rj (key, value) VALUES ('cart', '["b"]');
BEGIN;
INSERT INTO rj (key, value) VALUES ('cart', '["c"]');
SET LOCAL dynamo_fdw.write_mode = 'immediate';
SELECT key, value, siblings FROM rju WHERE key = 'cart';
COMMIT;
-- the queued write made a third sibling; the next read merges and writes back
SELECT key, value, siblings FROM rj WHERE key = 'cart' ORDER BY value::text;
SELECT key, value, siblings FROM rju WHERE key = 'cart';
SELECT key, value, siblings FROM rj WHERE key = 'cart';
-- the same through a cursor opened before the queued write
INSERT INTO rj (key, value) VALUES ('cart2', '["a"]');
INSERT INTO rj (key, value) VALUES ('cart2', '["b"]');
BEGIN;
DECLARE c CURSOR FOR SELECT key, value, siblings FROM rju WHERE key = 'cart2';
INSERT INTO rj (key, value) VALUES ('cart2', '["c"]');
SET LOCAL dynamo_fdw.write_mode = 'immediate';
FETCH ALL FROM c;
COMMIT;
SELECT key, value, siblings FROM rj WHERE key = 'cart2' ORDER BY value::text;

-- A merge function made VOLATILE after the option was set is refused when
-- the table is read, as when the option is given.
CREATE FUNCTION review_first(vals jsonb[], vclocks jsonb[]) RETURNS jsonb
  LANGUAGE sql IMMUTABLE AS $$ SELECT vals[1] $$;
CREATE FOREIGN TABLE rjf (key text, value jsonb, siblings int, context text)
  SERVER rv OPTIONS (bucket 'review_merge', merge_function 'review_first');
SELECT key, siblings FROM rjf WHERE key = 'cart2';
CREATE OR REPLACE FUNCTION review_first(vals jsonb[], vclocks jsonb[]) RETURNS jsonb
  LANGUAGE sql VOLATILE AS $$ SELECT vals[1] $$;
SELECT key, siblings FROM rjf WHERE key = 'cart2';

-- A transaction that only read a table with merge_write_back is not
-- refused PREPARE for the write-backs its reads queued: they are dropped
-- (this server has max_prepared_transactions 0: PostgreSQL's own error).
BEGIN;
SELECT key, value, siblings FROM rju WHERE key = 'cart2';
PREPARE TRANSACTION 'review_read_only';
SELECT key, siblings FROM rj WHERE key = 'cart2' ORDER BY value::text;
BEGIN;
SELECT key, value, siblings FROM rju WHERE key = 'cart2';
INSERT INTO rq (key, value) VALUES ('p1', 'queued');
PREPARE TRANSACTION 'review_writes';

-- In the row format a merge that is not a JSON object is an error, even
-- for a query that reads no value column: written back, it superseded the
-- siblings with a value no read of the columns could take.
CREATE FOREIGN TABLE rr (key text, value text, siblings int, context text)
  SERVER rv OPTIONS (bucket 'review_row', insert_mode 'sibling');
INSERT INTO rr (key, value) VALUES ('o', '{"a": 1, "keep": "x"}');
INSERT INTO rr (key, value) VALUES ('o', '{"a": 2}');
CREATE FUNCTION review_array(vals jsonb[], vclocks jsonb[]) RETURNS jsonb
  LANGUAGE sql IMMUTABLE AS $$ SELECT '[1, 2]'::jsonb $$;
CREATE FOREIGN TABLE rrm (key text, a int, siblings int, context text)
  SERVER rv OPTIONS (bucket 'review_row', value_format 'row',
                     merge_function 'review_array', merge_write_back 'on');
SELECT key, siblings FROM rrm WHERE key = 'o';
SELECT key, value, siblings FROM rr WHERE key = 'o' ORDER BY value;

-- A merge write-back queued by a read is dropped by an immediate write of
-- the key (the write supersedes what it merged): COMMIT does not send it.
INSERT INTO rj (key, value) VALUES ('cart3', '["a"]');
INSERT INTO rj (key, value) VALUES ('cart3', '["b"]');
BEGIN;
SELECT key, value, siblings FROM rju WHERE key = 'cart3';
SET LOCAL dynamo_fdw.write_mode = 'immediate';
UPDATE rju SET value = '["z"]' WHERE key = 'cart3';
COMMIT;
SELECT key, value, siblings FROM rj WHERE key = 'cart3';
