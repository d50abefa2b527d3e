/*
 * conn.c
 *		Client connections, the node's transport: accepting, the secure
 *		channel, framing, bursts and back-pressure, on the node's libuv loop.
 *
 * conn.c answers nothing itself: each whole frame becomes a dyn_request
 * (request.h) handed to the command table (dispatch.h), and the services
 * answer through it, into `out` or later through a deferred token.  A
 * frame the table does not take, or a malformed body, closes the
 * connection (conn_fatal), for every type alike.
 *
 * A connection reads into one growing input buffer and handles every whole
 * frame it finds before going back to the loop, appending the replies to an
 * output buffer; the output goes out with one write per burst.  No reply
 * leaves before its write is durable.  With --durability flush or fsync
 * the writes of every connection share one log write or fsync per turn of
 * the loop (group commit, group.h): each reply is tagged, when it is about
 * to be sent, with the generation of syncs it must wait for (durable.h),
 * and a connection whose output waits is kept on the durable_list (struct
 * dyn_conns) until dyn_conn_on_durable releases it.  With --durability none (or the
 * memory engine) the writes of a burst share one storage batch instead,
 * committed before the burst's replies are sent.
 *
 * A malformed frame gets an error frame and the connection is closed once it
 * has been written; no other connection notices.  When a peer stops reading,
 * its replies pile up only to DYN_CONN_OUT_HIGH before the connection stops
 * reading requests (back-pressure, not an unbounded queue).
 *
 * Security.  Every connection has a channel (channel.h), the responder end;
 * on a node started with --key/--trust it runs the handshake before any
 * request is looked at, and a handshake that has not completed within
 * DYN_CONN_HANDSHAKE_MS closes the connection.  Received bytes go into the
 * channel and come out as plaintext in `in`; replies are built in `out` and
 * sealed into `wire` (one record per burst) before they are written.  A
 * plaintext channel (--insecure) moves the same buffers without copying.
 *
 * Who may do what is the role table of identity.h, checked for each request
 * in conn_dispatch.  A key that is not in the trust file gets one
 * DYN_E_UNAUTHORIZED error frame (over the channel: the handshake proved
 * the key, so it may be told) and the connection closes; a known key that
 * asks for something its role does not allow gets DYN_E_UNAUTHORIZED for
 * that request.  Both are logged with the peer's address, the key's name in
 * the trust file and the public key.  A handshake or record that fails
 * closes the connection at once: nothing of it is answered.  When SIGHUP
 * reloads the trust file, a connection whose key it no longer lists is told
 * so and closed (dyn_conn_retrust); the others take their key's new role.
 *
 * Hostile peers.  A handshake costs the node a key exchange and a signature
 * (about 0.14 ms), so a secure node admits a new connection only if both the
 * bucket of its source address and the node-wide bucket hold a token
 * (--handshake-rate-address, --handshake-rate; throttle.h); otherwise the
 * socket is closed at accept, before any byte of it is read.  A handshake
 * that completes with a trusted key gives both tokens back: the limits count
 * the handshakes that end otherwise (unauthenticated, failed, untrusted),
 * and how many may be under way at once, so many clients behind one address
 * that do authenticate, or a storm of them reconnecting, are not held to
 * the rates, while a flood's crypto is bounded.  Until its
 * handshake completes a connection reads DYN_CONN_HANDSHAKE_READ bytes at a
 * time, which holds a handshake message and no more.
 *
 * Input memory.  The input buffers of all connections (the plaintext in
 * `in` and the channel's unopened bytes) are counted in node->conns->input_held
 * and bounded by --max-input-mb.  A read that fits in a buffer's free room
 * costs nothing and is always allowed, and a buffer may always grow to
 * DYN_CONN_INPUT_FREE (one read), so connections in steady state and new
 * ones are served whatever the others hold.  A read that would grow a
 * buffer past the bound first sheds the connections that hold the most (at
 * least DYN_CONN_INPUT_BIG: a large frame still arriving), each told why;
 * if that is not enough, the connection stops reading (back-pressure) until
 * frames complete and free room.  A connection paused DYN_CONN_PAUSE_MS is
 * shed (a paused connection does not read, so it would not notice its peer
 * leaving), and so is the largest holder at once when every connection
 * holding input is paused (none could complete).  A secure connection's
 * records are decrypted into `in` before the read is counted, so the bound
 * may be passed by that growth until conn_input_account sheds, right after.
 */
#include "conn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamo/channel.h"
#include "dynamo/object.h"
#include "dispatch.h"

/* How much input to ask libuv for at a time. */
#define DYN_CONN_READ_CHUNK		(64 * 1024)
/* Pending output above which the connection stops reading requests. */
#define DYN_CONN_OUT_HIGH		(4 * 1024 * 1024)
/* A secure handshake must complete within this long after accept. */
#define DYN_CONN_HANDSHAKE_MS	5000
/* Role refusals logged per connection (a client looping on one is not a flood). */
#define DYN_CONN_REFUSALS_LOGGED 8
/* Read size before the handshake completes: a handshake message fits. */
#define DYN_CONN_HANDSHAKE_READ	256
/* Input buffers a connection may grow to past --max-input-mb: one read's worth. */
#define DYN_CONN_INPUT_FREE		(2 * DYN_CONN_READ_CHUNK)
/* Input buffers this large hold a frame of over 1 MiB arriving: shed first. */
#define DYN_CONN_INPUT_BIG		(2 * 1024 * 1024)
/* Shedding makes room down to this, so that the next reads do not shed again. */
#define DYN_CONN_INPUT_TARGET(cs)	((cs)->input_limit - (cs)->input_limit / 8)
/* A connection paused this long for input room is shed (conn_on_pause_sweep). */
#define DYN_CONN_PAUSE_MS		2000
/* Buckets of the per-address handshake limit (about 40 bytes each). */
#define DYN_CONN_HS_SLOTS		4096
/* A refused handshake is logged at most this often (a flood is one line). */
#define DYN_CONN_REFUSAL_LOG_MS	10000

/*
 * The transport's own state, one per node (node->conns, made by
 * dyn_conn_start): the open connections, the ones with answers to send
 * this loop iteration or waiting for a sync, the input budget and the
 * handshake limits.  Only
 * conn.c reads it; STATUS asks through dyn_transport.input.
 */
