/*
 * store.c
 *		The replica store (see store.h).
 *
 * Engine keys are  u16 partition | u8 bucket length | bucket | key,  so the
 * keys of one partition are contiguous and a bucket name can never run into
 * the key that follows it.
 *
 * Every change of DYN_NS_OBJECT goes through an engine update callback (or,
 * for deletes, a scan or read just before), the only place the old bytes
 * can be seen.  The callback works out what the change does to the
 * partition's Merkle tree (the XOR of the old and new digests) and to the
 * tombstone count, into a store_change; the caller applies it only once
 * the engine reports that the write happened.  That costs one digest of
 * the old and one of the new object per write (dyn_merkle_digest), plus
 * the leaf choice.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamo/ring.h"
#include "dynamo/wire.h"

static int	store_check_meta(dyn_store *st, const char *name, dyn_slice want,
							 char *err, size_t errlen);
static void store_make_key(dyn_store *st, uint64_t position, dyn_slice bucket, dyn_slice key);
static void store_key_at(uint32_t q, uint64_t position, dyn_slice bucket, dyn_slice key,
						 dyn_buf *out);
static int	store_apply_write(void *arg, const dyn_slice *stored, dyn_slice *result);
static int	store_apply_merge(void *arg, const dyn_slice *stored, dyn_slice *result);
static int	store_load_one(void *arg, dyn_slice key, dyn_slice value);
static uint32_t store_partition_of(dyn_slice engine_key);
static dyn_merkle *store_tree_of(dyn_store *st, dyn_slice engine_key);
static void store_count_key(dyn_store *st, dyn_slice engine_key, int delta);
static bool store_all_tombstones(const dyn_object *o);
static void store_partition_range(uint32_t partition, uint8_t lo[2], uint8_t hi[2],
								  dyn_slice *start, dyn_slice *end);

/*
 * What store_apply_merge returns to abort the engine update when the merge
 * changes nothing: positive, so no engine or store status can mean it.
 */
#define STORE_UNCHANGED		1

/*
 * What one change of a DYN_NS_OBJECT record does to the store's summaries,
 * worked out inside the engine update and applied after it succeeded.
 */
typedef struct store_change
{
	bool		track;			/* an object record: work it out at all */
	int			tombstones;		/* -1, 0 or +1 */
	uint8_t		delta[DYN_MERKLE_DIGEST];	/* old digest ^ new digest */
} store_change;

static void store_note(store_change *c, dyn_slice key, dyn_slice old_obj,
					   bool old_tomb, dyn_slice new_obj, bool new_tomb);
static void store_account(dyn_store *st, dyn_slice key, const store_change *c,
						  int keys);

/*
 * Check the node's identity against the data directory, then build the
 * partition trees and count keys and tombstones in one scan.
 */
int
dyn_store_open(dyn_store *st, dyn_engine *engine, const char *node_id,
			   uint32_t partitions, char *err, size_t errlen)
{
	char		qtext[16];
	unsigned	depth = dyn_store_merkle_depth(partitions);
	dyn_slice	all = {NULL, 0};
	int			rc;

	memset(st, 0, sizeof(*st));
	st->engine = engine;
	st->partitions = partitions;
	snprintf(st->node_id, sizeof(st->node_id), "%s", node_id);
	dyn_buf_init(&st->keybuf);
	dyn_buf_init(&st->stored);
	dyn_buf_init(&st->encoded);
	dyn_object_init(&st->obj);
	dyn_object_init(&st->incoming);

	if (!dyn_partitions_valid(partitions))
	{
		snprintf(err, errlen, "invalid partition count %u", partitions);
		return DYN_ERR_INVAL;
	}
	snprintf(qtext, sizeof(qtext), "%u", partitions);
	if ((rc = store_check_meta(st, "node_id", dyn_slice_str(node_id), err, errlen)) != DYN_OK ||
		(rc = store_check_meta(st, "partitions", dyn_slice_str(qtext), err, errlen)) != DYN_OK)
	{
		dyn_store_close(st);
		return rc;
	}

	st->trees = calloc(partitions, sizeof(dyn_merkle));
	st->partition_keys = calloc(partitions, sizeof(uint64_t));
	if (st->trees == NULL || st->partition_keys == NULL)
	{
		snprintf(err, errlen, "out of memory for %u partition trees", partitions);
		dyn_store_close(st);
		return DYN_ERR_NOMEM;
	}
	for (uint32_t p = 0; p < partitions; p++)
	{
		if ((rc = dyn_merkle_init(&st->trees[p], depth)) != DYN_OK)
		{
			snprintf(err, errlen, "out of memory for %u partition trees", partitions);
			dyn_store_close(st);
			return rc;
		}
	}
	if ((rc = dyn_engine_scan(engine, DYN_NS_OBJECT, all, all, store_load_one, st)) != DYN_OK)
	{
		snprintf(err, errlen, "could not scan stored keys: %s",
				 dyn_engine_errmsg(engine));
		dyn_store_close(st);
		return rc;
	}
	return DYN_OK;
}

