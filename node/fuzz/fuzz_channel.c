/*
 * fuzz_channel.c
 *		The secure channel (channel.c) against hostile bytes.  The first
 *		input byte picks the game:
 *		0  a node's channel (responder) is fed the rest as what a stranger
 *		   sends, in chunks: it must never come up nor yield plaintext;
 *		1  the same for a client's channel (initiator) facing a fake node;
 *		2  a man in the middle: a client and a node talk through two wires
 *		   the rest of the input drives (who queues what, what is sealed and
 *		   delivered in which chunks, and bytes flipped, inserted or dropped
 *		   in flight).  Each side's received plaintext must always be a
 *		   prefix of what the other sent; with no tampering, everything
 *		   arrives once the wires are flushed.
 *
 * Randomness comes from a generator reset for every input (installed as
 * libsodium's randombytes before sodium_init), so each input replays the
 * same handshake.
 */
#include <string.h>

#include <sodium.h>

#include "dynamo/channel.h"

#include "fuzz.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int			LLVMFuzzerInitialize(int *argc, char ***argv);

/* One end: its channel, plaintext queued to send, and received. */
typedef struct end
{
	dyn_channel *ch;
	dyn_buf		out;
	dyn_buf		in;
	dyn_buf		sent;			/* everything ever queued, in order */
} end;

static uint64_t rng_state;
static dyn_identity node_id;
static dyn_identity client_id;
static dyn_trust node_trust;	/* the node trusts the client (write) */
static dyn_trust client_trust;	/* the client trusts the node (node) */

static uint64_t rng_next(void);
static void rng_buf(void *const buf, const size_t size);
static uint32_t rng_random(void);
static const char *rng_name(void);
static void make_identity(dyn_identity *id, uint8_t fill);
static void make_trust(dyn_trust *t, const dyn_identity *who, const char *role);
static void end_init(end *e, dyn_channel_side side, const dyn_identity *id,
					 const dyn_trust *t);
static void end_free(end *e);
static void deliver(dyn_buf *wire, size_t n, end *to);
static void check_prefix(const end *to, const end *from);
static void raw_game(dyn_channel_side side, fuzz_in *in);
static void mitm_game(fuzz_in *in);

