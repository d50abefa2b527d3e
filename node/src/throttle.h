/*
 * throttle.h
 *		A token bucket that bounds the bytes per second the node's background
 *		work (anti-entropy, partition handoff, dropping handed-off data) puts
 *		on the network and the engine, so that it cannot starve client
 *		requests.
 *
 * Every background request is charged its bytes once they are known (the
 * request when sent, the reply when it arrives); before sending the next one
 * a task asks how long to wait.  The bucket holds at most one second of
 * rate, so a task that was idle does not burst past the bound.
 */
#ifndef DYNAMOD_THROTTLE_H
#define DYNAMOD_THROTTLE_H

#include <stdint.h>

typedef struct dyn_throttle
{
	uint64_t	rate;			/* bytes per second; 0 means unbounded */
	int64_t		tokens;			/* bytes that may go now (negative: in debt) */
	uint64_t	last_ms;		/* when tokens were last refilled */
	uint64_t	waited_ms;		/* total time tasks were told to wait */
} dyn_throttle;

/* A full bucket of rate bytes per second (0: no bound). */
void		dyn_throttle_init(dyn_throttle *t, uint64_t rate, uint64_t now_ms);
/* Spend bytes (may go into debt: the next wait pays it back). */
void		dyn_throttle_charge(dyn_throttle *t, uint64_t bytes, uint64_t now_ms);
/* Milliseconds to wait before the next request may go; 0 when it may go now. */
uint64_t	dyn_throttle_delay(dyn_throttle *t, uint64_t now_ms);

#endif							/* DYNAMOD_THROTTLE_H */
