/*
 * client.c
 *		The non-blocking, pipelining dynamo client (see client.h).
 *
 * The client keeps three buffers: req holds encoded requests not yet sealed
 * by the connection's channel, out holds bytes for the socket not yet
 * written, in holds plaintext read but not yet popped as replies.  Replies
 * are parsed in place and handed out as views into in; the bytes they occupy
 * are only reclaimed at the next dyn_client_io, which is why a popped reply
 * stays valid until then.
 *
 * Every connection has a channel (channel.h): a plaintext one moves req to
 * out without copying and reads straight into in; a secure one runs the
 * handshake first -- HELLO goes out as soon as TCP connects, requests wait
 * in req until the node is authenticated -- then seals each burst of
 * requests as one record.
 */
#include "dynamo/client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dynamo/channel.h"

/* How much to ask the kernel for per read. */
#define DYN_CLIENT_READ_CHUNK	(64 * 1024)

/* One connection to one node and everything queued on it. */
struct dyn_client
{
	int			fd;
	bool		connecting;		/* non-blocking connect not yet finished */
	bool		secure;			/* connect with the identity below */
	dyn_identity identity;		/* our key pair (copied, wiped at free) */
	const dyn_trust *trust;		/* borrowed: whom we accept as a node */
	dyn_channel *ch;			/* the current connection's channel */
	dyn_buf		req;			/* encoded requests not yet sealed */
	dyn_buf		out;			/* bytes for the socket not yet written */
	size_t		out_off;		/* bytes of out already written */
	dyn_buf		in;				/* plaintext received */
	size_t		in_off;			/* bytes of in already popped as replies */
	uint32_t	next_reqid;
	size_t		outstanding;
	char		errmsg[256];
};

static int	client_fail(dyn_client *c, int status, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
static int	client_split_addr(const char *addr, char *host, size_t hostlen,
							  char *port, size_t portlen);
static uint32_t client_take_reqid(dyn_client *c);
static int	client_flush(dyn_client *c);
static int	client_write(dyn_client *c);
static int	client_read(dyn_client *c);
static int	client_poll(dyn_client *c, int timeout_ms);
static uint32_t client_queued(dyn_client *c, size_t mark, uint32_t id);

/* Allocate an unconnected client. */
dyn_client *
dyn_client_new(void)
{
	dyn_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->fd = -1;
	c->next_reqid = 1;
	dyn_buf_init(&c->req);
	dyn_buf_init(&c->out);
	dyn_buf_init(&c->in);
	return c;
}

/* Close, wipe the keys, free. */
void
dyn_client_free(dyn_client *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	dyn_channel_free(c->ch);
	dyn_identity_clear(&c->identity);
	dyn_buf_free(&c->req);
	dyn_buf_free(&c->out);
	dyn_buf_free(&c->in);
	free(c);
}

/* Remember the identity for the next connections (see client.h). */
int
dyn_client_set_identity(dyn_client *c, const dyn_identity *id, const dyn_trust *trust)
{
	if (c->fd >= 0 || (id != NULL && trust == NULL))
		return DYN_ERR_INVAL;
	if (id == NULL)
	{
		dyn_identity_clear(&c->identity);
		c->secure = false;
		c->trust = NULL;
		return DYN_OK;
	}
	c->identity = *id;
	c->trust = trust;
	c->secure = true;
	return DYN_OK;
}

/*
 * Record why the connection failed, close it, and return status so callers
 * can write "return client_fail(...)".
 */
static int
client_fail(dyn_client *c, int status, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->connecting = false;
	return status;
}

/* Split "host:port" (or "[v6]:port") into its parts. */
static int
client_split_addr(const char *addr, char *host, size_t hostlen,
				  char *port, size_t portlen)
{
	const char *colon = strrchr(addr, ':');
	const char *h = addr;
	size_t		hl;

	if (colon == NULL || colon == addr || colon[1] == '\0')
		return DYN_ERR_INVAL;
	hl = (size_t) (colon - addr);
	if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']')
	{
		h++;
		hl -= 2;
	}
	if (hl >= hostlen || strlen(colon + 1) >= portlen)
		return DYN_ERR_INVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	strcpy(port, colon + 1);
	return DYN_OK;
}

