/*
 * streambench: the producer and the raw reference of the stream
 * benchmark (scripts/bench stream, docs/benchmarks.md).
 *
 * usage: streambench produce ENDPOINT COUNT SIZE WINDOW CTL TENANT
 *        streambench ready CTL TENANT N TIMEOUT_S
 *        streambench acked CTL COUNT TIMEOUT_S TENANT...
 *        streambench raw COUNT SIZE
 *        streambench react CTL INGRESS TENANT COUNT TIMEOUT_S
 *        streambench reports ENDPOINT TENANT STREAM COUNT
 *
 * produce sends COUNT messages of SIZE bytes to a stream's ingress
 * ENDPOINT with libmysimbdp's producer, keeping at most WINDOW of them
 * waiting for their reply. The latency of every LAT_EVERY-th message is
 * measured: its send time taken just before msb_producer_send(), when the
 * window has room (so no wait for the window is counted in), and its
 * reply's when it comes back (the producer's acknowledgement: stored in
 * streammgr's queue). A sample, not every message: two clock reads a
 * message were a quarter of the producer's CPU at memory/1's rate, which
 * raw PUSH/PULL does not pay. After the last
 * reply it asks streammgr's control socket CTL for TENANT's status every
 * POLL_MS until the stream's "acked" counter has grown by the number of
 * messages that got OK. Prints one JSON line:
 *   msgs, size, window, secs (first send to every message acked), rate
 *   (msgs / secs), ok_secs and ok_rate (first send to the last reply),
 *   p50_us, p99_us, max_us (send to reply, nearest rank over the
 *   messages sampled), not_ok (replies other than OK), cpu_s (this
 *   process),
 *   start_ns and end_ns (CLOCK_MONOTONIC, for a span over producers).
 * With STREAMBENCH_READY and STREAMBENCH_GO set (two FIFOs the caller
 * holds open), produce connects, opens GO, writes a line to READY and
 * waits for GO's end of file before its first send: many producers
 * start at once, their process start-up outside the figure. With
 * STREAMBENCH_DONE (a third FIFO) too, produce waits for its end of
 * file before it closes and exits: their exits outside it too. With
 * STREAMBENCH_UNACKED=K, produce waits for all but K acks (a stuck
 * message; K >= COUNT: none, a stream with no instance to fill). With
 * STREAMBENCH_BATCH_BYTES=B, the producer's batches hold at most B bytes
 * (msb_producer_set_batch(); 0: every message alone, as a producer of
 * protocol 1 sends them).
 *
 * ready waits until TENANT's first stream has N instances that said HELLO
 * (state "ready") and no other, polling CTL; exits 1 after TIMEOUT_S.
 *
 * acked is the end of a span over many producers (each run with
 * STREAMBENCH_UNACKED=COUNT, so that they do not poll): it asks CTL for
 * the first TENANT's status every POLL_MS until its "acked" counter
 * reaches COUNT, then the next TENANT's, and prints one JSON line with
 * end_ns, the time of the request that found the last one done. One
 * poller for all tenants keeps the control socket's load the same
 * whatever the number of producers. It takes part in the start barrier
 * like produce; exits 1 after TIMEOUT_S.
 *
 * raw is the upper bound: a child process binds a PULL socket on ipc in a
 * temporary folder, the parent connects a PUSH and sends COUNT messages
 * of SIZE bytes as fast as it can; the child reads CLOCK_MONOTONIC after
 * the last one and passes it back over a pipe. One message goes first,
 * uncounted, so the connection is up before the clock starts. Prints one
 * JSON line: msgs, size, secs, rate, cpu_s (both processes).
 *
 * react is the monitor benchmark's backlog step: it notes TENANT's
 * instances, sends COUNT messages at once to INGRESS (a DEALER, replies
 * read and ignored), then polls CTL every POLL_MS until an instance that
 * was not there before has acked a message. Prints one JSON line:
 * decision_ms (step to streammgr's desired count going up: the monitor's
 * scale request has arrived), first_ack_ms (step to the new instance's
 * first ack), desired.
 *
 * reports sends COUNT valid metric reports of a stream app of TENANT's
 * STREAM to the monitor's PULL ENDPOINT as fast as the socket takes them
 * (blocking sends: the monitor's pace); prints msgs and secs.
 *
 * Exit status 0; 1 on any failure (said on stderr); 64 on a usage error.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bson/bson.h>
#include <mysimbdp.h>
#include <zmq.h>

#include "benchctl.h"
#include "benchutil.h"

#define POLL_MS		2	/* status requests while waiting for acks */
#define ACK_WAIT_S	120	/* for every ack after the last reply */
#define FLUSH_MS	60000	/* for the last replies */
#define MAX_COUNT	100000000L
#define MAX_SIZE	(1L << 20)

