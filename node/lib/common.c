/*
 * common.c
 *		Byte slices, status descriptions and the two clocks, the vocabulary
 *		every other part of libdynamo is written in.
 */
#include <string.h>
#include <time.h>

#include "dynamo/common.h"

static uint64_t clock_ms(clockid_t id);

/*
 * A slice over the bytes of a NUL-terminated string, without the NUL.
 * s must not be NULL.
 */
dyn_slice
dyn_slice_str(const char *s)
{
	dyn_slice	r = {(const uint8_t *) s, strlen(s)};

	return r;
}

/*
 * Whether a and b hold the same bytes.  Empty slices may carry a NULL
 * pointer, which memcmp must not see even with a zero length.
 */
bool
dyn_slice_eq(dyn_slice a, dyn_slice b)
{
	if (a.len != b.len)
		return false;
	return a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* Byte order of a and b: memcmp, then the shorter first. */
int
dyn_slice_cmp(dyn_slice a, dyn_slice b)
{
	size_t		n = a.len < b.len ? a.len : b.len;
	int			c = n > 0 ? memcmp(a.ptr, b.ptr, n) : 0;

	if (c != 0)
		return c;
	return (a.len > b.len) - (a.len < b.len);
}

/*
 * A static, lower-case description of a dyn_status, for log lines and
 * error messages.  Unknown values get a generic text rather than NULL so
 * callers can always print the result.
 */
const char *
dyn_strerror(int status)
{
	switch ((dyn_status) status)
	{
		case DYN_OK:
			return "success";
		case DYN_ERR_AGAIN:
			return "not enough data yet";
		case DYN_ERR_PROTO:
			return "malformed message";
		case DYN_ERR_TOOBIG:
			return "message or field too large";
		case DYN_ERR_NOMEM:
			return "out of memory";
		case DYN_ERR_NOTFOUND:
			return "not found";
		case DYN_ERR_IO:
			return "i/o error";
		case DYN_ERR_TIMEOUT:
			return "timed out";
		case DYN_ERR_INVAL:
			return "invalid argument";
		case DYN_ERR_CLOSED:
			return "connection closed by peer";
		case DYN_ERR_ENGINE:
			return "storage engine error";
		case DYN_ERR_REMOTE:
			return "error reported by peer";
	}
	return "unknown error";
}

static uint64_t
clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

uint64_t
dyn_clock_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

uint64_t
dyn_clock_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}