/* One stored object at open: count it and add it to its partition's tree. */
static int
store_load_one(void *arg, dyn_slice key, dyn_slice value)
{
	dyn_store  *st = arg;
	dyn_merkle *t = store_tree_of(st, key);
	dyn_slice	none = {NULL, 0};

	store_count_key(st, key, 1);
	if (dyn_object_bytes_all_tombstones(value))
		st->tombstones++;
	if (t != NULL)
		dyn_merkle_update(t, key, none, value);
	return 0;
}

/*
 * Record name=want in the metadata namespace the first time, and refuse a
 * later start whose value differs.
 */
static int
store_check_meta(dyn_store *st, const char *name, dyn_slice want,
				 char *err, size_t errlen)
{
	dyn_slice	k = dyn_slice_str(name);
	int			rc;

	dyn_buf_reset(&st->stored);
	rc = dyn_engine_get(st->engine, DYN_NS_META, k, &st->stored);
	if (rc == DYN_ERR_NOTFOUND)
	{
		rc = dyn_engine_put(st->engine, DYN_NS_META, k, want);
		if (rc != DYN_OK)
			snprintf(err, errlen, "could not record %s: %s", name,
					 dyn_engine_errmsg(st->engine));
		return rc;
	}
	if (rc != DYN_OK)
	{
		snprintf(err, errlen, "could not read %s: %s", name,
				 dyn_engine_errmsg(st->engine));
		return rc;
	}
	if (!dyn_slice_eq(dyn_buf_slice(&st->stored), want))
	{
		snprintf(err, errlen,
				 "data directory belongs to %s \"%.*s\", not \"%.*s\"", name,
				 (int) st->stored.len, (const char *) st->stored.data,
				 (int) want.len, (const char *) want.ptr);
		return DYN_ERR_INVAL;
	}
	return DYN_OK;
}

void
dyn_store_close(dyn_store *st)
{
	if (st->trees != NULL)
	{
		for (uint32_t p = 0; p < st->partitions; p++)
			dyn_merkle_free(&st->trees[p]);
		free(st->trees);
		st->trees = NULL;
	}
	free(st->partition_keys);
	st->partition_keys = NULL;
	dyn_buf_free(&st->keybuf);
	dyn_buf_free(&st->stored);
	dyn_buf_free(&st->encoded);
	dyn_object_free(&st->obj);
	dyn_object_free(&st->incoming);
}

/* 16 - log2(q), clamped to 4 .. 10. */
unsigned
dyn_store_merkle_depth(uint32_t q)
{
	unsigned	lg = 0;
	int			depth;

	while (lg < 32 && ((uint64_t) 1 << lg) < q)
		lg++;
	depth = 16 - (int) lg;
	return depth < 4 ? 4 : depth > 10 ? 10 : (unsigned) depth;
}

/* The tree of a partition, NULL when out of range. */
dyn_merkle *
dyn_store_tree(dyn_store *st, uint32_t partition)
{
	if (st->trees == NULL || partition >= st->partitions)
		return NULL;
	return &st->trees[partition];
}

/* The partition an engine key's u16 prefix names; UINT32_MAX if none. */
static uint32_t
store_partition_of(dyn_slice engine_key)
{
	if (engine_key.len < 2)
		return UINT32_MAX;
	return ((uint32_t) engine_key.ptr[0] << 8) | engine_key.ptr[1];
}

