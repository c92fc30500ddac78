/*
 * Data quality rules in the sink (clientlib/quality.c, docs/quality.md):
 * with MYSIMBDP_QUALITY set, every sink checks each document against the
 * rules; one that breaks a rule is MSB_BADDOC with "quality: RULE: FIELD:
 * why", counted under the first rule it breaks and kept in
 * MYSIMBDP_REJECTS_FILE; the counts reach the result file. In a first
 * pass (MYSIMBDP_QUALITY_PASS=validate) nothing is stored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <mysimbdp.h>

#include "util.h"

static const char rules[] = "{\"rules\":["
    "{\"name\":\"has-id\",\"field\":\"id\",\"required\":true,"
    "\"type\":\"number\"},"
    "{\"name\":\"range\",\"field\":\"price\",\"min\":1,\"max\":500},"
    "{\"name\":\"room\",\"field\":\"room\",\"values\":[\"a\",\"b\"]},"
    "{\"name\":\"url\",\"field\":\"web.url\",\"pattern\":\"^https://\"},"
    "{\"name\":\"fresh\",\"field\":\"seen\",\"max_age_ms\":86400000},"
    "{\"name\":\"once\",\"field\":\"id\",\"unique\":true}]}";

struct fixture {
	char	*dir;
	char	*url;
	char	*rejects;
	char	*result;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->dir = tu_mkdtemp("quality");
	if (asprintf(&f->url, "file://%s/store", f->dir) == -1)
		return -1;
	f->rejects = tu_join(f->dir, "rejects.jsonl");
	f->result = tu_join(f->dir, "result.json");
	setenv("MYSIMBDP_QUALITY", rules, 1);
	setenv("MYSIMBDP_REJECTS_FILE", f->rejects, 1);
	unsetenv("MYSIMBDP_QUALITY_PASS");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	unsetenv("MYSIMBDP_QUALITY");
	unsetenv("MYSIMBDP_REJECTS_FILE");
	unsetenv("MYSIMBDP_QUALITY_PASS");
	tu_rmtree(f->dir);
	free(f->dir);
	free(f->url);
	free(f->rejects);
	free(f->result);
	free(f);
	return 0;
}

/* Adds the document of json; returns the sink's answer. */
static int
add(struct msb_sink *sink, const char *json)
{
	bson_t *doc = bson_new_from_json((const uint8_t *)json, -1, NULL);
	int rc;

	assert_non_null(doc);
	rc = msb_sink_add(sink, doc);
	bson_destroy(doc);
	return rc;
}

/* A document with seen = now - age_ms (a BSON date). */
static int
add_seen(struct msb_sink *sink, int id, int64_t age_ms)
{
	struct timespec ts;
	char json[160];

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(json, sizeof(json), "{\"id\":%d,\"price\":10,\"seen\":"
	    "{\"$date\":{\"$numberLong\":\"%lld\"}}}", id,
	    (long long)((int64_t)ts.tv_sec * 1000 - age_ms));
	return add(sink, json);
}

static void
refused(struct msb_sink *sink, const char *json, const char *why)
{
	assert_int_equal(add(sink, json), MSB_BADDOC);
	assert_string_equal(msb_sink_error(sink), why);
}

