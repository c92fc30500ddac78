/*
 * mysimbdp: the operator's and tenant's command line.
 *
 * Every command takes -h/--help and -V/--version among its options, and
 * exits with a sysexits(3) status (cli.h); its help says which.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build_config.h"
#include "cli.h"
#include "conf.h"
#include "log.h"
#include "units.h"

struct command {
	const char	*name;
	int		(*run)(const struct cli *, int, char **);
	const char	*args;
	const char	*help;
	const char	*options;	/* lines "  -x, --long V  what" */
	const char	*exits;		/* what each exit status means */
};

#define OPT_JSON	"  -j, --json           print the result as one JSON " \
	"document\n"
#define OPT_TIMEOUT	"  -t, --timeout D      wait D for the daemon's " \
	"reply (default 5s)\n"
#define OPT_STREAM	"  -s, --stream S       only stream S of the tenant\n"
#define OPT_PROGRESS	"      --progress       show progress on stderr, " \
	"terminal or not\n" \
	"      --no-progress    never (default: only when stderr is a " \
	"terminal)\n"
#define CTL_EXITS	"0 done; 64 usage; 65 refused by streammgr; 69 " \
	"streammgr is not running; 75 no reply in time; 76 a reply that is " \
	"not the protocol's; 77 no permission to reach the socket; 78 a bad " \
	"platform file"

