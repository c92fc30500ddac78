/*
 * Unit tests for common/shipstate.c: which of a log's files the monitor's
 * copy into MongoDB stopped in. A file is known by its inode, birth time
 * and first bytes: the file a rotation drops frees its inode and the next
 * file made usually gets it, and that one must not be taken for it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "shipstate.h"

static char dir[64], log_path[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_shipstate.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(log_path, sizeof(log_path), "%s/metrics.jsonl", dir);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Appends n lines to the log's file k, each told apart by tag. */
static void
append(int k, const char *tag, int n)
{
	char *p = shipstate_path(log_path, k);
	FILE *f;

	assert_non_null(p);
	assert_non_null(f = fopen(p, "a"));
	for (int i = 0; i < n; i++)
		fprintf(f, "{\"type\":\"report\",\"file\":\"%s\",\"n\":%d}\n",
		    tag, i);
	assert_int_equal(fclose(f), 0);
	free(p);
}

static uint64_t
size_of(int k)
{
	char *p = shipstate_path(log_path, k);
	struct stat st;

	assert_non_null(p);
	assert_int_equal(stat(p, &st), 0);
	free(p);
	return (uint64_t)st.st_size;
}

/* The mark of the log's file k, at its end. */
static struct ship_mark
mark_of(int k)
{
	struct ship_mark m = { .sm_log = "metrics" };
	char *p = shipstate_path(log_path, k);
	int fd;

	assert_non_null(p);
	assert_true((fd = open(p, O_RDONLY)) != -1);
	assert_int_equal(shipstate_mark_file(&m, fd), 0);
	close(fd);
	free(p);
	m.sm_off = size_of(k);
	return m;
}

/* As common/applog.c rotates with backups: the oldest dropped. */
static void
rotate(int backups)
{
	char *from, *to;

	for (int k = backups; k >= 1; k--) {
		from = shipstate_path(log_path, k - 1);
		to = shipstate_path(log_path, k);
		assert_true(rename(from, to) == 0 || errno == ENOENT);
		free(from);
		free(to);
	}
	close(open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600));
}

/* The mark's file followed through rotations and growth. */
static void
test_follow(void **state)
{
	struct ship_mark m;
	int oldest;

	(void)state;
	append(0, "A", 10);
	m = mark_of(0);
	append(0, "A", 5);
	assert_int_equal(shipstate_index(log_path, &m, &oldest), 0);
	assert_int_equal(oldest, 0);
	assert_int_equal(shipstate_backlog(log_path, &m), size_of(0) - m.sm_off);
	rotate(3);
	append(0, "B", 3);
	assert_int_equal(shipstate_index(log_path, &m, &oldest), 1);
	assert_int_equal(oldest, 1);
	rotate(3);
	assert_int_equal(shipstate_index(log_path, &m, &oldest), 2);
	assert_int_equal(oldest, 2);
	assert_int_equal(shipstate_backlog(log_path, &m),
	    size_of(2) - m.sm_off + size_of(1) + size_of(0));
}

/*
 * The bug: backups = 3, the mark in file A, four rotations while the
 * server is down: A is dropped and the current file E usually gets its
 * inode. Made sure of here: the mark given E's inode. E is not A (other
 * birth time, other first bytes): the mark's file is not found, the
 * oldest there is (.3) comes next, and all of the files are backlog.
 */
static void
test_inode_reused(void **state)
{
	struct ship_mark m;
	struct stat st;
	int oldest;

	(void)state;
	append(0, "A", 20);
	m = mark_of(0);
	append(0, "A", 20);
	for (int r = 0; r < 4; r++) {
		char tag[2] = { (char)('B' + r), '\0' };

		rotate(3);
		append(0, tag, r == 3 ? 100 : 10);
	}
	assert_int_equal(shipstate_index(log_path, &m, &oldest), -1);
	assert_int_equal(stat(log_path, &st), 0);
	m.sm_ino = st.st_ino;		/* E with A's inode */
	assert_int_equal(shipstate_index(log_path, &m, &oldest), -1);
	assert_int_equal(oldest, 3);
	assert_int_equal(shipstate_backlog(log_path, &m),
	    size_of(3) + size_of(2) + size_of(1) + size_of(0));
}

/* backups = 0: cut back in place and written again, with other first
 * bytes: not the mark's file any more (ship.c says the cut). */
static void
test_cut_in_place(void **state)
{
	struct ship_mark m;
	int oldest;

	(void)state;
	append(0, "A", 20);
	m = mark_of(0);
	rotate(0);
	append(0, "B", 40);
	assert_int_equal(shipstate_index(log_path, &m, &oldest), -1);
	assert_int_equal(oldest, 0);
}

/* The state file: the fingerprint kept; a line of an older monitor
 * (without it) read with it unknown, the file then told by its inode. */
static void
test_state_file(void **state)
{
	struct ship_mark m, back[2];
	char state_path[160];
	FILE *f;
	int oldest;

	(void)state;
	snprintf(state_path, sizeof(state_path), "%s/records.state", dir);
	append(0, "A", 10);
	m = mark_of(0);
	m.sm_base = 77;
	assert_int_equal(shipstate_write(state_path, &m, 1), 0);
	assert_int_equal(shipstate_read(state_path, back, 2), 1);
	assert_string_equal(back[0].sm_log, "metrics");
	assert_true(back[0].sm_ino == m.sm_ino);
	assert_true(back[0].sm_off == m.sm_off);
	assert_true(back[0].sm_base == 77);
	assert_true(back[0].sm_birth == m.sm_birth);
	assert_int_equal(back[0].sm_headlen, SHIP_HEAD_MAX);
	assert_int_equal(back[0].sm_head, m.sm_head);

	assert_non_null(f = fopen(state_path, "w"));
	fprintf(f, "metrics %llu 5 9\ningest 0 0 0\n",
	    (unsigned long long)m.sm_ino);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(shipstate_read(state_path, back, 2), 2);
	assert_true(back[0].sm_off == 5 && back[0].sm_base == 9);
	assert_true(back[0].sm_birth == 0 && back[0].sm_headlen == 0);
	assert_string_equal(back[1].sm_log, "ingest");
	assert_int_equal(shipstate_index(log_path, &back[0], &oldest), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_follow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inode_reused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cut_in_place, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_state_file, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
