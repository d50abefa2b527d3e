/*
 * wire.c
 *		The dynamo wire protocol: frame parsing and building, and the
 *		encoders and decoders of every message body.
 *
 * Bodies (all integers big-endian; see wire.h for the frame around them):
 *
 *	GET				u8 bucket_len, bucket, u16 key_len, key, u8 r
 *	PUT, DELETE		u8 bucket_len, bucket, u16 key_len, key,
 *					u16 context_len, context, u8 w, u32 value_len, value
 *					(value_len is 0 for DELETE)
 *	STATUS			empty
 *	GET_REPLY		u32 object_len, object (object.h encoding; empty: not found)
 *	PUT_REPLY,
 *	DELETE_REPLY	u16 context_len, context
 *	STATUS_REPLY	u32 json_len, json
 *	BUCKETS			empty
 *	BUCKETS_REPLY	u16 count, count x (u8 len, name), increasing
 *	ERROR			u16 code, u8 replied, u8 needed, u16 msg_len, msg
 *
 * Node to node (see wire.h for what each is for):
 *
 *	REPLICA_GET		u8 bucket_len, bucket, u16 key_len, key
 *	REPLICA_GET_REPLY	as GET_REPLY
 *	REPLICA_PUT		u8 bucket_len, bucket, u16 key_len, key,
 *					u8 hint_len, hint, u32 object_len, object
 *	REPLICA_PUT_REPLY, RING	empty
 *	GOSSIP, GOSSIP_REPLY,
 *	RING_REPLY		u16 count, members, u32 ring_len, ring
 *	COORD_PUT, COORD_DELETE	as PUT, DELETE; their replies as PUT_REPLY
 *
 * Frames come from the network, so decoders treat every byte as hostile:
 * every length is checked against what is present, nothing may trail the
 * last field, and nothing is copied (results are slices into the body).
 * Encoders append whole frames to a dyn_buf; arguments that the receiver
 * would refuse (an empty key, a key over DYN_KEY_MAX) fail the buffer
 * instead of producing a frame that would get the connection closed.
 */
#include "dynamo/wire.h"

static bool msg_type_known(uint8_t type);
static bool key_encodable(dyn_buf *b, dyn_slice bucket, dyn_slice key);
static void put_key(dyn_buf *b, dyn_slice bucket, dyn_slice key);
static int	read_key(dyn_reader *r, dyn_slice *bucket, dyn_slice *key);
static void fail_buf(dyn_buf *b, int err);
static bool is_write_type(uint8_t type);
static bool is_delete_type(uint8_t type);
static int	read_member(dyn_reader *r, dyn_member_entry *out);


/* ----------------------------------------------------------------- frames */

/* Whether type is one of dyn_msg_type (anything else is a broken peer). */
static bool
msg_type_known(uint8_t type)
{
	switch (type)
	{
		case DYN_MSG_GET:
		case DYN_MSG_PUT:
		case DYN_MSG_DELETE:
		case DYN_MSG_STATUS:
		case DYN_MSG_SCAN:
		case DYN_MSG_SCAN_REPLY:
		case DYN_MSG_REPAIR:
		case DYN_MSG_REPAIR_REPLY:
		case DYN_MSG_REMOVE:
		case DYN_MSG_REMOVE_REPLY:
		case DYN_MSG_BUCKETS:
		case DYN_MSG_BUCKETS_REPLY:
		case DYN_MSG_MERKLE:
		case DYN_MSG_MERKLE_REPLY:
		case DYN_MSG_SYNC_KEYS:
		case DYN_MSG_SYNC_KEYS_REPLY:
		case DYN_MSG_REAP:
		case DYN_MSG_REAP_REPLY:
		case DYN_MSG_GET_REPLY:
		case DYN_MSG_PUT_REPLY:
		case DYN_MSG_DELETE_REPLY:
		case DYN_MSG_STATUS_REPLY:
		case DYN_MSG_ERROR:
		case DYN_MSG_REPLICA_GET:
		case DYN_MSG_REPLICA_PUT:
		case DYN_MSG_GOSSIP:
		case DYN_MSG_RING:
		case DYN_MSG_COORD_PUT:
		case DYN_MSG_COORD_DELETE:
		case DYN_MSG_REPLICA_GET_REPLY:
		case DYN_MSG_REPLICA_PUT_REPLY:
		case DYN_MSG_GOSSIP_REPLY:
		case DYN_MSG_RING_REPLY:
		case DYN_MSG_COORD_PUT_REPLY:
		case DYN_MSG_COORD_DELETE_REPLY:
			return true;
	}
	return false;
}