static void
each_rule_refuses_what_breaks_it(void **state)
{
	struct fixture *f = *state;
	struct msb_sink *sink;
	char err[256];

	assert_int_equal(msb_sink_open(&sink, f->url, "t", "c", err,
	    sizeof(err)), MSB_OK);
	assert_int_equal(add(sink, "{\"id\":1,\"price\":10,\"room\":\"a\","
	    "\"web\":{\"url\":\"https://x\"}}"), MSB_OK);
	refused(sink, "{\"price\":10}", "quality: has-id: id: missing");
	refused(sink, "{\"id\":null}", "quality: has-id: id: missing");
	refused(sink, "{\"id\":\"2\"}", "quality: has-id: id: not of type "
	    "number");
	refused(sink, "{\"id\":3,\"price\":0.5}", "quality: range: price: "
	    "0.5 is below 1");
	refused(sink, "{\"id\":4,\"price\":501}", "quality: range: price: "
	    "501 is above 500");
	refused(sink, "{\"id\":5,\"price\":\"9\"}", "quality: range: price: "
	    "not a number");
	refused(sink, "{\"id\":6,\"room\":\"c\"}", "quality: room: room: "
	    "\"c\" is not an allowed value");
	refused(sink, "{\"id\":7,\"web\":{\"url\":\"http://x\"}}",
	    "quality: url: web.url: \"http://x\" does not match the pattern");
	assert_int_equal(add_seen(sink, 8, 1000), MSB_OK);
	assert_int_equal(add_seen(sink, 9, 2 * 86400000LL), MSB_BADDOC);
	assert_string_equal(msb_sink_error(sink), "quality: fresh: seen: "
	    "older than max_age");
	refused(sink, "{\"id\":10,\"seen\":\"yesterday\"}", "quality: fresh: "
	    "seen: not a date");
	refused(sink, "{\"id\":11,\"price\":{\"$numberDouble\":\"NaN\"}}",
	    "quality: range: price: not a number");
	/* A date of -2^63 ms: now minus it wrapped round to "fresh". */
	refused(sink, "{\"id\":12,\"seen\":{\"$date\":{\"$numberLong\":"
	    "\"-9223372036854775808\"}}}", "quality: fresh: seen: older "
	    "than max_age");
	/* 1.0 is the value 1 already stored: as MongoDB compares them. */
	refused(sink, "{\"id\":1.0}", "quality: once: id: a value seen "
	    "before in this unit");
	/* A refused document was not remembered: 3 is still new. */
	assert_int_equal(add(sink, "{\"id\":3}"), MSB_OK);
	/* A commit ends the unit: values start afresh. */
	assert_int_equal(msb_sink_commit(sink, "u1"), MSB_OK);
	assert_int_equal(add(sink, "{\"id\":1}"), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, "u2"), MSB_OK);
	msb_sink_close(sink);
}

static void
refused_rows_are_kept_and_counted(void **state)
{
	struct fixture *f = *state;
	struct msb_sink *sink;
	char err[256], *text;
	bson_t *result;
	bson_iter_t it;

	assert_int_equal(msb_sink_open(&sink, f->url, "t", "c", err,
	    sizeof(err)), MSB_OK);
	assert_int_equal(add(sink, "{\"id\":1}"), MSB_OK);
	assert_int_equal(add(sink, "{\"id\":2,\"price\":900}"), MSB_BADDOC);
	assert_int_equal(add(sink, "{\"id\":3,\"price\":901}"), MSB_BADDOC);
	assert_int_equal(add(sink, "{\"id\":1}"), MSB_BADDOC);
	assert_int_equal(msb_sink_commit(sink, "u"), MSB_OK);
	assert_int_equal(msb_result_write_sink(f->result, 1, 3, sink, NULL),
	    MSB_OK);
	msb_sink_close(sink);

	text = tu_read_file(f->rejects, NULL);
	assert_non_null(strstr(text, "\"rule\" : \"range\", \"reason\" : "
	    "\"quality: range: price: 900 is above 500\", \"doc\" : { "
	    "\"id\" : 2, \"price\" : 900 }"));
	assert_non_null(strstr(text, "\"rule\" : \"once\""));
	free(text);
	text = tu_read_file(f->result, NULL);
	result = bson_new_from_json((const uint8_t *)text, -1, NULL);
	assert_non_null(result);
	assert_true(bson_iter_init(&it, result) &&
	    bson_iter_find_descendant(&it, "quality.checked", &it));
	assert_int_equal(bson_iter_as_int64(&it), 4);
	assert_true(bson_iter_init(&it, result) &&
	    bson_iter_find_descendant(&it, "quality.rules.range", &it));
	assert_int_equal(bson_iter_as_int64(&it), 2);
	assert_true(bson_iter_init(&it, result) &&
	    bson_iter_find_descendant(&it, "quality.rules.once", &it));
	assert_int_equal(bson_iter_as_int64(&it), 1);
	assert_true(bson_iter_init(&it, result) &&
	    bson_iter_find_descendant(&it, "quality.pass", &it));
	assert_string_equal(bson_iter_utf8(&it, NULL), "ingest");
	bson_destroy(result);
	free(text);
}

/*
 * Integers past 2^53 against bounds: compared exactly, not as doubles
 * (as doubles, 2^53 + 1 equals a max of 2^53 and passed).
 */