/*
 * Resolve addr and start a non-blocking connect to its first address.  The
 * socket gets TCP_NODELAY because requests are small and latency matters
 * more than packet count (pipelining already batches).  It also gets a
 * TCP_USER_TIMEOUT and keepalives (DYN_CLIENT_TCP_*): a connection whose
 * bytes go unacknowledged, or that is idle across a cut, fails within
 * seconds instead of after the kernel's retransmissions (minutes), so a
 * long-lived client (the FDW's) reconnects once the network heals.
 */
int
dyn_client_connect_start(dyn_client *c, const char *addr)
{
	char		host[256];
	char		port[16];
	struct addrinfo hints = {0};
	struct addrinfo *res = NULL;
	int			fd;
	int			one = 1;
	int			rc;

	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->errmsg[0] = '\0';
	dyn_buf_reset(&c->in);
	c->in_off = 0;
	c->outstanding = 0;
	dyn_buf_reset(&c->req);
	dyn_buf_reset(&c->out);
	c->out_off = 0;
	dyn_channel_free(c->ch);
	c->ch = dyn_channel_new(DYN_CHANNEL_INITIATOR, c->secure ? &c->identity : NULL,
							c->trust);
	if (c->ch == NULL)
		return client_fail(c, DYN_ERR_NOMEM, "could not set up the connection's channel "
						   "(out of memory, or libsodium could not start)");

	if (client_split_addr(addr, host, sizeof(host), port, sizeof(port)) != DYN_OK)
		return client_fail(c, DYN_ERR_INVAL,
						   "invalid node address \"%s\": expected HOST:PORT", addr);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0 || res == NULL)
		return client_fail(c, DYN_ERR_IO, "could not resolve \"%s\": %s",
						   host, gai_strerror(rc));

	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
	{
		freeaddrinfo(res);
		return client_fail(c, DYN_ERR_IO, "could not create socket: %s",
						   strerror(errno));
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	{
		unsigned int user_timeout = DYN_CLIENT_TCP_USER_TIMEOUT_MS;
		int			idle = DYN_CLIENT_TCP_KEEPIDLE_S;
		int			intvl = DYN_CLIENT_TCP_KEEPINTVL_S;
		int			cnt = DYN_CLIENT_TCP_KEEPCNT;

		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout));
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	}
	c->fd = fd;
	rc = connect(fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (rc == 0)
		c->connecting = false;
	else if (errno == EINPROGRESS)
		c->connecting = true;
	else
		return client_fail(c, DYN_ERR_IO, "could not connect to %s: %s",
						   addr, strerror(errno));
	return DYN_OK;
}

/*
 * Start connecting and wait, with one deadline, for the TCP connection and
 * (secure clients) the handshake.
 */
int
dyn_client_connect(dyn_client *c, const char *addr, int timeout_ms)
{
	int64_t		deadline = (int64_t) dyn_clock_mono_ms() + timeout_ms;
	int			rc = dyn_client_connect_start(c, addr);

	while (rc == DYN_OK && !dyn_client_connected(c))
	{
		int64_t		left = deadline - (int64_t) dyn_clock_mono_ms();
		int			ready;

		if (c->fd < 0)
			return DYN_ERR_CLOSED;
		if (left <= 0)
			return client_fail(c, DYN_ERR_TIMEOUT,
							   c->connecting ? "timed out after %d ms connecting to %s" :
							   "timed out after %d ms in the handshake with %s",
							   timeout_ms, addr);
		if ((ready = client_poll(c, (int) left)) < 0)
			return ready;
		if (ready > 0)
			rc = dyn_client_io(c, ready);
	}
	return rc;
}

