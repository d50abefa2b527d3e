/*-------------------------------------------------------------------------
 *
 * plan.c
 *		  Planning scans of dynamo_fdw foreign tables: which quals name keys,
 *		  how many rows to expect, the paths (quorum GETs of the keys, a
 *		  coverage scan, GETs parameterized by an outer row), and the plan.
 *
 * A qual becomes quorum GETs when it compares the key column with the
 * key type's btree equality to something computable before the scan:
 *
 *		key = expr				one key
 *		key IN (...)			the list (the parser's key = ANY(ARRAY[...]))
 *		key = ANY(array)		the array's elements
 *		key = a OR key = b ...	every arm's keys (arms of the forms above)
 *
 * where expr is a constant, a parameter (including an InitPlan's result,
 * as in key = ANY(ARRAY(SELECT id FROM t))) or any stable expression over
 * those; with a parameterized path it may also use columns of outer
 * relations (a nested loop then looks keys up one outer row at a time).
 * The key type must be one whose equality is byte equality of its stored
 * form (text, varchar, name, integers, uuid, bytea, with a deterministic
 * collation), or the lookup could miss keys SQL calls equal.  Every other
 * qual stays in the plan's qual list and is checked locally.
 *
 * Row counts: the keys asked for (one row per key, siblings being rare);
 * for scans, the table's reltuples once ANALYZEd, else the cluster's key
 * count (the nodes' STATUS, summed over N) -- what the backend learnt last
 * when no node answers, else a default: planning never needs the cluster.
 *
 * Also here: what batch.c's batched nested loop asks of the inner table
 * (DynJoinKeyFind, DynJoinKeyPath, DynBatchCost), whether a scan may run
 * in an async Append (option async_capable), and the refusal of SELECT ...
 * FOR UPDATE (no key can be locked).
 *
 * count(*) of a whole table (no qual at all, no GROUP BY, no HAVING, only
 * count(*) in the target list) is planned as a coverage count
 * (GetForeignUpperPaths): the same coverage scan asking pages without
 * values, counted in the FDW as the scan's rows would be (scan.c), and not
 * when the table has a merge_function (a merge may keep the siblings or
 * not, which only calling it with the values tells).
 * dynamo_fdw.enable_count_pushdown = off plans the plain scan instead.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/nbtree.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/selfuncs.h"

#include "dynamo_fdw.h"
#include "dynamo/ring.h"

/* Costs, in the planner's units (seq_page_cost = 1). */
#define DYN_STARTUP_COST		15.0	/* a round trip to the cluster */
#define DYN_GET_COST			0.5		/* one more GET in a pipeline */
#define DYN_PAGE_COST			2.0		/* one SCAN page request */
#define DYN_SCAN_ROW_COST		0.1		/* a scanned key's transfer and decoding */
/* Rows assumed for a table never ANALYZEd whose cluster does not say. */
#define DYN_DEFAULT_TUPLES		1000.0
/* Keys assumed for an array known only at run time. */
#define DYN_DEFAULT_ARRAY_KEYS	10

/* A qual that names keys, and what it takes to evaluate it. */
typedef struct DynKeyQual
{
	RestrictInfo *rinfo;
	Expr	   *source;			/* the key, or array of keys */
	bool		is_array;
	Oid			elemtype;		/* the keys' type */
	int			nkeys;			/* known count, or -1 */
} DynKeyQual;

/*
 * What GetForeignRelSize learns and the later callbacks use
 * (baserel->fdw_private).
 */
typedef struct DynRelInfo
{
	ForeignServer *server;
	UserMapping *user;
	DynTableOptions *opts;
	AttrNumber	key_attno;
	Oid			key_type;
	Oid			key_opfamily;	/* InvalidOid: the key is never pushed down */
	DynKeyQual *best;			/* the base key qual used, or NULL */
	double		tuples;
	uint32		q;
	Bitmapset  *attrs_used;
	bool		async_capable;	/* option async_capable, table else server */
} DynRelInfo;

bool		dynamo_fdw_enable_count_pushdown = true;

static bool is_key_var(DynRelInfo *ri, RelOptInfo *baserel, Node *node);
static bool is_count_star(Node *node);
static ForeignScan *dyn_plan_rel(PlannerInfo *root, RelOptInfo *baserel,
								 ForeignPath *best_path, List *scan_clauses, List *tlist,
								 Plan *outer_plan);
