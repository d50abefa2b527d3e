/*
 * wire_sync.c
 *		Bodies of the anti-entropy messages (MERKLE, SYNC_KEYS, REAP) and of
 *		the administration requests (REPAIR, REMOVE); see wire.h.
 *
 * Kept apart from wire.c because these messages concern replicas
 * reconciling whole partitions, not single client requests; they follow
 * the same rules: every length checked against the body, nothing may
 * trail it, decoded slices point into the frame.
 */
#include <string.h>

#include "dynamo/merkle.h"
#include "dynamo/wire.h"

static void sync_fail(dyn_buf *b, int err);
static int	read_u16_list(dyn_reader *r, uint16_t *count, dyn_slice *list);
static int	read_engine_key(dyn_reader *r, dyn_slice *key);
static void put_u16_list(dyn_buf *b, const uint16_t *list, uint16_t count);

/* Record err in b unless an earlier failure is already there. */
static void
sync_fail(dyn_buf *b, int err)
{
	if (b->err == DYN_OK)
		b->err = err;
}

/* u16 count, then count big-endian u16 values, kept as one slice. */
static int
read_u16_list(dyn_reader *r, uint16_t *count, dyn_slice *list)
{
	*count = dyn_rd_u16(r);
	if (r->err != DYN_OK || *count > DYN_SYNC_MAX_ITEMS)
		return DYN_ERR_PROTO;
	*list = dyn_rd_bytes(r, (size_t) *count * 2);
	return r->err != DYN_OK ? DYN_ERR_PROTO : DYN_OK;
}

/*
 * An engine key: u16 length then the bytes; it must at least hold the
 * partition, a bucket length and one byte of key.
 */
static int
read_engine_key(dyn_reader *r, dyn_slice *key)
{
	*key = dyn_rd_blob16(r);
	if (r->err != DYN_OK || key->len < 4 || key->len > 3 + DYN_BUCKET_MAX + DYN_KEY_MAX)
		return DYN_ERR_PROTO;
	return DYN_OK;
}

/* u16 count, then the count values (read back by read_u16_list). */
static void
put_u16_list(dyn_buf *b, const uint16_t *list, uint16_t count)
{
	dyn_buf_put_u16(b, count);
	for (uint16_t i = 0; i < count; i++)
		dyn_buf_put_u16(b, list[i]);
}

/* The i-th big-endian u16 of a list a decoder has checked. */
uint16_t
dyn_u16_at(dyn_slice s, size_t i)
{
	return (uint16_t) ((s.ptr[2 * i] << 8) | s.ptr[2 * i + 1]);
}

/* ---------------------------------------------------------------- merkle */

void
dyn_merkle_req_encode(dyn_buf *b, uint32_t reqid, uint16_t partition,
					  uint8_t level, uint8_t span, const uint16_t *indices, uint16_t count)
{
	size_t		start;

	if (count > DYN_SYNC_MAX_ITEMS || level > DYN_MERKLE_DEPTH_MAX || span > level ||
		(level > 0 && span == 0))
	{
		sync_fail(b, DYN_ERR_INVAL);
		return;
	}
	start = dyn_frame_begin(b, DYN_MSG_MERKLE, reqid);
	dyn_buf_put_u16(b, partition);
	dyn_buf_put_u8(b, level);
	dyn_buf_put_u8(b, span);
	put_u16_list(b, indices, count);
	dyn_frame_end(b, start);
}

int
dyn_merkle_req_decode(dyn_slice body, dyn_merkle_req *out)
{
	dyn_reader	r;

	*out = (dyn_merkle_req) {0};
	dyn_reader_init(&r, body);
	out->partition = dyn_rd_u16(&r);
	out->level = dyn_rd_u8(&r);
	out->span = dyn_rd_u8(&r);
	if (r.err != DYN_OK || out->level > DYN_MERKLE_DEPTH_MAX || out->span > out->level ||
		(out->level > 0 && out->span == 0))
		return DYN_ERR_PROTO;
	if (read_u16_list(&r, &out->count, &out->indices) != DYN_OK)
		return DYN_ERR_PROTO;
	if (out->level == 0 && out->count != 1)
		return DYN_ERR_PROTO;
	return dyn_reader_finish(&r);
}

