/*-------------------------------------------------------------------------
 *
 * batch.c
 *		  Batched key lookups under a nested loop: a join whose inner side is
 *		  a dynamo_fdw table looked up by a key from the outer row gets its
 *		  keys fetched fetch_size outer rows at a time, in one pipelined
 *		  multi-key GET, instead of one round trip per outer row.
 *
 * The join itself stays PostgreSQL's own Nested Loop, so inner, left, semi
 * and anti joins, NULL keys, duplicate outer keys and siblings behave
 * exactly as they do in the plain nested loop; and the inner side stays
 * the table's own parameterized Foreign Scan, so its rows are produced by
 * the same code as every scan's (the transaction's queued writes laid over
 * what the cluster holds, scan.c).  What changes is below the loop: the
 * outer side goes through a custom scan, "Dynamo Batched Keys", that
 *
 *		reads up to fetch_size outer rows and keeps them,
 *		evaluates the inner scan's key expression over each (NULL: no key),
 *		fetches the distinct keys at once, pipelined and routed per key
 *		(fetch.c's key fetch), keeping every reply, tombstones too, and
 *		hands the kept outer rows up one at a time;
 *
 * the inner Foreign Scan, rescanned per outer row, finds its key's reply
 * in that batch (DynFetchUseBatch) and sends nothing; a key not in the
 * batch (none, unless its expression is not the one evaluated here) is
 * fetched as before.  The two nodes meet at execution through a link both
 * plans name by the same number: the custom scan offers it when it starts
 * (before its Nested Loop starts the inner side) and the Foreign Scan
 * takes it when it starts.
 *
 * The planner is offered the path from set_join_pathlist_hook, for inner,
 * left, semi and anti joins and for a semi join's outer side made unique
 * (key IN (SELECT ...)); it costs a round trip per batch and a pipelined
 * GET per outer row, against the plain parameterized loop's round trip per
 * row.  dynamo_fdw.enable_batched_join = off withdraws it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/ruleutils.h"

#include "dynamo_fdw.h"

/* custom_private of the custom scan, by position */
enum DynBatchPrivate
{
	DynBatchPrivToken,			/* Integer: the link's number, in both plans */
	DynBatchPrivIsArray,		/* Integer: 1 for key = ANY(array) */
	DynBatchPrivSize			/* Integer: outer rows per batch */
};

/*
 * The executor state of "Dynamo Batched Keys": the outer plan, the key
 * expression over its rows, the kept rows of the current batch, and counts
 * for EXPLAIN ANALYZE.
 */
typedef struct DynBatchState
{
	CustomScanState css;
	PlanState  *child;
	TupleTableSlot *rowslot;	/* a kept row, as the minimal tuple it is */
	DynBatchLink *link;
	ExprState  *key_expr;
	DynKeySource keysrc;		/* as the inner scan converts its key */
	int			batch_size;
	/*
	 * Two batches' memory, used in turn: the inner scan may still hold a
	 * fetch served from the previous batch until its next rescan.
	 */
	MemoryContext cxt[2];
	int			cur;
	MinimalTuple *rows;
	int			nrows;
	int			next;
	bool		child_done;
	uint64		batches;
	uint64		keys;
	uint64		requests;
} DynBatchState;

static bool dynamo_fdw_enable_batched_join = true;
static set_join_pathlist_hook_type prev_join_pathlist_hook = NULL;
static int	batch_tokens = 0;
/* links offered by custom scans that started, not taken yet */
static DynBatchLink *offered = NULL;

static void batch_join_paths(PlannerInfo *root, RelOptInfo *joinrel,
							 RelOptInfo *outerrel, RelOptInfo *innerrel,
							 JoinType jointype, JoinPathExtraData *extra);
static bool batch_vars_available(Expr *source, PathTarget *target);
static Plan *batch_plan(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
						List *tlist, List *clauses, List *custom_plans);
