/*
 * engine.c
 *		Choosing a storage engine by name, and the public entry points.
 *
 * The entry points are thin: they check what every engine would otherwise
 * have to check (a valid namespace, a non-empty key) and call through the
 * engine's ops table, so each engine file holds only what is particular to
 * its storage, and both engines refuse the same arguments the same way.
 *
 * The object buffer (objbuf.h) lives here, in front of DYN_NS_OBJECT,
 * because every read and every change of an object passes these entry
 * points.  Its rules keep it a cache of what the engine has committed:
 *	- a read it holds costs no engine call; a read it misses goes to the
 *	  engine and leaves a copy of what the engine returned;
 *	- a put or update that succeeds buffers the value it stored, in place
 *	  of the key's copy (one lookup); one that fails drops the copy, whatever
 *	  the failure left behind; a delete drops it first;
 *	- inside a batch the engine's answers include the batch's own writes,
 *	  which dyn_engine_commit may still roll back, so every key the buffer
 *	  takes a copy of is recorded (buffer_keep), and a batch that does not
 *	  commit drops those copies again; one that commits keeps them.
 * The engine has one session and one thread, so a copy taken inside a
 * batch is seen only by the reads the engine itself would show it to --
 * until an operation of the batch fails: WiredTiger then refuses the rest
 * of the batch, reads too, and so the buffer stops answering for it.
 * The buffer's bytes come out of cfg->cache_mb, so --cache-mb still bounds
 * the engine's memory as a whole.
 *
 * With write-behind (writebehind.h) the buffer is no longer only a cache:
 *	- a put, update or delete of an object is queued for the writer and
 *	  held in the buffer as pending under the write's sequence number, in
 *	  place of the key's copy; a delete holds the key's absence;
 *	- a read answers from a held entry, pending or clean, and goes to the
 *	  engine only when the buffer has nothing of the key -- then nothing of
 *	  it is in flight, because a pending entry is never evicted;
 *	- a write the buffer cannot hold (too large, no memory) waits until the
 *	  writer has stored it, and then the key's copy is dropped, so the
 *	  engine answers for the key again;
 *	- an update reads its old value the same way as a read;
 *	- scans and counts of objects wait for the writer first.
 * The queue's two batches come out of the buffer's bytes.
 */
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "objbuf.h"
#include "writebehind.h"

/*
 * A write-behind batch is 1/WB_BATCH_SHARE of the object buffer, at most
 * WB_BATCH_MAX: large enough that the writer's commit and the hand-over
 * cost little per write, small enough that two of them (the queue's bound)
 * are a small part of the buffer and one is a short transaction for the
 * engine's cache.
 */
#define WB_BATCH_SHARE	16
#define WB_BATCH_MAX	((size_t) 4 * 1024 * 1024)

/* Every engine a node can be started with, in the order --help lists them. */
static const dyn_engine_ops *const engine_table[] = {
	&dyn_engine_wiredtiger,
	&dyn_engine_memory,
};

#define ENGINE_COUNT (sizeof(engine_table) / sizeof(engine_table[0]))

/*
 * What dyn_engine_update puts between the engine and the caller's fn when
 * the object buffer is on: the value fn chose, to buffer once the engine
 * has stored it.
 */
typedef struct buffered_update
{
	dyn_engine_update_fn fn;
	void	   *arg;
	dyn_slice	value;
	int			fn_rc;			/* what fn returned */
} buffered_update;

static bool bad_ns(dyn_engine *e, dyn_ns ns);
static bool bad_key(dyn_engine *e, dyn_ns ns, dyn_slice key);
static int	buffered_update_fn(void *arg, const dyn_slice *old, dyn_slice *value);
static dyn_objbuf *buffer_of(dyn_engine *e, dyn_ns ns);
static void buffer_keep(dyn_engine *e, dyn_objbuf *buffer, dyn_slice key, dyn_slice value);
static void buffer_written(dyn_engine *e, dyn_objbuf *buffer, dyn_slice key, int rc,
						   dyn_slice value);
static void buffer_end_batch(dyn_engine *e, bool committed);
static void batch_note_failure(dyn_engine *e, int rc);
static int	wb_choose(const dyn_engine_config *cfg, const dyn_engine_ops *ops,
					  size_t buffer_mb, bool *on, char *err, size_t errlen);
