/*
 * Stream apps against a fake streammgr: a ROUTER bound on an ipc path in
 * a fresh folder, as streammgr's work socket is. The tests check the
 * frames streammgr would see (HELLO with the feature "batch", batched
 * big-endian ACKs, ACKR ranges once streammgr has sent a batch, NACK and
 * REJECT with their reasons, BYE) and what the app gets back (messages,
 * one by one out of a batched delivery,
 * MSB_STOPPED after a stop, MSB_ERROR on ERR and on the end of the
 * connection, a connection made once streammgr listens; recv_batch out
 * of memory hands out what it kept and keeps the rest; recv(-1) waiting
 * on while streammgr does not read the acks). Most tests drive the fake
 * from the test's own thread, step by step; a fake in a thread plays
 * streammgr when the app must block (credit, a signal on another thread).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mysimbdp.h>
#include <zmq.h>

#include "util.h"

#define WAIT_MS	5000		/* for anything that should come at once */
#define HANG_MS	10000		/* x the time factor: what only a hang takes */
#define BASE_ID	UINT64_C(0x0102030405060700)	/* tells byte orders apart */

#define MAX_FRAMES 6
#define MAX_FRAME 9000		/* an ACK frame holds up to 1024 ids */

/* One multipart message as the fake received it (routing id removed). */
struct frames {
	int		 n;
	size_t		 len[MAX_FRAMES];
	unsigned char	 data[MAX_FRAMES][MAX_FRAME];
};

struct fake {
	char		*dir;
	char		*endpoint;	/* ipc://<dir>/default.work */
	void		*ctx;
	void		*router;	/* NULL once "gone" */
	unsigned char	 rid[256];	/* the instance's routing id */
	size_t		 ridlen;
};

static int
setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	int linger = 0;

	f->dir = tu_mkdtemp("stream");
	if (asprintf(&f->endpoint, "ipc://%s/default.work", f->dir) == -1)
		return -1;
	f->ctx = zmq_ctx_new();
	f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
	zmq_setsockopt(f->router, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_bind(f->router, f->endpoint) == -1)
		return -1;
	/* Each test starts with the stop signals as a fresh app has them. */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	*state = f;
	return 0;
}

static void
fake_gone(struct fake *f)
{
	if (f->router != NULL)
		zmq_close(f->router);
	f->router = NULL;
}

static int
teardown(void **state)
{
	struct fake *f = *state;

	fake_gone(f);
	zmq_ctx_term(f->ctx);
	tu_rmtree(f->dir);
	free(f->endpoint);
	free(f->dir);
	free(f);
	return 0;
}

/* Receives one message within ms; false if none came. */
static bool
fake_recv(struct fake *f, struct frames *m, long ms)
{
	zmq_pollitem_t item = { .socket = f->router, .events = ZMQ_POLLIN };
	unsigned char buf[MAX_FRAME];
	size_t sz;
	int more, n;

	if (zmq_poll(&item, 1, ms) <= 0)
		return false;
	n = zmq_recv(f->router, f->rid, sizeof(f->rid), 0);
	if (n <= 0)
		return false;
	f->ridlen = (size_t)n;
	m->n = 0;
	do {
		n = zmq_recv(f->router, buf, sizeof(buf), 0);
		if (n < 0 || n > MAX_FRAME)
			return false;
		if (m->n < MAX_FRAMES) {
			memcpy(m->data[m->n], buf, (size_t)n);
			m->len[m->n++] = (size_t)n;
		}
		more = 0;
		sz = sizeof(more);
		zmq_getsockopt(f->router, ZMQ_RCVMORE, &more, &sz);
	} while (more);
	return true;
}

/* Frame i of m is the text s. */
static bool
frame_is(const struct frames *m, int i, const char *s)
{
	return i < m->n && m->len[i] == strlen(s) &&
	    memcmp(m->data[i], s, m->len[i]) == 0;
}

static uint64_t
be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

/* Sends [id][payload] to the instance, as streammgr delivers. */
static void
fake_deliver(struct fake *f, uint64_t id, const char *payload)
{
	unsigned char idbuf[8];

	put_be64(idbuf, id);
	assert_int_equal(zmq_send(f->router, f->rid, f->ridlen, ZMQ_SNDMORE),
	    (int)f->ridlen);
	assert_int_equal(zmq_send(f->router, idbuf, 8, ZMQ_SNDMORE), 8);
	assert_int_equal(zmq_send(f->router, payload, strlen(payload), 0),
	    (int)strlen(payload));
}

/*
 * Sends [""][deliveries] (protocol 2): n payloads with ids from first,
 * each u64 id, u32 length, bytes; cut bytes short of the end.
 */
static void
fake_deliver_batch(struct fake *f, uint64_t first, int n,
    const char *const *payloads, size_t cut)
{
	unsigned char buf[4096];
	size_t len = 0, pl;

	for (int i = 0; i < n; i++) {
		pl = strlen(payloads[i]);
		put_be64(buf + len, first + (uint64_t)i);
		buf[len + 8] = buf[len + 9] = buf[len + 10] = 0;
		buf[len + 11] = (unsigned char)pl;
		memcpy(buf + len + 12, payloads[i], pl);
		len += 12 + pl;
	}
	assert_int_equal(zmq_send(f->router, f->rid, f->ridlen, ZMQ_SNDMORE),
	    (int)f->ridlen);
	assert_int_equal(zmq_send(f->router, "", 0, ZMQ_SNDMORE), 0);
	assert_int_equal(zmq_send(f->router, buf, len - cut, 0),
	    (int)(len - cut));
}

/* Sends a one-frame control answer ("BYE", "ERR ..."). */
static void
fake_say(struct fake *f, const char *text)
{
	assert_int_equal(zmq_send(f->router, f->rid, f->ridlen, ZMQ_SNDMORE),
	    (int)f->ridlen);
	assert_int_equal(zmq_send(f->router, text, strlen(text), 0),
	    (int)strlen(text));
}

/* Opens a stream and takes its HELLO. */
static struct msb_stream *
open_stream(struct fake *f, uint32_t credit)
{
	struct msb_stream *s;
	struct frames m;
	char err[256];

	if (msb_stream_open(&s, f->endpoint, "default-1", credit, err,
	    sizeof(err)) != MSB_OK)
		fail_msg("open: %s", err);
	if (!fake_recv(f, &m, WAIT_MS))
		fail_msg("no HELLO");
	assert_true(frame_is(&m, 0, "HELLO"));
	return s;
}

static void
expect_message(struct msb_stream *s, uint64_t id, const char *payload)
{
	struct msb_message msg;
	int rc;

	rc = msb_stream_recv(s, &msg, WAIT_MS);
	if (rc != MSB_OK)
		fail_msg("recv: %d (%s) waiting for %llx", rc,
		    msb_stream_error(s), (unsigned long long)id);
	assert_int_equal(msg.id, id);
	assert_int_equal(msg.len, strlen(payload));
	assert_memory_equal(msg.data, payload, msg.len);
}

static void
hello_names_instance_and_credit(void **state)
{
	struct fake *f = *state;
	struct msb_stream *s;
	struct frames m;
	char err[256];

	assert_int_equal(msb_stream_open(&s, f->endpoint, "default-1", 8, err,
	    sizeof(err)), MSB_OK);
	assert_true(fake_recv(f, &m, WAIT_MS));
	assert_int_equal(m.n, 4);
	assert_true(frame_is(&m, 0, "HELLO"));
	assert_true(frame_is(&m, 1, "default-1"));
	assert_true(frame_is(&m, 2, "8"));
	assert_true(frame_is(&m, 3, "batch"));
	msb_stream_close(s);

	/* Credit 0 is the default, 1024. */
	assert_int_equal(msb_stream_open(&s, f->endpoint, "default-2", 0, err,
	    sizeof(err)), MSB_OK);
	assert_true(fake_recv(f, &m, WAIT_MS));
	assert_true(frame_is(&m, 1, "default-2"));
	assert_true(frame_is(&m, 2, "1024"));
	msb_stream_close(s);
}

