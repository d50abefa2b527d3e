/*-------------------------------------------------------------------------
 *
 * convert.c
 *		  Between Dynamo objects and rows: one row per live sibling (key,
 *		  value or the row format's fields, vclock, siblings, context), and
 *		  the bytes a row is stored as.
 *
 * Keys and raw values are a column's bytes: bytea columns as they are,
 * every other type as its text output (and read back with its input
 * function, after checking the bytes are valid text in the database
 * encoding).  In the row format the value is one JSON object whose fields
 * are the columns without a role, by column name; numbers, booleans and
 * json/jsonb columns are stored as JSON of their own kind, everything else
 * as strings.  A value that does not convert raises the type's own error
 * with a context line naming the table, the column and the key.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "dynamo_fdw.h"
#include "dynamo/vclock.h"
#include "dynamo/wire.h"

static void conversion_error_callback(void *arg);
static Datum datum_from_bytes(DynConvert *cv, AttrNumber attno, const char *bytes,
							  size_t len);
static Datum datum_from_jsonb_value(DynConvert *cv, AttrNumber attno, JsonbValue *v,
									bool *isnull);
static void append_json_field(StringInfo buf, Oid typid, FmgrInfo *out, Datum d);

/* Whether keys of this type are pushed down (equality is byte equality). */
bool
DynKeyTypeSupported(Oid typid)
{
	switch (typid)
	{
		case TEXTOID:
		case VARCHAROID:
		case NAMEOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case UUIDOID:
		case BYTEAOID:
			return true;
		default:
			return false;
	}
}

/*
 * Prepare conversions for rel.  attrs_used (offset by
 * FirstLowInvalidHeapAttributeNumber, as the planner collects them) says
 * which columns a scan must fill; NULL or a whole-row reference means all.
 */
DynConvert *
DynConvertCreate(Relation rel, DynTableOptions *opts, Bitmapset *attrs_used)
{
	DynConvert *cv = palloc0(sizeof(DynConvert));
	TupleDesc	tupdesc = RelationGetDescr(rel);
	bool		all = attrs_used == NULL ||
		bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs_used);

	cv->rel = rel;
	cv->opts = opts;
	cv->tupdesc = tupdesc;
	cv->in_funcs = palloc0(sizeof(FmgrInfo) * Max(tupdesc->natts, 1));
	cv->in_ioparams = palloc0(sizeof(Oid) * Max(tupdesc->natts, 1));
	cv->out_funcs = palloc0(sizeof(FmgrInfo) * Max(tupdesc->natts, 1));
	cv->wanted = palloc0(sizeof(bool) * Max(tupdesc->natts, 1));
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		Oid			fn;
		bool		varlena;

		if (att->attisdropped)
			continue;
		getTypeInputInfo(att->atttypid, &fn, &cv->in_ioparams[i]);
		fmgr_info(fn, &cv->in_funcs[i]);
		getTypeOutputInfo(att->atttypid, &fn, &varlena);
		fmgr_info(fn, &cv->out_funcs[i]);
		cv->wanted[i] = all ||
			bms_is_member(i + 1 - FirstLowInvalidHeapAttributeNumber, attrs_used);
	}
	return cv;
}

/* Error context: which column of which key was being converted. */
static void
conversion_error_callback(void *arg)
{
	DynConvert *cv = (DynConvert *) arg;

	if (cv->cur_attno > 0)
		errcontext("column \"%s\" of foreign table \"%s\", key \"%s\"",
				   NameStr(TupleDescAttr(cv->tupdesc, cv->cur_attno - 1)->attname),
				   cv->opts->relname, cv->cur_key ? cv->cur_key : "?");
}

/*
 * A column's datum from stored bytes: bytea takes them as they are; other
 * types need valid text (no zero byte, valid in the database encoding) and
 * go through their input function.
 */
static Datum
datum_from_bytes(DynConvert *cv, AttrNumber attno, const char *bytes, size_t len)
{
	Form_pg_attribute att = TupleDescAttr(cv->tupdesc, attno - 1);
	char	   *s;

	cv->cur_attno = attno;
	if (att->atttypid == BYTEAOID)
	{
		bytea	   *b = palloc(VARHDRSZ + len);

		SET_VARSIZE(b, VARHDRSZ + len);
		memcpy(VARDATA(b), bytes, len);
		return PointerGetDatum(b);
	}
	if (memchr(bytes, '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("stored bytes contain a zero byte and cannot be read as type %s",
						format_type_be(att->atttypid)),
				 errhint("Declare the column as bytea to read arbitrary bytes.")));
	(void) pg_verifymbstr(bytes, (int) len, false);
	s = pnstrdup(bytes, len);
	return InputFunctionCall(&cv->in_funcs[attno - 1], s, cv->in_ioparams[attno - 1],
							 att->atttypmod);
}

