/*-------------------------------------------------------------------------
 *
 * option.c
 *		  The options of dynamo_fdw servers, user mappings, foreign tables
 *		  and columns: validation at CREATE/ALTER time, and resolution into
 *		  the structs the rest of the extension uses; the GUCs that override
 *		  R, W and the reply timeout; and the order that decides R and W.
 *
 * Every option is checked when it is given, so a bad value never reaches a
 * query: an unknown option is refused with the list of those valid where it
 * was given, a bad value with what a good one looks like.  Options that
 * make the server read a file (key_file, trust_file) are reserved to
 * superusers and members of pg_read_server_files, as file_fdw does for its
 * filename; the secret key given inline (key) is never quoted back.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <unistd.h>

#include "access/reloptions.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_type.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "dynamo_fdw.h"
#include "dynamo/identity.h"
#include "dynamo/keytext.h"
#include "dynamo/ring.h"
#include "dynamo/wire.h"

/*
 * One valid option: its name and the catalog of the object it is given on
 * (the validator's second argument).
 */
typedef struct DynOption
{
	const char *name;
	Oid			context;
} DynOption;

static const DynOption dyn_options[] = {
	/* servers */
	{"nodes", ForeignServerRelationId},
	{"r", ForeignServerRelationId},
	{"w", ForeignServerRelationId},
	{"timeout_ms", ForeignServerRelationId},
	{"connect_timeout_ms", ForeignServerRelationId},
	{"routing", ForeignServerRelationId},
	{"fetch_size", ForeignServerRelationId},
	{"batch_size", ForeignServerRelationId},
	{"trust_file", ForeignServerRelationId},
	{"trust", ForeignServerRelationId},
	{"write_mode", ForeignServerRelationId},
	{"insert_mode", ForeignServerRelationId},
	{"updatable", ForeignServerRelationId},
	{"keep_connections", ForeignServerRelationId},
	{"async_capable", ForeignServerRelationId},
	/* user mappings */
	{"key_file", UserMappingRelationId},
	{"key", UserMappingRelationId},
	{"trust_file", UserMappingRelationId},
	{"trust", UserMappingRelationId},
	/* foreign tables */
	{"bucket", ForeignTableRelationId},
	{"r", ForeignTableRelationId},
	{"w", ForeignTableRelationId},
	{"value_format", ForeignTableRelationId},
	{"fetch_size", ForeignTableRelationId},
	{"batch_size", ForeignTableRelationId},
	{"write_mode", ForeignTableRelationId},
	{"insert_mode", ForeignTableRelationId},
	{"merge_function", ForeignTableRelationId},
	{"merge_write_back", ForeignTableRelationId},
	{"updatable", ForeignTableRelationId},
	{"async_capable", ForeignTableRelationId},
	/* columns */
	{"role", AttributeRelationId},
	{"column_name", AttributeRelationId},
	{NULL, InvalidOid}
};

static const char *const role_names[DYNCOL_NROLES] = {
	"field", "key", "value", "vclock", "siblings", "context"
};

/* The values of write_mode and insert_mode, indexed by their enums. */
static const char *const write_mode_names[] = {"commit", "immediate"};
static const char *const insert_mode_names[] = {"error", "replace", "sibling"};

/* dynamo_fdw.write_mode: "default" defers to the options. */
static const struct config_enum_entry write_mode_guc_values[] = {
	{"default", -1, false},
	{"commit", DYN_WRITE_COMMIT, false},
	{"immediate", DYN_WRITE_IMMEDIATE, false},
	{NULL, 0, false}
};

/* Timeouts are at most a day (and at least a millisecond). */
#define DYN_TIMEOUT_MAX_MS		(24 * 3600 * 1000)

int			dynamo_fdw_r = 0;
int			dynamo_fdw_w = 0;
int			dynamo_fdw_timeout_ms = 0;
int			dynamo_fdw_write_mode = -1;
int			dynamo_fdw_write_queue_mb = DYN_DEFAULT_WRITE_QUEUE_MB;

