/*
 * conn.h
 *		Client connections of a dynamod (see conn.c).
 */
#ifndef DYNAMOD_CONN_H
#define DYNAMOD_CONN_H

#include "node.h"
#include "request.h"

/* The node's transport (node.h): the functions below the node calls. */
extern const dyn_transport dyn_conn_transport;

/*
 * Make node->conns (the transport's own state: the flush check on
 * node->loop, the handshake limits) before the node takes connections.
 * @return DYN_OK, or DYN_ERR_NOMEM (node->conns left NULL).
 */
int			dyn_conn_start(dyn_node *node);
/* Close the flush check: after every service has stopped answering. */
void		dyn_conn_stop(dyn_node *node);
/* Free node->conns (after the loop has ended; NULL is fine). */
void		dyn_conn_free(dyn_node *node);
/* The input budget's figures, for STATUS. */
void		dyn_conn_input(const dyn_node *node, dyn_input_status *out);

/* Accept one connection waiting on node->listener and start reading it. */
void		dyn_conn_accept(dyn_node *node);
/* Close every open connection. */
void		dyn_conn_close_all(dyn_node *node);
/*
 * The trust file was reloaded: close the connections whose key it no longer
 * lists (each told so first), and give the others their key's role now.
 */
void		dyn_conn_retrust(dyn_node *node);

/*
 * Group commit (group.c): a sync has ended; send the replies it allows,
 * or, when it failed, close the connections whose replies waited.
 */
void		dyn_conn_on_durable(dyn_node *node, bool failed);

#endif							/* DYNAMOD_CONN_H */
