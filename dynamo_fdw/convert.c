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
 * are the columns without a role, by column_name or else column name;
 * numbers, booleans and json/jsonb columns are stored as JSON of their own
 * kind, everything else as strings.  A value that does not convert raises
 * the type's own error with a context line naming the table, the column
 * and the key.
 *
 * Type fidelity: text forms are written and read under fixed transmission
 * modes, as postgres_fdw's set_transmission_modes (DateStyle ISO, MDY;
 * IntervalStyle postgres; extra_float_digits 3), whatever the session's
 * settings, so that what one session writes every session reads back as
 * the same value.  They hold only around conversions (one row's, one
 * key's), never across the executor's own evaluation of the query (the
 * session's own output keeps its settings), and only when the session's
 * settings differ and the row has a type whose text depends on them.  Being
 * per row, they are not set with set_config_option under a GUC nest level
 * (about 3 us a row, parsing the DateStyle each time) but by swapping the
 * four variables those GUCs are (none has an assign hook with other
 * effects), restored by PG_FINALLY when a conversion fails.
 *
 * NULLs in the row format: a SQL NULL is stored as JSON null, except in a
 * json or jsonb column, where it is stored as no field at all, so that the
 * JSON value null stays a value: an absent field reads as SQL NULL, a null
 * field as SQL NULL, or as JSON null in a json/jsonb column.
 *
 * UPDATE in the row format keeps the fields no column names: the scan of
 * an UPDATE's target keeps each row's stored bytes (DynOldValueRemember,
 * by a row id the scan puts in the row's ctid) and the modify merges the
 * new columns into them (DynValueFromSlotMerging).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "dynamo_fdw.h"
#include "dynamo/vclock.h"
#include "dynamo/wire.h"

/*
 * The top-level fields of a stored JSON object, as their raw text: what
 * reading a json column (whose text is kept as it was written) and keeping
 * the fields no column names need.  Filled by row_fields_parse.
 */
typedef struct RowField
{
	char	   *name;			/* de-escaped */
	const char *start;			/* the value's text in the stored bytes */
	size_t		len;
} RowField;

typedef struct RowFieldParse
{
	JsonLexContext *lex;
	RowField   *fields;
	int			n;
	int			cap;
	const char *start;			/* of the field being parsed */
} RowFieldParse;

/*
 * The row ids and stored values an UPDATE's scan of one table read, for
 * its modify (see the file comment); lives as long as the statement.
 */
typedef struct DynOldValues
{
	EState	   *estate;
	Oid			relid;
	MemoryContext cxt;
	dyn_slice  *values;			/* by row id - 1 */
	uint64		n;
	uint64		cap;
	MemoryContextCallback cb;
	struct DynOldValues *next;
} DynOldValues;

static DynOldValues *old_values_list = NULL;

/* The session's settings while the transmission modes hold. */
typedef struct DynModes
{
	int			date_style;
	int			date_order;
	int			interval_style;
	int			float_digits;
} DynModes;

/* The arguments of one row's conversion, for run_in_modes. */
typedef struct ConvertRowArgs
{
	DynConvert *cv;
	dyn_slice	key;
	const dyn_sibling *sib;
	int			live_siblings;
	dyn_slice	context;
	Datum	   *values;
	bool	   *nulls;
} ConvertRowArgs;

/* The arguments of one output function call, for run_in_modes. */
typedef struct OutputArgs
{
	FmgrInfo   *out;
	Datum		d;
	StringInfo	buf;
} OutputArgs;

/* The arguments of one stored value's columns, for run_in_modes. */
typedef struct ValueArgs
{
	DynConvert *cv;
	TupleTableSlot *slot;
	StringInfo	buf;
} ValueArgs;

static bool modes_enter(DynModes *saved);
static void modes_leave(const DynModes *saved);
static void run_in_modes(bool needed, void (*fn) (void *arg), void *arg);
static void convert_row(void *arg);
static void append_output(void *arg);
static void append_value(void *arg);
static void conversion_error_callback(void *arg);
static bool type_text_is_fixed(Oid typid);
static Datum datum_from_bytes(DynConvert *cv, AttrNumber attno, const char *bytes,
							  size_t len);
static Datum datum_from_jsonb_value(DynConvert *cv, AttrNumber attno, JsonbValue *v,
									bool *isnull);
static void append_json_field(StringInfo buf, Oid typid, FmgrInfo *out, Datum d);
static void append_row_fields(DynConvert *cv, TupleTableSlot *slot, StringInfo buf,
							  bool *first);
static void row_fields_parse(DynConvert *cv, const char *text, size_t len,
							 RowFieldParse *ps);
static void row_field_start(void *state, char *fname, bool isnull);
static void row_field_end(void *state, char *fname, bool isnull);
static DynOldValues *old_values_find(EState *estate, Oid relid);
static void old_values_forget(void *arg);

/*
 * Swap the transmission modes in when the session's differ, keeping the
 * session's in *saved; false when they are the session's already.  Any
 * positive extra_float_digits already gives the shortest exact text of a
 * float (PostgreSQL 12 on), so only 0 and below are changed, to 3.
 */
static bool
modes_enter(DynModes *saved)
{
	if (DateStyle == USE_ISO_DATES && DateOrder == DATEORDER_MDY &&
		IntervalStyle == INTSTYLE_POSTGRES && extra_float_digits > 0)
		return false;
	saved->date_style = DateStyle;
	saved->date_order = DateOrder;
	saved->interval_style = IntervalStyle;
	saved->float_digits = extra_float_digits;
	DateStyle = USE_ISO_DATES;
	DateOrder = DATEORDER_MDY;
	IntervalStyle = INTSTYLE_POSTGRES;
	if (extra_float_digits <= 0)
		extra_float_digits = 3;
	return true;
}

/* The session's settings back. */
static void
modes_leave(const DynModes *saved)
{
	DateStyle = saved->date_style;
	DateOrder = saved->date_order;
	IntervalStyle = saved->interval_style;
	extra_float_digits = saved->float_digits;
}

/*
 * fn(arg) in the transmission modes when needed (see the file comment),
 * the session's settings restored however it ends.
 */
static void
run_in_modes(bool needed, void (*fn) (void *arg), void *arg)
{
	DynModes	saved;

	if (!needed || !modes_enter(&saved))
	{
		fn(arg);
		return;
	}
	PG_TRY();
	{
		fn(arg);
	}
	PG_FINALLY();
	{
		modes_leave(&saved);
	}
	PG_END_TRY();
}

/*
 * Whether a type's text is the same under every DateStyle, IntervalStyle
 * and extra_float_digits: then converting it needs no transmission modes.
 * (jsonb and numeric print numbers as numerics, never as floats.)
 */
static bool
type_text_is_fixed(Oid typid)
{
	switch (typid)
	{
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NAMEOID:
		case BYTEAOID:
		case BOOLOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case OIDOID:
		case NUMERICOID:
		case JSONOID:
		case JSONBOID:
		case UUIDOID:
			return true;
		default:
			return false;
	}
}

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
		if (!type_text_is_fixed(att->atttypid))
		{
			cv->modes_all = true;
			cv->modes_wanted |= cv->wanted[i];
		}
		cv->want_json_text |= cv->wanted[i] && att->atttypid == JSONOID &&
			opts->roles[i] == DYNCOL_FIELD;
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
	if (att->atttypid == JSONBOID)
		return JsonbPGetDatum(JsonbValueToJsonb(v));	/* null included */
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
	ConvertRowArgs args = {cv, key, sib, live_siblings, context, values, nulls};

	run_in_modes(cv->modes_wanted, convert_row, &args);
}

/* DynConvertRow's work, in the transmission modes when they are needed. */
static void
convert_row(void *arg)
{
	ConvertRowArgs *args = (ConvertRowArgs *) arg;
	DynConvert *cv = args->cv;
	dyn_slice	key = args->key;
	const dyn_sibling *sib = args->sib;
	int			live_siblings = args->live_siblings;
	dyn_slice	context = args->context;
	Datum	   *values = args->values;
	bool	   *nulls = args->nulls;
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
		RowFieldParse ps = {0};

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
			if (cv->want_json_text)
				row_fields_parse(cv, text, sib->value.len, &ps);
			for (int i = 0; i < cv->tupdesc->natts; i++)
			{
				JsonbValue	v;
				Form_pg_attribute att = TupleDescAttr(cv->tupdesc, i);

				if (o->roles[i] != DYNCOL_FIELD || o->dropped[i] || !cv->wanted[i])
					continue;
				if (att->atttypid == JSONOID)
				{
					/* the field's text as it was written (the last one of a name) */
					for (int f = ps.n - 1; f >= 0; f--)
						if (strcmp(ps.fields[f].name, o->fields[i]) == 0)
						{
							cv->cur_attno = i + 1;
							values[i] = InputFunctionCall(&cv->in_funcs[i],
														  pnstrdup(ps.fields[f].start,
																   ps.fields[f].len),
														  cv->in_ioparams[i],
														  att->atttypmod);
							nulls[i] = false;
							break;
						}
					continue;
				}
				if (getKeyJsonValueFromContainer(&jb->root, o->fields[i],
												 strlen(o->fields[i]), &v) == NULL)
					continue;	/* absent: NULL */
				values[i] = datum_from_jsonb_value(cv, i + 1, &v, &nulls[i]);
			}
		}
	}
	error_context_stack = errcb.previous;
	cv->cur_attno = 0;
}

