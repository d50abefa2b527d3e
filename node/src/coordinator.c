/*
 * coordinator.c
 *		Quorum reads and writes across the preference list (see
 *		coordinator.h for who coordinates a write and why its dots stay
 *		unique).
 *
 * A coord_req lives from the request until every replica has answered or
 * timed out (the client may have had its answer long before: at R or W).
 * Its targets are the first N healthy nodes of the key's extended
 * preference list.  A target that is not one of the key's owners is a
 * stand-in: it gets the write with a hint naming a down owner, and keeps it
 * in its hint namespace.  A down owner for which no stand-in is left (a
 * cluster of N nodes has none), or a replica that fails to acknowledge, gets
 * its hint from the coordinator itself, so every owner eventually receives
 * every acknowledged write (hints.c delivers when it is back).
 *
 * A GET answers when dyn_read_decide (dynamo/quorum.h) says so: an empty
 * answer from a stand-in does not count towards R for "not found", so a
 * coordinator cut off from a key's owners does not call it absent.
 *
 * Read repair: when every target of a GET has answered, the owners that
 * answered a sibling set other than the merged one get the merged set
 * (dyn_read_repair_targets decides, dynamo/quorum.h).  The client's answer
 * never waits for this.
 *
 * Speed: replicas usually agree, so a GET compares each answer's bytes with
 * the first answer's and copies, decodes and merges only when one differs;
 * a write's REPLICA_PUT is encoded once for all its owners.  Request
 * records are kept on a free list (at most COORD_FREE_MAX) with their
 * buffers, and a reused one is touched only as far as its request uses it
 * (its targets, not all DYN_RING_N_MAX of them); frames and answers are
 * built in the coordinator's own buffers (struct dyn_coordinator), so the
 * steady state allocates nothing per request.  dyn_conn_answer copies the
 * answer out before anything else can use the buffer again.
 */
#include "coordinator.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamo/actor.h"
#include "dynamo/object.h"
#include "dynamo/quorum.h"
#include "handoff.h"

/*
 * Request records kept for reuse (each holds its buffers' memory): as many
 * as a busy coordinator has in flight -- 50 clients pipelining 16 deep are
 * 800, and a record lives on until its last replica answered -- so that
 * the steady state neither frees nor allocates them.
 */
#define COORD_FREE_MAX	1024

/* How one target's part of a request went. */
typedef enum coord_state
{
	T_PENDING,
	T_OK,
	T_FAILED
} coord_state;

struct coord_req;

/* One node a request went to. */
typedef struct coord_target
{
	struct coord_req *req;
	dyn_member *m;
	dyn_member *hint_for;		/* set on a stand-in: the owner it holds for */
	bool		owner;			/* one of the key's N owners */
	bool		as_first;		/* GET: answered first's bytes exactly (reply not kept) */
	coord_state state;
	dyn_buf		reply;			/* GET: the replica's sibling set */
} coord_target;					/* 64 bytes on LP64: one cache line */

/*
 * One client request being coordinated (or forwarded).  The fields every
 * request and every reply touch come first, in the first cache line (on
 * LP64), free list link included: a record waiting for its replicas is
 * mostly out of the caches when they answer.
 */
typedef struct coord_req
{
	dyn_node   *node;
	dyn_conn   *conn;			/* held until answered */
	uint32_t	reqid;			/* the client's request id */
	uint8_t		reply_type;		/* GET_REPLY, PUT_REPLY, DELETE_REPLY, COORD_*_REPLY */
	bool		is_get;
	bool		answered;
	uint64_t	started_ns;		/* uv_hrtime() when the request arrived */
	int			n;				/* the ring's N, for messages */
	int			need;			/* R or W */
	int			ok;
	int			outstanding;
	struct coord_req *next_free;	/* on the node's free list */
	int			ntargets;
	int			tused;			/* targets this record has held, most (req_free checks) */
	dyn_buf		keys;			/* bucket bytes then key bytes */
	dyn_slice	bucket;
	dyn_slice	key;
	uint64_t	position;		/* dyn_key_position(bucket, key), hashed once */
	dyn_buf		object;			/* PUT: the sibling set shipped */
	dyn_buf		context;		/* PUT: the new version's clock */
	dyn_object	merged;			/* GET: what the replicas answered, merged */
	coord_target *first;		/* GET: the first replica that answered */
	bool		same;			/* GET: every answer so far is first's bytes */
	bool		first_has_data; /* GET: first's set holds a sibling */
	dyn_read_tally tally;		/* GET: who answered what, for dyn_read_decide */
	int			standin_ok;		/* PUT: of ok, stand-ins (this node too) */
	uint8_t		orig_type;		/* PUT: the frame type it came in (fwd_body's) */
	/* a line each: the record is allocated on a cache line (req_new) */
	coord_target t[DYN_RING_N_MAX] __attribute__((aligned(64)));
	/* forwarding */
	uint8_t		fwd_type;
	dyn_buf		fwd_body;
	int			nfwd;
	int			fwd_next;
	dyn_member *fwd[2 * DYN_RING_N_MAX + 1];	/* owners, stand-ins, this node */
	char		fwd_error[160];
} coord_req;

/*
 * The coordinator's own state, one per node (node->coord), so that the
 * steady state allocates nothing per request: the request records kept for
 * reuse, and the buffers frames, answers and replicas' sets are built or
 * decoded in.  Each buffer is used within one call and copied out before
 * it returns (dyn_peer_send and dyn_conn_answer copy), so one of each
 * serves every request.
 */
struct dyn_coordinator
{
	coord_req  *free;			/* request records kept for reuse */
	int			nfree;
	dyn_buf		frame;			/* node-to-node frames being encoded */
	dyn_buf		plain_put;		/* a write's REPLICA_PUT to its owners (write_here) */
	dyn_buf		answer;			/* client answers being encoded */
	dyn_object	obj;			/* a replica's answer being decoded */
};

static coord_req *req_new(dyn_node *node, dyn_conn *c, uint32_t reqid, uint8_t reply_type,
						  dyn_slice bucket, dyn_slice key);
static void req_free(coord_req *r);
static void req_destroy(coord_req *r);
static void req_maybe_free(coord_req *r);
static void answer_frame(coord_req *r, dyn_buf *frame);
static void answer_error(coord_req *r, dyn_error_code code, int replied, int needed,
						 const char *fmt,...) __attribute__((format(printf, 5, 6)));
