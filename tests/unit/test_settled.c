/*
 * Unit tests for manager/streammgr/settled.c: numbers noted and flushed
 * are found after a reopen, a torn last entry is cut off, a rewrite keeps
 * only the live ones, and a dropped list is gone; settled_sync syncs
 * only what was written since.
 *
 * fdatasync is this file's own, which the linker binds settled.c's
 * calls to (a program's definition comes before libc's): it counts the
 * calls and makes the real one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "settled.h"

static int fdatasyncs;		/* calls of fdatasync */

int
fdatasync(int fd)
{
	fdatasyncs++;
	return (int)syscall(SYS_fdatasync, fd);
}

struct fx {
	char	 dir[64];
	char	 file[96];
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/mysimbdp-settled-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->file, sizeof(fx->file), "%s/settled.log", fx->dir);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	unlink(fx->file);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static struct settled *
reopen(struct fx *fx)
{
	char err[256];
	struct settled *st = settled_open(fx->dir, false, err, sizeof(err));

	assert_non_null(st);
	return st;
}

static off_t
size_of(const char *file)
{
	struct stat sb;

	return stat(file, &sb) == 0 ? sb.st_size : -1;
}

static void
test_noted_found_after_reopen(void **state)
{
	struct fx *fx = *state;
	struct settled *st = reopen(fx);
	char err[256];
	FILE *f;

	assert_false(settled_has(st, 7));
	settled_note(st, 9);
	settled_note(st, 7);
	settled_note(st, 1ull << 40);
	assert_int_equal(size_of(fx->file), 0);	/* noted, not written */
	assert_int_equal(settled_flush(st, err, sizeof(err)), 0);
	assert_int_equal(size_of(fx->file), 24);
	settled_close(st, false);

	/* A crash cut the next entry short: it is cut off. */
	assert_non_null(f = fopen(fx->file, "a"));
	fputs("abc", f);
	fclose(f);
	st = reopen(fx);
	assert_int_equal(size_of(fx->file), 24);
	assert_int_equal(settled_top(st), 1ull << 40);
	assert_true(settled_has(st, 7));
	assert_true(settled_has(st, 9));
	assert_true(settled_has(st, 1ull << 40));
	assert_false(settled_has(st, 8));
	settled_loaded_free(st);
	assert_false(settled_has(st, 7));
	assert_int_equal(settled_top(st), 0);
	settled_close(st, true);
	assert_int_equal(size_of(fx->file), -1);
}

static bool
even(void *arg, uint64_t seq)
{
	(void)arg;
	return seq % 2 == 0;
}

static void
test_compact_keeps_live(void **state)
{
	struct fx *fx = *state;
	struct settled *st = reopen(fx);
	char err[256];

	/* 1 MiB of entries: worth a rewrite. */
	for (uint64_t seq = 1; seq <= 131072; seq++)
		settled_note(st, seq);
	assert_false(settled_wants_compact(st));
	assert_int_equal(settled_flush(st, err, sizeof(err)), 0);
	assert_true(settled_wants_compact(st));
	assert_int_equal(settled_compact(st, even, NULL, err, sizeof(err)), 0);
	assert_int_equal(size_of(fx->file), 65536 * 8);
	assert_false(settled_wants_compact(st));
	settled_note(st, 131073);		/* appended to the new file */
	assert_int_equal(settled_flush(st, err, sizeof(err)), 0);
	settled_close(st, false);
	st = reopen(fx);
	assert_true(settled_has(st, 2));
	assert_false(settled_has(st, 3));
	assert_true(settled_has(st, 131072));
	assert_true(settled_has(st, 131073));
	settled_close(st, true);
}

/* Numbers the disk refused (given out again) are forgotten if noted and
 * not written yet; those written stay. */
static void
test_unnote_forgets_the_refused(void **state)
{
	struct fx *fx = *state;
	struct settled *st = reopen(fx);
	char err[256];

	settled_note(st, 5);
	assert_int_equal(settled_flush(st, err, sizeof(err)), 0);
	settled_note(st, 7);
	settled_note(st, 11);
	settled_note(st, 9);
	settled_note(st, 8);
	settled_unnote_from(st, 9);
	settled_unnote_from(NULL, 9);
	assert_int_equal(settled_flush(st, err, sizeof(err)), 0);
	assert_int_equal(size_of(fx->file), 24);
	settled_close(st, false);
	st = reopen(fx);
	assert_true(settled_has(st, 5));
	assert_true(settled_has(st, 7));
	assert_true(settled_has(st, 8));
	assert_false(settled_has(st, 9));
	assert_false(settled_has(st, 11));
	settled_close(st, true);
}

