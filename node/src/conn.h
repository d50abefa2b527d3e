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

#endif							/* DYNAMOD_CONN_H */
