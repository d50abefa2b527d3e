/*
 * test_durable.c
 *		Group commit's bookkeeping (durable.h): which generation a reply
 *		waits for, one sync at a time covering what was written before it
 *		started, and a connection's reply bytes released in order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "durable.h"

/* Nothing written: a reply needs nothing, and no sync starts. */
static void
test_idle_needs_nothing(void **state)
{
	dyn_durable d;

	(void) state;
	dyn_durable_init(&d, 7);
	assert_true(dyn_durable_need(&d, 7) <= d.durable);
	assert_false(dyn_durable_start(&d, 7));
}

/*
 * A write makes replies wait for the next sync; once it has started they
 * wait for it (not one later); writes during it wait for the one after,
 * which may start only when it has ended.
 */
static void
test_one_sync_at_a_time(void **state)
{
	dyn_durable d;
	uint64_t	g1,
				g2;

	(void) state;
	dyn_durable_init(&d, 0);
	g1 = dyn_durable_need(&d, 1);		/* a PUT's reply */
	assert_true(g1 > d.durable);
	assert_true(dyn_durable_start(&d, 1));
	assert_int_equal(d.flying, g1);
	assert_int_equal(dyn_durable_need(&d, 1), g1);	/* a GET after it: same sync */
	g2 = dyn_durable_need(&d, 3);		/* two writes while it runs */
	assert_true(g2 > g1);
	assert_false(dyn_durable_start(&d, 3));	/* one at a time */
	dyn_durable_done(&d);
	assert_int_equal(d.durable, g1);
	assert_true(g2 > d.durable);
	assert_true(dyn_durable_start(&d, 3));	/* the next one right after */
	assert_int_equal(d.flying, g2);
	dyn_durable_done(&d);
	assert_int_equal(d.durable, g2);
	assert_true(dyn_durable_need(&d, 3) <= d.durable);
	assert_false(dyn_durable_start(&d, 3));
	dyn_durable_done(&d);				/* nothing in flight: no change */
	assert_int_equal(d.durable, g2);
}

/*
 * A group smaller than a recent one is still forming; as large, or with a
 * sync in flight, or with one client (groups of one), it is not.
 */
static void
test_forming(void **state)
{
	dyn_durable d;
	uint64_t	w = 0;

	(void) state;
	dyn_durable_init(&d, 0);
	assert_false(dyn_durable_forming(&d, 1));	/* nothing recent: go */
	for (int i = 0; i < 20; i++)				/* one client: groups of one */
	{
		w++;
		assert_false(dyn_durable_forming(&d, w));
		assert_true(dyn_durable_start(&d, w));
		dyn_durable_done(&d);
	}
	w += 50;									/* 50 clients at once */
	assert_true(dyn_durable_start(&d, w));
	w += 25;									/* half of them came back */
	assert_false(dyn_durable_forming(&d, w));	/* in flight: nothing to decide */
	dyn_durable_done(&d);
	assert_true(dyn_durable_forming(&d, w));	/* 25 < 50: let it grow */
	w += 25;
	assert_false(dyn_durable_forming(&d, w));	/* 50: go */
	assert_true(dyn_durable_start(&d, w));
	dyn_durable_done(&d);
	assert_false(dyn_durable_forming(&d, w));	/* nothing waiting */
	/* the load fell to 10 clients: after DYN_DURABLE_RECENT syncs of 10 ... */
	for (int i = 0; i < DYN_DURABLE_RECENT; i++)
	{
		w += 10;
		assert_true(dyn_durable_forming(&d, w));	/* (each one waited) */
		assert_true(dyn_durable_start(&d, w));
		dyn_durable_done(&d);
	}
	w += 10;
	assert_false(dyn_durable_forming(&d, w));	/* ... 10 is the group size */
}

