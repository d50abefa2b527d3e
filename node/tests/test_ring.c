/*
 * test_ring.c
 *		Unit tests for ring.c: key placement, the claim (even shares,
 *		distinct windows, zones, partitions moved by joins and leaves),
 *		pending ownership transfers (planned joins and leaves, completion,
 *		pruning, the target ring), preference lists, the binary encoding
 *		and what its decoder refuses, JSON, and how evenly random keys fall
 *		on the members.
 *
 * The checks below recompute everything from ring->owner by themselves
 * rather than trusting the fields ring.c derives.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dynamo/ring.h"

static const uint32_t grid_q[] = {8, 16, 64, 256};

/* What a run of joins or leaves cost, summed over a test. */
typedef struct tally
{
	uint32_t	changes;		/* joins or leaves done */
	uint32_t	moved;			/* partitions that changed owner */
	uint32_t	needed;			/* the minimum: share taken or partitions left */
	uint32_t	extra_changes;	/* changes that moved more than the minimum */
	uint32_t	reclaims;		/* changes at most N members, where all hold all */
} tally;

static dyn_slice bytes_of(const void *p, size_t n);
static void add(dyn_ring *ring, const char *id, const char *zone);
static void build(dyn_ring *ring, uint32_t q, uint32_t n, uint32_t s,
				  const char *zones, bool fresh);
static const char *zone_name(const char *zones, uint32_t i);
static uint32_t window_of(const dyn_ring *ring);
static uint32_t allowed_bad(const dyn_ring *ring);
static void check_even(const dyn_ring *ring);
static uint32_t bad_windows(const dyn_ring *ring);
static uint32_t zone_short_windows(const dyn_ring *ring);
static uint32_t distinct_zones(const dyn_ring *ring);
static uint32_t moved_between(const dyn_ring *before, const dyn_ring *after,
							  const char *only_to);
static uint32_t owned_by(const dyn_ring *ring, const char *id);
static void check_ring(const dyn_ring *ring);
static void check_same(const dyn_ring *a, const dyn_ring *b);
static void check_pending(const dyn_ring *ring);
static void check_owners_by_id(const dyn_ring *a, const dyn_ring *b);
static void complete_everything(dyn_ring *ring);
static void check_replicates(const dyn_ring *ring);
static void encode(const dyn_ring *ring, dyn_buf *b);
static uint64_t next_random(uint64_t *state);
static void change(dyn_ring *ring, const char *id, const char *zone,
				   bool leaving, tally *t);
static void check_balance(uint32_t q, uint32_t s);

/* A slice over n bytes at p. */
static dyn_slice
bytes_of(const void *p, size_t n)
{
	dyn_slice	s = {p, n};

	return s;
}

/* Join id (address derived from it) in zone ("" for none); must succeed. */
static void
add(dyn_ring *ring, const char *id, const char *zone)
{
	char		address[DYN_RING_ADDRESS_MAX + 1];

	snprintf(address, sizeof(address), "127.0.0.1:%d", 7400 + atoi(id + 1));
	assert_int_equal(dyn_ring_add_member(ring, dyn_slice_str(id),
										 dyn_slice_str(address),
										 dyn_slice_str(zone)), DYN_OK);
}

/*
 * A ring of s members n1..ns, zones taken round from the letters of zones
 * (NULL: none), joined one by one; fresh: then claimed afresh.
 */
static void
build(dyn_ring *ring, uint32_t q, uint32_t n, uint32_t s, const char *zones,
	  bool fresh)
{
	char		id[16];
	uint32_t	i;

	assert_int_equal(dyn_ring_init(ring, q, n), DYN_OK);
	for (i = 0; i < s; i++)
	{
		snprintf(id, sizeof(id), "n%u", i + 1);
		add(ring, id, zone_name(zones, i));
	}
	if (fresh)
		assert_int_equal(dyn_ring_claim_initial(ring), DYN_OK);
	check_ring(ring);
}

/* The zone of the i-th member: a letter of zones, in turn, or none. */
static const char *
zone_name(const char *zones, uint32_t i)
{
	static char name[2];

	if (zones == NULL)
		return "";
	name[0] = zones[i % strlen(zones)];
	name[1] = '\0';
	return name;
}

/* The windows that must hold distinct owners: min(N, members). */
static uint32_t
window_of(const dyn_ring *ring)
{
	return ring->nmembers < ring->n ? ring->nmembers : ring->n;
}

/*
 * Repeating windows no claim can avoid: with as many members as the window,
 * every window holds every member, which forces a period of S; when S does
 * not divide Q (S = N = 3 and Q a power of two) the wrap-around breaks it.
 */
static uint32_t
allowed_bad(const dyn_ring *ring)
{
	uint32_t	w = window_of(ring);

	return ring->nmembers == w && ring->q % w != 0 ? 2 : 0;
}

/* Every member owns floor(Q/S) or ceil(Q/S), and ->owned says so. */
static void
check_even(const dyn_ring *ring)
{
	uint32_t	lo = ring->q / ring->nmembers;
	uint32_t	hi = lo + (ring->q % ring->nmembers != 0);
	uint32_t	m;
	uint32_t	p;

	for (m = 0; m < ring->nmembers; m++)
	{
		uint32_t	owned = 0;

		for (p = 0; p < ring->q; p++)
			owned += ring->owner[p] == m;
		assert_int_equal(owned, ring->members[m].owned);
		assert_true(owned >= lo && owned <= hi);
	}
}

/* Windows of min(N, S) consecutive partitions that repeat an owner. */
static uint32_t
bad_windows(const dyn_ring *ring)
{
	uint32_t	w = window_of(ring);
	uint32_t	bad = 0;
	uint32_t	start;
	uint32_t	i;
	uint32_t	j;

	for (start = 0; start < ring->q; start++)
	{
		bool		repeats = false;

		for (i = 0; i < w && !repeats; i++)
			for (j = i + 1; j < w && !repeats; j++)
				repeats = ring->owner[(start + i) % ring->q] ==
					ring->owner[(start + j) % ring->q];
		bad += repeats;
	}
	return bad;
}

/* Distinct zones among the members (a member without one is its own). */
static uint32_t
distinct_zones(const dyn_ring *ring)
{
	uint32_t	zones = 0;
	uint32_t	i;
	uint32_t	j;

	for (i = 0; i < ring->nmembers; i++)
	{
		const char *z = ring->members[i].zone;

		for (j = 0; j < i; j++)
			if (z[0] != '\0' && strcmp(z, ring->members[j].zone) == 0)
				break;
		zones += j == i;
	}
	return zones;
}

/* Windows of min(N, S) partitions spanning fewer than min(N, S, zones) zones. */
static uint32_t
zone_short_windows(const dyn_ring *ring)
{
	uint32_t	w = window_of(ring);
	uint32_t	want = distinct_zones(ring) < w ? distinct_zones(ring) : w;
	uint32_t	short_ = 0;
	uint32_t	start;
	uint32_t	i;
	uint32_t	j;

	for (start = 0; start < ring->q; start++)
	{
		uint32_t	zones = 0;

		for (i = 0; i < w; i++)
		{
			const dyn_ring_member *a =
				&ring->members[ring->owner[(start + i) % ring->q]];

			for (j = 0; j < i; j++)
			{
				const dyn_ring_member *b =
					&ring->members[ring->owner[(start + j) % ring->q]];

				if (a == b || (a->zone[0] != '\0' && strcmp(a->zone, b->zone) == 0))
					break;
			}
			zones += j == i;
		}
		short_ += zones < want;
	}
	return short_;
}

/*
 * Partitions whose owner (by id: indices shift on a leave) differs between
 * two rings of the same Q; with only_to, also assert each of them now
 * belongs to that member.
 */
static uint32_t
moved_between(const dyn_ring *before, const dyn_ring *after, const char *only_to)
{
	uint32_t	moved = 0;
	uint32_t	p;

	for (p = 0; p < before->q; p++)
	{
		dyn_slice	a = dyn_ring_member_id(&before->members[before->owner[p]]);
		dyn_slice	b = dyn_ring_member_id(&after->members[after->owner[p]]);

		if (dyn_slice_eq(a, b))
			continue;
		moved++;
		if (only_to != NULL)
			assert_true(dyn_slice_eq(b, dyn_slice_str(only_to)));
	}
	return moved;
}

/* Partitions the member with this id owns. */
static uint32_t
owned_by(const dyn_ring *ring, const char *id)
{
	int			ix = dyn_ring_member_index(ring, dyn_slice_str(id));

	assert_true(ix >= 0);
	return ring->members[ix].owned;
}

/* The claim's guarantees: even, and windows distinct but where impossible. */
static void
check_ring(const dyn_ring *ring)
{
	uint32_t	bad;

	check_even(ring);
	bad = bad_windows(ring);
	if (bad > allowed_bad(ring))
		print_message("Q=%u N=%u S=%u: %u repeating windows\n",
					  ring->q, ring->n, ring->nmembers, bad);
	assert_true(bad <= allowed_bad(ring));
}

