/*
 * antientropy.h
 *		Rounds of anti-entropy: every partition this node replicates is
 *		reconciled with every other replica of it, in the background on a
 *		schedule and at once on an admin's REPAIR; and tombstones that every
 *		replica holds are reaped once their grace period has passed.
 *
 * A round walks the partitions in order and, for each one this node
 * replicates, runs one exchange (sync.h) with each other replica that is
 * up, one exchange at a time, paced by the node's throttle.  Hinted handoff
 * and read repair fix most divergence quickly; a round is what repairs a
 * replica that lost its disk, or keys nobody reads.
 *
 * Reaping: a tombstone may only go once no replica can bring back what it
 * deleted.  So the partition's first replica (one node decides per
 * partition) reaps only when, in this round, every one of the N replicas
 * was up and had the same tree as its own -- then every replica holds every
 * tombstone it holds -- and only tombstones whose newest delete is older
 * than the grace period (which covers hints of the deleted versions still
 * on their way).  It asks each other replica to drop them (REAP, refused
 * for any key that changed meanwhile), then drops its own.
 */
#ifndef DYNAMOD_ANTIENTROPY_H
#define DYNAMOD_ANTIENTROPY_H

#include <uv.h>

#include "sync.h"

#define DYN_REAP_BATCH		512		/* tombstones per REAP request */

typedef struct ae_waiter ae_waiter;

/* The node's anti-entropy: schedule, the round in progress, counters. */
typedef struct dyn_ae
{
	uint64_t	interval_ms;	/* between background rounds; 0: only on REPAIR */
	uint64_t	grace_ms;		/* tombstone grace period */
	uv_timer_t	timer;
	bool		timer_on;
	/* the round in progress */
	bool		running;
	uint64_t	round_id;		/* rounds started so far */
	uint32_t	partition;		/* being reconciled */
	dyn_member *peers[DYN_RING_N_MAX];
	int			npeers;
	int			peer;			/* exchange in flight with peers[peer] */
	bool		all_equal;		/* every exchange of the partition found no difference */
	int			replicas;		/* replicas of the partition (N capped by members) */
	bool		reaping;		/* REAP requests in flight */
	int			reap_inflight;
	uint16_t	reap_count;		/* tombstones in the REAP in flight */
	bool		reap_all_ok;	/* every replica dropped all of them */
	dyn_buf		reap_keys;		/* their keys: ours are dropped once all agree */
	uint64_t	round_started;
	uint32_t	round_partitions;
	uint64_t	round_reaped;
	dyn_sync_counts round;
	ae_waiter  *waiters;		/* REPAIR requests waiting for a round */
	uint64_t	recover_round;	/* recovering: the first round that may end it */
	/* since start */
	uint64_t	rounds;
	dyn_sync_counts total;
	uint64_t	merkle_requests;	/* answered for other nodes */
	uint64_t	key_requests;
	uint64_t	tombstones_reaped;	/* here, on our REAP or another's */
	uint64_t	last_round_ms;	/* duration of the last round */
} dyn_ae;

/* Start the schedule (node->ae's interval and grace are set by main). */
void		dyn_ae_start(dyn_node *node);
/* Answer every waiting REPAIR with an error and stop the schedule. */
void		dyn_ae_stop(dyn_node *node);
/* Free what the rounds kept (after the loop has ended; never started is fine). */
void		dyn_ae_free(dyn_node *node);

/*
 * This node lost its data (a new data directory under an id the ring
 * already gives partitions to): run rounds until one completes without a
 * failed exchange, then clear node->recovering.
 */
void		dyn_ae_recover(dyn_node *node);

/* Start a round now unless one is going (a member left the ring). */
void		dyn_ae_kick(dyn_node *node);

/*
 * REPAIR from an admin (its body checked empty by the command table):
 * answered, deferred, when a full round ends.  @return DYN_OK.
 */
int			dyn_ae_on_repair(dyn_request *req);

/* Append "anti_entropy":{...} (no braces around it) for STATUS. */
void		dyn_ae_status_json(const dyn_node *node, dyn_buf *out);

#endif							/* DYNAMOD_ANTIENTROPY_H */
