/*
 * Unit tests for manager/batchmgr/examine.c: the intake verdict for one
 * entry of incoming/. The facts (lstat, open, fstat, the lease, the
 * clock) and the profile are built by hand; every verdict and every
 * rejection reason has a case.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "examine.h"

#define NOW_MS		1700000000000LL
#define GRACE_MS	60000
#define SETTLE_MS	2000
#define MAX_SIZE	1024

static char fmt_csv[] = "csv";
static char *formats[] = { fmt_csv, NULL };

struct fixture {
	struct conf_batch	 cb;
	struct quota		 q;
	struct examine_rules	 r;
	struct examine_facts	 f;
	struct examine_verdict	 v;
};

static struct timespec
ts_of(int64_t ms)
{
	return (struct timespec){ .tv_sec = ms / 1000,
	    .tv_nsec = (ms % 1000) * 1000000 };
}

/* Last changed (ctime, and mtime with it) at changed_ms. */
static struct stat
stat_of(mode_t mode, nlink_t nlink, off_t size, int64_t changed_ms)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	st.st_mode = mode;
	st.st_nlink = nlink;
	st.st_size = size;
	st.st_ino = 42;
	st.st_dev = 7;
	st.st_mtim = st.st_ctim = ts_of(changed_ms);
	return st;
}

/* A settled 100-byte data.csv in dataset "sales" served by an app. */
static int
setup(void **state)
{
	static struct fixture fx;

	memset(&fx, 0, sizeof(fx));
	fx.cb.b_enabled = true;
	fx.cb.b_formats = formats;
	fx.cb.b_max_file_size = MAX_SIZE;
	fx.cb.b_partial_grace_ms = GRACE_MS;
	fx.cb.b_quota.q_window_ms = 3600000;
	fx.r.er_batch = &fx.cb;
	fx.r.er_settle_ms = SETTLE_MS;
	fx.r.er_quota = &fx.q;
	fx.f.ef_dataset = "sales";
	fx.f.ef_name = "data.csv";
	fx.f.ef_origin = EX_FROM_CLOSE;
	fx.f.ef_now_ms = NOW_MS;
	fx.f.ef_has_app = true;
	fx.f.ef_lstat = stat_of(S_IFREG | 0640, 1, 100, NOW_MS - 10000);
	fx.f.ef_opened = true;
	fx.f.ef_fstat = fx.f.ef_lstat;
	*state = &fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	quota_free(&fx->q);
	return 0;
}

static struct examine_verdict *
run(struct fixture *fx)
{
	memset(&fx->v, 0xa5, sizeof(fx->v));
	examine(&fx->f, &fx->r, &fx->v);
	return &fx->v;
}

/* Runs examine and expects a rejection whose reason is want. */
static void
expect_reject(struct fixture *fx, const char *want, uint64_t bytes)
{
	struct examine_verdict *v = run(fx);

	assert_int_equal(v->v_kind, EX_REJECT);
	assert_string_equal(v->v_reason, want);
	assert_int_equal(v->v_bytes, bytes);
}

static void
expect_wait(struct fixture *fx, bool settle)
{
	struct examine_verdict *v = run(fx);

	assert_int_equal(v->v_kind, EX_WAIT);
	assert_int_equal(v->v_settle, settle);
}

static void
claims_settled_file(void **state)
{
	struct fixture *fx = *state;
	struct examine_verdict *v = run(fx);

	assert_int_equal(v->v_kind, EX_CLAIM);
	assert_int_equal(v->v_bytes, 100);
	/* The quota is only looked at: the caller counts a claim. */
	assert_int_equal(fx->q.q_count, 0);
}

static void
claims_top_level_file_from_scan_once_settled(void **state)
{
	struct fixture *fx = *state;

	fx->f.ef_dataset = "";
	fx->f.ef_origin = EX_FROM_SCAN;
	fx->f.ef_fstat.st_ctim = ts_of(NOW_MS - SETTLE_MS);
	assert_int_equal(run(fx)->v_kind, EX_CLAIM);
}

