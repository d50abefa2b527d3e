/*
 * writebehind.c
 *		The write-behind queue and its writer thread (see writebehind.h).
 *
 * Handing a batch over is a swap of two dyn_bufs under the mutex, so no
 * record is copied twice and the loop takes the lock once per turn, not
 * once per write.  The writer resets the batch it stored before it
 * clears `busy`, so the buffer the loop gets back is empty and keeps its
 * capacity: after the first batches neither side allocates.
 */
#include "writebehind.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dynamo/common.h"

/*
 * How often the writer tries a batch the engine rolled back before it
 * gives up, and how long it sleeps between tries.  WiredTiger rolls back
 * a transaction to let eviction make room in a full cache; the retry
 * waits for that room, and a batch that still cannot commit after half a
 * second of it is a cache too small for the batch, which is a failure.
 */
#define WB_RETRIES		50
#define WB_RETRY_SLEEP_US 10000

/*
 * dyn_wb_tick hands the filling batch over once its first write is
 * WB_TICK_US old, or once it holds 1/WB_TICK_SHARE of a batch.  Handing
 * over on every turn of the loop woke the writer some 26,000 times a
 * second at 70,000 PUTs/s open loop (about 5 writes a batch), and the
 * loop thread, preempted as often, had a PUT p99 of 2.4-6.7 ms; the
 * pending writes are answered from the object buffer meanwhile, so the
 * delay costs no reply anything.
 */
#define WB_TICK_US		1000
#define WB_TICK_SHARE	16

struct dyn_wb
{
	dyn_wb_config cfg;
	pthread_t	thread;
	pthread_mutex_t lock;
	pthread_cond_t work;		/* writer waits: a batch to store, or stop */
	pthread_cond_t done;		/* loop waits: the writer's batch is stored */

	/* the loop's alone */
	dyn_buf		fill;
	uint64_t	fill_last;		/* seq of fill's last record */
	uint64_t	fill_since_us;	/* when fill's first record was queued */
	uint64_t	queued;			/* seq of the last record queued */

	/* under lock */
	dyn_buf		taken;			/* the writer's while busy */
	uint64_t	taken_last;
	bool		busy;
	bool		stopping;
	bool		failed;
	char		failure[256];
	dyn_wb_stats stats;

	_Atomic uint64_t written;
	_Atomic bool dead;			/* failed, for the loop's lock-free check */
};

static void *wb_thread(void *arg);
static int	wb_store(dyn_wb *wb, dyn_slice batch);
static void wb_hand_over(dyn_wb *wb, bool wait);
static uint64_t wb_now_us(void);

void
dyn_wb_batch_append(dyn_buf *out, dyn_wb_op op, uint8_t ns, dyn_slice key, dyn_slice value)
{
	dyn_buf_put_u8(out, (uint8_t) op);
	dyn_buf_put_u8(out, ns);
	dyn_buf_put_blob32(out, key);
	dyn_buf_put_blob32(out, value);
}

int
dyn_wb_batch_next(dyn_reader *r, dyn_wb_record *rec)
{
	if (dyn_rd_left(r) == 0)
		return 0;
	rec->op = (dyn_wb_op) dyn_rd_u8(r);
	rec->ns = dyn_rd_u8(r);
	rec->key = dyn_rd_blob32(r);
	rec->value = dyn_rd_blob32(r);
	if (r->err != 0 || (rec->op != DYN_WB_PUT && rec->op != DYN_WB_DELETE))
		return DYN_ERR_PROTO;
	return 1;
}

static uint64_t
wb_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

int
dyn_wb_start(const dyn_wb_config *cfg, dyn_wb **out)
{
	dyn_wb	   *wb;

	*out = NULL;
	if (cfg->apply == NULL || cfg->batch_bytes == 0)
		return DYN_ERR_INVAL;
	wb = calloc(1, sizeof(*wb));
	if (wb == NULL)
		return DYN_ERR_NOMEM;
	wb->cfg = *cfg;
	dyn_buf_init(&wb->fill);
	dyn_buf_init(&wb->taken);
	wb->stats.batch_bytes = cfg->batch_bytes;
	atomic_init(&wb->written, 0);
	atomic_init(&wb->dead, false);
	pthread_mutex_init(&wb->lock, NULL);
	pthread_cond_init(&wb->work, NULL);
	pthread_cond_init(&wb->done, NULL);
	if (pthread_create(&wb->thread, NULL, wb_thread, wb) != 0)
	{
		pthread_cond_destroy(&wb->done);
		pthread_cond_destroy(&wb->work);
		pthread_mutex_destroy(&wb->lock);
		free(wb);
		return DYN_ERR_IO;
	}
	*out = wb;
	return DYN_OK;
}

