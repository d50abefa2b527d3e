/*
 * ring.h
 *		Key placement: where on the ring a key lives, who owns each part of
 *		the ring, and which nodes hold a key's replicas.
 *
 * A key's position is the first 8 bytes (big-endian) of the BLAKE2b hash of
 * "bucket \0 key" (libsodium crypto_generichash), and the ring is cut into Q
 * equal partitions, Q a power of two fixed when the cluster is born, so a
 * key's partition is the top log2(Q) bits of its position (the Dynamo
 * paper's strategy 3).
 *
 * A dyn_ring says which member owns each partition.  Ownership is claimed so
 * that every member owns Q/S partitions rounded down or up, any N
 * consecutive partitions have N distinct owners when there are at least N
 * members (and as far as possible spread over distinct zones), and a join or
 * a leave moves as few partitions as it can.  A key's preference list is
 * the N distinct owners met walking clockwise from its partition, owners of
 * not yet covered zones first; the extended list goes on with every other
 * member, for sloppy-quorum stand-ins.
 *
 * A join or a leave does not hand partitions over at once: a partition's
 * new owner must first receive its data, or it would answer reads with
 * nothing and coordinate writes without the history.  So the ring also
 * carries pending ownership transfers (Dynamo's handoff): next[p] names
 * the member that will own partition p once its data has been
 * transferred.  dyn_ring_plan_join and dyn_ring_plan_leave fill next[]
 * with what the claim would do (a joiner starts owning nothing, a leaver
 * is marked DYN_RING_LEAVING and keeps its partitions), dyn_ring_complete
 * switches the owner of partitions whose transfer is done, one ring change
 * per completed transfer, and dyn_ring_prune drops leavers left owning
 * nothing.  Requests keep following owner[] until then: preference lists
 * never look at next[]; dyn_ring_target gives the ring as it will be once
 * everything pending is done, for the future preference lists a transfer
 * is planned from.  dyn_ring_add_member and dyn_ring_remove_member still
 * change ownership at once (a cluster with no data yet, a dead node).
 *
 * A ring is a caller-owned value: dyn_ring_init, then the claim functions
 * or dyn_ring_decode, and dyn_ring_free.  Its fields may be read directly;
 * change it only through these functions, which keep the derived fields,
 * next[] and the version right.  Claims, plans, copy, target and decode
 * allocate; lookups (dyn_ring_member_index, dyn_ring_preflist*,
 * dyn_ring_replicates) never do.
 *
 * Binary encoding (gossip, and clients that fetch the ring): u8 format (2),
 * u64 version, u32 Q, u8 N, u16 member count, then per member u8 length and
 * bytes of the id, the address and the zone, and u8 flags, then (when there
 * are members) the owner of each partition as a u16 member index, then the
 * next owner of each partition the same way, DYN_RING_NO_OWNER for none.
 */
#ifndef DYNAMO_RING_H
#define DYNAMO_RING_H

#include "dynamo/buf.h"
#include "dynamo/vclock.h"		/* DYN_NODE_ID_MAX: ring members are clock ids */

#define DYN_PARTITIONS_DEFAULT	64
#define DYN_PARTITIONS_MAX		65536

#define DYN_RING_MEMBERS_MAX	1024	/* members a ring can hold */
#define DYN_RING_N_MAX			16	/* largest replication factor */
#define DYN_RING_ADDRESS_MAX	63	/* bytes in "host:port" */
#define DYN_RING_ZONE_MAX		31	/* bytes in a zone name */

#define DYN_RING_NO_OWNER		UINT16_MAX	/* next[p]: no transfer pending */
#define DYN_RING_LEAVING		0x01	/* member flag: being removed */

/* The 64-bit ring position of bucket/key. */
uint64_t	dyn_key_position(dyn_slice bucket, dyn_slice key);
/* The partition (0 .. q-1) a position falls in; q is a power of two. */
uint32_t	dyn_partition_of(uint64_t position, uint32_t q);
/* Whether q is a valid partition count (a power of two, 1 .. 65536). */
bool		dyn_partitions_valid(uint32_t q);

