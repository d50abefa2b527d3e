/* dynamo_fdw/dynamo_fdw--0.1.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION dynamo_fdw" to load this file. \quit

CREATE FUNCTION dynamo_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION dynamo_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER dynamo_fdw
  HANDLER dynamo_fdw_handler
  VALIDATOR dynamo_fdw_validator;

-- Where a key lives: its partition among q (a power of two), computed by
-- libdynamo exactly as the nodes compute it.
CREATE FUNCTION dynamo_key_partition(bucket text, key text, partitions int DEFAULT 64)
RETURNS int
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