static const struct command commands[] = {
	{ "check-config", cmd_check_config, "[FILE|DIR] [--json]",
	    "validate the platform file, a tenant profile or a folder of "
	    "them (default: the platform file and its tenants)",
	    OPT_JSON,
	    "0 valid; 64 usage; 66 FILE or DIR does not exist; 77 it may "
	    "not be read; 78 configuration errors" },
	{ "status", cmd_status,
	    "[TENANT] [--stream S] [--streams] [--json] [--timeout D] [--cluster]",
	    "one row per tenant: batch files waiting, jobs running, stream "
	    "instances, backlog, rates and state (asks batchmgr and "
	    "streammgr); with TENANT or --streams also one row per stream",
	    OPT_STREAM
	    "  -v, --streams        also one row per stream and per running "
	    "job\n"
	    "  -C, --cluster        every node of the cluster description "
	    "(--cluster-file,\n"
	    "                       or the platform's), asked over TCP with "
	    "--key, in one\n"
	    "                       table; a node that does not answer says "
	    "so\n"
	    OPT_JSON OPT_TIMEOUT,
	    "0 at least one daemon answered (the other's columns show \"-\"); "
	    "64 usage; 65 no daemon knows TENANT (or its stream S); 69 "
	    "neither daemon is running; 75 no reply in time; 76 a reply that "
	    "is not the protocol's; 77 no permission to reach the sockets; "
	    "78 a bad platform file" },
	{ "stats", cmd_stats,
	    "[--tenant T] [--since TIME] [--mongo] [--quality] [--json]",
	    "files, bytes, rows, durations and throughput per tenant, from "
	    "log/ingest.jsonl; with --quality, data quality per tenant and "
	    "dataset, from log/quality.jsonl",
	    "  -t, --tenant T       only tenant T\n"
	    "  -Q, --quality        rows checked and refused by the quality "
	    "rules, per\n"
	    "                       rule, and files quarantined\n"
	    "  -s, --since TIME     only since TIME (2026-11-21T10:00:00Z, "
	    "or an age: 1h)\n"
	    "  -m, --mongo          from the records the monitor stored in "
	    "MongoDB, not the file\n"
	    OPT_JSON,
	    "0 done; 64 usage; 66 the log cannot be opened; 69 "
	    "MongoDB cannot be read; 74 the log cannot be read to its end; "
	    "77 it may not be read; 78 a bad platform file, or --mongo "
	    "without a mongodb:// mongo_url" },
	{ "retry", cmd_retry, "TENANT [DATASET/]FILE [--force] [--json]",
	    "move a file from failed/ (or quarantine/) back to incoming/ to "
	    "run it again (under its own name: x.csv.1 as x.csv)",
	    "  -F, --force          ingest it past its dataset's quality "
	    "threshold (a\n"
	    "                       quarantined file)\n"
	    OPT_JSON,
	    "0 moved; 64 usage; 66 no such tenant or failed file; 73 the "
	    "move failed (a file of that name waits in incoming/), or the "
	    "force mark could not be set; 77 no permission; 78 a bad "
	    "platform file" },
	{ "load", cmd_load,
	    "--collection C [--format csv|jsonl] [--schema FILE] [--json] "
	    "[--no-metrics] [--progress|--no-progress] [FILE]",
	    "load a CSV or JSON-lines file into the sink named by MONGO_URL "
	    "and MONGO_DB (for tenant apps; FILE defaults to "
	    "MYSIMBDP_INPUT_FILE)",
	    "  -C, --collection C   the collection to write to\n"
	    "  -f, --format F       csv or jsonl (default: jsonl for .jsonl "
	    "and .ndjson)\n"
	    "  -s, --schema FILE    CSV column types (default: every column "
	    "a string)\n"
	    "  -M, --no-metrics     send no metric reports (by default load "
	    "reports\n"
	    "                       rows, bytes, errors and ingest time to "
	    "ZMQ_METRICS_ENDPOINT)\n"
	    OPT_JSON OPT_PROGRESS,
	    "0 done; 64 usage; 65 the input is not CSV or JSON lines (every "
	    "row rejected); 66 "
	    "FILE cannot be opened; 69 the sink refused for good; 70 an "
	    "internal error; 74 FILE cannot be read; 75 the sink is "
	    "unavailable or memory ran out (try again later); 77 no "
	    "permission to open FILE; "
	    "78 a bad schema or environment" },
	{ "send", cmd_send,
	    "TENANT [--stream S] [--file F] [--rate N] [--window N] [--json] "
	    "[--progress|--no-progress] [--timeout D] "
	    "[--node HOST:PORT --key FILE --server-key KEY | --cluster --key FILE]",
	    "send each line of F (or stdin) as one message to a stream",
	    "  -s, --stream S       the stream (default: default)\n"
	    "  -f, --file F         read F instead of standard input\n"
	    "  -r, --rate N         send N messages a second at most\n"
	    "  -w, --window N       messages awaiting their reply at most "
	    "(default 1000)\n"
	    OPT_JSON OPT_PROGRESS
	    "  -t, --timeout D      give up on a reply after D (default "
	    "10s)\n"
	    "  -n, --node HOST:PORT send to the node there (its remote.listen) "
	    "over TCP\n"
	    "                       with CURVE, not to this host's socket\n"
	    "  -k, --key FILE       with --node: the tenant's key pair "
	    "(mysimbdp keygen)\n"
	    "  -S, --server-key KEY with --node: the node's public key, or a "
	    "file of it\n"
	    "                       (default: $MYSIMBDP_SERVER_KEY)\n"
	    "  -C, --cluster        to the node that serves TENANT, with its "
	    "key, from the\n"
	    "                       cluster description (--cluster-file, or "
	    "the platform's)\n",
	    "0 every message accepted; 64 usage (a bad --node too); 65 some "
	    "rejected; 66 F cannot be opened, or --key or --server-key "
	    "cannot be read or holds no key; 69 the stream's socket is not "
	    "there; 70 the producer failed; 74 F cannot be read; 75 some "
	    "throttled or unanswered; 77 no permission to reach the socket, "
	    "or the node refused the key; 78 a bad platform file" },
	{ "keygen", cmd_keygen, "FILE | --tenant T --encryption [FILE]",
	    "write a new CURVE key pair: FILE (both keys, mode 0600) and "
	    "FILE.pub (the public key, to list in a tenant's producer_keys "
	    "or to give producers as the node's key); with --encryption, an "
	    "age identity for T's encrypted files (mode 0600, the platform's), "
	    "printing the public key T encrypts for",
	    "  -T, --tenant T       with --encryption: the tenant\n"
	    "  -e, --encryption     an age identity (default FILE: the state "
	    "folder's\n"
	    "                       keys/T/age-TIME.key)\n",
	    "0 written; 64 usage; 73 FILE or FILE.pub exists already, or "
	    "cannot be written; 70 libzmq has no CURVE, or no public key came "
	    "out of age-keygen; 78 a bad platform file" },
	{ "start", cmd_start, "TENANT [--stream S] [--json] [--timeout D]",
	    "(re)start a tenant's streams at their desired instance count",
	    OPT_STREAM OPT_JSON OPT_TIMEOUT, CTL_EXITS },
	{ "stop", cmd_stop, "TENANT [--stream S] [--json] [--timeout D]",
	    "stop a tenant's instances; producers are still accepted",
	    OPT_STREAM OPT_JSON OPT_TIMEOUT, CTL_EXITS },
	{ "drain", cmd_drain, "TENANT [--stream S] [--json] [--timeout D]",
	    "refuse new messages, deliver the backlog, then stop",
	    OPT_STREAM OPT_JSON OPT_TIMEOUT, CTL_EXITS },
	{ "scale", cmd_scale,
	    "TENANT N [--stream S] [--reason TEXT] [--json] [--timeout D]",
	    "set a stream's desired instance count (clamped to min..max)",
	    "  -s, --stream S       the stream (needed when the tenant has "
	    "several)\n"
	    "  -r, --reason TEXT    why, for the logs (default: operator)\n"
	    OPT_JSON OPT_TIMEOUT, CTL_EXITS },
	{ "dead-letters", cmd_dead_letters,
	    "TENANT [--stream S] [--json] | TENANT --requeue [--id N]... "
	    "[--stream S] [--json] [--timeout D]",
	    "list a tenant's dead letters, or move them back into the queue",
	    OPT_STREAM
	    "  -r, --requeue        move them back into the queue "
	    "(streammgr)\n"
	    "  -i, --id N           only dead letter N (repeatable)\n"
	    OPT_JSON OPT_TIMEOUT,
	    "0 done; 64 usage; 65 an id is not a dead letter (or streammgr "
	    "refused); 66 the tenant has no queue folder; 69, 75, 76, 77 "
	    "from the request to streammgr; 74 a file cannot be read; 78 a "
	    "bad platform file" },
	{ "sshd-config", cmd_sshd_config, "[TENANT]",
	    "print the sshd Match block of each tenant with a user (or of "
	    "TENANT): sftp and scp (and rsync after sshd-jail) into its "
	    "staging folder only, chrooted there; include it in sshd's "
	    "configuration",
	    "",
	    "0 printed; 64 usage; 65 TENANT is unknown or has no user; 78 a "
	    "bad configuration, or a staging folder sshd would refuse to "
	    "chroot into (said on stderr)" },
	{ "sshd-jail", cmd_sshd_jail, "[TENANT]",
	    "put the upload shell, sftp-server and rsync with their "
	    "libraries into the staging folder of each tenant with a user "
	    "(or of TENANT), for rsync uploads; run again after upgrading "
	    "them",
	    "",
	    "0 done; 64 usage; 65 TENANT is unknown or has no user; 69 "
	    "sftp-server or rsync is missing; 73 a file cannot be written; "
	    "77 not root; 78 a bad configuration, or a staging folder sshd "
	    "would refuse to chroot into" },
	{ "move", cmd_move, "TENANT --to NODE [--timeout D]",
	    "move a tenant to another node of the cluster description, "
	    "losing nothing: drain it on its node, rewrite the file, reload "
	    "both nodes, check the new one took it over (undone if not); "
	    "needs --key, an operator key of both",
	    "  -T, --to NODE        the node to move the tenant to\n"
	    "  -t, --timeout D      wait at most D for the drain and for the "
	    "handover\n"
	    "                       (default 5m)\n",
	    "0 moved; 64 usage; 65 the tenant or node is unknown, or the "
	    "tenant is there already; 69 a daemon does not answer (nothing "
	    "changed); 73 the cluster file cannot be written; 75 not drained "
	    "or not taken over in time (undone); 78 a bad cluster file" },
	{ "control", cmd_control, "[--daemon streammgr|batchmgr] "
	    "[--timeout D] JSON",
	    "send one raw control request to streammgr (or batchmgr), print "
	    "the raw reply (which is JSON)",
	    "  -d, --daemon D       streammgr (default) or batchmgr\n"
	    OPT_TIMEOUT,
	    "0 the reply says \"ok\":true; 64 usage; 65 it says false; 69 "
	    "the daemon is not running; 75 no reply in time; 76 a reply that "
	    "is not the protocol's; 77 no permission to reach the socket; 78 "
	    "a bad platform file" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *
command_find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* Whether a command works against a node elsewhere (--node). */
static bool
remote_command(const char *name)
{
	static const char *const remote[] = { "status", "send", "start",
	    "stop", "drain", "scale", "control" };

	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
		if (strcmp(remote[i], name) == 0)
			return true;
	return false;
}

static void
usage(FILE *out)
{
	fprintf(out, "usage: mysimbdp [-c FILE] [--node HOST:PORT --key FILE "
	    "--server-key KEY] COMMAND [ARGS]\n\n"
	    "  -c, --config FILE  platform configuration (default: "
	    "$MYSIMBDP_CONF or %s)\n"
	    "  --node HOST:PORT   ask the node there (its remote.listen) over "
	    "TCP with CURVE,\n"
	    "                     as an operator: status, start, stop, drain, "
	    "scale, control,\n"
	    "                     send (default: $MYSIMBDP_NODE)\n"
	    "  --key FILE         your key pair, one of the node's "
	    "remote.operator_keys\n"
	    "                     (for send: one of the tenant's "
	    "producer_keys; $MYSIMBDP_KEY)\n"
	    "  --server-key KEY   the node's public key, or a file of it "
	    "($MYSIMBDP_SERVER_KEY)\n"
	    "  --cluster-file F   the cluster description for status --cluster, "
	    "send --cluster\n"
	    "                     and move ($MYSIMBDP_CLUSTER; default: the "
	    "platform file's)\n"
	    "  -h, --help         this help\n"
	    "  -V, --version      print the version\n\n"
	    "With --node, every command exits 64 for a HOST:PORT that is not "
	    "one (PORT 1 to\n65533, to 65535 for send) and 66 when the key "
	    "file or the server key cannot be\nread or holds no key.\n\n"
	    "commands (each takes --help and --version too):\n",
	    MYSIMBDP_DEFAULT_CONF);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %s %s\n      %s\n", commands[i].name,
		    commands[i].args, commands[i].help);
}

static void
version(void)
{
	printf("mysimbdp %s\n", MYSIMBDP_VERSION);
}

/*
 * Prints prefix, then text as a sentence (capital first, full stop last),
 * wrapped at 76 columns.
 */
static void
print_wrapped(const char *prefix, const char *text)
{
	size_t col = strlen(prefix);
	const char *p = text;

	fputs(prefix, stdout);
	while (*p) {
		size_t word = strcspn(p, " ");

		if (col > 0 && col + 1 + word > 76) {
			putchar('\n');
			col = 0;
		} else if (p != text) {
			putchar(' ');
			col++;
		}
		if (p == text) {
			putchar(toupper((unsigned char)*p));
			fwrite(p + 1, 1, word - 1, stdout);
		} else
			fwrite(p, 1, word, stdout);
		col += word;
		p += word;
		p += strspn(p, " ");
	}
	puts(".");
}

/* The command's help: usage, what it does, options, exit statuses. */
static void
help(const struct command *c)
{
	printf("usage: mysimbdp %s %s\n\n", c->name, c->args);
	print_wrapped("", c->help);
	printf("\noptions:\n%s"
	    "  -h, --help           this help\n"
	    "  -V, --version        print the version\n\n", c->options);
	print_wrapped("Exit status: ", c->exits);
}

int
cli_usage_error(const char *cmd)
{
	const struct command *c = command_find(cmd);

	if (c != NULL)
		fprintf(stderr, "usage: mysimbdp %s %s\n", c->name, c->args);
	return EX_USAGE;
}

int
cli_opt_other(char **argv, int ch)
{
	const struct command *c = command_find(argv[0]);

	switch (ch) {
	case 'h':
		if (c != NULL)
			help(c);
		return EX_OK;
	case 'V':
		version();
		return EX_OK;
	}
	/* opterr is 0 (main): the option as given, unknown or missing its
	 * value, is named here. A short one may sit in a group ("-rf") that
	 * optind has not passed yet: getopt's optopt names it. */
	const char *opt = argv[optind - 1];
	char q[CLI_QUOTE_MAX], shortopt[3] = { '-', (char)optopt, '\0' };

	if (strncmp(opt, "--", 2) != 0 && optopt > ' ' && optopt < 0x7f)
		opt = shortopt;
	fprintf(stderr, "mysimbdp %s: bad option \"%s\" (unknown, or "
	    "missing its value)\n", argv[0], cli_quote(opt, q, sizeof(q)));
	return cli_usage_error(argv[0]);
}

int
cli_parse_timeout(const char *cmd, const char *s, uint64_t *ms)
{
	const char *why = "must be more than 0";

	if (units_parse_duration(s, ms, &why) < 0 || *ms == 0) {
		fprintf(stderr, "mysimbdp %s: --timeout \"%s\": %s (e.g. 5s, "
		    "500ms)\n", cmd, s, why);
		return -1;
	}
	return 0;
}

const char *
cli_quote(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (; *s && n + 8 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
			buf[n++] = '\\', buf[n++] = 'x';
			buf[n++] = hex[c >> 4], buf[n++] = hex[c & 15];
		} else
			buf[n++] = (char)c;
	}
	if (*s)
		buf[n++] = '.', buf[n++] = '.', buf[n++] = '.';
	buf[n] = '\0';
	return buf;
}

