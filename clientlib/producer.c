/*
 * Producers: sending records to a stream's ingress socket
 * (docs/protocols.md, "Ingress"). Each record goes out as
 * [seq, 8 bytes big-endian][payload]; streammgr answers [seq][status] in
 * the order of the requests, so a reply is matched by counting: every
 * seq up to p_done is answered, p_done + 1 is the next reply expected.
 *
 * Every message msb_producer_send() accepted gets exactly one callback:
 * its reply, or, when the reply never comes, MSB_REPLY_THROTTLE with a
 * reason starting "no-reply" (the status is unknown: send it again; the
 * platform delivers at least once anyway). A reply never comes when
 * streammgr restarted (the connection, and what was queued on it, is
 * gone); that shows as a reply to a later seq, or as no reply at all for
 * the reply timeout.
 *
 * The send path allocates nothing of its own per message; replies are
 * received into zmq_msg_t kept in the producer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "mysimbdp-internal.h"

#define DEFAULT_WINDOW		1000
#define DEFAULT_REPLY_TIMEOUT_MS 10000
#define CLOSE_LINGER_MS		1000
#define REASON_MAX		1024

struct msb_producer {
	void		*p_ctx;
	void		*p_sock;
	msb_reply_cb	 p_cb;
	void		*p_arg;
	uint32_t	 p_window;
	int		 p_timeout;	/* reply timeout, ms */
	uint64_t	 p_sent;	/* seq of the last message sent */
	uint64_t	 p_done;	/* every seq up to it has had its callback */
	int64_t		 p_progress;	/* last reply, or first send: ms */
	uint64_t	 p_lost;	/* written off as no-reply */
	bool		 p_incb;	/* inside the callback */
	bool		 p_quiet_ok;	/* OK replies: counted, not called back */
	uint64_t	 p_counts[3];	/* replies by enum msb_reply_status */
	zmq_msg_t	 p_rid;		/* a reply: [msg-id][status] */
	zmq_msg_t	 p_rstatus;
	unsigned char	 p_idbuf[8];
	char		 p_reason[REASON_MAX];
	char		 p_err[512];
};

/* Records why p failed and returns rc. */
static int
fail(struct msb_producer *p, int rc, const char *fmt, ...)
    MSB__FMT(3, 4);

static int
fail(struct msb_producer *p, int rc, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vsnprintf(p->p_err, sizeof(p->p_err), fmt, ap);
	va_end(ap);
	errno = saved;
	return rc;
}

static uint32_t
outstanding(const struct msb_producer *p)
{
	return (uint32_t)(p->p_sent - p->p_done);
}

static void
callback(struct msb_producer *p, uint64_t seq, enum msb_reply_status st,
    const char *reason)
{
	p->p_counts[st]++;
	if (p->p_cb == NULL || (st == MSB_REPLY_OK && p->p_quiet_ok))
		return;
	p->p_incb = true;
	p->p_cb(seq, st, reason, p->p_arg);
	p->p_incb = false;
}

/* Gives up on the replies up to seq (not included). Returns how many. */
static int
write_off(struct msb_producer *p, uint64_t seq, const char *why)
{
	int n = 0;

	while (p->p_done + 1 < seq) {
		p->p_done++;
		p->p_lost++;
		callback(p, p->p_done, MSB_REPLY_THROTTLE, why);
		n++;
	}
	return n;
}

/*
 * Writes off every outstanding message when no reply came for the reply
 * timeout. Returns how many.
 */
static int
check_stall(struct msb_producer *p, int64_t now)
{
	char why[128];

	if (outstanding(p) == 0 || now - p->p_progress < p->p_timeout)
		return 0;
	snprintf(why, sizeof(why), "no-reply: none within %d ms",
	    p->p_timeout);
	fail(p, MSB_TEMPFAIL, "no reply from streammgr within %d ms",
	    p->p_timeout);
	return write_off(p, p->p_sent + 1, why);
}

/* Drops the frames left of a message. */
static void
discard_rest(struct msb_producer *p, zmq_msg_t *last)
{
	zmq_msg_t m;
	int more = zmq_msg_more(last);

	zmq_msg_init(&m);
	while (more) {
		if (zmq_msg_recv(&m, p->p_sock, 0) == -1 && errno != EINTR)
			break;
		more = zmq_msg_more(&m);
	}
	zmq_msg_close(&m);
}

/* Handles a reply in p_rid and p_rstatus. Returns the callbacks made. */
/*
 * A status "WORD" or "WORD reason": copies the reason (maybe empty) into
 * buf and returns its length + 1; 0 when st is not that word.
 */
