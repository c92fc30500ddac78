/*
 * Stream apps: receiving messages from streammgr over the work socket
 * (docs/protocols.md, "Work"). A DEALER says [HELLO][instance][credit],
 * then gets deliveries [id][payload] (two frames) and control answers
 * [BYE] or [ERR reason] (one frame), told apart by their frame count.
 * It speaks ZMTP itself (zmtp.c), in the app's thread: no libzmq.
 *
 * The connection: made at open, or, while nothing listens there yet,
 * tried again every RECONNECT_MS by recv (HELLO goes first on it), as
 * libzmq's connect would. Once made, it is never made again: streammgr
 * is the instance's parent and its work socket outlives its instances,
 * so a connection that ends means streammgr is gone or refused us, and
 * a new one would reach a streammgr that never started this instance.
 * recv and ack then fail (MSB_ERROR), or, after a BYE, recv stops.
 *
 * The receive and ack paths allocate nothing per message: a delivery's
 * frames are read in place in the connection's buffer, and acks are
 * written big-endian into a fixed buffer that goes out as one frame.
 *
 * A graceful stop (SIGTERM) is a small protocol: the app keeps receiving
 * while it says [BYE], because deliveries already on their way are still
 * its own to ack; only streammgr's [BYE] answer ends them. The signal
 * handler only sets a flag and writes one byte to a pipe: the byte wakes
 * a msb_stream_recv() blocked in poll() even when the signal lands on
 * another thread of the app (poll returns EINTR only in the thread that
 * took it).
 *
 * Threads: one reads (recv, recv_batch, flush, close), any may settle
 * (ack, ack_many, nack, reject), also while the reader waits in recv.
 * s_lock guards the ack queue, the connection and its state. The reader
 * holds it while it works and lets go of it only around recv's poll()
 * (s_polling). Meanwhile an acker does no I/O, as the reader polls the
 * same socket unlocked: it queues (acks in s_ackbuf; a NACK or REJECT,
 * after the acks queued, put in the connection's output by zmtp_put,
 * which writes nothing) and wakes the reader through s_wakefd, at most
 * once a wait (s_woken), which then sends them. Otherwise an acker
 * sends as a single thread would, the lock held. The reader's other
 * waits (for room to send, 2 s at most, as an ack's own) keep the lock:
 * the frame being sent points into the ack queue.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "mysimbdp-internal.h"
#include "zmtp.h"
#include "../common/wirebatch.h"

#define DEFAULT_CREDIT	1024
#define MAX_CREDIT	65536
#define ACK_MAX		1024	/* ids per ACK frame */
#define BYE_WAIT_MS	2000	/* for streammgr's answer to BYE */
#define SEND_TIMEOUT_MS	2000	/* a send never blocks longer */
#define CLOSE_LINGER_MS	1000
#define SKIPPED		100	/* read_one(): a malformed message, dropped */
#define RECONNECT_MS	100	/* while nothing listens: libzmq's default */
#define HANDSHAKE_MS	1000	/* open waits for it, so HELLO is out */
#define OUT_MAX		(1u << 20)	/* bytes queued before acks wait */
/* A delivery holds up to max_message_size (256 MiB at most) alone. */
#define FRAME_MAX	((256u << 20) + (64u << 10))

struct msb_stream {
	pthread_mutex_t	 s_lock;	/* all but s_stop: see the top */
	pthread_cond_t	 s_room;	/* recv waits again or returns */
	int		 s_wakefd;	/* eventfd: an acker wakes recv */
	bool		 s_polling;	/* recv polls, s_lock let go */
	bool		 s_woken;	/* s_wakefd written this poll */
	struct zmtp	*s_z;
	char		*s_endpoint;
	bool		 s_was_up;	/* a connection was made: no other */
	int64_t		 s_retry_at;	/* next connect, while none was made */
	struct zmtp_msg	 s_msg;		/* the last message read */
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
	 * recv or recv_batch returns it first (its data is in s_msg,
	 * untouched until the next read). */
	struct msb_message s_held;
	bool		 s_has_held;
	uint64_t	 s_serial;	/* this stream among the process's */
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

/*
 * The calling thread's last failure, and the stream it was on (its
 * s_serial: a stream opened where a closed one was is another), for
 * msb_stream_error: a worker whose ack failed gets its own reason, not
 * one the reader had meanwhile.
 */
static atomic_uint_fast64_t stream_serials;
static _Thread_local uint64_t failed_serial;
static _Thread_local char failed_err[512];

/* Records why s failed, for every thread and for this one; returns rc. */
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
	memcpy(failed_err, s->s_err, sizeof(failed_err));
	failed_serial = s->s_serial;
	errno = saved;
	return rc;
}

