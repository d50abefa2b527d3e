/*
 * object.c
 *		Sibling sets as dotted version vectors: what a replica stores for
 *		one key, and the two ways it changes (a coordinator's write and a
 *		replica-to-replica merge).
 *
 * Each sibling is one version: its value (or a tombstone), the clock its
 * writer had seen, and its dot, the entry of that clock naming the write's
 * own event (coordinator id, counter).  The rules are in object.h and
 * DESIGN.md section 1; the point of dots is that "superseded" is decided
 * per version by whether a context has seen that version's event, never
 * by comparing whole clocks, so concurrent writes through one coordinator
 * are not mistaken for successive ones.
 *
 * Siblings are kept sorted by dot.  That makes the encoding canonical and
 * lets merge find common versions in one merge-walk instead of a search
 * per sibling.  The sibling array is the only allocation; it is reused
 * across decodes and grows by doubling.
 */
#include <stdlib.h>
#include <string.h>

#include "dynamo/object.h"

#include "dynamo/actor.h"

/* Flag bits of a sibling in the encoding; the others must be zero. */
#define SIBLING_TOMBSTONE	0x01

/*
 * Fewest bytes an encoded sibling can take (flags, dot, a clock's count,
 * value length): lets decode refuse an absurd count before allocating.
 */
#define SIBLING_MIN_BYTES	(1 + 1 + 1 + 4)

/*
 * What a merge decides for one sibling of o (fate_o) or of other
 * (fate_other), before o changes.  A dot both sides hold is one version,
 * kept once: o's copy (KEEP in o, SAME in other) unless other's copy is
 * the greater (TAKE in o, WIN in other).
 */
enum
{
	FATE_KEEP,					/* in the result (in other: new to o) */
	FATE_DROP,					/* superseded: not in the result */
	FATE_BACK,					/* dropped, then kept after all (merge_decide) */
	FATE_TAKE,					/* o's copy of a shared dot, replaced by other's */
	FATE_SAME,					/* other's copy of a shared dot, o's kept */
	FATE_WIN					/* other's copy of a shared dot, replacing o's */
};

/* Every sibling's fate in a merge; on the stack (2 KB). */
typedef struct merge_plan
{
	uint8_t		fate_o[DYN_SIBLINGS_MAX];
	uint8_t		fate_other[DYN_SIBLINGS_MAX];
	size_t		dropped;		/* o's siblings that go */
	size_t		added;			/* other's siblings that come */
	bool		taken;			/* some shared dot takes other's copy */
} merge_plan;

static const dyn_vclock_entry *dot_of(const dyn_sibling *s);
static dyn_slice dot_id(const dyn_sibling *s);
static int	dot_cmp(const dyn_sibling *a, const dyn_sibling *b);
static bool dot_covered(const dyn_vclock *ctx, const dyn_sibling *s);
static uint8_t entry_index(const dyn_vclock *clock, dyn_slice id);
static int	reserve(dyn_object *o, size_t need);
static int	read_sibling(dyn_reader *r, dyn_sibling *s);
static bool no_version_saw_another(const dyn_object *o);
static bool fate_in_result(uint8_t fate);
static bool set_covers(const dyn_vclock *ctx, const dyn_sibling *s, size_t n,
					   const uint8_t *fate, const dyn_sibling *x);
static int	version_cmp(const dyn_sibling *a, const dyn_sibling *b);
static void merge_decide(const dyn_object *o, const dyn_object *other,
						 merge_plan *plan);
static void note_id(dyn_vclock_entry *ids, size_t *n, const dyn_vclock_entry *e);
static void make_room(dyn_vclock *clock, const dyn_vclock_entry *superseded,
					  size_t nsuperseded, dyn_slice node_id);


/* --------------------------------------------------------------- helpers */

/* The clock entry that is s's dot. */
static const dyn_vclock_entry *
dot_of(const dyn_sibling *s)
{
	return &s->clock.e[s->dot];
}

