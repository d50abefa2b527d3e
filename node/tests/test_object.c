/*
 * test_object.c
 *		Unit tests for object.c: coordinator writes and replica merges of
 *		sibling sets under dotted version vectors (the worked example of
 *		DESIGN.md section 1 among them), tombstones, the encoding and what
 *		its decoder refuses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dynamo/object.h"

static dyn_slice bytes_of(const void *p, size_t n);
static void put(dyn_object *o, const char *node, const dyn_vclock *ctx,
				const char *value, uint64_t now, dyn_vclock *written);
static bool has_dot(const dyn_object *o, const char *id, uint64_t counter);
static bool same_dots(const dyn_object *a, const dyn_object *b);
static void copy_object(dyn_object *dst, const dyn_object *src, dyn_buf *scratch);
static void check_round_trip(const dyn_object *o);
static int	decode_bytes(const void *p, size_t n, dyn_object *o);
static bool model_in(const dyn_sibling *s, const dyn_object *o);
static bool model_keeps(const dyn_sibling *s, const dyn_object *theirs,
						const dyn_vclock *their_ctx);
static void rehome(dyn_object *o, dyn_buf *home);
static bool same_bytes(const dyn_object *a, const dyn_object *b);
static void check_nothing_covered(const dyn_object *o, const dyn_vclock *ctx,
								  const char *id, uint64_t counter);
static void hand_sibling(dyn_sibling *s, const char *id, const char *const *ids,
						 size_t n);

/* Decode the bytes of a string literal, without its NUL. */
#define DECODE_LIT(lit, o)	decode_bytes((lit), sizeof(lit) - 1, (o))

/* A slice over n bytes at p. */
static dyn_slice
bytes_of(const void *p, size_t n)
{
	dyn_slice	s = {p, n};

	return s;
}

/*
 * A coordinator write that must succeed; value NULL writes a tombstone.
 * value must outlive o (string literals do).
 */
static void
put(dyn_object *o, const char *node, const dyn_vclock *ctx, const char *value,
	uint64_t now, dyn_vclock *written)
{
	dyn_slice	v;
	dyn_vclock	empty;

	if (ctx == NULL)
	{
		dyn_vclock_init(&empty);
		ctx = &empty;
	}
	if (value != NULL)
		v = dyn_slice_str(value);
	assert_int_equal(dyn_object_put(o, dyn_slice_str(node), ctx,
									value != NULL ? &v : NULL, now, written),
					 DYN_OK);
}

/* Whether o holds the version dotted (id, counter). */
static bool
has_dot(const dyn_object *o, const char *id, uint64_t counter)
{
	size_t		i;

	for (i = 0; i < o->n; i++)
	{
		const dyn_vclock_entry *d = &o->s[i].clock.e[o->s[i].dot];

		if (d->counter == counter &&
			dyn_slice_eq(bytes_of(d->id, d->idlen), dyn_slice_str(id)))
			return true;
	}
	return false;
}

/* Whether a and b hold the same versions (siblings are in dot order). */
static bool
same_dots(const dyn_object *a, const dyn_object *b)
{
	size_t		i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
	{
		const dyn_vclock_entry *da = &a->s[i].clock.e[a->s[i].dot];
		const dyn_vclock_entry *db = &b->s[i].clock.e[b->s[i].dot];

		if (da->counter != db->counter ||
			!dyn_slice_eq(bytes_of(da->id, da->idlen), bytes_of(db->id, db->idlen)))
			return false;
	}
	return true;
}

/*
 * dst := src, the way a replica gets a copy: through the encoding.  The
 * values then live in scratch, which the caller keeps alive.
 */
static void
copy_object(dyn_object *dst, const dyn_object *src, dyn_buf *scratch)
{
	dyn_buf_reset(scratch);
	dyn_object_encode(src, scratch);
	assert_int_equal(scratch->err, DYN_OK);
	assert_int_equal(dyn_object_decode(dyn_buf_slice(scratch), dst), DYN_OK);
}

/* Encode o, decode it, and get the same object and the same bytes back. */
static void
check_round_trip(const dyn_object *o)
{
	dyn_buf		first;
	dyn_buf		second;
	dyn_object	back;
	size_t		i;

	dyn_buf_init(&first);
	dyn_buf_init(&second);
	dyn_object_init(&back);
	dyn_object_encode(o, &first);
	assert_int_equal(first.err, DYN_OK);
	assert_int_equal(dyn_object_decode(dyn_buf_slice(&first), &back), DYN_OK);
	assert_int_equal(back.n, o->n);
	for (i = 0; i < o->n; i++)
	{
		assert_int_equal(back.s[i].dot, o->s[i].dot);
		assert_int_equal(back.s[i].tombstone, o->s[i].tombstone);
		assert_true(dyn_slice_eq(back.s[i].value, o->s[i].value));
		assert_int_equal(dyn_vclock_compare(&back.s[i].clock, &o->s[i].clock),
						 DYN_VC_EQUAL);
	}
	dyn_object_encode(&back, &second);
	assert_int_equal(second.len, first.len);
	assert_memory_equal(second.data, first.data, first.len);
	dyn_object_free(&back);
	dyn_buf_free(&first);
	dyn_buf_free(&second);
}

/* Decode n bytes at p as an object. */
static int
decode_bytes(const void *p, size_t n, dyn_object *o)
{
	return dyn_object_decode(bytes_of(p, n), o);
}

/*
 * DESIGN.md section 1: writes from one context through one coordinator
 * stay siblings; a write with the merged context replaces them all.
 */
static void
test_worked_example(void **state)
{
	dyn_object	o;
	dyn_vclock	written;
	dyn_vclock	read_ctx;
	dyn_vclock	merged;

	(void) state;
	dyn_object_init(&o);

	put(&o, "n1", NULL, "v0", 1, &written);
	assert_int_equal(o.n, 1);
	assert_true(has_dot(&o, "n1", 1));
	assert_true(dyn_vclock_get(&written, dyn_slice_str("n1")) == 1);
	assert_int_equal(written.n, 1);

	dyn_object_context(&o, &read_ctx);	/* {n1:1} */
	assert_int_equal(read_ctx.n, 1);
	assert_true(dyn_vclock_get(&read_ctx, dyn_slice_str("n1")) == 1);

	put(&o, "n1", &read_ctx, "A", 2, NULL);
	assert_int_equal(o.n, 1);
	assert_true(has_dot(&o, "n1", 2));

	/* same context, same coordinator: A was not seen, so it stays */
	put(&o, "n1", &read_ctx, "B", 3, NULL);
	assert_int_equal(o.n, 2);
	assert_true(has_dot(&o, "n1", 2));
	assert_true(has_dot(&o, "n1", 3));

	put(&o, "n1", &read_ctx, "C", 4, NULL);
	assert_int_equal(o.n, 3);
	assert_int_equal(dyn_object_live(&o), 3);

	/* reconcile: the merged context covers all three */
	dyn_object_context(&o, &merged);
	assert_true(dyn_vclock_get(&merged, dyn_slice_str("n1")) == 4);
	put(&o, "n1", &merged, "ABC", 5, &written);
	assert_int_equal(o.n, 1);
	assert_true(has_dot(&o, "n1", 5));
	assert_true(dyn_slice_eq(o.s[0].value, dyn_slice_str("ABC")));
	assert_true(dyn_vclock_get(&written, dyn_slice_str("n1")) == 5);
	check_round_trip(&o);
	dyn_object_free(&o);
}

