/*-------------------------------------------------------------------------
 *
 * connection.c
 *		  Connection management for dynamo_fdw: a cache of connections per
 *		  user mapping, the nodes each one talks to, requests and their
 *		  replies, every network wait, and errors that name the node.
 *
 * A DynConn lives for the life of the backend (like postgres_fdw's
 * ConnCacheEntry), keyed by user mapping; it is rebuilt when the server or
 * the user mapping changes (syscache invalidation) and closed on DROP
 * SERVER.  It holds one libdynamo client per node it has talked to, made
 * on first use: with routing 'preflist' each key goes to the first healthy
 * owner of its key, so a statement may use every node; with 'any' point
 * requests go to the first reachable node of the nodes option (the
 * primary).  What the connection knows of the ring, and which node a
 * request goes to, is cluster.c's; it asks here whether a node is usable.
 *
 * Requests are pipelined: DynSend* queues a request on a node's client and
 * registers it by request id; DynAwait flushes every node's queue and waits
 * -- always with WaitLatchOrSocket (one node) or a WaitEventSet (several),
 * so a cancel or statement_timeout interrupts any wait -- popping replies
 * as they come and handing each to the request it answers, whatever scan
 * or modify owns it.  A reply whose request was forgotten (a scan ended
 * early) is dropped.  A node that fails or does not answer within the
 * timeout has its connection closed and its requests failed; their owners
 * decide whether to retry elsewhere (reads) or to report (writes).
 *
 * Async scans (scan.c) wait in the executor's own WaitEventSet instead:
 * they flush (DynFlush), name a node's socket (DynNodeSocket) and, woken,
 * take what has arrived (DynPoll).  The planner and plain EXPLAIN ask for
 * the cluster's shape only when a node answers (DynTryClusterInfo).
 *
 * The transaction's queued writes are xact.c's (it holds the connections
 * they go through until the transaction ends); here, at abort, node
 * connections with requests still in flight are closed, so a later
 * statement never waits behind a reply nobody wants.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_user_mapping.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "dynamo_fdw.h"
#include "dynamo/identity.h"
#include "dynamo/keytext.h"

/* How long a node that failed is avoided when another can serve. */
#define DYN_NODE_DOWN_MS		5000
/* How long one wait lasts for a request without a deadline (it loops). */
#define DYN_UNBOUNDED_WAIT_MS	60000

/* A registered request: what a reply id maps to (see DynSend*). */
typedef struct DynPending
{
	uint32		reqid;			/* hash key */
	DynRequest *req;
	int			nest_level;		/* for subtransaction abort (never deref req then) */
} DynPending;

/*
 * One node the connection talks to: its address, its client (NULL until
 * first use or after a failure), and the requests in flight on it.  The
 * generation changes whenever the client is replaced, so a request can
 * tell that the connection it went out on is gone.
 */
typedef struct DynNode
{
	char	   *addr;
	dyn_client *client;
	uint64		generation;
	HTAB	   *pending;
	TimestampTz down_until;		/* avoid until then (0: healthy) */
	char	   *last_error;
	bool		auth_failed;	/* the last failure was an authentication failure */
} DynNode;

/*
 * A connection to one cluster for one user mapping, cached for the life of
 * the backend: the options it was made with, the identity and trust it
 * authenticates with, its nodes, and what it knows of the cluster.
 */
struct DynConn
{
	Oid			umid;
	Oid			serverid;
	char	   *servername;
	MemoryContext cxt;			/* everything below that is palloc'd */
	DynServerOptions *opts;
	bool		secure;
	dyn_identity identity;
	dyn_trust	trust;
	DynNode    *nodes;
	int			nnodes;
	int			capnodes;
	int			primary;		/* node used for routing 'any' and STATUS, -1 */
	int			nusers;			/* scans and modifies holding it */
	bool		keep;			/* server option keep_connections: kept after the transaction */
	bool		invalidated;
	uint32		server_hashvalue;
	uint32		mapping_hashvalue;
	DynCluster *cluster;		/* what it knows of the ring (cluster.c) */
};

/* Hash entry of the connection cache. */
typedef struct DynConnEntry
{
	Oid			umid;			/* hash key */
	DynConn    *conn;
} DynConnEntry;

static HTAB *ConnectionHash = NULL;

static DynConn *conn_create(ForeignServer *server, UserMapping *user);
static void conn_discard(DynConn *conn);
static void conn_inval_callback(Datum arg, int cacheid, uint32 hashvalue);
static void conn_xact_callback(XactEvent event, void *arg);
static void conn_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								  SubTransactionId parentSubid, void *arg);
static void conn_abandon(DynConn *conn, int nest_level);
static bool node_connect(DynConn *conn, int node);
static void node_close(DynConn *conn, int node);
static void node_reset(DynConn *conn, int node, const char *why, uint16 code,
					   bool mark_down);
static void node_fail(DynConn *conn, int node, const char *why, uint16 code);
static void node_pump(DynConn *conn, int node, int ready);
static void node_dispatch(DynConn *conn, int node);
static void conn_wait(DynConn *conn, long timeout_ms);
static void conn_flush_all(DynConn *conn);
static bool conn_close_server(Oid serverid);
static void conn_report_unreachable(DynConn *conn) pg_attribute_noreturn();
static int	conn_timeout_ms(DynConn *conn);
static void request_register(DynConn *conn, int node, DynRequest *req, uint32 reqid);
static void request_fail(DynRequest *req, const char *why, uint16 code);

