/*-------------------------------------------------------------------------
 *
 * cluster.c
 *		  What dynamo_fdw knows of the cluster behind a connection, and the
 *		  node each request goes to (see cluster.h).
 *
 * The knowledge is a snapshot, fetched from the connection's primary node
 * (a STATUS and a RING request, pipelined) and trusted for
 * DYN_RING_REFRESH_MS; the key count the planner estimates with is asked
 * of every member, less often.  A stale snapshot costs a forward, never a
 * wrong answer: any node takes any request.
 *
 * A key goes where libdynamo says (dyn_routing_coordinator_usable, the
 * definition the node's clients share): the first of its owners that the
 * ring calls up and that this connection can use -- not seen failing
 * lately, and connecting.  When none can, or with routing 'any', the
 * request goes to the primary, which forwards.  A coverage scan reads a
 * partition from one of its N replicas, healthy ones first.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "dynamo_fdw.h"
#include "dynamo/ring.h"

/* How long cluster knowledge is trusted before it is fetched again. */
#define DYN_RING_REFRESH_MS		10000
#define DYN_KEYS_REFRESH_MS		30000

/*
 * One connection's knowledge of its cluster.  It is apart from DynConn
 * because it is about the ring, not the sockets: what the nodes said, and
 * which of the connection's nodes each ring member is (members are added
 * to the connection's nodes by address as the ring names them).
 */
struct DynCluster
{
	MemoryContext cxt;			/* the connection's: member_node lives there */
	bool		have_info;
	DynClusterInfo info;
	int		   *member_node;	/* ring member index -> node index */
	int			nmember_node;
};

/* What member_usable needs to judge a ring member for one request. */
typedef struct DynRouteProbe
{
	DynConn    *conn;
	DynCluster *cl;
	int			avoid;			/* the node not to choose, -1 */
	TimestampTz now;
} DynRouteProbe;

static void cluster_refresh_info(DynConn *conn, DynCluster *cl);
static void cluster_refresh_keys(DynConn *conn, DynCluster *cl);
static void cluster_map_members(DynConn *conn, DynCluster *cl);
static bool member_usable(void *arg, int member);

/* An empty knowledge (nothing fetched yet), allocated in cxt. */
DynCluster *
DynClusterCreate(MemoryContext cxt)
{
	DynCluster *cl = MemoryContextAllocZero(cxt, sizeof(DynCluster));

	cl->cxt = cxt;
	dyn_routing_init(&cl->info.rt);
	return cl;
}

/* Free what libdynamo allocated (the rest goes with the context). */
void
DynClusterFree(DynCluster *cl)
{
	dyn_routing_free(&cl->info.rt);
}

/*
 * What the cluster looks like, fetched from the primary node when not
 * known or older than DYN_RING_REFRESH_MS; with_keys also asks every
 * member for its key count (older than DYN_KEYS_REFRESH_MS), for the
 * planner's estimates.
 */
const DynClusterInfo *
DynGetClusterInfo(DynConn *conn, bool with_keys)
{
	DynCluster *cl = DynConnCluster(conn);
	TimestampTz now = GetCurrentTimestamp();

	if (!cl->have_info ||
		TimestampDifferenceExceeds(cl->info.fetched_at, now, DYN_RING_REFRESH_MS))
		cluster_refresh_info(conn, cl);
	if (with_keys &&
		(cl->info.keys_at == 0 ||
		 TimestampDifferenceExceeds(cl->info.keys_at, now, DYN_KEYS_REFRESH_MS)))
		cluster_refresh_keys(conn, cl);
	return &cl->info;
}

/*
 * What the planner and a plain EXPLAIN use, which must not need the
 * cluster: DynGetClusterInfo when a node connects, else what this backend
 * learnt last (however old), else NULL -- nothing known.
 */
const DynClusterInfo *
DynTryClusterInfo(DynConn *conn, bool with_keys)
{
	DynCluster *cl = DynConnCluster(conn);
	TimestampTz now = GetCurrentTimestamp();

	/* fresh enough: no node is asked (or probed) at all */
	if (cl->have_info &&
		!TimestampDifferenceExceeds(cl->info.fetched_at, now, DYN_RING_REFRESH_MS) &&
		(!with_keys ||
		 (cl->info.keys_at != 0 &&
		  !TimestampDifferenceExceeds(cl->info.keys_at, now, DYN_KEYS_REFRESH_MS))))
		return &cl->info;
	if (DynFindPrimaryNode(conn, -1) >= 0)
		return DynGetClusterInfo(conn, with_keys);
	return cl->have_info ? &cl->info : NULL;
}

/*
 * Forget what is known of the cluster (the ring changed): the next
 * DynGetClusterInfo asks a node again.
 */
void
DynForgetClusterInfo(DynConn *conn)
{
	DynCluster *cl = DynConnCluster(conn);

	cl->have_info = false;
	cl->info.keys_at = 0;
}

/*
 * Forget the cached key count: this backend is writing, so the planner's
 * next estimate asks the nodes again.
 */
