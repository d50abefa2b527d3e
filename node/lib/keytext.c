/*
 * keytext.c
 *		Secret keys given as text (see keytext.h): the whole key file, or
 *		its secret key line alone.
 *
 * The format is identity.h's key file; the tag line, when present, must
 * be that format's, and the one non-comment line left is the key.  Every
 * intermediate copy of the secret is wiped with sodium_memzero.
 */
#include "dynamo/keytext.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

/* identity.h's key file tag (the first line of a key file). */
#define KEYTEXT_TAG			"dynamo-secret-key-v1"

static int	keytext_err(char *err, size_t errlen, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

/* Format a refusal into err (when given) and return DYN_ERR_INVAL. */
static int
keytext_err(char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	if (err != NULL && errlen > 0)
	{
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return DYN_ERR_INVAL;
}

/*
 * Walk the lines, skipping blank ones and comments; the tag line may come
 * first; exactly one key line must remain.  The key is decoded into a local
 * buffer, checked against its seed, and only then copied to id.
 */
int
dyn_identity_from_text(dyn_identity *id, const char *text, size_t len,
					   char *err, size_t errlen)
{
	const char *p = text;
	const char *end = text + len;
	const char *keyline = NULL;
	size_t		keylen = 0;
	int			lineno = 0;
	int			keylineno = 0;
	uint8_t		sk[DYN_KEY_SECRET_BYTES];
	int			rc = DYN_OK;

	if (sodium_init() < 0)
		return keytext_err(err, errlen, "libsodium could not be initialised");
	if (text == NULL)
		return keytext_err(err, errlen, "no key given");
	while (p < end)
	{
		const char *nl = memchr(p, '\n', (size_t) (end - p));
		const char *s = p;
		const char *e = nl ? nl : end;

		p = nl ? nl + 1 : end;
		lineno++;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		if (s == e || *s == '#')
			continue;
		if (keyline == NULL && (size_t) (e - s) == strlen(KEYTEXT_TAG) &&
			memcmp(s, KEYTEXT_TAG, strlen(KEYTEXT_TAG)) == 0)
			continue;
		if (keyline != NULL)
			return keytext_err(err, errlen,
							   "line %d: more than one key line (give one secret key)",
							   lineno);
		if ((size_t) (e - s) > 8 && memcmp(s, "dynamo-", 7) == 0)
			return keytext_err(err, errlen, "line %d: unknown key format tag (expected \"%s\")",
							   lineno, KEYTEXT_TAG);
		keyline = s;
		keylen = (size_t) (e - s);
		keylineno = lineno;
	}
	if (keyline == NULL)
		return keytext_err(err, errlen, "no secret key line (give the key file's second "
						   "line, or the whole file)");
	rc = dyn_secret_key_from_text(keyline, keylen, sk);
	if (rc == DYN_ERR_INVAL)
		rc = keytext_err(err, errlen, "line %d: the secret key is not %d characters of "
						 "URL-safe base64", keylineno, DYN_KEY_SECRET_TEXT_LEN);
	else if (rc != DYN_OK)
		rc = keytext_err(err, errlen, "line %d: the secret key is corrupt (its public "
						 "half does not match its seed)", keylineno);
	else
	{
		memcpy(id->pk, sk + DYN_KEY_SECRET_BYTES - DYN_KEY_PUBLIC_BYTES, DYN_KEY_PUBLIC_BYTES);
		memcpy(id->sk, sk, sizeof(sk));
	}
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

/*
 * One secret key line (see keytext.h).  Every intermediate copy of the
 * secret (the decoded bytes, the seed's keypair, the text encoded again)
 * is wiped before returning.
 */
int
dyn_secret_key_from_text(const char *text, size_t len, uint8_t sk[DYN_KEY_SECRET_BYTES])
{
	uint8_t		bin[DYN_KEY_SECRET_BYTES];
	uint8_t		pk[DYN_KEY_PUBLIC_BYTES];
	uint8_t		check[DYN_KEY_SECRET_BYTES];
	char		again[DYN_KEY_SECRET_TEXT_LEN + 1];
	size_t		binlen = 0;
	const char *end = NULL;
	int			rc = DYN_OK;

	if (len != DYN_KEY_SECRET_TEXT_LEN ||
		sodium_base642bin(bin, sizeof(bin), text, len, NULL, &binlen, &end,
						  sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
		binlen != sizeof(bin) || end != text + len)
		rc = DYN_ERR_INVAL;
	else
	{
		sodium_bin2base64(again, sizeof(again), bin, sizeof(bin),
						  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		if (memcmp(again, text, len) != 0)
			rc = DYN_ERR_INVAL;
		else
		{
			crypto_sign_seed_keypair(pk, check, bin);
			if (sodium_memcmp(check, bin, sizeof(bin)) != 0)
				rc = DYN_ERR_PROTO;
			else
				memcpy(sk, bin, sizeof(bin));
		}
	}
	sodium_memzero(bin, sizeof(bin));
	sodium_memzero(check, sizeof(check));
	sodium_memzero(again, sizeof(again));
	return rc;
}