static void answer_quorum_failure(coord_req *r);
static int	check_quorum_arg(dyn_node *node, dyn_conn *c, uint32_t reqid, int asked,
							 const char *what, int *need);
static void send_error(dyn_node *node, dyn_conn *c, uint32_t reqid, dyn_error_code code,
					   int replied, int needed, const char *fmt,...)
			__attribute__((format(printf, 7, 8)));
static int	pick_targets(coord_req *r, dyn_member **ext, int count, int owners,
						 dyn_member **down_owners, int *ndown);
static void target_set(coord_req *r, coord_target *t, dyn_member *m, bool owner,
					   dyn_member *hint_for);
static void get_local(coord_req *r, coord_target *t);
static void get_merge(coord_req *r, coord_target *t, dyn_slice set, bool kept);
static void get_on_reply(void *arg, int status, const dyn_frame *reply);
static void get_progress(coord_req *r);
static void get_repair(coord_req *r);
static void write_here(coord_req *r, const dyn_put_req *req, dyn_member **ext, int count,
					   int owners, bool as_owner);
static int	write_standin(coord_req *r, const dyn_put_req *req, bool is_put,
						  dyn_member *owner, dyn_vclock *written);
static void put_on_reply(void *arg, int status, const dyn_frame *reply);
static void put_replace(coord_req *r, coord_target *failed);
static void put_progress(coord_req *r);
static void put_hint_locally(coord_req *r, dyn_member *owner);
static dyn_slice replica_put_body(dyn_buf *frame, dyn_slice bucket, dyn_slice key,
								  dyn_slice object, dyn_slice hint);
static int	send_replica_body(dyn_member *m, dyn_slice body, dyn_peer_cb cb, void *arg);
static int	send_replica_put(dyn_node *node, dyn_member *m, dyn_slice bucket, dyn_slice key,
							 dyn_slice object, dyn_slice hint, dyn_peer_cb cb, void *arg);
static void repair_on_reply(void *arg, int status, const dyn_frame *reply);
static void forward_next(coord_req *r);
static void write_self(coord_req *r);
static void forward_on_reply(void *arg, int status, const dyn_frame *reply);


/* ------------------------------------------------------------- requests */

/* A request record holding c; NULL when out of memory. */
static coord_req *
req_new(dyn_node *node, dyn_conn *c, uint32_t reqid, uint8_t reply_type,
		dyn_slice bucket, dyn_slice key)
{
	dyn_coordinator *co = node->coord;
	coord_req  *r = co->free;

	if (r != NULL)
	{
		co->free = r->next_free;
		co->nfree--;
	}
	else
	{
		void	   *mem;

		if (posix_memalign(&mem, 64, sizeof(*r)) != 0)
			return NULL;
		r = memset(mem, 0, sizeof(*r));
		dyn_buf_init(&r->keys);
		dyn_buf_init(&r->object);
		dyn_buf_init(&r->context);
		dyn_buf_init(&r->fwd_body);
		dyn_object_init(&r->merged);
		for (int i = 0; i < DYN_RING_N_MAX; i++)
		{
			r->t[i].req = r;
			dyn_buf_init(&r->t[i].reply);
		}
	}
	r->node = node;
	r->conn = c;
	r->reqid = reqid;
	r->reply_type = reply_type;
	r->started_ns = uv_hrtime();
	r->n = dyn_membership_n(&node->members);
	r->is_get = r->answered = r->same = false;
	r->first = NULL;
	r->need = r->ok = r->standin_ok = r->outstanding = r->ntargets = r->tused = 0;
	r->merged.n = 0;
	memset(&r->tally, 0, sizeof(r->tally));
	dyn_buf_reset(&r->keys);
	dyn_buf_reset(&r->object);
	dyn_buf_reset(&r->context);
	dyn_buf_append(&r->keys, bucket.ptr, bucket.len);
	dyn_buf_append(&r->keys, key.ptr, key.len);
	if (r->keys.err)
	{
		r->node->cluster.inflight++;	/* req_free counts it back */
		req_free(r);
		return NULL;
	}
	r->bucket.ptr = r->keys.data;
	r->bucket.len = bucket.len;
	r->key.ptr = r->keys.data + bucket.len;
	r->key.len = key.len;
	/* targets are set as they are picked (target_set), forwarding where it starts */
	dyn_conn_hold(c);
	node->cluster.inflight++;
	return r;
}

/*
 * Back on the free list (buffers kept, unless one grew past 64 kB: a big
 * value should not pin its memory), or freed when the list is full.
 */
static void
req_free(coord_req *r)
{
	dyn_coordinator *co = r->node->coord;
	bool		big = r->object.cap > 65536 || r->merged.cap > 64;

	/*
	 * targets past tused were checked when their own request ended, and
	 * only a GET fills replies (a write's reply check would only fetch
	 * cache lines)
	 */
	for (int i = 0; i < r->tused && r->is_get && !big; i++)
		big = r->t[i].reply.cap > 65536;
	r->node->cluster.inflight--;
	if (!big && co->nfree < COORD_FREE_MAX)
	{
		r->next_free = co->free;
		co->free = r;
		co->nfree++;
		return;
	}
	req_destroy(r);
}

/* Free a request record and everything it owns. */
static void
req_destroy(coord_req *r)
{
	for (int i = 0; i < DYN_RING_N_MAX; i++)
		dyn_buf_free(&r->t[i].reply);
	dyn_object_free(&r->merged);
	dyn_buf_free(&r->keys);
	dyn_buf_free(&r->object);
	dyn_buf_free(&r->context);
	dyn_buf_free(&r->fwd_body);
	free(r);
}

int
dyn_coord_init(dyn_node *node)
{
	dyn_coordinator *co = calloc(1, sizeof(*co));

	if (co == NULL)
		return DYN_ERR_NOMEM;
	dyn_buf_init(&co->frame);
	dyn_buf_init(&co->plain_put);
	dyn_buf_init(&co->answer);
	dyn_object_init(&co->obj);
	node->coord = co;
	return DYN_OK;
}

