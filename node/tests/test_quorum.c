/*
 * test_quorum.c
 *		Unit tests for quorum.c: when a GET may answer, when "not found"
 *		may be its answer, and when a write is acknowledged.
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
static dyn_write_verdict wafter(const char *acks, int w, int n);
static void test_write_owners(void **state);
static void test_write_standins(void **state);
static void test_write_unreachable(void **state);
static void test_write_local_failed(void **state);

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

/*
 * The verdict after answers: one letter per target, in order, the
 * coordinator's own copy first: 'o' an owner acknowledged, 's' a stand-in
 * kept a hint, 'f' failed or timed out, '.' still to answer, 'L' the
 * coordinator's own copy failed.
 */
static dyn_write_verdict
wafter(const char *acks, int w, int n)
{
	dyn_write_tally t = {0};

	for (const char *p = acks; *p; p++)
	{
		t.acks += *p == 'o' || *p == 's';
		t.standin_acks += *p == 's';
		t.failed += *p == 'f' || *p == 'L';
		t.outstanding += *p == '.';
		t.local_failed |= *p == 'L';
	}
	return dyn_write_decide(&t, w, n);
}

/* Owners alone, as without partitions. */
static void
test_write_owners(void **state)
{
	(void) state;
	assert_int_equal(wafter("o..", 2, 3), DYN_WRITE_WAIT);
	assert_int_equal(wafter("oo.", 2, 3), DYN_WRITE_ANSWER);
	assert_int_equal(wafter("o", 1, 3), DYN_WRITE_ANSWER);
	assert_int_equal(wafter("oof", 3, 3), DYN_WRITE_FAIL);
}

/* Every owner cut off: stand-ins make W (the always-writeable promise). */
static void
test_write_standins(void **state)
{
	(void) state;
	/* a stand-in coordinating, its copy a hint, another stand-in beside */
	assert_int_equal(wafter("s..", 2, 3), DYN_WRITE_WAIT);
	assert_int_equal(wafter("ss.", 2, 3), DYN_WRITE_ANSWER);
	assert_int_equal(wafter("sss", 3, 3), DYN_WRITE_ANSWER);
	/* one owner and one stand-in */
	assert_int_equal(wafter("of.", 2, 3), DYN_WRITE_WAIT);
	assert_int_equal(wafter("ofs", 2, 3), DYN_WRITE_ANSWER);
}

/* Too few reachable: fail, but only once every answer is in. */
static void
test_write_unreachable(void **state)
{
	(void) state;
	assert_int_equal(wafter("sf.", 3, 3), DYN_WRITE_WAIT);
	assert_int_equal(wafter("sff", 2, 3), DYN_WRITE_FAIL);
	/* fewer targets than W (a node that reaches nobody) */
	assert_int_equal(wafter("s", 2, 3), DYN_WRITE_FAIL);
	/* W above N is never met */
	assert_int_equal(wafter("ooo", 4, 3), DYN_WRITE_FAIL);
}

/* The coordinator's own copy failed: nothing was shipped, fail at once. */
static void
test_write_local_failed(void **state)
{
	(void) state;
	assert_int_equal(wafter("L..", 2, 3), DYN_WRITE_FAIL);
	assert_int_equal(wafter("Loo", 2, 3), DYN_WRITE_FAIL);
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
		cmocka_unit_test(test_write_owners),
		cmocka_unit_test(test_write_standins),
		cmocka_unit_test(test_write_unreachable),
		cmocka_unit_test(test_write_local_failed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