struct dyn_conns
{
	dyn_conn   *all;			/* open client connections, for shutdown */
	dyn_conn   *flush_list;		/* connections with answers to send */
	dyn_conn   *durable_list;	/* connections with answers waiting for a sync */
	uv_check_t	flush_check;	/* sends them once per loop iteration */
	bool		flush_on;		/* flush_check initialised */
	/* bytes of the input buffers of all connections, bounded */
	size_t		input_held;
	size_t		input_limit;	/* --max-input-mb */
	uint32_t	input_paused_now;	/* connections whose reading waits for room */
	dyn_conn   *input_reading;	/* the connection in conn_on_alloc, if any */
	uv_timer_t	input_sweep;	/* sheds connections paused too long */
	bool		input_sweep_on;	/* input_sweep initialised */
	/* unauthenticated handshakes, bounded: all sources, each source */
	dyn_throttle hs_total;
	dyn_throttle_table hs_address;
	uint64_t	hs_logged_ms;	/* when a refusal was last logged (at most every 10 s) */
};

/* One accepted client connection. */
struct dyn_conn
{
	uv_tcp_t	handle;			/* first: libuv callbacks get &handle */
	uv_timer_t	hs_timer;		/* handshake deadline (secure nodes) */
	int			handles_open;	/* libuv handles not yet closed: free at 0 */
	dyn_node   *node;
	dyn_channel *ch;
	bool		authorized;		/* handshake done with a trusted key, or plaintext */
	dyn_role	role;			/* the peer's role (secure nodes) */
	int			refusals_logged;
	dyn_throttle *hs_bucket;	/* its address's handshake bucket (secure nodes) */
	char		who[DYN_TRUST_NAME_MAX + DYN_KEY_TEXT_LEN + 32];	/* " (key ...)" for logs */
	dyn_buf		in;				/* plaintext received, not yet handled */
	size_t		in_held;		/* its input buffers' bytes, in node->conns->input_held */
	bool		paused;			/* reading waits for room in the input budget */
	uint64_t	paused_ms;		/* since when */
	dyn_buf		out;			/* replies not yet sealed */
	dyn_buf		wire;			/* sealed replies not yet handed to libuv */
	dyn_buf		wbuf;			/* bytes libuv is writing */
	uv_write_t	wreq;
	bool		writing;
	bool		reading;
	bool		batch_open;		/* a storage batch is open for this burst */
	bool		closing;
	bool		close_after_write;	/* a fatal error was queued */
	bool		in_burst;		/* handling frames: answers wait for the commit */
	uint32_t	held;			/* requests being coordinated, not yet answered */
	bool		flush_queued;	/* on node->conns->flush_list (which holds it once) */
	dyn_conn   *flush_next;
	dyn_release rel;			/* which bytes of out may leave (group commit) */
	dyn_buf		held_tail;		/* out's waiting bytes, set aside while sealing */
	bool		durable_queued; /* on node->conns->durable_list (which holds it once) */
	dyn_conn   *durable_next;
	char		peer[64];
	dyn_conn   *prev;
	dyn_conn   *next;
};

static void conn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void conn_on_write(uv_write_t *req, int status);
static void conn_on_close(uv_handle_t *h);
static void conn_on_handshake_timeout(uv_timer_t *t);
static bool conn_admit(dyn_conn *c, const struct sockaddr *sa);
static void conn_stop_reading(dyn_conn *c);
static size_t conn_input_room(dyn_conn *c, size_t want, size_t room);
static void conn_input_account(dyn_conn *c);
static void conn_input_pause(dyn_conn *c, bool paused);
static void conn_input_release(dyn_conn *c);
static void conn_input_shed(dyn_node *node, size_t want, size_t min);
static void conn_input_drop(dyn_conn *c, const char *why);
static void conn_on_pause_sweep(uv_timer_t *t);
static void conn_input_wake(dyn_node *node);
static void conn_channel_failed(dyn_conn *c, bool was_established);
static void conn_authorize(dyn_conn *c);
static bool conn_allowed(dyn_conn *c, const dyn_frame *f);
static size_t conn_pending(const dyn_conn *c);
static void conn_handle_frames(dyn_conn *c);
static void conn_dispatch(dyn_conn *c, const dyn_frame *f);
static void conn_burst(dyn_conn *c);
static void conn_resume(dyn_conn *c);
static void conn_free(dyn_conn *c);
static bool conn_drop_hold(dyn_conn *c);
static void conn_on_check(uv_check_t *h);
static void conn_fatal(dyn_conn *c, dyn_error_code code, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
static void conn_commit(dyn_conn *c);
static size_t conn_releasable(dyn_conn *c);
static int	conn_seal(dyn_conn *c, size_t ready);
static void conn_flush(dyn_conn *c);
static void conn_close(dyn_conn *c);

const dyn_transport dyn_conn_transport = {
	.start = dyn_conn_start,
	.stop = dyn_conn_stop,
	.free = dyn_conn_free,
	.input = dyn_conn_input,
	.accept = dyn_conn_accept,
	.close_all = dyn_conn_close_all,
	.retrust = dyn_conn_retrust,
	.on_durable = dyn_conn_on_durable,
};

int
dyn_conn_start(dyn_node *node)
{
	dyn_conns  *cs = calloc(1, sizeof(*cs));

	if (cs == NULL)
		return DYN_ERR_NOMEM;
	cs->input_limit = (size_t) node->cfg.max_input_mb * 1024 * 1024;
	dyn_throttle_init(&cs->hs_total, node->cfg.handshake_rate, uv_now(node->loop));
	if (node->secure &&
		dyn_throttle_table_init(&cs->hs_address, DYN_CONN_HS_SLOTS,
								node->cfg.handshake_rate_address,
								uv_now(node->loop)) != DYN_OK)
	{
		free(cs);
		return DYN_ERR_NOMEM;
	}
	uv_check_init(node->loop, &cs->flush_check);
	cs->flush_check.data = node;
	cs->flush_on = true;
	node->conns = cs;
	return DYN_OK;
}

void
dyn_conn_stop(dyn_node *node)
{
	if (node->conns == NULL || !node->conns->flush_on)
		return;
	uv_close((uv_handle_t *) &node->conns->flush_check, NULL);
	node->conns->flush_on = false;
}

void
dyn_conn_free(dyn_node *node)
{
	if (node->conns == NULL)
		return;
	dyn_throttle_table_free(&node->conns->hs_address);
	free(node->conns);
	node->conns = NULL;
}

void
dyn_conn_input(const dyn_node *node, dyn_input_status *out)
{
	const dyn_conns *cs = node->conns;

	out->held = cs != NULL ? cs->input_held : 0;
	out->limit = cs != NULL ? cs->input_limit : 0;
	out->paused_now = cs != NULL ? cs->input_paused_now : 0;
}

/* Accept one pending connection from the node's listener. */
void
dyn_conn_accept(dyn_node *node)
{
	dyn_conn   *c = calloc(1, sizeof(*c));
	struct sockaddr_storage sa;
	int			salen = sizeof(sa);

	if (c == NULL)
	{
		dyn_log(&node->log, DYN_LOG_ERROR, "out of memory accepting a connection");
		return;
	}
	c->node = node;
	dyn_buf_init(&c->in);
	dyn_buf_init(&c->out);
	dyn_buf_init(&c->wire);
	dyn_buf_init(&c->wbuf);
	dyn_buf_init(&c->held_tail);
	uv_tcp_init(node->loop, &c->handle);
	c->handle.data = c;
	c->handles_open = 1;
	if (uv_accept((uv_stream_t *) &node->listener, (uv_stream_t *) &c->handle) != 0)
	{
		uv_close((uv_handle_t *) &c->handle, conn_on_close);
		c->closing = true;
		return;
	}
	strcpy(c->peer, "?");
	memset(&sa, 0, sizeof(sa));
	if (uv_tcp_getpeername(&c->handle, (struct sockaddr *) &sa, &salen) == 0)
	{
		char		ip[48] = "?";
		int			port = 0;

		if (sa.ss_family == AF_INET)
		{
			uv_ip4_name((struct sockaddr_in *) &sa, ip, sizeof(ip));
			port = ntohs(((struct sockaddr_in *) &sa)->sin_port);
		}
		else if (sa.ss_family == AF_INET6)
		{
			uv_ip6_name((struct sockaddr_in6 *) &sa, ip, sizeof(ip));
			port = ntohs(((struct sockaddr_in6 *) &sa)->sin6_port);
		}
		snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, port);
	}
	if (node->secure && !conn_admit(c, (struct sockaddr *) &sa))
	{
		uv_close((uv_handle_t *) &c->handle, conn_on_close);
		c->closing = true;
		return;
	}
	c->ch = dyn_channel_new(DYN_CHANNEL_RESPONDER, node->secure ? &node->identity : NULL,
							&node->trust);
	if (c->ch == NULL)
	{
		dyn_log(&node->log, DYN_LOG_ERROR, "out of memory accepting a connection");
		uv_close((uv_handle_t *) &c->handle, conn_on_close);
		c->closing = true;
		return;
	}
	c->authorized = !node->secure;
	if (node->secure)
	{
		uv_timer_init(node->loop, &c->hs_timer);
		c->hs_timer.data = c;
		c->handles_open++;
		uv_timer_start(&c->hs_timer, conn_on_handshake_timeout, DYN_CONN_HANDSHAKE_MS, 0);
	}
	uv_tcp_nodelay(&c->handle, 1);

	c->next = node->conns->all;
	if (node->conns->all)
		node->conns->all->prev = c;
	node->conns->all = c;
	node->stats.connections_open++;
	node->stats.connections_total++;
	c->reading = true;
	uv_read_start((uv_stream_t *) &c->handle, conn_on_alloc, conn_on_read);
}

