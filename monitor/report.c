/*
 * Metric reports: strict checking. A report is refused unless it is one
 * JSON object in valid UTF-8 whose every field is known, appears once,
 * has the right type and range, and agrees with the others. The monitor
 * counts refusals by verdict; nothing in a report can make it crash.
 */
#include "report.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <bson/bson.h>

#include "jsonone.h"
#include "log.h"

enum rf_kind { RF_VERSION, RF_TENANT, RF_INT, RF_STRING, RF_RULES };

#define RF_REQUIRED	0x1

/* One field of the schema; off is where it goes in struct report. */
struct rfield {
	const char	*name;
	enum rf_kind	 kind;
	size_t		 off;
	size_t		 size;	/* RF_STRING: the buffer's size */
	unsigned	 flags;
};

#define INT_FIELD(n, m, fl) { n, RF_INT, offsetof(struct report, m), 0, fl }
#define STR_FIELD(n, m, fl) \
	{ n, RF_STRING, offsetof(struct report, m), \
	    sizeof(((struct report *)0)->m), fl }

static const struct rfield fields[] = {
	{ "v", RF_VERSION, 0, 0, RF_REQUIRED },
	{ "tenant", RF_TENANT, 0, 0, 0 },
	STR_FIELD("app", r_app, RF_REQUIRED),
	STR_FIELD("instance", r_instance, RF_REQUIRED),
	STR_FIELD("stream", r_stream, 0),
	INT_FIELD("window_ms", r_window_ms, RF_REQUIRED),
	INT_FIELD("messages", r_messages, 0),
	INT_FIELD("rows", r_rows, 0),
	INT_FIELD("bytes", r_bytes, 0),
	INT_FIELD("errors", r_errors, 0),
	INT_FIELD("dropped", r_dropped, 0),
	INT_FIELD("ingest_us_sum", r_ingest_us_sum, 0),
	INT_FIELD("ingest_us_max", r_ingest_us_max, 0),
	{ "quality", RF_RULES, 0, 0, 0 },
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static const char *const verdict_names[REPORT_NVERDICTS] = {
	[REPORT_OK] = "ok",
	[REPORT_MALFORMED] = "malformed",
	[REPORT_OVERSIZED] = "oversized",
	[REPORT_INVALID] = "invalid",
	[REPORT_INCONSISTENT] = "inconsistent",
	[REPORT_WRONG_TENANT] = "wrong-tenant",
	[REPORT_RATE_LIMITED] = "rate-limited",
	[REPORT_BYTE_LIMITED] = "byte-limited",
};

const char *
report_verdict_name(enum report_verdict v)
{
	return v < REPORT_NVERDICTS ? verdict_names[v] : "?";
}

static enum report_verdict LOG_FMT(4, 5)
verdict(enum report_verdict v, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return v;
}

/*
 * Instance ids end up in log lines and Prometheus labels: letters,
 * digits and "._:-" only.
 */
static bool
valid_instance(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") == n;
}

/* "quality": {rule: n}, rule an id (or "other"), n >= 0, a few rules. */
static enum report_verdict
read_rules(bson_iter_t *it, struct report *r, char *why, size_t whylen)
{
	bson_iter_t q;

	if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &q))
		return verdict(REPORT_INVALID, why, whylen, "quality: must be "
		    "an object of rule names and counts");
	while (bson_iter_next(&q)) {
		const char *name = bson_iter_key(&q);

		if (!conf_valid_id(name))
			return verdict(REPORT_INVALID, why, whylen, "quality: "
			    "\"%.40s\" is not a rule name", name);
		if (!BSON_ITER_HOLDS_INT32(&q) && !BSON_ITER_HOLDS_INT64(&q))
			return verdict(REPORT_INVALID, why, whylen, "quality: "
			    "%s: must be an integer", name);
		if (bson_iter_as_int64(&q) < 0)
			return verdict(REPORT_INVALID, why, whylen, "quality: "
			    "%s: must not be negative", name);
		for (size_t k = 0; k < r->r_nrules; k++)
			if (strcmp(r->r_rules[k].rr_name, name) == 0)
				return verdict(REPORT_INVALID, why, whylen,
				    "quality: %s: given twice", name);
		if (r->r_nrules == REPORT_RULES_MAX)
			return verdict(REPORT_INVALID, why, whylen, "quality: "
			    "more than %d rules", REPORT_RULES_MAX);
		snprintf(r->r_rules[r->r_nrules].rr_name,
		    sizeof(r->r_rules[0].rr_name), "%s", name);
		r->r_rules[r->r_nrules++].rr_rejected = bson_iter_as_int64(&q);
	}
	return REPORT_OK;
}

