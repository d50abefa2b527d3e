/*
 * dynamo-bench.c
 *		The load generator for dynamod (DESIGN.md section 3): many pipelined
 *		connections driven by one thread, or the replica store driven in this
 *		process with no network at all, printing ops/s and p50/p99/p99.9
 *		latency per operation.
 *
 * It is what `make bench` (scripts/bench.sh) compares against redis-benchmark
 * and against the in-process store, so it is built like redis-benchmark and
 * must never be the bottleneck: it shares the machine with the server.  One
 * thread waits on every connection with epoll; a connection is refilled up to
 * its pipeline depth each time replies come back and its new requests go out
 * in one write; nothing is allocated per request (the client's buffers, the
 * request-id slots and the histograms are sized once).
 *
 * Phases.  By default a PUT phase then a GET phase, like redis-benchmark
 * -t set,get.  Keys are "key:%012d", uniform in [0, --keys) from a fixed
 * seed, and the GET phase replays the PUT phase's key sequence, so every GET
 * asks for a key that was written.
 *
 * PUTs, by default (--puts context), carry the context the bench got back
 * from its previous PUT of the same key, as a client that keeps the
 * contexts it is given does: each write supersedes the last, a key keeps one
 * version, and a PUT is the overwrite a redis SET is.  The contexts live in
 * a table of one small slot per key, filled from the replies.  --puts blind
 * sends every PUT with an empty context instead: the Dynamo semantics of a
 * client that writes without reading, where each write to a key is a new
 * sibling (200000 PUTs over 100000 keys leave about two per key, and GETs
 * return them all).  Blind runs repeated against the same long-lived node
 * keep adding siblings to the same keys (up to the node's per-key limit);
 * --fresh-keys puts a per-run random tag in the key prefix so that every run
 * writes keys of its own instead.
 *
 * Latency is measured from the moment a request is queued (just before the
 * write that sends it) to the moment its reply has been read, and recorded
 * in the node's own histogram (latency.h: 1.6% buckets, nearest rank), so
 * its percentiles and STATUS's latency_ms are the same measure.  ops/s is
 * completed requests over the phase's wall time.  A request answered with an ERROR
 * frame is a failed operation: failures are counted by kind, printed at the
 * end, and make the exit status 1.
 *
 * Security: --key FILE [--trust FILE] runs every connection over the
 * secure channel (the trust file defaults to "trust" beside the key, as for
 * dynamo-cli); --insecure speaks plaintext.  Each connection's handshake
 * happens during setup, before any phase starts timing, so the figures are
 * the steady-state cost of encryption: scripts/bench.sh runs the same load
 * against a node of each kind and prints the ratio.
 *
 * Open loop (--rate OPS).  Closed-loop clients wait for each answer before
 * they ask again, so a server that stalls is simply asked less and its
 * queueing delay never shows (coordinated omission).  With --rate the
 * requests are due at a fixed rate -- request i at start + i / OPS, over
 * all connections -- whatever the answers do, and a request's latency runs
 * from the moment it was due, as wrk2 measures it: time spent waiting for
 * a free connection (one with fewer than --pipeline requests in flight)
 * counts.  A timerfd wakes the loop when the next request is due; the
 * requests due go to the connections with room, in turn.
 *
 * Redis (--redis).  redis-benchmark has no fixed rate, so an open-loop run
 * against dynamod had nothing to be compared with on a machine whose load
 * moves every figure.  With --redis the --node is a redis server and the
 * same loop -- keys, values, connections, pipeline depth, rate machinery,
 * histogram and output -- speaks RESP to it: a PUT is SET key value, a GET
 * is GET key.  Redis answers in order and carries no request id, so each
 * connection keeps its requests in flight as a FIFO in the same slot table,
 * and replies are parsed from the connection's read buffer as they arrive
 * (a reply may span reads).  +OK and a bulk reply are successes, $-1 is a
 * GET that found nothing (a miss, as on dynamod), -ERR is a failed request
 * like an ERROR frame; bytes that are not RESP end the run.  The socket and
 * buffers are the bench's own (dyn_client speaks only dynamo frames), with
 * the same rules: one write per connection per fill, nothing allocated per
 * request.  Not with --key, --route, --inproc, --bucket or --puts blind
 * (redis has no channel, ring, store, buckets or siblings).
 *
 * In-process mode (--inproc ENGINE --data DIR) runs the same phases against
 * the replica store opened in this process (what dynamod does per request,
 * a batch of one write, minus the network): the ceiling for the server path.
 * It is one thread and one operation at a time; latency is one store call.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "dynamo/client.h"
#include "dynamo/routing.h"
#include "dynamo/identity.h"
#include "dynamo/ring.h"
#include "dynamo/wire.h"
#include "engine.h"
#include "latency.h"
#include "store.h"

/* Exit statuses. */
#define BENCH_EXIT_OK		0
#define BENCH_EXIT_FAILED	1	/* requests failed, or could not connect/open */
#define BENCH_EXIT_USAGE	2

/* The fixed seed of the key sequence (same keys every run, like redis -r). */
#define BENCH_SEED			UINT64_C(0x5eedd7a3c0ffee01)
/* A different fixed seed for choosing GET or PUT in a mixed phase. */
#define BENCH_MIX_SEED		UINT64_C(0x0b5e55ed1234abcd)
/* Digits of the key number: "key:%012d". */
#define BENCH_KEY_DIGITS	12
/* Bytes per key in the context table: a length byte and the context. */
#define BENCH_CONTEXT_SLOT	32
#define BENCH_KEYS_MAX		UINT64_C(999999999999)
/* A phase with requests outstanding and no reply for this long has stalled. */
#define BENCH_STALL_NS		(INT64_C(10) * 1000000000)
#define BENCH_CONNECT_MS	5000

/* Distinct kinds of failure remembered with their first message. */
#define BENCH_ERROR_KINDS	16
/* The error "code" of a redis -ERR reply (dynamo's codes are >= 0). */
#define BENCH_CODE_REDIS	(-1)

/*
 * --redis: bytes asked of each recv.  Small enough that a large value's
 * reply (100 kB) always arrives over several reads, so that the partial
 * reply path is the one exercised by such runs, not only by lucky timing.
 */
#define BENCH_RESP_READ_CHUNK	(16 * 1024)
/* The longest status, error or length line taken before it is called garbage. */
#define BENCH_RESP_LINE_MAX		(64 * 1024)

/* The two operations; they index the per-phase statistics. */
typedef enum bench_op
{
	BENCH_OP_GET = 0,
	BENCH_OP_PUT = 1,
	BENCH_NOPS
} bench_op;

/* What a phase sends. */
typedef enum bench_phase_kind
{
	BENCH_PHASE_PUT,
	BENCH_PHASE_GET,
	BENCH_PHASE_MIXED
} bench_phase_kind;

/* The parsed command line. */
typedef struct bench_options
{
	const char *node;
	bool		insecure;
	const char *key_file;
	const char *trust_file;		/* NULL: "trust" beside the key file */
	int			connections;
	int			pipeline;
	const char *op;				/* NULL: put then get */
	int			get_ratio;		/* percent of GETs in a mixed phase */
	uint64_t	keys;
	size_t		value_size;
	uint64_t	requests;		/* per phase, unless duration is set */
	double		duration;		/* seconds per phase, 0: use requests */
	uint64_t	rate;			/* --rate: requests due per second, 0: closed loop */
	const char *bucket;
	bool		csv;
	bool		fresh_keys;
	bool		sequential;		/* keys 0, 1, 2, ... in order, not random */
	bool		blind_puts;		/* --puts blind: no contexts */
	bool		route;			/* partition-aware: each request to its key's coordinator */
	bool		redis;			/* --node is a redis server: speak RESP */
	bool		bucket_set;		/* --bucket was given (refused with --redis) */
	const char *inproc;			/* engine name, NULL: over the network */
	const char *data_dir;
	dyn_durability durability;
	bool		durability_set;
} bench_options;

/* What one operation did during one phase. */
typedef struct bench_opstats
{
	dyn_latency hist;			/* latency of the successful requests, ns */
	uint64_t	done;			/* successful requests */
	uint64_t	failed;			/* requests answered with an error */
	uint64_t	misses;			/* GETs that found no value */
} bench_opstats;

/*
 * One request in flight on a connection.  Replies carry the request id the
 * client chose, and may come back in any order, so a small table per
 * connection maps the id back to what was sent and when.  With --redis the
 * same table is a FIFO (redis answers in order, with no id): the oldest
 * request in flight is at fifo_head, the next free slot outstanding after it.
 */
typedef struct bench_slot
{
	uint32_t	reqid;
	uint32_t	key_index;		/* which key, to keep a PUT's returned context */
	bool		used;
	uint8_t		op;
	int64_t		sent_ns;
} bench_slot;

/* One client connection and its requests in flight. */
typedef struct bench_conn
{
	dyn_client *client;
	int			fd;
	uint32_t	events;			/* what epoll is watching for now */
	int			outstanding;
	bench_slot *slots;			/* 2 * pipeline or more, a power of two */
	uint32_t	slot_mask;
	int			group;			/* the logical client it belongs to */
	bool		queued;			/* requests were queued in this fill */
	/* --redis: the connection's own buffers (client is NULL) */
	dyn_buf		out;			/* RESP requests queued, out_off of them written */
	size_t		out_off;
	dyn_buf		in;				/* bytes read and not yet parsed as replies */
	uint32_t	fifo_head;		/* slots[fifo_head & slot_mask]: oldest in flight */
} bench_conn;

/* The state of the phase being run. */
typedef struct bench_phase
{
	bench_phase_kind kind;
	const char *name;
	uint64_t	issued;			/* requests queued so far */
	uint64_t	inflight;		/* queued requests not yet answered */
	int64_t		start_ns;
	int64_t		deadline_ns;	/* duration mode: queue nothing after this */
	int64_t		last_reply_ns;	/* end of the phase's wall time; stall check */
	uint64_t	key_state;		/* key sequence generator */
	uint64_t	mix_state;		/* GET-or-PUT generator of a mixed phase */
	uint64_t	drawn;			/* keys drawn since the sequence (re)started */
	uint64_t	replay;			/* restart the sequence after this many; 0 never */
	bench_opstats stats[BENCH_NOPS];
} bench_phase;

