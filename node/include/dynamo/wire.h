/*
 * wire.h
 *		The dynamo wire protocol: length-prefixed frames and the bodies of
 *		each message type.
 *
 * A frame is
 *
 *		u32 body_len | u8 type | u32 request_id | body[body_len]
 *
 * all big-endian.  The request id is chosen by the sender of a request and
 * echoed in its reply, so a client can pipeline many requests on one
 * connection and match replies that come back in any order.  Every length in
 * a frame or body is checked against the bytes actually present; a frame whose
 * body_len exceeds the receiver's maximum is refused before it is buffered.
 *
 * Decoders never copy: decoded messages hold slices into the frame's bytes,
 * valid for as long as those bytes are.
 */
#ifndef DYNAMO_WIRE_H
#define DYNAMO_WIRE_H

#include "dynamo/buf.h"
#include "dynamo/vclock.h"		/* DYN_NODE_ID_MAX */

#define DYN_FRAME_HEADER_LEN	9
/* Default largest body a node or client accepts (16 MiB). */
#define DYN_FRAME_MAX_BODY		(16u * 1024 * 1024)
/* Largest bucket name and key, in bytes. */
#define DYN_BUCKET_MAX			255
#define DYN_KEY_MAX				4096
/*
 * Largest value a PUT can carry: what fits in a frame beside the largest
 * bucket, key and context (a context is at most 32 clock entries).
 */
#define DYN_VALUE_MAX			(DYN_FRAME_MAX_BODY - 64 * 1024)

/* Frame types.  Replies have the high bit set: reply = request | 0x80. */
typedef enum dyn_msg_type
{
	DYN_MSG_GET = 0x01,
	DYN_MSG_PUT = 0x02,
	DYN_MSG_DELETE = 0x03,
	DYN_MSG_STATUS = 0x04,
	DYN_MSG_SCAN = 0x05,

	/*
	 * Node to node (and RING for partition-aware clients).  REPLICA_GET and
	 * REPLICA_PUT read and merge one replica's sibling set without any
	 * coordination; GOSSIP is a push-pull exchange of membership views and
	 * rings; COORD_PUT/COORD_DELETE hand a client's write to the node that
	 * must coordinate it (it never forwards again); RING asks for the ring
	 * and the member table.
	 */
	DYN_MSG_REPLICA_GET = 0x10,
	DYN_MSG_REPLICA_PUT = 0x11,
	DYN_MSG_GOSSIP = 0x12,
	DYN_MSG_RING = 0x13,
	DYN_MSG_COORD_PUT = 0x14,
	DYN_MSG_COORD_DELETE = 0x15,

	DYN_MSG_GET_REPLY = 0x81,
	DYN_MSG_PUT_REPLY = 0x82,
	DYN_MSG_DELETE_REPLY = 0x83,
	DYN_MSG_STATUS_REPLY = 0x84,
	DYN_MSG_SCAN_REPLY = 0x85,
	DYN_MSG_REPLICA_GET_REPLY = 0x90,
	DYN_MSG_REPLICA_PUT_REPLY = 0x91,
	DYN_MSG_GOSSIP_REPLY = 0x92,
	DYN_MSG_RING_REPLY = 0x93,
	DYN_MSG_COORD_PUT_REPLY = 0x94,
	DYN_MSG_COORD_DELETE_REPLY = 0x95,
	DYN_MSG_ERROR = 0xFF
} dyn_msg_type;

#define DYN_MSG_IS_REPLY(t)	(((t) & 0x80) != 0)

/* Error codes carried by DYN_MSG_ERROR frames. */
typedef enum dyn_error_code
{
	DYN_E_BADREQ = 1,			/* malformed request; the connection is closed */
	DYN_E_QUORUM = 2,			/* fewer than R/W replicas answered */
	DYN_E_UNAUTHORIZED = 3,		/* the caller's role does not allow this */
	DYN_E_INTERNAL = 4,			/* engine or other local failure */
	DYN_E_TOOBIG = 5,			/* frame or field over the maximum */
	DYN_E_INVAL = 6				/* well-formed but invalid (e.g. R > N) */
} dyn_error_code;

/* One parsed frame; body points into the parsed bytes. */
typedef struct dyn_frame
{
	uint8_t		type;
	uint32_t	reqid;
	dyn_slice	body;
} dyn_frame;

/*
 * Parse one frame from the front of data[0..len).
 *
 * Returns DYN_OK and sets *out and *consumed (header + body) when a whole
 * frame is there; DYN_ERR_AGAIN when more bytes are needed (only after the
 * header proved sane); DYN_ERR_TOOBIG when body_len > max_body; DYN_ERR_PROTO
 * when the type is not one of dyn_msg_type.  Never reads past data + len.
 */
int			dyn_frame_parse(const uint8_t *data, size_t len, uint32_t max_body,
							dyn_frame *out, size_t *consumed);

/*
 * Start a frame at the end of b; returns the offset to pass to
 * dyn_frame_end, which fills in the body length once the body is appended.
 */
