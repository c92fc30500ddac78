/*
 * Unit tests for manager/streammgr/squality.c: rejections counted under
 * the stream's rule named in the reason (else "other"), and one line of
 * log/quality.jsonl per interval with what settled since the last one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "squality.h"

static struct conf_rule rules[] = { { .r_name = "host" },
	{ .r_name = "host-id" } };
static const struct conf_quality q = { .q_enabled = true, .q_rules = rules,
	.q_nrules = 2 };

/* What was written to fd since offset *at, as one string. */
static char *
written(int fd, off_t *at)
{
	off_t end = lseek(fd, 0, SEEK_END);
	char *buf = calloc(1, (size_t)(end - *at) + 1);

	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)(end - *at), *at), end - *at);
	*at = end;
	return buf;
}

static void
test_count_and_lines(void **state)
{
	char path[] = "/tmp/mysimbdp-squality-XXXXXX";
	struct squality sq = { 0 };
	int fd = mkstemp(path);
	off_t at = 0;
	char *line;

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	squality_count(&sq, &q, "quality: host-id: host_id: 42 is above 40");
	squality_count(&sq, &q, "quality: host: host: missing");
	squality_count(&sq, &q, "quality: host-id: host_id: 43 is above 40");
	squality_count(&sq, &q, "quality: made-up: x: y");
	assert_int_equal(sq.sq_nrules, 3);
	assert_string_equal(sq.sq_rules[0].rc_name, "host-id");
	assert_int_equal(sq.sq_rules[0].rc_n, 2);
	assert_string_equal(sq.sq_rules[1].rc_name, "host");
	assert_string_equal(sq.sq_rules[2].rc_name, "other");

	assert_int_equal(squality_flush(&sq, &q, fd, "t", "s", 10, 4), 0);
	line = written(fd, &at);
	assert_non_null(strstr(line, "\"tenant\":\"t\",\"stream\":\"s\""));
	assert_non_null(strstr(line, "\"checked\":10,\"rejected\":4,"
	    "\"rules\":{\"host-id\":2,\"host\":1,\"other\":1}}\n"));
	free(line);

	/* Nothing settled since: no line. */
	assert_int_equal(squality_flush(&sq, &q, fd, "t", "s", 10, 4), 0);
	line = written(fd, &at);
	assert_string_equal(line, "");
	free(line);

	/* Only what came since, and only the rules that moved. */
	squality_count(&sq, &q, "quality: host: host: missing");
	assert_int_equal(squality_flush(&sq, &q, fd, "t", "s", 15, 5), 0);
	line = written(fd, &at);
	assert_non_null(strstr(line, "\"checked\":5,\"rejected\":1,"
	    "\"rules\":{\"host\":1}}\n"));
	free(line);

	/* A write that fails is counted again in the next line. */
	squality_count(&sq, &q, "quality: host: host: missing");
	assert_int_equal(squality_flush(&sq, &q, -1, "t", "s", 16, 6), -1);
	assert_int_equal(squality_flush(&sq, &q, fd, "t", "s", 17, 6), 0);
	line = written(fd, &at);
	assert_non_null(strstr(line, "\"checked\":2,\"rejected\":1,"
	    "\"rules\":{\"host\":1}}\n"));
	free(line);
	squality_free(&sq);
	close(fd);
}

static void
test_no_rules_no_lines(void **state)
{
	const struct conf_quality none = { 0 };
	struct squality sq = { 0 };

	(void)state;
	/* fd -1 would fail: nothing is written for a stream without rules. */
	assert_int_equal(squality_flush(&sq, &none, -1, "t", "s", 10, 0), 0);
	squality_free(&sq);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_and_lines),
		cmocka_unit_test(test_no_rules_no_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