static size_t
word_reason(const char *st, size_t len, const char *word, char *buf,
    size_t buflen)
{
	size_t wlen = strlen(word), rlen;

	if (len < wlen || memcmp(st, word, wlen) != 0 ||
	    (len > wlen && st[wlen] != ' '))
		return 0;
	rlen = len > wlen + 1 ? len - wlen - 1 : 0;
	if (rlen >= buflen)
		rlen = buflen - 1;
	if (rlen > 0)
		memcpy(buf, st + wlen + 1, rlen);
	buf[rlen] = '\0';
	return rlen + 1;
}

static int
handle_reply(struct msb_producer *p)
{
	const char *st = zmq_msg_data(&p->p_rstatus);
	size_t len = zmq_msg_size(&p->p_rstatus), rlen;
	enum msb_reply_status status;
	const char *reason = NULL;
	uint64_t seq;
	char q[48];
	int n;

	if (zmq_msg_size(&p->p_rid) != 8)
		return 0;	/* not an id of ours */
	seq = msb__get_be64(zmq_msg_data(&p->p_rid));
	if (seq <= p->p_done || seq > p->p_sent)
		return 0;	/* late: already written off */
	n = write_off(p, seq, "no-reply: a later message was answered "
	    "first (streammgr restarted?)");
	if (len == 2 && memcmp(st, "OK", 2) == 0)
		status = MSB_REPLY_OK;
	else if ((rlen = word_reason(st, len, "THROTTLE", p->p_reason,
	    sizeof(p->p_reason))) > 0) {
		status = MSB_REPLY_THROTTLE;
		reason = rlen > 1 ? p->p_reason : NULL;
	} else if ((rlen = word_reason(st, len, "REJECT", p->p_reason,
	    sizeof(p->p_reason))) > 0) {
		status = MSB_REPLY_REJECT;
		reason = p->p_reason;
	} else {
		/* Nothing stored that we know of: the app decides. */
		status = MSB_REPLY_REJECT;
		snprintf(p->p_reason, sizeof(p->p_reason),
		    "unknown-status: \"%s\"", msb__quote(st, len, q,
		    sizeof(q)));
		reason = p->p_reason;
	}
	p->p_done = seq;
	callback(p, seq, status, reason);
	return n + 1;
}

/*
 * Handles every reply that has arrived, without waiting. Returns the
 * callbacks made, or -1 (p_err set).
 */
static int
drain(struct msb_producer *p)
{
	int n = 0, rc;

	for (;;) {
		if (zmq_msg_recv(&p->p_rid, p->p_sock, ZMQ_DONTWAIT) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return fail(p, -1, "receive from streammgr: %s",
			    zmq_strerror(errno));
		}
		if (!zmq_msg_more(&p->p_rid))
			continue;	/* no status: not a reply */
		do
			rc = zmq_msg_recv(&p->p_rstatus, p->p_sock, 0);
		while (rc == -1 && errno == EINTR);
		if (rc == -1)
			return fail(p, -1, "receive from streammgr: %s",
			    zmq_strerror(errno));
		if (zmq_msg_more(&p->p_rstatus)) {
			discard_rest(p, &p->p_rstatus);
			continue;
		}
		n += handle_reply(p);
	}
	if (n > 0)
		p->p_progress = msb__now_ms();
	return n;
}

/* Waits up to ms for events on the socket. Returns 0 or -1. */
static int
wait_for(struct msb_producer *p, short events, int64_t ms)
{
	zmq_pollitem_t item = { .socket = p->p_sock, .events = events };

	if (ms < 0)
		ms = 0;
	if (zmq_poll(&item, 1, (long)ms) == -1 && errno != EINTR)
		return fail(p, -1, "poll: %s", zmq_strerror(errno));
	return 0;
}

static int
refuse_in_callback(struct msb_producer *p)
{
	errno = EDEADLK;
	return fail(p, MSB_ERROR, "a producer function was called from the "
	    "reply callback");
}

/*
 * For an ipc:// endpoint, says at once what a connect would only retry
 * in the background: no such socket, or no permission.
 */
static int
check_ipc(const char *endpoint, char *err, size_t errlen)
{
	const char *path = endpoint + strlen("ipc://");
	struct stat st;

	if (*path == '@')
		return MSB_OK;	/* Linux abstract namespace: no file */
	if (stat(path, &st) == -1) {
		if (errno == ENOENT) {
			msb__seterr(err, errlen, "connect %s: %s (is "
			    "streammgr running?)", endpoint, strerror(errno));
			return MSB_TEMPFAIL;
		}
		msb__seterr(err, errlen, "connect %s: %s", endpoint,
		    strerror(errno));
		return msb__errno_rc(errno);
	}
	if (!S_ISSOCK(st.st_mode)) {
		msb__seterr(err, errlen, "connect %s: not a socket", endpoint);
		return MSB_ERROR;
	}
	if (access(path, R_OK | W_OK) == -1) {
		msb__seterr(err, errlen, "connect %s: %s", endpoint,
		    strerror(errno));
		return msb__errno_rc(errno);
	}
	return MSB_OK;
}

