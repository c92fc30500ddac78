/*
 * fakework: a stand-in for streammgr's work socket (docs/protocols.md,
 * "Work"), to run a stream app end to end without the daemon.
 *
 * usage: fakework ENDPOINT FILE
 *
 * Binds a ROUTER on ENDPOINT and prints "ready". After an instance's
 * [HELLO][id][credit] (features, if any, ignored: it speaks protocol 1)
 * it delivers each non-empty line of FILE, in order,
 * as [delivery-id][line] (ids 1, 2, ...), never more than the credit
 * unsettled. An ACK settles ids; a REJECT settles them and prints
 * "reject <id> <reason>"; a NACK gives them back for a later delivery.
 * It prints "settled" once every line is acked or rejected, and answers
 * [BYE] with [BYE] (then delivers nothing more, but still takes acks).
 * On SIGTERM or SIGINT it handles what is still queued and prints
 * "acked A rejected R nacked N delivered D unsettled U", U being the
 * deliveries never acked, nacked or rejected. Exit 0, or 1 after a
 * protocol error (also printed).
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define MAX_FRAMES 8

enum state { PENDING, OUT, ACKED, REJECTED };

struct line {
	char		*l_text;
	size_t		 l_len;
	enum state	 l_state;
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	stop = 1;
}

static uint64_t
get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

/* The non-empty lines of path, without their line breaks. */
static struct line *
read_lines(const char *path, size_t *np)
{
	FILE *f = fopen(path, "r");
	struct line *lines = NULL;
	char *buf = NULL;
	size_t cap = 0, n = 0;
	ssize_t len;

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	while ((len = getline(&buf, &cap, f)) != -1) {
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			len--;
		if (len == 0)
			continue;
		lines = realloc(lines, (n + 1) * sizeof(*lines));
		lines[n].l_text = malloc((size_t)len);
		memcpy(lines[n].l_text, buf, (size_t)len);
		lines[n].l_len = (size_t)len;
		lines[n].l_state = PENDING;
		n++;
	}
	free(buf);
	fclose(f);
	*np = n;
	return lines;
}

static int
recv_frames(void *sock, zmq_msg_t *f)
{
	int n = 0, more;

	do {
		if (n == MAX_FRAMES)
			return -1;
		zmq_msg_init(&f[n]);
		if (zmq_msg_recv(&f[n], sock, 0) == -1) {
			zmq_msg_close(&f[n]);
			for (int i = 0; i < n; i++)
				zmq_msg_close(&f[i]);
			return -1;
		}
		more = zmq_msg_more(&f[n]);
		n++;
	} while (more);
	return n;
}

static bool
frame_is(zmq_msg_t *m, const char *s)
{
	return zmq_msg_size(m) == strlen(s) &&
	    memcmp(zmq_msg_data(m), s, strlen(s)) == 0;
}

struct fake {
	void		*fk_sock;
	struct line	*fk_lines;
	size_t		 fk_nlines, fk_next, fk_out;
	uint64_t	 fk_acked, fk_rejected, fk_nacked, fk_delivered;
	unsigned char	 fk_rid[256];
	size_t		 fk_ridlen;
	uint32_t	 fk_credit;
	bool		 fk_bye;
	int		 fk_rc;
};

/* Delivers up to the credit, in file order, nacked ones again. */
static void
deliver(struct fake *fk)
{
	unsigned char idbuf[8];

	while (!fk->fk_bye && fk->fk_credit > 0 &&
	    fk->fk_out < fk->fk_credit) {
		while (fk->fk_next < fk->fk_nlines &&
		    fk->fk_lines[fk->fk_next].l_state != PENDING)
			fk->fk_next++;
		if (fk->fk_next == fk->fk_nlines)
			return;
		put_be64(idbuf, fk->fk_next + 1);
		zmq_send(fk->fk_sock, fk->fk_rid, fk->fk_ridlen, ZMQ_SNDMORE);
		zmq_send(fk->fk_sock, idbuf, 8, ZMQ_SNDMORE);
		zmq_send(fk->fk_sock, fk->fk_lines[fk->fk_next].l_text,
		    fk->fk_lines[fk->fk_next].l_len, 0);
		fk->fk_lines[fk->fk_next].l_state = OUT;
		fk->fk_out++;
		fk->fk_delivered++;
	}
}

