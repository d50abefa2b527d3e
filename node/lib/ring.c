/*
 * ring.c
 *		The consistent-hashing ring: key placement, partition ownership and
 *		preference lists (see ring.h).
 *
 * Dynamo's strategy 3 cuts the ring into Q equal partitions and gives each
 * node whole partitions, so that ownership is a small table (who owns each
 * partition) that gossip can carry, and a join or a leave hands over whole
 * partitions instead of splitting key ranges.  What remains is the claim:
 * which member owns which partition.  It must keep three properties, in
 * this order of importance:
 *
 *	1. even: every member owns floor(Q/S) or ceil(Q/S) partitions;
 *	2. spread: any W = min(N, S) consecutive partitions (cyclically) have W
 *	   distinct owners, so the preference list of every partition is found
 *	   within W partitions and the replicas of a member's partitions land
 *	   on many different members, and as a preference, W consecutive
 *	   partitions also span as many zones as the zone sizes allow;
 *	3. stable: a join moves floor(Q/(S+1)) partitions, all to the new
 *	   member, a leave moves exactly the leaver's partitions.
 *
 * The fresh claim is a greedy walk round the ring (spread()): at each
 * partition take the member that has gone longest without one (which, with
 * the members interleaved by zone - a1 b1 c1 a2 b2 c2 ... - makes the plain
 * round robin when S divides Q) among those whose quota is not used up and
 * that did not own one of the last W-1 partitions; but when a member's
 * remaining quota no longer fits in the partitions left without breaking
 * its spacing, it goes first.  That look-ahead is what fixes the
 * wrap-around (partition Q-1 is followed by 0) when S does not divide Q:
 * the round robin with 3 members over 8 partitions ends "a b | a", while the
 * greedy finds "a b c a d e f g"-like orders.  It cannot do the impossible:
 * with S = N every window holds every member, which forces a period of S,
 * so S = N = 3 with Q a power of two always has repeating windows (two).
 *
 * A join takes its share from the members above the new quota, one
 * partition per Q/share stretch of the ring so that its partitions are
 * evenly spaced, and only where it does not already own one within W-1 and
 * the zone spread is not made worse; in a ring with distinct windows the
 * newcomer then also leaves every window distinct.  A leave gives each of
 * the leaver's partitions to the least loaded member that does not own one
 * within W-1 on either side, hardest partitions first.  When those moves
 * alone cannot keep the windows distinct (typically a leave down to N+1
 * members: with N = 3 and four members left, the four neighbours within
 * two of a partition are often all four members), a repair swaps the
 * owners of two partitions where that removes repeats, at the cost of
 * extra moves, and if repeats remain the ring is claimed again, keeping the
 * old owner wherever the greedy allows.  Of these, the one with the fewest
 * repeating windows wins, then the one moving least: property 2 before
 * property 3, so such a leave can move several times the leaver's share.
 * While there are at most N members every member holds every key, so
 * moving ownership between them moves no data: joins and leaves there
 * simply re-claim.
 *
 * A preference list walks clockwise from the key's partition; with distinct
 * windows its N replicas are the owners of N consecutive partitions.
 *
 * Pending transfers.  A partition's new owner holds none of its data until
 * it has been sent over, so a planned join or leave does not change
 * owner[]: it records in next[] who will own each partition, and the owner
 * switches when that partition's transfer is reported done, one ring
 * change per completed transfer, so requests never go to a member that
 * lacks the data and the cluster never waits for a whole rebalance to
 * finish.  The plan itself is the claim above, run on the target ring (the
 * ring with every pending transfer completed and the leavers gone), so a
 * plan made while others are under way aims at where those lead, and the
 * stable-claim properties hold for the target: a join planned on an even
 * ring gives next[] only to the joiner.  Indices differ between the target
 * and the ring (leavers are still here, pruned there), so target owners are
 * mapped back by id.  A leaver stays a member, owning less and less, until
 * it owns nothing and nothing is headed for it; dyn_ring_prune then drops
 * it.
 */
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <sodium.h>

#include "dynamo/ring.h"

#define RING_FORMAT		2		/* first byte of the binary encoding */
#define NO_OWNER		DYN_RING_NO_OWNER	/* nobody (yet), no next */
#define KNOWN_FLAGS		DYN_RING_LEAVING	/* member flags a decoder accepts */
#define UNSET			UINT32_MAX	/* a position not chosen yet */
#define REPAIR_SOURCES	8		/* repeated owners tried per repair round */
#define REPAIR_ROUNDS	64		/* swaps a repair may make */
#define WORDS			(DYN_RING_MEMBERS_MAX / 64)

/* What a claim is for (see plan_claim). */
typedef enum claim_kind
{
	CLAIM_FRESH,				/* everything afresh */
	CLAIM_JOIN,					/* the last member is new */
	CLAIM_LEAVE					/* some partitions lost their owner */
} claim_kind;

/*
 * The working state of one claim.  A claim plans in the numbering the
 * members will have afterwards (a joiner last, a leaver gone) and touches
 * the ring only once the plan is complete, so that a failed allocation
 * leaves the ring as it was.
 */
typedef struct plan
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
} plan;

/*
 * One run of the spreading greedy: fill a cycle of len positions with
 * items, each item quota[i] times, occurrences of an item at least its gap
 * apart going round (gap = window, or less when the quota cannot fit
 * that), keeping prefer[p] at p whenever that costs nothing.  Used for the
 * zone order of members (items are zones) and for partitions (items are
 * members).
 */
typedef struct spread_job
{
	uint32_t	len;
	uint32_t	nitems;
	uint32_t	window;
	const uint32_t *quota;		/* nitems, summing to len */
	const uint32_t *rank;		/* nitems, lower first on ties; NULL: index */
	const uint16_t *zone;		/* nitems or NULL: keep zones apart as well */
	const uint16_t *prefer;		/* len or NULL: the item each position had */
	uint16_t   *out;			/* len */
	uint32_t   *left;			/* nitems of scratch each */
	uint32_t   *first;
	uint32_t   *last;
} spread_job;

/* The progress of a join (see steal). */
typedef struct join_state
{
	uint32_t	x;				/* the joiner */
	uint32_t	share;			/* partitions it takes: floor(Q/S) */
	uint32_t	taken;
	uint32_t	mandatory;		/* of those, still due from members above share+1 */
} join_state;

/*
 * What a preference-list walk has collected: bitmaps over member indices
 * (zones are named by a member index too), so a lookup needs no heap.
 */
typedef struct pref_walk
{
	uint64_t	taken[WORDS];
	uint64_t	zones[WORDS];
	uint32_t	ntaken;			/* owning members taken */
	uint32_t	nzones;			/* zones seen */
} pref_walk;

static int	member_make(dyn_ring_member *m, dyn_slice id, dyn_slice address,
						dyn_slice zone);
static bool text_valid(dyn_slice s, size_t max);
static bool same_zone(const dyn_ring_member *a, const dyn_ring_member *b);
static int	reserve_members(dyn_ring *ring, uint32_t want);
static void reindex(dyn_ring *ring);
static void settle_next(dyn_ring *ring, uint32_t skip);
static void complete_all(dyn_ring *ring);
static uint32_t prune(dyn_ring *ring);
static void plan_next(dyn_ring *ring, const dyn_ring *target, uint16_t *map);
static int	plan_target(const dyn_ring *ring, dyn_ring *target);

static int	plan_init(plan *pl, const dyn_ring *ring, uint32_t s, uint32_t skip);
static void plan_free(plan *pl);
static void plan_claim(plan *pl, claim_kind kind, uint32_t old_s);
static void commit(dyn_ring *ring, const plan *pl, uint32_t skip);
static void recount(plan *pl);
static bool was_even(const plan *pl, uint32_t old_s);
static uint32_t moves(const plan *pl);
static void consider(plan *pl, uint32_t *best_bad, uint32_t *best_moves);

static inline uint32_t cyc(const plan *pl, int64_t p);
static bool window_bad(const plan *pl, uint32_t start);
static uint32_t window_zones(const plan *pl, uint32_t start);
static uint32_t bad_near(const plan *pl, uint32_t a, uint32_t b);
static uint32_t count_bad(const plan *pl);
static int64_t zone_score(const plan *pl, uint32_t p);
static uint32_t near(const plan *pl, uint32_t p, uint32_t m);
static bool key_better(const int64_t *a, const int64_t *b, size_t n);