/*
 * The connection is gone: what it means depends on where the stream is.
 * After its BYE, streammgr has nothing more for it: stopped. Otherwise
 * streammgr is gone, or cut it off: a failure, from now on.
 */
static int
link_lost(struct msb_stream *s)
{
	fail(s, MSB_ERROR, "the connection to streammgr ended: %s",
	    zmtp_error(s->s_z));
	if (s->s_bye_sent) {
		s->s_stopped = true;
		return MSB_STOPPED;
	}
	s->s_failed = true;
	return MSB_ERROR;
}

/*
 * Waits until deadline for some of what waits to go out: the handshake
 * first if it is not over, then room in the socket. Returns MSB_OK (try
 * again), MSB_TEMPFAIL at the deadline, or MSB_ERROR (link_lost).
 */
static int
wait_out(struct msb_stream *s, int64_t deadline)
{
	int64_t now = msb__now_ms();
	struct pollfd pfd;

	if (now >= deadline)
		return fail(s, MSB_TEMPFAIL, "send to streammgr: no room in "
		    "%d ms (is it reading?)", SEND_TIMEOUT_MS);
	if (!zmtp_ready(s->s_z)) {
		if (zmtp_handshake(s->s_z, (int)(deadline - now)) == -1 &&
		    errno != ETIMEDOUT) {
			link_lost(s);
			return MSB_ERROR;
		}
		return MSB_OK;
	}
	pfd = (struct pollfd){ .fd = zmtp_fd(s->s_z), .events = POLLOUT };
	if (poll(&pfd, 1, (int)(deadline - now)) == 1 &&
	    zmtp_flush(s->s_z) == -1 && errno != EAGAIN) {
		link_lost(s);
		return MSB_ERROR;
	}
	return MSB_OK;
}

/*
 * A send or flush found no connection: MSB_ERROR, the end of the one
 * made (link_lost) or none made yet. MSB_OK when one is up.
 */
static int
need_link(struct msb_stream *s)
{
	if (zmtp_connected(s->s_z))
		return MSB_OK;
	if (s->s_was_up)
		link_lost(s);
	else
		fail(s, MSB_ERROR, "send to streammgr: not connected");
	return MSB_ERROR;
}

/* After a send or flush that did not take everything (errno): waits
 * for room until deadline (wait_out), or the connection ended. */
static int
retry_out(struct msb_stream *s, int64_t deadline)
{
	if (errno != EAGAIN) {
		link_lost(s);
		return MSB_ERROR;
	}
	return wait_out(s, deadline);
}

/*
 * Sends one message of n frames, waiting until deadline (monotonic ms;
 * past: not at all) for room when streammgr does not read. Returns
 * MSB_OK (sent, or queued to go as the socket takes it), MSB_TEMPFAIL
 * (no room in time) or MSB_ERROR (the connection ended: link_lost).
 */
static int
send_msg_by(struct msb_stream *s, const struct zmtp_frame *iov, size_t n,
    int64_t deadline)
{
	int rc;

	if ((rc = need_link(s)) != MSB_OK)
		return rc;
	while (zmtp_send(s->s_z, iov, n) == -1)
		if ((rc = retry_out(s, deadline)) != MSB_OK)
			return rc;
	return MSB_OK;
}

/* send_msg_by, waiting at most SEND_TIMEOUT_MS. */
static int
send_msg(struct msb_stream *s, const struct zmtp_frame *iov, size_t n)
{
	return send_msg_by(s, iov, n, msb__now_ms() + SEND_TIMEOUT_MS);
}