void
dyn_coord_free(dyn_node *node)
{
	dyn_coordinator *co = node->coord;

	if (co == NULL)
		return;
	while (co->free != NULL)
	{
		coord_req  *r = co->free;

		co->free = r->next_free;
		req_destroy(r);
	}
	dyn_buf_free(&co->frame);
	dyn_buf_free(&co->plain_put);
	dyn_buf_free(&co->answer);
	dyn_object_free(&co->obj);
	free(co);
	node->coord = NULL;
}

/* Free once answered and nothing is outstanding any more. */
static void
req_maybe_free(coord_req *r)
{
	if (r->answered && r->outstanding == 0)
		req_free(r);
}

/* Send a whole reply frame to the client and release the connection. */
static void
answer_frame(coord_req *r, dyn_buf *frame)
{
	if (r->answered)
		return;
	r->answered = true;
	dyn_node_record_latency(r->node, r->reply_type, (uv_hrtime() - r->started_ns) / 1000);
	if (frame->err)
	{
		dyn_buf		err;

		dyn_buf_init(&err);
		dyn_reply_error(r->node, &err, r->reqid, DYN_E_INTERNAL, 0, 0,
						"out of memory building the reply");
		dyn_conn_answer(r->conn, dyn_buf_slice(&err));
		dyn_buf_free(&err);
		return;
	}
	dyn_conn_answer(r->conn, dyn_buf_slice(frame));
}

static void
answer_error(coord_req *r, dyn_error_code code, int replied, int needed,
			 const char *fmt,...)
{
	dyn_buf		b;
	va_list		ap;

	if (r->answered)
		return;
	dyn_buf_init(&b);
	va_start(ap, fmt);
	dyn_reply_verror(r->node, &b, r->reqid, code, replied, needed, fmt, ap);
	va_end(ap);
	answer_frame(r, &b);
	dyn_buf_free(&b);
}

/*
 * "quorum not met: 1 of 3 replicas acknowledged (2 needed)"; a GET whose
 * answers were enough in number but not in authority says so.
 */
static void
answer_quorum_failure(coord_req *r)
{
	if (r->is_get && r->ok >= r->need)
	{
		answer_error(r, DYN_E_QUORUM, r->tally.authoritative, r->need,
					 "quorum not met: %d of %d replicas answered, none with the key, and "
					 "only %d of them can tell it is absent (%d needed: a stand-in "
					 "without a hint for the key cannot)", r->ok, r->n,
					 r->tally.authoritative, r->need);
		return;
	}
	answer_error(r, DYN_E_QUORUM, r->ok, r->need,
				 "quorum not met: %d of %d replicas %s (%d needed)", r->ok, r->n,
				 r->is_get ? "answered" : "acknowledged", r->need);
}

/* An error answer before any request record exists. */
static void
send_error(dyn_node *node, dyn_conn *c, uint32_t reqid, dyn_error_code code,
		   int replied, int needed, const char *fmt,...)
{
	dyn_buf		b;
	va_list		ap;

	dyn_buf_init(&b);
	va_start(ap, fmt);
	dyn_reply_verror(node, &b, reqid, code, replied, needed, fmt, ap);
	va_end(ap);
	dyn_conn_hold(c);
	dyn_conn_answer(c, dyn_buf_slice(&b));
	dyn_buf_free(&b);
}

/*
 * R or W as asked (0: the cluster default); above N is refused here with
 * a message that says so.
 */
static int
check_quorum_arg(dyn_node *node, dyn_conn *c, uint32_t reqid, int asked,
				 const char *what, int *need)
{
	int			n = dyn_membership_n(&node->members);

	if (!dyn_membership_ready(&node->members))
	{
		send_error(node, c, reqid, DYN_E_QUORUM, 0, asked ? asked : 1,
				   "quorum not met: 0 of %d replicas %s: this node has not joined a ring yet",
				   n, what[0] == 'w' ? "acknowledged" : "answered");
		return -1;
	}
	if (asked > n)
	{
		send_error(node, c, reqid, DYN_E_INVAL, 0, asked,
				   "%s=%d exceeds the replication factor n=%d", what, asked, n);
		return -1;
	}
	*need = asked > 0 ? asked : dyn_node_default_quorum(node);
	return 0;
}

/*
 * The first N healthy nodes of the extended list become targets (this
 * node, if among them, answers at once); the owners among the first N
 * that are down are returned for hinting.  Returns the number of targets.
 */
static int
pick_targets(coord_req *r, dyn_member **ext, int count, int owners,
			 dyn_member **down_owners, int *ndown)
{
	int			want = owners;

	*ndown = 0;
	r->ntargets = 0;
	for (int i = 0; i < count && r->ntargets < want && r->ntargets < DYN_RING_N_MAX; i++)
	{
		if (!dyn_member_up(ext[i]))
		{
			if (i < owners)
				down_owners[(*ndown)++] = ext[i];
			continue;
		}
		target_set(r, &r->t[r->ntargets], ext[i], i < owners, NULL);
		r->ntargets++;
	}
	return r->ntargets;
}

/*
 * Make t (one of r's targets, picked now) m's part of the request: every
 * field a request reads is set here, so a reused record's targets are
 * only touched as far as they are used.
 */
static void
target_set(coord_req *r, coord_target *t, dyn_member *m, bool owner, dyn_member *hint_for)
{
	int			i = (int) (t - r->t);

	t->m = m;
	t->owner = owner;
	t->hint_for = hint_for;
	t->state = T_PENDING;
	t->as_first = false;
	if (i >= r->tused)
		r->tused = i + 1;
}


/* ------------------------------------------------------------------- GET */

