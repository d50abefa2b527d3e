/*
 * phi.h
 *		The phi-accrual failure detector (Hayashibara et al. 2004), as a
 *		value type: a window of heartbeat inter-arrival times and the
 *		suspicion level phi they imply for the time since the last one.
 *
 * phi = -log10(P(the next heartbeat arrives later than now)), with the
 * inter-arrival times modelled as a normal distribution of the window's
 * mean and standard deviation (Akka's variant).  Two bounds make it fit a
 * 1-second gossip: the standard deviation is clamped to [min_std, max_std]
 * (a perfectly regular window would otherwise make any delay infinitely
 * suspicious, a wild one never suspicious), and an acceptable pause is added
 * to the mean (gossip to a random peer is not a metronome).  With the
 * defaults below a silent peer crosses DYN_PHI_THRESHOLD between about
 * 2 and 4.5 seconds after its last heartbeat, whatever the window holds.
 *
 * In libdynamo so that it is unit-tested alone; no globals, no clock: the
 * caller passes times in milliseconds.
 */
#ifndef DYNAMO_PHI_H
#define DYNAMO_PHI_H

#include "dynamo/common.h"

#define DYN_PHI_WINDOW		32		/* inter-arrival times remembered */
#define DYN_PHI_THRESHOLD	8.0		/* suspicion past which a peer is down */
#define DYN_PHI_MIN_STD_MS	200.0
#define DYN_PHI_MAX_STD_MS	500.0
#define DYN_PHI_MAX_MEAN_MS	1000.0	/* a slower window is taken as 1 s */
#define DYN_PHI_PAUSE_MS	500.0	/* acceptable extra delay */
#define DYN_PHI_FIRST_MS	1000.0	/* assumed interval before any sample */

/* One peer's heartbeat history. */
typedef struct dyn_phi
{
	double		interval[DYN_PHI_WINDOW];
	uint32_t	count;			/* samples held (<= DYN_PHI_WINDOW) */
	uint32_t	next;			/* where the next sample goes */
	uint64_t	last_ms;		/* arrival of the last heartbeat; 0: none yet */
} dyn_phi;

/* An empty history. */
void		dyn_phi_init(dyn_phi *p);
/* A heartbeat arrived at now_ms: record the interval since the last one. */
void		dyn_phi_heartbeat(dyn_phi *p, uint64_t now_ms);
/* phi at now_ms (0 before any heartbeat; capped at 100). */
double		dyn_phi_value(const dyn_phi *p, uint64_t now_ms);

/* phi from which one failed request is enough to judge a peer down. */
#define DYN_PHI_SUSPECT		2.5
/*
 * The verdict from phi and the count of this node's requests to the peer
 * that failed (timed out, refused, connection lost) since it last answered:
 * down past the threshold, or sooner when failures back a late answer.
 */
bool		dyn_phi_down(double phi, int failures);

#endif							/* DYNAMO_PHI_H */