/*
 * Store one batch, trying again while the engine rolls it back.  Runs on
 * the writer thread without the lock; the failure message is written
 * under it by the caller.
 */
static int
wb_store(dyn_wb *wb, dyn_slice batch)
{
	int			rc;

	for (int attempt = 0;; attempt++)
	{
		wb->failure[0] = '\0';
		rc = wb->cfg.apply(wb->cfg.arg, batch, wb->failure, sizeof(wb->failure));
		if (rc != DYN_ERR_AGAIN || attempt == WB_RETRIES)
			return rc;
		pthread_mutex_lock(&wb->lock);
		wb->stats.retries++;
		pthread_mutex_unlock(&wb->lock);
		nanosleep(&(struct timespec) {0, WB_RETRY_SLEEP_US * 1000}, NULL);
	}
}

/*
 * The writer: wait for a batch, store it, publish how far the stored
 * writes go, give the emptied buffer back.  A batch that fails stops it;
 * its writes and every later one stay in the loop's buffer, never
 * written, and the loop learns of it from `failed`.
 *
 * wb->failure is written by apply without the lock: nothing else touches
 * it until `failed` is set under the lock, after which the writer is gone.
 */
static void *
wb_thread(void *arg)
{
	dyn_wb	   *wb = arg;

	pthread_mutex_lock(&wb->lock);
	for (;;)
	{
		uint64_t	last;
		uint64_t	count;
		int			rc;

		while (!wb->busy && !wb->stopping)
			pthread_cond_wait(&wb->work, &wb->lock);
		if (!wb->busy)
			break;				/* stopping, and everything handed over is stored */
		last = wb->taken_last;
		count = last - atomic_load_explicit(&wb->written, memory_order_relaxed);
		pthread_mutex_unlock(&wb->lock);

		rc = wb_store(wb, dyn_buf_slice(&wb->taken));
		if (rc != DYN_OK && wb->failure[0] == '\0')
			snprintf(wb->failure, sizeof(wb->failure), "the engine %s a batch (%d)",
					 rc == DYN_ERR_AGAIN ? "rolled back" : "refused", rc);
		if (rc == DYN_ERR_AGAIN)
			snprintf(wb->failure + strlen(wb->failure),
					 sizeof(wb->failure) - strlen(wb->failure),
					 " (still rolled back after %d tries)", WB_RETRIES + 1);

		pthread_mutex_lock(&wb->lock);
		if (rc != DYN_OK)
		{
			wb->failed = true;
			wb->stats.failed = true;
			atomic_store_explicit(&wb->dead, true, memory_order_release);
			pthread_cond_broadcast(&wb->done);
			break;
		}
		/* under the lock: stats read taken.len while busy */
		dyn_buf_reset(&wb->taken);
		atomic_store_explicit(&wb->written, last, memory_order_release);
		wb->stats.batches++;
		if (count > wb->stats.max_batch)
			wb->stats.max_batch = count;
		wb->busy = false;
		pthread_cond_broadcast(&wb->done);
	}
	pthread_mutex_unlock(&wb->lock);
	return NULL;
}

/*
 * Give the filling batch to the writer.  If the writer still holds the
 * previous one, either leave things as they are or (wait) wait for it.
 */
static void
wb_hand_over(dyn_wb *wb, bool wait)
{
	dyn_buf		swap;

	if (wb->fill.len == 0)
		return;
	pthread_mutex_lock(&wb->lock);
	if (wb->busy && wait && !wb->failed)
	{
		uint64_t	start = wb_now_us();

		while (wb->busy && !wb->failed)
			pthread_cond_wait(&wb->done, &wb->lock);
		wb->stats.waits++;
		wb->stats.wait_us += wb_now_us() - start;
	}
	if (!wb->busy && !wb->failed)
	{
		swap = wb->taken;
		wb->taken = wb->fill;
		wb->fill = swap;
		wb->taken_last = wb->fill_last;
		wb->busy = true;
		pthread_cond_signal(&wb->work);
	}
	pthread_mutex_unlock(&wb->lock);
}