static int	wb_open(dyn_engine *e, size_t batch_bytes, char *err, size_t errlen);
static int	wb_apply(void *arg, dyn_slice batch, char *err, size_t errlen);
static int	wb_refused(dyn_engine *e, int rc);
static int	wb_get(dyn_engine *e, dyn_slice key, dyn_buf *out);
static int	wb_write(dyn_engine *e, dyn_wb_op op, dyn_slice key, const dyn_slice *value);
static int	wb_update(dyn_engine *e, dyn_slice key, dyn_engine_update_fn fn, void *arg,
					  bool *existed);
static int	wb_drain(dyn_engine *e);

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
		const dyn_engine_ops *ops = engine_table[i];
		dyn_engine_config ecfg = *cfg;
		size_t		cache_mb = cfg->cache_mb != 0 ? cfg->cache_mb : ops->default_cache_mb;
		size_t		buffer_mb = cfg->buffer_mb;
		size_t		batch_bytes = 0;
		dyn_objbuf *buffer = NULL;
		bool		wb;
		int			rc;

		if (strcmp(cfg->name, ops->name) != 0)
			continue;
		if (buffer_mb == DYN_ENGINE_BUFFER_DEFAULT)
			buffer_mb = ops->buffer_share != 0 ? cache_mb / ops->buffer_share : 0;
		if ((rc = wb_choose(cfg, ops, buffer_mb, &wb, err, errlen)) != DYN_OK)
			return rc;
		if (buffer_mb != 0)
		{
			if (cache_mb == 0)
			{
				snprintf(err, errlen, "the object buffer (%zu MB) comes out of the cache, "
						 "and the %s engine's is unbounded: give it a cache size (--cache-mb)",
						 buffer_mb, ops->name);
				return DYN_ERR_INVAL;
			}
			if (buffer_mb >= cache_mb)
			{
				snprintf(err, errlen, "the object buffer (%zu MB) must be smaller than "
						 "the cache it comes out of (%zu MB)", buffer_mb, cache_mb);
				return DYN_ERR_INVAL;
			}
			if (wb)
			{
				batch_bytes = buffer_mb * 1024 * 1024 / WB_BATCH_SHARE;
				if (batch_bytes > WB_BATCH_MAX)
					batch_bytes = WB_BATCH_MAX;
			}
			if (dyn_objbuf_create(buffer_mb * 1024 * 1024 - 2 * batch_bytes,
								  &buffer) != DYN_OK)
			{
				snprintf(err, errlen, "out of memory for a %zu MB object buffer", buffer_mb);
				return DYN_ERR_NOMEM;
			}
			ecfg.cache_mb = cache_mb - buffer_mb;
		}
		if ((rc = ops->open(&ecfg, out, err, errlen)) != DYN_OK)
		{
			dyn_objbuf_free(buffer);
			return rc;
		}
		(*out)->buffer = buffer;
		if (wb && (rc = wb_open(*out, batch_bytes, err, errlen)) != DYN_OK)
		{
			dyn_engine_close(*out);
			*out = NULL;
			return rc;
		}
		return DYN_OK;
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
	dyn_objbuf *buffer;
	dyn_buf		batch_keys;

	if (e == NULL)
		return;
	/* what the writer holds and what is queued is stored before the close */
	if (e->wb != NULL)
		(void) dyn_wb_stop(e->wb, NULL, 0);	/* a failure was reported as it happened */
	if (e->writer != NULL)
		e->ops->writer_close(e->writer);
	dyn_buf_free(&e->wb_old);
	buffer = e->buffer;
	batch_keys = e->batch_keys;
	e->ops->close(e);
	dyn_objbuf_free(buffer);
	dyn_buf_free(&batch_keys);
}

/*
 * Whether to write behind: what cfg asks for, where it is possible.  Asked
 * for (ON) where it is not, it is a configuration mistake, and the message
 * says what would make it possible.
 */
