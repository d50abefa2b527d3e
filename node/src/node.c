/*
 * node.c
 *		The life of a dynamod: open the engine and store, listen, stop on
 *		SIGTERM, and report its state (STATUS).
 */
#include "node.h"
#include "writebehind.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coordinator.h"
#include "dispatch.h"

static void node_on_connection(uv_stream_t *server, int status);
static void node_on_signal(uv_signal_t *h, int signum);
static void node_on_sighup(uv_signal_t *h, int signum);
static void node_log_trust(dyn_node *node);
static void node_reload_key(dyn_node *node);
static void node_latency_json(dyn_buf *out, const char *name, const dyn_latency *l);
static void node_memory_json(const dyn_node *node, dyn_buf *out);
static uint64_t node_rss_bytes(void);
static size_t node_heap_free(void);
static int	node_start_cluster(dyn_node *node);
static int	node_start_background(dyn_node *node);
static dyn_client *node_new_peer_client(void *arg);
static void node_on_member_up(void *arg, dyn_member *m);
static int	node_start_actors(dyn_node *node);

static const char *const durability_names[] = {"none", "flush", "fsync"};

static void node_on_engine_tick(uv_prepare_t *h);
static void node_on_engine_due(uv_timer_t *h);

/*
 * Open storage and start listening.  Every failure is logged with what to
 * do about it; the caller exits non-zero.
 */
int
dyn_node_start(dyn_node *node, uv_loop_t *loop)
{
	dyn_engine_config ecfg;
	struct sockaddr_storage addr;
	char		err[512];
	int			rc;

	node->loop = loop;
	node->log.node_id = node->cfg.id;
	node->started_ms = dyn_clock_mono_ms();
	dyn_buf_init(&node->scratch);

	if (mkdir(node->cfg.data_dir, 0700) != 0 && errno != EEXIST)
	{
		dyn_log(&node->log, DYN_LOG_ERROR, "could not create data directory \"%s\": %s",
				node->cfg.data_dir, strerror(errno));
		return DYN_ERR_IO;
	}
	ecfg.name = node->cfg.engine;
	ecfg.dir = node->cfg.data_dir;
	ecfg.cache_mb = node->cfg.cache_mb;
	ecfg.buffer_mb = node->cfg.buffer_mb;
	ecfg.durability = node->cfg.durability;
	ecfg.group_commit = true;
	ecfg.write_behind = node->cfg.write_behind;
	if ((rc = dyn_engine_open(&ecfg, &node->engine, err, sizeof(err))) != DYN_OK)
	{
		dyn_log(&node->log, DYN_LOG_ERROR, "could not open the %s engine in \"%s\": %s",
				node->cfg.engine, node->cfg.data_dir, err);
		return rc;
	}
	{
		dyn_buf		probe;

		dyn_buf_init(&probe);
		node->fresh_store = dyn_engine_get(node->engine, DYN_NS_META,
										   dyn_slice_str("node_id"), &probe) ==
			DYN_ERR_NOTFOUND;
		dyn_buf_free(&probe);
	}
	if ((rc = dyn_store_open(&node->store, node->engine, node->cfg.id,
							 node->cfg.partitions, err, sizeof(err))) != DYN_OK)
	{
		dyn_log(&node->log, DYN_LOG_ERROR, "could not open the store in \"%s\": %s",
				node->cfg.data_dir, err);
		return rc;
	}
	if ((rc = node_start_actors(node)) != DYN_OK)
		return rc;
	if (dyn_engine_write_behind_on(node->engine))
	{
		uv_prepare_init(loop, &node->engine_tick);
		node->engine_tick.data = node;
		uv_prepare_start(&node->engine_tick, node_on_engine_tick);
		uv_timer_init(loop, &node->engine_due);
		node->engine_due.data = node;
		node->ticking = true;
	}

	if ((rc = node->transport->start(node)) != DYN_OK)
	{
		dyn_log(&node->log, DYN_LOG_ERROR, "out of memory for the transport "
				"(its connection lists and handshake rate limits)");
		return rc;
	}
	dyn_group_start(&node->group, node);
	if ((rc = node_start_cluster(node)) != DYN_OK)
		return rc;

	if (uv_ip4_addr(node->cfg.listen_host, node->cfg.listen_port,
					(struct sockaddr_in *) &addr) != 0 &&
		uv_ip6_addr(node->cfg.listen_host, node->cfg.listen_port,
					(struct sockaddr_in6 *) &addr) != 0)
	{
		dyn_log(&node->log, DYN_LOG_ERROR,
				"invalid listen address \"%s\": a numeric IPv4 or IPv6 address is required",
				node->cfg.listen_host);
		return DYN_ERR_INVAL;
	}
	uv_tcp_init(loop, &node->listener);
	node->listener.data = node;
	node->listening = true;
	if ((rc = uv_tcp_bind(&node->listener, (struct sockaddr *) &addr, 0)) != 0 ||
		(rc = uv_listen((uv_stream_t *) &node->listener, 511, node_on_connection)) != 0)
	{
		dyn_log(&node->log, DYN_LOG_ERROR, "could not listen on %s:%d: %s",
				node->cfg.listen_host, node->cfg.listen_port, uv_strerror(rc));
		return DYN_ERR_IO;
	}

	node->signals = true;
	uv_signal_init(loop, &node->sigterm);
	uv_signal_init(loop, &node->sigint);
	node->sigterm.data = node;
	node->sigint.data = node;
	uv_signal_start(&node->sigterm, node_on_signal, SIGTERM);
	uv_signal_start(&node->sigint, node_on_signal, SIGINT);
	uv_signal_init(loop, &node->sighup);
	node->sighup.data = node;
	uv_signal_start(&node->sighup, node_on_sighup, SIGHUP);
	signal(SIGPIPE, SIG_IGN);

	if (node->secure)
		node_log_trust(node);
	else
		dyn_log(&node->log, DYN_LOG_WARNING,
				"--insecure: connections are neither authenticated nor encrypted; "
				"anyone who can reach %s:%d can read and write everything",
				node->cfg.listen_host, node->cfg.listen_port);
	dyn_log(&node->log, DYN_LOG_INFO,
			"listening on %s:%d (engine %s, durability %s%s, %u partitions, n=%d, %llu keys)",
			node->cfg.listen_host, node->cfg.listen_port, dyn_engine_name(node->engine),
			durability_names[node->cfg.durability],
			node->ticking ? ", write-behind" : "", node->cfg.partitions, node->cfg.n,
			(unsigned long long) node->store.keys);
	return DYN_OK;
}

