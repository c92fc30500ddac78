/*
 * rawzmq: sends hand-made ZeroMQ messages, frame by frame, and prints
 * what comes back, for the hostile-input tests (tests/hostile/). Each
 * line of standard input is one message: its frames separated by one
 * space, each frame written as
 *
 *   t:TEXT   the bytes of TEXT, with \n, \t, \s (space), \\ and \xHH
 *   r:N:C    N times the character C (r:70000:x)
 *   e        an empty frame
 *
 * After each message the reply (DEALER, REQ) is awaited for TIMEOUT_MS
 * and printed as one line, its frames joined by " | " with control and
 * non-ASCII bytes as \xHH (a frame over 200 bytes as "(N bytes)"), or
 * "(no reply)"; a PUSH socket prints "(sent)". A line
 * starting with '#' and an empty line are skipped.
 *
 * usage: rawzmq ENDPOINT dealer|req|push [TIMEOUT_MS [PUBLIC SECRET
 *     SERVER]]
 * With the three keys (Z85), a CURVE client of the server whose public
 * key is SERVER: one connection kept open, fed from a FIFO, stands for
 * an operator connected before a reload (t_remote_operators.sh).
 * Exits 0 when every message was sent, 1 otherwise, 64 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#define LINE_MAX_BYTES	(1 << 20)
#define FRAME_MAX	(64 << 20)

/* Decodes one frame spec into buf; returns its length or -1. */
static long
decode(const char *spec, char *buf)
{
	long n = 0;

	if (strcmp(spec, "e") == 0)
		return 0;
	if (strncmp(spec, "r:", 2) == 0) {
		char *end;
		long count = strtol(spec + 2, &end, 10);

		if (*end != ':' || end[1] == '\0' || count < 0 ||
		    count > FRAME_MAX)
			return -1;
		memset(buf, end[1], (size_t)count);
		return count;
	}
	if (strncmp(spec, "t:", 2) != 0)
		return -1;
	for (const char *s = spec + 2; *s; s++) {
		if (*s != '\\') {
			buf[n++] = *s;
			continue;
		}
		switch (*++s) {
		case 'n': buf[n++] = '\n'; break;
		case 't': buf[n++] = '\t'; break;
		case 's': buf[n++] = ' '; break;
		case '\\': buf[n++] = '\\'; break;
		case 'x': {
			char hex[3] = { s[1], s[1] ? s[2] : '\0', '\0' };
			char *end;

			buf[n++] = (char)strtol(hex, &end, 16);
			if (end != hex + 2)
				return -1;
			s += 2;
			break;
		}
		default:
			return -1;
		}
	}
	return n;
}

static void
print_frame(const unsigned char *p, size_t len)
{
	if (len > 200) {
		printf("(%zu bytes)", len);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] >= 0x7f)
			printf("\\x%02x", p[i]);
		else
			putchar(p[i]);
	}
}

/* Prints the next message within timeout_ms, or "(no reply)". */
static void
print_reply(void *sock, int timeout_ms)
{
	zmq_pollitem_t item = { sock, 0, ZMQ_POLLIN, 0 };
	int more = 1, first = 1;

	if (zmq_poll(&item, 1, timeout_ms) <= 0) {
		printf("(no reply)\n");
		return;
	}
	while (more) {
		zmq_msg_t m;
		size_t len = sizeof(more);

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sock, 0) < 0) {
			zmq_msg_close(&m);
			break;
		}
		printf("%s", first ? "" : " | ");
		print_frame(zmq_msg_data(&m), zmq_msg_size(&m));
		zmq_msg_close(&m);
		first = 0;
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len);
	}
	putchar('\n');
}

/* Sends the frames of one spec line; returns 0 or -1. */
static int
send_line(void *sock, char *line, char *buf)
{
	char *save = NULL, *tok = strtok_r(line, " ", &save);

	while (tok != NULL) {
		char *next = strtok_r(NULL, " ", &save);
		long n = decode(tok, buf);

		if (n < 0) {
			fprintf(stderr, "rawzmq: bad frame spec \"%s\"\n", tok);
			return -1;
		}
		if (zmq_send(sock, buf, (size_t)n, next ? ZMQ_SNDMORE : 0) < 0) {
			fprintf(stderr, "rawzmq: send: %s\n",
			    zmq_strerror(zmq_errno()));
			return -1;
		}
		tok = next;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	int type, timeout_ms = argc > 3 ? atoi(argv[3]) : 2000, rc = 0;
	int linger = 2000;
	char *line, *buf;
	void *ctx, *sock;

	if ((argc < 3 || argc > 4) && argc != 7) {
		fprintf(stderr, "usage: rawzmq ENDPOINT dealer|req|push "
		    "[TIMEOUT_MS [PUBLIC SECRET SERVER]]\n");
		return 64;
	}
	if (strcmp(argv[2], "dealer") == 0)
		type = ZMQ_DEALER;
	else if (strcmp(argv[2], "req") == 0)
		type = ZMQ_REQ;
	else if (strcmp(argv[2], "push") == 0)
		type = ZMQ_PUSH;
	else
		return 64;
	line = malloc(LINE_MAX_BYTES);
	buf = malloc(FRAME_MAX);
	ctx = zmq_ctx_new();
	sock = zmq_socket(ctx, type);
	if (sock != NULL && argc == 7 && (zmq_setsockopt(sock,
	    ZMQ_CURVE_PUBLICKEY, argv[4], strlen(argv[4])) < 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, argv[5],
	    strlen(argv[5])) < 0 || zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY,
	    argv[6], strlen(argv[6])) < 0)) {
		fprintf(stderr, "rawzmq: CURVE keys: %s\n",
		    zmq_strerror(zmq_errno()));
		return 64;
	}
	if (line == NULL || buf == NULL || sock == NULL ||
	    zmq_connect(sock, argv[1]) < 0) {
		fprintf(stderr, "rawzmq: connect %s: %s\n", argv[1],
		    zmq_strerror(zmq_errno()));
		return 1;
	}
	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
	while (fgets(line, LINE_MAX_BYTES, stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (send_line(sock, line, buf) < 0) {
			rc = 1;
			break;
		}
		if (type == ZMQ_PUSH)
			printf("(sent)\n");
		else
			print_reply(sock, timeout_ms);
		fflush(stdout);
		/* A REQ socket waiting for a reply that never came cannot
		 * send again: start over with a fresh one. */
		if (type == ZMQ_REQ) {
			zmq_close(sock);
			sock = zmq_socket(ctx, type);
			zmq_setsockopt(sock, ZMQ_LINGER, &linger,
			    sizeof(linger));
			zmq_connect(sock, argv[1]);
		}
	}
	zmq_close(sock);
	zmq_ctx_term(ctx);
	free(line);
	free(buf);
	return rc;
}
