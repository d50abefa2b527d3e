/*
 * throttle.h
 *		Token buckets: the one that bounds the bytes per second the node's
 *		background work (anti-entropy, partition handoff, dropping handed-off
 *		data) puts on the network and the engine, so that it cannot starve
 *		client requests; and the ones that bound the secure handshakes a node
 *		starts, per source address and in total, so that a flood of them
 *		cannot starve the clients already connected (conn.c).
 *
 * Background work: every request is charged its bytes once they are known
 * (the request when sent, the reply when it arrives); before sending the
 * next one a task asks how long to wait (it may go into debt).  Handshakes:
 * each accepted connection takes one token or is refused, never in debt.
 * A bucket holds at most one second of rate, so a source that was idle does
 * not burst past the bound.
 *
 * The per-address buckets are a fixed array indexed by a keyed hash of the
 * address (SipHash with a random key drawn at start), not a map that grows
 * with the addresses seen: its memory is bounded whatever the peers do, and
 * an attacker cannot choose addresses that land on a victim's bucket.  Two
 * addresses that do share a slot share its rate.  An IPv6 peer is keyed by
 * its /64, the block one host normally gets; an IPv4-mapped IPv6 address by
 * its IPv4 address.
 */
#ifndef DYNAMOD_THROTTLE_H
#define DYNAMOD_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

typedef struct dyn_throttle
{
	uint64_t	rate;			/* units per second; 0 means unbounded */
	int64_t		tokens;			/* units that may go now (negative: in debt) */
	uint64_t	last_ms;		/* when tokens were last refilled */
	uint64_t	earned;			/* rate * ms not yet a whole token (< 1000) */
	uint64_t	waited_ms;		/* total time tasks were told to wait */
} dyn_throttle;

/* A full bucket of rate units per second (0: no bound). */
void		dyn_throttle_init(dyn_throttle *t, uint64_t rate, uint64_t now_ms);
/* Spend units (may go into debt: the next wait pays it back). */
void		dyn_throttle_charge(dyn_throttle *t, uint64_t units, uint64_t now_ms);
/* Milliseconds to wait before the next request may go; 0 when it may go now. */
uint64_t	dyn_throttle_delay(dyn_throttle *t, uint64_t now_ms);
/* Take units if the bucket holds them all (true), else take nothing (false). */
bool		dyn_throttle_take(dyn_throttle *t, uint64_t units, uint64_t now_ms);
/* Give units back (a take that turned out not to cost), up to a full bucket. */
void		dyn_throttle_give(dyn_throttle *t, uint64_t units);

/* Per-address buckets (see above); a plain struct owned by the caller. */
typedef struct dyn_throttle_table
{
	dyn_throttle *slots;
	uint32_t	mask;			/* slots - 1 (a power of two) */
	uint8_t		key[16];		/* crypto_shorthash key */
} dyn_throttle_table;

/*
 * nslots buckets (rounded up to a power of two) of rate units per second,
 * full, and a fresh hash key.  DYN_OK, DYN_ERR_NOMEM, or DYN_ERR_INVAL if
 * libsodium cannot start.
 */
int			dyn_throttle_table_init(dyn_throttle_table *tt, uint32_t nslots,
									uint64_t rate, uint64_t now_ms);
void		dyn_throttle_table_free(dyn_throttle_table *tt);
/* The bucket of the address sa (AF_INET or AF_INET6; any other shares one). */
dyn_throttle *dyn_throttle_table_slot(dyn_throttle_table *tt, const struct sockaddr *sa);

/*
 * The bytes that identify sa's source for rate limits into out (16 bytes
 * of room): 4 for IPv4 and IPv4-mapped IPv6, 8 (the /64) for IPv6, 0 for
 * other families.  Returns how many.
 */
size_t		dyn_throttle_addr_key(const struct sockaddr *sa, uint8_t *out);

#endif							/* DYNAMOD_THROTTLE_H */
