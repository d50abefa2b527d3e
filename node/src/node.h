/*
 * node.h
 *		A running dynamod: its configuration, its store and its event loop.
 */
#ifndef DYNAMOD_NODE_H
#define DYNAMOD_NODE_H

#include <uv.h>

#include "dynamo/identity.h"
#include "dynamo/merkle.h"
#include "dynamo/wire.h"
#include "antientropy.h"
#include "engine.h"
#include "group.h"
#include "handoff.h"
#include "hints.h"
#include "dynamo/actor.h"
#include "latency.h"
#include "log.h"
#include "membership.h"
#include "store.h"
#include "throttle.h"

/* Everything the command line (or --config file) can set. */
typedef struct dyn_node_config
{
	char		id[DYN_NODE_ID_MAX + 1];
	char		listen_host[256];
	int			listen_port;
	char		data_dir[4096];
	char		seeds[1024];
	char		zone[64];
	char		engine[32];
	uint32_t	partitions;
	int			n;
	bool		insecure;
	char		key_file[4096];	/* --key: this node's identity */
	char		trust_file[4096];	/* --trust: whom it accepts, as what */
	size_t		cache_mb;
	size_t		buffer_mb;		/* --object-buffer-mb; DYN_ENGINE_BUFFER_DEFAULT: the engine's */
	dyn_write_behind write_behind;	/* --write-behind */
	dyn_durability durability;
	uint32_t	max_body;
	uint64_t	repair_interval_s;	/* --repair-interval: 0 only on REPAIR */
	uint64_t	tombstone_grace_s;	/* --tombstone-grace */
	uint64_t	transfer_rate_mb;	/* --transfer-rate: MiB/s of background work */
	uint64_t	handshake_rate;	/* --handshake-rate: per second, all sources (0: none) */
	uint64_t	handshake_rate_address;	/* --handshake-rate-address: per source */
	uint64_t	max_input_mb;	/* --max-input-mb: input buffers of all connections */
} dyn_node_config;

/* Request counters, reported by STATUS. */
typedef struct dyn_node_stats
{
	uint64_t	gets;
	uint64_t	puts;
	uint64_t	deletes;
	uint64_t	statuses;
	uint64_t	scans;
	uint64_t	bad_frames;		/* connections closed for a malformed frame */
	uint64_t	errors;			/* requests answered with an error */
	uint64_t	unauthorized;	/* requests or keys refused by the role table */
	uint64_t	handshake_failures; /* secure handshakes that failed or timed out */
	uint64_t	connections_total;
	uint32_t	connections_open;
	uint64_t	hs_accepted;	/* handshakes let past the rate limits */
	uint64_t	hs_refused_address;	/* closed at accept: --handshake-rate-address */
	uint64_t	hs_refused_total;	/* closed at accept: --handshake-rate */
	uint64_t	hs_trusted;		/* handshakes completed with a trusted key */
	uint64_t	input_shed;		/* connections closed to bound the input buffers */
	uint64_t	input_paused;	/* reads stopped because the input buffers were full */
	uint64_t	input_peak;		/* the most input buffer bytes held at once */
	uint64_t	trust_reloads;	/* SIGHUP reloads that took effect */
	uint64_t	trust_reload_failures;	/* SIGHUP reloads refused (old trust kept) */
	uint64_t	revoked;		/* connections closed because their key was removed */
} dyn_node_stats;

/* What the cluster side of the node did, reported by STATUS. */
typedef struct dyn_cluster_stats
{
	uint64_t	coord_gets;		/* GETs coordinated here */
	uint64_t	coord_puts;		/* writes coordinated here */
	uint64_t	forwarded;		/* writes handed to an owner of their key */
	uint64_t	quorum_failures;
	uint64_t	read_repairs;	/* replicas sent the merged set after a GET */
	uint64_t	hinted;			/* hints this node kept as a coordinator */
	uint64_t	replica_gets;	/* replica reads answered for coordinators */
	uint64_t	replica_puts;	/* replica writes merged for coordinators */
	uint64_t	inflight;		/* requests being coordinated now */
} dyn_cluster_stats;

/*
 * Metadata key recorded in a data directory that lacks versions its node
 * id dotted (it replaced lost data, or dropped a partition): its node
 * dots under a new incarnation at every start (actor.h).
 */
#define DYN_META_LOST_DATA	"lost_data"

/* The input buffers of all connections, bounded by --max-input-mb (conn.c). */
typedef struct dyn_input_status
{
	size_t		held;			/* bytes held now */
	size_t		limit;
	uint32_t	paused_now;		/* connections whose reading waits for room */
} dyn_input_status;

/*
 * What the node asks of its transport (conn.c's dyn_conn_transport, set by
 * main): node.c and group commit call through it, so that nothing but
 * main.c includes conn.h and the include graph runs one way -- the
 * services include request.h, which conn.c implements.
 */