static bool classify_key_qual(PlannerInfo *root, RelOptInfo *baserel, DynRelInfo *ri,
							  RestrictInfo *rinfo, bool allow_outer, DynKeyQual *out);
static bool classify_key_clause(PlannerInfo *root, RelOptInfo *baserel, DynRelInfo *ri,
								Expr *clause, bool allow_outer, DynKeyQual *out);
static bool classify_key_or(PlannerInfo *root, RelOptInfo *baserel, DynRelInfo *ri,
							BoolExpr *or, bool allow_outer, DynKeyQual *out);
static int	source_key_count(Expr *source, bool is_array);
static DynKeyQual *best_key_qual(PlannerInfo *root, RelOptInfo *baserel, DynRelInfo *ri,
								 List *clauses, bool allow_outer);
static double key_count_estimate(const DynKeyQual *kq);
static bool ec_member_is_key(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
							 EquivalenceMember *em, void *arg);
static bool relids_listed(List *list, Relids relids);
static List *key_join_clauses(PlannerInfo *root, RelOptInfo *rel, DynRelInfo *ri);
static Relids key_qual_outer(RelOptInfo *rel, RestrictInfo *rinfo);

/*
 * Whether list holds a set equal to relids (list_member cannot say: in
 * PostgreSQL 15 a Bitmapset is no Node for equal()).
 */
static bool
relids_listed(List *list, Relids relids)
{
	ListCell   *lc;

	foreach(lc, list)
		if (bms_equal((Relids) lfirst(lc), relids))
			return true;
	return false;
}

/* Whether node is our key column (maybe under a binary-compatible relabel). */
static bool
is_key_var(DynRelInfo *ri, RelOptInfo *baserel, Node *node)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return node && IsA(node, Var) &&
		((Var *) node)->varno == baserel->relid &&
		((Var *) node)->varlevelsup == 0 &&
		((Var *) node)->varattno == ri->key_attno;
}

/*
 * Whether rinfo is a key qual (see the file comment); fills *out.  With
 * allow_outer, the key source may use columns of other relations (a
 * parameterized path will supply them).
 */
static bool
classify_key_qual(PlannerInfo *root, RelOptInfo *baserel, DynRelInfo *ri,
				  RestrictInfo *rinfo, bool allow_outer, DynKeyQual *out)
{
	if (!OidIsValid(ri->key_opfamily) || rinfo->pseudoconstant ||
		!classify_key_clause(root, baserel, ri, rinfo->clause, allow_outer, out))
		return false;
	out->rinfo = rinfo;
	return true;
}

/*
 * Whether clause names keys: key = expr, key = ANY(array), or an OR of
 * those (key = 'a' OR key = 'b' OR key IN (...)), whose keys are then the
 * one array of every arm's keys.  Fills *out but its rinfo.
 */
static bool
classify_key_clause(PlannerInfo *root, RelOptInfo *baserel, DynRelInfo *ri,
					Expr *clause, bool allow_outer, DynKeyQual *out)
{
	Node	   *keyside;
	Node	   *source;
	Oid			opno;
	Oid			collid;
	Oid			srctype;
	bool		is_array;
	Relids		varnos;

	if (is_orclause(clause))
		return classify_key_or(root, baserel, ri, (BoolExpr *) clause, allow_outer, out);
	if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
	{
		OpExpr	   *op = (OpExpr *) clause;

		keyside = linitial(op->args);
		source = lsecond(op->args);
		opno = op->opno;
		collid = op->inputcollid;
		is_array = false;
		if (!is_key_var(ri, baserel, keyside))
		{
			if (!is_key_var(ri, baserel, source))
				return false;
			keyside = lsecond(op->args);
			source = linitial(op->args);
			opno = get_commutator(opno);
		}
	}
	else if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *saop = (ScalarArrayOpExpr *) clause;

		if (!saop->useOr || list_length(saop->args) != 2)
			return false;
		keyside = linitial(saop->args);
		source = lsecond(saop->args);
		opno = saop->opno;
		collid = saop->inputcollid;
		is_array = true;
		if (!is_key_var(ri, baserel, keyside))
			return false;
	}
	else
		return false;

	/* the key type's equality, and equality that is byte equality */
	if (!OidIsValid(opno) || !op_in_opfamily(opno, ri->key_opfamily) ||
		get_op_opfamily_strategy(opno, ri->key_opfamily) != BTEqualStrategyNumber)
		return false;
	if (OidIsValid(collid) && !get_collation_isdeterministic(collid))
		return false;
	srctype = exprType(source);
	if (is_array)
		srctype = get_element_type(srctype);
	if (!OidIsValid(srctype) || !DynKeyTypeSupported(srctype))
		return false;

	/* computable before the scan: no column of ours, nothing volatile */
	varnos = pull_varnos(root, source);
	if (bms_is_member(baserel->relid, varnos) ||
		(!allow_outer && !bms_is_empty(varnos)) ||
		contain_volatile_functions(source) ||
		contain_subplans(source))
		return false;

	out->rinfo = NULL;
	out->source = (Expr *) source;
	out->is_array = is_array;
	out->elemtype = srctype;
	out->nkeys = source_key_count((Expr *) source, is_array);
	return true;
}