/* Two rings hold the same members, owners and version. */
static void
check_same(const dyn_ring *a, const dyn_ring *b)
{
	assert_true(a->version == b->version);
	assert_int_equal(a->q, b->q);
	assert_int_equal(a->n, b->n);
	assert_int_equal(a->nmembers, b->nmembers);
	assert_int_equal(a->nowning, b->nowning);
	assert_int_equal(a->nzones, b->nzones);
	if (a->nmembers == 0)
		return;
	assert_memory_equal(a->members, b->members,
						a->nmembers * sizeof(dyn_ring_member));
	assert_memory_equal(a->owner, b->owner, a->q * sizeof(uint16_t));
	assert_int_equal(a->npending, b->npending);
	assert_memory_equal(a->next, b->next, a->q * sizeof(uint16_t));
}

/*
 * next[] is consistent: each entry none or another member than the owner,
 * never a leaver, and npending counts them.
 */
static void
check_pending(const dyn_ring *ring)
{
	uint32_t	pending = 0;
	uint32_t	p;

	for (p = 0; p < ring->q; p++)
	{
		uint16_t	x = ring->next[p];

		if (x == DYN_RING_NO_OWNER)
			continue;
		pending++;
		assert_true(x < ring->nmembers);
		assert_true(x != ring->owner[p]);
		assert_false(ring->members[x].flags & DYN_RING_LEAVING);
	}
	assert_int_equal(pending, ring->npending);
}

/* Two rings of the same Q give every partition to the same id. */
static void
check_owners_by_id(const dyn_ring *a, const dyn_ring *b)
{
	uint32_t	p;

	assert_int_equal(a->q, b->q);
	for (p = 0; p < a->q; p++)
		assert_true(dyn_slice_eq(dyn_ring_member_id(&a->members[a->owner[p]]),
								 dyn_ring_member_id(&b->members[b->owner[p]])));
}

/* Report every partition's transfer done. */
static void
complete_everything(dyn_ring *ring)
{
	uint32_t   *all = malloc(ring->q * sizeof(uint32_t));
	uint32_t	p;

	assert_non_null(all);
	for (p = 0; p < ring->q; p++)
		all[p] = p;
	assert_int_equal(dyn_ring_complete(ring, all, ring->q), DYN_OK);
	free(all);
}

/*
 * dyn_ring_replicates says yes exactly for the first min(N, members)
 * entries of each preference list, and no out of range.
 */
static void
check_replicates(const dyn_ring *ring)
{
	uint32_t	list[DYN_RING_MEMBERS_MAX];
	uint32_t	replicas = ring->n < ring->nmembers ? ring->n : ring->nmembers;
	uint32_t	p;

	assert_int_equal(dyn_ring_replicas(ring), replicas);
	uint32_t	m;

	for (p = 0; p < ring->q; p++)
	{
		int			len = dyn_ring_preflist(ring, p, list, DYN_RING_MEMBERS_MAX);

		assert_int_equal(len, ring->nmembers);
		for (m = 0; m < ring->nmembers; m++)
		{
			uint32_t	i;
			bool		in = false;

			for (i = 0; i < replicas; i++)
				in |= list[i] == m;
			assert_true(dyn_ring_replicates(ring, p, m) == in);
		}
		assert_false(dyn_ring_replicates(ring, p, ring->nmembers));
	}
	assert_false(dyn_ring_replicates(ring, ring->q, 0));
}

/* The encoding of ring into b (reset first). */
static void
encode(const dyn_ring *ring, dyn_buf *b)
{
	dyn_buf_reset(b);
	dyn_ring_encode(ring, b);
	assert_int_equal(b->err, DYN_OK);
}

/* xorshift64*: a fixed, portable stream of test keys. */
static uint64_t
next_random(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545F4914F6CDD1DULL;
}


/* ------------------------------------------------------------------ tests */

/* Positions are BLAKE2b of "bucket \0 key"; partitions their top bits. */
static void
test_key_placement(void **state)
{
	uint64_t	pos = dyn_key_position(dyn_slice_str("carts"), dyn_slice_str("alice"));

	(void) state;
	assert_true(pos == dyn_key_position(dyn_slice_str("carts"), dyn_slice_str("alice")));
	assert_true(dyn_key_position(dyn_slice_str("ab"), dyn_slice_str("c")) !=
				dyn_key_position(dyn_slice_str("a"), dyn_slice_str("bc")));
	assert_int_equal(dyn_partition_of(pos, 1), 0);
	assert_int_equal(dyn_partition_of(pos, 64), (uint32_t) (pos >> 58));
	assert_int_equal(dyn_partition_of(UINT64_MAX, 65536), 65535);
	assert_int_equal(dyn_partition_of(0, 65536), 0);
	assert_true(dyn_partitions_valid(1));
	assert_true(dyn_partitions_valid(64));
	assert_true(dyn_partitions_valid(65536));
	assert_false(dyn_partitions_valid(0));
	assert_false(dyn_partitions_valid(48));
	assert_false(dyn_partitions_valid(131072));
}

/* Arguments, repeated joins, lookups, leaving down to an empty ring. */
static void
test_members(void **state)
{
	dyn_ring	ring;
	char		long_id[DYN_NODE_ID_MAX + 2];
	uint64_t	version;

	(void) state;
	assert_int_equal(dyn_ring_init(&ring, 48, 3), DYN_ERR_INVAL);
	dyn_ring_free(&ring);
	assert_int_equal(dyn_ring_init(&ring, 64, 0), DYN_ERR_INVAL);
	dyn_ring_free(&ring);
	assert_int_equal(dyn_ring_init(&ring, 64, DYN_RING_N_MAX + 1), DYN_ERR_INVAL);
	dyn_ring_free(&ring);

	assert_int_equal(dyn_ring_init(&ring, 64, 3), DYN_OK);
	assert_int_equal(dyn_ring_member_index(&ring, dyn_slice_str("n1")), DYN_ERR_NOTFOUND);
	assert_int_equal(dyn_ring_claim_initial(&ring), DYN_OK);
	assert_true(ring.version == 0);

	/* bad ids, addresses and zones change nothing */
	memset(long_id, 'x', sizeof(long_id));
	long_id[DYN_NODE_ID_MAX + 1] = '\0';
	assert_int_equal(dyn_ring_add_member(&ring, dyn_slice_str(""), dyn_slice_str("h:1"),
										 dyn_slice_str("")), DYN_ERR_INVAL);
	assert_int_equal(dyn_ring_add_member(&ring, dyn_slice_str(long_id), dyn_slice_str("h:1"),
										 dyn_slice_str("")), DYN_ERR_INVAL);
	assert_int_equal(dyn_ring_add_member(&ring, dyn_slice_str("n1"), dyn_slice_str(""),
										 dyn_slice_str("")), DYN_ERR_INVAL);
	assert_int_equal(dyn_ring_add_member(&ring, dyn_slice_str("n1"), bytes_of("h\0:1", 4),
										 dyn_slice_str("")), DYN_ERR_INVAL);
	assert_int_equal(dyn_ring_add_member(&ring, dyn_slice_str("n1"), dyn_slice_str("h:1"),
										 dyn_slice_str("0123456789012345678901234567890123")),
					 DYN_ERR_INVAL);
	assert_int_equal(ring.nmembers, 0);

	/* the first member owns everything; ids are bytes, the longest allowed */
	long_id[DYN_NODE_ID_MAX] = '\0';
	add(&ring, "n1", "a");
	assert_int_equal(ring.members[0].owned, 64);
	assert_int_equal(dyn_ring_add_member(&ring, dyn_slice_str(long_id), dyn_slice_str("h:2"),
										 dyn_slice_str("b")), DYN_OK);
	assert_int_equal(dyn_ring_member_index(&ring, dyn_slice_str(long_id)), 1);
	check_ring(&ring);

	/* joining again: same zone refreshes the address, another zone is refused */
	version = ring.version;
	add(&ring, "n1", "a");
	assert_true(ring.version == version);
	assert_int_equal(dyn_ring_add_member(&ring, dyn_slice_str("n1"), dyn_slice_str("h:9"),
										 dyn_slice_str("a")), DYN_OK);
	assert_true(ring.version == version + 1);
	assert_string_equal(ring.members[0].address, "h:9");
	assert_int_equal(dyn_ring_add_member(&ring, dyn_slice_str("n1"), dyn_slice_str("h:9"),
										 dyn_slice_str("b")), DYN_ERR_INVAL);
	assert_int_equal(ring.nmembers, 2);

	/* leaving: unknown ids, then down to nothing and back */
	assert_int_equal(dyn_ring_remove_member(&ring, dyn_slice_str("n9")), DYN_ERR_NOTFOUND);
	assert_int_equal(dyn_ring_remove_member(&ring, dyn_slice_str("n1")), DYN_OK);
	assert_int_equal(ring.nmembers, 1);
	assert_int_equal(ring.members[0].owned, 64);
	assert_int_equal(dyn_ring_remove_member(&ring, dyn_slice_str(long_id)), DYN_OK);
	assert_int_equal(ring.nmembers, 0);
	assert_int_equal(ring.nowning, 0);
	add(&ring, "n2", "");
	assert_int_equal(ring.members[0].owned, 64);
	dyn_ring_free(&ring);
}

