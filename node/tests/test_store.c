/*
 * test_store.c
 *		The replica store's cluster operations (store.c): the sibling set a
 *		coordinator's write leaves and ships, replica merges (new keys,
 *		idempotent re-delivery, concurrent versions meeting, malformed input
 *		refused with nothing changed), merges into other namespaces (hints),
 *		and the engine-key helpers.  Two stores on memory engines play two
 *		replicas.
 *
 *		Then, with each engine (memory, and WiredTiger in a temporary
 *		directory), the per-partition Merkle trees and the tombstone count:
 *		after random writes, deletes, merges and reaps every partition's
 *		tree equals one rebuilt from a scan and survives a reopen; replicas
 *		fed the same versions in any order have equal roots; the tombstone
 *		count follows deletes, overwrites, merges and reaps; reap, drop,
 *		merge_key and scan_partition do what store.h says.
 */
#define _GNU_SOURCE				/* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
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
static void test_object_bytes(void **state);

/* Up to four replicas on one engine kind, each in its own directory. */
#define NREPLICAS	4
#define NPARTS		16
typedef struct tfix
{
	const char *engine;			/* "memory" or "wiredtiger" (the prestate) */
	char		dir[64];		/* from mkdtemp; removed at teardown */
	dyn_engine *e[NREPLICAS];
	dyn_store	st[NREPLICAS];
	bool		open[NREPLICAS];
} tfix;

static int	tfix_setup(void **state);
static int	tfix_teardown(void **state);
static void replica_open(tfix *f, int i);
static void replica_close(tfix *f, int i);
static void replica_reopen(tfix *f, int i);
static dyn_slice ks(char *buf, size_t cap, uint32_t i);
static void do_write(dyn_store *st, dyn_slice key, bool with_context, bool del,
					 dyn_buf *shipped);
static void ship(dyn_store *from, dyn_store *to, dyn_slice key);
static void engine_key(dyn_slice key, dyn_buf *out);
static void check_summaries(dyn_store *st);
static void all_roots(dyn_store *st, uint8_t roots[NPARTS][DYN_MERKLE_DIGEST]);
static uint32_t xs(uint32_t *s);
static void test_random_ops_trees(void **state);
static void test_order_independent_roots(void **state);
static void test_tombstone_count(void **state);
static void test_reap(void **state);
static void test_drop(void **state);
static void test_merge_key(void **state);
static void test_scan_partition(void **state);
static void test_failed_write_not_counted(void **state);
static void test_get_pos(void **state);

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
	check_summaries(&f->store[0]);
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

/* Wall-clock milliseconds, as the store stamps clock entries. */
static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/*
 * The in-place readers of object.h on what the store writes: all
 * tombstones only when every sibling is one, the newest dot timestamp is
 * the latest write's, and anything malformed (every truncation) answers
 * false / 0.
 */
static void
test_object_bytes(void **state)
{
	fixture    *f = *state;
	dyn_slice	v = dyn_slice_str("v");
	dyn_vclock	w;
	dyn_buf		obj;
	dyn_buf		ctx;
	dyn_object	o;
	dyn_vclock	c;
	uint64_t	t0;
	uint64_t	t1;

	dyn_buf_init(&obj);
	dyn_buf_init(&ctx);
	dyn_object_init(&o);
	assert_false(dyn_object_bytes_all_tombstones(dyn_slice_str("")));
	assert_int_equal(dyn_object_bytes_newest_ms(dyn_slice_str("")), 0);
	/* an object with no siblings is not "all tombstones" */
	dyn_object_encode(&o, &obj);
	assert_false(dyn_object_bytes_all_tombstones(dyn_buf_slice(&obj)));

	t0 = now_ms();
	assert_int_equal(dyn_store_write(&f->store[0], dyn_slice_str("b"), dyn_slice_str("ob"),
									 dyn_slice_str(""), &v, &w), DYN_OK);
	t1 = now_ms();
	get_copy(&f->store[0], "ob", &obj);
	assert_false(dyn_object_bytes_all_tombstones(dyn_buf_slice(&obj)));
	assert_in_range(dyn_object_bytes_newest_ms(dyn_buf_slice(&obj)), t0, t1);

	/* a tombstone beside the value, later: newest is the tombstone's */
	usleep(5000);
	t0 = now_ms();
	assert_int_equal(dyn_store_write(&f->store[0], dyn_slice_str("b"), dyn_slice_str("ob"),
									 dyn_slice_str(""), NULL, &w), DYN_OK);
	t1 = now_ms();
	get_copy(&f->store[0], "ob", &obj);
	assert_int_equal(dyn_object_decode(dyn_buf_slice(&obj), &o), DYN_OK);
	assert_int_equal(o.n, 2);
	assert_false(dyn_object_bytes_all_tombstones(dyn_buf_slice(&obj)));
	assert_in_range(dyn_object_bytes_newest_ms(dyn_buf_slice(&obj)), t0, t1);

	/* a delete of both: all tombstones */
	dyn_object_context(&o, &c);
	dyn_vclock_encode(&c, &ctx);
	assert_int_equal(dyn_store_write(&f->store[0], dyn_slice_str("b"), dyn_slice_str("ob"),
									 dyn_buf_slice(&ctx), NULL, &w), DYN_OK);
	get_copy(&f->store[0], "ob", &obj);
	assert_true(dyn_object_bytes_all_tombstones(dyn_buf_slice(&obj)));
	assert_true(dyn_object_bytes_newest_ms(dyn_buf_slice(&obj)) >= t0);
	for (size_t cut = 0; cut < obj.len; cut++)
	{
		dyn_slice	s = {obj.data, cut};

		assert_false(dyn_object_bytes_all_tombstones(s));
		assert_int_equal(dyn_object_bytes_newest_ms(s), 0);
	}
	/* trailing bytes, a value on a tombstone */
	dyn_buf_put_u8(&obj, 0);
	assert_false(dyn_object_bytes_all_tombstones(dyn_buf_slice(&obj)));
	dyn_object_decode((dyn_slice) {obj.data, obj.len - 1}, &o);
	o.s[0].value = v;
	dyn_buf_reset(&obj);
	dyn_object_encode(&o, &obj);
	assert_false(dyn_object_bytes_all_tombstones(dyn_buf_slice(&obj)));
	dyn_object_free(&o);
	dyn_buf_free(&obj);
	dyn_buf_free(&ctx);
}