/* A client is waiting on the listener. */
static void
node_on_connection(uv_stream_t *server, int status)
{
	dyn_node   *node = server->data;

	if (status < 0)
	{
		dyn_log(&node->log, DYN_LOG_WARNING, "accept failed: %s", uv_strerror(status));
		return;
	}
	node->transport->accept(node);
}

/*
 * Before the loop polls: hand the queued writes to the writer when the
 * engine says it is time, and if some are left waiting make sure the
 * poll ends by when they are due (a one-shot timer whose only work is
 * that wake-up).  A writer that failed has left acknowledged writes
 * unstored and refuses every later one, so the node says why and stops
 * rather than serve on.
 */
static void
node_on_engine_tick(uv_prepare_t *h)
{
	dyn_node   *node = h->data;
	char		why[256];
	uint64_t	due_us = 0;

	if (dyn_engine_tick(node->engine, &due_us) && !node->stopping &&
		!uv_is_active((uv_handle_t *) &node->engine_due))
		uv_timer_start(&node->engine_due, node_on_engine_due, (due_us + 999) / 1000, 0);
	if (!node->failed && dyn_engine_failure(node->engine, why, sizeof(why)))
	{
		dyn_log(&node->log, DYN_LOG_ERROR,
				"the write-behind writer failed, so writes acknowledged since the "
				"last batch it stored are not in the engine: %s; stopping", why);
		node->failed = true;
		dyn_node_stop(node);
	}
}

/* Writes waiting for the writer are due: the prepare handle after this hands them over. */
static void
node_on_engine_due(uv_timer_t *h)
{
	(void) h;
}

