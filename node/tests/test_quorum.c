/*
 * test_quorum.c
 *		Unit tests for quorum.c: when a GET may answer, when "not found"
 *		may be its answer, when a write is acknowledged, and which replicas
 *		a read repairs (with real encoded sibling sets).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "dynamo/object.h"
#include "dynamo/quorum.h"
#include "dynamo/ring.h"

/* A GET's answers for the repair tests, with the sets they own. */
typedef struct repair_case
{
	int			n;
	dyn_read_answer a[DYN_RING_N_MAX];
	dyn_buf		sets[DYN_RING_N_MAX];
	dyn_buf		merged;
	size_t		merged_siblings;
	bool		same;
	int			answers;
	bool		history;		/* v1 and v2 made by case_history */
	dyn_buf		v1;				/* a's first version */
	dyn_buf		v2;				/* a's second, over v1 */
} repair_case;

/* One replica's answer: an owner or a stand-in, and what it held. */
typedef struct answer
{
	bool		owner;
	bool		has_data;		/* a value or a tombstone */
} answer;

static dyn_read_verdict after(const answer *a, int count, int asked, int r);
static void test_owners_not_found(void **state);
static void test_standins_not_found_wait(void **state);
static void test_standins_not_found_fail(void **state);
static void test_found_with_empty_standin(void **state);
static void test_tombstone_is_data(void **state);
static void test_standin_with_hint(void **state);
static void test_differing_answers(void **state);
static void test_failures(void **state);
static dyn_write_verdict wafter(const char *acks, int w, int n);
static void test_write_owners(void **state);
static void test_write_standins(void **state);
static void test_write_unreachable(void **state);
static void test_write_local_failed(void **state);
static void write_set(dyn_object *o, const char *node, const char *value, dyn_buf *out);
static void case_add(repair_case *c, bool answered, bool owner, const dyn_buf *set);
static int	case_repairs(repair_case *c, bool *repair);
static void case_history(repair_case *c);
static void case_free(repair_case *c);
static void test_repair_all_equal(void **state);
static void test_repair_history(void **state);
static void test_repair_tombstone(void **state);
static void test_repair_siblings(void **state);

/* The verdict once the first count of asked replicas answered as in a. */
static dyn_read_verdict
after(const answer *a, int count, int asked, int r)
{
	dyn_read_tally t = {0};

	for (int i = 0; i < count; i++)
		dyn_read_tally_add(&t, a[i].owner, a[i].has_data);
	t.outstanding = asked - count;
	return dyn_read_decide(&t, r);
}

/* Two owners without the key: not found, at R=2, as before. */
static void
test_owners_not_found(void **state)
{
	answer		a[] = {{true, false}, {true, false}};

	(void) state;
	assert_int_equal(after(a, 1, 3, 2), DYN_READ_WAIT);
	assert_int_equal(after(a, 2, 3, 2), DYN_READ_ANSWER);
}

/* Two stand-ins without the key answer first: wait for the owner. */
static void
test_standins_not_found_wait(void **state)
{
	answer		a[] = {{false, false}, {false, false}, {true, true}};

	(void) state;
	assert_int_equal(after(a, 2, 3, 2), DYN_READ_WAIT);
	/* the owner had it: found, with R=2 answers */
	assert_int_equal(after(a, 3, 3, 2), DYN_READ_ANSWER);
}

/* Every answer in, only stand-ins and one owner, all empty: not a
 * "not found" but a quorum failure. */
static void
test_standins_not_found_fail(void **state)
{
	answer		a[] = {{false, false}, {false, false}, {true, false}};

	(void) state;
	assert_int_equal(after(a, 3, 3, 2), DYN_READ_FAIL);
	assert_int_equal(after(a, 2, 2, 1), DYN_READ_FAIL);
	/* R=1 from the owner alone is a not found */
	assert_int_equal(after(a, 3, 3, 1), DYN_READ_ANSWER);
}

