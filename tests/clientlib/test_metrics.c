/*
 * Metric reports: with no monitor, reporting never waits and drops are
 * counted; with a PULL socket bound (as the monitor does) the JSON report
 * arrives with every figure counted, including those of dropped reports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mysimbdp.h>
#include <zmq.h>

#include "util.h"

#define HOUR_MS	(3600 * 1000)
#define HANG_MS	10000	/* x the time factor: what only a hang takes */
#define WAIT_MS	(5000 * tu_time_factor())	/* for what should come now */

struct fixture {
	char	*dir;
	char	*endpoint;	/* ipc://<dir>/metrics.sock */
	void	*ctx;
	void	*pull;		/* NULL until bound */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->dir = tu_mkdtemp("metrics");
	if (asprintf(&f->endpoint, "ipc://%s/metrics.sock", f->dir) == -1)
		return -1;
	f->ctx = zmq_ctx_new();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f->pull != NULL)
		zmq_close(f->pull);
	zmq_ctx_term(f->ctx);
	tu_rmtree(f->dir);
	free(f->endpoint);
	free(f->dir);
	free(f);
	return 0;
}

static void
bind_monitor(struct fixture *f)
{
	int linger = 0;

	f->pull = zmq_socket(f->ctx, ZMQ_PULL);
	assert_non_null(f->pull);
	zmq_setsockopt(f->pull, ZMQ_LINGER, &linger, sizeof(linger));
	assert_int_equal(zmq_bind(f->pull, f->endpoint), 0);
}

/* Receives one report within ms milliseconds, parsed; NULL if none. */
static bson_t *
receive(struct fixture *f, long ms)
{
	zmq_pollitem_t item = { .socket = f->pull, .events = ZMQ_POLLIN };
	char buf[4096];
	bson_error_t error;
	bson_t *doc;
	int n;

	if (zmq_poll(&item, 1, ms) <= 0)
		return NULL;
	n = zmq_recv(f->pull, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0 && n < (int)sizeof(buf));
	buf[n] = '\0';
	doc = bson_new_from_json((const uint8_t *)buf, n, &error);
	if (doc == NULL)
		fail_msg("not JSON: %s: %s", error.message, buf);
	return doc;
}

/*
 * Flushes until the monitor has a report: the connection to it is made
 * in the background, and reports sent before are dropped, not queued.
 */
static bson_t *
flush_until_received(struct fixture *f, struct msb_metrics *m)
{
	struct timespec pause = { 0, 10 * 1000000 };
	int64_t start = tu_now_ms();
	bson_t *doc;

	while (tu_now_ms() - start < WAIT_MS) {
		if (msb_metrics_flush(m) == MSB_OK) {
			/* Queued to a connected monitor: it arrives. */
			if ((doc = receive(f, WAIT_MS)) == NULL)
				fail_msg("a queued report did not arrive");
			return doc;
		}
		nanosleep(&pause, NULL);
	}
	fail_msg("never connected to the monitor");
	return NULL;
}

static int64_t
get_int(const bson_t *doc, const char *key)
{
	bson_iter_t it;

	if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_NUMBER(&it))
		fail_msg("report lacks %s", key);
	return bson_iter_as_int64(&it);
}

static const char *
get_str(const bson_t *doc, const char *key)
{
	bson_iter_t it;

	if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it))
		fail_msg("report lacks %s", key);
	return bson_iter_utf8(&it, NULL);
}

static void
no_monitor_never_blocks(void **state)
{
	struct fixture *f = *state;
	struct msb_metrics *m = msb_metrics_open(f->endpoint, "batch", "j1");
	uint64_t sent, dropped;
	int64_t start, took, hang = HANG_MS * tu_time_factor();

	/*
	 * A send that blocked would wait for ever (or the connect wait for
	 * each of the 1000), a close that lingered on reports queued to
	 * nobody for ever: only such a hang crosses `hang`, never a slow
	 * machine (these take milliseconds).
	 */
	assert_non_null(m);
	msb_metrics_add(m, MSB_M_ROWS, 10);
	start = tu_now_ms();
	assert_int_equal(msb_metrics_flush(m), MSB_TEMPFAIL);
	for (int i = 0; i < 999; i++)
		msb_metrics_flush(m);
	if ((took = tu_now_ms() - start) > hang)
		fail_msg("1000 flushes took %lld ms: they block",
		    (long long)took);
	msb_metrics_counts(m, &sent, &dropped);
	assert_int_equal(sent, 0);
	assert_int_equal(dropped, 1000);
	start = tu_now_ms();
	msb_metrics_close(m);
	if ((took = tu_now_ms() - start) > hang)
		fail_msg("close took %lld ms: it blocks", (long long)took);
}