/* SIGTERM or SIGINT: stop cleanly. */
static void
node_on_signal(uv_signal_t *h, int signum)
{
	dyn_node   *node = h->data;

	dyn_log(&node->log, DYN_LOG_INFO, "received %s, shutting down",
			signum == SIGTERM ? "SIGTERM" : "SIGINT");
	dyn_node_stop(node);
}

/* SIGHUP: reload the trust file and the key. */
static void
node_on_sighup(uv_signal_t *h, int signum)
{
	(void) signum;
	dyn_node_reload(h->data);
}

/*
 * Read the key file, then the trust file, again.  Either that does not load
 * is logged (with its line) and the one in force is kept: a typo in a trust
 * file must not lock every client out, nor a half-written key file take the
 * node's identity.  Channels borrow node->identity and node->trust, so the
 * new ones are swapped into place: handshakes from now on use them, and
 * established sessions keep their session keys.
 */
void
dyn_node_reload(dyn_node *node)
{
	dyn_trust	fresh;
	char		err[1024];

	if (!node->secure)
	{
		dyn_log(&node->log, DYN_LOG_INFO,
				"received SIGHUP: an --insecure node has no key or trust file to reload");
		return;
	}
	node_reload_key(node);
	dyn_trust_init(&fresh);
	if (dyn_trust_load(&fresh, node->cfg.trust_file, err, sizeof(err)) != DYN_OK)
	{
		node->stats.trust_reload_failures++;
		dyn_log(&node->log, DYN_LOG_ERROR,
				"received SIGHUP: could not reload the trust file: %s; the %zu keys "
				"trusted before stay in force", err, node->trust.n);
		return;
	}
	dyn_trust_free(&node->trust);
	node->trust = fresh;
	node->stats.trust_reloads++;
	dyn_log(&node->log, DYN_LOG_INFO, "received SIGHUP: reloaded the trust file %s",
			node->cfg.trust_file);
	node_log_trust(node);
	node->transport->retrust(node);
}

/* The key file again: a new key replaces ours when it loads. */
static void
node_reload_key(dyn_node *node)
{
	dyn_identity id;
	char		err[1024];

	if (dyn_identity_load(&id, node->cfg.key_file, err, sizeof(err)) != DYN_OK)
	{
		node->stats.trust_reload_failures++;
		dyn_log(&node->log, DYN_LOG_ERROR,
				"received SIGHUP: could not reload the key: %s; the node keeps key %s",
				err, node->key_text);
		return;
	}
	if (memcmp(id.pk, node->identity.pk, sizeof(id.pk)) != 0)
	{
		char		old[DYN_KEY_TEXT_LEN + 1];

		memcpy(old, node->key_text, sizeof(old));
		node->identity = id;
		dyn_key_to_text(node->identity.pk, node->key_text);
		dyn_log(&node->log, DYN_LOG_INFO,
				"received SIGHUP: the node key is now %s (was %s); connections from now "
				"on use it", node->key_text, old);
	}
	dyn_identity_clear(&id);
}

/* What the node trusts, and whether the other nodes can trust it. */
static void
node_log_trust(dyn_node *node)
{
	const dyn_trust_entry *self = dyn_trust_find(&node->trust, node->identity.pk);

	dyn_log(&node->log, DYN_LOG_INFO,
			"connections are authenticated and encrypted: node key %s, %zu trusted "
			"keys in %s%s", node->key_text, node->trust.n, node->cfg.trust_file,
			self != NULL && self->role == DYN_ROLE_NODE ? "" :
			" (this node's own key is not listed as a node there: other nodes "
			"will refuse it)");
	if (node->trust.n == 0)
		dyn_log(&node->log, DYN_LOG_WARNING,
				"the trust file %s lists no keys: every connection will be refused",
				node->cfg.trust_file);
}

/* Close the listener, the signal handles and every connection (those of
 * them that a failed start got to open). */
