/*
 * engine_wiredtiger.c
 *		The default storage engine: WiredTiger row-store tables, one per
 *		namespace, with commit durability taken from the node's setting.
 *
 * dynamod drives the engine from its single event-loop thread, so one
 * WT_SESSION serves every call and each namespace keeps one cursor open for
 * point reads and writes.  Keys and values cross the API as WT_ITEM views of
 * the caller's bytes, so get, put and delete allocate nothing of their own.
 *
 * Durability maps onto WiredTiger's log:
 *	NONE	no log; data reaches disk at the periodic and the closing checkpoint.
 *	FLUSH	log on, each commit written to the OS before it returns
 *			(transaction_sync method=none): survives kill -9, not power loss.
 *	FSYNC	log on, each commit fsynced before it returns (method=fsync).
 * A write outside a batch is an implicit transaction of its own and commits
 * under the same connection-wide transaction_sync setting, so it gets the
 * same durability as a batch.
 *
 * Group commit (cfg->group_commit, FLUSH and FSYNC): transaction_sync is
 * off, so a commit only puts its record in the log buffer, and wt_sync
 * makes everything committed before it durable with one log_flush
 * (sync=off: written to the OS; sync=on: fsynced).  log_flush runs on a
 * session of its own, so with FSYNC it can run on another thread while
 * the loop thread goes on committing on the main session.  Since every
 * write is then its own transaction, a write WiredTiger refuses rolls
 * back that write alone.  A checkpoint runs every minute in all modes:
 * without the log it bounds what a crash loses, with the log it bounds
 * recovery time and lets old log files be archived.
 *
 * Write-behind (engine.h, writebehind.h): the writer thread gets a
 * session and cursors of its own (wt_writer_open), and stores each batch
 * as one transaction.  WiredTiger sessions are single-threaded, cursors
 * belong to their session, and the connection is shared, so the loop's
 * session goes on reading while the writer commits; a read that starts
 * after a commit sees it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <wiredtiger.h>

#include "engine.h"
#include "writebehind.h"

/* The cache WiredTiger gets when the node does not say (--cache-mb 0). */
#define WT_DEFAULT_CACHE_MB 256

/*
 * The object buffer's default share of --cache-mb (engine.c, objbuf.h):
 * one eighth.  A GET that finds its key there skips the B-tree search
 * (__wt_row_search and the page's insert list: about half of a pipelined
 * GET's CPU); an eighth of the default cache holds some 150,000 objects
 * of 100 bytes, and the rest stays WiredTiger's.
 */
#define WT_BUFFER_SHARE 8

/*
 * The allocator's overhead, in percent, that WiredTiger adds to the bytes
 * it allocated when it weighs its cache against cache_size (its default is
 * 8).  What glibc really keeps beside the cache, in holes between live
 * pages, was 60-70 % of the cache's bytes under a long mixed run (4 M keys,
 * 256 MiB): with 30, the most WiredTiger accepts, the pages themselves are
 * held to about 77 % of cache_size and the resident size stays within
 * cache_size + 64 MiB (README "Memory").  The statistics it reports
 * (STATUS engine_cache) include the 30 %.
 */
#define WT_CACHE_OVERHEAD	30

/*
 * When WiredTiger's eviction threads start writing dirty pages out, and
 * when the threads that modify data must help, in percent of the cache
 * (its defaults are 5 and 20).  At 5 % a node whose data fits its cache
 * many times over kept one eviction thread reconciling the pages the next
 * writes dirtied again: 35 % of a pipelined PUT load's CPU (4 us per PUT
 * beside the loop thread's 7), and the open-loop p99 of those PUTs grew by
 * the reconciliations the loop thread was drawn into.  Dirty pages are
 * written by the checkpoints anyway (WT_CHECKPOINT_WAIT), and are already
 * durable in the log with --durability flush or fsync; eviction is left
 * to what the cache needs.  The cache's bound is unchanged: dirty pages
 * count in it like clean ones; past 30 % of it the eviction threads write
 * them out, past 60 % the writers help, as they did past 5 and 20.
 */
#define WT_DIRTY_TARGET		30
#define WT_DIRTY_TRIGGER	60