/* A column's datum from one field of a row-format object. */
static Datum
datum_from_jsonb_value(DynConvert *cv, AttrNumber attno, JsonbValue *v, bool *isnull)
{
	Form_pg_attribute att = TupleDescAttr(cv->tupdesc, attno - 1);
	char	   *s;

	cv->cur_attno = attno;
	*isnull = false;
	switch (v->type)
	{
		case jbvNull:
			*isnull = true;
			return (Datum) 0;
		case jbvString:
			s = pnstrdup(v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			s = DatumGetCString(DirectFunctionCall1(numeric_out,
													NumericGetDatum(v->val.numeric)));
			break;
		case jbvBool:
			s = v->val.boolean ? "true" : "false";
			break;
		case jbvBinary:
			s = JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
	return InputFunctionCall(&cv->in_funcs[attno - 1], s, cv->in_ioparams[attno - 1],
							 att->atttypmod);
}

/*
 * Fill values/nulls (tupdesc->natts entries) for one live sibling of key.
 * live_siblings is the siblings column; context the context column's text.
 * Only the wanted columns are converted; the rest are NULL.
 */
void
DynConvertRow(DynConvert *cv, dyn_slice key, const dyn_sibling *sib, int live_siblings,
			  dyn_slice context, Datum *values, bool *nulls)
{
	DynTableOptions *o = cv->opts;
	ErrorContextCallback errcb;
	AttrNumber	a;

	for (int i = 0; i < cv->tupdesc->natts; i++)
	{
		values[i] = (Datum) 0;
		nulls[i] = true;
	}
	cv->cur_key = DynKeyForMessage(key);
	cv->cur_attno = 0;
	errcb.callback = conversion_error_callback;
	errcb.arg = cv;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	if ((a = o->attno[DYNCOL_KEY]) && cv->wanted[a - 1])
	{
		values[a - 1] = datum_from_bytes(cv, a, (const char *) key.ptr, key.len);
		nulls[a - 1] = false;
	}
	if ((a = o->attno[DYNCOL_VALUE]) && cv->wanted[a - 1])
	{
		values[a - 1] = datum_from_bytes(cv, a, (const char *) sib->value.ptr, sib->value.len);
		nulls[a - 1] = false;
	}
	if ((a = o->attno[DYNCOL_VCLOCK]) && cv->wanted[a - 1])
	{
		char	   *json = DynClockJson(&sib->clock);

		values[a - 1] = datum_from_bytes(cv, a, json, strlen(json));
		nulls[a - 1] = false;
	}
	if ((a = o->attno[DYNCOL_SIBLINGS]) && cv->wanted[a - 1])
	{
		Oid			typ = TupleDescAttr(cv->tupdesc, a - 1)->atttypid;

		values[a - 1] = typ == INT8OID ? Int64GetDatum(live_siblings)
			: typ == INT2OID ? Int16GetDatum(live_siblings) : Int32GetDatum(live_siblings);
		nulls[a - 1] = false;
	}
	if ((a = o->attno[DYNCOL_CONTEXT]) && cv->wanted[a - 1])
	{
		values[a - 1] = datum_from_bytes(cv, a, (const char *) context.ptr, context.len);
		nulls[a - 1] = false;
	}
	if (o->format == DYN_FORMAT_ROW)
	{
		bool		any = false;
		Jsonb	   *jb;

		for (int i = 0; i < cv->tupdesc->natts; i++)
			any |= (o->roles[i] == DYNCOL_FIELD && !o->dropped[i] && cv->wanted[i]);
		if (any)
		{
			char	   *text;

			cv->cur_attno = 0;
			jb = NULL;
			text = pnstrdup((const char *) sib->value.ptr, sib->value.len);
			/* check it is JSON first, to say what is wrong in our own words */
			if (strlen(text) == sib->value.len &&
				pg_verifymbstr(text, (int) sib->value.len, true) &&
				pg_parse_json(makeJsonLexContextCstringLen(text, (int) sib->value.len,
														   GetDatabaseEncoding(), true),
							  &nullSemAction) == JSON_SUCCESS)
				jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
			if (jb == NULL || !JB_ROOT_IS_OBJECT(jb))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						 errmsg("value of key \"%s\" in bucket \"%s\" is not a JSON object",
								cv->cur_key, o->bucket),
						 errdetail("Foreign table \"%s\" has value_format 'row', which reads each value as one JSON object of its columns.",
								   o->relname)));
			for (int i = 0; i < cv->tupdesc->natts; i++)
			{
				JsonbValue	v;
				Form_pg_attribute att = TupleDescAttr(cv->tupdesc, i);

				if (o->roles[i] != DYNCOL_FIELD || o->dropped[i] || !cv->wanted[i])
					continue;
				if (getKeyJsonValueFromContainer(&jb->root, NameStr(att->attname),
												 strlen(NameStr(att->attname)), &v) == NULL)
					continue;	/* absent: NULL */
				values[i] = datum_from_jsonb_value(cv, i + 1, &v, &nulls[i]);
			}
		}
	}
	error_context_stack = errcb.previous;
	cv->cur_attno = 0;
}