/* The tree of the partition an engine key names, if any. */
static dyn_merkle *
store_tree_of(dyn_store *st, dyn_slice engine_key)
{
	return dyn_store_tree(st, store_partition_of(engine_key));
}

/* One more (delta 1) or one fewer (-1) object, in total and in its partition. */
static void
store_count_key(dyn_store *st, dyn_slice engine_key, int delta)
{
	uint32_t	p = store_partition_of(engine_key);
	uint64_t   *pk = p < st->partitions && st->partition_keys != NULL ?
		&st->partition_keys[p] : NULL;

	if (delta > 0)
	{
		st->keys++;
		if (pk != NULL)
			(*pk)++;
	}
	else
	{
		if (st->keys > 0)
			st->keys--;
		if (pk != NULL && *pk > 0)
			(*pk)--;
	}
}

/* Whether a decoded object has siblings and all are tombstones. */
static bool
store_all_tombstones(const dyn_object *o)
{
	return o->n > 0 && dyn_object_live(o) == 0;
}

/*
 * Record in *c what replacing old_obj (empty: absent) by new_obj (empty:
 * deleted) at key does to the tree and the tombstone count.  Nothing is
 * hashed for records that are not objects.
 */
static void
store_note(store_change *c, dyn_slice key, dyn_slice old_obj, bool old_tomb,
		   dyn_slice new_obj, bool new_tomb)
{
	uint8_t		d[DYN_MERKLE_DIGEST];

	if (!c->track)
		return;
	dyn_merkle_digest(key, old_obj, c->delta);
	dyn_merkle_digest(key, new_obj, d);
	for (size_t i = 0; i < DYN_MERKLE_DIGEST; i++)
		c->delta[i] ^= d[i];
	c->tombstones = (int) new_tomb - (int) old_tomb;
}

/*
 * Apply a change the engine has made: the digest delta to the key's tree,
 * keys (+1 for a new key, -1 for a deleted one) and the tombstone count.
 */
static void
store_account(dyn_store *st, dyn_slice key, const store_change *c, int keys)
{
	dyn_merkle *t = store_tree_of(st, key);

	if (t != NULL)
		dyn_merkle_apply(t, key, c->delta);
	if (keys != 0)
		store_count_key(st, key, keys);
	if (c->tombstones > 0)
		st->tombstones++;
	else if (c->tombstones < 0 && st->tombstones > 0)
		st->tombstones--;
}

/*
 * The engine-key range of partition: [start, end), end empty for the last
 * partition a u16 prefix can name.  lo and hi hold the bytes.
 */
static void
store_partition_range(uint32_t partition, uint8_t lo[2], uint8_t hi[2],
					  dyn_slice *start, dyn_slice *end)
{
	uint32_t	next = partition + 1;

	lo[0] = (uint8_t) (partition >> 8);
	lo[1] = (uint8_t) partition;
	hi[0] = (uint8_t) (next >> 8);
	hi[1] = (uint8_t) next;
	start->ptr = lo;
	start->len = 2;
	end->ptr = hi;
	end->len = next > 0xffff ? 0 : 2;
}

/* Build the engine key of bucket/key (at ring position position) in st->keybuf. */
static void
store_make_key(dyn_store *st, uint64_t position, dyn_slice bucket, dyn_slice key)
{
	dyn_buf_reset(&st->keybuf);
	store_key_at(st->partitions, position, bucket, key, &st->keybuf);
}

void
dyn_store_key(uint32_t q, dyn_slice bucket, dyn_slice key, dyn_buf *out)
{
	store_key_at(q, dyn_key_position(bucket, key), bucket, key, out);
}

/* Append u16 partition | u8 bucket length | bucket | key to out. */
static void
store_key_at(uint32_t q, uint64_t position, dyn_slice bucket, dyn_slice key, dyn_buf *out)
{
	uint32_t	part = dyn_partition_of(position, q);

	dyn_buf_put_u16(out, (uint16_t) part);
	dyn_buf_put_u8(out, (uint8_t) bucket.len);
	dyn_buf_append(out, bucket.ptr, bucket.len);
	dyn_buf_append(out, key.ptr, key.len);
}