/* Seconds between the checkpoints WiredTiger's own server thread takes. */
#define WT_CHECKPOINT_WAIT	60

/* The table behind each namespace, indexed by dyn_ns. */
static const char *const wt_tables[DYN_NS_COUNT] = {
	[DYN_NS_OBJECT] = "table:objects",
	[DYN_NS_HINT] = "table:hints",
	[DYN_NS_META] = "table:meta",
};

/*
 * An open WiredTiger engine.  The cursors are opened once at start because
 * opening a cursor per call costs more than the lookup it serves.
 */
typedef struct wt_engine
{
	dyn_engine	base;			/* first, so a dyn_engine * is a wt_engine * */
	WT_CONNECTION *conn;
	WT_SESSION *session;
	WT_SESSION *sync_session;	/* group commit: wt_sync's (another thread's) */
	const char *sync_config;	/* its log_flush configuration */
	WT_CURSOR  *cursors[DYN_NS_COUNT];	/* point operations, kept unpositioned */
	bool		in_batch;		/* a transaction is open on session */
	bool		batch_failed;	/* an operation in it failed: roll back */
} wt_engine;

static int	wt_open(const dyn_engine_config *cfg, dyn_engine **out,
					char *err, size_t errlen);
static void wt_close(dyn_engine *e);
static int	wt_get(dyn_engine *e, dyn_ns ns, dyn_slice key, dyn_buf *out);
static int	wt_put(dyn_engine *e, dyn_ns ns, dyn_slice key, dyn_slice value);
static int	wt_del(dyn_engine *e, dyn_ns ns, dyn_slice key);
static int	wt_update(dyn_engine *e, dyn_ns ns, dyn_slice key,
					  dyn_engine_update_fn fn, void *arg, bool *existed);
static int	wt_scan(dyn_engine *e, dyn_ns ns, dyn_slice start, dyn_slice end,
					dyn_engine_scan_fn fn, void *arg);
static int	wt_count(dyn_engine *e, dyn_ns ns, uint64_t *count);
static int	wt_begin(dyn_engine *e);
static int	wt_commit(dyn_engine *e);
static int	wt_sync(dyn_engine *e, char *err, size_t errlen);
static int	wt_memory(dyn_engine *e, dyn_engine_meminfo *out);
static int	wt_writer_open(dyn_engine *e, dyn_engine_writer **out, char *err, size_t errlen);
static int	wt_writer_apply(dyn_engine_writer *w, dyn_slice batch, char *err, size_t errlen);
static void wt_writer_close(dyn_engine_writer *w);
static int	wt_wb_rec_cmp(const void *a, const void *b);
static int	wt_writer_sort(dyn_engine_writer *w, dyn_slice batch, size_t *n);
static int	wt_fail(wt_engine *we, const char *what, const char *table, int ret);
static int	make_dirs(const char *dir, char *err, size_t errlen);
static int	key_cmp(const void *a, size_t alen, const void *b, size_t blen);

const dyn_engine_ops dyn_engine_wiredtiger = {
	.name = "wiredtiger",
	.default_cache_mb = WT_DEFAULT_CACHE_MB,
	.buffer_share = WT_BUFFER_SHARE,
	.open = wt_open,
	.close = wt_close,
	.get = wt_get,
	.put = wt_put,
	.del = wt_del,
	.update = wt_update,
	.scan = wt_scan,
	.count = wt_count,
	.begin = wt_begin,
	.commit = wt_commit,
	.sync = wt_sync,
	.memory = wt_memory,
	.writer_open = wt_writer_open,
	.writer_apply = wt_writer_apply,
	.writer_close = wt_writer_close,
};

/* A batch's record and its place in the batch, for sorting (wt_writer_apply). */
typedef struct wt_wb_rec
{
	dyn_wb_record rec;
	size_t		order;
} wt_wb_rec;

/*
 * The writer thread's session and its cursors, one per namespace, and the
 * array a batch is sorted in (kept, so a batch allocates nothing once the
 * array has grown to the largest batch).
 */
struct dyn_engine_writer
{
	WT_SESSION *session;
	WT_CURSOR  *cursors[DYN_NS_COUNT];
	wt_wb_rec  *recs;
	size_t		cap;
};

