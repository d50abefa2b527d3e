/*
 * claim.h
 *		The claim optimiser: which member owns which partition (claim.c).
 *		Private to libdynamo; ring.c is its one caller.
 */
#ifndef DYNAMO_CLAIM_H
#define DYNAMO_CLAIM_H

#include <string.h>

#include "dynamo/ring.h"

/* Whether two members share a zone; a member without one shares nothing. */
static inline bool
dyn_ring_same_zone(const dyn_ring_member *a, const dyn_ring_member *b)
{
	return a->zone[0] != '\0' && strcmp(a->zone, b->zone) == 0;
}

/* "No member" in a skip argument (and a position not chosen yet). */
#define DYN_CLAIM_UNSET		UINT32_MAX

/* What a claim is for (see dyn_claim_run). */
typedef enum dyn_claim_kind
{
	DYN_CLAIM_FRESH,			/* everything afresh */
	DYN_CLAIM_JOIN,				/* the last member is new */
	DYN_CLAIM_LEAVE				/* some partitions lost their owner */
} dyn_claim_kind;

/*
 * The working state of one claim (the caller's, on its stack; the arrays
 * are dyn_claim_init's).  A claim plans in the numbering the members will
 * have afterwards (a joiner last, a leaver gone) and touches the ring only
 * once the plan is complete, so that a failed allocation leaves the ring
 * as it was.
 */
typedef struct dyn_claim
{
	uint32_t	q;				/* partitions */
	uint32_t	s;				/* members after the change */
	uint32_t	n;				/* the ring's N */
	uint32_t	w;				/* window that wants distinct owners: min(n, s) */
	uint16_t   *owner;			/* q: the proposal, NO_OWNER where undecided */
	uint16_t   *prev;			/* q: owners before, NO_OWNER for a leaver's */
	uint16_t   *best;			/* q: best complete proposal, or scratch */
	uint16_t   *zone;			/* s: zone identity (lowest index in the zone) */
	uint16_t   *zseq;			/* s: the zone order member_order() builds */
	uint32_t   *count;			/* s: partitions each member owns in owner */
	uint32_t   *rank;			/* s: position in the zone-interleaved order */
	uint32_t   *quota;			/* s: partitions spread() gives each member */
	uint32_t   *aux;			/* s: scratch */
	uint32_t   *left;			/* s: spread() scratch */
	uint32_t   *first;			/* s: spread() scratch */
	uint32_t   *last;			/* s: spread() scratch */
} dyn_claim;

/*
 * A claim for s members numbered as they will be: the ring's members in
 * order without the one at skip (DYN_CLAIM_UNSET: none), plus, when s is
 * one more than the ring holds, the joiner the caller wrote past the end.
 * @return DYN_OK, or DYN_ERR_NOMEM (nothing to free then).
 */
int			dyn_claim_init(dyn_claim *pl, const dyn_ring *ring, uint32_t s, uint32_t skip);
/* Release a claim's arrays. */
void		dyn_claim_free(dyn_claim *pl);
/*
 * Fill pl->owner for kind; old_s is the member count before the change.
 * Never fails: the allocations were made by dyn_claim_init.
 */
void		dyn_claim_run(dyn_claim *pl, dyn_claim_kind kind, uint32_t old_s);

#endif							/* DYNAMO_CLAIM_H */