static __attribute__((__noreturn__)) void
usage(void)
{
	fprintf(stderr, "usage: streambench produce ENDPOINT COUNT SIZE "
	    "WINDOW CTL TENANT\n"
	    "       streambench ready CTL TENANT N TIMEOUT_S\n"
	    "       streambench acked CTL COUNT TIMEOUT_S TENANT...\n"
	    "       streambench raw COUNT SIZE\n"
	    "       streambench react CTL INGRESS TENANT COUNT TIMEOUT_S\n"
	    "       streambench reports ENDPOINT TENANT STREAM COUNT\n");
	exit(EX_USAGE);
}

/* ---- the control socket ----------------------------------------------- */

static int64_t
ctl_acked(struct benchctl *c)
{
	bson_t doc;
	int64_t acked;

	benchctl_status(c, &doc);
	acked = benchctl_min(&doc, "acked");
	bson_destroy(&doc);
	return acked;
}

/*
 * Asks CTL for the tenant's status every POLL_MS until its "acked"
 * counter has grown by want from base; returns the time of the request
 * that found it so, with the growth in *acked. Exits 1 past deadline.
 */
static int64_t
await_acked(struct benchctl *c, int64_t base, int64_t want,
    int64_t deadline, const char *tenant, int64_t *acked)
{
	int64_t now;

	for (;;) {
		now = bench_now_ns(CLOCK_MONOTONIC);
		if ((*acked = ctl_acked(c) - base) >= want)
			return now;
		if (now > deadline)
			errx(1, "tenant %s: %" PRId64 " of %" PRId64 " messages "
			    "acked by the deadline", tenant, *acked, want);
		usleep(POLL_MS * 1000);
	}
}

/* ---- ready --------------------------------------------------------------- */

static int
cmd_ready(char *argv[])
{
	struct benchctl c;
	long want = bench_number(argv[2], "N", 1, 1024);
	long timeout = bench_number(argv[3], "TIMEOUT_S", 1, 3600);
	int64_t deadline = bench_now_ns(CLOCK_MONOTONIC) + timeout *
	    1000000000LL;
	int all = 0, ready = 0;

	benchctl_open(&c, argv[0], argv[1]);
	while (bench_now_ns(CLOCK_MONOTONIC) < deadline) {
		bson_t doc;

		benchctl_status(&c, &doc);
		benchctl_instances(&doc, &all, &ready);
		bson_destroy(&doc);
		if (all == want && ready == want) {
			benchctl_close(&c);
			return 0;
		}
		usleep(20000);
	}
	benchctl_close(&c);
	errx(1, "tenant %s: %d of %ld instances ready (%d in all) after %ld s",
	    argv[1], ready, want, all, timeout);
}

/* ---- produce ------------------------------------------------------------- */

/* Messages whose latency is measured: 1 in LAT_EVERY, and the last. */
#define LAT_EVERY	16

struct run {
	uint64_t	 r_count;	/* messages to send */
	int64_t		*r_sent;	/* by seq: CLOCK_MONOTONIC ns */
	int64_t		*r_lat;		/* ns, in reply order */
	uint64_t	 r_nlat;
	uint64_t	 r_ok;
	uint64_t	 r_not_ok;
	int64_t		 r_last_reply;
	char		 r_first_reason[128];
};

static bool
sampled(const struct run *r, uint64_t seq)
{
	return seq % LAT_EVERY == 0 || seq == r->r_count;
}

