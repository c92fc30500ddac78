/*
 * acme-listings: acme's batch app. It loads one listings export (the CSV
 * shaped like the public Airbnb files) into the collection "listings" of
 * the tenant's sink, wrangled into typed documents: prices as doubles,
 * amenities as arrays, dates as dates, coordinates checked and also stored
 * as a GeoJSON point. A row that fails validation is counted (per reason)
 * and skipped; it never fails the file.
 *
 * It follows the platform's contract through libmysimbdp: the environment
 * names the input, the sink, the result file and the metrics endpoint;
 * every document's _id comes from the file's content hash and row number,
 * and the file is committed as one unit named by that hash, so a rerun
 * (a retry, a crash of batchmgr) replaces and never duplicates. The sink
 * hashes the file on a thread while the rows are read and converted, and
 * writes the hash into their ids (msb_sink_hash_input).
 *
 * Exit status: 0 done; 75 the sink is unavailable, try again later; 65
 * the input cannot be read or is not a listings export; 78 the
 * environment contract is broken; 64 usage; 1 the sink refused for good.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <mysimbdp.h>

#include "listing.h"

#define COLLECTION "listings"
#define SHOW_REJECTS 20			/* rejected rows explained */

struct app {
	struct msb_env		 a_env;
	struct msb_sink		*a_sink;
	struct msb_metrics	*a_metrics;
	struct listing		 a_listing;
	char			 a_hash[MSB_HASH_HEX_SIZE];
	struct msb_docbuild	*a_doc;		/* reused for every row */

	uint64_t		 a_rows;	/* documents added */
	uint64_t		 a_reported;	/* of them, in the metrics */
	uint64_t		 a_nrejected;
	bool			 a_committed;	/* the store has its say */
	uint64_t		 a_rejected[LR_NREASONS];
	int			 a_exit;	/* set by the first failure */
	char			 a_err[1024];
};

static int app_fail(struct app *, int, const char *, ...)
    __attribute__((__format__(__printf__, 3, 4)));

/*
 * Records the first failure: its exit status and message. Returns -1,
 * which also stops the CSV reader when returned from a callback.
 */