void
dyn_coord_get(dyn_node *node, dyn_conn *c, uint32_t reqid, const dyn_get_req *req)
{
	dyn_member *ext[DYN_RING_MEMBERS_MAX];
	dyn_member *down[DYN_RING_N_MAX];
	int			ndown;
	int			owners;
	int			count;
	int			need;
	coord_req  *r;

	if (check_quorum_arg(node, c, reqid, req->r, "r", &need) != 0)
		return;
	r = req_new(node, c, reqid, DYN_MSG_GET_REPLY, req->bucket, req->key);
	if (r == NULL)
	{
		send_error(node, c, reqid, DYN_E_INTERNAL, 0, need, "out of memory");
		return;
	}
	node->cluster.coord_gets++;
	r->is_get = true;
	r->need = need;
	r->position = dyn_key_position(r->bucket, r->key);
	count = dyn_membership_preflist_at(&node->members, r->position, ext,
									   DYN_RING_MEMBERS_MAX, &owners);
	pick_targets(r, ext, count, owners, down, &ndown);

	/* one REPLICA_GET body for every target */
	dyn_buf_reset(&node->coord->frame);
	{
		dyn_replica_get_req rg = {r->bucket, r->key};

		dyn_replica_get_encode(&node->coord->frame, 0, &rg);
	}
	for (int i = 0; i < r->ntargets; i++)
	{
		coord_target *t = &r->t[i];
		dyn_peer   *p;
		dyn_slice	body = {node->coord->frame.data + DYN_FRAME_HEADER_LEN,
		node->coord->frame.len - DYN_FRAME_HEADER_LEN};

		if (t->m->self)
		{
			get_local(r, t);
			continue;
		}
		p = dyn_membership_peer(t->m);
		if (p != NULL && node->coord->frame.err == DYN_OK &&
			dyn_peer_send(p, DYN_MSG_REPLICA_GET, body, DYN_REPLICA_TIMEOUT_MS,
						  get_on_reply, t) == DYN_OK)
			r->outstanding++;
		else
			t->state = T_FAILED;
	}
	get_progress(r);
}

/* This node's own copy (and any hints it keeps for the key). */
static void
get_local(coord_req *r, coord_target *t)
{
	dyn_node   *node = r->node;
	dyn_buf		hintbufs[DYN_RING_N_MAX];
	int			nh = 0;

	dyn_buf_reset(&t->reply);
	if (dyn_store_get_pos(&node->store, r->position, r->bucket, r->key, &t->reply) != DYN_OK)
	{
		t->state = T_FAILED;
		return;
	}
	if (node->hints.total > 0)
	{
		dyn_object	o;

		dyn_object_init(&o);
		for (int i = 0; i < DYN_RING_N_MAX; i++)
			dyn_buf_init(&hintbufs[i]);
		if (dyn_object_decode(dyn_buf_slice(&t->reply), &o) == DYN_OK &&
			(nh = dyn_hints_merge_into(&node->hints, r->bucket, r->key, &o,
									   hintbufs, DYN_RING_N_MAX)) > 0)
		{
			dyn_buf		enc;

			dyn_buf_init(&enc);
			dyn_object_encode(&o, &enc);
			if (enc.err == DYN_OK)
			{
				dyn_buf		tmp = t->reply;

				t->reply = enc;
				enc = tmp;
			}
			dyn_buf_free(&enc);
		}
		dyn_object_free(&o);
		for (int i = 0; i < DYN_RING_N_MAX; i++)
			dyn_buf_free(&hintbufs[i]);
	}
	get_merge(r, t, dyn_buf_slice(&t->reply), true);
}

/*
 * Take one replica's answer, set: t->reply's bytes, or (kept) the reply
 * frame's, valid during the call only.  While every answer is byte for
 * byte the first one, nothing is decoded, and the answers after the first
 * are not even kept (as_first: first's bytes stand for them); at the first
 * difference the first answer is decoded into merged and every later one
 * merged in.  An answer that becomes part of the request is copied into
 * t->reply, since the merged siblings point into it.
 */
static void
get_merge(coord_req *r, coord_target *t, dyn_slice set, bool kept)
{
	dyn_object *o = &r->node->coord->obj;

	if (r->first != NULL && r->same && dyn_slice_eq(set, dyn_buf_slice(&r->first->reply)))
	{
		t->state = T_OK;
		t->as_first = true;
		r->ok++;
		dyn_read_tally_add(&r->tally, t->owner, r->first_has_data);
		return;
	}
	if (!kept)
	{
		dyn_buf_reset(&t->reply);
		dyn_buf_append(&t->reply, set.ptr, set.len);
		if (t->reply.err != DYN_OK)
		{
			t->state = T_FAILED;
			return;
		}
	}
	t->state = T_OK;
	if (r->first == NULL)
	{
		/* decoding checks the replica sent a well-formed set */
		if (dyn_object_decode(dyn_buf_slice(&t->reply), o) != DYN_OK)
		{
			t->state = T_FAILED;
			return;
		}
		r->first = t;
		r->same = true;
		r->first_has_data = o->n > 0;
		r->ok++;
		dyn_read_tally_add(&r->tally, t->owner, r->first_has_data);
		return;
	}
	if (r->same)
	{
		if (dyn_object_decode(dyn_buf_slice(&r->first->reply), &r->merged) != DYN_OK)
			r->merged.n = 0;	/* cannot happen: it decoded once */
		r->same = false;
	}
	if (dyn_object_decode(dyn_buf_slice(&t->reply), o) != DYN_OK ||
		dyn_object_merge(&r->merged, o, NULL) != DYN_OK)
	{
		/* a replica sent what we cannot read or hold: not an answer */
		t->state = T_FAILED;
		return;
	}
	r->ok++;
	dyn_read_tally_add(&r->tally, t->owner, o->n > 0);
}

/* A REPLICA_GET answer (or failure). */
static void
get_on_reply(void *arg, int status, const dyn_frame *reply)
{
	coord_target *t = arg;
	coord_req  *r = t->req;
	dyn_slice	obj;

	r->outstanding--;
	if (status == DYN_OK && reply->type == DYN_MSG_REPLICA_GET_REPLY &&
		dyn_get_reply_decode(reply->body, &obj) == DYN_OK)
		get_merge(r, t, obj, false);
	else
		t->state = T_FAILED;
	get_progress(r);
}

/*
 * Answer at R; a failure only once every target has answered or failed,
 * so that its message gives the true count.  Repair when all are in.
 */
