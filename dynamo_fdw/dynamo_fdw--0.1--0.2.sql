/* dynamo_fdw/dynamo_fdw--0.1--0.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION dynamo_fdw UPDATE TO '0.2'" to load this file. \quit

-- dynamo_merge_union in C (merge_union.c): the same results as 0.1's
-- plpgsql function, at a fraction of its cost per merged key.  Not STRICT:
-- NULL clocks still merge, as they did.
CREATE OR REPLACE FUNCTION dynamo_merge_union(vals jsonb[], vclocks jsonb[])
RETURNS jsonb
AS 'MODULE_PATHNAME', 'dynamo_merge_union'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
