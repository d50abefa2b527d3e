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
 * How the claim keeps them is claim.c's: ring.c asks it for a plan
 * (dyn_claim_run) and installs it (commit).
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
#include "claim.h"

#define RING_FORMAT		2		/* first byte of the binary encoding */
#define NO_OWNER		DYN_RING_NO_OWNER	/* nobody (yet), no next */
#define KNOWN_FLAGS		DYN_RING_LEAVING	/* member flags a decoder accepts */
#define UNSET			DYN_CLAIM_UNSET	/* no member, no position */
#define WORDS			(DYN_RING_MEMBERS_MAX / 64)

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
static int	reserve_members(dyn_ring *ring, uint32_t want);
static void reindex(dyn_ring *ring);
static void settle_next(dyn_ring *ring, uint32_t skip);
static void complete_all(dyn_ring *ring);
static uint32_t prune(dyn_ring *ring);
static void plan_next(dyn_ring *ring, const dyn_ring *target, uint16_t *map);
static int	plan_target(const dyn_ring *ring, dyn_ring *target);

static void commit(dyn_ring *ring, const dyn_claim *pl, uint32_t skip);

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
			if (dyn_ring_same_zone(&ring->members[j], m))
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
	dyn_claim	pl;
	uint32_t	i;

	if (ring->nmembers == 0)
		return DYN_OK;
	if (dyn_claim_init(&pl, ring, ring->nmembers, UNSET) != DYN_OK)
		return DYN_ERR_NOMEM;
	dyn_claim_run(&pl, DYN_CLAIM_FRESH, ring->nmembers);
	memset(ring->next, 0xff, ring->q * sizeof(uint16_t));
	for (i = 0; i < ring->nmembers; i++)
		ring->members[i].flags = 0;
	commit(ring, &pl, UNSET);
	dyn_claim_free(&pl);
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
	dyn_claim	pl;
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
	if (dyn_claim_init(&pl, ring, ring->nmembers + 1, UNSET) != DYN_OK)
		return DYN_ERR_NOMEM;
	dyn_claim_run(&pl, DYN_CLAIM_JOIN, ring->nmembers);
	commit(ring, &pl, UNSET);
	dyn_claim_free(&pl);
	return DYN_OK;
}

/* Leave: plan without the member, then close the gap in the array. */
int
dyn_ring_remove_member(dyn_ring *ring, dyn_slice id)
{
	dyn_claim	pl;
	int			ix = dyn_ring_member_index(ring, id);

	if (ix < 0)
		return ix;
	if (dyn_claim_init(&pl, ring, ring->nmembers - 1, (uint32_t) ix) != DYN_OK)
		return DYN_ERR_NOMEM;
	dyn_claim_run(&pl, DYN_CLAIM_LEAVE, ring->nmembers);
	commit(ring, &pl, (uint32_t) ix);
	dyn_claim_free(&pl);
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


/*
 * Install the plan: the members array first (see dyn_claim_init), then owners,
 * then what of next[] still makes sense.
 */
static void
commit(dyn_ring *ring, const dyn_claim *pl, uint32_t skip)
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
