/*-------------------------------------------------------------------------
 *
 * dynamo_fdw.h
 *		  What the files of the dynamo_fdw extension share: options, the
 *		  connection cache, the request/reply machinery, the reader of keys
 *		  and partitions, and the conversion of Dynamo objects to rows.
 *
 * One concept per file:
 *		dynamo_fdw.c	handler, GUCs, dynamo_key_partition
 *		option.c		option validation and resolution (R, W, roles)
 *		connection.c	connection cache, waits, requests and replies
 *		cluster.c		the ring as the nodes report it; the node a request goes to
 *		status.c		the STATUS JSON of a node, read with jsonb
 *		fetch.c			quorum GETs (pipelined) and coverage scans (paged)
 *		convert.c		Dynamo objects <-> rows (raw and row formats)
 *		plan.c			planner callbacks: key quals, paths, plans
 *		scan.c			executor callbacks for scans, EXPLAIN, ANALYZE
 *		modify.c		INSERT/COPY (batched), UPDATE, DELETE
 *		xact.c			the transaction's queued writes, sent at COMMIT
 *		merge.c			a table's merge_function: siblings as one row, write-back
 *		merge_union.c	the shipped dynamo_merge_union, in C
 *		batch.c			batched key lookups under a nested loop (custom scan)
 *		truncate.c		TRUNCATE: a coverage scan, then a tombstone per key
 *		import.c		IMPORT FOREIGN SCHEMA: a table per bucket the nodes list
 *		admin.c			the administration functions
 *
 *-------------------------------------------------------------------------
 */
#ifndef DYNAMO_FDW_H
#define DYNAMO_FDW_H

#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"

#include "dynamo/client.h"
#include "dynamo/object.h"
#include "dynamo/routing.h"

#include "cluster.h"

/* ----------------------------------------------------------------
 * option.c
 * ----------------------------------------------------------------
 */

/* How point requests pick the node they go to (server option routing). */
typedef enum DynRouting
{
	DYN_ROUTE_PREFLIST,			/* the first healthy node of the key's preference list */
	DYN_ROUTE_ANY				/* the first reachable node of the nodes option */
} DynRouting;

/* How the non-key columns are stored (table option value_format). */
typedef enum DynValueFormat
{
	DYN_FORMAT_RAW,				/* one value column, stored as its bytes */
	DYN_FORMAT_ROW				/* the other columns, stored as one JSON object */
} DynValueFormat;

/*
 * When writes reach the cluster (option write_mode, GUC dynamo_fdw.write_mode):
 * queued until the transaction commits, or sent by each statement.
 */
typedef enum DynWriteMode
{
	DYN_WRITE_COMMIT,			/* at pre-commit; ROLLBACK discards them (xact.c) */
	DYN_WRITE_IMMEDIATE			/* pipelined, all acknowledged before the statement ends */
} DynWriteMode;

/* What an INSERT of a key that holds a live version does (option insert_mode). */
typedef enum DynInsertMode
{
	DYN_INSERT_ERROR,			/* unique_violation, as a primary key would */
	DYN_INSERT_REPLACE,			/* supersede every version the key holds: an upsert */
	DYN_INSERT_SIBLING			/* a blind write beside them: Dynamo's own semantics */
} DynInsertMode;

/*
 * What a column of a foreign table stands for.  Columns get their role from
 * their name or the column option role; in the row format every column
 * without a role is a field of the stored JSON object.
 */
typedef enum DynColumnRole
{
	DYNCOL_FIELD = 0,			/* a field of the row format's object */
	DYNCOL_KEY,
	DYNCOL_VALUE,
	DYNCOL_VCLOCK,
	DYNCOL_SIBLINGS,
	DYNCOL_CONTEXT,
	DYNCOL_NROLES
} DynColumnRole;

/* Where an R or W comes from, in the order that decides (EXPLAIN shows it). */
typedef enum DynQuorumSource
{
	DYN_QSRC_CLUSTER,			/* nothing set: the cluster's default */
	DYN_QSRC_SERVER,
	DYN_QSRC_TABLE,
	DYN_QSRC_GUC
} DynQuorumSource;