PG_FUNCTION_INFO_V1(dynamo_fdw_get_connections);
PG_FUNCTION_INFO_V1(dynamo_fdw_disconnect);
PG_FUNCTION_INFO_V1(dynamo_fdw_disconnect_all);

/*
 * Set up the cache and the callbacks that keep it right; called from
 * _PG_init.
 */
void
DynInitConnections(void)
{
	HASHCTL		ctl;

	if (ConnectionHash != NULL)
		return;
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(DynConnEntry);
	ConnectionHash = hash_create("dynamo_fdw connections", 8, &ctl,
								 HASH_ELEM | HASH_BLOBS);
	RegisterXactCallback(conn_xact_callback, NULL);
	RegisterSubXactCallback(conn_subxact_callback, NULL);
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, conn_inval_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(USERMAPPINGOID, conn_inval_callback, (Datum) 0);
}

/*
 * The connection for this server and user mapping, made if needed (nodes
 * are connected on first use, not here).  The caller holds it until
 * DynReleaseConnection; a held connection is never freed under it, even
 * when invalidated.
 */
DynConn *
DynGetConnection(ForeignServer *server, UserMapping *user)
{
	DynConnEntry *entry;
	bool		found;

	DynInitConnections();
	entry = hash_search(ConnectionHash, &user->umid, HASH_ENTER, &found);
	if (!found)
		entry->conn = NULL;
	if (entry->conn != NULL && entry->conn->invalidated && entry->conn->nusers == 0)
	{
		conn_discard(entry->conn);
		entry->conn = NULL;
	}
	if (entry->conn == NULL)
		entry->conn = conn_create(server, user);
	entry->conn->nusers++;
	return entry->conn;
}

/*
 * Hold a connection the caller already has once more (the write queue
 * keeps its connections until the transaction ends).  Returns conn.
 */
DynConn *
DynHoldConnection(DynConn *conn)
{
	conn->nusers++;
	return conn;
}

/* Done with a connection for now; it stays cached. */
void
DynReleaseConnection(DynConn *conn)
{
	if (conn != NULL && conn->nusers > 0)
		conn->nusers--;
}

/* The server and user mapping options the connection was made with. */
const DynServerOptions *
DynConnOptions(DynConn *conn)
{
	return conn->opts;
}

/* The name of the connection's server, for messages. */
const char *
DynConnServerName(DynConn *conn)
{
	return conn->servername;
}

/* What the connection knows of its cluster (cluster.c's). */
DynCluster *
DynConnCluster(DynConn *conn)
{
	return conn->cluster;
}

/* How many nodes the connection knows: the seeds, then ring members. */
int
DynConnNodeCount(DynConn *conn)
{
	return conn->nnodes;
}

/*
 * Build a connection: resolve the options and load the identity and trust
 * it will authenticate with.  Everything is built in a context of its own
 * that joins the cache only once nothing can fail any more.
 */
static DynConn *
conn_create(ForeignServer *server, UserMapping *user)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "dynamo_fdw connection",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	DynConn    *conn = palloc0(sizeof(DynConn));
	DynServerOptions *o;
	char		err[1024];
	ListCell   *lc;

	conn->cxt = cxt;
	conn->umid = user->umid;
	conn->serverid = server->serverid;
	conn->servername = pstrdup(server->servername);
	conn->primary = -1;
	conn->opts = o = DynGetServerOptions(server, user);
	conn->keep = DynOptionBool(NIL, server->options, "keep_connections", true);
	dyn_trust_init(&conn->trust);
	conn->cluster = DynClusterCreate(cxt);

	if (o->key != NULL || o->key_file != NULL)
	{
		int			rc;

		if (o->key != NULL)
			rc = dyn_identity_from_text(&conn->identity, o->key, strlen(o->key),
										err, sizeof(err));
		else
			rc = dyn_identity_load(&conn->identity, o->key_file, err, sizeof(err));
		if (rc != DYN_OK)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("could not load the secret key of the user mapping for server \"%s\"",
							server->servername),
					 errdetail("%s", err)));
		if (o->trust == NULL && o->trust_file == NULL)
		{
			dyn_identity_clear(&conn->identity);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("no trust file to check the nodes of server \"%s\" against",
							server->servername),
					 errhint("Give the user mapping or the server option trust_file or trust: the nodes' public keys with role node.")));
		}
		if (o->trust != NULL)
			rc = dyn_trust_parse(&conn->trust, "trust", o->trust, strlen(o->trust),
								 err, sizeof(err));
		else
			rc = dyn_trust_load(&conn->trust, o->trust_file, err, sizeof(err));
		if (rc != DYN_OK)
		{
			dyn_identity_clear(&conn->identity);
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("could not load the trust file for server \"%s\"",
							server->servername),
					 errdetail("%s", err),
					 errhint("The trust file lists the nodes' public keys with role node; give it with option trust_file (default: the file named trust beside key_file) or trust.")));
		}
		conn->secure = true;
	}
	else if (o->trust != NULL || o->trust_file != NULL)
	{
		/* a trust file alone: nothing to authenticate with */
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("the user mapping for server \"%s\" has a trust file but no key",
						server->servername),
				 errhint("Give the client's secret key with option key_file or key.")));
	}

	foreach(lc, o->nodes)
		(void) DynNodeAdd(conn, (const char *) lfirst(lc));

	conn->server_hashvalue = GetSysCacheHashValue1(FOREIGNSERVEROID,
												   ObjectIdGetDatum(server->serverid));
	conn->mapping_hashvalue = GetSysCacheHashValue1(USERMAPPINGOID,
													ObjectIdGetDatum(user->umid));
	MemoryContextSwitchTo(old);
	MemoryContextSetParent(cxt, CacheMemoryContext);
	return conn;
}

