/*-------------------------------------------------------------------------
 *
 * fetch.c
 *		  Reading keys from the cluster, one (key, sibling set) at a time:
 *		  quorum GETs of a list of keys, pipelined on the connection, and
 *		  coverage scans that read every partition once, page by page.
 *
 * A key fetch sends up to `window` GETs ahead of the one it hands out, each
 * to the node routing picks for its key, and hands the replies out in key
 * order (the keys are sorted and made unique first: `key IN ('a', 'a')` is
 * one key).  A GET whose node fails is sent again to another node (reads
 * are idempotent); an error reply -- a quorum not met -- is raised.
 *
 * A coverage scan walks partitions 0 .. Q-1.  Each partition is read from
 * R of its replicas (the first R that are up and connect; R=1 reads one),
 * each a stream of SCAN pages of at most fetch_size keys resumed after the
 * last key of the page before; the next page of a stream is asked for as
 * soon as a page arrives, and the first pages of the next few partitions
 * are asked for ahead, so the network works while rows are built.  A
 * replica's pages are in key order (node/src/scan.c: one ordered engine
 * range), so the streams merge by key: the smallest key among their heads
 * is handed out with the sibling sets of every stream that has it merged
 * (dyn_object_merge, as read repair merges), so a write that R replicas
 * acknowledged is seen when it is on any one read.  A replica that fails
 * mid-partition is replaced by another replica the partition is not read
 * from yet, resuming after the last key received from it.
 *
 * A key fetch can also keep what it read for later fetches (batched
 * lookups under a nested loop, batch.c): DynFetchCollect reads every key
 * and keeps each reply's encoded sibling set by key, and a fetch given
 * that batch (DynFetchUseBatch) serves the keys it holds from it, without
 * a request, and sends the others.
 *
 * Sibling sets are decoded with libdynamo (malloc'd sibling arrays); a
 * reset callback on the fetch's memory context frees the current one even
 * when an error unwinds the scan.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "dynamo_fdw.h"
#include "dynamo/ring.h"
#include "dynamo/wire.h"

/* How many times one key or page is sent before its failure is raised. */
#define DYN_FETCH_ATTEMPTS		3
/* Partitions whose first page is asked for ahead of the one being read. */
#define DYN_SCAN_PREFETCH		4

typedef enum FetchKind
{
	FETCH_KEYS,
	FETCH_COVERAGE
} FetchKind;

/* One key of a key fetch and its GET (or its reply from a batch). */
typedef struct FetchKey
{
	char	   *key;
	size_t		len;
	int			attempts;
	const DynBatchEntry *cached;	/* served from the batch: no GET */
	DynRequest	req;
} FetchKey;

/*
 * A key's encoded sibling set kept by a batch (DynFetchCollect), by key:
 * what a GET of it replied, tombstones included.
 */
struct DynBatchEntry
{
	DynBytesKey key;			/* hash key: the batch's copy of the key */
	uint8	   *object;
	size_t		len;
};

/* The replies of a batch of keys, read once (DynFetchCollect). */
struct DynFetchBatch
{
	HTAB	   *entries;		/* DynBatchEntry by key */
	MemoryContext cxt;			/* where the entries' bytes are */
	uint64		keys;
	uint64		requests;
};

/*
 * One page request of a coverage scan: the key it resumes after (kept for
 * a resend to another replica) and the request.
 */
typedef struct ScanPage
{
	bool		inflight;
	char	   *after;
	size_t		afterlen;
	int			attempts;
	DynRequest	req;
} ScanPage;

/*
 * One replica's stream of a partition: the page being handed out (a
 * reader over its items), the next page in flight, and the head -- the
 * next item not merged into a row yet.
 */
typedef struct ScanStream
{
	int			node;
	int			member;
	ScanPage	page[2];
	int			cur;			/* page[cur] is being read */
	bool		reading;
	int			left;			/* items left in page[cur] */
	dyn_reader	rd;				/* over page[cur]'s items */
	bool		done;			/* no keys left */
	bool		has_head;
	dyn_slice	head_key;		/* into page[cur] */
	dyn_slice	head_obj;
} ScanStream;

