/*
 * main.c
 *		dynamod's command line: parse the flags of DESIGN.md section 3 (from
 *		the command line and an optional --config file), then run the node
 *		until SIGTERM.
 *
 * A --config file holds the same flags, one per line, without the leading
 * dashes ("engine memory"); blank lines and lines starting with # are
 * skipped, and flags on the command line win over the file.
 *
 * Security: a node runs either with --key FILE --trust FILE (every
 * connection authenticated and encrypted, see channel.h) or with
 * --insecure (plaintext, loopback addresses only, and a warning in the
 * log).  The key and trust files are read here, before anything else
 * starts, so a loose permission or a malformed line stops the node at once
 * with the file and line in the message; SIGHUP reads both again
 * (dyn_node_reload), keeping the old ones when the new do not load.
 * `dynamod keygen --out FILE` makes a key file and prints its public key.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamo/identity.h"
#include "dynamo/ring.h"
#include "conn.h"
#include "node.h"

/* Where a flag came from, for error messages. */
typedef struct flag_source
{
	const char *file;			/* NULL for the command line */
	int			line;
} flag_source;

static void usage(FILE *out);
static int	parse_args(dyn_node_config *cfg, int argc, char **argv, bool *seen);
static int	apply_flag(dyn_node_config *cfg, const char *name, const char *value,
					   const flag_source *src, bool *seen);
static int	load_config(dyn_node_config *cfg, const char *path, bool *seen);
static int	parse_int(const char *name, const char *value, long min, long max,
					  const flag_source *src, long *out);