/* A client that writes back what each PUT returned never makes siblings. */
static void
test_read_modify_write(void **state)
{
	dyn_object	o;
	dyn_vclock	ctx;
	static const char *const coordinators[] = {"n1", "n2", "n3"};
	int			i;

	(void) state;
	dyn_object_init(&o);
	dyn_vclock_init(&ctx);
	for (i = 0; i < 1000; i++)
	{
		/* ctx is also *written: the put must not read it after writing it */
		put(&o, "n1", &ctx, "v", (uint64_t) i + 1, &ctx);
		assert_int_equal(o.n, 1);
		assert_true(dyn_vclock_get(&ctx, dyn_slice_str("n1")) == (uint64_t) i + 1);
	}

	/* whichever coordinator each write goes through */
	for (i = 0; i < 300; i++)
	{
		put(&o, coordinators[i % 3], &ctx, "w", 2000 + (uint64_t) i, &ctx);
		assert_int_equal(o.n, 1);
	}
	assert_int_equal(ctx.n, 3);
	check_round_trip(&o);
	dyn_object_free(&o);
}

/* Concurrent writers from one context, through different coordinators. */
static void
test_concurrent_coordinators(void **state)
{
	dyn_object	o;
	dyn_vclock	ctx;

	(void) state;
	dyn_object_init(&o);
	put(&o, "n1", NULL, "base", 1, &ctx);
	put(&o, "n2", &ctx, "x", 2, NULL);
	put(&o, "n3", &ctx, "y", 3, NULL);
	assert_int_equal(o.n, 2);
	assert_true(has_dot(&o, "n2", 1));
	assert_true(has_dot(&o, "n3", 1));
	assert_false(has_dot(&o, "n1", 1));

	/* a blind write supersedes nothing */
	put(&o, "n1", NULL, "z", 4, NULL);
	assert_int_equal(o.n, 3);
	/* the new dot is above every n1 event the object has seen */
	assert_true(has_dot(&o, "n1", 2));
	check_round_trip(&o);
	dyn_object_free(&o);
}

/* Deletes hide what they cover but keep it in the context. */
static void
test_tombstones(void **state)
{
	dyn_object	o;
	dyn_vclock	ctx;
	dyn_vclock	after;

	(void) state;
	dyn_object_init(&o);
	put(&o, "n1", NULL, "A", 1, NULL);
	put(&o, "n2", NULL, "B", 2, NULL);
	assert_int_equal(o.n, 2);

	dyn_object_context(&o, &ctx);
	put(&o, "n1", &ctx, NULL, 3, NULL);	/* delete with the read context */
	assert_int_equal(o.n, 1);
	assert_true(o.s[0].tombstone);
	assert_int_equal(o.s[0].value.len, 0);
	assert_int_equal(dyn_object_live(&o), 0);

	/* the deleted versions are still covered by the context */
	dyn_object_context(&o, &after);
	assert_true(dyn_vclock_covers(&after, dyn_slice_str("n1"), 1));
	assert_true(dyn_vclock_covers(&after, dyn_slice_str("n2"), 1));
	assert_true(dyn_vclock_covers(&after, dyn_slice_str("n1"), 2));
	check_round_trip(&o);

	/* a blind write covers nothing: the tombstone stays, hidden */
	put(&o, "n3", NULL, "C", 4, NULL);
	assert_int_equal(o.n, 2);
	assert_int_equal(dyn_object_live(&o), 1);
	check_round_trip(&o);

	/* a write with the full context removes the tombstone too */
	dyn_object_context(&o, &ctx);
	put(&o, "n3", &ctx, "D", 5, NULL);
	assert_int_equal(o.n, 1);
	assert_int_equal(dyn_object_live(&o), 1);
	dyn_object_free(&o);
}

/* Two replicas each got a different concurrent write: merge keeps both. */
static void
test_merge_concurrent(void **state)
{
	dyn_object	base;
	dyn_object	x;
	dyn_object	y;
	dyn_object	xy;
	dyn_object	yx;
	dyn_buf		sx;
	dyn_buf		sy;
	dyn_buf		s1;
	dyn_buf		s2;
	dyn_buf		e1;
	dyn_buf		e2;
	dyn_vclock	ctx;
	bool		changed;

	(void) state;
	dyn_object_init(&base);
	dyn_object_init(&x);
	dyn_object_init(&y);
	dyn_object_init(&xy);
	dyn_object_init(&yx);
	dyn_buf_init(&sx);
	dyn_buf_init(&sy);
	dyn_buf_init(&s1);
	dyn_buf_init(&s2);
	dyn_buf_init(&e1);
	dyn_buf_init(&e2);

	put(&base, "n1", NULL, "base", 1, &ctx);
	copy_object(&x, &base, &sx);
	copy_object(&y, &base, &sy);
	put(&x, "n1", &ctx, "from-x", 2, NULL);
	put(&y, "n2", &ctx, "from-y", 3, NULL);

	copy_object(&xy, &x, &s1);
	assert_int_equal(dyn_object_merge(&xy, &y, &changed), DYN_OK);
	assert_true(changed);
	assert_int_equal(xy.n, 2);
	assert_true(has_dot(&xy, "n1", 2));
	assert_true(has_dot(&xy, "n2", 1));

	/* commutative: the same versions, and even the same bytes */
	copy_object(&yx, &y, &s2);
	assert_int_equal(dyn_object_merge(&yx, &x, &changed), DYN_OK);
	assert_true(changed);
	assert_true(same_dots(&xy, &yx));
	dyn_object_encode(&xy, &e1);
	dyn_object_encode(&yx, &e2);
	assert_int_equal(e1.len, e2.len);
	assert_memory_equal(e1.data, e2.data, e1.len);

	/* idempotent: merging again, or with itself, changes nothing */
	assert_int_equal(dyn_object_merge(&xy, &yx, &changed), DYN_OK);
	assert_false(changed);
	assert_int_equal(dyn_object_merge(&xy, &y, &changed), DYN_OK);
	assert_false(changed);
	assert_int_equal(dyn_object_merge(&xy, &xy, &changed), DYN_OK);
	assert_false(changed);
	assert_int_equal(xy.n, 2);
	assert_int_equal(dyn_object_merge(&xy, &xy, NULL), DYN_OK);

	/* a later reconciling write on one replica wins the next merge */
	dyn_object_context(&xy, &ctx);
	put(&xy, "n3", &ctx, "both", 4, NULL);
	assert_int_equal(xy.n, 1);
	assert_int_equal(dyn_object_merge(&yx, &xy, &changed), DYN_OK);
	assert_true(changed);
	assert_true(same_dots(&xy, &yx));
	check_round_trip(&yx);

	dyn_object_free(&base);
	dyn_object_free(&x);
	dyn_object_free(&y);
	dyn_object_free(&xy);
	dyn_object_free(&yx);
	dyn_buf_free(&sx);
	dyn_buf_free(&sy);
	dyn_buf_free(&s1);
	dyn_buf_free(&s2);
	dyn_buf_free(&e1);
	dyn_buf_free(&e2);
}

