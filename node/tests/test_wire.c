/*
 * test_wire.c
 *		Unit tests for wire.c: every message type through encode, frame
 *		parse and decode, and the codec's behaviour on hostile input
 *		(truncation at every byte, oversized and unknown frames, trailing
 *		bytes, and a few thousand frames of random garbage).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dynamo/merkle.h"
#include "dynamo/wire.h"

static dyn_slice bytes_of(const void *p, size_t n);
static uint64_t next_random(uint64_t *seed);
static dyn_frame parse_one(const dyn_buf *b, uint8_t type, uint32_t reqid);
static int	decode_any(uint8_t type, dyn_slice body);
static void encode_samples(dyn_buf *b);
static void check_prefixes_rejected(uint8_t type, dyn_slice body);
static void test_replica_round_trip(void **state);
static void test_view_round_trip(void **state);
static void test_coord_round_trip(void **state);
static void test_scan_round_trip(void **state);
static void test_buckets_round_trip(void **state);

/* A slice over n bytes at p. */
static dyn_slice
bytes_of(const void *p, size_t n)
{
	dyn_slice	s = {p, n};

	return s;
}

/* xorshift64*: reproducible pseudo-random numbers without global state. */
static uint64_t
next_random(uint64_t *seed)
{
	*seed ^= *seed >> 12;
	*seed ^= *seed << 25;
	*seed ^= *seed >> 27;
	return *seed * 2685821657736338717ULL;
}

/*
 * Parse the single frame b holds and check its header; every byte must
 * belong to it.
 */
static dyn_frame
parse_one(const dyn_buf *b, uint8_t type, uint32_t reqid)
{
	dyn_frame	f;
	size_t		used = 0;

	assert_int_equal(b->err, DYN_OK);
	assert_int_equal(dyn_frame_parse(b->data, b->len, DYN_FRAME_MAX_BODY, &f, &used),
					 DYN_OK);
	assert_int_equal(used, b->len);
	assert_int_equal(f.type, type);
	assert_int_equal(f.reqid, reqid);
	assert_int_equal(f.body.len, b->len - DYN_FRAME_HEADER_LEN);
	return f;
}

/* Run the decoder that matches type on body; its status. */
static int
decode_any(uint8_t type, dyn_slice body)
{
	dyn_get_req get;
	dyn_put_req put;
	dyn_error_msg err;
	dyn_slice	s;
	dyn_replica_get_req rget;
	dyn_replica_put_req rput;
	dyn_view_msg view;
	dyn_scan_req scan;
	dyn_scan_reply scanrep;
	dyn_merkle_req mreq;
	dyn_sync_keys_req kreq;
	dyn_sync_keys_reply krep;
	uint8_t		depth;
	uint16_t	part;
	uint16_t	count;

	switch (type)
	{
		case DYN_MSG_REPAIR:
			return dyn_empty_decode(body);
		case DYN_MSG_REMOVE:
			return dyn_remove_req_decode(body, &s);
		case DYN_MSG_REPAIR_REPLY:
		case DYN_MSG_REMOVE_REPLY:
			return dyn_status_reply_decode(body, &s);
		case DYN_MSG_MERKLE:
			return dyn_merkle_req_decode(body, &mreq);
		case DYN_MSG_MERKLE_REPLY:
			return dyn_merkle_reply_decode(body, &depth, &s);
		case DYN_MSG_SYNC_KEYS:
			return dyn_sync_keys_req_decode(body, &kreq);
		case DYN_MSG_SYNC_KEYS_REPLY:
			return dyn_sync_keys_reply_decode(body, false, &krep);
		case DYN_MSG_REAP:
			return dyn_reap_req_decode(body, &part, &count, &s);
		case DYN_MSG_REAP_REPLY:
			return body.len == 4 ? DYN_OK : DYN_ERR_PROTO;
		case DYN_MSG_REPLICA_GET:
			return dyn_replica_get_decode(body, &rget);
		case DYN_MSG_REPLICA_PUT:
			return dyn_replica_put_decode(body, &rput);
		case DYN_MSG_GOSSIP:
		case DYN_MSG_GOSSIP_REPLY:
		case DYN_MSG_RING_REPLY:
			return dyn_view_decode(body, &view);
		case DYN_MSG_RING:
		case DYN_MSG_REPLICA_PUT_REPLY:
			return dyn_empty_decode(body);
		case DYN_MSG_COORD_PUT:
		case DYN_MSG_COORD_DELETE:
			return dyn_put_req_decode(body, type, &put);
		case DYN_MSG_REPLICA_GET_REPLY:
			return dyn_get_reply_decode(body, &s);
		case DYN_MSG_COORD_PUT_REPLY:
		case DYN_MSG_COORD_DELETE_REPLY:
			return dyn_put_reply_decode(body, &s);
		case DYN_MSG_GET:
			return dyn_get_req_decode(body, &get);
		case DYN_MSG_PUT:
		case DYN_MSG_DELETE:
			return dyn_put_req_decode(body, type, &put);
		case DYN_MSG_STATUS:
			return dyn_status_req_decode(body);
		case DYN_MSG_GET_REPLY:
			return dyn_get_reply_decode(body, &s);
		case DYN_MSG_PUT_REPLY:
		case DYN_MSG_DELETE_REPLY:
			return dyn_put_reply_decode(body, &s);
		case DYN_MSG_STATUS_REPLY:
			return dyn_status_reply_decode(body, &s);
		case DYN_MSG_ERROR:
			return dyn_error_decode(body, &err);
		case DYN_MSG_SCAN:
			return dyn_scan_req_decode(body, &scan);
		case DYN_MSG_SCAN_REPLY:
			return dyn_scan_reply_decode(body, &scanrep);
	}
	fail_msg("no decoder for type %d", type);
	return DYN_ERR_INVAL;
}

