/*
 * test_store.c
 *		The replica store's cluster operations (store.c): the sibling set a
 *		coordinator's write leaves and ships, replica merges (new keys,
 *		idempotent re-delivery, concurrent versions meeting, malformed input
 *		refused with nothing changed), merges into other namespaces (hints),
 *		and the engine-key helpers.  Two stores on memory engines play two
 *		replicas.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dynamo/ring.h"
#include "store.h"

/* Two replicas: a store on its own memory engine each. */
typedef struct fixture
{
	dyn_engine *engine[2];
	dyn_store	store[2];
} fixture;

static int	setup(void **state);
static int	teardown(void **state);
static void get_copy(dyn_store *st, const char *key, dyn_buf *out);
static void test_write_then_ship(void **state);
static void test_concurrent_writes_meet(void **state);
static void test_merge_refuses_garbage(void **state);
static void test_merge_other_namespace(void **state);
static void test_keys(void **state);

/* Stores "n1" and "n2", 16 partitions each. */
static int
setup(void **state)
{
	fixture    *f = calloc(1, sizeof(*f));
	dyn_engine_config cfg = {.name = "memory"};
	char		err[256];

	if (f == NULL)
		return -1;
	for (int i = 0; i < 2; i++)
		if (dyn_engine_open(&cfg, &f->engine[i], err, sizeof(err)) != DYN_OK ||
			dyn_store_open(&f->store[i], f->engine[i], i == 0 ? "n1" : "n2", 16,
						   err, sizeof(err)) != DYN_OK)
			return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture    *f = *state;

	for (int i = 0; i < 2; i++)
	{
		dyn_store_close(&f->store[i]);
		dyn_engine_close(f->engine[i]);
	}
	free(f);
	return 0;
}

/* The stored bytes of bucket "b", key, into out (reset first). */
static void
get_copy(dyn_store *st, const char *key, dyn_buf *out)
{
	dyn_buf_reset(out);
	assert_int_equal(dyn_store_get(st, dyn_slice_str("b"), dyn_slice_str(key), out), DYN_OK);
}

/*
 * A coordinator's write leaves its sibling set in dyn_store_object; shipped
 * to the other replica it is merged in as is, once: a second delivery
 * changes nothing.
 */
static void
test_write_then_ship(void **state)
{
	fixture    *f = *state;
	dyn_slice	v = dyn_slice_str("one");
	dyn_vclock	written;
	dyn_buf		shipped;
	dyn_buf		a;
	dyn_buf		b;
	bool		changed = false;

	dyn_buf_init(&shipped);
	dyn_buf_init(&a);
	dyn_buf_init(&b);
	assert_int_equal(dyn_store_write(&f->store[0], dyn_slice_str("b"), dyn_slice_str("k"),
									 dyn_slice_str(""), &v, &written), DYN_OK);
	dyn_buf_append(&shipped, dyn_store_object(&f->store[0]).ptr,
				   dyn_store_object(&f->store[0]).len);
	get_copy(&f->store[0], "k", &a);
	assert_true(dyn_slice_eq(dyn_buf_slice(&a), dyn_buf_slice(&shipped)));

	assert_int_equal(f->store[1].keys, 0);
	assert_int_equal(dyn_store_merge(&f->store[1], dyn_slice_str("b"), dyn_slice_str("k"),
									 dyn_buf_slice(&shipped), &changed), DYN_OK);
	assert_true(changed);
	assert_int_equal(f->store[1].keys, 1);
	get_copy(&f->store[1], "k", &b);
	assert_true(dyn_slice_eq(dyn_buf_slice(&a), dyn_buf_slice(&b)));

	/* re-delivery (a retried hint, a repeated repair) */
	assert_int_equal(dyn_store_merge(&f->store[1], dyn_slice_str("b"), dyn_slice_str("k"),
									 dyn_buf_slice(&shipped), &changed), DYN_OK);
	assert_false(changed);
	assert_int_equal(f->store[1].keys, 1);
	dyn_buf_free(&shipped);
	dyn_buf_free(&a);
	dyn_buf_free(&b);
}

/*
 * Two coordinators write from one context; after each ships its set to
 * the other, both replicas hold the same two siblings, byte for byte, and
 * a write with their merged context leaves one version on both.
 */