static void spread(const spread_job *job);
static uint32_t spread_pick(const spread_job *job, uint32_t i);
static uint32_t item_gap(const spread_job *job, uint32_t m);
static uint32_t item_room(const spread_job *job, uint32_t m, uint32_t i);
static int64_t item_slack(const spread_job *job, uint32_t m, uint32_t i,
						  uint32_t gap);
static uint32_t item_zone_clashes(const spread_job *job, uint32_t m, uint32_t i);
static void member_order(plan *pl);
static void claim_spread(plan *pl, bool sticky);

static void steal(plan *pl, uint32_t x);
static bool steal_score(plan *pl, const join_state *js, uint32_t p,
						bool keep_window, bool keep_zones, int64_t *key);
static void steal_take(plan *pl, join_state *js, uint32_t p);
static void give(plan *pl, uint32_t p, uint32_t m);
static void fill(plan *pl);
static void repair(plan *pl);

static inline bool bit_get(const uint64_t *bits, uint32_t i);
static inline void bit_set(uint64_t *bits, uint32_t i);
static void walk(const dyn_ring *ring, uint32_t partition, bool new_zones_only,
				 pref_walk *pw, uint32_t *out, size_t *len, size_t limit);
static size_t walk_replicas(const dyn_ring *ring, uint32_t partition,
							pref_walk *pw, uint32_t *out, size_t limit);
static void take(const dyn_ring *ring, uint32_t m, pref_walk *pw,
				 uint32_t *out, size_t *len);
static void put_str8(dyn_buf *b, const void *p, size_t len);


/* ------------------------------------------------------------ key placement */

/*
 * Hash "bucket \0 key" with BLAKE2b-64 and read the digest as a big-endian
 * position.  The NUL keeps ("ab","c") and ("a","bc") apart.
 */
uint64_t
dyn_key_position(dyn_slice bucket, dyn_slice key)
{
	crypto_generichash_state st;
	uint8_t		digest[8];
	static const uint8_t nul = 0;
	uint64_t	pos = 0;

	crypto_generichash_init(&st, NULL, 0, sizeof(digest));
	crypto_generichash_update(&st, bucket.ptr, bucket.len);
	crypto_generichash_update(&st, &nul, 1);
	crypto_generichash_update(&st, key.ptr, key.len);
	crypto_generichash_final(&st, digest, sizeof(digest));
	for (size_t i = 0; i < sizeof(digest); i++)
		pos = (pos << 8) | digest[i];
	return pos;
}

/* The top log2(q) bits of the position; q must be a valid count. */
uint32_t
dyn_partition_of(uint64_t position, uint32_t q)
{
	int			bits = __builtin_ctz(q);

	return bits == 0 ? 0 : (uint32_t) (position >> (64 - bits));
}

/* A power of two from 1 to DYN_PARTITIONS_MAX. */
bool
dyn_partitions_valid(uint32_t q)
{
	return q >= 1 && q <= DYN_PARTITIONS_MAX && (q & (q - 1)) == 0;
}


/* ---------------------------------------------------------------- members */

/*
 * Fill *m from the arguments of add_member, checking them: an id of 1 to
 * DYN_NODE_ID_MAX bytes, an address of 1 to DYN_RING_ADDRESS_MAX bytes and
 * a zone of up to DYN_RING_ZONE_MAX; address and zone are kept as C
 * strings, so they may not hold a NUL.
 */
static int
member_make(dyn_ring_member *m, dyn_slice id, dyn_slice address, dyn_slice zone)
{
	if (id.len == 0 || id.len > DYN_NODE_ID_MAX ||
		address.len == 0 || !text_valid(address, DYN_RING_ADDRESS_MAX) ||
		!text_valid(zone, DYN_RING_ZONE_MAX))
		return DYN_ERR_INVAL;
	memset(m, 0, sizeof(*m));
	m->idlen = (uint8_t) id.len;
	memcpy(m->id, id.ptr, id.len);
	memcpy(m->address, address.ptr, address.len);
	if (zone.len > 0)
		memcpy(m->zone, zone.ptr, zone.len);
	return DYN_OK;
}

/* At most max bytes and no NUL among them. */
static bool
text_valid(dyn_slice s, size_t max)
{
	return s.len <= max && (s.len == 0 || memchr(s.ptr, '\0', s.len) == NULL);
}

/* Whether two members share a zone; a member without one shares nothing. */
static bool
same_zone(const dyn_ring_member *a, const dyn_ring_member *b)
{
	return a->zone[0] != '\0' && strcmp(a->zone, b->zone) == 0;
}

/* Room for want members (grown by doubling). */
static int
reserve_members(dyn_ring *ring, uint32_t want)
{
	dyn_ring_member *grown;
	uint32_t	cap = ring->cap > 0 ? ring->cap : 8;

	if (want <= ring->cap)
		return DYN_OK;
	while (cap < want)
		cap *= 2;
	grown = realloc(ring->members, (size_t) cap * sizeof(dyn_ring_member));
	if (grown == NULL)
		return DYN_ERR_NOMEM;
	ring->members = grown;
	ring->cap = cap;
	return DYN_OK;
}

/*
 * Recompute what is derived from the members, owners and next: each
 * member's zone identity and partition count, how many members and zones
 * own anything (where preference-list walks may stop), and how many
 * transfers are pending.  Quadratic in the members, but run only when the
 * ring changes.
 */
static void
reindex(dyn_ring *ring)
{
	uint64_t	zones[WORDS] = {0};
	uint32_t	i;
	uint32_t	j;

	ring->nowning = 0;
	ring->nzones = 0;
	ring->npending = 0;
	for (i = 0; i < ring->q; i++)
		ring->npending += ring->next[i] != NO_OWNER;
	for (i = 0; i < ring->nmembers; i++)
	{
		dyn_ring_member *m = &ring->members[i];

		m->zone_ix = (uint16_t) i;
		for (j = 0; j < i; j++)
		{
			if (same_zone(&ring->members[j], m))
			{
				m->zone_ix = (uint16_t) j;
				break;
			}
		}
		m->owned = 0;
	}
	if (ring->nmembers == 0)
		return;
	for (i = 0; i < ring->q; i++)
		ring->members[ring->owner[i]].owned++;
	for (i = 0; i < ring->nmembers; i++)
	{
		const dyn_ring_member *m = &ring->members[i];

		if (m->owned == 0)
			continue;
		ring->nowning++;
		if (!bit_get(zones, m->zone_ix))
		{
			bit_set(zones, m->zone_ix);
			ring->nzones++;
		}
	}
}


/*
 * Keep next[] valid after owner[] changed under it: with skip (a member
 * just removed; UNSET for none) transfers to it are dropped and later
 * indices move down, and a next that is now the owner is no transfer.
 * Without members nothing can be pending.
 */
static void
settle_next(dyn_ring *ring, uint32_t skip)
{
	uint32_t	i;

	for (i = 0; i < ring->q; i++)
	{
		uint16_t	x = ring->next[i];

		if (x == NO_OWNER)
			continue;
		if (skip != UNSET && x == skip)
			x = NO_OWNER;
		else if (skip != UNSET && x > skip)
			x--;
		if (ring->nmembers == 0 || x == ring->owner[i])
			x = NO_OWNER;
		ring->next[i] = x;
	}
}

/* Every pending transfer done: next becomes the owner (no version bump). */
static void
complete_all(dyn_ring *ring)
{
	uint32_t	i;

	for (i = 0; i < ring->q; i++)
	{
		if (ring->next[i] != NO_OWNER)
		{
			ring->owner[i] = ring->next[i];
			ring->next[i] = NO_OWNER;
		}
	}
	reindex(ring);
}

/*
 * Drop the leavers owning nothing that no transfer is headed for, closing
 * the gaps in members[] and renumbering owner[] and next[]; no version
 * bump.  Someone owns every partition, so a ring with members keeps one.
 */
