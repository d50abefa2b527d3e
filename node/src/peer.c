/*
 * peer.c
 *		One outgoing connection to another node (see peer.h).
 *
 * Requests are remembered in an open-addressing table keyed by request id
 * (linear probing, backward-shift deletion), so replies that come back in
 * any order are matched in O(1); the table is bounded (DYN_PEER_MAX_PENDING)
 * and a full table refuses new requests instead of queueing them.  Ids are
 * handed out in sequence, so nearly every request sits in its home slot and
 * the ones in flight form one long run of occupied slots: a deletion shifts
 * nothing back while no entry is displaced (p->displaced), instead of
 * walking the run to its end as backward shift otherwise must.
 *
 * Deadlines: one repeating uv_timer per peer sweeps the table while
 * anything is outstanding -- walking it only once the earliest deadline
 * may have passed (p->due_ms), since a walk reads the whole table, some
 * 320 kB, out of the caches the requests themselves use; the same timer,
 * started with a zero timeout,
 * delivers failures that were decided inside dyn_peer_send (a peer that just
 * refused a connection is not retried for DYN_PEER_RETRY_MS), which keeps
 * the promise that callbacks never run inside dyn_peer_send.
 *
 * Writes are batched per loop iteration: dyn_peer_send only appends to the
 * client's output and starts a uv_check handle, which writes everything
 * queued in that iteration with one send() after the loop's I/O callbacks;
 * only what the socket does not take then is left to the poll handle
 * (writability), so a busy peer costs no epoll changes per request.
 *
 * Following the network: a connection is only as good as its last answer.
 * One that is not connected and through its handshake within
 * DYN_PEER_CONNECT_TIMEOUT_MS, or on which a request times out with nothing
 * at all received since that request was sent, is dropped (its requests
 * fail) and made anew at the next request, after a backoff that doubles
 * from DYN_PEER_RETRY_MS to DYN_PEER_RETRY_MAX_MS and starts over at the
 * first answer.  Keeping it would leave later requests behind the kernel's
 * retransmission backoff: after a long cut TCP retries a queued segment
 * only every tens of seconds, so a healed link would stay silent that long.
 * A slow peer that still answers other requests keeps its connection.
 */
#include "peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Slots of the request table: twice the bound keeps probe chains short. */
#define PEER_SLOTS			(2 * DYN_PEER_MAX_PENDING)
/* How often outstanding requests are checked against their deadlines. */
#define PEER_SWEEP_MS		50
/* After a failed connection, how long new requests fail without retrying
 * (doubling up to the maximum while connections keep failing). */
#define DYN_PEER_RETRY_MS		100
#define DYN_PEER_RETRY_MAX_MS	1000

/* One outstanding request; reqid 0 marks a free slot. */
typedef struct peer_slot
{
	uint32_t	reqid;
	int			failed;			/* a failure decided already, delivered by the sweep */
	uint64_t	replies_before;	/* the connection's reply count when it was sent */
	uint64_t	deadline_ms;
	dyn_peer_cb cb;
	void	   *arg;
} peer_slot;

/* The connection to one node and its outstanding requests. */
struct dyn_peer
{
	dyn_peer_config cfg;
	char		id[64];
	char		address[256];
	dyn_client *client;
	uv_poll_t  *poll;			/* NULL while there is no socket */
	int			poll_events;
	uv_timer_t	sweep;
	bool		sweeping;
	uv_check_t	flusher;		/* writes what was queued this iteration */
	uv_idle_t	waker;			/* keeps the loop from sleeping before the flush */
	int			handles;		/* of sweep, flusher and waker, not yet closed */
	peer_slot  *slots;
	size_t		outstanding;
	size_t		displaced;		/* slots whose entry is not in its home slot */
	uint64_t	due_ms;			/* no request is due before this (0: walk now) */
	uint32_t	next_fake_reqid;	/* ids for requests failed before sending */
	uint64_t	retry_after_ms;
	uint64_t	retry_ms;		/* the pause after the next failure (backoff) */
	uint64_t	connect_ms;		/* when the current connection was started */
	uint64_t	replies;		/* replies the current connection delivered */
	uint64_t	reconnects;		/* connections dropped for silence */
	bool		closing;
};

