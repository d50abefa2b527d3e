/*
 * sync.c
 *		One anti-entropy exchange of a partition with another node, and the
 *		answers to another node's exchange (see sync.h).
 *
 * The exchange is a small state machine driven by replies:
 *
 *	ROOT	ask for the other's root; equal roots end it
 *	FULL	(this node holds nothing of the partition) page through every
 *			key with its sibling set, merging as the pages come
 *	WALK	one MERKLE request per level with the nodes that differed one
 *			level up, down to the leaves
 *	LIST	page through the other's keys of the differing leaves
 *	MOVE	compare with this node's keys of those leaves, then pull and
 *			push the keys that differ, DYN_SYNC_WINDOW at a time
 *
 * Everything the exchange keeps between replies lives in its sync_op;
 * key lists are kept in the SYNC_KEYS item encoding (u16 length, engine
 * key, digest) inside one buffer each, so a listing costs no allocation
 * per key.
 */
#include "sync.h"

#include "node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamo/merkle.h"
#include "dynamo/ring.h"
#include "dynamo/wire.h"
#include "store.h"

/*
 * Levels one MERKLE request of the walk descends: 2 costs four digests per
 * differing node instead of two, but half the round trips and frame
 * headers, which dominate when few keys differ (measured by t/030).
 */
#define SYNC_SPAN	2

typedef enum sync_state
{
	SYNC_ROOT,
	SYNC_FULL,
	SYNC_WALK,
	SYNC_LIST,
	SYNC_MOVE
} sync_state;

/*
 * One key to move: where it is in the plan buffer and which way it goes.
 * A pull in flight has its move as the callback's argument (the moves
 * array does not move once planned), hence the back pointer.
 */
typedef struct sync_op sync_op;
typedef struct sync_move
{
	sync_op    *op;
	uint32_t	key_off;		/* engine key in op->plan */
	uint16_t	key_len;
	bool		pull;			/* take the other's copy (else push ours) */
	uint8_t		digest[DYN_SYNC_DIGEST];	/* the other's digest (pull) */
} sync_move;

/* One exchange in progress. */
struct sync_op
{
	dyn_node   *node;
	dyn_member *member;
	uint32_t	partition;
	sync_state	state;
	bool		push_only;		/* DYN_SYNC_PUSH_ONLY */
	unsigned	depth;			/* tree depth, the same on every replica */
	unsigned	level;			/* WALK: the level the frontier is at */
	unsigned	span;			/* WALK: levels the request in flight descends */
	uint16_t   *frontier;		/* nodes that differ at level (WALK, LIST) */
	size_t		nfrontier;
	dyn_buf		after;			/* FULL, LIST: the last key of the last page */
	dyn_buf		remote;			/* LIST: the other's items, concatenated */
	dyn_buf		plan;			/* MOVE: the engine keys of moves */
	sync_move  *moves;
	size_t		nmoves;
	size_t		next_move;
	int			inflight;
	bool		failed;
	dyn_buf		req;			/* the request being encoded */
	dyn_buf		obj;			/* an object read for a push */
	uv_timer_t	timer;			/* throttle waits */
	bool		timer_on;
	uint64_t	started_ms;
	dyn_sync_result res;
	dyn_sync_done_fn done;
	void	   *arg;
};

static void sync_next(sync_op *op);
static void sync_wait_then_next(sync_op *op);
static void sync_on_timer(uv_timer_t *t);
static void sync_finish(sync_op *op, int status);
static void sync_free(uv_handle_t *h);
static int	sync_send(sync_op *op, uint8_t type, dyn_peer_cb cb, void *arg, bool compare);
static void sync_on_root(void *arg, int status, const dyn_frame *reply);
static void sync_on_level(void *arg, int status, const dyn_frame *reply);
static void sync_on_full(void *arg, int status, const dyn_frame *reply);
static void sync_on_list(void *arg, int status, const dyn_frame *reply);
static int	sync_plan_moves(sync_op *op);
static void sync_move_some(sync_op *op);
static void sync_on_pulled(void *arg, int status, const dyn_frame *reply);
static void sync_on_pushed(void *arg, int status, const dyn_frame *reply);
static int	sync_push(sync_op *op, dyn_slice engine_key, bool loaded);
static bool sync_reply_ok(sync_op *op, int status, const dyn_frame *reply, uint8_t type);
static void sync_local_digest(sync_op *op, dyn_slice engine_key, uint8_t *out);
static int	sync_collect_local(void *arg, dyn_slice key, dyn_slice object);
static int	sync_add_move(sync_op *op, size_t *cap, dyn_slice key, const uint8_t *digest);
static int	sync_answer_key(void *arg, dyn_slice key, dyn_slice object);

void
dyn_sync_counts_add(dyn_sync_counts *a, const dyn_sync_counts *b)
{
	a->exchanges += b->exchanges;
	a->failed += b->failed;
	a->keys_compared += b->keys_compared;
	a->keys_sent += b->keys_sent;
	a->keys_received += b->keys_received;
	a->bytes_sent += b->bytes_sent;
	a->bytes_received += b->bytes_received;
	a->compare_bytes += b->compare_bytes;
	a->ms += b->ms;
}

