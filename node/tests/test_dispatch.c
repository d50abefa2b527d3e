/*
 * test_dispatch.c
 *		The command table: every request type a node takes has a row, a
 *		name and a role rule, replies have none; and a malformed body of
 *		each type is refused by its real handler with nothing answered, so
 *		the transport closes the connection for every type alike.
 *
 * The handlers run on a zeroed node: a malformed body must be refused
 * before a handler touches the store, the ring or the connection (a
 * handler that did would crash here, under ASan or valgrind).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dispatch.h"
#include "node.h"

static const dyn_role roles[] = {DYN_ROLE_READ, DYN_ROLE_WRITE, DYN_ROLE_ADMIN, DYN_ROLE_NODE};

/* Whether wire.c names the type. */
static bool
named(int type)
{
	return strcmp(dyn_msg_type_name((uint8_t) type), "unknown") != 0;
}

/* Every row has a name and a role that may send it; replies have no row. */
static void
test_rows_have_name_and_role(void **state)
{
	int			rows = 0;

	(void) state;
	for (int t = 0; t < 256; t++)
	{
		const dyn_command *cmd = dyn_command_of((uint8_t) t);
		bool		allowed = false;
		char		who[64];

		if (cmd == NULL)
			continue;
		rows++;
		assert_false(DYN_MSG_IS_REPLY(t));
		if (!named(t))
			fail_msg("type 0x%02x has a row but no name in wire.c", t);
		for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
			allowed |= dyn_role_allows(roles[i], (uint8_t) t);
		if (!allowed)
			fail_msg("%s has a row but no role may send it (identity.c)",
					 dyn_msg_type_name((uint8_t) t));
		assert_false(dyn_role_allows(DYN_ROLE_NONE, (uint8_t) t));
		dyn_role_describe((uint8_t) t, who, sizeof(who));
		assert_true(who[0] != '\0');
		assert_true(cmd->latency >= -1 && cmd->latency < DYN_LATENCY_OPS);
		assert_true(cmd->stat == 0 ||
					(cmd->stat - 1 + sizeof(uint64_t) <= sizeof(dyn_node_stats) &&
					 (cmd->stat - 1) % sizeof(uint64_t) == 0));
	}
	assert_int_equal(rows, 17);
}

/* Every request type wire.c names has a row; no role may send a type without one. */
static void
test_named_requests_have_rows(void **state)
{
	(void) state;
	for (int t = 0; t < 256; t++)
	{
		if (named(t) && !DYN_MSG_IS_REPLY(t) && dyn_command_of((uint8_t) t) == NULL)
			fail_msg("%s is named in wire.c but has no row in the command table",
					 dyn_msg_type_name((uint8_t) t));
		if (dyn_command_of((uint8_t) t) == NULL)
			for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
				if (!DYN_MSG_IS_REPLY(t) && dyn_role_allows(roles[i], (uint8_t) t))
					fail_msg("role %s may send 0x%02x, which no node takes",
							 dyn_role_name(roles[i]), t);
	}
}

/* One dispatch of type with body on node; returns its code, why and what it answered. */
static int
dispatch(dyn_node *node, uint8_t type, const uint8_t *body, size_t len, char *why,
		 size_t *answered)
{
	dyn_buf		out;
	dyn_request req = {node, NULL, type, 7, {body, len}, &out};
	int			rc;

	dyn_buf_init(&out);
	why[0] = '\0';
	rc = dyn_dispatch(&req, why, 256);
	*answered = out.len;
	dyn_buf_free(&out);
	return rc;
}

/*
 * Malformed bodies of every type: an empty one where a body is needed, one
 * byte, a length that runs past the end, a body with a byte trailing a
 * valid-looking prefix.  Each is refused, says which type and why, and
 * leaves nothing answered (the close's error frame is the transport's).
 */
