--
-- Administration by SQL: what the cluster says of itself (nodes, ring,
-- preference lists, hints, request counts), read from the nodes' RING and
-- STATUS replies; repair (an anti-entropy round on each node) and the
-- refusals of remove_node (t/021_fdw_remove.t removes a node of a cluster
-- of its own); and this backend's connections, cached per server and user
-- mapping and closed when either changes or goes.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
RESET client_min_messages;
\getenv nodes DYNAMO_FDW_NODES
\getenv keys DYNAMO_FDW_KEYS
\set key_file :keys '/admin.key'
\set trust_file :keys '/trust'
CREATE SERVER adm FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes :'nodes');
CREATE USER MAPPING FOR CURRENT_USER SERVER adm OPTIONS (key_file :'key_file');
CREATE FOREIGN TABLE carts (key text, value text, vclock jsonb, context text)
  SERVER adm OPTIONS (bucket 'admin_carts');
INSERT INTO carts (key, value) SELECT 'c' || i, 'v' || i FROM generate_series(1, 30) AS i;

-- the nodes: one row each, as the cluster sees them
SELECT id, zone, status, partitions, keys >= 30 AS holds_keys, pending_hints,
       last_heartbeat > 0 AS heartbeating,
       address = ANY (string_to_array(:'nodes', ',')) AS known_address
  FROM dynamo_nodes('adm') ORDER BY id;
SELECT sum(partitions) AS partitions FROM dynamo_nodes('adm');

-- the ring: Q partitions, each with N distinct owners in preference order
SELECT count(*) AS partitions,
       bool_and(cardinality(owners) = 3) AS three_owners_each,
       bool_and(owners[1] <> owners[2] AND owners[2] <> owners[3] AND owners[1] <> owners[3])
         AS distinct_owners
  FROM dynamo_ring('adm');
SELECT partition, range_start, owners FROM dynamo_ring('adm')
 WHERE partition IN (0, 1, 32, 63) ORDER BY partition;
-- a partition's first owner owns it: the counts agree with dynamo_nodes
SELECT n.id, n.partitions = count(r.*) AS agrees
  FROM dynamo_nodes('adm') n LEFT JOIN dynamo_ring('adm') r ON r.owners[1] = n.id
 GROUP BY n.id, n.partitions ORDER BY n.id;

-- a key's preference list: its partition's owners, then the stand-ins
SELECT rank, node_id, status, replica, partition = dynamo_key_partition('admin_carts', 'c1') AS same_partition
  FROM dynamo_preflist('adm', 'admin_carts', 'c1') ORDER BY rank;
SELECT (SELECT array_agg(node_id ORDER BY rank) FROM dynamo_preflist('adm', 'admin_carts', k) WHERE replica)
       = (SELECT owners FROM dynamo_ring('adm') WHERE partition = dynamo_key_partition('admin_carts', k))
       AS preflist_is_ring
  FROM (VALUES ('c1'), ('c2'), ('something else')) AS v(k);
-- writes are coordinated by the first node of the key's list: its id is the dot
SELECT bool_and((SELECT array_agg(k) FROM jsonb_object_keys(vclock) AS k)
                = ARRAY[(SELECT node_id FROM dynamo_preflist('adm', 'admin_carts', key) WHERE rank = 1)])
       AS coordinated_by_first
  FROM carts WHERE key = ANY (ARRAY(SELECT 'c' || i FROM generate_series(1, 30) AS i));

-- hints: none while every node is up
SELECT * FROM dynamo_hints('adm');

-- request counters per node: ten more GETs show as ten more gets in all
CREATE TEMP TABLE before AS SELECT * FROM dynamo_stats('adm');
SELECT count(*) FROM carts WHERE key = ANY (ARRAY(SELECT 'c' || i FROM generate_series(1, 10) AS i));
SELECT a.operation, sum(a.requests - b.requests) AS more
  FROM dynamo_stats('adm') a JOIN before b USING (node_id, operation)
 WHERE a.operation IN ('get', 'put', 'delete') GROUP BY a.operation ORDER BY 1;
SELECT count(DISTINCT node_id) AS nodes, bool_and(requests >= 0) AS counted FROM dynamo_stats('adm');
-- latencies of the GETs above, from the nodes that coordinated them
SELECT count(*) > 0 AS reported, bool_and(p50_ms > 0 AND p99_ms >= p50_ms) AS ordered
  FROM dynamo_stats('adm') WHERE operation = 'get' AND p50_ms IS NOT NULL;

-- repair: a full anti-entropy round on every node, one after another; on a
-- healthy cluster no exchange fails
SELECT node, failed, partitions > 0 AS holds_partitions, exchanges >= 0 AS exchanged
  FROM dynamo_repair('adm') ORDER BY node;