/* One kind of failure: which operation, which error code, how often. */
typedef struct bench_error_kind
{
	uint8_t		op;
	int			code;			/* dyn_error_code, or 0 for a bad reply */
	uint64_t	count;
	char		first[256];		/* the first message of this kind */
} bench_error_kind;

/*
 * One redis reply as parsed from a read buffer: its type byte ('+', '-',
 * ':' or '$'), the line's text or the bulk's bytes (pointing into the
 * buffer), and whether a bulk reply was the null one ($-1).
 */
typedef struct resp_reply
{
	char		type;
	bool		nil;
	dyn_slice	text;
} resp_reply;

/* The key being built: a fixed prefix, then BENCH_KEY_DIGITS digits. */
typedef struct bench_key
{
	char		buf[64];
	size_t		prefix_len;
	size_t		len;
} bench_key;

/* Everything a run needs, allocated once before the first phase. */
typedef struct bench
{
	bench_options opt;
	/*
	 * conns holds connections x members connections: logical client g owns
	 * conns[g * members .. (g + 1) * members), one per node (members is 1
	 * without --route), and keeps at most pipeline requests in flight over
	 * all of them, so --route loads a cluster with the same clients as one
	 * node.
	 */
	bench_conn *conns;
	int			nconns;
	int			members;
	int		   *group_out;		/* requests in flight per logical client */
	dyn_routing routing;
	dyn_identity identity;		/* --key, shared by every connection */
	dyn_trust	trust;
	int			epfd;
	struct epoll_event *events;
	int			tfd;			/* --rate: the timerfd of the next due request */
	int			next_group;		/* --rate: the logical client to try first */
	uint8_t    *value;			/* value_size bytes of 'x', every PUT's value */
	/*
	 * --redis: the fixed parts of every request, encoded once (the key's
	 * length is the same for every key of a run): "*3\r\n$3\r\nSET\r\n$16\r\n"
	 * and its GET twin before the key, "\r\n$100\r\n" between key and value.
	 */
	char		resp_set_head[48];
	size_t		resp_set_head_len;
	char		resp_get_head[48];
	size_t		resp_get_head_len;
	char		resp_value_head[32];
	size_t		resp_value_head_len;
	dyn_slice	bucket;
	bench_key	key;
	uint32_t	key_index;		/* the number behind key */
	/*
	 * The last context each key's PUT returned, for --puts context: one
	 * slot of BENCH_CONTEXT_SLOT bytes per key, the first byte its length
	 * (0: none yet; a context that does not fit is not kept).
	 */
	uint8_t    *contexts;
	bench_phase phase;
	dyn_latency merged;			/* scratch: a mixed phase's two ops together */
	uint64_t	put_drawn;		/* keys the last PUT phase drew: GET replays them */
	bench_error_kind errors[BENCH_ERROR_KINDS];
	int			nerror_kinds;
	uint64_t	errors_other;	/* failures past BENCH_ERROR_KINDS kinds */
	uint64_t	failed_total;
	/* in-process mode */
	dyn_engine *engine;
	dyn_store	store;
	bool		store_open;
	dyn_buf		getbuf;			/* in-process: a GET's object, a PUT's context */
} bench;

static void usage(FILE *out);
static void print_header(const bench *b);
static int	parse_options(bench_options *o, int argc, char **argv);
static int	parse_uint(const char *flag, const char *value, uint64_t min,
					   uint64_t max, uint64_t *out);
static int	fail(int status, const char *fmt,...) __attribute__((format(printf, 2, 3)));
static int64_t now_ns(void);
static uint64_t rng_next(uint64_t *state);
static uint64_t rng_below(uint64_t *state, uint64_t n);
static double bench_quantile_ms(const dyn_latency *l, double q);
static void key_init(bench_key *k, bool fresh);
static void key_format(bench_key *k, uint64_t n);
static dyn_slice context_of(const bench *b, uint32_t key_index);
static void context_keep(bench *b, uint32_t key_index, dyn_slice context);
static void phase_begin(bench *b, bench_phase_kind kind);
static bool phase_may_issue(const bench *b, int64_t now);
static bool phase_has_more(const bench *b, int64_t now);
static int64_t phase_due(const bench *b, uint64_t i);
static int	rate_fill(bench *b);
static int	rate_arm(bench *b);
static bench_op phase_next(bench *b);
static void phase_report(bench *b);
static void report_line(const bench *b, const char *name, const dyn_latency *h,
						uint64_t done, double secs);
static void error_add(bench *b, bench_op op, int code, const char *fmt,...)
			__attribute__((format(printf, 4, 5)));
static int	report_errors(const bench *b);
static int	net_setup(bench *b);
static void net_teardown(bench *b);
static int	net_run_phase(bench *b);
static int	conn_fill(bench *b, bench_conn *bc);
static void conn_queue(bench *b, bench_conn *bc, bench_op op, dyn_slice key,
					   int64_t sent);
static int	fetch_routing(bench *b);
static int	conn_watch(bench *b, bench_conn *bc);
static void conn_handle_reply(bench *b, bench_conn *bc, const dyn_frame *f,
							  int64_t now);
static bench_slot *conn_take_slot(bench_conn *bc, uint32_t reqid);
static int	resp_connect(bench *b, bench_conn *bc);
static void resp_heads(bench *b);
static void resp_queue(bench *b, bench_conn *bc, bench_op op, int64_t sent);
static int	resp_flush(bench *b, bench_conn *bc);
static int	resp_io(bench *b, bench_conn *bc, uint32_t events);
static int	resp_parse(const uint8_t *p, size_t len, size_t *used, resp_reply *r,
					   char *why, size_t whylen);
static int	resp_handle_reply(bench *b, bench_conn *bc, const resp_reply *r,
							  int64_t now);
static int	resp_malformed(const bench *b, const uint8_t *p, size_t len, const char *why);
static int	inproc_setup(bench *b);
static void inproc_teardown(bench *b);
static int	inproc_run_phase(bench *b);

/*
 * Parse the flags, set up the connections (or the in-process store), run
 * the phases, and report.  The exit status is 1 when any request failed.
 */
int
main(int argc, char **argv)
{
	static bench b;				/* large (histograms): not on the stack */
	bench_phase_kind kinds[2];
	int			nkinds = 0;
	int			rc;

	if ((rc = parse_options(&b.opt, argc, argv)) != BENCH_EXIT_OK)
		return rc;
	if (b.opt.op == NULL)
	{
		kinds[nkinds++] = BENCH_PHASE_PUT;
		kinds[nkinds++] = BENCH_PHASE_GET;
	}
	else if (strcmp(b.opt.op, "put") == 0)
		kinds[nkinds++] = BENCH_PHASE_PUT;
	else if (strcmp(b.opt.op, "get") == 0)
		kinds[nkinds++] = BENCH_PHASE_GET;
	else
		kinds[nkinds++] = BENCH_PHASE_MIXED;

	if ((b.value = malloc(b.opt.value_size > 0 ? b.opt.value_size : 1)) == NULL)
		return fail(BENCH_EXIT_FAILED, "out of memory");
	memset(b.value, 'x', b.opt.value_size);
	/* redis has no contexts: a SET simply overwrites */
	if (!b.opt.blind_puts && !b.opt.redis &&
		(b.contexts = calloc(b.opt.keys, BENCH_CONTEXT_SLOT)) == NULL)
	{
		free(b.value);
		return fail(BENCH_EXIT_FAILED, "out of memory for %llu contexts",
					(unsigned long long) b.opt.keys);
	}
	b.bucket = dyn_slice_str(b.opt.bucket);
	key_init(&b.key, b.opt.fresh_keys);
	if (b.opt.redis)
		resp_heads(&b);

	b.epfd = -1;
	b.tfd = -1;
	rc = b.opt.inproc ? inproc_setup(&b) : net_setup(&b);

	if (rc == BENCH_EXIT_OK)
		print_header(&b);

	for (int i = 0; i < nkinds && rc == BENCH_EXIT_OK; i++)
	{
		phase_begin(&b, kinds[i]);
		rc = b.opt.inproc ? inproc_run_phase(&b) : net_run_phase(&b);
		if (rc == BENCH_EXIT_OK)
			phase_report(&b);
		if (kinds[i] == BENCH_PHASE_PUT)
			b.put_drawn = b.phase.drawn;
	}

	if (b.opt.inproc)
		inproc_teardown(&b);
	else
		net_teardown(&b);
	free(b.value);
	free(b.contexts);
	if (report_errors(&b) != BENCH_EXIT_OK && rc == BENCH_EXIT_OK)
		rc = BENCH_EXIT_FAILED;
	return rc;
}