static size_t slot_home(uint32_t reqid);
static peer_slot *slot_find(dyn_peer *p, uint32_t reqid);
static peer_slot *slot_insert(dyn_peer *p, uint32_t reqid);
static void slot_remove(dyn_peer *p, peer_slot *s);
static void peer_connect(dyn_peer *p);
static void peer_drop_socket(dyn_peer *p);
static void peer_broken(dyn_peer *p, int status);
static void peer_update_poll(dyn_peer *p);
static void peer_on_poll(uv_poll_t *h, int status, int events);
static void peer_on_poll_close(uv_handle_t *h);
static void peer_dispatch_replies(dyn_peer *p);
static void peer_arm_sweep(dyn_peer *p, uint64_t timeout);
static void peer_on_sweep(uv_timer_t *t);
static void peer_on_handle_close(uv_handle_t *h);
static void peer_on_flush(uv_check_t *h);
static void peer_on_wake(uv_idle_t *h);
static void peer_fail_all(dyn_peer *p, int status);
static void peer_backoff(dyn_peer *p);

/* A peer that will connect to address at its first request. */
dyn_peer *
dyn_peer_new(const dyn_peer_config *cfg, const char *id, const char *address)
{
	dyn_peer   *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->slots = calloc(PEER_SLOTS, sizeof(peer_slot));
	if (p->slots == NULL)
	{
		free(p);
		return NULL;
	}
	p->cfg = *cfg;
	snprintf(p->id, sizeof(p->id), "%s", id);
	snprintf(p->address, sizeof(p->address), "%s", address);
	p->next_fake_reqid = 1;
	p->retry_ms = DYN_PEER_RETRY_MS;
	uv_timer_init(cfg->loop, &p->sweep);
	p->sweep.data = p;
	uv_check_init(cfg->loop, &p->flusher);
	p->flusher.data = p;
	uv_idle_init(cfg->loop, &p->waker);
	p->waker.data = p;
	p->handles = 3;
	return p;
}

const char *
dyn_peer_address(const dyn_peer *p)
{
	return p->address;
}

/* A new address: drop the old connection (its requests fail) and move. */
void
dyn_peer_set_address(dyn_peer *p, const char *address)
{
	if (strcmp(p->address, address) == 0)
		return;
	snprintf(p->address, sizeof(p->address), "%s", address);
	if (p->client != NULL)
		peer_broken(p, DYN_ERR_IO);
	p->retry_after_ms = 0;
}

size_t
dyn_peer_outstanding(const dyn_peer *p)
{
	return p->outstanding;
}

uint64_t
dyn_peer_reconnects(const dyn_peer *p)
{
	return p->reconnects;
}

/*
 * Whether a connection should be dropped: still connecting (TCP or the
 * handshake) DYN_PEER_CONNECT_TIMEOUT_MS after it was started, or
 * connected but silent: a request timed out with no reply at all
 * delivered on the connection since it was sent.
 */
bool
dyn_peer_stalled(bool connected, uint64_t connect_ms, bool silent, uint64_t now)
{
	if (!connected)
		return now >= connect_ms + DYN_PEER_CONNECT_TIMEOUT_MS;
	return silent;
}


/* ------------------------------------------------------- request table */

/*
 * Where reqid's probe chain starts: its low bits.  The client hands out ids
 * in sequence and at most DYN_PEER_MAX_PENDING (half the slots) are out at
 * once, so the ids in flight fill consecutive slots without colliding until
 * one straggler is lapped; a burst's requests then share cache lines, where
 * a multiplicative hash put each in its own line of the 320 KB table.
 */
