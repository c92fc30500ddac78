/*
 * Unit tests for common/zrouter.c, our own ROUTER (and PULL) over ipc:
 * against libmysimbdp's ZMTP client (clientlib/zmtp.c), libzmq's DEALER
 * and PUSH, and bytes written by hand on a plain unix socket.
 *
 * The event loop runs in turns of at most TURN_MS while a test waits for
 * what it expects; every wait ends at a deadline only a hang crosses
 * (5 s x MYSIMBDP_TEST_TIME_FACTOR).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <zmq.h>

#include "zmtp.h"
#include "zrouter.h"
#include "testwait.h"

#define TURN_MS		10
#define MSGS_MAX	64
#define FRAME_MAX	4096
#define OUT_MAX		(64u << 10)
#define BUDGET		4
#define HANDSHAKE_MS	300

/* A message the router handed out, copied. */
struct got {
	unsigned char	 g_rid[ZROUTER_RID_LEN];
	size_t		 g_nframes;
	char		 g_f[3][64];
};

struct env {
	char		 e_dir[64];
	char		 e_ep[128];
	struct event_base *e_base;
	struct zrouter	*e_r;
	struct got	 e_got[MSGS_MAX];
	size_t		 e_ngot;
	size_t		 e_turns;
	size_t		 e_rooms;
	size_t		 e_refused;	/* on_msg_big's sends refused */
	bool		 e_reply;	/* msg_cb answers "re" at once */
	bool		 e_reopen;	/* msg_cb answers, then opens sv */
	bool		 e_cut;		/* msg_cb cuts the peer off */
	int		 e_sv[2];	/* a socketpair msg_cb opened */
	struct event	*e_sv_ev[2];	/* reading each end */
	int		 e_sv_fired[2];
};

static void
on_sv(evutil_socket_t fd, short what, void *arg)
{
	int *fired = arg;
	char c;

	(void)what;
	if (read(fd, &c, 1) == 1)
		(*fired)++;
}

/* What e_reopen does in msg_cb: a socketpair, each end read in the loop. */
static void
reopen_sv(struct env *e)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    e->e_sv), 0);
	for (int k = 0; k < 2; k++) {
		e->e_sv_ev[k] = event_new(e->e_base, e->e_sv[k],
		    EV_READ | EV_PERSIST, on_sv, &e->e_sv_fired[k]);
		assert_non_null(e->e_sv_ev[k]);
		assert_int_equal(event_add(e->e_sv_ev[k], NULL), 0);
	}
}

static bool
on_msg(void *arg, const unsigned char *rid, size_t ridlen,
    const struct zmtp_msg *m)
{
	struct env *e = arg;
	struct got *g;

	assert_int_equal(ridlen, ZROUTER_RID_LEN);
	assert_true(e->e_ngot < MSGS_MAX);
	g = &e->e_got[e->e_ngot++];
	memcpy(g->g_rid, rid, ridlen);
	g->g_nframes = m->zm_nframes;
	for (size_t k = 0; k < m->zm_nframes && k < 3; k++)
		snprintf(g->g_f[k], sizeof(g->g_f[k]), "%.*s",
		    (int)m->zm_f[k].len, (const char *)m->zm_f[k].data);
	if (e->e_reply || e->e_reopen)
		(void)zrouter_send(e->e_r, rid, ridlen,
		    &(struct zmtp_frame){ "re", 2 }, 1);
	if (e->e_reopen) {
		e->e_reopen = false;
		reopen_sv(e);
	}
	if (e->e_cut)
		zrouter_cut(e->e_r, rid, ridlen);
	return true;
}

static void
on_turn(void *arg)
{
	((struct env *)arg)->e_turns++;
}

static void
on_room(void *arg)
{
	((struct env *)arg)->e_rooms++;
}

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	const struct zrouter_conf conf = {
		.zc_frame_max = FRAME_MAX,
		.zc_out_max = OUT_MAX,
		.zc_budget = BUDGET,
		.zc_handshake_ms = HANDSHAKE_MS,
		.zc_msg_cb = on_msg,
		.zc_turn_cb = on_turn,
		.zc_room_cb = on_room,
		.zc_arg = e,
	};
	char err[256];

	assert_non_null(e);
	snprintf(e->e_dir, sizeof(e->e_dir), "/tmp/zrouter-XXXXXX");
	assert_non_null(mkdtemp(e->e_dir));
	snprintf(e->e_ep, sizeof(e->e_ep), "ipc://%s/work", e->e_dir);
	assert_non_null(e->e_base = event_base_new());
	e->e_r = zrouter_bind(e->e_base, e->e_ep, &conf, err, sizeof(err));
	if (e->e_r == NULL)
		fail_msg("zrouter_bind: %s", err);
	*state = e;
	return 0;
}

/* As on_msg, for many messages: counted, each answered with FRAME_MAX
 * bytes (refused sends counted in e_rooms' stead: e_refused). */
static bool
on_msg_big(void *arg, const unsigned char *rid, size_t ridlen,
    const struct zmtp_msg *m)
{
	static char big[FRAME_MAX];
	struct env *e = arg;

	(void)m;
	e->e_ngot++;
	if (zrouter_send(e->e_r, rid, ridlen,
	    &(struct zmtp_frame){ big, sizeof(big) }, 1) == -1)
		e->e_refused++;
	return true;
}

/* setup, then the router bound again with conf (its zc_arg the env). */
static int
setup_with(void **state, struct zrouter_conf conf)
{
	struct env *e;
	char err[256];

	setup(state);
	e = *state;
	zrouter_free(e->e_r);
	conf.zc_arg = e;
	e->e_r = zrouter_bind(e->e_base, e->e_ep, &conf, err, sizeof(err));
	if (e->e_r == NULL)
		fail_msg("zrouter_bind: %s", err);
	return 0;
}

