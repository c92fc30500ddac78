/*
 * stats [--tenant T] [--since TIME] [--mongo] [--json]: ingestion figures
 * per tenant and for the whole platform, computed from log/ingest.jsonl
 * (or the monitor's copy in MongoDB). With --quality: data quality per
 * tenant and dataset from log/quality.jsonl (or MongoDB's "quality"):
 * units, rows checked and refused, per rule, and files quarantined.
 *
 * A file counts once per final outcome: "ok", "failed" or "timeout"
 * (both failed), "rejected"; "retry" records count attempts that will be
 * tried again. Durations and throughput are taken from "ok" runs.
 */
#include <bson/bson.h>
#include <errno.h>
#include <math.h>
#include <mysimbdp-internal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "ctl.h"
#include "record.h"
#include "rulecount.h"
#include "state.h"
#include "units.h"

struct tally {
	char		 t_tenant[TENANT_ID_MAX + 1];
	uint64_t	 t_ok, t_failed, t_rejected, t_retries;
	uint64_t	 t_bytes_ok, t_bytes_failed, t_bytes_rejected;
	uint64_t	 t_rows, t_rejected_rows;
	/* What the store said of the rows (ok and failed runs). */
	uint64_t	 t_inserted, t_present, t_store_rejected;
	int64_t		*t_durations;
	size_t		 t_ndur, t_capdur;
	int64_t		 t_first_start, t_last_end;
};

struct stats {
	struct tally	*s_tenants;
	size_t		 s_count;
	struct tally	 s_all;
	uint64_t	 s_malformed;
};

static const char *
str_field(const bson_t *doc, const char *key)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it))
		return bson_iter_utf8(&it, NULL);
	return NULL;
}

static int64_t
time_field(const bson_t *doc, const char *key)
{
	const char *s = str_field(doc, key);
	int64_t ms;

	return s && record_parse_time(s, &ms) == 0 ? ms : 0;
}

static struct tally *
tally_for(struct stats *st, const char *tenant)
{
	struct tally *grown;

	for (size_t i = 0; i < st->s_count; i++)
		if (strcmp(st->s_tenants[i].t_tenant, tenant) == 0)
			return &st->s_tenants[i];
	grown = realloc(st->s_tenants, (st->s_count + 1) * sizeof(*grown));
	if (grown == NULL)
		return NULL;
	st->s_tenants = grown;
	memset(&grown[st->s_count], 0, sizeof(*grown));
	snprintf(grown[st->s_count].t_tenant, sizeof(grown->t_tenant), "%s",
	    tenant);
	return &grown[st->s_count++];
}

static void
add_duration(struct tally *t, int64_t ms)
{
	if (t->t_ndur == t->t_capdur) {
		size_t cap = t->t_capdur ? t->t_capdur * 2 : 64;
		int64_t *d = realloc(t->t_durations, cap * sizeof(*d));

		if (d == NULL)
			return;
		t->t_durations = d;
		t->t_capdur = cap;
	}
	t->t_durations[t->t_ndur++] = ms;
}

static void
count_store(struct tally *t, const bson_t *doc)
{
	t->t_inserted += (uint64_t)ctl_int(doc, "inserted");
	t->t_present += (uint64_t)ctl_int(doc, "already_present");
	t->t_store_rejected += (uint64_t)ctl_int(doc, "store_rejected");
}

static void
count(struct tally *t, const bson_t *doc, const char *status)
{
	uint64_t bytes = (uint64_t)ctl_int(doc, "bytes");

	if (strcmp(status, "ok") == 0 || strcmp(status, "failed") == 0)
		count_store(t, doc);
	if (strcmp(status, "ok") == 0) {
		int64_t start = time_field(doc, "start");
		int64_t end = time_field(doc, "end");

		t->t_ok++;
		t->t_bytes_ok += bytes;
		t->t_rows += (uint64_t)ctl_int(doc, "rows");
		t->t_rejected_rows += (uint64_t)ctl_int(doc, "rejected_rows");
		add_duration(t, ctl_int(doc, "duration_ms"));
		if (start && (t->t_first_start == 0 || start < t->t_first_start))
			t->t_first_start = start;
		if (end > t->t_last_end)
			t->t_last_end = end;
	} else if (strcmp(status, "failed") == 0 ||
	    strcmp(status, "timeout") == 0) {
		t->t_failed++;
		t->t_bytes_failed += bytes;
	} else if (strcmp(status, "rejected") == 0) {
		t->t_rejected++;
		t->t_bytes_rejected += bytes;
	} else if (strcmp(status, "retry") == 0)
		t->t_retries++;
}