/*
 * Record a WiredTiger failure in the engine's message and map it to a
 * status.  A failure inside a batch leaves WiredTiger's transaction unable
 * to commit, so the batch is marked for rollback at commit.
 */
static int
wt_fail(wt_engine *we, const char *what, const char *table, int ret)
{
	snprintf(we->base.errmsg, sizeof(we->base.errmsg), "%s%s%s: %s",
			 what, table != NULL ? " " : "", table != NULL ? table : "",
			 wiredtiger_strerror(ret));
	if (we->in_batch)
		we->batch_failed = true;
	return ret == ENOMEM ? DYN_ERR_NOMEM : DYN_ERR_ENGINE;
}

/*
 * WiredTiger's default collation for raw items, spelled out for the scan's
 * end bound: bytes compared unsigned, and a proper prefix sorts first.
 */
static int
key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
	int			c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/*
 * Create dir and any missing parents, as "mkdir -p" would, because
 * wiredtiger_open wants its home to exist.
 */
static int
make_dirs(const char *dir, char *err, size_t errlen)
{
	char		path[PATH_MAX];
	size_t		len = strlen(dir);

	if (len == 0 || len >= sizeof(path))
	{
		snprintf(err, errlen, "invalid data directory \"%s\"", dir);
		return DYN_ERR_INVAL;
	}
	memcpy(path, dir, len + 1);

	/* Each separator ends a parent; the loop's last pass makes dir itself. */
	for (size_t i = 1; i <= len; i++)
	{
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
		{
			snprintf(err, errlen, "cannot create data directory \"%s\": %s",
					 path, strerror(errno));
			return DYN_ERR_IO;
		}
		path[i] = dir[i];
	}
	return DYN_OK;
}

/*
 * Open (creating if needed) the database in cfg->dir, its tables and their
 * cursors.  On failure everything opened so far is closed again.
 */
