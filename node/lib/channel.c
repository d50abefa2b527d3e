/*
 * channel.c
 *		The secure channel: handshake and records (the protocol is described
 *		in channel.h).
 *
 * Every cryptographic operation is a libsodium call: crypto_kx for the
 * ephemeral key exchange and the per-direction session keys, crypto_sign
 * (Ed25519) for the transcript signatures, crypto_generichash (BLAKE2b) for
 * the transcript hash, crypto_aead_xchacha20poly1305_ietf for the handshake
 * boxes and the records.
 *
 * The transcript is kept as bytes (a few hundred) and hashed in one call when
 * a signature is made or checked, rather than as an incremental hash state:
 * libsodium's state type asks for 64-byte alignment, which a malloc'd
 * channel would not guarantee.
 *
 * A failure is final: the state becomes FAILED, keys are wiped, and every
 * later call returns an error, so no caller can go on using a channel whose
 * peer sent one bad byte.
 */
#include "dynamo/channel.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define CH_MAGIC			"DYNS"
#define CH_MAGIC_LEN		4
#define CH_HEADER_LEN		8	/* magic, version, flags, u16 reserved */
#define CH_LABEL			"dynamo-channel v1"
#define CH_SIG_CONTEXT_R	"dynamo-channel v1 responder"
#define CH_SIG_CONTEXT_I	"dynamo-channel v1 initiator"
#define CH_TAG_LEN			crypto_aead_xchacha20poly1305_ietf_ABYTES
#define CH_NONCE_LEN		crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define CH_EPH_LEN			crypto_kx_PUBLICKEYBYTES
/* The content of a handshake box: an identity key and its signature. */
#define CH_BOX_PLAIN_LEN	(DYN_KEY_PUBLIC_BYTES + crypto_sign_BYTES)
#define CH_BOX_LEN			(CH_BOX_PLAIN_LEN + CH_TAG_LEN)
#define CH_HASH_LEN			32
/* label, HELLO, RESP's clear part, two identity keys, one signature */
#define CH_TRANSCRIPT_MAX	(sizeof(CH_LABEL) + DYN_CHANNEL_HELLO_LEN + \
							 CH_HEADER_LEN + CH_EPH_LEN + 2 * DYN_KEY_PUBLIC_BYTES + \
							 crypto_sign_BYTES)
#define CH_RECORD_HEADER	4
/* An empty receive buffer larger than this is freed (see ch_process). */
#define CH_IN_KEEP			(256 * 1024)

_Static_assert(DYN_CHANNEL_HELLO_LEN == CH_HEADER_LEN + CH_EPH_LEN + 32, "HELLO layout");
_Static_assert(DYN_CHANNEL_RESP_LEN == CH_HEADER_LEN + CH_EPH_LEN + CH_BOX_LEN, "RESP layout");
_Static_assert(DYN_CHANNEL_FIN_LEN == CH_BOX_LEN, "FIN layout");
_Static_assert(crypto_kx_SESSIONKEYBYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
			   "kx session keys are AEAD keys");

/* Where the channel is in its life. */
typedef enum ch_state
{
	CH_OPEN,					/* plaintext, or handshake complete: records */
	CH_I_WAIT_RESP,				/* initiator sent HELLO */
	CH_R_WAIT_HELLO,			/* responder waits for HELLO */
	CH_R_WAIT_FIN,				/* responder sent RESP */
	CH_FAILED
} ch_state;

