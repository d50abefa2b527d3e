/*
 * test_writebehind.c
 *		Unit tests of the write-behind queue and its writer thread
 *		(writebehind.h) against a fake apply function: records stored in
 *		order and exactly once across many batches, sequence numbers, the
 *		batch format, kick and back-pressure, the counters, retries after
 *		DYN_ERR_AGAIN, a failing writer (no hang, every later call refuses),
 *		and stop storing what is queued.
 *
 * Nothing here can hang: the fake apply blocks on a condition variable
 * with a deadline, every wait for the writer polls with one, and a second
 * "loop" thread is joined with a timeout.  A wait that runs out fails the
 * test.  The last three were found by review and failed before their
 * fixes (the first under ThreadSanitizer: make check-tsan).
 */
#define _GNU_SOURCE				/* pthread_timedjoin_np */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <cmocka.h>

#include "writebehind.h"
#include "dynamo/common.h"

/* writebehind.c's WB_RETRIES (private there): tries = WB_RETRIES + 1. */
#define TEST_WB_RETRIES 50

/* How long any wait may take before the test fails instead of hanging. */
#define DEADLINE_MS		10000

/*
 * The fake engine: what every stored batch held, decoded and encoded again
 * in order, and what the next calls of apply are to do.
 */
typedef struct fake
{
	pthread_mutex_t lock;
	pthread_cond_t cond;
	dyn_buf		records;		/* every stored record, re-encoded, in order */
	uint64_t	nrecords;		/* how many */
	uint64_t	calls;			/* apply calls, tries included */
	uint64_t	stored;			/* batches stored */
	uint64_t	max_records;	/* most records in one stored batch */
	bool		block;			/* apply waits until this is false */
	bool		blocked;		/* apply is waiting on block */
	uint64_t	timed_out;		/* a block outlived DEADLINE_MS */
	int			again;			/* answer DYN_ERR_AGAIN this many more times */
	uint64_t	fail_after;		/* fail_rc once this many batches are stored */
	int			fail_rc;		/* 0: never fail */
	const char *fail_msg;		/* NULL: no message */
	int			bad_batches;	/* batches dyn_wb_batch_next rejected */
	int			slow_us;		/* sleep this long after storing, unlocked */
} fake;

/* What a second "loop" thread does: queue n records starting at first. */
typedef struct queuer
{
	dyn_wb	   *wb;
	int			first;
	int			n;
	_Atomic int done;			/* records queued so far */
	_Atomic int last_rc;
	_Atomic bool finished;
} queuer;

static void fake_init(fake *f);
static void fake_free(fake *f);
static int	fake_apply(void *arg, dyn_slice batch, char *err, size_t errlen);
static void fake_set_block(fake *f, bool block);
static uint64_t fake_get(fake *f, const uint64_t *field);
static bool wait_blocked(fake *f);
static bool wait_written(dyn_wb *wb, uint64_t seq);
static bool wait_failure(dyn_wb *wb);
static uint64_t now_ms(void);
static void sleep_ms(int ms);
static dyn_slice key_of(int i, char *buf, size_t len);
static dyn_slice value_of(int i, char *buf, size_t len);
static void queue_n(dyn_wb *wb, int first, int n, uint64_t first_seq);
static size_t rec_size(int i);
static int	fill_first_batch(dyn_wb *wb, fake *f, size_t batch_bytes);
static void expect_records(fake *f, int first, int n);
static void *queuer_main(void *arg);
static bool join_within(pthread_t t, int ms);
static void *release_later(void *arg);
static dyn_wb *start(fake *f, size_t batch_bytes);
static bool wanted(int argc, char **argv, const char *group);

static void
fake_init(fake *f)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	dyn_buf_init(&f->records);
}

static void
fake_free(fake *f)
{
	dyn_buf_free(&f->records);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
}

/* The apply function: blocks, retries or fails as told, else records the batch. */
static int
fake_apply(void *arg, dyn_slice batch, char *err, size_t errlen)
{
	fake	   *f = arg;
	dyn_reader	r;
	dyn_wb_record rec;
	uint64_t	n = 0;
	int			rc;
	int			slow;
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += DEADLINE_MS / 1000;
	pthread_mutex_lock(&f->lock);
	f->calls++;
	while (f->block)
	{
		f->blocked = true;
		pthread_cond_broadcast(&f->cond);
		if (pthread_cond_timedwait(&f->cond, &f->lock, &until) != 0)
		{
			f->timed_out = 1;
			f->block = false;
		}
	}
	f->blocked = false;
	if (f->again > 0)
	{
		f->again--;
		pthread_mutex_unlock(&f->lock);
		return DYN_ERR_AGAIN;
	}
	if (f->fail_rc != 0 && f->stored >= f->fail_after)
	{
		rc = f->fail_rc;
		if (f->fail_msg != NULL)
			snprintf(err, errlen, "%s", f->fail_msg);
		pthread_mutex_unlock(&f->lock);
		return rc;
	}
	dyn_reader_init(&r, batch);
	while ((rc = dyn_wb_batch_next(&r, &rec)) == 1)
	{
		dyn_wb_batch_append(&f->records, rec.op, rec.ns, rec.key, rec.value);
		n++;
	}
	if (rc != 0)
		f->bad_batches++;
	f->nrecords += n;
	f->stored++;
	if (n > f->max_records)
		f->max_records = n;
	slow = f->slow_us;
	pthread_mutex_unlock(&f->lock);
	if (slow > 0)
		nanosleep(&(struct timespec) {0, slow * 1000L}, NULL);
	return DYN_OK;
}

