/*-------------------------------------------------------------------------
 *
 * admin.c
 *		  Administration from SQL: set-returning functions that show a
 *		  dynamo_fdw server's cluster as the nodes describe it.
 *
 *		dynamo_nodes(server)				one row per member
 *		dynamo_ring(server)					one row per partition
 *		dynamo_preflist(server, bucket, key)	one row per node, in order
 *		dynamo_hints(server)				hints each node keeps, per target
 *		dynamo_stats(server)				request counts (and latencies) per node
 *		dynamo_repair(server)				an anti-entropy round on each node
 *		dynamo_remove_node(server, id)		a member leaves; waits for the handoff
 *
 * Everything comes from the cluster, never from the catalog: the ring and
 * each member's health from a RING request (or, for a node that does not
 * answer RING, a ring of that node alone), everything else from each
 * member's STATUS, asked of all members at once.  A member that cannot be
 * reached still has its row, with NULL where only it could tell; a field a
 * node does not report yet (latencies) is NULL too.
 *
 * The last two change the cluster and need a key with role admin on the
 * nodes (REPAIR and REMOVE requests).  Their waits have no reply deadline
 * -- a repair round compares every partition and may take minutes, a
 * handoff moves data -- and, like every wait of the FDW, end on a cancel
 * or statement_timeout.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "pgstat.h"
#include "storage/latch.h"

#include "dynamo_fdw.h"
#include "dynamo/ring.h"

PG_FUNCTION_INFO_V1(dynamo_nodes);
PG_FUNCTION_INFO_V1(dynamo_ring);
PG_FUNCTION_INFO_V1(dynamo_preflist);
PG_FUNCTION_INFO_V1(dynamo_hints);
PG_FUNCTION_INFO_V1(dynamo_stats);
PG_FUNCTION_INFO_V1(dynamo_repair);
PG_FUNCTION_INFO_V1(dynamo_remove_node);

/* How often dynamo_remove_node asks for the ring while the node leaves. */
#define DYN_REMOVE_POLL_MS	200

/* Each ring member's STATUS (NULL: could not be asked or did not answer). */
typedef struct MemberStatus
{
	int			nmembers;
	Jsonb	  **status;
	char	  **error;			/* why not, when status is NULL */
} MemberStatus;

static DynConn *admin_connection(text *servername);
static void member_statuses(DynConn *conn, const DynClusterInfo *info, MemberStatus *ms);
static char *member_id(const dyn_ring_member *m);
static JsonbContainer *member_entry(JsonbContainer *status, const char *id);
static Datum numeric_from_uint64(uint64 v);
static text *admin_arg(FunctionCallInfo fcinfo, int arg, const char *what);
static void admin_refused(DynConn *conn, DynRequest *req, const char *what,
						  const char *node_id) pg_attribute_noreturn();
static Jsonb *admin_reply_json(DynConn *conn, DynRequest *req, uint8 expected,
							   const char *what, const char *node_id);
static int	ring_find_member(const dyn_ring *ring, const char *id);

/*
 * The connection for a server named by the caller, who needs USAGE on it
 * and a user mapping; the server must be a dynamo_fdw one.
 */
static DynConn *
admin_connection(text *servername)
{
	char	   *name = text_to_cstring(servername);
	ForeignServer *server = GetForeignServerByName(name, false);
	ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);
	AclResult	aclresult;
	char	   *handler = OidIsValid(fdw->fdwhandler) ? get_func_name(fdw->fdwhandler) : NULL;

	if (handler == NULL || strcmp(handler, "dynamo_fdw_handler") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" is not a dynamo_fdw server", name)));
	aclresult = pg_foreign_server_aclcheck(server->serverid, GetUserId(), ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, server->servername);
	return DynGetConnection(server, GetUserMapping(GetUserId(), server->serverid));
}

/* A ring member's id as a C string. */
static char *
member_id(const dyn_ring_member *m)
{
	return pnstrdup(m->id, m->idlen);
}

