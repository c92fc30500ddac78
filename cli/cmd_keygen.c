/*
 * keygen FILE: a new CURVE key pair, written the way ZeroMQ's tools
 * (czmq's zcert) write one: FILE holds both keys and is made with mode
 * 0600, FILE.pub holds the public key. Neither is replaced if it exists.
 *
 * Exit status: 0 written; 64 usage; 70 libzmq has no CURVE; 73 FILE or
 * FILE.pub exists, or cannot be written.
 */
#include <stdio.h>

#include "cli.h"
#include "curvekey.h"

int
cmd_keygen(const struct cli *cli, int argc, char **argv)
{
	static const struct cli_opt opts[] = { CLI_OPT_END };
	struct curvekey k;
	char err[600];
	int rc;

	(void)cli;
	if ((rc = cli_opts_parse(argc, argv, opts, NULL)) >= 0)
		return rc;
	if (argc - optind != 1)
		return cli_usage_error(argv[0]);
	if (curvekey_generate(argv[optind], &k, err, sizeof(err)) < 0) {
		fprintf(stderr, "mysimbdp keygen: %s\n", err);
		return k.ck_public[0] ? EX_CANTCREAT : EX_SOFTWARE;
	}
	/* The public key only: the secret stays in the file. */
	printf("%s\n", k.ck_public);
	return EX_OK;
}
