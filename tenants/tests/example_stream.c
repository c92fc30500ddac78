/*
 * example-stream: the stream app of docs/tenant-guide.md ("Writing a
 * stream app"), built and run by t_stream_apps.sh so the guide's code
 * stays true. It upserts each message, a JSON object with an "_id", into
 * the collection "events": commit, then ack (at least once); a message
 * whose document the store refused goes to the dead letters instead.
 */
#include <stdio.h>

#include <mysimbdp.h>

#define BATCH 256

/* The batch: upserted, to ack once committed. */
struct batch {
	uint64_t	ids[BATCH];
	char		why[BATCH][256];	/* the store refused ids[k]'s */
	size_t		n;
	uint64_t	seq0;		/* the sink's number of ids[0]'s */
};

/* The store refused a document (the sink calls this during an upsert or
 * the commit): its message goes to the dead letters, never acked. */
static void
on_reject(void *arg, uint64_t seq, const char *reason)
{
	struct batch *b = arg;

	/* seq - seq0 == n: the message being upserted, not yet in ids. */
	if (seq >= b->seq0 && seq - b->seq0 <= b->n && seq - b->seq0 < BATCH)
		snprintf(b->why[seq - b->seq0], sizeof(b->why[0]), "%s",
		    reason);
}

/* Commits the batch, then acks it (or rejects what the store refused);
 * or gives it back. Returns the sink's. */
static int
end_batch(struct msb_sink *sink, struct msb_stream *st, struct batch *b,
    int rc)
{
	if (rc == MSB_OK)
		rc = msb_sink_commit(sink, NULL);
	for (size_t i = 0; i < b->n; i++) {
		if (rc != MSB_OK)
			msb_stream_nack(st, b->ids[i], msb_sink_error(sink));
		else if (b->why[i][0] != '\0')
			msb_stream_reject(st, b->ids[i], b->why[i]);
		else
			msb_stream_ack(st, b->ids[i]);
		b->why[i][0] = '\0';
	}
	msb_stream_flush(st);
	b->n = 0;
	return rc;
}

int
main(void)
{
	struct msb_env env;
	struct msb_sink *sink = NULL;
	struct msb_stream *st = NULL;
	struct msb_message msg;
	static struct batch b;
	char err[512] = "";
	int rc, src = MSB_OK, status = 125;

	msb_init();
	if (msb_env_load(&env, err, sizeof(err)) != MSB_OK)
		goto out;		/* 125: a restart cannot help */
	rc = msb_sink_open_env(&sink, &env, "events", err, sizeof(err));
	if (rc != MSB_OK) {
		status = rc == MSB_TEMPFAIL ? 75 : 125;
		goto out;
	}
	msb_sink_on_reject(sink, on_reject, &b);
	if (msb_stream_open_env(&st, &env, BATCH, err, sizeof(err)) != MSB_OK) {
		status = 1;
		goto out;
	}
	for (;;) {
		/* Wait for a first message, then take what is waiting. */
		rc = msb_stream_recv(st, &msg, b.n == 0 ? 1000 : 0);
		if (rc == MSB_OK) {
			bson_error_t e;
			bson_t *doc = bson_new_from_json(msg.data,
			    (ssize_t)msg.len, &e);

			if (doc == NULL) {	/* never good: dead letters */
				msb_stream_reject(st, msg.id, e.message);
				continue;
			}
			if (b.n == 0) {	/* the sink numbers documents */
				struct msb_sink_stats ss;

				msb_sink_stats(sink, &ss);
				b.seq0 = ss.added;
			}
			src = msb_sink_upsert(sink, doc);
			bson_destroy(doc);
			if (src == MSB_BADDOC) {	/* no _id, a bad key */
				msb_stream_reject(st, msg.id,
				    msb_sink_error(sink));
				src = MSB_OK;
				continue;
			}
			b.ids[b.n++] = msg.id;
			if (src == MSB_OK && b.n < BATCH)
				continue;
		} else if (rc == MSB_TEMPFAIL && b.n == 0)
			continue;		/* idle */
		/* Full, nothing waiting, stopped or failed: commit, ack. */
		src = end_batch(sink, st, &b, src);
		if (src != MSB_OK) {
			snprintf(err, sizeof(err), "%s", msb_sink_error(sink));
			status = msb_exit_code(src);	/* 75: try later */
			break;
		}
		if (rc == MSB_STOPPED || rc == MSB_ERROR) {
			snprintf(err, sizeof(err), "%s", msb_stream_error(st));
			status = rc == MSB_STOPPED ? 0 : 1;
			break;
		}
	}
out:
	if (status != 0)
		fprintf(stderr, "example-stream: %s\n", err);
	msb_stream_close(st);
	msb_sink_close(sink);
	msb_cleanup();
	return status;
}