/* PUT, DELETE and their COORD_ forms share one body. */
static bool
is_write_type(uint8_t type)
{
	return type == DYN_MSG_PUT || type == DYN_MSG_DELETE ||
		type == DYN_MSG_COORD_PUT || type == DYN_MSG_COORD_DELETE;
}

/* The write types that carry a tombstone, hence no value. */
static bool
is_delete_type(uint8_t type)
{
	return type == DYN_MSG_DELETE || type == DYN_MSG_COORD_DELETE;
}

/*
 * Parse one frame from the front of data[0..len).
 *
 * The header is judged before the body is waited for: a receiver learns
 * that a frame is too big or of an unknown type from its first nine bytes
 * and can drop the connection without buffering megabytes of garbage.
 */
int
dyn_frame_parse(const uint8_t *data, size_t len, uint32_t max_body,
				dyn_frame *out, size_t *consumed)
{
	dyn_reader	r;
	dyn_slice	header = {data, DYN_FRAME_HEADER_LEN};
	uint32_t	body_len;
	uint8_t		type;
	uint32_t	reqid;

	if (len < DYN_FRAME_HEADER_LEN)
		return DYN_ERR_AGAIN;

	dyn_reader_init(&r, header);
	body_len = dyn_rd_u32(&r);
	type = dyn_rd_u8(&r);
	reqid = dyn_rd_u32(&r);

	if (body_len > max_body)
		return DYN_ERR_TOOBIG;
	if (!msg_type_known(type))
		return DYN_ERR_PROTO;
	if (len - DYN_FRAME_HEADER_LEN < body_len)
		return DYN_ERR_AGAIN;

	out->type = type;
	out->reqid = reqid;
	out->body.ptr = data + DYN_FRAME_HEADER_LEN;
	out->body.len = body_len;
	*consumed = DYN_FRAME_HEADER_LEN + (size_t) body_len;
	return DYN_OK;
}

/*
 * Append a frame header with a zero body length and return where it
 * starts; dyn_frame_end fills in the length, so a body can be encoded
 * straight into the buffer without being measured first.
 */
size_t
dyn_frame_begin(dyn_buf *b, uint8_t type, uint32_t reqid)
{
	size_t		start = b->len;

	dyn_buf_put_u32(b, 0);
	dyn_buf_put_u8(b, type);
	dyn_buf_put_u32(b, reqid);
	return start;
}

/* Patch the body length of the frame begun at start. */
void
dyn_frame_end(dyn_buf *b, size_t start)
{
	size_t		body_len;

	if (b->err != DYN_OK)
		return;
	body_len = b->len - start - DYN_FRAME_HEADER_LEN;
	if (body_len > UINT32_MAX)
	{
		fail_buf(b, DYN_ERR_TOOBIG);
		return;
	}
	dyn_buf_patch_u32(b, start, (uint32_t) body_len);
}


/* --------------------------------------------------------------- helpers */

/* Record err in b unless an earlier failure is already there. */
static void
fail_buf(dyn_buf *b, int err)
{
	if (b->err == DYN_OK)
		b->err = err;
}

/*
 * Whether bucket and key are what a receiver accepts; if not, fail b so
 * the caller learns it from b->err like any other encoding failure.
 */
static bool
key_encodable(dyn_buf *b, dyn_slice bucket, dyn_slice key)
{
	if (bucket.len == 0 || key.len == 0)
	{
		fail_buf(b, DYN_ERR_INVAL);
		return false;
	}
	if (bucket.len > DYN_BUCKET_MAX || key.len > DYN_KEY_MAX)
	{
		fail_buf(b, DYN_ERR_TOOBIG);
		return false;
	}
	return true;
}

/* u8 bucket_len, bucket, u16 key_len, key (lengths already checked). */
static void
put_key(dyn_buf *b, dyn_slice bucket, dyn_slice key)
{
	dyn_buf_put_u8(b, (uint8_t) bucket.len);
	dyn_buf_append(b, bucket.ptr, bucket.len);
	dyn_buf_put_blob16(b, key);
}

