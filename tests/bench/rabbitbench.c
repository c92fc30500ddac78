/*
 * rabbitbench: the RabbitMQ reference of the stream benchmark
 * (scripts/bench rabbitmq, docs/benchmarks.md), on rabbitmq-c.
 *
 * usage: rabbitbench run PORT COUNT SIZE WINDOW PREFETCH [after]
 *        rabbitbench ready PORT TIMEOUT_S
 *
 * run talks to a broker on 127.0.0.1:PORT as guest. It deletes and
 * declares the durable queue QUEUE, then forks the consumer: its own
 * connection, basic.qos with a prefetch count of PREFETCH, basic.consume
 * with manual acks. The consumer acks with multiple=true, once
 * PREFETCH/4 deliveries are unacked (as streamnoop acks its credit) and
 * whenever it would otherwise wait for the socket, and the last delivery
 * at once. The parent, on a second connection, puts the channel in
 * confirm mode (confirm.select) and publishes COUNT persistent messages
 * (delivery_mode 2) of SIZE bytes to QUEUE through the default exchange,
 * keeping at most WINDOW unconfirmed; basic.ack and basic.nack are
 * tracked by delivery tag, with or without their multiple flag. A
 * message's send time is taken just before amqp_basic_publish(), when the
 * window has room, and its latency when its confirm arrives. After the
 * last delivery the consumer passes its CLOCK_MONOTONIC back over a pipe
 * and closes its channel (synchronous: the broker has then processed every
 * ack); the parent checks that the queue is empty and deletes it. Prints
 * one JSON line, with the fields of streambench produce where they mean
 * the same:
 *   msgs, size, window, prefetch, secs (first publish to the consumer's
 *   last ack), rate (msgs / secs), ok_secs and ok_rate (first publish to
 *   the last confirm), p50_us, p99_us, max_us (publish to confirm, nearest
 *   rank over all messages), not_ok (nacks), acked (deliveries the
 *   consumer acked), redelivered, cpu_s (publisher and consumer).
 *
 * With "after", a diagnostic, the consumer starts only once every message
 * is confirmed: with nobody consuming, a persistent message is confirmed
 * only once it is on disk (fsync), whereas a message consumed and acked
 * before that is confirmed without being written.
 *
 * ready connects and logs in every 100 ms until that works; exits 1
 * after TIMEOUT_S.
 *
 * Every wait is bounded (IO_WAIT_S without progress). Exit status 0; 1 on
 * any failure (said on stderr); 64 on a usage error.
 */
#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include "benchutil.h"

#define HOST		"127.0.0.1"
#define QUEUE		"mysimbdp-bench"
#define CHANNEL		1
#define IO_WAIT_S	60	/* for any frame, confirm or delivery */
#define DRAIN_EVERY	32	/* publishes between looks for confirms */
#define FRAME_MAX	131072
#define MAX_COUNT	100000000L
#define MAX_SIZE	(1L << 20)

static __attribute__((__noreturn__)) void
usage(void)
{
	fprintf(stderr, "usage: rabbitbench run PORT COUNT SIZE WINDOW "
	    "PREFETCH [after]\n"
	    "       rabbitbench ready PORT TIMEOUT_S\n");
	exit(EX_USAGE);
}

/* ---- connections ------------------------------------------------------- */

/* What went wrong in an RPC reply, or NULL when it went right. */
static const char *
rpc_error(amqp_rpc_reply_t r, char *buf, size_t len)
{
	const amqp_connection_close_t *cc;
	const amqp_channel_close_t *ch;

	switch (r.reply_type) {
	case AMQP_RESPONSE_NORMAL:
		return NULL;
	case AMQP_RESPONSE_NONE:
		return "no reply";
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		return amqp_error_string2(r.library_error);
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
			cc = r.reply.decoded;
			snprintf(buf, len, "connection closed: %u %.*s",
			    cc->reply_code, (int)cc->reply_text.len,
			    (const char *)cc->reply_text.bytes);
		} else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
			ch = r.reply.decoded;
			snprintf(buf, len, "channel closed: %u %.*s",
			    ch->reply_code, (int)ch->reply_text.len,
			    (const char *)ch->reply_text.bytes);
		} else
			snprintf(buf, len, "server method %08x", r.reply.id);
		return buf;
	}
	return "unknown reply type";
}