static size_t
slot_home(uint32_t reqid)
{
	return (size_t) (reqid & (PEER_SLOTS - 1));
}

static peer_slot *
slot_find(dyn_peer *p, uint32_t reqid)
{
	size_t		i = slot_home(reqid);

	while (p->slots[i].reqid != 0)
	{
		if (p->slots[i].reqid == reqid)
			return &p->slots[i];
		i = (i + 1) & (PEER_SLOTS - 1);
	}
	return NULL;
}

/* A free slot for reqid (the caller checked the bound, so one exists). */
static peer_slot *
slot_insert(dyn_peer *p, uint32_t reqid)
{
	size_t		i = slot_home(reqid);

	while (p->slots[i].reqid != 0)
		i = (i + 1) & (PEER_SLOTS - 1);
	p->slots[i].reqid = reqid;
	p->outstanding++;
	p->displaced += i != slot_home(reqid);
	return &p->slots[i];
}

/*
 * Free a slot by shifting later members of its probe chain back, so that
 * lookups never need tombstones.  Only a displaced entry can move (one in
 * its home slot stays), so with none left there is nothing to walk.
 */
static void
slot_remove(dyn_peer *p, peer_slot *s)
{
	size_t		i = (size_t) (s - p->slots);
	size_t		j = i;

	p->displaced -= i != slot_home(s->reqid);
	while (p->displaced > 0)
	{
		size_t		k;

		j = (j + 1) & (PEER_SLOTS - 1);
		if (p->slots[j].reqid == 0)
			break;
		k = slot_home(p->slots[j].reqid);
		/* move j back to i unless its home lies cyclically in (i, j] */
		if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		/* displaced at j (its home is not j); at i only if its home is not i */
		p->displaced -= i == k;
		p->slots[i] = p->slots[j];
		i = j;
	}
	memset(&p->slots[i], 0, sizeof(peer_slot));
	p->outstanding--;
}


/* --------------------------------------------------------------- sending */

/*
 * Queue one request.  A connection is started if there is none; a peer
 * whose last connection attempt failed moments ago fails the request
 * (asynchronously) instead of hammering a dead address.
 */
int
dyn_peer_send(dyn_peer *p, uint8_t type, dyn_slice body, int timeout_ms,
			  dyn_peer_cb cb, void *arg)
{
	uint64_t	now = dyn_clock_mono_ms();
	peer_slot  *s;
	uint32_t	reqid;

	if (p->closing || p->outstanding >= DYN_PEER_MAX_PENDING ||
		(p->client != NULL && dyn_client_unsent(p->client) > DYN_PEER_MAX_UNSENT))
		return DYN_ERR_AGAIN;

	if (p->client == NULL && now >= p->retry_after_ms)
		peer_connect(p);
	if (p->client == NULL)
	{
		/* a fake id, distinct from the client's (they start at 1 too, but
		 * the client does not exist, so no reply can collide) */
		do
			reqid = p->next_fake_reqid++;
		while (reqid == 0 || slot_find(p, reqid) != NULL);
		s = slot_insert(p, reqid);
		s->failed = DYN_ERR_IO;
		s->cb = cb;
		s->arg = arg;
		p->due_ms = 0;
		peer_arm_sweep(p, 0);
		return DYN_OK;
	}

	reqid = dyn_client_send_frame(p->client, type, body);
	if (reqid == 0)
		return DYN_ERR_AGAIN;	/* out of memory queueing: refuse like a full peer */
	s = slot_insert(p, reqid);
	s->failed = 0;
	s->replies_before = p->replies;
	s->deadline_ms = now + (uint64_t) timeout_ms;
	s->cb = cb;
	s->arg = arg;
	if (p->outstanding == 1 || s->deadline_ms < p->due_ms)
		p->due_ms = s->deadline_ms;
	uv_check_start(&p->flusher, peer_on_flush);
	/*
	 * A request queued from a timer callback would otherwise wait for the
	 * loop's next wake-up: check handles run after the poll, and the poll
	 * sleeps until some other event unless an idle handle is active.
	 */
	uv_idle_start(&p->waker, peer_on_wake);
	if (!p->sweeping)
		peer_arm_sweep(p, PEER_SWEEP_MS);
	return DYN_OK;
}

