/*-------------------------------------------------------------------------
 *
 * xact.c
 *		  The transaction's own writes (write_mode 'commit'): queued in the
 *		  backend as INSERT, COPY, UPDATE and DELETE make them, shown to the
 *		  transaction's later reads, sent to the cluster at COMMIT, and
 *		  discarded by ROLLBACK and ROLLBACK TO SAVEPOINT.
 *
 * Dynamo has no multi-key transactions, but a transaction's writes need not
 * reach the cluster before the transaction decides to keep them.  Each key
 * a transaction writes (per connection, bucket and key) has one entry here
 * holding a stack of versions, newest first; a version records the
 * subtransaction level and the command that wrote it, the value or a
 * delete, and the context to write with.
 *
 * Collapsing.  A transaction writes a key once, at COMMIT, whatever number
 * of statements wrote it: its last version, with the union of the contexts
 * of every version of the key in the transaction.  Each of those contexts
 * came from a read (or from the row an INSERT gave), so the union covers
 * only versions the transaction saw, and the one write supersedes all that
 * its statements meant to supersede.
 *
 * Visibility.  A reader sees the newest version written by an earlier
 * command than its snapshot's (cid < curcid), as PostgreSQL's own tables
 * do: a statement never sees its own writes (INSERT INTO t SELECT ... FROM
 * t reads exactly the rows that were there), a later statement sees them,
 * and a cursor opened before a write keeps not seeing it.  Writes of the
 * same command and subtransaction replace each other in place; a new
 * command pushes a version, so older snapshots keep theirs.
 *
 * Subtransactions.  Aborting one pops every version its level (or deeper)
 * pushed, which brings back the version below; committing one hands its
 * versions to the parent level.  A count of versions per level lets both
 * skip the walk when the level wrote nothing.
 *
 * COMMIT.  At pre-commit every entry's write goes out at once, pipelined
 * and routed to each key's preference list, at most DYN_XACT_WINDOW in
 * flight, and every reply is awaited.  Any failure is an ERROR, which
 * aborts the local transaction; it says how many keys were written and
 * names the first that were not.  There is no two-phase commit: the keys
 * written stay written (each whole, one PUT or DELETE).  PREPARE
 * TRANSACTION with queued writes is refused.  The queue is bounded by
 * dynamo_fdw.write_queue_mb: a statement that would pass it fails.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "dynamo_fdw.h"
#include "dynamo/object.h"
#include "dynamo/vclock.h"
#include "dynamo/wire.h"

/* Writes in flight at once at COMMIT. */
#define DYN_XACT_WINDOW			1024
/* Keys a failed COMMIT names. */
#define DYN_XACT_FAILED_NAMED	5
/* Bookkeeping bytes a version costs beyond its value and context. */
#define DYN_XACT_OVERHEAD		(sizeof(DynQueued) + 64)

/* What identifies a queued key: the connection it is written through, "bucket\0key". */
typedef struct DynQueueKey
{
	DynConn    *conn;
	char	   *ptr;
	size_t		len;
} DynQueueKey;

/* One key the transaction wrote: its versions, newest first. */
typedef struct DynQueueEntry
{
	DynQueueKey key;			/* hash key */
	size_t		bucketlen;		/* key.ptr[0 .. bucketlen) is the bucket */
	DynQueued  *top;
} DynQueueEntry;

/*
 * The queue of the current transaction, NULL when nothing is queued: the
 * entries, where they live, how big they are, and how many versions each
 * subtransaction level holds.
 */
typedef struct DynQueue
{
	MemoryContext cxt;
	HTAB	   *entries;
	Size		bytes;
	int		   *level_versions;	/* index: nest level */
	int			nlevels;
	List	   *conns;			/* connections held until the end (DynReleaseConnection) */
	List	   *buckets;		/* QueuedBucket: readers skip the others cheaply */
} DynQueue;

/* A bucket the transaction queued writes to, through one connection. */
typedef struct QueuedBucket
{
	DynConn    *conn;
	char	   *bucket;
	long		keys;
} QueuedBucket;