/* Exits when the last RPC on conn failed. */
static void
rpc_check(amqp_connection_state_t conn, const char *what)
{
	char buf[256];
	const char *e = rpc_error(amqp_get_rpc_reply(conn), buf, sizeof(buf));

	if (e != NULL)
		errx(1, "%s: %s", what, e);
}

/*
 * Connects to HOST:port and logs in as guest, waiting at most timeout_s
 * for each step. Returns the connection, or NULL with the reason in
 * errbuf.
 */
static amqp_connection_state_t
rb_connect(int port, long timeout_s, char *errbuf, size_t len)
{
	struct timeval tv = { .tv_sec = timeout_s };
	amqp_connection_state_t conn;
	amqp_socket_t *sock;
	amqp_rpc_reply_t r;
	const char *e;
	int rc;

	if ((conn = amqp_new_connection()) == NULL)
		errx(1, "amqp_new_connection failed");
	if ((sock = amqp_tcp_socket_new(conn)) == NULL)
		errx(1, "amqp_tcp_socket_new failed");
	amqp_set_handshake_timeout(conn, &tv);
	amqp_set_rpc_timeout(conn, &tv);
	if ((rc = amqp_socket_open_noblock(sock, HOST, port, &tv)) !=
	    AMQP_STATUS_OK) {
		snprintf(errbuf, len, "connect %s:%d: %s", HOST, port,
		    amqp_error_string2(rc));
		amqp_destroy_connection(conn);
		return NULL;
	}
	r = amqp_login(conn, "/", 0, FRAME_MAX, 0, AMQP_SASL_METHOD_PLAIN,
	    "guest", "guest");
	if ((e = rpc_error(r, errbuf, len)) != NULL) {
		if (e != errbuf)
			snprintf(errbuf, len, "login: %s", e);
		amqp_destroy_connection(conn);
		return NULL;
	}
	return conn;
}

/* Connects, or exits; then opens CHANNEL. */
static amqp_connection_state_t
rb_open(int port)
{
	amqp_connection_state_t conn;
	char errbuf[256];

	if ((conn = rb_connect(port, IO_WAIT_S, errbuf, sizeof(errbuf))) ==
	    NULL)
		errx(1, "%s", errbuf);
	amqp_channel_open(conn, CHANNEL);
	rpc_check(conn, "channel.open");
	return conn;
}

static void
rb_close(amqp_connection_state_t conn)
{
	amqp_channel_close(conn, CHANNEL, AMQP_REPLY_SUCCESS);
	rpc_check(conn, "channel.close");
	amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
	rpc_check(conn, "connection.close");
	amqp_destroy_connection(conn);
}

/* Exits on a channel.close or connection.close frame from the broker. */
static void
check_close(const amqp_frame_t *f, const char *who)
{
	const amqp_channel_close_t *ch;
	const amqp_connection_close_t *cc;

	if (f->frame_type != AMQP_FRAME_METHOD)
		return;
	if (f->payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
		ch = f->payload.method.decoded;
		errx(1, "%s: the broker closed the channel: %u %.*s", who,
		    ch->reply_code, (int)ch->reply_text.len,
		    (const char *)ch->reply_text.bytes);
	}
	if (f->payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
		cc = f->payload.method.decoded;
		errx(1, "%s: the broker closed the connection: %u %.*s", who,
		    cc->reply_code, (int)cc->reply_text.len,
		    (const char *)cc->reply_text.bytes);
	}
}

/* ---- ready ------------------------------------------------------------- */

static int
cmd_ready(char *argv[])
{
	int port = (int)bench_number(argv[0], "PORT", 1, 65535);
	long timeout = bench_number(argv[1], "TIMEOUT_S", 1, 3600);
	int64_t deadline = bench_now_ns(CLOCK_MONOTONIC) + timeout *
	    1000000000LL;
	amqp_connection_state_t conn;
	char errbuf[256] = "";

	while (bench_now_ns(CLOCK_MONOTONIC) < deadline) {
		if ((conn = rb_connect(port, 2, errbuf, sizeof(errbuf))) !=
		    NULL) {
			amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
			amqp_destroy_connection(conn);
			return 0;
		}
		usleep(100000);
	}
	errx(1, "no AMQP login on %s:%d after %ld s (last: %s)", HOST, port,
	    timeout, errbuf);
}

/* ---- the consumer (a child process) ------------------------------------ */

