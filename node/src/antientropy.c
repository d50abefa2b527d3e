/*
 * antientropy.c
 *		Anti-entropy rounds and tombstone reaping (see antientropy.h).
 */
#include "antientropy.h"

#include "node.h"

#include <stdlib.h>
#include <string.h>

#include "dynamo/merkle.h"
#include "dynamo/object.h"
#include "dynamo/ring.h"
#include "store.h"

/* A REPAIR request waiting for the end of a round. */
struct ae_waiter
{
	dyn_deferred answer;
	uint64_t	round;			/* answered at the end of this round */
	ae_waiter  *next;
};

/* Tombstones gathered for one REAP. */
typedef struct ae_reap_scan
{
	uint64_t	older_than;		/* wall-clock ms */
	dyn_buf    *req;			/* the REAP frame being built */
	dyn_buf    *keys;			/* the same (key, digest) pairs, for us */
	uint16_t	count;
} ae_reap_scan;

static void ae_on_timer(uv_timer_t *t);
static void ae_round_start(dyn_node *node);
static void ae_next_partition(dyn_node *node);
static void ae_next_exchange(dyn_node *node);
static void ae_on_exchange(void *arg, const dyn_sync_result *res);
static void ae_partition_done(dyn_node *node);
static void ae_reap(dyn_node *node);
static void ae_on_reaped(void *arg, int status, const dyn_frame *reply);
static void ae_reap_local(dyn_node *node);
static void ae_round_end(dyn_node *node);
static void ae_answer(dyn_node *node, ae_waiter *w, bool ok);
static int	ae_collect_tombstone(void *arg, dyn_slice key, dyn_slice object);

void
dyn_ae_start(dyn_node *node)
{
	dyn_ae	   *ae = &node->ae;

	dyn_buf_init(&ae->reap_keys);
	uv_timer_init(node->loop, &ae->timer);
	ae->timer.data = node;
	ae->timer_on = true;
	if (ae->interval_ms > 0)
		uv_timer_start(&ae->timer, ae_on_timer, ae->interval_ms, ae->interval_ms);
}

void
dyn_ae_stop(dyn_node *node)
{
	dyn_ae	   *ae = &node->ae;

	while (ae->waiters != NULL)
	{
		ae_waiter  *w = ae->waiters;

		ae->waiters = w->next;
		ae_answer(node, w, false);
	}
	if (ae->timer_on)
	{
		uv_timer_stop(&ae->timer);
		uv_close((uv_handle_t *) &ae->timer, NULL);
		ae->timer_on = false;
	}
}

void
dyn_ae_free(dyn_node *node)
{
	dyn_buf_free(&node->ae.reap_keys);
}

/* The schedule: start a round unless one is going. */
static void
ae_on_timer(uv_timer_t *t)
{
	dyn_node   *node = t->data;

	if (!node->ae.running && !node->stopping)
		ae_round_start(node);
}

void
dyn_ae_kick(dyn_node *node)
{
	if (!node->ae.running && !node->stopping)
		ae_round_start(node);
}

void
dyn_ae_recover(dyn_node *node)
{
	dyn_ae	   *ae = &node->ae;

	node->recovering = true;
	ae->recover_round = ae->round_id + 1;
	if (!ae->running)
		ae_round_start(node);
}

/*
 * REPAIR: wait for a full round that starts from now -- the next one if a
 * round is half way through.
 */
int
dyn_ae_on_repair(dyn_request *req)
{
	dyn_node   *node = req->node;
	dyn_ae	   *ae = &node->ae;
	ae_waiter  *w = malloc(sizeof(*w));

	if (w == NULL)
	{
		dyn_reply_error(node, req->out, req->reqid, DYN_E_INTERNAL, 0, 0, "out of memory");
		return DYN_OK;
	}
	/* the round that starts now, or the one after the round under way */
	w->round = ae->round_id + 1;
	w->next = ae->waiters;
	ae->waiters = w;
	w->answer = dyn_request_defer(req);
	if (!ae->running)
		ae_round_start(node);
	return DYN_OK;
}

static void
ae_round_start(dyn_node *node)
{
	dyn_ae	   *ae = &node->ae;

	ae->running = true;
	ae->round_id++;
	ae->partition = 0;
	ae->round_started = uv_now(node->loop);
	ae->round_partitions = 0;
	ae->round_reaped = 0;
	memset(&ae->round, 0, sizeof(ae->round));
	ae_next_partition(node);
}

/*
 * Find the next partition this node replicates (from ae->partition on)
 * and start its exchanges; the end of the ring ends the round.
 */
