/*
 * Test shim (LD_PRELOAD): the process stops itself (SIGSTOP) right after
 * its first successful write() into a file whose name matches
 * STOPSHIM_NAME (an fnmatch(3) pattern of the name, without its folder),
 * so a test holds it at an exact point instead of racing it with a poll.
 * STOPSHIM_ONCE names a marker file: the shim creates it (O_EXCL) and
 * writes the process's pid into it just before it stops, and a process
 * that finds it there already does not stop, so a rerun of the same
 * program goes through. Unless both are set the shim does nothing.
 *
 * Only write() is intercepted. The embedded store (clientlib/sink_file.c)
 * creates a unit's ".unit-*.tmp" with openat(), which the build's 64-bit
 * offsets turn into openat64(), and writes it with write() alone (no
 * pwrite, no writev); the file is told by its name in /proc/self/fd at
 * the write, so no open variant, close or reused descriptor is tracked.
 * tests/integration/t_tenant_apps.sh runs acme-listings under it, and
 * tenants/tests/t_stream_apps.sh acme-stream (its upserts' temporary
 * files, ".unit-*-k*", are written the same way).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Set once the stop is behind this process, or was another's. */
static atomic_int done;

/* Whether fd is open on a file whose name matches pattern. */
static int
matches(int fd, const char *pattern)
{
	char link[64], path[4096];
	const char *name;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof(path) - 1)) <= 0)
		return 0;
	path[n] = '\0';
	name = strrchr(path, '/');
	return fnmatch(pattern, name != NULL ? name + 1 : path, 0) == 0;
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	static ssize_t (*real)(int, const void *, size_t);
	const char *pattern, *marker;
	char msg[512];
	ssize_t got;
	int e, mfd;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "write");
	got = real(fd, buf, len);
	if (got <= 0 || atomic_load(&done) ||
	    (pattern = getenv("STOPSHIM_NAME")) == NULL ||
	    (marker = getenv("STOPSHIM_ONCE")) == NULL)
		return got;
	e = errno;
	if (matches(fd, pattern) && !atomic_exchange(&done, 1)) {
		mfd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0644);
		if (mfd != -1) {
			/* The marker holds the pid, for the test to find. */
			snprintf(msg, sizeof(msg), "%ld\n", (long)getpid());
			(void)real(mfd, msg, strlen(msg));
			close(mfd);
			/* Said on stderr (the app's log), before the stop. */
			snprintf(msg, sizeof(msg), "stopshim: SIGSTOP after "
			    "%zd bytes written to fd %d\n", got, fd);
			(void)real(2, msg, strlen(msg));
			raise(SIGSTOP);
		} else if (errno != EEXIST) {
			snprintf(msg, sizeof(msg), "stopshim: %s: %s: not "
			    "stopping\n", marker, strerror(errno));
			(void)real(2, msg, strlen(msg));
		}
	}
	errno = e;
	return got;
}
