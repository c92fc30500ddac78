/*
 * Producers against a fake ingress: a ROUTER bound on
 * <dir>/run/acme/default.in, as streammgr binds a stream's ingress. The
 * tests check the frames streammgr sees ([8-byte big-endian seq]
 * [payload]), that replies reach the callback of the right seq with the
 * right status, that the window holds (a send blocks, then times out when
 * no reply comes, but not when the replies came before the app called
 * again), and the errors for a missing socket or no streammgr;
 * then batches (protocol 2): a record goes alone when none awaits a
 * reply and in a batch [""][first, count][records] when some do, each
 * record of a batch gets its own status, one status may answer them all,
 * a batch goes at the first send after its linger has passed, and a
 * protocol 1 streammgr's refusal of a batch turns batching off, and
 * records held when batching goes off go alone before the next;
 * a batch written off while it waited for streammgr never goes out, nor
 * do records written off at the reply timeout while they waited in the
 * producer's queue; the
 * end of the connection writes off at once what awaited a reply on it
 * (a reply that came before it counts, found by a wait or by a send,
 * alone or of a batch, also once the reply timeout has passed),
 * and the next send connects again; a callback may close its producer;
 * a reply naming records not awaiting one is refused whole, and the
 * records held when one comes are sent with the next call; a poll that
 * made callbacks before one returns their count, the next call fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <mysimbdp.h>
#include <zmq.h>

#include "util.h"

#define WAIT_MS	5000		/* for anything that should come at once */
#define HANG_MS	10000		/* x the time factor: what only a hang takes */
#define HOUR_MS	(3600 * 1000)
#define MAX_REPLIES 512

struct fake {
	char		*dir;
	char		*endpoint;	/* ipc://<dir>/run/acme/default.in */
	void		*ctx;
	void		*router;
	unsigned char	 rid[256];	/* the producer's routing id */
	size_t		 ridlen;
};

/* One message as the fake received it: [msg-id][payload][body]. */
struct request {
	int		 nframes;
	unsigned char	 id[64];
	size_t		 idlen;
	char		 payload[256];	/* a batch: its header */
	size_t		 len;
	unsigned char	 body[1024];	/* a batch: its records */
	size_t		 bodylen;
};

/* What the callback was told, in order. */
struct replies {
	int		 n;
	uint64_t	 seq[MAX_REPLIES];
	enum msb_reply_status status[MAX_REPLIES];
	char		 reason[MAX_REPLIES][128];
	bool		 had_reason[MAX_REPLIES];
};

static void
on_reply(uint64_t seq, enum msb_reply_status status, const char *reason,
    void *arg)
{
	struct replies *r = arg;

	if (r->n >= MAX_REPLIES)
		return;
	r->seq[r->n] = seq;
	r->status[r->n] = status;
	r->had_reason[r->n] = reason != NULL;
	snprintf(r->reason[r->n], sizeof(r->reason[0]), "%s",
	    reason != NULL ? reason : "");
	r->n++;
}

/* The callbacks were n OKs, seqs 1..n in order. */
static void
assert_all_ok(const struct replies *r, int n)
{
	assert_int_equal(r->n, n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(r->seq[i], (uint64_t)i + 1);
		assert_int_equal(r->status[i], MSB_REPLY_OK);
	}
}

static int
setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	char *run;
	int linger = 0;

	f->dir = tu_mkdtemp("producer");
	if (asprintf(&run, "%s/run", f->dir) == -1)
		return -1;
	mkdir(run, 0700);
	free(run);
	if (asprintf(&run, "%s/run/acme", f->dir) == -1)
		return -1;
	mkdir(run, 0700);
	free(run);
	if (asprintf(&f->endpoint, "ipc://%s/run/acme/default.in",
	    f->dir) == -1)
		return -1;
	f->ctx = zmq_ctx_new();
	f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
	zmq_setsockopt(f->router, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_bind(f->router, f->endpoint) == -1)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fake *f = *state;

	zmq_close(f->router);
	zmq_ctx_term(f->ctx);
	tu_rmtree(f->dir);
	free(f->endpoint);
	free(f->dir);
	free(f);
	return 0;
}

/* Receives one request within ms; false if none came. */
static bool
fake_recv(struct fake *f, struct request *q, long ms)
{
	zmq_pollitem_t item = { .socket = f->router, .events = ZMQ_POLLIN };
	char buf[1024];
	size_t sz;
	int more, n;

	if (zmq_poll(&item, 1, ms) <= 0)
		return false;
	if ((n = zmq_recv(f->router, f->rid, sizeof(f->rid), 0)) <= 0)
		return false;
	f->ridlen = (size_t)n;
	memset(q, 0, sizeof(*q));
	do {
		if ((n = zmq_recv(f->router, buf, sizeof(buf), 0)) < 0)
			return false;
		if (q->nframes == 0) {
			q->idlen = (size_t)n;
			memcpy(q->id, buf, (size_t)n < 64 ? (size_t)n : 64);
		} else if (q->nframes == 1) {
			q->len = (size_t)n;
			memcpy(q->payload, buf, (size_t)n < 256 ? (size_t)n :
			    256);
		} else if (q->nframes == 2) {
			q->bodylen = (size_t)n;
			memcpy(q->body, buf, (size_t)n < 1024 ? (size_t)n :
			    1024);
		}
		q->nframes++;
		sz = sizeof(more);
		zmq_getsockopt(f->router, ZMQ_RCVMORE, &more, &sz);
	} while (more);
	return true;
}

static uint64_t
be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Replies [id][status] to request q. */
static void
fake_reply(struct fake *f, const struct request *q, const char *status)
{
	assert_int_equal(zmq_send(f->router, f->rid, f->ridlen, ZMQ_SNDMORE),
	    (int)f->ridlen);
	assert_int_equal(zmq_send(f->router, q->id, q->idlen, ZMQ_SNDMORE),
	    (int)q->idlen);
	assert_int_equal(zmq_send(f->router, status, strlen(status), 0),
	    (int)strlen(status));
}

static struct msb_producer *
open_batching(struct fake *f, uint32_t window, struct replies *r)
{
	struct msb_producer *p;
	char err[256];

	if (msb_producer_open(&p, f->endpoint, window, on_reply, r, err,
	    sizeof(err)) != MSB_OK)
		fail_msg("open: %s", err);
	return p;
}

/* A producer of single records only: the tests of protocol 1's form. */
static struct msb_producer *
open_producer(struct fake *f, uint32_t window, struct replies *r)
{
	struct msb_producer *p = open_batching(f, window, r);

	msb_producer_set_batch(p, 0, -1);
	return p;
}

/*
 * A batching producer whose held records go only when a batch is full or
 * by the other rules, never by their age: with the default linger (1 ms)
 * a preempted test would see a batch go early.
 */
static struct msb_producer *
open_piling(struct fake *f, uint32_t window, struct replies *r)
{
	struct msb_producer *p = open_batching(f, window, r);

	msb_producer_set_batch(p, 64 * 1024, HOUR_MS);
	return p;
}

/* Replies [""][header][statuses] to batch q: n statuses. */
static void
fake_reply_batch(struct fake *f, const struct request *q, int n,
    const char *const *statuses)
{
	unsigned char buf[1024];
	size_t len = 0;

	for (int i = 0; i < n; i++) {
		size_t sl = strlen(statuses[i]);

		buf[len++] = (unsigned char)(sl >> 8);
		buf[len++] = (unsigned char)sl;
		memcpy(buf + len, statuses[i], sl);
		len += sl;
	}
	assert_int_equal(zmq_send(f->router, f->rid, f->ridlen, ZMQ_SNDMORE),
	    (int)f->ridlen);
	assert_int_equal(zmq_send(f->router, "", 0, ZMQ_SNDMORE), 0);
	assert_int_equal(zmq_send(f->router, q->payload, q->len,
	    ZMQ_SNDMORE), (int)q->len);
	assert_int_equal(zmq_send(f->router, buf, len, 0), (int)len);
}

/* Returns once more than ms have passed since the clock read since:
 * a lower bound, however long it takes. */
