/*
 * scan.h
 *		Coverage scans: one page of what a partition holds of one bucket.
 */
#ifndef DYNAMOD_SCAN_H
#define DYNAMOD_SCAN_H

#include "dynamo/wire.h"
#include "store.h"

/*
 * Append to out the SCAN_REPLY frame (request id reqid) answering req from
 * this node's store: the keys of req->bucket in req->partition after
 * req->after, in key order, at most req->limit of them and about
 * DYN_SCAN_PAGE_BYTES.  DYN_ERR_INVAL for a partition the store does not
 * have; DYN_ERR_ENGINE (out unchanged) when the engine fails.
 */
int			dyn_scan_page(dyn_store *st, uint32_t reqid, const dyn_scan_req *req,
						  dyn_buf *out);

/*
 * Append to out the BUCKETS_REPLY frame (request id reqid): the buckets the
 * store holds keys of, in increasing order.  DYN_ERR_TOOBIG when there are
 * more than 65535; DYN_ERR_ENGINE (out unchanged) when the engine fails.
 */
int			dyn_scan_buckets(dyn_store *st, uint32_t reqid, dyn_buf *out);

#endif							/* DYNAMOD_SCAN_H */
