/*
 * mqttbench: the Mosquitto reference of the stream benchmark
 * (scripts/bench mosquitto, docs/benchmarks.md), on libmosquitto.
 *
 * usage: mqttbench run PORT COUNT SIZE WINDOW
 *        mqttbench ready PORT TIMEOUT_S
 *
 * run talks MQTT 3.1.1 to a broker on 127.0.0.1:PORT with two clients in
 * this process, each with its own network thread (mosquitto_loop_start)
 * and TCP_NODELAY. The subscriber connects with a clean session and
 * subscribes to TOPIC at QoS 1; libmosquitto sends the PUBACK of each
 * message it receives. Once the subscription is granted, the publisher
 * publishes COUNT messages of SIZE bytes at QoS 1, keeping at most WINDOW
 * without their PUBACK (the broker has the message). A message's send time
 * is taken just before mosquitto_publish(), when the window has room, and
 * its latency when its PUBACK arrives. Prints one JSON line, with the
 * fields of streambench produce where they mean the same:
 *   msgs, size, window, secs (first publish to the last message received
 *   by the subscriber), rate (msgs / secs), ok_secs and ok_rate (first
 *   publish to the last PUBACK), p50_us, p99_us, max_us (publish to
 *   PUBACK, nearest rank over all messages), received, cpu_s (both
 *   clients).
 *
 * ready connects every 100 ms until the broker accepts a connection;
 * exits 1 after TIMEOUT_S.
 *
 * Every wait is bounded (IO_WAIT_S without progress). Exit status 0; 1 on
 * any failure (said on stderr); 64 on a usage error.
 */
#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "benchutil.h"

#define HOST		"127.0.0.1"
#define TOPIC		"mysimbdp-bench"
#define KEEPALIVE_S	60
#define IO_WAIT_S	60	/* for any progress: a PUBACK, a message */
#define MID_MAX		65535	/* message ids wrap after it */
#define MAX_COUNT	100000000L
#define MAX_SIZE	(1L << 20)

static __attribute__((__noreturn__)) void
usage(void)
{
	fprintf(stderr, "usage: mqttbench run PORT COUNT SIZE WINDOW\n"
	    "       mqttbench ready PORT TIMEOUT_S\n");
	exit(EX_USAGE);
}

/* What both clients' threads share; every field under b_mu. */
struct bench {
	pthread_mutex_t	 b_mu;
	pthread_cond_t	 b_cv;
	int		 b_connected;	/* CONNACKs accepted */
	int		 b_refused;	/* a CONNACK refusal code, or 0 */
	bool		 b_subscribed;
	int		 b_granted;	/* QoS granted */
	int64_t		 b_sent[MID_MAX + 1];	/* by mid: CLOCK_MONOTONIC ns */
	int64_t		*b_lat;		/* ns, in PUBACK order */
	uint64_t	 b_acked;	/* PUBACKs */
	uint64_t	 b_received;	/* messages the subscriber got */
	uint64_t	 b_bad_size;
	long		 b_size;
	long		 b_count;
	long		 b_window;
	uint64_t	 b_published;	/* by the main thread */
	int64_t		 b_last_ack;
	int64_t		 b_last_msg;
};

static void
on_connect(struct mosquitto *m, void *obj, int rc)
{
	struct bench *b = obj;

	(void)m;
	pthread_mutex_lock(&b->b_mu);
	if (rc == 0)
		b->b_connected++;
	else
		b->b_refused = rc;
	pthread_cond_broadcast(&b->b_cv);
	pthread_mutex_unlock(&b->b_mu);
}

static void
on_subscribe(struct mosquitto *m, void *obj, int mid, int n,
    const int *granted)
{
	struct bench *b = obj;

	(void)m;
	(void)mid;
	pthread_mutex_lock(&b->b_mu);
	b->b_subscribed = true;
	b->b_granted = n > 0 ? granted[0] : -1;
	pthread_cond_broadcast(&b->b_cv);
	pthread_mutex_unlock(&b->b_mu);
}

/* The PUBACK of a QoS 1 message. */
static void
on_publish(struct mosquitto *m, void *obj, int mid)
{
	struct bench *b = obj;
	int64_t now = bench_now_ns(CLOCK_MONOTONIC);

	(void)m;
	pthread_mutex_lock(&b->b_mu);
	b->b_lat[b->b_acked++] = now - b->b_sent[mid];
	b->b_last_ack = now;
	pthread_cond_broadcast(&b->b_cv);
	pthread_mutex_unlock(&b->b_mu);
}

