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
 */
#include "objbuf.h"

#include <malloc.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "dynamo/common.h"

/* Entries sampled per eviction. */
#define OBJBUF_SAMPLES		5

/* The table's first size, in slots (a power of two). */
#define OBJBUF_MIN_SLOTS	1024

/* One buffered object: the header, then klen key bytes, then vlen value bytes. */
typedef struct objbuf_entry
{
	uint64_t	hash;
	uint64_t	used;			/* the buffer's tick at the last get or put */
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
	uint64_t	rng;
	uint8_t		seed[crypto_shorthash_KEYBYTES];	/* objbuf_hash's key */
	dyn_objbuf_stats stats;
};

static uint64_t objbuf_hash(const dyn_objbuf *b, dyn_slice key);
static size_t objbuf_find(const dyn_objbuf *b, uint64_t hash, dyn_slice key);
static void objbuf_remove_at(dyn_objbuf *b, size_t i);
static int	objbuf_grow(dyn_objbuf *b);
static void objbuf_evict_one(dyn_objbuf *b);

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

bool
dyn_objbuf_get(dyn_objbuf *b, dyn_slice key, dyn_slice *value)
{
	size_t		i = objbuf_find(b, objbuf_hash(b, key), key);
	objbuf_entry *e;

	if (i == SIZE_MAX)
	{
		b->stats.misses++;
		return false;
	}
	e = b->slots[i];
	e->used = ++b->tick;
	value->ptr = e->bytes + e->klen;
	value->len = e->vlen;
	b->stats.hits++;
	return true;
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

/* Drop the least recently used of OBJBUF_SAMPLES sampled entries. */
static void
objbuf_evict_one(dyn_objbuf *b)
{
	size_t		victim = SIZE_MAX;
	uint64_t	oldest = 0;
	size_t		i;

	if (b->count == 0)
		return;
	/* xorshift64 for the starting slot; every sampled entry is distinct */
	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	i = b->rng & b->mask;
	for (int s = 0; s < OBJBUF_SAMPLES && (size_t) s < b->count; s++)
	{
		uint64_t	age;

		while (b->slots[i] == NULL)
			i = (i + 1) & b->mask;
		age = b->tick - b->slots[i]->used;
		if (victim == SIZE_MAX || age > oldest)
		{
			victim = i;
			oldest = age;
		}
		i = (i + 1) & b->mask;
	}
	objbuf_remove_at(b, victim);
	b->stats.evictions++;
}

void
dyn_objbuf_put(dyn_objbuf *b, dyn_slice key, dyn_slice value)
{
	uint64_t	hash = objbuf_hash(b, key);
	size_t		i = objbuf_find(b, hash, key);
	objbuf_entry *e;

	if (key.len > UINT32_MAX || value.len > UINT32_MAX ||
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
	}
	else
	{
		/* the table grows up to a quarter of the bound, then entries make room */
		if ((b->count + 1) * 2 > b->mask + 1 &&
			(b->mask + 1) * 2 * sizeof(*b->slots) <= b->max_bytes / 4)
			(void) objbuf_grow(b);
		while ((b->count + 1) * 4 > (b->mask + 1) * 3)
			objbuf_evict_one(b);	/* keep probe runs short */
		e = malloc(sizeof(*e) + key.len + value.len);
		if (e == NULL)
			return;
		e->hash = hash;
		e->klen = (uint32_t) key.len;
		memcpy(e->bytes, key.ptr, key.len);
		for (i = hash & b->mask; b->slots[i] != NULL; i = (i + 1) & b->mask)
			;
		b->slots[i] = e;
		b->count++;
	}
	e->used = ++b->tick;
	e->vlen = (uint32_t) value.len;
	e->cost = malloc_usable_size(e);
	if (value.len > 0)
		memcpy(e->bytes + key.len, value.ptr, value.len);
	b->bytes += e->cost;
	while (b->bytes > b->max_bytes && b->count > 1)
		objbuf_evict_one(b);
}

void
dyn_objbuf_forget(dyn_objbuf *b, dyn_slice key)
{
	size_t		i = objbuf_find(b, objbuf_hash(b, key), key);

	if (i != SIZE_MAX)
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
