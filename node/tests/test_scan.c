/*
 * test_scan.c
 *		Coverage scan pages (node/src/scan.c) over a real store on the memory
 *		engine: every key of a bucket in a partition comes back exactly once,
 *		in order, across pages of any size, and nothing of other buckets or
 *		partitions does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dynamo/ring.h"
#include "scan.h"

#define Q		8
#define NKEYS	400

/* The store under test and the engine beneath it. */
typedef struct fixture
{
	dyn_engine *engine;
	dyn_store	store;
} fixture;

static int	setup(void **state);
static int	teardown(void **state);
static void write_key(fixture *f, const char *bucket, const char *key);
static int	scan_partition(fixture *f, const char *bucket, uint16_t partition,
						   uint16_t limit, char seen[][16], int max, int *pages);
static void test_pages_cover_the_partition(void **state);
static void test_bad_partition(void **state);
static void test_no_values(void **state);
static void test_buckets(void **state);

/* A store of Q partitions on a fresh memory engine, with keys in two buckets. */
static int
setup(void **state)
{
	fixture    *f = calloc(1, sizeof(*f));
	dyn_engine_config cfg = {.name = "memory"};
	char		err[256];

	if (f == NULL || dyn_engine_open(&cfg, &f->engine, err, sizeof(err)) != DYN_OK ||
		dyn_store_open(&f->store, f->engine, "n1", Q, err, sizeof(err)) != DYN_OK)
		return -1;
	for (int i = 0; i < NKEYS; i++)
	{
		char		key[16];

		snprintf(key, sizeof(key), "k%04d", i);
		write_key(f, "carts", key);
		write_key(f, "cartsx", key);	/* a bucket that extends the name */
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture    *f = *state;

	dyn_store_close(&f->store);
	dyn_engine_close(f->engine);
	free(f);
	return 0;
}

/* A blind write of the key's own name as its value. */
static void
write_key(fixture *f, const char *bucket, const char *key)
{
	dyn_slice	value = dyn_slice_str(key);
	dyn_vclock	written;
	dyn_slice	none = {NULL, 0};

	assert_int_equal(dyn_store_write(&f->store, dyn_slice_str(bucket), dyn_slice_str(key),
									 none, &value, &written), DYN_OK);
}

/*
 * Page through bucket's keys in partition with the given page size, as a
 * reader does (resume after the last key of each page); copy the keys into
 * seen and return how many, checking order, replies and the more flag.
 */
static int
scan_partition(fixture *f, const char *bucket, uint16_t partition, uint16_t limit,
			   char seen[][16], int max, int *pages)
{
	char		after[16] = "";
	int			n = 0;
	bool		more = true;
	dyn_buf		out;

	dyn_buf_init(&out);
	*pages = 0;
	while (more)
	{
		dyn_scan_req req = {partition, dyn_slice_str(bucket), dyn_slice_str(after), limit, 0};
		dyn_frame	frame;
		size_t		used;
		dyn_scan_reply rep;
		dyn_reader	r;

		dyn_buf_reset(&out);
		assert_int_equal(dyn_scan_page(&f->store, 77, &req, &out), DYN_OK);
		assert_int_equal(dyn_frame_parse(out.data, out.len, DYN_FRAME_MAX_BODY, &frame, &used),
						 DYN_OK);
		assert_int_equal(frame.type, DYN_MSG_SCAN_REPLY);
		assert_int_equal(frame.reqid, 77);
		assert_int_equal(dyn_scan_reply_decode(frame.body, &rep), DYN_OK);
		assert_true(rep.count <= limit);
		(*pages)++;
		dyn_reader_init(&r, rep.items);
		for (uint16_t i = 0; i < rep.count; i++)
		{
			dyn_slice	key;
			dyn_slice	obj;
			dyn_object	o;

			assert_int_equal(dyn_scan_next(&r, &key, &obj), DYN_OK);
			assert_true(key.len < 16);
			assert_true(n < max);
			memcpy(seen[n], key.ptr, key.len);
			seen[n][key.len] = '\0';
			assert_true(n == 0 || strcmp(seen[n - 1], seen[n]) < 0);
			dyn_object_init(&o);
			assert_int_equal(dyn_object_decode(obj, &o), DYN_OK);
			assert_int_equal(o.n, 1);
			assert_true(dyn_slice_eq(o.s[0].value, key));
			dyn_object_free(&o);
			memcpy(after, seen[n], sizeof(after));
			n++;
		}
		more = rep.more;
		assert_true(!more || rep.count == limit);
	}
	dyn_buf_free(&out);
	return n;
}

/* Every partition, several page sizes: exactly the keys that hash there. */
static void
test_pages_cover_the_partition(void **state)
{
	fixture    *f = *state;
	static char seen[NKEYS][16];
	const uint16_t limits[] = {1, 7, 1000};
	int			total = 0;

	for (uint16_t p = 0; p < Q; p++)
	{
		int			expect = 0;

		for (int i = 0; i < NKEYS; i++)
		{
			char		key[16];

			snprintf(key, sizeof(key), "k%04d", i);
			if (dyn_partition_of(dyn_key_position(dyn_slice_str("carts"), dyn_slice_str(key)), Q) == p)
				expect++;
		}
		for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++)
		{
			int			pages;
			int			n = scan_partition(f, "carts", p, limits[l], seen, NKEYS, &pages);

			assert_int_equal(n, expect);
			for (int i = 0; i < n; i++)
				assert_int_equal(dyn_partition_of(dyn_key_position(dyn_slice_str("carts"),
																	dyn_slice_str(seen[i])), Q), p);
			if (limits[l] == 1)
				assert_true(pages == n || pages == n + 1);
		}
		total += expect;
	}
	assert_int_equal(total, NKEYS);
}

