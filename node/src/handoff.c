/*
 * handoff.c
 *		Moving partitions to their new owners before the ring switches
 *		them, and dropping what this node no longer replicates (see
 *		handoff.h).
 */
#include "handoff.h"

#include "node.h"

#include <stdlib.h>
#include <string.h>

#include "dynamo/ring.h"
#include "store.h"

static void handoff_on_tick(uv_timer_t *t);
static int	handoff_self(const dyn_ring *ring, const dyn_node *node);
static bool handoff_replicates(const dyn_ring *ring, uint32_t p, int ix);
static void handoff_retire_owner(dyn_node *node);
static void handoff_replan_removals(dyn_node *node);
static bool handoff_prune(dyn_node *node);
static bool handoff_start_batch(dyn_node *node);
static int	handoff_sources(dyn_node *node, const dyn_ring *ring, uint32_t p);
static void handoff_next_exchange(dyn_node *node);
static void handoff_on_sync(void *arg, const dyn_sync_result *res);
static void handoff_switch(dyn_node *node);
static void handoff_batch_end(dyn_node *node);
static bool handoff_start_drop(dyn_node *node);
static void handoff_next_drop_exchange(dyn_node *node);
static void handoff_on_drop_sync(void *arg, const dyn_sync_result *res);
static void handoff_drop_some(dyn_node *node);
static bool handoff_wanted_here(dyn_node *node, uint32_t p);

int
dyn_handoff_start(dyn_node *node)
{
	dyn_handoff *h = &node->handoff;

	h->state = calloc(node->store.partitions, 1);
	if (h->state == NULL)
		return DYN_ERR_NOMEM;
	uv_timer_init(node->loop, &h->timer);
	h->timer.data = node;
	h->timer_on = true;
	uv_timer_start(&h->timer, handoff_on_tick, DYN_HANDOFF_TICK_MS, DYN_HANDOFF_TICK_MS);
	return DYN_OK;
}

void
dyn_handoff_stop(dyn_node *node)
{
	dyn_handoff *h = &node->handoff;

	if (h->timer_on)
	{
		uv_timer_stop(&h->timer);
		uv_close((uv_handle_t *) &h->timer, NULL);
		h->timer_on = false;
	}
}

void
dyn_handoff_free(dyn_node *node)
{
	if (node->handoff.prev_set)
		dyn_ring_free(&node->handoff.prev);
	node->handoff.prev_set = false;
	free(node->handoff.gained);
	node->handoff.gained = NULL;
	free(node->handoff.state);
	node->handoff.state = NULL;
}

/* This node's index in ring, or -1. */
static int
handoff_self(const dyn_ring *ring, const dyn_node *node)
{
	return dyn_ring_member_index(ring, dyn_slice_str(node->cfg.id));
}

static bool
handoff_replicates(const dyn_ring *ring, uint32_t p, int ix)
{
	return ix >= 0 && ring->nmembers > 0 && dyn_ring_replicates(ring, p, (uint32_t) ix);
}

/* Every tick: one piece of work, in order of importance. */
static void
handoff_on_tick(uv_timer_t *t)
{
	dyn_node   *node = t->data;
	dyn_handoff *h = &node->handoff;

	if (node->stopping || !dyn_membership_ready(&node->members))
		return;
	if (!node->recovery_checked)
		dyn_handoff_check_recovery(node);
	/*
	 * A member left the ring: the copies it held are gone from the
	 * preference lists, and a key it shared with only one other replica
	 * (written at W=2) has one copy left -- a round rebuilds the others.
	 */
	if (node->members.ring.nmembers < h->members_seen)
		dyn_ae_kick(node);
	h->members_seen = node->members.ring.nmembers;
	handoff_replan_removals(node);
	if (h->busy)
	{
		if (h->drop_synced)
			handoff_drop_some(node);
		return;
	}
	if (handoff_prune(node))
		return;
	if (handoff_start_batch(node))
		return;
	(void) handoff_start_drop(node);
}

/*
 * A new data directory under an id the ring already gives partitions to
 * (other members beside it) means this node lost its data: the versions
 * its node id dotted are gone from here, so it could issue one of those
 * dots again.  From now on its writes are dotted by a new incarnation
 * (dynamo/actor.h; the directory records the loss, so every later start
 * draws one too), and a repair round starts now; while it runs, writes
 * go to an owner that kept its data when one is up (fewer siblings).  A
 * founder owns everything at birth, and a node that joins owns nothing
 * until its transfers complete: neither is this.
 */