/* Prepare converting values of a key source of type exprtype. */
void
DynKeySourceInit(DynKeySource *ks, Oid exprtype, bool is_array)
{
	Oid			fn;
	bool		varlena;

	ks->is_array = is_array;
	ks->type = is_array ? get_element_type(exprtype) : exprtype;
	if (is_array)
		get_typlenbyvalalign(ks->type, &ks->elmlen, &ks->elmbyval, &ks->elmalign);
	getTypeOutputInfo(ks->type, &fn, &varlena);
	fmgr_info(fn, &ks->out);
}

/*
 * Add the keys a (non-NULL) value of the key source names to f: the key,
 * or the array's elements but its NULLs (key = NULL is never true).
 * Allocates in the current memory context; f copies the keys and removes
 * duplicates.
 */
void
DynKeySourceAdd(const DynKeySource *ks, Datum d, DynFetch *f)
{
	StringInfoData key;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	initStringInfo(&key);
	if (!ks->is_array)
	{
		DynKeyFromDatum(ks->type, (FmgrInfo *) &ks->out, d, &key);
		DynFetchAddKey(f, key.data, key.len);
		return;
	}
	deconstruct_array(DatumGetArrayTypeP(d), ks->type, ks->elmlen, ks->elmbyval,
					  ks->elmalign, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			continue;
		DynKeyFromDatum(ks->type, (FmgrInfo *) &ks->out, elems[i], &key);
		DynFetchAddKey(f, key.data, key.len);
	}
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
	{
		OutputArgs	args = {out, d, buf};

		run_in_modes(!type_text_is_fixed(typid), append_output, &args);
	}
}

