--
-- IMPORT FOREIGN SCHEMA (import.c): the nodes list the buckets they hold
-- (BUCKETS), one foreign table per bucket with the default columns, named
-- as the bucket (quoted when it must be), LIMIT TO and EXCEPT.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
RESET client_min_messages;
\getenv nodes DYNAMO_FDW_NODES
\getenv keys DYNAMO_FDW_KEYS
\set key_file :keys '/admin.key'
CREATE SERVER imp FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes :'nodes', write_mode 'immediate');
CREATE USER MAPPING FOR CURRENT_USER SERVER imp OPTIONS (key_file :'key_file');
-- three buckets: a plain name, one that needs quoting, one with a value
CREATE FOREIGN TABLE w1 (key text, value text) SERVER imp OPTIONS (bucket 'imp_plain');
CREATE FOREIGN TABLE w2 (key text, value text) SERVER imp OPTIONS (bucket 'Imp Odd-"name"');
CREATE FOREIGN TABLE w3 (key text, value jsonb) SERVER imp OPTIONS (bucket 'imp_json');
INSERT INTO w1 SELECT 'k' || i, 'v' || i FROM generate_series(1, 50) AS i;
INSERT INTO w2 VALUES ('a', 'x'), ('b', 'y');
INSERT INTO w3 VALUES ('j', '{"n": 1}');
-- a bucket whose name is longer than a table name may be: skipped, said so
CREATE FOREIGN TABLE w4 (key text, value text) SERVER imp
  OPTIONS (bucket 'imp_a_bucket_name_of_seventy_bytes_which_no_table_name_can_be_xxxxx');
INSERT INTO w4 VALUES ('l', 'long');

CREATE SCHEMA imp_all;
IMPORT FOREIGN SCHEMA dynamo FROM SERVER imp INTO imp_all;
-- every bucket of the test cluster is there; ours with the default columns
SELECT c.relname, ft.ftoptions
  FROM pg_class c JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
 WHERE c.relnamespace = 'imp_all'::regnamespace AND c.relname IN ('imp_plain', 'Imp Odd-"name"', 'imp_json')
 ORDER BY c.relname;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'imp_all.imp_plain'::regclass AND attnum > 0 ORDER BY attnum;
SELECT count(*), min(convert_from(value, 'UTF8')) FROM imp_all.imp_plain;
SELECT key, convert_from(value, 'UTF8') AS value, siblings FROM imp_all."Imp Odd-""name""" ORDER BY key;

-- LIMIT TO: only those named (a name no bucket has is no table)
CREATE SCHEMA imp_some;
IMPORT FOREIGN SCHEMA dynamo LIMIT TO (imp_plain, "Imp Odd-""name""", no_such_bucket)
  FROM SERVER imp INTO imp_some OPTIONS (value_type 'text');
SELECT relname FROM pg_class WHERE relnamespace = 'imp_some'::regnamespace ORDER BY relname;
SELECT key, value FROM imp_some."Imp Odd-""name""" ORDER BY key;

-- EXCEPT: every other one
CREATE SCHEMA imp_but;
IMPORT FOREIGN SCHEMA dynamo EXCEPT (imp_plain, "Imp Odd-""name""")
  FROM SERVER imp INTO imp_but OPTIONS (value_type 'jsonb');
SELECT relname FROM pg_class
 WHERE relnamespace = 'imp_but'::regnamespace AND relname IN ('imp_plain', 'Imp Odd-"name"', 'imp_json')
 ORDER BY relname;
SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'imp_but'::regnamespace) + 2 =
       (SELECT count(*) FROM pg_class WHERE relnamespace = 'imp_all'::regnamespace) AS all_but_two;
SELECT key, value->>'n' AS n FROM imp_but.imp_json;

-- bad options
IMPORT FOREIGN SCHEMA dynamo FROM SERVER imp INTO imp_but OPTIONS (value_type 'int');
IMPORT FOREIGN SCHEMA dynamo FROM SERVER imp INTO imp_but OPTIONS (colour 'red');

SET client_min_messages = warning;
DROP SCHEMA imp_all, imp_some, imp_but CASCADE;
TRUNCATE w1, w2, w3, w4;
DROP FOREIGN TABLE w1, w2, w3, w4;
DROP SERVER imp CASCADE;