/* A replica with a superseded version meets one with its successor. */
static void
test_merge_superseded(void **state)
{
	dyn_object	old;
	dyn_object	cur;
	dyn_buf		s;
	dyn_vclock	ctx;
	bool		changed;

	(void) state;
	dyn_object_init(&old);
	dyn_object_init(&cur);
	dyn_buf_init(&s);

	put(&old, "n1", NULL, "v1", 1, &ctx);
	copy_object(&cur, &old, &s);
	put(&cur, "n2", &ctx, "v2", 2, NULL);
	assert_int_equal(cur.n, 1);

	/* the successor does not lose to what it superseded */
	assert_int_equal(dyn_object_merge(&cur, &old, &changed), DYN_OK);
	assert_false(changed);
	assert_int_equal(cur.n, 1);
	assert_true(has_dot(&cur, "n2", 1));

	/* the stale replica catches up to exactly the successor */
	assert_int_equal(dyn_object_merge(&old, &cur, &changed), DYN_OK);
	assert_true(changed);
	assert_int_equal(old.n, 1);
	assert_true(has_dot(&old, "n2", 1));
	assert_true(dyn_slice_eq(old.s[0].value, dyn_slice_str("v2")));

	/* empty sides */
	dyn_object_free(&old);
	assert_int_equal(dyn_object_merge(&old, &cur, &changed), DYN_OK);
	assert_true(changed);
	assert_true(same_dots(&old, &cur));
	dyn_object_free(&old);
	assert_int_equal(dyn_object_merge(&cur, &old, &changed), DYN_OK);
	assert_false(changed);
	assert_int_equal(cur.n, 1);

	dyn_object_free(&old);
	dyn_object_free(&cur);
	dyn_buf_free(&s);
}

/* A tombstone beats the versions it covers; a missed delete stays dead. */
static void
test_merge_tombstone(void **state)
{
	dyn_object	a;
	dyn_object	b;
	dyn_buf		s;
	dyn_vclock	ctx;
	bool		changed;

	(void) state;
	dyn_object_init(&a);
	dyn_object_init(&b);
	dyn_buf_init(&s);

	put(&a, "n1", NULL, "x", 1, NULL);
	put(&a, "n2", NULL, "y", 2, NULL);
	copy_object(&b, &a, &s);
	dyn_object_context(&b, &ctx);
	put(&b, "n3", &ctx, NULL, 3, NULL);
	assert_int_equal(b.n, 1);

	/* a missed the delete: merging the tombstone in removes both */
	assert_int_equal(dyn_object_merge(&a, &b, &changed), DYN_OK);
	assert_true(changed);
	assert_int_equal(a.n, 1);
	assert_true(a.s[0].tombstone);
	assert_int_equal(dyn_object_live(&a), 0);

	/* and the old versions do not come back from a stale copy */
	dyn_object_free(&a);
	put(&a, "n1", NULL, "x", 1, NULL);
	assert_int_equal(dyn_object_merge(&b, &a, &changed), DYN_OK);
	assert_false(changed);
	assert_int_equal(dyn_object_live(&b), 0);

	dyn_object_free(&a);
	dyn_object_free(&b);
	dyn_buf_free(&s);
}

/* Merging keeps the union of siblings, interleaved in dot order. */
static void
test_merge_interleaved(void **state)
{
	dyn_object	a;
	dyn_object	b;
	dyn_object	c;
	dyn_buf		s;
	bool		changed;
	size_t		i;

	(void) state;
	dyn_object_init(&a);
	dyn_object_init(&b);
	dyn_object_init(&c);
	dyn_buf_init(&s);

	/* blind writes: nobody covers anybody */
	put(&a, "n1", NULL, "a1", 1, NULL);
	put(&a, "n3", NULL, "a3", 2, NULL);
	put(&a, "n5", NULL, "a5", 3, NULL);
	put(&b, "n0", NULL, "b0", 4, NULL);
	put(&b, "n2", NULL, "b2", 5, NULL);
	put(&b, "n3", NULL, "b3", 6, NULL);	/* n3:1 again: the same dot as a's */
	put(&b, "n6", NULL, "b6", 7, NULL);
	copy_object(&c, &b, &s);

	assert_int_equal(dyn_object_merge(&a, &b, &changed), DYN_OK);
	assert_true(changed);
	assert_int_equal(a.n, 6);
	for (i = 1; i < a.n; i++)
	{
		const dyn_vclock_entry *p = &a.s[i - 1].clock.e[a.s[i - 1].dot];
		const dyn_vclock_entry *q = &a.s[i].clock.e[a.s[i].dot];

		assert_true(dyn_slice_cmp(bytes_of(p->id, p->idlen),
								  bytes_of(q->id, q->idlen)) < 0);
	}
	/*
	 * the same dot is the same version, kept once: the greater copy (b's,
	 * its clock's timestamp is later), whichever side it came from
	 */
	assert_true(dyn_slice_eq(a.s[3].value, dyn_slice_str("b3")));

	assert_int_equal(dyn_object_merge(&c, &a, &changed), DYN_OK);
	assert_true(changed);
	assert_true(same_dots(&a, &c));
	check_round_trip(&a);

	dyn_object_free(&a);
	dyn_object_free(&b);
	dyn_object_free(&c);
	dyn_buf_free(&s);
}

/*
 * The written clock is the whole context plus the dot, however long (it
 * used to be cut to 10 entries).  Only a full context that lacks the
 * coordinator loses an entry: the oldest that is not a superseded
 * sibling's dot.
 */
