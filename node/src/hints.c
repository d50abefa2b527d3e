/*
 * hints.c
 *		Hinted handoff (see hints.h): storing hints in the engine, counting
 *		them per target, and delivering them in acknowledged batches.
 */
#include "hints.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One hint on its way: its engine key and the bytes sent. */
typedef struct hint_item
{
	dyn_buf		key;
	dyn_buf		value;
	struct hint_batch *batch;
} hint_item;

/* A batch of one target's hints in flight; freed when every item is done. */
typedef struct hint_batch
{
	dyn_hints  *h;
	char		target[DYN_NODE_ID_MAX + 1];
	int			n;
	int			outstanding;
	int			failed;
	size_t		bytes;
	hint_item	items[DYN_HINT_BATCH];
} hint_batch;

static dyn_hint_target *target_get(dyn_hints *h, dyn_slice id, bool create);
static void hint_key(dyn_buf *out, uint32_t q, dyn_slice target, dyn_slice bucket,
					 dyn_slice key);
static void target_range(dyn_slice target, dyn_buf *start, dyn_buf *end);
static int	count_hint(void *arg, dyn_slice key, dyn_slice value);
static int	collect_hint(void *arg, dyn_slice key, dyn_slice value);
static void deliver(dyn_hints *h, dyn_hint_target *t);
static void deliver_on_reply(void *arg, int status, const dyn_frame *reply);
static void batch_done(hint_batch *b);
static void hints_on_timer(uv_timer_t *t);


/* The target entry for id; created (with nothing pending) when asked. */
static dyn_hint_target *
target_get(dyn_hints *h, dyn_slice id, bool create)
{
	dyn_hint_target *t;

	for (size_t i = 0; i < h->ntargets; i++)
		if (dyn_slice_eq(dyn_slice_str(h->targets[i].id), id))
			return &h->targets[i];
	if (!create || id.len == 0 || id.len > DYN_NODE_ID_MAX)
		return NULL;
	if (h->ntargets == h->cap)
	{
		size_t		cap = h->cap ? h->cap * 2 : 8;
		dyn_hint_target *a = realloc(h->targets, cap * sizeof(*a));

		if (a == NULL)
			return NULL;
		h->targets = a;
		h->cap = cap;
	}
	t = &h->targets[h->ntargets++];
	memset(t, 0, sizeof(*t));
	memcpy(t->id, id.ptr, id.len);
	return t;
}

/* u8 target length | target | store key. */
static void
hint_key(dyn_buf *out, uint32_t q, dyn_slice target, dyn_slice bucket, dyn_slice key)
{
	dyn_buf_reset(out);
	dyn_buf_put_u8(out, (uint8_t) target.len);
	dyn_buf_append(out, target.ptr, target.len);
	dyn_store_key(q, bucket, key, out);
}

/*
 * The key range of one target's hints: its prefix, up to the prefix's
 * successor (the last byte that can grow, grown; the rest cut off).
 */
static void
target_range(dyn_slice target, dyn_buf *start, dyn_buf *end)
{
	dyn_buf_reset(start);
	dyn_buf_put_u8(start, (uint8_t) target.len);
	dyn_buf_append(start, target.ptr, target.len);
	dyn_buf_reset(end);
	dyn_buf_append(end, start->data, start->len);
	while (end->len > 0 && end->data[end->len - 1] == 0xff)
		end->len--;
	if (end->len > 0)
		end->data[end->len - 1]++;
}

/* Scan callback of dyn_hints_open: count one stored hint. */
static int
count_hint(void *arg, dyn_slice key, dyn_slice value)
{
	dyn_hints  *h = arg;
	dyn_slice	id;
	dyn_hint_target *t;

	(void) value;
	if (key.len < 2 || key.ptr[0] == 0 || key.ptr[0] >= key.len)
		return 0;				/* not a hint key: leave it alone */
	id.ptr = key.ptr + 1;
	id.len = key.ptr[0];
	if ((t = target_get(h, id, true)) == NULL)
		return DYN_ERR_NOMEM;
	t->pending++;
	h->total++;
	return 0;
}