static void
asks_to_open_when_lstat_allows(void **state)
{
	struct fixture *fx = *state;
	struct examine_verdict *v;

	fx->f.ef_opened = false;
	memset(&fx->f.ef_fstat, 0, sizeof(fx->f.ef_fstat));
	v = run(fx);
	assert_int_equal(v->v_kind, EX_OPEN);
	assert_int_equal(v->v_bytes, 100);
}

static void
top_level_folder_is_a_dataset(void **state)
{
	struct fixture *fx = *state;

	fx->f.ef_dataset = "";
	fx->f.ef_name = "sales";
	fx->f.ef_lstat = stat_of(S_IFDIR | 0750, 2, 4096, NOW_MS);
	fx->f.ef_opened = false;
	assert_int_equal(run(fx)->v_kind, EX_DATASET);
}

static void
nested_folder_is_ignored_with_a_note(void **state)
{
	struct fixture *fx = *state;
	struct examine_verdict *v;

	fx->f.ef_name = "deeper";
	fx->f.ef_lstat = stat_of(S_IFDIR | 0750, 2, 4096, NOW_MS);
	fx->f.ef_opened = false;
	v = run(fx);
	assert_int_equal(v->v_kind, EX_IGNORE);
	assert_string_equal(v->v_reason, "nested folder");
}

static void
partial_name_is_ignored_within_grace(void **state)
{
	struct fixture *fx = *state;
	struct examine_verdict *v;
	static const char *const names[] = { ".hidden.csv", "data.csv.part",
	    "data.tmp", "data.csv~" };

	fx->f.ef_opened = false;
	fx->f.ef_lstat = stat_of(S_IFREG | 0640, 1, 100,
	    NOW_MS - GRACE_MS + 1);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		fx->f.ef_name = names[i];
		v = run(fx);
		assert_int_equal(v->v_kind, EX_IGNORE);
		assert_string_equal(v->v_reason, "");
	}
}

static void
partial_name_is_rejected_after_grace(void **state)
{
	struct fixture *fx = *state;

	fx->f.ef_name = "data.csv.part";
	fx->f.ef_opened = false;
	/* Even a symlink: the name is looked at first. */
	fx->f.ef_lstat = stat_of(S_IFLNK | 0777, 1, 8, NOW_MS - GRACE_MS);
	expect_reject(fx, "partial: hidden or partial name unchanged for "
	    "longer than partial_grace 1m", 8);
}

static void
new_regular_file_from_create_waits_for_close(void **state)
{
	struct fixture *fx = *state;

	fx->f.ef_origin = EX_FROM_CREATE;
	fx->f.ef_opened = false;
	expect_wait(fx, false);
	/* A link or a fifo sends no IN_CLOSE_WRITE: it is decided now. */
	fx->f.ef_lstat.st_nlink = 2;
	assert_int_equal(run(fx)->v_kind, EX_REJECT);
	fx->f.ef_lstat = stat_of(S_IFIFO | 0640, 1, 0, NOW_MS);
	assert_int_equal(run(fx)->v_kind, EX_REJECT);
}

static void
rejects_symlink(void **state)
{
	struct fixture *fx = *state;

	fx->f.ef_lstat = stat_of(S_IFLNK | 0777, 1, 12, NOW_MS);
	expect_reject(fx, "symlink: symbolic links are not accepted", 12);
}

static void
rejects_fifo_socket_and_devices(void **state)
{
	struct fixture *fx = *state;

	fx->f.ef_lstat = stat_of(S_IFIFO | 0640, 1, 0, NOW_MS);
	expect_reject(fx, "not-regular: a fifo, not a regular file", 0);
	fx->f.ef_lstat = stat_of(S_IFSOCK | 0640, 1, 0, NOW_MS);
	expect_reject(fx, "not-regular: a socket, not a regular file", 0);
	fx->f.ef_lstat = stat_of(S_IFCHR | 0640, 1, 0, NOW_MS);
	expect_reject(fx, "not-regular: a character device, not a regular "
	    "file", 0);
}

