/*
 * test_phi.c
 *		Unit tests for phi.c: suspicion grows with silence, the bounds put
 *		the "down" verdict for a 1-second gossip inside the 5-second budget,
 *		and ordinary jitter stays far below the threshold.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "dynamo/phi.h"

static uint64_t silence_until_down(const dyn_phi *p);
static void test_no_history(void **state);
static void test_monotonic(void **state);
static void test_down_within_budget(void **state);
static void test_jitter_is_not_down(void **state);
static void test_window_wraps(void **state);
static void test_verdict_with_failures(void **state);

/* Milliseconds of silence after the last heartbeat until phi > threshold. */
static uint64_t
silence_until_down(const dyn_phi *p)
{
	uint64_t	t = 0;

	while (dyn_phi_value(p, p->last_ms + t) <= DYN_PHI_THRESHOLD)
		t += 10;
	return t;
}

/* Before any heartbeat there is nothing to suspect. */
static void
test_no_history(void **state)
{
	dyn_phi		p;

	(void) state;
	dyn_phi_init(&p);
	assert_true(dyn_phi_value(&p, 123456) == 0.0);
	/* one heartbeat: the assumed interval applies */
	dyn_phi_heartbeat(&p, 1000);
	assert_int_equal(p.count, 0);
	assert_true(dyn_phi_value(&p, 1000) < 1.0);
	assert_true(silence_until_down(&p) <= 5000);
}

/* phi never falls while the silence goes on. */
static void
test_monotonic(void **state)
{
	dyn_phi		p;
	double		last = 0.0;
	uint64_t	t = 1;

	(void) state;
	dyn_phi_init(&p);
	for (int i = 0; i < 10; i++)
		dyn_phi_heartbeat(&p, t += 700 + (uint64_t) (i % 3) * 200);
	for (uint64_t dt = 0; dt < 20000; dt += 50)
	{
		double		v = dyn_phi_value(&p, p.last_ms + dt);

		assert_true(v >= last);
		last = v;
	}
	assert_true(last == 100.0);
}

/*
 * Whatever the window (very regular, very fast, very slow, wild), a peer
 * that falls silent is down within 5 s, and not before 1.5 s.
 */
static void
test_down_within_budget(void **state)
{
	static const uint64_t patterns[][4] = {
		{1000, 1000, 1000, 1000},	/* a metronome */
		{100, 120, 90, 110},		/* gossip from many peers */
		{3000, 2500, 4000, 3500},	/* slow */
		{100, 2000, 300, 1800},		/* wild */
	};

	(void) state;
	for (size_t k = 0; k < sizeof(patterns) / sizeof(patterns[0]); k++)
	{
		dyn_phi		p;
		uint64_t	t = 5000;
		uint64_t	down;

		dyn_phi_init(&p);
		dyn_phi_heartbeat(&p, t);
		for (int i = 0; i < 40; i++)
			dyn_phi_heartbeat(&p, t += patterns[k][i % 4]);
		down = silence_until_down(&p);
		assert_true(down <= 4600);
		assert_true(down >= 1500);
	}
}

/* One-second gossip with jitter: an interval of 2 s is not suspicious. */
static void
test_jitter_is_not_down(void **state)
{
	dyn_phi		p;
	uint64_t	t = 10;

	(void) state;
	dyn_phi_init(&p);
	for (int i = 0; i < 30; i++)
		dyn_phi_heartbeat(&p, t += (i % 2) ? 400 : 1300);
	assert_true(dyn_phi_value(&p, t + 1000) < 1.0);
	assert_true(dyn_phi_value(&p, t + 2000) < DYN_PHI_THRESHOLD);
	/* a repeated heartbeat at the same instant adds no sample */
	dyn_phi_heartbeat(&p, t);
	assert_int_equal(p.count, 29);	/* the first heartbeat only sets the time */
}

/* The window keeps the latest DYN_PHI_WINDOW intervals only. */
static void
test_window_wraps(void **state)
{
	dyn_phi		p;
	uint64_t	t = 1;

	(void) state;
	dyn_phi_init(&p);
	for (int i = 0; i < 100; i++)
		dyn_phi_heartbeat(&p, t += 5000);
	/* then a fast peer: the old slow samples are forgotten */
	for (int i = 0; i < DYN_PHI_WINDOW + 1; i++)
		dyn_phi_heartbeat(&p, t += 100);
	assert_int_equal(p.count, DYN_PHI_WINDOW);
	for (int i = 0; i < DYN_PHI_WINDOW; i++)
		assert_true(p.interval[i] == 100.0);
	assert_true(silence_until_down(&p) < 2000);
}

/*
 * The membership's rhythm: answers every 500 ms, then a cut from which
 * every heartbeat times out after 1 s.  Down within 2 s of the last answer
 * on failures; without them phi alone takes longer but stays inside 5 s;
 * a peer answering on time is never down for one or two lost requests.
 */
static void
test_verdict_with_failures(void **state)
{
	dyn_phi		p;
	uint64_t	t = 1;
	uint64_t	last;
	uint64_t	down_at = 0;

	(void) state;
	dyn_phi_init(&p);
	for (int i = 0; i < DYN_PHI_WINDOW; i++)
		dyn_phi_heartbeat(&p, t += 500 + (uint64_t) (i % 4) * 20);
	last = t;
	assert_false(dyn_phi_down(dyn_phi_value(&p, last + 100), 2));
	assert_false(dyn_phi_down(dyn_phi_value(&p, last + 500), 1));
	for (uint64_t dt = 0; dt <= 5000 && down_at == 0; dt += 100)
	{
		/* heartbeats sent every 500 ms each fail 1 s later */
		int			failures = dt < 1000 ? 0 : (int) ((dt - 1000) / 500) + 1;

		if (dyn_phi_down(dyn_phi_value(&p, last + dt), failures))
			down_at = dt;
	}
	assert_true(down_at > 0 && down_at <= 2000);
	assert_false(dyn_phi_down(dyn_phi_value(&p, last + 1000), 0));
	assert_true(silence_until_down(&p) <= 5000);
	assert_false(dyn_phi_down(0.0, 100));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_history),
		cmocka_unit_test(test_monotonic),
		cmocka_unit_test(test_down_within_budget),
		cmocka_unit_test(test_jitter_is_not_down),
		cmocka_unit_test(test_window_wraps),
		cmocka_unit_test(test_verdict_with_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