/* A queued write on its way at COMMIT. */
typedef struct FlushWrite
{
	DynQueueEntry *e;
	DynRequest	req;
} FlushWrite;

/* The progress of a COMMIT's writes. */
typedef struct Flush
{
	FlushWrite *w;
	long		sent;
	long		awaited;
	long		written;
	long		failed;
	long		write_backs_failed;	/* best effort: counted, not raised */
	FlushWrite *first_failed;
	StringInfoData named;		/* the first keys that failed, for the message */
} Flush;

static DynQueue *queue = NULL;
static bool xact_callbacks_registered = false;

static uint32 queue_key_hash(const void *key, Size keysize);
static int	queue_key_match(const void *a, const void *b, Size keysize);
static DynQueue *queue_get(void);
static void queue_discard(void);
static void queue_count_level(int level, int delta);
static bool queue_push(DynConn *conn, const char *relname, const char *bucket,
					   dyn_slice key, dyn_slice value, bool is_delete, dyn_slice context,
					   int w, bool best_effort);
static void version_free(DynQueued *v);
static void queue_flush(void);
static void flush_await(Flush *fl);
static void flush_report(Flush *fl, long total, MemoryContext cxt) pg_attribute_noreturn();
static void flush_interrupted(Flush *fl, long total, MemoryContext cxt) pg_attribute_noreturn();
static void flush_raise(ErrorData *cause, const char *what, const char *todo) pg_attribute_noreturn();
static dyn_slice entry_key(const DynQueueEntry *e);
static bool queue_only_write_backs(void);
static void xact_callback(XactEvent event, void *arg);
static void subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							 SubTransactionId parentSubid, void *arg);
static void context_union(dyn_slice a, dyn_slice b, StringInfo out);
static DynQueueEntry *queue_find(DynConn *conn, const char *bucket, dyn_slice key,
								 bool create);
static QueuedBucket *queue_bucket(DynConn *conn, const char *bucket, size_t len,
								  bool create);

/* Hash of a queue key: the connection and the bytes. */
static uint32
queue_key_hash(const void *key, Size keysize)
{
	const DynQueueKey *k = key;

	return hash_combine(hash_bytes((const unsigned char *) &k->conn, sizeof(k->conn)),
						hash_bytes((const unsigned char *) k->ptr, (int) k->len));
}

/* 0 when two queue keys are equal, as dynahash wants. */
static int
queue_key_match(const void *a, const void *b, Size keysize)
{
	const DynQueueKey *x = a;
	const DynQueueKey *y = b;

	return x->conn == y->conn && x->len == y->len &&
		memcmp(x->ptr, y->ptr, x->len) == 0 ? 0 : 1;
}

/* Hash and compare byte keys (DynBytesKey). */
static uint32
bytes_key_hash(const void *key, Size keysize)
{
	const DynBytesKey *k = key;

	return hash_bytes((const unsigned char *) k->ptr, (int) k->len);
}

static int
bytes_key_match(const void *a, const void *b, Size keysize)
{
	const DynBytesKey *x = a;
	const DynBytesKey *y = b;

	return x->len == y->len && memcmp(x->ptr, y->ptr, x->len) == 0 ? 0 : 1;
}

/*
 * A hash table in cxt whose entries (entrysize bytes) start with a
 * DynBytesKey.  The table stores the key struct as given, pointer
 * included: the bytes must outlive the entry.
 */
HTAB *
DynBytesHashCreate(const char *name, long nelem, Size entrysize, MemoryContext cxt)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(DynBytesKey);
	ctl.entrysize = entrysize;
	ctl.hash = bytes_key_hash;
	ctl.match = bytes_key_match;
	ctl.hcxt = cxt;
	return hash_create(name, Max(nelem, 8), &ctl,
					   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}

/* Register the transaction callbacks (module load). */
void
DynInitXact(void)
{
	if (xact_callbacks_registered)
		return;
	RegisterXactCallback(xact_callback, NULL);
	RegisterSubXactCallback(subxact_callback, NULL);
	xact_callbacks_registered = true;
}

