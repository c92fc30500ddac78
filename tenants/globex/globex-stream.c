/*
 * globex-stream: globex's stream app. Each message is one case report, a
 * CSV line of the EU dataset's columns (report.h); it is upserted into
 * the collection "cases_live" keyed by country and day ("AT:2020-03-07"),
 * so a corrected report replaces the earlier one. (Not "cases": the
 * batch app's documents there have ids from file content.)
 *
 * The loop is acme-stream's: receive until a batch is full or none is
 * waiting, upsert, commit, then ack the batch (at least once: a message
 * may come again, and its upsert changes nothing); a report that can
 * never be stored is rejected at once, with the reason, to the dead
 * letters; sink unavailable: the batch is nacked and the app exits 75.
 *
 * Exit status: 0 stopped (SIGTERM); 75 sink unavailable; 125 the
 * environment or the sink's settings are wrong (a restart cannot help);
 * 1 another failure.
 */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <sysexits.h>

#include <mysimbdp.h>

#include "report.h"

#define COLLECTION "cases_live"
#define BATCH 256		/* messages per commit, and the credit */
#define WHY_MAX 256		/* a store's reason, as dead letters keep it */
#define IDLE_MS 1000		/* wait for a first message, then report */

#define EX_FAILED 1
#define EX_PERMANENT 125

struct app {
	struct msb_env		 a_env;
	struct msb_stream	*a_stream;
	struct msb_sink		*a_sink;
	struct msb_metrics	*a_metrics;
	bson_t			 a_doc;

	/* The batch: upserted, to ack once committed. */
	uint64_t		 a_ids[BATCH];
	size_t			 a_n;
	/* The store refused a_ids[k]'s document: why, or "". */
	char			 a_why[BATCH][WHY_MAX];
	uint64_t		 a_seq0;	/* the sink's number of a_ids[0]'s */
	uint64_t		 a_msgs;	/* received, rejected ones too */
	uint64_t		 a_bytes;
	uint64_t		 a_rejected;
	int64_t			 a_start_us;
};

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
reject(struct app *a, uint64_t id, const char *why)
{
	a->a_rejected++;
	fprintf(stderr, "globex-stream: message %" PRIu64 " rejected: %s\n",
	    id, why);
	if (msb_stream_reject(a->a_stream, id, why) != MSB_OK)
		fprintf(stderr, "globex-stream: reject %" PRIu64 ": %s\n", id,
		    msb_stream_error(a->a_stream));
}

/* The store refused the document of a message of the batch (the sink
 * calls this during an upsert or the commit): it goes to the dead
 * letters with the store's reason instead of being acked. */
static void
on_reject(void *arg, uint64_t seq, const char *reason)
{
	struct app *a = arg;
	uint64_t k = seq - a->a_seq0;

	/* k == a_n: the message being upserted, not yet in a_ids. */
	if (seq < a->a_seq0 || k > a->a_n || k >= BATCH)
		return;
	snprintf(a->a_why[k], sizeof(a->a_why[k]), "%s", reason);
}

/* Adds one message to the batch; returns MSB_OK or the sink's failure. */
static int
handle(struct app *a, const struct msb_message *msg)
{
	char why[512];
	int rc;

	if (a->a_msgs++ == 0)
		a->a_start_us = now_us();
	a->a_bytes += msg->len;
	if (report_to_doc(msg->data, msg->len, &a->a_doc, why,
	    sizeof(why)) == -1) {
		reject(a, msg->id, why);
		return MSB_OK;
	}
	if (a->a_n == 0) {
		struct msb_sink_stats st;

		msb_sink_stats(a->a_sink, &st);
		a->a_seq0 = st.added;
	}
	rc = msb_sink_upsert(a->a_sink, &a->a_doc);
	if (rc == MSB_BADDOC) {
		reject(a, msg->id, msb_sink_error(a->a_sink));
		return MSB_OK;
	}
	a->a_ids[a->a_n++] = msg->id;	/* acked or nacked with the batch */
	return rc;
}