int
dyn_hints_open(dyn_hints *h, uv_loop_t *loop, dyn_store *store,
			   dyn_membership *ms, const dyn_logger *log)
{
	dyn_slice	none = {NULL, 0};
	int			rc;

	memset(h, 0, sizeof(*h));
	h->store = store;
	h->ms = ms;
	h->log = log;
	dyn_buf_init(&h->key);
	dyn_buf_init(&h->value);
	rc = dyn_engine_scan(store->engine, DYN_NS_HINT, none, none, count_hint, h);
	if (rc != DYN_OK)
		return rc;
	if (h->total > 0)
		dyn_log(log, DYN_LOG_INFO, "%llu hints waiting for delivery",
				(unsigned long long) h->total);
	uv_timer_init(loop, &h->timer);
	h->timer.data = h;
	h->timer_on = true;
	uv_timer_start(&h->timer, hints_on_timer, DYN_HINT_INTERVAL_MS, DYN_HINT_INTERVAL_MS);
	return DYN_OK;
}

void
dyn_hints_stop(dyn_hints *h)
{
	h->stopping = true;
	if (h->timer_on)
		uv_close((uv_handle_t *) &h->timer, NULL);
	h->timer_on = false;
}

void
dyn_hints_free(dyn_hints *h)
{
	free(h->targets);
	h->targets = NULL;
	h->ntargets = 0;
	dyn_buf_free(&h->key);
	dyn_buf_free(&h->value);
}

/* Merge object into the hint for target; count it if it is new. */
int
dyn_hints_store(dyn_hints *h, dyn_slice target, dyn_slice bucket, dyn_slice key,
				dyn_slice object)
{
	dyn_hint_target *t;
	bool		changed = false;
	bool		existed = false;
	int			rc;

	if (target.len == 0 || target.len > DYN_NODE_ID_MAX)
		return DYN_ERR_INVAL;
	if ((t = target_get(h, target, true)) == NULL)
		return DYN_ERR_NOMEM;
	hint_key(&h->key, h->store->partitions, target, bucket, key);
	if (h->key.err)
		return DYN_ERR_NOMEM;
	rc = dyn_store_merge_at(h->store, DYN_NS_HINT, dyn_buf_slice(&h->key), object,
							&changed, &existed);
	if (rc != DYN_OK)
		return rc;
	if (changed)
		h->stored++;
	if (changed && !existed)
	{
		t->pending++;
		h->total++;
	}
	return DYN_OK;
}

/* Merge into obj every hint held for bucket/key, whatever its target. */
int
dyn_hints_merge_into(dyn_hints *h, dyn_slice bucket, dyn_slice key, dyn_object *obj,
					 dyn_buf *bufs, int nbufs)
{
	dyn_object	tmp;
	int			used = 0;

	if (h->total == 0)
		return 0;
	dyn_object_init(&tmp);
	for (size_t i = 0; i < h->ntargets && used < nbufs; i++)
	{
		dyn_hint_target *t = &h->targets[i];

		if (t->pending == 0)
			continue;
		hint_key(&h->key, h->store->partitions, dyn_slice_str(t->id), bucket, key);
		dyn_buf_reset(&bufs[used]);
		if (dyn_engine_get(h->store->engine, DYN_NS_HINT, dyn_buf_slice(&h->key),
						   &bufs[used]) != DYN_OK)
			continue;
		if (dyn_object_decode(dyn_buf_slice(&bufs[used]), &tmp) != DYN_OK ||
			dyn_object_merge(obj, &tmp, NULL) != DYN_OK)
			continue;
		used++;
	}
	dyn_object_free(&tmp);
	return used;
}

