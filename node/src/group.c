/*
 * group.c
 *		Group commit across connections (see group.h).
 *
 * A prepare handle runs every time the loop is about to wait for I/O --
 * after everything the last turn did, its I/O callbacks, check callbacks
 * and timers, so no write can be left behind without a sync to come -- and
 * starts a sync when the engine's write count moved since the last one
 * started.  With --durability flush the sync (a log write to the OS) runs
 * right there, again while the replies it released caused more writes
 * (requests held back in an input buffer); with fsync it runs on a worker
 * thread and its end (group_after_work, on the loop thread) releases the
 * replies and starts the next sync if writes arrived meanwhile -- or, while
 * fewer arrived than recent syncs covered (dyn_durable_forming), lets the
 * group grow for at most GROUP_FORM_MS: the clients it just answered are
 * about to write again, and one fsync for all of them beats two that each
 * cover half.
 */
#include "group.h"

#include <inttypes.h>
#include <stdio.h>

#include "node.h"

/* The longest a sync waits for a group to grow as large as recent ones. */
#define GROUP_FORM_MS	1

static void group_on_prepare(uv_prepare_t *h);
static void group_try_start(dyn_group *g, bool now);
static void group_on_formed(uv_timer_t *t);
static void group_work(uv_work_t *w);
static void group_after_work(uv_work_t *w, int status);
static void group_done(dyn_group *g, int rc, const char *err);

void
dyn_group_start(dyn_group *g, dyn_node *node)
{
	g->node = node;
	g->kind = dyn_engine_sync_kind(node->engine);
	dyn_durable_init(&g->clock, dyn_engine_writes(node->engine));
	if (g->kind == DYN_SYNC_NONE)
		return;
	uv_prepare_init(node->loop, &g->prepare);
	g->prepare.data = g;
	g->work.data = g;
	g->prepare_on = true;
	uv_prepare_start(&g->prepare, group_on_prepare);
	uv_timer_init(node->loop, &g->form);
	g->form.data = g;
}

void
dyn_group_stop(dyn_group *g)
{
	if (!g->prepare_on)
		return;
	g->prepare_on = false;
	uv_close((uv_handle_t *) &g->prepare, NULL);
	uv_close((uv_handle_t *) &g->form, NULL);
}

bool
dyn_group_on(const dyn_group *g)
{
	return g->kind != DYN_SYNC_NONE;
}

bool
dyn_group_failed(const dyn_group *g)
{
	return g->clock.failed;
}

uint64_t
dyn_group_need(const dyn_group *g)
{
	return dyn_durable_need(&g->clock, dyn_engine_writes(g->node->engine));
}

uint64_t
dyn_group_durable(const dyn_group *g)
{
	return g->clock.durable;
}

/* Before the loop waits: sync what was written, unless a sync is running. */
static void
group_on_prepare(uv_prepare_t *h)
{
	group_try_start(h->data, false);
}

/* A group stopped growing before it was as large as recent ones: sync it. */
static void
group_on_formed(uv_timer_t *t)
{
	group_try_start(t->data, true);
}

/*
 * Start a sync if one is due (now: without waiting for the group to form).
 * One run here releases replies, and that may handle requests that write
 * again, so an inline sync goes round until nothing is left to sync.
 */
static void
group_try_start(dyn_group *g, bool now)
{
	dyn_engine *e = g->node->engine;
	char		err[256];
	int			rc;

	for (;;)
	{
		uint64_t	writes = dyn_engine_writes(e);
		uint64_t	before = g->clock.synced_writes;

		if (g->kind == DYN_SYNC_THREAD && !now && dyn_durable_forming(&g->clock, writes))
		{
			if (!uv_is_active((uv_handle_t *) &g->form))
				uv_timer_start(&g->form, group_on_formed, GROUP_FORM_MS, 0);
			return;
		}
		if (!dyn_durable_start(&g->clock, writes))
			return;
		uv_timer_stop(&g->form);
		g->writes_at_start = writes - before;
		g->synced_writes += g->writes_at_start;
		g->started_ns = uv_hrtime();
		err[0] = '\0';
		if (g->kind == DYN_SYNC_THREAD)
		{
			g->work_err[0] = '\0';
			if (uv_queue_work(g->node->loop, &g->work, group_work, group_after_work) == 0)
				return;
			/* no worker thread: sync here rather than not at all */
		}
		rc = dyn_engine_sync(e, err, sizeof(err));
		group_done(g, rc, err);
	}
}

/* On a worker thread: only the engine's sync, which allows that. */
static void
group_work(uv_work_t *w)
{
	dyn_group  *g = w->data;

	g->work_rc = dyn_engine_sync(g->node->engine, g->work_err, sizeof(g->work_err));
}

/* Back on the loop thread: release, and sync what arrived meanwhile. */
static void
group_after_work(uv_work_t *w, int status)
{
	dyn_group  *g = w->data;

	group_done(g, status == 0 ? g->work_rc : DYN_ERR_IO,
			   status == 0 ? g->work_err : uv_strerror(status));
	if (g->prepare_on)
		group_try_start(g, false);
}

/* The sync ended: its generation is durable, or its replies are dropped. */
static void
group_done(dyn_group *g, int rc, const char *err)
{
	uint64_t	us = (uv_hrtime() - g->started_ns) / 1000;

	if (rc == DYN_OK)
		dyn_durable_done(&g->clock);
	else
		dyn_durable_fail(&g->clock);
	g->syncs++;
	g->sync_us += us;
	if (g->writes_at_start > g->max_writes)
		g->max_writes = g->writes_at_start;
	if (rc != DYN_OK)
	{
		g->sync_failures++;
		dyn_log(&g->node->log, DYN_LOG_ERROR,
				"could not make %" PRIu64 " writes durable: %s; closing the connections "
				"waiting for them, unanswered, and every connection given a reply from "
				"now on (no later sync can be trusted to cover them): restart the node",
				g->writes_at_start, err);
	}
	g->node->transport->on_durable(g->node, g->clock.failed);
}

void
dyn_group_status_json(const dyn_group *g, dyn_buf *out)
{
	dyn_buf_printf(out, ",\"group_commit\":{\"on\":%s,\"syncs\":%" PRIu64
				   ",\"sync_failures\":%" PRIu64 ",\"synced_writes\":%" PRIu64
				   ",\"max_writes_per_sync\":%" PRIu64 ",\"sync_us_avg\":%" PRIu64 "}",
				   dyn_group_on(g) ? "true" : "false", g->syncs, g->sync_failures,
				   g->synced_writes, g->max_writes,
				   g->syncs > 0 ? g->sync_us / g->syncs : 0);
}
