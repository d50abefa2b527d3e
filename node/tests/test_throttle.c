/*
 * test_throttle.c
 *		The token buckets: what the background work's lets through, how
 *		long it makes a task wait, that idle time does not buy a burst; and
 *		the handshake buckets -- taking without debt, slow rates refilled
 *		exactly, one bucket per source address in a table of fixed size.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "dynamo/common.h"
#include "throttle.h"

/* A full bucket lets one second's worth go at once, then makes debt wait. */
static void
test_debt_is_paid_in_time(void **state)
{
	dyn_throttle t;

	(void) state;
	dyn_throttle_init(&t, 1000, 0);
	assert_int_equal(dyn_throttle_delay(&t, 0), 0);
	dyn_throttle_charge(&t, 1000, 0);
	assert_int_equal(dyn_throttle_delay(&t, 0), 0);	/* exactly used up */
	dyn_throttle_charge(&t, 500, 0);
	/* 500 bytes of debt at 1000 B/s: half a second (rounded up) */
	assert_int_equal(dyn_throttle_delay(&t, 0), 501);
	assert_int_equal(dyn_throttle_delay(&t, 250), 251);
	assert_int_equal(dyn_throttle_delay(&t, 500), 0);
	assert_true(t.waited_ms >= 752);
}

/* However long a task was idle, it may send at most one second's worth. */
static void
test_idle_time_does_not_buy_a_burst(void **state)
{
	dyn_throttle t;

	(void) state;
	dyn_throttle_init(&t, 1000, 0);
	dyn_throttle_charge(&t, 1000, 0);
	assert_int_equal(dyn_throttle_delay(&t, 3600 * 1000), 0);
	dyn_throttle_charge(&t, 1500, 3600 * 1000);
	assert_int_equal(dyn_throttle_delay(&t, 3600 * 1000), 501);
}

/* Over a long run the bytes let through stay within the rate. */
static void
test_long_run_stays_within_the_rate(void **state)
{
	dyn_throttle t;
	uint64_t	now = 0;
	uint64_t	sent = 0;

	(void) state;
	dyn_throttle_init(&t, 64 * 1024, 0);
	while (now < 10 * 1000)
	{
		uint64_t	wait = dyn_throttle_delay(&t, now);

		if (wait > 0)
		{
			now += wait;
			continue;
		}
		dyn_throttle_charge(&t, 4096, now);
		sent += 4096;
	}
	/* ten seconds at 64 KiB/s, plus the one-second bucket and one request */
	assert_true(sent <= 11 * 64 * 1024 + 4096);
	assert_true(sent >= 10 * 64 * 1024);
}

/* Rate 0 is no bound at all. */
static void
test_zero_rate_never_waits(void **state)
{
	dyn_throttle t;

	(void) state;
	dyn_throttle_init(&t, 0, 0);
	dyn_throttle_charge(&t, UINT32_MAX, 0);
	assert_int_equal(dyn_throttle_delay(&t, 0), 0);
}

/* take never goes into debt: a refused take costs nothing. */
static void
test_take_refuses_without_debt(void **state)
{
	dyn_throttle t;

	(void) state;
	dyn_throttle_init(&t, 3, 0);
	assert_true(dyn_throttle_take(&t, 1, 0));
	assert_true(dyn_throttle_take(&t, 2, 0));
	assert_false(dyn_throttle_take(&t, 1, 0));
	assert_false(dyn_throttle_take(&t, 1, 100));	/* 0.3 of a token so far */
	assert_true(dyn_throttle_take(&t, 1, 334));		/* 1.002 earned */
	assert_false(dyn_throttle_take(&t, 1, 334));
	dyn_throttle_give(&t, 1);
	assert_true(dyn_throttle_take(&t, 1, 334));
	dyn_throttle_give(&t, 100);						/* capped at a full bucket */
	assert_int_equal(t.tokens, 3);
}

/*
 * A slow rate asked often: 50 per second asked every millisecond earns a
 * twentieth of a token each time, which a refill that drops fractions
 * never adds up (the bucket would stay empty for good).
 */
static void
test_slow_rate_asked_often_refills(void **state)
{
	dyn_throttle t;
	uint64_t	taken = 0;

	(void) state;
	dyn_throttle_init(&t, 50, 0);
	for (uint64_t now = 0; now < 10 * 1000; now++)
		taken += dyn_throttle_take(&t, 1, now);
	/* the first second's full bucket, then 50 a second */
	assert_true(taken >= 50 + 9 * 50 + 49);
	assert_true(taken <= 50 + 10 * 50);
}

