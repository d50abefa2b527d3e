--
-- postgres_fdw's conveniences: the options updatable (server, table) and
-- keep_connections (server), dynamo_fdw_disconnect_all(); SELECT ... FOR
-- UPDATE / FOR SHARE refused (Dynamo cannot lock a key).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
RESET client_min_messages;
\getenv nodes DYNAMO_FDW_NODES
\getenv keys DYNAMO_FDW_KEYS
\set key_file :keys '/admin.key'
CREATE SERVER api FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes :'nodes');
CREATE USER MAPPING FOR CURRENT_USER SERVER api OPTIONS (key_file :'key_file');
CREATE FOREIGN TABLE apit (key text, value text, context text) SERVER api OPTIONS (bucket 'api_t');
INSERT INTO apit (key, value) VALUES ('a', '1'), ('b', '2');

-- updatable: the table's, else the server's, else true
ALTER FOREIGN TABLE apit OPTIONS (ADD updatable 'false');
INSERT INTO apit (key, value) VALUES ('c', '3');
UPDATE apit SET value = '9' WHERE key = 'a';
DELETE FROM apit WHERE key = 'a';
SELECT key, value FROM apit WHERE key IN ('a', 'b') ORDER BY key;
ALTER FOREIGN TABLE apit OPTIONS (DROP updatable);
ALTER SERVER api OPTIONS (ADD updatable 'false');
DELETE FROM apit WHERE key = 'a';
ALTER FOREIGN TABLE apit OPTIONS (ADD updatable 'true');
UPDATE apit SET value = '10' WHERE key = 'a';
SELECT key, value FROM apit WHERE key = 'a';
ALTER FOREIGN TABLE apit OPTIONS (DROP updatable);
ALTER SERVER api OPTIONS (DROP updatable);
SELECT table_name, is_insertable_into FROM information_schema.tables WHERE table_name = 'apit';
-- a boolean, on the objects it belongs to
ALTER SERVER api OPTIONS (ADD updatable 'maybe');
ALTER SERVER api OPTIONS (ADD keep_connections '1x');
ALTER FOREIGN TABLE apit OPTIONS (ADD keep_connections 'off');

-- keep_connections off: every transaction connects afresh
SELECT dynamo_fdw_disconnect_all();
SELECT key FROM apit WHERE key = 'a';
SELECT server_name, valid, open_nodes > 0 AS open FROM dynamo_fdw_get_connections();
ALTER SERVER api OPTIONS (ADD keep_connections 'off');
SELECT key FROM apit WHERE key = 'a';
SELECT count(*) FROM dynamo_fdw_get_connections();
BEGIN;
SELECT key FROM apit WHERE key = 'b';
SELECT server_name FROM dynamo_fdw_get_connections();
COMMIT;
SELECT count(*) FROM dynamo_fdw_get_connections();
ALTER SERVER api OPTIONS (SET keep_connections 'on');
SELECT key FROM apit WHERE key = 'a';
SELECT server_name, valid FROM dynamo_fdw_get_connections();
-- dynamo_fdw_disconnect_all closes every cached connection (true if any)
SELECT dynamo_fdw_disconnect_all();
SELECT count(*) FROM dynamo_fdw_get_connections();
SELECT dynamo_fdw_disconnect_all();

-- FOR UPDATE / FOR SHARE would promise a lock nothing keeps
SELECT key FROM apit WHERE key = 'a' FOR UPDATE;
SELECT key FROM apit FOR SHARE;
SELECT key FROM apit WHERE key = 'a' FOR NO KEY UPDATE;
-- ... also through a join; locking only the local table is fine
CREATE TABLE apil (id text);
INSERT INTO apil VALUES ('a'), ('b');
SELECT l.id, t.value FROM apil l JOIN apit t ON t.key = l.id ORDER BY l.id FOR UPDATE;
SELECT l.id, t.value FROM apil l JOIN apit t ON t.key = l.id ORDER BY l.id FOR UPDATE OF l;
-- UPDATE ... FROM a foreign table is no lock: it copies the rows
UPDATE apil SET id = id || '!' FROM apit t WHERE t.key = apil.id AND t.value = '2';
SELECT id FROM apil ORDER BY id;

DROP TABLE apil;
DELETE FROM apit;
DROP SERVER api CASCADE;
