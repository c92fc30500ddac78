/*
 * Unit tests for manager/batchmgr/qgate.c's verdict: what a first pass's
 * summary means against a dataset's threshold (docs/quality.md). The
 * summaries are what libmysimbdp writes ("quality": pass, checked,
 * rejected, rules), or what a hostile or foreign app might write.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "qgate.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(within_or_at_the_threshold_passes),
		cmocka_unit_test(over_the_threshold_says_by_how_much_and_which_rules),
		cmocka_unit_test(no_first_pass_counts_is_not_applied),
		cmocka_unit_test(reason_fits_a_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