static void
pass_the_clock(int64_t since, int64_t ms)
{
	struct timespec pause = { 0, 1000000 };

	while (tu_now_ms() - since <= ms)
		nanosleep(&pause, NULL);
}

/* Checks q is the batch [""][first, count][the records]. */
static void
assert_batch(const struct request *q, uint64_t first, int count,
    const char *const *records)
{
	size_t at = 0;

	assert_int_equal(q->nframes, 3);
	assert_int_equal(q->idlen, 0);
	assert_int_equal(q->len, 12);
	assert_int_equal(be64((const unsigned char *)q->payload), first);
	assert_int_equal(be64((const unsigned char *)q->payload + 4) &
	    0xffffffffu, (uint64_t)count);
	for (int i = 0; i < count; i++) {
		size_t n = strlen(records[i]);

		assert_true(at + 4 + n <= q->bodylen);
		assert_int_equal((size_t)q->body[at] << 24 |
		    (size_t)q->body[at + 1] << 16 |
		    (size_t)q->body[at + 2] << 8 | q->body[at + 3], n);
		assert_memory_equal(q->body + at + 4, records[i], n);
		at += 4 + n;
	}
	assert_int_equal(at, q->bodylen);
}

static void
records_pile_up_into_batches(void **state)
{
	struct fake *f = *state;
	struct replies *r = calloc(1, sizeof(*r));
	struct msb_producer *p = open_piling(f, 16, r);
	const char *const recs[] = { "beta", "", "gamma" };
	const char *const st[] = { "OK", "REJECT empty: no payload",
	    "THROTTLE queue-full: max_queue_bytes 1024 reached" };
	const char *const all[] = { "THROTTLE draining: the stream takes "
	    "no new messages until it is started" };
	struct request q[4];
	uint64_t seq;

	/* Nothing awaits a reply: the first goes at once, alone. */
	assert_int_equal(msb_producer_send(p, "alpha", 5, &seq), MSB_OK);
	assert_true(fake_recv(f, &q[0], WAIT_MS));
	assert_int_equal(q[0].nframes, 2);
	assert_int_equal(be64(q[0].id), 1);

	/* While it does, the next ones are held, then go as one. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(msb_producer_send(p, recs[i],
		    strlen(recs[i]), &seq), MSB_OK);
	assert_int_equal(seq, 4);
	assert_false(fake_recv(f, &q[1], 50));
	assert_int_equal(msb_producer_poll(p, 0), 0);	/* sends them */
	assert_true(fake_recv(f, &q[1], WAIT_MS));
	assert_batch(&q[1], 2, 3, recs);

	/* Each record gets its own status, in order. */
	fake_reply(f, &q[0], "OK");
	fake_reply_batch(f, &q[1], 3, st);
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_OK);
	assert_int_equal(r->n, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(r->seq[i], (uint64_t)i + 1);
	assert_int_equal(r->status[1], MSB_REPLY_OK);
	assert_false(r->had_reason[1]);
	assert_int_equal(r->status[2], MSB_REPLY_REJECT);
	assert_string_equal(r->reason[2], "empty: no payload");
	assert_int_equal(r->status[3], MSB_REPLY_THROTTLE);
	assert_string_equal(r->reason[3],
	    "queue-full: max_queue_bytes 1024 reached");

	/* One status answers every record of a batch. */
	assert_int_equal(msb_producer_send(p, "x", 1, NULL), MSB_OK);
	assert_true(fake_recv(f, &q[2], WAIT_MS));
	for (int i = 0; i < 3; i++)
		assert_int_equal(msb_producer_send(p, recs[i],
		    strlen(recs[i]), NULL), MSB_OK);
	assert_int_equal(msb_producer_poll(p, 0), 0);
	assert_true(fake_recv(f, &q[3], WAIT_MS));
	assert_batch(&q[3], 6, 3, recs);
	fake_reply(f, &q[2], "OK");
	fake_reply_batch(f, &q[3], 1, all);
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_OK);
	assert_int_equal(r->n, 8);
	for (int i = 5; i < 8; i++) {
		assert_int_equal(r->seq[i], (uint64_t)i + 1);
		assert_int_equal(r->status[i], MSB_REPLY_THROTTLE);
		assert_string_equal(r->reason[i], all[0] + strlen("THROTTLE "));
	}
	msb_producer_close(p);
	free(r);
}

/*
 * A held batch goes at the first send after it is linger_ms old. Only
 * the lower bound is the producer's: the test waits for the clock to
 * pass it, then for the batch, however long either takes.
 */
static void
a_batch_goes_once_its_linger_has_passed(void **state)
{
	struct fake *f = *state;
	struct replies *r = calloc(1, sizeof(*r));
	struct msb_producer *p = open_batching(f, 16, r);
	struct request q[3];
	int64_t held;

	msb_producer_set_batch(p, 64 * 1024, 20);
	assert_int_equal(msb_producer_send(p, "x", 1, NULL), MSB_OK);
	assert_true(fake_recv(f, &q[0], WAIT_MS));
	assert_int_equal(msb_producer_send(p, "a", 1, NULL), MSB_OK);
	held = tu_now_ms();
	pass_the_clock(held, 20);
	/* "a" has waited its 20 ms: "b" sends it, and is held itself. */
	assert_int_equal(msb_producer_send(p, "b", 1, NULL), MSB_OK);
	assert_true(fake_recv(f, &q[1], WAIT_MS));
	assert_int_equal(q[1].nframes, 2);
	assert_int_equal(be64(q[1].id), 2);
	assert_memory_equal(q[1].payload, "a", 1);
	assert_int_equal(msb_producer_poll(p, 0), 0);
	assert_true(fake_recv(f, &q[2], WAIT_MS));
	assert_int_equal(be64(q[2].id), 3);
	for (int i = 0; i < 3; i++)
		fake_reply(f, &q[i], "OK");
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_OK);
	assert_int_equal(r->n, 3);
	msb_producer_close(p);
	free(r);
}

static void
a_protocol_1_streammgr_turns_batching_off(void **state)
{
	struct fake *f = *state;
	struct replies *r = calloc(1, sizeof(*r));
	struct msb_producer *p = open_piling(f, 16, r);
	const char *const recs[] = { "b", "c" };
	const char *refusal = "REJECT malformed: expected 2 frames, got 3";
	struct request q[3];

	assert_int_equal(msb_producer_send(p, "a", 1, NULL), MSB_OK);
	for (int i = 0; i < 2; i++)
		assert_int_equal(msb_producer_send(p, recs[i], 1, NULL),
		    MSB_OK);
	assert_int_equal(msb_producer_poll(p, 0), 0);
	assert_true(fake_recv(f, &q[0], WAIT_MS));
	assert_true(fake_recv(f, &q[1], WAIT_MS));
	assert_batch(&q[1], 2, 2, recs);

	/* What protocol 1 answers a batch: [""][REJECT malformed ...]. */
	fake_reply(f, &q[0], "OK");
	assert_int_equal(zmq_send(f->router, f->rid, f->ridlen, ZMQ_SNDMORE),
	    (int)f->ridlen);
	assert_int_equal(zmq_send(f->router, "", 0, ZMQ_SNDMORE), 0);
	assert_int_equal(zmq_send(f->router, refusal, strlen(refusal), 0),
	    (int)strlen(refusal));
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_TEMPFAIL);
	assert_int_equal(r->n, 3);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(r->status[i], MSB_REPLY_THROTTLE);
		assert_true(strncmp(r->reason[i], "protocol: ", 10) == 0);
	}

	/* From now on every record goes alone. */
	assert_int_equal(msb_producer_send(p, "d", 1, NULL), MSB_OK);
	assert_int_equal(msb_producer_send(p, "e", 1, NULL), MSB_OK);
	for (int i = 0; i < 2; i++) {
		assert_true(fake_recv(f, &q[2], WAIT_MS));
		assert_int_equal(q[2].nframes, 2);
		assert_int_equal(be64(q[2].id), (uint64_t)i + 4);
		fake_reply(f, &q[2], "OK");
	}
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_OK);
	assert_int_equal(r->n, 5);
	msb_producer_close(p);
	free(r);
}