static int	flag_error(const flag_source *src, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
static bool is_loopback(const char *host);
static int	keygen_main(int argc, char **argv);
static int	load_security(dyn_node *node);

/* The flags, in the order usage() lists them. */
static const char *const flag_names[] = {
	"id", "listen", "data", "seeds", "zone", "engine", "partitions", "n",
	"key", "trust", "insecure", "cache-mb", "config", "durability",
	"repair-interval", "tombstone-grace", "transfer-rate", "handshake-rate",
	"handshake-rate-address", "max-input-mb", "object-buffer-mb", "write-behind", NULL
};
#define NFLAGS (sizeof(flag_names) / sizeof(flag_names[0]) - 1)

/*
 * The allocator.  dynamod is linked with jemalloc (see the Makefile), and
 * this is its configuration, read when the first allocation starts it.
 * Most of the node's memory is WiredTiger's: page images and their update
 * lists, allocated in pieces of 16 bytes to 256 KiB and freed when a page
 * is evicted or reconciled, by the loop thread and by WiredTiger's own.
 * Under glibc those frees stayed resident (glibc returns only the top of
 * a heap; 50-150 MiB beside a 256 MiB cache under a mixed load), and the
 * cure -- one arena for every thread and a malloc_trim every 10 s -- held
 * the one arena locked 8-50 ms per trim, stalling the loop thread's next
 * allocation (issue 15: the open-loop p99), while the shared arena's lock
 * and glibc's bin management were about 9 % of a pipelined PUT's CPU.
 *
 * jemalloc gives each thread a cache and hands freed pages back to the
 * kernel by decay: a dirty page unused for dirty_decay_ms is purged
 * (MADV_DONTNEED) by its background threads, never by a request's thread,
 * and with muzzy decay off the page leaves the resident set at once
 * instead of when the kernel gets round to a lazily freed one.  One second
 * keeps what a burst frees for the next burst and still bounds the node's
 * memory beyond the cache (TAP 018; README "Memory"); freed large buffers
 * (a flood of large frames, t/015) go back the same way.
 */
const char *malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";

int
main(int argc, char **argv)
{
	dyn_node	node;
	bool		seen[NFLAGS] = {false};
	uv_loop_t	loop;
	int			rc;

	memset(&node, 0, sizeof(node));
	node.transport = &dyn_conn_transport;
	strcpy(node.cfg.engine, "wiredtiger");
	node.cfg.partitions = DYN_PARTITIONS_DEFAULT;
	node.cfg.n = 3;
	node.cfg.durability = DYN_DURABILITY_FLUSH;
	node.cfg.max_body = DYN_FRAME_MAX_BODY;
	node.cfg.repair_interval_s = 600;
	node.cfg.tombstone_grace_s = 86400;
	node.cfg.transfer_rate_mb = 64;
	node.cfg.handshake_rate = 500;
	node.cfg.handshake_rate_address = 50;
	node.cfg.max_input_mb = 256;
	node.cfg.buffer_mb = DYN_ENGINE_BUFFER_DEFAULT;
	node.cfg.write_behind = DYN_WRITE_BEHIND_AUTO;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
	{
		usage(stdout);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
		return keygen_main(argc, argv);
	if (parse_args(&node.cfg, argc, argv, seen) != 0)
		return 2;
	if (load_security(&node) != 0)
		return 2;

	uv_loop_init(&loop);
	rc = dyn_node_start(&node, &loop);
	if (rc == DYN_OK)
		uv_run(&loop, UV_RUN_DEFAULT);
	else
	{
		dyn_node_stop(&node);
		uv_run(&loop, UV_RUN_DEFAULT);	/* let the closes finish */
	}
	uv_loop_close(&loop);
	if (node.failed)
		rc = DYN_ERR_ENGINE;
	if (node.engine != NULL)
		dyn_node_finish(&node);
	dyn_identity_clear(&node.identity);
	dyn_trust_free(&node.trust);
	return rc == DYN_OK ? 0 : 1;
}

/*
 * dynamod keygen --out FILE: a new key pair, the secret key written to FILE
 * (mode 0600, never over an existing file), the public key printed for the
 * trust files.
 */
static int
keygen_main(int argc, char **argv)
{
	dyn_identity id;
	char		err[512];
	char		text[DYN_KEY_TEXT_LEN + 1];

	if (argc != 4 || strcmp(argv[2], "--out") != 0)
	{
		fprintf(stderr, "usage: dynamod keygen --out FILE\n");
		return 2;
	}
	if (dyn_identity_generate(&id) != DYN_OK)
	{
		fprintf(stderr, "dynamod: libsodium could not be initialised\n");
		return 1;
	}
	if (dyn_identity_save(&id, argv[3], err, sizeof(err)) != DYN_OK)
	{
		dyn_identity_clear(&id);
		fprintf(stderr, "dynamod: %s\n", err);
		return 1;
	}
	dyn_key_to_text(id.pk, text);
	dyn_identity_clear(&id);
	printf("%s\n", text);
	return 0;
}

/*
 * Read --key and --trust (when not --insecure).  Every refusal names the
 * file, and for content errors the line, and the node does not start.
 */
static int
load_security(dyn_node *node)
{
	char		err[1024];

	if (node->cfg.insecure)
		return 0;
	if (dyn_identity_load(&node->identity, node->cfg.key_file, err, sizeof(err)) != DYN_OK)
	{
		fprintf(stderr, "dynamod: --key: %s\n", err);
		return -1;
	}
	if (dyn_trust_load(&node->trust, node->cfg.trust_file, err, sizeof(err)) != DYN_OK)
	{
		fprintf(stderr, "dynamod: --trust: %s\n", err);
		dyn_identity_clear(&node->identity);
		return -1;
	}
	node->secure = true;
	dyn_key_to_text(node->identity.pk, node->key_text);
	return 0;
}

static void
usage(FILE *out)
{
	fprintf(out,
			"usage: dynamod --id ID --listen HOST:PORT --data DIR [--seeds HOST:PORT[,...]]\n"
			"               [--zone Z] [--engine wiredtiger|memory] [--partitions Q] [--n N]\n"
			"               [--key FILE --trust FILE | --insecure] [--cache-mb M]\n"
			"               [--config FILE] [--durability none|flush|fsync]\n"
			"               [--repair-interval S] [--tombstone-grace S] [--transfer-rate MB]\n"
			"               [--handshake-rate N] [--handshake-rate-address N] [--max-input-mb M]\n"
			"               [--object-buffer-mb M] [--write-behind auto|on|off]\n"
			"       dynamod keygen --out FILE\n");
}

/*
 * Parse argv into cfg.  --config is read first wherever it appears, so that
 * the command line overrides the file.
 */
static int
parse_args(dyn_node_config *cfg, int argc, char **argv, bool *seen)
{
	flag_source cmdline = {NULL, 0};
	bool		cli_seen[NFLAGS] = {false};
	struct option longopts[NFLAGS + 1];
	int			opt;
	int			ix;

	/* getopt_long's table, from flag_names: apply_flag knows each flag */
	memset(longopts, 0, sizeof(longopts));
	for (size_t f = 0; f < NFLAGS; f++)
	{
		longopts[f].name = flag_names[f];
		longopts[f].has_arg = strcmp(flag_names[f], "insecure") == 0 ?
			no_argument : required_argument;
		longopts[f].val = 'f';
	}
	opterr = 0;					/* our messages, not getopt's */

	/* two passes: the --config files first, then every other flag */
	for (int pass = 0; pass < 2; pass++)
	{
		optind = 1;
		while ((opt = getopt_long(argc, argv, "+:", longopts, &ix)) != -1)
		{
			const char *arg = argv[optind - 1];

			if (opt == ':')
			{
				fprintf(stderr, "dynamod: flag %s needs a value\n", arg);
				return -1;
			}
			if (opt == '?' && pass == 0)
				continue;		/* reported by the second pass, in order */
			if (opt == '?' && strncmp(arg, "--", 2) == 0)
				return flag_error(&cmdline, "unknown flag \"%s\"", arg);
			if (opt == '?')
				break;			/* a single dash: no short flags */
			if ((strcmp(flag_names[ix], "config") == 0) != (pass == 0))
				continue;
			if (pass == 0 ? load_config(cfg, optarg, seen) != 0 :
				apply_flag(cfg, flag_names[ix], optarg, &cmdline, cli_seen) != 0)
				return -1;
		}
	}
	if (opt == '?' || optind < argc)
	{
		fprintf(stderr, "dynamod: unexpected argument \"%s\"\n",
				argv[opt == '?' ? optind - 1 : optind]);
		usage(stderr);
		return -1;
	}
	for (size_t f = 0; f < NFLAGS; f++)
		seen[f] = seen[f] || cli_seen[f];

	if (!seen[0] || !seen[1] || !seen[2])
	{
		fprintf(stderr, "dynamod: --id, --listen and --data are required\n");
		usage(stderr);
		return -1;
	}
	if (strlen(cfg->listen_host) + 6 > DYN_RING_ADDRESS_MAX)
	{
		fprintf(stderr, "dynamod: --listen HOST:PORT must fit in %d bytes (the ring "
				"keeps every member's address)\n", DYN_RING_ADDRESS_MAX);
		return -1;
	}
	if (cfg->insecure && (seen[8] || seen[9]))
	{
		fprintf(stderr, "dynamod: --insecure cannot be combined with --key/--trust: "
				"choose authenticated connections or plaintext\n");
		return -1;
	}
	if (!cfg->insecure && !(seen[8] && seen[9]))
	{
		fprintf(stderr, "dynamod: a node needs --key FILE and --trust FILE (make a key "
				"with: dynamod keygen --out FILE), or --insecure for plaintext on a "
				"loopback address\n");
		return -1;
	}
	if (cfg->insecure && !is_loopback(cfg->listen_host))
	{
		fprintf(stderr, "dynamod: --insecure is refused on \"%s\": plaintext is "
				"allowed on loopback addresses (127.0.0.0/8, ::1) only\n",
				cfg->listen_host);
		return -1;
	}
	return 0;
}

/* Set one flag; name has no leading dashes, value is NULL for --insecure. */
static int
apply_flag(dyn_node_config *cfg, const char *name, const char *value,
		   const flag_source *src, bool *seen)
{
	size_t		f;
	long		num;

	for (f = 0; f < NFLAGS; f++)
		if (strcmp(name, flag_names[f]) == 0)
			break;
	if (f == NFLAGS)
		return flag_error(src, "unknown flag \"--%s\"", name);
	seen[f] = true;

	if (strcmp(name, "id") == 0)
	{
		size_t		len = strlen(value);

		if (len == 0 || len > DYN_NODE_ID_MAX)
			return flag_error(src, "--id must be 1 to %d bytes", DYN_NODE_ID_MAX);
		strcpy(cfg->id, value);
	}
	else if (strcmp(name, "listen") == 0)
	{
		const char *colon = strrchr(value, ':');
		flag_source s = *src;

		if (colon == NULL || colon == value ||
			(size_t) (colon - value) >= sizeof(cfg->listen_host))
			return flag_error(src, "--listen must be HOST:PORT, got \"%s\"", value);
		if (parse_int("--listen port", colon + 1, 1, 65535, &s, &num) != 0)
			return -1;
		memcpy(cfg->listen_host, value, (size_t) (colon - value));
		cfg->listen_host[colon - value] = '\0';
		cfg->listen_port = (int) num;
	}
	else if (strcmp(name, "data") == 0)
	{
		if (strlen(value) == 0 || strlen(value) >= sizeof(cfg->data_dir))
			return flag_error(src, "--data must be a directory path");
		strcpy(cfg->data_dir, value);
	}
	else if (strcmp(name, "seeds") == 0)
		snprintf(cfg->seeds, sizeof(cfg->seeds), "%s", value);
	else if (strcmp(name, "zone") == 0)
	{
		if (strlen(value) > DYN_RING_ZONE_MAX)
			return flag_error(src, "--zone is longer than %d bytes", DYN_RING_ZONE_MAX);
		strcpy(cfg->zone, value);
	}
	else if (strcmp(name, "engine") == 0)
	{
		if (strcmp(value, "wiredtiger") != 0 && strcmp(value, "memory") != 0)
			return flag_error(src, "invalid --engine \"%s\": valid engines are wiredtiger, memory",
							  value);
		strcpy(cfg->engine, value);
	}
	else if (strcmp(name, "partitions") == 0)
	{
		if (parse_int("--partitions", value, 1, DYN_PARTITIONS_MAX, src, &num) != 0)
			return -1;
		if (!dyn_partitions_valid((uint32_t) num))
			return flag_error(src, "--partitions must be a power of two from 1 to %d",
							  DYN_PARTITIONS_MAX);
		cfg->partitions = (uint32_t) num;
	}
	else if (strcmp(name, "n") == 0)
	{
		if (parse_int("--n", value, 1, 255, src, &num) != 0)
			return -1;
		cfg->n = (int) num;
	}
	else if (strcmp(name, "insecure") == 0)
		cfg->insecure = true;
	else if (strcmp(name, "key") == 0 || strcmp(name, "trust") == 0)
	{
		char	   *dst = name[0] == 'k' ? cfg->key_file : cfg->trust_file;

		if (value[0] == '\0' || strlen(value) >= sizeof(cfg->key_file))
			return flag_error(src, "--%s must be a file path", name);
		strcpy(dst, value);
	}
	else if (strcmp(name, "cache-mb") == 0)
	{
		if (parse_int("--cache-mb", value, 1, 1L << 20, src, &num) != 0)
			return -1;
		cfg->cache_mb = (size_t) num;
	}
	else if (strcmp(name, "object-buffer-mb") == 0)
	{
		if (parse_int("--object-buffer-mb", value, 0, 1L << 20, src, &num) != 0)
			return -1;
		cfg->buffer_mb = (size_t) num;
	}
	else if (strcmp(name, "repair-interval") == 0)
	{
		if (parse_int("--repair-interval", value, 0, 7L * 24 * 3600, src, &num) != 0)
			return -1;
		cfg->repair_interval_s = (uint64_t) num;
	}
	else if (strcmp(name, "tombstone-grace") == 0)
	{
		if (parse_int("--tombstone-grace", value, 0, 365L * 24 * 3600, src, &num) != 0)
			return -1;
		cfg->tombstone_grace_s = (uint64_t) num;
	}
	else if (strcmp(name, "transfer-rate") == 0)
	{
		if (parse_int("--transfer-rate", value, 1, 1L << 20, src, &num) != 0)
			return -1;
		cfg->transfer_rate_mb = (uint64_t) num;
	}
	else if (strcmp(name, "handshake-rate") == 0 || strcmp(name, "handshake-rate-address") == 0)
	{
		bool		per_address = strcmp(name, "handshake-rate-address") == 0;

		if (parse_int(per_address ? "--handshake-rate-address" : "--handshake-rate", value,
					  0, 1000000, src, &num) != 0)
			return -1;
		if (per_address)
			cfg->handshake_rate_address = (uint64_t) num;
		else
			cfg->handshake_rate = (uint64_t) num;
	}
	else if (strcmp(name, "max-input-mb") == 0)
	{
		if (parse_int("--max-input-mb", value, 16, 1L << 20, src, &num) != 0)
			return -1;
		cfg->max_input_mb = (uint64_t) num;
	}
	else if (strcmp(name, "write-behind") == 0)
	{
		if (strcmp(value, "auto") == 0)
			cfg->write_behind = DYN_WRITE_BEHIND_AUTO;
		else if (strcmp(value, "on") == 0)
			cfg->write_behind = DYN_WRITE_BEHIND_ON;
		else if (strcmp(value, "off") == 0)
			cfg->write_behind = DYN_WRITE_BEHIND_OFF;
		else
			return flag_error(src, "invalid --write-behind \"%s\": valid values are auto, on, off",
							  value);
	}
	else if (strcmp(name, "durability") == 0)
	{
		if (strcmp(value, "none") == 0)
			cfg->durability = DYN_DURABILITY_NONE;
		else if (strcmp(value, "flush") == 0)
			cfg->durability = DYN_DURABILITY_FLUSH;
		else if (strcmp(value, "fsync") == 0)
			cfg->durability = DYN_DURABILITY_FSYNC;
		else
			return flag_error(src, "invalid --durability \"%s\": valid values are none, flush, fsync",
							  value);
	}
	return 0;
}

/* Read flags from a --config file, one "name value" per line. */
static int
load_config(dyn_node_config *cfg, const char *path, bool *seen)
{
	FILE	   *fp = fopen(path, "r");
	char		line[4096];
	flag_source src = {path, 0};
	int			rc = 0;

	if (fp == NULL)
	{
		fprintf(stderr, "dynamod: could not open config file \"%s\": %s\n",
				path, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), fp) != NULL)
	{
		char	   *name = line;
		char	   *value;
		char	   *end;

		src.line++;
		line[strcspn(line, "\r\n")] = '\0';
		name += strspn(name, " \t");
		if (*name == '\0' || *name == '#')
			continue;
		value = name + strcspn(name, " \t=");
		if (*value != '\0')
			*value++ = '\0';
		value += strspn(value, " \t=");
		end = value + strlen(value);
		while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (strcmp(name, "config") == 0)
			rc = flag_error(&src, "config files cannot include other config files");
		else if (strcmp(name, "insecure") != 0 && *value == '\0')
			rc = flag_error(&src, "flag \"%s\" needs a value", name);
		else
			rc = apply_flag(cfg, name, value, &src, seen);
	}
	fclose(fp);
	return rc;
}

/* Parse a decimal integer in [min, max]. */
static int
parse_int(const char *name, const char *value, long min, long max,
		  const flag_source *src, long *out)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v < min || v > max)
		return flag_error(src, "invalid %s \"%s\": expected an integer from %ld to %ld",
						  name, value, min, max);
	*out = v;
	return 0;
}

/* Print "dynamod: [file:line: ]message" and return -1. */
static int
flag_error(const flag_source *src, const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "dynamod: ");
	if (src->file != NULL)
		fprintf(stderr, "%s:%d: ", src->file, src->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

/* Whether host is a loopback address (127.0.0.0/8, ::1, localhost). */
static bool
is_loopback(const char *host)
{
	return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
		strcmp(host, "[::1]") == 0 || strcmp(host, "localhost") == 0;
}