static void
monitor_receives_the_report(void **state)
{
	struct fixture *f = *state;
	struct msb_metrics *m;
	bson_t *doc;
	uint64_t sent;

	bind_monitor(f);
	m = msb_metrics_open(f->endpoint, "batch", "job-42");
	assert_non_null(m);
	msb_metrics_set_interval(m, 0);
	msb_metrics_add(m, MSB_M_ROWS, 5);
	msb_metrics_add(m, MSB_M_BYTES, 100);
	msb_metrics_add(m, MSB_M_INGEST_US, 10);
	msb_metrics_add(m, MSB_M_INGEST_US, 30);
	msb_metrics_add(m, MSB_M_ERRORS, 1);
	msb_metrics_add(m, MSB_M_MESSAGES, 2);

	doc = flush_until_received(f, m);
	assert_int_equal(get_int(doc, "v"), 1);
	assert_string_equal(get_str(doc, "app"), "batch");
	assert_string_equal(get_str(doc, "instance"), "job-42");
	assert_true(get_int(doc, "window_ms") >= 0);
	/* Reports dropped while connecting carried their figures over. */
	assert_int_equal(get_int(doc, "rows"), 5);
	assert_int_equal(get_int(doc, "bytes"), 100);
	assert_int_equal(get_int(doc, "messages"), 2);
	assert_int_equal(get_int(doc, "ingest_us_sum"), 40);
	assert_int_equal(get_int(doc, "ingest_us_max"), 30);
	assert_int_equal(get_int(doc, "errors"), 1);
	bson_destroy(doc);
	msb_metrics_counts(m, &sent, NULL);
	assert_int_equal(sent, 1);

	/* A new window starts from zero. */
	msb_metrics_add(m, MSB_M_ROWS, 3);
	assert_int_equal(msb_metrics_flush(m), MSB_OK);
	doc = receive(f, WAIT_MS);
	assert_non_null(doc);
	assert_int_equal(get_int(doc, "rows"), 3);
	assert_int_equal(get_int(doc, "bytes"), 0);
	bson_destroy(doc);

	/* Closing sends the last figures. */
	msb_metrics_add(m, MSB_M_ROWS, 2);
	msb_metrics_close(m);
	doc = receive(f, WAIT_MS);
	assert_non_null(doc);
	assert_int_equal(get_int(doc, "rows"), 2);
	bson_destroy(doc);
}

/*
 * A handle reporting to the fixture's monitor on demand (interval 0), and
 * a file sink whose MYSIMBDP_QUALITY rules are has-id (field id required)
 * and range (price at most 500).
 */
static void
open_with_rules(struct fixture *f, const char *instance,
    struct msb_metrics **m, struct msb_sink **sink)
{
	char err[256], *url;

	setenv("MYSIMBDP_QUALITY", "{\"rules\":["
	    "{\"name\":\"has-id\",\"field\":\"id\",\"required\":true},"
	    "{\"name\":\"range\",\"field\":\"price\",\"max\":500}]}", 1);
	bind_monitor(f);
	*m = msb_metrics_open(f->endpoint, "batch", instance);
	assert_non_null(*m);
	msb_metrics_set_interval(*m, 0);
	assert_true(asprintf(&url, "file://%s/store", f->dir) != -1);
	if (msb_sink_open(sink, url, "t", "c", err, sizeof(err)) != MSB_OK)
		fail_msg("sink: %s", err);
	unsetenv("MYSIMBDP_QUALITY");
	free(url);
}

/*
 * With quality rules in the environment, the rows a sink refuses reach
 * the report of the process's handle, per rule, with no call of the
 * app's own; the next window starts from none.
 */
