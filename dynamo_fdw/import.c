/*-------------------------------------------------------------------------
 *
 * import.c
 *		  IMPORT FOREIGN SCHEMA: one foreign table per bucket the cluster
 *		  holds, with the default columns.
 *
 * Every ring member is asked for the buckets it holds keys of (BUCKETS,
 * pipelined) and the lists are united.  Each key is on N nodes, so the
 * union is complete while fewer than N members fail to answer; those that
 * do not are named in a WARNING, and with N or more the import fails
 * rather than leave buckets out unseen.  A bucket holding only tombstones
 * is listed too (its keys are still on the nodes).
 *
 * A table is named as its bucket and always gets the bucket option, so
 * renaming it later does not change what it reads.  Buckets whose name
 * cannot be a table name -- longer than NAMEDATALEN - 1 bytes, a NUL byte,
 * not valid in the database encoding -- are skipped with a NOTICE.  The
 * value column is bytea by default (a bucket's values are bytes, nothing
 * is assumed of them); the import option value_type picks text or jsonb.
 * The remote schema name is not used: Dynamo has no schemas.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/defrem.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"

#include "dynamo_fdw.h"

static const char *import_value_type(List *options);
static void import_collect(DynConn *conn, int node, const DynRequest *req, List **names);
static bool import_wanted(ImportForeignSchemaStmt *stmt, const DynBytesKey *name);
static bool import_nameable(const DynBytesKey *name);
static int	bytes_cmp(const DynBytesKey *x, const DynBytesKey *y);
static int	name_cmp(const ListCell *a, const ListCell *b);

/* ImportForeignSchema: the CREATE FOREIGN TABLE commands (see above). */
List *
dynamoImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);
	DynConn    *conn = DynGetConnection(server, GetUserMapping(GetUserId(), serverOid));
	const DynClusterInfo *info = DynGetClusterInfo(conn, false);
	const char *value_type = import_value_type(stmt->options);
	int			n = (int) info->rt.ring.nmembers;
	DynRequest *reqs = palloc0(sizeof(DynRequest) * Max(n, 1));
	int		   *nodes = palloc(sizeof(int) * Max(n, 1));
	int			failed = 0;
	List	   *names = NIL;
	List	   *commands = NIL;
	ListCell   *lc;
	const DynBytesKey *prev = NULL;

	for (int m = 0; m < n; m++)
	{
		nodes[m] = DynNodeForMember(conn, m);
		DynInitRequest(&reqs[m], CurrentMemoryContext);
		DynSendFrame(conn, nodes[m], &reqs[m], DYN_MSG_BUCKETS, (dyn_slice) {NULL, 0}, false);
	}
	for (int m = 0; m < n; m++)
	{
		DynAwait(conn, &reqs[m]);
		if (reqs[m].failed || reqs[m].reply_type != DYN_MSG_BUCKETS_REPLY)
		{
			failed++;
			ereport(WARNING,
					(errmsg("node %s did not list its buckets: %s",
							DynNodeAddress(conn, nodes[m]),
							reqs[m].failed ? (reqs[m].errmsg ? reqs[m].errmsg : "no reply")
							: "it refused the request (a node older than BUCKETS?)")));
		}
		else
			import_collect(conn, nodes[m], &reqs[m], &names);
		DynForget(conn, &reqs[m]);
	}
	DynReleaseConnection(conn);
	if (failed >= Max(info->n, 1))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("%d of the %d nodes of server \"%s\" did not list their buckets",
						failed, n, server->servername),
				 errdetail("Each key is on N = %d nodes: with %d of them silent a bucket could be missed.",
						   info->n, failed)));

	list_sort(names, name_cmp);
	foreach(lc, names)
	{
		const DynBytesKey *name = lfirst(lc);

		if (prev != NULL && bytes_cmp(prev, name) == 0)
			continue;			/* a bucket is on most nodes */
		prev = name;
		if (!import_wanted(stmt, name) || !import_nameable(name))
			continue;
		commands = lappend(commands,
						   psprintf("CREATE FOREIGN TABLE %s (key text, value %s, vclock jsonb, "
									"siblings int, context text) SERVER %s OPTIONS (bucket %s)",
									quote_identifier(name->ptr), value_type,
									quote_identifier(server->servername),
									quote_literal_cstr(name->ptr)));
	}
	return commands;
}

