/*
 * Unit tests for manager/batchmgr/quota.c: the per-tenant sliding-window intake
 * quota (max_files and max_bytes within the last `window`).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "quota.h"

#define HOUR_MS 3600000

static struct conf_quota
limits(uint64_t window_ms, int64_t max_files, uint64_t max_bytes)
{
	struct conf_quota c;

	memset(&c, 0, sizeof(c));
	c.q_window_ms = window_ms;
	c.q_max_files = max_files;
	c.q_max_bytes = max_bytes;
	return c;
}

/* quota_admit, failing the test unless the file is admitted. */
static void
admit_ok(struct quota *q, const struct conf_quota *c, int64_t now,
    uint64_t bytes)
{
	char buf[256];
	const char *why = quota_admit(q, c, now, bytes, buf, sizeof(buf));

	if (why != NULL)
		fail_msg("refused at %lld (%llu bytes): %s", (long long)now,
		    (unsigned long long)bytes, why);
}

/* quota_admit, failing the test unless it refuses with a reason starting code. */
static const char *
admit_refused(struct quota *q, const struct conf_quota *c, int64_t now,
    uint64_t bytes, char *buf, size_t len, const char *code)
{
	const char *why = quota_admit(q, c, now, bytes, buf, len);

	if (why == NULL)
		fail_msg("admitted at %lld (%llu bytes), want %s", (long long)now,
		    (unsigned long long)bytes, code);
	if (strncmp(why, code, strlen(code)) != 0)
		fail_msg("reason \"%s\" does not start with \"%s\"", why, code);
	return why;
}

static void
no_limits_always_admits_and_keeps_nothing(void **state)
{
	struct quota q = { 0 };
	struct conf_quota c = limits(HOUR_MS, 0, 0);

	for (int i = 0; i < 10000; i++)
		admit_ok(&q, &c, i, 1ULL << 40);
	assert_int_equal(q.q_count, 0);
	assert_int_equal(q.q_bytes, 0);
	assert_null(q.q_ring);
	quota_free(&q);
}

static void
max_files_refuses_once_reached(void **state)
{
	struct quota q = { 0 };
	struct conf_quota c = limits(HOUR_MS, 3, 0);
	char buf[256];
	const char *why;

	admit_ok(&q, &c, 1000, 10);
	admit_ok(&q, &c, 2000, 10);
	admit_ok(&q, &c, 3000, 10);
	why = admit_refused(&q, &c, 4000, 10, buf, sizeof(buf), "quota-files:");
	assert_string_equal(why, "quota-files: 3 files accepted in the last 1h "
	    "(max_files 3)");
	/* A refused file is not counted. */
	assert_int_equal(q.q_count, 3);
	assert_int_equal(q.q_bytes, 30);
	quota_free(&q);
}

static void
max_bytes_refuses_file_that_would_pass_limit(void **state)
{
	struct quota q = { 0 };
	struct conf_quota c = limits(HOUR_MS, 0, 1024);
	char buf[256];
	const char *why;

	admit_ok(&q, &c, 0, 600);
	why = admit_refused(&q, &c, 1, 500, buf, sizeof(buf), "quota-bytes:");
	assert_string_equal(why, "quota-bytes: 600B accepted in the last 1h, "
	    "this file would pass max_bytes 1K");
	/* Exactly reaching the limit is allowed. */
	admit_ok(&q, &c, 2, 424);
	assert_int_equal(q.q_bytes, 1024);
	admit_refused(&q, &c, 3, 1, buf, sizeof(buf), "quota-bytes:");
	/* Zero-byte files still fit. */
	admit_ok(&q, &c, 4, 0);
	quota_free(&q);
}

static void
max_bytes_refuses_single_file_larger_than_limit(void **state)
{
	struct quota q = { 0 };
	struct conf_quota c = limits(HOUR_MS, 0, 1024);
	char buf[256];

	admit_refused(&q, &c, 0, 1025, buf, sizeof(buf), "quota-bytes:");
	assert_int_equal(q.q_count, 0);
	admit_ok(&q, &c, 0, 1024);
	quota_free(&q);
}

static void
both_limits_apply_files_checked_first(void **state)
{
	struct quota q = { 0 };
	struct conf_quota c = limits(HOUR_MS, 2, 100);
	char buf[256];

	admit_ok(&q, &c, 0, 10);
	admit_refused(&q, &c, 0, 91, buf, sizeof(buf), "quota-bytes:");
	admit_ok(&q, &c, 0, 90);
	/* Both limits are hit: the file count is reported. */
	admit_refused(&q, &c, 0, 1, buf, sizeof(buf), "quota-files:");
	quota_free(&q);
}