static bool
none(void *arg, uint64_t seq)
{
	(void)arg;
	(void)seq;
	return false;
}

/* A member added to a running stream: the numbers below its floor count
 * as settled after a reopen, through a refused batch and a rewrite. */
static void
test_floor_kept(void **state)
{
	struct fx *fx = *state;
	struct settled *st = reopen(fx);
	char err[256];

	for (uint64_t seq = 200001; seq <= 200010; seq++)
		settled_note(st, seq);
	assert_int_equal(settled_set_floor(st, 100, err, sizeof(err)), 0);
	settled_note(st, 150);
	settled_unnote_from(st, 120);		/* 150 refused, not the floor */
	assert_int_equal(settled_flush(st, err, sizeof(err)), 0);
	settled_close(st, false);
	st = reopen(fx);
	assert_int_equal(settled_top(st), 200010);	/* not the floor */
	assert_true(settled_has(st, 1));
	assert_true(settled_has(st, 99));
	assert_false(settled_has(st, 100));
	assert_false(settled_has(st, 150));
	assert_true(settled_has(st, 200001));
	assert_int_equal(settled_compact(st, none, NULL, err, sizeof(err)), 0);
	assert_int_equal(size_of(fx->file), 8);	/* the floor only */
	settled_close(st, false);
	st = reopen(fx);
	assert_true(settled_has(st, 99));
	assert_false(settled_has(st, 100));
	assert_false(settled_has(st, 200001));
	settled_close(st, true);
}

/*
 * A list made for a member that joins says so, reopened too (a start
 * that stopped before its floor), until its floor; one made for a
 * stream's own app does not. The floor read back is the highest one set.
 */
static void
test_joining_and_floor(void **state)
{
	struct fx *fx = *state;
	char err[256];
	struct settled *st = settled_open(fx->dir, true, err, sizeof(err));

	assert_non_null(st);
	assert_true(settled_joining(st));
	assert_int_equal(settled_floor(st), 0);
	assert_false(settled_has(st, 5));
	settled_close(st, false);
	st = reopen(fx);
	assert_true(settled_joining(st));
	assert_int_equal(settled_floor(st), 0);
	assert_int_equal(settled_set_floor(st, 70, err, sizeof(err)), 0);
	assert_false(settled_joining(st));
	settled_close(st, false);
	st = reopen(fx);
	assert_false(settled_joining(st));
	assert_int_equal(settled_floor(st), 70);
	assert_int_equal(settled_top(st), 0);	/* floors only */
	assert_int_equal(settled_top(NULL), 0);
	assert_true(settled_has(st, 69));
	assert_false(settled_has(st, 70));
	assert_int_equal(settled_floor(NULL), 0);
	settled_close(st, true);
	st = reopen(fx);			/* made, not joining */
	assert_false(settled_joining(st));
	settled_close(st, true);
}

/*
 * settled_sync makes a system call only when the list was written to
 * since it was opened, synced or rewritten: a requeue syncs its group's
 * lists, and those it wrote nothing to cost nothing.
 */
static void
test_sync_what_was_written(void **state)
{
	struct fx *fx = *state;
	struct settled *st = reopen(fx);
	char err[256];

	fdatasyncs = 0;
	assert_int_equal(settled_sync(st, err, sizeof(err)), 0);
	assert_int_equal(fdatasyncs, 0);	/* nothing written */
	settled_note(st, 3);
	assert_int_equal(settled_sync(st, err, sizeof(err)), 0);
	assert_int_equal(fdatasyncs, 0);	/* noted, not written */
	assert_int_equal(settled_flush(st, err, sizeof(err)), 0);
	assert_int_equal(settled_sync(st, err, sizeof(err)), 0);
	assert_int_equal(fdatasyncs, 1);
	assert_int_equal(settled_sync(st, err, sizeof(err)), 0);
	assert_int_equal(fdatasyncs, 1);	/* synced already */
	settled_note(st, 4);
	assert_int_equal(settled_compact(st, none, NULL, err, sizeof(err)),
	    0);
	assert_int_equal(fdatasyncs, 2);	/* the rewrite's own */
	assert_int_equal(settled_sync(st, err, sizeof(err)), 0);
	assert_int_equal(fdatasyncs, 2);
	settled_close(st, false);
	st = reopen(fx);			/* an earlier run's bytes */
	assert_int_equal(settled_sync(st, err, sizeof(err)), 0);
	assert_int_equal(fdatasyncs, 2);
	settled_close(st, true);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_noted_found_after_reopen,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_keeps_live, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unnote_forgets_the_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_floor_kept, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_joining_and_floor, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sync_what_was_written,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