/* One partition of a coverage scan: its streams, one per replica read. */
typedef struct ScanPart
{
	bool		started;
	ScanStream *s;				/* [f->r] */
} ScanPart;

/* A fetch in progress (see the file comment). */
struct DynFetch
{
	DynConn    *conn;
	FetchKind	kind;
	MemoryContext cxt;
	char	   *bucket;
	uint64		nrequests;
	/* the current item; its object is freed by the next call or the reset */
	DynFetchItem item;
	bool		have_item;
	bool		keep_dead;		/* hand out absent and deleted keys too */
	bool		nowait;			/* DynFetchNextNoWait: never wait for a reply */
	bool		blocked;		/* ... and the next one needs a reply not in yet */
	DynFetchBatch *collect;		/* keep every reply here (DynFetchCollect) */
	const DynFetchBatch *batch; /* serve the keys it holds from it */
	MemoryContextCallback free_cb;
	/* keys */
	int			r;
	int			window;
	FetchKey   *keys;
	int			nkeys;
	int			capkeys;
	bool		sorted;
	int			next_send;
	int			next_out;
	/* coverage (r: replicas read per partition) */
	int			fetch_size;
	bool		no_values;		/* pages with every value empty (a count) */
	uint32		q;
	uint32		cur_part;
	ScanPart   *parts;
};

static void fetch_free_item(void *arg);
static int	fetch_key_cmp(const void *a, const void *b);
static bool fetch_send_key(DynFetch *f, FetchKey *k);
static bool fetch_next_key(DynFetch *f);
static void fetch_sort_keys(DynFetch *f);
static void fetch_send_window(DynFetch *f);
static const DynRequest *coverage_blocker(DynFetch *f);
static bool fetch_would_wait(DynFetch *f, DynRequest *req);
static bool fetch_decode(DynFetch *f, FetchKey *k, dyn_slice object);
static void batch_keep(DynFetch *f, FetchKey *k, dyn_slice object);
static void scan_start(DynFetch *f, uint32 p);
static void scan_send(DynFetch *f, uint32 p, ScanStream *st, int slot, const char *after,
					  size_t afterlen);
static bool scan_receive(DynFetch *f, uint32 p, ScanStream *st);
static bool scan_head(DynFetch *f, uint32 p, ScanStream *st);
static void scan_merge_head(DynFetch *f, uint32 p, ScanStream *st, bool first);
static bool fetch_next_coverage(DynFetch *f);
static DynFetch *fetch_create(DynConn *conn, FetchKind kind, const char *bucket,
							  MemoryContext cxt);

/* Free the current item's sibling array (also from the memory context reset). */
static void
fetch_free_item(void *arg)
{
	DynFetch   *f = (DynFetch *) arg;

	if (f->have_item)
		dyn_object_free(&f->item.obj);
	f->have_item = false;
}

/* Common set-up: a context of its own under cxt, with the reset callback. */
static DynFetch *
fetch_create(DynConn *conn, FetchKind kind, const char *bucket, MemoryContext cxt)
{
	MemoryContext fcxt = AllocSetContextCreate(cxt, "dynamo_fdw fetch",
											   ALLOCSET_DEFAULT_SIZES);
	DynFetch   *f = MemoryContextAllocZero(fcxt, sizeof(DynFetch));

	f->conn = conn;
	f->kind = kind;
	f->cxt = fcxt;
	f->bucket = MemoryContextStrdup(fcxt, bucket);
	f->free_cb.func = fetch_free_item;
	f->free_cb.arg = f;
	MemoryContextRegisterResetCallback(fcxt, &f->free_cb);
	return f;
}

/*
 * Start a key fetch: GETs with this R (0: the cluster default), at most
 * window of them in flight.  Add the keys with DynFetchAddKey before the
 * first DynFetchNext.
 */
