/*
 * identity.c
 *		Key files, the text form of public keys, trust files and the role
 *		table (see identity.h for the file formats).
 *
 * Everything cryptographic is libsodium's: crypto_sign for key pairs,
 * sodium_bin2base64/base642bin for the text forms, sodium_memzero to wipe
 * secrets.  Files are checked through the descriptor that is then read
 * (fstat after open), so the permissions judged are those of the bytes
 * used, not of whatever the path named a moment earlier.
 */
#include "dynamo/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "dynamo/keytext.h"
#include "dynamo/wire.h"

/* The first line of a key file: the format and its version. */
#define KEY_FILE_TAG		"dynamo-secret-key-v1"
/* A key file is three short lines; anything much larger is not one. */
#define KEY_FILE_MAX		4096
/* Length of the 64-byte secret key in URL-safe base64 without padding. */
#define KEY_SECRET_TEXT_LEN 86

#define ROLE_BIT(r)			(1u << (r))
#define ROLES_READ			(ROLE_BIT(DYN_ROLE_READ) | ROLE_BIT(DYN_ROLE_WRITE) | \
							 ROLE_BIT(DYN_ROLE_ADMIN))
#define ROLES_WRITE			(ROLE_BIT(DYN_ROLE_WRITE) | ROLE_BIT(DYN_ROLE_ADMIN))
#define ROLES_ADMIN			(ROLE_BIT(DYN_ROLE_ADMIN))
#define ROLES_NODE			(ROLE_BIT(DYN_ROLE_NODE))

/*
 * Which roles may send which request: the one place access is decided.
 * Operations that do not exist yet get their line here when they are
 * written; a type with no line is refused to everyone.
 */
typedef struct role_rule
{
	uint8_t		msg_type;
	uint8_t		roles;			/* ROLE_BIT of each role allowed */
} role_rule;

static const role_rule role_rules[] = {
	{DYN_MSG_GET, ROLES_READ},
	{DYN_MSG_SCAN, ROLES_READ},
	{DYN_MSG_BUCKETS, ROLES_READ},
	{DYN_MSG_STATUS, ROLES_READ | ROLES_NODE},
	{DYN_MSG_RING, ROLES_READ | ROLES_NODE},	/* partition-aware clients too */
	{DYN_MSG_PUT, ROLES_WRITE},
	{DYN_MSG_DELETE, ROLES_WRITE},
	{DYN_MSG_REPAIR, ROLES_ADMIN},
	{DYN_MSG_REMOVE, ROLES_ADMIN},
	/* node: the cluster's internal messages */
	{DYN_MSG_REPLICA_GET, ROLES_NODE},
	{DYN_MSG_REPLICA_PUT, ROLES_NODE},
	{DYN_MSG_GOSSIP, ROLES_NODE},
	{DYN_MSG_COORD_PUT, ROLES_NODE},
	{DYN_MSG_COORD_DELETE, ROLES_NODE},
	{DYN_MSG_MERKLE, ROLES_NODE},
	{DYN_MSG_SYNC_KEYS, ROLES_NODE},
	{DYN_MSG_REAP, ROLES_NODE},
};

static const char *const role_names[] = {"none", "read", "write", "admin", "node"};

static int	set_err(char *err, size_t errlen, int status, const char *fmt,...)
			__attribute__((format(printf, 4, 5)));
static int	read_private_file(const char *path, const char *what, mode_t forbidden,
							  const char *fix, size_t max, char **out, size_t *outlen,
							  char *err, size_t errlen);
static bool next_line(const char **p, const char *end, const char **line,
					  size_t *len);
static const char *skip_space(const char *p, const char *end);
static const char *token_end(const char *p, const char *end);
static bool name_valid(const char *s, size_t len);
static int	entry_cmp(const void *a, const void *b);


