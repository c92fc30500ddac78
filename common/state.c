#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

const char *const state_area_names[AREA_COUNT] = {
	"incoming", "processing", "done", "failed", "rejected", "quarantine",
};


static char *vpath(const struct conf_platform *, const char *, const char *,
    va_list) __attribute__((__format__(__printf__, 3, 0)));

static char *
vpath(const struct conf_platform *p, const char *scheme, const char *fmt,
    va_list ap)
{
	char *tail, *path;

	if (vasprintf(&tail, fmt, ap) < 0)
		fatal("%s: vasprintf", __func__);
	if (asprintf(&path, "%s%s/%s", scheme, p->p_state_dir, tail) < 0)
		fatal("%s: asprintf", __func__);
	free(tail);
	return path;
}

char *
state_path(const struct conf_platform *p, const char *fmt, ...)
{
	va_list ap;
	char *path;

	va_start(ap, fmt);
	path = vpath(p, "", fmt, ap);
	va_end(ap);
	return path;
}

char *
state_endpoint(const struct conf_platform *p, const char *fmt, ...)
{
	va_list ap;
	char *ep;

	va_start(ap, fmt);
	ep = vpath(p, "ipc://", fmt, ap);
	va_end(ap);
	return ep;
}

int
state_mkdirs(const char *dir, int mode)
{
	char *copy = strdup(dir);
	int rc = 0;

	if (copy == NULL)
		return -1;
	for (char *p = copy + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(copy, (mode_t)mode) < 0 && errno != EEXIST) {
			rc = -1;
			break;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	free(copy);
	return rc;
}

/* Creates path with mode and, when owner is given, chowns it. */
static int
make_dir(const char *path, int mode, bool chown_it, uid_t uid, gid_t gid,
    char *err, size_t errlen)
{
	struct stat st;

	if (state_mkdirs(path, mode) < 0) {
		snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", path);
		return -1;
	}
	if (chown_it && (st.st_uid != uid || st.st_gid != gid) &&
	    chown(path, uid, gid) < 0) {
		snprintf(err, errlen, "chown %s: %s", path, strerror(errno));
		return -1;
	}
	if ((st.st_mode & 07777) != (mode_t)mode && chmod(path, (mode_t)mode) < 0) {
		snprintf(err, errlen, "chmod %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
state_prepare(const struct conf_platform *p, char *err, size_t errlen)
{
	static const char *const dirs[] = {
		"staging", "queue", "run", "log", "coredms", "work",
	};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char *path = state_path(p, "%s", dirs[i]);
		int rc = make_dir(path, 0755, false, 0, 0, err, errlen);

		free(path);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int
state_prepare_tenant(const struct conf_platform *p,
    const struct conf_tenant *t, char *err, size_t errlen)
{
	/* Only a root daemon can hand folders to a tenant's user. */
	bool as_user = geteuid() == 0 && t->t_user != NULL;
	uid_t me = geteuid();
	gid_t mygid = getegid();
	struct {
		char	*path;
		int	 mode;
		bool	 tenant_owns;
	} dirs[AREA_COUNT + 7];
	const char *url = conf_tenant_mongo_url(p, t);
	size_t n = 0;
	char *sock;
	int rc = 0;

	dirs[n].path = state_path(p, "staging/%s", t->t_id);
	dirs[n].mode = 0750, dirs[n++].tenant_owns = false;
	for (int a = 0; a < AREA_COUNT; a++) {
		dirs[n].path = state_path(p, "staging/%s/%s", t->t_id,
		    state_area_names[a]);
		dirs[n].mode = 0750;
		dirs[n++].tenant_owns = a == AREA_INCOMING;
	}
	dirs[n].path = state_path(p, "run/%s", t->t_id);
	dirs[n].mode = 0700, dirs[n++].tenant_owns = true;
	dirs[n].path = state_path(p, "log/%s", t->t_id);
	dirs[n].mode = 0750, dirs[n++].tenant_owns = false;
	dirs[n].path = state_path(p, "work/%s", t->t_id);
	dirs[n].mode = 0700, dirs[n++].tenant_owns = true;
	dirs[n].path = state_path(p, "work/%s/tmp", t->t_id);
	dirs[n].mode = 0700, dirs[n++].tenant_owns = true;
	dirs[n].path = state_path(p, "queue/%s", t->t_id);
	dirs[n].mode = 0700, dirs[n++].tenant_owns = false;
	/* The tenant's database in the embedded store is written by its apps. */
	if (strncmp(url, "file://", 7) == 0) {
		if (asprintf(&dirs[n].path, "%s/%s", url + 7, t->t_mongo_db) < 0)
			fatal("%s: asprintf", __func__);
		dirs[n].mode = 0700, dirs[n++].tenant_owns = true;
	}

	for (size_t i = 0; i < n; i++) {
		if (rc == 0)
			rc = make_dir(dirs[i].path, dirs[i].mode, as_user,
			    dirs[i].tenant_owns ? t->t_uid : me,
			    as_user ? t->t_gid : mygid, err, errlen);
		free(dirs[i].path);
	}
	if (rc < 0)
		return -1;
	sock = state_path(p, "run/%s/metrics.sock", t->t_id);
	rc = state_check_sun_path(sock, err, errlen);
	free(sock);
	for (size_t i = 0; rc == 0 && i < t->t_nstreams; i++) {
		/* ".work" is the longer of a stream's two sockets. */
		sock = state_path(p, "run/%s/%s.work", t->t_id,
		    t->t_streams[i].s_name);
		rc = state_check_sun_path(sock, err, errlen);
		free(sock);
	}
	return rc;
}

int
state_check_sun_path(const char *sock, char *err, size_t errlen)
{
	size_t len = strlen(sock);

	if (len <= STATE_SUN_PATH_MAX)
		return 0;
	snprintf(err, errlen, "%s: ipc socket path is %zu bytes, more than "
	    "the %d that fit in sun_path; choose a shorter state_dir", sock,
	    len, STATE_SUN_PATH_MAX);
	return -1;
}

static int rename_unique(int, const char *, int, const char *, const char *,
    bool, char *, size_t);

/*
 * In a folder of the daemon's (not incoming/), the entry where dataset's
 * folder goes is something else: a file the tenant dropped at the top
 * with the dataset's name, rejected (or done) under it. Renamed
 * <dataset>.N, out of the way, or every file of that dataset would fail
 * to move there, and be looked at, and recorded, again at every scan.
 * Returns 0 when it was moved aside.
 */
static int
clear_way(int areafd, enum stage_area area, const char *dataset)
{
	char final[NAME_MAX + 1];
	struct stat st;

	if (area == AREA_INCOMING || fstatat(areafd, dataset, &st,
	    AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode) ||
	    rename_unique(areafd, dataset, areafd, "", dataset, true, final,
	    sizeof(final)) < 0)
		return -1;
	log_warnx("%s/%s: not a folder, in the way of dataset %s's: renamed "
	    "%s", state_area_names[area], dataset, dataset, final);
	return 0;
}

/* mkdir and open of areafd/dataset, once more past an entry in the way. */
static int
open_dataset(int areafd, enum stage_area area, const char *dataset,
    bool create)
{
	const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	int sub;

	for (int tries = 0; tries < 2; tries++) {
		if (create && mkdirat(areafd, dataset, 0750) < 0 &&
		    errno != EEXIST)
			return -1;
		if ((sub = openat(areafd, dataset, flags)) >= 0 || !create ||
		    (errno != ENOTDIR && errno != ELOOP) ||
		    clear_way(areafd, area, dataset) < 0)
			return sub;
	}
	return -1;
}

int
state_open_area(int staging_fd, enum stage_area area, const char *dataset,
    bool create)
{
	const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	int fd, sub, saved;

	fd = openat(staging_fd, state_area_names[area], flags);
	if (fd < 0 || *dataset == '\0')
		return fd;
	sub = open_dataset(fd, area, dataset, create);
	saved = errno;
	close(fd);
	errno = saved;
	return sub;
}

/* A number a tenant cannot guess, for names it cannot hold in advance
 * (getrandom; should it fail, pid, time and a count mixed). */
static uint64_t
random64(void)
{
	static uint64_t n;
	uint64_t r;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = ((uint64_t)getpid() << 32 ^ (uint64_t)time(NULL)) *
		    0x9e3779b97f4a7c15ull + ++n;
	return r;
}

/*
 * The suffix of a name's i-th try: 1 to SUFFIX_COUNTED - 1 in turn, then
 * random numbers above them, so that a name taken thousands of times
 * (an upload a minute, kept a week) costs no more tries to place.
 */
#define SUFFIX_COUNTED 100

static unsigned
suffix_number(unsigned i)
{
	if (i < SUFFIX_COUNTED)
		return i;
	return SUFFIX_COUNTED + (unsigned)(random64() % 4000000000u);
}

/*
 * Renames from (relative to from_fd) into to_dir (relative to to_fd; ""
 * when to_fd is the folder itself) as "name", or when suffix is set and
 * that is taken, "name.1", "name.2", ... "name.99", then "name.N" for
 * a random N above: never replacing a file. A name, or a name with its
 * suffix, longer than NAME_MAX fails with ENAMETOOLONG: cut, it would
 * be another name (a reason under its file's name, `retry` of a cut
 * "name.N" giving back a name without its extension).
 */
static int
rename_unique(int from_fd, const char *from, int to_fd, const char *to_dir,
    const char *name, bool suffix, char *final, size_t finallen)
{
	char cand[NAME_MAX + 1], to[PATH_MAX];
	int n;

	for (unsigned i = 0; i < SUFFIX_COUNTED + 100; i++) {
		if (i == 0)
			n = snprintf(cand, sizeof(cand), "%s", name);
		else
			n = snprintf(cand, sizeof(cand), "%s.%u", name,
			    suffix_number(i));
		if (n < 0 || (size_t)n >= sizeof(cand)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		snprintf(to, sizeof(to), "%s%s", to_dir, cand);
		if (renameat2(from_fd, from, to_fd, to, RENAME_NOREPLACE) == 0) {
			snprintf(final, finallen, "%s", cand);
			return 0;
		}
		if (errno != EEXIST || !suffix)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

int
state_rename_unique(int from_fd, const char *from, int dirfd,
    const char *name, char *final, size_t finallen)
{
	return rename_unique(from_fd, from, dirfd, "", name, true, final,
	    finallen);
}

bool
state_can_place(int staging_fd, enum stage_area area, const char *dataset,
    const char *name)
{
	bool is_free;
	int dfd;

	if (strlen(name) <= STATE_NAME_SUFFIXABLE)
		return true;
	if ((dfd = state_open_area(staging_fd, area, dataset, false)) < 0)
		return errno == ENOENT;
	is_free = faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT;
	close(dfd);
	return is_free;
}

int
state_publish(int dirfd, const char *name, const void *data, size_t len,
    char *final, size_t finallen)
{
	char tmp[64];
	int fd = -1, saved;

	/* A tenant's file may hold any name, but not guess a random one;
	 * O_EXCL makes sure. */
	for (unsigned i = 0; fd < 0 && i < 100; i++) {
		snprintf(tmp, sizeof(tmp), ".mysimbdp-%016llx.tmp",
		    (unsigned long long)random64());
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0640);
		if (fd < 0 && errno != EEXIST)
			return -1;
	}
	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len ||
	    state_rename_unique(dirfd, tmp, dirfd, name, final,
	    finallen) < 0) {
		saved = errno ? errno : EIO;
		unlinkat(dirfd, tmp, 0);
		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Only incoming/ holds folders a tenant made, and there a dataset folder
 * could be a symlink planted to redirect the move: it is opened with
 * O_NOFOLLOW. Every other folder below staging/<id> is the daemon's, so
 * such moves name their paths relative to the staging fd, which saves
 * four system calls per move (this is the hot path of every finished job).
 */
static bool
area_is_ours(enum stage_area area, const char *dataset)
{
	return area != AREA_INCOMING || *dataset == '\0';
}

int
state_entry_at(int staging_fd, enum stage_area area, const char *dataset,
    const char *name, char *rel, size_t rellen)
{
	const bool ours = area_is_ours(area, dataset);
	int n;

	if (ours)
		n = snprintf(rel, rellen, "%s%s%s/%s", state_area_names[area],
		    *dataset ? "/" : "", dataset, name);
	else
		n = snprintf(rel, rellen, "%s", name);
	if (n < 0 || (size_t)n >= rellen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return ours ? staging_fd :
	    state_open_area(staging_fd, area, dataset, false);
}

static int
move_by_path(int staging_fd, enum stage_area from, enum stage_area to,
    const char *dataset, const char *name, const char *as, char *final,
    size_t finallen)
{
	const bool suffix = to != AREA_PROCESSING && to != AREA_INCOMING;
	const char *sep = *dataset ? "/" : "";
	char src[PATH_MAX], dir[PATH_MAX];
	int rc;

	snprintf(src, sizeof(src), "%s/%s%s%s", state_area_names[from], dataset,
	    sep, name);
	snprintf(dir, sizeof(dir), "%s/%s%s", state_area_names[to], dataset, sep);
	rc = rename_unique(staging_fd, src, staging_fd, dir, as, suffix,
	    final, finallen);
	/* The destination's dataset folder may not exist yet, or a file
	 * may be where it goes. */
	if (rc < 0 && (errno == ENOENT || errno == ENOTDIR) && *dataset) {
		int fd = state_open_area(staging_fd, to, dataset, true);

		if (fd < 0)
			return -1;
		close(fd);
		rc = rename_unique(staging_fd, src, staging_fd, dir, as,
		    suffix, final, finallen);
	}
	return rc;
}

int
state_move(int staging_fd, enum stage_area from, enum stage_area to,
    const char *dataset, const char *name, char *final, size_t finallen)
{
	return state_move_as(staging_fd, from, to, dataset, name, name, final,
	    finallen);
}

int
state_move_as(int staging_fd, enum stage_area from, enum stage_area to,
    const char *dataset, const char *name, const char *as, char *final,
    size_t finallen)
{
	int from_fd, to_fd, rc, saved;

	if (area_is_ours(from, dataset) && area_is_ours(to, dataset))
		return move_by_path(staging_fd, from, to, dataset, name, as,
		    final, finallen);
	if ((from_fd = state_open_area(staging_fd, from, dataset, false)) < 0)
		return -1;
	if ((to_fd = state_open_area(staging_fd, to, dataset, true)) < 0) {
		saved = errno;
		close(from_fd);
		errno = saved;
		return -1;
	}
	rc = rename_unique(from_fd, name, to_fd, "", as,
	    to != AREA_PROCESSING && to != AREA_INCOMING, final, finallen);
	saved = errno;
	close(from_fd);
	close(to_fd);
	errno = saved;
	return rc;
}

unsigned char
state_entry_type(int dirfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type;
	if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return DT_UNKNOWN;
	return IFTODT(st.st_mode);
}