static bool is_valid_option(const char *name, Oid context);
static void report_invalid_option(const char *name, Oid context) pg_attribute_noreturn();
static int	option_int(DefElem *def, int min, int max);
static void check_nodes(DefElem *def);
static void check_file_option(DefElem *def);
static void check_key(DefElem *def);
static void check_trust(DefElem *def);
static List *parse_nodes(const char *value);
static bool parse_int_strict(const char *s, int *out);
static int	option_enum(DefElem *def, const char *const *names, int nnames,
						const char *hint);
static DynWriteMode option_write_mode(DefElem *def);
static bool option_bool(DefElem *def);
static DynInsertMode option_insert_mode(DefElem *def);
static DynColumnRole role_from_name(const char *name, bool *ok);
static void check_role_type(DynTableOptions *t, Form_pg_attribute att, DynColumnRole role);

PG_FUNCTION_INFO_V1(dynamo_fdw_validator);

/*
 * Validate the options of a dynamo_fdw object.  options is the whole list
 * the object would have after the command (ALTER merges before calling), so
 * checks that involve two options (key and key_file) see both.
 */
Datum
dynamo_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *lc;
	DefElem    *key = NULL;
	DefElem    *key_file = NULL;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const char *name = def->defname;

		if (!is_valid_option(name, catalog))
			report_invalid_option(name, catalog);

		if (strcmp(name, "nodes") == 0)
			check_nodes(def);
		else if (strcmp(name, "r") == 0 || strcmp(name, "w") == 0)
			(void) option_int(def, 1, DYN_RING_N_MAX);
		else if (strcmp(name, "timeout_ms") == 0 ||
				 strcmp(name, "connect_timeout_ms") == 0)
			(void) option_int(def, 1, DYN_TIMEOUT_MAX_MS);
		else if (strcmp(name, "fetch_size") == 0)
			(void) option_int(def, 1, DYN_FETCH_SIZE_MAX);
		else if (strcmp(name, "batch_size") == 0)
			(void) option_int(def, 1, DYN_BATCH_SIZE_MAX);
		else if (strcmp(name, "routing") == 0)
		{
			const char *v = defGetString(def);

			if (strcmp(v, "preflist") != 0 && strcmp(v, "any") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"routing\": \"%s\"", v),
						 errhint("Valid values are \"preflist\" (each key to the first healthy node of its preference list) and \"any\" (every key to the first reachable node of \"nodes\").")));
		}
		else if (strcmp(name, "value_format") == 0)
		{
			const char *v = defGetString(def);

			if (strcmp(v, "raw") != 0 && strcmp(v, "row") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"value_format\": \"%s\"", v),
						 errhint("Valid values are \"raw\" (one value column, stored as its bytes) and \"row\" (the other columns, stored as one JSON object).")));
		}
		else if (strcmp(name, "write_mode") == 0)
			(void) option_write_mode(def);
		else if (strcmp(name, "insert_mode") == 0)
			(void) option_insert_mode(def);
		else if (strcmp(name, "merge_function") == 0)
			DynMergeCheckOption(defGetString(def));
		else if (strcmp(name, "merge_write_back") == 0)
			(void) option_bool(def);
		else if (strcmp(name, "updatable") == 0 || strcmp(name, "keep_connections") == 0 ||
				 strcmp(name, "async_capable") == 0)
			(void) defGetBoolean(def);
		else if (strcmp(name, "bucket") == 0)
		{
			const char *v = defGetString(def);
			size_t		len = strlen(v);

			if (len == 0 || len > DYN_BUCKET_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"bucket\": a bucket name is 1 to %d bytes, not %zu",
								DYN_BUCKET_MAX, len)));
		}
		else if (strcmp(name, "role") == 0)
		{
			bool		ok;

			(void) role_from_name(defGetString(def), &ok);
			if (!ok)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"role\": \"%s\"", defGetString(def)),
						 errhint("Valid roles are key, value, vclock, siblings and context.")));
		}
		else if (strcmp(name, "column_name") == 0)
		{
			if (defGetString(def)[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"column_name\": the JSON field name cannot be empty")));
		}
		else if (strcmp(name, "key_file") == 0 || strcmp(name, "trust_file") == 0)
		{
			check_file_option(def);
			if (strcmp(name, "key_file") == 0)
				key_file = def;
		}
		else if (strcmp(name, "key") == 0)
		{
			check_key(def);
			key = def;
		}
		else if (strcmp(name, "trust") == 0)
			check_trust(def);
	}

	if (key != NULL && key_file != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("options \"key\" and \"key_file\" cannot both be given"),
				 errhint("Give the secret key either inline (key) or as a file the server reads (key_file).")));

	PG_RETURN_VOID();
}

