/*
 * hints.h
 *		Hinted handoff: versions kept for a node that could not take them,
 *		delivered when it is back.
 *
 * A hint is a sibling set held for a target node, in the engine's hint
 * namespace (DYN_NS_HINT), so hints survive a restart of the node keeping
 * them.  Its engine key is  u8 target length | target id | store key  (the
 * store key as dyn_store_key makes it), so one target's hints are one key
 * range.  A second hint for the same target and key is merged into the first
 * with dyn_object_merge, so a hint is always one sibling set, never a queue
 * of versions.  Hints never go into this node's own objects.
 *
 * Delivery: when the failure detector sees a target up (and every second
 * while it stays up and hints wait), the hints of that target are read in
 * batches of at most DYN_HINT_BATCH records (and DYN_HINT_BATCH_BYTES) and
 * sent as replica puts; a hint is deleted only once the target acknowledged
 * it, and only if it did not change meanwhile (a newer hint merged in while
 * the old one was on its way is delivered in the next batch).  One batch per
 * target is in flight at a time: delivery cannot flood a node that has just
 * come back.
 *
 * A hint deleted after delivery retires the stand-in actor of its
 * partition (dynamo/actor.h): that actor no longer holds every version it
 * dotted, so it must never issue another dot.
 */
#ifndef DYNAMOD_HINTS_H
#define DYNAMOD_HINTS_H

#include <uv.h>

#include "dynamo/actor.h"
#include "membership.h"
#include "store.h"

#define DYN_HINT_BATCH			64
#define DYN_HINT_BATCH_BYTES	(4u * 1024 * 1024)
#define DYN_HINT_INTERVAL_MS	1000
#define DYN_HINT_TIMEOUT_MS		5000

/* Hints kept for one target. */
typedef struct dyn_hint_target
{
	char		id[DYN_NODE_ID_MAX + 1];
	uint64_t	pending;		/* hint records held for it */
	bool		delivering;		/* a batch is in flight */
} dyn_hint_target;

/* This node's hints and their delivery. */
typedef struct dyn_hints
{
	dyn_store  *store;
	dyn_membership *ms;
	const dyn_logger *log;
	dyn_actors *actors;			/* a delivered hint retires its partition's stand-in actor */
	dyn_hint_target *targets;
	size_t		ntargets;
	size_t		cap;
	uint64_t	total;			/* pending hint records, all targets */
	uint64_t	stored;			/* hints written (new or merged) since start */
	uint64_t	delivered;		/* hints acknowledged and deleted since start */
	uv_timer_t	timer;
	bool		timer_on;
	bool		stopping;
	dyn_buf		key;
	dyn_buf		value;
} dyn_hints;

/* Count the stored hints per target and start the delivery timer. */
int			dyn_hints_open(dyn_hints *h, uv_loop_t *loop, dyn_store *store,
						   dyn_membership *ms, const dyn_logger *log);
void		dyn_hints_stop(dyn_hints *h);
void		dyn_hints_free(dyn_hints *h);

/*
 * Keep object (an encoded sibling set of bucket/key) for target, merging
 * with any hint already held.  DYN_ERR_PROTO for a malformed object,
 * DYN_ERR_INVAL for a target id that is not a node id, DYN_ERR_ENGINE.
 */
int			dyn_hints_store(dyn_hints *h, dyn_slice target, dyn_slice bucket,
							dyn_slice key, dyn_slice object);

/*
 * Merge every hint held for bucket/key (for any target) into obj, for a
 * replica read on a stand-in; the merged values point into bufs[0..nbufs),
 * which the caller frees.  Returns how many hints were merged.
 */
int			dyn_hints_merge_into(dyn_hints *h, dyn_slice bucket, dyn_slice key,
								 dyn_object *obj, dyn_buf *bufs, int nbufs);

/*
 * The same for a stand-in that coordinates a write of bucket/key: every
 * hint held for the key must be in obj, since its dot's counter and the
 * siblings shipped beside it come from them, so any hint that cannot be
 * read or merged fails the call (DYN_ERR_ENGINE, DYN_ERR_PROTO, DYN_ERR_
 * NOMEM, DYN_ERR_TOOBIG).  The merged values point into *bufs, an array of
 * *nbufs buffers this allocates; free it with dyn_hints_gather_free.
 */
int			dyn_hints_gather(dyn_hints *h, dyn_slice bucket, dyn_slice key,
							 dyn_object *obj, dyn_buf **bufs, size_t *nbufs);
void		dyn_hints_gather_free(dyn_buf *bufs, size_t nbufs);

/* A target was seen up: deliver its hints now. */
void		dyn_hints_kick(dyn_hints *h, dyn_slice target);

/* Append "hints":{...} (no braces around it) for STATUS. */
void		dyn_hints_status_json(const dyn_hints *h, dyn_buf *out);

#endif							/* DYNAMOD_HINTS_H */