/* Append one valid frame of every message type to b, reqids 1 to 21. */
static void
encode_samples(dyn_buf *b)
{
	dyn_replica_get_req rget = {dyn_slice_str("carts"), dyn_slice_str("bob")};
	dyn_replica_put_req rput = {dyn_slice_str("carts"), dyn_slice_str("bob"),
	dyn_slice_str("n3"), dyn_slice_str("obj")};
	dyn_member_entry m = {dyn_slice_str("n1"), dyn_slice_str("127.0.0.1:7401"),
	dyn_slice_str("a"), DYN_MEMBER_UP, 1700000000000ULL, 42, 7};
	size_t		v;

	dyn_get_req get = {dyn_slice_str("carts"), dyn_slice_str("alice"), 2};
	dyn_put_req put = {dyn_slice_str("carts"), dyn_slice_str("alice"),
	dyn_slice_str("\x01\x02n1\x01\x05"), dyn_slice_str("{\"items\":3}"), 2};
	dyn_put_req del = {dyn_slice_str("carts"), dyn_slice_str("alice"),
	dyn_slice_str("ctx"), {NULL, 0}, 3};
	dyn_error_msg err = {DYN_E_QUORUM, 1, 2, dyn_slice_str("quorum not met")};

	dyn_get_req_encode(b, 1, &get);
	dyn_put_req_encode(b, DYN_MSG_PUT, 2, &put);
	dyn_put_req_encode(b, DYN_MSG_DELETE, 3, &del);
	dyn_status_req_encode(b, 4);
	dyn_get_reply_encode(b, 5, dyn_slice_str("object-bytes"));
	dyn_put_reply_encode(b, DYN_MSG_PUT_REPLY, 6, dyn_slice_str("ctx-bytes"));
	dyn_put_reply_encode(b, DYN_MSG_DELETE_REPLY, 7, dyn_slice_str("ctx2"));
	dyn_status_reply_encode(b, 8, dyn_slice_str("{\"ok\":true}"));
	dyn_error_encode(b, 9, &err);
	dyn_replica_get_encode(b, 10, &rget);
	dyn_replica_put_encode(b, 11, &rput);
	v = dyn_view_begin(b, DYN_MSG_GOSSIP, 12);
	dyn_view_add(b, &m);
	dyn_view_end(b, v, 1, dyn_slice_str("ring"));
	v = dyn_view_begin(b, DYN_MSG_GOSSIP_REPLY, 13);
	dyn_view_end(b, v, 0, bytes_of(NULL, 0));
	dyn_empty_encode(b, DYN_MSG_RING, 14);
	v = dyn_view_begin(b, DYN_MSG_RING_REPLY, 15);
	dyn_view_add(b, &m);
	dyn_view_add(b, &m);
	dyn_view_end(b, v, 2, dyn_slice_str("r"));
	dyn_put_req_encode(b, DYN_MSG_COORD_PUT, 16, &put);
	dyn_put_req_encode(b, DYN_MSG_COORD_DELETE, 17, &del);
	dyn_object_reply_encode(b, DYN_MSG_REPLICA_GET_REPLY, 18, dyn_slice_str("o"));
	dyn_empty_encode(b, DYN_MSG_REPLICA_PUT_REPLY, 19);
	dyn_put_reply_encode(b, DYN_MSG_COORD_PUT_REPLY, 20, dyn_slice_str("c"));
	dyn_put_reply_encode(b, DYN_MSG_COORD_DELETE_REPLY, 21, dyn_slice_str("c"));
}

/* REPLICA_GET and REPLICA_PUT, with and without a hint target. */
static void
test_replica_round_trip(void **state)
{
	dyn_buf		b;
	dyn_frame	f;
	dyn_replica_get_req gin = {dyn_slice_str("carts"), dyn_slice_str("alice")};
	dyn_replica_get_req gout;
	dyn_replica_put_req pin = {dyn_slice_str("carts"), dyn_slice_str("alice"),
	dyn_slice_str("n2"), dyn_slice_str("\x01\x00\x00")};
	dyn_replica_put_req pout;
	char		longid[DYN_NODE_ID_MAX + 2];

	(void) state;
	dyn_buf_init(&b);
	dyn_replica_get_encode(&b, 3, &gin);
	f = parse_one(&b, DYN_MSG_REPLICA_GET, 3);
	assert_int_equal(dyn_replica_get_decode(f.body, &gout), DYN_OK);
	assert_true(dyn_slice_eq(gout.bucket, gin.bucket));
	assert_true(dyn_slice_eq(gout.key, gin.key));

	dyn_buf_reset(&b);
	dyn_replica_put_encode(&b, 4, &pin);
	f = parse_one(&b, DYN_MSG_REPLICA_PUT, 4);
	assert_int_equal(dyn_replica_put_decode(f.body, &pout), DYN_OK);
	assert_true(dyn_slice_eq(pout.bucket, pin.bucket));
	assert_true(dyn_slice_eq(pout.key, pin.key));
	assert_true(dyn_slice_eq(pout.hint, pin.hint));
	assert_true(dyn_slice_eq(pout.object, pin.object));

	/* no hint */
	dyn_buf_reset(&b);
	pin.hint = bytes_of(NULL, 0);
	dyn_replica_put_encode(&b, 5, &pin);
	f = parse_one(&b, DYN_MSG_REPLICA_PUT, 5);
	assert_int_equal(dyn_replica_put_decode(f.body, &pout), DYN_OK);
	assert_int_equal(pout.hint.len, 0);

	/* a hint id longer than any node id: refused both ways */
	memset(longid, 'x', sizeof(longid));
	dyn_buf_reset(&b);
	pin.hint = bytes_of(longid, DYN_NODE_ID_MAX + 1);
	dyn_replica_put_encode(&b, 6, &pin);
	assert_int_equal(b.err, DYN_ERR_TOOBIG);
	assert_int_equal(dyn_replica_put_decode(bytes_of("\x01" "b\x00\x01k\x21" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
													 "\x00\x00\x00\x00", 4 + 1 + 33 + 4),
											&pout), DYN_ERR_PROTO);
	dyn_buf_free(&b);
}

/*
 * SCAN and SCAN_REPLY: round trips, items out in order, and every
 * truncated or padded body refused.
 */
