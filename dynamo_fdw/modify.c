/*-------------------------------------------------------------------------
 *
 * modify.c
 *		  INSERT, COPY FROM, UPDATE and DELETE on dynamo_fdw foreign tables,
 *		  as quorum PUTs and DELETEs.
 *
 * INSERT and COPY write each row with a PUT: a blind write, unless the row
 * gives a context, which the write then supersedes.  Rows are sent in
 * batches of batch_size, pipelined (ExecForeignBatchInsert), and each
 * batch waits for all its replies.
 *
 * UPDATE and DELETE carry the key and the context the scan read as junk
 * columns (the table must have a context column) and write with that
 * context, so they supersede exactly the siblings that were read.  A key
 * can come by once per sibling in one statement; after the first write of
 * a key the later rows of it write with the context that write returned
 * (and a row whose new value is the one just written is not written
 * again), so an UPDATE over a key's siblings leaves one version, and a
 * DELETE writes one tombstone.  In the row format an UPDATE carries the
 * scan's row id too (its ctid), by which it finds the bytes the row was
 * read from (DynOldValueFind), and merges the new columns into them so
 * that the fields no column names are kept (DynValueFromSlotMerging).
 *
 * Dynamo has no transactions: a write is done when its quorum answers, and
 * an error later in the statement does not undo it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/inherit.h"
#include "optimizer/pathnode.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "dynamo_fdw.h"
#include "dynamo/vclock.h"
#include "dynamo/wire.h"

/* Names of the junk columns UPDATE and DELETE carry from the scan. */
#define DYN_JUNK_KEY		"dynamo_key"
#define DYN_JUNK_CONTEXT	"dynamo_context"
#define DYN_JUNK_WHOLEROW	"dynamo_wholerow"
#define DYN_JUNK_ROWID		"dynamo_rowid"	/* row format UPDATE: the stored value's id */

/* fdw_private of a modify, by position */
enum DynModifyPrivate
{
	DynModifyPrivHasReturning	/* Integer */
};

/* A key in the statement's table of writes: its bytes. */
typedef struct WrittenKey
{
	char	   *ptr;
	size_t		len;
} WrittenKey;

/*
 * What this statement last wrote to a key: the clock that write returned
 * (the context the next write of the key uses), the value written, and
 * whether it was a delete.
 */
typedef struct WrittenEntry
{
	WrittenKey	key;
	char	   *context;
	size_t		contextlen;
	char	   *value;
	size_t		valuelen;
	bool		deleted;
} WrittenEntry;

/*
 * The state of one INSERT/UPDATE/DELETE (or COPY) on one foreign table:
 * the connection and W, how to find the junk columns, and the keys written
 * so far.
 */
typedef struct DynModifyState
{
	Relation	rel;
	DynTableOptions *opts;
	DynConn    *conn;
	DynConvert *cv;
	CmdType		op;
	int			w;
	DynQuorumSource w_source;
	AttrNumber	junk_key;
	AttrNumber	junk_context;
	AttrNumber	junk_wholerow;
	AttrNumber	junk_rowid;
	bool		has_returning;
	MemoryContext temp_cxt;
	MemoryContext query_cxt;	/* holds the written-keys table and its entries */
	HTAB	   *written;
	uint64		writes;			/* PUTs and DELETEs sent, for EXPLAIN ANALYZE */
	uint64		skipped;		/* rows whose write was already done */
} DynModifyState;

/* One row's write: key, value and context bytes, and its request. */
typedef struct PendingWrite
{
	StringInfoData key;
	StringInfoData value;
	StringInfoData context;
	DynRequest	req;
} PendingWrite;

static DynModifyState *modify_begin(ModifyTableState *mtstate, ResultRelInfo *rinfo,
									CmdType op, bool has_returning, Plan *subplan,
									int eflags);
static void row_key(DynModifyState *fm, TupleTableSlot *slot, StringInfo key);
static void row_context(DynModifyState *fm, TupleTableSlot *slot, StringInfo ctx);
static void context_from_text(DynModifyState *fm, text *t, StringInfo ctx,
							  const char *what);
static void write_send(DynModifyState *fm, PendingWrite *pw, bool is_delete);
static dyn_slice write_finish(DynModifyState *fm, PendingWrite *pw, bool is_delete);
static void store_returning(DynModifyState *fm, TupleTableSlot *slot, dyn_slice written);
static uint32 written_hash(const void *key, Size keysize);
static int	written_match(const void *a, const void *b, Size keysize);
static WrittenEntry *written_find(DynModifyState *fm, StringInfo key, bool create);

