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

/* Flag bits of a sibling in the encoding; the others must be zero. */
#define SIBLING_TOMBSTONE	0x01

/*
 * Fewest bytes an encoded sibling can take (flags, dot, a clock's count,
 * value length): lets decode refuse an absurd count before allocating.
 */
#define SIBLING_MIN_BYTES	(1 + 1 + 1 + 4)

static const dyn_vclock_entry *dot_of(const dyn_sibling *s);
static dyn_slice dot_id(const dyn_sibling *s);
static int	dot_cmp(const dyn_sibling *a, const dyn_sibling *b);
static bool dot_covered(const dyn_vclock *ctx, const dyn_sibling *s);
static uint8_t entry_index(const dyn_vclock *clock, dyn_slice id);
static int	reserve(dyn_object *o, size_t need);
static int	read_sibling(dyn_reader *r, dyn_sibling *s);


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
 * out two copies of one version.  On failure o is left empty.
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
	return DYN_OK;
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

/*
 * The coordinator's write (see object.h).  Everything that can fail is
 * checked before o changes, so on error o is exactly as it was.
 *
 * ctx is copied first: it may point into o's own sibling array (a caller
 * writing back a sibling's clock) or be the same clock as *written.
 */
int
dyn_object_put(dyn_object *o, dyn_slice node_id, const dyn_vclock *ctx,
			   const dyn_slice *value, uint64_t now_ms, dyn_vclock *written)
{
	dyn_vclock	seen = *ctx;
	uint64_t	counter = dyn_vclock_get(&seen, node_id);
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
	if (counter == UINT64_MAX)
		return DYN_ERR_INVAL;
	counter++;
	if (survivors + 1 > DYN_SIBLINGS_MAX)
		return DYN_ERR_TOOBIG;
	rc = reserve(o, survivors + 1);
	if (rc != DYN_OK)
		return rc;

	/* drop what the writer saw; order is kept, so o stays sorted */
	for (i = 0; i < o->n; i++)
	{
		if (dot_covered(&seen, &o->s[i]))
			continue;
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
	/* a full context cannot take our entry: make room, then truncate */
	if (slot->clock.n >= DYN_VCLOCK_CAP)
		dyn_vclock_truncate(&slot->clock, DYN_VCLOCK_CAP - 1, node_id);
	/* cannot fail: the id was checked, counter > 0 and there is room */
	dyn_vclock_set(&slot->clock, node_id, counter, now_ms);
	dyn_vclock_truncate(&slot->clock, DYN_VCLOCK_KEEP, node_id);
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

/*
 * Replica-to-replica merge of other into o (see object.h).  A sibling of
 * one side survives unless the other side lacks it although that side's
 * context covers its dot (it saw the version and superseded it).
 *
 * Both sibling arrays are in dot order, so one merge-walk classifies every
 * sibling.  A first walk only counts, so that the result's size is known
 * (and refused past DYN_SIBLINGS_MAX) before o changes; then o's losers
 * are squeezed out front to back and other's newcomers merged in back to
 * front, each without overwriting a sibling not yet moved.
 */
int
dyn_object_merge(dyn_object *o, const dyn_object *other, bool *changed)
{
	dyn_vclock	ca;
	dyn_vclock	cb;
	size_t		dropped = 0;
	size_t		added = 0;
	size_t		kept;
	size_t		i;
	size_t		j;
	size_t		k;
	int			rc;

	if (changed != NULL)
		*changed = false;
	if (o == other || other->n == 0)
		return DYN_OK;

	dyn_object_context(o, &ca);
	dyn_object_context(other, &cb);

	/* count: o's siblings other superseded, other's siblings new to o */
	i = j = 0;
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
			dropped += dot_covered(&cb, &o->s[i++]);
		else if (c > 0)
			added += !dot_covered(&ca, &other->s[j++]);
		else
		{
			i++;
			j++;
		}
	}
	if (dropped == 0 && added == 0)
		return DYN_OK;
	if (o->n - dropped + added > DYN_SIBLINGS_MAX)
		return DYN_ERR_TOOBIG;
	rc = reserve(o, o->n - dropped + added);
	if (rc != DYN_OK)
		return rc;

	/* squeeze out o's superseded siblings, front to back */
	kept = 0;
	j = 0;
	for (i = 0; i < o->n; i++)
	{
		bool		in_other;

		while (j < other->n && dot_cmp(&other->s[j], &o->s[i]) < 0)
			j++;
		in_other = j < other->n && dot_cmp(&other->s[j], &o->s[i]) == 0;
		if (!in_other && dot_covered(&cb, &o->s[i]))
			continue;
		if (kept != i)
			o->s[kept] = o->s[i];
		kept++;
	}

	/*
	 * Merge in other's newcomers back to front.  Whatever o lost was not
	 * in other, so "not in o" can be judged against the squeezed array.
	 */
	i = kept;
	j = other->n;
	k = kept + added;
	while (j > 0)
	{
		const dyn_sibling *theirs = &other->s[j - 1];
		int			c = i > 0 ? dot_cmp(&o->s[i - 1], theirs) : -1;

		if (c > 0)
			o->s[--k] = o->s[--i];
		else
		{
			if (c < 0 && !dot_covered(&ca, theirs))
				o->s[--k] = *theirs;
			else if (c == 0)
				o->s[--k] = o->s[--i];
			j--;
		}
	}
	o->n = kept + added;

	if (changed != NULL)
		*changed = true;
	return DYN_OK;
}