DynFetch *
DynFetchBeginKeys(DynConn *conn, const char *bucket, int r, int window, MemoryContext cxt)
{
	DynFetch   *f = fetch_create(conn, FETCH_KEYS, bucket, cxt);

	f->r = r;
	f->window = Max(window, 1);
	return f;
}

/* Add a key (copied).  Keys that cannot exist (empty, too long) are skipped. */
void
DynFetchAddKey(DynFetch *f, const char *key, size_t len)
{
	FetchKey   *k;

	Assert(f->kind == FETCH_KEYS && !f->sorted);
	if (len == 0 || len > DYN_KEY_MAX)
		return;
	if (f->nkeys == f->capkeys)
	{
		f->capkeys = f->capkeys ? f->capkeys * 2 : 8;
		f->keys = f->keys
			? repalloc_huge(f->keys, sizeof(FetchKey) * f->capkeys)
			: MemoryContextAllocHuge(f->cxt, sizeof(FetchKey) * f->capkeys);
	}
	k = &f->keys[f->nkeys++];
	memset(k, 0, sizeof(*k));
	k->key = MemoryContextAlloc(f->cxt, len + 1);
	memcpy(k->key, key, len);
	k->key[len] = '\0';
	k->len = len;
}

/*
 * Hand out every key asked for, and every key a coverage scan finds, also
 * when it is absent or every sibling is a tombstone (readers that lay the
 * transaction's own writes over what the cluster holds need them).
 */
void
DynFetchKeepDead(DynFetch *f)
{
	f->keep_dead = true;
}

/* The keys a key fetch asks for (after duplicates are removed, once started). */
int
DynFetchKeyCount(const DynFetch *f)
{
	return f->nkeys;
}

/* Requests sent so far (GETs, or SCAN pages). */
uint64
DynFetchRequests(const DynFetch *f)
{
	return f->nrequests;
}

/* Byte order of two keys, the shorter first on a common prefix. */
static int
fetch_key_cmp(const void *a, const void *b)
{
	const FetchKey *x = a;
	const FetchKey *y = b;
	int			c = memcmp(x->key, y->key, Min(x->len, y->len));

	if (c != 0)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

/*
 * Send k's GET to the node routing picks for it (a resend never to the
 * node it failed on; false when there is no other).
 */
static bool
fetch_send_key(DynFetch *f, FetchKey *k)
{
	dyn_get_req get;
	dyn_slice	key = {(const uint8_t *) k->key, k->len};
	int			node;

	if (f->batch != NULL && k->attempts == 0)
	{
		DynBytesKey hk = {k->key, k->len};

		k->cached = hash_search(f->batch->entries, &hk, HASH_FIND, NULL);
		if (k->cached != NULL)
			return true;
	}
	node = k->attempts == 0 ? DynNodeForKey(f->conn, f->bucket, key)
		: DynNodeForKeyAvoiding(f->conn, f->bucket, key, k->req.node);
	if (node < 0)
		return false;

	get.bucket = dyn_slice_str(f->bucket);
	get.key = key;
	get.r = (uint8) f->r;
	DynInitRequest(&k->req, f->cxt);
	k->attempts++;
	f->nrequests++;
	DynSendGet(f->conn, node, &k->req, &get);
	return true;
}

/* Sort the keys and remove duplicates, once, before the first send. */
static void
fetch_sort_keys(DynFetch *f)
{
	int			n = 0;

	if (f->sorted)
		return;
	if (f->nkeys > 1)
	{
		qsort(f->keys, f->nkeys, sizeof(FetchKey), fetch_key_cmp);
		for (int i = 0; i < f->nkeys; i++)
			if (n == 0 || fetch_key_cmp(&f->keys[n - 1], &f->keys[i]) != 0)
				f->keys[n++] = f->keys[i];
		f->nkeys = n;
	}
	f->sorted = true;
}

/* Send the GETs of the window ahead of the next key handed out. */
static void
fetch_send_window(DynFetch *f)
{
	while (f->next_send < f->nkeys && f->next_send < f->next_out + f->window)
		(void) fetch_send_key(f, &f->keys[f->next_send++]);
}

/*
 * The next key that exists (has a live sibling) into f->item; false when
 * the keys are exhausted.
 */
static bool
fetch_next_key(DynFetch *f)
{
	fetch_sort_keys(f);
	while (f->next_out < f->nkeys)
	{
		FetchKey   *k = &f->keys[f->next_out];
		dyn_slice	object;

		fetch_send_window(f);
		if (k->cached != NULL)
		{
			f->next_out++;
			if (!fetch_decode(f, k, (dyn_slice) {k->cached->object, k->cached->len}))
				continue;
			return true;
		}
		if (fetch_would_wait(f, &k->req))
			return false;
		DynAwait(f->conn, &k->req);
		if (k->req.failed && k->req.fail_code == 0 && k->attempts < DYN_FETCH_ATTEMPTS)
		{
			/* the node failed (it is now avoided): ask another, if any */
			FetchKey	failed = *k;

			if (fetch_send_key(f, k))
			{
				DynReleaseReply(&failed.req);
				continue;
			}
			*k = failed;
		}
		if (k->req.failed || k->req.reply_type != DYN_MSG_GET_REPLY)
			DynReportFailure(f->conn, &k->req, "get", f->bucket,
							 (dyn_slice) {(const uint8_t *) k->key, k->len});
		f->next_out++;
		if (dyn_get_reply_decode((dyn_slice) {k->req.body, k->req.len}, &object) != DYN_OK)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("node %s sent a malformed reply to the get of key \"%s\"",
							DynNodeAddress(f->conn, k->req.node), k->key)));
		if (f->collect != NULL)
			batch_keep(f, k, object);
		if (!fetch_decode(f, k, object))
		{
			DynReleaseReply(&k->req);
			continue;
		}
		return true;
	}
	return false;
}