/* A partition the store does not have is refused, leaving out as it was. */
static void
test_bad_partition(void **state)
{
	fixture    *f = *state;
	dyn_scan_req req = {Q, dyn_slice_str("carts"), {NULL, 0}, 10, 0};
	dyn_buf		out;

	dyn_buf_init(&out);
	dyn_buf_put_u8(&out, 0xaa);
	assert_int_equal(dyn_scan_page(&f->store, 1, &req, &out), DYN_ERR_INVAL);
	assert_int_equal(out.len, 1);
	dyn_buf_free(&out);
}

/*
 * BUCKETS: every bucket once, in byte order, whatever the partitions they
 * are in -- a name that extends another, one of 0xff bytes, a one-key
 * bucket in a single partition.
 */
static void
test_buckets(void **state)
{
	fixture    *f = *state;
	const uint8_t ff[] = {0xff, 0xff, 0xff};
	const char *const want[] = {"a.b c", "carts", "cartsx", "z"};
	dyn_slice	none = {NULL, 0};
	dyn_slice	v = dyn_slice_str("v");
	dyn_vclock	written;
	dyn_buf		out;
	dyn_frame	frame;
	size_t		used;
	uint16_t	count;
	dyn_slice	names;
	dyn_reader	r;
	dyn_slice	name;

	assert_int_equal(dyn_store_write(&f->store, dyn_slice_str("z"), dyn_slice_str("one"),
									 none, &v, &written), DYN_OK);
	assert_int_equal(dyn_store_write(&f->store, dyn_slice_str("a.b c"), dyn_slice_str("k"),
									 none, NULL, &written), DYN_OK);	/* a tombstone */
	assert_int_equal(dyn_store_write(&f->store, (dyn_slice) {ff, sizeof(ff)},
									 dyn_slice_str("k"), none, &v, &written), DYN_OK);
	dyn_buf_init(&out);
	dyn_buf_put_u8(&out, 0xaa);
	assert_int_equal(dyn_scan_buckets(&f->store, 5, &out), DYN_OK);
	assert_int_equal(dyn_frame_parse(out.data + 1, out.len - 1, DYN_FRAME_MAX_BODY, &frame, &used),
					 DYN_OK);
	assert_int_equal(frame.type, DYN_MSG_BUCKETS_REPLY);
	assert_int_equal(frame.reqid, 5);
	assert_int_equal(dyn_buckets_reply_decode(frame.body, &count, &names), DYN_OK);
	assert_int_equal(count, 5);
	dyn_reader_init(&r, names);
	for (size_t i = 0; i < 4; i++)
	{
		assert_int_equal(dyn_buckets_next(&r, &name), DYN_OK);
		assert_true(dyn_slice_eq(name, dyn_slice_str(want[i])));
	}
	assert_int_equal(dyn_buckets_next(&r, &name), DYN_OK);
	assert_true(dyn_slice_eq(name, ((dyn_slice) {ff, sizeof(ff)})));
	dyn_buf_free(&out);
}

