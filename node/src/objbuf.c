/*
 * objbuf.c
 *		The object buffer's container (see objbuf.h).
 *
 * An open-addressing table of entry pointers with linear probing, doubled
 * when it would be more than half full while it is under a quarter of the
 * bound, and past that kept at most three quarters full by evicting, so a
 * lookup reads the entries of a short probe run; removal shifts the run
 * back instead of leaving tombstones, so a table that sees many writes
 * does not fill up with them.  Each entry is one allocation: header, key,
 * value.
 *
 * Eviction samples OBJBUF_SAMPLES occupied slots from a random place and
 * drops the one used longest ago (each entry carries the tick of its last
 * use), the approximation of LRU redis makes: no list to maintain on every
 * hit, and close to LRU's hit rate for skewed and uniform loads alike.
 * Pending entries (write-behind) are passed over; a sample that finds no
 * clean entry among OBJBUF_SCAN_MAX entries gives up, and the buffer stays over
 * its bound until the writer catches up (dyn_objbuf_settle).
 */
#include "objbuf.h"

#include <malloc.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "dynamo/common.h"

/* Entries sampled per eviction. */
#define OBJBUF_SAMPLES		5

/* Entries an eviction looks at, at most, for its clean samples. */
#define OBJBUF_SCAN_MAX		64

/* An entry's vlen when it holds a key's absence (a pending delete). */
#define OBJBUF_ABSENT		UINT32_MAX

/* The table's first size, in slots (a power of two). */
#define OBJBUF_MIN_SLOTS	1024

/* One buffered object: the header, then klen key bytes, then vlen value bytes. */
typedef struct objbuf_entry
{
	uint64_t	hash;
	uint64_t	used;			/* the buffer's tick at the last get or put */
	uint64_t	seq;			/* the writer's number for it; 0: a read's copy */
	/*
	 * What the entry counts against the bound: its allocation as the
	 * allocator rounded it (malloc_usable_size at the last (re)allocation;
	 * jemalloc's size classes add up to a quarter), kept so that removing
	 * it subtracts exactly what adding it added.
	 */
	size_t		cost;
	uint32_t	klen;
	uint32_t	vlen;
	uint8_t		bytes[];
} objbuf_entry;

struct dyn_objbuf
{
	objbuf_entry **slots;
	size_t		mask;			/* slots - 1 */
	size_t		count;
	size_t		bytes;			/* entries' cost plus the table's */
	size_t		max_bytes;
	uint64_t	tick;
	uint64_t	settled;		/* entries with seq above it are pending */
	uint64_t	rng;
	uint8_t		seed[crypto_shorthash_KEYBYTES];	/* objbuf_hash's key */
	dyn_objbuf_stats stats;
};

static uint64_t objbuf_hash(const dyn_objbuf *b, dyn_slice key);
static size_t objbuf_find(const dyn_objbuf *b, uint64_t hash, dyn_slice key);
static void objbuf_remove_at(dyn_objbuf *b, size_t i);
static int	objbuf_grow(dyn_objbuf *b);
static bool objbuf_evict_one(dyn_objbuf *b);
static void objbuf_trim(dyn_objbuf *b);
static objbuf_entry *objbuf_new_entry(dyn_objbuf *b, uint64_t hash, dyn_slice key,
									  dyn_slice value, uint32_t vlen);
static size_t objbuf_insert_slot(dyn_objbuf *b, uint64_t hash);

#define objbuf_pending(b, e)	((e)->seq > (b)->settled)

/*
 * SipHash-2-4 of the key under the buffer's own random key: clients choose
 * the keys, and with an unkeyed hash they could choose thousands that share
 * one home slot and make every lookup walk them.
 */
static uint64_t
objbuf_hash(const dyn_objbuf *b, dyn_slice key)
{
	uint8_t		out[crypto_shorthash_BYTES];
	uint64_t	h;

	crypto_shorthash(out, key.ptr, key.len, b->seed);
	memcpy(&h, out, sizeof(h));
	return h;
}

/* The slot holding key, or SIZE_MAX. */
static size_t
objbuf_find(const dyn_objbuf *b, uint64_t hash, dyn_slice key)
{
	for (size_t i = hash & b->mask;; i = (i + 1) & b->mask)
	{
		const objbuf_entry *e = b->slots[i];

		if (e == NULL)
			return SIZE_MAX;
		if (e->hash == hash && e->klen == key.len && memcmp(e->bytes, key.ptr, key.len) == 0)
			return i;
	}
}

int
dyn_objbuf_create(size_t max_bytes, dyn_objbuf **out)
{
	dyn_objbuf *b;

	*out = NULL;
	if (max_bytes < 4 * OBJBUF_MIN_SLOTS * sizeof(objbuf_entry *))
		return DYN_ERR_INVAL;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return DYN_ERR_NOMEM;
	b->slots = calloc(OBJBUF_MIN_SLOTS, sizeof(*b->slots));
	if (b->slots == NULL)
	{
		free(b);
		return DYN_ERR_NOMEM;
	}
	b->mask = OBJBUF_MIN_SLOTS - 1;
	b->bytes = OBJBUF_MIN_SLOTS * sizeof(*b->slots);
	b->max_bytes = max_bytes;
	randombytes_buf(b->seed, sizeof(b->seed));
	randombytes_buf(&b->rng, sizeof(b->rng));
	b->rng |= 1;				/* xorshift's state must not be zero */
	*out = b;
	return DYN_OK;
}

