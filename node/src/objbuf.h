/*
 * objbuf.h
 *		The object buffer: sibling sets kept in memory in front of the
 *		storage engine, so that a read of a recently used key costs a hash
 *		lookup instead of a B-tree search (Dynamo, section 6.1).
 *
 * The buffer is a cache of what the engine holds, never the only copy:
 * engine.c consults it for DYN_NS_OBJECT reads and keeps it right on every
 * write (dyn_engine_get/put/delete/update), which is the one place every
 * change of an object passes, so a caller cannot go round it.  Its rules
 * are in engine.c; this file is the container: a byte-bounded hash table
 * of copies, evicting the least recently used of a few sampled entries
 * (redis's approximated LRU) when it is full.
 *
 * Pending entries (write-behind, writebehind.h).  dyn_objbuf_hold keeps a
 * value -- or a key's absence, for a delete -- that the engine does not
 * hold yet, under the writer's sequence number.  Until dyn_objbuf_settle
 * reports that number stored, the entry is the only copy the loop thread
 * can read: nothing evicts or forgets it, and a read's copy
 * (dyn_objbuf_put) never replaces it.  Pending entries count against the
 * bound like the others; since only clean ones are evicted, the buffer can
 * be over its bound by what the writer's queue holds, which the queue's
 * own bound (two batches) limits.
 *
 * Ownership: the buffer owns its copies.  A value returned by
 * dyn_objbuf_get is a view into the buffer, valid until the next call that
 * changes it (put, forget, clear, free).  Single-threaded, like the engine.
 */
#ifndef DYNAMO_OBJBUF_H
#define DYNAMO_OBJBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dynamo/buf.h"

typedef struct dyn_objbuf dyn_objbuf;

/* What STATUS reports of the buffer. */
typedef struct dyn_objbuf_stats
{
	uint64_t	bytes;			/* held now: copies, their headers and the table */
	uint64_t	max_bytes;		/* the bound */
	uint64_t	entries;
	uint64_t	hits;
	uint64_t	misses;
	uint64_t	evictions;		/* entries dropped to stay within the bound */
} dyn_objbuf_stats;

/*
 * A buffer holding at most max_bytes (table included).
 * @return DYN_OK, DYN_ERR_INVAL (max_bytes too small to hold a table),
 *         DYN_ERR_NOMEM
 */
int			dyn_objbuf_create(size_t max_bytes, dyn_objbuf **out);
/* Free the buffer and every copy; NULL is allowed. */
void		dyn_objbuf_free(dyn_objbuf *b);

/* What dyn_objbuf_get found of a key. */
typedef enum dyn_objbuf_found
{
	DYN_OBJBUF_MISS = 0,		/* nothing: ask the engine */
	DYN_OBJBUF_HIT,				/* its value, in *value */
	DYN_OBJBUF_ABSENT			/* a pending delete: the key is not there */
} dyn_objbuf_found;

/*
 * What the buffer holds of key (a hit or an absence counts as a hit and
 * marks the entry as just used; else a miss).
 */
dyn_objbuf_found dyn_objbuf_get(dyn_objbuf *b, dyn_slice key, dyn_slice *value);

/*
 * Hold a copy of value as key's, replacing any copy held, evicting others
 * to stay within the bound.  Best effort: a value too large to be worth
 * buffering (over 1/16 of the bound), or no memory for the copy, leaves
 * key unbuffered -- never a stale copy.
 */
void		dyn_objbuf_put(dyn_objbuf *b, dyn_slice key, dyn_slice value);

/*
 * Hold key's newest value (NULL: its absence) as pending under seq, the
 * writer's sequence number of the write that stores it, replacing what the
 * buffer held of key.  value may point into the entry it replaces.
 * @return DYN_OK, DYN_ERR_TOOBIG (over 1/16 of the bound), DYN_ERR_NOMEM;
 *         on failure a clean copy of key is dropped, a pending one kept --
 *         the caller must then wait for the writer, settle, and forget key
 */
int			dyn_objbuf_hold(dyn_objbuf *b, dyn_slice key, const dyn_slice *value,
							uint64_t seq);

/*
 * The writer has stored every write up to seq: entries held under it are
 * clean from now on (evictable; a clean absence stays a true answer until
 * then), and the buffer evicts down to its bound again.  O(1) but for the
 * eviction: pending is seq above the last settled number.
 */
void		dyn_objbuf_settle(dyn_objbuf *b, uint64_t seq);

/* Drop key's copy, if any and if it is not pending. */
void		dyn_objbuf_forget(dyn_objbuf *b, dyn_slice key);

/* Drop every copy, pending ones too (for a buffer without write-behind). */
void		dyn_objbuf_clear(dyn_objbuf *b);

void		dyn_objbuf_stats_get(const dyn_objbuf *b, dyn_objbuf_stats *out);

#endif							/* DYNAMO_OBJBUF_H */