/*
 * Read the bucket and key that open GET, PUT and DELETE bodies.  An
 * over-long key is DYN_ERR_TOOBIG (the peer can be told so); an empty
 * bucket or key, or a short body, is DYN_ERR_PROTO.
 */
static int
read_key(dyn_reader *r, dyn_slice *bucket, dyn_slice *key)
{
	uint8_t		bucket_len;
	uint16_t	key_len;

	bucket_len = dyn_rd_u8(r);
	if (r->err != DYN_OK || bucket_len == 0)
		return DYN_ERR_PROTO;
	*bucket = dyn_rd_bytes(r, bucket_len);

	key_len = dyn_rd_u16(r);
	if (r->err != DYN_OK || key_len == 0)
		return DYN_ERR_PROTO;
	if (key_len > DYN_KEY_MAX)
		return DYN_ERR_TOOBIG;
	*key = dyn_rd_bytes(r, key_len);
	return r->err;
}


/* -------------------------------------------------------------- requests */

/* Append a GET frame; bad bucket or key lengths fail b (key_encodable). */
void
dyn_get_req_encode(dyn_buf *b, uint32_t reqid, const dyn_get_req *req)
{
	size_t		start;

	if (!key_encodable(b, req->bucket, req->key))
		return;
	start = dyn_frame_begin(b, DYN_MSG_GET, reqid);
	put_key(b, req->bucket, req->key);
	dyn_buf_put_u8(b, req->r);
	dyn_frame_end(b, start);
}

/*
 * PUT or DELETE (type says which).  A DELETE with a value, or any other
 * type, is a caller bug and fails the buffer with DYN_ERR_INVAL.
 */
void
dyn_put_req_encode(dyn_buf *b, uint8_t type, uint32_t reqid,
				   const dyn_put_req *req)
{
	size_t		start;

	if (!is_write_type(type) || (is_delete_type(type) && req->value.len != 0))
	{
		fail_buf(b, DYN_ERR_INVAL);
		return;
	}
	if (!key_encodable(b, req->bucket, req->key))
		return;
	start = dyn_frame_begin(b, type, reqid);
	put_key(b, req->bucket, req->key);
	dyn_buf_put_blob16(b, req->context);
	dyn_buf_put_u8(b, req->w);
	dyn_buf_put_blob32(b, req->value);
	dyn_frame_end(b, start);
}

/* STATUS has no body. */
void
dyn_status_req_encode(dyn_buf *b, uint32_t reqid)
{
	size_t		start = dyn_frame_begin(b, DYN_MSG_STATUS, reqid);

	dyn_frame_end(b, start);
}

/* Decode a GET body into slices of body. */
int
dyn_get_req_decode(dyn_slice body, dyn_get_req *out)
{
	dyn_reader	r;
	int			rc;

	*out = (dyn_get_req) {0};
	dyn_reader_init(&r, body);
	rc = read_key(&r, &out->bucket, &out->key);
	if (rc != DYN_OK)
		return rc;
	out->r = dyn_rd_u8(&r);
	return dyn_reader_finish(&r);
}

/*
 * Decode a PUT or DELETE body (type is the frame's type).  A DELETE that
 * carries a value is malformed: a tombstone has none.
 */
int
dyn_put_req_decode(dyn_slice body, uint8_t type, dyn_put_req *out)
{
	dyn_reader	r;
	int			rc;

	*out = (dyn_put_req) {0};
	if (!is_write_type(type))
		return DYN_ERR_INVAL;
	dyn_reader_init(&r, body);
	rc = read_key(&r, &out->bucket, &out->key);
	if (rc != DYN_OK)
		return rc;
	out->context = dyn_rd_blob16(&r);
	out->w = dyn_rd_u8(&r);
	out->value = dyn_rd_blob32(&r);
	rc = dyn_reader_finish(&r);
	if (rc == DYN_OK && is_delete_type(type) && out->value.len != 0)
		rc = DYN_ERR_PROTO;
	return rc;
}

/* A STATUS body must be empty. */
int
dyn_status_req_decode(dyn_slice body)
{
	return body.len == 0 ? DYN_OK : DYN_ERR_PROTO;
}


/* --------------------------------------------------------------- replies */