/*
 * AddForeignUpdateTargets: UPDATE and DELETE need the key and the context
 * of each row they change (and DELETE RETURNING the whole old row, which
 * the core only asks for UPDATE).
 */
void
dynamoAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
							  RangeTblEntry *target_rte, Relation target_relation)
{
	ForeignTable *table = GetForeignTable(RelationGetRelid(target_relation));
	DynTableOptions *opts = DynGetTableOptions(target_relation,
											   GetForeignServer(table->serverid));
	TupleDesc	tupdesc = RelationGetDescr(target_relation);
	AttrNumber	k = opts->attno[DYNCOL_KEY];
	AttrNumber	c = opts->attno[DYNCOL_CONTEXT];
	Form_pg_attribute ka;
	Form_pg_attribute ca;

	if (c == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("UPDATE and DELETE on foreign table \"%s\" need a context column",
						opts->relname),
				 errdetail("They write back with the context the rows were read with, so that the write supersedes exactly the versions that were read."),
				 errhint("ALTER FOREIGN TABLE %s ADD COLUMN context text",
						 quote_identifier(opts->relname))));
	ka = TupleDescAttr(tupdesc, k - 1);
	ca = TupleDescAttr(tupdesc, c - 1);
	add_row_identity_var(root, makeVar(rtindex, k, ka->atttypid, ka->atttypmod,
									   ka->attcollation, 0),
						 rtindex, DYN_JUNK_KEY);
	add_row_identity_var(root, makeVar(rtindex, c, ca->atttypid, ca->atttypmod,
									   ca->attcollation, 0),
						 rtindex, DYN_JUNK_CONTEXT);
	if (root->parse->commandType == CMD_DELETE && root->parse->returningList != NIL)
		add_row_identity_var(root, makeWholeRowVar(target_rte, rtindex, 0, false),
							 rtindex, DYN_JUNK_WHOLEROW);
	/* the row format's UPDATE merges into the stored value: the scan's row id */
	if (root->parse->commandType == CMD_UPDATE && opts->format == DYN_FORMAT_ROW)
		add_row_identity_var(root, makeVar(rtindex, SelfItemPointerAttributeNumber, TIDOID,
										   -1, InvalidOid, 0),
							 rtindex, DYN_JUNK_ROWID);
}

/*
 * PlanForeignModify: refuse assignments to the columns the cluster owns
 * (the key names the object; vclock, siblings and context are read).
 */
List *
dynamoPlanForeignModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
						int subplan_index)
{
	bool		has_returning = plan->returningLists != NIL &&
		list_nth(plan->returningLists, subplan_index) != NIL;

	if (plan->operation == CMD_UPDATE)
	{
		RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
		Relation	rel = table_open(rte->relid, NoLock);
		ForeignTable *table = GetForeignTable(rte->relid);
		DynTableOptions *opts = DynGetTableOptions(rel, GetForeignServer(table->serverid));
		RelOptInfo *baserel = find_base_rel(root, resultRelation);
		Bitmapset  *cols = get_rel_all_updated_cols(root, baserel);
		int			col = -1;

		while ((col = bms_next_member(cols, col)) >= 0)
		{
			AttrNumber	attno = col + FirstLowInvalidHeapAttributeNumber;
			DynColumnRole role;

			if (attno <= 0)
				continue;
			role = opts->roles[attno - 1];
			if (role == DYNCOL_KEY)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot update column \"%s\" of foreign table \"%s\"",
								NameStr(TupleDescAttr(RelationGetDescr(rel), attno - 1)->attname),
								opts->relname),
						 errdetail("The key names the object; INSERT the new key and DELETE the old one.")));
			if (role == DYNCOL_VCLOCK || role == DYNCOL_SIBLINGS || role == DYNCOL_CONTEXT)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot update column \"%s\" of foreign table \"%s\"",
								NameStr(TupleDescAttr(RelationGetDescr(rel), attno - 1)->attname),
								opts->relname),
						 errdetail("Column role %s is read from the cluster; an UPDATE writes with the context it read.",
								   DynColumnRoleName(role))));
		}
		table_close(rel, NoLock);
	}
	return list_make1(makeInteger(has_returning ? 1 : 0));
}

