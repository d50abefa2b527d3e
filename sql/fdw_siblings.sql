--
-- Siblings (DESIGN.md section 4): two writes from the same context are
-- concurrent and both kept; a read returns one row per sibling, all with
-- the same context; UPDATE and DELETE write back with that context, so one
-- version (or none) remains; tombstones never show.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
RESET client_min_messages;
\getenv nodes DYNAMO_FDW_NODES
\getenv keys DYNAMO_FDW_KEYS
\set key_file :keys '/admin.key'
-- each statement's writes are sent by the statement, blind unless a context
-- is given (write_mode immediate, insert_mode sibling): Dynamo's semantics
-- statement by statement; fdw_xact has the transactional defaults
CREATE SERVER sib FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes :'nodes', write_mode 'immediate', insert_mode 'sibling');
CREATE USER MAPPING FOR CURRENT_USER SERVER sib OPTIONS (key_file :'key_file');
CREATE FOREIGN TABLE carts (key text, value jsonb, vclock jsonb, siblings int, context text)
  SERVER sib OPTIONS (bucket 'sib_carts');

-- a cart, and the context a client read it with
INSERT INTO carts (key, value) VALUES ('alice', '{"items": ["apple"]}');
SELECT context AS base FROM carts WHERE key = 'alice' \gset
-- two writers each start from that context: neither supersedes the other
INSERT INTO carts (key, value, context) VALUES ('alice', '{"items": ["apple", "pear"]}', :'base');
INSERT INTO carts (key, value, context) VALUES ('alice', '{"items": ["fig"]}', :'base');
-- one row per sibling: its own value and clock, the same count and context
SELECT key, value, vclock, siblings FROM carts WHERE key = 'alice' ORDER BY vclock::text;
SELECT count(DISTINCT context) AS contexts, count(*) AS rows FROM carts WHERE key = 'alice';
-- the context covers both siblings (and the version they replaced)
SELECT context <> :'base' AS context_moved_on FROM carts WHERE key = 'alice' LIMIT 1;

-- two writes from the same context in one statement make siblings too
INSERT INTO carts (key, value) VALUES ('bob', '[1]');
SELECT context AS bob_base FROM carts WHERE key = 'bob' \gset
INSERT INTO carts (key, value, context) VALUES ('bob', '[2]', :'bob_base'), ('bob', '[3]', :'bob_base');
SELECT value, siblings FROM carts WHERE key = 'bob' ORDER BY value::text;

-- three siblings, reconciled by SQL: the merge written with the read context
INSERT INTO carts (key, value, context) VALUES ('alice', '{"items": ["kiwi"]}', :'base');
SELECT value, siblings FROM carts WHERE key = 'alice' ORDER BY value::text;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
UPDATE carts SET value = (SELECT jsonb_build_object('items', jsonb_agg(DISTINCT i ORDER BY i))
                            FROM carts c, jsonb_array_elements_text(c.value->'items') AS i
                           WHERE c.key = 'alice')
 WHERE key = 'alice';
-- exactly one version remains, whose clock descends from all three
SELECT key, value, vclock, siblings FROM carts WHERE key = 'alice';

-- each sibling row can get its own value: the last write wins, and still
-- only one version remains (later rows write with the context of the earlier)
SELECT context AS c_base FROM carts WHERE key = 'alice' \gset
INSERT INTO carts (key, value, context) VALUES ('alice', '"x"', :'c_base'), ('alice', '"y"', :'c_base');
SELECT value, siblings FROM carts WHERE key = 'alice' ORDER BY value::text;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
UPDATE carts SET value = jsonb_build_array(value) WHERE key = 'alice';
SELECT value, siblings FROM carts WHERE key = 'alice';

-- DELETE of a key with siblings: one tombstone with the read context; the key is gone
SELECT value, siblings FROM carts WHERE key = 'bob' ORDER BY value::text;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) DELETE FROM carts WHERE key = 'bob';
SELECT * FROM carts WHERE key = 'bob';
-- a write from a context older than the delete is concurrent with it: it
-- comes back beside the tombstone, which is never shown nor counted
INSERT INTO carts (key, value, context) VALUES ('bob', '"late"', :'bob_base');
SELECT value, vclock, siblings FROM carts WHERE key = 'bob';
-- writing with the context read now supersedes both: one version
SELECT context AS bob_ctx FROM carts WHERE key = 'bob' \gset
INSERT INTO carts (key, value, context) VALUES ('bob', '"later"', :'bob_ctx');
SELECT value, siblings FROM carts WHERE key = 'bob';

DROP SERVER sib CASCADE;
