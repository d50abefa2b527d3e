/*
 * client.h
 *		A non-blocking, pipelining client for the dynamo protocol.
 *
 * Like libpq, the client never waits on its own unless asked to: it exposes
 * its socket and what it is waiting for (dyn_client_wants), and the caller's
 * own wait -- WaitLatchOrSocket in the FDW, epoll in dynamo-bench, poll in
 * dynamo-cli via dyn_client_await -- tells it when to make progress
 * (dyn_client_io).  Requests are queued with the dyn_client_send_* calls,
 * which return the request id that the reply will carry; any number may be
 * outstanding on the one connection, and replies are matched by id.
 *
 * Security: with dyn_client_set_identity the connection runs the secure
 * channel (channel.h) -- the handshake happens inside dyn_client_io like
 * the rest of the traffic, dyn_client_connected means "handshake complete",
 * and requests queued before then are held back and sent encrypted behind
 * the handshake.  Without an identity the client speaks plaintext, which
 * nodes accept only when started with --insecure.
 *
 * Memory: the client owns its buffers.  A reply returned by
 * dyn_client_next_reply points into the client's input buffer and stays
 * valid until the next call to dyn_client_io, dyn_client_await or
 * dyn_client_free.
 */
#ifndef DYNAMO_CLIENT_H
#define DYNAMO_CLIENT_H

#include "dynamo/identity.h"
#include "dynamo/wire.h"

/* Bits of dyn_client_wants and of dyn_client_io's ready argument. */
#define DYN_WAIT_READ	1
#define DYN_WAIT_WRITE	2

/*
 * Every connection's TCP options: sent bytes unacknowledged this long fail
 * the connection (TCP_USER_TIMEOUT), and an idle one is probed after
 * KEEPIDLE s, every KEEPINTVL s, and fails after KEEPCNT lost probes.
 */
#define DYN_CLIENT_TCP_USER_TIMEOUT_MS	10000
#define DYN_CLIENT_TCP_KEEPIDLE_S		5
#define DYN_CLIENT_TCP_KEEPINTVL_S		2
#define DYN_CLIENT_TCP_KEEPCNT			3

typedef struct dyn_client dyn_client;

/* A new unconnected client, or NULL when out of memory. */
dyn_client *dyn_client_new(void);
/* Close the socket and free everything; NULL is allowed. */
void		dyn_client_free(dyn_client *c);

/*
 * Authenticate and encrypt the connections this client makes from now on:
 * id is copied (and wiped at dyn_client_free), trust is borrowed and must
 * outlive the client; a node is accepted only if its key is in trust with
 * role node.  id NULL (trust ignored) means plaintext.  Call it before
 * connecting: DYN_ERR_INVAL while a connection is open, or when id is given
 * without trust.
 */
int			dyn_client_set_identity(dyn_client *c, const dyn_identity *id,
									const dyn_trust *trust);

/*
 * Start connecting to "host:port" without blocking (numeric addresses do not
 * block; a name is resolved with getaddrinfo).  DYN_OK means connected or in
 * progress: wait for DYN_WAIT_WRITE and call dyn_client_io.
 */
int			dyn_client_connect_start(dyn_client *c, const char *addr);
/*
 * Connect and wait at most timeout_ms for the connection to be made and,
 * on a secure client, for the handshake to complete.
 */
int			dyn_client_connect(dyn_client *c, const char *addr, int timeout_ms);
/*
 * Whether the connection is ready for traffic: TCP established and, on a
 * secure client, the node authenticated.
 */
bool		dyn_client_connected(const dyn_client *c);

/* The socket to wait on (-1 before connect) and which readiness is needed. */
int			dyn_client_socket(const dyn_client *c);
int			dyn_client_wants(const dyn_client *c);

/*
 * Make progress: finish connecting, write queued requests, read what has
 * arrived.  ready is a mask of DYN_WAIT_* the caller's wait reported (0 is
 * allowed: it just tries).  Returns DYN_OK, or a negative status after which
 * the connection is closed (see dyn_client_errmsg).
 */
int			dyn_client_io(dyn_client *c, int ready);

/*
 * Pop the next complete reply.  DYN_OK with *reply set, DYN_ERR_AGAIN when
 * none is buffered, DYN_ERR_PROTO/TOOBIG when the peer sent a bad frame (the
 * connection is then closed).
 */
int			dyn_client_next_reply(dyn_client *c, dyn_frame *reply);

/*
 * Flush and wait (poll) until a reply can be popped, at most timeout_ms
 * (-1: no limit is not allowed; every wait has a deadline).  Returns what
 * dyn_client_next_reply returns, or DYN_ERR_TIMEOUT.
 */
int			dyn_client_await(dyn_client *c, int timeout_ms, dyn_frame *reply);

/*
 * Queue a request; returns its request id, or 0 when it could not be
 * queued (an argument the encoder refuses, such as an empty or over-long
 * key, or no memory: see dyn_client_errmsg); the requests already queued
 * are not affected.
 */
uint32_t	dyn_client_send_get(dyn_client *c, const dyn_get_req *req);
uint32_t	dyn_client_send_put(dyn_client *c, const dyn_put_req *req);
uint32_t	dyn_client_send_delete(dyn_client *c, const dyn_put_req *req);
uint32_t	dyn_client_send_status(dyn_client *c);
/*
 * Queue a frame of any request type with an already encoded body (the
 * node-to-node messages); returns its request id, or 0 when out of memory.
 */
uint32_t	dyn_client_send_frame(dyn_client *c, uint8_t type, dyn_slice body);
/*
 * Ask for the node's ring and its verdict on each member (RING; decode the
 * RING_REPLY with dyn_routing_decode, routing.h).
 */
uint32_t	dyn_client_send_ring(dyn_client *c);

/* Requests sent or queued whose reply has not been popped yet. */
size_t		dyn_client_outstanding(const dyn_client *c);
/* Bytes queued but not yet written to the socket. */
size_t		dyn_client_unsent(const dyn_client *c);
/* Why the last call failed, "" if nothing failed. */
const char *dyn_client_errmsg(const dyn_client *c);

#endif							/* DYNAMO_CLIENT_H */