static void
on_reply(uint64_t seq, enum msb_reply_status status, const char *reason,
    void *arg)
{
	struct run *r = arg;
	int64_t now;

	if (sampled(r, seq)) {
		now = bench_now_ns(CLOCK_MONOTONIC);
		r->r_lat[r->r_nlat++] = now - r->r_sent[seq];
		r->r_last_reply = now;
	}
	if (status == MSB_REPLY_OK) {
		r->r_ok++;
		return;
	}
	if (r->r_not_ok++ == 0)
		snprintf(r->r_first_reason, sizeof(r->r_first_reason), "%s%s%s",
		    status == MSB_REPLY_THROTTLE ? "THROTTLE" : "REJECT",
		    reason ? " " : "", reason ? reason : "");
}

/*
 * The start barrier (STREAMBENCH_READY, STREAMBENCH_GO): GO is opened
 * before READY is written, so the caller's close of GO, once every
 * producer has said ready, reaches each of them as end of file. DONE
 * (STREAMBENCH_DONE), opened at the same time, is the end barrier:
 * read to its end of file before exiting, so that no producer's exit
 * costs CPU inside another's span.
 */
static int done_fd = -1;

static void
read_to_eof(int fd, const char *path)
{
	ssize_t n;
	char c;

	while ((n = read(fd, &c, 1)) != 0)
		if (n < 0 && errno != EINTR)
			err(1, "%s", path);
	close(fd);
}

static void
barrier_wait(void)
{
	const char *ready = getenv("STREAMBENCH_READY");
	const char *go = getenv("STREAMBENCH_GO");
	const char *done = getenv("STREAMBENCH_DONE");
	int gfd, rfd;

	if (ready == NULL || go == NULL)
		return;
	if ((gfd = open(go, O_RDONLY)) < 0)
		err(1, "%s", go);
	if (done != NULL && (done_fd = open(done, O_RDONLY)) < 0)
		err(1, "%s", done);
	if ((rfd = open(ready, O_WRONLY)) < 0)
		err(1, "%s", ready);
	if (write(rfd, "r\n", 2) != 2)
		err(1, "%s", ready);
	close(rfd);
	read_to_eof(gfd, go);
}

static void
barrier_done(void)
{
	if (done_fd >= 0)
		read_to_eof(done_fd, getenv("STREAMBENCH_DONE"));
	done_fd = -1;
}

/*
 * The producer: over ipc, or for a tcp:// endpoint as a producer on
 * another host, with STREAMBENCH_ROUTE (TENANT/STREAM), STREAMBENCH_KEY
 * (its key pair) and STREAMBENCH_SERVER_KEY (the node's public key).
 */
static int
open_producer(struct msb_producer **p, const char *endpoint, long window,
    struct run *r, char *errbuf, size_t errlen)
{
	if (strncmp(endpoint, "tcp://", 6) != 0)
		return msb_producer_open(p, endpoint, (uint32_t)window,
		    on_reply, r, errbuf, errlen);
	return msb_producer_open_remote(p, endpoint,
	    getenv("STREAMBENCH_ROUTE"), getenv("STREAMBENCH_KEY"),
	    getenv("STREAMBENCH_SERVER_KEY"), (uint32_t)window, on_reply, r,
	    errbuf, errlen);
}

