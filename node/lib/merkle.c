/*
 * merkle.c
 *		Per-partition Merkle trees for anti-entropy (see merkle.h).
 *
 * The leaf choice is a fast non-cryptographic hash of the key (64-bit
 * FNV-1a, then the MurmurHash3 finaliser so the top bits depend on every
 * key byte), whose top depth bits pick the leaf: with at most 2^16 leaves
 * anyone can crowd a leaf by trying keys whatever the hash, so a
 * cryptographic one would buy nothing, and this one is on the write path
 * of every object.  The two digests are BLAKE2b (libsodium
 * crypto_generichash), kept apart by a leading domain byte so that no
 * input of one can be read as the other:
 *
 *	contribution	"I" u32 len(key) key object -> 16 bytes, XOR-ed into
 *					the leaf (the length prefix keeps key/object boundaries
 *					unambiguous, so "ab"+"c" and "a"+"bc" differ);
 *	inner node		"N" left right -> 16 bytes.
 *
 * Leaves are XOR-combined so that a leaf is independent of insertion order
 * and a write is O(1) at the leaf.  XOR alone would be weak above the
 * leaves (two changes in different subtrees could cancel), so inner nodes
 * hash their children; a leaf itself can only be fooled by two
 * contributions that cancel, which needs a 128-bit BLAKE2b collision of
 * XOR sums (each key contributes once per replica).
 *
 * Inner nodes are settled lazily, so that a burst of writes rehashes each
 * inner node it touched once, at the next read, not once per write: update marks the
 * path from the leaf up, stopping at the first node already marked since
 * everything above it is marked too, and settle() rehashes marked nodes
 * from the deepest level up.
 */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "dynamo/merkle.h"

static size_t node_at(unsigned level, uint32_t i);
static void hash_inner(uint8_t *parent, const uint8_t *left, const uint8_t *right);
static void contribution(uint8_t out[DYN_MERKLE_DIGEST], dyn_slice key, dyn_slice object);
static void xor_into(uint8_t *dst, const uint8_t *src);
static void mark_path(dyn_merkle *t, uint32_t leaf);
static void settle(dyn_merkle *t);
static void rebuild(dyn_merkle *t);
static int	check_range(const dyn_merkle *t, unsigned level, uint32_t first, uint32_t count);

/* Heap index of node i of level: the levels above hold 2^level - 1 nodes. */
static size_t
node_at(unsigned level, uint32_t i)
{
	return ((size_t) 1 << level) - 1 + i;
}

/* A parent's digest: H("N" || left || right). */
static void
hash_inner(uint8_t *parent, const uint8_t *left, const uint8_t *right)
{
	crypto_generichash_state st;
	const uint8_t dom = 'N';

	crypto_generichash_init(&st, NULL, 0, DYN_MERKLE_DIGEST);
	crypto_generichash_update(&st, &dom, 1);
	crypto_generichash_update(&st, left, DYN_MERKLE_DIGEST);
	crypto_generichash_update(&st, right, DYN_MERKLE_DIGEST);
	crypto_generichash_final(&st, parent, DYN_MERKLE_DIGEST);
}

/*
 * What key holding object adds to its leaf: SipHash-2-4 with 128-bit output
 * of the object, keyed by the SipHash of the key (under a fixed key).  Not
 * BLAKE2b: every write computes this twice (old and new object) and
 * SipHash costs a fraction of it on objects of a few hundred bytes; the
 * digests only need to differ when replicas hold different versions, and
 * the versions' bytes (clocks, timestamps) are the coordinators', not a
 * client's to choose.
 */
static void
contribution(uint8_t out[DYN_MERKLE_DIGEST], dyn_slice key, dyn_slice object)
{
	static const uint8_t domain[crypto_shorthash_siphashx24_KEYBYTES] =
	"dynamo-merkle-v1";
	uint8_t		keyed[crypto_shorthash_siphashx24_BYTES];

	crypto_shorthash_siphashx24(keyed, key.ptr, key.len, domain);
	crypto_shorthash_siphashx24(out, object.ptr, object.len, keyed);
}

/* dst ^= src over one digest. */
static void
xor_into(uint8_t *dst, const uint8_t *src)
{
	for (size_t i = 0; i < DYN_MERKLE_DIGEST; i++)
		dst[i] ^= src[i];
}

/*
 * Mark the ancestors of leaf stale.  Once a marked ancestor is met the rest
 * of the path is marked already, so a burst of writes to one subtree costs
 * O(1) marks per write after the first.
 */
static void
mark_path(dyn_merkle *t, uint32_t leaf)
{
	uint32_t	i = leaf;

	for (unsigned level = t->depth; level-- > 0;)
	{
		size_t		ix;

		i >>= 1;
		ix = node_at(level, i);
		if (t->dirty[ix])
			return;
		t->dirty[ix] = 1;
		t->ndirty++;
	}
}