/* The arguments of one value's datum from its bytes, for run_in_modes. */
typedef struct ValueDatumArgs
{
	DynConvert *cv;
	dyn_slice	bytes;
	Datum		result;
} ValueDatumArgs;

/* DynValueDatum's work (for run_in_modes). */
static void
value_datum(void *arg)
{
	ValueDatumArgs *args = (ValueDatumArgs *) arg;

	args->result = datum_from_bytes(args->cv, args->cv->opts->attno[DYNCOL_VALUE],
									(const char *) args->bytes.ptr, args->bytes.len);
}

/*
 * A stored value as a datum of the table's value type (what a merge
 * function takes): the raw format's value column type, or jsonb for the
 * row format's object.  A value that does not convert raises the type's
 * error (the caller's error context names the key).
 */
Datum
DynValueDatum(DynConvert *cv, dyn_slice bytes)
{
	if (cv->opts->format == DYN_FORMAT_ROW)
	{
		char	   *text = pnstrdup((const char *) bytes.ptr, bytes.len);

		return DirectFunctionCall1(jsonb_in, CStringGetDatum(text));
	}
	else
	{
		AttrNumber	a = cv->opts->attno[DYNCOL_VALUE];
		ValueDatumArgs args = {cv, bytes, (Datum) 0};

		run_in_modes(!type_text_is_fixed(TupleDescAttr(cv->tupdesc, a - 1)->atttypid),
					 value_datum, &args);
		cv->cur_attno = 0;
		return args.result;
	}
}

/* The bytes a datum of the table's value type is stored as (see DynValueDatum). */
void
DynValueDatumBytes(DynConvert *cv, Datum d, StringInfo buf)
{
	resetStringInfo(buf);
	if (cv->opts->format == DYN_FORMAT_ROW)
	{
		Jsonb	   *jb = DatumGetJsonbP(d);

		appendStringInfoString(buf, JsonbToCString(NULL, &jb->root, VARSIZE(jb)));
	}
	else
	{
		AttrNumber	a = cv->opts->attno[DYNCOL_VALUE];

		DynKeyFromDatum(TupleDescAttr(cv->tupdesc, a - 1)->atttypid,
						&cv->out_funcs[a - 1], d, buf);
	}
}