void
dyn_handoff_check_recovery(dyn_node *node)
{
	dyn_ring   *ring = &node->members.ring;

	node->recovery_checked = true;
	if (!node->fresh_store || ring->nmembers < 2 || dyn_membership_owned(&node->members) == 0)
		return;
	handoff_retire_owner(node);
	dyn_log(&node->log, DYN_LOG_WARNING,
			"the data directory is new but the ring gives this node %u partitions: "
			"its data was lost; repairing from the other replicas, writes dotted as %s",
			dyn_membership_owned(&node->members), node->actors.owner.id);
	dyn_ae_recover(node);
}

/*
 * The owner actor no longer holds everything it dotted: the node lost its
 * data, or is about to drop a partition it may own again later (a ring
 * change mid-drop keeps what is left, a later one may give it back).  From
 * now on writes are dotted by a new incarnation, and the data directory
 * records it, so every later start draws one too (dynamo/actor.h).
 */
static void
handoff_retire_owner(dyn_node *node)
{
	dyn_actors_incarnate_owner(&node->actors);
	if (dyn_engine_put(node->engine, DYN_NS_META, dyn_slice_str(DYN_META_LOST_DATA),
					   dyn_slice_str("1")) != DYN_OK)
		dyn_log(&node->log, DYN_LOG_WARNING, "could not record that this data directory "
				"lacks versions it dotted: %s", dyn_engine_errmsg(node->engine));
	dyn_log(&node->log, DYN_LOG_INFO, "writes coordinated here are dotted as %s from now on",
			node->actors.owner.id);
}

/* A leave this node planned that a concurrent ring change lost: plan again. */
static void
handoff_replan_removals(dyn_node *node)
{
	dyn_handoff *h = &node->handoff;
	dyn_ring   *ring = &node->members.ring;

	for (int i = 0; i < h->nremoving; i++)
	{
		int			ix = dyn_ring_member_index(ring, dyn_slice_str(h->removing[i]));
		dyn_ring	copy;

		if (ix < 0)
		{
			/* gone: that removal is complete */
			memmove(h->removing[i], h->removing[i + 1],
					(size_t) (h->nremoving - i - 1) * sizeof(h->removing[0]));
			h->nremoving--;
			i--;
			continue;
		}
		if ((ring->members[ix].flags & DYN_RING_LEAVING) != 0)
			continue;
		if (dyn_ring_init(&copy, ring->q, ring->n) == DYN_OK &&
			dyn_ring_copy(&copy, ring) == DYN_OK &&
			dyn_ring_plan_leave(&copy, dyn_slice_str(h->removing[i])) == DYN_OK)
		{
			dyn_log(&node->log, DYN_LOG_INFO, "planning the removal of %s again "
					"(a concurrent ring change lost it)", h->removing[i]);
			(void) dyn_membership_set_ring(&node->members, &copy);
		}
		else
			dyn_ring_free(&copy);
	}
}

/* Take leaving members that own nothing out of the ring. */
static bool
handoff_prune(dyn_node *node)
{
	dyn_ring   *ring = &node->members.ring;
	dyn_ring	copy;
	bool		any = false;

	for (uint32_t i = 0; i < ring->nmembers; i++)
		if ((ring->members[i].flags & DYN_RING_LEAVING) != 0 && ring->members[i].owned == 0)
			any = true;
	if (!any)
		return false;
	if (dyn_ring_init(&copy, ring->q, ring->n) != DYN_OK ||
		dyn_ring_copy(&copy, ring) != DYN_OK || dyn_ring_prune(&copy) <= 0)
	{
		dyn_ring_free(&copy);
		return false;
	}
	dyn_log(&node->log, DYN_LOG_INFO, "pruned the members that have left: %u remain",
			copy.nmembers);
	(void) dyn_membership_set_ring(&node->members, &copy);
	return true;
}

/*
 * Start taking over up to DYN_HANDOFF_BATCH partitions whose next owner
 * is this node: find what it will replicate after the switch that it does
 * not now, and pull it.
 */
