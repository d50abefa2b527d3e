/*
 * test_objbuf.c
 *		Unit tests of the object buffer's container (objbuf.h): lookups after
 *		puts, replaces and forgets, the byte bound, and eviction order, with
 *		a random run checked against a plain array of what may be held; and
 *		pending entries (write-behind): held values and absences answered,
 *		never evicted, forgotten or replaced by a read's copy until settled,
 *		a hold too large for the buffer, a hold whose value is the entry it
 *		replaces, and the bound restored once the writer catches up.
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

static dyn_slice str(const char *s);
static void assert_holds(dyn_objbuf *b, const char *key, const char *value);
static void assert_pending_value(dyn_objbuf *b, const char *key, const char *value);
static dyn_slice pending_value(int i, char *buf, size_t len);

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

/* key's value is a hit (not an absence) with exactly value's bytes. */
static void
assert_pending_value(dyn_objbuf *b, const char *key, const char *value)
{
	dyn_slice	v = {NULL, 0};

	assert_int_equal(dyn_objbuf_get(b, str(key), &v), DYN_OBJBUF_HIT);
	assert_int_equal(v.len, strlen(value));
	assert_memory_equal(v.ptr, value, v.len);
}

/* The value held for key i in the pending tests: 100 bytes, i's own. */
static dyn_slice
pending_value(int i, char *buf, size_t len)
{
	int			n = snprintf(buf, len, "value-%d-", i);

	memset(buf + n, 'a' + i % 26, 99 - (size_t) n);
	buf[99] = '\0';
	return (dyn_slice) {(const uint8_t *) buf, 99};
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

/*
 * Held values and absences are answered (HIT / ABSENT, counted as hits);
 * a read's copy (put) never replaces a pending entry, but does once it is
 * settled; a newer hold replaces an older pending one.
 */
static void
test_hold_answers(void **state)
{
	dyn_objbuf *b;
	dyn_objbuf_stats st;
	dyn_slice	v;
	dyn_slice	one = str("one");

	(void) state;
	assert_int_equal(dyn_objbuf_create(1 << 20, &b), DYN_OK);
	assert_int_equal(dyn_objbuf_hold(b, str("a"), &one, 1), DYN_OK);
	assert_int_equal(dyn_objbuf_hold(b, str("gone"), NULL, 2), DYN_OK);
	assert_pending_value(b, "a", "one");
	assert_int_equal(dyn_objbuf_get(b, str("gone"), &v), DYN_OBJBUF_ABSENT);
	assert_int_equal(dyn_objbuf_get(b, str("never"), &v), DYN_OBJBUF_MISS);
	dyn_objbuf_stats_get(b, &st);
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.entries, 2);

	/* a read's (older) copy does not replace what is pending */
	dyn_objbuf_put(b, str("a"), str("stale from the engine"));
	dyn_objbuf_put(b, str("gone"), str("stale too"));
	assert_pending_value(b, "a", "one");
	assert_int_equal(dyn_objbuf_get(b, str("gone"), &v), DYN_OBJBUF_ABSENT);

	/* a newer write replaces a pending one, a value an absence and back */
	assert_int_equal(dyn_objbuf_hold(b, str("a"), NULL, 3), DYN_OK);
	assert_int_equal(dyn_objbuf_get(b, str("a"), &v), DYN_OBJBUF_ABSENT);
	assert_int_equal(dyn_objbuf_hold(b, str("gone"), &one, 4), DYN_OK);
	assert_pending_value(b, "gone", "one");
	dyn_objbuf_put(b, str("gone"), str("stale"));
	assert_pending_value(b, "gone", "one");

	/* settled: a clean absence is still a true answer; a put replaces it */
	dyn_objbuf_settle(b, 3);
	assert_int_equal(dyn_objbuf_get(b, str("a"), &v), DYN_OBJBUF_ABSENT);
	dyn_objbuf_put(b, str("a"), str("read back"));
	assert_pending_value(b, "a", "read back");
	dyn_objbuf_put(b, str("gone"), str("stale"));	/* 4 is still pending */
	assert_pending_value(b, "gone", "one");
	dyn_objbuf_settle(b, 4);
	dyn_objbuf_settle(b, 2);	/* going back is nothing */
	dyn_objbuf_put(b, str("gone"), str("now clean"));
	assert_pending_value(b, "gone", "now clean");
	dyn_objbuf_stats_get(b, &st);
	assert_int_equal(st.entries, 2);

	/* clear drops pending entries too */
	assert_int_equal(dyn_objbuf_hold(b, str("p"), &one, 9), DYN_OK);
	dyn_objbuf_clear(b);
	assert_int_equal(dyn_objbuf_get(b, str("p"), &v), DYN_OBJBUF_MISS);
	dyn_objbuf_free(b);
}

/*
 * Only pending entries, far over the bound: none is evicted, every one
 * answers with its value; settling part of them evicts only settled ones,
 * settling all brings the buffer back within its bound.
 */
