/*
 * request.h
 *		What a service sees of a request: the frame, the node, where the
 *		answer goes, and the one way to answer with an error.
 *
 * Services (replica.c, sync.c, handoff.c, antientropy.c, the coordinator)
 * include this header and not conn.h: they never see a socket, a channel or
 * a burst.  The transport (conn.c) builds a dyn_request for each frame,
 * hands it to the command table (dispatch.h) and implements the few calls
 * declared here that need the connection.  So the include graph runs one
 * way: services -> request.h <- conn.c.
 *
 * Answering.  A request answered at once appends its reply frame to
 * req->out, inside the connection's burst (its acknowledgement leaves only
 * once the burst's writes are durable).  A request answered later takes a
 * deferred token (dyn_request_defer), which keeps the connection alive, and
 * gives it back with exactly one dyn_deferred_answer.  Every error reply of
 * the node is built by dyn_reply_error, which counts it in STATUS.
 */
#ifndef DYNAMOD_REQUEST_H
#define DYNAMOD_REQUEST_H

#include <stdarg.h>

#include "dynamo/buf.h"
#include "dynamo/wire.h"

typedef struct dyn_node dyn_node;
typedef struct dyn_conn dyn_conn;

/*
 * One request frame being handled.  Everything it points to is the
 * transport's and lives only until the handler returns (body included): a
 * handler that answers later copies what it needs.
 */
typedef struct dyn_request
{
	dyn_node   *node;
	dyn_conn   *conn;			/* the transport's; only for the calls below */
	uint8_t		type;
	uint32_t	reqid;
	dyn_slice	body;
	dyn_buf    *out;			/* where an answer given now is appended */
} dyn_request;

/*
 * A request that will be answered after its handler returned: holds its
 * connection (not freed meanwhile; an answer after it closed is dropped).
 */
typedef struct dyn_deferred
{
	dyn_conn   *conn;
	uint32_t	reqid;
} dyn_deferred;

/* Take the token for req (conn.c); exactly one dyn_deferred_answer follows. */
dyn_deferred dyn_request_defer(const dyn_request *req);
/* The whole reply frame of a deferred request (conn.c); gives the token back. */
void		dyn_deferred_answer(dyn_deferred d, dyn_slice frame);
/*
 * Join the burst's storage batch before writing the local store (conn.c),
 * so the write commits with the burst's others before its reply leaves.
 * @return DYN_OK, or the engine's code when the batch could not start.
 */
int			dyn_request_batch(const dyn_request *req);

/*
 * Append an error reply for request reqid to out and count it
 * (stats.errors; cluster.quorum_failures for DYN_E_QUORUM).  replied and
 * needed matter for DYN_E_QUORUM and are clamped to 255.  The message is
 * cut at 511 bytes.  The only error-reply builder of the node.
 */
void		dyn_reply_error(dyn_node *node, dyn_buf *out, uint32_t reqid,
							dyn_error_code code, int replied, int needed,
							const char *fmt,...)
			__attribute__((format(printf, 7, 8)));
/* The same with the arguments as a va_list (for a caller's own variadic wrapper). */
void		dyn_reply_verror(dyn_node *node, dyn_buf *out, uint32_t reqid,
							 dyn_error_code code, int replied, int needed,
							 const char *fmt, va_list ap)
			__attribute__((format(printf, 7, 0)));

/*
 * The same by connection, as the coordinator holds its requests (conn.c;
 * dyn_request_defer and dyn_deferred_answer are these with a token).  A
 * request answered later holds its connection: dyn_conn_hold when it
 * starts, and exactly one dyn_conn_answer with the whole reply frame when
 * it ends.  The connection is not freed while held; an answer for a
 * connection that closed meanwhile is dropped.  A connection holding
 * DYN_CONN_MAX_HELD requests stops reading new ones until half of them are
 * answered (back-pressure).
 */
#define DYN_CONN_MAX_HELD	1024
void		dyn_conn_hold(dyn_conn *c);
void		dyn_conn_answer(dyn_conn *c, dyn_slice frame);
/* The connection's output, for answers given inside the burst. */
dyn_buf    *dyn_conn_out(dyn_conn *c);
/*
 * Open the burst's storage batch (writes share one commit); DYN_OK.  With
 * group commit there is none: each write commits alone, the group syncs.
 */
int			dyn_conn_batch(dyn_conn *c);

#endif							/* DYNAMOD_REQUEST_H */