static void
test_scan_round_trip(void **state)
{
	dyn_buf		b;
	dyn_frame	f;
	dyn_scan_req in = {7, dyn_slice_str("carts"), dyn_slice_str("alice"), 100, 0};
	dyn_scan_req out;
	dyn_scan_reply rep;
	dyn_reader	r;
	dyn_slice	key;
	dyn_slice	obj;
	size_t		start;

	(void) state;
	dyn_buf_init(&b);
	dyn_scan_req_encode(&b, 9, &in);
	f = parse_one(&b, DYN_MSG_SCAN, 9);
	assert_int_equal(dyn_scan_req_decode(f.body, &out), DYN_OK);
	assert_int_equal(out.partition, 7);
	assert_int_equal(out.limit, 100);
	assert_true(dyn_slice_eq(out.bucket, in.bucket));
	assert_true(dyn_slice_eq(out.after, in.after));
	for (size_t cut = 0; cut < f.body.len; cut++)
		assert_int_not_equal(dyn_scan_req_decode(bytes_of(f.body.ptr, cut), &out), DYN_OK);

	/* a scan from the start has an empty after key; limit 0 is refused */
	dyn_buf_reset(&b);
	in.after = bytes_of(NULL, 0);
	dyn_scan_req_encode(&b, 10, &in);
	f = parse_one(&b, DYN_MSG_SCAN, 10);
	assert_int_equal(dyn_scan_req_decode(f.body, &out), DYN_OK);
	assert_int_equal(out.after.len, 0);
	dyn_buf_reset(&b);
	in.limit = 0;
	dyn_scan_req_encode(&b, 11, &in);
	assert_int_equal(b.err, DYN_ERR_INVAL);

	/*
	 * The no-values flag: one byte more, round trips, every cut refused
	 * but the one that drops just the flag (a plain SCAN, as before it).
	 * A plain SCAN has no flags byte; unknown bits are refused both ways.
	 */
	dyn_buf_reset(&b);
	in.limit = 100;
	in.after = dyn_slice_str("alice");
	dyn_scan_req_encode(&b, 13, &in);
	f = parse_one(&b, DYN_MSG_SCAN, 13);
	assert_int_equal(f.body.len, 2 + 1 + 5 + 2 + 5 + 2);
	dyn_buf_reset(&b);
	in.flags = DYN_SCAN_NO_VALUES;
	dyn_scan_req_encode(&b, 14, &in);
	f = parse_one(&b, DYN_MSG_SCAN, 14);
	assert_int_equal(f.body.len, 2 + 1 + 5 + 2 + 5 + 2 + 1);
	assert_int_equal(dyn_scan_req_decode(f.body, &out), DYN_OK);
	assert_int_equal(out.flags, DYN_SCAN_NO_VALUES);
	assert_int_equal(out.limit, 100);
	assert_true(dyn_slice_eq(out.after, in.after));
	for (size_t cut = 0; cut < f.body.len; cut++)
	{
		int			rc = dyn_scan_req_decode(bytes_of(f.body.ptr, cut), &out);

		if (cut == f.body.len - 1)
		{
			assert_int_equal(rc, DYN_OK);
			assert_int_equal(out.flags, 0);
		}
		else
			assert_int_not_equal(rc, DYN_OK);
	}
	{
		uint8_t		bad[64];

		memcpy(bad, f.body.ptr, f.body.len);
		bad[f.body.len - 1] = 0x02;
		assert_int_equal(dyn_scan_req_decode(bytes_of(bad, f.body.len), &out), DYN_ERR_PROTO);
		bad[f.body.len - 1] = 0;	/* no flags is no byte, not a 0 byte */
		assert_int_equal(dyn_scan_req_decode(bytes_of(bad, f.body.len), &out), DYN_ERR_PROTO);
		bad[f.body.len - 1] = DYN_SCAN_NO_VALUES;
		bad[f.body.len] = 0;
		assert_int_equal(dyn_scan_req_decode(bytes_of(bad, f.body.len + 1), &out), DYN_ERR_PROTO);
	}
	dyn_buf_reset(&b);
	in.flags = 0x80;
	dyn_scan_req_encode(&b, 15, &in);
	assert_int_equal(b.err, DYN_ERR_INVAL);
	in.flags = 0;

	dyn_buf_reset(&b);
	start = dyn_scan_reply_begin(&b, 12);
	dyn_scan_reply_add(&b, dyn_slice_str("a"), dyn_slice_str("obj-a"));
	dyn_scan_reply_add(&b, dyn_slice_str("bb"), bytes_of(NULL, 0));
	dyn_scan_reply_end(&b, start, 2, true);
	f = parse_one(&b, DYN_MSG_SCAN_REPLY, 12);
	assert_int_equal(dyn_scan_reply_decode(f.body, &rep), DYN_OK);
	assert_true(rep.more);
	assert_int_equal(rep.count, 2);
	dyn_reader_init(&r, rep.items);
	assert_int_equal(dyn_scan_next(&r, &key, &obj), DYN_OK);
	assert_true(dyn_slice_eq(key, dyn_slice_str("a")));
	assert_true(dyn_slice_eq(obj, dyn_slice_str("obj-a")));
	assert_int_equal(dyn_scan_next(&r, &key, &obj), DYN_OK);
	assert_true(dyn_slice_eq(key, dyn_slice_str("bb")));
	assert_int_equal(obj.len, 0);
	for (size_t cut = 0; cut < f.body.len; cut++)
		assert_int_not_equal(dyn_scan_reply_decode(bytes_of(f.body.ptr, cut), &rep), DYN_OK);
	dyn_buf_free(&b);
}

/*
 * BUCKETS and BUCKETS_REPLY: round trips, every cut and a padded body
 * refused, names out of order or repeated refused, bad names not encoded.
 */
static void
test_buckets_round_trip(void **state)
{
	dyn_buf		b;
	dyn_frame	f;
	size_t		start;
	uint16_t	count;
	dyn_slice	names;
	dyn_slice	name;
	dyn_reader	r;
	uint8_t		bad[64];

	(void) state;
	dyn_buf_init(&b);
	dyn_buckets_req_encode(&b, 3);
	f = parse_one(&b, DYN_MSG_BUCKETS, 3);
	assert_int_equal(f.body.len, 0);
	assert_int_equal(dyn_buckets_req_decode(f.body), DYN_OK);
	assert_int_equal(dyn_buckets_req_decode(dyn_slice_str("x")), DYN_ERR_PROTO);
	assert_string_equal(dyn_msg_type_name(DYN_MSG_BUCKETS), "buckets");
	assert_string_equal(dyn_msg_type_name(DYN_MSG_BUCKETS_REPLY), "buckets_reply");

	dyn_buf_reset(&b);
	start = dyn_buckets_reply_begin(&b, 4);
	dyn_buckets_reply_add(&b, dyn_slice_str("Carts"));
	dyn_buckets_reply_add(&b, dyn_slice_str("carts"));
	dyn_buckets_reply_add(&b, dyn_slice_str("carts x"));
	dyn_buckets_reply_end(&b, start, 3);
	f = parse_one(&b, DYN_MSG_BUCKETS_REPLY, 4);
	assert_int_equal(dyn_buckets_reply_decode(f.body, &count, &names), DYN_OK);
	assert_int_equal(count, 3);
	dyn_reader_init(&r, names);
	assert_int_equal(dyn_buckets_next(&r, &name), DYN_OK);
	assert_true(dyn_slice_eq(name, dyn_slice_str("Carts")));
	assert_int_equal(dyn_buckets_next(&r, &name), DYN_OK);
	assert_true(dyn_slice_eq(name, dyn_slice_str("carts")));
	assert_int_equal(dyn_buckets_next(&r, &name), DYN_OK);
	assert_true(dyn_slice_eq(name, dyn_slice_str("carts x")));
	for (size_t cut = 0; cut < f.body.len; cut++)
		assert_int_not_equal(dyn_buckets_reply_decode(bytes_of(f.body.ptr, cut), &count, &names),
							 DYN_OK);
	memcpy(bad, f.body.ptr, f.body.len);
	bad[f.body.len] = 0;
	assert_int_equal(dyn_buckets_reply_decode(bytes_of(bad, f.body.len + 1), &count, &names),
					 DYN_ERR_PROTO);
	/* the same name twice, names out of order, an empty name: refused */
	{
		const uint8_t twice[] = {0, 2, 1, 'a', 1, 'a'};
		const uint8_t order[] = {0, 2, 1, 'b', 1, 'a'};
		const uint8_t empty[] = {0, 1, 0};

		assert_int_equal(dyn_buckets_reply_decode(bytes_of(twice, sizeof(twice)), &count, &names),
						 DYN_ERR_PROTO);
		assert_int_equal(dyn_buckets_reply_decode(bytes_of(order, sizeof(order)), &count, &names),
						 DYN_ERR_PROTO);
		assert_int_equal(dyn_buckets_reply_decode(bytes_of(empty, sizeof(empty)), &count, &names),
						 DYN_ERR_PROTO);
	}
	/* no buckets */
	dyn_buf_reset(&b);
	start = dyn_buckets_reply_begin(&b, 5);
	dyn_buckets_reply_end(&b, start, 0);
	f = parse_one(&b, DYN_MSG_BUCKETS_REPLY, 5);
	assert_int_equal(dyn_buckets_reply_decode(f.body, &count, &names), DYN_OK);
	assert_int_equal(count, 0);
	dyn_buf_reset(&b);
	dyn_buckets_reply_add(&b, bytes_of(NULL, 0));
	assert_int_equal(b.err, DYN_ERR_INVAL);
	dyn_buf_free(&b);
}