static bool
handoff_start_batch(dyn_node *node)
{
	dyn_handoff *h = &node->handoff;
	dyn_ring   *ring = &node->members.ring;
	int			ix = handoff_self(ring, node);
	dyn_ring	after;

	if (ix < 0 || ring->npending == 0)
		return false;
	h->nbatch = 0;
	for (uint32_t p = 0; p < ring->q && h->nbatch < DYN_HANDOFF_BATCH; p++)
		if (ring->next[p] == (uint16_t) ix)
			h->batch[h->nbatch++] = p;
	if (h->nbatch == 0)
		return false;
	if (dyn_ring_init(&after, ring->q, ring->n) != DYN_OK ||
		dyn_ring_copy(&after, ring) != DYN_OK ||
		dyn_ring_complete(&after, h->batch, h->nbatch) != DYN_OK)
	{
		dyn_ring_free(&after);
		return false;
	}
	free(h->gained);
	h->gained = malloc(ring->q * sizeof(uint32_t));
	if (h->gained == NULL)
	{
		dyn_ring_free(&after);
		return false;
	}
	h->ngained = 0;
	for (uint32_t p = 0; p < ring->q; p++)
		if (handoff_replicates(&after, p, ix) && !handoff_replicates(ring, p, ix))
			h->gained[h->ngained++] = p;
	dyn_ring_free(&after);

	if (h->prev_set)
		dyn_ring_free(&h->prev);
	h->prev_set = false;
	if (dyn_ring_init(&h->prev, ring->q, ring->n) != DYN_OK ||
		dyn_ring_copy(&h->prev, ring) != DYN_OK)
	{
		dyn_ring_free(&h->prev);
		return false;
	}
	h->prev_set = true;
	h->busy = true;
	h->failed = false;
	h->catching_up = false;
	h->gi = 0;
	h->batches++;
	for (size_t i = 0; i < h->ngained; i++)
		h->state[h->gained[i]] = DYN_HANDOFF_PULLING;
	dyn_log(&node->log, DYN_LOG_INFO,
			"taking over %zu partition%s (from %u): pulling %zu partition%s", h->nbatch,
			h->nbatch == 1 ? "" : "s", h->batch[0], h->ngained, h->ngained == 1 ? "" : "s");
	h->si = h->nsources = 0;
	h->ok_sources = 0;
	if (h->ngained > 0)
		h->nsources = handoff_sources(node, &h->prev, h->gained[0]);
	handoff_next_exchange(node);
	return true;
}

/* The live replicas of p in ring other than this node, into h->sources. */
static int
handoff_sources(dyn_node *node, const dyn_ring *ring, uint32_t p)
{
	dyn_handoff *h = &node->handoff;
	uint32_t	ix[DYN_RING_N_MAX];
	int			n;
	int			count = 0;

	n = dyn_ring_preflist(ring, p, ix, dyn_ring_replicas(ring));
	for (int i = 0; i < n; i++)
	{
		dyn_member *m = dyn_membership_find(&node->members,
											dyn_ring_member_id(&ring->members[ix[i]]));

		if (m != NULL && !m->self && dyn_member_up(m))
			h->sources[count++] = m;
	}
	return count;
}

/*
 * The next exchange of the batch: the next source of the current gained
 * partition, or the next partition, or the switch (then catching up).
 */
static void
handoff_next_exchange(dyn_node *node)
{
	dyn_handoff *h = &node->handoff;

	while (h->gi < h->ngained)
	{
		while (h->si < h->nsources)
		{
			if (dyn_sync_start(node, h->sources[h->si], h->gained[h->gi], DYN_SYNC_BOTH,
							   handoff_on_sync, node) == DYN_OK)
				return;
			h->si++;
		}
		if (h->ok_sources == 0 && !h->catching_up)
		{
			dyn_log(&node->log, DYN_LOG_WARNING,
					"handoff: no live replica of partition %u answered; "
					"trying again later", h->gained[h->gi]);
			h->failed = true;
			handoff_batch_end(node);
			return;
		}
		h->state[h->gained[h->gi]] = h->catching_up ? DYN_HANDOFF_IDLE :
			DYN_HANDOFF_CATCHING_UP;
		h->gi++;
		h->si = h->ok_sources = 0;
		h->nsources = h->gi < h->ngained ?
			handoff_sources(node, &h->prev, h->gained[h->gi]) : 0;
	}
	if (!h->catching_up)
	{
		handoff_switch(node);
		if (node->handoff.failed || h->ngained == 0)
		{
			handoff_batch_end(node);
			return;
		}
		h->catching_up = true;
		h->gi = 0;
		h->si = h->ok_sources = 0;
		h->nsources = handoff_sources(node, &h->prev, h->gained[0]);
		handoff_next_exchange(node);
		return;
	}
	handoff_batch_end(node);
}