/* Start a non-blocking connect with a fresh client (and channel). */
static void
peer_connect(dyn_peer *p)
{
	dyn_client *c = p->cfg.new_client(p->cfg.new_client_arg);

	if (c == NULL)
	{
		p->retry_after_ms = dyn_clock_mono_ms() + DYN_PEER_RETRY_MS;
		return;
	}
	if (dyn_client_connect_start(c, p->address) != DYN_OK)
	{
		dyn_log(p->cfg.log, DYN_LOG_DEBUG, "cannot connect to %s at %s: %s",
				p->id, p->address, dyn_client_errmsg(c));
		dyn_client_free(c);
		peer_backoff(p);
		if (p->cfg.on_fail)
			p->cfg.on_fail(p->cfg.owner, p, DYN_ERR_IO);
		return;
	}
	p->client = c;
	p->poll = malloc(sizeof(uv_poll_t));
	if (p->poll == NULL || uv_poll_init(p->cfg.loop, p->poll, dyn_client_socket(c)) != 0)
	{
		free(p->poll);
		p->poll = NULL;
		dyn_client_free(c);
		p->client = NULL;
		p->retry_after_ms = dyn_clock_mono_ms() + DYN_PEER_RETRY_MS;
		return;
	}
	p->poll->data = p;
	p->poll_events = 0;
	p->connect_ms = dyn_clock_mono_ms();
	p->replies = 0;
}

/* The next connection waits; each failure in a row doubles the wait. */
static void
peer_backoff(dyn_peer *p)
{
	p->retry_after_ms = dyn_clock_mono_ms() + p->retry_ms;
	p->retry_ms *= 2;
	if (p->retry_ms > DYN_PEER_RETRY_MAX_MS)
		p->retry_ms = DYN_PEER_RETRY_MAX_MS;
}

/*
 * End of a loop iteration in which requests were queued: write them now
 * (the socket usually takes it all), and poll only for what is left.
 */
static void
peer_on_flush(uv_check_t *h)
{
	dyn_peer   *p = h->data;

	uv_check_stop(h);
	uv_idle_stop(&p->waker);
	if (p->client == NULL || p->closing)
		return;
	if (dyn_client_io(p->client, 0) != DYN_OK)
	{
		dyn_log(p->cfg.log, DYN_LOG_DEBUG, "connection to %s at %s: %s",
				p->id, p->address, dyn_client_errmsg(p->client));
		peer_broken(p, DYN_ERR_IO);
		return;
	}
	peer_update_poll(p);
}

/* Ask the poll handle for what the client waits for now. */
static void
peer_update_poll(dyn_peer *p)
{
	int			wants;
	int			events = 0;

	if (p->client == NULL || p->poll == NULL)
		return;
	wants = dyn_client_wants(p->client);
	if (wants & DYN_WAIT_READ)
		events |= UV_READABLE;
	if (wants & DYN_WAIT_WRITE)
		events |= UV_WRITABLE;
	/* keep reading while connected, so a hang-up is noticed at once */
	if (dyn_client_connected(p->client))
		events |= UV_READABLE;
	if (events == p->poll_events)
		return;
	p->poll_events = events;
	if (events == 0)
		uv_poll_stop(p->poll);
	else
		uv_poll_start(p->poll, events, peer_on_poll);
}

