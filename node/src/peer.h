/*
 * peer.h
 *		A dynamod's connection to one other node: requests with callbacks
 *		and deadlines, over libdynamo's pipelining client, on the libuv loop.
 *
 * Why not libuv streams: dyn_client is the one implementation of the
 * protocol's client side (pipelining, reply matching, and the secure
 * channel when nodes run with --key/--trust), shared with the tools and the
 * FDW.  It is non-blocking and exposes its socket, so a uv_poll on that
 * socket drives it like any other libuv handle.
 *
 * Every request gets exactly one callback: the reply, or a failure
 * (timeout, connection refused or lost, too many outstanding).  Timeouts and
 * connection failures are also reported to the peer's owner (the failure
 * detector), once per event.  Callbacks never run inside dyn_peer_send, so
 * a caller may send several requests and only then look at the results.
 */
#ifndef DYNAMOD_PEER_H
#define DYNAMOD_PEER_H

#include <uv.h>

#include "dynamo/client.h"
#include "log.h"

/* Most requests outstanding on one peer; past this dyn_peer_send refuses. */
#define DYN_PEER_MAX_PENDING	4096
/* Most request bytes queued unsent on one peer before refusing more. */
#define DYN_PEER_MAX_UNSENT		(32u * 1024 * 1024)

typedef struct dyn_peer dyn_peer;

/*
 * A reply or a failure.  status is DYN_OK with reply set (its body valid
 * during the call only; an ERROR frame is a reply too), or a negative
 * status with reply NULL: DYN_ERR_TIMEOUT, DYN_ERR_IO (could not connect,
 * or the connection broke), DYN_ERR_CLOSED (the peer is being closed),
 * DYN_ERR_AGAIN (too many outstanding; not the peer's fault).
 */
typedef void (*dyn_peer_cb) (void *arg, int status, const dyn_frame *reply);

/* The failure detector's feed: a request timed out or a connection failed. */
typedef void (*dyn_peer_fail_fn) (void *owner, dyn_peer *p, int status);

/*
 * What a node-to-node connection is made with: the client factory lets the
 * node give every outgoing connection its secure channel (or none with
 * --insecure) without this file knowing about keys.
 */
typedef struct dyn_peer_config
{
	uv_loop_t  *loop;
	const dyn_logger *log;
	dyn_client *(*new_client) (void *arg);
	void	   *new_client_arg;
	dyn_peer_fail_fn on_fail;
	void	   *owner;
} dyn_peer_config;

/* A peer at address ("host:port"); connects at the first request. */
dyn_peer   *dyn_peer_new(const dyn_peer_config *cfg, const char *id, const char *address);
/* Point the peer at a new address (a node restarted elsewhere): reconnects. */
void		dyn_peer_set_address(dyn_peer *p, const char *address);
const char *dyn_peer_address(const dyn_peer *p);

/*
 * Queue a request frame of type with body; cb(arg, ...) is called once,
 * later.  Returns DYN_OK, or DYN_ERR_AGAIN when the peer has too much
 * outstanding (cb is then NOT called) -- back-pressure for the caller.
 */
int			dyn_peer_send(dyn_peer *p, uint8_t type, dyn_slice body, int timeout_ms,
						  dyn_peer_cb cb, void *arg);
/* Requests waiting for a reply. */
size_t		dyn_peer_outstanding(const dyn_peer *p);
/* Connections dropped because they went silent or never came up. */
uint64_t	dyn_peer_reconnects(const dyn_peer *p);

/* Deadline of a connection's TCP connect and handshake. */
#define DYN_PEER_CONNECT_TIMEOUT_MS	1000
/* The drop decision (pure; see peer.c's opening comment). */
bool		dyn_peer_stalled(bool connected, uint64_t connect_ms, bool silent, uint64_t now);
/* Fail everything outstanding with DYN_ERR_CLOSED and free the peer. */
void		dyn_peer_close(dyn_peer *p);

#endif							/* DYNAMOD_PEER_H */
