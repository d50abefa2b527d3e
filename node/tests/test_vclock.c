/*
 * test_vclock.c
 *		Unit tests for vclock.c: ordering, compare, merge, increment,
 *		truncation, the binary encoding and what its decoder refuses, JSON
 *		rendering and contexts as text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dynamo/vclock.h"

/* One entry of a clock written out in a test. */
typedef struct entry_spec
{
	const char *id;
	uint64_t	counter;
	uint64_t	ts_ms;
} entry_spec;

static void make_clock(dyn_vclock *vc, const entry_spec *spec, size_t n);
static dyn_slice bytes_of(const void *p, size_t n);
static uint64_t counter_of(const dyn_vclock *vc, const char *id);
static void check_json(const dyn_vclock *vc, const char *expect);
static int	decode_bytes(const void *p, size_t n, dyn_vclock *vc);

/* Decode the bytes of a string literal, without its NUL. */
#define DECODE_LIT(lit, vc)	decode_bytes((lit), sizeof(lit) - 1, (vc))

#define MAKE_CLOCK(vc, ...) \
	do { \
		static const entry_spec spec_[] = {__VA_ARGS__}; \
		make_clock((vc), spec_, sizeof(spec_) / sizeof(spec_[0])); \
	} while (0)

/* Build vc from spec, in any order (set keeps it sorted). */
static void
make_clock(dyn_vclock *vc, const entry_spec *spec, size_t n)
{
	size_t		i;

	dyn_vclock_init(vc);
	for (i = 0; i < n; i++)
		assert_int_equal(dyn_vclock_set(vc, dyn_slice_str(spec[i].id),
										spec[i].counter, spec[i].ts_ms), DYN_OK);
}

/* A slice over n bytes at p. */
static dyn_slice
bytes_of(const void *p, size_t n)
{
	dyn_slice	s = {p, n};

	return s;
}

/* vc's counter for a NUL-terminated id. */
static uint64_t
counter_of(const dyn_vclock *vc, const char *id)
{
	return dyn_vclock_get(vc, dyn_slice_str(id));
}

/* vc rendered as JSON must be exactly expect. */
static void
check_json(const dyn_vclock *vc, const char *expect)
{
	dyn_buf		b;

	dyn_buf_init(&b);
	dyn_vclock_to_json(vc, &b);
	assert_int_equal(b.err, DYN_OK);
	dyn_buf_put_u8(&b, '\0');
	assert_string_equal((const char *) b.data, expect);
	dyn_buf_free(&b);
}

/* Decode n bytes at p as a whole context. */
static int
decode_bytes(const void *p, size_t n, dyn_vclock *vc)
{
	return dyn_vclock_decode(bytes_of(p, n), vc);
}

/* Entries stay sorted by id; set, get, covers; bad arguments. */
static void
test_set_get_order(void **state)
{
	dyn_vclock	vc;
	char		long_id[DYN_NODE_ID_MAX + 2];

	(void) state;
	MAKE_CLOCK(&vc, {"n3", 3, 30}, {"n1", 1, 10}, {"n10", 10, 100}, {"n", 7, 70},
			   {"n2", 2, 20});
	assert_int_equal(vc.n, 5);
	/* byte order, a prefix first */
	assert_memory_equal(vc.e[0].id, "n", 1);
	assert_memory_equal(vc.e[1].id, "n1", 2);
	assert_memory_equal(vc.e[2].id, "n10", 3);
	assert_memory_equal(vc.e[3].id, "n2", 2);
	assert_memory_equal(vc.e[4].id, "n3", 2);
	assert_true(counter_of(&vc, "n10") == 10);
	assert_true(counter_of(&vc, "n4") == 0);
	assert_true(counter_of(&vc, "n1") == 1);

	/* set replaces in place */
	assert_int_equal(dyn_vclock_set(&vc, dyn_slice_str("n2"), 9, 99), DYN_OK);
	assert_int_equal(vc.n, 5);
	assert_true(vc.e[3].counter == 9);
	assert_true(vc.e[3].ts_ms == 99);

	assert_true(dyn_vclock_covers(&vc, dyn_slice_str("n2"), 9));
	assert_true(dyn_vclock_covers(&vc, dyn_slice_str("n2"), 1));
	assert_false(dyn_vclock_covers(&vc, dyn_slice_str("n2"), 10));
	assert_false(dyn_vclock_covers(&vc, dyn_slice_str("zz"), 1));

	/* bad arguments */
	memset(long_id, 'x', sizeof(long_id));
	long_id[DYN_NODE_ID_MAX + 1] = '\0';
	assert_int_equal(dyn_vclock_set(&vc, dyn_slice_str(""), 1, 1), DYN_ERR_INVAL);
	assert_int_equal(dyn_vclock_set(&vc, dyn_slice_str(long_id), 1, 1), DYN_ERR_INVAL);
	long_id[DYN_NODE_ID_MAX] = '\0';
	assert_int_equal(dyn_vclock_set(&vc, dyn_slice_str(long_id), 1, 1), DYN_OK);
	assert_int_equal(dyn_vclock_set(&vc, dyn_slice_str("n1"), 0, 1), DYN_ERR_INVAL);
	assert_int_equal(vc.n, 6);
}