/* Views: members out in order, the ring after them, bad entries refused. */
static void
test_view_round_trip(void **state)
{
	dyn_buf		b;
	dyn_frame	f;
	dyn_view_msg msg;
	dyn_reader	r;
	dyn_member_entry out;
	dyn_member_entry m[2] = {
		{dyn_slice_str("n1"), dyn_slice_str("127.0.0.1:7401"), dyn_slice_str(""),
		DYN_MEMBER_UP, 1, 2, 3},
		{dyn_slice_str("node-two"), dyn_slice_str("[::1]:7402"), dyn_slice_str("zone-b"),
		DYN_MEMBER_DOWN, UINT64_MAX, 1ULL << 40, 9},
	};
	size_t		start;

	(void) state;
	dyn_buf_init(&b);
	start = dyn_view_begin(&b, DYN_MSG_GOSSIP, 8);
	dyn_view_add(&b, &m[0]);
	dyn_view_add(&b, &m[1]);
	dyn_view_end(&b, start, 2, dyn_slice_str("ring-bytes"));
	f = parse_one(&b, DYN_MSG_GOSSIP, 8);
	assert_int_equal(dyn_view_decode(f.body, &msg), DYN_OK);
	assert_int_equal(msg.count, 2);
	assert_true(dyn_slice_eq(msg.ring, dyn_slice_str("ring-bytes")));
	dyn_reader_init(&r, msg.members);
	for (int i = 0; i < 2; i++)
	{
		assert_int_equal(dyn_view_next(&r, &out), DYN_OK);
		assert_true(dyn_slice_eq(out.id, m[i].id));
		assert_true(dyn_slice_eq(out.address, m[i].address));
		assert_true(dyn_slice_eq(out.zone, m[i].zone));
		assert_int_equal(out.status, m[i].status);
		assert_true(out.generation == m[i].generation);
		assert_true(out.heartbeat == m[i].heartbeat);
		assert_true(out.ring_version == m[i].ring_version);
	}
	assert_int_equal(dyn_rd_left(&r), 0);

	/* a status outside DYN_MEMBER_* is malformed */
	b.data[DYN_FRAME_HEADER_LEN + 2 + 1 + 2 + 1 + 14 + 1] = 9;
	f = parse_one(&b, DYN_MSG_GOSSIP, 8);
	assert_int_equal(dyn_view_decode(f.body, &msg), DYN_ERR_PROTO);

	/* an empty id or address cannot be encoded */
	dyn_buf_reset(&b);
	start = dyn_view_begin(&b, DYN_MSG_GOSSIP, 8);
	m[0].id = bytes_of(NULL, 0);
	dyn_view_add(&b, &m[0]);
	assert_int_equal(b.err, DYN_ERR_INVAL);
	/* nor a view under a type that carries none */
	dyn_buf_reset(&b);
	start = dyn_view_begin(&b, DYN_MSG_GET, 8);
	assert_int_equal(b.err, DYN_ERR_INVAL);
	(void) start;
	dyn_buf_free(&b);
}

/* COORD_PUT/COORD_DELETE share PUT's body; their replies PUT_REPLY's. */
static void
test_coord_round_trip(void **state)
{
	dyn_buf		b;
	dyn_frame	f;
	dyn_put_req in = {dyn_slice_str("b"), dyn_slice_str("k"), dyn_slice_str("c"),
	dyn_slice_str("v"), 2};
	dyn_put_req out;
	dyn_slice	s;

	(void) state;
	dyn_buf_init(&b);
	dyn_put_req_encode(&b, DYN_MSG_COORD_PUT, 1, &in);
	f = parse_one(&b, DYN_MSG_COORD_PUT, 1);
	assert_int_equal(dyn_put_req_decode(f.body, DYN_MSG_COORD_PUT, &out), DYN_OK);
	assert_true(dyn_slice_eq(out.value, in.value));
	assert_int_equal(out.w, 2);
	/* a COORD_DELETE with a value is as malformed as a DELETE with one */
	assert_int_equal(dyn_put_req_decode(f.body, DYN_MSG_COORD_DELETE, &out), DYN_ERR_PROTO);
	dyn_buf_reset(&b);
	dyn_put_req_encode(&b, DYN_MSG_COORD_DELETE, 1, &in);
	assert_int_equal(b.err, DYN_ERR_INVAL);

	dyn_buf_reset(&b);
	dyn_put_reply_encode(&b, DYN_MSG_COORD_DELETE_REPLY, 2, dyn_slice_str("ctx"));
	f = parse_one(&b, DYN_MSG_COORD_DELETE_REPLY, 2);
	assert_int_equal(dyn_put_reply_decode(f.body, &s), DYN_OK);
	assert_true(dyn_slice_eq(s, dyn_slice_str("ctx")));

	dyn_buf_reset(&b);
	dyn_object_reply_encode(&b, DYN_MSG_PUT_REPLY, 3, dyn_slice_str("o"));
	assert_int_equal(b.err, DYN_ERR_INVAL);
	dyn_buf_free(&b);
}

/* GET through encode, frame parse and decode, without copies. */
static void
test_get_round_trip(void **state)
{
	dyn_buf		b;
	dyn_frame	f;
	dyn_get_req in = {dyn_slice_str("carts"), dyn_slice_str("alice"), 2};
	dyn_get_req out;

	(void) state;
	dyn_buf_init(&b);
	dyn_get_req_encode(&b, 0xfeedface, &in);
	f = parse_one(&b, DYN_MSG_GET, 0xfeedface);
	assert_int_equal(f.body.len, 1 + 5 + 2 + 5 + 1);
	assert_int_equal(dyn_get_req_decode(f.body, &out), DYN_OK);
	assert_true(dyn_slice_eq(out.bucket, in.bucket));
	assert_true(dyn_slice_eq(out.key, in.key));
	assert_int_equal(out.r, 2);
	/* decoded slices point into the frame: nothing was copied */
	assert_ptr_equal(out.bucket.ptr, b.data + DYN_FRAME_HEADER_LEN + 1);
	dyn_buf_free(&b);
}

