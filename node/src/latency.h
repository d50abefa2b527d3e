/*
 * latency.h
 *		The latency histogram: STATUS's percentiles (and so dynamo_stats in
 *		SQL) and dynamo-bench's are this one, with one bucket and rank rule,
 *		so a p99 of the node and a p99 of the bench are the same measure.
 */
#ifndef DYNAMOD_LATENCY_H
#define DYNAMOD_LATENCY_H

#include <stdint.h>

/*
 * Log-linear buckets over nanoseconds: values below 2 * SUB are counted
 * exactly; above, each power of two is cut into SUB equal buckets, so a
 * bucket is at most 1/SUB (1.6 %) of its values wide.  Every uint64 value
 * has a bucket.  A fixed array (30 KiB), so recording is a few
 * instructions and never allocates.
 */
#define DYN_LATENCY_SUB_BITS	6
#define DYN_LATENCY_SUB			(1 << DYN_LATENCY_SUB_BITS)
#define DYN_LATENCY_BUCKETS		((64 - DYN_LATENCY_SUB_BITS) * DYN_LATENCY_SUB + DYN_LATENCY_SUB)

/* The histograms STATUS reports, one per coordinated operation (dispatch.c). */
enum
{
	DYN_LATENCY_GET,
	DYN_LATENCY_PUT,
	DYN_LATENCY_DELETE,
	DYN_LATENCY_OPS
};

/* Latencies counted since a start (the node's, a bench phase's). */
typedef struct dyn_latency
{
	uint64_t	count;
	uint64_t	max;			/* the largest value, exactly: caps the top bucket */
	uint64_t	buckets[DYN_LATENCY_BUCKETS];
} dyn_latency;

/* Count one request that took ns nanoseconds. */
void		dyn_latency_record(dyn_latency *l, uint64_t ns);
/* Add from's counts to into's (a mixed bench phase's total line). */
void		dyn_latency_add(dyn_latency *into, const dyn_latency *from);
/*
 * The q-quantile (0 < q <= 1) in milliseconds; -1 when nothing was
 * recorded.  The nearest rank (the ceil(q * count)-th smallest value),
 * reported as its bucket's upper bound but never above the maximum seen:
 * it never understates a latency by more than rounding to the nanosecond.
 */
double		dyn_latency_quantile_ms(const dyn_latency *l, double q);

#endif							/* DYNAMOD_LATENCY_H */
