/*
 * test_throttle.c
 *		The background work's token bucket: what it lets through, how long
 *		it makes a task wait, and that idle time does not buy a burst.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "throttle.h"

/* A full bucket lets one second's worth go at once, then makes debt wait. */
static void
test_debt_is_paid_in_time(void **state)
{
	dyn_throttle t;

	(void) state;
	dyn_throttle_init(&t, 1000, 0);
	assert_int_equal(dyn_throttle_delay(&t, 0), 0);
	dyn_throttle_charge(&t, 1000, 0);
	assert_int_equal(dyn_throttle_delay(&t, 0), 0);	/* exactly used up */
	dyn_throttle_charge(&t, 500, 0);
	/* 500 bytes of debt at 1000 B/s: half a second (rounded up) */
	assert_int_equal(dyn_throttle_delay(&t, 0), 501);
	assert_int_equal(dyn_throttle_delay(&t, 250), 251);
	assert_int_equal(dyn_throttle_delay(&t, 500), 0);
	assert_true(t.waited_ms >= 752);
}

/* However long a task was idle, it may send at most one second's worth. */
static void
test_idle_time_does_not_buy_a_burst(void **state)
{
	dyn_throttle t;

	(void) state;
	dyn_throttle_init(&t, 1000, 0);
	dyn_throttle_charge(&t, 1000, 0);
	assert_int_equal(dyn_throttle_delay(&t, 3600 * 1000), 0);
	dyn_throttle_charge(&t, 1500, 3600 * 1000);
	assert_int_equal(dyn_throttle_delay(&t, 3600 * 1000), 501);
}

/* Over a long run the bytes let through stay within the rate. */
static void
test_long_run_stays_within_the_rate(void **state)
{
	dyn_throttle t;
	uint64_t	now = 0;
	uint64_t	sent = 0;

	(void) state;
	dyn_throttle_init(&t, 64 * 1024, 0);
	while (now < 10 * 1000)
	{
		uint64_t	wait = dyn_throttle_delay(&t, now);

		if (wait > 0)
		{
			now += wait;
			continue;
		}
		dyn_throttle_charge(&t, 4096, now);
		sent += 4096;
	}
	/* ten seconds at 64 KiB/s, plus the one-second bucket and one request */
	assert_true(sent <= 11 * 64 * 1024 + 4096);
	assert_true(sent >= 10 * 64 * 1024);
}

/* Rate 0 is no bound at all. */
static void
test_zero_rate_never_waits(void **state)
{
	dyn_throttle t;

	(void) state;
	dyn_throttle_init(&t, 0, 0);
	dyn_throttle_charge(&t, UINT32_MAX, 0);
	assert_int_equal(dyn_throttle_delay(&t, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_debt_is_paid_in_time),
		cmocka_unit_test(test_idle_time_does_not_buy_a_burst),
		cmocka_unit_test(test_long_run_stays_within_the_rate),
		cmocka_unit_test(test_zero_rate_never_waits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
