/*
 * A producer's link over ipc:// (link.h): a ZMTP DEALER (zmtp.c) to
 * streammgr's ingress ROUTER, in the caller's thread.
 *
 * While nothing listens (streammgr not started yet, or restarting) a
 * send is not taken (EAGAIN) and a connection is tried again every
 * RECONNECT_MS, as libzmq's connect would with ZMQ_IMMEDIATE: nothing is
 * queued for a streammgr that is not there. A connection that ends is
 * said once (ECONNRESET, by the send or the receive after its end was
 * seen, wherever it was: the replies awaited on it will not come) and
 * made again by a send at least RECONNECT_MS later, so the producer
 * writes those records off at once instead of waiting out its reply
 * timeout, and a streammgr that closes every connection is not called
 * in a loop. A send that finds the end is not taken (EAGAIN) and does
 * not say it: the replies streammgr wrote before it went are still in
 * the socket, and the receive that has read them says it.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mysimbdp-internal.h"
#include "link.h"

#define RECONNECT_MS	100		/* libzmq's default interval */
#define HANDSHAKE_MS	1000		/* a connection waits for it */
#define OUT_MAX		(8u << 20)	/* bytes queued before sends wait */
#define FRAME_MAX	(16u << 20)	/* a reply: statuses of a batch */

struct link_ipc {
	struct msb__link li_link;
	struct zmtp	*li_z;
	char		*li_endpoint;
	int64_t		 li_retry_at;	/* while not connected */
	bool		 li_reset;	/* an end not said yet (ECONNRESET) */
	char		 li_err[256];
};

/* li_link is the first member. */
static struct link_ipc *
ipc(struct msb__link *l)
{
	return (struct link_ipc *)l;
}

/*
 * The connection ended: said once (here, or by the next receive when
 * the caller cannot take it now), made again by a send RECONNECT_MS
 * later at the soonest.
 */
static int
ended(struct link_ipc *l)
{
	snprintf(l->li_err, sizeof(l->li_err), "the connection to streammgr "
	    "ended: %s", zmtp_error(l->li_z));
	zmtp_disconnect(l->li_z);
	l->li_retry_at = msb__now_ms() + RECONNECT_MS;
	l->li_reset = true;
	errno = ECONNRESET;
	return -1;
}

/* The end not said yet, said now: -1 with ECONNRESET, or 0. */
static int
say_end(struct link_ipc *l)
{
	if (!l->li_reset)
		return 0;
	l->li_reset = false;
	errno = ECONNRESET;
	return -1;
}

/* Nothing listens, or it closed at once: try again later. */
static bool
try_later(int e)
{
	return e == ENOENT || e == ECONNREFUSED || e == EAGAIN ||
	    e == EPIPE || e == ECONNRESET;
}

/* Connects when not connected and it is time to try. 0, or -1 (errno:
 * EAGAIN while nothing listens, or a failure). */
static int
link_up(struct link_ipc *l)
{
	if (zmtp_connected(l->li_z))
		return 0;
	if (msb__now_ms() < l->li_retry_at) {
		errno = EAGAIN;
		return -1;
	}
	if (zmtp_connect(l->li_z, l->li_endpoint) == 0) {
		/*
		 * Sends wait for streammgr's side of the handshake (zmtp.h):
		 * a local round trip, waited for here, so that what is sent
		 * next goes at once. Not over in time, it goes with a later
		 * call (wait, recv).
		 */
		if (zmtp_handshake(l->li_z, HANDSHAKE_MS) == -1 &&
		    errno != ETIMEDOUT) {
			ended(l);
			l->li_reset = false;	/* nothing went out on it */
			errno = EAGAIN;
			return -1;
		}
		return 0;
	}
	if (try_later(errno)) {
		l->li_retry_at = msb__now_ms() + RECONNECT_MS;
		errno = EAGAIN;
		return -1;
	}
	snprintf(l->li_err, sizeof(l->li_err), "%s", zmtp_error(l->li_z));
	return -1;
}

/* A send or receive that failed (errno): nothing now, or the end. */
static int
failed(struct link_ipc *l)
{
	if (errno == EAGAIN)
		return -1;
	ended(l);
	return say_end(l);
}

static int
ipc_send(struct msb__link *ll, const struct zmtp_frame *f, size_t n)
{
	struct link_ipc *l = ipc(ll);

	if (say_end(l) == -1 || link_up(l) == -1)
		return -1;
	if (zmtp_send(l->li_z, f, n) == 0)
		return 0;
	/*
	 * EPIPE or ECONNRESET with the connection still there: this write
	 * found the end, and the connection is kept for reading
	 * (zmtp_read_to_end): the replies streammgr wrote before it went
	 * are read first, then recv says the end. Not taken meanwhile.
	 * Nothing else but EAGAIN (no room) leaves it there: link_up
	 * connected it (no ENOTCONN), zmtp_send drops it for any other
	 * failure of the write, and no caller sends 0 or more than 8
	 * frames (EINVAL; link.h, the producer sends 2 or 3). Were one to,
	 * failed() would say it as the end, not as "not taken".
	 */
	if ((errno == EPIPE || errno == ECONNRESET) &&
	    zmtp_connected(l->li_z))
		errno = EAGAIN;
	return failed(l);
}