static uint32_t
prune(dyn_ring *ring)
{
	uint64_t	wanted[WORDS] = {0};
	uint16_t	moved_to[DYN_RING_MEMBERS_MAX];
	uint32_t	kept = 0;
	uint32_t	i;

	for (i = 0; i < ring->q && ring->nmembers > 0; i++)
	{
		if (ring->next[i] != NO_OWNER)
			bit_set(wanted, ring->next[i]);
	}
	for (i = 0; i < ring->nmembers; i++)
	{
		const dyn_ring_member *m = &ring->members[i];

		if ((m->flags & DYN_RING_LEAVING) && m->owned == 0 && !bit_get(wanted, i))
		{
			moved_to[i] = NO_OWNER;
			continue;
		}
		moved_to[i] = (uint16_t) kept;
		if (kept != i)
			ring->members[kept] = *m;
		kept++;
	}
	if (kept == ring->nmembers)
		return 0;
	for (i = 0; i < ring->q; i++)
	{
		ring->owner[i] = moved_to[ring->owner[i]];
		if (ring->next[i] != NO_OWNER)
			ring->next[i] = moved_to[ring->next[i]];
	}
	i = ring->nmembers - kept;
	ring->nmembers = kept;
	reindex(ring);
	return i;
}

/*
 * The target a plan starts from: dyn_ring_target, less any leaver that
 * still owns something there.  Planned leaves never leave one (its
 * partitions all got a next), but a ring changed at once since, or
 * decoded from a peer, may: a leaver must end up owning nothing.
 */
static int
plan_target(const dyn_ring *ring, dyn_ring *target)
{
	int			rc = dyn_ring_target(ring, target);
	uint32_t	i = 0;

	while (rc == DYN_OK && i < target->nmembers)
	{
		if (target->members[i].flags & DYN_RING_LEAVING)
			rc = dyn_ring_remove_member(target,
										dyn_ring_member_id(&target->members[i]));
		else
			i++;
	}
	return rc;
}

/*
 * Set ring's next[] from target's owners, mapped by id: map
 * (target->nmembers entries of scratch) receives each target member's
 * index in ring.  The target is the ring's future, so its members are the
 * ring's, less pruned leavers, plus for a join the joiner, which the
 * caller appends to the ring first.
 */
static void
plan_next(dyn_ring *ring, const dyn_ring *target, uint16_t *map)
{
	uint32_t	i;

	for (i = 0; i < target->nmembers; i++)
		map[i] = (uint16_t) dyn_ring_member_index(ring,
												  dyn_ring_member_id(&target->members[i]));
	for (i = 0; i < ring->q; i++)
	{
		uint16_t	to = map[target->owner[i]];

		ring->next[i] = to != ring->owner[i] ? to : NO_OWNER;
	}
}


/* ------------------------------------------------------------------ rings */

/* An empty ring; every failure leaves a ring that dyn_ring_free accepts. */
int
dyn_ring_init(dyn_ring *ring, uint32_t q, uint32_t n)
{
	memset(ring, 0, sizeof(*ring));
	if (!dyn_partitions_valid(q) || n < 1 || n > DYN_RING_N_MAX)
		return DYN_ERR_INVAL;
	ring->owner = calloc(q, sizeof(uint16_t));
	ring->next = malloc(q * sizeof(uint16_t));
	if (ring->owner == NULL || ring->next == NULL)
		return DYN_ERR_NOMEM;
	memset(ring->next, 0xff, q * sizeof(uint16_t));	/* NO_OWNER */
	ring->q = q;
	ring->n = n;
	return DYN_OK;
}

/* Release what the ring holds and leave it empty (freeing twice is harmless). */
void
dyn_ring_free(dyn_ring *ring)
{
	free(ring->members);
	free(ring->owner);
	free(ring->next);
	memset(ring, 0, sizeof(*ring));
}

/* Build the copy aside, then swap it in, so dst survives a failure. */
int
dyn_ring_copy(dyn_ring *dst, const dyn_ring *src)
{
	dyn_ring	tmp;
	int			rc;

	rc = dyn_ring_init(&tmp, src->q, src->n);
	if (rc == DYN_OK)
		rc = reserve_members(&tmp, src->nmembers);
	if (rc != DYN_OK)
	{
		dyn_ring_free(&tmp);
		return rc;
	}
	if (src->nmembers > 0)
		memcpy(tmp.members, src->members,
			   src->nmembers * sizeof(dyn_ring_member));
	memcpy(tmp.owner, src->owner, src->q * sizeof(uint16_t));
	memcpy(tmp.next, src->next, src->q * sizeof(uint16_t));
	tmp.version = src->version;
	tmp.nmembers = src->nmembers;
	tmp.nowning = src->nowning;
	tmp.nzones = src->nzones;
	tmp.npending = src->npending;
	dyn_ring_free(dst);
	*dst = tmp;
	return DYN_OK;
}

/* A linear scan: rings hold tens of members and this runs on membership events. */
int
dyn_ring_member_index(const dyn_ring *ring, dyn_slice id)
{
	uint32_t	i;

	for (i = 0; i < ring->nmembers; i++)
	{
		if (dyn_slice_eq(dyn_ring_member_id(&ring->members[i]), id))
			return (int) i;
	}
	return DYN_ERR_NOTFOUND;
}

/*
 * Claim afresh; an empty ring has nothing to claim.  Every member gets a
 * share, so nobody is leaving any more and nothing is pending.
 */
int
dyn_ring_claim_initial(dyn_ring *ring)
{
	plan		pl;
	uint32_t	i;

	if (ring->nmembers == 0)
		return DYN_OK;
	if (plan_init(&pl, ring, ring->nmembers, UNSET) != DYN_OK)
		return DYN_ERR_NOMEM;
	plan_claim(&pl, CLAIM_FRESH, ring->nmembers);
	memset(ring->next, 0xff, ring->q * sizeof(uint16_t));
	for (i = 0; i < ring->nmembers; i++)
		ring->members[i].flags = 0;
	commit(ring, &pl, UNSET);
	plan_free(&pl);
	return DYN_OK;
}

/*
 * Join: the new member is written just past the last one (not yet
 * counted), planned for as member nmembers, and counted only by commit.
 * A known id is a repeated join (a retried request, a node back with a new
 * port): its address is refreshed and nothing moves.
 */
int
dyn_ring_add_member(dyn_ring *ring, dyn_slice id, dyn_slice address,
					dyn_slice zone)
{
	dyn_ring_member m;
	plan		pl;
	int			ix;
	int			rc;

	rc = member_make(&m, id, address, zone);
	if (rc != DYN_OK)
		return rc;
	ix = dyn_ring_member_index(ring, id);
	if (ix >= 0)
	{
		dyn_ring_member *known = &ring->members[ix];

		if (strcmp(known->zone, m.zone) != 0)
			return DYN_ERR_INVAL;
		if (strcmp(known->address, m.address) != 0)
		{
			memcpy(known->address, m.address, sizeof(m.address));
			ring->version++;
		}
		return DYN_OK;
	}
	if (ring->nmembers >= DYN_RING_MEMBERS_MAX)
		return DYN_ERR_TOOBIG;
	if (reserve_members(ring, ring->nmembers + 1) != DYN_OK)
		return DYN_ERR_NOMEM;
	memcpy(&ring->members[ring->nmembers], &m, sizeof(m));
	if (plan_init(&pl, ring, ring->nmembers + 1, UNSET) != DYN_OK)
		return DYN_ERR_NOMEM;
	plan_claim(&pl, CLAIM_JOIN, ring->nmembers);
	commit(ring, &pl, UNSET);
	plan_free(&pl);
	return DYN_OK;
}

/* Leave: plan without the member, then close the gap in the array. */
int
dyn_ring_remove_member(dyn_ring *ring, dyn_slice id)
{
	plan		pl;
	int			ix = dyn_ring_member_index(ring, id);

	if (ix < 0)
		return ix;
	if (plan_init(&pl, ring, ring->nmembers - 1, (uint32_t) ix) != DYN_OK)
		return DYN_ERR_NOMEM;
	plan_claim(&pl, CLAIM_LEAVE, ring->nmembers);
	commit(ring, &pl, (uint32_t) ix);
	plan_free(&pl);
	return DYN_OK;
}

/*
 * Plan a join on the target: add the member there, then add it here owning
 * nothing and let next[] say where the target differs.  Everything that
 * can fail (the target, the map, room for the member) is done before the
 * ring is touched.
 */