/* What stats counts one record (a line, or a document) into. */
struct source {
	const char	*src_tenant;	/* NULL: every tenant */
	int64_t		 src_since;	/* 0: all */
	void		(*src_take)(void *, const bson_t *, const char *,
			    const char *);	/* doc, tenant, status */
	void		*src_arg;
	uint64_t	 src_malformed;
};

/* One record, counted when it is the tenant's and recent enough. */
static void
take(struct source *src, const bson_t *doc)
{
	const char *t, *status;

	if (doc == NULL || (t = str_field(doc, "tenant")) == NULL ||
	    (status = str_field(doc, "status")) == NULL) {
		src->src_malformed++;
		return;
	}
	if ((src->src_tenant == NULL || strcmp(src->src_tenant, t) == 0) &&
	    (src->src_since == 0 || time_field(doc, "time") >= src->src_since))
		src->src_take(src->src_arg, doc, t, status);
}

/*
 * Every line of f into src. Returns 0 at the end of the file, or -1
 * (errno) for a read error or out of memory, which getline's -1 also
 * means: the lines before it are not the whole log.
 */
static int
read_records(FILE *f, struct source *src)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int e;

	while ((n = getline(&line, &cap, f)) > 0) {
		bson_t *doc = bson_new_from_json((const uint8_t *)line, n, NULL);

		take(src, doc);
		if (doc)
			bson_destroy(doc);
	}
	e = errno;
	free(line);
	errno = e;
	return feof(f) ? 0 : -1;
}

/* take, as the back end's callback. */
static void
take_doc(void *arg, const bson_t *doc)
{
	take(arg, doc);
}

/* The same records from MongoDB (the monitor's copy: monitor/ship.c),
 * through libmysimbdp's back end, so that libmongoc is loaded only for
 * --mongo (after msb_init, which keeps its counters out of /dev/shm).
 * Returns 0, or -1 with the reason printed. */
static int
read_mongo(const struct conf_platform *p, const char *collection,
    struct source *src)
{
	char *url = conf_platform_app_mongo_url(p);
	char err[512];
	int rc;

	msb_init();
	rc = msb__mongo_find_all(url, p->p_mongo_records_db, collection,
	    take_doc, src, err, sizeof(err));
	free(url);
	if (rc != MSB_OK) {
		fprintf(stderr, "mysimbdp stats: MongoDB: %s\n", err);
		return -1;
	}
	return 0;
}