/* A full clock refuses new ids but still updates its own. */
static void
test_set_full(void **state)
{
	dyn_vclock	vc;
	char		id[8];
	int			i;

	(void) state;
	dyn_vclock_init(&vc);
	for (i = 0; i < DYN_VCLOCK_CAP; i++)
	{
		snprintf(id, sizeof(id), "n%02d", i);
		assert_int_equal(dyn_vclock_set(&vc, dyn_slice_str(id), 1, (uint64_t) i), DYN_OK);
	}
	assert_int_equal(dyn_vclock_set(&vc, dyn_slice_str("zz"), 1, 1), DYN_ERR_TOOBIG);
	assert_int_equal(dyn_vclock_increment(&vc, dyn_slice_str("zz"), 1), DYN_ERR_TOOBIG);
	/* an existing entry can still change */
	assert_int_equal(dyn_vclock_increment(&vc, dyn_slice_str("n05"), 1), DYN_OK);
	assert_true(counter_of(&vc, "n05") == 2);
	assert_int_equal(vc.n, DYN_VCLOCK_CAP);
}

/* Increment adds at 1, counts up, restamps, and stops at the top. */
static void
test_increment(void **state)
{
	dyn_vclock	vc;

	(void) state;
	dyn_vclock_init(&vc);
	assert_int_equal(dyn_vclock_increment(&vc, dyn_slice_str("n1"), 100), DYN_OK);
	assert_true(counter_of(&vc, "n1") == 1);
	assert_int_equal(dyn_vclock_increment(&vc, dyn_slice_str("n1"), 200), DYN_OK);
	assert_int_equal(dyn_vclock_increment(&vc, dyn_slice_str("n2"), 300), DYN_OK);
	assert_true(counter_of(&vc, "n1") == 2);
	assert_true(vc.e[0].ts_ms == 200);
	assert_true(counter_of(&vc, "n2") == 1);
	assert_int_equal(vc.n, 2);

	assert_int_equal(dyn_vclock_set(&vc, dyn_slice_str("n1"), UINT64_MAX, 1), DYN_OK);
	assert_int_equal(dyn_vclock_increment(&vc, dyn_slice_str("n1"), 2), DYN_ERR_TOOBIG);
	assert_int_equal(dyn_vclock_increment(&vc, dyn_slice_str(""), 2), DYN_ERR_INVAL);
}

