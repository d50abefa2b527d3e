/*
 * vclock.c
 *		Vector clocks: the causal history that every stored version and
 *		every client context carries.
 *
 * A clock is a small value type (dyn_vclock, no heap) whose entries stay
 * sorted by node id, so that compare and merge are one merge-walk over two
 * arrays and the encoding is canonical: equal clocks always have equal
 * bytes, which anti-entropy relies on when it hashes stored objects.
 * Id order is memcmp order, a shorter id first when one is a prefix of the
 * other.  Counters start at 1: a missing entry means counter 0, so an
 * entry with counter 0 would be a second spelling of "absent" and is
 * refused everywhere.
 *
 * Clocks are on the path of every request, so nothing here allocates and
 * whole clocks (about 1.8 KB) are passed by pointer, never copied in loops.
 */
#include <string.h>
#include <inttypes.h>
#include <sodium.h>

#include "dynamo/vclock.h"

#define DYN_CONTEXT_B64		sodium_base64_VARIANT_URLSAFE_NO_PADDING

/*
 * Longest clock encoding (a full clock of longest ids and 10-byte
 * varints) and its text: bounds the text a context can be.
 */
#define CLOCK_BYTES_MAX		(1 + DYN_VCLOCK_CAP * (1 + DYN_NODE_ID_MAX + 10 + 10))
#define CONTEXT_TEXT_MAX	((CLOCK_BYTES_MAX + 2) / 3 * 4)

static dyn_slice entry_id(const dyn_vclock_entry *e);
static int	entry_cmp(const dyn_vclock_entry *a, const dyn_vclock_entry *b);
static bool id_valid(dyn_slice id);
static bool find_entry(const dyn_vclock *vc, dyn_slice id, size_t *pos);
static void entry_max(dyn_vclock_entry *into, const dyn_vclock_entry *from);
static void drop_oldest(dyn_vclock_entry *e, size_t *n, size_t max,
						dyn_slice keep);
static bool is_empty_context(dyn_slice context);
static bool is_canonical_text(const char *text, size_t text_len, dyn_slice bin);


/* --------------------------------------------------------------- helpers */

/* An entry's id as a slice (a view into the entry). */
static dyn_slice
entry_id(const dyn_vclock_entry *e)
{
	dyn_slice	s = {(const uint8_t *) e->id, e->idlen};

	return s;
}

/* The order of clock entries: their ids' byte order (dyn_slice_cmp). */
static int
entry_cmp(const dyn_vclock_entry *a, const dyn_vclock_entry *b)
{
	return dyn_slice_cmp(entry_id(a), entry_id(b));
}

/* Node ids are 1 to DYN_NODE_ID_MAX arbitrary bytes. */
static bool
id_valid(dyn_slice id)
{
	return id.len > 0 && id.len <= DYN_NODE_ID_MAX;
}

/*
 * Look id up.  Returns whether it has an entry; *pos is its index, or
 * where it would be inserted to keep the entries sorted.  Clocks hold a
 * handful of entries, so a linear scan that stops early beats bisection.
 */
static bool
find_entry(const dyn_vclock *vc, dyn_slice id, size_t *pos)
{
	size_t		i;

	for (i = 0; i < vc->n; i++)
	{
		int			c = dyn_slice_cmp(entry_id(&vc->e[i]), id);

		if (c >= 0)
		{
			*pos = i;
			return c == 0;
		}
	}
	*pos = vc->n;
	return false;
}

/*
 * Fold from into into, both entries of the same node: the higher counter
 * wins and brings its timestamp along (on a tie the later timestamp, so a
 * merge never makes an entry look older than either side saw it).
 */
static void
entry_max(dyn_vclock_entry *into, const dyn_vclock_entry *from)
{
	if (from->counter > into->counter)
	{
		into->counter = from->counter;
		into->ts_ms = from->ts_ms;
	}
	else if (from->counter == into->counter && from->ts_ms > into->ts_ms)
		into->ts_ms = from->ts_ms;
}

/*
 * Remove entries from the sorted array e[0..*n) until at most max remain:
 * each time the one with the smallest timestamp (on a tie the smallest
 * id, so the result does not depend on anything but the clock), never the
 * entry whose id is keep (an empty keep protects nothing).  Quadratic, but
 * over at most 2 * DYN_VCLOCK_CAP entries and usually one removal.
 */
