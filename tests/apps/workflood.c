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
 *   foreign DIR       two instances of one stream, for
 *                     t_stream_foreign_acks.sh; the first to make
 *                     DIR/holder is the holder, the other the thief,
 *                     and each writes its instance id to DIR/ROLE-id.
 *                     The holder says HELLO (credit 1000), writes each
 *                     delivery's id as a line of DIR/holder-got and
 *                     holds it until DIR/release exists, then acks
 *                     what it holds, and from then on every delivery at
 *                     once. The thief waits for DIR/steal (the ids the
 *                     holder got, one a line), says HELLO (credit 1),
 *                     sends a NACK of the first id, a REJECT of the
 *                     second, an ACK of all and an ACKR of the lowest
 *                     to the highest; it acks what it is given at once,
 *                     writing the ids to DIR/thief-got
 *   byeheld DIR SECS  HELLO with credit 65536 and "batch", then reads
 *                     nothing (streammgr's queue to it fills) until
 *                     DIR/bye exists, says BYE, and still reads nothing
 *                     until DIR/read exists; then reads, counting the
 *                     messages delivered, until streammgr's [BYE], and
 *                     writes "bye after N" (or "no bye after N" past
 *                     SECS) to DIR/ID.result, for t_stream_bye_owed.sh.
 *                     Only the first instance (it makes DIR/first) does
 *                     so: the others, the one that replaces it after
 *                     its BYE, never say HELLO.
 *   twice DIR         HELLO with credit 1000, then settles every
 *                     delivery twice, back to back: the first one it
 *                     gets and every second one after with [REJECT]
 *                     then [ACK], the others with [ACK] then [REJECT]
 *                     (t_stream_settled_twice.sh). Each id goes as a
 *                     line "reject-first ID" or "ack-first ID" to
 *                     DIR/got before its two frames are sent.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

#define FOREIGN_MAX	4096	/* ids the holder holds, the thief names */
#define POLL_MS		20

static void
die(const char *what)
{
	fprintf(stderr, "workflood: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int
exists(const char *dir, const char *name)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

/* Appends a line to DIR/NAME; whole files are made by rename. */
static void
put_line(const char *dir, const char *name, const char *line)
{
	char p[4096];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((f = fopen(p, "a")) == NULL || fprintf(f, "%s\n", line) < 0 ||
	    fclose(f) != 0)
		die(p);
}

static void
put_file(const char *dir, const char *name, const char *text)
{
	char p[4096], tmp[4200];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.new", p);
	unlink(tmp);
	put_line(dir, strrchr(tmp, '/') + 1, text);
	if (rename(tmp, p) < 0)
		die(p);
}

/* [CMD][ids][reason]: ids are n u64s; reason NULL: no frame. */
static int
settle(void *sock, const char *cmd, const uint64_t *ids, size_t n,
    const char *reason)
{
	unsigned char buf[FOREIGN_MAX * 8];

	for (size_t k = 0; k < n; k++)
		put64(buf + 8 * k, ids[k]);
	if (zmq_send(sock, cmd, strlen(cmd), ZMQ_SNDMORE) < 0 ||
	    zmq_send(sock, buf, 8 * n, reason ? ZMQ_SNDMORE : 0) < 0 ||
	    (reason && zmq_send(sock, reason, strlen(reason), 0) < 0))
		return -1;
	return 0;
}

/*
 * One message from streammgr within POLL_MS: a delivery's id in *id
 * (returns 1), nothing (0); an ERR is written to stderr (0).
 */
static int
recv_one(void *sock, uint64_t *id)
{
	zmq_pollitem_t pi = { sock, 0, ZMQ_POLLIN, 0 };
	unsigned char f[256];
	int n, more, rc = 0;
	size_t len = sizeof(more);

	if (zmq_poll(&pi, 1, POLL_MS) <= 0)
		return 0;
	if ((n = zmq_recv(sock, f, sizeof(f), 0)) < 0)
		die("recv");
	zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len);
	if (more && n == 8) {
		*id = 0;
		for (int b = 0; b < 8; b++)
			*id = *id << 8 | f[b];
		rc = 1;
	} else
		fprintf(stderr, "workflood: from streammgr: %.*s\n",
		    n > (int)sizeof(f) ? (int)sizeof(f) : n, (char *)f);
	while (more) {	/* the payload */
		if (zmq_recv(sock, f, sizeof(f), 0) < 0)
			die("recv");
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len);
	}
	return rc;
}

static int
holder(void *sock, const char *id, const char *dir)
{
	uint64_t held[FOREIGN_MAX], m;
	size_t n = 0;
	int released = 0;
	char line[32];

	if (hello(sock, id, "1000", NULL) < 0)
		return 1;
	for (;;) {
		if (recv_one(sock, &m)) {
			snprintf(line, sizeof(line), "%" PRIu64, m);
			put_line(dir, "holder-got", line);
			if (released && settle(sock, "ACK", &m, 1, NULL) < 0)
				return 1;
			else if (!released && n < FOREIGN_MAX)
				held[n++] = m;
		}
		if (!released && exists(dir, "release")) {
			if (n > 0 && settle(sock, "ACK", held, n, NULL) < 0)
				return 1;
			released = 1;
		}
	}
}

/* The ids in DIR/steal, into ids; returns how many. */
static size_t
read_ids(const char *dir, uint64_t *ids)
{
	char p[4096];
	size_t n = 0;
	FILE *f;

	snprintf(p, sizeof(p), "%s/steal", dir);
	if ((f = fopen(p, "r")) == NULL)
		die(p);
	while (n < FOREIGN_MAX && fscanf(f, "%" SCNu64, &ids[n]) == 1)
		n++;
	fclose(f);
	return n;
}

static int
thief(void *sock, const char *id, const char *dir)
{
	struct timespec ts = { 0, POLL_MS * 1000000 };
	uint64_t ids[FOREIGN_MAX], lo, hi, m;
	unsigned char r[16];
	char line[32];
	size_t n;

	while (!exists(dir, "steal"))
		nanosleep(&ts, NULL);
	if ((n = read_ids(dir, ids)) < 2) {
		fprintf(stderr, "workflood: %s/steal: fewer than 2 ids\n",
		    dir);
		return 1;
	}
	lo = hi = ids[0];
	for (size_t k = 1; k < n; k++) {
		lo = ids[k] < lo ? ids[k] : lo;
		hi = ids[k] > hi ? ids[k] : hi;
	}
	put64(r, lo);
	put64(r + 8, hi);
	/* In this order: the ACKs would make a later NACK find nothing. */
	if (hello(sock, id, "1", NULL) < 0 ||
	    settle(sock, "NACK", ids, 1, "foreign") < 0 ||
	    settle(sock, "REJECT", ids + 1, 1, "foreign") < 0 ||
	    settle(sock, "ACK", ids, n, NULL) < 0 ||
	    zmq_send(sock, "ACKR", 4, ZMQ_SNDMORE) < 0 ||
	    zmq_send(sock, r, sizeof(r), 0) < 0)
		return 1;
	for (;;) {
		if (!recv_one(sock, &m))
			continue;
		snprintf(line, sizeof(line), "%" PRIu64, m);
		put_line(dir, "thief-got", line);
		if (settle(sock, "ACK", &m, 1, NULL) < 0)
			return 1;
	}
}

/* Messages in one batched delivery (docs/protocols.md, "Batches"):
 * each a u64 id, a u32 length and the payload. */
static uint64_t
batch_count(const unsigned char *f, size_t len)
{
	uint64_t n = 0;
	size_t off = 0, plen;

	while (len - off >= 12) {
		plen = (size_t)f[off + 8] << 24 | (size_t)f[off + 9] << 16 |
		    (size_t)f[off + 10] << 8 | f[off + 11];
		if (plen > len - off - 12)
			break;
		off += 12 + plen;
		n++;
	}
	return n;
}

/*
 * Reads until streammgr's [BYE] or the deadline: the messages delivered
 * before it into *n. Returns 1 at the BYE, 0 past the deadline.
 */
static int
read_until_bye(void *sock, uint64_t *n, int64_t deadline_ms)
{
	zmq_pollitem_t pi = { sock, 0, ZMQ_POLLIN, 0 };
	zmq_msg_t f[2];
	struct timespec now;
	int more, nf;

	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec * 1000 + now.tv_nsec / 1000000 >= deadline_ms)
			return 0;
		if (zmq_poll(&pi, 1, POLL_MS) <= 0)
			continue;
		nf = 0;
		do {
			zmq_msg_t *m = &f[nf < 2 ? nf : 1];

			if (nf >= 2)
				zmq_msg_close(m);
			zmq_msg_init(m);
			if (zmq_msg_recv(m, sock, 0) < 0)
				die("recv");
			more = zmq_msg_more(m);
			nf++;
		} while (more);
		if (nf == 1 && zmq_msg_size(&f[0]) == 3 &&
		    memcmp(zmq_msg_data(&f[0]), "BYE", 3) == 0) {
			zmq_msg_close(&f[0]);
			return 1;
		}
		/* [""][deliveries] or [id][payload] */
		*n += nf == 2 && zmq_msg_size(&f[0]) == 0 ?
		    batch_count(zmq_msg_data(&f[1]), zmq_msg_size(&f[1])) : 1;
		for (int k = 0; k < (nf < 2 ? nf : 2); k++)
			zmq_msg_close(&f[k]);
	}
}

