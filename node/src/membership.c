/*
 * membership.c
 *		Gossip, failure detection and ring adoption (see membership.h).
 *
 * Members live in an array of pointers so that a dyn_member * handed to a
 * coordinator or a peer callback stays valid for the life of the node.  A
 * member that was in the ring and is not in a newer one has been removed
 * (its partitions handed over): it leaves members[] for ms->retired, its
 * connection is closed and gossip neither sends to it nor brings it back
 * from another node's older view; only a ring that holds it again (a
 * rejoin) does.  Its struct is freed when the node stops.
 *
 * The ring is the source of addresses: every ring member becomes a
 * dyn_member at once, with an optimistic "up" and a first heartbeat taken
 * as just heard, so a node that restarts with its stored ring talks to its
 * old peers straight away and judges them by the detector like any other.
 */
#include "membership.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_RING	"ring"

static uint64_t ms_random(dyn_membership *ms);
static int	members_reserve(dyn_membership *ms);
static dyn_member *member_add(dyn_membership *ms, dyn_slice id, dyn_slice address,
							  dyn_slice zone);
static void member_set_address(dyn_member *m, dyn_slice address);
static dyn_peer *member_peer(dyn_member *m);
static void member_mark(dyn_member *m, bool up, const char *why);
static void member_on_peer_fail(void *owner, dyn_peer *p, int status);
static int	ring_sync_members(dyn_membership *ms);
static void member_retire(dyn_membership *ms, size_t i);
static dyn_member *member_revive(dyn_membership *ms, dyn_slice id);
static bool member_is_retired(const dyn_membership *ms, dyn_slice id);
static int	ring_store(dyn_membership *ms);
static int	ring_adopt(dyn_membership *ms, dyn_ring *incoming);
static int	ring_consider(dyn_membership *ms, dyn_slice bytes);
static int	ring_ensure_self(dyn_membership *ms);
static void view_encode(dyn_membership *ms, uint8_t type, uint32_t reqid,
						bool local_status, bool self_only, dyn_buf *out);
static int	view_merge(dyn_membership *ms, dyn_slice body, dyn_member *from);
static void member_heard(dyn_member *m, uint64_t now);
static void gossip_send(dyn_membership *ms, dyn_peer *p, dyn_member *m, bool self_only);
static void gossip_to(dyn_membership *ms, dyn_member *m);
static void gossip_to_seed(dyn_membership *ms, int i);
static void gossip_on_reply(void *arg, int status, const dyn_frame *reply);
static void gossip_on_seed_reply(void *arg, int status, const dyn_frame *reply);
static void heartbeat_on_timer(uv_timer_t *t);
static bool gossip_is_heartbeat(const dyn_membership *ms, dyn_slice body);
static void gossip_on_timer(uv_timer_t *t);
static void detect_on_timer(uv_timer_t *t);
static void parse_seeds(dyn_membership *ms, const char *seeds);


/* --------------------------------------------------------------- helpers */

/* xorshift64: which peer to gossip with (no global state, no libc rand). */
static uint64_t
ms_random(dyn_membership *ms)
{
	ms->rng ^= ms->rng << 13;
	ms->rng ^= ms->rng >> 7;
	ms->rng ^= ms->rng << 17;
	return ms->rng;
}

/* Copy a slice into a fixed buffer of size cap (cut to fit, NUL-ended). */
static void
copy_str(char *dst, size_t cap, dyn_slice s)
{
	size_t		n = s.len < cap - 1 ? s.len : cap - 1;

	if (n > 0)
		memcpy(dst, s.ptr, n);
	dst[n] = '\0';
}


/* --------------------------------------------------------------- members */

/* Room in members[] for one more; DYN_ERR_NOMEM. */
static int
members_reserve(dyn_membership *ms)
{
	if (ms->nmembers == ms->cap)
	{
		size_t		cap = ms->cap ? ms->cap * 2 : 8;
		dyn_member **a = realloc(ms->members, cap * sizeof(*a));

		if (a == NULL)
			return DYN_ERR_NOMEM;
		ms->members = a;
		ms->cap = cap;
	}
	return DYN_OK;
}

/* A new member, optimistically up; NULL when out of memory. */
static dyn_member *
member_add(dyn_membership *ms, dyn_slice id, dyn_slice address, dyn_slice zone)
{
	dyn_member *m;

	if (members_reserve(ms) != DYN_OK)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	copy_str(m->id, sizeof(m->id), id);
	copy_str(m->address, sizeof(m->address), address);
	copy_str(m->zone, sizeof(m->zone), zone);
	m->ms = ms;
	m->status = DYN_MEMBER_UP;
	m->up = true;
	m->changed_ms = dyn_clock_mono_ms();
	dyn_phi_init(&m->phi);
	dyn_phi_heartbeat(&m->phi, dyn_clock_mono_ms());
	ms->members[ms->nmembers++] = m;
	if (ms->nmembers > 1)
		dyn_log(ms->cfg.log, DYN_LOG_INFO, "member %s at %s%s%s", m->id, m->address,
				m->zone[0] ? " in zone " : "", m->zone);
	return m;
}