/* Take an engine key apart again (both parts must be non-empty). */
int
dyn_store_split_key(dyn_slice engine_key, dyn_slice *bucket, dyn_slice *key)
{
	dyn_reader	r;
	uint8_t		blen;

	dyn_reader_init(&r, engine_key);
	(void) dyn_rd_u16(&r);
	blen = dyn_rd_u8(&r);
	*bucket = dyn_rd_bytes(&r, blen);
	key->ptr = r.p;
	key->len = dyn_rd_left(&r);
	if (r.err != DYN_OK || blen == 0 || key->len == 0 || key->len > DYN_KEY_MAX)
		return DYN_ERR_PROTO;
	return DYN_OK;
}

/* The encoded sibling set the last write or merge stored. */
dyn_slice
dyn_store_object(const dyn_store *st)
{
	return dyn_buf_slice(&st->encoded);
}

/* What a merge hands to its engine update callback. */
typedef struct store_merge_args
{
	dyn_store  *st;
	dyn_slice	incoming;		/* the encoded set, decoded in st->incoming */
	dyn_slice	key;
	bool		changed;
	store_change change;
} store_merge_args;

/*
 * Merge st->incoming into the stored set; abort with STORE_UNCHANGED when
 * the stored copy already has everything, so an idempotent re-delivery
 * costs no write.  The encoded result lands in st->encoded either way.
 */
static int
store_apply_merge(void *arg, const dyn_slice *stored, dyn_slice *result)
{
	store_merge_args *a = arg;
	dyn_store  *st = a->st;
	dyn_slice	none = {NULL, 0};
	bool		old_tomb;
	int			rc;

	/*
	 * The common cases need no merge: a key new to this replica takes the
	 * incoming set as it is (decoded and checked already, and canonical),
	 * and a replica that has exactly those bytes has nothing to change.
	 */
	if (stored == NULL || stored->len == 0)
	{
		dyn_buf_reset(&st->encoded);
		dyn_buf_append(&st->encoded, a->incoming.ptr, a->incoming.len);
		if (st->encoded.err)
			return DYN_ERR_NOMEM;
		a->changed = st->incoming.n > 0;
		if (!a->changed)
			return STORE_UNCHANGED;
		*result = dyn_buf_slice(&st->encoded);
		store_note(&a->change, a->key, none, false, *result,
				   store_all_tombstones(&st->incoming));
		return DYN_OK;
	}
	if (dyn_slice_eq(*stored, a->incoming))
	{
		dyn_buf_reset(&st->encoded);
		dyn_buf_append(&st->encoded, stored->ptr, stored->len);
		return st->encoded.err ? DYN_ERR_NOMEM : STORE_UNCHANGED;
	}
	if (dyn_object_decode(*stored, &st->obj) != DYN_OK)
		return DYN_ERR_ENGINE;	/* never overwrite what we cannot read */
	old_tomb = store_all_tombstones(&st->obj);
	rc = dyn_object_merge(&st->obj, &st->incoming, &a->changed);
	if (rc != DYN_OK)
		return rc;
	dyn_buf_reset(&st->encoded);
	dyn_object_encode(&st->obj, &st->encoded);
	if (st->encoded.err)
		return DYN_ERR_NOMEM;
	if (!a->changed)
		return STORE_UNCHANGED;
	*result = dyn_buf_slice(&st->encoded);
	store_note(&a->change, a->key, *stored, old_tomb, *result,
			   store_all_tombstones(&st->obj));
	return DYN_OK;
}

/*
 * Merge an encoded sibling set into the record at engine_key of ns; an
 * object record also updates the tree, keys and tombstones.
 */
