/*-------------------------------------------------------------------------
 *
 * truncate.c
 *		  TRUNCATE of dynamo_fdw foreign tables: every key of the bucket is
 *		  deleted -- a coverage scan reads each key's sibling set (R replicas
 *		  per partition, as full scans do), and each key that holds a live
 *		  version gets a tombstone written with the context read, so the
 *		  delete supersedes exactly what was read.
 *
 * With write_mode 'commit' the deletes join the transaction's queue
 * (xact.c) like DELETE's: they go out at COMMIT, ROLLBACK undoes them, and
 * the transaction's own queued writes count -- a key it inserted is deleted
 * too, one it deleted already is left.  With 'immediate' they are sent
 * pipelined (at most batch_size in flight, each to its key's node, W as for
 * any write) and all acknowledged before TRUNCATE returns.  A NOTICE says
 * how many keys.
 *
 * A bucket has no foreign keys or dependent tables, so TRUNCATE ... CASCADE
 * is refused rather than taken to mean anything; RESTART IDENTITY has
 * nothing to restart and is accepted.  A table whose option updatable is
 * false is refused.  A write that a concurrent client makes after the scan
 * read its key is kept (as a sibling, or as the key's only version): Dynamo
 * cannot stop writers, and TRUNCATE does not pretend to.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "dynamo_fdw.h"
#include "dynamo/vclock.h"
#include "dynamo/wire.h"

/* One tombstone in flight (write_mode 'immediate'). */
typedef struct TruncDelete
{
	StringInfoData key;
	StringInfoData context;
	DynRequest	req;
} TruncDelete;

/* What truncating one table needs: its options, connection and quorums. */
typedef struct TruncState
{
	Relation	rel;
	DynTableOptions *opts;
	DynConn    *conn;
	int			r;
	int			w;
	DynWriteMode mode;
	CommandId	curcid;
	MemoryContext cxt;
	/* write_mode 'immediate': the deletes in flight */
	TruncDelete *flight;
	int			nflight;
	int			next_done;
	uint64		deleted;
} TruncState;

/*
 * A key with a live version in the transaction's queue (collected before
 * the scan): the scan marks those the cluster holds too; the others are
 * deleted after it.
 */
typedef struct QueuedKey
{
	DynBytesKey key;			/* hash key (the copy's bytes) */
	bool		seen;
} QueuedKey;

static void truncate_one(Relation rel);
static void trunc_delete(TruncState *ts, dyn_slice key, const dyn_vclock *ctx);
static void trunc_finish(TruncState *ts, TruncDelete *d);
static void trunc_drain(TruncState *ts);
static void collect_queued(dyn_slice key, const DynQueued *v, void *arg);
static QueuedKey *queued_find(HTAB *queued, dyn_slice key);

/*
 * ExecForeignTruncate: the tables of one server, each truncated in turn
 * (each bucket's deletes pipelined).
 */
void
dynamoExecForeignTruncate(List *rels, DropBehavior behavior, bool restart_seqs)
{
	ListCell   *lc;

	foreach(lc, rels)
	{
		Relation	rel = (Relation) lfirst(lc);

		if (behavior == DROP_CASCADE)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("TRUNCATE ... CASCADE does not apply to dynamo_fdw foreign table \"%s\"",
							RelationGetRelationName(rel)),
					 errdetail("A Dynamo bucket has no foreign keys or dependent tables to cascade to."),
					 errhint("TRUNCATE without CASCADE deletes every key of the bucket.")));
	}
	foreach(lc, rels)
		truncate_one((Relation) lfirst(lc));
}