/* The socket is ready: let the client work, then hand out replies. */
static void
peer_on_poll(uv_poll_t *h, int status, int events)
{
	dyn_peer   *p = h->data;
	int			ready = 0;
	int			rc;

	if (p->client == NULL)
		return;
	if (status < 0)
		ready = DYN_WAIT_READ | DYN_WAIT_WRITE;	/* let the client find the error */
	if (events & UV_READABLE)
		ready |= DYN_WAIT_READ;
	if (events & UV_WRITABLE)
		ready |= DYN_WAIT_WRITE;
	rc = dyn_client_io(p->client, ready);
	/* replies that arrived before a failure still count */
	peer_dispatch_replies(p);
	if (p->client == NULL)
		return;
	if (rc != DYN_OK)
	{
		dyn_log(p->cfg.log, DYN_LOG_DEBUG, "connection to %s at %s: %s",
				p->id, p->address, dyn_client_errmsg(p->client));
		peer_broken(p, DYN_ERR_IO);
		return;
	}
	peer_update_poll(p);
}

/* Pop every complete reply and call its request's callback. */
static void
peer_dispatch_replies(dyn_peer *p)
{
	dyn_frame	f;
	int			rc;

	while (p->client != NULL && (rc = dyn_client_next_reply(p->client, &f)) == DYN_OK)
	{
		peer_slot  *s = slot_find(p, f.reqid);
		dyn_peer_cb cb;
		void	   *arg;

		p->replies++;			/* even a late answer: the link works */
		p->retry_ms = DYN_PEER_RETRY_MS;
		if (s == NULL || s->failed != 0)
			continue;			/* timed out already: the answer is too late */
		cb = s->cb;
		arg = s->arg;
		slot_remove(p, s);
		cb(arg, DYN_OK, &f);
	}
	if (p->client != NULL && rc != DYN_ERR_AGAIN && rc != DYN_OK)
		peer_broken(p, DYN_ERR_IO);
}

/* Forget the socket: stop polling it and free the client. */
static void
peer_drop_socket(dyn_peer *p)
{
	if (p->poll != NULL)
	{
		/* uv_close stops the watcher now; the handle is freed later */
		uv_close((uv_handle_t *) p->poll, peer_on_poll_close);
		p->poll = NULL;
	}
	dyn_client_free(p->client);
	p->client = NULL;
}

static void
peer_on_poll_close(uv_handle_t *h)
{
	free(h);
}

/*
 * The connection failed: every request on it fails, the failure detector
 * hears of it once, and the next request reconnects (after a pause).
 */
static void
peer_broken(dyn_peer *p, int status)
{
	peer_drop_socket(p);
	peer_backoff(p);
	if (p->cfg.on_fail)
		p->cfg.on_fail(p->cfg.owner, p, status);
	peer_fail_all(p, status);
}

/*
 * Fail every outstanding request.  The table is emptied first and the
 * callbacks run afterwards, so a callback may send again (reconnecting).
 */
static void
peer_fail_all(dyn_peer *p, int status)
{
	size_t		n = 0;
	peer_slot  *copy;

	if (p->outstanding == 0)
		return;
	copy = malloc(p->outstanding * sizeof(peer_slot));
	if (copy == NULL)
	{
		/* cannot copy: call them in place, slot by slot */
		for (size_t i = 0; i < PEER_SLOTS; i++)
			while (p->slots[i].reqid != 0)
			{
				peer_slot	s = p->slots[i];

				slot_remove(p, &p->slots[i]);
				s.cb(s.arg, s.failed ? s.failed : status, NULL);
			}
		return;
	}
	for (size_t i = 0; i < PEER_SLOTS; i++)
		if (p->slots[i].reqid != 0)
			copy[n++] = p->slots[i];
	memset(p->slots, 0, PEER_SLOTS * sizeof(peer_slot));
	p->outstanding = 0;
	p->displaced = 0;
	for (size_t i = 0; i < n; i++)
		copy[i].cb(copy[i].arg, copy[i].failed ? copy[i].failed : status, NULL);
	free(copy);
}


/* ------------------------------------------------------------- deadlines */

