/*-------------------------------------------------------------------------
 *
 * modify.c
 *		  INSERT, COPY FROM, UPDATE and DELETE on dynamo_fdw foreign tables,
 *		  as quorum PUTs and DELETEs.
 *
 * When.  With write_mode 'commit' (the default) every write is queued in
 * the backend for the transaction (xact.c) and sent when it commits, so
 * ROLLBACK, ROLLBACK TO SAVEPOINT, an error in the statement or a check
 * option violation write nothing, and later statements of the transaction
 * read what earlier ones wrote.  With 'immediate' each write is sent by the
 * statement that makes it, and is done when its quorum answers: a later
 * error does not undo it.
 *
 * INSERT and COPY write each row with a PUT.  A row that gives a context
 * supersedes what that context covers.  A row without one depends on
 * insert_mode: 'sibling' is a blind write kept beside what the key holds
 * (Dynamo's own semantics); 'error' (the default) and 'replace' first read
 * the keys of the batch (one pipelined multi-key GET, seeing the
 * transaction's own queued writes) and then either refuse a key that holds
 * a live version with unique_violation, as a primary key would, or write
 * with the context read, superseding everything the key holds.  ON
 * CONFLICT DO NOTHING reads the same way and skips those keys (the row
 * count says how many were inserted).  The read and the write are not one
 * atomic step: two sessions inserting one key at the same moment make two
 * siblings, never a lost write.  Rows go in batches of batch_size
 * (ExecForeignBatchInsert).
 *
 * UPDATE and DELETE carry the key and the context the scan read as junk
 * columns (the table must have a context column) and write with that
 * context, so they supersede exactly the siblings that were read.  A key
 * can come by once per sibling in one statement; all its rows write once:
 * queued writes of one command collapse (xact.c), and in 'immediate' mode
 * the later rows of a key write with the context the statement's last
 * write of it returned (a row whose new value is the one just written is
 * not written again), so an UPDATE over a key's siblings leaves one
 * version, and a DELETE writes one tombstone.  In the row format an UPDATE carries the
 * scan's row id too (its ctid), by which it finds the bytes the row was
 * read from (DynOldValueFind), and merges the new columns into them so
 * that the fields no column names are kept (DynValueFromSlotMerging).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
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
	DynModifyPrivHasReturning,	/* Integer */
	DynModifyPrivOnConflict		/* Integer: the OnConflictAction */
};

/* A key in the statement's table of writes: its bytes. */
typedef DynBytesKey WrittenKey;

/* One row's write: key, value and context bytes, and its request. */
typedef struct PendingWrite
{
	StringInfoData key;
	StringInfoData value;
	StringInfoData context;
	DynRequest	req;
	bool		deleted;		/* in flight: a DELETE */
	bool		finished;		/* in flight: its reply was taken */
} PendingWrite;

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
	PendingWrite *inflight;		/* the key's write not yet acknowledged, or NULL */
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
	DynWriteMode write_mode;
	bool		skip_existing;	/* ON CONFLICT DO NOTHING */
	int			r;				/* of the reads insert_mode and ON CONFLICT need */
	TupleTableSlot **inserted;	/* the rows of a batch that were inserted */
	int		   *rows;			/* their indexes in the batch */
	PendingWrite *gather;		/* COPY's rows not yet written (NULL: none gathered) */
	int			ngather;
	MemoryContext gather_cxt;
	PendingWrite **flight;		/* immediate UPDATE/DELETE writes in flight, oldest first */
	int			nflight;
	int			flight_done;	/* flight[0 .. flight_done) have been awaited */
	MemoryContext flight_cxt;
	MemoryContext temp_cxt;
	MemoryContext query_cxt;	/* holds the written-keys table and its entries */
	HTAB	   *written;
	uint64		writes;			/* PUTs and DELETEs sent, for EXPLAIN ANALYZE */
	uint64		skipped;		/* rows whose write was already done */
	uint64		conflicts;		/* rows ON CONFLICT DO NOTHING skipped */
	uint64		checks;			/* keys read before inserting */
} DynModifyState;