/* A PULL (zc_pull). */
static int
setup_pull(void **state)
{
	return setup_with(state, (struct zrouter_conf){
		.zc_frame_max = FRAME_MAX,
		.zc_out_max = OUT_MAX,
		.zc_budget = BUDGET,
		.zc_handshake_ms = HANDSHAKE_MS,
		.zc_pull = true,
		.zc_msg_cb = on_msg,
	});
}

/* A router that reads a peer only once its replies are out, msg_cb
 * handing out its messages. */
static int
setup_read_when_written(void **state,
    bool (*msg_cb)(void *, const unsigned char *, size_t,
    const struct zmtp_msg *))
{
	return setup_with(state, (struct zrouter_conf){
		.zc_frame_max = FRAME_MAX,
		.zc_out_max = OUT_MAX,
		.zc_budget = BUDGET,
		.zc_handshake_ms = HANDSHAKE_MS,
		.zc_read_when_written = true,
		.zc_msg_cb = msg_cb,
		.zc_turn_cb = on_turn,
	});
}

static int
setup_unread(void **state)
{
	return setup_read_when_written(state, on_msg);
}

/* Each message answered with FRAME_MAX bytes. */
static int
setup_paced(void **state)
{
	return setup_read_when_written(state, on_msg_big);
}

static int
teardown(void **state)
{
	struct env *e = *state;
	char path[128];

	zrouter_free(e->e_r);
	/* The socket's file goes with it. */
	snprintf(path, sizeof(path), "%s/work", e->e_dir);
	assert_int_equal(access(path, F_OK), -1);
	event_base_free(e->e_base);
	rmdir(e->e_dir);
	free(e);
	return 0;
}

/* One turn of the loop, TURN_MS at most. */
static void
turn(struct env *e)
{
	loop_turn(e->e_base, TURN_MS);
}

/* Turns until n messages were handed out, the client's flushed meanwhile. */
static void
await_msgs(struct env *e, struct zmtp *z, size_t n)
{
	int64_t until = deadline();

	while (e->e_ngot < n) {
		check_deadline(until);
		if (z != NULL)
			(void)zmtp_flush(z);
		turn(e);
	}
}

static void
await_peers(struct env *e, size_t n)
{
	int64_t until = deadline();

	while (zrouter_peers(e->e_r) != n) {
		check_deadline(until);
		turn(e);
	}
}

/* A connected client of ours, its handshake done (the loop answers). */
static struct zmtp *
client(struct env *e)
{
	struct zmtp *z = zmtp_new(ZMTP_DEALER, 1u << 20, 1u << 20);
	int64_t until = deadline();

	assert_non_null(z);
	assert_int_equal(zmtp_connect(z, e->e_ep), 0);
	while (!zmtp_ready(z)) {
		struct zmtp_msg m;

		check_deadline(until);
		turn(e);
		if (zmtp_recv(z, &m) == -1 && errno != EAGAIN)
			fail_msg("client: %s", zmtp_error(z));
	}
	return z;
}

/* The client's next message, its one frame into buf. */
static void
client_recv(struct env *e, struct zmtp *z, char *buf, size_t len)
{
	int64_t until = deadline();
	struct zmtp_msg m;

	while (zmtp_recv(z, &m) == -1) {
		if (errno != EAGAIN)
			fail_msg("client: %s", zmtp_error(z));
		check_deadline(until);
		turn(e);
	}
	assert_int_equal(m.zm_nframes, 1);
	snprintf(buf, len, "%.*s", (int)m.zm_f[0].len,
	    (const char *)m.zm_f[0].data);
}

/*
 * Our client's message comes whole with the peer's routing id (0x00 and
 * a counter, as libzmq's); a send to that id reaches it; each client has
 * an id of its own.
 */
static void
test_round_trip(void **state)
{
	struct env *e = *state;
	struct zmtp *a = client(e), *b = client(e);
	char buf[64];

	assert_int_equal(zrouter_peers(e->e_r), 2);
	assert_int_equal(zmtp_send(a, (struct zmtp_frame[]){ { "HELLO", 5 },
	    { "a", 1 } }, 2), 0);
	await_msgs(e, a, 1);
	assert_int_equal(zmtp_send(b, &(struct zmtp_frame){ "BYE", 3 }, 1),
	    0);
	await_msgs(e, b, 2);
	assert_int_equal(e->e_got[0].g_nframes, 2);
	assert_string_equal(e->e_got[0].g_f[0], "HELLO");
	assert_string_equal(e->e_got[0].g_f[1], "a");
	assert_string_equal(e->e_got[1].g_f[0], "BYE");
	assert_int_equal(e->e_got[0].g_rid[0], 0);
	assert_memory_not_equal(e->e_got[0].g_rid, e->e_got[1].g_rid,
	    ZROUTER_RID_LEN);
	assert_true(e->e_turns >= 2);

	assert_int_equal(zrouter_send(e->e_r, e->e_got[1].g_rid,
	    ZROUTER_RID_LEN, &(struct zmtp_frame){ "to b", 4 }, 1), 0);
	assert_int_equal(zrouter_send(e->e_r, e->e_got[0].g_rid,
	    ZROUTER_RID_LEN, &(struct zmtp_frame){ "to a", 4 }, 1), 0);
	client_recv(e, b, buf, sizeof(buf));
	assert_string_equal(buf, "to b");
	client_recv(e, a, buf, sizeof(buf));
	assert_string_equal(buf, "to a");
	zmtp_free(a, 0);
	zmtp_free(b, 0);
	await_peers(e, 0);
}