/* PUT at the size limits, and a blind DELETE. */
static void
test_put_delete_round_trip(void **state)
{
	dyn_buf		b;
	dyn_frame	f;
	static uint8_t value[100000];
	uint8_t		key[DYN_KEY_MAX];
	uint8_t		bucket[DYN_BUCKET_MAX];
	dyn_put_req in;
	dyn_put_req out;

	(void) state;
	memset(value, 'v', sizeof(value));
	memset(key, 'k', sizeof(key));
	memset(bucket, 'b', sizeof(bucket));
	in.bucket = bytes_of(bucket, sizeof(bucket));
	in.key = bytes_of(key, sizeof(key));	/* the largest allowed */
	in.context = dyn_slice_str("\x01\x02n1\x01\x05");
	in.value = bytes_of(value, sizeof(value));
	in.w = 3;

	dyn_buf_init(&b);
	dyn_put_req_encode(&b, DYN_MSG_PUT, 77, &in);
	f = parse_one(&b, DYN_MSG_PUT, 77);
	assert_int_equal(dyn_put_req_decode(f.body, DYN_MSG_PUT, &out), DYN_OK);
	assert_true(dyn_slice_eq(out.bucket, in.bucket));
	assert_true(dyn_slice_eq(out.key, in.key));
	assert_true(dyn_slice_eq(out.context, in.context));
	assert_true(dyn_slice_eq(out.value, in.value));
	assert_int_equal(out.w, 3);

	/* a blind delete: no context, no value */
	dyn_buf_reset(&b);
	in.context = bytes_of(NULL, 0);
	in.value = bytes_of(NULL, 0);
	in.w = 0;
	dyn_put_req_encode(&b, DYN_MSG_DELETE, 78, &in);
	f = parse_one(&b, DYN_MSG_DELETE, 78);
	assert_int_equal(dyn_put_req_decode(f.body, DYN_MSG_DELETE, &out), DYN_OK);
	assert_int_equal(out.context.len, 0);
	assert_int_equal(out.value.len, 0);
	assert_int_equal(out.w, 0);
	/* the wrong type is a caller bug */
	assert_int_equal(dyn_put_req_decode(f.body, DYN_MSG_GET, &out), DYN_ERR_INVAL);
	dyn_buf_free(&b);
}

/* STATUS (empty body) and STATUS_REPLY. */
static void
test_status_round_trip(void **state)
{
	dyn_buf		b;
	dyn_frame	f;
	dyn_slice	json;

	(void) state;
	dyn_buf_init(&b);
	dyn_status_req_encode(&b, 5);
	f = parse_one(&b, DYN_MSG_STATUS, 5);
	assert_int_equal(f.body.len, 0);
	assert_int_equal(dyn_status_req_decode(f.body), DYN_OK);
	assert_int_equal(dyn_status_req_decode(dyn_slice_str("x")), DYN_ERR_PROTO);

	dyn_buf_reset(&b);
	dyn_status_reply_encode(&b, 5, dyn_slice_str("{\"nodes\":[]}"));
	f = parse_one(&b, DYN_MSG_STATUS_REPLY, 5);
	assert_int_equal(dyn_status_reply_decode(f.body, &json), DYN_OK);
	assert_true(dyn_slice_eq(json, dyn_slice_str("{\"nodes\":[]}")));
	dyn_buf_free(&b);
}

/* GET_REPLY (found and not), PUT_REPLY, DELETE_REPLY, ERROR. */
static void
test_replies_round_trip(void **state)
{
	dyn_buf		b;
	dyn_frame	f;
	dyn_slice	s;
	dyn_error_msg in = {DYN_E_QUORUM, 1, 2, dyn_slice_str("1 of 2 replicas answered")};
	dyn_error_msg out;

	(void) state;
	dyn_buf_init(&b);
	dyn_get_reply_encode(&b, 9, bytes_of("\x01\x00\x00", 3));
	f = parse_one(&b, DYN_MSG_GET_REPLY, 9);
	assert_int_equal(dyn_get_reply_decode(f.body, &s), DYN_OK);
	assert_int_equal(s.len, 3);

	/* not found: an empty object */
	dyn_buf_reset(&b);
	dyn_get_reply_encode(&b, 10, bytes_of(NULL, 0));
	f = parse_one(&b, DYN_MSG_GET_REPLY, 10);
	assert_int_equal(dyn_get_reply_decode(f.body, &s), DYN_OK);
	assert_int_equal(s.len, 0);

	dyn_buf_reset(&b);
	dyn_put_reply_encode(&b, DYN_MSG_PUT_REPLY, 11, dyn_slice_str("ctx"));
	f = parse_one(&b, DYN_MSG_PUT_REPLY, 11);
	assert_int_equal(dyn_put_reply_decode(f.body, &s), DYN_OK);
	assert_true(dyn_slice_eq(s, dyn_slice_str("ctx")));

	dyn_buf_reset(&b);
	dyn_put_reply_encode(&b, DYN_MSG_DELETE_REPLY, 12, dyn_slice_str("ctx2"));
	f = parse_one(&b, DYN_MSG_DELETE_REPLY, 12);
	assert_int_equal(dyn_put_reply_decode(f.body, &s), DYN_OK);
	assert_true(dyn_slice_eq(s, dyn_slice_str("ctx2")));

	dyn_buf_reset(&b);
	dyn_error_encode(&b, 13, &in);
	f = parse_one(&b, DYN_MSG_ERROR, 13);
	assert_int_equal(dyn_error_decode(f.body, &out), DYN_OK);
	assert_int_equal(out.code, DYN_E_QUORUM);
	assert_int_equal(out.replied, 1);
	assert_int_equal(out.needed, 2);
	assert_true(dyn_slice_eq(out.message, in.message));
	dyn_buf_free(&b);
}

/* Frames back to back in one buffer, as a pipelining peer sends them. */
static void
test_pipelined_frames(void **state)
{
	dyn_buf		b;
	dyn_frame	f;
	size_t		off = 0;
	size_t		used;
	uint32_t	expect_reqid = 1;

	(void) state;
	dyn_buf_init(&b);
	encode_samples(&b);
	assert_int_equal(b.err, DYN_OK);
	while (off < b.len)
	{
		assert_int_equal(dyn_frame_parse(b.data + off, b.len - off,
										 DYN_FRAME_MAX_BODY, &f, &used), DYN_OK);
		assert_int_equal(f.reqid, expect_reqid);
		assert_int_equal(decode_any(f.type, f.body), DYN_OK);
		off += used;
		expect_reqid++;
	}
	assert_int_equal(off, b.len);
	assert_int_equal(expect_reqid, 22);
	dyn_buf_free(&b);
}

/*
 * Every proper prefix of a valid frame is "wait for more"; every proper
 * prefix of its body is refused by the body decoder; and so is the body
 * with a byte of trailing garbage.
 */
static void
test_truncation_everywhere(void **state)
{
	dyn_buf		b;
	dyn_frame	f;
	size_t		off = 0;
	size_t		used;

	(void) state;
	dyn_buf_init(&b);
	encode_samples(&b);
	while (off < b.len)
	{
		size_t		cut;
		dyn_frame	g;

		assert_int_equal(dyn_frame_parse(b.data + off, b.len - off,
										 DYN_FRAME_MAX_BODY, &f, &used), DYN_OK);
		for (cut = 0; cut < used; cut++)
			assert_int_equal(dyn_frame_parse(b.data + off, cut,
											 DYN_FRAME_MAX_BODY, &g, &used),
							 DYN_ERR_AGAIN);
		assert_int_equal(dyn_frame_parse(b.data + off, b.len - off,
										 DYN_FRAME_MAX_BODY, &f, &used), DYN_OK);
		check_prefixes_rejected(f.type, f.body);
		off += used;
	}
	dyn_buf_free(&b);
}

