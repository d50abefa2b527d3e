/*
 * store.h
 *		The replica store: this node's copy of the sibling sets of the keys
 *		it holds, kept in a storage engine.
 *
 * The store turns (bucket, key) into an engine key that starts with the
 * key's partition, so that everything a partition holds is one key range
 * (what anti-entropy and handoff walk), and applies the dotted-version-vector
 * rules of object.h when a version is written.
 *
 * For anti-entropy the store keeps one Merkle tree (merkle.h) per partition
 * over the objects it holds, keyed by engine key, and counts the objects
 * that are all tombstones.  Both are built by one scan at open and kept
 * current by every change of DYN_NS_OBJECT made through the store, so
 * nothing else may write that namespace directly.
 */
#ifndef DYNAMOD_STORE_H
#define DYNAMOD_STORE_H

#include "dynamo/merkle.h"
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
	uint64_t	tombstones;		/* objects whose siblings are all tombstones */
	dyn_merkle *trees;			/* one per partition, of dyn_store_merkle_depth */
	uint64_t   *partition_keys; /* objects per partition (STATUS, handoff figures) */
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
/*
 * Free the trees and the scratch buffers (the engine is the caller's to
 * close).  Safe after a failed open and twice.
 */
void		dyn_store_close(dyn_store *st);

/*
 * Append the encoded sibling set of bucket/key to out; appends nothing when
 * the key is absent.  DYN_OK or DYN_ERR_ENGINE.
 */
int			dyn_store_get(dyn_store *st, dyn_slice bucket, dyn_slice key, dyn_buf *out);
/* The same, given the key's dyn_key_position (a coordinator has it already). */
int			dyn_store_get_pos(dyn_store *st, uint64_t position, dyn_slice bucket,
							  dyn_slice key, dyn_buf *out);

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
 * The same under another actor than the node id (an incarnation after the
 * node lost its data: dynamo/actor.h), the dot's counter above floor, for a
 * key whose dyn_key_position the caller has (a coordinator hashed it for
 * the preference list already).
 */
int			dyn_store_write_as(dyn_store *st, uint64_t position, dyn_slice actor,
							   uint64_t floor, dyn_slice bucket, dyn_slice key,
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
 * was there before.  In DYN_NS_OBJECT it keeps the tree, keys and
 * tombstones current like dyn_store_merge.
 */
int			dyn_store_merge_at(dyn_store *st, dyn_ns ns, dyn_slice engine_key,
							   dyn_slice object, bool *changed, bool *existed);

/*
 * The shape of the partition trees in a store of q partitions:
 * 16 - log2(q) clamped to 4 .. 10, so that every replica of a cluster uses
 * the same one and a node holds about the same number of leaves whatever q.
 */
unsigned	dyn_store_merkle_depth(uint32_t q);

/*
 * The Merkle tree of partition's objects (NULL for a partition out of
 * range).  The store owns it and keeps it current; callers only read it
 * (root, level, diff), and the pointer stays valid until dyn_store_close.
 */
dyn_merkle *dyn_store_tree(dyn_store *st, uint32_t partition);

/*
 * Append the encoded object stored at engine_key (as dyn_store_key makes
 * them) to out; DYN_OK with nothing appended when it is absent.
 * DYN_OK or DYN_ERR_ENGINE.
 */
int			dyn_store_get_at(dyn_store *st, dyn_slice engine_key, dyn_buf *out);

/*
 * dyn_store_merge by engine key (anti-entropy and handoff, which find keys
 * by scanning).  DYN_ERR_PROTO when engine_key is not one dyn_store_key
 * would make in this store (not splittable, or its partition prefix is
 * not the partition of its bucket/key), else as dyn_store_merge.
 */
int			dyn_store_merge_key(dyn_store *st, dyn_slice engine_key,
								dyn_slice object, bool *changed);

/*
 * Called with each key of a partition scan and its encoded object, both
 * valid only during the call.  A non-zero return stops the scan and is
 * what dyn_store_scan_partition returns.
 */
typedef int (*dyn_store_visit_fn) (void *arg, dyn_slice engine_key, dyn_slice object);

/*
 * Visit partition's objects in engine-key order, starting strictly after
 * the engine key after (empty: from the first), so that a long walk can
 * be resumed where it stopped.  The callback may read the store but must
 * not write it.  DYN_OK when the walk ended, the callback's non-zero
 * value when it stopped the walk, DYN_ERR_INVAL for a partition out of
 * range, DYN_ERR_ENGINE.
 */
int			dyn_store_scan_partition(dyn_store *st, uint32_t partition,
									 dyn_slice after, dyn_store_visit_fn fn,
									 void *arg);

/*
 * Delete up to max of partition's objects (a partition this node no longer
 * replicates, after handoff), in key order, keeping the tree, keys and
 * tombstones current.  *dropped receives how many went, *more whether the
 * partition still holds objects.  Call again while *more.
 * DYN_ERR_INVAL for a partition out of range, DYN_ERR_NOMEM,
 * DYN_ERR_ENGINE (what was deleted before the failure is accounted for).
 */
int			dyn_store_drop(dyn_store *st, uint32_t partition, size_t max,
						   size_t *dropped, bool *more);

/*
 * Delete the object at engine_key for good (a tombstone past its grace
 * period), but only if it still is all tombstones and still is the
 * version whose dyn_merkle_digest(engine_key, object) the caller saw, so
 * that a write that arrived meanwhile wins.  *reaped says whether it was
 * deleted (false also when it was absent).  DYN_OK or DYN_ERR_ENGINE.
 */
int			dyn_store_reap(dyn_store *st, dyn_slice engine_key,
						   const uint8_t digest[DYN_MERKLE_DIGEST], bool *reaped);

/*
 * The engine key of bucket/key in a store of q partitions, appended to out:
 * u16 partition | u8 bucket length | bucket | key.
 */
void		dyn_store_key(uint32_t q, dyn_slice bucket, dyn_slice key, dyn_buf *out);
/* Split an engine key made by dyn_store_key; DYN_ERR_PROTO if it is not one. */
int			dyn_store_split_key(dyn_slice engine_key, dyn_slice *bucket, dyn_slice *key);

#endif							/* DYNAMOD_STORE_H */