/* The node id of s's dot, as a view into s. */
static dyn_slice
dot_id(const dyn_sibling *s)
{
	const dyn_vclock_entry *e = dot_of(s);
	dyn_slice	id = {(const uint8_t *) e->id, e->idlen};

	return id;
}

/* Sibling order: by dot node id, then dot counter. */
static int
dot_cmp(const dyn_sibling *a, const dyn_sibling *b)
{
	int			c = dyn_slice_cmp(dot_id(a), dot_id(b));
	uint64_t	ca;
	uint64_t	cb;

	if (c != 0)
		return c;
	ca = dot_of(a)->counter;
	cb = dot_of(b)->counter;
	return (ca > cb) - (ca < cb);
}

/* Whether ctx has seen the write that made s. */
static bool
dot_covered(const dyn_vclock *ctx, const dyn_sibling *s)
{
	return dyn_vclock_covers(ctx, dot_id(s), dot_of(s)->counter);
}

/* The index of id's entry in clock, which must have one. */
static uint8_t
entry_index(const dyn_vclock *clock, dyn_slice id)
{
	uint8_t		i;

	for (i = 0; i < clock->n; i++)
	{
		dyn_slice	e = {(const uint8_t *) clock->e[i].id, clock->e[i].idlen};

		if (dyn_slice_eq(e, id))
			break;
	}
	return i;
}

/*
 * Make room for need siblings, at least doubling so that growing one by
 * one stays amortised O(1).  On failure the object is untouched.
 */
static int
reserve(dyn_object *o, size_t need)
{
	size_t		cap;
	dyn_sibling *s;

	if (need <= o->cap)
		return DYN_OK;
	cap = o->cap < 4 ? 4 : o->cap;
	while (cap < need)
		cap *= 2;
	s = realloc(o->s, cap * sizeof(dyn_sibling));
	if (s == NULL)
		return DYN_ERR_NOMEM;
	o->s = s;
	o->cap = cap;
	return DYN_OK;
}


/* ---------------------------------------------------- the object itself */

/* An empty object that owns no memory yet. */
void
dyn_object_init(dyn_object *o)
{
	o->n = 0;
	o->cap = 0;
	o->s = NULL;
}

/* Release the sibling array; the object is left empty and reusable. */
void
dyn_object_free(dyn_object *o)
{
	free(o->s);
	dyn_object_init(o);
}

/* The merge of every sibling's clock, tombstones included. */
void
dyn_object_context(const dyn_object *o, dyn_vclock *ctx)
{
	size_t		i;

	dyn_vclock_init(ctx);
	for (i = 0; i < o->n; i++)
		dyn_vclock_merge(ctx, &o->s[i].clock);
}

/* Siblings that are not tombstones: what a read shows. */
size_t
dyn_object_live(const dyn_object *o)
{
	size_t		live = 0;
	size_t		i;

	for (i = 0; i < o->n; i++)
		live += !o->s[i].tombstone;
	return live;
}


/* -------------------------------------------------------------- encoding */

/*
 * Append o in the object.h layout.  An object over DYN_SIBLINGS_MAX
 * (which put and merge never make) fails the buffer with DYN_ERR_TOOBIG,
 * since decode would refuse it.
 */
void
dyn_object_encode(const dyn_object *o, dyn_buf *b)
{
	size_t		i;

	if (o->n > DYN_SIBLINGS_MAX)
	{
		if (b->err == DYN_OK)
			b->err = DYN_ERR_TOOBIG;
		return;
	}
	dyn_buf_put_u8(b, DYN_OBJECT_FORMAT);
	dyn_buf_put_u16(b, (uint16_t) o->n);
	for (i = 0; i < o->n; i++)
	{
		const dyn_sibling *s = &o->s[i];

		dyn_buf_put_u8(b, s->tombstone ? SIBLING_TOMBSTONE : 0);
		dyn_buf_put_u8(b, s->dot);
		dyn_vclock_encode(&s->clock, b);
		dyn_buf_put_blob32(b, s->value);
	}
}