/* Close every node, wipe the key, free everything of a connection. */
static void
conn_discard(DynConn *conn)
{
	for (int i = 0; i < conn->nnodes; i++)
	{
		dyn_client_free(conn->nodes[i].client);
		conn->nodes[i].client = NULL;
		if (conn->nodes[i].pending)
			hash_destroy(conn->nodes[i].pending);
	}
	dyn_identity_clear(&conn->identity);
	dyn_trust_free(&conn->trust);
	DynClusterFree(conn->cluster);
	MemoryContextDelete(conn->cxt);
}

/*
 * A server or user mapping changed (or the cache was reset, hashvalue 0):
 * connections made with them are stale.  One nobody holds is closed now;
 * one in use is marked and replaced when next asked for.
 */
static void
conn_inval_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS scan;
	DynConnEntry *entry;

	hash_seq_init(&scan, ConnectionHash);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		DynConn    *conn = entry->conn;
		bool		busy = false;

		if (conn == NULL)
			continue;
		if (hashvalue != 0 &&
			!(cacheid == FOREIGNSERVEROID && conn->server_hashvalue == hashvalue) &&
			!(cacheid == USERMAPPINGOID && conn->mapping_hashvalue == hashvalue))
			continue;
		conn->invalidated = true;
		for (int i = 0; i < conn->nnodes; i++)
			if (conn->nodes[i].pending && hash_get_num_entries(conn->nodes[i].pending) > 0)
				busy = true;
		if (conn->nusers == 0 && !busy)
		{
			conn_discard(conn);
			entry->conn = NULL;
		}
	}
}

/*
 * At the end of a transaction nothing holds a connection any more (an
 * aborted scan never released it); at abort, node connections with
 * requests in flight are closed.  Invalidated connections go, and those of
 * servers with keep_connections off (postgres_fdw's option: every
 * transaction connects afresh).
 */
static void
conn_xact_callback(XactEvent event, void *arg)
{
	HASH_SEQ_STATUS scan;
	DynConnEntry *entry;

	if (ConnectionHash == NULL)
		return;
	if (event != XACT_EVENT_ABORT && event != XACT_EVENT_PARALLEL_ABORT &&
		event != XACT_EVENT_COMMIT && event != XACT_EVENT_PARALLEL_COMMIT &&
		event != XACT_EVENT_PREPARE)
		return;
	hash_seq_init(&scan, ConnectionHash);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		DynConn    *conn = entry->conn;

		if (conn == NULL)
			continue;
		conn->nusers = 0;
		conn_abandon(conn, 0);
		if (conn->invalidated || !conn->keep)
		{
			conn_discard(conn);
			entry->conn = NULL;
		}
	}
}

/*
 * A subtransaction aborted: requests it registered belong to memory that is
 * gone.  Drop them, and close the nodes they were on.
 */
static void
conn_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	HASH_SEQ_STATUS scan;
	DynConnEntry *entry;
	int			level;

	if (event != SUBXACT_EVENT_ABORT_SUB || ConnectionHash == NULL)
		return;
	level = GetCurrentTransactionNestLevel();
	hash_seq_init(&scan, ConnectionHash);
	while ((entry = hash_seq_search(&scan)) != NULL)
		if (entry->conn != NULL)
			conn_abandon(entry->conn, level);
}

/*
 * Forget the requests registered at nest_level or deeper (0: all) without
 * touching them (their memory may be gone), and close the nodes they were
 * in flight on; requests of outer levels on those nodes (still alive) fail
 * with "reset".
 */
static void
conn_abandon(DynConn *conn, int nest_level)
{
	for (int i = 0; i < conn->nnodes; i++)
	{
		DynNode    *n = &conn->nodes[i];
		HASH_SEQ_STATUS scan;
		DynPending *p;
		bool		dropped = false;

		if (n->pending == NULL || hash_get_num_entries(n->pending) == 0)
			continue;
		hash_seq_init(&scan, n->pending);
		while ((p = hash_seq_search(&scan)) != NULL)
		{
			if (p->nest_level >= nest_level)
			{
				hash_search(n->pending, &p->reqid, HASH_REMOVE, NULL);
				dropped = true;
			}
		}
		if (dropped)
			node_reset(conn, i, "the connection to the node was reset after an aborted subtransaction",
					   0, false);
	}
}

