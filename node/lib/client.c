/*
 * client.c
 *		The non-blocking, pipelining dynamo client (see client.h).
 *
 * The client keeps two buffers: out holds encoded requests not yet written
 * to the socket, in holds bytes read but not yet popped as replies.  Replies
 * are parsed in place and handed out as views into in; the bytes they occupy
 * are only reclaimed at the next dyn_client_io, which is why a popped reply
 * stays valid until then.
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
#include <time.h>
#include <unistd.h>

/* How much to ask the kernel for per read. */
#define DYN_CLIENT_READ_CHUNK	(64 * 1024)

/* One connection to one node and everything queued on it. */
struct dyn_client
{
	int			fd;
	bool		connecting;		/* non-blocking connect not yet finished */
	dyn_buf		out;			/* encoded requests not yet written */
	size_t		out_off;		/* bytes of out already written */
	dyn_buf		in;				/* bytes read from the socket */
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
static int	client_write(dyn_client *c);
static int	client_read(dyn_client *c);
static int64_t client_now_ms(void);

/* Allocate an unconnected client. */
dyn_client *
dyn_client_new(void)
{
	dyn_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->fd = -1;
	c->next_reqid = 1;
	dyn_buf_init(&c->out);
	dyn_buf_init(&c->in);
	return c;
}

void
dyn_client_free(dyn_client *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	dyn_buf_free(&c->out);
	dyn_buf_free(&c->in);
	free(c);
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
 * more than packet count (pipelining already batches).
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
	dyn_buf_reset(&c->out);
	c->out_off = 0;

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

/* Start connecting and wait for the handshake with a deadline. */
int
dyn_client_connect(dyn_client *c, const char *addr, int timeout_ms)
{
	int64_t		deadline = client_now_ms() + timeout_ms;
	int			rc = dyn_client_connect_start(c, addr);

	while (rc == DYN_OK && c->connecting)
	{
		struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
		int64_t		left = deadline - client_now_ms();
		int			n;

		if (left <= 0)
			return client_fail(c, DYN_ERR_TIMEOUT,
							   "timed out after %d ms connecting to %s",
							   timeout_ms, addr);
		n = poll(&pfd, 1, (int) left);
		if (n < 0 && errno != EINTR)
			return client_fail(c, DYN_ERR_IO, "poll failed: %s", strerror(errno));
		if (n > 0)
			rc = dyn_client_io(c, DYN_WAIT_WRITE);
	}
	return rc;
}

bool
dyn_client_connected(const dyn_client *c)
{
	return c->fd >= 0 && !c->connecting;
}

int
dyn_client_socket(const dyn_client *c)
{
	return c->fd;
}

/*
 * Writable while connecting or while requests are queued; readable whenever
 * replies are owed.
 */
int
dyn_client_wants(const dyn_client *c)
{
	int			w = 0;

	if (c->fd < 0)
		return 0;
	if (c->connecting || c->out_off < c->out.len)
		w |= DYN_WAIT_WRITE;
	if (!c->connecting && c->outstanding > 0)
		w |= DYN_WAIT_READ;
	return w;
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

		if (dyn_buf_reserve(&c->in, DYN_CLIENT_READ_CHUNK) != DYN_OK)
			return client_fail(c, DYN_ERR_NOMEM, "out of memory");
		room = c->in.cap - c->in.len;
		n = recv(c->fd, c->in.data + c->in.len, room, 0);
		if (n > 0)
		{
			c->in.len += (size_t) n;
			if ((size_t) n < room)
				break;			/* short read: the socket is drained */
			continue;
		}
		if (n == 0)
			return client_fail(c, DYN_ERR_CLOSED, "node closed the connection");
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		if (errno == EINTR)
			continue;
		return client_fail(c, DYN_ERR_IO, "could not receive from node: %s",
						   strerror(errno));
	}
	return DYN_OK;
}

/* Finish a pending connect, then write and read as far as possible. */
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
	if (c->out_off < c->out.len && (rc = client_write(c)) != DYN_OK)
		return rc;
	if ((ready & DYN_WAIT_READ) && (rc = client_read(c)) != DYN_OK)
		return rc;
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
	int64_t		deadline = client_now_ms() + timeout_ms;
	int			rc;

	if (c->fd >= 0 && (rc = dyn_client_io(c, 0)) != DYN_OK)
		return rc;
	while ((rc = dyn_client_next_reply(c, reply)) == DYN_ERR_AGAIN)
	{
		struct pollfd pfd = {.fd = c->fd, .events = 0};
		int			wants = dyn_client_wants(c);
		int64_t		left = deadline - client_now_ms();
		int			n;
		int			ready = 0;

		if (c->fd < 0)
			return DYN_ERR_CLOSED;
		if (wants == 0)
			return client_fail(c, DYN_ERR_INVAL, "no request is outstanding");
		if (left <= 0)
		{
			snprintf(c->errmsg, sizeof(c->errmsg),
					 "timed out after %d ms waiting for the node", timeout_ms);
			return DYN_ERR_TIMEOUT;
		}
		if (wants & DYN_WAIT_READ)
			pfd.events |= POLLIN;
		if (wants & DYN_WAIT_WRITE)
			pfd.events |= POLLOUT;
		n = poll(&pfd, 1, (int) left);
		if (n < 0 && errno != EINTR)
			return client_fail(c, DYN_ERR_IO, "poll failed: %s", strerror(errno));
		if (n <= 0)
			continue;
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
			ready |= DYN_WAIT_READ;
		if (pfd.revents & (POLLOUT | POLLERR))
			ready |= DYN_WAIT_WRITE;
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

uint32_t
dyn_client_send_get(dyn_client *c, const dyn_get_req *req)
{
	uint32_t	id = client_take_reqid(c);

	dyn_get_req_encode(&c->out, id, req);
	return id;
}

uint32_t
dyn_client_send_put(dyn_client *c, const dyn_put_req *req)
{
	uint32_t	id = client_take_reqid(c);

	dyn_put_req_encode(&c->out, DYN_MSG_PUT, id, req);
	return id;
}

uint32_t
dyn_client_send_delete(dyn_client *c, const dyn_put_req *req)
{
	uint32_t	id = client_take_reqid(c);

	dyn_put_req_encode(&c->out, DYN_MSG_DELETE, id, req);
	return id;
}

uint32_t
dyn_client_send_status(dyn_client *c)
{
	uint32_t	id = client_take_reqid(c);

	dyn_status_req_encode(&c->out, id);
	return id;
}

size_t
dyn_client_outstanding(const dyn_client *c)
{
	return c->outstanding;
}

size_t
dyn_client_unsent(const dyn_client *c)
{
	return c->out.len - c->out_off;
}

const char *
dyn_client_errmsg(const dyn_client *c)
{
	if (c->out.err)
		return "out of memory while queueing a request";
	return c->errmsg;
}

static int64_t
client_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