/* Ask every ring member for its STATUS, pipelined; wait for all. */
static void
member_statuses(DynConn *conn, const DynClusterInfo *info, MemberStatus *ms)
{
	int			n = (int) info->rt.ring.nmembers;
	DynRequest *reqs = palloc0(sizeof(DynRequest) * Max(n, 1));
	int		   *nodes = palloc(sizeof(int) * Max(n, 1));

	ms->nmembers = n;
	ms->status = palloc0(sizeof(Jsonb *) * Max(n, 1));
	ms->error = palloc0(sizeof(char *) * Max(n, 1));
	for (int m = 0; m < n; m++)
	{
		nodes[m] = DynNodeForMember(conn, m);
		DynInitRequest(&reqs[m], CurrentMemoryContext);
		DynSendStatus(conn, nodes[m], &reqs[m]);
	}
	for (int m = 0; m < n; m++)
	{
		DynAwait(conn, &reqs[m]);
		if (reqs[m].failed)
			ms->error[m] = reqs[m].errmsg ? pstrdup(reqs[m].errmsg) : "no reply";
		else if (reqs[m].reply_type != DYN_MSG_STATUS_REPLY)
			ms->error[m] = "the node refused the status request";
		else
			ms->status[m] = DynParseStatus(conn, nodes[m], &reqs[m]);
		DynForget(conn, &reqs[m]);
	}
}

/* The entry for member id in a STATUS's "members" array, or NULL. */
static JsonbContainer *
member_entry(JsonbContainer *status, const char *id)
{
	JsonbContainer *members = DynJsonContainer(status, "members");
	uint32		n;

	if (members == NULL || !JsonContainerIsArray(members))
		return NULL;
	n = JsonContainerSize(members);
	for (uint32 i = 0; i < n; i++)
	{
		JsonbValue *v = getIthJsonbValueFromContainer(members, i);
		char	   *mid;

		if (v == NULL || v->type != jbvBinary)
			continue;
		mid = DynJsonText(v->val.binary.data, "id");
		if (mid != NULL && strcmp(mid, id) == 0)
			return v->val.binary.data;
	}
	return NULL;
}