static void
report_counts_refusals_per_rule(void **state)
{
	struct fixture *f = *state;
	struct msb_metrics *m;
	struct msb_sink *sink;
	bson_iter_t it, q;
	bson_t *doc, *row;

	open_with_rules(f, "job-7", &m, &sink);
	const char *rows[] = { "{\"id\":1,\"price\":10}", "{\"price\":10}",
	    "{\"id\":2,\"price\":900}", "{\"id\":3,\"price\":901}" };
	for (size_t k = 0; k < 4; k++) {
		row = bson_new_from_json((const uint8_t *)rows[k], -1, NULL);
		assert_int_equal(msb_sink_add(sink, row), k == 0 ? MSB_OK :
		    MSB_BADDOC);
		bson_destroy(row);
	}
	doc = flush_until_received(f, m);
	assert_true(bson_iter_init_find(&it, doc, "quality"));
	assert_true(bson_iter_recurse(&it, &q));
	assert_true(bson_iter_find(&q, "has-id"));
	assert_int_equal(bson_iter_as_int64(&q), 1);
	assert_true(bson_iter_find(&q, "range"));
	assert_int_equal(bson_iter_as_int64(&q), 2);
	bson_destroy(doc);
	assert_int_equal(msb_metrics_flush(m), MSB_OK);
	doc = receive(f, WAIT_MS);
	assert_non_null(doc);
	assert_false(bson_iter_init_find(&it, doc, "quality"));
	bson_destroy(doc);
	msb_sink_close(sink);
	msb_metrics_close(m);
}

/*
 * The first report, flushed at once after open, is not dropped while the
 * connection to a listening monitor is being made; nor is a report only
 * sent by close (a batch app's one report at exit).
 */
static void
first_and_last_reports_arrive(void **state)
{
	struct fixture *f = *state;
	struct msb_metrics *m;
	bson_t *doc;

	bind_monitor(f);
	m = msb_metrics_open(f->endpoint, "batch", "first");
	assert_non_null(m);
	msb_metrics_add(m, MSB_M_ROWS, 7);
	assert_int_equal(msb_metrics_flush(m), MSB_OK);
	doc = receive(f, WAIT_MS);
	assert_non_null(doc);
	assert_int_equal(get_int(doc, "rows"), 7);
	bson_destroy(doc);
	msb_metrics_close(m);
	doc = receive(f, WAIT_MS);		/* close's report: nothing new */
	assert_non_null(doc);
	assert_int_equal(get_int(doc, "rows"), 0);
	bson_destroy(doc);

	m = msb_metrics_open(f->endpoint, "batch", "last");
	msb_metrics_add(m, MSB_M_ROWS, 9);
	msb_metrics_close(m);
	doc = receive(f, WAIT_MS);
	assert_non_null(doc);
	assert_string_equal(get_str(doc, "instance"), "last");
	assert_int_equal(get_int(doc, "rows"), 9);
	bson_destroy(doc);
}

static void
reports_go_out_every_interval(void **state)
{
	struct fixture *f = *state;
	struct msb_metrics *m;
	struct timespec pause = { 0, 30 * 1000000 };
	bson_t *doc;
	uint64_t sent = 0;

	bind_monitor(f);
	m = msb_metrics_open(f->endpoint, "stream", "i-3");
	doc = flush_until_received(f, m);	/* connected */
	bson_destroy(doc);
	/* An hour's interval has not passed: the add only counts. */
	msb_metrics_set_interval(m, HOUR_MS);
	msb_metrics_add(m, MSB_M_MESSAGES, 1);
	msb_metrics_counts(m, &sent, NULL);
	assert_int_equal(sent, 1);
	msb_metrics_set_interval(m, 20);
	nanosleep(&pause, NULL);
	msb_metrics_add(m, MSB_M_MESSAGES, 1);	/* the interval has passed */
	doc = receive(f, WAIT_MS);
	assert_non_null(doc);
	assert_string_equal(get_str(doc, "app"), "stream");
	assert_int_equal(get_int(doc, "messages"), 2);
	bson_destroy(doc);
	msb_metrics_counts(m, &sent, NULL);
	assert_int_equal(sent, 2);
	msb_metrics_close(m);
}