/* Whether name is an option of objects of this catalog. */
static bool
is_valid_option(const char *name, Oid context)
{
	for (const DynOption *opt = dyn_options; opt->name; opt++)
		if (opt->context == context && strcmp(opt->name, name) == 0)
			return true;
	return false;
}

/* Refuse an unknown option, listing the options valid on this object. */
static void
report_invalid_option(const char *name, Oid context)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (const DynOption *opt = dyn_options; opt->name; opt++)
		if (opt->context == context)
			appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", opt->name);
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
			 errmsg("invalid option \"%s\"", name),
			 buf.len > 0
			 ? errhint("Valid options in this context are: %s", buf.data)
			 : errhint("There are no valid options in this context.")));
}

/* Parse a decimal integer with nothing around it; false on any junk or overflow. */
static bool
parse_int_strict(const char *s, int *out)
{
	char	   *end;
	long		v;

	if (s == NULL || *s == '\0' || *s == ' ' || *s == '+')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < INT_MIN || v > INT_MAX)
		return false;
	*out = (int) v;
	return true;
}

/* The integer value of an option, which must be within [min, max]. */
static int
option_int(DefElem *def, int min, int max)
{
	const char *v = defGetString(def);
	int			i;

	if (!parse_int_strict(v, &i) || i < min || i > max)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", def->defname, v),
				 errhint("\"%s\" must be an integer from %d to %d.", def->defname, min, max)));
	return i;
}

/*
 * The index in names of an option's value; any other value is refused with
 * the valid ones and what they mean (hint).
 */
static int
option_enum(DefElem *def, const char *const *names, int nnames, const char *hint)
{
	const char *v = defGetString(def);

	for (int i = 0; i < nnames; i++)
		if (strcmp(v, names[i]) == 0)
			return i;
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"%s\": \"%s\"", def->defname, v),
			 errhint("%s", hint)));
	pg_unreachable();
}

/* A boolean option: on, off, true, false (and what else parse_bool takes). */
static bool
option_bool(DefElem *def)
{
	const char *v = defGetString(def);
	bool		b;

	if (!parse_bool(v, &b))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", def->defname, v),
				 errhint("Valid values are \"on\" and \"off\".")));
	return b;
}

/* write_mode: commit or immediate. */
static DynWriteMode
option_write_mode(DefElem *def)
{
	return (DynWriteMode) option_enum(def, write_mode_names, lengthof(write_mode_names),
									  "Valid values are \"commit\" (writes are sent when the transaction commits, and ROLLBACK undoes them) and \"immediate\" (each statement's writes are sent before it ends).");
}

/* insert_mode: error, replace or sibling. */
static DynInsertMode
option_insert_mode(DefElem *def)
{
	return (DynInsertMode) option_enum(def, insert_mode_names, lengthof(insert_mode_names),
									   "Valid values are \"error\" (inserting a key that exists fails with unique_violation), \"replace\" (the insert supersedes every version the key holds) and \"sibling\" (a blind write, kept beside the versions the key holds).");
}

/* The name of a write mode or an insert mode, for EXPLAIN and messages. */
const char *
DynWriteModeName(DynWriteMode mode)
{
	return write_mode_names[mode];
}

const char *
DynInsertModeName(DynInsertMode mode)
{
	return insert_mode_names[mode];
}

