/*
 * fakezmq: a stand-in for streammgr's sockets, for testing the mysimbdp
 * stream commands without the daemon (docs/protocols.md).
 *
 *   fakezmq ctl ENDPOINT REPLY...
 *	binds a ROUTER; answers the n-th request with the n-th REPLY (the
 *	last one again after that; "-" means no answer), writing each
 *	request on standard output, one per line.
 *   fakezmq ingress ENDPOINT
 *	binds a ROUTER and answers [msg-id][payload] by the payload's first
 *	word: "reject:<why>" gets "REJECT <why>", "throttle" gets
 *	"THROTTLE", "silent" no answer, "quit" no answer and the fake
 *	exits (a streammgr that went away), anything else "OK". Each
 *	payload is written on standard output, one per line. A batch
 *	[""][header][records] (protocol 2) gets [""][header][statuses],
 *	each record answered so ("silent" or "quit" anywhere: no answer
 *	at all).
 *
 * Both print "ready" once bound and run until SIGTERM or SIGINT (or
 * "quit").
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "wirebatch.h"

#define MAX_FRAMES 8

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	stop = 1;
}

/* Receives one multipart message; returns its frame count or -1. */
static int
recv_frames(void *sock, zmq_msg_t *f)
{
	int n = 0, more;

	do {
		zmq_msg_t extra;
		zmq_msg_t *m = n < MAX_FRAMES ? &f[n] : &extra;

		zmq_msg_init(m);
		if (zmq_msg_recv(m, sock, 0) < 0) {
			zmq_msg_close(m);
			while (n > 0)
				zmq_msg_close(&f[--n]);
			return -1;
		}
		more = zmq_msg_more(m);
		if (m == &extra)
			zmq_msg_close(m);
		else
			n++;
	} while (more);
	return n;
}

static void
send_reply(void *sock, zmq_msg_t *f, int nroute, const char *text)
{
	for (int i = 0; i < nroute; i++)
		zmq_send(sock, zmq_msg_data(&f[i]), zmq_msg_size(&f[i]),
		    ZMQ_SNDMORE);
	zmq_send(sock, text, strlen(text), 0);
}

/* The answer to a payload by its first word; "" for none. */
static void
status_for(const char *p, size_t len, char *status, size_t size)
{
	if (len >= 7 && memcmp(p, "reject:", 7) == 0)
		snprintf(status, size, "REJECT %.*s",
		    (int)(len - 7 > 200 ? 200 : len - 7), p + 7);
	else if (len >= 8 && memcmp(p, "throttle", 8) == 0)
		snprintf(status, size, "THROTTLE");
	else if (len >= 6 && memcmp(p, "silent", 6) == 0)
		status[0] = '\0';
	else if (len >= 4 && memcmp(p, "quit", 4) == 0) {
		status[0] = '\0';
		stop = 1;
	}
	else
		snprintf(status, size, "OK");
}

/* [identity][""][header][records]: a status per record. */
static void
answer_batch(void *sock, zmq_msg_t *f)
{
	struct wb_buf out = { 0 };
	struct wb_reader r;
	const void *p;
	size_t len;
	char status[256];
	bool silent = false;

	wb_reader_init(&r, zmq_msg_data(&f[3]), zmq_msg_size(&f[3]));
	while (wb_next_record(&r, &p, &len) == 1) {
		printf("%.*s\n", (int)len, (const char *)p);
		status_for(p, len, status, sizeof(status));
		silent |= status[0] == '\0';
		wb_put_status(&out, status, strlen(status));
	}
	if (!silent) {
		for (int i = 0; i < 3; i++)
			zmq_send(sock, zmq_msg_data(&f[i]),
			    zmq_msg_size(&f[i]), ZMQ_SNDMORE);
		zmq_send(sock, out.b_data, out.b_len, 0);
	}
	wb_free(&out);
}

int
main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	void *ctx, *sock;
	int linger = 0, nreq = 0, tick = 100;
	bool ctl;

	if (argc < 3 || (strcmp(argv[1], "ctl") != 0 &&
	    strcmp(argv[1], "ingress") != 0) ||
	    (strcmp(argv[1], "ctl") == 0 && argc < 4)) {
		fprintf(stderr, "usage: fakezmq ctl ENDPOINT REPLY...\n"
		    "       fakezmq ingress ENDPOINT\n");
		return 64;
	}
	ctl = strcmp(argv[1], "ctl") == 0;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	ctx = zmq_ctx_new();
	sock = zmq_socket(ctx, ZMQ_ROUTER);
	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
	/*
	 * A signal that lands between the look at stop and the wait would
	 * go unnoticed in a wait without end: wait a tick at most.
	 */
	zmq_setsockopt(sock, ZMQ_RCVTIMEO, &tick, sizeof(tick));
	if (zmq_bind(sock, argv[2]) < 0) {
		fprintf(stderr, "fakezmq: bind %s: %s\n", argv[2],
		    zmq_strerror(zmq_errno()));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		zmq_msg_t f[MAX_FRAMES];
		int n = recv_frames(sock, f);

		if (n < 0)
			continue;	/* EINTR, EAGAIN: look at stop */
		if (ctl) {
			/* [identity][json]: a DEALER's request. */
			const char *reply = argv[3 + (nreq < argc - 3 ? nreq :
			    argc - 4)];

			printf("%.*s\n", (int)zmq_msg_size(&f[n - 1]),
			    (const char *)zmq_msg_data(&f[n - 1]));
			nreq++;
			if (strcmp(reply, "-") != 0)
				send_reply(sock, f, n - 1, reply);
		} else if (n == 3) {
			/* [identity][msg-id][payload]: echo the msg-id. */
			const char *p = zmq_msg_data(&f[2]);
			size_t len = zmq_msg_size(&f[2]);
			char status[256];

			printf("%.*s\n", (int)len, p);
			status_for(p, len, status, sizeof(status));
			if (status[0])
				send_reply(sock, f, 2, status);
		} else if (n == 4 && zmq_msg_size(&f[1]) == 0)
			answer_batch(sock, f);
		fflush(stdout);
		for (int i = 0; i < n; i++)
			zmq_msg_close(&f[i]);
	}
	zmq_close(sock);
	zmq_ctx_term(ctx);
	return 0;
}
