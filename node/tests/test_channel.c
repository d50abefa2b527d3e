/*
 * test_channel.c
 *		Unit tests for channel.c: the handshake between an initiator and a
 *		responder driven byte for byte in memory, and every way it must
 *		refuse -- a node key the client does not trust (or trusts as
 *		something other than a node), a client key the node does not know,
 *		a handshake cut short, a changed byte anywhere (handshake or
 *		record), a recorded session replayed, a record sent twice, out of
 *		order or with one missing (a reused or skipped counter), oversized
 *		records, plaintext peers and other versions.  Plus the plaintext
 *		mode's pass-through, a trust reloaded under an open channel, and
 *		what the receive buffer holds.
 */
#define _GNU_SOURCE				/* memmem */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dynamo/channel.h"
#include "dynamo/wire.h"

/*
 * The cast of a test: a node, a client, and the trust files each reads.
 * The node trusts the client as "write"; the client trusts the node as
 * "node".
 */
typedef struct cast
{
	dyn_identity node;
	dyn_identity client;
	dyn_identity stranger;		/* in nobody's trust file */
	dyn_trust	node_trust;
	dyn_trust	client_trust;
} cast;

/* One end under test: its channel and its plaintext buffers. */
typedef struct end
{
	dyn_channel *ch;
	dyn_buf		out;			/* plaintext to send */
	dyn_buf		in;				/* plaintext received */
} end;

static int	cast_setup(void **state);
static int	cast_teardown(void **state);
static void make_trust(dyn_trust *t, const dyn_identity *who, const char *role,
					   const char *name);
static void end_init(end *e, dyn_channel_side side, const dyn_identity *id,
					 const dyn_trust *trust);
static void end_free(end *e);
static void seal_to(end *from, dyn_buf *wire);
static int	deliver(const dyn_buf *wire, end *to, size_t step);
static void handshake(end *i, end *r, dyn_buf *rec_i, dyn_buf *rec_r);
static void append_buf(dyn_buf *dst, const dyn_buf *src);

/* Keys for the cast and the two trust files. */
static int
cast_setup(void **state)
{
	cast	   *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -1;
	if (dyn_identity_generate(&c->node) != DYN_OK ||
		dyn_identity_generate(&c->client) != DYN_OK ||
		dyn_identity_generate(&c->stranger) != DYN_OK)
		return -1;
	make_trust(&c->node_trust, &c->client, "write", "app");
	make_trust(&c->client_trust, &c->node, "node", "n1");
	*state = c;
	return 0;
}

static int
cast_teardown(void **state)
{
	cast	   *c = *state;

	dyn_trust_free(&c->node_trust);
	dyn_trust_free(&c->client_trust);
	dyn_identity_clear(&c->node);
	dyn_identity_clear(&c->client);
	free(c);
	return 0;
}

/* A trust list with one line. */
static void
make_trust(dyn_trust *t, const dyn_identity *who, const char *role, const char *name)
{
	char		key[DYN_KEY_TEXT_LEN + 1];
	char		text[200];
	char		err[256];

	dyn_key_to_text(who->pk, key);
	snprintf(text, sizeof(text), "%s %s %s\n", key, role, name);
	if (dyn_trust_parse(t, "test", text, strlen(text), err, sizeof(err)) != DYN_OK)
		fail_msg("trust: %s", err);
}

static void
end_init(end *e, dyn_channel_side side, const dyn_identity *id, const dyn_trust *trust)
{
	e->ch = dyn_channel_new(side, id, trust);
	assert_non_null(e->ch);
	dyn_buf_init(&e->out);
	dyn_buf_init(&e->in);
}

static void
end_free(end *e)
{
	dyn_channel_free(e->ch);
	dyn_buf_free(&e->out);
	dyn_buf_free(&e->in);
}

/* Seal what from has to send into wire (appending). */
static void
seal_to(end *from, dyn_buf *wire)
{
	assert_int_equal(dyn_channel_seal(from->ch, &from->out, wire), DYN_OK);
}

/*
 * Feed wire's bytes to `to`, step bytes at a time (0: all at once), the way
 * a socket might deliver them.  Returns the first error, or DYN_OK.
 */
static int
deliver(const dyn_buf *wire, end *to, size_t step)
{
	size_t		off = 0;

	if (step == 0)
		step = wire->len;
	while (off < wire->len)
	{
		size_t		n = wire->len - off < step ? wire->len - off : step;
		int			rc = dyn_channel_recv(to->ch, wire->data + off, n, &to->in);

		if (rc != DYN_OK)
			return rc;
		off += n;
	}
	return DYN_OK;
}

static void
append_buf(dyn_buf *dst, const dyn_buf *src)
{
	if (dst != NULL)
		dyn_buf_append(dst, src->data, src->len);
}

/*
 * Run the three handshake messages between i and r, which must succeed;
 * rec_i and rec_r (when not NULL) record what each side sent.
 */
