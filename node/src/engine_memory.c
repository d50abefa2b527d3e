/*
 * engine_memory.c
 *		The in-memory storage engine: one skiplist per namespace.
 *
 * For tests, benchmarks and nodes that keep nothing across restarts (the
 * cluster's other replicas are their durability).  A skiplist keeps keys in
 * byte order, so partition scans work as with WiredTiger, with O(log n)
 * expected lookups and updates and no rebalancing.  Each record is a single
 * allocation holding the node, its links, the key and the value, so a put
 * allocates once for the stored copy and a get allocates nothing.
 *
 * Nothing reaches disk: cfg->dir and cfg->durability are ignored.  A
 * non-zero cfg->cache_mb caps the bytes held, and a put past the cap fails
 * with DYN_ERR_NOMEM rather than letting the process grow until it is
 * killed.  Batches only check their nesting: writes apply as they are made.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* Enough levels for 4^32 records at one promotion in four. */
#define MEM_MAX_LEVEL	32

/*
 * A record.  The links come first, then, in the same allocation, the key
 * and a value area of vcap bytes, so an overwrite with a value that fits is
 * done in place.
 */
typedef struct mem_node
{
	size_t		klen;
	size_t		vlen;
	size_t		vcap;			/* bytes reserved for the value */
	int			height;			/* entries in next[] */
	struct mem_node *next[];	/* next[i]: following node at level i */
} mem_node;

/* One namespace: the skiplist's head links and what it holds. */
typedef struct mem_list
{
	mem_node   *head[MEM_MAX_LEVEL];
	int			level;			/* levels in use, 0 when empty */
	uint64_t	count;
} mem_list;

/* An open memory engine. */
typedef struct mem_engine
{
	dyn_engine	base;			/* first, so a dyn_engine * is a mem_engine * */
	mem_list	lists[DYN_NS_COUNT];
	uint64_t	rng;			/* xorshift64 state for node heights */
	size_t		bytes;			/* allocated for records */
	size_t		max_bytes;		/* 0: no cap */
	bool		in_batch;
} mem_engine;

static int	mem_open(const dyn_engine_config *cfg, dyn_engine **out,
					 char *err, size_t errlen);
static void mem_close(dyn_engine *e);
static int	mem_get(dyn_engine *e, dyn_ns ns, dyn_slice key, dyn_buf *out);
static int	mem_put(dyn_engine *e, dyn_ns ns, dyn_slice key, dyn_slice value);
static int	mem_del(dyn_engine *e, dyn_ns ns, dyn_slice key);
static int	mem_update(dyn_engine *e, dyn_ns ns, dyn_slice key,
					   dyn_engine_update_fn fn, void *arg, bool *existed);
static int	mem_scan(dyn_engine *e, dyn_ns ns, dyn_slice start, dyn_slice end,
					 dyn_engine_scan_fn fn, void *arg);
static int	mem_count(dyn_engine *e, dyn_ns ns, uint64_t *count);
static int	mem_begin(dyn_engine *e);
static int	mem_commit(dyn_engine *e);
static int	mem_memory(dyn_engine *e, dyn_engine_meminfo *out);
static inline uint8_t *node_key(mem_node *n);
static inline uint8_t *node_value(mem_node *n);
static inline size_t node_size(int height, size_t klen, size_t vcap);
static int	node_cmp(mem_node *n, dyn_slice key);
static mem_node *list_seek(mem_list *l, dyn_slice key, mem_node ***links);
static int	random_height(mem_engine *me);
static mem_node *node_new(mem_engine *me, int height, dyn_slice key,
						  dyn_slice value);

const dyn_engine_ops dyn_engine_memory = {
	.name = "memory",
	.default_cache_mb = 0,		/* unbounded */
	.buffer_share = 0,			/* its records are in memory already */
	.open = mem_open,
	.close = mem_close,
	.get = mem_get,
	.put = mem_put,
	.del = mem_del,
	.update = mem_update,
	.scan = mem_scan,
	.count = mem_count,
	.begin = mem_begin,
	.commit = mem_commit,
	.memory = mem_memory,
};

/* The key's bytes, stored right after the node's links. */
static inline uint8_t *
node_key(mem_node *n)
{
	return (uint8_t *) &n->next[n->height];
}

/* The value's bytes, stored right after the key. */
static inline uint8_t *
node_value(mem_node *n)
{
	return node_key(n) + n->klen;
}

/* Bytes of one allocation holding a node, its links, key and value area. */
static inline size_t
node_size(int height, size_t klen, size_t vcap)
{
	return sizeof(mem_node) + (size_t) height * sizeof(mem_node *) + klen + vcap;
}

/*
 * Compare n's key with key: bytes unsigned, a proper prefix first, which is
 * the order WiredTiger gives, so scans agree between engines.
 */
static int
node_cmp(mem_node *n, dyn_slice key)
{
	size_t		len = n->klen < key.len ? n->klen : key.len;
	int			c = len > 0 ? memcmp(node_key(n), key.ptr, len) : 0;

	if (c != 0)
		return c;
	return n->klen < key.len ? -1 : n->klen > key.len ? 1 : 0;
}