/* Settles or gives back the ids of an ACK, NACK or REJECT. */
static void
settle(struct fake *fk, zmq_msg_t *f, int n)
{
	const unsigned char *p = zmq_msg_data(&f[2]);

	for (size_t k = 0; k < zmq_msg_size(&f[2]) / 8; k++) {
		uint64_t id = get_be64(p + 8 * k);
		struct line *l;

		if (id == 0 || id > fk->fk_nlines ||
		    fk->fk_lines[id - 1].l_state != OUT) {
			printf("error: %.*s of id %llu, which is not out\n",
			    (int)zmq_msg_size(&f[1]),
			    (const char *)zmq_msg_data(&f[1]),
			    (unsigned long long)id);
			fk->fk_rc = 1;
			continue;
		}
		l = &fk->fk_lines[id - 1];
		fk->fk_out--;
		if (frame_is(&f[1], "ACK")) {
			l->l_state = ACKED;
			fk->fk_acked++;
		} else if (frame_is(&f[1], "REJECT")) {
			l->l_state = REJECTED;
			fk->fk_rejected++;
			printf("reject %llu %.*s\n", (unsigned long long)id,
			    n > 3 ? (int)zmq_msg_size(&f[3]) : 0,
			    n > 3 ? (const char *)zmq_msg_data(&f[3]) : "");
		} else {
			l->l_state = PENDING;
			fk->fk_nacked++;
			if (id - 1 < fk->fk_next)
				fk->fk_next = id - 1;
		}
	}
}

/* Handles one command of an instance. */
static void
handle(struct fake *fk, zmq_msg_t *f, int n)
{
	/* A fifth frame lists features ("batch"): this stand-in delivers
	 * one message at a time, which every instance takes. */
	if (frame_is(&f[1], "HELLO") && (n == 4 || n == 5)) {
		char num[16];
		size_t len = zmq_msg_size(&f[3]);

		fk->fk_ridlen = zmq_msg_size(&f[0]);
		memcpy(fk->fk_rid, zmq_msg_data(&f[0]), fk->fk_ridlen);
		snprintf(num, sizeof(num), "%.*s", (int)(len < 15 ? len : 15),
		    (const char *)zmq_msg_data(&f[3]));
		fk->fk_credit = (uint32_t)strtoul(num, NULL, 10);
	} else if ((frame_is(&f[1], "ACK") || frame_is(&f[1], "NACK") ||
	    frame_is(&f[1], "REJECT")) && n >= 3 &&
	    zmq_msg_size(&f[2]) % 8 == 0)
		settle(fk, f, n);
	else if (frame_is(&f[1], "BYE") && n == 2) {
		zmq_send(fk->fk_sock, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]),
		    ZMQ_SNDMORE);
		zmq_send(fk->fk_sock, "BYE", 3, 0);
		fk->fk_bye = true;
	} else {
		printf("error: unknown command\n");
		fk->fk_rc = 1;
	}
}

/* Handles what comes within timeout_ms; false when nothing came. */
static bool
serve(struct fake *fk, int timeout_ms)
{
	zmq_pollitem_t pi = { .socket = fk->fk_sock, .events = ZMQ_POLLIN };
	zmq_msg_t f[MAX_FRAMES];
	int n;

	if (zmq_poll(&pi, 1, timeout_ms) <= 0)
		return false;
	if ((n = recv_frames(fk->fk_sock, f)) == -1)
		return false;
	if (n >= 2)
		handle(fk, f, n);
	for (int i = 0; i < n; i++)
		zmq_msg_close(&f[i]);
	fflush(stdout);
	return true;
}

int
main(int argc, char **argv)
{
	struct fake fk = { 0 };
	bool settled = false;
	void *ctx;
	int linger = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: fakework ENDPOINT FILE\n");
		return 2;
	}
	fk.fk_lines = read_lines(argv[2], &fk.fk_nlines);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	ctx = zmq_ctx_new();
	fk.fk_sock = zmq_socket(ctx, ZMQ_ROUTER);
	zmq_setsockopt(fk.fk_sock, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_bind(fk.fk_sock, argv[1]) == -1) {
		fprintf(stderr, "fakework: bind %s: %s\n", argv[1],
		    zmq_strerror(zmq_errno()));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		deliver(&fk);
		if (!settled && fk.fk_acked + fk.fk_rejected == fk.fk_nlines) {
			settled = true;
			printf("settled\n");
			fflush(stdout);
		}
		serve(&fk, 100);
	}
	/* Acks the app sent before it exited are still queued here. */
	while (serve(&fk, 200))
		;
	printf("acked %llu rejected %llu nacked %llu delivered %llu "
	    "unsettled %zu\n", (unsigned long long)fk.fk_acked,
	    (unsigned long long)fk.fk_rejected,
	    (unsigned long long)fk.fk_nacked,
	    (unsigned long long)fk.fk_delivered, fk.fk_out);
	zmq_close(fk.fk_sock);
	zmq_ctx_term(ctx);
	for (size_t i = 0; i < fk.fk_nlines; i++)
		free(fk.fk_lines[i].l_text);
	free(fk.fk_lines);
	return fk.fk_rc;
}