/*
 * Decode k's sibling set into f->item; false (nothing kept) when the key
 * is absent or deleted and the fetch hands out only live keys.
 */
static bool
fetch_decode(DynFetch *f, FetchKey *k, dyn_slice object)
{
	if (dyn_object_decode(object, &f->item.obj) != DYN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 k->cached != NULL
				 ? errmsg("the batched reply to the get of key \"%s\" is malformed", k->key)
				 : errmsg("node %s sent a malformed reply to the get of key \"%s\"",
						  DynNodeAddress(f->conn, k->req.node), k->key)));
	f->have_item = true;
	if (!f->keep_dead && dyn_object_live(&f->item.obj) == 0)
	{
		/* absent, or deleted: every sibling a tombstone */
		fetch_free_item(f);
		return false;
	}
	f->item.key = (dyn_slice) {(const uint8_t *) k->key, k->len};
	return true;
}

/* Keep k's encoded sibling set in the batch being collected (copied). */
static void
batch_keep(DynFetch *f, FetchKey *k, dyn_slice object)
{
	DynFetchBatch *b = f->collect;
	MemoryContext cxt = b->cxt;
	DynBytesKey hk = {k->key, k->len};
	bool		found;
	DynBatchEntry *e = hash_search(b->entries, &hk, HASH_ENTER, &found);

	if (found)
		return;
	e->key.ptr = MemoryContextAlloc(cxt, k->len + 1);
	memcpy(e->key.ptr, k->key, k->len + 1);
	e->key.len = k->len;
	e->object = MemoryContextAlloc(cxt, Max(object.len, 1));
	memcpy(e->object, object.ptr, object.len);
	e->len = object.len;
}

/*
 * Read every key of the key fetch f (pipelined, as DynFetchNext would)
 * and keep each one's reply in a batch allocated in cxt, absent and
 * deleted keys included; then end f.  The batch serves later fetches of
 * the same keys (DynFetchUseBatch).
 */