static void
test_pending_never_evicted(void **state)
{
	enum
	{
		N = 2000
	};
	dyn_objbuf *b;
	dyn_objbuf_stats st;
	size_t		max = 64 * 1024;
	char		key[32];
	char		value[100];

	(void) state;
	assert_int_equal(dyn_objbuf_create(max, &b), DYN_OK);
	for (int i = 0; i < N; i++)
	{
		dyn_slice	v = pending_value(i, value, sizeof(value));

		snprintf(key, sizeof(key), "key:%d", i);
		assert_int_equal(dyn_objbuf_hold(b, str(key), &v, (uint64_t) i + 1), DYN_OK);
	}
	dyn_objbuf_stats_get(b, &st);
	assert_int_equal(st.entries, N);
	assert_int_equal(st.evictions, 0);
	assert_true(st.bytes > 3 * max);	/* ~150 bytes an entry */
	for (int i = 0; i < N; i++)
	{
		snprintf(key, sizeof(key), "key:%d", i);
		pending_value(i, value, sizeof(value));
		assert_pending_value(b, key, value);
	}

	/* the first half is stored: only those may go */
	dyn_objbuf_settle(b, N / 2);
	dyn_objbuf_stats_get(b, &st);
	assert_true(st.evictions > 0);
	assert_true(st.entries >= N / 2);
	for (int i = N / 2; i < N; i++)
	{
		snprintf(key, sizeof(key), "key:%d", i);
		pending_value(i, value, sizeof(value));
		assert_pending_value(b, key, value);
	}

	/* all stored: back within the bound */
	dyn_objbuf_settle(b, N);
	dyn_objbuf_stats_get(b, &st);
	assert_true(st.bytes <= max);
	assert_true(st.entries < N / 4);
	dyn_objbuf_free(b);
}

/*
 * Pending entries among clean ones: the clean ones are still evicted to
 * keep the bound at every step, the pending ones never.
 */
static void
test_clean_evicted_among_pending(void **state)
{
	enum
	{
		PENDING = 100, CLEAN = 5000
	};
	dyn_objbuf *b;
	dyn_objbuf_stats st;
	size_t		max = 64 * 1024;
	char		key[32];
	char		value[100];

	(void) state;
	assert_int_equal(dyn_objbuf_create(max, &b), DYN_OK);
	for (int i = 0; i < PENDING; i++)
	{
		dyn_slice	v = pending_value(i, value, sizeof(value));

		snprintf(key, sizeof(key), "pending:%d", i);
		assert_int_equal(dyn_objbuf_hold(b, str(key), &v, (uint64_t) i + 1), DYN_OK);
	}
	for (int i = 0; i < CLEAN; i++)
	{
		snprintf(key, sizeof(key), "clean:%d", i);
		dyn_objbuf_put(b, str(key), pending_value(i, value, sizeof(value)));
		dyn_objbuf_stats_get(b, &st);
		assert_true(st.bytes <= max);
	}
	dyn_objbuf_stats_get(b, &st);
	assert_true(st.evictions > CLEAN - 400);
	assert_true(st.entries > PENDING + 50);		/* clean ones are held too */
	for (int i = 0; i < PENDING; i++)
	{
		snprintf(key, sizeof(key), "pending:%d", i);
		pending_value(i, value, sizeof(value));
		assert_pending_value(b, key, value);
	}
	dyn_objbuf_free(b);
}

/* forget passes over a pending entry (value or absence) until it is settled. */
static void
test_forget_pending(void **state)
{
	dyn_objbuf *b;
	dyn_slice	v;
	dyn_slice	val = str("held");

	(void) state;
	assert_int_equal(dyn_objbuf_create(1 << 20, &b), DYN_OK);
	assert_int_equal(dyn_objbuf_hold(b, str("k"), &val, 5), DYN_OK);
	assert_int_equal(dyn_objbuf_hold(b, str("d"), NULL, 6), DYN_OK);
	dyn_objbuf_forget(b, str("k"));
	dyn_objbuf_forget(b, str("d"));
	assert_pending_value(b, "k", "held");
	assert_int_equal(dyn_objbuf_get(b, str("d"), &v), DYN_OBJBUF_ABSENT);
	dyn_objbuf_settle(b, 4);
	dyn_objbuf_forget(b, str("k"));
	assert_pending_value(b, "k", "held");
	dyn_objbuf_settle(b, 5);
	dyn_objbuf_forget(b, str("k"));
	dyn_objbuf_forget(b, str("d"));
	assert_int_equal(dyn_objbuf_get(b, str("k"), &v), DYN_OBJBUF_MISS);
	assert_int_equal(dyn_objbuf_get(b, str("d"), &v), DYN_OBJBUF_ABSENT);
	dyn_objbuf_settle(b, 6);
	dyn_objbuf_forget(b, str("d"));
	assert_int_equal(dyn_objbuf_get(b, str("d"), &v), DYN_OBJBUF_MISS);
	dyn_objbuf_free(b);
}