static int
byeheld(void *sock, const char *id, const char *dir, long secs)
{
	struct timespec ts = { 0, POLL_MS * 1000000 }, now;
	uint64_t n = 0;
	char line[64], name[200], p[4096];
	int got;

	snprintf(p, sizeof(p), "%s/first", dir);
	if (mkdir(p, 0755) < 0) {
		if (errno != EEXIST)
			die(p);
		for (;;)
			pause();
	}
	if (hello(sock, id, "65536", "batch") < 0)
		return 1;
	while (!exists(dir, "bye"))
		nanosleep(&ts, NULL);
	if (zmq_send(sock, "BYE", 3, 0) < 0)
		return 1;
	while (!exists(dir, "read"))
		nanosleep(&ts, NULL);
	clock_gettime(CLOCK_MONOTONIC, &now);
	got = read_until_bye(sock, &n, now.tv_sec * 1000 +
	    now.tv_nsec / 1000000 + secs * 1000);
	snprintf(line, sizeof(line), "%sbye after %" PRIu64, got ? "" :
	    "no ", n);
	snprintf(name, sizeof(name), "%s.result", id);
	put_file(dir, name, line);
	return got ? 0 : 1;
}

static int
twice(void *sock, const char *id, const char *dir)
{
	uint64_t m;
	unsigned long k = 0;
	char line[48];
	const char *first, *then;

	if (hello(sock, id, "1000", NULL) < 0)
		return 1;
	for (;;) {
		if (!recv_one(sock, &m))
			continue;
		first = k++ % 2 == 0 ? "REJECT" : "ACK";
		then = *first == 'R' ? "ACK" : "REJECT";
		snprintf(line, sizeof(line), "%s %" PRIu64, *first == 'R' ?
		    "reject-first" : "ack-first", m);
		put_line(dir, "got", line);
		if (settle(sock, first, &m, 1, *first == 'R' ? "reject-first" :
		    NULL) < 0 || settle(sock, then, &m, 1, *then == 'R' ?
		    "ack-first" : NULL) < 0)
			return 1;
	}
}

static int
foreign(void *sock, const char *id, const char *dir)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/holder", dir);
	if (mkdir(p, 0755) == 0) {
		put_file(dir, "holder-id", id);
		return holder(sock, id, dir);
	}
	if (errno != EEXIST)
		die(p);
	put_file(dir, "thief-id", id);
	return thief(sock, id, dir);
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
		    "| foreign DIR | byeheld DIR SECS | twice DIR (as a stream "
		    "app)\n");
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
	if (strcmp(argv[1], "foreign") == 0 && argc == 3)
		return foreign(sock, id, argv[2]);
	if (strcmp(argv[1], "byeheld") == 0 && argc == 4)
		return byeheld(sock, id, argv[2], atol(argv[3]));
	if (strcmp(argv[1], "twice") == 0 && argc == 3)
		return twice(sock, id, argv[2]);
	fprintf(stderr, "workflood: unknown mode %s\n", argv[1]);
	return 64;
}