static void
large_integers_compared_exactly(void **state)
{
	struct fixture *f = *state;
	struct msb_sink *sink;
	char err[256];

	(void)f;
	setenv("MYSIMBDP_QUALITY", "{\"rules\":[{\"name\":\"big\","
	    "\"field\":\"n\",\"min\":-9007199254740992,"
	    "\"max\":9007199254740992}]}", 1);
	assert_int_equal(msb_sink_open(&sink, f->url, "t", "c", err,
	    sizeof(err)), MSB_OK);
	assert_int_equal(add(sink, "{\"n\":{\"$numberLong\":"
	    "\"9007199254740992\"}}"), MSB_OK);
	refused(sink, "{\"n\":{\"$numberLong\":\"9007199254740993\"}}",
	    "quality: big: n: 9007199254740993 is above 9007199254740992");
	refused(sink, "{\"n\":{\"$numberLong\":\"-9007199254740993\"}}",
	    "quality: big: n: -9007199254740993 is below -9007199254740992");
	refused(sink, "{\"n\":{\"$numberLong\":\"9223372036854775807\"}}",
	    "quality: big: n: 9223372036854775807 is above 9007199254740992");
	assert_int_equal(msb_sink_commit(sink, "u"), MSB_OK);
	msb_sink_close(sink);
}

/*
 * A refused row that cannot be written to the rejects file (a full
 * disk: /dev/full) is not counted as refused and kept: the sink answers
 * MSB_TEMPFAIL, so the unit is tried again, and says why.
 */
static void
a_row_not_kept_is_not_refused(void **state)
{
	struct fixture *f = *state;
	struct msb_sink *sink;
	char err[256], *text;

	setenv("MYSIMBDP_REJECTS_FILE", "/dev/full", 1);
	assert_int_equal(msb_sink_open(&sink, f->url, "t", "c", err,
	    sizeof(err)), MSB_OK);
	assert_int_equal(add(sink, "{\"id\":1,\"price\":900}"),
	    MSB_TEMPFAIL);
	assert_non_null(strstr(msb_sink_error(sink), "quality: range: a "
	    "refused row cannot be kept: MYSIMBDP_REJECTS_FILE /dev/full: No "
	    "space left on device"));
	assert_int_equal(msb_result_write_sink(f->result, 1, 0, sink, NULL),
	    MSB_OK);
	msb_sink_close(sink);
	text = tu_read_file(f->result, NULL);
	assert_non_null(strstr(text, "\"rejected\" : 0"));
	free(text);
}

static void
a_first_pass_stores_nothing(void **state)
{
	struct fixture *f = *state;
	struct msb_sink *sink;
	struct msb_sink_stats st;
	char err[256], *unit;
	struct stat sb;

	setenv("MYSIMBDP_QUALITY_PASS", "validate", 1);
	assert_int_equal(msb_sink_open(&sink, f->url, "t", "c", err,
	    sizeof(err)), MSB_OK);
	assert_string_equal(msb_sink_kind(sink), "validate");
	assert_int_equal(add(sink, "{\"id\":1}"), MSB_OK);
	assert_int_equal(add(sink, "{\"id\":2,\"price\":0}"), MSB_BADDOC);
	assert_int_equal(msb_sink_commit(sink, "u"), MSB_OK);
	msb_sink_stats(sink, &st);
	assert_int_equal(st.added, 1);
	assert_int_equal(st.inserted, 0);
	msb_sink_close(sink);
	unit = tu_join(f->dir, "store/t/c/u.bson");
	assert_int_equal(stat(unit, &sb), -1);
	free(unit);
}

/* The line of the rejects file holding "rule":"<rule>", parsed. */
static bson_t *
reject_line(const char *path, const char *rule)
{
	char *text = tu_read_file(path, NULL), *line, *end, key[64];
	bson_t *doc = NULL;

	assert_non_null(text);
	snprintf(key, sizeof(key), "\"rule\" : \"%s\"", rule);
	for (line = text; *line != '\0'; line = end + 1) {
		if ((end = strchr(line, '\n')) == NULL)
			fail_msg("rejects: an unfinished line");
		*end = '\0';
		if (strstr(line, key) == NULL)
			continue;
		doc = bson_new_from_json((const uint8_t *)line, -1, NULL);
		if (doc == NULL)
			fail_msg("rejects: not JSON: %s", line);
		break;
	}
	free(text);
	if (doc == NULL)
		fail_msg("rejects: no line for rule %s", rule);
	return doc;
}

static const char *
utf8_of(const bson_t *doc, const char *path)
{
	bson_iter_t it;

	if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path,
	    &it) || !BSON_ITER_HOLDS_UTF8(&it))
		fail_msg("no string %s", path);
	return bson_iter_utf8(&it, NULL);
}

/*
 * Text cut at a byte count must not split a UTF-8 character: a value
 * quoted in a reason, a reason cut to its buffer. Else the reason is not
 * UTF-8, and the rejects line (JSON) of the document was lost.
 */