static void
handshake(end *i, end *r, dyn_buf *rec_i, dyn_buf *rec_r)
{
	dyn_buf		wire;

	dyn_buf_init(&wire);
	seal_to(i, &wire);			/* HELLO */
	assert_int_equal(wire.len, DYN_CHANNEL_HELLO_LEN);
	append_buf(rec_i, &wire);
	assert_int_equal(deliver(&wire, r, 0), DYN_OK);
	dyn_buf_reset(&wire);
	seal_to(r, &wire);			/* RESP */
	assert_int_equal(wire.len, DYN_CHANNEL_RESP_LEN);
	append_buf(rec_r, &wire);
	assert_false(dyn_channel_established(r->ch));
	assert_int_equal(deliver(&wire, i, 0), DYN_OK);
	assert_true(dyn_channel_established(i->ch));
	dyn_buf_reset(&wire);
	seal_to(i, &wire);			/* FIN, and whatever i queued meanwhile */
	append_buf(rec_i, &wire);
	assert_int_equal(deliver(&wire, r, 0), DYN_OK);
	assert_true(dyn_channel_established(r->ch));
	dyn_buf_free(&wire);
}

/*
 * Handshake and traffic both ways: peers are who they should be, requests
 * queued before the handshake go out behind FIN, bytes arriving one at a
 * time and a burst larger than a record come through intact, and no byte
 * of plaintext is visible on the wire.
 */
static void
test_handshake_success(void **state)
{
	cast	   *c = *state;
	end			i;
	end			r;
	dyn_buf		wire;
	uint8_t    *big;
	size_t		biglen = 3 * DYN_CHANNEL_RECORD_MAX + 12345;
	const char *secret = "the value nobody may read";

	end_init(&i, DYN_CHANNEL_INITIATOR, &c->client, &c->client_trust);
	end_init(&r, DYN_CHANNEL_RESPONDER, &c->node, &c->node_trust);
	dyn_buf_init(&wire);
	assert_true(dyn_channel_secure(i.ch));
	assert_false(dyn_channel_established(i.ch));
	assert_true(dyn_channel_awaiting_peer(r.ch));
	assert_null(dyn_channel_peer_key(r.ch));

	/* queued before the handshake: held back, not sent with HELLO */
	dyn_buf_append(&i.out, secret, strlen(secret));
	handshake(&i, &r, NULL, NULL);
	assert_int_equal(r.in.len, strlen(secret));
	assert_memory_equal(r.in.data, secret, strlen(secret));

	assert_memory_equal(dyn_channel_peer_key(r.ch), c->client.pk, DYN_KEY_PUBLIC_BYTES);
	assert_non_null(dyn_channel_peer(r.ch));
	assert_int_equal(dyn_channel_peer(r.ch)->role, DYN_ROLE_WRITE);
	assert_string_equal(dyn_channel_peer(r.ch)->name, "app");
	assert_memory_equal(dyn_channel_peer_key(i.ch), c->node.pk, DYN_KEY_PUBLIC_BYTES);
	assert_int_equal(dyn_channel_peer(i.ch)->role, DYN_ROLE_NODE);
	assert_int_equal(dyn_channel_error_code(i.ch), DYN_CHANNEL_OK);

	/* a reply, delivered one byte at a time; the wire never shows it */
	dyn_buf_append(&r.out, secret, strlen(secret));
	seal_to(&r, &wire);
	assert_int_equal(r.out.len, 0);
	assert_null(memmem(wire.data, wire.len, "nobody", 6));
	assert_int_equal(deliver(&wire, &i, 1), DYN_OK);
	assert_int_equal(i.in.len, strlen(secret));
	assert_memory_equal(i.in.data, secret, strlen(secret));

	/* a burst over several records, delivered in odd-sized pieces */
	big = malloc(biglen);
	assert_non_null(big);
	for (size_t k = 0; k < biglen; k++)
		big[k] = (uint8_t) (k * 131 + 7);
	dyn_buf_reset(&i.out);
	dyn_buf_reset(&r.in);
	dyn_buf_reset(&wire);
	dyn_buf_append(&i.out, big, biglen);
	seal_to(&i, &wire);
	assert_int_equal(wire.len, biglen + 4 * (4 + 16));	/* four records */
	assert_int_equal(deliver(&wire, &r, 65521), DYN_OK);
	assert_int_equal(r.in.len, biglen);
	assert_memory_equal(r.in.data, big, biglen);
	assert_int_equal(dyn_channel_eof(r.ch), DYN_OK);
	free(big);

	dyn_buf_free(&wire);
	end_free(&i);
	end_free(&r);
}