int
dyn_ring_plan_join(dyn_ring *ring, dyn_slice id, dyn_slice address,
				   dyn_slice zone)
{
	dyn_ring_member m;
	dyn_ring	target;
	uint16_t   *map = NULL;
	int			ix;
	int			rc;

	rc = member_make(&m, id, address, zone);
	if (rc != DYN_OK)
		return rc;
	ix = dyn_ring_member_index(ring, id);
	if (ix >= 0 && (ring->members[ix].flags & DYN_RING_LEAVING))
		return DYN_ERR_INVAL;
	if (ring->nmembers == 0 || ix >= 0)
		return dyn_ring_add_member(ring, id, address, zone);
	if (ring->nmembers >= DYN_RING_MEMBERS_MAX)
		return DYN_ERR_TOOBIG;

	rc = dyn_ring_init(&target, ring->q, ring->n);
	if (rc == DYN_OK)
		rc = plan_target(ring, &target);
	if (rc == DYN_OK)
		rc = dyn_ring_add_member(&target, id, address, zone);
	if (rc == DYN_OK)
	{
		map = malloc(target.nmembers * sizeof(uint16_t));
		if (map == NULL || reserve_members(ring, ring->nmembers + 1) != DYN_OK)
			rc = DYN_ERR_NOMEM;
	}
	if (rc == DYN_OK)
	{
		ring->members[ring->nmembers++] = m;
		plan_next(ring, &target, map);
		ring->version++;
		reindex(ring);
	}
	free(map);
	dyn_ring_free(&target);
	return rc;
}

/*
 * Plan a leave on the target: remove the member there, and let next[] say
 * where the target differs, the member staying here marked as leaving.
 */
int
dyn_ring_plan_leave(dyn_ring *ring, dyn_slice id)
{
	dyn_ring	target;
	uint16_t   *map = NULL;
	uint32_t	staying = 0;
	uint32_t	i;
	int			ix = dyn_ring_member_index(ring, id);
	int			rc;

	if (ix < 0)
		return ix;
	if (ring->members[ix].flags & DYN_RING_LEAVING)
		return DYN_OK;
	for (i = 0; i < ring->nmembers; i++)
		staying += (int) i != ix && !(ring->members[i].flags & DYN_RING_LEAVING);
	if (staying == 0)
		return DYN_ERR_INVAL;

	rc = dyn_ring_init(&target, ring->q, ring->n);
	if (rc == DYN_OK)
		rc = plan_target(ring, &target);
	if (rc == DYN_OK)
		rc = dyn_ring_remove_member(&target, id);
	if (rc == DYN_OK)
	{
		map = malloc(target.nmembers * sizeof(uint16_t));
		if (map == NULL)
			rc = DYN_ERR_NOMEM;
	}
	if (rc == DYN_OK)
	{
		ring->members[ix].flags |= DYN_RING_LEAVING;
		plan_next(ring, &target, map);
		ring->version++;
		reindex(ring);
	}
	free(map);
	dyn_ring_free(&target);
	return rc;
}

/* Check every partition first, so that a bad one changes nothing. */
int
dyn_ring_complete(dyn_ring *ring, const uint32_t *partitions, size_t count)
{
	bool		changed = false;
	size_t		i;

	for (i = 0; i < count; i++)
	{
		if (partitions[i] >= ring->q)
			return DYN_ERR_INVAL;
	}
	for (i = 0; i < count; i++)
	{
		uint32_t	p = partitions[i];

		if (ring->next[p] == NO_OWNER)
			continue;
		ring->owner[p] = ring->next[p];
		ring->next[p] = NO_OWNER;
		changed = true;
	}
	if (changed)
	{
		ring->version++;
		reindex(ring);
	}
	return DYN_OK;
}

/* Prune, counting a version only when a member went. */
int
dyn_ring_prune(dyn_ring *ring)
{
	uint32_t	removed = prune(ring);

	if (removed > 0)
		ring->version++;
	return (int) removed;
}

/* Copy, then finish everything on the copy: nothing there can fail. */
int
dyn_ring_target(const dyn_ring *ring, dyn_ring *out)
{
	int			rc = dyn_ring_copy(out, ring);

	if (rc != DYN_OK)
		return rc;
	complete_all(out);
	prune(out);
	return DYN_OK;
}


/* ------------------------------------------------------------------ plans */

/*
 * A plan for s members numbered as they will be: the ring's members in
 * order without the one at skip (UNSET: none), plus, when s is one more
 * than the ring holds, the joiner the caller wrote past the end.  prev is
 * the current ownership in that numbering.
 */
static int
plan_init(plan *pl, const dyn_ring *ring, uint32_t s, uint32_t skip)
{
	size_t		ns = s > 0 ? s : 1;
	uint32_t	i;
	uint32_t	j;

	memset(pl, 0, sizeof(*pl));
	pl->q = ring->q;
	pl->s = s;
	pl->n = ring->n;
	pl->w = s < ring->n ? s : ring->n;
	pl->owner = malloc(pl->q * sizeof(uint16_t));
	pl->prev = malloc(pl->q * sizeof(uint16_t));
	pl->best = malloc(pl->q * sizeof(uint16_t));
	pl->zone = malloc(ns * sizeof(uint16_t));
	pl->zseq = malloc(ns * sizeof(uint16_t));
	pl->count = malloc(ns * sizeof(uint32_t));
	pl->rank = malloc(ns * sizeof(uint32_t));
	pl->quota = malloc(ns * sizeof(uint32_t));
	pl->aux = malloc(ns * sizeof(uint32_t));
	pl->left = malloc(ns * sizeof(uint32_t));
	pl->first = malloc(ns * sizeof(uint32_t));
	pl->last = malloc(ns * sizeof(uint32_t));
	if (!pl->owner || !pl->prev || !pl->best || !pl->zone ||
		!pl->zseq || !pl->count || !pl->rank || !pl->quota || !pl->aux ||
		!pl->left || !pl->first || !pl->last)
	{
		plan_free(pl);
		return DYN_ERR_NOMEM;
	}

	for (i = 0; i < s; i++)
	{
		pl->zone[i] = (uint16_t) i;
		for (j = 0; j < i; j++)
		{
			if (same_zone(&ring->members[j < skip ? j : j + 1],
						  &ring->members[i < skip ? i : i + 1]))
			{
				pl->zone[i] = (uint16_t) j;
				break;
			}
		}
	}
	for (i = 0; i < pl->q; i++)
	{
		uint16_t	o = ring->owner[i];

		if (ring->nmembers == 0 || o == skip)
			pl->prev[i] = NO_OWNER;
		else
			pl->prev[i] = skip != UNSET && o > skip ? o - 1 : o;
	}
	return DYN_OK;
}

/* Release a plan's arrays (any of them may be NULL). */
static void
plan_free(plan *pl)
{
	free(pl->owner);
	free(pl->prev);
	free(pl->best);
	free(pl->zone);
	free(pl->zseq);
	free(pl->count);
	free(pl->rank);
	free(pl->quota);
	free(pl->aux);
	free(pl->left);
	free(pl->first);
	free(pl->last);
}

/*
 * Decide pl->owner (see the file comment).  old_s is the member count
 * before the change: the incremental paths assume that ring was even, and
 * re-claim when it was not (a ring decoded from a peer mid-change, say).
 */
static void
plan_claim(plan *pl, claim_kind kind, uint32_t old_s)
{
	uint32_t	best_bad = UNSET;
	uint32_t	best_moves = UNSET;

	if (pl->s == 0)
		return;
	if (kind == CLAIM_FRESH)
	{
		claim_spread(pl, false);
		return;
	}

	memcpy(pl->owner, pl->prev, pl->q * sizeof(uint16_t));
	recount(pl);
	if (pl->s > pl->n && was_even(pl, old_s))
	{
		if (kind == CLAIM_JOIN)
			steal(pl, pl->s - 1);
		else
			fill(pl);
		repair(pl);
		consider(pl, &best_bad, &best_moves);
		if (best_bad == 0)
			return;
	}

	/* re-claim, keeping owners where the greedy allows, or plainly afresh */
	claim_spread(pl, true);
	consider(pl, &best_bad, &best_moves);
	if (best_bad > 0)
	{
		claim_spread(pl, false);
		consider(pl, &best_bad, &best_moves);
	}
	memcpy(pl->owner, pl->best, pl->q * sizeof(uint16_t));
	recount(pl);
}

/*
 * Install the plan: the members array first (see plan_init), then owners,
 * then what of next[] still makes sense.
 */
static void
commit(dyn_ring *ring, const plan *pl, uint32_t skip)
{
	if (skip != UNSET)
		memmove(&ring->members[skip], &ring->members[skip + 1],
				(ring->nmembers - skip - 1) * sizeof(dyn_ring_member));
	ring->nmembers = pl->s;
	if (pl->s > 0)
		memcpy(ring->owner, pl->owner, pl->q * sizeof(uint16_t));
	settle_next(ring, skip);
	ring->version++;
	reindex(ring);
}