/*
 * Read one sibling straight into *s.  Besides what dyn_vclock_read checks:
 * unknown flag bits, a dot index outside the clock, and a tombstone with a
 * value are malformed.
 */
static int
read_sibling(dyn_reader *r, dyn_sibling *s)
{
	uint8_t		flags = dyn_rd_u8(r);

	s->dot = dyn_rd_u8(r);
	if (r->err != DYN_OK || (flags & ~SIBLING_TOMBSTONE) != 0)
		return DYN_ERR_PROTO;
	if (dyn_vclock_read(r, &s->clock) != DYN_OK)
		return DYN_ERR_PROTO;
	s->tombstone = (flags & SIBLING_TOMBSTONE) != 0;
	s->value = dyn_rd_blob32(r);
	if (r->err != DYN_OK || s->dot >= s->clock.n)
		return DYN_ERR_PROTO;
	if (s->tombstone && s->value.len != 0)
		return DYN_ERR_PROTO;
	return DYN_OK;
}

/*
 * Parse an encoded object into o, reusing o's sibling array.  Values are
 * slices into bytes.  Everything is checked (see read_sibling), including
 * that the siblings are in strictly ascending dot order, which also rules
 * out two copies of one version, and that no version saw another
 * (no_version_saw_another).  On failure o is left empty.
 */
int
dyn_object_decode(dyn_slice bytes, dyn_object *o)
{
	dyn_reader	r;
	uint8_t		format;
	uint16_t	count;
	size_t		i;
	int			rc;

	o->n = 0;
	if (bytes.len == 0)
		return DYN_OK;

	dyn_reader_init(&r, bytes);
	format = dyn_rd_u8(&r);
	count = dyn_rd_u16(&r);
	if (r.err != DYN_OK || format != DYN_OBJECT_FORMAT ||
		count > DYN_SIBLINGS_MAX ||
		count > dyn_rd_left(&r) / SIBLING_MIN_BYTES)
		return DYN_ERR_PROTO;

	rc = reserve(o, count);
	if (rc != DYN_OK)
		return rc;
	for (i = 0; i < count; i++)
	{
		if (read_sibling(&r, &o->s[i]) != DYN_OK ||
			(i > 0 && dot_cmp(&o->s[i - 1], &o->s[i]) >= 0))
			return DYN_ERR_PROTO;
	}
	rc = dyn_reader_finish(&r);
	if (rc != DYN_OK)
		return rc;
	o->n = count;
	if (!no_version_saw_another(o))
	{
		o->n = 0;
		return DYN_ERR_PROTO;
	}
	return DYN_OK;
}

/*
 * Whether no sibling's clock covers another's dot except through its own
 * dot's entry.  A version's clock is what its writer had read plus its dot,
 * and a writer drops every version it read, so one sibling covers another
 * in exactly one way: both are one actor's, the later written without the
 * earlier in its context (concurrent; the coordinator keeps and ships them
 * together).  A sibling that covers another through any other entry saw it
 * and superseded it, yet both are here: only a damaged or hostile copy
 * holds that -- or two versions that each saw the other, which would need
 * a version written after itself (no two dots of one actor cover each
 * other, so this rules out every such cycle).  Merge's rules assume there
 * is none; over such sets it is neither absorbing nor associative (fuzz
 * inputs merge/regress-saw-sibling*).  Every set a write or a merge makes
 * passes (the fuzz target merge decodes each result again).  Quadratic in
 * the siblings, which are one or two almost always (1024 at most).
 */
static bool
no_version_saw_another(const dyn_object *o)
{
	for (size_t u = 0; u < o->n; u++)
		for (size_t v = 0; v < o->n; v++)
			if (u != v && dot_covered(&o->s[u].clock, &o->s[v]) &&
				!dyn_slice_eq(dot_id(&o->s[u]), dot_id(&o->s[v])))
				return false;
	return true;
}