/*
 * Whether a new connection to a secure node may run a handshake: a token
 * from its address's bucket, then one from the node's (an address over its
 * own limit spends nothing of the node's).  A refusal is counted, and
 * logged at most every DYN_CONN_REFUSAL_LOG_MS.
 */
static bool
conn_admit(dyn_conn *c, const struct sockaddr *sa)
{
	dyn_node   *node = c->node;
	uint64_t	now = uv_now(node->loop);
	dyn_throttle *bucket = dyn_throttle_table_slot(&node->conns->hs_address, sa);
	bool		per_address;

	if (!dyn_throttle_take(bucket, 1, now))
	{
		node->stats.hs_refused_address++;
		per_address = true;
	}
	else if (!dyn_throttle_take(&node->conns->hs_total, 1, now))
	{
		dyn_throttle_give(bucket, 1);
		node->stats.hs_refused_total++;
		per_address = false;
	}
	else
	{
		node->stats.hs_accepted++;
		c->hs_bucket = bucket;
		return true;
	}
	if (node->conns->hs_logged_ms == 0 || now - node->conns->hs_logged_ms >= DYN_CONN_REFUSAL_LOG_MS)
	{
		node->conns->hs_logged_ms = now;
		dyn_log(&node->log, DYN_LOG_WARNING,
				"refusing handshakes over %s %llu (a second): closed %s at accept; "
				"%llu refused per address and %llu node-wide so far (logged at most "
				"every %d s)",
				per_address ? "--handshake-rate-address" : "--handshake-rate",
				(unsigned long long) (per_address ? node->cfg.handshake_rate_address :
									  node->cfg.handshake_rate), c->peer,
				(unsigned long long) node->stats.hs_refused_address,
				(unsigned long long) node->stats.hs_refused_total,
				DYN_CONN_REFUSAL_LOG_MS / 1000);
	}
	return false;
}

/* Close every connection (node shutdown). */
void
dyn_conn_close_all(dyn_node *node)
{
	dyn_conn   *c;

	if (node->conns == NULL)
		return;					/* the node did not get as far as starting us */
	c = node->conns->all;
	while (c != NULL)
	{
		dyn_conn   *next = c->next;

		conn_close(c);
		c = next;
	}
	if (node->conns->input_sweep_on)
		uv_close((uv_handle_t *) &node->conns->input_sweep, NULL);
	node->conns->input_sweep_on = false;
	/* answers queued for sending go nowhere now: release their holds */
	while ((c = node->conns->flush_list) != NULL)
	{
		node->conns->flush_list = c->flush_next;
		c->flush_queued = false;
		(void) conn_drop_hold(c);
	}
	while ((c = node->conns->durable_list) != NULL)
	{
		node->conns->durable_list = c->durable_next;
		c->durable_queued = false;
		(void) conn_drop_hold(c);
	}
}

/*
 * After a trust reload: each authorized connection's key looked up again.
 * One no longer listed gets DYN_E_UNAUTHORIZED (request id 0: it concerns
 * the connection, not a request) and is closed once that is written;
 * requests it has in flight go unanswered (unless answered before the
 * error is written).  A key whose role changed has the new role from its
 * next request on.
 */