/* A member moved (restarted on another port): follow it. */
static void
member_set_address(dyn_member *m, dyn_slice address)
{
	char		addr[sizeof(m->address)];

	copy_str(addr, sizeof(addr), address);
	if (addr[0] == '\0' || strcmp(addr, m->address) == 0)
		return;
	dyn_log(m->ms->cfg.log, DYN_LOG_INFO, "member %s moved from %s to %s",
			m->id, m->address, addr);
	strcpy(m->address, addr);
	if (m->peer != NULL)
		dyn_peer_set_address(m->peer, addr);
}

/* The member's connection, made at first use. */
static dyn_peer *
member_peer(dyn_member *m)
{
	dyn_membership *ms = m->ms;

	if (m->peer == NULL && !m->self && !m->removed && !ms->stopping)
	{
		dyn_peer_config pc = {
			.loop = ms->cfg.loop,
			.log = ms->cfg.log,
			.new_client = ms->cfg.new_client,
			.new_client_arg = ms->cfg.new_client_arg,
			.on_fail = member_on_peer_fail,
			.owner = m,
		};

		m->peer = dyn_peer_new(&pc, m->id, m->address);
	}
	return m->peer;
}

/* Flip the local verdict, say so, and tell the node when a member is back. */
static void
member_mark(dyn_member *m, bool up, const char *why)
{
	dyn_membership *ms = m->ms;

	if (m->up == up)
		return;
	m->up = up;
	m->changed_ms = dyn_clock_mono_ms();
	dyn_log(ms->cfg.log, up ? DYN_LOG_INFO : DYN_LOG_WARNING, "member %s at %s is %s (%s)",
			m->id, m->address, up ? "up" : "down", why);
	if (up && ms->cfg.on_up != NULL)
		ms->cfg.on_up(ms->cfg.on_up_arg, m);
}

/* A request to m timed out or its connection failed: more suspicion. */
static void
member_on_peer_fail(void *owner, dyn_peer *p, int status)
{
	dyn_member *m = owner;

	(void) p;
	(void) status;
	m->failures++;
}

dyn_peer *
dyn_membership_peer(dyn_member *m)
{
	return member_peer(m);
}

dyn_member *
dyn_membership_find(const dyn_membership *ms, dyn_slice id)
{
	for (size_t i = 0; i < ms->nmembers; i++)
		if (dyn_slice_eq(dyn_slice_str(ms->members[i]->id), id))
			return ms->members[i];
	return NULL;
}

/*
 * members[i] left the ring: close its connection (requests on it fail with
 * CLOSED) and move it to ms->retired, the order of the others kept.  Out
 * of memory for the retired list it stays where it is, connectionless.
 */
static void
member_retire(dyn_membership *ms, size_t i)
{
	dyn_member *m = ms->members[i];
	dyn_member **a = realloc(ms->retired, (ms->nretired + 1) * sizeof(*a));

	dyn_peer_close(m->peer);
	m->peer = NULL;
	m->removed = true;
	m->up = false;
	if (a == NULL)
		return;
	ms->retired = a;
	ms->retired[ms->nretired++] = m;
	memmove(&ms->members[i], &ms->members[i + 1], (ms->nmembers - i - 1) * sizeof(*a));
	ms->nmembers--;
	dyn_log(ms->cfg.log, DYN_LOG_INFO, "member %s left the ring: no longer gossiped to",
			m->id);
}

/* A retired member that a ring holds again: back in members[], up. */
static dyn_member *
member_revive(dyn_membership *ms, dyn_slice id)
{
	for (size_t i = 0; i < ms->nretired; i++)
	{
		dyn_member *m = ms->retired[i];

		if (!dyn_slice_eq(dyn_slice_str(m->id), id))
			continue;
		if (members_reserve(ms) != DYN_OK)
			return NULL;
		ms->retired[i] = ms->retired[--ms->nretired];
		ms->members[ms->nmembers++] = m;
		m->removed = false;
		m->in_ring = false;		/* set again below, now that the ring holds it */
		m->failures = 0;
		m->changed_ms = dyn_clock_mono_ms();
		dyn_phi_init(&m->phi);
		dyn_phi_heartbeat(&m->phi, m->changed_ms);
		m->up = true;
		dyn_log(ms->cfg.log, DYN_LOG_INFO, "member %s is in the ring again", m->id);
		return m;
	}
	return NULL;
}

static bool
member_is_retired(const dyn_membership *ms, dyn_slice id)
{
	for (size_t i = 0; i < ms->nretired; i++)
		if (dyn_slice_eq(dyn_slice_str(ms->retired[i]->id), id))
			return true;
	return false;
}


/* ------------------------------------------------------------------ ring */

/*
 * Make every ring member a dyn_member (following address changes) and
 * rebuild the ring-index map the preference lists go through.
 */
