/*
 * Our own ROUTER (or PULL) socket over ipc (zrouter.h says what and why).
 *
 * Each connection is a zmtp of type ROUTER (ZMTP_PULL with zc_pull) on
 * the accepted descriptor, with two events: reading (but while left
 * unread, zc_read_when_written); writing, while bytes wait. A
 * connection that ends or breaks the protocol is freed, except while its
 * messages are being handed out (r_reading): then at the end of that
 * turn, so that a send to it from msg_cb cannot free what the reader
 * holds. Connections are found by routing id in an idtab.
 */
#include "zrouter.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "idtab.h"
#include "log.h"

#define ACCEPTS_A_TURN	64
#define BACKLOG		128
#define CUTS_SAID_MS	10000	/* cuts for holding: a log line at most */

struct zconn {
	struct zrouter	*c_router;
	uint32_t	 c_id;
	struct zmtp	*c_z;
	struct event	*c_rd;
	struct event	*c_wr;
	struct event	*c_later;	/* messages left in the buffer */
	struct event	*c_hs;		/* the handshake's deadline */
	bool		 c_refused;	/* a send got EAGAIN: room_cb owed */
	bool		 c_unread;	/* not read until its bytes are out */
	bool		 c_dead;
	size_t		 c_in;		/* zmtp_held at its last read */
};

struct zrouter {
	struct event_base	*r_base;
	struct zrouter_conf	 r_conf;
	int			 r_fd;
	struct event		*r_accept;
	char			*r_path;
	uint32_t		 r_next;	/* the next routing id */
	struct idtab		 r_conns;	/* by routing id */
	struct zconn		*r_reading;	/* handing out its messages */
	size_t			 r_in;		/* the c_in of all */
	unsigned long		 r_cuts;	/* for holding, not yet said */
	int64_t			 r_cuts_said;	/* when they last were */
};

/* ---- connections ---------------------------------------------------- */

static void
conn_destroy(void *arg)
{
	struct zconn *c = arg;

	event_free(c->c_rd);
	event_free(c->c_wr);
	event_free(c->c_later);
	event_free(c->c_hs);
	zmtp_free(c->c_z, 0);
	free(c);
}

static void
conn_free(struct zconn *c)
{
	c->c_router->r_in -= c->c_in;
	idtab_del(&c->c_router->r_conns, c->c_id);
	conn_destroy(c);
}

/*
 * c's connection ended (why in zmtp_error): freed, now or after its
 * messages' turn. Its events go now either way: zmtp has closed the
 * descriptor, and libevent, still watching that number, would take a
 * descriptor the caller opens meanwhile (the same number) for one it
 * has in epoll already and never add it there.
 */
static void
conn_end(struct zconn *c)
{
	log_debug("%s: peer %u: %s", c->c_router->r_path,
	    (unsigned)c->c_id, zmtp_error(c->c_z));
	if (c->c_router->r_reading != c) {
		conn_free(c);
		return;
	}
	c->c_dead = true;
	event_del(c->c_rd);
	event_del(c->c_wr);
	event_del(c->c_later);
	event_del(c->c_hs);
}

/*
 * Writing watched while bytes wait; once none do, a connection left
 * unread for them is read again, whichever write took the last (this
 * event's, or a send or flush of the caller's).
 */
static void
watch_write(struct zconn *c)
{
	static const struct timeval now = { 0, 0 };

	if (zmtp_pending(c->c_z)) {
		event_add(c->c_wr, NULL);
		return;
	}
	event_del(c->c_wr);
	if (c->c_unread) {
		c->c_unread = false;
		event_add(c->c_rd, NULL);
		evtimer_add(c->c_later, &now);	/* what its buffer holds */
	}
}

/* What waited is written; once all of it went, room_cb if a send was
 * refused (never from zrouter_send itself: its caller is sending). */