static void
batched_deliveries_come_one_by_one(void **state)
{
	struct fake *f = *state;
	/* Credit 64: 16 acks per frame, so flush decides when they go. */
	struct msb_stream *s = open_stream(f, 64);
	const char *const p[] = { "one", "", "three", "four" };
	struct msb_message msg;
	struct frames m;

	fake_deliver_batch(f, BASE_ID + 1, 3, p, 0);
	fake_deliver(f, BASE_ID + 9, "alone");
	for (int i = 0; i < 3; i++)
		expect_message(s, BASE_ID + 1 + (uint64_t)i, p[i]);
	expect_message(s, BASE_ID + 9, "alone");

	/*
	 * Streammgr batches, so it reads ranges: the acks 1, 2, 3 and 9 go
	 * as [ACKR][1..3, 9..9] when they are shorter so (four ids: 32
	 * bytes as ids, 32 as two ranges, so ids), then as ranges.
	 */
	for (int i = 0; i < 3; i++)
		assert_int_equal(msb_stream_ack(s, BASE_ID + 1 + (uint64_t)i),
		    MSB_OK);
	assert_int_equal(msb_stream_ack(s, BASE_ID + 9), MSB_OK);
	assert_int_equal(msb_stream_flush(s), MSB_OK);
	assert_true(fake_recv(f, &m, WAIT_MS));
	assert_true(frame_is(&m, 0, "ACK"));
	assert_int_equal(m.len[1], 32);

	fake_deliver_batch(f, BASE_ID + 20, 4, p, 0);
	for (int i = 0; i < 4; i++)
		expect_message(s, BASE_ID + 20 + (uint64_t)i, p[i]);
	for (int i = 0; i < 4; i++)
		assert_int_equal(msb_stream_ack(s, BASE_ID + 20 + (uint64_t)i),
		    MSB_OK);
	assert_int_equal(msb_stream_flush(s), MSB_OK);
	assert_true(fake_recv(f, &m, WAIT_MS));
	assert_true(frame_is(&m, 0, "ACKR"));
	assert_int_equal(m.n, 2);
	assert_int_equal(m.len[1], 16);
	assert_int_equal(be64(m.data[1]), BASE_ID + 20);
	assert_int_equal(be64(m.data[1] + 8), BASE_ID + 23);

	/* A batch cut short: what is whole comes, the rest is dropped. */
	fake_deliver_batch(f, BASE_ID + 30, 2, p, 1);
	fake_deliver(f, BASE_ID + 40, "after");
	expect_message(s, BASE_ID + 30, "one");
	expect_message(s, BASE_ID + 40, "after");
	assert_int_equal(msb_stream_recv(s, &msg, 0), MSB_TEMPFAIL);
	msb_stream_close(s);
}

static void
bad_arguments_say_why(void **state)
{
	struct fake *f = *state;
	struct msb_stream *s = (struct msb_stream *)1;
	struct msb_env env = { .kind = MSB_APP_BATCH, .instance = "j" };
	char err[256];

	assert_int_equal(msb_stream_open(&s, f->endpoint, "default-1", 70000,
	    err, sizeof(err)), MSB_ERROR);
	assert_null(s);
	assert_string_equal(err, "stream: credit 70000: must be 1 to 65536");
	assert_int_equal(msb_stream_open(&s, f->endpoint, "", 1, err,
	    sizeof(err)), MSB_ERROR);
	assert_non_null(strstr(err, "MYSIMBDP_INSTANCE"));
	assert_int_equal(msb_stream_open(&s, "bogus://x", "default-1", 1, err,
	    sizeof(err)), MSB_ERROR);
	assert_non_null(strstr(err, "bogus://x: must be ipc://PATH"));
	assert_int_equal(msb_stream_open_env(&s, &env, 0, err, sizeof(err)),
	    MSB_ERROR);
	assert_non_null(strstr(err, "ZMQ_STREAM_ENDPOINT"));

	/* A failed open leaves the signals as they were. */
	assert_true(signal(SIGTERM, SIG_DFL) == SIG_DFL);

	assert_int_equal(msb_exit_code(MSB_STOPPED), 0);
	assert_string_equal(msb_strerror(MSB_STOPPED), "stopped as asked");
	msb_stream_close(NULL);
}

/*
 * The fake streammgr of acks_free_credit: it never lets the instance hold
 * more than the credit, and sends more only as acks come back.
 */
struct credit_run {
	struct fake	*f;
	uint32_t	 credit;
	int		 total;
	int		 acked;
	int		 ack_frames;
	size_t		 max_batch;
	int		 max_inflight;
	bool		 bad_order;	/* an ack id not the next one */
	bool		 unexpected;	/* a frame that is not an ACK */
	bool		 stalled;	/* no ack within WAIT_MS */
};

static void *
credit_fake(void *arg)
{
	struct credit_run *r = arg;
	struct frames *m = malloc(sizeof(*m));
	int sent = 0, inflight = 0;
	char payload[32];

	while (r->acked < r->total) {
		while (inflight < (int)r->credit && sent < r->total) {
			snprintf(payload, sizeof(payload), "m%d", sent);
			fake_deliver(r->f, BASE_ID + (uint64_t)sent, payload);
			sent++;
			if (++inflight > r->max_inflight)
				r->max_inflight = inflight;
		}
		if (!fake_recv(r->f, m, WAIT_MS)) {
			r->stalled = true;
			break;
		}
		if (m->n != 2 || !frame_is(m, 0, "ACK") || m->len[1] == 0 ||
		    m->len[1] % 8 != 0) {
			r->unexpected = true;
			break;
		}
		for (size_t i = 0; i < m->len[1] / 8; i++)
			if (be64(m->data[1] + 8 * i) !=
			    BASE_ID + (uint64_t)r->acked++)
				r->bad_order = true;
		inflight -= (int)(m->len[1] / 8);
		r->ack_frames++;
		if (m->len[1] / 8 > r->max_batch)
			r->max_batch = m->len[1] / 8;
	}
	free(m);
	return NULL;
}

static void
acks_free_credit_in_batches(void **state)
{
	struct fake *f = *state;
	struct credit_run r = { .f = f, .credit = 12, .total = 40 };
	struct msb_stream *s = open_stream(f, r.credit);
	pthread_t t;
	char payload[32];

	assert_int_equal(pthread_create(&t, NULL, credit_fake, &r), 0);
	for (int i = 0; i < r.total; i++) {
		snprintf(payload, sizeof(payload), "m%d", i);
		expect_message(s, BASE_ID + (uint64_t)i, payload);
		assert_int_equal(msb_stream_ack(s, BASE_ID + (uint64_t)i),
		    MSB_OK);
	}
	/*
	 * Batches of 12/4 = 3 ids; the last one is sent by flush, and a recv
	 * about to wait sends a partial one.
	 */
	assert_int_equal(msb_stream_flush(s), MSB_OK);
	pthread_join(t, NULL);
	assert_false(r.stalled);
	assert_false(r.unexpected);
	assert_false(r.bad_order);
	assert_int_equal(r.acked, r.total);
	assert_int_equal(r.max_inflight, (int)r.credit);
	assert_true(r.max_batch >= 1 && r.max_batch <= 3);
	assert_true(r.ack_frames >= 14);
	msb_stream_close(s);
}