typedef struct dyn_transport
{
	int			(*start) (dyn_node *node);	/* before the first connection: DYN_OK or NOMEM */
	void		(*stop) (dyn_node *node);	/* after every service stopped answering */
	void		(*free) (dyn_node *node);	/* after the loop has ended */
	void		(*input) (const dyn_node *node, dyn_input_status *out);	/* for STATUS */
	void		(*accept) (dyn_node *node);	/* one connection on the listener */
	void		(*close_all) (dyn_node *node);
	void		(*retrust) (dyn_node *node);	/* the trust file was reloaded */
	void		(*on_durable) (dyn_node *node, bool failed);	/* a group sync ended */
} dyn_transport;

/* Services' own state, private to their .c files. */
typedef struct dyn_coordinator dyn_coordinator;
typedef struct dyn_conns dyn_conns;

/* The node process: one per dynamod, owned by main(). */
struct dyn_node
{
	dyn_node_config cfg;
	const dyn_transport *transport;
	dyn_logger	log;
	uv_loop_t  *loop;
	uv_tcp_t	listener;
	uv_signal_t sigterm;
	uv_signal_t sigint;
	uv_signal_t sighup;			/* reload the trust file and the key */
	bool		secure;			/* --key/--trust given: every connection authenticated */
	dyn_identity identity;		/* loaded by main() before start */
	dyn_trust	trust;
	char		key_text[DYN_KEY_TEXT_LEN + 1];	/* our public key, for logs and status */
	dyn_engine *engine;
	dyn_store	store;
	dyn_node_stats stats;
	dyn_membership members;		/* gossip, failure detection, the ring */
	dyn_hints	hints;
	dyn_cluster_stats cluster;
	dyn_latency	latency[DYN_LATENCY_OPS];	/* coordinated GET, PUT, DELETE, as answered */
	bool		members_on;		/* membership started: stop it at shutdown */
	bool		hints_on;
	dyn_coordinator *coord;		/* the coordinator's own state (coordinator.c) */
	dyn_group	group;			/* group commit (--durability flush, fsync) */
	dyn_conns  *conns;			/* the transport's own state (conn.c) */
	/*
	 * A JSON reply body being built: STATUS (dispatch.c), REPAIR's answer
	 * (antientropy.c), REMOVE's answer (handoff.c).  Its lifetime is one
	 * synchronous call: its user resets it, fills it, copies it into the
	 * reply frame and is done with it before returning to the loop; nothing
	 * keeps a pointer into it across a callback, and no user calls another.
	 */
	dyn_buf		scratch;
	uint64_t	started_ms;
	bool		listening;		/* listener handle initialised */
	bool		signals;		/* signal handles initialised */
	bool		stopping;
	/* once per loop turn: the engine's write-behind hand-over (engine.h) */
	uv_prepare_t engine_tick;
	uv_timer_t	engine_due;		/* wakes the loop for writes left waiting */
	bool		ticking;		/* engine_tick and engine_due initialised */
	bool		failed;			/* stopped by a storage failure: exit non-zero */
	/* background work: anti-entropy, partition handoff, and their pace */
	dyn_throttle throttle;
	dyn_ae		ae;
	bool		ae_on;
	dyn_handoff handoff;
	bool		handoff_on;
	uint8_t		empty_root[DYN_MERKLE_DIGEST];	/* the root of an empty partition */
	bool		fresh_store;	/* the data directory was new at this start */
	bool		recovery_checked;	/* fresh_store looked at against the ring */
	bool		recovering;		/* lost its data: repairing, not coordinating writes */
	dyn_actors	actors;			/* who dots the writes this node coordinates */
};

/* Open the engine and store and start listening; logs and returns on failure. */
int			dyn_node_start(dyn_node *node, uv_loop_t *loop);
/* Stop accepting, close every connection; the loop then runs dry. */
void		dyn_node_stop(dyn_node *node);
/*
 * SIGHUP: read the trust file again, and the key file.  A file that does
 * not load leaves the old trust (or key) in force and is logged with its
 * line; a new trust closes the connections of keys it no longer lists.
 */
void		dyn_node_reload(dyn_node *node);

/* Close the store and engine after the loop has ended. */
void		dyn_node_finish(dyn_node *node);

/* The effective replica count and default quorums for this cluster. */
int			dyn_node_replicas(const dyn_node *node);
int			dyn_node_default_quorum(const dyn_node *node);

/* Render the STATUS JSON object into out. */
void		dyn_node_status_json(const dyn_node *node, dyn_buf *out);

/*
 * Count a coordinated request answered after us microseconds, by its reply
 * type (a GET, PUT or DELETE reply, or a forwarded write's reply).
 */
void		dyn_node_record_latency(dyn_node *node, uint8_t reply_type, uint64_t us);

#endif							/* DYNAMOD_NODE_H */