void
DynForgetKeyCount(DynConn *conn)
{
	DynCluster *cl = DynConnCluster(conn);

	cl->info.keys_at = 0;
}

/*
 * Ask the primary for STATUS and RING (pipelined).  A node that does not
 * answer RING is taken as a cluster of one: a ring with itself as the only
 * member, built from its STATUS.  A primary that fails meanwhile is
 * replaced and asked again.
 */
static void
cluster_refresh_info(DynConn *conn, DynCluster *cl)
{
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "dynamo_fdw status",
											  ALLOCSET_SMALL_SIZES);
	DynRequest	status;
	DynRequest	ring;
	int			attempts = 0;
	int			node;

	for (;;)
	{
		node = DynPrimaryNode(conn, -1);
		DynInitRequest(&status, tmp);
		DynInitRequest(&ring, tmp);
		DynSendStatus(conn, node, &status);
		DynSendRing(conn, node, &ring);
		DynAwait(conn, &status);
		DynAwait(conn, &ring);
		if (!status.failed && !ring.failed)
			break;
		if ((status.failed && status.fail_code != 0) || ++attempts > DynConnNodeCount(conn))
			DynReportFailure(conn, status.failed ? &status : &ring, "status request", NULL,
							 (dyn_slice) {NULL, 0});
		DynForget(conn, &status);
		DynForget(conn, &ring);
	}

	{
		Jsonb	   *js = DynParseStatus(conn, node, &status);
		JsonbContainer *root = &js->root;
		int64		q = 0,
					n = 0,
					r = 0,
					w = 0;
		dyn_routing rt;
		bool		from_node = false;

		if (!DynJsonInt(root, "partitions", &q) || !DynJsonInt(root, "n", &n))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("node %s of server \"%s\" sent a status without partitions or n",
							DynNodeAddress(conn, node), DynConnServerName(conn))));
		(void) DynJsonInt(root, "default_r", &r);
		(void) DynJsonInt(root, "default_w", &w);
		dyn_routing_init(&rt);
		if (ring.reply_type == DYN_MSG_RING_REPLY &&
			dyn_routing_decode((dyn_slice) {ring.body, ring.len}, &rt) == DYN_OK &&
			rt.ring.nmembers > 0)
			from_node = true;
		else
		{
			/* a cluster of one: the node itself owns every partition */
			char	   *id = DynJsonText(root, "id");
			char	   *zone = DynJsonText(root, "zone");

			dyn_routing_free(&rt);
			dyn_routing_init(&rt);
			if (id == NULL ||
				dyn_ring_init(&rt.ring, (uint32) q, (uint32) Max(n, 1)) != DYN_OK ||
				dyn_ring_add_member(&rt.ring, dyn_slice_str(id),
									dyn_slice_str(DynNodeAddress(conn, node)),
									dyn_slice_str(zone ? zone : "")) != DYN_OK ||
				(rt.up = malloc(sizeof(bool))) == NULL)
			{
				dyn_routing_free(&rt);
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("could not make a ring from the status of node %s",
								DynNodeAddress(conn, node))));
			}
			rt.up[0] = true;
		}
		dyn_routing_free(&cl->info.rt);
		cl->info.rt = rt;
		cl->info.q = rt.ring.q;
		cl->info.n = (int) rt.ring.n;
		cl->info.default_r = (int) r;
		cl->info.default_w = (int) w;
		cl->info.ring_from_node = from_node;
		cl->info.fetched_at = GetCurrentTimestamp();
		cl->have_info = true;
		cluster_map_members(conn, cl);
	}
	DynForget(conn, &status);
	DynForget(conn, &ring);
	MemoryContextDelete(tmp);
}

/* Map each ring member to a node (by address), adding nodes as needed. */
static void
cluster_map_members(DynConn *conn, DynCluster *cl)
{
	const dyn_ring *ring = &cl->info.rt.ring;

	if (cl->member_node)
		pfree(cl->member_node);
	cl->member_node = MemoryContextAlloc(cl->cxt, sizeof(int) * Max(ring->nmembers, 1));
	cl->nmember_node = (int) ring->nmembers;
	for (uint32 i = 0; i < ring->nmembers; i++)
		cl->member_node[i] = DynNodeAdd(conn, ring->members[i].address);
}

/*
 * Ask every ring member that is up for its STATUS (pipelined) and estimate
 * the distinct keys as the sum of their key counts over N.  Members that
 * cannot be reached are left out; none at all leaves the estimate unknown.
 */