void
dyn_objbuf_free(dyn_objbuf *b)
{
	if (b == NULL)
		return;
	dyn_objbuf_clear(b);
	free(b->slots);
	free(b);
}

dyn_objbuf_found
dyn_objbuf_get(dyn_objbuf *b, dyn_slice key, dyn_slice *value)
{
	size_t		i = objbuf_find(b, objbuf_hash(b, key), key);
	objbuf_entry *e;

	if (i == SIZE_MAX)
	{
		b->stats.misses++;
		return DYN_OBJBUF_MISS;
	}
	e = b->slots[i];
	e->used = ++b->tick;
	b->stats.hits++;
	if (e->vlen == OBJBUF_ABSENT)
		return DYN_OBJBUF_ABSENT;
	value->ptr = e->bytes + e->klen;
	value->len = e->vlen;
	return DYN_OBJBUF_HIT;
}

/*
 * Empty slot i and shift back the entries after it in its probe run that
 * could have lived there (whose home slot is not in (i, j]), so every
 * entry stays reachable from its home without tombstones.
 */
static void
objbuf_remove_at(dyn_objbuf *b, size_t i)
{
	objbuf_entry *gone = b->slots[i];
	size_t		j = i;

	b->bytes -= gone->cost;
	b->count--;
	free(gone);
	b->slots[i] = NULL;
	for (;;)
	{
		size_t		home;

		j = (j + 1) & b->mask;
		if (b->slots[j] == NULL)
			return;
		home = b->slots[j]->hash & b->mask;
		/* does home lie cyclically in (i, j]?  then the entry stays */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		b->slots[i] = b->slots[j];
		b->slots[j] = NULL;
		i = j;
	}
}

/* Double the table; on no memory the table stays as it is. */
static int
objbuf_grow(dyn_objbuf *b)
{
	size_t		n = (b->mask + 1) * 2;
	objbuf_entry **slots = calloc(n, sizeof(*slots));

	if (slots == NULL)
		return DYN_ERR_NOMEM;
	for (size_t i = 0; i <= b->mask; i++)
	{
		objbuf_entry *e = b->slots[i];
		size_t		j;

		if (e == NULL)
			continue;
		for (j = e->hash & (n - 1); slots[j] != NULL; j = (j + 1) & (n - 1))
			;
		slots[j] = e;
	}
	free(b->slots);
	b->slots = slots;
	b->bytes += (n / 2) * sizeof(*slots);
	b->mask = n - 1;
	return DYN_OK;
}

/*
 * Drop the least recently used of OBJBUF_SAMPLES sampled clean entries;
 * false if none was found among OBJBUF_SCAN_MAX entries.
 */
static bool
objbuf_evict_one(dyn_objbuf *b)
{
	size_t		victim = SIZE_MAX;
	uint64_t	oldest = 0;
	size_t		limit = b->count < OBJBUF_SCAN_MAX ? b->count : OBJBUF_SCAN_MAX;
	size_t		i;
	int			found = 0;

	if (b->count == 0)
		return false;
	/* xorshift64 for the starting slot; every sampled entry is distinct */
	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	i = b->rng & b->mask;
	for (size_t seen = 0; seen < limit && found < OBJBUF_SAMPLES; i = (i + 1) & b->mask)
	{
		const objbuf_entry *e = b->slots[i];
		uint64_t	age;

		if (e == NULL)
			continue;
		seen++;
		if (objbuf_pending(b, e))
			continue;
		found++;
		age = b->tick - e->used;
		if (victim == SIZE_MAX || age > oldest)
		{
			victim = i;
			oldest = age;
		}
	}
	if (victim == SIZE_MAX)
		return false;
	objbuf_remove_at(b, victim);
	b->stats.evictions++;
	return true;
}

/* Evict clean entries until the buffer is within its bound, or none is found. */
static void
objbuf_trim(dyn_objbuf *b)
{
	while (b->bytes > b->max_bytes && b->count > 1 && objbuf_evict_one(b))
		;
}

/*
 * A new entry for key: its header and key, and value's bytes unless vlen
 * says it holds an absence.  NULL when there is no memory.
 */
static objbuf_entry *
objbuf_new_entry(dyn_objbuf *b, uint64_t hash, dyn_slice key, dyn_slice value, uint32_t vlen)
{
	objbuf_entry *e = malloc(sizeof(*e) + key.len + value.len);

	if (e == NULL)
		return NULL;
	e->hash = hash;
	e->used = ++b->tick;
	e->seq = 0;
	e->klen = (uint32_t) key.len;
	e->vlen = vlen;
	memcpy(e->bytes, key.ptr, key.len);
	if (value.len > 0)
		memcpy(e->bytes + key.len, value.ptr, value.len);
	e->cost = malloc_usable_size(e);
	return e;
}