struct consumed {
	int64_t		c_end;		/* CLOCK_MONOTONIC ns of the last ack */
	int64_t		c_acked;
	int64_t		c_redelivered;
};

static void
write_full(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		err(1, "consumer: write to the parent");
}

static void
consumer_ack(amqp_connection_state_t conn, uint64_t tag)
{
	int rc;

	if ((rc = amqp_basic_ack(conn, CHANNEL, tag, 1)) != AMQP_STATUS_OK)
		errx(1, "consumer: basic.ack: %s", amqp_error_string2(rc));
}

/*
 * Consumes count deliveries of size bytes from QUEUE and acks them: waits
 * for a byte on gofd, then says 'r' on fd once basic.consume is through,
 * and a struct consumed after the last ack.
 */
static __attribute__((__noreturn__)) void
consumer(int port, long count, long size, long prefetch, int gofd, int fd)
{
	amqp_connection_state_t conn = rb_open(port);
	long batch = prefetch / 4 > 0 ? prefetch / 4 : 1;
	struct consumed c = { 0 };
	uint64_t last = 0;
	long unacked = 0;
	amqp_envelope_t env;
	amqp_rpc_reply_t r;
	amqp_frame_t f;
	char buf[256];

	amqp_basic_qos(conn, CHANNEL, 0, (uint16_t)prefetch, 0);
	rpc_check(conn, "consumer: basic.qos");
	if (read(gofd, buf, 1) != 1)
		errx(1, "consumer: the parent did not say go");
	amqp_basic_consume(conn, CHANNEL, amqp_cstring_bytes(QUEUE),
	    amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
	rpc_check(conn, "consumer: basic.consume");
	write_full(fd, "r", 1);

	while (c.c_acked < count) {
		struct timeval tv = { .tv_sec = IO_WAIT_S };

		/* Ack what we have before waiting for the socket. */
		if (unacked > 0 && !amqp_frames_enqueued(conn) &&
		    !amqp_data_in_buffer(conn)) {
			consumer_ack(conn, last);
			c.c_acked += unacked;
			unacked = 0;
		}
		amqp_maybe_release_buffers(conn);
		r = amqp_consume_message(conn, &env, &tv, 0);
		if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
		    r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
			/* Some other frame: fatal if it closes us. */
			if (amqp_simple_wait_frame_noblock(conn, &f, &tv) ==
			    AMQP_STATUS_OK)
				check_close(&f, "consumer");
			continue;
		}
		if (rpc_error(r, buf, sizeof(buf)) != NULL)
			errx(1, "consumer: %ld of %ld delivered: %s",
			    c.c_acked + unacked, count,
			    rpc_error(r, buf, sizeof(buf)));
		if (env.message.body.len != (size_t)size)
			errx(1, "consumer: a message of %zu bytes, not %ld",
			    env.message.body.len, size);
		c.c_redelivered += env.redelivered != 0;
		last = env.delivery_tag;
		amqp_destroy_envelope(&env);
		if (++unacked >= batch || c.c_acked + unacked == count) {
			consumer_ack(conn, last);
			c.c_acked += unacked;
			unacked = 0;
		}
	}
	c.c_end = bench_now_ns(CLOCK_MONOTONIC);
	write_full(fd, &c, sizeof(c));
	/* channel.close-ok comes after the broker has handled every ack. */
	rb_close(conn);
	exit(0);
}

/* ---- the publisher ----------------------------------------------------- */

struct pub {
	int64_t		*p_sent;	/* by delivery tag: CLOCK_MONOTONIC ns */
	uint8_t		*p_done;	/* by delivery tag: confirmed */
	int64_t		*p_lat;		/* ns, in confirm order */
	uint64_t	 p_nlat;
	uint64_t	 p_published;
	uint64_t	 p_cursor;	/* lowest tag perhaps unconfirmed */
	uint64_t	 p_nacks;
	int64_t		 p_last_confirm;
};

static void
confirm_one(struct pub *p, uint64_t tag, bool nack, int64_t now)
{
	if (p->p_done[tag])
		return;
	p->p_done[tag] = 1;
	p->p_lat[p->p_nlat++] = now - p->p_sent[tag];
	p->p_nacks += nack;
	p->p_last_confirm = now;
}

