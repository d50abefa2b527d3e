/*
 * store.h
 *		The replica store: this node's copy of the sibling sets of the keys
 *		it holds, kept in a storage engine.
 *
 * The store turns (bucket, key) into an engine key that starts with the
 * key's partition, so that everything a partition holds is one key range
 * (what anti-entropy and handoff walk), and applies the dotted-version-vector
 * rules of object.h when a version is written.
 */
#ifndef DYNAMOD_STORE_H
#define DYNAMOD_STORE_H

#include "dynamo/object.h"
#include "engine.h"

/*
 * The store and the scratch space its hot paths reuse, so that serving a
 * request allocates nothing once the buffers have grown to the working size.
 */
typedef struct dyn_store
{
	dyn_engine *engine;
	char		node_id[DYN_NODE_ID_MAX + 1];
	uint32_t	partitions;
	uint64_t	keys;			/* objects stored (tombstoned ones included) */
	dyn_buf		keybuf;			/* the engine key being worked on */
	dyn_buf		stored;			/* a metadata value being checked */
	dyn_buf		encoded;		/* the object about to be stored */
	dyn_object	obj;			/* the stored object, decoded */
} dyn_store;

/*
 * Attach to an open engine.  A data directory remembers the node id and
 * partition count it was made with, and refuses to be opened with others
 * (clocks and key layout depend on them).  On failure writes err[errlen].
 */
int			dyn_store_open(dyn_store *st, dyn_engine *engine, const char *node_id,
						   uint32_t partitions, char *err, size_t errlen);
/* Free the scratch buffers (the engine is the caller's to close). */
void		dyn_store_close(dyn_store *st);

/*
 * Append the encoded sibling set of bucket/key to out; appends nothing when
 * the key is absent.  DYN_OK or DYN_ERR_ENGINE.
 */
int			dyn_store_get(dyn_store *st, dyn_slice bucket, dyn_slice key, dyn_buf *out);

/*
 * Coordinate a write on this node: value (NULL for a delete's tombstone)
 * supersedes the siblings that context (an encoded clock, possibly empty)
 * covers.  *written receives the new version's clock.  DYN_ERR_PROTO for a
 * malformed context, DYN_ERR_TOOBIG for too many siblings, DYN_ERR_ENGINE.
 */
int			dyn_store_write(dyn_store *st, dyn_slice bucket, dyn_slice key,
							dyn_slice context, const dyn_slice *value,
							dyn_vclock *written);

#endif							/* DYNAMOD_STORE_H */
