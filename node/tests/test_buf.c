/*
 * test_buf.c
 *		Unit tests for common.c and buf.c: slices, status strings, the
 *		sticky-error buffer, varints, JSON strings and the bounds-checked
 *		reader that every decoder is built on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dynamo/buf.h"

static dyn_slice bytes_of(const void *p, size_t n);
static void varint_round_trip(uint64_t v, size_t expect_len);
static int	read_varint_bytes(const uint8_t *p, size_t n, uint64_t *v);

/* A slice over n bytes at p (test data is often not a C string). */
static dyn_slice
bytes_of(const void *p, size_t n)
{
	dyn_slice	s = {p, n};

	return s;
}

/* Slice equality and the byte order ids and keys sort by. */
static void
test_slices(void **state)
{
	dyn_slice	empty = {NULL, 0};

	(void) state;
	assert_int_equal(dyn_slice_str("abc").len, 3);
	assert_true(dyn_slice_eq(dyn_slice_str("abc"), bytes_of("abcd", 3)));
	assert_false(dyn_slice_eq(dyn_slice_str("abc"), dyn_slice_str("abd")));
	assert_false(dyn_slice_eq(dyn_slice_str("ab"), dyn_slice_str("abc")));
	assert_true(dyn_slice_eq(empty, dyn_slice_str("")));

	assert_true(dyn_slice_cmp(dyn_slice_str("a"), dyn_slice_str("b")) < 0);
	assert_true(dyn_slice_cmp(dyn_slice_str("n"), dyn_slice_str("n1")) < 0);
	assert_true(dyn_slice_cmp(dyn_slice_str("n10"), dyn_slice_str("n2")) < 0);
	assert_true(dyn_slice_cmp(dyn_slice_str("n2"), dyn_slice_str("n10")) > 0);
	assert_int_equal(dyn_slice_cmp(dyn_slice_str("xy"), dyn_slice_str("xy")), 0);
	assert_int_equal(dyn_slice_cmp(empty, dyn_slice_str("")), 0);
	assert_true(dyn_slice_cmp(empty, dyn_slice_str("a")) < 0);
	/* bytes compare unsigned */
	assert_true(dyn_slice_cmp(bytes_of("\x7f", 1), bytes_of("\x80", 1)) < 0);
}

/* Every status has its own text; unknown ones a generic one. */
static void
test_strerror(void **state)
{
	int			st;

	(void) state;
	assert_string_equal(dyn_strerror(DYN_OK), "success");
	assert_string_equal(dyn_strerror(DYN_ERR_PROTO), "malformed message");
	for (st = DYN_ERR_REMOTE; st <= DYN_OK; st++)
	{
		assert_non_null(dyn_strerror(st));
		assert_string_not_equal(dyn_strerror(st), "unknown error");
	}
	assert_string_equal(dyn_strerror(42), "unknown error");
	assert_string_equal(dyn_strerror(-1000), "unknown error");
}

