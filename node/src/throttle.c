/*
 * throttle.c
 *		Token buckets for background work and handshakes (see throttle.h).
 */
#include "throttle.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

#include "dynamo/common.h"

static void throttle_refill(dyn_throttle *t, uint64_t now_ms);

void
dyn_throttle_init(dyn_throttle *t, uint64_t rate, uint64_t now_ms)
{
	t->rate = rate;
	t->tokens = (int64_t) rate;
	t->last_ms = now_ms;
	t->earned = 0;
	t->waited_ms = 0;
}

/*
 * Add what the elapsed time earned, capped at one second's worth.  The part
 * of a token not yet earned is kept: at 50 handshakes per second asked every
 * millisecond, each millisecond earns 0.05 of one, and dropping it would
 * never refill the bucket.
 */
static void
throttle_refill(dyn_throttle *t, uint64_t now_ms)
{
	uint64_t	acc;

	if (now_ms <= t->last_ms)
		return;
	acc = (now_ms - t->last_ms) * t->rate + t->earned;
	t->last_ms = now_ms;
	t->tokens += (int64_t) (acc / 1000);
	t->earned = acc % 1000;
	if (t->tokens >= (int64_t) t->rate)
	{
		t->tokens = (int64_t) t->rate;
		t->earned = 0;
	}
}

void
dyn_throttle_charge(dyn_throttle *t, uint64_t units, uint64_t now_ms)
{
	if (t->rate == 0)
		return;
	throttle_refill(t, now_ms);
	t->tokens -= (int64_t) units;
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

bool
dyn_throttle_take(dyn_throttle *t, uint64_t units, uint64_t now_ms)
{
	if (t->rate == 0)
		return true;
	throttle_refill(t, now_ms);
	if (t->tokens < (int64_t) units)
		return false;
	t->tokens -= (int64_t) units;
	return true;
}

void
dyn_throttle_give(dyn_throttle *t, uint64_t units)
{
	t->tokens += (int64_t) units;
	if (t->tokens > (int64_t) t->rate)
		t->tokens = (int64_t) t->rate;
}

int
dyn_throttle_table_init(dyn_throttle_table *tt, uint32_t nslots, uint64_t rate,
						uint64_t now_ms)
{
	uint32_t	n = 1;

	memset(tt, 0, sizeof(*tt));
	if (sodium_init() < 0)
		return DYN_ERR_INVAL;
	while (n < nslots && n < (UINT32_C(1) << 31))
		n <<= 1;
	if ((tt->slots = calloc(n, sizeof(*tt->slots))) == NULL)
		return DYN_ERR_NOMEM;
	for (uint32_t i = 0; i < n; i++)
		dyn_throttle_init(&tt->slots[i], rate, now_ms);
	tt->mask = n - 1;
	crypto_shorthash_keygen(tt->key);
	return DYN_OK;
}

void
dyn_throttle_table_free(dyn_throttle_table *tt)
{
	free(tt->slots);
	tt->slots = NULL;
}

size_t
dyn_throttle_addr_key(const struct sockaddr *sa, uint8_t *out)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (sa->sa_family == AF_INET)
	{
		memcpy(out, &((const struct sockaddr_in *) sa)->sin_addr, 4);
		return 4;
	}
	if (sa->sa_family == AF_INET6)
	{
		const uint8_t *a = ((const struct sockaddr_in6 *) sa)->sin6_addr.s6_addr;

		if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0)
		{
			memcpy(out, a + 12, 4);
			return 4;
		}
		memcpy(out, a, 8);
		return 8;
	}
	return 0;
}

dyn_throttle *
dyn_throttle_table_slot(dyn_throttle_table *tt, const struct sockaddr *sa)
{
	uint8_t		key[16];
	uint8_t		h[crypto_shorthash_BYTES];
	size_t		len = dyn_throttle_addr_key(sa, key);
	uint64_t	v;

	crypto_shorthash(h, key, len, tt->key);
	memcpy(&v, h, sizeof(v));
	return &tt->slots[v & tt->mask];
}
