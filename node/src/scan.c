/*
 * scan.c
 *		Coverage scans (SCAN): one page of the keys of one bucket that one
 *		partition holds, straight from the engine into the reply.
 *
 * A reader who wants a whole bucket (the FDW's full scan, like Riak's
 * coverage queries) asks one healthy replica per partition and pages
 * through it.  Because engine keys are  u16 partition | u8 bucket length |
 * bucket | key  (store.h), a bucket's keys in a partition are one contiguous
 * range, so a page is a single ordered engine scan that stops after limit
 * keys: nothing is read that the page does not return, and resuming after
 * the last key returned costs one seek.
 */
#include "scan.h"

#include <stdlib.h>
#include <string.h>

/* What the engine scan callback fills: the reply being built. */
typedef struct scan_page
{
	dyn_buf    *out;
	size_t		prefix_len;		/* engine key bytes before the user key */
	uint16_t	limit;
	uint16_t	count;
	size_t		bytes;			/* item bytes added so far */
	bool		more;			/* stopped with keys left in the range */
	bool		no_values;		/* send sibling sets with empty values */
	dyn_object	obj;			/* ... decoded here, */
	dyn_buf		bare;			/* ... and encoded again here (reused per key) */
	int			err;			/* why the callback stopped the scan */
} scan_page;

static int	scan_add(void *arg, dyn_slice key, dyn_slice value);
static int	first_key(void *arg, dyn_slice key, dyn_slice value);
static int	bucket_cmp(const void *a, const void *b);
static bool prefix_successor(dyn_buf *b);

/* Build the page: [prefix + after + 0x00, successor(prefix)). */
int
dyn_scan_page(dyn_store *st, uint32_t reqid, const dyn_scan_req *req, dyn_buf *out)
{
	dyn_buf		start;
	dyn_buf		end;
	scan_page	page = {out, 0, req->limit, 0, 0, false,
	(req->flags & DYN_SCAN_NO_VALUES) != 0, {0}, {0}, DYN_OK};
	size_t		frame;
	size_t		mark = out->len;
	int			rc;

	if (req->partition >= st->partitions)
		return DYN_ERR_INVAL;
	dyn_buf_init(&start);
	dyn_buf_init(&end);
	dyn_object_init(&page.obj);
	dyn_buf_init(&page.bare);
	dyn_buf_put_u16(&start, req->partition);
	dyn_buf_put_u8(&start, (uint8_t) req->bucket.len);
	dyn_buf_append(&start, req->bucket.ptr, req->bucket.len);
	page.prefix_len = start.len;
	dyn_buf_append(&end, start.data, start.len);
	if (!prefix_successor(&end))
		dyn_buf_reset(&end);	/* the prefix is all 0xff: scan to the end */
	if (req->after.len > 0)
	{
		/* the smallest key above prefix + after */
		dyn_buf_append(&start, req->after.ptr, req->after.len);
		dyn_buf_put_u8(&start, 0);
	}
	if (start.err || end.err)
		rc = DYN_ERR_NOMEM;
	else
	{
		frame = dyn_scan_reply_begin(out, reqid);
		rc = dyn_engine_scan(st->engine, DYN_NS_OBJECT, dyn_buf_slice(&start),
							 dyn_buf_slice(&end), scan_add, &page);
		if (rc == DYN_OK && page.err != DYN_OK)
			rc = page.err;
		if (rc == DYN_OK)
			dyn_scan_reply_end(out, frame, page.count, page.more);
	}
	if (rc != DYN_OK)
		out->len = mark;		/* drop the half-built reply */
	dyn_buf_free(&start);
	dyn_buf_free(&end);
	dyn_object_free(&page.obj);
	dyn_buf_free(&page.bare);
	return rc == DYN_OK && out->err ? DYN_ERR_NOMEM : rc;
}

/*
 * Add one record to the page, or stop: at the limit, or when the page has
 * reached its byte budget (a page always has at least one item, so a scan
 * makes progress whatever the value sizes).  Seeing one record past the end
 * of the page is how we know there are more.
 */
static int
scan_add(void *arg, dyn_slice key, dyn_slice value)
{
	scan_page  *page = arg;
	dyn_slice	user_key = {key.ptr + page->prefix_len, key.len - page->prefix_len};

	if (page->no_values && page->count < page->limit)
	{
		/* a stored set that does not decode is not sent half-read */
		if ((page->err = dyn_object_decode(value, &page->obj)) != DYN_OK)
			return 1;
		for (size_t i = 0; i < page->obj.n; i++)
			page->obj.s[i].value = (dyn_slice) {NULL, 0};
		dyn_buf_reset(&page->bare);
		dyn_object_encode(&page->obj, &page->bare);
		if (page->bare.err)
		{
			page->err = DYN_ERR_NOMEM;
			return 1;
		}
		value = dyn_buf_slice(&page->bare);
	}
	if (page->count == page->limit ||
		(page->count > 0 && page->bytes + key.len + value.len > DYN_SCAN_PAGE_BYTES))
	{
		page->more = true;
		return 1;
	}
	dyn_scan_reply_add(page->out, user_key, value);
	page->count++;
	page->bytes += key.len + value.len;
	return 0;
}