/* Writes everything queued for streammgr, waiting at most
 * SEND_TIMEOUT_MS. Returns as send_msg. */
static int
drain_out(struct msb_stream *s)
{
	int64_t deadline = msb__now_ms() + SEND_TIMEOUT_MS;
	int rc;

	if (!s->s_was_up)
		return MSB_OK;		/* nothing was queued */
	if ((rc = need_link(s)) != MSB_OK)
		return rc;
	while (zmtp_flush(s->s_z) == -1)
		if ((rc = retry_out(s, deadline)) != MSB_OK)
			return rc;
	return MSB_OK;
}

/*
 * Connects when no connection was made yet and it is time to try:
 * [HELLO][instance][credit][batch] goes first on it, once streammgr's
 * side of the handshake has come (waited for at most wait_ms here; recv
 * finishes it otherwise). Returns MSB_OK (a connection, or a try later
 * at s_retry_at) or MSB_ERROR.
 */
static int
link_up(struct msb_stream *s, int wait_ms)
{
	char num[16];
	struct zmtp_frame hello[4] = {
		{ "HELLO", 5 },
		{ s->s_instance, strlen(s->s_instance) },
		{ num, 0 },
		{ "batch", 5 },
	};

	if (s->s_was_up || msb__now_ms() < s->s_retry_at)
		return MSB_OK;
	if (zmtp_connect(s->s_z, s->s_endpoint) == -1) {
		if (errno != ENOENT && errno != ECONNREFUSED &&
		    errno != EAGAIN && errno != EPIPE && errno != ECONNRESET)
			return fail(s, MSB_ERROR, "%s", zmtp_error(s->s_z));
		/* Nothing listens yet (or it closed at once): libzmq's
		 * connect would retry. */
		s->s_retry_at = msb__now_ms() + RECONNECT_MS;
		return MSB_OK;
	}
	s->s_was_up = true;
	hello[2].len = (size_t)snprintf(num, sizeof(num), "%u",
	    s->s_credit);
	if (send_msg(s, hello, 4) != MSB_OK)
		return fail(s, MSB_ERROR, "HELLO to %s: %s", s->s_endpoint,
		    zmtp_error(s->s_z));
	if (wait_ms > 0 && zmtp_handshake(s->s_z, wait_ms) == -1 &&
	    errno != ETIMEDOUT)
		return fail(s, MSB_ERROR, "handshake with %s: %s",
		    s->s_endpoint, zmtp_error(s->s_z));
	return MSB_OK;
}

static void
destroy(struct msb_stream *s)
{
	if (s->s_wakefd >= 0) {
		close(s->s_wakefd);
		pthread_mutex_destroy(&s->s_lock);
		pthread_cond_destroy(&s->s_room);
	}
	zmtp_free(s->s_z, CLOSE_LINGER_MS);
	free(s->s_endpoint);
	if (s->s_sigheld)
		signals_release();
	free(s->s_batch_buf);
	wb_free(&s->s_rangebuf);
	free(s);
}

/* The lock, its condition (on the monotonic clock, as deadlines are)
 * and the reader's wake-up. Returns 0, or -1 with errno. */
