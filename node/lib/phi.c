/*
 * phi.c
 *		The phi-accrual failure detector (see phi.h).
 */
#include "dynamo/phi.h"

#include <math.h>
#include <string.h>

/* Empty window; the first heartbeat only sets the time. */
void
dyn_phi_init(dyn_phi *p)
{
	memset(p, 0, sizeof(*p));
}

/*
 * Record a heartbeat.  Two heartbeats in the same millisecond (a view that
 * reached us twice) add no sample: a zero interval would only shrink the
 * mean and make the next ordinary delay look suspicious.
 */
void
dyn_phi_heartbeat(dyn_phi *p, uint64_t now_ms)
{
	if (p->last_ms != 0 && now_ms > p->last_ms)
	{
		p->interval[p->next] = (double) (now_ms - p->last_ms);
		p->next = (p->next + 1) % DYN_PHI_WINDOW;
		if (p->count < DYN_PHI_WINDOW)
			p->count++;
	}
	if (now_ms > p->last_ms)
		p->last_ms = now_ms;
}

/*
 * Failures are this node's own evidence; phi must still be raised so that
 * one request lost in a burst, from a peer that answers on time, is not a
 * verdict.  Two failures need only a slightly late answer (phi > 1): under
 * a cut every heartbeat times out, and the peer is judged within about two
 * heartbeat timeouts instead of waiting for phi alone.
 */
bool
dyn_phi_down(double phi, int failures)
{
	return phi > DYN_PHI_THRESHOLD || (failures >= 1 && phi > DYN_PHI_SUSPECT) ||
		(failures >= 2 && phi > 1.0);
}

/*
 * phi for the time elapsed since the last heartbeat: the normal tail
 * probability of an interval that long, from the clamped window statistics
 * plus the acceptable pause.
 */
double
dyn_phi_value(const dyn_phi *p, uint64_t now_ms)
{
	double		mean = DYN_PHI_FIRST_MS;
	double		std = DYN_PHI_MAX_STD_MS;
	double		elapsed;
	double		z;
	double		tail;

	if (p->last_ms == 0)
		return 0.0;
	if (p->count > 0)
	{
		double		sum = 0.0;
		double		sq = 0.0;

		for (uint32_t i = 0; i < p->count; i++)
			sum += p->interval[i];
		mean = sum / p->count;
		for (uint32_t i = 0; i < p->count; i++)
			sq += (p->interval[i] - mean) * (p->interval[i] - mean);
		std = p->count > 1 ? sqrt(sq / (p->count - 1)) : DYN_PHI_MAX_STD_MS;
	}
	if (mean > DYN_PHI_MAX_MEAN_MS)
		mean = DYN_PHI_MAX_MEAN_MS;
	if (std < DYN_PHI_MIN_STD_MS)
		std = DYN_PHI_MIN_STD_MS;
	if (std > DYN_PHI_MAX_STD_MS)
		std = DYN_PHI_MAX_STD_MS;

	elapsed = now_ms > p->last_ms ? (double) (now_ms - p->last_ms) : 0.0;
	z = (elapsed - (mean + DYN_PHI_PAUSE_MS)) / std;
	tail = 0.5 * erfc(z / sqrt(2.0));
	if (tail < 1e-100)
		return 100.0;
	return -log10(tail);
}