/* Decoding any proper prefix of body, or body plus one byte, fails. */
static void
check_prefixes_rejected(uint8_t type, dyn_slice body)
{
	uint8_t		longer[512];
	size_t		cut;

	for (cut = 0; cut < body.len; cut++)
	{
		/* STATUS has an empty body, so it has no proper prefix */
		assert_int_not_equal(decode_any(type, bytes_of(body.ptr, cut)), DYN_OK);
	}
	assert_true(body.len < sizeof(longer));
	if (body.len > 0)
		memcpy(longer, body.ptr, body.len);
	longer[body.len] = 0;
	assert_int_equal(decode_any(type, bytes_of(longer, body.len + 1)), DYN_ERR_PROTO);
}

/* Size and type are judged from the header alone. */
static void
test_frame_header_checks(void **state)
{
	uint8_t		hdr[DYN_FRAME_HEADER_LEN] = {0, 0, 0, 5, DYN_MSG_GET, 0, 0, 0, 1};
	dyn_frame	f;
	size_t		used;

	(void) state;
	/* a sane header: waits for the body */
	assert_int_equal(dyn_frame_parse(hdr, sizeof(hdr), 100, &f, &used), DYN_ERR_AGAIN);
	assert_int_equal(dyn_frame_parse(hdr, sizeof(hdr), 4, &f, &used), DYN_ERR_TOOBIG);

	/* too big is known from the header alone, before any body arrives */
	hdr[0] = 0x01;
	assert_int_equal(dyn_frame_parse(hdr, sizeof(hdr), DYN_FRAME_MAX_BODY, &f, &used),
					 DYN_ERR_TOOBIG);
	hdr[0] = 0xff;
	hdr[1] = 0xff;
	hdr[2] = 0xff;
	hdr[3] = 0xff;
	assert_int_equal(dyn_frame_parse(hdr, sizeof(hdr), DYN_FRAME_MAX_BODY, &f, &used),
					 DYN_ERR_TOOBIG);
	/* exactly the maximum is allowed */
	hdr[0] = (uint8_t) (DYN_FRAME_MAX_BODY >> 24);
	hdr[1] = (uint8_t) (DYN_FRAME_MAX_BODY >> 16);
	hdr[2] = (uint8_t) (DYN_FRAME_MAX_BODY >> 8);
	hdr[3] = (uint8_t) DYN_FRAME_MAX_BODY;
	assert_int_equal(dyn_frame_parse(hdr, sizeof(hdr), DYN_FRAME_MAX_BODY, &f, &used),
					 DYN_ERR_AGAIN);

	/* garbage types */
	hdr[0] = hdr[1] = hdr[2] = hdr[3] = 0;
	hdr[4] = 0x00;
	assert_int_equal(dyn_frame_parse(hdr, sizeof(hdr), 100, &f, &used), DYN_ERR_PROTO);
	hdr[4] = 0x09;
	assert_int_equal(dyn_frame_parse(hdr, sizeof(hdr), 100, &f, &used), DYN_ERR_PROTO);
	hdr[4] = 0x80;
	assert_int_equal(dyn_frame_parse(hdr, sizeof(hdr), 100, &f, &used), DYN_ERR_PROTO);
	hdr[4] = 0xfe;
	assert_int_equal(dyn_frame_parse(hdr, sizeof(hdr), 100, &f, &used), DYN_ERR_PROTO);

	/* an empty body is complete with the header */
	hdr[4] = DYN_MSG_STATUS;
	assert_int_equal(dyn_frame_parse(hdr, sizeof(hdr), 100, &f, &used), DYN_OK);
	assert_int_equal(used, DYN_FRAME_HEADER_LEN);
	assert_int_equal(f.body.len, 0);
	assert_int_equal(f.reqid, 1);
}

/* Empty and over-long buckets and keys; a DELETE with a value. */
static void
test_key_checks(void **state)
{
	dyn_get_req get;
	dyn_put_req put;
	uint8_t		body[8 + DYN_KEY_MAX + 1];

	(void) state;
	/* bucket_len 0 */
	assert_int_equal(dyn_get_req_decode(bytes_of("\x00\x00\x01k\x00", 5), &get),
					 DYN_ERR_PROTO);
	/* key_len 0 */
	assert_int_equal(dyn_get_req_decode(bytes_of("\x01" "b\x00\x00\x00", 5), &get),
					 DYN_ERR_PROTO);
	/* a valid minimal GET */
	assert_int_equal(dyn_get_req_decode(bytes_of("\x01" "b\x00\x01k\x03", 6), &get),
					 DYN_OK);
	assert_int_equal(get.r, 3);

	/* key_len over DYN_KEY_MAX: too big, even with the bytes present */
	memset(body, 'k', sizeof(body));
	body[0] = 1;
	body[1] = 'b';
	body[2] = (uint8_t) ((DYN_KEY_MAX + 1) >> 8);
	body[3] = (uint8_t) (DYN_KEY_MAX + 1);
	body[4 + DYN_KEY_MAX + 1] = 0;
	assert_int_equal(dyn_get_req_decode(bytes_of(body, 4 + DYN_KEY_MAX + 2), &get),
					 DYN_ERR_TOOBIG);
	assert_int_equal(dyn_put_req_decode(bytes_of(body, 4 + DYN_KEY_MAX + 2),
										DYN_MSG_PUT, &put), DYN_ERR_TOOBIG);

	/* a DELETE that carries a value */
	assert_int_equal(dyn_put_req_decode(bytes_of("\x01" "b\x00\x01k\x00\x00\x02"
												 "\x00\x00\x00\x01v", 13),
										DYN_MSG_DELETE, &put), DYN_ERR_PROTO);
	/* the same bytes are a fine PUT */
	assert_int_equal(dyn_put_req_decode(bytes_of("\x01" "b\x00\x01k\x00\x00\x02"
												 "\x00\x00\x00\x01v", 13),
										DYN_MSG_PUT, &put), DYN_OK);
	assert_true(dyn_slice_eq(put.value, dyn_slice_str("v")));
}