/* The current transaction's queue, made on first use. */
static DynQueue *
queue_get(void)
{
	MemoryContext cxt;
	HASHCTL		ctl;

	if (queue != NULL)
		return queue;
	cxt = AllocSetContextCreate(TopMemoryContext, "dynamo_fdw write queue",
								ALLOCSET_DEFAULT_SIZES);
	queue = MemoryContextAllocZero(cxt, sizeof(DynQueue));
	queue->cxt = cxt;
	ctl.keysize = sizeof(DynQueueKey);
	ctl.entrysize = sizeof(DynQueueEntry);
	ctl.hash = queue_key_hash;
	ctl.match = queue_key_match;
	ctl.hcxt = cxt;
	queue->entries = hash_create("dynamo_fdw queued writes", 256, &ctl,
								 HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	return queue;
}

/* Forget everything queued and release the connections held for it. */
static void
queue_discard(void)
{
	ListCell   *lc;

	if (queue == NULL)
		return;
	foreach(lc, queue->conns)
		DynReleaseConnection((DynConn *) lfirst(lc));
	MemoryContextDelete(queue->cxt);
	queue = NULL;
}

/* Keep the count of versions held at a nest level. */
static void
queue_count_level(int level, int delta)
{
	if (level >= queue->nlevels)
	{
		int			n = Max(level + 1, queue->nlevels * 2);

		queue->level_versions = queue->level_versions
			? repalloc(queue->level_versions, sizeof(int) * n)
			: MemoryContextAlloc(queue->cxt, sizeof(int) * n);
		memset(queue->level_versions + queue->nlevels, 0,
			   sizeof(int) * (n - queue->nlevels));
		queue->nlevels = n;
	}
	queue->level_versions[level] += delta;
}

/* Free a version that left its stack, keeping the counts. */
static void
version_free(DynQueued *v)
{
	queue_count_level(v->level, -1);
	queue->bytes -= v->valuelen + v->contextlen + DYN_XACT_OVERHEAD;
	if (v->value)
		pfree(v->value);
	pfree(v->context);
	pfree(v);
}

/* out = the union of two binary contexts (either may be empty). */
static void
context_union(dyn_slice a, dyn_slice b, StringInfo out)
{
	dyn_vclock	x;
	dyn_vclock	y;
	dyn_buf		enc;

	resetStringInfo(out);
	if (b.len == 0 || (a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0))
	{
		appendBinaryStringInfo(out, (const char *) a.ptr, (int) a.len);
		return;
	}
	if (a.len == 0)
	{
		appendBinaryStringInfo(out, (const char *) b.ptr, (int) b.len);
		return;
	}
	if (dyn_vclock_decode(a, &x) != DYN_OK || dyn_vclock_decode(b, &y) != DYN_OK ||
		dyn_vclock_merge(&x, &y) != DYN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("cannot merge two contexts of one key"),
				 errdetail("A context is malformed, or together they name more than %d writers.",
						   DYN_VCLOCK_CAP)));
	dyn_buf_init(&enc);
	dyn_vclock_encode(&x, &enc);
	if (enc.err)
	{
		dyn_buf_free(&enc);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	appendBinaryStringInfo(out, (const char *) enc.data, (int) enc.len);
	dyn_buf_free(&enc);
}

/* The queue's record of conn/bucket (NULL if none; with create, made). */
static QueuedBucket *
queue_bucket(DynConn *conn, const char *bucket, size_t len, bool create)
{
	ListCell   *lc;
	QueuedBucket *qb;
	MemoryContext old;

	if (queue == NULL)
		return NULL;
	foreach(lc, queue->buckets)
	{
		qb = lfirst(lc);
		if (qb->conn == conn && strlen(qb->bucket) == len && memcmp(qb->bucket, bucket, len) == 0)
			return qb;
	}
	if (!create)
		return NULL;
	old = MemoryContextSwitchTo(queue->cxt);
	qb = palloc0(sizeof(QueuedBucket));
	qb->conn = conn;
	qb->bucket = pnstrdup(bucket, len);
	queue->buckets = lappend(queue->buckets, qb);
	MemoryContextSwitchTo(old);
	return qb;
}

/* The entry of conn/bucket/key, or NULL; with create, made if missing. */
static DynQueueEntry *
queue_find(DynConn *conn, const char *bucket, dyn_slice key, bool create)
{
	size_t		blen = strlen(bucket);
	char		stackbuf[DYN_BUCKET_MAX + 1 + 512];
	char	   *buf = blen + 1 + key.len <= sizeof(stackbuf) ? stackbuf
		: palloc(blen + 1 + key.len);
	DynQueueKey k;
	DynQueueEntry *e;
	bool		found;

	if (queue == NULL && !create)
		return NULL;
	memcpy(buf, bucket, blen + 1);
	memcpy(buf + blen + 1, key.ptr, key.len);
	k.conn = conn;
	k.ptr = buf;
	k.len = blen + 1 + key.len;
	if (!create)
		return hash_search(queue->entries, &k, HASH_FIND, NULL);
	e = hash_search(queue_get()->entries, &k, HASH_FIND, NULL);
	if (e != NULL)
		return e;
	k.ptr = MemoryContextAlloc(queue->cxt, k.len);
	memcpy(k.ptr, buf, k.len);
	e = hash_search(queue->entries, &k, HASH_ENTER, &found);
	e->bucketlen = blen;
	e->top = NULL;
	queue->bytes += k.len + sizeof(DynQueueEntry);
	queue_bucket(conn, bucket, blen, true)->keys++;
	return e;
}

/*
 * Before a write of bucket/key through conn that does not wait for COMMIT
 * (write_mode 'immediate'): a queued write of the key, sent at COMMIT with
 * a context that does not cover the immediate one, would come back beside
 * it as a sibling, or bring back the key it deleted.  So the immediate
 * write is refused while the transaction has queued one of its own; a
 * queued merge write-back (best effort, not the user's) is dropped instead:
 * the immediate write supersedes what it merged.
 */
void
DynXactCheckImmediate(DynConn *conn, const char *relname, const char *bucket,
					  dyn_slice key)
{
	DynQueueEntry *e;

	if (queue == NULL || hash_get_num_entries(queue->entries) == 0)
		return;
	e = queue_find(conn, bucket, key, false);
	if (e == NULL)
		return;
	if (!e->top->best_effort)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot write key \"%s\" of foreign table \"%s\" immediately: the transaction has queued a write of it",
						DynKeyForMessage(key), relname),
				 errdetail("The queued write is sent at COMMIT and would undo or fork the immediate one."),
				 errhint("Write the key with write_mode 'commit' until the transaction ends, or COMMIT first.")));
	/*
	 * A write-back is never pushed over the transaction's own writes, so all
	 * the key's versions are write-backs: the key leaves the queue.  Their
	 * memory stays until the transaction ends: a scan of this statement may
	 * still hold the version it read.
	 */
	for (DynQueued *v = e->top; v != NULL; v = v->older)
		queue_count_level(v->level, -1);
	queue_bucket(e->key.conn, e->key.ptr, e->bucketlen, false)->keys--;
	hash_search(queue->entries, &e->key, HASH_REMOVE, NULL);
}

