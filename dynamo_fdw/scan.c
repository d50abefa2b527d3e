/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  Executing scans of dynamo_fdw foreign tables: evaluate the keys
 *		  (constants, parameters, InitPlan results, outer columns), fetch
 *		  them or cover every partition, and return one row per live sibling;
 *		  EXPLAIN of what is asked of the cluster; ANALYZE by sampling a
 *		  coverage scan.
 *
 * The transaction's own writes (write_mode 'commit', xact.c) are laid over
 * what the cluster returns: a queued version written by an earlier command
 * hides the siblings its context covers and adds its own row (vclock NULL:
 * it has no clock yet; siblings and context count it), so a transaction
 * reads its writes by key, by list, through a join and in full scans, and
 * a statement never reads its own.  A full scan ends with the keys the
 * transaction wrote that the cluster does not hold yet.
 *
 * Under a batched nested loop (batch.c) a key scan takes its key's reply
 * from the batch its custom scan fetched, and sends nothing; as a child of
 * an async Append it hands out only rows that need no wait, and says which
 * node's socket to wait on for the others (the ForeignAsync callbacks at
 * the end).  Either way the rows come from the same loop.
 *
 * R is decided when the scan starts (GUC, table, server, cluster default,
 * DynResolveQuorum), so SET LOCAL dynamo_fdw.r applies to a plan cached
 * before it; a coverage scan reads every partition from R replicas and
 * merges them (fetch.c), as a GET waits for R.  Every row of a key carries the same context, the merge of
 * all its siblings' clocks (tombstones included), which is what UPDATE and
 * DELETE write back with.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "commands/vacuum.h"
#include "executor/execAsync.h"
#include "executor/executor.h"
#include "executor/instrument.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "storage/fd.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/sampling.h"

#include "dynamo_fdw.h"
#include "dynamo/vclock.h"

/*
 * The state of one scan: what the plan asks (operation, key source), the
 * connection and R, the fetch in progress and the key whose siblings are
 * being returned.
 */
typedef struct DynScanState
{
	Relation	rel;
	DynTableOptions *opts;
	DynConn    *conn;
	DynConvert *cv;
	int			op;				/* DYN_OP_GET or DYN_OP_SCAN */
	bool		key_is_array;
	int			plan_nkeys;		/* keys known at plan time, -1 */
	ExprState  *key_expr;
	DynKeySource keysrc;
	int			r;
	DynQuorumSource r_source;
	bool		keep_old;		/* row format, ctid asked for: an UPDATE's target */
	MemoryContext fetch_cxt;
	DynFetch   *fetch;
	bool		started;
	DynFetchItem *item;
	size_t		next_sib;
	int			live;
	char	   *context;
	/* the transaction's queued writes over the fetch */
	CommandId	curcid;			/* the snapshot's: later writes are not seen */
	bool		overlay;		/* the transaction queued writes to the bucket */
	const DynQueued *pending;	/* the current key's queued version, or NULL */
	dyn_vclock	pending_ctx;	/* its context, decoded */
	bool		pending_row;	/* its row is still to be returned */
	HTAB	   *seen;			/* keys with a queued version a full scan returned */
	List	   *unseen;			/* the others, returned after the scan (QueuedKey) */
	DynFetchItem extra;			/* the item of such a key: no siblings */
	/* the table's merge_function (merge.c) */
	DynMerge   *merge;			/* NULL: one row per sibling */
	bool		write_back;		/* merges are written back by this scan */
	int			w;				/* ... with this W */
	bool		merged_row;		/* the current key's merged row is still to be returned */
	StringInfoData merged;		/* its value's bytes (per-tuple memory) */
	DynBatchLink *batch;		/* the batched lookup serving the keys, or NULL */
	/* a child of an async Append, asked for a row: only one that needs no wait */
	bool		async_step;
	bool		blocked;		/* the row asked for needs a reply first */
	pgsocket   *socks;			/* per node: a dup of its socket, to wait on */
	uint64	   *sock_gen;		/* ... of this connection generation */
	int			nsocks;
	MemoryContextCallback socks_cb; /* closes them when an error ends the query */
	/* for EXPLAIN ANALYZE, summed over rescans */
	uint64		keys_requested;
	uint64		requests;
	uint64		executions;
} DynScanState;

/* A queued key a full scan did not find in the cluster: returned after it. */
typedef struct QueuedKey
{
	dyn_slice	key;
	const DynQueued *v;
} QueuedKey;

