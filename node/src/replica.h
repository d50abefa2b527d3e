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

#include "conn.h"
#include "node.h"

/*
 * Answer a REPLICA_GET or REPLICA_PUT frame on c.  DYN_ERR_PROTO for a
 * malformed body (the caller closes the connection); failures of this
 * node are answered with an error frame and return DYN_OK.
 */
int			dyn_replica_get(dyn_node *node, dyn_conn *c, const dyn_frame *f);
int			dyn_replica_put(dyn_node *node, dyn_conn *c, const dyn_frame *f);

#endif							/* DYNAMOD_REPLICA_H */