/* Encoders refuse arguments a receiver would refuse, via b->err. */
static void
test_encoder_argument_checks(void **state)
{
	dyn_buf		b;
	uint8_t		key[DYN_KEY_MAX + 1];
	uint8_t		bucket[DYN_BUCKET_MAX + 1];
	dyn_get_req get = {dyn_slice_str("b"), {NULL, 0}, 0};
	dyn_put_req put = {dyn_slice_str("b"), dyn_slice_str("k"), {NULL, 0},
	dyn_slice_str("v"), 0};

	(void) state;
	memset(key, 'k', sizeof(key));
	memset(bucket, 'b', sizeof(bucket));
	dyn_buf_init(&b);

	dyn_get_req_encode(&b, 1, &get);
	assert_int_equal(b.err, DYN_ERR_INVAL);
	assert_int_equal(b.len, 0);

	dyn_buf_reset(&b);
	get.key = bytes_of(key, sizeof(key));
	dyn_get_req_encode(&b, 1, &get);
	assert_int_equal(b.err, DYN_ERR_TOOBIG);

	dyn_buf_reset(&b);
	get.key = dyn_slice_str("k");
	get.bucket = bytes_of(bucket, sizeof(bucket));
	dyn_get_req_encode(&b, 1, &get);
	assert_int_equal(b.err, DYN_ERR_TOOBIG);

	dyn_buf_reset(&b);
	dyn_put_req_encode(&b, DYN_MSG_DELETE, 1, &put);	/* a value on DELETE */
	assert_int_equal(b.err, DYN_ERR_INVAL);

	dyn_buf_reset(&b);
	dyn_put_req_encode(&b, DYN_MSG_GET, 1, &put);
	assert_int_equal(b.err, DYN_ERR_INVAL);

	dyn_buf_reset(&b);
	dyn_put_reply_encode(&b, DYN_MSG_GET_REPLY, 1, dyn_slice_str("c"));
	assert_int_equal(b.err, DYN_ERR_INVAL);

	/* a failed buffer stays failed: later frames are not half-written */
	dyn_buf_reset(&b);
	b.err = DYN_ERR_NOMEM;
	dyn_status_req_encode(&b, 1);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.err, DYN_ERR_NOMEM);
	dyn_buf_free(&b);
}

/*
 * Random bytes, and valid frames with random bytes flipped, through the
 * frame parser and every decoder: anything may be refused, nothing may
 * crash or read out of bounds (ASan and valgrind watch this test).
 */
/*
 * The anti-entropy and admin messages: round trips, every truncation
 * refused, and the checks that keep a peer from naming nodes outside a
 * tree or sending digests of the wrong width.
 */
static void
test_sync_messages(void **state)
{
	dyn_buf		b;
	dyn_frame	f;
	uint16_t	idx[3] = {0, 5, 7};
	dyn_merkle_req m;
	dyn_sync_keys_req k;
	dyn_sync_keys_reply kr;
	dyn_slice	s;
	dyn_slice	key;
	dyn_slice	payload;
	dyn_reader	r;
	uint8_t		digest[DYN_MERKLE_DIGEST];
	uint16_t	part;
	uint16_t	count;
	size_t		start;
	static const uint8_t ekey_bytes[] = {0, 1, 2, 'b', 'k', 'k', 'e', 'y'};
	dyn_slice	ekey = {ekey_bytes, sizeof(ekey_bytes)};

	(void) state;
	dyn_buf_init(&b);

	/* MERKLE: round trip, then every truncation */
	dyn_merkle_req_encode(&b, 9, 17, 4, 2, idx, 3);
	f = parse_one(&b, DYN_MSG_MERKLE, 9);
	assert_int_equal(dyn_merkle_req_decode(f.body, &m), DYN_OK);
	assert_int_equal(m.partition, 17);
	assert_int_equal(m.level, 4);
	assert_int_equal(m.span, 2);
	assert_int_equal(m.count, 3);
	assert_int_equal(dyn_u16_at(m.indices, 1), 5);
	for (size_t cut = 0; cut < f.body.len; cut++)
	{
		dyn_slice	t = {f.body.ptr, cut};

		assert_int_equal(dyn_merkle_req_decode(t, &m), DYN_ERR_PROTO);
	}
	/* a span deeper than the level, or a root request with a span */
	dyn_buf_reset(&b);
	dyn_merkle_req_encode(&b, 1, 0, 1, 2, idx, 1);
	assert_int_not_equal(b.err, DYN_OK);
	dyn_buf_reset(&b);
	dyn_merkle_req_encode(&b, 1, 0, 0, 1, idx, 1);
	assert_int_not_equal(b.err, DYN_OK);

	/* MERKLE_REPLY: a depth in range, then the digests */
	{
		uint8_t		body[1 + 2 * DYN_SYNC_DIGEST] = {10};
		dyn_slice	t = {body, sizeof(body)};
		uint8_t		depth;

		assert_int_equal(dyn_merkle_reply_decode(t, &depth, &s), DYN_OK);
		assert_int_equal(depth, 10);
		assert_int_equal(s.len, 2 * DYN_SYNC_DIGEST);
		t.len = 0;
		assert_int_equal(dyn_merkle_reply_decode(t, &depth, &s), DYN_ERR_PROTO);
		body[0] = 0;
		t.len = sizeof(body);
		assert_int_equal(dyn_merkle_reply_decode(t, &depth, &s), DYN_ERR_PROTO);
	}

	/* SYNC_KEYS and its reply in both shapes */
	dyn_buf_reset(&b);
	dyn_sync_keys_req_encode(&b, 3, 2, DYN_SYNC_OBJECTS, ekey, idx, 2);
	f = parse_one(&b, DYN_MSG_SYNC_KEYS, 3);
	assert_int_equal(dyn_sync_keys_req_decode(f.body, &k), DYN_OK);
	assert_int_equal(k.flags, DYN_SYNC_OBJECTS);
	assert_true(dyn_slice_eq(k.after, ekey));
	assert_int_equal(k.count, 2);
	for (size_t cut = 0; cut < f.body.len; cut++)
	{
		dyn_slice	t = {f.body.ptr, cut};

		assert_int_equal(dyn_sync_keys_req_decode(t, &k), DYN_ERR_PROTO);
	}
	for (int objects = 0; objects < 2; objects++)
	{
		dyn_slice	pay = objects ? dyn_slice_str("an object") :
			(dyn_slice) {digest, DYN_SYNC_DIGEST};

		memset(digest, 0xab, sizeof(digest));
		dyn_buf_reset(&b);
		start = dyn_sync_keys_reply_begin(&b, 4);
		dyn_sync_keys_reply_add(&b, ekey, pay, objects);
		dyn_sync_keys_reply_add(&b, ekey, pay, objects);
		dyn_sync_keys_reply_end(&b, start, 2, true);
		f = parse_one(&b, DYN_MSG_SYNC_KEYS_REPLY, 4);
		assert_int_equal(dyn_sync_keys_reply_decode(f.body, objects, &kr), DYN_OK);
		assert_true(kr.more);
		assert_int_equal(kr.count, 2);
		dyn_reader_init(&r, kr.items);
		assert_int_equal(dyn_sync_keys_next(&r, objects, &key, &payload), DYN_OK);
		assert_true(dyn_slice_eq(key, ekey));
		assert_true(dyn_slice_eq(payload, pay));
		/* read in the other shape, the items do not add up */
		assert_int_equal(dyn_sync_keys_reply_decode(f.body, !objects, &kr), DYN_ERR_PROTO);
		for (size_t cut = 0; cut < f.body.len; cut++)
		{
			dyn_slice	t = {f.body.ptr, cut};

			assert_int_equal(dyn_sync_keys_reply_decode(t, objects, &kr), DYN_ERR_PROTO);
		}
	}

	/* REAP */
	dyn_buf_reset(&b);
	start = dyn_reap_req_begin(&b, 5, 63);
	dyn_reap_req_add(&b, ekey, digest);
	dyn_reap_req_end(&b, start, 1);
	f = parse_one(&b, DYN_MSG_REAP, 5);
	assert_int_equal(dyn_reap_req_decode(f.body, &part, &count, &s), DYN_OK);
	assert_int_equal(part, 63);
	assert_int_equal(count, 1);
	for (size_t cut = 0; cut < f.body.len; cut++)
	{
		dyn_slice	t = {f.body.ptr, cut};

		assert_int_equal(dyn_reap_req_decode(t, &part, &count, &s), DYN_ERR_PROTO);
	}

	/* REMOVE and the JSON replies */
	dyn_buf_reset(&b);
	dyn_remove_req_encode(&b, 6, dyn_slice_str("n4"));
	f = parse_one(&b, DYN_MSG_REMOVE, 6);
	assert_int_equal(dyn_remove_req_decode(f.body, &s), DYN_OK);
	assert_true(dyn_slice_eq(s, dyn_slice_str("n4")));
	dyn_buf_reset(&b);
	dyn_remove_req_encode(&b, 6, dyn_slice_str(""));
	assert_int_not_equal(b.err, DYN_OK);
	dyn_buf_reset(&b);
	dyn_json_reply_encode(&b, DYN_MSG_REPAIR_REPLY, 7, dyn_slice_str("{\"node\":\"n1\"}"));
	f = parse_one(&b, DYN_MSG_REPAIR_REPLY, 7);
	assert_int_equal(dyn_status_reply_decode(f.body, &s), DYN_OK);
	assert_true(dyn_slice_eq(s, dyn_slice_str("{\"node\":\"n1\"}")));
	dyn_buf_free(&b);
}

