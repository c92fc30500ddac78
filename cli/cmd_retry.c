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

/*
 * retry TENANT [DATASET/]FILE: moves a file from failed/ back to
 * incoming/, where batchmgr picks it up as new. Names are checked so that
 * neither part can leave the tenant's folders.
 */
int
cmd_retry(const struct cli *cli, int argc, char **argv)
{
	struct conf_platform *p;
	char dataset[NAME_MAX + 1] = "", final[NAME_MAX + 1], *slash, *dir;
	const char *name;
	int fd, rc;

	if (argc != 3) {
		fprintf(stderr, "usage: mysimbdp retry TENANT [DATASET/]FILE\n");
		return EX_USAGE_CODE;
	}
	if (!conf_valid_id(argv[1])) {
		fprintf(stderr, "mysimbdp: \"%s\" is not a tenant id\n", argv[1]);
		return EX_USAGE_CODE;
	}
	name = argv[2];
	if ((slash = strchr(argv[2], '/')) != NULL) {
		snprintf(dataset, sizeof(dataset), "%.*s",
		    (int)(slash - argv[2]), argv[2]);
		name = slash + 1;
	}
	if ((*dataset && !conf_valid_id(dataset)) || *name == '\0' ||
	    strchr(name, '/') || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		fprintf(stderr, "mysimbdp: \"%s\" is not a file name in "
		    "failed/ (use FILE or DATASET/FILE)\n", argv[2]);
		return EX_USAGE_CODE;
	}
	if ((p = cli_load_platform(cli)) == NULL)
		return EX_CONFIG_CODE;
	dir = state_path(p, "staging/%s", argv[1]);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "mysimbdp: open %s: %s\n", dir, strerror(errno));
		rc = EX_NOINPUT_CODE;
	} else if (state_move(fd, AREA_FAILED, AREA_INCOMING, dataset, name,
	    final, sizeof(final)) < 0) {
		fprintf(stderr, "mysimbdp: move %s/failed/%s to incoming/: %s\n",
		    dir, argv[2], errno == EEXIST ?
		    "a file of that name is waiting in incoming/ already" :
		    strerror(errno));
		rc = errno == ENOENT ? EX_NOINPUT_CODE : EX_CANTCREAT_CODE;
	} else {
		printf("%s: %s moved back to incoming/\n", argv[1], argv[2]);
		rc = EX_OK_CODE;
	}
	if (fd >= 0)
		close(fd);
	free(dir);
	conf_platform_free(p);
	return rc;
}