/* Append a GET_REPLY carrying an encoded object (empty: not found). */
void
dyn_get_reply_encode(dyn_buf *b, uint32_t reqid, dyn_slice object)
{
	size_t		start = dyn_frame_begin(b, DYN_MSG_GET_REPLY, reqid);

	dyn_buf_put_blob32(b, object);
	dyn_frame_end(b, start);
}

/*
 * PUT_REPLY, DELETE_REPLY or their COORD_ forms (type says which); other
 * types are INVAL.
 */
void
dyn_put_reply_encode(dyn_buf *b, uint8_t type, uint32_t reqid,
					 dyn_slice context)
{
	size_t		start;

	if (type != DYN_MSG_PUT_REPLY && type != DYN_MSG_DELETE_REPLY &&
		type != DYN_MSG_COORD_PUT_REPLY && type != DYN_MSG_COORD_DELETE_REPLY)
	{
		fail_buf(b, DYN_ERR_INVAL);
		return;
	}
	start = dyn_frame_begin(b, type, reqid);
	dyn_buf_put_blob16(b, context);
	dyn_frame_end(b, start);
}

/* Append a STATUS_REPLY carrying a JSON object as text. */
void
dyn_status_reply_encode(dyn_buf *b, uint32_t reqid, dyn_slice json)
{
	size_t		start = dyn_frame_begin(b, DYN_MSG_STATUS_REPLY, reqid);

	dyn_buf_put_blob32(b, json);
	dyn_frame_end(b, start);
}

/* Append an ERROR frame; a message over 64 KiB fails b. */
void
dyn_error_encode(dyn_buf *b, uint32_t reqid, const dyn_error_msg *err)
{
	size_t		start = dyn_frame_begin(b, DYN_MSG_ERROR, reqid);

	dyn_buf_put_u16(b, err->code);
	dyn_buf_put_u8(b, err->replied);
	dyn_buf_put_u8(b, err->needed);
	dyn_buf_put_blob16(b, err->message);
	dyn_frame_end(b, start);
}

/* The object bytes of a GET_REPLY (empty: the key was not found). */
int
dyn_get_reply_decode(dyn_slice body, dyn_slice *object)
{
	dyn_reader	r;

	dyn_reader_init(&r, body);
	*object = dyn_rd_blob32(&r);
	return dyn_reader_finish(&r);
}

/* The context of a PUT_REPLY or DELETE_REPLY. */
int
dyn_put_reply_decode(dyn_slice body, dyn_slice *context)
{
	dyn_reader	r;

	dyn_reader_init(&r, body);
	*context = dyn_rd_blob16(&r);
	return dyn_reader_finish(&r);
}

/* The JSON text of a STATUS_REPLY. */
int
dyn_status_reply_decode(dyn_slice body, dyn_slice *json)
{
	dyn_reader	r;

	dyn_reader_init(&r, body);
	*json = dyn_rd_blob32(&r);
	return dyn_reader_finish(&r);
}

/*
 * Decode an ERROR body.  The code is passed through even when this side
 * does not know it, so a newer peer's errors still reach the user.
 */
int
dyn_error_decode(dyn_slice body, dyn_error_msg *out)
{
	dyn_reader	r;

	dyn_reader_init(&r, body);
	out->code = dyn_rd_u16(&r);
	out->replied = dyn_rd_u8(&r);
	out->needed = dyn_rd_u8(&r);
	out->message = dyn_rd_blob16(&r);
	return dyn_reader_finish(&r);
}


/* ----------------------------------------------------------- node to node */

/* REPLICA_GET: bucket and key only; the receiver answers from its store. */
void
dyn_replica_get_encode(dyn_buf *b, uint32_t reqid, const dyn_replica_get_req *req)
{
	size_t		start;

	if (!key_encodable(b, req->bucket, req->key))
		return;
	start = dyn_frame_begin(b, DYN_MSG_REPLICA_GET, reqid);
	put_key(b, req->bucket, req->key);
	dyn_frame_end(b, start);
}

int
dyn_replica_get_decode(dyn_slice body, dyn_replica_get_req *out)
{
	dyn_reader	r;
	int			rc;

	*out = (dyn_replica_get_req) {0};
	dyn_reader_init(&r, body);
	rc = read_key(&r, &out->bucket, &out->key);
	if (rc != DYN_OK)
		return rc;
	return dyn_reader_finish(&r);
}