static void scan_take_batch(ForeignScanState *node, DynScanState *st);
static void explain_unreached(DynScanState *st, ExplainState *es);
static void async_produce(AsyncRequest *areq);
static pgsocket async_socket(DynScanState *st, int node);
static void async_close_sockets(DynScanState *st);
static void async_close_callback(void *arg);
static void scan_start(ForeignScanState *node, DynScanState *st);
static TupleTableSlot *count_rows(ForeignScanState *node, DynScanState *st);
static void scan_stop(DynScanState *st);
static void scan_stop_fetch(DynScanState *st);
static void scan_write_back(DynScanState *st, const dyn_vclock *ctx);
static void scan_store_unclocked(ForeignScanState *node, DynScanState *st,
								 TupleTableSlot *slot, dyn_slice value, dyn_slice context);
static bool scan_next_item(DynScanState *st);
static void scan_take_item(DynScanState *st);
static void seen_add(DynScanState *st, dyn_slice key);
static bool seen_has(DynScanState *st, dyn_slice key);
static void collect_unseen(dyn_slice key, const DynQueued *v, void *arg);
static int	acquire_sample_rows(Relation relation, int elevel, HeapTuple *rows,
								int targrows, double *totalrows, double *totaldeadrows);

/*
 * BeginForeignScan: the connection, R, and what evaluating the keys needs.
 * Nothing goes to the network here (EXPLAIN asks the cluster for N).
 */
void
dynamoBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	DynScanState *st = palloc0(sizeof(DynScanState));
	int			op = intVal(list_nth(fsplan->fdw_private, DynScanPrivOperation));
	/* a count's table: the one base rel it covers (setrefs offsets fs_relids) */
	Index		rtindex = op == DYN_OP_COUNT
		? (Index) bms_singleton_member(fsplan->fs_relids) : fsplan->scan.scanrelid;
	RangeTblEntry *rte = exec_rt_fetch(rtindex, estate);
	Oid			userid = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
	ForeignTable *table;
	ForeignServer *server;
	List	   *attrs;
	Bitmapset  *used;
	ListCell   *lc;

	node->fdw_state = st;
	/* a count scans no relation of its own (scanrelid 0): open the table */
	st->rel = op == DYN_OP_COUNT ? ExecOpenScanRelation(estate, rtindex, eflags)
		: node->ss.ss_currentRelation;
	table = GetForeignTable(RelationGetRelid(st->rel));
	server = GetForeignServer(table->serverid);
	st->opts = DynGetTableOptions(st->rel, server);
	st->conn = DynGetConnection(server, GetUserMapping(userid, server->serverid));
	st->r = DynResolveQuorum(false, st->opts, DynConnOptions(st->conn), &st->r_source);
	st->curcid = estate->es_snapshot->curcid;

	st->op = op;
	st->key_is_array = intVal(list_nth(fsplan->fdw_private, DynScanPrivKeyIsArray)) != 0;
	st->plan_nkeys = intVal(list_nth(fsplan->fdw_private, DynScanPrivKeyCount));
	attrs = (List *) list_nth(fsplan->fdw_private, DynScanPrivAttrsUsed);
	/*
	 * Member 0 (attno FirstLowInvalidHeapAttributeNumber) is no column: it
	 * keeps the set non-NULL, which would mean every column (count(*)
	 * uses none).
	 */
	used = bms_make_singleton(0);
	foreach(lc, attrs)
		used = bms_add_member(used, lfirst_int(lc));
	st->cv = DynConvertCreate(st->rel, st->opts, used);
	st->merge = DynMergeCreate(st->opts, st->cv);
	/* an UPDATE or DELETE of the table writes the keys itself */
	if (op == DYN_OP_COUNT && st->merge != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("a count(*) of \"%s\" was planned without its merge_function",
						RelationGetRelationName(st->rel)),
				 errhint("Run the query again: it is planned again with the merge function.")));
	st->write_back = DynMergeWritesBack(st->merge) && !XactReadOnly &&
		!RecoveryInProgress() && !(eflags & EXEC_FLAG_EXPLAIN_ONLY) &&
		!ExecRelationIsTargetRelation(estate, fsplan->scan.scanrelid);
	if (st->write_back)
	{
		DynQuorumSource w_source;

		st->w = DynResolveQuorum(true, st->opts, DynConnOptions(st->conn), &w_source);
	}
	/* an UPDATE of the row format keeps the fields no column names */
	st->keep_old = st->opts->format == DYN_FORMAT_ROW &&
		bms_is_member(SelfItemPointerAttributeNumber - FirstLowInvalidHeapAttributeNumber,
					  used);

	if (st->op == DYN_OP_GET)
	{
		Expr	   *src = (Expr *) linitial(fsplan->fdw_exprs);

		st->key_expr = ExecInitExpr(src, (PlanState *) node);
		DynKeySourceInit(&st->keysrc, exprType((Node *) src), st->key_is_array);
		scan_take_batch(node, st);
	}
	st->fetch_cxt = AllocSetContextCreate(estate->es_query_cxt, "dynamo_fdw scan",
										  ALLOCSET_DEFAULT_SIZES);
}