/* Format a message into err (when given) and return status. */
static int
set_err(char *err, size_t errlen, int status, const char *fmt,...)
{
	va_list		ap;

	if (err != NULL && errlen > 0)
	{
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return status;
}

/* A new key pair from libsodium's random source. */
int
dyn_identity_generate(dyn_identity *id)
{
	if (sodium_init() < 0)
		return DYN_ERR_INVAL;
	crypto_sign_keypair(id->pk, id->sk);
	return DYN_OK;
}

/*
 * Write the key file.  O_EXCL refuses an existing file; the mode is set
 * with fchmod as well because the umask may have narrowed (never widened)
 * the creation mode, and a narrower mode would make the owner unable to
 * read their own key.
 */
int
dyn_identity_save(const dyn_identity *id, const char *path, char *err, size_t errlen)
{
	char		b64[KEY_SECRET_TEXT_LEN + 1];
	char		pktext[DYN_KEY_TEXT_LEN + 1];
	char		text[256];
	int			fd;
	int			n;
	size_t		off = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
	{
		if (errno == EEXIST)
			return set_err(err, errlen, DYN_ERR_INVAL,
						   "key file \"%s\" already exists: not overwriting a key "
						   "(remove it first if you mean to replace it)", path);
		return set_err(err, errlen, DYN_ERR_IO, "could not create key file \"%s\": %s",
					   path, strerror(errno));
	}
	sodium_bin2base64(b64, sizeof(b64), id->sk, sizeof(id->sk),
					  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	dyn_key_to_text(id->pk, pktext);
	n = snprintf(text, sizeof(text), "%s\n%s\n# public key %s\n", KEY_FILE_TAG, b64, pktext);
	sodium_memzero(b64, sizeof(b64));
	if (fchmod(fd, 0600) != 0)
		goto fail;
	while (off < (size_t) n)
	{
		ssize_t		w = write(fd, text + off, (size_t) n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t) w;
	}
	if (fsync(fd) != 0)
		goto fail;
	sodium_memzero(text, sizeof(text));
	if (close(fd) != 0)
	{
		fd = -1;
		goto fail;
	}
	return DYN_OK;

fail:
	{
		int			saved = errno;

		sodium_memzero(text, sizeof(text));
		if (fd >= 0)
			close(fd);
		unlink(path);
		return set_err(err, errlen, DYN_ERR_IO, "could not write key file \"%s\": %s",
					   path, strerror(saved));
	}
}

/*
 * Open path, refuse it unless it is a regular file with none of the
 * forbidden mode bits, and read it whole (at most max bytes) into a
 * malloc'd buffer.  fix is the command that would repair the permissions.
 */
static int
read_private_file(const char *path, const char *what, mode_t forbidden,
				  const char *fix, size_t max, char **out, size_t *outlen,
				  char *err, size_t errlen)
{
	struct stat st;
	char	   *buf;
	size_t		len = 0;
	int			fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return set_err(err, errlen, DYN_ERR_IO, "could not open %s \"%s\": %s",
					   what, path, strerror(errno));
	if (fstat(fd, &st) != 0)
	{
		int			saved = errno;

		close(fd);
		return set_err(err, errlen, DYN_ERR_IO, "could not stat %s \"%s\": %s",
					   what, path, strerror(saved));
	}
	if (!S_ISREG(st.st_mode))
	{
		close(fd);
		return set_err(err, errlen, DYN_ERR_INVAL, "%s \"%s\" is not a regular file",
					   what, path);
	}
	if ((st.st_mode & forbidden) != 0)
	{
		close(fd);
		return set_err(err, errlen, DYN_ERR_INVAL,
					   "%s \"%s\" has loose permissions (mode %04o): it must not be %s "
					   "by group or others; run: chmod %s %s",
					   what, path, (unsigned) (st.st_mode & 07777),
					   (forbidden & 044) ? "readable" : "writable", fix, path);
	}
	if ((size_t) st.st_size > max)
	{
		close(fd);
		return set_err(err, errlen, DYN_ERR_INVAL, "%s \"%s\" is larger than %zu bytes",
					   what, path, max);
	}
	if ((buf = malloc(max + 1)) == NULL)
	{
		close(fd);
		return set_err(err, errlen, DYN_ERR_NOMEM, "out of memory reading \"%s\"", path);
	}
	for (;;)
	{
		ssize_t		n = read(fd, buf + len, max + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
		{
			int			saved = errno;

			sodium_memzero(buf, max + 1);
			free(buf);
			close(fd);
			return set_err(err, errlen, DYN_ERR_IO, "could not read %s \"%s\": %s",
						   what, path, strerror(saved));
		}
		if (n == 0)
			break;
		len += (size_t) n;
		if (len > max)
		{
			sodium_memzero(buf, max + 1);
			free(buf);
			close(fd);
			return set_err(err, errlen, DYN_ERR_INVAL, "%s \"%s\" is larger than %zu bytes",
						   what, path, max);
		}
	}
	close(fd);
	*out = buf;
	*outlen = len;
	return DYN_OK;
}

/*
 * The next line of [*p, end) without its "\n" or "\r\n"; false at the end.
 */
static bool
next_line(const char **p, const char *end, const char **line, size_t *len)
{
	const char *s = *p;
	const char *nl;

	if (s >= end)
		return false;
	nl = memchr(s, '\n', (size_t) (end - s));
	if (nl == NULL)
		nl = end;
	*line = s;
	*len = (size_t) (nl - s);
	if (*len > 0 && s[*len - 1] == '\r')
		(*len)--;
	*p = nl < end ? nl + 1 : end;
	return true;
}

static const char *
skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static const char *
token_end(const char *p, const char *end)
{
	while (p < end && *p != ' ' && *p != '\t')
		p++;
	return p;
}

/*
 * Read a key file: the tag line, then the secret key line; comments and
 * blank lines anywhere.  The public half stored in the secret key must be
 * the one its seed makes, which catches a corrupted or hand-edited file.
 */
int
dyn_identity_load(dyn_identity *id, const char *path, char *err, size_t errlen)
{
	char	   *text = NULL;
	size_t		textlen = 0;
	const char *p;
	const char *line;
	size_t		len;
	int			lineno = 0;
	int			seen = 0;		/* 0: want the tag, 1: want the key, 2: done */
	int			rc;
	uint8_t		pk[DYN_KEY_PUBLIC_BYTES];
	uint8_t		sk[DYN_KEY_SECRET_BYTES];

	if (sodium_init() < 0)
		return set_err(err, errlen, DYN_ERR_INVAL, "libsodium could not be initialised");
	rc = read_private_file(path, "key file", S_IRWXG | S_IRWXO, "600", KEY_FILE_MAX,
						   &text, &textlen, err, errlen);
	if (rc != DYN_OK)
		return rc;

	p = text;
	rc = DYN_OK;
	while (rc == DYN_OK && next_line(&p, text + textlen, &line, &len))
	{
		const char *s;
		const char *e;

		lineno++;
		s = skip_space(line, line + len);
		e = line + len;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (s == e || *s == '#')
			continue;
		if (seen == 0)
		{
			if ((size_t) (e - s) != strlen(KEY_FILE_TAG) ||
				memcmp(s, KEY_FILE_TAG, strlen(KEY_FILE_TAG)) != 0)
				rc = set_err(err, errlen, DYN_ERR_INVAL,
							 "%s:%d: not a dynamo key file (the first line must be \"%s\"; "
							 "make one with keygen --out FILE)", path, lineno, KEY_FILE_TAG);
			seen = 1;
		}
		else if (seen == 1)
		{
			int			krc = dyn_secret_key_from_text(s, (size_t) (e - s), sk);

			if (krc == DYN_ERR_INVAL)
				rc = set_err(err, errlen, DYN_ERR_INVAL,
							 "%s:%d: the secret key is not %d characters of URL-safe base64",
							 path, lineno, KEY_SECRET_TEXT_LEN);
			else if (krc != DYN_OK)
				rc = set_err(err, errlen, DYN_ERR_INVAL,
							 "%s:%d: the secret key is corrupt (its public half does "
							 "not match its seed)", path, lineno);
			else
				memcpy(pk, sk + DYN_KEY_SECRET_BYTES - DYN_KEY_PUBLIC_BYTES, sizeof(pk));
			seen = 2;
		}
		else
			rc = set_err(err, errlen, DYN_ERR_INVAL,
						 "%s:%d: unexpected text after the secret key", path, lineno);
	}
	if (rc == DYN_OK && seen < 2)
		rc = set_err(err, errlen, DYN_ERR_INVAL, "%s: %s", path,
					 seen == 0 ? "empty key file (make one with keygen --out FILE)"
					 : "the secret key line is missing");
	if (rc == DYN_OK)
	{
		memcpy(id->pk, pk, sizeof(pk));
		memcpy(id->sk, sk, sizeof(sk));
	}
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(text, KEY_FILE_MAX + 1);
	free(text);
	return rc;
}

void
dyn_identity_clear(dyn_identity *id)
{
	sodium_memzero(id, sizeof(*id));
}

/* The 43-character URL-safe base64 text of a public key. */
void
dyn_key_to_text(const uint8_t *pk, char *out)
{
	sodium_bin2base64(out, DYN_KEY_TEXT_LEN + 1, pk, DYN_KEY_PUBLIC_BYTES,
					  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/*
 * Parse the text form.  The result is encoded again and compared, so that
 * only the one canonical spelling of a key is accepted (base64 leaves two
 * spare bits in the last character, and two spellings of one key in a trust
 * file would defeat the duplicate check).
 */
int
dyn_key_from_text(const char *text, size_t len, uint8_t *pk)
{
	uint8_t		bin[DYN_KEY_PUBLIC_BYTES];
	char		again[DYN_KEY_TEXT_LEN + 1];
	size_t		binlen = 0;
	const char *end = NULL;

	if (len != DYN_KEY_TEXT_LEN)
		return DYN_ERR_INVAL;
	if (sodium_base642bin(bin, sizeof(bin), text, len, NULL, &binlen, &end,
						  sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
		binlen != sizeof(bin) || end != text + len)
		return DYN_ERR_INVAL;
	dyn_key_to_text(bin, again);
	if (memcmp(again, text, len) != 0)
		return DYN_ERR_INVAL;
	memcpy(pk, bin, sizeof(bin));
	return DYN_OK;
}

void
dyn_trust_init(dyn_trust *t)
{
	t->entries = NULL;
	t->n = 0;
}

void
dyn_trust_free(dyn_trust *t)
{
	free(t->entries);
	dyn_trust_init(t);
}

/* Load and parse a trust file (see identity.h). */
int
dyn_trust_load(dyn_trust *t, const char *path, char *err, size_t errlen)
{
	char	   *text = NULL;
	size_t		len = 0;
	int			rc;

	dyn_trust_init(t);
	rc = read_private_file(path, "trust file", S_IWGRP | S_IWOTH, "go-w",
						   DYN_TRUST_FILE_MAX, &text, &len, err, errlen);
	if (rc != DYN_OK)
		return rc;
	rc = dyn_trust_parse(t, path, text, len, err, errlen);
	free(text);
	return rc;
}

/* Names go into log lines: a conservative character set keeps them safe. */
static bool
name_valid(const char *s, size_t len)
{
	if (len == 0 || len > DYN_TRUST_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		char		c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || strchr("._@:+-", c) != NULL) || c == '\0')
			return false;
	}
	return true;
}

/* Order of entries: by public key bytes (what lookups search by). */
static int
entry_cmp(const void *a, const void *b)
{
	const dyn_trust_entry *x = a;
	const dyn_trust_entry *y = b;
	int			c = memcmp(x->pk, y->pk, DYN_KEY_PUBLIC_BYTES);

	if (c != 0)
		return c;
	return (x->line > y->line) - (x->line < y->line);
}

/*
 * Parse "PUBKEY ROLE NAME [# comment]" lines.  Two passes would avoid the
 * reallocs, but a trust file is small and read once.
 */
int
dyn_trust_parse(dyn_trust *t, const char *name, const char *text, size_t len,
				char *err, size_t errlen)
{
	const char *p = text;
	const char *line;
	size_t		linelen;
	size_t		cap = 0;
	int			lineno = 0;
	int			rc = DYN_OK;

	dyn_trust_init(t);
	while (rc == DYN_OK && next_line(&p, text + len, &line, &linelen))
	{
		const char *end = line + linelen;
		const char *k = skip_space(line, end);
		const char *ke;
		const char *r;
		const char *re;
		const char *n;
		const char *ne;
		const char *rest;
		dyn_trust_entry *e;

		lineno++;
		if (k == end || *k == '#')
			continue;
		ke = token_end(k, end);
		r = skip_space(ke, end);
		re = token_end(r, end);
		n = skip_space(re, end);
		ne = token_end(n, end);
		rest = skip_space(ne, end);

		if (cap == t->n)
		{
			size_t		ncap = cap ? cap * 2 : 16;
			dyn_trust_entry *ne2 = realloc(t->entries, ncap * sizeof(*ne2));

			if (ne2 == NULL)
			{
				rc = set_err(err, errlen, DYN_ERR_NOMEM, "%s:%d: out of memory", name, lineno);
				break;
			}
			t->entries = ne2;
			cap = ncap;
		}
		e = &t->entries[t->n];
		memset(e, 0, sizeof(*e));
		e->line = lineno;
		if (dyn_key_from_text(k, (size_t) (ke - k), e->pk) != DYN_OK)
			rc = set_err(err, errlen, DYN_ERR_INVAL,
						 "%s:%d: \"%.*s\" is not a public key (expected %d characters of "
						 "URL-safe base64, as keygen prints)", name, lineno,
						 (int) ((ke - k) > 60 ? 60 : (ke - k)), k, DYN_KEY_TEXT_LEN);
		else if (r == end || *r == '#')
			rc = set_err(err, errlen, DYN_ERR_INVAL,
						 "%s:%d: missing role and name (expected \"PUBKEY ROLE NAME\")",
						 name, lineno);
		else if (dyn_role_from_name(r, (size_t) (re - r), &e->role) != DYN_OK)
			rc = set_err(err, errlen, DYN_ERR_INVAL,
						 "%s:%d: unknown role \"%.*s\" (expected node, admin, write or read)",
						 name, lineno, (int) ((re - r) > 60 ? 60 : (re - r)), r);
		else if (n == end || *n == '#')
			rc = set_err(err, errlen, DYN_ERR_INVAL,
						 "%s:%d: missing name (expected \"PUBKEY ROLE NAME\")", name, lineno);
		else if (!name_valid(n, (size_t) (ne - n)))
			rc = set_err(err, errlen, DYN_ERR_INVAL,
						 "%s:%d: invalid name \"%.*s\" (1 to %d characters of letters, "
						 "digits and ._@:+-)", name, lineno,
						 (int) ((ne - n) > 60 ? 60 : (ne - n)), n, DYN_TRUST_NAME_MAX);
		else if (rest != end && *rest != '#')
			rc = set_err(err, errlen, DYN_ERR_INVAL,
						 "%s:%d: unexpected text after the name (expected \"PUBKEY ROLE NAME\"; "
						 "comments start with #)", name, lineno);
		else
		{
			memcpy(e->name, n, (size_t) (ne - n));
			e->name[ne - n] = '\0';
			t->n++;
		}
	}
	if (rc == DYN_OK && t->n > 1)
	{
		qsort(t->entries, t->n, sizeof(*t->entries), entry_cmp);
		for (size_t i = 1; i < t->n; i++)
			if (memcmp(t->entries[i - 1].pk, t->entries[i].pk, DYN_KEY_PUBLIC_BYTES) == 0)
			{
				rc = set_err(err, errlen, DYN_ERR_INVAL,
							 "%s:%d: this key is already listed on line %d",
							 name, t->entries[i].line, t->entries[i - 1].line);
				break;
			}
	}
	if (rc != DYN_OK)
		dyn_trust_free(t);
	return rc;
}

/* Binary search by public key. */
const dyn_trust_entry *
dyn_trust_find(const dyn_trust *t, const uint8_t *pk)
{
	size_t		lo = 0;
	size_t		hi = t != NULL ? t->n : 0;

	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;
		int			c = memcmp(pk, t->entries[mid].pk, DYN_KEY_PUBLIC_BYTES);

		if (c == 0)
			return &t->entries[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const char *
dyn_role_name(dyn_role role)
{
	if ((unsigned) role < sizeof(role_names) / sizeof(role_names[0]))
		return role_names[role];
	return "none";
}

/* "none" is not a role a trust file may give: it is what unknown keys get. */
int
dyn_role_from_name(const char *s, size_t len, dyn_role *out)
{
	for (size_t r = DYN_ROLE_READ; r < sizeof(role_names) / sizeof(role_names[0]); r++)
		if (strlen(role_names[r]) == len && memcmp(s, role_names[r], len) == 0)
		{
			*out = (dyn_role) r;
			return DYN_OK;
		}
	return DYN_ERR_INVAL;
}

/* Look the type up in role_rules; unlisted types are allowed to no one. */
bool
dyn_role_allows(dyn_role role, uint8_t msg_type)
{
	if ((unsigned) role >= sizeof(role_names) / sizeof(role_names[0]) ||
		role == DYN_ROLE_NONE)
		return false;
	for (size_t i = 0; i < sizeof(role_rules) / sizeof(role_rules[0]); i++)
		if (role_rules[i].msg_type == msg_type)
			return (role_rules[i].roles & ROLE_BIT(role)) != 0;
	return false;
}

/* "read, write or admin" for GET; "no role" for a type nobody may send. */
void
dyn_role_describe(uint8_t msg_type, char *out, size_t outlen)
{
	uint8_t		roles = 0;
	size_t		count = 0;
	size_t		done = 0;
	size_t		off = 0;

	if (outlen == 0)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(role_rules) / sizeof(role_rules[0]); i++)
		if (role_rules[i].msg_type == msg_type)
			roles = role_rules[i].roles;
	for (unsigned r = DYN_ROLE_READ; r <= DYN_ROLE_NODE; r++)
		if (roles & ROLE_BIT(r))
			count++;
	if (count == 0)
	{
		snprintf(out, outlen, "no role");
		return;
	}
	for (unsigned r = DYN_ROLE_READ; r <= DYN_ROLE_NODE && off < outlen; r++)
	{
		if (!(roles & ROLE_BIT(r)))
			continue;
		done++;
		off += (size_t) snprintf(out + off, outlen - off, "%s%s",
								 done == 1 ? "" : (done == count ? " or " : ", "),
								 role_names[r]);
	}
}