/*
 * REPLICA_PUT: the sender's whole sibling set and, from a coordinator that
 * uses the receiver as a stand-in, the id of the node it stands in for.
 */
void
dyn_replica_put_encode(dyn_buf *b, uint32_t reqid, const dyn_replica_put_req *req)
{
	size_t		start;

	if (!key_encodable(b, req->bucket, req->key))
		return;
	if (req->hint.len > DYN_NODE_ID_MAX)
	{
		fail_buf(b, DYN_ERR_TOOBIG);
		return;
	}
	start = dyn_frame_begin(b, DYN_MSG_REPLICA_PUT, reqid);
	put_key(b, req->bucket, req->key);
	dyn_buf_put_u8(b, (uint8_t) req->hint.len);
	dyn_buf_append(b, req->hint.ptr, req->hint.len);
	dyn_buf_put_blob32(b, req->object);
	dyn_frame_end(b, start);
}

/* An over-long hint id is malformed: no node can have that id. */
int
dyn_replica_put_decode(dyn_slice body, dyn_replica_put_req *out)
{
	dyn_reader	r;
	uint8_t		hint_len;
	int			rc;

	*out = (dyn_replica_put_req) {0};
	dyn_reader_init(&r, body);
	rc = read_key(&r, &out->bucket, &out->key);
	if (rc != DYN_OK)
		return rc;
	hint_len = dyn_rd_u8(&r);
	if (hint_len > DYN_NODE_ID_MAX)
		return DYN_ERR_PROTO;
	out->hint = dyn_rd_bytes(&r, hint_len);
	out->object = dyn_rd_blob32(&r);
	return dyn_reader_finish(&r);
}

/* A frame of the given type with no body (RING, REPLICA_PUT_REPLY). */
void
dyn_empty_encode(dyn_buf *b, uint8_t type, uint32_t reqid)
{
	size_t		start = dyn_frame_begin(b, type, reqid);

	dyn_frame_end(b, start);
}

int
dyn_empty_decode(dyn_slice body)
{
	return body.len == 0 ? DYN_OK : DYN_ERR_PROTO;
}

/* A GET_REPLY body under another type (REPLICA_GET_REPLY). */
void
dyn_object_reply_encode(dyn_buf *b, uint8_t type, uint32_t reqid, dyn_slice object)
{
	size_t		start;

	if (type != DYN_MSG_GET_REPLY && type != DYN_MSG_REPLICA_GET_REPLY)
	{
		fail_buf(b, DYN_ERR_INVAL);
		return;
	}
	start = dyn_frame_begin(b, type, reqid);
	dyn_buf_put_blob32(b, object);
	dyn_frame_end(b, start);
}

/*
 * Start a view body (GOSSIP, GOSSIP_REPLY or RING_REPLY) with a zero
 * member count that dyn_view_end patches.
 */
size_t
dyn_view_begin(dyn_buf *b, uint8_t type, uint32_t reqid)
{
	size_t		start;

	if (type != DYN_MSG_GOSSIP && type != DYN_MSG_GOSSIP_REPLY &&
		type != DYN_MSG_RING_REPLY)
		fail_buf(b, DYN_ERR_INVAL);
	start = dyn_frame_begin(b, type, reqid);
	dyn_buf_put_u16(b, 0);
	return start;
}

/* Append one member entry; fields over their limits fail b. */
void
dyn_view_add(dyn_buf *b, const dyn_member_entry *m)
{
	if (m->id.len == 0 || m->id.len > DYN_NODE_ID_MAX ||
		m->address.len == 0 || m->address.len > 255 || m->zone.len > 255)
	{
		fail_buf(b, DYN_ERR_INVAL);
		return;
	}
	dyn_buf_put_u8(b, (uint8_t) m->id.len);
	dyn_buf_append(b, m->id.ptr, m->id.len);
	dyn_buf_put_u8(b, (uint8_t) m->address.len);
	dyn_buf_append(b, m->address.ptr, m->address.len);
	dyn_buf_put_u8(b, (uint8_t) m->zone.len);
	dyn_buf_append(b, m->zone.ptr, m->zone.len);
	dyn_buf_put_u8(b, m->status);
	dyn_buf_put_u64(b, m->generation);
	dyn_buf_put_u64(b, m->heartbeat);
	dyn_buf_put_u64(b, m->ring_version);
}