static void
nack_and_reject_carry_reasons(void **state)
{
	struct fake *f = *state;
	struct msb_stream *s = open_stream(f, 8);	/* acks 2 at a time */
	struct frames m;

	fake_deliver(f, BASE_ID + 1, "{\"id\":1}");
	fake_deliver(f, BASE_ID + 2, "{\"id\":2}");
	fake_deliver(f, BASE_ID + 3, "not json");
	fake_deliver(f, BASE_ID + 4, "{\"id\":4}");
	expect_message(s, BASE_ID + 1, "{\"id\":1}");
	assert_int_equal(msb_stream_ack(s, BASE_ID + 1), MSB_OK);
	expect_message(s, BASE_ID + 2, "{\"id\":2}");
	assert_int_equal(msb_stream_nack(s, BASE_ID + 2, "sink: timeout"),
	    MSB_OK);
	expect_message(s, BASE_ID + 3, "not json");
	assert_int_equal(msb_stream_reject(s, BASE_ID + 3,
	    "not-json: unexpected 'n'"), MSB_OK);
	expect_message(s, BASE_ID + 4, "{\"id\":4}");
	assert_int_equal(msb_stream_nack(s, BASE_ID + 4, NULL), MSB_OK);

	/* The queued ack goes out before the nack. */
	assert_true(fake_recv(f, &m, WAIT_MS));
	assert_int_equal(m.n, 2);
	assert_true(frame_is(&m, 0, "ACK"));
	assert_int_equal(m.len[1], 8);
	assert_int_equal(be64(m.data[1]), BASE_ID + 1);

	assert_true(fake_recv(f, &m, WAIT_MS));
	assert_int_equal(m.n, 3);
	assert_true(frame_is(&m, 0, "NACK"));
	assert_int_equal(m.len[1], 8);
	assert_int_equal(be64(m.data[1]), BASE_ID + 2);
	assert_true(frame_is(&m, 2, "sink: timeout"));

	assert_true(fake_recv(f, &m, WAIT_MS));
	assert_int_equal(m.n, 3);
	assert_true(frame_is(&m, 0, "REJECT"));
	assert_int_equal(be64(m.data[1]), BASE_ID + 3);
	assert_true(frame_is(&m, 2, "not-json: unexpected 'n'"));

	/* Without a reason, the reason frame is left out. */
	assert_true(fake_recv(f, &m, WAIT_MS));
	assert_int_equal(m.n, 2);
	assert_true(frame_is(&m, 0, "NACK"));
	assert_int_equal(be64(m.data[1]), BASE_ID + 4);
	msb_stream_close(s);
}

static void
waiting_flushes_acks(void **state)
{
	struct fake *f = *state;
	struct msb_stream *s = open_stream(f, 64);	/* acks 16 at a time */
	struct msb_message msg;
	struct frames m;
	int64_t start;

	fake_deliver(f, BASE_ID, "x");
	expect_message(s, BASE_ID, "x");
	assert_int_equal(msb_stream_ack(s, BASE_ID), MSB_OK);
	/* Nothing more: timeout 0 does not wait, but the ack goes out. */
	assert_int_equal(msb_stream_recv(s, &msg, 0), MSB_TEMPFAIL);
	assert_true(fake_recv(f, &m, WAIT_MS));
	assert_true(frame_is(&m, 0, "ACK"));
	assert_int_equal(be64(m.data[1]), BASE_ID);

	start = tu_now_ms();
	assert_int_equal(msb_stream_recv(s, &msg, 100), MSB_TEMPFAIL);
	assert_true(tu_now_ms() - start >= 100);
	assert_false(fake_recv(f, &m, 0));	/* no empty ACK */

	/* Closing sends what is queued. */
	assert_int_equal(msb_stream_ack(s, BASE_ID + 7), MSB_OK);
	msb_stream_close(s);
	assert_true(fake_recv(f, &m, WAIT_MS));
	assert_true(frame_is(&m, 0, "ACK"));
	assert_int_equal(be64(m.data[1]), BASE_ID + 7);
}

static void
sigterm_says_bye_and_drains(void **state)
{
	struct fake *f = *state;
	struct msb_stream *s = open_stream(f, 8);
	struct msb_message msg;
	struct frames m;

	fake_deliver(f, BASE_ID + 1, "one");
	fake_deliver(f, BASE_ID + 2, "two");
	fake_deliver(f, BASE_ID + 3, "three");
	expect_message(s, BASE_ID + 1, "one");
	assert_int_equal(msb_stream_ack(s, BASE_ID + 1), MSB_OK);
	assert_false(msb_stream_stopping(s));

	assert_int_equal(raise(SIGTERM), 0);	/* the handler only notes it */
	assert_true(msb_stream_stopping(s));

	/* What had arrived is still the app's. */
	expect_message(s, BASE_ID + 2, "two");
	expect_message(s, BASE_ID + 3, "three");

	/* The queued ack, then BYE, once. */
	assert_true(fake_recv(f, &m, WAIT_MS));
	assert_true(frame_is(&m, 0, "ACK"));
	assert_int_equal(be64(m.data[1]), BASE_ID + 1);
	assert_true(fake_recv(f, &m, WAIT_MS));
	assert_int_equal(m.n, 1);
	assert_true(frame_is(&m, 0, "BYE"));

	/* A delivery already on its way, then the answer. */
	fake_deliver(f, BASE_ID + 4, "four");
	fake_say(f, "BYE");
	expect_message(s, BASE_ID + 4, "four");
	assert_int_equal(msb_stream_recv(s, &msg, WAIT_MS), MSB_STOPPED);
	assert_int_equal(msb_stream_recv(s, &msg, -1), MSB_STOPPED);
	assert_false(fake_recv(f, &m, 0));	/* BYE was said once */

	/* Messages got before the answer may still be acked. */
	assert_int_equal(msb_stream_ack(s, BASE_ID + 2), MSB_OK);
	msb_stream_close(s);
	assert_true(fake_recv(f, &m, WAIT_MS));
	assert_true(frame_is(&m, 0, "ACK"));
	assert_int_equal(be64(m.data[1]), BASE_ID + 2);

	/* The last close gave SIGTERM back. */
	assert_true(signal(SIGTERM, SIG_DFL) == SIG_DFL);
}

/*
 * A signal taken by another thread of the app: the thread raises SIGTERM
 * at itself (so the handler runs there, not where msb_stream_recv waits)
 * and then plays streammgr's part.
 */
struct signal_run {
	struct fake	*f;
	pid_t		 waiter;	/* the thread in msb_stream_recv */
	bool		 got_bye;
};

/* Waits (bounded) until thread tid sleeps, i.e. it is in poll. */
static void
until_sleeping(pid_t tid)
{
	char path[64], buf[512], *p;
	int64_t start = tu_now_ms();
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	while (tu_now_ms() - start < WAIT_MS * tu_time_factor()) {
		if ((fp = fopen(path, "r")) == NULL)
			return;
		p = fgets(buf, sizeof(buf), fp);
		fclose(fp);
		if (p != NULL && (p = strrchr(buf, ')')) != NULL &&
		    p[1] == ' ' && p[2] == 'S')
			return;
		sched_yield();
	}
}

static void *
signal_thread(void *arg)
{
	struct signal_run *r = arg;
	struct frames *m = malloc(sizeof(*m));

	until_sleeping(r->waiter);
	raise(SIGTERM);
	if (fake_recv(r->f, m, WAIT_MS) && frame_is(m, 0, "BYE")) {
		r->got_bye = true;
		fake_say(r->f, "BYE");
	}
	free(m);
	return NULL;
}