/* libzmq's DEALER talks to it both ways, frames and all. */
static void
test_libzmq_dealer(void **state)
{
	struct env *e = *state;
	void *ctx = zmq_ctx_new(), *d;
	int64_t until;
	int zero = 0, n = -1;
	char buf[64];

	assert_non_null(ctx);
	assert_non_null(d = zmq_socket(ctx, ZMQ_DEALER));
	assert_int_equal(zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof(zero)),
	    0);
	assert_int_equal(zmq_connect(d, e->e_ep), 0);
	assert_int_equal(zmq_send(d, "ACK", 3, ZMQ_SNDMORE), 3);
	assert_int_equal(zmq_send(d, "12345678", 8, 0), 8);
	await_msgs(e, NULL, 1);
	assert_int_equal(e->e_got[0].g_nframes, 2);
	assert_string_equal(e->e_got[0].g_f[0], "ACK");
	assert_string_equal(e->e_got[0].g_f[1], "12345678");

	assert_int_equal(zrouter_send(e->e_r, e->e_got[0].g_rid,
	    ZROUTER_RID_LEN, (struct zmtp_frame[]){ { "", 0 },
	    { "batch", 5 } }, 2), 0);
	until = deadline();
	while ((n = zmq_recv(d, buf, sizeof(buf), ZMQ_DONTWAIT)) < 0) {
		assert_int_equal(zmq_errno(), EAGAIN);
		check_deadline(until);
		turn(e);
	}
	assert_int_equal(n, 0);		/* the empty frame, then the rest */
	assert_int_equal(zmq_recv(d, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "batch", 5);
	zmq_close(d);
	zmq_ctx_term(ctx);
	await_peers(e, 0);
}

/*
 * A routing id no connection has: EHOSTUNREACH, as libzmq's ROUTER with
 * ZMQ_ROUTER_MANDATORY; so is a peer's once it has gone.
 */
static void
test_unknown_peer(void **state)
{
	struct env *e = *state;
	static const unsigned char nobody[ZROUTER_RID_LEN] = { 0, 9, 9, 9, 9 };
	static const unsigned char odd[3] = { 1, 2, 3 };
	struct zmtp *z = client(e);
	const struct zmtp_frame f = { "x", 1 };

	errno = 0;
	assert_int_equal(zrouter_send(e->e_r, nobody, sizeof(nobody), &f, 1),
	    -1);
	assert_int_equal(errno, EHOSTUNREACH);
	assert_int_equal(zrouter_send(e->e_r, odd, sizeof(odd), &f, 1), -1);
	assert_int_equal(errno, EHOSTUNREACH);
	assert_int_equal(zmtp_send(z, &f, 1), 0);
	await_msgs(e, z, 1);
	zmtp_free(z, 0);
	await_peers(e, 0);
	errno = 0;
	assert_int_equal(zrouter_send(e->e_r, e->e_got[0].g_rid,
	    ZROUTER_RID_LEN, &f, 1), -1);
	assert_int_equal(errno, EHOSTUNREACH);
}

/*
 * zrouter_queue: the messages wait, a turn of the loop included, for
 * zrouter_flush, then arrive in order; to a routing id no connection
 * has, EHOSTUNREACH (and a flush to it does nothing).
 */
static void
test_queue_then_flush(void **state)
{
	struct env *e = *state;
	static const unsigned char nobody[ZROUTER_RID_LEN] = { 0, 9, 9, 9, 9 };
	static const char *const texts[] = { "m0", "m1", "m2" };
	struct zmtp *z = client(e);
	const struct zmtp_frame f = { "x", 1 };
	struct zmtp_msg m;
	char buf[64];

	assert_int_equal(zmtp_send(z, &f, 1), 0);
	await_msgs(e, z, 1);
	for (size_t k = 0; k < 3; k++)
		assert_int_equal(zrouter_queue(e->e_r, e->e_got[0].g_rid,
		    ZROUTER_RID_LEN, &(struct zmtp_frame){ texts[k], 2 }, 1),
		    0);
	turn(e);
	assert_int_equal(zmtp_recv(z, &m), -1);
	assert_int_equal(errno, EAGAIN);
	zrouter_flush(e->e_r, e->e_got[0].g_rid, ZROUTER_RID_LEN);
	for (size_t k = 0; k < 3; k++) {
		client_recv(e, z, buf, sizeof(buf));
		assert_string_equal(buf, texts[k]);
	}
	errno = 0;
	assert_int_equal(zrouter_queue(e->e_r, nobody, sizeof(nobody), &f, 1),
	    -1);
	assert_int_equal(errno, EHOSTUNREACH);
	zrouter_flush(e->e_r, nobody, sizeof(nobody));
	zmtp_free(z, 0);
	await_peers(e, 0);
}

/*
 * A peer that reads nothing: sends are taken until OUT_MAX bytes wait
 * beyond what its socket holds, then refused with EAGAIN, nothing lost
 * or cut; once the peer has read it all, room_cb runs and sends go again.
 */
static void
test_full_then_room(void **state)
{
	struct env *e = *state;
	struct zmtp *z = client(e);
	static char big[FRAME_MAX];
	struct zmtp_msg m;
	size_t sent = 0, got = 0;
	int64_t until;
	const struct zmtp_frame f = { big, sizeof(big) };

	assert_int_equal(zmtp_send(z, &(struct zmtp_frame){ "hi", 2 }, 1), 0);
	await_msgs(e, z, 1);
	for (;;) {
		big[0] = (char)sent;
		if (zrouter_send(e->e_r, e->e_got[0].g_rid, ZROUTER_RID_LEN,
		    &f, 1) == -1)
			break;
		sent++;
		assert_true(sent < 100000);
	}
	assert_int_equal(errno, EAGAIN);
	assert_true(sent * sizeof(big) > OUT_MAX);
	assert_int_equal(e->e_rooms, 0);
	until = deadline();
	while (got < sent || e->e_rooms == 0) {
		check_deadline(until);
		while (zmtp_recv(z, &m) == 0) {
			assert_int_equal(m.zm_f[0].len, sizeof(big));
			assert_int_equal(((const char *)m.zm_f[0].data)[0],
			    (char)got);
			got++;
		}
		assert_int_equal(errno, EAGAIN);
		turn(e);
	}
	assert_int_equal(got, sent);
	assert_int_equal(e->e_rooms, 1);
	assert_int_equal(zrouter_send(e->e_r, e->e_got[0].g_rid,
	    ZROUTER_RID_LEN, &f, 1), 0);
	zmtp_free(z, 0);
}