static Node *batch_create_state(CustomScan *cscan);
static void batch_begin(CustomScanState *node, EState *estate, int eflags);
static TupleTableSlot *batch_exec(CustomScanState *node);
static bool batch_fill(DynBatchState *st);
static void batch_end(CustomScanState *node);
static void batch_rescan(CustomScanState *node);
static void batch_explain(CustomScanState *node, List *ancestors, ExplainState *es);
static void batch_withdraw(DynBatchLink *link);
static void batch_xact_callback(XactEvent event, void *arg);
static void batch_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								   SubTransactionId parentSubid, void *arg);

static const CustomPathMethods batch_path_methods = {
	.CustomName = "Dynamo Batched Keys",
	.PlanCustomPath = batch_plan,
};

static const CustomScanMethods batch_scan_methods = {
	.CustomName = "Dynamo Batched Keys",
	.CreateCustomScanState = batch_create_state,
};

static const CustomExecMethods batch_exec_methods = {
	.CustomName = "Dynamo Batched Keys",
	.BeginCustomScan = batch_begin,
	.ExecCustomScan = batch_exec,
	.EndCustomScan = batch_end,
	.ReScanCustomScan = batch_rescan,
	.ExplainCustomScan = batch_explain,
};

/* Module load: the GUC, the join hook, the plan node's methods. */
void
DynInitBatch(void)
{
	DefineCustomBoolVariable("dynamo_fdw.enable_batched_join",
							 "Lets a nested loop look dynamo_fdw keys up in batches of fetch_size outer rows.",
							 "off: one round trip per outer row, as a plain parameterized nested loop.",
							 &dynamo_fdw_enable_batched_join, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("dynamo_fdw.enable_count_pushdown",
							 "Plans count(*) of a whole dynamo_fdw table as a coverage count that ships no values.",
							 "off: the coverage scan ships every value and PostgreSQL counts the rows.",
							 &dynamo_fdw_enable_count_pushdown, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	RegisterCustomScanMethods(&batch_scan_methods);
	prev_join_pathlist_hook = set_join_pathlist_hook;
	set_join_pathlist_hook = batch_join_paths;
	RegisterXactCallback(batch_xact_callback, NULL);
	RegisterSubXactCallback(batch_subxact_callback, NULL);
}

/*
 * set_join_pathlist_hook: offer the batched nested loop when innerrel is a
 * dynamo_fdw table looked up by a key from outerrel (DynJoinKeyFind).
 */
static void
batch_join_paths(PlannerInfo *root, RelOptInfo *joinrel, RelOptInfo *outerrel,
				 RelOptInfo *innerrel, JoinType jointype, JoinPathExtraData *extra)
{
	JoinType	nljoin = jointype;
	DynJoinKey	jk;
	Path	   *outer;
	Path	   *inner;
	CustomPath *cpath;
	JoinCostWorkspace workspace;
	Cost		startup;
	Cost		run;
	int			token;

	if (prev_join_pathlist_hook)
		prev_join_pathlist_hook(root, joinrel, outerrel, innerrel, jointype, extra);
	if (!dynamo_fdw_enable_batched_join)
		return;
	switch (jointype)
	{
		case JOIN_INNER:
		case JOIN_LEFT:
		case JOIN_SEMI:
		case JOIN_ANTI:
			break;
		case JOIN_UNIQUE_OUTER:
			nljoin = JOIN_INNER;	/* key IN (SELECT ...): the subquery made unique */
			break;
		default:
			return;				/* a nested loop cannot do it with this inner side */
	}
	if (!DynJoinKeyFind(root, innerrel, outerrel, &jk))
		return;
	outer = outerrel->cheapest_total_path;
	if (outer == NULL || outer->param_info != NULL)
		return;
	if (jointype == JOIN_UNIQUE_OUTER &&
		(outer = (Path *) create_unique_path(root, outerrel, outer, extra->sjinfo)) == NULL)
		return;
	if (!batch_vars_available(jk.source, outer->pathtarget))
		return;

	token = ++batch_tokens;
	if (token <= 0)
		token = batch_tokens = 1;
	DynBatchCost(&jk, outer->rows, &startup, &run);
	cpath = makeNode(CustomPath);
	cpath->path.pathtype = T_CustomScan;
	cpath->path.parent = outerrel;
	cpath->path.pathtarget = outer->pathtarget;
	cpath->path.param_info = NULL;
	cpath->path.parallel_aware = false;
	cpath->path.parallel_safe = false;
	cpath->path.parallel_workers = 0;
	cpath->path.rows = outer->rows;
	cpath->path.startup_cost = outer->startup_cost + startup;
	cpath->path.total_cost = outer->total_cost + startup + run;
	cpath->path.pathkeys = outer->pathkeys; /* the rows keep their order */
	cpath->custom_paths = list_make1(outer);
	cpath->custom_private = list_make4(makeInteger(token), makeInteger(jk.is_array),
									   makeInteger(jk.fetch_size), jk.source);
	cpath->methods = &batch_path_methods;

	inner = DynJoinKeyPath(root, innerrel, &jk, token);
	initial_cost_nestloop(root, &workspace, nljoin, (Path *) cpath, inner, extra);
	add_path(joinrel, (Path *)
			 create_nestloop_path(root, joinrel, nljoin, &workspace, extra,
								  (Path *) cpath, inner, extra->restrictlist,
								  build_join_pathkeys(root, joinrel, nljoin, outer->pathkeys),
								  NULL));
}

/*
 * Whether every column the key source uses is one the outer path returns
 * (the custom scan evaluates it over those rows).
 */
static bool
batch_vars_available(Expr *source, PathTarget *target)
{
	List	   *vars = pull_var_clause((Node *) source, PVC_INCLUDE_PLACEHOLDERS);
	ListCell   *lc;

	foreach(lc, vars)
		if (!list_member(target->exprs, lfirst(lc)))
			return false;
	return true;
}

/*
 * PlanCustomPath: a scan of no relation (scanrelid 0) that returns its
 * child's rows unchanged: custom_scan_tlist is the child's target list,
 * and the key source is evaluated over it (custom_exprs).  The clauses
 * given are the outer relation's, which the child checks already.
 */
static Plan *
batch_plan(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path, List *tlist,
		   List *clauses, List *custom_plans)
{
	CustomScan *cscan = makeNode(CustomScan);
	Plan	   *child = linitial(custom_plans);
	List	   *scan_tlist = NIL;
	ListCell   *lc;

	foreach(lc, child->targetlist)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		scan_tlist = lappend(scan_tlist,
							 makeTargetEntry(copyObject(tle->expr),
											 list_length(scan_tlist) + 1, NULL, false));
	}
	cscan->scan.plan.targetlist = copyObject(scan_tlist);
	cscan->scan.plan.qual = NIL;
	cscan->scan.scanrelid = 0;
	cscan->flags = best_path->flags;
	cscan->custom_plans = custom_plans;
	cscan->custom_exprs = list_make1(copyObject(lfourth(best_path->custom_private)));
	cscan->custom_private = list_truncate(list_copy(best_path->custom_private), 3);
	cscan->custom_scan_tlist = scan_tlist;
	cscan->methods = &batch_scan_methods;
	return (Plan *) cscan;
}

/* CreateCustomScanState: the state. */
static Node *
batch_create_state(CustomScan *cscan)
{
	DynBatchState *st = palloc0(sizeof(DynBatchState));

	NodeSetTag(st, T_CustomScanState);
	st->css.methods = &batch_exec_methods;
	return (Node *) st;
}

/*
 * BeginCustomScan: start the outer plan, prepare the key expression, and
 * offer the link (after the outer plan started: links inside it are taken
 * by their own scans first; the next to start is our Nested Loop's inner).
 */
static void
batch_begin(CustomScanState *node, EState *estate, int eflags)
{
	DynBatchState *st = (DynBatchState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	Expr	   *src = linitial(cscan->custom_exprs);

	st->child = ExecInitNode(linitial(cscan->custom_plans), estate, eflags);
	node->custom_ps = list_make1(st->child);
	/*
	 * The key is evaluated over the child's own slots (of whatever kind it
	 * returns), not over the virtual scan slot the core made for this node:
	 * the expression must deform what it is given.
	 */
	node->ss.ps.scanops = ExecGetResultSlotOps(st->child, &node->ss.ps.scanopsfixed);
	st->key_expr = ExecInitExpr(src, &node->ss.ps);
	DynKeySourceInit(&st->keysrc, exprType((Node *) src),
					 intVal(list_nth(cscan->custom_private, DynBatchPrivIsArray)) != 0);
	st->batch_size = Min(Max(intVal(list_nth(cscan->custom_private, DynBatchPrivSize)), 1),
						 DYN_FETCH_SIZE_MAX);
	/*
	 * The rows are handed up as the minimal tuples they are kept as; with
	 * no projection (the target list is the child's) the parent is told so.
	 */
	st->rowslot = ExecAllocTableSlot(&estate->es_tupleTable,
									 node->ss.ss_ScanTupleSlot->tts_tupleDescriptor,
									 &TTSOpsMinimalTuple);
	if (node->ss.ps.ps_ProjInfo == NULL)
	{
		node->ss.ps.resultops = &TTSOpsMinimalTuple;
		node->ss.ps.resultopsfixed = true;
		node->ss.ps.resultopsset = true;
	}
	for (int i = 0; i < 2; i++)
		st->cxt[i] = AllocSetContextCreate(estate->es_query_cxt, "dynamo_fdw batch",
										   ALLOCSET_DEFAULT_SIZES);

	st->link = MemoryContextAllocZero(estate->es_query_cxt, sizeof(DynBatchLink));
	st->link->token = intVal(list_nth(cscan->custom_private, DynBatchPrivToken));
	st->link->estate = estate;
	st->link->next = offered;
	offered = st->link;
}

/*
 * The link the custom scan numbered token offered in estate, taken by
 * the inner Foreign Scan it serves (which then fills in where to fetch
 * from); NULL if there is none.
 */
DynBatchLink *
DynBatchTake(EState *estate, int token)
{
	for (DynBatchLink **p = &offered; *p != NULL; p = &(*p)->next)
	{
		DynBatchLink *link = *p;

		if (link->estate == estate && link->token == token)
		{
			*p = link->next;
			link->next = NULL;
			link->taken = true;
			return link;
		}
	}
	return NULL;
}

/* Take link off the offered list if no scan took it. */
static void
batch_withdraw(DynBatchLink *link)
{
	for (DynBatchLink **p = &offered; *p != NULL; p = &(*p)->next)
		if (*p == link)
		{
			*p = link->next;
			return;
		}
}

/*
 * ExecCustomScan: the next kept outer row, reading (and fetching the keys
 * of) the next batch when the current one is used up.
 */
static TupleTableSlot *
batch_exec(CustomScanState *node)
{
	DynBatchState *st = (DynBatchState *) node;
	TupleTableSlot *slot = st->rowslot;

	if (st->next >= st->nrows && (st->child_done || !batch_fill(st)))
		return ExecClearTuple(slot);
	ExecStoreMinimalTuple(st->rows[st->next++], slot, false);
	if (node->ss.ps.ps_ProjInfo == NULL)
		return slot;
	/* the projection was built for the scan slot's (virtual) kind */
	ExecCopySlot(node->ss.ss_ScanTupleSlot, slot);
	node->ss.ps.ps_ExprContext->ecxt_scantuple = node->ss.ss_ScanTupleSlot;
	return ExecProject(node->ss.ps.ps_ProjInfo);
}

/*
 * Read the next batch of outer rows into the other batch memory and fetch
 * their distinct keys; false when the outer plan has no rows left.
 */
static bool
batch_fill(DynBatchState *st)
{
	ExprContext *econtext = st->css.ss.ps.ps_ExprContext;
	DynBatchLink *link = st->link;
	DynFetch   *f = NULL;
	MemoryContext old;

	st->cur = 1 - st->cur;
	MemoryContextReset(st->cxt[st->cur]);
	st->rows = MemoryContextAlloc(st->cxt[st->cur], sizeof(MinimalTuple) * st->batch_size);
	st->nrows = 0;
	st->next = 0;
	if (link->taken && link->conn != NULL)
		f = DynFetchBeginKeys(link->conn, link->bucket, link->r, link->window,
							  st->cxt[st->cur]);
	while (st->nrows < st->batch_size)
	{
		TupleTableSlot *slot = ExecProcNode(st->child);
		bool		isnull;
		Datum		d;

		if (TupIsNull(slot))
		{
			st->child_done = true;
			break;
		}
		/* only the rows go to the batch's memory: the child allocates in its own */
		old = MemoryContextSwitchTo(st->cxt[st->cur]);
		st->rows[st->nrows++] = ExecCopySlotMinimalTuple(slot);
		MemoryContextSwitchTo(old);
		if (f == NULL)
			continue;
		ResetExprContext(econtext);
		econtext->ecxt_scantuple = slot;
		old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
		d = ExecEvalExpr(st->key_expr, econtext, &isnull);
		if (!isnull)
			DynKeySourceAdd(&st->keysrc, d, f);	/* the inner scan's key bytes */
		MemoryContextSwitchTo(old);
	}
	if (f != NULL && st->nrows == 0)
		DynFetchEnd(f);			/* the outer rows had ended: no batch */
	else if (f != NULL)
	{
		uint64		keys;
		uint64		requests;

		/* the kept replies stay until the batch after next resets them */
		link->batch = DynFetchCollect(f, st->cxt[st->cur]);
		DynFetchBatchCounts(link->batch, &keys, &requests);
		st->batches++;
		st->keys += keys;
		st->requests += requests;
	}
	return st->nrows > 0;
}

/* EndCustomScan: end the outer plan; the batches go with the query's memory. */
static void
batch_end(CustomScanState *node)
{
	DynBatchState *st = (DynBatchState *) node;

	if (!st->link->taken)
		batch_withdraw(st->link);
	ExecEndNode(st->child);
}

/*
 * ReScanCustomScan: read the outer plan again.  The kept batch stays (the
 * inner scan may hold a fetch served from it); the next one resets the
 * other memory.
 */
static void
batch_rescan(CustomScanState *node)
{
	DynBatchState *st = (DynBatchState *) node;

	if (node->ss.ps.chgParam != NULL)
		UpdateChangedParamSet(st->child, node->ss.ps.chgParam);
	ExecReScan(st->child);
	st->nrows = 0;
	st->next = 0;
	st->child_done = false;
}

/*
 * ExplainCustomScan: the batch size; VERBOSE the key source; ANALYZE the
 * batches, the distinct keys fetched and the GETs that took.
 */
static void
batch_explain(CustomScanState *node, List *ancestors, ExplainState *es)
{
	DynBatchState *st = (DynBatchState *) node;

	ExplainPropertyInteger("Batch Size", NULL, st->batch_size, es);
	if (es->verbose)
	{
		CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
		List	   *ctx = set_deparse_context_plan(es->deparse_cxt, (Plan *) cscan,
												   ancestors);

		ExplainPropertyText("Key Source",
							deparse_expression(linitial(cscan->custom_exprs), ctx,
											   true, false), es);
	}
	if (es->analyze)
	{
		ExplainPropertyUInteger("Batches", NULL, st->batches, es);
		ExplainPropertyUInteger("Keys Fetched", NULL, st->keys, es);
		ExplainPropertyUInteger("GET Requests", NULL, st->requests, es);
	}
}

/* Links still offered when a transaction ends belong to no running query. */
static void
batch_xact_callback(XactEvent event, void *arg)
{
	offered = NULL;
}

/* ... nor, a subtransaction aborting, to one (a query starts its nodes at once). */
static void
batch_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		offered = NULL;
}
