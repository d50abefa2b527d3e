--
-- Reconciliation in SQL: a table's merge_function turns a key's siblings
-- into one row (siblings still counts them, context covers them all);
-- merge_write_back writes the merge back; the two shipped functions;
-- user-defined merges in SQL and plpgsql; what is refused.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
RESET client_min_messages;
\getenv nodes DYNAMO_FDW_NODES
\getenv keys DYNAMO_FDW_KEYS
\set key_file :keys '/admin.key'
CREATE SERVER mrg FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes :'nodes');
CREATE USER MAPPING FOR CURRENT_USER SERVER mrg OPTIONS (key_file :'key_file');
-- the versions as they are, and the same bucket merged by union
CREATE FOREIGN TABLE carts_raw (key text, value jsonb, vclock jsonb, siblings int, context text)
  SERVER mrg OPTIONS (bucket 'merge_carts');
CREATE FOREIGN TABLE carts (key text, value jsonb, vclock jsonb, siblings int, context text)
  SERVER mrg OPTIONS (bucket 'merge_carts', merge_function 'dynamo_merge_union');
CREATE TABLE shoppers (id text, name text);
INSERT INTO shoppers VALUES ('alice', 'Alice'), ('bob', 'Bob');
ANALYZE shoppers;

-- two writes from one context make two siblings
INSERT INTO carts_raw (key, value) VALUES ('alice', '{"items": ["apple"]}');
SELECT context AS base FROM carts_raw WHERE key = 'alice' \gset
INSERT INTO carts_raw (key, value, context) VALUES ('alice', '{"items": ["apple", "pear"]}', :'base');
INSERT INTO carts_raw (key, value, context) VALUES ('alice', '{"items": ["fig"]}', :'base');
SELECT value, siblings FROM carts_raw WHERE key = 'alice' ORDER BY value::text;
-- merged by the table's function: one row with both carts' items
SELECT key, value, vclock, siblings FROM carts WHERE key = 'alice';
SELECT (SELECT context FROM carts WHERE key = 'alice') =
       (SELECT DISTINCT context FROM carts_raw WHERE key = 'alice') AS same_context;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM carts WHERE key = 'alice';
