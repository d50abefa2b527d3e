/*
 * replica.c
 *		Answering another node's replica reads and writes (see replica.h).
 */
#include "replica.h"

#include <string.h>

#include "dynamo/object.h"

/*
 * This node's copy, straight from the engine into the reply; hints this
 * node keeps for the key are merged in (a stand-in answers with what it
 * holds for the owner it stands in for).
 */
int
dyn_replica_get(dyn_request *r)
{
	dyn_node   *node = r->node;
	dyn_replica_get_req req;
	dyn_buf    *out = r->out;
	size_t		start;
	size_t		lenpos;
	int			rc;

	if ((rc = dyn_replica_get_decode(r->body, &req)) != DYN_OK)
		return rc;
	node->cluster.replica_gets++;
	start = dyn_frame_begin(out, DYN_MSG_REPLICA_GET_REPLY, r->reqid);
	lenpos = out->len;
	dyn_buf_put_u32(out, 0);
	rc = dyn_store_get(&node->store, req.bucket, req.key, out);
	if (rc == DYN_OK && node->hints.total > 0)
	{
		dyn_object	o;
		dyn_buf		bufs[DYN_RING_N_MAX];
		dyn_buf		copy;

		dyn_object_init(&o);
		dyn_buf_init(&copy);
		for (int i = 0; i < DYN_RING_N_MAX; i++)
			dyn_buf_init(&bufs[i]);
		dyn_buf_append(&copy, out->data + lenpos + 4, out->len - lenpos - 4);
		if (copy.err == DYN_OK &&
			dyn_object_decode(dyn_buf_slice(&copy), &o) == DYN_OK &&
			dyn_hints_merge_into(&node->hints, req.bucket, req.key, &o, bufs,
								 DYN_RING_N_MAX) > 0)
		{
			out->len = lenpos + 4;
			dyn_object_encode(&o, out);
		}
		dyn_object_free(&o);
		dyn_buf_free(&copy);
		for (int i = 0; i < DYN_RING_N_MAX; i++)
			dyn_buf_free(&bufs[i]);
	}
	if (rc != DYN_OK || out->err)
	{
		out->len = start;
		dyn_reply_error(node, out, r->reqid, DYN_E_INTERNAL, 0, 1, "could not read key: %s",
						dyn_engine_errmsg(node->engine));
		return DYN_OK;
	}
	dyn_buf_patch_u32(out, lenpos, (uint32_t) (out->len - lenpos - 4));
	dyn_frame_end(out, start);
	return DYN_OK;
}

/*
 * Merge a shipped sibling set into this node's copy, or keep it as a hint
 * when it names another node as its owner.
 */
int
dyn_replica_put(dyn_request *r)
{
	dyn_node   *node = r->node;
	dyn_replica_put_req req;
	int			rc;

	if ((rc = dyn_replica_put_decode(r->body, &req)) != DYN_OK)
		return rc;
	node->cluster.replica_puts++;
	if (dyn_request_batch(r) != DYN_OK)
	{
		dyn_reply_error(node, r->out, r->reqid, DYN_E_INTERNAL, 0, 1,
						"could not start a write: %s", dyn_engine_errmsg(node->engine));
		return DYN_OK;
	}
	if (req.hint.len > 0 && !dyn_slice_eq(req.hint, dyn_slice_str(node->cfg.id)))
		rc = dyn_hints_store(&node->hints, req.hint, req.bucket, req.key, req.object);
	else
		rc = dyn_store_merge(&node->store, req.bucket, req.key, req.object, NULL);
	if (rc == DYN_ERR_PROTO)
		dyn_reply_error(node, r->out, r->reqid, DYN_E_INVAL, 0, 1, "malformed sibling set");
	else if (rc == DYN_ERR_TOOBIG)
		dyn_reply_error(node, r->out, r->reqid, DYN_E_INVAL, 0, 1,
						"merge would pass %d siblings", DYN_SIBLINGS_MAX);
	else if (rc != DYN_OK)
		dyn_reply_error(node, r->out, r->reqid, DYN_E_INTERNAL, 0, 1,
						"could not merge key: %s", dyn_engine_errmsg(node->engine));
	else
		dyn_empty_encode(r->out, DYN_MSG_REPLICA_PUT_REPLY, r->reqid);
	return DYN_OK;
}
