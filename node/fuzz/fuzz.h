/*
 * fuzz.h
 *		What the libFuzzer targets under node/fuzz share: a failed property
 *		aborts with a message (libFuzzer keeps the input), a cursor that
 *		splits one fuzz input into fields, and the checks that every
 *		decoder's result must pass (re-encoding gives the same bytes where
 *		the encoding is canonical).
 *
 * Each target is one fuzz_<name>.c with LLVMFuzzerTestOneInput; `make
 * fuzz` builds them with clang -fsanitize=fuzzer,address,undefined against
 * a libdynamo built the same way (build-fuzz/), and node/fuzz/seeds.c
 * writes their seed corpora (node/fuzz/corpus/<name>/) with the library's
 * own encoders.
 */
#ifndef DYNAMO_FUZZ_H
#define DYNAMO_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#include "dynamo/buf.h"

/* A property that must hold: report and abort (libFuzzer saves the input). */
#define FUZZ_CHECK(cond, ...) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
			abort(); \
		} \
	} while (0)

/* The unread rest of a fuzz input; takes past the end give zeros/empty. */
typedef struct fuzz_in
{
	const uint8_t *p;
	size_t		n;
} fuzz_in;

uint8_t		fuzz_u8(fuzz_in *in);
uint16_t	fuzz_u16(fuzz_in *in);
/* A u16 length, then that many bytes (fewer at the end of the input). */
dyn_slice	fuzz_blob(fuzz_in *in);
/* Up to n bytes. */
dyn_slice	fuzz_bytes(fuzz_in *in, size_t n);

/*
 * Decode body as the body of a frame of type with the decoder of that
 * type; when it decodes, encode what was decoded and require the same
 * bytes, and check what it carries (objects, clocks, rings) the same way.
 * Returns whether the body decoded.
 */
bool		fuzz_check_body(uint8_t type, dyn_slice body);
/* The same for an encoded object, clock (context) and ring. */
bool		fuzz_check_object(dyn_slice bytes);
bool		fuzz_check_clock(dyn_slice bytes);
bool		fuzz_check_ring(dyn_slice bytes);

/* Whether a and b hold the same bytes (for FUZZ_CHECK). */
bool		fuzz_same(dyn_slice a, dyn_slice b);

#endif							/* DYNAMO_FUZZ_H */