/* Every outcome of compare, missing entries counting as 0. */
static void
test_compare(void **state)
{
	dyn_vclock	a;
	dyn_vclock	b;

	(void) state;
	dyn_vclock_init(&a);
	dyn_vclock_init(&b);
	assert_int_equal(dyn_vclock_compare(&a, &b), DYN_VC_EQUAL);

	MAKE_CLOCK(&a, {"n1", 1, 1});
	assert_int_equal(dyn_vclock_compare(&a, &b), DYN_VC_AFTER);
	assert_int_equal(dyn_vclock_compare(&b, &a), DYN_VC_BEFORE);

	/* timestamps are not part of the order */
	MAKE_CLOCK(&a, {"n1", 2, 1}, {"n2", 1, 5});
	MAKE_CLOCK(&b, {"n1", 2, 9}, {"n2", 1, 0});
	assert_int_equal(dyn_vclock_compare(&a, &b), DYN_VC_EQUAL);

	MAKE_CLOCK(&a, {"n1", 1, 1});
	MAKE_CLOCK(&b, {"n1", 2, 1});
	assert_int_equal(dyn_vclock_compare(&a, &b), DYN_VC_BEFORE);
	assert_int_equal(dyn_vclock_compare(&b, &a), DYN_VC_AFTER);

	/* a missing entry counts as 0 */
	MAKE_CLOCK(&a, {"n1", 1, 1});
	MAKE_CLOCK(&b, {"n1", 1, 1}, {"n2", 1, 1});
	assert_int_equal(dyn_vclock_compare(&a, &b), DYN_VC_BEFORE);
	assert_int_equal(dyn_vclock_compare(&b, &a), DYN_VC_AFTER);
	MAKE_CLOCK(&a, {"n0", 1, 1}, {"n1", 1, 1});
	MAKE_CLOCK(&b, {"n1", 1, 1}, {"n2", 1, 1});
	assert_int_equal(dyn_vclock_compare(&a, &b), DYN_VC_CONCURRENT);
	assert_int_equal(dyn_vclock_compare(&b, &a), DYN_VC_CONCURRENT);

	MAKE_CLOCK(&a, {"n1", 2, 1}, {"n2", 1, 1});
	MAKE_CLOCK(&b, {"n1", 1, 1}, {"n2", 2, 1});
	assert_int_equal(dyn_vclock_compare(&a, &b), DYN_VC_CONCURRENT);

	/* disjoint ids */
	MAKE_CLOCK(&a, {"a", 1, 1});
	MAKE_CLOCK(&b, {"b", 1, 1});
	assert_int_equal(dyn_vclock_compare(&a, &b), DYN_VC_CONCURRENT);

	/* dominance in some entries, equality in others */
	MAKE_CLOCK(&a, {"n1", 3, 1}, {"n2", 1, 1}, {"n3", 5, 1});
	MAKE_CLOCK(&b, {"n1", 3, 1}, {"n3", 4, 1});
	assert_int_equal(dyn_vclock_compare(&a, &b), DYN_VC_AFTER);
	assert_int_equal(dyn_vclock_compare(&b, &a), DYN_VC_BEFORE);
	assert_int_equal(dyn_vclock_compare(&a, &a), DYN_VC_EQUAL);
}

/* Pointwise maximum, the winning timestamp, sorted and idempotent. */
static void
test_merge(void **state)
{
	dyn_vclock	a;
	dyn_vclock	b;

	(void) state;
	MAKE_CLOCK(&a, {"n1", 3, 30}, {"n3", 1, 10}, {"n5", 2, 50});
	MAKE_CLOCK(&b, {"n0", 4, 40}, {"n1", 5, 15}, {"n3", 1, 11}, {"n4", 1, 1},
			   {"n5", 1, 99});
	assert_int_equal(dyn_vclock_merge(&a, &b), DYN_OK);
	assert_int_equal(a.n, 5);
	assert_true(counter_of(&a, "n0") == 4);
	assert_true(counter_of(&a, "n1") == 5);
	assert_true(counter_of(&a, "n3") == 1);
	assert_true(counter_of(&a, "n4") == 1);
	assert_true(counter_of(&a, "n5") == 2);
	/* the winner's timestamp; the later one on a tie */
	assert_true(a.e[1].ts_ms == 15);	/* n1 from b */
	assert_true(a.e[2].ts_ms == 11);	/* n3 tie */
	assert_true(a.e[4].ts_ms == 50);	/* n5 from a */
	assert_int_equal(dyn_vclock_compare(&a, &b), DYN_VC_AFTER);

	/* the merge dominates both sides and is idempotent */
	b = a;
	assert_int_equal(dyn_vclock_merge(&a, &b), DYN_OK);
	assert_int_equal(dyn_vclock_compare(&a, &b), DYN_VC_EQUAL);
	assert_int_equal(dyn_vclock_merge(&a, &a), DYN_OK);
	assert_int_equal(a.n, 5);

	/* into an empty clock, and from one */
	dyn_vclock_init(&a);
	assert_int_equal(dyn_vclock_merge(&a, &b), DYN_OK);
	assert_int_equal(dyn_vclock_compare(&a, &b), DYN_VC_EQUAL);
	dyn_vclock_init(&b);
	assert_int_equal(dyn_vclock_merge(&a, &b), DYN_OK);
	assert_int_equal(a.n, 5);

	/* interleaved ids, the result stays sorted */
	MAKE_CLOCK(&a, {"b", 1, 1}, {"d", 1, 1}, {"f", 1, 1});
	MAKE_CLOCK(&b, {"a", 1, 1}, {"c", 1, 1}, {"e", 1, 1}, {"g", 1, 1});
	assert_int_equal(dyn_vclock_merge(&a, &b), DYN_OK);
	assert_int_equal(a.n, 7);
	check_json(&a, "{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1}");
}