/* Data from one answer and an empty stand-in make R=2: answered. */
static void
test_found_with_empty_standin(void **state)
{
	answer		a[] = {{true, true}, {false, false}};

	(void) state;
	assert_int_equal(after(a, 1, 3, 2), DYN_READ_WAIT);
	assert_int_equal(after(a, 2, 3, 2), DYN_READ_ANSWER);
	/* the other order too */
	{
		answer		b[] = {{false, false}, {true, true}};

		assert_int_equal(after(b, 1, 3, 2), DYN_READ_WAIT);
		assert_int_equal(after(b, 2, 3, 2), DYN_READ_ANSWER);
	}
}

/* A tombstone is data: a stand-in holding one is authoritative. */
static void
test_tombstone_is_data(void **state)
{
	answer		a[] = {{false, true}, {false, true}};

	(void) state;
	assert_int_equal(after(a, 2, 3, 2), DYN_READ_ANSWER);
}

/* A stand-in holding the key's hint counts like an owner. */
static void
test_standin_with_hint(void **state)
{
	answer		a[] = {{false, true}, {true, false}};

	(void) state;
	assert_int_equal(after(a, 2, 2, 2), DYN_READ_ANSWER);
}

/* R=3 with answers that differ (one empty owner, two with data). */
static void
test_differing_answers(void **state)
{
	answer		a[] = {{true, false}, {true, true}, {false, true}};

	(void) state;
	assert_int_equal(after(a, 2, 3, 3), DYN_READ_WAIT);
	assert_int_equal(after(a, 3, 3, 3), DYN_READ_ANSWER);
}

/* Replicas that failed are neither answers nor outstanding. */
static void
test_failures(void **state)
{
	answer		a[] = {{true, true}};

	(void) state;
	/* one answer, two failed: nothing more will come */
	assert_int_equal(after(a, 1, 1, 2), DYN_READ_FAIL);
	assert_int_equal(after(a, 1, 1, 1), DYN_READ_ANSWER);
	assert_int_equal(after(a, 0, 0, 1), DYN_READ_FAIL);
}

/*
 * The verdict after answers: one letter per target, in order, the
 * coordinator's own copy first: 'o' an owner acknowledged, 's' a stand-in
 * kept a hint, 'f' failed or timed out, '.' still to answer, 'L' the
 * coordinator's own copy failed.
 */
static dyn_write_verdict
wafter(const char *acks, int w, int n)
{
	dyn_write_tally t = {0};

	for (const char *p = acks; *p; p++)
	{
		t.acks += *p == 'o' || *p == 's';
		t.standin_acks += *p == 's';
		t.failed += *p == 'f' || *p == 'L';
		t.outstanding += *p == '.';
		t.local_failed |= *p == 'L';
	}
	return dyn_write_decide(&t, w, n);
}

/* Owners alone, as without partitions. */
static void
test_write_owners(void **state)
{
	(void) state;
	assert_int_equal(wafter("o..", 2, 3), DYN_WRITE_WAIT);
	assert_int_equal(wafter("oo.", 2, 3), DYN_WRITE_ANSWER);
	assert_int_equal(wafter("o", 1, 3), DYN_WRITE_ANSWER);
	assert_int_equal(wafter("oof", 3, 3), DYN_WRITE_FAIL);
}

/* Every owner cut off: stand-ins make W (the always-writeable promise). */
static void
test_write_standins(void **state)
{
	(void) state;
	/* a stand-in coordinating, its copy a hint, another stand-in beside */
	assert_int_equal(wafter("s..", 2, 3), DYN_WRITE_WAIT);
	assert_int_equal(wafter("ss.", 2, 3), DYN_WRITE_ANSWER);
	assert_int_equal(wafter("sss", 3, 3), DYN_WRITE_ANSWER);
	/* one owner and one stand-in */
	assert_int_equal(wafter("of.", 2, 3), DYN_WRITE_WAIT);
	assert_int_equal(wafter("ofs", 2, 3), DYN_WRITE_ANSWER);
}