void
dyn_conn_retrust(dyn_node *node)
{
	for (dyn_conn *c = node->conns->all; c != NULL; c = c->next)
	{
		const dyn_trust_entry *e;
		char		key[DYN_KEY_TEXT_LEN + 1];

		if (!node->secure || !c->authorized || c->close_after_write)
			continue;
		dyn_key_to_text(dyn_channel_peer_key(c->ch), key);
		if ((e = dyn_channel_peer(c->ch)) == NULL)
		{
			node->stats.revoked++;
			dyn_log(&node->log, DYN_LOG_WARNING,
					"closing connection from %s%s: the reloaded trust file %s no longer "
					"lists key %s", c->peer, c->who, node->cfg.trust_file, key);
			dyn_reply_error(c->node, &c->out, 0, DYN_E_UNAUTHORIZED, 0, 0,
							"not authorised: key %s was removed from the trust file "
							"of node %s", key, node->cfg.id);
			c->authorized = false;
			c->close_after_write = true;
			conn_stop_reading(c);
			conn_flush(c);
			continue;
		}
		if (e->role != c->role)
			dyn_log(&node->log, DYN_LOG_INFO,
					"connection from %s%s: the reloaded trust file gives key \"%s\" "
					"role %s", c->peer, c->who, e->name, dyn_role_name(e->role));
		c->role = e->role;
		snprintf(c->who, sizeof(c->who), " (key \"%s\" %s, role %s)", e->name, key,
				 dyn_role_name(e->role));
	}
}

/*
 * Hand libuv the free tail of the buffer the channel reads into (the
 * plaintext input itself on a plaintext connection): a handshake message's
 * worth until the handshake completes, and no more than the free room when
 * growing the buffer does not fit the node's input budget.  No buffer at
 * all (the connection paused or shed) reaches conn_on_read as UV_ENOBUFS.
 */
static void
conn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	dyn_conn   *c = h->data;
	size_t		want = dyn_channel_established(c->ch) ? DYN_CONN_READ_CHUNK :
		DYN_CONN_HANDSHAKE_READ;
	size_t		room = dyn_channel_recv_room(c->ch, &c->in);
	uint8_t    *p;

	(void) suggested;
	buf->base = NULL;
	buf->len = 0;
	if (room < want)
	{
		c->node->conns->input_reading = c;
		want = conn_input_room(c, want, room);
		c->node->conns->input_reading = NULL;
		if (want == 0)
			return;
	}
	conn_input_pause(c, false);
	if (dyn_channel_recv_buf(c->ch, &c->in, want, &p, &room) != DYN_OK)
		return;
	buf->base = (char *) p;
	buf->len = room;
}

/*
 * Take in what arrived (through the channel), answer every whole frame, then
 * write the replies.  Until the peer is authorized only the handshake runs.
 */
static void
conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	dyn_conn   *c = s->data;
	bool		was_established;

	(void) buf;
	if (nread == UV_ENOBUFS && (c->paused || c->closing || c->close_after_write))
	{
		conn_stop_reading(c);	/* paused: conn_input_wake reads again */
		if (c->close_after_write)
			conn_flush(c);		/* shed while in conn_on_alloc: tell it, close */
		return;
	}
	if (nread < 0)
	{
		if (nread != UV_EOF)
			dyn_log(&c->node->log, DYN_LOG_DEBUG, "connection from %s: %s",
					c->peer, uv_strerror((int) nread));
		else if (dyn_channel_eof(c->ch) != DYN_OK)
		{
			c->node->stats.handshake_failures += !c->authorized;
			dyn_log(&c->node->log, c->authorized ? DYN_LOG_WARNING : DYN_LOG_INFO,
					"connection from %s%s: %s", c->peer, c->who,
					dyn_channel_errmsg(c->ch));
		}
		conn_close(c);
		return;
	}
	if (nread == 0)
	{
		conn_input_account(c);	/* conn_on_alloc may have grown a buffer */
		return;
	}
	was_established = dyn_channel_established(c->ch);
	if (dyn_channel_recv_done(c->ch, &c->in, (size_t) nread) != DYN_OK)
	{
		conn_channel_failed(c, was_established);
		return;
	}
	if (!was_established && dyn_channel_established(c->ch))
		conn_authorize(c);
	if (!c->authorized)
	{
		conn_flush(c);			/* the handshake answer, or the refusal */
		if (!c->closing)
			conn_input_account(c);
		return;
	}
	conn_burst(c);
	conn_flush(c);
	if (!c->closing)
		conn_input_account(c);
	if (!c->closing && c->reading &&
		(conn_pending(c) > DYN_CONN_OUT_HIGH || c->held >= DYN_CONN_MAX_HELD))
	{
		uv_read_stop(s);
		c->reading = false;
	}
}

/* Stop reading from the peer (again on conn_resume or conn_input_wake). */
static void
conn_stop_reading(dyn_conn *c)
{
	if (c->reading)
	{
		uv_read_stop((uv_stream_t *) &c->handle);
		c->reading = false;
	}
}

/*
 * How much c may read when its buffer has only room bytes free and a read
 * of want would grow it: want if the growth (the buffer doubles) fits under
 * the bound, the holders of large frames shed first if need be (c among
 * them, maybe); else room, read without growing; else 0 and c pauses until
 * conn_input_wake -- unless every connection holding input is paused, when
 * none of them could ever complete a frame: then the largest is shed.
 */
static size_t
conn_input_room(dyn_conn *c, size_t want, size_t room)
{
	dyn_node   *node = c->node;
	size_t		rx = dyn_channel_recv_held(c->ch);
	size_t		grows = dyn_channel_secure(c->ch) ? rx : c->in.cap;
	size_t		after = c->in.cap + rx + (grows > want ? grows : want);
	size_t		cost = after > c->in_held ? after - c->in_held : 0;

	if (after <= DYN_CONN_INPUT_FREE || node->conns->input_held + cost <= node->conns->input_limit)
		return want;			/* one read's worth, or it fits */
	conn_input_shed(node, cost, DYN_CONN_INPUT_BIG);
	if (c->closing || c->close_after_write)
		return 0;
	if (node->conns->input_held + cost <= node->conns->input_limit)
		return want;
	if (room > 0)
		return room;
	conn_input_pause(c, true);
	for (dyn_conn *o = node->conns->all; o != NULL; o = o->next)
		if (o->in_held > DYN_CONN_INPUT_FREE && !o->paused && !o->close_after_write)
			return 0;			/* o can still complete its frame and free room */
	conn_input_shed(node, cost, DYN_CONN_INPUT_FREE + 1);
	if (c->closing || c->close_after_write)
		return 0;
	/* conn_input_wake may have unpaused c: paused is what conn_on_read obeys */
	conn_input_pause(c, node->conns->input_held + cost > node->conns->input_limit);
	return c->paused ? 0 : want;
}

/*
 * Mark c paused (or not), keeping node->conns->input_paused_now, and the sweep
 * that sheds connections paused too long running while any is.
 */
