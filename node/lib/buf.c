/*
 * buf.c
 *		Growable byte buffers for encoders and bounds-checked readers for
 *		decoders, the two halves of every codec in libdynamo.
 *
 * Both sides use sticky errors so that codecs stay straight-line code: an
 * encoder appends field after field and checks buf->err once at the end; a
 * decoder reads field after field and checks reader->err (or calls
 * dyn_reader_finish) once.  After the first failure every operation is a
 * no-op, so a failed encoding never leaves half a field behind an intact
 * one, and a failed read never looks at bytes past the end.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamo/buf.h"

/* Smallest allocation, so that tiny appends do not realloc byte by byte. */
#define DYN_BUF_MIN_CAP		64

/* Longest LEB128 encoding of a 64-bit value: ceil(64 / 7) bytes. */
#define DYN_VARINT_MAX_LEN	10

static void buf_fail(dyn_buf *b, int err);
static uint8_t *buf_room(dyn_buf *b, size_t n);
static void rd_fail(dyn_reader *r);
static const uint8_t *rd_take(dyn_reader *r, size_t n);


/* ---------------------------------------------------------------- dyn_buf */

/* An empty buffer that owns nothing yet. */
void
dyn_buf_init(dyn_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->err = DYN_OK;
}

/* Release the allocation; the buffer is left empty and reusable. */
void
dyn_buf_free(dyn_buf *b)
{
	free(b->data);
	dyn_buf_init(b);
}

/* Forget the contents and any sticky error but keep the allocation. */
void
dyn_buf_reset(dyn_buf *b)
{
	b->len = 0;
	b->err = DYN_OK;
}

/*
 * Remember the first failure only: it is the one that explains the rest.
 */
static void
buf_fail(dyn_buf *b, int err)
{
	if (b->err == DYN_OK)
		b->err = err;
}

/*
 * Make room for at least extra more bytes, doubling so that a long run of
 * appends costs amortised O(1) each.  A failure is also recorded in b->err.
 */
int
dyn_buf_reserve(dyn_buf *b, size_t extra)
{
	size_t		need;
	size_t		cap;
	uint8_t    *p;

	if (b->err != DYN_OK)
		return b->err;
	if (extra <= b->cap - b->len)
		return DYN_OK;
	if (extra > SIZE_MAX - b->len)
	{
		buf_fail(b, DYN_ERR_NOMEM);
		return b->err;
	}
	need = b->len + extra;
	cap = b->cap < DYN_BUF_MIN_CAP ? DYN_BUF_MIN_CAP : b->cap;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;

	p = realloc(b->data, cap);
	if (p == NULL)
	{
		buf_fail(b, DYN_ERR_NOMEM);
		return b->err;
	}
	b->data = p;
	b->cap = cap;
	return DYN_OK;
}

/*
 * Reserve n bytes at the end and count them as written; the caller fills
 * them in.  NULL (nothing reserved) after any failure.
 */
static uint8_t *
buf_room(dyn_buf *b, size_t n)
{
	uint8_t    *p;

	if (dyn_buf_reserve(b, n) != DYN_OK)
		return NULL;
	p = b->data + b->len;
	b->len += n;
	return p;
}

/*
 * Drop the first n bytes (a reader that has processed them), moving the
 * rest to the front.  n larger than len empties the buffer.
 */