/* The index of the node at addr, added (unconnected) if new. */
int
DynNodeAdd(DynConn *conn, const char *addr)
{
	MemoryContext old;
	DynNode    *n;
	HASHCTL		ctl;

	for (int i = 0; i < conn->nnodes; i++)
		if (strcmp(conn->nodes[i].addr, addr) == 0)
			return i;
	old = MemoryContextSwitchTo(conn->cxt);
	if (conn->nnodes == conn->capnodes)
	{
		conn->capnodes = conn->capnodes ? conn->capnodes * 2 : 4;
		conn->nodes = conn->nodes
			? repalloc(conn->nodes, sizeof(DynNode) * conn->capnodes)
			: palloc(sizeof(DynNode) * conn->capnodes);
	}
	n = &conn->nodes[conn->nnodes];
	memset(n, 0, sizeof(*n));
	n->addr = pstrdup(addr);
	ctl.keysize = sizeof(uint32);
	ctl.entrysize = sizeof(DynPending);
	ctl.hcxt = conn->cxt;
	n->pending = hash_create("dynamo_fdw requests", 64, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	MemoryContextSwitchTo(old);
	return conn->nnodes++;
}

/* A node's "host:port", for messages. */
const char *
DynNodeAddress(DynConn *conn, int node)
{
	return conn->nodes[node].addr;
}

/* Close a node's client (its requests must have been dealt with). */
static void
node_close(DynConn *conn, int node)
{
	DynNode    *n = &conn->nodes[node];

	if (n->client != NULL)
	{
		dyn_client_free(n->client);
		n->client = NULL;
		n->generation++;
	}
}

/*
 * Close a node's client and fail every request still registered on it (an
 * owner that is gone has already forgotten its requests, so those left are
 * alive).  code is the error code of a connection-level refusal
 * (DYN_E_UNAUTHORIZED), 0 for I/O failures.  mark_down: the node failed,
 * so avoid it for a while.
 */
static void
node_reset(DynConn *conn, int node, const char *why, uint16 code, bool mark_down)
{
	DynNode    *n = &conn->nodes[node];
	HASH_SEQ_STATUS scan;
	DynPending *p;

	hash_seq_init(&scan, n->pending);
	while ((p = hash_seq_search(&scan)) != NULL)
	{
		request_fail(p->req, why, code);
		hash_search(n->pending, &p->reqid, HASH_REMOVE, NULL);
	}
	node_close(conn, node);
	if (mark_down)
	{
		if (n->last_error)
			pfree(n->last_error);
		n->last_error = MemoryContextStrdup(conn->cxt, why);
		n->auth_failed = (code == DYN_E_UNAUTHORIZED);
		n->down_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), DYN_NODE_DOWN_MS);
	}
}

/* The node failed (why says how): fail its requests, avoid it for a while. */
static void
node_fail(DynConn *conn, int node, const char *why, uint16 code)
{
	node_reset(conn, node, why, code, true);
}

/* Mark a request failed (no reply will come). */
static void
request_fail(DynRequest *req, const char *why, uint16 code)
{
	req->done = true;
	req->failed = true;
	req->registered = false;
	req->fail_code = code;
	req->errmsg = MemoryContextStrdup(req->cxt, why);
}

/* Whether a node failed lately (it is avoided until DYN_NODE_DOWN_MS after). */
bool
DynNodeFailedLately(DynConn *conn, int node, TimestampTz now)
{
	return conn->nodes[node].down_until > now;
}

/* Avoid a node for a while, closing it (a reader saw it misbehave). */
void
DynMarkNodeDown(DynConn *conn, int node, const char *why)
{
	node_fail(conn, node, why, 0);
}

/*
 * Connect a node's client, handshake included, waiting at most
 * connect_timeout_ms (interruptibly).  false, with the node's last_error
 * set and the node avoided for a while, when it cannot be reached.
 */
static bool
node_connect(DynConn *conn, int node)
{
	DynNode    *n = &conn->nodes[node];
	TimestampTz deadline;
	int			rc;
	char		why[512];

	node_close(conn, node);
	n->client = dyn_client_new();
	if (n->client == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (conn->secure &&
		dyn_client_set_identity(n->client, &conn->identity, &conn->trust) != DYN_OK)
		elog(ERROR, "dyn_client_set_identity failed");
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   conn->opts->connect_timeout_ms);
	rc = dyn_client_connect_start(n->client, n->addr);
	while (rc == DYN_OK && !dyn_client_connected(n->client))
	{
		long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		int			wants = dyn_client_wants(n->client);
		int			events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | WL_TIMEOUT;
		int			ready = 0;
		int			wr;

		if (dyn_client_socket(n->client) < 0)
		{
			rc = DYN_ERR_CLOSED;
			break;
		}
		if (left <= 0)
		{
			snprintf(why, sizeof(why), "timed out after %d ms connecting to %s",
					 conn->opts->connect_timeout_ms, n->addr);
			n->auth_failed = false;
			goto failed;
		}
		if (wants & DYN_WAIT_READ)
			events |= WL_SOCKET_READABLE;
		if (wants & DYN_WAIT_WRITE)
			events |= WL_SOCKET_WRITEABLE;
		wr = WaitLatchOrSocket(MyLatch, events, dyn_client_socket(n->client), left,
							   PG_WAIT_EXTENSION);
		if (wr & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		if (wr & WL_SOCKET_READABLE)
			ready |= DYN_WAIT_READ;
		if (wr & WL_SOCKET_WRITEABLE)
			ready |= DYN_WAIT_WRITE;
		if (ready)
			rc = dyn_client_io(n->client, ready);
	}
	if (rc == DYN_OK)
	{
		n->down_until = 0;
		return true;
	}
	snprintf(why, sizeof(why), "%s", dyn_client_errmsg(n->client));
	/* the channel says "handshake" when keys, not the network, failed */
	n->auth_failed = strstr(why, "handshake") != NULL;
failed:
	{
		bool		auth = n->auth_failed;

		node_fail(conn, node, why, 0);
		n->auth_failed = auth;
	}
	return false;
}

/*
 * Whether a node's client can take a request now, connecting it if
 * needed.  An idle client is probed first (a non-blocking read), so a
 * connection the node closed while we were not looking is replaced before
 * a write goes out on it.
 */
bool
DynNodeUsable(DynConn *conn, int node)
{
	DynNode    *n = &conn->nodes[node];

	if (n->client != NULL && dyn_client_connected(n->client) &&
		dyn_client_outstanding(n->client) == 0)
	{
		if (dyn_client_io(n->client, DYN_WAIT_READ) != DYN_OK)
			node_reset(conn, node, dyn_client_errmsg(n->client), 0, false);
	}
	if (n->client != NULL && dyn_client_connected(n->client))
		return true;
	return node_connect(conn, node);
}

/*
 * The node used for routing 'any' and for cluster questions: the current
 * one while it works, else the first of the nodes option that connects,
 * else any member of the ring that does; nodes recently failed are tried
 * last.
 */
int
DynPrimaryNode(DynConn *conn, int avoid)
{
	int			node = DynFindPrimaryNode(conn, avoid);

	if (node < 0)
		conn_report_unreachable(conn);
	return node;
}

/* DynPrimaryNode without the error: -1 when no node connects. */
int
DynFindPrimaryNode(DynConn *conn, int avoid)
{
	TimestampTz now = GetCurrentTimestamp();
	bool	   *tried;

	if (conn->primary >= 0 && conn->primary != avoid &&
		conn->nodes[conn->primary].client != NULL && DynNodeUsable(conn, conn->primary))
		return conn->primary;
	tried = palloc0(sizeof(bool) * conn->nnodes);
	/* nodes[] holds the seeds first, in the order given, then ring members */
	for (int pass = 0; pass < 2; pass++)
	{
		for (int i = 0; i < conn->nnodes; i++)
		{
			bool		failed_lately = conn->nodes[i].down_until > now;

			if (tried[i] || i == avoid || failed_lately != (pass == 1))
				continue;
			tried[i] = true;
			if (DynNodeUsable(conn, i))
			{
				pfree(tried);
				conn->primary = i;
				return i;
			}
		}
	}
	pfree(tried);
	return -1;
}

/*
 * No node could be reached: say so, with each node's reason.  When the
 * reasons are authentication failures, that is the error.
 */
static void
conn_report_unreachable(DynConn *conn)
{
	StringInfoData detail;
	bool		auth = false;

	initStringInfo(&detail);
	for (int i = 0; i < conn->nnodes; i++)
	{
		DynNode    *n = &conn->nodes[i];

		if (n->last_error == NULL)
			continue;
		appendStringInfo(&detail, "%s%s: %s", detail.len ? "\n" : "", n->addr, n->last_error);
		auth |= n->auth_failed;
	}
	if (auth)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("could not authenticate with the nodes of server \"%s\"",
						conn->servername),
				 errdetail("%s", detail.data),
				 errhint("The node must list the user mapping's public key in its trust file, and the user mapping's trust file must list the node's key with role node.")));
	ereport(ERROR,
			(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
			 errmsg("could not connect to any node of server \"%s\"", conn->servername),
			 errdetail("%s", detail.data)));
}