/*
 * Batching goes off while records are held (here the app sets max_bytes
 * 0; a protocol 1 streammgr's refusal does the same): they go first, each
 * alone, then the next record. Sent after it, their replies came in
 * after its seq and were dropped as late, and it was written off as
 * "no-reply" although stored.
 */
static void
held_records_go_alone_before_the_next(void **state)
{
	struct fake *f = *state;
	struct replies *r = calloc(1, sizeof(*r));
	struct msb_producer *p = open_piling(f, 16, r);
	const char *const recs[] = { "a", "b", "c", "d" };
	struct request q[4];

	for (int i = 0; i < 3; i++)
		assert_int_equal(msb_producer_send(p, recs[i], 1, NULL),
		    MSB_OK);
	msb_producer_set_batch(p, 0, -1);
	assert_int_equal(msb_producer_send(p, recs[3], 1, NULL), MSB_OK);
	for (int i = 0; i < 4; i++) {
		assert_true(fake_recv(f, &q[i], WAIT_MS));
		assert_int_equal(q[i].nframes, 2);
		assert_int_equal(be64(q[i].id), (uint64_t)i + 1);
		assert_memory_equal(q[i].payload, recs[i], 1);
		fake_reply(f, &q[i], "OK");
	}
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_OK);
	assert_all_ok(r, 4);
	msb_producer_close(p);
	free(r);
}

/* Binds the fake's ROUTER again: streammgr restarted. */
static void
fake_rebind(struct fake *f)
{
	int linger = 0;

	f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
	zmq_setsockopt(f->router, ZMQ_LINGER, &linger, sizeof(linger));
	assert_int_equal(zmq_bind(f->router, f->endpoint), 0);
}

/*
 * streammgr goes away with a record unanswered and two held in a batch.
 * The end of the connection writes off what went out on it; the batch
 * waits for a streammgr to take it, and once none did for the reply
 * timeout it is written off too, or it went out into the connection
 * before its end was seen: either way every record gets its "no-reply"
 * (the app sends it again), and once a streammgr is back the batch
 * never goes out (it went with its header's count and no records, which
 * streammgr refuses as malformed): the next record is the first thing
 * it gets.
 */
static void
a_batch_written_off_while_waiting_is_not_sent(void **state)
{
	struct fake *f = *state;
	struct replies *r = calloc(1, sizeof(*r));
	struct msb_producer *p = open_piling(f, 16, r);
	struct request q;
	int tries = 0;

	msb_producer_set_reply_timeout(p, 1000);
	assert_int_equal(msb_producer_send(p, "a", 1, NULL), MSB_OK);
	assert_true(fake_recv(f, &q, WAIT_MS));
	/* Held before streammgr goes: sent after, "b" could find the end
	 * of the connection already seen, "a" written off, and go alone. */
	assert_int_equal(msb_producer_send(p, "b", 1, NULL), MSB_OK);
	assert_int_equal(msb_producer_send(p, "c", 1, NULL), MSB_OK);
	assert_int_equal(msb_producer_outstanding(p), 3);
	zmq_close(f->router);		/* streammgr is gone */
	f->router = NULL;

	while (msb_producer_outstanding(p) > 0 && tries++ < 20)
		msb_producer_poll(p, 1000);
	assert_int_equal(r->n, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r->seq[i], (uint64_t)i + 1);
		assert_int_equal(r->status[i], MSB_REPLY_THROTTLE);
		assert_true(strncmp(r->reason[i], "no-reply: ", 10) == 0);
	}
	assert_int_equal(msb_producer_outstanding(p), 0);
	fake_rebind(f);

	/* The next record is the first thing the new streammgr gets. */
	assert_int_equal(msb_producer_send(p, "d", 1, NULL), MSB_OK);
	assert_true(fake_recv(f, &q, WAIT_MS));
	assert_int_equal(q.nframes, 2);
	assert_int_equal(be64(q.id), 4);
	assert_memory_equal(q.payload, "d", 1);
	fake_reply(f, &q, "OK");
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_OK);
	assert_int_equal(r->n, 4);
	msb_producer_close(p);
	free(r);
}

static void
replies_reach_the_right_seq(void **state)
{
	struct fake *f = *state;
	struct replies *r = calloc(1, sizeof(*r));
	struct msb_producer *p = open_producer(f, 16, r);
	const char *payloads[] = { "alpha", "beta", "gamma", "delta" };
	struct request q[6];
	uint64_t seq;

	for (int i = 0; i < 4; i++) {
		assert_int_equal(msb_producer_send(p, payloads[i],
		    strlen(payloads[i]), &seq), MSB_OK);
		assert_int_equal(seq, (uint64_t)i + 1);
	}
	assert_int_equal(msb_producer_outstanding(p), 4);
	for (int i = 0; i < 4; i++) {
		assert_true(fake_recv(f, &q[i], WAIT_MS));
		assert_int_equal(q[i].nframes, 2);
		assert_int_equal(q[i].idlen, 8);
		assert_int_equal(be64(q[i].id), (uint64_t)i + 1);
		assert_int_equal(q[i].len, strlen(payloads[i]));
		assert_memory_equal(q[i].payload, payloads[i], q[i].len);
	}
	fake_reply(f, &q[0], "OK");
	fake_reply(f, &q[1], "THROTTLE rate: over max_messages_per_second 100");
	fake_reply(f, &q[2],
	    "REJECT too-large: 70000 bytes > max_message_size 65536");
	fake_reply(f, &q[3], "REJECT empty: no payload");
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_OK);
	assert_int_equal(msb_producer_outstanding(p), 0);

	assert_int_equal(r->n, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(r->seq[i], (uint64_t)i + 1);
	assert_int_equal(r->status[0], MSB_REPLY_OK);
	assert_false(r->had_reason[0]);
	assert_int_equal(r->status[1], MSB_REPLY_THROTTLE);
	assert_string_equal(r->reason[1],
	    "rate: over max_messages_per_second 100");
	assert_int_equal(r->status[2], MSB_REPLY_REJECT);
	assert_string_equal(r->reason[2],
	    "too-large: 70000 bytes > max_message_size 65536");
	assert_int_equal(r->status[3], MSB_REPLY_REJECT);
	assert_string_equal(r->reason[3], "empty: no payload");

	/*
	 * A reply to a later seq first: the earlier one is lost (streammgr
	 * restarted), reported as no-reply, and flush says so.
	 */
	assert_int_equal(msb_producer_send(p, "e", 1, NULL), MSB_OK);
	assert_int_equal(msb_producer_send(p, "f", 1, &seq), MSB_OK);
	assert_int_equal(seq, 6);
	assert_true(fake_recv(f, &q[4], WAIT_MS));
	assert_true(fake_recv(f, &q[5], WAIT_MS));
	fake_reply(f, &q[5], "OK");
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_TEMPFAIL);
	assert_int_equal(r->n, 6);
	assert_int_equal(r->seq[4], 5);
	assert_int_equal(r->status[4], MSB_REPLY_THROTTLE);
	assert_true(strncmp(r->reason[4], "no-reply", 8) == 0);
	assert_int_equal(r->seq[5], 6);
	assert_int_equal(r->status[5], MSB_REPLY_OK);
	assert_int_equal(msb_producer_outstanding(p), 0);

	msb_producer_close(p);
	free(r);
}

