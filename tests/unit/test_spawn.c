/*
 * Unit tests for common/spawn.c: the limit of open files. spawn_init
 * raises the daemon's own soft limit to the hard one (a thousand tenants
 * need more than 1024 descriptors), and the apps it starts get the
 * original soft limit back, or their profile's limits.open_files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "spawn.h"

/* The soft limit the tests start with, below any hard limit in use. */
#define START_SOFT 200

/*
 * Runs "ulimit -Sn" through spawn_start with limits l (NULL: none) and
 * returns what it printed, as a number.
 */
static long
child_soft_limit(const struct conf_limits *l)
{
	char path[] = "/tmp/test_spawn.XXXXXX", buf[64];
	char *const argv[] = { "/bin/sh", "-c", "ulimit -Sn", NULL };
	char *const envp[] = { "PATH=/usr/bin:/bin", NULL };
	struct spawn_req req = { 0 };
	const char *stage = NULL;
	int fd = mkstemp(path), status;
	ssize_t n;
	pid_t pid;

	assert_true(fd >= 0);
	req.sr_argv = argv;
	req.sr_envp = envp;
	req.sr_out_fd = fd;
	req.sr_limits = l;
	if (spawn_start(&req, &pid, &stage) < 0)
		fail_msg("spawn_start: %s", stage);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	close(fd);
	unlink(path);
	return strtol(buf, NULL, 10);
}

static void
test_nofile(void **state)
{
	struct conf_limits l = { .l_open_files = 64 };
	struct rlimit rl;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max <= START_SOFT)
		skip();
	rl.rlim_cur = START_SOFT;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);

	spawn_init();
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_true(rl.rlim_cur == rl.rlim_max);
	/* The apps: the original soft limit, or the profile's. */
	assert_int_equal(child_soft_limit(NULL), START_SOFT);
	assert_int_equal(child_soft_limit(&l), 64);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nofile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