/* Recount pl->count from pl->owner. */
static void
recount(plan *pl)
{
	uint32_t	i;

	memset(pl->count, 0, pl->s * sizeof(uint32_t));
	for (i = 0; i < pl->q; i++)
	{
		if (pl->owner[i] != NO_OWNER)
			pl->count[pl->owner[i]]++;
	}
}

/*
 * Whether the old members' counts (pl->count before any change) were
 * those of an even ring of old_s members; a joiner's zero is not counted.
 */
static bool
was_even(const plan *pl, uint32_t old_s)
{
	uint32_t	lo = pl->q / old_s;
	uint32_t	hi = lo + (pl->q % old_s != 0);
	uint32_t	olds = pl->s < old_s ? pl->s : old_s;
	uint32_t	i;

	for (i = 0; i < olds; i++)
	{
		if (pl->count[i] < lo || pl->count[i] > hi)
			return false;
	}
	return true;
}

/* Partitions whose owner in the plan differs from before. */
static uint32_t
moves(const plan *pl)
{
	uint32_t	moved = 0;
	uint32_t	i;

	for (i = 0; i < pl->q; i++)
		moved += pl->owner[i] != pl->prev[i];
	return moved;
}

/* Keep pl->owner in pl->best if it repeats less, or as little but moves less. */
static void
consider(plan *pl, uint32_t *best_bad, uint32_t *best_moves)
{
	uint32_t	bad = count_bad(pl);
	uint32_t	moved = moves(pl);

	if (bad < *best_bad || (bad == *best_bad && moved < *best_moves))
	{
		*best_bad = bad;
		*best_moves = moved;
		memcpy(pl->best, pl->owner, pl->q * sizeof(uint16_t));
	}
}


/* ------------------------------------------------------- windows and zones */

/* Partition p of the cycle: q is a power of two, so masking is p mod q, p < 0 too. */
static inline uint32_t
cyc(const plan *pl, int64_t p)
{
	return (uint32_t) p & (pl->q - 1);
}

/* Whether the w partitions from start repeat an owner (holes do not count). */
static bool
window_bad(const plan *pl, uint32_t start)
{
	uint32_t	i;
	uint32_t	j;

	for (i = 0; i < pl->w; i++)
	{
		uint16_t	a = pl->owner[cyc(pl, (int64_t) start + i)];

		if (a == NO_OWNER)
			continue;
		for (j = i + 1; j < pl->w; j++)
		{
			if (pl->owner[cyc(pl, (int64_t) start + j)] == a)
				return true;
		}
	}
	return false;
}

/* How many distinct zones own the w partitions from start. */
static uint32_t
window_zones(const plan *pl, uint32_t start)
{
	uint16_t	seen[DYN_RING_N_MAX];
	uint32_t	nseen = 0;
	uint32_t	i;
	uint32_t	j;

	for (i = 0; i < pl->w; i++)
	{
		uint16_t	a = pl->owner[cyc(pl, (int64_t) start + i)];

		if (a == NO_OWNER)
			continue;
		for (j = 0; j < nseen && seen[j] != pl->zone[a]; j++)
			;
		if (j == nseen)
			seen[nseen++] = pl->zone[a];
	}
	return nseen;
}

/*
 * Repeating windows among those that contain partition a or partition b,
 * each window counted once: what a change at a and b can alter.
 */
static uint32_t
bad_near(const plan *pl, uint32_t a, uint32_t b)
{
	uint32_t	bad = 0;
	uint32_t	d;

	for (d = 0; d < pl->w; d++)
		bad += window_bad(pl, cyc(pl, (int64_t) a - d));
	if (b == a)
		return bad;
	for (d = 0; d < pl->w; d++)
	{
		uint32_t	start = cyc(pl, (int64_t) b - d);

		if (cyc(pl, (int64_t) a - start) >= pl->w)
			bad += window_bad(pl, start);
	}
	return bad;
}

/* Repeating windows on the whole ring. */
static uint32_t
count_bad(const plan *pl)
{
	uint32_t	bad = 0;
	uint32_t	i;

	for (i = 0; i < pl->q; i++)
		bad += window_bad(pl, i);
	return bad;
}

/* Zone spread around p: distinct zones summed over the windows holding p. */
static int64_t
zone_score(const plan *pl, uint32_t p)
{
	int64_t		score = 0;
	uint32_t	d;

	for (d = 0; d < pl->w; d++)
		score += window_zones(pl, cyc(pl, (int64_t) p - d));
	return score;
}

/* How often m owns a partition within w-1 of p, on either side. */
static uint32_t
near(const plan *pl, uint32_t p, uint32_t m)
{
	uint32_t	hits = 0;
	uint32_t	d;

	for (d = 1; d < pl->w; d++)
	{
		hits += pl->owner[cyc(pl, (int64_t) p + d)] == m;
		hits += pl->owner[cyc(pl, (int64_t) p - d)] == m;
	}
	return hits;
}

/* Whether key a beats key b, both n numbers compared in order, higher first. */
static bool
key_better(const int64_t *a, const int64_t *b, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		if (a[i] != b[i])
			return a[i] > b[i];
	}
	return false;
}


/* ------------------------------------------------------------ fresh claim */

/* Run the greedy: one pick per position, in order (see spread_pick). */
static void
spread(const spread_job *job)
{
	uint32_t	i;
	uint32_t	m;

	for (m = 0; m < job->nitems; m++)
	{
		job->left[m] = job->quota[m];
		job->first[m] = UNSET;
		job->last[m] = UNSET;
	}
	for (i = 0; i < job->len; i++)
	{
		m = spread_pick(job, i);
		job->out[i] = (uint16_t) m;
		job->left[m]--;
		if (job->first[m] == UNSET)
			job->first[m] = i;
		job->last[m] = i;
	}
}

/*
 * The item for position i.  Among the items with quota left whose gap
 * allows position i: one with no slack left if any (its remaining
 * occurrences only just fit before it wraps round to its first one), else
 * the preferred item, then the one clashing with the fewest zones nearby,
 * then the one used longest ago (never used counts as longest), then by
 * rank.  When no item's gap allows i, the one with the most room.
 */
static uint32_t
spread_pick(const spread_job *job, uint32_t i)
{
	uint32_t	urgent = UNSET;
	int64_t		urgent_slack = 0;
	uint64_t	urgent_key = 0;
	uint32_t	pick = UNSET;
	uint64_t	pick_key = 0;
	uint32_t	stuck = UNSET;
	uint64_t	stuck_key = 0;
	uint32_t	m;

	for (m = 0; m < job->nitems; m++)
	{
		uint64_t	rank = job->rank != NULL ? job->rank[m] : m;
		uint64_t	other = job->prefer == NULL || job->prefer[i] != m;
		uint32_t	gap;
		uint32_t	room;
		int64_t		slack;
		uint64_t	key;

		if (job->left[m] == 0)
			continue;
		gap = item_gap(job, m);
		room = item_room(job, m, i);
		if (room < gap)
		{
			/* most room first, then rank */
			key = ((uint64_t) (UINT32_MAX - room) << 32) | rank;
			if (stuck == UNSET || key < stuck_key)
			{
				stuck = m;
				stuck_key = key;
			}
			continue;
		}

		slack = item_slack(job, m, i, gap);
		key = (other << 32) | rank;
		if (urgent == UNSET || slack < urgent_slack ||
			(slack == urgent_slack && key < urgent_key))
		{
			urgent = m;
			urgent_slack = slack;
			urgent_key = key;
		}

		/* keys: preferred, zone clashes (< 2^14), last use + 1 (< 2^17), rank */
		key = (other << 62) |
			((uint64_t) item_zone_clashes(job, m, i) << 48) |
			((uint64_t) (job->last[m] == UNSET ? 0 : job->last[m] + 1) << 16) |
			rank;
		if (pick == UNSET || key < pick_key)
		{
			pick = m;
			pick_key = key;
		}
	}
	if (urgent != UNSET && urgent_slack <= 0)
		return urgent;
	return pick != UNSET ? pick : stuck;
}

/*
 * The distance item m wants between its occurrences: the window, unless
 * its quota is too large for that (an item that must fill half the cycle
 * can only keep every other position).
 */