/* The user the remote access is done as (what ExecCheckRTEPerms checks). */
static Oid
modify_user(ResultRelInfo *rinfo, EState *estate)
{
	ResultRelInfo *r = rinfo->ri_RangeTableIndex == 0 && rinfo->ri_RootResultRelInfo
		? rinfo->ri_RootResultRelInfo : rinfo;

	if (r->ri_RangeTableIndex > 0)
	{
		RangeTblEntry *rte = exec_rt_fetch(r->ri_RangeTableIndex, estate);

		if (OidIsValid(rte->checkAsUser))
			return rte->checkAsUser;
	}
	return GetUserId();
}

/* Set up a modify (also for EXPLAIN, which shows W and N from it). */
static DynModifyState *
modify_begin(ModifyTableState *mtstate, ResultRelInfo *rinfo, CmdType op,
			 bool has_returning, Plan *subplan, int eflags)
{
	EState	   *estate = mtstate->ps.state;
	DynModifyState *fm = palloc0(sizeof(DynModifyState));
	ForeignTable *table;
	ForeignServer *server;
	HASHCTL		ctl;

	fm->rel = rinfo->ri_RelationDesc;
	fm->op = op;
	fm->has_returning = has_returning;
	table = GetForeignTable(RelationGetRelid(fm->rel));
	server = GetForeignServer(table->serverid);
	fm->opts = DynGetTableOptions(fm->rel, server);
	fm->conn = DynGetConnection(server,
								GetUserMapping(modify_user(rinfo, estate), server->serverid));
	fm->w = DynResolveQuorum(true, fm->opts, DynConnOptions(fm->conn), &fm->w_source);
	if (!(eflags & EXEC_FLAG_EXPLAIN_ONLY))
		DynForgetKeyCount(fm->conn);	/* the counts are about to change */
	fm->cv = DynConvertCreate(fm->rel, fm->opts, NULL);
	fm->temp_cxt = AllocSetContextCreate(estate->es_query_cxt, "dynamo_fdw modify",
										 ALLOCSET_DEFAULT_SIZES);
	fm->query_cxt = estate->es_query_cxt;
	if (op == CMD_UPDATE || op == CMD_DELETE)
	{
		fm->junk_key = ExecFindJunkAttributeInTlist(subplan->targetlist, DYN_JUNK_KEY);
		fm->junk_context = ExecFindJunkAttributeInTlist(subplan->targetlist, DYN_JUNK_CONTEXT);
		fm->junk_wholerow = ExecFindJunkAttributeInTlist(subplan->targetlist,
														 DYN_JUNK_WHOLEROW);
		fm->junk_rowid = ExecFindJunkAttributeInTlist(subplan->targetlist, DYN_JUNK_ROWID);
		if (!AttributeNumberIsValid(fm->junk_key) ||
			!AttributeNumberIsValid(fm->junk_context))
			elog(ERROR, "dynamo_fdw: could not find the junk key and context columns");
		ctl.keysize = sizeof(WrittenKey);
		ctl.entrysize = sizeof(WrittenEntry);
		ctl.hash = written_hash;
		ctl.match = written_match;
		ctl.hcxt = estate->es_query_cxt;
		fm->written = hash_create("dynamo_fdw written keys", 64, &ctl,
								  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	}
	return fm;
}

/* BeginForeignModify: INSERT, UPDATE or DELETE through a ModifyTable. */
void
dynamoBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						 List *fdw_private, int subplan_index, int eflags)
{
	bool		has_returning = intVal(list_nth(fdw_private, DynModifyPrivHasReturning)) != 0;
	Plan	   *subplan = outerPlanState(mtstate)->plan;

	rinfo->ri_FdwState = modify_begin(mtstate, rinfo, mtstate->operation, has_returning,
									  subplan, eflags);
}

/* BeginForeignInsert: COPY FROM, and rows routed to a foreign partition. */
void
dynamoBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	rinfo->ri_FdwState = modify_begin(mtstate, rinfo, CMD_INSERT,
									  rinfo->ri_returningList != NIL, NULL, 0);
}