static void
on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	struct bench *b = obj;
	int64_t now = bench_now_ns(CLOCK_MONOTONIC);

	(void)m;
	pthread_mutex_lock(&b->b_mu);
	b->b_received++;
	b->b_bad_size += msg->payloadlen != b->b_size;
	b->b_last_msg = now;
	pthread_cond_broadcast(&b->b_cv);
	pthread_mutex_unlock(&b->b_mu);
}

/*
 * Waits on b's condition (b_mu held) until done(b) or IO_WAIT_S pass
 * without a signal; exits then, saying what it waited for.
 */
static void
await(struct bench *b, bool (*done)(const struct bench *), const char *what)
{
	struct timespec ts;

	while (!done(b)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += IO_WAIT_S;
		if (pthread_cond_timedwait(&b->b_cv, &b->b_mu, &ts) ==
		    ETIMEDOUT && !done(b))
			errx(1, "%s: nothing for %d s (%" PRIu64 " PUBACKs, %"
			    PRIu64 " received)", what, IO_WAIT_S, b->b_acked,
			    b->b_received);
	}
}

/* A client of b, connected (asynchronously) and running its thread. */
static struct mosquitto *
client(struct bench *b, const char *role, int port, long window)
{
	struct mosquitto *m;
	char id[64];
	int rc;

	snprintf(id, sizeof(id), "mqttbench-%s-%d", role, (int)getpid());
	if ((m = mosquitto_new(id, true, b)) == NULL)
		err(1, "mosquitto_new");
	mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
	/* No queueing inside the library beyond our own window. */
	if (window > 0)
		mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, (int)window);
	mosquitto_connect_callback_set(m, on_connect);
	mosquitto_subscribe_callback_set(m, on_subscribe);
	mosquitto_publish_callback_set(m, on_publish);
	mosquitto_message_callback_set(m, on_message);
	if ((rc = mosquitto_connect(m, HOST, port, KEEPALIVE_S)) !=
	    MOSQ_ERR_SUCCESS)
		errx(1, "%s: connect %s:%d: %s", role, HOST, port,
		    mosquitto_strerror(rc));
	if ((rc = mosquitto_loop_start(m)) != MOSQ_ERR_SUCCESS)
		errx(1, "%s: loop_start: %s", role, mosquitto_strerror(rc));
	return m;
}

static void
client_close(struct mosquitto *m)
{
	mosquitto_disconnect(m);
	mosquitto_loop_stop(m, false);
	mosquitto_destroy(m);
}

static bool
both_connected(const struct bench *b)
{
	return b->b_connected == 2 || b->b_refused != 0;
}

static bool
subscribed(const struct bench *b)
{
	return b->b_subscribed;
}

static bool
window_has_room(const struct bench *b)
{
	return b->b_published - b->b_acked < (uint64_t)b->b_window;
}

static bool
all_through(const struct bench *b)
{
	return b->b_acked == (uint64_t)b->b_count &&
	    b->b_received >= (uint64_t)b->b_count;
}

/* ---- ready --------------------------------------------------------------- */

static int
cmd_ready(char *argv[])
{
	int port = (int)bench_number(argv[0], "PORT", 1, 65535);
	long timeout = bench_number(argv[1], "TIMEOUT_S", 1, 3600);
	int64_t deadline = bench_now_ns(CLOCK_MONOTONIC) + timeout *
	    1000000000LL;
	struct mosquitto *m;
	int rc = MOSQ_ERR_UNKNOWN;

	if ((m = mosquitto_new(NULL, true, NULL)) == NULL)
		err(1, "mosquitto_new");
	while (bench_now_ns(CLOCK_MONOTONIC) < deadline) {
		/* Synchronous: the CONNACK is awaited by the first loop. */
		if ((rc = mosquitto_connect(m, HOST, port, KEEPALIVE_S)) ==
		    MOSQ_ERR_SUCCESS &&
		    (rc = mosquitto_loop(m, 2000, 1)) == MOSQ_ERR_SUCCESS) {
			mosquitto_disconnect(m);
			mosquitto_destroy(m);
			return 0;
		}
		usleep(100000);
	}
	errx(1, "no MQTT connection to %s:%d after %ld s (last: %s)", HOST,
	    port, timeout, mosquitto_strerror(rc));
}

/* ---- run ------------------------------------------------------------------ */