/*
 * Queue a merge's write-back (merge.c): as DynXactQueue, but best effort
 * -- its failure at COMMIT is counted and warned about, not raised -- and
 * never over a write the transaction made itself (that one is sent; the
 * next read merges again).
 */
void
DynXactQueueWriteBack(DynConn *conn, const char *relname, const char *bucket,
					  dyn_slice key, dyn_slice value, dyn_slice context, int w)
{
	const DynQueued *v = DynXactLookup(conn, bucket, key, InvalidCommandId);

	if (v != NULL && !v->best_effort)
		return;
	(void) queue_push(conn, relname, bucket, key, value, false, context, w, true);
}

/*
 * Queue a write of bucket/key through conn: a PUT of value, or a delete,
 * with context (binary, may be empty) and W w (0: the cluster's default).
 * The version is the current command's; an earlier version of the same
 * command and subtransaction is replaced.  The context written at COMMIT
 * is the union of this one and those of the versions below.
 *
 * @return true when the key already had a version written by this command
 * (a later sibling row of a key an UPDATE or DELETE already wrote)
 */
bool
DynXactQueue(DynConn *conn, const char *relname, const char *bucket, dyn_slice key,
			 dyn_slice value, bool is_delete, dyn_slice context, int w)
{
	return queue_push(conn, relname, bucket, key, value, is_delete, context, w, false);
}