void
dyn_node_stop(dyn_node *node)
{
	if (node->stopping)
		return;
	node->stopping = true;
	if (node->listening)
		uv_close((uv_handle_t *) &node->listener, NULL);
	if (node->signals)
	{
		uv_close((uv_handle_t *) &node->sigterm, NULL);
		uv_close((uv_handle_t *) &node->sigint, NULL);
		uv_close((uv_handle_t *) &node->sighup, NULL);
	}
	node->transport->close_all(node);
	if (node->ae_on)
		dyn_ae_stop(node);
	if (node->handoff_on)
		dyn_handoff_stop(node);
	if (node->hints_on)
		dyn_hints_stop(&node->hints);
	if (node->members_on)
		dyn_membership_stop(&node->members);
	node->transport->stop(node);
	dyn_group_stop(&node->group);
	if (node->ticking)
	{
		uv_close((uv_handle_t *) &node->engine_tick, NULL);
		uv_close((uv_handle_t *) &node->engine_due, NULL);
	}
}

/*
 * Membership (the stored ring, or a new cluster of one, or joining through
 * the seeds) and the hints this node keeps.
 */
static int
node_start_cluster(dyn_node *node)
{
	dyn_membership_config mc = {0};
	char		address[300];
	char		err[512];
	int			rc;

	if ((rc = dyn_coord_init(node)) != DYN_OK)
	{
		dyn_log(&node->log, DYN_LOG_ERROR, "could not start the coordinator: out of memory");
		return rc;
	}
	snprintf(address, sizeof(address), "%s:%d", node->cfg.listen_host,
			 node->cfg.listen_port);
	mc.loop = node->loop;
	mc.log = &node->log;
	mc.engine = node->engine;
	mc.id = node->cfg.id;
	mc.address = address;
	mc.zone = node->cfg.zone;
	mc.seeds = node->cfg.seeds;
	mc.q = node->cfg.partitions;
	mc.n = (uint32_t) node->cfg.n;
	mc.new_client = node_new_peer_client;
	mc.new_client_arg = node;
	mc.on_up = node_on_member_up;
	mc.on_up_arg = node;
	rc = dyn_membership_start(&node->members, &mc, err, sizeof(err));
	node->members_on = true;
	if (rc != DYN_OK)
	{
		dyn_log(&node->log, DYN_LOG_ERROR, "could not start membership: %s", err);
		return rc;
	}
	if ((rc = dyn_hints_open(&node->hints, node->loop, &node->store, &node->members,
							 &node->log)) != DYN_OK)
	{
		dyn_log(&node->log, DYN_LOG_ERROR, "could not read the stored hints: %s",
				dyn_engine_errmsg(node->engine));
		return rc;
	}
	node->hints_on = true;
	node->hints.actors = &node->actors;
	return node_start_background(node);
}

/*
 * Anti-entropy and partition handoff, paced by one throttle: the empty
 * root tells a partition this node holds nothing of.
 */
static int
node_start_background(dyn_node *node)
{
	dyn_merkle	empty;
	int			rc;

	if ((rc = dyn_merkle_init(&empty, dyn_store_tree(&node->store, 0)->depth)) != DYN_OK)
		return rc;
	dyn_merkle_root(&empty, node->empty_root);
	dyn_merkle_free(&empty);
	dyn_throttle_init(&node->throttle, node->cfg.transfer_rate_mb * 1024 * 1024,
					  uv_now(node->loop));
	node->ae.interval_ms = node->cfg.repair_interval_s * 1000;
	node->ae.grace_ms = node->cfg.tombstone_grace_s * 1000;
	dyn_ae_start(node);
	node->ae_on = true;
	if ((rc = dyn_handoff_start(node)) != DYN_OK)
	{
		dyn_log(&node->log, DYN_LOG_ERROR, "could not start partition handoff: out of memory");
		return rc;
	}
	node->handoff_on = true;
	return DYN_OK;
}

/*
 * A client for a node-to-node connection: with --key/--trust it runs the
 * secure channel as this node (the other node accepts it for role node);
 * with --insecure it is plaintext.
 */
static dyn_client *
node_new_peer_client(void *arg)
{
	dyn_node   *node = arg;
	dyn_client *c = dyn_client_new();

	if (c != NULL && node->secure &&
		dyn_client_set_identity(c, &node->identity, &node->trust) != DYN_OK)
	{
		dyn_client_free(c);
		return NULL;
	}
	return c;
}

