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

	DYN_MSG_GET_REPLY = 0x81,
	DYN_MSG_PUT_REPLY = 0x82,
	DYN_MSG_DELETE_REPLY = 0x83,
	DYN_MSG_STATUS_REPLY = 0x84,
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
 * PUT and DELETE: write value (PUT) or a tombstone (DELETE) with the given
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
/* type is the frame's (PUT or DELETE; anything else is DYN_ERR_INVAL). */
int			dyn_put_req_decode(dyn_slice body, uint8_t type, dyn_put_req *out);
/* A STATUS request has an empty body; anything else is DYN_ERR_PROTO. */
int			dyn_status_req_decode(dyn_slice body);
int			dyn_get_reply_decode(dyn_slice body, dyn_slice *object);
int			dyn_put_reply_decode(dyn_slice body, dyn_slice *context);
int			dyn_status_reply_decode(dyn_slice body, dyn_slice *json);
int			dyn_error_decode(dyn_slice body, dyn_error_msg *out);

/* A lower-case name for a message type ("get", "put_reply", ...). */
const char *dyn_msg_type_name(uint8_t type);

#endif							/* DYNAMO_WIRE_H */