static void
get_progress(coord_req *r)
{
	dyn_read_verdict v;

	r->tally.outstanding = r->outstanding;
	v = dyn_read_decide(&r->tally, r->need);
	if (!r->answered && v == DYN_READ_ANSWER)
	{
		dyn_buf    *frame = &r->node->coord->answer;
		size_t		start;

		dyn_buf_reset(frame);
		start = dyn_frame_begin(frame, DYN_MSG_GET_REPLY, r->reqid);
		{
			size_t		lenpos = frame->len;

			dyn_buf_put_u32(frame, 0);
			if (r->same)
				dyn_buf_append(frame, r->first->reply.data, r->first->reply.len);
			else if (r->merged.n > 0)
				dyn_object_encode(&r->merged, frame);
			if (frame->err == DYN_OK)
				dyn_buf_patch_u32(frame, lenpos, (uint32_t) (frame->len - lenpos - 4));
		}
		dyn_frame_end(frame, start);
		answer_frame(r, frame);
	}
	else if (!r->answered && v == DYN_READ_FAIL)
		answer_quorum_failure(r);	/* after every answer: the count is final */
	if (r->outstanding == 0)
	{
		get_repair(r);
		req_maybe_free(r);
	}
}

/*
 * Read repair, to the targets dyn_read_repair_targets picks (dynamo/
 * quorum.h).  Fire and forget: a failed repair is left to the next read.
 */
static void
get_repair(coord_req *r)
{
	dyn_node   *node = r->node;
	dyn_read_answer answers[DYN_RING_N_MAX];
	bool		repair[DYN_RING_N_MAX];
	dyn_buf		merged;

	if (!dyn_read_repair_any(r->same, r->ok, r->merged.n))
		return;
	dyn_buf_init(&merged);
	dyn_object_encode(&r->merged, &merged);
	if (merged.err)
	{
		dyn_buf_free(&merged);
		return;
	}
	for (int i = 0; i < r->ntargets; i++)
	{
		answers[i].answered = r->t[i].state == T_OK;
		answers[i].owner = r->t[i].owner;
		answers[i].set = dyn_buf_slice(r->t[i].as_first ? &r->first->reply : &r->t[i].reply);
	}
	dyn_read_repair_targets(answers, r->ntargets, dyn_buf_slice(&merged), repair);
	for (int i = 0; i < r->ntargets; i++)
	{
		coord_target *t = &r->t[i];

		if (!repair[i])
			continue;
		node->cluster.read_repairs++;
		if (t->m->self)
		{
			if (dyn_store_merge(&node->store, r->bucket, r->key, dyn_buf_slice(&merged),
								NULL) != DYN_OK)
				dyn_log(&node->log, DYN_LOG_WARNING, "read repair of the local copy failed: %s",
						dyn_engine_errmsg(node->engine));
		}
		else
			(void) send_replica_put(node, t->m, r->bucket, r->key, dyn_buf_slice(&merged),
									(dyn_slice) {NULL, 0}, repair_on_reply, NULL);
	}
	dyn_buf_free(&merged);
}

/* A repair needs no answer; a failure is the failure detector's business. */
static void
repair_on_reply(void *arg, int status, const dyn_frame *reply)
{
	(void) arg;
	(void) status;
	(void) reply;
}


/* ------------------------------------------------------------ PUT/DELETE */

/*
 * A REPLICA_PUT body encoded into frame (whose previous contents it
 * replaces); a NULL ptr when out of memory.
 */
static dyn_slice
replica_put_body(dyn_buf *frame, dyn_slice bucket, dyn_slice key, dyn_slice object,
				 dyn_slice hint)
{
	dyn_replica_put_req rp = {bucket, key, hint, object};
	dyn_slice	body = {NULL, 0};

	dyn_buf_reset(frame);
	dyn_replica_put_encode(frame, 0, &rp);
	if (frame->err == DYN_OK)
	{
		body.ptr = frame->data + DYN_FRAME_HEADER_LEN;
		body.len = frame->len - DYN_FRAME_HEADER_LEN;
	}
	return body;
}

/* A REPLICA_PUT with this body to m; DYN_OK when sent (cb will be called). */
static int
send_replica_body(dyn_member *m, dyn_slice body, dyn_peer_cb cb, void *arg)
{
	dyn_peer   *p = dyn_membership_peer(m);

	if (p == NULL)
		return DYN_ERR_INVAL;
	if (body.ptr == NULL)
		return DYN_ERR_NOMEM;
	return dyn_peer_send(p, DYN_MSG_REPLICA_PUT, body, DYN_REPLICA_TIMEOUT_MS, cb, arg);
}

/* One REPLICA_PUT to m; DYN_OK when sent (cb will be called). */
static int
send_replica_put(dyn_node *node, dyn_member *m, dyn_slice bucket, dyn_slice key,
				 dyn_slice object, dyn_slice hint, dyn_peer_cb cb, void *arg)
{
	if (dyn_membership_peer(m) == NULL)
		return DYN_ERR_INVAL;
	return send_replica_body(m, replica_put_body(&node->coord->frame, bucket, key, object,
												 hint), cb, arg);
}

/*
 * A write: coordinate it here when this node may (coordinator.h says who),
 * else forward it to one that may, the next one on failure.
 */
