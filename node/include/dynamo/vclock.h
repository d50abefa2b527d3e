/*
 * vclock.h
 *		Vector clocks: (node id, counter, timestamp) entries.
 *
 * A dyn_vclock is a fixed-size value type (no heap): entries are kept sorted
 * by node id so that compare and merge are a single merge-walk and the
 * binary encoding is canonical.  A clock holds at most DYN_VCLOCK_CAP
 * entries; a merge past that drops the oldest timestamps (object.c says
 * how a write keeps what its context covers).
 *
 * Binary encoding (compact, used in stored objects and as the opaque
 * context): u8 count, then per entry u8 idlen, id bytes, varint counter,
 * varint timestamp (milliseconds since the epoch).
 */
#ifndef DYNAMO_VCLOCK_H
#define DYNAMO_VCLOCK_H

#include "dynamo/buf.h"

#define DYN_NODE_ID_MAX		32	/* bytes in a node id */
#define DYN_VCLOCK_CAP		32	/* entries a clock can hold at all */

typedef struct dyn_vclock_entry
{
	uint64_t	counter;
	uint64_t	ts_ms;
	uint8_t		idlen;
	char		id[DYN_NODE_ID_MAX];
} dyn_vclock_entry;

typedef struct dyn_vclock
{
	uint8_t		n;
	dyn_vclock_entry e[DYN_VCLOCK_CAP];
} dyn_vclock;

/* How clock a relates to clock b. */
typedef enum dyn_vc_order
{
	DYN_VC_EQUAL,
	DYN_VC_BEFORE,				/* a happened before b (b dominates) */
	DYN_VC_AFTER,				/* a dominates b */
	DYN_VC_CONCURRENT
} dyn_vc_order;

void		dyn_vclock_init(dyn_vclock *vc);
/* The counter for id, 0 when id has no entry. */
uint64_t	dyn_vclock_get(const dyn_vclock *vc, dyn_slice id);
/* Whether vc has seen the event (id, counter): vc[id] >= counter. */
bool		dyn_vclock_covers(const dyn_vclock *vc, dyn_slice id, uint64_t counter);
/*
 * Set id's entry to (counter, ts_ms), adding it if missing.  DYN_ERR_INVAL
 * for an empty or over-long id or a zero counter (a missing entry already
 * means 0, and decoding refuses 0), DYN_ERR_TOOBIG when the clock is full.
 */
int			dyn_vclock_set(dyn_vclock *vc, dyn_slice id, uint64_t counter,
						   uint64_t ts_ms);
/* Add one to id's counter (adding it at 1) and stamp it with ts_ms. */
int			dyn_vclock_increment(dyn_vclock *vc, dyn_slice id, uint64_t ts_ms);
dyn_vc_order dyn_vclock_compare(const dyn_vclock *a, const dyn_vclock *b);
/*
 * Pointwise maximum into *into (the newer timestamp wins with the counter).
 * When the union has more than DYN_VCLOCK_CAP entries the oldest are
 * dropped to fit; DYN_OK always.
 */
int			dyn_vclock_merge(dyn_vclock *into, const dyn_vclock *from);
/* Drop oldest-timestamp entries until at most max remain, never keep's. */
void		dyn_vclock_truncate(dyn_vclock *vc, size_t max, dyn_slice keep);

void		dyn_vclock_encode(const dyn_vclock *vc, dyn_buf *b);
/* Decode from a reader (sets r->err on malformed input). */
int			dyn_vclock_read(dyn_reader *r, dyn_vclock *vc);
/* Decode a whole slice (an opaque context); the empty slice is the empty clock. */
int			dyn_vclock_decode(dyn_slice s, dyn_vclock *vc);
/* Append {"n1":3,"n2":1} (ids JSON-escaped, sorted by id). */
void		dyn_vclock_to_json(const dyn_vclock *vc, dyn_buf *b);

/*
 * Contexts as text for people and SQL: URL-safe base64 of the binary
 * encoding without padding; the empty clock (an empty context, or the one
 * byte a zero-entry clock encodes to) is the empty string, which converts
 * back to an empty context.  to_text appends the text and a NUL that is
 * not counted in out->len; from_text appends the binary context and
 * returns DYN_ERR_PROTO (out unchanged) unless text is canonical base64 of
 * a well-formed clock.
 */
void		dyn_context_to_text(dyn_slice context, dyn_buf *out);
int			dyn_context_from_text(const char *text, dyn_buf *out);

#endif							/* DYNAMO_VCLOCK_H */
