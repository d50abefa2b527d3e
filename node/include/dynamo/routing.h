/*
 * routing.h
 *		Partition-aware routing for clients (the Dynamo paper's
 *		client-driven coordination): the ring and each member's health as
 *		one node sees them, fetched with a RING request, and the node a
 *		request for a key should go to.
 *
 * A client that sends each request to the first healthy node of its key's
 * preference list saves the hop a node would otherwise make to forward a
 * write to an owner (and the coordinator's view of the key is local).  The
 * routing table is a snapshot: a client refreshes it when a node refuses or
 * fails, or every few seconds; a stale table only costs a forward.
 */
#ifndef DYNAMO_ROUTING_H
#define DYNAMO_ROUTING_H

#include "dynamo/ring.h"
#include "dynamo/wire.h"

/* A decoded RING_REPLY. */
typedef struct dyn_routing
{
	dyn_ring	ring;
	bool	   *up;				/* per ring member: the sending node's verdict */
} dyn_routing;

/* An empty table (no members: every lookup fails). */
void		dyn_routing_init(dyn_routing *rt);
void		dyn_routing_free(dyn_routing *rt);

/*
 * Replace rt with the table in a RING_REPLY body.  Members of the view
 * that are not in the ring are ignored; ring members the view does not
 * mention are taken as up.  DYN_ERR_PROTO for a malformed body or ring,
 * DYN_ERR_NOMEM; rt is unchanged on error.
 */
int			dyn_routing_decode(dyn_slice body, dyn_routing *rt);

/*
 * The member index a request for bucket/key should go to: the first
 * healthy node of its preference list (the first node if none is healthy).
 * -1 when the table has no members.
 */
int			dyn_routing_coordinator(const dyn_routing *rt, dyn_slice bucket, dyn_slice key);

/*
 * Whether a client can send to ring member `member` now, by what it knows
 * and the table does not (its own connections, nodes it saw fail).  It
 * may connect; it must not change rt.
 */
typedef bool (*dyn_routing_usable_fn) (void *arg, int member);

/*
 * The same choice for a client with a view of its own: the first of the
 * key's owners that is up and that usable(arg, member) accepts.  -1 when
 * none is (or the table has no members): the client then sends to any
 * node it can reach, which forwards to an owner.
 */
int			dyn_routing_coordinator_usable(const dyn_routing *rt, dyn_slice bucket,
										   dyn_slice key, dyn_routing_usable_fn usable,
										   void *arg);

#endif							/* DYNAMO_ROUTING_H */
