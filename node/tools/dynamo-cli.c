/*
 * dynamo-cli.c
 *		The command line client: one request to one node, its answer on
 *		stdout, and an exit code scripts can rely on (DESIGN.md section 3).
 *
 *		0 done, 1 key not found, 2 usage (or a request the node called
 *		invalid, or an unusable key or trust file), 3 quorum not met,
 *		4 cannot connect or not authorised, 5 the node failed the request.
 *
 * Security: --key FILE makes every connection authenticated and encrypted
 * (channel.h).  The node must be in a trust file with role node: --trust
 * FILE, by default the file "trust" in the key file's directory (so the
 * folder that scripts/run.sh fills works with --key alone).  This --trust
 * flag is an addition to DESIGN.md's command line: a client has to know
 * which node keys to believe.  --insecure speaks plaintext instead.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dynamo/client.h"
#include "dynamo/identity.h"
#include "dynamo/object.h"
#include "dynamo/routing.h"

enum
{
	EXIT_DONE = 0,
	EXIT_NOTFOUND = 1,
	EXIT_USAGE = 2,
	EXIT_QUORUM = 3,
	EXIT_CONNECT = 4,
	EXIT_FAILED = 5
};

/* The parsed command line. */
typedef struct cli_options
{
	const char *node;
	bool		json;
	bool		insecure;
	const char *key_file;
	const char *trust_file;		/* NULL: "trust" beside the key file */
	const char *out_file;		/* keygen --out */
	int			timeout_ms;
	const char *context;		/* --context, text form */
	int			quorum;			/* --r or --w, 0: cluster default */
	const char *args[4];		/* the command and its positional arguments */
	int			nargs;
} cli_options;

static void usage(FILE *out);
static int	parse_options(cli_options *o, int argc, char **argv);
static int	check_quorum_flag(const char *flag, const char *value, int *out);
static int	read_stdin(dyn_buf *b);
static int	run_request(const cli_options *o, dyn_client *c, dyn_frame *reply);
static int	report_error(const cli_options *o, const dyn_frame *reply);
static int	cmd_put(const cli_options *o, dyn_client *c, bool is_delete);
static int	cmd_get(const cli_options *o, dyn_client *c);
static int	cmd_status(const cli_options *o, dyn_client *c);
static int	cmd_ring(const cli_options *o, dyn_client *c, bool preflist);
static void print_ring(const cli_options *o, const dyn_routing *rt);
static int	print_preflist(const cli_options *o, const dyn_routing *rt);
static int	cmd_keygen(const cli_options *o);
static int	cmd_repair(const cli_options *o, dyn_client *c);
static int	cmd_remove(const cli_options *o, dyn_client *c);
static int	fetch_routing(const cli_options *o, dyn_client *c, dyn_routing *rt);
static int	ring_has_member(const cli_options *o, dyn_client *c, const char *id,
							bool *has);
static int	load_keys(const cli_options *o, dyn_identity *id, dyn_trust *trust);
static int	fail(int code, const char *fmt,...) __attribute__((format(printf, 2, 3)));

int
main(int argc, char **argv)
{
	cli_options o = {.node = "127.0.0.1:7401", .timeout_ms = 5000};
	dyn_client *c;
	const char *cmd;
	dyn_identity id;
	dyn_trust	trust;
	int			rc;

	if ((rc = parse_options(&o, argc, argv)) != EXIT_DONE)
		return rc;
	cmd = o.args[0];
	if (strcmp(cmd, "keygen") == 0)
		return cmd_keygen(&o);

	dyn_trust_init(&trust);
	memset(&id, 0, sizeof(id));
	if (!o.insecure && (rc = load_keys(&o, &id, &trust)) != EXIT_DONE)
		return rc;
	if ((c = dyn_client_new()) == NULL)
		return fail(EXIT_FAILED, "out of memory");
	dyn_client_set_identity(c, o.insecure ? NULL : &id, &trust);
	dyn_identity_clear(&id);
	if (dyn_client_connect(c, o.node, o.timeout_ms) != DYN_OK)
	{
		dyn_frame	reply;

		/* a node that refuses says why in an error frame before closing */
		if (dyn_client_next_reply(c, &reply) == DYN_OK && reply.type == DYN_MSG_ERROR)
			rc = report_error(&o, &reply);
		else
			rc = fail(EXIT_CONNECT, "cannot connect to %s: %s", o.node, dyn_client_errmsg(c));
		dyn_client_free(c);
		dyn_trust_free(&trust);
		return rc;
	}
	if (strcmp(cmd, "put") == 0)
		rc = cmd_put(&o, c, false);
	else if (strcmp(cmd, "delete") == 0)
		rc = cmd_put(&o, c, true);
	else if (strcmp(cmd, "get") == 0)
		rc = cmd_get(&o, c);
	else if (strcmp(cmd, "ring") == 0 || strcmp(cmd, "preflist") == 0)
		rc = cmd_ring(&o, c, strcmp(cmd, "preflist") == 0);
	else if (strcmp(cmd, "repair") == 0)
		rc = cmd_repair(&o, c);
	else if (strcmp(cmd, "remove") == 0)
		rc = cmd_remove(&o, c);
	else
		rc = cmd_status(&o, c);
	dyn_client_free(c);
	dyn_trust_free(&trust);
	return rc;
}

