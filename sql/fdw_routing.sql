--
-- Where a key's request goes (cluster.c, by libdynamo's routing): with
-- routing 'preflist' to the first of the key's owners that is up and
-- connects, so each node coordinates the GETs of the keys it owns first;
-- with routing 'any' to the first reachable node of the nodes option.
-- Counted by the nodes themselves (dynamo_stats: coordinated GETs).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dynamo_fdw;
RESET client_min_messages;
\getenv nodes DYNAMO_FDW_NODES
\getenv keys DYNAMO_FDW_KEYS
\set key_file :keys '/admin.key'
CREATE SERVER rte FOREIGN DATA WRAPPER dynamo_fdw OPTIONS (nodes :'nodes');
CREATE USER MAPPING FOR CURRENT_USER SERVER rte OPTIONS (key_file :'key_file');
CREATE FOREIGN TABLE rkeys (key text, value text) SERVER rte OPTIONS (bucket 'routing_keys');
INSERT INTO rkeys SELECT 'k' || i, 'v' || i FROM generate_series(1, 60) AS i;
-- each key's first owner, as the cluster says
CREATE TEMP TABLE first_owner AS
  SELECT 'k' || i AS key,
         (SELECT node_id FROM dynamo_preflist('rte', 'routing_keys', 'k' || i) WHERE rank = 1) AS node_id
    FROM generate_series(1, 60) AS i;
SELECT count(DISTINCT node_id) AS first_owners FROM first_owner;

-- routing 'preflist': one GET per key, each coordinated by its first owner
CREATE TEMP TABLE before AS SELECT * FROM dynamo_stats('rte') WHERE operation = 'get';
DO $$
DECLARE v text;
BEGIN
  FOR i IN 1..60 LOOP
    SELECT value INTO v FROM rkeys WHERE key = 'k' || i;
  END LOOP;
END $$;
SELECT bool_and(coalesce(a.requests - b.requests, 0) =
                (SELECT count(*) FROM first_owner f WHERE f.node_id = a.node_id)) AS by_first_owner,
       sum(a.requests - b.requests) AS gets
  FROM dynamo_stats('rte') a JOIN before b USING (node_id, operation);

-- ... a multi-key GET too (pipelined, each key to its own first owner)
DROP TABLE before;
CREATE TEMP TABLE before AS SELECT * FROM dynamo_stats('rte') WHERE operation = 'get';
SELECT count(*) FROM rkeys WHERE key = ANY (ARRAY(SELECT 'k' || i FROM generate_series(1, 60) AS i));
SELECT bool_and(coalesce(a.requests - b.requests, 0) =
                (SELECT count(*) FROM first_owner f WHERE f.node_id = a.node_id)) AS by_first_owner,
       sum(a.requests - b.requests) AS gets
  FROM dynamo_stats('rte') a JOIN before b USING (node_id, operation);

-- routing 'any': every GET to the first node of the nodes option
ALTER SERVER rte OPTIONS (ADD routing 'any');
DROP TABLE before;
CREATE TEMP TABLE before AS SELECT * FROM dynamo_stats('rte') WHERE operation = 'get';
SELECT count(*) FROM rkeys WHERE key = ANY (ARRAY(SELECT 'k' || i FROM generate_series(1, 60) AS i));
SELECT n.address = split_part(:'nodes', ',', 1) AS first_seed, a.requests - b.requests AS gets
  FROM dynamo_stats('rte') a JOIN before b USING (node_id, operation)
  JOIN dynamo_nodes('rte') n ON n.id = a.node_id
 WHERE a.requests > b.requests;
DROP SERVER rte CASCADE;