-- the same through a join, IN, and a full scan
INSERT INTO carts_raw (key, value) VALUES ('bob', '{"items": ["bread"]}');
SELECT s.name, c.value, c.siblings FROM shoppers s JOIN carts c ON c.key = s.id ORDER BY s.name;
-- ... the batched nested loop too (the inner scan merges the batch's replies)
SET enable_hashjoin = off;
SET enable_mergejoin = off;
EXPLAIN (COSTS OFF) SELECT s.name, c.value, c.siblings FROM shoppers s LEFT JOIN carts c ON c.key = s.id;
SELECT s.name, c.value, c.siblings FROM shoppers s LEFT JOIN carts c ON c.key = s.id ORDER BY s.name;
RESET enable_hashjoin;
RESET enable_mergejoin;
SELECT key, value, siblings FROM carts WHERE key IN ('alice', 'bob') ORDER BY key;
SELECT key, value, siblings FROM carts ORDER BY key;
-- an UPDATE sees the merged row, and with its context collapses the siblings
UPDATE carts SET value = value || '{"checked": true}' WHERE key = 'alice';
SELECT value, siblings FROM carts_raw WHERE key = 'alice';

-- merge_write_back: a read that merged writes the merge back
SELECT context AS base FROM carts_raw WHERE key = 'bob' \gset
INSERT INTO carts_raw (key, value, context) VALUES ('bob', '{"items": ["bread", "tea"]}', :'base');
INSERT INTO carts_raw (key, value, context) VALUES ('bob', '{"items": ["jam"]}', :'base');
SELECT count(*) AS siblings_before FROM carts_raw WHERE key = 'bob';
ALTER FOREIGN TABLE carts OPTIONS (ADD merge_write_back 'on');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM carts WHERE key = 'bob';
SELECT value, siblings FROM carts_raw WHERE key = 'bob';
\! dynamo-cli --node "$DYNAMO_FDW_NODE1" --key "$DYNAMO_FDW_KEYS/admin.key" --json get merge_carts bob | grep -o '"vclock"' | wc -l
-- in write_mode immediate the write-back is sent by the read itself
ALTER FOREIGN TABLE carts OPTIONS (ADD write_mode 'immediate');
SELECT context AS base FROM carts_raw WHERE key = 'bob' \gset
INSERT INTO carts_raw (key, value, context) VALUES ('bob', '{"items": ["eggs"]}', :'base');
INSERT INTO carts_raw (key, value, context) VALUES ('bob', '{"items": ["milk"]}', :'base');
BEGIN;
SELECT value, siblings FROM carts WHERE key = 'bob';
ROLLBACK;
SELECT value, siblings FROM carts_raw WHERE key = 'bob';
ALTER FOREIGN TABLE carts OPTIONS (DROP write_mode, DROP merge_write_back);
-- a read-only transaction does not write back
ALTER FOREIGN TABLE carts OPTIONS (ADD merge_write_back 'on');
SELECT context AS base FROM carts_raw WHERE key = 'bob' \gset
SET dynamo_fdw.write_mode = 'immediate';
INSERT INTO carts_raw (key, value, context) VALUES ('bob', '["x"]', :'base'), ('bob', '["y"]', :'base');
RESET dynamo_fdw.write_mode;
BEGIN TRANSACTION READ ONLY;
SELECT value, siblings FROM carts WHERE key = 'bob';
COMMIT;
SELECT count(*) AS siblings_after_read_only FROM carts_raw WHERE key = 'bob';
ALTER FOREIGN TABLE carts OPTIONS (DROP merge_write_back);

-- the transaction's own queued version takes part in the merge
ALTER FOREIGN TABLE carts_raw OPTIONS (ADD insert_mode 'sibling');
BEGIN;
INSERT INTO carts_raw (key, value) VALUES ('bob', '["z"]');
SELECT value, siblings, vclock IS NULL AS queued FROM carts_raw WHERE key = 'bob' ORDER BY value::text;
SELECT value, siblings FROM carts WHERE key = 'bob';
ROLLBACK;
ALTER FOREIGN TABLE carts_raw OPTIONS (DROP insert_mode);

-- dynamo_merge_latest: the version written last (by the coordinators' clocks)
CREATE FOREIGN TABLE notes_raw (key text, value text, siblings int, context text)
  SERVER mrg OPTIONS (bucket 'merge_notes');
CREATE FOREIGN TABLE notes (key text, value text, siblings int, context text)
  SERVER mrg OPTIONS (bucket 'merge_notes', merge_function 'dynamo_merge_latest');
INSERT INTO notes_raw (key, value) VALUES ('n', 'first');
SELECT context AS base FROM notes_raw WHERE key = 'n' \gset
INSERT INTO notes_raw (key, value, context) VALUES ('n', 'second', :'base');
SELECT pg_sleep(0.01);
INSERT INTO notes_raw (key, value, context) VALUES ('n', 'third', :'base');
SELECT count(*) FROM notes_raw WHERE key = 'n';
SELECT value, siblings FROM notes WHERE key = 'n';

-- user-defined merges: SQL (the longest text) and plpgsql (a counter's sum)
CREATE FUNCTION longest(vals text[], vclocks jsonb[]) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$ SELECT v FROM unnest(vals) v ORDER BY length(v) DESC, v LIMIT 1 $$;
ALTER FOREIGN TABLE notes OPTIONS (SET merge_function 'public.longest');
SELECT value, siblings FROM notes WHERE key = 'n';
CREATE FOREIGN TABLE counters_raw (key text, value int, siblings int, context text)
  SERVER mrg OPTIONS (bucket 'merge_counters');
CREATE FUNCTION add_up(vals int[], vclocks jsonb[]) RETURNS int LANGUAGE plpgsql STABLE AS $$
DECLARE
  total int := 0;
  v int;
BEGIN
  FOREACH v IN ARRAY vals LOOP
    total := total + v;
  END LOOP;
  RETURN total;
END $$;
CREATE FOREIGN TABLE counters (key text, value int, siblings int, context text)
  SERVER mrg OPTIONS (bucket 'merge_counters', merge_function 'public.add_up');
INSERT INTO counters_raw (key, value) VALUES ('c', 0);
SELECT context AS base FROM counters_raw WHERE key = 'c' \gset
INSERT INTO counters_raw (key, value, context) VALUES ('c', 5, :'base');
INSERT INTO counters_raw (key, value, context) VALUES ('c', 7, :'base');
SELECT value, siblings FROM counters WHERE key = 'c';
-- vclocks describe each version: its clock, its dot and when it was written
CREATE FUNCTION describe(vals int[], vclocks jsonb[]) RETURNS int LANGUAGE sql IMMUTABLE AS $$
  SELECT count(*)::int FROM unnest(vclocks) c
   WHERE c ? 'clock' AND (c ->> 'dot') IS NOT NULL AND (c ->> 'ts_ms')::bigint > 1700000000000
     AND (c -> 'clock' ->> (c ->> 'dot'))::int > 0 $$;
ALTER FOREIGN TABLE counters OPTIONS (SET merge_function 'public.describe');
SELECT value AS well_formed_clocks, siblings FROM counters WHERE key = 'c';

-- a NULL result keeps the siblings as rows
CREATE FUNCTION undecided(vals int[], vclocks jsonb[]) RETURNS int
  LANGUAGE sql IMMUTABLE AS $$ SELECT NULL::int $$;
ALTER FOREIGN TABLE counters OPTIONS (SET merge_function 'public.undecided');
SELECT value, siblings FROM counters WHERE key = 'c' ORDER BY value;
-- an error inside the function fails the query and names the key
CREATE FUNCTION picky(vals int[], vclocks jsonb[]) RETURNS int
  LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RAISE EXCEPTION 'cannot merge % versions', cardinality(vals); END $$;
ALTER FOREIGN TABLE counters OPTIONS (SET merge_function 'public.picky');
SELECT value FROM counters WHERE key = 'c';

-- refused when the option is given
CREATE FUNCTION coin(vals int[], vclocks jsonb[]) RETURNS int
  LANGUAGE sql VOLATILE AS $$ SELECT vals[1 + floor(random() * cardinality(vals))::int] $$;
ALTER FOREIGN TABLE counters OPTIONS (SET merge_function 'public.coin');
ALTER FOREIGN TABLE counters OPTIONS (SET merge_function 'no_such_merge');
ALTER FOREIGN TABLE counters OPTIONS (SET merge_function 'length');
ALTER FOREIGN TABLE counters OPTIONS (SET merge_function 'dynamo_merge_union');
ALTER FOREIGN TABLE counters OPTIONS (ADD merge_write_back 'maybe');
-- a function for another value type is refused when the table is read
SELECT value FROM counters WHERE key = 'c';
-- a name without a schema is the extension's schema's, whatever the
-- search_path: every reader calls the function that was checked
CREATE SCHEMA app;
CREATE SCHEMA other;
CREATE FUNCTION app.pick(vals int[], vclocks jsonb[]) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 1 $$;
CREATE FUNCTION other.pick(vals int[], vclocks jsonb[]) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 2 $$;
SET search_path = app, public;
ALTER FOREIGN TABLE counters OPTIONS (SET merge_function 'pick');
ALTER FOREIGN TABLE counters OPTIONS (SET merge_function 'app.pick');
SET search_path = other, public;
SELECT value, siblings FROM counters WHERE key = 'c';
RESET search_path;
DROP SCHEMA app CASCADE;
DROP SCHEMA other CASCADE;
-- only who may EXECUTE the function may name it; readers need not
CREATE ROLE merge_reader;
CREATE SCHEMA reader_s AUTHORIZATION merge_reader;
GRANT USAGE ON FOREIGN SERVER mrg TO merge_reader;
CREATE USER MAPPING FOR merge_reader SERVER mrg OPTIONS (key_file :'key_file');
REVOKE EXECUTE ON FUNCTION add_up(int[], jsonb[]) FROM PUBLIC;
ALTER FOREIGN TABLE counters OPTIONS (SET merge_function 'public.add_up');
GRANT SELECT ON counters TO merge_reader;
SET ROLE merge_reader;
SELECT value, siblings FROM counters WHERE key = 'c';
CREATE FOREIGN TABLE reader_s.mine (key text, value int) SERVER mrg OPTIONS (merge_function 'public.add_up');
RESET ROLE;

DROP SERVER mrg CASCADE;
DROP SCHEMA reader_s CASCADE;
DROP ROLE merge_reader;
DROP TABLE shoppers;
DROP FUNCTION longest, add_up, describe, undecided, picky, coin;
