/*
 * Unit tests for common/record.c's appends: a record the file-size limit
 * (or a full disk) cuts short leaves no part of its line, so the log
 * stays whole lines and the next record is readable.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "record.h"

#define LIMIT 4096

static off_t
size_of(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return st.st_size;
}

/* What fd holds from offset at on, as one string. */
static char *
written(int fd, off_t at)
{
	off_t end = size_of(fd);
	char *buf = calloc(1, (size_t)(end - at) + 1);

	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)(end - at), at), end - at);
	return buf;
}

/* A file of size bytes of whole lines, open for appending. */
static int
log_of(off_t size)
{
	char path[] = "/tmp/mysimbdp-record-XXXXXX", line[64];
	int fd = mkstemp(path);
	off_t left = size;

	assert_true(fd >= 0);
	unlink(path);
	while (left > 0) {
		size_t n = left > (off_t)sizeof(line) ? sizeof(line) :
		    (size_t)left;

		memset(line, 'x', n);
		line[n - 1] = '\n';
		assert_int_equal(write(fd, line, n), (ssize_t)n);
		left -= (off_t)n;
	}
	assert_int_equal(fcntl(fd, F_SETFL, O_APPEND), 0);
	return fd;
}

static void
fill(struct record *r)
{
	record_init(r);
	r->r_tenant = "acme";
	r->r_file = "a.csv";
	r->r_status = "ok";
	r->r_bytes = 123;
}

/* Appends r under a file-size limit of LIMIT bytes; returns its errno or 0. */
static int
append_limited(int fd, const struct record *r)
{
	struct rlimit old, rl;
	int rc, err;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	rl = old;
	rl.rlim_cur = LIMIT;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
	rc = record_append(fd, r);
	err = errno;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	return rc == 0 ? 0 : err;
}

/* Room for part of the line: the part written is cut off again. */
static void
test_short_write_cut_off(void **state)
{
	int fd = log_of(LIMIT - 40);
	struct record r;
	char last, *line;

	(void)state;
	fill(&r);
	assert_int_equal(append_limited(fd, &r), EFBIG);
	assert_int_equal(size_of(fd), LIMIT - 40);
	assert_int_equal(pread(fd, &last, 1, LIMIT - 41), 1);
	assert_int_equal(last, '\n');
	/* With room again, the next record is a whole line of its own. */
	assert_int_equal(record_append(fd, &r), 0);
	line = written(fd, LIMIT - 40);
	assert_int_equal(line[0], '{');
	assert_non_null(strstr(line, "\"file\":\"a.csv\""));
	assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
	free(line);
	close(fd);
}

/* No room at all: nothing written, EFBIG. */
static void
test_no_room(void **state)
{
	int fd = log_of(LIMIT);
	struct record r;

	(void)state;
	fill(&r);
	assert_int_equal(append_limited(fd, &r), EFBIG);
	assert_int_equal(size_of(fd), LIMIT);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_write_cut_off),
		cmocka_unit_test(test_no_room),
	};

	/* Past the limit a write fails with EFBIG instead of killing us,
	 * as in the daemons (common/daemon.c). */
	signal(SIGXFSZ, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