size_t		dyn_frame_begin(dyn_buf *b, uint8_t type, uint32_t reqid);
void		dyn_frame_end(dyn_buf *b, size_t start);

/* GET: read every sibling of bucket/key; r = 0 means the cluster default. */
typedef struct dyn_get_req
{
	dyn_slice	bucket;
	dyn_slice	key;
	uint8_t		r;
} dyn_get_req;

/*
 * PUT and DELETE (and COORD_PUT, COORD_DELETE, which carry the same body):
 * write value (PUT) or a tombstone (DELETE) with the given
 * context (encoded vclock, empty for a blind write); w = 0: cluster default.
 */
typedef struct dyn_put_req
{
	dyn_slice	bucket;
	dyn_slice	key;
	dyn_slice	context;
	dyn_slice	value;			/* always empty for DELETE */
	uint8_t		w;
} dyn_put_req;

/* An error reply; replied/needed are meaningful for DYN_E_QUORUM. */
typedef struct dyn_error_msg
{
	uint16_t	code;
	uint8_t		replied;
	uint8_t		needed;
	dyn_slice	message;
} dyn_error_msg;

/*
 * Encoders append a whole frame to b (check b->err afterwards).
 * Bucket and key lengths must already be within DYN_BUCKET_MAX/DYN_KEY_MAX.
 */
void		dyn_get_req_encode(dyn_buf *b, uint32_t reqid, const dyn_get_req *req);
void		dyn_put_req_encode(dyn_buf *b, uint8_t type, uint32_t reqid,
							   const dyn_put_req *req);
void		dyn_status_req_encode(dyn_buf *b, uint32_t reqid);
/* GET_REPLY: the stored object encoding (object.h); empty means not found. */
void		dyn_get_reply_encode(dyn_buf *b, uint32_t reqid, dyn_slice object);
/* PUT_REPLY / DELETE_REPLY: the encoded clock of the version just written. */
void		dyn_put_reply_encode(dyn_buf *b, uint8_t type, uint32_t reqid,
								 dyn_slice context);
/* STATUS_REPLY: a JSON object as text. */
void		dyn_status_reply_encode(dyn_buf *b, uint32_t reqid, dyn_slice json);
void		dyn_error_encode(dyn_buf *b, uint32_t reqid, const dyn_error_msg *err);

/*
 * Decoders check every length against the body and that nothing trails it;
 * DYN_OK or DYN_ERR_PROTO (DYN_ERR_TOOBIG for an over-long bucket or key).
 */
int			dyn_get_req_decode(dyn_slice body, dyn_get_req *out);
/* type is the frame's (PUT, DELETE or COORD_*; anything else is DYN_ERR_INVAL). */
int			dyn_put_req_decode(dyn_slice body, uint8_t type, dyn_put_req *out);
/* A STATUS request has an empty body; anything else is DYN_ERR_PROTO. */
int			dyn_status_req_decode(dyn_slice body);
int			dyn_get_reply_decode(dyn_slice body, dyn_slice *object);
int			dyn_put_reply_decode(dyn_slice body, dyn_slice *context);
int			dyn_status_reply_decode(dyn_slice body, dyn_slice *json);
int			dyn_error_decode(dyn_slice body, dyn_error_msg *out);

/*
 * REPLICA_GET: one replica's stored sibling set of bucket/key, nothing else
 * (the reply is a GET_REPLY body under type REPLICA_GET_REPLY).
 */
typedef struct dyn_replica_get_req
{
	dyn_slice	bucket;
	dyn_slice	key;
} dyn_replica_get_req;

/*
 * REPLICA_PUT: merge object (an encoded sibling set) into the receiver's
 * copy of bucket/key with dyn_object_merge.  hint (empty: none) names the
 * node the version is meant for when the receiver is a stand-in: it then
 * keeps the version as a hint for that node, not in its own objects.  The
 * reply (REPLICA_PUT_REPLY) has an empty body.
 */
typedef struct dyn_replica_put_req
{
	dyn_slice	bucket;
	dyn_slice	key;
	dyn_slice	hint;
	dyn_slice	object;
} dyn_replica_put_req;

/*
 * Member status as carried in a member entry.  In GOSSIP a node states its
 * own status (UP, or LEAVING when it stops cleanly); in RING_REPLY the
 * sender's local judgment of every member (UP or DOWN) is given, which is
 * what a routing client wants.
 */
#define DYN_MEMBER_UP		1
#define DYN_MEMBER_DOWN		2
#define DYN_MEMBER_LEAVING	3

/* One member entry of a membership view. */
typedef struct dyn_member_entry
{
	dyn_slice	id;				/* 1 .. DYN_NODE_ID_MAX bytes */
	dyn_slice	address;		/* "host:port", 1 .. 255 bytes */
	dyn_slice	zone;			/* 0 .. 255 bytes */
	uint8_t		status;			/* DYN_MEMBER_* */
	uint64_t	generation;		/* the member's start time (ms): restarts win */
	uint64_t	heartbeat;		/* bumped by the member every gossip round */
	uint64_t	ring_version;	/* the ring version the member holds */
} dyn_member_entry;

