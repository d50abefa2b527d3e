/*
 * seeds.c
 *		Writes the seed corpora of the fuzz targets (node/fuzz/corpus/<target>/)
 *		with the library's own encoders, so every target starts from inputs
 *		that reach deep into its decoder: `make fuzz-seeds` (the committed
 *		corpora come from it).  A handful of small files per target.
 *
 *		seeds DIR
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "dynamo/channel.h"
#include "dynamo/identity.h"
#include "dynamo/keytext.h"
#include "dynamo/merkle.h"
#include "dynamo/object.h"
#include "dynamo/ring.h"
#include "dynamo/wire.h"

static const char *root;

static void put_file(const char *target, const char *name, const void *p, size_t n);
static void put_buf(const char *target, const char *name, const dyn_buf *b);
static void with_prefix(const char *target, const char *name, uint8_t first,
						const dyn_buf *b);
static void body_of(const dyn_buf *frame, dyn_buf *out);
static void sample_object(dyn_object *o, int kind, dyn_buf *enc);
static void sample_ring(dyn_ring *ring, int kind, dyn_buf *enc);
static void blob(dyn_buf *b, dyn_slice s);

/* Write one corpus file, making the directory; exit on failure. */
static void
put_file(const char *target, const char *name, const void *p, size_t n)
{
	char		path[512];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", root, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
	{
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
	f = fopen(path, "wb");
	if (f == NULL || (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
	{
		perror(path);
		exit(1);
	}
}

static void
put_buf(const char *target, const char *name, const dyn_buf *b)
{
	if (b->err != DYN_OK)
	{
		fprintf(stderr, "seeds: encoding %s/%s failed\n", target, name);
		exit(1);
	}
	put_file(target, name, b->data, b->len);
}

/* One file: the byte first (a target's mode or type), then b. */
static void
with_prefix(const char *target, const char *name, uint8_t first, const dyn_buf *b)
{
	dyn_buf		all;

	dyn_buf_init(&all);
	dyn_buf_put_u8(&all, first);
	dyn_buf_append(&all, b->data, b->len);
	put_buf(target, name, &all);
	dyn_buf_free(&all);
}

/* The body of the one frame in frame. */
static void
body_of(const dyn_buf *frame, dyn_buf *out)
{
	dyn_buf_reset(out);
	dyn_buf_append(out, frame->data + DYN_FRAME_HEADER_LEN, frame->len - DYN_FRAME_HEADER_LEN);
}

/* A u16-length blob, as the merge target reads its fields. */
static void
blob(dyn_buf *b, dyn_slice s)
{
	dyn_buf_put_blob16(b, s);
}

/*
 * Objects: 0 one value; 1 concurrent siblings through two nodes and a
 * tombstone; 2 a read-modify-write history over many actors.
 */
static void
sample_object(dyn_object *o, int kind, dyn_buf *enc)
{
	static const char *const values[] = {"v1", "v2", "v3", "v4"};
	dyn_slice	v;
	dyn_vclock	ctx;

	dyn_object_init(o);
	dyn_vclock_init(&ctx);
	v = dyn_slice_str(values[0]);
	dyn_object_put(o, dyn_slice_str("n1"), &ctx, &v, 1700000000000ULL, NULL);
	if (kind >= 1)
	{
		v = dyn_slice_str(values[1]);
		dyn_object_put(o, dyn_slice_str("n2"), &ctx, &v, 1700000000001ULL, NULL);
		dyn_object_put(o, dyn_slice_str("n1"), &ctx, NULL, 1700000000002ULL, NULL);
	}
	if (kind >= 2)
	{
		for (int i = 0; i < 12; i++)
		{
			char		id[8];

			snprintf(id, sizeof(id), "a%d", i);
			dyn_object_context(o, &ctx);
			v = dyn_slice_str(values[i % 4]);
			dyn_object_put(o, dyn_slice_str(id), &ctx, &v, 1700000000100ULL + (uint64_t) i,
						   NULL);
		}
		dyn_vclock_init(&ctx);
		v = dyn_slice_str("concurrent");
		dyn_object_put(o, dyn_slice_str("n3"), &ctx, &v, 1700000000200ULL, NULL);
	}
	dyn_buf_reset(enc);
	dyn_object_encode(o, enc);
}

/* Rings: 0 three members, 1 zones, 2 a join pending. */
static void
sample_ring(dyn_ring *ring, int kind, dyn_buf *enc)
{
	static const char *const zones[] = {"a", "b", "c"};

	dyn_ring_init(ring, kind == 1 ? 16 : 8, 3);
	for (int i = 0; i < 3; i++)
	{
		char		id[8];
		char		addr[32];

		snprintf(id, sizeof(id), "n%d", i + 1);
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", 7400 + i);
		dyn_ring_add_member(ring, dyn_slice_str(id), dyn_slice_str(addr),
							dyn_slice_str(kind == 1 ? zones[i] : ""));
	}
	if (kind == 2)
		dyn_ring_plan_join(ring, dyn_slice_str("n4"), dyn_slice_str("127.0.0.1:7403"),
						   dyn_slice_str(""));
	dyn_buf_reset(enc);
	dyn_ring_encode(ring, enc);
}

int
main(int argc, char **argv)
{
	dyn_buf		f;
	dyn_buf		body;
	dyn_buf		obj[3];
	dyn_buf		ringb;
	dyn_object	o[3];
	dyn_ring	ring;
	dyn_vclock	ctx;
	dyn_buf		ctxb;
	dyn_buf		stream;
	char		name[64];

	if (argc != 2 || sodium_init() < 0)
	{
		fprintf(stderr, "usage: seeds DIR\n");
		return 2;
	}
	root = argv[1];
	dyn_buf_init(&f);
	dyn_buf_init(&body);
	dyn_buf_init(&ringb);
	dyn_buf_init(&ctxb);
	dyn_buf_init(&stream);
	for (int i = 0; i < 3; i++)
	{
		dyn_buf_init(&obj[i]);
		sample_object(&o[i], i, &obj[i]);
		snprintf(name, sizeof(name), "object-%d", i);
		put_buf("object", name, &obj[i]);
	}
	dyn_object_context(&o[2], &ctx);
	dyn_vclock_encode(&ctx, &ctxb);
	sample_ring(&ring, 2, &ringb);
	for (int i = 0; i < 3; i++)
	{
		dyn_ring	r;
		dyn_buf		rb;

		dyn_buf_init(&rb);
		sample_ring(&r, i, &rb);
		snprintf(name, sizeof(name), "ring-%d", i);
		put_buf("ring", name, &rb);
		dyn_ring_free(&r);
		dyn_buf_free(&rb);
	}

	/* clocks and contexts */
	with_prefix("vclock", "clock", 0, &ctxb);
	{
		dyn_buf		text;

		dyn_buf_init(&text);
		dyn_context_to_text(dyn_buf_slice(&ctxb), &text);
		with_prefix("vclock", "text", 1, &text);
		dyn_buf_reset(&text);
		dyn_vclock_encode(&o[1].s[0].clock, &f);
		dyn_context_to_text(dyn_buf_slice(&f), &text);
		with_prefix("vclock", "text-short", 1, &text);
		dyn_buf_reset(&f);
		dyn_buf_free(&text);
	}

	/* every body type; the frame stream is a few of them */
	{
		dyn_get_req g = {dyn_slice_str("users"), dyn_slice_str("alice"), 2};
		dyn_put_req p = {dyn_slice_str("users"), dyn_slice_str("alice"),
		dyn_buf_slice(&ctxb), dyn_slice_str("{\"age\":30}"), 2};
		dyn_put_req d = {dyn_slice_str("users"), dyn_slice_str("alice"),
		dyn_buf_slice(&ctxb), {NULL, 0}, 0};
		dyn_error_msg e = {DYN_E_QUORUM, 1, 2, dyn_slice_str("quorum not reached")};
		dyn_replica_get_req rg = {dyn_slice_str("users"), dyn_slice_str("bob")};
		dyn_replica_put_req rp = {dyn_slice_str("users"), dyn_slice_str("bob"),
		dyn_slice_str("n2"), dyn_buf_slice(&obj[1])};
		dyn_scan_req sq = {3, dyn_slice_str("users"), dyn_slice_str("alice"), 100, 0};
		dyn_member_entry m = {dyn_slice_str("n1"), dyn_slice_str("127.0.0.1:7400"),
		dyn_slice_str("a"), DYN_MEMBER_UP, 1700000000000ULL, 42, 3};
		uint16_t	idx[] = {0, 1, 5};
		uint8_t		digest[DYN_MERKLE_DIGEST];
		size_t		start;

#define EMIT(nm, t) \
		do { \
			body_of(&f, &body); \
			with_prefix("body", nm, t, &body); \
			dyn_buf_append(&stream, f.data, f.len); \
			dyn_buf_reset(&f); \
		} while (0)

		memset(digest, 0xab, sizeof(digest));
		dyn_get_req_encode(&f, 1, &g);
		EMIT("get", DYN_MSG_GET);
		dyn_put_req_encode(&f, DYN_MSG_PUT, 2, &p);
		EMIT("put", DYN_MSG_PUT);
		dyn_put_req_encode(&f, DYN_MSG_DELETE, 3, &d);
		EMIT("delete", DYN_MSG_DELETE);
		dyn_get_reply_encode(&f, 1, dyn_buf_slice(&obj[2]));
		EMIT("get_reply", DYN_MSG_GET_REPLY);
		dyn_put_reply_encode(&f, DYN_MSG_PUT_REPLY, 2, dyn_buf_slice(&ctxb));
		EMIT("put_reply", DYN_MSG_PUT_REPLY);
		dyn_error_encode(&f, 4, &e);
		EMIT("error", DYN_MSG_ERROR);
		dyn_status_reply_encode(&f, 5, dyn_slice_str("{\"node\":\"n1\"}"));
		EMIT("status_reply", DYN_MSG_STATUS_REPLY);
		dyn_replica_get_encode(&f, 6, &rg);
		EMIT("replica_get", DYN_MSG_REPLICA_GET);
		dyn_replica_put_encode(&f, 7, &rp);
		EMIT("replica_put", DYN_MSG_REPLICA_PUT);
		start = dyn_view_begin(&f, DYN_MSG_GOSSIP, 8);
		dyn_view_add(&f, &m);
		dyn_view_end(&f, start, 1, dyn_buf_slice(&ringb));
		EMIT("gossip", DYN_MSG_GOSSIP);
		dyn_scan_req_encode(&f, 9, &sq);
		EMIT("scan", DYN_MSG_SCAN);
		sq.flags = DYN_SCAN_NO_VALUES;
		dyn_scan_req_encode(&f, 9, &sq);
		EMIT("scan_novalues", DYN_MSG_SCAN);
		sq.flags = 0;
		start = dyn_buckets_reply_begin(&f, 9);
		dyn_buckets_reply_add(&f, dyn_slice_str("carts"));
		dyn_buckets_reply_add(&f, dyn_slice_str("users"));
		dyn_buckets_reply_end(&f, start, 2);
		EMIT("buckets_reply", DYN_MSG_BUCKETS_REPLY);
		start = dyn_scan_reply_begin(&f, 9);
		dyn_scan_reply_add(&f, dyn_slice_str("alice"), dyn_buf_slice(&obj[0]));
		dyn_scan_reply_add(&f, dyn_slice_str("bob"), dyn_buf_slice(&obj[1]));
		dyn_scan_reply_end(&f, start, 2, true);
		EMIT("scan_reply", DYN_MSG_SCAN_REPLY);

		/* the sync bodies, into their own target (its first byte picks the type) */
		dyn_merkle_req_encode(&f, 10, 3, 2, 2, idx, 3);
		body_of(&f, &body);
		with_prefix("sync", "merkle", 0, &body);
		dyn_buf_reset(&f);
		dyn_buf_reset(&body);
		dyn_buf_put_u8(&body, 12);
		dyn_buf_append(&body, digest, DYN_SYNC_NODE_DIGEST * 4);
		with_prefix("sync", "merkle_reply", 1, &body);
		dyn_sync_keys_req_encode(&f, 11, 3, DYN_SYNC_OBJECTS, dyn_slice_str("\x00\x03\x05usersalice"),
								 idx, 3);
		body_of(&f, &body);
		with_prefix("sync", "sync_keys", 2, &body);
		dyn_buf_reset(&f);
		start = dyn_sync_keys_reply_begin(&f, 11);
		dyn_sync_keys_reply_add(&f, dyn_slice_str("\x00\x03\x05usersalice"),
								dyn_buf_slice(&obj[1]), true);
		dyn_sync_keys_reply_end(&f, start, 1, false);
		body_of(&f, &body);
		with_prefix("sync", "sync_keys_reply", 3, &body);
		dyn_buf_reset(&f);
		start = dyn_reap_req_begin(&f, 12, 3);
		dyn_reap_req_add(&f, dyn_slice_str("\x00\x03\x05usersalice"), digest);
		dyn_reap_req_end(&f, start, 1);
		body_of(&f, &body);
		with_prefix("sync", "reap", 4, &body);
		dyn_buf_reset(&f);
		dyn_remove_req_encode(&f, 13, dyn_slice_str("n3"));
		body_of(&f, &body);
		with_prefix("sync", "remove", 5, &body);
		dyn_buf_reset(&f);
	}
	{
		dyn_buf		all;

		dyn_buf_init(&all);
		dyn_buf_put_u8(&all, 7);	/* chunk seed */
		dyn_buf_put_u8(&all, 24);	/* 16 MiB bodies */
		dyn_buf_append(&all, stream.data, stream.len);
		put_buf("frame", "stream", &all);
		dyn_buf_free(&all);
	}

	/* keys: a key's text, its file, a trust file, a public key */
	{
		dyn_identity id;
		dyn_identity other;
		char		pk[DYN_KEY_TEXT_LEN + 1];
		char		pk2[DYN_KEY_TEXT_LEN + 1];
		char		sk[DYN_KEY_SECRET_TEXT_LEN + 1];
		char		text[1024];
		dyn_buf		t;

		dyn_buf_init(&t);
		dyn_identity_generate(&id);
		dyn_identity_generate(&other);
		dyn_key_to_text(id.pk, pk);
		dyn_key_to_text(other.pk, pk2);
		sodium_bin2base64(sk, sizeof(sk), id.sk, sizeof(id.sk),
						  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		dyn_buf_append(&t, sk, strlen(sk));
		with_prefix("keys", "key-line", 0, &t);
		dyn_buf_reset(&t);
		snprintf(text, sizeof(text), "dynamo-secret-key-v1\n%s\n# public key %s\n", sk, pk);
		dyn_buf_append(&t, text, strlen(text));
		with_prefix("keys", "key-file", 1, &t);
		dyn_buf_reset(&t);
		snprintf(text, sizeof(text), "# trust\n%s node n1\n%s write app # the app\n", pk, pk2);
		dyn_buf_append(&t, text, strlen(text));
		with_prefix("keys", "trust", 2, &t);
		dyn_buf_reset(&t);
		dyn_buf_append(&t, pk, strlen(pk));
		with_prefix("keys", "public", 3, &t);
		dyn_buf_free(&t);
		dyn_identity_clear(&id);
		dyn_identity_clear(&other);
	}

	/* the channel: a client's HELLO to a node; a clean conversation */
	{
		dyn_identity cid;
		dyn_trust	trust;
		dyn_channel *ch;
		dyn_buf		plain;
		dyn_buf		wire;
		static const uint8_t script[] = {
			2,					/* the man-in-the-middle game */
			0 << 1 | 0, 5, 'h', 'e', 'l', 'l', 'o',	/* client queues */
			1 << 1 | 0,			/* client seals HELLO */
			2 << 1 | 0, 0, 200,	/* deliver to the node */
			1 << 1 | 1,			/* node seals RESP */
			2 << 1 | 1, 1, 0,	/* deliver to the client */
			1 << 1 | 0,			/* client seals FIN and its record */
			2 << 1 | 0, 1, 0,
			0 << 1 | 1, 3, 'b', 'y', 'e',
			1 << 1 | 1,
			2 << 1 | 1, 0, 40,
		};

		dyn_identity_generate(&cid);
		dyn_trust_init(&trust);
		ch = dyn_channel_new(DYN_CHANNEL_INITIATOR, &cid, &trust);
		dyn_buf_init(&plain);
		dyn_buf_init(&wire);
		dyn_channel_seal(ch, &plain, &wire);
		with_prefix("channel", "hello", 0, &wire);
		dyn_buf_reset(&wire);
		dyn_buf_append(&wire, "DYNS\x01\x00\x00\x00", 8);
		with_prefix("channel", "fake-resp", 1, &wire);
		put_file("channel", "conversation", script, sizeof(script));
		dyn_channel_free(ch);
		dyn_buf_free(&plain);
		dyn_buf_free(&wire);
		dyn_trust_free(&trust);
		dyn_identity_clear(&cid);
	}

	/* merges: pairs and triples of the sample objects, a context, a write */
	for (int k = 0; k < 3; k++)
	{
		dyn_buf		m;

		dyn_buf_init(&m);
		blob(&m, dyn_buf_slice(&obj[k]));
		blob(&m, dyn_buf_slice(&obj[(k + 1) % 3]));
		blob(&m, dyn_buf_slice(&obj[(k + 2) % 3]));
		blob(&m, dyn_buf_slice(&ctxb));
		dyn_buf_put_u8(&m, 2);
		dyn_buf_append(&m, k == 0 ? "n1" : "n9", 2);
		if (k != 1)				/* k == 1: a delete */
			blob(&m, dyn_slice_str("new value"));
		snprintf(name, sizeof(name), "merge-%d", k);
		put_buf("merge", name, &m);
		dyn_buf_free(&m);
	}

	for (int i = 0; i < 3; i++)
	{
		dyn_object_free(&o[i]);
		dyn_buf_free(&obj[i]);
	}
	dyn_ring_free(&ring);
	dyn_buf_free(&f);
	dyn_buf_free(&body);
	dyn_buf_free(&ringb);
	dyn_buf_free(&ctxb);
	dyn_buf_free(&stream);
	return 0;
}