/*
 * A scan under a batched nested loop (batch.c) takes the link its custom
 * scan offered, and says where the batches are to be fetched from: the
 * same bucket, connection, R and window it would fetch with itself.
 */
static void
scan_take_batch(ForeignScanState *node, DynScanState *st)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	int			token = list_length(fsplan->fdw_private) > DynScanPrivBatch
		? intVal(list_nth(fsplan->fdw_private, DynScanPrivBatch)) : 0;

	if (token == 0 || (st->batch = DynBatchTake(node->ss.ps.state, token)) == NULL)
		return;
	st->batch->conn = st->conn;
	st->batch->bucket = st->opts->bucket;
	st->batch->r = st->r;
	st->batch->window = st->opts->fetch_size;
}

/*
 * Start the fetch: evaluate the key source (in the per-tuple context:
 * parameters of this execution) and queue its keys, or start covering the
 * partitions.
 */
static void
scan_start(ForeignScanState *node, DynScanState *st)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;

	MemoryContextReset(st->fetch_cxt);
	st->item = NULL;
	st->context = NULL;
	st->pending = NULL;
	st->pending_row = false;
	st->seen = NULL;
	st->unseen = NIL;
	st->executions++;
	st->overlay = DynXactBucketQueued(st->conn, st->opts->bucket);
	if (st->op == DYN_OP_GET)
	{
		MemoryContext old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
		bool		isnull;
		Datum		d;

		st->fetch = DynFetchBeginKeys(st->conn, st->opts->bucket, st->r,
									  st->opts->fetch_size, st->fetch_cxt);
		if (st->batch != NULL && st->batch->batch != NULL)
			DynFetchUseBatch(st->fetch, st->batch->batch);
		d = ExecEvalExpr(st->key_expr, econtext, &isnull);
		if (!isnull)
			DynKeySourceAdd(&st->keysrc, d, st->fetch);	/* key = NULL is never true */
		MemoryContextSwitchTo(old);
	}
	else
	{
		st->fetch = DynFetchBeginCoverage(st->conn, st->opts->bucket, st->r,
										  st->opts->fetch_size, st->fetch_cxt);
		if (st->op == DYN_OP_COUNT)
			DynFetchNoValues(st->fetch);
		if (st->overlay)
			st->seen = DynBytesHashCreate("dynamo_fdw scan queued keys", 64,
										  sizeof(DynBytesKey), st->fetch_cxt);
	}
	if (st->overlay)
		DynFetchKeepDead(st->fetch);
	st->started = true;
}

/* End the current fetch, keeping its counts for EXPLAIN ANALYZE. */
static void
scan_stop_fetch(DynScanState *st)
{
	if (st->fetch != NULL)
	{
		if (st->op == DYN_OP_GET)
			st->keys_requested += DynFetchKeyCount(st->fetch);
		st->requests += DynFetchRequests(st->fetch);
		DynFetchEnd(st->fetch);
	}
	st->fetch = NULL;
}

/*
 * Write the current key's merged value back with the context of what was
 * read (ctx), so the key converges to one version.
 */