static int
ring_sync_members(dyn_membership *ms)
{
	dyn_member **map = NULL;

	if (ms->ring.nmembers > 0)
	{
		map = calloc(ms->ring.nmembers, sizeof(*map));
		if (map == NULL)
			return DYN_ERR_NOMEM;
	}
	for (uint32_t i = 0; i < ms->ring.nmembers; i++)
	{
		const dyn_ring_member *rm = &ms->ring.members[i];
		dyn_slice	id = dyn_ring_member_id(rm);
		dyn_member *m = dyn_membership_find(ms, id);

		if (m == NULL)
			m = member_revive(ms, id);
		if (m == NULL)
			m = member_add(ms, id, dyn_slice_str(rm->address), dyn_slice_str(rm->zone));
		else if (!m->self)
		{
			member_set_address(m, dyn_slice_str(rm->address));
			if (strcmp(m->zone, rm->zone) != 0)
				copy_str(m->zone, sizeof(m->zone), dyn_slice_str(rm->zone));
		}
		if (m == NULL)
		{
			free(map);
			return DYN_ERR_NOMEM;
		}
		map[i] = m;
	}
	for (size_t i = ms->nmembers; i-- > 1;)
	{
		dyn_member *m = ms->members[i];
		bool		found = false;

		for (uint32_t k = 0; k < ms->ring.nmembers && !found; k++)
			found = map[k] == m;
		if (found)
			m->in_ring = true;
		else if (m->in_ring && !m->self)
			member_retire(ms, i);	/* was in the ring, is not: removed */
	}
	ms->members[0]->in_ring = true;
	free(ms->by_ring);
	ms->by_ring = map;
	dyn_buf_reset(&ms->ring_bytes);
	dyn_ring_encode(&ms->ring, &ms->ring_bytes);
	if (ms->ring_bytes.err)
		return DYN_ERR_NOMEM;
	ms->members[0]->ring_version = ms->ring.version;
	return DYN_OK;
}

/* Keep the ring in the metadata namespace (a restart starts from it). */
static int
ring_store(dyn_membership *ms)
{
	int			rc = dyn_engine_put(ms->cfg.engine, DYN_NS_META, dyn_slice_str(META_RING),
									dyn_buf_slice(&ms->ring_bytes));

	if (rc != DYN_OK)
		dyn_log(ms->cfg.log, DYN_LOG_ERROR, "could not store the ring: %s",
				dyn_engine_errmsg(ms->cfg.engine));
	return rc;
}

/* Take incoming (consumed: it is freed or swapped in) as our ring. */
static int
ring_adopt(dyn_membership *ms, dyn_ring *incoming)
{
	dyn_ring	old = ms->ring;
	dyn_slice	self_id = dyn_slice_str(ms->members[0]->id);
	int			was = dyn_ring_member_index(&old, self_id);
	int			rc;

	/*
	 * A node that was leaving and is not in a newer ring has been removed:
	 * it must not join again on its own.  Any other node missing from a
	 * newer ring lost a race between concurrent joins (even after taking
	 * over partitions in its own branch of the ring's history) and joins
	 * again; so does a node removed while it was down, when it comes back
	 * (it never saw itself leaving).
	 */
	if (was >= 0 && (old.members[was].flags & DYN_RING_LEAVING) != 0 &&
		dyn_ring_member_index(incoming, self_id) < 0)
	{
		ms->left = true;
		dyn_log(ms->cfg.log, DYN_LOG_INFO,
				"this node has left the ring: every partition it owned was handed over");
	}

	ms->ring = *incoming;
	*incoming = old;
	dyn_ring_free(incoming);
	if ((rc = ring_sync_members(ms)) != DYN_OK)
		return rc;
	ms->ring_changes++;
	dyn_log(ms->cfg.log, DYN_LOG_INFO, "ring version %llu: %u members, %u partitions here",
			(unsigned long long) ms->ring.version, ms->ring.nmembers,
			dyn_membership_owned(ms));
	(void) ring_store(ms);
	return ring_ensure_self(ms);
}

/*
 * A ring arrived by gossip: adopt it if it is newer than ours (version,
 * then bytes).  A ring of another Q, or of another N than the one this
 * member's ring has, is a different cluster: ignored with a warning.
 */
static int
ring_consider(dyn_membership *ms, dyn_slice bytes)
{
	dyn_ring	r;
	int			rc;
	int			cmp;

	if (bytes.len == 0)
		return DYN_OK;
	if (ms->ring.nmembers > 0 && dyn_slice_eq(bytes, dyn_buf_slice(&ms->ring_bytes)))
		return DYN_OK;
	if ((rc = dyn_ring_init(&r, ms->cfg.q, ms->cfg.n)) != DYN_OK ||
		(rc = dyn_ring_decode(bytes, &r)) != DYN_OK)
	{
		dyn_ring_free(&r);
		return rc;
	}
	if (r.nmembers == 0)
	{
		dyn_ring_free(&r);
		return DYN_OK;
	}
	if (r.q != ms->cfg.q)
	{
		dyn_log(ms->cfg.log, DYN_LOG_WARNING,
				"ignoring a ring of %u partitions: this node has %u", r.q, ms->cfg.q);
		dyn_ring_free(&r);
		return DYN_OK;
	}
	/*
	 * A member's ring fixes N (a stored ring's wins over --n): a ring of
	 * another N is another cluster.  A node still joining (no ring yet)
	 * takes the N of the cluster it joins.
	 */
	if (ms->ring.nmembers > 0 && r.n != ms->ring.n)
	{
		dyn_log(ms->cfg.log, DYN_LOG_WARNING,
				"ignoring a ring with n=%u: this node has n=%u", r.n, ms->ring.n);
		dyn_ring_free(&r);
		return DYN_OK;
	}
	if (ms->ring.nmembers == 0 || r.version > ms->ring.version)
		cmp = 1;
	else if (r.version < ms->ring.version)
		cmp = -1;
	else
		cmp = dyn_slice_cmp(bytes, dyn_buf_slice(&ms->ring_bytes));
	if (cmp <= 0)
	{
		dyn_ring_free(&r);
		return DYN_OK;
	}
	return ring_adopt(ms, &r);
}

