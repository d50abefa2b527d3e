/*
 * test_engine.c
 *		Unit tests of the storage engines.
 *
 * One list of tests runs against every engine, each engine opened for the
 * group in a temporary directory of its own and emptied before each test, so
 * the engines are held to the same contract.  WiredTiger then gets tests of what only a disk engine promises:
 * data that outlives a clean close, every durability mode, and commits that
 * survive kill -9 of the process.  The common list runs a third time on
 * WiredTiger behind the object buffer (objbuf.h), which must keep the same
 * contract, and the buffer's own rules have tests of their own: a random
 * run checked against an unbuffered engine, and a batch that fails to
 * commit leaving no copy of what it wrote.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engine.h"
#include "writebehind.h"

/* Keys written and checked by the kill -9 tests. */
#define KILL_KEYS	1000

/*
 * What a group of tests shares: the engine under test, open in (or, for the
 * WiredTiger-only tests, opened by each test under) a temporary directory.
 */
typedef struct fixture
{
	const char *engine;
	bool		buffered;		/* opened with the engine's default object buffer */
	bool		wb;				/* and write-behind (durability none) */
	char		dir[64];		/* from mkdtemp; removed at teardown */
	char		db[96];			/* dir/db: the engine's data directory */
	dyn_engine *e;
} fixture;

/* What collect_fn gathers from a scan. */
typedef struct collected
{
	dyn_buf		keys;			/* each key as a u32 length and its bytes */
	size_t		n;
	size_t		stop_after;		/* stop the scan after this many; 0: never */
	dyn_engine *e;				/* if set, read each key back during the scan */
	int			read_status;	/* first failure of those reads */
} collected;

static int	make_fixture(void **state, const char *engine, bool open_now);
static int	setup_memory(void **state);
static int	setup_wiredtiger(void **state);
static int	setup_wt_buffered(void **state);
static int	setup_wt_wb(void **state);
static int	setup_wt_dir(void **state);
static int	teardown_fixture(void **state);
static int	clear_engine(void **state);
static int	rm_entry(const char *path, const struct stat *st, int flag,
					 struct FTW *ftw);
static dyn_slice bytes(const void *p, size_t len);
static dyn_slice str(const char *s);
static void put_ok(dyn_engine *e, dyn_ns ns, dyn_slice key, dyn_slice value);
static void assert_value(dyn_engine *e, dyn_ns ns, dyn_slice key,
						 dyn_slice want);
static void assert_absent(dyn_engine *e, dyn_ns ns, dyn_slice key);
static uint64_t count_of(dyn_engine *e, dyn_ns ns);
static int	collect_fn(void *arg, dyn_slice key, dyn_slice value);
static void collect(dyn_engine *e, dyn_ns ns, dyn_slice start, dyn_slice end,
					collected *c);
static dyn_slice collected_key(const collected *c, size_t i);
static void assert_range(dyn_engine *e, const char *start, const char *end,
						 int first, int last);
static dyn_engine *open_wt(const char *dir, dyn_durability d);
static void subdir(const fixture *f, const char *name, char *out, size_t len);
static int	kill_child(const char *dir, dyn_durability d, bool group, int fd);
static void *sync_thread(void *arg);
static void kill9_survives(fixture *f, const char *name, dyn_durability d, bool group);
static bool wanted(int argc, char **argv, const char *group);

static void test_put_get_overwrite_delete(void **state);
static void test_get_appends(void **state);
static void test_update(void **state);
static void test_namespaces_are_separate(void **state);
static void test_scan_order(void **state);
static void test_scan_order_random(void **state);
static void test_scan_bounds(void **state);
static void test_scan_early_stop(void **state);
static void test_scan_callback_reads(void **state);
static void test_count(void **state);
static void test_batch(void **state);
static void test_value_sizes(void **state);
static void test_binary_keys(void **state);
static void test_bad_arguments(void **state);
static void test_memory_stats(void **state);
static void test_wt_reopen_keeps_data(void **state);
static void test_wt_durability_modes(void **state);
static void test_wt_close_rolls_back_batch(void **state);
static void test_wt_open_errors(void **state);
static void test_wt_kill9_fsync(void **state);
static void test_wt_kill9_flush(void **state);
static void test_wt_kill9_group_fsync(void **state);
static void test_wt_kill9_group_flush(void **state);
static void test_sync_kind(void **state);
static void test_open_unknown_engine(void **state);
static void test_open_small_errbuf(void **state);
static void test_memory_cap(void **state);
static void test_buffer_against_unbuffered(void **state);
static void test_buffer_failed_commit(void **state);
static void test_buffer_open_errors(void **state);
static void test_buffer_failed_op_in_batch(void **state);

/* ---- fixtures ---- */

/*
 * Make a temporary directory for engine and, if open_now, open the engine
 * in dir/db with FSYNC durability, the strictest path.
 */
static int
make_fixture(void **state, const char *engine, bool open_now)
{
	fixture    *f = calloc(1, sizeof(*f));
	char		err[256];
	dyn_engine_config cfg = {0};

	if (f == NULL)
		return -1;
	f->engine = engine;
	f->buffered = *state != NULL;	/* setup_wt_buffered's mark, or setup_wt_wb's */
	f->wb = *state == (void *) 2;
	snprintf(f->dir, sizeof(f->dir), "/tmp/dyn_test_engine_XXXXXX");
	if (mkdtemp(f->dir) == NULL)
	{
		free(f);
		return -1;
	}
	snprintf(f->db, sizeof(f->db), "%s/db", f->dir);
	if (open_now)
	{
		cfg.name = engine;
		cfg.dir = f->db;
		cfg.durability = f->wb ? DYN_DURABILITY_NONE : DYN_DURABILITY_FSYNC;
		cfg.buffer_mb = f->buffered ? DYN_ENGINE_BUFFER_DEFAULT : 0;
		cfg.write_behind = f->wb ? DYN_WRITE_BEHIND_ON : DYN_WRITE_BEHIND_OFF;
		if (dyn_engine_open(&cfg, &f->e, err, sizeof(err)) != DYN_OK)
		{
			fprintf(stderr, "cannot open %s: %s\n", engine, err);
			*state = f;
			teardown_fixture(state);
			return -1;
		}
	}
	*state = f;
	return 0;
}

static int
setup_memory(void **state)
{
	return make_fixture(state, "memory", true);
}

static int
setup_wiredtiger(void **state)
{
	return make_fixture(state, "wiredtiger", true);
}

/* WiredTiger behind its default object buffer. */
static int
setup_wt_buffered(void **state)
{
	*state = (void *) 1;
	return make_fixture(state, "wiredtiger", true);
}

/* WiredTiger behind its default object buffer, writing behind. */
static int
setup_wt_wb(void **state)
{
	*state = (void *) 2;
	return make_fixture(state, "wiredtiger", true);
}

/* For tests that open (and reopen) WiredTiger engines themselves. */
static int
setup_wt_dir(void **state)
{
	return make_fixture(state, "wiredtiger", false);
}

/* nftw callback for teardown: remove one file or (emptied) directory. */
static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* Close the engine and remove the temporary directory with its contents. */
static int
teardown_fixture(void **state)
{
	fixture    *f = *state;

	if (f == NULL)
		return 0;
	dyn_engine_close(f->e);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	*state = NULL;
	return 0;
}

/*
 * Per-test setup: delete every record of every namespace, so that each test
 * starts from an empty engine whatever ran before it.
 */
static int
clear_engine(void **state)
{
	fixture    *f = *state;

	for (int ns = 0; ns < DYN_NS_COUNT; ns++)
	{
		collected	c = {0};

		dyn_buf_init(&c.keys);
		if (dyn_engine_scan(f->e, ns, bytes(NULL, 0), bytes(NULL, 0),
							collect_fn, &c) != DYN_OK || c.keys.err != 0)
			return -1;
		for (size_t i = 0; i < c.n; i++)
		{
			if (dyn_engine_delete(f->e, ns, collected_key(&c, i)) != DYN_OK)
				return -1;
		}
		dyn_buf_free(&c.keys);
	}
	return 0;
}

/* ---- helpers ---- */

static dyn_slice
bytes(const void *p, size_t len)
{
	dyn_slice	s = {p, len};

	return s;
}

static dyn_slice
str(const char *s)
{
	return dyn_slice_str(s);
}

/* Put, asserting success (with the engine's message on failure). */
static void
put_ok(dyn_engine *e, dyn_ns ns, dyn_slice key, dyn_slice value)
{
	int			rc = dyn_engine_put(e, ns, key, value);

	if (rc != DYN_OK)
		fail_msg("put: %s (%s)", dyn_strerror(rc), dyn_engine_errmsg(e));
}

/* Assert that key holds exactly want. */
static void
assert_value(dyn_engine *e, dyn_ns ns, dyn_slice key, dyn_slice want)
{
	dyn_buf		out;
	int			rc;

	dyn_buf_init(&out);
	rc = dyn_engine_get(e, ns, key, &out);
	if (rc != DYN_OK)
		fail_msg("get: %s (%s)", dyn_strerror(rc), dyn_engine_errmsg(e));
	assert_int_equal(out.len, want.len);
	if (want.len > 0)
		assert_memory_equal(out.data, want.ptr, want.len);
	dyn_buf_free(&out);
}

/* Assert that key is not there. */
static void
assert_absent(dyn_engine *e, dyn_ns ns, dyn_slice key)
{
	dyn_buf		out;

	dyn_buf_init(&out);
	assert_int_equal(dyn_engine_get(e, ns, key, &out), DYN_ERR_NOTFOUND);
	assert_int_equal(out.len, 0);
	dyn_buf_free(&out);
}

static uint64_t
count_of(dyn_engine *e, dyn_ns ns)
{
	uint64_t	n = UINT64_MAX;

	assert_int_equal(dyn_engine_count(e, ns, &n), DYN_OK);
	return n;
}

/*
 * Scan callback: record the key; optionally read it back through the
 * engine, which scans must allow; stop after stop_after keys if set.
 */
static int
collect_fn(void *arg, dyn_slice key, dyn_slice value)
{
	collected  *c = arg;

	dyn_buf_put_blob32(&c->keys, key);
	c->n++;
	if (c->e != NULL)
	{
		dyn_buf		out;
		int			rc;

		dyn_buf_init(&out);
		rc = dyn_engine_get(c->e, DYN_NS_OBJECT, key, &out);
		if (rc == DYN_OK && !dyn_slice_eq(dyn_buf_slice(&out), value))
			rc = DYN_ERR_PROTO;
		if (rc != DYN_OK && c->read_status == DYN_OK)
			c->read_status = rc;
		dyn_buf_free(&out);
	}
	return c->stop_after != 0 && c->n >= c->stop_after;
}

/* Scan [start, end) of ns into c, which the caller frees (keys). */
static void
collect(dyn_engine *e, dyn_ns ns, dyn_slice start, dyn_slice end,
		collected *c)
{
	int			rc;

	dyn_buf_init(&c->keys);
	c->n = 0;
	rc = dyn_engine_scan(e, ns, start, end, collect_fn, c);
	if (rc != DYN_OK)
		fail_msg("scan: %s (%s)", dyn_strerror(rc), dyn_engine_errmsg(e));
	assert_int_equal(c->keys.err, 0);
}