static void
drop_oldest(dyn_vclock_entry *e, size_t *n, size_t max, dyn_slice keep)
{
	while (*n > max)
	{
		size_t		victim = SIZE_MAX;
		size_t		i;

		for (i = 0; i < *n; i++)
		{
			if (dyn_slice_eq(entry_id(&e[i]), keep))
				continue;
			/* ids ascend, so on equal timestamps the first seen is smallest */
			if (victim == SIZE_MAX || e[i].ts_ms < e[victim].ts_ms)
				victim = i;
		}
		if (victim == SIZE_MAX)
			return;				/* only keep's entry is left */
		memmove(&e[victim], &e[victim + 1],
				(*n - victim - 1) * sizeof(dyn_vclock_entry));
		(*n)--;
	}
}


/* ------------------------------------------------------------ the clock */

/* The empty clock: every counter 0. */
void
dyn_vclock_init(dyn_vclock *vc)
{
	vc->n = 0;
}

/* The counter for id, 0 when id has no entry. */
uint64_t
dyn_vclock_get(const dyn_vclock *vc, dyn_slice id)
{
	size_t		pos;

	return find_entry(vc, id, &pos) ? vc->e[pos].counter : 0;
}

/* Whether vc has seen the event (id, counter). */
bool
dyn_vclock_covers(const dyn_vclock *vc, dyn_slice id, uint64_t counter)
{
	return dyn_vclock_get(vc, id) >= counter;
}

/*
 * Set id's entry to (counter, ts_ms), inserting it in id order when
 * missing.  Counter 0 is DYN_ERR_INVAL (see the file comment).
 */
int
dyn_vclock_set(dyn_vclock *vc, dyn_slice id, uint64_t counter, uint64_t ts_ms)
{
	dyn_vclock_entry *e;
	size_t		pos;

	if (!id_valid(id) || counter == 0)
		return DYN_ERR_INVAL;
	if (!find_entry(vc, id, &pos))
	{
		if (vc->n >= DYN_VCLOCK_CAP)
			return DYN_ERR_TOOBIG;
		memmove(&vc->e[pos + 1], &vc->e[pos],
				(vc->n - pos) * sizeof(dyn_vclock_entry));
		vc->n++;
		e = &vc->e[pos];
		e->idlen = (uint8_t) id.len;
		memcpy(e->id, id.ptr, id.len);
	}
	e = &vc->e[pos];
	e->counter = counter;
	e->ts_ms = ts_ms;
	return DYN_OK;
}

/*
 * Record a new event of id: its counter plus one (1 for a new entry),
 * stamped ts_ms.  A counter at UINT64_MAX cannot move on: DYN_ERR_TOOBIG.
 */
int
dyn_vclock_increment(dyn_vclock *vc, dyn_slice id, uint64_t ts_ms)
{
	uint64_t	counter = dyn_vclock_get(vc, id);

	if (counter == UINT64_MAX)
		return DYN_ERR_TOOBIG;
	return dyn_vclock_set(vc, id, counter + 1, ts_ms);
}

/*
 * How a relates to b, in one walk over both sorted entry arrays; an entry
 * missing on one side counts as 0 there.  Stops as soon as each side is
 * seen ahead somewhere, since nothing later can change "concurrent".
 */
dyn_vc_order
dyn_vclock_compare(const dyn_vclock *a, const dyn_vclock *b)
{
	bool		a_ahead = false;
	bool		b_ahead = false;
	size_t		i = 0;
	size_t		j = 0;

	while (i < a->n || j < b->n)
	{
		uint64_t	ca = 0;
		uint64_t	cb = 0;
		int			c;

		if (i == a->n)
			c = 1;
		else if (j == b->n)
			c = -1;
		else
			c = entry_cmp(&a->e[i], &b->e[j]);

		if (c <= 0)
			ca = a->e[i++].counter;
		if (c >= 0)
			cb = b->e[j++].counter;

		if (ca > cb)
			a_ahead = true;
		else if (cb > ca)
			b_ahead = true;
		if (a_ahead && b_ahead)
			return DYN_VC_CONCURRENT;
	}
	if (a_ahead)
		return DYN_VC_AFTER;
	return b_ahead ? DYN_VC_BEFORE : DYN_VC_EQUAL;
}

/*
 * Pointwise maximum of into and from, into into.
 *
 * When the union fits (the usual case) it is merged in place from the
 * back, like the last step of a merge sort, without a scratch clock.  When
 * it does not, the union is built in a scratch array on the stack and the
 * oldest entries are dropped until it fits.
 */