static int
sync_init(struct msb_stream *s)
{
	pthread_condattr_t ca;

	if ((s->s_wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
		return -1;
	pthread_mutex_init(&s->s_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->s_room, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

int
msb_stream_open(struct msb_stream **sp, const char *endpoint,
    const char *instance, uint32_t credit, char *err, size_t errlen)
{
	struct msb_stream *s;

	*sp = NULL;
	if (endpoint == NULL || *endpoint == '\0') {
		msb__seterr(err, errlen, "stream: no endpoint "
		    "(ZMQ_STREAM_ENDPOINT)");
		return MSB_ERROR;
	}
	if (strncmp(endpoint, "ipc://", 6) != 0) {
		msb__seterr(err, errlen, "stream: endpoint %s: must be "
		    "ipc://PATH (ZMQ_STREAM_ENDPOINT)", endpoint);
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
		msb__seterr(err, errlen, "stream: %s", strerror(ENOMEM));
		return MSB_ERROR;
	}
	s->s_serial = atomic_fetch_add(&stream_serials, 1) + 1;
	s->s_wakefd = -1;	/* destroy: no lock made yet */
	if ((s->s_z = zmtp_new(ZMTP_DEALER, FRAME_MAX, OUT_MAX)) == NULL ||
	    (s->s_endpoint = strdup(endpoint)) == NULL) {
		msb__seterr(err, errlen, "stream: %s", strerror(ENOMEM));
		destroy(s);
		return MSB_ERROR;
	}
	if (sync_init(s) == -1) {
		msb__seterr(err, errlen, "stream: eventfd: %s",
		    strerror(errno));
		destroy(s);
		return MSB_ERROR;
	}
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
	/*
	 * The handshake is waited for here (a local round trip), so HELLO
	 * is out when open returns: an app that does other work before its
	 * first recv is still ready within start_timeout.
	 */
	if (link_up(s, HANDSHAKE_MS) != MSB_OK) {
		msb__seterr(err, errlen, "%s", s->s_err);
		destroy(s);
		return MSB_ERROR;
	}
	*sp = s;
	return MSB_OK;
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

/* The queued acks (some) as one message into iov: [ACK][ids], or
 * [ACKR][ranges] where shorter and streammgr reads them. */
static void
acks_frame(struct msb_stream *s, struct zmtp_frame iov[2])
{
	size_t len;

	if (s->s_ranges && (len = ack_ranges(s)) > 0 &&
	    len < s->s_nacks * 8) {
		iov[0] = (struct zmtp_frame){ "ACKR", 4 };
		iov[1] = (struct zmtp_frame){ s->s_rangebuf.b_data, len };
	} else {
		iov[0] = (struct zmtp_frame){ "ACK", 3 };
		iov[1] = (struct zmtp_frame){ s->s_ackbuf, s->s_nacks * 8 };
	}
}

/* Sends the queued acks as the socket takes them, waiting for room
 * until deadline (send_msg_by). */
static int
send_acks_by(struct msb_stream *s, int64_t deadline)
{
	struct zmtp_frame iov[2];
	int rc;

	if (s->s_nacks == 0)
		return MSB_OK;
	acks_frame(s, iov);
	if ((rc = send_msg_by(s, iov, 2, deadline)) != MSB_OK)
		return rc;
	s->s_nacks = 0;
	return MSB_OK;
}

/* send_acks_by, waiting at most SEND_TIMEOUT_MS. */
static int
send_acks(struct msb_stream *s)
{
	return send_acks_by(s, msb__now_ms() + SEND_TIMEOUT_MS);
}

int
msb_stream_flush(struct msb_stream *s)
{
	int rc;

	pthread_mutex_lock(&s->s_lock);
	if ((rc = send_acks(s)) == MSB_OK)
		rc = drain_out(s);
	pthread_mutex_unlock(&s->s_lock);
	return rc;
}

/* An acker, while recv polls: recv is to wake and send what was queued.
 * One write a wait; recv reads it and clears s_woken. */
static void
wake_reader(struct msb_stream *s)
{
	uint64_t one = 1;
	ssize_t n;

	if (s->s_woken)
		return;
	s->s_woken = true;
	n = write(s->s_wakefd, &one, sizeof(one));
	(void)n;	/* full only with 2^64 - 2 wakes unread: one is there */
}

/*
 * An acker, while recv polls and what it queues has no room: waits for
 * recv to make some (it waits again, or returns: s_room) until
 * *deadline (0: SEND_TIMEOUT_MS from the first wait). Returns MSB_OK
 * (look again) or MSB_TEMPFAIL at the deadline, as a send's wait.
 */
static int
wait_reader(struct msb_stream *s, int64_t *deadline)
{
	struct timespec ts;

	/* Woken once: recv tries to send, and what it cannot it polls
	 * for (POLLOUT), broadcasting s_room as it polls again. A wake at
	 * each of our waits would have it try again at once, our two
	 * threads taking turns, a CPU busy, until the deadline. */
	if (*deadline == 0) {
		*deadline = msb__now_ms() + SEND_TIMEOUT_MS;
		wake_reader(s);
	}
	ts.tv_sec = (time_t)(*deadline / 1000);
	ts.tv_nsec = (long)(*deadline % 1000) * 1000000;
	if (pthread_cond_timedwait(&s->s_room, &s->s_lock, &ts) ==
	    ETIMEDOUT && s->s_polling)
		return fail(s, MSB_TEMPFAIL, "send to streammgr: no room in "
		    "%d ms (is it reading?)", SEND_TIMEOUT_MS);
	return MSB_OK;
}

/*
 * An acker, while recv polls: n frames put in the output for recv to
 * send, waiting for room as wait_reader. iov NULL: the queued acks, as
 * one message made again at each try, as a wait lets go of s_lock (recv
 * may send them meanwhile, other ackers add some). Returns MSB_OK,
 * MSB_TEMPFAIL, MSB_ERROR (no connection, need_link), or 1: recv
 * returned meanwhile, nothing put (send it yourself).
 */
static int
put_msg(struct msb_stream *s, const struct zmtp_frame *iov, size_t n)
{
	struct zmtp_frame acks[2];
	int64_t deadline = 0;
	int rc;

	for (;;) {
		if (!s->s_polling)
			return 1;
		if (iov == NULL && s->s_nacks == 0)
			return MSB_OK;
		if ((rc = need_link(s)) != MSB_OK)
			return rc;
		if (iov == NULL)
			acks_frame(s, acks);
		if (zmtp_put(s->s_z, iov != NULL ? iov : acks,
		    iov != NULL ? n : 2) == 0) {
			if (iov == NULL)
				s->s_nacks = 0;
			wake_reader(s);
			return MSB_OK;
		}
		if (errno != EAGAIN)
			return fail(s, MSB_ERROR, "send to streammgr: %s",
			    zmtp_error(s->s_z));
		if ((rc = wait_reader(s, &deadline)) != MSB_OK)
			return rc;
	}
}

/*
 * An acker, while recv polls: id queued and recv woken to send it,
 * after waiting for room in the queue (1024 ids) as wait_reader. Returns
 * MSB_OK, MSB_TEMPFAIL (id not queued), or 1 as put_msg.
 */
static int
ack_queued(struct msb_stream *s, uint64_t id)
{
	int64_t deadline = 0;
	int rc;

	while (s->s_polling && s->s_nacks >= ACK_MAX)
		if ((rc = wait_reader(s, &deadline)) != MSB_OK)
			return rc;
	if (!s->s_polling)
		return 1;
	msb__put_be64(s->s_ackbuf + 8 * s->s_nacks++, id);
	wake_reader(s);
	return MSB_OK;
}

/* msb_stream_ack with s_lock held. */
static int
ack_locked(struct msb_stream *s, uint64_t id)
{
	int rc = MSB_OK;

	if (s->s_polling && (rc = ack_queued(s, id)) != 1)
		return rc;
	rc = MSB_OK;

	/* Full only when an earlier flush failed: try again. Whether or
	 * not that works, id is queued while there is room (ACK_MAX). */
	if (s->s_nacks >= s->s_batch)
		rc = send_acks(s);
	if (s->s_nacks >= ACK_MAX)
		return rc;		/* a failure: s_nacks is 0 otherwise */
	msb__put_be64(s->s_ackbuf + 8 * s->s_nacks++, id);
	if (rc == MSB_OK && s->s_nacks >= s->s_batch)
		rc = send_acks(s);
	return rc;
}

int
msb_stream_ack(struct msb_stream *s, uint64_t id)
{
	int rc;

	pthread_mutex_lock(&s->s_lock);
	rc = ack_locked(s, id);
	pthread_mutex_unlock(&s->s_lock);
	return rc;
}

/*
 * An acker, while recv polls: the queued acks, then [cmd][id][reason],
 * put in the output for recv to send (put_msg). Returns as put_msg.
 */
static int
command_queued(struct msb_stream *s, const struct zmtp_frame *iov,
    size_t n)
{
	int rc;

	if ((rc = put_msg(s, NULL, 0)) != MSB_OK)
		return rc;
	return put_msg(s, iov, n);
}

/* Sends the queued acks, then [cmd][id][reason] (without a reason,
 * [cmd][id]): put for recv to send while it polls. */
static int
settle_command(struct msb_stream *s, const char *cmd, uint64_t id,
    const char *reason)
{
	unsigned char idbuf[8];
	struct zmtp_frame iov[3] = {
		{ cmd, strlen(cmd) },
		{ idbuf, sizeof(idbuf) },
		{ reason, reason != NULL ? strlen(reason) : 0 },
	};
	size_t n = reason != NULL ? 3 : 2;
	int rc;

	msb__put_be64(idbuf, id);
	pthread_mutex_lock(&s->s_lock);
	if (!s->s_polling || (rc = command_queued(s, iov, n)) == 1) {
		if ((rc = send_acks(s)) == MSB_OK)
			rc = send_msg(s, iov, n);
	}
	pthread_mutex_unlock(&s->s_lock);
	return rc;
}

int
msb_stream_nack(struct msb_stream *s, uint64_t id, const char *reason)
{
	return settle_command(s, "NACK", id,
	    reason != NULL && *reason != '\0' ? reason : NULL);
}

int
msb_stream_reject(struct msb_stream *s, uint64_t id, const char *reason)
{
	return settle_command(s, "REJECT", id,
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

/* s_lock of a const s: msb_stream_error reads s_err under it. */
static pthread_mutex_t *
lock_of(const struct msb_stream *s)
{
	union { const pthread_mutex_t *c; pthread_mutex_t *v; } u = {
		.c = &s->s_lock };

	return u.v;
}

/*
 * This thread's last failure if it was on s, else the stream's last. A
 * copy (s_err under s_lock): another thread may be failing meanwhile (an
 * acker, or the reader), and s_err is rewritten in place.
 */
const char *
msb_stream_error(const struct msb_stream *s)
{
	static _Thread_local char copy[sizeof(s->s_err)];

	if (s == NULL)
		return "";
	if (failed_serial == s->s_serial) {
		memcpy(copy, failed_err, sizeof(copy));
		return copy;
	}
	pthread_mutex_lock(lock_of(s));
	memcpy(copy, s->s_err, sizeof(copy));
	pthread_mutex_unlock(lock_of(s));
	return copy;
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
 * The next delivery of a batch in s_msg; SKIPPED at its end or when the
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
 * msg), MSB_STOPPED (the answer to BYE, or the connection's end after
 * ours), MSB_ERROR (ERR from streammgr, or a failure), MSB_TEMPFAIL
 * (nothing there) or SKIPPED.
 */
static int
read_one(struct msb_stream *s, struct msb_message *msg)
{
	const struct zmtp_frame *f = s->s_msg.zm_f;
	char what[64];
	int nframes;

	if (s->s_inbatch)
		return next_in_batch(s, msg);
	if (zmtp_recv(s->s_z, &s->s_msg) == -1) {
		if (errno == EAGAIN || (errno == ENOTCONN && !s->s_was_up))
			return MSB_TEMPFAIL;
		return link_lost(s);
	}
	nframes = s->s_msg.zm_nframes > 2 ? 3 : (int)s->s_msg.zm_nframes;
	switch (msb__work_classify(f[0].data, f[0].len, nframes, &msg->id,
	    what, sizeof(what))) {
	case MSB__DELIVERY:
		msg->data = f[1].data;
		msg->len = f[1].len;
		return MSB_OK;
	case MSB__BATCH:
		wb_reader_init(&s->s_rd, f[1].data, f[1].len);
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
		    s->s_instance, (int)msb__utf8_cut(f[0].data,
		    f[0].len > 400 ? 400 : f[0].len), (const char *)f[0].data);
		fprintf(stderr, "libmysimbdp: %s\n", s->s_err);
		return MSB_ERROR;
	case MSB__MALFORMED:
		break;
	}
	return malformed(s, what);
}

/*
 * Flushes the acks and says BYE, waiting for room no longer than the
 * answer is waited for. Failures do not stop the stop: with the
 * connection gone, it is over (link_lost), and with streammgr not
 * answering (or not reading), it is over after BYE_WAIT_MS
 * (msb_stream_recv).
 */
static void
send_bye(struct msb_stream *s)
{
	struct zmtp_frame bye = { "BYE", 3 };

	s->s_bye_sent = true;
	s->s_bye_deadline = msb__now_ms() + BYE_WAIT_MS;
	if (!zmtp_connected(s->s_z)) {
		s->s_stopped = true;	/* nothing was or will be delivered */
		return;
	}
	if (send_acks_by(s, s->s_bye_deadline) == MSB_OK)
		send_msg_by(s, &bye, 1, s->s_bye_deadline);
}

/* How long to wait in recv: the caller's timeout, the BYE's, the next
 * connect's. -1: no bound. */
static int64_t
wait_bound(const struct msb_stream *s, int64_t now, int64_t deadline,
    int timeout_ms)
{
	int64_t wait = timeout_ms < 0 ? -1 : deadline > now ? deadline - now :
	    0;

	if (s->s_bye_sent && (wait < 0 || s->s_bye_deadline - now < wait))
		wait = s->s_bye_deadline - now;
	if (!s->s_was_up) {
		int64_t retry = s->s_retry_at > now ? s->s_retry_at - now : 0;

		if (wait < 0 || retry < wait)
			wait = retry;
	}
	return wait > INT_MAX ? INT_MAX : wait;
}

/*
 * recv's wait, s_lock let go: ackers queue meanwhile (s_polling) and
 * wake it (s_wakefd). n of pfd are filled; the wake-up goes after them.
 * Returns poll's.
 */
static int
poll_unlocked(struct msb_stream *s, struct pollfd *pfd, int n, int wait)
{
	uint64_t woken;
	ssize_t got;
	int rc, saved;

	pfd[n++] = (struct pollfd){ .fd = s->s_wakefd, .events = POLLIN };
	s->s_polling = true;
	pthread_cond_broadcast(&s->s_room);	/* room made before it */
	pthread_mutex_unlock(&s->s_lock);
	rc = poll(pfd, (nfds_t)n, wait);
	saved = errno;
	pthread_mutex_lock(&s->s_lock);
	s->s_polling = false;
	if (s->s_woken) {
		got = read(s->s_wakefd, &woken, sizeof(woken));
		(void)got;	/* EAGAIN only if never written: not woken */
		s->s_woken = false;
	}
	errno = saved;
	return rc;
}

/* msb_stream_recv with s_lock held (let go while it waits). */
static int
recv_locked(struct msb_stream *s, struct msb_message *msg, int timeout_ms)
{
	struct pollfd pfd[3];
	int64_t now, deadline = 0, wait, ack_by;
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
		if (s->s_stopped)
			return MSB_STOPPED;
		if ((rc = read_one(s, msg)) == SKIPPED)
			continue;
		if (rc != MSB_TEMPFAIL)
			return rc;

		/* Nothing there: the acks go out before we wait. Those
		 * streammgr does not take stay queued. A wait without end
		 * waits for room below, with the messages and a stop (not
		 * first a send's 2 s, blind to them); after a BYE, no
		 * longer than for its answer, whose end is MSB_STOPPED. */
		now = msb__now_ms();
		ack_by = timeout_ms < 0 ? now : now + SEND_TIMEOUT_MS;
		if (s->s_bye_sent && s->s_bye_deadline < ack_by)
			ack_by = s->s_bye_deadline;
		if ((rc = send_acks_by(s, ack_by)) != MSB_OK) {
			if (s->s_stopped)
				return MSB_STOPPED;
			if (rc != MSB_TEMPFAIL ||
			    (timeout_ms >= 0 && !s->s_bye_sent))
				return rc;
		}
		if ((rc = link_up(s, 0)) != MSB_OK) {
			s->s_failed = true;
			return rc;
		}
		now = msb__now_ms();
		if (!started) {
			deadline = now + timeout_ms;
			started = true;
		}
		if (s->s_bye_sent && now >= s->s_bye_deadline) {
			/* No answer: streammgr may be stuck. */
			s->s_stopped = true;
			return MSB_STOPPED;
		}
		if ((wait = wait_bound(s, now, deadline, timeout_ms)) == 0) {
			if (!s->s_was_up && s->s_retry_at <= now)
				continue;	/* time to connect */
			return MSB_TEMPFAIL;
		}

		n = 0;
		if (zmtp_connected(s->s_z))
			pfd[n++] = (struct pollfd){ .fd = zmtp_fd(s->s_z),
			    .events = zmtp_events(s->s_z) };
		if (!s->s_bye_sent)
			pfd[n++] = (struct pollfd){ .fd = sig_pipe[0],
			    .events = POLLIN };
		if (poll_unlocked(s, pfd, n, (int)wait) == -1 &&
		    errno != EINTR) {
			s->s_failed = true;
			return fail(s, MSB_ERROR, "poll: %s", strerror(errno));
		}
		/* Whatever waits to go out is tried now: queued acks or a
		 * PONG as room comes, and a NACK an acker put meanwhile,
		 * which poll was not asked about and which must not wait
		 * behind a delivery that came with its wake-up. */
		if (zmtp_connected(s->s_z) &&
		    (zmtp_events(s->s_z) & POLLOUT) &&
		    zmtp_flush(s->s_z) == -1 && errno != EAGAIN)
			return link_lost(s);
	}
}

int
msb_stream_recv(struct msb_stream *s, struct msb_message *msg, int timeout_ms)
{
	int rc;

	pthread_mutex_lock(&s->s_lock);
	rc = recv_locked(s, msg, timeout_ms);
	pthread_cond_broadcast(&s->s_room);	/* ackers waiting: send */
	pthread_mutex_unlock(&s->s_lock);
	return rc;
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
	bool oom = false;
	int rc;

	pthread_mutex_lock(&s->s_lock);
	/* The first waits as msb_stream_recv does; the rest are there. */
	rc = max == 0 ? fail(s, MSB_ERROR, "recv_batch: max is 0") :
	    recv_locked(s, &m, timeout_ms);
	while (rc == MSB_OK) {
		if (batch_keep(s, &m, &used) == -1) {
			/* m waits for the next call; what was kept goes now. */
			s->s_held = m;
			s->s_has_held = true;
			if (n > 0)
				break;
			rc = fail(s, MSB_ERROR, "recv_batch: out of memory");
			oom = true;
			break;
		}
		ids[n] = m.id;
		lens[n] = m.len;
		if (++n == max)
			break;
		while ((rc = read_one(s, &m)) == SKIPPED)
			;
	}
	pthread_cond_broadcast(&s->s_room);	/* ackers waiting: send */
	pthread_mutex_unlock(&s->s_lock);
	if (n == 0 && oom)
		return rc;	/* *data and *count untouched */
	*data = s->s_batch_buf;
	*count = n;
	/* A stop or a failure after some messages comes with the next. */
	return n > 0 ? MSB_OK : rc;
}

int
msb_stream_ack_many(struct msb_stream *s, const uint64_t *ids, size_t n)
{
	int rc = MSB_OK;

	/* One lock for them all (let go while one waits for room). */
	pthread_mutex_lock(&s->s_lock);
	for (size_t i = 0; i < n && rc == MSB_OK; i++)
		rc = ack_locked(s, ids[i]);
	pthread_mutex_unlock(&s->s_lock);
	return rc;
}

void
msb_stream_close(struct msb_stream *s)
{
	if (s == NULL)
		return;
	/* No acker runs now (the contract): the lock is for the reads. */
	pthread_mutex_lock(&s->s_lock);
	send_acks(s);
	pthread_mutex_unlock(&s->s_lock);
	destroy(s);
}