/* u8 depth, then the digests (their width depends on the level asked). */
int
dyn_merkle_reply_decode(dyn_slice body, uint8_t *depth, dyn_slice *digests)
{
	if (body.len < 1)
		return DYN_ERR_PROTO;
	*depth = body.ptr[0];
	if (*depth < 1 || *depth > DYN_MERKLE_DEPTH_MAX)
		return DYN_ERR_PROTO;
	digests->ptr = body.ptr + 1;
	digests->len = body.len - 1;
	return DYN_OK;
}

/* ------------------------------------------------------------- sync keys */

void
dyn_sync_keys_req_encode(dyn_buf *b, uint32_t reqid, uint16_t partition,
						 uint8_t flags, dyn_slice after,
						 const uint16_t *leaves, uint16_t count)
{
	size_t		start;

	if (count > DYN_SYNC_MAX_ITEMS || after.len > UINT16_MAX ||
		(flags & ~DYN_SYNC_OBJECTS) != 0)
	{
		sync_fail(b, DYN_ERR_INVAL);
		return;
	}
	start = dyn_frame_begin(b, DYN_MSG_SYNC_KEYS, reqid);
	dyn_buf_put_u16(b, partition);
	dyn_buf_put_u8(b, flags);
	dyn_buf_put_blob16(b, after);
	put_u16_list(b, leaves, count);
	dyn_frame_end(b, start);
}

int
dyn_sync_keys_req_decode(dyn_slice body, dyn_sync_keys_req *out)
{
	dyn_reader	r;

	*out = (dyn_sync_keys_req) {0};
	dyn_reader_init(&r, body);
	out->partition = dyn_rd_u16(&r);
	out->flags = dyn_rd_u8(&r);
	out->after = dyn_rd_blob16(&r);
	if (r.err != DYN_OK || (out->flags & ~DYN_SYNC_OBJECTS) != 0)
		return DYN_ERR_PROTO;
	if (read_u16_list(&r, &out->count, &out->leaves) != DYN_OK)
		return DYN_ERR_PROTO;
	return dyn_reader_finish(&r);
}

/* Start a SYNC_KEYS_REPLY; more and count are patched by _end. */
size_t
dyn_sync_keys_reply_begin(dyn_buf *b, uint32_t reqid)
{
	size_t		start = dyn_frame_begin(b, DYN_MSG_SYNC_KEYS_REPLY, reqid);

	dyn_buf_put_u8(b, 0);
	dyn_buf_put_u32(b, 0);
	return start;
}

void
dyn_sync_keys_reply_add(dyn_buf *b, dyn_slice key, dyn_slice payload, bool objects)
{
	if (key.len == 0 || key.len > UINT16_MAX ||
		(!objects && payload.len != DYN_SYNC_DIGEST))
	{
		sync_fail(b, DYN_ERR_INVAL);
		return;
	}
	dyn_buf_put_blob16(b, key);
	if (objects)
		dyn_buf_put_blob32(b, payload);
	else
		dyn_buf_append(b, payload.ptr, payload.len);
}

void
dyn_sync_keys_reply_end(dyn_buf *b, size_t start, uint32_t count, bool more)
{
	size_t		body = start + DYN_FRAME_HEADER_LEN;

	if (b->err != DYN_OK)
		return;
	b->data[body] = more ? 1 : 0;
	dyn_buf_patch_u32(b, body + 1, count);
	dyn_frame_end(b, start);
}

/* Split a reply and check that it holds exactly count well-formed items. */
int
dyn_sync_keys_reply_decode(dyn_slice body, bool objects, dyn_sync_keys_reply *out)
{
	dyn_reader	r;
	dyn_reader	items;
	uint8_t		more;
	dyn_slice	key;
	dyn_slice	payload;

	*out = (dyn_sync_keys_reply) {0};
	dyn_reader_init(&r, body);
	more = dyn_rd_u8(&r);
	out->count = dyn_rd_u32(&r);
	if (r.err != DYN_OK || more > 1)
		return DYN_ERR_PROTO;
	out->more = more == 1;
	out->objects = objects;
	out->items.ptr = r.p;
	out->items.len = dyn_rd_left(&r);
	dyn_reader_init(&items, out->items);
	for (uint32_t i = 0; i < out->count; i++)
		if (dyn_sync_keys_next(&items, objects, &key, &payload) != DYN_OK)
			return DYN_ERR_PROTO;
	return dyn_reader_finish(&items);
}