/* The keys a key source names when that is known at plan time, else -1. */
static int
source_key_count(Expr *source, bool is_array)
{
	if (IsA(source, Const))
	{
		Const	   *c = (Const *) source;
		ArrayType  *arr;

		if (c->constisnull)
			return 0;
		if (!is_array)
			return 1;
		arr = DatumGetArrayTypeP(c->constvalue);
		return ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	}
	if (!is_array)
		return 1;
	if (IsA(source, ArrayExpr))
		return list_length(((ArrayExpr *) source)->elements);
	return -1;
}

/*
 * An OR whose every arm names keys of one type: its keys are the array
 * ARRAY[scalar arms] || array arm || ... (folded when constant), one
 * multi-key GET instead of a coverage scan.
 */
static bool
classify_key_or(PlannerInfo *root, RelOptInfo *baserel, DynRelInfo *ri, BoolExpr *or,
				bool allow_outer, DynKeyQual *out)
{
	List	   *scalars = NIL;
	Expr	   *array = NULL;
	Oid			elemtype = InvalidOid;
	Oid			arraytype;
	ListCell   *lc;

	foreach(lc, or->args)
	{
		DynKeyQual	arm;

		if (!classify_key_clause(root, baserel, ri, lfirst(lc), allow_outer, &arm) ||
			(OidIsValid(elemtype) && arm.elemtype != elemtype))
			return false;
		elemtype = arm.elemtype;
		if (!arm.is_array)
			scalars = lappend(scalars, arm.source);
		else if (array == NULL)
			array = arm.source;
		else
			array = (Expr *) makeFuncExpr(F_ARRAY_CAT, exprType((Node *) array),
										  list_make2(array, arm.source), InvalidOid,
										  InvalidOid, COERCE_EXPLICIT_CALL);
	}
	if (!OidIsValid(elemtype) || !OidIsValid(arraytype = get_array_type(elemtype)))
		return false;
	if (scalars != NIL)
	{
		ArrayExpr  *ae = makeNode(ArrayExpr);

		ae->array_typeid = arraytype;
		ae->array_collid = InvalidOid;
		ae->element_typeid = elemtype;
		ae->elements = scalars;
		ae->multidims = false;
		ae->location = -1;
		array = array == NULL ? (Expr *) ae
			: (Expr *) makeFuncExpr(F_ARRAY_CAT, arraytype, list_make2(ae, array),
									InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	}
	out->rinfo = NULL;
	out->source = (Expr *) eval_const_expressions(root, (Node *) array);
	out->is_array = true;
	out->elemtype = elemtype;
	out->nkeys = source_key_count(out->source, true);
	return true;
}

/* Keys expected from a key qual (a guess for arrays known only later). */
static double
key_count_estimate(const DynKeyQual *kq)
{
	return kq->nkeys >= 0 ? (double) kq->nkeys : DYN_DEFAULT_ARRAY_KEYS;
}

/* The key qual among clauses that asks for the fewest keys, or NULL. */
static DynKeyQual *
best_key_qual(PlannerInfo *root, RelOptInfo *baserel, DynRelInfo *ri, List *clauses,
			  bool allow_outer)
{
	DynKeyQual *best = NULL;
	ListCell   *lc;

	foreach(lc, clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		DynKeyQual	kq;

		if (!classify_key_qual(root, baserel, ri, rinfo, allow_outer, &kq))
			continue;
		if (best == NULL || key_count_estimate(&kq) < key_count_estimate(best))
		{
			if (best == NULL)
				best = palloc(sizeof(DynKeyQual));
			*best = kq;
		}
	}
	return best;
}

/*
 * GetForeignRelSize: read the table's options, find the base key qual and
 * estimate the rows.  The cluster is asked for its key count only when a
 * scan is needed and the table was never ANALYZEd.
 */
void
dynamoGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	DynRelInfo *ri = palloc0(sizeof(DynRelInfo));
	Oid			userid = OidIsValid(baserel->userid) ? baserel->userid : GetUserId();
	ForeignTable *table = GetForeignTable(foreigntableid);
	Relation	rel;
	Oid			opclass;
	ListCell   *lc;
	List	   *other = NIL;
	Selectivity sel;

	ri->server = GetForeignServer(table->serverid);
	ri->async_capable = DynOptionBool(table->options, ri->server->options, "async_capable",
									  false);
	rel = table_open(foreigntableid, NoLock);
	ri->opts = DynGetTableOptions(rel, ri->server);
	ri->user = GetUserMapping(userid, table->serverid);
	ri->key_attno = ri->opts->attno[DYNCOL_KEY];
	ri->key_type = TupleDescAttr(RelationGetDescr(rel), ri->key_attno - 1)->atttypid;
	table_close(rel, NoLock);
	if (DynKeyTypeSupported(ri->key_type) &&
		OidIsValid(opclass = GetDefaultOpClass(ri->key_type, BTREE_AM_OID)))
		ri->key_opfamily = get_opclass_family(opclass);
	baserel->fdw_private = ri;

	/* the columns the scan must fill: the target list and the local quals */
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &ri->attrs_used);
	foreach(lc, baserel->baserestrictinfo)
		pull_varattnos((Node *) lfirst_node(RestrictInfo, lc)->clause, baserel->relid,
					   &ri->attrs_used);

	ri->best = best_key_qual(root, baserel, ri, baserel->baserestrictinfo, false);
	foreach(lc, baserel->baserestrictinfo)
		if (ri->best == NULL || lfirst(lc) != ri->best->rinfo)
			other = lappend(other, lfirst(lc));
	sel = clauselist_selectivity(root, other, baserel->relid, JOIN_INNER, NULL);

	if (baserel->tuples >= 0)
		ri->tuples = baserel->tuples;	/* ANALYZEd */
	else if (ri->best != NULL)
		ri->tuples = DYN_DEFAULT_TUPLES;	/* no need to ask the cluster */
	else
	{
		/* planning never needs the cluster: what was learnt last, or defaults */
		DynConn    *conn = DynGetConnection(ri->server, ri->user);
		const DynClusterInfo *info = DynTryClusterInfo(conn, true);

		ri->tuples = info != NULL && info->keys >= 0 ? Max(info->keys, 1.0)
			: DYN_DEFAULT_TUPLES;
		ri->q = info != NULL ? info->q : 0;
		DynReleaseConnection(conn);
	}
	baserel->tuples = ri->tuples;
	if (ri->best != NULL)
		baserel->rows = clamp_row_est(key_count_estimate(ri->best) * sel);
	else
		baserel->rows = clamp_row_est(ri->tuples *
									  clauselist_selectivity(root, baserel->baserestrictinfo,
															 baserel->relid, JOIN_INNER, NULL));
}