/* The flags, for --help and usage errors. */
static void
usage(FILE *out)
{
	fprintf(out,
			"usage: dynamo-bench [--node HOST:PORT] --key FILE [--trust FILE] [options]\n"
			"       dynamo-bench [--node HOST:PORT] --insecure [options]\n"
			"       dynamo-bench --redis [--node HOST:PORT] [options]\n"
			"       dynamo-bench --inproc ENGINE --data DIR [--durability none|flush|fsync] [options]\n"
			"  --node HOST:PORT      node to load (default 127.0.0.1:7401)\n"
			"  --key FILE            authenticate and encrypt with this key\n"
			"  --trust FILE          node keys to accept (default: \"trust\" beside the key)\n"
			"  --insecure            plaintext connections\n"
			"  --connections C       connections (default 50)\n"
			"  --pipeline P          requests outstanding per connection (default 1)\n"
			"  --op put|get|mixed    one phase of this operation (default: put, then get)\n"
			"  --get-ratio PCT       percent of GETs in --op mixed (default 50)\n"
			"  --keys K              key space: \"key:%%012d\" uniform in [0,K) (default 100000)\n"
			"  --value-size V        bytes per value (default 100)\n"
			"  --requests N          requests per phase (default 200000)\n"
			"  --duration SECONDS    run each phase this long instead\n"
			"  --rate OPS            open loop: requests due at OPS per second over all\n"
			"                        connections, latency measured from when each was due\n"
			"  --bucket B            bucket (default \"bench\")\n"
			"  --puts context|blind  PUT with the context the key's previous PUT returned\n"
			"                        (default: one version per key, like an overwrite),\n"
			"                        or blindly (every PUT a new sibling)\n"
			"  --sequential          keys 0, 1, 2, ... in order (every key of the space\n"
			"                        written once by --requests K)\n"
			"  --fresh-keys          a per-run random tag in the key prefix, so runs\n"
			"                        against a long-lived node do not pile up siblings\n"
			"  --route               partition-aware: fetch the ring from --node, connect\n"
			"                        to every node and send each request to the first\n"
			"                        healthy node of its key's preference list\n"
			"  --redis               --node is a redis server: the same load in RESP, PUT as\n"
			"                        SET key value, GET as GET key (the reference for\n"
			"                        --rate; not with --key, --route, --inproc, --bucket\n"
			"                        or --puts blind)\n"
			"  --csv                 lines of op,ops_per_sec,p50_ms,p99_ms,p999_ms\n"
			"  --inproc ENGINE       drive the replica store in this process (no network)\n"
			"  --data DIR            its data directory\n"
			"  --durability D        its commit durability (default none)\n"
			"PUTs are blind writes; the GET phase reads the keys the PUT phase wrote.\n"
			"Exit status: 0 done, 1 a request failed or the node is unreachable, 2 usage.\n");
}

/* What is being measured: a line for people, the column names for CSV. */
static void
print_header(const bench *b)
{
	const bench_options *o = &b->opt;

	if (o->csv)
		printf("op,ops_per_sec,p50_ms,p99_ms,p999_ms\n");
	else
	{
		if (o->inproc)
			printf("dynamo-bench: in-process %s store in %s, one operation at a time, ",
				   o->inproc, o->data_dir);
		else
		{
			printf("dynamo-bench: %s%s, %d connections, pipeline %d, ",
				   o->redis ? "redis at " : "", o->node, o->connections, o->pipeline);
			if (o->route)
				printf("partition-aware over %d nodes, ", b->members);
			if (o->rate > 0)
				printf("open loop at %llu requests/s, ", (unsigned long long) o->rate);
		}
		printf("%llu keys, %zu-byte values, ", (unsigned long long) o->keys, o->value_size);
		if (o->duration > 0)
			printf("%g s per phase\n", o->duration);
		else
			printf("%llu requests per phase\n", (unsigned long long) o->requests);
	}
	fflush(stdout);
}

/* The long flags (getopt_long); each value is checked in parse_options. */
enum
{
	OPT_NODE = 256, OPT_INSECURE, OPT_KEY, OPT_TRUST, OPT_CONNECTIONS, OPT_PIPELINE,
	OPT_OP, OPT_GET_RATIO, OPT_KEYS, OPT_VALUE_SIZE, OPT_PUTS, OPT_SEQUENTIAL,
	OPT_FRESH_KEYS, OPT_REQUESTS, OPT_DURATION, OPT_RATE, OPT_BUCKET, OPT_CSV,
	OPT_ROUTE, OPT_REDIS, OPT_INPROC, OPT_DATA, OPT_DURABILITY
};

static const struct option bench_flags[] = {
	{"help", no_argument, NULL, 'h'},
	{"node", required_argument, NULL, OPT_NODE},
	{"insecure", no_argument, NULL, OPT_INSECURE},
	{"key", required_argument, NULL, OPT_KEY},
	{"trust", required_argument, NULL, OPT_TRUST},
	{"connections", required_argument, NULL, OPT_CONNECTIONS},
	{"pipeline", required_argument, NULL, OPT_PIPELINE},
	{"op", required_argument, NULL, OPT_OP},
	{"get-ratio", required_argument, NULL, OPT_GET_RATIO},
	{"keys", required_argument, NULL, OPT_KEYS},
	{"value-size", required_argument, NULL, OPT_VALUE_SIZE},
	{"puts", required_argument, NULL, OPT_PUTS},
	{"sequential", no_argument, NULL, OPT_SEQUENTIAL},
	{"fresh-keys", no_argument, NULL, OPT_FRESH_KEYS},
	{"requests", required_argument, NULL, OPT_REQUESTS},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"rate", required_argument, NULL, OPT_RATE},
	{"bucket", required_argument, NULL, OPT_BUCKET},
	{"csv", no_argument, NULL, OPT_CSV},
	{"route", no_argument, NULL, OPT_ROUTE},
	{"redis", no_argument, NULL, OPT_REDIS},
	{"inproc", required_argument, NULL, OPT_INPROC},
	{"data", required_argument, NULL, OPT_DATA},
	{"durability", required_argument, NULL, OPT_DURABILITY},
	{NULL, 0, NULL, 0}
};

/*
 * Parse argv into o, with the defaults of the usage text.  Every value is
 * range-checked so that later code can trust it.
 */
static int
parse_options(bench_options *o, int argc, char **argv)
{
	uint64_t	v;

	memset(o, 0, sizeof(*o));
	o->node = "127.0.0.1:7401";
	o->connections = 50;
	o->pipeline = 1;
	o->get_ratio = 50;
	o->keys = 100000;
	o->value_size = 100;
	o->requests = 200000;
	o->bucket = "bench";
	o->durability = DYN_DURABILITY_NONE;

	opterr = 0;					/* our messages, not getopt's */
	optind = 1;
	for (;;)
	{
		int			opt = getopt_long(argc, argv, "+:h", bench_flags, NULL);
		const char *a = argv[optind - 1];
		const char *val = optarg;

		if (opt == -1)
			break;
		switch (opt)
		{
			case 'h':
				usage(stdout);
				exit(BENCH_EXIT_OK);
			case ':':
				return fail(BENCH_EXIT_USAGE, "flag %s needs a value", a);
			case '?':
				return fail(BENCH_EXIT_USAGE, "unknown flag \"%s\" (see --help)", a);
			case OPT_INSECURE:
				o->insecure = true;
				break;
			case OPT_CSV:
				o->csv = true;
				break;
			case OPT_ROUTE:
				o->route = true;
				break;
			case OPT_REDIS:
				o->redis = true;
				break;
			case OPT_FRESH_KEYS:
				o->fresh_keys = true;
				break;
			case OPT_SEQUENTIAL:
				o->sequential = true;
				break;
			case OPT_PUTS:
				if (strcmp(val, "context") != 0 && strcmp(val, "blind") != 0)
					return fail(BENCH_EXIT_USAGE,
								"invalid --puts \"%s\": valid values are context, blind", val);
				o->blind_puts = strcmp(val, "blind") == 0;
				break;
			case OPT_NODE:
				o->node = val;
				break;
			case OPT_KEY:
				o->key_file = val;
				break;
			case OPT_TRUST:
				o->trust_file = val;
				break;
			case OPT_CONNECTIONS:
				if (parse_uint("--connections", val, 1, 10000, &v) != 0)
					return BENCH_EXIT_USAGE;
				o->connections = (int) v;
				break;
			case OPT_PIPELINE:
				if (parse_uint("--pipeline", val, 1, 65536, &v) != 0)
					return BENCH_EXIT_USAGE;
				o->pipeline = (int) v;
				break;
			case OPT_OP:
				if (strcmp(val, "put") != 0 && strcmp(val, "get") != 0 &&
					strcmp(val, "mixed") != 0)
					return fail(BENCH_EXIT_USAGE,
								"invalid --op \"%s\": expected put, get or mixed", val);
				o->op = val;
				break;
			case OPT_GET_RATIO:
				if (parse_uint("--get-ratio", val, 0, 100, &v) != 0)
					return BENCH_EXIT_USAGE;
				o->get_ratio = (int) v;
				break;
			case OPT_KEYS:
				if (parse_uint("--keys", val, 1, BENCH_KEYS_MAX, &o->keys) != 0)
					return BENCH_EXIT_USAGE;
				break;
			case OPT_VALUE_SIZE:
				/* leave room in the frame for the bucket, key and clock */
				if (parse_uint("--value-size", val, 0, DYN_FRAME_MAX_BODY - 8192, &v) != 0)
					return BENCH_EXIT_USAGE;
				o->value_size = (size_t) v;
				break;
			case OPT_REQUESTS:
				if (parse_uint("--requests", val, 1, UINT64_MAX / 2, &o->requests) != 0)
					return BENCH_EXIT_USAGE;
				break;
			case OPT_DURATION:
				{
					char	   *end;

					errno = 0;
					o->duration = strtod(val, &end);
					if (errno != 0 || end == val || *end != '\0' ||
						!(o->duration > 0 && o->duration <= 86400))
						return fail(BENCH_EXIT_USAGE, "invalid --duration \"%s\": expected "
									"seconds (more than 0, at most 86400)", val);
					break;
				}
			case OPT_RATE:
				if (parse_uint("--rate", val, 1, 100000000, &o->rate) != 0)
					return BENCH_EXIT_USAGE;
				break;
			case OPT_BUCKET:
				if (strlen(val) == 0 || strlen(val) > DYN_BUCKET_MAX)
					return fail(BENCH_EXIT_USAGE, "--bucket must be 1 to %d bytes",
								DYN_BUCKET_MAX);
				o->bucket = val;
				o->bucket_set = true;
				break;
			case OPT_INPROC:
				if (strcmp(val, "wiredtiger") != 0 && strcmp(val, "memory") != 0)
					return fail(BENCH_EXIT_USAGE, "invalid --inproc \"%s\": valid engines are "
								"wiredtiger, memory", val);
				o->inproc = val;
				break;
			case OPT_DATA:
				o->data_dir = val;
				break;
			case OPT_DURABILITY:
				if (strcmp(val, "none") == 0)
					o->durability = DYN_DURABILITY_NONE;
				else if (strcmp(val, "flush") == 0)
					o->durability = DYN_DURABILITY_FLUSH;
				else if (strcmp(val, "fsync") == 0)
					o->durability = DYN_DURABILITY_FSYNC;
				else
					return fail(BENCH_EXIT_USAGE, "invalid --durability \"%s\": valid values "
								"are none, flush, fsync", val);
				o->durability_set = true;
				break;
		}
	}
	if (optind < argc)
		return fail(BENCH_EXIT_USAGE, "unexpected argument \"%s\" (see --help)", argv[optind]);

	if (o->redis)
	{
		/* each of these is about dynamo, which a redis server is not */
		const char *what = o->inproc ? "--inproc (it loads a store, not a server)" :
			o->route ? "--route (redis has no ring)" :
			(o->key_file || o->trust_file) ? "--key/--trust (redis speaks plaintext)" :
			o->blind_puts ? "--puts blind (a SET overwrites: redis has no siblings)" :
			o->bucket_set ? "--bucket (redis has no buckets)" : NULL;

		if (what != NULL)
			return fail(BENCH_EXIT_USAGE, "--redis cannot be combined with %s", what);
		if (o->data_dir != NULL || o->durability_set)
			return fail(BENCH_EXIT_USAGE, "--data and --durability apply to --inproc only");
	}
	else if (o->inproc != NULL)
	{
		if (o->data_dir == NULL)
			return fail(BENCH_EXIT_USAGE, "--inproc needs --data DIR");
		if (o->rate > 0)
			return fail(BENCH_EXIT_USAGE, "--rate applies over the network only "
						"(--inproc runs one operation at a time)");
	}
	else
	{
		if (o->data_dir != NULL || o->durability_set)
			return fail(BENCH_EXIT_USAGE, "--data and --durability apply to --inproc only "
						"(the node has its own)");
		if (o->insecure && (o->key_file != NULL || o->trust_file != NULL))
			return fail(BENCH_EXIT_USAGE, "--insecure cannot be combined with --key/--trust");
		if (!o->insecure && o->key_file == NULL)
			return fail(BENCH_EXIT_USAGE, "give --key FILE, or --insecure for plaintext "
						"connections");
	}
	return BENCH_EXIT_OK;
}