static void
signal_on_another_thread_wakes_recv(void **state)
{
	struct fake *f = *state;
	struct msb_stream *s = open_stream(f, 8);
	struct signal_run r = { .f = f, .waiter = (pid_t)syscall(SYS_gettid) };
	struct msb_message msg;
	pthread_t t;
	int rc;

	assert_int_equal(pthread_create(&t, NULL, signal_thread, &r), 0);
	rc = msb_stream_recv(s, &msg, WAIT_MS);
	pthread_join(t, NULL);
	assert_true(r.got_bye);
	assert_int_equal(rc, MSB_STOPPED);
	msb_stream_close(s);
}

/*
 * A pool of workers settles what the reader got (the acks safe on any
 * thread, also while recv waits). The wake: with the whole credit
 * handed to a worker, the reader waits in recv for the next message,
 * which streammgr sends only once acks come back; the worker's acks,
 * queued while recv polls, must wake it to send them (not wait for its
 * timeout).
 */
#define WAKE_CREDIT	8

struct wake_run {
	struct fake		*f;
	struct msb_stream	*s;
	pid_t			 reader;
	uint64_t		 ids[WAKE_CREDIT];
	int			 ack_rc;	/* the first ack that failed */
	int			 acked;		/* as the fake saw them */
};

static void *
wake_worker(void *arg)
{
	struct wake_run *r = arg;
	struct frames *m = malloc(sizeof(*m));
	int rc;

	until_sleeping(r->reader);	/* in recv's poll */
	for (int i = 0; i < WAKE_CREDIT; i++)
		if ((rc = msb_stream_ack(r->s, r->ids[i])) != MSB_OK &&
		    r->ack_rc == MSB_OK)
			r->ack_rc = rc;
	/* Playing streammgr: the next delivery once all are acked. */
	while (r->acked < WAKE_CREDIT &&
	    fake_recv(r->f, m, WAIT_MS * tu_time_factor()) &&
	    frame_is(m, 0, "ACK"))
		r->acked += (int)(m->len[1] / 8);
	if (r->acked == WAKE_CREDIT)
		fake_deliver(r->f, BASE_ID + WAKE_CREDIT, "next");
	free(m);
	return NULL;
}

static void
acks_on_another_thread_wake_recv(void **state)
{
	struct fake *f = *state;
	struct msb_stream *s = open_stream(f, WAKE_CREDIT);
	struct wake_run r = { .f = f, .s = s,
	    .reader = (pid_t)syscall(SYS_gettid) };
	struct msb_message msg;
	char payload[32];
	pthread_t t;
	int rc;

	for (int i = 0; i < WAKE_CREDIT; i++) {
		snprintf(payload, sizeof(payload), "m%d", i);
		fake_deliver(f, BASE_ID + (uint64_t)i, payload);
	}
	for (int i = 0; i < WAKE_CREDIT; i++) {
		snprintf(payload, sizeof(payload), "m%d", i);
		expect_message(s, BASE_ID + (uint64_t)i, payload);
		r.ids[i] = BASE_ID + (uint64_t)i;
	}
	assert_int_equal(pthread_create(&t, NULL, wake_worker, &r), 0);
	rc = msb_stream_recv(s, &msg, (int)(HANG_MS * tu_time_factor()));
	pthread_join(t, NULL);
	if (rc != MSB_OK)
		fail_msg("recv while a worker acked: %d (%s), not the next "
		    "message (streammgr saw %d acks)", rc, msb_stream_error(s),
		    r.acked);
	assert_int_equal(r.ack_rc, MSB_OK);
	assert_int_equal(r.acked, WAKE_CREDIT);
	assert_int_equal(msg.id, BASE_ID + WAKE_CREDIT);
	assert_memory_equal(msg.data, "next", msg.len);
	msb_stream_close(s);
}

/*
 * poll as the C library's, except once in the thread poll_hold_tid names
 * (armed: non-zero), after a poll its last descriptor (recv's wake-up)
 * ended: it says so (poll_held) and waits for poll_go, then until its
 * first descriptor (the connection) is readable. A wake-up and a
 * delivery then land in one wait of recv, whatever the scheduler does.
 */
static _Atomic pid_t poll_hold_tid;
static atomic_int poll_held, poll_go;

/* Until *flag is set, or WAIT_MS (x the time factor). */
static bool
until_set(atomic_int *flag)
{
	int64_t start = tu_now_ms();

	while (!atomic_load(flag))
		if (tu_now_ms() - start > WAIT_MS * tu_time_factor())
			return false;
		else
			sched_yield();
	return true;
}

int
poll(struct pollfd *fds, nfds_t n, int timeout)
{
	static int (*real)(struct pollfd *, nfds_t, int);
	struct pollfd conn;
	int rc, saved;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "poll");
	rc = real(fds, n, timeout);
	if (rc <= 0 || n < 2 || atomic_load(&poll_hold_tid) !=
	    (pid_t)syscall(SYS_gettid) || !(fds[n - 1].revents & POLLIN))
		return rc;
	saved = errno;
	atomic_store(&poll_hold_tid, 0);
	atomic_store(&poll_held, 1);
	if (until_set(&poll_go)) {
		conn = (struct pollfd){ .fd = fds[0].fd, .events = POLLIN };
		(void)real(&conn, 1, (int)(WAIT_MS * tu_time_factor()));
	}
	errno = saved;
	return rc;
}

struct nack_run {
	struct fake		*f;
	struct msb_stream	*s;
	pid_t			 reader;
	int			 nack_rc;
	bool			 held;		/* recv woken by the NACK */
	bool			 got_nack;	/* streammgr had it */
};

static void *
nack_worker(void *arg)
{
	struct nack_run *r = arg;
	struct frames *m = malloc(sizeof(*m));

	until_sleeping(r->reader);	/* in recv's poll */
	r->nack_rc = msb_stream_nack(r->s, BASE_ID, "again");
	r->held = until_set(&poll_held);
	fake_deliver(r->f, BASE_ID + 1, "second");
	atomic_store(&poll_go, 1);
	/* Before recv is called again: nothing else would send it. */
	r->got_nack = m != NULL && fake_recv(r->f, m,
	    WAIT_MS * tu_time_factor()) && frame_is(m, 0, "NACK") &&
	    m->len[1] == 8 && be64(m->data[1]) == BASE_ID;
	free(m);
	return NULL;
}

/*
 * A worker's NACK queued while recv waits goes out when recv wakes, also
 * when a delivery came with the wake-up (recv then returns it at once):
 * not only once recv next finds nothing to read.
 */
static void
nack_on_another_thread_goes_at_the_wake(void **state)
{
	struct fake *f = *state;
	struct msb_stream *s = open_stream(f, 8);
	struct nack_run r = { .f = f, .s = s,
	    .reader = (pid_t)syscall(SYS_gettid) };
	struct msb_message msg;
	char err[512];
	pthread_t t;
	int rc;

	fake_deliver(f, BASE_ID, "first");
	expect_message(s, BASE_ID, "first");
	atomic_store(&poll_held, 0);
	atomic_store(&poll_go, 0);
	atomic_store(&poll_hold_tid, r.reader);
	assert_int_equal(pthread_create(&t, NULL, nack_worker, &r), 0);
	rc = msb_stream_recv(s, &msg, (int)(HANG_MS * tu_time_factor()));
	atomic_store(&poll_hold_tid, 0);
	pthread_join(t, NULL);
	/* Closed before the checks: a stream left open by a failure would
	 * keep the stop signals counted, failing a later test too. */
	snprintf(err, sizeof(err), "%s", msb_stream_error(s));
	msb_stream_close(s);
	assert_int_equal(r.nack_rc, MSB_OK);
	assert_true(r.held);
	if (rc != MSB_OK)
		fail_msg("recv: %d (%s)", rc, err);
	assert_int_equal(msg.id, BASE_ID + 1);
	if (!r.got_nack)
		fail_msg("the NACK queued while recv waited was not sent when "
		    "recv woke and returned the next delivery");
}