static void
test_put_keeps_context(void **state)
{
	dyn_object	o;
	dyn_vclock	ctx;
	dyn_vclock	written;
	char		id[8];
	int			i;

	(void) state;
	dyn_object_init(&o);
	dyn_vclock_init(&ctx);
	for (i = 0; i < 12; i++)
	{
		snprintf(id, sizeof(id), "n%02d", i);
		assert_int_equal(dyn_vclock_set(&ctx, dyn_slice_str(id), 1, 100 + (uint64_t) i),
						 DYN_OK);
	}
	put(&o, "me", &ctx, "v", 1, &written);
	assert_int_equal(written.n, 13);
	assert_true(dyn_vclock_get(&written, dyn_slice_str("me")) == 1);
	assert_true(dyn_vclock_get(&written, dyn_slice_str("n00")) == 1);
	assert_memory_equal(o.s[0].clock.e[o.s[0].dot].id, "me", 2);

	/* a full context that names the coordinator stays whole */
	dyn_object_free(&o);
	dyn_vclock_init(&ctx);
	for (i = 0; i < DYN_VCLOCK_CAP; i++)
	{
		snprintf(id, sizeof(id), "n%02d", i);
		assert_int_equal(dyn_vclock_set(&ctx, dyn_slice_str(id), 7, 100 + (uint64_t) i),
						 DYN_OK);
	}
	put(&o, "n00", &ctx, "v", 0, &written);
	assert_int_equal(written.n, DYN_VCLOCK_CAP);
	assert_true(dyn_vclock_get(&written, dyn_slice_str("n00")) == 8);
	assert_true(dyn_vclock_get(&written, dyn_slice_str("n01")) == 7);

	/*
	 * one that does not drops its oldest entry that no superseded sibling
	 * needs: here n00 (oldest) holds a sibling the write supersedes, so
	 * n01 goes
	 */
	dyn_object_free(&o);
	put(&o, "n00", NULL, "old", 50, NULL);
	dyn_vclock_set(&ctx, dyn_slice_str("n00"), 1, 50);
	put(&o, "zz", &ctx, "w", 200, &written);
	assert_int_equal(o.n, 1);
	assert_int_equal(written.n, DYN_VCLOCK_CAP);
	assert_true(dyn_vclock_get(&written, dyn_slice_str("zz")) == 1);
	assert_true(dyn_vclock_get(&written, dyn_slice_str("n00")) == 1);
	assert_true(dyn_vclock_get(&written, dyn_slice_str("n01")) == 0);
	assert_true(dyn_vclock_get(&written, dyn_slice_str("n02")) == 7);
	assert_true(has_dot(&o, "zz", 1));
	check_round_trip(&o);
	dyn_object_free(&o);
}

/* Bad node ids and counters; a context that aliases a sibling. */
static void
test_put_arguments(void **state)
{
	dyn_object	o;
	dyn_vclock	ctx;
	dyn_slice	v = dyn_slice_str("v");
	char		long_id[DYN_NODE_ID_MAX + 2];

	(void) state;
	dyn_object_init(&o);
	dyn_vclock_init(&ctx);
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_int_equal(dyn_object_put(&o, dyn_slice_str(""), &ctx, &v, 1, NULL),
					 DYN_ERR_INVAL);
	assert_int_equal(dyn_object_put(&o, dyn_slice_str(long_id), &ctx, &v, 1, NULL),
					 DYN_ERR_INVAL);
	assert_int_equal(o.n, 0);

	/* a counter that cannot move on */
	assert_int_equal(dyn_vclock_set(&ctx, dyn_slice_str("n1"), UINT64_MAX, 1), DYN_OK);
	assert_int_equal(dyn_object_put(&o, dyn_slice_str("n1"), &ctx, &v, 1, NULL),
					 DYN_ERR_INVAL);
	assert_int_equal(o.n, 0);

	/* the context may be a sibling's own clock */
	dyn_vclock_init(&ctx);
	put(&o, "n1", NULL, "a", 1, NULL);
	put(&o, "n2", NULL, "b", 2, NULL);
	assert_int_equal(dyn_object_put(&o, dyn_slice_str("n3"), &o.s[1].clock, &v, 3, NULL),
					 DYN_OK);
	assert_int_equal(o.n, 2);
	assert_true(has_dot(&o, "n1", 1));
	assert_true(has_dot(&o, "n3", 1));
	dyn_object_free(&o);
}

/* A key refuses to grow past DYN_SIBLINGS_MAX, and is left as it was. */
static void
test_sibling_limit(void **state)
{
	dyn_object	o;
	dyn_object	p;
	dyn_vclock	empty;
	dyn_slice	v = dyn_slice_str("v");
	bool		changed = true;
	int			i;

	(void) state;
	dyn_object_init(&o);
	dyn_object_init(&p);
	dyn_vclock_init(&empty);
	for (i = 0; i < DYN_SIBLINGS_MAX; i++)
		put(&o, "n1", NULL, "v", (uint64_t) i, NULL);
	assert_int_equal(o.n, DYN_SIBLINGS_MAX);
	assert_int_equal(dyn_object_put(&o, dyn_slice_str("n1"), &empty, &v, 1, NULL),
					 DYN_ERR_TOOBIG);
	assert_int_equal(o.n, DYN_SIBLINGS_MAX);
	check_round_trip(&o);

	for (i = 0; i < 10; i++)
		put(&p, "n2", NULL, "w", (uint64_t) i, NULL);
	assert_int_equal(dyn_object_merge(&o, &p, &changed), DYN_ERR_TOOBIG);
	assert_false(changed);
	assert_int_equal(o.n, DYN_SIBLINGS_MAX);
	assert_false(has_dot(&o, "n2", 1));
	dyn_object_free(&o);
	dyn_object_free(&p);
}

/* The exact encoding, round trips, and reuse of the sibling array. */
static void
test_encode_decode(void **state)
{
	dyn_object	o;
	dyn_object	back;
	dyn_buf		b;
	dyn_vclock	ctx;
	dyn_sibling *before;
	static const char binary[] = "\x00\x01\xff\"\\";
	dyn_slice	bin = bytes_of(binary, sizeof(binary) - 1);

	(void) state;
	dyn_object_init(&o);
	dyn_object_init(&back);
	dyn_buf_init(&b);

	/* the empty object: three bytes; and the empty slice */
	dyn_object_encode(&o, &b);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "\x01\x00\x00", 3);
	assert_int_equal(dyn_object_decode(dyn_buf_slice(&b), &back), DYN_OK);
	assert_int_equal(back.n, 0);
	assert_int_equal(decode_bytes(NULL, 0, &back), DYN_OK);
	assert_int_equal(back.n, 0);

	/* an exact layout */
	put(&o, "n1", NULL, "hi", 5, &ctx);
	dyn_buf_reset(&b);
	dyn_object_encode(&o, &b);
	assert_int_equal(b.len, 17);
	assert_memory_equal(b.data, "\x01\x00\x01" "\x00\x00" "\x01\x02n1\x01\x05"
						"\x00\x00\x00\x02hi", 17);

	assert_int_equal(dyn_object_put(&o, dyn_slice_str("n2"), &ctx, &bin, 6, NULL), DYN_OK);
	put(&o, "n3", NULL, NULL, 7, NULL);
	put(&o, "n1", NULL, "", 8, NULL);
	assert_int_equal(o.n, 3);
	check_round_trip(&o);

	/* decoding reuses the sibling array */
	dyn_buf_reset(&b);
	dyn_object_encode(&o, &b);
	assert_int_equal(dyn_object_decode(dyn_buf_slice(&b), &back), DYN_OK);
	before = back.s;
	assert_int_equal(dyn_object_decode(dyn_buf_slice(&b), &back), DYN_OK);
	assert_ptr_equal(back.s, before);
	assert_int_equal(back.n, 3);
	/* values point into the encoded bytes */
	assert_true(back.s[0].value.ptr >= b.data && back.s[0].value.ptr <= b.data + b.len);

	dyn_object_free(&o);
	dyn_object_free(&back);
	dyn_buf_free(&b);
}

