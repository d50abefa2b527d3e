/*
 * merkle.h
 *		Per-partition Merkle trees for anti-entropy: two replicas of a
 *		partition find the keys on which they disagree while exchanging a
 *		small fraction of the partition's key hashes.
 *
 * A dyn_merkle has a fixed shape: 2^depth leaves under a complete binary
 * tree.  A key always lands in the same leaf on every replica (the top
 * depth bits of a fixed hash of its engine key), and a leaf holds the
 * XOR of H(key, object) over the keys it holds, so the leaf does not
 * depend on insertion order and a write changes it in O(1) by XOR-ing the
 * old contribution out and the new one in.  An inner node is a BLAKE2b
 * hash of its two children, so a difference anywhere below shows at the
 * root.  Inner nodes are recomputed lazily: a write marks the leaf's
 * ancestors dirty and the next reader (root, level, diff) rehashes only
 * the dirty nodes, so a burst of writes costs one hash per touched inner
 * node instead of depth hashes per write.
 *
 * Comparison: a replica compares roots, then repeatedly sends the digests
 * of the children of the nodes that differed (dyn_merkle_level) and the
 * other side answers which of them differ (dyn_merkle_diff), down to the
 * leaves; for each differing leaf the caller then exchanges the keys whose
 * dyn_merkle_leaf_of is that leaf.
 *
 * Levels are numbered from the root (level 0, one node) to the leaves
 * (level depth, 2^depth nodes); nodes of a level are numbered from 0.
 * Digests on the wire are the raw DYN_MERKLE_DIGEST bytes, concatenated.
 *
 * A tree is a caller-owned value: dyn_merkle_init, updates, dyn_merkle_free.
 * The readers (root, level, diff) first settle dirty inner nodes, so they
 * take the tree as writable.
 * Objects are never empty (an encoded object has a header), which is what
 * lets an empty slice mean "absent" in dyn_merkle_update.
 */
#ifndef DYNAMO_MERKLE_H
#define DYNAMO_MERKLE_H

#include "dynamo/buf.h"

#define DYN_MERKLE_DIGEST			16	/* bytes per node digest (128 bits) */
#define DYN_MERKLE_DEPTH_DEFAULT	10	/* 1024 leaves */
#define DYN_MERKLE_DEPTH_MAX		16	/* 65536 leaves, 2 MB of digests */

/*
 * One partition's hash tree.  nodes holds every node's digest in heap
 * order (level L, index i at (2^L - 1) + i); dirty marks inner nodes whose
 * digest is stale because a leaf below changed.
 */
typedef struct dyn_merkle
{
	unsigned	depth;			/* leaves are 2^depth, 1 .. DYN_MERKLE_DEPTH_MAX */
	uint32_t	nleaves;
	uint8_t    *nodes;			/* (2^(depth+1) - 1) * DYN_MERKLE_DIGEST bytes */
	uint8_t    *dirty;			/* one flag per inner node (2^depth - 1) */
	uint32_t	ndirty;			/* flags set in dirty */
} dyn_merkle;

/* An empty tree of 2^depth leaves: DYN_OK, DYN_ERR_INVAL or DYN_ERR_NOMEM. */
int			dyn_merkle_init(dyn_merkle *t, unsigned depth);
/* Release the tree's memory (safe on a zeroed or already freed tree). */
void		dyn_merkle_free(dyn_merkle *t);
/* Forget every key, keeping the shape and the allocation. */
void		dyn_merkle_clear(dyn_merkle *t);

/*
 * Account for a write of key: old_object is what was stored before (empty
 * for an insert), new_object what is stored now (empty for a delete).
 */
void		dyn_merkle_update(dyn_merkle *t, dyn_slice key,
							  dyn_slice old_object, dyn_slice new_object);

/*
 * The same update in two halves, for a caller that can see the old object
 * only where it cannot yet touch the tree (inside a storage engine's
 * read-modify-write, before knowing whether the write will happen):
 * dyn_merkle_digest gives what key holding object contributes to its leaf
 * (all zeros for an empty object, i.e. an absent key), and
 * dyn_merkle_apply XORs delta into key's leaf and marks its path stale.
 * dyn_merkle_update(t, key, old, new) is dyn_merkle_apply(t, key,
 * digest(key, old) ^ digest(key, new)); a delta of all zeros changes
 * nothing.  A digest is also what identifies the version of a key that
 * was seen (equal digests, equal bytes).
 */
void		dyn_merkle_digest(dyn_slice key, dyn_slice object,
							  uint8_t out[DYN_MERKLE_DIGEST]);
void		dyn_merkle_apply(dyn_merkle *t, dyn_slice key,
							 const uint8_t delta[DYN_MERKLE_DIGEST]);

/* The root digest. */
void		dyn_merkle_root(dyn_merkle *t, uint8_t out[DYN_MERKLE_DIGEST]);

/* The leaf (0 .. 2^depth - 1) that holds key. */
uint32_t	dyn_merkle_leaf_of(const dyn_merkle *t, dyn_slice key);

/*
 * Append to out the digests of nodes first .. first+count-1 of level:
 * count * DYN_MERKLE_DIGEST bytes.  DYN_ERR_INVAL when the level or the
 * range is out of the tree, DYN_ERR_NOMEM when out could not grow.
 */
int			dyn_merkle_level(dyn_merkle *t, unsigned level,
							 uint32_t first, uint32_t count, dyn_buf *out);

/*
 * Compare nodes first .. first+count-1 of level with their_digests (as
 * dyn_merkle_level encodes them) and store the indices (within the level)
 * of the nodes that differ, ascending, into differing[0 .. max-1]; *n is
 * set to how many differ.  DYN_ERR_INVAL for a level or range out of the
 * tree, DYN_ERR_PROTO when their_digests is not count digests long,
 * DYN_ERR_TOOBIG when more than max differ (the first max are stored).
 */
int			dyn_merkle_diff(dyn_merkle *a, unsigned level,
							uint32_t first, uint32_t count,
							dyn_slice their_digests, uint32_t *differing,
							size_t max, size_t *n);

#endif							/* DYNAMO_MERKLE_H */