void
dyn_sync_counts_json(const dyn_sync_counts *c, dyn_buf *out)
{
	dyn_buf_printf(out, "\"exchanges\":%llu,\"failed\":%llu,\"keys_compared\":%llu,"
				   "\"keys_sent\":%llu,\"keys_received\":%llu,\"bytes_sent\":%llu,"
				   "\"bytes_received\":%llu,\"compare_bytes\":%llu,\"ms\":%llu",
				   (unsigned long long) c->exchanges, (unsigned long long) c->failed,
				   (unsigned long long) c->keys_compared,
				   (unsigned long long) c->keys_sent,
				   (unsigned long long) c->keys_received,
				   (unsigned long long) c->bytes_sent,
				   (unsigned long long) c->bytes_received,
				   (unsigned long long) c->compare_bytes, (unsigned long long) c->ms);
}

/* Whether the tree of partition equals an empty one. */
bool
dyn_sync_partition_empty(dyn_node *node, uint32_t partition)
{
	uint8_t		root[DYN_MERKLE_DIGEST];

	dyn_merkle_root(dyn_store_tree(&node->store, partition), root);
	return memcmp(root, node->empty_root, DYN_MERKLE_DIGEST) == 0;
}

/* ------------------------------------------------------------ exchange */

int
dyn_sync_start(dyn_node *node, dyn_member *peer, uint32_t partition,
			   int direction, dyn_sync_done_fn done, void *arg)
{
	sync_op    *op;

	if (peer == NULL || peer->self || partition >= node->store.partitions)
		return DYN_ERR_INVAL;
	if ((op = calloc(1, sizeof(*op))) == NULL)
		return DYN_ERR_NOMEM;
	op->node = node;
	op->member = peer;
	op->partition = partition;
	op->push_only = direction == DYN_SYNC_PUSH_ONLY;
	op->state = SYNC_ROOT;
	op->depth = dyn_store_tree(&node->store, partition)->depth;
	op->done = done;
	op->arg = arg;
	op->started_ms = dyn_clock_mono_ms();
	op->res.partition = partition;
	snprintf(op->res.peer, sizeof(op->res.peer), "%s", peer->id);
	dyn_buf_init(&op->after);
	dyn_buf_init(&op->remote);
	dyn_buf_init(&op->plan);
	dyn_buf_init(&op->req);
	dyn_buf_init(&op->obj);
	uv_timer_init(node->loop, &op->timer);
	op->timer.data = op;
	op->timer_on = true;
	/* the first step runs from the loop, so done is never called from here */
	uv_timer_start(&op->timer, sync_on_timer, 0, 0);
	return DYN_OK;
}

/* Go on after the throttle allows it. */
static void
sync_wait_then_next(sync_op *op)
{
	uint64_t	delay = dyn_throttle_delay(&op->node->throttle, dyn_clock_mono_ms());

	if (op->node->stopping)
	{
		sync_finish(op, DYN_ERR_CLOSED);
		return;
	}
	if (delay > 0)
		uv_timer_start(&op->timer, sync_on_timer, delay, 0);
	else
		sync_next(op);
}

static void
sync_on_timer(uv_timer_t *t)
{
	sync_op    *op = t->data;

	if (op->node->stopping)
	{
		sync_finish(op, DYN_ERR_CLOSED);
		return;
	}
	sync_next(op);
}

/*
 * Send the request encoded in op->req (a whole frame) to the other node
 * and charge it to the throttle; compare says it is part of the tree walk
 * or key listing (counted apart from moving keys).
 */
static int
sync_send(sync_op *op, uint8_t type, dyn_peer_cb cb, void *arg, bool compare)
{
	dyn_peer   *p = dyn_membership_peer(op->member);
	dyn_slice	body;
	int			rc;

	if (op->req.err != DYN_OK)
		return op->req.err;
	if (p == NULL)
		return DYN_ERR_IO;
	body.ptr = op->req.data + DYN_FRAME_HEADER_LEN;
	body.len = op->req.len - DYN_FRAME_HEADER_LEN;
	rc = dyn_peer_send(p, type, body, DYN_SYNC_TIMEOUT_MS, cb, arg);
	if (rc != DYN_OK)
		return rc;
	op->inflight++;
	op->res.counts.bytes_sent += op->req.len;
	if (compare)
		op->res.counts.compare_bytes += op->req.len;
	dyn_throttle_charge(&op->node->throttle, op->req.len, dyn_clock_mono_ms());
	return DYN_OK;
}

/*
 * Common checks of a reply: count it, and fail the exchange on a
 * transport error, an error frame or an unexpected type.
 */