/* ------------------------------------------ reading encodings in place */

/*
 * Walk an encoded object once, checking its layout as decode does (except
 * the order of clock entries and of siblings, which need the clocks
 * decoded), and report whether it has siblings that are all tombstones and
 * the newest dot timestamp.  DYN_ERR_PROTO for anything malformed.
 */
static int
walk_encoded(dyn_slice bytes, bool *all_tombstones, uint64_t *newest_ms)
{
	dyn_reader	r;
	uint8_t		format;
	uint16_t	count;
	bool		all = true;
	uint64_t	newest = 0;

	*all_tombstones = false;
	*newest_ms = 0;
	dyn_reader_init(&r, bytes);
	format = dyn_rd_u8(&r);
	count = dyn_rd_u16(&r);
	if (r.err != DYN_OK || format != DYN_OBJECT_FORMAT || count > DYN_SIBLINGS_MAX)
		return DYN_ERR_PROTO;
	for (uint16_t i = 0; i < count; i++)
	{
		uint8_t		flags = dyn_rd_u8(&r);
		uint8_t		dot = dyn_rd_u8(&r);
		uint8_t		nentries = dyn_rd_u8(&r);
		dyn_slice	value;

		if (r.err != DYN_OK || (flags & ~SIBLING_TOMBSTONE) != 0 ||
			nentries > DYN_VCLOCK_CAP || dot >= nentries)
			return DYN_ERR_PROTO;
		for (uint8_t e = 0; e < nentries; e++)
		{
			uint8_t		idlen = dyn_rd_u8(&r);
			uint64_t	ts;

			if (idlen == 0 || idlen > DYN_NODE_ID_MAX)
				return DYN_ERR_PROTO;
			(void) dyn_rd_bytes(&r, idlen);
			if (dyn_rd_varint(&r) == 0)
				return DYN_ERR_PROTO;
			ts = dyn_rd_varint(&r);
			if (r.err != DYN_OK)
				return DYN_ERR_PROTO;
			if (e == dot && ts > newest)
				newest = ts;
		}
		value = dyn_rd_blob32(&r);
		if (r.err != DYN_OK)
			return DYN_ERR_PROTO;
		if ((flags & SIBLING_TOMBSTONE) != 0)
		{
			if (value.len != 0)
				return DYN_ERR_PROTO;
		}
		else
			all = false;
	}
	if (dyn_reader_finish(&r) != DYN_OK)
		return DYN_ERR_PROTO;
	*all_tombstones = count > 0 && all;
	*newest_ms = newest;
	return DYN_OK;
}

/* Whether encoded has siblings and all of them are tombstones. */
bool
dyn_object_bytes_all_tombstones(dyn_slice encoded)
{
	bool		all;
	uint64_t	newest;

	return walk_encoded(encoded, &all, &newest) == DYN_OK && all;
}

/* The newest dot timestamp of encoded's siblings; 0 if none or malformed. */
uint64_t
dyn_object_bytes_newest_ms(dyn_slice encoded)
{
	bool		all;
	uint64_t	newest;

	return walk_encoded(encoded, &all, &newest) == DYN_OK ? newest : 0;
}


/* ---------------------------------------------------------------- writes */

/* Add e's id to ids[0..*n) unless it is there (ids has room for a clock). */
static void
note_id(dyn_vclock_entry *ids, size_t *n, const dyn_vclock_entry *e)
{
	for (size_t k = 0; k < *n; k++)
		if (ids[k].idlen == e->idlen && memcmp(ids[k].id, e->id, e->idlen) == 0)
			return;
	if (*n < DYN_VCLOCK_CAP)
		ids[(*n)++] = *e;
}

/*
 * A full clock (DYN_VCLOCK_CAP entries) that must take the entry of
 * node_id: drop one entry, the oldest by timestamp that is not the dot of
 * a sibling this write superseded (those versions are certainly still
 * held somewhere: here a moment ago), an incarnation's before a node id's
 * (an incarnation never issues a counter twice, while a node id picks its
 * counters from what the key shows, so forgetting a node id's entry could
 * let it issue one again: dynamo/actor.h), or the oldest of all when every
 * entry is one.  See the note on clock length at dyn_object_put.
 */