/* The reply timeout: the GUC when set, else the server's option. */
static int
conn_timeout_ms(DynConn *conn)
{
	return dynamo_fdw_timeout_ms > 0 ? dynamo_fdw_timeout_ms : conn->opts->timeout_ms;
}

/* Prepare a request whose reply will be copied into cxt. */
void
DynInitRequest(DynRequest *req, MemoryContext cxt)
{
	memset(req, 0, sizeof(*req));
	req->cxt = cxt;
	req->node = -1;
}

/*
 * Register a request just queued on node, so its reply finds it.  It is
 * not written yet: DynAwait flushes every node's queue at once, so a
 * pipeline of requests goes out in one write (one record on a secure
 * channel).
 */
static void
request_register(DynConn *conn, int node, DynRequest *req, uint32 reqid)
{
	DynNode    *n = &conn->nodes[node];
	DynPending *p;
	bool		found;

	req->node = node;
	req->reqid = reqid;
	req->generation = n->generation;
	req->nest_level = GetCurrentTransactionNestLevel();
	req->deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), conn_timeout_ms(conn));
	req->done = false;
	req->failed = false;
	p = hash_search(n->pending, &reqid, HASH_ENTER, &found);
	p->req = req;
	p->nest_level = req->nest_level;
	req->registered = true;
}

/* Queue a GET; a node that cannot be reached fails the request at once. */
void
DynSendGet(DynConn *conn, int node, DynRequest *req, const dyn_get_req *get)
{
	if (!DynNodeUsable(conn, node))
	{
		req->node = node;
		request_fail(req, conn->nodes[node].last_error, 0);
		return;
	}
	request_register(conn, node, req, dyn_client_send_get(conn->nodes[node].client, get));
}

/* Queue a PUT or DELETE. */
void
DynSendPut(DynConn *conn, int node, DynRequest *req, const dyn_put_req *put,
		   bool is_delete)
{
	dyn_client *c;

	if (!DynNodeUsable(conn, node))
	{
		req->node = node;
		request_fail(req, conn->nodes[node].last_error, 0);
		return;
	}
	c = conn->nodes[node].client;
	request_register(conn, node, req,
					 is_delete ? dyn_client_send_delete(c, put) : dyn_client_send_put(c, put));
}