/*
 * One node of the cluster as the ring knows it: its identity, where to
 * reach it, the failure domain it shares with other nodes, whether it is
 * leaving (it will own nothing once its transfers complete), and two
 * fields derived from the rest of the ring.
 */
typedef struct dyn_ring_member
{
	uint8_t		idlen;
	char		id[DYN_NODE_ID_MAX];	/* idlen bytes, not NUL-terminated */
	char		address[DYN_RING_ADDRESS_MAX + 1];	/* "host:port", NUL-terminated */
	char		zone[DYN_RING_ZONE_MAX + 1];	/* NUL-terminated; "" is a zone of its own */
	uint8_t		flags;			/* DYN_RING_LEAVING */
	uint16_t	zone_ix;		/* lowest member index in the same zone */
	uint32_t	owned;			/* partitions this member owns */
} dyn_ring_member;

/*
 * The ring: Q and N, the members in join order, the owner of every
 * partition and the pending transfers.  owner[] is meaningless while there
 * are no members.  next[p] is DYN_RING_NO_OWNER or a member index other
 * than owner[p].
 */
typedef struct dyn_ring
{
	uint64_t	version;		/* bumped by every change; gossip keeps the highest */
	uint32_t	q;				/* partitions: a power of two, fixed at birth */
	uint32_t	n;				/* replicas per key */
	uint32_t	nmembers;
	uint32_t	nowning;		/* members owning at least one partition */
	uint32_t	nzones;			/* distinct zones among those */
	uint32_t	cap;			/* members allocated */
	dyn_ring_member *members;
	uint16_t   *owner;			/* q entries: index into members */
	uint16_t   *next;			/* q entries: owner once the transfer completes */
	uint32_t	npending;		/* partitions with a next */
} dyn_ring;

/* A member's id as a slice (a view into the member). */
static inline dyn_slice
dyn_ring_member_id(const dyn_ring_member *m)
{
	dyn_slice	s = {(const uint8_t *) m->id, m->idlen};

	return s;
}

/*
 * An empty ring of q partitions (dyn_partitions_valid) and n replicas
 * (1 .. DYN_RING_N_MAX).  DYN_ERR_INVAL or DYN_ERR_NOMEM; the ring can be
 * freed whatever this returns.
 */
int			dyn_ring_init(dyn_ring *ring, uint32_t q, uint32_t n);
void		dyn_ring_free(dyn_ring *ring);
/* Make the initialised dst a copy of src; dst is unchanged on failure. */
int			dyn_ring_copy(dyn_ring *dst, const dyn_ring *src);

/* The index of the member with this id, or DYN_ERR_NOTFOUND. */
int			dyn_ring_member_index(const dyn_ring *ring, dyn_slice id);

/*
 * Claim every partition afresh for the current members (a cluster born
 * with a known member set); pending transfers and leaving flags are
 * dropped.  DYN_OK, or DYN_ERR_NOMEM with the ring unchanged.
 */
int			dyn_ring_claim_initial(dyn_ring *ring);

/*
 * Add a member (id 1 .. DYN_NODE_ID_MAX bytes, address 1 ..
 * DYN_RING_ADDRESS_MAX bytes, zone up to DYN_RING_ZONE_MAX bytes, no NUL
 * in either) and give it its share, taken from the members that own the
 * most.  The first member gets every partition.  Adding a member again
 * with the same zone only updates its address.  Ownership changes at once;
 * pending transfers stay, but for those whose next became the owner.
 * DYN_ERR_INVAL (bad argument, or a known id with another zone),
 * DYN_ERR_TOOBIG (ring full) or DYN_ERR_NOMEM; the ring is unchanged on
 * error.
 */
int			dyn_ring_add_member(dyn_ring *ring, dyn_slice id, dyn_slice address,
								dyn_slice zone);

/*
 * Remove a member, handing its partitions to the others at once.  Members
 * after it move down one index (in next[] too); transfers to it are
 * dropped.  DYN_ERR_NOTFOUND or DYN_ERR_NOMEM; the ring is unchanged on
 * error.
 */
int			dyn_ring_remove_member(dyn_ring *ring, dyn_slice id);