static void
scan_write_back(DynScanState *st, const dyn_vclock *ctx)
{
	dyn_buf		enc;
	DynWriteMode mode = DynResolveWriteMode(st->opts);

	/*
	 * Sent now, beside a version the transaction queued (even one this
	 * scan's snapshot does not see), the write-back would meet that version
	 * again at COMMIT as a sibling: the queued write goes alone, and the
	 * next read merges.
	 */
	if (mode == DYN_WRITE_IMMEDIATE &&
		DynXactLookup(st->conn, st->opts->bucket, st->item->key, InvalidCommandId) != NULL)
		return;
	dyn_buf_init(&enc);
	dyn_vclock_encode(ctx, &enc);
	if (enc.err)
	{
		dyn_buf_free(&enc);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	DynMergeWriteBack(st->merge, st->conn, mode, st->opts->bucket,
					  st->item->key,
					  (dyn_slice) {(const uint8_t *) st->merged.data, st->merged.len},
					  dyn_buf_slice(&enc), st->w);
	dyn_buf_free(&enc);
}

/* End the scan's current execution (a rescan starts another). */
static void
scan_stop(DynScanState *st)
{
	scan_stop_fetch(st);
	DynMergeFinish(st->merge);
	st->item = NULL;
	st->pending = NULL;
	st->unseen = NIL;
	st->seen = NULL;
	st->started = false;
}

/*
 * Note a key a full scan returned with a queued version over it (its bytes
 * copied: the fetch's item goes with the next call).
 */
static void
seen_add(DynScanState *st, dyn_slice key)
{
	DynBytesKey k = {(char *) key.ptr, key.len};
	bool		found;
	DynBytesKey *e = hash_search(st->seen, &k, HASH_ENTER, &found);

	if (!found)
	{
		e->ptr = MemoryContextAlloc(st->fetch_cxt, Max(key.len, 1));
		memcpy(e->ptr, key.ptr, key.len);
		e->len = key.len;
	}
}

static bool
seen_has(DynScanState *st, dyn_slice key)
{
	DynBytesKey k = {(char *) key.ptr, key.len};

	return hash_search(st->seen, &k, HASH_FIND, NULL) != NULL;
}

/* DynXactForEachKey's callback: a queued key the full scan did not return. */
static void
collect_unseen(dyn_slice key, const DynQueued *v, void *arg)
{
	DynScanState *st = (DynScanState *) arg;
	QueuedKey  *qk;

	if (seen_has(st, key))
		return;
	qk = MemoryContextAlloc(st->fetch_cxt, sizeof(QueuedKey));
	qk->key = key;
	qk->v = v;
	st->unseen = lappend(st->unseen, qk);
}

/*
 * Make the next key current: the fetch's next one, then (a full scan with
 * queued writes) the queued keys the cluster did not hold.  false at the
 * end.
 */
static bool
scan_next_item(DynScanState *st)
{
	MemoryContext old;

	/* async: the next key without any wait, or none yet (blocked) */
	if (st->fetch != NULL &&
		(st->async_step ? DynFetchNextNoWait(st->fetch, &st->item, &st->blocked)
		 : DynFetchNext(st->fetch, &st->item)))
	{
		st->pending = st->overlay
			? DynXactLookup(st->conn, st->opts->bucket, st->item->key, st->curcid) : NULL;
		if (st->pending != NULL && st->seen != NULL)
			seen_add(st, st->item->key);
		return true;
	}
	if (st->blocked || st->seen == NULL)
		return false;
	if (st->fetch != NULL && st->unseen == NIL)
	{
		/* the scan is over: now the keys only the transaction holds */
		old = MemoryContextSwitchTo(st->fetch_cxt);
		DynXactForEachKey(st->conn, st->opts->bucket, st->curcid, collect_unseen, st);
		MemoryContextSwitchTo(old);
		scan_stop_fetch(st);
	}
	if (st->unseen == NIL)
		return false;
	{
		QueuedKey  *qk = linitial(st->unseen);

		st->unseen = list_delete_first(st->unseen);
		memset(&st->extra, 0, sizeof(st->extra));
		st->extra.key = qk->key;
		st->item = &st->extra;
		st->pending = qk->v;
	}
	return true;
}

/*
 * Set up the rows of the current key: its live count and context, both
 * with the queued version (if any) laid over what the cluster holds.
 */
static void
scan_take_item(DynScanState *st)
{
	dyn_vclock	ctx;

	st->next_sib = 0;
	st->pending_row = st->pending != NULL && !st->pending->deleted;
	if (st->pending != NULL)
		DynXactContext(st->pending, &st->pending_ctx);
	st->live = DynXactVisible(&st->item->obj, st->pending, &ctx);
	st->merged_row = false;
	if (st->merge != NULL && st->live > 1)
	{
		initStringInfo(&st->merged);
		if (DynMergeSiblings(st->merge, st->cv, st->item->key, &st->item->obj, st->pending,
							 &st->pending_ctx, &st->merged))
		{
			/* one row instead of the siblings */
			st->merged_row = true;
			st->next_sib = st->item->obj.n;
			st->pending_row = false;
			if (st->write_back)
				scan_write_back(st, &ctx);
		}
	}
	if (st->context)
		pfree(st->context);
	st->context = NULL;
	if (st->live > 0 && st->opts->attno[DYNCOL_CONTEXT] != 0 &&
		st->cv->wanted[st->opts->attno[DYNCOL_CONTEXT] - 1])
	{
		/* every sibling's row has it: it must outlive the per-tuple memory */
		MemoryContext tmp = MemoryContextSwitchTo(st->fetch_cxt);

		st->context = DynClockContextText(&ctx);
		MemoryContextSwitchTo(tmp);
	}
}

/*
 * Store a row of the current key whose value has no clock of its own (a
 * merge, or a write queued for COMMIT): vclock NULL, siblings and context
 * those of the key.
 */
static void
scan_store_unclocked(ForeignScanState *node, DynScanState *st, TupleTableSlot *slot,
					 dyn_slice value, dyn_slice context)
{
	dyn_sibling sib;
	AttrNumber	vc = st->opts->attno[DYNCOL_VCLOCK];

	memset(&sib, 0, sizeof(sib));
	sib.value = value;
	DynConvertRow(st->cv, st->item->key, &sib, st->live, context,
				  slot->tts_values, slot->tts_isnull);
	if (vc != 0)
		slot->tts_isnull[vc - 1] = true;
	ExecStoreVirtualTuple(slot);
	if (st->keep_old)
		DynOldValueRemember(node->ss.ps.state, RelationGetRelid(st->rel), value,
							&slot->tts_tid);
}

/*
 * IterateForeignScan: the next live sibling as a row (in the per-tuple
 * memory, which the executor resets before each call), or an empty slot.
 */
TupleTableSlot *
dynamoIterateForeignScan(ForeignScanState *node)
{
	DynScanState *st = (DynScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	MemoryContext old;

	if (st->op == DYN_OP_COUNT)
		return count_rows(node, st);
	if (!st->started)
		scan_start(node, st);
	ExecClearTuple(slot);
	old = MemoryContextSwitchTo(node->ss.ps.ps_ExprContext->ecxt_per_tuple_memory);
	for (;;)
	{
		if (st->item != NULL)
		{
			dyn_slice	context = dyn_slice_str(st->context ? st->context : "");

			while (st->next_sib < st->item->obj.n)
			{
				const dyn_sibling *sib = &st->item->obj.s[st->next_sib++];

				if (sib->tombstone ||
					(st->pending != NULL && DynXactHides(&st->pending_ctx, sib)))
					continue;
				DynConvertRow(st->cv, st->item->key, sib, st->live, context,
							  slot->tts_values, slot->tts_isnull);
				ExecStoreVirtualTuple(slot);
				if (st->keep_old)
					DynOldValueRemember(node->ss.ps.state, RelationGetRelid(st->rel),
										sib->value, &slot->tts_tid);
				MemoryContextSwitchTo(old);
				return slot;
			}
			if (st->merged_row || st->pending_row)
			{
				/*
				 * The merge function's row, or the transaction's own queued
				 * version: a value no stored version carries with a clock.
				 */
				dyn_slice	value = st->merged_row
					? (dyn_slice) {(const uint8_t *) st->merged.data, st->merged.len}
					: (dyn_slice) {(const uint8_t *) st->pending->value, st->pending->valuelen};

				st->merged_row = st->pending_row = false;
				scan_store_unclocked(node, st, slot, value, context);
				MemoryContextSwitchTo(old);
				return slot;
			}
		}
		if (!scan_next_item(st))
		{
			st->item = NULL;
			break;
		}
		scan_take_item(st);
	}
	MemoryContextSwitchTo(old);
	return slot;
}

/*
 * A coverage count's one row: every count(*) of it is the number of rows
 * the plain scan would return -- each key's live versions with the
 * transaction's queued version laid over them (DynXactVisible, as
 * scan_take_item counts them), the keys only the transaction holds
 * included (scan_next_item) -- from pages without values.  Then no more.
 */
static TupleTableSlot *
count_rows(ForeignScanState *node, DynScanState *st)
{
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	int64		rows = 0;
	dyn_vclock	ctx;

	ExecClearTuple(slot);
	if (st->started)
		return slot;			/* the row was returned */
	scan_start(node, st);
	while (scan_next_item(st))
	{
		CHECK_FOR_INTERRUPTS();
		rows += DynXactVisible(&st->item->obj, st->pending, &ctx);
	}
	st->item = NULL;
	for (int i = 0; i < slot->tts_tupleDescriptor->natts; i++)
	{
		slot->tts_values[i] = Int64GetDatum(rows);
		slot->tts_isnull[i] = false;
	}
	return ExecStoreVirtualTuple(slot);
}

/*
 * ReScanForeignScan: fetch again at the next call (parameters may have
 * changed; Dynamo has no snapshot to rewind to anyway).
 */
void
dynamoReScanForeignScan(ForeignScanState *node)
{
	DynScanState *st = (DynScanState *) node->fdw_state;

	scan_stop(st);
}

/* EndForeignScan: forget what is in flight, release the connection. */
void
dynamoEndForeignScan(ForeignScanState *node)
{
	DynScanState *st = (DynScanState *) node->fdw_state;

	if (st == NULL)
		return;
	scan_stop(st);
	async_close_sockets(st);
	DynReleaseConnection(st->conn);
	st->conn = NULL;
}

/*
 * Async Append (PostgreSQL 14+): the Append asks each async child for a
 * row (ForeignAsyncRequest); a scan whose next row needs a reply that has
 * not arrived says so (pending), and names the socket to wait on
 * (ForeignAsyncConfigureWait): the node that reply comes from.  The
 * Append waits on all its children's sockets at once and tells a child
 * when its socket is readable (ForeignAsyncNotify), which takes what has
 * arrived and tries again.  Scans of one server share the connection and
 * its node sockets, so whichever scan is woken takes the replies of all
 * of them (DynPoll; the others find theirs taken at the next wait); each
 * names a duplicate of the node's socket (dup), since one wait set cannot
 * hold a descriptor twice.  Only a notified scan reads: a row is made
 * without waiting or reading (DynFetchNextNoWait), since a reply read off a
 * socket that another child registered would leave that child asleep on a
 * socket with nothing left on it.  A request whose connection was replaced
 * or whose deadline passed is failed before the scan waits for it
 * (DynCheck), but the Append's wait itself has no reply deadline (as
 * postgres_fdw's): a node that stops answering without closing its
 * connection holds the query until it answers, the connection breaks, or
 * a cancel ends the wait.
 */
void
dynamoForeignAsyncRequest(AsyncRequest *areq)
{
	async_produce(areq);
}

/*
 * ForeignAsyncConfigureWait: if the next row is at hand now (its reply
 * taken already, by this scan or another of the connection), hand it out,
 * else wait on the socket of the node its reply comes from.  Nothing is
 * read here: a reply taken off a socket that an earlier child of this wait
 * registered would leave that child waiting on a socket with nothing left
 * to read.
 */
void
dynamoForeignAsyncConfigureWait(AsyncRequest *areq)
{
	ForeignScanState *node = (ForeignScanState *) areq->requestee;
	DynScanState *st = (DynScanState *) node->fdw_state;
	const DynRequest *req;
	pgsocket	sock;

	DynFlush(st->conn);
	req = st->fetch != NULL ? DynFetchBlocker(st->fetch) : NULL;
	if (req == NULL || (sock = async_socket(st, req->node)) == PGINVALID_SOCKET)
	{
		/*
		 * A row is at hand, or the node's connection is gone (a resend):
		 * complete the request here -- unlike a notification, clearing the
		 * callback flag, delivering the response and counting the row
		 * ourselves (as postgres_fdw does).
		 */
		areq->callback_pending = false;
		async_produce(areq);
		ExecAsyncResponse(areq);
		if (areq->requestee->instrument)
			InstrUpdateTupleCount(areq->requestee->instrument,
								  TupIsNull(areq->result) ? 0.0 : 1.0);
		if (!areq->callback_pending)
			return;
		/* pending again: wait for what it needs now */
		req = st->fetch != NULL ? DynFetchBlocker(st->fetch) : NULL;
		if (req == NULL || (sock = async_socket(st, req->node)) == PGINVALID_SOCKET)
			return;				/* the Append polls again */
	}
	AddWaitEventToSet(((AppendState *) areq->requestor)->as_eventset, WL_SOCKET_READABLE,
					  sock, NULL, areq);
}

/* ForeignAsyncNotify: the node's socket is readable. */
void
dynamoForeignAsyncNotify(AsyncRequest *areq)
{
	DynScanState *st = (DynScanState *) ((ForeignScanState *) areq->requestee)->fdw_state;

	DynPoll(st->conn);
	async_produce(areq);
}

/*
 * The next row for the Append if it needs no wait (the scan's own row
 * loop, with its quals and projection), the end, or pending.
 */
static void
async_produce(AsyncRequest *areq)
{
	ForeignScanState *node = (ForeignScanState *) areq->requestee;
	DynScanState *st = (DynScanState *) node->fdw_state;
	TupleTableSlot *slot;

	/*
	 * Only here may the row loop stop short at a reply not in yet (a
	 * synchronous caller waits for it; an empty slot would end its scan).
	 * The node itself is run, not its instrumentation wrapper: the caller
	 * counts the row.
	 */
	st->blocked = false;
	st->async_step = true;
	slot = node->ss.ps.ExecProcNodeReal((PlanState *) node);
	st->async_step = false;
	/* what the row loop asked for (the next pages, keys) goes out now */
	DynFlush(st->conn);
	if (TupIsNull(slot) && st->blocked)
		ExecAsyncRequestPending(areq);
	else
		ExecAsyncRequestDone(areq, slot);
}

/*
 * A descriptor of node's socket for this scan to wait on (made again when
 * the node was reconnected), or PGINVALID_SOCKET when it has none.
 */
static pgsocket
async_socket(DynScanState *st, int node)
{
	uint64		gen;
	pgsocket	sock = DynNodeSocket(st->conn, node, &gen);

	if (node >= st->nsocks)
	{
		int			n = Max(node + 1, 4);
		MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(st));

		if (st->socks == NULL)
		{
			/* EndForeignScan closes them; an abort frees the query's memory */
			st->socks_cb.func = async_close_callback;
			st->socks_cb.arg = st;
			MemoryContextRegisterResetCallback(GetMemoryChunkContext(st), &st->socks_cb);
		}
		st->socks = st->socks ? repalloc(st->socks, sizeof(pgsocket) * n)
			: palloc(sizeof(pgsocket) * n);
		st->sock_gen = st->sock_gen ? repalloc(st->sock_gen, sizeof(uint64) * n)
			: palloc(sizeof(uint64) * n);
		for (int i = st->nsocks; i < n; i++)
			st->socks[i] = PGINVALID_SOCKET;
		st->nsocks = n;
		MemoryContextSwitchTo(old);
	}
	if (st->socks[node] != PGINVALID_SOCKET && st->sock_gen[node] == gen)
		return st->socks[node];
	if (st->socks[node] != PGINVALID_SOCKET)
	{
		close(st->socks[node]);
		ReleaseExternalFD();
		st->socks[node] = PGINVALID_SOCKET;
	}
	if (sock == PGINVALID_SOCKET)
		return PGINVALID_SOCKET;
	if (!AcquireExternalFD())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("no file descriptor left for an async scan of foreign table \"%s\"",
						RelationGetRelationName(st->rel)),
				 errhint("Raise max_files_per_process, or set the option async_capable to false.")));
	if ((st->socks[node] = dup(sock)) < 0)
	{
		ReleaseExternalFD();
		st->socks[node] = PGINVALID_SOCKET;
		ereport(ERROR,
				(errcode_for_socket_access(),
				 errmsg("could not duplicate the socket of node %s: %m",
						DynNodeAddress(st->conn, node))));
	}
	st->sock_gen[node] = gen;
	return st->socks[node];
}

