/*
 * The mysimbdp command line: one file per command, each entry taking the
 * global options and its own argv (argv[0] is the command name) and
 * returning a sysexits code. Modules the commands share have their own
 * header: ctl.h (the daemons' control sockets), progress.h.
 */
#ifndef MYSIMBDP_CLI_H
#define MYSIMBDP_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sysexits.h>

#include <bson/bson.h>

struct cli {
	const char	*c_conf;	/* platform file: -c, $MYSIMBDP_CONF, default */
	const char	*c_node;	/* --node HOST:PORT: a node elsewhere */
	const char	*c_key;		/* --key: the operator's key pair */
	const char	*c_server_key;	/* --server-key: the node's public key */
	const char	*c_cluster;	/* --cluster-file, or the platform's */
};

struct conf_cluster;

/*
 * The cluster description: --cluster-file ($MYSIMBDP_CLUSTER), else the
 * platform file's cluster.file. NULL after printing why (exit 78).
 */
struct conf_cluster *cli_load_cluster(const struct cli *cli);


struct conf_platform;

/* mysimbdp.c */

/* Loads the platform file or prints its errors; NULL means exit 78. */
struct conf_platform *cli_load_platform(const struct cli *cli);

/*
 * What a command does with a getopt answer it has no case for: -h/--help
 * prints its help to stdout, -V/--version the version; both return 0.
 * Anything else (an unknown option, a missing value) is said on stderr
 * with the command's usage; returns 64.
 */
int cli_opt_other(char **argv, int ch);

/* Prints the command's usage line to stderr; returns 64. */
int cli_usage_error(const char *cmd);

/*
 * Parses a --timeout value ("5s", "500ms"; more than 0) into *ms. Returns
 * 0, or -1 after printing why as "mysimbdp <cmd>: ...".
 */
int cli_parse_timeout(const char *cmd, const char *s, uint64_t *ms);

/*
 * A name from the command line made safe to print in a message: the
 * first bytes of s, with control bytes, '"', '\\' and bytes past ASCII
 * written as \xHH, and "..." when s did not fit (a 4096-byte name or
 * one with a newline must not flood or forge lines). Returns buf.
 */
#define CLI_QUOTE_MAX 96
const char *cli_quote(const char *s, char *buf, size_t len);

/*
 * Whether s, given as what ("--node"), is a node's HOST:PORT: PORT 1 to
 * 65535, or to 65533 with control (the control sockets listen on PORT
 * + 1 and + 2). Prints why not as "mysimbdp[ <cmd>]: ..." (cmd may be
 * NULL).
 */
bool cli_valid_node(const char *cmd, const char *what, const char *s,
    bool control);

/* Whether s is a tenant id; prints why not as "mysimbdp <cmd>: ...". */
bool cli_valid_tenant(const char *cmd, const char *s);

/* Whether s is a stream name; prints why not as "mysimbdp <cmd>: ...". */
bool cli_valid_stream(const char *cmd, const char *s);

/* Prints doc as one line of JSON on stdout. */
void cli_print_json(const bson_t *doc);

/* opts.c */

/* What an option's value is, and what cli_opts_parse stores. */
enum cli_opt_kind {
	CLI_OPT_FLAG,		/* no value; bool: true */
	CLI_OPT_SET,		/* no value; int: co_value */
	CLI_OPT_STR,		/* const char *: the value as given */
	CLI_OPT_TENANT,		/* const char *: a tenant id */
	CLI_OPT_STREAM,		/* const char *: a stream name */
	CLI_OPT_TIMEOUT,	/* uint64_t: milliseconds (cli_parse_timeout) */
	CLI_OPT_FUNC,		/* whatever co_parse stores */
};

/*
 * One option of a command: --co_long, -co_short (0: long only), and where
 * its value goes: co_off bytes into the struct given to cli_opts_parse.
 * A table ends with CLI_OPT_END; -h/--help and -V/--version are added.
 */
struct cli_opt {
	const char	*co_long;
	int		 co_short;
	enum cli_opt_kind co_kind;
	size_t		 co_off;
	int		 co_value;	/* CLI_OPT_SET */
	/* CLI_OPT_FUNC: stores arg in field; returns 0, or -1 after
	 * printing "mysimbdp <cmd>: --option "arg": what is wrong". */
	int		(*co_parse)(const char *cmd, const char *arg,
			    void *field);
};

#define CLI_OPTS_MAX 16		/* options in one table, at most */

/* Table entries: the value of --l (or -s) goes to member of type. */
#define CLI_OPT(l, s, kind, type, member) { .co_long = (l), \
	.co_short = (s), .co_kind = (kind), .co_off = offsetof(type, member) }
#define CLI_OPT_FN(l, s, parse, type, member) { .co_long = (l), \
	.co_short = (s), .co_kind = CLI_OPT_FUNC, \
	.co_off = offsetof(type, member), .co_parse = (parse) }
#define CLI_OPT_SETS(l, value, type, member) { .co_long = (l), \
	.co_kind = CLI_OPT_SET, .co_off = offsetof(type, member), \
	.co_value = (value) }
#define CLI_OPT_END { .co_long = NULL }

/*
 * Parses argv's options (argv[0] is the command) by the table opts into
 * the struct at dst, leaving the operands at argv[optind..]. A bad value
 * is said on stderr, naming the option and the problem; a bad option as
 * cli_opt_other says it. Returns -1 to go on, or the exit status (0
 * after --help or --version, 64).
 */
int cli_opts_parse(int argc, char **argv, const struct cli_opt *opts,
    void *dst);

int cmd_check_config(const struct cli *cli, int argc, char **argv);
int cmd_control(const struct cli *cli, int argc, char **argv);
int cmd_dead_letters(const struct cli *cli, int argc, char **argv);
int cmd_drain(const struct cli *cli, int argc, char **argv);
int cmd_load(const struct cli *cli, int argc, char **argv);
int cmd_retry(const struct cli *cli, int argc, char **argv);
int cmd_scale(const struct cli *cli, int argc, char **argv);
int cmd_send(const struct cli *cli, int argc, char **argv);
int cmd_keygen(const struct cli *cli, int argc, char **argv);
int cmd_move(const struct cli *cli, int argc, char **argv);
int cmd_sshd_config(const struct cli *cli, int argc, char **argv);
int cmd_sshd_jail(const struct cli *cli, int argc, char **argv);
int cmd_start(const struct cli *cli, int argc, char **argv);
int cmd_stats(const struct cli *cli, int argc, char **argv);
int cmd_status(const struct cli *cli, int argc, char **argv);
int cmd_stop(const struct cli *cli, int argc, char **argv);

#endif
