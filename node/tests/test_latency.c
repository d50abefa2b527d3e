/*
 * test_latency.c
 *		The latency histogram behind STATUS's and dynamo-bench's percentiles
 *		(node/src/latency.c): quantiles land within a bucket's width of the
 *		truth, never below it and never above the largest value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "latency.h"

static void test_empty(void **state);
static void test_exact_small_values(void **state);
static void test_buckets_are_contiguous(void **state);
static void test_quantiles_within_a_bucket(void **state);
static void test_nearest_rank_capped_by_max(void **state);
static void test_add(void **state);
static void test_huge_values_clamp(void **state);

/* Nothing recorded: no quantile. */
static void
test_empty(void **state)
{
	dyn_latency l = {0};

	(void) state;
	assert_true(dyn_latency_quantile_ms(&l, 0.5) < 0);
}

/* Below 2 * SUB ns every nanosecond has its own bucket: quantiles are exact. */
static void
test_exact_small_values(void **state)
{
	dyn_latency l = {0};

	(void) state;
	for (uint64_t ns = 1; ns <= 100; ns++)
		dyn_latency_record(&l, ns);
	/* nearest rank: the 50th of 1..100 is 50, the 99th is 99 */
	assert_true(dyn_latency_quantile_ms(&l, 0.50) == 50 / 1e6);
	assert_true(dyn_latency_quantile_ms(&l, 0.99) == 99 / 1e6);
	assert_true(dyn_latency_quantile_ms(&l, 1.0) == 100 / 1e6);
}

/*
 * Every value up to 2^20 lands in a bucket whose upper bound is at or
 * above it and at most 1/SUB above it (buckets neither overlap nor leave a
 * gap).
 */
static void
test_buckets_are_contiguous(void **state)
{
	(void) state;
	for (uint64_t ns = 1; ns < (1u << 20); ns += 37)
	{
		static dyn_latency l;
		double		q;

		memset(&l, 0, sizeof(l));
		dyn_latency_record(&l, ns);
		l.max = UINT64_MAX;		/* look at the bucket's bound, not the cap */
		q = dyn_latency_quantile_ms(&l, 1.0) * 1e6;
		assert_true(q >= (double) ns - 0.5);
		assert_true(q <= (double) ns * (1.0 + 1.0 / DYN_LATENCY_SUB) + 0.5);
	}
}

/*
 * 1..100000 us uniformly (in ns): the p50 and p99 reported are at or above
 * the true 50 and 99 ms, and within 1/SUB above them.
 */
static void
test_quantiles_within_a_bucket(void **state)
{
	static dyn_latency l;
	double		p50;
	double		p99;

	(void) state;
	for (uint64_t us = 1; us <= 100000; us++)
		dyn_latency_record(&l, us * 1000);
	assert_int_equal(l.count, 100000);
	p50 = dyn_latency_quantile_ms(&l, 0.50);
	p99 = dyn_latency_quantile_ms(&l, 0.99);
	assert_true(p50 >= 50.0 && p50 <= 50.0 * (1.0 + 1.0 / DYN_LATENCY_SUB));
	assert_true(p99 >= 99.0 && p99 <= 99.0 * (1.0 + 1.0 / DYN_LATENCY_SUB));
}

/* One slow request in 1000 is the p99.9, reported no higher than itself. */
static void
test_nearest_rank_capped_by_max(void **state)
{
	static dyn_latency l;

	(void) state;
	for (int i = 0; i < 999; i++)
		dyn_latency_record(&l, 1000000);	/* 1 ms */
	dyn_latency_record(&l, 123456789);	/* 123.456789 ms */
	assert_true(dyn_latency_quantile_ms(&l, 0.999) <= 1.0 * (1.0 + 1.0 / DYN_LATENCY_SUB));
	assert_true(dyn_latency_quantile_ms(&l, 0.999) >= 1.0);
	assert_true(dyn_latency_quantile_ms(&l, 1.0) == 123.456789);
}

/* Adding histograms adds their counts and keeps the larger maximum. */
static void
test_add(void **state)
{
	static dyn_latency a;
	static dyn_latency b;

	(void) state;
	dyn_latency_record(&a, 10);
	dyn_latency_record(&b, 5000);
	dyn_latency_record(&b, 20);
	dyn_latency_add(&a, &b);
	assert_int_equal(a.count, 3);
	assert_int_equal(a.max, 5000);
	assert_true(dyn_latency_quantile_ms(&a, 0.5) == 20 / 1e6);
}

/* The largest values are counted in the last bucket, not lost. */
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
		cmocka_unit_test(test_buckets_are_contiguous),
		cmocka_unit_test(test_quantiles_within_a_bucket),
		cmocka_unit_test(test_nearest_rank_capped_by_max),
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_huge_values_clamp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