static void
make_room(dyn_vclock *clock, const dyn_vclock_entry *superseded, size_t nsuperseded,
		  dyn_slice node_id)
{
	size_t		victim = SIZE_MAX;
	bool		victim_incarnation = false;
	bool		incarnation;
	size_t		oldest = 0;
	size_t		i;

	for (i = 0; i < clock->n; i++)
	{
		const dyn_vclock_entry *e = &clock->e[i];
		dyn_slice	id = {(const uint8_t *) e->id, e->idlen};
		bool		needed = false;

		for (size_t k = 0; k < nsuperseded && !needed; k++)
			needed = superseded[k].idlen == e->idlen &&
				memcmp(superseded[k].id, e->id, e->idlen) == 0;
		if (e->ts_ms < clock->e[oldest].ts_ms)
			oldest = i;
		if (needed || dyn_slice_eq(id, node_id))
			continue;
		/* an incarnation goes first: it never issues a counter twice */
		if (victim == SIZE_MAX ||
			(incarnation = dyn_actor_is_incarnation(id)) > victim_incarnation ||
			(incarnation == victim_incarnation && e->ts_ms < clock->e[victim].ts_ms))
		{
			victim = i;
			victim_incarnation = dyn_actor_is_incarnation(id);
		}
	}
	if (victim == SIZE_MAX)
		victim = oldest;
	memmove(&clock->e[victim], &clock->e[victim + 1],
			(clock->n - victim - 1) * sizeof(dyn_vclock_entry));
	clock->n--;
}

/*
 * The coordinator's write (see object.h).  Everything that can fail is
 * checked before o changes, so on error o is exactly as it was.
 *
 * Clock length.  The new version's clock is the whole context plus the
 * dot: it is never cut to a few entries.  Up to issue 16 it was cut to 10
 * by dropping the oldest timestamp, and the entry dropped could be the dot
 * of a version this write superseded: every replica that merged the
 * coordinator's copy then kept that version beside the new one (a delete
 * that did not delete).  The invariant is that a write with context C
 * leaves no version C covers on any replica after any merge order, and it
 * needs the written clock to cover all of C, since a replica may hold a
 * covered version this coordinator never saw.
 *
 * Riak's answer was pruning (riak_kv's vclock:prune with small_vclock,
 * big_vclock, young_vclock and old_vclock: past a length, drop entries
 * older than a day), accepting that a pruned history makes old versions
 * come back as siblings ("sibling explosion") in exchange for bounded
 * clocks; its DVVSet and vnode version vectors avoid pruning altogether by
 * making actors the few vnodes that coordinate a key, never clients.  Here
 * actors are coordinating nodes too, and the clock type holds
 * DYN_VCLOCK_CAP entries, which is also the most a context can hold; so the
 * only case left is a full context that lacks the coordinator.  Then one
 * entry must go (make_room): the oldest one that no version superseded
 * here needs.  Only a version under that entry held by another replica and
 * not by this coordinator can then survive the write as a sibling; nothing
 * is ever lost.
 *
 * ctx is copied first: it may point into o's own sibling array (a caller
 * writing back a sibling's clock) or be the same clock as *written.
 */
int
dyn_object_put(dyn_object *o, dyn_slice node_id, const dyn_vclock *ctx,
			   const dyn_slice *value, uint64_t now_ms, dyn_vclock *written)
{
	return dyn_object_put_above(o, node_id, 0, ctx, value, now_ms, written);
}