void
dyn_buf_consume(dyn_buf *b, size_t n)
{
	if (n >= b->len)
	{
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

/* Append n bytes from p (p may be NULL when n is 0). */
void
dyn_buf_append(dyn_buf *b, const void *p, size_t n)
{
	uint8_t    *dst;

	if (n == 0)
		return;
	dst = buf_room(b, n);
	if (dst != NULL)
		memcpy(dst, p, n);
}

/* Append one byte. */
void
dyn_buf_put_u8(dyn_buf *b, uint8_t v)
{
	uint8_t    *dst = buf_room(b, 1);

	if (dst != NULL)
		dst[0] = v;
}

/* Append v big-endian, like every integer on the wire and on disk. */
void
dyn_buf_put_u16(dyn_buf *b, uint16_t v)
{
	uint8_t    *dst = buf_room(b, 2);

	if (dst != NULL)
	{
		dst[0] = (uint8_t) (v >> 8);
		dst[1] = (uint8_t) v;
	}
}

/* Append v big-endian. */
void
dyn_buf_put_u32(dyn_buf *b, uint32_t v)
{
	uint8_t    *dst = buf_room(b, 4);

	if (dst != NULL)
	{
		dst[0] = (uint8_t) (v >> 24);
		dst[1] = (uint8_t) (v >> 16);
		dst[2] = (uint8_t) (v >> 8);
		dst[3] = (uint8_t) v;
	}
}

/* Append v big-endian, as two u32 halves. */
void
dyn_buf_put_u64(dyn_buf *b, uint64_t v)
{
	dyn_buf_put_u32(b, (uint32_t) (v >> 32));
	dyn_buf_put_u32(b, (uint32_t) v);
}

/*
 * Append v as an unsigned LEB128 varint: seven bits per byte, least
 * significant first, high bit set on every byte but the last.  The
 * encoding is always the shortest one, which dyn_rd_varint insists on so
 * that equal values always have equal bytes.
 */
void
dyn_buf_put_varint(dyn_buf *b, uint64_t v)
{
	uint8_t		tmp[DYN_VARINT_MAX_LEN];
	size_t		n = 0;

	while (v >= 0x80)
	{
		tmp[n++] = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t) v;
	dyn_buf_append(b, tmp, n);
}

/*
 * u16 length then the bytes.  A slice too long for the prefix would
 * desynchronise every later field, so it fails the buffer instead.
 */
void
dyn_buf_put_blob16(dyn_buf *b, dyn_slice s)
{
	if (s.len > UINT16_MAX)
	{
		buf_fail(b, DYN_ERR_TOOBIG);
		return;
	}
	dyn_buf_put_u16(b, (uint16_t) s.len);
	dyn_buf_append(b, s.ptr, s.len);
}

/* u32 length then the bytes; as dyn_buf_put_blob16 for over-long slices. */
void
dyn_buf_put_blob32(dyn_buf *b, dyn_slice s)
{
	if (s.len > UINT32_MAX)
	{
		buf_fail(b, DYN_ERR_TOOBIG);
		return;
	}
	dyn_buf_put_u32(b, (uint32_t) s.len);
	dyn_buf_append(b, s.ptr, s.len);
}

/*
 * printf-style append.  The text is formatted straight into the spare
 * capacity when it fits, else once more after growing.  A NUL is left just
 * past the end (not counted in len) so the contents can be used as a C
 * string.
 */
void
dyn_buf_printf(dyn_buf *b, const char *fmt,...)
{
	va_list		ap;
	size_t		spare;
	int			n;

	if (b->err != DYN_OK)
		return;

	spare = b->cap - b->len;
	va_start(ap, fmt);
	n = vsnprintf(spare > 0 ? (char *) b->data + b->len : NULL, spare, fmt, ap);
	va_end(ap);
	if (n < 0)
	{
		buf_fail(b, DYN_ERR_INVAL);
		return;
	}
	if ((size_t) n >= spare)
	{
		if (dyn_buf_reserve(b, (size_t) n + 1) != DYN_OK)
			return;
		va_start(ap, fmt);
		n = vsnprintf((char *) b->data + b->len, (size_t) n + 1, fmt, ap);
		va_end(ap);
		if (n < 0)
		{
			buf_fail(b, DYN_ERR_INVAL);
			return;
		}
	}
	b->len += (size_t) n;
}

/*
 * Append s as a JSON string literal.  Only what JSON requires is escaped
 * (the quote, the backslash and the C0 control characters, as \u00XX);
 * everything else, bytes >= 0x80 included, is copied as-is in runs, so
 * UTF-8 text stays readable and the common case is one memcpy.
 */
void
dyn_buf_put_json_string(dyn_buf *b, dyn_slice s)
{
	static const char hex[] = "0123456789abcdef";
	size_t		run = 0;
	size_t		i;

	if (dyn_buf_reserve(b, s.len + 2) != DYN_OK)
		return;
	dyn_buf_put_u8(b, '"');
	for (i = 0; i < s.len; i++)
	{
		uint8_t		c = s.ptr[i];

		if (c != '"' && c != '\\' && c >= 0x20)
			continue;
		dyn_buf_append(b, s.ptr + run, i - run);
		run = i + 1;
		if (c == '"' || c == '\\')
		{
			char		esc[2] = {'\\', (char) c};

			dyn_buf_append(b, esc, sizeof(esc));
		}
		else
		{
			char		esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};

			dyn_buf_append(b, esc, sizeof(esc));
		}
	}
	if (s.len > 0)
		dyn_buf_append(b, s.ptr + run, s.len - run);
	dyn_buf_put_u8(b, '"');
}

/*
 * Overwrite the 4 bytes at off with v, big-endian: how a length prefix is
 * filled in once what it measures has been appended.  A no-op on a failed
 * buffer (the bytes to patch may never have been written); an offset past
 * the end fails the buffer rather than writing outside it.
 */
void
dyn_buf_patch_u32(dyn_buf *b, size_t off, uint32_t v)
{
	if (b->err != DYN_OK)
		return;
	if (off > b->len || b->len - off < 4)
	{
		buf_fail(b, DYN_ERR_INVAL);
		return;
	}
	b->data[off] = (uint8_t) (v >> 24);
	b->data[off + 1] = (uint8_t) (v >> 16);
	b->data[off + 2] = (uint8_t) (v >> 8);
	b->data[off + 3] = (uint8_t) v;
}


/* ------------------------------------------------------------- dyn_reader */

/* A reader over s; s must stay alive while slices read from it are used. */
void
dyn_reader_init(dyn_reader *r, dyn_slice s)
{
	r->p = s.ptr;
	/* no arithmetic on the NULL pointer an empty slice may carry */
	r->end = s.len > 0 ? s.ptr + s.len : s.ptr;
	r->err = DYN_OK;
}

/*
 * Mark the reader failed and empty, so that every later read returns zero
 * without looking at memory.
 */
static void
rd_fail(dyn_reader *r)
{
	r->err = DYN_ERR_PROTO;
	r->p = r->end;
}

/*
 * Consume n (>= 1) bytes and return where they start, or NULL (and fail
 * the reader) when fewer than n remain or the reader already failed.
 */
static const uint8_t *
rd_take(dyn_reader *r, size_t n)
{
	const uint8_t *p;

	if (r->err != DYN_OK)
		return NULL;
	if (n > dyn_rd_left(r))
	{
		rd_fail(r);
		return NULL;
	}
	p = r->p;
	r->p += n;
	return p;
}

/* Read one byte (0 on overrun). */
uint8_t
dyn_rd_u8(dyn_reader *r)
{
	const uint8_t *p = rd_take(r, 1);

	return p != NULL ? p[0] : 0;
}

/* Read a big-endian u16 (0 on overrun). */
uint16_t
dyn_rd_u16(dyn_reader *r)
{
	const uint8_t *p = rd_take(r, 2);

	if (p == NULL)
		return 0;
	return (uint16_t) ((p[0] << 8) | p[1]);
}

/* Read a big-endian u32 (0 on overrun). */
uint32_t
dyn_rd_u32(dyn_reader *r)
{
	const uint8_t *p = rd_take(r, 4);

	if (p == NULL)
		return 0;
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
		((uint32_t) p[2] << 8) | (uint32_t) p[3];
}

/* Read a big-endian u64 (0 on overrun, even if half of it was there). */
uint64_t
dyn_rd_u64(dyn_reader *r)
{
	uint64_t	hi = dyn_rd_u32(r);
	uint64_t	lo = dyn_rd_u32(r);

	return r->err != DYN_OK ? 0 : (hi << 32) | lo;
}

/*
 * Read an unsigned LEB128 varint.  Refused (the reader fails): more than
 * ten bytes, a tenth byte carrying bits above 2^64, and a final zero byte
 * after the first (a longer-than-needed encoding), so each value has
 * exactly one accepted encoding.
 */
uint64_t
dyn_rd_varint(dyn_reader *r)
{
	uint64_t	v = 0;
	int			i;

	for (i = 0; i < DYN_VARINT_MAX_LEN; i++)
	{
		const uint8_t *p = rd_take(r, 1);
		uint8_t		c;

		if (p == NULL)
			return 0;
		c = *p;
		if (i == DYN_VARINT_MAX_LEN - 1 && c > 1)
			break;				/* would overflow 64 bits */
		v |= (uint64_t) (c & 0x7f) << (7 * i);
		if ((c & 0x80) == 0)
		{
			if (c == 0 && i > 0)
				break;			/* not the shortest encoding */
			return v;
		}
	}
	rd_fail(r);
	return 0;
}

/*
 * The next n bytes as a view into the reader's bytes.  Zero bytes always
 * succeed on a healthy reader (an empty field), without moving it.
 */
dyn_slice
dyn_rd_bytes(dyn_reader *r, size_t n)
{
	dyn_slice	s = {NULL, 0};
	const uint8_t *p;

	if (n == 0)
	{
		if (r->err == DYN_OK)
			s.ptr = r->p;
		return s;
	}
	p = rd_take(r, n);
	if (p != NULL)
	{
		s.ptr = p;
		s.len = n;
	}
	return s;
}

/* A u16 length then that many bytes. */
dyn_slice
dyn_rd_blob16(dyn_reader *r)
{
	uint16_t	n = dyn_rd_u16(r);

	return dyn_rd_bytes(r, n);
}

/* A u32 length then that many bytes. */
dyn_slice
dyn_rd_blob32(dyn_reader *r)
{
	uint32_t	n = dyn_rd_u32(r);

	return dyn_rd_bytes(r, n);
}

/*
 * The verdict on a whole message: every field was there and nothing
 * trails the last one (trailing bytes mean the peer and we disagree on
 * the layout, which must not be papered over).
 */
int
dyn_reader_finish(const dyn_reader *r)
{
	if (r->err != DYN_OK || r->p != r->end)
		return DYN_ERR_PROTO;
	return DYN_OK;
}