static int
app_fail(struct app *a, int code, const char *fmt, ...)
{
	va_list ap;

	if (a->a_exit == 0) {
		a->a_exit = code;
		va_start(ap, fmt);
		vsnprintf(a->a_err, sizeof(a->a_err), fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int
sink_fail(struct app *a, int rc)
{
	return app_fail(a, msb_exit_code(rc), "%s",
	    msb_sink_error(a->a_sink));
}

/* Counts a rejected row; the first few are explained in the log. */
static void
reject(struct app *a, enum listing_reject why, const char *msg)
{
	a->a_rejected[why]++;
	if (++a->a_nrejected <= SHOW_REJECTS)
		fprintf(stderr, "acme-listings: rejected (%s): %s\n",
		    listing_reject_name(why), msg);
	if (a->a_nrejected == SHOW_REJECTS)
		fprintf(stderr, "acme-listings: further rejected rows are "
		    "counted, not shown\n");
}

static int
on_header(const struct msb_csv_record *rec, void *arg)
{
	struct app *a = arg;
	char missing[512];

	if (listing_bind(&a->a_listing, rec, missing, sizeof(missing)) == -1)
		return app_fail(a, EX_DATAERR, "%s: not a listings export: "
		    "the header lacks %s", a->a_env.input_file, missing);
	return 0;
}

static int
on_row(const struct msb_csv_record *rec, void *arg)
{
	struct app *a = arg;
	enum listing_reject why;
	char msg[512];
	int rc;

	msb_docbuild_reset(a->a_doc);
	/* _id first: the same file and row always give the same id; the
	 * sink writes the file's hash in. */
	if (msb_docbuild_id(a->a_doc, MSB_HASH_LATER, rec->num) == MSB_ERROR)
		return app_fail(a, EX_SOFTWARE, "bad content hash");
	why = listing_convert(&a->a_listing, rec, a->a_doc, msg, sizeof(msg));
	if (why != LR_OK) {
		bson_t unused;

		/* Out of memory is no fault of the row: try again later. */
		if (msb_docbuild_bson(a->a_doc, &unused) == MSB_TEMPFAIL)
			return app_fail(a, EX_TEMPFAIL, "%s",
			    msb_docbuild_error(a->a_doc));
		reject(a, why, msg);
		return 0;
	}
	/* The builder checked as it went: the sink need not walk it. */
	rc = msb_sink_add_docbuild(a->a_sink, a->a_doc);
	if (rc == MSB_BADDOC) {
		snprintf(msg, sizeof(msg), "record %" PRIu64 ": %s", rec->num,
		    msb_sink_error(a->a_sink));
		reject(a, LR_DOC, msg);
		return 0;
	}
	if (rc != MSB_OK)
		return sink_fail(a, rc);
	a->a_rows++;
	return 0;
}

/*
 * Metrics are counted per batch of records the reader delivers, not per
 * row: the figures are the same and the row loop stays free of them.
 */
static void
on_progress(uint64_t bytes, void *arg)
{
	struct app *a = arg;

	msb_metrics_add(a->a_metrics, MSB_M_BYTES, bytes);
	msb_metrics_add(a->a_metrics, MSB_M_ROWS, a->a_rows - a->a_reported);
	a->a_reported = a->a_rows;
}

/*
 * Reads the input through the CSV reader, which parses on a thread of
 * its own while the rows are converted and stored on this one.
 */
static void
read_input(struct app *a, int fd)
{
	struct msb_csv_options opts = {
		.flags = MSB_CSV_HEADER, .on_header = on_header,
	};
	struct msb_csv *csv;
	int rc;

	if ((csv = msb_csv_new(&opts, on_row, a)) == NULL) {
		app_fail(a, EX_SOFTWARE, "out of memory");
		return;
	}
	rc = msb_csv_read_fd(csv, fd, on_progress);
	on_progress(0, a);
	/* A callback has said why already; otherwise the reader says. */
	if (rc != MSB_OK)
		app_fail(a, rc == MSB_TEMPFAIL ? EX_TEMPFAIL : EX_DATAERR,
		    "%s: %s", a->a_env.input_file, msb_csv_error(csv));
	if (a->a_exit == 0 && msb_csv_records(csv) == 0 &&
	    a->a_listing.li_nheader == 0)
		app_fail(a, EX_DATAERR, "%s: empty file: not a listings "
		    "export", a->a_env.input_file);
	msb_metrics_add(a->a_metrics, MSB_M_ERRORS, a->a_nrejected);
	msb_csv_free(csv);
}

/* Opens the input, which is read front to back (twice: the hash too). */
static int
open_input(struct app *a)
{
	const char *path = a->a_env.input_file;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return app_fail(a, EX_DATAERR, "%s: %s", path,
		    strerror(errno));
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return fd;
}

/* The summary for the ingest record: counts, reasons, and any error. */
static void
write_result(struct app *a)
{
	bson_t extra = BSON_INITIALIZER, by;
	bool ok = a->a_exit == 0;
	/* Committed, the counts hold even when the store took none. */
	bool counted = a->a_committed;

	BSON_APPEND_UTF8(&extra, "collection", COLLECTION);
	if (a->a_sink != NULL)
		BSON_APPEND_UTF8(&extra, "sink", msb_sink_kind(a->a_sink));
	BSON_APPEND_DOCUMENT_BEGIN(&extra, "rejected_by", &by);
	for (int i = LR_OK + 1; i < LR_NREASONS; i++)
		BSON_APPEND_INT64(&by, listing_reject_name(i),
		    counted ? (int64_t)a->a_rejected[i] : 0);
	bson_append_document_end(&extra, &by);
	if (!ok)
		BSON_APPEND_UTF8(&extra, "error", a->a_err);
	/* A run that failed before its commit stored nothing: zero rows,
	 * and why. */
	if (msb_result_write_sink(a->a_env.result_file, counted ? a->a_rows : 0,
	    counted ? a->a_nrejected : 0, counted ? a->a_sink : NULL,
	    &extra) != MSB_OK)
		fprintf(stderr, "acme-listings: result file %s: %s\n",
		    a->a_env.result_file, strerror(errno));
	bson_destroy(&extra);
}

/* Loads the input into the sink and commits it as one unit. */
static void
run(struct app *a)
{
	char why[1024];
	int fd, rc;

	if ((fd = open_input(a)) == -1)
		return;
	a->a_metrics = msb_metrics_open_env(&a->a_env);
	if (a->a_metrics == NULL)	/* reports are optional: go on */
		fprintf(stderr, "acme-listings: metrics: %s\n",
		    strerror(errno));
	rc = msb_sink_open_env(&a->a_sink, &a->a_env, COLLECTION, why,
	    sizeof(why));
	if (rc != MSB_OK) {
		app_fail(a, rc == MSB_TEMPFAIL ? EX_TEMPFAIL :
		    msb_exit_code(rc), "%s", why);
		close(fd);
		return;
	}
	if ((rc = msb_sink_hash_input(a->a_sink, fd)) != MSB_OK) {
		sink_fail(a, rc);
		close(fd);
		return;
	}
	read_input(a, fd);
	close(fd);
	/* The content hash names the unit: a rerun replaces it. */
	if (a->a_exit == 0 && (rc = msb_sink_input_hash(a->a_sink,
	    a->a_hash)) != MSB_OK)
		sink_fail(a, rc);
	if (a->a_exit == 0 && (rc = msb_sink_commit(a->a_sink, a->a_hash)) !=
	    MSB_OK)
		sink_fail(a, rc);
	else if (a->a_exit == 0)
		a->a_committed = true;
	if (a->a_committed && msb_sink_all_rejected(a->a_sink))
		app_fail(a, EX_DATAERR, "the store rejected every row: %s",
		    msb_sink_error(a->a_sink));
}

int
main(int argc, char **argv)
{
	struct app a = { 0 };

	if (argc > 1) {
		fprintf(stderr, "usage: acme-listings (the input and the sink "
		    "come from the environment; see docs/tenant-guide.md)\n");
		return EX_USAGE;
	}
	msb_init();
	if ((a.a_doc = msb_docbuild_new()) == NULL)
		app_fail(&a, EX_TEMPFAIL, "out of memory");
	else if (msb_env_load(&a.a_env, a.a_err, sizeof(a.a_err)) != MSB_OK)
		a.a_exit = EX_CONFIG;
	else {
		run(&a);
		write_result(&a);
	}
	if (a.a_exit == 0)
		printf("acme-listings: %s: %" PRIu64 " rows, %" PRIu64
		    " rejected; %s\n", a.a_env.input_file, a.a_rows,
		    a.a_nrejected, msb_sink_outcome(a.a_sink));
	else
		fprintf(stderr, "acme-listings: %s\n", a.a_err);
	msb_docbuild_free(a.a_doc);
	listing_free(&a.a_listing);
	msb_metrics_close(a.a_metrics);
	msb_sink_close(a.a_sink);
	msb_cleanup();
	return a.a_exit;
}