/* A member is back: hand it the hints kept for it. */
static void
node_on_member_up(void *arg, dyn_member *m)
{
	dyn_node   *node = arg;

	if (node->hints_on)
		dyn_hints_kick(&node->hints, dyn_slice_str(m->id));
}

/* After the loop has run dry: close the store and, cleanly, the engine. */
void
dyn_node_finish(dyn_node *node)
{
	if (node->hints_on)
		dyn_hints_free(&node->hints);
	dyn_handoff_free(node);
	node->handoff_on = node->ae_on = false;
	dyn_ae_free(node);
	if (node->members_on)
		dyn_membership_free(&node->members);
	node->hints_on = node->members_on = false;
	dyn_coord_free(node);
	dyn_store_close(&node->store);
	dyn_actors_free(&node->actors);
	dyn_engine_close(node->engine);
	node->engine = NULL;
	dyn_buf_free(&node->scratch);
	node->transport->free(node);
	dyn_log(&node->log, DYN_LOG_INFO, "stopped");
}

/*
 * The owner actor: the node id, unless this data directory lacks versions
 * it dotted (DYN_META_LOST_DATA, recorded by handoff.c when it found the
 * data lost or dropped a partition): then an incarnation, new at every
 * start (dynamo/actor.h).
 */
static int
node_start_actors(dyn_node *node)
{
	dyn_buf		probe;
	bool		lost;
	int			rc;

	dyn_buf_init(&probe);
	lost = dyn_engine_get(node->engine, DYN_NS_META, dyn_slice_str(DYN_META_LOST_DATA),
						  &probe) == DYN_OK;
	dyn_buf_free(&probe);
	rc = dyn_actors_init(&node->actors, node->cfg.id, node->cfg.partitions, lost);
	if (rc == DYN_ERR_INVAL)
		dyn_log(&node->log, DYN_LOG_ERROR, "--id \"%s\" holds '%c', which names the "
				"incarnations of a node's actors: choose another id",
				node->cfg.id, DYN_ACTOR_SEP);
	else if (rc != DYN_OK)
		dyn_log(&node->log, DYN_LOG_ERROR, "out of memory for the actors of %u partitions",
				node->cfg.partitions);
	else if (lost)
		dyn_log(&node->log, DYN_LOG_INFO, "this data directory lost or dropped data once: "
				"writes coordinated here are dotted as %s", node->actors.owner.id);
	return rc;
}

/*
 * Replicas a key actually has: the ring's N, or fewer while the cluster
 * has fewer nodes.
 */
int
dyn_node_replicas(const dyn_node *node)
{
	return dyn_membership_replicas(&node->members);
}

/* The R and W used when a request asks for the default: a majority of N,
 * capped by the replicas that exist. */
int
dyn_node_default_quorum(const dyn_node *node)
{
	int			majority = dyn_membership_n(&node->members) / 2 + 1;
	int			replicas = dyn_node_replicas(node);

	return majority < replicas ? majority : replicas;
}