/* Equivalence class members that are our key column (for join clauses). */
static bool
ec_member_is_key(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
				 EquivalenceMember *em, void *arg)
{
	DynRelInfo *ri = (DynRelInfo *) arg;

	return is_key_var(ri, rel, (Node *) em->em_expr);
}

/*
 * The join clauses that may name rel's keys: from equivalence classes
 * (k.key = l.id), and the others that can move to rel's scan.
 */
static List *
key_join_clauses(PlannerInfo *root, RelOptInfo *rel, DynRelInfo *ri)
{
	List	   *clauses = generate_implied_equalities_for_column(root, rel, ec_member_is_key,
																 ri, rel->lateral_referencers);
	ListCell   *lc;

	foreach(lc, rel->joininfo)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

		if (join_clause_is_movable_to(rinfo, rel))
			clauses = lappend(clauses, rinfo);
	}
	return clauses;
}

/* The outer relations a join key qual of rel needs (its parameterization). */
static Relids
key_qual_outer(RelOptInfo *rel, RestrictInfo *rinfo)
{
	return bms_union(bms_difference(rinfo->clause_relids, rel->relids), rel->lateral_relids);
}

/*
 * GetForeignPaths: the base path (GETs of the base key qual's keys, or a
 * coverage scan), and one path parameterized by each set of outer
 * relations a join clause on the key needs -- GETs one outer row at a
 * time under a nested loop.
 */
