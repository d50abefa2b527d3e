/*
 * fuzz_vclock.c
 *		Clocks and contexts (vclock.c).  First input byte even: the rest is
 *		a binary clock, which must re-encode to the same bytes and merge and
 *		compare sanely with itself.  Odd: the rest is context text as a
 *		person or SQL gives it, which must be refused unless it is exactly
 *		the text dyn_context_to_text makes of what it decodes to.
 */
#include <string.h>

#include "dynamo/vclock.h"

#include "fuzz.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_in		in = {data, size};
	uint8_t		mode = fuzz_u8(&in);
	dyn_slice	rest = fuzz_bytes(&in, in.n);

	if ((mode & 1) == 0)
	{
		dyn_vclock	vc;
		dyn_vclock	twice;

		if (!fuzz_check_clock(rest))
			return 0;
		FUZZ_CHECK(dyn_vclock_decode(rest, &vc) == DYN_OK, "decodes once, not twice");
		twice = vc;
		dyn_vclock_merge(&twice, &vc);
		FUZZ_CHECK(dyn_vclock_compare(&twice, &vc) == DYN_VC_EQUAL, "merge with itself");
	}
	else
	{
		char	   *text = malloc(rest.len + 1);
		dyn_buf		bin;
		dyn_buf		again;

		FUZZ_CHECK(text != NULL, "out of memory");
		if (rest.len > 0)
			memcpy(text, rest.ptr, rest.len);
		text[rest.len] = '\0';
		dyn_buf_init(&bin);
		dyn_buf_init(&again);
		if (dyn_context_from_text(text, &bin) == DYN_OK)
		{
			FUZZ_CHECK(fuzz_check_clock(dyn_buf_slice(&bin)), "accepted text of no clock");
			dyn_context_to_text(dyn_buf_slice(&bin), &again);
			FUZZ_CHECK(again.len == strlen(text) && memcmp(again.data, text, again.len) == 0,
					   "accepted a non-canonical spelling");
		}
		else
			FUZZ_CHECK(bin.len == 0, "a refusal appended bytes");
		dyn_buf_free(&bin);
		dyn_buf_free(&again);
		free(text);
	}
	return 0;
}
