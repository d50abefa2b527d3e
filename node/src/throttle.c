/*
 * throttle.c
 *		The background work's token bucket (see throttle.h).
 */
#include "throttle.h"

static void throttle_refill(dyn_throttle *t, uint64_t now_ms);

void
dyn_throttle_init(dyn_throttle *t, uint64_t rate, uint64_t now_ms)
{
	t->rate = rate;
	t->tokens = (int64_t) rate;
	t->last_ms = now_ms;
	t->waited_ms = 0;
}

/* Add what the elapsed time earned, capped at one second's worth. */
static void
throttle_refill(dyn_throttle *t, uint64_t now_ms)
{
	if (now_ms > t->last_ms)
	{
		t->tokens += (int64_t) ((now_ms - t->last_ms) * t->rate / 1000);
		if (t->tokens > (int64_t) t->rate)
			t->tokens = (int64_t) t->rate;
		t->last_ms = now_ms;
	}
}

void
dyn_throttle_charge(dyn_throttle *t, uint64_t bytes, uint64_t now_ms)
{
	if (t->rate == 0)
		return;
	throttle_refill(t, now_ms);
	t->tokens -= (int64_t) bytes;
}

uint64_t
dyn_throttle_delay(dyn_throttle *t, uint64_t now_ms)
{
	uint64_t	ms;

	if (t->rate == 0)
		return 0;
	throttle_refill(t, now_ms);
	if (t->tokens >= 0)
		return 0;
	ms = (uint64_t) (-t->tokens) * 1000 / t->rate + 1;
	t->waited_ms += ms;
	return ms;
}
