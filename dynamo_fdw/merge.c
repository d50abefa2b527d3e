/*-------------------------------------------------------------------------
 *
 * merge.c
 *		  Reconciliation in SQL: a foreign table's merge_function turns the
 *		  siblings of a key into one row, and merge_write_back writes that
 *		  merge back so the key converges to one version.
 *
 * The Dynamo paper leaves concurrent versions to the application, which
 * knows what they mean (its shopping cart merges two carts by union).  Here
 * the application declares that once, on the table: a SQL function
 *
 *		f(vals <value type>[], vclocks jsonb[]) RETURNS <value type>
 *
 * where the value type is the value column's in the raw format and jsonb
 * (the stored object) in the row format.  vclocks[i] describes vals[i]:
 * {"clock": {"n1": 3, ...}, "dot": "n1", "ts_ms": 1764624000123}, its
 * clock, the entry that is its own event, and when that event happened
 * (the coordinator's wall clock, ms since 1970); a version the transaction
 * queued and has not written yet has an empty clock, a null dot and the
 * current time.  A read of a key with two or more live versions calls f
 * once and returns one row: f's result, with siblings still counting the
 * versions and context covering all of them, so an UPDATE (or a write with
 * that context) collapses them.  A NULL result keeps the versions as rows.
 *
 * A name without a schema means the extension's schema (where the shipped
 * functions are), not the reader's search_path, so every reader calls the
 * function that was checked; a function of one's own is named with its
 * schema.  The function is resolved and checked when the option is given (it must
 * exist with that shape, be IMMUTABLE or STABLE, and the user giving the
 * option must be allowed to EXECUTE it: readers of the table need not be),
 * and again, against the table's value type and for its volatility, when a
 * scan starts.
 *
 * Write-back (merge_write_back 'on') writes the merged value with the
 * context the read saw, like read repair does for replicas: queued for
 * COMMIT with write_mode 'commit', sent at once with 'immediate' (and its
 * replies taken when the scan ends).  It is best effort: a write-back
 * that fails fails nothing else, and is reported by one WARNING.  Reads
 * in a read-only transaction, and the scans of an UPDATE or DELETE of the
 * table (which write the key themselves), do not write back.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "foreign/foreign.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/timestamp.h"

#include "dynamo_fdw.h"
#include "dynamo/vclock.h"
#include "dynamo/wire.h"

/* A write-back in flight (write_mode 'immediate'). */
typedef struct MergeWrite
{
	DynRequest	req;
	char	   *key;
	size_t		keylen;
} MergeWrite;

/*
 * A table's merge function as a scan uses it: the function, resolved for
 * the table's value type and ready to call, what write-back it does, and
 * what it did (for EXPLAIN ANALYZE).
 */
struct DynMerge
{
	char	   *name;
	Oid			fn;
	FmgrInfo	flinfo;
	Oid			valtype;
	Oid			collation;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	bool		write_back;
	bool		row_format;		/* the result must be a JSON object */
	MemoryContext cxt;			/* the write-backs in flight */
	DynConn    *conn;			/* ... which go through this connection */
	List	   *inflight;		/* MergeWrite */
	uint64		merged;
	uint64		written_back;
	uint64		write_back_failed;
	/* error context */
	const char *relname;
	dyn_slice	cur_key;
};

static Oid	merge_resolve(const char *name, Oid valtype, bool *polymorphic);
static Oid	merge_extension_schema(void);
static void merge_check_volatility(Oid fn);
static void merge_error_callback(void *arg);
static Datum sibling_clock_json(const dyn_sibling *sib);
static Datum pending_clock_json(void);
static void merge_collect(DynMerge *m, bool everything);

/*
 * The function name (possibly schema-qualified) resolves to: one taking
 * (valtype[], jsonb[]) and returning valtype -- any array type when
 * valtype is InvalidOid -- or a polymorphic one (anyarray, jsonb[]) ->
 * anyelement (and the anycompatible kind).  An exact match wins.
 * InvalidOid when there is none.
 */
