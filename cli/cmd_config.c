#include <stdio.h>

#include "cli.h"
#include "conf.h"

/* check-config [FILE|DIR]: every error, then exit 78; or "configuration OK". */
int
cmd_check_config(const struct cli *cli, int argc, char **argv)
{
	struct conf_errors errs = { 0 };
	const char *path = cli->c_conf;
	size_t n;

	if (argc > 2) {
		fprintf(stderr, "usage: mysimbdp check-config [FILE|DIR]\n");
		return EX_USAGE_CODE;
	}
	if (argc == 2)
		path = argv[1];
	n = conf_check_path(path, &errs);
	conf_errors_print(&errs);
	conf_errors_free(&errs);
	if (n) {
		fprintf(stderr, "%s: %zu configuration error%s\n", path, n,
		    n == 1 ? "" : "s");
		return EX_CONFIG_CODE;
	}
	printf("configuration OK\n");
	return EX_OK_CODE;
}