static void
on_write(evutil_socket_t fd, short what, void *arg)
{
	struct zconn *c = arg;
	struct zrouter *r = c->c_router;

	(void)fd;
	(void)what;
	if (zmtp_flush(c->c_z) == -1 && errno != EAGAIN) {
		conn_end(c);
		return;
	}
	watch_write(c);
	if (zmtp_pending(c->c_z))
		return;
	if (c->c_refused) {
		c->c_refused = false;
		if (r->r_conf.zc_room_cb != NULL)
			r->r_conf.zc_room_cb(r->r_conf.zc_arg);
	}
}

/* With zc_read_when_written, c is not read while bytes wait for it. */
static bool
unread_until_written(struct zconn *c)
{
	if (!c->c_router->r_conf.zc_read_when_written ||
	    !zmtp_pending(c->c_z))
		return false;
	c->c_unread = true;
	event_del(c->c_rd);
	watch_write(c);
	return true;
}

static void
rid_of(uint32_t id, unsigned char rid[ZROUTER_RID_LEN])
{
	rid[0] = 0;
	for (int b = 0; b < 4; b++)
		rid[1 + b] = (unsigned char)(id >> (24 - 8 * b));
}

/* What c's input holds (zmtp_held), counted in the socket's too. */
static void
count_held(struct zconn *c)
{
	size_t now = zmtp_held(c->c_z);

	c->c_router->r_in = c->c_router->r_in - c->c_in + now;
	c->c_in = now;
}

/* The connection holding the most but spare, or NULL when none holds
 * any. */
static struct zconn *
largest_holder(const struct zrouter *r, const struct zconn *spare)
{
	struct zconn *big = NULL, *c;

	for (size_t k = 0; k < r->r_conns.t_cap; k++)
		if ((c = r->r_conns.t_slots[k].p) != NULL && c != spare &&
		    c->c_in > 0 && (big == NULL || c->c_in > big->c_in))
			big = c;
	return big;
}

/*
 * Past zc_in_max held in all, the largest holders are cut until the rest
 * fits, but never one that holds all there is (a peer alone may always
 * send a message of frame_max), nor spare: a peer whose messages of this
 * turn are yet to be answered (turn_cb), whose answers a cut would lose;
 * it is weighed again at its next read. Said in the log once in
 * CUTS_SAID_MS at most (a tenant reconnecting in a loop would flood it).
 */
static void
cut_holders(struct zrouter *r, const struct zconn *spare)
{
	size_t max = r->r_conf.zc_in_max;
	struct zconn *big;
	int64_t now;

	while (max > 0 && r->r_in > max && (big = largest_holder(r,
	    spare)) != NULL && big->c_in < r->r_in) {
		r->r_cuts++;
		if ((now = clock_mono_ms()) >= r->r_cuts_said + CUTS_SAID_MS) {
			log_warnx("%s: peer %u cut: it held %zu of the %zu "
			    "bytes its socket's peers held in input "
			    "(messages partway, buffers grown for large ones; "
			    "at most %zu in all; %lu cut so since the last "
			    "such line)", r->r_path,
			    (unsigned)big->c_id, big->c_in, r->r_in, max,
			    r->r_cuts);
			r->r_cuts = 0;
			r->r_cuts_said = now;
		}
		conn_free(big);
	}
}

/*
 * Hands out up to the budget of c's messages. What is left in its
 * buffer (the socket may have nothing more to say) is for the next turn,
 * after the other peers'.
 */