static int
wt_open(const dyn_engine_config *cfg, dyn_engine **out, char *err,
		size_t errlen)
{
	wt_engine  *we;
	char		config[512];
	const char *durability;
	bool		group = cfg->group_commit && cfg->durability != DYN_DURABILITY_NONE;
	size_t		cache_mb;
	int			ret;

	if (cfg->dir == NULL)
	{
		snprintf(err, errlen, "the wiredtiger engine needs a data directory");
		return DYN_ERR_INVAL;
	}
	if ((ret = make_dirs(cfg->dir, err, errlen)) != DYN_OK)
		return ret;

	switch (cfg->durability)
	{
		case DYN_DURABILITY_NONE:
			durability = "log=(enabled=false)";
			break;
		case DYN_DURABILITY_FLUSH:
			durability = "log=(enabled=true),"
				"transaction_sync=(enabled=true,method=none)";
			break;
		case DYN_DURABILITY_FSYNC:
			durability = "log=(enabled=true),"
				"transaction_sync=(enabled=true,method=fsync)";
			break;
		default:
			snprintf(err, errlen, "invalid durability %d", (int) cfg->durability);
			return DYN_ERR_INVAL;
	}
	if (group)
		durability = "log=(enabled=true),transaction_sync=(enabled=false)";
	cache_mb = cfg->cache_mb != 0 ? cfg->cache_mb : WT_DEFAULT_CACHE_MB;
	snprintf(config, sizeof(config),
			 "create,cache_size=%zuMB,cache_overhead=%d,checkpoint=(wait=%d),"
			 "eviction_dirty_target=%d,eviction_dirty_trigger=%d,"
			 "statistics=(fast),%s",
			 cache_mb, WT_CACHE_OVERHEAD, WT_CHECKPOINT_WAIT,
			 WT_DIRTY_TARGET, WT_DIRTY_TRIGGER, durability);

	we = calloc(1, sizeof(*we));
	if (we == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return DYN_ERR_NOMEM;
	}
	we->base.ops = &dyn_engine_wiredtiger;

	ret = wiredtiger_open(cfg->dir, NULL, config, &we->conn);
	if (ret != 0)
	{
		/* WiredTiger has printed the detail to stderr already. */
		snprintf(err, errlen, "wiredtiger_open \"%s\": %s",
				 cfg->dir, wiredtiger_strerror(ret));
		free(we);
		return DYN_ERR_ENGINE;
	}
	ret = we->conn->open_session(we->conn, NULL, NULL, &we->session);
	if (ret != 0)
	{
		snprintf(err, errlen, "open_session: %s", wiredtiger_strerror(ret));
		goto fail;
	}
	if (group)
	{
		ret = we->conn->open_session(we->conn, NULL, NULL, &we->sync_session);
		if (ret != 0)
		{
			snprintf(err, errlen, "open_session: %s", wiredtiger_strerror(ret));
			goto fail;
		}
		if (cfg->durability == DYN_DURABILITY_FSYNC)
		{
			we->sync_config = "sync=on";
			we->base.sync_kind = DYN_SYNC_THREAD;
		}
		else
		{
			we->sync_config = "sync=off";
			we->base.sync_kind = DYN_SYNC_INLINE;
		}
	}
	for (int ns = 0; ns < DYN_NS_COUNT; ns++)
	{
		/*
		 * Creating an existing table with the same format is a no-op.  Keys
		 * share long prefixes (partition, bucket, the application's own key
		 * prefix); without prefix compression a search compares stored keys
		 * in place instead of rebuilding each one first, which measured
		 * about 15 % more GETs at the cost of some page space.
		 *
		 * memory_page_max: a leaf page that grows past it in memory is
		 * evicted by the thread that touches it next -- the loop's, in the
		 * middle of a request.  Random inserts into a young tree grow one
		 * page's insert list to the 5 MB default, and reconciling that took
		 * 21-25 ms of the loop thread's CPU in one search (every request
		 * queued behind it; measured at 10k PUT/s open loop); at 1 MB the
		 * largest such stall measured 3-4 ms, and later pages split sooner
		 * and smaller.  Like prefix_compression it is fixed when a table is
		 * created: data directories made before keep their 5 MB.
		 */
		ret = we->session->create(we->session, wt_tables[ns],
								  "key_format=u,value_format=u,prefix_compression=false,"
								  "memory_page_max=1MB");
		if (ret != 0)
		{
			snprintf(err, errlen, "create %s: %s",
					 wt_tables[ns], wiredtiger_strerror(ret));
			goto fail;
		}
		ret = we->session->open_cursor(we->session, wt_tables[ns], NULL, NULL,
									   &we->cursors[ns]);
		if (ret != 0)
		{
			snprintf(err, errlen, "open_cursor %s: %s",
					 wt_tables[ns], wiredtiger_strerror(ret));
			goto fail;
		}
	}
	*out = &we->base;
	return DYN_OK;

fail:
	/* Closing the connection closes its session and cursors too. */
	we->conn->close(we->conn, NULL);
	free(we);
	return DYN_ERR_ENGINE;
}

/*
 * Close the connection, which checkpoints every table.  An open batch is
 * rolled back: its writes were never acknowledged.
 */
static void
wt_close(dyn_engine *e)
{
	wt_engine  *we = (wt_engine *) e;

	if (we->in_batch)
		(void) we->session->rollback_transaction(we->session, NULL);
	(void) we->conn->close(we->conn, NULL);
	free(we);
}

/*
 * Append key's value to out.  The value WiredTiger hands back lives in its
 * page only while the cursor stays positioned, so it is copied before the
 * reset that releases the page.
 */
static int
wt_get(dyn_engine *e, dyn_ns ns, dyn_slice key, dyn_buf *out)
{
	wt_engine  *we = (wt_engine *) e;
	WT_CURSOR  *c = we->cursors[ns];
	WT_ITEM		k = {.data = key.ptr, .size = key.len};
	WT_ITEM		v;
	int			ret;

	c->set_key(c, &k);
	ret = c->search(c);
	if (ret == WT_NOTFOUND)
		return DYN_ERR_NOTFOUND;
	if (ret != 0)
		return wt_fail(we, "search", wt_tables[ns], ret);
	ret = c->get_value(c, &v);
	if (ret == 0)
		dyn_buf_append(out, v.data, v.size);
	(void) c->reset(c);
	if (ret != 0)
		return wt_fail(we, "get_value", wt_tables[ns], ret);
	if (out->err != 0)
	{
		snprintf(e->errmsg, sizeof(e->errmsg),
				 "get %s: out of memory for a %zu-byte value",
				 wt_tables[ns], v.size);
		return out->err;
	}
	return DYN_OK;
}