/* Too few reachable: fail, but only once every answer is in. */
static void
test_write_unreachable(void **state)
{
	(void) state;
	assert_int_equal(wafter("sf.", 3, 3), DYN_WRITE_WAIT);
	assert_int_equal(wafter("sff", 2, 3), DYN_WRITE_FAIL);
	/* fewer targets than W (a node that reaches nobody) */
	assert_int_equal(wafter("s", 2, 3), DYN_WRITE_FAIL);
	/* W above N is never met */
	assert_int_equal(wafter("ooo", 4, 3), DYN_WRITE_FAIL);
}

/* The coordinator's own copy failed: nothing was shipped, fail at once. */
static void
test_write_local_failed(void **state)
{
	(void) state;
	assert_int_equal(wafter("L..", 2, 3), DYN_WRITE_FAIL);
	assert_int_equal(wafter("Loo", 2, 3), DYN_WRITE_FAIL);
}

/* ---------------------------------------------------------- read repair */

/*
 * Write value (NULL: a tombstone) into o as node over all o holds, and put
 * o's encoding in out (initialised here).
 */
static void
write_set(dyn_object *o, const char *node, const char *value, dyn_buf *out)
{
	dyn_vclock	ctx;
	dyn_slice	v;

	dyn_object_context(o, &ctx);
	if (value != NULL)
		v = dyn_slice_str(value);
	assert_int_equal(dyn_object_put(o, dyn_slice_str(node), &ctx,
									value != NULL ? &v : NULL, 1000, NULL), DYN_OK);
	dyn_buf_init(out);
	dyn_object_encode(o, out);
	assert_int_equal(out->err, DYN_OK);
}

/*
 * One target's answer, merged as the coordinator merges (set NULL: the
 * empty set, "not found"); unanswered ones are left out of the merge.
 */
static void
case_add(repair_case *c, bool answered, bool owner, const dyn_buf *set)
{
	dyn_buf    *mine = &c->sets[c->n];

	dyn_buf_init(mine);
	if (set != NULL)
		dyn_buf_append(mine, set->data, set->len);
	c->a[c->n].answered = answered;
	c->a[c->n].owner = owner;
	c->a[c->n].set = dyn_buf_slice(mine);
	c->n++;
	if (!answered)
		return;
	if (c->answers++ == 0)
	{
		c->same = true;
		dyn_buf_init(&c->merged);
		dyn_buf_append(&c->merged, mine->data, mine->len);
	}
	else if (!dyn_slice_eq(dyn_buf_slice(mine), dyn_buf_slice(&c->merged)))
		c->same = false;
	{
		dyn_object	into;
		dyn_object	other;

		dyn_object_init(&into);
		dyn_object_init(&other);
		assert_int_equal(dyn_object_decode(dyn_buf_slice(&c->merged), &into), DYN_OK);
		assert_int_equal(dyn_object_decode(dyn_buf_slice(mine), &other), DYN_OK);
		assert_int_equal(dyn_object_merge(&into, &other, NULL), DYN_OK);
		dyn_buf_reset(&c->merged);
		dyn_object_encode(&into, &c->merged);
		assert_int_equal(c->merged.err, DYN_OK);
		c->merged_siblings = into.n;
		dyn_object_free(&into);
		dyn_object_free(&other);
	}
}

/* The repair decision for c: -1 when none at all, else the count. */
static int
case_repairs(repair_case *c, bool *repair)
{
	if (!dyn_read_repair_any(c->same, c->answers, c->merged_siblings))
		return -1;
	return dyn_read_repair_targets(c->a, c->n, dyn_buf_slice(&c->merged), repair);
}

/* Make c->v1 and c->v2: two versions of a key, the second over the first. */
static void
case_history(repair_case *c)
{
	dyn_object	o;

	dyn_object_init(&o);
	write_set(&o, "a", "v1", &c->v1);
	write_set(&o, "a", "v2", &c->v2);
	dyn_object_free(&o);
	c->history = true;
}