/*
 * Put this node in the ring if it is not there (first join, a concurrent
 * join that lost, a ring that lost our address change).
 */
static int
ring_ensure_self(dyn_membership *ms)
{
	dyn_member *self = ms->members[0];
	int			ix;
	int			rc;

	if (ms->ring.nmembers == 0)
		return DYN_OK;			/* joining: wait for a seed's ring */
	ix = dyn_ring_member_index(&ms->ring, dyn_slice_str(self->id));
	if (ix >= 0 && strcmp(ms->ring.members[ix].address, self->address) == 0)
		return DYN_OK;
	if (ix < 0 && ms->left)
		return DYN_OK;
	/* a join only plans: the partitions switch as their data arrives (handoff.c) */
	rc = dyn_ring_plan_join(&ms->ring, dyn_slice_str(self->id),
							dyn_slice_str(self->address), dyn_slice_str(self->zone));
	if (rc != DYN_OK)
	{
		dyn_log(ms->cfg.log, DYN_LOG_ERROR, "could not add this node to the ring: %s%s",
				dyn_strerror(rc), rc == DYN_ERR_INVAL ?
				" (the ring has this id in another zone)" : "");
		return rc;
	}
	if ((rc = ring_sync_members(ms)) != DYN_OK)
		return rc;
	ms->ring_changes++;
	dyn_log(ms->cfg.log, DYN_LOG_INFO, "%s the ring: version %llu, %u members, "
			"%u partitions to take over", ix >= 0 ? "updated our address in" : "joined",
			(unsigned long long) ms->ring.version, ms->ring.nmembers,
			ms->ring.npending);
	return ring_store(ms);
}

/*
 * A ring this node changed itself (a completed transfer, a planned leave,
 * a pruned member): adopt it and push it to every live member at once, so
 * the change does not wait for the random gossip to spread.
 */
int
dyn_membership_set_ring(dyn_membership *ms, dyn_ring *ring)
{
	int			rc;

	if ((rc = ring_adopt(ms, ring)) != DYN_OK)
		return rc;
	for (size_t i = 1; i < ms->nmembers; i++)
		if (dyn_member_up(ms->members[i]))
			gossip_to(ms, ms->members[i]);
	return DYN_OK;
}


/* ----------------------------------------------------------------- views */

/*
 * Our view as a frame.  local_status (RING_REPLY) gives our up/down
 * verdict per member instead of what each member says of itself.
 */
static void
view_encode(dyn_membership *ms, uint8_t type, uint32_t reqid, bool local_status,
			bool self_only, dyn_buf *out)
{
	size_t		start = dyn_view_begin(out, type, reqid);
	uint16_t	count = 0;
	size_t		upto = self_only ? 1 : ms->nmembers;

	for (size_t i = 0; i < upto && count < UINT16_MAX; i++)
	{
		const dyn_member *m = ms->members[i];
		dyn_member_entry e = {
			.id = dyn_slice_str(m->id),
			.address = dyn_slice_str(m->address),
			.zone = dyn_slice_str(m->zone),
			.status = local_status ? (dyn_member_up(m) ? DYN_MEMBER_UP : DYN_MEMBER_DOWN)
			: m->status,
			.generation = m->generation,
			.heartbeat = m->heartbeat,
			.ring_version = m->ring_version,
		};

		dyn_view_add(out, &e);
		count++;
	}
	dyn_view_end(out, start, count,
				 self_only ? dyn_slice_str("") : dyn_buf_slice(&ms->ring_bytes));
}

/*
 * Merge a received view: the ring first (it may bring members and
 * addresses), then each member by (generation, heartbeat).  This spreads
 * what members say of themselves, not whether they are alive: liveness is
 * fed only by member_heard, for the member that answered one of our own
 * requests (from; NULL for a request that came in, or a seed's answer).
 * A heartbeat relayed by a third node proves nothing about our link to
 * the member, and taking it as proof kept unreachable peers "up" under
 * partial partitions.
 */
