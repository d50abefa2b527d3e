/*
 * quorum.c
 *		When a quorum read may answer (see quorum.h).
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
