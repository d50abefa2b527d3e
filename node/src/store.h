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
	dyn_object	incoming;		/* a replica's object being merged in */
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

/*
 * The sibling set the last successful dyn_store_write or dyn_store_merge
 * left stored (encoded).  The coordinator ships it to the other replicas.
 * Valid until the next call into the store.
 */
dyn_slice	dyn_store_object(const dyn_store *st);

/*
 * Replica-to-replica merge (replica put, read repair, hint delivery): merge
 * the encoded sibling set object into bucket/key's copy with
 * dyn_object_merge.  Nothing is written when the copy already has it all.
 * *changed (if not NULL) says whether the stored copy changed.
 * DYN_ERR_PROTO for a malformed object, DYN_ERR_TOOBIG, DYN_ERR_ENGINE.
 */
int			dyn_store_merge(dyn_store *st, dyn_slice bucket, dyn_slice key,
							dyn_slice object, bool *changed);

/*
 * The same merge on any namespace and engine key (hints keep sibling sets
 * in DYN_NS_HINT under keys of their own).  *existed says whether the key
 * was there before.
 */
int			dyn_store_merge_at(dyn_store *st, dyn_ns ns, dyn_slice engine_key,
							   dyn_slice object, bool *changed, bool *existed);

/*
 * The engine key of bucket/key in a store of q partitions, appended to out:
 * u16 partition | u8 bucket length | bucket | key.
 */
void		dyn_store_key(uint32_t q, dyn_slice bucket, dyn_slice key, dyn_buf *out);
/* Split an engine key made by dyn_store_key; DYN_ERR_PROTO if it is not one. */
int			dyn_store_split_key(dyn_slice engine_key, dyn_slice *bucket, dyn_slice *key);

#endif							/* DYNAMOD_STORE_H */
