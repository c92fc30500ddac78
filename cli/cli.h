/*
 * The mysimbdp command line: one file per command, each entry taking the
 * global options and its own argv (argv[0] is the command name) and
 * returning a sysexits code.
 */
#ifndef MYSIMBDP_CLI_H
#define MYSIMBDP_CLI_H

#define EX_OK_CODE		0
#define EX_USAGE_CODE		64
#define EX_DATAERR_CODE		65
#define EX_NOINPUT_CODE		66
#define EX_SOFTWARE_CODE	70
#define EX_CANTCREAT_CODE	73
#define EX_IOERR_CODE		74
#define EX_TEMPFAIL_CODE	75

struct cli {
	const char	*c_conf;	/* platform file: -c, $MYSIMBDP_CONF, default */
};

struct conf_platform;

/* Loads the platform file or prints its errors; NULL means exit 78. */
struct conf_platform *cli_load_platform(const struct cli *cli);

int cmd_check_config(const struct cli *cli, int argc, char **argv);
int cmd_load(const struct cli *cli, int argc, char **argv);
int cmd_retry(const struct cli *cli, int argc, char **argv);
int cmd_stats(const struct cli *cli, int argc, char **argv);

#endif