static void
long_text_keeps_its_reject_line(void **state)
{
	struct fixture *f = *state;
	struct msb_sink *sink;
	char err[256], value[128], field[512], rules2[1024], json[1024];
	const char *why;
	bson_t *line;

	/* "a" then 40 "é": a cut at an even byte count splits one. */
	snprintf(value, sizeof(value), "a");
	for (int i = 0; i < 40; i++)
		strcat(value, "\xc3\xa9");
	/* A field of 150 "ü": "quality: n: " and it pass the 256 bytes
	 * of a reason. */
	field[0] = '\0';
	for (int i = 0; i < 150; i++)
		strcat(field, "\xc3\xbc");
	snprintf(rules2, sizeof(rules2), "{\"rules\":["
	    "{\"name\":\"country\",\"field\":\"c\",\"values\":[\"FR\",\"DE\"]},"
	    "{\"name\":\"code\",\"field\":\"d\",\"pattern\":\"^[A-Z]+$\"},"
	    "{\"name\":\"n\",\"field\":\"%s\",\"required\":true}]}", field);
	setenv("MYSIMBDP_QUALITY", rules2, 1);
	assert_int_equal(msb_sink_open(&sink, f->url, "t", "c", err,
	    sizeof(err)), MSB_OK);

	snprintf(json, sizeof(json), "{\"_id\":1,\"c\":\"%s\"}", value);
	assert_int_equal(add(sink, json), MSB_BADDOC);
	why = msb_sink_error(sink);
	assert_true(bson_utf8_validate(why, strlen(why), false));
	assert_non_null(strstr(why, "quality: country: c: \"a\\xc3\\xa9"));
	assert_non_null(strstr(why, "\" is not an allowed value"));

	snprintf(json, sizeof(json), "{\"_id\":2,\"c\":\"FR\",\"d\":\"%s\"}",
	    value);
	assert_int_equal(add(sink, json), MSB_BADDOC);
	why = msb_sink_error(sink);
	assert_true(bson_utf8_validate(why, strlen(why), false));
	assert_non_null(strstr(why, "\" does not match the pattern"));

	assert_int_equal(add(sink, "{\"_id\":3,\"c\":\"FR\"}"), MSB_BADDOC);
	why = msb_sink_error(sink);
	assert_true(bson_utf8_validate(why, strlen(why), false));
	assert_true(strncmp(why, "quality: n: \xc3\xbc", 14) == 0);
	/* Cut to the 255 bytes of the reason, less a character cut short. */
	assert_true(strlen(why) == 254);
	assert_int_equal(msb_sink_commit(sink, "u"), MSB_OK);
	msb_sink_close(sink);

	line = reject_line(f->rejects, "country");
	assert_string_equal(utf8_of(line, "doc.c"), value);
	bson_destroy(line);
	line = reject_line(f->rejects, "code");
	assert_string_equal(utf8_of(line, "doc.d"), value);
	bson_destroy(line);
	line = reject_line(f->rejects, "n");
	assert_true(strncmp(utf8_of(line, "reason"), "quality: n: ", 12) == 0);
	bson_destroy(line);
}

static void
bad_rules_fail_the_open(void **state)
{
	struct fixture *f = *state;
	struct msb_sink *sink;
	char err[256];

	setenv("MYSIMBDP_QUALITY", "{\"rules\":[{\"name\":\"x\",\"field\":"
	    "\"a\",\"pattern\":\"(\"}]}", 1);
	assert_int_equal(msb_sink_open(&sink, f->url, "t", "c", err,
	    sizeof(err)), MSB_ERROR);
	assert_string_equal(err, "MYSIMBDP_QUALITY: rule x: bad \"pattern\"");
	setenv("MYSIMBDP_QUALITY", "not json", 1);
	assert_int_equal(msb_sink_open(&sink, f->url, "t", "c", err,
	    sizeof(err)), MSB_ERROR);
	assert_true(strncmp(err, "MYSIMBDP_QUALITY: not JSON", 26) == 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(each_rule_refuses_what_breaks_it,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    refused_rows_are_kept_and_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    large_integers_compared_exactly, setup, teardown),
		cmocka_unit_test_setup_teardown(a_row_not_kept_is_not_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(a_first_pass_stores_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    long_text_keeps_its_reject_line, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_rules_fail_the_open, setup,
		    teardown),
	};

	assert_int_equal(msb_init(), MSB_OK);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
