/*
 * A pwrite cut in two at an offset, with a callback in between
 * (tearwrite.h).
 */
#include <sys/syscall.h>
#include <unistd.h>

#include "tearwrite.h"

static off_t tear_at;
static void (*tear_cb)(void *);
static void *tear_arg;
static bool torn;

void
tear_write_at(off_t at, void (*cb)(void *), void *arg)
{
	tear_at = at;
	tear_cb = cb;
	tear_arg = arg;
	torn = false;
}

bool
tear_write_done(void)
{
	bool done = torn;

	tear_at = 0;
	torn = false;
	return done;
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	size_t first;

	if (tear_at == 0 || off > tear_at || off + (off_t)n <= tear_at)
		return syscall(SYS_pwrite64, fd, buf, n, off);
	first = (size_t)(tear_at - off);
	tear_at = 0;
	torn = true;
	if (first > 0 && syscall(SYS_pwrite64, fd, buf, first, off) !=
	    (ssize_t)first)
		return -1;
	tear_cb(tear_arg);
	if (syscall(SYS_pwrite64, fd, (const char *)buf + first, n - first,
	    off + (off_t)first) != (ssize_t)(n - first))
		return -1;
	return (ssize_t)n;
}
