/*
 * identity.h
 *		Long-term keys, trust files and roles: who a peer is and what it may
 *		do.  Shared by dynamod, the tools and the FDW.
 *
 * Every node and every client has an Ed25519 key pair (libsodium
 * crypto_sign).  The public key is written as 43 characters of URL-safe
 * base64 without padding; that text is what people copy into trust files
 * and what log lines show.
 *
 * Key file (the secret key; mode 0600, refused when group or others may
 * read it):
 *
 *		dynamo-secret-key-v1
 *		<86 characters: URL-safe base64 of the 64-byte Ed25519 secret key>
 *		# public key <43 characters>
 *
 * The first line is the format tag.  Lines starting with '#' and blank
 * lines are ignored (the public key comment is for people; the loader
 * derives the public key from the secret seed and refuses a file whose two
 * halves disagree).
 *
 * Trust file (refused when group or others may write it, since whoever can
 * write it can grant themselves any role):
 *
 *		# comment
 *		<43-character public key> <role> <name>   [# comment]
 *
 * role is one of node, admin, write, read; name is 1 to DYN_TRUST_NAME_MAX
 * characters of [A-Za-z0-9._@:+-] (it appears in log lines).  A key may
 * appear only once.  Every error names the file and the line.
 *
 * Roles, and what each may send, are one table (dyn_role_allows):
 *
 *		read	GET, STATUS, RING (and scans, when they exist)
 *		write	what read may, plus PUT and DELETE
 *		admin	what write may, plus the admin operations (remove node,
 *				repair: they slot into the table when they exist)
 *		node	STATUS, RING and the internal messages of the cluster
 *				(REPLICA_GET/PUT, GOSSIP, COORD_PUT/DELETE; hints,
 *				anti-entropy and handoff when they exist) -- not the client
 *				operations: a node hands a client's write on with COORD_*
 */
#ifndef DYNAMO_IDENTITY_H
#define DYNAMO_IDENTITY_H

#include "dynamo/common.h"

#define DYN_KEY_PUBLIC_BYTES	32	/* crypto_sign_PUBLICKEYBYTES */
#define DYN_KEY_SECRET_BYTES	64	/* crypto_sign_SECRETKEYBYTES */
/* Length of a public key as text (URL-safe base64, no padding). */
#define DYN_KEY_TEXT_LEN		43
#define DYN_TRUST_NAME_MAX		64
/* Largest trust file read (about 10,000 keys). */
#define DYN_TRUST_FILE_MAX		(1024 * 1024)

/*
 * Roles a trusted key can have.  DYN_ROLE_NONE is what an unknown key gets:
 * it may do nothing.
 */
typedef enum dyn_role
{
	DYN_ROLE_NONE = 0,
	DYN_ROLE_READ = 1,
	DYN_ROLE_WRITE = 2,
	DYN_ROLE_ADMIN = 3,
	DYN_ROLE_NODE = 4
} dyn_role;

/*
 * A key pair, caller-owned (a plain struct: embed it or put it on the
 * stack).  Clear it with dyn_identity_clear when done, so the secret does
 * not linger in memory.
 */
typedef struct dyn_identity
{
	uint8_t		pk[DYN_KEY_PUBLIC_BYTES];
	uint8_t		sk[DYN_KEY_SECRET_BYTES];
} dyn_identity;

/* One line of a trust file. */
typedef struct dyn_trust_entry
{
	uint8_t		pk[DYN_KEY_PUBLIC_BYTES];
	dyn_role	role;
	int			line;			/* where it was read, for messages */
	char		name[DYN_TRUST_NAME_MAX + 1];
} dyn_trust_entry;

/*
 * The keys a process accepts, sorted by public key for lookup.  Owned by the
 * caller: dyn_trust_init, dyn_trust_load (or dyn_trust_parse), then
 * dyn_trust_free.  Channels and clients borrow it, so it must outlive them.
 */
typedef struct dyn_trust
{
	dyn_trust_entry *entries;
	size_t		n;
} dyn_trust;

/* A fresh random key pair.  DYN_OK, or DYN_ERR_INVAL if libsodium cannot start. */
int			dyn_identity_generate(dyn_identity *id);

/*
 * Write id's secret key to a new file at path with mode 0600 (and flushed
 * to disk).  An existing file is never overwritten: losing a key loses an
 * identity.  On failure nothing is left behind and err says why.
 */
int			dyn_identity_save(const dyn_identity *id, const char *path,
							  char *err, size_t errlen);

/*
 * Read a key file.  Refused (DYN_ERR_INVAL, err names the file and, for
 * content errors, the line): a file group or others may read, not a
 * regular file, a wrong format tag, bad base64, a wrong length, or a secret
 * key whose public half does not match its seed.  DYN_ERR_IO when it
 * cannot be opened or read.
 */
int			dyn_identity_load(dyn_identity *id, const char *path,
							  char *err, size_t errlen);

/* Wipe the secret key (sodium_memzero). */
void		dyn_identity_clear(dyn_identity *id);

/* pk as its 43-character text, NUL-terminated (out has room for 44). */
void		dyn_key_to_text(const uint8_t *pk, char *out);

/*
 * Parse the 43-character text form (exactly; nothing may trail) into pk.
 * DYN_OK or DYN_ERR_INVAL.
 */
int			dyn_key_from_text(const char *text, size_t len, uint8_t *pk);

void		dyn_trust_init(dyn_trust *t);
void		dyn_trust_free(dyn_trust *t);

/*
 * Load a trust file into t (which must be freshly initialised or freed).
 * Refused (DYN_ERR_INVAL, err as "PATH:LINE: why" for content): a file
 * group or others may write, not a regular file, larger than
 * DYN_TRUST_FILE_MAX, a malformed line, a duplicate key.  DYN_ERR_IO when it
 * cannot be opened or read.  On failure t is left empty.
 */
int			dyn_trust_load(dyn_trust *t, const char *path, char *err, size_t errlen);

/*
 * Parse trust-file text (len bytes, need not be NUL-terminated); name is
 * what error messages call it.  For callers that keep the text elsewhere
 * (the FDW) and for tests.  Same refusals as dyn_trust_load minus the file
 * checks.
 */
int			dyn_trust_parse(dyn_trust *t, const char *name, const char *text,
							size_t len, char *err, size_t errlen);

/* The entry for pk, or NULL when the key is not trusted. */
const dyn_trust_entry *dyn_trust_find(const dyn_trust *t, const uint8_t *pk);

/* "read", "write", "admin", "node", or "none". */
const char *dyn_role_name(dyn_role role);

/* The role named by s[0..len); DYN_OK or DYN_ERR_INVAL. */
int			dyn_role_from_name(const char *s, size_t len, dyn_role *out);

/*
 * Whether a peer with this role may send a frame of this type.  Types the
 * table does not list (replies, unknown types) are allowed to no one.
 */
bool		dyn_role_allows(dyn_role role, uint8_t msg_type);

/*
 * The names of the roles that may send msg_type, comma-separated, into out
 * (for refusal messages such as "put needs role write or admin").
 */
void		dyn_role_describe(uint8_t msg_type, char *out, size_t outlen);

#endif							/* DYNAMO_IDENTITY_H */