static int
wb_choose(const dyn_engine_config *cfg, const dyn_engine_ops *ops, size_t buffer_mb,
		  bool *on, char *err, size_t errlen)
{
	const char *why = NULL;

	*on = false;
	if (cfg->write_behind == DYN_WRITE_BEHIND_OFF)
		return DYN_OK;
	if (cfg->write_behind != DYN_WRITE_BEHIND_ON && cfg->write_behind != DYN_WRITE_BEHIND_AUTO)
	{
		snprintf(err, errlen, "invalid write-behind setting %d", (int) cfg->write_behind);
		return DYN_ERR_INVAL;
	}
	if (ops->writer_open == NULL)
		why = "the engine has no writer thread";
	else if (cfg->durability != DYN_DURABILITY_NONE)
		why = "it needs durability none (with flush or fsync a write's reply waits for "
			"its log record, which a writer thread would only delay)";
	else if (buffer_mb == 0)
		why = "it needs the object buffer, which holds the writes not yet stored";
	if (why == NULL)
		*on = true;
	else if (cfg->write_behind == DYN_WRITE_BEHIND_ON)
	{
		snprintf(err, errlen, "write-behind is not possible with the %s engine here: %s",
				 ops->name, why);
		return DYN_ERR_INVAL;
	}
	return DYN_OK;
}

/* Open the engine's writer session and start the writer thread. */
static int
wb_open(dyn_engine *e, size_t batch_bytes, char *err, size_t errlen)
{
	dyn_wb_config wcfg = {batch_bytes, wb_apply, e};
	int			rc;

	if ((rc = e->ops->writer_open(e, &e->writer, err, errlen)) != DYN_OK)
		return rc;
	if ((rc = dyn_wb_start(&wcfg, &e->wb)) != DYN_OK)
		snprintf(err, errlen, "cannot start the write-behind thread");
	return rc;
}

/* The writer thread's call: the engine's writer stores one batch. */
static int
wb_apply(void *arg, dyn_slice batch, char *err, size_t errlen)
{
	dyn_engine *e = arg;

	return e->ops->writer_apply(e->writer, batch, err, errlen);
}

/* A write the queue refused: say why in e's message and return rc. */
static int
wb_refused(dyn_engine *e, int rc)
{
	char		why[200];

	if (rc == DYN_ERR_NOMEM)
		snprintf(e->errmsg, sizeof(e->errmsg), "out of memory queueing a write");
	else if (rc == DYN_ERR_TOOBIG)
		snprintf(e->errmsg, sizeof(e->errmsg), "a key or value over 4 GiB cannot be queued");
	else if (rc != DYN_ERR_ENGINE)
		snprintf(e->errmsg, sizeof(e->errmsg), "write-behind refused a write (%d)", rc);
	else
	{
		if (!dyn_wb_failure(e->wb, why, sizeof(why)))
			snprintf(why, sizeof(why), "unknown");
		snprintf(e->errmsg, sizeof(e->errmsg),
				 "writes are refused: the write-behind writer failed: %s", why);
	}
	return rc;
}

/* wb mode's dyn_engine_get of an object: the buffer's answer, else the engine's. */
static int
wb_get(dyn_engine *e, dyn_slice key, dyn_buf *out)
{
	dyn_slice	held;
	size_t		start = out->len;
	int			rc;

	switch (dyn_objbuf_get(e->buffer, key, &held))
	{
		case DYN_OBJBUF_HIT:
			dyn_buf_append(out, held.ptr, held.len);
			if (out->err != 0)
				snprintf(e->errmsg, sizeof(e->errmsg),
						 "get: out of memory for a %zu-byte value", held.len);
			return out->err;
		case DYN_OBJBUF_ABSENT:
			return DYN_ERR_NOTFOUND;
		case DYN_OBJBUF_MISS:
			break;
	}
	rc = e->ops->get(e, DYN_NS_OBJECT, key, out);
	if (rc == DYN_OK && out->err == 0)
		dyn_objbuf_put(e->buffer, key, (dyn_slice) {out->data + start, out->len - start});
	return rc;
}

/*
 * Queue a put (value) or a delete (NULL) of an object and hold it in the
 * buffer.  A write the buffer cannot hold is waited for instead: once the
 * writer has stored it the engine answers for the key.
 */