static uint32_t
item_gap(const spread_job *job, uint32_t m)
{
	uint32_t	fit = job->len / job->quota[m];
	uint32_t	gap = fit < job->window ? fit : job->window;

	return gap > 0 ? gap : 1;
}

/*
 * How far position i is from m's nearest occurrence: back to its last one,
 * and on round the cycle to its first one (which follows the end).
 */
static uint32_t
item_room(const spread_job *job, uint32_t m, uint32_t i)
{
	uint32_t	back;
	uint32_t	ahead;

	if (job->last[m] == UNSET)
		return job->len;
	back = i - job->last[m];
	ahead = job->first[m] + job->len - i;
	return back < ahead ? back : ahead;
}

/*
 * How many positions m can still wait, taking i now: its remaining
 * occurrences need (left-1)*gap positions after the next one, and the last
 * must stay gap before its first occurrence round the cycle.
 */
static int64_t
item_slack(const spread_job *job, uint32_t m, uint32_t i, uint32_t gap)
{
	int64_t		latest = (int64_t) job->len - 1;

	if (job->first[m] != UNSET &&
		(int64_t) job->first[m] + job->len - gap < latest)
		latest = (int64_t) job->first[m] + job->len - gap;
	return latest - (int64_t) (job->left[m] - 1) * gap - i;
}

/*
 * How many of the window-1 positions before i, and of those already filled
 * at the start of the cycle within window-1 after it, are in m's zone.
 */
static uint32_t
item_zone_clashes(const spread_job *job, uint32_t m, uint32_t i)
{
	uint32_t	clashes = 0;
	uint32_t	d;

	if (job->zone == NULL)
		return 0;
	for (d = 1; d < job->window; d++)
	{
		if (d <= i && job->zone[job->out[i - d]] == job->zone[m])
			clashes++;
		if (i + d >= job->len && i + d - job->len < i &&
			job->zone[job->out[i + d - job->len]] == job->zone[m])
			clashes++;
	}
	return clashes;
}

/*
 * Order the members by zone, spread like partitions are (a zone with twice
 * the members comes twice as often, a1 b1 a2 c1 rather than a1 a2 b1 c1),
 * members of a zone in index order; pl->rank[m] is m's place in it.
 */
static void
member_order(plan *pl)
{
	spread_job	job;
	uint32_t	nz = 0;
	uint32_t	i;
	uint32_t	m;

	/* the zones, by identity (their lowest member index), and their sizes */
	for (m = 0; m < pl->s; m++)
	{
		if (pl->zone[m] == m)
			pl->aux[nz++] = m;
	}
	for (i = 0; i < nz; i++)
	{
		pl->quota[i] = 0;
		for (m = 0; m < pl->s; m++)
			pl->quota[i] += pl->zone[m] == pl->aux[i];
	}

	memset(&job, 0, sizeof(job));
	job.len = pl->s;
	job.nitems = nz;
	job.window = pl->n < nz ? pl->n : nz;
	job.quota = pl->quota;
	job.out = pl->zseq;
	job.left = pl->left;
	job.first = pl->first;
	job.last = pl->last;
	spread(&job);

	/* deal each zone's members out in index order; first[] is a cursor */
	for (i = 0; i < nz; i++)
		pl->first[i] = 0;
	for (i = 0; i < pl->s; i++)
	{
		uint32_t	z = pl->zseq[i];

		m = pl->first[z];
		while (pl->zone[m] != pl->aux[z])
			m++;
		pl->rank[m] = i;
		pl->first[z] = m + 1;
	}
}

/*
 * Claim every partition with the greedy.  Each member gets floor(Q/S), and
 * Q mod S of them one more: the first in zone order, or when sticky, those
 * owning the most now; sticky also keeps each partition's owner wherever
 * the greedy has no better reason.
 */
static void
claim_spread(plan *pl, bool sticky)
{
	spread_job	job;
	uint32_t	extra = pl->q % pl->s;
	uint32_t	i;
	uint32_t	m;

	member_order(pl);
	memset(pl->count, 0, pl->s * sizeof(uint32_t));
	for (i = 0; i < pl->q; i++)
	{
		if (sticky && pl->prev[i] != NO_OWNER)
			pl->count[pl->prev[i]]++;
	}
	for (m = 0; m < pl->s; m++)
		pl->quota[m] = pl->q / pl->s;
	for (i = 0; i < extra; i++)
	{
		uint32_t	top = UNSET;

		for (m = 0; m < pl->s; m++)
		{
			if (pl->quota[m] > pl->q / pl->s)
				continue;
			if (top == UNSET || pl->count[m] > pl->count[top] ||
				(pl->count[m] == pl->count[top] && pl->rank[m] < pl->rank[top]))
				top = m;
		}
		pl->quota[top]++;
	}

	memset(&job, 0, sizeof(job));
	job.len = pl->q;
	job.nitems = pl->s;
	job.window = pl->w;
	job.quota = pl->quota;
	job.rank = pl->rank;
	job.zone = pl->zone;
	job.prefer = sticky ? pl->prev : NULL;
	job.out = pl->owner;
	job.left = pl->left;
	job.first = pl->first;
	job.last = pl->last;
	spread(&job);
	recount(pl);
}


/* ------------------------------------------------------- joins and leaves */

/*
 * Join: member x (owning nothing) takes floor(Q/S) partitions from members
 * above that.  First one partition in each Q/share stretch of the ring, so
 * that x's partitions are evenly spaced: the best of the stretch where x
 * owns none within w-1 and the zone spread is not made worse (most repeats
 * removed, then most zone spread gained, then the most loaded giver, then
 * the earliest).  What the stretches could not give is taken in sweeps
 * round the ring, dropping first the zone condition, then the window one.
 */
static void
steal(plan *pl, uint32_t x)
{
	join_state	js;
	int64_t		key[4];
	uint32_t	slot;
	uint32_t	pass;
	uint32_t	p;
	uint32_t	m;

	js.x = x;
	js.share = pl->q / pl->s;
	js.taken = 0;
	js.mandatory = 0;
	for (m = 0; m < pl->s; m++)
	{
		if (m != x && pl->count[m] > js.share + 1)
			js.mandatory += pl->count[m] - js.share - 1;
	}

	for (slot = 0; slot < js.share; slot++)
	{
		uint32_t	lo = (uint32_t) ((uint64_t) slot * pl->q / js.share);
		uint32_t	hi = (uint32_t) ((uint64_t) (slot + 1) * pl->q / js.share);
		uint32_t	best = UNSET;
		int64_t		best_key[4] = {0};

		for (p = lo; p < hi; p++)
		{
			if (!steal_score(pl, &js, p, true, true, key))
				continue;
			key[3] = -(int64_t) (p - lo);
			if (best == UNSET || key_better(key, best_key, 4))
			{
				best = p;
				memcpy(best_key, key, sizeof(key));
			}
		}
		if (best != UNSET)
			steal_take(pl, &js, best);
	}
	for (pass = 0; pass < 3 && js.taken < js.share; pass++)
	{
		for (p = 0; p < pl->q && js.taken < js.share; p++)
		{
			if (steal_score(pl, &js, p, pass < 2, pass < 1, key))
				steal_take(pl, &js, p);
		}
	}
}

/*
 * Whether the joiner may take partition p, and how good that would be:
 * key[0] repeating windows removed, key[1] zone spread gained, key[2] the
 * giver's load.  The giver must be above the share, and if only by one,
 * enough wanted partitions must remain for the members above by more.
 * keep_window refuses p when the joiner owns one within w-1, keep_zones
 * when taking p narrows the zone spread.
 */
static bool
steal_score(plan *pl, const join_state *js, uint32_t p, bool keep_window,
			bool keep_zones, int64_t *key)
{
	uint16_t	giver = pl->owner[p];
	uint32_t	bad_before;
	int64_t		zone_before;

	if (giver == js->x || giver == NO_OWNER || pl->count[giver] <= js->share)
		return false;
	if (pl->count[giver] == js->share + 1 &&
		js->share - js->taken <= js->mandatory)
		return false;
	if (keep_window && near(pl, p, js->x) > 0)
		return false;
	bad_before = bad_near(pl, p, p);
	zone_before = zone_score(pl, p);
	pl->owner[p] = (uint16_t) js->x;
	key[0] = (int64_t) bad_before - bad_near(pl, p, p);
	key[1] = zone_score(pl, p) - zone_before;
	pl->owner[p] = giver;
	key[2] = pl->count[giver];
	return !keep_zones || key[1] >= 0;
}