/* Delete every key of rel's bucket (see the file comment). */
static void
truncate_one(Relation rel)
{
	ForeignTable *table = GetForeignTable(RelationGetRelid(rel));
	ForeignServer *server = GetForeignServer(table->serverid);
	TruncState	ts;
	DynQuorumSource src;
	DynFetch   *f;
	DynFetchItem *item;
	bool		overlay;
	HTAB	   *queued = NULL;
	HASH_SEQ_STATUS hs;
	QueuedKey  *q;

	if (!DynOptionBool(table->options, server->options, "updatable", true))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("foreign table \"%s\" does not allow TRUNCATE",
						RelationGetRelationName(rel)),
				 errdetail("Its option updatable (or its server's) is false.")));

	memset(&ts, 0, sizeof(ts));
	ts.rel = rel;
	ts.opts = DynGetTableOptions(rel, server);
	ts.conn = DynGetConnection(server, GetUserMapping(GetUserId(), server->serverid));
	ts.r = DynResolveQuorum(false, ts.opts, DynConnOptions(ts.conn), &src);
	ts.w = DynResolveQuorum(true, ts.opts, DynConnOptions(ts.conn), &src);
	ts.mode = DynResolveWriteMode(ts.opts);
	ts.curcid = GetCurrentCommandId(false);
	ts.cxt = AllocSetContextCreate(CurrentMemoryContext, "dynamo_fdw truncate",
								   ALLOCSET_DEFAULT_SIZES);
	overlay = DynXactBucketQueued(ts.conn, ts.opts->bucket);
	if (ts.mode == DYN_WRITE_IMMEDIATE && overlay)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot TRUNCATE foreign table \"%s\" with write_mode immediate: the transaction has queued writes to bucket \"%s\"",
						RelationGetRelationName(rel), ts.opts->bucket),
				 errdetail("The queued writes are sent at COMMIT, after the deletes, and would bring keys back."),
				 errhint("Truncate it in a transaction of its own, or with write_mode commit.")));
	if (ts.mode == DYN_WRITE_IMMEDIATE)
		ts.flight = MemoryContextAllocZero(ts.cxt, sizeof(TruncDelete) * ts.opts->batch_size);

	if (overlay)
	{
		MemoryContext old = MemoryContextSwitchTo(ts.cxt);

		queued = DynBytesHashCreate("dynamo_fdw truncate queued keys", 64, sizeof(QueuedKey),
									ts.cxt);
		DynXactForEachKey(ts.conn, ts.opts->bucket, ts.curcid, collect_queued, queued);
		MemoryContextSwitchTo(old);
	}

	/* the keys the cluster holds, with the transaction's writes laid over them */
	f = DynFetchBeginCoverage(ts.conn, ts.opts->bucket, ts.r, ts.opts->fetch_size, ts.cxt);
	if (overlay)
		DynFetchKeepDead(f);
	while (DynFetchNext(f, &item))
	{
		const DynQueued *v = overlay
			? DynXactLookup(ts.conn, ts.opts->bucket, item->key, ts.curcid) : NULL;
		dyn_vclock	ctx;

		CHECK_FOR_INTERRUPTS();
		if (v != NULL && (q = queued_find(queued, item->key)) != NULL)
			q->seen = true;
		if (DynXactVisible(&item->obj, v, &ctx) > 0)
			trunc_delete(&ts, item->key, &ctx);
	}
	DynFetchEnd(f);

	/* then the keys only the transaction's queue holds (their context is queued) */
	if (queued != NULL)
	{
		dyn_vclock	none;

		dyn_vclock_init(&none);
		hash_seq_init(&hs, queued);
		while ((q = hash_seq_search(&hs)) != NULL)
			if (!q->seen)
				trunc_delete(&ts, (dyn_slice) {(const uint8_t *) q->key.ptr, q->key.len},
							 &none);
	}
	trunc_drain(&ts);

	ereport(NOTICE,
			(errmsg("TRUNCATE of foreign table \"%s\": %s " UINT64_FORMAT " keys of bucket \"%s\"",
					RelationGetRelationName(rel),
					ts.mode == DYN_WRITE_COMMIT ? "deletes queued until COMMIT for" : "deleted",
					ts.deleted, ts.opts->bucket)));
	DynReleaseConnection(ts.conn);
	MemoryContextDelete(ts.cxt);
}