static int
cmd_produce(char *argv[])
{
	const char *endpoint = argv[0], *ctl_ep = argv[4], *tenant = argv[5];
	long count = bench_number(argv[1], "COUNT", 1, MAX_COUNT);
	long size = bench_number(argv[2], "SIZE", 1, MAX_SIZE);
	long window = bench_number(argv[3], "WINDOW", 1, 1000000), unacked;
	struct msb_producer *p;
	struct run r = { 0 };
	struct benchctl c;
	int64_t base, acked = 0, start, end, deadline;
	double cpu;
	char errbuf[512], *buf = bench_payload(size);
	uint64_t seq;
	int rc;

	r.r_count = (uint64_t)count;
	if ((r.r_sent = calloc((size_t)count + 1, sizeof(int64_t))) == NULL ||
	    (r.r_lat = calloc((size_t)count, sizeof(int64_t))) == NULL)
		err(1, "calloc");
	benchctl_open(&c, ctl_ep, tenant);
	base = ctl_acked(&c);
	/*
	 * msb_init() starts libmongoc, whose shared-memory counters leave a
	 * /dev/shm/mongoc-<pid> behind when a run ends in errx(); a
	 * producer has no use for them.
	 */
	setenv("MONGOC_DISABLE_SHM", "1", 0);
	msb_init();
	/* The library's window is the hard limit; ours keeps sends unblocked. */
	if (open_producer(&p, endpoint, window, &r, errbuf,
	    sizeof(errbuf)) != MSB_OK)
		errx(1, "%s", errbuf);
	if (getenv("STREAMBENCH_BATCH_BYTES") != NULL)
		msb_producer_set_batch(p, (size_t)bench_number(
		    getenv("STREAMBENCH_BATCH_BYTES"), "STREAMBENCH_BATCH_BYTES",
		    0, MAX_SIZE), -1);

	barrier_wait();
	start = bench_now_ns(CLOCK_MONOTONIC);
	for (long i = 0; i < count; i++) {
		while (msb_producer_outstanding(p) >= (uint32_t)window)
			if (msb_producer_poll(p, -1) < 0)
				errx(1, "poll: %s", msb_producer_error(p));
		/* seq is the producer's counter: i + 1. */
		if (sampled(&r, (uint64_t)i + 1))
			r.r_sent[i + 1] = bench_now_ns(CLOCK_MONOTONIC);
		if ((rc = msb_producer_send(p, buf, (size_t)size, &seq)) !=
		    MSB_OK)
			errx(1, "send %ld: %s", i + 1, msb_producer_error(p));
		if (seq != (uint64_t)i + 1)
			errx(1, "send %ld: got seq %" PRIu64, i + 1, seq);
	}
	if (msb_producer_flush(p, FLUSH_MS) != MSB_OK)
		errx(1, "flush: %s (%" PRIu64 " of %ld replies)",
		    msb_producer_error(p), r.r_ok + r.r_not_ok, count);

	/* Every message that got OK must be acked by an instance. */
	deadline = bench_now_ns(CLOCK_MONOTONIC) + ACK_WAIT_S * 1000000000LL;
	unacked = getenv("STREAMBENCH_UNACKED") ? bench_number(
	    getenv("STREAMBENCH_UNACKED"), "STREAMBENCH_UNACKED", 0,
	    MAX_COUNT) : 0;
	end = r.r_last_reply;
	if (unacked < (long)r.r_ok)
		end = await_acked(&c, base, (int64_t)r.r_ok - unacked,
		    deadline, tenant, &acked);
	cpu = bench_cpu_seconds(RUSAGE_SELF);
	barrier_done();
	msb_producer_close(p);
	benchctl_close(&c);

	qsort(r.r_lat, r.r_nlat, sizeof(int64_t), bench_cmp_i64);
	printf("{\"msgs\":%ld,\"size\":%ld,\"window\":%ld,\"secs\":%.6f,"
	    "\"rate\":%.0f,\"ok_secs\":%.6f,\"ok_rate\":%.0f,"
	    "\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
	    "\"not_ok\":%" PRIu64 ",\"acked\":%" PRId64 ",\"cpu_s\":%.3f,"
	    "\"start_ns\":%" PRId64 ",\"end_ns\":%" PRId64 "}\n",
	    count, size, window, (double)(end - start) / 1e9,
	    (double)count * 1e9 / (double)(end - start),
	    (double)(r.r_last_reply - start) / 1e9,
	    (double)count * 1e9 / (double)(r.r_last_reply - start),
	    bench_pct_us(r.r_lat, r.r_nlat, 50),
	    bench_pct_us(r.r_lat, r.r_nlat, 99),
	    bench_pct_us(r.r_lat, r.r_nlat, 100), r.r_not_ok, acked, cpu,
	    start, end);
	if (r.r_not_ok > 0)
		fprintf(stderr, "streambench: %" PRIu64 " replies not OK, the "
		    "first: %s\n", r.r_not_ok, r.r_first_reason);
	free(r.r_sent);
	free(r.r_lat);
	free(buf);
	msb_cleanup();
	return 0;
}

