/*
 * test_model.c
 *		A randomized model of the write path under partitions, as
 *		coordinator.c runs it (coordinator.h has the argument this checks):
 *		five nodes, keys of three owners each, writes coordinated by owners
 *		(their node id, or an incarnation after a lost disk) and by stand-ins
 *		(a per-partition incarnation whose copy is a hint, retired when a
 *		hint of the partition is handed off), with a context read from any
 *		two nodes or none, shipped to random other nodes (owners merge it,
 *		stand-ins keep it as a hint), hints delivered in any order,
 *		anti-entropy merges, `memory` nodes restarting empty, restarts that
 *		keep the data, a partition dropped and pulled back from one replica,
 *		and clocks past DYN_VCLOCK_CAP entries.  Every step
 *		uses the library's own dyn_object_put_above, dyn_object_merge and
 *		clock code; the model only decides who does what.  Checked:
 *
 *		unique dots	no two distinct versions are ever made with one dot
 *					(checked at every write, against every version made);
 *		nothing lost	once every hint is delivered and the owners have
 *					merged, every acknowledged version is there, unless
 *					a write whose reader saw it and whose context covered
 *					it superseded it;
 *		nothing undone	no version so superseded is there (histories whose
 *					clocks stayed under DYN_VCLOCK_CAP: past it README
 *					says a superseded version may come back as a sibling).
 *
 * The same model run with the rules before issue 11 (a stand-in dots with
 * its node id, a node that lost its disk keeps its node id) must fail:
 * test_old_rules_collide shows the checker catches the dot collisions (and
 * the writes they lose); test_no_retire_loses that a stand-in actor kept
 * past the hand-off of its hints loses a write (its next dot covers a
 * version it no longer holds); test_owner_kept_at_drop_loses the same of
 * an owner actor kept past a dropped partition (handoff_retire_owner).
 * Seeds are fixed, so a failure names the history that shows it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dynamo/actor.h"
#include "dynamo/object.h"

#define NODES		5
#define KEYS		2			/* hot keys: many actors per key */
#define OWNERS		3
#define MAX_VERSIONS 1500
#define STEPS		1200
#define SEEDS		6
#define MAX_EDGES	(MAX_VERSIONS * 64)

/* One version ever made: its dot, its value, and what became of it. */
typedef struct version
{
	char		actor[DYN_NODE_ID_MAX + 1];
	uint64_t	counter;
	int			key;
	char		value[16];
	bool		acked;			/* W copies were kept */
	bool		present;		/* check: on the owners at the end */
	bool		effective;		/* check: present, or superseded by an effective one */
} version;

/* A write whose reader saw a version and whose context covered it. */
typedef struct supersede
{
	int			old;
	int			by;
} supersede;

/* One node: its objects, its hints per target, its actors. */
typedef struct node
{
	char		id[8];
	dyn_buf		store[KEYS];
	dyn_buf		hint[NODES][KEYS];	/* kept for target, of key */
	dyn_actor	owner;
	dyn_actor	standin[KEYS];	/* a key is a partition of its own here */
} node;

/* One history. */
typedef struct model
{
	uint64_t	rng;
	bool		old_rules;		/* before issue 11: node ids only */
	bool		no_retire;		/* a stand-in actor outlives its handed-off hints */
	bool		keep_owner;		/* the owner actor outlives a dropped partition */
	node		n[NODES];
	version		v[MAX_VERSIONS];
	int			nv;
	supersede	e[MAX_EDGES];
	int			ne;
	int			by_old[MAX_EDGES];	/* check: superseders grouped by what they superseded */
	int			from[MAX_VERSIONS + 1];	/* check: version i's in by_old[from[i]..from[i+1]) */
	int			collisions;
	int			losses;			/* nodes that lost their data */
	int			regains;		/* partitions dropped and pulled back */
	int			full_contexts;	/* writes whose clock had to drop an entry */
} model;

