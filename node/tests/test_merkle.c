/*
 * test_merkle.c
 *		Unit tests for merkle.c: roots independent of insertion order,
 *		update/revert and delete-all back to the same roots, the level by
 *		level descent finding exactly the leaves of the keys that differ
 *		(and how many bytes it exchanges), malformed arguments, and the
 *		split update (dyn_merkle_digest + dyn_merkle_apply) agreeing with
 *		dyn_merkle_update node for node.
 *
 * The big test uses 100,000 keys; DYN_MERKLE_TEST_KEYS overrides that (for
 * slow runs such as valgrind on a small machine).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dynamo/merkle.h"

/* What one descent cost and found. */
typedef struct descent
{
	uint32_t   *leaves;			/* differing leaves, ascending */
	size_t		nleaves;
	size_t		digest_bytes;	/* digests sent by the asking replica */
	size_t		index_bytes;	/* u32 indices of differing nodes answered */
	unsigned	rounds;			/* levels visited */
} descent;

static dyn_slice key_of(char *buf, size_t cap, uint32_t i);
static dyn_slice object_of(char *buf, size_t cap, uint32_t i, uint32_t version);
static void put(dyn_merkle *t, uint32_t i, uint32_t version);
static void descend(dyn_merkle *mine, dyn_merkle *theirs, descent *d);
static int	cmp_u32(const void *a, const void *b);
static size_t unique_sorted(uint32_t *v, size_t n);
static uint32_t xorshift(uint32_t *s);
static uint32_t big_key_count(void);
static void test_order_independent(void **state);
static void test_one_change(void **state);
static void test_update_revert(void **state);
static void test_delete_all(void **state);
static void test_big_descent(void **state);
static void test_malformed(void **state);
static void test_digest_apply(void **state);
static void test_leaf_spread(void **state);
static void assert_same_tree(dyn_merkle *a, dyn_merkle *b);

/* The slice of key number i, formatted into buf. */
static dyn_slice
key_of(char *buf, size_t cap, uint32_t i)
{
	int			len = snprintf(buf, cap, "bucket/key-%08u", i);
	dyn_slice	s = {(const uint8_t *) buf, (size_t) len};

	return s;
}

/* The slice of version version of key i's object. */
static dyn_slice
object_of(char *buf, size_t cap, uint32_t i, uint32_t version)
{
	int			len = snprintf(buf, cap, "object %u version %u payload", i, version);
	dyn_slice	s = {(const uint8_t *) buf, (size_t) len};

	return s;
}

/* Insert key i with the given object version. */
static void
put(dyn_merkle *t, uint32_t i, uint32_t version)
{
	char		kb[32];
	char		ob[64];
	dyn_slice	none = {NULL, 0};

	dyn_merkle_update(t, key_of(kb, sizeof(kb), i), none,
					  object_of(ob, sizeof(ob), i, version));
}

/*
 * Run the anti-entropy descent as two replicas would: theirs sends the
 * digests of the children of every node that differed at the level above
 * (the root alone at first), mine answers which differ, down to the leaves.
 */
static void
descend(dyn_merkle *mine, dyn_merkle *theirs, descent *d)
{
	uint32_t   *cur = malloc(sizeof(uint32_t) * mine->nleaves);
	uint32_t   *next = malloc(sizeof(uint32_t) * mine->nleaves);
	size_t		ncur = 0;
	dyn_buf		msg;
	size_t		n;

	assert_non_null(cur);
	assert_non_null(next);
	memset(d, 0, sizeof(*d));
	dyn_buf_init(&msg);

	assert_int_equal(dyn_merkle_level(theirs, 0, 0, 1, &msg), DYN_OK);
	d->digest_bytes += msg.len;
	assert_int_equal(dyn_merkle_diff(mine, 0, 0, 1, dyn_buf_slice(&msg),
									 cur, 1, &ncur), DYN_OK);
	d->index_bytes += 4 * ncur;
	d->rounds = 1;
	for (unsigned level = 1; level <= mine->depth && ncur > 0; level++)
	{
		size_t		nnext = 0;

		for (size_t j = 0; j < ncur; j++)
		{
			dyn_buf_reset(&msg);
			assert_int_equal(dyn_merkle_level(theirs, level, 2 * cur[j], 2, &msg),
							 DYN_OK);
			d->digest_bytes += msg.len;
			assert_int_equal(dyn_merkle_diff(mine, level, 2 * cur[j], 2,
											 dyn_buf_slice(&msg),
											 next + nnext, 2, &n), DYN_OK);
			/* a parent differs only if a child does */
			assert_true(n >= 1);
			nnext += n;
			d->index_bytes += 4 * n;
		}
		memcpy(cur, next, nnext * sizeof(uint32_t));
		ncur = nnext;
		d->rounds++;
	}
	dyn_buf_free(&msg);
	free(next);
	d->leaves = cur;
	d->nleaves = ncur;
}