/* The memory context callback: close what EndForeignScan did not. */
static void
async_close_callback(void *arg)
{
	async_close_sockets((DynScanState *) arg);
}

/* Close the scan's socket duplicates. */
static void
async_close_sockets(DynScanState *st)
{
	for (int i = 0; i < st->nsocks; i++)
		if (st->socks[i] != PGINVALID_SOCKET)
		{
			close(st->socks[i]);
			ReleaseExternalFD();
			st->socks[i] = PGINVALID_SOCKET;
		}
}

/*
 * ExplainForeignScan: the Dynamo operation, the keys, R (and where it
 * comes from) and N; VERBOSE adds the bucket, the routing and the key
 * expression; ANALYZE the keys and requests actually sent.
 */
void
dynamoExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	DynScanState *st = (DynScanState *) node->fdw_state;
	const DynClusterInfo *info = es->analyze ? DynGetClusterInfo(st->conn, false)
		: DynTryClusterInfo(st->conn, false);
	const DynServerOptions *so = DynConnOptions(st->conn);

	if (info == NULL)
	{
		/* plain EXPLAIN, no node answers, nothing learnt before */
		explain_unreached(st, es);
		return;
	}
	if (st->op == DYN_OP_GET)
	{
		int			r = st->r > 0 ? st->r : info->default_r;

		ExplainPropertyText("Dynamo Operation", "quorum GET", es);
		if (st->plan_nkeys >= 0)
			ExplainPropertyInteger("Keys", NULL, st->plan_nkeys, es);
		else
			ExplainPropertyText("Keys", st->key_is_array ? "array evaluated at run time"
								: "1 per execution", es);
		if (st->batch != NULL)
			ExplainPropertyText("Keys Fetched By", "Dynamo Batched Keys", es);
		ExplainPropertyInteger("R", NULL, r, es);
		ExplainPropertyText("R From", DynQuorumSourceName(st->r_source, false), es);
		ExplainPropertyInteger("N", NULL, info->n, es);
		if (es->verbose)
		{
			ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
			List	   *ctx = set_deparse_context_plan(es->deparse_cxt,
													   (Plan *) fsplan, NIL);

			ExplainPropertyText("Key Source",
								deparse_expression(linitial(fsplan->fdw_exprs), ctx,
												   true, false),
								es);
		}
	}
	else
	{
		int			r = Max(st->r > 0 ? st->r : info->default_r, 1);

		ExplainPropertyText("Dynamo Operation",
							st->op == DYN_OP_COUNT ? "coverage count" : "coverage scan", es);
		if (st->op == DYN_OP_COUNT)
			ExplainPropertyText("Values", "not shipped", es);
		ExplainPropertyInteger("Partitions", NULL, info->q, es);
		ExplainPropertyText("Replicas Read", psprintf("%d per partition", r), es);
		ExplainPropertyText("R From", DynQuorumSourceName(st->r_source, false), es);
		ExplainPropertyInteger("N", NULL, info->n, es);
		if (es->verbose)
			ExplainPropertyInteger("Fetch Size", NULL, st->opts->fetch_size, es);
	}
	if (es->verbose)
	{
		ExplainPropertyText("Bucket", st->opts->bucket, es);
		ExplainPropertyText("Routing",
							st->op != DYN_OP_GET ? "replica of each partition" :
							so->routing == DYN_ROUTE_ANY ? "any" : "preflist", es);
	}
	DynMergeExplain(st->merge, es);
	if (es->analyze)
	{
		uint64		keys = st->keys_requested;
		uint64		requests = st->requests;

		if (st->fetch != NULL)
		{
			if (st->op == DYN_OP_GET)
				keys += DynFetchKeyCount(st->fetch);
			requests += DynFetchRequests(st->fetch);
		}
		if (st->op == DYN_OP_GET)
			ExplainPropertyUInteger("Keys Requested", NULL, keys, es);
		ExplainPropertyUInteger(st->op == DYN_OP_GET ? "GET Requests" : "SCAN Requests",
								NULL, requests, es);
	}
}

