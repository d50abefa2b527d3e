/*
 * writebehind.h
 *		Write-behind: a writer thread that stores the object writes the
 *		event loop has already answered, in batches, on an engine session
 *		of its own (Dynamo, section 6.1).
 *
 * Why.  With --durability none a write is acknowledged once it is in
 * memory, and the engine's insert is the larger part of what a PUT costs
 * the loop thread: the B-tree search, the page's insert list and, every
 * few thousand inserts, the reconciliation of a page that grew past its
 * bound, milliseconds of CPU during which every connection waits.  The
 * paper's nodes write through an object buffer and a writer thread; here
 * the object buffer (objbuf.h) holds the written value, marked pending,
 * the loop answers from it, and this thread stores the value behind it on
 * the second core.  Nothing is acknowledged that a checkpoint would not
 * also have lost without write-behind: the loop's own commits reached disk
 * only at the next checkpoint too.
 *
 * The queue is two batches: the one the loop fills (`fill`, the loop's
 * alone) and the one the writer stores (`taken`, the writer's alone while
 * `busy`).  The loop hands `fill` over from its turn of the event loop
 * once the batch's first write is a millisecond old or the batch is a
 * sixteenth full (dyn_wb_tick), and whenever it reaches batch_bytes; if the writer still
 * holds the previous batch then, the loop waits for it (back-pressure:
 * the queue never holds more than two batches).  The writer stores a
 * batch as one transaction, retries it while the engine answers
 * DYN_ERR_AGAIN (a conflict or a rollback for eviction), and then
 * publishes the sequence number of the batch's last write (`written`).
 * The loop reads that number without the lock to know which pending
 * copies the engine now holds.  Any other failure stops the writer for
 * good: dyn_wb_queue refuses from then on, and dynamod logs why and stops.
 *
 * Threads: every function here is the loop thread's (one thread); the
 * writer thread is internal.  The mutex guards busy, taken, the failure
 * and the counters; `written` is an atomic so the hot path reads it with
 * one load.
 */
#ifndef DYNAMO_WRITEBEHIND_H
#define DYNAMO_WRITEBEHIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dynamo/buf.h"

typedef struct dyn_wb dyn_wb;

/* What a queued record asks of the engine. */
typedef enum dyn_wb_op
{
	DYN_WB_PUT = 1,
	DYN_WB_DELETE = 2
} dyn_wb_op;

/* One record of a batch, as dyn_wb_batch_next decodes it (views into the batch). */
typedef struct dyn_wb_record
{
	dyn_wb_op	op;
	unsigned	ns;
	dyn_slice	key;
	dyn_slice	value;			/* empty for DYN_WB_DELETE */
} dyn_wb_record;

/*
 * Store one batch, on the writer thread: every record in order, as one
 * transaction.  DYN_OK; DYN_ERR_AGAIN when the engine rolled the whole
 * batch back and it is worth trying again; any other code (with a message
 * in err) stops the writer.
 */
typedef int (*dyn_wb_apply_fn) (void *arg, dyn_slice batch, char *err, size_t errlen);

typedef struct dyn_wb_config
{
	size_t		batch_bytes;	/* hand a batch over at this size */
	dyn_wb_apply_fn apply;
	void	   *arg;
} dyn_wb_config;

/* What STATUS shows of the writer (memory.write_behind). */
typedef struct dyn_wb_stats
{
	uint64_t	queued;			/* writes queued since start */
	uint64_t	written;		/* of which stored */
	uint64_t	batches;		/* batches stored */
	uint64_t	max_batch;		/* most writes in one batch */
	uint64_t	retries;		/* batches tried again after DYN_ERR_AGAIN */
	uint64_t	waits;			/* times the loop waited for the writer */
	uint64_t	wait_us;		/* how long, in all */
	uint64_t	queue_bytes;	/* bytes queued and not yet stored */
	uint64_t	batch_bytes;	/* the configured batch size */
	bool		failed;
} dyn_wb_stats;

/*
 * Start the writer thread.
 * @return DYN_OK, DYN_ERR_NOMEM, DYN_ERR_INVAL (no apply function or a zero
 *         batch size), DYN_ERR_IO (the thread could not be started)
 */
int			dyn_wb_start(const dyn_wb_config *cfg, dyn_wb **out);

/*
 * Queue a write and return its sequence number in *seq (they start at 1
 * and go up by one; *seq means nothing unless DYN_OK).  The record is
 * copied.  May wait for the writer when the filling batch is full.
 * @return DYN_OK, DYN_ERR_INVAL (ns over 255, an unknown op),
 *         DYN_ERR_TOOBIG (a key or value over 4 GiB), DYN_ERR_NOMEM
 *         (nothing queued for these three), DYN_ERR_ENGINE (the
 *         writer has failed and the write will never be stored;
 *         dyn_wb_failure says why)
 */
int			dyn_wb_queue(dyn_wb *wb, dyn_wb_op op, unsigned ns, dyn_slice key,
						 dyn_slice value, uint64_t *seq);

/* Hand the filling batch to the writer if it is idle; never waits. */
void		dyn_wb_kick(dyn_wb *wb);

/*
 * The loop's call once per turn: dyn_wb_kick if the filling batch is old
 * or large enough to be worth waking the writer for.  Returns true if
 * writes are left waiting, and then in *due_us how soon to call again.
 */
bool		dyn_wb_tick(dyn_wb *wb, uint64_t *due_us);

/* The sequence number up to which every queued write is stored. */
uint64_t	dyn_wb_written(const dyn_wb *wb);

/* The sequence number of the last write queued (0: none yet). */
uint64_t	dyn_wb_queued(const dyn_wb *wb);

/*
 * Wait until every queued write is stored.
 * @return DYN_OK, DYN_ERR_ENGINE (the writer failed; dyn_wb_failure)
 */
int			dyn_wb_drain(dyn_wb *wb);

/* Whether the writer has failed; if so its message goes to msg[len]. */
bool		dyn_wb_failure(dyn_wb *wb, char *msg, size_t len);

void		dyn_wb_stats_get(dyn_wb *wb, dyn_wb_stats *out);

/*
 * Store what is queued, stop the thread and free wb (NULL is allowed).
 * @return DYN_OK, DYN_ERR_ENGINE (queued writes were not stored; the
 *         message goes to err[errlen])
 */
int			dyn_wb_stop(dyn_wb *wb, char *err, size_t errlen);

/*
 * Append one record to a batch (the queue's format: op u8, ns u8, key
 * blob32, value blob32); out->err is set when it could not grow.
 */
void		dyn_wb_batch_append(dyn_buf *out, dyn_wb_op op, uint8_t ns,
								dyn_slice key, dyn_slice value);

/*
 * Decode the next record of a batch into *rec.
 * @return 1 (a record), 0 (the end), DYN_ERR_PROTO (a malformed batch)
 */
int			dyn_wb_batch_next(dyn_reader *r, dyn_wb_record *rec);

#endif							/* DYNAMO_WRITEBEHIND_H */
