/*-------------------------------------------------------------------------
 *
 * status.c
 *		  A node's STATUS reply, read with PostgreSQL's own jsonb: parsing it
 *		  and picking fields out of it, for the connection (partitions, N,
 *		  default R and W, key counts) and the administration functions.
 *
 * STATUS is a JSON object whose fields grow with the node (DESIGN.md and
 * the README list them); every accessor here returns "absent" rather than
 * failing when a field is missing or of another type, so that callers can
 * degrade (show NULL) for nodes that do not report something yet.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "dynamo_fdw.h"

/*
 * The JSON object of a STATUS reply; any other reply (an error frame, a
 * failed request) is raised as an error, and so is a body that is not a
 * JSON object.
 */
Jsonb *
DynParseStatus(DynConn *conn, int node, const DynRequest *req)
{
	dyn_slice	json;
	char	   *text;
	Jsonb	   *jb;

	if (req->failed || req->reply_type != DYN_MSG_STATUS_REPLY)
		DynReportFailure(conn, (DynRequest *) req, "status request", NULL,
						 (dyn_slice) {NULL, 0});
	if (dyn_status_reply_decode((dyn_slice) {req->body, req->len}, &json) != DYN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("node %s sent a malformed status reply", DynNodeAddress(conn, node))));
	text = pnstrdup((const char *) json.ptr, json.len);
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("node %s sent a status that is not a JSON object",
						DynNodeAddress(conn, node))));
	pfree(text);
	return jb;
}

/* The value of key in the object container obj, into *out; NULL if absent. */
JsonbValue *
DynJsonGet(JsonbContainer *obj, const char *key, JsonbValue *out)
{
	if (obj == NULL || !JsonContainerIsObject(obj))
		return NULL;
	return getKeyJsonValueFromContainer(obj, key, strlen(key), out);
}

/* An integer field (a JSON number, rounded); false if absent or not a number. */
bool
DynJsonInt(JsonbContainer *obj, const char *key, int64 *out)
{
	JsonbValue	v;

	if (DynJsonGet(obj, key, &v) == NULL || v.type != jbvNumeric)
		return false;
	*out = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v.val.numeric)));
	return true;
}

/* A string field, palloc'd; NULL if absent or not a string. */
char *
DynJsonText(JsonbContainer *obj, const char *key)
{
	JsonbValue	v;

	if (DynJsonGet(obj, key, &v) == NULL || v.type != jbvString)
		return NULL;
	return pnstrdup(v.val.string.val, v.val.string.len);
}

/* An object or array field's container; NULL if absent or a scalar. */
JsonbContainer *
DynJsonContainer(JsonbContainer *obj, const char *key)
{
	JsonbValue	v;

	if (DynJsonGet(obj, key, &v) == NULL || v.type != jbvBinary)
		return NULL;
	return v.val.binary.data;
}