/*
 * Insert or overwrite key's value.  An overwriting insert leaves the cursor
 * unpositioned, so there is no page to release afterwards.
 */
static int
wt_put(dyn_engine *e, dyn_ns ns, dyn_slice key, dyn_slice value)
{
	wt_engine  *we = (wt_engine *) e;
	WT_CURSOR  *c = we->cursors[ns];
	WT_ITEM		k = {.data = key.ptr, .size = key.len};
	WT_ITEM		v = {.data = value.ptr, .size = value.len};
	int			ret;

	c->set_key(c, &k);
	c->set_value(c, &v);
	ret = c->insert(c);
	if (ret != 0)
	{
		(void) c->reset(c);
		return wt_fail(we, "insert", wt_tables[ns], ret);
	}
	return DYN_OK;
}

/*
 * Read-modify-write with one B-tree search.  fn reads the value in the page
 * the search pinned (no copy); the update then goes through that same
 * positioned cursor, which WiredTiger applies without searching again
 * because the cursor's key is still the internal one from the search --
 * setting the key again would force a second search.  An absent key is
 * inserted the ordinary way.
 */
static int
wt_update(dyn_engine *e, dyn_ns ns, dyn_slice key,
		  dyn_engine_update_fn fn, void *arg, bool *existed)
{
	wt_engine  *we = (wt_engine *) e;
	WT_CURSOR  *c = we->cursors[ns];
	WT_ITEM		k = {.data = key.ptr, .size = key.len};
	WT_ITEM		v;
	dyn_slice	old;
	dyn_slice	value;
	int			ret;

	c->set_key(c, &k);
	ret = c->search(c);
	if (ret != 0 && ret != WT_NOTFOUND)
		return wt_fail(we, "search", wt_tables[ns], ret);
	*existed = (ret == 0);
	if (*existed && (ret = c->get_value(c, &v)) != 0)
	{
		(void) c->reset(c);
		return wt_fail(we, "get_value", wt_tables[ns], ret);
	}
	old.ptr = *existed ? v.data : NULL;
	old.len = *existed ? v.size : 0;
	if ((ret = fn(arg, *existed ? &old : NULL, &value)) != DYN_OK)
	{
		(void) c->reset(c);
		return ret;
	}
	v.data = value.ptr;
	v.size = value.len;
	if (!*existed)
		c->set_key(c, &k);
	c->set_value(c, &v);
	ret = *existed ? c->update(c) : c->insert(c);
	(void) c->reset(c);
	if (ret != 0)
		return wt_fail(we, *existed ? "update" : "insert", wt_tables[ns], ret);
	return DYN_OK;
}

/*
 * Remove key.  The cursor is in overwrite mode, so an absent key is not an
 * error, and removing through an unpositioned cursor leaves it unpositioned.
 */
static int
wt_del(dyn_engine *e, dyn_ns ns, dyn_slice key)
{
	wt_engine  *we = (wt_engine *) e;
	WT_CURSOR  *c = we->cursors[ns];
	WT_ITEM		k = {.data = key.ptr, .size = key.len};
	int			ret;

	c->set_key(c, &k);
	ret = c->remove(c);
	if (ret != 0 && ret != WT_NOTFOUND)
	{
		(void) c->reset(c);
		return wt_fail(we, "remove", wt_tables[ns], ret);
	}
	return DYN_OK;
}

/*
 * Visit [start, end) in key order.  The walk uses a cursor of its own so
 * that the callback may still read through the namespace's cached cursor;
 * the session caches closed cursors, so reopening one per scan is cheap.
 */