/* DynXactQueue, best_effort or not. */
static bool
queue_push(DynConn *conn, const char *relname, const char *bucket, dyn_slice key,
		   dyn_slice value, bool is_delete, dyn_slice context, int w, bool best_effort)
{
	int			level = GetCurrentTransactionNestLevel();
	CommandId	cid = GetCurrentCommandId(true);
	DynQueueEntry *e;
	DynQueued  *v;
	DynQueued  *below;
	StringInfoData ctx;
	MemoryContext old;
	bool		same_command;
	Size		limit = (Size) dynamo_fdw_write_queue_mb * 1024 * 1024;

	if (queue == NULL || list_member_ptr(queue->conns, conn) == false)
	{
		/* hold the connection until the transaction ends */
		(void) queue_get();
		old = MemoryContextSwitchTo(queue->cxt);
		queue->conns = lappend(queue->conns, DynHoldConnection(conn));
		MemoryContextSwitchTo(old);
	}
	e = queue_find(conn, bucket, key, true);
	same_command = e->top != NULL && e->top->level == level && e->top->cid == cid;
	below = same_command ? e->top->older : e->top;

	old = MemoryContextSwitchTo(queue->cxt);
	initStringInfo(&ctx);
	context_union(context, same_command
				  ? (dyn_slice) {(const uint8_t *) e->top->context, e->top->contextlen}
				  : below ? (dyn_slice) {(const uint8_t *) below->context, below->contextlen}
				  : (dyn_slice) {NULL, 0},
				  &ctx);
	if (same_command)
	{
		v = e->top;
		queue->bytes -= v->valuelen + v->contextlen;
		if (v->value)
			pfree(v->value);
		pfree(v->context);
	}
	else
	{
		v = palloc0(sizeof(DynQueued));
		v->older = e->top;
		v->level = level;
		v->cid = cid;
		e->top = v;
		queue_count_level(level, 1);
		queue->bytes += DYN_XACT_OVERHEAD;
	}
	v->deleted = is_delete;
	v->best_effort = best_effort;
	v->w = Max(w, below ? below->w : 0);
	v->value = NULL;
	v->valuelen = is_delete ? 0 : value.len;
	if (!is_delete)
	{
		v->value = palloc(Max(value.len, 1));
		memcpy(v->value, value.ptr, value.len);
	}
	v->context = ctx.data;
	v->contextlen = ctx.len;
	queue->bytes += v->valuelen + v->contextlen;
	MemoryContextSwitchTo(old);

	if (queue->bytes > limit)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the transaction's queued writes to foreign table \"%s\" pass dynamo_fdw.write_queue_mb (%d MB)",
						relname, dynamo_fdw_write_queue_mb),
				 errdetail("With write_mode 'commit' every write waits in this backend until COMMIT."),
				 errhint("Commit in smaller transactions, raise dynamo_fdw.write_queue_mb, or SET dynamo_fdw.write_mode = 'immediate'.")));
	return same_command;
}

/*
 * The version of bucket/key a reader sees: the newest written by a command
 * before curcid (InvalidCommandId: the newest of all, for uniqueness
 * checks), or NULL when the transaction wrote none it can see.
 */
const DynQueued *
DynXactLookup(DynConn *conn, const char *bucket, dyn_slice key, CommandId curcid)
{
	DynQueueEntry *e;

	if (queue == NULL || hash_get_num_entries(queue->entries) == 0)
		return NULL;
	e = queue_find(conn, bucket, key, false);
	for (DynQueued *v = e ? e->top : NULL; v != NULL; v = v->older)
		if (curcid == InvalidCommandId || v->cid < curcid)
			return v;
	return NULL;
}

/*
 * Whether version v hides sibling s: v's context covers s's dot (vctx is
 * v's context decoded).
 */
