/*
 * Unit tests for common/spawn.c: the limit of open files. spawn_init
 * raises the daemon's own soft limit to the hard one (a thousand tenants
 * need more than 1024 descriptors), and the apps it starts get the
 * original soft limit back, or their profile's limits.open_files. And
 * sr_nice: the app and, where the kernel has autogroups, its session.
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
 * Runs "/bin/sh -c script" through spawn_start with limits l (NULL: none)
 * and nice value nice; fills buf (a string) with what it printed.
 */
static void
run_script(char *script, const struct conf_limits *l, int nice,
    char *buf, size_t len)
{
	char path[] = "/tmp/test_spawn.XXXXXX";
	char *const argv[] = { "/bin/sh", "-c", script, NULL };
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
	req.sr_nice = nice;
	if (spawn_start(&req, &pid, &stage) < 0)
		fail_msg("spawn_start: %s", stage);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	n = pread(fd, buf, len - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	close(fd);
	unlink(path);
}

/* The soft limit of open files of an app started with limits l. */
static long
child_soft_limit(const struct conf_limits *l)
{
	char buf[64];

	run_script("ulimit -Sn", l, 0, buf, sizeof(buf));
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

/*
 * An app started with sr_nice 19 runs at nice 19, and so does its
 * session's autogroup, which is what weighs against other sessions.
 */
static void
test_nice(void **state)
{
	char buf[256], group[64];
	int session_nice = -1, app_nice = -1;

	(void)state;
	/* Without CAP_SYS_ADMIN the kernel takes one autogroup change per
	 * 100 ms, whoever asks: other tests' apps could take the turn. */
	if (access("/proc/self/autogroup", F_OK) < 0 || geteuid() != 0)
		skip();
	run_script("cat /proc/self/autogroup; nice", NULL, 19, buf,
	    sizeof(buf));
	/* "/autogroup-123 nice 19\n19\n" */
	if (sscanf(buf, "%63s nice %d %d", group, &session_nice,
	    &app_nice) != 3)
		fail_msg("unexpected output: %s", buf);
	assert_int_equal(session_nice, 19);
	assert_int_equal(app_nice, 19);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nofile),
		cmocka_unit_test(test_nice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