/* ---- acked --------------------------------------------------------------- */

static int
cmd_acked(int argc, char *argv[])
{
	long count = bench_number(argv[1], "COUNT", 1, MAX_COUNT);
	long timeout = bench_number(argv[2], "TIMEOUT_S", 1, 3600);
	struct benchctl c;
	int64_t deadline, end = 0, acked;

	benchctl_open(&c, argv[0], argv[3]);
	barrier_wait();
	deadline = bench_now_ns(CLOCK_MONOTONIC) + timeout * 1000000000LL;
	for (int k = 3; k < argc; k++) {
		benchctl_tenant(&c, argv[k]);
		end = await_acked(&c, 0, count, deadline, argv[k], &acked);
	}
	benchctl_close(&c);
	printf("{\"end_ns\":%" PRId64 "}\n", end);
	return 0;
}

/* ---- raw ------------------------------------------------------------------ */

static void
write_full(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		_exit(1);
}

/* The receiver: binds, reads the warm-up message, then count more. */
static __attribute__((__noreturn__)) void
raw_child(const char *endpoint, long count, int fd)
{
	void *ctx = zmq_ctx_new(), *sock;
	zmq_msg_t m;
	int64_t end;

	if (ctx == NULL || (sock = zmq_socket(ctx, ZMQ_PULL)) == NULL ||
	    zmq_bind(sock, endpoint) < 0) {
		warnx("raw: bind %s: %s", endpoint, zmq_strerror(errno));
		_exit(1);
	}
	write_full(fd, "b", 1);
	zmq_msg_init(&m);
	for (long i = 0; i <= count; i++) {
		if (zmq_msg_recv(&m, sock, 0) < 0) {
			if (errno == EINTR) {
				i--;
				continue;
			}
			warnx("raw: receive: %s", zmq_strerror(errno));
			_exit(1);
		}
		if (i == 0)
			write_full(fd, "r", 1);
	}
	end = bench_now_ns(CLOCK_MONOTONIC);
	write_full(fd, &end, sizeof(end));
	zmq_msg_close(&m);
	zmq_close(sock);
	zmq_ctx_term(ctx);
	_exit(0);
}

static int
cmd_raw(char *argv[])
{
	long count = bench_number(argv[0], "COUNT", 1, MAX_COUNT);
	long size = bench_number(argv[1], "SIZE", 1, MAX_SIZE);
	char dir[] = "/tmp/streambench.XXXXXX", endpoint[80], sockpath[64];
	char *buf = bench_payload(size), c;
	void *ctx, *sock;
	int64_t start, end;
	int pfd[2], status, linger = 0;
	double cpu;
	pid_t pid;

	if (mkdtemp(dir) == NULL)
		err(1, "mkdtemp");
	snprintf(sockpath, sizeof(sockpath), "%s/raw", dir);
	snprintf(endpoint, sizeof(endpoint), "ipc://%s", sockpath);
	if (pipe(pfd) < 0)
		err(1, "pipe");
	/* Fork before any ZeroMQ context: the child starts its own. */
	if ((pid = fork()) < 0)
		err(1, "fork");
	if (pid == 0) {
		close(pfd[0]);
		raw_child(endpoint, count, pfd[1]);
	}
	close(pfd[1]);
	bench_read_full(pfd[0], &c, 1, "raw: waiting for the bind");
	if ((ctx = zmq_ctx_new()) == NULL ||
	    (sock = zmq_socket(ctx, ZMQ_PUSH)) == NULL)
		errx(1, "zmq: %s", zmq_strerror(errno));
	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_connect(sock, endpoint) < 0)
		errx(1, "connect %s: %s", endpoint, zmq_strerror(errno));
	if (zmq_send(sock, "w", 1, 0) < 0)
		errx(1, "raw: send: %s", zmq_strerror(errno));
	bench_read_full(pfd[0], &c, 1,
	    "raw: waiting for the warm-up message");

	start = bench_now_ns(CLOCK_MONOTONIC);
	for (long i = 0; i < count; i++)
		while (zmq_send(sock, buf, (size_t)size, 0) < 0)
			if (errno != EINTR)
				errx(1, "raw: send: %s", zmq_strerror(errno));
	bench_read_full(pfd[0], &end, sizeof(end),
	    "raw: waiting for the end");
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			err(1, "waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		errx(1, "raw: the receiver failed");
	zmq_close(sock);
	zmq_ctx_term(ctx);
	unlink(sockpath);
	rmdir(dir);
	cpu = bench_cpu_seconds(RUSAGE_SELF) +
	    bench_cpu_seconds(RUSAGE_CHILDREN);
	printf("{\"msgs\":%ld,\"size\":%ld,\"secs\":%.6f,\"rate\":%.0f,"
	    "\"cpu_s\":%.3f}\n", count, size, (double)(end - start) / 1e9,
	    (double)count * 1e9 / (double)(end - start), cpu);
	free(buf);
	return 0;
}

