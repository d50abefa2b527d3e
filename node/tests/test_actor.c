/*
 * test_actor.c
 *		Unit tests for actor.c: incarnation ids, the owner and stand-in
 *		actors and their retirement, and the two rules object.c keeps for
 *		them (an incarnation's dot is above its floor; truncation drops an
 *		incarnation's entry before a node id's), and the contexts an
 *		incarnation refuses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dynamo/actor.h"
#include "dynamo/object.h"

static void test_name(void **state);
static void test_actors(void **state);
static void test_put_above(void **state);
static void test_truncation_keeps_node_ids(void **state);
static void test_context_ok(void **state);

/* Ids fit a clock entry, keep a readable prefix, and are told apart. */
static void
test_name(void **state)
{
	uint8_t		rnd[DYN_ACTOR_RANDOM_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
	char		a[DYN_NODE_ID_MAX + 1];
	char		b[DYN_NODE_ID_MAX + 1];

	(void) state;
	dyn_actor_name("n1", rnd, a);
	assert_int_equal(strlen(a), 2 + 1 + 11);
	assert_memory_equal(a, "n1~", 3);
	assert_true(dyn_actor_is_incarnation(dyn_slice_str(a)));
	assert_false(dyn_actor_is_incarnation(dyn_slice_str("n1")));
	/* a 32-byte node id keeps 20 bytes: the id is 32 bytes, not more */
	dyn_actor_name("abcdefghijklmnopqrstuvwxyz012345", rnd, a);
	assert_int_equal(strlen(a), DYN_NODE_ID_MAX);
	assert_memory_equal(a, "abcdefghijklmnopqrst~", 21);
	rnd[7] ^= 1;
	dyn_actor_name("abcdefghijklmnopqrstuvwxyz012345", rnd, b);
	assert_string_not_equal(a, b);
}

/* Owner and stand-ins: drawn, floored, retired. */
static void
test_actors(void **state)
{
	dyn_actors	a;
	dyn_actor  *s;
	char		first[DYN_NODE_ID_MAX + 1];

	(void) state;
	assert_int_equal(dyn_actors_init(&a, "n~1", 4, false), DYN_ERR_INVAL);
	dyn_actors_free(&a);
	assert_int_equal(dyn_actors_init(&a, "n1", 4, false), DYN_OK);
	assert_string_equal(a.owner.id, "n1");
	assert_false(a.owner.incarnation);
	dyn_actor_issued(&a.owner, 7);
	assert_int_equal(dyn_actor_floor(&a.owner), 0);	/* a node id: per-key counters */
	assert_null(dyn_actors_standin(&a, 4));
	s = dyn_actors_standin(&a, 2);
	assert_non_null(s);
	assert_true(s->incarnation);
	assert_memory_equal(s->id, "n1~", 3);
	snprintf(first, sizeof(first), "%s", s->id);
	dyn_actor_issued(s, 5);
	dyn_actor_issued(s, 3);
	assert_int_equal(dyn_actor_floor(s), 5);
	/* the same until retired */
	assert_ptr_equal(dyn_actors_standin(&a, 2), s);
	assert_string_equal(s->id, first);
	dyn_actors_retire(&a, 1);	/* none drawn there: nothing happens */
	assert_int_equal(a.retired, 0);
	dyn_actors_retire(&a, 2);
	assert_int_equal(a.retired, 1);
	s = dyn_actors_standin(&a, 2);
	assert_string_not_equal(s->id, first);
	assert_int_equal(dyn_actor_floor(s), 0);
	dyn_actors_incarnate_owner(&a);
	assert_true(a.owner.incarnation);
	assert_memory_equal(a.owner.id, "n1~", 3);
	assert_int_equal(a.drawn, 3);
	dyn_actors_free(&a);
	assert_int_equal(dyn_actors_init(&a, "n1", 4, true), DYN_OK);
	assert_true(a.owner.incarnation);
	dyn_actors_free(&a);
}

/* The dot is above the floor even when the key shows nothing of the actor. */
static void
test_put_above(void **state)
{
	dyn_object	o;
	dyn_vclock	ctx;
	dyn_vclock	w;
	dyn_slice	v = dyn_slice_str("x");

	(void) state;
	dyn_object_init(&o);
	dyn_vclock_init(&ctx);
	assert_int_equal(dyn_object_put_above(&o, dyn_slice_str("s~a"), 41, &ctx, &v, 1, &w),
					 DYN_OK);
	assert_int_equal(dyn_vclock_get(&w, dyn_slice_str("s~a")), 42);
	/* a floor below the key's counter changes nothing */
	assert_int_equal(dyn_object_put_above(&o, dyn_slice_str("s~a"), 3, &ctx, &v, 2, &w),
					 DYN_OK);
	assert_int_equal(dyn_vclock_get(&w, dyn_slice_str("s~a")), 43);
	assert_int_equal(o.n, 2);
	dyn_object_free(&o);
}

/*
 * A full context lacking the coordinator: the entry dropped is the oldest
 * incarnation's, though a node id's is older.
 */
static void
test_truncation_keeps_node_ids(void **state)
{
	dyn_object	o;
	dyn_vclock	ctx;
	dyn_vclock	w;
	dyn_slice	v = dyn_slice_str("x");
	char		id[DYN_NODE_ID_MAX + 1];

	(void) state;
	dyn_object_init(&o);
	dyn_vclock_init(&ctx);
	assert_int_equal(dyn_vclock_set(&ctx, dyn_slice_str("old-node"), 1, 10), DYN_OK);
	for (int i = 0; i < DYN_VCLOCK_CAP - 1; i++)
	{
		snprintf(id, sizeof(id), "s~%02d", i);
		assert_int_equal(dyn_vclock_set(&ctx, dyn_slice_str(id), 1, (uint64_t) (100 + i)),
						 DYN_OK);
	}
	assert_int_equal(ctx.n, DYN_VCLOCK_CAP);
	assert_int_equal(dyn_object_put(&o, dyn_slice_str("n9"), &ctx, &v, 1000, &w), DYN_OK);
	assert_int_equal(w.n, DYN_VCLOCK_CAP);
	assert_int_equal(dyn_vclock_get(&w, dyn_slice_str("old-node")), 1);
	assert_int_equal(dyn_vclock_get(&w, dyn_slice_str("s~00")), 0);	/* the oldest incarnation */
	assert_int_equal(dyn_vclock_get(&w, dyn_slice_str("s~01")), 1);
	assert_int_equal(dyn_vclock_get(&w, dyn_slice_str("n9")), 1);
	dyn_object_free(&o);
}

/*
 * An incarnation takes a context up to the highest counter it issued and
 * refuses one above (never returned by this cluster); a node id cannot
 * tell, and takes any.
 */
static void
test_context_ok(void **state)
{
	dyn_actors	a;
	dyn_actor  *s;
	dyn_vclock	ctx;

	(void) state;
	assert_int_equal(dyn_actors_init(&a, "n1", 4, false), DYN_OK);
	s = dyn_actors_standin(&a, 2);
	dyn_actor_issued(s, 7);
	dyn_vclock_init(&ctx);
	assert_true(dyn_actor_context_ok(s, &ctx));
	assert_int_equal(dyn_vclock_set(&ctx, dyn_slice_str(s->id), 7, 1), DYN_OK);
	assert_true(dyn_actor_context_ok(s, &ctx));
	assert_int_equal(dyn_vclock_set(&ctx, dyn_slice_str(s->id), 8, 1), DYN_OK);
	assert_false(dyn_actor_context_ok(s, &ctx));
	/* the node id: any counter of its own */
	assert_int_equal(dyn_vclock_set(&ctx, dyn_slice_str("n1"), UINT64_MAX, 1), DYN_OK);
	assert_true(dyn_actor_context_ok(&a.owner, &ctx));
	/* an owner incarnation that issued nothing yet refuses any counter of its own */
	dyn_actors_incarnate_owner(&a);
	assert_true(dyn_actor_context_ok(&a.owner, &ctx));
	assert_int_equal(dyn_vclock_set(&ctx, dyn_slice_str(a.owner.id), 1, 1), DYN_OK);
	assert_false(dyn_actor_context_ok(&a.owner, &ctx));
	dyn_actors_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_actors),
		cmocka_unit_test(test_put_above),
		cmocka_unit_test(test_truncation_keeps_node_ids),
		cmocka_unit_test(test_context_ok),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