/*
 * The fresh claim for S = 1..8, Q in {8,16,64,256}, N in {1,2,3}, with no
 * zones and with zones a,b,c in turn: even, distinct windows (S = N = 3
 * excepted, see allowed_bad), and with balanced zones (S a multiple of 3)
 * the windows span three zones but where the wrap-around forbids it.
 */
static void
test_claim_initial(void **state)
{
	const char *zone_sets[] = {NULL, "abc"};
	uint32_t	qi;
	uint32_t	n;
	uint32_t	s;
	uint32_t	z;

	(void) state;
	for (qi = 0; qi < sizeof(grid_q) / sizeof(grid_q[0]); qi++)
		for (n = 1; n <= 3; n++)
			for (s = 1; s <= 8; s++)
				for (z = 0; z < 2; z++)
				{
					dyn_ring	ring;
					uint32_t	short_;

					build(&ring, grid_q[qi], n, s, zone_sets[z], true);
					short_ = zone_short_windows(&ring);
					if (zone_sets[z] != NULL && s % 3 == 0)
						assert_true(short_ <= 2);
					if (zone_sets[z] != NULL && n == 3 && grid_q[qi] == 64)
						print_message("fresh Q=64 N=3 S=%u zones abc: %u of 64 windows span fewer zones than they could\n",
									  s, short_);
					if (allowed_bad(&ring) > 0 && z == 0 && grid_q[qi] == 64)
						print_message("fresh Q=64 N=%u S=%u: %u repeating windows (unavoidable)\n",
									  n, s, bad_windows(&ring));
					dyn_ring_free(&ring);
				}
}

/*
 * The brief's example: three members claimed afresh at Q=64, N=3, then a
 * fourth joins: exactly 16 partitions move, every one to the newcomer, and
 * the two repeating windows at the wrap-around become distinct (the
 * newcomer takes a partition there).  Zones a,b,c plus a fourth in a: the
 * same.
 */
static void
test_join_3_to_4(void **state)
{
	const char *zone_sets[] = {NULL, "abca"};
	uint32_t	z;

	(void) state;
	for (z = 0; z < 2; z++)
	{
		dyn_ring	before;
		dyn_ring	after;

		build(&before, 64, 3, 3, zone_sets[z], true);
		assert_int_equal(bad_windows(&before), 2);
		assert_int_equal(dyn_ring_init(&after, 8, 1), DYN_OK);
		assert_int_equal(dyn_ring_copy(&after, &before), DYN_OK);
		add(&after, "n4", zone_name(zone_sets[z], 3));
		check_ring(&after);
		assert_int_equal(bad_windows(&after), 0);
		assert_int_equal(owned_by(&after, "n4"), 16);
		assert_int_equal(moved_between(&before, &after, "n4"), 16);
		assert_true(after.version == before.version + 1);
		dyn_ring_free(&before);
		dyn_ring_free(&after);
	}
}

/*
 * One join or leave on ring, checked and tallied.  Beyond N members a join
 * that moves the minimum must move only to the newcomer, and a leave to
 * N+2 or more members may move at most two partitions besides the
 * leaver's; a leave down to N+1 members may re-claim (printed).
 */
static void
change(dyn_ring *ring, const char *id, const char *zone, bool leaving, tally *t)
{
	dyn_ring	before;
	uint32_t	moved;
	uint32_t	needed;
	uint32_t	after_s = leaving ? ring->nmembers - 1 : ring->nmembers + 1;

	assert_int_equal(dyn_ring_init(&before, 8, 1), DYN_OK);
	assert_int_equal(dyn_ring_copy(&before, ring), DYN_OK);
	if (leaving)
	{
		needed = owned_by(ring, id);
		assert_int_equal(dyn_ring_remove_member(ring, dyn_slice_str(id)), DYN_OK);
		assert_int_equal(dyn_ring_member_index(ring, dyn_slice_str(id)), DYN_ERR_NOTFOUND);
	}
	else
	{
		needed = ring->q / after_s;
		add(ring, id, zone);
		assert_true(owned_by(ring, id) >= needed);
	}
	assert_true(ring->version == before.version + 1);
	if (ring->nmembers == 0)
	{
		dyn_ring_free(&before);
		return;
	}
	check_ring(ring);

	t->changes++;
	if (after_s <= ring->n)
	{
		/* all members hold every key: ownership moves, data does not */
		t->reclaims++;
		dyn_ring_free(&before);
		return;
	}
	moved = moved_between(&before, ring, NULL);
	assert_true(moved >= needed);
	if (moved == needed && !leaving)
		moved_between(&before, ring, id);
	/* beyond N+1 members a leave mends at most a repeat or two by swaps */
	if (leaving && after_s >= ring->n + 2)
		assert_true(moved <= needed + 2);
	t->moved += moved;
	t->needed += needed;
	t->extra_changes += moved > needed;
	if (moved > needed)
		print_message("  Q=%u N=%u %s %s (%u -> %u members): %u partitions moved, %u needed\n",
					  ring->q, ring->n, leaving ? "leave of" : "join of", id,
					  before.nmembers, ring->nmembers, moved, needed);
	dyn_ring_free(&before);
}

/*
 * Joins from one member to eight, then leaves in a scrambled order down to
 * one, for every Q and N of the grid, without zones and with zones a,b,c:
 * every state even with distinct windows; the partitions moved beyond the
 * minimum are counted and printed per Q.
 */
static void
test_join_leave_sequences(void **state)
{
	static const char *const leave_order[] = {"n3", "n8", "n1", "n6", "n4", "n7", "n2"};
	const char *zone_sets[] = {NULL, "abc"};
	uint32_t	qi;

	(void) state;
	for (qi = 0; qi < sizeof(grid_q) / sizeof(grid_q[0]); qi++)
	{
		tally		joins = {0};
		tally		leaves = {0};
		uint32_t	n;
		uint32_t	z;

		for (n = 1; n <= 3; n++)
			for (z = 0; z < 2; z++)
			{
				dyn_ring	ring;
				char		id[16];
				uint32_t	i;

				assert_int_equal(dyn_ring_init(&ring, grid_q[qi], n), DYN_OK);
				for (i = 0; i < 8; i++)
				{
					snprintf(id, sizeof(id), "n%u", i + 1);
					change(&ring, id, zone_name(zone_sets[z], i), false, &joins);
				}
				for (i = 0; i < 7; i++)
					change(&ring, leave_order[i], NULL, true, &leaves);
				dyn_ring_free(&ring);
			}
		print_message("Q=%u joins beyond N members: %u partitions moved for %u needed; "
					  "%u of %u joins moved more\n",
					  grid_q[qi], joins.moved, joins.needed, joins.extra_changes,
					  joins.changes - joins.reclaims);
		print_message("Q=%u leaves beyond N members: %u partitions moved for %u needed; "
					  "%u of %u leaves moved more\n",
					  grid_q[qi], leaves.moved, leaves.needed, leaves.extra_changes,
					  leaves.changes - leaves.reclaims);
		/* joins into a ring whose windows were distinct never need more */
		if (grid_q[qi] >= 16)
			assert_int_equal(joins.extra_changes, 0);
	}
}

/*
 * Zones a,b,c on six members, N=3, claimed afresh and grown by joins:
 * every preference list spans the three zones, also after a member of
 * zone b left and another joined.  How many windows of 3 partitions span
 * fewer zones is printed (the preference list does not depend on it).
 */
static void
test_zones(void **state)
{
	static const uint32_t qs[] = {16, 64, 256};
	uint32_t	qi;
	uint32_t	fresh;

	(void) state;
	for (qi = 0; qi < sizeof(qs) / sizeof(qs[0]); qi++)
		for (fresh = 0; fresh < 2; fresh++)
		{
			dyn_ring	ring;
			uint32_t	step;

			build(&ring, qs[qi], 3, 6, "abc", fresh);
			if (fresh)
				assert_true(zone_short_windows(&ring) <= 2);
			for (step = 0; step < 3; step++)
			{
				uint32_t	p;

				for (p = 0; p < ring.q; p++)
				{
					uint32_t	list[8];
					int			len = dyn_ring_preflist(&ring, p, list, 3);

					assert_int_equal(len, 3);
					assert_int_equal(list[0], ring.owner[p]);
					assert_true(strcmp(ring.members[list[0]].zone, ring.members[list[1]].zone) != 0);
					assert_true(strcmp(ring.members[list[0]].zone, ring.members[list[2]].zone) != 0);
					assert_true(strcmp(ring.members[list[1]].zone, ring.members[list[2]].zone) != 0);
				}
				print_message("Q=%u six members in zones abc, %s%s: %u of %u windows span fewer than 3 zones\n",
							  qs[qi], fresh ? "claimed afresh" : "grown by joins",
							  step == 0 ? "" : step == 1 ? ", n2 left" : ", n7 joined in b",
							  zone_short_windows(&ring), ring.q);
				if (step == 0)
				{
					assert_int_equal(dyn_ring_remove_member(&ring, dyn_slice_str("n2")), DYN_OK);
					check_ring(&ring);
				}
				else if (step == 1)
				{
					add(&ring, "n7", "b");
					check_ring(&ring);
				}
			}
			dyn_ring_free(&ring);
		}
}