/* Queue a SCAN page request. */
void
DynSendScan(DynConn *conn, int node, DynRequest *req, const dyn_scan_req *scan)
{
	dyn_buf		b;
	dyn_frame	f;
	size_t		used;
	uint32		id;

	if (!DynNodeUsable(conn, node))
	{
		req->node = node;
		request_fail(req, conn->nodes[node].last_error, 0);
		return;
	}
	/* encode a whole frame, then hand its body to the client */
	dyn_buf_init(&b);
	dyn_scan_req_encode(&b, 0, scan);
	if (b.err || dyn_frame_parse(b.data, b.len, DYN_FRAME_MAX_BODY, &f, &used) != DYN_OK)
	{
		dyn_buf_free(&b);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	id = dyn_client_send_frame(conn->nodes[node].client, DYN_MSG_SCAN, f.body);
	dyn_buf_free(&b);
	if (id == 0)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	request_register(conn, node, req, id);
}

/* Queue a STATUS request. */
void
DynSendStatus(DynConn *conn, int node, DynRequest *req)
{
	if (!DynNodeUsable(conn, node))
	{
		req->node = node;
		request_fail(req, conn->nodes[node].last_error, 0);
		return;
	}
	request_register(conn, node, req, dyn_client_send_status(conn->nodes[node].client));
}

/*
 * Queue a request of any type whose body is already encoded (the
 * administration requests, REPAIR and REMOVE).  unbounded: wait for its
 * reply without the reply timeout -- until it comes, the node fails, or the
 * query is cancelled (a REPAIR round may take minutes).
 */
void
DynSendFrame(DynConn *conn, int node, DynRequest *req, uint8 type, dyn_slice body,
			 bool unbounded)
{
	uint32		id;

	if (!DynNodeUsable(conn, node))
	{
		req->node = node;
		request_fail(req, conn->nodes[node].last_error, 0);
		return;
	}
	id = dyn_client_send_frame(conn->nodes[node].client, type, body);
	if (id == 0)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	request_register(conn, node, req, id);
	if (unbounded)
		req->deadline = DT_NOEND;
}

/* Queue a RING request. */
void
DynSendRing(DynConn *conn, int node, DynRequest *req)
{
	if (!DynNodeUsable(conn, node))
	{
		req->node = node;
		request_fail(req, conn->nodes[node].last_error, 0);
		return;
	}
	request_register(conn, node, req, dyn_client_send_ring(conn->nodes[node].client));
}

/*
 * Pop every complete reply of a node and hand each to its request (copying
 * the body into the request's context).  A reply nobody waits for is
 * dropped; an error frame with request id 0 is the node refusing the whole
 * connection (an untrusted key), which fails the node.
 */
static void
node_dispatch(DynConn *conn, int node)
{
	DynNode    *n = &conn->nodes[node];
	dyn_frame	f;
	int			rc;

	while (n->client != NULL && (rc = dyn_client_next_reply(n->client, &f)) == DYN_OK)
	{
		DynPending *p;
		DynRequest *req;

		if (f.reqid == 0 && f.type == DYN_MSG_ERROR)
		{
			dyn_error_msg em = {0};
			char	   *why;

			if (dyn_error_decode(f.body, &em) != DYN_OK)
				why = pstrdup("the node refused the connection");
			else
				why = pnstrdup((const char *) em.message.ptr, em.message.len);
			node_fail(conn, node, why, em.code);
			return;
		}
		p = hash_search(n->pending, &f.reqid, HASH_FIND, NULL);
		if (p == NULL)
			continue;			/* forgotten: its owner is gone */
		req = p->req;
		hash_search(n->pending, &f.reqid, HASH_REMOVE, NULL);
		req->registered = false;
		req->reply_type = f.type;
		req->len = f.body.len;
		req->body = MemoryContextAlloc(req->cxt, f.body.len + 1);
		memcpy(req->body, f.body.ptr, f.body.len);
		req->body[f.body.len] = 0;
		req->done = true;
	}
	if (n->client != NULL && rc != DYN_ERR_AGAIN)
		node_fail(conn, node, dyn_client_errmsg(n->client), 0);
}

/* Let a node's client make progress (ready: what the wait reported). */
static void
node_pump(DynConn *conn, int node, int ready)
{
	DynNode    *n = &conn->nodes[node];
	int			rc;

	if (n->client == NULL)
		return;
	rc = dyn_client_io(n->client, ready);
	/* replies that arrived before a failure are still good */
	node_dispatch(conn, node);
	if (rc != DYN_OK && n->client != NULL)
		node_fail(conn, node, dyn_client_errmsg(n->client), 0);
}

/* Write what every node has queued. */
static void
conn_flush_all(DynConn *conn)
{
	for (int i = 0; i < conn->nnodes; i++)
	{
		dyn_client *c = conn->nodes[i].client;

		if (c != NULL && (dyn_client_wants(c) & DYN_WAIT_WRITE))
			node_pump(conn, i, 0);
	}
}

/*
 * Wait at most timeout_ms for any node to become ready, or the latch (a
 * cancel, statement_timeout, a signal), then let the ready nodes make
 * progress.  One node: WaitLatchOrSocket; several: a WaitEventSet over all
 * of them, freed before interrupts are checked.
 */
static void
conn_wait(DynConn *conn, long timeout_ms)
{
	int		   *idx = palloc(sizeof(int) * Max(conn->nnodes, 1));
	uint32	   *evs = palloc(sizeof(uint32) * Max(conn->nnodes, 1));
	int			nsock = 0;
	bool		latch = false;

	for (int i = 0; i < conn->nnodes; i++)
	{
		dyn_client *c = conn->nodes[i].client;
		int			wants;

		if (c == NULL || dyn_client_socket(c) < 0 || (wants = dyn_client_wants(c)) == 0)
			continue;
		idx[nsock] = i;
		evs[nsock] = ((wants & DYN_WAIT_READ) ? WL_SOCKET_READABLE : 0) |
			((wants & DYN_WAIT_WRITE) ? WL_SOCKET_WRITEABLE : 0);
		nsock++;
	}
	if (nsock <= 1)
	{
		int			rc;
		int			events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | WL_TIMEOUT;

		if (nsock == 1)
			events |= evs[0];
		rc = WaitLatchOrSocket(MyLatch, events,
							   nsock ? dyn_client_socket(conn->nodes[idx[0]].client)
							   : PGINVALID_SOCKET,
							   timeout_ms, PG_WAIT_EXTENSION);
		latch = (rc & WL_LATCH_SET) != 0;
		if (nsock == 1 && (rc & (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE)))
			node_pump(conn, idx[0],
					  ((rc & WL_SOCKET_READABLE) ? DYN_WAIT_READ : 0) |
					  ((rc & WL_SOCKET_WRITEABLE) ? DYN_WAIT_WRITE : 0));
	}
	else
	{
		WaitEventSet *set = CreateWaitEventSet(CurrentMemoryContext, nsock + 2);
		WaitEvent  *occurred = palloc(sizeof(WaitEvent) * (nsock + 2));
		int			n;

		AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
		AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
		for (int i = 0; i < nsock; i++)
			AddWaitEventToSet(set, evs[i], dyn_client_socket(conn->nodes[idx[i]].client),
							  NULL, (void *) (intptr_t) idx[i]);
		n = WaitEventSetWait(set, timeout_ms, occurred, nsock + 2, PG_WAIT_EXTENSION);
		FreeWaitEventSet(set);
		for (int i = 0; i < n; i++)
		{
			if (occurred[i].events & WL_LATCH_SET)
				latch = true;
			else if (occurred[i].events & (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE))
				node_pump(conn, (int) (intptr_t) occurred[i].user_data,
						  ((occurred[i].events & WL_SOCKET_READABLE) ? DYN_WAIT_READ : 0) |
						  ((occurred[i].events & WL_SOCKET_WRITEABLE) ? DYN_WAIT_WRITE : 0));
		}
		pfree(occurred);
	}
	pfree(idx);
	pfree(evs);
	if (latch)
	{
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Wait until req is done: it has its reply, or it failed (its node failed,
 * or it did not answer within the timeout -- the node is then closed and
 * avoided for a while, failing what else was in flight on it).  Every
 * node's queue is flushed first, so pipelines go out together.
 */
void
DynAwait(DynConn *conn, DynRequest *req)
{
	for (;;)
	{
		DynNode    *n;
		long		left;

		if (req->done)
			return;
		if (!req->registered)
			elog(ERROR, "dynamo_fdw: waiting for a request that was not sent");
		n = &conn->nodes[req->node];
		if (n->generation != req->generation)
		{
			/* the connection it went out on was closed (an abort elsewhere) */
			request_fail(req, "the connection to the node was reset", 0);
			return;
		}
		conn_flush_all(conn);
		if (req->done)
			return;
		if (req->deadline == DT_NOEND)
		{
			/* no deadline: wake now and then only to check the node */
			conn_wait(conn, DYN_UNBOUNDED_WAIT_MS);
			continue;
		}
		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), req->deadline);
		if (left <= 0)
		{
			char		why[256];

			snprintf(why, sizeof(why), "no reply from node %s within %d ms",
					 n->addr, conn_timeout_ms(conn));
			node_fail(conn, req->node, why, 0);
			return;
		}
		conn_wait(conn, left);
	}
}

/*
 * Send what every node has queued and take the replies that have arrived,
 * without waiting (an async scan woken by its socket: the executor does
 * the waiting).
 */
void
DynPoll(DynConn *conn)
{
	conn_flush_all(conn);
	conn_wait(conn, 0);
}

/*
 * Send what every node has queued, reading nothing: an async scan about to
 * be waited for must not take replies off a socket another scan of the
 * same wait is registered on (that socket would not wake it).
 */
void
DynFlush(DynConn *conn)
{
	conn_flush_all(conn);
}

/*
 * The socket of node's connection and the connection's generation (a new
 * connection has a new one), or PGINVALID_SOCKET when it has none: what an
 * async scan waits on.
 */
pgsocket
DynNodeSocket(DynConn *conn, int node, uint64 *generation)
{
	DynNode    *n = &conn->nodes[node];

	*generation = n->generation;
	if (n->client == NULL || dyn_client_socket(n->client) < 0)
		return PGINVALID_SOCKET;
	return (pgsocket) dyn_client_socket(n->client);
}

/*
 * Whether req is done, without waiting or reading: what DynAwait checks
 * before it waits -- a request whose connection was replaced fails, one
 * past its deadline fails its node (an async scan asks before each wait).
 */
bool
DynCheck(DynConn *conn, DynRequest *req)
{
	DynNode    *n;

	if (req->done)
		return true;
	if (!req->registered || req->node < 0)
		return false;
	n = &conn->nodes[req->node];
	if (n->generation != req->generation)
		request_fail(req, "the connection to the node was reset", 0);
	else if (req->deadline != DT_NOEND && GetCurrentTimestamp() >= req->deadline)
	{
		char		why[256];

		snprintf(why, sizeof(why), "no reply from node %s within %d ms",
				 n->addr, conn_timeout_ms(conn));
		node_fail(conn, req->node, why, 0);
	}
	return req->done;
}

/* The owner no longer wants req's reply (it may still arrive: it is dropped). */
void
DynForget(DynConn *conn, DynRequest *req)
{
	if (req->registered && req->node >= 0 && req->node < conn->nnodes)
	{
		DynNode    *n = &conn->nodes[req->node];

		if (n->generation == req->generation)
			hash_search(n->pending, &req->reqid, HASH_REMOVE, NULL);
		req->registered = false;
	}
	DynReleaseReply(req);
}

/* Free a done request's reply body. */
void
DynReleaseReply(DynRequest *req)
{
	if (req->body)
		pfree(req->body);
	req->body = NULL;
	req->len = 0;
	if (req->errmsg)
		pfree(req->errmsg);
	req->errmsg = NULL;
}

/*
 * Raise the error for a request that failed or was answered with an error
 * frame.  op names the operation ("get", "put", ...); bucket and key, when
 * given, name what it was about.
 */
void
DynReportFailure(DynConn *conn, DynRequest *req, const char *op,
				 const char *bucket, dyn_slice key)
{
	const char *addr = req->node >= 0 ? conn->nodes[req->node].addr : "?";
	char	   *what;

	if (bucket != NULL)
		what = psprintf("%s of key \"%s\" in bucket \"%s\"", op,
						DynKeyForMessage(key), bucket);
	else
		what = pstrdup(op);

	if (req->failed)
	{
		if (req->fail_code == DYN_E_UNAUTHORIZED)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("authentication failed: a node of server \"%s\" refused the connection",
							conn->servername),
					 errdetail("%s", req->errmsg ? req->errmsg : "no reason given"),
					 conn->secure
					 ? errhint("The node's trust file must list the user mapping's public key.")
					 : errhint("The user mapping has no key, so the connection is not authenticated: give it option key_file or key."),
					 errcontext("node %s", addr)));
		if (req->fail_code != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("a node of server \"%s\" refused the %s and closed the connection",
							conn->servername, what),
					 errdetail("%s", req->errmsg ? req->errmsg : "no reason given"),
					 errcontext("node %s", addr)));
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("lost the connection to a node of server \"%s\" during the %s",
						conn->servername, what),
				 errdetail("%s", req->errmsg ? req->errmsg : "no reply"),
				 errcontext("node %s", addr)));
	}
	if (req->reply_type == DYN_MSG_ERROR)
	{
		dyn_error_msg em;
		char	   *msg;

		if (dyn_error_decode((dyn_slice) {req->body, req->len}, &em) != DYN_OK)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("a node of server \"%s\" sent a malformed error reply to the %s",
							conn->servername, what),
					 errcontext("node %s", addr)));
		msg = pnstrdup((const char *) em.message.ptr, em.message.len);
		switch (em.code)
		{
			case DYN_E_QUORUM:
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("quorum not met for the %s", what),
						 errdetail("%u replies received, %u needed.", em.replied, em.needed),
						 errcontext("node %s: %s", addr, msg)));
				break;
			case DYN_E_UNAUTHORIZED:
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("a node of server \"%s\" refused the %s", conn->servername, what),
						 errdetail("%s", msg),
						 errhint("The user mapping's key needs a role in the node's trust file that allows this operation."),
						 errcontext("node %s", addr)));
				break;
			case DYN_E_INVAL:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("a node of server \"%s\" refused the %s as invalid",
								conn->servername, what),
						 errdetail("%s", msg),
						 errcontext("node %s", addr)));
				break;
			case DYN_E_TOOBIG:
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("a node of server \"%s\" refused the %s as too big",
								conn->servername, what),
						 errdetail("%s", msg),
						 errcontext("node %s", addr)));
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("a node of server \"%s\" failed the %s", conn->servername, what),
						 errdetail("%s", msg),
						 errcontext("node %s", addr)));
				break;
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("a node of server \"%s\" sent an unexpected %s reply to the %s",
					conn->servername, dyn_msg_type_name(req->reply_type), what),
			 errcontext("node %s", addr)));
}