/* A basic.ack or basic.nack: tag alone, or every tag up to it. */
static void
confirm(struct pub *p, uint64_t tag, bool multiple, bool nack)
{
	int64_t now = bench_now_ns(CLOCK_MONOTONIC);

	if (tag > p->p_published || (tag == 0 && !multiple))
		errx(1, "publisher: confirm of tag %" PRIu64 ", %" PRIu64
		    " published", tag, p->p_published);
	if (multiple)
		for (uint64_t t = p->p_cursor; t <= tag; t++)
			confirm_one(p, t, nack, now);
	else
		confirm_one(p, tag, nack, now);
	while (p->p_cursor <= p->p_published && p->p_done[p->p_cursor])
		p->p_cursor++;
}

/*
 * Handles the frames the broker sent: waits up to IO_WAIT_S for the first
 * when block, else only takes what has arrived. Exits on a close or a
 * timeout.
 */
static void
drain(amqp_connection_state_t conn, struct pub *p, bool block)
{
	const amqp_basic_ack_t *ack;
	const amqp_basic_nack_t *nack;
	struct timeval tv;
	amqp_frame_t f;
	int rc;

	for (;;) {
		tv.tv_sec = block ? IO_WAIT_S : 0;
		tv.tv_usec = 0;
		rc = amqp_simple_wait_frame_noblock(conn, &f, &tv);
		if (rc == AMQP_STATUS_TIMEOUT && !block)
			break;
		if (rc != AMQP_STATUS_OK)
			errx(1, "publisher: %" PRIu64 " of %" PRIu64
			    " confirmed: %s", p->p_nlat, p->p_published,
			    amqp_error_string2(rc));
		block = false;
		check_close(&f, "publisher");
		if (f.frame_type != AMQP_FRAME_METHOD)
			continue;
		if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
			ack = f.payload.method.decoded;
			confirm(p, ack->delivery_tag, ack->multiple, false);
		} else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
			nack = f.payload.method.decoded;
			confirm(p, nack->delivery_tag, nack->multiple, true);
		}
	}
	amqp_maybe_release_buffers(conn);
}

/* Lets the consumer start and waits until it consumes. */
static void
consumer_go(int gofd, int fd)
{
	char ready;

	if (write(gofd, "g", 1) != 1)
		err(1, "write to the consumer");
	bench_read_full(fd, &ready, 1, "waiting for basic.consume");
}

/* Deletes QUEUE (a left-over of a failed run too) and declares it anew. */
static void
queue_fresh(int port)
{
	amqp_connection_state_t conn = rb_open(port);

	amqp_queue_delete(conn, CHANNEL, amqp_cstring_bytes(QUEUE), 0, 0);
	rpc_check(conn, "queue.delete");
	/* durable, not exclusive, not auto-delete */
	amqp_queue_declare(conn, CHANNEL, amqp_cstring_bytes(QUEUE), 0, 1, 0,
	    0, amqp_empty_table);
	rpc_check(conn, "queue.declare");
	rb_close(conn);
}

