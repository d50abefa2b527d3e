/*
 * channel.h
 *		The secure channel under every dynamo connection: a mutually
 *		authenticated handshake, then encrypted records.  One implementation
 *		for nodes (both ends of node-to-node links), the tools and the FDW.
 *
 * A dyn_channel is a state machine with no socket inside: the caller puts
 * received bytes in (dyn_channel_recv_buf + dyn_channel_recv_done, or
 * dyn_channel_recv) and gets plaintext out in its own buffer; it appends
 * plaintext frames to a buffer of its own and dyn_channel_seal turns them
 * (and any handshake message due) into bytes to send.  So libuv in the node,
 * poll in the tools and WaitLatchOrSocket in the FDW all drive the same
 * code.  A plaintext channel (no identity: --insecure) has the same
 * interface and passes bytes through, so callers have one code path.
 *
 * The handshake (version 1), initiator I (who connected) and responder R:
 *
 *	 I -> R  HELLO  "DYNS" | u8 version=1 | u8 flags=0 | u16 0 |
 *					I's ephemeral X25519 public key (32) | 32 random bytes
 *	 R -> I  RESP   "DYNS" | u8 version | u8 flags=0 | u16 0 |
 *					R's ephemeral public key (32) |
 *					seal_R->I#0( R's Ed25519 public key (32) | sig_R (64) )
 *	 I -> R  FIN    seal_I->R#0( I's Ed25519 public key (32) | sig_I (64) )
 *
 * Both sides compute session keys from the two ephemeral keys with
 * crypto_kx_client_session_keys (I) and crypto_kx_server_session_keys (R):
 * one key per direction.  T is the transcript: BLAKE2b-256
 * (crypto_generichash) over the protocol label "dynamo-channel v1", HELLO,
 * the 40 clear bytes of RESP and R's identity key; sig_R is R's Ed25519
 * signature of "dynamo-channel v1 responder" | T.  T' continues T with sig_R
 * and I's identity key; sig_I signs "dynamo-channel v1 initiator" | T'.
 * So each side signs every handshake byte before its signature, including
 * both fresh ephemeral keys and the label and version.
 *
 * Identities travel inside AEAD boxes under the session keys (as in SIGMA-I):
 * a passive observer learns neither, and nobody without the ephemeral
 * secrets can swap in another identity with its own signature (identity
 * misbinding), since the box would not open.  I checks that R's key is in
 * its trust file with role node; R looks I's key up in its trust file and
 * reports the entry (or none) to its caller, whose per-message role table
 * (identity.h) decides what I may do -- so a node can tell an unknown client
 * why it is refused, over the channel, instead of just hanging up.
 *
 * Records, after the handshake, in each direction:
 *
 *		u32 n (big-endian) | ciphertext of n - 16 bytes | 16-byte tag
 *
 * sealed with crypto_aead_xchacha20poly1305_ietf, the 4 length bytes as
 * additional data, and as nonce the direction's record counter (u64 little-
 * endian in the first 8 of the 24 nonce bytes, the rest zero).  The counter
 * is never sent: both ends count, the handshake boxes use 0 and records start
 * at 1, so a record dropped, replayed, reordered or sent twice with one
 * counter fails authentication.  A record carries any number of plaintext
 * bytes (up to DYN_CHANNEL_RECORD_MAX; frames may span records): a whole
 * burst of pipelined frames is sealed as one record.
 *
 * Properties: mutual authentication against trust files; forward secrecy
 * (the session keys come from ephemeral keys wiped after the handshake; the
 * long-term keys only sign); a recorded session replayed to a node fails,
 * because the node's fresh ephemeral key gives new session keys and FIN's
 * box no longer opens; any modified, dropped or inserted byte fails a tag
 * and the channel is dead from then on (the caller closes the connection).
 * Only libsodium primitives are used; nothing cryptographic is hand-written.
 *
 * Memory: the channel owns its handshake state and its buffer of received
 * bytes not yet opened; the caller owns plaintext and wire buffers.  Nothing
 * is allocated per record once the buffers have grown to the traffic, except
 * that a receive buffer grown past 256 KiB by large records is freed when it
 * empties (a node holding thousands of connections must not keep a record's
 * worth of memory for each one that once sent a large value).
 */
#ifndef DYNAMO_CHANNEL_H
#define DYNAMO_CHANNEL_H

#include "dynamo/buf.h"
#include "dynamo/identity.h"

/* Largest plaintext in one record; bigger bursts are split. */
#define DYN_CHANNEL_RECORD_MAX	(1024 * 1024)
#define DYN_CHANNEL_VERSION		1
/* Bytes of the handshake messages of version 1. */
#define DYN_CHANNEL_HELLO_LEN	72
#define DYN_CHANNEL_RESP_LEN	152
#define DYN_CHANNEL_FIN_LEN		112

/* Which end of the connection a channel is. */
typedef enum dyn_channel_side
{
	DYN_CHANNEL_INITIATOR,		/* connected: the client, or a node calling another */
	DYN_CHANNEL_RESPONDER		/* accepted: the node */
} dyn_channel_side;