/*
 * dynamo_fdw_get_connections(): the cached connections of this backend --
 * server, whether still valid, and how many node connections are open.
 */
Datum
dynamo_fdw_get_connections(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS scan;
	DynConnEntry *entry;

	InitMaterializedSRF(fcinfo, 0);
	if (ConnectionHash == NULL)
		PG_RETURN_VOID();
	hash_seq_init(&scan, ConnectionHash);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		DynConn    *conn = entry->conn;
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		int			open = 0;
		ForeignServer *server;

		if (conn == NULL)
			continue;
		for (int i = 0; i < conn->nnodes; i++)
			if (conn->nodes[i].client != NULL && dyn_client_connected(conn->nodes[i].client))
				open++;
		server = GetForeignServerExtended(conn->serverid, FSV_MISSING_OK);
		values[0] = CStringGetTextDatum(server ? server->servername : conn->servername);
		values[1] = BoolGetDatum(!conn->invalidated);
		values[2] = Int32GetDatum(open);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}

/*
 * dynamo_fdw_disconnect(server): close this backend's connections to the
 * server (those not in use); true if any was closed.
 */
Datum
dynamo_fdw_disconnect(PG_FUNCTION_ARGS)
{
	ForeignServer *server = GetForeignServerByName(text_to_cstring(PG_GETARG_TEXT_PP(0)),
												   false);

	PG_RETURN_BOOL(conn_close_server(server->serverid));
}

/*
 * dynamo_fdw_disconnect_all(): close every connection of this backend not
 * in use; true if any was closed.
 */
Datum
dynamo_fdw_disconnect_all(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(conn_close_server(InvalidOid));
}

/*
 * Close the cached connections to a server (InvalidOid: to every server).
 * One in use (a cursor holds it) is marked, and closed once released.
 */
static bool
conn_close_server(Oid serverid)
{
	HASH_SEQ_STATUS scan;
	DynConnEntry *entry;
	bool		closed = false;

	if (ConnectionHash == NULL)
		return false;
	hash_seq_init(&scan, ConnectionHash);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		DynConn    *conn = entry->conn;

		if (conn == NULL || (OidIsValid(serverid) && conn->serverid != serverid))
			continue;
		if (conn->nusers > 0)
		{
			conn->invalidated = true;
			continue;
		}
		conn_discard(conn);
		entry->conn = NULL;
		closed = true;
	}
	return closed;
}
