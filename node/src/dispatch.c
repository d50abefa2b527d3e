/*
 * dispatch.c
 *		The command table and the handlers that are only glue between a
 *		request and the service that answers it (see dispatch.h).
 */
#include "dispatch.h"

#include <stdio.h>

#include "antientropy.h"
#include "coordinator.h"
#include "handoff.h"
#include "membership.h"
#include "node.h"
#include "replica.h"
#include "scan.h"
#include "sync.h"

/* A row's stat: 1 + the counter's offset in dyn_node_stats (0 is none). */
#define STAT(field)		((uint16_t) (offsetof(dyn_node_stats, field) + 1))

static int	cmd_get(dyn_request *req);
static int	cmd_write(dyn_request *req);
static int	cmd_status(dyn_request *req);
static int	cmd_scan(dyn_request *req);
static int	cmd_buckets(dyn_request *req);
static int	cmd_gossip(dyn_request *req);
static int	cmd_ring(dyn_request *req);

/*
 * Indexed by type, so finding a row costs one load.  The COORD_* writes of
 * a forwarding node count and time as the client's PUT and DELETE did.
 */
static const dyn_command commands[256] = {
	[DYN_MSG_GET] = {cmd_get, 0, DYN_LATENCY_GET, STAT(gets)},
	[DYN_MSG_PUT] = {cmd_write, 0, DYN_LATENCY_PUT, STAT(puts)},
	[DYN_MSG_DELETE] = {cmd_write, 0, DYN_LATENCY_DELETE, STAT(deletes)},
	[DYN_MSG_STATUS] = {cmd_status, DYN_CMD_EMPTY, -1, STAT(statuses)},
	[DYN_MSG_SCAN] = {cmd_scan, 0, -1, STAT(scans)},
	[DYN_MSG_REPAIR] = {dyn_ae_on_repair, DYN_CMD_EMPTY, -1, 0},
	[DYN_MSG_REMOVE] = {dyn_handoff_on_remove, 0, -1, 0},
	[DYN_MSG_BUCKETS] = {cmd_buckets, DYN_CMD_EMPTY, -1, 0},
	[DYN_MSG_REPLICA_GET] = {dyn_replica_get, 0, -1, 0},
	[DYN_MSG_REPLICA_PUT] = {dyn_replica_put, 0, -1, 0},
	[DYN_MSG_GOSSIP] = {cmd_gossip, 0, -1, 0},
	[DYN_MSG_RING] = {cmd_ring, DYN_CMD_EMPTY, -1, 0},
	[DYN_MSG_COORD_PUT] = {cmd_write, 0, DYN_LATENCY_PUT, STAT(puts)},
	[DYN_MSG_COORD_DELETE] = {cmd_write, 0, DYN_LATENCY_DELETE, STAT(deletes)},
	[DYN_MSG_MERKLE] = {dyn_sync_on_merkle, 0, -1, 0},
	[DYN_MSG_SYNC_KEYS] = {dyn_sync_on_keys, 0, -1, 0},
	[DYN_MSG_REAP] = {dyn_sync_on_reap, 0, -1, 0},
};

const dyn_command *
dyn_command_of(uint8_t type)
{
	return commands[type].handle != NULL ? &commands[type] : NULL;
}

int
dyn_dispatch(dyn_request *req, char *why, size_t whylen)
{
	const dyn_command *cmd = dyn_command_of(req->type);
	int			rc;

	if (cmd == NULL)
	{
		snprintf(why, whylen, "unexpected %s frame from a client",
				 dyn_msg_type_name(req->type));
		return DYN_ERR_PROTO;
	}
	if (cmd->stat != 0)
		(*(uint64_t *) ((char *) &req->node->stats + cmd->stat - 1))++;
	if ((cmd->flags & DYN_CMD_EMPTY) && req->body.len != 0)
	{
		snprintf(why, whylen, "malformed %s request: unexpected body",
				 dyn_msg_type_name(req->type));
		return DYN_ERR_PROTO;
	}
	if ((rc = cmd->handle(req)) != DYN_OK)
		snprintf(why, whylen, "malformed %s request: %s", dyn_msg_type_name(req->type),
				 dyn_strerror(rc));
	return rc;
}

/* GET: coordinated by coordinator.c (answered later). */
static int
cmd_get(dyn_request *req)
{
	dyn_get_req get;
	int			rc;

	if ((rc = dyn_get_req_decode(req->body, &get)) != DYN_OK)
		return rc;
	dyn_coord_get(req->node, req->conn, req->reqid, &get);
	return DYN_OK;
}

/* PUT and DELETE, from clients or forwarded by a node (COORD_*). */
static int
cmd_write(dyn_request *req)
{
	dyn_put_req put;
	int			rc;

	if ((rc = dyn_put_req_decode(req->body, req->type, &put)) != DYN_OK)
		return rc;
	dyn_coord_write(req->node, req->conn, req->type, req->reqid, &put, req->body);
	return DYN_OK;
}

/* STATUS: the node's state as a JSON object. */
static int
cmd_status(dyn_request *req)
{
	dyn_node   *node = req->node;

	dyn_buf_reset(&node->scratch);
	dyn_node_status_json(node, &node->scratch);
	dyn_status_reply_encode(req->out, req->reqid, dyn_buf_slice(&node->scratch));
	return DYN_OK;
}

/*
 * SCAN: one page of a partition's keys of a bucket from this node's store
 * (a coverage query picks one healthy replica per partition).
 */
static int
cmd_scan(dyn_request *req)
{
	dyn_node   *node = req->node;
	dyn_scan_req scan;
	int			rc;

	if ((rc = dyn_scan_req_decode(req->body, &scan)) != DYN_OK)
		return rc;
	rc = dyn_scan_page(&node->store, req->reqid, &scan, req->out);
	if (rc == DYN_ERR_INVAL)
		dyn_reply_error(node, req->out, req->reqid, DYN_E_INVAL, 0, 0,
						"partition %u does not exist: the cluster has %u partitions",
						scan.partition, node->store.partitions);
	else if (rc == DYN_ERR_PROTO)	/* a page without values decodes each set */
		dyn_reply_error(node, req->out, req->reqid, DYN_E_INTERNAL, 0, 1,
						"could not scan partition %u: a stored sibling set does not decode",
						scan.partition);
	else if (rc != DYN_OK)
		dyn_reply_error(node, req->out, req->reqid, DYN_E_INTERNAL, 0, 1,
						"could not scan partition %u: %s", scan.partition,
						dyn_engine_errmsg(node->engine));
	return DYN_OK;
}

/* BUCKETS: the buckets this node's store holds keys of (scan.c). */
static int
cmd_buckets(dyn_request *req)
{
	int			rc = dyn_scan_buckets(&req->node->store, req->reqid, req->out);

	if (rc != DYN_OK)
		dyn_reply_error(req->node, req->out, req->reqid, DYN_E_INTERNAL, 0, 1,
						"could not list the buckets: %s",
						rc == DYN_ERR_TOOBIG ? "more than 65535" : dyn_strerror(rc));
	return DYN_OK;
}

static int
cmd_gossip(dyn_request *req)
{
	return dyn_membership_on_gossip(&req->node->members, req->body, req->reqid, req->out);
}

static int
cmd_ring(dyn_request *req)
{
	dyn_membership_ring_reply(&req->node->members, req->reqid, req->out);
	return DYN_OK;
}