/* A raw unix socket connected to the router. */
static int
raw_client(const struct env *e)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s",
	    e->e_ep + strlen("ipc://"));
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* Reads until the router closes fd (EOF); fails past the deadline. */
static void
await_closed(struct env *e, int fd)
{
	int64_t until = deadline();
	char buf[512];
	ssize_t n;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		check_deadline(until);
		turn(e);
		if (poll(&p, 1, 0) == 1 &&
		    ((n = read(fd, buf, sizeof(buf))) == 0 ||
		    (n == -1 && errno == ECONNRESET)))
			break;
	}
	close(fd);
}

/*
 * Peers that break the protocol are cut off, the others served: a
 * greeting that is not ZMTP 3, a frame over the frame limit.
 */
static void
test_protocol_breakers(void **state)
{
	struct env *e = *state;
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct zmtp *good = client(e), *big;
	unsigned char hdr[9] = { 0x02 };	/* LONG */
	int fd;

	fd = raw_client(e);
	assert_int_equal(write(fd, http, sizeof(http) - 1),
	    (ssize_t)sizeof(http) - 1);
	await_closed(e, fd);

	/* A good handshake from our client, then a frame too large. */
	big = client(e);

	assert_int_equal(zrouter_peers(e->e_r), 2);
	hdr[7] = (FRAME_MAX + 1) >> 8;
	hdr[8] = (FRAME_MAX + 1) & 0xff;
	assert_int_equal(write(zmtp_fd(big), hdr, sizeof(hdr)),
	    (ssize_t)sizeof(hdr));
	await_peers(e, 1);
	zmtp_free(big, 0);

	assert_int_equal(zmtp_send(good, &(struct zmtp_frame){ "ok", 2 }, 1),
	    0);
	await_msgs(e, good, 1);
	assert_string_equal(e->e_got[0].g_f[0], "ok");
	zmtp_free(good, 0);
}

/*
 * A peer that connects and says nothing is cut off after HANDSHAKE_MS, as
 * libzmq's ZMQ_HANDSHAKE_IVL does; one that finished its handshake, and
 * whose deadline came first, stays.
 */
static void
test_silent_peer(void **state)
{
	struct env *e = *state;
	struct zmtp *good = client(e);
	int fd = raw_client(e);
	char buf[64];

	await_closed(e, fd);
	assert_int_equal(zrouter_peers(e->e_r), 1);
	assert_int_equal(zmtp_send(good, &(struct zmtp_frame){ "still", 5 },
	    1), 0);
	await_msgs(e, good, 1);
	assert_int_equal(zrouter_send(e->e_r, e->e_got[0].g_rid,
	    ZROUTER_RID_LEN, &(struct zmtp_frame){ "here", 4 }, 1), 0);
	client_recv(e, good, buf, sizeof(buf));
	assert_string_equal(buf, "here");
	zmtp_free(good, 0);
}

/*
 * Many peers come and go in a scattered order: each one left is found
 * by its id, each one gone is not (the table's deletions keep every
 * probe whole); a peer's many messages come in turns of BUDGET.
 */
static void
test_many_peers(void **state)
{
	struct env *e = *state;
	enum { N = 48 };
	struct zmtp *z[N];
	unsigned char rid[N][ZROUTER_RID_LEN];
	const struct zmtp_frame f = { "x", 1 };
	size_t turns;

	for (int k = 0; k < N; k++) {
		z[k] = client(e);
		assert_int_equal(zmtp_send(z[k], &f, 1), 0);
		await_msgs(e, z[k], (size_t)k + 1);
		memcpy(rid[k], e->e_got[k].g_rid, ZROUTER_RID_LEN);
	}
	for (int k = 0; k < N; k++)
		if (k % 3 != 1) {
			zmtp_free(z[(k * 7) % N], 0);
			z[(k * 7) % N] = NULL;
		}
	await_peers(e, N / 3);
	for (int k = 0; k < N; k++) {
		errno = 0;
		if (z[k] != NULL)
			assert_int_equal(zrouter_send(e->e_r, rid[k],
			    ZROUTER_RID_LEN, &f, 1), 0);
		else {
			assert_int_equal(zrouter_send(e->e_r, rid[k],
			    ZROUTER_RID_LEN, &f, 1), -1);
			assert_int_equal(errno, EHOSTUNREACH);
		}
	}

	/* Ten messages at once from one peer: three turns or more. */
	e->e_ngot = 0;
	turns = e->e_turns;
	for (int k = 0; k < 10; k++)
		assert_int_equal(zmtp_send(z[1], &f, 1), 0);
	await_msgs(e, z[1], 10);
	assert_true(e->e_turns - turns >= 3);
	for (int k = 0; k < N; k++)
		zmtp_free(z[k], 0);
}

/*
 * A peer that sent a message and left: the answer sent from msg_cb finds
 * the connection ended while its messages are handed out; the router
 * frees it only afterwards (under ASan, a use after free otherwise).
 */
static void
test_reply_to_leaver(void **state)
{
	struct env *e = *state;
	struct zmtp *z = client(e);
	int64_t until = deadline();

	assert_int_equal(zmtp_send(z, &(struct zmtp_frame){ "last", 4 }, 1),
	    0);
	assert_int_equal(zmtp_send(z, &(struct zmtp_frame){ "word", 4 }, 1),
	    0);
	zmtp_free(z, 1000);
	e->e_reply = true;
	while (zrouter_peers(e->e_r) > 0) {
		check_deadline(until);
		turn(e);
	}
	assert_true(e->e_ngot >= 1);
	assert_string_equal(e->e_got[0].g_f[0], "last");
}