/* Plaintext channels pass bytes through, without copying when they can. */
static void
test_plaintext(void **state)
{
	cast	   *c = *state;
	end			i;
	end			r;
	dyn_buf		wire;
	uint8_t    *p;
	size_t		room;
	const uint8_t *data;

	end_init(&i, DYN_CHANNEL_INITIATOR, NULL, NULL);
	end_init(&r, DYN_CHANNEL_RESPONDER, NULL, NULL);
	dyn_buf_init(&wire);
	assert_false(dyn_channel_secure(i.ch));
	assert_true(dyn_channel_established(i.ch));
	assert_true(dyn_channel_established(r.ch));
	assert_null(dyn_channel_peer_key(r.ch));

	dyn_status_req_encode(&i.out, 7);
	data = i.out.data;
	seal_to(&i, &wire);
	assert_ptr_equal(wire.data, data);	/* swapped, not copied */
	assert_int_equal(wire.len, DYN_FRAME_HEADER_LEN);
	dyn_status_req_encode(&i.out, 8);
	seal_to(&i, &wire);			/* appended behind the first */
	assert_int_equal(wire.len, 2 * DYN_FRAME_HEADER_LEN);

	/* received bytes land straight in the caller's plaintext buffer */
	assert_int_equal(dyn_channel_recv_buf(r.ch, &r.in, 100, &p, &room), DYN_OK);
	assert_ptr_equal(p, r.in.data + r.in.len);
	assert_true(room >= 100);
	memcpy(p, wire.data, wire.len);
	assert_int_equal(dyn_channel_recv_done(r.ch, &r.in, wire.len), DYN_OK);
	assert_int_equal(r.in.len, 2 * DYN_FRAME_HEADER_LEN);
	assert_memory_equal(r.in.data, wire.data, wire.len);
	assert_int_equal(dyn_channel_eof(r.ch), DYN_OK);

	/* a secure channel needs a trust list */
	assert_null(dyn_channel_new(DYN_CHANNEL_INITIATOR, &c->client, NULL));
	dyn_buf_free(&wire);
	end_free(&i);
	end_free(&r);
}

/*
 * The client refuses a node whose key it does not trust, or trusts as
 * anything but a node -- and sends nothing it had queued.
 */
