/*
 * A producer's link over tcp:// (link.h): a libzmq DEALER, CURVE client
 * of the node, in libmysimbdp-zmq.so.0 (zmqload.c opens it the first
 * time; the static library links it in).
 *
 * ZMQ_IMMEDIATE: nothing is queued while no node is connected, so a
 * send finds out (EAGAIN) instead of queueing blindly. The send queue
 * has no bound of its own: the producer's window is the limit. The
 * receive queue has none either: replies never outnumber what was sent,
 * and a full one would make the node's ROUTER drop replies (libzmq
 * accounts reads lazily, so "full" comes well before the HWM).
 * Heartbeats find a node gone without a word; libzmq connects again by
 * itself, so a connection's end is never said here: what was awaited on
 * it is written off by the producer's reply timeout. A socket monitor
 * hears of a refused handshake (the node does not know the key, or is
 * not the node whose key was pinned).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "mysimbdp-internal.h"
#include "link.h"
#include "../common/curvekey.h"

#define HEARTBEAT_MS	10000	/* finds a node gone without a word */

struct link_zmq {
	struct msb__link lz_link;
	void		*lz_ctx;
	void		*lz_sock;
	void		*lz_mon;	/* PAIR: lz_sock's socket monitor */
	zmq_msg_t	 lz_frames[ZMTP_FRAMES];	/* the last message */
	char		 lz_err[512];
};

/* lz_link is the first member. */
static struct link_zmq *
zl(struct msb__link *l)
{
	return (struct link_zmq *)l;
}

static int
seterr(struct link_zmq *l, const char *what)
{
	int e = errno;

	snprintf(l->lz_err, sizeof(l->lz_err), "%s: %s", what,
	    zmq_strerror(e));
	errno = e;
	return -1;
}

static int
zmq_link_send(struct msb__link *ll, const struct zmtp_frame *f, size_t n)
{
	struct link_zmq *l = zl(ll);
	int rc;

	/* The first frame finds out whether it is taken; the rest follow. */
	do
		rc = zmq_send(l->lz_sock, f[0].data, f[0].len,
		    (n > 1 ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
	while (rc == -1 && errno == EINTR);
	if (rc == -1)
		return errno == EAGAIN ? -1 : seterr(l, "send");
	for (size_t i = 1; i < n; i++)
		if (zmq_send(l->lz_sock, f[i].data, f[i].len,
		    i + 1 < n ? ZMQ_SNDMORE : 0) == -1)
			return seterr(l, "send");
	return 0;
}

static int
zmq_link_recv(struct msb__link *ll, struct zmtp_msg *m)
{
	struct link_zmq *l = zl(ll);
	zmq_msg_t extra;
	size_t n = 0;
	int more, flags = ZMQ_DONTWAIT;

	do {
		zmq_msg_t *into = n < ZMTP_FRAMES ? &l->lz_frames[n] : &extra;

		if (into == &extra)
			zmq_msg_init(&extra);
		while (zmq_msg_recv(into, l->lz_sock, flags) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && n == 0)
				return -1;
			return seterr(l, "receive");
		}
		more = zmq_msg_more(into);
		if (into == &extra)
			zmq_msg_close(&extra);
		else {
			m->zm_f[n].data = zmq_msg_data(into);
			m->zm_f[n].len = zmq_msg_size(into);
		}
		n++;
		flags = 0;	/* the rest of a message is there */
	} while (more);
	m->zm_nframes = n;
	return 0;
}

/*
 * A handshake refused by the node: its ZAP handler does not know the
 * key (400), or the node's key is not the one pinned. 0, or -1 (EACCES).
 */
static int
check_refused(struct link_zmq *l)
{
	zmq_msg_t ev, addr;
	uint16_t event;
	uint32_t value;
	int rc = 0;

	zmq_msg_init(&ev);
	zmq_msg_init(&addr);
	while (rc == 0 && zmq_msg_recv(&ev, l->lz_mon, ZMQ_DONTWAIT) >= 0 &&
	    zmq_msg_recv(&addr, l->lz_mon, 0) >= 0) {
		if (zmq_msg_size(&ev) < 6)
			continue;
		memcpy(&event, zmq_msg_data(&ev), 2);
		memcpy(&value, (char *)zmq_msg_data(&ev) + 2, 4);
		if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
			snprintf(l->lz_err, sizeof(l->lz_err), "the node "
			    "refused this producer's key (ZAP %u): it is not "
			    "one of the tenant's producer_keys", value);
			rc = -1;
		} else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
		    event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
			snprintf(l->lz_err, sizeof(l->lz_err), "the CURVE "
			    "handshake with the node failed: is the server "
			    "key the node's?");
			rc = -1;
		}
	}
	zmq_msg_close(&ev);
	zmq_msg_close(&addr);
	if (rc == -1)
		errno = EACCES;
	return rc;
}