/*
 * Split the nodes option into "host:port" strings.  Returns NIL when any
 * entry is malformed (the caller says what a good one looks like).
 */
static List *
parse_nodes(const char *value)
{
	List	   *out = NIL;
	char	   *copy = pstrdup(value);
	char	   *p = copy;

	for (;;)
	{
		char	   *comma = strchr(p, ',');
		char	   *s = p;
		char	   *e;
		char	   *colon;
		int			port;

		if (comma)
			*comma = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		colon = strrchr(s, ':');
		if (colon == NULL || colon == s || e - s > DYN_RING_ADDRESS_MAX ||
			!parse_int_strict(colon + 1, &port) || port < 1 || port > 65535)
			return NIL;
		/* a bracketed IPv6 address must be closed; a bare one is ambiguous */
		if (s[0] == '[' ? colon[-1] != ']' : memchr(s, ':', colon - s) != NULL)
			return NIL;
		out = lappend(out, pstrdup(s));
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return out;
}

/* nodes: one or more HOST:PORT separated by commas. */
static void
check_nodes(DefElem *def)
{
	const char *v = defGetString(def);

	if (parse_nodes(v) == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"nodes\": \"%s\"", v),
				 errdetail("Each node is HOST:PORT with a port from 1 to 65535 ([ADDRESS]:PORT for IPv6), and nodes are separated by commas."),
				 errhint("For example: nodes '127.0.0.1:7401,127.0.0.1:7402'.")));
}

/*
 * key_file and trust_file make the server process read a file, so only
 * superusers and members of pg_read_server_files may set them; the path
 * must be absolute, as the server's working directory is not the user's;
 * and the server process must be able to read it now (the validator runs
 * in the server process, so access() here is that process's view).  The
 * file is read again when a connection is made, which reports a file that
 * has gone or changed since.
 */
static void
check_file_option(DefElem *def)
{
	const char *v = defGetString(def);

	if (!superuser() && !has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only superusers and members of pg_read_server_files may set option \"%s\"",
						def->defname),
				 errhint("Give the secret key inline with option \"key\", and the trust file's text with option \"trust\".")));
	if (!is_absolute_path(v))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\" is not an absolute path",
						def->defname, v)));
	if (access(v, R_OK) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read file \"%s\" given in option \"%s\": %m",
						v, def->defname),
				 errhint("The file must be readable by the operating-system user the PostgreSQL server runs as.")));
}

/* key: a secret key as text.  Checked now; never quoted in the message. */
static void
check_key(DefElem *def)
{
	const char *v = defGetString(def);
	dyn_identity id;
	char		err[256];

	if (dyn_identity_from_text(&id, v, strlen(v), err, sizeof(err)) != DYN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"key\": %s", err),
				 errhint("Give the secret key line of a key file made by \"dynamod keygen\" (86 characters), or the whole file.")));
	dyn_identity_clear(&id);
}

/* trust: the text of a trust file, checked line by line now. */
static void
check_trust(DefElem *def)
{
	const char *v = defGetString(def);
	dyn_trust	t;
	char		err[512];

	dyn_trust_init(&t);
	if (dyn_trust_parse(&t, "trust", v, strlen(v), err, sizeof(err)) != DYN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"trust\": %s", err),
				 errhint("Each line is PUBLIC_KEY ROLE NAME, as in a trust file.")));
	dyn_trust_free(&t);
}

/* The role named name (key, value, vclock, siblings, context). */
static DynColumnRole
role_from_name(const char *name, bool *ok)
{
	*ok = true;
	for (int i = DYNCOL_KEY; i < DYNCOL_NROLES; i++)
		if (strcmp(name, role_names[i]) == 0)
			return (DynColumnRole) i;
	*ok = false;
	return DYNCOL_FIELD;
}

/* The name of a role, for messages. */
const char *
DynColumnRoleName(DynColumnRole role)
{
	return role_names[role];
}

/*
 * Resolve the options of a server and the user mapping in use, with their
 * defaults.  The trust file defaults to the file named "trust" beside the
 * key file, as dynamo-cli's --trust does.
 */