/* Append the text of a datum (for run_in_modes). */
static void
append_output(void *arg)
{
	OutputArgs *args = (OutputArgs *) arg;

	appendStringInfoString(args->buf, OutputFunctionCall(args->out, args->d));
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
			/*
			 * NaN and the infinities are not JSON numbers, and a float's -0
			 * would read back as the numeric 0: those are strings
			 */
			if (strpbrk(s, "NnIi") == NULL &&
				!(s[0] == '-' && typid != NUMERICOID &&
				  (typid == FLOAT4OID ? DatumGetFloat4(d) : DatumGetFloat8(d)) == 0))
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
	DynValueFromSlotMerging(cv, slot, (dyn_slice) {NULL, 0}, buf);
}

/*
 * As DynValueFromSlot, and in the row format keep the fields of old_value
 * (the bytes the row was read from; empty: none) that no column names, in
 * the text they were stored as.  old_value must be a JSON object.
 */
void
DynValueFromSlotMerging(DynConvert *cv, TupleTableSlot *slot, dyn_slice old_value,
						StringInfo buf)
{
	DynTableOptions *o = cv->opts;
	ValueArgs	args = {cv, slot, buf};

	resetStringInfo(buf);
	slot_getallattrs(slot);
	run_in_modes(cv->modes_all, append_value, &args);
	if (o->format == DYN_FORMAT_ROW && old_value.len > 0)
	{
		RowFieldParse ps = {0};
		char	   *text = pnstrdup((const char *) old_value.ptr, old_value.len);
		bool		first = buf->len == 1;	/* just the '{' */

		row_fields_parse(cv, text, old_value.len, &ps);
		for (int f = 0; f < ps.n; f++)
		{
			bool		named = false;

			for (int i = 0; i < cv->tupdesc->natts && !named; i++)
				named = o->fields[i] != NULL && strcmp(o->fields[i], ps.fields[f].name) == 0;
			if (named)
				continue;
			if (!first)
				appendStringInfoChar(buf, ',');
			first = false;
			escape_json(buf, ps.fields[f].name);
			appendStringInfoChar(buf, ':');
			appendBinaryStringInfo(buf, ps.fields[f].start, (int) ps.fields[f].len);
		}
	}
	if (o->format == DYN_FORMAT_ROW)
		appendStringInfoChar(buf, '}');
}

/*
 * The columns of a stored value: the raw format's value column, or the
 * row format's '{' and fields of the columns (for run_in_modes; the caller
 * adds the fields it keeps and the '}').
 */
static void
append_value(void *arg)
{
	ValueArgs  *args = (ValueArgs *) arg;
	DynConvert *cv = args->cv;
	TupleTableSlot *slot = args->slot;
	StringInfo	buf = args->buf;
	DynTableOptions *o = cv->opts;
	bool		first = true;

	if (o->format == DYN_FORMAT_RAW)
	{
		AttrNumber	a = o->attno[DYNCOL_VALUE];
		Form_pg_attribute att;
		Datum		d;

		if (a != 0)				/* a table of keys only stores empty values */
		{
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
		}
		return;
	}
	appendStringInfoChar(buf, '{');
	append_row_fields(cv, slot, buf, &first);
}

/*
 * Append "field":value for every field column of slot (SQL NULL as null,
 * or as no field in a json/jsonb column).
 */
static void
append_row_fields(DynConvert *cv, TupleTableSlot *slot, StringInfo buf, bool *first)
{
	DynTableOptions *o = cv->opts;

	for (int i = 0; i < cv->tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(cv->tupdesc, i);
		bool		json = att->atttypid == JSONOID || att->atttypid == JSONBOID;

		if (o->roles[i] != DYNCOL_FIELD || o->dropped[i] ||
			(json && slot->tts_isnull[i]))
			continue;
		if (!*first)
			appendStringInfoChar(buf, ',');
		*first = false;
		escape_json(buf, o->fields[i]);
		appendStringInfoChar(buf, ':');
		if (slot->tts_isnull[i])
			appendStringInfoString(buf, "null");
		else
			append_json_field(buf, att->atttypid, &cv->out_funcs[i], slot->tts_values[i]);
	}
}

/* A top-level field begins: its value's text starts at the current token. */
static void
row_field_start(void *state, char *fname, bool isnull)
{
	RowFieldParse *ps = (RowFieldParse *) state;

	if (ps->lex->lex_level == 1)
		ps->start = ps->lex->token_start;
}