/* One end of one connection (see channel.h). */
struct dyn_channel
{
	dyn_channel_side side;
	bool		secure;
	ch_state	state;
	dyn_channel_error error;
	const dyn_identity *identity;	/* borrowed */
	const dyn_trust *trust;		/* borrowed */
	uint8_t		eph_pk[CH_EPH_LEN];
	uint8_t		eph_sk[crypto_kx_SECRETKEYBYTES];	/* wiped once keys are made */
	uint8_t		rx_key[crypto_kx_SESSIONKEYBYTES];
	uint8_t		tx_key[crypto_kx_SESSIONKEYBYTES];
	uint64_t	rx_count;		/* nonce of the next record to open */
	uint64_t	tx_count;		/* nonce of the next record to seal */
	uint8_t		transcript[CH_TRANSCRIPT_MAX];
	size_t		transcript_len;
	dyn_buf		hs_out;			/* handshake message waiting for seal */
	dyn_buf		in;				/* received bytes not yet processed */
	bool		have_peer;
	uint8_t		peer_pk[DYN_KEY_PUBLIC_BYTES];	/* its trust entry is looked up
												 * when asked: the trust may be
												 * reloaded meanwhile */
	char		errmsg[256];
};

static int	ch_fail(dyn_channel *ch, dyn_channel_error code, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
static void ch_wipe(dyn_channel *ch);
static void ch_transcript_add(dyn_channel *ch, const void *p, size_t n);
static void ch_transcript_hash(const dyn_channel *ch, uint8_t *out);
static void ch_signed_message(const char *context, const uint8_t *hash, uint8_t *msg,
							  size_t *msglen);
static void ch_nonce(uint64_t counter, uint8_t *nonce);
static int	ch_check_header(dyn_channel *ch, const uint8_t *p, const char *what);
static int	ch_check_magic(dyn_channel *ch, const uint8_t *p, size_t avail);
static int	ch_on_hello(dyn_channel *ch, const uint8_t *p);
static int	ch_on_resp(dyn_channel *ch, const uint8_t *p);
static int	ch_on_fin(dyn_channel *ch, const uint8_t *p);
static int	ch_open_record(dyn_channel *ch, const uint8_t *rec, size_t clen,
						   dyn_buf *plain);
static int	ch_process(dyn_channel *ch, dyn_buf *plain);


/*
 * Make a channel; an initiator's HELLO is built and queued here, so that
 * the first seal sends it.
 */
dyn_channel *
dyn_channel_new(dyn_channel_side side, const dyn_identity *identity,
				const dyn_trust *trust)
{
	dyn_channel *ch;

	if (identity != NULL && trust == NULL)
		return NULL;
	if (sodium_init() < 0)
		return NULL;
	if ((ch = calloc(1, sizeof(*ch))) == NULL)
		return NULL;
	ch->side = side;
	ch->secure = identity != NULL;
	ch->identity = identity;
	ch->trust = trust;
	dyn_buf_init(&ch->hs_out);
	dyn_buf_init(&ch->in);
	if (!ch->secure)
	{
		ch->state = CH_OPEN;
		return ch;
	}
	ch_transcript_add(ch, CH_LABEL, sizeof(CH_LABEL));
	if (side == DYN_CHANNEL_INITIATOR)
	{
		uint8_t		hello[DYN_CHANNEL_HELLO_LEN] = {0};

		crypto_kx_keypair(ch->eph_pk, ch->eph_sk);
		memcpy(hello, CH_MAGIC, CH_MAGIC_LEN);
		hello[4] = DYN_CHANNEL_VERSION;
		memcpy(hello + CH_HEADER_LEN, ch->eph_pk, CH_EPH_LEN);
		randombytes_buf(hello + CH_HEADER_LEN + CH_EPH_LEN, 32);
		ch_transcript_add(ch, hello, sizeof(hello));
		dyn_buf_append(&ch->hs_out, hello, sizeof(hello));
		if (ch->hs_out.err)
		{
			dyn_channel_free(ch);
			return NULL;
		}
		ch->state = CH_I_WAIT_RESP;
	}
	else
		ch->state = CH_R_WAIT_HELLO;
	return ch;
}

void
dyn_channel_free(dyn_channel *ch)
{
	if (ch == NULL)
		return;
	ch_wipe(ch);
	dyn_buf_free(&ch->hs_out);
	dyn_buf_free(&ch->in);
	sodium_memzero(ch, sizeof(*ch));
	free(ch);
}

/* Forget every secret the channel holds. */
static void
ch_wipe(dyn_channel *ch)
{
	sodium_memzero(ch->eph_sk, sizeof(ch->eph_sk));
	sodium_memzero(ch->rx_key, sizeof(ch->rx_key));
	sodium_memzero(ch->tx_key, sizeof(ch->tx_key));
}

/*
 * Kill the channel: remember why, wipe the keys, drop what was buffered.
 * Returns the status the caller passes up.
 */
static int
ch_fail(dyn_channel *ch, dyn_channel_error code, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(ch->errmsg, sizeof(ch->errmsg), fmt, ap);
	va_end(ap);
	ch->state = CH_FAILED;
	ch->error = code;
	ch_wipe(ch);
	dyn_buf_reset(&ch->hs_out);
	dyn_buf_reset(&ch->in);
	if (code == DYN_CHANNEL_E_NOMEM)
		return DYN_ERR_NOMEM;
	if (code == DYN_CHANNEL_E_TOOBIG)
		return DYN_ERR_TOOBIG;
	return DYN_ERR_PROTO;
}

bool
dyn_channel_secure(const dyn_channel *ch)
{
	return ch->secure;
}

bool
dyn_channel_established(const dyn_channel *ch)
{
	return ch->state == CH_OPEN;
}

bool
dyn_channel_awaiting_peer(const dyn_channel *ch)
{
	return ch->state == CH_I_WAIT_RESP || ch->state == CH_R_WAIT_HELLO ||
		ch->state == CH_R_WAIT_FIN;
}

bool
dyn_channel_has_output(const dyn_channel *ch)
{
	return ch->hs_out.len > 0;
}

const uint8_t *
dyn_channel_peer_key(const dyn_channel *ch)
{
	return ch->have_peer ? ch->peer_pk : NULL;
}

const dyn_trust_entry *
dyn_channel_peer(const dyn_channel *ch)
{
	return ch->have_peer ? dyn_trust_find(ch->trust, ch->peer_pk) : NULL;
}

dyn_channel_error
dyn_channel_error_code(const dyn_channel *ch)
{
	return ch->error;
}

const char *
dyn_channel_errmsg(const dyn_channel *ch)
{
	return ch->errmsg;
}

/*
 * Append handshake bytes to the transcript.  Its size is fixed by the
 * protocol, so the guard never fires; if it did, the bytes would be left
 * out, the signatures would not verify and the handshake would fail --
 * the safe way to be wrong.
 */
static void
ch_transcript_add(dyn_channel *ch, const void *p, size_t n)
{
	if (n > sizeof(ch->transcript) - ch->transcript_len)
		return;
	memcpy(ch->transcript + ch->transcript_len, p, n);
	ch->transcript_len += n;
}

static void
ch_transcript_hash(const dyn_channel *ch, uint8_t *out)
{
	crypto_generichash(out, CH_HASH_LEN, ch->transcript, ch->transcript_len, NULL, 0);
}

/*
 * What a side signs: its role's context string, then the transcript hash.
 * The context keeps a responder's signature from ever passing as an
 * initiator's, whatever the transcripts.
 */
static void
ch_signed_message(const char *context, const uint8_t *hash, uint8_t *msg, size_t *msglen)
{
	size_t		clen = strlen(context);

	memcpy(msg, context, clen);
	memcpy(msg + clen, hash, CH_HASH_LEN);
	*msglen = clen + CH_HASH_LEN;
}

/* The 24-byte nonce of record number counter. */
static void
ch_nonce(uint64_t counter, uint8_t *nonce)
{
	memset(nonce, 0, CH_NONCE_LEN);
	for (int i = 0; i < 8; i++)
		nonce[i] = (uint8_t) (counter >> (8 * i));
}

/*
 * The first bytes from the peer must be the magic.  Judged as soon as they
 * arrive (a plaintext STATUS frame is only 9 bytes, so waiting for a whole
 * HELLO would wait forever); a leading zero byte is the high byte of a
 * plaintext frame's length, which gets its own message.
 */
static int
ch_check_magic(dyn_channel *ch, const uint8_t *p, size_t avail)
{
	size_t		n = avail < CH_MAGIC_LEN ? avail : CH_MAGIC_LEN;

	if (n == 0 || memcmp(p, CH_MAGIC, n) == 0)
		return DYN_OK;
	if (p[0] == 0)
		return ch_fail(ch, DYN_CHANNEL_E_PLAINTEXT,
					   ch->side == DYN_CHANNEL_RESPONDER ?
					   "the peer sent a plaintext frame instead of a handshake "
					   "(a client without a key, or started with --insecure)" :
					   "the node answered in plaintext: it runs with --insecure "
					   "(connect to it with --insecure)");
	return ch_fail(ch, DYN_CHANNEL_E_MALFORMED,
				   "the peer sent bytes that are not a dynamo handshake");
}

/* Version and reserved bytes of HELLO and RESP. */
static int
ch_check_header(dyn_channel *ch, const uint8_t *p, const char *what)
{
	if (p[4] != DYN_CHANNEL_VERSION)
		return ch_fail(ch, DYN_CHANNEL_E_VERSION,
					   "the peer's %s is for channel version %u; this side speaks version %u",
					   what, p[4], DYN_CHANNEL_VERSION);
	if (p[5] != 0 || p[6] != 0 || p[7] != 0)
		return ch_fail(ch, DYN_CHANNEL_E_MALFORMED,
					   "the peer's %s has unknown flags", what);
	return DYN_OK;
}

/*
 * Responder, on HELLO: make an ephemeral key pair and the session keys, sign
 * the transcript, and queue RESP with the identity and signature boxed under
 * the new responder-to-initiator key.
 */
static int
ch_on_hello(dyn_channel *ch, const uint8_t *p)
{
	uint8_t		resp[DYN_CHANNEL_RESP_LEN] = {0};
	uint8_t		box[CH_BOX_PLAIN_LEN];
	uint8_t		hash[CH_HASH_LEN];
	uint8_t		msg[64 + CH_HASH_LEN];
	uint8_t		nonce[CH_NONCE_LEN];
	size_t		msglen;
	int			rc;

	if ((rc = ch_check_header(ch, p, "hello")) != DYN_OK)
		return rc;
	ch_transcript_add(ch, p, DYN_CHANNEL_HELLO_LEN);
	crypto_kx_keypair(ch->eph_pk, ch->eph_sk);
	if (crypto_kx_server_session_keys(ch->rx_key, ch->tx_key, ch->eph_pk, ch->eph_sk,
									  p + CH_HEADER_LEN) != 0)
		return ch_fail(ch, DYN_CHANNEL_E_MALFORMED,
					   "the peer's ephemeral key is not a valid X25519 key");
	sodium_memzero(ch->eph_sk, sizeof(ch->eph_sk));

	memcpy(resp, CH_MAGIC, CH_MAGIC_LEN);
	resp[4] = DYN_CHANNEL_VERSION;
	memcpy(resp + CH_HEADER_LEN, ch->eph_pk, CH_EPH_LEN);
	ch_transcript_add(ch, resp, CH_HEADER_LEN + CH_EPH_LEN);
	ch_transcript_add(ch, ch->identity->pk, DYN_KEY_PUBLIC_BYTES);
	ch_transcript_hash(ch, hash);
	ch_signed_message(CH_SIG_CONTEXT_R, hash, msg, &msglen);
	memcpy(box, ch->identity->pk, DYN_KEY_PUBLIC_BYTES);
	crypto_sign_detached(box + DYN_KEY_PUBLIC_BYTES, NULL, msg, msglen, ch->identity->sk);
	ch_transcript_add(ch, box + DYN_KEY_PUBLIC_BYTES, crypto_sign_BYTES);
	ch_nonce(0, nonce);
	crypto_aead_xchacha20poly1305_ietf_encrypt(resp + CH_HEADER_LEN + CH_EPH_LEN, NULL,
											   box, sizeof(box), NULL, 0, NULL,
											   nonce, ch->tx_key);
	dyn_buf_append(&ch->hs_out, resp, sizeof(resp));
	if (ch->hs_out.err)
		return ch_fail(ch, DYN_CHANNEL_E_NOMEM, "out of memory");
	ch->state = CH_R_WAIT_FIN;
	return DYN_OK;
}

/*
 * Initiator, on RESP: make the session keys, open the box, check the
 * signature and that the key is a trusted node; then sign the whole
 * transcript and queue FIN.  The channel is established from here on: the
 * initiator may send records right behind FIN.
 */
static int
ch_on_resp(dyn_channel *ch, const uint8_t *p)
{
	uint8_t		box[CH_BOX_PLAIN_LEN];
	uint8_t		fin[DYN_CHANNEL_FIN_LEN];
	uint8_t		hash[CH_HASH_LEN];
	uint8_t		msg[64 + CH_HASH_LEN];
	uint8_t		nonce[CH_NONCE_LEN];
	char		keytext[DYN_KEY_TEXT_LEN + 1];
	size_t		msglen;
	const dyn_trust_entry *e;
	int			rc;

	if ((rc = ch_check_header(ch, p, "handshake answer")) != DYN_OK)
		return rc;
	if (crypto_kx_client_session_keys(ch->rx_key, ch->tx_key, ch->eph_pk, ch->eph_sk,
									  p + CH_HEADER_LEN) != 0)
		return ch_fail(ch, DYN_CHANNEL_E_MALFORMED,
					   "the node's ephemeral key is not a valid X25519 key");
	sodium_memzero(ch->eph_sk, sizeof(ch->eph_sk));
	ch_nonce(0, nonce);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(box, NULL, NULL,
												   p + CH_HEADER_LEN + CH_EPH_LEN,
												   CH_BOX_LEN, NULL, 0, nonce,
												   ch->rx_key) != 0)
		return ch_fail(ch, DYN_CHANNEL_E_FORGED,
					   "the node's handshake answer failed authentication");
	ch_transcript_add(ch, p, CH_HEADER_LEN + CH_EPH_LEN);
	ch_transcript_add(ch, box, DYN_KEY_PUBLIC_BYTES);
	ch_transcript_hash(ch, hash);
	ch_signed_message(CH_SIG_CONTEXT_R, hash, msg, &msglen);
	dyn_key_to_text(box, keytext);
	if (crypto_sign_verify_detached(box + DYN_KEY_PUBLIC_BYTES, msg, msglen, box) != 0)
		return ch_fail(ch, DYN_CHANNEL_E_SIGNATURE,
					   "the node's handshake signature (key %s) does not verify", keytext);
	e = dyn_trust_find(ch->trust, box);
	if (e == NULL)
		return ch_fail(ch, DYN_CHANNEL_E_UNTRUSTED,
					   "the node's key %s is not in the trust file", keytext);
	if (e->role != DYN_ROLE_NODE)
		return ch_fail(ch, DYN_CHANNEL_E_ROLE,
					   "the node's key %s is trusted as %s \"%s\", not as a node",
					   keytext, dyn_role_name(e->role), e->name);
	memcpy(ch->peer_pk, box, DYN_KEY_PUBLIC_BYTES);
	ch->have_peer = true;

	ch_transcript_add(ch, box + DYN_KEY_PUBLIC_BYTES, crypto_sign_BYTES);
	ch_transcript_add(ch, ch->identity->pk, DYN_KEY_PUBLIC_BYTES);
	ch_transcript_hash(ch, hash);
	ch_signed_message(CH_SIG_CONTEXT_I, hash, msg, &msglen);
	memcpy(box, ch->identity->pk, DYN_KEY_PUBLIC_BYTES);
	crypto_sign_detached(box + DYN_KEY_PUBLIC_BYTES, NULL, msg, msglen, ch->identity->sk);
	crypto_aead_xchacha20poly1305_ietf_encrypt(fin, NULL, box, sizeof(box), NULL, 0, NULL,
											   nonce, ch->tx_key);
	dyn_buf_append(&ch->hs_out, fin, sizeof(fin));
	if (ch->hs_out.err)
		return ch_fail(ch, DYN_CHANNEL_E_NOMEM, "out of memory");
	ch->rx_count = 1;
	ch->tx_count = 1;
	ch->state = CH_OPEN;
	return DYN_OK;
}