/* splitmix64: any fixed sequence will do; this one is short. */
static uint64_t
rng_next(void)
{
	uint64_t	z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
rng_buf(void *const buf, const size_t size)
{
	uint8_t    *p = buf;

	for (size_t i = 0; i < size; i++)
		p[i] = (uint8_t) rng_next();
}

static uint32_t
rng_random(void)
{
	return (uint32_t) rng_next();
}

static const char *
rng_name(void)
{
	return "fuzz-replay";
}

static randombytes_implementation rng_impl = {
	.implementation_name = rng_name,
	.random = rng_random,
	.buf = rng_buf,
};

/* A key pair from a fixed seed. */
static void
make_identity(dyn_identity *id, uint8_t fill)
{
	uint8_t		seed[crypto_sign_SEEDBYTES];

	memset(seed, fill, sizeof(seed));
	crypto_sign_seed_keypair(id->pk, id->sk, seed);
}

/* A trust list of one key. */
static void
make_trust(dyn_trust *t, const dyn_identity *who, const char *role)
{
	char		key[DYN_KEY_TEXT_LEN + 1];
	char		text[200];
	char		err[256];

	dyn_key_to_text(who->pk, key);
	snprintf(text, sizeof(text), "%s %s peer\n", key, role);
	dyn_trust_init(t);
	FUZZ_CHECK(dyn_trust_parse(t, "fuzz", text, strlen(text), err, sizeof(err)) == DYN_OK,
			   "%s", err);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	randombytes_set_implementation(&rng_impl);
	if (sodium_init() < 0)
		abort();
	make_identity(&node_id, 1);
	make_identity(&client_id, 2);
	make_trust(&node_trust, &client_id, "write");
	make_trust(&client_trust, &node_id, "node");
	return 0;
}

static void
end_init(end *e, dyn_channel_side side, const dyn_identity *id, const dyn_trust *t)
{
	e->ch = dyn_channel_new(side, id, t);
	FUZZ_CHECK(e->ch != NULL, "dyn_channel_new");
	dyn_buf_init(&e->out);
	dyn_buf_init(&e->in);
	dyn_buf_init(&e->sent);
}

static void
end_free(end *e)
{
	dyn_channel_free(e->ch);
	dyn_buf_free(&e->out);
	dyn_buf_free(&e->in);
	dyn_buf_free(&e->sent);
}

/* Hand the first n bytes in flight on wire to the receiving end. */
static void
deliver(dyn_buf *wire, size_t n, end *to)
{
	if (n > wire->len)
		n = wire->len;
	if (n == 0)
		return;
	(void) dyn_channel_recv(to->ch, wire->data, n, &to->in);
	dyn_buf_consume(wire, n);
}

/* What to received is a prefix of what from sent: nothing forged. */
static void
check_prefix(const end *to, const end *from)
{
	FUZZ_CHECK(to->in.len <= from->sent.len &&
			   (to->in.len == 0 || memcmp(to->in.data, from->sent.data, to->in.len) == 0),
			   "received %zu bytes that were not sent", to->in.len);
}

/* Games 0 and 1: one channel, and a stranger's bytes in chunks. */
static void
raw_game(dyn_channel_side side, fuzz_in *in)
{
	end			e;
	dyn_buf		wire;

	if (side == DYN_CHANNEL_RESPONDER)
		end_init(&e, side, &node_id, &node_trust);
	else
		end_init(&e, side, &client_id, &client_trust);
	dyn_buf_init(&wire);
	while (in->n > 0)
	{
		dyn_slice	chunk = fuzz_bytes(in, 1 + fuzz_u8(in));

		(void) dyn_channel_seal(e.ch, &e.out, &wire);
		dyn_buf_reset(&wire);
		if (dyn_channel_recv(e.ch, chunk.ptr, chunk.len, &e.in) != DYN_OK)
			break;
	}
	FUZZ_CHECK(!dyn_channel_established(e.ch), "a stranger's bytes brought the channel up");
	FUZZ_CHECK(e.in.len == 0, "a stranger's bytes gave plaintext");
	dyn_buf_free(&wire);
	end_free(&e);
}

/* Game 2: a client and a node through wires the input tampers with. */
static void
mitm_game(fuzz_in *in)
{
	end			c;
	end			s;
	dyn_buf		c2s;
	dyn_buf		s2c;
	bool		tampered = false;

	end_init(&c, DYN_CHANNEL_INITIATOR, &client_id, &client_trust);
	end_init(&s, DYN_CHANNEL_RESPONDER, &node_id, &node_trust);
	dyn_buf_init(&c2s);
	dyn_buf_init(&s2c);
	while (in->n > 0)
	{
		uint8_t		op = fuzz_u8(in);
		end		   *from = (op & 1) ? &s : &c;
		end		   *to = (op & 1) ? &c : &s;
		dyn_buf    *wire = (op & 1) ? &s2c : &c2s;

		switch ((op >> 1) % 6)
		{
			case 0:				/* queue plaintext */
				{
					dyn_slice	p = fuzz_bytes(in, fuzz_u8(in));

					dyn_buf_append(&from->out, p.ptr, p.len);
					dyn_buf_append(&from->sent, p.ptr, p.len);
					break;
				}
			case 1:				/* seal onto the wire */
				(void) dyn_channel_seal(from->ch, &from->out, wire);
				break;
			case 2:				/* deliver some bytes */
				deliver(wire, fuzz_u16(in), to);
				break;
			case 3:				/* flip bits */
				{
					uint16_t	at = fuzz_u16(in);
					uint8_t		x = fuzz_u8(in) | 1;

					if (wire->len > 0)
					{
						wire->data[at % wire->len] ^= x;
						tampered = true;
					}
					break;
				}
			case 4:				/* insert bytes */
				{
					uint16_t	at = fuzz_u16(in);
					dyn_slice	p = fuzz_bytes(in, fuzz_u8(in));
					size_t		pos = wire->len > 0 ? at % (wire->len + 1) : 0;

					if (p.len == 0 || dyn_buf_reserve(wire, p.len) != DYN_OK)
						break;
					memmove(wire->data + pos + p.len, wire->data + pos, wire->len - pos);
					memcpy(wire->data + pos, p.ptr, p.len);
					wire->len += p.len;
					tampered = true;
					break;
				}
			case 5:				/* drop bytes */
				{
					uint16_t	at = fuzz_u16(in);
					size_t		n = fuzz_u8(in);
					size_t		pos = wire->len > 0 ? at % wire->len : 0;

					if (n > wire->len - pos)
						n = wire->len - pos;
					if (n == 0)
						break;
					memmove(wire->data + pos, wire->data + pos + n, wire->len - pos - n);
					wire->len -= n;
					tampered = true;
					break;
				}
		}
		check_prefix(&s, &c);
		check_prefix(&c, &s);
	}

	/* flush both ways; untouched wires must deliver everything */
	for (int round = 0; round < 4; round++)
	{
		(void) dyn_channel_seal(c.ch, &c.out, &c2s);
		deliver(&c2s, c2s.len, &s);
		(void) dyn_channel_seal(s.ch, &s.out, &s2c);
		deliver(&s2c, s2c.len, &c);
	}
	check_prefix(&s, &c);
	check_prefix(&c, &s);
	if (!tampered)
	{
		FUZZ_CHECK(dyn_channel_established(c.ch) && dyn_channel_established(s.ch),
				   "no tampering, yet no channel: %s / %s", dyn_channel_errmsg(c.ch),
				   dyn_channel_errmsg(s.ch));
		FUZZ_CHECK(s.in.len == c.sent.len && c.in.len == s.sent.len,
				   "no tampering, yet %zu of %zu and %zu of %zu bytes arrived",
				   s.in.len, c.sent.len, c.in.len, s.sent.len);
	}
	dyn_buf_free(&c2s);
	dyn_buf_free(&s2c);
	end_free(&c);
	end_free(&s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_in		in = {data, size};
	uint8_t		game = fuzz_u8(&in) % 3;

	rng_state = 0x5eed;
	if (game == 0)
		raw_game(DYN_CHANNEL_RESPONDER, &in);
	else if (game == 1)
		raw_game(DYN_CHANNEL_INITIATOR, &in);
	else
		mitm_game(&in);
	return 0;
}
