/*-------------------------------------------------------------------------
 *
 * cluster.h
 *		  What dynamo_fdw knows of the cluster behind a connection (cluster.c):
 *		  the ring and each member's health, the defaults the nodes report,
 *		  the key count the planner estimates with, and the node a request
 *		  for a key or a partition goes to.
 *
 * connection.c owns the nodes (their clients and requests); this file
 * owns what the FDW believes about the ring they form, and chooses among
 * them.  It talks to the nodes only through connection.c's requests.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DYNAMO_FDW_CLUSTER_H
#define DYNAMO_FDW_CLUSTER_H

#include "utils/timestamp.h"

#include "dynamo/routing.h"

struct DynConn;

/*
 * What the FDW knows of the cluster, cached per connection and refreshed
 * every few seconds: the ring (from a RING request, or built from STATUS
 * for a node that does not answer RING), each member's health as the node
 * sees it, and the defaults the node reports.
 */
typedef struct DynClusterInfo
{
	uint32		q;				/* partitions */
	int			n;				/* replicas per key */
	int			default_r;
	int			default_w;
	bool		ring_from_node; /* false: a one-member ring built from STATUS */
	dyn_routing rt;
	TimestampTz fetched_at;
	double		keys;			/* distinct keys (all buckets), -1 unknown */
	TimestampTz keys_at;
} DynClusterInfo;

/* One connection's knowledge of its cluster (private to cluster.c). */
typedef struct DynCluster DynCluster;

/* For connection.c: made with the connection (in cxt), freed with it. */
extern DynCluster *DynClusterCreate(MemoryContext cxt);
extern void DynClusterFree(DynCluster *cl);

extern const DynClusterInfo *DynGetClusterInfo(struct DynConn *conn, bool with_keys);
extern const DynClusterInfo *DynTryClusterInfo(struct DynConn *conn, bool with_keys);
extern void DynForgetClusterInfo(struct DynConn *conn);
extern void DynForgetKeyCount(struct DynConn *conn);

extern int	DynNodeForKey(struct DynConn *conn, const char *bucket, dyn_slice key);
extern int	DynNodeForKeyAvoiding(struct DynConn *conn, const char *bucket, dyn_slice key,
								  int avoid);
extern int	DynNodeForPartition(struct DynConn *conn, uint32 partition, const int *avoid,
								int navoid, int *member);
extern int	DynNodeForMember(struct DynConn *conn, int member);
extern int	DynNodeMember(struct DynConn *conn, int node);

#endif							/* DYNAMO_FDW_CLUSTER_H */
