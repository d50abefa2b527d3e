/*
 * replica.h
 *		The replica side of node-to-node requests: another node's
 *		coordinator reads this node's copy of a key (REPLICA_GET) or ships
 *		it a sibling set to merge (REPLICA_PUT), possibly as a hint for a
 *		node that is down.
 *
 * Both answer at once, inside the connection's burst (a REPLICA_PUT's
 * merge joins the burst's storage batch, so its acknowledgement leaves only
 * once the merge is durable).  Nothing here coordinates: no dots are made,
 * versions only merge.
 */
#ifndef DYNAMOD_REPLICA_H
#define DYNAMOD_REPLICA_H

#include "node.h"
#include "request.h"

/*
 * Answer a REPLICA_GET or REPLICA_PUT request.  @return DYN_ERR_PROTO for
 * a malformed body (nothing answered: the caller closes the connection);
 * DYN_OK otherwise, failures of this node answered with an error frame.
 */
int			dyn_replica_get(dyn_request *req);
int			dyn_replica_put(dyn_request *req);

#endif							/* DYNAMOD_REPLICA_H */
