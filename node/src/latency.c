/*
 * latency.c
 *		Log-linear latency histograms (see latency.h).
 *
 * Below 2 * SUB the bucket is the value; above, it is the power of two (how
 * far the value had to be shifted down to keep its top SUB_BITS + 1 bits)
 * times SUB plus those top bits, the leading one included -- so bucket
 * 2 * SUB starts at 2 * SUB and the buckets run on without a gap.
 */
#include "latency.h"

#include <math.h>

static unsigned latency_bucket(uint64_t ns);
static uint64_t latency_upper(unsigned b);

static unsigned
latency_bucket(uint64_t ns)
{
	int			shift;

	if (ns < 2 * DYN_LATENCY_SUB)
		return (unsigned) ns;
	shift = 63 - __builtin_clzll(ns) - DYN_LATENCY_SUB_BITS;
	return (unsigned) shift * DYN_LATENCY_SUB + (unsigned) (ns >> shift);
}

/* The largest value of bucket b. */
static uint64_t
latency_upper(unsigned b)
{
	int			shift;
	uint64_t	top;

	if (b < 2 * DYN_LATENCY_SUB)
		return b;
	shift = (int) (b / DYN_LATENCY_SUB) - 1;
	top = b % DYN_LATENCY_SUB + DYN_LATENCY_SUB;
	return (top << shift) + ((UINT64_C(1) << shift) - 1);
}

void
dyn_latency_record(dyn_latency *l, uint64_t ns)
{
	l->buckets[latency_bucket(ns)]++;
	l->count++;
	if (ns > l->max)
		l->max = ns;
}

void
dyn_latency_add(dyn_latency *into, const dyn_latency *from)
{
	for (unsigned b = 0; b < DYN_LATENCY_BUCKETS; b++)
		into->buckets[b] += from->buckets[b];
	into->count += from->count;
	if (from->max > into->max)
		into->max = from->max;
}

double
dyn_latency_quantile_ms(const dyn_latency *l, double q)
{
	uint64_t	rank;
	uint64_t	seen = 0;

	if (l->count == 0)
		return -1;
	rank = (uint64_t) ceil(q * (double) l->count);
	if (rank < 1)
		rank = 1;
	for (unsigned b = 0; b < DYN_LATENCY_BUCKETS; b++)
	{
		seen += l->buckets[b];
		if (seen >= rank)
		{
			uint64_t	v = latency_upper(b);

			return (double) (v < l->max ? v : l->max) / 1e6;
		}
	}
	return (double) l->max / 1e6;
}
