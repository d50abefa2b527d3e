/*
 * fuzz_sync.c
 *		The anti-entropy and administration bodies (wire_sync.c: MERKLE,
 *		SYNC_KEYS, REAP, REMOVE and their replies): the first input byte
 *		picks one of them, the rest is the body, checked by
 *		fuzz_check_body (re-encoding gives the same bytes).
 */
#include "dynamo/wire.h"

#include "fuzz.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t sync_types[] = {
	DYN_MSG_MERKLE, DYN_MSG_MERKLE_REPLY, DYN_MSG_SYNC_KEYS, DYN_MSG_SYNC_KEYS_REPLY,
	DYN_MSG_REAP, DYN_MSG_REMOVE, DYN_MSG_REPAIR, DYN_MSG_REPAIR_REPLY,
	DYN_MSG_REMOVE_REPLY
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_in		in = {data, size};
	uint8_t		pick = fuzz_u8(&in);

	(void) fuzz_check_body(sync_types[pick % sizeof(sync_types)], fuzz_bytes(&in, in.n));
	return 0;
}
