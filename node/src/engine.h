/*
 * engine.h
 *		The storage engine interface: one API, several engines, chosen per
 *		node at start (--engine wiredtiger|memory).
 *
 * An engine stores opaque keys and values in a few namespaces (sibling sets,
 * hints, node metadata) and iterates them in key order, so a partition (a key
 * prefix) can be scanned as a range.  Engines are single-threaded: dynamod
 * calls them from its event loop only, but for dyn_engine_sync (group
 * commit) and the writer's writer_apply (write-behind), both below.
 *
 * Writes between dyn_engine_begin and dyn_engine_commit form one batch that
 * becomes durable together (one log flush / fsync for the batch).  Writes
 * outside a batch are committed one by one.
 *
 * Group commit.  An engine opened with cfg->group_commit commits without
 * waiting for its durability level: each write (or batch) is its own
 * transaction, so a write that fails takes nothing else with it, and
 * dyn_engine_sync later makes every commit made before it durable at once
 * -- one log write and fsync for all the writes of many connections.
 * dynamod (group.c) holds the replies until then.
 *
 * Write-behind (cfg->write_behind, writebehind.h).  With --durability none
 * and the object buffer, object writes are held in the buffer as pending
 * and stored by a writer thread on a session of its own, in batches; the
 * loop answers reads from the pending copies.  The loop must then call
 * dyn_engine_tick once per turn (it hands the writes over and learns which
 * are stored).  Scans and counts of objects first wait for the writer, so
 * they see every write made before them.  Begin and commit only mark a
 * batch: the writer's batches are its own transactions, object writes
 * cannot fail in the loop, and other namespaces' writes commit one by one
 * (with durability none, nothing is durable before a checkpoint anyway).
 */
#ifndef DYNAMO_ENGINE_H
#define DYNAMO_ENGINE_H

#include "dynamo/buf.h"

/* What a stored record is; each namespace is a separate keyspace. */
typedef enum dyn_ns
{
	DYN_NS_OBJECT = 0,			/* key -> encoded sibling set */
	DYN_NS_HINT = 1,			/* hinted-handoff records */
	DYN_NS_META = 2,			/* node metadata (ids, ring, counters) */
	DYN_NS_COUNT
} dyn_ns;

/* How far a committed write has gone before the engine reports success. */
typedef enum dyn_durability
{
	DYN_DURABILITY_NONE,		/* in memory; on disk at checkpoint/clean close */
	DYN_DURABILITY_FLUSH,		/* written to the OS: survives kill -9 */
	DYN_DURABILITY_FSYNC		/* on stable storage: survives power loss */
} dyn_durability;

/* Whether object writes go through a writer thread (see above). */
typedef enum dyn_write_behind
{
	DYN_WRITE_BEHIND_OFF = 0,
	DYN_WRITE_BEHIND_ON,		/* on, or dyn_engine_open fails saying why not */
	DYN_WRITE_BEHIND_AUTO		/* on where it can be: durability none, a buffer, an engine writer */
} dyn_write_behind;

/* dyn_engine_config.buffer_mb: the engine's own choice (ops->buffer_share). */
#define DYN_ENGINE_BUFFER_DEFAULT	SIZE_MAX

typedef struct dyn_engine_config
{
	const char *name;			/* "wiredtiger" or "memory" */
	const char *dir;			/* data directory (made if missing) */
	size_t		cache_mb;		/* cache bound; 0 means the engine's default */
	/*
	 * The object buffer in front of DYN_NS_OBJECT (objbuf.h), out of
	 * cache_mb: 0 none, DYN_ENGINE_BUFFER_DEFAULT the engine's share.
	 * A zeroed config has none.
	 */
	size_t		buffer_mb;
	dyn_durability durability;
	bool		group_commit;	/* commits do not wait: dyn_engine_sync does */
	dyn_write_behind write_behind;	/* a zeroed config: off */
} dyn_engine_config;

/*
 * What dyn_engine_sync costs, so the caller knows where to run it: nothing
 * to do (no group commit, or nothing reaches disk), a write to the OS that
 * the event loop can afford, or an fsync that belongs on another thread.
 */
typedef enum dyn_sync_kind
{
	DYN_SYNC_NONE,
	DYN_SYNC_INLINE,
	DYN_SYNC_THREAD
} dyn_sync_kind;

typedef struct dyn_engine dyn_engine;