static bool
sync_reply_ok(sync_op *op, int status, const dyn_frame *reply, uint8_t type)
{
	op->inflight--;
	if (status != DYN_OK)
	{
		op->res.status = status;
		op->failed = true;
		return false;
	}
	op->res.counts.bytes_received += DYN_FRAME_HEADER_LEN + reply->body.len;
	dyn_throttle_charge(&op->node->throttle, DYN_FRAME_HEADER_LEN + reply->body.len,
						dyn_clock_mono_ms());
	if (reply->type != type)
	{
		dyn_error_msg err;

		/* the first failure is the one reported: later ones follow from it */
		if (op->res.status == DYN_OK && reply->type == DYN_MSG_ERROR &&
			dyn_error_decode(reply->body, &err) == DYN_OK)
		{
			snprintf(op->res.remote, sizeof(op->res.remote), "%s answered: %.*s",
					 op->member->id, (int) err.message.len, (const char *) err.message.ptr);
			op->res.status = DYN_ERR_REMOTE;
		}
		else if (op->res.status == DYN_OK)
			op->res.status = DYN_ERR_PROTO;
		op->failed = true;
		return false;
	}
	return true;
}

const char *
dyn_sync_result_why(const dyn_sync_result *res)
{
	return res->status == DYN_ERR_REMOTE ? res->remote : dyn_strerror(res->status);
}

/* The next request of the state the exchange is in. */
static void
sync_next(sync_op *op)
{
	int			rc = DYN_OK;

	dyn_buf_reset(&op->req);
	switch (op->state)
	{
		case SYNC_ROOT:
			{
				uint16_t	zero = 0;

				dyn_merkle_req_encode(&op->req, 0, (uint16_t) op->partition, 0, 0, &zero, 1);
				rc = sync_send(op, DYN_MSG_MERKLE, sync_on_root, op, true);
				break;
			}
		case SYNC_WALK:
			op->span = op->depth - op->level < SYNC_SPAN ? op->depth - op->level : SYNC_SPAN;
			dyn_merkle_req_encode(&op->req, 0, (uint16_t) op->partition,
								  (uint8_t) (op->level + op->span), (uint8_t) op->span,
								  op->frontier, (uint16_t) op->nfrontier);
			rc = sync_send(op, DYN_MSG_MERKLE, sync_on_level, op, true);
			break;
		case SYNC_FULL:
			dyn_sync_keys_req_encode(&op->req, 0, (uint16_t) op->partition,
									 DYN_SYNC_OBJECTS, dyn_buf_slice(&op->after), NULL, 0);
			rc = sync_send(op, DYN_MSG_SYNC_KEYS, sync_on_full, op, false);
			break;
		case SYNC_LIST:
			dyn_sync_keys_req_encode(&op->req, 0, (uint16_t) op->partition, 0,
									 dyn_buf_slice(&op->after), op->frontier,
									 (uint16_t) op->nfrontier);
			rc = sync_send(op, DYN_MSG_SYNC_KEYS, sync_on_list, op, true);
			break;
		case SYNC_MOVE:
			sync_move_some(op);
			return;
	}
	if (rc != DYN_OK)
		sync_finish(op, rc);
}

/* The root: equal ends the exchange, else walk or take everything. */
static void
sync_on_root(void *arg, int status, const dyn_frame *reply)
{
	sync_op    *op = arg;
	uint8_t		mine[DYN_MERKLE_DIGEST];
	uint8_t		depth;
	dyn_slice	digests;

	if (!sync_reply_ok(op, status, reply, DYN_MSG_MERKLE_REPLY))
	{
		sync_finish(op, op->res.status);
		return;
	}
	op->res.counts.compare_bytes += DYN_FRAME_HEADER_LEN + reply->body.len;
	if (dyn_merkle_reply_decode(reply->body, &depth, &digests) != DYN_OK ||
		digests.len != DYN_SYNC_DIGEST || depth != op->depth)
	{
		dyn_log(&op->node->log, DYN_LOG_WARNING,
				"anti-entropy with %s: unusable root reply for partition %u",
				op->member->id, op->partition);
		sync_finish(op, DYN_ERR_PROTO);
		return;
	}
	dyn_merkle_root(dyn_store_tree(&op->node->store, op->partition), mine);
	if (memcmp(mine, digests.ptr, DYN_SYNC_DIGEST) == 0)
	{
		op->res.equal = true;
		sync_finish(op, DYN_OK);
		return;
	}
	if (dyn_sync_partition_empty(op->node, op->partition))
	{
		if (op->push_only)
		{
			sync_finish(op, DYN_OK);	/* nothing here to give */
			return;
		}
		op->state = SYNC_FULL;
	}
	else
	{
		op->frontier = malloc(sizeof(uint16_t));
		if (op->frontier == NULL)
		{
			sync_finish(op, DYN_ERR_NOMEM);
			return;
		}
		op->frontier[0] = 0;
		op->nfrontier = 1;
		op->level = 0;
		op->state = SYNC_WALK;
	}
	sync_wait_then_next(op);
}

