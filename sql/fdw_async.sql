--
-- Async Append: with async_capable, an Append over dynamo_fdw scans (UNION
-- ALL, a partitioned table of foreign partitions) runs them concurrently:
-- each scan's requests are in flight at once, and the rows are those of
-- the scans run one after another.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
RESET client_min_messages;
\getenv nodes DYNAMO_FDW_NODES
\getenv keys DYNAMO_FDW_KEYS
\set key_file :keys '/admin.key'
CREATE SERVER asy FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes :'nodes', async_capable 'true', fetch_size '7');
CREATE USER MAPPING FOR CURRENT_USER SERVER asy OPTIONS (key_file :'key_file');
CREATE FOREIGN TABLE a1 (key text, value text, context text) SERVER asy OPTIONS (bucket 'asy_1');
CREATE FOREIGN TABLE a2 (key text, value text, context text) SERVER asy OPTIONS (bucket 'asy_2');
CREATE FOREIGN TABLE a3 (key text, value text, context text) SERVER asy OPTIONS (bucket 'asy_3');
INSERT INTO a1 (key, value) SELECT 'k' || i, 'one ' || i FROM generate_series(1, 40) AS i;
INSERT INTO a2 (key, value) SELECT 'k' || i, 'two ' || i FROM generate_series(1, 30) AS i;
INSERT INTO a3 (key, value) SELECT 'k' || i, 'three ' || i FROM generate_series(1, 20) AS i;

CREATE VIEW every AS
  SELECT 1 AS t, key, value FROM a1 UNION ALL
  SELECT 2, key, value FROM a2 UNION ALL
  SELECT 3, key, value FROM a3;
EXPLAIN (COSTS OFF) SELECT * FROM every;
SELECT t, count(*), min(value), max(value) FROM every GROUP BY t ORDER BY t;
-- the same rows as one scan after another
CREATE TABLE serial AS SELECT * FROM every WHERE false;
SET enable_async_append = off;
EXPLAIN (COSTS OFF) SELECT * FROM every;
INSERT INTO serial SELECT * FROM every;
RESET enable_async_append;
SELECT (SELECT count(*) FROM (SELECT * FROM every EXCEPT ALL SELECT * FROM serial) d) AS missing,
       (SELECT count(*) FROM (SELECT * FROM serial EXCEPT ALL SELECT * FROM every) d) AS extra,
       (SELECT count(*) FROM every) AS rows;
-- key lookups and quals in the children; a LIMIT stops early
EXPLAIN (COSTS OFF)
  SELECT key, value FROM a1 WHERE key IN ('k1', 'k2', 'k3')
  UNION ALL SELECT key, value FROM a2 WHERE key = 'k4'
  UNION ALL SELECT key, value FROM a3 WHERE value LIKE '%7';
SELECT key, value FROM a1 WHERE key IN ('k1', 'k2', 'k3')
  UNION ALL SELECT key, value FROM a2 WHERE key = 'k4'
  UNION ALL SELECT key, value FROM a3 WHERE value LIKE '%7'
 ORDER BY 2;
SELECT count(*) FROM (SELECT * FROM every LIMIT 5) l;
-- EXPLAIN ANALYZE: every scan's requests
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM every;
-- the transaction's own writes are seen through the async scans
BEGIN;
INSERT INTO a2 (key, value) VALUES ('new', 'two new');
DELETE FROM a3 WHERE key = 'k1';
SELECT t, count(*) FROM every GROUP BY t ORDER BY t;
ROLLBACK;
-- an error in one child ends the query; the session goes on
SELECT CASE WHEN key = 'k5' THEN 1 / 0 ELSE 1 END FROM a1 UNION ALL SELECT 1 FROM a2;
SELECT t, count(*) FROM every GROUP BY t ORDER BY t;
-- a partitioned table of foreign partitions
CREATE TABLE parted (key text, value text) PARTITION BY LIST (key);
CREATE FOREIGN TABLE parted_a PARTITION OF parted FOR VALUES IN ('k1', 'k2', 'k3')
  SERVER asy OPTIONS (bucket 'asy_1');
CREATE FOREIGN TABLE parted_b PARTITION OF parted DEFAULT SERVER asy OPTIONS (bucket 'asy_2');
EXPLAIN (COSTS OFF) SELECT * FROM parted;
SELECT count(*) FROM parted;
-- async_capable false on one table: that child is run synchronously
ALTER FOREIGN TABLE a2 OPTIONS (ADD async_capable 'false');
EXPLAIN (COSTS OFF) SELECT * FROM every;
SELECT t, count(*) FROM every GROUP BY t ORDER BY t;
-- async is off by default
ALTER SERVER asy OPTIONS (DROP async_capable);
ALTER FOREIGN TABLE a2 OPTIONS (DROP async_capable);
EXPLAIN (COSTS OFF) SELECT * FROM every;
ALTER SERVER asy OPTIONS (ADD async_capable 'yes please');

DROP TABLE parted;
DROP TABLE serial;
DROP VIEW every;
DROP SERVER asy CASCADE;
