/*
 * The commands' options as tables: one getopt_long loop for them all, so
 * a command declares what it takes and where each value goes, and every
 * command answers -h/--help, -V/--version and a bad option the same way.
 */
#include <getopt.h>
#include <stdlib.h>

#include "cli.h"

/* The getopt_long value of a long-only option: past every char. */
#define LONG_ONLY(i)	(0x100 + (int)(i))

static bool
takes_value(const struct cli_opt *o)
{
	return o->co_kind != CLI_OPT_FLAG && o->co_kind != CLI_OPT_SET;
}

/*
 * getopt_long's tables for opts, with --help and --version after them.
 * A table longer than CLI_OPTS_MAX is a programming error.
 */
static void
build(const struct cli_opt *opts, struct option *longs, char *shorts)
{
	size_t i, n = 0;

	for (i = 0; opts[i].co_long != NULL; i++) {
		if (i == CLI_OPTS_MAX)
			abort();
		longs[i] = (struct option){ opts[i].co_long,
		    takes_value(&opts[i]) ? required_argument : no_argument,
		    NULL, opts[i].co_short ? opts[i].co_short : LONG_ONLY(i) };
		if (opts[i].co_short) {
			shorts[n++] = (char)opts[i].co_short;
			if (takes_value(&opts[i]))
				shorts[n++] = ':';
		}
	}
	longs[i++] = (struct option){ "help", no_argument, NULL, 'h' };
	longs[i++] = (struct option){ "version", no_argument, NULL, 'V' };
	longs[i] = (struct option){ NULL, 0, NULL, 0 };
	shorts[n++] = 'h';
	shorts[n++] = 'V';
	shorts[n] = '\0';
}

static const struct cli_opt *
find(const struct cli_opt *opts, int ch)
{
	for (size_t i = 0; opts[i].co_long != NULL; i++)
		if (ch == (opts[i].co_short ? opts[i].co_short : LONG_ONLY(i)))
			return &opts[i];
	return NULL;
}

/* Stores one option's value in field. Returns 0, or -1 after saying why. */
static int
store(const char *cmd, const struct cli_opt *o, char *arg, void *field)
{
	switch (o->co_kind) {
	case CLI_OPT_FLAG:
		*(bool *)field = true;
		return 0;
	case CLI_OPT_SET:
		*(int *)field = o->co_value;
		return 0;
	case CLI_OPT_TENANT:
		if (!cli_valid_tenant(cmd, arg))
			return -1;
		break;
	case CLI_OPT_STREAM:
		if (!cli_valid_stream(cmd, arg))
			return -1;
		break;
	case CLI_OPT_TIMEOUT:
		return cli_parse_timeout(cmd, arg, field);
	case CLI_OPT_FUNC:
		return o->co_parse(cmd, arg, field);
	case CLI_OPT_STR:
		break;
	}
	*(const char **)field = arg;
	return 0;
}

int
cli_opts_parse(int argc, char **argv, const struct cli_opt *opts, void *dst)
{
	struct option longs[CLI_OPTS_MAX + 3];
	char shorts[CLI_OPTS_MAX * 2 + 3];
	const struct cli_opt *o;
	int ch;

	build(opts, longs, shorts);
	/* 0, not 1: glibc starts over and permutes again (see main). */
	optind = 0;
	while ((ch = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		if ((o = find(opts, ch)) == NULL)
			return cli_opt_other(argv, ch);
		if (store(argv[0], o, optarg, (char *)dst + o->co_off) < 0)
			return EX_USAGE;
	}
	return -1;
}