static int
view_merge(dyn_membership *ms, dyn_slice body, dyn_member *from)
{
	dyn_view_msg msg;
	dyn_reader	r;
	uint64_t	now = dyn_clock_mono_ms();
	int			rc;

	if ((rc = dyn_view_decode(body, &msg)) != DYN_OK)
		return rc;
	if ((rc = ring_consider(ms, msg.ring)) != DYN_OK && rc != DYN_ERR_NOMEM)
		return rc;
	dyn_reader_init(&r, msg.members);
	for (uint16_t i = 0; i < msg.count; i++)
	{
		dyn_member_entry e;
		dyn_member *m;

		if (dyn_view_next(&r, &e) != DYN_OK)
			return DYN_ERR_PROTO;
		if (e.address.len > DYN_RING_ADDRESS_MAX || e.zone.len > DYN_RING_ZONE_MAX)
			continue;
		m = dyn_membership_find(ms, e.id);
		if (m != NULL && m->self)
			continue;
		if (m == NULL)
		{
			if (e.generation == 0)
				continue;		/* a member nobody has heard from yet */
			if (member_is_retired(ms, e.id))
				continue;		/* removed: an older view still lists it */
			if ((m = member_add(ms, e.id, e.address, e.zone)) == NULL)
				return DYN_ERR_NOMEM;
		}
		if (e.generation < m->generation ||
			(e.generation == m->generation && e.heartbeat <= m->heartbeat))
			continue;
		if (e.generation != m->generation && m->generation != 0)
			dyn_log(ms->cfg.log, DYN_LOG_INFO, "member %s restarted", m->id);
		member_set_address(m, e.address);
		m->status = e.status;
		m->generation = e.generation;
		m->heartbeat = e.heartbeat;
		m->ring_version = e.ring_version;
	}
	if (from != NULL)
		member_heard(from, now);
	ms->gossip_received++;
	return DYN_OK;
}

/*
 * m answered a request of ours: the evidence the failure detector feeds
 * on.  Its failures are forgiven and it is up again at once.
 */
static void
member_heard(dyn_member *m, uint64_t now)
{
	m->failures = 0;
	dyn_phi_heartbeat(&m->phi, now);
	m->heard_ms = now;
	member_mark(m, true, "it answered");
}

/*
 * Whether a GOSSIP is a heartbeat that a heartbeat answers: the sender's
 * entry alone, no ring, and the sender already at our ring version.  A
 * joining node's gossip looks the same but carries ring version 0 (or an
 * older one after a restart), and gets our whole view and ring.
 */
static bool
gossip_is_heartbeat(const dyn_membership *ms, dyn_slice body)
{
	dyn_view_msg msg;
	dyn_reader	r;
	dyn_member_entry e;

	if (ms->ring.nmembers == 0 || dyn_view_decode(body, &msg) != DYN_OK ||
		msg.count != 1 || msg.ring.len != 0)
		return false;
	dyn_reader_init(&r, msg.members);
	return dyn_view_next(&r, &e) == DYN_OK && e.ring_version == ms->ring.version;
}

int
dyn_membership_on_gossip(dyn_membership *ms, dyn_slice body, uint32_t reqid, dyn_buf *out)
{
	int			rc = view_merge(ms, body, NULL);

	if (rc == DYN_ERR_PROTO)
		return rc;
	view_encode(ms, DYN_MSG_GOSSIP_REPLY, reqid, false, gossip_is_heartbeat(ms, body), out);
	return DYN_OK;
}

void
dyn_membership_ring_reply(dyn_membership *ms, uint32_t reqid, dyn_buf *out)
{
	view_encode(ms, DYN_MSG_RING_REPLY, reqid, true, false, out);
}


/* ---------------------------------------------------------------- gossip */

/*
 * Send our view on p: all of it with the ring (gossip), or only our own
 * entry (a heartbeat: a few dozen bytes, answered with the other's whole
 * view).  m is the member p leads to, NULL for a seed.
 */
static void
gossip_send(dyn_membership *ms, dyn_peer *p, dyn_member *m, bool self_only)
{
	dyn_slice	body;

	dyn_buf_reset(&ms->scratch);
	view_encode(ms, DYN_MSG_GOSSIP, 0, false, self_only, &ms->scratch);
	if (ms->scratch.err)
		return;
	body.ptr = ms->scratch.data + DYN_FRAME_HEADER_LEN;
	body.len = ms->scratch.len - DYN_FRAME_HEADER_LEN;
	if (dyn_peer_send(p, DYN_MSG_GOSSIP, body, DYN_GOSSIP_TIMEOUT_MS,
					  m != NULL ? gossip_on_reply : gossip_on_seed_reply,
					  m != NULL ? (void *) m : (void *) ms) == DYN_OK)
		ms->gossip_sent++;
}

/* One push-pull exchange with m. */
static void
gossip_to(dyn_membership *ms, dyn_member *m)
{
	dyn_peer   *p = member_peer(m);

	if (p != NULL)
		gossip_send(ms, p, m, false);
}

/* A seed we have no id for yet: its own connection, by address. */
static void
gossip_to_seed(dyn_membership *ms, int i)
{
	if (ms->seed_peers[i] == NULL)
	{
		dyn_peer_config pc = {
			.loop = ms->cfg.loop,
			.log = ms->cfg.log,
			.new_client = ms->cfg.new_client,
			.new_client_arg = ms->cfg.new_client_arg,
		};

		ms->seed_peers[i] = dyn_peer_new(&pc, "seed", ms->seeds[i]);
		if (ms->seed_peers[i] == NULL)
			return;
	}
	gossip_send(ms, ms->seed_peers[i], NULL, false);
}