/*
 * DynXactForEachKey's callback: a key with a live queued version, copied
 * (the queue changes as the deletes are queued).
 */
static void
collect_queued(dyn_slice key, const DynQueued *v, void *arg)
{
	HTAB	   *queued = (HTAB *) arg;
	DynBytesKey k = {(char *) key.ptr, key.len};
	bool		found;
	QueuedKey  *q = hash_search(queued, &k, HASH_ENTER, &found);

	if (found)
		return;
	q->key.ptr = palloc(Max(key.len, 1));	/* in the truncate's context */
	memcpy(q->key.ptr, key.ptr, key.len);
	q->key.len = key.len;
	q->seen = false;
}

/* The queued key entry of key, or NULL (also when there is no table). */
static QueuedKey *
queued_find(HTAB *queued, dyn_slice key)
{
	DynBytesKey k = {(char *) key.ptr, key.len};

	return queued ? hash_search(queued, &k, HASH_FIND, NULL) : NULL;
}

/*
 * Delete key with context ctx: queued (write_mode 'commit') or sent, with
 * at most batch_size deletes in flight.
 */
static void
trunc_delete(TruncState *ts, dyn_slice key, const dyn_vclock *ctx)
{
	dyn_buf		enc;
	TruncDelete *d;
	dyn_put_req del;
	MemoryContext old;

	dyn_buf_init(&enc);
	dyn_vclock_encode(ctx, &enc);
	if (enc.err)
	{
		dyn_buf_free(&enc);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	ts->deleted++;
	if (ts->mode == DYN_WRITE_COMMIT)
	{
		(void) DynXactQueue(ts->conn, RelationGetRelationName(ts->rel), ts->opts->bucket,
							key, (dyn_slice) {NULL, 0}, true, dyn_buf_slice(&enc), ts->w);
		dyn_buf_free(&enc);
		return;
	}
	if (ts->nflight == ts->opts->batch_size)
		trunc_drain(ts);
	d = &ts->flight[ts->nflight++];
	old = MemoryContextSwitchTo(ts->cxt);
	if (d->key.data == NULL)
	{
		initStringInfo(&d->key);
		initStringInfo(&d->context);
	}
	resetStringInfo(&d->key);
	resetStringInfo(&d->context);
	appendBinaryStringInfo(&d->key, (const char *) key.ptr, key.len);
	appendBinaryStringInfo(&d->context, (const char *) enc.data, enc.len);
	dyn_buf_free(&enc);
	del.bucket = dyn_slice_str(ts->opts->bucket);
	del.key = (dyn_slice) {(const uint8_t *) d->key.data, d->key.len};
	del.context = (dyn_slice) {(const uint8_t *) d->context.data, d->context.len};
	del.value = (dyn_slice) {NULL, 0};
	del.w = (uint8) ts->w;
	DynInitRequest(&d->req, ts->cxt);
	DynSendPut(ts->conn, DynNodeForKey(ts->conn, ts->opts->bucket, del.key), &d->req, &del,
			   true);
	MemoryContextSwitchTo(old);
}

/* Wait for one delete's acknowledgement (W replicas); a failure is raised. */
static void
trunc_finish(TruncState *ts, TruncDelete *d)
{
	DynAwait(ts->conn, &d->req);
	if (d->req.failed || d->req.reply_type != DYN_MSG_DELETE_REPLY)
		DynReportFailure(ts->conn, &d->req, "delete", ts->opts->bucket,
						 (dyn_slice) {(const uint8_t *) d->key.data, d->key.len});
	DynReleaseReply(&d->req);
}

/* Wait for every delete in flight. */
static void
trunc_drain(TruncState *ts)
{
	for (int i = 0; i < ts->nflight; i++)
		trunc_finish(ts, &ts->flight[i]);
	ts->nflight = 0;
}
