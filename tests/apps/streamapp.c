/*
 * streamapp: a stream app for the integration tests, built on libmysimbdp
 * as a tenant's would be.
 *
 * Each message is "KEY VALUE..." (text). It upserts
 *   {_id: KEY, value: VALUE, tenant: MYSIMBDP_TENANT, instance: ...}
 * into the collection "events" (or the one -C names) of the tenant's
 * store, commits after each batch (what arrived without waiting, at most
 * 100) and acks the batch after the commit. A message without a space is
 * rejected.
 *
 * It reports to the monitor (ZMQ_METRICS_ENDPOINT) through libmysimbdp:
 * per batch the messages, rows and the time from its first message to
 * its commit, and an empty report every interval while idle.
 *
 * usage: streamapp [-C collection] [-c credit] [-d delay_us] [-H]
 *                  [-k crash_after] [-L] [-n] [-P file] [-x exit]
 *                  [-r report_ms]
 *   -C  the collection to upsert into (default "events"): two
 *       subscriptions of one stream writing to the same tenant store
 *   -d  sleep this long per message (a slow instance)
 *   -r  report interval in milliseconds (default 1000)
 *   -k  after receiving this many messages, SIGKILL itself before acking
 *   -x  exit at once with this status (a crash-looping app)
 *   -H  hold every message: take the credit, never ack nor nack (a
 *       misbehaving app; only ack_timeout gets the messages back)
 *   -L  linger: say BYE at once and, once streammgr answered, hang for
 *       ever without closing the stream (SIGTERM only asks it to stop,
 *       which it no longer hears): an app stuck on its sink after BYE
 *   -n  nack every message (to reach max_deliveries)
 *   -P  nack every message while this file exists (a downstream outage
 *       that the test ends by removing the file)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mysimbdp.h>

#define BATCH 100
#define WAIT_MS 100	/* longest wait for a message: then a report is due */

struct opts {
	uint32_t	 credit;
	long		 delay_us;
	long		 crash_after;
	bool		 nack;
	bool		 hold;
	bool		 linger;
	const char	*nack_while;
	uint32_t	 report_ms;
	const char	*collection;
};

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
pause_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0)
		;
}

/* Adds one message to the sink; 0, or -1 when the message is bad. */
static int
upsert(struct msb_sink *sink, const struct msb_env *env,
    const struct msb_message *msg)
{
	const char *data = msg->data, *space = memchr(data, ' ', msg->len);
	bson_t doc = BSON_INITIALIZER;
	int rc;

	if (space == NULL || space == data)
		return -1;
	bson_append_utf8(&doc, "_id", 3, data, (int)(space - data));
	bson_append_utf8(&doc, "value", 5, space + 1,
	    (int)(msg->len - (size_t)(space + 1 - data)));
	BSON_APPEND_UTF8(&doc, "tenant", env->tenant);
	BSON_APPEND_UTF8(&doc, "instance", env->instance);
	rc = msb_sink_upsert(sink, &doc);
	bson_destroy(&doc);
	return rc == MSB_OK ? 0 : -1;
}

/* -L: BYE, then never exit; SIGTERM still goes to libmysimbdp's handler
 * while the stream is open, so only SIGKILL ends it. */
static void
linger(struct msb_stream *st)
{
	struct msb_message msg;
	int rc;

	msb_stream_stop(st);
	while ((rc = msb_stream_recv(st, &msg, WAIT_MS)) == MSB_OK ||
	    rc == MSB_TEMPFAIL)
		;
	fprintf(stderr, "streamapp: said BYE; lingering\n");
	for (;;)
		pause();
}

static int
run(const struct opts *o, const struct msb_env *env, struct msb_sink *sink,
    struct msb_stream *st, struct msb_metrics *mx)
{
	uint64_t ids[BATCH];
	long seen = 0;