INSERT INTO carts (key, value) SELECT 'r' || i, 'x' || i FROM generate_series(1, 100) AS i;
SELECT count(*) AS nodes, sum(failed) AS failed, sum(keys_compared) >= 0 AS compared,
       bool_and(keys_sent >= 0 AND keys_received >= 0 AND bytes_sent >= 0
                AND bytes_received >= 0 AND tombstones_reaped >= 0 AND ms >= 0) AS counted
  FROM dynamo_repair('adm');
-- the rows written before and after are all there
SELECT count(*) FROM carts;

-- remove_node: only members can leave; NULL and unknown servers are errors
-- (the shared cluster keeps its three nodes: t/021_fdw_remove.t removes one)
SELECT * FROM dynamo_remove_node('adm', 'n9');
SELECT * FROM dynamo_remove_node('adm', '');
SELECT * FROM dynamo_remove_node('adm', NULL);
SELECT * FROM dynamo_remove_node(NULL, 'n1');
SELECT * FROM dynamo_remove_node('nope', 'n1');
SELECT * FROM dynamo_repair(NULL);
SELECT * FROM dynamo_repair('nope');
-- a key without role admin: the node refuses, and the error says which key to use
CREATE SERVER adm_reader FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes :'nodes');
\set reader_key :keys '/reader.key'
CREATE USER MAPPING FOR CURRENT_USER SERVER adm_reader OPTIONS (key_file :'reader_key');
SELECT count(*) FROM dynamo_nodes('adm_reader');
\set SHOW_CONTEXT never
SELECT * FROM dynamo_repair('adm_reader');
\set SHOW_CONTEXT errors
DROP SERVER adm_reader CASCADE;

-- refusals: unknown server, not a dynamo_fdw server, no USAGE, no user mapping
SELECT * FROM dynamo_nodes('nope');
CREATE FOREIGN DATA WRAPPER other_fdw;
CREATE SERVER other FOREIGN DATA WRAPPER other_fdw;
SELECT * FROM dynamo_ring('other');
CREATE ROLE regress_dynamo_nobody;
SET ROLE regress_dynamo_nobody;
SELECT * FROM dynamo_nodes('adm');
RESET ROLE;
GRANT USAGE ON FOREIGN SERVER adm TO regress_dynamo_nobody;
SET ROLE regress_dynamo_nobody;
SELECT * FROM dynamo_nodes('adm');
-- the functions that change the cluster are not for everybody
SELECT * FROM dynamo_repair('adm');
SELECT * FROM dynamo_remove_node('adm', 'n3');
RESET ROLE;
DROP SERVER other;
DROP FOREIGN DATA WRAPPER other_fdw;
REVOKE USAGE ON FOREIGN SERVER adm FROM regress_dynamo_nobody;
DROP ROLE regress_dynamo_nobody;

-- connections: one per server and user mapping, kept between statements
-- (none now: the GRANT and REVOKE above changed the server, which closed it)
SELECT server_name, valid, open_nodes > 0 AS connected FROM dynamo_fdw_get_connections();
SELECT value FROM carts WHERE key = 'c1';
SELECT server_name, valid FROM dynamo_fdw_get_connections();
-- ALTER SERVER closes it; the next statement connects again
ALTER SERVER adm OPTIONS (ADD timeout_ms '5000');
SELECT server_name FROM dynamo_fdw_get_connections();
SELECT value FROM carts WHERE key = 'c1';
SELECT server_name, valid FROM dynamo_fdw_get_connections();
-- so does ALTER USER MAPPING
ALTER USER MAPPING FOR CURRENT_USER SERVER adm OPTIONS (ADD trust_file :'trust_file');
SELECT server_name FROM dynamo_fdw_get_connections();
SELECT value FROM carts WHERE key = 'c2';
-- a connection changed while a query uses it is replaced after the query
BEGIN;
DECLARE c CURSOR FOR SELECT key FROM carts WHERE key IN ('c1', 'c2', 'c3') ORDER BY key;
FETCH 1 FROM c;
ALTER SERVER adm OPTIONS (SET timeout_ms '6000');
SELECT server_name, valid FROM dynamo_fdw_get_connections();
FETCH 2 FROM c;
CLOSE c;
COMMIT;
SELECT server_name FROM dynamo_fdw_get_connections();
-- dynamo_fdw_disconnect closes it by hand
SELECT value FROM carts WHERE key = 'c3';
SELECT dynamo_fdw_disconnect('adm');
SELECT dynamo_fdw_disconnect('adm');
SELECT server_name FROM dynamo_fdw_get_connections();
-- DROP SERVER closes it
SELECT value FROM carts WHERE key = 'c3';
DROP SERVER adm CASCADE;
SELECT server_name FROM dynamo_fdw_get_connections();