/*
 * m's answer to our gossip or heartbeat: merge its view, and m itself is
 * heard (its failures are counted by the peer's on_fail instead).
 */
static void
gossip_on_reply(void *arg, int status, const dyn_frame *reply)
{
	dyn_member *m = arg;
	dyn_membership *ms = m->ms;

	if (status != DYN_OK || ms->stopping)
		return;
	if (reply->type != DYN_MSG_GOSSIP_REPLY)
		return;					/* an error frame: the peer refused, nothing to merge */
	if (view_merge(ms, reply->body, m) == DYN_ERR_PROTO)
		dyn_log(ms->cfg.log, DYN_LOG_WARNING, "malformed gossip reply from %s ignored", m->id);
}

/* A seed's answer: its view, but no member to credit (we lack its id). */
static void
gossip_on_seed_reply(void *arg, int status, const dyn_frame *reply)
{
	dyn_membership *ms = arg;

	if (status != DYN_OK || ms->stopping || reply->type != DYN_MSG_GOSSIP_REPLY)
		return;
	if (view_merge(ms, reply->body, NULL) == DYN_ERR_PROTO)
		dyn_log(ms->cfg.log, DYN_LOG_WARNING, "malformed gossip reply ignored");
}

/*
 * Every DYN_HEARTBEAT_INTERVAL_MS: a heartbeat (our own entry only) to
 * every member, up or down.  Each answer is direct evidence of the link
 * from this node to that member, which is what the detector judges; a
 * down member is asked as often, so it is seen up again within one
 * interval of the network letting its answer through.
 */
static void
heartbeat_on_timer(uv_timer_t *t)
{
	dyn_membership *ms = t->data;

	for (size_t i = 1; i < ms->nmembers; i++)
	{
		dyn_peer   *p = member_peer(ms->members[i]);

		if (p != NULL)
			gossip_send(ms, p, ms->members[i], true);
	}
}

/*
 * Every second: beat, then gossip with one random member (a random live
 * one as well when the first pick is down, so a node that is alone in
 * thinking others dead still hears from the living), and with the seeds
 * while this node is not in the ring.
 */
static void
gossip_on_timer(uv_timer_t *t)
{
	dyn_membership *ms = t->data;
	dyn_member *self = ms->members[0];
	size_t		others = ms->nmembers - 1;

	self->heartbeat++;
	self->ring_version = ms->ring.version;
	if (dyn_ring_member_index(&ms->ring, dyn_slice_str(self->id)) < 0)
		for (int i = 0; i < ms->nseeds; i++)
			gossip_to_seed(ms, i);
	if (others == 0)
		return;
	{
		dyn_member *pick = ms->members[1 + ms_random(ms) % others];
		size_t		live = 0;

		gossip_to(ms, pick);
		if (pick->up)
			return;
		for (size_t i = 1; i < ms->nmembers; i++)
			live += ms->members[i]->up;
		if (live == 0)
			return;
		live = ms_random(ms) % live;
		for (size_t i = 1; i < ms->nmembers; i++)
			if (ms->members[i]->up && live-- == 0)
			{
				gossip_to(ms, ms->members[i]);
				break;
			}
	}
}

/*
 * The detector: a member is down when the phi of its answers to our
 * heartbeats passes the threshold, or when requests to it fail (time out,
 * or its connection is refused or lost) and its answers are late as well.
 * Every member is asked every DYN_HEARTBEAT_INTERVAL_MS, so a crashed node
 * refuses at once and a cut link times out within DYN_GOSSIP_TIMEOUT_MS:
 * judged on evidence well before phi alone would cross its threshold.
 */
static void
detect_on_timer(uv_timer_t *t)
{
	dyn_membership *ms = t->data;
	uint64_t	now = dyn_clock_mono_ms();

	for (size_t i = 1; i < ms->nmembers; i++)
	{
		dyn_member *m = ms->members[i];
		double		phi;
		char		why[96];

		if (!m->up)
			continue;
		phi = dyn_phi_value(&m->phi, now);
		if (dyn_phi_down(phi, m->failures))
		{
			snprintf(why, sizeof(why), "phi %.1f, %d failed requests", phi, m->failures);
			member_mark(m, false, why);
		}
	}
}


/* ----------------------------------------------------------------- start */

/* "a:1,b:2" into ms->seeds, skipping this node's own address. */
static void
parse_seeds(dyn_membership *ms, const char *seeds)
{
	const char *p = seeds;

	while (p != NULL && *p != '\0' && ms->nseeds < DYN_SEEDS_MAX)
	{
		const char *comma = strchr(p, ',');
		size_t		len = comma ? (size_t) (comma - p) : strlen(p);

		if (len > 0 && len <= DYN_RING_ADDRESS_MAX &&
			!(strlen(ms->cfg.address) == len && strncmp(p, ms->cfg.address, len) == 0))
		{
			memcpy(ms->seeds[ms->nseeds], p, len);
			ms->seeds[ms->nseeds][len] = '\0';
			ms->nseeds++;
		}
		p = comma ? comma + 1 : NULL;
	}
}

/*
 * Load the stored ring (or found one: a node without seeds and without a
 * ring is a new cluster of one), then start the timers.  The first gossip
 * round runs at once, so a restarted node is seen up within moments.
 */