/* An ingest record into the tenant's tally and the platform's. */
static void
take_ingest(void *arg, const bson_t *doc, const char *tenant,
    const char *status)
{
	struct stats *st = arg;
	struct tally *tl;

	if ((tl = tally_for(st, tenant)) == NULL)
		return;
	count(tl, doc, status);
	count(&st->s_all, doc, status);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted values. */
static int64_t
percentile(const int64_t *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return 0;
	rank = (size_t)ceil(p * (double)n);
	return v[rank ? rank - 1 : 0];
}

struct figures {
	double	 f_avg_ms;
	int64_t	 f_p50_ms, f_p95_ms;
	double	 f_mb_s, f_rows_s;
};

static void
figures(struct tally *t, struct figures *f)
{
	double sum = 0, span;

	memset(f, 0, sizeof(*f));
	if (t->t_ndur == 0)
		return;
	qsort(t->t_durations, t->t_ndur, sizeof(int64_t), cmp_i64);
	for (size_t i = 0; i < t->t_ndur; i++)
		sum += (double)t->t_durations[i];
	f->f_avg_ms = sum / (double)t->t_ndur;
	f->f_p50_ms = percentile(t->t_durations, t->t_ndur, 0.50);
	f->f_p95_ms = percentile(t->t_durations, t->t_ndur, 0.95);
	span = (double)(t->t_last_end - t->t_first_start) / 1000.0;
	if (span > 0) {
		f->f_mb_s = (double)t->t_bytes_ok / 1048576.0 / span;
		f->f_rows_s = (double)t->t_rows / span;
	}
}

static void
print_row(struct tally *t, const char *name)
{
	struct figures f;
	char ok[16], bad[16];

	figures(t, &f);
	printf("%-12s %6ju %6ju %8ju %7ju %9s %9s %10ju %8ju %8.1f %6jd %6jd "
	    "%8.2f %9.1f %10ju %10ju %9ju\n", name, (uintmax_t)t->t_ok, (uintmax_t)t->t_failed,
	    (uintmax_t)t->t_rejected, (uintmax_t)t->t_retries,
	    units_fmt_size(t->t_bytes_ok, ok, sizeof(ok)),
	    units_fmt_size(t->t_bytes_failed + t->t_bytes_rejected, bad,
	    sizeof(bad)), (uintmax_t)t->t_rows, (uintmax_t)t->t_rejected_rows,
	    f.f_avg_ms, (intmax_t)f.f_p50_ms, (intmax_t)f.f_p95_ms, f.f_mb_s,
	    f.f_rows_s, (uintmax_t)t->t_inserted, (uintmax_t)t->t_present,
	    (uintmax_t)t->t_store_rejected);
}

static void
append_tally(bson_t *parent, const char *key, struct tally *t)
{
	struct figures f;
	bson_t doc;

	figures(t, &f);
	BSON_APPEND_DOCUMENT_BEGIN(parent, key, &doc);
	BSON_APPEND_INT64(&doc, "files_ok", (int64_t)t->t_ok);
	BSON_APPEND_INT64(&doc, "files_failed", (int64_t)t->t_failed);
	BSON_APPEND_INT64(&doc, "files_rejected", (int64_t)t->t_rejected);
	BSON_APPEND_INT64(&doc, "retries", (int64_t)t->t_retries);
	BSON_APPEND_INT64(&doc, "bytes_ok", (int64_t)t->t_bytes_ok);
	BSON_APPEND_INT64(&doc, "bytes_failed", (int64_t)t->t_bytes_failed);
	BSON_APPEND_INT64(&doc, "bytes_rejected", (int64_t)t->t_bytes_rejected);
	BSON_APPEND_INT64(&doc, "rows", (int64_t)t->t_rows);
	BSON_APPEND_INT64(&doc, "rejected_rows", (int64_t)t->t_rejected_rows);
	BSON_APPEND_INT64(&doc, "inserted", (int64_t)t->t_inserted);
	BSON_APPEND_INT64(&doc, "already_present", (int64_t)t->t_present);
	BSON_APPEND_INT64(&doc, "store_rejected", (int64_t)t->t_store_rejected);
	BSON_APPEND_DOUBLE(&doc, "duration_avg_ms", f.f_avg_ms);
	BSON_APPEND_INT64(&doc, "duration_p50_ms", f.f_p50_ms);
	BSON_APPEND_INT64(&doc, "duration_p95_ms", f.f_p95_ms);
	BSON_APPEND_DOUBLE(&doc, "throughput_mb_s", f.f_mb_s);
	BSON_APPEND_DOUBLE(&doc, "throughput_rows_s", f.f_rows_s);
	bson_append_document_end(parent, &doc);
}

static void
print_json(struct stats *st)
{
	bson_t root = BSON_INITIALIZER, tenants;
	char *json;

	BSON_APPEND_DOCUMENT_BEGIN(&root, "tenants", &tenants);
	for (size_t i = 0; i < st->s_count; i++)
		append_tally(&tenants, st->s_tenants[i].t_tenant,
		    &st->s_tenants[i]);
	bson_append_document_end(&root, &tenants);
	append_tally(&root, "platform", &st->s_all);
	BSON_APPEND_INT64(&root, "malformed_records", (int64_t)st->s_malformed);
	json = bson_as_relaxed_extended_json(&root, NULL);
	printf("%s\n", json);
	bson_free(json);
	bson_destroy(&root);
}

static int
cmp_tally(const void *a, const void *b)
{
	return strcmp(((const struct tally *)a)->t_tenant,
	    ((const struct tally *)b)->t_tenant);
}

/* --since: an ISO time ("2026-11-21T10:00:00Z", "2026-11-21") or an age ("1h"). */
static int
parse_since(const char *s, int64_t *ms)
{
	const char *why;
	uint64_t ago;

	if (record_parse_time(s, ms) == 0)
		return 0;
	if (units_parse_duration(s, &ago, &why) == 0) {
		*ms = record_now_ms() - (int64_t)ago;
		return 0;
	}
	return -1;
}

static void
stats_free(struct stats *st)
{
	for (size_t i = 0; i < st->s_count; i++)
		free(st->s_tenants[i].t_durations);
	free(st->s_tenants);
	free(st->s_all.t_durations);
}

/* Prints the figures and frees them. */
static int
report(struct stats *st, bool json)
{
	if (st->s_count)
		qsort(st->s_tenants, st->s_count, sizeof(*st->s_tenants),
		    cmp_tally);
	if (json)
		print_json(st);
	else {
		printf("%-12s %6s %6s %8s %7s %9s %9s %10s %8s %8s %6s %6s %8s "
		    "%9s %10s %10s %9s\n", "tenant", "ok", "failed",
		    "rejected", "retries", "bytes ok", "bytes bad", "rows",
		    "rej rows", "avg ms", "p50", "p95", "MB/s", "rows/s",
		    "inserted", "present", "store rej");
		for (size_t i = 0; i < st->s_count; i++)
			print_row(&st->s_tenants[i], st->s_tenants[i].t_tenant);
		print_row(&st->s_all, "(platform)");
		if (st->s_malformed)
			fprintf(stderr, "mysimbdp stats: %ju malformed records "
			    "skipped\n", (uintmax_t)st->s_malformed);
	}
	stats_free(st);
	return EX_OK;
}

static int
since_opt(const char *cmd, const char *arg, void *field)
{
	if (parse_since(arg, field) == 0)
		return 0;
	fprintf(stderr, "mysimbdp %s: --since \"%s\": use a time like "
	    "2026-11-21T10:00:00Z or an age like 1h\n", cmd, arg);
	return -1;
}

/* ---- --quality: log/quality.jsonl (docs/quality.md) ---- */

#define RULES_MAX 64	/* rules summed per tenant and dataset; the last
			 * is "other" (rulecount.h) */

struct qtally {
	/* t[/dataset] or t/stream:name */
	char		 q_key[TENANT_ID_MAX + NAME_MAX + sizeof("/stream:")];
	char		 q_tenant[TENANT_ID_MAX + 1];
	char		 q_dataset[NAME_MAX + 1];	/* or the stream */
	bool		 q_stream;
	uint64_t	 q_units, q_checked, q_rejected, q_quarantined;
	struct rule_count q_rules[RULES_MAX];
	size_t		 q_nrules;
	int64_t		 q_first, q_last;	/* the span of its units */
};

struct qstats {
	struct qtally	*qs_v;
	size_t		 qs_n;
	struct qtally	 qs_all;
};

static struct qtally *
qtally_for(struct qstats *qs, const char *tenant, const char *dataset,
    bool stream)
{
	char key[sizeof(qs->qs_v->q_key)];
	struct qtally *grown;

	snprintf(key, sizeof(key), "%s%s%s%s", tenant, *dataset ? "/" : "",
	    stream ? "stream:" : "", dataset);
	for (size_t i = 0; i < qs->qs_n; i++)
		if (strcmp(qs->qs_v[i].q_key, key) == 0)
			return &qs->qs_v[i];
	if ((grown = realloc(qs->qs_v, (qs->qs_n + 1) * sizeof(*grown))) ==
	    NULL)
		return NULL;
	qs->qs_v = grown;
	grown += qs->qs_n++;
	memset(grown, 0, sizeof(*grown));
	snprintf(grown->q_key, sizeof(grown->q_key), "%s", key);
	snprintf(grown->q_tenant, sizeof(grown->q_tenant), "%s", tenant);
	snprintf(grown->q_dataset, sizeof(grown->q_dataset), "%s", dataset);
	grown->q_stream = stream;
	return grown;
}

/*
 * One unit's line: an ingest's counts are summed (a first pass checked
 * the same rows again: only its quarantines count).
 */
static void
qcount(struct qtally *q, const bson_t *doc, const char *status)
{
	const char *pass = str_field(doc, "pass");
	int64_t when = time_field(doc, "time");
	bson_iter_t it, rules;

	if (strcmp(status, "quarantined") == 0)
		q->q_quarantined++;
	if (pass == NULL || strcmp(pass, "ingest") != 0)
		return;
	q->q_units++;
	q->q_checked += (uint64_t)ctl_int(doc, "checked");
	q->q_rejected += (uint64_t)ctl_int(doc, "rejected");
	if (q->q_first == 0 || (when && when < q->q_first))
		q->q_first = when;
	if (when > q->q_last)
		q->q_last = when;
	if (bson_iter_init_find(&it, doc, "rules") &&
	    BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &rules))
		while (bson_iter_next(&rules))
			if (BSON_ITER_HOLDS_NUMBER(&rules))
				(void)rule_count_add(q->q_rules, &q->q_nrules,
				    RULES_MAX, bson_iter_key(&rules),
				    (uint64_t)bson_iter_as_int64(&rules));
}