static void
test_wrong_node_key(void **state)
{
	cast	   *c = *state;
	struct
	{
		const dyn_identity *node_key;
		const char *trusted_role;	/* NULL: the client trusts c->node as node */
		dyn_channel_error expect;
		const char *needle;
	}			cases[] = {
		{NULL, "admin", DYN_CHANNEL_E_ROLE, "not as a node"},
		{NULL, "write", DYN_CHANNEL_E_ROLE, "trusted as write"},
		{&c->stranger, NULL, DYN_CHANNEL_E_UNTRUSTED, "not in the trust file"},
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
	{
		dyn_trust	ctrust;
		end			i;
		end			r;
		dyn_buf		wire;

		if (cases[k].trusted_role)
			make_trust(&ctrust, &c->node, cases[k].trusted_role, "n1");
		else
			make_trust(&ctrust, &c->node, "node", "n1");
		end_init(&i, DYN_CHANNEL_INITIATOR, &c->client, &ctrust);
		end_init(&r, DYN_CHANNEL_RESPONDER,
				 cases[k].node_key ? cases[k].node_key : &c->node, &c->node_trust);
		dyn_buf_init(&wire);
		dyn_buf_append(&i.out, "secret request", 14);
		seal_to(&i, &wire);
		assert_int_equal(deliver(&wire, &r, 0), DYN_OK);
		dyn_buf_reset(&wire);
		seal_to(&r, &wire);
		assert_int_equal(deliver(&wire, &i, 0), DYN_ERR_PROTO);
		assert_false(dyn_channel_established(i.ch));
		assert_int_equal(dyn_channel_error_code(i.ch), cases[k].expect);
		if (strstr(dyn_channel_errmsg(i.ch), cases[k].needle) == NULL)
			fail_msg("case %zu: \"%s\" not in \"%s\"", k, cases[k].needle,
					 dyn_channel_errmsg(i.ch));
		/* dead: nothing more is sealed, the queued request stays unsent */
		dyn_buf_reset(&wire);
		assert_int_equal(dyn_channel_seal(i.ch, &i.out, &wire), DYN_ERR_PROTO);
		assert_int_equal(wire.len, 0);
		assert_int_equal(i.out.len, 14);
		assert_int_equal(dyn_channel_recv(i.ch, (const uint8_t *) "x", 1, &i.in),
						 DYN_ERR_PROTO);
		dyn_buf_free(&wire);
		end_free(&i);
		end_free(&r);
		dyn_trust_free(&ctrust);
	}
}

/*
 * A client whose key the node does not know: the handshake proves who it
 * is (so the node can tell it why it is refused), but it gets no role, and
 * the role table lets role none do nothing at all.
 */
static void
test_unknown_client_key(void **state)
{
	cast	   *c = *state;
	end			i;
	end			r;

	end_init(&i, DYN_CHANNEL_INITIATOR, &c->stranger, &c->client_trust);
	end_init(&r, DYN_CHANNEL_RESPONDER, &c->node, &c->node_trust);
	handshake(&i, &r, NULL, NULL);
	assert_memory_equal(dyn_channel_peer_key(r.ch), c->stranger.pk, DYN_KEY_PUBLIC_BYTES);
	assert_null(dyn_channel_peer(r.ch));
	for (int t = 0; t < 256; t++)
		assert_false(dyn_role_allows(DYN_ROLE_NONE, (uint8_t) t));
	end_free(&i);
	end_free(&r);

	/* and the same key listed: known, with its role */
	{
		dyn_trust	t;

		make_trust(&t, &c->stranger, "read", "now-known");
		end_init(&i, DYN_CHANNEL_INITIATOR, &c->stranger, &c->client_trust);
		end_init(&r, DYN_CHANNEL_RESPONDER, &c->node, &t);
		handshake(&i, &r, NULL, NULL);
		assert_non_null(dyn_channel_peer(r.ch));
		assert_int_equal(dyn_channel_peer(r.ch)->role, DYN_ROLE_READ);
		end_free(&i);
		end_free(&r);
		dyn_trust_free(&t);
	}
}

/*
 * Each handshake message cut at every length: the receiver waits (no
 * output, not established), and a close at that point is a truncation.
 */
static void
test_truncated_handshake(void **state)
{
	cast	   *c = *state;
	dyn_buf		hello;
	dyn_buf		resp;
	dyn_buf		fin;
	end			i;
	end			r;

	dyn_buf_init(&hello);
	dyn_buf_init(&resp);
	dyn_buf_init(&fin);
	/* one good run to have the messages */
	end_init(&i, DYN_CHANNEL_INITIATOR, &c->client, &c->client_trust);
	end_init(&r, DYN_CHANNEL_RESPONDER, &c->node, &c->node_trust);
	seal_to(&i, &hello);
	assert_int_equal(deliver(&hello, &r, 0), DYN_OK);
	seal_to(&r, &resp);
	end_free(&r);

	for (size_t cut = 0; cut < DYN_CHANNEL_HELLO_LEN; cut++)
	{
		end_init(&r, DYN_CHANNEL_RESPONDER, &c->node, &c->node_trust);
		assert_int_equal(dyn_channel_recv(r.ch, hello.data, cut, &r.in), DYN_OK);
		assert_false(dyn_channel_established(r.ch));
		assert_false(dyn_channel_has_output(r.ch));
		assert_int_equal(dyn_channel_eof(r.ch), DYN_ERR_PROTO);
		assert_int_equal(dyn_channel_error_code(r.ch), DYN_CHANNEL_E_TRUNCATED);
		end_free(&r);
	}
	for (size_t cut = 0; cut < DYN_CHANNEL_RESP_LEN; cut++)
	{
		end			i2;

		/* a fresh initiator cannot use resp (other keys): cut the real one's copy */
		end_init(&i2, DYN_CHANNEL_INITIATOR, &c->client, &c->client_trust);
		assert_int_equal(dyn_channel_recv(i2.ch, resp.data, cut, &i2.in), DYN_OK);
		assert_false(dyn_channel_established(i2.ch));
		assert_int_equal(dyn_channel_eof(i2.ch), DYN_ERR_PROTO);
		assert_int_equal(dyn_channel_error_code(i2.ch), DYN_CHANNEL_E_TRUNCATED);
		end_free(&i2);
	}
	assert_int_equal(deliver(&resp, &i, 0), DYN_OK);
	dyn_buf_reset(&i.out);
	seal_to(&i, &fin);
	assert_int_equal(fin.len, DYN_CHANNEL_FIN_LEN);
	for (size_t cut = 0; cut < DYN_CHANNEL_FIN_LEN; cut++)
	{
		/* a responder that got HELLO, answered, then FIN cut short */
		end_init(&r, DYN_CHANNEL_RESPONDER, &c->node, &c->node_trust);
		assert_int_equal(deliver(&hello, &r, 0), DYN_OK);
		assert_int_equal(dyn_channel_recv(r.ch, fin.data, cut, &r.in), DYN_OK);
		assert_false(dyn_channel_established(r.ch));
		assert_int_equal(dyn_channel_eof(r.ch), DYN_ERR_PROTO);
		assert_int_equal(dyn_channel_error_code(r.ch), DYN_CHANNEL_E_TRUNCATED);
		assert_non_null(strstr(dyn_channel_errmsg(r.ch), "during the handshake"));
		end_free(&r);
	}
	end_free(&i);
	dyn_buf_free(&hello);
	dyn_buf_free(&resp);
	dyn_buf_free(&fin);

	/* and a record cut short after a good handshake */
	end_init(&i, DYN_CHANNEL_INITIATOR, &c->client, &c->client_trust);
	end_init(&r, DYN_CHANNEL_RESPONDER, &c->node, &c->node_trust);
	handshake(&i, &r, NULL, NULL);
	{
		dyn_buf		wire;

		dyn_buf_init(&wire);
		dyn_buf_append(&i.out, "0123456789", 10);
		seal_to(&i, &wire);
		assert_int_equal(dyn_channel_recv(r.ch, wire.data, wire.len - 1, &r.in), DYN_OK);
		assert_int_equal(r.in.len, 0);	/* nothing unauthenticated is handed out */
		assert_int_equal(dyn_channel_eof(r.ch), DYN_ERR_PROTO);
		assert_non_null(strstr(dyn_channel_errmsg(r.ch), "middle of a record"));
		dyn_buf_free(&wire);
	}
	end_free(&i);
	end_free(&r);
}

/*
 * One bit flipped in any byte of a record -- length, ciphertext or tag --
 * and the receiver refuses it, hands out none of it, and stays dead.
 */
static void
test_tampered_frame(void **state)
{
	cast	   *c = *state;
	dyn_buf		wire;
	size_t		reclen = 0;

	dyn_buf_init(&wire);
	for (size_t pos = 0; reclen == 0 || pos < reclen; pos++)
	{
		end			i;
		end			r;
		int			rc;

		end_init(&i, DYN_CHANNEL_INITIATOR, &c->client, &c->client_trust);
		end_init(&r, DYN_CHANNEL_RESPONDER, &c->node, &c->node_trust);
		handshake(&i, &r, NULL, NULL);
		dyn_buf_reset(&wire);
		dyn_get_req_encode(&i.out, 1, &(dyn_get_req) {
						   .bucket = dyn_slice_str("carts"),.key = dyn_slice_str("alice")});
		seal_to(&i, &wire);
		reclen = wire.len;
		wire.data[pos] ^= (uint8_t) (1u << (pos % 8));
		rc = deliver(&wire, &r, 0);
		if (pos < 4 && rc == DYN_OK)
		{
			/* a length made longer: waits for bytes that will not come */
			assert_int_equal(dyn_channel_eof(r.ch), DYN_ERR_PROTO);
		}
		else
			assert_int_not_equal(rc, DYN_OK);
		assert_int_equal(r.in.len, 0);
		assert_false(dyn_channel_established(r.ch) &&
					 dyn_channel_error_code(r.ch) == DYN_CHANNEL_OK);
		/* dead for good: the next, intact record is refused too */
		dyn_buf_reset(&wire);
		dyn_buf_append(&i.out, "next", 4);
		seal_to(&i, &wire);
		assert_int_equal(deliver(&wire, &r, 0), DYN_ERR_PROTO);
		end_free(&i);
		end_free(&r);
	}
	dyn_buf_free(&wire);
}

/*
 * A changed byte anywhere in the handshake: the handshake does not
 * complete on the side that checks it.  (Bytes of HELLO's random part are
 * caught by the signatures, the ephemeral keys by the boxes.)
 */
static void
test_tampered_handshake(void **state)
{
	cast	   *c = *state;
	size_t		total = DYN_CHANNEL_HELLO_LEN + DYN_CHANNEL_RESP_LEN + DYN_CHANNEL_FIN_LEN;

	for (size_t pos = 0; pos < total; pos++)
	{
		end			i;
		end			r;
		dyn_buf		wire;
		int			rc;
		/* which message the flipped byte is in, and where in it */
		int			msg = pos < DYN_CHANNEL_HELLO_LEN ? 0 :
			pos < DYN_CHANNEL_HELLO_LEN + DYN_CHANNEL_RESP_LEN ? 1 : 2;
		size_t		at = msg == 0 ? pos : msg == 1 ? pos - DYN_CHANNEL_HELLO_LEN :
			pos - DYN_CHANNEL_HELLO_LEN - DYN_CHANNEL_RESP_LEN;

		end_init(&i, DYN_CHANNEL_INITIATOR, &c->client, &c->client_trust);
		end_init(&r, DYN_CHANNEL_RESPONDER, &c->node, &c->node_trust);
		dyn_buf_init(&wire);
		seal_to(&i, &wire);		/* HELLO */
		if (msg == 0)
			wire.data[at] ^= 0x20;
		rc = deliver(&wire, &r, 0);
		if (rc == DYN_OK)
		{
			dyn_buf_reset(&wire);
			seal_to(&r, &wire);	/* RESP */
			if (msg == 1)
				wire.data[at] ^= 0x20;
			rc = deliver(&wire, &i, 0);
		}
		if (rc == DYN_OK)
		{
			dyn_buf_reset(&wire);
			seal_to(&i, &wire);	/* FIN */
			if (msg == 2)
				wire.data[at] ^= 0x20;
			rc = deliver(&wire, &r, 0);
		}
		if (rc == DYN_OK)
			fail_msg("a flipped handshake byte at %zu was not noticed", pos);
		assert_false(dyn_channel_established(r.ch));
		dyn_buf_free(&wire);
		end_free(&i);
		end_free(&r);
	}
}

/*
 * A recorded session replayed: the initiator's bytes (HELLO, FIN, records)
 * to a fresh responder with the same key and trust, and the responder's
 * bytes to a fresh initiator.  Both refuse; nothing is delivered.
 */
static void
test_replayed_session(void **state)
{
	cast	   *c = *state;
	end			i;
	end			r;
	dyn_buf		rec_i;
	dyn_buf		rec_r;
	dyn_buf		wire;

	dyn_buf_init(&rec_i);
	dyn_buf_init(&rec_r);
	dyn_buf_init(&wire);
	end_init(&i, DYN_CHANNEL_INITIATOR, &c->client, &c->client_trust);
	end_init(&r, DYN_CHANNEL_RESPONDER, &c->node, &c->node_trust);
	dyn_buf_append(&i.out, "PUT carts/alice", 15);
	handshake(&i, &r, &rec_i, &rec_r);
	dyn_buf_append(&r.out, "OK", 2);
	seal_to(&r, &rec_r);
	assert_int_equal(r.in.len, 15);
	end_free(&i);
	end_free(&r);

	/* to a node: HELLO is answered (it is just a hello), FIN is refused */
	end_init(&r, DYN_CHANNEL_RESPONDER, &c->node, &c->node_trust);
	assert_int_equal(deliver(&rec_i, &r, 0), DYN_ERR_PROTO);
	assert_int_equal(dyn_channel_error_code(r.ch), DYN_CHANNEL_E_FORGED);
	assert_false(dyn_channel_established(r.ch));
	assert_int_equal(r.in.len, 0);
	assert_null(dyn_channel_peer_key(r.ch));
	end_free(&r);

	/* the same, arriving byte by byte */
	end_init(&r, DYN_CHANNEL_RESPONDER, &c->node, &c->node_trust);
	assert_int_equal(deliver(&rec_i, &r, 1), DYN_ERR_PROTO);
	assert_int_equal(r.in.len, 0);
	end_free(&r);

	/* to a client: the recorded answer does not open under its new keys */
	end_init(&i, DYN_CHANNEL_INITIATOR, &c->client, &c->client_trust);
	seal_to(&i, &wire);
	assert_int_equal(deliver(&rec_r, &i, 0), DYN_ERR_PROTO);
	assert_int_equal(dyn_channel_error_code(i.ch), DYN_CHANNEL_E_FORGED);
	assert_int_equal(i.in.len, 0);
	end_free(&i);

	dyn_buf_free(&rec_i);
	dyn_buf_free(&rec_r);
	dyn_buf_free(&wire);
}

/*
 * Counters: a record delivered twice (its counter reused), two records
 * swapped, or one left out -- each is refused at the first wrong record.
 */
static void
test_reused_counter(void **state)
{
	cast	   *c = *state;

	for (int variant = 0; variant < 3; variant++)
	{
		end			i;
		end			r;
		dyn_buf		a;
		dyn_buf		b;
		dyn_buf		d;

		dyn_buf_init(&a);
		dyn_buf_init(&b);
		dyn_buf_init(&d);
		end_init(&i, DYN_CHANNEL_INITIATOR, &c->client, &c->client_trust);
		end_init(&r, DYN_CHANNEL_RESPONDER, &c->node, &c->node_trust);
		handshake(&i, &r, NULL, NULL);
		dyn_buf_append(&i.out, "first", 5);
		seal_to(&i, &a);
		dyn_buf_append(&i.out, "second", 6);
		seal_to(&i, &b);
		assert_int_equal(a.len, 4 + 5 + 16);

		if (variant == 0)
		{
			/* the same record again: counter 1 reused */
			assert_int_equal(deliver(&a, &r, 0), DYN_OK);
			assert_int_equal(deliver(&a, &r, 0), DYN_ERR_PROTO);
			assert_int_equal(r.in.len, 5);
		}
		else if (variant == 1)
		{
			/* out of order */
			assert_int_equal(deliver(&b, &r, 0), DYN_ERR_PROTO);
			assert_int_equal(r.in.len, 0);
		}
		else
		{
			/* one dropped: the third record is refused where the second was due */
			dyn_buf_append(&i.out, "third", 5);
			seal_to(&i, &d);
			assert_int_equal(deliver(&a, &r, 0), DYN_OK);
			assert_int_equal(deliver(&d, &r, 0), DYN_ERR_PROTO);
			assert_int_equal(r.in.len, 5);
		}
		assert_int_equal(dyn_channel_error_code(r.ch), DYN_CHANNEL_E_FORGED);
		assert_non_null(strstr(dyn_channel_errmsg(r.ch), "failed authentication"));
		/* and the record that was due is refused now too: the channel is dead */
		assert_int_equal(deliver(&b, &r, 0), DYN_ERR_PROTO);
		dyn_buf_free(&a);
		dyn_buf_free(&b);
		dyn_buf_free(&d);
		end_free(&i);
		end_free(&r);
	}
}

/*
 * Record lengths: above the maximum is refused from its header alone
 * (nothing is buffered for it); shorter than a tag is malformed.
 */
static void
test_record_limits(void **state)
{
	cast	   *c = *state;
	static const uint32_t lens[] = {DYN_CHANNEL_RECORD_MAX + 17, 0xFFFFFFFFu, 16, 0};

	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++)
	{
		end			i;
		end			r;
		uint8_t		hdr[4] = {(uint8_t) (lens[k] >> 24), (uint8_t) (lens[k] >> 16),
		(uint8_t) (lens[k] >> 8), (uint8_t) lens[k]};
		int			rc;

		end_init(&i, DYN_CHANNEL_INITIATOR, &c->client, &c->client_trust);
		end_init(&r, DYN_CHANNEL_RESPONDER, &c->node, &c->node_trust);
		handshake(&i, &r, NULL, NULL);
		rc = dyn_channel_recv(r.ch, hdr, sizeof(hdr), &r.in);
		if (k < 2)
		{
			assert_int_equal(rc, DYN_ERR_TOOBIG);
			assert_int_equal(dyn_channel_error_code(r.ch), DYN_CHANNEL_E_TOOBIG);
		}
		else
		{
			assert_int_equal(rc, DYN_ERR_PROTO);
			assert_int_equal(dyn_channel_error_code(r.ch), DYN_CHANNEL_E_MALFORMED);
		}
		end_free(&i);
		end_free(&r);
	}
}

