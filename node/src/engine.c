/*
 * engine.c
 *		Choosing a storage engine by name, and the public entry points.
 *
 * The entry points are thin: they check what every engine would otherwise
 * have to check (a valid namespace, a non-empty key) and call through the
 * engine's ops table, so each engine file holds only what is particular to
 * its storage, and both engines refuse the same arguments the same way.
 */
#include <stdio.h>
#include <string.h>

#include "engine.h"

/* Every engine a node can be started with, in the order --help lists them. */
static const dyn_engine_ops *const engine_table[] = {
	&dyn_engine_wiredtiger,
	&dyn_engine_memory,
};

#define ENGINE_COUNT (sizeof(engine_table) / sizeof(engine_table[0]))

static bool bad_ns(dyn_engine *e, dyn_ns ns);
static bool bad_key(dyn_engine *e, dyn_ns ns, dyn_slice key);

/*
 * Whether ns is out of range; if so, say so in e's message.  Checked here
 * because engines index arrays with it.
 */
static bool
bad_ns(dyn_engine *e, dyn_ns ns)
{
	if ((unsigned) ns < DYN_NS_COUNT)
		return false;
	snprintf(e->errmsg, sizeof(e->errmsg), "invalid namespace %d", (int) ns);
	return true;
}

/*
 * Whether ns is out of range or key is empty; if so, say why in e's message.
 * Empty keys are refused by every engine because WiredTiger cannot store
 * them, and a key that one engine accepts must work on the other.
 */
static bool
bad_key(dyn_engine *e, dyn_ns ns, dyn_slice key)
{
	if (bad_ns(e, ns))
		return true;
	if (key.len > 0)
		return false;
	snprintf(e->errmsg, sizeof(e->errmsg), "empty keys are not allowed");
	return true;
}

/*
 * Open the engine named cfg->name.  An unknown name is a configuration
 * mistake a person will read about, so the message lists the valid names.
 */
int
dyn_engine_open(const dyn_engine_config *cfg, dyn_engine **out,
				char *err, size_t errlen)
{
	char		names[128];
	size_t		used = 0;

	if (err == NULL)
		errlen = 0;				/* then snprintf(err, errlen, ...) is safe */
	else if (errlen > 0)
		err[0] = '\0';
	if (out == NULL)
		return DYN_ERR_INVAL;
	*out = NULL;
	if (cfg == NULL || cfg->name == NULL)
	{
		snprintf(err, errlen, "no storage engine name given");
		return DYN_ERR_INVAL;
	}

	for (size_t i = 0; i < ENGINE_COUNT; i++)
	{
		if (strcmp(cfg->name, engine_table[i]->name) == 0)
			return engine_table[i]->open(cfg, out, err, errlen);
	}

	names[0] = '\0';
	for (size_t i = 0; i < ENGINE_COUNT && used < sizeof(names); i++)
	{
		int			n = snprintf(names + used, sizeof(names) - used, "%s%s",
								 i > 0 ? ", " : "", engine_table[i]->name);

		if (n < 0)
			break;
		used += (size_t) n;
	}
	snprintf(err, errlen, "unknown storage engine \"%s\" (valid engines: %s)",
			 cfg->name, names);
	return DYN_ERR_INVAL;
}

/* Close e (NULL is allowed); what a clean close means is the engine's. */
void
dyn_engine_close(dyn_engine *e)
{
	if (e != NULL)
		e->ops->close(e);
}

/* The name e was opened with, as given in its ops table. */
const char *
dyn_engine_name(const dyn_engine *e)
{
	return e->ops->name;
}

/* The last failure's message; engines keep it in the common header. */
const char *
dyn_engine_errmsg(const dyn_engine *e)
{
	return e->errmsg;
}