static void
take_quality(void *arg, const bson_t *doc, const char *tenant,
    const char *status)
{
	struct qstats *qs = arg;
	const char *dataset = str_field(doc, "dataset");
	const char *stream = str_field(doc, "stream");
	struct qtally *q = stream != NULL && *stream ?
	    qtally_for(qs, tenant, stream, true) :
	    qtally_for(qs, tenant, dataset ? dataset : "", false);

	if (q == NULL)
		return;
	qcount(q, doc, status);
	qcount(&qs->qs_all, doc, status);
}

static double
share(const struct qtally *q)
{
	return q->q_checked ? 100.0 * (double)q->q_rejected /
	    (double)q->q_checked : 0;
}

static void
qprint(const struct qtally *q, const char *name)
{
	char times[64] = "", a[40], b[40];

	if (q->q_first)
		snprintf(times, sizeof(times), "%s .. %s",
		    record_fmt_time(q->q_first, a, sizeof(a)),
		    record_fmt_time(q->q_last, b, sizeof(b)));
	printf("%-24s %6ju %10ju %9ju %7.2f%% %11ju  %s\n", name,
	    (uintmax_t)q->q_units, (uintmax_t)q->q_checked,
	    (uintmax_t)q->q_rejected, share(q), (uintmax_t)q->q_quarantined,
	    times);
	for (size_t i = 0; i < q->q_nrules; i++)
		printf("%-24s   rule %-20s %9ju\n", "", q->q_rules[i].rc_name,
		    (uintmax_t)q->q_rules[i].rc_n);
}