/*
 * Four workers ack, nack and reject thousands of messages as the reader
 * gets them, under a fake streammgr that keeps the instance at its
 * credit: each message settled once, as the worker meant it.
 */
#define POOL_TOTAL	6000
#define POOL_CREDIT	64
#define POOL_WORKERS	4

enum { SETTLE_NONE, SETTLE_ACK, SETTLE_NACK, SETTLE_REJECT };

/* How a worker settles message k. */
static int
settle_kind(uint64_t k)
{
	return k % 7 == 3 ? SETTLE_NACK : k % 11 == 5 ? SETTLE_REJECT :
	    SETTLE_ACK;
}

struct pool_run {
	struct fake		*f;
	struct msb_stream	*s;
	pthread_mutex_t		 lock;	/* over the queue of ids */
	pthread_cond_t		 more;
	uint64_t		 ids[POOL_TOTAL];
	size_t			 head, tail;
	bool			 done;	/* the reader got them all */
	int			 worker_rc;	/* the first failure */
	unsigned char		 seen[POOL_TOTAL];	/* the fake's */
	int			 settled, twice, wrong, stray;
	bool			 stalled;
};

/* A worker: settles the ids the reader queued until it is done. */
static void *
pool_worker(void *arg)
{
	struct pool_run *r = arg;
	uint64_t id;
	int rc, kind;

	for (;;) {
		pthread_mutex_lock(&r->lock);
		while (r->head == r->tail && !r->done)
			pthread_cond_wait(&r->more, &r->lock);
		if (r->head == r->tail) {
			pthread_mutex_unlock(&r->lock);
			return NULL;
		}
		id = r->ids[r->head++];
		pthread_mutex_unlock(&r->lock);
		kind = settle_kind(id - BASE_ID);
		rc = kind == SETTLE_NACK ? msb_stream_nack(r->s, id, "again") :
		    kind == SETTLE_REJECT ? msb_stream_reject(r->s, id, "bad") :
		    msb_stream_ack(r->s, id);
		if (rc != MSB_OK) {
			pthread_mutex_lock(&r->lock);
			if (r->worker_rc == MSB_OK)
				r->worker_rc = rc;
			pthread_mutex_unlock(&r->lock);
		}
	}
}

/* The fake notes id settled as kind: out of range, a stray. */
static void
pool_note(struct pool_run *r, uint64_t id, int kind)
{
	uint64_t k = id - BASE_ID;

	if (id < BASE_ID || k >= POOL_TOTAL) {
		r->stray++;
		return;
	}
	if (r->seen[k] != SETTLE_NONE)
		r->twice++;
	else if (settle_kind(k) != kind)
		r->wrong++;
	r->seen[k] = (unsigned char)kind;
	r->settled++;
}

/* Notes the ids of one frame from the instance. Returns how many. */
static int
pool_frame(struct pool_run *r, const struct frames *m)
{
	if (frame_is(m, 0, "ACK") && m->n == 2 && m->len[1] % 8 == 0) {
		for (size_t i = 0; i < m->len[1] / 8; i++)
			pool_note(r, be64(m->data[1] + 8 * i), SETTLE_ACK);
		return (int)(m->len[1] / 8);
	}
	if (m->n >= 2 && m->len[1] == 8 && (frame_is(m, 0, "NACK") ||
	    frame_is(m, 0, "REJECT"))) {
		pool_note(r, be64(m->data[1]), frame_is(m, 0, "NACK") ?
		    SETTLE_NACK : SETTLE_REJECT);
		return 1;
	}
	r->stray++;
	return 0;
}

/* streammgr: at most the credit unsettled, until all are settled. */
static void *
pool_fake(void *arg)
{
	struct pool_run *r = arg;
	struct frames *m = malloc(sizeof(*m));
	int sent = 0, inflight = 0;
	char payload[32];

	while (r->settled < POOL_TOTAL && r->stray == 0) {
		while (inflight < POOL_CREDIT && sent < POOL_TOTAL) {
			snprintf(payload, sizeof(payload), "m%d", sent);
			fake_deliver(r->f, BASE_ID + (uint64_t)sent++, payload);
			inflight++;
		}
		if (!fake_recv(r->f, m, WAIT_MS * tu_time_factor())) {
			r->stalled = true;
			break;
		}
		inflight -= pool_frame(r, m);
	}
	free(m);
	return NULL;
}

static void
a_pool_of_workers_settles_each_message_once(void **state)
{
	struct fake *f = *state;
	struct pool_run *r = calloc(1, sizeof(*r));
	pthread_t fake, workers[POOL_WORKERS];
	struct msb_message msg;
	char payload[32];
	int rc;

	r->f = f;
	r->s = open_stream(f, POOL_CREDIT);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->more, NULL);
	assert_int_equal(pthread_create(&fake, NULL, pool_fake, r), 0);
	for (int i = 0; i < POOL_WORKERS; i++)
		assert_int_equal(pthread_create(&workers[i], NULL, pool_worker,
		    r), 0);
	for (size_t n = 0; n < POOL_TOTAL; n++) {
		rc = msb_stream_recv(r->s, &msg, (int)(WAIT_MS *
		    tu_time_factor()));
		if (rc != MSB_OK)
			fail_msg("recv of message %zu: %d (%s)", n, rc,
			    msb_stream_error(r->s));
		snprintf(payload, sizeof(payload), "m%llu",
		    (unsigned long long)(msg.id - BASE_ID));
		assert_int_equal(msg.len, strlen(payload));
		assert_memory_equal(msg.data, payload, msg.len);
		pthread_mutex_lock(&r->lock);
		r->ids[r->tail++] = msg.id;
		pthread_cond_signal(&r->more);
		pthread_mutex_unlock(&r->lock);
	}
	pthread_mutex_lock(&r->lock);
	r->done = true;
	pthread_cond_broadcast(&r->more);
	pthread_mutex_unlock(&r->lock);
	for (int i = 0; i < POOL_WORKERS; i++)
		pthread_join(workers[i], NULL);
	/* The workers' last acks, queued after the reader's last recv. */
	assert_int_equal(msb_stream_flush(r->s), MSB_OK);
	pthread_join(fake, NULL);
	assert_int_equal(r->worker_rc, MSB_OK);
	assert_false(r->stalled);
	assert_int_equal(r->stray, 0);
	assert_int_equal(r->twice, 0);
	assert_int_equal(r->wrong, 0);
	assert_int_equal(r->settled, POOL_TOTAL);
	msb_stream_close(r->s);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->more);
	free(r);
}

/*
 * streammgr stops reading: once its socket's queue, the kernel's buffers
 * and the library's queue to it (1 MiB) are full, a full ack queue
 * cannot be sent, twice. The ack of that second try stays queued as the
 * header says, and goes with the other once streammgr reads again.
 */
struct reader_run {
	struct fake	*f;
	uint64_t	 last;		/* the first of the two last acks */
	bool		 got;		/* they came, together, after the rest */
	bool		 stall;		/* 3 s before reading, then a delivery */
};