/*
 * Responder, on FIN: open the box and check the initiator's signature over
 * the whole transcript.  Whether the key is trusted, and as what, is the
 * caller's to act on (dyn_channel_peer).
 */
static int
ch_on_fin(dyn_channel *ch, const uint8_t *p)
{
	uint8_t		box[CH_BOX_PLAIN_LEN];
	uint8_t		hash[CH_HASH_LEN];
	uint8_t		msg[64 + CH_HASH_LEN];
	uint8_t		nonce[CH_NONCE_LEN];
	char		keytext[DYN_KEY_TEXT_LEN + 1];
	size_t		msglen;

	ch_nonce(0, nonce);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(box, NULL, NULL, p, CH_BOX_LEN,
												   NULL, 0, nonce, ch->rx_key) != 0)
		return ch_fail(ch, DYN_CHANNEL_E_FORGED,
					   "the client's handshake failed authentication "
					   "(modified in transit, or replayed from another session)");
	ch_transcript_add(ch, box, DYN_KEY_PUBLIC_BYTES);
	ch_transcript_hash(ch, hash);
	ch_signed_message(CH_SIG_CONTEXT_I, hash, msg, &msglen);
	dyn_key_to_text(box, keytext);
	if (crypto_sign_verify_detached(box + DYN_KEY_PUBLIC_BYTES, msg, msglen, box) != 0)
		return ch_fail(ch, DYN_CHANNEL_E_SIGNATURE,
					   "the client's handshake signature (key %s) does not verify", keytext);
	memcpy(ch->peer_pk, box, DYN_KEY_PUBLIC_BYTES);
	ch->have_peer = true;
	ch->rx_count = 1;
	ch->tx_count = 1;
	ch->state = CH_OPEN;
	return DYN_OK;
}