/* The i-th collected key (linear walk: tests collect few keys). */
static dyn_slice
collected_key(const collected *c, size_t i)
{
	dyn_reader	r;
	dyn_slice	k = {NULL, 0};

	dyn_reader_init(&r, dyn_buf_slice(&c->keys));
	for (size_t j = 0; j <= i; j++)
		k = dyn_rd_blob32(&r);
	return k;
}

/* Open WiredTiger in dir with durability d, failing the test if it cannot. */
static dyn_engine *
open_wt(const char *dir, dyn_durability d)
{
	dyn_engine_config cfg = {
		.name = "wiredtiger", .dir = dir, .cache_mb = 64, .durability = d
	};
	dyn_engine *e = NULL;
	char		err[256];

	if (dyn_engine_open(&cfg, &e, err, sizeof(err)) != DYN_OK)
		fail_msg("open %s: %s", dir, err);
	return e;
}

/* A path under the fixture's temporary directory. */
static void
subdir(const fixture *f, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", f->dir, name);
}

/* ---- tests run against every engine ---- */

static void
test_put_get_overwrite_delete(void **state)
{
	dyn_engine *e = ((fixture *) *state)->e;
	uint8_t		big[1000];

	memset(big, 'x', sizeof(big));
	assert_absent(e, DYN_NS_OBJECT, str("alpha"));
	put_ok(e, DYN_NS_OBJECT, str("alpha"), str("1"));
	assert_value(e, DYN_NS_OBJECT, str("alpha"), str("1"));

	/* Same size, larger, much smaller: in place and replaced records. */
	put_ok(e, DYN_NS_OBJECT, str("alpha"), str("2"));
	assert_value(e, DYN_NS_OBJECT, str("alpha"), str("2"));
	put_ok(e, DYN_NS_OBJECT, str("alpha"), bytes(big, sizeof(big)));
	assert_value(e, DYN_NS_OBJECT, str("alpha"), bytes(big, sizeof(big)));
	put_ok(e, DYN_NS_OBJECT, str("alpha"), str("three"));
	assert_value(e, DYN_NS_OBJECT, str("alpha"), str("three"));
	assert_int_equal(count_of(e, DYN_NS_OBJECT), 1);

	put_ok(e, DYN_NS_OBJECT, str("beta"), str("b"));
	assert_int_equal(dyn_engine_delete(e, DYN_NS_OBJECT, str("alpha")), DYN_OK);
	assert_absent(e, DYN_NS_OBJECT, str("alpha"));
	assert_value(e, DYN_NS_OBJECT, str("beta"), str("b"));

	/* Deleting what is not there succeeds. */
	assert_int_equal(dyn_engine_delete(e, DYN_NS_OBJECT, str("alpha")), DYN_OK);
	assert_int_equal(dyn_engine_delete(e, DYN_NS_OBJECT, str("never")), DYN_OK);
	assert_int_equal(count_of(e, DYN_NS_OBJECT), 1);

	/* A deleted key can be written again. */
	put_ok(e, DYN_NS_OBJECT, str("alpha"), str("again"));
	assert_value(e, DYN_NS_OBJECT, str("alpha"), str("again"));
}

/*
 * The update callback of test_update: appends "+" to the old value (or
 * starts at "0"), or aborts with DYN_ERR_INVAL once the value reaches
 * u->stop_at bytes.
 */
typedef struct update_state
{
	dyn_buf		next;
	int			calls;
	bool		saw_old;
	size_t		stop_at;
} update_state;

static int
update_append(void *arg, const dyn_slice *old, dyn_slice *value)
{
	update_state *u = arg;

	u->calls++;
	u->saw_old = (old != NULL);
	if (old != NULL && old->len >= u->stop_at)
		return DYN_ERR_INVAL;
	dyn_buf_reset(&u->next);
	if (old != NULL)
		dyn_buf_append(&u->next, old->ptr, old->len);
	dyn_buf_append(&u->next, old != NULL ? "+" : "0", 1);
	*value = dyn_buf_slice(&u->next);
	return DYN_OK;
}

/*
 * update: inserts an absent key, rewrites a present one from its old value
 * (several times, growing, so both in-place and moved records are met), and
 * an aborting callback leaves the stored value alone.
 */
static void
test_update(void **state)
{
	dyn_engine *e = ((fixture *) *state)->e;
	update_state u = {.stop_at = 64};
	bool		existed = true;
	char		want[80] = "0";

	dyn_buf_init(&u.next);
	assert_int_equal(dyn_engine_update(e, DYN_NS_OBJECT, str("u"), update_append,
									   &u, &existed), DYN_OK);
	assert_false(existed);
	assert_false(u.saw_old);
	assert_value(e, DYN_NS_OBJECT, str("u"), str("0"));
	for (int i = 1; i < 64; i++)
	{
		assert_int_equal(dyn_engine_update(e, DYN_NS_OBJECT, str("u"), update_append,
										   &u, &existed), DYN_OK);
		assert_true(existed);
		assert_true(u.saw_old);
		strcat(want, "+");
		assert_value(e, DYN_NS_OBJECT, str("u"), str(want));
	}
	assert_int_equal(dyn_engine_update(e, DYN_NS_OBJECT, str("u"), update_append,
									   &u, NULL), DYN_ERR_INVAL);
	assert_value(e, DYN_NS_OBJECT, str("u"), str(want));
	assert_int_equal(count_of(e, DYN_NS_OBJECT), 1);
	/* updates inside a batch commit with it */
	assert_int_equal(dyn_engine_begin(e), DYN_OK);
	u.stop_at = 1000;
	assert_int_equal(dyn_engine_update(e, DYN_NS_OBJECT, str("v"), update_append,
									   &u, &existed), DYN_OK);
	assert_int_equal(dyn_engine_update(e, DYN_NS_OBJECT, str("v"), update_append,
									   &u, &existed), DYN_OK);
	assert_true(existed);
	assert_int_equal(dyn_engine_commit(e), DYN_OK);
	assert_value(e, DYN_NS_OBJECT, str("v"), str("0+"));
	assert_int_equal(u.calls, 67);
	dyn_buf_free(&u.next);
}

/* get appends to what out holds, and a miss leaves out alone. */
static void
test_get_appends(void **state)
{
	dyn_engine *e = ((fixture *) *state)->e;
	dyn_buf		out;

	put_ok(e, DYN_NS_OBJECT, str("k"), str("value"));
	dyn_buf_init(&out);
	dyn_buf_append(&out, "pre:", 4);
	assert_int_equal(dyn_engine_get(e, DYN_NS_OBJECT, str("k"), &out), DYN_OK);
	assert_int_equal(out.len, 9);
	assert_memory_equal(out.data, "pre:value", 9);
	assert_int_equal(dyn_engine_get(e, DYN_NS_OBJECT, str("nope"), &out),
					 DYN_ERR_NOTFOUND);
	assert_int_equal(out.len, 9);
	dyn_buf_free(&out);
}

static void
test_namespaces_are_separate(void **state)
{
	dyn_engine *e = ((fixture *) *state)->e;

	put_ok(e, DYN_NS_OBJECT, str("k"), str("object"));
	put_ok(e, DYN_NS_HINT, str("k"), str("hint"));
	put_ok(e, DYN_NS_META, str("k"), str("meta"));
	put_ok(e, DYN_NS_HINT, str("only-hint"), str("h"));
	assert_value(e, DYN_NS_OBJECT, str("k"), str("object"));
	assert_value(e, DYN_NS_HINT, str("k"), str("hint"));
	assert_value(e, DYN_NS_META, str("k"), str("meta"));
	assert_absent(e, DYN_NS_OBJECT, str("only-hint"));
	assert_absent(e, DYN_NS_META, str("only-hint"));
	assert_int_equal(count_of(e, DYN_NS_OBJECT), 1);
	assert_int_equal(count_of(e, DYN_NS_HINT), 2);
	assert_int_equal(count_of(e, DYN_NS_META), 1);

	assert_int_equal(dyn_engine_delete(e, DYN_NS_HINT, str("k")), DYN_OK);
	assert_absent(e, DYN_NS_HINT, str("k"));
	assert_value(e, DYN_NS_OBJECT, str("k"), str("object"));
	assert_value(e, DYN_NS_META, str("k"), str("meta"));
}

/*
 * Keys come back in byte order: unsigned bytes, and a prefix before its
 * extensions, NUL extensions included.
 */
static void
test_scan_order(void **state)
{
	dyn_engine *e = ((fixture *) *state)->e;
	static const struct
	{
		const char *p;
		size_t		len;
	}			sorted[] = {
		{"\x01", 1},
		{"a", 1},
		{"a\0", 2},
		{"a\0\0", 3},
		{"a\0b", 3},
		{"aa", 2},
		{"ab", 2},
		{"a\x7f", 2},
		{"a\x80", 2},
		{"b", 1},
		{"\xff", 1},
		{"\xff\xff", 2},
	};
	size_t		n = sizeof(sorted) / sizeof(sorted[0]);
	collected	c = {0};

	/* Insert in a scrambled order: 7 is coprime with 12. */
	for (size_t i = 0; i < n; i++)
	{
		size_t		j = (i * 7) % n;

		put_ok(e, DYN_NS_OBJECT, bytes(sorted[j].p, sorted[j].len), str("v"));
	}
	collect(e, DYN_NS_OBJECT, bytes(NULL, 0), bytes(NULL, 0), &c);
	assert_int_equal(c.n, n);
	for (size_t i = 0; i < n; i++)
	{
		dyn_slice	k = collected_key(&c, i);

		assert_int_equal(k.len, sorted[i].len);
		assert_memory_equal(k.ptr, sorted[i].p, k.len);
	}
	dyn_buf_free(&c.keys);
}

/*
 * Many random binary keys, with deletes and overwrites mixed in: the scan
 * is strictly increasing and agrees with count and with get.
 */
static void
test_scan_order_random(void **state)
{
	dyn_engine *e = ((fixture *) *state)->e;
	uint64_t	x = 88172645463325252ULL;
	uint8_t		key[6];
	collected	c = {0};

	for (int i = 0; i < 3000; i++)
	{
		size_t		len;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		len = 1 + x % sizeof(key);
		for (size_t j = 0; j < len; j++)
			key[j] = (uint8_t) (x >> (8 * j + 3)) & 0x1f;	/* many shared prefixes */
		if (i % 5 == 4)
			assert_int_equal(dyn_engine_delete(e, DYN_NS_META, bytes(key, len)),
							 DYN_OK);
		else
			put_ok(e, DYN_NS_META, bytes(key, len), bytes(key, len));
	}
	collect(e, DYN_NS_META, bytes(NULL, 0), bytes(NULL, 0), &c);
	assert_true(c.n > 100);
	assert_int_equal(c.n, count_of(e, DYN_NS_META));
	for (size_t i = 0; i < c.n; i++)
	{
		dyn_slice	k = collected_key(&c, i);

		assert_value(e, DYN_NS_META, k, k);
		if (i > 0)
		{
			dyn_slice	p = collected_key(&c, i - 1);
			size_t		m = p.len < k.len ? p.len : k.len;
			int			cmp = memcmp(p.ptr, k.ptr, m);

			assert_true(cmp < 0 || (cmp == 0 && p.len < k.len));
		}
	}
	dyn_buf_free(&c.keys);
}

