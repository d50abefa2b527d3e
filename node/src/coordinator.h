/*
 * coordinator.h
 *		Coordinating client requests across the cluster: quorum GET with
 *		read repair, quorum PUT/DELETE with sloppy quorum and hints, and
 *		forwarding of writes to the node that should coordinate them.
 *
 * Any node takes any request.  A GET is coordinated where it arrives.  A
 * write is coordinated by a node of the key's extended preference list as
 * this node sees it (the first N healthy nodes, stand-ins included): this
 * node if it owns the key; else an owner it reaches (COORD_PUT/COORD_
 * DELETE), since owners hold the key's siblings and keep its actors few,
 * as Riak prefers primaries; with no owner reachable, this node itself if
 * it is in the list, else the list's stand-ins in order; and when every
 * node tried refused, failed or timed out, this node after all.  So a
 * write succeeds while W nodes of the extended list reach the node the
 * client reached, whether or not any owner does (Dynamo's always-writeable
 * promise).  A forwarded write is coordinated where it lands, never
 * forwarded again.
 *
 * Why that keeps every version (dynamo/actor.h has the actors):
 *
 *   Dots are unique.  A dot is (actor, counter).  A coordinator dots as
 *   its owner actor when it owns the key, as its stand-in actor of the
 *   key's partition when it does not.  Incarnations differ from every
 *   other actor (64 random bits) and never issue a counter twice: each dot
 *   is above the last one they issued.  A node id picks the counter above
 *   every counter of its own that the key's copy here and the context
 *   show, and the copy holds every version it dotted or one that
 *   supersedes it (whose clock carries its entry): it was written here
 *   first, a merge drops a version only for one whose clock covers it,
 *   handoff brings a partition's data before the node owns it, a node
 *   that lost data or drops a partition dots as an incarnation from then
 *   on (handoff.c), and clock truncation drops incarnation entries before
 *   node ids.
 *
 *   No context covers a version its reader did not see.  A new version's
 *   clock is the context plus the dot.  The context covers what the
 *   reader saw; the dot (A, c) also covers A's versions of the key below
 *   c, and those are all in the coordinator's copy (or superseded by one
 *   in it): for a stand-in the copy is the union of every hint it holds
 *   for the key (dyn_hints_gather fails rather than miss one), and its
 *   actor is retired the moment any hint of the partition is deleted
 *   after hand-off, so the actor never dots again without its history.
 *   The coordinator ships that whole copy, and a merge keeps a sibling
 *   the other side lacks unless that side covers it; so every replica
 *   that holds the new version holds those beside it, and so does every
 *   reader who sees it.
 *
 *   No acknowledged write is lost or comes back.  W copies were kept: the
 *   coordinator's (its store, or a hint for an owner; made before
 *   anything is shipped, and a failure fails the write), and replicas'
 *   or stand-ins' (a hint, deleted only once its owner acknowledged it).
 *   Hints, read repair and anti-entropy are merges, which drop only what
 *   the other side's clocks cover: versions a writer saw and superseded.
 *   Past DYN_VCLOCK_CAP entries a superseded version may come back as a
 *   sibling (README, How a key's versions work), never a version lost.
 *
 * node/tests/test_model.c runs this against random histories.
 *
 * The coordinator writes locally first (an owner: dyn_store_write_as gives
 * the new sibling set and the new version's clock; a stand-in: its hints
 * of the key and the new version, kept as a hint), then ships that *whole
 * sibling set* to the other targets, which merge it (dyn_object_merge): a
 * replica never holds a dot without the siblings its coordinator held
 * beside it.  The local copy is one acknowledgement when this node is a
 * target; a target that fails before W is replaced by the next healthy
 * node of the extended list, with a hint; the answer goes out at W
 * (dyn_write_decide, dynamo/quorum.h).
 *
 * Requests are answered asynchronously: the connection is held (dyn_conn_
 * hold) until the answer, and an answer for a connection that closed
 * meanwhile is dropped.
 */
#ifndef DYNAMOD_COORDINATOR_H
#define DYNAMOD_COORDINATOR_H

#include "request.h"
#include "node.h"

/* Deadline of one replica read or write. */
#define DYN_REPLICA_TIMEOUT_MS	2000
/* Deadline of a write forwarded to its coordinator (it waits for replicas). */
#define DYN_FORWARD_TIMEOUT_MS	(DYN_REPLICA_TIMEOUT_MS + 2000)

/* GET: quorum read from the first N healthy nodes, then read repair. */
void		dyn_coord_get(dyn_node *node, dyn_conn *c, uint32_t reqid,
						  const dyn_get_req *req);

/*
 * PUT, DELETE (type of the client's frame), or COORD_PUT/COORD_DELETE from
 * a node that forwarded the write here; body is the frame's body (kept for
 * forwarding).
 */
void		dyn_coord_write(dyn_node *node, dyn_conn *c, uint8_t type, uint32_t reqid,
							const dyn_put_req *req, dyn_slice body);

/*
 * The coordinator's own state (node->coord: request records kept for
 * reuse, its encoding buffers), made before the node takes requests.
 * @return DYN_OK, or DYN_ERR_NOMEM (node->coord left NULL).
 */
int			dyn_coord_init(dyn_node *node);
/* Free it and the records kept (after the loop has ended; NULL is fine). */
void		dyn_coord_free(dyn_node *node);

#endif							/* DYNAMOD_COORDINATOR_H */