/* The key bytes of a row to insert; a null or impossible key is refused. */
static void
row_key(DynModifyState *fm, TupleTableSlot *slot, StringInfo key)
{
	AttrNumber	a = fm->opts->attno[DYNCOL_KEY];
	bool		isnull;
	Datum		d = slot_getattr(slot, a, &isnull);
	Form_pg_attribute att = TupleDescAttr(fm->cv->tupdesc, a - 1);

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("null value in column \"%s\" of foreign table \"%s\" cannot be a key",
						NameStr(att->attname), fm->opts->relname)));
	DynKeyFromDatum(att->atttypid, &fm->cv->out_funcs[a - 1], d, key);
	if (key->len == 0 || key->len > DYN_KEY_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("key of %d bytes cannot be stored in foreign table \"%s\"",
						key->len, fm->opts->relname),
				 errdetail("A key is 1 to %d bytes.", DYN_KEY_MAX)));
}

/* The binary context from its text form; an invalid token is refused. */
static void
context_from_text(DynModifyState *fm, text *t, StringInfo ctx, const char *what)
{
	char	   *s = text_to_cstring(t);
	dyn_buf		b;

	resetStringInfo(ctx);
	dyn_buf_init(&b);
	if (dyn_context_from_text(s, &b) != DYN_OK)
	{
		dyn_buf_free(&b);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid context \"%s\" for %s foreign table \"%s\"",
						s, what, fm->opts->relname),
				 errhint("Give back a context read from the table (its context column), or NULL for a blind write.")));
	}
	appendBinaryStringInfo(ctx, (const char *) b.data, (int) b.len);
	dyn_buf_free(&b);
}

/* An INSERTed row's context column (optional), as binary. */
static void
row_context(DynModifyState *fm, TupleTableSlot *slot, StringInfo ctx)
{
	AttrNumber	a = fm->opts->attno[DYNCOL_CONTEXT];
	bool		isnull = true;
	Datum		d = (Datum) 0;

	resetStringInfo(ctx);
	if (a != 0)
		d = slot_getattr(slot, a, &isnull);
	if (!isnull)
		context_from_text(fm, DatumGetTextPP(d), ctx, "a row of");
}

/* Send one write (PUT, or DELETE) to the node routing picks for its key. */
static void
write_send(DynModifyState *fm, PendingWrite *pw, bool is_delete)
{
	dyn_put_req put;
	dyn_slice	key = {(const uint8_t *) pw->key.data, pw->key.len};

	put.bucket = dyn_slice_str(fm->opts->bucket);
	put.key = key;
	put.context = (dyn_slice) {(const uint8_t *) pw->context.data, pw->context.len};
	put.value = is_delete ? (dyn_slice) {NULL, 0}
		: (dyn_slice) {(const uint8_t *) pw->value.data, pw->value.len};
	put.w = (uint8) fm->w;
	if (put.value.len > DYN_VALUE_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("value of %zu bytes for key \"%s\" is too big for foreign table \"%s\"",
						put.value.len, pw->key.data, fm->opts->relname),
				 errdetail("A value is at most %u bytes.", (unsigned) DYN_VALUE_MAX)));
	DynInitRequest(&pw->req, CurrentMemoryContext);
	fm->writes++;
	DynSendPut(fm->conn, DynNodeForKey(fm->conn, fm->opts->bucket, key), &pw->req, &put,
			   is_delete);
}

/* Wait for a write's reply; the clock it returns (the new context). */
static dyn_slice
write_finish(DynModifyState *fm, PendingWrite *pw, bool is_delete)
{
	dyn_slice	written;

	DynAwait(fm->conn, &pw->req);
	if (pw->req.failed ||
		pw->req.reply_type != (is_delete ? DYN_MSG_DELETE_REPLY : DYN_MSG_PUT_REPLY))
		DynReportFailure(fm->conn, &pw->req, is_delete ? "delete" : "put", fm->opts->bucket,
						 (dyn_slice) {(const uint8_t *) pw->key.data, pw->key.len});
	if (dyn_put_reply_decode((dyn_slice) {pw->req.body, pw->req.len}, &written) != DYN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("node %s sent a malformed reply to the %s of key \"%s\"",
						DynNodeAddress(fm->conn, pw->req.node),
						is_delete ? "delete" : "put", pw->key.data)));
	return written;
}

/*
 * Replace slot's contents for RETURNING: the row as written, with the
 * context and vclock of the version just written (written.len 0: leave
 * them) and siblings unknown (NULL: other siblings may exist).
 */
