/*
 * Unit tests for monitor/report.c: what a metric report must be. Every
 * refusal has its verdict (the counter it lands in) and a reason naming
 * the field; nothing is half-filled after a refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "report.h"

#define MAX 4096

static const char good[] =
    "{\"v\":1,\"tenant\":\"acme\",\"app\":\"stream\",\"stream\":\"default\","
    "\"instance\":\"default-3\",\"window_ms\":1000,\"messages\":5000,"
    "\"rows\":4990,\"bytes\":81920,\"ingest_us_sum\":51000,"
    "\"ingest_us_max\":900,\"errors\":10,\"dropped\":2}";

static enum report_verdict
parse(const char *json, struct report *r, char *why, size_t whylen)
{
	return report_parse(json, strlen(json), MAX, "acme", r, why, whylen);
}

/* Parses json, expects verdict v and a reason containing want. */
static void
refused(const char *json, enum report_verdict v, const char *want)
{
	struct report r;
	char why[256];
	enum report_verdict got = parse(json, &r, why, sizeof(why));

	if (got != v || strstr(why, want) == NULL)
		fail_msg("%s: got %s (%s), want %s (%s)", json,
		    report_verdict_name(got), why, report_verdict_name(v), want);
	assert_string_equal(r.r_instance, "");
	assert_int_equal(r.r_messages, 0);
}

static void
full_report_is_read(void **state)
{
	struct report r;
	char why[256];

	assert_int_equal(parse(good, &r, why, sizeof(why)), REPORT_OK);
	assert_string_equal(r.r_app, "stream");
	assert_string_equal(r.r_stream, "default");
	assert_string_equal(r.r_instance, "default-3");
	assert_int_equal(r.r_window_ms, 1000);
	assert_int_equal(r.r_messages, 5000);
	assert_int_equal(r.r_rows, 4990);
	assert_int_equal(r.r_bytes, 81920);
	assert_int_equal(r.r_ingest_us_sum, 51000);
	assert_int_equal(r.r_ingest_us_max, 900);
	assert_int_equal(r.r_errors, 10);
	assert_int_equal(r.r_dropped, 2);
}

static void
minimal_batch_report_is_read(void **state)
{
	struct report r;
	char why[256];
	const char *json = " {\"v\":1,\"app\":\"batch\",\"instance\":\"acme-1f-7\","
	    "\"window_ms\":0,\"rows\":12}\n";

	assert_int_equal(parse(json, &r, why, sizeof(why)), REPORT_OK);
	assert_string_equal(r.r_app, "batch");
	assert_string_equal(r.r_stream, "");
	assert_int_equal(r.r_rows, 12);
	assert_int_equal(r.r_messages, 0);
}

static void
quality_counts_per_rule(void **state)
{
	struct report r;
	char why[256], json[2048];
	int n;

	assert_int_equal(parse("{\"v\":1,\"app\":\"batch\",\"instance\":\"j\","
	    "\"window_ms\":1,\"quality\":{\"price-range\":2,\"other\":1}}", &r,
	    why, sizeof(why)), REPORT_OK);
	assert_int_equal(r.r_nrules, 2);
	assert_string_equal(r.r_rules[0].rr_name, "price-range");
	assert_int_equal(r.r_rules[0].rr_rejected, 2);
	assert_string_equal(r.r_rules[1].rr_name, "other");
	refused("{\"v\":1,\"app\":\"batch\",\"instance\":\"j\",\"window_ms\":1,"
	    "\"quality\":[1]}", REPORT_INVALID, "quality: must be an object");
	refused("{\"v\":1,\"app\":\"batch\",\"instance\":\"j\",\"window_ms\":1,"
	    "\"quality\":{\"Bad Rule\":1}}", REPORT_INVALID,
	    "quality: \"Bad Rule\" is not a rule name");
	refused("{\"v\":1,\"app\":\"batch\",\"instance\":\"j\",\"window_ms\":1,"
	    "\"quality\":{\"a\":-1}}", REPORT_INVALID,
	    "quality: a: must not be negative");
	refused("{\"v\":1,\"app\":\"batch\",\"instance\":\"j\",\"window_ms\":1,"
	    "\"quality\":{\"a\":\"1\"}}", REPORT_INVALID,
	    "quality: a: must be an integer");
	refused("{\"v\":1,\"app\":\"batch\",\"instance\":\"j\",\"window_ms\":1,"
	    "\"quality\":{\"a\":1,\"a\":2}}", REPORT_INVALID,
	    "quality: a: given twice");
	n = snprintf(json, sizeof(json), "{\"v\":1,\"app\":\"batch\","
	    "\"instance\":\"j\",\"window_ms\":1,\"quality\":{");
	for (int k = 0; k <= REPORT_RULES_MAX; k++)
		n += snprintf(json + n, sizeof(json) - (size_t)n, "%s\"r%d\":1",
		    k ? "," : "", k);
	snprintf(json + n, sizeof(json) - (size_t)n, "}}");
	refused(json, REPORT_INVALID, "quality: more than 16 rules");
}

