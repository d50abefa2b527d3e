/*
 * keytext.h
 *		A secret key given as text rather than as a file: for clients that
 *		keep their key somewhere else than a key file (the FDW's user-mapping
 *		option "key").
 *
 * The text is either the whole content of a key file (identity.h: the
 * format tag line, the secret key line, comments) or the secret key line
 * alone (86 characters of URL-safe base64 of the 64-byte Ed25519 secret
 * key).  Like dyn_identity_load, the public half stored in the secret key
 * must match the one its seed makes.  Error messages never quote the text:
 * it is a secret.
 */
#ifndef DYNAMO_KEYTEXT_H
#define DYNAMO_KEYTEXT_H

#include "dynamo/identity.h"

/* Length of a secret key line (64 bytes in URL-safe base64, no padding). */
#define DYN_KEY_SECRET_TEXT_LEN	86

/*
 * Parse text[0..len) into id.  DYN_OK, or DYN_ERR_INVAL with err saying
 * what is wrong (no key line, two key lines, wrong length, bad base64, a
 * key whose halves disagree, an unknown format tag).  id is unchanged and
 * no copy of the secret is left behind on failure.
 */
int			dyn_identity_from_text(dyn_identity *id, const char *text, size_t len,
								   char *err, size_t errlen);

/*
 * Decode one secret key line (text[0..len), no surrounding blanks) into
 * sk, checking that the public half stored in it is the one its seed
 * makes.  Only the canonical spelling is accepted: libsodium 1.0.18's
 * decoder reads every byte from 0x80 up as '_', so the text is encoded
 * again and must come out byte for byte the same.  DYN_ERR_INVAL for a
 * wrong length or spelling, DYN_ERR_PROTO for a key whose halves disagree;
 * sk holds nothing on failure.  Shared by the key file loader
 * (dyn_identity_load) and dyn_identity_from_text.
 */
int			dyn_secret_key_from_text(const char *text, size_t len,
									 uint8_t sk[DYN_KEY_SECRET_BYTES]);

#endif							/* DYNAMO_KEYTEXT_H */