static DynModifyState *modify_begin(ModifyTableState *mtstate, ResultRelInfo *rinfo,
									CmdType op, bool has_returning,
									OnConflictAction on_conflict, Plan *subplan,
									int eflags);
static HTAB *insert_read_keys(DynModifyState *fm, PendingWrite *pw, int n);
static int	insert_rows(DynModifyState *fm, PendingWrite *pw, int nrows, dyn_slice *written);
static void insert_flush_gathered(DynModifyState *fm);
static void flight_send(DynModifyState *fm, PendingWrite *pw, bool is_delete);
static void flight_finish(DynModifyState *fm, PendingWrite *p);
static void flight_drain(DynModifyState *fm);
static void row_to_write(DynModifyState *fm, TupleTableSlot *slot, PendingWrite *pw);
static bool insert_key_exists(DynModifyState *fm, HTAB *states, PendingWrite *pw);
static HTAB *batch_keys_create(int nrows);
static int	batch_key_row(HTAB *keys, StringInfo key, int i);
static void write_check_size(DynModifyState *fm, PendingWrite *pw, bool is_delete);
static void written_remember(DynModifyState *fm, PendingWrite *pw, dyn_slice written,
							 bool deleted);
static bool modify_write(DynModifyState *fm, PendingWrite *pw, bool is_delete,
						 dyn_slice *written);
static void row_key(DynModifyState *fm, TupleTableSlot *slot, StringInfo key);
static void row_context(DynModifyState *fm, TupleTableSlot *slot, StringInfo ctx);
static void context_from_text(DynModifyState *fm, text *t, StringInfo ctx,
							  const char *what);
static void write_send(DynModifyState *fm, PendingWrite *pw, bool is_delete);
static dyn_slice write_finish(DynModifyState *fm, PendingWrite *pw, bool is_delete);
static void store_returning(DynModifyState *fm, TupleTableSlot *slot, dyn_slice written);
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

	if (plan->onConflictAction != ONCONFLICT_NONE &&
		plan->onConflictAction != ONCONFLICT_NOTHING)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ON CONFLICT DO UPDATE is not supported on dynamo_fdw foreign tables"),
				 errhint("Use ON CONFLICT DO NOTHING, or the table option insert_mode 'replace' for an upsert.")));
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
	return list_make2(makeInteger(has_returning ? 1 : 0),
					  makeInteger((int) plan->onConflictAction));
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
			 bool has_returning, OnConflictAction on_conflict, Plan *subplan, int eflags)
{
	EState	   *estate = mtstate->ps.state;
	DynModifyState *fm = palloc0(sizeof(DynModifyState));
	ForeignTable *table;
	ForeignServer *server;
	DynQuorumSource r_source;

	fm->rel = rinfo->ri_RelationDesc;
	fm->op = op;
	fm->has_returning = has_returning;
	table = GetForeignTable(RelationGetRelid(fm->rel));
	server = GetForeignServer(table->serverid);
	fm->opts = DynGetTableOptions(fm->rel, server);
	fm->conn = DynGetConnection(server,
								GetUserMapping(modify_user(rinfo, estate), server->serverid));
	fm->w = DynResolveQuorum(true, fm->opts, DynConnOptions(fm->conn), &fm->w_source);
	fm->r = DynResolveQuorum(false, fm->opts, DynConnOptions(fm->conn), &r_source);
	fm->write_mode = DynResolveWriteMode(fm->opts);
	fm->skip_existing = on_conflict == ONCONFLICT_NOTHING;
	fm->inserted = MemoryContextAlloc(estate->es_query_cxt,
									  sizeof(TupleTableSlot *) * Max(fm->opts->batch_size, 1));
	fm->rows = MemoryContextAlloc(estate->es_query_cxt,
								  sizeof(int) * Max(fm->opts->batch_size, 1));
	if ((op == CMD_UPDATE || op == CMD_DELETE) && fm->write_mode == DYN_WRITE_IMMEDIATE &&
		!has_returning)
	{
		fm->flight = MemoryContextAlloc(estate->es_query_cxt,
										sizeof(PendingWrite *) * Max(fm->opts->batch_size, 1));
		fm->flight_cxt = AllocSetContextCreate(estate->es_query_cxt, "dynamo_fdw writes in flight",
											   ALLOCSET_DEFAULT_SIZES);
	}
	if (!(eflags & EXEC_FLAG_EXPLAIN_ONLY))
		DynForgetKeyCount(fm->conn);	/* the counts are about to change */
	fm->cv = DynConvertCreate(fm->rel, fm->opts, NULL);
	fm->temp_cxt = AllocSetContextCreate(estate->es_query_cxt, "dynamo_fdw modify",
										 ALLOCSET_DEFAULT_SIZES);
	fm->query_cxt = estate->es_query_cxt;
	fm->written = DynBytesHashCreate("dynamo_fdw written keys", 64, sizeof(WrittenEntry),
									 estate->es_query_cxt);
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
	}
	return fm;
}

