/*
 * check.c
 *		The checks every fuzz target applies to what a decoder accepted (see
 *		fuzz.h): encode it again and require the bytes it came from, since
 *		every encoding here is canonical (one spelling per value), and check
 *		what a body carries (objects, clocks, rings) the same way.  A decoder
 *		that accepts two spellings of one value, or reads a value other than
 *		the one written, fails here.
 *
 * Also the input cursor of fuzz.h.
 */
#include <string.h>

#include "dynamo/object.h"
#include "dynamo/ring.h"
#include "dynamo/vclock.h"
#include "dynamo/wire.h"

#include "fuzz.h"

static void expect_frame(dyn_buf *b, uint8_t type, dyn_slice body);
static bool check_view(uint8_t type, dyn_slice body);
static bool check_scan_reply(dyn_slice body);
static bool check_buckets_reply(dyn_slice body);
static bool check_sync_keys_reply(dyn_slice body, bool objects);
static bool check_reap(dyn_slice body);
static uint16_t *u16_list(dyn_slice list, uint16_t count);


/* ------------------------------------------------------------ the cursor */

uint8_t
fuzz_u8(fuzz_in *in)
{
	uint8_t		v = 0;

	if (in->n > 0)
	{
		v = in->p[0];
		in->p++;
		in->n--;
	}
	return v;
}

uint16_t
fuzz_u16(fuzz_in *in)
{
	uint16_t	hi = fuzz_u8(in);

	return (uint16_t) (hi << 8 | fuzz_u8(in));
}

dyn_slice
fuzz_bytes(fuzz_in *in, size_t n)
{
	dyn_slice	s = {in->p, n < in->n ? n : in->n};

	in->p += s.len;
	in->n -= s.len;
	return s;
}

dyn_slice
fuzz_blob(fuzz_in *in)
{
	return fuzz_bytes(in, fuzz_u16(in));
}

bool
fuzz_same(dyn_slice a, dyn_slice b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}


/* ------------------------------------------------------ carried values */

/*
 * An object: re-encodes to the same bytes, and the in-place readers
 * (which a scan and the write path use instead of decoding) agree.
 */
bool
fuzz_check_object(dyn_slice bytes)
{
	dyn_object	o;
	dyn_buf		b;
	bool		all = true;
	uint64_t	newest = 0;

	dyn_object_init(&o);
	if (dyn_object_decode(bytes, &o) != DYN_OK)
	{
		dyn_object_free(&o);
		return false;
	}
	dyn_buf_init(&b);
	if (bytes.len > 0)
	{
		dyn_object_encode(&o, &b);
		FUZZ_CHECK(b.err == DYN_OK, "encode failed");
		FUZZ_CHECK(fuzz_same(bytes, dyn_buf_slice(&b)), "object re-encodes differently");
	}
	for (size_t i = 0; i < o.n; i++)
	{
		const dyn_vclock_entry *d = &o.s[i].clock.e[o.s[i].dot];

		all &= o.s[i].tombstone;
		if (d->ts_ms > newest)
			newest = d->ts_ms;
	}
	FUZZ_CHECK(dyn_object_bytes_all_tombstones(bytes) == (o.n > 0 && all),
			   "all_tombstones disagrees with decode");
	FUZZ_CHECK(dyn_object_bytes_newest_ms(bytes) == newest,
			   "newest_ms disagrees with decode");
	dyn_buf_free(&b);
	dyn_object_free(&o);
	return true;
}

/* A clock (a context): re-encodes to the same bytes. */
bool
fuzz_check_clock(dyn_slice bytes)
{
	dyn_vclock	vc;
	dyn_buf		b;

	if (dyn_vclock_decode(bytes, &vc) != DYN_OK)
		return false;
	if (bytes.len > 0)
	{
		dyn_buf_init(&b);
		dyn_vclock_encode(&vc, &b);
		FUZZ_CHECK(fuzz_same(bytes, dyn_buf_slice(&b)), "clock re-encodes differently");
		dyn_buf_free(&b);
	}
	return true;
}

/*
 * A ring: re-encodes to the same bytes; every preference list is a
 * permutation of the members, and dyn_ring_replicates says yes exactly
 * for its first dyn_ring_replicas entries (small rings only: cost).
 */