/* A uint64 as numeric (ring positions do not fit bigint). */
static Datum
numeric_from_uint64(uint64 v)
{
	char		buf[32];

	snprintf(buf, sizeof(buf), UINT64_FORMAT, v);
	return DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

/*
 * dynamo_nodes(server): id, address, zone, status (the verdict of the node
 * we asked: up or down), partitions owned, keys stored, hints pending for
 * others, and the last heartbeat counter seen from it.
 */
Datum
dynamo_nodes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DynConn    *conn;
	const DynClusterInfo *info;
	MemberStatus ms;
	JsonbContainer *view = NULL;

	InitMaterializedSRF(fcinfo, 0);
	conn = admin_connection(PG_GETARG_TEXT_PP(0));
	info = DynGetClusterInfo(conn, false);
	member_statuses(conn, info, &ms);
	/* the first node that answered says how it sees the others */
	for (int m = 0; m < ms.nmembers && view == NULL; m++)
		if (ms.status[m] != NULL)
			view = &ms.status[m]->root;

	for (int m = 0; m < ms.nmembers; m++)
	{
		const dyn_ring_member *rm = &info->rt.ring.members[m];
		char	   *id = member_id(rm);
		JsonbContainer *entry = view ? member_entry(view, id) : NULL;
		JsonbContainer *own = ms.status[m] ? &ms.status[m]->root : NULL;
		JsonbContainer *hints = own ? DynJsonContainer(own, "hints") : NULL;
		Datum		values[8];
		bool		nulls[8] = {0};
		int64		v;
		char	   *status = entry ? DynJsonText(entry, "status") : NULL;

		values[0] = CStringGetTextDatum(id);
		values[1] = CStringGetTextDatum(rm->address);
		values[2] = CStringGetTextDatum(rm->zone);
		values[3] = CStringGetTextDatum(status ? status : info->rt.up[m] ? "up" : "down");
		values[4] = Int32GetDatum((int32) rm->owned);
		if (own && DynJsonInt(own, "keys", &v))
			values[5] = Int64GetDatum(v);
		else
			nulls[5] = true;
		if (hints && DynJsonInt(hints, "pending_total", &v))
			values[6] = Int64GetDatum(v);
		else
			nulls[6] = true;
		if (entry && DynJsonInt(entry, "heartbeat", &v))
			values[7] = Int64GetDatum(v);
		else
			nulls[7] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	DynReleaseConnection(conn);
	PG_RETURN_VOID();
}

/*
 * dynamo_ring(server): each partition, the first ring position it covers
 * (partition * 2^64 / Q), and its owners in preference order (the N
 * replicas of its keys).
 */
Datum
dynamo_ring(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DynConn    *conn;
	const DynClusterInfo *info;
	const dyn_ring *ring;
	uint32	   *pref;
	int			shift = 0;

	InitMaterializedSRF(fcinfo, 0);
	conn = admin_connection(PG_GETARG_TEXT_PP(0));
	info = DynGetClusterInfo(conn, false);
	ring = &info->rt.ring;
	pref = palloc(sizeof(uint32) * Max(ring->nmembers, 1));
	while ((1u << shift) < ring->q)
		shift++;
	for (uint32 p = 0; p < ring->q; p++)
	{
		int			count = dyn_ring_preflist(ring, p, pref, ring->nmembers);
		int			replicas = Min(count, (int) ring->n);
		Datum	   *owners = palloc(sizeof(Datum) * Max(replicas, 1));
		Datum		values[3];
		bool		nulls[3] = {0};

		for (int i = 0; i < replicas; i++)
			owners[i] = CStringGetTextDatum(member_id(&ring->members[pref[i]]));
		values[0] = Int32GetDatum((int32) p);
		values[1] = numeric_from_uint64(shift == 0 ? 0 : (uint64) p << (64 - shift));
		values[2] = PointerGetDatum(construct_array(owners, replicas, TEXTOID, -1, false,
													TYPALIGN_INT));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	DynReleaseConnection(conn);
	PG_RETURN_VOID();
}

/*
 * dynamo_preflist(server, bucket, key): the key's partition and its
 * extended preference list -- the N replicas, then the stand-ins a sloppy
 * quorum would use -- with each node's health.
 */
Datum
dynamo_preflist(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DynConn    *conn;
	const DynClusterInfo *info;
	const dyn_ring *ring;
	text	   *bucket = PG_GETARG_TEXT_PP(1);
	text	   *key = PG_GETARG_TEXT_PP(2);
	dyn_slice	b;
	dyn_slice	k;
	uint32	   *pref;
	int			count;
	uint32		partition;

	InitMaterializedSRF(fcinfo, 0);
	conn = admin_connection(PG_GETARG_TEXT_PP(0));
	info = DynGetClusterInfo(conn, false);
	ring = &info->rt.ring;
	b = (dyn_slice) {(const uint8_t *) VARDATA_ANY(bucket), VARSIZE_ANY_EXHDR(bucket)};
	k = (dyn_slice) {(const uint8_t *) VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key)};
	partition = dyn_partition_of(dyn_key_position(b, k), ring->q);
	pref = palloc(sizeof(uint32) * Max(ring->nmembers, 1));
	count = dyn_ring_preflist(ring, partition, pref, ring->nmembers);
	for (int i = 0; i < count; i++)
	{
		const dyn_ring_member *m = &ring->members[pref[i]];
		Datum		values[7];
		bool		nulls[7] = {0};

		values[0] = Int32GetDatum(i + 1);
		values[1] = CStringGetTextDatum(member_id(m));
		values[2] = CStringGetTextDatum(m->address);
		values[3] = CStringGetTextDatum(m->zone);
		values[4] = CStringGetTextDatum(info->rt.up[pref[i]] ? "up" : "down");
		values[5] = BoolGetDatum(i < (int) ring->n);
		values[6] = Int32GetDatum((int32) partition);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	DynReleaseConnection(conn);
	PG_RETURN_VOID();
}

/*
 * dynamo_hints(server): for each node, the hints it keeps for each node
 * they are meant for (what hinted handoff will deliver when that node is
 * back).  A node that cannot be reached has one row with NULL target.
 */
Datum
dynamo_hints(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DynConn    *conn;
	const DynClusterInfo *info;
	MemberStatus ms;

	InitMaterializedSRF(fcinfo, 0);
	conn = admin_connection(PG_GETARG_TEXT_PP(0));
	info = DynGetClusterInfo(conn, false);
	member_statuses(conn, info, &ms);
	for (int m = 0; m < ms.nmembers; m++)
	{
		char	   *id = member_id(&info->rt.ring.members[m]);
		JsonbContainer *hints = ms.status[m] ? DynJsonContainer(&ms.status[m]->root, "hints")
			: NULL;
		JsonbContainer *pending = hints ? DynJsonContainer(hints, "pending") : NULL;
		Datum		values[3];
		bool		nulls[3] = {0};

		values[0] = CStringGetTextDatum(id);
		if (pending == NULL || !JsonContainerIsObject(pending))
		{
			if (ms.status[m] == NULL)
			{
				nulls[1] = nulls[2] = true;
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			}
			continue;
		}
		{
			JsonbIterator *it = JsonbIteratorInit(pending);
			JsonbValue	v;
			JsonbIteratorToken tok;
			char	   *target = NULL;

			while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			{
				if (tok == WJB_KEY)
					target = pnstrdup(v.val.string.val, v.val.string.len);
				else if (tok == WJB_VALUE && target != NULL && v.type == jbvNumeric)
				{
					values[1] = CStringGetTextDatum(target);
					values[2] = DirectFunctionCall1(numeric_int8,
													NumericGetDatum(v.val.numeric));
					tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
					target = NULL;
				}
			}
		}
	}
	DynReleaseConnection(conn);
	PG_RETURN_VOID();
}

/*
 * dynamo_stats(server): per node and operation, the requests the node has
 * served (STATUS's "requests" counters), and the p50/p99 latencies in ms
 * where the node reports them ("latency_ms": {op: {"p50": x, "p99": y}});
 * NULL where it does not.
 */
Datum
dynamo_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DynConn    *conn;
	const DynClusterInfo *info;
	MemberStatus ms;

	InitMaterializedSRF(fcinfo, 0);
	conn = admin_connection(PG_GETARG_TEXT_PP(0));
	info = DynGetClusterInfo(conn, false);
	member_statuses(conn, info, &ms);
	for (int m = 0; m < ms.nmembers; m++)
	{
		char	   *id = member_id(&info->rt.ring.members[m]);
		JsonbContainer *requests;
		JsonbContainer *latency;
		JsonbIterator *it;
		JsonbValue	v;
		JsonbIteratorToken tok;
		char	   *op = NULL;

		if (ms.status[m] == NULL)
			continue;
		requests = DynJsonContainer(&ms.status[m]->root, "requests");
		latency = DynJsonContainer(&ms.status[m]->root, "latency_ms");
		if (requests == NULL || !JsonContainerIsObject(requests))
			continue;
		it = JsonbIteratorInit(requests);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
				op = pnstrdup(v.val.string.val, v.val.string.len);
			else if (tok == WJB_VALUE && op != NULL && v.type == jbvNumeric)
			{
				Datum		values[5];
				bool		nulls[5] = {0};
				JsonbContainer *lat = latency ? DynJsonContainer(latency, op) : NULL;
				JsonbValue	q;

				values[0] = CStringGetTextDatum(id);
				values[1] = CStringGetTextDatum(op);
				values[2] = DirectFunctionCall1(numeric_int8, NumericGetDatum(v.val.numeric));
				if (lat && DynJsonGet(lat, "p50", &q) && q.type == jbvNumeric)
					values[3] = DirectFunctionCall1(numeric_float8, NumericGetDatum(q.val.numeric));
				else
					nulls[3] = true;
				if (lat && DynJsonGet(lat, "p99", &q) && q.type == jbvNumeric)
					values[4] = DirectFunctionCall1(numeric_float8, NumericGetDatum(q.val.numeric));
				else
					nulls[4] = true;
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
				op = NULL;
			}
		}
	}
	DynReleaseConnection(conn);
	PG_RETURN_VOID();
}