static void
test_malformed_body_closes_every_type(void **state)
{
	static const uint8_t one[] = {0xff};
	static const uint8_t overlong[] = {0x00, 0xff, 'b', 0x00};
	static const uint8_t trailing[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee};
	const struct
	{
		const uint8_t *body;
		size_t		len;
	}			bodies[] = {
		{NULL, 0}, {one, sizeof(one)}, {overlong, sizeof(overlong)},
		{trailing, sizeof(trailing)},
	};
	dyn_node   *node = calloc(1, sizeof(*node));
	int			types = 0;

	(void) state;
	assert_non_null(node);
	for (int t = 0; t < 256; t++)
	{
		const dyn_command *cmd = dyn_command_of((uint8_t) t);
		char		prefix[64];

		if (cmd == NULL)
			continue;
		types++;
		snprintf(prefix, sizeof(prefix), "malformed %s request: ",
				 dyn_msg_type_name((uint8_t) t));
		for (size_t b = 0; b < sizeof(bodies) / sizeof(bodies[0]); b++)
		{
			char		why[256];
			size_t		answered;
			int			rc;

			if (bodies[b].len == 0 && (cmd->flags & DYN_CMD_EMPTY))
				continue;		/* the one well-formed body of these */
			rc = dispatch(node, (uint8_t) t, bodies[b].body, bodies[b].len, why, &answered);
			if (rc == DYN_OK)
				fail_msg("%s with a malformed body of %zu bytes was not refused",
						 dyn_msg_type_name((uint8_t) t), bodies[b].len);
			if (strncmp(why, prefix, strlen(prefix)) != 0)
				fail_msg("%s: the reason was \"%s\"", dyn_msg_type_name((uint8_t) t), why);
			assert_int_equal(answered, 0);
		}
	}
	assert_int_equal(types, 17);
	/* the handlers never answered an error: only the transport's close counts */
	assert_int_equal(node->stats.errors, 0);
	free(node);
}

/* Replies, the error frame and unknown types are not requests: refused too. */
static void
test_non_requests_are_refused(void **state)
{
	dyn_node   *node = calloc(1, sizeof(*node));
	const uint8_t types[] = {DYN_MSG_GET_REPLY, DYN_MSG_GOSSIP_REPLY, DYN_MSG_ERROR, 0x00, 0x42};

	(void) state;
	assert_non_null(node);
	for (size_t i = 0; i < sizeof(types); i++)
	{
		char		why[256];
		size_t		answered;

		assert_int_equal(dispatch(node, types[i], NULL, 0, why, &answered), DYN_ERR_PROTO);
		assert_non_null(strstr(why, "unexpected"));
		assert_int_equal(answered, 0);
	}
	free(node);
}

/* The counters are the rows': a GET counts in gets, a COORD_DELETE in deletes. */
static void
test_rows_count(void **state)
{
	dyn_node   *node = calloc(1, sizeof(*node));
	char		why[256];
	size_t		answered;

	(void) state;
	assert_non_null(node);
	(void) dispatch(node, DYN_MSG_GET, NULL, 0, why, &answered);
	(void) dispatch(node, DYN_MSG_COORD_DELETE, NULL, 0, why, &answered);
	(void) dispatch(node, DYN_MSG_DELETE, NULL, 0, why, &answered);
	(void) dispatch(node, DYN_MSG_STATUS, (const uint8_t *) "x", 1, why, &answered);
	assert_int_equal(node->stats.gets, 1);
	assert_int_equal(node->stats.deletes, 2);
	assert_int_equal(node->stats.puts, 0);
	assert_int_equal(node->stats.statuses, 1);
	assert_int_equal(dyn_command_of(DYN_MSG_COORD_PUT)->latency, DYN_LATENCY_PUT);
	assert_int_equal(dyn_command_of(DYN_MSG_GET)->latency, DYN_LATENCY_GET);
	free(node);
}

/* The one error-reply builder counts and clamps. */
static void
test_reply_error_counts(void **state)
{
	dyn_node   *node = calloc(1, sizeof(*node));
	dyn_buf		out;
	dyn_frame	f;
	dyn_error_msg err;
	size_t		used;

	(void) state;
	assert_non_null(node);
	dyn_buf_init(&out);
	dyn_reply_error(node, &out, 9, DYN_E_QUORUM, 300, 2, "quorum not met: %d of %d", 1, 3);
	assert_int_equal(node->stats.errors, 1);
	assert_int_equal(node->cluster.quorum_failures, 1);
	assert_int_equal(dyn_frame_parse(out.data, out.len, 1 << 20, &f, &used), DYN_OK);
	assert_int_equal(f.type, DYN_MSG_ERROR);
	assert_int_equal(f.reqid, 9);
	assert_int_equal(dyn_error_decode(f.body, &err), DYN_OK);
	assert_int_equal(err.code, DYN_E_QUORUM);
	assert_int_equal(err.replied, 255);
	assert_int_equal(err.needed, 2);
	assert_memory_equal(err.message.ptr, "quorum not met: 1 of 3", err.message.len);
	dyn_reply_error(node, &out, 10, DYN_E_INVAL, 0, 0, "x");
	assert_int_equal(node->stats.errors, 2);
	assert_int_equal(node->cluster.quorum_failures, 1);
	dyn_buf_free(&out);
	free(node);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_have_name_and_role),
		cmocka_unit_test(test_named_requests_have_rows),
		cmocka_unit_test(test_malformed_body_closes_every_type),
		cmocka_unit_test(test_non_requests_are_refused),
		cmocka_unit_test(test_rows_count),
		cmocka_unit_test(test_reply_error_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