static Oid
merge_resolve(const char *name, Oid valtype, bool *polymorphic)
{
	List	   *names = stringToQualifiedNameList(name);
	FuncCandidateList c;
	Oid			poly = InvalidOid;

	/*
	 * An unqualified name means the extension's own schema, never the
	 * reader's search_path: every reader must call the function the option
	 * was checked against.
	 */
	if (list_length(names) == 1)
		names = list_make2(makeString(get_namespace_name(merge_extension_schema())),
						   linitial(names));
	c = FuncnameGetCandidates(names, 2, NIL, false, false, false, true);

	for (; c != NULL; c = c->next)
	{
		Oid			rettype = get_func_rettype(c->oid);
		Oid			elem = get_element_type(c->args[0]);

		if (c->args[1] != JSONBARRAYOID)
			continue;
		if ((c->args[0] == ANYARRAYOID && rettype == ANYELEMENTOID) ||
			(c->args[0] == ANYCOMPATIBLEARRAYOID && rettype == ANYCOMPATIBLEOID))
		{
			poly = c->oid;
			continue;
		}
		if (OidIsValid(elem) && rettype == elem &&
			(!OidIsValid(valtype) || elem == valtype))
		{
			*polymorphic = false;
			return c->oid;
		}
	}
	*polymorphic = true;
	return poly;
}

/*
 * Refuse a VOLATILE merge function: when the option is given, and again
 * when a scan starts (CREATE OR REPLACE may have made it VOLATILE since).
 */
static void
merge_check_volatility(Oid fn)
{
	if (func_volatile(fn) == PROVOLATILE_VOLATILE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
				 errmsg("merge function %s is VOLATILE", format_procedure(fn)),
				 errdetail("A merge function is called by every read of a key with siblings, as often as the plan reads it; its result must depend on its arguments only."),
				 errhint("Declare it IMMUTABLE (or STABLE): ALTER FUNCTION %s IMMUTABLE.",
						 format_procedure(fn))));
}

/*
 * The schema the extension (and its merge functions) lives in: its FDW
 * handler's, which CREATE EXTENSION made there.
 */
static Oid
merge_extension_schema(void)
{
	return get_func_namespace(GetForeignDataWrapperByName("dynamo_fdw", false)->fdwhandler);
}

/*
 * Check the option merge_function when it is given: the function exists
 * with the shape a merge function has, is not VOLATILE, and the current
 * user may execute it.
 */
void
DynMergeCheckOption(const char *name)
{
	bool		polymorphic;
	Oid			fn;

	fn = merge_resolve(name, InvalidOid, &polymorphic);
	if (!OidIsValid(fn))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("merge function %s(values[], vclocks jsonb[]) does not exist", name),
				 strchr(name, '.') == NULL
				 ? errdetail("An unqualified name is looked up in the extension's schema \"%s\" only, whatever the reader's search_path; qualify the name of a function of your own: merge_function 'myschema.%s'.",
							 get_namespace_name(merge_extension_schema()), name)
				 : 0,
				 errhint("A merge function takes an array of the table's values (jsonb in the row format) and an array of their clocks as jsonb, and returns one value of the same type, or NULL to keep the siblings: CREATE FUNCTION f(vals jsonb[], vclocks jsonb[]) RETURNS jsonb ...")));
	merge_check_volatility(fn);
	if (pg_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for merge function %s", format_procedure(fn)),
				 errdetail("The user who sets merge_function must be allowed to EXECUTE it; the table's readers need not be.")));
}

/*
 * The merge of a table (NULL when it has no merge_function), resolved for
 * its value type, in the current memory context.
 */
DynMerge *
DynMergeCreate(DynTableOptions *opts, DynConvert *cv)
{
	DynMerge   *m;
	bool		polymorphic;
	Oid			valtype;
	Oid			arraytype;

	if (opts->merge_function == NULL)
		return NULL;
	if (opts->format == DYN_FORMAT_ROW)
		valtype = JSONBOID;
	else if (opts->attno[DYNCOL_VALUE] != 0)
		valtype = TupleDescAttr(cv->tupdesc, opts->attno[DYNCOL_VALUE] - 1)->atttypid;
	else
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" has a merge_function but no value column",
						opts->relname)));
	m = palloc0(sizeof(DynMerge));
	m->name = opts->merge_function;
	m->relname = opts->relname;
	m->write_back = opts->merge_write_back;
	m->row_format = opts->format == DYN_FORMAT_ROW;
	m->fn = merge_resolve(opts->merge_function, valtype, &polymorphic);
	if (!OidIsValid(m->fn))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("merge function %s(%s[], jsonb[]) of foreign table \"%s\" does not exist",
						opts->merge_function, format_type_be(valtype), opts->relname),
				 errhint("The merge function takes and returns the table's value type (jsonb in the row format).")));
	merge_check_volatility(m->fn);
	arraytype = get_array_type(valtype);
	m->valtype = valtype;
	m->collation = get_typcollation(valtype);
	get_typlenbyvalalign(valtype, &m->typlen, &m->typbyval, &m->typalign);
	fmgr_info(m->fn, &m->flinfo);
	if (polymorphic)
	{
		/* a polymorphic function learns its argument types from the call */
		FuncExpr   *call = makeFuncExpr(m->fn, valtype,
										list_make2(makeNullConst(arraytype, -1, InvalidOid),
												   makeNullConst(JSONBARRAYOID, -1, InvalidOid)),
										InvalidOid, m->collation, COERCE_EXPLICIT_CALL);

		fmgr_info_set_expr((Node *) call, &m->flinfo);
	}
	m->cxt = AllocSetContextCreate(CurrentMemoryContext, "dynamo_fdw merge write-backs",
								   ALLOCSET_SMALL_SIZES);
	return m;
}

