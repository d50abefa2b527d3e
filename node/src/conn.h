/*
 * conn.h
 *		Client connections of a dynamod (see conn.c).
 */
#ifndef DYNAMOD_CONN_H
#define DYNAMOD_CONN_H

#include "node.h"

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
 * Asynchronous answers (the coordinator's).  A request answered later holds
 * its connection: dyn_conn_hold when it starts, and exactly one
 * dyn_conn_answer with the whole reply frame when it ends.  The connection
 * is not freed while held; an answer for a connection that closed meanwhile
 * is dropped.  A connection holding DYN_CONN_MAX_HELD requests stops reading
 * new ones until half of them are answered (back-pressure).
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
/*
 * Group commit (group.c): a sync has ended; send the replies it allows,
 * or, when it failed, close the connections whose replies waited.
 */
void		dyn_conn_on_durable(dyn_node *node, bool failed);

#endif							/* DYNAMOD_CONN_H */