/*
 * Wait at most timeout_ms for what the client wants; the DYN_WAIT_* mask
 * that became ready (0 on timeout or a signal), or a negative status.
 */
static int
client_poll(dyn_client *c, int timeout_ms)
{
	struct pollfd pfd = {.fd = c->fd, .events = 0};
	int			wants = dyn_client_wants(c);
	int			ready = 0;
	int			n;

	if (wants & DYN_WAIT_READ)
		pfd.events |= POLLIN;
	if (wants & DYN_WAIT_WRITE)
		pfd.events |= POLLOUT;
	n = poll(&pfd, 1, timeout_ms);
	if (n < 0 && errno != EINTR)
		return client_fail(c, DYN_ERR_IO, "poll failed: %s", strerror(errno));
	if (n <= 0)
		return 0;
	if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
		ready |= DYN_WAIT_READ;
	if (pfd.revents & (POLLOUT | POLLERR))
		ready |= DYN_WAIT_WRITE;
	return ready;
}

bool
dyn_client_connected(const dyn_client *c)
{
	return c->fd >= 0 && !c->connecting && c->ch != NULL &&
		dyn_channel_established(c->ch);
}

int
dyn_client_socket(const dyn_client *c)
{
	return c->fd;
}

/*
 * Writable while connecting or while bytes are queued (or requests the
 * channel can now seal); readable while the handshake waits for the node and
 * whenever replies are owed.
 */
int
dyn_client_wants(const dyn_client *c)
{
	int			w = 0;

	if (c->fd < 0)
		return 0;
	if (c->connecting)
		return DYN_WAIT_WRITE;
	if (c->out_off < c->out.len || dyn_channel_has_output(c->ch) ||
		(c->req.len > 0 && dyn_channel_established(c->ch)))
		w |= DYN_WAIT_WRITE;
	if (c->outstanding > 0 || dyn_channel_awaiting_peer(c->ch))
		w |= DYN_WAIT_READ;
	return w;
}

/*
 * Hand the channel what is queued (the handshake message due, and the
 * requests once the handshake is done), then write.
 */
static int
client_flush(dyn_client *c)
{
	int			rc = dyn_channel_seal(c->ch, &c->req, &c->out);

	if (rc == DYN_ERR_NOMEM)
		return client_fail(c, rc, "out of memory while queueing a request");
	if (rc != DYN_OK)
		return client_fail(c, rc, "secure channel to node failed: %s",
						   dyn_channel_errmsg(c->ch));
	if (c->out_off < c->out.len)
		return client_write(c);
	return DYN_OK;
}

/* Write as much of out as the socket takes. */
static int
client_write(dyn_client *c)
{
	while (c->out_off < c->out.len)
	{
		ssize_t		n = send(c->fd, c->out.data + c->out_off,
							 c->out.len - c->out_off, MSG_NOSIGNAL);

		if (n < 0)
		{
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			return client_fail(c, DYN_ERR_IO, "could not send to node: %s",
							   strerror(errno));
		}
		c->out_off += (size_t) n;
	}
	if (c->out_off == c->out.len)
	{
		dyn_buf_reset(&c->out);
		c->out_off = 0;
	}
	return DYN_OK;
}

/*
 * Read what the socket has.  Popped replies are dropped from the front of
 * in first, which is what ends the validity of earlier reply views.
 */
