/*
 * ring.c
 *		Key placement on the consistent-hashing ring (see ring.h).
 */
#include "dynamo/ring.h"

#include <sodium.h>

/*
 * Hash "bucket \0 key" with BLAKE2b-64 and read the digest as a big-endian
 * position.  The NUL keeps ("ab","c") and ("a","bc") apart.
 */
uint64_t
dyn_key_position(dyn_slice bucket, dyn_slice key)
{
	crypto_generichash_state st;
	uint8_t		digest[8];
	static const uint8_t nul = 0;
	uint64_t	pos = 0;

	crypto_generichash_init(&st, NULL, 0, sizeof(digest));
	crypto_generichash_update(&st, bucket.ptr, bucket.len);
	crypto_generichash_update(&st, &nul, 1);
	crypto_generichash_update(&st, key.ptr, key.len);
	crypto_generichash_final(&st, digest, sizeof(digest));
	for (size_t i = 0; i < sizeof(digest); i++)
		pos = (pos << 8) | digest[i];
	return pos;
}

/* The top log2(q) bits of the position; q must be a valid count. */
uint32_t
dyn_partition_of(uint64_t position, uint32_t q)
{
	int			bits = __builtin_ctz(q);

	return bits == 0 ? 0 : (uint32_t) (position >> (64 - bits));
}

bool
dyn_partitions_valid(uint32_t q)
{
	return q >= 1 && q <= DYN_PARTITIONS_MAX && (q & (q - 1)) == 0;
}