int
dyn_store_merge_at(dyn_store *st, dyn_ns ns, dyn_slice engine_key,
				   dyn_slice object, bool *changed, bool *existed)
{
	store_merge_args args = {st, object, engine_key, false, {ns == DYN_NS_OBJECT, 0, {0}}};
	bool		had = false;
	int			rc;

	if (changed != NULL)
		*changed = false;
	if (existed != NULL)
		*existed = false;
	if (dyn_object_decode(object, &st->incoming) != DYN_OK)
		return DYN_ERR_PROTO;
	rc = dyn_engine_update(st->engine, ns, engine_key, store_apply_merge, &args, &had);
	if (existed != NULL)
		*existed = had;
	if (rc == STORE_UNCHANGED)
		return DYN_OK;
	if (rc != DYN_OK)
		return rc;
	if (ns == DYN_NS_OBJECT)
		store_account(st, engine_key, &args.change, had ? 0 : 1);
	if (changed != NULL)
		*changed = true;
	return DYN_OK;
}

/* A replica's merge of another replica's copy of bucket/key. */
int
dyn_store_merge(dyn_store *st, dyn_slice bucket, dyn_slice key,
				dyn_slice object, bool *changed)
{
	if (changed != NULL)
		*changed = false;
	store_make_key(st, dyn_key_position(bucket, key), bucket, key);
	if (st->keybuf.err)
		return DYN_ERR_NOMEM;
	return dyn_store_merge_at(st, DYN_NS_OBJECT, dyn_buf_slice(&st->keybuf), object,
							  changed, NULL);
}

/*
 * A merge by engine key: only keys this store could have made for their
 * bucket/key are accepted, so a peer cannot file an object under another
 * partition than the one its key belongs to.
 */
int
dyn_store_merge_key(dyn_store *st, dyn_slice engine_key, dyn_slice object,
					bool *changed)
{
	dyn_slice	bucket;
	dyn_slice	key;
	uint32_t	part;

	if (changed != NULL)
		*changed = false;
	if (dyn_store_split_key(engine_key, &bucket, &key) != DYN_OK)
		return DYN_ERR_PROTO;
	part = dyn_partition_of(dyn_key_position(bucket, key), st->partitions);
	if (store_partition_of(engine_key) != part)
		return DYN_ERR_PROTO;
	return dyn_store_merge_at(st, DYN_NS_OBJECT, engine_key, object, changed, NULL);
}

/* The object at an engine key, straight from the engine. */
int
dyn_store_get_at(dyn_store *st, dyn_slice engine_key, dyn_buf *out)
{
	int			rc = dyn_engine_get(st->engine, DYN_NS_OBJECT, engine_key, out);

	return rc == DYN_ERR_NOTFOUND ? DYN_OK : rc;
}

/* What dyn_store_scan_partition hands to the engine scan. */
typedef struct store_visit
{
	dyn_store_visit_fn fn;
	void	   *arg;
	int			rc;
} store_visit;

static int
store_visit_one(void *arg, dyn_slice key, dyn_slice value)
{
	store_visit *v = arg;

	v->rc = v->fn(v->arg, key, value);
	return v->rc;
}

/*
 * Walk one partition's key range.  Resuming after a key starts at the
 * smallest key above it, after || 0x00; an after below the partition
 * starts at its first key, one past it finds nothing.
 */
int
dyn_store_scan_partition(dyn_store *st, uint32_t partition, dyn_slice after,
						 dyn_store_visit_fn fn, void *arg)
{
	store_visit v = {fn, arg, 0};
	uint8_t		lo[2];
	uint8_t		hi[2];
	dyn_slice	start;
	dyn_slice	end;
	dyn_buf		from;
	int			rc;

	if (partition >= st->partitions || fn == NULL)
		return DYN_ERR_INVAL;
	store_partition_range(partition, lo, hi, &start, &end);
	dyn_buf_init(&from);
	if (after.len > 0 && dyn_slice_cmp(after, start) >= 0)
	{
		dyn_buf_append(&from, after.ptr, after.len);
		dyn_buf_put_u8(&from, 0);
		if (from.err)
		{
			dyn_buf_free(&from);
			return DYN_ERR_NOMEM;
		}
		start = dyn_buf_slice(&from);
	}
	rc = dyn_engine_scan(st->engine, DYN_NS_OBJECT, start, end, store_visit_one, &v);
	dyn_buf_free(&from);
	return rc != DYN_OK ? rc : v.rc;
}

/*
 * What dyn_store_drop collects before deleting: per key u32 length, the
 * key, its digest and a tombstone flag byte; one more key than wanted
 * only sets more.
 */