static unsigned roll(model *m, unsigned n);
static bool is_owner(int nd, int key);
static void draw(model *m, node *nd, dyn_actor *a);
static void load(const dyn_buf *b, dyn_object *o);
static void save(const dyn_object *o, dyn_buf *b);
static void merge_into(dyn_buf *to, const dyn_buf *from);
static void copy_of(model *m, int nd, int key, dyn_object *o, dyn_buf *keep);
static int	find_version(model *m, int key, dyn_slice actor, uint64_t counter);
static void write_one(model *m);
static void deliver_one(model *m);
static void exchange_one(model *m);
static bool held_elsewhere(model *m, int nd);
static void restart(model *m, int nd, bool lose_data);
static void drop_and_regain(model *m);
static void converge(model *m);
static void check(model *m, int *lost, int *undone);
static void run(model *m, uint64_t seed, bool old_rules, bool no_retire, bool keep_owner);
static void test_model_new_rules(void **state);
static void test_old_rules_collide(void **state);
static void test_no_retire_loses(void **state);
static void test_owner_kept_at_drop_loses(void **state);

/* xorshift64*: a fixed seed makes a fixed history */
static unsigned
roll(model *m, unsigned n)
{
	m->rng ^= m->rng >> 12;
	m->rng ^= m->rng << 25;
	m->rng ^= m->rng >> 27;
	return (unsigned) ((m->rng * 2685821657736338717ULL) >> 33) % n;
}

/* Key k's owners are nodes k, k+1, k+2. */
static bool
is_owner(int nd, int key)
{
	return (nd - key + NODES) % NODES < OWNERS;
}

/* A new incarnation of nd, its random part from the history's generator. */
static void
draw(model *m, node *nd, dyn_actor *a)
{
	uint8_t		rnd[DYN_ACTOR_RANDOM_LEN];

	for (int i = 0; i < DYN_ACTOR_RANDOM_LEN; i++)
		rnd[i] = (uint8_t) roll(m, 256);
	dyn_actor_name(nd->id, rnd, a->id);
	a->incarnation = true;
	a->issued = 0;
}

static void
load(const dyn_buf *b, dyn_object *o)
{
	assert_int_equal(dyn_object_decode(dyn_buf_slice(b), o), DYN_OK);
}

/* Encode o into b; o's values may point into b, so encode aside first. */
static void
save(const dyn_object *o, dyn_buf *b)
{
	dyn_buf		fresh;

	dyn_buf_init(&fresh);
	dyn_object_encode(o, &fresh);
	assert_int_equal(fresh.err, DYN_OK);
	dyn_buf_free(b);
	*b = fresh;
}

/* A replica-to-replica merge of from's set into to's. */
static void
merge_into(dyn_buf *to, const dyn_buf *from)
{
	dyn_object	a;
	dyn_object	b;

	dyn_object_init(&a);
	dyn_object_init(&b);
	load(to, &a);
	load(from, &b);
	assert_int_equal(dyn_object_merge(&a, &b, NULL), DYN_OK);
	save(&a, to);
	dyn_object_free(&a);
	dyn_object_free(&b);
}

/*
 * What nd answers for key (its store if an owner, and every hint it keeps
 * for the key, as get_local), decoded into o; keep holds the bytes.
 */
static void
copy_of(model *m, int nd, int key, dyn_object *o, dyn_buf *keep)
{
	dyn_buf_reset(keep);
	dyn_buf_append(keep, m->n[nd].store[key].data, m->n[nd].store[key].len);
	for (int t = 0; t < NODES; t++)
		if (m->n[nd].hint[t][key].len > 0)
			merge_into(keep, &m->n[nd].hint[t][key]);
	load(keep, o);
}

/* The version of key with this dot, -1 if none (a dot names a version of one key). */
static int
find_version(model *m, int key, dyn_slice actor, uint64_t counter)
{
	for (int i = 0; i < m->nv; i++)
		if (m->v[i].key == key && m->v[i].counter == counter &&
			dyn_slice_eq(dyn_slice_str(m->v[i].actor), actor))
			return i;
	return -1;
}

/*
 * A client's write: read from two random nodes (or write blind), then a
 * coordinator -- an owner, or a stand-in as when every owner is cut off --
 * makes the version and ships its set to a random number of other nodes.
 */
