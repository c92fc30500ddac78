/*
 * pushreport: sends metric reports as a (possibly misbehaving) app would,
 * for the tests: each line of standard input is one ZeroMQ message to the
 * PULL endpoint, sent once a connection is made; a line starting with
 * "MULTI " is sent as two frames (the rest of the line twice). Exits 0
 * when every message was queued and flushed within the timeout.
 *
 * usage: pushreport ENDPOINT [TIMEOUT_MS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends one line; waits (bounded) for the connection to the monitor. */
static int
send_line(void *sock, char *line, size_t len, long deadline)
{
	int multi = strncmp(line, "MULTI ", 6) == 0;
	struct timespec pause = { 0, 10 * 1000000 };

	if (multi) {
		line += 6;
		len -= 6;
	}
	for (;;) {
		if (zmq_send(sock, line, len, ZMQ_DONTWAIT |
		    (multi ? ZMQ_SNDMORE : 0)) >= 0)
			break;
		if (zmq_errno() != EAGAIN || now_ms() > deadline)
			return -1;
		nanosleep(&pause, NULL);
	}
	return multi ? (zmq_send(sock, line, len, 0) < 0 ? -1 : 0) : 0;
}

int
main(int argc, char *argv[])
{
	long timeout = argc > 2 ? atol(argv[2]) : 10000, deadline;
	int immediate = 1, linger;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	void *ctx, *sock;
	int sent = 0;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: pushreport ENDPOINT [TIMEOUT_MS]\n");
		return 64;
	}
	deadline = now_ms() + timeout;
	linger = (int)timeout;
	ctx = zmq_ctx_new();
	sock = zmq_socket(ctx, ZMQ_PUSH);
	zmq_setsockopt(sock, ZMQ_IMMEDIATE, &immediate, sizeof(immediate));
	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_connect(sock, argv[1]) < 0) {
		fprintf(stderr, "pushreport: connect %s: %s\n", argv[1],
		    zmq_strerror(zmq_errno()));
		return 1;
	}
	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (send_line(sock, line, (size_t)n, deadline) < 0) {
			fprintf(stderr, "pushreport: message %d: %s\n", sent + 1,
			    zmq_strerror(zmq_errno()));
			return 1;
		}
		sent++;
	}
	free(line);
	zmq_close(sock);	/* lingers until the queue is sent */
	zmq_ctx_term(ctx);
	printf("%d sent\n", sent);
	return 0;
}
