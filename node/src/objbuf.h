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

/*
 * key's value if the buffer holds it (counted as a hit, and marked as just
 * used), else false (a miss).
 */
bool		dyn_objbuf_get(dyn_objbuf *b, dyn_slice key, dyn_slice *value);

/*
 * Hold a copy of value as key's, replacing any copy held, evicting others
 * to stay within the bound.  Best effort: a value too large to be worth
 * buffering (over 1/16 of the bound), or no memory for the copy, leaves
 * key unbuffered -- never a stale copy.
 */
void		dyn_objbuf_put(dyn_objbuf *b, dyn_slice key, dyn_slice value);

/* Drop key's copy, if any. */
void		dyn_objbuf_forget(dyn_objbuf *b, dyn_slice key);

/* Drop every copy. */
void		dyn_objbuf_clear(dyn_objbuf *b);

void		dyn_objbuf_stats_get(const dyn_objbuf *b, dyn_objbuf_stats *out);

#endif							/* DYNAMO_OBJBUF_H */