/* The engine scan callback of BUCKETS: keep the first key, stop. */
static int
first_key(void *arg, dyn_slice key, dyn_slice value)
{
	dyn_buf    *b = arg;

	(void) value;
	dyn_buf_reset(b);
	dyn_buf_append(b, key.ptr, key.len);
	return 1;
}

/* Byte order of names kept as u8 len | name. */
static int
bucket_cmp(const void *a, const void *b)
{
	const uint8_t *x = *(const uint8_t *const *) a;
	const uint8_t *y = *(const uint8_t *const *) b;

	return dyn_slice_cmp((dyn_slice) {x + 1, x[0]}, (dyn_slice) {y + 1, y[0]});
}

/*
 * Seek from bucket to bucket in every partition (see the file comment),
 * collecting the names (u8 len | name, in one buffer), then sort them and
 * drop the duplicates: a bucket is in most partitions.
 */
int
dyn_scan_buckets(dyn_store *st, uint32_t reqid, dyn_buf *out)
{
	dyn_buf		start, end, key, names;
	const uint8_t **sorted = NULL;
	size_t		n = 0;
	size_t		mark = out->len;
	int			rc = DYN_OK;

	dyn_buf_init(&start);
	dyn_buf_init(&end);
	dyn_buf_init(&key);
	dyn_buf_init(&names);
	for (uint32_t p = 0; p < st->partitions && rc == DYN_OK; p++)
	{
		dyn_buf_reset(&start);
		dyn_buf_put_u16(&start, (uint16_t) p);
		dyn_buf_reset(&end);
		if (p + 1 < st->partitions)
			dyn_buf_put_u16(&end, (uint16_t) (p + 1));
		for (;;)
		{
			dyn_buf_reset(&key);
			if (start.err || end.err ||
				(rc = dyn_engine_scan(st->engine, DYN_NS_OBJECT, dyn_buf_slice(&start),
									  dyn_buf_slice(&end), first_key, &key)) != DYN_OK)
				break;
			if (key.len == 0)
				break;			/* no more keys in the partition */
			if (key.err || key.len < 3 || key.data[2] == 0 || key.len < 3u + key.data[2])
			{
				rc = key.err ? DYN_ERR_NOMEM : DYN_ERR_PROTO;
				break;
			}
			/* u8 len | bucket, kept; then past every key of the bucket */
			dyn_buf_append(&names, key.data + 2, 1u + key.data[2]);
			n++;
			dyn_buf_reset(&start);
			dyn_buf_append(&start, key.data, 3u + key.data[2]);
			if (!prefix_successor(&start))
				break;
		}
		if (rc == DYN_OK && (start.err || end.err))
			rc = DYN_ERR_NOMEM;
	}
	if (rc == DYN_OK && names.err)
		rc = DYN_ERR_NOMEM;
	if (rc == DYN_OK && n > 0 && (sorted = malloc(n * sizeof(*sorted))) == NULL)
		rc = DYN_ERR_NOMEM;
	if (rc == DYN_OK)
	{
		size_t		off = 0;
		size_t		uniq = 0;
		size_t		frame;

		for (size_t i = 0; i < n; i++)
		{
			sorted[i] = names.data + off;
			off += 1u + names.data[off];
		}
		if (n > 0)
			qsort(sorted, n, sizeof(*sorted), bucket_cmp);
		frame = dyn_buckets_reply_begin(out, reqid);
		for (size_t i = 0; i < n; i++)
		{
			if (i > 0 && bucket_cmp(&sorted[i - 1], &sorted[i]) == 0)
				continue;
			dyn_buckets_reply_add(out, (dyn_slice) {sorted[i] + 1, sorted[i][0]});
			uniq++;
		}
		if (uniq > UINT16_MAX)
			rc = DYN_ERR_TOOBIG;
		else
			dyn_buckets_reply_end(out, frame, (uint16_t) uniq);
	}
	if (rc != DYN_OK)
		out->len = mark;
	free(sorted);
	dyn_buf_free(&start);
	dyn_buf_free(&end);
	dyn_buf_free(&key);
	dyn_buf_free(&names);
	return rc == DYN_OK && out->err ? DYN_ERR_NOMEM : rc;
}

/*
 * Turn b into the smallest byte string greater than every string that
 * starts with b: add one to the last byte that is not 0xff and drop what
 * follows.  False when every byte is 0xff (no such string).
 */
static bool
prefix_successor(dyn_buf *b)
{
	while (b->len > 0)
	{
		if (b->data[b->len - 1] != 0xff)
		{
			b->data[b->len - 1]++;
			return true;
		}
		b->len--;
	}
	return false;
}