static int
wt_scan(dyn_engine *e, dyn_ns ns, dyn_slice start, dyn_slice end,
		dyn_engine_scan_fn fn, void *arg)
{
	wt_engine  *we = (wt_engine *) e;
	WT_CURSOR  *c;
	WT_ITEM		k,
				v;
	int			exact;
	int			ret;

	ret = we->session->open_cursor(we->session, wt_tables[ns], NULL, NULL, &c);
	if (ret != 0)
		return wt_fail(we, "open_cursor", wt_tables[ns], ret);

	/* WiredTiger has no empty keys, so an empty start is the first record. */
	if (start.len == 0)
		ret = c->next(c);
	else
	{
		k = (WT_ITEM) {.data = start.ptr, .size = start.len};
		c->set_key(c, &k);
		ret = c->search_near(c, &exact);
		if (ret == 0 && exact < 0)
			ret = c->next(c);
	}

	while (ret == 0)
	{
		dyn_slice	ks,
					vs;

		if ((ret = c->get_key(c, &k)) != 0 ||
			(ret = c->get_value(c, &v)) != 0)
			break;
		if (end.len > 0 && key_cmp(k.data, k.size, end.ptr, end.len) >= 0)
			break;
		ks = (dyn_slice) {k.data, k.size};
		vs = (dyn_slice) {v.data, v.size};
		if (fn(arg, ks, vs) != 0)
			break;
		ret = c->next(c);
	}
	(void) c->close(c);

	if (ret != 0 && ret != WT_NOTFOUND)
		return wt_fail(we, "scan", wt_tables[ns], ret);
	return DYN_OK;
}

/*
 * Count ns's records by walking them: WiredTiger keeps no exact count, and
 * callers use this for status and tests, not per request.
 */
static int
wt_count(dyn_engine *e, dyn_ns ns, uint64_t *count)
{
	wt_engine  *we = (wt_engine *) e;
	WT_CURSOR  *c;
	uint64_t	n = 0;
	int			ret;

	ret = we->session->open_cursor(we->session, wt_tables[ns], NULL, NULL, &c);
	if (ret != 0)
		return wt_fail(we, "open_cursor", wt_tables[ns], ret);
	while ((ret = c->next(c)) == 0)
		n++;
	(void) c->close(c);
	if (ret != WT_NOTFOUND)
		return wt_fail(we, "count", wt_tables[ns], ret);
	*count = n;
	return DYN_OK;
}

/* Open a batch as a WiredTiger transaction on the engine's session. */
static int
wt_begin(dyn_engine *e)
{
	wt_engine  *we = (wt_engine *) e;
	int			ret;

	if (we->in_batch)
	{
		snprintf(e->errmsg, sizeof(e->errmsg),
				 "begin: a batch is already open (batches do not nest)");
		return DYN_ERR_INVAL;
	}
	ret = we->session->begin_transaction(we->session, NULL);
	if (ret != 0)
		return wt_fail(we, "begin_transaction", NULL, ret);
	we->in_batch = true;
	we->batch_failed = false;
	return DYN_OK;
}

/*
 * Commit the open batch; the log flush or fsync that transaction_sync asks
 * for happens once here for all its writes.  A batch in which an operation
 * failed is rolled back instead, and so is one whose commit fails (that is
 * what WiredTiger does), so on error none of the batch's writes happened.
 */
static int
wt_commit(dyn_engine *e)
{
	wt_engine  *we = (wt_engine *) e;
	int			ret;

	if (!we->in_batch)
	{
		snprintf(e->errmsg, sizeof(e->errmsg), "commit: no batch is open");
		return DYN_ERR_INVAL;
	}
	we->in_batch = false;
	if (we->batch_failed)
	{
		(void) we->session->rollback_transaction(we->session, NULL);
		snprintf(e->errmsg, sizeof(e->errmsg),
				 "commit: batch rolled back because an operation in it failed");
		return DYN_ERR_ENGINE;
	}
	ret = we->session->commit_transaction(we->session, NULL);
	if (ret != 0)
		return wt_fail(we, "commit_transaction", NULL, ret);
	return DYN_OK;
}

/*
 * Group commit: write (and with FSYNC fsync) the log up to its end as of
 * now, so every transaction committed before the call is durable.  Only
 * the sync session is used, so this may run on another thread than the
 * loop's; the message goes to err, not to the engine's errmsg, which the
 * loop thread owns.
 */