static void
rejects_hard_link(void **state)
{
	struct fixture *fx = *state;

	fx->f.ef_lstat.st_nlink = 3;
	expect_reject(fx, "hard-link: the file has 3 links; hard links are "
	    "not accepted", 100);
}

static void
rejects_too_large_on_lstat(void **state)
{
	struct fixture *fx = *state;

	fx->f.ef_lstat.st_size = MAX_SIZE + 1;
	expect_reject(fx, "too-large: 1.0K (1025 bytes) exceeds max_file_size "
	    "1K", MAX_SIZE + 1);
}

static void
rejects_unreadable(void **state)
{
	struct fixture *fx = *state;
	char want[128];

	fx->f.ef_open_errno = EACCES;
	snprintf(want, sizeof(want), "unreadable: open: %s", strerror(EACCES));
	expect_reject(fx, want, 100);
}

static void
waits_when_replaced_between_lstat_and_open(void **state)
{
	struct fixture *fx = *state;

	fx->f.ef_fstat.st_ino = 43;
	expect_wait(fx, false);
	fx->f.ef_fstat.st_ino = 42;
	fx->f.ef_fstat.st_dev = 8;
	expect_wait(fx, false);
}

static void
waits_for_settle_while_open_for_writing(void **state)
{
	struct fixture *fx = *state;

	fx->f.ef_writing = true;
	expect_wait(fx, true);
}

static void
rejects_what_the_fd_shows(void **state)
{
	struct fixture *fx = *state;

	/* Grown, or linked, after lstat: the fd's answers count. */
	fx->f.ef_fstat.st_size = 4096;
	expect_reject(fx, "too-large: 4K (4096 bytes) exceeds max_file_size "
	    "1K", 4096);
	fx->f.ef_fstat.st_size = 100;
	fx->f.ef_fstat.st_nlink = 2;
	expect_reject(fx, "hard-link: the file has 2 links; hard links are "
	    "not accepted", 100);
}

static void
scanned_file_waits_until_settle_old(void **state)
{
	struct fixture *fx = *state;

	fx->f.ef_origin = EX_FROM_SCAN;
	fx->f.ef_fstat.st_ctim = ts_of(NOW_MS - SETTLE_MS + 1);
	expect_wait(fx, true);
	/* An event says the file is complete: no settle wait. */
	fx->f.ef_origin = EX_FROM_CLOSE;
	assert_int_equal(run(fx)->v_kind, EX_CLAIM);
}

/* upload_settle: even a closed file waits until unchanged that long. */
static void
upload_settle_holds_closed_files(void **state)
{
	struct fixture *fx = *state;

	fx->cb.b_upload_settle_ms = 20000;
	fx->f.ef_fstat.st_ctim = ts_of(NOW_MS - 20000 + 1);
	fx->f.ef_origin = EX_FROM_CLOSE;
	expect_wait(fx, true);
	fx->f.ef_origin = EX_FROM_SCAN;
	expect_wait(fx, true);
	fx->f.ef_now_ms = NOW_MS + 1;
	assert_int_equal(run(fx)->v_kind, EX_CLAIM);
	fx->f.ef_origin = EX_FROM_CLOSE;
	assert_int_equal(run(fx)->v_kind, EX_CLAIM);
}

/*
 * The settle counts from the last change (ctime), never from the mtime a
 * client set: in the future (rsync -t from a host whose clock is ahead,
 * touch -d 2099) it held the file until then; in the past it does not
 * shorten the settle.
 */
static void
settle_counts_from_ctime_not_mtime(void **state)
{
	struct fixture *fx = *state;

	fx->cb.b_upload_settle_ms = 20000;
	fx->f.ef_fstat.st_mtim = ts_of(4070908800000LL);	/* 2099 */
	fx->f.ef_fstat.st_ctim = ts_of(NOW_MS - 20000);
	fx->f.ef_origin = EX_FROM_SCAN;
	assert_int_equal(run(fx)->v_kind, EX_CLAIM);
	fx->f.ef_origin = EX_FROM_CLOSE;
	assert_int_equal(run(fx)->v_kind, EX_CLAIM);
	fx->f.ef_fstat.st_mtim = ts_of(NOW_MS - 86400000);
	fx->f.ef_fstat.st_ctim = ts_of(NOW_MS - 1);
	expect_wait(fx, true);
}