DynFetchBatch *
DynFetchCollect(DynFetch *f, MemoryContext cxt)
{
	DynFetchBatch *b = MemoryContextAllocZero(cxt, sizeof(DynFetchBatch));
	DynFetchItem *item;

	Assert(f->kind == FETCH_KEYS && f->next_out == 0);
	b->cxt = cxt;
	b->entries = DynBytesHashCreate("dynamo_fdw batch", f->nkeys,
									sizeof(DynBatchEntry), cxt);
	f->collect = b;
	f->keep_dead = true;
	while (DynFetchNext(f, &item))
		;
	b->keys = f->nkeys;
	b->requests = f->nrequests;
	DynFetchEnd(f);
	return b;
}

/*
 * Serve the keys of key fetch f that batch b holds from b (no request);
 * b must outlive f.
 */
void
DynFetchUseBatch(DynFetch *f, const DynFetchBatch *b)
{
	Assert(f->kind == FETCH_KEYS && f->next_send == 0);
	f->batch = b;
}

/* The keys a batch read and the GETs that took (for EXPLAIN ANALYZE). */
void
DynFetchBatchCounts(const DynFetchBatch *b, uint64 *keys, uint64 *requests)
{
	*keys = b->keys;
	*requests = b->requests;
}

/*
 * Start a coverage scan of bucket: every partition once, read from r of
 * its replicas (0: the cluster's default R), pages of at most fetch_size
 * keys.
 */
DynFetch *
DynFetchBeginCoverage(DynConn *conn, const char *bucket, int r, int fetch_size,
					  MemoryContext cxt)
{
	DynFetch   *f = fetch_create(conn, FETCH_COVERAGE, bucket, cxt);
	const DynClusterInfo *info = DynGetClusterInfo(conn, false);

	f->fetch_size = Min(Max(fetch_size, 1), DYN_FETCH_SIZE_MAX);
	f->r = Max(r > 0 ? r : info->default_r, 1);
	f->q = info->q;
	f->parts = MemoryContextAllocZero(f->cxt, sizeof(ScanPart) * Max(f->q, 1));
	return f;
}

/*
 * Ask a coverage scan's pages without values (before its first item): the
 * items have every sibling, clock and tombstone, and empty values.
 */
void
DynFetchNoValues(DynFetch *f)
{
	Assert(f->kind == FETCH_COVERAGE && !f->have_item);
	f->no_values = true;
}

/* The replicas a coverage scan reads each partition from. */
int
DynFetchReplicas(const DynFetch *f)
{
	return f->r;
}

/* Ask r replicas of partition p for their first page. */
static void
scan_start(DynFetch *f, uint32 p)
{
	ScanPart   *part = &f->parts[p];
	int			nodes[DYN_RING_N_MAX];

	part->started = true;
	part->s = MemoryContextAllocZero(f->cxt, sizeof(ScanStream) * f->r);
	for (int i = 0; i < f->r; i++)
	{
		ScanStream *st = &part->s[i];

		st->node = i < DYN_RING_N_MAX
			? DynNodeForPartition(f->conn, p, nodes, i, &st->member) : -1;
		if (st->node < 0)
		{
			if (i == 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
						 errmsg("no replica of partition %u of server \"%s\" can be reached",
								p, DynConnServerName(f->conn)),
						 errdetail("A full scan reads every partition from one of its replicas.")));
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("only %d replicas of partition %u of server \"%s\" can be reached, and R is %d",
							i, p, DynConnServerName(f->conn), f->r),
					 errdetail("A full scan with R=%d reads every partition from %d of its replicas.",
							   f->r, f->r),
					 errhint("Lower R (dynamo_fdw.r, or the table's or server's option r) to read from fewer.")));
		}
		nodes[i] = st->node;
		scan_send(f, p, st, 0, NULL, 0);
	}
}