/* Big-endian integers, and patching a length in place. */
static void
test_buf_integers(void **state)
{
	dyn_buf		b;
	static const uint8_t expect[] = {
		0xab,
		0x12, 0x34,
		0xde, 0xad, 0xbe, 0xef,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	};

	(void) state;
	dyn_buf_init(&b);
	dyn_buf_put_u8(&b, 0xab);
	dyn_buf_put_u16(&b, 0x1234);
	dyn_buf_put_u32(&b, 0xdeadbeef);
	dyn_buf_put_u64(&b, 0x0102030405060708ULL);
	assert_int_equal(b.err, DYN_OK);
	assert_int_equal(b.len, sizeof(expect));
	assert_memory_equal(b.data, expect, sizeof(expect));

	dyn_buf_patch_u32(&b, 3, 0x0a0b0c0d);
	assert_memory_equal(b.data + 3, "\x0a\x0b\x0c\x0d", 4);
	assert_int_equal(b.err, DYN_OK);

	/* patching past the end fails the buffer rather than writing */
	dyn_buf_patch_u32(&b, b.len - 3, 1);
	assert_int_equal(b.err, DYN_ERR_INVAL);
	dyn_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

/* Growth by doubling, reset keeping the allocation, consume. */
static void
test_buf_growth_reset_consume(void **state)
{
	dyn_buf		b;
	uint8_t		chunk[100];
	uint8_t    *before;
	size_t		i;

	(void) state;
	for (i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t) i;

	dyn_buf_init(&b);
	dyn_buf_append(&b, NULL, 0);	/* nothing to do, nothing allocated */
	assert_null(b.data);
	for (i = 0; i < 1000; i++)
		dyn_buf_append(&b, chunk, sizeof(chunk));
	assert_int_equal(b.err, DYN_OK);
	assert_int_equal(b.len, 100000);
	assert_true(b.cap >= b.len);
	assert_memory_equal(b.data + 99900, chunk, sizeof(chunk));

	assert_int_equal(dyn_buf_reserve(&b, 10), DYN_OK);
	before = b.data;
	dyn_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_ptr_equal(b.data, before);

	dyn_buf_append(&b, chunk, 10);
	dyn_buf_consume(&b, 4);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, chunk + 4, 6);
	dyn_buf_consume(&b, 6);
	assert_int_equal(b.len, 0);

	/* a reservation that cannot be represented fails and sticks */
	dyn_buf_append(&b, chunk, 1);
	assert_int_equal(dyn_buf_reserve(&b, SIZE_MAX), DYN_ERR_NOMEM);
	assert_int_equal(b.err, DYN_ERR_NOMEM);
	dyn_buf_free(&b);
}

/* After a failure every append is a no-op until reset. */
static void
test_buf_sticky_error(void **state)
{
	dyn_buf		b;

	(void) state;
	dyn_buf_init(&b);
	dyn_buf_put_u8(&b, 1);
	b.err = DYN_ERR_NOMEM;		/* as after a failed grow */
	dyn_buf_put_u32(&b, 7);
	dyn_buf_append(&b, "xyz", 3);
	dyn_buf_put_varint(&b, 300);
	dyn_buf_printf(&b, "%d", 5);
	dyn_buf_put_json_string(&b, dyn_slice_str("q"));
	dyn_buf_put_blob16(&b, dyn_slice_str("q"));
	assert_int_equal(b.len, 1);
	assert_int_equal(dyn_buf_reserve(&b, 1), DYN_ERR_NOMEM);

	dyn_buf_reset(&b);
	assert_int_equal(b.err, DYN_OK);
	dyn_buf_put_u8(&b, 2);
	assert_int_equal(b.len, 1);
	dyn_buf_free(&b);
}

/* Encode v, check its length, decode it back. */
static void
varint_round_trip(uint64_t v, size_t expect_len)
{
	dyn_buf		b;
	dyn_reader	r;

	dyn_buf_init(&b);
	dyn_buf_put_varint(&b, v);
	assert_int_equal(b.err, DYN_OK);
	assert_int_equal(b.len, expect_len);
	dyn_reader_init(&r, dyn_buf_slice(&b));
	assert_true(dyn_rd_varint(&r) == v);
	assert_int_equal(dyn_reader_finish(&r), DYN_OK);
	dyn_buf_free(&b);
}

/* Read one varint from exactly p[0..n); the reader's verdict. */
static int
read_varint_bytes(const uint8_t *p, size_t n, uint64_t *v)
{
	dyn_reader	r;

	dyn_reader_init(&r, bytes_of(p, n));
	*v = dyn_rd_varint(&r);
	return dyn_reader_finish(&r);
}