static void
ae_next_partition(dyn_node *node)
{
	dyn_ae	   *ae = &node->ae;
	dyn_membership *ms = &node->members;

	for (; ae->partition < node->store.partitions; ae->partition++)
	{
		uint32_t	ix[DYN_RING_N_MAX];
		int			nrep;
		int			n;
		bool		mine = false;

		if (node->stopping || !dyn_membership_ready(ms))
			break;
		nrep = dyn_membership_replicas(ms);
		n = dyn_ring_preflist(&ms->ring, ae->partition, ix, (size_t) nrep);
		ae->npeers = 0;
		for (int i = 0; i < n; i++)
		{
			dyn_member *m = ms->by_ring[ix[i]];

			if (m->self)
				mine = true;
			else if (dyn_member_up(m))
				ae->peers[ae->npeers++] = m;
		}
		if (!mine)
			continue;
		/* a node rebuilding lost data has not recovered what it could not ask */
		if (node->recovering && ae->npeers < n - 1)
			ae->round.failed++;
		ae->replicas = n;
		ae->peer = 0;
		ae->all_equal = true;
		ae->round_partitions++;
		/* the first replica decides on reaping: it must be us */
		ae->reaping = n > 0 && ms->by_ring[ix[0]]->self;
		ae_next_exchange(node);
		return;
	}
	ae_round_end(node);
}

/* The next replica of the partition, or what follows the last one. */
static void
ae_next_exchange(dyn_node *node)
{
	dyn_ae	   *ae = &node->ae;

	while (ae->peer < ae->npeers)
	{
		if (dyn_sync_start(node, ae->peers[ae->peer], ae->partition, DYN_SYNC_BOTH,
						   ae_on_exchange, node) == DYN_OK)
			return;
		ae->all_equal = false;
		ae->round.failed++;
		ae->peer++;
	}
	ae_partition_done(node);
}

static void
ae_on_exchange(void *arg, const dyn_sync_result *res)
{
	dyn_node   *node = arg;
	dyn_ae	   *ae = &node->ae;

	dyn_sync_counts_add(&ae->round, &res->counts);
	dyn_sync_counts_add(&ae->total, &res->counts);
	if (res->status != DYN_OK || !res->equal)
		ae->all_equal = false;
	if (res->status != DYN_OK)
		dyn_log(&node->log, DYN_LOG_WARNING,
				"anti-entropy of partition %u with %s failed: %s", res->partition,
				res->peer, dyn_sync_result_why(res));
	else if (!res->equal)
		dyn_log(&node->log, DYN_LOG_DEBUG,
				"anti-entropy of partition %u with %s: %llu keys compared, "
				"%llu sent, %llu received", res->partition, res->peer,
				(unsigned long long) res->counts.keys_compared,
				(unsigned long long) res->counts.keys_sent,
				(unsigned long long) res->counts.keys_received);
	ae->peer++;
	if (node->stopping)
	{
		ae_round_end(node);
		return;
	}
	ae_next_exchange(node);
}

/* Every replica compared: reap if allowed, then the next partition. */
static void
ae_partition_done(dyn_node *node)
{
	dyn_ae	   *ae = &node->ae;

	/*
	 * No reaping while a transfer is pending anywhere in the ring: a next
	 * owner may hold a copy it pulled before the delete, and it is not
	 * among the replicas compared.
	 */
	if (ae->reaping && ae->all_equal && ae->npeers == ae->replicas - 1 &&
		node->store.tombstones > 0 && node->members.ring.npending == 0)
	{
		ae_reap(node);
		return;
	}
	ae->partition++;
	ae_next_partition(node);
}

/* Scan callback: every tombstone of the partition past its grace period. */
static int
ae_collect_tombstone(void *arg, dyn_slice key, dyn_slice object)
{
	ae_reap_scan *s = arg;
	uint8_t		digest[DYN_MERKLE_DIGEST];

	if (!dyn_object_bytes_all_tombstones(object) ||
		dyn_object_bytes_newest_ms(object) >= s->older_than)
		return 0;
	dyn_merkle_digest(key, object, digest);
	dyn_reap_req_add(s->req, key, digest);
	dyn_buf_put_blob16(s->keys, key);
	dyn_buf_append(s->keys, digest, DYN_MERKLE_DIGEST);
	return ++s->count >= DYN_REAP_BATCH;
}

/*
 * Ask every other replica to drop the partition's old tombstones; ours go
 * when they have answered.  One batch per round and partition: what is left
 * goes in the next round.
 */