int
dyn_wb_queue(dyn_wb *wb, dyn_wb_op op, unsigned ns, dyn_slice key, dyn_slice value,
			 uint64_t *seq)
{
	size_t		before = wb->fill.len;

	if (ns > UINT8_MAX || (op != DYN_WB_PUT && op != DYN_WB_DELETE))
		return DYN_ERR_INVAL;
	if (key.len > UINT32_MAX || value.len > UINT32_MAX)
		return DYN_ERR_TOOBIG;
	if (atomic_load_explicit(&wb->dead, memory_order_acquire))
		return DYN_ERR_ENGINE;
	if (wb->fill.len == 0)
		wb->fill_since_us = wb_now_us();
	dyn_wb_batch_append(&wb->fill, op, (uint8_t) ns, key, value);
	if (wb->fill.err != 0)
	{
		wb->fill.len = before;	/* drop the part of the record that fit */
		wb->fill.err = 0;
		return DYN_ERR_NOMEM;
	}
	*seq = wb->fill_last = ++wb->queued;
	if (wb->fill.len >= wb->cfg.batch_bytes)
	{
		wb_hand_over(wb, true);
		if (atomic_load_explicit(&wb->dead, memory_order_acquire))
			return DYN_ERR_ENGINE;	/* queued, but it will never be stored */
	}
	return DYN_OK;
}

void
dyn_wb_kick(dyn_wb *wb)
{
	wb_hand_over(wb, false);
}

bool
dyn_wb_tick(dyn_wb *wb, uint64_t *due_us)
{
	uint64_t	age;

	if (wb->fill.len == 0)
		return false;
	age = wb_now_us() - wb->fill_since_us;
	if (age >= WB_TICK_US || wb->fill.len >= wb->cfg.batch_bytes / WB_TICK_SHARE)
	{
		wb_hand_over(wb, false);
		if (wb->fill.len == 0)
			return false;
		age = 0;				/* the writer is busy: try again in a while */
	}
	*due_us = WB_TICK_US - (age < WB_TICK_US ? age : WB_TICK_US);
	return true;
}

uint64_t
dyn_wb_written(const dyn_wb *wb)
{
	return atomic_load_explicit(&wb->written, memory_order_acquire);
}

uint64_t
dyn_wb_queued(const dyn_wb *wb)
{
	return wb->queued;
}

int
dyn_wb_drain(dyn_wb *wb)
{
	int			rc = DYN_OK;

	if (dyn_wb_written(wb) == wb->queued)
		return DYN_OK;
	wb_hand_over(wb, true);		/* after the writer's batch, the rest */
	pthread_mutex_lock(&wb->lock);
	if (wb->busy && !wb->failed)
	{
		uint64_t	start = wb_now_us();

		while (wb->busy && !wb->failed)
			pthread_cond_wait(&wb->done, &wb->lock);
		wb->stats.waits++;
		wb->stats.wait_us += wb_now_us() - start;
	}
	if (wb->failed)
		rc = DYN_ERR_ENGINE;
	pthread_mutex_unlock(&wb->lock);
	return rc;
}

bool
dyn_wb_failure(dyn_wb *wb, char *msg, size_t len)
{
	bool		failed;

	pthread_mutex_lock(&wb->lock);
	failed = wb->failed;
	if (failed && len > 0)
		snprintf(msg, len, "%s", wb->failure);
	pthread_mutex_unlock(&wb->lock);
	return failed;
}

void
dyn_wb_stats_get(dyn_wb *wb, dyn_wb_stats *out)
{
	pthread_mutex_lock(&wb->lock);
	*out = wb->stats;
	out->queue_bytes = wb->fill.len + (wb->busy ? wb->taken.len : 0);
	pthread_mutex_unlock(&wb->lock);
	out->queued = wb->queued;
	out->written = dyn_wb_written(wb);
}

int
dyn_wb_stop(dyn_wb *wb, char *err, size_t errlen)
{
	int			rc;

	if (wb == NULL)
		return DYN_OK;
	rc = dyn_wb_drain(wb);
	pthread_mutex_lock(&wb->lock);
	wb->stopping = true;
	pthread_cond_signal(&wb->work);
	pthread_mutex_unlock(&wb->lock);
	pthread_join(wb->thread, NULL);
	if (rc != DYN_OK && errlen > 0)
		snprintf(err, errlen, "%llu queued writes were not stored: %s",
				 (unsigned long long) (wb->queued - dyn_wb_written(wb)), wb->failure);
	dyn_buf_free(&wb->fill);
	dyn_buf_free(&wb->taken);
	pthread_cond_destroy(&wb->done);
	pthread_cond_destroy(&wb->work);
	pthread_mutex_destroy(&wb->lock);
	free(wb);
	return rc;
}