/* Send a stream's page request of slot, resuming after the given key. */
static void
scan_send(DynFetch *f, uint32 p, ScanStream *st, int slot, const char *after,
		  size_t afterlen)
{
	ScanPage   *page = &st->page[slot];
	dyn_scan_req scan;

	if (page->after != after)
	{
		if (page->after)
			pfree(page->after);
		page->after = NULL;
		page->afterlen = 0;
		if (afterlen > 0)
		{
			page->after = MemoryContextAlloc(f->cxt, afterlen);
			memcpy(page->after, after, afterlen);
			page->afterlen = afterlen;
		}
	}
	scan.partition = (uint16) p;
	scan.bucket = dyn_slice_str(f->bucket);
	scan.after = (dyn_slice) {(const uint8_t *) page->after, page->afterlen};
	scan.limit = (uint16) f->fetch_size;
	scan.flags = f->no_values ? DYN_SCAN_NO_VALUES : 0;
	DynInitRequest(&page->req, f->cxt);
	page->inflight = true;
	page->attempts++;
	f->nrequests++;
	DynSendScan(f->conn, st->node, &page->req, &scan);
}

/*
 * Wait for a stream's page in flight and make it the one being read; the
 * page after it is asked for at once.  A replica that failed is replaced
 * (the page is asked again of a replica the partition is not read from).
 * false when the stream has no page in flight.
 */
static bool
scan_receive(DynFetch *f, uint32 p, ScanStream *st)
{
	ScanPart   *part = &f->parts[p];
	int			slot = st->reading ? 1 - st->cur : st->cur;
	ScanPage   *page = &st->page[slot];
	dyn_scan_reply reply;
	dyn_reader	rd;
	dyn_slice	key = {NULL, 0};
	dyn_slice	object;

	if (!page->inflight)
		return false;
	for (;;)
	{
		if (fetch_would_wait(f, &page->req))
			return false;		/* not over: blocked (f->blocked) */
		DynAwait(f->conn, &page->req);
		if (page->req.failed && page->req.fail_code == 0 && page->attempts < DYN_FETCH_ATTEMPTS)
		{
			/* the replica failed (it is now avoided): ask another */
			int			avoid[DYN_RING_N_MAX];
			int			navoid = 0;
			int			node;

			for (int i = 0; i < f->r && navoid < DYN_RING_N_MAX; i++)
				avoid[navoid++] = part->s[i].node;
			node = DynNodeForPartition(f->conn, p, avoid, navoid, &st->member);
			if (node < 0)
				DynReportFailure(f->conn, &page->req,
								 psprintf("scan of partition %u of bucket \"%s\"", p, f->bucket),
								 NULL, (dyn_slice) {NULL, 0});
			DynReleaseReply(&page->req);
			st->node = node;
			scan_send(f, p, st, slot, page->after, page->afterlen);
			continue;
		}
		if (page->req.failed || page->req.reply_type != DYN_MSG_SCAN_REPLY)
			DynReportFailure(f->conn, &page->req,
							 psprintf("scan of partition %u of bucket \"%s\"", p, f->bucket),
							 NULL, (dyn_slice) {NULL, 0});
		break;
	}
	page->inflight = false;
	if (dyn_scan_reply_decode((dyn_slice) {page->req.body, page->req.len}, &reply) != DYN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("node %s sent a malformed scan page for partition %u",
						DynNodeAddress(f->conn, st->node), p)));
	/* the page before is done with: this one is read now */
	if (st->reading)
		DynReleaseReply(&st->page[st->cur].req);
	st->cur = slot;
	st->reading = true;
	st->left = reply.count;
	dyn_reader_init(&st->rd, reply.items);
	/* find the page's last key and ask for the page after it now */
	if (reply.more && reply.count > 0)
	{
		dyn_reader_init(&rd, reply.items);
		for (int i = 0; i < reply.count; i++)
			(void) dyn_scan_next(&rd, &key, &object);
		scan_send(f, p, st, 1 - slot, (const char *) key.ptr, key.len);
	}
	return true;
}

