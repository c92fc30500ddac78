/*
 * Unit tests for manager/streammgr/instnum.c: numbers go on after a
 * reopen, never back; an older streammgr's file is read and rewritten in
 * the fixed width; a disk with no room for a new file has the file
 * overwritten in place, and when that fails too no number is handed out
 * until a retry succeeds.
 *
 * A full disk is simulated by this file's own write, fsync and
 * fdatasync, which the linker binds instnum.c's calls to (a program's
 * definition comes before libc's; stdio does not call them): they fail
 * with the errno set below, else make the real system call. write()
 * failing with ENOSPC is a full disk's answer to the new file's first
 * byte; the write in place is a pwrite().
 */
#include <errno.h>
#include <fcntl.h>
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

#include "instnum.h"

static int fail_write;		/* errno for write, 0: the real one */
static int fail_fsync;		/* the same for fsync */
static int fail_fdatasync;	/* and fdatasync */
static int fail_dirsync;	/* fsync of a folder only */
static int dirsyncs;		/* folders fsynced */

ssize_t
write(int fd, const void *buf, size_t len)
{
	if (fail_write != 0) {
		errno = fail_write;
		return -1;
	}
	return syscall(SYS_write, fd, buf, len);
}

int
fsync(int fd)
{
	struct stat sb;
	bool dir = fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode);

	if (fail_fsync != 0 || (dir && fail_dirsync != 0)) {
		errno = fail_fsync != 0 ? fail_fsync : fail_dirsync;
		return -1;
	}
	dirsyncs += dir;
	return (int)syscall(SYS_fsync, fd);
}

int
fdatasync(int fd)
{
	if (fail_fdatasync != 0) {
		errno = fail_fdatasync;
		return -1;
	}
	return (int)syscall(SYS_fdatasync, fd);
}

struct fx {
	char	 dir[64];
	char	 file[96];
	char	 tmp[96];
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/mysimbdp-instnum-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->file, sizeof(fx->file), "%s/instances", fx->dir);
	snprintf(fx->tmp, sizeof(fx->tmp), "%s/.instances.new", fx->dir);
	fail_write = fail_fsync = fail_fdatasync = fail_dirsync = 0;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	fail_write = fail_fsync = fail_fdatasync = fail_dirsync = 0;
	unlink(fx->file);
	unlink(fx->tmp);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static void
