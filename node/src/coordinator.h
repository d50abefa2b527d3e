/*
 * coordinator.h
 *		Coordinating client requests across the cluster: quorum GET with
 *		read repair, quorum PUT/DELETE with sloppy quorum and hints, and
 *		forwarding of writes to a node that may coordinate them.
 *
 * Any node takes any request.  A GET is coordinated where it arrives.  A
 * write is coordinated only by one of the key's N owners, because its new
 * version gets a dot (coordinator id, counter above every counter of that
 * coordinator the key has seen) and only an owner holds the key's siblings
 * to pick that counter from -- a node that picked a dot without them could
 * issue one already used, and two different versions with one dot are taken
 * for one (a lost write).  So a node that does not own the key forwards the
 * write (COORD_PUT/COORD_DELETE) to the first healthy owner and relays the
 * answer, as Riak does.
 *
 * The coordinator writes locally first (dyn_store_write gives the new
 * sibling set and the new version's clock), then ships that *whole sibling
 * set* to the other replicas, which merge it (dyn_object_merge): a replica
 * never holds a dot without the siblings its coordinator held beside it.
 * The local write is one acknowledgement; the answer goes out at W.
 *
 * Requests are answered asynchronously: the connection is held (dyn_conn_
 * hold) until the answer, and an answer for a connection that closed
 * meanwhile is dropped.
 */
#ifndef DYNAMOD_COORDINATOR_H
#define DYNAMOD_COORDINATOR_H

#include "conn.h"
#include "node.h"

/* Deadline of one replica read or write. */
#define DYN_REPLICA_TIMEOUT_MS	2000
/* Deadline of a write forwarded to its coordinator (it waits for replicas). */
#define DYN_FORWARD_TIMEOUT_MS	(DYN_REPLICA_TIMEOUT_MS + 2000)

/* GET: quorum read from the first N healthy nodes, then read repair. */
void		dyn_coord_get(dyn_node *node, dyn_conn *c, uint32_t reqid,
						  const dyn_get_req *req);

/*
 * PUT, DELETE (type of the client's frame), or COORD_PUT/COORD_DELETE from
 * a node that forwarded the write here; body is the frame's body (kept for
 * forwarding).
 */
void		dyn_coord_write(dyn_node *node, dyn_conn *c, uint8_t type, uint32_t reqid,
							const dyn_put_req *req, dyn_slice body);

/* Free the request records kept for reuse (after the loop has ended). */
void		dyn_coord_free_cache(dyn_node *node);

#endif							/* DYNAMOD_COORDINATOR_H */
