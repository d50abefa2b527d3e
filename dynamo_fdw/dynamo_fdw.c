/*-------------------------------------------------------------------------
 *
 * dynamo_fdw.c
 *		  The entry points of the dynamo_fdw extension.
 *
 * This version of the extension loads and links libdynamo, so that the
 * placement of keys on the ring (dynamo_key_partition) is computed by the
 * same code as in the nodes.  Foreign tables themselves -- quorum reads and
 * writes planned from SQL -- are not in this version: the handler says so
 * with a clear error instead of pretending, and the validator accepts no
 * options yet.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/reloptions.h"
#include "nodes/parsenodes.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "dynamo/ring.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(dynamo_fdw_handler);
PG_FUNCTION_INFO_V1(dynamo_fdw_validator);
PG_FUNCTION_INFO_V1(dynamo_key_partition);

/*
 * The FDW handler.  Foreign scans and modifications are not part of this
 * version, so any use of a dynamo_fdw foreign table stops here.
 */
Datum
dynamo_fdw_handler(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("dynamo_fdw foreign tables are not supported by this version of the extension"),
			 errhint("Use dynamo-cli to read and write keys for now.")));
	PG_RETURN_NULL();
}

/*
 * Validate the options of a dynamo_fdw server, user mapping, table or
 * column.  No option exists yet, so any option is rejected by name.
 */
Datum
dynamo_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));

	if (options != NIL)
	{
		DefElem    *def = linitial_node(DefElem, options);

		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\"", def->defname),
				 errhint("This version of dynamo_fdw has no options.")));
	}
	PG_RETURN_VOID();
}

/*
 * dynamo_key_partition(bucket, key, partitions): the partition of the ring
 * that bucket/key falls in, for a cluster of the given partition count.
 */
Datum
dynamo_key_partition(PG_FUNCTION_ARGS)
{
	text	   *bucket = PG_GETARG_TEXT_PP(0);
	text	   *key = PG_GETARG_TEXT_PP(1);
	int32		q = PG_GETARG_INT32(2);
	dyn_slice	b;
	dyn_slice	k;

	if (q < 1 || !dyn_partitions_valid((uint32) q))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("partition count %d is not valid", q),
				 errdetail("A cluster has a power of two partitions, from 1 to %d.",
						   DYN_PARTITIONS_MAX)));
	b.ptr = (const uint8_t *) VARDATA_ANY(bucket);
	b.len = VARSIZE_ANY_EXHDR(bucket);
	k.ptr = (const uint8_t *) VARDATA_ANY(key);
	k.len = VARSIZE_ANY_EXHDR(key);
	PG_RETURN_INT32((int32) dyn_partition_of(dyn_key_position(b, k), (uint32) q));
}