static void *
reader_thread(void *arg)
{
	struct reader_run *r = arg;
	struct frames *m = malloc(sizeof(*m));
	struct timespec stall = { .tv_sec = 3 };
	uint64_t next = BASE_ID;

	if (r->stall)
		nanosleep(&stall, NULL);
	while (fake_recv(r->f, m, WAIT_MS) && frame_is(m, 0, "ACK")) {
		if (m->len[1] == 16) {
			r->got = next == r->last && be64(m->data[1]) == r->last &&
			    be64(m->data[1] + 8) == r->last + 1;
			break;
		}
		if (m->len[1] != 8 || be64(m->data[1]) != next++)
			break;		/* one lost, or out of order */
	}
	if (r->got && r->stall)
		fake_deliver(r->f, BASE_ID + 2000000, "after");
	free(m);
	return NULL;
}

/*
 * Acks until streammgr, not reading, takes no more, and one more: both
 * queued (MSB_TEMPFAIL, "is it reading?"). Returns the first of them.
 */
static uint64_t
ack_until_stuck(struct msb_stream *s)
{
	uint64_t id = BASE_ID;
	int rc;

	while ((rc = msb_stream_ack(s, id)) == MSB_OK && id < BASE_ID + 1000000)
		id++;
	assert_int_equal(rc, MSB_TEMPFAIL);
	assert_non_null(strstr(msb_stream_error(s), "is it reading?"));
	assert_int_equal(msb_stream_ack(s, id + 1), MSB_TEMPFAIL);
	return id;
}

static void
acks_stay_queued_while_streammgr_does_not_read(void **state)
{
	struct fake *f = *state;
	struct msb_stream *s = open_stream(f, 4);	/* acks 1 at a time */
	struct reader_run r = { .f = f };
	uint64_t id;
	pthread_t t;
	int rc, tries = 0;

	id = ack_until_stuck(s);	/* the fake does not read */

	/* It reads again: every ack, in order, the two last together. */
	r.last = id;
	assert_int_equal(pthread_create(&t, NULL, reader_thread, &r), 0);
	while ((rc = msb_stream_flush(s)) == MSB_TEMPFAIL && ++tries < 10)
		;
	assert_int_equal(rc, MSB_OK);
	pthread_join(t, NULL);
	assert_true(r.got);
	msb_stream_close(s);
}

/*
 * While recv(-1) waits and streammgr does not read, another thread's
 * acks queue up to the 1024 a frame holds; the next one waits 2 s for
 * room (as a send does) and fails, not queued, rather than dropping an
 * id or overrunning the queue. Once streammgr reads, every ack queued
 * comes, once and in order.
 */
struct stuck_run {
	struct msb_stream	*s;
	int			 rc;
	struct msb_message	 msg;
	atomic_int		 tid;
};

static void *
stuck_reader(void *arg)
{
	struct stuck_run *r = arg;

	atomic_store(&r->tid, (int)syscall(SYS_gettid));
	r->rc = msb_stream_recv(r->s, &r->msg, -1);
	return NULL;
}

/* The process's CPU time (user and system), ms. */
static int64_t
cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

static void
a_full_queue_waits_while_recv_waits(void **state)
{
	struct fake *f = *state;
	struct stuck_run r = { .s = open_stream(f, 4) };	/* 1 at a time */
	struct frames *m = malloc(sizeof(*m));
	uint64_t id, next = BASE_ID;
	int64_t start, cpu;	/* the acks' wall and CPU time */
	pthread_t t;
	int rc, queued = 0;
	bool in_order = true;

	id = ack_until_stuck(r.s) + 2;		/* two queued already */
	assert_int_equal(pthread_create(&t, NULL, stuck_reader, &r), 0);
	while (atomic_load(&r.tid) == 0)
		sched_yield();
	until_sleeping((pid_t)atomic_load(&r.tid));
	start = tu_now_ms();
	cpu = cpu_ms();
	while ((rc = msb_stream_ack(r.s, id + (uint64_t)queued)) == MSB_OK &&
	    queued < 2000)
		queued++;
	cpu = cpu_ms() - cpu;
	start = tu_now_ms() - start;
	assert_int_equal(rc, MSB_TEMPFAIL);
	assert_non_null(strstr(msb_stream_error(r.s), "is it reading?"));
	assert_int_equal(queued, 1024 - 2);

	/* streammgr reads again: each id up to the last queued, once. */
	while (next < id + (uint64_t)queued && in_order &&
	    fake_recv(f, m, WAIT_MS * tu_time_factor()) &&
	    frame_is(m, 0, "ACK"))
		for (size_t i = 0; i < m->len[1] / 8; i++)
			in_order &= be64(m->data[1] + 8 * i) == next++;
	assert_true(in_order);
	assert_int_equal(next, id + (uint64_t)queued);
	fake_deliver(f, BASE_ID + 3000000, "after");
	pthread_join(t, NULL);
	assert_int_equal(r.rc, MSB_OK);
	assert_int_equal(r.msg.id, BASE_ID + 3000000);
	free(m);
	msb_stream_close(r.s);
	/* The wait for room sleeps: recv and the acker not taking turns. */
	if (cpu > start / 4)
		fail_msg("the acks took %lld ms of CPU in %lld ms",
		    (long long)cpu, (long long)start);
}

/*
 * While recv(-1) waits and streammgr does not read, a NACK from another
 * thread waits for room behind the two acks queued before it. Once
 * streammgr reads, recv sends those acks itself; the NACK's wait must
 * not then put its own, older copy of them: each id comes once, then
 * the NACK.
 */
struct late_run {
	struct fake	*f;
	uint64_t	 next;		/* the next ack expected */
	bool		 in_order;	/* no id twice, none lost */
	bool		 got_nack;
};

static void *
late_fake(void *arg)
{
	struct late_run *r = arg;
	struct frames *m = malloc(sizeof(*m));
	struct timespec stall = { .tv_nsec = 500000000 };

	nanosleep(&stall, NULL);	/* the NACK waits for room */
	r->in_order = true;
	while (r->in_order && fake_recv(r->f, m, WAIT_MS * tu_time_factor())) {
		if (frame_is(m, 0, "NACK")) {
			r->got_nack = be64(m->data[1]) == BASE_ID + 5000000;
			break;
		}
		if (!frame_is(m, 0, "ACK")) {
			r->in_order = false;
			break;
		}
		for (size_t i = 0; i < m->len[1] / 8; i++)
			r->in_order &= be64(m->data[1] + 8 * i) == r->next++;
	}
	free(m);
	return NULL;
}

static void
a_waiting_nack_sends_queued_acks_once(void **state)
{
	struct fake *f = *state;
	struct stuck_run r = { .s = open_stream(f, 4) };	/* 1 at a time */
	struct late_run l = { .f = f, .next = BASE_ID };
	uint64_t id;
	pthread_t t, tf;
	int rc;

	id = ack_until_stuck(r.s);	/* id and id + 1 queued */
	assert_int_equal(pthread_create(&t, NULL, stuck_reader, &r), 0);
	while (atomic_load(&r.tid) == 0)
		sched_yield();
	until_sleeping((pid_t)atomic_load(&r.tid));
	assert_int_equal(pthread_create(&tf, NULL, late_fake, &l), 0);
	rc = msb_stream_nack(r.s, BASE_ID + 5000000, "retry");
	pthread_join(tf, NULL);
	fake_deliver(f, BASE_ID + 3000000, "after");
	pthread_join(t, NULL);
	if (rc != MSB_OK)
		fail_msg("nack: %d (%s)", rc, msb_stream_error(r.s));
	if (!l.in_order || !l.got_nack || l.next != id + 2)
		fail_msg("streammgr saw ids up to %llx for %llx (in order: "
		    "%d), then the NACK: %d", (unsigned long long)l.next,
		    (unsigned long long)(id + 2), l.in_order, l.got_nack);
	assert_int_equal(r.rc, MSB_OK);
	assert_int_equal(r.msg.id, BASE_ID + 3000000);
	msb_stream_close(r.s);
}