/* The STATUS object: identity, configuration, sizes and counters. */
void
dyn_node_status_json(const dyn_node *node, dyn_buf *out)
{
	const dyn_node_stats *s = &node->stats;
	dyn_input_status in;

	dyn_buf_put_u8(out, '{');
	dyn_buf_printf(out, "\"id\":");
	dyn_buf_put_json_string(out, dyn_slice_str(node->cfg.id));
	dyn_buf_printf(out, ",\"address\":\"%s:%d\"", node->cfg.listen_host, node->cfg.listen_port);
	dyn_buf_printf(out, ",\"zone\":");
	dyn_buf_put_json_string(out, dyn_slice_str(node->cfg.zone));
	dyn_buf_printf(out, ",\"status\":\"up\",\"engine\":\"%s\",\"durability\":\"%s\"",
				   dyn_engine_name(node->engine), durability_names[node->cfg.durability]);
	dyn_group_status_json(&node->group, out);
	node_memory_json(node, out);
	dyn_buf_printf(out, ",\"partitions\":%u,\"partitions_owned\":%u,\"n\":%d,"
				   "\"default_r\":%d,\"default_w\":%d",
				   node->cfg.partitions, dyn_membership_owned(&node->members),
				   dyn_membership_n(&node->members),
				   dyn_node_default_quorum(node), dyn_node_default_quorum(node));
	dyn_buf_put_u8(out, ',');
	dyn_membership_status_json(&node->members, out);
	dyn_buf_put_u8(out, ',');
	dyn_hints_status_json(&node->hints, out);
	dyn_buf_printf(out, ",\"cluster\":{\"coordinated_gets\":%llu,\"coordinated_puts\":%llu,"
				   "\"forwarded\":%llu,\"quorum_failures\":%llu,\"read_repairs\":%llu,"
				   "\"hinted\":%llu,\"replica_gets\":%llu,\"replica_puts\":%llu,"
				   "\"inflight\":%llu,\"gossip_sent\":%llu,\"gossip_received\":%llu,"
				   "\"ring_changes\":%llu}",
				   (unsigned long long) node->cluster.coord_gets,
				   (unsigned long long) node->cluster.coord_puts,
				   (unsigned long long) node->cluster.forwarded,
				   (unsigned long long) node->cluster.quorum_failures,
				   (unsigned long long) node->cluster.read_repairs,
				   (unsigned long long) node->cluster.hinted,
				   (unsigned long long) node->cluster.replica_gets,
				   (unsigned long long) node->cluster.replica_puts,
				   (unsigned long long) node->cluster.inflight,
				   (unsigned long long) node->members.gossip_sent,
				   (unsigned long long) node->members.gossip_received,
				   (unsigned long long) node->members.ring_changes);
	if (node->ae_on)
	{
		dyn_buf_put_u8(out, ',');
		dyn_ae_status_json(node, out);
		dyn_buf_put_u8(out, ',');
		dyn_handoff_status_json(node, out);
	}
	dyn_buf_append(out, ",\"actors\":{\"owner\":", 19);
	dyn_buf_put_json_string(out, dyn_slice_str(node->actors.owner.id));
	dyn_buf_printf(out, ",\"drawn\":%llu,\"retired\":%llu}",
				   (unsigned long long) node->actors.drawn,
				   (unsigned long long) node->actors.retired);
	dyn_buf_printf(out, ",\"recovering\":%s,\"tombstones\":%llu,\"partition_keys\":[",
				   node->recovering ? "true" : "false",
				   (unsigned long long) node->store.tombstones);
	for (uint32_t p = 0; p < node->store.partitions; p++)
		dyn_buf_printf(out, "%s%llu", p ? "," : "",
					   (unsigned long long) node->store.partition_keys[p]);
	dyn_buf_put_u8(out, ']');
	dyn_buf_printf(out, ",\"keys\":%llu,\"uptime_s\":%llu",
				   (unsigned long long) node->store.keys,
				   (unsigned long long) ((dyn_clock_mono_ms() - node->started_ms) / 1000));
	dyn_buf_printf(out, ",\"security\":\"%s\"", node->secure ? "authenticated" : "insecure");
	if (node->secure)
		dyn_buf_printf(out, ",\"public_key\":\"%s\"", node->key_text);
	dyn_buf_printf(out, ",\"connections\":{\"open\":%u,\"total\":%llu}",
				   s->connections_open, (unsigned long long) s->connections_total);
	dyn_buf_printf(out, ",\"handshakes\":{\"accepted\":%llu,\"refused_address\":%llu,"
				   "\"refused_total\":%llu,\"trusted\":%llu,\"rate\":%llu,"
				   "\"rate_address\":%llu}",
				   (unsigned long long) s->hs_accepted,
				   (unsigned long long) s->hs_refused_address,
				   (unsigned long long) s->hs_refused_total,
				   (unsigned long long) s->hs_trusted,
				   (unsigned long long) node->cfg.handshake_rate,
				   (unsigned long long) node->cfg.handshake_rate_address);
	node->transport->input(node, &in);
	dyn_buf_printf(out, ",\"input\":{\"held\":%zu,\"peak\":%llu,\"limit\":%zu,"
				   "\"paused_now\":%u,\"paused\":%llu,\"shed\":%llu}",
				   in.held, (unsigned long long) s->input_peak, in.limit,
				   in.paused_now, (unsigned long long) s->input_paused,
				   (unsigned long long) s->input_shed);
	dyn_buf_printf(out, ",\"trust\":{\"keys\":%zu,\"reloads\":%llu,"
				   "\"reload_failures\":%llu,\"revoked\":%llu}",
				   node->trust.n, (unsigned long long) s->trust_reloads,
				   (unsigned long long) s->trust_reload_failures,
				   (unsigned long long) s->revoked);
	dyn_buf_printf(out, ",\"requests\":{\"get\":%llu,\"put\":%llu,\"delete\":%llu,"
				   "\"status\":%llu,\"scan\":%llu,\"errors\":%llu,\"bad_frames\":%llu,"
				   "\"unauthorized\":%llu,\"handshake_failures\":%llu}",
				   (unsigned long long) s->gets, (unsigned long long) s->puts,
				   (unsigned long long) s->deletes, (unsigned long long) s->statuses,
				   (unsigned long long) s->scans,
				   (unsigned long long) s->errors, (unsigned long long) s->bad_frames,
				   (unsigned long long) s->unauthorized,
				   (unsigned long long) s->handshake_failures);
	dyn_buf_printf(out, ",\"latency_ms\":{");
	node_latency_json(out, "get", &node->latency[DYN_LATENCY_GET]);
	dyn_buf_put_u8(out, ',');
	node_latency_json(out, "put", &node->latency[DYN_LATENCY_PUT]);
	dyn_buf_put_u8(out, ',');
	node_latency_json(out, "delete", &node->latency[DYN_LATENCY_DELETE]);
	dyn_buf_printf(out, "}}");
}