static void
write_one(model *m)
{
	int			key = (int) roll(m, KEYS);
	int			c = (int) roll(m, NODES);
	node	   *co = &m->n[c];
	bool		owner = is_owner(c, key);
	dyn_vclock	ctx;
	dyn_vclock	written;
	dyn_object	o;
	dyn_object	r;
	dyn_buf		rb;
	dyn_buf		ob;
	dyn_actor  *a;
	dyn_actor	plain;
	dyn_slice	value;
	version    *nv;
	int			acks = 1;
	int			hint_target = -1;

	if (m->nv == MAX_VERSIONS || m->ne == MAX_EDGES)
		return;
	dyn_object_init(&o);
	dyn_object_init(&r);
	dyn_buf_init(&rb);
	dyn_buf_init(&ob);
	dyn_vclock_init(&ctx);
	if (roll(m, 4) != 0)
	{
		int			r1 = (int) roll(m, NODES);
		int			r2 = (int) roll(m, NODES);
		dyn_object	o2;
		dyn_buf		b2;

		dyn_object_init(&o2);
		dyn_buf_init(&b2);
		copy_of(m, r1, key, &r, &rb);
		copy_of(m, r2, key, &o2, &b2);
		assert_int_equal(dyn_object_merge(&r, &o2, NULL), DYN_OK);
		dyn_object_context(&r, &ctx);
		for (size_t i = 0; i < r.n && m->ne < MAX_EDGES; i++)
		{
			const dyn_vclock_entry *e = &r.s[i].clock.e[r.s[i].dot];
			dyn_slice	id = {(const uint8_t *) e->id, e->idlen};
			int			ix = find_version(m, key, id, e->counter);

			/* superseded only if the context (maybe cut to 32) covers it */
			if (ix >= 0 && dyn_vclock_covers(&ctx, id, e->counter))
				m->e[m->ne++] = (supersede) {ix, m->nv};
		}
		dyn_object_free(&o2);
		dyn_buf_free(&b2);
	}

	/* the coordinator's own copy and actor */
	if (owner)
	{
		a = &co->owner;
		dyn_buf_append(&ob, co->store[key].data, co->store[key].len);
	}
	else
	{
		a = &co->standin[key];
		if (a->id[0] == '\0')
			draw(m, co, a);
		for (int t = 0; t < NODES; t++)
			if (co->hint[t][key].len > 0)
				merge_into(&ob, &co->hint[t][key]);
		hint_target = (key + (int) roll(m, OWNERS)) % NODES;
	}
	if (m->old_rules)
	{
		/* node ids and per-key counters only */
		memset(&plain, 0, sizeof(plain));
		snprintf(plain.id, sizeof(plain.id), "%s", co->id);
		a = &plain;
	}
	load(&ob, &o);
	nv = &m->v[m->nv];
	memset(nv, 0, sizeof(*nv));
	snprintf(nv->value, sizeof(nv->value), "w%d", m->nv);
	value = dyn_slice_str(nv->value);
	m->full_contexts += ctx.n == DYN_VCLOCK_CAP &&
		dyn_vclock_get(&ctx, dyn_slice_str(a->id)) == 0;
	assert_int_equal(dyn_object_put_above(&o, dyn_slice_str(a->id), dyn_actor_floor(a), &ctx,
										  &value, 1000 + (uint64_t) m->nv, &written),
					 DYN_OK);
	nv->counter = dyn_vclock_get(&written, dyn_slice_str(a->id));
	dyn_actor_issued(a, nv->counter);
	snprintf(nv->actor, sizeof(nv->actor), "%s", a->id);
	nv->key = key;
	if (find_version(m, key, dyn_slice_str(nv->actor), nv->counter) >= 0)
		m->collisions++;
	m->nv++;
	save(&o, &ob);
	if (owner)
		merge_into(&co->store[key], &ob);
	else
		merge_into(&co->hint[hint_target][key], &ob);

	/* shipped to 0..3 other nodes; W=2 */
	for (int k = (int) roll(m, 4); k > 0; k--)
	{
		int			to = (int) roll(m, NODES);

		if (to == c)
			continue;
		if (is_owner(to, key))
			merge_into(&m->n[to].store[key], &ob);
		else
			merge_into(&m->n[to].hint[(key + (int) roll(m, OWNERS)) % NODES][key], &ob);
		acks++;
	}
	nv->acked = acks >= 2;
	dyn_object_free(&o);
	dyn_object_free(&r);
	dyn_buf_free(&rb);
	dyn_buf_free(&ob);
}