bool
fuzz_check_ring(dyn_slice bytes)
{
	dyn_ring	ring;
	dyn_buf		b;

	if (dyn_ring_init(&ring, 1, 1) != DYN_OK)
		return false;
	if (dyn_ring_decode(bytes, &ring) != DYN_OK)
	{
		dyn_ring_free(&ring);
		return false;
	}
	dyn_buf_init(&b);
	dyn_ring_encode(&ring, &b);
	FUZZ_CHECK(b.err == DYN_OK, "ring encode failed");
	FUZZ_CHECK(fuzz_same(bytes, dyn_buf_slice(&b)), "ring re-encodes differently");
	if (ring.nmembers > 0 && ring.q * ring.nmembers <= 4096)
	{
		uint32_t	list[DYN_RING_MEMBERS_MAX];
		uint32_t	replicas = dyn_ring_replicas(&ring);

		for (uint32_t p = 0; p < ring.q; p++)
		{
			int			len = dyn_ring_preflist(&ring, p, list, DYN_RING_MEMBERS_MAX);
			uint8_t		seen[DYN_RING_MEMBERS_MAX] = {0};

			FUZZ_CHECK(len == (int) ring.nmembers, "preference list of %d, %u members",
					   len, ring.nmembers);
			for (int i = 0; i < len; i++)
			{
				FUZZ_CHECK(list[i] < ring.nmembers && !seen[list[i]],
						   "preference list repeats or invents a member");
				seen[list[i]] = 1;
				FUZZ_CHECK(dyn_ring_replicates(&ring, p, list[i]) == ((uint32_t) i < replicas),
						   "dyn_ring_replicates disagrees with the preference list");
			}
		}
	}
	dyn_buf_free(&b);
	dyn_ring_free(&ring);
	return true;
}


/* ----------------------------------------------------------------- bodies */

/* b holds one whole frame of type whose body must be body. */
static void
expect_frame(dyn_buf *b, uint8_t type, dyn_slice body)
{
	dyn_frame	f;
	size_t		used = 0;

	FUZZ_CHECK(b->err == DYN_OK, "re-encoding type 0x%02x failed: %d", type, b->err);
	FUZZ_CHECK(dyn_frame_parse(b->data, b->len, UINT32_MAX, &f, &used) == DYN_OK &&
			   used == b->len, "re-encoded type 0x%02x is not one frame", type);
	FUZZ_CHECK(f.type == type, "re-encoded as type 0x%02x, not 0x%02x", f.type, type);
	FUZZ_CHECK(fuzz_same(f.body, body), "type 0x%02x re-encodes differently", type);
}

/* count big-endian u16 of list, as an array (caller frees). */
static uint16_t *
u16_list(dyn_slice list, uint16_t count)
{
	uint16_t   *v = malloc(((size_t) count + 1) * sizeof(uint16_t));

	FUZZ_CHECK(v != NULL, "out of memory");
	for (uint16_t i = 0; i < count; i++)
		v[i] = dyn_u16_at(list, i);
	return v;
}

/* GOSSIP, GOSSIP_REPLY, RING_REPLY: every member entry, and the ring. */
static bool
check_view(uint8_t type, dyn_slice body)
{
	dyn_view_msg v;
	dyn_reader	r;
	dyn_buf		b;
	size_t		start;

	if (dyn_view_decode(body, &v) != DYN_OK)
		return false;
	dyn_buf_init(&b);
	start = dyn_view_begin(&b, type, 0);
	dyn_reader_init(&r, v.members);
	for (uint16_t i = 0; i < v.count; i++)
	{
		dyn_member_entry m;

		FUZZ_CHECK(dyn_view_next(&r, &m) == DYN_OK, "member %u of a checked view", i);
		dyn_view_add(&b, &m);
	}
	dyn_view_end(&b, start, v.count, v.ring);
	expect_frame(&b, type, body);
	dyn_buf_free(&b);
	if (v.ring.len > 0)
		(void) fuzz_check_ring(v.ring);
	return true;
}

/* SCAN_REPLY: every item, and the objects. */
static bool
check_scan_reply(dyn_slice body)
{
	dyn_scan_reply s;
	dyn_reader	r;
	dyn_buf		b;
	size_t		start;

	if (dyn_scan_reply_decode(body, &s) != DYN_OK)
		return false;
	dyn_buf_init(&b);
	start = dyn_scan_reply_begin(&b, 0);
	dyn_reader_init(&r, s.items);
	for (uint16_t i = 0; i < s.count; i++)
	{
		dyn_slice	key;
		dyn_slice	object;

		FUZZ_CHECK(dyn_scan_next(&r, &key, &object) == DYN_OK, "item %u of a checked reply", i);
		dyn_scan_reply_add(&b, key, object);
		(void) fuzz_check_object(object);
	}
	dyn_scan_reply_end(&b, start, s.count, s.more);
	expect_frame(&b, DYN_MSG_SCAN_REPLY, body);
	dyn_buf_free(&b);
	return true;
}

