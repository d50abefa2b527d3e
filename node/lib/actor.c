/*
 * actor.c
 *		A node's actors: its owner actor and per-partition stand-in
 *		incarnations (see actor.h for why dots need them).
 *
 * The random part of an incarnation comes from libsodium's randombytes
 * (the OS's generator): 64 bits, so two incarnations ever meet with
 * probability about 2^-64 per pair.
 */
#include "dynamo/actor.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static void actor_draw(dyn_actors *a, dyn_actor *actor);

void
dyn_actor_name(const char *node_id, const uint8_t rnd[DYN_ACTOR_RANDOM_LEN], char *out)
{
	size_t		len = strlen(node_id);

	if (len > DYN_ACTOR_PREFIX_MAX)
		len = DYN_ACTOR_PREFIX_MAX;
	memcpy(out, node_id, len);
	out[len] = DYN_ACTOR_SEP;
	/* 8 bytes are 11 characters: the id is at most 20 + 1 + 11 = 32 bytes */
	sodium_bin2base64(out + len + 1, DYN_NODE_ID_MAX + 1 - len - 1, rnd,
					  DYN_ACTOR_RANDOM_LEN, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

bool
dyn_actor_is_incarnation(dyn_slice id)
{
	return id.len > 0 && memchr(id.ptr, DYN_ACTOR_SEP, id.len) != NULL;
}

int
dyn_actors_init(dyn_actors *a, const char *node_id, uint32_t partitions, bool lost_data)
{
	size_t		len = strlen(node_id);

	memset(a, 0, sizeof(*a));
	if (len == 0 || len > DYN_NODE_ID_MAX || strchr(node_id, DYN_ACTOR_SEP) != NULL)
		return DYN_ERR_INVAL;
	memcpy(a->node_id, node_id, len + 1);
	memcpy(a->owner.id, node_id, len + 1);
	a->partitions = partitions;
	a->standin = calloc(partitions > 0 ? partitions : 1, sizeof(dyn_actor));
	if (a->standin == NULL)
		return DYN_ERR_NOMEM;
	if (lost_data)
		dyn_actors_incarnate_owner(a);
	return DYN_OK;
}

void
dyn_actors_free(dyn_actors *a)
{
	free(a->standin);
	a->standin = NULL;
}

void
dyn_actors_incarnate_owner(dyn_actors *a)
{
	actor_draw(a, &a->owner);
}

dyn_actor *
dyn_actors_standin(dyn_actors *a, uint32_t partition)
{
	dyn_actor  *s;

	if (partition >= a->partitions)
		return NULL;
	s = &a->standin[partition];
	if (s->id[0] == '\0')
		actor_draw(a, s);
	return s;
}

void
dyn_actors_retire(dyn_actors *a, uint32_t partition)
{
	if (partition >= a->partitions || a->standin[partition].id[0] == '\0')
		return;
	memset(&a->standin[partition], 0, sizeof(dyn_actor));
	a->retired++;
}

/* A new incarnation into actor: a fresh id whose counters start at 1. */
static void
actor_draw(dyn_actors *a, dyn_actor *actor)
{
	uint8_t		rnd[DYN_ACTOR_RANDOM_LEN];

	randombytes_buf(rnd, sizeof(rnd));
	dyn_actor_name(a->node_id, rnd, actor->id);
	actor->incarnation = true;
	actor->issued = 0;
	a->drawn++;
}