/* A union past DYN_VCLOCK_CAP drops its oldest entries. */
static void
test_merge_overflow(void **state)
{
	dyn_vclock	a;
	dyn_vclock	b;
	char		id[8];
	int			i;

	(void) state;
	dyn_vclock_init(&a);
	dyn_vclock_init(&b);
	/* a: even ids with old timestamps; b: odd ids, newer; union 40 > 32 */
	for (i = 0; i < 40; i++)
	{
		snprintf(id, sizeof(id), "n%02d", i);
		assert_int_equal(dyn_vclock_set(i % 2 ? &b : &a, dyn_slice_str(id), 1,
										1000 + (uint64_t) i), DYN_OK);
	}
	assert_int_equal(dyn_vclock_merge(&a, &b), DYN_OK);
	assert_int_equal(a.n, DYN_VCLOCK_CAP);
	/* the 8 oldest (n00..n07) went */
	assert_true(counter_of(&a, "n07") == 0);
	assert_true(counter_of(&a, "n08") == 1);
	assert_true(counter_of(&a, "n39") == 1);
	for (i = 1; i < a.n; i++)
		assert_true(dyn_slice_cmp(bytes_of(a.e[i - 1].id, a.e[i - 1].idlen),
								  bytes_of(a.e[i].id, a.e[i].idlen)) < 0);
}

/* 11 entries to 10 drops the oldest; the kept id is never dropped. */
static void
test_truncate(void **state)
{
	dyn_vclock	vc;
	char		id[8];
	int			i;

	(void) state;
	dyn_vclock_init(&vc);
	/* 11 entries, n00 the oldest */
	for (i = 0; i < 11; i++)
	{
		snprintf(id, sizeof(id), "n%02d", i);
		assert_int_equal(dyn_vclock_set(&vc, dyn_slice_str(id), 1, 100 + (uint64_t) i),
						 DYN_OK);
	}
	dyn_vclock_truncate(&vc, 10, dyn_slice_str("n05"));
	assert_int_equal(vc.n, 10);
	assert_true(counter_of(&vc, "n00") == 0);
	assert_true(counter_of(&vc, "n01") == 1);

	/* the oldest entry is the one to keep: the next oldest goes instead */
	dyn_vclock_truncate(&vc, 9, dyn_slice_str("n01"));
	assert_int_equal(vc.n, 9);
	assert_true(counter_of(&vc, "n01") == 1);
	assert_true(counter_of(&vc, "n02") == 0);

	/* never below the kept entry, whatever max says */
	dyn_vclock_truncate(&vc, 0, dyn_slice_str("n01"));
	assert_int_equal(vc.n, 1);
	assert_true(counter_of(&vc, "n01") == 1);

	/* equal timestamps: the smallest id goes first */
	MAKE_CLOCK(&vc, {"c", 1, 5}, {"a", 1, 5}, {"b", 1, 5});
	dyn_vclock_truncate(&vc, 2, dyn_slice_str("zz"));
	check_json(&vc, "{\"b\":1,\"c\":1}");
	dyn_vclock_truncate(&vc, 5, dyn_slice_str("zz"));	/* already short enough */
	assert_int_equal(vc.n, 2);
}