int
dyn_sync_keys_next(dyn_reader *r, bool objects, dyn_slice *key, dyn_slice *payload)
{
	if (read_engine_key(r, key) != DYN_OK)
		return DYN_ERR_PROTO;
	*payload = objects ? dyn_rd_blob32(r) : dyn_rd_bytes(r, DYN_SYNC_DIGEST);
	return r->err != DYN_OK ? DYN_ERR_PROTO : DYN_OK;
}

/* ------------------------------------------------------------------ reap */

size_t
dyn_reap_req_begin(dyn_buf *b, uint32_t reqid, uint16_t partition)
{
	size_t		start = dyn_frame_begin(b, DYN_MSG_REAP, reqid);

	dyn_buf_put_u16(b, partition);
	dyn_buf_put_u16(b, 0);
	return start;
}

void
dyn_reap_req_add(dyn_buf *b, dyn_slice key, const uint8_t *digest)
{
	if (key.len == 0 || key.len > UINT16_MAX)
	{
		sync_fail(b, DYN_ERR_INVAL);
		return;
	}
	dyn_buf_put_blob16(b, key);
	dyn_buf_append(b, digest, DYN_MERKLE_DIGEST);
}

void
dyn_reap_req_end(dyn_buf *b, size_t start, uint16_t count)
{
	size_t		body = start + DYN_FRAME_HEADER_LEN;

	if (b->err != DYN_OK)
		return;
	b->data[body + 2] = (uint8_t) (count >> 8);
	b->data[body + 3] = (uint8_t) count;
	dyn_frame_end(b, start);
}

int
dyn_reap_req_decode(dyn_slice body, uint16_t *partition, uint16_t *count,
					dyn_slice *items)
{
	dyn_reader	r;
	dyn_reader	it;
	dyn_slice	key;
	dyn_slice	digest;

	dyn_reader_init(&r, body);
	*partition = dyn_rd_u16(&r);
	*count = dyn_rd_u16(&r);
	if (r.err != DYN_OK)
		return DYN_ERR_PROTO;
	items->ptr = r.p;
	items->len = dyn_rd_left(&r);
	dyn_reader_init(&it, *items);
	for (uint16_t i = 0; i < *count; i++)
		if (dyn_reap_next(&it, &key, &digest) != DYN_OK)
			return DYN_ERR_PROTO;
	return dyn_reader_finish(&it);
}

int
dyn_reap_next(dyn_reader *r, dyn_slice *key, dyn_slice *digest)
{
	if (read_engine_key(r, key) != DYN_OK)
		return DYN_ERR_PROTO;
	*digest = dyn_rd_bytes(r, DYN_MERKLE_DIGEST);
	return r->err != DYN_OK ? DYN_ERR_PROTO : DYN_OK;
}

/* ---------------------------------------------------------------- admin */

void
dyn_remove_req_encode(dyn_buf *b, uint32_t reqid, dyn_slice node_id)
{
	size_t		start;

	if (node_id.len == 0 || node_id.len > DYN_NODE_ID_MAX)
	{
		sync_fail(b, DYN_ERR_INVAL);
		return;
	}
	start = dyn_frame_begin(b, DYN_MSG_REMOVE, reqid);
	dyn_buf_put_u8(b, (uint8_t) node_id.len);
	dyn_buf_append(b, node_id.ptr, node_id.len);
	dyn_frame_end(b, start);
}

int
dyn_remove_req_decode(dyn_slice body, dyn_slice *node_id)
{
	dyn_reader	r;
	uint8_t		len;

	dyn_reader_init(&r, body);
	len = dyn_rd_u8(&r);
	*node_id = dyn_rd_bytes(&r, len);
	if (r.err != DYN_OK || len == 0 || len > DYN_NODE_ID_MAX)
		return DYN_ERR_PROTO;
	return dyn_reader_finish(&r);
}

void
dyn_json_reply_encode(dyn_buf *b, uint8_t type, uint32_t reqid, dyn_slice json)
{
	size_t		start = dyn_frame_begin(b, type, reqid);

	dyn_buf_put_blob32(b, json);
	dyn_frame_end(b, start);
}