/*
 * GOSSIP, GOSSIP_REPLY and RING_REPLY bodies: a membership view and the
 * sender's ring,
 *
 *		u16 count, count member entries, u32 ring_len, ring (ring.h encoding)
 *
 * member entry: u8 id_len, id, u8 addr_len, addr, u8 zone_len, zone,
 * u8 status, u64 generation, u64 heartbeat, u64 ring_version.
 * A RING request has an empty body.
 */
typedef struct dyn_view_msg
{
	uint16_t	count;
	dyn_slice	members;		/* the count entries, read with dyn_view_next */
	dyn_slice	ring;
} dyn_view_msg;

/*
 * Build a view body: dyn_view_begin starts the frame, dyn_view_add appends
 * one member (count it yourself), dyn_view_end patches the count and
 * appends the ring.  Oversized fields fail b.
 */
size_t		dyn_view_begin(dyn_buf *b, uint8_t type, uint32_t reqid);
void		dyn_view_add(dyn_buf *b, const dyn_member_entry *m);
void		dyn_view_end(dyn_buf *b, size_t start, uint16_t count, dyn_slice ring);
/* Check a whole view body (every member entry) and split it. */
int			dyn_view_decode(dyn_slice body, dyn_view_msg *out);
/*
 * Iterate the members of a decoded view: init a reader on msg->members and
 * call dyn_view_next count times (the body was checked by dyn_view_decode).
 */
int			dyn_view_next(dyn_reader *r, dyn_member_entry *out);

void		dyn_replica_get_encode(dyn_buf *b, uint32_t reqid,
								   const dyn_replica_get_req *req);
int			dyn_replica_get_decode(dyn_slice body, dyn_replica_get_req *out);
void		dyn_replica_put_encode(dyn_buf *b, uint32_t reqid,
								   const dyn_replica_put_req *req);
int			dyn_replica_put_decode(dyn_slice body, dyn_replica_put_req *out);
/* RING and REPLICA_PUT_REPLY: empty bodies of the given type. */
void		dyn_empty_encode(dyn_buf *b, uint8_t type, uint32_t reqid);
int			dyn_empty_decode(dyn_slice body);
/*
 * REPLICA_GET_REPLY is a GET_REPLY body under its own type (decode it with
 * dyn_get_reply_decode).  COORD_PUT/COORD_DELETE and their replies use the
 * PUT/DELETE encoders and decoders, which accept those types too.
 */
void		dyn_object_reply_encode(dyn_buf *b, uint8_t type, uint32_t reqid,
									dyn_slice object);

/*
 * SCAN: one page of the keys of bucket that partition holds on the node
 * asked (a coverage query asks one replica per partition), in key order,
 * starting after the key `after` (empty: from the first), at most limit
 * keys -- fewer when the page reaches DYN_SCAN_PAGE_BYTES.
 *
 *		u16 partition, u8 bucket_len, bucket, u16 after_len, after, u16 limit
 *
 * SCAN_REPLY: u8 more (1 when the partition has keys after this page),
 * u16 count, then count items: u16 key_len, key, u32 object_len, object
 * (the stored sibling set, tombstones included: the reader hides them).
 */
#define DYN_SCAN_PAGE_BYTES		(1024 * 1024)

typedef struct dyn_scan_req
{
	uint16_t	partition;
	dyn_slice	bucket;
	dyn_slice	after;
	uint16_t	limit;			/* 1 .. 65535 */
} dyn_scan_req;

typedef struct dyn_scan_reply
{
	bool		more;
	uint16_t	count;
	dyn_slice	items;			/* the count items, read with dyn_scan_next */
} dyn_scan_reply;

void		dyn_scan_req_encode(dyn_buf *b, uint32_t reqid, const dyn_scan_req *req);
int			dyn_scan_req_decode(dyn_slice body, dyn_scan_req *out);
/*
 * Build a reply: dyn_scan_reply_begin starts it, dyn_scan_reply_add appends
 * one item, dyn_scan_reply_end patches the count and the more flag.
 */
size_t		dyn_scan_reply_begin(dyn_buf *b, uint32_t reqid);
void		dyn_scan_reply_add(dyn_buf *b, dyn_slice key, dyn_slice object);
void		dyn_scan_reply_end(dyn_buf *b, size_t start, uint16_t count, bool more);
/* Check a whole reply body (every item) and split it. */
int			dyn_scan_reply_decode(dyn_slice body, dyn_scan_reply *out);
/* Read the next item of a checked reply (init a reader on out->items). */
int			dyn_scan_next(dyn_reader *r, dyn_slice *key, dyn_slice *object);

/* A lower-case name for a message type ("get", "put_reply", ...). */
const char *dyn_msg_type_name(uint8_t type);

#endif							/* DYNAMO_WIRE_H */