/* An engine's writer session for write-behind (the engine's own type). */
typedef struct dyn_engine_writer dyn_engine_writer;

struct dyn_wb;
struct dyn_wb_stats;

/* Called for each record of a scan; return non-zero to stop early. */
typedef int (*dyn_engine_scan_fn) (void *arg, dyn_slice key, dyn_slice value);

/*
 * Open (creating if needed) the engine cfg->name in cfg->dir.  On failure
 * returns a negative status and writes a message to err[errlen].
 */
int			dyn_engine_open(const dyn_engine_config *cfg, dyn_engine **out,
							char *err, size_t errlen);
/* Close cleanly (WiredTiger checkpoints); NULL is allowed. */
void		dyn_engine_close(dyn_engine *e);
const char *dyn_engine_name(const dyn_engine *e);
/* The message of the last failure, "" if none. */
const char *dyn_engine_errmsg(const dyn_engine *e);

/* Append key's value to out (the caller resets out first); DYN_ERR_NOTFOUND. */
int			dyn_engine_get(dyn_engine *e, dyn_ns ns, dyn_slice key, dyn_buf *out);
int			dyn_engine_put(dyn_engine *e, dyn_ns ns, dyn_slice key, dyn_slice value);
/* DYN_OK also when the key was not there. */
int			dyn_engine_delete(dyn_engine *e, dyn_ns ns, dyn_slice key);
/*
 * Read-modify-write of one record, for the write path that must read a
 * key's sibling set before replacing it.  fn gets the current value (NULL
 * when the key is absent) as a view valid only during the call, and sets
 * *value to what to store -- memory the caller keeps alive until
 * dyn_engine_update returns.  A non-zero return from fn aborts and is
 * returned as is.  Engines do this with one lookup where they can
 * (WiredTiger updates through the cursor the search positioned), which
 * is why it is not a get followed by a put.  *existed (if not NULL) says
 * whether the key was there.
 */
typedef int (*dyn_engine_update_fn) (void *arg, const dyn_slice *old,
									 dyn_slice *value);
int			dyn_engine_update(dyn_engine *e, dyn_ns ns, dyn_slice key,
							  dyn_engine_update_fn fn, void *arg, bool *existed);
/*
 * Visit keys in [start, end) in byte order; an empty end means to the end of
 * the namespace.  The slices are valid only during the callback.  Writes to
 * the same engine from the callback are not allowed.
 */
int			dyn_engine_scan(dyn_engine *e, dyn_ns ns, dyn_slice start, dyn_slice end,
							dyn_engine_scan_fn fn, void *arg);
/* Number of records in ns (may walk the namespace). */
int			dyn_engine_count(dyn_engine *e, dyn_ns ns, uint64_t *count);

/* Group writes into one durable batch; batches do not nest. */
int			dyn_engine_begin(dyn_engine *e);
int			dyn_engine_commit(dyn_engine *e);

/* How dyn_engine_sync is to be run (DYN_SYNC_NONE: never needed). */
dyn_sync_kind dyn_engine_sync_kind(const dyn_engine *e);
/*
 * Make every write committed before the call durable at the engine's
 * durability level (group commit).  Unlike every other call it may run on
 * another thread while the loop thread goes on writing; the failure's
 * message goes to err[errlen], not to the engine's own message.
 * DYN_OK (at once when there is nothing to sync) or DYN_ERR_IO.
 */
int			dyn_engine_sync(dyn_engine *e, char *err, size_t errlen);
/*
 * Writes (put, delete, update that stored) that succeeded since open:
 * what the caller compares to know whether a sync has anything to do.
 */
uint64_t	dyn_engine_writes(const dyn_engine *e);

/*
 * What the engine holds in memory, for STATUS: the part of the node's
 * resident size that is the engine's and the bound it was given, so an
 * operator can tell the cache from the node's own memory.
 */
typedef struct dyn_engine_meminfo
{
	uint64_t	cache_bytes;	/* held now (WiredTiger: its cache) */
	uint64_t	cache_dirty;	/* of which not yet written to disk */
	uint64_t	cache_max;		/* the bound (cfg->cache_mb less the buffer); 0: none */
	/* the object buffer (all 0 without one) */
	uint64_t	buffer_bytes;
	uint64_t	buffer_max;
	uint64_t	buffer_entries;
	uint64_t	buffer_hits;
	uint64_t	buffer_misses;
	uint64_t	buffer_evictions;
} dyn_engine_meminfo;

