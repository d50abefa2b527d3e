/*
 * fuzz_ring.c
 *		Rings (ring.c), as gossip and the ring file deliver them: what
 *		decodes re-encodes to the same bytes, and every preference list of a
 *		decoded ring is a permutation of its members whose first
 *		dyn_ring_replicas entries are exactly the ones dyn_ring_replicates
 *		names (fuzz_check_ring).
 */
#include "fuzz.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dyn_slice	bytes = {data, size};

	(void) fuzz_check_ring(bytes);
	return 0;
}