/* ---- react --------------------------------------------------------------- */

#define IDS_MAX 64

/* The ids of the first stream's instances, acked > 0 only when asked. */
static int
status_ids(const bson_t *doc, char ids[][64], int max, bool acked_only)
{
	bson_iter_t it, arr, inst, f;
	int n = 0;

	if (!bson_iter_init(&it, doc) ||
	    !bson_iter_find_descendant(&it, "streams.0.instances", &arr) ||
	    !BSON_ITER_HOLDS_ARRAY(&arr) || !bson_iter_recurse(&arr, &inst))
		return 0;
	while (bson_iter_next(&inst) && n < max) {
		const char *id = NULL;
		int64_t acked = 0;

		if (!BSON_ITER_HOLDS_DOCUMENT(&inst) ||
		    !bson_iter_recurse(&inst, &f))
			continue;
		while (bson_iter_next(&f))
			if (strcmp(bson_iter_key(&f), "id") == 0 &&
			    BSON_ITER_HOLDS_UTF8(&f))
				id = bson_iter_utf8(&f, NULL);
			else if (strcmp(bson_iter_key(&f), "acked") == 0)
				acked = bson_iter_as_int64(&f);
		if (id != NULL && (!acked_only || acked > 0))
			snprintf(ids[n++], 64, "%s", id);
	}
	return n;
}

/* Whether some id in now is not in before. */
static bool
new_id(char now[][64], int nnow, char before[][64], int nbefore)
{
	for (int i = 0; i < nnow; i++) {
		int j;

		for (j = 0; j < nbefore && strcmp(now[i], before[j]); j++)
			;
		if (j == nbefore)
			return true;
	}
	return false;
}

/* Sends count messages to the ingress without waiting for replies. */
static void *
step(void *ctx, const char *ingress, long count)
{
	void *sock = zmq_socket(ctx, ZMQ_DEALER);
	int hwm = 0, linger = 0;

	if (sock == NULL)
		errx(1, "zmq_socket: %s", zmq_strerror(errno));
	zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_connect(sock, ingress) < 0)
		errx(1, "connect %s: %s", ingress, zmq_strerror(errno));
	for (long i = 0; i < count; i++) {
		uint64_t id = (uint64_t)i;

		if (zmq_send(sock, &id, sizeof(id), ZMQ_SNDMORE) < 0 ||
		    zmq_send(sock, "k v", 3, 0) < 0)
			errx(1, "ingress: send: %s", zmq_strerror(errno));
	}
	return sock;
}

/* Reads and forgets the replies that came. */
static void
drain_replies(void *sock)
{
	char buf[256];

	while (zmq_recv(sock, buf, sizeof(buf), ZMQ_DONTWAIT) >= 0)
		;
}