void
dynamoGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	DynRelInfo *ri = (DynRelInfo *) baserel->fdw_private;
	Cost		startup = DYN_STARTUP_COST;
	Cost		total;
	List	   *joinclauses = NIL;
	List	   *done = NIL;
	ListCell   *lc;

	if (ri->best != NULL)
		total = startup + key_count_estimate(ri->best) * DYN_GET_COST +
			baserel->rows * cpu_tuple_cost;
	else
		total = startup + (ri->q ? ri->q : DYN_PARTITIONS_DEFAULT) * DYN_PAGE_COST +
			ri->tuples * (DYN_SCAN_ROW_COST + cpu_tuple_cost);
	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows, startup, total,
									 NIL, baserel->lateral_relids, NULL, NIL));

	if (!OidIsValid(ri->key_opfamily))
		return;

	joinclauses = key_join_clauses(root, baserel, ri);
	foreach(lc, joinclauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		DynKeyQual	kq;
		Relids		outer;
		ParamPathInfo *ppi;
		double		rows;

		if (!classify_key_qual(root, baserel, ri, rinfo, true, &kq))
			continue;
		outer = key_qual_outer(baserel, rinfo);
		if (bms_is_empty(outer) || relids_listed(done, outer))
			continue;
		done = lappend(done, outer);
		ppi = get_baserel_parampathinfo(root, baserel, outer);
		rows = clamp_row_est(key_count_estimate(&kq) *
							 clauselist_selectivity(root, baserel->baserestrictinfo,
													baserel->relid, JOIN_INNER, NULL));
		rows = Min(rows, ppi->ppi_rows);
		add_path(baserel, (Path *)
				 create_foreignscan_path(root, baserel, NULL, rows, startup,
										 startup + key_count_estimate(&kq) * DYN_GET_COST +
										 rows * cpu_tuple_cost,
										 NIL, outer, NULL, NIL));
	}
}

/*
 * GetForeignRowMarkType: SELECT ... FOR UPDATE / FOR SHARE is refused --
 * Dynamo cannot lock a key, and accepting the clause would promise what
 * nothing keeps.  Rows of other statements (UPDATE ... FROM) are copied.
 */
RowMarkType
dynamoGetForeignRowMarkType(RangeTblEntry *rte, LockClauseStrength strength)
{
	if (strength != LCS_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("SELECT ... FOR UPDATE/SHARE is not supported on dynamo_fdw foreign table \"%s\"",
						get_rel_name(rte->relid)),
				 errdetail("Dynamo cannot lock a key."),
				 errhint("UPDATE and DELETE check optimistically instead: they write back with the context the row was read with, so a concurrent write is kept as a sibling, never lost.")));
	return ROW_MARK_COPY;
}

/*
 * GetForeignPlan: pick the key qual the chosen path uses (among the base
 * quals and, for a parameterized path, its join clauses), evaluate its key
 * source at run time (fdw_exprs), and keep every other qual local.
 */
ForeignScan *
dynamoGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
					 ForeignPath *best_path, List *tlist, List *scan_clauses,
					 Plan *outer_plan)
{
	if (baserel->reloptkind == RELOPT_UPPER_REL)
	{
		/*
		 * A coverage count: no scanned relation (scanrelid 0), one row of
		 * the counts, whose target list is the count(*) Aggrefs themselves
		 * (setrefs points the plan's target list at them).  The counted
		 * table is the one base rel of fs_relids (createplan.c sets it to
		 * all_baserels for an upper rel; setrefs offsets it in subqueries).
		 */
		return make_foreignscan(tlist, NIL, 0, NIL,
								list_make5(makeInteger(DYN_OP_COUNT), makeInteger(0),
										   makeInteger(-1), NIL, makeInteger(0)),
								tlist, NIL, outer_plan);
	}
	return dyn_plan_rel(root, baserel, best_path, scan_clauses, tlist, outer_plan);
}