/*
 * Return the first node whose key is >= key (NULL if none).  If links is
 * not NULL, links[i] is set, for every level i, to the link that leads to
 * that position at level i, which is where an insert or unlink goes.
 */
static mem_node *
list_seek(mem_list *l, dyn_slice key, mem_node ***links)
{
	mem_node  **row = l->head;	/* the links of the last node < key */
	mem_node   *stop = NULL;	/* ended the level above: >= key, or the end */

	for (int i = l->level - 1; i >= 0; i--)
	{
		/*
		 * stop is linked on every lower level too, so this level's walk
		 * meets it at the latest (and so never meets NULL before it), and
		 * it need not be compared again.
		 */
		while (row[i] != stop && node_cmp(row[i], key) < 0)
			row = row[i]->next;
		stop = row[i];
		if (links != NULL)
			links[i] = &row[i];
	}
	if (links != NULL)
	{
		for (int i = l->level; i < MEM_MAX_LEVEL; i++)
			links[i] = &l->head[i];
	}
	return l->level > 0 ? row[0] : NULL;
}

/*
 * A node height with P(h >= k) = 4^-(k-1): each pair of zero bits of one
 * xorshift64 draw climbs a level, and 64 bits cover all 32 levels.
 */
static int
random_height(mem_engine *me)
{
	uint64_t	x = me->rng;
	int			h = 1;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	me->rng = x;
	while ((x & 3) == 0 && h < MEM_MAX_LEVEL)
	{
		h++;
		x >>= 2;
	}
	return h;
}

/*
 * Allocate a node of the given height holding copies of key and value,
 * within the engine's byte cap.  Links are left for the caller to set.
 */
static mem_node *
node_new(mem_engine *me, int height, dyn_slice key, dyn_slice value)
{
	mem_node   *n;
	size_t		size;

	/* Far beyond any real record, and keeps node_size from overflowing. */
	if (key.len > SIZE_MAX / 4 || value.len > SIZE_MAX / 4)
	{
		snprintf(me->base.errmsg, sizeof(me->base.errmsg),
				 "put: record too large");
		return NULL;
	}
	size = node_size(height, key.len, value.len);
	if (me->max_bytes != 0 && size > me->max_bytes - me->bytes)
	{
		snprintf(me->base.errmsg, sizeof(me->base.errmsg),
				 "put: memory engine full (%zu of %zu bytes in use)",
				 me->bytes, me->max_bytes);
		return NULL;
	}
	n = malloc(size);
	if (n == NULL)
	{
		snprintf(me->base.errmsg, sizeof(me->base.errmsg),
				 "put: out of memory for a %zu-byte record", size);
		return NULL;
	}
	me->bytes += size;
	n->klen = key.len;
	n->vlen = value.len;
	n->vcap = value.len;
	n->height = height;
	memcpy(node_key(n), key.ptr, key.len);
	if (value.len > 0)
		memcpy(node_value(n), value.ptr, value.len);
	return n;
}

/* Make an empty engine; no file is touched. */
static int
mem_open(const dyn_engine_config *cfg, dyn_engine **out, char *err,
		 size_t errlen)
{
	mem_engine *me = calloc(1, sizeof(*me));

	if (me == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return DYN_ERR_NOMEM;
	}
	me->base.ops = &dyn_engine_memory;
	me->rng = UINT64_C(0x9E3779B97F4A7C15);	/* any non-zero seed will do */
	if (cfg->cache_mb > SIZE_MAX / (1024 * 1024))
		me->max_bytes = 0;
	else
		me->max_bytes = cfg->cache_mb * 1024 * 1024;
	*out = &me->base;
	return DYN_OK;
}

/* Free every record and the engine. */
static void
mem_close(dyn_engine *e)
{
	mem_engine *me = (mem_engine *) e;

	for (int ns = 0; ns < DYN_NS_COUNT; ns++)
	{
		mem_node   *n = me->lists[ns].head[0];

		while (n != NULL)
		{
			mem_node   *next = n->next[0];

			free(n);
			n = next;
		}
	}
	free(me);
}

/* Append key's value to out. */
static int
mem_get(dyn_engine *e, dyn_ns ns, dyn_slice key, dyn_buf *out)
{
	mem_engine *me = (mem_engine *) e;
	mem_node   *n = list_seek(&me->lists[ns], key, NULL);

	if (n == NULL || node_cmp(n, key) != 0)
		return DYN_ERR_NOTFOUND;
	dyn_buf_append(out, node_value(n), n->vlen);
	if (out->err != 0)
	{
		snprintf(e->errmsg, sizeof(e->errmsg),
				 "get: out of memory for a %zu-byte value", n->vlen);
		return out->err;
	}
	return DYN_OK;
}

/*
 * Insert or overwrite.  An overwrite reuses the node when the new value fits
 * and would not leave most of the space idle; otherwise a node of the same
 * height takes the old one's place in every list it was linked into.
 */
