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


/*
 * The options every command takes: the end of each command's option
 * table, and of its short options string.
 */
#define CLI_COMMON_OPTIONS \
	{ "help", no_argument, NULL, 'h' }, \
	{ "version", no_argument, NULL, 'V' }, \
	{ NULL, 0, NULL, 0 }
#define CLI_COMMON_SHORT "hV"

struct cli {
	const char	*c_conf;	/* platform file: -c, $MYSIMBDP_CONF, default */
};

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

/* Whether s is a tenant id; prints why not as "mysimbdp <cmd>: ...". */
bool cli_valid_tenant(const char *cmd, const char *s);

/* Whether s is a stream name; prints why not as "mysimbdp <cmd>: ...". */
bool cli_valid_stream(const char *cmd, const char *s);

/* Prints doc as one line of JSON on stdout. */
void cli_print_json(const bson_t *doc);

int cmd_check_config(const struct cli *cli, int argc, char **argv);
int cmd_control(const struct cli *cli, int argc, char **argv);
int cmd_dead_letters(const struct cli *cli, int argc, char **argv);
int cmd_drain(const struct cli *cli, int argc, char **argv);
int cmd_load(const struct cli *cli, int argc, char **argv);
int cmd_retry(const struct cli *cli, int argc, char **argv);
int cmd_scale(const struct cli *cli, int argc, char **argv);
int cmd_send(const struct cli *cli, int argc, char **argv);
int cmd_start(const struct cli *cli, int argc, char **argv);
int cmd_stats(const struct cli *cli, int argc, char **argv);
int cmd_status(const struct cli *cli, int argc, char **argv);
int cmd_stop(const struct cli *cli, int argc, char **argv);

#endif