static void
handoff_on_sync(void *arg, const dyn_sync_result *res)
{
	dyn_node   *node = arg;
	dyn_handoff *h = &node->handoff;

	dyn_sync_counts_add(&h->counts, &res->counts);
	if (res->status == DYN_OK)
		h->ok_sources++;
	else
		dyn_log(&node->log, DYN_LOG_WARNING, "handoff of partition %u from %s failed: %s",
				res->partition, res->peer, dyn_sync_result_why(res));
	h->si++;
	if (node->stopping)
	{
		h->busy = false;
		return;
	}
	handoff_next_exchange(node);
}

/*
 * The data is here: switch the batch's partitions that still name this
 * node as their next owner (a ring change meanwhile may have moved some).
 */
static void
handoff_switch(dyn_node *node)
{
	dyn_handoff *h = &node->handoff;
	dyn_ring   *ring = &node->members.ring;
	int			ix = handoff_self(ring, node);
	uint32_t	still[DYN_HANDOFF_BATCH];
	size_t		n = 0;
	dyn_ring	copy;

	for (size_t i = 0; i < h->nbatch; i++)
		if (ix >= 0 && ring->next[h->batch[i]] == (uint16_t) ix)
			still[n++] = h->batch[i];
	if (n == 0)
		return;
	if (dyn_ring_init(&copy, ring->q, ring->n) != DYN_OK ||
		dyn_ring_copy(&copy, ring) != DYN_OK ||
		dyn_ring_complete(&copy, still, n) != DYN_OK)
	{
		dyn_ring_free(&copy);
		h->failed = true;
		return;
	}
	if (dyn_membership_set_ring(&node->members, &copy) != DYN_OK)
	{
		h->failed = true;
		return;
	}
	h->partitions_received += n;
	dyn_log(&node->log, DYN_LOG_INFO, "took over %zu partition%s; %u transfers pending "
			"in the ring", n, n == 1 ? "" : "s", node->members.ring.npending);
}

static void
handoff_batch_end(dyn_node *node)
{
	dyn_handoff *h = &node->handoff;

	for (size_t i = 0; i < h->ngained; i++)
		h->state[h->gained[i]] = DYN_HANDOFF_IDLE;
	if (h->failed)
		h->batches_failed++;
	h->busy = false;
}

/*
 * Find a partition this node holds data of but does not replicate, now
 * or after the pending transfers; reconcile it with its replicas, then
 * delete it (handoff_drop_some, tick by tick).
 */
static bool
handoff_start_drop(dyn_node *node)
{
	dyn_handoff *h = &node->handoff;
	dyn_ring   *ring = &node->members.ring;
	dyn_ring	target;
	int			ix = handoff_self(ring, node);
	int			tix;
	bool		found = false;

	if (dyn_ring_init(&target, ring->q, ring->n) != DYN_OK ||
		dyn_ring_target(ring, &target) != DYN_OK)
	{
		dyn_ring_free(&target);
		return false;
	}
	tix = dyn_ring_member_index(&target, dyn_slice_str(node->cfg.id));
	for (uint32_t k = 0; k < ring->q && !found; k++)
	{
		uint32_t	p = (h->drop + 1 + k) % ring->q;

		if (handoff_replicates(ring, p, ix) || handoff_replicates(&target, p, tix) ||
			dyn_sync_partition_empty(node, p))
			continue;
		h->drop = p;
		found = true;
	}
	dyn_ring_free(&target);
	if (!found)
		return false;
	h->nsources = handoff_sources(node, ring, h->drop);
	if (h->nsources == 0)
		return false;			/* nobody to hand it to now; later */
	h->busy = true;
	h->drop_synced = false;
	h->state[h->drop] = DYN_HANDOFF_DROPPING;
	h->si = h->ok_sources = 0;
	h->ngained = 0;
	h->failed = false;
	handoff_next_drop_exchange(node);
	return true;
}