static void
big_counters_are_read(void **state)
{
	struct report r;
	char why[256];
	const char *json = "{\"v\":1,\"app\":\"batch\",\"instance\":\"j\","
	    "\"window_ms\":1,\"bytes\":5000000000}";

	assert_int_equal(parse(json, &r, why, sizeof(why)), REPORT_OK);
	assert_int_equal(r.r_bytes, 5000000000LL);
}

static void
malformed_reports(void **state)
{
	refused("", REPORT_MALFORMED, "not a JSON object");
	refused("   ", REPORT_MALFORMED, "not a JSON object");
	refused("[1,2]", REPORT_MALFORMED, "not a JSON object");
	refused("\"v\"", REPORT_MALFORMED, "not a JSON object");
	refused("{\"v\":1", REPORT_MALFORMED, "not JSON");
	refused("{\"v\":1} x", REPORT_MALFORMED, "not JSON");
	refused("{\"v\":1}{\"v\":1}", REPORT_MALFORMED, "more than one");
	refused("{\"instance\":\"\xff\xfe\"}", REPORT_MALFORMED, "UTF-8");
	refused("garbage", REPORT_MALFORMED, "not a JSON object");
	/* libbson would wrap these around 2^64 (to 7766279631452241919
	 * and 1) instead of refusing them. */
	refused("{\"v\":1,\"app\":\"batch\",\"instance\":\"j\","
	    "\"window_ms\":99999999999999999999}", REPORT_MALFORMED,
	    "integer out of range");
	refused("{\"v\":18446744073709551617}", REPORT_MALFORMED,
	    "integer out of range");
	refused("{\"v\":-18446744073709551617}", REPORT_MALFORMED,
	    "integer out of range");
	/* Twenty digits in a fraction or a string are no integer. */
	refused("{\"v\":1,\"app\":\"batch\",\"instance\":\"j\","
	    "\"window_ms\":1.00000000000000000000}", REPORT_INVALID,
	    "window_ms: must be an integer");
	refused("{\"v\":1,\"app\":\"batch\",\"instance\":"
	    "\"18446744073709551617\\\"x\"}", REPORT_INVALID,
	    "window_ms: missing");
}

static void
nul_byte_is_malformed(void **state)
{
	struct report r;
	char why[256];
	const char json[] = "{\"v\":1}\0{}";

	assert_int_equal(report_parse(json, sizeof(json) - 1, MAX, "acme", &r,
	    why, sizeof(why)), REPORT_MALFORMED);
	assert_non_null(strstr(why, "NUL"));
}

static void
oversized_report_is_refused_before_parsing(void **state)
{
	struct report r;
	char why[256];

	assert_int_equal(report_parse(good, strlen(good), 64, "acme", &r, why,
	    sizeof(why)), REPORT_OVERSIZED);
	assert_non_null(strstr(why, "max_report_size 64"));
}

static void
schema_violations_are_invalid(void **state)
{
	refused("{\"app\":\"batch\",\"instance\":\"j\",\"window_ms\":1}",
	    REPORT_INVALID, "v: missing");
	refused("{\"v\":2,\"app\":\"batch\",\"instance\":\"j\",\"window_ms\":1}",
	    REPORT_INVALID, "v: version 2");
	refused("{\"v\":1,\"instance\":\"j\",\"window_ms\":1}",
	    REPORT_INVALID, "app: missing");
	refused("{\"v\":1,\"app\":\"batch\",\"window_ms\":1}",
	    REPORT_INVALID, "instance: missing");
	refused("{\"v\":1,\"app\":\"batch\",\"instance\":\"j\"}",
	    REPORT_INVALID, "window_ms: missing");
	refused("{\"v\":1,\"app\":\"cron\",\"instance\":\"j\",\"window_ms\":1}",
	    REPORT_INVALID, "app: \"cron\"");
	refused("{\"v\":1,\"app\":\"batch\",\"instance\":\"j\",\"window_ms\":1,"
	    "\"rows\":\"12\"}", REPORT_INVALID, "rows: must be an integer");
	refused("{\"v\":1,\"app\":\"batch\",\"instance\":\"j\",\"window_ms\":1,"
	    "\"rows\":1.5}", REPORT_INVALID, "rows: must be an integer");
	refused("{\"v\":1,\"app\":\"batch\",\"instance\":\"j\",\"window_ms\":1,"
	    "\"rows\":-1}", REPORT_INVALID, "rows: must not be negative");
	refused("{\"v\":1,\"app\":\"batch\",\"instance\":\"j\",\"window_ms\":1,"
	    "\"cpu\":3}", REPORT_INVALID, "cpu: unknown field");
	refused("{\"v\":1,\"app\":\"batch\",\"instance\":\"j\",\"window_ms\":1,"
	    "\"rows\":1,\"rows\":2}", REPORT_INVALID, "rows: given twice");
	refused("{\"v\":1,\"app\":\"batch\",\"instance\":\"a b\","
	    "\"window_ms\":1}", REPORT_INVALID, "instance: only letters");
	refused("{\"v\":1,\"app\":\"batch\",\"instance\":\"\","
	    "\"window_ms\":1}", REPORT_INVALID, "instance: must be 1 to 80");
	refused("{\"v\":1,\"app\":\"stream\",\"instance\":\"s-1\","
	    "\"window_ms\":1}", REPORT_INVALID, "stream: missing");
	refused("{\"v\":1,\"app\":\"stream\",\"stream\":\"Big\","
	    "\"instance\":\"s-1\",\"window_ms\":1}", REPORT_INVALID,
	    "stream: not a stream name");
	refused("{\"v\":1,\"app\":{\"x\":1},\"instance\":\"j\","
	    "\"window_ms\":1}", REPORT_INVALID, "app: must be a string");
}