static void
ae_reap(dyn_node *node)
{
	dyn_ae	   *ae = &node->ae;
	dyn_buf		req;
	ae_reap_scan s;
	dyn_slice	none = {NULL, 0};
	size_t		start;

	dyn_buf_init(&req);
	dyn_buf_reset(&ae->reap_keys);
	s.older_than = dyn_clock_wall_ms() - ae->grace_ms;
	s.req = &req;
	s.keys = &ae->reap_keys;
	s.count = 0;
	start = dyn_reap_req_begin(&req, 0, (uint16_t) ae->partition);
	/* a positive return is ae_collect_tombstone saying the batch is full */
	if (dyn_store_scan_partition(&node->store, ae->partition, none,
								 ae_collect_tombstone, &s) < 0 || s.count == 0)
	{
		dyn_buf_free(&req);
		ae->partition++;
		ae_next_partition(node);
		return;
	}
	dyn_reap_req_end(&req, start, s.count);
	ae->reap_inflight = 0;
	ae->reap_count = s.count;
	ae->reap_all_ok = true;
	if (req.err != DYN_OK)
		ae->reap_all_ok = false;
	for (int i = 0; i < ae->npeers && req.err == DYN_OK; i++)
	{
		dyn_peer   *p = dyn_membership_peer(ae->peers[i]);
		dyn_slice	body = {req.data + DYN_FRAME_HEADER_LEN, req.len - DYN_FRAME_HEADER_LEN};

		if (p != NULL && dyn_peer_send(p, DYN_MSG_REAP, body, DYN_SYNC_TIMEOUT_MS,
									   ae_on_reaped, node) == DYN_OK)
		{
			ae->reap_inflight++;
			ae->round.bytes_sent += req.len;
		}
		else
			ae->reap_all_ok = false;
	}
	dyn_buf_free(&req);
	if (ae->reap_inflight == 0)
		ae_reap_local(node);
}

static void
ae_on_reaped(void *arg, int status, const dyn_frame *reply)
{
	dyn_node   *node = arg;
	dyn_ae	   *ae = &node->ae;

	/*
	 * Every other replica must have dropped every one of them: one that
	 * kept a tombstone (it changed, or it never had it) may hold the value
	 * it deleted, and our copy is what lets anti-entropy put that right.
	 */
	if (status == DYN_OK)
	{
		ae->round.bytes_received += DYN_FRAME_HEADER_LEN + reply->body.len;
		if (reply->type != DYN_MSG_REAP_REPLY || reply->body.len != 4 ||
			(((uint32_t) reply->body.ptr[0] << 24) | ((uint32_t) reply->body.ptr[1] << 16) |
			 ((uint32_t) reply->body.ptr[2] << 8) | reply->body.ptr[3]) != ae->reap_count)
			ae->reap_all_ok = false;
	}
	else
		ae->reap_all_ok = false;
	if (--ae->reap_inflight == 0)
		ae_reap_local(node);
}

/* Drop our own copies of the tombstones the other replicas were asked to drop. */
static void
ae_reap_local(dyn_node *node)
{
	dyn_ae	   *ae = &node->ae;
	dyn_reader	r;
	uint64_t	reaped = 0;

	dyn_reader_init(&r, dyn_buf_slice(&ae->reap_keys));
	if (!ae->reap_all_ok)
	{
		dyn_log(&node->log, DYN_LOG_INFO, "partition %u: a replica kept some tombstones; "
				"ours stay until a later round agrees", ae->partition);
		dyn_rd_bytes(&r, dyn_rd_left(&r));	/* nothing to drop here */
	}
	else if (dyn_engine_begin(node->engine) == DYN_OK)
	{
		while (dyn_rd_left(&r) > 0)
		{
			dyn_slice	key = dyn_rd_blob16(&r);
			dyn_slice	digest = dyn_rd_bytes(&r, DYN_MERKLE_DIGEST);
			bool		done = false;

			if (r.err != DYN_OK)
				break;
			if (dyn_store_reap(&node->store, key, digest.ptr, &done) == DYN_OK && done)
				reaped++;
		}
		if (dyn_engine_commit(node->engine) != DYN_OK)
			dyn_log(&node->log, DYN_LOG_ERROR, "could not commit reaped tombstones of "
					"partition %u: %s", ae->partition, dyn_engine_errmsg(node->engine));
	}
	ae->round_reaped += reaped;
	ae->tombstones_reaped += reaped;
	ae->partition++;
	if (node->stopping)
	{
		ae_round_end(node);
		return;
	}
	ae_next_partition(node);
}