static void
fake_set_block(fake *f, bool block)
{
	pthread_mutex_lock(&f->lock);
	f->block = block;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static uint64_t
fake_get(fake *f, const uint64_t *field)
{
	uint64_t	v;

	pthread_mutex_lock(&f->lock);
	v = *field;
	pthread_mutex_unlock(&f->lock);
	return v;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
	nanosleep(&(struct timespec) {ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

/* Wait until apply is blocked on f->block. */
static bool
wait_blocked(fake *f)
{
	uint64_t	until = now_ms() + DEADLINE_MS;
	bool		blocked;

	for (;;)
	{
		pthread_mutex_lock(&f->lock);
		blocked = f->blocked;
		pthread_mutex_unlock(&f->lock);
		if (blocked)
			return true;
		if (now_ms() > until)
			return false;
		sleep_ms(1);
	}
}

static bool
wait_written(dyn_wb *wb, uint64_t seq)
{
	uint64_t	until = now_ms() + DEADLINE_MS;

	while (dyn_wb_written(wb) < seq)
	{
		if (now_ms() > until)
			return false;
		sleep_ms(1);
	}
	return true;
}

static bool
wait_failure(dyn_wb *wb)
{
	uint64_t	until = now_ms() + DEADLINE_MS;

	while (!dyn_wb_failure(wb, NULL, 0))
	{
		if (now_ms() > until)
			return false;
		sleep_ms(1);
	}
	return true;
}

/* Record i's key and value: sizes vary with i, some values empty. */
static dyn_slice
key_of(int i, char *buf, size_t len)
{
	int			n = snprintf(buf, len, "key:%d", i);

	return (dyn_slice) {(const uint8_t *) buf, (size_t) n};
}

static dyn_slice
value_of(int i, char *buf, size_t len)
{
	size_t		n = (size_t) (i % 7) * 5;

	if (n >= len)
		n = len - 1;
	for (size_t j = 0; j < n; j++)
		buf[j] = (char) ('a' + (i + (int) j) % 26);
	return (dyn_slice) {(const uint8_t *) buf, n};
}

/* Record i: a delete every fifth, in namespace i % 3. */
#define OP_OF(i)	((i) % 5 == 4 ? DYN_WB_DELETE : DYN_WB_PUT)
#define NS_OF(i)	((unsigned) (i) % 3)

/* Queue records first .. first+n-1, checking their sequence numbers. */
static void
queue_n(dyn_wb *wb, int first, int n, uint64_t first_seq)
{
	for (int i = first; i < first + n; i++)
	{
		char		kb[32];
		char		vb[64];
		uint64_t	seq = 0;
		dyn_slice	v = OP_OF(i) == DYN_WB_DELETE ? (dyn_slice) {NULL, 0} : value_of(i, vb, sizeof(vb));

		assert_int_equal(dyn_wb_queue(wb, OP_OF(i), NS_OF(i), key_of(i, kb, sizeof(kb)), v, &seq),
						 DYN_OK);
		assert_int_equal(seq, first_seq + (uint64_t) (i - first));
		assert_int_equal(dyn_wb_queued(wb), seq);
	}
}

/* What record i takes in a batch: op, ns, key and value with their lengths. */
static size_t
rec_size(int i)
{
	char		kb[32];
	char		vb[64];

	return 1 + 1 + 4 + key_of(i, kb, sizeof(kb)).len + 4 +
		(OP_OF(i) == DYN_WB_DELETE ? 0 : value_of(i, vb, sizeof(vb)).len);
}

/*
 * With apply told to block: queue records 0.. up to the one that makes the
 * filling batch reach batch_bytes (which hands it over), and wait for the
 * writer to block on it.  Returns how many were queued.
 */
static int
fill_first_batch(dyn_wb *wb, fake *f, size_t batch_bytes)
{
	size_t		len = 0;
	int			n = 0;

	while (len < batch_bytes)
	{
		len += rec_size(n);
		queue_n(wb, n, 1, (uint64_t) n + 1);
		n++;
	}
	assert_true(wait_blocked(f));
	assert_int_equal(fake_get(f, &f->calls), 1);
	return n;
}

/* The fake stored exactly records first .. first+n-1, in order. */
static void
expect_records(fake *f, int first, int n)
{
	dyn_buf		want;

	dyn_buf_init(&want);
	for (int i = first; i < first + n; i++)
	{
		char		kb[32];
		char		vb[64];
		dyn_slice	v = OP_OF(i) == DYN_WB_DELETE ? (dyn_slice) {NULL, 0} : value_of(i, vb, sizeof(vb));

		dyn_wb_batch_append(&want, OP_OF(i), NS_OF(i), key_of(i, kb, sizeof(kb)), v);
	}
	pthread_mutex_lock(&f->lock);
	assert_int_equal(f->nrecords, (uint64_t) n);
	assert_int_equal(f->bad_batches, 0);
	assert_int_equal(f->records.len, want.len);
	assert_memory_equal(f->records.data, want.data, want.len);
	pthread_mutex_unlock(&f->lock);
	dyn_buf_free(&want);
}

/* The second loop thread: it alone calls dyn_wb_* until it finishes. */
static void *
queuer_main(void *arg)
{
	queuer	   *q = arg;

	for (int i = q->first; i < q->first + q->n; i++)
	{
		char		kb[32];
		char		vb[64];
		uint64_t	seq;
		int			rc = dyn_wb_queue(q->wb, OP_OF(i), NS_OF(i), key_of(i, kb, sizeof(kb)),
									  OP_OF(i) == DYN_WB_DELETE ? (dyn_slice) {NULL, 0} :
									  value_of(i, vb, sizeof(vb)), &seq);

		atomic_store(&q->last_rc, rc);
		if (rc != DYN_OK)
			break;
		atomic_fetch_add(&q->done, 1);
	}
	atomic_store(&q->finished, true);
	return NULL;
}

/* Join t if it ends within ms (true), else leave it (false: the test fails). */
static bool
join_within(pthread_t t, int ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long) (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L)
	{
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(t, NULL, &until) == 0;
}

static dyn_wb *
start(fake *f, size_t batch_bytes)
{
	dyn_wb_config cfg = {batch_bytes, fake_apply, f};
	dyn_wb	   *wb = NULL;

	assert_int_equal(dyn_wb_start(&cfg, &wb), DYN_OK);
	assert_non_null(wb);
	return wb;
}

/* The record format round-trips; a malformed batch is DYN_ERR_PROTO. */
static void
test_batch_format(void **state)
{
	dyn_buf		b;
	dyn_reader	r;
	dyn_wb_record rec;
	const uint8_t bin[] = {0, 1, 0xff, 0};
	size_t		ends[4];
	int			rc;

	(void) state;
	dyn_buf_init(&b);
	dyn_wb_batch_append(&b, DYN_WB_PUT, 2, (dyn_slice) {(const uint8_t *) "k1", 2},
						(dyn_slice) {(const uint8_t *) "value", 5});
	ends[0] = b.len;
	dyn_wb_batch_append(&b, DYN_WB_DELETE, 0, (dyn_slice) {(const uint8_t *) "k2", 2},
						(dyn_slice) {NULL, 0});
	ends[1] = b.len;
	dyn_wb_batch_append(&b, DYN_WB_PUT, 1, (dyn_slice) {bin, sizeof(bin)}, (dyn_slice) {NULL, 0});
	ends[2] = b.len;
	dyn_wb_batch_append(&b, DYN_WB_PUT, 255, (dyn_slice) {NULL, 0}, (dyn_slice) {bin, 3});
	ends[3] = b.len;
	assert_int_equal(b.err, 0);
	assert_int_equal(ends[0], 1 + 1 + 4 + 2 + 4 + 5);

	dyn_reader_init(&r, dyn_buf_slice(&b));
	assert_int_equal(dyn_wb_batch_next(&r, &rec), 1);
	assert_int_equal(rec.op, DYN_WB_PUT);
	assert_int_equal(rec.ns, 2);
	assert_int_equal(rec.key.len, 2);
	assert_memory_equal(rec.key.ptr, "k1", 2);
	assert_int_equal(rec.value.len, 5);
	assert_memory_equal(rec.value.ptr, "value", 5);
	assert_int_equal(dyn_wb_batch_next(&r, &rec), 1);
	assert_int_equal(rec.op, DYN_WB_DELETE);
	assert_int_equal(rec.ns, 0);
	assert_memory_equal(rec.key.ptr, "k2", 2);
	assert_int_equal(rec.value.len, 0);
	assert_int_equal(dyn_wb_batch_next(&r, &rec), 1);
	assert_int_equal(rec.ns, 1);
	assert_int_equal(rec.key.len, sizeof(bin));
	assert_memory_equal(rec.key.ptr, bin, sizeof(bin));
	assert_int_equal(rec.value.len, 0);
	assert_int_equal(dyn_wb_batch_next(&r, &rec), 1);
	assert_int_equal(rec.ns, 255);
	assert_int_equal(rec.key.len, 0);
	assert_int_equal(rec.value.len, 3);
	assert_memory_equal(rec.value.ptr, bin, 3);
	assert_int_equal(dyn_wb_batch_next(&r, &rec), 0);
	assert_int_equal(dyn_wb_batch_next(&r, &rec), 0);

	/* an empty batch is the end at once */
	dyn_reader_init(&r, (dyn_slice) {NULL, 0});
	assert_int_equal(dyn_wb_batch_next(&r, &rec), 0);

	/* every truncation inside a record is malformed; at a record's end it is not */
	for (size_t cut = 1; cut < b.len; cut++)
	{
		bool		boundary = cut == ends[0] || cut == ends[1] || cut == ends[2];
		int			records = 0;

		dyn_reader_init(&r, (dyn_slice) {b.data, cut});
		while ((rc = dyn_wb_batch_next(&r, &rec)) == 1)
			records++;
		assert_int_equal(rc, boundary ? 0 : DYN_ERR_PROTO);
	}

	/* a bad op, first or later, with the rest well formed */
	for (int bad = 0; bad < 256; bad++)
	{
		if (bad == DYN_WB_PUT || bad == DYN_WB_DELETE)
			continue;
		b.data[0] = (uint8_t) bad;
		dyn_reader_init(&r, dyn_buf_slice(&b));
		assert_int_equal(dyn_wb_batch_next(&r, &rec), DYN_ERR_PROTO);
		b.data[0] = DYN_WB_PUT;
		b.data[ends[1]] = (uint8_t) bad;
		dyn_reader_init(&r, dyn_buf_slice(&b));
		assert_int_equal(dyn_wb_batch_next(&r, &rec), 1);
		assert_int_equal(dyn_wb_batch_next(&r, &rec), 1);
		assert_int_equal(dyn_wb_batch_next(&r, &rec), DYN_ERR_PROTO);
		b.data[ends[1]] = DYN_WB_PUT;
	}
	/* a length running past the end */
	b.data[ends[0] + 2] = 0x7f;
	dyn_reader_init(&r, dyn_buf_slice(&b));
	assert_int_equal(dyn_wb_batch_next(&r, &rec), 1);
	assert_int_equal(dyn_wb_batch_next(&r, &rec), DYN_ERR_PROTO);
	dyn_buf_free(&b);
}

/* dyn_wb_start's refusals. */
static void
test_start_errors(void **state)
{
	fake		f;
	dyn_wb_config cfg = {0, fake_apply, NULL};
	dyn_wb	   *wb = (dyn_wb *) &f;

	(void) state;
	cfg.arg = &f;
	assert_int_equal(dyn_wb_start(&cfg, &wb), DYN_ERR_INVAL);	/* zero batch */
	assert_null(wb);
	cfg.batch_bytes = 64;
	cfg.apply = NULL;
	assert_int_equal(dyn_wb_start(&cfg, &wb), DYN_ERR_INVAL);
	assert_null(wb);
	assert_int_equal(dyn_wb_stop(NULL, NULL, 0), DYN_OK);
}

/*
 * Many batches: every record stored once and in order, sequence numbers
 * 1, 2, 3, ..., written reaching queued after a drain.
 */
static void
test_order_many_batches(void **state)
{
	enum
	{
		N = 20000
	};
	fake		f;
	dyn_wb	   *wb;
	dyn_wb_stats st;
	char		err[256] = "";

	(void) state;
	fake_init(&f);
	wb = start(&f, 300);
	assert_int_equal(dyn_wb_written(wb), 0);
	assert_int_equal(dyn_wb_queued(wb), 0);
	assert_int_equal(dyn_wb_drain(wb), DYN_OK);	/* nothing queued */
	for (int i = 0; i < N; i += 37)
	{
		int			n = N - i < 37 ? N - i : 37;

		queue_n(wb, i, n, (uint64_t) i + 1);
		if (i % 3 == 0)
			dyn_wb_kick(wb);	/* a turn of the loop: partial batches too */
		assert_true(dyn_wb_written(wb) <= dyn_wb_queued(wb));
	}
	assert_int_equal(dyn_wb_drain(wb), DYN_OK);
	assert_int_equal(dyn_wb_written(wb), N);
	assert_int_equal(dyn_wb_queued(wb), N);
	expect_records(&f, 0, N);
	dyn_wb_stats_get(wb, &st);
	assert_int_equal(st.queued, N);
	assert_int_equal(st.written, N);
	assert_int_equal(st.batches, fake_get(&f, &f.stored));
	assert_true(st.batches > N / 40);	/* 300-byte batches of ~25-byte records */
	assert_int_equal(st.max_batch, fake_get(&f, &f.max_records));
	assert_int_equal(st.queue_bytes, 0);
	assert_int_equal(st.batch_bytes, 300);
	assert_int_equal(st.retries, 0);
	assert_false(st.failed);
	assert_false(dyn_wb_failure(wb, err, sizeof(err)));
	assert_int_equal(dyn_wb_stop(wb, err, sizeof(err)), DYN_OK);
	assert_int_equal(fake_get(&f, &f.nrecords), N);	/* stop stored nothing twice */
	fake_free(&f);
}

/* kick hands a partial batch over; a batch is handed over at batch_bytes. */
static void
test_kick_partial(void **state)
{
	fake		f;
	dyn_wb	   *wb;
	dyn_wb_stats st;

	(void) state;
	fake_init(&f);
	wb = start(&f, 1 << 20);
	dyn_wb_kick(wb);			/* nothing to hand over */
	queue_n(wb, 0, 3, 1);
	sleep_ms(20);
	assert_int_equal(fake_get(&f, &f.calls), 0);	/* below batch_bytes: kept */
	assert_int_equal(dyn_wb_written(wb), 0);
	dyn_wb_kick(wb);
	assert_true(wait_written(wb, 3));
	assert_int_equal(fake_get(&f, &f.stored), 1);
	queue_n(wb, 3, 2, 4);
	dyn_wb_kick(wb);
	assert_true(wait_written(wb, 5));
	dyn_wb_kick(wb);			/* empty again: no batch */
	sleep_ms(10);
	dyn_wb_stats_get(wb, &st);
	assert_int_equal(st.batches, 2);
	assert_int_equal(st.max_batch, 3);
	assert_int_equal(st.waits, 0);
	assert_int_equal(fake_get(&f, &f.calls), 2);
	expect_records(&f, 0, 5);
	assert_int_equal(dyn_wb_stop(wb, NULL, 0), DYN_OK);
	fake_free(&f);
}

/*
 * Back-pressure: with the writer holding a batch, the loop filling the
 * next one past batch_bytes waits until the writer is done -- shown on a
 * second loop thread that is seen not to return until apply is released.
 */
static void
test_back_pressure(void **state)
{
	fake		f;
	dyn_wb	   *wb;
	dyn_wb_stats st;
	queuer		q = {0};
	pthread_t	t;
	int			per_batch;

	(void) state;
	fake_init(&f);
	wb = start(&f, 100);
	fake_set_block(&f, true);
	per_batch = fill_first_batch(wb, &f, 100);

	/* the next batch fills up and then waits: the queuer stops short */
	q.wb = wb;
	q.first = per_batch;
	q.n = 200;
	assert_int_equal(pthread_create(&t, NULL, queuer_main, &q), 0);
	sleep_ms(80);
	assert_false(atomic_load(&q.finished));
	{
		int			stuck = atomic_load(&q.done);

		assert_true(stuck > 0 && stuck < 200);
		sleep_ms(30);
		assert_int_equal(atomic_load(&q.done), stuck);	/* not slow: waiting */
	}
	assert_int_equal(fake_get(&f, &f.stored), 0);
	fake_set_block(&f, false);
	if (!join_within(t, DEADLINE_MS))
		fail_msg("the queueing thread did not return after the writer was released");
	assert_true(atomic_load(&q.finished));
	assert_int_equal(atomic_load(&q.done), 200);
	assert_int_equal(atomic_load(&q.last_rc), DYN_OK);
	assert_int_equal(dyn_wb_drain(wb), DYN_OK);
	assert_int_equal(dyn_wb_written(wb), (uint64_t) per_batch + 200);
	expect_records(&f, 0, per_batch + 200);
	assert_int_equal(fake_get(&f, &f.timed_out), 0);
	dyn_wb_stats_get(wb, &st);
	assert_true(st.waits >= 1);
	assert_true(st.wait_us >= 50000);	/* the queuer waited at least ~80 ms */
	assert_int_equal(dyn_wb_stop(wb, NULL, 0), DYN_OK);
	fake_free(&f);
}

/*
 * queue_bytes counts the writer's batch and the filling one until they are
 * stored; a batch the engine rolled back is retried and stored once.
 */
static void
test_stats_queue_bytes_and_retries(void **state)
{
	fake		f;
	dyn_wb	   *wb;
	dyn_wb_stats st;
	dyn_buf		b;
	size_t		first_len = 0;

	(void) state;
	fake_init(&f);
	wb = start(&f, 1 << 20);
	dyn_wb_stats_get(wb, &st);
	assert_int_equal(st.queue_bytes, 0);
	assert_int_equal(st.batch_bytes, 1 << 20);

	/* what records 0..4 and 5..7 take in a batch */
	dyn_buf_init(&b);
	for (int i = 0; i < 8; i++)
	{
		char		kb[32];
		char		vb[64];

		if (i == 5)
			first_len = b.len;
		dyn_wb_batch_append(&b, OP_OF(i), NS_OF(i), key_of(i, kb, sizeof(kb)),
							OP_OF(i) == DYN_WB_DELETE ? (dyn_slice) {NULL, 0} :
							value_of(i, vb, sizeof(vb)));
	}

	/* the writer blocked in apply with 0..4; 5..7 filling */
	fake_set_block(&f, true);
	queue_n(wb, 0, 5, 1);
	dyn_wb_stats_get(wb, &st);
	assert_int_equal(st.queue_bytes, first_len);
	dyn_wb_kick(wb);
	assert_true(wait_blocked(&f));
	queue_n(wb, 5, 3, 6);
	dyn_wb_kick(wb);			/* the writer is busy: nothing happens */
	dyn_wb_stats_get(wb, &st);
	assert_int_equal(st.queue_bytes, b.len);
	assert_int_equal(st.queued, 8);
	assert_int_equal(st.written, 0);
	assert_int_equal(st.batches, 0);

	/* the next three tries are rolled back */
	pthread_mutex_lock(&f.lock);
	f.again = 3;
	pthread_mutex_unlock(&f.lock);
	fake_set_block(&f, false);
	assert_true(wait_written(wb, 5));
	assert_int_equal(dyn_wb_drain(wb), DYN_OK);
	dyn_wb_stats_get(wb, &st);
	assert_int_equal(st.retries, 3);
	assert_int_equal(st.batches, 2);
	assert_int_equal(st.max_batch, 5);
	assert_int_equal(st.queue_bytes, 0);
	assert_int_equal(st.written, 8);
	assert_false(st.failed);
	assert_int_equal(fake_get(&f, &f.calls), 3 + 2);
	assert_int_equal(fake_get(&f, &f.stored), 2);
	expect_records(&f, 0, 8);	/* the retried batch is there once */
	assert_int_equal(dyn_wb_stop(wb, NULL, 0), DYN_OK);
	dyn_buf_free(&b);
	fake_free(&f);
}

/*
 * A failing batch stops the writer: the failure and its message are
 * reported, written stays at the last good batch, queue, drain and stop
 * refuse, and nothing hangs.
 */
static void
test_failure(void **state)
{
	fake		f;
	dyn_wb	   *wb;
	dyn_wb_stats st;
	char		msg[256] = "";
	char		err[256] = "";
	char		kb[32];
	uint64_t	seq = 0;

	(void) state;
	fake_init(&f);
	wb = start(&f, 1 << 20);
	queue_n(wb, 0, 4, 1);
	dyn_wb_kick(wb);
	assert_true(wait_written(wb, 4));
	assert_false(dyn_wb_failure(wb, msg, sizeof(msg)));

	pthread_mutex_lock(&f.lock);
	f.fail_rc = DYN_ERR_ENGINE;
	f.fail_after = 1;
	f.fail_msg = "disk on fire";
	pthread_mutex_unlock(&f.lock);
	queue_n(wb, 4, 3, 5);
	dyn_wb_kick(wb);
	assert_true(wait_failure(wb));
	assert_true(dyn_wb_failure(wb, msg, sizeof(msg)));
	assert_string_equal(msg, "disk on fire");
	assert_int_equal(dyn_wb_written(wb), 4);

	/* refused from now on, and nothing is queued */
	assert_int_equal(dyn_wb_queue(wb, DYN_WB_PUT, 0, key_of(99, kb, sizeof(kb)),
								  key_of(99, kb, sizeof(kb)), &seq), DYN_ERR_ENGINE);
	assert_int_equal(dyn_wb_queued(wb), 7);
	dyn_wb_kick(wb);
	assert_int_equal(dyn_wb_drain(wb), DYN_ERR_ENGINE);
	assert_int_equal(dyn_wb_drain(wb), DYN_ERR_ENGINE);
	assert_int_equal(dyn_wb_written(wb), 4);
	dyn_wb_stats_get(wb, &st);
	assert_true(st.failed);
	assert_int_equal(st.batches, 1);
	assert_int_equal(st.written, 4);
	assert_int_equal(st.queued, 7);
	assert_true(st.queue_bytes > 0);	/* the failed batch is still queued */

	assert_int_equal(dyn_wb_stop(wb, err, sizeof(err)), DYN_ERR_ENGINE);
	assert_non_null(strstr(err, "3 queued writes were not stored"));
	assert_non_null(strstr(err, "disk on fire"));
	expect_records(&f, 0, 4);
	fake_free(&f);
}

/*
 * The writer fails while the loop waits for it (back-pressure): the wait
 * ends with DYN_ERR_ENGINE; without a message apply's code is reported.
 */
static void
test_failure_while_waiting(void **state)
{
	fake		f;
	dyn_wb	   *wb;
	queuer		q = {0};
	pthread_t	t;
	char		msg[256] = "";
	char		err[256] = "";
	int			n = 0;

	(void) state;
	fake_init(&f);
	wb = start(&f, 100);
	pthread_mutex_lock(&f.lock);
	f.fail_rc = DYN_ERR_IO;
	pthread_mutex_unlock(&f.lock);
	fake_set_block(&f, true);
	n = fill_first_batch(wb, &f, 100);
	q.wb = wb;
	q.first = n;
	q.n = 200;
	assert_int_equal(pthread_create(&t, NULL, queuer_main, &q), 0);
	sleep_ms(50);
	assert_false(atomic_load(&q.finished));
	fake_set_block(&f, false);
	if (!join_within(t, DEADLINE_MS))
		fail_msg("a loop waiting for a writer that failed did not return");
	assert_int_equal(atomic_load(&q.last_rc), DYN_ERR_ENGINE);
	assert_true(atomic_load(&q.done) < 200);
	assert_true(dyn_wb_failure(wb, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "the engine refused a batch (-6)"));
	assert_int_equal(dyn_wb_written(wb), 0);
	assert_int_equal(dyn_wb_drain(wb), DYN_ERR_ENGINE);
	assert_int_equal(dyn_wb_stop(wb, err, sizeof(err)), DYN_ERR_ENGINE);
	assert_non_null(strstr(err, "queued writes were not stored"));
	assert_int_equal(fake_get(&f, &f.nrecords), 0);
	fake_free(&f);
}

/* DYN_ERR_AGAIN on every one of WB_RETRIES + 1 tries is a failure. */
static void
test_again_exhausted(void **state)
{
	fake		f;
	dyn_wb	   *wb;
	dyn_wb_stats st;
	char		msg[256] = "";
	char		err[256] = "";

	(void) state;
	fake_init(&f);
	wb = start(&f, 1 << 20);
	pthread_mutex_lock(&f.lock);
	f.again = TEST_WB_RETRIES + 1;
	pthread_mutex_unlock(&f.lock);
	queue_n(wb, 0, 2, 1);
	assert_int_equal(dyn_wb_drain(wb), DYN_ERR_ENGINE);
	assert_true(dyn_wb_failure(wb, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "still rolled back after 51 tries"));
	dyn_wb_stats_get(wb, &st);
	assert_true(st.failed);
	assert_int_equal(st.retries, TEST_WB_RETRIES);
	assert_int_equal(st.batches, 0);
	assert_int_equal(fake_get(&f, &f.calls), TEST_WB_RETRIES + 1);
	assert_int_equal(dyn_wb_stop(wb, err, sizeof(err)), DYN_ERR_ENGINE);
	assert_non_null(strstr(err, "2 queued writes were not stored"));
	assert_int_equal(fake_get(&f, &f.nrecords), 0);
	fake_free(&f);
}

/* ... but WB_RETRIES rollbacks and then a commit is a batch stored once. */
static void
test_again_last_try_succeeds(void **state)
{
	fake		f;
	dyn_wb	   *wb;
	dyn_wb_stats st;

	(void) state;
	fake_init(&f);
	wb = start(&f, 1 << 20);
	pthread_mutex_lock(&f.lock);
	f.again = TEST_WB_RETRIES;
	pthread_mutex_unlock(&f.lock);
	queue_n(wb, 0, 2, 1);
	assert_int_equal(dyn_wb_drain(wb), DYN_OK);
	dyn_wb_stats_get(wb, &st);
	assert_false(st.failed);
	assert_int_equal(st.retries, TEST_WB_RETRIES);
	assert_int_equal(st.batches, 1);
	assert_int_equal(st.waits, 1);	/* drain waited */
	assert_int_equal(fake_get(&f, &f.calls), TEST_WB_RETRIES + 1);
	expect_records(&f, 0, 2);
	assert_int_equal(dyn_wb_stop(wb, NULL, 0), DYN_OK);
	fake_free(&f);
}

/* Helper thread: release the fake's apply after 40 ms. */
static void *
release_later(void *arg)
{
	fake	   *f = arg;

	sleep_ms(40);
	fake_set_block(f, false);
	return NULL;
}

/*
 * Stop with writes queued stores them first: a filling batch never handed
 * over, and one filling behind a batch the writer still holds.
 */
static void
test_stop_stores_queued(void **state)
{
	fake		f;
	dyn_wb	   *wb;
	pthread_t	t;
	char		err[64] = "untouched";

	(void) state;
	fake_init(&f);
	wb = start(&f, 1 << 20);
	queue_n(wb, 0, 10, 1);
	assert_int_equal(dyn_wb_stop(wb, err, sizeof(err)), DYN_OK);
	assert_string_equal(err, "untouched");
	expect_records(&f, 0, 10);
	fake_free(&f);

	fake_init(&f);
	wb = start(&f, 1 << 20);
	fake_set_block(&f, true);
	queue_n(wb, 0, 10, 1);
	dyn_wb_kick(wb);
	assert_true(wait_blocked(&f));
	queue_n(wb, 10, 15, 11);	/* behind the busy writer */
	assert_int_equal(pthread_create(&t, NULL, release_later, &f), 0);
	assert_int_equal(dyn_wb_stop(wb, err, sizeof(err)), DYN_OK);	/* waits, then the rest */
	assert_true(join_within(t, DEADLINE_MS));
	assert_int_equal(fake_get(&f, &f.timed_out), 0);
	assert_int_equal(fake_get(&f, &f.stored), 2);
	expect_records(&f, 0, 25);
	fake_free(&f);
}

/*
 * STATUS while the writer finishes a batch: queue_bytes never drops a
 * batch before `written` covers it.  (The writer once reset the batch it
 * stored before taking the lock, while stats read its length under the
 * lock: a data race ThreadSanitizer reported here.)  The fake sleeps
 * after storing, so the loop's stats_get lands in that window.
 */
static void
test_stats_while_storing(void **state)
{
	fake		f;
	dyn_wb	   *wb;
	dyn_wb_stats st;
	uint64_t	undercounted = 0;

	(void) state;
	fake_init(&f);
	f.slow_us = 2000;
	wb = start(&f, 64);
	for (int i = 0; i < 400; i++)
	{
		queue_n(wb, i, 1, (uint64_t) i + 1);
		dyn_wb_stats_get(wb, &st);
		if (st.queue_bytes == 0 && st.written < st.queued)
			undercounted++;
	}
	assert_int_equal(dyn_wb_drain(wb), DYN_OK);
	expect_records(&f, 0, 400);
	assert_int_equal(undercounted, 0);
	assert_int_equal(dyn_wb_stop(wb, NULL, 0), DYN_OK);
	fake_free(&f);
}

/*
 * A batch still rolled back after every try, by an apply that said
 * nothing, is reported with a cause, not a bare " (still rolled back
 * after 51 tries)".
 */
static void
test_again_message_has_cause(void **state)
{
	fake		f;
	dyn_wb	   *wb;
	char		msg[256] = "";

	(void) state;
	fake_init(&f);
	f.again = TEST_WB_RETRIES + 1;
	wb = start(&f, 1 << 20);
	queue_n(wb, 0, 1, 1);
	assert_int_equal(dyn_wb_drain(wb), DYN_ERR_ENGINE);
	assert_true(dyn_wb_failure(wb, msg, sizeof(msg)));
	(void) dyn_wb_stop(wb, NULL, 0);
	fake_free(&f);
	assert_non_null(strstr(msg, "the engine rolled back a batch"));
	assert_non_null(strstr(msg, "still rolled back after"));
}

/*
 * A namespace the record cannot hold (over 255) or an unknown op is
 * refused, not stored under another namespace; nothing is queued.
 */
static void
test_queue_refuses_bad_records(void **state)
{
	fake		f;
	dyn_wb	   *wb;
	uint64_t	seq = 0;
	dyn_slice	k = {(const uint8_t *) "k", 1};

	(void) state;
	fake_init(&f);
	wb = start(&f, 1 << 20);
	assert_int_equal(dyn_wb_queue(wb, DYN_WB_PUT, 256, k, k, &seq), DYN_ERR_INVAL);
	assert_int_equal(dyn_wb_queue(wb, (dyn_wb_op) 9, 0, k, k, &seq), DYN_ERR_INVAL);
	assert_int_equal(dyn_wb_queued(wb), 0);
	assert_int_equal(dyn_wb_queue(wb, DYN_WB_PUT, 255, k, k, &seq), DYN_OK);
	assert_int_equal(seq, 1);
	assert_int_equal(dyn_wb_stop(wb, NULL, 0), DYN_OK);
	fake_free(&f);
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

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_format),
		cmocka_unit_test(test_start_errors),
		cmocka_unit_test(test_order_many_batches),
		cmocka_unit_test(test_kick_partial),
		cmocka_unit_test(test_back_pressure),
		cmocka_unit_test(test_stats_queue_bytes_and_retries),
		cmocka_unit_test(test_failure),
		cmocka_unit_test(test_failure_while_waiting),
		cmocka_unit_test(test_again_exhausted),
		cmocka_unit_test(test_again_last_try_succeeds),
		cmocka_unit_test(test_stop_stores_queued),
		cmocka_unit_test(test_stats_while_storing),
		cmocka_unit_test(test_again_message_has_cause),
		cmocka_unit_test(test_queue_refuses_bad_records),
	};
	int			failed = 0;

	if (wanted(argc, argv, "writebehind"))
		failed += cmocka_run_group_tests_name("writebehind", tests, NULL, NULL);
	return failed == 0 ? 0 : 1;
}