static void
qappend(bson_t *parent, const char *key, const struct qtally *q)
{
	char a[40];
	bson_t doc, rules;

	BSON_APPEND_DOCUMENT_BEGIN(parent, key, &doc);
	if (q->q_tenant[0]) {
		BSON_APPEND_UTF8(&doc, "tenant", q->q_tenant);
		BSON_APPEND_UTF8(&doc, q->q_stream ? "stream" : "dataset",
		    q->q_dataset);
	}
	BSON_APPEND_INT64(&doc, "units", (int64_t)q->q_units);
	BSON_APPEND_INT64(&doc, "checked", (int64_t)q->q_checked);
	BSON_APPEND_INT64(&doc, "rejected", (int64_t)q->q_rejected);
	BSON_APPEND_DOUBLE(&doc, "rejected_percent", share(q));
	BSON_APPEND_INT64(&doc, "quarantined", (int64_t)q->q_quarantined);
	if (q->q_first) {
		BSON_APPEND_UTF8(&doc, "first", record_fmt_time(q->q_first, a,
		    sizeof(a)));
		BSON_APPEND_UTF8(&doc, "last", record_fmt_time(q->q_last, a,
		    sizeof(a)));
	}
	BSON_APPEND_DOCUMENT_BEGIN(&doc, "rules", &rules);
	for (size_t i = 0; i < q->q_nrules; i++)
		BSON_APPEND_INT64(&rules, q->q_rules[i].rc_name,
		    (int64_t)q->q_rules[i].rc_n);
	bson_append_document_end(&doc, &rules);
	bson_append_document_end(parent, &doc);
}

static int
cmp_qtally(const void *a, const void *b)
{
	return strcmp(((const struct qtally *)a)->q_key,
	    ((const struct qtally *)b)->q_key);
}

static void
qstats_free(struct qstats *qs)
{
	free(qs->qs_v);
}