/* Defaults of the server options. */
#define DYN_DEFAULT_TIMEOUT_MS			10000
#define DYN_DEFAULT_CONNECT_TIMEOUT_MS	5000
#define DYN_DEFAULT_FETCH_SIZE			1000
#define DYN_DEFAULT_BATCH_SIZE			100
#define DYN_FETCH_SIZE_MAX				65535	/* a SCAN page's limit is a u16 */
#define DYN_BATCH_SIZE_MAX				65535
#define DYN_DEFAULT_WRITE_QUEUE_MB		256

/*
 * The options of a server and of the user mapping in use, resolved once per
 * connection: what connecting and talking to the cluster needs.
 */
typedef struct DynServerOptions
{
	List	   *nodes;			/* seed addresses, "host:port" strings */
	int			r;				/* 0: not set */
	int			w;
	int			timeout_ms;
	int			connect_timeout_ms;
	DynRouting	routing;
	int			fetch_size;
	int			batch_size;
	char	   *key_file;		/* user mapping: the client's secret key file */
	char	   *key;			/* user mapping: the secret key as text */
	char	   *trust_file;		/* user mapping, then server */
	char	   *trust;			/* trust file text given inline */
	DynWriteMode write_mode;	/* the tables' default */
	DynInsertMode insert_mode;	/* the tables' default */
} DynServerOptions;

/*
 * A foreign table as the scan and modify code sees it: the bucket, the
 * quorum and format options, and the role of every column.
 */
typedef struct DynTableOptions
{
	Oid			relid;
	char	   *relname;
	char	   *bucket;
	int			r;				/* 0: not set on the table */
	int			w;
	DynValueFormat format;
	int			fetch_size;		/* table, else server, else default */
	int			batch_size;
	DynWriteMode write_mode;	/* table, else server, else commit */
	DynInsertMode insert_mode;	/* table, else server, else error */
	char	   *merge_function; /* its name as given, or NULL (merge.c) */
	bool		merge_write_back;
	int			natts;
	DynColumnRole *roles;		/* per attribute, index attno - 1 */
	bool	   *dropped;
	AttrNumber	attno[DYNCOL_NROLES];	/* column of each role, 0 if none */
	/* row format: the JSON field of each field column (column_name, else
	 * the column's name); NULL for the other columns */
	const char **fields;
} DynTableOptions;

/* GUCs: 0 means "not set" (then table, server, cluster default apply). */
extern int	dynamo_fdw_r;
extern int	dynamo_fdw_w;
extern int	dynamo_fdw_timeout_ms;
extern int	dynamo_fdw_write_mode;	/* -1: not set, else a DynWriteMode */
extern int	dynamo_fdw_write_queue_mb;

extern void DynDefineGUCs(void);
extern DynServerOptions *DynGetServerOptions(ForeignServer *server, UserMapping *user);
extern DynTableOptions *DynGetTableOptions(Relation rel, ForeignServer *server);
extern int	DynResolveQuorum(bool is_write, const DynTableOptions *topts,
							 const DynServerOptions *sopts, DynQuorumSource *source);
extern const char *DynQuorumSourceName(DynQuorumSource source, bool is_write);
extern const char *DynColumnRoleName(DynColumnRole role);
extern DynWriteMode DynResolveWriteMode(const DynTableOptions *topts);
extern const char *DynWriteModeName(DynWriteMode mode);
extern const char *DynInsertModeName(DynInsertMode mode);
extern bool DynOptionBool(List *table_options, List *server_options, const char *name,
						  bool dflt);

/* ----------------------------------------------------------------
 * connection.c
 * ----------------------------------------------------------------
 */

typedef struct DynConn DynConn;

/*
 * One request in flight and, once done, its reply.  The owner (a scan, a
 * modify, an admin call) allocates it and keeps it alive until it is done
 * or forgotten (DynForget); the connection copies the reply's body into
 * the owner's memory context, so the reply outlives the client's buffers.
 */
typedef struct DynRequest
{
	int			node;			/* index of the node it was sent to */
	uint32		reqid;
	uint64		generation;		/* the node connection it went out on */
	int			nest_level;		/* transaction nesting level when sent */
	MemoryContext cxt;			/* where the reply body is copied */
	TimestampTz deadline;		/* DT_NOEND: none (DynSendFrame, unbounded) */
	bool		registered;		/* waiting for its reply in the node's table */
	bool		done;
	bool		failed;			/* no reply: the node failed or timed out */
	uint16		fail_code;		/* DYN_E_UNAUTHORIZED: the node refused the connection */
	uint8		reply_type;
	uint8	   *body;			/* reply body (palloc'd in cxt) */
	size_t		len;
	char	   *errmsg;			/* why it failed (palloc'd in cxt) */
} DynRequest;