/*
 * A stream app's reports carry its tenant and stream, its instance id in
 * the monitor's charset; an idle app's tick sends an empty report once
 * the interval has passed, and nothing before.
 */
static void
stream_app_reports_name_tenant_and_stream(void **state)
{
	struct fixture *f = *state;
	struct msb_env env = { 0 };
	struct timespec pause = { 0, 30 * 1000000 };
	struct msb_metrics *m;
	uint64_t sent;
	bson_t *doc;

	bind_monitor(f);
	env.kind = MSB_APP_STREAM;
	env.tenant = "acme";
	env.stream = "ticks";
	env.instance = "ticks 1/é";
	env.metrics_endpoint = f->endpoint;
	m = msb_metrics_open_env(&env);
	assert_non_null(m);
	doc = flush_until_received(f, m);
	assert_string_equal(get_str(doc, "tenant"), "acme");
	assert_string_equal(get_str(doc, "app"), "stream");
	assert_string_equal(get_str(doc, "stream"), "ticks");
	assert_string_equal(get_str(doc, "instance"), "ticks_1___");
	bson_destroy(doc);

	/* An hour's interval has not passed: the tick sends nothing. */
	msb_metrics_set_interval(m, HOUR_MS);
	assert_int_equal(msb_metrics_tick(m), MSB_OK);
	msb_metrics_counts(m, &sent, NULL);
	assert_int_equal(sent, 1);
	msb_metrics_set_interval(m, 20);
	nanosleep(&pause, NULL);
	assert_int_equal(msb_metrics_tick(m), MSB_OK);
	doc = receive(f, WAIT_MS);
	assert_non_null(doc);
	assert_int_equal(get_int(doc, "messages"), 0);
	assert_true(get_int(doc, "window_ms") >= 20);
	bson_destroy(doc);
	msb_metrics_counts(m, &sent, NULL);
	assert_int_equal(sent, 2);
	msb_metrics_close(m);
}

static void
without_endpoint_or_handle(void **state)
{
	struct msb_metrics *m = msb_metrics_open(NULL, "batch", "j");
	uint64_t sent = 9, dropped = 9;

	assert_non_null(m);
	msb_metrics_add(m, MSB_M_ROWS, 1);
	assert_int_equal(msb_metrics_flush(m), MSB_OK);
	msb_metrics_counts(m, &sent, &dropped);
	assert_int_equal(sent, 0);
	assert_int_equal(dropped, 0);
	msb_metrics_close(m);

	/* A NULL handle is accepted everywhere. */
	msb_metrics_add(NULL, MSB_M_ROWS, 1);
	msb_metrics_set_interval(NULL, 5);
	assert_int_equal(msb_metrics_flush(NULL), MSB_OK);
	assert_int_equal(msb_metrics_tick(NULL), MSB_OK);
	msb_metrics_close(NULL);

	errno = 0;
	assert_null(msb_metrics_open("bogus://x", "batch", "j"));
	assert_int_not_equal(errno, 0);
}

/*
 * A report's "dropped" counts the reports lost since the one before it
 * (their figures are in it); msb_metrics_counts keeps the total.
 */
static void
dropped_counts_since_the_last_report(void **state)
{
	struct fixture *f = *state;
	struct msb_metrics *m = msb_metrics_open(f->endpoint, "batch", "j7");
	uint64_t dropped;
	int64_t first;
	bson_t *doc;

	assert_non_null(m);
	msb_metrics_set_interval(m, 0);
	assert_int_equal(msb_metrics_flush(m), MSB_TEMPFAIL);
	assert_int_equal(msb_metrics_flush(m), MSB_TEMPFAIL);
	bind_monitor(f);
	doc = flush_until_received(f, m);
	first = get_int(doc, "dropped");
	bson_destroy(doc);
	msb_metrics_counts(m, NULL, &dropped);
	assert_true(first >= 2);
	assert_int_equal(dropped, (uint64_t)first);
	assert_int_equal(msb_metrics_flush(m), MSB_OK);
	doc = receive(f, WAIT_MS);
	assert_non_null(doc);
	assert_int_equal(get_int(doc, "dropped"), 0);
	bson_destroy(doc);
	msb_metrics_counts(m, NULL, &dropped);
	assert_int_equal(dropped, (uint64_t)first);
	msb_metrics_close(m);
}

