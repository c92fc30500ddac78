/*
 * retry TENANT [DATASET/]FILE [--json]: moves a file from failed/ back to
 * incoming/, where batchmgr picks it up as new. Names are checked so that
 * neither part can leave the tenant's folders. With --json the result is
 * {"tenant":T,"file":"[DATASET/]FILE","to":"incoming/[DATASET/]NAME"}.
 *
 * Exit status: 0 moved; 64 usage; 66 no such tenant or failed file; 73
 * the move failed (a file of that name waits in incoming/); 77 no
 * permission; 78 a bad platform file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "state.h"

static int
errno_exit(int err, int otherwise)
{
	if (err == EACCES || err == EPERM)
		return EX_NOPERM;
	return err == ENOENT ? EX_NOINPUT : otherwise;
}

static void
print_json(const char *tenant, const char *file, const char *dataset,
    const char *final)
{
	bson_t doc = BSON_INITIALIZER;
	char to[NAME_MAX * 2 + 16];

	snprintf(to, sizeof(to), "incoming/%s%s%s", dataset, *dataset ? "/" :
	    "", final);
	BSON_APPEND_UTF8(&doc, "tenant", tenant);
	BSON_APPEND_UTF8(&doc, "file", file);
	BSON_APPEND_UTF8(&doc, "to", to);
	cli_print_json(&doc);
	bson_destroy(&doc);
}

int
cmd_retry(const struct cli *cli, int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		/* The one option: its value is the bool itself. */
		{ .co_long = "json", .co_short = 'j',
		    .co_kind = CLI_OPT_FLAG },
		CLI_OPT_END,
	};
	struct conf_platform *p;
	char dataset[NAME_MAX + 1] = "", final[NAME_MAX + 1], *slash, *dir;
	const char *tenant, *file, *name;
	bool json = false;
	int fd, rc, err;

	if ((rc = cli_opts_parse(argc, argv, opts, &json)) >= 0)
		return rc;
	if (argc - optind != 2)
		return cli_usage_error(argv[0]);
	tenant = argv[optind];
	name = file = argv[optind + 1];
	if (!cli_valid_tenant(argv[0], tenant))
		return EX_USAGE;
	if ((slash = strchr(file, '/')) != NULL) {
		snprintf(dataset, sizeof(dataset), "%.*s", (int)(slash - file),
		    file);
		name = slash + 1;
	}
	if ((*dataset && !conf_valid_id(dataset)) || *name == '\0' ||
	    strlen(name) > NAME_MAX ||
	    strchr(name, '/') || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		char q[CLI_QUOTE_MAX];

		fprintf(stderr, "mysimbdp retry: \"%s\" is not a file name in "
		    "failed/ (use FILE or DATASET/FILE)\n",
		    cli_quote(file, q, sizeof(q)));
		return EX_USAGE;
	}
	if ((p = cli_load_platform(cli)) == NULL)
		return EX_CONFIG;
	dir = state_path(p, "staging/%s", tenant);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		fprintf(stderr, "mysimbdp: open %s: %s\n", dir, strerror(err));
		rc = errno_exit(err, EX_NOINPUT);
	} else if (state_move(fd, AREA_FAILED, AREA_INCOMING, dataset, name,
	    final, sizeof(final)) < 0) {
		char q[CLI_QUOTE_MAX];

		err = errno;
		fprintf(stderr, "mysimbdp: move %s/failed/%s to incoming/: %s\n",
		    dir, cli_quote(file, q, sizeof(q)), err == EEXIST ?
		    "a file of that name is waiting in incoming/ already" :
		    strerror(err));
		rc = errno_exit(err, EX_CANTCREAT);
	} else {
		if (json)
			print_json(tenant, file, dataset, final);
		else
			printf("%s: %s moved back to incoming/\n", tenant,
			    file);
		rc = EX_OK;
	}
	if (fd >= 0)
		close(fd);
	free(dir);
	conf_platform_free(p);
	return rc;
}
