/*
 * The outcome records of batch ingestion: one JSON object per line in
 * log/ingest.jsonl, written with a single append so concurrent writers
 * and crashes never interleave or tear a line mid-way. An append the disk
 * or the file-size limit cuts short is cut off again: every line of the
 * log is whole.
 */
#ifndef MYSIMBDP_RECORD_H
#define MYSIMBDP_RECORD_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

struct record {
	const char	*r_tenant;
	const char	*r_dataset;	/* "" for top-level files */
	const char	*r_file;	/* name as the tenant gave it */
	const char	*r_app;		/* NULL for rejections */
	const char	*r_job;		/* MYSIMBDP_INSTANCE, NULL if none */
	const char	*r_status;	/* ok, failed, rejected, timeout, retry, removed,
					   quarantined */
	const char	*r_reason;	/* NULL when ok */
	uint64_t	 r_bytes;
	int		 r_attempt;	/* 0 when no attempt was made */
	int		 r_exit_code;	/* -1: none */
	int		 r_signal;	/* 0: none */
	bool		 r_recovered;	/* rerun of a file found in processing/ */
	bool		 r_forced;	/* past its quality threshold (retry --force) */
	int64_t		 r_start_ms;	/* 0: not started */
	int64_t		 r_end_ms;
	uint64_t	 r_cpu_ms;
	int64_t		 r_max_rss_kb;
	const bson_t	*r_summary;	/* the app's result file, or NULL */
};

/* Initialises r with "none" values for every optional field. */
void record_init(struct record *r);

/*
 * Appends r as one JSON line to fd (opened with O_APPEND). Strings that
 * are not valid UTF-8 are written with \xNN escapes for the bad bytes.
 * Returns 0, or -1 with errno set (ENOSPC, EFBIG for a short write) and
 * no part of the line left in the file.
 */
int record_append(int fd, const struct record *r);

/*
 * Appends the data quality of r's unit, when its summary has one
 * (docs/quality.md), as one line of log/quality.jsonl: time, tenant,
 * dataset, file, job, status, forced, then the summary's quality fields
 * (pass, checked, rejected, rules). Returns 0 (also when there is none)
 * or -1 with errno set.
 */
int record_append_quality(int fd, const struct record *r);

/* A stream's quality over one interval (docs/quality.md, "Streams"). */
struct stream_quality {
	const char	*sq_tenant;
	const char	*sq_stream;
	uint64_t	 sq_checked;	/* messages settled */
	uint64_t	 sq_rejected;	/* of which for a rule */
	const char *const *sq_rules;	/* rule names... */
	const uint64_t	*sq_counts;	/* ...and their rejections */
	size_t		 sq_nrules;
};

/*
 * Appends q as one line of log/quality.jsonl: time, tenant, stream,
 * status "ok", pass "ingest", checked, rejected, rules. Returns 0 or -1
 * with errno set.
 */
int record_append_stream_quality(int fd, const struct stream_quality *q);

/* Milliseconds since the epoch. */
int64_t record_now_ms(void);

/*
 * Parses what record_fmt_time writes ("2026-11-21T14:52:39.671Z"), with or
 * without milliseconds, or a bare date ("2026-11-21", midnight UTC).
 * Returns 0 with *ms set, or -1.
 */
int record_parse_time(const char *s, int64_t *ms);

/* Formats ms since the epoch as ISO 8601 UTC with milliseconds. */
const char *record_fmt_time(int64_t ms, char *buf, size_t len);

#endif