/*
 * With no monitor, the adds and ticks after the interval try one report,
 * not one each: a dropped report is tried again an interval later, its
 * figures kept, and "dropped" counts reports, not calls. An explicit
 * flush still tries at once; the report that reaches the monitor once
 * it is there carries every count, over the whole time they took.
 */
static void
absent_monitor_costs_a_report_an_interval(void **state)
{
	struct fixture *f = *state;
	struct timespec pause = { 0, 60 * 1000000 };
	struct msb_metrics *m = msb_metrics_open(f->endpoint, "batch", "j8");
	uint64_t sent, dropped, tries, after;
	int64_t start, took;
	bson_t *doc;

	assert_non_null(m);
	msb_metrics_set_interval(m, 50);
	nanosleep(&pause, NULL);		/* the interval passes */
	start = tu_now_ms();
	for (int i = 0; i < 10000; i++) {
		msb_metrics_add(m, MSB_M_ROWS, 1);
		if (i % 10 == 0)
			msb_metrics_tick(m);
	}
	took = tu_now_ms() - start;
	msb_metrics_counts(m, &sent, &dropped);
	assert_int_equal(sent, 0);
	/*
	 * The first add found the interval passed and tried; a try an
	 * interval at most follows, however long the loop took (no bound
	 * on its time: the bound grows with it).
	 */
	tries = 1 + (uint64_t)took / 50;
	if (dropped < 1 || dropped > tries)
		fail_msg("%llu reports dropped for 10000 adds in %lld ms: "
		    "at most %llu tries", (unsigned long long)dropped,
		    (long long)took, (unsigned long long)tries);
	assert_int_equal(msb_metrics_flush(m), MSB_TEMPFAIL);
	msb_metrics_counts(m, NULL, &after);
	assert_int_equal(after, dropped + 1);

	bind_monitor(f);
	doc = flush_until_received(f, m);
	msb_metrics_counts(m, &sent, &dropped);
	assert_int_equal(sent, 1);
	assert_int_equal(get_int(doc, "rows"), 10000);
	assert_int_equal(get_int(doc, "dropped"), (int64_t)dropped);
	assert_true(get_int(doc, "window_ms") >= 60);
	bson_destroy(doc);
	msb_metrics_close(m);
	bson_destroy(receive(f, WAIT_MS));	/* close's report */
}

/*
 * nrules rules r01.. each requiring its own field, and a row per rule
 * missing only that field: one refusal per rule. Returns the report.
 */
static bson_t *
report_of_rules(struct fixture *f, int nrules)
{
	char json[4096], err[256], *url;
	struct msb_metrics *m;
	struct msb_sink *sink;
	size_t n = 0;
	bson_t *doc;

	n += (size_t)snprintf(json + n, sizeof(json) - n, "{\"rules\":[");
	for (int k = 1; k <= nrules; k++)
		n += (size_t)snprintf(json + n, sizeof(json) - n,
		    "%s{\"name\":\"r%02d\",\"field\":\"f%02d\","
		    "\"required\":true}", k > 1 ? "," : "", k, k);
	snprintf(json + n, sizeof(json) - n, "]}");
	setenv("MYSIMBDP_QUALITY", json, 1);
	m = msb_metrics_open(f->endpoint, "batch", "job-8");
	assert_non_null(m);
	msb_metrics_set_interval(m, 0);
	assert_true(asprintf(&url, "file://%s/store%d", f->dir, nrules) !=
	    -1);
	if (msb_sink_open(&sink, url, "t", "c", err, sizeof(err)) != MSB_OK)
		fail_msg("sink: %s", err);
	unsetenv("MYSIMBDP_QUALITY");
	for (int miss = 1; miss <= nrules; miss++) {
		bson_t row = BSON_INITIALIZER;

		for (int k = 1; k <= nrules; k++) {
			char key[8];

			snprintf(key, sizeof(key), "f%02d", k);
			if (k != miss)
				BSON_APPEND_INT32(&row, key, k);
		}
		assert_int_equal(msb_sink_add(sink, &row), MSB_BADDOC);
		bson_destroy(&row);
	}
	doc = flush_until_received(f, m);
	msb_sink_close(sink);
	msb_metrics_close(m);
	/* Closing sent the last (empty) figures: not the next test's. */
	bson_destroy(receive(f, WAIT_MS));
	free(url);
	return doc;
}