/* Everything the decoder must refuse, and every truncation. */
static void
test_decode_malformed(void **state)
{
	dyn_object	o;
	dyn_object	good;
	dyn_buf		b;
	size_t		cut;
	uint8_t		longer[256];

	(void) state;
	dyn_object_init(&o);
	dyn_object_init(&good);
	dyn_buf_init(&b);

	/* one valid sibling, for reference */
	assert_int_equal(DECODE_LIT("\x01\x00\x01\x00\x00\x01\x02n1\x01\x05\x00\x00\x00\x01v",
								&o), DYN_OK);
	assert_int_equal(o.n, 1);

	/* format byte */
	assert_int_equal(DECODE_LIT("\x02\x00\x01\x00\x00\x01\x02n1\x01\x05\x00\x00\x00\x01v",
								&o), DYN_ERR_PROTO);
	assert_int_equal(o.n, 0);
	assert_int_equal(DECODE_LIT("\x00\x00\x00", &o), DYN_ERR_PROTO);
	/* dot index outside the clock */
	assert_int_equal(DECODE_LIT("\x01\x00\x01\x00\x01\x01\x02n1\x01\x05\x00\x00\x00\x01v",
								&o), DYN_ERR_PROTO);
	/* a sibling with an empty clock has no dot */
	assert_int_equal(DECODE_LIT("\x01\x00\x01\x00\x00\x00\x00\x00\x00\x01v", &o),
					 DYN_ERR_PROTO);
	/* a tombstone with a value */
	assert_int_equal(DECODE_LIT("\x01\x00\x01\x01\x00\x01\x02n1\x01\x05\x00\x00\x00\x01v",
								&o), DYN_ERR_PROTO);
	assert_int_equal(DECODE_LIT("\x01\x00\x01\x01\x00\x01\x02n1\x01\x05\x00\x00\x00\x00",
								&o), DYN_OK);
	assert_true(o.s[0].tombstone);
	/* unknown flag bits */
	assert_int_equal(DECODE_LIT("\x01\x00\x01\x02\x00\x01\x02n1\x01\x05\x00\x00\x00\x01v",
								&o), DYN_ERR_PROTO);
	/* trailing bytes */
	assert_int_equal(DECODE_LIT("\x01\x00\x01\x00\x00\x01\x02n1\x01\x05\x00\x00\x00\x01vv",
								&o), DYN_ERR_PROTO);
	assert_int_equal(DECODE_LIT("\x01\x00\x00\x00", &o), DYN_ERR_PROTO);
	/* a count over DYN_SIBLINGS_MAX, and one the bytes cannot hold */
	assert_int_equal(DECODE_LIT("\x01\x04\x01", &o), DYN_ERR_PROTO);
	assert_int_equal(DECODE_LIT("\x01\xff\xff\x00\x00\x01\x02n1\x01\x05\x00\x00\x00\x00",
								&o), DYN_ERR_PROTO);
	assert_int_equal(DECODE_LIT("\x01\x00\x02\x00\x00\x01\x02n1\x01\x05\x00\x00\x00\x00",
								&o), DYN_ERR_PROTO);
	/* siblings out of dot order, and the same dot twice */
	assert_int_equal(DECODE_LIT("\x01\x00\x02"
								"\x00\x00\x01\x02n2\x01\x05\x00\x00\x00\x00"
								"\x00\x00\x01\x02n1\x01\x05\x00\x00\x00\x00", &o),
					 DYN_ERR_PROTO);
	assert_int_equal(DECODE_LIT("\x01\x00\x02"
								"\x00\x00\x01\x02n1\x02\x05\x00\x00\x00\x00"
								"\x00\x00\x01\x02n1\x01\x05\x00\x00\x00\x00", &o),
					 DYN_ERR_PROTO);
	assert_int_equal(DECODE_LIT("\x01\x00\x02"
								"\x00\x00\x01\x02n1\x01\x05\x00\x00\x00\x00"
								"\x00\x00\x01\x02n1\x01\x06\x00\x00\x00\x00", &o),
					 DYN_ERR_PROTO);
	assert_int_equal(DECODE_LIT("\x01\x00\x02"
								"\x00\x00\x01\x02n1\x01\x05\x00\x00\x00\x00"
								"\x00\x00\x01\x02n1\x02\x05\x00\x00\x00\x00", &o),
					 DYN_OK);
	assert_int_equal(o.n, 2);
	/* a malformed clock inside */
	assert_int_equal(DECODE_LIT("\x01\x00\x01\x00\x00\x01\x02n1\x00\x05\x00\x00\x00\x01v",
								&o), DYN_ERR_PROTO);

	/* every proper prefix of a valid object, and one byte more */
	put(&good, "n1", NULL, "first", 1, NULL);
	put(&good, "n2", NULL, NULL, 2, NULL);
	put(&good, "n3", NULL, "third", 3, NULL);
	dyn_object_encode(&good, &b);
	assert_true(b.len < sizeof(longer));
	for (cut = 1; cut < b.len; cut++)
	{
		assert_int_equal(decode_bytes(b.data, cut, &o), DYN_ERR_PROTO);
		assert_int_equal(o.n, 0);
	}
	memcpy(longer, b.data, b.len);
	longer[b.len] = 0;
	assert_int_equal(decode_bytes(longer, b.len + 1, &o), DYN_ERR_PROTO);
	assert_int_equal(decode_bytes(longer, b.len, &o), DYN_OK);
	assert_int_equal(o.n, 3);

	dyn_object_free(&o);
	dyn_object_free(&good);
	dyn_buf_free(&b);
}