int
dyn_membership_start(dyn_membership *ms, const dyn_membership_config *cfg,
					 char *err, size_t errlen)
{
	dyn_member *self;
	dyn_buf		stored;
	int			rc;

	memset(ms, 0, sizeof(*ms));
	ms->cfg = *cfg;
	dyn_buf_init(&ms->ring_bytes);
	dyn_buf_init(&ms->scratch);
	ms->rng = dyn_clock_wall_ms() ^ ((uint64_t) (uintptr_t) ms << 16) ^ 0x9e3779b97f4a7c15ULL;
	if (ms->rng == 0)
		ms->rng = 1;
	parse_seeds(ms, cfg->seeds);
	if ((rc = dyn_ring_init(&ms->ring, cfg->q, cfg->n)) != DYN_OK)
	{
		snprintf(err, errlen, "cannot make a ring of %u partitions and n=%u", cfg->q, cfg->n);
		return rc;
	}
	self = member_add(ms, dyn_slice_str(cfg->id), dyn_slice_str(cfg->address),
					  dyn_slice_str(cfg->zone));
	if (self == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return DYN_ERR_NOMEM;
	}
	self->self = true;
	/* wall clock: a generation must beat the one before a restart or reboot */
	self->generation = dyn_clock_wall_ms();

	dyn_buf_init(&stored);
	rc = dyn_engine_get(cfg->engine, DYN_NS_META, dyn_slice_str(META_RING), &stored);
	if (rc == DYN_OK)
	{
		dyn_ring	r;

		if ((rc = dyn_ring_init(&r, cfg->q, cfg->n)) == DYN_OK)
			rc = dyn_ring_decode(dyn_buf_slice(&stored), &r);
		if (rc == DYN_OK && r.q != cfg->q)
			rc = DYN_ERR_INVAL;
		if (rc != DYN_OK)
		{
			dyn_ring_free(&r);
			dyn_buf_free(&stored);
			snprintf(err, errlen, "the stored ring is unreadable or of another cluster (%s)",
					 dyn_strerror(rc));
			return rc;
		}
		dyn_ring_free(&ms->ring);
		ms->ring = r;
		if (ms->ring.n != cfg->n)
			dyn_log(cfg->log, DYN_LOG_WARNING, "the cluster's n is %u; --n %u is ignored",
					ms->ring.n, cfg->n);
	}
	else if (rc != DYN_ERR_NOTFOUND)
	{
		dyn_buf_free(&stored);
		snprintf(err, errlen, "could not read the stored ring: %s",
				 dyn_engine_errmsg(cfg->engine));
		return rc;
	}
	dyn_buf_free(&stored);

	if (ms->ring.nmembers == 0 && ms->nseeds == 0)
	{
		/* a new cluster of one */
		rc = dyn_ring_add_member(&ms->ring, dyn_slice_str(cfg->id),
								 dyn_slice_str(cfg->address), dyn_slice_str(cfg->zone));
		if (rc == DYN_OK && (rc = ring_sync_members(ms)) == DYN_OK)
			rc = ring_store(ms);
	}
	else if ((rc = ring_sync_members(ms)) == DYN_OK)
		rc = ring_ensure_self(ms);
	if (rc != DYN_OK)
	{
		snprintf(err, errlen, "could not set up the ring: %s", dyn_strerror(rc));
		return rc;
	}
	if (ms->ring.nmembers == 0)
		dyn_log(cfg->log, DYN_LOG_INFO, "joining through %d seed%s", ms->nseeds,
				ms->nseeds == 1 ? "" : "s");

	uv_timer_init(cfg->loop, &ms->gossip_timer);
	uv_timer_init(cfg->loop, &ms->detect_timer);
	uv_timer_init(cfg->loop, &ms->heartbeat_timer);
	ms->gossip_timer.data = ms;
	ms->detect_timer.data = ms;
	ms->heartbeat_timer.data = ms;
	ms->timers = true;
	uv_timer_start(&ms->gossip_timer, gossip_on_timer, 0, DYN_GOSSIP_INTERVAL_MS);
	uv_timer_start(&ms->heartbeat_timer, heartbeat_on_timer, DYN_HEARTBEAT_INTERVAL_MS,
				   DYN_HEARTBEAT_INTERVAL_MS);
	uv_timer_start(&ms->detect_timer, detect_on_timer, DYN_DETECT_INTERVAL_MS,
				   DYN_DETECT_INTERVAL_MS);
	/* tell every known member at once that we are (back) up */
	for (size_t i = 1; i < ms->nmembers; i++)
		gossip_to(ms, ms->members[i]);
	return DYN_OK;
}

/* Stop gossiping and close every connection; callbacks see CLOSED. */
void
dyn_membership_stop(dyn_membership *ms)
{
	if (ms->stopping)
		return;
	ms->stopping = true;
	if (ms->timers)
	{
		uv_close((uv_handle_t *) &ms->gossip_timer, NULL);
		uv_close((uv_handle_t *) &ms->detect_timer, NULL);
		uv_close((uv_handle_t *) &ms->heartbeat_timer, NULL);
	}
	for (size_t i = 0; i < ms->nmembers; i++)
	{
		dyn_peer_close(ms->members[i]->peer);
		ms->members[i]->peer = NULL;
	}
	for (int i = 0; i < ms->nseeds; i++)
	{
		dyn_peer_close(ms->seed_peers[i]);
		ms->seed_peers[i] = NULL;
	}
}