/* LEB128 lengths and round trips, and the non-canonical forms refused. */
static void
test_varint(void **state)
{
	uint64_t	v;
	static const uint8_t max[] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
	};
	static const uint8_t overflow[] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02
	};
	static const uint8_t eleven[] = {
		0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00
	};
	static const uint8_t padded[] = {0x81, 0x00};
	static const uint8_t unfinished[] = {0x81, 0x81};

	(void) state;
	varint_round_trip(0, 1);
	varint_round_trip(1, 1);
	varint_round_trip(127, 1);
	varint_round_trip(128, 2);
	varint_round_trip(300, 2);
	varint_round_trip(16383, 2);
	varint_round_trip(16384, 3);
	varint_round_trip(UINT32_MAX, 5);
	varint_round_trip(1700000000000ULL, 6);	/* a timestamp in ms */
	varint_round_trip(UINT64_MAX, 10);

	assert_int_equal(read_varint_bytes((const uint8_t *) "\xac\x02", 2, &v), DYN_OK);
	assert_true(v == 300);
	assert_int_equal(read_varint_bytes(max, sizeof(max), &v), DYN_OK);
	assert_true(v == UINT64_MAX);

	assert_int_equal(read_varint_bytes(overflow, sizeof(overflow), &v), DYN_ERR_PROTO);
	assert_true(v == 0);
	assert_int_equal(read_varint_bytes(eleven, sizeof(eleven), &v), DYN_ERR_PROTO);
	assert_int_equal(read_varint_bytes(padded, sizeof(padded), &v), DYN_ERR_PROTO);
	assert_int_equal(read_varint_bytes(unfinished, sizeof(unfinished), &v), DYN_ERR_PROTO);
	assert_int_equal(read_varint_bytes(NULL, 0, &v), DYN_ERR_PROTO);
	/* a lone zero byte is the canonical zero */
	assert_int_equal(read_varint_bytes((const uint8_t *) "\0", 1, &v), DYN_OK);
	assert_true(v == 0);
}

/* Length-prefixed blobs both ways; one too long for its prefix. */
static void
test_blobs(void **state)
{
	dyn_buf		b;
	dyn_reader	r;
	dyn_slice	s;
	static uint8_t big[70000];

	(void) state;
	dyn_buf_init(&b);
	dyn_buf_put_blob16(&b, dyn_slice_str("hello"));
	dyn_buf_put_blob32(&b, dyn_slice_str(""));
	dyn_buf_put_blob32(&b, dyn_slice_str("world!"));
	assert_int_equal(b.len, 2 + 5 + 4 + 4 + 6);

	dyn_reader_init(&r, dyn_buf_slice(&b));
	s = dyn_rd_blob16(&r);
	assert_true(dyn_slice_eq(s, dyn_slice_str("hello")));
	s = dyn_rd_blob32(&r);
	assert_int_equal(s.len, 0);
	s = dyn_rd_blob32(&r);
	assert_true(dyn_slice_eq(s, dyn_slice_str("world!")));
	assert_int_equal(dyn_reader_finish(&r), DYN_OK);

	/* a blob16 that does not fit its prefix fails the buffer, writes nothing */
	dyn_buf_reset(&b);
	dyn_buf_put_blob16(&b, bytes_of(big, sizeof(big)));
	assert_int_equal(b.err, DYN_ERR_TOOBIG);
	assert_int_equal(b.len, 0);
	dyn_buf_free(&b);
}

/* printf appends, in the spare room or after growing, NUL-terminated. */
static void
test_printf(void **state)
{
	dyn_buf		b;
	char		expect[2000];

	(void) state;
	dyn_buf_init(&b);
	dyn_buf_printf(&b, "%s=%d", "x", 42);
	assert_int_equal(b.len, 4);
	assert_string_equal((const char *) b.data, "x=42");

	/* longer than the spare room: formatted again after growing */
	memset(expect, 'y', sizeof(expect) - 1);
	expect[sizeof(expect) - 1] = '\0';
	dyn_buf_printf(&b, "%s", expect);
	assert_int_equal(b.err, DYN_OK);
	assert_int_equal(b.len, 4 + sizeof(expect) - 1);
	assert_string_equal((const char *) b.data + 4, expect);

	dyn_buf_printf(&b, "%s", "");
	assert_int_equal(b.len, 4 + sizeof(expect) - 1);
	dyn_buf_free(&b);
}