/* BeginForeignModify: INSERT, UPDATE or DELETE through a ModifyTable. */
void
dynamoBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						 List *fdw_private, int subplan_index, int eflags)
{
	bool		has_returning = intVal(list_nth(fdw_private, DynModifyPrivHasReturning)) != 0;
	OnConflictAction oc = (OnConflictAction) intVal(list_nth(fdw_private,
														   DynModifyPrivOnConflict));
	Plan	   *subplan = outerPlanState(mtstate)->plan;

	rinfo->ri_FdwState = modify_begin(mtstate, rinfo, mtstate->operation, has_returning,
									  oc, subplan, eflags);
}

/* BeginForeignInsert: COPY FROM, and rows routed to a foreign partition. */
void
dynamoBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	OnConflictAction oc = ONCONFLICT_NONE;
	DynModifyState *fm;

	/* a row routed to a foreign partition by INSERT ... ON CONFLICT */
	if (mtstate != NULL && mtstate->ps.plan != NULL &&
		IsA(mtstate->ps.plan, ModifyTable))
		oc = ((ModifyTable *) mtstate->ps.plan)->onConflictAction;
	if (oc != ONCONFLICT_NONE && oc != ONCONFLICT_NOTHING)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ON CONFLICT DO UPDATE is not supported on dynamo_fdw foreign tables")));
	fm = modify_begin(mtstate, rinfo, CMD_INSERT, rinfo->ri_returningList != NIL, oc,
					  NULL, 0);
	rinfo->ri_FdwState = fm;
	/* COPY (no plan) that needs nothing back: rows are gathered into batches */
	if ((mtstate == NULL || mtstate->ps.plan == NULL) && !fm->has_returning &&
		!fm->skip_existing && fm->opts->batch_size > 1 &&
		!(rinfo->ri_TrigDesc &&
		  (rinfo->ri_TrigDesc->trig_insert_before_row ||
		   rinfo->ri_TrigDesc->trig_insert_after_row)))
	{
		fm->gather_cxt = AllocSetContextCreate(fm->query_cxt, "dynamo_fdw copy rows",
											   ALLOCSET_DEFAULT_SIZES);
		fm->gather = MemoryContextAlloc(fm->query_cxt,
										sizeof(PendingWrite) * fm->opts->batch_size);
	}
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