static int
client_read(dyn_client *c)
{
	if (c->in_off > 0)
	{
		dyn_buf_consume(&c->in, c->in_off);
		c->in_off = 0;
	}
	for (;;)
	{
		ssize_t		n;
		size_t		room;
		uint8_t    *p;
		int			rc;

		if (dyn_channel_recv_buf(c->ch, &c->in, DYN_CLIENT_READ_CHUNK, &p, &room) != DYN_OK)
			return client_fail(c, DYN_ERR_NOMEM, "out of memory");
		n = recv(c->fd, p, room, 0);
		if (n > 0)
		{
			rc = dyn_channel_recv_done(c->ch, &c->in, (size_t) n);
			if (rc != DYN_OK)
				return client_fail(c, rc, "%s with the node failed: %s",
								   dyn_channel_established(c->ch) ? "secure channel" :
								   "handshake", dyn_channel_errmsg(c->ch));
			if ((size_t) n < room)
				break;			/* short read: the socket is drained */
			continue;
		}
		if (n == 0)
		{
			if (dyn_channel_eof(c->ch) != DYN_OK)
				return client_fail(c, DYN_ERR_CLOSED,
								   "node closed the connection %s",
								   dyn_channel_established(c->ch) ?
								   "in the middle of a record" :
								   "during the handshake (does it trust this client's key? "
								   "its log says why)");
			return client_fail(c, DYN_ERR_CLOSED, "node closed the connection");
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		if (errno == EINTR)
			continue;
		return client_fail(c, DYN_ERR_IO, "could not receive from node: %s",
						   strerror(errno));
	}
	return DYN_OK;
}

/*
 * Finish a pending connect, then write and read as far as possible.  What
 * was read may have completed the handshake (FIN to send, requests released
 * to seal), so there is a second flush after reading.
 */
int
dyn_client_io(dyn_client *c, int ready)
{
	int			rc;

	if (c->fd < 0)
		return DYN_ERR_CLOSED;
	if (c->connecting)
	{
		int			err = 0;
		socklen_t	len = sizeof(err);

		if (!(ready & DYN_WAIT_WRITE))
			return DYN_OK;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err == EINPROGRESS || err == EALREADY)
			return DYN_OK;
		if (err != 0)
			return client_fail(c, DYN_ERR_IO, "could not connect to node: %s",
							   strerror(err));
		c->connecting = false;
	}
	if ((rc = client_flush(c)) != DYN_OK)
		return rc;
	if (ready & DYN_WAIT_READ)
	{
		if ((rc = client_read(c)) != DYN_OK)
			return rc;
		if ((rc = client_flush(c)) != DYN_OK)
			return rc;
	}
	return DYN_OK;
}

/* Parse the next whole frame from in; it must be a reply. */
int
dyn_client_next_reply(dyn_client *c, dyn_frame *reply)
{
	size_t		used;
	int			rc;

	if (c->in_off >= c->in.len)
		return c->fd < 0 && c->outstanding > 0 ? DYN_ERR_CLOSED : DYN_ERR_AGAIN;
	rc = dyn_frame_parse(c->in.data + c->in_off, c->in.len - c->in_off,
						 DYN_FRAME_MAX_BODY, reply, &used);
	if (rc == DYN_ERR_AGAIN)
		return c->fd < 0 ? DYN_ERR_CLOSED : DYN_ERR_AGAIN;
	if (rc != DYN_OK)
		return client_fail(c, rc, "node sent a malformed frame: %s",
						   dyn_strerror(rc));
	if (!DYN_MSG_IS_REPLY(reply->type))
		return client_fail(c, DYN_ERR_PROTO,
						   "node sent a request frame (%s) where a reply was expected",
						   dyn_msg_type_name(reply->type));
	c->in_off += used;
	if (c->outstanding > 0)
		c->outstanding--;
	return DYN_OK;
}

