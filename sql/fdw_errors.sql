--
-- Failures and their messages: a cluster that cannot be reached, keys and
-- trust that do not authenticate, a role that does not allow the request,
-- requests the node refuses.  (Quorums not met, timeouts and cancelling
-- while a node hangs need nodes stopped mid-session: t/020_fdw.t.)
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
RESET client_min_messages;
\getenv nodes DYNAMO_FDW_NODES
\getenv keys DYNAMO_FDW_KEYS
\set key_file :keys '/admin.key'
\set stranger_key :keys '/stranger.key'
\set trust_file :keys '/trust'

-- nothing listens: every node is tried, and each one's reason is given
CREATE SERVER dead FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes '127.0.0.1:1,127.0.0.1:2', connect_timeout_ms '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER dead OPTIONS (key_file :'key_file');
CREATE FOREIGN TABLE dead_t (key text, value text, context text) SERVER dead;
SELECT * FROM dead_t WHERE key = 'a';
INSERT INTO dead_t (key, value) VALUES ('a', 'b');
SELECT * FROM dead_t;
SELECT * FROM dynamo_nodes('dead');
-- the error left the session usable
SELECT 1 AS still_here;

-- the cluster does not know this client's key
CREATE SERVER strange FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes :'nodes');
CREATE USER MAPPING FOR CURRENT_USER SERVER strange
  OPTIONS (key_file :'stranger_key', trust_file :'trust_file');
CREATE FOREIGN TABLE strange_t (key text, value text) SERVER strange;
\set VERBOSITY terse
SELECT * FROM strange_t WHERE key = 'a';
\set VERBOSITY default
-- a client without a key speaks plaintext, which these nodes refuse
CREATE SERVER plain FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes :'nodes');
CREATE USER MAPPING FOR CURRENT_USER SERVER plain;
CREATE FOREIGN TABLE plain_t (key text, value text) SERVER plain;
\set SHOW_CONTEXT never
SELECT * FROM plain_t WHERE key = 'a';
\set SHOW_CONTEXT errors
-- this client does not trust the nodes' keys (the trust lists another key)
CREATE SERVER distrust FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes :'nodes');
CREATE USER MAPPING FOR CURRENT_USER SERVER distrust
  OPTIONS (key_file :'key_file', trust 'a100UgLP0sQ9YeKTnK0yVXhi_qDWbLqPSWSVeKBoObM node n1');
CREATE FOREIGN TABLE distrust_t (key text, value text) SERVER distrust;
\set VERBOSITY terse
SELECT * FROM distrust_t WHERE key = 'a';
\set VERBOSITY default
-- key and trust files the server cannot read are refused when set
ALTER USER MAPPING FOR CURRENT_USER SERVER distrust
  OPTIONS (DROP trust, SET key_file '/nonexistent/client.key');
ALTER USER MAPPING FOR CURRENT_USER SERVER distrust
  OPTIONS (DROP trust, ADD trust_file '/nonexistent/trust');
CREATE SERVER unread FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes :'nodes', trust_file '/nonexistent/trust');
-- files readable when set but gone when used (the server writes and
-- removes them itself, as the postgres user): the error comes at use time
\set gone_key '/tmp/dynamo_fdw_regress_gone.key'
\set gone_trust '/tmp/dynamo_fdw_regress_gone.trust'
\set rm_key 'rm -f ' :gone_key
\set rm_trust 'rm -f ' :gone_trust
COPY (SELECT WHERE false) TO :'gone_key';
ALTER USER MAPPING FOR CURRENT_USER SERVER distrust
  OPTIONS (DROP trust, SET key_file :'gone_key');
COPY (SELECT WHERE false) TO PROGRAM :'rm_key';
SELECT * FROM distrust_t WHERE key = 'a';
COPY (SELECT WHERE false) TO :'gone_trust';
ALTER USER MAPPING FOR CURRENT_USER SERVER distrust
  OPTIONS (SET key_file :'key_file', ADD trust_file :'gone_trust');
COPY (SELECT WHERE false) TO PROGRAM :'rm_trust';
SELECT * FROM distrust_t WHERE key = 'a';
-- an ALTER checks the whole option list again: the trust file that has
-- gone is refused until it is dropped or replaced
ALTER USER MAPPING FOR CURRENT_USER SERVER distrust OPTIONS (SET key_file :'key_file');
SELECT pg_read_file(:'key_file') AS admin_key \gset
ALTER USER MAPPING FOR CURRENT_USER SERVER distrust
  OPTIONS (DROP key_file, DROP trust_file, ADD key :'admin_key');
SELECT * FROM distrust_t WHERE key = 'a';
ALTER USER MAPPING FOR CURRENT_USER SERVER distrust OPTIONS (DROP key, ADD trust_file :'trust_file');
SELECT * FROM distrust_t WHERE key = 'a';
-- the key inline and the trust file on the server: it works
ALTER USER MAPPING FOR CURRENT_USER SERVER distrust OPTIONS (DROP trust_file, ADD key :'admin_key');
ALTER SERVER distrust OPTIONS (ADD trust_file :'trust_file');
INSERT INTO distrust_t VALUES ('a', 'trusted at last');
SELECT * FROM distrust_t WHERE key = 'a';

DROP SERVER dead, strange, plain, distrust CASCADE;