static void
destroy(struct msb_producer *p)
{
	int linger = CLOSE_LINGER_MS;

	if (p->p_sock != NULL) {
		zmq_setsockopt(p->p_sock, ZMQ_LINGER, &linger, sizeof(linger));
		zmq_close(p->p_sock);
	}
	zmq_msg_close(&p->p_rid);
	zmq_msg_close(&p->p_rstatus);
	if (p->p_ctx != NULL)
		zmq_ctx_term(p->p_ctx);
	free(p);
}

int
msb_producer_open(struct msb_producer **pp, const char *endpoint,
    uint32_t window, msb_reply_cb cb, void *arg, char *err, size_t errlen)
{
	struct msb_producer *p;
	int immediate = 1, linger = 0, unlimited = 0, hwm, rc;

	*pp = NULL;
	if (endpoint == NULL || *endpoint == '\0') {
		msb__seterr(err, errlen, "producer: no endpoint");
		return MSB_ERROR;
	}
	if (strncmp(endpoint, "ipc://", 6) == 0 &&
	    (rc = check_ipc(endpoint, err, errlen)) != MSB_OK)
		return rc;
	if (window == 0)
		window = DEFAULT_WINDOW;
	if (window > INT32_MAX / 2) {
		msb__seterr(err, errlen, "producer: window %u: too large",
		    window);
		return MSB_ERROR;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		msb__seterr(err, errlen, "producer: %s", strerror(errno));
		return MSB_ERROR;
	}
	zmq_msg_init(&p->p_rid);
	zmq_msg_init(&p->p_rstatus);
	p->p_cb = cb;
	p->p_arg = arg;
	p->p_window = window;
	p->p_timeout = DEFAULT_REPLY_TIMEOUT_MS;

	if ((p->p_ctx = zmq_ctx_new()) == NULL)
		goto fail;
	zmq_ctx_set(p->p_ctx, ZMQ_IO_THREADS, 1);
	if ((p->p_sock = zmq_socket(p->p_ctx, ZMQ_DEALER)) == NULL)
		goto fail;
	/*
	 * ZMQ_IMMEDIATE: nothing is queued while no streammgr is connected,
	 * so a send finds out (EAGAIN) instead of queueing blindly. The send
	 * queue holds a whole window, so the window is the only limit. The
	 * receive queue has no limit: replies never outnumber what we sent,
	 * and a full one would make streammgr's ROUTER drop replies (libzmq
	 * accounts reads lazily, so "full" comes well before the HWM).
	 */
	hwm = (int)window + 64;
	if (hwm < 1000)
		hwm = 1000;
	if (zmq_setsockopt(p->p_sock, ZMQ_IMMEDIATE, &immediate,
	    sizeof(immediate)) == -1 ||
	    zmq_setsockopt(p->p_sock, ZMQ_SNDHWM, &hwm, sizeof(hwm)) == -1 ||
	    zmq_setsockopt(p->p_sock, ZMQ_RCVHWM, &unlimited,
	    sizeof(unlimited)) == -1 ||
	    zmq_setsockopt(p->p_sock, ZMQ_LINGER, &linger,
	    sizeof(linger)) == -1)
		goto fail;
	if (zmq_connect(p->p_sock, endpoint) == -1) {
		msb__seterr(err, errlen, "connect %s: %s", endpoint,
		    zmq_strerror(errno));
		destroy(p);
		return MSB_ERROR;
	}
	*pp = p;
	return MSB_OK;

fail:
	msb__seterr(err, errlen, "producer %s: %s", endpoint,
	    zmq_strerror(errno));
	destroy(p);
	return MSB_ERROR;
}