static void
cluster_refresh_keys(DynConn *conn, DynCluster *cl)
{
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "dynamo_fdw keys",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);
	int			nm = cl->nmember_node;
	DynRequest *reqs = palloc0(sizeof(DynRequest) * Max(nm, 1));
	double		total = 0;
	int			answered = 0;

	for (int m = 0; m < nm; m++)
	{
		int			node = cl->member_node[m];

		DynInitRequest(&reqs[m], tmp);
		if (!cl->info.rt.up[m] || !DynNodeUsable(conn, node))
		{
			reqs[m].done = true;
			reqs[m].failed = true;
			continue;
		}
		DynSendStatus(conn, node, &reqs[m]);
	}
	for (int m = 0; m < nm; m++)
	{
		int64		keys;

		DynAwait(conn, &reqs[m]);
		if (reqs[m].failed || reqs[m].reply_type != DYN_MSG_STATUS_REPLY)
			continue;
		if (DynJsonInt(&DynParseStatus(conn, cl->member_node[m], &reqs[m])->root,
					   "keys", &keys))
		{
			total += (double) keys;
			answered++;
		}
	}
	for (int m = 0; m < nm; m++)
		DynForget(conn, &reqs[m]);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
	cl->info.keys = answered > 0 ? total / Max(Min(cl->info.n, nm), 1) : -1;
	cl->info.keys_at = GetCurrentTimestamp();
}

/*
 * The node a request for bucket/key goes to.  routing 'preflist': the
 * first of the key's owners that the cluster says is up, that we have not
 * seen fail lately, and that connects; routing 'any', or when no owner
 * will do: the primary (which forwards as needed).
 */
int
DynNodeForKey(DynConn *conn, const char *bucket, dyn_slice key)
{
	return DynNodeForKeyAvoiding(conn, bucket, key, -1);
}

/*
 * The same, never choosing node avoid (the node a read just failed on);
 * -1 when no other node can be reached.
 */
int
DynNodeForKeyAvoiding(DynConn *conn, const char *bucket, dyn_slice key, int avoid)
{
	DynRouteProbe probe;
	int			m;

	if (DynConnOptions(conn)->routing == DYN_ROUTE_ANY)
		return DynPrimaryNode(conn, avoid);
	probe.conn = conn;
	probe.cl = DynConnCluster(conn);
	probe.avoid = avoid;
	probe.now = GetCurrentTimestamp();
	m = dyn_routing_coordinator_usable(&DynGetClusterInfo(conn, false)->rt,
									   dyn_slice_str(bucket), key, member_usable, &probe);
	if (m >= 0)
		return probe.cl->member_node[m];
	return DynPrimaryNode(conn, avoid);
}

/*
 * Whether this connection can send a key's request to ring member member
 * (dyn_routing_usable_fn): it is one of its nodes, not the one to avoid,
 * not seen failing lately, and connects.  Connecting may raise an error
 * (a cancel): libdynamo's routing holds nothing that would leak.
 */
static bool
member_usable(void *arg, int member)
{
	DynRouteProbe *p = arg;
	int			node;

	if (member >= p->cl->nmember_node)
		return false;
	node = p->cl->member_node[member];
	return node != p->avoid && !DynNodeFailedLately(p->conn, node, p->now) &&
		DynNodeUsable(p->conn, node);
}

/*
 * The node to read partition from in a coverage scan: the first of the
 * partition's N replicas that is up and connects (those that failed
 * lately, as a last resort), never one of the navoid nodes avoid lists
 * (those the scan reads the partition from already, and the one a page
 * just failed on).  *member is set to its ring member index.  -1 when no
 * replica can be reached.
 */
int
DynNodeForPartition(DynConn *conn, uint32 partition, const int *avoid, int navoid,
					int *member)
{
	const DynClusterInfo *info = DynGetClusterInfo(conn, false);
	DynCluster *cl = DynConnCluster(conn);
	uint32		pref[DYN_RING_MEMBERS_MAX];
	int			count = dyn_ring_preflist(&info->rt.ring, partition, pref, lengthof(pref));
	int			replicas = Min(count, (int) info->rt.ring.n);
	TimestampTz now = GetCurrentTimestamp();

	for (int pass = 0; pass < 2; pass++)
	{
		for (int i = 0; i < replicas; i++)
		{
			int			m = (int) pref[i];
			int			node;

			if (m >= cl->nmember_node)
				continue;
			node = cl->member_node[m];
			for (int a = 0; a < navoid && node >= 0; a++)
				if (avoid[a] == node)
					node = -1;
			if (node < 0)
				continue;
			/* first pass: healthy ones; second: the rest, as a last resort */
			if ((pass == 0) != (info->rt.up[m] && !DynNodeFailedLately(conn, node, now)))
				continue;
			if (DynNodeUsable(conn, node))
			{
				*member = m;
				return node;
			}
		}
	}
	return -1;
}

/* The node of ring member m (connected or not). */
int
DynNodeForMember(DynConn *conn, int member)
{
	DynCluster *cl = DynConnCluster(conn);

	(void) DynGetClusterInfo(conn, false);
	if (member < 0 || member >= cl->nmember_node)
		return -1;
	return cl->member_node[member];
}

/* The ring member a node is, or -1. */
int
DynNodeMember(DynConn *conn, int node)
{
	DynCluster *cl = DynConnCluster(conn);

	for (int m = 0; m < cl->nmember_node; m++)
		if (cl->member_node[m] == node)
			return m;
	return -1;
}