/* One hint handed to its target and deleted: the partition's stand-in retires. */
static void
deliver_one(model *m)
{
	int			nd = (int) roll(m, NODES);
	int			t = (int) roll(m, NODES);
	int			key = (int) roll(m, KEYS);
	dyn_buf    *h = &m->n[nd].hint[t][key];

	if (h->len == 0)
		return;
	if (is_owner(t, key))
		merge_into(&m->n[t].store[key], h);
	else
		merge_into(&m->n[t].hint[t][key], h);	/* a stand-in listed as a target */
	dyn_buf_reset(h);
	if (!m->old_rules && !m->no_retire)
		memset(&m->n[nd].standin[key], 0, sizeof(dyn_actor));
}

/* Anti-entropy between two owners of a key, both ways. */
static void
exchange_one(model *m)
{
	int			key = (int) roll(m, KEYS);
	int			a = (key + (int) roll(m, OWNERS)) % NODES;
	int			b = (key + (int) roll(m, OWNERS)) % NODES;

	merge_into(&m->n[a].store[key], &m->n[b].store[key]);
	merge_into(&m->n[b].store[key], &m->n[a].store[key]);
}

/*
 * Whether every acknowledged version is held off nd, or covered there (by
 * a version superseding it): then losing nd's copies loses no write the
 * rules keep.
 */
static bool
held_elsewhere(model *m, int nd)
{
	dyn_object	o;
	dyn_buf		b;
	dyn_vclock	ctx;
	bool		all = true;

	dyn_object_init(&o);
	dyn_buf_init(&b);
	for (int i = 0; i < m->nv && all; i++)
	{
		bool		found = false;

		if (!m->v[i].acked)
			continue;
		for (int x = 0; x < NODES && !found; x++)
		{
			if (x == nd)
				continue;
			copy_of(m, x, m->v[i].key, &o, &b);
			dyn_object_context(&o, &ctx);
			found = dyn_vclock_covers(&ctx, dyn_slice_str(m->v[i].actor), m->v[i].counter);
			for (size_t s = 0; s < o.n && !found; s++)
				found = dyn_slice_eq(o.s[s].value, dyn_slice_str(m->v[i].value));
		}
		all = found;
	}
	dyn_object_free(&o);
	dyn_buf_free(&b);
	return all;
}

/*
 * A restart: every stand-in actor is gone (they live in memory); with the
 * data lost (a `memory` node, a wiped disk) the store and hints go too and
 * the owner actor becomes an incarnation, as an incarnation owner does at
 * every start.
 */
static void
restart(model *m, int nd, bool lose_data)
{
	node	   *x = &m->n[nd];

	for (int k = 0; k < KEYS; k++)
		memset(&x->standin[k], 0, sizeof(dyn_actor));
	m->losses += lose_data;
	if (lose_data)
		for (int k = 0; k < KEYS; k++)
		{
			dyn_buf_reset(&x->store[k]);
			for (int t = 0; t < NODES; t++)
				dyn_buf_reset(&x->hint[t][k]);
		}
	if (m->old_rules)
		return;
	if (lose_data || x->owner.incarnation)
		draw(m, x, &x->owner);
}

/*
 * A ring change takes a key's partition from an owner, which drops its
 * copy (the owner actor retires: handoff_retire_owner), and a later one
 * gives it back, pulled from one other owner that may lack versions a
 * third one holds (it was down during the pull).
 */