int
msb_producer_send(struct msb_producer *p, const void *data, size_t len,
    uint64_t *seq)
{
	int64_t now, deadline = 0;
	bool waiting = false;
	int rc;

	if (p->p_incb)
		return refuse_in_callback(p);
	/*
	 * Look for replies every 32 sends, not each time: an empty receive
	 * costs a poll(2), about a third of a send otherwise.
	 */
	if ((p->p_sent & 31) == 0 && drain(p) == -1)
		return MSB_ERROR;

	/* The window is full: wait for replies. */
	while (outstanding(p) >= p->p_window) {
		now = msb__now_ms();
		if (check_stall(p, now) > 0)
			return MSB_TEMPFAIL;
		if (wait_for(p, ZMQ_POLLIN, p->p_progress + p->p_timeout -
		    now) == -1 || drain(p) == -1)
			return MSB_ERROR;
	}

	/*
	 * EAGAIN: no streammgr connected (ZMQ_IMMEDIATE), or its queue is
	 * full. Wait for room, handling replies meanwhile (streammgr may be
	 * waiting for us to read them).
	 */
	msb__put_be64(p->p_idbuf, p->p_sent + 1);
	while (zmq_send(p->p_sock, p->p_idbuf, 8,
	    ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return fail(p, MSB_ERROR, "send: %s",
			    zmq_strerror(errno));
		now = msb__now_ms();
		if (!waiting) {
			deadline = now + p->p_timeout;
			waiting = true;
		}
		check_stall(p, now);
		if (now >= deadline)
			return fail(p, MSB_TEMPFAIL, "no streammgr took the "
			    "message within %d ms (is it running?)",
			    p->p_timeout);
		if (wait_for(p, ZMQ_POLLIN | ZMQ_POLLOUT, deadline - now) ==
		    -1 || drain(p) == -1)
			return MSB_ERROR;
	}
	/* The rest of a message always follows its first frame. */
	do
		rc = zmq_send(p->p_sock, data, len, ZMQ_DONTWAIT);
	while (rc == -1 && errno == EINTR);
	if (rc == -1)
		return fail(p, MSB_ERROR, "send: %s", zmq_strerror(errno));
	if (outstanding(p) == 0)
		p->p_progress = msb__now_ms();
	p->p_sent++;
	if (seq != NULL)
		*seq = p->p_sent;
	return MSB_OK;
}

int
msb_producer_poll(struct msb_producer *p, int timeout_ms)
{
	int64_t now, deadline, wait;
	int n;

	if (p->p_incb)
		return refuse_in_callback(p);
	if ((n = drain(p)) != 0)
		return n;
	now = msb__now_ms();
	deadline = now + timeout_ms;
	for (;;) {
		if ((n = check_stall(p, now)) > 0 || outstanding(p) == 0)
			return n;
		wait = p->p_progress + p->p_timeout - now;
		if (timeout_ms >= 0 && deadline - now < wait)
			wait = deadline - now;
		if (wait <= 0)
			return 0;
		if (wait_for(p, ZMQ_POLLIN, wait) == -1)
			return MSB_ERROR;
		if ((n = drain(p)) != 0)
			return n;
		now = msb__now_ms();
	}
}

int
msb_producer_flush(struct msb_producer *p, int timeout_ms)
{
	int64_t now, deadline, wait;
	uint64_t lost = p->p_lost;

	if (p->p_incb)
		return refuse_in_callback(p);
	if (drain(p) == -1)
		return MSB_ERROR;
	now = msb__now_ms();
	deadline = now + timeout_ms;
	while (outstanding(p) > 0) {
		check_stall(p, now);
		if (outstanding(p) == 0)
			break;
		wait = p->p_progress + p->p_timeout - now;
		if (timeout_ms >= 0 && deadline - now < wait)
			wait = deadline - now;
		if (wait <= 0)
			return fail(p, MSB_TEMPFAIL, "%u replies did not come "
			    "within %d ms", outstanding(p), timeout_ms);
		if (wait_for(p, ZMQ_POLLIN, wait) == -1 || drain(p) == -1)
			return MSB_ERROR;
		now = msb__now_ms();
	}
	return p->p_lost == lost ? MSB_OK : MSB_TEMPFAIL;
}

uint32_t
msb_producer_outstanding(const struct msb_producer *p)
{
	return outstanding(p);
}

void
msb_producer_set_reply_timeout(struct msb_producer *p, int timeout_ms)
{
	p->p_timeout = timeout_ms > 0 ? timeout_ms : DEFAULT_REPLY_TIMEOUT_MS;
}

const char *
msb_producer_error(const struct msb_producer *p)
{
	return p != NULL ? p->p_err : "";
}

void
msb_producer_close(struct msb_producer *p)
{
	if (p != NULL)
		destroy(p);
}

void
msb_producer_set_quiet_ok(struct msb_producer *p, bool quiet)
{
	p->p_quiet_ok = quiet;
}

void
msb_producer_counts(const struct msb_producer *p, uint64_t counts[3])
{
	memcpy(counts, p->p_counts, sizeof(p->p_counts));
}

int
msb_producer_send_many(struct msb_producer *p, const void *data,
    const size_t *lens, size_t n, size_t *sent, uint64_t *first_seq)
{
	const unsigned char *next = data;
	uint64_t seq;
	int rc = MSB_OK;

	*sent = 0;
	for (size_t i = 0; i < n; next += lens[i++]) {
		if ((rc = msb_producer_send(p, next, lens[i], &seq)) !=
		    MSB_OK)
			break;
		if (i == 0 && first_seq != NULL)
			*first_seq = seq;
		(*sent)++;
	}
	return rc;
}