/*
 * The latency histogram a reply type belongs to: its request's row of the
 * command table (a reply without one is timed as a PUT).
 */
void
dyn_node_record_latency(dyn_node *node, uint8_t reply_type, uint64_t us)
{
	const dyn_command *cmd = dyn_command_of((uint8_t) (reply_type & ~DYN_MSG_REPLY_BIT));

	dyn_latency_record(&node->latency[cmd != NULL && cmd->latency >= 0 ?
									  cmd->latency : DYN_LATENCY_PUT], us * 1000);
}

/* "get":{"p50":0.123,"p99":1.5} (null percentiles before any request). */
static void
node_latency_json(dyn_buf *out, const char *name, const dyn_latency *l)
{
	double		p50 = dyn_latency_quantile_ms(l, 0.50);
	double		p99 = dyn_latency_quantile_ms(l, 0.99);

	if (l->count == 0)
		dyn_buf_printf(out, "\"%s\":{\"count\":0,\"p50\":null,\"p99\":null}", name);
	else
		dyn_buf_printf(out, "\"%s\":{\"count\":%llu,\"p50\":%.3f,\"p99\":%.3f}", name,
					   (unsigned long long) l->count, p50, p99);
}

/*
 * ,"memory":{...}: the resident size and the parts of it that are large
 * enough to explain it -- the engine's cache against its bound, the input
 * buffers, the partition trees, and what the allocator holds free (freed
 * memory it has not returned to the kernel).  The engine's figures are
 * null if it cannot report them; the reason goes to the log.
 */
