/*
 * mysimbdp: the operator's and tenant's command line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build_config.h"
#include "cli.h"
#include "conf.h"
#include "log.h"

struct command {
	const char	*name;
	int		(*run)(const struct cli *, int, char **);
	const char	*args;
	const char	*help;
};

static const struct command commands[] = {
	{ "check-config", cmd_check_config, "[FILE|DIR]",
	    "validate the platform file, a tenant profile or a folder of them" },
	{ "stats", cmd_stats, "[--tenant T] [--since TIME] [--json]",
	    "files, bytes, rows, durations and throughput per tenant" },
	{ "retry", cmd_retry, "TENANT [DATASET/]FILE",
	    "move a file from failed/ back to incoming/ to run it again" },
	{ "load", cmd_load,
	    "--collection C [--format csv|jsonl] [--schema FILE] [FILE]",
	    "load a CSV or JSON-lines file into the sink named by MONGO_URL "
	    "and MONGO_DB (for tenant apps)" },
	{ "status", cmd_status, "[TENANT] [--stream S] [--json] [--timeout D]",
	    "every stream's state, instances, backlog, rates and counters "
	    "(streammgr)" },
	{ "start", cmd_start, "TENANT [--stream S] [--timeout D]",
	    "(re)start a tenant's streams at their desired instance count" },
	{ "stop", cmd_stop, "TENANT [--stream S] [--timeout D]",
	    "stop a tenant's instances; producers are still accepted" },
	{ "drain", cmd_drain, "TENANT [--stream S] [--timeout D]",
	    "refuse new messages, deliver the backlog, then stop" },
	{ "scale", cmd_scale,
	    "TENANT N [--stream S] [--reason TEXT] [--timeout D]",
	    "set a stream's desired instance count (clamped to min..max)" },
	{ "send", cmd_send,
	    "TENANT [--stream S] [--file F] [--rate N] [--window N] [--json] "
	    "[--timeout D]",
	    "send each line of F (or stdin) as one message to a stream" },
	{ "dead-letters", cmd_dead_letters,
	    "TENANT [--stream S] [--json] | --requeue [--id N]...",
	    "list a tenant's dead letters, or move them back into the queue" },
	{ "control", cmd_control, "[--timeout D] JSON",
	    "send one raw control request to streammgr, print the raw reply" },
};

static void
usage(FILE *out)
{
	fprintf(out, "usage: mysimbdp [-c FILE] COMMAND [ARGS]\n\n"
	    "  -c, --config FILE  platform configuration (default: "
	    "$MYSIMBDP_CONF or %s)\n"
	    "  -h, --help         this help\n"
	    "  -V, --version      print the version\n\ncommands:\n",
	    MYSIMBDP_DEFAULT_CONF);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-13s %-38s %s\n", commands[i].name,
		    commands[i].args, commands[i].help);
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

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli = { getenv("MYSIMBDP_CONF") };
	int ch;

	log_init("mysimbdp", true, false);
	/* "+": stop at the command, whose options are its own. */
	while ((ch = getopt_long(argc, argv, "+c:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cli.c_conf = optarg;
			break;
		case 'h':
			usage(stdout);
			return EX_OK_CODE;
		case 'V':
			printf("mysimbdp %s\n", MYSIMBDP_VERSION);
			return EX_OK_CODE;
		default:
			usage(stderr);
			return EX_USAGE_CODE;
		}
	}
	if (cli.c_conf == NULL)
		cli.c_conf = MYSIMBDP_DEFAULT_CONF;
	if (optind >= argc) {
		usage(stderr);
		return EX_USAGE_CODE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) != 0)
			continue;
		if (argc - optind > 1 && (strcmp(argv[optind + 1], "--help") == 0 ||
		    strcmp(argv[optind + 1], "-h") == 0)) {
			printf("usage: mysimbdp %s %s\n  %s\n", commands[i].name,
			    commands[i].args, commands[i].help);
			return EX_OK_CODE;
		}
		/* The command sees its own name as argv[0]. */
		return commands[i].run(&cli, argc - optind, argv + optind);
	}
	fprintf(stderr, "mysimbdp: unknown command \"%s\"\n", argv[optind]);
	usage(stderr);
	return EX_USAGE_CODE;
}
