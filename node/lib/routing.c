/*
 * routing.c
 *		Partition-aware routing tables for clients (see routing.h).
 */
#include "dynamo/routing.h"

#include <stdlib.h>
#include <string.h>

void
dyn_routing_init(dyn_routing *rt)
{
	memset(rt, 0, sizeof(*rt));
	(void) dyn_ring_init(&rt->ring, DYN_PARTITIONS_DEFAULT, 3);
}

void
dyn_routing_free(dyn_routing *rt)
{
	dyn_ring_free(&rt->ring);
	free(rt->up);
	rt->up = NULL;
}

/*
 * Decode the ring first (it says who the members are), then take each
 * member's status from the view.
 */
int
dyn_routing_decode(dyn_slice body, dyn_routing *rt)
{
	dyn_view_msg msg;
	dyn_reader	r;
	dyn_ring	ring;
	bool	   *up = NULL;
	int			rc;

	if ((rc = dyn_view_decode(body, &msg)) != DYN_OK)
		return rc;
	if ((rc = dyn_ring_init(&ring, DYN_PARTITIONS_DEFAULT, 3)) != DYN_OK)
		return rc;
	if ((rc = dyn_ring_decode(msg.ring, &ring)) != DYN_OK)
	{
		dyn_ring_free(&ring);
		return rc;
	}
	if (ring.nmembers > 0)
	{
		up = malloc(ring.nmembers * sizeof(bool));
		if (up == NULL)
		{
			dyn_ring_free(&ring);
			return DYN_ERR_NOMEM;
		}
		for (uint32_t i = 0; i < ring.nmembers; i++)
			up[i] = true;
	}
	dyn_reader_init(&r, msg.members);
	for (uint16_t i = 0; i < msg.count; i++)
	{
		dyn_member_entry e;
		int			ix;

		if (dyn_view_next(&r, &e) != DYN_OK)
		{
			free(up);
			dyn_ring_free(&ring);
			return DYN_ERR_PROTO;
		}
		ix = dyn_ring_member_index(&ring, e.id);
		if (ix >= 0)
			up[ix] = e.status == DYN_MEMBER_UP;
	}
	dyn_routing_free(rt);
	rt->ring = ring;
	rt->up = up;
	return DYN_OK;
}

/*
 * The one definition of "the node a key goes to" (the node, dynamo-bench
 * and dynamo_fdw all route by it): the key's owners in preference-list
 * order, the first that is up and usable.  Past the owners no node is
 * better than another -- a non-owner forwards a write to an owner -- so
 * the extended list is not walked.  first_if_none: what to answer when no owner
 * qualifies (-1, or the first owner).
 */
static int
routing_pick(const dyn_routing *rt, dyn_slice bucket, dyn_slice key,
			 dyn_routing_usable_fn usable, void *arg, bool first_if_none)
{
	uint32_t	ix[DYN_RING_N_MAX];
	int			n;
	uint32_t	owners;

	if (rt->ring.nmembers == 0)
		return -1;
	owners = rt->ring.n < rt->ring.nmembers ? rt->ring.n : rt->ring.nmembers;
	n = dyn_ring_preflist_key(&rt->ring, bucket, key, ix,
							  owners < DYN_RING_N_MAX ? owners : DYN_RING_N_MAX);
	if (n <= 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (rt->up[ix[i]] && (usable == NULL || usable(arg, (int) ix[i])))
			return (int) ix[i];
	return first_if_none ? (int) ix[0] : -1;
}

int
dyn_routing_coordinator(const dyn_routing *rt, dyn_slice bucket, dyn_slice key)
{
	return routing_pick(rt, bucket, key, NULL, NULL, true);
}

int
dyn_routing_coordinator_usable(const dyn_routing *rt, dyn_slice bucket, dyn_slice key,
							   dyn_routing_usable_fn usable, void *arg)
{
	return routing_pick(rt, bucket, key, usable, arg, false);
}