/* Assert that scanning [start, end) of DYN_NS_OBJECT gives keys first..last. */
static void
assert_range(dyn_engine *e, const char *start, const char *end,
			 int first, int last)
{
	collected	c = {0};

	collect(e, DYN_NS_OBJECT, str(start), str(end), &c);
	assert_int_equal(c.n, last >= first ? (size_t) (last - first + 1) : 0);
	for (size_t i = 0; i < c.n; i++)
	{
		char		want[8];

		snprintf(want, sizeof(want), "k%02d", first + (int) i);
		assert_true(dyn_slice_eq(collected_key(&c, i), str(want)));
	}
	dyn_buf_free(&c.keys);
}

static void
test_scan_bounds(void **state)
{
	dyn_engine *e = ((fixture *) *state)->e;

	for (int i = 0; i < 20; i++)
	{
		char		k[8];

		snprintf(k, sizeof(k), "k%02d", i);
		put_ok(e, DYN_NS_OBJECT, str(k), str(k));
	}
	put_ok(e, DYN_NS_HINT, str("k05"), str("other namespace"));

	assert_range(e, "", "", 0, 19);			/* everything */
	assert_range(e, "k05", "k10", 5, 9);	/* start included, end excluded */
	assert_range(e, "k05a", "k10", 6, 9);	/* start between keys */
	assert_range(e, "k05", "k09z", 5, 9);	/* end between keys */
	assert_range(e, "k15", "", 15, 19);		/* empty end: to the end */
	assert_range(e, "", "k03", 0, 2);		/* empty start: from the start */
	assert_range(e, "a", "k02", 0, 1);		/* start before every key */
	assert_range(e, "k07", "k07", 0, -1);	/* empty range */
	assert_range(e, "k09", "k03", 0, -1);	/* inverted range */
	assert_range(e, "l", "", 0, -1);		/* start after every key */
	assert_range(e, "k", "k00", 0, -1);		/* end at the first key */
}

static void
test_scan_early_stop(void **state)
{
	dyn_engine *e = ((fixture *) *state)->e;
	collected	c = {.stop_after = 3};

	for (int i = 0; i < 10; i++)
	{
		char		k[8];

		snprintf(k, sizeof(k), "k%02d", i);
		put_ok(e, DYN_NS_OBJECT, str(k), str("v"));
	}
	collect(e, DYN_NS_OBJECT, str("k02"), bytes(NULL, 0), &c);
	assert_int_equal(c.n, 3);
	assert_true(dyn_slice_eq(collected_key(&c, 2), str("k04")));
	dyn_buf_free(&c.keys);
}

/* A scan callback may read from the engine (dynamod compares replicas so). */
static void
test_scan_callback_reads(void **state)
{
	dyn_engine *e = ((fixture *) *state)->e;
	collected	c = {.e = e};

	for (int i = 0; i < 50; i++)
	{
		char		k[8];

		snprintf(k, sizeof(k), "r%02d", i);
		put_ok(e, DYN_NS_OBJECT, str(k), str(k + 1));
	}
	collect(e, DYN_NS_OBJECT, bytes(NULL, 0), bytes(NULL, 0), &c);
	assert_int_equal(c.n, 50);
	assert_int_equal(c.read_status, DYN_OK);
	dyn_buf_free(&c.keys);
}

static void
test_count(void **state)
{
	dyn_engine *e = ((fixture *) *state)->e;

	assert_int_equal(count_of(e, DYN_NS_OBJECT), 0);
	for (int i = 0; i < 100; i++)
	{
		char		k[8];

		snprintf(k, sizeof(k), "c%03d", i);
		put_ok(e, DYN_NS_OBJECT, str(k), str("v"));
	}
	assert_int_equal(count_of(e, DYN_NS_OBJECT), 100);
	put_ok(e, DYN_NS_OBJECT, str("c000"), str("overwritten"));
	assert_int_equal(count_of(e, DYN_NS_OBJECT), 100);
	for (int i = 0; i < 10; i++)
	{
		char		k[8];

		snprintf(k, sizeof(k), "c%03d", i * 10);
		assert_int_equal(dyn_engine_delete(e, DYN_NS_OBJECT, str(k)), DYN_OK);
	}
	assert_int_equal(count_of(e, DYN_NS_OBJECT), 90);
	assert_int_equal(count_of(e, DYN_NS_HINT), 0);
}

static void
test_batch(void **state)
{
	dyn_engine *e = ((fixture *) *state)->e;

	put_ok(e, DYN_NS_OBJECT, str("doomed"), str("x"));

	assert_int_equal(dyn_engine_begin(e), DYN_OK);
	put_ok(e, DYN_NS_OBJECT, str("b1"), str("one"));
	put_ok(e, DYN_NS_HINT, str("b2"), str("two"));
	put_ok(e, DYN_NS_OBJECT, str("b1"), str("one again"));
	assert_int_equal(dyn_engine_delete(e, DYN_NS_OBJECT, str("doomed")), DYN_OK);

	/* The batch reads its own writes. */
	assert_value(e, DYN_NS_OBJECT, str("b1"), str("one again"));
	assert_absent(e, DYN_NS_OBJECT, str("doomed"));

	/* Batches do not nest; the refusal leaves the open batch usable. */
	assert_int_equal(dyn_engine_begin(e), DYN_ERR_INVAL);
	assert_non_null(strstr(dyn_engine_errmsg(e), "already open"));
	put_ok(e, DYN_NS_META, str("b3"), str("three"));
	assert_int_equal(dyn_engine_commit(e), DYN_OK);

	assert_value(e, DYN_NS_OBJECT, str("b1"), str("one again"));
	assert_value(e, DYN_NS_HINT, str("b2"), str("two"));
	assert_value(e, DYN_NS_META, str("b3"), str("three"));
	assert_absent(e, DYN_NS_OBJECT, str("doomed"));

	/* Commit needs an open batch; an empty batch is fine. */
	assert_int_equal(dyn_engine_commit(e), DYN_ERR_INVAL);
	assert_non_null(strstr(dyn_engine_errmsg(e), "no batch"));
	assert_int_equal(dyn_engine_begin(e), DYN_OK);
	assert_int_equal(dyn_engine_commit(e), DYN_OK);

	/* Many writes in one batch. */
	assert_int_equal(dyn_engine_begin(e), DYN_OK);
	for (int i = 0; i < 500; i++)
	{
		char		k[8];

		snprintf(k, sizeof(k), "m%03d", i);
		put_ok(e, DYN_NS_OBJECT, str(k), str(k));
	}
	assert_int_equal(dyn_engine_commit(e), DYN_OK);
	assert_int_equal(count_of(e, DYN_NS_OBJECT), 501);
}

static void
test_value_sizes(void **state)
{
	dyn_engine *e = ((fixture *) *state)->e;
	size_t		mib = 1024 * 1024;
	uint8_t    *big = malloc(mib);
	dyn_buf		out;

	assert_non_null(big);
	for (size_t i = 0; i < mib; i++)
		big[i] = (uint8_t) (i * 31 + (i >> 12));

	/* An empty value is a value, not an absence. */
	put_ok(e, DYN_NS_OBJECT, str("empty"), bytes(NULL, 0));
	dyn_buf_init(&out);
	assert_int_equal(dyn_engine_get(e, DYN_NS_OBJECT, str("empty"), &out), DYN_OK);
	assert_int_equal(out.len, 0);
	dyn_buf_free(&out);
	assert_int_equal(count_of(e, DYN_NS_OBJECT), 1);

	put_ok(e, DYN_NS_OBJECT, str("big"), bytes(big, mib));
	assert_value(e, DYN_NS_OBJECT, str("big"), bytes(big, mib));
	put_ok(e, DYN_NS_OBJECT, str("big"), str("small"));
	assert_value(e, DYN_NS_OBJECT, str("big"), str("small"));
	put_ok(e, DYN_NS_OBJECT, str("big"), bytes(big, mib));
	assert_value(e, DYN_NS_OBJECT, str("big"), bytes(big, mib));
	put_ok(e, DYN_NS_OBJECT, str("empty"), bytes(big, mib));
	put_ok(e, DYN_NS_OBJECT, str("big"), bytes(NULL, 0));
	assert_value(e, DYN_NS_OBJECT, str("big"), bytes(NULL, 0));
	assert_value(e, DYN_NS_OBJECT, str("empty"), bytes(big, mib));
	free(big);
}

static void
test_binary_keys(void **state)
{
	dyn_engine *e = ((fixture *) *state)->e;
	collected	c = {0};

	put_ok(e, DYN_NS_OBJECT, bytes("k", 1), str("plain"));
	put_ok(e, DYN_NS_OBJECT, bytes("k\0", 2), str("nul"));
	put_ok(e, DYN_NS_OBJECT, bytes("k\0a", 3), str("nul-a"));
	put_ok(e, DYN_NS_OBJECT, bytes("k\0b", 3), str("nul-b"));
	put_ok(e, DYN_NS_OBJECT, bytes("\0", 1), str("just nul"));
	put_ok(e, DYN_NS_OBJECT, bytes("\0\0", 2), str("two nuls"));

	assert_value(e, DYN_NS_OBJECT, bytes("k", 1), str("plain"));
	assert_value(e, DYN_NS_OBJECT, bytes("k\0", 2), str("nul"));
	assert_value(e, DYN_NS_OBJECT, bytes("k\0a", 3), str("nul-a"));
	assert_value(e, DYN_NS_OBJECT, bytes("k\0b", 3), str("nul-b"));
	assert_value(e, DYN_NS_OBJECT, bytes("\0", 1), str("just nul"));
	assert_value(e, DYN_NS_OBJECT, bytes("\0\0", 2), str("two nuls"));
	assert_absent(e, DYN_NS_OBJECT, bytes("k\0c", 3));
	assert_int_equal(count_of(e, DYN_NS_OBJECT), 6);

	/* A partition-style prefix range: everything under "k\0". */
	collect(e, DYN_NS_OBJECT, bytes("k\0", 2), bytes("k\1", 2), &c);
	assert_int_equal(c.n, 3);
	assert_true(dyn_slice_eq(collected_key(&c, 0), bytes("k\0", 2)));
	assert_true(dyn_slice_eq(collected_key(&c, 1), bytes("k\0a", 3)));
	assert_true(dyn_slice_eq(collected_key(&c, 2), bytes("k\0b", 3)));
	dyn_buf_free(&c.keys);

	assert_int_equal(dyn_engine_delete(e, DYN_NS_OBJECT, bytes("k\0", 2)), DYN_OK);
	assert_absent(e, DYN_NS_OBJECT, bytes("k\0", 2));
	assert_value(e, DYN_NS_OBJECT, bytes("k", 1), str("plain"));
	assert_value(e, DYN_NS_OBJECT, bytes("k\0a", 3), str("nul-a"));
}

