/*
 * fuzz_frame.c
 *		The frame reader fed in arbitrary chunks, as a connection receives
 *		bytes: parsing the stream piece by piece (buffering what is
 *		incomplete, consuming what was parsed, as conn.c does) must give
 *		exactly the frames, and then the same verdict, that parsing it whole
 *		gives; every frame's body goes through its decoder (fuzz_check_body).
 *
 * Input: u8 seed of the chunk sizes, u8 log2 of the largest body accepted,
 * then the byte stream.
 */
#include <string.h>

#include "dynamo/wire.h"

#include "fuzz.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAMES	256

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_in		in = {data, size};
	uint32_t	seed = fuzz_u8(&in) * 2654435761u + 1;
	uint32_t	max_body = 1u << (fuzz_u8(&in) % 25);
	dyn_slice	stream = fuzz_bytes(&in, in.n);
	dyn_frame	whole[MAX_FRAMES];
	size_t		nwhole = 0;
	size_t		off = 0;
	int			verdict = DYN_ERR_AGAIN;
	dyn_buf		buf;
	size_t		fed = 0;
	size_t		got = 0;
	int			rc = DYN_ERR_AGAIN;

	/* the whole stream at once */
	while (nwhole < MAX_FRAMES)
	{
		size_t		used = 0;

		verdict = dyn_frame_parse(stream.ptr + off, stream.len - off, max_body,
								  &whole[nwhole], &used);
		if (verdict != DYN_OK)
			break;
		FUZZ_CHECK(used >= DYN_FRAME_HEADER_LEN && used <= stream.len - off,
				   "consumed %zu of %zu", used, stream.len - off);
		FUZZ_CHECK(whole[nwhole].body.len == used - DYN_FRAME_HEADER_LEN, "body length");
		(void) fuzz_check_body(whole[nwhole].type, whole[nwhole].body);
		off += used;
		nwhole++;
	}
	if (nwhole == MAX_FRAMES)
		return 0;

	/* the same stream in chunks of 1 to 64 bytes, like reads off a socket */
	dyn_buf_init(&buf);
	while (got < nwhole || fed < stream.len)
	{
		size_t		chunk;
		size_t		used;

		seed = seed * 1103515245u + 12345u;
		chunk = 1 + (seed >> 16) % 64;
		if (chunk > stream.len - fed)
			chunk = stream.len - fed;
		dyn_buf_append(&buf, stream.ptr + fed, chunk);
		FUZZ_CHECK(buf.err == DYN_OK, "out of memory");
		fed += chunk;
		for (;;)
		{
			dyn_frame	f;

			used = 0;
			rc = dyn_frame_parse(buf.data, buf.len, max_body, &f, &used);
			if (rc != DYN_OK)
				break;
			FUZZ_CHECK(got < nwhole, "a frame the whole parse did not see");
			FUZZ_CHECK(f.type == whole[got].type && f.reqid == whole[got].reqid &&
					   fuzz_same(f.body, whole[got].body), "frame %zu differs", got);
			got++;
			dyn_buf_consume(&buf, used);
		}
		if (rc != DYN_ERR_AGAIN || chunk == 0)
			break;
	}
	FUZZ_CHECK(got == nwhole, "%zu of %zu frames in chunks", got, nwhole);
	FUZZ_CHECK(rc == verdict, "verdict %d in chunks, %d whole", rc, verdict);
	dyn_buf_free(&buf);
	return 0;
}
