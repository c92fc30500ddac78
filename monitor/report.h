/*
 * Metric reports that tenant apps push to run/<tenant>/metrics.sock: one
 * JSON object per ZeroMQ message, parsed with libbson and checked field by
 * field (the schema is in docs/protocols.md, "Metric reports"). Pure
 * functions: no sockets, no clock.
 */
#ifndef MYSIMBDP_MONITOR_REPORT_H
#define MYSIMBDP_MONITOR_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>

#include "conf.h"

#define REPORT_VERSION		1
#define REPORT_INSTANCE_MAX	80

/* Why a report was dropped; REPORT_OK when it was not. */
enum report_verdict {
	REPORT_OK,
	REPORT_MALFORMED,	/* not one JSON object in valid UTF-8 */
	REPORT_OVERSIZED,	/* more than monitor.max_report_size */
	REPORT_INVALID,		/* a field missing, unknown, mistyped, out of range */
	REPORT_INCONSISTENT,	/* fields that contradict each other */
	REPORT_WRONG_TENANT,	/* names another tenant than its endpoint's */
	REPORT_RATE_LIMITED,	/* over monitor.max_reports_per_second */
	REPORT_BYTE_LIMITED,	/* over max_report_bytes_per_second */
	REPORT_NVERDICTS
};

#define REPORT_RULES_MAX	16	/* quality rules one report may name */

/* One report, as checked. */
struct report {
	char		 r_app[8];			/* "stream" or "batch" */
	char		 r_instance[REPORT_INSTANCE_MAX + 1];
	char		 r_stream[STREAM_NAME_MAX + 1];	/* "" for batch apps */
	int64_t		 r_window_ms;
	int64_t		 r_messages;
	int64_t		 r_rows;
	int64_t		 r_bytes;
	int64_t		 r_errors;
	int64_t		 r_dropped;	/* reports the app could not send */
	int64_t		 r_ingest_us_sum;
	int64_t		 r_ingest_us_max;
	struct report_rule {	/* "quality": rows or messages refused per rule */
		char	 rr_name[TENANT_ID_MAX + 1];
		int64_t	 rr_rejected;
	}		 r_rules[REPORT_RULES_MAX];
	size_t		 r_nrules;
};

/*
 * Parses and checks one report of len bytes that arrived on tenant's
 * endpoint; max is monitor.max_report_size. Returns REPORT_OK with *r
 * filled, or the verdict with the reason in why ("rows: must be an
 * integer", "ingest_us_max 90 is above ingest_us_sum 40").
 */
enum report_verdict report_parse(const char *data, size_t len, size_t max,
    const char *tenant, struct report *r, char *why, size_t whylen);

/*
 * REPORT_OVERSIZED with why when len is over max (max_report_size),
 * else REPORT_OK: report_parse's first check, for a caller that must
 * tell before it parses.
 */
enum report_verdict report_size(size_t len, size_t max, char *why,
    size_t whylen);

/* The verdict's name as counted and shown: "malformed", "wrong-tenant"... */
const char *report_verdict_name(enum report_verdict v);

/*
 * Appends a parsed report's own fields (app, stream when it has one,
 * instance, window and counters; not the tenant or version) to doc, in
 * the names of the report format: what log/metrics.jsonl records.
 */
void report_append(const struct report *r, bson_t *doc);

#endif