bool
DynXactHides(const dyn_vclock *vctx, const dyn_sibling *s)
{
	const dyn_vclock_entry *dot = &s->clock.e[s->dot];

	return dyn_vclock_covers(vctx, (dyn_slice) {(const uint8_t *) dot->id, dot->idlen},
							 dot->counter);
}

/* v's context, decoded (empty for a blind write). */
void
DynXactContext(const DynQueued *v, dyn_vclock *ctx)
{
	dyn_vclock_init(ctx);
	if (v->contextlen > 0 &&
		dyn_vclock_decode((dyn_slice) {(const uint8_t *) v->context, v->contextlen},
						  ctx) != DYN_OK)
		elog(ERROR, "dynamo_fdw: a queued write has a malformed context");
}

/*
 * What a reader sees of a key the cluster holds as obj (empty when
 * absent) with version v of the transaction over it (NULL: none): the
 * count of live versions -- obj's live siblings v's context does not
 * cover, and v itself unless it is a delete -- and, in *context, the
 * context of all of it (obj's, and v's).
 */
int
DynXactVisible(const dyn_object *obj, const DynQueued *v, dyn_vclock *context)
{
	dyn_vclock	vctx;
	int			live = 0;

	dyn_object_context(obj, context);
	if (v == NULL)
		return (int) dyn_object_live(obj);
	DynXactContext(v, &vctx);
	for (size_t i = 0; i < obj->n; i++)
		if (!obj->s[i].tombstone && !DynXactHides(&vctx, &obj->s[i]))
			live++;
	if (dyn_vclock_merge(context, &vctx) != DYN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("cannot merge the context of a queued write with the key's"),
				 errdetail("Together they name more than %d writers.", DYN_VCLOCK_CAP)));
	return live + (v->deleted ? 0 : 1);
}

/* Whether the transaction queued anything for bucket through conn. */
bool
DynXactBucketQueued(DynConn *conn, const char *bucket)
{
	QueuedBucket *qb = queue_bucket(conn, bucket, strlen(bucket), false);

	return qb != NULL && qb->keys > 0;
}

/*
 * Call fn for every key of bucket queued through conn with a version the
 * reader (curcid) sees that is not a delete: what a full scan adds for
 * keys the cluster does not hold yet (fn skips those it already returned).
 */
void
DynXactForEachKey(DynConn *conn, const char *bucket, CommandId curcid,
				  void (*fn) (dyn_slice key, const DynQueued *v, void *arg), void *arg)
{
	HASH_SEQ_STATUS scan;
	DynQueueEntry *e;
	size_t		blen = strlen(bucket);

	if (queue == NULL)
		return;
	hash_seq_init(&scan, queue->entries);
	while ((e = hash_seq_search(&scan)) != NULL)
	{
		const DynQueued *v = NULL;

		if (e->key.conn != conn || e->bucketlen != blen ||
			memcmp(e->key.ptr, bucket, blen) != 0)
			continue;
		for (v = e->top; v != NULL && !(v->cid < curcid); v = v->older)
			;
		if (v != NULL && !v->deleted)
			fn((dyn_slice) {(const uint8_t *) e->key.ptr + blen + 1, e->key.len - blen - 1},
			   v, arg);
	}
}

/* The key of an entry, without its bucket. */
static dyn_slice
entry_key(const DynQueueEntry *e)
{
	return (dyn_slice) {(const uint8_t *) e->key.ptr + e->bucketlen + 1,
	e->key.len - e->bucketlen - 1};
}

/* Wait for the oldest write in flight and count it. */
static void
flush_await(Flush *fl)
{
	FlushWrite *f = &fl->w[fl->awaited++];
	uint8		want = f->e->top->deleted ? DYN_MSG_DELETE_REPLY : DYN_MSG_PUT_REPLY;

	DynAwait(f->e->key.conn, &f->req);
	if (!f->req.failed && f->req.reply_type == want)
	{
		fl->written++;
		DynReleaseReply(&f->req);
		return;
	}
	if (f->e->top->best_effort)
	{
		fl->write_backs_failed++;
		return;
	}
	if (fl->failed++ == 0)
		fl->first_failed = f;
	if (fl->failed <= DYN_XACT_FAILED_NAMED)
		appendStringInfo(&fl->named, "%s\"%s\"", fl->named.len ? ", " : "",
						 DynKeyForMessage(entry_key(f->e)));
}

