/*
 * Test shim (LD_PRELOAD): fdatasync() and fsync() failing on cue, as on
 * a disk that lost a write the process asked it to keep. While the file
 * SYNCSHIM_CUE exists, a sync of a regular file whose path starts with
 * SYNCSHIM_DIR fails with EIO and syncs nothing; without both set, or
 * before the cue, the real call runs. The cue is looked at on every
 * call, from any thread (streammgr syncs its queue on a thread of its
 * own, manager/streammgr/syncer.c). t_stream_sync_fails.sh runs
 * streammgr under it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef int (*sync_fn)(int);

static int
failing(int fd)
{
	const char *dir = getenv("SYNCSHIM_DIR");
	const char *cue = getenv("SYNCSHIM_CUE");
	char link[64], path[PATH_MAX];
	struct stat st;
	ssize_t n;

	if (dir == NULL || *dir == '\0' || cue == NULL || *cue == '\0' ||
	    access(cue, F_OK) != 0)
		return 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof(path) - 1)) < 0)
		return 0;
	path[n] = '\0';
	return strncmp(path, dir, strlen(dir)) == 0;
}

static int
call(const char *name, sync_fn *real, int fd)
{
	if (failing(fd)) {
		errno = EIO;
		return -1;
	}
	if (*real == NULL)
		*(void **)real = dlsym(RTLD_NEXT, name);
	if (*real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return (*real)(fd);
}

int
fdatasync(int fd)
{
	static sync_fn real;

	return call("fdatasync", &real, fd);
}

int
fsync(int fd)
{
	static sync_fn real;

	return call("fsync", &real, fd);
}