/* The exact encoding, and round trips at the extremes. */
static void
test_encode_decode(void **state)
{
	dyn_vclock	a;
	dyn_vclock	b;
	dyn_buf		buf;
	static const uint8_t expect[] = {
		2,
		2, 'n', '1', 3, 0xac, 0x02,
		2, 'n', '2', 0x80, 0x01, 0,
	};

	(void) state;
	dyn_buf_init(&buf);
	MAKE_CLOCK(&a, {"n2", 128, 0}, {"n1", 3, 300});
	dyn_vclock_encode(&a, &buf);
	assert_int_equal(buf.err, DYN_OK);
	assert_int_equal(buf.len, sizeof(expect));
	assert_memory_equal(buf.data, expect, sizeof(expect));
	assert_int_equal(dyn_vclock_decode(dyn_buf_slice(&buf), &b), DYN_OK);
	assert_int_equal(b.n, 2);
	assert_int_equal(dyn_vclock_compare(&a, &b), DYN_VC_EQUAL);
	assert_true(b.e[0].ts_ms == 300);

	/* large values and the longest ids survive */
	dyn_buf_reset(&buf);
	MAKE_CLOCK(&a, {"0123456789abcdef0123456789abcdef", UINT64_MAX, UINT64_MAX},
			   {"x", 1, 1700000000000ULL});
	dyn_vclock_encode(&a, &buf);
	assert_int_equal(dyn_vclock_decode(dyn_buf_slice(&buf), &b), DYN_OK);
	assert_memory_equal(&a.e[0], &b.e[0], offsetof(dyn_vclock_entry, id) + 32);
	assert_true(b.e[0].counter == UINT64_MAX);
	assert_true(b.e[1].ts_ms == 1700000000000ULL);

	/* the empty clock: one byte, and also the empty slice */
	dyn_buf_reset(&buf);
	dyn_vclock_init(&a);
	dyn_vclock_encode(&a, &buf);
	assert_int_equal(buf.len, 1);
	MAKE_CLOCK(&b, {"n1", 1, 1});
	assert_int_equal(dyn_vclock_decode(dyn_buf_slice(&buf), &b), DYN_OK);
	assert_int_equal(b.n, 0);
	MAKE_CLOCK(&b, {"n1", 1, 1});
	assert_int_equal(decode_bytes(NULL, 0, &b), DYN_OK);
	assert_int_equal(b.n, 0);

	/* read() leaves the rest for the caller */
	{
		dyn_reader	r;

		dyn_buf_reset(&buf);
		MAKE_CLOCK(&a, {"n1", 1, 1});
		dyn_vclock_encode(&a, &buf);
		dyn_buf_put_u8(&buf, 0xee);
		dyn_reader_init(&r, dyn_buf_slice(&buf));
		assert_int_equal(dyn_vclock_read(&r, &b), DYN_OK);
		assert_int_equal(dyn_rd_u8(&r), 0xee);
		assert_int_equal(dyn_reader_finish(&r), DYN_OK);
	}
	dyn_buf_free(&buf);
}

