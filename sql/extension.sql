--
-- The extension loads, creates its wrapper, and places keys as the nodes do.
--
CREATE EXTENSION dynamo_fdw;
SELECT fdwname, fdwhandler::regproc, fdwvalidator::regproc
  FROM pg_foreign_data_wrapper WHERE fdwname = 'dynamo_fdw';

-- key placement: deterministic, within range, and spread over partitions
SELECT dynamo_key_partition('carts', 'alice') = dynamo_key_partition('carts', 'alice') AS stable;
SELECT dynamo_key_partition('carts', 'alice', 1) AS only_partition;
SELECT count(DISTINCT dynamo_key_partition('b', 'k' || i)) AS partitions_hit,
       min(dynamo_key_partition('b', 'k' || i)) >= 0 AS low_ok,
       max(dynamo_key_partition('b', 'k' || i)) < 64 AS high_ok
  FROM generate_series(1, 10000) AS i;
-- the bucket is part of the position
SELECT count(*) > 9000 AS buckets_differ
  FROM generate_series(1, 10000) AS i
 WHERE dynamo_key_partition('a', 'k' || i, 65536) <> dynamo_key_partition('b', 'k' || i, 65536);
SELECT dynamo_key_partition('carts', 'alice', 48);

-- servers need the addresses of their nodes before a table can be used
-- (options are checked in fdw_options, reads and writes in the fdw_* suites)
CREATE SERVER ring FOREIGN DATA WRAPPER dynamo_fdw;
CREATE USER MAPPING FOR CURRENT_USER SERVER ring;
CREATE FOREIGN TABLE carts (key text, value text) SERVER ring;
SELECT * FROM carts;
-- the extension's functions
SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS args
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'dynamo_fdw'
 ORDER BY 1;
DROP FOREIGN TABLE carts;
DROP SERVER ring CASCADE;
DROP EXTENSION dynamo_fdw;