static void
conn_input_pause(dyn_conn *c, bool paused)
{
	dyn_node   *node = c->node;

	if (c->paused == paused)
		return;
	c->paused = paused;
	if (!paused)
	{
		node->conns->input_paused_now--;
		return;
	}
	node->conns->input_paused_now++;
	node->stats.input_paused++;
	c->paused_ms = uv_now(node->loop);
	dyn_log(&node->log, DYN_LOG_DEBUG,
			"pausing reads from %s: the input buffers hold %zu of %zu bytes",
			c->peer, node->conns->input_held, node->conns->input_limit);
	if (!node->conns->input_sweep_on && !node->stopping)
	{
		uv_timer_init(node->loop, &node->conns->input_sweep);
		node->conns->input_sweep.data = node;
		node->conns->input_sweep_on = true;
	}
	if (node->conns->input_sweep_on && !uv_is_active((uv_handle_t *) &node->conns->input_sweep))
		uv_timer_start(&node->conns->input_sweep, conn_on_pause_sweep, DYN_CONN_PAUSE_MS / 4,
					   DYN_CONN_PAUSE_MS / 4);
}

/*
 * Count what c's input buffers hold now (after a read and the frames it
 * completed); an empty buffer that a large frame grew is freed.  A
 * connection holding no part of a frame counts nothing: its buffers are
 * within the one read every connection is allowed, and counting them
 * would let idle connections fill the bound (4,096 of them at 64 KiB each
 * make 256 MiB), refusing every large frame of the others.  Past the
 * bound, shed; below it, wake the paused.
 */
static void
conn_input_account(dyn_conn *c)
{
	dyn_node   *node = c->node;
	size_t		held;

	if (c->in.len == 0 && c->in.cap > DYN_CONN_INPUT_FREE)
		dyn_buf_free(&c->in);
	held = c->in.len == 0 && dyn_channel_recv_pending(c->ch) == 0 ? 0 :
		c->in.cap + dyn_channel_recv_held(c->ch);
	node->conns->input_held = node->conns->input_held - c->in_held + held;
	c->in_held = held;
	if (node->conns->input_held > node->stats.input_peak)
		node->stats.input_peak = node->conns->input_held;
	if (node->conns->input_held > node->conns->input_limit)
		conn_input_shed(node, 0, DYN_CONN_INPUT_BIG);
	else
		conn_input_wake(node);
}

/* c is closing: its input buffers are as good as freed. */
static void
conn_input_release(dyn_conn *c)
{
	c->node->conns->input_held -= c->in_held;
	c->in_held = 0;
	conn_input_pause(c, false);
}

/*
 * Close the connections holding the most input (at least min bytes of it
 * counted), largest first, until want more bytes fit under the bound with
 * an eighth of it spare, so that the next reads do not shed again at once;
 * the paused are woken when room is made.
 */
static void
conn_input_shed(dyn_node *node, size_t want, size_t min)
{
	bool		shed = false;

	while (node->conns->input_held + want > DYN_CONN_INPUT_TARGET(node->conns))
	{
		dyn_conn   *big = NULL;

		for (dyn_conn *c = node->conns->all; c != NULL; c = c->next)
			if (!c->close_after_write && c->in_held >= min &&
				(big == NULL || c->in_held > big->in_held))
				big = c;
		if (big == NULL)
			break;
		conn_input_drop(big, "held the most input");
		shed = true;
	}
	if (shed)
		conn_input_wake(node);
}

/*
 * Shed c: tell it why (DYN_E_UNAVAILABLE), log it, free its input now (a
 * peer that does not read the error must not keep it) and close once the
 * error is written.
 */
static void
conn_input_drop(dyn_conn *c, const char *why)
{
	dyn_node   *node = c->node;
	size_t		held = c->in_held;

	node->stats.input_shed++;
	dyn_log(&node->log, DYN_LOG_WARNING,
			"closing connection from %s%s: it %s (%zu bytes of a frame not yet "
			"complete) and the input buffers of all connections are full (%zu bytes "
			"counted against --max-input-mb %llu)", c->peer, c->who, why, held,
			node->conns->input_held, (unsigned long long) node->cfg.max_input_mb);
	dyn_reply_error(c->node, &c->out, 0, DYN_E_UNAVAILABLE, 0, 0,
					"node %s is short of input memory and this connection %s (%zu bytes "
					"of a frame not yet complete): retry later", node->cfg.id, why, held);
	c->close_after_write = true;
	conn_input_release(c);
	dyn_buf_free(&c->in);
	/*
	 * libuv calls the read callback right after the alloc callback: the
	 * connection inside conn_on_alloc must not stop reading or close now
	 * (its read callback would be gone); conn_on_read does.
	 */
	if (c != node->conns->input_reading)
	{
		conn_stop_reading(c);
		conn_flush(c);
	}
}

/*
 * Every DYN_CONN_PAUSE_MS / 4 while connections are paused: shed those
 * paused for DYN_CONN_PAUSE_MS.  A paused connection does not read, so it
 * would not even notice its peer going away; and paused frames that wait
 * on each other (each needing room the others hold) must not wait forever.
 */
static void
conn_on_pause_sweep(uv_timer_t *t)
{
	dyn_node   *node = t->data;
	uint64_t	now = uv_now(node->loop);
	dyn_conn   *c = node->conns->all;
	char		why[64];

	snprintf(why, sizeof(why), "waited %d ms for room to read", DYN_CONN_PAUSE_MS);
	while (c != NULL)
	{
		dyn_conn   *next = c->next;

		if (c->paused && now - c->paused_ms >= DYN_CONN_PAUSE_MS)
			conn_input_drop(c, why);
		c = next;
	}
	if (node->conns->input_paused_now == 0)
		uv_timer_stop(t);
	else
		conn_input_wake(node);
}

/*
 * Room was freed: paused connections read again, as many as their next
 * growth (their buffer doubling) fits in, so that they do not all wake to
 * pause again at once.  One that does not fit waits on (for at most
 * DYN_CONN_PAUSE_MS).
 */
static void
conn_input_wake(dyn_node *node)
{
	size_t		room;

	if (node->conns->input_paused_now == 0 ||
		node->conns->input_held + DYN_CONN_INPUT_FREE > node->conns->input_limit)
		return;
	room = node->conns->input_limit - node->conns->input_held;
	for (dyn_conn *c = node->conns->all; c != NULL && room >= DYN_CONN_INPUT_FREE; c = c->next)
	{
		size_t		need = c->in.cap + dyn_channel_recv_held(c->ch);

		if (!c->paused || need > room)
			continue;
		room -= need;
		conn_input_pause(c, false);
		if (!c->reading && !c->close_after_write && !c->closing)
		{
			c->reading = true;
			uv_read_start((uv_stream_t *) &c->handle, conn_on_alloc, conn_on_read);
		}
	}
}