extern DynConn *DynGetConnection(ForeignServer *server, UserMapping *user);
extern DynConn *DynHoldConnection(DynConn *conn);
extern void DynReleaseConnection(DynConn *conn);
extern const DynServerOptions *DynConnOptions(DynConn *conn);
extern const char *DynConnServerName(DynConn *conn);
extern const char *DynNodeAddress(DynConn *conn, int node);
/* for cluster.c: the nodes as it chooses among them */
extern DynCluster *DynConnCluster(DynConn *conn);
extern int	DynConnNodeCount(DynConn *conn);
extern int	DynNodeAdd(DynConn *conn, const char *addr);
extern bool DynNodeUsable(DynConn *conn, int node);
extern bool DynNodeFailedLately(DynConn *conn, int node, TimestampTz now);
extern int	DynPrimaryNode(DynConn *conn, int avoid);
extern int	DynFindPrimaryNode(DynConn *conn, int avoid);
extern void DynMarkNodeDown(DynConn *conn, int node, const char *why);

extern void DynSendGet(DynConn *conn, int node, DynRequest *req,
					   const dyn_get_req *get);
extern void DynSendPut(DynConn *conn, int node, DynRequest *req,
					   const dyn_put_req *put, bool is_delete);
extern void DynSendScan(DynConn *conn, int node, DynRequest *req,
						const dyn_scan_req *scan);
extern void DynSendStatus(DynConn *conn, int node, DynRequest *req);
extern void DynSendRing(DynConn *conn, int node, DynRequest *req);
extern void DynSendFrame(DynConn *conn, int node, DynRequest *req, uint8 type,
						 dyn_slice body, bool unbounded);
extern void DynInitRequest(DynRequest *req, MemoryContext cxt);
extern void DynAwait(DynConn *conn, DynRequest *req);
extern void DynPoll(DynConn *conn);
extern void DynFlush(DynConn *conn);
extern bool DynCheck(DynConn *conn, DynRequest *req);
extern pgsocket DynNodeSocket(DynConn *conn, int node, uint64 *generation);
extern void DynForget(DynConn *conn, DynRequest *req);
extern void DynReleaseReply(DynRequest *req);
extern void DynReportFailure(DynConn *conn, DynRequest *req, const char *op,
							 const char *bucket, dyn_slice key) pg_attribute_noreturn();
extern void DynInitConnections(void);

/* ----------------------------------------------------------------
 * xact.c
 * ----------------------------------------------------------------
 */

/*
 * One version of a key the transaction wrote and has not sent yet (see
 * xact.c): the value or a delete, and the context it will be written with
 * (binary; the union of the contexts of this and the key's earlier versions
 * in the transaction).  Readers see it in place of the versions the
 * context covers.
 */
typedef struct DynQueued
{
	struct DynQueued *older;	/* the version below, or NULL */
	int			level;			/* subtransaction nest level that wrote it */
	CommandId	cid;			/* the command that wrote it */
	bool		deleted;
	bool		best_effort;	/* a merge's write-back: its failure fails no COMMIT */
	int			w;				/* 0: the cluster's default */
	char	   *value;
	size_t		valuelen;
	char	   *context;
	size_t		contextlen;
} DynQueued;

/* A hash key of bytes of any length (keys of Dynamo keys). */
typedef struct DynBytesKey
{
	char	   *ptr;
	size_t		len;
} DynBytesKey;

extern HTAB *DynBytesHashCreate(const char *name, long nelem, Size entrysize,
								MemoryContext cxt);
extern void DynInitXact(void);
extern bool DynXactQueue(DynConn *conn, const char *relname, const char *bucket,
						 dyn_slice key, dyn_slice value, bool is_delete,
						 dyn_slice context, int w);
extern const DynQueued *DynXactLookup(DynConn *conn, const char *bucket, dyn_slice key,
									  CommandId curcid);