/*
 * EXPLAIN of a scan when the cluster could not be asked: the operation and
 * what the options say, without the cluster's defaults, N or partitions.
 */
static void
explain_unreached(DynScanState *st, ExplainState *es)
{
	ExplainPropertyText("Dynamo Operation",
						st->op == DYN_OP_GET ? "quorum GET" :
						st->op == DYN_OP_COUNT ? "coverage count" : "coverage scan", es);
	if (st->op == DYN_OP_GET && st->plan_nkeys >= 0)
		ExplainPropertyInteger("Keys", NULL, st->plan_nkeys, es);
	if (st->r > 0)
		ExplainPropertyInteger("R", NULL, st->r, es);
	ExplainPropertyText("R From", DynQuorumSourceName(st->r_source, false), es);
	ExplainPropertyText("Cluster", "not reached: no node answered", es);
	if (es->verbose)
		ExplainPropertyText("Bucket", st->opts->bucket, es);
}

/*
 * AnalyzeForeignTable: ANALYZE samples rows from a coverage scan; the page
 * count is a nominal one (the planner uses reltuples).
 */
bool
dynamoAnalyzeForeignTable(Relation relation, AcquireSampleRowsFunc *func,
						  BlockNumber *totalpages)
{
	*func = acquire_sample_rows;
	*totalpages = 1;
	return true;
}