/* BUCKETS_REPLY: every name, encoded again the same. */
static bool
check_buckets_reply(dyn_slice body)
{
	uint16_t	count;
	dyn_slice	names;
	dyn_reader	r;
	dyn_buf		b;
	size_t		start;

	if (dyn_buckets_reply_decode(body, &count, &names) != DYN_OK)
		return false;
	dyn_buf_init(&b);
	start = dyn_buckets_reply_begin(&b, 0);
	dyn_reader_init(&r, names);
	for (uint16_t i = 0; i < count; i++)
	{
		dyn_slice	name;

		FUZZ_CHECK(dyn_buckets_next(&r, &name) == DYN_OK, "name %u of a checked reply", i);
		dyn_buckets_reply_add(&b, name);
	}
	dyn_buckets_reply_end(&b, start, count);
	expect_frame(&b, DYN_MSG_BUCKETS_REPLY, body);
	dyn_buf_free(&b);
	return true;
}

/* SYNC_KEYS_REPLY in either item shape. */
static bool
check_sync_keys_reply(dyn_slice body, bool objects)
{
	dyn_sync_keys_reply s;
	dyn_reader	r;
	dyn_buf		b;
	size_t		start;

	if (dyn_sync_keys_reply_decode(body, objects, &s) != DYN_OK)
		return false;
	dyn_buf_init(&b);
	start = dyn_sync_keys_reply_begin(&b, 0);
	dyn_reader_init(&r, s.items);
	for (uint32_t i = 0; i < s.count; i++)
	{
		dyn_slice	key;
		dyn_slice	payload;

		FUZZ_CHECK(dyn_sync_keys_next(&r, objects, &key, &payload) == DYN_OK,
				   "item %u of a checked reply", i);
		dyn_sync_keys_reply_add(&b, key, payload, objects);
		if (objects)
			(void) fuzz_check_object(payload);
	}
	dyn_sync_keys_reply_end(&b, start, s.count, s.more);
	expect_frame(&b, DYN_MSG_SYNC_KEYS_REPLY, body);
	dyn_buf_free(&b);
	return true;
}

/* REAP: every key and digest. */
static bool
check_reap(dyn_slice body)
{
	uint16_t	partition;
	uint16_t	count;
	dyn_slice	items;
	dyn_reader	r;
	dyn_buf		b;
	size_t		start;

	if (dyn_reap_req_decode(body, &partition, &count, &items) != DYN_OK)
		return false;
	dyn_buf_init(&b);
	start = dyn_reap_req_begin(&b, 0, partition);
	dyn_reader_init(&r, items);
	for (uint16_t i = 0; i < count; i++)
	{
		dyn_slice	key;
		dyn_slice	digest;

		FUZZ_CHECK(dyn_reap_next(&r, &key, &digest) == DYN_OK, "item %u of a checked REAP", i);
		dyn_reap_req_add(&b, key, digest.ptr);
	}
	dyn_reap_req_end(&b, start, count);
	expect_frame(&b, DYN_MSG_REAP, body);
	dyn_buf_free(&b);
	return true;
}

