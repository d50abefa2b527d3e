/*
 * store.c
 *		The replica store (see store.h).
 *
 * Engine keys are  u16 partition | u8 bucket length | bucket | key,  so the
 * keys of one partition are contiguous and a bucket name can never run into
 * the key that follows it.
 */
#include "store.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dynamo/ring.h"
#include "dynamo/wire.h"

static int	store_check_meta(dyn_store *st, const char *name, dyn_slice want,
							 char *err, size_t errlen);
static void store_make_key(dyn_store *st, dyn_slice bucket, dyn_slice key);
static int	store_apply_write(void *arg, const dyn_slice *stored, dyn_slice *result);
static int	store_apply_merge(void *arg, const dyn_slice *stored, dyn_slice *result);

/*
 * What store_apply_merge returns to abort the engine update when the merge
 * changes nothing: positive, so no engine or store status can mean it.
 */
#define STORE_UNCHANGED		1
static uint64_t store_now_ms(void);

/* Check the node's identity against the data directory, then count keys. */
int
dyn_store_open(dyn_store *st, dyn_engine *engine, const char *node_id,
			   uint32_t partitions, char *err, size_t errlen)
{
	char		qtext[16];
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

	snprintf(qtext, sizeof(qtext), "%u", partitions);
	if ((rc = store_check_meta(st, "node_id", dyn_slice_str(node_id), err, errlen)) != DYN_OK ||
		(rc = store_check_meta(st, "partitions", dyn_slice_str(qtext), err, errlen)) != DYN_OK)
		return rc;
	if ((rc = dyn_engine_count(engine, DYN_NS_OBJECT, &st->keys)) != DYN_OK)
	{
		snprintf(err, errlen, "could not count stored keys: %s",
				 dyn_engine_errmsg(engine));
		return rc;
	}
	return DYN_OK;
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
	dyn_buf_free(&st->keybuf);
	dyn_buf_free(&st->stored);
	dyn_buf_free(&st->encoded);
	dyn_object_free(&st->obj);
	dyn_object_free(&st->incoming);
}

/* Build the engine key of bucket/key in st->keybuf. */
static void
store_make_key(dyn_store *st, dyn_slice bucket, dyn_slice key)
{
	dyn_buf_reset(&st->keybuf);
	dyn_store_key(st->partitions, bucket, key, &st->keybuf);
}

/* Append u16 partition | u8 bucket length | bucket | key to out. */
void
dyn_store_key(uint32_t q, dyn_slice bucket, dyn_slice key, dyn_buf *out)
{
	uint32_t	part = dyn_partition_of(dyn_key_position(bucket, key), q);

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
	bool		changed;
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
		return DYN_OK;
	}
	if (dyn_slice_eq(*stored, a->incoming))
	{
		dyn_buf_reset(&st->encoded);
		dyn_buf_append(&st->encoded, stored->ptr, stored->len);
		return st->encoded.err ? DYN_ERR_NOMEM : STORE_UNCHANGED;
	}
	if (dyn_object_decode(stored != NULL ? *stored : none, &st->obj) != DYN_OK)
		return DYN_ERR_ENGINE;	/* never overwrite what we cannot read */
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
	return DYN_OK;
}

/* Merge an encoded sibling set into the record at engine_key of ns. */
int
dyn_store_merge_at(dyn_store *st, dyn_ns ns, dyn_slice engine_key,
				   dyn_slice object, bool *changed, bool *existed)
{
	store_merge_args args = {st, object, false};
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
	if (rc == DYN_OK && changed != NULL)
		*changed = true;
	return rc;
}

/* A replica's merge of another replica's copy of bucket/key. */
int
dyn_store_merge(dyn_store *st, dyn_slice bucket, dyn_slice key,
				dyn_slice object, bool *changed)
{
	bool		existed = false;
	bool		did = false;
	int			rc;

	store_make_key(st, bucket, key);
	if (st->keybuf.err)
		return DYN_ERR_NOMEM;
	rc = dyn_store_merge_at(st, DYN_NS_OBJECT, dyn_buf_slice(&st->keybuf), object,
							&did, &existed);
	if (rc == DYN_OK && did && !existed)
		st->keys++;
	if (changed != NULL)
		*changed = did;
	return rc;
}

/* Copy the stored bytes straight from the engine into the caller's buffer. */
int
dyn_store_get(dyn_store *st, dyn_slice bucket, dyn_slice key, dyn_buf *out)
{
	int			rc;

	store_make_key(st, bucket, key);
	if (st->keybuf.err)
		return DYN_ERR_NOMEM;
	rc = dyn_engine_get(st->engine, DYN_NS_OBJECT, dyn_buf_slice(&st->keybuf), out);
	return rc == DYN_ERR_NOTFOUND ? DYN_OK : rc;
}

/* What a write hands to its engine update callback. */
typedef struct store_write_args
{
	dyn_store  *st;
	const dyn_vclock *ctx;
	const dyn_slice *value;
	dyn_vclock *written;
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
	int			rc;

	/* an absent key decodes as the empty object */
	if (dyn_object_decode(stored != NULL ? *stored : none, &st->obj) != DYN_OK)
		return DYN_ERR_ENGINE;	/* a stored object we cannot read: never overwrite it */
	rc = dyn_object_put(&st->obj, dyn_slice_str(st->node_id), a->ctx, a->value,
						store_now_ms(), a->written);
	if (rc != DYN_OK)
		return rc;
	dyn_buf_reset(&st->encoded);
	dyn_object_encode(&st->obj, &st->encoded);
	if (st->encoded.err)
		return DYN_ERR_NOMEM;
	*result = dyn_buf_slice(&st->encoded);
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
	dyn_vclock	ctx;
	store_write_args args = {st, &ctx, value, written};
	bool		existed = false;
	int			rc;

	if (dyn_vclock_decode(context, &ctx) != DYN_OK)
		return DYN_ERR_PROTO;
	store_make_key(st, bucket, key);
	if (st->keybuf.err)
		return DYN_ERR_NOMEM;
	rc = dyn_engine_update(st->engine, DYN_NS_OBJECT, dyn_buf_slice(&st->keybuf),
						   store_apply_write, &args, &existed);
	if (rc == DYN_OK && !existed)
		st->keys++;
	return rc;
}

/* Wall-clock milliseconds: clock entries are stamped for truncation order. */
static uint64_t
store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}