/* ------------------------------------------ trees and tombstone counts */

/* Make the temporary directory; replicas open on demand. */
static int
tfix_setup(void **state)
{
	tfix	   *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->engine = *state;
	snprintf(f->dir, sizeof(f->dir), "/tmp/dyn_test_store_XXXXXX");
	if (mkdtemp(f->dir) == NULL)
	{
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

/* nftw callback for teardown: remove one file or (emptied) directory. */
static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void) sb;
	(void) flag;
	(void) ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static int
tfix_teardown(void **state)
{
	tfix	   *f = *state;

	for (int i = 0; i < NREPLICAS; i++)
		if (f->open[i])
			replica_close(f, i);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Open replica i ("r<i>") in dir/<i> with NPARTS partitions. */
static void
replica_open(tfix *f, int i)
{
	char		db[96];
	char		id[16];
	char		err[256];
	dyn_engine_config cfg = {.name = f->engine, .durability = DYN_DURABILITY_NONE};

	snprintf(db, sizeof(db), "%s/%d", f->dir, i);
	snprintf(id, sizeof(id), "r%d", i);
	cfg.dir = db;
	assert_int_equal(dyn_engine_open(&cfg, &f->e[i], err, sizeof(err)), DYN_OK);
	assert_int_equal(dyn_store_open(&f->st[i], f->e[i], id, NPARTS, err, sizeof(err)),
					 DYN_OK);
	f->open[i] = true;
}

static void
replica_close(tfix *f, int i)
{
	dyn_store_close(&f->st[i]);
	dyn_store_close(&f->st[i]);	/* twice is allowed */
	dyn_engine_close(f->e[i]);
	f->e[i] = NULL;
	f->open[i] = false;
}

/*
 * Reopen replica i: the store alone with the memory engine (whose data
 * would not survive the engine), store and engine with WiredTiger.
 */
static void
replica_reopen(tfix *f, int i)
{
	char		id[16];
	char		err[256];

	if (strcmp(f->engine, "memory") != 0)
	{
		replica_close(f, i);
		replica_open(f, i);
		return;
	}
	snprintf(id, sizeof(id), "r%d", i);
	dyn_store_close(&f->st[i]);
	assert_int_equal(dyn_store_open(&f->st[i], f->e[i], id, NPARTS, err, sizeof(err)),
					 DYN_OK);
}

/* Key number i of bucket "b", formatted into buf. */
static dyn_slice
ks(char *buf, size_t cap, uint32_t i)
{
	int			len = snprintf(buf, cap, "k%04u", i);

	return (dyn_slice) {(const uint8_t *) buf, (size_t) len};
}

/*
 * Write key on st: a value or (del) a tombstone, with the context of what
 * st holds (an overwrite) or none (a new sibling).  What the write stored
 * is appended to shipped (if not NULL) as u16 key length, key, u32 object
 * length, object.
 */
static void
do_write(dyn_store *st, dyn_slice key, bool with_context, bool del, dyn_buf *shipped)
{
	static unsigned n;
	char		vb[32];
	dyn_slice	v = {(const uint8_t *) vb, (size_t) snprintf(vb, sizeof(vb), "value %u", n++)};
	dyn_buf		cur;
	dyn_buf		ctx;
	dyn_object	o;
	dyn_vclock	c;
	dyn_vclock	w;
	dyn_slice	obj;

	dyn_buf_init(&cur);
	dyn_buf_init(&ctx);
	dyn_object_init(&o);
	if (with_context)
	{
		assert_int_equal(dyn_store_get(st, dyn_slice_str("b"), key, &cur), DYN_OK);
		assert_int_equal(dyn_object_decode(dyn_buf_slice(&cur), &o), DYN_OK);
		dyn_object_context(&o, &c);
		dyn_vclock_encode(&c, &ctx);
	}
	assert_int_equal(dyn_store_write(st, dyn_slice_str("b"), key, dyn_buf_slice(&ctx),
									 del ? NULL : &v, &w), DYN_OK);
	if (shipped != NULL)
	{
		obj = dyn_store_object(st);
		dyn_buf_put_blob16(shipped, key);
		dyn_buf_put_blob32(shipped, obj);
	}
	dyn_object_free(&o);
	dyn_buf_free(&cur);
	dyn_buf_free(&ctx);
}

/* Read repair in one direction: merge from's copy of key into to. */
static void
ship(dyn_store *from, dyn_store *to, dyn_slice key)
{
	dyn_buf		obj;

	dyn_buf_init(&obj);
	assert_int_equal(dyn_store_get(from, dyn_slice_str("b"), key, &obj), DYN_OK);
	if (obj.len > 0)
		assert_int_equal(dyn_store_merge(to, dyn_slice_str("b"), key, dyn_buf_slice(&obj),
										 NULL), DYN_OK);
	dyn_buf_free(&obj);
}

/* The engine key of b/key (out reset first). */
static void
engine_key(dyn_slice key, dyn_buf *out)
{
	dyn_buf_reset(out);
	dyn_store_key(NPARTS, dyn_slice_str("b"), key, out);
}

/* What check_summaries gathers while scanning a partition. */
typedef struct rebuilt
{
	dyn_merkle	tree;
	uint32_t	partition;
	uint64_t	keys;
	uint64_t	tombstones;
} rebuilt;

static int
rebuild_one(void *arg, dyn_slice key, dyn_slice object)
{
	rebuilt    *r = arg;
	dyn_slice	none = {NULL, 0};

	assert_true(key.len >= 2);
	assert_int_equal((key.ptr[0] << 8) | key.ptr[1], r->partition);
	dyn_merkle_update(&r->tree, key, none, object);
	r->keys++;
	r->tombstones += dyn_object_bytes_all_tombstones(object);
	return 0;
}

/*
 * Every partition's tree equals one rebuilt from scratch over a scan of
 * the partition, and keys and tombstones equal what the scans count.
 */
static void
check_summaries(dyn_store *st)
{
	uint64_t	keys = 0;
	uint64_t	tombstones = 0;
	uint64_t	counted = 0;
	dyn_slice	none = {NULL, 0};

	for (uint32_t p = 0; p < NPARTS; p++)
	{
		rebuilt		r = {.partition = p};
		uint8_t		want[DYN_MERKLE_DIGEST];
		uint8_t		have[DYN_MERKLE_DIGEST];
		dyn_buf		a;
		dyn_buf		b;

		assert_non_null(dyn_store_tree(st, p));
		assert_int_equal(dyn_store_tree(st, p)->depth, dyn_store_merkle_depth(NPARTS));
		assert_int_equal(dyn_merkle_init(&r.tree, dyn_store_merkle_depth(NPARTS)), DYN_OK);
		assert_int_equal(dyn_store_scan_partition(st, p, none, rebuild_one, &r), DYN_OK);
		dyn_merkle_root(&r.tree, want);
		dyn_merkle_root(dyn_store_tree(st, p), have);
		assert_memory_equal(want, have, DYN_MERKLE_DIGEST);
		/* every node, not only the root */
		dyn_buf_init(&a);
		dyn_buf_init(&b);
		assert_int_equal(dyn_merkle_level(&r.tree, r.tree.depth, 0, r.tree.nleaves, &a), DYN_OK);
		assert_int_equal(dyn_merkle_level(dyn_store_tree(st, p), r.tree.depth, 0,
										  r.tree.nleaves, &b), DYN_OK);
		assert_true(dyn_slice_eq(dyn_buf_slice(&a), dyn_buf_slice(&b)));
		dyn_buf_free(&a);
		dyn_buf_free(&b);
		dyn_merkle_free(&r.tree);
		keys += r.keys;
		tombstones += r.tombstones;
	}
	assert_null(dyn_store_tree(st, NPARTS));
	assert_int_equal(st->keys, keys);
	assert_int_equal(st->tombstones, tombstones);
	assert_int_equal(dyn_engine_count(st->engine, DYN_NS_OBJECT, &counted), DYN_OK);
	assert_int_equal(counted, keys);
}

/* Every partition's root. */
static void
all_roots(dyn_store *st, uint8_t roots[NPARTS][DYN_MERKLE_DIGEST])
{
	for (uint32_t p = 0; p < NPARTS; p++)
		dyn_merkle_root(dyn_store_tree(st, p), roots[p]);
}

/* xorshift32: a reproducible stream of test choices. */
static uint32_t
xs(uint32_t *s)
{
	uint32_t	x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

/*
 * Two replicas, random operations on 80 keys: overwrites, blind writes
 * (siblings), deletes, read repair both ways, merges by engine key, reaps
 * and hints (which must not touch the trees).  Checked along the way and
 * after a reopen of each replica.
 */
static void
test_random_ops_trees(void **state)
{
	tfix	   *f = *state;
	uint32_t	seed = 0x9e3779b9;
	uint8_t		before[NPARTS][DYN_MERKLE_DIGEST];
	uint8_t		after[NPARTS][DYN_MERKLE_DIGEST];
	dyn_buf		ek;
	dyn_buf		obj;
	uint64_t	keys;
	uint64_t	tombstones;
	unsigned	reaps = 0;

	dyn_buf_init(&ek);
	dyn_buf_init(&obj);
	replica_open(f, 0);
	replica_open(f, 1);
	for (int i = 0; i < 1500; i++)
	{
		char		kb[16];
		dyn_slice	key = ks(kb, sizeof(kb), xs(&seed) % 80);
		int			r = (int) (xs(&seed) % 2);
		dyn_store  *st = &f->st[r];
		uint32_t	op = xs(&seed) % 100;

		if (op < 35)
			do_write(st, key, true, false, NULL);
		else if (op < 45)
			do_write(st, key, false, false, NULL);
		else if (op < 65)
			do_write(st, key, true, true, NULL);
		else if (op < 80)
			ship(&f->st[1 - r], st, key);
		else if (op < 88)
		{
			/* anti-entropy style: by engine key */
			engine_key(key, &ek);
			dyn_buf_reset(&obj);
			assert_int_equal(dyn_store_get_at(&f->st[1 - r], dyn_buf_slice(&ek), &obj), DYN_OK);
			if (obj.len > 0)
				assert_int_equal(dyn_store_merge_key(st, dyn_buf_slice(&ek), dyn_buf_slice(&obj),
													 NULL), DYN_OK);
		}
		else if (op < 95)
		{
			uint8_t		digest[DYN_MERKLE_DIGEST];
			bool		reaped = false;

			engine_key(key, &ek);
			dyn_buf_reset(&obj);
			assert_int_equal(dyn_store_get_at(st, dyn_buf_slice(&ek), &obj), DYN_OK);
			dyn_merkle_digest(dyn_buf_slice(&ek), dyn_buf_slice(&obj), digest);
			assert_int_equal(dyn_store_reap(st, dyn_buf_slice(&ek), digest, &reaped), DYN_OK);
			assert_int_equal(reaped, dyn_object_bytes_all_tombstones(dyn_buf_slice(&obj)));
			reaps += reaped;
		}
		else
		{
			/* a hint: another namespace, no tree */
			all_roots(st, before);
			keys = st->keys;
			tombstones = st->tombstones;
			engine_key(key, &ek);
			dyn_buf_reset(&obj);
			assert_int_equal(dyn_store_get_at(&f->st[1 - r], dyn_buf_slice(&ek), &obj), DYN_OK);
			if (obj.len > 0)
				assert_int_equal(dyn_store_merge_at(st, DYN_NS_HINT, dyn_buf_slice(&ek),
													dyn_buf_slice(&obj), NULL, NULL), DYN_OK);
			all_roots(st, after);
			assert_memory_equal(before, after, sizeof(before));
			assert_int_equal(st->keys, keys);
			assert_int_equal(st->tombstones, tombstones);
		}
		if (i % 250 == 0)
			check_summaries(st);
	}
	assert_true(reaps > 0);
	for (int r = 0; r < 2; r++)
	{
		assert_true(f->st[r].tombstones > 0);
		check_summaries(&f->st[r]);
		all_roots(&f->st[r], before);
		keys = f->st[r].keys;
		tombstones = f->st[r].tombstones;
		replica_reopen(f, r);
		all_roots(&f->st[r], after);
		assert_memory_equal(before, after, sizeof(before));
		assert_int_equal(f->st[r].keys, keys);
		assert_int_equal(f->st[r].tombstones, tombstones);
		check_summaries(&f->st[r]);
	}
	/* after full read repair both ways the replicas agree, trees and all */
	for (uint32_t k = 0; k < 80; k++)
	{
		char		kb[16];

		ship(&f->st[0], &f->st[1], ks(kb, sizeof(kb), k));
		ship(&f->st[1], &f->st[0], ks(kb, sizeof(kb), k));
	}
	all_roots(&f->st[0], before);
	all_roots(&f->st[1], after);
	assert_memory_equal(before, after, sizeof(before));
	assert_int_equal(f->st[0].tombstones, f->st[1].tombstones);
	check_summaries(&f->st[0]);
	check_summaries(&f->st[1]);
	dyn_buf_free(&ek);
	dyn_buf_free(&obj);
}

/*
 * Replicas 2 and 3 are fed every version replicas 0 and 1 made, 2 in the
 * order they were made and 3 in a shuffled order with repeats: same
 * objects, same roots, same counts.
 */
static void
test_order_independent_roots(void **state)
{
	tfix	   *f = *state;
	uint32_t	seed = 12345;
	dyn_buf		shipped;
	dyn_slice  *keys;
	dyn_slice  *objs;
	size_t		n = 0;
	dyn_reader	rd;
	uint8_t		a[NPARTS][DYN_MERKLE_DIGEST];
	uint8_t		b[NPARTS][DYN_MERKLE_DIGEST];

	dyn_buf_init(&shipped);
	for (int i = 0; i < NREPLICAS; i++)
		replica_open(f, i);
	for (int i = 0; i < 600; i++)
	{
		char		kb[16];
		dyn_slice	key = ks(kb, sizeof(kb), xs(&seed) % 50);
		int			r = (int) (xs(&seed) % 2);
		uint32_t	op = xs(&seed) % 10;

		if (op < 2)
			ship(&f->st[1 - r], &f->st[r], key);
		else
			do_write(&f->st[r], key, op != 7, op >= 8, &shipped);	/* 7: a sibling */
	}
	keys = calloc(2000, sizeof(dyn_slice));
	objs = calloc(2000, sizeof(dyn_slice));
	assert_non_null(keys);
	assert_non_null(objs);
	dyn_reader_init(&rd, dyn_buf_slice(&shipped));
	while (dyn_rd_left(&rd) > 0)
	{
		assert_true(n < 2000);
		keys[n] = dyn_rd_blob16(&rd);
		objs[n] = dyn_rd_blob32(&rd);
		assert_int_equal(rd.err, DYN_OK);
		n++;
	}
	for (size_t i = 0; i < n; i++)
		assert_int_equal(dyn_store_merge(&f->st[2], dyn_slice_str("b"), keys[i], objs[i], NULL),
						 DYN_OK);
	/* a shuffled order, then a second pass of repeats */
	for (size_t i = n; i > 1; i--)
	{
		size_t		j = xs(&seed) % i;
		dyn_slice	t = keys[i - 1];
		dyn_slice	u = objs[i - 1];

		keys[i - 1] = keys[j];
		objs[i - 1] = objs[j];
		keys[j] = t;
		objs[j] = u;
	}
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i += pass + 1)
			assert_int_equal(dyn_store_merge(&f->st[3], dyn_slice_str("b"), keys[i], objs[i],
											 NULL), DYN_OK);
	all_roots(&f->st[2], a);
	all_roots(&f->st[3], b);
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(f->st[2].keys, f->st[3].keys);
	assert_int_equal(f->st[2].tombstones, f->st[3].tombstones);
	assert_true(f->st[2].tombstones > 0);
	check_summaries(&f->st[2]);
	check_summaries(&f->st[3]);
	free(keys);
	free(objs);
	dyn_buf_free(&shipped);
}

/*
 * The tombstone count: a delete makes one, an overwrite and a concurrent
 * (blind) write clear it, a merge carries it to a new replica and a
 * merged-in value clears it there.
 */
static void
test_tombstone_count(void **state)
{
	tfix	   *f = *state;
	dyn_slice	k = dyn_slice_str("t");
	dyn_slice	k2 = dyn_slice_str("t2");

	replica_open(f, 0);
	replica_open(f, 1);
	do_write(&f->st[0], k, false, false, NULL);
	assert_int_equal(f->st[0].tombstones, 0);
	do_write(&f->st[0], k, true, true, NULL);		/* delete */
	assert_int_equal(f->st[0].tombstones, 1);
	do_write(&f->st[0], k, true, true, NULL);		/* delete again: still one */
	assert_int_equal(f->st[0].tombstones, 1);
	do_write(&f->st[0], k, true, false, NULL);		/* overwrite */
	assert_int_equal(f->st[0].tombstones, 0);
	do_write(&f->st[0], k, true, true, NULL);
	assert_int_equal(f->st[0].tombstones, 1);
	do_write(&f->st[0], k, false, false, NULL);		/* a sibling beside the tombstone */
	assert_int_equal(f->st[0].tombstones, 0);
	do_write(&f->st[0], k, true, true, NULL);
	assert_int_equal(f->st[0].tombstones, 1);
	do_write(&f->st[0], k2, false, true, NULL);		/* a delete of a key never written */
	assert_int_equal(f->st[0].tombstones, 2);
	assert_int_equal(f->st[0].keys, 2);

	/* merges: new key, then a concurrent value merged back */
	ship(&f->st[0], &f->st[1], k);
	assert_int_equal(f->st[1].tombstones, 1);
	ship(&f->st[0], &f->st[1], k);					/* re-delivery */
	assert_int_equal(f->st[1].tombstones, 1);
	do_write(&f->st[1], k, false, false, NULL);
	assert_int_equal(f->st[1].tombstones, 0);
	ship(&f->st[1], &f->st[0], k);
	assert_int_equal(f->st[0].tombstones, 1);		/* only k2 left */
	do_write(&f->st[0], k, true, true, NULL);		/* delete both siblings */
	ship(&f->st[0], &f->st[1], k);
	assert_int_equal(f->st[1].tombstones, 1);
	assert_int_equal(f->st[0].tombstones, 2);
	check_summaries(&f->st[0]);
	check_summaries(&f->st[1]);
}

/* The digest of what st holds at b/key, and its engine key into ek. */
static void
digest_of(dyn_store *st, dyn_slice key, dyn_buf *ek, uint8_t digest[DYN_MERKLE_DIGEST])
{
	dyn_buf		obj;

	dyn_buf_init(&obj);
	engine_key(key, ek);
	assert_int_equal(dyn_store_get_at(st, dyn_buf_slice(ek), &obj), DYN_OK);
	dyn_merkle_digest(dyn_buf_slice(ek), dyn_buf_slice(&obj), digest);
	dyn_buf_free(&obj);
}

/*
 * Reap deletes an all-tombstones object whose digest is the caller's, and
 * refuses one with a live sibling, one that changed since (even into
 * another all-tombstones version) and an absent one.
 */
static void
test_reap(void **state)
{
	tfix	   *f = *state;
	dyn_slice	k = dyn_slice_str("r");
	dyn_buf		ek;
	dyn_buf		got;
	uint8_t		digest[DYN_MERKLE_DIGEST];
	uint8_t		empty[DYN_MERKLE_DIGEST];
	uint8_t		root[DYN_MERKLE_DIGEST];
	bool		reaped = true;
	dyn_merkle	fresh;

	dyn_buf_init(&ek);
	dyn_buf_init(&got);
	replica_open(f, 0);
	replica_open(f, 1);
	assert_int_equal(dyn_merkle_init(&fresh, dyn_store_merkle_depth(NPARTS)), DYN_OK);
	dyn_merkle_root(&fresh, empty);

	/* a live object is never reaped, whatever the digest */
	do_write(&f->st[0], k, false, false, NULL);
	digest_of(&f->st[0], k, &ek, digest);
	assert_int_equal(dyn_store_reap(&f->st[0], dyn_buf_slice(&ek), digest, &reaped), DYN_OK);
	assert_false(reaped);
	assert_int_equal(f->st[0].keys, 1);

	/* deleted, then changed: a concurrent delete from another replica */
	do_write(&f->st[0], k, true, true, NULL);
	ship(&f->st[0], &f->st[1], k);
	digest_of(&f->st[0], k, &ek, digest);
	do_write(&f->st[1], k, false, true, NULL);		/* blind delete: a second tombstone */
	ship(&f->st[1], &f->st[0], k);
	assert_int_equal(f->st[0].tombstones, 1);
	assert_int_equal(dyn_store_reap(&f->st[0], dyn_buf_slice(&ek), digest, &reaped), DYN_OK);
	assert_false(reaped);
	assert_int_equal(f->st[0].keys, 1);

	/* a value arrived meanwhile */
	digest_of(&f->st[1], k, &ek, digest);
	do_write(&f->st[1], k, false, false, NULL);
	assert_int_equal(dyn_store_reap(&f->st[1], dyn_buf_slice(&ek), digest, &reaped), DYN_OK);
	assert_false(reaped);

	/* the current version: reaped */
	digest_of(&f->st[0], k, &ek, digest);
	assert_int_equal(dyn_store_reap(&f->st[0], dyn_buf_slice(&ek), digest, &reaped), DYN_OK);
	assert_true(reaped);
	assert_int_equal(f->st[0].keys, 0);
	assert_int_equal(f->st[0].tombstones, 0);
	dyn_buf_reset(&got);
	assert_int_equal(dyn_store_get_at(&f->st[0], dyn_buf_slice(&ek), &got), DYN_OK);
	assert_int_equal(got.len, 0);
	dyn_merkle_root(dyn_store_tree(&f->st[0], (ek.data[0] << 8) | ek.data[1]), root);
	assert_memory_equal(root, empty, DYN_MERKLE_DIGEST);

	/* absent now: nothing to reap */
	assert_int_equal(dyn_store_reap(&f->st[0], dyn_buf_slice(&ek), digest, &reaped), DYN_OK);
	assert_false(reaped);
	check_summaries(&f->st[0]);
	check_summaries(&f->st[1]);
	dyn_merkle_free(&fresh);
	dyn_buf_free(&ek);
	dyn_buf_free(&got);
}

/*
 * Drop empties one partition in batches of two, *more true until the last
 * batch, and leaves the other partitions' trees and objects alone.
 */
static void
test_drop(void **state)
{
	tfix	   *f = *state;
	uint32_t	count[NPARTS] = {0};
	uint32_t	tombs[NPARTS] = {0};
	uint32_t	p = 0;
	uint8_t		before[NPARTS][DYN_MERKLE_DIGEST];
	uint8_t		after[NPARTS][DYN_MERKLE_DIGEST];
	uint8_t		empty[DYN_MERKLE_DIGEST];
	dyn_merkle	fresh;
	dyn_buf		ek;
	dyn_slice	none = {NULL, 0};
	uint64_t	keys;
	uint64_t	tombstones;
	size_t		dropped = 99;
	size_t		total = 0;
	bool		more = false;
	unsigned	calls = 0;

	dyn_buf_init(&ek);
	replica_open(f, 0);
	for (uint32_t i = 0; i < 200; i++)
	{
		char		kb[16];
		dyn_slice	key = ks(kb, sizeof(kb), i);
		uint32_t	part;

		do_write(&f->st[0], key, false, false, NULL);
		if (i % 3 == 0)
			do_write(&f->st[0], key, true, true, NULL);
		engine_key(key, &ek);
		part = (ek.data[0] << 8) | ek.data[1];
		count[part]++;
		tombs[part] += i % 3 == 0;
	}
	for (uint32_t q = 0; q < NPARTS; q++)
		if (count[q] > count[p] && count[q] % 2 == 1)
			p = q;
	assert_true(count[p] >= 5);
	assert_true(tombs[p] > 0);
	all_roots(&f->st[0], before);
	keys = f->st[0].keys;
	tombstones = f->st[0].tombstones;

	/* nothing asked, nothing dropped, but more is there */
	assert_int_equal(dyn_store_drop(&f->st[0], p, 0, &dropped, &more), DYN_OK);
	assert_int_equal(dropped, 0);
	assert_true(more);
	assert_int_equal(dyn_store_drop(&f->st[0], NPARTS, 2, &dropped, &more), DYN_ERR_INVAL);

	do
	{
		assert_int_equal(dyn_store_drop(&f->st[0], p, 2, &dropped, &more), DYN_OK);
		calls++;
		total += dropped;
		assert_int_equal(more, total < count[p]);
		assert_int_equal(dropped, more ? 2 : count[p] - 2 * (calls - 1));
		check_summaries(&f->st[0]);
	} while (more);
	assert_int_equal(total, count[p]);
	assert_int_equal(calls, (count[p] + 1) / 2);
	assert_int_equal(f->st[0].keys, keys - count[p]);
	assert_int_equal(f->st[0].tombstones, tombstones - tombs[p]);

	/* the partition is empty, its tree is an empty tree, the others as they were */
	assert_int_equal(dyn_merkle_init(&fresh, dyn_store_merkle_depth(NPARTS)), DYN_OK);
	dyn_merkle_root(&fresh, empty);
	all_roots(&f->st[0], after);
	for (uint32_t q = 0; q < NPARTS; q++)
		if (q == p)
			assert_memory_equal(after[q], empty, DYN_MERKLE_DIGEST);
		else
			assert_memory_equal(after[q], before[q], DYN_MERKLE_DIGEST);
	assert_int_equal(dyn_store_drop(&f->st[0], p, 2, &dropped, &more), DYN_OK);
	assert_int_equal(dropped, 0);
	assert_false(more);
	{
		rebuilt		r = {.partition = p};

		assert_int_equal(dyn_merkle_init(&r.tree, 4), DYN_OK);
		assert_int_equal(dyn_store_scan_partition(&f->st[0], p, none, rebuild_one, &r), DYN_OK);
		assert_int_equal(r.keys, 0);
		dyn_merkle_free(&r.tree);
	}
	replica_reopen(f, 0);
	check_summaries(&f->st[0]);
	all_roots(&f->st[0], after);
	assert_memory_equal(after[p], empty, DYN_MERKLE_DIGEST);
	dyn_merkle_free(&fresh);
	dyn_buf_free(&ek);
}

/* merge_key takes keys dyn_store_key makes, refuses any other. */
static void
test_merge_key(void **state)
{
	tfix	   *f = *state;
	dyn_slice	k = dyn_slice_str("mk");
	dyn_buf		ek;
	dyn_buf		bad;
	dyn_buf		obj;
	bool		changed = true;

	dyn_buf_init(&ek);
	dyn_buf_init(&bad);
	dyn_buf_init(&obj);
	replica_open(f, 0);
	replica_open(f, 1);
	do_write(&f->st[0], k, false, false, NULL);
	engine_key(k, &ek);
	assert_int_equal(dyn_store_get_at(&f->st[0], dyn_buf_slice(&ek), &obj), DYN_OK);

	/* the right partition prefix, one off, and not a key at all */
	dyn_buf_append(&bad, ek.data, ek.len);
	bad.data[1] = (uint8_t) ((bad.data[1] + 1) % NPARTS);
	assert_int_equal(dyn_store_merge_key(&f->st[1], dyn_buf_slice(&bad), dyn_buf_slice(&obj),
										 &changed), DYN_ERR_PROTO);
	assert_false(changed);
	assert_int_equal(dyn_store_merge_key(&f->st[1], dyn_slice_str("\x00\x01"),
										 dyn_buf_slice(&obj), &changed), DYN_ERR_PROTO);
	assert_int_equal(dyn_store_merge_key(&f->st[1], dyn_slice_str(""),
										 dyn_buf_slice(&obj), &changed), DYN_ERR_PROTO);
	assert_int_equal(f->st[1].keys, 0);
	check_summaries(&f->st[1]);

	assert_int_equal(dyn_store_merge_key(&f->st[1], dyn_buf_slice(&ek), dyn_buf_slice(&obj),
										 &changed), DYN_OK);
	assert_true(changed);
	assert_int_equal(f->st[1].keys, 1);
	assert_int_equal(dyn_store_merge_key(&f->st[1], dyn_buf_slice(&ek), dyn_buf_slice(&obj),
										 &changed), DYN_OK);
	assert_false(changed);
	assert_int_equal(f->st[1].keys, 1);
	assert_int_equal(dyn_store_merge_key(&f->st[1], dyn_buf_slice(&ek), dyn_slice_str("\x09x"),
										 &changed), DYN_ERR_PROTO);
	check_summaries(&f->st[1]);
	dyn_buf_free(&ek);
	dyn_buf_free(&bad);
	dyn_buf_free(&obj);
}

/* What test_scan_partition collects: the engine keys, and a stop point. */
typedef struct collected
{
	dyn_buf		keys;			/* blob16 each */
	size_t		n;
	size_t		stop_at;		/* return 7 at this visit (0: never) */
} collected;

static int
collect_one(void *arg, dyn_slice key, dyn_slice object)
{
	collected  *c = arg;

	assert_true(object.len > 0);
	c->n++;
	dyn_buf_put_blob16(&c->keys, key);
	return c->n == c->stop_at ? 7 : 0;
}

/* Visit partition p after `after` into a fresh c. */
static int
collect(dyn_store *st, uint32_t p, dyn_slice after, size_t stop_at, collected *c)
{
	dyn_buf_reset(&c->keys);
	c->n = 0;
	c->stop_at = stop_at;
	return dyn_store_scan_partition(st, p, after, collect_one, c);
}

/*
 * scan_partition visits the partition's keys in order, only them, starting
 * strictly after `after`; the callback's non-zero value stops it and is
 * returned.
 */
static void
test_scan_partition(void **state)
{
	tfix	   *f = *state;
	collected	all = {0};
	collected	c = {0};
	dyn_slice	none = {NULL, 0};
	dyn_slice  *keys;
	dyn_reader	rd;
	uint32_t	p = 3;
	uint64_t	seen = 0;

	dyn_buf_init(&all.keys);
	dyn_buf_init(&c.keys);
	replica_open(f, 0);
	for (uint32_t i = 0; i < 120; i++)
	{
		char		kb[16];

		do_write(&f->st[0], ks(kb, sizeof(kb), i), false, false, NULL);
	}
	for (uint32_t q = 0; q < NPARTS; q++)
	{
		assert_int_equal(collect(&f->st[0], q, none, 0, &all), DYN_OK);
		seen += all.n;
	}
	assert_int_equal(seen, 120);

	assert_int_equal(collect(&f->st[0], p, none, 0, &all), DYN_OK);
	assert_true(all.n >= 3);
	keys = calloc(all.n, sizeof(dyn_slice));
	assert_non_null(keys);
	dyn_reader_init(&rd, dyn_buf_slice(&all.keys));
	for (size_t i = 0; i < all.n; i++)
	{
		keys[i] = dyn_rd_blob16(&rd);
		assert_int_equal((keys[i].ptr[0] << 8) | keys[i].ptr[1], p);
		if (i > 0)
			assert_true(dyn_slice_cmp(keys[i - 1], keys[i]) < 0);
	}
	/* after each key: exactly the rest */
	for (size_t i = 0; i < all.n; i++)
	{
		assert_int_equal(collect(&f->st[0], p, keys[i], 0, &c), DYN_OK);
		assert_int_equal(c.n, all.n - i - 1);
		if (c.n > 0)
			assert_memory_equal(c.keys.data, all.keys.data + (all.keys.len - c.keys.len),
								c.keys.len);
	}
	/* after a key that is not stored, but sorts between the first two */
	{
		dyn_buf		between;

		dyn_buf_init(&between);
		dyn_buf_append(&between, keys[0].ptr, keys[0].len);
		dyn_buf_put_u8(&between, 0);
		assert_int_equal(collect(&f->st[0], p, dyn_buf_slice(&between), 0, &c), DYN_OK);
		assert_int_equal(c.n, all.n - 1);
		dyn_buf_free(&between);
	}
	/* after something below the partition: all of it; above: nothing */
	assert_int_equal(collect(&f->st[0], p, dyn_slice_str("\x01"), 0, &c), DYN_OK);
	assert_int_equal(c.n, 0);
	assert_int_equal(collect(&f->st[0], p, (dyn_slice) {(const uint8_t *) "\x00", 1}, 0, &c),
					 DYN_OK);
	assert_int_equal(c.n, all.n);
	/* stopped by the callback */
	assert_int_equal(collect(&f->st[0], p, none, 2, &c), 7);
	assert_int_equal(c.n, 2);
	assert_int_equal(collect(&f->st[0], NPARTS, none, 0, &c), DYN_ERR_INVAL);
	/* the last partition reaches the end of the namespace */
	assert_int_equal(collect(&f->st[0], NPARTS - 1, none, 0, &c), DYN_OK);
	free(keys);
	dyn_buf_free(&all.keys);
	dyn_buf_free(&c.keys);
}

/*
 * A write the engine refuses after the store worked out its change (the
 * memory engine's byte cap) changes neither the tree nor the counts.
 */
static void
test_failed_write_not_counted(void **state)
{
	dyn_engine_config cfg = {.name = "memory", .cache_mb = 1};
	dyn_engine *e;
	dyn_store	st;
	char		err[256];
	uint8_t		big[8192];
	dyn_slice	v = {big, sizeof(big)};
	dyn_vclock	w;
	int			rc = DYN_OK;
	uint32_t	i;

	(void) state;
	memset(big, 'x', sizeof(big));
	assert_int_equal(dyn_engine_open(&cfg, &e, err, sizeof(err)), DYN_OK);
	assert_int_equal(dyn_store_open(&st, e, "n1", NPARTS, err, sizeof(err)), DYN_OK);
	for (i = 0; i < 1000 && rc == DYN_OK; i++)
	{
		char		kb[16];

		rc = dyn_store_write(&st, dyn_slice_str("b"), ks(kb, sizeof(kb), i), dyn_slice_str(""),
							 &v, &w);
	}
	assert_int_equal(rc, DYN_ERR_NOMEM);
	assert_int_equal(st.keys, i - 1);
	check_summaries(&st);
	/* and an overwrite that grows an existing key past the cap */
	{
		char		kb[16];

		rc = dyn_store_write(&st, dyn_slice_str("b"), ks(kb, sizeof(kb), 0), dyn_slice_str(""),
							 &v, &w);
	}
	assert_int_equal(rc, DYN_ERR_NOMEM);
	check_summaries(&st);
	dyn_store_close(&st);
	dyn_engine_close(e);
}

/*
 * dyn_store_get_pos reads what dyn_store_get reads when given the key's
 * ring position, and the position is what picks the partition: the
 * position of a key in another partition finds nothing.
 */
static void
test_get_pos(void **state)
{
	fixture    *f = *state;
	dyn_slice	v = dyn_slice_str("positioned");
	dyn_slice	bucket = dyn_slice_str("b");
	dyn_slice	key = dyn_slice_str("pk");
	uint64_t	pos = dyn_key_position(bucket, key);
	uint64_t	other = pos;
	dyn_vclock	written;
	dyn_buf		a;
	dyn_buf		b;

	dyn_buf_init(&a);
	dyn_buf_init(&b);
	assert_int_equal(dyn_store_write(&f->store[0], bucket, key, dyn_slice_str(""), &v,
									 &written), DYN_OK);
	get_copy(&f->store[0], "pk", &a);
	assert_true(a.len > 0);
	assert_int_equal(dyn_store_get_pos(&f->store[0], pos, bucket, key, &b), DYN_OK);
	assert_true(dyn_slice_eq(dyn_buf_slice(&a), dyn_buf_slice(&b)));

	/* the same key under a position in another of the 16 partitions */
	for (char n = 'a'; dyn_partition_of(other, 16) == dyn_partition_of(pos, 16); n++)
		other = dyn_key_position(bucket, (dyn_slice) {(const uint8_t *) &n, 1});
	dyn_buf_reset(&b);
	assert_int_equal(dyn_store_get_pos(&f->store[0], other, bucket, key, &b), DYN_OK);
	assert_int_equal(b.len, 0);
	dyn_buf_free(&a);
	dyn_buf_free(&b);
}

/* The trees' tests, once per engine. */
#define BOTH_ENGINES(t) \
	cmocka_unit_test_prestate_setup_teardown(t, tfix_setup, tfix_teardown, (void *) "memory"), \
	cmocka_unit_test_prestate_setup_teardown(t, tfix_setup, tfix_teardown, (void *) "wiredtiger")

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_then_ship),
		cmocka_unit_test(test_get_pos),
		cmocka_unit_test(test_concurrent_writes_meet),
		cmocka_unit_test(test_merge_refuses_garbage),
		cmocka_unit_test(test_merge_other_namespace),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_object_bytes),
	};
	const struct CMUnitTest trees[] = {
		BOTH_ENGINES(test_random_ops_trees),
		BOTH_ENGINES(test_order_independent_roots),
		BOTH_ENGINES(test_tombstone_count),
		BOTH_ENGINES(test_reap),
		BOTH_ENGINES(test_drop),
		BOTH_ENGINES(test_merge_key),
		BOTH_ENGINES(test_scan_partition),
		cmocka_unit_test(test_failed_write_not_counted),
	};
	int			failed = 0;

	failed += cmocka_run_group_tests(tests, setup, teardown);
	failed += cmocka_run_group_tests_name("trees", trees, NULL, NULL);
	return failed;
}