put(const char *file, const char *text)
{
	FILE *f = fopen(file, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* What file holds ("" when there is none). */
static const char *
got(const char *file)
{
	static char buf[64];
	FILE *f = fopen(file, "r");
	size_t n;

	if (f == NULL)
		return "";
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static ino_t
inode_of(const char *file)
{
	struct stat sb;

	assert_int_equal(stat(file, &sb), 0);
	return sb.st_ino;
}

static void
open_ok(struct instnum *in, struct fx *fx)
{
	char err[256] = "";

	assert_int_equal(instnum_open(in, fx->dir, err, sizeof(err)), 0);
}

/* The next number, which must come without a write in place. */
static unsigned
next_ok(struct instnum *in)
{
	char err[512] = "";
	unsigned num = 0;

	if (instnum_next(in, &num, err, sizeof(err)) != 0)
		fail_msg("instnum_next: %s", err);
	return num;
}

static void
test_numbers_go_on_after_reopen(void **state)
{
	struct fx *fx = *state;
	struct instnum in;

	/* Made at open, reserving nothing; the first start reserves. */
	open_ok(&in, fx);
	assert_string_equal(got(fx->file), "0000000001\n");
	for (unsigned k = 1; k <= INSTNUM_BLOCK; k++)
		assert_int_equal(next_ok(&in), k);
	assert_string_equal(got(fx->file), "0000000065\n");
	assert_int_equal(next_ok(&in), 65);
	assert_string_equal(got(fx->file), "0000000129\n");
	instnum_close(&in);

	/* A crash after 65: the next start goes on after the block. */
	open_ok(&in, fx);
	assert_string_equal(got(fx->file), "0000000129\n");
	assert_int_equal(next_ok(&in), 129);
	assert_string_equal(got(fx->file), "0000000193\n");
	instnum_close(&in);
	assert_string_equal(got(fx->tmp), "");
}

static void
test_older_file_read_and_rewritten(void **state)
{
	struct fx *fx = *state;
	struct instnum in;

	put(fx->file, "65\n");
	open_ok(&in, fx);
	assert_string_equal(got(fx->file), "65\n");
	assert_int_equal(next_ok(&in), 65);
	assert_string_equal(got(fx->file), "0000000129\n");
	instnum_close(&in);

	put(fx->file, "130");	/* no newline: read all the same */
	open_ok(&in, fx);
	assert_int_equal(next_ok(&in), 130);
	assert_string_equal(got(fx->file), "0000000194\n");
	instnum_close(&in);
}

static void
test_garbled_file_is_an_error(void **state)
{
	static const char *bad[] = { "garbage\n", "0000000000\n", "-5\n",
	    "12 \n", "4294967290\n", "99999999999999999999\n" };
	struct fx *fx = *state;
	struct instnum in;
	char err[256];

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		put(fx->file, bad[k]);
		err[0] = '\0';
		assert_int_equal(instnum_open(&in, fx->dir, err, sizeof(err)),
		    -1);
		assert_non_null(strstr(err, "not a number of instances"));
		instnum_close(&in);
		/* And left as it was, for the operator to look at. */
		assert_string_equal(got(fx->file), bad[k]);
	}
}

/* An empty file: made at open, cut short by a crash; made again. */
static void
test_empty_file_reserves_nothing(void **state)
{
	struct fx *fx = *state;
	struct instnum in;

	put(fx->file, "");
	open_ok(&in, fx);
	assert_string_equal(got(fx->file), "0000000001\n");
	assert_int_equal(next_ok(&in), 1);
	assert_string_equal(got(fx->file), "0000000065\n");
	instnum_close(&in);
}

/* The disk has no room for the new file: the old one is overwritten. */
static void
test_full_disk_overwrites_in_place(void **state)
{
	struct fx *fx = *state;
	struct instnum in;
	char err[512] = "";
	unsigned num = 0;
	ino_t ino;

	/* The file made at open serves the first block. */
	open_ok(&in, fx);
	ino = inode_of(fx->file);
	fail_write = ENOSPC;
	assert_int_equal(instnum_next(&in, &num, err, sizeof(err)), 1);
	assert_int_equal(num, 1);
	assert_string_equal(got(fx->file), "0000000065\n");
	for (unsigned k = 2; k <= INSTNUM_BLOCK; k++)
		assert_int_equal(next_ok(&in), k);
	assert_int_equal(instnum_next(&in, &num, err, sizeof(err)), 1);
	assert_int_equal(num, 65);
	assert_non_null(strstr(err, "instances: write: No space left on device"));
	assert_string_equal(got(fx->file), "0000000129\n");
	assert_int_equal(inode_of(fx->file), ino);
	assert_int_equal(access(fx->tmp, F_OK), -1);	/* not left */
	for (unsigned k = 66; k < 129; k++)
		assert_int_equal(next_ok(&in), k);
	fail_write = EDQUOT;	/* over the quota: the same */
	assert_int_equal(instnum_next(&in, &num, err, sizeof(err)), 1);
	assert_int_equal(num, 129);
	assert_string_equal(got(fx->file), "0000000193\n");
	instnum_close(&in);

	/* A crash on the full disk: nothing comes back. */
	open_ok(&in, fx);
	assert_int_equal(instnum_next(&in, &num, err, sizeof(err)), 1);
	assert_int_equal(num, 193);
	assert_string_equal(got(fx->file), "0000000257\n");
	instnum_close(&in);
}

/* Not even in place: no number, and the next try may succeed. */
static void
test_full_disk_and_no_write_in_place(void **state)
{
	struct fx *fx = *state;
	struct instnum in;
	char err[512] = "";
	unsigned num = 0;

	open_ok(&in, fx);
	for (unsigned k = 1; k <= INSTNUM_BLOCK; k++)
		assert_int_equal(next_ok(&in), k);
	fail_write = ENOSPC;
	fail_fdatasync = EIO;
	num = 7;
	assert_int_equal(instnum_next(&in, &num, err, sizeof(err)), -1);
	assert_int_equal(num, 7);
	assert_non_null(strstr(err, "instances: write: No space left on "
	    "device; nor in place: fdatasync: Input/output error"));
	assert_int_equal(instnum_next(&in, &num, err, sizeof(err)), -1);
	fail_write = fail_fsync = fail_fdatasync = 0;
	assert_int_equal(next_ok(&in), 65);
	assert_string_equal(got(fx->file), "0000000129\n");
	instnum_close(&in);
}

/*
 * The folder's fsync failed after the rename, then the disk filled: the
 * write in place fsyncs the folder too, or a crash could bring back the
 * file the rename replaced, and with it the numbers handed out since.
 */
static void
test_in_place_makes_the_rename_durable(void **state)
{
	struct fx *fx = *state;
	struct instnum in;
	char err[512] = "";
	unsigned num = 0;
	int before;

	open_ok(&in, fx);
	for (unsigned k = 1; k <= INSTNUM_BLOCK; k++)
		assert_int_equal(next_ok(&in), k);
	fail_dirsync = EIO;
	assert_int_equal(instnum_next(&in, &num, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "instances: fsync of the folder: "
	    "Input/output error"));
	assert_string_equal(got(fx->file), "0000000129\n");	/* renamed */
	fail_dirsync = 0;
	fail_write = ENOSPC;
	before = dirsyncs;
	assert_int_equal(instnum_next(&in, &num, err, sizeof(err)), 1);
	assert_int_equal(num, 65);
	assert_int_equal(dirsyncs, before + 1);
	fail_dirsync = EIO;	/* and not handed out without it */
	for (unsigned k = 66; k < 129; k++)
		assert_int_equal(next_ok(&in), k);
	assert_int_equal(instnum_next(&in, &num, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nor in place: fsync of the folder: "
	    "Input/output error"));
	instnum_close(&in);
}

/* Another failure than want of room: no write in place. */
static void
test_other_failure_not_in_place(void **state)
{
	struct fx *fx = *state;
	struct instnum in;
	char err[512] = "";
	unsigned num = 0;

	open_ok(&in, fx);
	for (unsigned k = 1; k <= INSTNUM_BLOCK; k++)
		assert_int_equal(next_ok(&in), k);
	fail_fsync = EIO;
	assert_int_equal(instnum_next(&in, &num, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "instances: fsync: Input/output error"));
	assert_null(strstr(err, "in place"));
	assert_string_equal(got(fx->file), "0000000065\n");
	instnum_close(&in);
}

/* Opened on a full disk with an older file, or none: it cannot be
 * overwritten in place, so starts wait for room; no error at open. */
static void
test_full_disk_at_open(void **state)
{
	struct fx *fx = *state;
	struct instnum in;
	char err[512] = "";
	unsigned num = 0;

	put(fx->file, "65\n");
	fail_write = ENOSPC;
	open_ok(&in, fx);
	assert_string_equal(got(fx->file), "65\n");
	assert_int_equal(instnum_next(&in, &num, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nor in place: not of the fixed width"));
	fail_write = 0;
	assert_int_equal(next_ok(&in), 65);
	instnum_close(&in);

	unlink(fx->file);
	fail_write = ENOSPC;
	open_ok(&in, fx);
	assert_int_equal(access(fx->file, F_OK), -1);	/* none made */
	assert_int_equal(access(fx->tmp, F_OK), -1);
	assert_int_equal(instnum_next(&in, &num, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nor in place: open: No such file"));
	fail_write = 0;
	assert_int_equal(next_ok(&in), 1);
	assert_string_equal(got(fx->file), "0000000065\n");
	instnum_close(&in);

	/* A file of the fixed width: opened on a full disk, it serves. */
	fail_write = ENOSPC;
	open_ok(&in, fx);
	assert_int_equal(instnum_next(&in, &num, err, sizeof(err)), 1);
	assert_int_equal(num, 65);
	assert_string_equal(got(fx->file), "0000000129\n");
	instnum_close(&in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_numbers_go_on_after_reopen,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_older_file_read_and_rewritten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbled_file_is_an_error,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_file_reserves_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_full_disk_overwrites_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_full_disk_and_no_write_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_in_place_makes_the_rename_durable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_failure_not_in_place,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_disk_at_open, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