/* Random damage to a valid object: refused or accepted, never a crash. */
static void
test_decode_garbage(void **state)
{
	dyn_object	good;
	dyn_object	o;
	dyn_buf		b;
	uint8_t		junk[256];
	uint64_t	seed = 42;
	int			iter;

	(void) state;
	dyn_object_init(&good);
	dyn_object_init(&o);
	dyn_buf_init(&b);
	put(&good, "n1", NULL, "first", 1, NULL);
	put(&good, "n2", NULL, NULL, 2, NULL);
	put(&good, "n3", NULL, "third", 3, NULL);
	dyn_object_encode(&good, &b);
	assert_true(b.len <= sizeof(junk));

	for (iter = 0; iter < 3000; iter++)
	{
		int			flips;
		int			rc;

		memcpy(junk, b.data, b.len);
		for (flips = 0; flips < 1 + iter % 4; flips++)
		{
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			junk[(seed >> 33) % b.len] ^= (uint8_t) (1 + (seed >> 20) % 255);
		}
		rc = decode_bytes(junk, b.len, &o);
		assert_true(rc == DYN_OK || rc == DYN_ERR_PROTO);
		if (rc == DYN_OK)
			check_round_trip(&o);
	}
	dyn_object_free(&good);
	dyn_object_free(&o);
	dyn_buf_free(&b);
}

/* Whether o holds the version s is (the same dot). */
static bool
model_in(const dyn_sibling *s, const dyn_object *o)
{
	const dyn_vclock_entry *d = &s->clock.e[s->dot];
	size_t		i;

	for (i = 0; i < o->n; i++)
	{
		const dyn_vclock_entry *t = &o->s[i].clock.e[o->s[i].dot];

		if (t->counter == d->counter &&
			dyn_slice_eq(bytes_of(t->id, t->idlen), bytes_of(d->id, d->idlen)))
			return true;
	}
	return false;
}

/*
 * The merge rule of object.h, stated naively: a sibling survives a merge
 * with theirs unless theirs lacks it although their context covers its dot.
 */
static bool
model_keeps(const dyn_sibling *s, const dyn_object *theirs,
			const dyn_vclock *their_ctx)
{
	const dyn_vclock_entry *d = &s->clock.e[s->dot];

	return model_in(s, theirs) ||
		!dyn_vclock_covers(their_ctx, bytes_of(d->id, d->idlen), d->counter);
}

/*
 * Give o's values a home of their own in *home (replacing what was
 * there), so that o no longer points into another object's bytes.
 */
static void
rehome(dyn_object *o, dyn_buf *home)
{
	dyn_buf		fresh;

	dyn_buf_init(&fresh);
	copy_object(o, o, &fresh);
	dyn_buf_free(home);
	*home = fresh;
}

/*
 * Random writes with fresh, stale and empty contexts on three replicas,
 * each coordinated by that replica's node (as in the cluster: a node's
 * dots are made on its own copy), and random merges between them.  Each merge
 * is checked against the rule applied naively (every sibling against the
 * whole other side) and against the merge the other way round; at the
 * end, merging every replica into every other must leave identical bytes.
 */
static void
test_merge_random(void **state)
{
	dyn_object	rep[3];
	dyn_buf		home[3];
	dyn_object	before;
	dyn_object	other_way;
	dyn_buf		scratch;
	dyn_buf		scratch2;
	dyn_buf		enc[3];
	dyn_vclock	stale[8];
	dyn_vclock	ctx;
	uint64_t	seed = 7;
	uint64_t	now = 1;
	size_t		merges_changed = 0;
	static const char *const nodes[] = {"n1", "n2", "n3", "n4"};
	static const char *const values[] = {"a", "b", "c", "d", "e"};
	int			step;
	int			i;
	int			j;

	(void) state;
	dyn_object_init(&before);
	dyn_object_init(&other_way);
	dyn_buf_init(&scratch);
	dyn_buf_init(&scratch2);
	for (i = 0; i < 3; i++)
	{
		dyn_object_init(&rep[i]);
		dyn_buf_init(&home[i]);
		dyn_buf_init(&enc[i]);
	}
	for (i = 0; i < 8; i++)
		dyn_vclock_init(&stale[i]);

	for (step = 0; step < 3000; step++)
	{
		uint64_t	r;
		dyn_object *o;
		const char *node;
		const char *value;
		int			op;

		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		r = seed >> 24;
		o = &rep[r % 3];
		op = (int) ((r >> 4) % 10);
		node = nodes[o - rep];	/* each replica's node coordinates on it */
		value = (r >> 20) % 5 == 0 ? NULL : values[(r >> 12) % 5];
		now++;

		if (op < 3)
		{
			/* read-modify-write; remember the clock for stale writes */
			dyn_object_context(o, &ctx);
			put(o, node, &ctx, value, now, &stale[(r >> 16) % 8]);
		}
		else if (op < 4)
			put(o, node, NULL, value, now, NULL);
		else if (op < 5)
			put(o, node, &stale[(r >> 16) % 8], value, now, NULL);
		else
		{
			dyn_object *other = &rep[(r >> 8) % 3];
			dyn_vclock	ca;
			dyn_vclock	cb;
			bool		changed;
			size_t		expect = 0;
			size_t		k;

			copy_object(&before, o, &scratch);
			dyn_object_context(&before, &ca);
			dyn_object_context(other, &cb);
			for (k = 0; k < before.n; k++)
				expect += model_keeps(&before.s[k], other, &cb);
			for (k = 0; k < other->n; k++)
				expect += !model_in(&other->s[k], &before) &&
					model_keeps(&other->s[k], &before, &ca);

			assert_int_equal(dyn_object_merge(o, other, &changed), DYN_OK);
			assert_int_equal(o->n, expect);
			for (k = 0; k < before.n; k++)
				assert_true(model_in(&before.s[k], o) ==
							model_keeps(&before.s[k], other, &cb));
			for (k = 0; k < other->n; k++)
				assert_true(model_in(&other->s[k], o) ==
							(model_in(&other->s[k], &before) ||
							 model_keeps(&other->s[k], &before, &ca)));
			assert_true(changed == !same_dots(o, &before));
			merges_changed += changed;

			/* the other way round gives the same versions */
			copy_object(&other_way, other, &scratch2);
			assert_int_equal(dyn_object_merge(&other_way, &before, NULL), DYN_OK);
			assert_true(same_dots(&other_way, o));

			rehome(o, &home[o - rep]);
		}
		assert_true(o->n < 200);
	}
	/* the walk did exercise merges that change something */
	assert_true(merges_changed > 100);

	/* full anti-entropy: afterwards every replica holds the same bytes */
	for (i = 0; i < 3; i++)
	{
		for (j = 0; j < 3; j++)
		{
			assert_int_equal(dyn_object_merge(&rep[j], &rep[i], NULL), DYN_OK);
			rehome(&rep[j], &home[j]);
		}
	}
	for (i = 0; i < 3; i++)
	{
		dyn_object_encode(&rep[i], &enc[i]);
		assert_int_equal(enc[i].err, DYN_OK);
		check_round_trip(&rep[i]);
	}
	assert_int_equal(enc[0].len, enc[1].len);
	assert_int_equal(enc[0].len, enc[2].len);
	assert_memory_equal(enc[0].data, enc[1].data, enc[0].len);
	assert_memory_equal(enc[0].data, enc[2].data, enc[0].len);

	for (i = 0; i < 3; i++)
	{
		dyn_object_free(&rep[i]);
		dyn_buf_free(&home[i]);
		dyn_buf_free(&enc[i]);
	}
	dyn_object_free(&before);
	dyn_object_free(&other_way);
	dyn_buf_free(&scratch);
	dyn_buf_free(&scratch2);
}