static void
a_full_window_blocks_then_times_out(void **state)
{
	struct fake *f = *state;
	struct replies *r = calloc(1, sizeof(*r));
	struct msb_producer *p = open_producer(f, 4, r);
	struct request q[5];
	int64_t start, took;
	uint64_t seq;

	/*
	 * The 300 ms run from the first send, so `start` is taken before
	 * it: the fifth cannot give up sooner than that (a lower bound
	 * the producer's own clock guarantees), and only a send that
	 * never gave up takes `hang`.
	 */
	msb_producer_set_reply_timeout(p, 300);
	start = tu_now_ms();
	for (int i = 0; i < 4; i++)
		assert_int_equal(msb_producer_send(p, "x", 1, NULL), MSB_OK);
	for (int i = 0; i < 4; i++)
		assert_true(fake_recv(f, &q[i], WAIT_MS));

	/* The fake withholds the replies: the fifth waits, then gives up. */
	assert_int_equal(msb_producer_send(p, "y", 1, NULL), MSB_TEMPFAIL);
	took = tu_now_ms() - start;
	if (took < 300 || took > HANG_MS * tu_time_factor())
		fail_msg("send gave up %lld ms after the first, not 300 or "
		    "a little more", (long long)took);
	assert_string_equal(msb_producer_error(p),
	    "no reply from streammgr within 300 ms");
	assert_false(fake_recv(f, &q[4], 100));	/* it was not sent */

	/* The four are written off: their fate is unknown. */
	assert_int_equal(msb_producer_outstanding(p), 0);
	assert_int_equal(r->n, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(r->seq[i], (uint64_t)i + 1);
		assert_int_equal(r->status[i], MSB_REPLY_THROTTLE);
		assert_string_equal(r->reason[i],
		    "no-reply: none within 300 ms");
	}

	/* Their late replies are ignored; the producer goes on. */
	msb_producer_set_reply_timeout(p, 0);	/* the default, 10 s */
	for (int i = 0; i < 4; i++)
		fake_reply(f, &q[i], "OK");
	assert_int_equal(msb_producer_send(p, "z", 1, &seq), MSB_OK);
	assert_int_equal(seq, 5);
	assert_true(fake_recv(f, &q[4], WAIT_MS));
	assert_int_equal(be64(q[4].id), 5);
	fake_reply(f, &q[4], "OK");
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_OK);
	assert_int_equal(r->n, 5);
	assert_int_equal(r->seq[4], 5);
	assert_int_equal(r->status[4], MSB_REPLY_OK);

	/* A flush that runs out of time leaves them outstanding. */
	assert_int_equal(msb_producer_send(p, "w", 1, NULL), MSB_OK);
	assert_int_equal(msb_producer_flush(p, 50), MSB_TEMPFAIL);
	assert_int_equal(msb_producer_outstanding(p), 1);
	assert_int_equal(msb_producer_poll(p, 0), 0);
	assert_true(fake_recv(f, &q[0], WAIT_MS));
	fake_reply(f, &q[0], "OK");
	assert_int_equal(msb_producer_poll(p, WAIT_MS), 1);
	assert_int_equal(msb_producer_outstanding(p), 0);
	assert_int_equal(msb_producer_poll(p, -1), 0);	/* nothing to wait for */

	msb_producer_close(p);
	free(r);
}

/*
 * The fake of window_unblocks: it answers only when the producer has a
 * whole window outstanding (or sent everything), so every send past the
 * window waits for its replies.
 */
struct window_run {
	struct fake	*f;
	uint32_t	 window;
	int		 total;
	int		 received;
	int		 max_unanswered;
	bool		 bad_seq;
	bool		 stalled;
};

static void *
window_fake(void *arg)
{
	struct window_run *w = arg;
	struct request *q = calloc(w->window + 1, sizeof(*q));
	int unanswered = 0;

	while (w->received < w->total) {
		if (!fake_recv(w->f, &q[unanswered], WAIT_MS)) {
			w->stalled = true;
			break;
		}
		if (q[unanswered].idlen != 8 ||
		    be64(q[unanswered].id) != (uint64_t)w->received + 1)
			w->bad_seq = true;
		w->received++;
		if (++unanswered > w->max_unanswered)
			w->max_unanswered = unanswered;
		if (unanswered >= (int)w->window || w->received == w->total) {
			for (int i = 0; i < unanswered; i++)
				fake_reply(w->f, &q[i], "OK");
			unanswered = 0;
		}
	}
	free(q);
	return NULL;
}

/* Waits for the fake of w: it got all of its records, in order. */
static void
window_fake_join(pthread_t t, const struct window_run *w)
{
	pthread_join(t, NULL);
	assert_false(w->stalled);
	assert_false(w->bad_seq);
	assert_int_equal(w->received, w->total);
}

static void
a_full_window_waits_for_replies(void **state)
{
	struct fake *f = *state;
	struct replies *r = calloc(1, sizeof(*r));
	struct window_run w = { .f = f, .window = 4, .total = 200 };
	struct msb_producer *p = open_producer(f, w.window, r);
	pthread_t t;
	char buf[32];

	assert_int_equal(pthread_create(&t, NULL, window_fake, &w), 0);
	for (int i = 0; i < w.total; i++) {
		snprintf(buf, sizeof(buf), "record %d", i);
		if (msb_producer_send(p, buf, strlen(buf), NULL) != MSB_OK)
			fail_msg("send %d: %s", i, msb_producer_error(p));
		assert_true(msb_producer_outstanding(p) <= w.window);
	}
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_OK);
	window_fake_join(t, &w);
	assert_int_equal(w.max_unanswered, (int)w.window);
	assert_all_ok(r, w.total);
	msb_producer_close(p);
	free(r);
}

/*
 * Held records sent alone once batching is off may wait for room: here
 * the last waits while the 12 MB one before it fills the link's 8 MiB
 * queue, and the reply to the one before that comes in meanwhile. It is
 * that record's own reply, not one to drop as early.
 */
static void
replies_to_held_records_sent_alone_count(void **state)
{
	struct fake *f = *state;
	struct replies *r = calloc(1, sizeof(*r));
	struct window_run w = { .f = f, .window = 1, .total = 5 };
	struct msb_producer *p = open_batching(f, 16, r);
	static char big[12 << 20];
	pthread_t t;

	msb_producer_set_batch(p, 64u << 20, HOUR_MS);
	memset(big, 'x', sizeof(big));
	assert_int_equal(msb_producer_send(p, "a", 1, NULL), MSB_OK);
	assert_int_equal(msb_producer_send(p, "b", 1, NULL), MSB_OK);
	assert_int_equal(msb_producer_send(p, big, sizeof(big), NULL), MSB_OK);
	assert_int_equal(msb_producer_send(p, "d", 1, NULL), MSB_OK);
	msb_producer_set_batch(p, 0, -1);
	/* The fake answers each as it comes, from now on. */
	assert_int_equal(pthread_create(&t, NULL, window_fake, &w), 0);
	assert_int_equal(msb_producer_send(p, "e", 1, NULL), MSB_OK);
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_OK);
	window_fake_join(t, &w);
	assert_all_ok(r, w.total);
	msb_producer_close(p);
	free(r);
}

static void
a_missing_socket_says_so(void **state)
{
	struct fake *f = *state;
	struct msb_producer *p = (struct msb_producer *)1;
	char err[512], want[512], *endpoint, *path;

	if (asprintf(&endpoint, "ipc://%s/run/acme/other.in", f->dir) == -1)
		fail_msg("asprintf");
	assert_int_equal(msb_producer_open(&p, endpoint, 0, NULL, NULL, err,
	    sizeof(err)), MSB_TEMPFAIL);
	assert_null(p);
	snprintf(want, sizeof(want), "connect %s: No such file or directory "
	    "(is streammgr running?)", endpoint);
	assert_string_equal(err, want);

	/* Not a socket. */
	path = tu_join(f->dir, "run/acme/other.in");
	tu_write_file(path, "", 0);
	assert_int_equal(msb_producer_open(&p, endpoint, 0, NULL, NULL, err,
	    sizeof(err)), MSB_ERROR);
	snprintf(want, sizeof(want), "connect %s: not a socket", endpoint);
	assert_string_equal(err, want);
	free(path);
	free(endpoint);

	/* Another tenant's folder (0700, not ours). Root may go anywhere. */
	if (geteuid() != 0) {
		path = tu_join(f->dir, "run/acme");
		chmod(path, 0);
		assert_int_equal(msb_producer_open(&p, f->endpoint, 0, NULL,
		    NULL, err, sizeof(err)), MSB_ERROR);
		snprintf(want, sizeof(want), "connect %s: Permission denied",
		    f->endpoint);
		assert_string_equal(err, want);
		chmod(path, 0700);
		free(path);
	} else
		print_message("running as root: permission check skipped\n");

	assert_int_equal(msb_producer_open(&p, "", 0, NULL, NULL, err,
	    sizeof(err)), MSB_ERROR);
	msb_producer_close(NULL);
}

