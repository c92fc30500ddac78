/*
 * stats [--tenant T] [--since TIME] [--json]: ingestion figures per tenant
 * and for the whole platform, computed from log/ingest.jsonl.
 *
 * A file counts once per final outcome: "ok", "failed" or "timeout"
 * (both failed), "rejected"; "retry" records count attempts that will be
 * tried again. Durations and throughput are taken from "ok" runs.
 */
#include <bson/bson.h>
#include <errno.h>
#include <math.h>
#include <mongoc/mongoc.h>
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

/* One record, counted when it is the tenant's and recent enough. */
static void
take(struct stats *st, const bson_t *doc, const char *tenant, int64_t since)
{
	const char *t, *status;
	struct tally *tl;

	if (doc == NULL || (t = str_field(doc, "tenant")) == NULL ||
	    (status = str_field(doc, "status")) == NULL) {
		st->s_malformed++;
		return;
	}
	if ((tenant == NULL || strcmp(tenant, t) == 0) &&
	    (since == 0 || time_field(doc, "time") >= since) &&
	    (tl = tally_for(st, t)) != NULL) {
		count(tl, doc, status);
		count(&st->s_all, doc, status);
	}
}

static void
read_records(FILE *f, struct stats *st, const char *tenant, int64_t since)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, f)) > 0) {
		bson_t *doc = bson_new_from_json((const uint8_t *)line, n, NULL);

		take(st, doc, tenant, since);
		if (doc)
			bson_destroy(doc);
	}
	free(line);
}

/* The same records from MongoDB (the monitor's copy: monitor/ship.c).
 * Returns 0, or -1 with the reason printed. */
static int
read_mongo(const struct conf_platform *p, struct stats *st,
    const char *tenant, int64_t since)
{
	char *url = conf_platform_app_mongo_url(p);
	mongoc_client_t *client;
	mongoc_collection_t *coll;
	mongoc_cursor_t *cur;
	bson_t filter = BSON_INITIALIZER;
	const bson_t *doc;
	bson_error_t error;
	int rc = 0;

	mongoc_init();
	if ((client = mongoc_client_new(url)) == NULL) {
		free(url);
		fprintf(stderr, "mysimbdp stats: mongo_url is not a URL "
		    "libmongoc takes\n");
		return -1;
	}
	free(url);
	coll = mongoc_client_get_collection(client, p->p_mongo_records_db,
	    "ingestions");
	cur = mongoc_collection_find_with_opts(coll, &filter, NULL, NULL);
	while (mongoc_cursor_next(cur, &doc))
		take(st, doc, tenant, since);
	if (mongoc_cursor_error(cur, &error)) {
		/* libmongoc's messages name hosts, never passwords. */
		fprintf(stderr, "mysimbdp stats: MongoDB: %s\n",
		    error.message);
		rc = -1;
	}
	mongoc_cursor_destroy(cur);
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
	mongoc_cleanup();
	return rc;
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
	for (size_t i = 0; i < st->s_count; i++)
		free(st->s_tenants[i].t_durations);
	free(st->s_tenants);
	free(st->s_all.t_durations);
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

/* What stats takes. */
struct stats_opts {
	const char	*o_tenant;	/* NULL: every tenant */
	int64_t		 o_since;	/* ms since the epoch; 0: all */
	bool		 o_json;
	bool		 o_mongo;	/* from MongoDB, not the file */
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
		CLI_OPT_END,
	};
	struct stats_opts o = { 0 };
	struct stats st = { 0 };
	struct conf_platform *p;
	char *path;
	FILE *f;
	int rc;

	if ((rc = cli_opts_parse(argc, argv, opts, &o)) >= 0)
		return rc;
	if (optind != argc)
		return cli_usage_error(argv[0]);
	if ((p = cli_load_platform(cli)) == NULL)
		return EX_CONFIG;
	if (o.o_mongo) {
		if (strncmp(p->p_mongo_url, "mongodb", 7) != 0) {
			fprintf(stderr, "mysimbdp stats: --mongo: the platform's "
			    "mongo_url is not a MongoDB server\n");
			conf_platform_free(p);
			return EX_CONFIG;
		}
		rc = read_mongo(p, &st, o.o_tenant, o.o_since);
		conf_platform_free(p);
		if (rc < 0)
			return EX_UNAVAILABLE;
		return report(&st, o.o_json);
	}
	path = state_path(p, "log/ingest.jsonl");
	conf_platform_free(p);
	if ((f = fopen(path, "re")) == NULL && errno != ENOENT) {
		int err = errno;

		fprintf(stderr, "mysimbdp: open %s: %s\n", path, strerror(err));
		free(path);
		return err == EACCES || err == EPERM ? EX_NOPERM :
		    EX_NOINPUT;
	}
	free(path);
	if (f) {
		read_records(f, &st, o.o_tenant, o.o_since);
		fclose(f);
	}
	return report(&st, o.o_json);
}
