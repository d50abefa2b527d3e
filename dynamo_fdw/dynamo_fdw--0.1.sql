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

-- This backend's cached connections (one per server and user mapping).
CREATE FUNCTION dynamo_fdw_get_connections(OUT server_name text, OUT valid boolean,
                                           OUT open_nodes int)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT PARALLEL RESTRICTED;

-- Close this backend's connections to a server.
CREATE FUNCTION dynamo_fdw_disconnect(server text)
RETURNS boolean
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT PARALLEL RESTRICTED;

-- Administration: what the cluster behind a server says of itself.
CREATE FUNCTION dynamo_nodes(server text,
    OUT id text, OUT address text, OUT zone text, OUT status text,
    OUT partitions int, OUT keys bigint, OUT pending_hints bigint,
    OUT last_heartbeat bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION dynamo_ring(server text,
    OUT partition int, OUT range_start numeric, OUT owners text[])
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION dynamo_preflist(server text, bucket text, key text,
    OUT rank int, OUT node_id text, OUT address text, OUT zone text,
    OUT status text, OUT replica boolean, OUT partition int)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION dynamo_hints(server text,
    OUT node_id text, OUT target text, OUT pending bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION dynamo_stats(server text,
    OUT node_id text, OUT operation text, OUT requests bigint,
    OUT p50_ms float8, OUT p99_ms float8)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

-- Administration that changes the cluster: the user mapping's key needs
-- role admin on the nodes, and only superusers may call these unless they
-- grant EXECUTE.  Not STRICT: a NULL argument is an error, not no rows.
CREATE FUNCTION dynamo_repair(server text,
    OUT node text, OUT partitions int, OUT exchanges int, OUT failed int,
    OUT keys_compared bigint, OUT keys_sent bigint, OUT keys_received bigint,
    OUT bytes_sent bigint, OUT bytes_received bigint,
    OUT tombstones_reaped bigint, OUT ms bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION dynamo_remove_node(server text, id text,
    OUT node text, OUT partitions int, OUT ms bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

REVOKE ALL ON FUNCTION dynamo_repair(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION dynamo_remove_node(text, text) FROM PUBLIC;

-- Merge functions for the table option merge_function (a read of a key with
-- siblings returns one row, the function's result).  vals are the live
-- versions, vclocks describe them: {"clock": {...}, "dot": "n1", "ts_ms": ...}.

-- The union of JSON arrays, the paper's shopping cart: versions that are all
-- arrays merge into the sorted set of their elements; versions that are all
-- objects merge field by field (arrays by union, equal values kept).  Any
-- other disagreement returns NULL, which keeps the siblings.  A union cannot
-- tell a removed element from one never added: removals can come back.
CREATE FUNCTION dynamo_merge_union(vals jsonb[], vclocks jsonb[])
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
  kinds text[];
  field text;
  merged jsonb := '{}';
BEGIN
  SELECT array_agg(DISTINCT jsonb_typeof(v)) INTO kinds FROM unnest(vals) AS v;
  IF kinds = ARRAY['array'] THEN
    RETURN (SELECT coalesce(jsonb_agg(DISTINCT e ORDER BY e), '[]')
              FROM unnest(vals) AS v, jsonb_array_elements(v) AS e);
  END IF;
  IF kinds IS DISTINCT FROM ARRAY['object'] THEN
    RETURN NULL;
  END IF;
  FOR field IN SELECT DISTINCT jsonb_object_keys(v) FROM unnest(vals) AS v ORDER BY 1 LOOP
    IF (SELECT bool_and(jsonb_typeof(v -> field) = 'array') FROM unnest(vals) AS v WHERE v ? field) THEN
      merged := merged || jsonb_build_object(field,
        (SELECT coalesce(jsonb_agg(DISTINCT e ORDER BY e), '[]')
           FROM unnest(vals) AS v, jsonb_array_elements(v -> field) AS e WHERE v ? field));
    ELSIF (SELECT count(DISTINCT v -> field) FROM unnest(vals) AS v WHERE v ? field) = 1 THEN
      merged := merged || jsonb_build_object(field,
        (SELECT v -> field FROM unnest(vals) AS v WHERE v ? field LIMIT 1));
    ELSE
      RETURN NULL;
    END IF;
  END LOOP;
  RETURN merged;
END
$$;

-- Last writer wins: the version whose own event (its dot) is the latest by
-- the coordinators' wall clocks (ties: the larger node id, then counter).
-- The other versions are lost, and clocks of different nodes are not in
-- step: choose it only where losing a concurrent write is acceptable.
CREATE FUNCTION dynamo_merge_latest(vals anyarray, vclocks jsonb[])
RETURNS anyelement
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT v FROM unnest(vals, vclocks) AS s(v, c)
   ORDER BY (c ->> 'ts_ms')::numeric DESC, c ->> 'dot' DESC NULLS FIRST,
            (c -> 'clock' ->> (c ->> 'dot'))::numeric DESC NULLS FIRST
   LIMIT 1
$$;

-- Close every connection of this backend (postgres_fdw's
-- postgres_fdw_disconnect_all).
CREATE FUNCTION dynamo_fdw_disconnect_all()
RETURNS boolean
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT PARALLEL RESTRICTED;
