--
-- Type fidelity: values are written and read with fixed transmission modes
-- (DateStyle ISO, MDY; IntervalStyle postgres; extra_float_digits 3)
-- whatever the session's settings, so a value written by a session with
-- DateStyle 'SQL, DMY', IntervalStyle sql_standard and extra_float_digits 0
-- reads back as the very same value in every session, in both formats.
-- And scans convert only the columns a query uses: count(*) and queries on
-- the key decode no values.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
RESET client_min_messages;
\getenv nodes DYNAMO_FDW_NODES
\getenv keys DYNAMO_FDW_KEYS
\set key_file :keys '/admin.key'
CREATE SERVER types FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes :'nodes');
CREATE USER MAPPING FOR CURRENT_USER SERVER types OPTIONS (key_file :'key_file');

-- the values, kept locally to compare with
CREATE TABLE vals (key text PRIMARY KEY, d date, tz timestamptz, iv interval,
                   f4 float4, f8 float8, n numeric, ts timestamp, t time, fa float8[]);
INSERT INTO vals VALUES
  ('a', '2024-03-01', '2024-03-01 12:34:56.789012+05:30', '1 year 2 mons 3 days 04:05:06.789',
   1.2345679, 0.1::float8 + 0.2::float8, 3.14159265358979323846264338327950288,
   '2024-12-31 23:59:59.999999', '13:14:15.161718', ARRAY[1.0/3, 2.0/3]::float8[]),
  ('b', '0044-03-15 BC', '1999-12-31 23:00:00-08', '-1 days +02:03:04.5',
   -3.4028235e38, 1.7976931348623157e308, -0.000000000000000000000000000012345678901234567890,
   '0001-01-01 00:00:00', '00:00:00.000001', ARRAY[5e-324, -1e-300]::float8[]),
  ('c', 'infinity', '-infinity', '-178000000 years', 'NaN', '-0', 'NaN',
   'infinity', '24:00:00', ARRAY['Infinity', '-Infinity', 'NaN']::float8[]),
  ('d', '2000-02-29', '2000-01-01 00:00:00+00', '3 days 04:05:06', 1e-45, 4.9e-324, 12345678901234567890.12345678901234567890,
   '1970-01-01 00:00:00.5', '23:59:59.999999', ARRAY[]::float8[]);

-- raw format: a table per type, each value column stored as its text
CREATE FOREIGN TABLE raw_d (key text, value date) SERVER types OPTIONS (bucket 'types_d');
CREATE FOREIGN TABLE raw_tz (key text, value timestamptz) SERVER types OPTIONS (bucket 'types_tz');
CREATE FOREIGN TABLE raw_iv (key text, value interval) SERVER types OPTIONS (bucket 'types_iv');
CREATE FOREIGN TABLE raw_f4 (key text, value float4) SERVER types OPTIONS (bucket 'types_f4');
CREATE FOREIGN TABLE raw_f8 (key text, value float8) SERVER types OPTIONS (bucket 'types_f8');
CREATE FOREIGN TABLE raw_n (key text, value numeric) SERVER types OPTIONS (bucket 'types_n');
CREATE FOREIGN TABLE raw_ts (key text, value timestamp) SERVER types OPTIONS (bucket 'types_ts');
CREATE FOREIGN TABLE raw_t (key text, value time) SERVER types OPTIONS (bucket 'types_t');
CREATE FOREIGN TABLE raw_fa (key text, value float8[]) SERVER types OPTIONS (bucket 'types_fa');
-- row format: every type as a field of one JSON object
CREATE FOREIGN TABLE row_vals (key text, d date, tz timestamptz, iv interval, f4 float4,
                               f8 float8, n numeric, ts timestamp, t time, fa float8[])
  SERVER types OPTIONS (bucket 'types_row', value_format 'row');
-- the stored bytes, as text
CREATE FOREIGN TABLE stored_d (key text, value text) SERVER types OPTIONS (bucket 'types_d');
CREATE FOREIGN TABLE stored_iv (key text, value text) SERVER types OPTIONS (bucket 'types_iv');
CREATE FOREIGN TABLE stored_f8 (key text, value text) SERVER types OPTIONS (bucket 'types_f8');
CREATE FOREIGN TABLE stored_row (key text, value text) SERVER types OPTIONS (bucket 'types_row');

-- the rows read back that differ from the local ones, bit for bit
CREATE VIEW raw_differ AS SELECT count(*) AS differ FROM vals v
  LEFT JOIN raw_d ON raw_d.key = v.key LEFT JOIN raw_tz ON raw_tz.key = v.key
  LEFT JOIN raw_iv ON raw_iv.key = v.key LEFT JOIN raw_f4 ON raw_f4.key = v.key
  LEFT JOIN raw_f8 ON raw_f8.key = v.key LEFT JOIN raw_n ON raw_n.key = v.key
  LEFT JOIN raw_ts ON raw_ts.key = v.key LEFT JOIN raw_t ON raw_t.key = v.key
  LEFT JOIN raw_fa ON raw_fa.key = v.key
 WHERE raw_d.value IS DISTINCT FROM v.d OR raw_tz.value IS DISTINCT FROM v.tz
    OR raw_iv.value::text IS DISTINCT FROM v.iv::text
    OR float4send(raw_f4.value) IS DISTINCT FROM float4send(v.f4)
    OR float8send(raw_f8.value) IS DISTINCT FROM float8send(v.f8)
    OR raw_n.value::text IS DISTINCT FROM v.n::text
    OR raw_ts.value IS DISTINCT FROM v.ts OR raw_t.value IS DISTINCT FROM v.t
    OR array_send(raw_fa.value) IS DISTINCT FROM array_send(v.fa);