/* The round is over: answer the REPAIRs it satisfies, maybe go again. */
static void
ae_round_end(dyn_node *node)
{
	dyn_ae	   *ae = &node->ae;
	ae_waiter **pw = &ae->waiters;

	ae->running = false;
	ae->rounds++;
	ae->last_round_ms = uv_now(node->loop) - ae->round_started;
	dyn_log(&node->log, ae->round.keys_sent + ae->round.keys_received > 0 ?
			DYN_LOG_INFO : DYN_LOG_DEBUG,
			"anti-entropy round %llu: %u partitions, %llu exchanges (%llu failed), "
			"%llu keys compared, %llu sent, %llu received, %llu tombstones reaped, %llu ms",
			(unsigned long long) ae->round_id, ae->round_partitions,
			(unsigned long long) ae->round.exchanges,
			(unsigned long long) ae->round.failed,
			(unsigned long long) ae->round.keys_compared,
			(unsigned long long) ae->round.keys_sent,
			(unsigned long long) ae->round.keys_received,
			(unsigned long long) ae->round_reaped,
			(unsigned long long) ae->last_round_ms);
	while (*pw != NULL)
	{
		ae_waiter  *w = *pw;

		if (w->round <= ae->round_id)
		{
			*pw = w->next;
			ae_answer(node, w, !node->stopping);
		}
		else
			pw = &w->next;
	}
	if (node->recovering && ae->round_id >= ae->recover_round && !node->stopping)
	{
		if (ae->round.failed == 0)
		{
			node->recovering = false;
			dyn_log(&node->log, DYN_LOG_INFO, "recovered: %llu keys taken from the other "
					"replicas; coordinating writes again",
					(unsigned long long) ae->round.keys_received);
		}
		else if (ae->waiters == NULL)
		{
			/* some replica did not answer: try again in a second */
			ae->recover_round = ae->round_id + 1;
			uv_timer_start(&ae->timer, ae_on_timer, 1000,
						   ae->interval_ms > 0 ? ae->interval_ms : 0);
		}
	}
	else if (node->recovering && ae->waiters == NULL && !node->stopping)
	{
		/* recovery began half way through this round: a whole one is due */
		ae_round_start(node);
		return;
	}
	if (ae->waiters != NULL && !node->stopping)
		ae_round_start(node);
}

/* Answer one REPAIR with this round's figures (or an error). */
static void
ae_answer(dyn_node *node, ae_waiter *w, bool ok)
{
	dyn_ae	   *ae = &node->ae;
	dyn_buf    *json = &node->scratch;
	dyn_buf		frame;

	dyn_buf_init(&frame);
	if (ok)
	{
		dyn_buf_reset(json);
		dyn_buf_put_u8(json, '{');
		dyn_buf_printf(json, "\"node\":");
		dyn_buf_put_json_string(json, dyn_slice_str(node->cfg.id));
		dyn_buf_printf(json, ",\"partitions\":%u,\"exchanges\":%llu,\"failed\":%llu,"
					   "\"keys_compared\":%llu,\"keys_sent\":%llu,\"keys_received\":%llu,"
					   "\"bytes_sent\":%llu,\"bytes_received\":%llu,\"compare_bytes\":%llu,"
					   "\"tombstones_reaped\":%llu,\"tombstones\":%llu,\"ms\":%llu}",
					   ae->round_partitions, (unsigned long long) ae->round.exchanges,
					   (unsigned long long) ae->round.failed,
					   (unsigned long long) ae->round.keys_compared,
					   (unsigned long long) ae->round.keys_sent,
					   (unsigned long long) ae->round.keys_received,
					   (unsigned long long) ae->round.bytes_sent,
					   (unsigned long long) ae->round.bytes_received,
					   (unsigned long long) ae->round.compare_bytes,
					   (unsigned long long) ae->round_reaped,
					   (unsigned long long) node->store.tombstones,
					   (unsigned long long) ae->last_round_ms);
		dyn_json_reply_encode(&frame, DYN_MSG_REPAIR_REPLY, w->answer.reqid,
							  dyn_buf_slice(json));
	}
	else
		dyn_reply_error(node, &frame, w->answer.reqid, DYN_E_INTERNAL, 0, 0,
						"the node is stopping: repair round abandoned");
	dyn_deferred_answer(w->answer, dyn_buf_slice(&frame));
	dyn_buf_free(&frame);
	free(w);
}

void
dyn_ae_status_json(const dyn_node *node, dyn_buf *out)
{
	const dyn_ae *ae = &node->ae;

	dyn_buf_printf(out, "\"anti_entropy\":{\"running\":%s,\"rounds\":%llu,"
				   "\"interval_ms\":%llu,\"last_round_ms\":%llu,\"tombstone_grace_ms\":%llu,",
				   ae->running ? "true" : "false", (unsigned long long) ae->rounds,
				   (unsigned long long) ae->interval_ms,
				   (unsigned long long) ae->last_round_ms,
				   (unsigned long long) ae->grace_ms);
	dyn_sync_counts_json(&ae->total, out);
	dyn_buf_printf(out, ",\"merkle_requests\":%llu,\"key_requests\":%llu,"
				   "\"tombstones_reaped\":%llu,\"throttle_wait_ms\":%llu}",
				   (unsigned long long) ae->merkle_requests,
				   (unsigned long long) ae->key_requests,
				   (unsigned long long) ae->tombstones_reaped,
				   (unsigned long long) node->throttle.waited_ms);
}