int
dyn_object_put_above(dyn_object *o, dyn_slice node_id, uint64_t floor,
					 const dyn_vclock *ctx, const dyn_slice *value, uint64_t now_ms,
					 dyn_vclock *written)
{
	dyn_vclock	seen = *ctx;
	uint64_t	counter = dyn_vclock_get(&seen, node_id);
	bool		full = seen.n == DYN_VCLOCK_CAP && counter == 0;	/* no entry of ours */
	dyn_vclock_entry superseded[DYN_VCLOCK_CAP];
	size_t		nsuperseded = 0;
	size_t		survivors = 0;
	size_t		kept = 0;
	size_t		pos;
	size_t		i;
	dyn_sibling *slot;
	int			rc;

	if (node_id.len == 0 || node_id.len > DYN_NODE_ID_MAX)
		return DYN_ERR_INVAL;
	if (value != NULL && value->len > UINT32_MAX)
		return DYN_ERR_TOOBIG;

	/* the new dot must be above every event of ours this key has seen */
	for (i = 0; i < o->n; i++)
	{
		uint64_t	c = dyn_vclock_get(&o->s[i].clock, node_id);

		if (c > counter)
			counter = c;
		survivors += !dot_covered(&seen, &o->s[i]);
	}
	if (floor > counter)
		counter = floor;
	if (counter == UINT64_MAX)
		return DYN_ERR_INVAL;
	counter++;
	if (survivors + 1 > DYN_SIBLINGS_MAX)
		return DYN_ERR_TOOBIG;
	rc = reserve(o, survivors + 1);
	if (rc != DYN_OK)
		return rc;

	/*
	 * Drop what the writer saw; order is kept, so o stays sorted.  When
	 * the clock is full the ids of the dropped siblings' dots are noted
	 * for make_room (at most one per entry of seen, which covers them).
	 */
	for (i = 0; i < o->n; i++)
	{
		if (dot_covered(&seen, &o->s[i]))
		{
			if (full)
				note_id(superseded, &nsuperseded, dot_of(&o->s[i]));
			continue;
		}
		if (kept != i)
			o->s[kept] = o->s[i];
		kept++;
	}
	o->n = kept;

	/*
	 * The new dot is above every counter of ours here, so its place is
	 * after our last sibling: before the first sibling of a greater id.
	 */
	for (pos = 0; pos < o->n; pos++)
	{
		if (dyn_slice_cmp(dot_id(&o->s[pos]), node_id) > 0)
			break;
	}
	memmove(&o->s[pos + 1], &o->s[pos], (o->n - pos) * sizeof(dyn_sibling));
	o->n++;

	slot = &o->s[pos];
	slot->clock = seen;
	if (full)
		make_room(&slot->clock, superseded, nsuperseded, node_id);
	/* cannot fail: the id was checked, counter > 0 and there is room */
	dyn_vclock_set(&slot->clock, node_id, counter, now_ms);
	slot->dot = entry_index(&slot->clock, node_id);
	slot->tombstone = value == NULL;
	if (value != NULL)
		slot->value = *value;
	else
	{
		slot->value.ptr = NULL;
		slot->value.len = 0;
	}

	if (written != NULL)
		*written = slot->clock;
	return DYN_OK;
}

/* Whether a sibling with this fate is in the merge's result. */
static bool
fate_in_result(uint8_t fate)
{
	return fate == FATE_KEEP || fate == FATE_WIN || fate == FATE_BACK;
}

/*
 * Whether x's dot is covered by ctx, the merged clocks of those siblings
 * of s[0..n) whose fate (all of them when fate is NULL) is in the result.
 * A context is one clock, which drops its oldest entries past
 * DYN_VCLOCK_CAP, so a full one may have lost what one sibling's clock
 * still covers: then each sibling is asked (rare, and exact).
 */
static bool
set_covers(const dyn_vclock *ctx, const dyn_sibling *s, size_t n, const uint8_t *fate,
		   const dyn_sibling *x)
{
	if (ctx->n < DYN_VCLOCK_CAP)
		return dot_covered(ctx, x);
	for (size_t i = 0; i < n; i++)
	{
		if ((fate == NULL || fate_in_result(fate[i])) && dot_covered(&s[i].clock, x))
			return true;
	}
	return false;
}

