/*
 * Test shim (LD_PRELOAD): SIGKILLs the process at a rename, before it
 * happens, to stop a daemon in a window no random kill lands in.
 * renameat2() whose old path starts with KILLSHIM_FROM and new path with
 * KILLSHIM_TO (both set, both relative paths as the daemon names them:
 * "processing/", "rejected/") kills it; without them the shim does
 * nothing. tests/integration/t_reject_processing_crash.sh runs
 * batchmgr under it.
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
starts(const char *s, const char *prefix)
{
	return prefix != NULL && *prefix != '\0' &&
	    strncmp(s, prefix, strlen(prefix)) == 0;
}

int
renameat2(int olddirfd, const char *oldpath, int newdirfd,
    const char *newpath, unsigned int flags)
{
	static int (*real)(int, const char *, int, const char *, unsigned);
	char msg[512];
	ssize_t w;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "renameat2");
	if (starts(oldpath, getenv("KILLSHIM_FROM")) &&
	    starts(newpath, getenv("KILLSHIM_TO"))) {
		/* Said on stderr, so a test can tell where it stopped. */
		snprintf(msg, sizeof(msg), "killshim: SIGKILL at rename "
		    "%s -> %s\n", oldpath, newpath);
		w = write(2, msg, strlen(msg));
		(void)w;
		raise(SIGKILL);
	}
	return real(olddirfd, oldpath, newdirfd, newpath, flags);
}
