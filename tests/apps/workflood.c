/*
 * workflood: a stream instance that breaks the work protocol
 * (docs/protocols.md, "Work") the way a hostile tenant could, for the
 * tests of streammgr's bounds (tests/integration/t_stream_blind_acks.sh,
 * t_stream_ack_flood.sh). Started by streammgr as a tenant's app; it
 * speaks raw ZeroMQ, not libmysimbdp.
 *
 * usage: workflood MODE [ARGS]
 *   blindack          HELLO with credit 65536 and "batch", then never
 *                     reads a delivery (a receive queue of one message)
 *                     and every 10 ms acks ids 1 to 2^20, delivered to it
 *                     or not, in ACKR frames of 65536 ids
 *   ackflood N MARK   HELLO with credit 10, then sends N ACKR frames of
 *                     ids 1 to 65536 as fast as streammgr takes them,
 *                     writing the file MARK once 10,000 have gone; then
 *                     waits to be stopped
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#define RANGE		65536	/* ids in one ACKR range: the most taken */
#define BLIND_IDS	(1u << 20)
#define FLOOD_MARK	10000	/* frames sent before MARK is written */

static void
put64(unsigned char *p, uint64_t v)
{
	for (int b = 0; b < 8; b++)
		p[b] = (unsigned char)(v >> (56 - 8 * b));
}

/* [ACKR][first, last]; returns 0 or -1. */
static int
ackr(void *sock, uint64_t first, uint64_t last)
{
	unsigned char r[16];

	put64(r, first);
	put64(r + 8, last);
	if (zmq_send(sock, "ACKR", 4, ZMQ_SNDMORE) < 0 ||
	    zmq_send(sock, r, sizeof(r), 0) < 0)
		return -1;
	return 0;
}

static int
hello(void *sock, const char *id, const char *credit, const char *features)
{
	if (zmq_send(sock, "HELLO", 5, ZMQ_SNDMORE) < 0 ||
	    zmq_send(sock, id, strlen(id), ZMQ_SNDMORE) < 0 ||
	    zmq_send(sock, credit, strlen(credit), features ? ZMQ_SNDMORE :
	    0) < 0 ||
	    (features && zmq_send(sock, features, strlen(features), 0) < 0))
		return -1;
	return 0;
}

static int
blindack(void *sock, const char *id)
{
	struct timespec ts = { 0, 10 * 1000000 };

	if (hello(sock, id, "65536", "batch") < 0)
		return 1;
	for (;;) {
		for (uint64_t first = 1; first < BLIND_IDS; first += RANGE)
			if (ackr(sock, first, first + RANGE - 1) < 0)
				return 1;
		nanosleep(&ts, NULL);
	}
}

static int
ackflood(void *sock, const char *id, long n, const char *mark)
{
	FILE *f;

	if (hello(sock, id, "10", NULL) < 0)
		return 1;
	for (long k = 0; k < n; k++) {
		if (ackr(sock, 1, RANGE) < 0)
			return 1;
		if (k + 1 == FLOOD_MARK && (f = fopen(mark, "w")) != NULL)
			fclose(f);
	}
	for (;;)
		pause();
}

int
main(int argc, char **argv)
{
	const char *ep = getenv("ZMQ_STREAM_ENDPOINT");
	const char *id = getenv("MYSIMBDP_INSTANCE");
	void *ctx, *sock;
	int one = 1;

	if (argc < 2 || ep == NULL || id == NULL) {
		fprintf(stderr, "usage: workflood blindack | ackflood N MARK "
		    "(as a stream app)\n");
		return 64;
	}
	ctx = zmq_ctx_new();
	sock = zmq_socket(ctx, ZMQ_DEALER);
	/* What it never reads stays on streammgr's side, not in here. */
	zmq_setsockopt(sock, ZMQ_RCVHWM, &one, sizeof(one));
	if (zmq_connect(sock, ep) < 0) {
		fprintf(stderr, "workflood: connect %s: %s\n", ep,
		    zmq_strerror(zmq_errno()));
		return 1;
	}
	if (strcmp(argv[1], "blindack") == 0)
		return blindack(sock, id);
	if (strcmp(argv[1], "ackflood") == 0 && argc == 4)
		return ackflood(sock, id, atol(argv[2]), argv[3]);
	fprintf(stderr, "workflood: unknown mode %s\n", argv[1]);
	return 64;
}