typedef struct store_drop_list
{
	dyn_buf		list;
	size_t		max;
	size_t		n;
	bool		more;
} store_drop_list;

static int
store_drop_collect(void *arg, dyn_slice key, dyn_slice value)
{
	store_drop_list *d = arg;
	uint8_t		digest[DYN_MERKLE_DIGEST];

	if (d->n == d->max)
	{
		d->more = true;
		return 1;
	}
	dyn_merkle_digest(key, value, digest);
	dyn_buf_put_u32(&d->list, (uint32_t) key.len);
	dyn_buf_append(&d->list, key.ptr, key.len);
	dyn_buf_append(&d->list, digest, sizeof(digest));
	dyn_buf_put_u8(&d->list, dyn_object_bytes_all_tombstones(value));
	d->n++;
	return d->list.err ? 1 : 0;
}

/*
 * Drop a batch of a partition's keys: collect them (with what each
 * contributes to the tree) in one scan, since the engine allows no writes
 * during a scan, then delete them one by one, accounting for each.
 */
int
dyn_store_drop(dyn_store *st, uint32_t partition, size_t max,
			   size_t *dropped, bool *more)
{
	store_drop_list d = {.max = max};
	uint8_t		lo[2];
	uint8_t		hi[2];
	dyn_slice	start;
	dyn_slice	end;
	dyn_reader	r;
	int			rc;

	*dropped = 0;
	*more = false;
	if (partition >= st->partitions)
		return DYN_ERR_INVAL;
	store_partition_range(partition, lo, hi, &start, &end);
	dyn_buf_init(&d.list);
	rc = dyn_engine_scan(st->engine, DYN_NS_OBJECT, start, end, store_drop_collect, &d);
	if (rc == DYN_OK && d.list.err)
		rc = DYN_ERR_NOMEM;
	if (rc != DYN_OK)
	{
		dyn_buf_free(&d.list);
		return rc;
	}

	dyn_reader_init(&r, dyn_buf_slice(&d.list));
	for (size_t i = 0; i < d.n; i++)
	{
		store_change c = {true, 0, {0}};
		dyn_slice	key = dyn_rd_bytes(&r, dyn_rd_u32(&r));
		dyn_slice	digest = dyn_rd_bytes(&r, DYN_MERKLE_DIGEST);

		c.tombstones = dyn_rd_u8(&r) ? -1 : 0;
		if (r.err != DYN_OK)
		{
			rc = DYN_ERR_NOMEM;	/* cannot happen: we wrote it */
			break;
		}
		if ((rc = dyn_engine_delete(st->engine, DYN_NS_OBJECT, key)) != DYN_OK)
			break;
		memcpy(c.delta, digest.ptr, DYN_MERKLE_DIGEST);
		store_account(st, key, &c, -1);
		(*dropped)++;
	}
	*more = d.more || rc != DYN_OK;
	dyn_buf_free(&d.list);
	return rc;
}

/*
 * Reap a tombstone: re-read the object and delete it only when it is
 * still the all-tombstones version the caller judged (same digest).
 */
int
dyn_store_reap(dyn_store *st, dyn_slice engine_key,
			   const uint8_t digest[DYN_MERKLE_DIGEST], bool *reaped)
{
	store_change c = {true, -1, {0}};
	dyn_slice	obj;
	int			rc;

	*reaped = false;
	dyn_buf_reset(&st->stored);
	rc = dyn_engine_get(st->engine, DYN_NS_OBJECT, engine_key, &st->stored);
	if (rc == DYN_ERR_NOTFOUND)
		return DYN_OK;
	if (rc != DYN_OK)
		return rc;
	if (st->stored.err)
		return DYN_ERR_NOMEM;
	obj = dyn_buf_slice(&st->stored);
	if (!dyn_object_bytes_all_tombstones(obj))
		return DYN_OK;
	dyn_merkle_digest(engine_key, obj, c.delta);
	if (memcmp(c.delta, digest, DYN_MERKLE_DIGEST) != 0)
		return DYN_OK;
	if ((rc = dyn_engine_delete(st->engine, DYN_NS_OBJECT, engine_key)) != DYN_OK)
		return rc;
	store_account(st, engine_key, &c, -1);
	*reaped = true;
	return DYN_OK;
}