/* Patch the member count, append the ring, close the frame. */
void
dyn_view_end(dyn_buf *b, size_t start, uint16_t count, dyn_slice ring)
{
	size_t		at = start + DYN_FRAME_HEADER_LEN;

	dyn_buf_put_blob32(b, ring);
	if (b->err != DYN_OK)
		return;
	b->data[at] = (uint8_t) (count >> 8);
	b->data[at + 1] = (uint8_t) count;
	dyn_frame_end(b, start);
}

/* One member entry; every length and the status are checked. */
static int
read_member(dyn_reader *r, dyn_member_entry *out)
{
	uint8_t		len;

	len = dyn_rd_u8(r);
	if (len == 0 || len > DYN_NODE_ID_MAX)
		return DYN_ERR_PROTO;
	out->id = dyn_rd_bytes(r, len);
	len = dyn_rd_u8(r);
	if (len == 0)
		return DYN_ERR_PROTO;
	out->address = dyn_rd_bytes(r, len);
	len = dyn_rd_u8(r);
	out->zone = dyn_rd_bytes(r, len);
	out->status = dyn_rd_u8(r);
	out->generation = dyn_rd_u64(r);
	out->heartbeat = dyn_rd_u64(r);
	out->ring_version = dyn_rd_u64(r);
	if (r->err != DYN_OK)
		return DYN_ERR_PROTO;
	if (out->status < DYN_MEMBER_UP || out->status > DYN_MEMBER_LEAVING)
		return DYN_ERR_PROTO;
	return DYN_OK;
}

/*
 * Check the whole view: every member entry must parse, and the ring must
 * end the body exactly.  Iteration afterwards cannot fail.
 */
int
dyn_view_decode(dyn_slice body, dyn_view_msg *out)
{
	dyn_reader	r;
	dyn_member_entry m;
	const uint8_t *members;

	*out = (dyn_view_msg) {0};
	dyn_reader_init(&r, body);
	out->count = dyn_rd_u16(&r);
	if (r.err != DYN_OK)
		return DYN_ERR_PROTO;
	members = r.p;
	for (uint16_t i = 0; i < out->count; i++)
		if (read_member(&r, &m) != DYN_OK)
			return DYN_ERR_PROTO;
	out->members.ptr = members;
	out->members.len = (size_t) (r.p - members);
	out->ring = dyn_rd_blob32(&r);
	return dyn_reader_finish(&r);
}

/* The next member of a view that dyn_view_decode accepted. */
int
dyn_view_next(dyn_reader *r, dyn_member_entry *out)
{
	return read_member(r, out);
}

/* ------------------------------------------------------------------ scan */

/*
 * SCAN: partition, bucket, the key to resume after, the page size, and the
 * flags byte only when a flag is set.
 */
void
dyn_scan_req_encode(dyn_buf *b, uint32_t reqid, const dyn_scan_req *req)
{
	size_t		start;

	if (req->bucket.len == 0 || req->bucket.len > DYN_BUCKET_MAX ||
		req->after.len > DYN_KEY_MAX || req->limit == 0 ||
		(req->flags & ~DYN_SCAN_FLAGS_KNOWN) != 0)
	{
		fail_buf(b, DYN_ERR_INVAL);
		return;
	}
	start = dyn_frame_begin(b, DYN_MSG_SCAN, reqid);
	dyn_buf_put_u16(b, req->partition);
	dyn_buf_put_u8(b, (uint8_t) req->bucket.len);
	dyn_buf_append(b, req->bucket.ptr, req->bucket.len);
	dyn_buf_put_blob16(b, req->after);
	dyn_buf_put_u16(b, req->limit);
	if (req->flags != 0)
		dyn_buf_put_u8(b, req->flags);
	dyn_frame_end(b, start);
}

