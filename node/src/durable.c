/*
 * durable.c
 *		Generations of group commit and the replies that wait for them
 *		(see durable.h).
 */
#include "durable.h"

#include <string.h>

void
dyn_durable_init(dyn_durable *d, uint64_t writes)
{
	memset(d, 0, sizeof(*d));
	d->next = 1;
	d->synced_writes = writes;
}

/*
 * Unsynced writes exist: the next sync covers them.  Else the one in flight
 * covers everything written, and with none in flight all of it is durable.
 */
uint64_t
dyn_durable_need(const dyn_durable *d, uint64_t writes)
{
	if (d->failed)
		return UINT64_MAX;
	if (writes != d->synced_writes)
		return d->next;
	return d->in_flight ? d->flying : d->durable;
}

/* One sync at a time: what is written meanwhile waits for the next one. */
bool
dyn_durable_start(dyn_durable *d, uint64_t writes)
{
	if (d->in_flight || writes == d->synced_writes)
		return false;
	d->flying = d->next++;
	d->recent[d->recent_n++ % DYN_DURABLE_RECENT] = writes - d->synced_writes;
	d->synced_writes = writes;
	d->in_flight = true;
	return true;
}

void
dyn_durable_done(dyn_durable *d)
{
	if (!d->in_flight)
		return;
	if (!d->failed)
		d->durable = d->flying;
	d->in_flight = false;
}

void
dyn_durable_fail(dyn_durable *d)
{
	d->in_flight = false;
	d->failed = true;
}

bool
dyn_durable_forming(const dyn_durable *d, uint64_t writes)
{
	uint64_t	waiting = writes - d->synced_writes;
	uint64_t	largest = 0;

	if (d->in_flight || waiting == 0)
		return false;
	for (int i = 0; i < DYN_DURABLE_RECENT; i++)
		if (d->recent[i] > largest)
			largest = d->recent[i];
	return waiting < largest;
}

/* Marks are kept in order of offset and of generation (both only grow). */
void
dyn_release_tag(dyn_release *r, size_t len, uint64_t gen, uint64_t durable)
{
	if (len > r->tagged)
	{
		if (r->n > 0 && r->m[r->n - 1].gen >= gen)
			r->m[r->n - 1].end = len;
		else if (r->n == DYN_RELEASE_MARKS)
		{
			r->m[r->n - 1].end = len;
			r->m[r->n - 1].gen = gen;
		}
		else
		{
			r->m[r->n].end = len;
			r->m[r->n].gen = gen;
			r->n++;
		}
		r->tagged = len;
	}
	(void) dyn_release_advance(r, durable);
}

size_t
dyn_release_advance(dyn_release *r, uint64_t durable)
{
	int			k = 0;

	while (k < r->n && r->m[k].gen <= durable)
		k++;
	if (k > 0)
	{
		r->ready = r->m[k - 1].end;
		memmove(&r->m[0], &r->m[k], (size_t) (r->n - k) * sizeof(r->m[0]));
		r->n -= k;
	}
	return r->ready;
}

void
dyn_release_consume(dyn_release *r, size_t n)
{
	if (n > r->ready)
		n = r->ready;
	r->ready -= n;
	r->tagged -= n;
	for (int i = 0; i < r->n; i++)
		r->m[i].end -= n;
}

bool
dyn_release_held(const dyn_release *r)
{
	return r->n > 0;
}

void
dyn_release_reset(dyn_release *r)
{
	memset(r, 0, sizeof(*r));
}
