/*-------------------------------------------------------------------------
 *
 * dynamo_fdw.c
 *		  The entry points of the dynamo_fdw extension: the FDW handler that
 *		  hands the planner and executor their callbacks, the module's
 *		  initialisation (GUCs, the connection cache), and
 *		  dynamo_key_partition.
 *
 * The callbacks themselves live with their concept: planning in plan.c,
 * scanning, EXPLAIN and ANALYZE in scan.c, writes in modify.c; options in
 * option.c, the connections in connection.c (see dynamo_fdw.h for the
 * whole map).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "foreign/fdwapi.h"
#include "utils/builtins.h"

#include "dynamo_fdw.h"
#include "dynamo/ring.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(dynamo_fdw_handler);
PG_FUNCTION_INFO_V1(dynamo_key_partition);

void		_PG_init(void);

/* Module load: the GUCs, and the connection cache with its callbacks. */
void
_PG_init(void)
{
	DynInitBatch();				/* before DynDefineGUCs reserves the prefix */
	DynDefineGUCs();
	DynInitConnections();
	DynInitXact();
}

/* The FDW handler: the callbacks of dynamo_fdw foreign tables. */
Datum
dynamo_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = dynamoGetForeignRelSize;
	routine->GetForeignPaths = dynamoGetForeignPaths;
	routine->GetForeignPlan = dynamoGetForeignPlan;
	routine->GetForeignRowMarkType = dynamoGetForeignRowMarkType;
	routine->GetForeignUpperPaths = dynamoGetForeignUpperPaths;
	routine->BeginForeignScan = dynamoBeginForeignScan;
	routine->IterateForeignScan = dynamoIterateForeignScan;
	routine->ReScanForeignScan = dynamoReScanForeignScan;
	routine->EndForeignScan = dynamoEndForeignScan;
	routine->ExplainForeignScan = dynamoExplainForeignScan;
	routine->AnalyzeForeignTable = dynamoAnalyzeForeignTable;
	routine->IsForeignPathAsyncCapable = dynamoIsForeignPathAsyncCapable;
	routine->ForeignAsyncRequest = dynamoForeignAsyncRequest;
	routine->ForeignAsyncConfigureWait = dynamoForeignAsyncConfigureWait;
	routine->ForeignAsyncNotify = dynamoForeignAsyncNotify;

	routine->AddForeignUpdateTargets = dynamoAddForeignUpdateTargets;
	routine->PlanForeignModify = dynamoPlanForeignModify;
	routine->BeginForeignModify = dynamoBeginForeignModify;
	routine->ExecForeignInsert = dynamoExecForeignInsert;
	routine->ExecForeignBatchInsert = dynamoExecForeignBatchInsert;
	routine->GetForeignModifyBatchSize = dynamoGetForeignModifyBatchSize;
	routine->ExecForeignUpdate = dynamoExecForeignUpdate;
	routine->ExecForeignDelete = dynamoExecForeignDelete;
	routine->EndForeignModify = dynamoEndForeignModify;
	routine->BeginForeignInsert = dynamoBeginForeignInsert;
	routine->EndForeignInsert = dynamoEndForeignInsert;
	routine->IsForeignRelUpdatable = dynamoIsForeignRelUpdatable;
	routine->ExplainForeignModify = dynamoExplainForeignModify;
	routine->ExecForeignTruncate = dynamoExecForeignTruncate;
	routine->ImportForeignSchema = dynamoImportForeignSchema;

	PG_RETURN_POINTER(routine);
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