int
dyn_hints_gather(dyn_hints *h, dyn_slice bucket, dyn_slice key, dyn_object *obj,
				 dyn_buf **bufs, size_t *nbufs)
{
	dyn_object	tmp;
	size_t		n = 0;
	int			rc = DYN_OK;

	*bufs = NULL;
	*nbufs = 0;
	if (h->total == 0 || h->ntargets == 0)
		return DYN_OK;
	if ((*bufs = calloc(h->ntargets, sizeof(dyn_buf))) == NULL)
		return DYN_ERR_NOMEM;
	dyn_object_init(&tmp);
	for (size_t i = 0; i < h->ntargets && rc == DYN_OK; i++)
	{
		dyn_hint_target *t = &h->targets[i];
		dyn_buf    *b = &(*bufs)[n];

		if (t->pending == 0)
			continue;
		hint_key(&h->key, h->store->partitions, dyn_slice_str(t->id), bucket, key);
		dyn_buf_init(b);
		n++;
		if (h->key.err)
			rc = DYN_ERR_NOMEM;
		else if ((rc = dyn_engine_get(h->store->engine, DYN_NS_HINT,
									  dyn_buf_slice(&h->key), b)) == DYN_ERR_NOTFOUND)
			rc = DYN_OK;
		else if (rc == DYN_OK && (rc = dyn_object_decode(dyn_buf_slice(b), &tmp)) == DYN_OK)
			rc = dyn_object_merge(obj, &tmp, NULL);
	}
	dyn_object_free(&tmp);
	*nbufs = n;
	return rc;
}

void
dyn_hints_gather_free(dyn_buf *bufs, size_t nbufs)
{
	for (size_t i = 0; i < nbufs; i++)
		dyn_buf_free(&bufs[i]);
	free(bufs);
}

/* -------------------------------------------------------------- delivery */

/* Scan callback: copy one hint of the target into the batch. */
static int
collect_hint(void *arg, dyn_slice key, dyn_slice value)
{
	hint_batch *b = arg;
	hint_item  *it;

	if (b->n == DYN_HINT_BATCH || b->bytes >= DYN_HINT_BATCH_BYTES)
		return 1;
	it = &b->items[b->n];
	dyn_buf_init(&it->key);
	dyn_buf_init(&it->value);
	dyn_buf_append(&it->key, key.ptr, key.len);
	dyn_buf_append(&it->value, value.ptr, value.len);
	if (it->key.err || it->value.err)
	{
		dyn_buf_free(&it->key);
		dyn_buf_free(&it->value);
		return DYN_ERR_NOMEM;
	}
	it->batch = b;
	b->bytes += key.len + value.len;
	b->n++;
	return 0;
}

/*
 * Send the next batch of t's hints to t, if t is up and nothing of t's is
 * in flight already.
 */
static void
deliver(dyn_hints *h, dyn_hint_target *t)
{
	dyn_member *m;
	dyn_peer   *p;
	hint_batch *b;
	dyn_buf		start;
	dyn_buf		end;
	int			rc;

	if (h->stopping || t->delivering || t->pending == 0)
		return;
	m = dyn_membership_find(h->ms, dyn_slice_str(t->id));
	if (m == NULL || m->self || !dyn_member_up(m) || (p = dyn_membership_peer(m)) == NULL)
		return;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return;
	b->h = h;
	strcpy(b->target, t->id);
	dyn_buf_init(&start);
	dyn_buf_init(&end);
	target_range(dyn_slice_str(t->id), &start, &end);
	rc = dyn_engine_scan(h->store->engine, DYN_NS_HINT, dyn_buf_slice(&start),
						 dyn_buf_slice(&end), collect_hint, b);
	dyn_buf_free(&start);
	dyn_buf_free(&end);
	if ((rc != DYN_OK && rc != 1) || b->n == 0)
	{
		if (b->n == 0 && rc == DYN_OK && t->pending > 0)
		{
			/* the count drifted (a crash between write and count): resync */
			h->total -= t->pending;
			t->pending = 0;
		}
		b->outstanding = 0;
		batch_done(b);
		return;
	}
	t->delivering = true;
	for (int i = 0; i < b->n; i++)
	{
		hint_item  *it = &b->items[i];
		dyn_slice	skey = {it->key.data + 1 + it->key.data[0],
		it->key.len - 1 - it->key.data[0]};
		dyn_replica_put_req req = {0};
		dyn_buf		frame;

		if (dyn_store_split_key(skey, &req.bucket, &req.key) != DYN_OK)
		{
			b->failed++;
			continue;
		}
		req.object = dyn_buf_slice(&it->value);
		dyn_buf_init(&frame);
		dyn_replica_put_encode(&frame, 0, &req);
		if (frame.err == DYN_OK)
		{
			dyn_slice	body = {frame.data + DYN_FRAME_HEADER_LEN,
			frame.len - DYN_FRAME_HEADER_LEN};

			if (dyn_peer_send(p, DYN_MSG_REPLICA_PUT, body, DYN_HINT_TIMEOUT_MS,
							  deliver_on_reply, it) == DYN_OK)
				b->outstanding++;
			else
				b->failed++;
		}
		else
			b->failed++;
		dyn_buf_free(&frame);
	}
	if (b->outstanding == 0)
		batch_done(b);
}