/*
 * The descendants of the frontier, span levels down: keep those that
 * differ from ours as the next frontier; at the leaves, list their keys.
 */
static void
sync_on_level(void *arg, int status, const dyn_frame *reply)
{
	sync_op    *op = arg;
	dyn_merkle *tree = dyn_store_tree(&op->node->store, op->partition);
	unsigned	level = op->level + op->span;
	uint32_t	fan = 1u << op->span;
	uint8_t		depth;
	dyn_slice	digests;
	uint16_t   *next;
	size_t		n = 0;
	dyn_buf		mine;

	if (!sync_reply_ok(op, status, reply, DYN_MSG_MERKLE_REPLY))
	{
		sync_finish(op, op->res.status);
		return;
	}
	op->res.counts.compare_bytes += DYN_FRAME_HEADER_LEN + reply->body.len;
	if (dyn_merkle_reply_decode(reply->body, &depth, &digests) != DYN_OK ||
		depth != op->depth || digests.len != op->nfrontier * fan * DYN_SYNC_NODE_DIGEST)
	{
		sync_finish(op, DYN_ERR_PROTO);
		return;
	}
	if ((next = malloc(op->nfrontier * fan * sizeof(uint16_t))) == NULL)
	{
		sync_finish(op, DYN_ERR_NOMEM);
		return;
	}
	dyn_buf_init(&mine);
	for (size_t i = 0; i < op->nfrontier; i++)
	{
		uint32_t	first = (uint32_t) op->frontier[i] * fan;

		dyn_buf_reset(&mine);
		if (dyn_merkle_level(tree, level, first, fan, &mine) != DYN_OK)
			break;
		for (uint32_t c = 0; c < fan; c++)
			if (memcmp(mine.data + c * DYN_MERKLE_DIGEST,
					   digests.ptr + (i * fan + c) * DYN_SYNC_NODE_DIGEST,
					   DYN_SYNC_NODE_DIGEST) != 0)
				next[n++] = (uint16_t) (first + c);
	}
	dyn_buf_free(&mine);
	free(op->frontier);
	op->frontier = next;
	op->nfrontier = n;
	op->level = level;
	if (n == 0)
	{
		/*
		 * The roots differed but no node below does: a write landed while
		 * we walked, or two short inner digests collided.  The second must
		 * not hide a difference for good, so list every key.
		 */
		op->nfrontier = 0;		/* SYNC_KEYS with no leaf: all of them */
		dyn_buf_reset(&op->after);
		op->state = SYNC_LIST;
		sync_wait_then_next(op);
		return;
	}
	if (level == op->depth)
	{
		dyn_buf_reset(&op->after);
		op->state = SYNC_LIST;
	}
	sync_wait_then_next(op);
}

/* A page of a full transfer: merge every sibling set, then the next page. */
static void
sync_on_full(void *arg, int status, const dyn_frame *reply)
{
	sync_op    *op = arg;
	dyn_sync_keys_reply page;
	dyn_reader	r;
	dyn_slice	key = {NULL, 0};
	dyn_slice	object;
	int			rc = DYN_OK;

	if (!sync_reply_ok(op, status, reply, DYN_MSG_SYNC_KEYS_REPLY))
	{
		sync_finish(op, op->res.status);
		return;
	}
	if (dyn_sync_keys_reply_decode(reply->body, true, &page) != DYN_OK)
	{
		sync_finish(op, DYN_ERR_PROTO);
		return;
	}
	dyn_reader_init(&r, page.items);
	if (dyn_engine_begin(op->node->engine) != DYN_OK)
	{
		sync_finish(op, DYN_ERR_ENGINE);
		return;
	}
	for (uint32_t i = 0; i < page.count && rc == DYN_OK; i++)
	{
		(void) dyn_sync_keys_next(&r, true, &key, &object);
		rc = dyn_store_merge_key(&op->node->store, key, object, NULL);
		op->res.counts.keys_received++;
	}
	if (dyn_engine_commit(op->node->engine) != DYN_OK && rc == DYN_OK)
		rc = DYN_ERR_ENGINE;
	if (rc != DYN_OK)
	{
		dyn_log(&op->node->log, DYN_LOG_WARNING,
				"anti-entropy with %s, partition %u: could not store a key: %s",
				op->member->id, op->partition, dyn_strerror(rc));
		sync_finish(op, rc);
		return;
	}
	if (!page.more || page.count == 0)
	{
		sync_finish(op, DYN_OK);
		return;
	}
	dyn_buf_reset(&op->after);
	dyn_buf_append(&op->after, key.ptr, key.len);
	sync_wait_then_next(op);
}