/* A value the cluster would refuse is refused before anything is sent or queued. */
static void
write_check_size(DynModifyState *fm, PendingWrite *pw, bool is_delete)
{
	if (!is_delete && (size_t) pw->value.len > DYN_VALUE_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("value of %d bytes for key \"%s\" is too big for foreign table \"%s\"",
						pw->value.len,
						DynKeyForMessage((dyn_slice) {(const uint8_t *) pw->key.data, pw->key.len}),
						fm->opts->relname),
				 errdetail("A value is at most %u bytes.", (unsigned) DYN_VALUE_MAX)));
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
	write_check_size(fm, pw, is_delete);
	DynXactCheckImmediate(fm->conn, fm->opts->relname, fm->opts->bucket, key);
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
 * context and vclock of the version just written -- NULL when it is only
 * queued (written.len 0) -- and siblings unknown (NULL: other siblings may
 * exist).
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
	}
	else
	{
		if ((a = fm->opts->attno[DYNCOL_CONTEXT]) != 0)
			nulls[a - 1] = true;
		if ((a = fm->opts->attno[DYNCOL_VCLOCK]) != 0)
			nulls[a - 1] = true;
	}
	if ((a = fm->opts->attno[DYNCOL_SIBLINGS]) != 0)
		nulls[a - 1] = true;
	tup = heap_form_tuple(tupdesc, values, nulls);
	ExecForceStoreHeapTuple(tup, slot, true);
}

/*
 * ExecForeignInsert: one row.  COPY (PostgreSQL 15 calls it row by row)
 * and other single-row inserts that need nothing back -- no RETURNING, no
 * row triggers -- are gathered into batches of batch_size, written like
 * ExecForeignBatchInsert's and flushed by EndForeignInsert; the rest are
 * a batch of one.
 */
TupleTableSlot *
dynamoExecForeignInsert(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
						TupleTableSlot *planSlot)
{
	DynModifyState *fm = (DynModifyState *) rinfo->ri_FdwState;
	int			one = 1;
	TupleTableSlot **done;

	if (fm->gather != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fm->gather_cxt);

		row_to_write(fm, slot, &fm->gather[fm->ngather++]);
		MemoryContextSwitchTo(old);
		if (fm->ngather == fm->opts->batch_size)
			insert_flush_gathered(fm);
		return slot;
	}
	done = dynamoExecForeignBatchInsert(estate, rinfo, &slot, &planSlot, &one);
	return one == 1 ? done[0] : NULL;
}

/* Write the rows COPY gathered (see dynamoExecForeignInsert). */
static void
insert_flush_gathered(DynModifyState *fm)
{
	MemoryContext old = MemoryContextSwitchTo(fm->temp_cxt);

	(void) insert_rows(fm, fm->gather, fm->ngather, NULL);
	fm->ngather = 0;
	MemoryContextSwitchTo(old);
	MemoryContextReset(fm->temp_cxt);
	MemoryContextReset(fm->gather_cxt);
}

/* A row to insert as the bytes it is written with: key, value, context. */
static void
row_to_write(DynModifyState *fm, TupleTableSlot *slot, PendingWrite *pw)
{
	initStringInfo(&pw->key);
	initStringInfo(&pw->value);
	initStringInfo(&pw->context);
	row_key(fm, slot, &pw->key);
	DynValueFromSlot(fm->cv, slot, &pw->value);
	row_context(fm, slot, &pw->context);
}

/* What the cluster and the transaction hold of a key an INSERT is about to write. */
typedef struct KeyState
{
	WrittenKey	key;			/* hash key */
	int			live;			/* versions a reader of the transaction sees */
	char	   *context;		/* their context, binary */
	size_t		contextlen;
} KeyState;

/*
 * Read the keys of a batch of rows to insert (one pipelined multi-key GET,
 * R as for reads) and return a table of them: how many live versions the
 * transaction sees under each key and their context (the cluster's, with
 * the transaction's queued writes laid over it).
 */