int
dyn_scan_req_decode(dyn_slice body, dyn_scan_req *out)
{
	dyn_reader	r;
	uint8_t		blen;

	*out = (dyn_scan_req) {0};
	dyn_reader_init(&r, body);
	out->partition = dyn_rd_u16(&r);
	blen = dyn_rd_u8(&r);
	out->bucket = dyn_rd_bytes(&r, blen);
	out->after = dyn_rd_blob16(&r);
	out->limit = dyn_rd_u16(&r);
	if (!r.err && dyn_rd_left(&r) > 0 && (out->flags = dyn_rd_u8(&r)) == 0)
		return DYN_ERR_PROTO;	/* canonical: no flags is no byte */
	if (r.err)
		return DYN_ERR_PROTO;
	if (blen == 0 || out->limit == 0 || (out->flags & ~DYN_SCAN_FLAGS_KNOWN) != 0)
		return DYN_ERR_PROTO;
	if (out->after.len > DYN_KEY_MAX)
		return DYN_ERR_TOOBIG;
	return dyn_reader_finish(&r);
}

/* Start a SCAN_REPLY; the more flag and count are patched by _end. */
size_t
dyn_scan_reply_begin(dyn_buf *b, uint32_t reqid)
{
	size_t		start = dyn_frame_begin(b, DYN_MSG_SCAN_REPLY, reqid);

	dyn_buf_put_u8(b, 0);
	dyn_buf_put_u16(b, 0);
	return start;
}

void
dyn_scan_reply_add(dyn_buf *b, dyn_slice key, dyn_slice object)
{
	if (key.len == 0 || key.len > DYN_KEY_MAX)
	{
		fail_buf(b, DYN_ERR_INVAL);
		return;
	}
	dyn_buf_put_blob16(b, key);
	dyn_buf_put_blob32(b, object);
}

void
dyn_scan_reply_end(dyn_buf *b, size_t start, uint16_t count, bool more)
{
	size_t		body = start + DYN_FRAME_HEADER_LEN;

	if (b->err)
		return;
	b->data[body] = more ? 1 : 0;
	b->data[body + 1] = (uint8_t) (count >> 8);
	b->data[body + 2] = (uint8_t) count;
	dyn_frame_end(b, start);
}

/* Split a reply and check that its items are exactly count well-formed ones. */
int
dyn_scan_reply_decode(dyn_slice body, dyn_scan_reply *out)
{
	dyn_reader	r;
	dyn_reader	items;
	uint8_t		more;

	*out = (dyn_scan_reply) {0};
	dyn_reader_init(&r, body);
	more = dyn_rd_u8(&r);
	out->count = dyn_rd_u16(&r);
	if (r.err || more > 1)
		return DYN_ERR_PROTO;
	out->more = more == 1;
	out->items.ptr = r.p;
	out->items.len = dyn_rd_left(&r);
	dyn_reader_init(&items, out->items);
	for (uint16_t i = 0; i < out->count; i++)
	{
		dyn_slice	key;
		dyn_slice	object;

		if (dyn_scan_next(&items, &key, &object) != DYN_OK)
			return DYN_ERR_PROTO;
	}
	return dyn_reader_finish(&items);
}

int
dyn_scan_next(dyn_reader *r, dyn_slice *key, dyn_slice *object)
{
	*key = dyn_rd_blob16(r);
	*object = dyn_rd_blob32(r);
	if (r->err || key->len == 0 || key->len > DYN_KEY_MAX)
		return DYN_ERR_PROTO;
	return DYN_OK;
}

/* --------------------------------------------------------------- buckets */

/* BUCKETS has no body. */
void
dyn_buckets_req_encode(dyn_buf *b, uint32_t reqid)
{
	size_t		start = dyn_frame_begin(b, DYN_MSG_BUCKETS, reqid);

	dyn_frame_end(b, start);
}

int
dyn_buckets_req_decode(dyn_slice body)
{
	return body.len == 0 ? DYN_OK : DYN_ERR_PROTO;
}

/* Start a BUCKETS_REPLY; the count is patched by _end. */
size_t
dyn_buckets_reply_begin(dyn_buf *b, uint32_t reqid)
{
	size_t		start = dyn_frame_begin(b, DYN_MSG_BUCKETS_REPLY, reqid);

	dyn_buf_put_u16(b, 0);
	return start;
}

void
dyn_buckets_reply_add(dyn_buf *b, dyn_slice name)
{
	if (name.len == 0 || name.len > DYN_BUCKET_MAX)
	{
		fail_buf(b, DYN_ERR_INVAL);
		return;
	}
	dyn_buf_put_u8(b, (uint8_t) name.len);
	dyn_buf_append(b, name.ptr, name.len);
}