DynServerOptions *
DynGetServerOptions(ForeignServer *server, UserMapping *user)
{
	DynServerOptions *o = palloc0(sizeof(DynServerOptions));
	ListCell   *lc;
	char	   *um_trust_file = NULL;
	char	   *um_trust = NULL;

	o->timeout_ms = DYN_DEFAULT_TIMEOUT_MS;
	o->connect_timeout_ms = DYN_DEFAULT_CONNECT_TIMEOUT_MS;
	o->routing = DYN_ROUTE_PREFLIST;
	o->fetch_size = DYN_DEFAULT_FETCH_SIZE;
	o->batch_size = DYN_DEFAULT_BATCH_SIZE;
	o->write_mode = DYN_WRITE_COMMIT;
	o->insert_mode = DYN_INSERT_ERROR;

	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "nodes") == 0)
			o->nodes = parse_nodes(defGetString(def));
		else if (strcmp(def->defname, "r") == 0)
			o->r = option_int(def, 1, DYN_RING_N_MAX);
		else if (strcmp(def->defname, "w") == 0)
			o->w = option_int(def, 1, DYN_RING_N_MAX);
		else if (strcmp(def->defname, "timeout_ms") == 0)
			o->timeout_ms = option_int(def, 1, DYN_TIMEOUT_MAX_MS);
		else if (strcmp(def->defname, "connect_timeout_ms") == 0)
			o->connect_timeout_ms = option_int(def, 1, DYN_TIMEOUT_MAX_MS);
		else if (strcmp(def->defname, "routing") == 0)
			o->routing = strcmp(defGetString(def), "any") == 0
				? DYN_ROUTE_ANY : DYN_ROUTE_PREFLIST;
		else if (strcmp(def->defname, "fetch_size") == 0)
			o->fetch_size = option_int(def, 1, DYN_FETCH_SIZE_MAX);
		else if (strcmp(def->defname, "batch_size") == 0)
			o->batch_size = option_int(def, 1, DYN_BATCH_SIZE_MAX);
		else if (strcmp(def->defname, "trust_file") == 0)
			o->trust_file = defGetString(def);
		else if (strcmp(def->defname, "trust") == 0)
			o->trust = defGetString(def);
		else if (strcmp(def->defname, "write_mode") == 0)
			o->write_mode = option_write_mode(def);
		else if (strcmp(def->defname, "insert_mode") == 0)
			o->insert_mode = option_insert_mode(def);
	}
	if (user != NULL)
	{
		foreach(lc, user->options)
		{
			DefElem    *def = (DefElem *) lfirst(lc);

			if (strcmp(def->defname, "key_file") == 0)
				o->key_file = defGetString(def);
			else if (strcmp(def->defname, "key") == 0)
				o->key = defGetString(def);
			else if (strcmp(def->defname, "trust_file") == 0)
				um_trust_file = defGetString(def);
			else if (strcmp(def->defname, "trust") == 0)
				um_trust = defGetString(def);
		}
	}
	/* the user mapping's trust wins over the server's */
	if (um_trust_file != NULL || um_trust != NULL)
	{
		o->trust_file = um_trust_file;
		o->trust = um_trust;
	}
	if (o->trust_file == NULL && o->trust == NULL && o->key_file != NULL)
	{
		char	   *dir = pstrdup(o->key_file);

		get_parent_directory(dir);
		o->trust_file = psprintf("%s/trust", dir);
	}
	if (o->nodes == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("server \"%s\" has no option \"nodes\"", server->servername),
				 errhint("Give the addresses of one or more nodes: ALTER SERVER %s OPTIONS (ADD nodes '127.0.0.1:7401').",
						 quote_identifier(server->servername))));
	return o;
}

/*
 * A column's type must suit its role: the siblings count is an integer,
 * the clock JSON, the context and the key anything with text I/O (the key
 * is pushed down only for types whose equality is byte equality).
 */
