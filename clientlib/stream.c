/*
 * Stream apps: receiving messages from streammgr over the work socket
 * (docs/protocols.md, "Work"). A DEALER says [HELLO][instance][credit],
 * then gets deliveries [id][payload] (two frames) and control answers
 * [BYE] or [ERR reason] (one frame), told apart by their frame count.
 *
 * The receive and ack paths allocate nothing per message: the two frames
 * of a delivery are received into zmq_msg_t kept in the stream, and acks
 * are written big-endian into a fixed buffer that goes out as one frame.
 *
 * A graceful stop (SIGTERM) is a small protocol: the app keeps receiving
 * while it says [BYE], because deliveries already on their way are still
 * its own to ack; only streammgr's [BYE] answer ends them. The signal
 * handler only sets a flag and writes one byte to a pipe: the byte wakes
 * a msb_stream_recv() blocked in zmq_poll() even when the signal lands on
 * another thread of the app (poll returns EINTR only in the thread that
 * took it).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "mysimbdp-internal.h"
#include "../common/wirebatch.h"

#define DEFAULT_CREDIT	1024
#define MAX_CREDIT	65536
#define ACK_MAX		1024	/* ids per ACK frame */
#define BYE_WAIT_MS	2000	/* for streammgr's answer to BYE */
#define SEND_TIMEOUT_MS	2000	/* a send never blocks longer */
#define CLOSE_LINGER_MS	1000
#define SKIPPED		100	/* read_one(): a malformed message, dropped */

struct msb_stream {
	void		*s_ctx;
	void		*s_sock;
	zmq_msg_t	 s_head;	/* delivery id, or a control answer */
	zmq_msg_t	 s_body;	/* payload of the last delivery */
	struct wb_reader s_rd;		/* the rest of a batched delivery */
	bool		 s_inbatch;	/* s_rd has deliveries left */
	bool		 s_ranges;	/* streammgr batches: it takes ACKR */
	char		 s_instance[129];
	uint32_t	 s_credit;
	size_t		 s_batch;	/* acks per frame */
	size_t		 s_nacks;	/* acks queued in s_ackbuf */
	atomic_int	 s_stop;	/* msb_stream_stop() */
	bool		 s_sigheld;	/* counted in sig_users */
	bool		 s_bye_sent;
	bool		 s_stopped;	/* BYE answered, or the wait is over */
	bool		 s_failed;	/* ERR from streammgr: sticky */
	bool		 s_warned;	/* a malformed message was logged */
	int64_t		 s_bye_deadline;	/* monotonic ms */
	unsigned char	*s_batch_buf;	/* msb_stream_recv_batch payloads */
	size_t		 s_batch_cap;
	/* A delivery recv_batch read but had no memory to keep: the next
	 * recv or recv_batch returns it first (its data is in s_body,
	 * untouched until the next read). */
	struct msb_message s_held;
	bool		 s_has_held;
	char		 s_err[512];
	unsigned char	 s_ackbuf[ACK_MAX * 8];
	struct wb_buf	 s_rangebuf;	/* s_ackbuf as ACKR ranges */
};

/*
 * The stop signals, shared by every stream of the process. The handler
 * is installed when the first stream opens (for each signal whose
 * disposition is SIG_DFL) and removed when the last one closes.
 */
static const int stop_signals[] = { SIGTERM, SIGINT };
static pthread_mutex_t sig_lock = PTHREAD_MUTEX_INITIALIZER;
static int sig_users;
static bool sig_ours[2];
static int sig_pipe[2] = { -1, -1 };	/* kept for the process's life */
static atomic_int stop_signalled;

static void
on_stop_signal(int signo)
{
	int saved = errno;
	ssize_t n;

	/* One byte per stop is enough: the pipe is never read afterwards. */
	if (!atomic_exchange(&stop_signalled, 1)) {
		n = write(sig_pipe[1], "", 1);
		(void)n;
	}
	errno = saved;
}

