/*
 * spawnrate: the raw reference of the dispatch benchmark (scripts/bench).
 *
 * usage: spawnrate [-sw] [-m kbytes] count parallel noop logfile
 *
 * Runs "noop logfile s-<n>" count times with fork, execve and wait,
 * keeping up to parallel children at once and starting the next one as
 * soon as one is reaped. Nothing else is done per child, so the rate the
 * noop log shows is the most any dispatcher can reach with fork/exec on
 * this machine, with the same app and the same degree of parallelism.
 *
 * The options take the reference a step towards what batchmgr does, to
 * tell which of its costs limits it (they are diagnostics, not the raw
 * figure):
 *   -s         start each child with the daemons' own spawn_start
 *              (common/spawn.c: its child set-up, and it returns once the
 *              child has exec'd), with no limits, no cwd, stdout to
 *              /dev/null;
 *   -w         fork, then wait until the child has exec'd before going
 *              on, on a close-on-exec pipe (what spawn_start did with
 *              fork);
 *   -m kbytes  first fill that much heap in small blocks, as a daemon's
 *              queued jobs do: fork copies the page tables of it, and the
 *              child tears them down again in execve.
 *
 * Prints "spawnrate: <count> spawns, <parallel> in parallel, start <ns>
 * end <ns>, <rate> spawns/s": start is CLOCK_REALTIME before the first
 * fork, end after the last child was reaped. Exits 1 if any child failed.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

#include "spawn.h"

#define BLOCK 384	/* bytes per heap block for -m, about one job */

static __attribute__((__noreturn__)) void
usage(void)
{
	fprintf(stderr, "usage: spawnrate [-sw] [-m kbytes] count parallel "
	    "noop logfile\n"
	    "  -s         spawn with spawn_start (common/spawn.c)\n"
	    "  -w         fork, then wait for each exec on a close-on-exec pipe\n"
	    "  -m kbytes  fill this much heap before spawning\n");
	exit(EX_USAGE);
}

/* Allocates and dirties kbytes of heap in job-sized blocks, kept for ever. */
static void
fill_heap(long kbytes)
{
	long blocks = kbytes * 1024 / BLOCK;
	char *p;

	for (long i = 0; i < blocks; i++) {
		if ((p = malloc(BLOCK)) == NULL)
			err(1, "malloc");
		memset(p, (int)(i & 0xff), BLOCK);
	}
}

/*
 * Forks and execs one child. With wait_exec, blocks until the child has
 * exec'd: the pipe's write end is close-on-exec, so EOF means execve
 * succeeded, and a byte means it failed.
 */
static void
spawn_fork(char *const argv[], char *const envp[], bool wait_exec)
{
	int pfd[2] = { -1, -1 }, e;
	ssize_t n;
	pid_t pid;

	if (wait_exec && pipe2(pfd, O_CLOEXEC) < 0)
		err(1, "pipe2");
	if ((pid = fork()) < 0)
		err(1, "fork");
	if (pid == 0) {
		execve(argv[0], argv, envp);
		e = errno;
		if (wait_exec)
			n = write(pfd[1], &e, sizeof(e));
		_exit(127);
	}
	if (!wait_exec)
		return;
	close(pfd[1]);
	do
		n = read(pfd[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	/* A failed exec shows as exit 127 when the child is reaped. */
}

/* Starts one child with spawn_start, as batchmgr does. */
static void
spawn_lib(char *const argv[], char *const envp[])
{
	struct spawn_req req = {
		.sr_argv = argv,
		.sr_envp = envp,
		.sr_cwd = NULL,
		.sr_out_fd = -1,
		.sr_limits = NULL,
		.sr_set_ids = false,
	};
	const char *stage;
	pid_t pid;

	if (spawn_start(&req, &pid, &stage) < 0)
		err(1, "spawn_start: %s %s", stage, argv[0]);
}

int
main(int argc, char *argv[])
{
	char name[32], *child_argv[4], *child_envp[] = { NULL };
	long count, parallel, started = 0, running = 0, failed = 0, heap = 0;
	bool wait_exec = false, use_lib = false;
	int64_t start, end;
	int ch, status;
	pid_t pid;

	while ((ch = getopt(argc, argv, "m:sw")) != -1) {
		switch (ch) {
		case 'm': heap = bench_number(optarg, "-m", 0, 16L * 1024 * 1024); break;
		case 's': use_lib = true; break;
		case 'w': wait_exec = true; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 4)
		usage();
	count = bench_number(argv[0], "count", 1, 10000000);
	parallel = bench_number(argv[1], "parallel", 1, 4096);
	child_argv[0] = argv[2];
	child_argv[1] = argv[3];
	child_argv[2] = name;
	child_argv[3] = NULL;
	fill_heap(heap);

	start = bench_now_ns(CLOCK_REALTIME);
	while (started < count || running > 0) {
		while (running < parallel && started < count) {
			/* Formatted before fork: the child only execs. */
			snprintf(name, sizeof(name), "s-%06ld", started);
			if (use_lib)
				spawn_lib(child_argv, child_envp);
			else
				spawn_fork(child_argv, child_envp, wait_exec);
			started++;
			running++;
		}
		if ((pid = wait(&status)) < 0) {
			if (errno == EINTR)
				continue;
			err(1, "wait");
		}
		running--;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	end = bench_now_ns(CLOCK_REALTIME);

	printf("spawnrate: %ld spawns, %ld in parallel, start %lld end %lld, "
	    "%.0f spawns/s\n", count, parallel, (long long)start,
	    (long long)end, (double)count * 1e9 / (double)(end - start));
	if (failed)
		errx(1, "%ld of %ld children failed", failed, count);
	return 0;
}