/*
 * A peer that left before its message was handed out: the answer from
 * msg_cb ends the connection, whose descriptor zmtp closes at once. A
 * socketpair msg_cb opens next takes that number; each end's reads still
 * come. (With the ended connection's events left in libevent until the
 * turn's end, the new descriptor was never added to epoll.)
 */
static void
test_number_reused_in_msg_cb(void **state)
{
	struct env *e = *state;
	static const unsigned char greeting[64] = { 0xff, [9] = 0x7f,
	    [10] = 3, [11] = 1, 'N', 'U', 'L', 'L' };
	static const unsigned char ready[] = { 0x04, 28, 5, 'R', 'E', 'A',
	    'D', 'Y', 11, 'S', 'o', 'c', 'k', 'e', 't', '-', 'T', 'y', 'p',
	    'e', 0, 0, 0, 6, 'D', 'E', 'A', 'L', 'E', 'R', 0, 2, 'h', 'i' };
	int64_t until = deadline();
	int fd = raw_client(e);

	await_peers(e, 1);
	assert_int_equal(write(fd, greeting, sizeof(greeting)),
	    (ssize_t)sizeof(greeting));
	assert_int_equal(write(fd, ready, sizeof(ready)),
	    (ssize_t)sizeof(ready));
	close(fd);
	e->e_reopen = true;
	while (e->e_ngot == 0) {
		check_deadline(until);
		turn(e);
	}
	assert_string_equal(e->e_got[0].g_f[0], "hi");
	await_peers(e, 0);
	for (int k = 0; k < 2; k++)
		assert_int_equal(write(e->e_sv[1 - k], "x", 1), 1);
	while (e->e_sv_fired[0] == 0 || e->e_sv_fired[1] == 0) {
		check_deadline(until);
		turn(e);
	}
	for (int k = 0; k < 2; k++) {
		event_free(e->e_sv_ev[k]);
		close(e->e_sv[k]);
	}
}

/* A DEALER's greeting and READY, written by hand. */
static const unsigned char greeting[64] = { 0xff, [9] = 0x7f, [10] = 3,
    [11] = 1, 'N', 'U', 'L', 'L' };
static const unsigned char ready[] = { 0x04, 28, 5, 'R', 'E', 'A', 'D',
    'Y', 11, 'S', 'o', 'c', 'k', 'e', 't', '-', 'T', 'y', 'p', 'e', 0, 0,
    0, 6, 'D', 'E', 'A', 'L', 'E', 'R' };

/* A PING frame with its 16-byte context, as zflood's peer sends. */
#define PING_SIZE	25

static void
put_ping(unsigned char *p, char tag)
{
	static const unsigned char head[] = { 0x04, 23, 4, 'P', 'I', 'N',
	    'G', 0, 0 };

	memcpy(p, head, sizeof(head));
	memset(p + sizeof(head), tag, 16);
}

/*
 * Reads what fd holds without waiting; counts the PONGs whose context
 * begins with tag (*n) and says whether one of the tag "s" came. PONGs
 * are [0x04][21]["\4PONG"][16 bytes]; nothing else comes here.
 */
static bool
read_pongs(int fd, unsigned char *buf, size_t *have, size_t cap,
    size_t *n, char tag)
{
	bool synced = false;
	ssize_t r;

	while ((r = read(fd, buf + *have, cap - *have)) > 0) {
		size_t off = 0;

		*have += (size_t)r;
		for (; *have - off >= 23; off += 23) {
			assert_memory_equal(buf + off, "\x04\x15\x04PONG", 7);
			*n += buf[off + 7] == (unsigned char)tag;
			synced |= buf[off + 7] == 's';
		}
		memmove(buf, buf + off, *have - off);
		*have -= off;
	}
	assert_true(r == -1 && errno == EAGAIN);
	return synced;
}

/* Reads n bytes of fd (blocking), turning the loop meanwhile. */
static void
read_n(struct env *e, int fd, unsigned char *buf, size_t n)
{
	int64_t until = deadline();
	size_t got = 0;

	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		check_deadline(until);
		turn(e);
		if (poll(&p, 1, 0) == 1) {
			r = read(fd, buf + got, n - got);
			assert_true(r > 0);
			got += (size_t)r;
		}
	}
}

/* The router's greeting and READY, read off a raw client's fd. */
static void
skip_handshake(struct env *e, int fd)
{
	unsigned char buf[256];

	read_n(e, fd, buf, 64);
	read_n(e, fd, buf, 2);
	assert_int_equal(buf[0], 0x04);
	read_n(e, fd, buf + 2, buf[1]);
	assert_memory_equal(buf + 2, "\x05READY", 6);
}

/*
 * A peer that floods PINGs and reads nothing. The router reads its
 * socket once a turn (a full socket is not drained by one turn: the
 * loop goes on to others), and queues PONGs only while no more than
 * OUT_MAX waits: when the peer reads at last, it gets what the socket
 * held and OUT_MAX at most, not a PONG for each of 160,000 PINGs.
 * Meanwhile another peer is served.
 */