/* Reads one member into r; returns REPORT_OK or REPORT_INVALID/WRONG_TENANT. */
static enum report_verdict
read_member(const struct rfield *f, bson_iter_t *it, const char *tenant,
    struct report *r, char *why, size_t whylen)
{
	const char *s;
	uint32_t len;
	int64_t v;

	if (f->kind == RF_RULES)
		return read_rules(it, r, why, whylen);
	if (f->kind == RF_VERSION || f->kind == RF_INT) {
		if (!BSON_ITER_HOLDS_INT32(it) && !BSON_ITER_HOLDS_INT64(it))
			return verdict(REPORT_INVALID, why, whylen,
			    "%s: must be an integer", f->name);
		v = bson_iter_as_int64(it);
		if (f->kind == RF_VERSION && v != REPORT_VERSION)
			return verdict(REPORT_INVALID, why, whylen,
			    "v: version %lld is not %d", (long long)v,
			    REPORT_VERSION);
		if (v < 0)
			return verdict(REPORT_INVALID, why, whylen,
			    "%s: must not be negative", f->name);
		if (f->kind == RF_INT)
			*(int64_t *)(void *)((char *)r + f->off) = v;
		return REPORT_OK;
	}
	if (!BSON_ITER_HOLDS_UTF8(it))
		return verdict(REPORT_INVALID, why, whylen, "%s: must be a "
		    "string", f->name);
	s = bson_iter_utf8(it, &len);
	if (f->kind == RF_TENANT)
		return strcmp(s, tenant) == 0 ? REPORT_OK :
		    verdict(REPORT_WRONG_TENANT, why, whylen, "tenant: \"%.40s"
		    "\" on the endpoint of %s", s, tenant);
	if (len == 0 || len >= f->size || strlen(s) != len)
		return verdict(REPORT_INVALID, why, whylen, "%s: must be 1 to "
		    "%zu characters", f->name, f->size - 1);
	memcpy((char *)r + f->off, s, (size_t)len + 1);
	return REPORT_OK;
}

/* Walks the object: every key known, once. */
static enum report_verdict
read_members(const bson_t *doc, const char *tenant, struct report *r,
    char *why, size_t whylen)
{
	unsigned seen = 0;
	enum report_verdict v;
	bson_iter_t it;

	if (!bson_iter_init(&it, doc))
		return verdict(REPORT_MALFORMED, why, whylen, "not an object");
	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);
		size_t i;

		for (i = 0; i < NFIELDS && strcmp(fields[i].name, key); i++)
			;
		if (i == NFIELDS)
			return verdict(REPORT_INVALID, why, whylen, "%.40s: "
			    "unknown field", key);
		if (seen & (1u << i))
			return verdict(REPORT_INVALID, why, whylen, "%s: given "
			    "twice", key);
		seen |= 1u << i;
		if ((v = read_member(&fields[i], &it, tenant, r, why,
		    whylen)) != REPORT_OK)
			return v;
	}
	for (size_t i = 0; i < NFIELDS; i++)
		if ((fields[i].flags & RF_REQUIRED) && !(seen & (1u << i)))
			return verdict(REPORT_INVALID, why, whylen, "%s: "
			    "missing", fields[i].name);
	return REPORT_OK;
}