/*
 * Make sure a stream has its head (the next item of its replica), reading
 * the next page when the current one is used up; false when the stream is
 * done.
 */
static bool
scan_head(DynFetch *f, uint32 p, ScanStream *st)
{
	while (!st->has_head && !st->done)
	{
		if (!st->reading || st->left == 0)
		{
			if (!scan_receive(f, p, st))
			{
				if (f->blocked)
					return false;
				/* no page in flight: the replica has no keys left */
				if (st->reading)
					DynReleaseReply(&st->page[st->cur].req);
				st->reading = false;
				st->done = true;
			}
			continue;
		}
		st->left--;
		if (dyn_scan_next(&st->rd, &st->head_key, &st->head_obj) != DYN_OK)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("node %s sent a malformed scan page for partition %u",
							DynNodeAddress(f->conn, st->node), p)));
		st->has_head = true;
	}
	return st->has_head;
}

/*
 * Take a stream's head into the item: the first decoded as it is, the
 * others merged into it (the page bytes the values point into stay until
 * the next DynFetchNext).
 */
static void
scan_merge_head(DynFetch *f, uint32 p, ScanStream *st, bool first)
{
	dyn_object	other;
	int			rc;

	st->has_head = false;
	dyn_object_init(&other);
	if (first)
	{
		rc = dyn_object_decode(st->head_obj, &f->item.obj);
		if (rc == DYN_OK)
			f->have_item = true;
	}
	else if ((rc = dyn_object_decode(st->head_obj, &other)) == DYN_OK)
	{
		rc = dyn_object_merge(&f->item.obj, &other, NULL);
		dyn_object_free(&other);
		if (rc == DYN_ERR_TOOBIG)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("the replicas of key \"%s\" in bucket \"%s\" hold more than %d versions together",
							DynKeyForMessage(st->head_key), f->bucket, DYN_SIBLINGS_MAX)));
		if (rc == DYN_ERR_NOMEM)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	if (rc != DYN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("node %s sent a malformed scan page for partition %u",
						DynNodeAddress(f->conn, st->node), p)));
}

/*
 * The next key with a live sibling, in partition order and key order
 * within a partition, into f->item; false when every partition has been
 * read.
 */
static bool
fetch_next_coverage(DynFetch *f)
{
	while (f->cur_part < f->q)
	{
		uint32		p = f->cur_part;
		ScanPart   *part = &f->parts[p];
		ScanStream *min = NULL;

		for (uint32 ahead = p; ahead < f->q && ahead < p + DYN_SCAN_PREFETCH; ahead++)
			if (!f->parts[ahead].started)
				scan_start(f, ahead);
		/* the smallest key among the streams' heads */
		for (int i = 0; i < f->r; i++)
		{
			ScanStream *st = &part->s[i];

			if (scan_head(f, p, st) &&
				(min == NULL || dyn_slice_cmp(st->head_key, min->head_key) < 0))
				min = st;
		}
		if (f->blocked)
			return false;		/* every stream's head is needed for the smallest */
		if (min == NULL)
		{
			f->cur_part++;		/* every stream is done */
			continue;
		}
		f->item.key = min->head_key;
		scan_merge_head(f, p, min, true);
		for (int i = 0; i < f->r; i++)
		{
			ScanStream *st = &part->s[i];

			if (st != min && st->has_head && dyn_slice_cmp(st->head_key, f->item.key) == 0)
				scan_merge_head(f, p, st, false);
		}
		if (!f->keep_dead && dyn_object_live(&f->item.obj) == 0)
		{
			fetch_free_item(f);
			continue;
		}
		return true;
	}
	return false;
}

/*
 * DynFetchNext that never waits: false with *blocked when the next key
 * needs a reply that has not arrived (nothing is lost: the next call goes
 * on from there), false without it at the end.  Nothing is read from the
 * network either (an async scan: another scan's reply must stay on the
 * socket it waits on).
 */