/* The key bytes of a datum of type typid: raw for bytea, else its text. */
void
DynKeyFromDatum(Oid typid, FmgrInfo *out, Datum d, StringInfo buf)
{
	resetStringInfo(buf);
	if (typid == BYTEAOID)
	{
		bytea	   *b = DatumGetByteaPP(d);

		appendBinaryStringInfo(buf, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
	}
	else
		appendStringInfoString(buf, OutputFunctionCall(out, d));
}

/* Append one field's JSON: numbers, booleans and JSON as such, the rest as strings. */
static void
append_json_field(StringInfo buf, Oid typid, FmgrInfo *out, Datum d)
{
	char	   *s = OutputFunctionCall(out, d);

	switch (typid)
	{
		case BOOLOID:
			appendStringInfoString(buf, DatumGetBool(d) ? "true" : "false");
			return;
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case OIDOID:
		case JSONOID:
		case JSONBOID:
			appendStringInfoString(buf, s);
			return;
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			/* NaN and the infinities are not JSON numbers */
			if (strpbrk(s, "NnIi") == NULL)
			{
				appendStringInfoString(buf, s);
				return;
			}
			break;
		default:
			break;
	}
	escape_json(buf, s);
}

/*
 * The bytes a row is stored as: the raw format's value column (which
 * cannot be null), or the row format's JSON object of every column without
 * a role.
 */
void
DynValueFromSlot(DynConvert *cv, TupleTableSlot *slot, StringInfo buf)
{
	DynTableOptions *o = cv->opts;
	bool		first = true;

	resetStringInfo(buf);
	slot_getallattrs(slot);
	if (o->format == DYN_FORMAT_RAW)
	{
		AttrNumber	a = o->attno[DYNCOL_VALUE];
		Form_pg_attribute att;
		Datum		d;

		if (a == 0)
			return;				/* a table of keys only stores empty values */
		att = TupleDescAttr(cv->tupdesc, a - 1);
		if (slot->tts_isnull[a - 1])
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("null value in column \"%s\" of foreign table \"%s\" cannot be stored",
							NameStr(att->attname), o->relname),
					 errdetail("With value_format 'raw' the value is the column's bytes, which cannot be null."),
					 errhint("DELETE the key instead, or use value_format 'row'.")));
		d = slot->tts_values[a - 1];
		if (att->atttypid == BYTEAOID)
		{
			bytea	   *b = DatumGetByteaPP(d);

			appendBinaryStringInfo(buf, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
		}
		else
			appendStringInfoString(buf, OutputFunctionCall(&cv->out_funcs[a - 1], d));
		return;
	}
	appendStringInfoChar(buf, '{');
	for (int i = 0; i < cv->tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(cv->tupdesc, i);

		if (o->roles[i] != DYNCOL_FIELD || o->dropped[i])
			continue;
		if (!first)
			appendStringInfoChar(buf, ',');
		first = false;
		escape_json(buf, NameStr(att->attname));
		appendStringInfoChar(buf, ':');
		if (slot->tts_isnull[i])
			appendStringInfoString(buf, "null");
		else
			append_json_field(buf, att->atttypid, &cv->out_funcs[i], slot->tts_values[i]);
	}
	appendStringInfoChar(buf, '}');
}

/*
 * A key as error messages show it: as it is when it is printable text,
 * else \x and its bytes in hex; at most about 200 characters.
 */
char *
DynKeyForMessage(dyn_slice key)
{
	size_t		len = Min(key.len, 100);
	bool		plain = memchr(key.ptr, '\0', len) == NULL &&
		pg_verifymbstr((const char *) key.ptr, (int) len, true);
	StringInfoData buf;

	for (size_t i = 0; plain && i < len; i++)
		plain = key.ptr[i] >= 0x20 && key.ptr[i] != 0x7f;
	if (plain)
		return pnstrdup((const char *) key.ptr, Min(key.len, 200));
	initStringInfo(&buf);
	appendStringInfoString(&buf, "\\x");
	for (size_t i = 0; i < len; i++)
		appendStringInfo(&buf, "%02x", key.ptr[i]);
	if (key.len > len)
		appendStringInfoString(&buf, "...");
	return buf.data;
}

/* An object's context (the merge of every sibling's clock) as text. */
char *
DynContextText(const dyn_object *obj)
{
	dyn_vclock	ctx;

	dyn_object_context(obj, &ctx);
	return DynClockContextText(&ctx);
}

/* A clock as the text of a context. */
char *
DynClockContextText(const dyn_vclock *ctx)
{
	dyn_buf		enc;
	dyn_buf		text;
	char	   *out;

	dyn_buf_init(&enc);
	dyn_buf_init(&text);
	dyn_vclock_encode(ctx, &enc);
	dyn_context_to_text(dyn_buf_slice(&enc), &text);
	if (enc.err || text.err)
	{
		dyn_buf_free(&enc);
		dyn_buf_free(&text);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	out = pnstrdup((const char *) text.data, text.len);
	dyn_buf_free(&enc);
	dyn_buf_free(&text);
	return out;
}

/* A clock as JSON: {"n1": 3, "n2": 1}. */
char *
DynClockJson(const dyn_vclock *vc)
{
	dyn_buf		b;
	char	   *out;

	dyn_buf_init(&b);
	dyn_vclock_to_json(vc, &b);
	if (b.err)
	{
		dyn_buf_free(&b);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	out = pnstrdup((const char *) b.data, b.len);
	dyn_buf_free(&b);
	return out;
}