static void
check_role_type(DynTableOptions *t, Form_pg_attribute att, DynColumnRole role)
{
	Oid			typ = att->atttypid;
	bool		ok = true;
	const char *want = NULL;

	switch (role)
	{
		case DYNCOL_SIBLINGS:
			ok = typ == INT2OID || typ == INT4OID || typ == INT8OID;
			want = "smallint, integer or bigint";
			break;
		case DYNCOL_VCLOCK:
			ok = typ == JSONBOID || typ == JSONOID || typ == TEXTOID || typ == VARCHAROID;
			want = "jsonb, json or text";
			break;
		case DYNCOL_CONTEXT:
			ok = typ == TEXTOID || typ == VARCHAROID;
			want = "text";
			break;
		default:
			break;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("column \"%s\" of foreign table \"%s\" has role %s and must be of type %s",
						NameStr(att->attname), t->relname, role_names[role], want)));
}

/*
 * The table's options and the role of each of its columns.  A column's
 * role comes from its option role, else from its name; in the row format a
 * column named value is an ordinary field (the whole row is the value), and
 * giving it role value is refused.
 */
DynTableOptions *
DynGetTableOptions(Relation rel, ForeignServer *server)
{
	Oid			relid = RelationGetRelid(rel);
	ForeignTable *table = GetForeignTable(relid);
	TupleDesc	tupdesc = RelationGetDescr(rel);
	DynTableOptions *t = palloc0(sizeof(DynTableOptions));
	ListCell   *lc;
	bool		have_fetch = false;
	bool		have_batch = false;
	bool		have_write_mode = false;
	bool		have_insert_mode = false;

	t->relid = relid;
	t->relname = pstrdup(RelationGetRelationName(rel));
	t->bucket = t->relname;
	t->format = DYN_FORMAT_RAW;
	t->fetch_size = DYN_DEFAULT_FETCH_SIZE;
	t->batch_size = DYN_DEFAULT_BATCH_SIZE;
	t->write_mode = DYN_WRITE_COMMIT;
	t->insert_mode = DYN_INSERT_ERROR;

	foreach(lc, table->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "bucket") == 0)
			t->bucket = defGetString(def);
		else if (strcmp(def->defname, "r") == 0)
			t->r = option_int(def, 1, DYN_RING_N_MAX);
		else if (strcmp(def->defname, "w") == 0)
			t->w = option_int(def, 1, DYN_RING_N_MAX);
		else if (strcmp(def->defname, "value_format") == 0)
			t->format = strcmp(defGetString(def), "row") == 0
				? DYN_FORMAT_ROW : DYN_FORMAT_RAW;
		else if (strcmp(def->defname, "fetch_size") == 0)
		{
			t->fetch_size = option_int(def, 1, DYN_FETCH_SIZE_MAX);
			have_fetch = true;
		}
		else if (strcmp(def->defname, "batch_size") == 0)
		{
			t->batch_size = option_int(def, 1, DYN_BATCH_SIZE_MAX);
			have_batch = true;
		}
		else if (strcmp(def->defname, "write_mode") == 0)
		{
			t->write_mode = option_write_mode(def);
			have_write_mode = true;
		}
		else if (strcmp(def->defname, "insert_mode") == 0)
		{
			t->insert_mode = option_insert_mode(def);
			have_insert_mode = true;
		}
		else if (strcmp(def->defname, "merge_function") == 0)
			t->merge_function = defGetString(def);
		else if (strcmp(def->defname, "merge_write_back") == 0)
			t->merge_write_back = option_bool(def);
	}
	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (!have_fetch && strcmp(def->defname, "fetch_size") == 0)
			t->fetch_size = option_int(def, 1, DYN_FETCH_SIZE_MAX);
		else if (!have_batch && strcmp(def->defname, "batch_size") == 0)
			t->batch_size = option_int(def, 1, DYN_BATCH_SIZE_MAX);
		else if (!have_write_mode && strcmp(def->defname, "write_mode") == 0)
			t->write_mode = option_write_mode(def);
		else if (!have_insert_mode && strcmp(def->defname, "insert_mode") == 0)
			t->insert_mode = option_insert_mode(def);
	}

	t->natts = tupdesc->natts;
	t->roles = palloc0(sizeof(DynColumnRole) * Max(t->natts, 1));
	t->dropped = palloc0(sizeof(bool) * Max(t->natts, 1));
	t->fields = palloc0(sizeof(char *) * Max(t->natts, 1));
	for (int i = 0; i < t->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		AttrNumber	attno = i + 1;
		DynColumnRole role = DYNCOL_FIELD;
		bool		explicit_role = false;
		const char *field = NULL;
		bool		ok;

		if (att->attisdropped)
		{
			t->dropped[i] = true;
			continue;
		}
		foreach(lc, GetForeignColumnOptions(relid, attno))
		{
			DefElem    *def = (DefElem *) lfirst(lc);

			if (strcmp(def->defname, "role") == 0)
			{
				role = role_from_name(defGetString(def), &ok);
				explicit_role = true;
			}
			else if (strcmp(def->defname, "column_name") == 0)
				field = defGetString(def);
		}
		if (!explicit_role)
		{
			role = role_from_name(NameStr(att->attname), &ok);
			if (!ok || (role == DYNCOL_VALUE && t->format == DYN_FORMAT_ROW))
				role = DYNCOL_FIELD;
		}
		else if (role == DYNCOL_VALUE && t->format == DYN_FORMAT_ROW)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
					 errmsg("column \"%s\" of foreign table \"%s\" cannot have role value in the row format",
							NameStr(att->attname), t->relname),
					 errdetail("With value_format 'row' the value is every column without a role, stored as one JSON object.")));
		if (role == DYNCOL_FIELD && t->format == DYN_FORMAT_RAW)
		{
			/* in the raw format a column without a role holds nothing */
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
					 errmsg("column \"%s\" of foreign table \"%s\" has no role",
							NameStr(att->attname), t->relname),
					 errdetail("With value_format 'raw' every column is the key, the value, vclock, siblings or context."),
					 errhint("Name the column after its role, give it OPTIONS (role '...'), or use value_format 'row' to store the other columns as one JSON object.")));
		}
		if (role != DYNCOL_FIELD)
		{
			if (t->attno[role] != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
						 errmsg("columns \"%s\" and \"%s\" of foreign table \"%s\" both have role %s",
								NameStr(TupleDescAttr(tupdesc, t->attno[role] - 1)->attname),
								NameStr(att->attname), t->relname, role_names[role])));
			check_role_type(t, att, role);
			t->attno[role] = attno;
		}
		t->roles[i] = role;
		if (field != NULL && (role != DYNCOL_FIELD || t->format != DYN_FORMAT_ROW))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
					 errmsg("column \"%s\" of foreign table \"%s\" has option column_name but is not a field of the row format",
							NameStr(att->attname), t->relname),
					 errdetail("column_name names the JSON field a column of value_format 'row' is stored as; the key, value, vclock, siblings and context columns are no fields.")));
		if (role == DYNCOL_FIELD)
		{
			t->fields[i] = pstrdup(field ? field : NameStr(att->attname));
			for (int j = 0; j < i; j++)
				if (t->fields[j] != NULL && strcmp(t->fields[j], t->fields[i]) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
							 errmsg("columns \"%s\" and \"%s\" of foreign table \"%s\" are both stored as JSON field \"%s\"",
									NameStr(TupleDescAttr(tupdesc, j)->attname),
									NameStr(att->attname), t->relname, t->fields[i]),
							 errhint("Give one of them another OPTIONS (column_name '...').")));
		}
	}
	if (t->attno[DYNCOL_KEY] == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
				 errmsg("foreign table \"%s\" has no key column", t->relname),
				 errhint("Name a column \"key\", or give one OPTIONS (role 'key').")));
	return t;
}