static void
test_ping_flood(void **state)
{
	struct env *e = *state;
	enum { CHUNK = 1000, TOTAL = 4u << 20 };
	static unsigned char pings[CHUNK * PING_SIZE], in[1 << 16];
	struct zmtp *good = client(e);
	int64_t until = deadline();
	size_t sent = 0, have = 0, pongs = 0;
	unsigned char sync[PING_SIZE];
	int fd = raw_client(e), queued;
	bool synced = false;

	for (int k = 0; k < CHUNK; k++)
		put_ping(pings + k * PING_SIZE, 'c');
	assert_int_equal(write(fd, greeting, sizeof(greeting)),
	    (ssize_t)sizeof(greeting));
	assert_int_equal(write(fd, ready, sizeof(ready)),
	    (ssize_t)sizeof(ready));
	skip_handshake(e, fd);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);

	/* The socket full: one turn leaves most of it unread. */
	while (write(fd, pings, sizeof(pings)) > 0)
		;
	assert_int_equal(errno, EAGAIN);
	turn(e);
	assert_int_equal(ioctl(fd, SIOCOUTQ, &queued), 0);
	assert_true(queued > 0);

	while (sent < TOTAL) {
		ssize_t w = write(fd, pings, sizeof(pings));

		check_deadline(until);
		if (w > 0)
			sent += (size_t)w;
		else
			assert_int_equal(errno, EAGAIN);
		turn(e);
	}
	assert_int_equal(zmtp_send(good, &(struct zmtp_frame){ "ok", 2 }, 1),
	    0);
	await_msgs(e, good, 1);

	/* Read it all; a PING of tag 's' once nothing is left: its PONG
	 * comes after every PONG queued before it. */
	put_ping(sync, 's');
	while (!synced) {
		check_deadline(until);
		synced = read_pongs(fd, in, &have, sizeof(in), &pongs, 'c');
		if (!synced && write(fd, sync, sizeof(sync)) == -1)
			assert_int_equal(errno, EAGAIN);
		turn(e);
	}
	/* The socket's buffer (about 200 KB here) and OUT_MAX, against
	 * 3.7 MB with a PONG for each PING. */
	assert_true(pongs > 0);
	assert_true(pongs * 23 < (1u << 20));
	assert_int_equal(zrouter_peers(e->e_r), 2);
	close(fd);
	zmtp_free(good, 0);
}

/*
 * zc_read_when_written: a peer that sends 2,000 requests and reads none
 * of their 4 KB replies stops being read once its socket is full, so
 * what waits for it stays near one turn's replies (no send refused, the
 * router holding far less than the 8 MB all would take); once it reads,
 * every request is read and answered, none lost.
 */
static void
test_read_when_written(void **state)
{
	enum { N = 2000, STILL = 20 };
	struct env *e = *state;
	struct zmtp *z = client(e);
	int64_t until = deadline();
	size_t replies = 0, last = 0;
	int still = 0;
	struct zmtp_msg m;

	for (int k = 0; k < N; k++)
		assert_int_equal(zmtp_send(z, &(struct zmtp_frame){ "q", 1 },
		    1), 0);
	/* Until the router reads no more (or all: the check fails). */
	while (e->e_ngot < N && still < STILL) {
		check_deadline(until);
		(void)zmtp_flush(z);
		turn(e);
		still = e->e_ngot == last ? still + 1 : 0;
		last = e->e_ngot;
	}
	assert_true(e->e_ngot < N);
	assert_true(e->e_ngot * FRAME_MAX < (2u << 20));
	assert_int_equal(e->e_refused, 0);

	while (replies < N) {
		check_deadline(until);
		(void)zmtp_flush(z);
		while (zmtp_recv(z, &m) == 0) {
			assert_int_equal(m.zm_f[0].len, FRAME_MAX);
			replies++;
		}
		assert_int_equal(errno, EAGAIN);
		turn(e);
	}
	assert_int_equal(e->e_ngot, N);
	assert_int_equal(e->e_refused, 0);
	zmtp_free(z, 0);
}

/*
 * zc_pull: our PUSH's and libzmq's messages come whole, a routing id
 * each; a DEALER is cut off at its READY (a PULL talks to PUSHes).
 */
static void
test_pull(void **state)
{
	struct env *e = *state;
	struct zmtp *z = zmtp_new(ZMTP_PUSH, FRAME_MAX, OUT_MAX);
	void *ctx = zmq_ctx_new(), *push = zmq_socket(ctx, ZMQ_PUSH);
	int64_t until = deadline();
	struct zmtp_msg m;
	int zero = 0, fd;

	assert_non_null(z);
	assert_int_equal(zmtp_connect(z, e->e_ep), 0);
	while (!zmtp_ready(z)) {
		check_deadline(until);
		turn(e);
		if (zmtp_recv(z, &m) == -1 && errno != EAGAIN)
			fail_msg("push: %s", zmtp_error(z));
	}
	assert_int_equal(zmtp_send(z, &(struct zmtp_frame){ "r1", 2 }, 1), 0);
	assert_int_equal(zmtp_send(z, (struct zmtp_frame[]){ { "a", 1 },
	    { "b", 1 } }, 2), 0);
	await_msgs(e, z, 2);
	assert_int_equal(e->e_got[0].g_nframes, 1);
	assert_string_equal(e->e_got[0].g_f[0], "r1");
	assert_int_equal(e->e_got[1].g_nframes, 2);
	assert_string_equal(e->e_got[1].g_f[1], "b");

	assert_int_equal(zmq_setsockopt(push, ZMQ_LINGER, &zero,
	    sizeof(zero)), 0);
	assert_int_equal(zmq_connect(push, e->e_ep), 0);
	assert_int_equal(zmq_send(push, "lz", 2, 0), 2);
	await_msgs(e, NULL, 3);
	assert_string_equal(e->e_got[2].g_f[0], "lz");
	assert_memory_not_equal(e->e_got[0].g_rid, e->e_got[2].g_rid,
	    ZROUTER_RID_LEN);

	fd = raw_client(e);
	assert_int_equal(write(fd, greeting, sizeof(greeting)),
	    (ssize_t)sizeof(greeting));
	assert_int_equal(write(fd, ready, sizeof(ready)),
	    (ssize_t)sizeof(ready));
	await_closed(e, fd);
	assert_int_equal(e->e_ngot, 3);
	zmq_close(push);
	zmq_ctx_term(ctx);
	zmtp_free(z, 0);
}

/*
 * zc_read_when_written, a peer left unread for a reply that its socket
 * could not take, whose rest a flush of ours writes (streammgr's held
 * replies go out so), not the loop's write event: it is read again.
 */