bool
DynFetchNextNoWait(DynFetch *f, DynFetchItem **item, bool *blocked)
{
	bool		found;

	f->nowait = true;
	found = DynFetchNext(f, item);
	f->nowait = false;
	*blocked = !found && f->blocked;
	return found;
}

/* In a DynFetchNextNoWait: whether req is not in yet (the fetch is blocked). */
static bool
fetch_would_wait(DynFetch *f, DynRequest *req)
{
	if (!f->nowait || DynCheck(f->conn, req))
		return false;
	f->blocked = true;
	return true;
}

/*
 * The request the next DynFetchNext would wait for, or NULL when it would
 * not wait (a reply or page at hand, a failure to handle, or the end).  The
 * requests it needs are sent first (queued on the connection: the caller
 * flushes them, DynPoll).  An async scan (scan.c) waits for that request's
 * node before asking for its next row.  A key or page that fails is
 * handled (resent, or raised) by DynFetchNext.
 */
const DynRequest *
DynFetchBlocker(DynFetch *f)
{
	if (f->kind == FETCH_COVERAGE)
		return coverage_blocker(f);
	fetch_sort_keys(f);
	fetch_send_window(f);
	if (f->next_out >= f->nkeys)
		return NULL;
	{
		FetchKey   *k = &f->keys[f->next_out];

		return k->cached != NULL || DynCheck(f->conn, &k->req) ? NULL : &k->req;
	}
}

/*
 * DynFetchBlocker of a coverage scan: the page in flight of the first
 * stream of the current partition that has no item at hand; a partition
 * whose streams are all done passes to the next, which is started if need
 * be (as fetch_next_coverage would).
 */
static const DynRequest *
coverage_blocker(DynFetch *f)
{
	for (uint32 p = f->cur_part; p < f->q; p++)
	{
		ScanPart   *part = &f->parts[p];
		bool		live = false;

		for (uint32 ahead = p; ahead < f->q && ahead < p + DYN_SCAN_PREFETCH; ahead++)
			if (!f->parts[ahead].started)
				scan_start(f, ahead);
		/* the smallest key needs every stream's head: a page of any */
		for (int i = 0; i < f->r; i++)
		{
			ScanStream *st = &part->s[i];
			ScanPage   *page = &st->page[st->reading ? 1 - st->cur : st->cur];

			if (st->has_head || (st->reading && st->left > 0))
				live = true;	/* an item at hand */
			else if (st->done || !page->inflight)
				continue;		/* this stream is over (or will be found so) */
			else if (!DynCheck(f->conn, &page->req))
				return &page->req;
			else
				live = true;	/* a page has arrived */
		}
		if (live)
			return NULL;
	}
	return NULL;
}

/*
 * The next key with at least one live sibling (with DynFetchKeepDead, the
 * next key); *item (key and sibling set) stays valid until the next call
 * or DynFetchEnd.  false at the end.
 */
bool
DynFetchNext(DynFetch *f, DynFetchItem **item)
{
	bool		found;

	f->blocked = false;
	fetch_free_item(f);
	if (f->kind == FETCH_KEYS && f->next_out > 0)
		DynReleaseReply(&f->keys[f->next_out - 1].req);
	found = f->kind == FETCH_KEYS ? fetch_next_key(f) : fetch_next_coverage(f);
	*item = found ? &f->item : NULL;
	return found;
}

/* Forget whatever is still in flight and free the fetch. */
void
DynFetchEnd(DynFetch *f)
{
	if (f->kind == FETCH_KEYS)
	{
		for (int i = f->next_out; i < f->next_send; i++)
			DynForget(f->conn, &f->keys[i].req);
	}
	else
	{
		for (uint32 p = f->cur_part; p < f->q && f->parts[p].started; p++)
			for (int i = 0; i < f->r; i++)
				for (int s = 0; s < 2; s++)
					if (f->parts[p].s[i].page[s].inflight)
						DynForget(f->conn, &f->parts[p].s[i].page[s].req);
	}
	MemoryContextDelete(f->cxt);
}
