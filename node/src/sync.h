/*
 * sync.h
 *		One anti-entropy exchange: this node and one other node reconcile
 *		their copies of one partition, in both directions, moving only the
 *		keys on which they differ.  Also the answering side of it.
 *
 * The exchange (Dynamo section 4.7) walks the two Merkle trees of the
 * partition (store.h keeps them current) from the root down: the other
 * node sends the digests of the two children of every node that differed
 * one level up, so the traffic grows with the number of differing keys, not
 * with the partition.  At the leaves it lists the keys of the differing
 * leaves with their digests (SYNC_KEYS), and this node then pulls each key
 * whose digest differs or that it lacks (REPLICA_GET, merged here with
 * dyn_store_merge, which keeps every sibling neither side superseded -- so a
 * tombstone wins over the version it deleted on every path), and pushes
 * back what the other lacks or what the merge made newer (REPLICA_PUT).
 *
 * When this node holds nothing of the partition (a new owner in a handoff,
 * a wiped disk) the walk is pointless: it asks for every key with its
 * sibling set at once, in pages (a full transfer).
 *
 * Exchanges are background work: every request waits for the node's
 * throttle (throttle.h), and at most DYN_SYNC_WINDOW key transfers are in
 * flight per exchange.
 */
#ifndef DYNAMOD_SYNC_H
#define DYNAMOD_SYNC_H

#include "dynamo/wire.h"
#include "membership.h"
#include "request.h"

#define DYN_SYNC_WINDOW			32		/* key transfers in flight per exchange */
#define DYN_SYNC_TIMEOUT_MS		10000	/* deadline of one request of an exchange */

/* What exchanges did; summed per exchange, per round and per node. */
typedef struct dyn_sync_counts
{
	uint64_t	exchanges;		/* exchanges finished (well or not) */
	uint64_t	failed;			/* of those, ended by an error */
	uint64_t	keys_compared;	/* distinct keys of differing leaves compared */
	uint64_t	keys_sent;		/* sibling sets pushed to the other node */
	uint64_t	keys_received;	/* sibling sets taken from the other node */
	uint64_t	bytes_sent;		/* every request byte of the exchanges */
	uint64_t	bytes_received; /* every reply byte */
	uint64_t	compare_bytes;	/* of both, the tree walk and key listings */
	uint64_t	ms;				/* time spent, summed over exchanges */
} dyn_sync_counts;

/* How one exchange ended. */
typedef struct dyn_sync_result
{
	int			status;			/* DYN_OK, or why it stopped */
	char		remote[160];	/* DYN_ERR_REMOTE: the peer's error message */
	bool		equal;			/* the roots matched: nothing differed */
	uint32_t	partition;
	char		peer[DYN_NODE_ID_MAX + 1];
	dyn_sync_counts counts;
} dyn_sync_result;

typedef void (*dyn_sync_done_fn) (void *arg, const dyn_sync_result *res);

/*
 * What an exchange moves: both ways (anti-entropy, a new owner pulling),
 * or only what this node has that the other lacks (a node about to drop
 * the partition has no use for the other's keys).
 */
#define DYN_SYNC_BOTH		0
#define DYN_SYNC_PUSH_ONLY	1

/*
 * Start reconciling partition with member peer (not this node); done is
 * called exactly once, later (never inside this call), unless this returns
 * an error.  The node's throttle paces it.
 */
int			dyn_sync_start(dyn_node *node, dyn_member *peer, uint32_t partition,
						   int direction, dyn_sync_done_fn done, void *arg);

/*
 * Why an exchange failed, for a log line: the peer's own message when it
 * answered with an error frame (DYN_ERR_REMOTE), else dyn_strerror's.
 */
const char *dyn_sync_result_why(const dyn_sync_result *res);

/* Add b's counts to a's. */
void		dyn_sync_counts_add(dyn_sync_counts *a, const dyn_sync_counts *b);
/* Append the counts as JSON members (no braces). */
void		dyn_sync_counts_json(const dyn_sync_counts *c, dyn_buf *out);

/*
 * The answering side: MERKLE, SYNC_KEYS and REAP requests of another node.
 * DYN_ERR_PROTO for a malformed body (the caller closes the connection).
 */
int			dyn_sync_on_merkle(dyn_request *req);
int			dyn_sync_on_keys(dyn_request *req);
int			dyn_sync_on_reap(dyn_request *req);

/* Whether this node holds nothing of partition (its tree is empty). */
bool		dyn_sync_partition_empty(dyn_node *node, uint32_t partition);

#endif							/* DYNAMOD_SYNC_H */
