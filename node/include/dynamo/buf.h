/*
 * buf.h
 *		Growable byte buffers for encoding, and bounds-checked readers for
 *		decoding.
 *
 * Encoders append to a dyn_buf without checking each call: an allocation
 * failure is remembered in the buffer (buf->err) and every later append is a
 * no-op, so an encoder checks once at the end.  Readers work the same way: a
 * read past the end sets rd->err, returns zero/empty, and the decoder checks
 * once.  All integers are big-endian on the wire and on disk.
 */
#ifndef DYNAMO_BUF_H
#define DYNAMO_BUF_H

#include "dynamo/common.h"

/* A caller-owned growable byte array: init, append, use data/len, free. */
typedef struct dyn_buf
{
	uint8_t    *data;
	size_t		len;
	size_t		cap;
	int			err;			/* sticky: DYN_ERR_NOMEM after a failed grow */
} dyn_buf;

void		dyn_buf_init(dyn_buf *b);
void		dyn_buf_free(dyn_buf *b);
/* Forget the contents (and any sticky error) but keep the allocation. */
void		dyn_buf_reset(dyn_buf *b);
/* Make room for at least extra more bytes; DYN_OK or DYN_ERR_NOMEM. */
int			dyn_buf_reserve(dyn_buf *b, size_t extra);
/* Drop the first n bytes (n <= len), moving the rest to the front. */
void		dyn_buf_consume(dyn_buf *b, size_t n);
void		dyn_buf_append(dyn_buf *b, const void *p, size_t n);
void		dyn_buf_put_u8(dyn_buf *b, uint8_t v);
void		dyn_buf_put_u16(dyn_buf *b, uint16_t v);
void		dyn_buf_put_u32(dyn_buf *b, uint32_t v);
void		dyn_buf_put_u64(dyn_buf *b, uint64_t v);
/* LEB128 unsigned varint (1-10 bytes). */
void		dyn_buf_put_varint(dyn_buf *b, uint64_t v);
/* u16 length then the bytes; the caller guarantees len <= UINT16_MAX. */
void		dyn_buf_put_blob16(dyn_buf *b, dyn_slice s);
/* u32 length then the bytes. */
void		dyn_buf_put_blob32(dyn_buf *b, dyn_slice s);
/* printf-style append (used for JSON and messages). */
void		dyn_buf_printf(dyn_buf *b, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal, quotes included, escaping as needed. */
void		dyn_buf_put_json_string(dyn_buf *b, dyn_slice s);
/* Overwrite 4 bytes at offset off with v (big-endian); off+4 <= len. */
void		dyn_buf_patch_u32(dyn_buf *b, size_t off, uint32_t v);
static inline dyn_slice
dyn_buf_slice(const dyn_buf *b)
{
	dyn_slice	s = {b->data, b->len};

	return s;
}

/* A cursor over bytes owned by someone else. */
typedef struct dyn_reader
{
	const uint8_t *p;
	const uint8_t *end;
	int			err;			/* sticky: DYN_ERR_PROTO after an overrun */
} dyn_reader;

void		dyn_reader_init(dyn_reader *r, dyn_slice s);
uint8_t		dyn_rd_u8(dyn_reader *r);
uint16_t	dyn_rd_u16(dyn_reader *r);
uint32_t	dyn_rd_u32(dyn_reader *r);
uint64_t	dyn_rd_u64(dyn_reader *r);
uint64_t	dyn_rd_varint(dyn_reader *r);
/* The next n bytes as a view (empty slice and err set on overrun). */
dyn_slice	dyn_rd_bytes(dyn_reader *r, size_t n);
dyn_slice	dyn_rd_blob16(dyn_reader *r);
dyn_slice	dyn_rd_blob32(dyn_reader *r);
static inline size_t
dyn_rd_left(const dyn_reader *r)
{
	return (size_t) (r->end - r->p);
}
/* DYN_OK when nothing overran and every byte was consumed, else DYN_ERR_PROTO. */
int			dyn_reader_finish(const dyn_reader *r);

#endif							/* DYNAMO_BUF_H */