/*
 * Read --key and the trust file (--trust, or "trust" beside the key).
 * Unusable files are the user's to fix: exit 2 with the loader's message,
 * which names the file and line.
 */
static int
load_keys(const cli_options *o, dyn_identity *id, dyn_trust *trust)
{
	char		err[1024];
	char		path[4096];
	const char *trust_path = o->trust_file;

	if (dyn_identity_load(id, o->key_file, err, sizeof(err)) != DYN_OK)
		return fail(EXIT_USAGE, "--key: %s", err);
	if (trust_path == NULL)
	{
		const char *slash = strrchr(o->key_file, '/');

		if (slash == NULL)
			snprintf(path, sizeof(path), "trust");
		else
			snprintf(path, sizeof(path), "%.*s/trust", (int) (slash - o->key_file),
					 o->key_file);
		trust_path = path;
		if (access(path, F_OK) != 0)
		{
			dyn_identity_clear(id);
			return fail(EXIT_USAGE, "no trust file to check the node's key against: give "
						"--trust FILE (the default, %s beside the key file, does not exist)",
						path);
		}
	}
	if (dyn_trust_load(trust, trust_path, err, sizeof(err)) != DYN_OK)
	{
		dyn_identity_clear(id);
		return fail(EXIT_USAGE, "--trust: %s", err);
	}
	return EXIT_DONE;
}

/* keygen --out FILE: write a new secret key (0600), print its public key. */
static int
cmd_keygen(const cli_options *o)
{
	dyn_identity id;
	char		err[512];
	char		text[DYN_KEY_TEXT_LEN + 1];
	int			rc;

	if (o->out_file == NULL)
		return fail(EXIT_USAGE, "keygen needs --out FILE");
	if (dyn_identity_generate(&id) != DYN_OK)
		return fail(EXIT_FAILED, "libsodium could not be initialised");
	rc = dyn_identity_save(&id, o->out_file, err, sizeof(err));
	dyn_key_to_text(id.pk, text);
	dyn_identity_clear(&id);
	if (rc != DYN_OK)
		return fail(rc == DYN_ERR_INVAL ? EXIT_USAGE : EXIT_FAILED, "%s", err);
	printf("%s\n", text);
	return EXIT_DONE;
}

static void
usage(FILE *out)
{
	fprintf(out,
			"usage: dynamo-cli [--node HOST:PORT] [--key FILE [--trust FILE] | --insecure]\n"
			"                  [--json] [--timeout MS] COMMAND\n"
			"  put BUCKET KEY VALUE [--context C] [--w W]   prints the new context (VALUE - reads stdin)\n"
			"  get BUCKET KEY [--r R]                        prints each sibling, then the context\n"
			"  delete BUCKET KEY [--context C] [--w W]\n"
			"  status | ring | preflist BUCKET KEY | repair | remove NODE_ID\n"
			"  keygen --out FILE                             writes a secret key (0600), prints the public key\n"
			"--trust defaults to the file \"trust\" in the key file's directory.\n"
			"exit codes: 0 done, 1 not found, 2 usage, 3 quorum not met,\n"
			"            4 cannot connect or not authorised, 5 the node failed the request\n");
}