extern bool DynXactBucketQueued(DynConn *conn, const char *bucket);
extern bool DynXactHides(const dyn_vclock *vctx, const dyn_sibling *s);
extern void DynXactContext(const DynQueued *v, dyn_vclock *ctx);
extern int	DynXactVisible(const dyn_object *obj, const DynQueued *v, dyn_vclock *context);
extern void DynXactQueueWriteBack(DynConn *conn, const char *relname, const char *bucket,
								  dyn_slice key, dyn_slice value, dyn_slice context,
								  int w);
extern void DynXactCheckImmediate(DynConn *conn, const char *relname, const char *bucket,
								  dyn_slice key);
extern void DynXactForEachKey(DynConn *conn, const char *bucket, CommandId curcid,
							  void (*fn) (dyn_slice key, const DynQueued *v, void *arg),
							  void *arg);

/* ----------------------------------------------------------------
 * status.c
 * ----------------------------------------------------------------
 */
extern Jsonb *DynParseStatus(DynConn *conn, int node, const DynRequest *req);
extern JsonbValue *DynJsonGet(JsonbContainer *obj, const char *key, JsonbValue *out);
extern bool DynJsonInt(JsonbContainer *obj, const char *key, int64 *out);
extern char *DynJsonText(JsonbContainer *obj, const char *key);
extern JsonbContainer *DynJsonContainer(JsonbContainer *obj, const char *key);

/* ----------------------------------------------------------------
 * fetch.c
 * ----------------------------------------------------------------
 */

typedef struct DynFetch DynFetch;

/* One key's reply: the key and its sibling set (tombstones included). */
typedef struct DynFetchItem
{
	dyn_slice	key;
	dyn_object	obj;
} DynFetchItem;

extern DynFetch *DynFetchBeginKeys(DynConn *conn, const char *bucket, int r,
								   int window, MemoryContext cxt);
extern void DynFetchAddKey(DynFetch *f, const char *key, size_t len);
extern void DynFetchKeepDead(DynFetch *f);
extern DynFetch *DynFetchBeginCoverage(DynConn *conn, const char *bucket, int r,
									   int fetch_size, MemoryContext cxt);
extern int	DynFetchReplicas(const DynFetch *f);
extern void DynFetchNoValues(DynFetch *f);
extern bool DynFetchNext(DynFetch *f, DynFetchItem **item);
extern void DynFetchEnd(DynFetch *f);
extern int	DynFetchKeyCount(const DynFetch *f);
extern uint64 DynFetchRequests(const DynFetch *f);
extern const DynRequest *DynFetchBlocker(DynFetch *f);
extern bool DynFetchNextNoWait(DynFetch *f, DynFetchItem **item, bool *blocked);

/* The replies of a batch of keys, kept to serve later fetches (batch.c). */
typedef struct DynFetchBatch DynFetchBatch;
typedef struct DynBatchEntry DynBatchEntry;

extern DynFetchBatch *DynFetchCollect(DynFetch *f, MemoryContext cxt);
extern void DynFetchUseBatch(DynFetch *f, const DynFetchBatch *b);
extern void DynFetchBatchCounts(const DynFetchBatch *b, uint64 *keys, uint64 *requests);

/* ----------------------------------------------------------------
 * convert.c
 * ----------------------------------------------------------------
 */

/* What converting between rows and Dynamo objects needs, per relation. */
typedef struct DynConvert
{
	Relation	rel;
	DynTableOptions *opts;
	TupleDesc	tupdesc;
	FmgrInfo   *in_funcs;		/* per attribute */
	Oid		   *in_ioparams;
	FmgrInfo   *out_funcs;
	bool	   *wanted;			/* attributes the scan must fill */
	bool		modes_all;		/* some column's text depends on the session's settings */
	bool		modes_wanted;	/* ... and the scan fills it */
	bool		want_json_text; /* the scan fills a json field column */
	/* error context: what is being converted */
	const char *cur_key;
	AttrNumber	cur_attno;
} DynConvert;

extern DynConvert *DynConvertCreate(Relation rel, DynTableOptions *opts,
									Bitmapset *attrs_used);
extern void DynConvertRow(DynConvert *cv, dyn_slice key, const dyn_sibling *sib,
						  int live_siblings, dyn_slice context,
						  Datum *values, bool *nulls);