/* A page of the other's keys of the differing leaves: keep it, go on. */
static void
sync_on_list(void *arg, int status, const dyn_frame *reply)
{
	sync_op    *op = arg;
	dyn_sync_keys_reply page;
	dyn_reader	r;
	dyn_slice	key = {NULL, 0};
	dyn_slice	digest;

	if (!sync_reply_ok(op, status, reply, DYN_MSG_SYNC_KEYS_REPLY))
	{
		sync_finish(op, op->res.status);
		return;
	}
	op->res.counts.compare_bytes += DYN_FRAME_HEADER_LEN + reply->body.len;
	if (dyn_sync_keys_reply_decode(reply->body, false, &page) != DYN_OK)
	{
		sync_finish(op, DYN_ERR_PROTO);
		return;
	}
	dyn_buf_append(&op->remote, page.items.ptr, page.items.len);
	dyn_reader_init(&r, page.items);
	for (uint32_t i = 0; i < page.count; i++)
		(void) dyn_sync_keys_next(&r, false, &key, &digest);
	if (page.more && page.count > 0)
	{
		dyn_buf_reset(&op->after);
		dyn_buf_append(&op->after, key.ptr, key.len);
		sync_wait_then_next(op);
		return;
	}
	if (op->remote.err != DYN_OK || sync_plan_moves(op) != DYN_OK)
	{
		sync_finish(op, DYN_ERR_NOMEM);
		return;
	}
	op->state = SYNC_MOVE;
	sync_move_some(op);
}

/* What the local scan of the differing leaves collects. */
typedef struct sync_local_scan
{
	dyn_merkle *tree;
	const uint8_t *leaves;		/* bitmap over the tree's leaves */
	dyn_buf    *out;			/* items: u16 len, key, digest */
} sync_local_scan;

static int
sync_collect_local(void *arg, dyn_slice key, dyn_slice object)
{
	sync_local_scan *s = arg;
	uint32_t	leaf = dyn_merkle_leaf_of(s->tree, key);
	uint8_t		digest[DYN_MERKLE_DIGEST];

	if ((s->leaves[leaf / 8] & (1u << (leaf % 8))) == 0)
		return 0;
	dyn_merkle_digest(key, object, digest);
	dyn_buf_put_blob16(s->out, key);
	dyn_buf_append(s->out, digest, DYN_SYNC_DIGEST);
	return 0;
}

/* Record one move of key (pull when digest is given). */
static int
sync_add_move(sync_op *op, size_t *cap, dyn_slice key, const uint8_t *digest)
{
	sync_move  *m;

	if (op->nmoves == *cap)
	{
		size_t		ncap = *cap ? *cap * 2 : 64;
		sync_move  *grown = realloc(op->moves, ncap * sizeof(*grown));

		if (grown == NULL)
			return DYN_ERR_NOMEM;
		op->moves = grown;
		*cap = ncap;
	}
	m = &op->moves[op->nmoves++];
	m->key_off = (uint32_t) op->plan.len;
	m->key_len = (uint16_t) key.len;
	m->pull = digest != NULL;
	if (digest != NULL)
		memcpy(m->digest, digest, DYN_SYNC_DIGEST);
	dyn_buf_append(&op->plan, key.ptr, key.len);
	return op->plan.err;
}

/*
 * Merge-join the other's listing with ours (both in key order): keys only
 * they have or whose digests differ are pulled, keys only we have pushed.
 */
static int
sync_plan_moves(sync_op *op)
{
	dyn_merkle *tree = dyn_store_tree(&op->node->store, op->partition);
	uint8_t    *leaves = calloc((tree->nleaves + 7) / 8, 1);
	dyn_buf		local;
	sync_local_scan scan;
	dyn_reader	ra;
	dyn_reader	rb;
	dyn_slice	ka = {NULL, 0},
				da = {NULL, 0},
				kb = {NULL, 0},
				db = {NULL, 0};
	bool		has_a,
				has_b;
	size_t		cap = 0;
	dyn_slice	none = {NULL, 0};
	int			rc;

	if (leaves == NULL)
		return DYN_ERR_NOMEM;
	if (op->nfrontier == 0)		/* the fallback after a fruitless walk */
		memset(leaves, 0xff, (tree->nleaves + 7) / 8);
	for (size_t i = 0; i < op->nfrontier; i++)
		leaves[op->frontier[i] / 8] |= (uint8_t) (1u << (op->frontier[i] % 8));
	dyn_buf_init(&local);
	scan.tree = tree;
	scan.leaves = leaves;
	scan.out = &local;
	rc = dyn_store_scan_partition(&op->node->store, op->partition, none,
								  sync_collect_local, &scan);
	free(leaves);
	if (rc != DYN_OK || local.err != DYN_OK)
	{
		dyn_buf_free(&local);
		return rc != DYN_OK ? rc : DYN_ERR_NOMEM;
	}
	dyn_reader_init(&ra, dyn_buf_slice(&local));
	dyn_reader_init(&rb, dyn_buf_slice(&op->remote));
	has_a = dyn_rd_left(&ra) > 0 && dyn_sync_keys_next(&ra, false, &ka, &da) == DYN_OK;
	has_b = dyn_rd_left(&rb) > 0 && dyn_sync_keys_next(&rb, false, &kb, &db) == DYN_OK;
	while ((has_a || has_b) && rc == DYN_OK)
	{
		int			cmp = !has_a ? 1 : !has_b ? -1 : dyn_slice_cmp(ka, kb);

		op->res.counts.keys_compared++;
		if (cmp < 0)
			rc = sync_add_move(op, &cap, ka, NULL);
		else if (cmp > 0)
		{
			if (!op->push_only)
				rc = sync_add_move(op, &cap, kb, db.ptr);
		}
		else if (memcmp(da.ptr, db.ptr, DYN_SYNC_DIGEST) != 0)
			rc = op->push_only ? sync_add_move(op, &cap, ka, NULL) :
				sync_add_move(op, &cap, kb, db.ptr);
		if (cmp <= 0)
			has_a = dyn_rd_left(&ra) > 0 && dyn_sync_keys_next(&ra, false, &ka, &da) == DYN_OK;
		if (cmp >= 0)
			has_b = dyn_rd_left(&rb) > 0 && dyn_sync_keys_next(&rb, false, &kb, &db) == DYN_OK;
	}
	dyn_buf_free(&local);
	return rc;
}