/*
 * GetForeignUpperPaths: a coverage count for SELECT count(*) FROM t with
 * no qual (see the file comment).  Costed as the scan less the values:
 * the pages (fewer bytes, the same requests) and no row building.
 */
void
dynamoGetForeignUpperPaths(PlannerInfo *root, UpperRelationKind stage,
						   RelOptInfo *input_rel, RelOptInfo *output_rel, void *extra)
{
	DynRelInfo *ri = (DynRelInfo *) input_rel->fdw_private;
	Query	   *parse = root->parse;
	ListCell   *lc;
	Cost		startup = DYN_STARTUP_COST;
	Cost		total;

	if (stage != UPPERREL_GROUP_AGG || !dynamo_fdw_enable_count_pushdown ||
		ri == NULL || input_rel->reloptkind != RELOPT_BASEREL ||
		output_rel->fdw_private != NULL ||
		input_rel->baserestrictinfo != NIL || ri->opts->merge_function != NULL ||
		bms_membership(root->all_baserels) != BMS_SINGLETON ||
		parse->groupClause != NIL || parse->groupingSets != NIL ||
		parse->havingQual != NULL || !parse->hasAggs || parse->hasWindowFuncs ||
		parse->hasTargetSRFs || output_rel->reltarget->exprs == NIL)
		return;
	foreach(lc, output_rel->reltarget->exprs)
		if (!is_count_star((Node *) lfirst(lc)))
			return;
	output_rel->fdw_private = ri;	/* asked once per rel */
	total = startup + (ri->q ? ri->q : DYN_PARTITIONS_DEFAULT) * DYN_PAGE_COST +
		ri->tuples * DYN_SCAN_ROW_COST * 0.5;
	add_path(output_rel, (Path *)
			 create_foreign_upper_path(root, output_rel, output_rel->reltarget, 1,
									   startup, total, NIL, NULL, NIL));
}

/* Whether node is a plain count(*): no FILTER, DISTINCT or ORDER BY. */
static bool
is_count_star(Node *node)
{
	Aggref	   *a = (Aggref *) node;

	return IsA(node, Aggref) && a->aggfnoid == F_COUNT_ && a->aggstar &&
		a->aggfilter == NULL && a->aggdistinct == NIL && a->aggorder == NIL &&
		a->agglevelsup == 0 && a->aggsplit == AGGSPLIT_SIMPLE;
}

/* GetForeignPlan of a base rel (see dynamoGetForeignPlan). */
static ForeignScan *
dyn_plan_rel(PlannerInfo *root, RelOptInfo *baserel, ForeignPath *best_path,
			 List *scan_clauses, List *tlist, Plan *outer_plan)
{
	DynRelInfo *ri = (DynRelInfo *) baserel->fdw_private;
	bool		parameterized = best_path->path.param_info != NULL;
	DynKeyQual *kq = best_key_qual(root, baserel, ri, scan_clauses, parameterized);
	List	   *local = NIL;
	List	   *fdw_exprs = NIL;
	List	   *attrs = NIL;
	Bitmapset  *used = bms_copy(ri->attrs_used);
	ListCell   *lc;
	int			x;

	foreach(lc, scan_clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

		if (kq != NULL && rinfo == kq->rinfo)
			continue;
		local = lappend(local, rinfo);
	}
	local = extract_actual_clauses(local, false);
	/*
	 * The columns to fill are those the query uses (ri->attrs_used: the
	 * rel's target list and quals) and the local quals; not the tlist,
	 * which for a scan needing no projection is the physical tlist of
	 * every column: count(*) would convert every value.
	 */
	pull_varattnos((Node *) local, baserel->relid, &used);
	x = -1;
	while ((x = bms_next_member(used, x)) >= 0)
		attrs = lappend_int(attrs, x);
	if (kq != NULL)
		fdw_exprs = list_make1(kq->source);

	return make_foreignscan(tlist, local, baserel->relid, fdw_exprs,
							list_make5(makeInteger(kq ? DYN_OP_GET : DYN_OP_SCAN),
									   makeInteger(kq ? kq->is_array : 0),
									   makeInteger(kq ? kq->nkeys : -1),
									   attrs,
									   makeInteger(kq && best_path->fdw_private != NIL
												   ? intVal(linitial(best_path->fdw_private))
												   : 0)),
							NIL, NIL, outer_plan);
}