/* Empty keys and bad namespaces are refused the same way by every engine. */
static void
test_bad_arguments(void **state)
{
	dyn_engine *e = ((fixture *) *state)->e;
	dyn_buf		out;
	uint64_t	n;

	dyn_buf_init(&out);
	assert_int_equal(dyn_engine_put(e, DYN_NS_OBJECT, bytes(NULL, 0), str("v")),
					 DYN_ERR_INVAL);
	assert_non_null(strstr(dyn_engine_errmsg(e), "empty key"));
	assert_int_equal(dyn_engine_get(e, DYN_NS_OBJECT, bytes("", 0), &out),
					 DYN_ERR_INVAL);
	assert_int_equal(dyn_engine_delete(e, DYN_NS_OBJECT, bytes("", 0)),
					 DYN_ERR_INVAL);
	assert_int_equal(dyn_engine_put(e, DYN_NS_COUNT, str("k"), str("v")),
					 DYN_ERR_INVAL);
	assert_non_null(strstr(dyn_engine_errmsg(e), "namespace"));
	assert_int_equal(dyn_engine_get(e, (dyn_ns) -1, str("k"), &out),
					 DYN_ERR_INVAL);
	assert_int_equal(dyn_engine_count(e, (dyn_ns) 7, &n), DYN_ERR_INVAL);
	assert_int_equal(dyn_engine_scan(e, DYN_NS_OBJECT, str(""), str(""), NULL, NULL),
					 DYN_ERR_INVAL);
	assert_int_equal(count_of(e, DYN_NS_OBJECT), 0);
	assert_string_equal(dyn_engine_name(e), ((fixture *) *state)->engine);
	dyn_buf_free(&out);
}

/* ---- WiredTiger only ---- */

static void
test_wt_reopen_keeps_data(void **state)
{
	fixture    *f = *state;
	char		dir[128];
	dyn_engine *e;

	subdir(f, "reopen", dir, sizeof(dir));
	e = open_wt(dir, DYN_DURABILITY_NONE);
	put_ok(e, DYN_NS_OBJECT, str("o"), str("object"));
	put_ok(e, DYN_NS_HINT, str("h"), str("hint"));
	assert_int_equal(dyn_engine_begin(e), DYN_OK);
	put_ok(e, DYN_NS_META, str("m"), str("meta"));
	put_ok(e, DYN_NS_OBJECT, bytes("bin\0key", 7), bytes("\0\1\2", 3));
	assert_int_equal(dyn_engine_commit(e), DYN_OK);
	put_ok(e, DYN_NS_OBJECT, str("gone"), str("soon"));
	assert_int_equal(dyn_engine_delete(e, DYN_NS_OBJECT, str("gone")), DYN_OK);
	dyn_engine_close(e);

	/* Durability NONE still keeps everything across a clean close. */
	e = open_wt(dir, DYN_DURABILITY_NONE);
	assert_value(e, DYN_NS_OBJECT, str("o"), str("object"));
	assert_value(e, DYN_NS_HINT, str("h"), str("hint"));
	assert_value(e, DYN_NS_META, str("m"), str("meta"));
	assert_value(e, DYN_NS_OBJECT, bytes("bin\0key", 7), bytes("\0\1\2", 3));
	assert_absent(e, DYN_NS_OBJECT, str("gone"));
	assert_int_equal(count_of(e, DYN_NS_OBJECT), 2);
	dyn_engine_close(e);
}

/*
 * Every durability mode opens, writes and reads back after a reopen, and a
 * node can be restarted with a different mode on the same data.
 */
static void
test_wt_durability_modes(void **state)
{
	fixture    *f = *state;
	static const dyn_durability modes[] = {
		DYN_DURABILITY_NONE, DYN_DURABILITY_FLUSH, DYN_DURABILITY_FSYNC,
		DYN_DURABILITY_NONE, DYN_DURABILITY_FSYNC, DYN_DURABILITY_FLUSH,
	};
	char		shared[128];

	subdir(f, "modes-shared", shared, sizeof(shared));
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++)
	{
		char		dir[128];
		char		k[16];
		dyn_engine *e;

		/* A fresh database in this mode... */
		snprintf(dir, sizeof(dir), "%s/mode%zu", f->dir, m);
		e = open_wt(dir, modes[m]);
		put_ok(e, DYN_NS_OBJECT, str("auto"), str("commit"));
		assert_int_equal(dyn_engine_begin(e), DYN_OK);
		put_ok(e, DYN_NS_OBJECT, str("in"), str("batch"));
		assert_int_equal(dyn_engine_commit(e), DYN_OK);
		dyn_engine_close(e);
		e = open_wt(dir, modes[m]);
		assert_value(e, DYN_NS_OBJECT, str("auto"), str("commit"));
		assert_value(e, DYN_NS_OBJECT, str("in"), str("batch"));
		dyn_engine_close(e);

		/* ...and one database reopened in each mode in turn. */
		e = open_wt(shared, modes[m]);
		snprintf(k, sizeof(k), "m%zu", m);
		put_ok(e, DYN_NS_OBJECT, str(k), str(k));
		assert_int_equal(count_of(e, DYN_NS_OBJECT), m + 1);
		for (size_t i = 0; i <= m; i++)
		{
			snprintf(k, sizeof(k), "m%zu", i);
			assert_value(e, DYN_NS_OBJECT, str(k), str(k));
		}
		dyn_engine_close(e);
	}
}

/* Writes of a batch still open at close were never acknowledged: gone. */
static void
test_wt_close_rolls_back_batch(void **state)
{
	fixture    *f = *state;
	char		dir[128];
	dyn_engine *e;

	subdir(f, "rollback", dir, sizeof(dir));
	e = open_wt(dir, DYN_DURABILITY_FSYNC);
	put_ok(e, DYN_NS_OBJECT, str("before"), str("kept"));
	assert_int_equal(dyn_engine_begin(e), DYN_OK);
	put_ok(e, DYN_NS_OBJECT, str("during"), str("lost"));
	dyn_engine_close(e);

	e = open_wt(dir, DYN_DURABILITY_FSYNC);
	assert_value(e, DYN_NS_OBJECT, str("before"), str("kept"));
	assert_absent(e, DYN_NS_OBJECT, str("during"));
	dyn_engine_close(e);
}

static void
test_wt_open_errors(void **state)
{
	fixture    *f = *state;
	dyn_engine_config cfg = {.name = "wiredtiger"};
	char		dir[160];
	char		file[128];
	char		err[256];
	dyn_engine *e,
			   *second = NULL;
	FILE	   *fp;

	/* A data directory that is a file. */
	subdir(f, "plain-file", file, sizeof(file));
	fp = fopen(file, "w");
	assert_non_null(fp);
	fclose(fp);
	cfg.dir = file;
	assert_int_not_equal(dyn_engine_open(&cfg, &second, err, sizeof(err)), DYN_OK);
	assert_null(second);
	assert_true(strlen(err) > 0);

	/* A data directory under a file cannot be made. */
	snprintf(dir, sizeof(dir), "%s/below", file);
	cfg.dir = dir;
	assert_int_equal(dyn_engine_open(&cfg, &second, err, sizeof(err)), DYN_ERR_IO);
	assert_non_null(strstr(err, "cannot create"));

	/* Missing parents are made. */
	subdir(f, "a/b/c", dir, sizeof(dir));
	e = open_wt(dir, DYN_DURABILITY_NONE);

	/* The same database twice: WiredTiger's lock file refuses the second. */
	cfg.dir = dir;
	assert_int_equal(dyn_engine_open(&cfg, &second, err, sizeof(err)),
					 DYN_ERR_ENGINE);
	assert_null(second);
	assert_non_null(strstr(err, "wiredtiger_open"));
	dyn_engine_close(e);

	/* No directory at all. */
	cfg.dir = NULL;
	assert_int_equal(dyn_engine_open(&cfg, &second, err, sizeof(err)),
					 DYN_ERR_INVAL);
}

/* What the group-commit child's sync thread runs. */
typedef struct sync_job
{
	dyn_engine *e;
	int			rc;
	char		err[256];
} sync_job;

static void *
sync_thread(void *arg)
{
	sync_job   *j = arg;

	j->rc = dyn_engine_sync(j->e, j->err, sizeof(j->err));
	return NULL;
}

/*
 * The child of the kill -9 tests: open WiredTiger in dir, write KILL_KEYS
 * keys each in its own commit (alternately an implicit and an explicit
 * one, so both paths are covered), report "done" on fd and wait to be
 * killed.  With group commit the commits do not wait: one dyn_engine_sync,
 * on a thread of its own while this one goes on writing (as dynamod runs
 * it), must make all of them durable.  Returns (to _exit) only on failure.
 */
static int
kill_child(const char *dir, dyn_durability d, bool group, int fd)
{
	dyn_engine_config cfg = {.name = "wiredtiger", .dir = dir, .durability = d,
	.group_commit = group};
	dyn_engine *e;
	char		err[256];
	sync_job	job;
	pthread_t	t;

	if (dyn_engine_open(&cfg, &e, err, sizeof(err)) != DYN_OK)
	{
		fprintf(stderr, "child: %s\n", err);
		return 1;
	}
	for (int i = 0; i < KILL_KEYS; i++)
	{
		char		k[16];
		bool		batch = (i % 2) == 1;

		snprintf(k, sizeof(k), "key%04d", i);
		if ((batch && dyn_engine_begin(e) != DYN_OK) ||
			dyn_engine_put(e, DYN_NS_OBJECT, str(k), str(k)) != DYN_OK ||
			(batch && dyn_engine_commit(e) != DYN_OK))
		{
			fprintf(stderr, "child: %s\n", dyn_engine_errmsg(e));
			return 1;
		}
	}
	if (group)
	{
		if (dyn_engine_sync_kind(e) != (d == DYN_DURABILITY_FSYNC ? DYN_SYNC_THREAD :
										DYN_SYNC_INLINE) ||
			dyn_engine_writes(e) != KILL_KEYS)
		{
			fprintf(stderr, "child: wrong sync kind or write count\n");
			return 1;
		}
		job.e = e;
		if (pthread_create(&t, NULL, sync_thread, &job) != 0)
			return 1;
		/* writes made while the sync runs: it need not cover them */
		for (int i = 0; i < KILL_KEYS; i++)
		{
			char		k[16];

			snprintf(k, sizeof(k), "late%04d", i);
			if (dyn_engine_put(e, DYN_NS_META, str(k), str(k)) != DYN_OK)
				return 1;
		}
		pthread_join(t, NULL);
		if (job.rc != DYN_OK)
		{
			fprintf(stderr, "child: sync: %s\n", job.err);
			return 1;
		}
	}
	if (write(fd, "done", 4) != 4)
		return 1;
	for (;;)
		pause();
}

/*
 * Fork a child that commits KILL_KEYS keys under durability d and then
 * SIGKILL it: no close, no checkpoint, so the keys are only in the log.
 * Reopening must recover every one of them.
 */
