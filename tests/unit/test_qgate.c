/*
 * Unit tests for manager/batchmgr/qgate.c's verdict: what a first pass's
 * summary means against a dataset's threshold (docs/quality.md). The
 * summaries are what libmysimbdp writes ("quality": pass, checked,
 * rejected, rules), or what a hostile or foreign app might write. Also
 * where the rows the rules refused are kept: never removed for their
 * name's length.
 */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "qgate.h"
#include "tenant.h"

static enum qgate_verdict
judge(int64_t max_percent, const char *json, char *why, size_t len)
{
	struct conf_quality q = { .q_max_rejected_percent = max_percent };
	bson_t *summary = json ? bson_new_from_json((const uint8_t *)json,
	    -1, NULL) : NULL;
	enum qgate_verdict v;

	assert_true(json == NULL || summary != NULL);
	v = qgate_judge(&q, summary, why, len);
	if (summary)
		bson_destroy(summary);
	return v;
}

static void
within_or_at_the_threshold_passes(void **state)
{
	char why[256];

	assert_int_equal(judge(10, "{\"quality\":{\"pass\":\"validate\","
	    "\"checked\":100,\"rejected\":10,\"rules\":{}}}", why,
	    sizeof(why)), QG_PASS);
	assert_int_equal(judge(0, "{\"quality\":{\"pass\":\"validate\","
	    "\"checked\":100,\"rejected\":0}}", why, sizeof(why)), QG_PASS);
	/* No rows checked: nothing broke a rule. */
	assert_int_equal(judge(0, "{\"quality\":{\"pass\":\"validate\","
	    "\"checked\":0,\"rejected\":0}}", why, sizeof(why)), QG_PASS);
}

static void
over_the_threshold_says_by_how_much_and_which_rules(void **state)
{
	char why[256];

	assert_int_equal(judge(10, "{\"quality\":{\"pass\":\"validate\","
	    "\"checked\":100,\"rejected\":11,\"rules\":{\"a\":8,\"b\":0,"
	    "\"c\":3}}}", why, sizeof(why)), QG_OVER);
	assert_string_equal(why, "quality: 11 of 100 rows (11.0%) broke the "
	    "rules, over max_rejected_percent 10 (a 8, c 3)");
	assert_int_equal(judge(0, "{\"quality\":{\"pass\":\"validate\","
	    "\"checked\":3,\"rejected\":1}}", why, sizeof(why)), QG_OVER);
}

static void
no_first_pass_counts_is_not_applied(void **state)
{
	static const char *const bad[] = {
		NULL,				/* no summary at all */
		"{\"rows\":3}",			/* an app without the library */
		"{\"quality\":3}",
		"{\"quality\":{\"pass\":\"ingest\",\"checked\":3,"
		    "\"rejected\":0}}",		/* not a first pass */
		"{\"quality\":{\"pass\":\"validate\",\"checked\":\"3\","
		    "\"rejected\":0}}",
		"{\"quality\":{\"pass\":\"validate\",\"checked\":3,"
		    "\"rejected\":4}}",		/* more refused than checked */
		"{\"quality\":{\"pass\":\"validate\",\"checked\":-1,"
		    "\"rejected\":-1}}",
	};
	char why[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(judge(10, bad[i], why, sizeof(why)),
		    QG_NOT_APPLIED);
		assert_true(strncmp(why, "quality: ", 9) == 0);
	}
}

static void
reason_fits_a_small_buffer(void **state)
{
	char why[24];

	assert_int_equal(judge(1, "{\"quality\":{\"pass\":\"validate\","
	    "\"checked\":1000000,\"rejected\":999999,\"rules\":{\"a-long-"
	    "rule-name\":999999}}}", why, sizeof(why)), QG_OVER);
	assert_int_equal(strlen(why), sizeof(why) - 1);
}

/* A tenant whose staging folder is a scratch folder with done/. */
struct kfx {
	char		 k_dir[32];
	int		 k_fd;		/* the staging folder */
	int		 k_done;	/* its done/ */
	char		 k_work[64];	/* the app's rejects file */
	struct batch	 k_b;
	struct tenant	 k_t;
};

static int
kfx_setup(void **state)
{
	struct kfx *k = calloc(1, sizeof(*k));

	assert_non_null(k);
	snprintf(k->k_dir, sizeof(k->k_dir), "/tmp/test_qgate.XXXXXX");
	assert_non_null(mkdtemp(k->k_dir));
	assert_true((k->k_fd = open(k->k_dir, O_RDONLY | O_DIRECTORY)) >= 0);
	assert_int_equal(mkdirat(k->k_fd, "done", 0750), 0);
	assert_true((k->k_done = openat(k->k_fd, "done", O_RDONLY |
	    O_DIRECTORY)) >= 0);
	snprintf(k->k_work, sizeof(k->k_work), "%s/work.jsonl", k->k_dir);
	snprintf(k->k_t.t_id, sizeof(k->k_t.t_id), "acme");
	k->k_t.t_batch = &k->k_b;
	/* Held already: tenant.c opens no staging/<id>. */
	k->k_b.b_dirs[0] = (struct tenant_dir){ &k->k_t, k->k_fd, 1 };
	*state = k;
	return 0;
}