static void
drop_and_regain(model *m)
{
	int			key = (int) roll(m, KEYS);
	int			nd = (key + (int) roll(m, OWNERS)) % NODES;
	int			from = (key + (int) roll(m, OWNERS)) % NODES;

	if (nd == from || !held_elsewhere(m, nd))
		return;
	m->regains++;
	dyn_buf_reset(&m->n[nd].store[key]);
	if (!m->old_rules && !m->keep_owner)
		draw(m, &m->n[nd], &m->n[nd].owner);
	merge_into(&m->n[nd].store[key], &m->n[from].store[key]);
}

/* The faults stop: every hint delivered, owners merged pairwise twice. */
static void
converge(model *m)
{
	for (int nd = 0; nd < NODES; nd++)
		for (int t = 0; t < NODES; t++)
			for (int k = 0; k < KEYS; k++)
				if (m->n[nd].hint[t][k].len > 0)
				{
					int			o = is_owner(t, k) ? t : k;	/* a stand-in's: to an owner */

					merge_into(&m->n[o].store[k], &m->n[nd].hint[t][k]);
					dyn_buf_reset(&m->n[nd].hint[t][k]);
				}
	for (int round = 0; round < 2; round++)
		for (int k = 0; k < KEYS; k++)
			for (int a = 0; a < OWNERS; a++)
				for (int b = 0; b < OWNERS; b++)
					merge_into(&m->n[(k + a) % NODES].store[k],
							   &m->n[(k + b) % NODES].store[k]);
}

/*
 * Count acknowledged versions lost, and superseded ones back.  A version
 * may be gone only if a write superseded it whose own version is
 * effective: there at the end, or itself so superseded (a superseding
 * write that was never acknowledged may be lost with a disk, and then
 * what it superseded rightly stays).  Superseders come later, so one pass
 * from the newest decides.
 */
static void
check(model *m, int *lost, int *undone)
{
	dyn_object	o;

	*lost = *undone = 0;
	dyn_object_init(&o);
	for (int k = 0; k < KEYS; k++)
	{
		for (int a = 1; a < OWNERS; a++)
			assert_true(dyn_slice_eq(dyn_buf_slice(&m->n[k].store[k]),
									 dyn_buf_slice(&m->n[(k + a) % NODES].store[k])));
		load(&m->n[k].store[k], &o);
		for (int i = 0; i < m->nv; i++)
			if (m->v[i].key == k)
				for (size_t s = 0; s < o.n && !m->v[i].present; s++)
					m->v[i].present = dyn_slice_eq(o.s[s].value, dyn_slice_str(m->v[i].value));
	}
	memset(m->from, 0, sizeof(m->from));
	for (int j = 0; j < m->ne; j++)
		m->from[m->e[j].old + 1]++;
	for (int i = 0; i < m->nv; i++)
		m->from[i + 1] += m->from[i];
	{
		int			fill[MAX_VERSIONS];

		memcpy(fill, m->from, sizeof(fill));
		for (int j = 0; j < m->ne; j++)
			m->by_old[fill[m->e[j].old]++] = m->e[j].by;
	}
	for (int i = m->nv - 1; i >= 0; i--)
	{
		bool		superseded = false;

		for (int j = m->from[i]; j < m->from[i + 1] && !superseded; j++)
			superseded = m->v[m->by_old[j]].effective;
		m->v[i].effective = m->v[i].present || superseded;
		*lost += m->v[i].acked && !m->v[i].effective;
		*undone += m->v[i].acked && m->v[i].present && superseded;
	}
	dyn_object_free(&o);
}