static int
wt_sync(dyn_engine *e, char *err, size_t errlen)
{
	wt_engine  *we = (wt_engine *) e;
	int			ret;

	if (we->sync_session == NULL)
		return DYN_OK;
	ret = we->sync_session->log_flush(we->sync_session, we->sync_config);
	if (ret != 0)
	{
		snprintf(err, errlen, "log_flush %s: %s", we->sync_config, wiredtiger_strerror(ret));
		return DYN_ERR_IO;
	}
	return DYN_OK;
}

/*
 * The cache's size from WiredTiger's statistics.  A statistics cursor
 * gathers every connection statistic when it opens, which is why this is
 * for STATUS and not for anything per request; the cache figures are
 * computed from the cache itself at that moment, not counted.  WiredTiger
 * opens such a cursor only when the connection keeps statistics, hence
 * statistics=(fast) in wt_open: the counters it can keep without walking
 * its trees.
 */
static int
wt_memory(dyn_engine *e, dyn_engine_meminfo *out)
{
	static const int keys[] = {
		WT_STAT_CONN_CACHE_BYTES_INUSE,
		WT_STAT_CONN_CACHE_BYTES_DIRTY,
		WT_STAT_CONN_CACHE_BYTES_MAX,
	};
	uint64_t   *const fields[] = {&out->cache_bytes, &out->cache_dirty, &out->cache_max};
	wt_engine  *we = (wt_engine *) e;
	WT_CURSOR  *c;
	int			ret;

	ret = we->session->open_cursor(we->session, "statistics:", NULL, NULL, &c);
	if (ret != 0)
		return wt_fail(we, "open_cursor", "statistics:", ret);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
	{
		const char *desc,
				   *printable;
		int64_t		value;

		c->set_key(c, keys[i]);
		if ((ret = c->search(c)) != 0 ||
			(ret = c->get_value(c, &desc, &printable, &value)) != 0)
			break;
		*fields[i] = value > 0 ? (uint64_t) value : 0;
	}
	(void) c->close(c);
	if (ret != 0)
		return wt_fail(we, "statistics", NULL, ret);
	return DYN_OK;
}

/*
 * Open the writer's session and cursors, on the loop thread; from then on
 * only the writer thread uses them.  Closing the session closes its
 * cursors.
 */
static int
wt_writer_open(dyn_engine *e, dyn_engine_writer **out, char *err, size_t errlen)
{
	wt_engine  *we = (wt_engine *) e;
	dyn_engine_writer *w = calloc(1, sizeof(*w));
	int			ret;

	*out = NULL;
	if (w == NULL)
	{
		snprintf(err, errlen, "out of memory for the write-behind session");
		return DYN_ERR_NOMEM;
	}
	ret = we->conn->open_session(we->conn, NULL, NULL, &w->session);
	for (int ns = 0; ret == 0 && ns < DYN_NS_COUNT; ns++)
		ret = w->session->open_cursor(w->session, wt_tables[ns], NULL, NULL, &w->cursors[ns]);
	if (ret != 0)
	{
		snprintf(err, errlen, "write-behind session: %s", wiredtiger_strerror(ret));
		wt_writer_close(w);
		return DYN_ERR_ENGINE;
	}
	*out = w;
	return DYN_OK;
}

/* By namespace, then key (WiredTiger's order), then place in the batch. */
static int
wt_wb_rec_cmp(const void *a, const void *b)
{
	const wt_wb_rec *x = a;
	const wt_wb_rec *y = b;
	int			c;

	if (x->rec.ns != y->rec.ns)
		return x->rec.ns < y->rec.ns ? -1 : 1;
	c = key_cmp(x->rec.key.ptr, x->rec.key.len, y->rec.key.ptr, y->rec.key.len);
	if (c != 0)
		return c;
	return x->order < y->order ? -1 : 1;
}

/*
 * Decode the batch into w->recs, sorted by wt_wb_rec_cmp, and say how many
 * in *n.  @return DYN_OK, DYN_ERR_NOMEM, DYN_ERR_PROTO (a malformed batch
 * or a namespace out of range)
 */