/* Whether a and b encode to the same bytes. */
static bool
same_bytes(const dyn_object *a, const dyn_object *b)
{
	dyn_buf		ea;
	dyn_buf		eb;
	bool		same;

	dyn_buf_init(&ea);
	dyn_buf_init(&eb);
	dyn_object_encode(a, &ea);
	dyn_object_encode(b, &eb);
	assert_int_equal(ea.err, DYN_OK);
	assert_int_equal(eb.err, DYN_OK);
	same = ea.len == eb.len && memcmp(ea.data, eb.data, ea.len) == 0;
	dyn_buf_free(&ea);
	dyn_buf_free(&eb);
	return same;
}

/* No sibling of o but the one dotted (id, counter) has a dot ctx covers. */
static void
check_nothing_covered(const dyn_object *o, const dyn_vclock *ctx, const char *id,
					  uint64_t counter)
{
	for (size_t i = 0; i < o->n; i++)
	{
		const dyn_vclock_entry *d = &o->s[i].clock.e[o->s[i].dot];
		bool		mine = d->counter == counter &&
			dyn_slice_eq(bytes_of(d->id, d->idlen), dyn_slice_str(id));

		if (!mine && dyn_vclock_covers(ctx, bytes_of(d->id, d->idlen), d->counter))
			fail_msg("sibling %zu (%.*s:%llu) survived a write whose context covers it",
					 i, (int) d->idlen, d->id, (unsigned long long) d->counter);
	}
}

/*
 * Issue 16, defect 1: a delete with a context of many actors leaves the
 * old concurrent value beside the tombstone on a replica that merges the
 * coordinator's copy (the written clock was cut to 10 entries, dropping
 * the oldest: the old value's dot).  For any number of actors a context
 * can hold, with the coordinator holding the old value or not, in both
 * merge orders, nothing the context covers may survive.
 */
static void
test_delete_many_actors(void **state)
{
	static const int actors[] = {1, 9, 10, 11, 12, 20, 31, DYN_VCLOCK_CAP};
	dyn_buf		s1;
	dyn_buf		s2;

	(void) state;
	dyn_buf_init(&s1);
	dyn_buf_init(&s2);
	for (size_t t = 0; t < sizeof(actors) / sizeof(actors[0]); t++)
	{
		for (int coord_has_it = 0; coord_has_it < 2; coord_has_it++)
		{
			dyn_object	replica;
			dyn_object	coord;
			dyn_object	back;
			dyn_vclock	ctx;
			dyn_vclock	written;
			char		id[16];

			/*
			 * A full context lacking the coordinator must lose an entry;
			 * only the coordinator's own copy then vouches for it.
			 */
			if (actors[t] == DYN_VCLOCK_CAP && !coord_has_it)
				continue;
			dyn_object_init(&replica);
			dyn_object_init(&coord);
			dyn_object_init(&back);
			/* the old value, written long ago: the oldest entry */
			put(&replica, "old", NULL, "old concurrent value", 1, NULL);
			dyn_object_context(&replica, &ctx);
			for (int k = 1; k < actors[t]; k++)
			{
				snprintf(id, sizeof(id), "a%02d", k);
				assert_int_equal(dyn_vclock_set(&ctx, dyn_slice_str(id), 3,
												100 + (uint64_t) k), DYN_OK);
			}
			assert_int_equal(ctx.n, actors[t]);
			if (coord_has_it)
				copy_object(&coord, &replica, &s1);
			put(&coord, "coord", &ctx, NULL, 1000, &written);

			copy_object(&back, &coord, &s2);
			assert_int_equal(dyn_object_merge(&replica, &coord, NULL), DYN_OK);
			assert_int_equal(dyn_object_merge(&back, &replica, NULL), DYN_OK);
			check_nothing_covered(&replica, &ctx, "coord", 1);
			check_nothing_covered(&back, &ctx, "coord", 1);
			assert_int_equal(replica.n, 1);
			assert_true(replica.s[0].tombstone);
			assert_true(same_bytes(&replica, &back));
			dyn_object_free(&replica);
			dyn_object_free(&coord);
			dyn_object_free(&back);
		}
	}
	dyn_buf_free(&s1);
	dyn_buf_free(&s2);
}

/*
 * Issue 16, defect 2: two copies under one dot (dot reuse, or a hostile
 * peer) must merge to the same bytes in either order; the local copy used
 * to win, so replicas never converged.
 */
static void
test_merge_same_dot(void **state)
{
	static const char *const values[][2] = {{"a", "b"}, {"x", NULL}, {NULL, "y"}};
	dyn_buf		s1;
	dyn_buf		s2;

	(void) state;
	dyn_buf_init(&s1);
	dyn_buf_init(&s2);
	for (size_t t = 0; t < sizeof(values) / sizeof(values[0]); t++)
	{
		dyn_object	a;
		dyn_object	b;
		dyn_object	a2;
		dyn_object	b2;
		bool		changed_a;
		bool		changed_b;

		dyn_object_init(&a);
		dyn_object_init(&b);
		dyn_object_init(&a2);
		dyn_object_init(&b2);
		put(&a, "n1", NULL, values[t][0], 5, NULL);
		put(&a, "n2", NULL, "shared", 6, NULL);
		put(&b, "n1", NULL, values[t][1], 5, NULL);	/* the same dot, n1:1 */
		copy_object(&a2, &a, &s1);
		copy_object(&b2, &b, &s2);
		assert_int_equal(dyn_object_merge(&a, &b2, &changed_a), DYN_OK);
		assert_int_equal(dyn_object_merge(&b, &a2, &changed_b), DYN_OK);
		assert_true(same_bytes(&a, &b));
		assert_int_equal(a.n, 2);
		/* exactly one side took the other's copy of n1:1 (b also gained n2) */
		assert_true(changed_b);
		/* and merging again changes nothing */
		assert_int_equal(dyn_object_merge(&a, &b2, &changed_a), DYN_OK);
		assert_false(changed_a);
		assert_int_equal(dyn_object_merge(&b, &a2, &changed_b), DYN_OK);
		assert_false(changed_b);
		dyn_object_free(&a);
		dyn_object_free(&b);
		dyn_object_free(&a2);
		dyn_object_free(&b2);
	}
	dyn_buf_free(&s1);
	dyn_buf_free(&s2);
}