/* Open one record (clen bytes after its header) into plain. */
static int
ch_open_record(dyn_channel *ch, const uint8_t *rec, size_t clen, dyn_buf *plain)
{
	uint8_t		nonce[CH_NONCE_LEN];
	unsigned long long mlen = 0;

	if (ch->rx_count == UINT64_MAX)
		return ch_fail(ch, DYN_CHANNEL_E_EXHAUSTED, "record counter exhausted");
	if (dyn_buf_reserve(plain, clen - CH_TAG_LEN) != DYN_OK)
		return ch_fail(ch, DYN_CHANNEL_E_NOMEM, "out of memory");
	ch_nonce(ch->rx_count, nonce);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain->data + plain->len, &mlen, NULL,
												   rec + CH_RECORD_HEADER, clen,
												   rec, CH_RECORD_HEADER, nonce,
												   ch->rx_key) != 0)
		return ch_fail(ch, DYN_CHANNEL_E_FORGED,
					   "record %llu failed authentication (modified, replayed, "
					   "reordered or dropped bytes)", (unsigned long long) ch->rx_count);
	plain->len += (size_t) mlen;
	ch->rx_count++;
	return DYN_OK;
}

/*
 * Run every whole handshake message and record in the input buffer, then
 * drop what was used (one move per call, not per record).
 */