void
dyn_coord_write(dyn_node *node, dyn_conn *c, uint8_t type, uint32_t reqid,
				const dyn_put_req *req, dyn_slice body)
{
	dyn_member *ext[DYN_RING_MEMBERS_MAX];
	dyn_member *self = NULL;
	int			owners;
	int			count;
	int			need;
	int			healthy = 0;
	bool		forwarded_here = (type == DYN_MSG_COORD_PUT || type == DYN_MSG_COORD_DELETE);
	bool		self_owner = false;
	bool		self_listed = false;	/* among the first N healthy */
	bool		defer = false;	/* recovering: let an owner that kept its data coordinate */
	coord_req  *r;

	if (check_quorum_arg(node, c, reqid, req->w, "w", &need) != 0)
		return;
	r = req_new(node, c, reqid, DYN_MSG_REPLY_OF(type), req->bucket, req->key);
	if (r == NULL)
	{
		send_error(node, c, reqid, DYN_E_INTERNAL, 0, need, "out of memory");
		return;
	}
	r->need = need;
	r->orig_type = type;
	/* a write may come before the handoff timer looked: dot it right */
	if (!node->recovery_checked)
		dyn_handoff_check_recovery(node);
	r->position = dyn_key_position(r->bucket, r->key);
	count = dyn_membership_preflist_at(&node->members, r->position, ext,
									   DYN_RING_MEMBERS_MAX, &owners);
	for (int i = 0; i < count && self == NULL; i++)
	{
		if (ext[i]->self)
		{
			self = ext[i];
			self_owner = i < owners;
			self_listed = healthy < owners;
		}
		healthy += dyn_member_up(ext[i]);
	}
	/*
	 * A node repairing lost data dots its writes with a new incarnation,
	 * which is safe, but an owner that kept its data holds the key's
	 * siblings and makes none needlessly: a client's write goes to such an
	 * owner when one is up (this node is the last resort), a forwarded
	 * one goes back to its forwarder, which tries the next.
	 */
	if (self_owner && node->recovering)
		for (int i = 0; i < owners; i++)
			if (!ext[i]->self && dyn_member_up(ext[i]))
				defer = true;
	if (defer && forwarded_here)
	{
		answer_error(r, DYN_E_UNAVAILABLE, 0, need,
					 "%s is rebuilding lost data: try another owner", node->cfg.id);
		req_maybe_free(r);
		return;
	}
	/* a forwarded write is never forwarded again */
	if ((self_owner && !defer) || forwarded_here)
	{
		write_here(r, req, ext, count, owners, self_owner);
		return;
	}

	/* owners this node reaches first: they keep a key's actors few */
	r->nfwd = r->fwd_next = 0;
	r->fwd_error[0] = '\0';
	for (int i = 0; i < owners; i++)
		if (!ext[i]->self && dyn_member_up(ext[i]))
			r->fwd[r->nfwd++] = ext[i];
	if (r->nfwd == 0 && self_listed)
	{
		write_here(r, req, ext, count, owners, false);	/* a stand-in, no owner reached */
		return;
	}
	/* then the stand-ins of the first N healthy, then this node itself */
	healthy = 0;
	for (int i = 0; i < count && healthy < owners; i++)
	{
		if (!dyn_member_up(ext[i]))
			continue;
		healthy++;
		if (i >= owners && !ext[i]->self)
			r->fwd[r->nfwd++] = ext[i];
	}
	if (self != NULL)
		r->fwd[r->nfwd++] = self;
	r->fwd_type = (type == DYN_MSG_PUT) ? DYN_MSG_COORD_PUT : DYN_MSG_COORD_DELETE;
	dyn_buf_reset(&r->fwd_body);
	dyn_buf_append(&r->fwd_body, body.ptr, body.len);
	if (r->fwd_body.err)
	{
		answer_error(r, DYN_E_INTERNAL, 0, need, "out of memory");
		req_maybe_free(r);
		return;
	}
	node->cluster.forwarded++;
	forward_next(r);
}

/*
 * Coordinate the write on this node: as an owner (its owner actor, its
 * store) or as a stand-in (its stand-in actor for the key's partition, its
 * copy a hint).  The copy here is made before anything is shipped, and a
 * failure to make it fails the write.
 */
static void
write_here(coord_req *r, const dyn_put_req *req, dyn_member **ext, int count, int owners,
		   bool as_owner)
{
	dyn_node   *node = r->node;
	dyn_member *down[DYN_RING_N_MAX];
	dyn_member *hint_here = NULL;	/* a stand-in: whose hint this node's copy is */
	coord_target *self_t = NULL;
	bool		is_put = (r->orig_type == DYN_MSG_PUT || r->orig_type == DYN_MSG_COORD_PUT);
	int			ndown = 0;
	int			standin = 0;
	dyn_vclock	written;
	dyn_slice	plain = {NULL, 0};	/* the REPLICA_PUT body without a hint */
	int			rc;

	node->cluster.coord_puts++;
	if (dyn_conn_batch(r->conn) != DYN_OK)
	{
		answer_error(r, DYN_E_INTERNAL, 0, r->need, "could not start a write: %s",
					 dyn_engine_errmsg(node->engine));
		req_maybe_free(r);
		return;
	}
	/* the first N healthy are the targets; stand-ins take down owners' hints in order */
	pick_targets(r, ext, count, owners, down, &ndown);
	for (int i = 0; i < r->ntargets; i++)
	{
		coord_target *t = &r->t[i];

		if (!t->owner && standin < ndown)
			t->hint_for = down[standin++];
		if (t->m->self)
			self_t = t;
	}
	if (as_owner)
	{
		dyn_actor  *a = &node->actors.owner;
		dyn_vclock	ctx;

		/* an incarnation refuses a forged context; a node id cannot tell (one decode) */
		if (a->incarnation && (dyn_vclock_decode(req->context, &ctx) != DYN_OK ||
							   !dyn_actor_context_ok(a, &ctx)))
			rc = DYN_ERR_PROTO;
		else
			rc = dyn_store_write_as(&node->store, r->position, dyn_slice_str(a->id),
									dyn_actor_floor(a), r->bucket, r->key, req->context,
									is_put ? &req->value : NULL, &written);
		if (rc == DYN_OK)
		{
			dyn_slice	obj = dyn_store_object(&node->store);

			dyn_actor_issued(a, dyn_vclock_get(&written, dyn_slice_str(a->id)));
			dyn_buf_append(&r->object, obj.ptr, obj.len);
			if (r->object.err)
				rc = DYN_ERR_NOMEM;
		}
	}
	else
	{
		/* this node's copy: a hint for the owner it stands in for, else one owner */
		if (self_t != NULL && self_t->hint_for != NULL)
			hint_here = self_t->hint_for;
		else if (ndown > 0)
			hint_here = down[0];
		else
			for (int i = 0; i < owners && hint_here == NULL; i++)
				if (!ext[i]->self)
					hint_here = ext[i];
		rc = hint_here != NULL ? write_standin(r, req, is_put, hint_here, &written) :
			DYN_ERR_NOTFOUND;
	}
	if (rc == DYN_OK)
	{
		dyn_vclock_encode(&written, &r->context);
		if (r->context.err)
			rc = DYN_ERR_NOMEM;
	}
	if (rc != DYN_OK)
	{
		if (rc == DYN_ERR_PROTO)
			answer_error(r, DYN_E_INVAL, 0, r->need,
						 "invalid context: not one this cluster issued");
		else if (rc == DYN_ERR_TOOBIG)
			answer_error(r, DYN_E_INVAL, 0, r->need,
						 "key has %d siblings already: read it and write with its context",
						 DYN_SIBLINGS_MAX);
		else if (rc == DYN_ERR_NOMEM)
			answer_error(r, DYN_E_INTERNAL, 0, r->need, "out of memory");
		else if (rc == DYN_ERR_INVAL)
			answer_error(r, DYN_E_INVAL, 0, r->need,
						 "invalid context: the counter of this write's dot would pass "
						 "2^64-1");
		else if (rc == DYN_ERR_NOTFOUND)
			answer_error(r, DYN_E_QUORUM, 0, r->need,
						 "quorum not met: 0 of %d replicas acknowledged (%d needed): "
						 "this node knows no owner of the key to keep a hint for", r->n, r->need);
		else
			answer_error(r, DYN_E_INTERNAL, 0, r->need, "could not write key: %s",
						 dyn_engine_errmsg(node->engine));
		r->ntargets = 0;
		req_maybe_free(r);
		return;
	}

	/*
	 * (a replacement put_replace adds is sent there, not here)  The targets
	 * without a hint -- the owners, usually all of them -- get one body,
	 * encoded once into plain_put; a hinted one its own, in frame.
	 */
	for (int i = 0, first = r->ntargets; i < first; i++)
	{
		coord_target *t = &r->t[i];

		if (t->m->self)
		{
			t->state = T_OK;
			r->ok++;
			r->standin_ok += !t->owner;
			continue;
		}
		if (t->hint_for != NULL)
			rc = send_replica_put(node, t->m, r->bucket, r->key, dyn_buf_slice(&r->object),
								  dyn_slice_str(t->hint_for->id), put_on_reply, t);
		else
		{
			if (plain.ptr == NULL)
				plain = replica_put_body(&node->coord->plain_put, r->bucket, r->key,
										 dyn_buf_slice(&r->object), (dyn_slice) {NULL, 0});
			rc = send_replica_body(t->m, plain, put_on_reply, t);
		}
		if (rc == DYN_OK)
			r->outstanding++;
		else
		{
			t->state = T_FAILED;
			put_hint_locally(r, t->hint_for != NULL ? t->hint_for : t->m);
			put_replace(r, t);
		}
	}
	/* down owners no stand-in took: this node keeps their hints */
	for (; standin < ndown; standin++)
		if (down[standin] != hint_here)
			put_hint_locally(r, down[standin]);
	put_progress(r);
}