/*
 * Raise the error of a COMMIT whose writes did not all succeed: how many
 * were written, the first keys that were not, and the first failure's own
 * error as the cause.
 */
static void
flush_report(Flush *fl, long total, MemoryContext cxt)
{
	FlushWrite *f = fl->first_failed;
	char	   *bucket = pnstrdup(f->e->key.ptr, f->e->bucketlen);
	ErrorData  *cause = NULL;

	PG_TRY();
	{
		DynReportFailure(f->e->key.conn, &f->req, f->e->top->deleted ? "delete" : "put",
						 bucket, entry_key(f->e));
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		cause = CopyErrorData();
		FlushErrorState();
	}
	PG_END_TRY();
	flush_raise(cause,
				psprintf("COMMIT wrote %ld of %ld keys, then the transaction was rolled back; not written (or not known to be): %s%s.",
						 fl->written, total, fl->named.data,
						 fl->failed > DYN_XACT_FAILED_NAMED
						 ? psprintf(" and %ld more", fl->failed - DYN_XACT_FAILED_NAMED) : ""),
				"read the keys named and write them again.");
}

/*
 * Re-raise an error that interrupted a COMMIT's writes (a cancel, a
 * backend terminated): its own message, and what had been sent by then,
 * since the keys sent may be written though the transaction rolls back.
 */
static void
flush_interrupted(Flush *fl, long total, MemoryContext cxt)
{
	ErrorData  *cause;

	MemoryContextSwitchTo(cxt);
	cause = CopyErrorData();
	FlushErrorState();
	flush_raise(cause,
				psprintf("COMMIT was interrupted when %ld of %ld keys were known to be written and %ld more were sent; the transaction was rolled back, but the keys sent may be written too.",
						 fl->written, total, fl->sent - fl->awaited),
				"read the transaction's keys and write them again.");
}

/*
 * Raise the error that failed a COMMIT (cause) with what COMMIT did after
 * its own detail, and the hint that no two-phase commit undid it.
 */
static void
flush_raise(ErrorData *cause, const char *what, const char *todo)
{
	ereport(ERROR,
			(errcode(cause->sqlerrcode),
			 errmsg("%s", cause->message),
			 errdetail("%s%s%s", cause->detail ? cause->detail : "",
					   cause->detail ? "  " : "", what),
			 errhint("Dynamo has no two-phase commit: the keys written keep their new versions, each whole; %s",
					 todo),
			 cause->context ? errcontext("%s", cause->context) : 0));
}

/*
 * Send every queued write and wait for all replies; raise one error for
 * all that failed (see the file comment).
 */