/* Append key's value in ns to out; DYN_ERR_NOTFOUND if absent. */
int
dyn_engine_get(dyn_engine *e, dyn_ns ns, dyn_slice key, dyn_buf *out)
{
	if (bad_key(e, ns, key))
		return DYN_ERR_INVAL;
	return e->ops->get(e, ns, key, out);
}

/* Store value under key in ns, replacing any value there. */
int
dyn_engine_put(dyn_engine *e, dyn_ns ns, dyn_slice key, dyn_slice value)
{
	int			rc;

	if (bad_key(e, ns, key))
		return DYN_ERR_INVAL;
	if ((rc = e->ops->put(e, ns, key, value)) == DYN_OK)
		e->writes++;
	return rc;
}

/* Remove key from ns; removing an absent key succeeds. */
int
dyn_engine_delete(dyn_engine *e, dyn_ns ns, dyn_slice key)
{
	int			rc;

	if (bad_key(e, ns, key))
		return DYN_ERR_INVAL;
	if ((rc = e->ops->del(e, ns, key)) == DYN_OK)
		e->writes++;
	return rc;
}

/* Read-modify-write key in ns through fn (see engine.h). */
int
dyn_engine_update(dyn_engine *e, dyn_ns ns, dyn_slice key,
				  dyn_engine_update_fn fn, void *arg, bool *existed)
{
	bool		dummy;
	int			rc;

	if (bad_key(e, ns, key))
		return DYN_ERR_INVAL;
	rc = e->ops->update(e, ns, key, fn, arg, existed != NULL ? existed : &dummy);
	if (rc == DYN_OK)
		e->writes++;
	return rc;
}

/* Call fn for each record of ns in [start, end), in key order. */
int
dyn_engine_scan(dyn_engine *e, dyn_ns ns, dyn_slice start, dyn_slice end,
				dyn_engine_scan_fn fn, void *arg)
{
	if (bad_ns(e, ns))
		return DYN_ERR_INVAL;
	if (fn == NULL)
	{
		snprintf(e->errmsg, sizeof(e->errmsg), "scan needs a callback");
		return DYN_ERR_INVAL;
	}
	return e->ops->scan(e, ns, start, end, fn, arg);
}

/* Store the number of records in ns in *count. */
int
dyn_engine_count(dyn_engine *e, dyn_ns ns, uint64_t *count)
{
	if (bad_ns(e, ns))
		return DYN_ERR_INVAL;
	return e->ops->count(e, ns, count);
}

/* Open a write batch; DYN_ERR_INVAL if one is already open. */
int
dyn_engine_begin(dyn_engine *e)
{
	return e->ops->begin(e);
}

/* Make the open batch durable; DYN_ERR_INVAL if none is open. */
int
dyn_engine_commit(dyn_engine *e)
{
	return e->ops->commit(e);
}

/* Where the engine's sync is to be run; its open set it. */
dyn_sync_kind
dyn_engine_sync_kind(const dyn_engine *e)
{
	return e->sync_kind;
}

/* Make every earlier commit durable; nothing to do without group commit. */
int
dyn_engine_sync(dyn_engine *e, char *err, size_t errlen)
{
	if (e->sync_kind == DYN_SYNC_NONE || e->ops->sync == NULL)
		return DYN_OK;
	return e->ops->sync(e, err, errlen);
}

/* The count of successful writes, for "has anything changed since". */
uint64_t
dyn_engine_writes(const dyn_engine *e)
{
	return e->writes;
}

/*
 * What e holds in memory.  Every engine has an answer, so a missing op is
 * a programming mistake reported as an engine error, not a zero that would
 * read as "holds nothing".
 */
int
dyn_engine_memory_stats(dyn_engine *e, dyn_engine_meminfo *out)
{
	memset(out, 0, sizeof(*out));
	if (e->ops->memory == NULL)
	{
		snprintf(e->errmsg, sizeof(e->errmsg), "engine %s reports no memory", e->ops->name);
		return DYN_ERR_ENGINE;
	}
	return e->ops->memory(e, out);
}