/*
 * The target answered one hint.  Delete the hint only if it is still the
 * bytes that were sent: a hint merged meanwhile holds more than the target
 * acknowledged.
 */
static void
deliver_on_reply(void *arg, int status, const dyn_frame *reply)
{
	hint_item  *it = arg;
	hint_batch *b = it->batch;
	dyn_hints  *h = b->h;

	b->outstanding--;
	if (status != DYN_OK || reply->type != DYN_MSG_REPLICA_PUT_REPLY || h->stopping)
		b->failed++;
	else
	{
		dyn_buf_reset(&h->value);
		if (dyn_engine_get(h->store->engine, DYN_NS_HINT, dyn_buf_slice(&it->key),
						   &h->value) == DYN_OK &&
			dyn_slice_eq(dyn_buf_slice(&h->value), dyn_buf_slice(&it->value)) &&
			dyn_engine_delete(h->store->engine, DYN_NS_HINT,
							  dyn_buf_slice(&it->key)) == DYN_OK)
		{
			dyn_hint_target *t = target_get(h, dyn_slice_str(b->target), false);
			dyn_slice	skey = {it->key.data + 1 + it->key.data[0],
			it->key.len - 1 - it->key.data[0]};

			/* the store key starts with its partition, a u16 */
			if (h->actors != NULL && skey.len >= 2)
				dyn_actors_retire(h->actors, ((uint32_t) skey.ptr[0] << 8) | skey.ptr[1]);
			if (t != NULL && t->pending > 0)
			{
				t->pending--;
				h->total--;
			}
			h->delivered++;
		}
		else
			b->failed++;
	}
	if (b->outstanding == 0)
		batch_done(b);
}

/* Free a finished batch; go on with the next one if this one went well. */
static void
batch_done(hint_batch *b)
{
	dyn_hints  *h = b->h;
	dyn_hint_target *t = target_get(h, dyn_slice_str(b->target), false);
	bool		more = b->failed == 0 && b->n > 0;

	for (int i = 0; i < b->n; i++)
	{
		dyn_buf_free(&b->items[i].key);
		dyn_buf_free(&b->items[i].value);
	}
	if (t != NULL)
	{
		t->delivering = false;
		if (b->n > 0)
			dyn_log(h->log, b->failed ? DYN_LOG_WARNING : DYN_LOG_INFO,
					"delivered %d of %d hints to %s, %llu left", b->n - b->failed, b->n,
					t->id, (unsigned long long) t->pending);
	}
	free(b);
	if (more && t != NULL && t->pending > 0)
		deliver(h, t);
}

void
dyn_hints_kick(dyn_hints *h, dyn_slice target)
{
	dyn_hint_target *t = target_get(h, target, false);

	if (t != NULL)
		deliver(h, t);
}

/* Every second: deliver to every target that is up and has hints. */
static void
hints_on_timer(uv_timer_t *timer)
{
	dyn_hints  *h = timer->data;

	for (size_t i = 0; i < h->ntargets; i++)
		deliver(h, &h->targets[i]);
}

void
dyn_hints_status_json(const dyn_hints *h, dyn_buf *out)
{
	dyn_buf_printf(out, "\"hints\":{\"pending_total\":%llu,\"stored\":%llu,"
				   "\"delivered\":%llu,\"pending\":{",
				   (unsigned long long) h->total, (unsigned long long) h->stored,
				   (unsigned long long) h->delivered);
	for (size_t i = 0; i < h->ntargets; i++)
	{
		if (i > 0)
			dyn_buf_put_u8(out, ',');
		dyn_buf_put_json_string(out, dyn_slice_str(h->targets[i].id));
		dyn_buf_printf(out, ":%llu", (unsigned long long) h->targets[i].pending);
	}
	dyn_buf_printf(out, "}}");
}
