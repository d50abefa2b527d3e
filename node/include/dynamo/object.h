/*
 * object.h
 *		Sibling sets as dotted version vectors: what one key holds.
 *
 * An object is the set of concurrent versions (siblings) of one key.  Every
 * sibling carries the clock of what its writer had seen plus its own event,
 * the *dot* (node id, counter), which is the clock's entry for the node that
 * coordinated the write.  Two rules, from DESIGN.md section 1:
 *
 *	- a coordinator's write with context C removes exactly the siblings whose
 *	  dots C covers and adds one new sibling whose dot is a fresh counter of
 *	  the coordinator (above every counter in C or in the object), so two
 *	  writes from the same context through one node stay two siblings;
 *	- a replica-to-replica merge keeps the union of both sides minus the
 *	  siblings that one side lacks although its context covers their dot
 *	  (that side saw them and superseded them).
 *
 * Tombstones (deletes) are siblings with no value; they keep their clocks so
 * the context still covers what they deleted.
 *
 * Encoding: u8 format (1), u16 sibling count, then per sibling: u8 flags
 * (bit 0: tombstone), u8 dot index into the clock's entries, the clock
 * (vclock.h encoding), u32 value length, value bytes.
 *
 * Siblings are kept in dot order (node id as in dyn_slice_cmp, then
 * counter; no two share a dot) so that the encoding is canonical: replicas
 * that hold the same versions hold the same bytes, whatever order the
 * versions reached them in, and anti-entropy can compare hashes of them.
 *
 * Sibling values are slices: after dyn_object_decode they point into the
 * decoded bytes; dyn_object_put/merge add slices owned by the caller.  Keep
 * every source alive until the object is encoded or freed.
 */
#ifndef DYNAMO_OBJECT_H
#define DYNAMO_OBJECT_H

#include "dynamo/vclock.h"

#define DYN_OBJECT_FORMAT	1
#define DYN_SIBLINGS_MAX	1024	/* refuse to grow a key past this */

typedef struct dyn_sibling
{
	dyn_vclock	clock;			/* what the writer had seen, plus the dot */
	uint8_t		dot;			/* index of the dot's entry in clock.e */
	bool		tombstone;
	dyn_slice	value;			/* empty for tombstones */
} dyn_sibling;

/* A key's sibling set; the sibling array is heap memory owned by the object. */
typedef struct dyn_object
{
	size_t		n;
	size_t		cap;
	dyn_sibling *s;
} dyn_object;

void		dyn_object_init(dyn_object *o);
void		dyn_object_free(dyn_object *o);
/*
 * Parse an encoded object; an empty slice is the empty object.
 * DYN_ERR_PROTO for anything the encoder cannot make, including a version
 * whose clock covers another's dot other than through its own dot's entry
 * (it saw that version, which cannot then be its sibling).
 */
int			dyn_object_decode(dyn_slice bytes, dyn_object *o);
void		dyn_object_encode(const dyn_object *o, dyn_buf *b);
/* The context: the merge of every sibling's clock, tombstones included. */
void		dyn_object_context(const dyn_object *o, dyn_vclock *ctx);
/* Siblings that are not tombstones. */
size_t		dyn_object_live(const dyn_object *o);

/*
 * Facts read straight from an encoded object, walking the bytes without
 * decoding or allocating (for scans over a whole store and for the write
 * path, which must judge the old bytes cheaply).  A malformed or empty
 * slice answers false / 0.
 *
 * dyn_object_bytes_all_tombstones: whether the object has siblings and
 * every one is a tombstone (a deleted key that only waits to be reaped).
 * dyn_object_bytes_newest_ms: the newest timestamp (ms since the epoch)
 * among the siblings' dots, i.e. when the latest version was written by
 * its coordinator; the start of a tombstone's grace period.
 */
bool		dyn_object_bytes_all_tombstones(dyn_slice encoded);
uint64_t	dyn_object_bytes_newest_ms(dyn_slice encoded);

/*
 * The coordinator's write: supersede the siblings covered by ctx and add a
 * new sibling (a tombstone when value is NULL) dotted by node_id.  The new
 * sibling's clock is all of ctx plus the dot, so that every replica that
 * merges it drops what ctx covers (only a full ctx without node_id's entry
 * loses one: see object.c); it is copied to *written when that is not NULL
 * (that clock is what PUT returns as the new context).  DYN_ERR_TOOBIG past
 * DYN_SIBLINGS_MAX siblings, DYN_ERR_INVAL for a bad node id.
 */
int			dyn_object_put(dyn_object *o, dyn_slice node_id, const dyn_vclock *ctx,
						   const dyn_slice *value, uint64_t now_ms,
						   dyn_vclock *written);
/*
 * The same with the dot's counter also above floor: an incarnation's
 * counters never go down (dynamo/actor.h), whatever the key still shows.
 */
int			dyn_object_put_above(dyn_object *o, dyn_slice node_id, uint64_t floor,
								 const dyn_vclock *ctx, const dyn_slice *value,
								 uint64_t now_ms, dyn_vclock *written);

/*
 * Replica-to-replica merge of other into o (read repair, hints, handoff,
 * anti-entropy).  Siblings with the same dot are the same version and kept
 * once (of two different copies, the same one on every replica).  The
 * merge is commutative, idempotent and absorbing (merging a side in again
 * changes nothing).  DYN_OK, DYN_ERR_TOOBIG past DYN_SIBLINGS_MAX or
 * DYN_ERR_NOMEM (o unchanged); *changed (if not NULL) says whether o
 * changed.
 */
int			dyn_object_merge(dyn_object *o, const dyn_object *other, bool *changed);

#endif							/* DYNAMO_OBJECT_H */
