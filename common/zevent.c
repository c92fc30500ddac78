#include "zevent.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <zmq.h>

#include "log.h"

struct zevent {
	struct event	*z_ev;
	struct event	*z_later;	/* the next turn, after the poll */
	void		*z_sock;
	zevent_cb	 z_cb;
	void		*z_arg;
	bool		 z_always;	/* run z_cb without input too */
};

void *
zevent_context(void)
{
	struct rlimit rl;
	void *ctx = zmq_ctx_new();
	int most;

	if (ctx == NULL)
		return NULL;
	/* Every socket holds a descriptor or more: more would not help. */
	most = zmq_ctx_get(ctx, ZMQ_SOCKET_LIMIT);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)most)
		most = (int)rl.rlim_cur;
	if (most > zmq_ctx_get(ctx, ZMQ_MAX_SOCKETS))
		zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, most);
	return ctx;
}

static int
has_input(void *sock)
{
	int events = 0;
	size_t len = sizeof(events);

	if (zmq_getsockopt(sock, ZMQ_EVENTS, &events, &len) < 0)
		return 0;
	return events & ZMQ_POLLIN;
}

/*
 * Runs the socket's turn again on the next turn of the loop. Not
 * event_active(): libevent runs what is made active from a callback in
 * the same pass, before it polls again, so a socket that always has
 * input (a flood) would starve every other. A timer of zero fires only
 * after the next poll, beside whatever that poll found ready.
 */
static void
later(struct zevent *z)
{
	static const struct timeval now = { 0, 0 };

	if (!evtimer_pending(z->z_later, NULL))
		evtimer_add(z->z_later, &now);
}

static void
on_fd(evutil_socket_t fd, short what, void *arg)
{
	struct zevent *z = arg;

	(void)fd;
	(void)what;
	if (!has_input(z->z_sock) && !z->z_always)
		return;
	z->z_cb(z->z_sock, z->z_arg);
	/*
	 * The callback may have stopped at its budget, or sent and so eaten
	 * the edge: look again on the next turn of the loop.
	 */
	if (has_input(z->z_sock))
		later(z);
}

struct zevent *
zevent_new(struct event_base *base, void *sock, zevent_cb cb, void *arg)
{
	struct zevent *z = calloc(1, sizeof(*z));
	int fd;
	size_t len = sizeof(fd);

	if (z == NULL)
		return NULL;
	if (zmq_getsockopt(sock, ZMQ_FD, &fd, &len) < 0) {
		free(z);
		return NULL;
	}
	z->z_sock = sock;
	z->z_cb = cb;
	z->z_arg = arg;
	z->z_ev = event_new(base, fd, EV_READ | EV_PERSIST, on_fd, z);
	z->z_later = evtimer_new(base, on_fd, z);
	if (z->z_ev == NULL || z->z_later == NULL ||
	    event_add(z->z_ev, NULL) < 0) {
		if (z->z_ev)
			event_free(z->z_ev);
		if (z->z_later)
			event_free(z->z_later);
		free(z);
		errno = ENOMEM;
		return NULL;
	}
	/* Messages may be waiting already. */
	later(z);
	return z;
}

void
zevent_always(struct zevent *z)
{
	z->z_always = true;
}

void
zevent_kick(struct zevent *z)
{
	later(z);
}

void
zevent_free(struct zevent *z)
{
	if (z == NULL)
		return;
	event_free(z->z_ev);
	event_free(z->z_later);
	free(z);
}

void *
zevent_router(void *ctx)
{
	void *sock = zmq_socket(ctx, ZMQ_ROUTER);
	int zero = 0, hwm = 100000;
	int64_t frame_max = (int64_t)256 << 20;

	if (sock == NULL)
		fatalx("zmq_socket: %s", zmq_strerror(errno));
	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &frame_max, sizeof(frame_max));
	zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	return sock;
}