static void
case_free(repair_case *c)
{
	if (c->history)
	{
		dyn_buf_free(&c->v1);
		dyn_buf_free(&c->v2);
	}
	for (int i = 0; i < c->n; i++)
		dyn_buf_free(&c->sets[i]);
	if (c->answers > 0)
		dyn_buf_free(&c->merged);
}

/* Every replica answered the same set: no repair, nothing encoded. */
static void
test_repair_all_equal(void **state)
{
	repair_case c = {0};
	dyn_object	o;
	dyn_buf		v1;
	bool		repair[DYN_RING_N_MAX];

	(void) state;
	dyn_object_init(&o);
	write_set(&o, "a", "v1", &v1);
	for (int i = 0; i < 3; i++)
		case_add(&c, true, true, &v1);
	assert_true(c.same);
	assert_int_equal(case_repairs(&c, repair), -1);
	/* had it been asked, no target differs from the merged set either */
	assert_int_equal(dyn_read_repair_targets(c.a, c.n, dyn_buf_slice(&c.merged), repair), 0);
	/* one answer alone is nothing to compare; an empty merge nothing to send */
	assert_false(dyn_read_repair_any(false, 1, 1));
	assert_false(dyn_read_repair_any(false, 3, 0));
	assert_true(dyn_read_repair_any(false, 2, 1));
	case_free(&c);
	dyn_buf_free(&v1);
	dyn_object_free(&o);
}

/*
 * Two versions of a key, v2 over v1, as three targets answered them: which
 * get the merged set (v2).  Each row is one case.
 */
static void
test_repair_history(void **state)
{
	enum
	{
		NONE, V1, V2					/* what a target answered: empty, v1, v2 */
	};
	static const struct
	{
		const char *name;
		struct
		{
			bool		answered;
			bool		owner;
			int			set;
			bool		repaired;
		}			t[3];
		int			count;		/* -1: no repair at all */
	}			rows[] = {
		/* an older version: only that owner, with the new one */
		{"one stale", {{true, true, V2, false}, {true, true, V1, true}, {true, true, V2, false}}, 1},
		/* not found (the empty set) is repaired like a stale version */
		{"one not found", {{true, true, NONE, true}, {true, true, V2, false}, {true, true, V2, false}}, 1},
		/*
		 * A target that timed out (or failed, or sent what could not be
		 * read) is not repaired: what it holds is unknown.  This is what
		 * the coordinator did before the decision moved here, and it is
		 * kept.
		 */
		{"one timed out", {{true, true, V2, false}, {false, true, NONE, false}, {true, true, V1, true}}, 1},
		/* a stand-in's stale or empty answer is not repaired: hints carry it */
		{"stand-ins", {{true, true, V2, false}, {true, false, NONE, false}, {true, false, V1, false}}, 0},
		/* every owner without it: nothing found, nothing to repair */
		{"none found", {{true, true, NONE, false}, {true, true, NONE, false}, {false, true, NONE, false}}, -1},
		/* one answer alone: nothing to compare */
		{"one answer", {{true, true, V1, false}, {false, true, NONE, false}, {false, true, NONE, false}}, -1},
	};

	(void) state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
	{
		repair_case c = {0};
		bool		repair[DYN_RING_N_MAX];
		int			count;

		case_history(&c);
		for (int k = 0; k < 3; k++)
			case_add(&c, rows[i].t[k].answered, rows[i].t[k].owner,
					 rows[i].t[k].set == NONE ? NULL : rows[i].t[k].set == V1 ? &c.v1 : &c.v2);
		if ((count = case_repairs(&c, repair)) != rows[i].count)
			fail_msg("%s: %d repairs, %d expected", rows[i].name, count, rows[i].count);
		for (int k = 0; k < 3 && count >= 0; k++)
			if (repair[k] != rows[i].t[k].repaired)
				fail_msg("%s: target %d %s", rows[i].name, k,
						 repair[k] ? "repaired" : "not repaired");
		/* v2 superseded v1: the merged set is v2's bytes */
		if (count > 0 && !dyn_slice_eq(dyn_buf_slice(&c.merged), dyn_buf_slice(&c.v2)))
			fail_msg("%s: the merged set is not v2", rows[i].name);
		case_free(&c);
	}
}