/* qsort order of u32. */
static int
cmp_u32(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *) a;
	uint32_t	y = *(const uint32_t *) b;

	return (x > y) - (x < y);
}

/* Sort v and drop duplicates; the new length. */
static size_t
unique_sorted(uint32_t *v, size_t n)
{
	size_t		out = 0;

	qsort(v, n, sizeof(uint32_t), cmp_u32);
	for (size_t i = 0; i < n; i++)
		if (out == 0 || v[out - 1] != v[i])
			v[out++] = v[i];
	return out;
}

/* A fixed-seed PRNG so every run shuffles the same way. */
static uint32_t
xorshift(uint32_t *s)
{
	uint32_t	x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

/* Keys in the big test: 100,000 unless DYN_MERKLE_TEST_KEYS says otherwise. */
static uint32_t
big_key_count(void)
{
	const char *env = getenv("DYN_MERKLE_TEST_KEYS");
	long		v;

	if (env == NULL)
		return 100000;
	v = strtol(env, NULL, 10);
	return v >= 1000 && v <= 10000000 ? (uint32_t) v : 100000;
}

/* The same keys and objects in any order give the same root. */
static void
test_order_independent(void **state)
{
	dyn_merkle	a,
				b;
	uint8_t		ra[DYN_MERKLE_DIGEST],
				rb[DYN_MERKLE_DIGEST];
	uint32_t	order[2000];
	uint32_t	seed = 12345;

	(void) state;
	assert_int_equal(dyn_merkle_init(&a, DYN_MERKLE_DEPTH_DEFAULT), DYN_OK);
	assert_int_equal(dyn_merkle_init(&b, DYN_MERKLE_DEPTH_DEFAULT), DYN_OK);
	for (uint32_t i = 0; i < 2000; i++)
		order[i] = i;
	for (uint32_t i = 1999; i > 0; i--)
	{
		uint32_t	j = xorshift(&seed) % (i + 1);
		uint32_t	tmp = order[i];

		order[i] = order[j];
		order[j] = tmp;
	}
	for (uint32_t i = 0; i < 2000; i++)
	{
		put(&a, i, 1);
		put(&b, order[i], 1);
		/* reading the root mid-way must not change the final answer */
		if (i == 1000)
			dyn_merkle_root(&b, rb);
	}
	dyn_merkle_root(&a, ra);
	dyn_merkle_root(&b, rb);
	assert_memory_equal(ra, rb, DYN_MERKLE_DIGEST);
	dyn_merkle_free(&a);
	dyn_merkle_free(&b);
}

/* One changed object changes the root; the descent finds exactly its leaf. */
static void
test_one_change(void **state)
{
	dyn_merkle	a,
				b;
	uint8_t		ra[DYN_MERKLE_DIGEST],
				rb[DYN_MERKLE_DIGEST];
	char		kb[32],
				ob1[64],
				ob2[64];
	descent		d;

	(void) state;
	assert_int_equal(dyn_merkle_init(&a, DYN_MERKLE_DEPTH_DEFAULT), DYN_OK);
	assert_int_equal(dyn_merkle_init(&b, DYN_MERKLE_DEPTH_DEFAULT), DYN_OK);
	for (uint32_t i = 0; i < 5000; i++)
	{
		put(&a, i, 1);
		put(&b, i, 1);
	}
	dyn_merkle_root(&a, ra);
	dyn_merkle_root(&b, rb);
	assert_memory_equal(ra, rb, DYN_MERKLE_DIGEST);
	descend(&a, &b, &d);
	assert_int_equal(d.nleaves, 0);
	assert_int_equal(d.rounds, 1);
	free(d.leaves);

	dyn_merkle_update(&b, key_of(kb, sizeof(kb), 4242),
					  object_of(ob1, sizeof(ob1), 4242, 1),
					  object_of(ob2, sizeof(ob2), 4242, 2));
	dyn_merkle_root(&b, rb);
	assert_memory_not_equal(ra, rb, DYN_MERKLE_DIGEST);
	descend(&a, &b, &d);
	assert_int_equal(d.nleaves, 1);
	assert_int_equal(d.leaves[0], dyn_merkle_leaf_of(&a, key_of(kb, sizeof(kb), 4242)));
	assert_int_equal(d.rounds, DYN_MERKLE_DEPTH_DEFAULT + 1);
	free(d.leaves);
	dyn_merkle_free(&a);
	dyn_merkle_free(&b);
}

/* An update followed by its reverse gives back the old root. */
static void
test_update_revert(void **state)
{
	dyn_merkle	t;
	uint8_t		r0[DYN_MERKLE_DIGEST],
				r1[DYN_MERKLE_DIGEST];
	char		kb[32],
				ob1[64],
				ob2[64];
	dyn_slice	k,
				v1,
				v2;

	(void) state;
	assert_int_equal(dyn_merkle_init(&t, 12), DYN_OK);
	for (uint32_t i = 0; i < 3000; i++)
		put(&t, i, 7);
	dyn_merkle_root(&t, r0);
	k = key_of(kb, sizeof(kb), 17);
	v1 = object_of(ob1, sizeof(ob1), 17, 7);
	v2 = object_of(ob2, sizeof(ob2), 17, 8);
	dyn_merkle_update(&t, k, v1, v2);
	dyn_merkle_root(&t, r1);
	assert_memory_not_equal(r0, r1, DYN_MERKLE_DIGEST);
	dyn_merkle_update(&t, k, v2, v1);
	dyn_merkle_root(&t, r1);
	assert_memory_equal(r0, r1, DYN_MERKLE_DIGEST);
	/* a write of the same bytes is no change */
	dyn_merkle_update(&t, k, v1, v1);
	dyn_merkle_root(&t, r1);
	assert_memory_equal(r0, r1, DYN_MERKLE_DIGEST);
	dyn_merkle_free(&t);
}

/* Deleting every key, or clearing, gives the root of an empty tree. */
static void
test_delete_all(void **state)
{
	dyn_merkle	t,
				empty;
	uint8_t		re[DYN_MERKLE_DIGEST],
				r[DYN_MERKLE_DIGEST];
	char		kb[32],
				ob[64];
	dyn_slice	none = {NULL, 0};

	(void) state;
	assert_int_equal(dyn_merkle_init(&empty, DYN_MERKLE_DEPTH_DEFAULT), DYN_OK);
	assert_int_equal(dyn_merkle_init(&t, DYN_MERKLE_DEPTH_DEFAULT), DYN_OK);
	dyn_merkle_root(&empty, re);
	dyn_merkle_root(&t, r);
	assert_memory_equal(re, r, DYN_MERKLE_DIGEST);
	for (uint32_t i = 0; i < 3000; i++)
		put(&t, i, 1);
	dyn_merkle_root(&t, r);
	assert_memory_not_equal(re, r, DYN_MERKLE_DIGEST);
	for (uint32_t i = 0; i < 3000; i++)
		dyn_merkle_update(&t, key_of(kb, sizeof(kb), i),
						  object_of(ob, sizeof(ob), i, 1), none);
	dyn_merkle_root(&t, r);
	assert_memory_equal(re, r, DYN_MERKLE_DIGEST);

	for (uint32_t i = 0; i < 100; i++)
		put(&t, i, 3);
	dyn_merkle_clear(&t);
	dyn_merkle_root(&t, r);
	assert_memory_equal(re, r, DYN_MERKLE_DIGEST);
	dyn_merkle_free(&t);
	dyn_merkle_free(&empty);
	/* free twice is harmless, and a freed tree reads as empty */
	dyn_merkle_free(&t);
}

/*
 * Two replicas of N keys that differ in 100 keys (90 changed objects, 5
 * keys only on one side, 5 only on the other): the descent finds exactly
 * their leaves and exchanges under 2 % of N key digests.
 */
static void
test_big_descent(void **state)
{
	uint32_t	nkeys = big_key_count();
	dyn_merkle	a,
				b;
	uint32_t	expect[100];
	size_t		nexpect;
	char		kb[32],
				ob[64];
	dyn_slice	none = {NULL, 0};
	uint32_t	seed = 987654321;
	descent		d;
	size_t		full,
				exchanged;

	(void) state;
	assert_int_equal(dyn_merkle_init(&a, DYN_MERKLE_DEPTH_DEFAULT), DYN_OK);
	assert_int_equal(dyn_merkle_init(&b, DYN_MERKLE_DEPTH_DEFAULT), DYN_OK);
	for (uint32_t i = 0; i < nkeys; i++)
	{
		put(&a, i, 1);
		put(&b, i, 1);
	}
	for (uint32_t j = 0; j < 100; j++)
	{
		/* distinct keys: one from each stretch of nkeys / 100 */
		uint32_t	i = j * (nkeys / 100) + xorshift(&seed) % (nkeys / 100);
		dyn_slice	k = key_of(kb, sizeof(kb), i);

		expect[j] = dyn_merkle_leaf_of(&a, k);
		if (j < 90)
		{
			char		ob2[64];

			dyn_merkle_update(&b, k, object_of(ob, sizeof(ob), i, 1),
							  object_of(ob2, sizeof(ob2), i, 2));
		}
		else if (j < 95)
			dyn_merkle_update(&b, k, object_of(ob, sizeof(ob), i, 1), none);
		else
		{
			/* a key only b has (beyond the shared range) */
			k = key_of(kb, sizeof(kb), nkeys + j);
			expect[j] = dyn_merkle_leaf_of(&a, k);
			dyn_merkle_update(&b, k, none, object_of(ob, sizeof(ob), nkeys + j, 1));
		}
	}
	nexpect = unique_sorted(expect, 100);

	descend(&a, &b, &d);
	assert_int_equal(d.nleaves, nexpect);
	assert_memory_equal(d.leaves, expect, nexpect * sizeof(uint32_t));

	full = (size_t) nkeys * DYN_MERKLE_DIGEST;
	exchanged = d.digest_bytes + d.index_bytes;
	print_message("merkle depth %u, %u keys, 100 differing in %zu leaves: "
				  "descent sent %zu digest bytes + %zu index bytes = %zu "
				  "vs %zu for every key's digest (%.2f %%)\n",
				  a.depth, nkeys, nexpect, d.digest_bytes, d.index_bytes,
				  exchanged, full, 100.0 * (double) exchanged / (double) full);
	if (nkeys >= 100000)
		assert_true(exchanged * 50 < full);
	free(d.leaves);
	dyn_merkle_free(&a);
	dyn_merkle_free(&b);
}

/* Bad depths, levels, ranges and digest lengths are errors, never crashes. */
static void
test_malformed(void **state)
{
	dyn_merkle	t,
				z;
	dyn_buf		out;
	uint32_t	diff[4];
	size_t		n = 99;
	uint8_t		junk[3 * DYN_MERKLE_DIGEST];
	dyn_slice	s;

	(void) state;
	assert_int_equal(dyn_merkle_init(&z, 0), DYN_ERR_INVAL);
	assert_int_equal(dyn_merkle_init(&z, DYN_MERKLE_DEPTH_MAX + 1), DYN_ERR_INVAL);
	assert_int_equal(dyn_merkle_init(&t, 4), DYN_OK);
	for (uint32_t i = 0; i < 200; i++)
		put(&t, i, 1);
	dyn_buf_init(&out);

	/* level and range checks */
	assert_int_equal(dyn_merkle_level(&t, 5, 0, 1, &out), DYN_ERR_INVAL);
	assert_int_equal(dyn_merkle_level(&t, 4, 15, 2, &out), DYN_ERR_INVAL);
	assert_int_equal(dyn_merkle_level(&t, 4, UINT32_MAX, 2, &out), DYN_ERR_INVAL);
	assert_int_equal(dyn_merkle_level(&t, 0, 2, 0, &out), DYN_ERR_INVAL);
	assert_int_equal(out.len, 0);
	assert_int_equal(dyn_merkle_level(&t, 4, 0, 16, &out), DYN_OK);
	assert_int_equal(out.len, 16 * DYN_MERKLE_DIGEST);
	assert_int_equal(dyn_merkle_level(&z, 0, 0, 1, &out), DYN_ERR_INVAL);

	memset(junk, 0xAB, sizeof(junk));
	s.ptr = junk;
	s.len = sizeof(junk);
	assert_int_equal(dyn_merkle_diff(&t, 7, 0, 3, s, diff, 4, &n), DYN_ERR_INVAL);
	assert_int_equal(n, 0);
	assert_int_equal(dyn_merkle_diff(&t, 2, 2, 3, s, diff, 4, &n), DYN_ERR_INVAL);
	assert_int_equal(dyn_merkle_diff(&t, 2, UINT32_MAX, 3, s, diff, 4, &n), DYN_ERR_INVAL);
	/* wrong digest lengths */
	s.len = sizeof(junk) - 1;
	assert_int_equal(dyn_merkle_diff(&t, 2, 0, 3, s, diff, 4, &n), DYN_ERR_PROTO);
	s.len = sizeof(junk);
	assert_int_equal(dyn_merkle_diff(&t, 2, 0, 2, s, diff, 4, &n), DYN_ERR_PROTO);
	s.ptr = NULL;
	assert_int_equal(dyn_merkle_diff(&t, 2, 0, 3, s, diff, 4, &n), DYN_ERR_PROTO);
	s.ptr = junk;
	/* bad output arguments */
	assert_int_equal(dyn_merkle_diff(&t, 2, 0, 3, s, diff, 4, NULL), DYN_ERR_INVAL);
	assert_int_equal(dyn_merkle_diff(&t, 2, 0, 3, s, NULL, 4, &n), DYN_ERR_INVAL);
	/* all three differ: too many for max 2, the first two are stored */
	assert_int_equal(dyn_merkle_diff(&t, 2, 1, 3, s, diff, 2, &n), DYN_ERR_TOOBIG);
	assert_int_equal(n, 3);
	assert_int_equal(diff[0], 1);
	assert_int_equal(diff[1], 2);
	assert_int_equal(dyn_merkle_diff(&t, 2, 1, 3, s, diff, 4, &n), DYN_OK);
	assert_int_equal(n, 3);
	assert_int_equal(diff[2], 3);
	/* an uninitialised (zeroed) tree is refused too */
	assert_int_equal(dyn_merkle_diff(&z, 0, 0, 1, s, diff, 4, &n), DYN_ERR_INVAL);
	/* leaves stay within range at every depth */
	for (unsigned depth = 1; depth <= DYN_MERKLE_DEPTH_MAX; depth += 5)
	{
		dyn_merkle	u;
		char		kb[32];

		assert_int_equal(dyn_merkle_init(&u, depth), DYN_OK);
		for (uint32_t i = 0; i < 100; i++)
			assert_true(dyn_merkle_leaf_of(&u, key_of(kb, sizeof(kb), i)) < u.nleaves);
		dyn_merkle_free(&u);
	}
	dyn_buf_free(&out);
	dyn_merkle_free(&t);
}

/* Every node of every level of a equals b's. */
static void
assert_same_tree(dyn_merkle *a, dyn_merkle *b)
{
	dyn_buf		da;
	dyn_buf		db;

	assert_int_equal(a->depth, b->depth);
	dyn_buf_init(&da);
	dyn_buf_init(&db);
	for (unsigned level = 0; level <= a->depth; level++)
	{
		uint32_t	width = (uint32_t) 1 << level;

		dyn_buf_reset(&da);
		dyn_buf_reset(&db);
		assert_int_equal(dyn_merkle_level(a, level, 0, width, &da), DYN_OK);
		assert_int_equal(dyn_merkle_level(b, level, 0, width, &db), DYN_OK);
		assert_int_equal(da.len, db.len);
		assert_memory_equal(da.data, db.data, da.len);
	}
	dyn_buf_free(&da);
	dyn_buf_free(&db);
}

/*
 * dyn_merkle_digest + dyn_merkle_apply of old ^ new is dyn_merkle_update:
 * two trees driven by random inserts, overwrites, rewrites of the same
 * bytes and deletes, one each way, agree at every node.  An empty object
 * digests to zeros, a zero delta marks nothing, a cleared tree is a fresh
 * one, and applying to a freed tree does nothing.
 */
static void
test_digest_apply(void **state)
{
	enum
	{
		NKEYS = 500
	};
	dyn_merkle	a;
	dyn_merkle	b;
	dyn_merkle	fresh;
	uint32_t	version[NKEYS] = {0};	/* 0: absent */
	uint32_t	seed = 2463534242u;
	uint8_t		zero[DYN_MERKLE_DIGEST] = {0};
	uint8_t		d[DYN_MERKLE_DIGEST];
	uint8_t		root[DYN_MERKLE_DIGEST];
	char		kb[32];
	char		ob[64];
	dyn_slice	none = {NULL, 0};

	(void) state;
	dyn_merkle_digest(key_of(kb, sizeof(kb), 1), none, d);
	assert_memory_equal(d, zero, DYN_MERKLE_DIGEST);
	dyn_merkle_digest(key_of(kb, sizeof(kb), 1), object_of(ob, sizeof(ob), 1, 1), d);
	assert_memory_not_equal(d, zero, DYN_MERKLE_DIGEST);

	assert_int_equal(dyn_merkle_init(&a, 8), DYN_OK);
	assert_int_equal(dyn_merkle_init(&b, 8), DYN_OK);
	assert_int_equal(dyn_merkle_init(&fresh, 8), DYN_OK);
	for (int i = 0; i < 20000; i++)
	{
		uint32_t	k = xorshift(&seed) % NKEYS;
		uint32_t	op = xorshift(&seed) % 10;
		uint32_t	nv = op < 2 ? 0 : op < 3 ? version[k] : version[k] + 1 + op;
		char		ob_old[64];
		char		ob_new[64];
		dyn_slice	key = key_of(kb, sizeof(kb), k);
		dyn_slice	old = version[k] ? object_of(ob_old, sizeof(ob_old), k, version[k]) : none;
		dyn_slice	new = nv ? object_of(ob_new, sizeof(ob_new), k, nv) : none;
		uint8_t		dn[DYN_MERKLE_DIGEST];

		dyn_merkle_update(&a, key, old, new);
		dyn_merkle_digest(key, old, d);
		dyn_merkle_digest(key, new, dn);
		for (size_t j = 0; j < DYN_MERKLE_DIGEST; j++)
			d[j] ^= dn[j];
		dyn_merkle_apply(&b, key, d);
		version[k] = nv;
		if (i % 2000 == 0)
			assert_same_tree(&a, &b);
	}
	assert_same_tree(&a, &b);

	/* a zero delta (same bytes written again) marks nothing stale */
	dyn_merkle_root(&b, root);
	assert_int_equal(b.ndirty, 0);
	dyn_merkle_apply(&b, key_of(kb, sizeof(kb), 3), zero);
	assert_int_equal(b.ndirty, 0);

	/* deleting what is left through apply gives the empty tree */
	for (uint32_t k = 0; k < NKEYS; k++)
	{
		if (version[k] == 0)
			continue;
		dyn_merkle_digest(key_of(kb, sizeof(kb), k), object_of(ob, sizeof(ob), k, version[k]), d);
		dyn_merkle_apply(&b, key_of(kb, sizeof(kb), k), d);
	}
	assert_same_tree(&b, &fresh);
	dyn_merkle_clear(&a);
	assert_same_tree(&a, &fresh);

	dyn_merkle_free(&a);
	dyn_merkle_apply(&a, key_of(kb, sizeof(kb), 3), root);	/* freed: no-op */
	dyn_merkle_free(&b);
	dyn_merkle_free(&fresh);
}

/*
 * Keys that differ little (a counter after a shared prefix, as the keys of
 * one partition share their first engine-key bytes) spread evenly over the
 * leaves: 102,400 keys over 1024 leaves put 100 +- 5 sigma in every leaf,
 * and a one-level tree uses both halves about equally.
 */
static void
test_leaf_spread(void **state)
{
	enum
	{
		NKEYS = 102400
	};
	dyn_merkle	t;
	dyn_merkle	t1;
	uint32_t   *count;
	uint32_t	half = 0;
	char		kb[32];

	(void) state;
	assert_int_equal(dyn_merkle_init(&t, 10), DYN_OK);
	assert_int_equal(dyn_merkle_init(&t1, 1), DYN_OK);
	count = calloc(t.nleaves, sizeof(uint32_t));
	assert_non_null(count);
	for (uint32_t i = 0; i < NKEYS; i++)
	{
		int			len = snprintf(kb, sizeof(kb), "%c%c%cb%u", 0, 7, 1, i);
		dyn_slice	k = {(const uint8_t *) kb, (size_t) len};

		count[dyn_merkle_leaf_of(&t, k)]++;
		half += dyn_merkle_leaf_of(&t1, k);
	}
	for (uint32_t l = 0; l < t.nleaves; l++)
		assert_in_range(count[l], 50, 150);
	assert_in_range(half, NKEYS / 2 - 800, NKEYS / 2 + 800);
	free(count);
	dyn_merkle_free(&t);
	dyn_merkle_free(&t1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_independent),
		cmocka_unit_test(test_one_change),
		cmocka_unit_test(test_update_revert),
		cmocka_unit_test(test_delete_all),
		cmocka_unit_test(test_big_descent),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_digest_apply),
		cmocka_unit_test(test_leaf_spread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