/*
 * A total order on the contents of two siblings with one dot: a tombstone
 * first, then the clocks entry by entry, then the values' bytes.  Any
 * total order would do; what matters is that every replica picks the
 * same copy, whatever order the copies reach it in.
 */
static int
version_cmp(const dyn_sibling *a, const dyn_sibling *b)
{
	int			c;

	if (a->tombstone != b->tombstone)
		return a->tombstone ? -1 : 1;
	if (a->clock.n != b->clock.n)
		return a->clock.n < b->clock.n ? -1 : 1;
	for (uint8_t i = 0; i < a->clock.n; i++)
	{
		const dyn_vclock_entry *ea = &a->clock.e[i];
		const dyn_vclock_entry *eb = &b->clock.e[i];
		dyn_slice	ia = {(const uint8_t *) ea->id, ea->idlen};
		dyn_slice	ib = {(const uint8_t *) eb->id, eb->idlen};

		c = dyn_slice_cmp(ia, ib);
		if (c != 0)
			return c;
		if (ea->counter != eb->counter)
			return ea->counter < eb->counter ? -1 : 1;
		if (ea->ts_ms != eb->ts_ms)
			return ea->ts_ms < eb->ts_ms ? -1 : 1;
	}
	return dyn_slice_cmp(a->value, b->value);
}

/*
 * Decide every sibling's fate into plan (see dyn_object_merge).
 *
 * First each side's context supersedes what the other side lacks.  Then
 * every sibling so dropped must be covered by what is left, or it comes
 * back: when a version superseded another without covering what that one
 * superseded (a clock cut short made such histories), dropping both would
 * leave a result whose context no longer covers the first, and merging
 * the same side in again would bring it back (the merge would not absorb).
 * Keeping it at once is the only result that is a fixed point; it is a
 * sibling the client sees again, never a version lost.  The dropped are
 * judged one by one in dot order (of both sides together, so the outcome
 * does not depend on which side is o), each against the survivors and
 * those already brought back: a version that one brought back covers
 * stays dropped, so the result never holds two versions that each cover
 * the other (which decode refuses).
 */
static void
merge_decide(const dyn_object *o, const dyn_object *other, merge_plan *plan)
{
	dyn_vclock	ca;
	dyn_vclock	cb;
	dyn_vclock	left;
	bool		drops = false;
	size_t		i = 0;
	size_t		j = 0;

	dyn_object_context(o, &ca);
	dyn_object_context(other, &cb);
	while (i < o->n || j < other->n)
	{
		int			c;

		if (i == o->n)
			c = 1;
		else if (j == other->n)
			c = -1;
		else
			c = dot_cmp(&o->s[i], &other->s[j]);

		if (c < 0)
		{
			bool		drop = set_covers(&cb, other->s, other->n, NULL, &o->s[i]);

			plan->fate_o[i++] = drop ? FATE_DROP : FATE_KEEP;
			drops |= drop;
		}
		else if (c > 0)
		{
			bool		drop = set_covers(&ca, o->s, o->n, NULL, &other->s[j]);

			plan->fate_other[j++] = drop ? FATE_DROP : FATE_KEEP;
			drops |= drop;
		}
		else
		{
			bool		win = version_cmp(&other->s[j], &o->s[i]) > 0;

			plan->fate_o[i++] = win ? FATE_TAKE : FATE_KEEP;
			plan->fate_other[j++] = win ? FATE_WIN : FATE_SAME;
		}
	}

	if (drops)
	{
		/* what the first step's survivors cover; the dropped they miss come back */
		dyn_vclock_init(&left);
		for (i = 0; i < o->n; i++)
			if (fate_in_result(plan->fate_o[i]))
				dyn_vclock_merge(&left, &o->s[i].clock);
		for (j = 0; j < other->n; j++)
			if (fate_in_result(plan->fate_other[j]))
				dyn_vclock_merge(&left, &other->s[j].clock);
		i = j = 0;
		while (i < o->n || j < other->n)
		{
			bool		mine = j == other->n ||
				(i < o->n && dot_cmp(&o->s[i], &other->s[j]) < 0);
			uint8_t    *fate = mine ? &plan->fate_o[i] : &plan->fate_other[j];
			const dyn_sibling *x = mine ? &o->s[i++] : &other->s[j++];

			if (*fate == FATE_DROP &&
				!set_covers(&left, o->s, o->n, plan->fate_o, x) &&
				!set_covers(&left, other->s, other->n, plan->fate_other, x))
			{
				*fate = FATE_BACK;
				dyn_vclock_merge(&left, &x->clock);
			}
		}
	}

	plan->dropped = plan->added = 0;
	plan->taken = false;
	for (i = 0; i < o->n; i++)
	{
		if (plan->fate_o[i] == FATE_BACK)
			plan->fate_o[i] = FATE_KEEP;
		plan->dropped += plan->fate_o[i] == FATE_DROP;
		plan->taken |= plan->fate_o[i] == FATE_TAKE;
	}
	for (j = 0; j < other->n; j++)
	{
		if (plan->fate_other[j] == FATE_BACK)
			plan->fate_other[j] = FATE_KEEP;
		plan->added += plan->fate_other[j] == FATE_KEEP;
	}
}