/* The long flags (getopt_long). */
enum
{
	OPT_JSON = 256, OPT_INSECURE, OPT_NODE, OPT_KEY, OPT_TRUST, OPT_OUT, OPT_CONTEXT,
	OPT_R, OPT_W, OPT_TIMEOUT
};

static const struct option cli_flags[] = {
	{"help", no_argument, NULL, 'h'},
	{"json", no_argument, NULL, OPT_JSON},
	{"insecure", no_argument, NULL, OPT_INSECURE},
	{"node", required_argument, NULL, OPT_NODE},
	{"key", required_argument, NULL, OPT_KEY},
	{"trust", required_argument, NULL, OPT_TRUST},
	{"out", required_argument, NULL, OPT_OUT},
	{"context", required_argument, NULL, OPT_CONTEXT},
	{"r", required_argument, NULL, OPT_R},
	{"w", required_argument, NULL, OPT_W},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{NULL, 0, NULL, 0}
};

/* Flags may come before or after the command; the rest are positional. */
static int
parse_options(cli_options *o, int argc, char **argv)
{
	static const struct
	{
		const char *name;
		int			nargs;		/* positional arguments after the command */
	}			commands[] = {
		{"put", 3}, {"get", 2}, {"delete", 2}, {"status", 0}, {"ring", 0},
		{"preflist", 2}, {"repair", 0}, {"remove", 1}, {"keygen", 0}
	};
	int			want = -1;
	bool		is_get = false;
	bool		r_given = false;
	bool		w_given = false;

	opterr = 0;					/* our messages, not getopt's */
	optind = 1;
	while (optind < argc)
	{
		const char *a = argv[optind];
		int			opt;

		/*
		 * Positional arguments stay in order among the flags ("-" mode), and
		 * one that starts with a single dash ("-", "-5") is a value, as
		 * before getopt: no short flag but -h exists to cluster.
		 */
		if (a[0] == '-' && a[1] != '-' && strcmp(a, "-h") != 0)
		{
			optind++;
			opt = 1;
			optarg = (char *) a;
		}
		else if ((opt = getopt_long(argc, argv, "-:h", cli_flags, NULL)) == -1)
			break;
		a = argv[optind - 1];
		switch (opt)
		{
			case 'h':
				usage(stdout);
				exit(EXIT_DONE);
			case ':':
				return fail(EXIT_USAGE, "flag %s needs a value", a);
			case '?':
				return fail(EXIT_USAGE, "unknown flag \"%s\" (see --help)", a);
			case 1:
				if (o->nargs >= (int) (sizeof(o->args) / sizeof(o->args[0])))
					return fail(EXIT_USAGE, "unexpected argument \"%s\"", optarg);
				o->args[o->nargs++] = optarg;
				break;
			case OPT_JSON:
				o->json = true;
				break;
			case OPT_INSECURE:
				o->insecure = true;
				break;
			case OPT_NODE:
				o->node = optarg;
				break;
			case OPT_KEY:
				o->key_file = optarg;
				break;
			case OPT_TRUST:
				o->trust_file = optarg;
				break;
			case OPT_OUT:
				o->out_file = optarg;
				break;
			case OPT_CONTEXT:
				o->context = optarg;
				break;
			case OPT_R:
			case OPT_W:
				r_given |= opt == OPT_R;
				w_given |= opt == OPT_W;
				if (check_quorum_flag(opt == OPT_R ? "--r" : "--w", optarg,
									  &o->quorum) != EXIT_DONE)
					return EXIT_USAGE;
				break;
			case OPT_TIMEOUT:
				o->timeout_ms = atoi(optarg);
				if (o->timeout_ms <= 0)
					return fail(EXIT_USAGE,
								"--timeout must be a positive number of milliseconds");
				break;
		}
	}
	/* after "--": the rest are positional */
	for (; optind < argc; optind++)
	{
		if (o->nargs >= (int) (sizeof(o->args) / sizeof(o->args[0])))
			return fail(EXIT_USAGE, "unexpected argument \"%s\"", argv[optind]);
		o->args[o->nargs++] = argv[optind];
	}
	if (o->nargs == 0)
	{
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(o->args[0], commands[k].name) == 0)
			want = commands[k].nargs;
	if (want < 0)
		return fail(EXIT_USAGE, "unknown command \"%s\" (see --help)", o->args[0]);
	if (o->nargs - 1 != want)
		return fail(EXIT_USAGE, "%s takes %d argument%s, got %d (see --help)",
					o->args[0], want, want == 1 ? "" : "s", o->nargs - 1);
	is_get = strcmp(o->args[0], "get") == 0;
	if ((r_given && !is_get) || (w_given && is_get))
		return fail(EXIT_USAGE, "%s does not apply to %s", r_given && !is_get ? "--r" : "--w",
					o->args[0]);
	if (o->context != NULL && is_get)
		return fail(EXIT_USAGE, "--context does not apply to get");
	if (strcmp(o->args[0], "keygen") == 0)
	{
		if (o->key_file != NULL || o->trust_file != NULL || o->insecure)
			return fail(EXIT_USAGE, "keygen takes --out FILE only");
		return EXIT_DONE;
	}
	if (o->out_file != NULL)
		return fail(EXIT_USAGE, "--out applies to keygen only");
	if (o->insecure && (o->key_file != NULL || o->trust_file != NULL))
		return fail(EXIT_USAGE, "--insecure cannot be combined with --key/--trust");
	if (!o->insecure && o->key_file == NULL)
		return fail(EXIT_USAGE, "give --key FILE, or --insecure for a plaintext connection");
	return EXIT_DONE;
}