static int
zmq_link_wait(struct msb__link *ll, short events, int ms)
{
	struct link_zmq *l = zl(ll);
	zmq_pollitem_t items[2] = {
		{ .socket = l->lz_sock, .events = (short)(
		    (events & POLLIN ? ZMQ_POLLIN : 0) |
		    (events & POLLOUT ? ZMQ_POLLOUT : 0)) },
		{ .socket = l->lz_mon, .events = ZMQ_POLLIN },
	};

	if (zmq_poll(items, 2, ms) == -1 && errno != EINTR)
		return seterr(l, "poll");
	return check_refused(l);
}

static const char *
zmq_link_error(const struct msb__link *ll)
{
	return ((const struct link_zmq *)ll)->lz_err;
}

static void
zmq_link_close(struct msb__link *ll, int linger_ms)
{
	struct link_zmq *l = zl(ll);

	if (l->lz_sock != NULL) {
		zmq_setsockopt(l->lz_sock, ZMQ_LINGER, &linger_ms,
		    sizeof(linger_ms));
		zmq_close(l->lz_sock);
	}
	if (l->lz_mon != NULL)
		zmq_close(l->lz_mon);
	for (size_t i = 0; i < ZMTP_FRAMES; i++)
		zmq_msg_close(&l->lz_frames[i]);
	if (l->lz_ctx != NULL)
		zmq_ctx_term(l->lz_ctx);
	free(l);
}

static const struct msb__link_ops zmq_ops = {
	.lo_send = zmq_link_send,
	.lo_recv = zmq_link_recv,
	.lo_wait = zmq_link_wait,
	.lo_error = zmq_link_error,
	.lo_close = zmq_link_close,
};

/* The DEALER, a CURVE client with heartbeats, and its monitor. */
static int
make_socket(struct link_zmq *l, const char *key_file, const char *server_key,
    char *err, size_t errlen)
{
	int immediate = 1, linger = 0, unlimited = 0;
	int hb = HEARTBEAT_MS, hbttl = 3 * HEARTBEAT_MS;
	char ep[64];

	if ((l->lz_ctx = zmq_ctx_new()) == NULL)
		goto fail;
	zmq_ctx_set(l->lz_ctx, ZMQ_IO_THREADS, 1);
	if ((l->lz_sock = zmq_socket(l->lz_ctx, ZMQ_DEALER)) == NULL ||
	    zmq_setsockopt(l->lz_sock, ZMQ_IMMEDIATE, &immediate,
	    sizeof(immediate)) == -1 ||
	    zmq_setsockopt(l->lz_sock, ZMQ_SNDHWM, &unlimited,
	    sizeof(unlimited)) == -1 ||
	    zmq_setsockopt(l->lz_sock, ZMQ_RCVHWM, &unlimited,
	    sizeof(unlimited)) == -1 ||
	    zmq_setsockopt(l->lz_sock, ZMQ_LINGER, &linger,
	    sizeof(linger)) == -1)
		goto fail;
	if (curvekey_client(l->lz_sock, key_file, server_key, err,
	    errlen) < 0)
		return -1;
	snprintf(ep, sizeof(ep), "inproc://msb-producer-%p", (void *)l);
	if (zmq_setsockopt(l->lz_sock, ZMQ_HEARTBEAT_IVL, &hb,
	    sizeof(hb)) == -1 ||
	    zmq_setsockopt(l->lz_sock, ZMQ_HEARTBEAT_TIMEOUT, &hbttl,
	    sizeof(hbttl)) == -1 ||
	    zmq_socket_monitor(l->lz_sock, ep,
	    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
	    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) == -1 ||
	    (l->lz_mon = zmq_socket(l->lz_ctx, ZMQ_PAIR)) == NULL ||
	    zmq_connect(l->lz_mon, ep) == -1)
		goto fail;
	return 0;

fail:
	msb__seterr(err, errlen, "producer: %s", zmq_strerror(errno));
	return -1;
}

int
msb__link_zmq_open(struct msb__link **lp, const char *endpoint,
    const char *key_file, const char *server_key, char *err, size_t errlen)
{
	struct link_zmq *l;

	*lp = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		msb__seterr(err, errlen, "producer: %s", strerror(errno));
		return MSB_ERROR;
	}
	l->lz_link.l_ops = &zmq_ops;
	for (size_t i = 0; i < ZMTP_FRAMES; i++)
		zmq_msg_init(&l->lz_frames[i]);
	if (make_socket(l, key_file, server_key, err, errlen) == -1) {
		zmq_link_close(&l->lz_link, 0);
		return MSB_ERROR;
	}
	if (zmq_connect(l->lz_sock, endpoint) == -1) {
		msb__seterr(err, errlen, "connect %s: %s", endpoint,
		    zmq_strerror(errno));
		zmq_link_close(&l->lz_link, 0);
		return MSB_ERROR;
	}
	*lp = &l->lz_link;
	return MSB_OK;
}

bool
msb__link_zmq_key_valid(const char *s)
{
	return curvekey_valid(s);
}