/* Keep up to DYN_SYNC_WINDOW key transfers in flight; finish after the last. */
static void
sync_move_some(sync_op *op)
{
	while (!op->failed && op->inflight < DYN_SYNC_WINDOW && op->next_move < op->nmoves)
	{
		size_t		i = op->next_move;
		sync_move  *m = &op->moves[i];
		dyn_slice	key = {op->plan.data + m->key_off, m->key_len};
		int			rc;

		if (dyn_throttle_delay(&op->node->throttle, dyn_clock_mono_ms()) > 0 && op->inflight > 0)
			return;				/* a reply will come back here */
		op->next_move++;
		if (m->pull)
		{
			dyn_replica_get_req req;

			if (dyn_store_split_key(key, &req.bucket, &req.key) != DYN_OK)
			{
				op->failed = true;
				op->res.status = DYN_ERR_PROTO;
				break;
			}
			m->op = op;
			dyn_buf_reset(&op->req);
			dyn_replica_get_encode(&op->req, 0, &req);
			if ((rc = sync_send(op, DYN_MSG_REPLICA_GET, sync_on_pulled, m, false)) != DYN_OK)
			{
				op->failed = true;
				op->res.status = rc;
			}
		}
		else if ((rc = sync_push(op, key, false)) != DYN_OK)
		{
			op->failed = true;
			op->res.status = rc;
		}
	}
	if (op->inflight == 0)
	{
		if (op->failed)
			sync_finish(op, op->res.status);
		else if (op->next_move >= op->nmoves)
			sync_finish(op, DYN_OK);
		else
			sync_wait_then_next(op);	/* throttled with nothing in flight */
	}
}

/*
 * Send our sibling set of engine_key to the other node; loaded: it is in
 * op->obj already (sync_local_digest just read it).
 */
static int
sync_push(sync_op *op, dyn_slice engine_key, bool loaded)
{
	dyn_replica_put_req req = {0};

	if (dyn_store_split_key(engine_key, &req.bucket, &req.key) != DYN_OK)
		return DYN_ERR_PROTO;
	if (!loaded)
	{
		dyn_buf_reset(&op->obj);
		if (dyn_store_get_at(&op->node->store, engine_key, &op->obj) != DYN_OK)
			return DYN_ERR_ENGINE;
	}
	if (op->obj.len == 0)
		return DYN_OK;			/* gone meanwhile (dropped): nothing to send */
	req.object = dyn_buf_slice(&op->obj);
	dyn_buf_reset(&op->req);
	dyn_replica_put_encode(&op->req, 0, &req);
	op->res.counts.keys_sent++;
	return sync_send(op, DYN_MSG_REPLICA_PUT, sync_on_pushed, op, false);
}

/* The digest of what this node now holds at engine_key (read into op->obj). */
static void
sync_local_digest(sync_op *op, dyn_slice engine_key, uint8_t *out)
{
	dyn_buf_reset(&op->obj);
	if (dyn_store_get_at(&op->node->store, engine_key, &op->obj) == DYN_OK)
		dyn_merkle_digest(engine_key, dyn_buf_slice(&op->obj), out);
	else
		memset(out, 0, DYN_MERKLE_DIGEST);
}

/*
 * A pulled sibling set: merge it into ours; if the merge kept something
 * the other lacks, push the merged set back.
 */