static int
cmd_react(char *argv[])
{
	long count = bench_number(argv[3], "COUNT", 1, MAX_COUNT);
	long timeout = bench_number(argv[4], "TIMEOUT_S", 1, 3600);
	char before[IDS_MAX][64], now[IDS_MAX][64];
	int64_t t0, deadline, decision = -1, ack = -1, desired0, desired = 0;
	struct benchctl c;
	bson_t doc;
	void *in;
	int nbefore;

	benchctl_open(&c, argv[0], argv[2]);
	benchctl_status(&c, &doc);
	nbefore = status_ids(&doc, before, IDS_MAX, false);
	desired0 = benchctl_number(&doc, "desired");
	bson_destroy(&doc);
	t0 = bench_now_ns(CLOCK_MONOTONIC);
	deadline = t0 + timeout * 1000000000LL;
	in = step(c.bc_ctx, argv[1], count);
	while (ack < 0 && bench_now_ns(CLOCK_MONOTONIC) < deadline) {
		drain_replies(in);
		benchctl_status(&c, &doc);
		desired = benchctl_number(&doc, "desired");
		if (decision < 0 && desired > desired0)
			decision = bench_now_ns(CLOCK_MONOTONIC) - t0;
		if (new_id(now, status_ids(&doc, now, IDS_MAX, true), before,
		    nbefore))
			ack = bench_now_ns(CLOCK_MONOTONIC) - t0;
		bson_destroy(&doc);
		usleep(POLL_MS * 1000);
	}
	zmq_close(in);
	benchctl_close(&c);
	if (ack < 0)
		errx(1, "react: no new instance acked within %ld s (desired "
		    "%" PRId64 ")", timeout, desired);
	printf("{\"decision_ms\":%.1f,\"first_ack_ms\":%.1f,\"desired\":%"
	    PRId64 "}\n", (double)decision / 1e6, (double)ack / 1e6, desired);
	return 0;
}

/* ---- reports ------------------------------------------------------------- */

static int
cmd_reports(char *argv[])
{
	long count = bench_number(argv[3], "COUNT", 1, MAX_COUNT);
	void *ctx = zmq_ctx_new(), *sock;
	char report[512];
	int64_t start;
	int n, linger = 60000;

	n = snprintf(report, sizeof(report), "{\"v\":1,\"tenant\":\"%s\","
	    "\"app\":\"stream\",\"stream\":\"%s\",\"instance\":\"%s-1\","
	    "\"window_ms\":1000,\"messages\":5000,\"rows\":5000,"
	    "\"bytes\":500000,\"ingest_us_sum\":51000,\"ingest_us_max\":90,"
	    "\"errors\":0,\"dropped\":0}", argv[1], argv[2], argv[2]);
	if (n < 0 || (size_t)n >= sizeof(report))
		errx(EX_USAGE, "tenant or stream too long");
	if (ctx == NULL || (sock = zmq_socket(ctx, ZMQ_PUSH)) == NULL)
		errx(1, "zmq: %s", zmq_strerror(errno));
	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_connect(sock, argv[0]) < 0)
		errx(1, "connect %s: %s", argv[0], zmq_strerror(errno));
	start = bench_now_ns(CLOCK_MONOTONIC);
	for (long i = 0; i < count; i++)
		while (zmq_send(sock, report, (size_t)n, 0) < 0)
			if (errno != EINTR)
				errx(1, "reports: send: %s", zmq_strerror(errno));
	zmq_close(sock);	/* lingers until every report is out */
	zmq_ctx_term(ctx);
	printf("{\"msgs\":%ld,\"secs\":%.6f}\n", count,
	    (double)(bench_now_ns(CLOCK_MONOTONIC) - start) / 1e9);
	return 0;
}

int
main(int argc, char *argv[])
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "produce") == 0 && argc == 8)
		return cmd_produce(argv + 2);
	if (strcmp(argv[1], "ready") == 0 && argc == 6)
		return cmd_ready(argv + 2);
	if (strcmp(argv[1], "acked") == 0 && argc >= 6)
		return cmd_acked(argc - 2, argv + 2);
	if (strcmp(argv[1], "raw") == 0 && argc == 4)
		return cmd_raw(argv + 2);
	if (strcmp(argv[1], "react") == 0 && argc == 7)
		return cmd_react(argv + 2);
	if (strcmp(argv[1], "reports") == 0 && argc == 6)
		return cmd_reports(argv + 2);
	usage();
}
