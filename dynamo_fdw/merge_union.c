/*-------------------------------------------------------------------------
 *
 * merge_union.c
 *		  dynamo_merge_union(jsonb[], jsonb[]) in C (extension version 0.2):
 *		  the union merge the extension ships for the table option
 *		  merge_function, the Dynamo paper's shopping cart.
 *
 * Versions that are all JSON arrays merge into the sorted set of their
 * elements.  Versions that are all objects merge field by field: a field
 * that is an array in every version having it becomes the union of those
 * arrays; a field equal in every version having it keeps that value (as
 * the first of them spells it); any other field makes the merge NULL.
 * Anything else -- mixed kinds, scalars, an SQL NULL among the versions,
 * no versions -- is NULL too, which keeps the siblings.  The clocks are
 * not looked at.
 *
 * Its results are those of version 0.1's plpgsql function, to the byte
 * (the pg_regress suite extension_update compares the two): "sorted" and
 * "equal" are jsonb's own order, compareJsonbContainers, which its
 * jsonb_agg(DISTINCT e ORDER BY e) used; and the elements are sorted by
 * PostgreSQL's qsort (the same sort_template.h algorithm as the tuplesort
 * behind that aggregate) from the order the aggregate was fed (version by
 * version, element by element), keeping the first of each run of equals.
 * So where elements compare equal but are spelt differently (1 and 1.0),
 * the same spelling survives as it did in plpgsql.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/jsonb.h"

/*
 * The elements of the arrays one union merges, in the order they were met;
 * scalars are wrapped as raw-scalar containers, so that every element is a
 * container compareJsonbContainers can order, as jsonb_cmp does.
 */
typedef struct UnionElems
{
	JsonbValue *v;				/* jbvBinary each */
	int			n;
	int			cap;
} UnionElems;

static void union_add(UnionElems *u, JsonbContainer *array);
static JsonbValue *union_push(UnionElems *u, JsonbParseState **st);
static int	union_cmp(const void *a, const void *b, void *arg);
static JsonbContainer *value_container(const JsonbValue *v);
static bool value_is_array(const JsonbValue *v);
static JsonbValue *merge_objects(Jsonb **vals, int n, JsonbParseState **st);

PG_FUNCTION_INFO_V1(dynamo_merge_union);

/*
 * dynamo_merge_union(vals jsonb[], vclocks jsonb[]): not STRICT, as the
 * plpgsql function was not -- NULL clocks still merge.
 */
Datum
dynamo_merge_union(PG_FUNCTION_ARGS)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	Jsonb	  **vals;
	bool		arrays = true;
	bool		objects = true;
	JsonbParseState *st = NULL;
	JsonbValue *res;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(0), JSONBOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &n);
	if (n == 0)
		PG_RETURN_NULL();
	vals = palloc(sizeof(Jsonb *) * n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			PG_RETURN_NULL();
		vals[i] = DatumGetJsonbP(elems[i]);
		arrays &= JB_ROOT_IS_ARRAY(vals[i]) && !JB_ROOT_IS_SCALAR(vals[i]);
		objects &= JB_ROOT_IS_OBJECT(vals[i]);
	}
	if (arrays)
	{
		UnionElems	u = {0};

		for (int i = 0; i < n; i++)
			union_add(&u, &vals[i]->root);
		res = union_push(&u, &st);
	}
	else if (!objects || (res = merge_objects(vals, n, &st)) == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}

/*
 * Merge objects field by field into a new object on *st: its end, or NULL
 * when a field disagrees.  A field is looked at once, with the first
 * version that has it (those before it do not).
 */
static JsonbValue *
merge_objects(Jsonb **vals, int n, JsonbParseState **st)
{
	JsonbValue *fv = palloc(sizeof(JsonbValue) * n);

	(void) pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < n; i++)
	{
		JsonbIterator *it = JsonbIteratorInit(&vals[i]->root);
		JsonbValue	key;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
		{
			int			nfv = 0;
			bool		seen = false;
			bool		all_arrays = true;

			if (tok != WJB_KEY)
				continue;
			for (int j = 0; j < i && !seen; j++)
				seen = getKeyJsonValueFromContainer(&vals[j]->root, key.val.string.val,
													key.val.string.len, &fv[0]) != NULL;
			if (seen)
				continue;
			for (int j = i; j < n; j++)
				if (getKeyJsonValueFromContainer(&vals[j]->root, key.val.string.val,
												 key.val.string.len, &fv[nfv]) != NULL)
					all_arrays &= value_is_array(&fv[nfv++]);
			(void) pushJsonbValue(st, WJB_KEY, &key);
			if (all_arrays)
			{
				UnionElems	u = {0};

				for (int j = 0; j < nfv; j++)
					union_add(&u, fv[j].val.binary.data);
				(void) union_push(&u, st);
				continue;
			}
			for (int j = 1; j < nfv; j++)
				if (compareJsonbContainers(value_container(&fv[0]),
										   value_container(&fv[j])) != 0)
					return NULL;
			(void) pushJsonbValue(st, WJB_VALUE, &fv[0]);
		}
	}
	return pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

/* Whether a value taken out of a container is a JSON array. */
static bool
value_is_array(const JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data) &&
		!JsonContainerIsScalar(v->val.binary.data);
}

/*
 * The container of a value taken out of a container: its own for an
 * array or object, a raw-scalar one made for a scalar (what
 * jsonb_array_elements and -> return, so it compares as theirs did).
 */
static JsonbContainer *
value_container(const JsonbValue *v)
{
	if (v->type == jbvBinary)
		return v->val.binary.data;
	return &JsonbValueToJsonb((JsonbValue *) v)->root;
}

/* Add the elements of an array, in order. */
static void
union_add(UnionElems *u, JsonbContainer *array)
{
	JsonbIterator *it = JsonbIteratorInit(array);
	int			want = u->n + (int) JsonContainerSize(array);
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (want > u->cap)
	{
		u->cap = Max(want, 2 * u->cap);
		u->v = u->v ? repalloc(u->v, sizeof(JsonbValue) * u->cap)
			: palloc(sizeof(JsonbValue) * u->cap);
	}
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbValue *e;

		if (tok != WJB_ELEM)
			continue;
		e = &u->v[u->n++];
		e->type = jbvBinary;
		e->val.binary.data = value_container(&v);
		e->val.binary.len = 0;	/* not read: pushJsonbValue iterates the container */
	}
}

/* Push the sorted set of the elements as an array; returns its end. */
static JsonbValue *
union_push(UnionElems *u, JsonbParseState **st)
{
	JsonbValue *kept = NULL;

	(void) pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
	if (u->n > 1)
		qsort_arg(u->v, u->n, sizeof(JsonbValue), union_cmp, NULL);
	for (int i = 0; i < u->n; i++)
	{
		if (kept != NULL && union_cmp(kept, &u->v[i], NULL) == 0)
			continue;
		kept = &u->v[i];
		(void) pushJsonbValue(st, WJB_ELEM, kept);
	}
	return pushJsonbValue(st, WJB_END_ARRAY, NULL);
}

/* jsonb's order, as jsonb_cmp has it (qsort_arg comparator). */
static int
union_cmp(const void *a, const void *b, void *arg)
{
	return compareJsonbContainers(((const JsonbValue *) a)->val.binary.data,
								  ((const JsonbValue *) b)->val.binary.data);
}