/* R or W: 1 to 255. */
static int
check_quorum_flag(const char *flag, const char *value, int *out)
{
	char	   *end;
	long		v = strtol(value, &end, 10);

	if (*value == '\0' || *end != '\0' || v < 1 || v > 255)
		return fail(EXIT_USAGE, "invalid %s \"%s\": expected an integer from 1 to 255",
					flag, value);
	*out = (int) v;
	return EXIT_DONE;
}

/* Read all of stdin into b (put VALUE "-"). */
static int
read_stdin(dyn_buf *b)
{
	for (;;)
	{
		ssize_t		n;

		if (dyn_buf_reserve(b, 65536) != DYN_OK)
			return -1;
		n = read(STDIN_FILENO, b->data + b->len, b->cap - b->len);
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		b->len += (size_t) n;
	}
}

/* Wait for the one outstanding request's reply; map transport failures. */
static int
run_request(const cli_options *o, dyn_client *c, dyn_frame *reply)
{
	int			rc = dyn_client_await(c, o->timeout_ms, reply);

	if (rc == DYN_ERR_TIMEOUT)
		return fail(EXIT_CONNECT, "no answer from %s within %d ms", o->node, o->timeout_ms);
	if (rc != DYN_OK)
		return fail(EXIT_CONNECT, "lost the connection to %s: %s", o->node,
					dyn_client_errmsg(c));
	if (reply->type == DYN_MSG_ERROR)
		return report_error(o, reply);
	return EXIT_DONE;
}

/* Print an error frame's message and pick the exit code for its kind. */
static int
report_error(const cli_options *o, const dyn_frame *reply)
{
	dyn_error_msg err;

	if (dyn_error_decode(reply->body, &err) != DYN_OK)
		return fail(EXIT_FAILED, "%s sent a malformed error reply", o->node);
	switch (err.code)
	{
		case DYN_E_QUORUM:
			return fail(EXIT_QUORUM, "%.*s", (int) err.message.len, err.message.ptr);
		case DYN_E_UNAUTHORIZED:
			return fail(EXIT_CONNECT, "%.*s", (int) err.message.len, err.message.ptr);
		case DYN_E_INVAL:
		case DYN_E_BADREQ:
		case DYN_E_TOOBIG:
			return fail(EXIT_USAGE, "%.*s", (int) err.message.len, err.message.ptr);
		default:
			return fail(EXIT_FAILED, "%.*s", (int) err.message.len, err.message.ptr);
	}
}