/*
 * R (is_write false) or W for a request: the GUC when set, else the
 * table's option, else the server's, else 0, which asks the node for the
 * cluster's default.  *source says which decided.
 */
int
DynResolveQuorum(bool is_write, const DynTableOptions *topts,
				 const DynServerOptions *sopts, DynQuorumSource *source)
{
	int			guc = is_write ? dynamo_fdw_w : dynamo_fdw_r;
	int			tab = topts ? (is_write ? topts->w : topts->r) : 0;
	int			srv = sopts ? (is_write ? sopts->w : sopts->r) : 0;

	if (guc > 0)
	{
		*source = DYN_QSRC_GUC;
		return guc;
	}
	if (tab > 0)
	{
		*source = DYN_QSRC_TABLE;
		return tab;
	}
	if (srv > 0)
	{
		*source = DYN_QSRC_SERVER;
		return srv;
	}
	*source = DYN_QSRC_CLUSTER;
	return 0;
}

/*
 * The write mode of a write to this table: the GUC when set, else the
 * table's option, else the server's, else commit.
 */
DynWriteMode
DynResolveWriteMode(const DynTableOptions *topts)
{
	return dynamo_fdw_write_mode >= 0 ? (DynWriteMode) dynamo_fdw_write_mode
		: topts->write_mode;
}