/* Everything the decoder must refuse, and every truncation. */
static void
test_decode_malformed(void **state)
{
	dyn_vclock	vc;
	dyn_vclock	good;
	dyn_buf		buf;
	size_t		cut;
	uint8_t		many[1 + 33 * 5];
	int			i;

	(void) state;
	/* count over DYN_VCLOCK_CAP, with all 33 entries present and valid */
	many[0] = 33;
	for (i = 0; i < 33; i++)
	{
		uint8_t    *e = many + 1 + 5 * i;

		e[0] = 2;
		e[1] = (uint8_t) ('a' + i / 26);
		e[2] = (uint8_t) ('a' + i % 26);
		e[3] = 1;
		e[4] = 1;
	}
	assert_int_equal(decode_bytes(many, sizeof(many), &vc), DYN_ERR_PROTO);
	many[0] = 32;
	assert_int_equal(decode_bytes(many, sizeof(many) - 5, &vc), DYN_OK);
	assert_int_equal(vc.n, 32);

	/* idlen 0 */
	assert_int_equal(DECODE_LIT("\x01\x00\x01\x01", &vc), DYN_ERR_PROTO);
	/* idlen over DYN_NODE_ID_MAX */
	{
		uint8_t		longid[3 + 33 + 2];

		memset(longid, 'x', sizeof(longid));
		longid[0] = 1;
		longid[1] = 33;
		longid[2 + 33] = 1;
		longid[3 + 33] = 1;
		assert_int_equal(decode_bytes(longid, sizeof(longid) - 1, &vc), DYN_ERR_PROTO);
	}
	/* ids out of order, and repeated */
	assert_int_equal(DECODE_LIT("\x02\x02n2\x01\x01\x02n1\x01\x01", &vc),
					 DYN_ERR_PROTO);
	assert_int_equal(DECODE_LIT("\x02\x02n1\x01\x01\x02n1\x02\x01", &vc),
					 DYN_ERR_PROTO);
	assert_int_equal(DECODE_LIT("\x02\x02n1\x01\x01\x02n2\x01\x01", &vc), DYN_OK);
	/* a prefix sorts first */
	assert_int_equal(DECODE_LIT("\x02\x02n1\x01\x01\x01n\x01\x01", &vc),
					 DYN_ERR_PROTO);
	/* counter 0 */
	assert_int_equal(DECODE_LIT("\x01\x02n1\x00\x01", &vc), DYN_ERR_PROTO);
	/* an overlong varint (11 bytes) and a padded one */
	assert_int_equal(DECODE_LIT("\x01\x02n1\x81\x80\x80\x80\x80\x80\x80\x80"
								"\x80\x80\x00\x01", &vc), DYN_ERR_PROTO);
	assert_int_equal(DECODE_LIT("\x01\x02n1\x81\x00\x01", &vc), DYN_ERR_PROTO);
	/* trailing bytes */
	assert_int_equal(DECODE_LIT("\x01\x02n1\x01\x01\x00", &vc), DYN_ERR_PROTO);
	assert_int_equal(DECODE_LIT("\x00\x00", &vc), DYN_ERR_PROTO);

	/* every proper prefix of a valid clock, except the empty one */
	dyn_buf_init(&buf);
	MAKE_CLOCK(&good, {"n1", 300, 1700000000000ULL}, {"n2", 1, 5});
	dyn_vclock_encode(&good, &buf);
	for (cut = 1; cut < buf.len; cut++)
	{
		MAKE_CLOCK(&vc, {"zz", 1, 1});
		assert_int_equal(decode_bytes(buf.data, cut, &vc), DYN_ERR_PROTO);
		assert_int_equal(vc.n, 0);	/* a failed decode leaves no half clock */
	}
	dyn_buf_free(&buf);
}

/* The JSON rendering, exactly. */
static void
test_json(void **state)
{
	dyn_vclock	vc;

	(void) state;
	MAKE_CLOCK(&vc, {"n2", 1, 5}, {"n1", 3, 9});
	check_json(&vc, "{\"n1\":3,\"n2\":1}");
	dyn_vclock_init(&vc);
	check_json(&vc, "{}");
	MAKE_CLOCK(&vc, {"a\"b", 18446744073709551615ULL, 1});
	check_json(&vc, "{\"a\\\"b\":18446744073709551615}");
}

