/*
 * ring.h
 *		Key placement: where on the ring a key lives.
 *
 * A key's position is the first 8 bytes (big-endian) of the BLAKE2b hash of
 * "bucket \0 key" (libsodium crypto_generichash), and the ring is cut into Q
 * equal partitions, Q a power of two fixed when the cluster is born, so a
 * key's partition is the top log2(Q) bits of its position.
 */
#ifndef DYNAMO_RING_H
#define DYNAMO_RING_H

#include "dynamo/common.h"

#define DYN_PARTITIONS_DEFAULT	64
#define DYN_PARTITIONS_MAX		65536

/* The 64-bit ring position of bucket/key. */
uint64_t	dyn_key_position(dyn_slice bucket, dyn_slice key);
/* The partition (0 .. q-1) a position falls in; q is a power of two. */
uint32_t	dyn_partition_of(uint64_t position, uint32_t q);
/* Whether q is a valid partition count (a power of two, 1 .. 65536). */
bool		dyn_partitions_valid(uint32_t q);

#endif							/* DYNAMO_RING_H */
