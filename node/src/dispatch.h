/*
 * dispatch.h
 *		The command table: every request type a node takes, in one row.
 *
 * A row says how a type is handled: its handler, whether its body must be
 * empty, which STATUS counter counts it and which latency histogram times
 * it.  Its name is wire.c's (dyn_msg_type_name) and who may send it is the
 * role table of identity.c (dyn_role_allows), both in libdynamo because
 * clients use them too; test_dispatch checks that every row has both and
 * that every request type named in wire.c has a row, so adding a type is
 * one row here (and its name and role, which the test asks for).
 *
 * Every handler has one contract (dyn_command_fn): it answers through the
 * request (request.h) and returns DYN_OK, or a decoder's code when the body
 * is malformed -- and then it has answered nothing: dyn_dispatch reports
 * it and the transport closes the connection, for every type alike.
 */
#ifndef DYNAMOD_DISPATCH_H
#define DYNAMOD_DISPATCH_H

#include <stddef.h>

#include "request.h"

/* The body must be empty (anything else is malformed). */
#define DYN_CMD_EMPTY	0x01

/*
 * Handle req.  @return DYN_OK when answered (now or deferred), or the
 * decoder's DYN_ERR_PROTO / DYN_ERR_TOOBIG / DYN_ERR_INVAL when the body is
 * malformed, with nothing answered.
 */
typedef int (*dyn_command_fn) (dyn_request *req);

/* One row of the table. */
typedef struct dyn_command
{
	dyn_command_fn handle;
	uint8_t		flags;			/* DYN_CMD_* */
	int8_t		latency;		/* DYN_LATENCY_* histogram of node->latency, or -1 */
	uint16_t	stat;			/* 1 + offset of its dyn_node_stats counter; 0: none */
} dyn_command;

/* The row of a request type; NULL for a type no node takes (replies included). */
const dyn_command *dyn_command_of(uint8_t type);

/*
 * Count req and hand it to its row's handler.  @return DYN_OK, or
 * DYN_ERR_PROTO (or the decoder's code) when the frame is not one a node
 * takes or its body is malformed: why then holds the reason
 * ("malformed remove request: malformed message") and the caller closes
 * the connection; nothing was answered.
 */
int			dyn_dispatch(dyn_request *req, char *why, size_t whylen);

#endif							/* DYNAMOD_DISPATCH_H */
