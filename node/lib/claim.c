/*
 * claim.c
 *		The claim optimiser (see claim.h): given the members and the
 *		ownership before a change, the ownership after it, keeping the three
 *		properties ring.c's opening comment lists -- even, spread, stable.
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
 */
#include <stdlib.h>
#include <string.h>

#include "claim.h"

#define NO_OWNER		DYN_RING_NO_OWNER	/* nobody (yet) */
#define UNSET			DYN_CLAIM_UNSET	/* a position not chosen yet */
#define REPAIR_SOURCES	8		/* repeated owners tried per repair round */
#define REPAIR_ROUNDS	64		/* swaps a repair may make */

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

static void recount(dyn_claim *pl);
static bool was_even(const dyn_claim *pl, uint32_t old_s);
static uint32_t moves(const dyn_claim *pl);
static void consider(dyn_claim *pl, uint32_t *best_bad, uint32_t *best_moves);

static inline uint32_t cyc(const dyn_claim *pl, int64_t p);
static bool window_bad(const dyn_claim *pl, uint32_t start);
static uint32_t window_zones(const dyn_claim *pl, uint32_t start);
static uint32_t bad_near(const dyn_claim *pl, uint32_t a, uint32_t b);
static uint32_t count_bad(const dyn_claim *pl);
static int64_t zone_score(const dyn_claim *pl, uint32_t p);
static uint32_t near(const dyn_claim *pl, uint32_t p, uint32_t m);
static bool key_better(const int64_t *a, const int64_t *b, size_t n);

static void spread(const spread_job *job);
static uint32_t spread_pick(const spread_job *job, uint32_t i);
static uint32_t item_gap(const spread_job *job, uint32_t m);
static uint32_t item_room(const spread_job *job, uint32_t m, uint32_t i);
static int64_t item_slack(const spread_job *job, uint32_t m, uint32_t i,
						  uint32_t gap);
static uint32_t item_zone_clashes(const spread_job *job, uint32_t m, uint32_t i);
static void member_order(dyn_claim *pl);
static void claim_spread(dyn_claim *pl, bool sticky);

static void steal(dyn_claim *pl, uint32_t x);
static bool steal_score(dyn_claim *pl, const join_state *js, uint32_t p,
						bool keep_window, bool keep_zones, int64_t *key);
static void steal_take(dyn_claim *pl, join_state *js, uint32_t p);
static void give(dyn_claim *pl, uint32_t p, uint32_t m);
static void fill(dyn_claim *pl);
static void repair(dyn_claim *pl);

/* ------------------------------------------------------------------ plans */

/* prev is the current ownership in the numbering of the claim. */
int
dyn_claim_init(dyn_claim *pl, const dyn_ring *ring, uint32_t s, uint32_t skip)
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
		dyn_claim_free(pl);
		return DYN_ERR_NOMEM;
	}

	for (i = 0; i < s; i++)
	{
		pl->zone[i] = (uint16_t) i;
		for (j = 0; j < i; j++)
		{
			if (dyn_ring_same_zone(&ring->members[j < skip ? j : j + 1],
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
void
dyn_claim_free(dyn_claim *pl)
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
void
dyn_claim_run(dyn_claim *pl, dyn_claim_kind kind, uint32_t old_s)
{
	uint32_t	best_bad = UNSET;
	uint32_t	best_moves = UNSET;

	if (pl->s == 0)
		return;
	if (kind == DYN_CLAIM_FRESH)
	{
		claim_spread(pl, false);
		return;
	}

	memcpy(pl->owner, pl->prev, pl->q * sizeof(uint16_t));
	recount(pl);
	if (pl->s > pl->n && was_even(pl, old_s))
	{
		if (kind == DYN_CLAIM_JOIN)
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

/* Recount pl->count from pl->owner. */
static void
recount(dyn_claim *pl)
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
was_even(const dyn_claim *pl, uint32_t old_s)
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
moves(const dyn_claim *pl)
{
	uint32_t	moved = 0;
	uint32_t	i;

	for (i = 0; i < pl->q; i++)
		moved += pl->owner[i] != pl->prev[i];
	return moved;
}

/* Keep pl->owner in pl->best if it repeats less, or as little but moves less. */
static void
consider(dyn_claim *pl, uint32_t *best_bad, uint32_t *best_moves)
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
cyc(const dyn_claim *pl, int64_t p)
{
	return (uint32_t) p & (pl->q - 1);
}

/* Whether the w partitions from start repeat an owner (holes do not count). */
static bool
window_bad(const dyn_claim *pl, uint32_t start)
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
window_zones(const dyn_claim *pl, uint32_t start)
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
bad_near(const dyn_claim *pl, uint32_t a, uint32_t b)
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
count_bad(const dyn_claim *pl)
{
	uint32_t	bad = 0;
	uint32_t	i;

	for (i = 0; i < pl->q; i++)
		bad += window_bad(pl, i);
	return bad;
}

/* Zone spread around p: distinct zones summed over the windows holding p. */
static int64_t
zone_score(const dyn_claim *pl, uint32_t p)
{
	int64_t		score = 0;
	uint32_t	d;

	for (d = 0; d < pl->w; d++)
		score += window_zones(pl, cyc(pl, (int64_t) p - d));
	return score;
}

/* How often m owns a partition within w-1 of p, on either side. */
static uint32_t
near(const dyn_claim *pl, uint32_t p, uint32_t m)
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
member_order(dyn_claim *pl)
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
claim_spread(dyn_claim *pl, bool sticky)
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
steal(dyn_claim *pl, uint32_t x)
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
steal_score(dyn_claim *pl, const join_state *js, uint32_t p, bool keep_window,
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
steal_take(dyn_claim *pl, join_state *js, uint32_t p)
{
	if (pl->count[pl->owner[p]] > js->share + 1)
		js->mandatory--;
	give(pl, p, js->x);
	js->taken++;
}

/* Hand partition p to member m. */
static void
give(dyn_claim *pl, uint32_t p, uint32_t m)
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
fill(dyn_claim *pl)
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
repair(dyn_claim *pl)
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