static int
wt_writer_sort(dyn_engine_writer *w, dyn_slice batch, size_t *n)
{
	dyn_reader	r;
	dyn_wb_record rec;
	int			more;

	*n = 0;
	dyn_reader_init(&r, batch);
	while ((more = dyn_wb_batch_next(&r, &rec)) == 1)
	{
		if (rec.ns >= DYN_NS_COUNT)
			return DYN_ERR_PROTO;
		if (*n == w->cap)
		{
			size_t		cap = w->cap != 0 ? w->cap * 2 : 1024;
			wt_wb_rec  *recs = realloc(w->recs, cap * sizeof(*recs));

			if (recs == NULL)
				return DYN_ERR_NOMEM;
			w->recs = recs;
			w->cap = cap;
		}
		w->recs[*n] = (wt_wb_rec) {rec, *n};
		(*n)++;
	}
	if (more != 0)
		return DYN_ERR_PROTO;
	qsort(w->recs, *n, sizeof(*w->recs), wt_wb_rec_cmp);
	return DYN_OK;
}

/*
 * Store a batch as one transaction, in key order: a B-tree search then
 * starts where the last one ended, in pages and insert lists already in
 * the cache, instead of at a random place.  Of the writes of one key only
 * the batch's last is stored: the others were superseded before anyone
 * could read them from the engine (the object buffer answered for the key
 * meanwhile), and a transaction's updates of one key are seen only as
 * its last.  Each record goes through the namespace's overwriting cursor
 * (an insert, or a remove that finds nothing and succeeds).  WT_ROLLBACK
 * from an operation or the commit -- a conflict, or eviction needing the
 * transaction's pages -- rolls the whole batch back and is DYN_ERR_AGAIN,
 * worth another try; anything else is the failure it is.
 */
static int
wt_writer_apply(dyn_engine_writer *w, dyn_slice batch, char *err, size_t errlen)
{
	WT_SESSION *s = w->session;
	const char *what = "begin_transaction";
	const char *table = NULL;
	size_t		n;
	int			ret;

	if ((ret = wt_writer_sort(w, batch, &n)) != DYN_OK)
	{
		snprintf(err, errlen, "write-behind: %s", ret == DYN_ERR_NOMEM ?
				 "out of memory sorting a batch" : "a malformed batch (a bug)");
		return ret;
	}
	if ((ret = s->begin_transaction(s, NULL)) != 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
	{
		const dyn_wb_record *rec = &w->recs[i].rec;
		WT_CURSOR  *c;
		WT_ITEM		k = {.data = rec->key.ptr, .size = rec->key.len};
		WT_ITEM		v = {.data = rec->value.ptr, .size = rec->value.len};

		if (i + 1 < n && w->recs[i + 1].rec.ns == rec->ns &&
			dyn_slice_eq(w->recs[i + 1].rec.key, rec->key))
			continue;			/* superseded in this batch */
		c = w->cursors[rec->ns];
		table = wt_tables[rec->ns];
		c->set_key(c, &k);
		if (rec->op == DYN_WB_PUT)
		{
			what = "insert";
			c->set_value(c, &v);
			ret = c->insert(c);
		}
		else
		{
			what = "remove";
			ret = c->remove(c);
			if (ret == WT_NOTFOUND)
				ret = 0;
		}
		if (ret != 0)
		{
			(void) s->rollback_transaction(s, NULL);
			goto fail;
		}
	}
	what = "commit_transaction";
	table = NULL;
	if ((ret = s->commit_transaction(s, NULL)) != 0)
		goto fail;				/* a failed commit is rolled back */
	return DYN_OK;

fail:
	snprintf(err, errlen, "write-behind %s%s%s: %s", what, table != NULL ? " " : "",
			 table != NULL ? table : "", wiredtiger_strerror(ret));
	return ret == WT_ROLLBACK ? DYN_ERR_AGAIN : ret == ENOMEM ? DYN_ERR_NOMEM : DYN_ERR_ENGINE;
}

static void
wt_writer_close(dyn_engine_writer *w)
{
	if (w == NULL)
		return;
	if (w->session != NULL)
		(void) w->session->close(w->session, NULL);
	free(w->recs);
	free(w);
}