int
dyn_store_get(dyn_store *st, dyn_slice bucket, dyn_slice key, dyn_buf *out)
{
	return dyn_store_get_pos(st, dyn_key_position(bucket, key), bucket, key, out);
}

/* Copy the stored bytes straight from the engine into the caller's buffer. */
int
dyn_store_get_pos(dyn_store *st, uint64_t position, dyn_slice bucket, dyn_slice key,
				  dyn_buf *out)
{
	int			rc;

	store_make_key(st, position, bucket, key);
	if (st->keybuf.err)
		return DYN_ERR_NOMEM;
	rc = dyn_engine_get(st->engine, DYN_NS_OBJECT, dyn_buf_slice(&st->keybuf), out);
	return rc == DYN_ERR_NOTFOUND ? DYN_OK : rc;
}

/* What a write hands to its engine update callback. */
typedef struct store_write_args
{
	dyn_store  *st;
	dyn_slice	actor;
	uint64_t	floor;
	const dyn_vclock *ctx;
	const dyn_slice *value;
	dyn_vclock *written;
	dyn_slice	key;
	store_change change;
} store_write_args;

/*
 * Apply one write to the stored sibling set by the rules of object.h and
 * encode the result for the engine to store.  The stored siblings' values
 * point into the engine's copy (alive during the callback), the new value
 * into the request.
 */
static int
store_apply_write(void *arg, const dyn_slice *stored, dyn_slice *result)
{
	store_write_args *a = arg;
	dyn_store  *st = a->st;
	dyn_slice	none = {NULL, 0};
	dyn_slice	old = stored != NULL ? *stored : none;
	bool		old_tomb;
	int			rc;

	/* an absent key decodes as the empty object */
	if (dyn_object_decode(old, &st->obj) != DYN_OK)
		return DYN_ERR_ENGINE;	/* a stored object we cannot read: never overwrite it */
	old_tomb = store_all_tombstones(&st->obj);
	/* wall clock: clock entries are stamped for truncation order, across nodes */
	rc = dyn_object_put_above(&st->obj, a->actor, a->floor, a->ctx, a->value,
							  dyn_clock_wall_ms(), a->written);
	if (rc != DYN_OK)
		return rc;
	dyn_buf_reset(&st->encoded);
	dyn_object_encode(&st->obj, &st->encoded);
	if (st->encoded.err)
		return DYN_ERR_NOMEM;
	*result = dyn_buf_slice(&st->encoded);
	store_note(&a->change, a->key, old, old_tomb, *result,
			   store_all_tombstones(&st->obj));
	return DYN_OK;
}

/*
 * Coordinate a write: one engine read-modify-write of the key's sibling set
 * (a single B-tree search with WiredTiger).
 */
int
dyn_store_write(dyn_store *st, dyn_slice bucket, dyn_slice key,
				dyn_slice context, const dyn_slice *value, dyn_vclock *written)
{
	return dyn_store_write_as(st, dyn_key_position(bucket, key), dyn_slice_str(st->node_id),
							  0, bucket, key, context, value, written);
}

int
dyn_store_write_as(dyn_store *st, uint64_t position, dyn_slice actor, uint64_t floor,
				   dyn_slice bucket, dyn_slice key, dyn_slice context,
				   const dyn_slice *value, dyn_vclock *written)
{
	dyn_vclock	ctx;
	store_write_args args = {st, actor, floor, &ctx, value, written, {NULL, 0},
	{true, 0, {0}}};
	bool		existed = false;
	int			rc;

	if (dyn_vclock_decode(context, &ctx) != DYN_OK)
		return DYN_ERR_PROTO;
	store_make_key(st, position, bucket, key);
	if (st->keybuf.err)
		return DYN_ERR_NOMEM;
	args.key = dyn_buf_slice(&st->keybuf);
	rc = dyn_engine_update(st->engine, DYN_NS_OBJECT, args.key,
						   store_apply_write, &args, &existed);
	if (rc == DYN_OK)
		store_account(st, args.key, &args.change, existed ? 0 : 1);
	return rc;
}