int
dyn_vclock_merge(dyn_vclock *into, const dyn_vclock *from)
{
	size_t		i = 0;
	size_t		j = 0;
	size_t		k;
	size_t		total = 0;

	if (into == from)
		return DYN_OK;

	/* size of the union */
	while (i < into->n && j < from->n)
	{
		int			c = entry_cmp(&into->e[i], &from->e[j]);

		i += c <= 0;
		j += c >= 0;
		total++;
	}
	total += (into->n - i) + (from->n - j);

	if (total <= DYN_VCLOCK_CAP)
	{
		/* back to front, so no entry of into is overwritten before it moves */
		i = into->n;
		j = from->n;
		k = total;
		while (j > 0)
		{
			int			c = -1;

			if (i > 0)
				c = entry_cmp(&into->e[i - 1], &from->e[j - 1]);

			if (c > 0)
				into->e[--k] = into->e[--i];
			else if (c < 0)
				into->e[--k] = from->e[--j];
			else
			{
				into->e[--k] = into->e[--i];
				entry_max(&into->e[k], &from->e[--j]);
			}
		}
		/* what is left of into (i entries) is already in place: k == i */
		into->n = (uint8_t) total;
	}
	else
	{
		dyn_vclock_entry all[2 * DYN_VCLOCK_CAP];
		dyn_slice	none = {NULL, 0};

		i = j = k = 0;
		while (i < into->n || j < from->n)
		{
			int			c;

			if (i == into->n)
				c = 1;
			else if (j == from->n)
				c = -1;
			else
				c = entry_cmp(&into->e[i], &from->e[j]);

			if (c < 0)
				all[k++] = into->e[i++];
			else if (c > 0)
				all[k++] = from->e[j++];
			else
			{
				all[k] = into->e[i++];
				entry_max(&all[k++], &from->e[j++]);
			}
		}
		drop_oldest(all, &k, DYN_VCLOCK_CAP, none);
		memcpy(into->e, all, k * sizeof(dyn_vclock_entry));
		into->n = (uint8_t) k;
	}
	return DYN_OK;
}

/* Drop oldest-timestamp entries until at most max remain, never keep's. */
void
dyn_vclock_truncate(dyn_vclock *vc, size_t max, dyn_slice keep)
{
	size_t		n = vc->n;

	drop_oldest(vc->e, &n, max, keep);
	vc->n = (uint8_t) n;
}


/* -------------------------------------------------------------- encoding */

/* u8 count, then per entry u8 idlen, id, varint counter, varint ts_ms. */
void
dyn_vclock_encode(const dyn_vclock *vc, dyn_buf *b)
{
	size_t		i;

	dyn_buf_put_u8(b, vc->n);
	for (i = 0; i < vc->n; i++)
	{
		const dyn_vclock_entry *e = &vc->e[i];

		dyn_buf_put_u8(b, e->idlen);
		dyn_buf_append(b, e->id, e->idlen);
		dyn_buf_put_varint(b, e->counter);
		dyn_buf_put_varint(b, e->ts_ms);
	}
}

/*
 * Decode one clock from r.  Besides short input, refuses everything that
 * the encoder cannot produce, so that a decoded clock always satisfies the
 * invariants the rest of this file assumes: more than DYN_VCLOCK_CAP
 * entries, ids empty or over DYN_NODE_ID_MAX, ids not strictly ascending
 * (unsorted or repeated), counter 0, and non-canonical varints.  On
 * failure r->err is set and *vc is the empty clock.
 */
int
dyn_vclock_read(dyn_reader *r, dyn_vclock *vc)
{
	uint8_t		count;
	size_t		i;

	vc->n = 0;
	count = dyn_rd_u8(r);
	if (r->err != DYN_OK)
		return r->err;
	if (count > DYN_VCLOCK_CAP)
		goto malformed;

	for (i = 0; i < count; i++)
	{
		dyn_vclock_entry *e = &vc->e[i];
		uint8_t		idlen = dyn_rd_u8(r);
		dyn_slice	id;

		if (idlen == 0 || idlen > DYN_NODE_ID_MAX)
			goto malformed;
		id = dyn_rd_bytes(r, idlen);
		e->counter = dyn_rd_varint(r);
		e->ts_ms = dyn_rd_varint(r);
		if (r->err != DYN_OK)
			goto malformed;
		if (e->counter == 0)
			goto malformed;
		e->idlen = idlen;
		memcpy(e->id, id.ptr, idlen);
		if (i > 0 && entry_cmp(&vc->e[i - 1], e) >= 0)
			goto malformed;
	}
	vc->n = count;
	return DYN_OK;

malformed:
	r->err = DYN_ERR_PROTO;
	vc->n = 0;
	return DYN_ERR_PROTO;
}

/*
 * Decode a whole slice holding one clock and nothing else (an opaque
 * context from a client).  The empty slice is the empty clock, so a blind
 * write needs no context at all.
 */