static void
kill9_survives(fixture *f, const char *name, dyn_durability d, bool group)
{
	char		dir[128];
	char		msg[4];
	int			fds[2];
	pid_t		pid;
	int			status;
	ssize_t		got = 0;
	dyn_engine *e;

	subdir(f, name, dir, sizeof(dir));
	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
	{
		close(fds[0]);
		_exit(kill_child(dir, d, group, fds[1]));
	}
	close(fds[1]);

	/* A child stuck for a minute fails the test rather than hanging it. */
	while (got < (ssize_t) sizeof(msg))
	{
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		int			ready = poll(&pfd, 1, 60 * 1000);
		ssize_t		r;

		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0)
			break;
		r = read(fds[0], msg + got, sizeof(msg) - (size_t) got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += r;
	}
	close(fds[0]);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(got, 4);
	assert_memory_equal(msg, "done", 4);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	e = open_wt(dir, d);
	assert_int_equal(count_of(e, DYN_NS_OBJECT), KILL_KEYS);
	for (int i = 0; i < KILL_KEYS; i++)
	{
		char		k[16];

		snprintf(k, sizeof(k), "key%04d", i);
		assert_value(e, DYN_NS_OBJECT, str(k), str(k));
	}
	dyn_engine_close(e);
}

static void
test_wt_kill9_fsync(void **state)
{
	kill9_survives(*state, "kill9-fsync", DYN_DURABILITY_FSYNC, false);
}

/* FLUSH promises the same against a process crash (not a power loss). */
static void
test_wt_kill9_flush(void **state)
{
	kill9_survives(*state, "kill9-flush", DYN_DURABILITY_FLUSH, false);
}

/*
 * Group commit: commits that did not wait, made durable by one sync run on
 * another thread, survive kill -9 too, under either durability.
 */
static void
test_wt_kill9_group_fsync(void **state)
{
	kill9_survives(*state, "kill9-group-fsync", DYN_DURABILITY_FSYNC, true);
}

static void
test_wt_kill9_group_flush(void **state)
{
	kill9_survives(*state, "kill9-group-flush", DYN_DURABILITY_FLUSH, true);
}

/* Without group commit, or without a log, there is nothing to sync. */
static void
test_sync_kind(void **state)
{
	fixture    *f = *state;
	dyn_engine_config cfg = {.name = "memory", .group_commit = true};
	dyn_engine *e;
	char		dir[128];
	char		err[256];

	assert_int_equal(dyn_engine_open(&cfg, &e, err, sizeof(err)), DYN_OK);
	assert_int_equal(dyn_engine_sync_kind(e), DYN_SYNC_NONE);
	assert_int_equal(dyn_engine_put(e, DYN_NS_OBJECT, str("k"), str("v")), DYN_OK);
	assert_int_equal(dyn_engine_writes(e), 1);
	assert_int_equal(dyn_engine_sync(e, err, sizeof(err)), DYN_OK);
	dyn_engine_close(e);

	subdir(f, "sync-kind", dir, sizeof(dir));
	cfg = (dyn_engine_config) {.name = "wiredtiger", .dir = dir,
	.durability = DYN_DURABILITY_NONE, .group_commit = true};
	assert_int_equal(dyn_engine_open(&cfg, &e, err, sizeof(err)), DYN_OK);
	assert_int_equal(dyn_engine_sync_kind(e), DYN_SYNC_NONE);
	dyn_engine_close(e);
	cfg.durability = DYN_DURABILITY_FSYNC;
	cfg.group_commit = false;
	assert_int_equal(dyn_engine_open(&cfg, &e, err, sizeof(err)), DYN_OK);
	assert_int_equal(dyn_engine_sync_kind(e), DYN_SYNC_NONE);
	dyn_engine_close(e);
}

/* ---- opening ---- */

static void
test_open_unknown_engine(void **state)
{
	dyn_engine_config cfg = {.name = "rocksdb", .dir = "/nonexistent"};
	dyn_engine	dummy;
	dyn_engine *e = &dummy;		/* open must set it to NULL on failure */
	char		err[256];

	(void) state;
	assert_int_equal(dyn_engine_open(&cfg, &e, err, sizeof(err)), DYN_ERR_INVAL);
	assert_null(e);
	assert_non_null(strstr(err, "rocksdb"));
	assert_non_null(strstr(err, "wiredtiger"));
	assert_non_null(strstr(err, "memory"));

	cfg.name = NULL;
	assert_int_equal(dyn_engine_open(&cfg, &e, err, sizeof(err)), DYN_ERR_INVAL);
	assert_true(strlen(err) > 0);
	assert_int_equal(dyn_engine_open(NULL, &e, err, sizeof(err)), DYN_ERR_INVAL);

	/* No error buffer at all is allowed. */
	cfg.name = "nope";
	assert_int_equal(dyn_engine_open(&cfg, &e, NULL, 0), DYN_ERR_INVAL);
	dyn_engine_close(NULL);
}

/* A short error buffer gets a truncated, terminated message. */
static void
test_open_small_errbuf(void **state)
{
	dyn_engine_config cfg = {.name = "a-long-unknown-engine-name"};
	dyn_engine *e;
	char		err[9];

	(void) state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(dyn_engine_open(&cfg, &e, err, sizeof(err)), DYN_ERR_INVAL);
	assert_int_equal(strlen(err), sizeof(err) - 1);
}

/*
 * What the engine reports holding covers the bytes written (for the memory
 * engine, grows by them), the dirty part is within it, and the bound is the
 * one it was opened with
 * (the fixture passes none: WiredTiger's default of 256 MiB, the memory
 * engine's "no cap").
 */
static void
test_memory_stats(void **state)
{
	fixture    *f = *state;
	dyn_engine_meminfo before,
				after;
	uint8_t		value[1000];
	char		key[32];

	memset(value, 'v', sizeof(value));
	assert_int_equal(dyn_engine_memory_stats(f->e, &before), DYN_OK);
	for (int i = 0; i < 100; i++)
	{
		snprintf(key, sizeof(key), "mem%03d", i);
		put_ok(f->e, DYN_NS_OBJECT, str(key), bytes(value, sizeof(value)));
	}
	if (f->wb)
		(void) count_of(f->e, DYN_NS_OBJECT);	/* waits for the writer's inserts */
	assert_int_equal(dyn_engine_memory_stats(f->e, &after), DYN_OK);
	assert_true(after.cache_dirty <= after.cache_bytes);
	if (strcmp(f->engine, "wiredtiger") == 0)
	{
		/* earlier tests' pages may have been evicted meanwhile: no delta */
		assert_true(after.cache_bytes >= 100 * sizeof(value));
		/* the object buffer comes out of the cache: together, --cache-mb */
		assert_int_equal(after.cache_max + after.buffer_max, (uint64_t) 256 * 1024 * 1024);
		assert_int_equal(after.buffer_max, f->buffered ? (uint64_t) 32 * 1024 * 1024 : 0);
		if (f->buffered)
			assert_true(after.buffer_entries >= 100 && after.buffer_bytes <= after.buffer_max);
		else
			assert_int_equal(after.buffer_entries, 0);
	}
	else
	{
		assert_true(after.cache_bytes >= before.cache_bytes + 100 * sizeof(value));
		assert_int_equal(after.cache_dirty, after.cache_bytes);
		assert_int_equal(after.cache_max, 0);
	}
}

/* The memory engine keeps within cache_mb, refusing writes beyond it. */
static void
test_memory_cap(void **state)
{
	dyn_engine_config cfg = {.name = "memory", .cache_mb = 1};
	dyn_engine *e;
	char		err[256];
	size_t		halflen = 512 * 1024;
	uint8_t    *half = calloc(1, halflen);

	(void) state;
	assert_non_null(half);
	assert_int_equal(dyn_engine_open(&cfg, &e, err, sizeof(err)), DYN_OK);
	assert_string_equal(dyn_engine_name(e), "memory");
	put_ok(e, DYN_NS_OBJECT, str("a"), bytes(half, halflen));
	assert_int_equal(dyn_engine_put(e, DYN_NS_OBJECT, str("b"),
									bytes(half, halflen)),
					 DYN_ERR_NOMEM);
	assert_non_null(strstr(dyn_engine_errmsg(e), "full"));
	assert_absent(e, DYN_NS_OBJECT, str("b"));
	assert_int_equal(dyn_engine_delete(e, DYN_NS_OBJECT, str("a")), DYN_OK);
	put_ok(e, DYN_NS_OBJECT, str("b"), bytes(half, halflen));
	dyn_engine_close(e);
	free(half);
}

/* ---- the object buffer (engine.c's rules) ---- */

/* What update_set_fn stores: a fixed value, or an abort. */
typedef struct update_set
{
	dyn_slice	value;
	int			rc;				/* returned instead when non-zero */
} update_set;

static int
update_set_fn(void *arg, const dyn_slice *old, dyn_slice *value)
{
	update_set *u = arg;

	(void) old;
	if (u->rc != 0)
		return u->rc;
	*value = u->value;
	return DYN_OK;
}

/* get on both engines: the same status and the same bytes. */
static void
assert_same_get(dyn_engine *a, dyn_engine *b, dyn_slice key)
{
	dyn_buf		va,
				vb;
	int			ra,
				rb;

	dyn_buf_init(&va);
	dyn_buf_init(&vb);
	ra = dyn_engine_get(a, DYN_NS_OBJECT, key, &va);
	rb = dyn_engine_get(b, DYN_NS_OBJECT, key, &vb);
	assert_int_equal(ra, rb);
	assert_int_equal(va.len, vb.len);
	if (va.len > 0)
		assert_memory_equal(va.data, vb.data, va.len);
	dyn_buf_free(&va);
	dyn_buf_free(&vb);
}

/*
 * A random run of gets, puts, updates (storing and aborting), deletes and
 * committed batches, on WiredTiger behind a 1 MB buffer (so it evicts) and
 * on the memory engine without one: every get agrees, and the buffer was
 * used (hits) and full (evictions).
 */