/*
 * A stand-in's write: its dot from the key's stand-in actor, above every
 * counter of that actor in the hints held here for the key (all of them:
 * dyn_hints_gather fails rather than miss one) and above every counter the
 * actor issued; the resulting set, hints and new version, is kept as a
 * hint for owner and shipped.  A context above what the actor issued was
 * never returned by this cluster (DYN_ERR_PROTO): taken, it would raise
 * the actor's floor for every key of the partition.
 */
static int
write_standin(coord_req *r, const dyn_put_req *req, bool is_put, dyn_member *owner,
			  dyn_vclock *written)
{
	dyn_node   *node = r->node;
	uint32_t	part = dyn_partition_of(r->position, node->store.partitions);
	dyn_actor  *a = dyn_actors_standin(&node->actors, part);
	dyn_vclock	ctx;
	dyn_object	o;
	dyn_buf    *bufs = NULL;
	size_t		nbufs = 0;
	int			rc;

	if (a == NULL)
		return DYN_ERR_INVAL;
	if (dyn_vclock_decode(req->context, &ctx) != DYN_OK || !dyn_actor_context_ok(a, &ctx))
		return DYN_ERR_PROTO;
	dyn_object_init(&o);
	rc = dyn_hints_gather(&node->hints, r->bucket, r->key, &o, &bufs, &nbufs);
	if (rc == DYN_OK)
		rc = dyn_object_put_above(&o, dyn_slice_str(a->id), dyn_actor_floor(a), &ctx,
								  is_put ? &req->value : NULL, dyn_clock_wall_ms(), written);
	if (rc == DYN_OK)
	{
		/* issued even if keeping it fails below: counters only go up */
		dyn_actor_issued(a, dyn_vclock_get(written, dyn_slice_str(a->id)));
		dyn_object_encode(&o, &r->object);
		rc = r->object.err ? DYN_ERR_NOMEM :
			dyn_hints_store(&node->hints, dyn_slice_str(owner->id), r->bucket, r->key,
							dyn_buf_slice(&r->object));
	}
	if (rc == DYN_OK)
		node->cluster.hinted++;
	dyn_object_free(&o);
	dyn_hints_gather_free(bufs, nbufs);
	return rc;
}

/* Keep the shipped sibling set as a hint for owner, here. */
static void
put_hint_locally(coord_req *r, dyn_member *owner)
{
	dyn_node   *node = r->node;

	if (owner == NULL || owner->self)
		return;
	if (dyn_hints_store(&node->hints, dyn_slice_str(owner->id), r->bucket, r->key,
						dyn_buf_slice(&r->object)) != DYN_OK)
		dyn_log(&node->log, DYN_LOG_ERROR, "could not keep a hint for %s: %s",
				owner->id, dyn_engine_errmsg(node->engine));
	else
		node->cluster.hinted++;
}

/* A REPLICA_PUT acknowledgement (or failure). */
static void
put_on_reply(void *arg, int status, const dyn_frame *reply)
{
	coord_target *t = arg;
	coord_req  *r = t->req;

	r->outstanding--;
	if (status == DYN_OK && reply->type == DYN_MSG_REPLICA_PUT_REPLY)
	{
		t->state = T_OK;
		r->ok++;
		r->standin_ok += !t->owner;
	}
	else
	{
		t->state = T_FAILED;
		/* the write must still reach that owner: keep it as a hint here */
		if (status != DYN_ERR_CLOSED)
			put_hint_locally(r, t->hint_for != NULL ? t->hint_for : t->m);
		if (!r->answered)
			put_replace(r, t);
	}
	put_progress(r);
}

/*
 * A target failed before W was met: the next healthy node of the extended
 * list that is not a target yet stands in for the owner it was (or stood
 * in for), as Dynamo's sloppy quorum walks on (section 4.6), so a replica
 * cut off after this node last judged it up costs a timeout, not the
 * write.  At most DYN_RING_N_MAX targets in all.
 */