static void
no_streammgr_send_times_out(void **state)
{
	struct fake *f = *state;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct msb_producer *p;
	char *path, *endpoint, err[256], want[256];
	int64_t start, took;
	int fd;

	/* A socket file nobody listens on: streammgr died. */
	path = tu_join(f->dir, "run/acme/stale.in");
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(fd);
	if (asprintf(&endpoint, "ipc://%s", path) == -1)
		fail_msg("asprintf");

	assert_int_equal(msb_producer_open(&p, endpoint, 0, NULL, NULL, err,
	    sizeof(err)), MSB_OK);
	msb_producer_set_reply_timeout(p, 200);
	start = tu_now_ms();
	assert_int_equal(msb_producer_send(p, "x", 1, NULL), MSB_TEMPFAIL);
	took = tu_now_ms() - start;
	if (took < 150 || took > HANG_MS * tu_time_factor())
		fail_msg("send gave up after %lld ms, not about 200",
		    (long long)took);
	snprintf(want, sizeof(want), "no streammgr took the message within "
	    "200 ms (is it running?)");
	assert_string_equal(msb_producer_error(p), want);
	assert_int_equal(msb_producer_outstanding(p), 0);
	/* Nothing is queued: a close that lingered would wait for ever. */
	start = tu_now_ms();
	msb_producer_close(p);
	if ((took = tu_now_ms() - start) > HANG_MS * tu_time_factor())
		fail_msg("close took %lld ms: it lingers", (long long)took);
	free(endpoint);
	free(path);
}

/* A callback that closes its producer at the first reply. */
struct closer {
	struct msb_producer *p;
	int		 calls;
};

static void
close_on_reply(uint64_t seq, enum msb_reply_status status,
    const char *reason, void *arg)
{
	struct closer *c = arg;

	(void)seq;
	(void)status;
	(void)reason;
	c->calls++;
	msb_producer_close(c->p);
}

/*
 * msb_producer_close() from the callback: no callback follows, and the
 * call that made it (poll, then flush with a batch held) returns
 * MSB_ERROR, ECANCELED, having closed the producer (ASan sees any use
 * of it after that).
 */
static void
a_callback_may_close_its_producer(void **state)
{
	struct fake *f = *state;
	struct closer c = { 0 };
	struct request q[3];
	char err[256];

	for (int round = 0; round < 2; round++) {
		c.calls = 0;
		assert_int_equal(msb_producer_open(&c.p, f->endpoint, 16,
		    close_on_reply, &c, err, sizeof(err)), MSB_OK);
		if (round == 0)
			msb_producer_set_batch(c.p, 0, -1);
		for (int i = 0; i < 3; i++)
			assert_int_equal(msb_producer_send(c.p, "m", 1, NULL),
			    MSB_OK);
		assert_true(fake_recv(f, &q[0], WAIT_MS));
		if (round == 0) {
			/* Three alone: three replies waiting. */
			for (int i = 1; i < 3; i++)
				assert_true(fake_recv(f, &q[i], WAIT_MS));
			for (int i = 0; i < 3; i++)
				fake_reply(f, &q[i], "OK");
			errno = 0;
			assert_int_equal(msb_producer_poll(c.p, WAIT_MS),
			    MSB_ERROR);
		} else {
			/* The first alone, two held in a batch. */
			fake_reply(f, &q[0], "OK");
			errno = 0;
			assert_int_equal(msb_producer_flush(c.p, WAIT_MS),
			    MSB_ERROR);
		}
		assert_int_equal(errno, ECANCELED);
		assert_int_equal(c.calls, 1);
	}
}

/*
 * streammgr restarts: the end of the connection writes off what awaited
 * a reply on it at once ("no-reply: the connection to streammgr ended"),
 * not at the reply timeout (an hour here), and the next send connects to
 * the new streammgr.
 */
static void
a_connection_end_writes_off_at_once(void **state)
{
	struct fake *f = *state;
	struct replies *r = calloc(1, sizeof(*r));
	struct msb_producer *p = open_piling(f, 16, r);
	struct request q;

	msb_producer_set_reply_timeout(p, HOUR_MS);
	assert_int_equal(msb_producer_send(p, "a", 1, NULL), MSB_OK);
	assert_true(fake_recv(f, &q, WAIT_MS));
	zmq_close(f->router);
	f->router = NULL;
	assert_int_equal(msb_producer_poll(p, HANG_MS * tu_time_factor()), 1);
	assert_int_equal(r->n, 1);
	assert_int_equal(r->status[0], MSB_REPLY_THROTTLE);
	assert_true(strncmp(r->reason[0], "no-reply: the connection to "
	    "streammgr ended", 43) == 0);
	assert_int_equal(msb_producer_outstanding(p), 0);

	fake_rebind(f);
	assert_int_equal(msb_producer_send(p, "b", 1, NULL), MSB_OK);
	assert_true(fake_recv(f, &q, WAIT_MS));
	assert_int_equal(be64(q.id), 2);
	fake_reply(f, &q, "OK");
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_OK);
	assert_int_equal(r->n, 2);
	assert_int_equal(r->status[1], MSB_REPLY_OK);
	msb_producer_close(p);
	free(r);
}

/*
 * The connection ends while records wait to be written (a streammgr that
 * does not read, then is gone): the end, found while the producer waits
 * for room, writes them off at once, with that reason, not at the reply
 * timeout.
 */
static void
a_connection_end_while_sending_writes_off_at_once(void **state)
{
	struct fake *f = *state;
	struct replies *r = calloc(1, sizeof(*r));
	struct msb_producer *p = open_piling(f, 16, r);
	static char big[100 * 1000];
	int one = 1, linger = 0;

	/* A streammgr that takes one message and reads no more. */
	zmq_close(f->router);
	f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
	zmq_setsockopt(f->router, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(f->router, ZMQ_RCVHWM, &one, sizeof(one));
	assert_int_equal(zmq_bind(f->router, f->endpoint), 0);
	msb_producer_set_reply_timeout(p, HANG_MS * tu_time_factor());
	msb_producer_set_batch(p, 0, -1);
	memset(big, 'x', sizeof(big));
	for (int i = 0; i < 16; i++)
		assert_int_equal(msb_producer_send(p, big, sizeof(big), NULL),
		    MSB_OK);
	zmq_close(f->router);
	f->router = NULL;
	assert_int_equal(msb_producer_flush(p, -1), MSB_TEMPFAIL);
	assert_int_equal(r->n, 16);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(r->status[i], MSB_REPLY_THROTTLE);
		if (strncmp(r->reason[i], "no-reply: the connection to "
		    "streammgr ended", 43) != 0)
			fail_msg("record %d: %s", i + 1, r->reason[i]);
	}
	msb_producer_close(p);
	fake_rebind(f);
	free(r);
}

/* A fake that reads until record until (in q), noting the rest. */
struct reader_run {
	struct fake	*f;
	uint64_t	 until;
	struct request	 q;
	uint64_t	 highest;	/* of the others */
	bool		 got;
	atomic_bool	 done;
};

static void *
read_until(void *arg)
{
	struct reader_run *w = arg;

	while (fake_recv(w->f, &w->q, WAIT_MS * tu_time_factor())) {
		if (w->q.idlen == 8 && be64(w->q.id) == w->until) {
			w->got = true;
			break;
		}
		if (w->q.idlen == 8 && be64(w->q.id) > w->highest)
			w->highest = be64(w->q.id);
	}
	atomic_store(&w->done, true);
	return NULL;
}

/*
 * streammgr stops reading (a stall longer than the reply timeout) while
 * records wait whole in the producer's own queue, not yet written: the
 * reply timeout writes them off ("no-reply": the app sends them again),
 * so they must not go out afterwards, or streammgr would store them
 * twice once it reads again. Four records of 4 MB against a fake that
 * takes one: the socket's buffer holds a part of the second (far less
 * than 4 MB), the third and fourth wait whole in the queue. Once the
 * fake reads again it must not get them; the next record, on a new
 * connection, is what comes after.
 */