/*
 * The wrong kind of peer: plaintext frames either way, garbage, another
 * version, nonzero flags -- each named for what it is.
 */
static void
test_wrong_peer(void **state)
{
	cast	   *c = *state;
	end			e;
	dyn_buf		b;
	dyn_buf		hello;

	dyn_buf_init(&b);
	dyn_buf_init(&hello);

	/* a plaintext client (a STATUS frame, 9 bytes) to a secure node */
	end_init(&e, DYN_CHANNEL_RESPONDER, &c->node, &c->node_trust);
	dyn_status_req_encode(&b, 1);
	assert_int_equal(deliver(&b, &e, 0), DYN_ERR_PROTO);
	assert_int_equal(dyn_channel_error_code(e.ch), DYN_CHANNEL_E_PLAINTEXT);
	assert_false(dyn_channel_has_output(e.ch));
	end_free(&e);

	/* a plaintext node's error frame to a secure client */
	end_init(&e, DYN_CHANNEL_INITIATOR, &c->client, &c->client_trust);
	dyn_buf_reset(&b);
	dyn_error_encode(&b, 0, &(dyn_error_msg) {
					 .code = DYN_E_TOOBIG,.message = dyn_slice_str("too big")});
	assert_int_equal(deliver(&b, &e, 0), DYN_ERR_PROTO);
	assert_int_equal(dyn_channel_error_code(e.ch), DYN_CHANNEL_E_PLAINTEXT);
	assert_non_null(strstr(dyn_channel_errmsg(e.ch), "--insecure"));
	end_free(&e);

	/* bytes that are neither */
	end_init(&e, DYN_CHANNEL_RESPONDER, &c->node, &c->node_trust);
	assert_int_equal(dyn_channel_recv(e.ch, (const uint8_t *) "GET / HTTP/1.1\r\n", 16, &e.in),
					 DYN_ERR_PROTO);
	assert_int_equal(dyn_channel_error_code(e.ch), DYN_CHANNEL_E_MALFORMED);
	end_free(&e);

	/* another version, and flags this version does not know */
	end_init(&e, DYN_CHANNEL_INITIATOR, &c->client, &c->client_trust);
	seal_to(&e, &hello);
	end_free(&e);
	for (int k = 0; k < 2; k++)
	{
		end_init(&e, DYN_CHANNEL_RESPONDER, &c->node, &c->node_trust);
		hello.data[4 + k] = k == 0 ? 2 : 1;
		assert_int_equal(deliver(&hello, &e, 0), DYN_ERR_PROTO);
		assert_int_equal(dyn_channel_error_code(e.ch),
						 k == 0 ? DYN_CHANNEL_E_VERSION : DYN_CHANNEL_E_MALFORMED);
		hello.data[4 + k] = k == 0 ? 1 : 0;
		end_free(&e);
	}
	/* a low-order ephemeral key (all zeros) is refused, not used */
	end_init(&e, DYN_CHANNEL_RESPONDER, &c->node, &c->node_trust);
	memset(hello.data + 8, 0, 32);
	assert_int_equal(deliver(&hello, &e, 0), DYN_ERR_PROTO);
	assert_int_equal(dyn_channel_error_code(e.ch), DYN_CHANNEL_E_MALFORMED);
	end_free(&e);

	dyn_buf_free(&b);
	dyn_buf_free(&hello);
}