/* So does partial_grace. */
static void
partial_grace_counts_from_ctime_not_mtime(void **state)
{
	struct fixture *fx = *state;

	fx->f.ef_name = "data.csv.part";
	fx->f.ef_opened = false;
	fx->f.ef_lstat.st_mtim = ts_of(4070908800000LL);
	fx->f.ef_lstat.st_ctim = ts_of(NOW_MS - GRACE_MS);
	assert_int_equal(run(fx)->v_kind, EX_REJECT);
	fx->f.ef_lstat.st_mtim = ts_of(NOW_MS - 86400000);
	fx->f.ef_lstat.st_ctim = ts_of(NOW_MS - 1);
	assert_int_equal(run(fx)->v_kind, EX_IGNORE);
}

static void
rejects_unknown_dataset(void **state)
{
	struct fixture *fx = *state;

	fx->f.ef_has_app = false;
	expect_reject(fx, "unknown-dataset: no app serves dataset \"sales\"",
	    100);
}

static void
rejects_top_level_file_without_app(void **state)
{
	struct fixture *fx = *state;

	fx->f.ef_dataset = "";
	fx->f.ef_has_app = false;
	expect_reject(fx, "no-app: no app serves top-level files (put them in "
	    "a dataset folder)", 100);
}

static void
rejects_format(void **state)
{
	struct fixture *fx = *state;

	fx->f.ef_name = "data.json";
	expect_reject(fx, "format: extension \"json\" not accepted (formats: "
	    "csv)", 100);
}

static void
rejects_quota_files(void **state)
{
	struct fixture *fx = *state;

	fx->cb.b_quota.q_max_files = 1;
	quota_count(&fx->q, &fx->cb.b_quota, NOW_MS - 1000, 10);
	expect_reject(fx, "quota-files: 1 files accepted in the last 1h "
	    "(max_files 1)", 100);
	assert_int_equal(fx->q.q_count, 1);
}

static void
rejects_quota_bytes(void **state)
{
	struct fixture *fx = *state;

	fx->cb.b_quota.q_max_bytes = 1024;
	quota_count(&fx->q, &fx->cb.b_quota, NOW_MS - 1000, 1000);
	expect_reject(fx, "quota-bytes: 1000B accepted in the last 1h, this "
	    "file would pass max_bytes 1K", 100);
	/* Once the window has moved on, the same file is claimed. */
	fx->f.ef_now_ms = NOW_MS - 1000 + 3600000;
	assert_int_equal(run(fx)->v_kind, EX_CLAIM);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(claims_settled_file),
		T(upload_settle_holds_closed_files),
		T(settle_counts_from_ctime_not_mtime),
		T(claims_top_level_file_from_scan_once_settled),
		T(asks_to_open_when_lstat_allows),
		T(top_level_folder_is_a_dataset),
		T(nested_folder_is_ignored_with_a_note),
		T(partial_name_is_ignored_within_grace),
		T(partial_name_is_rejected_after_grace),
		T(partial_grace_counts_from_ctime_not_mtime),
		T(new_regular_file_from_create_waits_for_close),
		T(rejects_symlink),
		T(rejects_fifo_socket_and_devices),
		T(rejects_hard_link),
		T(rejects_too_large_on_lstat),
		T(rejects_unreadable),
		T(waits_when_replaced_between_lstat_and_open),
		T(waits_for_settle_while_open_for_writing),
		T(rejects_what_the_fd_shows),
		T(scanned_file_waits_until_settle_old),
		T(rejects_unknown_dataset),
		T(rejects_top_level_file_without_app),
		T(rejects_format),
		T(rejects_quota_files),
		T(rejects_quota_bytes),
	};
#undef T

	return cmocka_run_group_tests_name("examine", tests, NULL, NULL);
}