/* A decimal integer in [min, max]; prints why and returns -1 otherwise. */
static int
parse_uint(const char *flag, const char *value, uint64_t min, uint64_t max,
		   uint64_t *out)
{
	char	   *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || value[0] == '-' ||
		v < min || v > max)
	{
		fail(BENCH_EXIT_USAGE, "invalid %s \"%s\": expected an integer from %llu to %llu",
			 flag, value, (unsigned long long) min, (unsigned long long) max);
		return -1;
	}
	*out = v;
	return 0;
}

/* Print "dynamo-bench: message" on stderr and return status. */
static int
fail(int status, const char *fmt,...)
{
	va_list		ap;

	fflush(stdout);
	fprintf(stderr, "dynamo-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

/* Monotonic nanoseconds (vDSO: no system call). */
static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* splitmix64: tiny, fast, and good enough to spread keys uniformly. */
static uint64_t
rng_next(uint64_t *state)
{
	uint64_t	z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Uniform in [0, n) by a 64x64->128 multiply (no modulo, no bias to speak of). */
static uint64_t
rng_below(uint64_t *state, uint64_t n)
{
	return (uint64_t) (((unsigned __int128) rng_next(state) * n) >> 64);
}

/* A quantile for the report: 0 for an empty histogram (latency.h's rule). */
static double
bench_quantile_ms(const dyn_latency *l, double q)
{
	return l->count == 0 ? 0.0 : dyn_latency_quantile_ms(l, q);
}

/*
 * The key prefix: "key:", or "key:TAG:" with a random per-run tag for
 * --fresh-keys (the tag need not be secure, only different between runs).
 */
static void
key_init(bench_key *k, bool fresh)
{
	if (fresh)
	{
		uint64_t	seed = (uint64_t) now_ns() ^ ((uint64_t) getpid() << 32);

		k->prefix_len = (size_t) snprintf(k->buf, sizeof(k->buf), "key:%08llx:",
										  (unsigned long long) (rng_next(&seed) & 0xffffffffu));
	}
	else
		k->prefix_len = (size_t) snprintf(k->buf, sizeof(k->buf), "key:");
	k->len = k->prefix_len + BENCH_KEY_DIGITS;
}

/* Write n as BENCH_KEY_DIGITS zero-padded digits after the prefix. */
static void
key_format(bench_key *k, uint64_t n)
{
	char	   *p = k->buf + k->len;

	for (int i = 0; i < BENCH_KEY_DIGITS; i++)
	{
		*--p = (char) ('0' + n % 10);
		n /= 10;
	}
}

/*
 * The context to write key_index with: what its previous PUT returned, or
 * empty (a blind write) for --puts blind and for a key not written yet.
 */
static dyn_slice
context_of(const bench *b, uint32_t key_index)
{
	dyn_slice	ctx = {NULL, 0};

	if (b->contexts != NULL)
	{
		const uint8_t *slot = b->contexts + (size_t) key_index * BENCH_CONTEXT_SLOT;

		ctx.ptr = slot + 1;
		ctx.len = slot[0];
	}
	return ctx;
}

/* Remember the context a PUT of key_index returned (if it fits its slot). */
static void
context_keep(bench *b, uint32_t key_index, dyn_slice context)
{
	uint8_t    *slot;

	if (b->contexts == NULL)
		return;
	slot = b->contexts + (size_t) key_index * BENCH_CONTEXT_SLOT;
	if (context.len < BENCH_CONTEXT_SLOT)
	{
		memcpy(slot + 1, context.ptr, context.len);
		slot[0] = (uint8_t) context.len;
	}
	else
		slot[0] = 0;
}

/*
 * Reset the phase state.  Every phase starts the key sequence from the
 * fixed seed; a GET phase after a PUT phase restarts it each time it has
 * drawn as many keys as the PUT phase did, so it only asks for written keys.
 */
static void
phase_begin(bench *b, bench_phase_kind kind)
{
	static const char *const names[] = {"PUT", "GET", "MIXED"};
	bench_phase *ph = &b->phase;

	memset(ph, 0, sizeof(*ph));
	ph->kind = kind;
	ph->name = names[kind];
	ph->key_state = BENCH_SEED;
	ph->mix_state = BENCH_MIX_SEED;
	ph->replay = (kind == BENCH_PHASE_GET) ? b->put_drawn : 0;
	ph->start_ns = now_ns();
	ph->last_reply_ns = ph->start_ns;
	if (b->opt.duration > 0)
		ph->deadline_ns = ph->start_ns + (int64_t) (b->opt.duration * 1e9);
}

/* Whether the phase has requests left to issue: count or time left. */
static bool
phase_has_more(const bench *b, int64_t now)
{
	if (b->opt.duration > 0)
		return now < b->phase.deadline_ns;
	return b->phase.issued < b->opt.requests;
}

/*
 * When request i of the phase is due with --rate (computed from the start,
 * not from the last one, so that rounding never drifts).
 */
static int64_t
phase_due(const bench *b, uint64_t i)
{
	return b->phase.start_ns + (int64_t) ((double) i * 1e9 / (double) b->opt.rate);
}

/* Whether another request may be queued now: left, and due with --rate. */
static bool
phase_may_issue(const bench *b, int64_t now)
{
	if (!phase_has_more(b, now))
		return false;
	return b->opt.rate == 0 || phase_due(b, b->phase.issued) <= now;
}

/*
 * Choose the next operation and put its key in b->key; counts it as issued.
 */
static bench_op
phase_next(bench *b)
{
	bench_phase *ph = &b->phase;
	bench_op	op;

	if (ph->kind == BENCH_PHASE_PUT)
		op = BENCH_OP_PUT;
	else if (ph->kind == BENCH_PHASE_GET)
		op = BENCH_OP_GET;
	else
		op = rng_below(&ph->mix_state, 100) < (uint64_t) b->opt.get_ratio ?
			BENCH_OP_GET : BENCH_OP_PUT;
	if (ph->replay > 0 && ph->drawn == ph->replay)
	{
		ph->key_state = BENCH_SEED;
		ph->drawn = 0;
	}
	ph->drawn++;
	b->key_index = b->opt.sequential ? (uint32_t) (ph->issued % b->opt.keys) :
		(uint32_t) rng_below(&ph->key_state, b->opt.keys);
	key_format(&b->key, b->key_index);
	ph->issued++;
	return op;
}

/*
 * Print the phase's lines: one per operation it ran, and for a mixed phase
 * a MIXED line for both together.  GETs that found nothing are not failures
 * but are worth knowing about (a GET phase with no PUT phase before it).
 */
static void
phase_report(bench *b)
{
	bench_phase *ph = &b->phase;
	double		secs = (double) (ph->last_reply_ns - ph->start_ns) / 1e9;
	bench_opstats *get = &ph->stats[BENCH_OP_GET];
	bench_opstats *put = &ph->stats[BENCH_OP_PUT];

	if (ph->kind == BENCH_PHASE_MIXED)
	{
		memset(&b->merged, 0, sizeof(b->merged));
		dyn_latency_add(&b->merged, &get->hist);
		dyn_latency_add(&b->merged, &put->hist);
		report_line(b, "MIXED", &b->merged, get->done + put->done, secs);
		report_line(b, "GET", &get->hist, get->done, secs);
		report_line(b, "PUT", &put->hist, put->done, secs);
	}
	else if (ph->kind == BENCH_PHASE_GET)
		report_line(b, "GET", &get->hist, get->done, secs);
	else
		report_line(b, "PUT", &put->hist, put->done, secs);
	fflush(stdout);
	if (get->misses > 0)
		fprintf(stderr, "dynamo-bench: %s phase: %llu of %llu GETs found no value\n",
				ph->name, (unsigned long long) get->misses,
				(unsigned long long) get->done);
}

/* One result line, human or CSV. */
static void
report_line(const bench *b, const char *name, const dyn_latency *h,
			uint64_t done, double secs)
{
	double		ops = secs > 0 ? (double) done / secs : 0.0;

	if (b->opt.csv)
		printf("%s,%.2f,%.3f,%.3f,%.3f\n", name, ops,
			   bench_quantile_ms(h, 0.50), bench_quantile_ms(h, 0.99),
			   bench_quantile_ms(h, 0.999));
	else
		printf("%-6s%6.0f ops/s   p50 %.3f ms   p99 %.3f ms   p99.9 %.3f ms\n",
			   name, ops, bench_quantile_ms(h, 0.50), bench_quantile_ms(h, 0.99),
			   bench_quantile_ms(h, 0.999));
}

/*
 * Count a failed request under its (operation, code) kind, keeping the
 * first message of each kind for the final report.
 */
static void
error_add(bench *b, bench_op op, int code, const char *fmt,...)
{
	bench_error_kind *k = NULL;
	va_list		ap;

	b->failed_total++;
	b->phase.stats[op].failed++;
	for (int i = 0; i < b->nerror_kinds; i++)
		if (b->errors[i].op == op && b->errors[i].code == code)
		{
			b->errors[i].count++;
			return;
		}
	if (b->nerror_kinds == BENCH_ERROR_KINDS)
	{
		b->errors_other++;
		return;
	}
	k = &b->errors[b->nerror_kinds++];
	k->op = (uint8_t) op;
	k->code = code;
	k->count = 1;
	va_start(ap, fmt);
	vsnprintf(k->first, sizeof(k->first), fmt, ap);
	va_end(ap);
}

/* Print the failures, if any, on stderr; BENCH_EXIT_FAILED when there were. */
static int
report_errors(const bench *b)
{
	static const char *const code_names[] = {
		"bad reply", "bad request", "quorum not met", "unauthorized",
		"internal", "too big", "invalid"
	};

	if (b->failed_total == 0)
		return BENCH_EXIT_OK;
	fprintf(stderr, "dynamo-bench: %llu requests failed:\n",
			(unsigned long long) b->failed_total);
	for (int i = 0; i < b->nerror_kinds; i++)
	{
		const bench_error_kind *k = &b->errors[i];
		const char *cname = (k->code >= 0 && k->code <= DYN_E_INVAL) ?
			code_names[k->code] : "unknown error";

		if (k->code == BENCH_CODE_REDIS)
			fprintf(stderr, "  %llu %s: redis error, first: %s\n",
					(unsigned long long) k->count, k->op == BENCH_OP_GET ? "GET" : "PUT",
					k->first);
		else
			fprintf(stderr, "  %llu %s: %s (code %d), first: %s\n",
					(unsigned long long) k->count, k->op == BENCH_OP_GET ? "GET" : "PUT",
					cname, k->code, k->first);
	}
	if (b->errors_other > 0)
		fprintf(stderr, "  %llu of other kinds\n", (unsigned long long) b->errors_other);
	return BENCH_EXIT_FAILED;
}

/*
 * Connect every client (loopback connects are quick, so one after another
 * with a deadline each) and register its socket with epoll, watching for
 * nothing until the first phase queues requests.
 */
static int
net_setup(bench *b)
{
	int			P = b->opt.pipeline;
	uint32_t	cap = 2;
	int			rc;

	while (cap < 2 * (uint32_t) P)
		cap <<= 1;
	if (b->opt.key_file != NULL)
	{
		char		err[1024];
		char		path[4096];
		const char *trust = b->opt.trust_file;

		if (dyn_identity_load(&b->identity, b->opt.key_file, err, sizeof(err)) != DYN_OK)
			return fail(BENCH_EXIT_FAILED, "--key: %s", err);
		if (trust == NULL)
		{
			const char *slash = strrchr(b->opt.key_file, '/');

			snprintf(path, sizeof(path), "%.*s%strust",
					 slash ? (int) (slash - b->opt.key_file) : 0, b->opt.key_file,
					 slash ? "/" : "");
			trust = path;
		}
		if (dyn_trust_load(&b->trust, trust, err, sizeof(err)) != DYN_OK)
			return fail(BENCH_EXIT_FAILED, "--trust: %s", err);
	}
	b->members = 1;
	if (b->opt.route && (rc = fetch_routing(b)) != BENCH_EXIT_OK)
		return rc;
	b->nconns = b->opt.connections * b->members;
	if ((b->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return fail(BENCH_EXIT_FAILED, "epoll_create1: %s", strerror(errno));
	b->conns = calloc((size_t) b->nconns, sizeof(bench_conn));
	b->events = calloc((size_t) b->nconns + 1, sizeof(struct epoll_event));
	b->group_out = calloc((size_t) b->opt.connections, sizeof(int));
	if (b->conns == NULL || b->events == NULL || b->group_out == NULL)
		return fail(BENCH_EXIT_FAILED, "out of memory");
	for (int i = 0; i < b->nconns; i++)
	{
		bench_conn *bc = &b->conns[i];
		struct epoll_event ev = {0};
		const char *addr = b->opt.route ?
			b->routing.ring.members[i % b->members].address : b->opt.node;

		bc->fd = -1;
		bc->group = i / b->members;
		bc->slot_mask = cap - 1;
		if ((bc->slots = calloc(cap, sizeof(bench_slot))) == NULL)
			return fail(BENCH_EXIT_FAILED, "out of memory");
		if (b->opt.redis)
		{
			if ((rc = resp_connect(b, bc)) != BENCH_EXIT_OK)
				return rc;
			ev.events = 0;
			ev.data.ptr = bc;
			if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, bc->fd, &ev) != 0)
				return fail(BENCH_EXIT_FAILED, "epoll_ctl: %s", strerror(errno));
			continue;
		}
		if ((bc->client = dyn_client_new()) == NULL)
			return fail(BENCH_EXIT_FAILED, "out of memory");
		if (b->opt.key_file != NULL)
			dyn_client_set_identity(bc->client, &b->identity, &b->trust);
		if (dyn_client_connect(bc->client, addr, BENCH_CONNECT_MS) != DYN_OK)
			return fail(BENCH_EXIT_FAILED, "cannot connect to %s: %s", addr,
						dyn_client_errmsg(bc->client));
		bc->fd = dyn_client_socket(bc->client);
		ev.events = 0;
		ev.data.ptr = bc;
		if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, bc->fd, &ev) != 0)
			return fail(BENCH_EXIT_FAILED, "epoll_ctl: %s", strerror(errno));
	}
	if (b->opt.rate > 0)
	{
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &b->tfd};

		if ((b->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0 ||
			epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->tfd, &ev) != 0)
			return fail(BENCH_EXIT_FAILED, "timerfd: %s", strerror(errno));
	}
	return BENCH_EXIT_OK;
}