/* Reply bytes queued in any of the three output stages. */
static size_t
conn_pending(const dyn_conn *c)
{
	return c->out.len + c->wire.len + c->wbuf.len;
}

/* The handshake did not complete in time: the peer is not a working client. */
static void
conn_on_handshake_timeout(uv_timer_t *t)
{
	dyn_conn   *c = t->data;

	if (c->closing || dyn_channel_established(c->ch))
		return;
	c->node->stats.handshake_failures++;
	dyn_log(&c->node->log, DYN_LOG_WARNING,
			"closing connection from %s: no handshake within %d ms",
			c->peer, DYN_CONN_HANDSHAKE_MS);
	conn_close(c);
}

/*
 * The channel refused what the peer sent: log why (with the key, when the
 * handshake got that far) and close.  Nothing more is answered -- except a
 * plaintext client talking to a secure node, which is told in its own
 * language to use a key, since it would otherwise just see a hang-up.
 */
static void
conn_channel_failed(dyn_conn *c, bool was_established)
{
	dyn_node   *node = c->node;

	if (!was_established)
		node->stats.handshake_failures++;
	dyn_log(&node->log, DYN_LOG_WARNING, "closing connection from %s%s: %s",
			c->peer, c->who, dyn_channel_errmsg(c->ch));
	if (dyn_channel_error_code(c->ch) != DYN_CHANNEL_E_PLAINTEXT || was_established)
	{
		conn_close(c);
		return;
	}
	dyn_reply_error(node, &c->wire, 0, DYN_E_UNAUTHORIZED, 0, 0,
					"node %s accepts authenticated connections only: "
					"connect with --key FILE", node->cfg.id);
	c->close_after_write = true;
	if (c->reading)
	{
		uv_read_stop((uv_stream_t *) &c->handle);
		c->reading = false;
	}
	conn_flush(c);
}

/*
 * The handshake has completed: look the peer's key up.  A trusted key gets
 * its role; an unknown one is told so and the connection closes once that
 * is written.
 */
static void
conn_authorize(dyn_conn *c)
{
	dyn_node   *node = c->node;
	const dyn_trust_entry *e = dyn_channel_peer(c->ch);
	char		key[DYN_KEY_TEXT_LEN + 1];

	uv_timer_stop(&c->hs_timer);
	dyn_key_to_text(dyn_channel_peer_key(c->ch), key);
	if (e == NULL)
	{
		snprintf(c->who, sizeof(c->who), " (unknown key %s)", key);
		node->stats.unauthorized++;
		dyn_log(&node->log, DYN_LOG_WARNING,
				"refused connection from %s: key %s is not in the trust file %s",
				c->peer, key, node->cfg.trust_file);
		dyn_reply_error(node, &c->out, 0, DYN_E_UNAUTHORIZED, 0, 0,
						"not authorised: key %s is not trusted by node %s", key, node->cfg.id);
		c->close_after_write = true;
		if (c->reading)
		{
			uv_read_stop((uv_stream_t *) &c->handle);
			c->reading = false;
		}
		return;
	}
	c->role = e->role;
	c->authorized = true;
	node->stats.hs_trusted++;
	if (c->hs_bucket != NULL)
	{
		/* a trusted key's handshake was not the flood: see "Hostile peers" */
		dyn_throttle_give(c->hs_bucket, 1);
		dyn_throttle_give(&node->conns->hs_total, 1);
	}
	snprintf(c->who, sizeof(c->who), " (key \"%s\" %s, role %s)", e->name, key,
			 dyn_role_name(e->role));
	dyn_log(&node->log, DYN_LOG_DEBUG, "connection from %s authenticated%s",
			c->peer, c->who);
}

/*
 * Whether the peer's role may send this frame (always, on a plaintext
 * node).  A refusal is answered with DYN_E_UNAUTHORIZED for that request
 * and logged -- the first few per connection -- with the key.  Replies
 * sent as requests are left to conn_dispatch, which closes for them.
 */
static bool
conn_allowed(dyn_conn *c, const dyn_frame *f)
{
	char		roles[64];
	const char *what = dyn_msg_type_name(f->type);

	if (!c->node->secure || DYN_MSG_IS_REPLY(f->type) || dyn_role_allows(c->role, f->type))
		return true;
	c->node->stats.unauthorized++;
	dyn_role_describe(f->type, roles, sizeof(roles));
	if (c->refusals_logged < DYN_CONN_REFUSALS_LOGGED)
		dyn_log(&c->node->log, DYN_LOG_WARNING, "refused %s from %s%s: needs role %s%s",
				what, c->peer, c->who, roles,
				++c->refusals_logged == DYN_CONN_REFUSALS_LOGGED ?
				" (further refusals on this connection are not logged)" : "");
	dyn_reply_error(c->node, &c->out, f->reqid, DYN_E_UNAUTHORIZED, 0, 0,
					"not authorised: %s needs role %s, and this key has role %s",
					what, roles, dyn_role_name(c->role));
	return false;
}

/*
 * Handle every whole frame in the input buffer and drop the handled bytes;
 * stop at the first malformed frame (conn_fatal arranges the close).
 */
static void
conn_handle_frames(dyn_conn *c)
{
	size_t		off = 0;

	/*
	 * Stop handling requests once the replies waiting to go out pass the
	 * high-water mark: the rest stay in the input buffer until the peer has
	 * read enough (conn_on_write resumes), so a client that never reads
	 * costs the node a bounded amount of memory.
	 */
	while (!c->close_after_write && !c->closing && c->held < DYN_CONN_MAX_HELD &&
		   conn_pending(c) <= DYN_CONN_OUT_HIGH)
	{
		dyn_frame	f;
		size_t		used;
		int			rc = dyn_frame_parse(c->in.data + off, c->in.len - off,
										 c->node->cfg.max_body, &f, &used);

		if (rc == DYN_ERR_AGAIN)
			break;
		if (rc == DYN_ERR_TOOBIG)
		{
			conn_fatal(c, DYN_E_TOOBIG, "frame body exceeds the maximum of %u bytes",
					   c->node->cfg.max_body);
			break;
		}
		if (rc != DYN_OK)
		{
			conn_fatal(c, DYN_E_BADREQ, "malformed frame: %s", dyn_strerror(rc));
			break;
		}
		conn_dispatch(c, &f);
		off += used;
	}
	dyn_buf_consume(&c->in, off);
}

/*
 * Hand one request frame to the command table (dispatch.h); a frame it does
 * not take, or a malformed body, closes the connection.
 */