/*
 * The trust a channel borrows may be reloaded in place (a node's SIGHUP):
 * the peer's entry is looked up in the trust as it is now -- the new role,
 * or none once the key is removed -- never an entry of the freed list.
 */
static void
test_trust_reloaded_in_place(void **state)
{
	cast	   *c = *state;
	end			i;
	end			r;
	dyn_trust	old;

	end_init(&i, DYN_CHANNEL_INITIATOR, &c->client, &c->client_trust);
	end_init(&r, DYN_CHANNEL_RESPONDER, &c->node, &c->node_trust);
	handshake(&i, &r, NULL, NULL);
	assert_int_equal(dyn_channel_peer(r.ch)->role, DYN_ROLE_WRITE);

	old = c->node_trust;
	make_trust(&c->node_trust, &c->client, "read", "app2");
	dyn_trust_free(&old);
	assert_non_null(dyn_channel_peer(r.ch));
	assert_int_equal(dyn_channel_peer(r.ch)->role, DYN_ROLE_READ);
	assert_string_equal(dyn_channel_peer(r.ch)->name, "app2");

	old = c->node_trust;
	make_trust(&c->node_trust, &c->stranger, "admin", "other");
	dyn_trust_free(&old);
	assert_null(dyn_channel_peer(r.ch));
	assert_memory_equal(dyn_channel_peer_key(r.ch), c->client.pk, DYN_KEY_PUBLIC_BYTES);

	old = c->node_trust;
	make_trust(&c->node_trust, &c->client, "write", "app");
	dyn_trust_free(&old);
	end_free(&i);
	end_free(&r);
}