/* Counts a stream in; installs the handlers for the first one. */
static int
signals_hold(char *err, size_t errlen)
{
	struct sigaction sa, old;
	char c;

	pthread_mutex_lock(&sig_lock);
	if (sig_users > 0) {
		sig_users++;
		pthread_mutex_unlock(&sig_lock);
		return 0;
	}
	if (sig_pipe[0] == -1 && pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) ==
	    -1) {
		msb__seterr(err, errlen, "pipe: %s", strerror(errno));
		pthread_mutex_unlock(&sig_lock);
		return -1;
	}
	/* A stop seen while no stream was open is not this one's. */
	while (read(sig_pipe[0], &c, 1) == 1)
		;
	atomic_store(&stop_signalled, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: a blocking call returns */
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(*stop_signals);
	    i++) {
		sig_ours[i] = false;
		if (sigaction(stop_signals[i], NULL, &old) == 0 &&
		    !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL &&
		    sigaction(stop_signals[i], &sa, NULL) == 0)
			sig_ours[i] = true;
	}
	sig_users = 1;
	pthread_mutex_unlock(&sig_lock);
	return 0;
}

/* Counts a stream out; the last one gives the signals back to SIG_DFL. */
static void
signals_release(void)
{
	struct sigaction sa, cur;

	pthread_mutex_lock(&sig_lock);
	if (--sig_users == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigemptyset(&sa.sa_mask);
		for (size_t i = 0;
		    i < sizeof(stop_signals) / sizeof(*stop_signals); i++) {
			/* Unless the app has put its own in the meantime. */
			if (sig_ours[i] &&
			    sigaction(stop_signals[i], NULL, &cur) == 0 &&
			    !(cur.sa_flags & SA_SIGINFO) &&
			    cur.sa_handler == on_stop_signal)
				sigaction(stop_signals[i], &sa, NULL);
			sig_ours[i] = false;
		}
	}
	pthread_mutex_unlock(&sig_lock);
}

/* Records why s failed and returns rc. */
static int
fail(struct msb_stream *s, int rc, const char *fmt, ...)
    MSB__FMT(3, 4);

static int
fail(struct msb_stream *s, int rc, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	msb__vseterr(s->s_err, sizeof(s->s_err), fmt, ap);
	va_end(ap);
	errno = saved;
	return rc;
}

/*
 * Sends one frame, more following when more is set. A send waits at most
 * SEND_TIMEOUT_MS (ZMQ_SNDTIMEO) for room in the queue to streammgr.
 * Returns MSB_OK, MSB_TEMPFAIL (no room in time) or MSB_ERROR.
 */
static int
send_frame(struct msb_stream *s, const void *buf, size_t len, bool more)
{
	int rc;

	do
		rc = zmq_send(s->s_sock, buf, len, more ? ZMQ_SNDMORE : 0);
	while (rc == -1 && errno == EINTR);
	if (rc == -1 && errno == EAGAIN)
		return fail(s, MSB_TEMPFAIL, "send to streammgr: no room in "
		    "%d ms (is it reading?)", SEND_TIMEOUT_MS);
	if (rc == -1)
		return fail(s, MSB_ERROR, "send to streammgr: %s",
		    zmq_strerror(errno));
	return MSB_OK;
}

/* Sends [cmd][id][reason]; without a reason, [cmd][id]. */
static int
send_command(struct msb_stream *s, const char *cmd, uint64_t id,
    const char *reason)
{
	unsigned char idbuf[8];
	int rc;

	msb__put_be64(idbuf, id);
	if ((rc = send_frame(s, cmd, strlen(cmd), true)) != MSB_OK)
		return rc;
	/* The rest of a message cannot fail once its first frame is in. */
	if ((rc = send_frame(s, idbuf, sizeof(idbuf), reason != NULL)) !=
	    MSB_OK)
		return rc;
	if (reason != NULL)
		rc = send_frame(s, reason, strlen(reason), false);
	return rc;
}

static void
destroy(struct msb_stream *s)
{
	int linger = CLOSE_LINGER_MS;

	if (s->s_sock != NULL) {
		zmq_setsockopt(s->s_sock, ZMQ_LINGER, &linger, sizeof(linger));
		zmq_close(s->s_sock);
	}
	zmq_msg_close(&s->s_head);
	zmq_msg_close(&s->s_body);
	if (s->s_ctx != NULL)
		zmq_ctx_term(s->s_ctx);
	if (s->s_sigheld)
		signals_release();
	free(s->s_batch_buf);
	wb_free(&s->s_rangebuf);
	free(s);
}

