/*
 * fuzz_keys.c
 *		Key and trust files (identity.c, keytext.c).  The first input byte
 *		picks the parser, the rest is the text:
 *		0  a secret key as text (dyn_identity_from_text: the FDW's option),
 *		1  a key file on disk (dyn_identity_load, through a 0600 file),
 *		2  a trust file's text (dyn_trust_parse),
 *		3  a public key (dyn_key_from_text).
 *		What is accepted must be the canonical spelling of what it decodes
 *		to (the key line re-encoded appears in the text), a secret key's
 *		halves must agree, and a trust list must be sorted, unique and
 *		findable.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "dynamo/identity.h"
#include "dynamo/keytext.h"

#include "fuzz.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_identity(const dyn_identity *id, dyn_slice text);
static bool contains(dyn_slice text, const char *needle);

/* Whether needle occurs in text. */
static bool
contains(dyn_slice text, const char *needle)
{
	size_t		n = strlen(needle);

	for (size_t i = 0; i + n <= text.len; i++)
		if (memcmp(text.ptr + i, needle, n) == 0)
			return true;
	return false;
}

/* An accepted secret key: its seed makes it, and the text spells it canonically. */
static void
check_identity(const dyn_identity *id, dyn_slice text)
{
	uint8_t		pk[DYN_KEY_PUBLIC_BYTES];
	uint8_t		sk[DYN_KEY_SECRET_BYTES];
	char		line[DYN_KEY_SECRET_TEXT_LEN + 1];

	crypto_sign_seed_keypair(pk, sk, id->sk);
	FUZZ_CHECK(memcmp(pk, id->pk, sizeof(pk)) == 0 && memcmp(sk, id->sk, sizeof(sk)) == 0,
			   "a key whose halves disagree");
	sodium_bin2base64(line, sizeof(line), id->sk, sizeof(id->sk),
					  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	FUZZ_CHECK(contains(text, line), "accepted a key line that is not canonical");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_in		in = {data, size};
	uint8_t		mode = fuzz_u8(&in) % 4;
	dyn_slice	text = fuzz_bytes(&in, in.n);
	dyn_identity id;
	char		err[512];

	if (sodium_init() < 0)
		abort();
	if (mode == 0)
	{
		if (dyn_identity_from_text(&id, (const char *) text.ptr, text.len, err,
								   sizeof(err)) == DYN_OK)
			check_identity(&id, text);
	}
	else if (mode == 1)
	{
		static char path[256];
		int			fd;

		if (path[0] == '\0')
		{
			const char *tmp = getenv("TMPDIR");

			snprintf(path, sizeof(path), "%s/dynamo-fuzz-key.%d", tmp && *tmp ? tmp : "/tmp",
					 (int) getpid());
		}
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		FUZZ_CHECK(fd >= 0, "cannot write %s", path);
		FUZZ_CHECK(text.len == 0 || write(fd, text.ptr, text.len) == (ssize_t) text.len,
				   "short write");
		close(fd);
		if (dyn_identity_load(&id, path, err, sizeof(err)) == DYN_OK)
			check_identity(&id, text);
		unlink(path);
	}
	else if (mode == 2)
	{
		dyn_trust	t;

		dyn_trust_init(&t);
		if (dyn_trust_parse(&t, "fuzz", (const char *) text.ptr, text.len, err,
							sizeof(err)) == DYN_OK)
		{
			for (size_t i = 0; i < t.n; i++)
			{
				char		key[DYN_KEY_TEXT_LEN + 1];

				dyn_key_to_text(t.entries[i].pk, key);
				FUZZ_CHECK(contains(text, key), "accepted a key that is not canonical");
				FUZZ_CHECK(i == 0 || memcmp(t.entries[i - 1].pk, t.entries[i].pk,
											DYN_KEY_PUBLIC_BYTES) < 0,
						   "trust list not sorted or not unique");
				FUZZ_CHECK(dyn_trust_find(&t, t.entries[i].pk) == &t.entries[i],
						   "an entry cannot be found");
			}
		}
		else
			FUZZ_CHECK(t.n == 0, "a refused trust file left entries");
		dyn_trust_free(&t);
	}
	else
	{
		uint8_t		pk[DYN_KEY_PUBLIC_BYTES];
		char		again[DYN_KEY_TEXT_LEN + 1];

		if (dyn_key_from_text((const char *) text.ptr, text.len, pk) == DYN_OK)
		{
			dyn_key_to_text(pk, again);
			FUZZ_CHECK(text.len == DYN_KEY_TEXT_LEN && memcmp(again, text.ptr, text.len) == 0,
					   "accepted a public key that is not canonical");
		}
	}
	dyn_identity_clear(&id);
	return 0;
}