/* put and delete: send the write, print the new version's context. */
static int
cmd_put(const cli_options *o, dyn_client *c, bool is_delete)
{
	dyn_put_req req = {0};
	dyn_buf		ctx;
	dyn_buf		value;
	dyn_buf		text;
	dyn_frame	reply;
	dyn_slice	written;
	int			rc;

	dyn_buf_init(&ctx);
	dyn_buf_init(&value);
	dyn_buf_init(&text);
	req.bucket = dyn_slice_str(o->args[1]);
	req.key = dyn_slice_str(o->args[2]);
	req.w = (uint8_t) o->quorum;
	if (req.bucket.len == 0 || req.bucket.len > DYN_BUCKET_MAX ||
		req.key.len == 0 || req.key.len > DYN_KEY_MAX)
	{
		rc = fail(EXIT_USAGE, "bucket must be 1 to %d bytes and key 1 to %d bytes",
				  DYN_BUCKET_MAX, DYN_KEY_MAX);
		goto done;
	}
	if (o->context != NULL && dyn_context_from_text(o->context, &ctx) != DYN_OK)
	{
		rc = fail(EXIT_USAGE, "invalid --context \"%s\": give back a context that "
				  "get or put printed", o->context);
		goto done;
	}
	req.context = dyn_buf_slice(&ctx);
	if (!is_delete)
	{
		if (strcmp(o->args[3], "-") == 0)
		{
			if (read_stdin(&value) != 0)
			{
				rc = fail(EXIT_USAGE, "could not read the value from stdin");
				goto done;
			}
			req.value = dyn_buf_slice(&value);
		}
		else
			req.value = dyn_slice_str(o->args[3]);
		/* the node would refuse the frame and close; say why instead */
		if (req.value.len > DYN_VALUE_MAX)
		{
			rc = fail(EXIT_USAGE, "value of %zu bytes exceeds the maximum of %u bytes",
					  req.value.len, (unsigned) DYN_VALUE_MAX);
			goto done;
		}
		dyn_client_send_put(c, &req);
	}
	else
		dyn_client_send_delete(c, &req);

	if ((rc = run_request(o, c, &reply)) != EXIT_DONE)
		goto done;
	if (dyn_put_reply_decode(reply.body, &written) != DYN_OK)
	{
		rc = fail(EXIT_FAILED, "%s sent a malformed reply", o->node);
		goto done;
	}
	dyn_context_to_text(written, &text);
	if (o->json)
		printf("{\"context\":\"%s\"}\n", (const char *) text.data);
	else
		printf("%s\n", (const char *) text.data);
done:
	dyn_buf_free(&ctx);
	dyn_buf_free(&value);
	dyn_buf_free(&text);
	return rc;
}

/* get: every live sibling with its clock, then the context of the set. */
static int
cmd_get(const cli_options *o, dyn_client *c)
{
	dyn_get_req req = {0};
	dyn_frame	reply;
	dyn_slice	bytes;
	dyn_object	obj;
	dyn_vclock	ctx;
	dyn_buf		enc;
	dyn_buf		text;
	dyn_buf		line;
	bool		first = true;
	int			rc;

	req.bucket = dyn_slice_str(o->args[1]);
	req.key = dyn_slice_str(o->args[2]);
	req.r = (uint8_t) o->quorum;
	if (req.bucket.len == 0 || req.bucket.len > DYN_BUCKET_MAX ||
		req.key.len == 0 || req.key.len > DYN_KEY_MAX)
		return fail(EXIT_USAGE, "bucket must be 1 to %d bytes and key 1 to %d bytes",
					DYN_BUCKET_MAX, DYN_KEY_MAX);
	dyn_client_send_get(c, &req);
	if ((rc = run_request(o, c, &reply)) != EXIT_DONE)
		return rc;
	dyn_object_init(&obj);
	if (dyn_get_reply_decode(reply.body, &bytes) != DYN_OK ||
		dyn_object_decode(bytes, &obj) != DYN_OK)
	{
		dyn_object_free(&obj);
		return fail(EXIT_FAILED, "%s sent a malformed reply", o->node);
	}
	dyn_buf_init(&enc);
	dyn_buf_init(&text);
	dyn_buf_init(&line);
	dyn_object_context(&obj, &ctx);
	dyn_vclock_encode(&ctx, &enc);
	dyn_context_to_text(dyn_buf_slice(&enc), &text);

	if (o->json)
		dyn_buf_printf(&line, "{\"context\":\"%s\",\"siblings\":[", (const char *) text.data);
	for (size_t i = 0; i < obj.n; i++)
	{
		const dyn_sibling *s = &obj.s[i];

		if (s->tombstone)
			continue;			/* reads hide deletes; their clocks stay in the context */
		if (o->json)
		{
			dyn_buf_printf(&line, "%s{\"value\":", first ? "" : ",");
			dyn_buf_put_json_string(&line, s->value);
			dyn_buf_printf(&line, ",\"vclock\":");
			dyn_vclock_to_json(&s->clock, &line);
			dyn_buf_put_u8(&line, '}');
		}
		else
		{
			dyn_vclock_to_json(&s->clock, &line);
			dyn_buf_put_u8(&line, '\t');
			dyn_buf_append(&line, s->value.ptr, s->value.len);
			dyn_buf_put_u8(&line, '\n');
		}
		first = false;
	}
	if (o->json)
		dyn_buf_printf(&line, "]}\n");
	else
		dyn_buf_printf(&line, "context: %s\n", (const char *) text.data);
	fwrite(line.data, 1, line.len, stdout);
	rc = first ? EXIT_NOTFOUND : EXIT_DONE;
	if (first && !o->json)
		fprintf(stderr, "dynamo-cli: %s/%s not found\n", o->args[1], o->args[2]);
	dyn_buf_free(&enc);
	dyn_buf_free(&text);
	dyn_buf_free(&line);
	dyn_object_free(&obj);
	return rc;
}

