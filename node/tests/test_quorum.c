/*
 * test_quorum.c
 *		Unit tests for quorum.c: when a GET may answer, and when "not found"
 *		may be its answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "dynamo/quorum.h"

/* One replica's answer: an owner or a stand-in, and what it held. */
typedef struct answer
{
	bool		owner;
	bool		has_data;		/* a value or a tombstone */
} answer;

static dyn_read_verdict after(const answer *a, int count, int asked, int r);
static void test_owners_not_found(void **state);
static void test_standins_not_found_wait(void **state);
static void test_standins_not_found_fail(void **state);
static void test_found_with_empty_standin(void **state);
static void test_tombstone_is_data(void **state);
static void test_standin_with_hint(void **state);
static void test_differing_answers(void **state);
static void test_failures(void **state);

/* The verdict once the first count of asked replicas answered as in a. */
static dyn_read_verdict
after(const answer *a, int count, int asked, int r)
{
	dyn_read_tally t = {0};

	for (int i = 0; i < count; i++)
		dyn_read_tally_add(&t, a[i].owner, a[i].has_data);
	t.outstanding = asked - count;
	return dyn_read_decide(&t, r);
}

/* Two owners without the key: not found, at R=2, as before. */
static void
test_owners_not_found(void **state)
{
	answer		a[] = {{true, false}, {true, false}};

	(void) state;
	assert_int_equal(after(a, 1, 3, 2), DYN_READ_WAIT);
	assert_int_equal(after(a, 2, 3, 2), DYN_READ_ANSWER);
}

/* Two stand-ins without the key answer first: wait for the owner. */
static void
test_standins_not_found_wait(void **state)
{
	answer		a[] = {{false, false}, {false, false}, {true, true}};

	(void) state;
	assert_int_equal(after(a, 2, 3, 2), DYN_READ_WAIT);
	/* the owner had it: found, with R=2 answers */
	assert_int_equal(after(a, 3, 3, 2), DYN_READ_ANSWER);
}

/* Every answer in, only stand-ins and one owner, all empty: not a
 * "not found" but a quorum failure. */
static void
test_standins_not_found_fail(void **state)
{
	answer		a[] = {{false, false}, {false, false}, {true, false}};

	(void) state;
	assert_int_equal(after(a, 3, 3, 2), DYN_READ_FAIL);
	assert_int_equal(after(a, 2, 2, 1), DYN_READ_FAIL);
	/* R=1 from the owner alone is a not found */
	assert_int_equal(after(a, 3, 3, 1), DYN_READ_ANSWER);
}

/* Data from one answer and an empty stand-in make R=2: answered. */
static void
test_found_with_empty_standin(void **state)
{
	answer		a[] = {{true, true}, {false, false}};

	(void) state;
	assert_int_equal(after(a, 1, 3, 2), DYN_READ_WAIT);
	assert_int_equal(after(a, 2, 3, 2), DYN_READ_ANSWER);
	/* the other order too */
	{
		answer		b[] = {{false, false}, {true, true}};

		assert_int_equal(after(b, 1, 3, 2), DYN_READ_WAIT);
		assert_int_equal(after(b, 2, 3, 2), DYN_READ_ANSWER);
	}
}

/* A tombstone is data: a stand-in holding one is authoritative. */
static void
test_tombstone_is_data(void **state)
{
	answer		a[] = {{false, true}, {false, true}};

	(void) state;
	assert_int_equal(after(a, 2, 3, 2), DYN_READ_ANSWER);
}

/* A stand-in holding the key's hint counts like an owner. */
static void
test_standin_with_hint(void **state)
{
	answer		a[] = {{false, true}, {true, false}};

	(void) state;
	assert_int_equal(after(a, 2, 2, 2), DYN_READ_ANSWER);
}

/* R=3 with answers that differ (one empty owner, two with data). */
static void
test_differing_answers(void **state)
{
	answer		a[] = {{true, false}, {true, true}, {false, true}};

	(void) state;
	assert_int_equal(after(a, 2, 3, 3), DYN_READ_WAIT);
	assert_int_equal(after(a, 3, 3, 3), DYN_READ_ANSWER);
}

/* Replicas that failed are neither answers nor outstanding. */
static void
test_failures(void **state)
{
	answer		a[] = {{true, true}};

	(void) state;
	/* one answer, two failed: nothing more will come */
	assert_int_equal(after(a, 1, 1, 2), DYN_READ_FAIL);
	assert_int_equal(after(a, 1, 1, 1), DYN_READ_ANSWER);
	assert_int_equal(after(a, 0, 0, 1), DYN_READ_FAIL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owners_not_found),
		cmocka_unit_test(test_standins_not_found_wait),
		cmocka_unit_test(test_standins_not_found_fail),
		cmocka_unit_test(test_found_with_empty_standin),
		cmocka_unit_test(test_tombstone_is_data),
		cmocka_unit_test(test_standin_with_hint),
		cmocka_unit_test(test_differing_answers),
		cmocka_unit_test(test_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