static struct sockaddr_in6
addr6(const char *text)
{
	struct sockaddr_in6 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, text, &sa.sin6_addr), 1);
	return sa;
}

static struct sockaddr_in
addr4(const char *text, int port)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t) port);
	assert_int_equal(inet_pton(AF_INET, text, &sa.sin_addr), 1);
	return sa;
}

/* What identifies a source: the IPv4 address, the IPv6 /64, never the port. */
static void
test_address_keys(void **state)
{
	dyn_throttle_table tt;
	struct sockaddr_in a = addr4("127.0.0.2", 1000);
	struct sockaddr_in a2 = addr4("127.0.0.2", 2000);
	struct sockaddr_in6 mapped = addr6("::ffff:127.0.0.2");
	struct sockaddr_in6 h1 = addr6("2001:db8:1:2::1");
	struct sockaddr_in6 h2 = addr6("2001:db8:1:2:ffff::99");
	uint8_t		k1[16], k2[16];

	(void) state;
	assert_int_equal(dyn_throttle_addr_key((struct sockaddr *) &a, k1), 4);
	assert_int_equal(dyn_throttle_addr_key((struct sockaddr *) &mapped, k2), 4);
	assert_memory_equal(k1, k2, 4);
	assert_int_equal(dyn_throttle_addr_key((struct sockaddr *) &h1, k1), 8);
	assert_int_equal(dyn_throttle_addr_key((struct sockaddr *) &h2, k2), 8);
	assert_memory_equal(k1, k2, 8);

	assert_int_equal(dyn_throttle_table_init(&tt, 1000, 10, 0), DYN_OK);
	assert_int_equal(tt.mask, 1023);
	assert_ptr_equal(dyn_throttle_table_slot(&tt, (struct sockaddr *) &a),
					 dyn_throttle_table_slot(&tt, (struct sockaddr *) &a2));
	assert_ptr_equal(dyn_throttle_table_slot(&tt, (struct sockaddr *) &a),
					 dyn_throttle_table_slot(&tt, (struct sockaddr *) &mapped));
	assert_ptr_equal(dyn_throttle_table_slot(&tt, (struct sockaddr *) &h1),
					 dyn_throttle_table_slot(&tt, (struct sockaddr *) &h2));
	dyn_throttle_table_free(&tt);
}

/*
 * One address that drains its bucket leaves the others theirs: of 256
 * other IPv4 addresses in a table of 1024 slots, nearly all keep a full
 * bucket (a few may share the flooder's slot: the hash is keyed, so which
 * ones cannot be chosen).
 */
static void
test_one_address_does_not_drain_the_others(void **state)
{
	dyn_throttle_table tt;
	struct sockaddr_in flooder = addr4("10.0.0.1", 1);
	int			full = 0;

	(void) state;
	assert_int_equal(dyn_throttle_table_init(&tt, 1024, 5, 0), DYN_OK);
	for (int i = 0; i < 1000; i++)
		(void) dyn_throttle_take(dyn_throttle_table_slot(&tt, (struct sockaddr *) &flooder), 1, 0);
	assert_false(dyn_throttle_take(dyn_throttle_table_slot(&tt, (struct sockaddr *) &flooder), 1, 0));
	for (int i = 0; i < 256; i++)
	{
		char		ip[32];
		struct sockaddr_in other;

		snprintf(ip, sizeof(ip), "10.0.1.%d", i);
		other = addr4(ip, 1);
		full += dyn_throttle_take(dyn_throttle_table_slot(&tt, (struct sockaddr *) &other), 1, 0);
	}
	assert_true(full >= 250);
	dyn_throttle_table_free(&tt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_debt_is_paid_in_time),
		cmocka_unit_test(test_idle_time_does_not_buy_a_burst),
		cmocka_unit_test(test_long_run_stays_within_the_rate),
		cmocka_unit_test(test_zero_rate_never_waits),
		cmocka_unit_test(test_take_refuses_without_debt),
		cmocka_unit_test(test_slow_rate_asked_often_refills),
		cmocka_unit_test(test_address_keys),
		cmocka_unit_test(test_one_address_does_not_drain_the_others),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