/* Contexts as text: round trip, the empty clock, bad input. */
static void
test_context_text(void **state)
{
	dyn_vclock	vc;
	dyn_vclock	back;
	dyn_buf		bin;
	dyn_buf		text;
	dyn_buf		again;
	size_t		i;

	(void) state;
	dyn_buf_init(&bin);
	dyn_buf_init(&text);
	dyn_buf_init(&again);

	MAKE_CLOCK(&vc, {"n1", 3, 1700000000000ULL}, {"n2", 1, 1700000000123ULL});
	dyn_vclock_encode(&vc, &bin);
	dyn_context_to_text(dyn_buf_slice(&bin), &text);
	assert_int_equal(text.err, DYN_OK);
	assert_int_equal(strlen((const char *) text.data), text.len);
	for (i = 0; i < text.len; i++)
	{
		char		c = (char) text.data[i];

		/* URL-safe alphabet, no padding */
		assert_true((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
					(c >= '0' && c <= '9') || c == '-' || c == '_');
	}
	assert_int_equal(dyn_context_from_text((const char *) text.data, &again), DYN_OK);
	assert_int_equal(again.len, bin.len);
	assert_memory_equal(again.data, bin.data, bin.len);
	assert_int_equal(dyn_vclock_decode(dyn_buf_slice(&again), &back), DYN_OK);
	assert_int_equal(dyn_vclock_compare(&vc, &back), DYN_VC_EQUAL);

	/* the empty clock is the empty string, both ways */
	dyn_buf_reset(&bin);
	dyn_buf_reset(&text);
	dyn_buf_reset(&again);
	dyn_vclock_init(&vc);
	dyn_vclock_encode(&vc, &bin);
	dyn_context_to_text(dyn_buf_slice(&bin), &text);
	assert_int_equal(text.len, 0);
	assert_string_equal((const char *) text.data, "");
	dyn_context_to_text(bytes_of(NULL, 0), &text);
	assert_int_equal(text.len, 0);
	assert_int_equal(dyn_context_from_text("", &again), DYN_OK);
	assert_int_equal(again.len, 0);
	assert_int_equal(dyn_vclock_decode(dyn_buf_slice(&again), &back), DYN_OK);
	assert_int_equal(back.n, 0);

	/* not base64, padded, the standard alphabet, or not a clock */
	assert_int_equal(dyn_context_from_text("AQJuMQMB!", &again), DYN_ERR_PROTO);
	assert_int_equal(dyn_context_from_text("AQJuMQMB==", &again), DYN_ERR_PROTO);
	assert_int_equal(dyn_context_from_text("+/+/", &again), DYN_ERR_PROTO);
	/* base64 of a clock with counter 0 */
	assert_int_equal(dyn_context_from_text("AQJuMQAB", &again), DYN_ERR_PROTO);
	assert_int_equal(dyn_context_from_text("AQJuMQEB", &again), DYN_OK);
	assert_int_equal(again.len, 6);
	assert_int_equal(dyn_vclock_decode(dyn_buf_slice(&again), &back), DYN_OK);
	check_json(&back, "{\"n1\":1}");

	dyn_buf_free(&bin);
	dyn_buf_free(&text);
	dyn_buf_free(&again);
}

/*
 * Issue 16: libsodium 1.0.18 decodes every byte from 0x80 up as '_', so a
 * context text with such a byte where its '_' was decoded to the same
 * context.  Only the canonical spelling may pass.
 */
static void
test_context_text_canonical(void **state)
{
	dyn_vclock	vc;
	dyn_buf		bin;
	dyn_buf		text;
	dyn_buf		again;
	char		bent[256];
	char	   *under;
	unsigned	c;

	(void) state;
	dyn_buf_init(&bin);
	dyn_buf_init(&text);
	dyn_buf_init(&again);
	/* all-ones timestamps make '_' (63) digits */
	MAKE_CLOCK(&vc, {"n1", 3, 0xFFFFFFFFFFFFFFULL}, {"n2", 1, 0x3FFFFFFFFFFFULL});
	dyn_vclock_encode(&vc, &bin);
	dyn_context_to_text(dyn_buf_slice(&bin), &text);
	assert_int_equal(text.err, DYN_OK);
	assert_true(text.len < sizeof(bent));
	memcpy(bent, text.data, text.len + 1);
	under = strchr(bent, '_');
	assert_non_null(under);
	assert_int_equal(dyn_context_from_text(bent, &again), DYN_OK);
	assert_int_equal(again.len, bin.len);
	for (c = 0x80; c <= 0xFF; c++)
	{
		*under = (char) c;
		assert_int_equal(dyn_context_from_text(bent, &again), DYN_ERR_PROTO);
	}
	/* "AA" is the one-byte empty clock, whose only spelling is "" */
	assert_int_equal(dyn_context_from_text("AA", &again), DYN_ERR_PROTO);
	/* nothing was appended by the refusals */
	assert_int_equal(again.len, bin.len);

	dyn_buf_free(&bin);
	dyn_buf_free(&text);
	dyn_buf_free(&again);
}

/* Run every test of this file. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_get_order),
		cmocka_unit_test(test_set_full),
		cmocka_unit_test(test_increment),
		cmocka_unit_test(test_compare),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_merge_overflow),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_encode_decode),
		cmocka_unit_test(test_decode_malformed),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_context_text),
		cmocka_unit_test(test_context_text_canonical),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