static void
test_unread_then_flushed(void **state)
{
	static char big[900 << 10];
	struct env *e = *state;
	struct zmtp *z = client(e);
	unsigned char rid[ZROUTER_RID_LEN];
	int64_t until = deadline();
	struct zmtp_msg m;
	bool got = false;

	assert_int_equal(zmtp_send(z, &(struct zmtp_frame){ "q1", 2 }, 1), 0);
	await_msgs(e, z, 1);
	memcpy(rid, e->e_got[0].g_rid, sizeof(rid));
	assert_int_equal(zrouter_queue(e->e_r, rid, sizeof(rid),
	    &(struct zmtp_frame){ big, sizeof(big) }, 1), 0);
	zrouter_flush(e->e_r, rid, sizeof(rid));
	assert_int_equal(zmtp_send(z, &(struct zmtp_frame){ "q2", 2 }, 1), 0);
	for (int k = 0; k < 20; k++)
		turn(e);
	assert_int_equal(e->e_ngot, 1);		/* left unread */
	while (!got) {
		check_deadline(until);
		zrouter_flush(e->e_r, rid, sizeof(rid));
		if (zmtp_recv(z, &m) == 0)
			got = true;
		else
			assert_int_equal(errno, EAGAIN);
	}
	await_msgs(e, z, 2);
	assert_string_equal(e->e_got[1].g_f[0], "q2");
	zmtp_free(z, 0);
	await_peers(e, 0);
}

/* A raw DEALER, its handshake done, its socket left blocking. */
static int
dealer_by_hand(struct env *e)
{
	int fd = raw_client(e);

	assert_int_equal(write(fd, greeting, sizeof(greeting)),
	    (ssize_t)sizeof(greeting));
	assert_int_equal(write(fd, ready, sizeof(ready)),
	    (ssize_t)sizeof(ready));
	skip_handshake(e, fd);
	return fd;
}

/* Turns until the router has read all fd wrote. */
static void
await_taken(struct env *e, int fd)
{
	int64_t until = deadline();
	int queued;

	for (;;) {
		assert_int_equal(ioctl(fd, SIOCOUTQ, &queued), 0);
		if (queued == 0)
			break;
		check_deadline(until);
		turn(e);
	}
	turn(e);
}

/* Writes a frame of len bytes of tag (MORE: another follows) but only
 * its first sent bytes; the rest is for finish_frame. */
static void
start_frame(struct env *e, int fd, bool more, size_t len, size_t sent,
    char tag)
{
	unsigned char buf[9 + FRAME_MAX];

	assert_true(len <= FRAME_MAX && sent <= len);
	buf[0] = more ? 0x03 : 0x02;
	for (int k = 0; k < 8; k++)
		buf[1 + k] = (unsigned char)(len >> (56 - 8 * k));
	memset(buf + 9, tag, sent);
	assert_int_equal(write(fd, buf, 9 + sent), (ssize_t)(9 + sent));
	await_taken(e, fd);
}

static void
finish_frame(int fd, size_t rest, char tag)
{
	char buf[FRAME_MAX];

	memset(buf, tag, rest);
	assert_int_equal(write(fd, buf, rest), (ssize_t)rest);
}

#define IN_MAX	8000

/* zc_in_max of in_max, frames up to frame_max, a message a turn. */
static int
setup_bounded(void **state, size_t frame_max, size_t in_max)
{
	return setup_with(state, (struct zrouter_conf){
		.zc_frame_max = frame_max,
		.zc_out_max = OUT_MAX,
		.zc_budget = 1,
		.zc_handshake_ms = HANDSHAKE_MS,
		.zc_in_max = in_max,
		.zc_msg_cb = on_msg,
	});
}

static int
setup_in_max(void **state)
{
	return setup_bounded(state, FRAME_MAX, IN_MAX);
}

/* Whether the router closed fd (nothing else comes to these peers). */
static bool
closed(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	return poll(&p, 1, 0) == 1 && read(fd, &c, 1) <= 0;
}

/*
 * zc_in_max: peers partway through their messages hold IN_MAX at most
 * in all. The one holding the most when a read takes them past it is
 * cut, not the peer read (a smaller holder here); the others stay and
 * finish theirs. A message handed out is not held any more (it was,
 * with a message a turn, until the peer's next read: that peer was cut
 * for it). A peer that alone holds any may hold more: a message up to
 * the frame limit always comes.
 */
static void
test_in_max(void **state)
{
	struct env *e = *state;
	int a = dealer_by_hand(e), b = dealer_by_hand(e),
	    c = dealer_by_hand(e), d;

	start_frame(e, a, false, 4000, 3500, 'a');
	start_frame(e, b, false, 4000, 2500, 'b');
	assert_int_equal(zrouter_peers(e->e_r), 3);
	start_frame(e, c, false, 4000, 2100, 'c');	/* 8127 bytes held */
	await_closed(e, a);
	assert_false(closed(b) || closed(c));

	finish_frame(b, 1500, 'b');
	finish_frame(c, 1900, 'c');
	await_msgs(e, NULL, 2);
	assert_int_equal(e->e_got[0].g_f[0][0] + e->e_got[1].g_f[0][0],
	    'b' + 'c');

	/* d's whole message handed out, then b's read: 5018 held, not the
	 * 9027 of d's message still counted. */
	start_frame(e, b, false, 4000, 3000, 'x');
	start_frame(e, c, false, 4000, 1500, 'y');
	d = dealer_by_hand(e);
	start_frame(e, d, false, 4000, 4000, 'd');
	await_msgs(e, NULL, 3);
	finish_frame(b, 500, 'x');
	await_taken(e, b);
	assert_false(closed(b) || closed(c) || closed(d));
	close(c);
	close(d);
	finish_frame(b, 500, 'x');
	await_msgs(e, NULL, 4);
	await_peers(e, 1);

	/* Alone: three frames, 11,027 bytes held before the last bytes. */
	start_frame(e, b, true, 4000, 4000, 'x');
	start_frame(e, b, true, 4000, 4000, 'y');
	start_frame(e, b, false, 4000, 3000, 'z');
	assert_false(closed(b));
	finish_frame(b, 1000, 'z');
	await_msgs(e, NULL, 5);
	assert_int_equal(e->e_got[4].g_nframes, 3);
	assert_int_equal(e->e_got[4].g_f[2][0], 'z');
	close(b);
}

