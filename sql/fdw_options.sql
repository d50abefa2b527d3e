--
-- Options of dynamo_fdw servers, user mappings, tables and columns: every
-- bad option and value is refused when it is given, with the valid ones.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
RESET client_min_messages;
\getenv nodes DYNAMO_FDW_NODES
\getenv keys DYNAMO_FDW_KEYS
\set key_file :keys '/admin.key'
\set trust_file :keys '/trust'

-- server: unknown options list the valid ones
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:7401', colour 'red');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (key_file '/tmp/k');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (bucket 'b');
-- nodes
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes 'localhost');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:0');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:65536');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:7401,');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:74x1');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '::1:7401');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes ':7401');
-- quorums, timeouts, sizes, routing
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:7401', r '0');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:7401', r '17');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:7401', r 'two');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:7401', w ' 2');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:7401', w '-1');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:7401', timeout_ms '0');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:7401', timeout_ms '1.5');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:7401', connect_timeout_ms '86400001');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:7401', routing 'nearest');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:7401', fetch_size '0');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:7401', fetch_size '65536');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:7401', batch_size '0');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:7401', batch_size 'lots');
-- trust files: absolute paths only; inline trust text is checked line by line
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:7401', trust_file 'keys/trust');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:7401', trust 'not-a-key node n1');
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes '127.0.0.1:7401', trust 'a100UgLP0sQ9YeKTnK0yVXhi_qDWbLqPSWSVeKBoObM king n1');
-- every option at once, all good
CREATE SERVER opt FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes '127.0.0.1:7401, 127.0.0.1:7402,[::1]:7403', r '2', w '2', timeout_ms '1000',
           connect_timeout_ms '500', routing 'any', fetch_size '100', batch_size '50',
           trust 'a100UgLP0sQ9YeKTnK0yVXhi_qDWbLqPSWSVeKBoObM node n1');
-- ALTER checks the same way
ALTER SERVER opt OPTIONS (SET r '16');
ALTER SERVER opt OPTIONS (SET r '99');
ALTER SERVER opt OPTIONS (ADD colour 'red');
ALTER SERVER opt OPTIONS (SET routing 'everywhere');
SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'opt';

