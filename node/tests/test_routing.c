/*
 * test_routing.c
 *		Unit tests for routing.c: a RING_REPLY as a node sends it decodes
 *		into the ring and each member's health, and the coordinator picked
 *		for a key is the first healthy node of its preference list -- with
 *		the client's own verdict too (dyn_routing_coordinator_usable).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dynamo/routing.h"

static void build_reply(dyn_buf *b, const dyn_ring *ring, const uint8_t *status);
static void make_ring(dyn_ring *ring);
static void load_view(dyn_routing *rt, dyn_buf *b, const dyn_ring *ring, const uint8_t *status);
static void test_decode_and_route(void **state);
static void test_refuses_bad_bodies(void **state);
static void test_empty(void **state);
static void test_usable(void **state);
static bool usable_except(void *arg, int member);

/* Four members n1..n4 on 16 partitions, N=2. */
static void
make_ring(dyn_ring *ring)
{
	static const char *ids[] = {"n1", "n2", "n3", "n4"};
	static const char *addrs[] = {"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4"};

	assert_int_equal(dyn_ring_init(ring, 16, 2), DYN_OK);
	for (int i = 0; i < 4; i++)
		assert_int_equal(dyn_ring_add_member(ring, dyn_slice_str(ids[i]),
											 dyn_slice_str(addrs[i]), dyn_slice_str("")),
						 DYN_OK);
}

/* A RING_REPLY frame with one status per ring member. */
static void
build_reply(dyn_buf *b, const dyn_ring *ring, const uint8_t *status)
{
	dyn_buf		enc;
	size_t		start;

	dyn_buf_init(&enc);
	dyn_ring_encode(ring, &enc);
	start = dyn_view_begin(b, DYN_MSG_RING_REPLY, 1);
	for (uint32_t i = 0; i < ring->nmembers; i++)
	{
		dyn_member_entry e = {
			dyn_ring_member_id(&ring->members[i]),
			dyn_slice_str(ring->members[i].address), dyn_slice_str(""),
			status[i], 1, 1, ring->version
		};

		dyn_view_add(b, &e);
	}
	dyn_view_end(b, start, (uint16_t) ring->nmembers, dyn_buf_slice(&enc));
	assert_int_equal(b->err, DYN_OK);
	dyn_buf_free(&enc);
}

/* Decode into rt the RING_REPLY of ring with these statuses (built in b). */
static void
load_view(dyn_routing *rt, dyn_buf *b, const dyn_ring *ring, const uint8_t *status)
{
	dyn_slice	body;

	dyn_buf_reset(b);
	build_reply(b, ring, status);
	body.ptr = b->data + DYN_FRAME_HEADER_LEN;
	body.len = b->len - DYN_FRAME_HEADER_LEN;
	assert_int_equal(dyn_routing_decode(body, rt), DYN_OK);
}

/*
 * The coordinator of every key is its first preference-list node while
 * all are up, and the second when the first is down.
 */