static void
records_written_off_at_the_timeout_do_not_go_out(void **state)
{
	struct fake *f = *state;
	struct replies *r = calloc(1, sizeof(*r));
	struct msb_producer *p;
	struct reader_run w = { .f = f, .until = 5 };
	static char big[4 << 20];
	int one = 1, linger = 0;
	pthread_t t;
	uint64_t seq;

	/* A streammgr that takes one message and then reads no more. */
	zmq_close(f->router);
	f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
	zmq_setsockopt(f->router, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(f->router, ZMQ_RCVHWM, &one, sizeof(one));
	assert_int_equal(zmq_bind(f->router, f->endpoint), 0);
	p = open_producer(f, 4, r);
	msb_producer_set_reply_timeout(p, 300);
	memset(big, 'x', sizeof(big));
	for (int i = 0; i < 4; i++)
		assert_int_equal(msb_producer_send(p, big, sizeof(big), NULL),
		    MSB_OK);
	/* The window is full: no reply within 300 ms writes them off. */
	assert_int_equal(msb_producer_send(p, "y", 1, NULL), MSB_TEMPFAIL);
	assert_int_equal(r->n, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(r->status[i], MSB_REPLY_THROTTLE);
		assert_string_equal(r->reason[i],
		    "no-reply: none within 300 ms");
	}

	/* The fake reads again; the next record goes, and before it the
	 * fake gets no more than what had left before the write-off. */
	assert_int_equal(pthread_create(&t, NULL, read_until, &w), 0);
	msb_producer_set_reply_timeout(p, HANG_MS * tu_time_factor());
	assert_int_equal(msb_producer_send(p, "z", 1, &seq), MSB_OK);
	assert_int_equal(seq, 5);
	/* What the socket did not take goes out in producer calls. */
	while (!atomic_load(&w.done))
		assert_true(msb_producer_poll(p, 100) >= 0);
	pthread_join(t, NULL);
	assert_true(w.got);
	if (w.highest > 2)
		fail_msg("record %llu went out after its write-off",
		    (unsigned long long)w.highest);
	assert_memory_equal(w.q.payload, "z", 1);
	fake_reply(f, &w.q, "OK");
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_OK);
	assert_int_equal(r->n, 5);
	assert_int_equal(r->status[4], MSB_REPLY_OK);
	msb_producer_close(p);
	free(r);
}

/*
 * streammgr answers a record and then goes (a restart), while later
 * records still wait to be written: the reply came before the end, so
 * it counts (OK), and only the others are written off. Seen as the
 * producer waits with a full window, when its socket says both "a
 * reply is there" and "room to write": the write that finds the end
 * must not throw the reply away unread.
 */
static void
a_reply_before_the_end_counts(void **state)
{
	struct fake *f = *state;
	struct replies *r = calloc(1, sizeof(*r));
	struct msb_producer *p;
	static char big[4 << 20];
	struct request q;
	int one = 1, linger = 0, wait = 5000;
	void *ctx = zmq_ctx_new();

	/* A streammgr that takes one message and then reads no more. */
	zmq_close(f->router);
	f->router = zmq_socket(ctx, ZMQ_ROUTER);
	zmq_setsockopt(f->router, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(f->router, ZMQ_RCVHWM, &one, sizeof(one));
	assert_int_equal(zmq_bind(f->router, f->endpoint), 0);
	p = open_producer(f, 4, r);
	msb_producer_set_reply_timeout(p, HANG_MS * tu_time_factor());
	memset(big, 'x', sizeof(big));
	for (int i = 0; i < 4; i++)
		assert_int_equal(msb_producer_send(p, big, sizeof(big), NULL),
		    MSB_OK);
	assert_true(fake_recv(f, &q, WAIT_MS));
	assert_int_equal(be64(q.id), 1);
	fake_reply(f, &q, "OK");
	/* Gone once the reply is written (its context's end waits). */
	zmq_setsockopt(f->router, ZMQ_LINGER, &wait, sizeof(wait));
	zmq_close(f->router);
	zmq_ctx_term(ctx);
	f->router = NULL;

	fake_rebind(f);			/* and back */

	/* The window is full: the send waits, and finds both. */
	assert_int_equal(msb_producer_send(p, "y", 1, NULL), MSB_OK);
	assert_int_equal(r->n, 4);
	assert_int_equal(r->seq[0], 1);
	if (r->status[0] != MSB_REPLY_OK)
		fail_msg("record 1: %s", r->reason[0]);
	for (int i = 1; i < 4; i++) {
		assert_int_equal(r->status[i], MSB_REPLY_THROTTLE);
		assert_true(strncmp(r->reason[i], "no-reply: the connection "
		    "to streammgr ended", 43) == 0);
	}
	assert_true(fake_recv(f, &q, WAIT_MS));
	assert_int_equal(be64(q.id), 5);
	fake_reply(f, &q, "OK");
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_OK);
	msb_producer_close(p);
	free(r);
}

/*
 * The fake's ROUTER again, in a context of its own, ctx: fake_go ends
 * it once what it wrote is out.
 */
static void
fake_own(struct fake *f, void *ctx)
{
	int linger = 0;

	zmq_close(f->router);
	f->router = zmq_socket(ctx, ZMQ_ROUTER);
	zmq_setsockopt(f->router, ZMQ_LINGER, &linger, sizeof(linger));
	assert_int_equal(zmq_bind(f->router, f->endpoint), 0);
}

/* streammgr goes once its replies are written (its context's end waits
 * for them), and comes back. */
static void
fake_go(struct fake *f, void *ctx)
{
	int wait = WAIT_MS;

	zmq_setsockopt(f->router, ZMQ_LINGER, &wait, sizeof(wait));
	zmq_close(f->router);
	zmq_ctx_term(ctx);
	fake_rebind(f);
}

/*
 * streammgr answers every record sent alone (batching off) and goes:
 * the next send finds the connection's end, with the replies unread in
 * the socket. They came before the end, so they count (OK, not
 * "no-reply": the app would send them again, and they would be stored
 * twice), and the record goes on the next connection.
 */
static void
replies_before_the_end_count_when_a_send_finds_it(void **state)
{
	struct fake *f = *state;
	struct replies *r = calloc(1, sizeof(*r));
	struct msb_producer *p;
	struct request q;
	void *ctx = zmq_ctx_new();

	fake_own(f, ctx);
	p = open_producer(f, 16, r);
	msb_producer_set_reply_timeout(p, HANG_MS * tu_time_factor());
	for (int i = 0; i < 3; i++)
		assert_int_equal(msb_producer_send(p, &"abc"[i], 1, NULL),
		    MSB_OK);
	for (int i = 0; i < 3; i++) {
		assert_true(fake_recv(f, &q, WAIT_MS));
		assert_int_equal(be64(q.id), (uint64_t)i + 1);
		fake_reply(f, &q, "OK");
	}
	fake_go(f, ctx);

	assert_int_equal(msb_producer_send(p, "d", 1, NULL), MSB_OK);
	assert_int_equal(r->n, 3);
	for (int i = 0; i < 3; i++)
		if (r->status[i] != MSB_REPLY_OK)
			fail_msg("record %d: %s", i + 1, r->reason[i]);
	assert_true(fake_recv(f, &q, WAIT_MS));
	assert_int_equal(be64(q.id), 4);
	assert_memory_equal(q.payload, "d", 1);
	fake_reply(f, &q, "OK");
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_OK);
	assert_all_ok(r, 4);
	msb_producer_close(p);
	free(r);
}

/*
 * The same for a batch: a record sent alone is answered, streammgr goes,
 * and the batch held meanwhile finds the end as it goes. The reply
 * counts (OK); the batch goes whole on the next connection. late: the
 * app calls again only once the reply timeout has passed since the
 * reply came (an app that sends now and then, while streammgr
 * restarts): the reply still counts (OK, not "no-reply: none within
 * ..."), as it came before the end, in time.
 */