/*
 * Read every key once (a coverage scan) and keep a reservoir sample of
 * targrows rows (Vitter's algorithm, as the core ANALYZE does for heaps).
 */
static int
acquire_sample_rows(Relation relation, int elevel, HeapTuple *rows, int targrows,
					double *totalrows, double *totaldeadrows)
{
	ForeignTable *table = GetForeignTable(RelationGetRelid(relation));
	ForeignServer *server = GetForeignServer(table->serverid);
	DynTableOptions *opts = DynGetTableOptions(relation, server);
	DynConn    *conn = DynGetConnection(server, GetUserMapping(GetUserId(), server->serverid));
	DynConvert *cv = DynConvertCreate(relation, opts, NULL);
	TupleDesc	tupdesc = RelationGetDescr(relation);
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext, "dynamo_fdw analyze",
												 ALLOCSET_DEFAULT_SIZES);
	MemoryContext fetchcxt = AllocSetContextCreate(CurrentMemoryContext,
												   "dynamo_fdw analyze fetch",
												   ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;
	Datum	   *values = palloc(sizeof(Datum) * Max(tupdesc->natts, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(tupdesc->natts, 1));
	ReservoirStateData rstate;
	DynFetch   *f;
	DynFetchItem *item;
	double		seen = 0;
	double		skip = -1;
	int			numrows = 0;

	reservoir_init_selection_state(&rstate, targrows);
	/* a sample needs no quorum: one replica per partition */
	f = DynFetchBeginCoverage(conn, opts->bucket, 1, opts->fetch_size, fetchcxt);
	while (DynFetchNext(f, &item))
	{
		int			live = (int) dyn_object_live(&item->obj);
		char	   *context;

		vacuum_delay_point();
		old = MemoryContextSwitchTo(rowcxt);
		context = DynContextText(&item->obj);
		for (size_t i = 0; i < item->obj.n; i++)
		{
			const dyn_sibling *sib = &item->obj.s[i];
			int			pos = -1;

			if (sib->tombstone)
				continue;
			seen += 1;
			if (numrows < targrows)
				pos = numrows++;
			else
			{
				if (skip < 0)
					skip = reservoir_get_next_S(&rstate, seen, targrows);
				if (skip <= 0)
				{
					pos = (int) (targrows * sampler_random_fract(&rstate.randstate));
					heap_freetuple(rows[pos]);
				}
				skip -= 1;
			}
			if (pos >= 0)
			{
				DynConvertRow(cv, item->key, sib, live, dyn_slice_str(context), values, nulls);
				MemoryContextSwitchTo(old);
				rows[pos] = heap_form_tuple(tupdesc, values, nulls);
				MemoryContextSwitchTo(rowcxt);
			}
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(rowcxt);
	}
	DynFetchEnd(f);
	DynReleaseConnection(conn);
	MemoryContextDelete(rowcxt);
	MemoryContextDelete(fetchcxt);
	*totalrows = seen;
	*totaldeadrows = 0;
	ereport(elevel,
			(errmsg("\"%s\": sampled %d of %.0f rows from a coverage scan of bucket \"%s\"",
					RelationGetRelationName(relation), numrows, seen, opts->bucket)));
	return numrows;
}
