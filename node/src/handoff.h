/*
 * handoff.h
 *		Ownership handoff: partitions change owner only after their data has
 *		moved, for joins, for removals (REMOVE), and for the old owner
 *		dropping what it no longer replicates.
 *
 * A join or a removal is planned in the ring (dyn_ring_plan_join /
 * dyn_ring_plan_leave): each partition that must move gets a next owner,
 * and nothing else changes, so reads and writes keep going to the current
 * owners.  Every node then works through the partitions whose next owner it
 * is, a few at a time:
 *
 *	1. the partitions it will replicate once they switch, and does not
 *	   replicate now, are pulled from every live replica of them (sync.h:
 *	   a full transfer from the first, a diff from the others, so a write
 *	   that reached only some of them is not missed -- and a dead owner's
 *	   partitions are rebuilt from the replicas left);
 *	2. the ring switches those partitions to it (dyn_ring_complete, one
 *	   ring change gossiped at once);
 *	3. the same partitions are reconciled once more with the old replicas,
 *	   for the writes they acknowledged while the transfer ran.
 *
 * A node that holds a partition it no longer replicates, now or once every
 * pending transfer completes, reconciles it with its replicas and then
 * drops it, in throttled chunks.  A leaving member that owns nothing any
 * more is pruned from the ring by whichever node notices first (the result
 * is the same on every node).
 *
 * Ring changes made concurrently by two nodes can meet at the same version;
 * gossip keeps one.  Nothing is lost by that: a completion that lost is
 * redone on the next tick (its partitions still name this node as next
 * owner, and the second pull finds nothing to move), a lost leave plan is
 * planned again by the node that accepted the REMOVE.
 */
#ifndef DYNAMOD_HANDOFF_H
#define DYNAMOD_HANDOFF_H

#include <uv.h>

#include "sync.h"

#define DYN_HANDOFF_BATCH		8		/* partitions switched per ring change */
#define DYN_HANDOFF_TICK_MS		200
#define DYN_HANDOFF_DROP_CHUNK	1024	/* keys dropped per tick */
#define DYN_HANDOFF_REMOVING_MAX 8

/* What each partition's handoff is doing, for STATUS. */
typedef enum dyn_handoff_state
{
	DYN_HANDOFF_IDLE = 0,
	DYN_HANDOFF_PULLING,		/* a partition this node takes: data coming */
	DYN_HANDOFF_CATCHING_UP,	/* switched; reconciling with the old replicas */
	DYN_HANDOFF_DROPPING		/* no longer ours: reconciled, being deleted */
} dyn_handoff_state;

typedef struct dyn_handoff
{
	uv_timer_t	timer;
	bool		timer_on;
	bool		busy;			/* a batch or a drop is in progress */
	uint8_t    *state;			/* per partition, dyn_handoff_state */
	/* the batch of partitions switching to this node */
	uint32_t	batch[DYN_HANDOFF_BATCH];
	size_t		nbatch;
	uint32_t   *gained;			/* partitions to pull (replicated after the switch) */
	size_t		ngained;
	size_t		gi;				/* gained partition being pulled */
	dyn_member *sources[DYN_RING_N_MAX];
	int			nsources;
	int			si;
	int			ok_sources;		/* exchanges of gained[gi] that succeeded */
	bool		failed;
	bool		catching_up;	/* phase 3 */
	dyn_ring	prev;			/* the ring when the batch started: its replicas are the sources */
	bool		prev_set;
	/* dropping */
	uint32_t	drop;			/* the partition being dropped */
	bool		drop_synced;	/* reconciled with its replicas: delete now */
	/* removals this node accepted, re-planned if a ring change loses them */
	char		removing[DYN_HANDOFF_REMOVING_MAX][DYN_NODE_ID_MAX + 1];
	int			nremoving;
	uint32_t	members_seen;	/* ring members at the last tick */
	/* since start */
	uint64_t	partitions_received;	/* partitions switched to this node */
	uint64_t	partitions_dropped;
	uint64_t	keys_dropped;
	uint64_t	batches;
	uint64_t	batches_failed;
	dyn_sync_counts counts;		/* the exchanges handoff ran */
} dyn_handoff;

/* Start the handoff timer; DYN_ERR_NOMEM. */
int			dyn_handoff_start(dyn_node *node);
void		dyn_handoff_stop(dyn_node *node);
void		dyn_handoff_free(dyn_node *node);
/*
 * Once the ring is known: whether this node lost its data (a new data
 * directory under partitions the ring gives it); then its owner actor
 * becomes an incarnation and a repair round starts.  Idempotent; the
 * handoff timer calls it, and so does a write that comes first.
 */
void		dyn_handoff_check_recovery(dyn_node *node);

/*
 * REMOVE from an admin: plan the leave and answer at once.  @return DYN_OK,
 * or DYN_ERR_PROTO for a malformed body (nothing answered: the caller closes).
 */
int			dyn_handoff_on_remove(dyn_request *req);

/* Append "handoff":{...} (no braces around it) for STATUS. */
void		dyn_handoff_status_json(const dyn_node *node, dyn_buf *out);

#endif							/* DYNAMOD_HANDOFF_H */