static void
store_returning(DynModifyState *fm, TupleTableSlot *slot, dyn_slice written)
{
	TupleDesc	tupdesc = fm->cv->tupdesc;
	Datum	   *values = palloc(sizeof(Datum) * Max(tupdesc->natts, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(tupdesc->natts, 1));
	AttrNumber	a;
	HeapTuple	tup;

	slot_getallattrs(slot);
	memcpy(values, slot->tts_values, sizeof(Datum) * tupdesc->natts);
	memcpy(nulls, slot->tts_isnull, sizeof(bool) * tupdesc->natts);
	if (written.len > 0)
	{
		dyn_vclock	vc;
		dyn_buf		text;

		if ((a = fm->opts->attno[DYNCOL_CONTEXT]) != 0)
		{
			dyn_buf_init(&text);
			dyn_context_to_text(written, &text);
			values[a - 1] = PointerGetDatum(cstring_to_text_with_len((const char *) text.data,
																	 (int) text.len));
			nulls[a - 1] = false;
			dyn_buf_free(&text);
		}
		if ((a = fm->opts->attno[DYNCOL_VCLOCK]) != 0 &&
			dyn_vclock_decode(written, &vc) == DYN_OK)
		{
			char	   *json = DynClockJson(&vc);
			Form_pg_attribute att = TupleDescAttr(tupdesc, a - 1);

			values[a - 1] = InputFunctionCall(&fm->cv->in_funcs[a - 1], json,
											  fm->cv->in_ioparams[a - 1], att->atttypmod);
			nulls[a - 1] = false;
		}
		if ((a = fm->opts->attno[DYNCOL_SIBLINGS]) != 0)
			nulls[a - 1] = true;
	}
	tup = heap_form_tuple(tupdesc, values, nulls);
	ExecForceStoreHeapTuple(tup, slot, true);
}

/* ExecForeignInsert: one row, one PUT. */
TupleTableSlot *
dynamoExecForeignInsert(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
						TupleTableSlot *planSlot)
{
	int			one = 1;

	return *dynamoExecForeignBatchInsert(estate, rinfo, &slot, &planSlot, &one);
}

/*
 * ExecForeignBatchInsert: PUT every row of the batch (pipelined, each to
 * its key's node), then wait for every reply.  The first failure is
 * raised; the other writes of the batch may be done by then.
 */
TupleTableSlot **
dynamoExecForeignBatchInsert(EState *estate, ResultRelInfo *rinfo, TupleTableSlot **slots,
							 TupleTableSlot **planSlots, int *numSlots)
{
	DynModifyState *fm = (DynModifyState *) rinfo->ri_FdwState;
	MemoryContext old = MemoryContextSwitchTo(fm->temp_cxt);
	PendingWrite *pw = palloc0(sizeof(PendingWrite) * Max(*numSlots, 1));

	for (int i = 0; i < *numSlots; i++)
	{
		initStringInfo(&pw[i].key);
		initStringInfo(&pw[i].value);
		initStringInfo(&pw[i].context);
		row_key(fm, slots[i], &pw[i].key);
		DynValueFromSlot(fm->cv, slots[i], &pw[i].value);
		row_context(fm, slots[i], &pw[i].context);
		write_send(fm, &pw[i], false);
	}
	for (int i = 0; i < *numSlots; i++)
	{
		dyn_slice	written = write_finish(fm, &pw[i], false);

		if (fm->has_returning)
		{
			MemoryContextSwitchTo(old);
			store_returning(fm, slots[i], written);
			MemoryContextSwitchTo(fm->temp_cxt);
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(fm->temp_cxt);
	return slots;
}

/* GetForeignModifyBatchSize: batch_size, or 1 when RETURNING or row triggers need rows one by one. */
int
dynamoGetForeignModifyBatchSize(ResultRelInfo *rinfo)
{
	DynModifyState *fm = (DynModifyState *) rinfo->ri_FdwState;

	if (fm == NULL || rinfo->ri_projectReturning != NULL ||
		(rinfo->ri_TrigDesc &&
		 (rinfo->ri_TrigDesc->trig_insert_before_row ||
		  rinfo->ri_TrigDesc->trig_insert_after_row)))
		return 1;
	return fm->opts->batch_size;
}

/* Hash and compare keys of the written-keys table (bytes, any length). */
static uint32
written_hash(const void *key, Size keysize)
{
	const WrittenKey *k = key;

	return hash_bytes((const unsigned char *) k->ptr, (int) k->len);
}

/* Byte equality of two keys (0 when equal, as dynahash wants). */
static int
written_match(const void *a, const void *b, Size keysize)
{
	const WrittenKey *x = a;
	const WrittenKey *y = b;

	return x->len == y->len && memcmp(x->ptr, y->ptr, x->len) == 0 ? 0 : 1;
}

/*
 * This statement's last write of key, or NULL; with create, a new entry
 * whose key bytes are copied into the query context (the table stores the
 * key struct, pointer included, as it is given).
 */
static WrittenEntry *
written_find(DynModifyState *fm, StringInfo key, bool create)
{
	WrittenKey	k = {key->data, (size_t) key->len};
	WrittenEntry *e = hash_search(fm->written, &k, HASH_FIND, NULL);

	if (e == NULL && create)
	{
		k.ptr = MemoryContextAlloc(fm->query_cxt, Max(k.len, 1));
		memcpy(k.ptr, key->data, k.len);
		e = hash_search(fm->written, &k, HASH_ENTER, NULL);
		e->context = NULL;
		e->contextlen = 0;
		e->value = NULL;
		e->valuelen = 0;
		e->deleted = false;
	}
	return e;
}

/*
 * The junk key and context of an UPDATE/DELETE row: the key's bytes, and
 * the context to write with -- the one this statement's last write of the
 * key returned, else the one the scan read.
 */
static WrittenEntry *
junk_key_context(DynModifyState *fm, TupleTableSlot *planSlot, PendingWrite *pw)
{
	AttrNumber	a = fm->opts->attno[DYNCOL_KEY];
	Form_pg_attribute att = TupleDescAttr(fm->cv->tupdesc, a - 1);
	bool		isnull;
	Datum		d;
	WrittenEntry *e;

	initStringInfo(&pw->key);
	initStringInfo(&pw->value);
	initStringInfo(&pw->context);
	d = ExecGetJunkAttribute(planSlot, fm->junk_key, &isnull);
	if (isnull)
		elog(ERROR, "dynamo_fdw: junk key is null");
	DynKeyFromDatum(att->atttypid, &fm->cv->out_funcs[a - 1], d, &pw->key);
	e = written_find(fm, &pw->key, false);
	if (e != NULL)
		appendBinaryStringInfo(&pw->context, e->context, (int) e->contextlen);
	else
	{
		d = ExecGetJunkAttribute(planSlot, fm->junk_context, &isnull);
		if (!isnull)
			context_from_text(fm, DatumGetTextPP(d), &pw->context, "a row read from");
	}
	return e;
}

/* Remember the write just done to a key (for the statement's later rows). */
static void
written_remember(DynModifyState *fm, PendingWrite *pw, dyn_slice written, bool deleted)
{
	MemoryContext old = MemoryContextSwitchTo(fm->query_cxt);
	WrittenEntry *e = written_find(fm, &pw->key, true);

	if (e->context)
		pfree(e->context);
	if (e->value)
		pfree(e->value);
	e->context = palloc(Max(written.len, 1));
	memcpy(e->context, written.ptr, written.len);
	e->contextlen = written.len;
	e->value = palloc(Max(pw->value.len, 1));
	memcpy(e->value, pw->value.data, pw->value.len);
	e->valuelen = pw->value.len;
	e->deleted = deleted;
	MemoryContextSwitchTo(old);
}

/*
 * ExecForeignUpdate: PUT the new row with the read context (or the
 * context of this statement's last write of the key).
 */
TupleTableSlot *
dynamoExecForeignUpdate(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
						TupleTableSlot *planSlot)
{
	DynModifyState *fm = (DynModifyState *) rinfo->ri_FdwState;
	MemoryContext old = MemoryContextSwitchTo(fm->temp_cxt);
	PendingWrite pw;
	WrittenEntry *e = junk_key_context(fm, planSlot, &pw);
	dyn_slice	written;
	dyn_slice	old_value = {NULL, 0};

	if (AttributeNumberIsValid(fm->junk_rowid))
	{
		bool		isnull;
		Datum		d = ExecGetJunkAttribute(planSlot, fm->junk_rowid, &isnull);

		if (!isnull)
			old_value = DynOldValueFind(estate, RelationGetRelid(fm->rel),
										(ItemPointer) DatumGetPointer(d));
	}
	DynValueFromSlotMerging(fm->cv, slot, old_value, &pw.value);
	if (e != NULL && !e->deleted && e->valuelen == (size_t) pw.value.len &&
		memcmp(e->value, pw.value.data, e->valuelen) == 0)
	{
		/* another sibling of a key already written with this very value */
		written = (dyn_slice) {(const uint8_t *) e->context, e->contextlen};
		fm->skipped++;
	}
	else
	{
		write_send(fm, &pw, false);
		written = write_finish(fm, &pw, false);
		written_remember(fm, &pw, written, false);
		e = written_find(fm, &pw.key, false);
		written = (dyn_slice) {(const uint8_t *) e->context, e->contextlen};
	}
	MemoryContextSwitchTo(old);
	if (fm->has_returning)
		store_returning(fm, slot, written);
	MemoryContextReset(fm->temp_cxt);
	return slot;
}

/*
 * ExecForeignDelete: write a tombstone with the read context; later rows
 * of the same key (its other siblings) were covered by that context and
 * are not written again.
 */
TupleTableSlot *
dynamoExecForeignDelete(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
						TupleTableSlot *planSlot)
{
	DynModifyState *fm = (DynModifyState *) rinfo->ri_FdwState;
	MemoryContext old = MemoryContextSwitchTo(fm->temp_cxt);
	PendingWrite pw;
	WrittenEntry *e = junk_key_context(fm, planSlot, &pw);

	if (e != NULL && e->deleted)
		fm->skipped++;
	else
	{
		dyn_slice	written;

		write_send(fm, &pw, true);
		written = write_finish(fm, &pw, true);
		written_remember(fm, &pw, written, true);
	}
	MemoryContextSwitchTo(old);
	if (fm->has_returning && AttributeNumberIsValid(fm->junk_wholerow))
	{
		bool		isnull;
		Datum		d = ExecGetJunkAttribute(planSlot, fm->junk_wholerow, &isnull);

		if (!isnull)
		{
			HeapTupleHeader td = DatumGetHeapTupleHeader(d);
			HeapTupleData tup;

			tup.t_len = HeapTupleHeaderGetDatumLength(td);
			ItemPointerSetInvalid(&tup.t_self);
			tup.t_tableOid = RelationGetRelid(fm->rel);
			tup.t_data = td;
			ExecForceStoreHeapTuple(heap_copytuple(&tup), slot, true);
		}
	}
	MemoryContextReset(fm->temp_cxt);
	return slot;
}

/* EndForeignModify / EndForeignInsert: release the connection. */
void
dynamoEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	DynModifyState *fm = (DynModifyState *) rinfo->ri_FdwState;

	if (fm == NULL)
		return;
	DynReleaseConnection(fm->conn);
	fm->conn = NULL;
}

/* EndForeignInsert: as EndForeignModify. */
void
dynamoEndForeignInsert(EState *estate, ResultRelInfo *rinfo)
{
	dynamoEndForeignModify(estate, rinfo);
}

/* IsForeignRelUpdatable: INSERT, UPDATE and DELETE all work. */
int
dynamoIsForeignRelUpdatable(Relation rel)
{
	return (1 << CMD_INSERT) | (1 << CMD_UPDATE) | (1 << CMD_DELETE);
}

/*
 * ExplainForeignModify: the Dynamo operation, W (and where it comes from)
 * and N, the batch size of inserts; ANALYZE the writes sent and those a
 * sibling's earlier write made unnecessary.
 */
void
dynamoExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						   List *fdw_private, int subplan_index, ExplainState *es)
{
	DynModifyState *fm = (DynModifyState *) rinfo->ri_FdwState;
	const DynClusterInfo *info;

	if (fm == NULL)
		return;
	info = DynGetClusterInfo(fm->conn, false);
	ExplainPropertyText("Dynamo Operation",
						fm->op == CMD_DELETE ? "quorum DELETE" : "quorum PUT", es);
	ExplainPropertyInteger("W", NULL, fm->w > 0 ? fm->w : info->default_w, es);
	ExplainPropertyText("W From", DynQuorumSourceName(fm->w_source, true), es);
	ExplainPropertyInteger("N", NULL, info->n, es);
	if (fm->op == CMD_INSERT)
		ExplainPropertyInteger("Batch Size", NULL, rinfo->ri_BatchSize, es);
	if (es->verbose)
		ExplainPropertyText("Bucket", fm->opts->bucket, es);
	if (es->analyze)
	{
		ExplainPropertyUInteger("Writes", NULL, fm->writes, es);
		if (fm->op != CMD_INSERT)
			ExplainPropertyUInteger("Writes Skipped", NULL, fm->skipped, es);
	}
}