static void
entries_expire_after_window(void **state)
{
	struct quota q = { 0 };
	struct conf_quota c = limits(60000, 2, 0);
	char buf[256];

	admit_ok(&q, &c, 100000, 1);
	admit_ok(&q, &c, 130000, 1);
	admit_refused(&q, &c, 159999, 1, buf, sizeof(buf), "quota-files:");
	/* The first entry leaves the window exactly one window later. */
	admit_ok(&q, &c, 160000, 1);
	admit_refused(&q, &c, 160000, 1, buf, sizeof(buf), "quota-files:");
	admit_refused(&q, &c, 189999, 1, buf, sizeof(buf), "quota-files:");
	admit_ok(&q, &c, 190000, 1);
	/* Long silence: everything expires. */
	admit_ok(&q, &c, 10000000, 1);
	assert_int_equal(q.q_count, 1);
	assert_int_equal(q.q_bytes, 1);
	quota_free(&q);
}

static void
expired_bytes_are_released(void **state)
{
	struct quota q = { 0 };
	struct conf_quota c = limits(1000, 0, 100);
	char buf[256];

	admit_ok(&q, &c, 0, 60);
	admit_ok(&q, &c, 500, 40);
	admit_refused(&q, &c, 999, 1, buf, sizeof(buf), "quota-bytes:");
	admit_ok(&q, &c, 1000, 60);	/* the 60 from t=0 left */
	assert_int_equal(q.q_bytes, 100);
	admit_refused(&q, &c, 1499, 1, buf, sizeof(buf), "quota-bytes:");
	admit_ok(&q, &c, 1500, 40);
	assert_int_equal(q.q_bytes, 100);
	assert_int_equal(q.q_count, 2);
	quota_free(&q);
}

static void
ring_keeps_order_when_growing_after_wrap(void **state)
{
	struct quota q = { 0 };
	struct conf_quota c = limits(1000, 100, 0);
	char buf[256];
	int64_t t;

	/* Move the ring's head forward, then wrap and grow past 64. */
	for (int i = 0; i < 60; i++)
		admit_ok(&q, &c, 0, 1);
	for (int i = 0; i < 70; i++)
		admit_ok(&q, &c, 1000 + i, 2);
	assert_int_equal(q.q_count, 70);
	assert_int_equal(q.q_bytes, 140);
	for (int i = 0; i < 30; i++)
		admit_ok(&q, &c, 1500, 3);
	admit_refused(&q, &c, 1500, 3, buf, sizeof(buf), "quota-files:");
	/* Oldest first: each step of 1 ms lets exactly one more in. */
	for (t = 2000; t < 2070; t++) {
		admit_ok(&q, &c, t, 4);
		admit_refused(&q, &c, t, 4, buf, sizeof(buf), "quota-files:");
	}
	assert_int_equal(q.q_count, 100);
	assert_int_equal(q.q_bytes, 30 * 3 + 70 * 4);
	quota_free(&q);
	assert_null(q.q_ring);
	assert_int_equal(q.q_count, 0);
}

static void
reason_names_window_in_compact_form(void **state)
{
	struct quota q = { 0 };
	struct conf_quota c = limits(90 * 60000, 1, 0);
	char buf[256];
	const char *why;

	admit_ok(&q, &c, 0, 1);
	why = admit_refused(&q, &c, 1, 1, buf, sizeof(buf), "quota-files:");
	assert_string_equal(why, "quota-files: 1 files accepted in the last "
	    "1h30m (max_files 1)");
	quota_free(&q);
}

static void
check_looks_without_counting_or_expiring(void **state)
{
	struct quota q = { 0 };
	struct conf_quota c = limits(1000, 2, 0);
	char buf[256];

	quota_count(&q, &c, 0, 5);
	quota_count(&q, &c, 500, 7);
	assert_string_equal(quota_check(&q, &c, 999, 1, buf, sizeof(buf)),
	    "quota-files: 2 files accepted in the last 1s (max_files 2)");
	/* At 1000 the first entry has left the window, but is still held. */
	assert_null(quota_check(&q, &c, 1000, 1, buf, sizeof(buf)));
	assert_int_equal(q.q_count, 2);
	assert_int_equal(q.q_bytes, 12);
	quota_count(&q, &c, 1000, 1);
	assert_int_equal(q.q_count, 2);
	assert_int_equal(q.q_bytes, 8);
	quota_free(&q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_limits_always_admits_and_keeps_nothing),
		cmocka_unit_test(max_files_refuses_once_reached),
		cmocka_unit_test(max_bytes_refuses_file_that_would_pass_limit),
		cmocka_unit_test(max_bytes_refuses_single_file_larger_than_limit),
		cmocka_unit_test(both_limits_apply_files_checked_first),
		cmocka_unit_test(entries_expire_after_window),
		cmocka_unit_test(expired_bytes_are_released),
		cmocka_unit_test(ring_keeps_order_when_growing_after_wrap),
		cmocka_unit_test(reason_names_window_in_compact_form),
		cmocka_unit_test(check_looks_without_counting_or_expiring),
	};

	return cmocka_run_group_tests_name("quota", tests, NULL, NULL);
}