static void
conn_dispatch(dyn_conn *c, const dyn_frame *f)
{
	dyn_request req = {c->node, c, f->type, f->reqid, f->body, &c->out};
	char		why[256];

	if (conn_allowed(c, f) && dyn_dispatch(&req, why, sizeof(why)) != DYN_OK)
		conn_fatal(c, DYN_E_BADREQ, "%s", why);
}

/*
 * The peer broke the protocol: tell it why (request id 0, since the frame
 * may not even have had one) and close once that is written.
 */
static void
conn_fatal(dyn_conn *c, dyn_error_code code, const char *fmt,...)
{
	char		msg[512];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->node->stats.bad_frames++;
	dyn_log(&c->node->log, DYN_LOG_WARNING, "closing connection from %s: %s",
			c->peer, msg);
	dyn_reply_error(c->node, &c->out, 0, code, 0, 0, "%s", msg);
	c->close_after_write = true;
	if (c->reading)
	{
		uv_read_stop((uv_stream_t *) &c->handle);
		c->reading = false;
	}
}

/*
 * End the burst's storage batch.  If the commit fails the writes of the burst
 * are not durable, so their acknowledgements must not leave: drop the queued
 * replies and close, and the client sees its requests unanswered.
 */
static void
conn_commit(dyn_conn *c)
{
	if (!c->batch_open)
		return;
	c->batch_open = false;
	if (dyn_engine_commit(c->node->engine) != DYN_OK)
	{
		dyn_log(&c->node->log, DYN_LOG_ERROR,
				"could not commit writes from %s: %s; closing the connection",
				c->peer, dyn_engine_errmsg(c->node->engine));
		dyn_buf_reset(&c->out);
		conn_close(c);
	}
}

/*
 * Send the queued replies: seal them (the channel also emits any handshake
 * message due), try a direct write first (usually all of it goes and no
 * callback is needed); hand the rest to libuv, whose buffer must stay
 * untouched until conn_on_write.  A dead channel seals nothing, but what is
 * already in wire (a plaintext refusal) still goes.
 */
static void
conn_flush(dyn_conn *c)
{
	uv_buf_t	b;
	size_t		ready;
	int			n;

	if (c->closing)
		return;
	ready = conn_releasable(c);
	if (c->writing || c->closing)
		return;
	if (c->out.err || c->wire.err)
	{
		dyn_log(&c->node->log, DYN_LOG_ERROR,
				"out of memory queueing replies to %s; closing the connection", c->peer);
		conn_close(c);
		return;
	}
	if (dyn_channel_error_code(c->ch) == DYN_CHANNEL_OK && conn_seal(c, ready) != DYN_OK)
	{
		dyn_log(&c->node->log, DYN_LOG_ERROR,
				"could not seal replies to %s (%s); closing the connection", c->peer,
				dyn_channel_errmsg(c->ch)[0] ? dyn_channel_errmsg(c->ch) : "out of memory");
		conn_close(c);
		return;
	}
	if (c->wire.len > 0)
	{
		b = uv_buf_init((char *) c->wire.data, (unsigned int) c->wire.len);
		n = uv_try_write((uv_stream_t *) &c->handle, &b, 1);
		if (n > 0)
			dyn_buf_consume(&c->wire, (size_t) n);
		else if (n != UV_EAGAIN)
		{
			conn_close(c);
			return;
		}
	}
	if (c->wire.len > 0)
	{
		dyn_buf		tmp = c->wbuf;

		c->wbuf = c->wire;
		c->wire = tmp;
		dyn_buf_reset(&c->wire);
		b = uv_buf_init((char *) c->wbuf.data, (unsigned int) c->wbuf.len);
		c->writing = true;
		c->wreq.data = c;
		if (uv_write(&c->wreq, (uv_stream_t *) &c->handle, &b, 1, conn_on_write) != 0)
		{
			c->writing = false;
			conn_close(c);
		}
		return;
	}
	if (c->close_after_write && c->out.len == 0)
		conn_close(c);			/* after the replies still waiting for a sync */
}

/*
 * How many bytes at the front of out may be sent now.  With group commit
 * the bytes added since the last look wait for the generation a reply
 * made now needs (every write before it durable); if some must wait, the
 * connection goes on the durable list, which holds it, to be flushed
 * again when they may go.  After a failed sync they never may: the
 * connection is closed with them unsent (group.h).  Without group commit
 * everything may go.
 */
static size_t
conn_releasable(dyn_conn *c)
{
	dyn_node   *node = c->node;

	if (!dyn_group_on(&node->group))
		return c->out.len;
	dyn_release_tag(&c->rel, c->out.len, dyn_group_need(&node->group),
					dyn_group_durable(&node->group));
	if (dyn_release_held(&c->rel) && dyn_group_failed(&node->group))
	{
		dyn_buf_reset(&c->out);
		dyn_release_reset(&c->rel);
		conn_close(c);
		return 0;
	}
	if (dyn_release_held(&c->rel) && !c->durable_queued)
	{
		c->durable_queued = true;
		c->held++;
		c->durable_next = node->conns->durable_list;
		node->conns->durable_list = c;
	}
	return c->rel.ready;
}

/*
 * Seal the first ready bytes of out into wire (and any handshake message
 * due).  When some but not all may go, the bytes that must wait are set
 * aside in held_tail meanwhile, since sealing empties out: a copy made only
 * when a connection has both bytes to send and bytes waiting.
 */
static int
conn_seal(dyn_conn *c, size_t ready)
{
	size_t		total = c->out.len;
	int			rc;

	if (ready == total)
		rc = dyn_channel_seal(c->ch, &c->out, &c->wire);
	else if (ready == 0)
	{
		dyn_buf		none;		/* only a handshake message may be due */

		dyn_buf_init(&none);
		rc = dyn_channel_has_output(c->ch) ? dyn_channel_seal(c->ch, &none, &c->wire) : DYN_OK;
		dyn_buf_free(&none);
	}
	else
	{
		dyn_buf_reset(&c->held_tail);
		dyn_buf_append(&c->held_tail, c->out.data + ready, total - ready);
		if (c->held_tail.err)
			return DYN_ERR_NOMEM;
		c->out.len = ready;
		rc = dyn_channel_seal(c->ch, &c->out, &c->wire);
		if (rc == DYN_OK)
		{
			dyn_buf_reset(&c->out);
			dyn_buf_append(&c->out, c->held_tail.data, c->held_tail.len);
		}
		else
			c->out.len = total;
	}
	if (rc == DYN_OK)
		dyn_release_consume(&c->rel, ready);
	return rc;
}