/* The names in a report's "quality", comma-joined, with their counts. */
static void
quality_names(const bson_t *doc, char *out, size_t len)
{
	bson_iter_t it, q;
	size_t n = 0;

	out[0] = '\0';
	assert_true(bson_iter_init_find(&it, doc, "quality"));
	assert_true(bson_iter_recurse(&it, &q));
	while (bson_iter_next(&q))
		n += (size_t)snprintf(out + n, len - n, "%s%s=%lld",
		    n > 0 ? "," : "", bson_iter_key(&q),
		    (long long)bson_iter_as_int64(&q));
}

/* Adds each row to the sink: every one is refused by a quality rule. */
static void
add_refused(struct msb_sink *sink, const char **rows, size_t n)
{
	bson_t *row;

	for (size_t k = 0; k < n; k++) {
		row = bson_new_from_json((const uint8_t *)rows[k], -1, NULL);
		assert_non_null(row);
		assert_int_equal(msb_sink_add(sink, row), MSB_BADDOC);
		bson_destroy(row);
	}
}

/*
 * Each report counts only its own window's refusals, over several
 * windows, and a rule that takes another's place in a report (range
 * first in the third window, where has-id was first) starts from none.
 */
static void
quality_counts_are_per_window(void **state)
{
	struct fixture *f = *state;
	static const char *noid[] = { "{\"price\":10}" };
	static const char *dear[] = { "{\"id\":1,\"price\":900}",
	    "{\"id\":2,\"price\":901}" };
	struct { const char **rows; size_t n; const char *names; } w[] = {
		{ noid, 1, "has-id=1" },
		{ noid, 1, "has-id=1" },
		{ dear, 1, "range=1" },
		{ dear, 2, "range=2" },
		{ noid, 1, "has-id=1" },
	};
	struct msb_metrics *m;
	struct msb_sink *sink;
	char names[256];
	bson_iter_t it;
	bson_t *doc;

	open_with_rules(f, "job-9", &m, &sink);
	/* The first window has both rules, has-id first. */
	add_refused(sink, noid, 1);
	add_refused(sink, dear, 2);
	doc = flush_until_received(f, m);
	quality_names(doc, names, sizeof(names));
	assert_string_equal(names, "has-id=1,range=2");
	bson_destroy(doc);
	for (size_t k = 0; k < sizeof(w) / sizeof(w[0]); k++) {
		add_refused(sink, w[k].rows, w[k].n);
		assert_int_equal(msb_metrics_flush(m), MSB_OK);
		doc = receive(f, WAIT_MS);
		assert_non_null(doc);
		quality_names(doc, names, sizeof(names));
		if (strcmp(names, w[k].names) != 0)
			fail_msg("window %zu: %s, not %s", k + 2, names,
			    w[k].names);
		bson_destroy(doc);
	}
	/* Then both again, range first: has-id takes range's old place. */
	add_refused(sink, dear, 1);
	add_refused(sink, noid, 1);
	assert_int_equal(msb_metrics_flush(m), MSB_OK);
	doc = receive(f, WAIT_MS);
	assert_non_null(doc);
	quality_names(doc, names, sizeof(names));
	assert_string_equal(names, "range=1,has-id=1");
	bson_destroy(doc);
	/* A window with no refusal names no rule. */
	assert_int_equal(msb_metrics_flush(m), MSB_OK);
	doc = receive(f, WAIT_MS);
	assert_non_null(doc);
	assert_false(bson_iter_init_find(&it, doc, "quality"));
	bson_destroy(doc);
	msb_sink_close(sink);
	msb_metrics_close(m);
	bson_destroy(receive(f, WAIT_MS));	/* close's report */
}