/* Error context: the merge of which key. */
static void
merge_error_callback(void *arg)
{
	DynMerge   *m = (DynMerge *) arg;

	errcontext("merge function %s for key \"%s\" of foreign table \"%s\"",
			   m->name, DynKeyForMessage(m->cur_key), m->relname);
}

/* {"clock": ..., "dot": ..., "ts_ms": ...} of a stored sibling, as jsonb. */
static Datum
sibling_clock_json(const dyn_sibling *sib)
{
	const dyn_vclock_entry *dot = &sib->clock.e[sib->dot];
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"clock\": %s, \"dot\": ", DynClockJson(&sib->clock));
	escape_json(&buf, pnstrdup(dot->id, dot->idlen));
	appendStringInfo(&buf, ", \"ts_ms\": " UINT64_FORMAT "}", dot->ts_ms);
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
}

/* The same for the transaction's own version, not written yet. */
static Datum
pending_clock_json(void)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		ms = (now / 1000) + ((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)) * SECS_PER_DAY * 1000;

	return DirectFunctionCall1(jsonb_in,
							   CStringGetDatum(psprintf("{\"clock\": {}, \"dot\": null, \"ts_ms\": " INT64_FORMAT "}", ms)));
}

/*
 * Merge the live versions of key a reader sees -- obj's live siblings that
 * the queued version (pending, its context pending_ctx; both NULL when
 * none) does not hide, and pending itself unless it is a delete -- into
 * out, the bytes the merged value is stored as.
 *
 * @return false when the merge function returned NULL (keep the siblings)
 */
bool
DynMergeSiblings(DynMerge *m, DynConvert *cv, dyn_slice key, const dyn_object *obj,
				 const DynQueued *pending, const dyn_vclock *pending_ctx, StringInfo out)
{
	int			cap = (int) obj->n + 1;
	Datum	   *vals = palloc(sizeof(Datum) * cap);
	Datum	   *clocks = palloc(sizeof(Datum) * cap);
	int			n = 0;
	ErrorContextCallback errcb;
	LOCAL_FCINFO(fcinfo, 2);
	Datum		result;

	m->cur_key = key;
	errcb.callback = merge_error_callback;
	errcb.arg = m;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	for (size_t i = 0; i < obj->n; i++)
	{
		const dyn_sibling *s = &obj->s[i];

		if (s->tombstone || (pending != NULL && DynXactHides(pending_ctx, s)))
			continue;
		vals[n] = DynValueDatum(cv, s->value);
		clocks[n++] = sibling_clock_json(s);
	}
	if (pending != NULL && !pending->deleted)
	{
		vals[n] = DynValueDatum(cv, (dyn_slice) {(const uint8_t *) pending->value,
									pending->valuelen});
		clocks[n++] = pending_clock_json();
	}
	InitFunctionCallInfoData(*fcinfo, &m->flinfo, 2, m->collation, NULL, NULL);
	fcinfo->args[0].value = PointerGetDatum(construct_array(vals, n, m->valtype, m->typlen,
															m->typbyval, m->typalign));
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = PointerGetDatum(construct_array(clocks, n, JSONBOID, -1, false,
															TYPALIGN_INT));
	fcinfo->args[1].isnull = false;
	result = FunctionCallInvoke(fcinfo);
	if (!fcinfo->isnull)
	{
		/*
		 * In the row format the result is the stored object: anything else
		 * would be written back over the siblings though no read of the
		 * table's columns can take it.
		 */
		if (m->row_format && !JB_ROOT_IS_OBJECT(DatumGetJsonbP(result)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("merge function %s returned a JSON value that is not an object",
							format_procedure(m->fn)),
					 errdetail("Foreign table \"%s\" has value_format 'row': a merged value is one JSON object of its columns.",
							   m->relname),
					 errhint("Return an object, or NULL to keep the siblings.")));
		DynValueDatumBytes(cv, result, out);
		m->merged++;
	}
	error_context_stack = errcb.previous;
	return !fcinfo->isnull;
}