/* Reconcile the partition being dropped with its next live replica. */
static void
handoff_next_drop_exchange(dyn_node *node)
{
	dyn_handoff *h = &node->handoff;

	for (; h->si < h->nsources; h->si++)
		if (dyn_sync_start(node, h->sources[h->si], h->drop, DYN_SYNC_PUSH_ONLY,
						   handoff_on_drop_sync, node) == DYN_OK)
			return;
	if (h->ok_sources > 0 && !h->failed)
	{
		dyn_log(&node->log, DYN_LOG_INFO, "partition %u is no longer replicated here: "
				"reconciled with %d replica%s, dropping it", h->drop, h->ok_sources,
				h->ok_sources == 1 ? "" : "s");
		h->drop_synced = true;	/* the ticks delete it, chunk by chunk */
		handoff_retire_owner(node);
		return;
	}
	h->state[h->drop] = DYN_HANDOFF_IDLE;
	h->busy = false;
}

static void
handoff_on_drop_sync(void *arg, const dyn_sync_result *res)
{
	dyn_node   *node = arg;
	dyn_handoff *h = &node->handoff;

	dyn_sync_counts_add(&h->counts, &res->counts);
	if (res->status == DYN_OK)
		h->ok_sources++;
	else
	{
		dyn_log(&node->log, DYN_LOG_WARNING,
				"reconciling partition %u with %s before dropping it failed (not dropped): %s",
				res->partition, res->peer, dyn_sync_result_why(res));
		h->failed = true;
	}
	h->si++;
	if (node->stopping)
	{
		h->busy = false;
		return;
	}
	handoff_next_drop_exchange(node);
}

/*
 * Whether this node replicates p now or will once the pending transfers
 * complete (then it must keep p's keys).  On failure to work it out: yes.
 */
static bool
handoff_wanted_here(dyn_node *node, uint32_t p)
{
	dyn_ring   *ring = &node->members.ring;
	dyn_ring	target;
	bool		wanted;

	if (handoff_replicates(ring, p, handoff_self(ring, node)))
		return true;
	if (dyn_ring_init(&target, ring->q, ring->n) != DYN_OK ||
		dyn_ring_target(ring, &target) != DYN_OK)
	{
		dyn_ring_free(&target);
		return true;
	}
	wanted = handoff_replicates(&target, p, handoff_self(&target, node));
	dyn_ring_free(&target);
	return wanted;
}

/* Delete a chunk of the partition being dropped. */
static void
handoff_drop_some(dyn_node *node)
{
	dyn_handoff *h = &node->handoff;
	size_t		dropped = 0;
	bool		more = false;
	int			rc;

	if (dyn_throttle_delay(&node->throttle, uv_now(node->loop)) > 0)
		return;
	if (handoff_wanted_here(node, h->drop))
	{
		/* a ring change made us a replica again: keep what is left */
		dyn_log(&node->log, DYN_LOG_INFO, "partition %u is replicated here again: "
				"not dropping it", h->drop);
		h->state[h->drop] = DYN_HANDOFF_IDLE;
		h->drop_synced = false;
		h->busy = false;
		return;
	}
	if ((rc = dyn_engine_begin(node->engine)) == DYN_OK)
	{
		rc = dyn_store_drop(&node->store, h->drop, DYN_HANDOFF_DROP_CHUNK, &dropped, &more);
		if (dyn_engine_commit(node->engine) != DYN_OK && rc == DYN_OK)
			rc = DYN_ERR_ENGINE;
	}
	if (rc != DYN_OK)
	{
		/* what is left stays; the partition is picked up again later */
		dyn_log(&node->log, DYN_LOG_ERROR, "could not drop keys of partition %u: %s",
				h->drop, dyn_engine_errmsg(node->engine));
		h->state[h->drop] = DYN_HANDOFF_IDLE;
		h->drop_synced = false;
		h->busy = false;
		return;
	}
	h->keys_dropped += dropped;
	dyn_throttle_charge(&node->throttle, dropped * 64, uv_now(node->loop));
	if (!more)
	{
		h->partitions_dropped++;
		h->state[h->drop] = DYN_HANDOFF_IDLE;
		h->drop_synced = false;
		h->busy = false;
		dyn_log(&node->log, DYN_LOG_INFO, "dropped partition %u", h->drop);
	}
}

/* ---------------------------------------------------------------- remove */

