/*
 * membership.h
 *		Who is in the cluster, who is alive, and the ring: gossip, the
 *		phi-accrual failure detector and ring adoption for one dynamod.
 *
 * Every node gossips its view (per member: id, address, zone, status,
 * generation, heartbeat, ring version) and its ring to one random live peer
 * every second, push-pull: the reply carries the receiver's view, so one
 * exchange updates both.  Views merge per member by (generation, heartbeat):
 * the generation is the member's start time, so a restarted node's fresh
 * counter beats its old one.  Rings merge by (version, encoding bytes): the
 * higher version wins and equal versions are ordered by their bytes, which
 * every node compares the same way.
 *
 * Liveness is local, as in the paper (A thinks B failed when B does not
 * answer A): every DYN_HEARTBEAT_INTERVAL_MS each node sends every member a
 * heartbeat (a GOSSIP carrying only its own entry), and a member is up
 * while the phi of its *answers* to this node's requests stays under
 * DYN_PHI_THRESHOLD, down past it -- or sooner, when this node's requests
 * to it time out or its connections are refused while its answers are
 * late.  Its next answer brings it back up at once.  Gossip relayed by
 * other nodes spreads membership, generations and ring versions, never
 * liveness: under a partial partition a node's verdicts are about its own
 * links.  A one-way cut is judged the same way: a member whose answers do
 * not come back is down, whatever it sends us.  No leader, no central
 * monitor.
 *
 * Joining: a node started with --seeds and no ring of its own gossips to the
 * seeds; the first ring it receives it adopts, adds itself with
 * dyn_ring_add_member (which bumps the version) and gossips that.  Whenever
 * it adopts a ring that lacks it (two nodes joined concurrently from the
 * same version and the other's ring won the tie), it adds itself again.
 * Joining only plans: dyn_ring_plan_join names the node as the next owner
 * of its share, and each partition switches once handoff.c has moved its
 * data.  A node removed from the ring (it was leaving) does not add itself
 * back.
 *
 * The ring is kept in the metadata namespace, so a restarted node knows its
 * peers without seeds.
 */
#ifndef DYNAMOD_MEMBERSHIP_H
#define DYNAMOD_MEMBERSHIP_H

#include <uv.h>

#include "dynamo/phi.h"
#include "dynamo/ring.h"
#include "engine.h"
#include "log.h"
#include "peer.h"

#define DYN_GOSSIP_INTERVAL_MS	1000
/* Deadline of a gossip exchange or heartbeat; past it the peer is suspected. */
#define DYN_GOSSIP_TIMEOUT_MS	1000
/* How often every member gets a direct heartbeat (and answers it). */
#define DYN_HEARTBEAT_INTERVAL_MS	500
/* How often every member's phi is recomputed. */
#define DYN_DETECT_INTERVAL_MS	100
#define DYN_SEEDS_MAX			16

typedef struct dyn_membership dyn_membership;

/* One node as this node sees it: gossiped state plus local judgment. */
typedef struct dyn_member
{
	char		id[DYN_NODE_ID_MAX + 1];
	char		address[DYN_RING_ADDRESS_MAX + 1];
	char		zone[DYN_RING_ZONE_MAX + 1];
	bool		self;
	/* gossiped: what the member says about itself */
	uint8_t		status;			/* DYN_MEMBER_UP or DYN_MEMBER_LEAVING */
	uint64_t	generation;
	uint64_t	heartbeat;
	uint64_t	ring_version;
	/* local judgment */
	bool		up;
	dyn_phi		phi;
	int			failures;		/* failed requests since it last answered us */
	uint64_t	changed_ms;		/* when up last flipped (monotonic) */
	uint64_t	heard_ms;		/* when it last answered us (monotonic; 0: never) */
	dyn_peer   *peer;			/* the connection to it (NULL for self) */
	bool		in_ring;		/* in the ring we hold (or held, until removed) */
	bool		removed;		/* left the ring: retired, no connection */
	dyn_membership *ms;
} dyn_member;

/* What the node gives its membership. */
typedef struct dyn_membership_config
{
	uv_loop_t  *loop;
	const dyn_logger *log;
	dyn_engine *engine;			/* where the ring is kept */
	const char *id;
	const char *address;
	const char *zone;
	const char *seeds;			/* comma-separated addresses, "" for none */
	uint32_t	q;
	uint32_t	n;
	dyn_client *(*new_client) (void *arg);	/* node-to-node clients */
	void	   *new_client_arg;
	/* a member was seen coming back up (hinted handoff starts) */
	void		(*on_up) (void *arg, dyn_member *m);
	void	   *on_up_arg;
} dyn_membership_config;

