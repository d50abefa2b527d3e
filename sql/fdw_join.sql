--
-- Joins with local tables: a parameterized path lets a nested loop look
-- keys up one outer row at a time; key = ANY(ARRAY(SELECT ...)) gets every
-- key in one pipelined multi-key GET (the subquery is an InitPlan).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
RESET client_min_messages;
\getenv nodes DYNAMO_FDW_NODES
\getenv keys DYNAMO_FDW_KEYS
\set key_file :keys '/admin.key'
CREATE SERVER joins FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes :'nodes');
CREATE USER MAPPING FOR CURRENT_USER SERVER joins OPTIONS (key_file :'key_file');
CREATE FOREIGN TABLE carts (key text, value jsonb, vclock jsonb, siblings int, context text)
  SERVER joins OPTIONS (bucket 'join_carts');
INSERT INTO carts (key, value)
  SELECT 'user' || i, jsonb_build_object('total', i * 10) FROM generate_series(1, 50) AS i;
CREATE TABLE users (id text PRIMARY KEY, name text, uid int);
INSERT INTO users SELECT 'user' || i, 'User ' || i, i FROM generate_series(1, 5) AS i;
INSERT INTO users VALUES ('ghost', 'No Cart', 0);
ANALYZE users;

-- the nested loop with the foreign table looked up by the outer row's key
EXPLAIN (COSTS OFF) SELECT u.name, c.value FROM users u JOIN carts c ON c.key = u.id;
SELECT u.name, c.value FROM users u JOIN carts c ON c.key = u.id ORDER BY u.name;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT u.name, c.value FROM users u JOIN carts c ON c.key = u.id;
EXPLAIN (COSTS OFF, VERBOSE) SELECT u.name, c.value FROM users u JOIN carts c ON c.key = u.id;
-- an outer join keeps the users without a cart
SELECT u.name, c.value->'total' AS total FROM users u LEFT JOIN carts c ON c.key = u.id
 ORDER BY u.name;
-- the key can be an expression of the outer row
SELECT u.name, c.value FROM users u JOIN carts c ON c.key = 'user' || (u.uid * 10)
 ORDER BY u.name;
EXPLAIN (COSTS OFF) SELECT u.name, c.value FROM users u JOIN carts c ON c.key = 'user' || (u.uid * 10);
-- LATERAL
SELECT u.name, l.value FROM users u,
  LATERAL (SELECT value FROM carts WHERE key = u.id) AS l
 WHERE u.uid <= 2 ORDER BY u.name;
-- a semi-join
SELECT key FROM carts WHERE key IN (SELECT id FROM users) ORDER BY key;

-- every key at once: one pipelined multi-key GET
EXPLAIN (COSTS OFF) SELECT key, value FROM carts WHERE key = ANY (ARRAY(SELECT id FROM users));
SELECT key, value FROM carts WHERE key = ANY (ARRAY(SELECT id FROM users)) ORDER BY key;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT key, value FROM carts WHERE key = ANY (ARRAY(SELECT id FROM users));
-- ... joined back to the local table
EXPLAIN (COSTS OFF)
SELECT u.name, c.value FROM users u
  JOIN (SELECT * FROM carts WHERE key = ANY (ARRAY(SELECT id FROM users))) c ON c.key = u.id;
SELECT u.name, c.value FROM users u
  JOIN (SELECT * FROM carts WHERE key = ANY (ARRAY(SELECT id FROM users))) c ON c.key = u.id
 ORDER BY u.name;
-- an empty subquery asks for nothing
SELECT count(*) FROM carts WHERE key = ANY (ARRAY(SELECT id FROM users WHERE false));
-- a larger key set, pipelined in windows of fetch_size GETs
ALTER FOREIGN TABLE carts OPTIONS (ADD fetch_size '8');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT count(*) FROM carts
   WHERE key = ANY (ARRAY(SELECT 'user' || i FROM generate_series(1, 60) AS i));
SELECT count(*), sum((value->>'total')::int) FROM carts
 WHERE key = ANY (ARRAY(SELECT 'user' || i FROM generate_series(1, 60) AS i));

-- two foreign tables joined: the inner one looked up by the outer's values
CREATE FOREIGN TABLE owners (key text, value text) SERVER joins OPTIONS (bucket 'join_owners');
INSERT INTO owners VALUES ('o1', 'user1'), ('o2', 'user2'), ('o3', 'nobody');
SET enable_hashjoin = off;
SET enable_mergejoin = off;
EXPLAIN (COSTS OFF)
SELECT o.key, c.value FROM owners o JOIN carts c ON c.key = o.value
 WHERE o.key IN ('o1', 'o2', 'o3');
SELECT o.key, c.value FROM owners o JOIN carts c ON c.key = o.value
 WHERE o.key IN ('o1', 'o2', 'o3') ORDER BY o.key;
RESET enable_hashjoin;
RESET enable_mergejoin;

DROP TABLE users;
DROP SERVER joins CASCADE;