/* Why a channel failed (dyn_channel_error); every failure is final. */
typedef enum dyn_channel_error
{
	DYN_CHANNEL_OK = 0,
	DYN_CHANNEL_E_MALFORMED,	/* bytes that are not this protocol */
	DYN_CHANNEL_E_PLAINTEXT,	/* the peer speaks plaintext frames (--insecure) */
	DYN_CHANNEL_E_VERSION,		/* another version of the handshake */
	DYN_CHANNEL_E_FORGED,		/* a box or record failed authentication */
	DYN_CHANNEL_E_SIGNATURE,	/* a handshake signature did not verify */
	DYN_CHANNEL_E_UNTRUSTED,	/* (initiator) the node's key is not trusted */
	DYN_CHANNEL_E_ROLE,			/* (initiator) the key is trusted, but not as a node */
	DYN_CHANNEL_E_TOOBIG,		/* a record longer than DYN_CHANNEL_RECORD_MAX */
	DYN_CHANNEL_E_TRUNCATED,	/* the peer closed inside a handshake or record */
	DYN_CHANNEL_E_EXHAUSTED,	/* 2^64 records: start a new connection */
	DYN_CHANNEL_E_NOMEM
} dyn_channel_error;

typedef struct dyn_channel dyn_channel;

/*
 * A new channel.  identity NULL makes a plaintext channel (established at
 * once, bytes pass through); otherwise trust must be given, and both must
 * outlive the channel (they are borrowed, not copied).  An initiator has its
 * HELLO queued already: the first dyn_channel_seal emits it.  NULL when out
 * of memory or when libsodium cannot start.
 */
dyn_channel *dyn_channel_new(dyn_channel_side side, const dyn_identity *identity,
							 const dyn_trust *trust);
/* Wipe the keys and free; NULL is allowed. */
void		dyn_channel_free(dyn_channel *ch);

/* Whether this channel authenticates and encrypts (false: plaintext). */
bool		dyn_channel_secure(const dyn_channel *ch);
/* Whether the handshake is complete (always true for plaintext). */
bool		dyn_channel_established(const dyn_channel *ch);
/* Whether the channel is waiting for the peer's next handshake message. */
bool		dyn_channel_awaiting_peer(const dyn_channel *ch);

/*
 * Where to put the next received bytes: *p, with *room >= want bytes free.
 * plain is the caller's plaintext buffer: a plaintext channel hands out its
 * tail, so bytes land where the caller reads them with no copy; a secure
 * channel hands out its own buffer.  DYN_OK or DYN_ERR_NOMEM.
 */
int			dyn_channel_recv_buf(dyn_channel *ch, dyn_buf *plain, size_t want,
								 uint8_t **p, size_t *room);

/*
 * Bytes free where dyn_channel_recv_buf would put received bytes, without
 * growing any buffer (a caller bounding its memory asks for no more).
 */
size_t		dyn_channel_recv_room(const dyn_channel *ch, const dyn_buf *plain);
/*
 * Bytes the channel's own buffer of received, unopened bytes holds (0 for
 * plaintext): at most a record plus one read; freed when it empties after
 * growing past a few hundred KiB.
 */
size_t		dyn_channel_recv_held(const dyn_channel *ch);
/* Bytes received and not yet opened (part of a record; 0 for plaintext). */
size_t		dyn_channel_recv_pending(const dyn_channel *ch);

/*
 * n bytes were written where dyn_channel_recv_buf said: run the handshake
 * as far as they allow and append the plaintext of every whole record to
 * plain.  DYN_OK (possibly with more bytes needed), or DYN_ERR_PROTO /
 * DYN_ERR_TOOBIG / DYN_ERR_NOMEM after which the channel is dead (see
 * dyn_channel_error and dyn_channel_errmsg).  Plaintext appended before a
 * bad record stays in plain: it was authentic.
 */
int			dyn_channel_recv_done(dyn_channel *ch, dyn_buf *plain, size_t n);

/* Both steps for bytes already in memory (copies them). */
int			dyn_channel_recv(dyn_channel *ch, const uint8_t *data, size_t len,
							 dyn_buf *plain);

/*
 * The peer closed the connection: DYN_OK if that was at a record boundary
 * after the handshake, else DYN_ERR_PROTO with DYN_CHANNEL_E_TRUNCATED.
 */
int			dyn_channel_eof(dyn_channel *ch);

/*
 * Append to wire the handshake message due, if any, then -- once the
 * handshake is complete -- all of plain as records, and empty plain.  Until
 * then plain is left alone (requests queued early wait for the handshake).
 * A plaintext channel moves plain to wire (swapping the two buffers when
 * wire is empty, so nothing is copied).  DYN_OK, DYN_ERR_NOMEM, or
 * DYN_ERR_PROTO on a dead channel.
 */
int			dyn_channel_seal(dyn_channel *ch, dyn_buf *plain, dyn_buf *wire);

/* Whether dyn_channel_seal has a handshake message to emit. */
bool		dyn_channel_has_output(const dyn_channel *ch);

/*
 * The peer's identity once established (secure channels only): its public
 * key (NULL before), and its trust entry (NULL when the key is not in the
 * trust file, which only a responder accepts).  The entry is looked up in
 * the trust as it is now, so a caller that reloads the trust file in place
 * gets the new entry (or none); the pointer is valid until that reload.
 */
const uint8_t *dyn_channel_peer_key(const dyn_channel *ch);
const dyn_trust_entry *dyn_channel_peer(const dyn_channel *ch);

/* Why the channel failed (DYN_CHANNEL_OK while it has not), and a message. */
dyn_channel_error dyn_channel_error_code(const dyn_channel *ch);
const char *dyn_channel_errmsg(const dyn_channel *ch);

#endif							/* DYNAMO_CHANNEL_H */