-- user mappings
CREATE USER MAPPING FOR CURRENT_USER SERVER opt OPTIONS (nodes '127.0.0.1:7401');
CREATE USER MAPPING FOR CURRENT_USER SERVER opt OPTIONS (key_file 'admin.key');
CREATE USER MAPPING FOR CURRENT_USER SERVER opt OPTIONS (key 'not a key');
CREATE USER MAPPING FOR CURRENT_USER SERVER opt OPTIONS (key 'dynamo-secret-key-v1');
CREATE USER MAPPING FOR CURRENT_USER SERVER opt
  OPTIONS (key 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
-- the key file's text, given inline, is a good key (not shown: it is a secret)
SELECT pg_read_file(:'key_file') AS admin_key \gset
CREATE USER MAPPING FOR CURRENT_USER SERVER opt OPTIONS (key :'admin_key', key_file :'key_file');
CREATE USER MAPPING FOR CURRENT_USER SERVER opt OPTIONS (key :'admin_key');
ALTER USER MAPPING FOR CURRENT_USER SERVER opt OPTIONS (ADD key_file :'key_file');
DROP USER MAPPING FOR CURRENT_USER SERVER opt;

-- files are read by the server: superusers and pg_read_server_files only;
-- others give the key (and trust) inline, which other users cannot see
CREATE ROLE regress_dynamo_user;
CREATE ROLE regress_dynamo_other;
GRANT USAGE ON FOREIGN SERVER opt TO regress_dynamo_user, regress_dynamo_other;
SET ROLE regress_dynamo_user;
CREATE USER MAPPING FOR CURRENT_USER SERVER opt OPTIONS (key_file :'key_file');
CREATE USER MAPPING FOR CURRENT_USER SERVER opt
  OPTIONS (key :'admin_key', trust_file :'trust_file');
CREATE USER MAPPING FOR CURRENT_USER SERVER opt
  OPTIONS (key :'admin_key', trust 'a100UgLP0sQ9YeKTnK0yVXhi_qDWbLqPSWSVeKBoObM node n1');
SELECT umoptions IS NOT NULL AS own_options_visible FROM pg_user_mappings WHERE srvname = 'opt';
SET ROLE regress_dynamo_other;
SELECT usename, umoptions FROM pg_user_mappings WHERE srvname = 'opt';
RESET ROLE;
GRANT pg_read_server_files TO regress_dynamo_other;
SET ROLE regress_dynamo_other;
CREATE USER MAPPING FOR CURRENT_USER SERVER opt OPTIONS (key_file :'key_file');
RESET ROLE;
DROP USER MAPPING FOR regress_dynamo_user SERVER opt;
DROP USER MAPPING FOR regress_dynamo_other SERVER opt;

-- a server without nodes is refused when used
CREATE SERVER nonodes FOREIGN DATA WRAPPER dynamo_fdw;
CREATE USER MAPPING FOR CURRENT_USER SERVER nonodes;
CREATE FOREIGN TABLE nonodes_t (key text, value text) SERVER nonodes;
SELECT * FROM nonodes_t;
DROP SERVER nonodes CASCADE;

-- foreign tables
CREATE FOREIGN TABLE t (key text, value text) SERVER opt OPTIONS (nodes '127.0.0.1:7401');
CREATE FOREIGN TABLE t (key text, value text) SERVER opt OPTIONS (bucket '');
CREATE FOREIGN TABLE t (key text, value text) SERVER opt OPTIONS (bucket 'b', routing 'any');
SELECT repeat('b', 256) AS long_bucket \gset
CREATE FOREIGN TABLE t (key text, value text) SERVER opt OPTIONS (bucket :'long_bucket');
CREATE FOREIGN TABLE t (key text, value text) SERVER opt OPTIONS (value_format 'json');
CREATE FOREIGN TABLE t (key text, value text) SERVER opt OPTIONS (r '0');
CREATE FOREIGN TABLE t (key text, value text) SERVER opt OPTIONS (w 'all');
CREATE FOREIGN TABLE t (key text, value text) SERVER opt OPTIONS (fetch_size '-5');
CREATE FOREIGN TABLE t (key text, value text) SERVER opt OPTIONS (batch_size '1e3');
CREATE FOREIGN TABLE t (key text, value text)
  SERVER opt OPTIONS (bucket 'b', r '1', w '3', value_format 'raw', fetch_size '10', batch_size '10');
ALTER FOREIGN TABLE t OPTIONS (SET value_format 'columns');
-- columns: role is the only option, with five values
ALTER FOREIGN TABLE t ALTER COLUMN value OPTIONS (colour 'red');
ALTER FOREIGN TABLE t ALTER COLUMN value OPTIONS (role 'primary');
ALTER FOREIGN TABLE t ALTER COLUMN value OPTIONS (role 'value');
SELECT attname, attfdwoptions FROM pg_attribute
 WHERE attrelid = 't'::regclass AND attnum > 0 ORDER BY attnum;
DROP FOREIGN TABLE t;

-- what a table's columns mean is checked when it is used (no network needed)
CREATE USER MAPPING FOR CURRENT_USER SERVER opt OPTIONS (key_file :'key_file');
CREATE FOREIGN TABLE nokey (k text, value text) SERVER opt;
SELECT * FROM nokey;
CREATE FOREIGN TABLE twokeys (key text, id text OPTIONS (role 'key')) SERVER opt;
SELECT * FROM twokeys;
CREATE FOREIGN TABLE norole (key text, value text, note text) SERVER opt;
SELECT * FROM norole;
CREATE FOREIGN TABLE badtype (key text, value text, siblings text) SERVER opt;
SELECT * FROM badtype;
CREATE FOREIGN TABLE badclock (key text, value text, vclock int) SERVER opt;
SELECT * FROM badclock;
CREATE FOREIGN TABLE rowvalue (key text, v text OPTIONS (role 'value')) SERVER opt
  OPTIONS (value_format 'row');
SELECT * FROM rowvalue;
DROP FOREIGN TABLE nokey, twokeys, norole, badtype, badclock, rowvalue;

-- GUCs: range-checked, and the prefix is reserved
SET dynamo_fdw.r = 17;
SET dynamo_fdw.w = -1;
SET dynamo_fdw.timeout_ms = '2d';
SET dynamo_fdw.timeout_ms = '1s';
SHOW dynamo_fdw.timeout_ms;
RESET dynamo_fdw.timeout_ms;
SET dynamo_fdw.quorum = 2;

DROP SERVER opt CASCADE;
DROP ROLE regress_dynamo_user, regress_dynamo_other;