static void
node_memory_json(const dyn_node *node, dyn_buf *out)
{
	dyn_engine_meminfo em;
	dyn_wb_stats wb;
	size_t		merkle = 0;
	dyn_input_status in;

	node->transport->input(node, &in);
	for (uint32_t p = 0; p < node->store.partitions; p++)
		merkle += ((size_t) 2 * node->store.trees[p].nleaves - 1) * DYN_MERKLE_DIGEST +
			node->store.trees[p].nleaves - 1;
	dyn_buf_printf(out, ",\"memory\":{\"rss\":%llu", (unsigned long long) node_rss_bytes());
	if (dyn_engine_memory_stats(node->engine, &em) == DYN_OK)
		dyn_buf_printf(out, ",\"engine_cache\":%llu,\"engine_cache_dirty\":%llu,"
					   "\"engine_cache_max\":%llu,\"object_buffer\":{\"bytes\":%llu,"
					   "\"max\":%llu,\"entries\":%llu,\"hits\":%llu,\"misses\":%llu,"
					   "\"evictions\":%llu}",
					   (unsigned long long) em.cache_bytes,
					   (unsigned long long) em.cache_dirty,
					   (unsigned long long) em.cache_max,
					   (unsigned long long) em.buffer_bytes,
					   (unsigned long long) em.buffer_max,
					   (unsigned long long) em.buffer_entries,
					   (unsigned long long) em.buffer_hits,
					   (unsigned long long) em.buffer_misses,
					   (unsigned long long) em.buffer_evictions);
	else
	{
		dyn_log(&node->log, DYN_LOG_WARNING, "status: %s", dyn_engine_errmsg(node->engine));
		dyn_buf_printf(out, ",\"engine_cache\":null,\"engine_cache_dirty\":null,"
					   "\"engine_cache_max\":null,\"object_buffer\":null");
	}
	if (dyn_engine_writer_stats(node->engine, &wb))
		dyn_buf_printf(out, ",\"write_behind\":{\"queued\":%llu,\"written\":%llu,"
					   "\"batches\":%llu,\"max_batch\":%llu,\"retries\":%llu,"
					   "\"waits\":%llu,\"wait_us\":%llu,\"queue_bytes\":%llu,"
					   "\"batch_bytes\":%llu,\"failed\":%s}",
					   (unsigned long long) wb.queued, (unsigned long long) wb.written,
					   (unsigned long long) wb.batches, (unsigned long long) wb.max_batch,
					   (unsigned long long) wb.retries, (unsigned long long) wb.waits,
					   (unsigned long long) wb.wait_us, (unsigned long long) wb.queue_bytes,
					   (unsigned long long) wb.batch_bytes, wb.failed ? "true" : "false");
	else
		dyn_buf_printf(out, ",\"write_behind\":null");
	dyn_buf_printf(out, ",\"input_held\":%zu,\"merkle\":%zu,\"heap_free\":%zu}",
				   in.held, merkle, node_heap_free());
}

/*
 * What the allocator holds free: memory it has from the kernel, resident,
 * that no live allocation uses.  dynamod runs on jemalloc (main.c), which
 * says it through mallctl -- resident minus allocated, its own metadata
 * included -- after an "epoch" call refreshes its statistics.  mallctl is
 * looked up rather than linked so that a build on another allocator (a
 * sanitizer's, or glibc's) still reports what glibc's mallinfo2 knows.
 */
static size_t
node_heap_free(void)
{
	typedef int (*mallctl_fn) (const char *, void *, size_t *, void *, size_t);
	static mallctl_fn mallctl;
	static bool looked_up;
	uint64_t	epoch = 1;
	size_t		resident = 0;
	size_t		allocated = 0;
	size_t		len = sizeof(size_t);

	if (!looked_up)
	{
		mallctl = (mallctl_fn) dlsym(RTLD_DEFAULT, "mallctl");
		looked_up = true;
	}
	if (mallctl == NULL)
		return mallinfo2().fordblks;
	if (mallctl("epoch", NULL, NULL, &epoch, sizeof(epoch)) != 0 ||
		mallctl("stats.resident", &resident, &len, NULL, 0) != 0 ||
		mallctl("stats.allocated", &allocated, &len, NULL, 0) != 0)
		return 0;
	return resident > allocated ? resident - allocated : 0;
}

/*
 * The process's resident set in bytes, from /proc/self/statm (its second
 * field, in pages); 0 where that cannot be read.
 */
static uint64_t
node_rss_bytes(void)
{
	FILE	   *f = fopen("/proc/self/statm", "r");
	unsigned long long size,
				resident;
	int			n;

	if (f == NULL)
		return 0;
	n = fscanf(f, "%llu %llu", &size, &resident);
	fclose(f);
	return n == 2 ? resident * (uint64_t) sysconf(_SC_PAGESIZE) : 0;
}