static int
ch_process(dyn_channel *ch, dyn_buf *plain)
{
	size_t		off = 0;
	int			rc = DYN_OK;

	while (rc == DYN_OK)
	{
		const uint8_t *p = ch->in.data + off;
		size_t		avail = ch->in.len - off;

		if (ch->state == CH_R_WAIT_HELLO)
		{
			if ((rc = ch_check_magic(ch, p, avail)) != DYN_OK || avail < DYN_CHANNEL_HELLO_LEN)
				break;
			rc = ch_on_hello(ch, p);
			off += DYN_CHANNEL_HELLO_LEN;
		}
		else if (ch->state == CH_I_WAIT_RESP)
		{
			if ((rc = ch_check_magic(ch, p, avail)) != DYN_OK || avail < DYN_CHANNEL_RESP_LEN)
				break;
			rc = ch_on_resp(ch, p);
			off += DYN_CHANNEL_RESP_LEN;
		}
		else if (ch->state == CH_R_WAIT_FIN)
		{
			if (avail < DYN_CHANNEL_FIN_LEN)
				break;
			rc = ch_on_fin(ch, p);
			off += DYN_CHANNEL_FIN_LEN;
		}
		else
		{
			uint32_t	clen;

			if (avail < CH_RECORD_HEADER)
				break;
			clen = ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
				((uint32_t) p[2] << 8) | (uint32_t) p[3];
			if (clen <= CH_TAG_LEN)
				rc = ch_fail(ch, DYN_CHANNEL_E_MALFORMED,
							 "a record of %u bytes is shorter than its tag", clen);
			else if (clen > DYN_CHANNEL_RECORD_MAX + CH_TAG_LEN)
				rc = ch_fail(ch, DYN_CHANNEL_E_TOOBIG,
							 "a record of %u bytes exceeds the maximum of %u", clen,
							 (unsigned) (DYN_CHANNEL_RECORD_MAX + CH_TAG_LEN));
			else if (avail < CH_RECORD_HEADER + (size_t) clen)
				break;
			else
			{
				rc = ch_open_record(ch, p, clen, plain);
				off += CH_RECORD_HEADER + clen;
			}
		}
	}
	if (ch->state != CH_FAILED)
		dyn_buf_consume(&ch->in, off);
	/* a burst of large records grew the buffer: give the memory back */
	if (ch->in.len == 0 && ch->in.cap > CH_IN_KEEP)
		dyn_buf_free(&ch->in);
	return rc;
}