/* The membership of one node. */
struct dyn_membership
{
	dyn_membership_config cfg;
	dyn_member **members;		/* members[0] is this node; pointers stay put */
	size_t		nmembers;
	size_t		cap;
	/*
	 * Members removed from the ring: out of members[] (nobody gossips to
	 * them or lists them), but not freed before the node stops, because a
	 * request or an exchange under way may still hold one.
	 */
	dyn_member **retired;
	size_t		nretired;
	dyn_member **by_ring;		/* ring member index -> member */
	dyn_ring	ring;
	dyn_buf		ring_bytes;		/* the ring, encoded (gossip, compare, store) */
	char		seeds[DYN_SEEDS_MAX][DYN_RING_ADDRESS_MAX + 1];
	dyn_peer   *seed_peers[DYN_SEEDS_MAX];
	int			nseeds;
	uv_timer_t	gossip_timer;
	uv_timer_t	detect_timer;
	uv_timer_t	heartbeat_timer;
	bool		timers;
	bool		stopping;
	uint64_t	rng;			/* xorshift state for peer choice */
	dyn_buf		scratch;
	uint64_t	gossip_sent;
	uint64_t	gossip_received;
	uint64_t	ring_changes;
	bool		left;			/* removed from the ring: never rejoin by itself */
};

/* Load or found the ring, start gossip and detection.  err on failure. */
int			dyn_membership_start(dyn_membership *ms, const dyn_membership_config *cfg,
								 char *err, size_t errlen);
/* Stop the timers and close every peer connection (node shutdown). */
void		dyn_membership_stop(dyn_membership *ms);
/* Free what is left once the loop has ended. */
void		dyn_membership_free(dyn_membership *ms);

/*
 * A GOSSIP request arrived (body of the frame): merge it and append the
 * GOSSIP_REPLY (our view after the merge) to out.  DYN_ERR_PROTO for a
 * malformed view or ring: the caller closes the connection.
 */
int			dyn_membership_on_gossip(dyn_membership *ms, dyn_slice body, uint32_t reqid,
									 dyn_buf *out);
/* Append a RING_REPLY: the ring and every member with our up/down verdict. */
void		dyn_membership_ring_reply(dyn_membership *ms, uint32_t reqid, dyn_buf *out);

/*
 * Adopt ring (consumed: freed or swapped in), a change this node made to a
 * copy of its ring with a higher version, store it and gossip it to every
 * live member now.
 */
int			dyn_membership_set_ring(dyn_membership *ms, dyn_ring *ring);

/* The member with this id, or NULL. */
dyn_member *dyn_membership_find(const dyn_membership *ms, dyn_slice id);
/* Whether the ring holds members yet (a joining node's does not). */
bool		dyn_membership_ready(const dyn_membership *ms);
/* The cluster's replication factor (the ring's N, capped by its members). */
int			dyn_membership_replicas(const dyn_membership *ms);
/* The ring's N. */
int			dyn_membership_n(const dyn_membership *ms);

/*
 * The extended preference list of bucket/key as members, into out[0..max):
 * the first *owners are the key's preference list (its N replicas), the
 * rest the stand-ins in order.  Returns the count (0 while not ready).
 */
int			dyn_membership_preflist(dyn_membership *ms, dyn_slice bucket, dyn_slice key,
									dyn_member **out, size_t max, int *owners);
/*
 * The same for a key whose ring position (dyn_key_position) the caller has
 * already computed: a coordinator needs it for its own store key too, and
 * the hash is a tenth of a local GET.
 */
int			dyn_membership_preflist_at(dyn_membership *ms, uint64_t position,
									   dyn_member **out, size_t max, int *owners);

/* The connection to m (made at first use); NULL for this node itself. */
dyn_peer   *dyn_membership_peer(dyn_member *m);

/* Partitions of the ring this node owns. */
uint32_t	dyn_membership_owned(const dyn_membership *ms);

/* Append "members":[...],"ring_version":V (no braces) for STATUS. */
void		dyn_membership_status_json(const dyn_membership *ms, dyn_buf *out);

/* The failure detector's verdict; this node is always up. */
static inline bool
dyn_member_up(const dyn_member *m)
{
	return m->self || m->up;
}

#endif							/* DYNAMOD_MEMBERSHIP_H */