int
msb_stream_open(struct msb_stream **sp, const char *endpoint,
    const char *instance, uint32_t credit, char *err, size_t errlen)
{
	struct msb_stream *s;
	char num[16];
	int sndtimeo = SEND_TIMEOUT_MS, linger = 0, unlimited = 0;

	*sp = NULL;
	if (endpoint == NULL || *endpoint == '\0') {
		msb__seterr(err, errlen, "stream: no endpoint "
		    "(ZMQ_STREAM_ENDPOINT)");
		return MSB_ERROR;
	}
	if (instance == NULL || *instance == '\0' || strlen(instance) > 128) {
		msb__seterr(err, errlen, "stream: the instance id must be 1 "
		    "to 128 characters (MYSIMBDP_INSTANCE)");
		return MSB_ERROR;
	}
	if (credit == 0)
		credit = DEFAULT_CREDIT;
	if (credit > MAX_CREDIT) {
		msb__seterr(err, errlen, "stream: credit %u: must be 1 to %d",
		    credit, MAX_CREDIT);
		return MSB_ERROR;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		msb__seterr(err, errlen, "stream: %s", strerror(errno));
		return MSB_ERROR;
	}
	zmq_msg_init(&s->s_head);
	zmq_msg_init(&s->s_body);
	snprintf(s->s_instance, sizeof(s->s_instance), "%s", instance);
	s->s_credit = credit;
	s->s_batch = credit / 4;
	if (s->s_batch < 1)
		s->s_batch = 1;
	if (s->s_batch > ACK_MAX)
		s->s_batch = ACK_MAX;

	if (signals_hold(err, errlen) == -1) {
		destroy(s);
		return MSB_ERROR;
	}
	s->s_sigheld = true;
	if ((s->s_ctx = zmq_ctx_new()) == NULL)
		goto fail;
	zmq_ctx_set(s->s_ctx, ZMQ_IO_THREADS, 1);
	if ((s->s_sock = zmq_socket(s->s_ctx, ZMQ_DEALER)) == NULL)
		goto fail;
	/*
	 * A ROUTER drops what does not fit the receiver's queue, and libzmq
	 * accounts reads lazily, so a queue looks full well before its HWM.
	 * No limit, then: streammgr never sends more than the credit.
	 */
	if (zmq_setsockopt(s->s_sock, ZMQ_RCVHWM, &unlimited,
	    sizeof(unlimited)) == -1 ||
	    zmq_setsockopt(s->s_sock, ZMQ_SNDTIMEO, &sndtimeo,
	    sizeof(sndtimeo)) == -1 ||
	    zmq_setsockopt(s->s_sock, ZMQ_LINGER, &linger,
	    sizeof(linger)) == -1)
		goto fail;
	if (zmq_connect(s->s_sock, endpoint) == -1) {
		msb__seterr(err, errlen, "connect %s: %s", endpoint,
		    zmq_strerror(errno));
		destroy(s);
		return MSB_ERROR;
	}
	/* Queued until the connection is up: HELLO must come first. */
	snprintf(num, sizeof(num), "%u", credit);
	if (send_frame(s, "HELLO", 5, true) != MSB_OK ||
	    send_frame(s, instance, strlen(instance), true) != MSB_OK ||
	    send_frame(s, num, strlen(num), true) != MSB_OK ||
	    send_frame(s, "batch", 5, false) != MSB_OK) {
		msb__seterr(err, errlen, "HELLO to %s: %s", endpoint,
		    s->s_err);
		destroy(s);
		return MSB_ERROR;
	}
	*sp = s;
	return MSB_OK;

fail:
	msb__seterr(err, errlen, "stream %s: %s", endpoint,
	    zmq_strerror(errno));
	destroy(s);
	return MSB_ERROR;
}

int
msb_stream_open_env(struct msb_stream **sp, const struct msb_env *env,
    uint32_t credit, char *err, size_t errlen)
{
	if (env->kind != MSB_APP_STREAM || env->stream_endpoint == NULL) {
		*sp = NULL;
		msb__seterr(err, errlen, "ZMQ_STREAM_ENDPOINT: not set "
		    "(not a stream app)");
		return MSB_ERROR;
	}
	return msb_stream_open(sp, env->stream_endpoint, env->instance,
	    credit, err, errlen);
}

/*
 * The queued acks as ranges of consecutive ids (ACKR) into s_rangebuf.
 * Returns its length, or 0 when out of memory (then the ids go as ACK).
 */