/*
 * More members than partitions: shares of 0 or 1, the windows still
 * distinct, members owning nothing at the end of every preference list.
 * And a join into a ring that was not even (decoded from a peer) re-claims
 * it evenly.
 */
static void
test_crowded_and_uneven(void **state)
{
	/* Q=8 N=1; x owns 7 partitions, y one; nothing pending */
	static const uint8_t uneven[] =
		"\x02" "\0\0\0\0\0\0\0\x05" "\0\0\0\x08" "\x01" "\0\x02"
		"\x01" "x" "\x03" "h:1" "\0" "\0"
		"\x01" "y" "\x03" "h:2" "\0" "\0"
		"\0\0" "\0\0" "\0\0" "\0\0" "\0\0" "\0\0" "\0\0" "\0\x01"
		"\xff\xff" "\xff\xff" "\xff\xff" "\xff\xff" "\xff\xff" "\xff\xff" "\xff\xff" "\xff\xff";
	dyn_ring	ring;
	uint32_t	list[8];
	uint32_t	p;

	(void) state;
	build(&ring, 4, 3, 6, NULL, false);
	assert_int_equal(ring.nowning, 4);
	for (p = 0; p < ring.q; p++)
	{
		uint32_t	i;

		assert_int_equal(dyn_ring_preflist(&ring, p, list, 8), 6);
		for (i = 0; i < 3; i++)
			assert_int_equal(list[i], ring.owner[(p + i) % ring.q]);
		assert_int_equal(ring.members[list[4]].owned, 0);
		assert_int_equal(ring.members[list[5]].owned, 0);
	}
	assert_int_equal(dyn_ring_remove_member(&ring, dyn_slice_str("n1")), DYN_OK);
	check_ring(&ring);
	dyn_ring_free(&ring);

	assert_int_equal(dyn_ring_init(&ring, 8, 1), DYN_OK);
	assert_int_equal(dyn_ring_decode(bytes_of(uneven, sizeof(uneven) - 1), &ring), DYN_OK);
	assert_int_equal(ring.members[0].owned, 7);
	add(&ring, "n3", "");
	check_ring(&ring);
	assert_true(ring.version == 6);
	dyn_ring_free(&ring);
}

/*
 * Preference lists on a ring with distinct windows are the owners of N
 * consecutive partitions, then every other member once; max truncates;
 * the key form agrees; bad partitions and empty rings.
 */
static void
test_preflist(void **state)
{
	dyn_ring	ring;
	uint32_t	list[8];
	uint32_t	p;
	int			len;

	(void) state;
	build(&ring, 64, 3, 5, NULL, false);
	for (p = 0; p < ring.q; p++)
	{
		bool		seen[5] = {false};
		uint32_t	i;

		len = dyn_ring_preflist(&ring, p, list, 8);
		assert_int_equal(len, 5);
		for (i = 0; i < 3; i++)
			assert_int_equal(list[i], ring.owner[(p + i) % ring.q]);
		for (i = 0; i < 5; i++)
		{
			assert_false(seen[list[i]]);
			seen[list[i]] = true;
		}
	}
	assert_int_equal(dyn_ring_preflist(&ring, 0, list, 2), 2);
	assert_int_equal(list[0], ring.owner[0]);
	assert_int_equal(dyn_ring_preflist(&ring, 0, list, 0), 0);
	assert_int_equal(dyn_ring_preflist(&ring, 64, list, 8), DYN_ERR_INVAL);

	p = dyn_partition_of(dyn_key_position(dyn_slice_str("carts"), dyn_slice_str("bob")), 64);
	len = dyn_ring_preflist_key(&ring, dyn_slice_str("carts"), dyn_slice_str("bob"), list, 3);
	assert_int_equal(len, 3);
	assert_int_equal(list[0], ring.owner[p]);
	dyn_ring_free(&ring);

	assert_int_equal(dyn_ring_init(&ring, 64, 3), DYN_OK);
	assert_int_equal(dyn_ring_preflist(&ring, 0, list, 8), 0);
	dyn_ring_free(&ring);
}

/*
 * Preference lists on hand-made rings (through the decoder): new zones
 * come first, and members owning nothing come last.
 */
static void
test_preflist_order(void **state)
{
	/* Q=8 N=3; a1, a2 in zone a, b1 in b; owners a1 a2 b1 a1 a2 b1 a1 a2 */
	static const uint8_t zoned[] =
		"\x02" "\0\0\0\0\0\0\0\x07" "\0\0\0\x08" "\x03" "\0\x03"
		"\x02" "a1" "\x03" "h:1" "\x01" "a" "\0"
		"\x02" "a2" "\x03" "h:2" "\x01" "a" "\0"
		"\x02" "b1" "\x03" "h:3" "\x01" "b" "\0"
		"\0\0" "\0\x01" "\0\x02" "\0\0" "\0\x01" "\0\x02" "\0\0" "\0\x01"
		"\xff\xff" "\xff\xff" "\xff\xff" "\xff\xff" "\xff\xff" "\xff\xff" "\xff\xff" "\xff\xff";
	/* Q=2 N=2; x, y, z without zones; owners x y: z owns nothing */
	static const uint8_t crowded[] =
		"\x02" "\0\0\0\0\0\0\0\x01" "\0\0\0\x02" "\x02" "\0\x03"
		"\x01" "x" "\x03" "h:1" "\0" "\0"
		"\x01" "y" "\x03" "h:2" "\0" "\0"
		"\x01" "z" "\x03" "h:3" "\0" "\0"
		"\0\0" "\0\x01"
		"\xff\xff" "\xff\xff";
	dyn_ring	ring;
	uint32_t	list[8];

	(void) state;
	assert_int_equal(dyn_ring_init(&ring, 64, 3), DYN_OK);
	assert_int_equal(dyn_ring_decode(bytes_of(zoned, sizeof(zoned) - 1), &ring), DYN_OK);
	assert_true(ring.version == 7);
	assert_int_equal(ring.nzones, 2);
	/* walk a1 a2 b1: zone a, skip a2 (zone a seen), zone b, then fill a2 */
	assert_int_equal(dyn_ring_preflist(&ring, 0, list, 8), 3);
	assert_int_equal(list[0], 0);
	assert_int_equal(list[1], 2);
	assert_int_equal(list[2], 1);
	/* from partition 7 (a2): a2, then a1 skipped, b1, then a1 */
	assert_int_equal(dyn_ring_preflist(&ring, 7, list, 8), 3);
	assert_int_equal(list[0], 1);
	assert_int_equal(list[1], 2);
	assert_int_equal(list[2], 0);

	assert_int_equal(dyn_ring_decode(bytes_of(crowded, sizeof(crowded) - 1), &ring), DYN_OK);
	assert_int_equal(ring.nowning, 2);
	assert_int_equal(dyn_ring_preflist(&ring, 1, list, 8), 3);
	assert_int_equal(list[0], 1);
	assert_int_equal(list[1], 0);
	assert_int_equal(list[2], 2);
	dyn_ring_free(&ring);
}

/*
 * A planned join on three members claimed afresh at Q=64, N=3 (no zones,
 * and zones a,b,c plus a fourth in a): the joiner owns nothing, next[]
 * names it for exactly the partitions dyn_ring_add_member would give it,
 * and nothing else; preference lists do not change until transfers
 * complete; completing half moves those only; completing all gives
 * add_member's owner table.  One version per change; repeating a
 * completion, or a bad partition, changes nothing.
 */