/*
 * ring and preflist: the ring as the node holds it, with the node's verdict
 * on each member, or one key's preference list computed from it here -- the
 * same computation a partition-aware client makes to pick a coordinator.
 */
static int
cmd_ring(const cli_options *o, dyn_client *c, bool preflist)
{
	dyn_routing rt;
	int			rc;

	if (preflist)
	{
		size_t		bl = strlen(o->args[1]);
		size_t		kl = strlen(o->args[2]);

		if (bl == 0 || bl > DYN_BUCKET_MAX || kl == 0 || kl > DYN_KEY_MAX)
			return fail(EXIT_USAGE, "bucket must be 1 to %d bytes and key 1 to %d bytes",
						DYN_BUCKET_MAX, DYN_KEY_MAX);
	}
	if ((rc = fetch_routing(o, c, &rt)) != EXIT_DONE)
		return rc;
	if (rt.ring.nmembers == 0)
		rc = fail(EXIT_FAILED, "%s has not joined a ring yet", o->node);
	else if (preflist)
		rc = print_preflist(o, &rt);
	else
	{
		print_ring(o, &rt);
		rc = EXIT_DONE;
	}
	dyn_routing_free(&rt);
	return rc;
}

/*
 * The ring: with --json the ring's own JSON (ring.h) plus "status", each
 * member's health as the node sees it; else one line per member.
 */
static void
print_ring(const cli_options *o, const dyn_routing *rt)
{
	const dyn_ring *r = &rt->ring;
	dyn_buf		out;

	dyn_buf_init(&out);
	if (o->json)
	{
		dyn_ring_to_json(r, &out);
		if (out.len > 0 && out.data[out.len - 1] == '}')
			out.len--;
		dyn_buf_printf(&out, ",\"status\":{");
		for (uint32_t i = 0; i < r->nmembers; i++)
		{
			if (i > 0)
				dyn_buf_put_u8(&out, ',');
			dyn_buf_put_json_string(&out, dyn_ring_member_id(&r->members[i]));
			dyn_buf_printf(&out, ":\"%s\"", rt->up[i] ? "up" : "down");
		}
		dyn_buf_printf(&out, "}}\n");
	}
	else
	{
		dyn_buf_printf(&out, "ring version %llu: %u partitions, n=%u, %u members\n",
					   (unsigned long long) r->version, r->q, r->n, r->nmembers);
		for (uint32_t i = 0; i < r->nmembers; i++)
		{
			const dyn_ring_member *m = &r->members[i];

			dyn_buf_printf(&out, "%.*s\t%s\tzone=%s\t%s\t%u partitions\n",
						   (int) m->idlen, m->id, m->address, m->zone[0] ? m->zone : "-",
						   rt->up[i] ? "up" : "down", m->owned);
		}
	}
	fwrite(out.data, 1, out.len, stdout);
	dyn_buf_free(&out);
}