static size_t
ack_ranges(struct msb_stream *s)
{
	struct wb_buf *b = &s->s_rangebuf;
	uint64_t first = msb__get_be64(s->s_ackbuf), last = first;

	b->b_len = 0;
	for (size_t k = 1; k <= s->s_nacks; k++) {
		uint64_t id = k < s->s_nacks ?
		    msb__get_be64(s->s_ackbuf + 8 * k) : 0;

		if (k < s->s_nacks && id == last + 1) {
			last = id;
			continue;
		}
		if (wb_put_range(b, first, last) == -1)
			return 0;
		first = last = id;
	}
	return b->b_len;
}

int
msb_stream_flush(struct msb_stream *s)
{
	size_t len = 0;
	int rc;

	if (s->s_nacks == 0)
		return MSB_OK;
	/* Ranges where they are shorter and streammgr reads them. */
	if (s->s_ranges && (len = ack_ranges(s)) > 0 &&
	    len < s->s_nacks * 8) {
		if ((rc = send_frame(s, "ACKR", 4, true)) != MSB_OK)
			return rc;
		rc = send_frame(s, s->s_rangebuf.b_data, len, false);
	} else {
		if ((rc = send_frame(s, "ACK", 3, true)) != MSB_OK)
			return rc;
		rc = send_frame(s, s->s_ackbuf, s->s_nacks * 8, false);
	}
	if (rc != MSB_OK)
		return rc;
	s->s_nacks = 0;
	return MSB_OK;
}

int
msb_stream_ack(struct msb_stream *s, uint64_t id)
{
	int rc = MSB_OK;

	/* Full only when an earlier flush failed: try again. Whether or
	 * not that works, id is queued while there is room (ACK_MAX). */
	if (s->s_nacks >= s->s_batch)
		rc = msb_stream_flush(s);
	if (s->s_nacks >= ACK_MAX)
		return rc;		/* a failure: s_nacks is 0 otherwise */
	msb__put_be64(s->s_ackbuf + 8 * s->s_nacks++, id);
	if (rc == MSB_OK && s->s_nacks >= s->s_batch)
		rc = msb_stream_flush(s);
	return rc;
}

int
msb_stream_nack(struct msb_stream *s, uint64_t id, const char *reason)
{
	int rc;

	if ((rc = msb_stream_flush(s)) != MSB_OK)
		return rc;
	return send_command(s, "NACK", id,
	    reason != NULL && *reason != '\0' ? reason : NULL);
}

int
msb_stream_reject(struct msb_stream *s, uint64_t id, const char *reason)
{
	int rc;

	if ((rc = msb_stream_flush(s)) != MSB_OK)
		return rc;
	return send_command(s, "REJECT", id,
	    reason != NULL && *reason != '\0' ? reason : "rejected by the app");
}

void
msb_stream_stop(struct msb_stream *s)
{
	if (s != NULL)
		atomic_store(&s->s_stop, 1);
}

int
msb_stream_stopping(const struct msb_stream *s)
{
	return atomic_load(&stop_signalled) ||
	    (s != NULL && atomic_load(&s->s_stop));
}

const char *
msb_stream_error(const struct msb_stream *s)
{
	return s != NULL ? s->s_err : "";
}

/* Logs a malformed message from streammgr, once per stream. */
static int
malformed(struct msb_stream *s, const char *what)
{
	if (!s->s_warned) {
		fprintf(stderr, "libmysimbdp: instance %s: dropped a malformed "
		    "message from streammgr (%s)\n", s->s_instance, what);
		s->s_warned = true;
	}
	return SKIPPED;
}

/* Receives the frames left of a message, to drop them. */
static void
discard_rest(struct msb_stream *s)
{
	zmq_msg_t m;
	int more;

	zmq_msg_init(&m);
	do {
		if (zmq_msg_recv(&m, s->s_sock, 0) == -1 && errno != EINTR)
			break;
		more = zmq_msg_more(&m);
	} while (more);
	zmq_msg_close(&m);
}

/* Receives the second frame of a message that is already there. */
static int
recv_body(struct msb_stream *s)
{
	int rc;

	do
		rc = zmq_msg_recv(&s->s_body, s->s_sock, 0);
	while (rc == -1 && errno == EINTR);
	return rc;
}