/*
 * msb_stream_recv(-1) waits for a message however long streammgr does
 * not read: the acks it cannot take stay queued, and recv does not give
 * up with MSB_TEMPFAIL after the 2 s a send waits for room (an app's
 * loop on recv(-1) would end). The fake stops reading for 3 s more,
 * then takes every ack, the two last together, and delivers.
 */
static void
recv_waits_while_acks_cannot_go(void **state)
{
	struct fake *f = *state;
	struct msb_stream *s = open_stream(f, 4);	/* acks 1 at a time */
	struct reader_run r = { .f = f, .stall = true };
	struct msb_message msg;
	pthread_t t;
	int rc;

	r.last = ack_until_stuck(s);
	assert_int_equal(pthread_create(&t, NULL, reader_thread, &r), 0);
	rc = msb_stream_recv(s, &msg, -1);
	pthread_join(t, NULL);
	if (rc != MSB_OK)
		fail_msg("recv(-1): %d (%s)", rc, msb_stream_error(s));
	assert_true(r.got);
	assert_int_equal(msg.id, BASE_ID + 2000000);
	assert_memory_equal(msg.data, "after", msg.len);
	msb_stream_close(s);
}

/* After a stop asked, with acks streammgr does not take: MSB_STOPPED
 * after the 2 s a BYE is answered in, also from recv with a timeout (a
 * loop on it, as the Python binding's), which ended each call with
 * MSB_TEMPFAIL after its acks' 2 s, never come to the stop's end. */
static void
stop_ends_while_acks_cannot_go(void **state)
{
	struct fake *f = *state;
	struct msb_stream *s = open_stream(f, 4);	/* acks 1 at a time */
	struct msb_message msg;
	int64_t start;
	int rc, calls = 0;

	ack_until_stuck(s);
	msb_stream_stop(s);
	start = tu_now_ms();
	do
		rc = msb_stream_recv(s, &msg, 500);
	while (rc == MSB_TEMPFAIL && ++calls > 0 &&
	    tu_now_ms() - start < WAIT_MS * tu_time_factor());
	if (rc != MSB_STOPPED)
		fail_msg("recv(500) after a stop: %d (%s), %d calls, %lld ms",
		    rc, msb_stream_error(s), calls,
		    (long long)(tu_now_ms() - start));
	assert_int_equal(msb_stream_recv(s, &msg, -1), MSB_STOPPED);
	msb_stream_close(s);
}

/*
 * realloc as the C library's, except that one of realloc_refuse bytes
 * fails (once): msb_stream_recv_batch growing its buffer out of memory.
 */
static size_t realloc_refuse;
static int realloc_refused;

void *
realloc(void *ptr, size_t size)
{
	static void *(*real)(void *, size_t);

	if (realloc_refuse != 0 && size == realloc_refuse && ptr != NULL) {
		realloc_refuse = 0;
		realloc_refused++;
		errno = ENOMEM;
		return NULL;
	}
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "realloc");
	return real(ptr, size);
}

/* Sends one batched delivery of n payloads of lens[i] bytes 'a' + i. */
static void
fake_deliver_sized(struct fake *f, uint64_t first, int n,
    const size_t *lens)
{
	size_t len = 0, at = 0;
	unsigned char *buf;

	for (int i = 0; i < n; i++)
		len += 12 + lens[i];
	assert_non_null(buf = malloc(len));
	for (int i = 0; i < n; i++) {
		put_be64(buf + at, first + (uint64_t)i);
		buf[at + 8] = (unsigned char)(lens[i] >> 24);
		buf[at + 9] = (unsigned char)(lens[i] >> 16);
		buf[at + 10] = (unsigned char)(lens[i] >> 8);
		buf[at + 11] = (unsigned char)lens[i];
		memset(buf + at + 12, 'a' + i, lens[i]);
		at += 12 + lens[i];
	}
	assert_int_equal(zmq_send(f->router, f->rid, f->ridlen, ZMQ_SNDMORE),
	    (int)f->ridlen);
	assert_int_equal(zmq_send(f->router, "", 0, ZMQ_SNDMORE), 0);
	assert_int_equal(zmq_send(f->router, buf, len, 0), (int)len);
	free(buf);
}

/*
 * Out of memory after the first message of a batch: recv_batch returns
 * that one (MSB_OK, count 1), and the next call the one it could not
 * keep, then the rest: none is lost to the app.
 */
static void
recv_batch_out_of_memory_keeps_every_message(void **state)
{
	struct fake *f = *state;
	struct msb_stream *s = open_stream(f, 8);
	const size_t lens[] = { 60000, 10000, 5 };
	uint64_t ids[8];
	size_t got[8], count = 99;
	const void *data;
	const unsigned char *d;

	fake_deliver_sized(f, BASE_ID, 3, lens);
	/* The buffer holds 64 KiB; the second makes it grow to 128 KiB. */
	realloc_refuse = 128 * 1024;
	assert_int_equal(msb_stream_recv_batch(s, 8, WAIT_MS, ids, got, &data,
	    &count), MSB_OK);
	realloc_refuse = 0;
	assert_int_equal(realloc_refused, 1);
	assert_int_equal(count, 1);
	assert_int_equal(ids[0], BASE_ID);
	assert_int_equal(got[0], 60000);
	d = data;
	assert_true(d[0] == 'a' && d[59999] == 'a');

	assert_int_equal(msb_stream_recv_batch(s, 8, WAIT_MS, ids, got, &data,
	    &count), MSB_OK);
	assert_int_equal(count, 2);
	assert_int_equal(ids[0], BASE_ID + 1);
	assert_int_equal(got[0], 10000);
	assert_int_equal(ids[1], BASE_ID + 2);
	assert_int_equal(got[1], 5);
	d = data;
	assert_true(d[0] == 'b' && d[9999] == 'b' && d[10000] == 'c' &&
	    d[10004] == 'c');
	msb_stream_close(s);
}

/* streammgr is there but does not answer BYE: stopped after 2 s. */
static void
no_answer_stops_after_a_bounded_wait(void **state)
{
	struct fake *f = *state;
	struct msb_stream *s = open_stream(f, 8);
	struct msb_message msg;
	struct frames m;
	int64_t start, took;

	msb_stream_stop(s);
	assert_true(msb_stream_stopping(s));
	start = tu_now_ms();
	assert_int_equal(msb_stream_recv(s, &msg, -1), MSB_STOPPED);
	took = tu_now_ms() - start;
	if (took < 1900 || took > HANG_MS * tu_time_factor())
		fail_msg("MSB_STOPPED after %lld ms, not about 2 s",
		    (long long)took);
	assert_true(fake_recv(f, &m, WAIT_MS));
	assert_true(frame_is(&m, 0, "BYE"));
	assert_int_equal(msb_stream_recv(s, &msg, -1), MSB_STOPPED);
	msb_stream_close(s);
}

/*
 * The connection ends (streammgr gone, or it cut the instance off):
 * without a stop, recv and a flush fail from then on, and nothing
 * connects again; after BYE it ends the stop at once.
 */