static void
put_replace(coord_req *r, coord_target *failed)
{
	dyn_member *ext[DYN_RING_MEMBERS_MAX];
	dyn_member *owner = failed->hint_for != NULL ? failed->hint_for : failed->m;
	int			owners;
	int			count;

	if (r->ntargets >= DYN_RING_N_MAX || r->node->stopping)
		return;
	count = dyn_membership_preflist_at(&r->node->members, r->position, ext,
									   DYN_RING_MEMBERS_MAX, &owners);
	for (int i = owners; i < count; i++)
	{
		coord_target *t = &r->t[r->ntargets];
		bool		used = ext[i]->self || !dyn_member_up(ext[i]);

		for (int j = 0; j < r->ntargets && !used; j++)
			used = r->t[j].m == ext[i];
		if (used)
			continue;
		target_set(r, t, ext[i], false, owner);
		if (send_replica_put(r->node, t->m, r->bucket, r->key, dyn_buf_slice(&r->object),
							 dyn_slice_str(owner->id), put_on_reply, t) != DYN_OK)
			continue;
		r->ntargets++;
		r->outstanding++;
		return;
	}
}

/* Answer when dyn_write_decide says so. */
static void
put_progress(coord_req *r)
{
	dyn_write_tally t = {false, r->ok, r->standin_ok,
	r->ntargets - r->ok - r->outstanding, r->outstanding};
	dyn_write_verdict v = dyn_write_decide(&t, r->need, r->n);

	if (!r->answered && v == DYN_WRITE_ANSWER)
	{
		dyn_buf    *frame = &r->node->coord->answer;

		dyn_buf_reset(frame);
		dyn_put_reply_encode(frame, r->reply_type, r->reqid, dyn_buf_slice(&r->context));
		answer_frame(r, frame);
	}
	else if (!r->answered && v == DYN_WRITE_FAIL)
		answer_quorum_failure(r);	/* after every answer: the count is final */
	req_maybe_free(r);
}


/* ------------------------------------------------------------ forwarding */

/* Hand the write to the next node to try (this node itself: coordinate here). */
static void
forward_next(coord_req *r)
{
	while (r->fwd_next < r->nfwd)
	{
		dyn_member *m = r->fwd[r->fwd_next++];
		dyn_peer   *p;

		if (m->self)
		{
			write_self(r);
			return;
		}
		p = dyn_membership_peer(m);
		if (p != NULL &&
			dyn_peer_send(p, r->fwd_type, dyn_buf_slice(&r->fwd_body),
						  DYN_FORWARD_TIMEOUT_MS, forward_on_reply, r) == DYN_OK)
		{
			r->outstanding++;
			return;
		}
		snprintf(r->fwd_error, sizeof(r->fwd_error), "%s is overloaded", m->id);
	}
	answer_error(r, DYN_E_QUORUM, 0, r->need,
				 "quorum not met: 0 of %d replicas acknowledged (%d needed): "
				 "no node of the key's preference list could coordinate the write (%s)",
				 r->n, r->need, r->fwd_error[0] ? r->fwd_error : "none reachable");
	req_maybe_free(r);
}

/*
 * Every node tried failed: coordinate here after all (the ring may have
 * changed while the write was away, so who this node is for the key is
 * looked up again).
 */
static void
write_self(coord_req *r)
{
	dyn_member *ext[DYN_RING_MEMBERS_MAX];
	dyn_put_req req;
	int			owners;
	int			count;
	bool		self_owner = false;

	if (dyn_put_req_decode(dyn_buf_slice(&r->fwd_body), r->orig_type, &req) != DYN_OK)
	{
		answer_error(r, DYN_E_INTERNAL, 0, r->need, "could not decode the write again");
		req_maybe_free(r);
		return;
	}
	count = dyn_membership_preflist_at(&r->node->members, r->position, ext,
									   DYN_RING_MEMBERS_MAX, &owners);
	for (int i = 0; i < owners; i++)
		self_owner |= ext[i]->self;
	write_here(r, &req, ext, count, owners, self_owner);
}

/*
 * The coordinator's answer, relayed as the client's.  A refusal (a node
 * rebuilding lost data), a failed connection or a timeout passes the write
 * on to the next node: after a timeout the write may have been applied
 * there as well, which makes a second version of one value (a sibling),
 * never a lost one, and Dynamo's promise is that the write is taken.
 */
static void
forward_on_reply(void *arg, int status, const dyn_frame *reply)
{
	coord_req  *r = arg;
	dyn_member *m = r->fwd[r->fwd_next - 1];

	r->outstanding--;
	if (status == DYN_OK && reply->type == DYN_MSG_ERROR)
	{
		dyn_error_msg err;

		if (dyn_error_decode(reply->body, &err) == DYN_OK && err.code == DYN_E_UNAVAILABLE)
		{
			snprintf(r->fwd_error, sizeof(r->fwd_error), "%s: rebuilding lost data", m->id);
			forward_next(r);
			return;
		}
	}
	if (status == DYN_OK)
	{
		dyn_buf		frame;
		uint8_t		type = reply->type;
		size_t		start;

		if (type == DYN_MSG_COORD_PUT_REPLY)
			type = DYN_MSG_PUT_REPLY;
		else if (type == DYN_MSG_COORD_DELETE_REPLY)
			type = DYN_MSG_DELETE_REPLY;
		dyn_buf_init(&frame);
		start = dyn_frame_begin(&frame, type, r->reqid);
		dyn_buf_append(&frame, reply->body.ptr, reply->body.len);
		dyn_frame_end(&frame, start);
		answer_frame(r, &frame);
		dyn_buf_free(&frame);
		req_maybe_free(r);
		return;
	}
	if (r->node->stopping)
	{
		answer_error(r, DYN_E_QUORUM, 0, r->need,
					 "quorum not met: 0 of %d replicas acknowledged (%d needed): "
					 "%s is shutting down", r->n, r->need, r->node->cfg.id);
		req_maybe_free(r);
		return;
	}
	snprintf(r->fwd_error, sizeof(r->fwd_error), "%s: %s", m->id,
			 status == DYN_ERR_TIMEOUT ? "did not answer in time" :
			 status == DYN_ERR_AGAIN ? "overloaded" : "connection failed");
	forward_next(r);
}
