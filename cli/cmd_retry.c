/*
 * retry TENANT [DATASET/]FILE [--force] [--json]: moves a file from
 * failed/ (or quarantine/) back to incoming/, where batchmgr picks it up
 * as new, under its own name: without the ".N" failed/ added when the
 * name was taken there (x.csv.1 goes back as x.csv). With --force, the file goes past its dataset's quality
 * threshold (docs/quality.md): the mark is an extended attribute of the
 * file, so it travels with it (and a retry without --force removes it).
 * Names are checked so that neither part can leave the tenant's folders.
 * With --json the result is
 * {"tenant":T,"file":"[DATASET/]FILE","from":"failed","to":"incoming/[DATASET/]NAME"}.
 *
 * Exit status: 0 moved; 64 usage; 66 no such tenant or failed file; 73
 * the move failed (a file of that name waits in incoming/), or the mark
 * could not be set; 77 no permission; 78 a bad platform file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "jsonline.h"
#include "state.h"

/* As manager/batchmgr/qgate.h. */
#define FORCE_XATTR "user.mysimbdp.force"

struct retry_opts {
	bool	 r_json;
	bool	 r_force;
};

static int
errno_exit(int err, int otherwise)
{
	if (err == EACCES || err == EPERM)
		return EX_NOPERM;
	return err == ENOENT ? EX_NOINPUT : otherwise;
}

static void
print_json(const char *tenant, const char *file, enum stage_area from,
    const char *dataset, const char *final)
{
	bson_t doc = BSON_INITIALIZER;
	char to[NAME_MAX * 2 + 16];

	snprintf(to, sizeof(to), "incoming/%s%s%s", dataset, *dataset ? "/" :
	    "", final);
	BSON_APPEND_UTF8(&doc, "tenant", tenant);
	jsonline_append_text(&doc, "file", file);
	BSON_APPEND_UTF8(&doc, "from", state_area_names[from]);
	jsonline_append_text(&doc, "to", to);
	cli_print_json(&doc);
	bson_destroy(&doc);
}

/* failed/ or quarantine/, where the file is; -1 (errno) in neither. */
static int
where(const char *staging, const char *dataset, const char *name)
{
	static const enum stage_area areas[] = { AREA_FAILED,
	    AREA_QUARANTINE };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(areas) / sizeof(areas[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s/%s%s%s", staging,
		    state_area_names[areas[i]], dataset, *dataset ? "/" : "",
		    name);
		if (faccessat(AT_FDCWD, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			return (int)areas[i];
		if (errno != ENOENT)
			return -1;
	}
	return -1;
}

/* Sets (force) or clears the quality gate's mark on the file. */
static int
mark(const char *staging, enum stage_area area, const char *dataset,
    const char *name, bool force)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s/%s%s%s", staging,
	    state_area_names[area], dataset, *dataset ? "/" : "", name);
	if (!force)
		return lremovexattr(path, FORCE_XATTR) == 0 ||
		    errno == ENODATA || errno == ENOTSUP ? 0 : -1;
	return lsetxattr(path, FORCE_XATTR, "1", 1, 0);
}

/*
 * The name the file goes back under: name without a last ".N" (digits)
 * when what is left still has an extension, since batchmgr checks the
 * extension (x.csv.1: x.csv; data.001 stays).
 */
static void
unsuffixed(const char *name, char *as, size_t aslen)
{
	const char *dot = strrchr(name, '.');
	size_t digits = dot ? strspn(dot + 1, "0123456789") : 0;

	snprintf(as, aslen, "%s", name);
	if (digits == 0 || dot[1 + digits] != '\0')
		return;
	for (const char *c = dot - 1; c > name; c--)
		if (*c == '.') {
			as[dot - name] = '\0';
			return;
		}
}

static int
move_back(const char *tenant, const char *file, const char *dataset,
    const char *name, const struct retry_opts *o, const char *dir, int fd)
{
	char final[NAME_MAX + 1], as[NAME_MAX + 1], q[CLI_QUOTE_MAX];
	int err, area = where(dir, dataset, name);
	enum stage_area from;

	if (area < 0) {
		err = errno;
		fprintf(stderr, "mysimbdp retry: %s: not in %s/failed/ or "
		    "quarantine/: %s\n", cli_quote(file, q, sizeof(q)), dir,
		    strerror(err));
		return errno_exit(err, EX_NOINPUT);
	}
	from = (enum stage_area)area;
	if (mark(dir, from, dataset, name, o->r_force) < 0) {
		err = errno;
		fprintf(stderr, "mysimbdp retry: %s/%s/%s: %s the force mark: "
		    "%s\n", dir, state_area_names[from], cli_quote(file, q,
		    sizeof(q)), o->r_force ? "set" : "remove", strerror(err));
		return errno_exit(err, EX_CANTCREAT);
	}
	unsuffixed(name, as, sizeof(as));
	if (state_move_as(fd, from, AREA_INCOMING, dataset, name, as, final,
	    sizeof(final)) < 0) {
		err = errno;
		fprintf(stderr, "mysimbdp: move %s/{failed,quarantine}/%s to "
		    "incoming/: %s\n", dir, cli_quote(file, q, sizeof(q)),
		    err == EEXIST ? "a file of that name is waiting in "
		    "incoming/ already" : strerror(err));
		if (o->r_force)
			mark(dir, from, dataset, name, false);
		return errno_exit(err, EX_CANTCREAT);
	}
	if (o->r_json)
		print_json(tenant, file, from, dataset, final);
	else
		printf("%s: %s moved back from %s/ to incoming/%s%s%s%s\n",
		    tenant, file, state_area_names[from], dataset,
		    *dataset ? "/" : "", final, o->r_force ? " (forced past "
		    "its quality threshold)" : "");
	return EX_OK;
}

int
cmd_retry(const struct cli *cli, int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		CLI_OPT("json", 'j', CLI_OPT_FLAG, struct retry_opts, r_json),
		CLI_OPT("force", 'F', CLI_OPT_FLAG, struct retry_opts,
		    r_force),
		CLI_OPT_END,
	};
	struct retry_opts o = { 0 };
	struct conf_platform *p;
	char dataset[NAME_MAX + 1] = "", *slash, *dir;
	const char *tenant, *file, *name;
	int fd, rc, err;

	if ((rc = cli_opts_parse(argc, argv, opts, &o)) >= 0)
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
		    "failed/ or quarantine/ (use FILE or DATASET/FILE)\n",
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
	} else
		rc = move_back(tenant, file, dataset, name, &o, dir, fd);
	if (fd >= 0)
		close(fd);
	free(dir);
	conf_platform_free(p);
	return rc;
}