static int
wb_write(dyn_engine *e, dyn_wb_op op, dyn_slice key, const dyn_slice *value)
{
	uint64_t	seq;
	int			rc;

	rc = dyn_wb_queue(e->wb, op, DYN_NS_OBJECT, key,
					  value != NULL ? *value : (dyn_slice) {NULL, 0}, &seq);
	if (rc != DYN_OK)
		return wb_refused(e, rc);
	dyn_objbuf_settle(e->buffer, dyn_wb_written(e->wb));
	if (dyn_objbuf_hold(e->buffer, key, value, seq) != DYN_OK)
	{
		if ((rc = wb_drain(e)) != DYN_OK)
			return rc;
		dyn_objbuf_forget(e->buffer, key);
	}
	e->writes++;
	return DYN_OK;
}

/*
 * wb mode's read-modify-write: the old value as a read would find it,
 * then the new one queued like a put.  fn's view of a buffered old value
 * points into the buffer, which wb_write copies before it changes.
 */
static int
wb_update(dyn_engine *e, dyn_slice key, dyn_engine_update_fn fn, void *arg, bool *existed)
{
	dyn_slice	held;
	dyn_slice	value;
	const dyn_slice *old = NULL;
	int			rc;

	switch (dyn_objbuf_get(e->buffer, key, &held))
	{
		case DYN_OBJBUF_HIT:
			old = &held;
			break;
		case DYN_OBJBUF_ABSENT:
			break;
		case DYN_OBJBUF_MISS:
			dyn_buf_reset(&e->wb_old);
			rc = e->ops->get(e, DYN_NS_OBJECT, key, &e->wb_old);
			if (rc == DYN_OK)
			{
				held = dyn_buf_slice(&e->wb_old);
				old = &held;
			}
			else if (rc != DYN_ERR_NOTFOUND)
				return rc;
			break;
	}
	*existed = old != NULL;
	if ((rc = fn(arg, old, &value)) != DYN_OK)
		return rc;
	return wb_write(e, DYN_WB_PUT, key, &value);
}

/* Wait for the writer to store everything queued (before a scan or count). */
static int
wb_drain(dyn_engine *e)
{
	int			rc = dyn_wb_drain(e->wb);

	if (rc != DYN_OK)
		return wb_refused(e, rc);
	dyn_objbuf_settle(e->buffer, dyn_wb_written(e->wb));
	return DYN_OK;
}

/* ns's object buffer, or NULL (only DYN_NS_OBJECT has one, when it is on). */
static dyn_objbuf *
buffer_of(dyn_engine *e, dyn_ns ns)
{
	return ns == DYN_NS_OBJECT ? e->buffer : NULL;
}

/*
 * Buffer key's value; inside a batch also record the key, so that
 * buffer_end_batch can drop the copy if the batch does not commit.  A key
 * that cannot be recorded is not buffered.
 */
static void
buffer_keep(dyn_engine *e, dyn_objbuf *buffer, dyn_slice key, dyn_slice value)
{
	if (e->in_batch)
	{
		dyn_buf_put_blob32(&e->batch_keys, key);
		if (e->batch_keys.err != 0)
		{
			dyn_objbuf_forget(buffer, key);
			return;
		}
	}
	dyn_objbuf_put(buffer, key, value);
}

/*
 * A put or update of key ended with rc: buffer what it stored, or drop the
 * copy.  A refused update (its fn's own code) stored nothing and leaves the
 * copy as true as it was, but the buffer does not tell refusals from
 * failures that may have changed something.
 */
static void
buffer_written(dyn_engine *e, dyn_objbuf *buffer, dyn_slice key, int rc, dyn_slice value)
{
	if (rc == DYN_OK)
		buffer_keep(e, buffer, key, value);
	else
		dyn_objbuf_forget(buffer, key);
}

/* An operation inside a batch failed in the engine (not a callback's refusal). */
static void
batch_note_failure(dyn_engine *e, int rc)
{
	if (e->in_batch && rc != DYN_OK && rc != DYN_ERR_NOTFOUND)
		e->batch_failed = true;
}