/* Checks that span fields. */
static enum report_verdict
check_fields(const struct report *r, char *why, size_t whylen)
{
	bool stream = strcmp(r->r_app, "stream") == 0;

	if (!stream && strcmp(r->r_app, "batch") != 0)
		return verdict(REPORT_INVALID, why, whylen, "app: \"%s\" is "
		    "neither \"stream\" nor \"batch\"", r->r_app);
	if (!valid_instance(r->r_instance))
		return verdict(REPORT_INVALID, why, whylen, "instance: only "
		    "letters, digits and \"._:-\"");
	if (stream && r->r_stream[0] == '\0')
		return verdict(REPORT_INVALID, why, whylen, "stream: missing "
		    "(required when app is \"stream\")");
	if (r->r_stream[0] != '\0' && !conf_valid_stream_name(r->r_stream))
		return verdict(REPORT_INVALID, why, whylen, "stream: not a "
		    "stream name");
	if (!stream && r->r_stream[0] != '\0')
		return verdict(REPORT_INCONSISTENT, why, whylen, "stream: "
		    "given for a batch app");
	if (r->r_ingest_us_max > r->r_ingest_us_sum)
		return verdict(REPORT_INCONSISTENT, why, whylen,
		    "ingest_us_max %lld is above ingest_us_sum %lld",
		    (long long)r->r_ingest_us_max,
		    (long long)r->r_ingest_us_sum);
	return REPORT_OK;
}

enum report_verdict
report_size(size_t len, size_t max, char *why, size_t whylen)
{
	*why = '\0';
	if (len > max)
		return verdict(REPORT_OVERSIZED, why, whylen, "%zu bytes, more "
		    "than max_report_size %zu", len, max);
	return REPORT_OK;
}

enum report_verdict
report_parse(const char *data, size_t len, size_t max, const char *tenant,
    struct report *r, char *why, size_t whylen)
{
	bson_t doc = BSON_INITIALIZER;
	enum report_verdict v;

	memset(r, 0, sizeof(*r));
	if ((v = report_size(len, max, why, whylen)) != REPORT_OK)
		return v;
	if (jsonone_parse(data, len, &doc, why, whylen) < 0)
		v = REPORT_MALFORMED;
	else if ((v = read_members(&doc, tenant, r, why, whylen)) == REPORT_OK)
		v = check_fields(r, why, whylen);
	bson_destroy(&doc);
	if (v != REPORT_OK)
		memset(r, 0, sizeof(*r));
	return v;
}

void
report_append(const struct report *r, bson_t *doc)
{
	BSON_APPEND_UTF8(doc, "app", r->r_app);
	if (r->r_stream[0] != '\0')
		BSON_APPEND_UTF8(doc, "stream", r->r_stream);
	BSON_APPEND_UTF8(doc, "instance", r->r_instance);
	BSON_APPEND_INT64(doc, "window_ms", r->r_window_ms);
	BSON_APPEND_INT64(doc, "messages", r->r_messages);
	BSON_APPEND_INT64(doc, "rows", r->r_rows);
	BSON_APPEND_INT64(doc, "bytes", r->r_bytes);
	BSON_APPEND_INT64(doc, "errors", r->r_errors);
	BSON_APPEND_INT64(doc, "dropped", r->r_dropped);
	BSON_APPEND_INT64(doc, "ingest_us_sum", r->r_ingest_us_sum);
	BSON_APPEND_INT64(doc, "ingest_us_max", r->r_ingest_us_max);
	if (r->r_nrules > 0) {
		bson_t q;

		BSON_APPEND_DOCUMENT_BEGIN(doc, "quality", &q);
		for (size_t k = 0; k < r->r_nrules; k++)
			BSON_APPEND_INT64(&q, r->r_rules[k].rr_name,
			    r->r_rules[k].rr_rejected);
		bson_append_document_end(doc, &q);
	}
}