int
dyn_handoff_on_remove(dyn_request *r)
{
	dyn_node   *node = r->node;
	dyn_handoff *h = &node->handoff;
	dyn_ring   *ring = &node->members.ring;
	dyn_slice	id;
	char		idtext[DYN_NODE_ID_MAX + 1];
	dyn_ring	copy;
	uint32_t	owned;
	int			ix;
	int			rc;
	dyn_buf    *json = &node->scratch;

	if ((rc = dyn_remove_req_decode(r->body, &id)) != DYN_OK)
		return rc;
	snprintf(idtext, sizeof(idtext), "%.*s", (int) id.len, (const char *) id.ptr);
	ix = dyn_ring_member_index(ring, id);
	if (ix < 0)
	{
		dyn_reply_error(node, r->out, r->reqid, DYN_E_INVAL, 0, 0,
						"node \"%s\" is not a member of the ring", idtext);
		return DYN_OK;
	}
	if (ring->nmembers == 1)
	{
		dyn_reply_error(node, r->out, r->reqid, DYN_E_INVAL, 0, 0,
						"node \"%s\" is the only member of the ring: "
						"there is nobody to hand its partitions to", idtext);
		return DYN_OK;
	}
	owned = ring->members[ix].owned;
	if ((ring->members[ix].flags & DYN_RING_LEAVING) == 0)
	{
		if ((rc = dyn_ring_init(&copy, ring->q, ring->n)) == DYN_OK &&
			(rc = dyn_ring_copy(&copy, ring)) == DYN_OK)
			rc = dyn_ring_plan_leave(&copy, id);
		if (rc == DYN_OK)
			rc = dyn_membership_set_ring(&node->members, &copy);
		else
			dyn_ring_free(&copy);
		if (rc != DYN_OK)
		{
			dyn_reply_error(node, r->out, r->reqid, DYN_E_INTERNAL, 0, 0,
							"could not plan the removal of \"%s\": %s", idtext,
							dyn_strerror(rc));
			return DYN_OK;
		}
		dyn_log(&node->log, DYN_LOG_INFO, "removing %s: %u partitions to hand over",
				idtext, owned);
	}
	if (h->nremoving < DYN_HANDOFF_REMOVING_MAX)
	{
		bool		known = false;

		for (int i = 0; i < h->nremoving; i++)
			known |= strcmp(h->removing[i], idtext) == 0;
		if (!known)
			snprintf(h->removing[h->nremoving++], sizeof(h->removing[0]), "%s", idtext);
	}
	dyn_buf_reset(json);
	dyn_buf_printf(json, "{\"node\":");
	dyn_buf_put_json_string(json, id);
	dyn_buf_printf(json, ",\"partitions\":%u,\"ring_version\":%llu}", owned,
				   (unsigned long long) node->members.ring.version);
	dyn_json_reply_encode(r->out, DYN_MSG_REMOVE_REPLY, r->reqid, dyn_buf_slice(json));
	return DYN_OK;
}

/* --------------------------------------------------------------- status */

void
dyn_handoff_status_json(const dyn_node *node, dyn_buf *out)
{
	static const char *const names[] = {"waiting", "pulling", "catching_up", "dropping"};
	const dyn_handoff *h = &node->handoff;
	const dyn_ring *ring = &node->members.ring;
	bool		first = true;

	dyn_buf_printf(out, "\"handoff\":{\"busy\":%s,\"pending\":[", h->busy ? "true" : "false");
	for (uint32_t p = 0; ring->nmembers > 0 && p < ring->q; p++)
	{
		uint8_t		st = h->state != NULL ? h->state[p] : 0;

		if (ring->next[p] == DYN_RING_NO_OWNER && st == DYN_HANDOFF_IDLE)
			continue;
		dyn_buf_printf(out, "%s{\"partition\":%u,\"from\":", first ? "" : ",", p);
		dyn_buf_put_json_string(out, dyn_ring_member_id(&ring->members[ring->owner[p]]));
		dyn_buf_printf(out, ",\"to\":");
		if (ring->next[p] != DYN_RING_NO_OWNER)
			dyn_buf_put_json_string(out, dyn_ring_member_id(&ring->members[ring->next[p]]));
		else
			dyn_buf_printf(out, "null");
		dyn_buf_printf(out, ",\"state\":\"%s\"}", names[st < 4 ? st : 0]);
		first = false;
	}
	dyn_buf_printf(out, "],\"partitions_received\":%llu,\"partitions_dropped\":%llu,"
				   "\"keys_dropped\":%llu,\"batches\":%llu,\"batches_failed\":%llu,",
				   (unsigned long long) h->partitions_received,
				   (unsigned long long) h->partitions_dropped,
				   (unsigned long long) h->keys_dropped,
				   (unsigned long long) h->batches,
				   (unsigned long long) h->batches_failed);
	dyn_sync_counts_json(&h->counts, out);
	dyn_buf_printf(out, "}");
}