static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval now = { 0, 0 };
	struct zconn *c = arg;
	struct zrouter *r = c->c_router;
	unsigned char rid[ZROUTER_RID_LEN];
	struct zmtp_msg m;
	int n, rc = 0;

	(void)fd;
	(void)what;
	if (unread_until_written(c))
		return;
	rid_of(c->c_id, rid);
	r->r_reading = c;
	for (n = 0; n < r->r_conf.zc_budget && !c->c_dead &&
	    (rc = zmtp_recv(c->c_z, &m)) == 0; n++)
		if (!r->r_conf.zc_msg_cb(r->r_conf.zc_arg, rid, sizeof(rid),
		    &m)) {
			n = r->r_conf.zc_budget;
			break;
		}
	r->r_reading = NULL;
	if (zmtp_ready(c->c_z))
		evtimer_del(c->c_hs);
	if (c->c_dead || (rc == -1 && errno != EAGAIN)) {
		c->c_dead = false;
		conn_end(c);
		c = NULL;
	} else {
		if (n == r->r_conf.zc_budget)
			evtimer_add(c->c_later, &now);
		/* A PONG, or the handshake's rest, may wait. */
		watch_write(c);
		/* The last message handed out is not held any more. */
		zmtp_release(c->c_z);
		count_held(c);
	}
	cut_holders(r, n > 0 ? c : NULL);
	if (n > 0 && r->r_conf.zc_turn_cb != NULL)
		r->r_conf.zc_turn_cb(r->r_conf.zc_arg);
}

/* A peer that has not finished its handshake in time: cut off, as libzmq
 * does (ZMQ_HANDSHAKE_IVL), so that idle connections hold nothing. */
static void
on_handshake_late(evutil_socket_t fd, short what, void *arg)
{
	struct zconn *c = arg;

	(void)fd;
	(void)what;
	if (zmtp_ready(c->c_z))
		return;
	log_debug("%s: peer %u: no handshake within %d ms",
	    c->c_router->r_path, (unsigned)c->c_id,
	    c->c_router->r_conf.zc_handshake_ms);
	conn_free(c);
}

static int
conn_new(struct zrouter *r, int fd)
{
	struct zconn *c = calloc(1, sizeof(*c));

	/* Never 0 (not all zeros), nor one in use once the counter wraps. */
	while (c != NULL && ((c->c_id = r->r_next++) == 0 ||
	    idtab_get(&r->r_conns, c->c_id) != NULL))
		;
	if (c == NULL || (c->c_z = zmtp_new(r->r_conf.zc_pull ? ZMTP_PULL :
	    ZMTP_ROUTER,
	    r->r_conf.zc_frame_max, r->r_conf.zc_out_max)) == NULL ||
	    idtab_put(&r->r_conns, c->c_id, c) == -1) {
		log_warnx("%s: out of memory for a connection",
		    r->r_path);
		if (c != NULL)
			zmtp_free(c->c_z, 0);
		free(c);
		close(fd);
		return -1;
	}
	c->c_router = r;
	c->c_rd = event_new(r->r_base, fd, EV_READ | EV_PERSIST, on_read, c);
	c->c_wr = event_new(r->r_base, fd, EV_WRITE | EV_PERSIST, on_write, c);
	c->c_later = evtimer_new(r->r_base, on_read, c);
	c->c_hs = evtimer_new(r->r_base, on_handshake_late, c);
	if (c->c_rd == NULL || c->c_wr == NULL || c->c_later == NULL ||
	    c->c_hs == NULL || event_add(c->c_rd, NULL) == -1)
		fatalx("%s: cannot watch a connection", r->r_path);
	clock_timer_in(c->c_hs, r->r_conf.zc_handshake_ms);
	if (zmtp_adopt(c->c_z, fd) == -1) {
		conn_end(c);
		return -1;
	}
	watch_write(c);
	return 0;
}

static void
on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct zrouter *r = arg;
	int c;

	(void)what;
	for (int k = 0; k < ACCEPTS_A_TURN; k++) {
		if ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC)) == -1) {
			/* EMFILE is ECONNABORTED here (fdreserve.c). */
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != ECONNABORTED && errno != EINTR)
				log_warn("%s: accept", r->r_path);
			return;
		}
		conn_new(r, c);
	}
}

/* ---- the socket ------------------------------------------------------- */