static int
mem_put(dyn_engine *e, dyn_ns ns, dyn_slice key, dyn_slice value)
{
	mem_engine *me = (mem_engine *) e;
	mem_list   *l = &me->lists[ns];
	mem_node  **links[MEM_MAX_LEVEL];
	mem_node   *old = list_seek(l, key, links);
	mem_node   *n;
	int			height;

	if (old != NULL && node_cmp(old, key) == 0)
	{
		if (value.len <= old->vcap && value.len >= old->vcap / 2)
		{
			if (value.len > 0)
				memcpy(node_value(old), value.ptr, value.len);
			old->vlen = value.len;
			return DYN_OK;
		}
		n = node_new(me, old->height, key, value);
		if (n == NULL)
			return DYN_ERR_NOMEM;
		for (int i = 0; i < old->height; i++)
		{
			n->next[i] = old->next[i];
			*links[i] = n;
		}
		me->bytes -= node_size(old->height, old->klen, old->vcap);
		free(old);
		return DYN_OK;
	}

	height = random_height(me);
	n = node_new(me, height, key, value);
	if (n == NULL)
		return DYN_ERR_NOMEM;
	for (int i = 0; i < height; i++)
	{
		n->next[i] = *links[i];
		*links[i] = n;
	}
	if (height > l->level)
		l->level = height;
	l->count++;
	return DYN_OK;
}

/*
 * Read-modify-write: fn reads the stored value in place, then the put
 * stores what it made.  The value fn returns never points into the node
 * (the caller builds it in its own memory), so an in-place overwrite by
 * mem_put cannot clobber its own source.
 */
static int
mem_update(dyn_engine *e, dyn_ns ns, dyn_slice key,
		   dyn_engine_update_fn fn, void *arg, bool *existed)
{
	mem_engine *me = (mem_engine *) e;
	mem_node   *n = list_seek(&me->lists[ns], key, NULL);
	dyn_slice	old;
	dyn_slice	value;
	int			rc;

	*existed = (n != NULL && node_cmp(n, key) == 0);
	if (*existed)
	{
		old.ptr = node_value(n);
		old.len = n->vlen;
	}
	if ((rc = fn(arg, *existed ? &old : NULL, &value)) != DYN_OK)
		return rc;
	return mem_put(e, ns, key, value);
}

/* Unlink and free key's node, if there is one. */
static int
mem_del(dyn_engine *e, dyn_ns ns, dyn_slice key)
{
	mem_engine *me = (mem_engine *) e;
	mem_list   *l = &me->lists[ns];
	mem_node  **links[MEM_MAX_LEVEL];
	mem_node   *n = list_seek(l, key, links);

	if (n == NULL || node_cmp(n, key) != 0)
		return DYN_OK;
	for (int i = 0; i < n->height; i++)
		*links[i] = n->next[i];
	while (l->level > 0 && l->head[l->level - 1] == NULL)
		l->level--;
	l->count--;
	me->bytes -= node_size(n->height, n->klen, n->vcap);
	free(n);
	return DYN_OK;
}

/*
 * Visit [start, end) in key order along the bottom level.  The callback may
 * read but not write, so the walk's next pointer stays valid.
 */
static int
mem_scan(dyn_engine *e, dyn_ns ns, dyn_slice start, dyn_slice end,
		 dyn_engine_scan_fn fn, void *arg)
{
	mem_engine *me = (mem_engine *) e;
	mem_node   *n = list_seek(&me->lists[ns], start, NULL);

	for (; n != NULL; n = n->next[0])
	{
		dyn_slice	k = {node_key(n), n->klen};
		dyn_slice	v = {node_value(n), n->vlen};

		if (end.len > 0 && node_cmp(n, end) >= 0)
			break;
		if (fn(arg, k, v) != 0)
			break;
	}
	return DYN_OK;
}

/* The kept count: O(1). */
static int
mem_count(dyn_engine *e, dyn_ns ns, uint64_t *count)
{
	mem_engine *me = (mem_engine *) e;

	*count = me->lists[ns].count;
	return DYN_OK;
}

/* Open a batch; only its nesting is checked, as with WiredTiger. */
static int
mem_begin(dyn_engine *e)
{
	mem_engine *me = (mem_engine *) e;

	if (me->in_batch)
	{
		snprintf(e->errmsg, sizeof(e->errmsg),
				 "begin: a batch is already open (batches do not nest)");
		return DYN_ERR_INVAL;
	}
	me->in_batch = true;
	return DYN_OK;
}

/* Close the batch; its writes were applied as they were made. */
static int
mem_commit(dyn_engine *e)
{
	mem_engine *me = (mem_engine *) e;

	if (!me->in_batch)
	{
		snprintf(e->errmsg, sizeof(e->errmsg), "commit: no batch is open");
		return DYN_ERR_INVAL;
	}
	me->in_batch = false;
	return DYN_OK;
}

/*
 * The records' bytes are the memory engine's whole cache, all of it
 * "dirty": nothing of it is anywhere else.
 */
static int
mem_memory(dyn_engine *e, dyn_engine_meminfo *out)
{
	mem_engine *me = (mem_engine *) e;

	out->cache_bytes = me->bytes;
	out->cache_dirty = me->bytes;
	out->cache_max = me->max_bytes;
	return DYN_OK;
}