/* Bytes leave in order: later bytes never overtake earlier held ones. */
static void
test_release_in_order(void **state)
{
	dyn_release r = {0};

	(void) state;
	dyn_release_tag(&r, 10, 0, 0);		/* needs nothing */
	assert_int_equal(r.ready, 10);
	assert_false(dyn_release_held(&r));
	dyn_release_tag(&r, 30, 2, 0);		/* waits for generation 2 */
	dyn_release_tag(&r, 35, 1, 0);		/* needs less, but is behind it */
	assert_int_equal(r.ready, 10);
	assert_true(dyn_release_held(&r));
	dyn_release_consume(&r, 10);
	assert_int_equal(r.ready, 0);
	assert_int_equal(dyn_release_advance(&r, 1), 0);
	assert_int_equal(dyn_release_advance(&r, 2), 25);
	assert_false(dyn_release_held(&r));
	dyn_release_consume(&r, 25);
	assert_int_equal(r.ready, 0);
	assert_int_equal(r.tagged, 0);
}

/* Marks of successive generations release one by one. */
static void
test_release_step_by_step(void **state)
{
	dyn_release r = {0};

	(void) state;
	dyn_release_tag(&r, 5, 1, 0);
	dyn_release_tag(&r, 9, 2, 0);
	dyn_release_tag(&r, 9, 3, 0);		/* nothing new: no mark */
	assert_int_equal(r.n, 2);
	assert_int_equal(dyn_release_advance(&r, 1), 5);
	dyn_release_consume(&r, 3);			/* a partial write */
	assert_int_equal(r.ready, 2);
	assert_int_equal(dyn_release_advance(&r, 2), 6);
	assert_int_equal(r.tagged, 6);
}

/* More generations than marks: the newest mark waits for the latest. */
static void
test_release_marks_merge(void **state)
{
	dyn_release r = {0};

	(void) state;
	for (uint64_t g = 1; g <= DYN_RELEASE_MARKS + 3; g++)
		dyn_release_tag(&r, (size_t) g * 10, g, 0);
	assert_int_equal(r.n, DYN_RELEASE_MARKS);
	assert_int_equal(dyn_release_advance(&r, DYN_RELEASE_MARKS - 1),
					 (DYN_RELEASE_MARKS - 1) * 10);
	/* the merged mark's first bytes needed only generation MARKS */
	assert_int_equal(dyn_release_advance(&r, DYN_RELEASE_MARKS), (DYN_RELEASE_MARKS - 1) * 10);
	assert_int_equal(dyn_release_advance(&r, DYN_RELEASE_MARKS + 3),
					 (DYN_RELEASE_MARKS + 3) * 10);
	dyn_release_reset(&r);
	assert_int_equal(r.tagged, 0);
	assert_false(dyn_release_held(&r));
}

/*
 * A failed sync makes nothing durable, then or later: its writes are
 * committed, so a reply made after the failure -- a GET that reads one,
 * a coordinated PUT whose replica ack came in after it -- must not leave,
 * and a later sync that succeeds does not cover them either (the failed
 * fsync may have dropped their pages).  Before dyn_durable_fail the
 * failed generation counted as durable and such replies were released.
 */
static void
test_failed_sync_releases_nothing(void **state)
{
	dyn_durable d;
	dyn_release r = {0};
	uint64_t	g1;

	(void) state;
	dyn_durable_init(&d, 0);
	g1 = dyn_durable_need(&d, 1);		/* a PUT's reply, held */
	dyn_release_tag(&r, 10, g1, d.durable);
	assert_true(dyn_durable_start(&d, 1));
	dyn_durable_fail(&d);
	assert_false(d.in_flight);
	assert_true(d.durable < g1);
	assert_int_equal(dyn_release_advance(&r, d.durable), 0);
	/* nothing written since: a GET's reply would read the failed write */
	assert_true(dyn_durable_need(&d, 1) > d.durable);
	dyn_release_tag(&r, 20, dyn_durable_need(&d, 1), d.durable);
	assert_int_equal(r.ready, 0);
	/* a later sync that succeeds does not release them */
	assert_true(dyn_durable_start(&d, 2));
	dyn_durable_done(&d);
	assert_true(dyn_durable_need(&d, 2) > d.durable);
	assert_int_equal(dyn_release_advance(&r, d.durable), 0);
	assert_true(dyn_release_held(&r));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_needs_nothing),
		cmocka_unit_test(test_one_sync_at_a_time),
		cmocka_unit_test(test_failed_sync_releases_nothing),
		cmocka_unit_test(test_forming),
		cmocka_unit_test(test_release_in_order),
		cmocka_unit_test(test_release_step_by_step),
		cmocka_unit_test(test_release_marks_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
