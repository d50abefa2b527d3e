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

/* A request type's reply type: the same with the high bit set. */
#define DYN_MSG_REPLY_BIT		0x80
#define DYN_MSG_REPLY_OF(t)		((uint8_t) ((t) | DYN_MSG_REPLY_BIT))

/* Frame types.  Replies have the high bit set (DYN_MSG_REPLY_OF). */
typedef enum dyn_msg_type
{
	DYN_MSG_GET = 0x01,
	DYN_MSG_PUT = 0x02,
	DYN_MSG_DELETE = 0x03,
	DYN_MSG_STATUS = 0x04,
	DYN_MSG_SCAN = 0x05,
	DYN_MSG_REPAIR = 0x06,		/* admin: a full anti-entropy round now */
	DYN_MSG_REMOVE = 0x07,		/* admin: hand a node's partitions away */
	DYN_MSG_BUCKETS = 0x08,		/* read: the buckets this node holds keys of */

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
	DYN_MSG_MERKLE = 0x16,		/* anti-entropy: Merkle tree digests */
	DYN_MSG_SYNC_KEYS = 0x17,	/* anti-entropy: the keys of some leaves */
	DYN_MSG_REAP = 0x18,		/* drop tombstones every replica holds */

	DYN_MSG_GET_REPLY = 0x81,
	DYN_MSG_PUT_REPLY = 0x82,
	DYN_MSG_DELETE_REPLY = 0x83,
	DYN_MSG_STATUS_REPLY = 0x84,
	DYN_MSG_SCAN_REPLY = 0x85,
	DYN_MSG_REPAIR_REPLY = 0x86,
	DYN_MSG_REMOVE_REPLY = 0x87,
	DYN_MSG_BUCKETS_REPLY = 0x88,
	DYN_MSG_REPLICA_GET_REPLY = 0x90,
	DYN_MSG_REPLICA_PUT_REPLY = 0x91,
	DYN_MSG_GOSSIP_REPLY = 0x92,
	DYN_MSG_RING_REPLY = 0x93,
	DYN_MSG_COORD_PUT_REPLY = 0x94,
	DYN_MSG_COORD_DELETE_REPLY = 0x95,
	DYN_MSG_MERKLE_REPLY = 0x96,
	DYN_MSG_SYNC_KEYS_REPLY = 0x97,
	DYN_MSG_REAP_REPLY = 0x98,
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
	DYN_E_INVAL = 6,			/* well-formed but invalid (e.g. R > N) */
	DYN_E_UNAVAILABLE = 7		/* a forwarded write this node cannot coordinate
								 * now (it is rebuilding lost data): try another
								 * owner */
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
 *		[, u8 flags]
 *
 * flags is optional (absent: 0), so a reader's plain SCAN is byte for byte
 * what nodes before it accepted; a node that predates it refuses a SCAN
 * that carries it as malformed rather than ignoring it.  Unknown bits,
 * and a flags byte of 0 (no flags is no byte: one encoding), are refused.  DYN_SCAN_NO_VALUES: every sibling's value is sent empty (the
 * clocks, dots and tombstone flags as stored), for a count that needs to
 * know only which versions are live (the FDW's pushed-down count(*)).
 *
 * SCAN_REPLY: u8 more (1 when the partition has keys after this page),
 * u16 count, then count items: u16 key_len, key, u32 object_len, object
 * (the stored sibling set, tombstones included: the reader hides them).
 */
#define DYN_SCAN_PAGE_BYTES		(1024 * 1024)
#define DYN_SCAN_NO_VALUES		0x01
#define DYN_SCAN_FLAGS_KNOWN	DYN_SCAN_NO_VALUES

typedef struct dyn_scan_req
{
	uint16_t	partition;
	dyn_slice	bucket;
	dyn_slice	after;
	uint16_t	limit;			/* 1 .. 65535 */
	uint8_t		flags;			/* DYN_SCAN_*; 0 is encoded as no byte */
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

/*
 * BUCKETS: the names of the buckets this node's store holds keys of (live
 * or tombstones), for IMPORT FOREIGN SCHEMA.  The request has no body.
 *
 * BUCKETS_REPLY: u16 count, then count names, each u8 len (1 ..
 * DYN_BUCKET_MAX), name, in strictly increasing byte order (no duplicates).
 */
void		dyn_buckets_req_encode(dyn_buf *b, uint32_t reqid);
/* A BUCKETS request has an empty body; anything else is DYN_ERR_PROTO. */
int			dyn_buckets_req_decode(dyn_slice body);
/* Build a reply: _begin, one _add per name in increasing order, _end. */
size_t		dyn_buckets_reply_begin(dyn_buf *b, uint32_t reqid);
void		dyn_buckets_reply_add(dyn_buf *b, dyn_slice name);
void		dyn_buckets_reply_end(dyn_buf *b, size_t start, uint16_t count);
/* Check a whole reply (order included); *count and *names for _next. */
int			dyn_buckets_reply_decode(dyn_slice body, uint16_t *count, dyn_slice *names);
/* Read the next name of a checked reply (init a reader on names). */
int			dyn_buckets_next(dyn_reader *r, dyn_slice *name);

/*
 * Anti-entropy (node to node).  A replica compares its Merkle tree of a
 * partition (merkle.h) with another's top down, asking only for the digests
 * under nodes that differed, then lists the keys of the differing leaves and
 * moves just the keys that differ (with REPLICA_GET and REPLICA_PUT).
 * Digests travel truncated: roots and keys to DYN_SYNC_DIGEST bytes (a
 * missed difference would need a 64-bit collision), the inner nodes of the
 * walk to DYN_SYNC_NODE_DIGEST bytes, which is safe because a walk that
 * finds no differing leaf under roots that differ (an inner collision)
 * falls back to listing every key of the partition.
 *
 * MERKLE:  u16 partition, u8 level, u8 span, u16 count, count x u16 index
 *   level 0 (span 0): the root (count 1, index 0); reply: one digest of
 *   DYN_SYNC_DIGEST bytes.
 *   level L > 0: the indices name nodes of level L - span; the reply carries
 *   the DYN_SYNC_NODE_DIGEST-byte digests of their 2^span descendants at
 *   level L, count x 2^span
 *   digests.  A span of 2 halves the round trips of a walk and the frame
 *   overhead that goes with them, for twice the digests per differing node.
 * MERKLE_REPLY: u8 depth (the sender's tree depth), the digests.
 *
 * SYNC_KEYS: u16 partition, u8 flags, u16 after_len, after (an engine key:
 *   the page starts strictly after it), u16 count, count x u16 leaf (count 0:
 *   every leaf).  Flag DYN_SYNC_OBJECTS asks for each key's sibling set
 *   instead of its digest (a full transfer: handoff, or a wiped replica).
 * SYNC_KEYS_REPLY: u8 more, u32 count, count items: u16 key_len, engine key,
 *   then DYN_SYNC_DIGEST digest bytes, or with DYN_SYNC_OBJECTS u32
 *   object_len, object.  Pages stop near DYN_SCAN_PAGE_BYTES.
 *
 * REAP: u16 partition, u16 count, count x (u16 key_len, engine key,
 *   DYN_MERKLE_DIGEST bytes of digest): delete these tombstones if they are
 *   still exactly what the digest says.  REAP_REPLY: u32 reaped.
 */
#define DYN_SYNC_DIGEST		8
#define DYN_SYNC_NODE_DIGEST 6
#define DYN_SYNC_OBJECTS	0x01
#define DYN_SYNC_MAX_ITEMS	32768	/* indices or leaves in one request */

typedef struct dyn_merkle_req
{
	uint16_t	partition;
	uint8_t		level;
	uint8_t		span;			/* 1 .. level, or 0 with level 0 */
	uint16_t	count;
	dyn_slice	indices;		/* count big-endian u16 */
} dyn_merkle_req;

typedef struct dyn_sync_keys_req
{
	uint16_t	partition;
	uint8_t		flags;
	dyn_slice	after;
	uint16_t	count;
	dyn_slice	leaves;			/* count big-endian u16 */
} dyn_sync_keys_req;

typedef struct dyn_sync_keys_reply
{
	bool		more;
	uint32_t	count;
	bool		objects;		/* items carry objects, not digests */
	dyn_slice	items;			/* read with dyn_sync_keys_next */
} dyn_sync_keys_reply;

/* Encode a request; indices/leaves are u16 values, count of them. */
void		dyn_merkle_req_encode(dyn_buf *b, uint32_t reqid, uint16_t partition,
								  uint8_t level, uint8_t span, const uint16_t *indices,
								  uint16_t count);
int			dyn_merkle_req_decode(dyn_slice body, dyn_merkle_req *out);
/* The i-th u16 of an indices or leaves slice (checked by the decoder). */
uint16_t	dyn_u16_at(dyn_slice s, size_t i);
/* MERKLE_REPLY: depth, then the digests (already truncated). */
int			dyn_merkle_reply_decode(dyn_slice body, uint8_t *depth, dyn_slice *digests);

void		dyn_sync_keys_req_encode(dyn_buf *b, uint32_t reqid, uint16_t partition,
									 uint8_t flags, dyn_slice after,
									 const uint16_t *leaves, uint16_t count);
int			dyn_sync_keys_req_decode(dyn_slice body, dyn_sync_keys_req *out);
/*
 * Build a reply: _begin starts it, _add appends one item (digest is
 * DYN_SYNC_DIGEST bytes, or object when the request asked for objects),
 * _end patches count and more.
 */
size_t		dyn_sync_keys_reply_begin(dyn_buf *b, uint32_t reqid);
void		dyn_sync_keys_reply_add(dyn_buf *b, dyn_slice key, dyn_slice payload,
									bool objects);
void		dyn_sync_keys_reply_end(dyn_buf *b, size_t start, uint32_t count, bool more);
/* objects: whether the request asked for objects (the items' shape). */
int			dyn_sync_keys_reply_decode(dyn_slice body, bool objects,
									   dyn_sync_keys_reply *out);
/* The next item; payload is the digest or the object. */
int			dyn_sync_keys_next(dyn_reader *r, bool objects, dyn_slice *key,
							   dyn_slice *payload);

/* REAP: build with _begin/_add/_end, read with _decode and _next. */
size_t		dyn_reap_req_begin(dyn_buf *b, uint32_t reqid, uint16_t partition);
void		dyn_reap_req_add(dyn_buf *b, dyn_slice key, const uint8_t *digest);
void		dyn_reap_req_end(dyn_buf *b, size_t start, uint16_t count);
int			dyn_reap_req_decode(dyn_slice body, uint16_t *partition, uint16_t *count,
								dyn_slice *items);
int			dyn_reap_next(dyn_reader *r, dyn_slice *key, dyn_slice *digest);

/*
 * Administration (role admin).  REPAIR has an empty body and REMOVE a node
 * id (u8 length, id); both replies carry a JSON object as text, like
 * STATUS_REPLY (read them with dyn_status_reply_decode).
 */
void		dyn_remove_req_encode(dyn_buf *b, uint32_t reqid, dyn_slice node_id);
int			dyn_remove_req_decode(dyn_slice body, dyn_slice *node_id);
/* A JSON reply under type (STATUS_REPLY, REPAIR_REPLY, REMOVE_REPLY). */
void		dyn_json_reply_encode(dyn_buf *b, uint8_t type, uint32_t reqid, dyn_slice json);

/* A lower-case name for a message type ("get", "put_reply", ...). */
const char *dyn_msg_type_name(uint8_t type);

#endif							/* DYNAMO_WIRE_H */