/* The joiner takes partition p. */
static void
steal_take(plan *pl, join_state *js, uint32_t p)
{
	if (pl->count[pl->owner[p]] > js->share + 1)
		js->mandatory--;
	give(pl, p, js->x);
	js->taken++;
}

/* Hand partition p to member m. */
static void
give(plan *pl, uint32_t p, uint32_t m)
{
	if (pl->owner[p] != NO_OWNER)
		pl->count[pl->owner[p]]--;
	pl->owner[p] = (uint16_t) m;
	pl->count[m]++;
}

/*
 * Leave: hand every partition that lost its owner to a member, hardest
 * first (those with the fewest members not owning a partition within w-1
 * of them; a leaver's partitions are w apart, so their choices do not
 * interfere).  Each goes to a member still below floor(Q/S), or one at it
 * while enough partitions remain for those below; preferring one that
 * keeps the windows distinct, then the zone spread, then the least loaded.
 */
static void
fill(plan *pl)
{
	uint32_t	share = pl->q / pl->s;
	uint32_t	holes = 0;
	uint32_t	need = 0;
	uint32_t	choices;
	uint32_t	p;
	uint32_t	m;

	/* pl->best holds each hole's number of clean choices */
	for (p = 0; p < pl->q; p++)
	{
		if (pl->owner[p] != NO_OWNER)
			continue;
		holes++;
		pl->best[p] = 0;
		for (m = 0; m < pl->s; m++)
			pl->best[p] += near(pl, p, m) == 0;
	}
	for (m = 0; m < pl->s; m++)
	{
		if (pl->count[m] < share)
			need += share - pl->count[m];
	}

	for (choices = 0; choices <= pl->s && holes > 0; choices++)
	{
		for (p = 0; p < pl->q && holes > 0; p++)
		{
			uint32_t	best = UNSET;
			int64_t		best_key[4] = {0};
			int64_t		zone_before;

			if (pl->owner[p] != NO_OWNER || pl->best[p] != choices)
				continue;
			zone_before = zone_score(pl, p);
			for (m = 0; m < pl->s; m++)
			{
				int64_t		key[4];

				key[0] = pl->count[m] < share ||
					(pl->count[m] == share && holes - 1 >= need);
				key[1] = -(int64_t) near(pl, p, m);
				pl->owner[p] = (uint16_t) m;
				key[2] = zone_score(pl, p) - zone_before;
				pl->owner[p] = NO_OWNER;
				key[3] = -(int64_t) pl->count[m];
				if (best == UNSET || key_better(key, best_key, 4))
				{
					best = m;
					memcpy(best_key, key, sizeof(key));
				}
			}
			if (pl->count[best] < share)
				need--;
			give(pl, p, best);
			holes--;
		}
	}
}

/*
 * Swap the owners of two partitions while that removes repeating windows:
 * for a few partitions a whose owner repeats within w-1, try every
 * partition b where a's owner would repeat less (the others cannot help
 * much and cost the most to evaluate), and make
 * the swap that removes the most repeats, then costs the fewest extra
 * moves.  Swaps keep every count, so the ring stays even.  A handful of
 * swaps mends what a join or leave could not avoid; a ring with more
 * repeats than swaps allowed is left to the re-claim.
 */
static void
repair(plan *pl)
{
	uint32_t	sources[REPAIR_SOURCES];
	uint32_t	rounds;

	if (count_bad(pl) > REPAIR_ROUNDS)
		return;
	for (rounds = 0; rounds < REPAIR_ROUNDS; rounds++)
	{
		uint32_t	nsources = 0;
		uint32_t	best_a = UNSET;
		uint32_t	best_b = UNSET;
		int64_t		best_gain = 0;
		int64_t		best_cost = 0;
		uint16_t	swapped;
		uint32_t	start;
		uint32_t	i;
		uint32_t	b;

		/* partitions whose owner repeats within a repeating window */
		for (start = 0; start < pl->q && nsources < REPAIR_SOURCES; start++)
		{
			if (!window_bad(pl, start))
				continue;
			for (i = 0; i < pl->w && nsources < REPAIR_SOURCES; i++)
			{
				uint32_t	a = cyc(pl, (int64_t) start + i);
				uint32_t	k;

				for (k = 0; k < nsources && sources[k] != a; k++)
					;
				if (k == nsources && near(pl, a, pl->owner[a]) > 0)
					sources[nsources++] = a;
			}
		}
		if (nsources == 0)
			return;

		for (i = 0; i < nsources; i++)
		{
			uint32_t	a = sources[i];
			uint16_t	oa = pl->owner[a];
			uint32_t	crowd = near(pl, a, oa);

			for (b = 0; b < pl->q; b++)
			{
				uint16_t	ob = pl->owner[b];
				int64_t		gain;
				int64_t		cost;

				if (ob == oa || near(pl, b, oa) >= crowd)
					continue;
				gain = bad_near(pl, a, b);
				cost = -(int64_t) ((oa != pl->prev[a]) + (ob != pl->prev[b]));
				pl->owner[a] = ob;
				pl->owner[b] = oa;
				gain -= bad_near(pl, a, b);
				cost += (ob != pl->prev[a]) + (oa != pl->prev[b]);
				pl->owner[a] = oa;
				pl->owner[b] = ob;
				if (gain > best_gain ||
					(gain == best_gain && gain > 0 && cost < best_cost))
				{
					best_a = a;
					best_b = b;
					best_gain = gain;
					best_cost = cost;
				}
			}
		}
		if (best_a == UNSET)
			return;
		swapped = pl->owner[best_a];
		pl->owner[best_a] = pl->owner[best_b];
		pl->owner[best_b] = swapped;
	}
}


/* ------------------------------------------------------ preference lists */

/* Bit i of a bitmap. */
static inline bool
bit_get(const uint64_t *bits, uint32_t i)
{
	return (bits[i / 64] >> (i % 64)) & 1;
}

/* Set bit i of a bitmap. */
static inline void
bit_set(uint64_t *bits, uint32_t i)
{
	bits[i / 64] |= (uint64_t) 1 << (i % 64);
}

/*
 * Walk clockwise from partition, appending to out[*len..limit) each owner
 * not taken yet (if new_zones_only, only those of a zone not seen yet),
 * stopping once limit is reached or nothing more can be found: every
 * owning member or every zone has been taken.
 */
static void
walk(const dyn_ring *ring, uint32_t partition, bool new_zones_only,
	 pref_walk *pw, uint32_t *out, size_t *len, size_t limit)
{
	uint32_t	i;

	for (i = 0; i < ring->q && *len < limit; i++)
	{
		uint32_t	m = ring->owner[(partition + i) & (ring->q - 1)];

		if (new_zones_only ? pw->nzones == ring->nzones : pw->ntaken == ring->nowning)
			return;
		if (bit_get(pw->taken, m))
			continue;
		if (new_zones_only && bit_get(pw->zones, ring->members[m].zone_ix))
			continue;
		take(ring, m, pw, out, len);
	}
}

/* Append member m to the list and mark it and its zone. */
static void
take(const dyn_ring *ring, uint32_t m, pref_walk *pw, uint32_t *out, size_t *len)
{
	const dyn_ring_member *mb = &ring->members[m];

	out[(*len)++] = m;
	bit_set(pw->taken, m);
	if (mb->owned > 0)
		pw->ntaken++;
	if (!bit_get(pw->zones, mb->zone_ix))
	{
		bit_set(pw->zones, mb->zone_ix);
		if (mb->owned > 0)
			pw->nzones++;
	}
}

/*
 * The replicas of a partition: owners of new zones, then distinct owners,
 * until min(N, limit); pw starts empty and marks them.  Returns how many
 * were written to out.
 */
static size_t
walk_replicas(const dyn_ring *ring, uint32_t partition, pref_walk *pw,
			  uint32_t *out, size_t limit)
{
	size_t		len = 0;
	size_t		replicas = ring->n < limit ? ring->n : limit;

	memset(pw, 0, sizeof(*pw));
	walk(ring, partition, true, pw, out, &len, replicas);
	walk(ring, partition, false, pw, out, &len, replicas);
	return len;
}

/*
 * Three walks from the partition: owners of new zones until N, distinct
 * owners until N, then the extended list; members owning nothing (a ring
 * with more members than partitions) come last.
 */
