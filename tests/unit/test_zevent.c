/*
 * Unit tests for common/zevent.c: a socket that always has input (a
 * flood, its callback taking one message per turn) does not keep the
 * loop from polling: another socket's message, arriving mid-flood, is
 * handled within a turn or two, not after the flood.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>
#include <event2/event.h>
#include <zmq.h>

#include "zevent.h"

#define FLOOD		1000	/* messages waiting on the flooded socket */
#define B_SENT_AT	10	/* the flood's turn when b's message is sent */

static struct event_base *base;
static void *b_peer;
static int a_turns, b_at = -1;

static int
recv_one(void *sock)
{
	zmq_msg_t m;
	int rc;

	zmq_msg_init(&m);
	rc = zmq_msg_recv(&m, sock, ZMQ_DONTWAIT);
	zmq_msg_close(&m);
	return rc;
}

static void
done_yet(void)
{
	if (a_turns == FLOOD && b_at >= 0)
		event_base_loopbreak(base);
}

static void
on_a(void *sock, void *arg)
{
	(void)arg;
	if (recv_one(sock) < 0)
		return;
	if (++a_turns == B_SENT_AT)
		assert_int_equal(zmq_send(b_peer, "b", 1, 0), 1);
	done_yet();
}

static void
on_b(void *sock, void *arg)
{
	(void)arg;
	if (recv_one(sock) < 0)
		return;
	b_at = a_turns;
	done_yet();
}

/* A bound PAIR and its connected peer on inproc endpoint ep. */
static void *
pair(void *ctx, const char *ep, void **peer)
{
	void *sock = zmq_socket(ctx, ZMQ_PAIR);
	int unlimited = 0;

	assert_non_null(sock);
	zmq_setsockopt(sock, ZMQ_RCVHWM, &unlimited, sizeof(unlimited));
	assert_int_equal(zmq_bind(sock, ep), 0);
	*peer = zmq_socket(ctx, ZMQ_PAIR);
	assert_non_null(*peer);
	zmq_setsockopt(*peer, ZMQ_SNDHWM, &unlimited, sizeof(unlimited));
	assert_int_equal(zmq_connect(*peer, ep), 0);
	return sock;
}

static void
test_flood_does_not_starve(void **state)
{
	void *ctx = zmq_ctx_new(), *a, *a_peer, *b;
	struct zevent *za, *zb;
	struct timeval guard = { 30, 0 };

	(void)state;
	base = event_base_new();
	assert_non_null(base);
	a = pair(ctx, "inproc://a", &a_peer);
	b = pair(ctx, "inproc://b", &b_peer);
	for (int k = 0; k < FLOOD; k++)
		assert_int_equal(zmq_send(a_peer, "a", 1, 0), 1);
	za = zevent_new(base, a, on_a, NULL);
	zb = zevent_new(base, b, on_b, NULL);
	assert_non_null(za);
	assert_non_null(zb);
	event_base_loopexit(base, &guard);	/* a hung test, not a verdict */
	assert_int_equal(event_base_dispatch(base), 0);
	assert_int_equal(a_turns, FLOOD);
	/* b's message waited for a turn or two of the flood, not for it all. */
	assert_in_range(b_at, B_SENT_AT, B_SENT_AT + 2);
	zevent_free(za);
	zevent_free(zb);
	zmq_close(a);
	zmq_close(a_peer);
	zmq_close(b);
	zmq_close(b_peer);
	zmq_ctx_term(ctx);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flood_does_not_starve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