bool
cli_valid_node(const char *cmd, const char *what, const char *s,
    bool control)
{
	unsigned long max = control ? 65535 - CONF_CONTROL_BATCHMGR : 65535;
	/* The control sockets' address the farthest from the given one. */
	char *ep = conf_remote_endpoint(s, control ? CONF_CONTROL_BATCHMGR :
	    0), q[CLI_QUOTE_MAX];

	free(ep);
	if (ep != NULL)
		return true;
	fprintf(stderr, "mysimbdp%s%s: %s \"%s\": must be HOST:PORT, the "
	    "node's remote.listen, with PORT 1 to %lu%s\n", cmd ? " " : "",
	    cmd ? cmd : "", what, cli_quote(s, q, sizeof(q)), max, control ?
	    " (its control sockets listen on the next two)" : "");
	return false;
}

bool
cli_valid_tenant(const char *cmd, const char *s)
{
	char q[CLI_QUOTE_MAX];

	if (conf_valid_id(s))
		return true;
	fprintf(stderr, "mysimbdp %s: \"%s\" is not a tenant id (1 to 32 "
	    "characters from a-z, 0-9, '_' and '-')\n", cmd,
	    cli_quote(s, q, sizeof(q)));
	return false;
}

bool
cli_valid_stream(const char *cmd, const char *s)
{
	char q[CLI_QUOTE_MAX];

	if (conf_valid_stream_name(s))
		return true;
	fprintf(stderr, "mysimbdp %s: \"%s\" is not a stream name (1 to 32 "
	    "characters from a-z, 0-9, '_' and '-'; a subscription: "
	    "STREAM.NAME)\n", cmd,
	    cli_quote(s, q, sizeof(q)));
	return false;
}