enum msb__work_kind
msb__work_classify(const void *head, size_t len, int nframes, uint64_t *id,
    char *what, size_t whatlen)
{
	char qq[48];

	if (nframes > 2) {
		snprintf(what, whatlen, "more than 2 frames");
		return MSB__MALFORMED;
	}
	if (nframes == 2) {
		/* Batched deliveries: [""][deliveries]. */
		if (len == 0)
			return MSB__BATCH;
		/* A delivery: [id][payload]. */
		if (len != 8) {
			snprintf(what, whatlen, "delivery id not 8 bytes");
			return MSB__MALFORMED;
		}
		*id = msb__get_be64(head);
		return MSB__DELIVERY;
	}
	/* A control answer: [BYE] or [ERR reason]. */
	if (len == 3 && memcmp(head, "BYE", 3) == 0)
		return MSB__BYE;
	if (len >= 3 && memcmp(head, "ERR", 3) == 0)
		return MSB__ERR;
	snprintf(what, whatlen, "unknown answer \"%s\"",
	    msb__quote(head, len, qq, sizeof(qq)));
	return MSB__MALFORMED;
}

/*
 * The next delivery of a batch in s_body; SKIPPED at its end or when the
 * rest is malformed (the ids in it come again after the ack timeout).
 */
static int
next_in_batch(struct msb_stream *s, struct msb_message *msg)
{
	const void *data;
	int rc = wb_next_delivery(&s->s_rd, &msg->id, &data, &msg->len);

	if (rc == 1) {
		msg->data = data;
		return MSB_OK;
	}
	s->s_inbatch = false;
	return rc == 0 ? SKIPPED : malformed(s, "a batched delivery cut "
	    "short");
}

/*
 * Handles one message if one is there. Returns MSB_OK (a delivery, in
 * msg), MSB_STOPPED (the answer to BYE), MSB_ERROR (ERR from streammgr,
 * or a failure), MSB_TEMPFAIL (nothing there) or SKIPPED.
 */
static int
read_one(struct msb_stream *s, struct msb_message *msg)
{
	const char *text;
	size_t len;
	char what[64];
	int nframes = 1;

	if (s->s_inbatch)
		return next_in_batch(s, msg);
	if (zmq_msg_recv(&s->s_head, s->s_sock, ZMQ_DONTWAIT) == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return MSB_TEMPFAIL;
		s->s_failed = true;
		return fail(s, MSB_ERROR, "receive from streammgr: %s",
		    zmq_strerror(errno));
	}
	if (zmq_msg_more(&s->s_head)) {
		if (recv_body(s) == -1) {
			s->s_failed = true;
			return fail(s, MSB_ERROR, "receive from streammgr: %s",
			    zmq_strerror(errno));
		}
		nframes = 2;
		if (zmq_msg_more(&s->s_body)) {
			discard_rest(s);
			nframes = 3;
		}
	}
	text = zmq_msg_data(&s->s_head);
	len = zmq_msg_size(&s->s_head);
	switch (msb__work_classify(text, len, nframes, &msg->id, what,
	    sizeof(what))) {
	case MSB__DELIVERY:
		msg->data = zmq_msg_data(&s->s_body);
		msg->len = zmq_msg_size(&s->s_body);
		return MSB_OK;
	case MSB__BATCH:
		wb_reader_init(&s->s_rd, zmq_msg_data(&s->s_body),
		    zmq_msg_size(&s->s_body));
		s->s_inbatch = true;
		s->s_ranges = true;
		return next_in_batch(s, msg);
	case MSB__BYE:
		/* Unasked, it still means no more deliveries. */
		atomic_store(&s->s_stop, 1);
		s->s_bye_sent = true;
		s->s_stopped = true;
		return MSB_STOPPED;
	case MSB__ERR:
		s->s_failed = true;
		fail(s, MSB_ERROR, "streammgr refused instance %s: %.*s",
		    s->s_instance, (int)msb__utf8_cut(text, len > 400 ? 400 :
		    len), text);
		fprintf(stderr, "libmysimbdp: %s\n", s->s_err);
		return MSB_ERROR;
	case MSB__MALFORMED:
		break;
	}
	return malformed(s, what);
}

/* Flushes the acks and says BYE. Failures do not stop the stop. */
static void
send_bye(struct msb_stream *s)
{
	msb_stream_flush(s);
	send_frame(s, "BYE", 3, false);
	s->s_bye_sent = true;
	s->s_bye_deadline = msb__now_ms() + BYE_WAIT_MS;
}