void
dyn_membership_free(dyn_membership *ms)
{
	for (size_t i = 0; i < ms->nmembers; i++)
		free(ms->members[i]);
	for (size_t i = 0; i < ms->nretired; i++)
		free(ms->retired[i]);
	free(ms->members);
	free(ms->retired);
	ms->retired = NULL;
	ms->nretired = 0;
	free(ms->by_ring);
	ms->members = NULL;
	ms->by_ring = NULL;
	ms->nmembers = 0;
	dyn_ring_free(&ms->ring);
	dyn_buf_free(&ms->ring_bytes);
	dyn_buf_free(&ms->scratch);
}


/* --------------------------------------------------------------- lookups */

bool
dyn_membership_ready(const dyn_membership *ms)
{
	return ms->ring.nmembers > 0;
}

int
dyn_membership_n(const dyn_membership *ms)
{
	return (int) ms->ring.n;
}

/* N, or fewer while the ring has fewer members (1 while joining). */
int
dyn_membership_replicas(const dyn_membership *ms)
{
	uint32_t	n = dyn_ring_replicas(&ms->ring);

	return n == 0 ? 1 : (int) n;
}

int
dyn_membership_preflist(dyn_membership *ms, dyn_slice bucket, dyn_slice key,
						dyn_member **out, size_t max, int *owners)
{
	return dyn_membership_preflist_at(ms, dyn_key_position(bucket, key), out, max, owners);
}

int
dyn_membership_preflist_at(dyn_membership *ms, uint64_t position,
						   dyn_member **out, size_t max, int *owners)
{
	uint32_t	ix[DYN_RING_MEMBERS_MAX];
	int			count;

	*owners = 0;
	if (ms->ring.nmembers == 0 || ms->by_ring == NULL)
		return 0;
	if (max > DYN_RING_MEMBERS_MAX)
		max = DYN_RING_MEMBERS_MAX;
	count = dyn_ring_preflist(&ms->ring, dyn_partition_of(position, ms->ring.q), ix, max);
	if (count < 0)
		return 0;
	for (int i = 0; i < count; i++)
		out[i] = ms->by_ring[ix[i]];
	*owners = (int) dyn_ring_replicas(&ms->ring);
	if (*owners > count)
		*owners = count;
	return count;
}

uint32_t
dyn_membership_owned(const dyn_membership *ms)
{
	int			ix = dyn_ring_member_index(&ms->ring, dyn_slice_str(ms->members[0]->id));

	return ix < 0 ? 0 : ms->ring.members[ix].owned;
}

/* The members part of STATUS, and the ring version. */
void
dyn_membership_status_json(const dyn_membership *ms, dyn_buf *out)
{
	uint64_t	now = dyn_clock_mono_ms();

	dyn_buf_printf(out, "\"ring_version\":%llu,\"ring_members\":%u,\"ring_pending\":%u,"
				   "\"left\":%s,\"members\":[",
				   (unsigned long long) ms->ring.version, ms->ring.nmembers,
				   ms->ring.npending, ms->left ? "true" : "false");
	for (size_t i = 0; i < ms->nmembers; i++)
	{
		const dyn_member *m = ms->members[i];
		int			rix = dyn_ring_member_index(&ms->ring, dyn_slice_str(m->id));

		dyn_buf_printf(out, "%s{\"id\":", i ? "," : "");
		dyn_buf_put_json_string(out, dyn_slice_str(m->id));
		dyn_buf_printf(out, ",\"address\":");
		dyn_buf_put_json_string(out, dyn_slice_str(m->address));
		dyn_buf_printf(out, ",\"zone\":");
		dyn_buf_put_json_string(out, dyn_slice_str(m->zone));
		dyn_buf_printf(out, ",\"status\":\"%s\",\"self\":%s,\"phi\":%.2f,"
					   "\"generation\":%llu,\"heartbeat\":%llu,\"ring_version\":%llu,"
					   "\"partitions\":%u,\"since_ms\":%llu,\"heard_ms\":%lld,"
					   "\"failures\":%d,\"reconnects\":%llu}",
					   dyn_member_up(m) ? "up" : "down", m->self ? "true" : "false",
					   m->self ? 0.0 : dyn_phi_value(&m->phi, now),
					   (unsigned long long) (m->self ? ms->members[0]->generation : m->generation),
					   (unsigned long long) m->heartbeat,
					   (unsigned long long) m->ring_version,
					   rix < 0 ? 0 : ms->ring.members[rix].owned,
					   (unsigned long long) (now - m->changed_ms),
					   m->self || m->heard_ms == 0 ? -1LL : (long long) (now - m->heard_ms),
					   m->failures,
					   (unsigned long long) (m->peer != NULL ? dyn_peer_reconnects(m->peer) : 0));
	}
	dyn_buf_printf(out, "]");
}