/*
 * Rehash every stale inner node, deepest level first so that children are
 * current before their parent.  The tree is logically const: only the
 * cached digests in the heap arrays change.
 */
static void
settle(dyn_merkle *t)
{
	uint32_t	left;

	if (t->ndirty == 0)
		return;
	left = t->ndirty;
	for (unsigned level = t->depth; level-- > 0 && left > 0;)
	{
		uint32_t	width = (uint32_t) 1 << level;

		for (uint32_t i = 0; i < width; i++)
		{
			size_t		ix = node_at(level, i);
			size_t		child = node_at(level + 1, 2 * i);

			if (!t->dirty[ix])
				continue;
			hash_inner(t->nodes + ix * DYN_MERKLE_DIGEST,
					   t->nodes + child * DYN_MERKLE_DIGEST,
					   t->nodes + (child + 1) * DYN_MERKLE_DIGEST);
			t->dirty[ix] = 0;
			left--;
		}
	}
	/* Casting away const only for the counter; the arrays are not const. */
	t->ndirty = 0;
}

/*
 * Inner digests of a tree whose leaves are all zero (after init and clear).
 * Every node of a level then has the same digest, so one hash per level
 * and copies fill the tree: a store keeping thousands of partition trees
 * starts them in O(depth) hashes each.
 */
static void
rebuild(dyn_merkle *t)
{
	for (unsigned level = t->depth; level-- > 0;)
	{
		uint32_t	width = (uint32_t) 1 << level;
		uint8_t    *row = t->nodes + node_at(level, 0) * DYN_MERKLE_DIGEST;
		const uint8_t *child = t->nodes + node_at(level + 1, 0) * DYN_MERKLE_DIGEST;

		hash_inner(row, child, child);
		for (uint32_t i = 1; i < width; i++)
			memcpy(row + (size_t) i * DYN_MERKLE_DIGEST, row, DYN_MERKLE_DIGEST);
	}
	memset(t->dirty, 0, t->nleaves - 1);
	t->ndirty = 0;
}

/* DYN_OK when level exists and first .. first+count-1 lie inside it. */
static int
check_range(const dyn_merkle *t, unsigned level, uint32_t first, uint32_t count)
{
	uint64_t	width;

	if (t->nodes == NULL || level > t->depth)
		return DYN_ERR_INVAL;
	width = (uint64_t) 1 << level;
	if ((uint64_t) first + count > width)
		return DYN_ERR_INVAL;
	return DYN_OK;
}

/*
 * dyn_merkle_init: allocate an empty tree of 2^depth leaves.  Every leaf of
 * an empty tree is zero (the XOR of nothing), so every inner node of a
 * given depth has the same digest on every replica.
 */
int
dyn_merkle_init(dyn_merkle *t, unsigned depth)
{
	size_t		nnodes;

	memset(t, 0, sizeof(*t));
	if (depth < 1 || depth > DYN_MERKLE_DEPTH_MAX)
		return DYN_ERR_INVAL;
	if (sodium_init() < 0)
		return DYN_ERR_NOMEM;
	t->depth = depth;
	t->nleaves = (uint32_t) 1 << depth;
	nnodes = 2 * (size_t) t->nleaves - 1;
	t->nodes = calloc(nnodes, DYN_MERKLE_DIGEST);
	t->dirty = calloc(t->nleaves - 1, 1);
	if (t->nodes == NULL || t->dirty == NULL)
	{
		dyn_merkle_free(t);
		return DYN_ERR_NOMEM;
	}
	rebuild(t);
	return DYN_OK;
}

/* dyn_merkle_free: release the arrays and leave a zeroed tree behind. */
void
dyn_merkle_free(dyn_merkle *t)
{
	free(t->nodes);
	free(t->dirty);
	memset(t, 0, sizeof(*t));
}

/* dyn_merkle_clear: back to the empty tree (e.g. a partition handed off). */
void
dyn_merkle_clear(dyn_merkle *t)
{
	if (t->nodes == NULL)
		return;
	memset(t->nodes + node_at(t->depth, 0) * DYN_MERKLE_DIGEST, 0,
		   (size_t) t->nleaves * DYN_MERKLE_DIGEST);
	rebuild(t);
}

/*
 * dyn_merkle_update: XOR the old contribution out of the key's leaf and the
 * new one in (XOR is its own inverse), then mark the path stale.
 */
void
dyn_merkle_update(dyn_merkle *t, dyn_slice key,
				  dyn_slice old_object, dyn_slice new_object)
{
	uint8_t		c[DYN_MERKLE_DIGEST];
	uint8_t    *leafp;
	uint32_t	leaf;

	if (t->nodes == NULL || (old_object.len == 0 && new_object.len == 0))
		return;
	if (old_object.len == new_object.len &&
		dyn_slice_eq(old_object, new_object))
		return;
	leaf = dyn_merkle_leaf_of(t, key);
	leafp = t->nodes + node_at(t->depth, leaf) * DYN_MERKLE_DIGEST;
	if (old_object.len > 0)
	{
		contribution(c, key, old_object);
		xor_into(leafp, c);
	}
	if (new_object.len > 0)
	{
		contribution(c, key, new_object);
		xor_into(leafp, c);
	}
	mark_path(t, leaf);
}