static int
cmd_run(char *argv[])
{
	int port = (int)bench_number(argv[0], "PORT", 1, 65535);
	long count = bench_number(argv[1], "COUNT", 1, MAX_COUNT);
	long size = bench_number(argv[2], "SIZE", 1, MAX_SIZE);
	long window = bench_number(argv[3], "WINDOW", 1, MID_MAX - 1);
	struct mosquitto *pub, *sub;
	struct bench *b = calloc(1, sizeof(*b));
	char *payload = bench_payload(size);
	int64_t start;
	int mid, rc;

	if (b == NULL || (b->b_lat = calloc((size_t)count,
	    sizeof(int64_t))) == NULL)
		err(1, "calloc");
	pthread_mutex_init(&b->b_mu, NULL);
	pthread_cond_init(&b->b_cv, NULL);
	b->b_size = size;
	b->b_count = count;
	b->b_window = window;
	mosquitto_lib_init();
	sub = client(b, "sub", port, 0);
	pub = client(b, "pub", port, window);
	pthread_mutex_lock(&b->b_mu);
	await(b, both_connected, "connecting");
	if (b->b_refused != 0)
		errx(1, "connect: refused: %s",
		    mosquitto_connack_string(b->b_refused));
	pthread_mutex_unlock(&b->b_mu);
	if ((rc = mosquitto_subscribe(sub, NULL, TOPIC, 1)) !=
	    MOSQ_ERR_SUCCESS)
		errx(1, "subscribe: %s", mosquitto_strerror(rc));
	pthread_mutex_lock(&b->b_mu);
	await(b, subscribed, "subscribing");
	if (b->b_granted != 1)
		errx(1, "subscribe: QoS %d granted, not 1", b->b_granted);

	start = bench_now_ns(CLOCK_MONOTONIC);
	for (long i = 0; i < count; i++) {
		/*
		 * libmosquitto numbers a client's messages 1, 2, ... 65535,
		 * 1, ...: the time is filed under the coming id before the
		 * publish, so the PUBACK always finds it.
		 */
		int next = (int)(i % MID_MAX) + 1;

		await(b, window_has_room, "waiting for room in the window");
		b->b_sent[next] = bench_now_ns(CLOCK_MONOTONIC);
		b->b_published++;
		pthread_mutex_unlock(&b->b_mu);
		if ((rc = mosquitto_publish(pub, &mid, TOPIC, (int)size,
		    payload, 1, false)) != MOSQ_ERR_SUCCESS)
			errx(1, "publish %ld: %s", i + 1, mosquitto_strerror(rc));
		if (mid != next)
			errx(1, "publish %ld: message id %d, not %d", i + 1, mid,
			    next);
		pthread_mutex_lock(&b->b_mu);
	}
	await(b, all_through, "waiting for the last PUBACK and message");
	pthread_mutex_unlock(&b->b_mu);
	client_close(pub);
	client_close(sub);
	mosquitto_lib_cleanup();
	if (b->b_bad_size > 0)
		errx(1, "%" PRIu64 " messages of a size other than %ld",
		    b->b_bad_size, size);

	qsort(b->b_lat, b->b_acked, sizeof(int64_t), bench_cmp_i64);
	printf("{\"msgs\":%ld,\"size\":%ld,\"window\":%ld,\"secs\":%.6f,"
	    "\"rate\":%.0f,\"ok_secs\":%.6f,\"ok_rate\":%.0f,"
	    "\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
	    "\"received\":%" PRIu64 ",\"cpu_s\":%.3f}\n",
	    count, size, window, (double)(b->b_last_msg - start) / 1e9,
	    (double)count * 1e9 / (double)(b->b_last_msg - start),
	    (double)(b->b_last_ack - start) / 1e9,
	    (double)count * 1e9 / (double)(b->b_last_ack - start),
	    bench_pct_us(b->b_lat, b->b_acked, 50),
	    bench_pct_us(b->b_lat, b->b_acked, 99),
	    bench_pct_us(b->b_lat, b->b_acked, 100), b->b_received,
	    bench_cpu_seconds(RUSAGE_SELF));
	free(b->b_lat);
	free(b);
	free(payload);
	return 0;
}

int
main(int argc, char *argv[])
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "run") == 0 && argc == 6)
		return cmd_run(argv + 2);
	if (strcmp(argv[1], "ready") == 0 && argc == 4) {
		mosquitto_lib_init();
		return cmd_ready(argv + 2);
	}
	usage();
}