static void
test_plan_join(void **state)
{
	const char *zone_sets[] = {NULL, "abca"};
	uint32_t	z;

	(void) state;
	for (z = 0; z < 2; z++)
	{
		dyn_ring	ring;
		dyn_ring	before;
		dyn_ring	expected;
		uint32_t	moving[64];
		uint32_t	nmoving = 0;
		uint32_t	list[8];
		uint32_t	was[8];
		uint32_t	bad[2] = {0, 64};
		uint64_t	version;
		uint32_t	p;

		build(&ring, 64, 3, 3, zone_sets[z], true);
		assert_int_equal(dyn_ring_init(&before, 8, 1), DYN_OK);
		assert_int_equal(dyn_ring_copy(&before, &ring), DYN_OK);
		assert_int_equal(dyn_ring_init(&expected, 8, 1), DYN_OK);
		assert_int_equal(dyn_ring_copy(&expected, &ring), DYN_OK);
		add(&expected, "n4", zone_name(zone_sets[z], 3));
		assert_int_equal(ring.npending, 0);

		assert_int_equal(dyn_ring_plan_join(&ring, dyn_slice_str("n4"),
											dyn_slice_str("127.0.0.1:7404"),
											dyn_slice_str(zone_name(zone_sets[z], 3))),
						 DYN_OK);
		assert_true(ring.version == before.version + 1);
		assert_int_equal(ring.nmembers, 4);
		assert_int_equal(ring.members[3].owned, 0);
		assert_int_equal(ring.members[3].flags, 0);
		assert_memory_equal(ring.owner, before.owner, 64 * sizeof(uint16_t));
		assert_int_equal(ring.npending, 16);
		check_pending(&ring);
		for (p = 0; p < 64; p++)
		{
			if (expected.owner[p] == 3)
			{
				assert_int_equal(ring.next[p], 3);
				moving[nmoving++] = p;
			}
			else
				assert_int_equal(ring.next[p], DYN_RING_NO_OWNER);
		}
		assert_int_equal(nmoving, 16);

		/* requests still go where they went; the joiner is last */
		for (p = 0; p < 64; p++)
		{
			assert_int_equal(dyn_ring_preflist(&before, p, was, 8), 3);
			assert_int_equal(dyn_ring_preflist(&ring, p, list, 8), 4);
			assert_memory_equal(list, was, 3 * sizeof(uint32_t));
			assert_int_equal(list[3], 3);
		}
		check_replicates(&ring);

		/* a bad partition anywhere in the list changes nothing */
		version = ring.version;
		assert_int_equal(dyn_ring_complete(&ring, bad, 2), DYN_ERR_INVAL);
		assert_true(ring.version == version);
		assert_int_equal(ring.npending, 16);

		/* half of the transfers done: those partitions only change hands */
		assert_int_equal(dyn_ring_complete(&ring, moving, 8), DYN_OK);
		assert_true(ring.version == version + 1);
		assert_int_equal(ring.npending, 8);
		assert_int_equal(ring.members[3].owned, 8);
		check_pending(&ring);
		for (p = 0; p < 64; p++)
		{
			bool		done = false;
			uint32_t	i;

			for (i = 0; i < 8; i++)
				done |= moving[i] == p;
			assert_int_equal(ring.owner[p], done ? 3 : before.owner[p]);
		}
		check_replicates(&ring);
		/* again: nothing pending there, no change */
		assert_int_equal(dyn_ring_complete(&ring, moving, 8), DYN_OK);
		assert_true(ring.version == version + 1);
		assert_int_equal(dyn_ring_complete(&ring, NULL, 0), DYN_OK);
		assert_true(ring.version == version + 1);

		/* the rest in one call: add_member's ring */
		complete_everything(&ring);
		assert_true(ring.version == version + 2);
		assert_int_equal(ring.npending, 0);
		assert_memory_equal(ring.owner, expected.owner, 64 * sizeof(uint16_t));
		expected.version = ring.version;
		check_same(&ring, &expected);
		check_ring(&ring);
		assert_int_equal(dyn_ring_prune(&ring), 0);
		assert_true(ring.version == version + 2);

		dyn_ring_free(&ring);
		dyn_ring_free(&before);
		dyn_ring_free(&expected);
	}
}

/*
 * A founder on an empty ring owns everything at once; a planned join of a
 * known id is a repeated join (address refresh, or another zone refused).
 */
static void
test_plan_join_founder(void **state)
{
	dyn_ring	ring;

	(void) state;
	assert_int_equal(dyn_ring_init(&ring, 64, 3), DYN_OK);
	assert_int_equal(dyn_ring_plan_join(&ring, dyn_slice_str(""), dyn_slice_str("h:1"),
										dyn_slice_str("")), DYN_ERR_INVAL);
	assert_int_equal(dyn_ring_plan_join(&ring, dyn_slice_str("n1"), dyn_slice_str("h:1"),
										dyn_slice_str("a")), DYN_OK);
	assert_true(ring.version == 1);
	assert_int_equal(ring.nmembers, 1);
	assert_int_equal(ring.members[0].owned, 64);
	assert_int_equal(ring.npending, 0);
	check_pending(&ring);

	assert_int_equal(dyn_ring_plan_join(&ring, dyn_slice_str("n1"), dyn_slice_str("h:1"),
										dyn_slice_str("a")), DYN_OK);
	assert_true(ring.version == 1);
	assert_int_equal(dyn_ring_plan_join(&ring, dyn_slice_str("n1"), dyn_slice_str("h:2"),
										dyn_slice_str("a")), DYN_OK);
	assert_true(ring.version == 2);
	assert_string_equal(ring.members[0].address, "h:2");
	assert_int_equal(dyn_ring_plan_join(&ring, dyn_slice_str("n1"), dyn_slice_str("h:2"),
										dyn_slice_str("b")), DYN_ERR_INVAL);

	/* the only member cannot leave */
	assert_int_equal(dyn_ring_plan_leave(&ring, dyn_slice_str("n1")), DYN_ERR_INVAL);
	assert_int_equal(dyn_ring_plan_leave(&ring, dyn_slice_str("n2")), DYN_ERR_NOTFOUND);
	assert_true(ring.version == 2);
	assert_int_equal(ring.members[0].flags, 0);

	/* a second member (S <= N: a re-claim) gets its half only by transfer */
	assert_int_equal(dyn_ring_plan_join(&ring, dyn_slice_str("n2"), dyn_slice_str("h:3"),
										dyn_slice_str("b")), DYN_OK);
	assert_true(ring.version == 3);
	assert_int_equal(ring.members[0].owned, 64);
	assert_int_equal(ring.npending, 32);
	check_pending(&ring);
	complete_everything(&ring);
	check_ring(&ring);
	dyn_ring_free(&ring);
}

/*
 * A planned leave of n2 from five members grown by joins, Q=64 N=3: owners
 * stay, next[] is where remove_member would differ; a repeated plan and a
 * re-join are refused or no-ops; the leaver is not pruned while it owns;
 * completing all and pruning gives remove_member's ring.  Then down to the
 * last member that is not leaving, which cannot leave.
 */
static void
test_plan_leave(void **state)
{
	dyn_ring	ring;
	dyn_ring	before;
	dyn_ring	expected;
	uint64_t	version;
	uint32_t	p;

	(void) state;
	build(&ring, 64, 3, 5, "abc", false);
	assert_int_equal(dyn_ring_init(&before, 8, 1), DYN_OK);
	assert_int_equal(dyn_ring_copy(&before, &ring), DYN_OK);
	assert_int_equal(dyn_ring_init(&expected, 8, 1), DYN_OK);
	assert_int_equal(dyn_ring_copy(&expected, &ring), DYN_OK);
	assert_int_equal(dyn_ring_remove_member(&expected, dyn_slice_str("n2")), DYN_OK);

	assert_int_equal(dyn_ring_plan_leave(&ring, dyn_slice_str("n9")), DYN_ERR_NOTFOUND);
	assert_int_equal(dyn_ring_plan_leave(&ring, dyn_slice_str("n2")), DYN_OK);
	assert_true(ring.version == before.version + 1);
	assert_int_equal(ring.members[1].flags, DYN_RING_LEAVING);
	assert_memory_equal(ring.owner, before.owner, 64 * sizeof(uint16_t));
	check_pending(&ring);
	for (p = 0; p < 64; p++)
	{
		dyn_slice	now = dyn_ring_member_id(&ring.members[ring.owner[p]]);
		dyn_slice	then = dyn_ring_member_id(&expected.members[expected.owner[p]]);

		if (dyn_slice_eq(now, then))
			assert_int_equal(ring.next[p], DYN_RING_NO_OWNER);
		else
			assert_true(dyn_slice_eq(dyn_ring_member_id(&ring.members[ring.next[p]]), then));
		if (ring.owner[p] == 1)
			assert_true(ring.next[p] != DYN_RING_NO_OWNER);
	}
	assert_true(ring.npending >= ring.members[1].owned);
	check_replicates(&ring);

	/* again: no change; joining back while leaving is refused */
	version = ring.version;
	assert_int_equal(dyn_ring_plan_leave(&ring, dyn_slice_str("n2")), DYN_OK);
	assert_int_equal(dyn_ring_plan_join(&ring, dyn_slice_str("n2"),
										dyn_slice_str("127.0.0.1:7402"),
										dyn_slice_str("b")), DYN_ERR_INVAL);
	assert_true(ring.version == version);
	assert_int_equal(dyn_ring_prune(&ring), 0);
	assert_true(ring.version == version);

	complete_everything(&ring);
	assert_true(ring.version == version + 1);
	assert_int_equal(ring.members[1].owned, 0);
	assert_int_equal(ring.nmembers, 5);
	assert_int_equal(dyn_ring_prune(&ring), 1);
	assert_true(ring.version == version + 2);
	assert_int_equal(dyn_ring_member_index(&ring, dyn_slice_str("n2")), DYN_ERR_NOTFOUND);
	expected.version = ring.version;
	check_same(&ring, &expected);
	check_ring(&ring);
	assert_int_equal(dyn_ring_prune(&ring), 0);
	assert_true(ring.version == version + 2);

	/* leave all but n5: the last one standing cannot go */
	assert_int_equal(dyn_ring_plan_leave(&ring, dyn_slice_str("n1")), DYN_OK);
	assert_int_equal(dyn_ring_plan_leave(&ring, dyn_slice_str("n3")), DYN_OK);
	assert_int_equal(dyn_ring_plan_leave(&ring, dyn_slice_str("n4")), DYN_OK);
	check_pending(&ring);
	version = ring.version;
	assert_int_equal(dyn_ring_plan_leave(&ring, dyn_slice_str("n5")), DYN_ERR_INVAL);
	assert_true(ring.version == version);
	complete_everything(&ring);
	assert_int_equal(dyn_ring_prune(&ring), 3);
	assert_int_equal(ring.nmembers, 1);
	assert_int_equal(ring.members[0].owned, 64);
	assert_int_equal(ring.npending, 0);

	dyn_ring_free(&ring);
	dyn_ring_free(&before);
	dyn_ring_free(&expected);
}

