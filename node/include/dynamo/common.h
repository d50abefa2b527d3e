/*
 * common.h
 *		Status codes and the byte-slice type shared by every part of libdynamo.
 *
 * libdynamo runs inside PostgreSQL backends as well as in dynamod and the
 * tools, so it never exits, never uses globals and reports every failure as a
 * negative status code that the caller turns into its own kind of error.
 */
#ifndef DYNAMO_COMMON_H
#define DYNAMO_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Every libdynamo function that can fail returns one of these (0 is success). */
typedef enum dyn_status
{
	DYN_OK = 0,
	DYN_ERR_AGAIN = -1,			/* not enough bytes yet / would block */
	DYN_ERR_PROTO = -2,			/* malformed frame or body */
	DYN_ERR_TOOBIG = -3,		/* frame or field over its maximum size */
	DYN_ERR_NOMEM = -4,			/* allocation failed */
	DYN_ERR_NOTFOUND = -5,		/* no such key */
	DYN_ERR_IO = -6,			/* socket or file error (see errno) */
	DYN_ERR_TIMEOUT = -7,		/* a wait ran out of time */
	DYN_ERR_INVAL = -8,			/* bad argument */
	DYN_ERR_CLOSED = -9,		/* peer closed the connection */
	DYN_ERR_ENGINE = -10,		/* storage engine failure */
	DYN_ERR_REMOTE = -11		/* the peer answered with an error frame */
} dyn_status;

/* A view of bytes owned by someone else: never freed through the slice. */
typedef struct dyn_slice
{
	const uint8_t *ptr;
	size_t		len;
} dyn_slice;

/* A slice over a NUL-terminated string (the NUL is not part of the slice). */
dyn_slice	dyn_slice_str(const char *s);

/* Whether two slices hold the same bytes. */
bool		dyn_slice_eq(dyn_slice a, dyn_slice b);

/*
 * Byte order of two slices (memcmp, the shorter first when one is a prefix
 * of the other): <0, 0 or >0.  The order of node ids in clocks and of
 * siblings in objects.
 */
int			dyn_slice_cmp(dyn_slice a, dyn_slice b);

/* A static, lower-case description of a dyn_status. */
const char *dyn_strerror(int status);

/*
 * Milliseconds of CLOCK_MONOTONIC, which never steps: for deadlines,
 * timeouts, pacing and durations.  The base is arbitrary (the boot), so
 * such a time is only ever compared with another one of this process.
 */
uint64_t	dyn_clock_mono_ms(void);
/*
 * Milliseconds since the epoch (CLOCK_REALTIME): only for a time that is
 * stored or sent and must be comparable across restarts and nodes (a clock
 * entry's timestamp, a tombstone's age, a membership generation).  It can
 * step, so never for a deadline.
 */
uint64_t	dyn_clock_wall_ms(void);

#endif							/* DYNAMO_COMMON_H */
