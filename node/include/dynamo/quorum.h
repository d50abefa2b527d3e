/*
 * quorum.h
 *		When a quorum read or write may answer, and which replicas a read
 *		repairs: the decisions of a coordinator from its replicas' answers,
 *		as pure functions.
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

/*
 * A PUT's or DELETE's acknowledgements so far.  Sloppy quorum (Dynamo
 * section 4.6): a stand-in that kept the write as a hint for a down owner
 * counts towards W like an owner, since hinted handoff brings the version
 * to that owner; so a write succeeds while any W nodes of the key's
 * extended preference list reach the coordinator, its owners all cut off
 * included.  The coordinator's own copy comes first and is not optional:
 * it is the copy every later dot of its actor is picked from (dynamo/
 * actor.h), so when it fails nothing was shipped and the write fails.
 */
typedef struct dyn_write_tally
{
	bool		local_failed;	/* the coordinator's own copy could not be kept */
	int			acks;			/* copies kept: the coordinator's, replicas' */
	int			standin_acks;	/* of those, kept by stand-ins as hints */
	int			failed;			/* replicas that refused, failed or timed out */
	int			outstanding;	/* replicas still to answer */
} dyn_write_tally;

typedef enum dyn_write_verdict
{
	DYN_WRITE_WAIT,				/* not yet: more acknowledgements may come */
	DYN_WRITE_ANSWER,			/* W copies kept: acknowledge the write */
	DYN_WRITE_FAIL				/* quorum not met */
} dyn_write_verdict;

/*
 * The verdict for w acknowledgements wanted of n replicas (1 <= w).  A
 * failure waits for every outstanding answer, so that the count the error
 * gives ("1 of 3 replicas acknowledged") is final; a local failure or w > n
 * fails at once.
 */
dyn_write_verdict dyn_write_decide(const dyn_write_tally *t, int w, int n);

/*
 * Read repair (Dynamo section 4.5; Riak's riak_kv_get_core decides it from
 * the same facts): once every target of a GET has answered or failed, the
 * coordinator sends the merged sibling set to the replicas that showed they
 * lack part of it.  Decided in two steps, so that the merged set is encoded
 * only when a repair may follow:
 *
 *   - none at all when every answer was the same set (objects are
 *     canonical: equal sets have equal bytes), when fewer than two replicas
 *     answered (nothing to compare), or when the merged set is empty;
 *   - otherwise every owner that answered a set other than the merged one
 *     gets it: a stale version, "not found" (the empty set), a tombstone
 *     where a newer value exists, one side of concurrent siblings;
 *   - never a stand-in: it holds the key only as a hint, which hinted
 *     handoff delivers to the owner; a repair would make it a copy the
 *     owners' anti-entropy knows nothing of;
 *   - never a replica that failed or timed out (or sent what could not be
 *     read): what it holds is unknown, and anti-entropy or the next read
 *     repairs it once it answers.
 */

/* One target's part of a GET, as read repair sees it. */
typedef struct dyn_read_answer
{
	bool		answered;		/* it answered a set that was read and merged */
	bool		owner;			/* one of the key's N owners (not a stand-in) */
	dyn_slice	set;			/* that set, encoded (when answered) */
} dyn_read_answer;

/*
 * Whether any repair may follow: answers replicas answered, all_same when
 * every one was the first's bytes, merged_siblings in their merged set.
 */
bool		dyn_read_repair_any(bool all_same, int answers, size_t merged_siblings);

/*
 * Which of the n answers get merged (the merged set, encoded): repair[i] is
 * set for each, and their number returned.  Call only when
 * dyn_read_repair_any said so.
 */
int			dyn_read_repair_targets(const dyn_read_answer *a, int n, dyn_slice merged,
									bool *repair);

#endif							/* DYNAMO_QUORUM_H */