/*
 * Prune keeps a leaver while it still owns a partition or is a partition's
 * next (a hand-made ring: Q=4 N=1, x owns everything, y is leaving and
 * owns nothing but partition 0 is headed for it).
 */
static void
test_prune(void **state)
{
	static const uint8_t bytes[] =
		"\x02" "\0\0\0\0\0\0\0\x09" "\0\0\0\x04" "\x01" "\0\x03"
		"\x01" "x" "\x03" "h:1" "\0" "\0"
		"\x01" "y" "\x03" "h:2" "\0" "\x01"
		"\x01" "z" "\x03" "h:3" "\0" "\x01"
		"\0\0" "\0\0" "\0\0" "\0\0"
		"\0\x01" "\xff\xff" "\xff\xff" "\xff\xff";
	uint32_t	first = 0;
	dyn_ring	ring;

	(void) state;
	assert_int_equal(dyn_ring_init(&ring, 8, 1), DYN_OK);
	assert_int_equal(dyn_ring_decode(bytes_of(bytes, sizeof(bytes) - 1), &ring), DYN_OK);
	assert_int_equal(ring.npending, 1);
	assert_int_equal(ring.members[1].owned, 0);

	/* z owns nothing and nothing comes to it: it goes, y stays (and moves down) */
	assert_int_equal(dyn_ring_prune(&ring), 1);
	assert_true(ring.version == 10);
	assert_int_equal(ring.nmembers, 2);
	assert_int_equal(ring.next[0], 1);

	/* y now owns partition 0 */
	assert_int_equal(dyn_ring_complete(&ring, &first, 1), DYN_OK);
	assert_true(ring.version == 11);
	assert_int_equal(ring.members[1].owned, 1);
	assert_int_equal(dyn_ring_prune(&ring), 0);
	assert_int_equal(ring.nmembers, 2);

	/*
	 * y was marked leaving without a plan (so planning its leave again is
	 * a no-op); the next plan sends its partition away all the same, and
	 * once that is done y goes
	 */
	assert_int_equal(dyn_ring_plan_leave(&ring, dyn_slice_str("y")), DYN_OK);
	assert_true(ring.version == 11);
	assert_int_equal(dyn_ring_plan_join(&ring, dyn_slice_str("w"), dyn_slice_str("h:4"),
										dyn_slice_str("")), DYN_OK);
	check_pending(&ring);
	assert_true(ring.next[0] != DYN_RING_NO_OWNER);
	complete_everything(&ring);
	assert_int_equal(ring.members[1].owned, 0);
	assert_int_equal(dyn_ring_prune(&ring), 1);
	assert_int_equal(ring.nmembers, 2);
	check_ring(&ring);
	dyn_ring_free(&ring);
}

/*
 * Planned changes on top of each other, and the target ring: with a leave
 * and a join pending, the target is remove_member then add_member on the
 * ring as it was, completing everything and pruning gives it, and direct
 * membership changes keep next[] valid.
 */
static void
test_target(void **state)
{
	dyn_ring	ring;
	dyn_ring	target;
	dyn_ring	expected;
	dyn_ring	other;
	int			ix;
	uint32_t	p;

	(void) state;
	build(&ring, 64, 3, 6, "abc", true);
	assert_int_equal(dyn_ring_init(&expected, 8, 1), DYN_OK);
	assert_int_equal(dyn_ring_copy(&expected, &ring), DYN_OK);
	assert_int_equal(dyn_ring_remove_member(&expected, dyn_slice_str("n2")), DYN_OK);
	add(&expected, "n7", "b");

	assert_int_equal(dyn_ring_plan_leave(&ring, dyn_slice_str("n2")), DYN_OK);
	assert_int_equal(dyn_ring_plan_join(&ring, dyn_slice_str("n7"),
										dyn_slice_str("127.0.0.1:7407"),
										dyn_slice_str("b")), DYN_OK);
	check_pending(&ring);
	check_replicates(&ring);

	assert_int_equal(dyn_ring_init(&target, 8, 1), DYN_OK);
	assert_int_equal(dyn_ring_target(&ring, &target), DYN_OK);
	assert_true(target.version == ring.version);
	assert_int_equal(target.nmembers, 6);
	assert_int_equal(target.npending, 0);
	assert_int_equal(dyn_ring_member_index(&target, dyn_slice_str("n2")), DYN_ERR_NOTFOUND);
	check_owners_by_id(&target, &expected);
	check_ring(&target);
	check_replicates(&target);

	/* the ring itself gets there */
	assert_int_equal(dyn_ring_init(&other, 8, 1), DYN_OK);
	assert_int_equal(dyn_ring_copy(&other, &ring), DYN_OK);
	complete_everything(&other);
	assert_int_equal(dyn_ring_prune(&other), 1);
	other.version = target.version;
	check_same(&other, &target);

	/* a direct removal renumbers next[] and drops what was headed for it */
	assert_int_equal(dyn_ring_copy(&other, &ring), DYN_OK);
	assert_int_equal(dyn_ring_remove_member(&other, dyn_slice_str("n1")), DYN_OK);
	check_pending(&other);
	ix = dyn_ring_member_index(&other, dyn_slice_str("n7"));
	for (p = 0; p < 64; p++)
	{
		if (ring.next[p] == DYN_RING_NO_OWNER || ring.next[p] == 0)
			continue;
		if (other.owner[p] == ring.next[p] - 1)
			continue;			/* the removal gave it there at once */
		assert_int_equal(other.next[p], ring.next[p] - 1);
	}
	assert_int_equal(dyn_ring_remove_member(&other, dyn_slice_str("n7")), DYN_OK);
	check_pending(&other);
	for (p = 0; p < 64; p++)
		assert_true(other.next[p] == DYN_RING_NO_OWNER || (int) other.next[p] < ix);

	/* a direct join keeps them; a fresh claim drops them and the leaving flag */
	assert_int_equal(dyn_ring_copy(&other, &ring), DYN_OK);
	add(&other, "n8", "c");
	check_pending(&other);
	assert_int_equal(dyn_ring_claim_initial(&other), DYN_OK);
	assert_int_equal(other.npending, 0);
	for (p = 0; p < 64; p++)
		assert_int_equal(other.next[p], DYN_RING_NO_OWNER);
	for (p = 0; p < other.nmembers; p++)
		assert_int_equal(other.members[p].flags, 0);
	check_ring(&other);

	dyn_ring_free(&ring);
	dyn_ring_free(&target);
	dyn_ring_free(&expected);
	dyn_ring_free(&other);
}

/*
 * dyn_ring_replicates against the preference list: zones, more members
 * than partitions (members owning nothing), N = 1, and a lone member.
 */
static void
test_replicates(void **state)
{
	dyn_ring	ring;

	(void) state;
	build(&ring, 64, 3, 7, "abc", false);
	check_replicates(&ring);
	dyn_ring_free(&ring);
	build(&ring, 4, 3, 6, NULL, false);
	check_replicates(&ring);
	dyn_ring_free(&ring);
	/*
	 * issue 16: fewer owning members (4) than min(N, members) (5): the
	 * preference list's fifth entry, owning nothing, replicates too
	 */
	assert_int_equal(dyn_ring_init(&ring, 4, 5), DYN_OK);
	for (int i = 1; i <= 7; i++)
	{
		char		id[16];

		snprintf(id, sizeof(id), "n%d", i);
		add(&ring, id, "");
	}
	assert_int_equal(ring.nowning, 4);
	assert_int_equal(dyn_ring_replicas(&ring), 5);
	check_replicates(&ring);
	dyn_ring_free(&ring);
	build(&ring, 16, 1, 3, NULL, true);
	check_replicates(&ring);
	dyn_ring_free(&ring);
	build(&ring, 8, 2, 1, NULL, false);
	check_replicates(&ring);
	dyn_ring_free(&ring);
	assert_int_equal(dyn_ring_init(&ring, 8, 2), DYN_OK);
	assert_false(dyn_ring_replicates(&ring, 0, 0));
	dyn_ring_free(&ring);
}