static void
test_buffer_against_unbuffered(void **state)
{
	fixture    *f = *state;
	dyn_engine_config cfg = {.name = "wiredtiger", .dir = f->db, .cache_mb = 16,
	.buffer_mb = 1, .durability = DYN_DURABILITY_NONE};
	dyn_engine_config mcfg = {.name = "memory"};
	dyn_engine *wt;
	dyn_engine *mem;
	dyn_engine_meminfo mi;
	char		err[256];
	static uint8_t value[3000];
	uint64_t	rng = 7;
	bool		in_batch = false;

	assert_int_equal(dyn_engine_open(&cfg, &wt, err, sizeof(err)), DYN_OK);
	assert_int_equal(dyn_engine_open(&mcfg, &mem, err, sizeof(err)), DYN_OK);
	for (size_t i = 0; i < sizeof(value); i++)
		value[i] = (uint8_t) (i * 7);
	for (int step = 0; step < 20000; step++)
	{
		char		key[16];
		uint64_t	r;
		int			op;
		dyn_slice	v;

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		r = rng;
		snprintf(key, sizeof(key), "k%llu", (unsigned long long) (r % 1500));
		op = (int) ((r >> 20) % 100);
		/* a value of 1 to 3000 bytes whose contents say which step wrote it */
		v = bytes(value + (r >> 40) % 1000, 1 + (r >> 30) % 2000);
		if (op < 45)
			assert_same_get(wt, mem, str(key));
		else if (op < 70)
		{
			put_ok(wt, DYN_NS_OBJECT, str(key), v);
			put_ok(mem, DYN_NS_OBJECT, str(key), v);
		}
		else if (op < 85)
		{
			update_set	u = {v, (r >> 50) % 4 == 0 ? DYN_ERR_TOOBIG : 0};
			int			want = u.rc != 0 ? u.rc : DYN_OK;

			assert_int_equal(dyn_engine_update(wt, DYN_NS_OBJECT, str(key),
											   update_set_fn, &u, NULL), want);
			assert_int_equal(dyn_engine_update(mem, DYN_NS_OBJECT, str(key),
											   update_set_fn, &u, NULL), want);
		}
		else if (op < 95)
		{
			assert_int_equal(dyn_engine_delete(wt, DYN_NS_OBJECT, str(key)), DYN_OK);
			assert_int_equal(dyn_engine_delete(mem, DYN_NS_OBJECT, str(key)), DYN_OK);
		}
		else if (!in_batch)
		{
			assert_int_equal(dyn_engine_begin(wt), DYN_OK);
			assert_int_equal(dyn_engine_begin(mem), DYN_OK);
			in_batch = true;
		}
		else
		{
			assert_int_equal(dyn_engine_commit(wt), DYN_OK);
			assert_int_equal(dyn_engine_commit(mem), DYN_OK);
			in_batch = false;
		}
	}
	if (in_batch)
	{
		assert_int_equal(dyn_engine_commit(wt), DYN_OK);
		assert_int_equal(dyn_engine_commit(mem), DYN_OK);
	}
	for (int k = 0; k < 1500; k++)
	{
		char		key[16];

		snprintf(key, sizeof(key), "k%d", k);
		assert_same_get(wt, mem, str(key));
	}
	assert_int_equal(dyn_engine_memory_stats(wt, &mi), DYN_OK);
	assert_true(mi.buffer_hits > 1000);
	assert_true(mi.buffer_evictions > 0);
	assert_true(mi.buffer_bytes <= mi.buffer_max);
	dyn_engine_close(wt);
	dyn_engine_close(mem);
}

/* The engine's own commit, then a failure, as a commit that failed would say. */
static const dyn_engine_ops *failing_real;
static int
failing_commit(dyn_engine *e)
{
	(void) failing_real->commit(e);
	snprintf(e->errmsg, sizeof(e->errmsg), "commit: failed on purpose");
	return DYN_ERR_ENGINE;
}

/*
 * A batch whose commit fails may have been rolled back whole, so the
 * buffer must hold no copy the batch made -- of a write, or of a read that
 * may have seen one -- while a committed batch keeps its copies.  The
 * memory engine with its commit made to fail stands in for a WiredTiger
 * commit that fails (which a test cannot provoke); a miss on the next read
 * is the buffer's copy gone.
 */
static void
test_buffer_failed_commit(void **state)
{
	dyn_engine_config cfg = {.name = "memory", .cache_mb = 64, .buffer_mb = 8};
	static dyn_engine_ops ops;
	dyn_engine *e;
	dyn_engine_meminfo before,
				after;
	char		err[256];
	update_set	abort = {{NULL, 0}, DYN_ERR_TOOBIG};

	(void) state;
	assert_int_equal(dyn_engine_open(&cfg, &e, err, sizeof(err)), DYN_OK);
	put_ok(e, DYN_NS_OBJECT, str("kept"), str("v1"));
	put_ok(e, DYN_NS_OBJECT, str("read"), str("r1"));
	/* an aborted update leaves the value and drops the copy */
	assert_int_equal(dyn_engine_update(e, DYN_NS_OBJECT, str("read"), update_set_fn, &abort,
									   NULL), DYN_ERR_TOOBIG);

	/* a committed batch keeps what it buffered */
	assert_int_equal(dyn_engine_begin(e), DYN_OK);
	put_ok(e, DYN_NS_OBJECT, str("committed"), str("c1"));
	assert_int_equal(dyn_engine_commit(e), DYN_OK);
	assert_int_equal(dyn_engine_memory_stats(e, &before), DYN_OK);
	assert_value(e, DYN_NS_OBJECT, str("committed"), str("c1"));
	assert_int_equal(dyn_engine_memory_stats(e, &after), DYN_OK);
	assert_int_equal(after.buffer_hits, before.buffer_hits + 1);

	/* a failed one keeps nothing it buffered */
	failing_real = e->ops;
	ops = *e->ops;
	ops.commit = failing_commit;
	e->ops = &ops;
	assert_int_equal(dyn_engine_begin(e), DYN_OK);
	put_ok(e, DYN_NS_OBJECT, str("kept"), str("v2"));
	assert_value(e, DYN_NS_OBJECT, str("kept"), str("v2"));	/* the batch's own view */
	dyn_engine_delete(e, DYN_NS_OBJECT, str("committed"));
	put_ok(e, DYN_NS_OBJECT, str("fresh"), str("f1"));
	assert_value(e, DYN_NS_OBJECT, str("read"), str("r1"));	/* a copy taken in the batch */
	assert_int_equal(dyn_engine_commit(e), DYN_ERR_ENGINE);
	e->ops = failing_real;
	assert_int_equal(dyn_engine_memory_stats(e, &before), DYN_OK);
	assert_value(e, DYN_NS_OBJECT, str("kept"), str("v2"));	/* the memory engine kept it */
	assert_value(e, DYN_NS_OBJECT, str("fresh"), str("f1"));
	assert_value(e, DYN_NS_OBJECT, str("read"), str("r1"));
	assert_absent(e, DYN_NS_OBJECT, str("committed"));
	assert_int_equal(dyn_engine_memory_stats(e, &after), DYN_OK);
	assert_int_equal(after.buffer_misses, before.buffer_misses + 4);
	assert_int_equal(after.buffer_hits, before.buffer_hits);
	/* and reads outside a batch buffer again */
	assert_value(e, DYN_NS_OBJECT, str("kept"), str("v2"));
	assert_int_equal(dyn_engine_memory_stats(e, &before), DYN_OK);
	assert_int_equal(before.buffer_hits, after.buffer_hits + 1);
	dyn_engine_close(e);
}

/*
 * Once an operation of a batch has failed, WiredTiger refuses the rest of
 * the batch, reads included; the buffer must not answer for it meanwhile.
 * The memory engine's cap makes a put fail (it stands in for WiredTiger
 * here: its reads go on answering, so a miss shows the buffer stood back).
 */
static void
test_buffer_failed_op_in_batch(void **state)
{
	dyn_engine_config cfg = {.name = "memory", .cache_mb = 2, .buffer_mb = 1};
	dyn_engine *e;
	dyn_engine_meminfo before,
				after;
	char		err[256];
	size_t		biglen = 3 * 1024 * 1024;
	uint8_t    *big = calloc(1, biglen);

	(void) state;
	assert_non_null(big);
	assert_int_equal(dyn_engine_open(&cfg, &e, err, sizeof(err)), DYN_OK);
	put_ok(e, DYN_NS_OBJECT, str("k"), str("v1"));
	assert_int_equal(dyn_engine_begin(e), DYN_OK);
	put_ok(e, DYN_NS_OBJECT, str("k"), str("v2"));
	assert_int_equal(dyn_engine_memory_stats(e, &before), DYN_OK);
	assert_value(e, DYN_NS_OBJECT, str("k"), str("v2"));
	assert_int_equal(dyn_engine_memory_stats(e, &after), DYN_OK);
	assert_int_equal(after.buffer_hits, before.buffer_hits + 1);
	assert_int_equal(dyn_engine_put(e, DYN_NS_OBJECT, str("big"), bytes(big, biglen)),
					 DYN_ERR_NOMEM);
	assert_value(e, DYN_NS_OBJECT, str("k"), str("v2"));	/* the engine's answer */
	assert_int_equal(dyn_engine_memory_stats(e, &before), DYN_OK);
	assert_int_equal(before.buffer_hits, after.buffer_hits);
	assert_int_equal(dyn_engine_commit(e), DYN_OK);
	/* the next batch starts afresh */
	assert_value(e, DYN_NS_OBJECT, str("k"), str("v2"));
	assert_int_equal(dyn_engine_memory_stats(e, &after), DYN_OK);
	assert_int_equal(after.buffer_hits, before.buffer_hits + 1);
	dyn_engine_close(e);
	free(big);
}

/* A buffer as large as the cache it comes out of is refused at open. */
static void
test_buffer_open_errors(void **state)
{
	dyn_engine_config cfg = {.name = "memory", .cache_mb = 8, .buffer_mb = 8};
	dyn_engine *e;
	char		err[256];

	(void) state;
	assert_int_equal(dyn_engine_open(&cfg, &e, err, sizeof(err)), DYN_ERR_INVAL);
	assert_null(e);
	assert_non_null(strstr(err, "object buffer (8 MB) must be smaller than the cache"));
	cfg.cache_mb = 0;			/* the memory engine's default: unbounded, nothing to share */
	cfg.buffer_mb = 1;
	assert_int_equal(dyn_engine_open(&cfg, &e, err, sizeof(err)), DYN_ERR_INVAL);
	assert_non_null(strstr(err, "the memory engine's is unbounded: give it a cache size"));
	cfg.buffer_mb = DYN_ENGINE_BUFFER_DEFAULT;	/* the memory engine's: none */
	assert_int_equal(dyn_engine_open(&cfg, &e, err, sizeof(err)), DYN_OK);
	assert_null(e->buffer);
	dyn_engine_close(e);
}

/* ---- write-behind (writebehind.h, engine.c) ---- */

/* What digest_fn folds a scan into: the records' count and an FNV-1a of them. */
typedef struct scan_digest
{
	uint64_t	n;
	uint64_t	h;
} scan_digest;

static int
digest_fn(void *arg, dyn_slice key, dyn_slice value)
{
	scan_digest *d = arg;
	const dyn_slice parts[2] = {key, value};

	d->n++;
	for (int p = 0; p < 2; p++)
	{
		d->h = (d->h ^ parts[p].len) * 1099511628211u;
		for (size_t i = 0; i < parts[p].len; i++)
			d->h = (d->h ^ parts[p].ptr[i]) * 1099511628211u;
	}
	return 0;
}

/* A scan of [start, end) of ns on both engines: the same records in the same order. */
static void
assert_same_scan(dyn_engine *a, dyn_engine *b, dyn_ns ns, dyn_slice start, dyn_slice end)
{
	scan_digest da = {0, 14695981039346656037u};
	scan_digest db = da;

	if (dyn_engine_scan(a, ns, start, end, digest_fn, &da) != DYN_OK)
		fail_msg("scan: %s", dyn_engine_errmsg(a));
	assert_int_equal(dyn_engine_scan(b, ns, start, end, digest_fn, &db), DYN_OK);
	assert_int_equal(da.n, db.n);
	assert_true(da.h == db.h);
}