/* Prints the quality figures and frees them. */
static int
qreport(struct qstats *qs, uint64_t malformed, bool json)
{
	bson_t root = BSON_INITIALIZER, all;
	char *text;

	if (qs->qs_n)
		qsort(qs->qs_v, qs->qs_n, sizeof(*qs->qs_v), cmp_qtally);
	if (json) {
		BSON_APPEND_DOCUMENT_BEGIN(&root, "quality", &all);
		for (size_t i = 0; i < qs->qs_n; i++)
			qappend(&all, qs->qs_v[i].q_key, &qs->qs_v[i]);
		bson_append_document_end(&root, &all);
		qappend(&root, "platform", &qs->qs_all);
		BSON_APPEND_INT64(&root, "malformed_records",
		    (int64_t)malformed);
		text = bson_as_relaxed_extended_json(&root, NULL);
		printf("%s\n", text);
		bson_free(text);
	} else {
		printf("%-24s %6s %10s %9s %8s %11s  %s\n", "tenant/dataset",
		    "units", "checked", "rejected", "share", "quarantined",
		    "first .. last");
		for (size_t i = 0; i < qs->qs_n; i++)
			qprint(&qs->qs_v[i], qs->qs_v[i].q_key);
		qprint(&qs->qs_all, "(platform)");
		if (malformed)
			fprintf(stderr, "mysimbdp stats: %ju malformed records "
			    "skipped\n", (uintmax_t)malformed);
	}
	bson_destroy(&root);
	qstats_free(qs);
	return EX_OK;
}

/*
 * Reads log/NAME, or with mongo the MongoDB collection of the same
 * records, into src. Returns EX_OK or an exit status (said why).
 */
static int
gather(const struct conf_platform *p, bool mongo, const char *name,
    const char *collection, struct source *src)
{
	char *path;
	FILE *f;
	int err, rc = EX_OK;

	if (mongo) {
		if (strncmp(p->p_mongo_url, "mongodb", 7) != 0) {
			fprintf(stderr, "mysimbdp stats: --mongo: the platform's "
			    "mongo_url is not a MongoDB server\n");
			return EX_CONFIG;
		}
		return read_mongo(p, collection, src) < 0 ? EX_UNAVAILABLE :
		    EX_OK;
	}
	path = state_path(p, "log/%s", name);
	if ((f = fopen(path, "re")) == NULL && errno != ENOENT) {
		err = errno;
		fprintf(stderr, "mysimbdp: open %s: %s\n", path, strerror(err));
		free(path);
		return err == EACCES || err == EPERM ? EX_NOPERM : EX_NOINPUT;
	}
	if (f != NULL && read_records(f, src) == -1) {
		fprintf(stderr, "mysimbdp stats: %s: read: %s\n", path,
		    strerror(errno));
		rc = EX_IOERR;
	}
	if (f != NULL)
		fclose(f);
	free(path);
	return rc;
}

/* What stats takes. */
struct stats_opts {
	const char	*o_tenant;	/* NULL: every tenant */
	int64_t		 o_since;	/* ms since the epoch; 0: all */
	bool		 o_json;
	bool		 o_mongo;	/* from MongoDB, not the file */
	bool		 o_quality;	/* data quality, not ingestion */
};

int
cmd_stats(const struct cli *cli, int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		CLI_OPT("tenant", 't', CLI_OPT_TENANT, struct stats_opts,
		    o_tenant),
		CLI_OPT_FN("since", 's', since_opt, struct stats_opts, o_since),
		CLI_OPT("json", 'j', CLI_OPT_FLAG, struct stats_opts, o_json),
		CLI_OPT("mongo", 'm', CLI_OPT_FLAG, struct stats_opts, o_mongo),
		CLI_OPT("quality", 'Q', CLI_OPT_FLAG, struct stats_opts,
		    o_quality),
		CLI_OPT_END,
	};
	struct stats_opts o = { 0 };
	struct stats st = { 0 };
	struct qstats qs = { 0 };
	struct source src;
	struct conf_platform *p;
	int rc;

	if ((rc = cli_opts_parse(argc, argv, opts, &o)) >= 0)
		return rc;
	if (optind != argc)
		return cli_usage_error(argv[0]);
	if ((p = cli_load_platform(cli)) == NULL)
		return EX_CONFIG;
	src = (struct source){ .src_tenant = o.o_tenant,
	    .src_since = o.o_since };
	if (o.o_quality) {
		src.src_take = take_quality;
		src.src_arg = &qs;
		rc = gather(p, o.o_mongo, "quality.jsonl", "quality", &src);
	} else {
		src.src_take = take_ingest;
		src.src_arg = &st;
		rc = gather(p, o.o_mongo, "ingest.jsonl", "ingestions", &src);
	}
	conf_platform_free(p);
	if (rc != EX_OK) {
		qstats_free(&qs);
		stats_free(&st);
		return rc;
	}
	if (o.o_quality)
		return qreport(&qs, src.src_malformed, o.o_json);
	st.s_malformed = src.src_malformed;
	return report(&st, o.o_json);
}
