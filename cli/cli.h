/*
 * The mysimbdp command line: one file per command, each entry taking the
 * global options and its own argv (argv[0] is the command name) and
 * returning a sysexits code.
 */
#ifndef MYSIMBDP_CLI_H
#define MYSIMBDP_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include <bson/bson.h>

#define EX_OK_CODE		0
#define EX_USAGE_CODE		64
#define EX_DATAERR_CODE		65
#define EX_NOINPUT_CODE		66
#define EX_UNAVAILABLE_CODE	69
#define EX_SOFTWARE_CODE	70
#define EX_CANTCREAT_CODE	73
#define EX_IOERR_CODE		74
#define EX_TEMPFAIL_CODE	75
#define EX_PROTOCOL_CODE	76
#define EX_NOPERM_CODE		77

struct cli {
	const char	*c_conf;	/* platform file: -c, $MYSIMBDP_CONF, default */
};

struct conf_platform;

/* Loads the platform file or prints its errors; NULL means exit 78. */
struct conf_platform *cli_load_platform(const struct cli *cli);

/* cmd_stream.c */

/*
 * Parses a --timeout value ("5s", "500ms"; more than 0) into *ms. Returns
 * 0, or -1 after printing why as "mysimbdp <cmd>: ...".
 */
int cli_parse_timeout(const char *cmd, const char *s, uint64_t *ms);

/*
 * Whether a daemon listens on the ipc socket file at path. Returns
 * EX_OK_CODE, or the exit status after printing why: 69 with
 * "mysimbdp: <missing> (no <path>)" or "(nothing listens on <path>)",
 * 77 when the socket may not be reached (permissions), 78 when the path
 * does not fit sun_path.
 */
int cli_socket_check(const char *path, const char *missing);

/* cmd_stream.c: shared with the other streammgr commands */

/*
 * Sends one control request to streammgr and checks the reply. Returns
 * EX_OK_CODE with the reply in *replyp (bson_destroy it), or the exit
 * status after saying why (65 refused, 69, 75, 76, 77, 78).
 */
int cli_ctl_request(const struct cli *cli, const bson_t *req,
    uint64_t timeout_ms, bson_t **replyp);

/* Whether s is a tenant id; prints why not as "mysimbdp <cmd>: ...". */
bool cli_valid_tenant(const char *cmd, const char *s);

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
