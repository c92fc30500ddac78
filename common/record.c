#include "record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jsonline.h"

void
record_init(struct record *r)
{
	memset(r, 0, sizeof(*r));
	r->r_dataset = "";
	r->r_exit_code = -1;
}

int64_t
record_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
record_fmt_time(int64_t ms, char *buf, size_t len)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	char stamp[32];

	gmtime_r(&secs, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", stamp, (int)(ms % 1000));
	return buf;
}

int
record_parse_time(const char *s, int64_t *ms)
{
	struct tm tm;
	const char *rest;
	int frac = 0, digits = 0;

	memset(&tm, 0, sizeof(tm));
	rest = strptime(s, "%Y-%m-%d", &tm);
	if (rest == NULL)
		return -1;
	if (*rest == 'T') {
		rest = strptime(rest + 1, "%H:%M:%S", &tm);
		if (rest == NULL)
			return -1;
		if (*rest == '.')
			for (rest++; *rest >= '0' && *rest <= '9'; rest++)
				if (digits++ < 3)
					frac = frac * 10 + (*rest - '0');
		while (digits > 0 && digits < 3) {
			frac *= 10;
			digits++;
		}
		if (*rest == 'Z')
			rest++;
	}
	if (*rest != '\0')
		return -1;
	*ms = (int64_t)timegm(&tm) * 1000 + frac;
	return 0;
}

static void
append_time(bson_t *doc, const char *key, int64_t ms)
{
	char buf[40];

	BSON_APPEND_UTF8(doc, key, record_fmt_time(ms, buf, sizeof(buf)));
}

static void
append_summary(bson_t *doc, const bson_t *summary)
{
	/* The counts are promoted so stats need not dig. */
	static const char *const counts[] = { "rows", "rejected_rows",
	    "inserted", "already_present", "store_rejected" };
	bson_iter_t it;

	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		if (bson_iter_init_find(&it, summary, counts[i]) &&
		    BSON_ITER_HOLDS_NUMBER(&it))
			BSON_APPEND_INT64(doc, counts[i],
			    bson_iter_as_int64(&it));
	/* And the data quality of the unit (docs/quality.md). */
	if (bson_iter_init_find(&it, summary, "quality") &&
	    BSON_ITER_HOLDS_DOCUMENT(&it))
		bson_append_iter(doc, "quality", -1, &it);
	BSON_APPEND_DOCUMENT(doc, "summary", summary);
}

static void
build(bson_t *doc, const struct record *r)
{
	int64_t now = record_now_ms();

	append_time(doc, "time", now);
	jsonline_append_text(doc, "tenant", r->r_tenant);
	jsonline_append_text(doc, "dataset", r->r_dataset);
	jsonline_append_text(doc, "file", r->r_file);
	if (r->r_app)
		jsonline_append_text(doc, "app", r->r_app);
	if (r->r_job)
		jsonline_append_text(doc, "job", r->r_job);
	BSON_APPEND_INT64(doc, "bytes", (int64_t)r->r_bytes);
	BSON_APPEND_UTF8(doc, "status", r->r_status);
	if (r->r_reason)
		jsonline_append_text(doc, "reason", r->r_reason);
	if (r->r_exit_code >= 0)
		BSON_APPEND_INT32(doc, "exit_code", r->r_exit_code);
	if (r->r_signal > 0)
		BSON_APPEND_INT32(doc, "signal", r->r_signal);
	BSON_APPEND_INT32(doc, "attempt", r->r_attempt);
	if (r->r_recovered)
		BSON_APPEND_BOOL(doc, "recovered", true);
	if (r->r_forced)
		BSON_APPEND_BOOL(doc, "forced", true);
	if (r->r_start_ms) {
		append_time(doc, "start", r->r_start_ms);
		append_time(doc, "end", r->r_end_ms);
		BSON_APPEND_INT64(doc, "duration_ms",
		    r->r_end_ms - r->r_start_ms);
		BSON_APPEND_INT64(doc, "cpu_ms", (int64_t)r->r_cpu_ms);
		BSON_APPEND_INT64(doc, "max_rss_kb", r->r_max_rss_kb);
	}
	if (r->r_summary)
		append_summary(doc, r->r_summary);
}

/*
 * Writes doc as one JSON line to fd: the whole line or, failing, nothing.
 * Returns 0 or -1 with errno set.
 */
static int
append_line(int fd, const bson_t *doc)
{
	size_t len;
	char *line;
	ssize_t n;
	int rc = 0;

	line = jsonline(doc, &len);
	if (line == NULL) {
		errno = EINVAL;
		return -1;
	}
	/* One write: O_APPEND makes it land whole after any other line. */
	n = write(fd, line, len);
	if (n != (ssize_t)len) {
		if (n >= 0)
			errno = jsonline_untear(fd, (size_t)n);
		rc = -1;
	}
	bson_free(line);
	return rc;
}

int
record_append(int fd, const struct record *r)
{
	bson_t doc = BSON_INITIALIZER;
	int rc;

	build(&doc, r);
	rc = append_line(fd, &doc);
	bson_destroy(&doc);
	return rc;
}

int
record_append_quality(int fd, const struct record *r)
{
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t it, q;
	int rc;

	if (r->r_summary == NULL || !bson_iter_init_find(&it, r->r_summary,
	    "quality") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
	    !bson_iter_recurse(&it, &q))
		return 0;
	append_time(&doc, "time", record_now_ms());
	jsonline_append_text(&doc, "tenant", r->r_tenant);
	jsonline_append_text(&doc, "dataset", r->r_dataset);
	jsonline_append_text(&doc, "file", r->r_file);
	if (r->r_job)
		jsonline_append_text(&doc, "job", r->r_job);
	BSON_APPEND_UTF8(&doc, "status", r->r_status);
	if (r->r_forced)
		BSON_APPEND_BOOL(&doc, "forced", true);
	while (bson_iter_next(&q))
		bson_append_iter(&doc, bson_iter_key(&q), -1, &q);
	rc = append_line(fd, &doc);
	bson_destroy(&doc);
	return rc;
}

int
record_append_stream_quality(int fd, const struct stream_quality *q)
{
	bson_t doc = BSON_INITIALIZER, rules;
	int rc;

	append_time(&doc, "time", record_now_ms());
	jsonline_append_text(&doc, "tenant", q->sq_tenant);
	jsonline_append_text(&doc, "stream", q->sq_stream);
	BSON_APPEND_UTF8(&doc, "status", "ok");
	BSON_APPEND_UTF8(&doc, "pass", "ingest");
	BSON_APPEND_INT64(&doc, "checked", (int64_t)q->sq_checked);
	BSON_APPEND_INT64(&doc, "rejected", (int64_t)q->sq_rejected);
	BSON_APPEND_DOCUMENT_BEGIN(&doc, "rules", &rules);
	for (size_t i = 0; i < q->sq_nrules; i++)
		BSON_APPEND_INT64(&rules, q->sq_rules[i],
		    (int64_t)q->sq_counts[i]);
	bson_append_document_end(&doc, &rules);
	rc = append_line(fd, &doc);
	bson_destroy(&doc);
	return rc;
}
