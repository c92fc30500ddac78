/*
 * Unit tests for manager/streammgr/syncer.c: before the thread starts a
 * sync runs at once; after, results come back through the loop in the
 * order asked, with fdatasync's errno, each descriptor closed once
 * synced; syncer_wait hands every result back without the loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "syncer.h"

#define JOBS	8

static struct event_base *base;
static int ndone;
static uint64_t gens[JOBS];
static int errs[JOBS];

static void
on_done(void *cookie, uint64_t gen, int err)
{
	assert_ptr_equal(cookie, &ndone);
	assert_true(ndone < JOBS);
	gens[ndone] = gen;
	errs[ndone] = err;
	if (++ndone == JOBS)
		event_base_loopbreak(base);
}

/* A descriptor of a file written to, for fdatasync. */
static int
written_fd(void)
{
	char path[] = "/tmp/test_syncer.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(write(fd, "data", 4), 4);
	return fd;
}

/* A descriptor fdatasync refuses (EINVAL): a pipe's. */
static int
pipe_fd(void)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	close(p[1]);
	return p[0];
}

static void
before_start_syncs_at_once(void **state)
{
	int fd = written_fd(), bad = pipe_fd();

	(void)state;
	ndone = 0;
	syncer_sync(fd, 7, on_done, &ndone);
	assert_int_equal(ndone, 1);
	assert_int_equal(gens[0], 7);
	assert_int_equal(errs[0], 0);
	assert_int_equal(fcntl(fd, F_GETFD), -1);	/* closed */
	syncer_sync(bad, 8, on_done, &ndone);
	assert_int_equal(ndone, 2);
	assert_int_equal(errs[1], EINVAL);
	syncer_wait();		/* nothing to wait for */
}

static void
results_come_back_in_order_through_the_loop(void **state)
{
	int fds[JOBS];

	(void)state;
	assert_int_equal(syncer_start(base), 0);
	ndone = 0;
	for (int k = 0; k < JOBS; k++) {
		fds[k] = k == 3 ? pipe_fd() : written_fd();
		syncer_sync(fds[k], 100 + (uint64_t)k, on_done, &ndone);
	}
	assert_int_equal(event_base_dispatch(base), 0);
	assert_int_equal(ndone, JOBS);
	for (int k = 0; k < JOBS; k++) {
		assert_int_equal(gens[k], 100 + (uint64_t)k);
		assert_int_equal(errs[k], k == 3 ? EINVAL : 0);
		assert_int_equal(fcntl(fds[k], F_GETFD), -1);
	}
}

static void
wait_hands_back_without_the_loop(void **state)
{
	(void)state;
	ndone = 0;
	for (int k = 0; k < JOBS; k++)
		syncer_sync(written_fd(), (uint64_t)k, on_done, &ndone);
	syncer_wait();
	assert_int_equal(ndone, JOBS);
	for (int k = 0; k < JOBS; k++)
		assert_int_equal(gens[k], (uint64_t)k);
	syncer_stop();
	/* Stopped: at once again. */
	ndone = 0;
	syncer_sync(written_fd(), 9, on_done, &ndone);
	assert_int_equal(ndone, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(before_start_syncs_at_once),
		cmocka_unit_test(results_come_back_in_order_through_the_loop),
		cmocka_unit_test(wait_hands_back_without_the_loop),
	};
	int rc;

	base = event_base_new();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	event_base_free(base);
	return rc;
}