/* Room for received bytes: the caller's plaintext buffer, or ours. */
int
dyn_channel_recv_buf(dyn_channel *ch, dyn_buf *plain, size_t want,
					 uint8_t **p, size_t *room)
{
	dyn_buf    *b = ch->secure ? &ch->in : plain;

	if (dyn_buf_reserve(b, want) != DYN_OK)
		return DYN_ERR_NOMEM;
	*p = b->data + b->len;
	*room = b->cap - b->len;
	return DYN_OK;
}

size_t
dyn_channel_recv_room(const dyn_channel *ch, const dyn_buf *plain)
{
	const dyn_buf *b = ch->secure ? &ch->in : plain;

	return b->err ? 0 : b->cap - b->len;
}

size_t
dyn_channel_recv_held(const dyn_channel *ch)
{
	return ch->in.cap;
}

size_t
dyn_channel_recv_pending(const dyn_channel *ch)
{
	return ch->in.len;
}

int
dyn_channel_recv_done(dyn_channel *ch, dyn_buf *plain, size_t n)
{
	if (ch->state == CH_FAILED)
		return DYN_ERR_PROTO;
	if (!ch->secure)
	{
		plain->len += n;
		return DYN_OK;
	}
	ch->in.len += n;
	return ch_process(ch, plain);
}

