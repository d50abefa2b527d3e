/*
 * actor.h
 *		Who gives a new version its dot: a node's actors, one per data set
 *		it may coordinate writes from.
 *
 * A dot (actor, counter) names one version for ever, so an actor may issue
 * a counter only while it holds every version it ever dotted for that key
 * (or one that supersedes it): then a fresh counter is above every one it
 * used, and the new version's clock, which covers all of the actor's
 * counters up to the new one, covers only versions the coordinator holds
 * and ships beside it (coordinator.h has the whole argument).
 *
 * So an actor is an identity of a data set, not of a node (Riak's vnode ids
 * and fallback vnodes, riak_kv_vnode):
 *
 *	- the owner actor: the node id while the node keeps every version it
 *	  dotted; once it lost data (a wiped data directory, a `memory` engine
 *	  restarted) or dropped a partition it may own again, an incarnation,
 *	  drawn then and anew at every start;
 *	- a stand-in actor per partition: an incarnation drawn when the node
 *	  first coordinates a write of that partition as a stand-in (its copy
 *	  kept as a hint), retired as soon as any hint of the partition is
 *	  deleted (handed off), and never kept across a restart.
 *
 * An incarnation is "<first 20 bytes of the node id>~<64 random bits in
 * URL-safe base64>" (at most 32 bytes, a clock entry's id); the random part
 * makes it unique, the prefix makes it readable.  An incarnation's counters
 * also never go down while it lives (each dot is above the last it issued
 * for any key), so forgetting a counter (a clock truncated past
 * DYN_VCLOCK_CAP entries, a key reaped) cannot make it issue one twice,
 * and clock truncation drops incarnation entries before node ids
 * (object.c).  The node id keeps per-key counters, so that a node that
 * never lost data writes the clocks it always did.
 */
#ifndef DYNAMO_ACTOR_H
#define DYNAMO_ACTOR_H

#include "dynamo/vclock.h"

#define DYN_ACTOR_PREFIX_MAX	20	/* bytes of the node id an incarnation starts with */
#define DYN_ACTOR_SEP			'~'
#define DYN_ACTOR_RANDOM_LEN	8	/* random bytes of an incarnation */

/* One actor: its id and the highest counter it issued (incarnations). */
typedef struct dyn_actor
{
	char		id[DYN_NODE_ID_MAX + 1];	/* "" while none is drawn */
	bool		incarnation;	/* counters floored by issued */
	uint64_t	issued;			/* the highest counter it gave a dot */
} dyn_actor;

/* A node's actors: its owner actor and a stand-in actor per partition. */
typedef struct dyn_actors
{
	char		node_id[DYN_NODE_ID_MAX + 1];
	dyn_actor	owner;
	uint32_t	partitions;
	dyn_actor  *standin;		/* partitions entries, heap */
	uint64_t	drawn;			/* incarnations drawn since start */
	uint64_t	retired;		/* stand-in incarnations retired since start */
} dyn_actors;

/*
 * The incarnation id of node_id for random bytes rnd (pure: the model test
 * draws its own).  out holds DYN_NODE_ID_MAX + 1 bytes.
 */
void		dyn_actor_name(const char *node_id, const uint8_t rnd[DYN_ACTOR_RANDOM_LEN],
						   char *out);
/* Whether a clock entry's id is an incarnation (has the separator). */
bool		dyn_actor_is_incarnation(dyn_slice id);
/* The counter a new dot of a must be above, besides the key's own counters. */
static inline uint64_t
dyn_actor_floor(const dyn_actor *a)
{
	return a->incarnation ? a->issued : 0;
}
/*
 * Whether a writer's context ctx can be one this cluster returned, as far
 * as a's counters go: an incarnation knows the highest counter it ever
 * issued, so a context above it was forged (and taking it would raise
 * the floor of every key a dots, up to the counter's limit); a node id
 * cannot tell.
 */
static inline bool
dyn_actor_context_ok(const dyn_actor *a, const dyn_vclock *ctx)
{
	return !a->incarnation || dyn_vclock_get(ctx, dyn_slice_str(a->id)) <= a->issued;
}
/* Note that a gave a dot this counter. */
static inline void
dyn_actor_issued(dyn_actor *a, uint64_t counter)
{
	if (counter > a->issued)
		a->issued = counter;
}

/*
 * The owner actor is node_id, or an incarnation when lost_data.
 * DYN_ERR_NOMEM, DYN_ERR_INVAL for an id that holds the separator (it
 * could be taken for an incarnation).
 */
int			dyn_actors_init(dyn_actors *a, const char *node_id, uint32_t partitions,
							bool lost_data);
void		dyn_actors_free(dyn_actors *a);
/* The node lost its data: the owner actor becomes a new incarnation. */
void		dyn_actors_incarnate_owner(dyn_actors *a);
/* The stand-in actor of partition, drawn if it has none; NULL out of range. */
dyn_actor  *dyn_actors_standin(dyn_actors *a, uint32_t partition);
/* A hint of partition was handed off: its stand-in actor is retired. */
void		dyn_actors_retire(dyn_actors *a, uint32_t partition);

#endif							/* DYNAMO_ACTOR_H */