static void
test_decode_and_route(void **state)
{
	dyn_ring	ring;
	dyn_routing rt;
	dyn_buf		b;
	uint8_t		all_up[4] = {DYN_MEMBER_UP, DYN_MEMBER_UP, DYN_MEMBER_UP, DYN_MEMBER_UP};
	uint8_t		status[4];
	dyn_slice	body;

	(void) state;
	make_ring(&ring);
	dyn_buf_init(&b);
	build_reply(&b, &ring, all_up);
	body.ptr = b.data + DYN_FRAME_HEADER_LEN;
	body.len = b.len - DYN_FRAME_HEADER_LEN;
	dyn_routing_init(&rt);
	assert_int_equal(dyn_routing_decode(body, &rt), DYN_OK);
	assert_int_equal(rt.ring.nmembers, 4);
	assert_int_equal(rt.ring.q, 16);
	assert_int_equal(rt.ring.n, 2);
	assert_true(rt.ring.version == ring.version);

	for (int k = 0; k < 200; k++)
	{
		char		key[16];
		uint32_t	pl[4];
		int			c;

		snprintf(key, sizeof(key), "k%d", k);
		load_view(&rt, &b, &ring, all_up);
		assert_int_equal(dyn_ring_preflist_key(&ring, dyn_slice_str("b"), dyn_slice_str(key),
											   pl, 4), 4);
		assert_int_equal(dyn_routing_coordinator(&rt, dyn_slice_str("b"), dyn_slice_str(key)),
						 (int) pl[0]);

		/* the first owner down: the second owner coordinates */
		memcpy(status, all_up, sizeof(status));
		status[pl[0]] = DYN_MEMBER_DOWN;
		load_view(&rt, &b, &ring, status);
		c = dyn_routing_coordinator(&rt, dyn_slice_str("b"), dyn_slice_str(key));
		assert_int_equal(c, (int) pl[1]);

		/* both owners down: the first owner all the same (never a stand-in) */
		status[pl[1]] = DYN_MEMBER_DOWN;
		load_view(&rt, &b, &ring, status);
		assert_int_equal(dyn_routing_coordinator(&rt, dyn_slice_str("b"), dyn_slice_str(key)),
						 (int) pl[0]);
		(void) c;
	}
	dyn_routing_free(&rt);
	dyn_ring_free(&ring);
	dyn_buf_free(&b);
}

/* A bad view or ring is refused and leaves the table as it was. */
static void
test_refuses_bad_bodies(void **state)
{
	dyn_ring	ring;
	dyn_routing rt;
	dyn_buf		b;
	uint8_t		up[4] = {DYN_MEMBER_UP, DYN_MEMBER_UP, DYN_MEMBER_UP, DYN_MEMBER_UP};
	dyn_slice	body;

	(void) state;
	make_ring(&ring);
	dyn_buf_init(&b);
	build_reply(&b, &ring, up);
	body.ptr = b.data + DYN_FRAME_HEADER_LEN;
	body.len = b.len - DYN_FRAME_HEADER_LEN;
	dyn_routing_init(&rt);
	assert_int_equal(dyn_routing_decode(body, &rt), DYN_OK);
	/* every truncation fails, and the table keeps its four members */
	for (size_t cut = 0; cut < body.len; cut++)
	{
		dyn_slice	s = {body.ptr, cut};

		assert_int_not_equal(dyn_routing_decode(s, &rt), DYN_OK);
		assert_int_equal(rt.ring.nmembers, 4);
	}
	dyn_routing_free(&rt);
	dyn_ring_free(&ring);
	dyn_buf_free(&b);
}

/* Before any decode, and for a node that has no ring yet: no coordinator. */
static void
test_empty(void **state)
{
	dyn_routing rt;
	dyn_buf		b;
	size_t		start;
	dyn_slice	body;

	(void) state;
	dyn_routing_init(&rt);
	assert_int_equal(dyn_routing_coordinator(&rt, dyn_slice_str("b"), dyn_slice_str("k")), -1);
	dyn_buf_init(&b);
	start = dyn_view_begin(&b, DYN_MSG_RING_REPLY, 1);
	dyn_view_end(&b, start, 0, (dyn_slice) {NULL, 0});
	body.ptr = b.data + DYN_FRAME_HEADER_LEN;
	body.len = b.len - DYN_FRAME_HEADER_LEN;
	/* an empty ring encoding is not a ring: refused */
	assert_int_not_equal(dyn_routing_decode(body, &rt), DYN_OK);
	assert_int_equal(dyn_routing_coordinator(&rt, dyn_slice_str("b"), dyn_slice_str("k")), -1);
	dyn_routing_free(&rt);
	dyn_buf_free(&b);
}

/* What usable_except saw (the members asked about, in order) and refuses. */
typedef struct usable_probe
{
	int			asked[8];
	int			nasked;
	bool		refused[4];
} usable_probe;