/* The JSON form with a transfer pending, then with a member leaving. */
static void
test_json_pending(void **state)
{
	dyn_ring	ring;
	dyn_buf		b;

	(void) state;
	dyn_buf_init(&b);
	assert_int_equal(dyn_ring_init(&ring, 4, 1), DYN_OK);
	assert_int_equal(dyn_ring_plan_join(&ring, dyn_slice_str("n1"), dyn_slice_str("h:1"),
										dyn_slice_str("")), DYN_OK);
	assert_int_equal(dyn_ring_plan_join(&ring, dyn_slice_str("n2"), dyn_slice_str("h:2"),
										dyn_slice_str("")), DYN_OK);
	dyn_ring_to_json(&ring, &b);
	dyn_buf_put_u8(&b, '\0');
	assert_int_equal(b.err, DYN_OK);
	assert_string_equal((const char *) b.data,
						"{\"version\":2,\"partitions\":4,\"n\":1,\"members\":["
						"{\"id\":\"n1\",\"address\":\"h:1\",\"zone\":\"\",\"partitions\":4},"
						"{\"id\":\"n2\",\"address\":\"h:2\",\"zone\":\"\",\"partitions\":0}],"
						"\"owners\":[\"n1\",\"n1\",\"n1\",\"n1\"],"
						"\"pending\":[{\"partition\":0,\"from\":\"n1\",\"to\":\"n2\"},"
						"{\"partition\":2,\"from\":\"n1\",\"to\":\"n2\"}]}");

	complete_everything(&ring);
	assert_int_equal(dyn_ring_plan_leave(&ring, dyn_slice_str("n1")), DYN_OK);
	dyn_buf_reset(&b);
	dyn_ring_to_json(&ring, &b);
	dyn_buf_put_u8(&b, '\0');
	assert_int_equal(b.err, DYN_OK);
	assert_string_equal((const char *) b.data,
						"{\"version\":4,\"partitions\":4,\"n\":1,\"members\":["
						"{\"id\":\"n1\",\"address\":\"h:1\",\"zone\":\"\",\"partitions\":2,"
						"\"leaving\":true},"
						"{\"id\":\"n2\",\"address\":\"h:2\",\"zone\":\"\",\"partitions\":2}],"
						"\"owners\":[\"n2\",\"n1\",\"n2\",\"n1\"],"
						"\"pending\":[{\"partition\":1,\"from\":\"n1\",\"to\":\"n2\"},"
						"{\"partition\":3,\"from\":\"n1\",\"to\":\"n2\"}]}");
	dyn_ring_free(&ring);
	dyn_buf_free(&b);
}

/* Encode then decode gives the same ring and the same bytes; copy too. */
static void
test_encode_roundtrip(void **state)
{
	dyn_ring	ring;
	dyn_ring	back;
	dyn_buf		b1;
	dyn_buf		b2;

	(void) state;
	dyn_buf_init(&b1);
	dyn_buf_init(&b2);
	build(&ring, 256, 3, 7, "abc", false);
	assert_int_equal(dyn_ring_init(&back, 8, 1), DYN_OK);
	encode(&ring, &b1);
	assert_int_equal(b1.len, 1 + 8 + 4 + 1 + 2 + 7 * (3 + 15 + 2 + 1) + 256 * 2 * 2);
	assert_int_equal(dyn_ring_decode(dyn_buf_slice(&b1), &back), DYN_OK);
	check_same(&ring, &back);
	encode(&back, &b2);
	assert_int_equal(b1.len, b2.len);
	assert_memory_equal(b1.data, b2.data, b1.len);

	/* a copy is equal and independent */
	assert_int_equal(dyn_ring_copy(&back, &ring), DYN_OK);
	check_same(&ring, &back);
	add(&back, "n8", "c");
	assert_int_equal(ring.nmembers, 7);

	/* pending transfers and a leaving member go over the wire as well */
	assert_int_equal(dyn_ring_plan_leave(&ring, dyn_slice_str("n3")), DYN_OK);
	assert_int_equal(dyn_ring_plan_join(&ring, dyn_slice_str("n8"),
										dyn_slice_str("127.0.0.1:7408"),
										dyn_slice_str("c")), DYN_OK);
	assert_true(ring.npending > 0);
	encode(&ring, &b1);
	assert_int_equal(b1.len, 1 + 8 + 4 + 1 + 2 + 8 * (3 + 15 + 2 + 1) + 256 * 2 * 2);
	assert_int_equal(dyn_ring_decode(dyn_buf_slice(&b1), &back), DYN_OK);
	check_same(&ring, &back);
	assert_int_equal(back.members[2].flags, DYN_RING_LEAVING);
	encode(&back, &b2);
	assert_int_equal(b1.len, b2.len);
	assert_memory_equal(b1.data, b2.data, b1.len);
	assert_int_equal(dyn_ring_copy(&back, &ring), DYN_OK);
	check_same(&ring, &back);
	dyn_ring_free(&ring);

	/* an empty ring: no owners on the wire */
	assert_int_equal(dyn_ring_init(&ring, 64, 2), DYN_OK);
	encode(&ring, &b1);
	assert_int_equal(b1.len, 16);
	assert_int_equal(dyn_ring_decode(dyn_buf_slice(&b1), &back), DYN_OK);
	check_same(&ring, &back);

	dyn_ring_free(&ring);
	dyn_ring_free(&back);
	dyn_buf_free(&b1);
	dyn_buf_free(&b2);
}

/*
 * Malformed encodings are refused with DYN_ERR_PROTO and leave the target
 * ring as it was: every truncated prefix, a byte too many, and each field
 * broken in turn.
 */
