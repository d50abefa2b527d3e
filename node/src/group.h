/*
 * group.h
 *		Group commit across connections: the writes of one turn of the
 *		event loop, from every connection and path, made durable by one
 *		log write (--durability flush) or one fsync (fsync).
 *
 * The engine is opened with group commit (engine.h): each write commits
 * at once as a transaction of its own, and the node's replies wait (conn.c,
 * durable.h) until dyn_engine_sync has covered every write made before
 * them.  Before the loop waits for I/O, if anything was written, a sync
 * starts: on the loop thread when it is only a write to the OS, on a
 * libuv worker thread when it is an fsync.  While an fsync runs the loop
 * goes on serving, and what is written meanwhile waits for the next fsync,
 * which starts as soon as this one ends (or, while the group is smaller
 * than recent ones, up to a millisecond later): so many connections share
 * one.
 *
 * A sync that fails has made nothing durable: the connections whose
 * replies waited for it are closed without them (the client sees its
 * requests unanswered, not a false acknowledgement).  Its writes are still
 * committed, so any later reply could depend on them (a GET reads one, a
 * coordinated PUT whose last replica ack arrives after the failure), and
 * no later sync can be trusted to cover them: from then on every
 * connection given a reply is closed instead, until the node restarts.
 */
#ifndef DYNAMOD_GROUP_H
#define DYNAMOD_GROUP_H

#include <uv.h>

#include "durable.h"
#include "engine.h"

typedef struct dyn_node dyn_node;

/* The node's group commit: its generations and the sync being run. */
typedef struct dyn_group
{
	dyn_node   *node;
	dyn_sync_kind kind;			/* DYN_SYNC_NONE: group commit is off */
	dyn_durable clock;
	uv_prepare_t prepare;		/* starts a sync before the loop waits */
	bool		prepare_on;		/* prepare initialised (close it at stop) */
	uv_timer_t	form;			/* bounds the wait for a group to grow */
	uv_work_t	work;			/* the fsync on a worker thread */
	int			work_rc;
	char		work_err[256];
	uint64_t	started_ns;
	uint64_t	writes_at_start;	/* engine writes the sync in flight covers */
	/* STATUS */
	uint64_t	syncs;
	uint64_t	sync_failures;
	uint64_t	synced_writes;	/* writes covered by the syncs so far */
	uint64_t	max_writes;		/* most writes one sync covered */
	uint64_t	sync_us;		/* time spent in syncs */
} dyn_group;

/* Start group commit for node's engine (nothing when it has none). */
void		dyn_group_start(dyn_group *g, dyn_node *node);
/* Stop starting syncs (node stop); one in flight still ends. */
void		dyn_group_stop(dyn_group *g);
/* Whether replies wait for syncs. */
bool		dyn_group_on(const dyn_group *g);
/* Whether a sync has failed: no reply may leave again (dyn_durable_fail). */
bool		dyn_group_failed(const dyn_group *g);
/* The generation a reply produced now waits for, and the durable one. */
uint64_t	dyn_group_need(const dyn_group *g);
uint64_t	dyn_group_durable(const dyn_group *g);
/* STATUS fields (",\"group_commit\":{...}"). */
void		dyn_group_status_json(const dyn_group *g, dyn_buf *out);

#endif							/* DYNAMOD_GROUP_H */