/* Close what net_setup made, whether or not it got all the way. */
static void
net_teardown(bench *b)
{
	if (b->conns != NULL)
	{
		for (int i = 0; i < b->nconns; i++)
		{
			bench_conn *bc = &b->conns[i];

			dyn_client_free(bc->client);
			if (b->opt.redis && bc->fd >= 0)
				close(bc->fd);	/* the socket is the bench's own */
			dyn_buf_free(&bc->out);
			dyn_buf_free(&bc->in);
			free(bc->slots);
		}
	}
	free(b->conns);
	free(b->events);
	free(b->group_out);
	b->group_out = NULL;
	dyn_routing_free(&b->routing);
	b->conns = NULL;
	b->events = NULL;
	dyn_identity_clear(&b->identity);
	dyn_trust_free(&b->trust);
	if (b->epfd >= 0)
		close(b->epfd);
	b->epfd = -1;
	if (b->tfd >= 0)
		close(b->tfd);
	b->tfd = -1;
}

/*
 * Run one phase over the network: fill every connection's pipeline, then
 * until nothing is in flight, wait, read, account the replies and refill.
 * A lost connection or a stall ends the run (BENCH_EXIT_FAILED); a request
 * answered with an error does not.
 */
static int
net_run_phase(bench *b)
{
	bench_phase *ph = &b->phase;
	int			rc;

	for (int i = 0; i < b->nconns; i += b->members)
		if ((rc = conn_fill(b, &b->conns[i])) != BENCH_EXIT_OK)
			return rc;
	if (b->opt.rate > 0 && (rc = rate_arm(b)) != BENCH_EXIT_OK)
		return rc;

	while (ph->inflight > 0 || (b->opt.rate > 0 && phase_has_more(b, now_ns())))
	{
		int			n = epoll_wait(b->epfd, b->events, b->nconns + 1, 1000);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			return fail(BENCH_EXIT_FAILED, "epoll_wait: %s", strerror(errno));
		}
		if (n == 0)
		{
			if (now_ns() - ph->last_reply_ns > BENCH_STALL_NS)
				return fail(BENCH_EXIT_FAILED, "%s phase stalled: no reply from %s for "
							"%lld s with %llu requests in flight", ph->name, b->opt.node,
							(long long) (BENCH_STALL_NS / 1000000000),
							(unsigned long long) ph->inflight);
			continue;
		}
		for (int i = 0; i < n; i++)
		{
			bench_conn *bc = b->events[i].data.ptr;
			uint32_t	e = b->events[i].events;
			int			ready = 0;
			dyn_frame	reply;
			int64_t		now;

			if (b->events[i].data.ptr == &b->tfd)
			{
				uint64_t	expirations;

				if (read(b->tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
					return fail(BENCH_EXIT_FAILED, "timerfd: %s", strerror(errno));
				if ((rc = rate_fill(b)) != BENCH_EXIT_OK)
					return rc;
				continue;
			}

			if (b->opt.redis)
			{
				if ((rc = resp_io(b, bc, e)) != BENCH_EXIT_OK ||
					(rc = conn_fill(b, bc)) != BENCH_EXIT_OK)
					return rc;
				continue;
			}
			if (e & (EPOLLIN | EPOLLHUP | EPOLLERR))
				ready |= DYN_WAIT_READ;
			if (e & (EPOLLOUT | EPOLLERR))
				ready |= DYN_WAIT_WRITE;
			rc = dyn_client_io(bc->client, ready);
			now = now_ns();
			/* a node may answer (say, with an error) and then hang up */
			while ((rc == DYN_OK || rc == DYN_ERR_CLOSED) &&
				   dyn_client_next_reply(bc->client, &reply) == DYN_OK)
				conn_handle_reply(b, bc, &reply, now);
			if (rc != DYN_OK || dyn_client_socket(bc->client) < 0)
				return fail(BENCH_EXIT_FAILED, "lost a connection to %s during the %s "
							"phase: %s", b->opt.node, ph->name,
							dyn_client_errmsg(bc->client));
			if ((rc = conn_fill(b, bc)) != BENCH_EXIT_OK)
				return rc;
		}
		if (b->opt.rate > 0 && (rc = rate_arm(b)) != BENCH_EXIT_OK)
			return rc;
	}
	return BENCH_EXIT_OK;
}

/*
 * --rate: hand the requests due by now to the logical clients with room,
 * in turn from where the last round stopped, so no connection is favoured.
 */
static int
rate_fill(bench *b)
{
	int			groups = b->opt.connections;

	for (int k = 0; k < groups && phase_may_issue(b, now_ns()); k++)
	{
		int			g = (b->next_group + k) % groups;
		int			rc;

		if (b->group_out[g] >= b->opt.pipeline)
			continue;
		if ((rc = conn_fill(b, &b->conns[g * b->members])) != BENCH_EXIT_OK)
			return rc;
		b->next_group = (g + 1) % groups;
	}
	return BENCH_EXIT_OK;
}

/*
 * --rate: wake up when the next request is due -- unless every logical
 * client is full, when only a reply can make room (and a timer in the past
 * would only spin).  Requests due meanwhile wait, and their wait counts.
 */
static int
rate_arm(bench *b)
{
	struct itimerspec its = {0};
	bool		room = false;
	int64_t		due;

	for (int g = 0; g < b->opt.connections && !room; g++)
		room = b->group_out[g] < b->opt.pipeline;
	if (room && phase_has_more(b, now_ns()))
	{
		due = phase_due(b, b->phase.issued);
		its.it_value.tv_sec = due / 1000000000;
		its.it_value.tv_nsec = due % 1000000000;
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1;	/* zero would disarm */
	}
	if (timerfd_settime(b->tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
		return fail(BENCH_EXIT_FAILED, "timerfd_settime: %s", strerror(errno));
	return BENCH_EXIT_OK;
}

/*
 * Queue requests until the connection has its pipeline depth in flight (or
 * the phase has issued all it may), send them with one write, and make epoll
 * watch for what the client now waits for.  All requests of one fill share
 * one send timestamp: they go out in the same write.
 */
static int
conn_fill(bench *b, bench_conn *bc)
{
	bench_phase *ph = &b->phase;
	int64_t		now = now_ns();
	int			queued = 0;

	bench_conn *group = &b->conns[bc->group * b->members];

	while (b->group_out[bc->group] < b->opt.pipeline && phase_may_issue(b, now))
	{
		/* open loop: a request's clock starts when it was due */
		int64_t		sent = b->opt.rate > 0 ? phase_due(b, ph->issued) : now;
		bench_op	op = phase_next(b);
		dyn_slice	key = {(const uint8_t *) b->key.buf, b->key.len};

		bc = group;
		if (b->opt.route)
		{
			int			ix = dyn_routing_coordinator(&b->routing, b->bucket, key);

			if (ix >= 0)
				bc = &group[ix];
		}

		if (b->opt.redis)
			resp_queue(b, bc, op, sent);
		else
			conn_queue(b, bc, op, key, sent);
		bc->outstanding++;
		bc->queued = true;
		b->group_out[bc->group]++;
		ph->inflight++;
		queued++;
	}
	for (int m = 0; m < b->members; m++)
	{
		int			rc;

		bc = &group[m];
		if (bc->queued && b->opt.redis)
		{
			if ((rc = resp_flush(b, bc)) != BENCH_EXIT_OK)
				return rc;
		}
		else if (bc->queued && dyn_client_io(bc->client, 0) != DYN_OK)
			return fail(BENCH_EXIT_FAILED, "lost a connection to %s during the %s phase: %s",
						b->opt.node, ph->name, dyn_client_errmsg(bc->client));
		bc->queued = false;
		if ((rc = conn_watch(b, bc)) != BENCH_EXIT_OK)
			return rc;
	}
	(void) queued;
	return BENCH_EXIT_OK;
}

/*
 * Queue one dynamo request on bc's client and remember it in a free slot
 * under its request id.
 */
static void
conn_queue(bench *b, bench_conn *bc, bench_op op, dyn_slice key, int64_t sent)
{
	uint32_t	reqid;
	bench_slot *s;

	if (op == BENCH_OP_GET)
	{
		dyn_get_req req = {.bucket = b->bucket, .key = key, .r = 0};

		reqid = dyn_client_send_get(bc->client, &req);
	}
	else
	{
		dyn_put_req req = {.bucket = b->bucket, .key = key,
			.context = context_of(b, b->key_index),
			.value = {b->value, b->opt.value_size}, .w = 0};

		reqid = dyn_client_send_put(bc->client, &req);
	}
	/* the table has twice the pipeline depth of slots: one is free */
	s = &bc->slots[reqid & bc->slot_mask];
	while (s->used)
		s = &bc->slots[(uint32_t) (s - bc->slots + 1) & bc->slot_mask];
	s->used = true;
	s->reqid = reqid;
	s->key_index = b->key_index;
	s->op = (uint8_t) op;
	s->sent_ns = sent;
}

/*
 * --route: ask --node for the ring and its view of the members; requests
 * then go to the first healthy node of each key's preference list.
 */
static int
fetch_routing(bench *b)
{
	dyn_client *c = dyn_client_new();
	dyn_frame	reply;
	int			rc;

	dyn_routing_init(&b->routing);
	if (c == NULL)
		return fail(BENCH_EXIT_FAILED, "out of memory");
	if (b->opt.key_file != NULL)
		dyn_client_set_identity(c, &b->identity, &b->trust);
	if (dyn_client_connect(c, b->opt.node, BENCH_CONNECT_MS) != DYN_OK)
	{
		rc = fail(BENCH_EXIT_FAILED, "cannot connect to %s: %s", b->opt.node,
				  dyn_client_errmsg(c));
		dyn_client_free(c);
		return rc;
	}
	dyn_client_send_ring(c);
	rc = dyn_client_await(c, BENCH_CONNECT_MS, &reply);
	if (rc != DYN_OK || reply.type != DYN_MSG_RING_REPLY ||
		dyn_routing_decode(reply.body, &b->routing) != DYN_OK ||
		b->routing.ring.nmembers == 0)
	{
		rc = fail(BENCH_EXIT_FAILED, "--route: %s did not send a usable ring%s%s",
				  b->opt.node, rc != DYN_OK ? ": " : "",
				  rc != DYN_OK ? dyn_client_errmsg(c) : "");
		dyn_client_free(c);
		return rc;
	}
	dyn_client_free(c);
	b->members = (int) b->routing.ring.nmembers;
	return BENCH_EXIT_OK;
}

/* Tell epoll what the client waits for, when that changed. */
static int
conn_watch(bench *b, bench_conn *bc)
{
	int			wants;
	uint32_t	events = 0;
	struct epoll_event ev = {0};

	if (b->opt.redis)
		wants = (bc->out_off < bc->out.len ? DYN_WAIT_WRITE : 0) |
			(bc->outstanding > 0 ? DYN_WAIT_READ : 0);
	else
		wants = dyn_client_wants(bc->client);
	if (wants & DYN_WAIT_READ)
		events |= EPOLLIN;
	if (wants & DYN_WAIT_WRITE)
		events |= EPOLLOUT;
	if (events == bc->events)
		return BENCH_EXIT_OK;
	ev.events = events;
	ev.data.ptr = bc;
	if (epoll_ctl(b->epfd, EPOLL_CTL_MOD, bc->fd, &ev) != 0)
		return fail(BENCH_EXIT_FAILED, "epoll_ctl: %s", strerror(errno));
	bc->events = events;
	return BENCH_EXIT_OK;
}

/*
 * Account one reply: find its request, then count it as done (with its
 * latency) or as failed.  The body is decoded as far as the frame layer
 * (cheap, and it catches a node that answers with the wrong thing); GET
 * objects are not decoded into siblings, which is the client's own work,
 * not the server's.
 */
static void
conn_handle_reply(bench *b, bench_conn *bc, const dyn_frame *f, int64_t now)
{
	bench_phase *ph = &b->phase;
	bench_slot *s = conn_take_slot(bc, f->reqid);
	bench_op	op;
	int64_t		sent;
	dyn_slice	body;
	uint8_t		want;

	if (s == NULL)
	{
		/* request id 0: the node refused a frame and is closing the connection */
		dyn_error_msg em;

		if (f->type == DYN_MSG_ERROR && dyn_error_decode(f->body, &em) == DYN_OK)
			error_add(b, BENCH_OP_GET, em.code, "%.*s", (int) em.message.len,
					  (const char *) em.message.ptr);
		else
			error_add(b, BENCH_OP_GET, 0, "%s reply to request id %u, which is not in flight",
					  dyn_msg_type_name(f->type), f->reqid);
		return;
	}
	op = (bench_op) s->op;
	sent = s->sent_ns;
	s->used = false;
	bc->outstanding--;
	b->group_out[bc->group]--;
	ph->inflight--;
	ph->last_reply_ns = now;

	if (f->type == DYN_MSG_ERROR)
	{
		dyn_error_msg em;

		if (dyn_error_decode(f->body, &em) == DYN_OK)
			error_add(b, op, em.code, "%.*s", (int) em.message.len,
					  (const char *) em.message.ptr);
		else
			error_add(b, op, 0, "malformed error reply");
		return;
	}
	want = (op == BENCH_OP_GET) ? DYN_MSG_GET_REPLY : DYN_MSG_PUT_REPLY;
	if (f->type != want)
	{
		error_add(b, op, 0, "%s reply to a %s request", dyn_msg_type_name(f->type),
				  op == BENCH_OP_GET ? "get" : "put");
		return;
	}
	if (op == BENCH_OP_GET)
	{
		if (dyn_get_reply_decode(f->body, &body) != DYN_OK)
		{
			error_add(b, op, 0, "malformed get reply");
			return;
		}
		if (body.len == 0)
			ph->stats[op].misses++;
	}
	else if (dyn_put_reply_decode(f->body, &body) != DYN_OK)
	{
		error_add(b, op, 0, "malformed put reply");
		return;
	}
	else
		context_keep(b, s->key_index, body);
	dyn_latency_record(&ph->stats[op].hist, (uint64_t) (now - sent));
	ph->stats[op].done++;
}

/*
 * Find and return the slot of reqid.  The node answers in order, so the
 * slot is almost always at its home position; a full scan covers replies
 * that came back out of order after a collision.  NULL if not in flight.
 */
static bench_slot *
conn_take_slot(bench_conn *bc, uint32_t reqid)
{
	bench_slot *s = &bc->slots[reqid & bc->slot_mask];

	if (s->used && s->reqid == reqid)
		return s;
	for (uint32_t i = 0; i <= bc->slot_mask; i++)
		if (bc->slots[i].used && bc->slots[i].reqid == reqid)
			return &bc->slots[i];
	return NULL;
}

/*
 * --redis: connect bc to --node on a socket of the bench's own, set up as
 * dyn_client sets up its sockets (non-blocking; TCP_NODELAY, because
 * requests are small and pipelining already batches them), and wait at
 * most BENCH_CONNECT_MS for the connection.
 */
static int
resp_connect(bench *b, bench_conn *bc)
{
	const char *addr = b->opt.node;
	const char *colon = strrchr(addr, ':');
	char		host[256];
	size_t		hl = colon ? (size_t) (colon - addr) : 0;
	struct addrinfo hints = {0};
	struct addrinfo *res = NULL;
	int			one = 1;
	int			err = 0;
	socklen_t	errlen = sizeof(err);
	int			rc;

	dyn_buf_init(&bc->out);
	dyn_buf_init(&bc->in);
	if (colon == NULL || hl == 0 || colon[1] == '\0' || hl >= sizeof(host))
		return fail(BENCH_EXIT_FAILED, "invalid --node \"%s\": expected HOST:PORT", addr);
	memcpy(host, addr, hl);
	host[hl] = '\0';
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']')
	{
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0 || res == NULL)
		return fail(BENCH_EXIT_FAILED, "cannot connect to redis at %s: could not resolve "
					"\"%s\": %s", addr, host, gai_strerror(rc));
	bc->fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (bc->fd < 0)
	{
		freeaddrinfo(res);
		return fail(BENCH_EXIT_FAILED, "socket: %s", strerror(errno));
	}
	setsockopt(bc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	rc = connect(bc->fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (rc != 0 && errno != EINPROGRESS)
		return fail(BENCH_EXIT_FAILED, "cannot connect to redis at %s: %s", addr,
					strerror(errno));
	if (rc != 0)
	{
		struct pollfd pfd = {.fd = bc->fd, .events = POLLOUT};

		do
			rc = poll(&pfd, 1, BENCH_CONNECT_MS);
		while (rc < 0 && errno == EINTR);
		if (rc == 0)
			return fail(BENCH_EXIT_FAILED, "cannot connect to redis at %s: timed out "
						"after %d ms", addr, BENCH_CONNECT_MS);
		if (rc < 0 || getsockopt(bc->fd, SOL_SOCKET, SO_ERROR, &err, &errlen) != 0)
			err = errno;
		if (err != 0)
			return fail(BENCH_EXIT_FAILED, "cannot connect to redis at %s: %s", addr,
						strerror(err));
	}
	return BENCH_EXIT_OK;
}

/*
 * --redis: encode the parts every request shares once, so that queueing a
 * request is five appends and no formatting.
 */
static void
resp_heads(bench *b)
{
	b->resp_set_head_len = (size_t) snprintf(b->resp_set_head, sizeof(b->resp_set_head),
											 "*3\r\n$3\r\nSET\r\n$%zu\r\n", b->key.len);
	b->resp_get_head_len = (size_t) snprintf(b->resp_get_head, sizeof(b->resp_get_head),
											 "*2\r\n$3\r\nGET\r\n$%zu\r\n", b->key.len);
	b->resp_value_head_len = (size_t) snprintf(b->resp_value_head,
											   sizeof(b->resp_value_head),
											   "\r\n$%zu\r\n", b->opt.value_size);
}

/*
 * --redis: append the request for b->key to bc's output and put it at the
 * tail of the connection's FIFO (the caller counts it as outstanding).  An
 * allocation failure is sticky in the buffer; resp_flush reports it.
 */
static void
resp_queue(bench *b, bench_conn *bc, bench_op op, int64_t sent)
{
	bench_slot *s = &bc->slots[(bc->fifo_head + (uint32_t) bc->outstanding) & bc->slot_mask];

	if (op == BENCH_OP_GET)
	{
		dyn_buf_append(&bc->out, b->resp_get_head, b->resp_get_head_len);
		dyn_buf_append(&bc->out, b->key.buf, b->key.len);
		dyn_buf_append(&bc->out, "\r\n", 2);
	}
	else
	{
		dyn_buf_append(&bc->out, b->resp_set_head, b->resp_set_head_len);
		dyn_buf_append(&bc->out, b->key.buf, b->key.len);
		dyn_buf_append(&bc->out, b->resp_value_head, b->resp_value_head_len);
		dyn_buf_append(&bc->out, b->value, b->opt.value_size);
		dyn_buf_append(&bc->out, "\r\n", 2);
	}
	s->used = true;
	s->reqid = 0;
	s->key_index = b->key_index;
	s->op = (uint8_t) op;
	s->sent_ns = sent;
}

/* --redis: write as much of bc's output as the socket takes. */
static int
resp_flush(bench *b, bench_conn *bc)
{
	if (bc->out.err != DYN_OK)
		return fail(BENCH_EXIT_FAILED, "out of memory queueing requests for redis at %s",
					b->opt.node);
	while (bc->out_off < bc->out.len)
	{
		ssize_t		n = send(bc->fd, bc->out.data + bc->out_off,
							 bc->out.len - bc->out_off, MSG_NOSIGNAL);

		if (n < 0)
		{
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			return fail(BENCH_EXIT_FAILED, "lost a connection to redis at %s during the "
						"%s phase: could not send: %s", b->opt.node, b->phase.name,
						strerror(errno));
		}
		bc->out_off += (size_t) n;
	}
	if (bc->out_off == bc->out.len)
	{
		dyn_buf_reset(&bc->out);
		bc->out_off = 0;
	}
	return BENCH_EXIT_OK;
}

/*
 * --redis: write what is queued if the socket has room, then read what has
 * arrived, BENCH_RESP_READ_CHUNK at a time, and account every reply whose
 * last byte is in; a partial reply stays at the front of the buffer for the
 * next read.  Redis closing the connection ends the run, after the replies
 * it sent first are counted, as a node hanging up does.
 */
static int
resp_io(bench *b, bench_conn *bc, uint32_t events)
{
	int			rc;

	if ((events & (EPOLLOUT | EPOLLERR)) && (rc = resp_flush(b, bc)) != BENCH_EXIT_OK)
		return rc;
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return BENCH_EXIT_OK;
	for (;;)
	{
		size_t		off = 0;
		ssize_t		n;
		int64_t		now;

		if (dyn_buf_reserve(&bc->in, BENCH_RESP_READ_CHUNK) != DYN_OK)
			return fail(BENCH_EXIT_FAILED, "out of memory reading from redis at %s",
						b->opt.node);
		n = recv(bc->fd, bc->in.data + bc->in.len, BENCH_RESP_READ_CHUNK, 0);
		if (n < 0)
		{
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return BENCH_EXIT_OK;
			if (errno == EINTR)
				continue;
			return fail(BENCH_EXIT_FAILED, "lost a connection to redis at %s during the "
						"%s phase: could not receive: %s", b->opt.node, b->phase.name,
						strerror(errno));
		}
		if (n == 0)
			return fail(BENCH_EXIT_FAILED, "lost a connection to redis at %s during the "
						"%s phase: it closed the connection%s", b->opt.node,
						b->phase.name, bc->in.len > 0 ? " in the middle of a reply" : "");
		bc->in.len += (size_t) n;
		now = now_ns();
		for (;;)
		{
			resp_reply r;
			size_t		used;
			char		why[128];
			int			pr = resp_parse(bc->in.data + off, bc->in.len - off, &used, &r,
										why, sizeof(why));

			if (pr == 0)
				break;
			if (pr < 0)
				return resp_malformed(b, bc->in.data + off, bc->in.len - off, why);
			if ((rc = resp_handle_reply(b, bc, &r, now)) != BENCH_EXIT_OK)
				return rc;
			off += used;
		}
		dyn_buf_consume(&bc->in, off);
		if ((size_t) n < BENCH_RESP_READ_CHUNK)
			return BENCH_EXIT_OK;	/* short read: the socket is drained */
	}
}

/*
 * Parse one reply from p[0, len): 1 with *r and *used (its length in bytes)
 * when it is all there, 0 when more bytes are needed, -1 with why when the
 * bytes are not RESP.  Only the replies a SET or a GET can draw are taken:
 * +status, -error, :integer, $bulk and the null bulk $-1.  The length lines
 * and the bulk length are bounded (BENCH_RESP_LINE_MAX, DYN_FRAME_MAX_BODY:
 * more than any value the bench writes), so a server sending garbage gets
 * an error, not a buffer that grows until memory runs out.
 */
static int
resp_parse(const uint8_t *p, size_t len, size_t *used, resp_reply *r,
		   char *why, size_t whylen)
{
	const uint8_t *nl;
	size_t		eol;			/* index of the line's '\n' */
	uint64_t	n = 0;

	if (len == 0)
		return 0;
	if (p[0] != '+' && p[0] != '-' && p[0] != ':' && p[0] != '$')
	{
		snprintf(why, whylen, "a reply cannot start with byte 0x%02x", p[0]);
		return -1;
	}
	nl = memchr(p, '\n', len < BENCH_RESP_LINE_MAX ? len : BENCH_RESP_LINE_MAX);
	if (nl == NULL)
	{
		if (len < BENCH_RESP_LINE_MAX)
			return 0;
		snprintf(why, whylen, "no line end in the first %d bytes of a reply",
				 BENCH_RESP_LINE_MAX);
		return -1;
	}
	eol = (size_t) (nl - p);
	if (eol < 2 || p[eol - 1] != '\r')
	{
		snprintf(why, whylen, "a line ended by LF without CR");
		return -1;
	}
	r->type = (char) p[0];
	r->nil = false;
	r->text.ptr = p + 1;
	r->text.len = eol - 2;
	*used = eol + 1;
	if (r->type != '$')
		return 1;

	/* a bulk: "$<n>\r\n", n bytes, "\r\n"; or "$-1\r\n", the null bulk */
	if (r->text.len == 2 && memcmp(r->text.ptr, "-1", 2) == 0)
	{
		r->nil = true;
		r->text.ptr = NULL;
		r->text.len = 0;
		return 1;
	}
	for (size_t i = 0; i < r->text.len; i++)
	{
		if (r->text.ptr[i] < '0' || r->text.ptr[i] > '9' || n > DYN_FRAME_MAX_BODY)
		{
			n = UINT64_MAX;
			break;
		}
		n = n * 10 + (uint64_t) (r->text.ptr[i] - '0');
	}
	if (r->text.len == 0 || n > DYN_FRAME_MAX_BODY)
	{
		snprintf(why, whylen, "bulk length \"%.*s\" is not a number from -1 to %u",
				 (int) (r->text.len < 24 ? r->text.len : 24),
				 (const char *) r->text.ptr, DYN_FRAME_MAX_BODY);
		return -1;
	}
	if (len < eol + 1 + n + 2)
		return 0;
	if (p[eol + 1 + n] != '\r' || p[eol + 2 + n] != '\n')
	{
		snprintf(why, whylen, "a %llu-byte bulk reply not followed by CRLF",
				 (unsigned long long) n);
		return -1;
	}
	r->text.ptr = p + eol + 1;
	r->text.len = (size_t) n;
	*used = eol + 1 + (size_t) n + 2;
	return 1;
}

/*
 * --redis: account one reply for the oldest request in flight on bc:
 * -ERR is a failed request (counted by kind like an ERROR frame), a reply
 * of the wrong kind is a bad reply, $-1 to a GET is a miss; the rest are
 * done, with their latency.  A reply with nothing in flight means the
 * stream is out of step, and ends the run.
 */
static int
resp_handle_reply(bench *b, bench_conn *bc, const resp_reply *r, int64_t now)
{
	bench_phase *ph = &b->phase;
	bench_slot *s;
	bench_op	op;

	if (bc->outstanding == 0)
		return fail(BENCH_EXIT_FAILED, "redis at %s sent a reply with no request in flight "
					"during the %s phase", b->opt.node, ph->name);
	s = &bc->slots[bc->fifo_head & bc->slot_mask];
	bc->fifo_head++;
	op = (bench_op) s->op;
	s->used = false;
	bc->outstanding--;
	b->group_out[bc->group]--;
	ph->inflight--;
	ph->last_reply_ns = now;

	if (r->type == '-')
	{
		error_add(b, op, BENCH_CODE_REDIS, "%.*s", (int) r->text.len,
				  (const char *) r->text.ptr);
		return BENCH_EXIT_OK;
	}
	if (r->type != (op == BENCH_OP_GET ? '$' : '+'))
	{
		error_add(b, op, 0, "%s reply to a %s",
				  r->type == '+' ? "a status" : r->type == ':' ? "an integer" : "a bulk",
				  op == BENCH_OP_GET ? "GET" : "SET");
		return BENCH_EXIT_OK;
	}
	if (r->nil)
		ph->stats[op].misses++;
	dyn_latency_record(&ph->stats[op].hist, (uint64_t) (now - s->sent_ns));
	ph->stats[op].done++;
	return BENCH_EXIT_OK;
}

/*
 * --redis: end the run on bytes p[0, len) that are not a reply, showing how
 * they start, since a stream out of step cannot be matched with its requests
 * again.
 */
static int
resp_malformed(const bench *b, const uint8_t *p, size_t len, const char *why)
{
	char		shown[32 * 4 + 1];
	size_t		o = 0;

	for (size_t i = 0; i < len && i < 32; i++)
	{
		uint8_t		c = p[i];

		if (c == '\r' || c == '\n')
			o += (size_t) snprintf(shown + o, sizeof(shown) - o, "\\%c", c == '\r' ? 'r' : 'n');
		else if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			shown[o++] = (char) c;
		else
			o += (size_t) snprintf(shown + o, sizeof(shown) - o, "\\x%02x", c);
	}
	shown[o] = '\0';
	return fail(BENCH_EXIT_FAILED, "malformed reply from redis at %s during the %s phase: "
				"%s (the unparsed input starts \"%s\"%s); is it a redis server?",
				b->opt.node, b->phase.name, why, shown, len > 32 ? "..." : "");
}

/*
 * Open the engine and the store in this process, as dynamod does (node id
 * "inproc", the default partition count; a data directory remembers both).
 */
static int
inproc_setup(bench *b)
{
	dyn_engine_config cfg = {0};
	char		err[512];

	if (mkdir(b->opt.data_dir, 0700) != 0 && errno != EEXIST)
		return fail(BENCH_EXIT_FAILED, "could not create data directory \"%s\": %s",
					b->opt.data_dir, strerror(errno));
	cfg.name = b->opt.inproc;
	cfg.dir = b->opt.data_dir;
	cfg.cache_mb = 0;
	cfg.buffer_mb = DYN_ENGINE_BUFFER_DEFAULT;	/* as dynamod opens it */
	cfg.durability = b->opt.durability;
	if (dyn_engine_open(&cfg, &b->engine, err, sizeof(err)) != DYN_OK)
		return fail(BENCH_EXIT_FAILED, "could not open the %s engine in \"%s\": %s",
					b->opt.inproc, b->opt.data_dir, err);
	if (dyn_store_open(&b->store, b->engine, "inproc", DYN_PARTITIONS_DEFAULT,
					   err, sizeof(err)) != DYN_OK)
		return fail(BENCH_EXIT_FAILED, "could not open the store in \"%s\": %s",
					b->opt.data_dir, err);
	b->store_open = true;
	dyn_buf_init(&b->getbuf);
	return BENCH_EXIT_OK;
}

/* Close the store and, cleanly, the engine. */
static void
inproc_teardown(bench *b)
{
	if (b->store_open)
	{
		dyn_store_close(&b->store);
		dyn_buf_free(&b->getbuf);
	}
	b->store_open = false;
	dyn_engine_close(b->engine);
	b->engine = NULL;
}

/*
 * Run one phase against the in-process store, one operation at a time.  A
 * PUT is what dynamod does for a burst of one write: begin a batch, apply
 * the write, commit.  A GET copies the stored object into a buffer, as
 * dynamod copies it into the reply.
 */
static int
inproc_run_phase(bench *b)
{
	bench_phase *ph = &b->phase;
	dyn_slice	value = {b->value, b->opt.value_size};
	int64_t		now = ph->start_ns;

	while (phase_may_issue(b, now))
	{
		bench_op	op = phase_next(b);
		dyn_slice	key = {(const uint8_t *) b->key.buf, b->key.len};
		int64_t		t0 = now_ns();
		int			rc;

		if (op == BENCH_OP_GET)
		{
			dyn_buf_reset(&b->getbuf);
			rc = dyn_store_get(&b->store, b->bucket, key, &b->getbuf);
			if (rc == DYN_OK && b->getbuf.len == 0)
				ph->stats[op].misses++;
		}
		else
		{
			dyn_vclock	written;

			rc = dyn_engine_begin(b->engine);
			if (rc == DYN_OK)
			{
				int			wrc = dyn_store_write(&b->store, b->bucket, key,
												  context_of(b, b->key_index),
												  &value, &written);

				rc = dyn_engine_commit(b->engine);
				if (wrc != DYN_OK)
					rc = wrc;
			}
			if (rc == DYN_OK)
			{
				/* encoded as dynamod encodes its reply, and kept */
				dyn_buf_reset(&b->getbuf);
				dyn_vclock_encode(&written, &b->getbuf);
				context_keep(b, b->key_index, dyn_buf_slice(&b->getbuf));
			}
		}
		now = now_ns();
		if (rc != DYN_OK)
		{
			error_add(b, op, DYN_E_INTERNAL, "%s: %s", dyn_strerror(rc),
					  dyn_engine_errmsg(b->engine));
			continue;
		}
		dyn_latency_record(&ph->stats[op].hist, (uint64_t) (now - t0));
		ph->stats[op].done++;
	}
	ph->last_reply_ns = now;
	return BENCH_EXIT_OK;
}