#define BIG_FRAME	(200u << 10)
#define BIG_MSG		(150u << 10)

static int
setup_in_max_kept(void **state)
{
	return setup_bounded(state, BIG_FRAME, 600u << 10);
}

/*
 * A buffer grown for a large message and kept (a byte of the next
 * message in it) counts whole: four peers each send a message of 150
 * KiB and a byte more, and keep 256 KiB buffers. Counted as the byte
 * they hold, none was cut (60 such peers kept 61 MB of the monitor);
 * counted whole, two of them are, after their messages came.
 */
static void
test_in_max_kept(void **state)
{
	static unsigned char msg[9 + BIG_MSG + 10];
	struct env *e = *state;
	int fd[4], cut = 0;

	msg[0] = 0x02;
	for (int k = 0; k < 8; k++)
		msg[1 + k] = (unsigned char)((uint64_t)BIG_MSG >> (56 - 8 * k));
	memset(msg + 9, 'k', BIG_MSG);
	msg[9 + BIG_MSG] = 0x02;		/* the next: 1 byte of 100 */
	msg[9 + BIG_MSG + 8] = 100;
	msg[9 + BIG_MSG + 9] = 'n';
	for (int k = 0; k < 4; k++) {
		fd[k] = dealer_by_hand(e);
		assert_int_equal(write(fd[k], msg, sizeof(msg)),
		    (ssize_t)sizeof(msg));
		await_msgs(e, NULL, (size_t)k + 1);
		await_taken(e, fd[k]);
	}
	for (int k = 0; k < 4; k++) {
		cut += closed(fd[k]);
		close(fd[k]);
	}
	assert_int_equal(cut, 2);
}

/* The client's connection ends (its messages so far read off). */
static void
await_end(struct env *e, struct zmtp *z)
{
	int64_t until = deadline();
	struct zmtp_msg m;

	while (zmtp_recv(z, &m) == 0 || errno == EAGAIN) {
		check_deadline(until);
		turn(e);
	}
}

/*
 * zrouter_cut: from outside, the peer's connection ends, what was
 * queued for it goes, sends to it fail; from msg_cb, its turn ends
 * there (its next messages are not handed out) and the peer goes.
 */
static void
test_cut(void **state)
{
	struct env *e = *state;
	struct zmtp *a = client(e), *b = client(e);

	assert_int_equal(zmtp_send(a, &(struct zmtp_frame){ "a1", 2 }, 1), 0);
	await_msgs(e, a, 1);
	assert_int_equal(zrouter_queue(e->e_r, e->e_got[0].g_rid,
	    ZROUTER_RID_LEN, &(struct zmtp_frame){ "unsent", 6 }, 1), 0);
	zrouter_cut(e->e_r, e->e_got[0].g_rid, ZROUTER_RID_LEN);
	assert_int_equal(zrouter_peers(e->e_r), 1);
	assert_int_equal(zrouter_send(e->e_r, e->e_got[0].g_rid,
	    ZROUTER_RID_LEN, &(struct zmtp_frame){ "late", 4 }, 1), -1);
	assert_int_equal(errno, EHOSTUNREACH);
	await_end(e, a);

	e->e_cut = true;
	for (int k = 0; k < 3; k++)
		assert_int_equal(zmtp_queue(b, &(struct zmtp_frame){ "b", 1 },
		    1), 0);
	await_msgs(e, b, 2);
	await_end(e, b);
	for (int k = 0; k < 20; k++)
		turn(e);
	assert_int_equal(e->e_ngot, 2);
	assert_int_equal(zrouter_peers(e->e_r), 0);
	zmtp_free(a, 0);
	zmtp_free(b, 0);
}

/* Endpoints it cannot bind: refused with the endpoint and why. */
static void
test_bind_errors(void **state)
{
	struct env *e = *state;
	const struct zrouter_conf conf = { .zc_frame_max = FRAME_MAX,
	    .zc_out_max = OUT_MAX, .zc_budget = BUDGET,
	    .zc_handshake_ms = HANDSHAKE_MS, .zc_msg_cb = on_msg,
	    .zc_turn_cb = on_turn, .zc_room_cb = on_room, .zc_arg = e };
	char err[256], ep[256];

	assert_null(zrouter_bind(e->e_base, "tcp://127.0.0.1:5", &conf, err,
	    sizeof(err)));
	assert_non_null(strstr(err, "tcp://127.0.0.1:5: not an ipc:// path"));
	assert_null(zrouter_bind(e->e_base, "ipc://", &conf, err,
	    sizeof(err)));
	snprintf(ep, sizeof(ep), "ipc://%s/%0120d", e->e_dir, 0);
	assert_null(zrouter_bind(e->e_base, ep, &conf, err, sizeof(err)));
	assert_non_null(strstr(err, "not an ipc:// path of 1 to 107 bytes"));
	snprintf(ep, sizeof(ep), "ipc://%s/no/such", e->e_dir);
	assert_null(zrouter_bind(e->e_base, ep, &conf, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file or directory"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_libzmq_dealer, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unknown_peer, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_queue_then_flush, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_full_then_room, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_protocol_breakers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_silent_peer, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_many_peers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reply_to_leaver, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_number_reused_in_msg_cb,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_ping_flood, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_read_when_written,
		    setup_paced, teardown),
		cmocka_unit_test_setup_teardown(test_unread_then_flushed,
		    setup_unread, teardown),
		cmocka_unit_test_setup_teardown(test_pull, setup_pull,
		    teardown),
		cmocka_unit_test_setup_teardown(test_in_max, setup_in_max,
		    teardown),
		cmocka_unit_test_setup_teardown(test_in_max_kept,
		    setup_in_max_kept, teardown),
		cmocka_unit_test_setup_teardown(test_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bind_errors, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