/*
 * Plan a join: the member is added owning nothing, and next[] becomes what
 * dyn_ring_add_member would give it (and, while there are at most N
 * members, the others) on the target ring (see dyn_ring_target; a leaver
 * still owning something there, which only a change made at once or a
 * peer's ring leaves behind, is removed from it first); the other pending
 * transfers stay.  On an empty ring, or for a known id, the
 * same as dyn_ring_add_member; a known id that is leaving is
 * DYN_ERR_INVAL.  Errors as dyn_ring_add_member; the ring is unchanged on
 * error.
 */
int			dyn_ring_plan_join(dyn_ring *ring, dyn_slice id, dyn_slice address,
							   dyn_slice zone);

/*
 * Plan a leave: mark the member leaving and set next[] to what
 * dyn_ring_remove_member would do on the target ring (as for a join),
 * mapped back to this ring's indices (so the leaver's partitions and the
 * transfers that were headed for it get a next).  The member stays until dyn_ring_prune.
 * A member already leaving: DYN_OK, nothing changes.  DYN_ERR_NOTFOUND,
 * DYN_ERR_INVAL (no member that is not leaving would remain) or
 * DYN_ERR_NOMEM; the ring is unchanged on error.
 */
int			dyn_ring_plan_leave(dyn_ring *ring, dyn_slice id);

/*
 * The transfers of these partitions are done: each one with a next gets
 * it as owner (others are skipped).  One version bump if anything
 * changed.  DYN_ERR_INVAL for a partition >= Q, with the ring unchanged.
 */
int			dyn_ring_complete(dyn_ring *ring, const uint32_t *partitions,
							  size_t count);

/*
 * Remove the leaving members that own nothing and are no partition's
 * next; later members move down.  One version bump if any went.  Returns
 * how many were removed.
 */
int			dyn_ring_prune(dyn_ring *ring);

/*
 * Make the initialised out the ring as it will be: a copy of ring (same
 * version) with every pending transfer completed and pruned.  DYN_OK or
 * DYN_ERR_NOMEM with out unchanged.
 */
int			dyn_ring_target(const dyn_ring *ring, dyn_ring *out);

/*
 * The preference list of a partition, as member indices into out[0..max):
 * first the min(N, members) replicas (owners of new zones first, then
 * distinct owners in clockwise order), then every other member, in the
 * order met walking on, members owning nothing last (the extended list).
 * Returns how many were written, or DYN_ERR_INVAL for a partition >= Q.
 */
int			dyn_ring_preflist(const dyn_ring *ring, uint32_t partition,
							  uint32_t *out, size_t max);
/* The same for the partition of bucket/key. */
int			dyn_ring_preflist_key(const dyn_ring *ring, dyn_slice bucket,
								  dyn_slice key, uint32_t *out, size_t max);
/*
 * How many replicas each partition has: min(N, members), the length of
 * the preference lists' first part.  The one definition the coordinator,
 * anti-entropy and handoff use (through dyn_ring_replicates or this).
 */
uint32_t	dyn_ring_replicas(const dyn_ring *ring);
/*
 * Whether member (an index) is one of the first dyn_ring_replicas entries
 * of the partition's preference list; false for anything out of range.
 */
bool		dyn_ring_replicates(const dyn_ring *ring, uint32_t partition,
								uint32_t member);

/* Append the binary encoding (see above); check b->err once at the end. */
void		dyn_ring_encode(const dyn_ring *ring, dyn_buf *b);
/*
 * Replace the initialised ring with the one encoded in s.  DYN_ERR_PROTO
 * for anything malformed (another format, bad Q or N, lengths, duplicate
 * or empty ids, unknown flags, an owner or next out of range, a next equal
 * to the owner, bytes left over), DYN_ERR_NOMEM; ring is unchanged on
 * error.
 */
int			dyn_ring_decode(dyn_slice s, dyn_ring *ring);
/*
 * Append {"version":V,"partitions":Q,"n":N,"members":[{"id":..,
 * "address":..,"zone":..,"partitions":owned[,"leaving":true]}],
 * "owners":[id, ...],"pending":[{"partition":P,"from":id,"to":id}, ...]}.
 */
void		dyn_ring_to_json(const dyn_ring *ring, dyn_buf *b);

#endif							/* DYNAMO_RING_H */
