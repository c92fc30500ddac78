/*
 * Test shim (LD_PRELOAD): inotify_add_watch() fails with ENOSPC, as at
 * fs.inotify.max_user_watches, for every folder but a tenant's
 * incoming/ itself: files in its dataset folders are found by scans
 * alone. tests/integration/t_scan_steps.sh runs batchmgr under it.
 * With NOWATCH_READDIR_US set, each readdir() first waits that many
 * microseconds, so that a folder's listing takes time in proportion to
 * its entries however fast the machine is (t_scan_fair.sh: a scan of
 * one tenant longer than scan_interval; t_sweep_steps.sh: a sweep of
 * 3,000 files lasting seconds).
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

/* Said once on stderr, so a test can tell the shim is in effect. */
static void
said(void)
{
	static const char msg[] = "nowatch: only incoming/ is watched\n";
	static int done;

	if (!done)
		done = write(2, msg, sizeof(msg) - 1) > 0;
}

/* Whether path names an incoming/ folder itself (a slash may end it). */
static int
is_incoming(const char *path)
{
	size_t len = strlen(path);

	while (len > 0 && path[len - 1] == '/')
		len--;
	return len >= 9 && memcmp(path + len - 9, "/incoming", 9) == 0;
}

int
inotify_add_watch(int fd, const char *path, uint32_t mask)
{
	static int (*real)(int, const char *, uint32_t);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "inotify_add_watch");
	said();
	if (!is_incoming(path)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, path, mask);
}

static void
readdir_delay(void)
{
	static long us = -1;
	struct timespec ts;

	if (us < 0) {
		const char *v = getenv("NOWATCH_READDIR_US");

		us = v != NULL ? strtol(v, NULL, 10) : 0;
	}
	if (us <= 0)
		return;
	ts.tv_sec = us / 1000000;
	ts.tv_nsec = us % 1000000 * 1000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* batchmgr's readdir (64-bit offsets: readdir is readdir64). */
struct dirent64 *
readdir64(DIR *d)
{
	static struct dirent64 *(*real)(DIR *);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "readdir64");
	readdir_delay();
	return real(d);
}
