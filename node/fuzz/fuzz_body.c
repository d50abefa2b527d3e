/*
 * fuzz_body.c
 *		Every body decoder of the client and node-to-node messages (wire.c):
 *		the first input byte picks the message type, the rest is the body.
 *		What decodes must encode back to the same bytes, and the objects,
 *		clocks and rings inside are checked the same way (fuzz_check_body).
 */
#include "dynamo/wire.h"

#include "fuzz.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_in		in = {data, size};
	uint8_t		type = fuzz_u8(&in);

	(void) fuzz_check_body(type, fuzz_bytes(&in, in.n));
	return 0;
}
