/*
 * latency.c
 *		Log-linear latency histograms (see latency.h).
 *
 * Bucket b covers [lower(b), lower(b + 1)): below 16 us one bucket per
 * microsecond, above it 16 equal sub-buckets per power of two, so the error
 * of a reported quantile is bounded by the bucket width (at most 1/16 of the
 * value).  A quantile is reported as the bucket's upper bound, so it never
 * understates a latency.
 */
#include "latency.h"

static unsigned latency_bucket(uint64_t us);
static uint64_t latency_upper(unsigned b);

/* The bucket of a latency in microseconds. */
static unsigned
latency_bucket(uint64_t us)
{
	unsigned	power;
	unsigned	b;

	if (us < DYN_LATENCY_SUB)
		return (unsigned) us;
	power = 63u - (unsigned) __builtin_clzll(us);	/* us >= 2^power */
	/* the 4 bits below the leading one pick the sub-bucket */
	b = (power - 3) * DYN_LATENCY_SUB + (unsigned) ((us >> (power - 4)) & (DYN_LATENCY_SUB - 1));
	return b < DYN_LATENCY_BUCKETS ? b : DYN_LATENCY_BUCKETS - 1;
}

/* The smallest latency (us) above bucket b's range. */
static uint64_t
latency_upper(unsigned b)
{
	unsigned	power;
	uint64_t	sub;

	if (b < DYN_LATENCY_SUB)
		return b + 1;
	power = b / DYN_LATENCY_SUB + 3;
	sub = b % DYN_LATENCY_SUB;
	return ((uint64_t) DYN_LATENCY_SUB + sub + 1) << (power - 4);
}

void
dyn_latency_record(dyn_latency *l, uint64_t us)
{
	l->buckets[latency_bucket(us)]++;
	l->count++;
}

/* Walk the buckets to the one holding the q-quantile. */
double
dyn_latency_quantile_ms(const dyn_latency *l, double q)
{
	uint64_t	rank;
	uint64_t	seen = 0;

	if (l->count == 0)
		return -1;
	rank = (uint64_t) (q * (double) l->count + 0.5);
	if (rank < 1)
		rank = 1;
	for (unsigned b = 0; b < DYN_LATENCY_BUCKETS; b++)
	{
		seen += l->buckets[b];
		if (seen >= rank)
			return (double) latency_upper(b) / 1000.0;
	}
	return (double) latency_upper(DYN_LATENCY_BUCKETS - 1) / 1000.0;
}