/* Whether reads of this scan write their merges back. */
bool
DynMergeWritesBack(const DynMerge *m)
{
	return m != NULL && m->write_back;
}

/*
 * Write a merged value back to key with the context the read saw (binary):
 * queued for COMMIT, or sent now (its reply taken by DynMergeFinish).
 */
void
DynMergeWriteBack(DynMerge *m, DynConn *conn, DynWriteMode mode, const char *bucket,
				  dyn_slice key, dyn_slice value, dyn_slice context, int w)
{
	MemoryContext old;
	MergeWrite *mw;
	dyn_put_req put;

	if (mode == DYN_WRITE_COMMIT)
	{
		DynXactQueueWriteBack(conn, m->relname, bucket, key, value, context, w);
		m->written_back++;
		return;
	}
	if (list_length(m->inflight) >= DYN_DEFAULT_FETCH_SIZE)
		merge_collect(m, false);
	old = MemoryContextSwitchTo(m->cxt);
	mw = palloc0(sizeof(MergeWrite));
	mw->key = palloc(Max(key.len, 1));
	memcpy(mw->key, key.ptr, key.len);
	mw->keylen = key.len;
	put.bucket = dyn_slice_str(bucket);
	put.key = (dyn_slice) {(const uint8_t *) mw->key, mw->keylen};
	put.context = context;
	put.value = value;
	put.w = (uint8) w;
	DynInitRequest(&mw->req, m->cxt);
	DynSendPut(conn, DynNodeForKey(conn, bucket, put.key), &mw->req, &put, false);
	m->inflight = lappend(m->inflight, mw);
	m->conn = conn;
	MemoryContextSwitchTo(old);
}

/*
 * Take the replies of the write-backs in flight (everything: all of them;
 * else the older half), counting what was written and what failed.
 */
static void
merge_collect(DynMerge *m, bool everything)
{
	int			take = everything ? list_length(m->inflight) : list_length(m->inflight) / 2;
	ListCell   *lc;
	int			i = 0;

	foreach(lc, m->inflight)
	{
		MergeWrite *mw = lfirst(lc);

		if (i++ >= take)
			break;
		DynAwait(m->conn, &mw->req);
		if (!mw->req.failed && mw->req.reply_type == DYN_MSG_PUT_REPLY)
			m->written_back++;
		else
			m->write_back_failed++;
		DynReleaseReply(&mw->req);
	}
	m->inflight = list_delete_first_n(m->inflight, take);
	if (m->inflight == NIL)
		MemoryContextReset(m->cxt);
}

/*
 * The scan is done (or starts again): take every write-back's reply, and
 * say once how many failed (they keep their siblings).
 */
void
DynMergeFinish(DynMerge *m)
{
	if (m == NULL)
		return;
	if (m->inflight != NIL)
		merge_collect(m, true);
	if (m->write_back_failed > 0)
	{
		ereport(WARNING,
				(errmsg("%llu merged keys of foreign table \"%s\" could not be written back",
						(unsigned long long) m->write_back_failed, m->relname),
				 errdetail("They keep their siblings; the next read merges them again.")));
		m->write_back_failed = 0;
	}
}

/* EXPLAIN: the function; ANALYZE: the keys merged and written back. */
void
DynMergeExplain(const DynMerge *m, struct ExplainState *es)
{
	if (m == NULL)
		return;
	ExplainPropertyText("Merge Function", m->name, es);
	if (es->analyze)
	{
		ExplainPropertyUInteger("Keys Merged", NULL, m->merged, es);
		if (m->write_back)
			ExplainPropertyUInteger("Merges Written Back", NULL, m->written_back, es);
	}
}