static void
sync_on_pulled(void *arg, int status, const dyn_frame *reply)
{
	sync_move  *m = arg;
	sync_op    *op = m->op;
	dyn_slice	key = {op->plan.data + m->key_off, m->key_len};
	dyn_slice	object;
	uint8_t		now[DYN_MERKLE_DIGEST];
	int			rc;

	if (!sync_reply_ok(op, status, reply, DYN_MSG_REPLICA_GET_REPLY) ||
		dyn_get_reply_decode(reply->body, &object) != DYN_OK)
	{
		op->failed = true;
		if (op->res.status == DYN_OK)
			op->res.status = DYN_ERR_PROTO;
		sync_move_some(op);
		return;
	}
	if (object.len > 0)
	{
		op->res.counts.keys_received++;
		rc = dyn_store_merge_key(&op->node->store, key, object, NULL);
		if (rc != DYN_OK)
		{
			op->failed = true;
			op->res.status = rc;
			sync_move_some(op);
			return;
		}
	}
	sync_local_digest(op, key, now);
	if (memcmp(now, m->digest, DYN_SYNC_DIGEST) != 0 &&
		(rc = sync_push(op, key, true)) != DYN_OK)
	{
		op->failed = true;
		op->res.status = rc;
	}
	sync_move_some(op);
}

static void
sync_on_pushed(void *arg, int status, const dyn_frame *reply)
{
	sync_op    *op = arg;

	if (!sync_reply_ok(op, status, reply, DYN_MSG_REPLICA_PUT_REPLY))
		op->failed = true;
	sync_move_some(op);
}

/* Report and free the exchange (the timer handle is closed first). */
static void
sync_finish(sync_op *op, int status)
{
	if (op->inflight > 0)
	{
		/* replies still due: the last one finishes the exchange */
		op->failed = true;
		if (op->res.status == DYN_OK)
			op->res.status = status;
		return;
	}
	op->res.status = status;
	op->res.counts.exchanges = 1;
	op->res.counts.failed = status != DYN_OK;
	op->res.counts.ms = dyn_clock_mono_ms() - op->started_ms;
	op->done(op->arg, &op->res);
	uv_timer_stop(&op->timer);
	uv_close((uv_handle_t *) &op->timer, sync_free);
}

static void
sync_free(uv_handle_t *h)
{
	sync_op    *op = h->data;

	free(op->frontier);
	free(op->moves);
	dyn_buf_free(&op->after);
	dyn_buf_free(&op->remote);
	dyn_buf_free(&op->plan);
	dyn_buf_free(&op->req);
	dyn_buf_free(&op->obj);
	free(op);
}

/* ------------------------------------------------------------ answering */

/* MERKLE: the root, or the two children of each listed node. */
int
dyn_sync_on_merkle(dyn_request *r)
{
	dyn_node   *node = r->node;
	dyn_merkle_req req;
	dyn_merkle *tree;
	dyn_buf    *out = r->out;
	uint8_t		digest[DYN_MERKLE_DIGEST];
	size_t		start;

	if (dyn_merkle_req_decode(r->body, &req) != DYN_OK)
		return DYN_ERR_PROTO;
	if (req.partition >= node->store.partitions)
	{
		dyn_reply_error(node, r->out, r->reqid, DYN_E_INVAL, 0, 0, "no such partition");
		return DYN_OK;
	}
	tree = dyn_store_tree(&node->store, req.partition);
	if (req.level > tree->depth)
	{
		dyn_reply_error(node, r->out, r->reqid, DYN_E_INVAL, 0, 0, "level below the leaves");
		return DYN_OK;
	}
	/*
	 * Indices strictly increasing and inside their level: a request can
	 * never ask for more digests than the level holds.
	 */
	for (uint16_t i = 0; i < req.count; i++)
		if (req.level > 0 &&
			(dyn_u16_at(req.indices, i) >= (1u << (req.level - req.span)) ||
			 (i > 0 && dyn_u16_at(req.indices, i) <= dyn_u16_at(req.indices, i - 1))))
		{
			dyn_reply_error(node, r->out, r->reqid, DYN_E_INVAL, 0, 0,
							"node indices out of the tree or not increasing");
			return DYN_OK;
		}
	node->ae.merkle_requests++;
	start = dyn_frame_begin(out, DYN_MSG_MERKLE_REPLY, r->reqid);
	dyn_buf_put_u8(out, (uint8_t) tree->depth);
	if (req.level == 0)
	{
		dyn_merkle_root(tree, digest);
		dyn_buf_append(out, digest, DYN_SYNC_DIGEST);
	}
	else
	{
		uint32_t	fan = 1u << req.span;
		dyn_buf		some;

		dyn_buf_init(&some);
		for (uint16_t i = 0; i < req.count; i++)
		{
			dyn_buf_reset(&some);
			(void) dyn_merkle_level(tree, req.level,
									(uint32_t) dyn_u16_at(req.indices, i) * fan, fan, &some);
			if (some.err != DYN_OK)
				break;
			for (uint32_t k = 0; k < fan; k++)
				dyn_buf_append(out, some.data + k * DYN_MERKLE_DIGEST,
							   DYN_SYNC_NODE_DIGEST);
		}
		if (some.err != DYN_OK)
			out->err = some.err;
		dyn_buf_free(&some);
	}
	dyn_frame_end(out, start);
	return DYN_OK;
}