int
msb_stream_recv(struct msb_stream *s, struct msb_message *msg, int timeout_ms)
{
	zmq_pollitem_t items[2];
	int64_t now, deadline = 0, wait;
	bool started = false;
	int rc, n;

	if (s->s_failed)
		return MSB_ERROR;
	if (s->s_has_held) {
		*msg = s->s_held;
		s->s_has_held = false;
		return MSB_OK;
	}
	if (s->s_stopped)
		return MSB_STOPPED;
	for (;;) {
		if (!s->s_bye_sent && msb_stream_stopping(s))
			send_bye(s);
		if ((rc = read_one(s, msg)) == SKIPPED)
			continue;
		if (rc != MSB_TEMPFAIL)
			return rc;

		/* Nothing there: the acks go out before we wait. */
		if ((rc = msb_stream_flush(s)) != MSB_OK)
			return rc;
		now = msb__now_ms();
		if (!started) {
			deadline = now + timeout_ms;
			started = true;
		}
		wait = timeout_ms < 0 ? -1 : deadline > now ? deadline - now : 0;
		if (s->s_bye_sent) {
			if (now >= s->s_bye_deadline) {
				/* No answer: streammgr may be gone. */
				s->s_stopped = true;
				return MSB_STOPPED;
			}
			if (wait < 0 || s->s_bye_deadline - now < wait)
				wait = s->s_bye_deadline - now;
		}
		if (wait == 0)
			return MSB_TEMPFAIL;

		items[0] = (zmq_pollitem_t){ .socket = s->s_sock,
		    .events = ZMQ_POLLIN };
		n = 1;
		if (!s->s_bye_sent)
			items[n++] = (zmq_pollitem_t){ .fd = sig_pipe[0],
			    .events = ZMQ_POLLIN };
		if (zmq_poll(items, n, (long)wait) == -1 && errno != EINTR) {
			s->s_failed = true;
			return fail(s, MSB_ERROR, "poll: %s",
			    zmq_strerror(errno));
		}
	}
}

/* Appends a delivery's payload to the batch buffer at *used. */
static int
batch_keep(struct msb_stream *s, const struct msb_message *m, size_t *used)
{
	if (*used + m->len > s->s_batch_cap) {
		size_t cap = s->s_batch_cap ? s->s_batch_cap : 64 * 1024;
		unsigned char *p;

		while (cap < *used + m->len)
			cap *= 2;
		if ((p = realloc(s->s_batch_buf, cap)) == NULL)
			return -1;
		s->s_batch_buf = p;
		s->s_batch_cap = cap;
	}
	if (m->len > 0)
		memcpy(s->s_batch_buf + *used, m->data, m->len);
	*used += m->len;
	return 0;
}

int
msb_stream_recv_batch(struct msb_stream *s, size_t max, int timeout_ms,
    uint64_t *ids, size_t *lens, const void **data, size_t *count)
{
	struct msb_message m;
	size_t n = 0, used = 0;
	int rc;

	if (max == 0)
		return fail(s, MSB_ERROR, "recv_batch: max is 0");
	/* The first waits as msb_stream_recv does; the rest are there. */
	rc = msb_stream_recv(s, &m, timeout_ms);
	while (rc == MSB_OK) {
		if (batch_keep(s, &m, &used) == -1) {
			/* m waits for the next call; what was kept goes now. */
			s->s_held = m;
			s->s_has_held = true;
			if (n > 0)
				break;
			return fail(s, MSB_ERROR, "recv_batch: out of memory");
		}
		ids[n] = m.id;
		lens[n] = m.len;
		if (++n == max)
			break;
		while ((rc = read_one(s, &m)) == SKIPPED)
			;
	}
	*data = s->s_batch_buf;
	*count = n;
	/* A stop or a failure after some messages comes with the next. */
	return n > 0 ? MSB_OK : rc;
}

int
msb_stream_ack_many(struct msb_stream *s, const uint64_t *ids, size_t n)
{
	int rc;

	for (size_t i = 0; i < n; i++)
		if ((rc = msb_stream_ack(s, ids[i])) != MSB_OK)
			return rc;
	return MSB_OK;
}

void
msb_stream_close(struct msb_stream *s)
{
	if (s == NULL)
		return;
	msb_stream_flush(s);
	destroy(s);
}