/*
 * A tombstone over a value: the owner still holding the value gets the
 * tombstone; a value written over a tombstone: the owner with the
 * tombstone gets the value.
 */
static void
test_repair_tombstone(void **state)
{
	repair_case c = {0};
	repair_case d = {0};
	dyn_object	o;
	dyn_buf		v1;
	dyn_buf		dead;
	dyn_buf		v2;
	bool		repair[DYN_RING_N_MAX];

	(void) state;
	dyn_object_init(&o);
	write_set(&o, "a", "v1", &v1);
	write_set(&o, "a", NULL, &dead);
	write_set(&o, "b", "v2", &v2);
	case_add(&c, true, true, &dead);
	case_add(&c, true, true, &v1);
	assert_int_equal(case_repairs(&c, repair), 1);
	assert_false(repair[0]);
	assert_true(repair[1]);
	assert_true(dyn_slice_eq(dyn_buf_slice(&c.merged), dyn_buf_slice(&dead)));
	case_add(&d, true, true, &v2);
	case_add(&d, true, true, &dead);
	case_add(&d, true, true, &v2);
	assert_int_equal(case_repairs(&d, repair), 1);
	assert_true(repair[1]);
	assert_true(dyn_slice_eq(dyn_buf_slice(&d.merged), dyn_buf_slice(&v2)));
	case_free(&c);
	case_free(&d);
	dyn_buf_free(&v1);
	dyn_buf_free(&dead);
	dyn_buf_free(&v2);
	dyn_object_free(&o);
}

/*
 * Concurrent writes on two owners: the merged set holds both siblings, and
 * each owner holding one side gets it; an owner holding both does not.
 */
static void
test_repair_siblings(void **state)
{
	repair_case c = {0};
	dyn_object	oa;
	dyn_object	ob;
	dyn_buf		x;
	dyn_buf		y;
	bool		repair[DYN_RING_N_MAX];

	(void) state;
	dyn_object_init(&oa);
	dyn_object_init(&ob);
	write_set(&oa, "a", "x", &x);
	write_set(&ob, "b", "y", &y);
	case_add(&c, true, true, &x);
	case_add(&c, true, true, &y);
	assert_int_equal(c.merged_siblings, 2);
	{
		dyn_buf		both;

		dyn_buf_init(&both);
		dyn_buf_append(&both, c.merged.data, c.merged.len);
		case_add(&c, true, true, &both);
		dyn_buf_free(&both);
	}
	assert_int_equal(case_repairs(&c, repair), 2);
	assert_true(repair[0]);
	assert_true(repair[1]);
	assert_false(repair[2]);
	case_free(&c);
	dyn_buf_free(&x);
	dyn_buf_free(&y);
	dyn_object_free(&oa);
	dyn_object_free(&ob);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owners_not_found),
		cmocka_unit_test(test_standins_not_found_wait),
		cmocka_unit_test(test_standins_not_found_fail),
		cmocka_unit_test(test_found_with_empty_standin),
		cmocka_unit_test(test_tombstone_is_data),
		cmocka_unit_test(test_standin_with_hint),
		cmocka_unit_test(test_differing_answers),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_write_owners),
		cmocka_unit_test(test_write_standins),
		cmocka_unit_test(test_write_unreachable),
		cmocka_unit_test(test_write_local_failed),
		cmocka_unit_test(test_repair_all_equal),
		cmocka_unit_test(test_repair_history),
		cmocka_unit_test(test_repair_tombstone),
		cmocka_unit_test(test_repair_siblings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