/* Copy bytes in and process them (tests, and callers without a read buffer). */
int
dyn_channel_recv(dyn_channel *ch, const uint8_t *data, size_t len, dyn_buf *plain)
{
	uint8_t    *p;
	size_t		room;

	if (ch->state == CH_FAILED)
		return DYN_ERR_PROTO;
	if (len == 0)
		return DYN_OK;
	if (dyn_channel_recv_buf(ch, plain, len, &p, &room) != DYN_OK)
		return ch->secure ? ch_fail(ch, DYN_CHANNEL_E_NOMEM, "out of memory") : DYN_ERR_NOMEM;
	memcpy(p, data, len);
	return dyn_channel_recv_done(ch, plain, len);
}

/* A close is clean only between records of an established channel. */
int
dyn_channel_eof(dyn_channel *ch)
{
	if (!ch->secure)
		return DYN_OK;
	if (ch->state == CH_FAILED)
		return DYN_ERR_PROTO;
	if (ch->state != CH_OPEN)
		return ch_fail(ch, DYN_CHANNEL_E_TRUNCATED,
					   "the peer closed the connection during the handshake");
	if (ch->in.len > 0)
		return ch_fail(ch, DYN_CHANNEL_E_TRUNCATED,
					   "the peer closed the connection in the middle of a record");
	return DYN_OK;
}