/*
 * A text argument of a non-strict function, which must not be NULL (what
 * names it in the message).
 */
static text *
admin_arg(FunctionCallInfo fcinfo, int arg, const char *what)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return PG_GETARG_TEXT_PP(arg);
}

/*
 * Raise the error for an administration request that failed or was
 * answered with an error frame.  A key whose role does not allow it is
 * told to use an admin key; the rest is DynReportFailure's.
 */
static void
admin_refused(DynConn *conn, DynRequest *req, const char *what, const char *node_id)
{
	dyn_error_msg em;

	if (!req->failed && req->reply_type == DYN_MSG_ERROR &&
		dyn_error_decode((dyn_slice) {req->body, req->len}, &em) == DYN_OK &&
		em.code == DYN_E_UNAUTHORIZED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("node \"%s\" of server \"%s\" refused the %s",
						node_id, DynConnServerName(conn), what),
				 errdetail("%s", pnstrdup((const char *) em.message.ptr, em.message.len)),
				 errhint("Use a user mapping whose key has role admin in the nodes' trust file."),
				 errcontext("node %s", DynNodeAddress(conn, req->node))));
	DynReportFailure(conn, req, what, NULL, (dyn_slice) {NULL, 0});
}

/*
 * The JSON object of a reply of type expected (REPAIR_REPLY,
 * REMOVE_REPLY: a JSON text like STATUS's); anything else is raised.
 */
