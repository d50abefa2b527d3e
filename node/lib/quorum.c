/*
 * quorum.c
 *		When a quorum read or write may answer, and whom a read repairs
 *		(see quorum.h).
 */
#include "dynamo/quorum.h"

dyn_read_verdict
dyn_read_decide(const dyn_read_tally *t, int r)
{
	if (t->found > 0 ? t->answers >= r : t->authoritative >= r)
		return DYN_READ_ANSWER;
	if (t->outstanding > 0)
		return DYN_READ_WAIT;
	return DYN_READ_FAIL;
}

dyn_write_verdict
dyn_write_decide(const dyn_write_tally *t, int w, int n)
{
	if (t->local_failed || w > n)
		return DYN_WRITE_FAIL;
	if (t->acks >= w)
		return DYN_WRITE_ANSWER;
	if (t->outstanding > 0)
		return DYN_WRITE_WAIT;
	return DYN_WRITE_FAIL;
}

bool
dyn_read_repair_any(bool all_same, int answers, size_t merged_siblings)
{
	return !all_same && answers >= 2 && merged_siblings > 0;
}

int
dyn_read_repair_targets(const dyn_read_answer *a, int n, dyn_slice merged, bool *repair)
{
	int			count = 0;

	for (int i = 0; i < n; i++)
	{
		repair[i] = a[i].answered && a[i].owner && !dyn_slice_eq(a[i].set, merged);
		count += repair[i];
	}
	return count;
}
