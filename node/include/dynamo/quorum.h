/*
 * quorum.h
 *		When a quorum read may answer: the decision of a GET's coordinator
 *		from the tally of its replicas' answers, as a pure function.
 *
 * Why: under a partition the first N healthy nodes a coordinator reaches
 * include stand-ins, which hold nothing for a key unless a hint brought it.
 * Counting their empty answers towards R made "not found" the answer for
 * keys that exist (Riak's notfound_ok trade-off: R met by fallbacks before
 * a primary replied).  Here, as with Riak's notfound_ok=false but only for
 * stand-ins, an empty answer from a stand-in is no evidence that the key is
 * absent:
 *
 *   - a read that found something (any sibling, tombstones too) answers
 *     once R replicas of any kind have answered, as before: the merged set
 *     is at least as new as every answer, and an empty one adds nothing;
 *   - "not found" needs R authoritative answers: owners' (an owner's empty
 *     answer is the ordinary R+W>N evidence) or stand-ins' that held data;
 *   - with every answer in and neither reached, the read fails as a quorum
 *     failure (the client may retry) rather than claim the key is absent.
 *
 * Owners are asked first (the coordinator's targets are the first N healthy
 * nodes of the preference list), so a stand-in is asked only in place of an
 * owner this node cannot reach.
 */
#ifndef DYNAMO_QUORUM_H
#define DYNAMO_QUORUM_H

#include "dynamo/common.h"

/* A GET's answers so far. */
typedef struct dyn_read_tally
{
	int			answers;		/* replicas that answered (found or not) */
	int			authoritative;	/* of those, owners, and stand-ins that held data */
	int			found;			/* of those, answers holding any sibling */
	int			outstanding;	/* replicas still to answer */
} dyn_read_tally;

typedef enum dyn_read_verdict
{
	DYN_READ_WAIT,				/* not yet: more answers may come */
	DYN_READ_ANSWER,			/* answer with the merged set (empty: not found) */
	DYN_READ_FAIL				/* every answer is in: quorum not met */
} dyn_read_verdict;

/* The verdict for r answers wanted (r >= 1). */
dyn_read_verdict dyn_read_decide(const dyn_read_tally *t, int r);

/* Add one replica's answer: from an owner or not, holding data or empty. */
static inline void
dyn_read_tally_add(dyn_read_tally *t, bool owner, bool has_data)
{
	t->answers++;
	t->authoritative += owner || has_data;
	t->found += has_data;
}

#endif							/* DYNAMO_QUORUM_H */