static void
connection_end_fails_or_stops(void **state)
{
	struct fake *f = *state;
	struct msb_stream *s = open_stream(f, 8);
	struct msb_message msg;
	int linger = 0;

	fake_deliver(f, BASE_ID + 1, "one");
	expect_message(s, BASE_ID + 1, "one");
	assert_int_equal(msb_stream_ack(s, BASE_ID + 1), MSB_OK); /* queued */
	fake_gone(f);
	assert_int_equal(msb_stream_recv(s, &msg, WAIT_MS), MSB_ERROR);
	assert_non_null(strstr(msb_stream_error(s),
	    "the connection to streammgr ended"));
	assert_int_equal(msb_stream_flush(s), MSB_ERROR);
	assert_int_equal(msb_stream_recv(s, &msg, 0), MSB_ERROR);
	msb_stream_close(s);

	f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
	zmq_setsockopt(f->router, ZMQ_LINGER, &linger, sizeof(linger));
	assert_int_equal(zmq_bind(f->router, f->endpoint), 0);
	s = open_stream(f, 8);
	msb_stream_stop(s);
	assert_int_equal(msb_stream_recv(s, &msg, 0), MSB_TEMPFAIL);
	fake_gone(f);
	assert_int_equal(msb_stream_recv(s, &msg, -1), MSB_STOPPED);
	assert_non_null(strstr(msb_stream_error(s),
	    "the connection to streammgr ended"));
	msb_stream_close(s);
}

/*
 * Nothing listens at open (streammgr not there yet): open succeeds, and
 * recv connects once it listens, HELLO first, as libzmq's connect would.
 */
static void
connects_once_streammgr_listens(void **state)
{
	struct fake *f = *state;
	struct msb_stream *s;
	struct msb_message msg;
	struct frames m;
	char err[256];
	int linger = 0, tries = 0;

	/* A path where nothing ever listened (a closed ROUTER's file stays,
	 * its listener closed a moment later). */
	fake_gone(f);
	free(f->endpoint);
	if (asprintf(&f->endpoint, "ipc://%s/late.work", f->dir) == -1)
		fail();
	assert_int_equal(msb_stream_open(&s, f->endpoint, "default-1", 8,
	    err, sizeof(err)), MSB_OK);
	assert_int_equal(msb_stream_recv(s, &msg, 0), MSB_TEMPFAIL);
	f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
	zmq_setsockopt(f->router, ZMQ_LINGER, &linger, sizeof(linger));
	assert_int_equal(zmq_bind(f->router, f->endpoint), 0);
	/* recv, waiting, connects: its HELLO comes. */
	do
		assert_int_equal(msb_stream_recv(s, &msg, 200), MSB_TEMPFAIL);
	while (!fake_recv(f, &m, 0) && ++tries < 50);
	assert_true(frame_is(&m, 0, "HELLO"));
	assert_true(frame_is(&m, 1, "default-1"));
	fake_deliver(f, BASE_ID, "late");
	expect_message(s, BASE_ID, "late");
	msb_stream_close(s);
}

static void
err_unknown_instance_is_an_error(void **state)
{
	struct fake *f = *state;
	struct msb_stream *s = open_stream(f, 8);
	struct msb_message msg;
	char *log, *path = tu_join(f->dir, "stderr");
	int fd, saved;

	fake_say(f, "ERR unknown-instance");

	fflush(stderr);
	saved = dup(STDERR_FILENO);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved != -1 && fd != -1);
	dup2(fd, STDERR_FILENO);
	close(fd);
	assert_int_equal(msb_stream_recv(s, &msg, WAIT_MS), MSB_ERROR);
	assert_int_equal(msb_stream_recv(s, &msg, 0), MSB_ERROR);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);

	assert_string_equal(msb_stream_error(s),
	    "streammgr refused instance default-1: ERR unknown-instance");
	log = tu_read_file(path, NULL);
	assert_non_null(log);
	assert_string_equal(log, "libmysimbdp: streammgr refused instance "
	    "default-1: ERR unknown-instance\n");	/* once */
	free(log);
	free(path);
	msb_stream_close(s);
}

/* A thread's call on a stream, and msb_stream_error() on that thread. */
struct err_run {
	struct msb_stream	*s;
	bool			 recv;	/* recv, else no call at all */
	int			 rc;
	char			 err[512];
};

static void *
err_thread(void *arg)
{
	struct err_run *r = arg;
	struct msb_message msg;

	if (r->recv)
		r->rc = msb_stream_recv(r->s, &msg, WAIT_MS);
	snprintf(r->err, sizeof(r->err), "%s", msb_stream_error(r->s));
	return NULL;
}

/*
 * Each thread gets its own last failure on the stream: an acker's "is
 * it reading?" stays its own after the reader failed with streammgr's
 * ERR, which a thread that never failed gets (the stream's last). One
 * message for the whole stream gave the acker the reader's reason.
 */
static void
each_thread_has_its_own_failure(void **state)
{
	struct fake *f = *state;
	struct msb_stream *s = open_stream(f, 4);	/* acks 1 at a time */
	struct err_run reader = { .s = s, .recv = true }, other = { .s = s };
	pthread_t t;

	ack_until_stuck(s);		/* this thread's failure */
	fake_say(f, "ERR unknown-instance");
	assert_int_equal(pthread_create(&t, NULL, err_thread, &reader), 0);
	pthread_join(t, NULL);
	assert_int_equal(reader.rc, MSB_ERROR);
	assert_string_equal(reader.err,
	    "streammgr refused instance default-1: ERR unknown-instance");
	assert_non_null(strstr(msb_stream_error(s), "is it reading?"));
	assert_int_equal(pthread_create(&t, NULL, err_thread, &other), 0);
	pthread_join(t, NULL);
	assert_string_equal(other.err, reader.err);
	msb_stream_close(s);
}

static void
app_handler(int signo)
{
}

static void
app_signal_handlers_are_left_alone(void **state)
{
	struct fake *f = *state;
	struct msb_stream *s;
	struct sigaction sa;

	signal(SIGTERM, app_handler);
	signal(SIGINT, SIG_IGN);
	s = open_stream(f, 8);
	sigaction(SIGTERM, NULL, &sa);
	assert_true(sa.sa_handler == app_handler);
	sigaction(SIGINT, NULL, &sa);
	assert_true(sa.sa_handler == SIG_IGN);
	msb_stream_close(s);
	assert_true(signal(SIGTERM, SIG_DFL) == app_handler);
	assert_true(signal(SIGINT, SIG_DFL) == SIG_IGN);

	/* With SIG_DFL, the library's handler, without SA_RESTART. */
	s = open_stream(f, 8);
	sigaction(SIGINT, NULL, &sa);
	assert_true(sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
	assert_false(sa.sa_flags & SA_RESTART);
	msb_stream_close(s);
	sigaction(SIGINT, NULL, &sa);
	assert_true(sa.sa_handler == SIG_DFL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    hello_names_instance_and_credit, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    batched_deliveries_come_one_by_one, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_arguments_say_why, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(acks_free_credit_in_batches,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(nack_and_reject_carry_reasons,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(waiting_flushes_acks, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(sigterm_says_bye_and_drains,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    signal_on_another_thread_wakes_recv, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    acks_on_another_thread_wake_recv, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    nack_on_another_thread_goes_at_the_wake, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_pool_of_workers_settles_each_message_once, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    acks_stay_queued_while_streammgr_does_not_read, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    recv_waits_while_acks_cannot_go, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_full_queue_waits_while_recv_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_waiting_nack_sends_queued_acks_once, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    stop_ends_while_acks_cannot_go, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    recv_batch_out_of_memory_keeps_every_message, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    no_answer_stops_after_a_bounded_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    connection_end_fails_or_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    connects_once_streammgr_listens, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    err_unknown_instance_is_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    each_thread_has_its_own_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    app_signal_handlers_are_left_alone, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