/* One history of STEPS steps from seed. */
static void
run(model *m, uint64_t seed, bool old_rules, bool no_retire, bool keep_owner)
{
	memset(m, 0, sizeof(*m));
	m->rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	m->old_rules = old_rules;
	m->no_retire = no_retire;
	m->keep_owner = keep_owner;
	for (int nd = 0; nd < NODES; nd++)
	{
		snprintf(m->n[nd].id, sizeof(m->n[nd].id), "m%d", nd);
		snprintf(m->n[nd].owner.id, sizeof(m->n[nd].owner.id), "m%d", nd);
		for (int k = 0; k < KEYS; k++)
		{
			dyn_buf_init(&m->n[nd].store[k]);
			for (int t = 0; t < NODES; t++)
				dyn_buf_init(&m->n[nd].hint[t][k]);
		}
	}
	for (int step = 0; step < STEPS; step++)
	{
		unsigned	what = roll(m, 100);

		if (what < 50)
			write_one(m);
		else if (what < 75)
			deliver_one(m);
		else if (what < 93)
			exchange_one(m);
		else if (what < 95)
			drop_and_regain(m);
		else
		{
			int			nd = (int) roll(m, NODES);
			bool		lose = roll(m, 2) == 0;

			/* a disk is lost only where no acknowledged write has its last copy */
			restart(m, nd, lose && held_elsewhere(m, nd));
		}
	}
	converge(m);
}

static void
free_model(model *m)
{
	for (int nd = 0; nd < NODES; nd++)
		for (int k = 0; k < KEYS; k++)
		{
			dyn_buf_free(&m->n[nd].store[k]);
			for (int t = 0; t < NODES; t++)
				dyn_buf_free(&m->n[nd].hint[t][k]);
		}
}

/* What the histories of SEEDS seeds showed: how many had each fault. */
typedef struct sweep_result
{
	int			collided;		/* histories with a dot given twice */
	int			lost;			/* with an acknowledged write lost */
	int			undone;			/* with a superseded version back */
	int			truncated;		/* with a clock past DYN_VCLOCK_CAP */
	int			acked;			/* acknowledged writes in all */
} sweep_result;

/* Run SEEDS histories under the rules named, printing each one's figures. */
static sweep_result
sweep(const char *name, bool old_rules, bool no_retire, bool keep_owner)
{
	static model m;
	sweep_result res = {0};

	for (uint64_t seed = 1; seed <= SEEDS; seed++)
	{
		int			lost;
		int			undone;

		run(&m, seed, old_rules, no_retire, keep_owner);
		check(&m, &lost, &undone);
		for (int i = 0; i < m.nv; i++)
			res.acked += m.v[i].acked;
		res.collided += m.collisions > 0;
		res.lost += lost > 0;
		res.undone += undone > 0;
		res.truncated += m.full_contexts > 0;
		print_message("%s, seed %llu: %d versions, %d disks lost, %d partitions pulled back, "
					  "%d writes with a full context: %d dot collisions, %d acknowledged lost, "
					  "%d superseded back\n", name, (unsigned long long) seed, m.nv, m.losses,
					  m.regains, m.full_contexts, m.collisions, lost, undone);
		free_model(&m);
	}
	return res;
}

/* The rules of coordinator.h: no collision, nothing lost, nothing undone. */
static void
test_model_new_rules(void **state)
{
	sweep_result res = sweep("new rules", false, false, false);

	(void) state;
	assert_int_equal(res.collided, 0);
	assert_int_equal(res.lost, 0);
	assert_int_equal(res.undone, 0);
	/* the histories reach clocks past DYN_VCLOCK_CAP, or truncation is untested */
	assert_true(res.truncated > 0);
	assert_true(res.acked > 1000);
}

/* Node ids only, per-key counters: a stand-in issues a dot twice. */
static void
test_old_rules_collide(void **state)
{
	(void) state;
	assert_true(sweep("old rules", true, false, false).collided > 0);
}

/* Incarnations, but a stand-in actor kept after its hints went: a write lost. */
static void
test_no_retire_loses(void **state)
{
	(void) state;
	assert_true(sweep("no retirement", false, true, false).lost > 0);
}

/* An owner that keeps dotting as before after dropping a partition: lost. */
static void
test_owner_kept_at_drop_loses(void **state)
{
	(void) state;
	assert_true(sweep("owner kept at a drop", false, false, true).lost > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_new_rules),
		cmocka_unit_test(test_old_rules_collide),
		cmocka_unit_test(test_no_retire_loses),
		cmocka_unit_test(test_owner_kept_at_drop_loses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