static int
kfx_teardown(void **state)
{
	struct kfx *k = *state;
	char cmd[64];

	close(k->k_done);
	close(k->k_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", k->k_dir);
	assert_int_equal(system(cmd), 0);
	free(k);
	return 0;
}

static void
put(int dfd, const char *name, const char *text)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL, 0640);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
}

/* The file's text ("" when it is not there). */
static const char *
text_of(int dfd, const char *name)
{
	static char buf[1024];
	ssize_t n = 0;
	int fd = openat(dfd, name, O_RDONLY);

	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* A file name of len bytes ending in ".csv". */
static const char *
long_name(size_t len)
{
	static char name[NAME_MAX + 1];

	memset(name, 'n', len - 4);
	memcpy(name + len - 4, ".csv", 5);
	return name;
}

static void
rejects_beside_the_file(void **state)
{
	struct kfx *k = *state;

	put(AT_FDCWD, k->k_work, "row 1\n");
	qgate_keep_rejects(&k->k_t, k->k_work, AREA_DONE, "", "a.csv",
	    "acme-1-1");
	assert_string_equal(text_of(k->k_done, "a.csv.rejects.jsonl"),
	    "row 1\n");
	assert_int_equal(access(k->k_work, F_OK), -1);
}

/* <file>.rejects.jsonl over 255 bytes: the rows take the job's id. */
static void
rejects_too_long_a_name_are_kept(void **state)
{
	struct kfx *k = *state;

	put(AT_FDCWD, k->k_work, "row 1\n");
	qgate_keep_rejects(&k->k_t, k->k_work, AREA_DONE, "", long_name(249),
	    "acme-1-2");
	assert_string_equal(text_of(k->k_done, "acme-1-2.rejects.jsonl"),
	    "row 1\n");
	assert_int_equal(access(k->k_work, F_OK), -1);
}

/* Taken, with no room for a ".N" (never cut): the job's id, and the
 * file holding the name is kept. */
static void
rejects_taken_with_no_room_are_kept(void **state)
{
	struct kfx *k = *state;
	char name[NAME_MAX + 1];

	assert_true((size_t)snprintf(name, sizeof(name), "%s.rejects.jsonl",
	    long_name(241)) < sizeof(name));
	put(k->k_done, name, "the tenant's");
	put(k->k_done, "acme-1-3.rejects.jsonl", "the tenant's too");
	put(AT_FDCWD, k->k_work, "row 1\n");
	qgate_keep_rejects(&k->k_t, k->k_work, AREA_DONE, "", long_name(241),
	    "acme-1-3");
	assert_string_equal(text_of(k->k_done, name), "the tenant's");
	assert_string_equal(text_of(k->k_done, "acme-1-3.rejects.jsonl"),
	    "the tenant's too");
	assert_string_equal(text_of(k->k_done, "acme-1-3.rejects.jsonl.1"),
	    "row 1\n");
	assert_int_equal(access(k->k_work, F_OK), -1);
}

/* quarantine/<file>.quality.json over 255 bytes: the report takes the
 * job's id, as the rejects beside it do; its "file" names the file. */
static void
report_too_long_a_name_is_kept(void **state)
{
	struct kfx *k = *state;
	struct conf_quality q = { .q_max_rejected_percent = 10 };
	const char *name = long_name(249);
	bson_t *summary = bson_new_from_json((const uint8_t *)"{\"quality\":"
	    "{\"pass\":\"validate\",\"checked\":10,\"rejected\":5}}", -1,
	    NULL);
	char file[NAME_MAX + 64];
	int pfd, qfd;

	assert_non_null(summary);
	assert_int_equal(mkdirat(k->k_fd, "processing", 0750), 0);
	assert_int_equal(mkdirat(k->k_fd, "quarantine", 0750), 0);
	assert_true((pfd = openat(k->k_fd, "processing", O_RDONLY |
	    O_DIRECTORY)) >= 0);
	put(pfd, name, "a,b\n");
	put(AT_FDCWD, k->k_work, "row 1\n");
	qgate_quarantine(&k->k_t, "", name, &q, summary, "too many", k->k_work,
	    "acme-1-4");
	assert_true((qfd = openat(k->k_fd, "quarantine", O_RDONLY |
	    O_DIRECTORY)) >= 0);
	assert_string_equal(text_of(qfd, name), "a,b\n");
	snprintf(file, sizeof(file), "{\"file\":\"%s\",\"reason\":"
	    "\"too many\",", name);
	assert_true(strncmp(text_of(qfd, "acme-1-4.quality.json"), file,
	    strlen(file)) == 0);
	assert_string_equal(text_of(qfd, "acme-1-4.rejects.jsonl"), "row 1\n");
	bson_destroy(summary);
	close(qfd);
	close(pfd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(within_or_at_the_threshold_passes),
		cmocka_unit_test(over_the_threshold_says_by_how_much_and_which_rules),
		cmocka_unit_test(no_first_pass_counts_is_not_applied),
		cmocka_unit_test(reason_fits_a_small_buffer),
		cmocka_unit_test_setup_teardown(rejects_beside_the_file,
		    kfx_setup, kfx_teardown),
		cmocka_unit_test_setup_teardown(
		    rejects_too_long_a_name_are_kept, kfx_setup, kfx_teardown),
		cmocka_unit_test_setup_teardown(
		    rejects_taken_with_no_room_are_kept, kfx_setup,
		    kfx_teardown),
		cmocka_unit_test_setup_teardown(
		    report_too_long_a_name_is_kept, kfx_setup, kfx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
