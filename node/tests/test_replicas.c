/*
 * test_replicas.c
 *		The merge rules of object.c over whole histories of a key on three
 *		replicas, as a cluster makes them: writes and deletes coordinated by
 *		any replica with a context read from any subset of them (or none),
 *		the coordinator's REPLICA_PUTs and hints delivered late and in any
 *		order, anti-entropy merges between any two, a node restarting as a
 *		new actor (per-incarnation ids), a replica losing its disk.  The
 *		fuzz targets check one merge at a time on inputs that respect their
 *		preconditions; these histories check what a user sees at the end,
 *		once everything is delivered and anti-entropy has run:
 *
 *		converged	every replica holds the same bytes;
 *		nothing lost	every write is still there, or a later write's
 *						context covered it (it was superseded);
 *		nothing undone	no live version is one a later write's context
 *						covered (a delete stays a delete).
 *
 * Histories keep under DYN_VCLOCK_CAP actors: past it a write's clock may
 * lose an entry and README says what may come back then.  Seeds are
 * fixed, so a failure names the history that shows it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dynamo/object.h"

#define REPLICAS		3
#define INCARNATIONS	10		/* 3 x 10 actors: under DYN_VCLOCK_CAP */
#define MAX_WRITES		256
#define MAX_MESSAGES	1024
#define HISTORIES		200

/* One history: the replicas' bytes, messages in flight, writes made. */
typedef struct history
{
	uint64_t	rng;
	dyn_buf		rep[REPLICAS];
	int			incarnation[REPLICAS];
	struct
	{
		int			to;
		dyn_buf		bytes;
	}			msg[MAX_MESSAGES];
	int			nmsg;
	struct
	{
		char		node[16];
		uint64_t	counter;
		dyn_vclock	ctx;
	}			w[MAX_WRITES];
	int			nw;
} history;

static unsigned roll(history *h, unsigned n);
static void merge_into(dyn_buf *dst, dyn_slice src);
static void coordinate(history *h, int step, uint64_t now);
static void deliver(history *h, int i);
static void check_end(history *h, int which);
static void run_history(int which, bool wipes);

/* A small LCG: the same history for the same seed on every platform. */
static unsigned
roll(history *h, unsigned n)
{
	h->rng = h->rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned) ((h->rng >> 33) % n);
}

/* *dst := merge(dst, src), through the encodings (a replica's merge). */
static void
merge_into(dyn_buf *dst, dyn_slice src)
{
	dyn_object	a,
				b;
	dyn_buf		keep,
				out;

	dyn_buf_init(&keep);
	dyn_buf_init(&out);
	dyn_buf_append(&keep, dst->data, dst->len);
	dyn_object_init(&a);
	dyn_object_init(&b);
	assert_int_equal(dyn_object_decode(dyn_buf_slice(&keep), &a), DYN_OK);
	assert_int_equal(dyn_object_decode(src, &b), DYN_OK);
	assert_int_equal(dyn_object_merge(&a, &b, NULL), DYN_OK);
	dyn_object_encode(&a, &out);
	dyn_buf_reset(dst);
	dyn_buf_append(dst, out.data, out.len);
	dyn_object_free(&a);
	dyn_object_free(&b);
	dyn_buf_free(&keep);
	dyn_buf_free(&out);
}

/*
 * A client reads some replicas (their merged context; none: a blind
 * write), then writes or deletes through replica c, which sends its new
 * object to the other two (delivered later).
 */
static void
coordinate(history *h, int step, uint64_t now)
{
	int			c = (int) roll(h, REPLICAS);
	unsigned	read_mask = roll(h, 1u << REPLICAS);
	bool		tombstone = roll(h, 4) == 0;
	char		value[32];
	dyn_slice	v;
	dyn_buf		read,
				enc;
	dyn_object	seen,
				o;
	dyn_vclock	written;

	if (roll(h, 4) == 0 && h->incarnation[c] < INCARNATIONS - 1)
		h->incarnation[c]++;	/* the node restarted: a new actor */
	snprintf(h->w[h->nw].node, sizeof(h->w[h->nw].node), "n%d.%d", c, h->incarnation[c]);
	dyn_buf_init(&read);
	for (int i = 0; i < REPLICAS; i++)
		if (read_mask & (1u << i))
			merge_into(&read, dyn_buf_slice(&h->rep[i]));
	dyn_object_init(&seen);
	assert_int_equal(dyn_object_decode(dyn_buf_slice(&read), &seen), DYN_OK);
	dyn_object_context(&seen, &h->w[h->nw].ctx);

	snprintf(value, sizeof(value), "v%d", step);
	v = dyn_slice_str(value);
	dyn_object_init(&o);
	assert_int_equal(dyn_object_decode(dyn_buf_slice(&h->rep[c]), &o), DYN_OK);
	assert_int_equal(dyn_object_put(&o, dyn_slice_str(h->w[h->nw].node), &h->w[h->nw].ctx,
									tombstone ? NULL : &v, now, &written), DYN_OK);
	h->w[h->nw].counter = dyn_vclock_get(&written, dyn_slice_str(h->w[h->nw].node));
	h->nw++;
	dyn_buf_init(&enc);
	dyn_object_encode(&o, &enc);
	dyn_buf_reset(&h->rep[c]);
	dyn_buf_append(&h->rep[c], enc.data, enc.len);
	for (int i = 0; i < REPLICAS; i++)
	{
		if (i == c || h->nmsg == MAX_MESSAGES)
			continue;
		h->msg[h->nmsg].to = i;
		dyn_buf_init(&h->msg[h->nmsg].bytes);
		dyn_buf_append(&h->msg[h->nmsg].bytes, enc.data, enc.len);
		h->nmsg++;
	}
	dyn_object_free(&seen);
	dyn_object_free(&o);
	dyn_buf_free(&read);
	dyn_buf_free(&enc);
}