/* Open WiredTiger writing behind in dir: cache and buffer as given. */
static dyn_engine *
open_wb(const char *dir, size_t cache_mb, size_t buffer_mb)
{
	dyn_engine_config cfg = {.name = "wiredtiger", .dir = dir, .cache_mb = cache_mb,
	.buffer_mb = buffer_mb, .durability = DYN_DURABILITY_NONE,
	.write_behind = DYN_WRITE_BEHIND_ON};
	dyn_engine *e = NULL;
	char		err[256];

	if (dyn_engine_open(&cfg, &e, err, sizeof(err)) != DYN_OK)
		fail_msg("open with write-behind: %s", err);
	assert_true(dyn_engine_write_behind_on(e));
	return e;
}

/*
 * A random run against the memory engine, writing behind with a 1 MB
 * buffer: gets, puts, updates (storing and refusing), deletes, batches,
 * scans and counts, hint writes between them, and values now and then
 * too large for the buffer (over 1/16 of it: those wait for the writer).
 * The loop's tick runs only every few dozen steps, so reads meet entries
 * pending in the filling batch, in the writer's and settled ones.  Every
 * get, scan and count agrees with the memory engine; afterwards the
 * writer has stored everything, and a reopen without write-behind finds
 * what the memory engine holds.
 */
static void
test_wb_against_memory(void **state)
{
	fixture    *f = *state;
	char		dir[160];

	dyn_engine_config mcfg = {.name = "memory"};
	dyn_engine *wt;
	dyn_engine *mem;
	dyn_wb_stats ws;
	char		err[256];
	static uint8_t value[100000];
	uint64_t	rng = 11;
	bool		in_batch = false;
	int			toobig = 0;

	subdir(f, "wb-memory", dir, sizeof(dir));
	wt = open_wb(dir, 16, 1);
	assert_int_equal(dyn_engine_open(&mcfg, &mem, err, sizeof(err)), DYN_OK);
	for (size_t i = 0; i < sizeof(value); i++)
		value[i] = (uint8_t) (i * 13 + i / 251);
	for (int step = 0; step < 30000; step++)
	{
		char		key[16];
		uint64_t	r;
		int			op;
		dyn_slice	v;

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		r = rng;
		snprintf(key, sizeof(key), "k%04llu", (unsigned long long) (r % 1500));
		op = (int) ((r >> 20) % 1000);
		v = bytes(value + (r >> 40) % 1000, 1 + (r >> 30) % 2000);
		if ((r >> 56) == 0)
		{
			v = bytes(value, 60000 + (r >> 30) % 30000);	/* over 1/16 of the buffer */
			toobig++;
		}
		if (step % 37 == 0)
			(void) dyn_engine_tick(wt, &(uint64_t) {0});
		if (op < 400)
			assert_same_get(wt, mem, str(key));
		else if (op < 650)
		{
			put_ok(wt, DYN_NS_OBJECT, str(key), v);
			put_ok(mem, DYN_NS_OBJECT, str(key), v);
		}
		else if (op < 800)
		{
			update_set	u = {v, (r >> 50) % 4 == 0 ? DYN_ERR_TOOBIG : 0};
			int			want = u.rc != 0 ? u.rc : DYN_OK;
			bool		ew = false,
						em = true;

			assert_int_equal(dyn_engine_update(wt, DYN_NS_OBJECT, str(key),
											   update_set_fn, &u, &ew), want);
			assert_int_equal(dyn_engine_update(mem, DYN_NS_OBJECT, str(key),
											   update_set_fn, &u, &em), want);
			assert_int_equal(ew, em);
		}
		else if (op < 900)
		{
			assert_int_equal(dyn_engine_delete(wt, DYN_NS_OBJECT, str(key)), DYN_OK);
			assert_int_equal(dyn_engine_delete(mem, DYN_NS_OBJECT, str(key)), DYN_OK);
		}
		else if (op < 930)
		{
			put_ok(wt, DYN_NS_HINT, str(key), v);
			put_ok(mem, DYN_NS_HINT, str(key), v);
		}
		else if (op < 950)
		{
			char		end[16];

			snprintf(end, sizeof(end), "k%04llu", (unsigned long long) (r % 1500 + 40));
			assert_same_scan(wt, mem, DYN_NS_OBJECT, str(key), str(end));
		}
		else if (op < 960)
			assert_int_equal(count_of(wt, DYN_NS_OBJECT), count_of(mem, DYN_NS_OBJECT));
		else if (!in_batch)
		{
			assert_int_equal(dyn_engine_begin(wt), DYN_OK);
			assert_int_equal(dyn_engine_begin(mem), DYN_OK);
			in_batch = true;
		}
		else
		{
			assert_int_equal(dyn_engine_commit(wt), DYN_OK);
			assert_int_equal(dyn_engine_commit(mem), DYN_OK);
			in_batch = false;
		}
	}
	if (in_batch)
	{
		assert_int_equal(dyn_engine_commit(wt), DYN_OK);
		assert_int_equal(dyn_engine_commit(mem), DYN_OK);
	}
	assert_true(toobig > 0);
	for (int k = 0; k < 1500; k++)
	{
		char		key[16];

		snprintf(key, sizeof(key), "k%04d", k);
		assert_same_get(wt, mem, str(key));
	}
	assert_same_scan(wt, mem, DYN_NS_OBJECT, bytes(NULL, 0), bytes(NULL, 0));
	assert_same_scan(wt, mem, DYN_NS_HINT, bytes(NULL, 0), bytes(NULL, 0));
	assert_true(dyn_engine_writer_stats(wt, &ws));
	assert_int_equal(ws.queued, ws.written);	/* the last scan waited for all */
	assert_true(ws.batches > 1);
	assert_false(ws.failed);
	dyn_engine_close(wt);

	/* what the writer stored is what the engine holds without it */
	wt = open_wt(dir, DYN_DURABILITY_NONE);
	assert_false(dyn_engine_write_behind_on(wt));
	assert_same_scan(wt, mem, DYN_NS_OBJECT, bytes(NULL, 0), bytes(NULL, 0));
	dyn_engine_close(wt);
	dyn_engine_close(mem);
}

/*
 * A value the buffer cannot hold (over 1/16 of it) replacing one it holds,
 * pending or stored: the read right after it finds the new value, because
 * the write waited for the writer and the key's copy was dropped; an
 * update reads it back the same way, and so does a delete after it.
 */
static void
test_wb_large_values(void **state)
{
	fixture    *f = *state;
	char		dir[160];
	static uint8_t big[200000];
	dyn_engine *e;

	subdir(f, "wb-large", dir, sizeof(dir));
	e = open_wb(dir, 16, 1);
	memset(big, 'B', sizeof(big));
	for (int settled = 0; settled < 2; settled++)
	{
		update_set	u = {str("small again"), 0};
		bool		existed = false;

		put_ok(e, DYN_NS_OBJECT, str("k"), str("small"));
		if (settled)
			(void) count_of(e, DYN_NS_OBJECT);	/* stored: the buffer's copy is clean */
		put_ok(e, DYN_NS_OBJECT, str("k"), bytes(big, sizeof(big)));
		assert_value(e, DYN_NS_OBJECT, str("k"), bytes(big, sizeof(big)));
		assert_int_equal(dyn_engine_update(e, DYN_NS_OBJECT, str("k"), update_set_fn, &u,
										   &existed), DYN_OK);
		assert_true(existed);
		assert_value(e, DYN_NS_OBJECT, str("k"), str("small again"));
		put_ok(e, DYN_NS_OBJECT, str("k"), bytes(big, sizeof(big) / 2));
		assert_int_equal(dyn_engine_delete(e, DYN_NS_OBJECT, str("k")), DYN_OK);
		assert_absent(e, DYN_NS_OBJECT, str("k"));
	}
	dyn_engine_close(e);
}

/*
 * Closing stores what is queued: writes never handed over (no tick), and
 * deletes among them, are in the engine at the next open.
 */
static void
test_wb_close_stores_queue(void **state)
{
	fixture    *f = *state;
	char		dir[160];

	dyn_engine *e;
	char		key[16];

	subdir(f, "wb-close", dir, sizeof(dir));
	e = open_wb(dir, 64, 8);
	for (int i = 0; i < 5000; i++)
	{
		snprintf(key, sizeof(key), "c%05d", i);
		put_ok(e, DYN_NS_OBJECT, str(key), str(key));
	}
	for (int i = 0; i < 5000; i += 7)
	{
		snprintf(key, sizeof(key), "c%05d", i);
		assert_int_equal(dyn_engine_delete(e, DYN_NS_OBJECT, str(key)), DYN_OK);
	}
	dyn_engine_close(e);

	e = open_wt(dir, DYN_DURABILITY_NONE);
	assert_int_equal(count_of(e, DYN_NS_OBJECT), 5000 - (5000 + 6) / 7);
	for (int i = 0; i < 5000; i++)
	{
		snprintf(key, sizeof(key), "c%05d", i);
		if (i % 7 == 0)
			assert_absent(e, DYN_NS_OBJECT, str(key));
		else
			assert_value(e, DYN_NS_OBJECT, str(key), str(key));
	}
	dyn_engine_close(e);
}

/* The engine's writer with a failure put in front of it (engine.h's ops). */
static dyn_engine_ops wb_faulty_ops;
static int	wb_again_left;		/* DYN_ERR_AGAIN answers before the real writer */

static int
wb_failing_apply(dyn_engine_writer *w, dyn_slice batch, char *err, size_t errlen)
{
	(void) w;
	(void) batch;
	snprintf(err, errlen, "injected writer failure");
	return DYN_ERR_ENGINE;
}

static int
wb_flaky_apply(dyn_engine_writer *w, dyn_slice batch, char *err, size_t errlen)
{
	if (wb_again_left > 0)
	{
		wb_again_left--;
		snprintf(err, errlen, "injected rollback");
		return DYN_ERR_AGAIN;
	}
	return dyn_engine_wiredtiger.writer_apply(w, batch, err, errlen);
}

/*
 * Swap e's ops for a copy with another writer_apply.  The writer is idle
 * first (a count waits for it), and the next hand-over takes the queue's
 * lock, so the writer thread sees the new table.
 */
static void
wb_swap_apply(dyn_engine *e, int (*apply) (dyn_engine_writer *, dyn_slice, char *, size_t))
{
	(void) count_of(e, DYN_NS_OBJECT);
	wb_faulty_ops = *e->ops;
	wb_faulty_ops.writer_apply = apply;
	e->ops = &wb_faulty_ops;
}

/*
 * A writer that fails stops: the failure is reported with its message,
 * later writes, scans and counts are refused saying why, reads still see
 * every acknowledged write (pending in the buffer), and closing does not
 * wait for a writer that is gone.
 */