/*
 * Issue 16, defect 3: merge(merge(a, b), b) re-added a sibling that
 * merge(a, b) had dropped.  The history: t (a tombstone) superseded y, and
 * z superseded t without covering y (a clock cut short).  merge(a, b)
 * dropped t (z covers it) and y (t covers it), leaving a context that no
 * longer covers y, so merging b again brought y back.  Now y is kept at
 * once, and the result is a fixed point in both orders.
 */
static void
test_merge_absorbing(void **state)
{
	dyn_object	a;
	dyn_object	b;
	dyn_object	m;
	dyn_object	m2;
	dyn_vclock	ctx;
	dyn_buf		s1;
	dyn_buf		s2;
	bool		changed;

	(void) state;
	dyn_object_init(&a);
	dyn_object_init(&b);
	dyn_object_init(&m);
	dyn_object_init(&m2);
	dyn_buf_init(&s1);
	dyn_buf_init(&s2);

	put(&b, "nB", NULL, "y", 1, NULL);			/* y = nB:1 */
	dyn_object_context(&b, &ctx);
	put(&a, "nT", &ctx, NULL, 2, NULL);			/* t = nT:1, covers y */
	dyn_vclock_init(&ctx);
	dyn_vclock_set(&ctx, dyn_slice_str("nT"), 1, 2);
	put(&b, "nZ", &ctx, "z", 3, NULL);			/* z = nZ:1, covers t, not y */
	assert_int_equal(b.n, 2);

	copy_object(&m, &a, &s1);
	assert_int_equal(dyn_object_merge(&m, &b, NULL), DYN_OK);
	copy_object(&m2, &b, &s2);
	assert_int_equal(dyn_object_merge(&m2, &a, NULL), DYN_OK);
	assert_true(same_bytes(&m, &m2));
	assert_true(has_dot(&m, "nZ", 1));
	assert_false(has_dot(&m, "nT", 1));
	assert_true(has_dot(&m, "nB", 1));

	/* absorbing: merging either side in again changes nothing */
	assert_int_equal(dyn_object_merge(&m, &b, &changed), DYN_OK);
	assert_false(changed);
	assert_int_equal(dyn_object_merge(&m, &a, &changed), DYN_OK);
	assert_false(changed);
	assert_true(same_bytes(&m, &m2));
	check_round_trip(&m);

	dyn_object_free(&a);
	dyn_object_free(&b);
	dyn_object_free(&m);
	dyn_object_free(&m2);
	dyn_buf_free(&s1);
	dyn_buf_free(&s2);
}

/* One sibling dotted id:1 with the clock {ids[k]: 1} (ids ascending). */
static void
hand_sibling(dyn_sibling *s, const char *id, const char *const *ids, size_t n)
{
	dyn_vclock_init(&s->clock);
	for (size_t k = 0; k < n; k++)
		assert_int_equal(dyn_vclock_set(&s->clock, dyn_slice_str(ids[k]), 1, 1), DYN_OK);
	s->dot = 0;
	while (!dyn_slice_eq(bytes_of(s->clock.e[s->dot].id, s->clock.e[s->dot].idlen),
						 dyn_slice_str(id)))
		s->dot++;
	s->tombstone = false;
	s->value = dyn_slice_str("v");
}

/*
 * Issue 16, defect 3 too: the decoder accepted causally cyclic objects,
 * versions that each cover the other's dot (two or three in a ring); and
 * a version that saw another beside it (merge was not absorbing over
 * such sets: fuzz input merge/regress-saw-sibling).  One actor's later
 * dot written without the earlier in its context covers it through its
 * own entry: those are concurrent siblings, accepted.
 */
static void
test_decode_cyclic(void **state)
{
	static const char *const ab[] = {"a", "b"};
	static const char *const abc_a[] = {"a", "c"};
	static const char *const abc_b[] = {"a", "b"};
	static const char *const abc_c[] = {"b", "c"};
	static const char *const just_a[] = {"a"};
	dyn_sibling sib[3];
	dyn_object	o = {0, 3, sib};
	dyn_object	back;
	dyn_buf		b;

	(void) state;
	dyn_object_init(&back);
	dyn_buf_init(&b);

	/* a:1 and b:1 each with the clock {a:1, b:1} */
	hand_sibling(&sib[0], "a", ab, 2);
	hand_sibling(&sib[1], "b", ab, 2);
	o.n = 2;
	dyn_object_encode(&o, &b);
	assert_int_equal(dyn_object_decode(dyn_buf_slice(&b), &back), DYN_ERR_PROTO);
	assert_int_equal(back.n, 0);

	/* a ring of three: a covers c, b covers a, c covers b */
	hand_sibling(&sib[0], "a", abc_a, 2);
	hand_sibling(&sib[1], "b", abc_b, 2);
	hand_sibling(&sib[2], "c", abc_c, 2);
	o.n = 3;
	dyn_buf_reset(&b);
	dyn_object_encode(&o, &b);
	assert_int_equal(dyn_object_decode(dyn_buf_slice(&b), &back), DYN_ERR_PROTO);

	/* one way only: b:1 saw a:1, yet a:1 is beside it */
	hand_sibling(&sib[0], "a", just_a, 1);
	hand_sibling(&sib[1], "b", ab, 2);
	o.n = 2;
	dyn_buf_reset(&b);
	dyn_object_encode(&o, &b);
	assert_int_equal(dyn_object_decode(dyn_buf_slice(&b), &back), DYN_ERR_PROTO);
	assert_int_equal(back.n, 0);

	/* a:2 written blind beside a:1 covers it through its own entry: concurrent */
	hand_sibling(&sib[0], "a", just_a, 1);
	hand_sibling(&sib[1], "a", just_a, 1);
	sib[1].clock.e[0].counter = 2;
	o.n = 2;
	dyn_buf_reset(&b);
	dyn_object_encode(&o, &b);
	assert_int_equal(dyn_object_decode(dyn_buf_slice(&b), &back), DYN_OK);
	assert_int_equal(back.n, 2);

	dyn_object_free(&back);
	dyn_buf_free(&b);
}

/* Run every test of this file. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worked_example),
		cmocka_unit_test(test_read_modify_write),
		cmocka_unit_test(test_concurrent_coordinators),
		cmocka_unit_test(test_tombstones),
		cmocka_unit_test(test_merge_concurrent),
		cmocka_unit_test(test_merge_superseded),
		cmocka_unit_test(test_merge_tombstone),
		cmocka_unit_test(test_merge_interleaved),
		cmocka_unit_test(test_merge_random),
		cmocka_unit_test(test_put_keeps_context),
		cmocka_unit_test(test_delete_many_actors),
		cmocka_unit_test(test_merge_same_dot),
		cmocka_unit_test(test_merge_absorbing),
		cmocka_unit_test(test_decode_cyclic),
		cmocka_unit_test(test_put_arguments),
		cmocka_unit_test(test_sibling_limit),
		cmocka_unit_test(test_encode_decode),
		cmocka_unit_test(test_decode_malformed),
		cmocka_unit_test(test_decode_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