static void
batch_finds_the_end(void **state, bool late)
{
	struct fake *f = *state;
	struct replies *r = calloc(1, sizeof(*r));
	struct msb_producer *p;
	const char *const recs[] = { "b", "c" };
	const char *const st[] = { "OK" };
	int timeout = (int)((late ? 300 : HANG_MS) * tu_time_factor());
	struct request q;
	void *ctx = zmq_ctx_new();
	int64_t sent;
	int rc;

	fake_own(f, ctx);
	p = open_piling(f, 16, r);
	msb_producer_set_reply_timeout(p, timeout);
	sent = tu_now_ms();
	assert_int_equal(msb_producer_send(p, "a", 1, NULL), MSB_OK);
	assert_true(fake_recv(f, &q, WAIT_MS));
	assert_int_equal(be64(q.id), 1);
	/* Held: "a" awaits its reply. */
	for (int i = 0; i < 2; i++)
		assert_int_equal(msb_producer_send(p, recs[i], 1, NULL),
		    MSB_OK);
	fake_reply(f, &q, "OK");
	fake_go(f, ctx);
	if (late)
		pass_the_clock(sent, timeout);

	/* The batch goes, and the reply is handled. */
	rc = msb_producer_poll(p, 0);
	if (r->n < 1 || r->status[0] != MSB_REPLY_OK)
		fail_msg("record 1: %s", r->reason[0]);
	assert_int_equal(rc, 1);
	assert_int_equal(r->n, 1);
	msb_producer_set_reply_timeout(p, HANG_MS * tu_time_factor());
	assert_true(fake_recv(f, &q, WAIT_MS));
	assert_batch(&q, 2, 2, recs);
	fake_reply_batch(f, &q, 1, st);
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_OK);
	assert_all_ok(r, 3);
	msb_producer_close(p);
	free(r);
}

static void
a_reply_before_the_end_counts_when_a_batch_finds_it(void **state)
{
	batch_finds_the_end(state, false);
}

static void
a_reply_before_the_end_counts_after_the_reply_timeout(void **state)
{
	batch_finds_the_end(state, true);
}

/*
 * The window is full and every reply has come, but the app calls again
 * only once the reply timeout has passed since the first send: the
 * replies count (OK), they are not written off as "no-reply: none
 * within ..." (the app would send them again, to be stored twice).
 * streammgr goes once they are written (its context's end waits for
 * them): so much for knowing they are in the socket.
 */
static void
replies_that_came_count_when_the_window_is_full(void **state)
{
	struct fake *f = *state;
	struct replies *r = calloc(1, sizeof(*r));
	struct msb_producer *p;
	int timeout = (int)(300 * tu_time_factor());
	struct request q;
	void *ctx = zmq_ctx_new();
	int64_t sent;
	int rc;

	fake_own(f, ctx);
	p = open_producer(f, 4, r);
	msb_producer_set_reply_timeout(p, timeout);
	sent = tu_now_ms();
	for (int i = 0; i < 4; i++)
		assert_int_equal(msb_producer_send(p, &"abcd"[i], 1, NULL),
		    MSB_OK);
	for (int i = 0; i < 4; i++) {
		assert_true(fake_recv(f, &q, WAIT_MS));
		fake_reply(f, &q, "OK");
	}
	fake_go(f, ctx);
	pass_the_clock(sent, timeout);

	rc = msb_producer_send(p, "e", 1, NULL);
	for (int i = 0; i < r->n; i++)
		if (r->status[i] != MSB_REPLY_OK)
			fail_msg("record %d: %s", i + 1, r->reason[i]);
	assert_int_equal(rc, MSB_OK);
	msb_producer_set_reply_timeout(p, HANG_MS * tu_time_factor());
	assert_true(fake_recv(f, &q, WAIT_MS));
	assert_int_equal(be64(q.id), 5);
	fake_reply(f, &q, "OK");
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_OK);
	assert_all_ok(r, 5);
	msb_producer_close(p);
	free(r);
}

/* Sends a batch's reply naming count records from first, with n
 * statuses (what a broken streammgr might). */
static void
fake_reply_names(struct fake *f, uint64_t first, uint32_t count, int n,
    const char *const *statuses)
{
	struct request q = { .len = 12 };

	for (int i = 0; i < 8; i++)
		q.payload[i] = (char)(first >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		q.payload[8 + i] = (char)(count >> (24 - 8 * i));
	fake_reply_batch(f, &q, n, statuses);
}

/*
 * Replies streammgr cannot have sent: a batch's reply naming records
 * never sent (past the last, a count running past it, a first id whose
 * range wraps around to records sent), records answered already
 * together with some awaiting theirs, statuses neither one for all nor
 * one each, a header that is not one; a reply to an id never sent. Each
 * is refused whole: no callback (none twice, none for a record not
 * sent), the call fails (MSB_ERROR, EPROTO) and says why. A late reply
 * (records answered already, alone) is ignored as before; the proper
 * replies then count, once each.
 */
static void
a_malformed_reply_is_refused(void **state)
{
	struct fake *f = *state;
	struct replies *r = calloc(1, sizeof(*r));
	struct msb_producer *p = open_piling(f, 16, r);
	const char *const ok[] = { "OK", "OK", "OK", "OK", "OK" };
	const char *const recs[] = { "b", "c" };
	static const struct {
		const char	*what;
		uint64_t	 first;
		uint32_t	 count;
		int		 n;	/* statuses */
	} bad[] = {
		{ "a count running past the last", 2, 5, 5 },
		{ "past the last", 4, 1, 1 },
		{ "one status for a count running past", 3, 2, 1 },
		{ "wrapping around", UINT64_MAX, 3, 1 },
		{ "record 0", 0, 2, 1 },
		{ "answered and awaiting", 1, 2, 2 },
		{ "three statuses for two", 2, 2, 3 },
	};
	struct request q, qb;
	char id[8];
	int rc;

	msb_producer_set_reply_timeout(p, HANG_MS * tu_time_factor());
	assert_int_equal(msb_producer_send(p, "a", 1, NULL), MSB_OK);
	assert_true(fake_recv(f, &q, WAIT_MS));
	for (int i = 0; i < 2; i++)
		assert_int_equal(msb_producer_send(p, recs[i], 1, NULL),
		    MSB_OK);
	assert_int_equal(msb_producer_poll(p, 0), 0);	/* the batch goes */
	assert_true(fake_recv(f, &qb, WAIT_MS));
	assert_batch(&qb, 2, 2, recs);
	fake_reply(f, &q, "OK");
	assert_int_equal(msb_producer_poll(p, WAIT_MS), 1);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("%s\n", bad[i].what);
		fake_reply_names(f, bad[i].first, bad[i].count, bad[i].n, ok);
		rc = msb_producer_poll(p, WAIT_MS);
		if (r->n != 1)
			fail_msg("%s: %d callbacks from it", bad[i].what,
			    r->n - 1);
		assert_int_equal(rc, MSB_ERROR);
		assert_int_equal(errno, EPROTO);
		if (strstr(msb_producer_error(p), "a malformed reply from "
		    "streammgr, ignored: ") == NULL ||
		    strstr(msb_producer_error(p), "records 2 to 3 await "
		    "replies") == NULL)
			fail_msg("%s: %s", bad[i].what, msb_producer_error(p));
		assert_int_equal(r->n, 1);
		assert_int_equal(msb_producer_outstanding(p), 2);
	}
	/* A header that is not one, and a single reply to an id not sent. */
	assert_int_equal(zmq_send(f->router, f->rid, f->ridlen, ZMQ_SNDMORE),
	    (int)f->ridlen);
	assert_int_equal(zmq_send(f->router, "", 0, ZMQ_SNDMORE), 0);
	assert_int_equal(zmq_send(f->router, "short", 5, ZMQ_SNDMORE), 5);
	assert_int_equal(zmq_send(f->router, "\0\2OK", 4, 0), 4);
	assert_int_equal(msb_producer_poll(p, WAIT_MS), MSB_ERROR);
	assert_non_null(strstr(msb_producer_error(p), "header of 5 bytes"));
	memset(id, 0, sizeof(id));
	id[7] = 9;
	memcpy(q.id, id, 8);
	fake_reply(f, &q, "OK");
	assert_int_equal(msb_producer_poll(p, WAIT_MS), MSB_ERROR);
	assert_non_null(strstr(msb_producer_error(p), "1 from record 9"));
	assert_int_equal(r->n, 1);

	/* A late reply (record 1 again) is ignored; then the batch's. */
	fake_reply_names(f, 1, 1, 1, ok);
	fake_reply_batch(f, &qb, 2, ok);
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_OK);
	assert_all_ok(r, 3);
	msb_producer_close(p);
	free(r);
}