static Jsonb *
admin_reply_json(DynConn *conn, DynRequest *req, uint8 expected, const char *what,
				 const char *node_id)
{
	dyn_slice	json;
	char	   *text;
	Jsonb	   *jb;

	if (req->failed || req->reply_type != expected)
		admin_refused(conn, req, what, node_id);
	if (dyn_status_reply_decode((dyn_slice) {req->body, req->len}, &json) != DYN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("node \"%s\" of server \"%s\" sent a malformed reply to the %s",
						node_id, DynConnServerName(conn), what),
				 errcontext("node %s", DynNodeAddress(conn, req->node))));
	text = pnstrdup((const char *) json.ptr, json.len);
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("node \"%s\" of server \"%s\" sent a reply to the %s that is not a JSON object",
						node_id, DynConnServerName(conn), what),
				 errcontext("node %s", DynNodeAddress(conn, req->node))));
	return jb;
}

/* The index of member id in ring, or -1. */
static int
ring_find_member(const dyn_ring *ring, const char *id)
{
	size_t		len = strlen(id);

	for (uint32 m = 0; m < ring->nmembers; m++)
		if (ring->members[m].idlen == len && memcmp(ring->members[m].id, id, len) == 0)
			return (int) m;
	return -1;
}

/*
 * dynamo_repair(server): a full anti-entropy round on every member the
 * ring says is up, one node after another (each compares every partition
 * it holds with the other replicas, then answers): one row per node with
 * what the round did.  A member that is down is skipped with a WARNING; one
 * whose connection fails during its round has a row of NULLs and a
 * WARNING.  No reply deadline: a round takes as long as it takes, and a
 * cancel or statement_timeout ends the wait.
 */