static void
peer_arm_sweep(dyn_peer *p, uint64_t timeout)
{
	p->sweeping = true;
	uv_timer_start(&p->sweep, peer_on_sweep, timeout, PEER_SWEEP_MS);
}

/*
 * Fail what is due: requests failed at send time, and requests past their
 * deadline.  A timeout is reported to the failure detector once per sweep,
 * however many requests ran out together.  Then the connection itself: one
 * still connecting past its deadline, or silent since a request that timed
 * out was sent, is dropped (see the opening comment).
 *
 * The table is walked only when p->due_ms has come (a failure at send time
 * sets it to 0); the walk finds the next deadline of what is left.
 * Replies only ever end requests, so due_ms stays a lower bound between
 * walks, and a send lowers it when its deadline is earlier.
 */
static void
peer_on_sweep(uv_timer_t *t)
{
	dyn_peer   *p = t->data;
	uint64_t	now = dyn_clock_mono_ms();
	uint64_t	next = UINT64_MAX;
	bool		timed_out = false;
	bool		silent = false;
	size_t		i = 0;

	if (now < p->due_ms)
		i = PEER_SLOTS;			/* nothing can be due yet: no walk */
	else
		p->due_ms = UINT64_MAX;	/* callbacks below may send, lowering it */
	while (i < PEER_SLOTS && p->outstanding > 0)
	{
		peer_slot  *s = &p->slots[i];
		peer_slot	due;

		if (s->reqid == 0 || (s->failed == 0 && s->deadline_ms > now))
		{
			if (s->reqid != 0 && s->deadline_ms < next)
				next = s->deadline_ms;
			i++;
			continue;
		}
		due = *s;
		slot_remove(p, s);		/* may shift another slot into i: look again */
		if (due.failed == 0)
		{
			timed_out = true;
			silent |= p->replies == due.replies_before;
		}
		due.cb(due.arg, due.failed ? due.failed : DYN_ERR_TIMEOUT, NULL);
		if (p->closing)
			return;
	}
	if (next < p->due_ms)
		p->due_ms = next;
	if (p->client != NULL &&
		dyn_peer_stalled(dyn_client_connected(p->client), p->connect_ms, silent, now))
	{
		dyn_log(p->cfg.log, DYN_LOG_INFO, "connection to %s at %s %s: reconnecting",
				p->id, p->address, dyn_client_connected(p->client) ?
				"answered nothing before a request's deadline" :
				"was not established in time");
		p->reconnects++;
		peer_broken(p, DYN_ERR_TIMEOUT);	/* tells the detector */
		timed_out = false;
	}
	if (timed_out && p->cfg.on_fail)
		p->cfg.on_fail(p->cfg.owner, p, DYN_ERR_TIMEOUT);
	/* the timer repeats while anything is outstanding */
	if (p->outstanding == 0 && !p->closing)
	{
		uv_timer_stop(&p->sweep);
		p->sweeping = false;
	}
}


/* ----------------------------------------------------------------- close */

/* Fail what is outstanding, then free once the timer handle is closed. */
void
dyn_peer_close(dyn_peer *p)
{
	if (p == NULL || p->closing)
		return;
	p->closing = true;			/* first: callbacks below cannot send again */
	peer_drop_socket(p);
	peer_fail_all(p, DYN_ERR_CLOSED);
	uv_close((uv_handle_t *) &p->sweep, peer_on_handle_close);
	uv_close((uv_handle_t *) &p->flusher, peer_on_handle_close);
	uv_close((uv_handle_t *) &p->waker, peer_on_handle_close);
}

/* Nothing to do: being active is what keeps the poll from sleeping. */
static void
peer_on_wake(uv_idle_t *h)
{
	(void) h;
}

/* Free the peer once both of its handles are closed. */
static void
peer_on_handle_close(uv_handle_t *h)
{
	dyn_peer   *p = h->data;

	if (--p->handles > 0)
		return;
	free(p->slots);
	free(p);
}