/*
 * The poll that reads the malformed reply naming record 9 (never sent):
 * refused (MSB_ERROR, EPROTO, said why), no callback made, n records
 * still outstanding (none dropped with it).
 */
static void
assert_refused_record_9(struct msb_producer *p, const struct replies *r,
    uint32_t n)
{
	errno = 0;
	assert_int_equal(msb_producer_poll(p, 0), MSB_ERROR);
	assert_int_equal(errno, EPROTO);
	assert_non_null(strstr(msb_producer_error(p), "1 from record 9"));
	assert_int_equal(r->n, 0);
	assert_int_equal(msb_producer_outstanding(p), n);
}

/*
 * A malformed reply read while the held batch waits to go (its send
 * found the end of the connection and reads what came before it): the
 * reply is refused (MSB_ERROR, EPROTO), but the batch is not dropped
 * with it. It goes with the next call, on the next connection, and its
 * records get their own replies, not "no-reply".
 */
static void
a_malformed_reply_keeps_the_held_batch(void **state)
{
	struct fake *f = *state;
	struct replies *r = calloc(1, sizeof(*r));
	struct msb_producer *p;
	const char *const recs[] = { "b", "c" };
	const char *const st[] = { "OK" };
	struct request q;
	void *ctx = zmq_ctx_new();

	fake_own(f, ctx);
	p = open_piling(f, 16, r);
	msb_producer_set_reply_timeout(p, HANG_MS * tu_time_factor());
	assert_int_equal(msb_producer_send(p, "a", 1, NULL), MSB_OK);
	assert_true(fake_recv(f, &q, WAIT_MS));
	for (int i = 0; i < 2; i++)
		assert_int_equal(msb_producer_send(p, recs[i], 1, NULL),
		    MSB_OK);
	fake_reply_names(f, 9, 1, 1, st);	/* never sent */
	fake_reply(f, &q, "OK");
	fake_go(f, ctx);

	assert_refused_record_9(p, r, 3);

	/* The reply to "a" is read, the batch goes on the new connection. */
	assert_int_equal(msb_producer_poll(p, 0), 1);
	assert_true(fake_recv(f, &q, WAIT_MS));
	assert_batch(&q, 2, 2, recs);
	fake_reply_batch(f, &q, 1, st);
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_OK);
	assert_all_ok(r, 3);
	msb_producer_close(p);
	free(r);
}

/*
 * The same for held records going alone (batching turned off while they
 * were held): "b" and a 12 MB record go, "d" waits for room (the fake
 * reads no more: the link's 8 MiB queue is full) and the malformed
 * reply comes meanwhile. "d" stays held, and what goes as record 4 with
 * the next calls, once the fake reads again, is "d", not a record sent
 * already.
 */
static void
a_malformed_reply_keeps_the_held_records(void **state)
{
	struct fake *f = *state;
	struct replies *r = calloc(1, sizeof(*r));
	struct msb_producer *p;
	struct reader_run w = { .f = f, .until = 4 };
	const char *const st[] = { "OK" };
	static char big[12 << 20];
	struct request q;
	int one = 1, linger = 0;
	pthread_t t;

	/* A streammgr that takes one message and then reads no more. */
	zmq_close(f->router);
	f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
	zmq_setsockopt(f->router, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(f->router, ZMQ_RCVHWM, &one, sizeof(one));
	assert_int_equal(zmq_bind(f->router, f->endpoint), 0);
	p = open_batching(f, 16, r);
	msb_producer_set_reply_timeout(p, HANG_MS * tu_time_factor());
	msb_producer_set_batch(p, 64u << 20, HOUR_MS);
	memset(big, 'x', sizeof(big));
	assert_int_equal(msb_producer_send(p, "a", 1, NULL), MSB_OK);
	assert_true(fake_recv(f, &q, WAIT_MS));
	assert_int_equal(msb_producer_send(p, "b", 1, NULL), MSB_OK);
	assert_int_equal(msb_producer_send(p, big, sizeof(big), NULL), MSB_OK);
	assert_int_equal(msb_producer_send(p, "d", 1, NULL), MSB_OK);
	fake_reply_names(f, 9, 1, 1, st);	/* never sent */
	msb_producer_set_batch(p, 0, -1);

	assert_refused_record_9(p, r, 4);

	/* The fake reads again; what waits goes out in producer calls. */
	assert_int_equal(pthread_create(&t, NULL, read_until, &w), 0);
	while (!atomic_load(&w.done))
		assert_true(msb_producer_poll(p, 100) >= 0);
	pthread_join(t, NULL);
	assert_true(w.got);
	assert_int_equal(w.q.len, 1);
	assert_memory_equal(w.q.payload, "d", 1);
	fake_reply_names(f, 1, 4, 1, st);	/* one status for all */
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_OK);
	assert_all_ok(r, 4);
	msb_producer_close(p);
	free(r);
}

/*
 * A poll that makes a callback and then reads a malformed reply: it
 * returns the callback made (1), which the app would lose with
 * MSB_ERROR; the next call says the refusal (MSB_ERROR, EPROTO, and
 * why), once: the one after works as before. streammgr's going makes
 * both replies be in the socket before the poll.
 */
static void
a_poll_counts_its_callbacks_before_a_malformed_reply(void **state)
{
	struct fake *f = *state;
	struct replies *r = calloc(1, sizeof(*r));
	struct msb_producer *p;
	const char *const st[] = { "OK" };
	struct request q;
	void *ctx = zmq_ctx_new();

	fake_own(f, ctx);
	p = open_piling(f, 16, r);
	msb_producer_set_reply_timeout(p, HANG_MS * tu_time_factor());
	assert_int_equal(msb_producer_send(p, "a", 1, NULL), MSB_OK);
	assert_true(fake_recv(f, &q, WAIT_MS));
	fake_reply(f, &q, "OK");
	fake_reply_names(f, 9, 1, 1, st);	/* never sent */
	fake_go(f, ctx);

	assert_int_equal(msb_producer_poll(p, WAIT_MS), 1);
	assert_all_ok(r, 1);
	errno = 0;
	assert_int_equal(msb_producer_poll(p, 0), MSB_ERROR);
	assert_int_equal(errno, EPROTO);
	assert_non_null(strstr(msb_producer_error(p), "a malformed reply "
	    "from streammgr, ignored: 1 from record 9"));
	assert_int_equal(msb_producer_poll(p, 0), 0);
	assert_int_equal(msb_producer_send(p, "b", 1, NULL), MSB_OK);
	assert_true(fake_recv(f, &q, WAIT_MS));
	fake_reply(f, &q, "OK");
	assert_int_equal(msb_producer_flush(p, WAIT_MS), MSB_OK);
	assert_all_ok(r, 2);
	msb_producer_close(p);
	free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(replies_reach_the_right_seq,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_full_window_blocks_then_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_full_window_waits_for_replies, setup, teardown),
		cmocka_unit_test_setup_teardown(a_missing_socket_says_so,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(no_streammgr_send_times_out,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_connection_end_writes_off_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_connection_end_while_sending_writes_off_at_once, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(records_pile_up_into_batches,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_batch_goes_once_its_linger_has_passed, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_protocol_1_streammgr_turns_batching_off, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    held_records_go_alone_before_the_next, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    replies_to_held_records_sent_alone_count, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_batch_written_off_while_waiting_is_not_sent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    a_callback_may_close_its_producer, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    records_written_off_at_the_timeout_do_not_go_out, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(a_reply_before_the_end_counts,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    replies_before_the_end_count_when_a_send_finds_it, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    a_reply_before_the_end_counts_when_a_batch_finds_it, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    a_reply_before_the_end_counts_after_the_reply_timeout,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    replies_that_came_count_when_the_window_is_full, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(a_malformed_reply_is_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_malformed_reply_keeps_the_held_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_malformed_reply_keeps_the_held_records, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_poll_counts_its_callbacks_before_a_malformed_reply, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