/* dyn_merkle_digest: a key's leaf contribution; zeros when absent. */
void
dyn_merkle_digest(dyn_slice key, dyn_slice object, uint8_t out[DYN_MERKLE_DIGEST])
{
	if (object.len == 0)
	{
		memset(out, 0, DYN_MERKLE_DIGEST);
		return;
	}
	contribution(out, key, object);
}

/*
 * dyn_merkle_apply: XOR a precomputed delta into key's leaf.  A zero delta
 * (nothing changed) leaves the tree alone, so it costs no leaf hash and
 * marks nothing stale.
 */
void
dyn_merkle_apply(dyn_merkle *t, dyn_slice key, const uint8_t delta[DYN_MERKLE_DIGEST])
{
	uint8_t		any = 0;
	uint32_t	leaf;

	if (t->nodes == NULL)
		return;
	for (size_t i = 0; i < DYN_MERKLE_DIGEST; i++)
		any |= delta[i];
	if (any == 0)
		return;
	leaf = dyn_merkle_leaf_of(t, key);
	xor_into(t->nodes + node_at(t->depth, leaf) * DYN_MERKLE_DIGEST, delta);
	mark_path(t, leaf);
}

/* dyn_merkle_root: settle and copy out the root digest. */
void
dyn_merkle_root(dyn_merkle *t, uint8_t out[DYN_MERKLE_DIGEST])
{
	if (t->nodes == NULL)
	{
		memset(out, 0, DYN_MERKLE_DIGEST);
		return;
	}
	settle(t);
	memcpy(out, t->nodes, DYN_MERKLE_DIGEST);
}

/*
 * dyn_merkle_leaf_of: the top depth bits of fmix64(FNV-1a-64(key)).  A
 * hash of its own (not the ring position) because the keys of one
 * partition share the top bits of their ring position and would crowd
 * into a few leaves.  Part of the tree's definition: every replica must
 * choose leaves the same way.
 */
uint32_t
dyn_merkle_leaf_of(const dyn_merkle *t, dyn_slice key)
{
	uint64_t	h = UINT64_C(0xcbf29ce484222325);

	if (t->depth == 0)
		return 0;
	for (size_t i = 0; i < key.len; i++)
	{
		h ^= key.ptr[i];
		h *= UINT64_C(0x100000001b3);
	}
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return (uint32_t) (h >> (64 - t->depth));
}

/* dyn_merkle_level: append count digests of level, from node first. */
int
dyn_merkle_level(dyn_merkle *t, unsigned level,
				 uint32_t first, uint32_t count, dyn_buf *out)
{
	int			rc = check_range(t, level, first, count);

	if (rc != DYN_OK)
		return rc;
	settle(t);
	dyn_buf_append(out, t->nodes + node_at(level, first) * DYN_MERKLE_DIGEST,
				   (size_t) count * DYN_MERKLE_DIGEST);
	return out->err ? out->err : DYN_OK;
}

/*
 * dyn_merkle_diff: which of count nodes of level differ from the peer's.
 * Every argument is checked before anything is read, so a malformed
 * message from a peer is an error and never a wild read.
 */
int
dyn_merkle_diff(dyn_merkle *a, unsigned level,
				uint32_t first, uint32_t count,
				dyn_slice their_digests, uint32_t *differing,
				size_t max, size_t *n)
{
	int			rc;
	size_t		found = 0;
	const uint8_t *mine;

	if (n != NULL)
		*n = 0;
	if (n == NULL || (differing == NULL && max > 0))
		return DYN_ERR_INVAL;
	rc = check_range(a, level, first, count);
	if (rc != DYN_OK)
		return rc;
	if (their_digests.len != (size_t) count * DYN_MERKLE_DIGEST ||
		(count > 0 && their_digests.ptr == NULL))
		return DYN_ERR_PROTO;
	settle(a);
	mine = a->nodes + node_at(level, first) * DYN_MERKLE_DIGEST;
	for (uint32_t i = 0; i < count; i++)
	{
		if (memcmp(mine + (size_t) i * DYN_MERKLE_DIGEST,
				   their_digests.ptr + (size_t) i * DYN_MERKLE_DIGEST,
				   DYN_MERKLE_DIGEST) == 0)
			continue;
		if (found < max)
			differing[found] = first + i;
		found++;
	}
	*n = found;
	return found > max ? DYN_ERR_TOOBIG : DYN_OK;
}