static HTAB *
insert_read_keys(DynModifyState *fm, PendingWrite *pw, int n)
{
	HTAB	   *states;
	DynFetch   *f = DynFetchBeginKeys(fm->conn, fm->opts->bucket, fm->r,
									  fm->opts->fetch_size, CurrentMemoryContext);
	DynFetchItem *item;

	states = DynBytesHashCreate("dynamo_fdw insert keys", n, sizeof(KeyState),
								CurrentMemoryContext);
	DynFetchKeepDead(f);
	for (int i = 0; i < n; i++)
		if (pw[i].context.len == 0)
			DynFetchAddKey(f, pw[i].key.data, pw[i].key.len);
	fm->checks += DynFetchKeyCount(f);
	while (DynFetchNext(f, &item))
	{
		WrittenKey	k = {(char *) item->key.ptr, item->key.len};
		KeyState   *ks = hash_search(states, &k, HASH_ENTER, NULL);
		const DynQueued *v = fm->write_mode == DYN_WRITE_COMMIT
			? DynXactLookup(fm->conn, fm->opts->bucket, item->key, InvalidCommandId) : NULL;
		dyn_vclock	ctx;
		dyn_buf		enc;

		ks->key.ptr = pnstrdup(k.ptr, k.len);
		ks->live = DynXactVisible(&item->obj, v, &ctx);
		dyn_buf_init(&enc);
		dyn_vclock_encode(&ctx, &enc);
		if (enc.err)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		ks->context = palloc(Max(enc.len, 1));
		memcpy(ks->context, enc.data, enc.len);
		ks->contextlen = enc.len;
		dyn_buf_free(&enc);
	}
	DynFetchEnd(f);
	return states;
}

/*
 * Whether a row's key holds a live version (this statement's own earlier
 * rows included), setting the row's context to what the key holds, so that
 * the write supersedes it (insert_mode 'replace') or at least the
 * tombstones under it.
 */
static bool
insert_key_exists(DynModifyState *fm, HTAB *states, PendingWrite *pw)
{
	WrittenKey	k = {pw->key.data, (size_t) pw->key.len};
	KeyState   *ks = hash_search(states, &k, HASH_FIND, NULL);
	dyn_slice	key = {(const uint8_t *) pw->key.data, pw->key.len};

	if (fm->write_mode == DYN_WRITE_COMMIT)
	{
		const DynQueued *v = DynXactLookup(fm->conn, fm->opts->bucket, key, InvalidCommandId);

		/* written by this very statement (a key twice in one INSERT) */
		if (v != NULL && v->cid == GetCurrentCommandId(false) && !v->deleted)
			return true;
	}
	else
	{
		WrittenEntry *e = written_find(fm, &pw->key, false);

		if (e != NULL)
		{
			resetStringInfo(&pw->context);
			appendBinaryStringInfo(&pw->context, e->context, (int) e->contextlen);
			return !e->deleted;
		}
	}
	if (ks == NULL)
		return false;
	resetStringInfo(&pw->context);
	appendBinaryStringInfo(&pw->context, ks->context, (int) ks->contextlen);
	return ks->live > 0;
}

/*
 * Write one row (or queue it, in write_mode 'commit').  *written is the
 * clock the write returned (the context a later write of the key uses),
 * empty when it was queued.
 *
 * @return true when the queue already held a write of the key by this
 * command (the write replaced it)
 */
static bool
modify_write(DynModifyState *fm, PendingWrite *pw, bool is_delete, dyn_slice *written)
{
	dyn_slice	key = {(const uint8_t *) pw->key.data, pw->key.len};
	bool		replaced;

	if (fm->write_mode == DYN_WRITE_IMMEDIATE)
	{
		write_send(fm, pw, is_delete);
		*written = write_finish(fm, pw, is_delete);
		return false;
	}
	*written = (dyn_slice) {NULL, 0};
	write_check_size(fm, pw, is_delete);
	replaced = DynXactQueue(fm->conn, fm->opts->relname, fm->opts->bucket, key,
							(dyn_slice) {(const uint8_t *) pw->value.data, pw->value.len},
							is_delete,
							(dyn_slice) {(const uint8_t *) pw->context.data, pw->context.len},
							fm->w);
	if (!replaced)
		fm->writes++;
	return replaced;
}

