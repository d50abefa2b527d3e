/*
 * test_objbuf.c
 *		Unit tests of the object buffer's container (objbuf.h): lookups after
 *		puts, replaces and forgets, the byte bound, and eviction order, with
 *		a random run checked against a plain array of what may be held.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "objbuf.h"

static dyn_slice
str(const char *s)
{
	return (dyn_slice) {(const uint8_t *) s, strlen(s)};
}

static void
assert_holds(dyn_objbuf *b, const char *key, const char *value)
{
	dyn_slice	v;

	assert_true(dyn_objbuf_get(b, str(key), &v));
	assert_int_equal(v.len, strlen(value));
	assert_memory_equal(v.ptr, value, v.len);
}

static void
test_put_get_forget(void **state)
{
	dyn_objbuf *b;
	dyn_objbuf_stats st;
	dyn_slice	v;

	(void) state;
	assert_int_equal(dyn_objbuf_create(1 << 20, &b), DYN_OK);
	assert_false(dyn_objbuf_get(b, str("a"), &v));
	dyn_objbuf_put(b, str("a"), str("one"));
	dyn_objbuf_put(b, str("b"), str(""));
	assert_holds(b, "a", "one");
	assert_holds(b, "b", "");
	dyn_objbuf_put(b, str("a"), str("two, longer"));
	assert_holds(b, "a", "two, longer");
	dyn_objbuf_forget(b, str("a"));
	assert_false(dyn_objbuf_get(b, str("a"), &v));
	dyn_objbuf_forget(b, str("never there"));
	assert_holds(b, "b", "");
	dyn_objbuf_stats_get(b, &st);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.hits, 4);
	assert_int_equal(st.misses, 2);
	dyn_objbuf_clear(b);
	assert_false(dyn_objbuf_get(b, str("b"), &v));
	dyn_objbuf_stats_get(b, &st);
	assert_int_equal(st.entries, 0);
	dyn_objbuf_free(b);
	dyn_objbuf_free(NULL);
}

static void
test_too_small_and_too_large(void **state)
{
	dyn_objbuf *b;
	uint8_t    *big = calloc(1, 8192);
	dyn_slice	v;

	(void) state;
	assert_int_equal(dyn_objbuf_create(1024, &b), DYN_ERR_INVAL);
	assert_null(b);
	assert_int_equal(dyn_objbuf_create(64 * 1024, &b), DYN_OK);
	dyn_objbuf_put(b, str("k"), str("small"));
	/* over 1/16 of the bound: not buffered, and the old copy is gone */
	dyn_objbuf_put(b, str("k"), (dyn_slice) {big, 8192});
	assert_false(dyn_objbuf_get(b, str("k"), &v));
	dyn_objbuf_free(b);
	free(big);
}

/* The bound holds at every step, and what was used recently survives. */
static void
test_bound_and_recency(void **state)
{
	dyn_objbuf *b;
	dyn_objbuf_stats st;
	char		key[32];
	char		value[200];
	size_t		max = 256 * 1024;
	int			kept = 0;

	(void) state;
	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	assert_int_equal(dyn_objbuf_create(max, &b), DYN_OK);
	dyn_objbuf_put(b, str("hot"), str("h"));
	for (int i = 0; i < 20000; i++)
	{
		dyn_slice	v;

		snprintf(key, sizeof(key), "key:%08d", i);
		dyn_objbuf_put(b, str(key), str(value));
		dyn_objbuf_stats_get(b, &st);
		assert_true(st.bytes <= max);
		kept += dyn_objbuf_get(b, str("hot"), &v);	/* used on every step */
	}
	dyn_objbuf_stats_get(b, &st);
	assert_true(st.evictions > 15000);
	assert_true(st.entries > 500);
	/* sampled LRU may drop the hot key now and then, but hardly ever */
	assert_true(kept > 19900);
	dyn_objbuf_free(b);
}

/*
 * A random run against a model: every key the model says is held must be
 * found with its value, and every key it says is not must not be -- the
 * buffer may also have evicted a held key, which the model then learns.
 * Small key space, many forgets: the probe runs and their back shifts.
 */
static void
test_random_against_model(void **state)
{
	enum
	{
		KEYS = 3000, STEPS = 200000
	};
	static char values[KEYS][40];
	static bool held[KEYS];
	dyn_objbuf *b;
	uint64_t	rng = 42;

	(void) state;
	assert_int_equal(dyn_objbuf_create(96 * 1024, &b), DYN_OK);
	for (int step = 0; step < STEPS; step++)
	{
		char		key[16];
		uint64_t	r;
		int			k;
		int			op;
		dyn_slice	v;

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		r = rng;
		k = (int) (r % KEYS);
		op = (int) ((r >> 32) % 10);
		snprintf(key, sizeof(key), "%d", k);
		if (op < 4)
		{
			snprintf(values[k], sizeof(values[k]), "v%d.%d", k, step);
			dyn_objbuf_put(b, str(key), str(values[k]));
			held[k] = true;
		}
		else if (op < 6)
		{
			dyn_objbuf_forget(b, str(key));
			held[k] = false;
		}
		else if (dyn_objbuf_get(b, str(key), &v))
		{
			assert_true(held[k]);
			assert_int_equal(v.len, strlen(values[k]));
			assert_memory_equal(v.ptr, values[k], v.len);
		}
		else
			held[k] = false;	/* evicted, or never held */
	}
	/* everything the buffer still finds is the model's latest value */
	for (int k = 0; k < KEYS; k++)
	{
		char		key[16];
		dyn_slice	v;

		snprintf(key, sizeof(key), "%d", k);
		if (dyn_objbuf_get(b, str(key), &v))
		{
			assert_true(held[k]);
			assert_memory_equal(v.ptr, values[k], v.len);
		}
	}
	dyn_objbuf_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_forget),
		cmocka_unit_test(test_too_small_and_too_large),
		cmocka_unit_test(test_bound_and_recency),
		cmocka_unit_test(test_random_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