/* A hold over 1/16 of the bound: TOOBIG, a clean copy dropped, a pending one kept. */
static void
test_hold_toobig(void **state)
{
	dyn_objbuf *b;
	dyn_objbuf_stats st;
	dyn_slice	v;
	uint8_t    *big = calloc(1, 8192);
	dyn_slice	bigv = {big, 8192};
	dyn_slice	edge = {big, 4096 - 1};	/* with its 1-byte key: 1/16 exactly */
	dyn_slice	small = str("small");

	(void) state;
	assert_non_null(big);
	assert_int_equal(dyn_objbuf_create(64 * 1024, &b), DYN_OK);
	dyn_objbuf_put(b, str("c"), str("clean copy"));
	assert_int_equal(dyn_objbuf_hold(b, str("c"), &bigv, 1), DYN_ERR_TOOBIG);
	assert_int_equal(dyn_objbuf_get(b, str("c"), &v), DYN_OBJBUF_MISS);

	assert_int_equal(dyn_objbuf_hold(b, str("p"), &small, 2), DYN_OK);
	assert_int_equal(dyn_objbuf_hold(b, str("p"), &bigv, 3), DYN_ERR_TOOBIG);
	assert_pending_value(b, "p", "small");

	/* a key never held: nothing held after */
	assert_int_equal(dyn_objbuf_hold(b, str("n"), &bigv, 4), DYN_ERR_TOOBIG);
	assert_int_equal(dyn_objbuf_get(b, str("n"), &v), DYN_OBJBUF_MISS);

	/* at the limit it is held */
	assert_int_equal(dyn_objbuf_hold(b, str("e"), &edge, 5), DYN_OK);
	assert_int_equal(dyn_objbuf_get(b, str("e"), &v), DYN_OBJBUF_HIT);
	assert_int_equal(v.len, edge.len);
	dyn_objbuf_stats_get(b, &st);
	assert_int_equal(st.entries, 2);

	/* once settled the kept copy is clean, and a TOOBIG hold drops it */
	dyn_objbuf_settle(b, 3);
	assert_int_equal(dyn_objbuf_hold(b, str("p"), &bigv, 6), DYN_ERR_TOOBIG);
	assert_int_equal(dyn_objbuf_get(b, str("p"), &v), DYN_OBJBUF_MISS);
	dyn_objbuf_free(b);
	free(big);
}

/*
 * A hold whose value is the bytes of the entry it replaces (the slice
 * dyn_objbuf_get returned): the new entry has them, whole or in part.
 * A copy taken after freeing the old entry is a use after free, which
 * ASan and valgrind report even when the bytes happen to survive.
 */
static void
test_hold_value_aliases_old_entry(void **state)
{
	dyn_objbuf *b;
	dyn_slice	v;
	char		value[100];
	const char *want;

	(void) state;
	pending_value(7, value, sizeof(value));
	assert_int_equal(dyn_objbuf_create(1 << 20, &b), DYN_OK);

	/* a clean entry's bytes as the pending value */
	dyn_objbuf_put(b, str("k"), str(value));
	assert_int_equal(dyn_objbuf_get(b, str("k"), &v), DYN_OBJBUF_HIT);
	assert_int_equal(dyn_objbuf_hold(b, str("k"), &v, 1), DYN_OK);
	assert_pending_value(b, "k", value);

	/* a pending entry's, the same size */
	assert_int_equal(dyn_objbuf_get(b, str("k"), &v), DYN_OBJBUF_HIT);
	assert_int_equal(dyn_objbuf_hold(b, str("k"), &v, 2), DYN_OK);
	assert_pending_value(b, "k", value);

	/* a part of it, shorter (a smaller allocation) */
	assert_int_equal(dyn_objbuf_get(b, str("k"), &v), DYN_OBJBUF_HIT);
	v.ptr += 6;
	v.len -= 40;
	assert_int_equal(dyn_objbuf_hold(b, str("k"), &v, 3), DYN_OK);
	want = value + 6;
	{
		dyn_slice	got;

		assert_int_equal(dyn_objbuf_get(b, str("k"), &got), DYN_OBJBUF_HIT);
		assert_int_equal(got.len, strlen(value) - 40);
		assert_memory_equal(got.ptr, want, got.len);
	}

	/* another key's bytes, while the new key's insert may evict or grow */
	assert_int_equal(dyn_objbuf_get(b, str("k"), &v), DYN_OBJBUF_HIT);
	assert_int_equal(dyn_objbuf_hold(b, str("other"), &v, 4), DYN_OK);
	assert_int_equal(dyn_objbuf_get(b, str("other"), &v), DYN_OBJBUF_HIT);
	assert_int_equal(v.len, strlen(value) - 40);
	assert_memory_equal(v.ptr, want, v.len);
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
		cmocka_unit_test(test_hold_answers),
		cmocka_unit_test(test_pending_never_evicted),
		cmocka_unit_test(test_clean_evicted_among_pending),
		cmocka_unit_test(test_forget_pending),
		cmocka_unit_test(test_hold_toobig),
		cmocka_unit_test(test_hold_value_aliases_old_entry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
