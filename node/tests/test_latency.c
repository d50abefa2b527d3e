/*
 * test_latency.c
 *		The latency histograms behind STATUS's percentiles (node/src/latency.c):
 *		quantiles land within a bucket's width of the truth and never below it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "latency.h"

static void test_empty(void **state);
static void test_exact_small_values(void **state);
static void test_quantiles_within_a_bucket(void **state);
static void test_huge_values_clamp(void **state);

/* Nothing recorded: no quantile. */
static void
test_empty(void **state)
{
	dyn_latency l = {0};

	(void) state;
	assert_true(dyn_latency_quantile_ms(&l, 0.5) < 0);
}

/* Below 16 us every microsecond has its own bucket. */
static void
test_exact_small_values(void **state)
{
	dyn_latency l = {0};

	(void) state;
	for (uint64_t us = 0; us < 10; us++)
		dyn_latency_record(&l, us);
	/* the 5th of 0..9 is 4 us; reported as its bucket's upper bound, 5 us */
	assert_true(dyn_latency_quantile_ms(&l, 0.5) == 0.005);
	assert_true(dyn_latency_quantile_ms(&l, 1.0) == 0.010);
}

/*
 * 1..100000 us uniformly: the p50 and p99 reported are at or above the true
 * 50000 and 99000 us, and within 1/16 above them.
 */
static void
test_quantiles_within_a_bucket(void **state)
{
	static dyn_latency l;
	double		p50;
	double		p99;

	(void) state;
	for (uint64_t us = 1; us <= 100000; us++)
		dyn_latency_record(&l, us);
	assert_int_equal(l.count, 100000);
	p50 = dyn_latency_quantile_ms(&l, 0.50);
	p99 = dyn_latency_quantile_ms(&l, 0.99);
	assert_true(p50 >= 50.0 && p50 <= 50.0 * 17 / 16);
	assert_true(p99 >= 99.0 && p99 <= 99.0 * 17 / 16);
}

/* Latencies past the last bucket are counted in it, not lost. */
static void
test_huge_values_clamp(void **state)
{
	dyn_latency l = {0};

	(void) state;
	dyn_latency_record(&l, UINT64_MAX);
	assert_int_equal(l.count, 1);
	assert_int_equal(l.buckets[DYN_LATENCY_BUCKETS - 1], 1);
	assert_true(dyn_latency_quantile_ms(&l, 0.5) > 1000.0 * 3600);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_exact_small_values),
		cmocka_unit_test(test_quantiles_within_a_bucket),
		cmocka_unit_test(test_huge_values_clamp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