CREATE VIEW row_differ AS SELECT count(*) AS differ FROM vals v LEFT JOIN row_vals r ON r.key = v.key
 WHERE r.key IS NULL OR r.d IS DISTINCT FROM v.d OR r.tz IS DISTINCT FROM v.tz
    OR r.iv::text IS DISTINCT FROM v.iv::text
    OR float4send(r.f4) IS DISTINCT FROM float4send(v.f4)
    OR float8send(r.f8) IS DISTINCT FROM float8send(v.f8)
    OR r.n::text IS DISTINCT FROM v.n::text
    OR r.ts IS DISTINCT FROM v.ts OR r.t IS DISTINCT FROM v.t
    OR array_send(r.fa) IS DISTINCT FROM array_send(v.fa);

-- written by a session whose settings differ from the transmission modes
SET datestyle = 'SQL, DMY';
SET intervalstyle = 'sql_standard';
SET extra_float_digits = 0;
SET timezone = 'Asia/Kolkata';
INSERT INTO raw_d SELECT key, d FROM vals;
INSERT INTO raw_tz SELECT key, tz FROM vals;
INSERT INTO raw_iv SELECT key, iv FROM vals;
INSERT INTO raw_f4 SELECT key, f4 FROM vals;
INSERT INTO raw_f8 SELECT key, f8 FROM vals;
INSERT INTO raw_n SELECT key, n FROM vals;
INSERT INTO raw_ts SELECT key, ts FROM vals;
INSERT INTO raw_t SELECT key, t FROM vals;
INSERT INTO raw_fa SELECT key, fa FROM vals;
INSERT INTO row_vals SELECT * FROM vals;
-- the session's own output is still its own (the modes never leak into it)
SELECT d, iv, f8 FROM vals WHERE key = 'a';
SHOW datestyle;
SHOW extra_float_digits;
-- what is stored: ISO dates, postgres intervals, shortest exact floats
SELECT key, value FROM stored_d ORDER BY key;
SELECT key, value FROM stored_iv ORDER BY key;
SELECT key, value FROM stored_f8 ORDER BY key;
SELECT value FROM stored_row WHERE key = 'a';
-- read back in the writing session: the same values, bit for bit
SELECT * FROM raw_differ;
SELECT * FROM row_differ;
-- and in a session with the defaults
RESET datestyle;
RESET intervalstyle;
RESET extra_float_digits;
RESET timezone;
SELECT key, raw_d.value AS d, raw_iv.value AS iv, raw_f8.value AS f8, raw_n.value AS n
  FROM raw_d JOIN raw_iv USING (key) JOIN raw_f8 USING (key) JOIN raw_n USING (key) ORDER BY key;
SELECT key, d, iv, f4, f8, n FROM row_vals ORDER BY key;
SELECT * FROM row_differ;
SELECT * FROM raw_differ;
-- a key of a type whose text depends on the settings is written in ISO too
CREATE FOREIGN TABLE by_date (key date, value text) SERVER types OPTIONS (bucket 'types_bydate');
CREATE FOREIGN TABLE by_date_text (key text, value text) SERVER types OPTIONS (bucket 'types_bydate');
SET datestyle = 'SQL, DMY';
INSERT INTO by_date VALUES ('2024-03-01', 'first of March');
SELECT key, value FROM by_date;
RESET datestyle;
SELECT key, value FROM by_date_text;
SELECT key, value FROM by_date;

--
-- Scans convert only what the query uses
--
CREATE FOREIGN TABLE docs (key text, value jsonb) SERVER types OPTIONS (bucket 'types_docs');
CREATE FOREIGN TABLE docs_text (key text, value text) SERVER types OPTIONS (bucket 'types_docs');
INSERT INTO docs SELECT 'c' || i, jsonb_build_object('n', i) FROM generate_series(1, 20) AS i;
INSERT INTO docs SELECT 'd' || i, jsonb_build_object('n', i) FROM generate_series(1, 5) AS i;
-- a value that is no JSON, under another key
INSERT INTO docs_text VALUES ('x1', 'this is not json');
-- count(*), and queries on the key only, decode no value
SELECT count(*) FROM docs;
SELECT count(*) FROM docs WHERE key LIKE 'c%';
SELECT key FROM docs WHERE key LIKE 'd%' ORDER BY key;
SELECT count(*) FROM docs WHERE key = 'x1';
-- a query that reads the value fails, naming the table, the column and the key
SELECT sum((value->>'n')::int) FROM docs;
-- (a key condition that does not name x1 reads only good values)
SELECT sum((value->>'n')::int) FROM docs WHERE key IN ('c1', 'c2', 'd5');
-- the same in the row format: a field that is never read is never converted
CREATE FOREIGN TABLE docrows (key text, n int, note text) SERVER types
  OPTIONS (bucket 'types_docs', value_format 'row');
SELECT count(*) FROM docrows;
SELECT count(*) FROM docrows WHERE key LIKE 'c%';
-- a query that reads a field reads it from every row the scan returns,
-- before its local filter: x1's value must be a JSON object then
SELECT sum(n) FROM docrows WHERE key LIKE 'c%';
SELECT sum(n) FROM docrows WHERE key IN ('c1', 'c2');

DROP VIEW raw_differ, row_differ;
DROP TABLE vals;
DROP SERVER types CASCADE;