	for (;;) {
		struct msb_message msg;
		size_t n = 0, got = 0;
		int rc = msb_stream_recv(st, &msg, WAIT_MS);
		int64_t start = now_us();

		if (rc == MSB_TEMPFAIL)
			msb_metrics_tick(mx);
		while (rc == MSB_OK) {
			got++;
			if (o->crash_after && ++seen >= o->crash_after)
				raise(SIGKILL);
			if (o->delay_us)
				pause_us(o->delay_us);
			if (o->hold)
				;	/* neither ack nor nack: it stays ours */
			else if (o->nack || (o->nack_while &&
			    access(o->nack_while, F_OK) == 0))
				msb_stream_nack(st, msg.id, "told to");
			else if (upsert(sink, env, &msg) < 0)
				msb_stream_reject(st, msg.id, "no space in "
				    "message");
			else
				ids[n++] = msg.id;
			if (n == BATCH)
				break;
			rc = msb_stream_recv(st, &msg, 0);
		}
		if (n > 0) {
			int crc = msb_sink_commit(sink, NULL);

			if (crc != MSB_OK) {
				fprintf(stderr, "streamapp: commit: %s\n",
				    msb_sink_error(sink));
				return msb_exit_code(crc);
			}
			for (size_t k = 0; k < n; k++)
				msb_stream_ack(st, ids[k]);
			msb_metrics_add(mx, MSB_M_ROWS, n);
		}
		if (got > 0) {
			msb_metrics_add(mx, MSB_M_ERRORS, got - n);
			msb_metrics_add(mx, MSB_M_INGEST_US,
			    (uint64_t)(now_us() - start));
			msb_metrics_add(mx, MSB_M_MESSAGES, got);
		}
		if (rc == MSB_STOPPED)
			return 0;
		if (rc != MSB_OK && rc != MSB_TEMPFAIL)
			return msb_exit_code(rc);
	}
}

int
main(int argc, char *argv[])
{
	struct opts o = { 0 };
	struct msb_env env;
	struct msb_sink *sink = NULL;
	struct msb_stream *st = NULL;
	struct msb_metrics *mx;
	char err[512];
	int ch, rc;

	o.report_ms = 1000;
	o.collection = "events";
	while ((ch = getopt(argc, argv, "C:c:d:Hk:LnP:r:x:")) != -1) {
		switch (ch) {
		case 'C': o.collection = optarg; break;
		case 'c': o.credit = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'd': o.delay_us = strtol(optarg, NULL, 10); break;
		case 'H': o.hold = true; break;
		case 'k': o.crash_after = strtol(optarg, NULL, 10); break;
		case 'L': o.linger = true; break;
		case 'n': o.nack = true; break;
		case 'P': o.nack_while = optarg; break;
		case 'r': o.report_ms = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'x': return atoi(optarg);
		default:
			fprintf(stderr, "usage: streamapp [-C collection] "
			    "[-c credit] [-d us] [-H] [-k n] [-L] [-n] [-P file] "
			    "[-r ms] [-x status]\n");
			return 64;
		}
	}
	msb_init();
	if (msb_env_load(&env, err, sizeof(err)) != MSB_OK) {
		fprintf(stderr, "streamapp: %s\n", err);
		return 78;
	}
	if ((rc = msb_sink_open_env(&sink, &env, o.collection, err,
	    sizeof(err))) != MSB_OK ||
	    (rc = msb_stream_open_env(&st, &env, o.credit, err,
	    sizeof(err))) != MSB_OK) {
		fprintf(stderr, "streamapp: %s\n", err);
		msb_sink_close(sink);
		msb_cleanup();
		return msb_exit_code(rc);
	}
	if (o.linger)
		linger(st);
	/* Reports are optional: without them the app goes on. */
	if ((mx = msb_metrics_open_env(&env)) == NULL)
		perror("streamapp: metrics");
	msb_metrics_set_interval(mx, o.report_ms);
	rc = run(&o, &env, sink, st, mx);
	msb_metrics_close(mx);
	msb_stream_close(st);
	msb_sink_close(sink);
	msb_cleanup();
	return rc;
}