static bool
usable_except(void *arg, int member)
{
	usable_probe *p = arg;

	if (p->nasked < 8)
		p->asked[p->nasked++] = member;
	return !p->refused[member];
}

/*
 * A client's own verdict: the first owner it can use, asked about owners
 * only and in preference-list order; a down owner is never asked about;
 * none usable is -1 (never a stand-in, never an unusable owner).
 */
static void
test_usable(void **state)
{
	dyn_ring	ring;
	dyn_routing rt;
	dyn_buf		b;
	uint8_t		status[4] = {DYN_MEMBER_UP, DYN_MEMBER_UP, DYN_MEMBER_UP, DYN_MEMBER_UP};

	(void) state;
	make_ring(&ring);
	dyn_buf_init(&b);
	dyn_routing_init(&rt);
	assert_int_equal(dyn_routing_coordinator_usable(&rt, dyn_slice_str("b"), dyn_slice_str("k"),
													usable_except, &(usable_probe) {0}), -1);
	for (int k = 0; k < 100; k++)
	{
		char		key[16];
		uint32_t	pl[4];
		dyn_slice	bucket = dyn_slice_str("b");
		usable_probe p = {0};

		snprintf(key, sizeof(key), "k%d", k);
		assert_int_equal(dyn_ring_preflist_key(&ring, bucket, dyn_slice_str(key), pl, 4), 4);
		status[0] = status[1] = status[2] = status[3] = DYN_MEMBER_UP;
		load_view(&rt, &b, &ring, status);

		/* all usable: the first owner, the only one asked about */
		assert_int_equal(dyn_routing_coordinator_usable(&rt, bucket, dyn_slice_str(key),
														usable_except, &p), (int) pl[0]);
		assert_int_equal(p.nasked, 1);
		assert_int_equal(p.asked[0], (int) pl[0]);
		/* NULL: the table's verdict alone */
		assert_int_equal(dyn_routing_coordinator_usable(&rt, bucket, dyn_slice_str(key),
														NULL, NULL), (int) pl[0]);

		/* the first owner refused by the client: the second */
		p = (usable_probe) {0};
		p.refused[pl[0]] = true;
		assert_int_equal(dyn_routing_coordinator_usable(&rt, bucket, dyn_slice_str(key),
														usable_except, &p), (int) pl[1]);
		assert_int_equal(p.nasked, 2);
		assert_int_equal(p.asked[1], (int) pl[1]);

		/* both owners refused: none, though two stand-ins are up and usable */
		p.refused[pl[1]] = true;
		p.nasked = 0;
		assert_int_equal(dyn_routing_coordinator_usable(&rt, bucket, dyn_slice_str(key),
														usable_except, &p), -1);
		assert_int_equal(p.nasked, 2);

		/* the first owner down in the table: not asked about, the second chosen */
		status[pl[0]] = DYN_MEMBER_DOWN;
		load_view(&rt, &b, &ring, status);
		p = (usable_probe) {0};
		assert_int_equal(dyn_routing_coordinator_usable(&rt, bucket, dyn_slice_str(key),
														usable_except, &p), (int) pl[1]);
		assert_int_equal(p.nasked, 1);
		assert_int_equal(p.asked[0], (int) pl[1]);
		/* ... and both down: -1, where dyn_routing_coordinator says the first owner */
		status[pl[1]] = DYN_MEMBER_DOWN;
		load_view(&rt, &b, &ring, status);
		assert_int_equal(dyn_routing_coordinator_usable(&rt, bucket, dyn_slice_str(key),
														usable_except, &p), -1);
		assert_int_equal(dyn_routing_coordinator(&rt, bucket, dyn_slice_str(key)), (int) pl[0]);
	}
	dyn_routing_free(&rt);
	dyn_ring_free(&ring);
	dyn_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_and_route),
		cmocka_unit_test(test_refuses_bad_bodies),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_usable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