/* Where an R or W came from, as EXPLAIN says it. */
const char *
DynQuorumSourceName(DynQuorumSource source, bool is_write)
{
	switch (source)
	{
		case DYN_QSRC_GUC:
			return is_write ? "dynamo_fdw.w" : "dynamo_fdw.r";
		case DYN_QSRC_TABLE:
			return "table option";
		case DYN_QSRC_SERVER:
			return "server option";
		case DYN_QSRC_CLUSTER:
		default:
			return "cluster default";
	}
}

/*
 * The GUCs.  0 leaves the choice to the options; a session or SET LOCAL
 * overrides them for its own statements.
 */
void
DynDefineGUCs(void)
{
	DefineCustomIntVariable("dynamo_fdw.r",
							"R for dynamo_fdw reads (0: the table's, server's or cluster's).",
							"Replicas that must answer a GET before it succeeds.",
							&dynamo_fdw_r, 0, 0, DYN_RING_N_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("dynamo_fdw.w",
							"W for dynamo_fdw writes (0: the table's, server's or cluster's).",
							"Replicas that must acknowledge a PUT or DELETE before it succeeds.",
							&dynamo_fdw_w, 0, 0, DYN_RING_N_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("dynamo_fdw.timeout_ms",
							"How long dynamo_fdw waits for a node's reply (0: the server's timeout_ms).",
							NULL,
							&dynamo_fdw_timeout_ms, 0, 0, DYN_TIMEOUT_MAX_MS,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomEnumVariable("dynamo_fdw.write_mode",
							 "When dynamo_fdw writes are sent (default: the table's or server's write_mode).",
							 "commit: at COMMIT, undone by ROLLBACK; immediate: before each statement ends.",
							 &dynamo_fdw_write_mode, -1, write_mode_guc_values,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("dynamo_fdw.write_queue_mb",
							"How much a transaction may queue in dynamo_fdw writes to send at COMMIT.",
							"A statement that would queue more fails; commit in smaller transactions or use write_mode immediate.",
							&dynamo_fdw_write_queue_mb, DYN_DEFAULT_WRITE_QUEUE_MB, 1, MAX_KILOBYTES / 1024,
							PGC_USERSET, GUC_UNIT_MB, NULL, NULL, NULL);
	MarkGUCPrefixReserved("dynamo_fdw");
}

/*
 * A boolean option (updatable, keep_connections, async_capable): the
 * table's (table_options; NIL for a server-only option), else the
 * server's, else dflt.
 */
bool
DynOptionBool(List *table_options, List *server_options, const char *name, bool dflt)
{
	ListCell   *lc;

	foreach(lc, table_options)
		if (strcmp(((DefElem *) lfirst(lc))->defname, name) == 0)
			return defGetBoolean((DefElem *) lfirst(lc));
	foreach(lc, server_options)
		if (strcmp(((DefElem *) lfirst(lc))->defname, name) == 0)
			return defGetBoolean((DefElem *) lfirst(lc));
	return dflt;
}
