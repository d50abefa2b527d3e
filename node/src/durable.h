/*
 * durable.h
 *		The bookkeeping of group commit, as pure functions: which replies
 *		may leave, given which writes are durable.
 *
 * With group commit (engine.h) a write is committed at once but durable
 * only after the next dyn_engine_sync, which covers every write made before
 * it started.  A reply may leave once every write it could depend on is
 * durable -- and since a reply can depend on any write made before it
 * (a GET sees the PUT of another connection), "every write made before the
 * reply" is the rule.  Syncs are numbered: generation g is the sync that
 * starts after generation g-1 has started, and covers the writes made
 * before it starts.
 *
 * dyn_durable is the node's clock of generations; dyn_release is one
 * connection's queue of reply bytes with the generation each must wait
 * for.  Neither knows about libuv or the engine: group.c and conn.c feed
 * them the engine's write count and the connection's output lengths, and
 * test_durable.c checks them on their own.
 */
#ifndef DYNAMOD_DURABLE_H
#define DYNAMOD_DURABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Group sizes remembered, to tell a group that is still forming. */
#define DYN_DURABLE_RECENT	8

/*
 * The node's generations.  Every generation up to durable is durable; a
 * sync of generation flying is running when in_flight; writes made after
 * the last sync started (the engine's write count differs from
 * synced_writes) join generation next.  recent holds the writes the last
 * DYN_DURABLE_RECENT syncs covered.
 */
typedef struct dyn_durable
{
	uint64_t	next;
	uint64_t	durable;
	uint64_t	flying;
	bool		in_flight;
	uint64_t	synced_writes;
	uint64_t	recent[DYN_DURABLE_RECENT];
	unsigned	recent_n;		/* syncs started, the next slot of recent */
	bool		failed;			/* a sync failed: nothing is durable from it on */
} dyn_durable;

/* A clock with nothing to sync; writes is the engine's count now. */
void		dyn_durable_init(dyn_durable *d, uint64_t writes);

/*
 * The generation a reply produced now must wait for, with the engine at
 * writes: the next sync if anything was written since the last one
 * started, else the one in flight, else none (a generation already
 * durable).  After a failed sync, UINT64_MAX: a generation never reached.
 */
uint64_t	dyn_durable_need(const dyn_durable *d, uint64_t writes);

/*
 * Whether a sync should start now (nothing in flight and something to
 * sync); if so it is counted as started, covering generation d->flying.
 */
bool		dyn_durable_start(dyn_durable *d, uint64_t writes);

/* The sync in flight has ended: its generation is durable. */
void		dyn_durable_done(dyn_durable *d);

/*
 * The sync in flight has failed: its writes are committed (a GET may read
 * them) but not durable, and no later sync can be trusted to cover them
 * (after a failed fsync the kernel may have dropped the pages it did not
 * write, and the next fsync succeeds without them).  So durable never
 * advances again and every reply from now on waits for a generation that
 * is never reached: the node acknowledges nothing until it is restarted
 * and recovery has read what the disk holds.
 */
void		dyn_durable_fail(dyn_durable *d);

/*
 * Whether a sync that could start now should wait a little for more
 * writes: fewer are waiting than one of the recent syncs covered.  With
 * many clients, each waiting for its reply before it writes again, the
 * clients released by one sync write again while the next sync is being
 * started; starting it at once with only the others splits the clients in
 * two groups that take turns, each sync covering half of them, for good.
 * Waiting until the group is as large as recent ones were (the caller
 * bounds the wait) keeps them in one.  A single client never waits: its
 * groups are all of one write.
 */
bool		dyn_durable_forming(const dyn_durable *d, uint64_t writes);

/* Release marks a connection keeps at most; more are merged (later). */
#define DYN_RELEASE_MARKS	4

/*
 * One connection's output as far as durability goes: the first ready
 * bytes may be sent; bytes up to tagged wait, mark by mark, for their
 * generation; bytes past tagged have not been looked at yet.  Offsets
 * count from the front of the connection's unsent output.
 */
typedef struct dyn_release
{
	size_t		ready;
	size_t		tagged;
	int			n;
	struct
	{
		size_t		end;		/* bytes before this offset ... */
		uint64_t	gen;		/* ... wait for this generation */
	}			m[DYN_RELEASE_MARKS];
} dyn_release;

/*
 * The output has grown to len bytes: the new ones wait for generation gen
 * (behind any held before them, since output leaves in order).  Then
 * release what durable allows.  When the marks are full the newest mark
 * absorbs the new bytes and takes the later generation, which only delays.
 */
void		dyn_release_tag(dyn_release *r, size_t len, uint64_t gen, uint64_t durable);

/* Release the bytes whose generation is durable now; returns r->ready. */
size_t		dyn_release_advance(dyn_release *r, uint64_t durable);

/* n ready bytes (n <= r->ready) have left the front of the output. */
void		dyn_release_consume(dyn_release *r, size_t n);

/* Whether tagged bytes are still waiting. */
bool		dyn_release_held(const dyn_release *r);

/* Forget everything (the output was dropped). */
void		dyn_release_reset(dyn_release *r);

#endif							/* DYNAMOD_DURABLE_H */
