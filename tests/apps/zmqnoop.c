/*
 * zmqnoop: the no-op stream app written as an app in another language
 * would be, on plain libzmq and protocol 1 (docs/protocols.md, "Work"):
 * a DEALER says [HELLO][instance][credit] without features, so every
 * delivery comes alone as [delivery-id][payload]. It acks every message
 * as soon as it has it, in ACK frames of up to credit/4 ids, sent when
 * that many are queued or when the socket has nothing more to read (as
 * libmysimbdp does), so that against tests/bench/streamnoop
 * (scripts/bench stream) only the delivery protocol differs. With -1 it
 * acks each message alone, in an ACK of its own, as the simplest app in
 * another language would. With FILE, each payload is written to it as a
 * line first (t_stream_protocol1.sh checks what came, and how often).
 *
 * usage: zmqnoop [-1] [credit [FILE]]	(credit 1024 by default, as the
 *     library's)
 *
 * On SIGTERM or SIGINT it says BYE and exits 0 at streammgr's [BYE];
 * exits 1 on [ERR ...] or a socket error, 64 on bad usage.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <zmq.h>

#define FRAMES_MAX	4

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Receives one message, its first FRAMES_MAX frames into f (the rest
 * dropped). Returns the number kept, 0 when none is there, -1 on an
 * error. */
static int
recv_msg(void *sock, zmq_msg_t f[FRAMES_MAX])
{
	zmq_msg_t extra;
	int n = 0, more = 1;

	while (more) {
		zmq_msg_t *m = n < FRAMES_MAX ? &f[n] : &extra;

		zmq_msg_init(m);
		if (zmq_msg_recv(m, sock, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
			zmq_msg_close(m);
			for (int k = 0; k < n && k < FRAMES_MAX; k++)
				zmq_msg_close(&f[k]);
			return n == 0 && errno == EAGAIN ? 0 : -1;
		}
		more = zmq_msg_more(m);
		if (m == &extra)
			zmq_msg_close(m);
		else
			n++;
	}
	return n;
}

/* A credit, 1 to 65536, or 0. */
static long
number(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	return errno == 0 && *end == '\0' && v >= 1 && v <= 65536 ? v : 0;
}

static int
send_acks(void *sock, const unsigned char *ids, size_t n)
{
	if (n == 0)
		return 0;
	if (zmq_send(sock, "ACK", 3, ZMQ_SNDMORE) < 0 ||
	    zmq_send(sock, ids, 8 * n, 0) < 0)
		return -1;
	return 0;
}

static bool
frame_is(zmq_msg_t *f, const char *s)
{
	return zmq_msg_size(f) == strlen(s) &&
	    memcmp(zmq_msg_data(f), s, strlen(s)) == 0;
}

int
main(int argc, char *argv[])
{
	const char *endpoint = getenv("ZMQ_STREAM_ENDPOINT");
	const char *id = getenv("MYSIMBDP_INSTANCE");
	long credit = 1024, batch;
	bool each = false;
	FILE *out = NULL;
	unsigned char *ids;
	size_t nids = 0;
	char text[16];
	bool bye = false;
	void *ctx, *sock;
	zmq_msg_t f[FRAMES_MAX];
	int n, rc = 1;

	if (argc >= 2 && strcmp(argv[1], "-1") == 0) {
		each = true;
		argc--;
		argv++;
	}
	if (argc > 3 || (argc >= 2 && (credit = number(argv[1])) == 0)) {
		fprintf(stderr, "usage: zmqnoop [-1] [credit [FILE]]\n");
		return EX_USAGE;
	}
	if (argc == 3 && (out = fopen(argv[2], "a")) == NULL) {
		fprintf(stderr, "zmqnoop: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	if (endpoint == NULL || id == NULL) {
		fprintf(stderr, "zmqnoop: ZMQ_STREAM_ENDPOINT and "
		    "MYSIMBDP_INSTANCE must be set\n");
		return 1;
	}
	batch = each || credit / 4 == 0 ? 1 : credit / 4;
	if ((ids = malloc(8 * (size_t)batch)) == NULL)
		return 1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	ctx = zmq_ctx_new();
	sock = zmq_socket(ctx, ZMQ_DEALER);
	snprintf(text, sizeof(text), "%ld", credit);
	if (zmq_connect(sock, endpoint) < 0 ||
	    zmq_send(sock, "HELLO", 5, ZMQ_SNDMORE) < 0 ||
	    zmq_send(sock, id, strlen(id), ZMQ_SNDMORE) < 0 ||
	    zmq_send(sock, text, strlen(text), 0) < 0)
		goto out;
	for (;;) {
		zmq_pollitem_t it = { .socket = sock, .events = ZMQ_POLLIN };

		if (stopping && !bye) {
			if (send_acks(sock, ids, nids) < 0 ||
			    zmq_send(sock, "BYE", 3, 0) < 0)
				goto out;
			nids = 0;
			bye = true;
		}
		if ((n = recv_msg(sock, f)) < 0)
			goto out;
		if (n == 0) {
			/* Nothing more to read: the acks go before the wait. */
			if (send_acks(sock, ids, nids) < 0)
				goto out;
			nids = 0;
			/* Bounded: a signal just before the poll is seen. */
			if (zmq_poll(&it, 1, 100) < 0 && errno != EINTR)
				goto out;
			continue;
		}
		if (n == 2 && zmq_msg_size(&f[0]) == 8) {
			if (out != NULL && (fwrite(zmq_msg_data(&f[1]), 1,
			    zmq_msg_size(&f[1]), out) != zmq_msg_size(&f[1]) ||
			    putc('\n', out) == EOF || fflush(out) == EOF))
				goto out;
			memcpy(ids + 8 * nids++, zmq_msg_data(&f[0]), 8);
			if ((long)nids == batch) {
				if (send_acks(sock, ids, nids) < 0)
					goto out;
				nids = 0;
			}
		} else if (n == 1 && frame_is(&f[0], "BYE")) {
			rc = 0;
		} else {
			fprintf(stderr, "zmqnoop: unexpected: %.*s\n",
			    (int)zmq_msg_size(&f[0]),
			    (const char *)zmq_msg_data(&f[0]));
		}
		for (int k = 0; k < n; k++)
			zmq_msg_close(&f[k]);
		if (rc == 0 || n == 1)
			break;
	}
out:
	if (rc != 0)
		fprintf(stderr, "zmqnoop: %s\n", zmq_strerror(errno));
	zmq_close(sock);
	zmq_ctx_term(ctx);
	free(ids);
	if (out != NULL && fclose(out) == EOF)
		rc = 1;
	return rc;
}
