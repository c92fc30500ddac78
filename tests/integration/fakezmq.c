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
 *	"THROTTLE", "silent" no answer, anything else "OK". Each payload is
 *	written on standard output, one per line.
 *
 * Both print "ready" once bound and run until SIGTERM or SIGINT.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

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
			if (len >= 7 && memcmp(p, "reject:", 7) == 0)
				snprintf(status, sizeof(status), "REJECT %.*s",
				    (int)(len - 7 > 200 ? 200 : len - 7), p + 7);
			else if (len >= 8 && memcmp(p, "throttle", 8) == 0)
				snprintf(status, sizeof(status), "THROTTLE");
			else if (len >= 6 && memcmp(p, "silent", 6) == 0)
				status[0] = '\0';
			else
				snprintf(status, sizeof(status), "OK");
			if (status[0])
				send_reply(sock, f, 2, status);
		}
		fflush(stdout);
		for (int i = 0; i < n; i++)
			zmq_msg_close(&f[i]);
	}
	zmq_close(sock);
	zmq_ctx_term(ctx);
	return 0;
}