/*
 * One key's extended preference list: the N replicas first, then the
 * stand-ins, each with its health; --json gives {"bucket","key","partition",
 * "n","nodes":[{"id","address","zone","status","replica"}]}.
 */
static int
print_preflist(const cli_options *o, const dyn_routing *rt)
{
	const dyn_ring *r = &rt->ring;
	dyn_slice	bucket = dyn_slice_str(o->args[1]);
	dyn_slice	key = dyn_slice_str(o->args[2]);
	uint32_t	part = dyn_partition_of(dyn_key_position(bucket, key), r->q);
	uint32_t   *ix = malloc(r->nmembers * sizeof(uint32_t));
	uint32_t	owners = r->n < r->nmembers ? r->n : r->nmembers;
	dyn_buf		out;
	int			count;

	if (ix == NULL)
		return fail(EXIT_FAILED, "out of memory");
	count = dyn_ring_preflist_key(r, bucket, key, ix, r->nmembers);
	dyn_buf_init(&out);
	if (o->json)
	{
		dyn_buf_printf(&out, "{\"bucket\":");
		dyn_buf_put_json_string(&out, bucket);
		dyn_buf_printf(&out, ",\"key\":");
		dyn_buf_put_json_string(&out, key);
		dyn_buf_printf(&out, ",\"partition\":%u,\"n\":%u,\"nodes\":[", part, r->n);
	}
	else
		dyn_buf_printf(&out, "partition %u, n=%u\n", part, r->n);
	for (int i = 0; i < count; i++)
	{
		const dyn_ring_member *m = &r->members[ix[i]];

		if (o->json)
		{
			dyn_buf_printf(&out, "%s{\"id\":", i ? "," : "");
			dyn_buf_put_json_string(&out, dyn_ring_member_id(m));
			dyn_buf_printf(&out, ",\"address\":");
			dyn_buf_put_json_string(&out, dyn_slice_str(m->address));
			dyn_buf_printf(&out, ",\"zone\":");
			dyn_buf_put_json_string(&out, dyn_slice_str(m->zone));
			dyn_buf_printf(&out, ",\"status\":\"%s\",\"replica\":%s}",
						   rt->up[ix[i]] ? "up" : "down",
						   (uint32_t) i < owners ? "true" : "false");
		}
		else
			dyn_buf_printf(&out, "%.*s\t%s\tzone=%s\t%s\t%s\n", (int) m->idlen, m->id,
						   m->address, m->zone[0] ? m->zone : "-",
						   rt->up[ix[i]] ? "up" : "down",
						   (uint32_t) i < owners ? "replica" : "stand-in");
	}
	if (o->json)
		dyn_buf_printf(&out, "]}\n");
	fwrite(out.data, 1, out.len, stdout);
	dyn_buf_free(&out);
	free(ix);
	return count > 0 ? EXIT_DONE : fail(EXIT_FAILED, "the ring has no members");
}

/* status: the node's JSON object as it sent it. */
static int
cmd_status(const cli_options *o, dyn_client *c)
{
	dyn_frame	reply;
	dyn_slice	json;
	int			rc;

	dyn_client_send_status(c);
	if ((rc = run_request(o, c, &reply)) != EXIT_DONE)
		return rc;
	if (dyn_status_reply_decode(reply.body, &json) != DYN_OK)
		return fail(EXIT_FAILED, "%s sent a malformed reply", o->node);
	fwrite(json.ptr, 1, json.len, stdout);
	fputc('\n', stdout);
	return EXIT_DONE;
}

/*
 * repair: the node compares every partition it holds with every other
 * replica and answers when the round is over, with what it found (JSON).
 * A round over a large store takes a while, so the wait is at least
 * REPAIR_WAIT_MS whatever --timeout says.
 */
#define REPAIR_WAIT_MS		(30 * 60 * 1000)