/*
 * Whether a nested loop with outerrel outside can have innerrel's keys
 * looked up in batches (batch.c): innerrel is a dynamo_fdw table without a
 * key qual of its own, and one of its join clauses on the key computes the
 * key from outerrel's columns.  Fills *out; the key is the one
 * GetForeignPlan will pick among the parameterized path's clauses.
 */
bool
DynJoinKeyFind(PlannerInfo *root, RelOptInfo *innerrel, RelOptInfo *outerrel,
			   DynJoinKey *out)
{
	DynRelInfo *ri;
	List	   *joinclauses;
	ListCell   *lc;

	if (innerrel->reloptkind != RELOPT_BASEREL || innerrel->rtekind != RTE_RELATION ||
		innerrel->fdwroutine == NULL ||
		innerrel->fdwroutine->GetForeignPaths != dynamoGetForeignPaths)
		return false;
	ri = (DynRelInfo *) innerrel->fdw_private;
	if (ri == NULL || !OidIsValid(ri->key_opfamily) || ri->best != NULL ||
		!bms_is_subset(innerrel->lateral_relids, outerrel->relids))
		return false;

	joinclauses = key_join_clauses(root, innerrel, ri);
	foreach(lc, joinclauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		DynKeyQual	kq;
		DynKeyQual *best;
		Relids		outer;
		ParamPathInfo *ppi;

		if (!classify_key_qual(root, innerrel, ri, rinfo, true, &kq))
			continue;
		outer = key_qual_outer(innerrel, rinfo);
		if (bms_is_empty(outer) || !bms_is_subset(outer, outerrel->relids))
			continue;
		ppi = get_baserel_parampathinfo(root, innerrel, outer);
		best = best_key_qual(root, innerrel, ri, ppi->ppi_clauses, true);
		if (best == NULL)
			continue;
		out->required_outer = outer;
		out->source = best->source;
		out->is_array = best->is_array;
		out->fetch_size = ri->opts->fetch_size;
		out->rows = Min(clamp_row_est(key_count_estimate(best) *
									  clauselist_selectivity(root, innerrel->baserestrictinfo,
															 innerrel->relid, JOIN_INNER,
															 NULL)),
						ppi->ppi_rows);
		return true;
	}
	return false;
}

/*
 * The inner path of a batched nested loop: the parameterized GET of
 * DynJoinKeyFind's key, whose keys batch (a token both plans carry) has
 * fetched already.  Its cost is what a rescan costs with the reply at
 * hand -- finding it and building the rows; the round trips are the
 * batch's (DynBatchCost).
 */
Path *
DynJoinKeyPath(PlannerInfo *root, RelOptInfo *innerrel, const DynJoinKey *jk, int batch)
{
	return (Path *) create_foreignscan_path(root, innerrel, NULL, jk->rows, 0,
											cpu_operator_cost + jk->rows * cpu_tuple_cost,
											NIL, jk->required_outer, NULL,
											list_make1(makeInteger(batch)));
}

/*
 * What looking up the keys of outer_rows outer rows in batches of
 * fetch_size costs: a round trip per batch (the first before the first
 * row), a pipelined GET per key.
 */
void
DynBatchCost(const DynJoinKey *jk, double outer_rows, Cost *startup, Cost *run)
{
	double		keys = outer_rows * (jk->is_array ? DYN_DEFAULT_ARRAY_KEYS : 1);
	double		batches = ceil(outer_rows / Max(jk->fetch_size, 1));

	*startup = DYN_STARTUP_COST + Min(keys, jk->fetch_size) * DYN_GET_COST;
	*run = Max(batches - 1, 0) * DYN_STARTUP_COST +
		Max(keys - jk->fetch_size, 0) * DYN_GET_COST + outer_rows * cpu_tuple_cost;
}

/*
 * IsForeignPathAsyncCapable: an Append may run this scan concurrently with
 * its other children when the option async_capable (table, else server)
 * is true -- off by default, as in postgres_fdw.
 */
bool
dynamoIsForeignPathAsyncCapable(ForeignPath *path)
{
	DynRelInfo *ri = (DynRelInfo *) path->path.parent->fdw_private;

	/* a coverage count returns its one row at the end: nothing to overlap */
	return ri != NULL && ri->async_capable &&
		path->path.parent->reloptkind != RELOPT_UPPER_REL;
}
