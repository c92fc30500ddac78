/*
 * Fuzz target: the metric-report parser (monitor/report.c), given what
 * arrives on the metrics endpoint of tenant "acme". Invariants: a verdict
 * always comes with a reason and leaves nothing half-filled; an accepted
 * report has every field within the bounds docs/protocols.md gives; the
 * parse is deterministic; an accepted report written back as JSON is
 * accepted again with the same fields.
 */
#include <stdio.h>
#include <string.h>

#include <bson/bson.h>

#include "fuzz.h"
#include "report.h"

#define MAX	4096	/* monitor.max_report_size's default */
#define TENANT	"acme"

static bool
is_zero(const struct report *r)
{
	static const struct report zero;

	return memcmp(r, &zero, sizeof(zero)) == 0;
}

static void
check_bounds(const struct report *r)
{
	size_t n = strlen(r->r_instance);
	bool stream = strcmp(r->r_app, "stream") == 0;

	FUZZ_CHECK(stream || strcmp(r->r_app, "batch") == 0, "app \"%s\"",
	    r->r_app);
	FUZZ_CHECK(n >= 1 && n <= REPORT_INSTANCE_MAX &&
	    strspn(r->r_instance, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") == n,
	    "instance \"%s\"", r->r_instance);
	if (stream)
		FUZZ_CHECK(conf_valid_stream_name(r->r_stream), "stream \"%s\"",
		    r->r_stream);
	else
		FUZZ_CHECK(r->r_stream[0] == '\0', "batch app with stream "
		    "\"%s\"", r->r_stream);
	FUZZ_CHECK(r->r_window_ms >= 0 && r->r_messages >= 0 &&
	    r->r_rows >= 0 && r->r_bytes >= 0 && r->r_errors >= 0 &&
	    r->r_dropped >= 0 && r->r_ingest_us_sum >= 0 &&
	    r->r_ingest_us_max >= 0, "a negative count");
	FUZZ_CHECK(r->r_ingest_us_max <= r->r_ingest_us_sum,
	    "ingest_us_max %lld > ingest_us_sum %lld",
	    (long long)r->r_ingest_us_max, (long long)r->r_ingest_us_sum);
	FUZZ_CHECK(r->r_nrules <= REPORT_RULES_MAX, "%zu rules", r->r_nrules);
	for (size_t k = 0; k < r->r_nrules; k++) {
		FUZZ_CHECK(conf_valid_id(r->r_rules[k].rr_name) &&
		    r->r_rules[k].rr_rejected >= 0, "rule \"%s\": %lld",
		    r->r_rules[k].rr_name,
		    (long long)r->r_rules[k].rr_rejected);
		for (size_t j = 0; j < k; j++)
			FUZZ_CHECK(strcmp(r->r_rules[j].rr_name,
			    r->r_rules[k].rr_name) != 0, "rule %s twice",
			    r->r_rules[k].rr_name);
	}
}

/* The report as an app would send it, parsed again. */
static void
round_trip(const struct report *r)
{
	bson_t doc = BSON_INITIALIZER;
	struct report back;
	char why[256], *json;
	size_t len;
	enum report_verdict v;

	BSON_APPEND_INT32(&doc, "v", REPORT_VERSION);
	BSON_APPEND_UTF8(&doc, "tenant", TENANT);
	report_append(r, &doc);
	json = bson_as_relaxed_extended_json(&doc, &len);
	bson_destroy(&doc);
	FUZZ_CHECK(json != NULL, "cannot write the report as JSON");
	v = report_parse(json, len, len, TENANT, &back, why, sizeof(why));
	FUZZ_CHECK(v == REPORT_OK, "%s written back: %s (%s)", json,
	    report_verdict_name(v), why);
	FUZZ_CHECK(memcmp(&back, r, sizeof(back)) == 0, "%s written back "
	    "reads differently", json);
	bson_free(json);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct report r, again;
	char why[256], why2[256];
	enum report_verdict v, v2;

	v = report_parse(text, size, MAX, TENANT, &r, why, sizeof(why));
	FUZZ_CHECK(v < REPORT_NVERDICTS, "verdict %d", (int)v);
	FUZZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL, "why unterminated");
	v2 = report_parse(text, size, MAX, TENANT, &again, why2,
	    sizeof(why2));
	FUZZ_CHECK(v2 == v && strcmp(why, why2) == 0 &&
	    memcmp(&r, &again, sizeof(r)) == 0, "not deterministic: %s (%s) "
	    "then %s (%s)", report_verdict_name(v), why,
	    report_verdict_name(v2), why2);
	if (size > MAX)
		FUZZ_CHECK(v == REPORT_OVERSIZED, "%zu bytes: %s", size,
		    report_verdict_name(v));
	if (v != REPORT_OK) {
		FUZZ_CHECK(why[0] != '\0', "%s without a reason",
		    report_verdict_name(v));
		FUZZ_CHECK(is_zero(&r), "%s left fields set",
		    report_verdict_name(v));
		return 0;
	}
	FUZZ_CHECK(why[0] == '\0', "accepted with a reason: %s", why);
	FUZZ_CHECK(bson_utf8_validate(text, size, false), "accepted text "
	    "that is not UTF-8");
	check_bounds(&r);
	round_trip(&r);
	return 0;
}