void
dyn_buckets_reply_end(dyn_buf *b, size_t start, uint16_t count)
{
	size_t		body = start + DYN_FRAME_HEADER_LEN;

	if (b->err)
		return;
	b->data[body] = (uint8_t) (count >> 8);
	b->data[body + 1] = (uint8_t) count;
	dyn_frame_end(b, start);
}

int
dyn_buckets_reply_decode(dyn_slice body, uint16_t *count, dyn_slice *names)
{
	dyn_reader	r;
	dyn_reader	items;
	dyn_slice	prev = {NULL, 0};

	dyn_reader_init(&r, body);
	*count = dyn_rd_u16(&r);
	if (r.err)
		return DYN_ERR_PROTO;
	names->ptr = r.p;
	names->len = dyn_rd_left(&r);
	dyn_reader_init(&items, *names);
	for (uint16_t i = 0; i < *count; i++)
	{
		dyn_slice	name;

		if (dyn_buckets_next(&items, &name) != DYN_OK ||
			(i > 0 && dyn_slice_cmp(prev, name) >= 0))
			return DYN_ERR_PROTO;
		prev = name;
	}
	return dyn_reader_finish(&items);
}

int
dyn_buckets_next(dyn_reader *r, dyn_slice *name)
{
	uint8_t		len = dyn_rd_u8(r);

	*name = dyn_rd_bytes(r, len);
	if (r->err || len == 0)
		return DYN_ERR_PROTO;
	return DYN_OK;
}

/* A lower-case name for a message type, for logs; "unknown" otherwise. */
const char *
dyn_msg_type_name(uint8_t type)
{
	switch (type)
	{
		case DYN_MSG_GET:
			return "get";
		case DYN_MSG_PUT:
			return "put";
		case DYN_MSG_DELETE:
			return "delete";
		case DYN_MSG_STATUS:
			return "status";
		case DYN_MSG_SCAN:
			return "scan";
		case DYN_MSG_SCAN_REPLY:
			return "scan_reply";
		case DYN_MSG_BUCKETS:
			return "buckets";
		case DYN_MSG_BUCKETS_REPLY:
			return "buckets_reply";
		case DYN_MSG_GET_REPLY:
			return "get_reply";
		case DYN_MSG_PUT_REPLY:
			return "put_reply";
		case DYN_MSG_DELETE_REPLY:
			return "delete_reply";
		case DYN_MSG_STATUS_REPLY:
			return "status_reply";
		case DYN_MSG_ERROR:
			return "error";
		case DYN_MSG_REPLICA_GET:
			return "replica_get";
		case DYN_MSG_REPLICA_PUT:
			return "replica_put";
		case DYN_MSG_GOSSIP:
			return "gossip";
		case DYN_MSG_RING:
			return "ring";
		case DYN_MSG_COORD_PUT:
			return "coord_put";
		case DYN_MSG_COORD_DELETE:
			return "coord_delete";
		case DYN_MSG_REPLICA_GET_REPLY:
			return "replica_get_reply";
		case DYN_MSG_REPLICA_PUT_REPLY:
			return "replica_put_reply";
		case DYN_MSG_GOSSIP_REPLY:
			return "gossip_reply";
		case DYN_MSG_RING_REPLY:
			return "ring_reply";
		case DYN_MSG_COORD_PUT_REPLY:
			return "coord_put_reply";
		case DYN_MSG_COORD_DELETE_REPLY:
			return "coord_delete_reply";
		case DYN_MSG_REPAIR:
			return "repair";
		case DYN_MSG_REPAIR_REPLY:
			return "repair_reply";
		case DYN_MSG_REMOVE:
			return "remove";
		case DYN_MSG_REMOVE_REPLY:
			return "remove_reply";
		case DYN_MSG_MERKLE:
			return "merkle";
		case DYN_MSG_MERKLE_REPLY:
			return "merkle_reply";
		case DYN_MSG_SYNC_KEYS:
			return "sync_keys";
		case DYN_MSG_SYNC_KEYS_REPLY:
			return "sync_keys_reply";
		case DYN_MSG_REAP:
			return "reap";
		case DYN_MSG_REAP_REPLY:
			return "reap_reply";
	}
	return "unknown";
}