static void
test_concurrent_writes_meet(void **state)
{
	fixture    *f = *state;
	dyn_slice	va = dyn_slice_str("A");
	dyn_slice	vb = dyn_slice_str("B");
	dyn_slice	vm = dyn_slice_str("merged");
	dyn_vclock	w;
	dyn_buf		oa;
	dyn_buf		ob;
	dyn_buf		ctx;
	dyn_object	o;

	dyn_buf_init(&oa);
	dyn_buf_init(&ob);
	dyn_buf_init(&ctx);
	dyn_object_init(&o);
	assert_int_equal(dyn_store_write(&f->store[0], dyn_slice_str("b"), dyn_slice_str("c"),
									 dyn_slice_str(""), &va, &w), DYN_OK);
	dyn_buf_append(&oa, dyn_store_object(&f->store[0]).ptr, dyn_store_object(&f->store[0]).len);
	assert_int_equal(dyn_store_write(&f->store[1], dyn_slice_str("b"), dyn_slice_str("c"),
									 dyn_slice_str(""), &vb, &w), DYN_OK);
	dyn_buf_append(&ob, dyn_store_object(&f->store[1]).ptr, dyn_store_object(&f->store[1]).len);
	assert_int_equal(dyn_store_merge(&f->store[0], dyn_slice_str("b"), dyn_slice_str("c"),
									 dyn_buf_slice(&ob), NULL), DYN_OK);
	assert_int_equal(dyn_store_merge(&f->store[1], dyn_slice_str("b"), dyn_slice_str("c"),
									 dyn_buf_slice(&oa), NULL), DYN_OK);
	get_copy(&f->store[0], "c", &oa);
	get_copy(&f->store[1], "c", &ob);
	assert_true(dyn_slice_eq(dyn_buf_slice(&oa), dyn_buf_slice(&ob)));
	assert_int_equal(dyn_object_decode(dyn_buf_slice(&oa), &o), DYN_OK);
	assert_int_equal(o.n, 2);

	/* the reader's merged context supersedes both */
	{
		dyn_vclock	c;

		dyn_object_context(&o, &c);
		dyn_vclock_encode(&c, &ctx);
	}
	assert_int_equal(dyn_store_write(&f->store[1], dyn_slice_str("b"), dyn_slice_str("c"),
									 dyn_buf_slice(&ctx), &vm, &w), DYN_OK);
	dyn_buf_reset(&ob);
	dyn_buf_append(&ob, dyn_store_object(&f->store[1]).ptr, dyn_store_object(&f->store[1]).len);
	assert_int_equal(dyn_store_merge(&f->store[0], dyn_slice_str("b"), dyn_slice_str("c"),
									 dyn_buf_slice(&ob), NULL), DYN_OK);
	get_copy(&f->store[0], "c", &oa);
	assert_int_equal(dyn_object_decode(dyn_buf_slice(&oa), &o), DYN_OK);
	assert_int_equal(o.n, 1);
	assert_true(dyn_slice_eq(o.s[0].value, vm));
	dyn_object_free(&o);
	dyn_buf_free(&oa);
	dyn_buf_free(&ob);
	dyn_buf_free(&ctx);
}

/* A malformed sibling set is refused and the stored copy is untouched. */
static void
test_merge_refuses_garbage(void **state)
{
	fixture    *f = *state;
	dyn_slice	v = dyn_slice_str("kept");
	dyn_vclock	w;
	dyn_buf		before;
	dyn_buf		after;
	bool		changed = true;
	uint64_t	keys;

	dyn_buf_init(&before);
	dyn_buf_init(&after);
	assert_int_equal(dyn_store_write(&f->store[0], dyn_slice_str("b"), dyn_slice_str("g"),
									 dyn_slice_str(""), &v, &w), DYN_OK);
	get_copy(&f->store[0], "g", &before);
	keys = f->store[0].keys;
	assert_int_equal(dyn_store_merge(&f->store[0], dyn_slice_str("b"), dyn_slice_str("g"),
									 dyn_slice_str("\x09garbage"), &changed), DYN_ERR_PROTO);
	assert_false(changed);
	/* every truncation of a valid set is refused too */
	for (size_t cut = 1; cut < before.len; cut++)
	{
		dyn_slice	s = {before.data, cut};

		assert_int_equal(dyn_store_merge(&f->store[0], dyn_slice_str("b"), dyn_slice_str("g2"),
										 s, NULL), DYN_ERR_PROTO);
	}
	get_copy(&f->store[0], "g", &after);
	assert_true(dyn_slice_eq(dyn_buf_slice(&before), dyn_buf_slice(&after)));
	assert_int_equal(f->store[0].keys, keys);
	dyn_buf_free(&before);
	dyn_buf_free(&after);
}

/*
 * Hints: merges at any engine key of another namespace; a second version
 * merges into the first, and nothing lands among the objects.
 */