/* A batch ended: keep its copies if it committed, else drop every one. */
static void
buffer_end_batch(dyn_engine *e, bool committed)
{
	dyn_reader	r;

	if (!committed && e->batch_keys.err != 0)
		dyn_objbuf_clear(e->buffer);	/* a record may be cut short */
	else if (!committed)
	{
		dyn_reader_init(&r, dyn_buf_slice(&e->batch_keys));
		while (dyn_rd_left(&r) > 0 && r.err == 0)
			dyn_objbuf_forget(e->buffer, dyn_rd_blob32(&r));
	}
	dyn_buf_reset(&e->batch_keys);
}

static int
buffered_update_fn(void *arg, const dyn_slice *old, dyn_slice *value)
{
	buffered_update *u = arg;
	int			rc = u->fn(u->arg, old, value);

	u->fn_rc = rc;
	if (rc == DYN_OK)
		u->value = *value;
	return rc;
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
	dyn_objbuf *buffer = buffer_of(e, ns);
	dyn_slice	held;
	size_t		start = out->len;
	int			rc;

	if (bad_key(e, ns, key))
		return DYN_ERR_INVAL;
	if (buffer != NULL && e->wb != NULL)
		return wb_get(e, key, out);
	if (buffer != NULL && e->batch_failed)
		buffer = NULL;			/* the engine's answer, refusal included */
	if (buffer != NULL && dyn_objbuf_get(buffer, key, &held))
	{
		dyn_buf_append(out, held.ptr, held.len);
		if (out->err != 0)
			snprintf(e->errmsg, sizeof(e->errmsg),
					 "get: out of memory for a %zu-byte value", held.len);
		return out->err;
	}
	rc = e->ops->get(e, ns, key, out);
	if (buffer != NULL)
		batch_note_failure(e, rc);
	if (rc == DYN_OK && buffer != NULL && out->err == 0)
		buffer_keep(e, buffer, key, (dyn_slice) {out->data + start, out->len - start});
	return rc;
}

/* Store value under key in ns, replacing any value there. */
int
dyn_engine_put(dyn_engine *e, dyn_ns ns, dyn_slice key, dyn_slice value)
{
	dyn_objbuf *buffer = buffer_of(e, ns);
	int			rc;

	if (bad_key(e, ns, key))
		return DYN_ERR_INVAL;
	if (buffer != NULL && e->wb != NULL)
		return wb_write(e, DYN_WB_PUT, key, &value);
	if ((rc = e->ops->put(e, ns, key, value)) == DYN_OK)
		e->writes++;
	if (buffer != NULL)
	{
		batch_note_failure(e, rc);
		buffer_written(e, buffer, key, rc, value);
	}
	return rc;
}

/* Remove key from ns; removing an absent key succeeds. */
int
dyn_engine_delete(dyn_engine *e, dyn_ns ns, dyn_slice key)
{
	dyn_objbuf *buffer = buffer_of(e, ns);
	int			rc;

	if (bad_key(e, ns, key))
		return DYN_ERR_INVAL;
	if (buffer != NULL && e->wb != NULL)
		return wb_write(e, DYN_WB_DELETE, key, NULL);
	if (buffer != NULL)
		dyn_objbuf_forget(buffer, key);
	if ((rc = e->ops->del(e, ns, key)) == DYN_OK)
		e->writes++;
	if (buffer != NULL)
		batch_note_failure(e, rc);
	return rc;
}

/* Read-modify-write key in ns through fn (see engine.h). */
int
dyn_engine_update(dyn_engine *e, dyn_ns ns, dyn_slice key,
				  dyn_engine_update_fn fn, void *arg, bool *existed)
{
	dyn_objbuf *buffer = buffer_of(e, ns);
	buffered_update u = {fn, arg, {NULL, 0}, DYN_OK};
	bool		dummy;
	int			rc;

	if (bad_key(e, ns, key))
		return DYN_ERR_INVAL;
	if (buffer != NULL && e->wb != NULL)
		return wb_update(e, key, fn, arg, existed != NULL ? existed : &dummy);
	if (buffer == NULL)
		rc = e->ops->update(e, ns, key, fn, arg, existed != NULL ? existed : &dummy);
	else
		rc = e->ops->update(e, ns, key, buffered_update_fn, &u,
							existed != NULL ? existed : &dummy);
	if (rc == DYN_OK)
		e->writes++;
	if (buffer != NULL)
	{
		batch_note_failure(e, rc == u.fn_rc ? DYN_OK : rc);
		buffer_written(e, buffer, key, rc, u.value);
	}
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
	if (e->wb != NULL && ns == DYN_NS_OBJECT && wb_drain(e) != DYN_OK)
		return DYN_ERR_ENGINE;
	return e->ops->scan(e, ns, start, end, fn, arg);
}