/* JSON escaping: quote, backslash, C0 controls; high bytes as-is. */
static void
test_json_string(void **state)
{
	dyn_buf		b;
	static const char in[] = "a\"b\\c\n\x01\x1f \x7f\xc3\xa9z";
	static const char out[] = "\"a\\\"b\\\\c\\u000a\\u0001\\u001f \x7f\xc3\xa9z\"";

	(void) state;
	dyn_buf_init(&b);
	dyn_buf_put_json_string(&b, bytes_of(in, sizeof(in) - 1));
	assert_int_equal(b.err, DYN_OK);
	assert_int_equal(b.len, sizeof(out) - 1);
	assert_memory_equal(b.data, out, sizeof(out) - 1);

	dyn_buf_reset(&b);
	dyn_buf_put_json_string(&b, bytes_of(NULL, 0));
	assert_int_equal(b.len, 2);
	assert_memory_equal(b.data, "\"\"", 2);

	dyn_buf_reset(&b);
	dyn_buf_put_json_string(&b, bytes_of("\0", 1));
	assert_int_equal(b.len, 8);
	assert_memory_equal(b.data, "\"\\u0000\"", 8);

	dyn_buf_reset(&b);
	dyn_buf_put_json_string(&b, dyn_slice_str("plain"));
	assert_memory_equal(b.data, "\"plain\"", 7);
	dyn_buf_free(&b);
}

/* The reader: exact reads, overruns that stick, trailing bytes. */
static void
test_reader(void **state)
{
	static const uint8_t data[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
	dyn_reader	r;
	dyn_slice	s;

	(void) state;
	dyn_reader_init(&r, bytes_of(data, sizeof(data)));
	assert_int_equal(dyn_rd_u8(&r), 0x01);
	assert_int_equal(dyn_rd_u16(&r), 0x0203);
	assert_int_equal(dyn_rd_left(&r), 4);
	s = dyn_rd_bytes(&r, 0);
	assert_int_equal(s.len, 0);
	assert_int_equal(r.err, DYN_OK);
	assert_int_equal(dyn_reader_finish(&r), DYN_ERR_PROTO);	/* bytes left */
	assert_int_equal(dyn_rd_u32(&r), 0x04050607);
	assert_int_equal(dyn_reader_finish(&r), DYN_OK);

	/* overrun: zero, sticky, and nothing read afterwards */
	assert_int_equal(dyn_rd_u8(&r), 0);
	assert_int_equal(r.err, DYN_ERR_PROTO);
	assert_int_equal(dyn_reader_finish(&r), DYN_ERR_PROTO);

	dyn_reader_init(&r, bytes_of(data, sizeof(data)));
	assert_true(dyn_rd_u64(&r) == 0);	/* 7 bytes: too short */
	assert_int_equal(r.err, DYN_ERR_PROTO);
	s = dyn_rd_bytes(&r, 0);
	assert_null(s.ptr);
	assert_int_equal(dyn_rd_u8(&r), 0);

	dyn_reader_init(&r, bytes_of(data, sizeof(data)));
	s = dyn_rd_bytes(&r, 8);
	assert_null(s.ptr);
	assert_int_equal(s.len, 0);
	assert_int_equal(r.err, DYN_ERR_PROTO);

	/* a blob whose length runs past the end */
	dyn_reader_init(&r, bytes_of("\x00\x05" "abc", 5));
	s = dyn_rd_blob16(&r);
	assert_int_equal(s.len, 0);
	assert_int_equal(dyn_reader_finish(&r), DYN_ERR_PROTO);

	/* an empty reader over a NULL slice */
	dyn_reader_init(&r, bytes_of(NULL, 0));
	assert_int_equal(dyn_rd_left(&r), 0);
	assert_int_equal(dyn_reader_finish(&r), DYN_OK);
	assert_int_equal(dyn_rd_u16(&r), 0);
	assert_int_equal(dyn_reader_finish(&r), DYN_ERR_PROTO);

	dyn_reader_init(&r, bytes_of("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
	assert_true(dyn_rd_u64(&r) == 0x0102030405060708ULL);
	assert_int_equal(dyn_reader_finish(&r), DYN_OK);
}

/* Run every test of this file. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slices),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_buf_integers),
		cmocka_unit_test(test_buf_growth_reset_consume),
		cmocka_unit_test(test_buf_sticky_error),
		cmocka_unit_test(test_varint),
		cmocka_unit_test(test_blobs),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_json_string),
		cmocka_unit_test(test_reader),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