static void
test_decode_malformed(void **state)
{
	/*
	 * Q=4 N=2; n1 (zone a), n2 leaving; owners n1 n2 n1 n2, both of n2's
	 * partitions on their way to n1
	 */
	static const uint8_t good[] =
		"\x02" "\0\0\0\0\0\0\0\x02" "\0\0\0\x04" "\x02" "\0\x02"
		"\x02" "n1" "\x03" "h:1" "\x01" "a" "\0"
		"\x02" "n2" "\x03" "h:2" "\0" "\x01"
		"\0\0" "\0\x01" "\0\0" "\0\x01"
		"\xff\xff" "\0\0" "\xff\xff" "\0\0";
	/* (offset, byte) changes that each make good malformed */
	static const struct
	{
		size_t		off;
		uint8_t		byte;
	}			breaks[] = {
		{0, 1},					/* format 1: no flags, no next */
		{0, 3},					/* unknown format */
		{12, 3},				/* Q not a power of two */
		{12, 0},				/* Q = 0 */
		{13, 0},				/* N = 0 */
		{13, DYN_RING_N_MAX + 1},	/* N too large */
		{15, 3},				/* more members than encoded */
		{16, 0},				/* empty id */
		{16, 33},				/* id longer than the bytes left for it */
		{19, 0},				/* empty address */
		{21, 0},				/* NUL in the address */
		{25, 0x02},				/* unknown flag */
		{28, '1'},				/* duplicate id n1 */
		{34, 0x81},				/* unknown flag besides leaving */
		{42, 2},				/* owner index out of range */
		{43, 0x00},				/* next 0x00ff: out of range */
		{44, 0x02},				/* next 0xff02: out of range */
		{45, 0xff},				/* next 0xff00: out of range */
		{46, 0x02},				/* next 2: out of range */
		{46, 0x01},				/* next n2 is the owner already */
		{50, 0x01},				/* the same at the last partition */
	};
	size_t		len = sizeof(good) - 1;
	uint8_t		bad[sizeof(good) + 1];
	dyn_ring	ring;
	dyn_ring	victim;
	dyn_buf		before;
	dyn_buf		after;
	size_t		i;

	(void) state;
	dyn_buf_init(&before);
	dyn_buf_init(&after);
	assert_int_equal(dyn_ring_init(&ring, 8, 1), DYN_OK);
	assert_int_equal(dyn_ring_decode(bytes_of(good, len), &ring), DYN_OK);
	assert_int_equal(ring.nmembers, 2);
	assert_int_equal(ring.members[0].owned, 2);
	assert_string_equal(ring.members[0].zone, "a");
	assert_string_equal(ring.members[1].zone, "");
	assert_int_equal(ring.members[0].flags, 0);
	assert_int_equal(ring.members[1].flags, DYN_RING_LEAVING);
	assert_int_equal(ring.npending, 2);
	assert_int_equal(ring.next[0], DYN_RING_NO_OWNER);
	assert_int_equal(ring.next[1], 0);

	build(&victim, 16, 2, 3, "ab", false);
	assert_int_equal(dyn_ring_plan_join(&victim, dyn_slice_str("n4"), dyn_slice_str("h:4"),
										dyn_slice_str("b")), DYN_OK);
	assert_int_equal(dyn_ring_plan_leave(&victim, dyn_slice_str("n1")), DYN_OK);
	encode(&victim, &before);

	for (i = 0; i < len; i++)
	{
		assert_int_equal(dyn_ring_decode(bytes_of(good, i), &victim), DYN_ERR_PROTO);
	}
	memcpy(bad, good, len);
	bad[len] = 0;
	assert_int_equal(dyn_ring_decode(bytes_of(bad, len + 1), &victim), DYN_ERR_PROTO);
	for (i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++)
	{
		memcpy(bad, good, len);
		bad[breaks[i].off] = breaks[i].byte;
		assert_int_equal(dyn_ring_decode(bytes_of(bad, len), &victim), DYN_ERR_PROTO);
	}
	/* Q a power of two but too large: 131072 */
	memcpy(bad, good, len);
	bad[10] = 2;
	bad[12] = 0;
	assert_int_equal(dyn_ring_decode(bytes_of(bad, len), &victim), DYN_ERR_PROTO);
	/* too many members for a ring */
	memcpy(bad, good, len);
	bad[14] = (DYN_RING_MEMBERS_MAX + 1) >> 8;
	bad[15] = (DYN_RING_MEMBERS_MAX + 1) & 0xff;
	assert_int_equal(dyn_ring_decode(bytes_of(bad, len), &victim), DYN_ERR_PROTO);

	encode(&victim, &after);
	assert_int_equal(before.len, after.len);
	assert_memory_equal(before.data, after.data, before.len);

	/*
	 * Any byte of a real encoding set to a few values: refused, or a ring
	 * that lookups and a join handle (a join on an uneven ring re-claims),
	 * and on which a planned join, or a planned leave, once completed and
	 * pruned, leaves an even ring.
	 */
	for (i = 0; i < before.len; i++)
	{
		static const uint8_t values[] = {0x00, 0x01, 0x02, 0x7f, 0x80, 0xff};
		size_t		v;

		for (v = 0; v < sizeof(values); v++)
		{
			dyn_ring	fuzzed;
			uint8_t		saved = before.data[i];
			uint32_t	list[8];
			uint32_t	p;
			int			rc;

			assert_int_equal(dyn_ring_init(&fuzzed, 8, 1), DYN_OK);
			before.data[i] = values[v];
			rc = dyn_ring_decode(dyn_buf_slice(&before), &fuzzed);
			before.data[i] = saved;
			if (rc != DYN_OK)
			{
				assert_int_equal(rc, DYN_ERR_PROTO);
				dyn_ring_free(&fuzzed);
				continue;
			}
			for (p = 0; p < fuzzed.q; p++)
				assert_true(dyn_ring_preflist(&fuzzed, p, list, 8) ==
							(int) (fuzzed.nmembers < 8 ? fuzzed.nmembers : 8));
			if (dyn_ring_member_index(&fuzzed, dyn_slice_str("zz")) < 0)
			{
				dyn_ring	planned;

				assert_int_equal(dyn_ring_init(&planned, 8, 1), DYN_OK);
				assert_int_equal(dyn_ring_copy(&planned, &fuzzed), DYN_OK);
				assert_int_equal(dyn_ring_plan_join(&planned, dyn_slice_str("zz"),
													dyn_slice_str("h:9"),
													dyn_slice_str("")), DYN_OK);
				complete_everything(&planned);
				dyn_ring_prune(&planned);
				check_even(&planned);
				assert_int_equal(planned.npending, 0);

				/* the first member not leaving yet (planning a leaver again is a no-op) */
				for (p = 0; p + 1 < fuzzed.nmembers &&
					 (fuzzed.members[p].flags & DYN_RING_LEAVING); p++)
					;
				assert_int_equal(dyn_ring_copy(&planned, &fuzzed), DYN_OK);
				rc = dyn_ring_plan_leave(&planned, dyn_ring_member_id(&fuzzed.members[p]));
				if (fuzzed.members[p].flags & DYN_RING_LEAVING)
					assert_int_equal(rc, DYN_OK);	/* everyone leaving: no-op */
				else if (rc == DYN_OK)
				{
					complete_everything(&planned);
					dyn_ring_prune(&planned);
					check_even(&planned);
				}
				else
					assert_int_equal(rc, DYN_ERR_INVAL);
				dyn_ring_free(&planned);

				add(&fuzzed, "zz", "");
				check_even(&fuzzed);
			}
			dyn_ring_free(&fuzzed);
		}
	}
	encode(&victim, &after);
	assert_int_equal(before.len, after.len);
	assert_memory_equal(before.data, after.data, before.len);
	check_pending(&victim);

	dyn_ring_free(&ring);
	dyn_ring_free(&victim);
	dyn_buf_free(&before);
	dyn_buf_free(&after);
}

/* The JSON form, exactly, with an id that needs escaping. */
static void
test_json(void **state)
{
	dyn_ring	ring;
	dyn_buf		b;

	(void) state;
	dyn_buf_init(&b);
	assert_int_equal(dyn_ring_init(&ring, 4, 2), DYN_OK);
	dyn_ring_to_json(&ring, &b);
	dyn_buf_put_u8(&b, '\0');
	assert_string_equal((const char *) b.data,
						"{\"version\":0,\"partitions\":4,\"n\":2,\"members\":[],\"owners\":[],"
						"\"pending\":[]}");

	add(&ring, "n1", "a");
	assert_int_equal(dyn_ring_add_member(&ring, dyn_slice_str("n\"2"),
										 dyn_slice_str("127.0.0.1:7402"),
										 dyn_slice_str("")), DYN_OK);
	dyn_buf_reset(&b);
	dyn_ring_to_json(&ring, &b);
	dyn_buf_put_u8(&b, '\0');
	assert_int_equal(b.err, DYN_OK);
	assert_string_equal((const char *) b.data,
						"{\"version\":2,\"partitions\":4,\"n\":2,\"members\":["
						"{\"id\":\"n1\",\"address\":\"127.0.0.1:7401\",\"zone\":\"a\",\"partitions\":2},"
						"{\"id\":\"n\\\"2\",\"address\":\"127.0.0.1:7402\",\"zone\":\"\",\"partitions\":2}],"
						"\"owners\":[\"n1\",\"n\\\"2\",\"n1\",\"n\\\"2\"],\"pending\":[]}");
	dyn_ring_free(&ring);
	dyn_buf_free(&b);
}

/*
 * 100,000 random keys over s members claimed afresh at Q=q: each member's
 * share of keys as primary owner must be within 10% of 1/s.
 */
static void
check_balance(uint32_t q, uint32_t s)
{
	dyn_ring	ring;
	uint32_t	hits[8] = {0};
	uint64_t	seed = 0x9E3779B97F4A7C15ULL;
	const uint32_t keys = 100000;
	double		even = 1.0 / s;
	char		line[256];
	size_t		used;
	uint32_t	i;

	build(&ring, q, 3, s, NULL, true);
	for (i = 0; i < keys; i++)
	{
		char		key[32];
		uint32_t	list[1];

		snprintf(key, sizeof(key), "key-%016llx", (unsigned long long) next_random(&seed));
		assert_int_equal(dyn_ring_preflist_key(&ring, dyn_slice_str("bucket"),
											   dyn_slice_str(key), list, 1), 1);
		hits[list[0]]++;
	}
	used = (size_t) snprintf(line, sizeof(line), "Q=%u, %u members, primary shares:", q, s);
	for (i = 0; i < s; i++)
	{
		double		share = (double) hits[i] / keys;

		used += (size_t) snprintf(line + used, sizeof(line) - used, " %.2f%% (%+.1f%%, %u partitions)",
								  100 * share, 100 * (share - even) / even,
								  ring.members[i].owned);
		assert_true(share >= 0.9 * even && share <= 1.1 * even);
	}
	print_message("%s\n", line);
	dyn_ring_free(&ring);
}

/* Key balance over 3 and 5 members at Q=64 and Q=256. */
static void
test_balance(void **state)
{
	(void) state;
	check_balance(64, 3);
	check_balance(64, 5);
	check_balance(256, 3);
	check_balance(256, 5);
}

/* Run every test of this file. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_placement),
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_claim_initial),
		cmocka_unit_test(test_join_3_to_4),
		cmocka_unit_test(test_join_leave_sequences),
		cmocka_unit_test(test_zones),
		cmocka_unit_test(test_crowded_and_uneven),
		cmocka_unit_test(test_preflist),
		cmocka_unit_test(test_preflist_order),
		cmocka_unit_test(test_plan_join),
		cmocka_unit_test(test_plan_join_founder),
		cmocka_unit_test(test_plan_leave),
		cmocka_unit_test(test_prune),
		cmocka_unit_test(test_target),
		cmocka_unit_test(test_replicates),
		cmocka_unit_test(test_json_pending),
		cmocka_unit_test(test_encode_roundtrip),
		cmocka_unit_test(test_decode_malformed),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_balance),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