/*
 * A page without values is the page with values where every sibling's
 * value is cut: the same keys, the same siblings, clocks and tombstones
 * (byte for byte once the values are emptied), across page sizes.
 */
static void
test_no_values(void **state)
{
	fixture    *f = *state;
	dyn_slice	none = {NULL, 0};
	dyn_slice	v = dyn_slice_str("a value that is not sent");
	dyn_vclock	written;
	dyn_buf		full;
	dyn_buf		bare;
	dyn_buf		expect;
	int			keys = 0;
	int			siblings = 0;
	int			tombstones = 0;

	/* siblings (two blind writes), a tombstone beside a value, plain keys */
	for (int i = 0; i < 40; i++)
	{
		char		key[16];

		snprintf(key, sizeof(key), "s%02d", i);
		assert_int_equal(dyn_store_write(&f->store, dyn_slice_str("sib"), dyn_slice_str(key),
										 none, &v, &written), DYN_OK);
		if (i % 3 == 1)
			assert_int_equal(dyn_store_write(&f->store, dyn_slice_str("sib"),
											 dyn_slice_str(key), none, &v, &written), DYN_OK);
		if (i % 3 == 2)
			assert_int_equal(dyn_store_write(&f->store, dyn_slice_str("sib"),
											 dyn_slice_str(key), none, NULL, &written), DYN_OK);
	}
	dyn_buf_init(&full);
	dyn_buf_init(&bare);
	dyn_buf_init(&expect);
	for (uint16_t p = 0; p < Q; p++)
	{
		for (uint16_t limit = 1; limit <= 64; limit *= 8)
		{
			dyn_scan_req req = {p, dyn_slice_str("sib"), {NULL, 0}, limit, 0};
			dyn_frame	ff, fb;
			size_t		used;
			dyn_scan_reply rf, rb;
			dyn_reader	r1, r2;

			dyn_buf_reset(&full);
			dyn_buf_reset(&bare);
			assert_int_equal(dyn_scan_page(&f->store, 1, &req, &full), DYN_OK);
			req.flags = DYN_SCAN_NO_VALUES;
			assert_int_equal(dyn_scan_page(&f->store, 2, &req, &bare), DYN_OK);
			assert_int_equal(dyn_frame_parse(full.data, full.len, DYN_FRAME_MAX_BODY, &ff, &used), DYN_OK);
			assert_int_equal(dyn_frame_parse(bare.data, bare.len, DYN_FRAME_MAX_BODY, &fb, &used), DYN_OK);
			assert_int_equal(dyn_scan_reply_decode(ff.body, &rf), DYN_OK);
			assert_int_equal(dyn_scan_reply_decode(fb.body, &rb), DYN_OK);
			assert_int_equal(rf.count, rb.count);
			assert_int_equal(rf.more, rb.more);
			dyn_reader_init(&r1, rf.items);
			dyn_reader_init(&r2, rb.items);
			for (uint16_t i = 0; i < rf.count; i++)
			{
				dyn_slice	k1, o1, k2, o2;
				dyn_object	o;

				assert_int_equal(dyn_scan_next(&r1, &k1, &o1), DYN_OK);
				assert_int_equal(dyn_scan_next(&r2, &k2, &o2), DYN_OK);
				assert_true(dyn_slice_eq(k1, k2));
				dyn_object_init(&o);
				assert_int_equal(dyn_object_decode(o1, &o), DYN_OK);
				if (limit == 64)
				{
					keys++;
					siblings += (int) o.n;
					for (size_t s = 0; s < o.n; s++)
						tombstones += o.s[s].tombstone;
				}
				for (size_t s = 0; s < o.n; s++)
					o.s[s].value = none;
				dyn_buf_reset(&expect);
				dyn_object_encode(&o, &expect);
				assert_true(dyn_slice_eq(dyn_buf_slice(&expect), o2));
				assert_true(o2.len < o1.len);
				dyn_object_free(&o);
			}
		}
	}
	/* the writes made what the test means to check */
	assert_int_equal(keys, 40);
	assert_int_equal(tombstones, 13);
	assert_int_equal(siblings, 40 + 13 + 13);
	dyn_buf_free(&full);
	dyn_buf_free(&bare);
	dyn_buf_free(&expect);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pages_cover_the_partition),
		cmocka_unit_test(test_bad_partition),
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_no_values),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