static int
cmd_repair(const cli_options *o, dyn_client *c)
{
	cli_options lo = *o;
	dyn_frame	reply;
	dyn_slice	json;
	dyn_slice	none = {NULL, 0};
	int			rc;

	if (lo.timeout_ms < REPAIR_WAIT_MS)
		lo.timeout_ms = REPAIR_WAIT_MS;
	if (dyn_client_send_frame(c, DYN_MSG_REPAIR, none) == 0)
		return fail(EXIT_FAILED, "%s", dyn_client_errmsg(c));
	if ((rc = run_request(&lo, c, &reply)) != EXIT_DONE)
		return rc;
	if (reply.type != DYN_MSG_REPAIR_REPLY ||
		dyn_status_reply_decode(reply.body, &json) != DYN_OK)
		return fail(EXIT_FAILED, "%s sent a malformed reply", o->node);
	fwrite(json.ptr, 1, json.len, stdout);
	fputc('\n', stdout);
	return EXIT_DONE;
}

/*
 * remove NODE_ID: the node plans the leave (every partition of NODE_ID gets
 * a new owner, which pulls it), then this waits until the ring no longer
 * holds NODE_ID -- every partition handed over -- so that the node can be
 * stopped with nothing lost.  Prints the plan, then "removed NODE_ID".
 */
#define REMOVE_WAIT_MS		(30 * 60 * 1000)
#define REMOVE_POLL_MS		200

static int
cmd_remove(const cli_options *o, dyn_client *c)
{
	const char *id = o->args[1];
	dyn_buf		body;
	dyn_frame	reply;
	dyn_slice	json;
	uint64_t	waited = 0;
	bool		has = true;
	int			rc;

	if (strlen(id) == 0 || strlen(id) > DYN_NODE_ID_MAX)
		return fail(EXIT_USAGE, "a node id is 1 to %d bytes", DYN_NODE_ID_MAX);
	dyn_buf_init(&body);
	dyn_buf_put_u8(&body, (uint8_t) strlen(id));
	dyn_buf_append(&body, id, strlen(id));
	rc = dyn_client_send_frame(c, DYN_MSG_REMOVE, dyn_buf_slice(&body)) == 0;
	dyn_buf_free(&body);
	if (rc)
		return fail(EXIT_FAILED, "%s", dyn_client_errmsg(c));
	if ((rc = run_request(o, c, &reply)) != EXIT_DONE)
		return rc;
	if (reply.type != DYN_MSG_REMOVE_REPLY ||
		dyn_status_reply_decode(reply.body, &json) != DYN_OK)
		return fail(EXIT_FAILED, "%s sent a malformed reply", o->node);
	fwrite(json.ptr, 1, json.len, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	while (waited < REMOVE_WAIT_MS)
	{
		if ((rc = ring_has_member(o, c, id, &has)) != EXIT_DONE)
			return rc;
		if (!has)
		{
			if (!o->json)
				printf("removed %s\n", id);
			return EXIT_DONE;
		}
		usleep(REMOVE_POLL_MS * 1000);
		waited += REMOVE_POLL_MS;
	}
	return fail(EXIT_FAILED, "%s still owns partitions after %d s; the handoff goes on "
				"in the background (see dynamo-cli status)", id, REMOVE_WAIT_MS / 1000);
}

/*
 * Ask the node for its ring and its verdict on each member; on EXIT_DONE
 * the caller frees *rt.
 */
static int
fetch_routing(const cli_options *o, dyn_client *c, dyn_routing *rt)
{
	dyn_frame	reply;
	int			rc;

	dyn_client_send_ring(c);
	if ((rc = run_request(o, c, &reply)) != EXIT_DONE)
		return rc;
	dyn_routing_init(rt);
	if (reply.type != DYN_MSG_RING_REPLY || dyn_routing_decode(reply.body, rt) != DYN_OK)
	{
		dyn_routing_free(rt);
		return fail(EXIT_FAILED, "%s sent a malformed ring", o->node);
	}
	return EXIT_DONE;
}

/* Whether the ring the node holds still lists id. */
static int
ring_has_member(const cli_options *o, dyn_client *c, const char *id, bool *has)
{
	dyn_routing rt;
	int			rc;

	if ((rc = fetch_routing(o, c, &rt)) != EXIT_DONE)
		return rc;
	*has = dyn_ring_member_index(&rt.ring, dyn_slice_str(id)) >= 0;
	dyn_routing_free(&rt);
	return EXIT_DONE;
}

/* Print "dynamo-cli: message" to stderr and return code. */
static int
fail(int code, const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "dynamo-cli: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}