/*
 * What the receive buffer holds: a record's worth while it arrives, freed
 * once a large record is opened (a node must not keep it for every
 * connection that once sent a large value), kept when small.  recv_room is
 * the free room recv_buf would hand out without growing.
 */
static void
test_receive_buffer_held(void **state)
{
	cast	   *c = *state;
	end			i;
	end			r;
	dyn_buf		wire;
	size_t		big = 600 * 1024;
	uint8_t    *p;
	size_t		room;

	end_init(&i, DYN_CHANNEL_INITIATOR, &c->client, &c->client_trust);
	end_init(&r, DYN_CHANNEL_RESPONDER, &c->node, &c->node_trust);
	dyn_buf_init(&wire);
	handshake(&i, &r, NULL, NULL);

	assert_int_equal(dyn_buf_reserve(&i.out, big), DYN_OK);
	memset(i.out.data, 'v', big);
	i.out.len = big;
	seal_to(&i, &wire);
	assert_int_equal(dyn_channel_recv(r.ch, wire.data, wire.len / 2, &r.in), DYN_OK);
	assert_true(dyn_channel_recv_held(r.ch) >= wire.len / 2);
	assert_int_equal(dyn_channel_recv_pending(r.ch), wire.len / 2);	/* part of a record */
	assert_int_equal(r.in.len, 0);
	assert_int_equal(dyn_channel_recv_buf(r.ch, &r.in, 1, &p, &room), DYN_OK);
	assert_int_equal(dyn_channel_recv_room(r.ch, &r.in), room);
	assert_int_equal(dyn_channel_recv(r.ch, wire.data + wire.len / 2,
									  wire.len - wire.len / 2, &r.in), DYN_OK);
	assert_int_equal(r.in.len, big);
	assert_int_equal(dyn_channel_recv_held(r.ch), 0);

	dyn_buf_reset(&wire);
	dyn_buf_append(&i.out, "small", 5);
	seal_to(&i, &wire);
	assert_int_equal(deliver(&wire, &r, 0), DYN_OK);
	assert_true(dyn_channel_recv_held(r.ch) > 0);
	assert_true(dyn_channel_recv_held(r.ch) <= 256 * 1024);
	assert_int_equal(dyn_channel_recv_pending(r.ch), 0);	/* a whole record: opened */

	/* a plaintext channel holds nothing of its own: bytes land in plain */
	end_free(&i);
	end_init(&i, DYN_CHANNEL_RESPONDER, NULL, NULL);
	assert_int_equal(dyn_channel_recv_held(i.ch), 0);
	assert_int_equal(dyn_channel_recv_buf(i.ch, &i.in, 100, &p, &room), DYN_OK);
	assert_ptr_equal(p, i.in.data);
	assert_int_equal(dyn_channel_recv_room(i.ch, &i.in), i.in.cap);
	end_free(&i);
	end_free(&r);
	dyn_buf_free(&wire);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_success),
		cmocka_unit_test(test_plaintext),
		cmocka_unit_test(test_wrong_node_key),
		cmocka_unit_test(test_unknown_client_key),
		cmocka_unit_test(test_truncated_handshake),
		cmocka_unit_test(test_tampered_frame),
		cmocka_unit_test(test_tampered_handshake),
		cmocka_unit_test(test_replayed_session),
		cmocka_unit_test(test_reused_counter),
		cmocka_unit_test(test_record_limits),
		cmocka_unit_test(test_wrong_peer),
		cmocka_unit_test(test_trust_reloaded_in_place),
		cmocka_unit_test(test_receive_buffer_held),
	};

	return cmocka_run_group_tests(tests, cast_setup, cast_teardown);
}