extern void DynKeyFromDatum(Oid typid, FmgrInfo *out, Datum d, StringInfo buf);

/*
 * How the value of a key source (a qual's key expression: one key, or an
 * array of keys) becomes the keys a fetch asks for -- the same bytes for a
 * scan and for the batched lookup that serves it.
 */
typedef struct DynKeySource
{
	bool		is_array;
	Oid			type;			/* of the key, or of the array's elements */
	FmgrInfo	out;
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
} DynKeySource;

extern void DynKeySourceInit(DynKeySource *ks, Oid exprtype, bool is_array);
extern void DynKeySourceAdd(const DynKeySource *ks, Datum d, DynFetch *f);
extern void DynValueFromSlot(DynConvert *cv, TupleTableSlot *slot, StringInfo buf);
extern Datum DynValueDatum(DynConvert *cv, dyn_slice bytes);
extern void DynValueDatumBytes(DynConvert *cv, Datum d, StringInfo buf);
extern void DynValueFromSlotMerging(DynConvert *cv, TupleTableSlot *slot,
									dyn_slice old_value, StringInfo buf);
extern void DynOldValueRemember(EState *estate, Oid relid, dyn_slice value,
								ItemPointer tid);
extern dyn_slice DynOldValueFind(EState *estate, Oid relid, ItemPointer tid);
extern char *DynContextText(const dyn_object *obj);
extern char *DynClockContextText(const dyn_vclock *ctx);
extern char *DynClockJson(const dyn_vclock *vc);
extern char *DynKeyForMessage(dyn_slice key);
extern bool DynKeyTypeSupported(Oid typid);

/* ----------------------------------------------------------------
 * merge.c
 * ----------------------------------------------------------------
 */
typedef struct DynMerge DynMerge;

extern void DynMergeCheckOption(const char *name);
extern DynMerge *DynMergeCreate(DynTableOptions *opts, DynConvert *cv);
extern bool DynMergeSiblings(DynMerge *m, DynConvert *cv, dyn_slice key,
							 const dyn_object *obj, const DynQueued *pending,
							 const dyn_vclock *pending_ctx, StringInfo out);
extern bool DynMergeWritesBack(const DynMerge *m);
extern void DynMergeWriteBack(DynMerge *m, DynConn *conn, DynWriteMode mode,
							  const char *bucket, dyn_slice key, dyn_slice value,
							  dyn_slice context, int w);
extern void DynMergeFinish(DynMerge *m);
extern void DynMergeExplain(const DynMerge *m, struct ExplainState *es);

/* ----------------------------------------------------------------
 * plan.c, scan.c, modify.c
 * ----------------------------------------------------------------
 */
extern void dynamoGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
									Oid foreigntableid);
extern void dynamoGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
								  Oid foreigntableid);
extern RowMarkType dynamoGetForeignRowMarkType(RangeTblEntry *rte,
												LockClauseStrength strength);
extern ForeignScan *dynamoGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
										 Oid foreigntableid, ForeignPath *best_path,
										 List *tlist, List *scan_clauses,
										 Plan *outer_plan);
extern void dynamoGetForeignUpperPaths(PlannerInfo *root, UpperRelationKind stage,
									   RelOptInfo *input_rel, RelOptInfo *output_rel,
									   void *extra);
extern bool dynamo_fdw_enable_count_pushdown;
extern List *dynamoImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid);

/* fdw_private of a ForeignScan, by position */
enum DynScanPrivate
{
	DynScanPrivOperation,		/* Integer: DYN_OP_* */
	DynScanPrivKeyIsArray,		/* Integer: 1 for key = ANY(array) */
	DynScanPrivKeyCount,		/* Integer: keys when known at plan time, -1 */
	DynScanPrivAttrsUsed,		/* List of Integer attnos the scan fills */
	DynScanPrivBatch			/* Integer: the batched lookup serving its keys, 0 none */
};

#define DYN_OP_GET		1		/* quorum GET of the keys fdw_exprs give */
#define DYN_OP_SCAN		2		/* coverage scan of every partition */
#define DYN_OP_COUNT	3		/* ... without values, counted: one row of count(*)s */

/*
 * A nested loop's inner side that a batched lookup can serve (plan.c for
 * batch.c): a dynamo_fdw table looked up by a key computed from the outer
 * relation's columns.
 */
