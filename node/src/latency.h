/*
 * latency.h
 *		Request latency percentiles for STATUS (and so dynamo_stats in SQL).
 */
#ifndef DYNAMOD_LATENCY_H
#define DYNAMOD_LATENCY_H

#include <stdint.h>

/*
 * Log-linear buckets over microseconds: 16 sub-buckets per power of two
 * (about 6 % resolution) from 1 us to about 70 minutes.  A fixed array, so
 * recording is a few instructions and never allocates; counts are since the
 * node started.
 */
#define DYN_LATENCY_SUB		16
#define DYN_LATENCY_POWERS	32
#define DYN_LATENCY_BUCKETS	(DYN_LATENCY_SUB * DYN_LATENCY_POWERS)

/* The histograms STATUS reports, one per coordinated operation (dispatch.c). */
enum
{
	DYN_LATENCY_GET,
	DYN_LATENCY_PUT,
	DYN_LATENCY_DELETE,
	DYN_LATENCY_OPS
};

typedef struct dyn_latency
{
	uint64_t	count;
	uint64_t	buckets[DYN_LATENCY_BUCKETS];
} dyn_latency;

/* Count one request that took us microseconds. */
void		dyn_latency_record(dyn_latency *l, uint64_t us);
/* The q-quantile (0 < q <= 1) in milliseconds; -1 when nothing was recorded. */
double		dyn_latency_quantile_ms(const dyn_latency *l, double q);

#endif							/* DYNAMOD_LATENCY_H */