/* Commits, then acks the batch; nacks it when the sink failed. */
static int
end_batch(struct app *a, int rc)
{
	const char *ack_err = NULL;
	uint64_t stored = a->a_n;

	if (rc == MSB_OK)
		rc = msb_sink_commit(a->a_sink, NULL);
	for (size_t i = 0; i < a->a_n; i++) {
		int arc = MSB_OK;

		if (rc == MSB_OK && a->a_why[i][0] != '\0') {
			reject(a, a->a_ids[i], a->a_why[i]);
			stored--;
		} else if (rc == MSB_OK)
			arc = msb_stream_ack(a->a_stream, a->a_ids[i]);
		else
			arc = msb_stream_nack(a->a_stream, a->a_ids[i],
			    msb_sink_error(a->a_sink));
		if (arc != MSB_OK)
			ack_err = msb_stream_error(a->a_stream);
		a->a_why[i][0] = '\0';
	}
	if (msb_stream_flush(a->a_stream) != MSB_OK)
		ack_err = msb_stream_error(a->a_stream);
	if (ack_err != NULL)	/* the messages come again: nothing lost */
		fprintf(stderr, "globex-stream: acks: %s\n", ack_err);
	if (a->a_msgs > 0) {
		msb_metrics_add(a->a_metrics, MSB_M_MESSAGES, a->a_msgs);
		msb_metrics_add(a->a_metrics, MSB_M_BYTES, a->a_bytes);
		msb_metrics_add(a->a_metrics, MSB_M_ERRORS, a->a_rejected);
		if (rc == MSB_OK) {
			msb_metrics_add(a->a_metrics, MSB_M_ROWS, stored);
			msb_metrics_add(a->a_metrics, MSB_M_INGEST_US,
			    (uint64_t)(now_us() - a->a_start_us));
		}
	}
	a->a_n = 0;
	a->a_msgs = a->a_bytes = a->a_rejected = 0;
	return rc;
}

static int
run(struct app *a)
{
	struct msb_message msg;
	int rc, sink_rc;

	for (;;) {
		rc = msb_stream_recv(a->a_stream, &msg, a->a_msgs == 0 ?
		    IDLE_MS : 0);
		if (rc == MSB_OK) {
			sink_rc = handle(a, &msg);
			if (sink_rc == MSB_OK && a->a_n < BATCH)
				continue;
		} else if (rc == MSB_TEMPFAIL && a->a_msgs == 0) {
			msb_metrics_flush(a->a_metrics);
			continue;
		} else
			sink_rc = MSB_OK;	/* commit what was received */
		if ((sink_rc = end_batch(a, sink_rc)) != MSB_OK) {
			fprintf(stderr, "globex-stream: %s\n",
			    msb_sink_error(a->a_sink));
			return sink_rc == MSB_TEMPFAIL ? EX_TEMPFAIL :
			    EX_FAILED;
		}
		if (rc == MSB_STOPPED)
			return 0;
		if (rc == MSB_ERROR) {
			fprintf(stderr, "globex-stream: stream: %s\n",
			    msb_stream_error(a->a_stream));
			return EX_FAILED;
		}
	}
}

int
main(int argc, char **argv)
{
	struct app a = { 0 };
	char err[1024];
	int rc, status = EX_PERMANENT;

	if (argc > 1) {
		fprintf(stderr, "usage: globex-stream (everything comes from "
		    "the environment; see docs/tenant-guide.md)\n");
		return EX_PERMANENT;
	}
	msb_init();
	bson_init(&a.a_doc);
	if (msb_env_load(&a.a_env, err, sizeof(err)) != MSB_OK) {
		fprintf(stderr, "globex-stream: %s\n", err);
		goto out;
	}
	if ((rc = msb_sink_open_env(&a.a_sink, &a.a_env, COLLECTION, err,
	    sizeof(err))) != MSB_OK) {
		fprintf(stderr, "globex-stream: %s\n", err);
		status = rc == MSB_TEMPFAIL ? EX_TEMPFAIL : EX_PERMANENT;
		goto out;
	}
	msb_sink_on_reject(a.a_sink, on_reject, &a);
	if ((a.a_metrics = msb_metrics_open_env(&a.a_env)) == NULL)
		perror("globex-stream: metrics (going on without)");
	if (msb_stream_open_env(&a.a_stream, &a.a_env, BATCH, err,
	    sizeof(err)) != MSB_OK) {
		fprintf(stderr, "globex-stream: %s\n", err);
		status = EX_FAILED;
		goto out;
	}
	status = run(&a);
out:
	msb_stream_close(a.a_stream);
	msb_metrics_close(a.a_metrics);
	msb_sink_close(a.a_sink);
	bson_destroy(&a.a_doc);
	msb_cleanup();
	return status;
}