/* Drive the connection with poll until one reply is ready or time is up. */
int
dyn_client_await(dyn_client *c, int timeout_ms, dyn_frame *reply)
{
	int64_t		deadline = (int64_t) dyn_clock_mono_ms() + timeout_ms;
	int			rc;

	if (c->fd >= 0 && (rc = dyn_client_io(c, 0)) != DYN_OK)
		return rc;
	while ((rc = dyn_client_next_reply(c, reply)) == DYN_ERR_AGAIN)
	{
		int64_t		left = deadline - (int64_t) dyn_clock_mono_ms();
		int			ready;

		if (c->fd < 0)
			return DYN_ERR_CLOSED;
		if (dyn_client_wants(c) == 0)
			return client_fail(c, DYN_ERR_INVAL, "no request is outstanding");
		if (left <= 0)
		{
			snprintf(c->errmsg, sizeof(c->errmsg),
					 "timed out after %d ms waiting for the node", timeout_ms);
			return DYN_ERR_TIMEOUT;
		}
		if ((ready = client_poll(c, (int) left)) < 0)
			return ready;
		if (ready == 0)
			continue;
		if ((rc = dyn_client_io(c, ready)) != DYN_OK)
		{
			/* a node may answer (say, with an error) and then hang up */
			int			pop = dyn_client_next_reply(c, reply);

			return pop == DYN_OK ? DYN_OK : rc;
		}
	}
	return rc;
}

/* Request ids wrap but skip 0, which callers may use as "none". */
static uint32_t
client_take_reqid(dyn_client *c)
{
	uint32_t	id = c->next_reqid++;

	if (c->next_reqid == 0)
		c->next_reqid = 1;
	c->outstanding++;
	return id;
}

/*
 * Finish queueing the request whose frame starts at mark: when the encoder
 * refused it (a bad argument, or no memory), take its bytes back out so the
 * requests around it are unharmed, and return 0 instead of its id.
 */
static uint32_t
client_queued(dyn_client *c, size_t mark, uint32_t id)
{
	if (c->req.err == 0)
		return id;
	snprintf(c->errmsg, sizeof(c->errmsg), "could not queue a request: %s",
			 dyn_strerror(c->req.err));
	c->req.len = mark;
	c->req.err = 0;
	c->outstanding--;
	return 0;
}

uint32_t
dyn_client_send_get(dyn_client *c, const dyn_get_req *req)
{
	size_t		mark = c->req.len;
	uint32_t	id = client_take_reqid(c);

	dyn_get_req_encode(&c->req, id, req);
	return client_queued(c, mark, id);
}

uint32_t
dyn_client_send_put(dyn_client *c, const dyn_put_req *req)
{
	size_t		mark = c->req.len;
	uint32_t	id = client_take_reqid(c);

	dyn_put_req_encode(&c->req, DYN_MSG_PUT, id, req);
	return client_queued(c, mark, id);
}

uint32_t
dyn_client_send_delete(dyn_client *c, const dyn_put_req *req)
{
	size_t		mark = c->req.len;
	uint32_t	id = client_take_reqid(c);

	dyn_put_req_encode(&c->req, DYN_MSG_DELETE, id, req);
	return client_queued(c, mark, id);
}

uint32_t
dyn_client_send_status(dyn_client *c)
{
	size_t		mark = c->req.len;
	uint32_t	id = client_take_reqid(c);

	dyn_status_req_encode(&c->req, id);
	return client_queued(c, mark, id);
}

/* Any request type with its body already encoded. */
uint32_t
dyn_client_send_frame(dyn_client *c, uint8_t type, dyn_slice body)
{
	size_t		mark = c->req.len;
	uint32_t	id = client_take_reqid(c);
	size_t		start;

	start = dyn_frame_begin(&c->req, type, id);
	dyn_buf_append(&c->req, body.ptr, body.len);
	dyn_frame_end(&c->req, start);
	return client_queued(c, mark, id);
}

uint32_t
dyn_client_send_ring(dyn_client *c)
{
	return dyn_client_send_frame(c, DYN_MSG_RING, (dyn_slice) {NULL, 0});
}

size_t
dyn_client_outstanding(const dyn_client *c)
{
	return c->outstanding;
}

size_t
dyn_client_unsent(const dyn_client *c)
{
	return c->req.len + c->out.len - c->out_off;
}

const char *
dyn_client_errmsg(const dyn_client *c)
{
	if (c->req.err || c->out.err)
		return "out of memory while queueing a request";
	return c->errmsg;
}

