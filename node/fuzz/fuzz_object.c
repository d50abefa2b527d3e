/*
 * fuzz_object.c
 *		Stored objects (object.c), as they come from disk and from peers:
 *		what decodes re-encodes to the same bytes, the in-place readers
 *		agree with the decoder, and the object's context and a merge with
 *		itself behave (the context covers every sibling; merging an object
 *		into itself or into a copy of itself changes nothing).
 */
#include "dynamo/object.h"

#include "fuzz.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dyn_slice	bytes = {data, size};
	dyn_object	o;
	dyn_object	copy;
	dyn_vclock	ctx;
	bool		changed = true;

	if (!fuzz_check_object(bytes))
		return 0;
	dyn_object_init(&o);
	dyn_object_init(&copy);
	FUZZ_CHECK(dyn_object_decode(bytes, &o) == DYN_OK, "decodes once, not twice");
	FUZZ_CHECK(dyn_object_decode(bytes, &copy) == DYN_OK, "decodes once, not twice");
	dyn_object_context(&o, &ctx);
	if (ctx.n < DYN_VCLOCK_CAP)
	{
		for (size_t i = 0; i < o.n; i++)
		{
			const dyn_vclock_entry *d = &o.s[i].clock.e[o.s[i].dot];
			dyn_slice	id = {(const uint8_t *) d->id, d->idlen};

			FUZZ_CHECK(dyn_vclock_covers(&ctx, id, d->counter), "context misses a sibling");
		}
	}
	FUZZ_CHECK(dyn_object_merge(&o, &copy, &changed) == DYN_OK && !changed,
			   "merging a copy of itself changed it");
	dyn_object_free(&o);
	dyn_object_free(&copy);
	return 0;
}