/* A report names 16 rules; past 16, the 16th and later are "other". */
static void
rules_past_sixteen_go_under_other(void **state)
{
	struct fixture *f = *state;
	char names[1024];
	bson_t *doc;

	bind_monitor(f);
	doc = report_of_rules(f, 16);
	quality_names(doc, names, sizeof(names));
	assert_string_equal(names, "r01=1,r02=1,r03=1,r04=1,r05=1,r06=1,"
	    "r07=1,r08=1,r09=1,r10=1,r11=1,r12=1,r13=1,r14=1,r15=1,r16=1");
	bson_destroy(doc);
	doc = report_of_rules(f, 18);
	quality_names(doc, names, sizeof(names));
	assert_string_equal(names, "r01=1,r02=1,r03=1,r04=1,r05=1,r06=1,"
	    "r07=1,r08=1,r09=1,r10=1,r11=1,r12=1,r13=1,r14=1,r15=1,"
	    "other=3");
	bson_destroy(doc);
}

/*
 * The rows of a race: RACE_RULES rules r01.. each requiring its own
 * field, past the 16 a report names, so refusals go under "other" too.
 */
#define RACE_RULES	18
#define RACE_ROUNDS	2000	/* a refused row per rule each */

struct racer {
	struct msb_sink	*sink;
	int		 refused;
};

/* Refuses RACE_ROUNDS rows per rule through the racer's own sink. */
static void *
refuse_rows(void *arg)
{
	struct racer *r = arg;
	bson_t rows[RACE_RULES];

	for (int miss = 0; miss < RACE_RULES; miss++) {
		bson_init(&rows[miss]);
		for (int k = 0; k < RACE_RULES; k++) {
			char key[8];

			snprintf(key, sizeof(key), "f%02d", k + 1);
			if (k != miss)
				BSON_APPEND_INT32(&rows[miss], key, k);
		}
	}
	for (int round = 0; round < RACE_ROUNDS; round++)
		for (int miss = 0; miss < RACE_RULES; miss++)
			if (msb_sink_add(r->sink, &rows[miss]) == MSB_BADDOC)
				r->refused++;
	for (int miss = 0; miss < RACE_RULES; miss++)
		bson_destroy(&rows[miss]);
	return NULL;
}

struct flusher {
	struct msb_metrics	*m;
	int			 stop;	/* __atomic */
};

/*
 * Flushes and ticks until told to stop: each report resets the counts.
 * A pause between rounds: back to back, this thread held the handle's
 * lock nearly all the time and took it again at each unlock, before a
 * sink's thread woken for it could run; each refusal then cost a sink
 * a few wake-ups, which on a loaded machine take milliseconds (the
 * test timed out after 180 s in scripts/test).
 */
static void *
flush_reports(void *arg)
{
	const struct timespec pause = { 0, 20 * 1000 };
	struct flusher *fl = arg;

	while (!__atomic_load_n(&fl->stop, __ATOMIC_ACQUIRE)) {
		msb_metrics_flush(fl->m);
		msb_metrics_tick(fl->m);
		nanosleep(&pause, NULL);
	}
	return NULL;
}

/* The refusals a report counts, all rules together. */
static int64_t
quality_total(const bson_t *doc)
{
	bson_iter_t it, q;
	int64_t n = 0;
	int names = 0;

	if (!bson_iter_init_find(&it, doc, "quality"))
		return 0;
	assert_true(bson_iter_recurse(&it, &q));
	while (bson_iter_next(&q)) {
		n += bson_iter_as_int64(&q);
		names++;
	}
	assert_true(names >= 1 && names <= 16);
	return n;
}

/*
 * The sinks count their refusals into the process's handle: two sinks
 * on two threads refusing rows at once while a third thread flushes
 * lose none of them, and the handle's 16 rule slots hold (the monitor
 * receives every refusal once).
 */