/*
 * The empty slot a new entry of hash goes in, after growing the table (up
 * to a quarter of the bound) or evicting to keep it at most 3/4 full.
 * The count is the caller's to raise.
 */
static size_t
objbuf_insert_slot(dyn_objbuf *b, uint64_t hash)
{
	size_t		i;

	if ((b->count + 1) * 2 > b->mask + 1 &&
		(b->mask + 1) * 2 * sizeof(*b->slots) <= b->max_bytes / 4)
		(void) objbuf_grow(b);
	while ((b->count + 1) * 4 > (b->mask + 1) * 3)
	{
		/* all pending: the table must grow past its quarter instead */
		if (!objbuf_evict_one(b) && objbuf_grow(b) != DYN_OK)
			return SIZE_MAX;
	}
	for (i = hash & b->mask; b->slots[i] != NULL; i = (i + 1) & b->mask)
		;
	return i;
}

void
dyn_objbuf_put(dyn_objbuf *b, dyn_slice key, dyn_slice value)
{
	uint64_t	hash = objbuf_hash(b, key);
	size_t		i = objbuf_find(b, hash, key);
	objbuf_entry *e;

	if (i != SIZE_MAX && objbuf_pending(b, b->slots[i]))
		return;					/* the newer value, not yet stored: keep it */
	if (key.len > UINT32_MAX || value.len >= OBJBUF_ABSENT ||
		key.len + value.len > b->max_bytes / 16)
	{
		if (i != SIZE_MAX)
			objbuf_remove_at(b, i);
		return;
	}
	if (i != SIZE_MAX)
	{
		/* a held key's new value: resized in its slot, no probe run to mend */
		size_t		before = b->slots[i]->cost;

		e = realloc(b->slots[i], sizeof(*e) + key.len + value.len);
		if (e == NULL)
		{
			objbuf_remove_at(b, i);
			return;
		}
		b->slots[i] = e;
		b->bytes -= before;
		e->used = ++b->tick;
		e->seq = 0;
		e->vlen = (uint32_t) value.len;
		e->cost = malloc_usable_size(e);
		if (value.len > 0)
			memcpy(e->bytes + key.len, value.ptr, value.len);
	}
	else
	{
		if ((i = objbuf_insert_slot(b, hash)) == SIZE_MAX)
			return;
		if ((e = objbuf_new_entry(b, hash, key, value, (uint32_t) value.len)) == NULL)
			return;
		b->slots[i] = e;
		b->count++;
	}
	b->bytes += e->cost;
	objbuf_trim(b);
}

int
dyn_objbuf_hold(dyn_objbuf *b, dyn_slice key, const dyn_slice *value, uint64_t seq)
{
	uint64_t	hash = objbuf_hash(b, key);
	size_t		i = objbuf_find(b, hash, key);
	dyn_slice	v = value != NULL ? *value : (dyn_slice) {NULL, 0};
	objbuf_entry *e;
	int			rc = DYN_OK;

	if (key.len > UINT32_MAX || v.len >= OBJBUF_ABSENT ||
		key.len + v.len > b->max_bytes / 16)
		rc = DYN_ERR_TOOBIG;
	else if ((e = objbuf_new_entry(b, hash, key, v,
								   value != NULL ? (uint32_t) v.len : OBJBUF_ABSENT)) == NULL)
		rc = DYN_ERR_NOMEM;
	if (rc != DYN_OK)
	{
		if (i != SIZE_MAX && !objbuf_pending(b, b->slots[i]))
			objbuf_remove_at(b, i);
		return rc;
	}
	e->seq = seq;
	if (i != SIZE_MAX)
	{
		/* the new entry was copied first: value may have been the old one's */
		b->bytes -= b->slots[i]->cost;
		free(b->slots[i]);
		b->slots[i] = e;
	}
	else
	{
		if ((i = objbuf_insert_slot(b, hash)) == SIZE_MAX)
		{
			free(e);
			return DYN_ERR_NOMEM;
		}
		b->slots[i] = e;
		b->count++;
	}
	b->bytes += e->cost;
	objbuf_trim(b);
	return DYN_OK;
}

void
dyn_objbuf_settle(dyn_objbuf *b, uint64_t seq)
{
	if (seq <= b->settled)
		return;
	b->settled = seq;
	objbuf_trim(b);
}

void
dyn_objbuf_forget(dyn_objbuf *b, dyn_slice key)
{
	size_t		i = objbuf_find(b, objbuf_hash(b, key), key);

	if (i != SIZE_MAX && !objbuf_pending(b, b->slots[i]))
		objbuf_remove_at(b, i);
}

void
dyn_objbuf_clear(dyn_objbuf *b)
{
	for (size_t i = 0; i <= b->mask; i++)
	{
		free(b->slots[i]);
		b->slots[i] = NULL;
	}
	b->count = 0;
	b->bytes = (b->mask + 1) * sizeof(*b->slots);
}

void
dyn_objbuf_stats_get(const dyn_objbuf *b, dyn_objbuf_stats *out)
{
	*out = b->stats;
	out->bytes = b->bytes;
	out->max_bytes = b->max_bytes;
	out->entries = b->count;
}
