--
-- The row format's fidelity: a column_name column option maps a column to
-- another JSON field; SQL NULL and JSON null stay distinct for json/jsonb
-- columns (SQL NULL is stored as no field, JSON null as null); a jsonb
-- column reads back whatever JSON it holds (string, number, null, object);
-- a json column reads back the text it was written as; and UPDATE keeps the
-- fields of the stored object that no column names.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
RESET client_min_messages;
\getenv nodes DYNAMO_FDW_NODES
\getenv keys DYNAMO_FDW_KEYS
\set key_file :keys '/admin.key'
CREATE SERVER rowfmt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes :'nodes');
CREATE USER MAPPING FOR CURRENT_USER SERVER rowfmt OPTIONS (key_file :'key_file');
-- the stored bytes, as text
CREATE FOREIGN TABLE stored (key text, value text, context text) SERVER rowfmt
  OPTIONS (bucket 'rowfmt_people');

-- column_name: the column "full_name" is the field "name", "years" is "age"
CREATE FOREIGN TABLE people (
  key text,
  full_name text OPTIONS (column_name 'name'),
  years int OPTIONS (column_name 'age'),
  doc jsonb,
  raw json,
  context text
) SERVER rowfmt OPTIONS (bucket 'rowfmt_people', value_format 'row');
INSERT INTO people (key, full_name, years, doc, raw) VALUES
  ('p1', 'Ada', 36, '{"langs": ["en", "fr"]}', '{"b": 1,   "a": [1, 2.50]}'),
  ('p2', 'Bob', NULL, '"hello"', '"x"'),
  ('p3', 'Cy', 7, 'null', 'null'),
  ('p4', 'Di', 8, NULL, NULL),
  ('p5', 'Ed', 9, '42.50', '1e3');
-- how each is stored: the field names, null for JSON null, no field for SQL NULL
SELECT key, value FROM stored ORDER BY key;
-- read back as written: jsonb strings, numbers and null as themselves
SELECT key, full_name, years, doc, raw, doc IS NULL AS doc_is_sql_null,
       raw IS NULL AS raw_is_sql_null, jsonb_typeof(doc) AS doc_type
  FROM people ORDER BY key;
-- the json column keeps its text (spaces, order, 2.50)
SELECT raw::text FROM people WHERE key = 'p1';
-- a value written by someone else: an absent field and a null field
INSERT INTO stored (key, value) VALUES
  ('p6', '{"name": "Fay", "doc": null}'),
  ('p7', '{"name": "Gus", "age": null}');
SELECT key, full_name, years, doc, doc IS NULL AS doc_is_sql_null FROM people
 WHERE key IN ('p6', 'p7') ORDER BY key;

-- UPDATE keeps the fields no column names
INSERT INTO stored (key, value) VALUES
  ('p8', '{"name": "Hal", "age": 40, "email": "hal@example.com", "prefs": {"theme": "dark", "n": [1, 2.0]}}');
UPDATE people SET years = years + 1 WHERE key = 'p8';
SELECT value FROM stored WHERE key = 'p8';
SELECT key, full_name, years FROM people WHERE key = 'p8';
-- and so does an UPDATE of every row (a full scan)
UPDATE people SET full_name = upper(full_name);
SELECT value FROM stored WHERE key = 'p8';
SELECT count(*) AS rows, count(*) FILTER (WHERE full_name = upper(full_name)) AS upper FROM people;
-- setting a json column to SQL NULL removes its field; to JSON null stores null
UPDATE people SET doc = NULL WHERE key = 'p1';
UPDATE people SET doc = 'null' WHERE key = 'p2';
SELECT key, value FROM stored WHERE key IN ('p1', 'p2') ORDER BY key;
-- a key's siblings: UPDATE writes one version, keeping the unknown fields
-- (two writes from one context in one statement are two siblings when sent at once)
SELECT context AS base FROM stored WHERE key = 'p8' \gset
SET dynamo_fdw.write_mode = 'immediate';
INSERT INTO stored (key, value, context) VALUES
  ('p8', '{"name": "HAL", "age": 41, "email": "hal@example.com", "note": "a"}', :'base'),
  ('p8', '{"name": "HAL", "age": 41, "email": "hal@example.com", "note": "b"}', :'base');
RESET dynamo_fdw.write_mode;
SELECT count(*) AS siblings FROM people WHERE key = 'p8';
UPDATE people SET years = 50 WHERE key = 'p8';
SELECT value FROM stored WHERE key = 'p8';
-- an UPDATE joined with a local table (the row ids pass through the join)
CREATE TABLE ages (k text, y int);
INSERT INTO ages VALUES ('p8', 60), ('p1', 37);
SET enable_nestloop = off;
UPDATE people SET years = a.y FROM ages a WHERE people.key = a.k;
RESET enable_nestloop;
UPDATE people SET years = a.y + 1 FROM ages a WHERE people.key = a.k;
SELECT key, value FROM stored WHERE key IN ('p1', 'p8') ORDER BY key;
DROP TABLE ages;
-- RETURNING shows the row as the columns see it
UPDATE people SET years = 51 WHERE key = 'p8' RETURNING key, full_name, years;

-- column_name is checked like the other column options
CREATE FOREIGN TABLE bad1 (key text, a int OPTIONS (column_name '')) SERVER rowfmt
  OPTIONS (value_format 'row');
CREATE FOREIGN TABLE bad2 (key text OPTIONS (column_name 'k'), a int) SERVER rowfmt
  OPTIONS (value_format 'row');
SELECT * FROM bad2;
CREATE FOREIGN TABLE bad3 (key text, a int, b int OPTIONS (column_name 'a')) SERVER rowfmt
  OPTIONS (value_format 'row');
SELECT * FROM bad3;
CREATE FOREIGN TABLE bad4 (key text, value text OPTIONS (column_name 'v')) SERVER rowfmt;
SELECT * FROM bad4;
-- ALTER to a name a column already has is refused at use
ALTER FOREIGN TABLE people ALTER COLUMN doc OPTIONS (ADD column_name 'name');
SELECT * FROM people;
ALTER FOREIGN TABLE people ALTER COLUMN doc OPTIONS (SET column_name 'document');
SELECT key, doc FROM people WHERE key = 'p1';

DROP SERVER rowfmt CASCADE;