static void
queue_flush(void)
{
	long		total = hash_get_num_entries(queue->entries);
	MemoryContext cxt = AllocSetContextCreate(queue->cxt, "dynamo_fdw commit",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	HASH_SEQ_STATUS scan;
	DynQueueEntry *e;
	Flush	   *fl = palloc0(sizeof(Flush));	/* in memory: read after a longjmp */

	fl->w = MemoryContextAllocHuge(cxt, sizeof(FlushWrite) * Max(total, 1));
	initStringInfo(&fl->named);
	PG_TRY();
	{
		hash_seq_init(&scan, queue->entries);
		while ((e = hash_seq_search(&scan)) != NULL)
		{
			DynQueued  *v = e->top;
			FlushWrite *f = &fl->w[fl->sent];
			char	   *bucket = pnstrdup(e->key.ptr, e->bucketlen);
			dyn_put_req put;

			if (v->deleted && v->contextlen == 0)
			{
				/* a delete that covers nothing: the key was only ever queued */
				fl->written++;
				continue;
			}
			put.bucket = dyn_slice_str(bucket);
			put.key = entry_key(e);
			put.context = (dyn_slice) {(const uint8_t *) v->context, v->contextlen};
			put.value = (dyn_slice) {(const uint8_t *) v->value, v->valuelen};
			put.w = (uint8) v->w;
			f->e = e;
			DynInitRequest(&f->req, cxt);
			DynSendPut(e->key.conn, DynNodeForKey(e->key.conn, bucket, put.key), &f->req,
					   &put, v->deleted);
			fl->sent++;
			if (fl->sent - fl->awaited >= DYN_XACT_WINDOW)
				flush_await(fl);
		}
		while (fl->awaited < fl->sent)
			flush_await(fl);
	}
	PG_CATCH();
	{
		flush_interrupted(fl, total, cxt);
	}
	PG_END_TRY();
	if (fl->failed > 0)
		flush_report(fl, total, cxt);
	if (fl->write_backs_failed > 0)
		ereport(WARNING,
				(errmsg("%ld merged keys could not be written back at COMMIT",
						fl->write_backs_failed),
				 errdetail("They keep their siblings; the next read merges them again.")));
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/*
 * Whether all the queue holds is merges' write-backs (best effort: a
 * transaction that only read may still be prepared, without them).
 */
static bool
queue_only_write_backs(void)
{
	HASH_SEQ_STATUS scan;
	DynQueueEntry *e;

	hash_seq_init(&scan, queue->entries);
	while ((e = hash_seq_search(&scan)) != NULL)
		if (!e->top->best_effort)
		{
			hash_seq_term(&scan);
			return false;
		}
	return true;
}

/*
 * Pre-commit sends the queue; pre-prepare refuses it, unless it holds only
 * write-backs, which it drops; commit and abort forget it (after an abort
 * nothing was sent).
 */
static void
xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (queue != NULL && hash_get_num_entries(queue->entries) > 0)
				queue_flush();
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (queue != NULL && queue_only_write_backs())
				queue_discard();
			if (queue != NULL && hash_get_num_entries(queue->entries) > 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has queued writes to dynamo_fdw foreign tables"),
						 errdetail("The cluster has no two-phase commit: the writes could not be kept for COMMIT PREPARED."),
						 errhint("Commit without PREPARE, or write with dynamo_fdw.write_mode = 'immediate'.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			queue_discard();
			break;
		default:
			break;
	}
}

/*
 * A subtransaction ends: on abort its versions (and deeper ones) are
 * popped, bringing back those below; on commit they become the parent's.
 */
static void
subxact_callback(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	bool		any = false;
	HASH_SEQ_STATUS scan;
	DynQueueEntry *e;

	if ((event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB) ||
		queue == NULL)
		return;
	for (int l = level; l < queue->nlevels; l++)
		any |= queue->level_versions[l] > 0;
	if (!any)
		return;
	hash_seq_init(&scan, queue->entries);
	while ((e = hash_seq_search(&scan)) != NULL)
	{
		if (event == SUBXACT_EVENT_COMMIT_SUB)
		{
			/* versions are pushed deepest-last: the level's are on top */
			for (DynQueued *v = e->top; v != NULL && v->level >= level; v = v->older)
			{
				queue_count_level(v->level, -1);
				v->level = level - 1;
				queue_count_level(v->level, 1);
				/* a version of the same command at the parent level is replaced */
				if (v->older && v->older->level == v->level && v->older->cid == v->cid)
				{
					DynQueued  *dup = v->older;

					v->older = dup->older;
					version_free(dup);
				}
			}
			continue;
		}
		while (e->top != NULL && e->top->level >= level)
		{
			DynQueued  *v = e->top;

			e->top = v->older;
			version_free(v);
		}
		/* a key written only in the aborted subtransaction leaves the queue */
		if (e->top == NULL)
		{
			char	   *ptr = e->key.ptr;

			queue->bytes -= e->key.len + sizeof(DynQueueEntry);
			queue_bucket(e->key.conn, e->key.ptr, e->bucketlen, false)->keys--;
			hash_search(queue->entries, &e->key, HASH_REMOVE, NULL);
			pfree(ptr);
		}
	}
}