/*
 * Insert rows (in the current memory context, which the caller resets):
 * insert_mode and ON CONFLICT read their keys first (one multi-key GET).
 * Immediate writes are all sent (pipelined, each to its key's node) before
 * any reply is awaited -- but for a key written by an earlier row, whose
 * write must be done first -- and the first failure is raised (the other
 * writes may be done by then).  Fills rows[] with the indexes of the rows
 * inserted and written[] (when not NULL) with the clock each write
 * returned.
 *
 * @return the number of rows inserted (ON CONFLICT DO NOTHING skips some)
 */
static int
insert_rows(DynModifyState *fm, PendingWrite *pw, int nrows, dyn_slice *written)
{
	int		   *rows = palloc(sizeof(int) * Max(nrows, 1));
	bool	   *inflight = palloc0(sizeof(bool) * Max(nrows, 1));
	bool		check = fm->skip_existing || fm->opts->insert_mode != DYN_INSERT_SIBLING;
	bool		immediate = fm->write_mode == DYN_WRITE_IMMEDIATE;
	HTAB	   *states = check ? insert_read_keys(fm, pw, nrows) : NULL;
	HTAB	   *batch_keys = immediate && check ? batch_keys_create(nrows) : NULL;
	dyn_slice	discard;
	int			n = 0;

	for (int i = 0; i < nrows; i++)
	{
		if (batch_keys != NULL)
		{
			/* an earlier row wrote this key: that write first */
			int			j = batch_key_row(batch_keys, &pw[i].key, i);

			if (j >= 0 && inflight[j])
			{
				dyn_slice	w = write_finish(fm, &pw[j], false);

				written_remember(fm, &pw[j], w, false);
				if (written)
					written[j] = w;
				inflight[j] = false;
			}
		}
		/* a row that gives a context writes over what it covers: no check */
		if (check && pw[i].context.len == 0 && insert_key_exists(fm, states, &pw[i]))
		{
			if (fm->skip_existing)
			{
				fm->conflicts++;
				continue;
			}
			if (fm->opts->insert_mode == DYN_INSERT_ERROR)
				ereport(ERROR,
						(errcode(ERRCODE_UNIQUE_VIOLATION),
						 errmsg("key \"%s\" already exists in foreign table \"%s\"",
								DynKeyForMessage((dyn_slice) {(const uint8_t *) pw[i].key.data, pw[i].key.len}),
								fm->opts->relname),
						 errdetail("The key holds a live version in bucket \"%s\", and the table's insert_mode is 'error'.",
								   fm->opts->bucket),
						 errhint("Use INSERT ... ON CONFLICT DO NOTHING to skip existing keys, UPDATE to change them, or insert_mode 'replace' or 'sibling'.")));
		}
		if (immediate)
		{
			write_send(fm, &pw[i], false);
			inflight[i] = true;
		}
		else
			(void) modify_write(fm, &pw[i], false, written ? &written[i] : &discard);
		rows[n++] = i;
	}
	for (int k = 0; k < n; k++)
	{
		int			i = rows[k];

		if (inflight[i])
		{
			dyn_slice	w = write_finish(fm, &pw[i], false);

			if (check)
				written_remember(fm, &pw[i], w, false);
			if (written)
				written[i] = w;
		}
		fm->rows[k] = i;
	}
	return n;
}

/*
 * ExecForeignBatchInsert: the rows of a batch, in order (insert_rows);
 * *numSlots becomes the rows inserted, which RETURNING sees.
 */