int
dyn_vclock_decode(dyn_slice s, dyn_vclock *vc)
{
	dyn_reader	r;
	int			rc;

	dyn_vclock_init(vc);
	if (s.len == 0)
		return DYN_OK;
	dyn_reader_init(&r, s);
	if (dyn_vclock_read(&r, vc) != DYN_OK)
		return DYN_ERR_PROTO;
	rc = dyn_reader_finish(&r);
	if (rc != DYN_OK)
		vc->n = 0;
	return rc;
}

/* Append {"n1":3,"n2":1}: ids as JSON strings, in id order. */
void
dyn_vclock_to_json(const dyn_vclock *vc, dyn_buf *b)
{
	size_t		i;

	dyn_buf_put_u8(b, '{');
	for (i = 0; i < vc->n; i++)
	{
		if (i > 0)
			dyn_buf_put_u8(b, ',');
		dyn_buf_put_json_string(b, entry_id(&vc->e[i]));
		dyn_buf_printf(b, ":%" PRIu64, vc->e[i].counter);
	}
	dyn_buf_put_u8(b, '}');
}


/* ------------------------------------------------------ contexts as text */

/*
 * Whether context encodes the empty clock: no bytes at all, or the one
 * byte a zero-entry clock encodes to.  Both are the empty string as text.
 */
static bool
is_empty_context(dyn_slice context)
{
	return context.len == 0 || (context.len == 1 && context.ptr[0] == 0);
}

/*
 * Append context as URL-safe base64 without padding, and a NUL just past
 * the end (not counted in out->len) so out->data is a C string.
 */
void
dyn_context_to_text(dyn_slice context, dyn_buf *out)
{
	size_t		text_len;

	if (is_empty_context(context))
	{
		if (dyn_buf_reserve(out, 1) == DYN_OK)
			out->data[out->len] = '\0';
		return;
	}
	if (context.len > SIZE_MAX / 4)
	{
		if (out->err == DYN_OK)
			out->err = DYN_ERR_NOMEM;
		return;
	}
	/* the libsodium length includes the NUL */
	text_len = sodium_base64_ENCODED_LEN(context.len, DYN_CONTEXT_B64);
	if (dyn_buf_reserve(out, text_len) != DYN_OK)
		return;
	sodium_bin2base64((char *) out->data + out->len, text_len,
					  context.ptr, context.len, DYN_CONTEXT_B64);
	out->len += text_len - 1;
}

/*
 * Append the binary context that text spells.  text must be canonical
 * URL-safe unpadded base64 (libsodium refuses stray characters and
 * non-zero leftover bits) of a well-formed clock: a context typed by a
 * person is checked here, where the mistake can be reported, rather than
 * by the node, which would close the connection over it.  On failure
 * DYN_ERR_PROTO and out is unchanged (DYN_ERR_NOMEM if out could not grow).
 */
int
dyn_context_from_text(const char *text, dyn_buf *out)
{
	size_t		text_len = strlen(text);
	size_t		max_len = text_len / 4 * 3 + 2;
	size_t		bin_len;
	dyn_slice	bin;
	dyn_vclock	check;

	if (text_len == 0)
		return DYN_OK;
	if (dyn_buf_reserve(out, max_len) != DYN_OK)
		return out->err;
	if (sodium_base642bin(out->data + out->len, max_len, text, text_len,
						  NULL, &bin_len, NULL, DYN_CONTEXT_B64) != 0)
		return DYN_ERR_PROTO;
	bin.ptr = out->data + out->len;
	bin.len = bin_len;
	if (dyn_vclock_decode(bin, &check) != DYN_OK || !is_canonical_text(text, text_len, bin))
		return DYN_ERR_PROTO;
	out->len += bin_len;
	return DYN_OK;
}

/*
 * Whether text (not empty) is the spelling dyn_context_to_text gives bin,
 * which for the empty clock is the empty string only.  libsodium
 * 1.0.18's decoder reads every byte from 0x80 up as '_', so a decoded
 * context is encoded again (a context is at most a few KB; the bytes go
 * on the stack) and compared, as dyn_key_from_text does for keys.
 */
static bool
is_canonical_text(const char *text, size_t text_len, dyn_slice bin)
{
	char		again[CONTEXT_TEXT_MAX + 1];

	if (text_len > CONTEXT_TEXT_MAX || is_empty_context(bin) ||
		sodium_base64_ENCODED_LEN(bin.len, DYN_CONTEXT_B64) != text_len + 1)
		return false;
	sodium_bin2base64(again, sizeof(again), bin.ptr, bin.len, DYN_CONTEXT_B64);
	return memcmp(again, text, text_len) == 0;
}