static void
test_random_garbage(void **state)
{
	dyn_buf		valid;
	uint64_t	seed = 0x9e3779b97f4a7c15ULL;
	uint8_t		junk[96];
	int			iter;
	static const uint8_t types[] = {
		DYN_MSG_GET, DYN_MSG_PUT, DYN_MSG_DELETE, DYN_MSG_STATUS,
		DYN_MSG_GET_REPLY, DYN_MSG_PUT_REPLY, DYN_MSG_DELETE_REPLY,
		DYN_MSG_STATUS_REPLY, DYN_MSG_ERROR, DYN_MSG_REPLICA_GET,
		DYN_MSG_REPLICA_PUT, DYN_MSG_GOSSIP, DYN_MSG_RING, DYN_MSG_COORD_PUT,
		DYN_MSG_COORD_DELETE, DYN_MSG_REPLICA_GET_REPLY, DYN_MSG_REPLICA_PUT_REPLY,
		DYN_MSG_GOSSIP_REPLY, DYN_MSG_RING_REPLY, DYN_MSG_COORD_PUT_REPLY,
		DYN_MSG_COORD_DELETE_REPLY, DYN_MSG_REPAIR, DYN_MSG_REMOVE, DYN_MSG_MERKLE,
		DYN_MSG_MERKLE_REPLY, DYN_MSG_SYNC_KEYS, DYN_MSG_SYNC_KEYS_REPLY, DYN_MSG_REAP,
	};

	(void) state;
	dyn_buf_init(&valid);
	encode_samples(&valid);
	assert_int_equal(valid.err, DYN_OK);

	for (iter = 0; iter < 5000; iter++)
	{
		size_t		len = next_random(&seed) % sizeof(junk);
		size_t		i;
		size_t		used = 0;
		dyn_frame	f;
		int			rc;

		if (iter % 2 == 0)
		{
			for (i = 0; i < len; i++)
				junk[i] = (uint8_t) next_random(&seed);
		}
		else
		{
			/* a window of the valid stream with a few bytes flipped */
			size_t		start = next_random(&seed) % valid.len;

			if (len > valid.len - start)
				len = valid.len - start;
			memcpy(junk, valid.data + start, len);
			for (i = 0; len > 0 && i < 3; i++)
				junk[next_random(&seed) % len] ^= (uint8_t) (1 + next_random(&seed) % 255);
		}

		rc = dyn_frame_parse(junk, len, 64, &f, &used);
		assert_true(rc == DYN_OK || rc == DYN_ERR_AGAIN ||
					rc == DYN_ERR_TOOBIG || rc == DYN_ERR_PROTO);
		if (rc == DYN_OK)
		{
			assert_true(used <= len);
			assert_true(f.body.ptr + f.body.len <= junk + len);
			(void) decode_any(f.type, f.body);
		}
		for (i = 0; i < sizeof(types); i++)
		{
			rc = decode_any(types[i], bytes_of(junk, len));
			assert_true(rc == DYN_OK || rc == DYN_ERR_PROTO || rc == DYN_ERR_TOOBIG);
		}
	}
	dyn_buf_free(&valid);
}

/* Message type names, and the reply bit. */
static void
test_type_names(void **state)
{
	(void) state;
	assert_string_equal(dyn_msg_type_name(DYN_MSG_GET), "get");
	assert_string_equal(dyn_msg_type_name(DYN_MSG_PUT_REPLY), "put_reply");
	assert_string_equal(dyn_msg_type_name(DYN_MSG_DELETE), "delete");
	assert_string_equal(dyn_msg_type_name(DYN_MSG_STATUS_REPLY), "status_reply");
	assert_string_equal(dyn_msg_type_name(DYN_MSG_ERROR), "error");
	assert_string_equal(dyn_msg_type_name(DYN_MSG_GOSSIP_REPLY), "gossip_reply");
	assert_string_equal(dyn_msg_type_name(DYN_MSG_REPLICA_PUT), "replica_put");
	assert_string_equal(dyn_msg_type_name(DYN_MSG_COORD_DELETE), "coord_delete");
	assert_string_equal(dyn_msg_type_name(0x42), "unknown");
	assert_true(DYN_MSG_IS_REPLY(DYN_MSG_GET_REPLY));
	assert_false(DYN_MSG_IS_REPLY(DYN_MSG_GET));
	assert_int_equal(DYN_MSG_REPLY_OF(DYN_MSG_GET), DYN_MSG_GET_REPLY);
}

/* Run every test of this file. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_round_trip),
		cmocka_unit_test(test_put_delete_round_trip),
		cmocka_unit_test(test_status_round_trip),
		cmocka_unit_test(test_replies_round_trip),
		cmocka_unit_test(test_replica_round_trip),
		cmocka_unit_test(test_view_round_trip),
		cmocka_unit_test(test_coord_round_trip),
		cmocka_unit_test(test_scan_round_trip),
		cmocka_unit_test(test_buckets_round_trip),
		cmocka_unit_test(test_pipelined_frames),
		cmocka_unit_test(test_truncation_everywhere),
		cmocka_unit_test(test_frame_header_checks),
		cmocka_unit_test(test_key_checks),
		cmocka_unit_test(test_encoder_argument_checks),
		cmocka_unit_test(test_random_garbage),
		cmocka_unit_test(test_sync_messages),
		cmocka_unit_test(test_type_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