/*
 * Replica-to-replica merge of other into o (see object.h).  A sibling of
 * one side survives unless the other side lacks it although that side's
 * context covers its dot (it saw the version and superseded it), and
 * unless then nothing left covers it (merge_decide).  Two copies of one
 * dot are one version: the greater copy by version_cmp is kept.  The
 * result is the same whichever side is o (commutative), merging a side
 * in again changes nothing (idempotent, absorbing).
 *
 * Both sibling arrays are in dot order, so merge-walks classify every
 * sibling; the result's size is known (and refused past DYN_SIBLINGS_MAX)
 * before o changes.  Then o's losers are squeezed out front to back and
 * other's newcomers merged in back to front, each without overwriting a
 * sibling not yet moved.
 */
int
dyn_object_merge(dyn_object *o, const dyn_object *other, bool *changed)
{
	merge_plan	plan;
	size_t		kept;
	size_t		i;
	size_t		j;
	size_t		k;
	int			rc;

	if (changed != NULL)
		*changed = false;
	if (o == other || other->n == 0)
		return DYN_OK;

	merge_decide(o, other, &plan);
	if (plan.dropped == 0 && plan.added == 0 && !plan.taken)
		return DYN_OK;
	if (o->n - plan.dropped + plan.added > DYN_SIBLINGS_MAX)
		return DYN_ERR_TOOBIG;
	rc = reserve(o, o->n - plan.dropped + plan.added);
	if (rc != DYN_OK)
		return rc;

	/* squeeze out o's superseded siblings, front to back; take other's copies */
	kept = 0;
	j = 0;
	for (i = 0; i < o->n; i++)
	{
		if (plan.fate_o[i] == FATE_DROP)
			continue;
		if (plan.fate_o[i] == FATE_TAKE)
		{
			while (dot_cmp(&other->s[j], &o->s[i]) < 0)
				j++;
			o->s[kept] = other->s[j];
		}
		else if (kept != i)
			o->s[kept] = o->s[i];
		kept++;
	}

	/* merge in other's newcomers, back to front */
	i = kept;
	k = kept + plan.added;
	for (j = other->n; j > 0; j--)
	{
		const dyn_sibling *theirs = &other->s[j - 1];

		if (plan.fate_other[j - 1] != FATE_KEEP)
			continue;
		while (i > 0 && dot_cmp(&o->s[i - 1], theirs) > 0)
			o->s[--k] = o->s[--i];
		o->s[--k] = *theirs;
	}
	o->n = kept + plan.added;

	if (changed != NULL)
		*changed = true;
	return DYN_OK;
}