/* Message i reaches its replica (a REPLICA_PUT or a hint, late). */
static void
deliver(history *h, int i)
{
	merge_into(&h->rep[h->msg[i].to], dyn_buf_slice(&h->msg[i].bytes));
	dyn_buf_free(&h->msg[i].bytes);
	h->msg[i] = h->msg[--h->nmsg];
}

/* The three properties, on the converged object. */
static void
check_end(history *h, int which)
{
	dyn_object	f;

	for (int i = 1; i < REPLICAS; i++)
	{
		if (h->rep[i].len != h->rep[0].len ||
			memcmp(h->rep[i].data, h->rep[0].data, h->rep[0].len) != 0)
			fail_msg("history %d: replicas 0 and %d hold different bytes", which, i);
	}
	dyn_object_init(&f);
	assert_int_equal(dyn_object_decode(dyn_buf_slice(&h->rep[0]), &f), DYN_OK);
	for (int k = 0; k < h->nw; k++)
	{
		dyn_slice	id = dyn_slice_str(h->w[k].node);
		bool		there = false;
		bool		superseded = false;

		for (size_t s = 0; s < f.n; s++)
		{
			const dyn_vclock_entry *d = &f.s[s].clock.e[f.s[s].dot];
			dyn_slice	did = {(const uint8_t *) d->id, d->idlen};

			there |= dyn_slice_eq(did, id) && d->counter == h->w[k].counter;
			if (!f.s[s].tombstone && dyn_vclock_covers(&h->w[k].ctx, did, d->counter))
				fail_msg("history %d: live version %.*s:%llu is covered by the context "
						 "of write %d (undone)", which, (int) did.len,
						 (const char *) did.ptr, (unsigned long long) d->counter, k);
		}
		for (int m = 0; m < h->nw && !superseded; m++)
			superseded = dyn_vclock_covers(&h->w[m].ctx, id, h->w[k].counter);
		if (!there && !superseded)
			fail_msg("history %d: write %d (%s:%llu) is lost", which, k, h->w[k].node,
					 (unsigned long long) h->w[k].counter);
	}
	dyn_object_free(&f);
}

/* One random history, then every message delivered and anti-entropy run. */
static void
run_history(int which, bool wipes)
{
	static history h;
	int			steps;
	uint64_t	now = 1000;
	bool		wiped = false;

	memset(&h, 0, sizeof(h));
	h.rng = (uint64_t) which * 2654435761u + (wipes ? 7 : 1);
	for (int i = 0; i < REPLICAS; i++)
		dyn_buf_init(&h.rep[i]);
	steps = 20 + (int) roll(&h, 200);
	for (int step = 0; step < steps && h.nw < MAX_WRITES; step++)
	{
		unsigned	op = roll(&h, 10);
		int			a = (int) roll(&h, REPLICAS);
		int			b = (int) roll(&h, REPLICAS);

		now += 1 + roll(&h, 3);
		if (op < 4)
			coordinate(&h, step, now);
		else if (op < 7 && h.nmsg > 0)
			deliver(&h, (int) roll(&h, (unsigned) h.nmsg));
		else if (op < 9 && a != b)
			merge_into(&h.rep[b], dyn_buf_slice(&h.rep[a]));
		else if (op == 9 && wipes && !wiped && h.incarnation[a] < INCARNATIONS - 1)
		{
			/*
			 * A lost disk: the node comes back empty, as a new actor.  One
			 * per history, so that every write keeps a copy on a replica
			 * that did not lose it (more, and a write or a delete whose
			 * every copy was lost is gone, as it would be in a cluster).
			 */
			dyn_buf_reset(&h.rep[a]);
			h.incarnation[a]++;
			wiped = true;
		}
	}
	while (h.nmsg > 0)
		deliver(&h, (int) roll(&h, (unsigned) h.nmsg));
	for (int round = 0; round < 2; round++)
		for (int a = 0; a < REPLICAS; a++)
			for (int b = 0; b < REPLICAS; b++)
				if (a != b)
					merge_into(&h.rep[b], dyn_buf_slice(&h.rep[a]));
	check_end(&h, which);
	for (int i = 0; i < REPLICAS; i++)
		dyn_buf_free(&h.rep[i]);
}

static void
test_histories(void **state)
{
	(void) state;
	for (int i = 0; i < HISTORIES; i++)
		run_history(i, false);
}

/* The same with a disk lost: what the others hold comes back, nothing else. */
static void
test_histories_with_lost_disks(void **state)
{
	(void) state;
	for (int i = 0; i < HISTORIES; i++)
		run_history(i, true);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_histories),
		cmocka_unit_test(test_histories_with_lost_disks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