void
cli_print_json(const bson_t *doc)
{
	char *json = bson_as_relaxed_extended_json(doc, NULL);

	/* libbson refuses strings that are not UTF-8: names go in through
	 * jsonline_append_text, so this is a bug, said rather than a crash. */
	if (json == NULL) {
		fprintf(stderr, "mysimbdp: the result cannot be written as "
		    "JSON (a string is not UTF-8)\n");
		return;
	}
	printf("%s\n", json);
	bson_free(json);
}

struct conf_platform *
cli_load_platform(const struct cli *cli)
{
	struct conf_errors errs = { 0 };
	struct conf_platform *p = conf_platform_load(cli->c_conf, &errs);

	if (p == NULL) {
		conf_errors_print(&errs);
		conf_errors_free(&errs);
	}
	return p;
}

struct conf_cluster *
cli_load_cluster(const struct cli *cli)
{
	struct conf_errors errs = { 0 };
	struct conf_cluster *c = NULL;
	struct conf_platform *p;

	if (cli->c_cluster != NULL)
		c = conf_cluster_load(cli->c_cluster, &errs);
	else if ((p = cli_load_platform(cli)) == NULL)
		return NULL;
	else {
		if (p->p_cluster_conf.pc_file == NULL)
			fprintf(stderr, "mysimbdp: %s has no cluster.file: give "
			    "--cluster-file FILE\n", p->p_file);
		else
			c = conf_cluster_load(p->p_cluster_conf.pc_file, &errs);
		conf_platform_free(p);
	}
	conf_errors_print(&errs);
	conf_errors_free(&errs);
	return c;
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "node", required_argument, NULL, 'n' },
		{ "key", required_argument, NULL, 'k' },
		{ "server-key", required_argument, NULL, 'S' },
		{ "cluster-file", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli = { getenv("MYSIMBDP_CONF"), getenv("MYSIMBDP_NODE"),
	    getenv("MYSIMBDP_KEY"), getenv("MYSIMBDP_SERVER_KEY"),
	    getenv("MYSIMBDP_CLUSTER") };
	const char *node_from = "$MYSIMBDP_NODE";
	const struct command *c;
	int ch;

	log_init("mysimbdp", true, false);
	/* "+": stop at the command, whose options are its own. */
	while ((ch = getopt_long(argc, argv, "+c:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cli.c_conf = optarg;
			break;
		case 'n':
			cli.c_node = optarg;
			node_from = "--node";
			break;
		case 'k':
			cli.c_key = optarg;
			break;
		case 'S':
			cli.c_server_key = optarg;
			break;
		case 'C':
			cli.c_cluster = optarg;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			version();
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (cli.c_conf == NULL)
		cli.c_conf = MYSIMBDP_DEFAULT_CONF;
	if (cli.c_node != NULL && (cli.c_key == NULL ||
	    cli.c_server_key == NULL)) {
		fprintf(stderr, "mysimbdp: --node needs --key FILE and "
		    "--server-key KEY (or $MYSIMBDP_KEY, "
		    "$MYSIMBDP_SERVER_KEY)\n");
		return EX_USAGE;
	}
	if (optind >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if ((c = command_find(argv[optind])) == NULL) {
		char q[CLI_QUOTE_MAX];

		fprintf(stderr, "mysimbdp: unknown command \"%s\"\n",
		    cli_quote(argv[optind], q, sizeof(q)));
		usage(stderr);
		return EX_USAGE;
	}
	if (cli.c_node != NULL && !remote_command(c->name)) {
		fprintf(stderr, "mysimbdp %s: works on the node's own host "
		    "only (it reads or writes files there), not with --node\n",
		    c->name);
		return EX_USAGE;
	}
	/* send goes to the producers' port, the others to the control
	 * ports after it. */
	if (cli.c_node != NULL && !cli_valid_node(NULL, node_from, cli.c_node,
	    strcmp(c->name, "send") != 0))
		return EX_USAGE;
	/*
	 * The commands say what was wrong with an option themselves (see
	 * cli_opts_parse, cli_opt_other). Each restarts getopt with optind
	 * 0, so that glibc permutes again and options may follow the
	 * arguments ("status acme --json"); the "+" above would stay in
	 * force otherwise.
	 */
	opterr = 0;
	/* The command sees its own name as argv[0]. */
	return c->run(&cli, argc - optind, argv + optind);
}