typedef struct DynJoinKey
{
	Relids		required_outer; /* the outer relations the key uses */
	Expr	   *source;			/* the key (or array of keys), over outer columns */
	bool		is_array;
	int			fetch_size;		/* the inner table's: keys per batch */
	double		rows;			/* inner rows per outer row */
} DynJoinKey;

extern bool DynJoinKeyFind(PlannerInfo *root, RelOptInfo *innerrel, RelOptInfo *outerrel,
						   DynJoinKey *out);
extern Path *DynJoinKeyPath(PlannerInfo *root, RelOptInfo *innerrel, const DynJoinKey *jk,
							int batch);
extern void DynBatchCost(const DynJoinKey *jk, double outer_rows, Cost *startup,
						 Cost *run);

/* ----------------------------------------------------------------
 * batch.c
 * ----------------------------------------------------------------
 */

/*
 * What joins a "Dynamo Batched Keys" custom scan to the inner Foreign Scan
 * it fetches keys for (both plans carry token): the custom scan offers it
 * when it starts, the scan takes it and says where to fetch from, and each
 * batch the custom scan fetches is left here for the scan to serve its
 * keys from.
 */
typedef struct DynBatchLink
{
	struct DynBatchLink *next;	/* offered, not taken yet */
	int			token;
	EState	   *estate;
	bool		taken;
	/* filled in by the scan that takes it */
	DynConn    *conn;
	const char *bucket;
	int			r;
	int			window;
	/* the current batch, or NULL */
	const DynFetchBatch *batch;
} DynBatchLink;

extern void DynInitBatch(void);
extern DynBatchLink *DynBatchTake(EState *estate, int token);

extern bool dynamoIsForeignPathAsyncCapable(ForeignPath *path);
extern void dynamoForeignAsyncRequest(AsyncRequest *areq);
extern void dynamoForeignAsyncConfigureWait(AsyncRequest *areq);
extern void dynamoForeignAsyncNotify(AsyncRequest *areq);

extern void dynamoBeginForeignScan(ForeignScanState *node, int eflags);
extern TupleTableSlot *dynamoIterateForeignScan(ForeignScanState *node);
extern void dynamoReScanForeignScan(ForeignScanState *node);
extern void dynamoEndForeignScan(ForeignScanState *node);
extern void dynamoExplainForeignScan(ForeignScanState *node, struct ExplainState *es);
extern bool dynamoAnalyzeForeignTable(Relation relation, AcquireSampleRowsFunc *func,
									  BlockNumber *totalpages);

extern void dynamoAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
										  RangeTblEntry *target_rte,
										  Relation target_relation);
extern List *dynamoPlanForeignModify(PlannerInfo *root, ModifyTable *plan,
									 Index resultRelation, int subplan_index);
extern void dynamoBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
									 List *fdw_private, int subplan_index, int eflags);
extern TupleTableSlot *dynamoExecForeignInsert(EState *estate, ResultRelInfo *rinfo,
											   TupleTableSlot *slot,
											   TupleTableSlot *planSlot);
extern TupleTableSlot **dynamoExecForeignBatchInsert(EState *estate, ResultRelInfo *rinfo,
													 TupleTableSlot **slots,
													 TupleTableSlot **planSlots,
													 int *numSlots);
extern int	dynamoGetForeignModifyBatchSize(ResultRelInfo *rinfo);
extern TupleTableSlot *dynamoExecForeignUpdate(EState *estate, ResultRelInfo *rinfo,
											   TupleTableSlot *slot,
											   TupleTableSlot *planSlot);
extern TupleTableSlot *dynamoExecForeignDelete(EState *estate, ResultRelInfo *rinfo,
											   TupleTableSlot *slot,
											   TupleTableSlot *planSlot);
extern void dynamoEndForeignModify(EState *estate, ResultRelInfo *rinfo);
extern void dynamoBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo);
extern void dynamoEndForeignInsert(EState *estate, ResultRelInfo *rinfo);
extern int	dynamoIsForeignRelUpdatable(Relation rel);
extern void dynamoExecForeignTruncate(List *rels, DropBehavior behavior, bool restart_seqs);
extern void dynamoExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
									   List *fdw_private, int subplan_index,
									   struct ExplainState *es);

#endif							/* DYNAMO_FDW_H */