static void
test_merge_other_namespace(void **state)
{
	fixture    *f = *state;
	dyn_slice	v1 = dyn_slice_str("h1");
	dyn_slice	v2 = dyn_slice_str("h2");
	dyn_vclock	w;
	dyn_buf		o1;
	dyn_buf		o2;
	dyn_buf		got;
	dyn_object	o;
	bool		changed;
	bool		existed;
	uint64_t	count = 0;

	dyn_buf_init(&o1);
	dyn_buf_init(&o2);
	dyn_buf_init(&got);
	dyn_object_init(&o);
	/* two concurrent versions made on the other store */
	assert_int_equal(dyn_store_write(&f->store[1], dyn_slice_str("b"), dyn_slice_str("h"),
									 dyn_slice_str(""), &v1, &w), DYN_OK);
	dyn_buf_append(&o1, dyn_store_object(&f->store[1]).ptr, dyn_store_object(&f->store[1]).len);
	assert_int_equal(dyn_store_write(&f->store[1], dyn_slice_str("b"), dyn_slice_str("h"),
									 dyn_slice_str(""), &v2, &w), DYN_OK);
	dyn_buf_append(&o2, dyn_store_object(&f->store[1]).ptr, dyn_store_object(&f->store[1]).len);

	assert_int_equal(dyn_store_merge_at(&f->store[0], DYN_NS_HINT, dyn_slice_str("hint-key"),
										dyn_buf_slice(&o1), &changed, &existed), DYN_OK);
	assert_true(changed);
	assert_false(existed);
	assert_int_equal(dyn_store_merge_at(&f->store[0], DYN_NS_HINT, dyn_slice_str("hint-key"),
										dyn_buf_slice(&o2), &changed, &existed), DYN_OK);
	assert_true(changed);
	assert_true(existed);
	assert_int_equal(dyn_engine_get(f->engine[0], DYN_NS_HINT, dyn_slice_str("hint-key"), &got),
					 DYN_OK);
	assert_int_equal(dyn_object_decode(dyn_buf_slice(&got), &o), DYN_OK);
	assert_int_equal(o.n, 2);	/* o2 holds both versions already */
	assert_int_equal(dyn_engine_count(f->engine[0], DYN_NS_OBJECT, &count), DYN_OK);
	dyn_buf_reset(&got);
	assert_int_equal(dyn_store_get(&f->store[0], dyn_slice_str("b"), dyn_slice_str("h"), &got),
					 DYN_OK);
	assert_int_equal(got.len, 0);	/* not among the objects */
	dyn_object_free(&o);
	dyn_buf_free(&o1);
	dyn_buf_free(&o2);
	dyn_buf_free(&got);
}

/* Engine keys: made and split back; what is not one is refused. */
static void
test_keys(void **state)
{
	dyn_buf		k;
	dyn_slice	bucket;
	dyn_slice	key;

	(void) state;
	dyn_buf_init(&k);
	dyn_store_key(64, dyn_slice_str("carts"), dyn_slice_str("alice"), &k);
	assert_int_equal(k.len, 2 + 1 + 5 + 5);
	assert_int_equal(dyn_store_split_key(dyn_buf_slice(&k), &bucket, &key), DYN_OK);
	assert_true(dyn_slice_eq(bucket, dyn_slice_str("carts")));
	assert_true(dyn_slice_eq(key, dyn_slice_str("alice")));
	/* the partition is the key's, as the ring places it */
	assert_int_equal((k.data[0] << 8) | k.data[1],
					 dyn_partition_of(dyn_key_position(dyn_slice_str("carts"),
													   dyn_slice_str("alice")), 64));
	/* no key, no bucket, a bucket running past the end */
	assert_int_equal(dyn_store_split_key(dyn_slice_str("\x00\x01\x05" "carts"), &bucket, &key),
					 DYN_ERR_PROTO);
	assert_int_equal(dyn_store_split_key((dyn_slice) {(const uint8_t *) "\x00\x01\x00k", 4},
										 &bucket, &key), DYN_ERR_PROTO);
	assert_int_equal(dyn_store_split_key(dyn_slice_str("\x00\x01\x09" "ab"), &bucket, &key),
					 DYN_ERR_PROTO);
	assert_int_equal(dyn_store_split_key(dyn_slice_str("\x00"), &bucket, &key), DYN_ERR_PROTO);
	dyn_buf_free(&k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_then_ship),
		cmocka_unit_test(test_concurrent_writes_meet),
		cmocka_unit_test(test_merge_refuses_garbage),
		cmocka_unit_test(test_merge_other_namespace),
		cmocka_unit_test(test_keys),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