static int
cmd_run(char *argv[], bool after)
{
	int port = (int)bench_number(argv[0], "PORT", 1, 65535);
	long count = bench_number(argv[1], "COUNT", 1, MAX_COUNT);
	long size = bench_number(argv[2], "SIZE", 1, MAX_SIZE);
	long window = bench_number(argv[3], "WINDOW", 1, 1000000);
	long prefetch = bench_number(argv[4], "PREFETCH", 1, 65535);
	amqp_basic_properties_t props = {
		._flags = AMQP_BASIC_DELIVERY_MODE_FLAG,
		.delivery_mode = AMQP_DELIVERY_PERSISTENT,
	};
	amqp_bytes_t body = { .len = (size_t)size };
	amqp_connection_state_t conn;
	amqp_queue_declare_ok_t *q;
	struct pub p = { .p_cursor = 1 };
	struct consumed c;
	int64_t start;
	int pfd[2], gofd[2], status, rc;
	double cpu;
	pid_t pid, parent;

	queue_fresh(port);

	if (pipe(pfd) < 0 || pipe(gofd) < 0)
		err(1, "pipe");
	parent = getpid();
	if ((pid = fork()) < 0)
		err(1, "fork");
	if (pid == 0) {
		/* Not left consuming when the parent is killed (timeout). */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		close(pfd[0]);
		close(gofd[1]);
		consumer(port, count, size, prefetch, gofd[0], pfd[1]);
	}
	close(pfd[1]);
	close(gofd[0]);
	/* After the fork: the consumer needs none of it. */
	if ((p.p_sent = calloc((size_t)count + 1, sizeof(int64_t))) == NULL ||
	    (p.p_done = calloc((size_t)count + 1, 1)) == NULL ||
	    (p.p_lat = calloc((size_t)count, sizeof(int64_t))) == NULL)
		err(1, "calloc");
	body.bytes = bench_payload(size);
	if (!after)
		consumer_go(gofd[1], pfd[0]);

	conn = rb_open(port);
	amqp_confirm_select(conn, CHANNEL);
	rpc_check(conn, "confirm.select");

	start = bench_now_ns(CLOCK_MONOTONIC);
	for (uint64_t tag = 1; tag <= (uint64_t)count; tag++) {
		while (tag - p.p_cursor >= (uint64_t)window)
			drain(conn, &p, true);
		p.p_sent[tag] = bench_now_ns(CLOCK_MONOTONIC);
		if ((rc = amqp_basic_publish(conn, CHANNEL, amqp_empty_bytes,
		    amqp_cstring_bytes(QUEUE), 0, 0, &props, body)) !=
		    AMQP_STATUS_OK)
			errx(1, "publish %" PRIu64 ": %s", tag,
			    amqp_error_string2(rc));
		p.p_published = tag;
		if (tag % DRAIN_EVERY == 0)
			drain(conn, &p, false);
	}
	while (p.p_cursor <= p.p_published)
		drain(conn, &p, true);
	if (after)
		consumer_go(gofd[1], pfd[0]);

	bench_read_full(pfd[0], &c, sizeof(c),
	    "waiting for the last ack");
	close(pfd[0]);
	close(gofd[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			err(1, "waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		errx(1, "the consumer failed");
	cpu = bench_cpu_seconds(RUSAGE_SELF) +
	    bench_cpu_seconds(RUSAGE_CHILDREN);

	/* Passive: the queue must be there and empty, nothing requeued. */
	q = amqp_queue_declare(conn, CHANNEL, amqp_cstring_bytes(QUEUE), 1, 0,
	    0, 0, amqp_empty_table);
	rpc_check(conn, "queue.declare passive");
	if (q->message_count != 0)
		errx(1, "%" PRIu32 " messages left in the queue after the run",
		    q->message_count);
	amqp_queue_delete(conn, CHANNEL, amqp_cstring_bytes(QUEUE), 0, 0);
	rpc_check(conn, "queue.delete");
	rb_close(conn);

	qsort(p.p_lat, p.p_nlat, sizeof(int64_t), bench_cmp_i64);
	printf("{\"msgs\":%ld,\"size\":%ld,\"window\":%ld,\"prefetch\":%ld,"
	    "\"secs\":%.6f,\"rate\":%.0f,\"ok_secs\":%.6f,\"ok_rate\":%.0f,"
	    "\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
	    "\"not_ok\":%" PRIu64 ",\"acked\":%" PRId64 ",\"redelivered\":%"
	    PRId64 ",\"cpu_s\":%.3f}\n",
	    count, size, window, prefetch, (double)(c.c_end - start) / 1e9,
	    (double)count * 1e9 / (double)(c.c_end - start),
	    (double)(p.p_last_confirm - start) / 1e9,
	    (double)count * 1e9 / (double)(p.p_last_confirm - start),
	    bench_pct_us(p.p_lat, p.p_nlat, 50),
	    bench_pct_us(p.p_lat, p.p_nlat, 99),
	    bench_pct_us(p.p_lat, p.p_nlat, 100), p.p_nacks, c.c_acked,
	    c.c_redelivered, cpu);
	if (p.p_nacks > 0)
		fprintf(stderr, "rabbitbench: %" PRIu64 " publishes nacked\n",
		    p.p_nacks);
	free(p.p_sent);
	free(p.p_done);
	free(p.p_lat);
	free(body.bytes);
	return 0;
}

int
main(int argc, char *argv[])
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "run") == 0 && argc == 7)
		return cmd_run(argv + 2, false);
	if (strcmp(argv[1], "run") == 0 && argc == 8 &&
	    strcmp(argv[7], "after") == 0)
		return cmd_run(argv + 2, true);
	if (strcmp(argv[1], "ready") == 0 && argc == 4)
		return cmd_ready(argv + 2);
	usage();
}