/* The value column's type: option value_type, bytea by default. */
static const char *
import_value_type(List *options)
{
	ListCell   *lc;
	const char *type = "bytea";

	foreach(lc, options)
	{
		DefElem    *d = lfirst_node(DefElem, lc);
		char	   *v;

		if (strcmp(d->defname, "value_type") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid IMPORT FOREIGN SCHEMA option \"%s\"", d->defname),
					 errhint("The only option is value_type.")));
		v = defGetString(d);
		if (strcmp(v, "bytea") != 0 && strcmp(v, "text") != 0 && strcmp(v, "jsonb") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid value_type \"%s\"", v),
					 errhint("value_type is bytea, text or jsonb.")));
		type = v;
	}
	return type;
}

/* Add a reply's bucket names to *names (NUL-terminated copies). */
static void
import_collect(DynConn *conn, int node, const DynRequest *req, List **names)
{
	uint16		count;
	dyn_slice	items;
	dyn_reader	r;

	if (dyn_buckets_reply_decode((dyn_slice) {req->body, req->len}, &count, &items) != DYN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("node %s sent a malformed buckets reply", DynNodeAddress(conn, node))));
	dyn_reader_init(&r, items);
	for (uint16 i = 0; i < count; i++)
	{
		dyn_slice	name;
		DynBytesKey *k = palloc(sizeof(DynBytesKey));

		(void) dyn_buckets_next(&r, &name);		/* checked by the decode */
		k->ptr = pnstrdup((const char *) name.ptr, name.len);
		memcpy(k->ptr, name.ptr, name.len);	/* NUL bytes too */
		k->len = name.len;
		*names = lappend(*names, k);
	}
}

/*
 * Whether a bucket's name can be its table's name: text in the database
 * encoding, no NUL, shorter than NAMEDATALEN.  A NOTICE says why not.
 */
static bool
import_nameable(const DynBytesKey *name)
{
	bool		text = memchr(name->ptr, 0, name->len) == NULL &&
		pg_verify_mbstr(GetDatabaseEncoding(), name->ptr, (int) name->len, true);

	if (text && name->len < NAMEDATALEN)
		return true;
	ereport(NOTICE,
			(errmsg("bucket %s is not imported: its name cannot be a table name",
					text ? quote_literal_cstr(name->ptr)
					: psprintf("of %zu bytes that are not text", name->len)),
			 errdetail("A table name is at most %d bytes, without NUL, in the database encoding; "
					   "create its table by hand with the bucket option.",
					   NAMEDATALEN - 1)));
	return false;
}

/* Whether LIMIT TO / EXCEPT lets name through (core checks it again). */
static bool
import_wanted(ImportForeignSchemaStmt *stmt, const DynBytesKey *name)
{
	ListCell   *lc;
	bool		listed = false;

	if (stmt->list_type == FDW_IMPORT_SCHEMA_ALL)
		return true;
	foreach(lc, stmt->table_list)
	{
		RangeVar   *rv = lfirst_node(RangeVar, lc);

		if (strlen(rv->relname) == name->len && memcmp(rv->relname, name->ptr, name->len) == 0)
			listed = true;
	}
	return stmt->list_type == FDW_IMPORT_SCHEMA_LIMIT_TO ? listed : !listed;
}

/* Byte order, as the nodes list them. */
static int
bytes_cmp(const DynBytesKey *x, const DynBytesKey *y)
{
	int			c = memcmp(x->ptr, y->ptr, Min(x->len, y->len));

	return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

static int
name_cmp(const ListCell *a, const ListCell *b)
{
	return bytes_cmp(lfirst(a), lfirst(b));
}