int
dyn_ring_preflist(const dyn_ring *ring, uint32_t partition, uint32_t *out,
				  size_t max)
{
	pref_walk	pw;
	size_t		len;
	size_t		limit;
	uint32_t	m;

	if (partition >= ring->q)
		return DYN_ERR_INVAL;
	limit = max < ring->nmembers ? max : ring->nmembers;

	len = walk_replicas(ring, partition, &pw, out, limit);
	walk(ring, partition, false, &pw, out, &len, limit);
	for (m = 0; m < ring->nmembers && len < limit; m++)
	{
		if (!bit_get(pw.taken, m))
			take(ring, m, &pw, out, &len);
	}
	return (int) len;
}

/* The preference list of the partition the key falls in. */
int
dyn_ring_preflist_key(const dyn_ring *ring, dyn_slice bucket, dyn_slice key,
					  uint32_t *out, size_t max)
{
	uint32_t	partition = dyn_partition_of(dyn_key_position(bucket, key), ring->q);

	return dyn_ring_preflist(ring, partition, out, max);
}

/* min(N, members): how many replicas every partition has. */
uint32_t
dyn_ring_replicas(const dyn_ring *ring)
{
	return ring->n < ring->nmembers ? ring->n : ring->nmembers;
}

/*
 * The first dyn_ring_replicas entries of the preference list, on the
 * stack (N is small).  Not the owners alone: with fewer owning members
 * than that (more members than partitions) a member owning nothing is a
 * replica too, written to by every coordinator.
 */
bool
dyn_ring_replicates(const dyn_ring *ring, uint32_t partition, uint32_t member)
{
	uint32_t	list[DYN_RING_N_MAX];
	int			len;

	if (partition >= ring->q || member >= ring->nmembers)
		return false;
	len = dyn_ring_preflist(ring, partition, list, dyn_ring_replicas(ring));
	for (int i = 0; i < len; i++)
	{
		if (list[i] == member)
			return true;
	}
	return false;
}


/* --------------------------------------------------------------- encoding */

/* One u8-length string. */
static void
put_str8(dyn_buf *b, const void *p, size_t len)
{
	dyn_buf_put_u8(b, (uint8_t) len);
	dyn_buf_append(b, p, len);
}

/* Header, members, owners, then next (see ring.h); members exist only as a whole. */
void
dyn_ring_encode(const dyn_ring *ring, dyn_buf *b)
{
	uint32_t	i;

	dyn_buf_put_u8(b, RING_FORMAT);
	dyn_buf_put_u64(b, ring->version);
	dyn_buf_put_u32(b, ring->q);
	dyn_buf_put_u8(b, (uint8_t) ring->n);
	dyn_buf_put_u16(b, (uint16_t) ring->nmembers);
	for (i = 0; i < ring->nmembers; i++)
	{
		const dyn_ring_member *m = &ring->members[i];

		put_str8(b, m->id, m->idlen);
		put_str8(b, m->address, strlen(m->address));
		put_str8(b, m->zone, strlen(m->zone));
		dyn_buf_put_u8(b, m->flags);
	}
	if (ring->nmembers > 0)
	{
		for (i = 0; i < ring->q; i++)
			dyn_buf_put_u16(b, ring->owner[i]);
		for (i = 0; i < ring->q; i++)
			dyn_buf_put_u16(b, ring->next[i]);
	}
}

/*
 * Decode into a fresh ring and swap it in only when everything checked
 * out; each member goes through member_make, as if added.  Format 1 (no
 * flags, no next) is refused rather than read as a ring with nothing
 * pending: a node that cannot carry transfers must not gossip rings.
 */
int
dyn_ring_decode(dyn_slice s, dyn_ring *ring)
{
	dyn_reader	r;
	dyn_ring	tmp;
	uint64_t	version;
	uint32_t	q;
	uint32_t	n;
	uint32_t	count;
	uint32_t	i;
	int			rc;

	dyn_reader_init(&r, s);
	if (dyn_rd_u8(&r) != RING_FORMAT)
		return DYN_ERR_PROTO;
	version = dyn_rd_u64(&r);
	q = dyn_rd_u32(&r);
	n = dyn_rd_u8(&r);
	count = dyn_rd_u16(&r);
	if (r.err != DYN_OK || count > DYN_RING_MEMBERS_MAX)
		return DYN_ERR_PROTO;
	rc = dyn_ring_init(&tmp, q, n);
	if (rc != DYN_OK)
	{
		dyn_ring_free(&tmp);
		return rc == DYN_ERR_INVAL ? DYN_ERR_PROTO : rc;
	}
	if (reserve_members(&tmp, count) != DYN_OK)
	{
		dyn_ring_free(&tmp);
		return DYN_ERR_NOMEM;
	}

	rc = DYN_ERR_PROTO;
	for (i = 0; i < count; i++)
	{
		dyn_slice	id = dyn_rd_bytes(&r, dyn_rd_u8(&r));
		dyn_slice	address = dyn_rd_bytes(&r, dyn_rd_u8(&r));
		dyn_slice	zone = dyn_rd_bytes(&r, dyn_rd_u8(&r));
		uint8_t		flags = dyn_rd_u8(&r);

		if (r.err != DYN_OK || (flags & ~KNOWN_FLAGS) != 0 ||
			member_make(&tmp.members[i], id, address, zone) != DYN_OK ||
			dyn_ring_member_index(&tmp, id) >= 0)
			goto fail;
		tmp.members[i].flags = flags;
		tmp.nmembers++;
	}
	if (count > 0)
	{
		for (i = 0; i < q; i++)
		{
			tmp.owner[i] = dyn_rd_u16(&r);
			if (r.err != DYN_OK || tmp.owner[i] >= count)
				goto fail;
		}
		for (i = 0; i < q; i++)
		{
			tmp.next[i] = dyn_rd_u16(&r);
			if (r.err != DYN_OK || tmp.next[i] == tmp.owner[i] ||
				(tmp.next[i] != NO_OWNER && tmp.next[i] >= count))
				goto fail;
		}
	}
	if (dyn_reader_finish(&r) != DYN_OK)
		goto fail;

	tmp.version = version;
	reindex(&tmp);
	dyn_ring_free(ring);
	*ring = tmp;
	return DYN_OK;

fail:
	dyn_ring_free(&tmp);
	return rc;
}

/* Text fields as JSON strings, counts as numbers, owners and transfers by id. */
void
dyn_ring_to_json(const dyn_ring *ring, dyn_buf *b)
{
	uint32_t	i;
	bool		first;

	dyn_buf_printf(b, "{\"version\":%" PRIu64 ",\"partitions\":%" PRIu32
				   ",\"n\":%" PRIu32 ",\"members\":[",
				   ring->version, ring->q, ring->n);
	for (i = 0; i < ring->nmembers; i++)
	{
		const dyn_ring_member *m = &ring->members[i];

		dyn_buf_printf(b, "%s{\"id\":", i > 0 ? "," : "");
		dyn_buf_put_json_string(b, dyn_ring_member_id(m));
		dyn_buf_printf(b, ",\"address\":");
		dyn_buf_put_json_string(b, dyn_slice_str(m->address));
		dyn_buf_printf(b, ",\"zone\":");
		dyn_buf_put_json_string(b, dyn_slice_str(m->zone));
		dyn_buf_printf(b, ",\"partitions\":%" PRIu32 "%s}", m->owned,
					   (m->flags & DYN_RING_LEAVING) ? ",\"leaving\":true" : "");
	}
	dyn_buf_printf(b, "],\"owners\":[");
	for (i = 0; ring->nmembers > 0 && i < ring->q; i++)
	{
		if (i > 0)
			dyn_buf_put_u8(b, ',');
		dyn_buf_put_json_string(b, dyn_ring_member_id(&ring->members[ring->owner[i]]));
	}
	dyn_buf_printf(b, "],\"pending\":[");
	for (i = 0, first = true; ring->nmembers > 0 && i < ring->q; i++)
	{
		if (ring->next[i] == NO_OWNER)
			continue;
		dyn_buf_printf(b, "%s{\"partition\":%" PRIu32 ",\"from\":", first ? "" : ",", i);
		dyn_buf_put_json_string(b, dyn_ring_member_id(&ring->members[ring->owner[i]]));
		dyn_buf_printf(b, ",\"to\":");
		dyn_buf_put_json_string(b, dyn_ring_member_id(&ring->members[ring->next[i]]));
		dyn_buf_put_u8(b, '}');
		first = false;
	}
	dyn_buf_printf(b, "]}");
}