static void
refusals_from_threads_all_reported(void **state)
{
	struct fixture *f = *state;
	struct racer r[2] = { 0 };
	struct flusher fl = { 0 };
	pthread_t tr[2], tf;
	char json[4096], err[256], *url;
	uint64_t sent, received;
	int64_t total, start;
	size_t n = 0;
	bson_t *doc;
	int rc;

	n += (size_t)snprintf(json + n, sizeof(json) - n, "{\"rules\":[");
	for (int k = 1; k <= RACE_RULES; k++)
		n += (size_t)snprintf(json + n, sizeof(json) - n,
		    "%s{\"name\":\"r%02d\",\"field\":\"f%02d\","
		    "\"required\":true}", k > 1 ? "," : "", k, k);
	snprintf(json + n, sizeof(json) - n, "]}");
	setenv("MYSIMBDP_QUALITY", json, 1);
	bind_monitor(f);
	fl.m = msb_metrics_open(f->endpoint, "batch", "race");
	assert_non_null(fl.m);
	msb_metrics_set_interval(fl.m, 0);
	for (int i = 0; i < 2; i++) {
		assert_true(asprintf(&url, "file://%s/store%d", f->dir, i) !=
		    -1);
		if (msb_sink_open(&r[i].sink, url, "t", "c", err,
		    sizeof(err)) != MSB_OK)
			fail_msg("sink: %s", err);
		free(url);
	}
	unsetenv("MYSIMBDP_QUALITY");
	doc = flush_until_received(f, fl.m);	/* connected */
	bson_destroy(doc);
	received = 1;
	total = 0;

	assert_int_equal(pthread_create(&tf, NULL, flush_reports, &fl), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&tr[i], NULL, refuse_rows,
		    &r[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(tr[i], NULL);
	__atomic_store_n(&fl.stop, 1, __ATOMIC_RELEASE);
	pthread_join(tf, NULL);

	/*
	 * The last figures, once the queue to the monitor has room. A
	 * failed flush does not mean a report is still to come: libzmq
	 * hands the queue's room back to the socket as a command it reads
	 * at most once a millisecond or so, so a flush can fail after the
	 * last report sent has arrived (waiting for one more then failed
	 * the test after 5 s). Retry, taking what arrives meanwhile.
	 */
	start = tu_now_ms();
	while ((rc = msb_metrics_flush(fl.m)) != MSB_OK) {
		assert_int_equal(rc, MSB_TEMPFAIL);
		if (tu_now_ms() - start > WAIT_MS)
			fail_msg("the last report never goes");
		if ((doc = receive(f, 1)) == NULL)
			continue;
		total += quality_total(doc);
		received++;
		bson_destroy(doc);
	}
	msb_metrics_counts(fl.m, &sent, NULL);
	while (received < sent) {
		if ((doc = receive(f, WAIT_MS)) == NULL)
			fail_msg("%llu of %llu reports arrived",
			    (unsigned long long)received,
			    (unsigned long long)sent);
		total += quality_total(doc);
		received++;
		bson_destroy(doc);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(r[i].refused, RACE_ROUNDS * RACE_RULES);
		msb_sink_close(r[i].sink);
	}
	if (total != 2 * RACE_ROUNDS * RACE_RULES)
		fail_msg("reports counted %lld refusals of %d",
		    (long long)total, 2 * RACE_ROUNDS * RACE_RULES);
	msb_metrics_close(fl.m);
	bson_destroy(receive(f, WAIT_MS));	/* close's report */
}

/* Instance ids of up to 80 characters (the monitor's limit) go whole. */
static void
instance_ids_up_to_80(void **state)
{
	struct fixture *f = *state;
	char id[100];
	struct msb_metrics *m;
	bson_t *doc;

	memset(id, 'i', 81);
	id[81] = '\0';
	bind_monitor(f);
	m = msb_metrics_open(f->endpoint, "stream", id);
	assert_non_null(m);
	doc = flush_until_received(f, m);
	id[80] = '\0';
	assert_string_equal(get_str(doc, "instance"), id);
	bson_destroy(doc);
	msb_metrics_close(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(no_monitor_never_blocks, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(report_counts_refusals_per_rule,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(monitor_receives_the_report,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(first_and_last_reports_arrive,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(reports_go_out_every_interval,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    stream_app_reports_name_tenant_and_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    dropped_counts_since_the_last_report, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    absent_monitor_costs_a_report_an_interval, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    rules_past_sixteen_go_under_other, setup, teardown),
		cmocka_unit_test_setup_teardown(quality_counts_are_per_window,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    refusals_from_threads_all_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(instance_ids_up_to_80, setup,
		    teardown),
		cmocka_unit_test(without_endpoint_or_handle),
	};
	int rc;

	if (msb_init() != MSB_OK)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	msb_cleanup();
	return rc;
}