/*
 * Emit the pending handshake message, then plain as records of at most
 * DYN_CHANNEL_RECORD_MAX bytes, encrypted straight into wire.
 */
int
dyn_channel_seal(dyn_channel *ch, dyn_buf *plain, dyn_buf *wire)
{
	size_t		off = 0;

	if (ch->state == CH_FAILED)
		return DYN_ERR_PROTO;
	if (plain->err || wire->err)
		return DYN_ERR_NOMEM;
	if (ch->hs_out.len > 0)
	{
		dyn_buf_append(wire, ch->hs_out.data, ch->hs_out.len);
		if (wire->err)
			return DYN_ERR_NOMEM;
		dyn_buf_reset(&ch->hs_out);
	}
	if (ch->state != CH_OPEN || plain->len == 0)
		return DYN_OK;
	if (!ch->secure)
	{
		if (wire->len == 0)
		{
			dyn_buf		tmp = *wire;

			*wire = *plain;
			*plain = tmp;
		}
		else
		{
			dyn_buf_append(wire, plain->data, plain->len);
			if (wire->err)
				return DYN_ERR_NOMEM;
		}
		dyn_buf_reset(plain);
		return DYN_OK;
	}
	while (off < plain->len)
	{
		size_t		n = plain->len - off;
		uint8_t		nonce[CH_NONCE_LEN];
		uint8_t    *rec;
		uint32_t	clen;

		if (n > DYN_CHANNEL_RECORD_MAX)
			n = DYN_CHANNEL_RECORD_MAX;
		if (ch->tx_count == UINT64_MAX)
			return ch_fail(ch, DYN_CHANNEL_E_EXHAUSTED, "record counter exhausted");
		if (dyn_buf_reserve(wire, CH_RECORD_HEADER + n + CH_TAG_LEN) != DYN_OK)
			return DYN_ERR_NOMEM;
		rec = wire->data + wire->len;
		clen = (uint32_t) (n + CH_TAG_LEN);
		rec[0] = (uint8_t) (clen >> 24);
		rec[1] = (uint8_t) (clen >> 16);
		rec[2] = (uint8_t) (clen >> 8);
		rec[3] = (uint8_t) clen;
		ch_nonce(ch->tx_count++, nonce);
		crypto_aead_xchacha20poly1305_ietf_encrypt(rec + CH_RECORD_HEADER, NULL,
												   plain->data + off, n, rec,
												   CH_RECORD_HEADER, NULL, nonce,
												   ch->tx_key);
		wire->len += CH_RECORD_HEADER + clen;
		off += n;
	}
	dyn_buf_reset(plain);
	return DYN_OK;
}