static void
test_wb_writer_failure(void **state)
{
	fixture    *f = *state;
	char		dir[160];

	dyn_engine *e;
	dyn_wb_stats ws;
	char		why[256];
	uint64_t	n;

	subdir(f, "wb-failure", dir, sizeof(dir));
	e = open_wb(dir, 64, 8);
	put_ok(e, DYN_NS_OBJECT, str("stored"), str("before"));
	wb_swap_apply(e, wb_failing_apply);
	put_ok(e, DYN_NS_OBJECT, str("lost"), str("after"));
	assert_false(dyn_engine_failure(e, why, sizeof(why)));
	for (int i = 0; i < 2000 && !dyn_engine_failure(e, why, sizeof(why)); i++)
	{
		(void) dyn_engine_tick(e, &(uint64_t) {0});
		poll(NULL, 0, 1);
	}
	assert_true(dyn_engine_failure(e, why, sizeof(why)));
	assert_non_null(strstr(why, "injected writer failure"));

	assert_int_equal(dyn_engine_put(e, DYN_NS_OBJECT, str("refused"), str("x")), DYN_ERR_ENGINE);
	assert_non_null(strstr(dyn_engine_errmsg(e), "write-behind writer failed"));
	assert_non_null(strstr(dyn_engine_errmsg(e), "injected writer failure"));
	assert_int_equal(dyn_engine_delete(e, DYN_NS_OBJECT, str("stored")), DYN_ERR_ENGINE);
	assert_int_equal(dyn_engine_count(e, DYN_NS_OBJECT, &n), DYN_ERR_ENGINE);
	assert_value(e, DYN_NS_OBJECT, str("stored"), str("before"));
	assert_value(e, DYN_NS_OBJECT, str("lost"), str("after"));
	assert_absent(e, DYN_NS_OBJECT, str("refused"));
	put_ok(e, DYN_NS_META, str("m"), str("other namespaces write on"));
	assert_true(dyn_engine_writer_stats(e, &ws));
	assert_true(ws.failed);
	assert_int_equal(ws.queued, 2);
	assert_int_equal(ws.written, 1);
	dyn_engine_close(e);

	/* the write before the failure is there; the one in the failed batch is not */
	e = open_wt(dir, DYN_DURABILITY_NONE);
	assert_value(e, DYN_NS_OBJECT, str("stored"), str("before"));
	assert_absent(e, DYN_NS_OBJECT, str("lost"));
	dyn_engine_close(e);
}

/* A batch the engine rolls back is tried again, and stored once. */
static void
test_wb_retry(void **state)
{
	fixture    *f = *state;
	char		dir[160];

	dyn_engine *e;
	dyn_wb_stats ws;

	subdir(f, "wb-retry", dir, sizeof(dir));
	e = open_wb(dir, 64, 8);
	wb_swap_apply(e, wb_flaky_apply);
	wb_again_left = 3;
	for (int i = 0; i < 100; i++)
	{
		char		key[16];

		snprintf(key, sizeof(key), "r%03d", i);
		put_ok(e, DYN_NS_OBJECT, str(key), str(key));
	}
	assert_int_equal(count_of(e, DYN_NS_OBJECT), 100);
	assert_true(dyn_engine_writer_stats(e, &ws));
	assert_int_equal(ws.retries, 3);
	assert_false(ws.failed);
	assert_int_equal(ws.written, 100);
	dyn_engine_close(e);
	e = open_wt(dir, DYN_DURABILITY_NONE);
	assert_int_equal(count_of(e, DYN_NS_OBJECT), 100);
	dyn_engine_close(e);
}

/*
 * Where write-behind is possible: on asks for it and fails saying why
 * where it is not; auto takes it only where it is; off never.
 */
static void
test_wb_choice(void **state)
{
	fixture    *f = *state;
	char		dir[160];

	dyn_engine_config cfg = {.name = "wiredtiger", .dir = NULL, .cache_mb = 64,
	.buffer_mb = DYN_ENGINE_BUFFER_DEFAULT, .durability = DYN_DURABILITY_FSYNC,
	.write_behind = DYN_WRITE_BEHIND_ON};
	dyn_engine_config mcfg = {.name = "memory", .cache_mb = 64, .buffer_mb = 8,
	.durability = DYN_DURABILITY_NONE, .write_behind = DYN_WRITE_BEHIND_ON};
	dyn_engine *e;
	char		err[256];

	subdir(f, "wb-choice", dir, sizeof(dir));
	cfg.dir = dir;
	assert_int_equal(dyn_engine_open(&cfg, &e, err, sizeof(err)), DYN_ERR_INVAL);
	assert_null(e);
	assert_non_null(strstr(err, "write-behind is not possible"));
	assert_non_null(strstr(err, "durability none"));
	cfg.durability = DYN_DURABILITY_NONE;
	cfg.buffer_mb = 0;
	assert_int_equal(dyn_engine_open(&cfg, &e, err, sizeof(err)), DYN_ERR_INVAL);
	assert_non_null(strstr(err, "object buffer"));
	assert_int_equal(dyn_engine_open(&mcfg, &e, err, sizeof(err)), DYN_ERR_INVAL);
	assert_non_null(strstr(err, "no writer thread"));
	cfg.write_behind = (dyn_write_behind) 7;
	assert_int_equal(dyn_engine_open(&cfg, &e, err, sizeof(err)), DYN_ERR_INVAL);
	assert_non_null(strstr(err, "invalid write-behind"));

	/* auto: only where possible */
	mcfg.write_behind = DYN_WRITE_BEHIND_AUTO;
	assert_int_equal(dyn_engine_open(&mcfg, &e, err, sizeof(err)), DYN_OK);
	assert_false(dyn_engine_write_behind_on(e));
	dyn_engine_close(e);
	cfg.write_behind = DYN_WRITE_BEHIND_AUTO;
	cfg.durability = DYN_DURABILITY_FLUSH;
	cfg.buffer_mb = DYN_ENGINE_BUFFER_DEFAULT;
	assert_int_equal(dyn_engine_open(&cfg, &e, err, sizeof(err)), DYN_OK);
	assert_false(dyn_engine_write_behind_on(e));
	dyn_engine_close(e);
	cfg.durability = DYN_DURABILITY_NONE;
	assert_int_equal(dyn_engine_open(&cfg, &e, err, sizeof(err)), DYN_OK);
	assert_true(dyn_engine_write_behind_on(e));
	dyn_engine_close(e);
	cfg.write_behind = DYN_WRITE_BEHIND_OFF;
	assert_int_equal(dyn_engine_open(&cfg, &e, err, sizeof(err)), DYN_OK);
	assert_false(dyn_engine_write_behind_on(e));
	assert_false(dyn_engine_writer_stats(e, &(dyn_wb_stats) {0}));
	dyn_engine_close(e);
}

/* Whether group was asked for: no arguments means every group. */
static bool
wanted(int argc, char **argv, const char *group)
{
	if (argc < 2)
		return true;
	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], group) == 0)
			return true;
	}
	return false;
}

/*
 * Run every group, or only those named on the command line (for example
 * "test_engine memory open" under valgrind, where WiredTiger's own threads
 * are slow and not ours to check).
 */
int
main(int argc, char **argv)
{
	/* Every engine passes the same list. */
	const struct CMUnitTest common[] = {
		cmocka_unit_test_setup(test_put_get_overwrite_delete, clear_engine),
		cmocka_unit_test_setup(test_get_appends, clear_engine),
		cmocka_unit_test_setup(test_update, clear_engine),
		cmocka_unit_test_setup(test_namespaces_are_separate, clear_engine),
		cmocka_unit_test_setup(test_scan_order, clear_engine),
		cmocka_unit_test_setup(test_scan_order_random, clear_engine),
		cmocka_unit_test_setup(test_scan_bounds, clear_engine),
		cmocka_unit_test_setup(test_scan_early_stop, clear_engine),
		cmocka_unit_test_setup(test_scan_callback_reads, clear_engine),
		cmocka_unit_test_setup(test_count, clear_engine),
		cmocka_unit_test_setup(test_batch, clear_engine),
		cmocka_unit_test_setup(test_value_sizes, clear_engine),
		cmocka_unit_test_setup(test_binary_keys, clear_engine),
		cmocka_unit_test_setup(test_bad_arguments, clear_engine),
		cmocka_unit_test_setup(test_memory_stats, clear_engine),
	};
	const struct CMUnitTest wiredtiger_only[] = {
		cmocka_unit_test(test_wt_reopen_keeps_data),
		cmocka_unit_test(test_wt_durability_modes),
		cmocka_unit_test(test_wt_close_rolls_back_batch),
		cmocka_unit_test(test_wt_open_errors),
		cmocka_unit_test(test_wt_kill9_fsync),
		cmocka_unit_test(test_wt_kill9_flush),
		cmocka_unit_test(test_wt_kill9_group_fsync),
		cmocka_unit_test(test_wt_kill9_group_flush),
		cmocka_unit_test(test_sync_kind),
	};
	const struct CMUnitTest buffer[] = {
		cmocka_unit_test(test_buffer_against_unbuffered),
		cmocka_unit_test(test_buffer_failed_commit),
		cmocka_unit_test(test_buffer_open_errors),
		cmocka_unit_test(test_buffer_failed_op_in_batch),
	};
	const struct CMUnitTest writebehind[] = {
		cmocka_unit_test(test_wb_against_memory),
		cmocka_unit_test(test_wb_large_values),
		cmocka_unit_test(test_wb_close_stores_queue),
		cmocka_unit_test(test_wb_writer_failure),
		cmocka_unit_test(test_wb_retry),
		cmocka_unit_test(test_wb_choice),
	};
	const struct CMUnitTest opening[] = {
		cmocka_unit_test(test_open_unknown_engine),
		cmocka_unit_test(test_open_small_errbuf),
		cmocka_unit_test(test_memory_cap),
	};
	int			failed = 0;

	if (wanted(argc, argv, "memory"))
		failed += cmocka_run_group_tests_name("memory", common,
											  setup_memory, teardown_fixture);
	if (wanted(argc, argv, "wiredtiger"))
		failed += cmocka_run_group_tests_name("wiredtiger", common,
											  setup_wiredtiger, teardown_fixture);
	if (wanted(argc, argv, "wiredtiger-buffered"))
		failed += cmocka_run_group_tests_name("wiredtiger-buffered", common,
											  setup_wt_buffered, teardown_fixture);
	if (wanted(argc, argv, "wiredtiger-wb"))
		failed += cmocka_run_group_tests_name("wiredtiger-wb", common,
											  setup_wt_wb, teardown_fixture);
	if (wanted(argc, argv, "writebehind"))
		failed += cmocka_run_group_tests_name("writebehind", writebehind,
											  setup_wt_dir, teardown_fixture);
	if (wanted(argc, argv, "buffer"))
		failed += cmocka_run_group_tests_name("buffer", buffer,
											  setup_wt_dir, teardown_fixture);
	if (wanted(argc, argv, "wiredtiger-only"))
		failed += cmocka_run_group_tests_name("wiredtiger-only", wiredtiger_only,
											  setup_wt_dir, teardown_fixture);
	if (wanted(argc, argv, "open"))
		failed += cmocka_run_group_tests_name("open", opening, NULL, NULL);
	return failed == 0 ? 0 : 1;
}