struct zrouter *
zrouter_bind(struct event_base *base, const char *endpoint,
    const struct zrouter_conf *conf, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *path = strncmp(endpoint, "ipc://", 6) == 0 ?
	    endpoint + 6 : "";
	struct zrouter *r;

	if (*path == '\0' || strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "bind %s: not an ipc:// path of 1 to "
		    "%zu bytes", endpoint, sizeof(sun.sun_path) - 1);
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->r_path = strdup(path)) == NULL)
		fatal("%s: calloc", __func__);
	r->r_base = base;
	r->r_conf = *conf;
	r->r_next = 1;
	memcpy(sun.sun_path, path, strlen(path));
	if ((r->r_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 ||
	    ((unlink(path) == -1 && errno != ENOENT) ||
	    bind(r->r_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(r->r_fd, BACKLOG) == -1)) {
		snprintf(err, errlen, "bind %s: %s", endpoint,
		    strerror(errno));
		if (r->r_fd != -1)
			close(r->r_fd);
		free(r->r_path);
		free(r);
		return NULL;
	}
	if ((r->r_accept = event_new(base, r->r_fd, EV_READ | EV_PERSIST,
	    on_accept, r)) == NULL || event_add(r->r_accept, NULL) == -1)
		fatalx("%s: cannot watch %s", __func__, endpoint);
	return r;
}

/* The live connection rid names, or NULL with EHOSTUNREACH. */
static struct zconn *
conn_of(struct zrouter *r, const unsigned char *rid, size_t ridlen)
{
	struct zconn *c;
	uint32_t id = 0;

	if (ridlen != ZROUTER_RID_LEN || rid[0] != 0) {
		errno = EHOSTUNREACH;
		return NULL;
	}
	for (int b = 1; b < ZROUTER_RID_LEN; b++)
		id = id << 8 | rid[b];
	if ((c = idtab_get(&r->r_conns, id)) == NULL || c->c_dead) {
		errno = EHOSTUNREACH;
		return NULL;
	}
	return c;
}

static int
send_to(struct zrouter *r, const unsigned char *rid, size_t ridlen,
    const struct zmtp_frame *frames, size_t n, bool now)
{
	struct zconn *c;

	if ((c = conn_of(r, rid, ridlen)) == NULL)
		return -1;
	if ((now ? zmtp_send(c->c_z, frames, n) :
	    zmtp_queue(c->c_z, frames, n)) == -1) {
		if (errno == EAGAIN) {
			c->c_refused = true;
			return -1;
		}
		conn_end(c);
		errno = EHOSTUNREACH;
		return -1;
	}
	if (now)
		watch_write(c);
	return 0;
}

int
zrouter_send(struct zrouter *r, const unsigned char *rid, size_t ridlen,
    const struct zmtp_frame *frames, size_t n)
{
	return send_to(r, rid, ridlen, frames, n, true);
}

int
zrouter_queue(struct zrouter *r, const unsigned char *rid, size_t ridlen,
    const struct zmtp_frame *frames, size_t n)
{
	return send_to(r, rid, ridlen, frames, n, false);
}

void
zrouter_flush(struct zrouter *r, const unsigned char *rid, size_t ridlen)
{
	struct zconn *c;

	if ((c = conn_of(r, rid, ridlen)) == NULL)
		return;
	if (zmtp_flush(c->c_z) == -1 && errno != EAGAIN) {
		conn_end(c);
		return;
	}
	watch_write(c);
}

void
zrouter_cut(struct zrouter *r, const unsigned char *rid, size_t ridlen)
{
	struct zconn *c;

	if ((c = conn_of(r, rid, ridlen)) != NULL)
		conn_end(c);
}

size_t
zrouter_peers(const struct zrouter *r)
{
	return r->r_conns.t_n;
}

void
zrouter_free(struct zrouter *r)
{
	if (r == NULL)
		return;
	idtab_each(&r->r_conns, conn_destroy);
	idtab_free(&r->r_conns);
	event_free(r->r_accept);
	close(r->r_fd);
	if (unlink(r->r_path) == -1 && errno != ENOENT)
		log_warn("unlink %s", r->r_path);
	free(r->r_path);
	free(r);
}