/* Fill *out; DYN_OK or DYN_ERR_ENGINE (the engine's message says why). */
int			dyn_engine_memory_stats(dyn_engine *e, dyn_engine_meminfo *out);

/* Whether e writes objects behind (its open chose write-behind). */
bool		dyn_engine_write_behind_on(const dyn_engine *e);
/*
 * Once per turn of the event loop: hand the queued writes to the writer
 * when there are enough of them or they have waited long enough, and let
 * the buffer know which it has stored.  Returns true when writes are left
 * waiting, and then in *due_us how soon to call again (the caller makes
 * sure the loop wakes by then).  Nothing, and false, without write-behind.
 */
bool		dyn_engine_tick(dyn_engine *e, uint64_t *due_us);
/*
 * Whether the writer has failed (writes are refused from then on); if so
 * its message goes to msg[len].
 */
bool		dyn_engine_failure(dyn_engine *e, char *msg, size_t len);
/* The writer's figures; false (and *out untouched) without write-behind. */
bool		dyn_engine_writer_stats(dyn_engine *e, struct dyn_wb_stats *out);

/*
 * The engine vtable: each engine file defines one of these and an open
 * function; engine.c dispatches by name.
 */
typedef struct dyn_engine_ops
{
	const char *name;
	size_t		default_cache_mb;	/* what cache_mb 0 means; 0: unbounded */
	unsigned	buffer_share;	/* default buffer: 1/buffer_share of the cache; 0: none */
	int			(*open) (const dyn_engine_config *cfg, dyn_engine **out,
						 char *err, size_t errlen);
	void		(*close) (dyn_engine *e);
	int			(*get) (dyn_engine *e, dyn_ns ns, dyn_slice key, dyn_buf *out);
	int			(*put) (dyn_engine *e, dyn_ns ns, dyn_slice key, dyn_slice value);
	int			(*del) (dyn_engine *e, dyn_ns ns, dyn_slice key);
	int			(*update) (dyn_engine *e, dyn_ns ns, dyn_slice key,
						   dyn_engine_update_fn fn, void *arg, bool *existed);
	int			(*scan) (dyn_engine *e, dyn_ns ns, dyn_slice start, dyn_slice end,
						 dyn_engine_scan_fn fn, void *arg);
	int			(*count) (dyn_engine *e, dyn_ns ns, uint64_t *count);
	int			(*begin) (dyn_engine *e);
	int			(*commit) (dyn_engine *e);
	int			(*sync) (dyn_engine *e, char *err, size_t errlen);	/* NULL: none */
	int			(*memory) (dyn_engine *e, dyn_engine_meminfo *out);

	/*
	 * Write-behind's writer (NULL: the engine has none).  writer_open runs
	 * on the loop thread; writer_apply on the writer thread, concurrently
	 * with every loop call but open and close: it stores a batch
	 * (writebehind.h's format) as one transaction and returns DYN_OK,
	 * DYN_ERR_AGAIN (rolled back, worth another try) or a failure with
	 * its message in err.  writer_close runs once the writer has stopped.
	 */
	int			(*writer_open) (dyn_engine *e, dyn_engine_writer **out,
								char *err, size_t errlen);
	int			(*writer_apply) (dyn_engine_writer *w, dyn_slice batch,
								 char *err, size_t errlen);
	void		(*writer_close) (dyn_engine_writer *w);
} dyn_engine_ops;

/* Every engine struct starts with this header. */
struct dyn_engine
{
	const dyn_engine_ops *ops;
	char		errmsg[256];
	dyn_sync_kind sync_kind;	/* set by open; DYN_SYNC_NONE unless group commit */
	uint64_t	writes;			/* counted by engine.c */
	struct dyn_objbuf *buffer;	/* engine.c's object buffer, or NULL */
	bool		in_batch;		/* engine.c: between begin and commit */
	bool		batch_failed;	/* engine.c: an operation of the open batch failed */
	dyn_buf		batch_keys;		/* engine.c: keys buffered in the open batch */
	struct dyn_wb *wb;			/* engine.c: the write-behind queue, or NULL */
	dyn_engine_writer *writer;	/* its engine session */
	dyn_buf		wb_old;			/* engine.c: an update's old value read from the engine */
};

extern const dyn_engine_ops dyn_engine_wiredtiger;
extern const dyn_engine_ops dyn_engine_memory;

#endif							/* DYNAMO_ENGINE_H */