/*
 * Writes made before the connections on the durable list tagged their
 * replies are durable now (failed: could not be made durable).  Send what
 * may go, put back the ones still waiting for a later sync; after a
 * failed sync close them all, their acknowledgements unsent.
 */
void
dyn_conn_on_durable(dyn_node *node, bool failed)
{
	dyn_conn   *list = node->conns->durable_list;

	node->conns->durable_list = NULL;
	while (list != NULL)
	{
		dyn_conn   *c = list;

		list = c->durable_next;
		c->durable_queued = false;
		if (!conn_drop_hold(c))
			continue;
		if (failed)
		{
			dyn_buf_reset(&c->out);
			dyn_release_reset(&c->rel);
			conn_close(c);
			continue;
		}
		conn_flush(c);
		conn_resume(c);
	}
}

/* libuv finished a write: send what queued meanwhile, maybe resume reading. */
static void
conn_on_write(uv_write_t *req, int status)
{
	dyn_conn   *c = req->data;

	c->writing = false;
	dyn_buf_reset(&c->wbuf);
	if (c->closing)
		return;
	if (status < 0)
	{
		conn_close(c);
		return;
	}
	conn_flush(c);
	conn_resume(c);
}

/*
 * Handle the frames in the input buffer as one burst: writes share one
 * storage batch, and answers given meanwhile (dyn_conn_answer) wait in out
 * until the batch is committed.
 */
static void
conn_burst(dyn_conn *c)
{
	c->in_burst = true;
	conn_handle_frames(c);
	conn_commit(c);
	c->in_burst = false;
}

/*
 * Read again once the output has drained below half the high-water mark
 * and at most half the allowed requests are held: first the requests that
 * were held back in the input buffer, then the socket.
 */
static void
conn_resume(dyn_conn *c)
{
	if (c->closing || c->reading || c->close_after_write || !c->authorized ||
		c->in_burst || conn_pending(c) > DYN_CONN_OUT_HIGH / 2 ||
		c->held > DYN_CONN_MAX_HELD / 2)
		return;
	conn_burst(c);
	conn_flush(c);
	if (!c->closing && !c->close_after_write && c->held < DYN_CONN_MAX_HELD &&
		conn_pending(c) <= DYN_CONN_OUT_HIGH)
	{
		c->reading = true;
		uv_read_start((uv_stream_t *) &c->handle, conn_on_alloc, conn_on_read);
	}
}

/* Open this burst's storage batch if it is not open yet. */
int
dyn_conn_batch(dyn_conn *c)
{
	int			rc;

	if (c->batch_open || !c->in_burst || dyn_group_on(&c->node->group))
		return DYN_OK;			/* writes commit one by one (group commit syncs them) */
	if ((rc = dyn_engine_begin(c->node->engine)) != DYN_OK)
		return rc;
	c->batch_open = true;
	return DYN_OK;
}

dyn_buf *
dyn_conn_out(dyn_conn *c)
{
	return &c->out;
}

int
dyn_request_batch(const dyn_request *req)
{
	return dyn_conn_batch(req->conn);
}

dyn_deferred
dyn_request_defer(const dyn_request *req)
{
	dyn_deferred d = {req->conn, req->reqid};

	dyn_conn_hold(req->conn);
	return d;
}

void
dyn_deferred_answer(dyn_deferred d, dyn_slice frame)
{
	dyn_conn_answer(d.conn, frame);
}

/* A request of c will be answered later: keep c alive until then. */
void
dyn_conn_hold(dyn_conn *c)
{
	c->held++;
}

/*
 * The answer to a held request.  Inside a burst it waits for the burst's
 * commit and flush; otherwise it goes out now.  A connection that closed
 * meanwhile drops it, and is freed with its last hold.
 */
void
dyn_conn_answer(dyn_conn *c, dyn_slice frame)
{
	c->held--;
	if (c->closing)
	{
		if (c->handles_open == 0 && c->held == 0)
			conn_free(c);
		return;
	}
	dyn_buf_append(&c->out, frame.ptr, frame.len);
	if (c->in_burst || c->flush_queued)
		return;
	/*
	 * Send with the other answers of this loop iteration: replicas answer
	 * in bursts, and one write (one sealed record) per connection per
	 * iteration costs far less than one per answer.
	 */
	c->flush_queued = true;
	c->held++;
	c->flush_next = c->node->conns->flush_list;
	c->node->conns->flush_list = c;
	uv_check_start(&c->node->conns->flush_check, conn_on_check);
}

/*
 * After the loop's I/O callbacks: send what dyn_conn_answer queued, and
 * read again where answers made room.  Answers given while this runs are
 * queued for the next iteration.
 */
static void
conn_on_check(uv_check_t *h)
{
	dyn_node   *node = h->data;
	dyn_conn   *list = node->conns->flush_list;

	node->conns->flush_list = NULL;
	uv_check_stop(h);
	while (list != NULL)
	{
		dyn_conn   *c = list;

		list = c->flush_next;
		c->flush_queued = false;
		if (!conn_drop_hold(c))
			continue;
		conn_flush(c);
		conn_resume(c);
	}
}

/* Unlink the connection and let libuv close its socket. */
static void
conn_close(dyn_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	conn_input_release(c);
	conn_input_wake(c->node);
	if (c->batch_open)
		conn_commit(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		c->node->conns->all = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->node->stats.connections_open--;
	if (c->handles_open == 2)
		uv_close((uv_handle_t *) &c->hs_timer, conn_on_close);
	uv_close((uv_handle_t *) &c->handle, conn_on_close);
}

/*
 * A handle is closed (the socket's cancels any write): free the connection
 * once the last one is.
 */
static void
conn_on_close(uv_handle_t *h)
{
	dyn_conn   *c = h->data;

	if (--c->handles_open > 0 || c->held > 0)
		return;				/* the last answer frees it (dyn_conn_answer) */
	conn_free(c);
}

/*
 * A list that held c lets go of it: whether c is still open (else it was
 * freed, if that was its last hold and its handles are closed).
 */
static bool
conn_drop_hold(dyn_conn *c)
{
	c->held--;
	if (!c->closing)
		return true;
	if (c->handles_open == 0 && c->held == 0)
		conn_free(c);
	return false;
}

/* Free a connection whose handles are closed and that nothing holds. */
static void
conn_free(dyn_conn *c)
{
	dyn_channel_free(c->ch);
	dyn_buf_free(&c->in);
	dyn_buf_free(&c->out);
	dyn_buf_free(&c->wire);
	dyn_buf_free(&c->wbuf);
	dyn_buf_free(&c->held_tail);
	free(c);
}