/* What answering a SYNC_KEYS request collects. */
typedef struct sync_keys_scan
{
	dyn_merkle *tree;
	uint8_t    *leaves;			/* bitmap, NULL for every leaf */
	bool		objects;
	dyn_buf    *out;
	size_t		page_start;
	uint32_t	count;
	bool		more;
} sync_keys_scan;

static int
sync_answer_key(void *arg, dyn_slice key, dyn_slice object)
{
	sync_keys_scan *s = arg;

	if (s->leaves != NULL)
	{
		uint32_t	leaf = dyn_merkle_leaf_of(s->tree, key);

		if ((s->leaves[leaf / 8] & (1u << (leaf % 8))) == 0)
			return 0;
	}
	/*
	 * Stop before an item that would take the page past its budget (a
	 * page holds at least one item: one object always fits in a frame).
	 */
	if (s->count > 0 &&
		s->out->len - s->page_start + 6 + key.len +
		(s->objects ? object.len : DYN_SYNC_DIGEST) > DYN_SCAN_PAGE_BYTES)
	{
		s->more = true;
		return 1;
	}
	if (s->objects)
		dyn_sync_keys_reply_add(s->out, key, object, true);
	else
	{
		uint8_t		digest[DYN_MERKLE_DIGEST];
		dyn_slice	d = {digest, DYN_SYNC_DIGEST};

		dyn_merkle_digest(key, object, digest);
		dyn_sync_keys_reply_add(s->out, key, d, false);
	}
	s->count++;
	return 0;
}

/* SYNC_KEYS: one page of the partition's keys in the listed leaves. */
int
dyn_sync_on_keys(dyn_request *r)
{
	dyn_node   *node = r->node;
	dyn_sync_keys_req req;
	sync_keys_scan s = {0};
	int			rc;

	if (dyn_sync_keys_req_decode(r->body, &req) != DYN_OK)
		return DYN_ERR_PROTO;
	if (req.partition >= node->store.partitions)
	{
		dyn_reply_error(node, r->out, r->reqid, DYN_E_INVAL, 0, 0, "no such partition");
		return DYN_OK;
	}
	s.tree = dyn_store_tree(&node->store, req.partition);
	s.objects = (req.flags & DYN_SYNC_OBJECTS) != 0;
	s.out = r->out;
	if (req.count > 0)
	{
		if ((s.leaves = calloc((s.tree->nleaves + 7) / 8, 1)) == NULL)
		{
			dyn_reply_error(node, r->out, r->reqid, DYN_E_INTERNAL, 0, 0, "out of memory");
			return DYN_OK;
		}
		for (uint16_t i = 0; i < req.count; i++)
		{
			uint16_t	leaf = dyn_u16_at(req.leaves, i);

			if (leaf >= s.tree->nleaves)
			{
				free(s.leaves);
				dyn_reply_error(node, r->out, r->reqid, DYN_E_INVAL, 0, 0,
								"leaf out of the tree");
				return DYN_OK;
			}
			s.leaves[leaf / 8] |= (uint8_t) (1u << (leaf % 8));
		}
	}
	node->ae.key_requests++;
	s.page_start = dyn_sync_keys_reply_begin(s.out, r->reqid);
	rc = dyn_store_scan_partition(&node->store, req.partition, req.after,
								  sync_answer_key, &s);
	free(s.leaves);
	if (rc < 0)					/* a positive rc: the page is full */
	{
		s.out->len = s.page_start;
		dyn_reply_error(node, r->out, r->reqid, DYN_E_INTERNAL, 0, 0,
						"could not scan the partition");
		return DYN_OK;
	}
	dyn_sync_keys_reply_end(s.out, s.page_start, s.count, s.more);
	return DYN_OK;
}

/* REAP: drop the listed tombstones that are still exactly what was agreed. */
int
dyn_sync_on_reap(dyn_request *r)
{
	dyn_node   *node = r->node;
	uint16_t	partition;
	uint16_t	count;
	dyn_slice	items;
	dyn_reader	rd;
	uint32_t	reaped = 0;
	size_t		start;

	if (dyn_reap_req_decode(r->body, &partition, &count, &items) != DYN_OK)
		return DYN_ERR_PROTO;
	if (partition >= node->store.partitions)
	{
		dyn_reply_error(node, r->out, r->reqid, DYN_E_INVAL, 0, 0, "no such partition");
		return DYN_OK;
	}
	(void) dyn_request_batch(r);
	dyn_reader_init(&rd, items);
	for (uint16_t i = 0; i < count; i++)
	{
		dyn_slice	key;
		dyn_slice	digest;
		bool		done = false;

		(void) dyn_reap_next(&rd, &key, &digest);
		if (dyn_store_reap(&node->store, key, digest.ptr, &done) == DYN_OK && done)
			reaped++;
	}
	node->ae.tombstones_reaped += reaped;
	start = dyn_frame_begin(r->out, DYN_MSG_REAP_REPLY, r->reqid);
	dyn_buf_put_u32(r->out, reaped);
	dyn_frame_end(r->out, start);
	return DYN_OK;
}
