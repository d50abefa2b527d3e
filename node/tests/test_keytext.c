/*
 * test_keytext.c
 *		Unit tests for keytext.c: a secret key given as the whole key file
 *		or as its key line reads back as the same identity as the file does;
 *		malformed, corrupt and ambiguous texts are refused, and no refusal
 *		quotes the secret.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>

#include "dynamo/keytext.h"

/* A fresh key, its file text (as dyn_identity_save writes it) and key line. */
typedef struct keyfix
{
	dyn_identity id;
	char		file[4096];
	char		line[DYN_KEY_SECRET_TEXT_LEN + 1];
} keyfix;

static void make_key(keyfix *k);
static void expect_refused(const char *text, const char *needle, const char *secret);

/* Save a new key with dyn_identity_save and read the file back as text. */
static void
make_key(keyfix *k)
{
	char		dir[256];
	char		path[300];
	char		err[256];
	FILE	   *fp;
	size_t		n;
	const char *tmp = getenv("TMPDIR");
	char	   *nl;

	snprintf(dir, sizeof(dir), "%s/test_keytext.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k.key", dir);
	assert_int_equal(dyn_identity_generate(&k->id), DYN_OK);
	assert_int_equal(dyn_identity_save(&k->id, path, err, sizeof(err)), DYN_OK);
	fp = fopen(path, "r");
	assert_non_null(fp);
	n = fread(k->file, 1, sizeof(k->file) - 1, fp);
	fclose(fp);
	k->file[n] = '\0';
	unlink(path);
	rmdir(dir);
	/* the second line is the key */
	nl = strchr(k->file, '\n');
	assert_non_null(nl);
	memcpy(k->line, nl + 1, DYN_KEY_SECRET_TEXT_LEN);
	k->line[DYN_KEY_SECRET_TEXT_LEN] = '\0';
	assert_int_equal(nl[1 + DYN_KEY_SECRET_TEXT_LEN], '\n');
}

/* The text is refused with a message containing needle and not the secret. */
static void
expect_refused(const char *text, const char *needle, const char *secret)
{
	dyn_identity id;
	char		err[256] = "";

	memset(&id, 0x5a, sizeof(id));
	assert_int_equal(dyn_identity_from_text(&id, text, strlen(text), err, sizeof(err)),
					 DYN_ERR_INVAL);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
	if (secret != NULL && strstr(err, secret) != NULL)
		fail_msg("error \"%s\" quotes the secret", err);
	/* id untouched */
	for (size_t i = 0; i < sizeof(id); i++)
		assert_int_equal(((uint8_t *) &id)[i], 0x5a);
}

/* The whole file and the key line alone give the identity that was saved. */
static void
test_file_and_line(void **state)
{
	keyfix		k;
	dyn_identity a;
	dyn_identity b;
	char		err[256];
	char		padded[512];

	(void) state;
	make_key(&k);
	assert_int_equal(dyn_identity_from_text(&a, k.file, strlen(k.file), err, sizeof(err)),
					 DYN_OK);
	assert_memory_equal(a.pk, k.id.pk, sizeof(a.pk));
	assert_memory_equal(a.sk, k.id.sk, sizeof(a.sk));
	assert_int_equal(dyn_identity_from_text(&b, k.line, strlen(k.line), err, sizeof(err)),
					 DYN_OK);
	assert_memory_equal(b.pk, k.id.pk, sizeof(b.pk));
	assert_memory_equal(b.sk, k.id.sk, sizeof(b.sk));
	/* blanks around it, CRLF line ends and a comment are fine */
	snprintf(padded, sizeof(padded), "\r\n# my key\r\n   %s  \r\n\n", k.line);
	assert_int_equal(dyn_identity_from_text(&b, padded, strlen(padded), err, sizeof(err)),
					 DYN_OK);
	assert_memory_equal(b.sk, k.id.sk, sizeof(b.sk));
	/* len bounds the text: a longer buffer with the key first */
	assert_int_equal(dyn_identity_from_text(&b, k.file, strlen(k.file), NULL, 0), DYN_OK);
	dyn_identity_clear(&a);
	dyn_identity_clear(&b);
	dyn_identity_clear(&k.id);
}

/* Everything that is not exactly one good key is refused, secret unquoted. */
static void
test_refusals(void **state)
{
	keyfix		k;
	char		text[1024];
	char		bad[DYN_KEY_SECRET_TEXT_LEN + 1];
	uint8_t		sk[DYN_KEY_SECRET_BYTES];

	(void) state;
	make_key(&k);
	expect_refused("", "no secret key line", NULL);
	expect_refused("dynamo-secret-key-v1\n# nothing\n", "no secret key line", NULL);
	expect_refused("short", "not 86 characters", NULL);
	/* one character too many, one too few */
	snprintf(text, sizeof(text), "%sA", k.line);
	expect_refused(text, "not 86 characters", k.line);
	snprintf(text, sizeof(text), "%.85s", k.line);
	expect_refused(text, "not 86 characters", k.line);
	/* a character outside the URL-safe alphabet */
	memcpy(bad, k.line, sizeof(bad));
	bad[10] = '+';
	expect_refused(bad, "URL-safe base64", k.line);
	/* two key lines */
	snprintf(text, sizeof(text), "%s\n%s\n", k.line, k.line);
	expect_refused(text, "more than one key line", k.line);
	/* another format tag */
	snprintf(text, sizeof(text), "dynamo-secret-key-v9\n%s\n", k.line);
	expect_refused(text, "unknown key format tag", k.line);
	/* the public half changed: the seed no longer makes it */
	memcpy(sk, k.id.sk, sizeof(sk));
	sk[40] ^= 1;
	sodium_bin2base64(bad, sizeof(bad), sk, sizeof(sk),
					  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	expect_refused(bad, "corrupt", bad);
	sodium_memzero(sk, sizeof(sk));
	dyn_identity_clear(&k.id);
}

/*
 * Issue 16: libsodium 1.0.18 decodes every byte from 0x80 up as '_', so a
 * key line with such a byte in place of its '_' loaded as the same key.
 * Both parsers of a secret key line (this one and the key file loader's)
 * take only the canonical spelling.
 */
static void
test_key_line_canonical(void **state)
{
	keyfix		k;
	char	   *under;
	char		path[300];
	char		err[256];
	const char *tmp = getenv("TMPDIR");
	dyn_identity id;
	FILE	   *fp;

	(void) state;
	/* most keys spell a '_' somewhere; draw until one does */
	do
		make_key(&k);
	while ((under = strchr(k.line, '_')) == NULL);
	snprintf(path, sizeof(path), "%s/test_keytext.%d.key", tmp && *tmp ? tmp : "/tmp",
			 (int) getpid());
	for (unsigned c = 0x80; c <= 0xFF; c += 0x3F)
	{
		char	   *fline = strstr(k.file, k.line);

		*under = (char) c;
		expect_refused(k.line, "URL-safe base64", NULL);
		/* the same line in a key file, through dyn_identity_load */
		assert_non_null(fline);
		fline[under - k.line] = (char) c;
		fp = fopen(path, "w");
		assert_non_null(fp);
		fputs(k.file, fp);
		fclose(fp);
		assert_int_equal(chmod(path, 0600), 0);
		err[0] = '\0';
		assert_int_equal(dyn_identity_load(&id, path, err, sizeof(err)), DYN_ERR_INVAL);
		assert_non_null(strstr(err, "URL-safe base64"));
		fline[under - k.line] = '_';
		*under = '_';
	}
	unlink(path);
	dyn_identity_clear(&k.id);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_and_line),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_key_line_canonical),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