static int
ipc_recv(struct msb__link *ll, struct zmtp_msg *m)
{
	struct link_ipc *l = ipc(ll);

	if (say_end(l) == -1)
		return -1;
	if (!zmtp_connected(l->li_z)) {
		errno = EAGAIN;
		return -1;
	}
	return zmtp_recv(l->li_z, m) == 0 ? 0 : failed(l);
}

static int
ipc_wait(struct msb__link *ll, short events, int ms)
{
	struct link_ipc *l = ipc(ll);
	struct pollfd pfd;
	int64_t left;

	if (!zmtp_connected(l->li_z)) {
		/* Nothing to watch: until the next connect, at most. */
		left = l->li_retry_at - msb__now_ms();
		if (left < ms)
			ms = left > 0 ? (int)left : 0;
		if (ms > 0)
			poll(NULL, 0, ms);
		return 0;
	}
	/* Before the handshake is over, or once a write found the end,
	 * POLLOUT is not what to wait for. */
	if (!zmtp_ready(l->li_z))
		events = POLLIN;
	pfd = (struct pollfd){ .fd = zmtp_fd(l->li_z),
	    .events = (short)(events | zmtp_events(l->li_z)) };
	if (poll(&pfd, 1, ms) == -1 && errno != EINTR) {
		snprintf(l->li_err, sizeof(l->li_err), "poll: %s",
		    strerror(errno));
		return -1;
	}
	/*
	 * What waited goes out as room comes; an end is said by recv. Not
	 * when something came too: recv reads it, then writes (zmtp.h).
	 * A write that found the end first would drop, unread, the
	 * replies streammgr sent before it went. One that finds it now
	 * leaves them to recv (zmtp_read_to_end).
	 */
	if ((pfd.revents & POLLOUT) &&
	    !(pfd.revents & (POLLIN | POLLHUP | POLLERR)) &&
	    zmtp_flush(l->li_z) == -1 && errno != EAGAIN &&
	    !zmtp_connected(l->li_z))
		ended(l);
	return 0;
}

static void
ipc_drop(struct msb__link *ll)
{
	struct link_ipc *l = ipc(ll);

	if (!zmtp_pending(l->li_z))
		return;		/* all of it is out: nothing to drop */
	zmtp_disconnect(l->li_z);
	l->li_retry_at = 0;	/* the next send connects at once */
}

static const char *
ipc_error(const struct msb__link *ll)
{
	return ((const struct link_ipc *)ll)->li_err;
}

static void
ipc_close(struct msb__link *ll, int linger_ms)
{
	struct link_ipc *l = ipc(ll);

	zmtp_free(l->li_z, linger_ms);
	free(l->li_endpoint);
	free(l);
}

static const struct msb__link_ops ipc_ops = {
	.lo_send = ipc_send,
	.lo_recv = ipc_recv,
	.lo_wait = ipc_wait,
	.lo_drop = ipc_drop,
	.lo_error = ipc_error,
	.lo_close = ipc_close,
};

/*
 * Says at once what a connect would only retry: no such socket, or not
 * ours. Returns MSB_OK, MSB_TEMPFAIL or MSB_ERROR (err).
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

int
msb__link_ipc_open(struct msb__link **lp, const char *endpoint, char *err,
    size_t errlen)
{
	struct link_ipc *l;
	int rc;

	*lp = NULL;
	if ((rc = check_ipc(endpoint, err, errlen)) != MSB_OK)
		return rc;
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->li_z = zmtp_new(ZMTP_DEALER, FRAME_MAX, OUT_MAX)) == NULL ||
	    (l->li_endpoint = strdup(endpoint)) == NULL) {
		msb__seterr(err, errlen, "producer %s: %s", endpoint,
		    strerror(ENOMEM));
		if (l != NULL) {
			zmtp_free(l->li_z, 0);
			free(l);
		}
		return MSB_ERROR;
	}
	l->li_link.l_ops = &ipc_ops;
	zmtp_read_to_end(l->li_z);
	/* Nothing listening yet is not a failure: sends try again. */
	if (link_up(l) == -1 && errno != EAGAIN) {
		msb__seterr(err, errlen, "%s", l->li_err);
		ipc_close(&l->li_link, 0);
		return msb__errno_rc(errno);
	}
	*lp = &l->li_link;
	return MSB_OK;
}