static void
long_instance_is_invalid(void **state)
{
	char json[512], id[REPORT_INSTANCE_MAX + 2];

	memset(id, 'x', REPORT_INSTANCE_MAX + 1);
	id[REPORT_INSTANCE_MAX + 1] = '\0';
	snprintf(json, sizeof(json), "{\"v\":1,\"app\":\"batch\",\"instance\":"
	    "\"%s\",\"window_ms\":1}", id);
	refused(json, REPORT_INVALID, "instance: must be 1 to 80");
}

static void
contradictions_are_inconsistent(void **state)
{
	refused("{\"v\":1,\"app\":\"batch\",\"instance\":\"j\",\"window_ms\":1,"
	    "\"messages\":1,\"ingest_us_sum\":40,\"ingest_us_max\":90}",
	    REPORT_INCONSISTENT, "ingest_us_max 90 is above ingest_us_sum 40");
	refused("{\"v\":1,\"app\":\"batch\",\"stream\":\"default\","
	    "\"instance\":\"j\",\"window_ms\":1}", REPORT_INCONSISTENT,
	    "stream: given for a batch app");
}

static void
another_tenant_is_wrong_tenant(void **state)
{
	refused("{\"v\":1,\"tenant\":\"globex\",\"app\":\"batch\","
	    "\"instance\":\"j\",\"window_ms\":1}", REPORT_WRONG_TENANT,
	    "tenant: \"globex\" on the endpoint of acme");
	refused("{\"v\":1,\"tenant\":7,\"app\":\"batch\",\"instance\":\"j\","
	    "\"window_ms\":1}", REPORT_INVALID, "tenant: must be a string");
}

static void
verdict_names_are_stable(void **state)
{
	assert_string_equal(report_verdict_name(REPORT_MALFORMED), "malformed");
	assert_string_equal(report_verdict_name(REPORT_OVERSIZED), "oversized");
	assert_string_equal(report_verdict_name(REPORT_INVALID), "invalid");
	assert_string_equal(report_verdict_name(REPORT_INCONSISTENT),
	    "inconsistent");
	assert_string_equal(report_verdict_name(REPORT_WRONG_TENANT),
	    "wrong-tenant");
	assert_string_equal(report_verdict_name(REPORT_NVERDICTS), "?");
}

/* Every prefix of a good report, and bytes flipped in it: never a crash. */
static void
truncated_and_mangled_reports_never_crash(void **state)
{
	size_t len = strlen(good);
	struct report r;
	char why[256], buf[sizeof(good)];

	for (size_t n = 0; n < len; n++)
		assert_int_not_equal(report_parse(good, n, MAX, "acme", &r, why,
		    sizeof(why)), REPORT_OK);
	srand(6);
	for (int k = 0; k < 5000; k++) {
		memcpy(buf, good, len);
		for (int j = 0; j < 3; j++)
			buf[rand() % (int)len] = (char)(rand() % 256);
		(void)report_parse(buf, len, MAX, "acme", &r, why, sizeof(why));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_report_is_read),
		cmocka_unit_test(minimal_batch_report_is_read),
		cmocka_unit_test(big_counters_are_read),
		cmocka_unit_test(malformed_reports),
		cmocka_unit_test(nul_byte_is_malformed),
		cmocka_unit_test(oversized_report_is_refused_before_parsing),
		cmocka_unit_test(schema_violations_are_invalid),
		cmocka_unit_test(long_instance_is_invalid),
		cmocka_unit_test(quality_counts_per_rule),
		cmocka_unit_test(contradictions_are_inconsistent),
		cmocka_unit_test(another_tenant_is_wrong_tenant),
		cmocka_unit_test(verdict_names_are_stable),
		cmocka_unit_test(truncated_and_mangled_reports_never_crash),
	};

	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
