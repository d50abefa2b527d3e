/*
 * test_keys.c
 *		Unit tests for identity.c: key files (written 0600, read back, never
 *		overwritten, refused when loose or damaged), the text form of public
 *		keys, trust files (comments, every kind of malformed line refused
 *		with its file and line, loose permissions refused, duplicates,
 *		lookups) and the role table.
 *
 * Files go to a fresh directory under $TMPDIR (or /tmp) that each test
 * removes again.
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

#include "dynamo/identity.h"
#include "dynamo/wire.h"

/* A scratch directory and the files made in it, for cleanup. */
typedef struct scratch
{
	char		dir[256];
	char		files[16][300];
	int			nfiles;
} scratch;

static int	scratch_setup(void **state);
static int	scratch_teardown(void **state);
static const char *scratch_path(scratch *s, const char *name);
static void write_file(const char *path, const char *text, mode_t mode);
static void expect_trust_error(scratch *s, const char *text, const char *needle);

/* Make the scratch directory. */
static int
scratch_setup(void **state)
{
	scratch    *s = calloc(1, sizeof(*s));
	const char *tmp = getenv("TMPDIR");

	if (s == NULL)
		return -1;
	snprintf(s->dir, sizeof(s->dir), "%s/test_keys.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(s->dir) == NULL)
	{
		free(s);
		return -1;
	}
	*state = s;
	return 0;
}

/* Remove every file made and the directory. */
static int
scratch_teardown(void **state)
{
	scratch    *s = *state;

	for (int i = 0; i < s->nfiles; i++)
		unlink(s->files[i]);
	rmdir(s->dir);
	free(s);
	return 0;
}

/* A path in the scratch directory, remembered for cleanup. */
static const char *
scratch_path(scratch *s, const char *name)
{
	char	   *slot;
	size_t		dl = strlen(s->dir);
	size_t		nl = strlen(name);

	assert_true(s->nfiles < 16);
	assert_true(dl + 1 + nl < sizeof(s->files[0]));
	slot = s->files[s->nfiles++];
	memcpy(slot, s->dir, dl);
	slot[dl] = '/';
	memcpy(slot + dl + 1, name, nl + 1);
	return slot;
}

/* Write text to path and set its mode exactly (whatever the umask). */
static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE	   *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* A key pair survives the trip through its file, which is mode 0600. */
static void
test_keygen_roundtrip(void **state)
{
	scratch    *s = *state;
	const char *path = scratch_path(s, "a.key");
	dyn_identity id;
	dyn_identity back;
	struct stat st;
	char		err[512];
	char		pktext[DYN_KEY_TEXT_LEN + 1];
	char		filetext[512] = {0};
	FILE	   *f;

	assert_int_equal(dyn_identity_generate(&id), DYN_OK);
	assert_int_equal(dyn_identity_save(&id, path, err, sizeof(err)), DYN_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(dyn_identity_load(&back, path, err, sizeof(err)), DYN_OK);
	assert_memory_equal(back.pk, id.pk, sizeof(id.pk));
	assert_memory_equal(back.sk, id.sk, sizeof(id.sk));

	/* the file says what it is and names its public key for people */
	f = fopen(path, "r");
	assert_non_null(f);
	assert_true(fread(filetext, 1, sizeof(filetext) - 1, f) > 0);
	fclose(f);
	dyn_key_to_text(id.pk, pktext);
	assert_non_null(strstr(filetext, "dynamo-secret-key-v1\n"));
	assert_non_null(strstr(filetext, pktext));

	/* never overwritten: the old key stays */
	{
		dyn_identity other;

		assert_int_equal(dyn_identity_generate(&other), DYN_OK);
		assert_int_equal(dyn_identity_save(&other, path, err, sizeof(err)), DYN_ERR_INVAL);
		assert_non_null(strstr(err, "already exists"));
		assert_int_equal(dyn_identity_load(&back, path, err, sizeof(err)), DYN_OK);
		assert_memory_equal(back.pk, id.pk, sizeof(id.pk));
	}
	dyn_identity_clear(&back);
	assert_true(sodium_is_zero(back.sk, sizeof(back.sk)));
}

/* Group- or other-readable key files are refused, with the fix in the message. */
static void
test_key_loose_permissions(void **state)
{
	scratch    *s = *state;
	const char *path = scratch_path(s, "loose.key");
	static const mode_t modes[] = {0640, 0604, 0644, 0660, 0700 | 0040, 0602};
	dyn_identity id;
	char		err[512];

	assert_int_equal(dyn_identity_generate(&id), DYN_OK);
	assert_int_equal(dyn_identity_save(&id, path, err, sizeof(err)), DYN_OK);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
	{
		assert_int_equal(chmod(path, modes[i]), 0);
		err[0] = '\0';
		assert_int_equal(dyn_identity_load(&id, path, err, sizeof(err)), DYN_ERR_INVAL);
		assert_non_null(strstr(err, "loose permissions"));
		assert_non_null(strstr(err, "chmod 600"));
		assert_non_null(strstr(err, path));
	}
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(dyn_identity_load(&id, path, err, sizeof(err)), DYN_OK);

	/* a missing file is an i/o error that names it */
	assert_int_equal(dyn_identity_load(&id, scratch_path(s, "missing.key"), err, sizeof(err)),
					 DYN_ERR_IO);
	assert_non_null(strstr(err, "missing.key"));
	/* so is a directory */
	assert_int_equal(dyn_identity_load(&id, s->dir, err, sizeof(err)), DYN_ERR_INVAL);
	assert_non_null(strstr(err, "not a regular file"));
}

/* Damaged key files are refused, each with the line at fault. */
static void
test_key_malformed(void **state)
{
	scratch    *s = *state;
	const char *path = scratch_path(s, "bad.key");
	dyn_identity id;
	dyn_identity other;
	char		good[DYN_KEY_SECRET_BYTES * 2];
	char		b64[100];
	char		text[512];
	char		err[512];

	assert_int_equal(dyn_identity_generate(&id), DYN_OK);
	assert_int_equal(dyn_identity_generate(&other), DYN_OK);
	sodium_bin2base64(b64, sizeof(b64), id.sk, sizeof(id.sk),
					  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(good, sizeof(good), "%s", b64);

	/* accepted: comments and blank lines around, CRLF line ends */
	snprintf(text, sizeof(text), "# mine\n\ndynamo-secret-key-v1\r\n  %s  \r\n# end\n", good);
	write_file(path, text, 0600);
	assert_int_equal(dyn_identity_load(&other, path, err, sizeof(err)), DYN_OK);
	assert_memory_equal(other.pk, id.pk, sizeof(id.pk));

	struct
	{
		const char *fmt;		/* %s: the good base64 */
		const char *needle;
	}			cases[] = {
		{"", "empty key file"},
		{"# only a comment\n", "empty key file"},
		{"dynamo-secret-key-v2\n%s\n", ":1: not a dynamo key file"},
		{"%s\n", ":1: not a dynamo key file"},
		{"dynamo-secret-key-v1\n", "secret key line is missing"},
		{"dynamo-secret-key-v1\n\n%sAA\n", ":3: the secret key is not 86"},
		{"dynamo-secret-key-v1\nshort\n", ":2: the secret key is not 86"},
		{"dynamo-secret-key-v1\n%s\nextra\n", ":3: unexpected text"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		snprintf(text, sizeof(text), cases[i].fmt, good);
		unlink(path);
		write_file(path, text, 0600);
		err[0] = '\0';
		assert_int_equal(dyn_identity_load(&other, path, err, sizeof(err)), DYN_ERR_INVAL);
		if (strstr(err, cases[i].needle) == NULL)
			fail_msg("case %zu: \"%s\" not in \"%s\"", i, cases[i].needle, err);
	}

	/* a secret key whose public half was replaced: corrupt */
	{
		uint8_t		sk[DYN_KEY_SECRET_BYTES];
		dyn_identity third;

		assert_int_equal(dyn_identity_generate(&third), DYN_OK);
		memcpy(sk, id.sk, sizeof(sk));
		memcpy(sk + 32, third.pk, 32);
		sodium_bin2base64(b64, sizeof(b64), sk, sizeof(sk),
						  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		snprintf(text, sizeof(text), "dynamo-secret-key-v1\n%s\n", b64);
		unlink(path);
		write_file(path, text, 0600);
		assert_int_equal(dyn_identity_load(&other, path, err, sizeof(err)), DYN_ERR_INVAL);
		assert_non_null(strstr(err, ":2: the secret key is corrupt"));
	}
}

/* The 43-character text form, and only its canonical spelling. */
static void
test_key_text(void **state)
{
	dyn_identity id;
	char		text[DYN_KEY_TEXT_LEN + 1];
	char		bad[DYN_KEY_TEXT_LEN + 2];
	uint8_t		pk[DYN_KEY_PUBLIC_BYTES];
	const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char		last;

	(void) state;
	for (int i = 0; i < 50; i++)
	{
		assert_int_equal(dyn_identity_generate(&id), DYN_OK);
		dyn_key_to_text(id.pk, text);
		assert_int_equal(strlen(text), DYN_KEY_TEXT_LEN);
		assert_int_equal(strspn(text, alphabet), DYN_KEY_TEXT_LEN);
		assert_int_equal(dyn_key_from_text(text, strlen(text), pk), DYN_OK);
		assert_memory_equal(pk, id.pk, sizeof(pk));
	}
	/* wrong lengths, standard-base64 characters, padding */
	assert_int_equal(dyn_key_from_text(text, DYN_KEY_TEXT_LEN - 1, pk), DYN_ERR_INVAL);
	snprintf(bad, sizeof(bad), "%s=", text);
	assert_int_equal(dyn_key_from_text(bad, strlen(bad), pk), DYN_ERR_INVAL);
	memcpy(bad, text, sizeof(text));
	bad[5] = '+';
	assert_int_equal(dyn_key_from_text(bad, DYN_KEY_TEXT_LEN, pk), DYN_ERR_INVAL);
	/* the last character carries 2 spare bits: setting one is refused */
	memcpy(bad, text, sizeof(text));
	last = bad[DYN_KEY_TEXT_LEN - 1];
	bad[DYN_KEY_TEXT_LEN - 1] = alphabet[(strchr(alphabet, last) - alphabet) ^ 1];
	assert_int_equal(dyn_key_from_text(bad, DYN_KEY_TEXT_LEN, pk), DYN_ERR_INVAL);
}

/* Build a trust line for a fresh key. */
static void
trust_line(char *out, size_t outlen, dyn_identity *id, const char *role, const char *name)
{
	char		text[DYN_KEY_TEXT_LEN + 1];

	assert_int_equal(dyn_identity_generate(id), DYN_OK);
	dyn_key_to_text(id->pk, text);
	snprintf(out, outlen, "%s %s %s", text, role, name);
}

/* A well-formed trust file: comments, blank lines, tabs; lookups find each key. */
static void
test_trust_load(void **state)
{
	scratch    *s = *state;
	const char *path = scratch_path(s, "trust");
	dyn_identity ids[4];
	dyn_identity stranger;
	char		lines[4][200];
	char		text[1200];
	char		err[512];
	dyn_trust	t;
	const dyn_trust_entry *e;
	static const char *const roles[] = {"node", "admin", "write", "read"};
	static const dyn_role role_vals[] = {DYN_ROLE_NODE, DYN_ROLE_ADMIN, DYN_ROLE_WRITE,
	DYN_ROLE_READ};

	for (int i = 0; i < 4; i++)
	{
		char		name[32];

		snprintf(name, sizeof(name), "peer-%d@x.y", i);
		trust_line(lines[i], sizeof(lines[i]), &ids[i], roles[i], name);
	}
	snprintf(text, sizeof(text),
			 "# the cluster\n\n%s\n   %s   # the operator\n\t%s\t\r\n%s", lines[0], lines[1],
			 lines[2], lines[3]);
	write_file(path, text, 0644);
	assert_int_equal(dyn_trust_load(&t, path, err, sizeof(err)), DYN_OK);
	assert_int_equal(t.n, 4);
	for (int i = 0; i < 4; i++)
	{
		char		name[32];

		snprintf(name, sizeof(name), "peer-%d@x.y", i);
		e = dyn_trust_find(&t, ids[i].pk);
		assert_non_null(e);
		assert_int_equal(e->role, role_vals[i]);
		assert_string_equal(e->name, name);
	}
	assert_int_equal(dyn_trust_find(&t, ids[1].pk)->line, 4);
	assert_int_equal(dyn_identity_generate(&stranger), DYN_OK);
	assert_null(dyn_trust_find(&t, stranger.pk));
	dyn_trust_free(&t);
	assert_int_equal(t.n, 0);
	assert_null(dyn_trust_find(&t, ids[0].pk));

	/* read-only and owner-writable modes are fine; an empty file is an empty list */
	write_file(path, "# nobody yet\n", 0400);
	assert_int_equal(dyn_trust_load(&t, path, err, sizeof(err)), DYN_OK);
	assert_int_equal(t.n, 0);
	dyn_trust_free(&t);
}

/* Load text as a trust file and expect a refusal mentioning needle. */
static void
expect_trust_error(scratch *s, const char *text, const char *needle)
{
	char		path[300];
	char		err[512] = {0};
	dyn_trust	t;

	snprintf(path, sizeof(path), "%s/trust.bad", s->dir);
	unlink(path);
	write_file(path, text, 0600);
	if (dyn_trust_load(&t, path, err, sizeof(err)) != DYN_ERR_INVAL)
		fail_msg("accepted: %s", text);
	if (strstr(err, needle) == NULL || strstr(err, path) == NULL)
		fail_msg("\"%s\" (and the path) not in \"%s\"", needle, err);
	assert_int_equal(t.n, 0);
	assert_null(t.entries);
	unlink(path);
}

/* Every malformed line is refused, naming the file and the line. */
static void
test_trust_malformed(void **state)
{
	scratch    *s = *state;
	dyn_identity a;
	dyn_identity b;
	char		la[200];
	char		lb[200];
	char		ka[DYN_KEY_TEXT_LEN + 1];
	char		text[2000];

	trust_line(la, sizeof(la), &a, "admin", "alice");
	trust_line(lb, sizeof(lb), &b, "read", "bob");
	dyn_key_to_text(a.pk, ka);

	snprintf(text, sizeof(text), "%s\n# ok\nnot-a-key read bob\n", la);
	expect_trust_error(s, text, ":3: \"not-a-key\" is not a public key");
	snprintf(text, sizeof(text), "%s\n%.42s read bob\n", la, ka);
	expect_trust_error(s, text, ":2: ");
	snprintf(text, sizeof(text), "\n\n%s\n", ka);
	expect_trust_error(s, text, ":3: missing role and name");
	snprintf(text, sizeof(text), "%s reader bob\n", ka);
	expect_trust_error(s, text, ":1: unknown role \"reader\"");
	snprintf(text, sizeof(text), "%s none bob\n", ka);
	expect_trust_error(s, text, ":1: unknown role \"none\"");
	snprintf(text, sizeof(text), "%s READ bob\n", ka);
	expect_trust_error(s, text, ":1: unknown role");
	snprintf(text, sizeof(text), "%s\n%s write\n", lb, ka);
	expect_trust_error(s, text, ":2: missing name");
	snprintf(text, sizeof(text), "%s write # no name\n", ka);
	expect_trust_error(s, text, ":1: missing name");
	snprintf(text, sizeof(text), "%s write bob smith\n", ka);
	expect_trust_error(s, text, ":1: unexpected text after the name");
	snprintf(text, sizeof(text), "%s write b\"ob\n", ka);
	expect_trust_error(s, text, ":1: invalid name");
	snprintf(text, sizeof(text), "%s write %0*d\n", ka, DYN_TRUST_NAME_MAX + 1, 7);
	expect_trust_error(s, text, ":1: invalid name");
	snprintf(text, sizeof(text), "%s\n%s\n# again:\n%s read alice2\n", la, lb, ka);
	expect_trust_error(s, text, ":4: this key is already listed on line 1");
}

/* A trust file others may write is refused (they could add themselves). */
static void
test_trust_loose_permissions(void **state)
{
	scratch    *s = *state;
	const char *path = scratch_path(s, "trust.loose");
	static const mode_t bad[] = {0664, 0646, 0666, 0620, 0602, 0777};
	dyn_identity a;
	char		line[200];
	char		err[512];
	dyn_trust	t;

	trust_line(line, sizeof(line), &a, "node", "n1");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		unlink(path);
		write_file(path, line, bad[i]);
		err[0] = '\0';
		assert_int_equal(dyn_trust_load(&t, path, err, sizeof(err)), DYN_ERR_INVAL);
		assert_non_null(strstr(err, "loose permissions"));
		assert_non_null(strstr(err, "writable"));
		assert_non_null(strstr(err, "chmod go-w"));
	}
	/* readable by all is fine: public keys are public */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(dyn_trust_load(&t, path, err, sizeof(err)), DYN_OK);
	assert_int_equal(t.n, 1);
	dyn_trust_free(&t);
}

/* The role table: each role may send what its issue says, and nothing else. */
static void
test_roles(void **state)
{
	char		desc[128];
	dyn_role	r;

	(void) state;
	/* read: GET and STATUS */
	assert_true(dyn_role_allows(DYN_ROLE_READ, DYN_MSG_GET));
	assert_true(dyn_role_allows(DYN_ROLE_READ, DYN_MSG_STATUS));
	assert_false(dyn_role_allows(DYN_ROLE_READ, DYN_MSG_PUT));
	assert_false(dyn_role_allows(DYN_ROLE_READ, DYN_MSG_DELETE));
	/* write: also PUT and DELETE */
	assert_true(dyn_role_allows(DYN_ROLE_WRITE, DYN_MSG_GET));
	assert_true(dyn_role_allows(DYN_ROLE_WRITE, DYN_MSG_PUT));
	assert_true(dyn_role_allows(DYN_ROLE_WRITE, DYN_MSG_DELETE));
	assert_true(dyn_role_allows(DYN_ROLE_WRITE, DYN_MSG_STATUS));
	/* admin: everything a client may do */
	assert_true(dyn_role_allows(DYN_ROLE_ADMIN, DYN_MSG_GET));
	assert_true(dyn_role_allows(DYN_ROLE_ADMIN, DYN_MSG_PUT));
	assert_true(dyn_role_allows(DYN_ROLE_ADMIN, DYN_MSG_DELETE));
	assert_false(dyn_role_allows(DYN_ROLE_ADMIN, DYN_MSG_REPLICA_PUT));
	/* node: internal messages and STATUS, not the client operations */
	assert_true(dyn_role_allows(DYN_ROLE_NODE, DYN_MSG_STATUS));
	assert_true(dyn_role_allows(DYN_ROLE_NODE, DYN_MSG_RING));
	assert_false(dyn_role_allows(DYN_ROLE_NODE, DYN_MSG_GET));
	assert_false(dyn_role_allows(DYN_ROLE_NODE, DYN_MSG_PUT));
	assert_false(dyn_role_allows(DYN_ROLE_NODE, DYN_MSG_DELETE));
	{
		static const uint8_t internal[] = {DYN_MSG_REPLICA_GET, DYN_MSG_REPLICA_PUT,
			DYN_MSG_GOSSIP, DYN_MSG_COORD_PUT, DYN_MSG_COORD_DELETE};

		for (size_t i = 0; i < sizeof(internal); i++)
		{
			assert_true(dyn_role_allows(DYN_ROLE_NODE, internal[i]));
			assert_false(dyn_role_allows(DYN_ROLE_READ, internal[i]));
			assert_false(dyn_role_allows(DYN_ROLE_WRITE, internal[i]));
			assert_false(dyn_role_allows(DYN_ROLE_ADMIN, internal[i]));
		}
	}
	assert_true(dyn_role_allows(DYN_ROLE_READ, DYN_MSG_RING));
	/* an unknown key may do nothing; replies and unknown types nobody sends */
	for (int t = 0; t < 256; t++)
	{
		assert_false(dyn_role_allows(DYN_ROLE_NONE, (uint8_t) t));
		assert_false(dyn_role_allows((dyn_role) 99, (uint8_t) t));
	}
	assert_false(dyn_role_allows(DYN_ROLE_ADMIN, DYN_MSG_GET_REPLY));
	assert_false(dyn_role_allows(DYN_ROLE_ADMIN, DYN_MSG_ERROR));
	assert_false(dyn_role_allows(DYN_ROLE_ADMIN, 0x42));

	dyn_role_describe(DYN_MSG_PUT, desc, sizeof(desc));
	assert_string_equal(desc, "write or admin");
	dyn_role_describe(DYN_MSG_GET, desc, sizeof(desc));
	assert_string_equal(desc, "read, write or admin");
	dyn_role_describe(0x42, desc, sizeof(desc));
	assert_string_equal(desc, "no role");

	assert_int_equal(dyn_role_from_name("write", 5, &r), DYN_OK);
	assert_int_equal(r, DYN_ROLE_WRITE);
	assert_int_equal(dyn_role_from_name("writer", 6, &r), DYN_ERR_INVAL);
	assert_int_equal(dyn_role_from_name("wri", 3, &r), DYN_ERR_INVAL);
	assert_string_equal(dyn_role_name(DYN_ROLE_NODE), "node");
	assert_string_equal(dyn_role_name((dyn_role) 42), "none");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_keygen_roundtrip, scratch_setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_key_loose_permissions, scratch_setup,
										scratch_teardown),
		cmocka_unit_test_setup_teardown(test_key_malformed, scratch_setup, scratch_teardown),
		cmocka_unit_test(test_key_text),
		cmocka_unit_test_setup_teardown(test_trust_load, scratch_setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_trust_malformed, scratch_setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_trust_loose_permissions, scratch_setup,
										scratch_teardown),
		cmocka_unit_test(test_roles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