TupleTableSlot **
dynamoExecForeignBatchInsert(EState *estate, ResultRelInfo *rinfo, TupleTableSlot **slots,
							 TupleTableSlot **planSlots, int *numSlots)
{
	DynModifyState *fm = (DynModifyState *) rinfo->ri_FdwState;
	MemoryContext old = MemoryContextSwitchTo(fm->temp_cxt);
	int			nrows = *numSlots;
	PendingWrite *pw = palloc0(sizeof(PendingWrite) * Max(nrows, 1));
	dyn_slice  *written = palloc0(sizeof(dyn_slice) * Max(nrows, 1));
	int			n;

	for (int i = 0; i < nrows; i++)
		row_to_write(fm, slots[i], &pw[i]);
	n = insert_rows(fm, pw, nrows, written);
	for (int k = 0; k < n; k++)
	{
		int			i = fm->rows[k];

		fm->inserted[k] = slots[i];
		if (fm->has_returning)
		{
			MemoryContextSwitchTo(old);
			store_returning(fm, slots[i], written[i]);
			MemoryContextSwitchTo(fm->temp_cxt);
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(fm->temp_cxt);
	*numSlots = n;
	return fm->inserted;
}

/* A table of the keys of one batch: key -> the last row that has it. */
typedef struct BatchKey
{
	WrittenKey	key;			/* hash key */
	int			row;
} BatchKey;

static HTAB *
batch_keys_create(int nrows)
{
	return DynBytesHashCreate("dynamo_fdw batch keys", nrows, sizeof(BatchKey),
							  CurrentMemoryContext);
}

/* The row of the batch that last had key (-1: none); row i has it now. */
static int
batch_key_row(HTAB *keys, StringInfo key, int i)
{
	WrittenKey	k = {key->data, (size_t) key->len};
	bool		found;
	BatchKey   *bk = hash_search(keys, &k, HASH_ENTER, &found);
	int			prev = found ? bk->row : -1;

	bk->row = i;
	return prev;
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
		e->inflight = NULL;
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
	e = fm->write_mode == DYN_WRITE_IMMEDIATE ? written_find(fm, &pw->key, false) : NULL;
	if (e != NULL && e->inflight != NULL)
		flight_finish(fm, e->inflight);
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

/*
 * Send an UPDATE's or DELETE's write without waiting (write_mode
 * 'immediate', no RETURNING): a copy of it joins the writes in flight, at
 * most batch_size of them, and the key's entry points at it until its
 * reply is taken.
 */
static void
flight_send(DynModifyState *fm, PendingWrite *pw, bool is_delete)
{
	MemoryContext old;
	PendingWrite *p;
	WrittenEntry *e;

	if (fm->nflight == fm->opts->batch_size)
		flight_drain(fm);
	old = MemoryContextSwitchTo(fm->flight_cxt);
	p = palloc0(sizeof(PendingWrite));
	initStringInfo(&p->key);
	initStringInfo(&p->value);
	initStringInfo(&p->context);
	appendBinaryStringInfo(&p->key, pw->key.data, pw->key.len);
	appendBinaryStringInfo(&p->value, pw->value.data, pw->value.len);
	appendBinaryStringInfo(&p->context, pw->context.data, pw->context.len);
	p->deleted = is_delete;
	write_send(fm, p, is_delete);
	MemoryContextSwitchTo(old);
	fm->flight[fm->nflight++] = p;
	old = MemoryContextSwitchTo(fm->query_cxt);
	e = written_find(fm, &p->key, true);
	MemoryContextSwitchTo(old);
	e->inflight = p;
}

/* Take the reply of a write in flight and remember what it wrote. */
static void
flight_finish(DynModifyState *fm, PendingWrite *p)
{
	dyn_slice	written;

	if (p->finished)
		return;
	written = write_finish(fm, p, p->deleted);
	written_remember(fm, p, written, p->deleted);
	written_find(fm, &p->key, false)->inflight = NULL;
	p->finished = true;
}

/* Take every reply still in flight (the first failure is raised). */
static void
flight_drain(DynModifyState *fm)
{
	if (fm->flight == NULL)
		return;
	while (fm->flight_done < fm->nflight)
		flight_finish(fm, fm->flight[fm->flight_done++]);
	fm->nflight = 0;
	fm->flight_done = 0;
	MemoryContextReset(fm->flight_cxt);
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
	if (fm->write_mode == DYN_WRITE_COMMIT)
	{
		/* queued: a later sibling row of the key replaces this write */
		if (modify_write(fm, &pw, false, &written))
			fm->skipped++;
	}
	else if (e != NULL && !e->deleted && e->valuelen == (size_t) pw.value.len &&
			 memcmp(e->value, pw.value.data, e->valuelen) == 0)
	{
		/* another sibling of a key already written with this very value */
		written = (dyn_slice) {(const uint8_t *) e->context, e->contextlen};
		fm->skipped++;
	}
	else if (fm->flight != NULL)
		flight_send(fm, &pw, false);
	else
	{
		(void) modify_write(fm, &pw, false, &written);
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

	if (fm->write_mode == DYN_WRITE_COMMIT)
	{
		dyn_slice	written;

		if (modify_write(fm, &pw, true, &written))
			fm->skipped++;
	}
	else if (e != NULL && e->deleted)
		fm->skipped++;
	else if (fm->flight != NULL)
		flight_send(fm, &pw, true);
	else
	{
		dyn_slice	written;

		(void) modify_write(fm, &pw, true, &written);
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

/*
 * EndForeignModify / EndForeignInsert: write what COPY gathered, release
 * the connection.
 */
void
dynamoEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	DynModifyState *fm = (DynModifyState *) rinfo->ri_FdwState;

	if (fm == NULL)
		return;
	if (fm->ngather > 0)
		insert_flush_gathered(fm);
	flight_drain(fm);
	DynReleaseConnection(fm->conn);
	fm->conn = NULL;
}

/* EndForeignInsert: as EndForeignModify. */
void
dynamoEndForeignInsert(EState *estate, ResultRelInfo *rinfo)
{
	dynamoEndForeignModify(estate, rinfo);
}

/*
 * IsForeignRelUpdatable: INSERT, UPDATE and DELETE all work, unless the
 * option updatable (table, else server) is false.
 */
int
dynamoIsForeignRelUpdatable(Relation rel)
{
	ForeignTable *table = GetForeignTable(RelationGetRelid(rel));

	if (!DynOptionBool(table->options, GetForeignServer(table->serverid)->options,
					   "updatable", true))
		return 0;
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
	/* plain EXPLAIN does without the cluster when no node answers */
	info = es->analyze ? DynGetClusterInfo(fm->conn, false) : DynTryClusterInfo(fm->conn, false);
	ExplainPropertyText("Dynamo Operation",
						fm->op == CMD_DELETE ? "quorum DELETE" : "quorum PUT", es);
	if (fm->w > 0 || info != NULL)
		ExplainPropertyInteger("W", NULL, fm->w > 0 ? fm->w : info->default_w, es);
	ExplainPropertyText("W From", DynQuorumSourceName(fm->w_source, true), es);
	if (info != NULL)
		ExplainPropertyInteger("N", NULL, info->n, es);
	else
		ExplainPropertyText("Cluster", "not reached: no node answered", es);
	ExplainPropertyText("Write Mode", DynWriteModeName(fm->write_mode), es);
	if (fm->op == CMD_INSERT)
	{
		ExplainPropertyText("Insert Mode", fm->skip_existing ? "on conflict do nothing"
							: DynInsertModeName(fm->opts->insert_mode), es);
		ExplainPropertyInteger("Batch Size", NULL, rinfo->ri_BatchSize, es);
	}
	if (es->verbose)
		ExplainPropertyText("Bucket", fm->opts->bucket, es);
	if (es->analyze)
	{
		ExplainPropertyUInteger(fm->write_mode == DYN_WRITE_COMMIT ? "Writes Queued" : "Writes",
								NULL, fm->writes, es);
		if (fm->op != CMD_INSERT)
			ExplainPropertyUInteger("Writes Skipped", NULL, fm->skipped, es);
		else if (fm->checks > 0)
		{
			ExplainPropertyUInteger("Keys Checked", NULL, fm->checks, es);
			if (fm->skip_existing)
				ExplainPropertyUInteger("Conflicts Skipped", NULL, fm->conflicts, es);
		}
	}
}