bool
fuzz_check_body(uint8_t type, dyn_slice body)
{
	dyn_buf		b;
	bool		ok = true;

	dyn_buf_init(&b);
	switch (type)
	{
		case DYN_MSG_GET:
			{
				dyn_get_req q;

				if ((ok = dyn_get_req_decode(body, &q) == DYN_OK))
					dyn_get_req_encode(&b, 0, &q);
				break;
			}
		case DYN_MSG_PUT:
		case DYN_MSG_DELETE:
		case DYN_MSG_COORD_PUT:
		case DYN_MSG_COORD_DELETE:
			{
				dyn_put_req q;

				if ((ok = dyn_put_req_decode(body, type, &q) == DYN_OK))
				{
					dyn_put_req_encode(&b, type, 0, &q);
					(void) fuzz_check_clock(q.context);
				}
				break;
			}
		case DYN_MSG_PUT_REPLY:
		case DYN_MSG_DELETE_REPLY:
		case DYN_MSG_COORD_PUT_REPLY:
		case DYN_MSG_COORD_DELETE_REPLY:
			{
				dyn_slice	ctx;

				if ((ok = dyn_put_reply_decode(body, &ctx) == DYN_OK))
				{
					dyn_put_reply_encode(&b, type, 0, ctx);
					(void) fuzz_check_clock(ctx);
				}
				break;
			}
		case DYN_MSG_STATUS:
			if ((ok = dyn_status_req_decode(body) == DYN_OK))
				dyn_status_req_encode(&b, 0);
			break;
		case DYN_MSG_BUCKETS:
			if ((ok = dyn_buckets_req_decode(body) == DYN_OK))
				dyn_buckets_req_encode(&b, 0);
			break;
		case DYN_MSG_BUCKETS_REPLY:
			ok = check_buckets_reply(body);
			dyn_buf_free(&b);
			return ok;
		case DYN_MSG_RING:
		case DYN_MSG_REPAIR:
		case DYN_MSG_REPLICA_PUT_REPLY:
			if ((ok = dyn_empty_decode(body) == DYN_OK))
				dyn_empty_encode(&b, type, 0);
			break;
		case DYN_MSG_GET_REPLY:
		case DYN_MSG_REPLICA_GET_REPLY:
			{
				dyn_slice	object;

				if ((ok = dyn_get_reply_decode(body, &object) == DYN_OK))
				{
					dyn_object_reply_encode(&b, type, 0, object);
					(void) fuzz_check_object(object);
				}
				break;
			}
		case DYN_MSG_STATUS_REPLY:
		case DYN_MSG_REPAIR_REPLY:
		case DYN_MSG_REMOVE_REPLY:
			{
				dyn_slice	json;

				if ((ok = dyn_status_reply_decode(body, &json) == DYN_OK))
					dyn_json_reply_encode(&b, type, 0, json);
				break;
			}
		case DYN_MSG_ERROR:
			{
				dyn_error_msg e;

				if ((ok = dyn_error_decode(body, &e) == DYN_OK))
					dyn_error_encode(&b, 0, &e);
				break;
			}
		case DYN_MSG_REPLICA_GET:
			{
				dyn_replica_get_req q;

				if ((ok = dyn_replica_get_decode(body, &q) == DYN_OK))
					dyn_replica_get_encode(&b, 0, &q);
				break;
			}
		case DYN_MSG_REPLICA_PUT:
			{
				dyn_replica_put_req q;

				if ((ok = dyn_replica_put_decode(body, &q) == DYN_OK))
				{
					dyn_replica_put_encode(&b, 0, &q);
					(void) fuzz_check_object(q.object);
				}
				break;
			}
		case DYN_MSG_GOSSIP:
		case DYN_MSG_GOSSIP_REPLY:
		case DYN_MSG_RING_REPLY:
			ok = check_view(type, body);
			dyn_buf_free(&b);
			return ok;
		case DYN_MSG_SCAN:
			{
				dyn_scan_req q;

				if ((ok = dyn_scan_req_decode(body, &q) == DYN_OK))
					dyn_scan_req_encode(&b, 0, &q);
				break;
			}
		case DYN_MSG_SCAN_REPLY:
			ok = check_scan_reply(body);
			dyn_buf_free(&b);
			return ok;
		case DYN_MSG_MERKLE:
			{
				dyn_merkle_req q;

				if ((ok = dyn_merkle_req_decode(body, &q) == DYN_OK))
				{
					uint16_t   *v = u16_list(q.indices, q.count);

					dyn_merkle_req_encode(&b, 0, q.partition, q.level, q.span, v, q.count);
					free(v);
				}
				break;
			}
		case DYN_MSG_MERKLE_REPLY:
			{
				uint8_t		depth;
				dyn_slice	digests;

				/* no encoder (the node writes the digests in place): decode only */
				ok = dyn_merkle_reply_decode(body, &depth, &digests) == DYN_OK;
				if (ok)
					FUZZ_CHECK(digests.len + 1 == body.len, "digests lost bytes");
				dyn_buf_free(&b);
				return ok;
			}
		case DYN_MSG_SYNC_KEYS:
			{
				dyn_sync_keys_req q;

				if ((ok = dyn_sync_keys_req_decode(body, &q) == DYN_OK))
				{
					uint16_t   *v = u16_list(q.leaves, q.count);

					dyn_sync_keys_req_encode(&b, 0, q.partition, q.flags, q.after, v, q.count);
					free(v);
				}
				break;
			}
		case DYN_MSG_SYNC_KEYS_REPLY:
			{
				bool		a = check_sync_keys_reply(body, false);
				bool		o = check_sync_keys_reply(body, true);

				dyn_buf_free(&b);
				return a || o;
			}
		case DYN_MSG_REAP:
			ok = check_reap(body);
			dyn_buf_free(&b);
			return ok;
		case DYN_MSG_REMOVE:
			{
				dyn_slice	id;

				if ((ok = dyn_remove_req_decode(body, &id) == DYN_OK))
					dyn_remove_req_encode(&b, 0, id);
				break;
			}
		default:
			ok = false;			/* REAP_REPLY (a bare u32) and unknown types */
			break;
	}
	if (ok)
		expect_frame(&b, type, body);
	dyn_buf_free(&b);
	return ok;
}