/* Store the number of records in ns in *count. */
int
dyn_engine_count(dyn_engine *e, dyn_ns ns, uint64_t *count)
{
	if (bad_ns(e, ns))
		return DYN_ERR_INVAL;
	if (e->wb != NULL && ns == DYN_NS_OBJECT && wb_drain(e) != DYN_OK)
		return DYN_ERR_ENGINE;
	return e->ops->count(e, ns, count);
}

/* Open a write batch; DYN_ERR_INVAL if one is already open. */
int
dyn_engine_begin(dyn_engine *e)
{
	int			rc;

	if (e->wb != NULL)
	{
		/* only the mark: see engine.h */
		if (e->in_batch)
		{
			snprintf(e->errmsg, sizeof(e->errmsg),
					 "begin: a batch is already open (batches do not nest)");
			return DYN_ERR_INVAL;
		}
		e->in_batch = true;
		return DYN_OK;
	}
	rc = e->ops->begin(e);

	if (rc == DYN_OK)
		e->in_batch = true;
	return rc;
}

/*
 * Make the open batch durable; DYN_ERR_INVAL if none is open.  On any
 * other failure the engine rolled the batch back, and so does the buffer.
 */
int
dyn_engine_commit(dyn_engine *e)
{
	int			rc;

	if (e->wb != NULL)
	{
		if (!e->in_batch)
		{
			snprintf(e->errmsg, sizeof(e->errmsg), "commit: no batch is open");
			return DYN_ERR_INVAL;
		}
		e->in_batch = false;
		return DYN_OK;
	}
	rc = e->ops->commit(e);

	if (rc == DYN_ERR_INVAL && !e->in_batch)
		return rc;
	e->in_batch = false;
	e->batch_failed = false;
	if (e->buffer != NULL)
		buffer_end_batch(e, rc == DYN_OK);
	return rc;
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
	int			rc;

	memset(out, 0, sizeof(*out));
	if (e->ops->memory == NULL)
	{
		snprintf(e->errmsg, sizeof(e->errmsg), "engine %s reports no memory", e->ops->name);
		return DYN_ERR_ENGINE;
	}
	if ((rc = e->ops->memory(e, out)) != DYN_OK)
		return rc;
	if (e->buffer != NULL)
	{
		dyn_objbuf_stats bs;

		dyn_objbuf_stats_get(e->buffer, &bs);
		out->buffer_bytes = bs.bytes;
		out->buffer_max = bs.max_bytes;
		out->buffer_entries = bs.entries;
		out->buffer_hits = bs.hits;
		out->buffer_misses = bs.misses;
		out->buffer_evictions = bs.evictions;
	}
	if (e->wb != NULL)
	{
		dyn_wb_stats ws;

		/* the queue's two batches are the buffer's share too */
		dyn_wb_stats_get(e->wb, &ws);
		out->buffer_max += 2 * ws.batch_bytes;
		out->buffer_bytes += ws.queue_bytes;
	}
	return DYN_OK;
}

bool
dyn_engine_write_behind_on(const dyn_engine *e)
{
	return e->wb != NULL;
}

bool
dyn_engine_tick(dyn_engine *e, uint64_t *due_us)
{
	bool		waiting;

	if (e->wb == NULL)
		return false;
	waiting = dyn_wb_tick(e->wb, due_us);
	dyn_objbuf_settle(e->buffer, dyn_wb_written(e->wb));
	return waiting;
}

bool
dyn_engine_failure(dyn_engine *e, char *msg, size_t len)
{
	return e->wb != NULL && dyn_wb_failure(e->wb, msg, len);
}

bool
dyn_engine_writer_stats(dyn_engine *e, dyn_wb_stats *out)
{
	if (e->wb == NULL)
		return false;
	dyn_wb_stats_get(e->wb, out);
	return true;
}