Datum
dynamo_repair(PG_FUNCTION_ARGS)
{
	static const char *const counters[] = {
		"keys_compared", "keys_sent", "keys_received", "bytes_sent",
		"bytes_received", "tombstones_reaped", "ms"
	};
	ReturnSetInfo *rsinfo;
	text	   *servername = admin_arg(fcinfo, 0, "server name");
	DynConn    *conn;
	const DynClusterInfo *info;
	int			nmembers;
	char	  **ids;
	bool	   *up;
	int		   *nodes;

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	conn = admin_connection(servername);
	/* the ring as it is now, not as cached */
	DynForgetClusterInfo(conn);
	info = DynGetClusterInfo(conn, false);
	nmembers = (int) info->rt.ring.nmembers;
	ids = palloc(sizeof(char *) * Max(nmembers, 1));
	up = palloc(sizeof(bool) * Max(nmembers, 1));
	nodes = palloc(sizeof(int) * Max(nmembers, 1));
	/* copied: the cached ring may be refreshed during a long round */
	for (int m = 0; m < nmembers; m++)
	{
		ids[m] = member_id(&info->rt.ring.members[m]);
		up[m] = info->rt.up[m];
		nodes[m] = DynNodeForMember(conn, m);
	}

	for (int m = 0; m < nmembers; m++)
	{
		DynRequest	req;
		Datum		values[11];
		bool		nulls[11] = {0};
		int			node;

		if (!up[m])
		{
			ereport(WARNING,
					(errmsg("node \"%s\" of server \"%s\" is down and was not repaired",
							ids[m], DynConnServerName(conn))));
			continue;
		}
		node = nodes[m];
		DynInitRequest(&req, CurrentMemoryContext);
		DynSendFrame(conn, node, &req, DYN_MSG_REPAIR,
					 (dyn_slice) {(const uint8_t *) "", 0}, true);
		DynAwait(conn, &req);
		values[0] = CStringGetTextDatum(ids[m]);
		if (req.failed && req.fail_code == 0)
		{
			/* the node went away: say so, and go on with the others */
			ereport(WARNING,
					(errmsg("could not repair node \"%s\" of server \"%s\"",
							ids[m], DynConnServerName(conn)),
					 errdetail("%s", req.errmsg ? req.errmsg : "no reply"),
					 errcontext("node %s", DynNodeAddress(conn, node))));
			for (int i = 1; i < 11; i++)
				nulls[i] = true;
		}
		else
		{
			JsonbContainer *r = &admin_reply_json(conn, &req, DYN_MSG_REPAIR_REPLY,
												  "repair request", ids[m])->root;
			char	   *reported = DynJsonText(r, "node");
			int64		v;

			if (reported != NULL)
				values[0] = CStringGetTextDatum(reported);
			nulls[1] = !DynJsonInt(r, "partitions", &v);
			values[1] = Int32GetDatum((int32) (nulls[1] ? 0 : v));
			nulls[2] = !DynJsonInt(r, "exchanges", &v);
			values[2] = Int32GetDatum((int32) (nulls[2] ? 0 : v));
			nulls[3] = !DynJsonInt(r, "failed", &v);
			values[3] = Int32GetDatum((int32) (nulls[3] ? 0 : v));
			for (int i = 0; i < lengthof(counters); i++)
			{
				nulls[4 + i] = !DynJsonInt(r, counters[i], &v);
				values[4 + i] = Int64GetDatum(nulls[4 + i] ? 0 : v);
			}
		}
		DynForget(conn, &req);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	DynReleaseConnection(conn);
	PG_RETURN_VOID();
}

/*
 * dynamo_remove_node(server, id): member id leaves the ring.  A REMOVE
 * goes to another member that is up (to id itself only when no other is),
 * which plans the leave and answers at once with the partitions to move;
 * the handoff then runs in the background, and this function waits --
 * asking that node for the ring every DYN_REMOVE_POLL_MS, interruptibly --
 * until the ring no longer lists id.  One row: the node, the partitions it
 * handed off, and how long it took in ms.
 */
Datum
dynamo_remove_node(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo;
	text	   *servername = admin_arg(fcinfo, 0, "server name");
	char	   *id = text_to_cstring(admin_arg(fcinfo, 1, "node id"));
	DynConn    *conn;
	const DynClusterInfo *info;
	const dyn_ring *ring;
	int			target;
	int		   *cand;			/* nodes to ask, in order */
	char	  **cand_id;		/* and their ids */
	int			ncand = 0;
	int			asked = -1;		/* index into cand of the node that answered */
	DynRequest	req;
	JsonbContainer *reply;
	int64		partitions;
	TimestampTz start;
	Datum		values[3];
	bool		nulls[3] = {0};
	uint8		body[1 + DYN_NODE_ID_MAX];
	size_t		idlen = strlen(id);

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	conn = admin_connection(servername);
	DynForgetClusterInfo(conn);
	info = DynGetClusterInfo(conn, false);
	ring = &info->rt.ring;
	target = ring_find_member(ring, id);
	if (target < 0)
	{
		StringInfoData members;

		initStringInfo(&members);
		for (uint32 m = 0; m < ring->nmembers; m++)
			appendStringInfo(&members, "%s%s", m ? ", " : "", member_id(&ring->members[m]));
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("node \"%s\" is not a member of the ring of server \"%s\"",
						id, DynConnServerName(conn)),
				 errdetail("The members are: %s.", members.data)));
	}

	/* the other members that are up, then the node itself */
	cand = palloc(sizeof(int) * (ring->nmembers + 1));
	cand_id = palloc(sizeof(char *) * (ring->nmembers + 1));
	for (uint32 m = 0; m < ring->nmembers; m++)
		if ((int) m != target && info->rt.up[m])
		{
			cand_id[ncand] = member_id(&ring->members[m]);
			cand[ncand++] = DynNodeForMember(conn, (int) m);
		}
	cand_id[ncand] = id;
	cand[ncand++] = DynNodeForMember(conn, target);
	ring = NULL;				/* DynNodeForMember may refresh the cached ring */

	body[0] = (uint8) idlen;
	memcpy(body + 1, id, idlen);	/* a member's id: 1 .. DYN_NODE_ID_MAX bytes */
	start = GetCurrentTimestamp();
	for (int i = 0; i < ncand; i++)
	{
		DynInitRequest(&req, CurrentMemoryContext);
		DynSendFrame(conn, cand[i], &req, DYN_MSG_REMOVE,
					 (dyn_slice) {body, 1 + idlen}, false);
		DynAwait(conn, &req);
		asked = i;
		/* a node that cannot be reached: the next one */
		if (!(req.failed && req.fail_code == 0) || i == ncand - 1)
			break;
		DynForget(conn, &req);
	}
	if (!req.failed && req.reply_type == DYN_MSG_ERROR)
	{
		dyn_error_msg em;

		if (dyn_error_decode((dyn_slice) {req.body, req.len}, &em) == DYN_OK &&
			em.code == DYN_E_INVAL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot remove node \"%s\" from the ring of server \"%s\"",
							id, DynConnServerName(conn)),
					 errdetail("%s", pnstrdup((const char *) em.message.ptr, em.message.len)),
					 errcontext("node %s", DynNodeAddress(conn, req.node))));
	}
	reply = &admin_reply_json(conn, &req, DYN_MSG_REMOVE_REPLY, "remove request",
							  cand_id[asked])->root;
	if (!DynJsonInt(reply, "partitions", &partitions))
		nulls[1] = true;
	DynForget(conn, &req);

	/* wait for the handoff: until the ring no longer lists id */
	for (;;)
	{
		DynRequest	rr;
		dyn_routing rt;
		bool		listed;
		int			rc;

		DynInitRequest(&rr, CurrentMemoryContext);
		DynSendRing(conn, cand[asked], &rr);
		DynAwait(conn, &rr);
		if (rr.failed && rr.fail_code == 0 && asked < ncand - 1)
		{
			/* that node went away: ask the next one */
			DynForget(conn, &rr);
			asked++;
			continue;
		}
		if (rr.failed || rr.reply_type != DYN_MSG_RING_REPLY)
			DynReportFailure(conn, &rr, "ring request", NULL, (dyn_slice) {NULL, 0});
		dyn_routing_init(&rt);
		if (dyn_routing_decode((dyn_slice) {rr.body, rr.len}, &rt) != DYN_OK)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("a node of server \"%s\" sent a malformed ring",
							DynConnServerName(conn)),
					 errcontext("node %s", DynNodeAddress(conn, cand[asked]))));
		listed = ring_find_member(&rt.ring, id) >= 0;
		dyn_routing_free(&rt);
		DynForget(conn, &rr);
		if (!listed)
			break;
		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   DYN_REMOVE_POLL_MS, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
			ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	/* the next call asks for the ring again */
	DynForgetClusterInfo(conn);

	values[0] = CStringGetTextDatum(id);
	values[1] = Int32GetDatum((int32) (nulls[1] ? 0 : partitions));
	values[2] = Int64GetDatum(TimestampDifferenceMilliseconds(start, GetCurrentTimestamp()));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	DynReleaseConnection(conn);
	PG_RETURN_VOID();
}