/* A top-level field ends: keep its name and the text of its value. */
static void
row_field_end(void *state, char *fname, bool isnull)
{
	RowFieldParse *ps = (RowFieldParse *) state;

	if (ps->lex->lex_level != 1)
		return;
	if (ps->n == ps->cap)
	{
		ps->cap = ps->cap ? ps->cap * 2 : 16;
		ps->fields = ps->fields ? repalloc(ps->fields, sizeof(RowField) * ps->cap)
			: palloc(sizeof(RowField) * ps->cap);
	}
	ps->fields[ps->n].name = fname;
	ps->fields[ps->n].start = ps->start;
	ps->fields[ps->n].len = ps->lex->prev_token_terminator - ps->start;
	ps->n++;
}

/*
 * The top-level fields of the JSON object text (len bytes, NUL-terminated)
 * into ps; a value that is not a JSON object is an error.
 */
static void
row_fields_parse(DynConvert *cv, const char *text, size_t len, RowFieldParse *ps)
{
	JsonSemAction sem = {0};
	const char *p = text + strspn(text, " \t\n\r");

	memset(ps, 0, sizeof(*ps));
	sem.semstate = ps;
	sem.object_field_start = row_field_start;
	sem.object_field_end = row_field_end;
	ps->lex = makeJsonLexContextCstringLen((char *) text, (int) len,
										   GetDatabaseEncoding(), true);
	if (strlen(text) != len || !pg_verifymbstr(text, (int) len, true) ||
		*p != '{' || pg_parse_json(ps->lex, &sem) != JSON_SUCCESS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("value in bucket \"%s\" is not a JSON object", cv->opts->bucket),
				 errdetail("Foreign table \"%s\" has value_format 'row', which reads each value as one JSON object of its columns.",
						   cv->opts->relname)));
}

/* The old values of relid in estate, or NULL. */
static DynOldValues *
old_values_find(EState *estate, Oid relid)
{
	for (DynOldValues *ov = old_values_list; ov != NULL; ov = ov->next)
		if (ov->estate == estate && ov->relid == relid)
			return ov;
	return NULL;
}

/* The statement is over: unlink its old values (the memory goes with it). */
static void
old_values_forget(void *arg)
{
	DynOldValues **pp = &old_values_list;

	while (*pp != NULL && *pp != (DynOldValues *) arg)
		pp = &(*pp)->next;
	if (*pp != NULL)
		*pp = (*pp)->next;
}

/*
 * Keep the stored bytes a scan of relid read (copied, for the rest of the
 * statement) and give the row the id to find them by, in *tid.
 */
void
DynOldValueRemember(EState *estate, Oid relid, dyn_slice value, ItemPointer tid)
{
	DynOldValues *ov = old_values_find(estate, relid);
	uint8	   *copy;

	if (ov == NULL)
	{
		MemoryContext cxt = AllocSetContextCreate(estate->es_query_cxt,
												  "dynamo_fdw old values",
												  ALLOCSET_DEFAULT_SIZES);

		ov = MemoryContextAllocZero(cxt, sizeof(DynOldValues));
		ov->estate = estate;
		ov->relid = relid;
		ov->cxt = cxt;
		ov->cb.func = old_values_forget;
		ov->cb.arg = ov;
		MemoryContextRegisterResetCallback(cxt, &ov->cb);
		ov->next = old_values_list;
		old_values_list = ov;
	}
	if (ov->n == ov->cap)
	{
		ov->cap = ov->cap ? ov->cap * 2 : 256;
		ov->values = ov->values
			? repalloc_huge(ov->values, sizeof(dyn_slice) * ov->cap)
			: MemoryContextAllocHuge(ov->cxt, sizeof(dyn_slice) * ov->cap);
	}
	copy = MemoryContextAlloc(ov->cxt, Max(value.len, 1));
	memcpy(copy, value.ptr, value.len);
	ov->values[ov->n++] = (dyn_slice) {copy, value.len};
	/* row id n as (block, offset 1..0xffff) */
	ItemPointerSet(tid, (BlockNumber) ((ov->n - 1) / 0xffff),
				   (OffsetNumber) ((ov->n - 1) % 0xffff + 1));
}

/*
 * The stored bytes of the row whose id is tid (DynOldValueRemember in
 * this statement's scan of relid); empty when there are none.
 */
dyn_slice
DynOldValueFind(EState *estate, Oid relid, ItemPointer tid)
{
	DynOldValues *ov = old_values_find(estate, relid);
	uint64		id;

	if (ov == NULL || !ItemPointerIsValid(tid))
		return (dyn_slice) {NULL, 0};
	id = (uint64) ItemPointerGetBlockNumberNoCheck(tid) * 0xffff +
		ItemPointerGetOffsetNumberNoCheck(tid) - 1;
	if (id >= ov->n)
		return (dyn_slice) {NULL, 0};
	return ov->values[id];
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
