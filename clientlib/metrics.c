/*
 * Metric reports to the monitor, over a ZeroMQ PUSH socket.
 *
 * Reporting must never slow or stop ingestion, so nothing here waits:
 *  - ZMQ_IMMEDIATE queues reports only to a monitor that is connected, so
 *    with no monitor a send fails at once instead of filling a queue;
 *  - ZMQ_SNDHWM is small and every send is ZMQ_DONTWAIT: a monitor that
 *    falls behind costs dropped reports, not a blocked app;
 *  - ZMQ_LINGER is 0, so closing never waits for reports nobody reads.
 * A dropped report is counted, and its figures are kept for the next one,
 * so the monitor still sees every row once it is back. That next one is
 * tried an interval later, not at the next add: with the monitor away or
 * behind, a report built and sent at every add cost the app microseconds
 * a row, and counted calls, not reports, as dropped. An explicit flush,
 * and close, still try at once.
 *
 * One wait is allowed: ZMQ_IMMEDIATE also drops what is sent while the
 * connection to a monitor that is there is still being made (a few ms
 * after connect), which lost a batch app's only report. A socket monitor
 * tells "being made" from "no monitor": a send that finds no connection
 * while one is being made waits for the handshake, at most
 * CONNECT_WAIT_MS over the handle's life; with no monitor listening the
 * connect fails at once and nothing waits.
 *
 * A handle may be shared between threads, and the library itself shares
 * one: the sinks of every thread count their quality refusals into the
 * process's handle. A mutex in the handle covers its counters, the
 * rules' slots and the socket; a sink's refusal waits at most for a
 * report being built and sent (and the one connect wait above).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "mysimbdp-internal.h"

#define SNDHWM 16
#define DEFAULT_INTERVAL_MS 1000
#define CLOSE_LINGER_MS 1000
#define MAX_INSTANCE 80	/* the monitor's REPORT_INSTANCE_MAX */
#define CONNECT_WAIT_MS 1000
#define MAX_RULES 16	/* the monitor's REPORT_RULES_MAX */
#define RULE_NAME_MAX 32

/* What the socket monitor said of the connection to the monitor. */
enum link {
	LINK_PENDING,	/* connecting: no answer yet */
	LINK_UP,	/* handshake done: sends are queued to it */
	LINK_DOWN,	/* refused, lost or closed: sends are dropped */
};

struct msb_metrics {
	pthread_mutex_t	 m_lock;	/* every member below but m_sent and
					   m_dropped, read by counts (__atomic) */
	void		*m_ctx;
	void		*m_sock;	/* NULL: counting only */
	void		*m_events;	/* PAIR: m_sock's socket monitor */
	enum link	 m_link;
	int64_t		 m_wait_left;	/* ms of CONNECT_WAIT_MS left */
	char		*m_app;
	char		*m_instance;	/* in the monitor's charset */
	char		*m_tenant;	/* NULL: not sent */
	char		*m_stream;	/* NULL: not sent (batch apps) */
	uint32_t	 m_interval;
	int64_t		 m_window_start;	/* monotonic ms: figures since */
	int64_t		 m_tried;	/* monotonic ms: last report tried */

	uint64_t	 m_messages;
	uint64_t	 m_rows;
	uint64_t	 m_bytes;
	uint64_t	 m_errors;
	uint64_t	 m_ingest_sum;
	uint64_t	 m_ingest_max;
	struct {
		char	 name[RULE_NAME_MAX + 1];
		uint64_t n;
	}		 m_rules[MAX_RULES];	/* refused per quality rule */
	size_t		 m_nrules;

	uint64_t	 m_sent;
	uint64_t	 m_dropped;
	uint64_t	 m_unsent;	/* dropped since the last one sent */
};

/*
 * The handle that reports for this process (the last opened with an
 * endpoint): the sink's quality rules count their refusals into it
 * (msb__metrics_quality), so every app's reports carry them without a
 * call of its own. Sinks on any thread use it: reporting_lock keeps it
 * from being closed while one counts (taken before a handle's m_lock).
 */
static pthread_mutex_t reporting_lock = PTHREAD_MUTEX_INITIALIZER;
static struct msb_metrics *reporting;

void
msb__metrics_quality(const char *rule)
{
	struct msb_metrics *m;
	size_t k;

	pthread_mutex_lock(&reporting_lock);
	if ((m = reporting) == NULL) {
		pthread_mutex_unlock(&reporting_lock);
		return;
	}
	pthread_mutex_lock(&m->m_lock);
	for (k = 0; k < m->m_nrules; k++)
		if (strcmp(m->m_rules[k].name, rule) == 0)
			break;
	if (k == m->m_nrules) {
		/* A report names at most MAX_RULES: past that, the last
		 * named and every later one count as "other". */
		if (k >= MAX_RULES) {
			k = MAX_RULES - 1;
			rule = "other";
		} else
			m->m_nrules++;
		snprintf(m->m_rules[k].name, sizeof(m->m_rules[k].name), "%s",
		    rule);
	}
	m->m_rules[k].n++;
	pthread_mutex_unlock(&m->m_lock);
	pthread_mutex_unlock(&reporting_lock);
}

static void
destroy(struct msb_metrics *m)
{
	pthread_mutex_lock(&reporting_lock);
	if (reporting == m)
		reporting = NULL;
	pthread_mutex_unlock(&reporting_lock);
	/*
	 * The monitor stops first: events of the socket's own close sent
	 * to a reader already gone stay in libzmq's pipe, never freed.
	 */
	if (m->m_events != NULL) {
		zmq_socket_monitor(m->m_sock, NULL, 0);
		zmq_close(m->m_events);
	}
	if (m->m_sock != NULL)
		zmq_close(m->m_sock);
	if (m->m_ctx != NULL)
		zmq_ctx_term(m->m_ctx);
	free(m->m_app);
	free(m->m_instance);
	free(m->m_tenant);
	free(m->m_stream);
	pthread_mutex_destroy(&m->m_lock);
	free(m);
}

/*
 * The monitor takes instance ids of 1 to 80 letters, digits and "._:-"
 * (they go into log lines and labels): anything else becomes '_'.
 */
static char *
instance_id(const char *instance)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-";
	size_t n = instance != NULL ? strlen(instance) : 0;
	char *id;

	if (n == 0)
		return strdup("unknown");
	if (n > MAX_INSTANCE)
		n = MAX_INSTANCE;
	if ((id = strndup(instance, n)) == NULL)
		return NULL;
	for (char *p = id; *p; p++)
		if (strchr(ok, *p) == NULL)
			*p = '_';
	return id;
}

/* Attaches a socket monitor to m_sock, read through m_events. */
static int
watch_link(struct msb_metrics *m)
{
	int events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
	    ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_DISCONNECTED |
	    ZMQ_EVENT_CLOSED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
	    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
	char name[64];

	snprintf(name, sizeof(name), "inproc://msb-metrics-%p", (void *)m);
	if (zmq_socket_monitor(m->m_sock, name, events) == -1 ||
	    (m->m_events = zmq_socket(m->m_ctx, ZMQ_PAIR)) == NULL ||
	    zmq_connect(m->m_events, name) == -1)
		return -1;
	m->m_link = LINK_PENDING;
	m->m_wait_left = CONNECT_WAIT_MS;
	return 0;
}

/* Reads the socket monitor's events, waiting up to timeout_ms for the
 * first; m_link becomes what the last one says. */
static void
read_link(struct msb_metrics *m, long timeout_ms)
{
	zmq_pollitem_t pi = { .socket = m->m_events, .events = ZMQ_POLLIN };
	uint8_t ev[6];
	uint16_t id;

	while (zmq_poll(&pi, 1, timeout_ms) == 1) {
		int n = zmq_recv(m->m_events, ev, sizeof(ev), 0);
		int more = 0;
		size_t len = sizeof(more);

		/* Each event is [id:2][value:4] then the endpoint. */
		zmq_getsockopt(m->m_events, ZMQ_RCVMORE, &more, &len);
		if (more)
			zmq_recv(m->m_events, NULL, 0, 0);
		timeout_ms = 0;
		if (n < 2)
			continue;
		memcpy(&id, ev, sizeof(id));
		m->m_link = id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED ? LINK_UP :
		    LINK_DOWN;
	}
}

/*
 * After a send found no connection: true when one is being made and
 * could take the report within what is left of CONNECT_WAIT_MS, so the
 * send is worth another try. The handshake event comes before the
 * socket has taken the new pipe: POLLOUT says when it has.
 */
static bool
await_link(struct msb_metrics *m)
{
	zmq_pollitem_t pi = { .socket = m->m_sock, .events = ZMQ_POLLOUT };
	int64_t start = msb__now_ms();
	bool ready = false;

	read_link(m, 0);
	while (m->m_link != LINK_DOWN && m->m_wait_left > 0 && !ready) {
		if (m->m_link == LINK_PENDING)
			read_link(m, (long)m->m_wait_left);
		else
			ready = zmq_poll(&pi, 1, (long)m->m_wait_left) == 1;
		m->m_wait_left -= msb__now_ms() - start;
		start = msb__now_ms();
	}
	return ready;
}

struct msb_metrics *
msb_metrics_open(const char *endpoint, const char *app, const char *instance)
{
	struct msb_metrics *m;
	int hwm = SNDHWM, linger = 0, immediate = 1, saved;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	pthread_mutex_init(&m->m_lock, NULL);
	m->m_app = strdup(app != NULL ? app : "batch");
	m->m_instance = instance_id(instance);
	if (m->m_app == NULL || m->m_instance == NULL) {
		destroy(m);
		errno = ENOMEM;
		return NULL;
	}
	m->m_interval = DEFAULT_INTERVAL_MS;
	m->m_window_start = m->m_tried = msb__now_ms();
	if (endpoint == NULL || *endpoint == '\0')
		return m;

	if ((m->m_ctx = zmq_ctx_new()) == NULL)
		goto fail;
	/* One I/O thread is plenty for a report a second. */
	zmq_ctx_set(m->m_ctx, ZMQ_IO_THREADS, 1);
	if ((m->m_sock = zmq_socket(m->m_ctx, ZMQ_PUSH)) == NULL)
		goto fail;
	if (zmq_setsockopt(m->m_sock, ZMQ_SNDHWM, &hwm, sizeof(hwm)) == -1 ||
	    zmq_setsockopt(m->m_sock, ZMQ_LINGER, &linger,
	    sizeof(linger)) == -1 ||
	    zmq_setsockopt(m->m_sock, ZMQ_IMMEDIATE, &immediate,
	    sizeof(immediate)) == -1)
		goto fail;
	if (watch_link(m) == -1)
		goto fail;
	/* Connecting does not wait: the monitor may come up later. */
	if (zmq_connect(m->m_sock, endpoint) == -1)
		goto fail;
	pthread_mutex_lock(&reporting_lock);
	reporting = m;
	pthread_mutex_unlock(&reporting_lock);
	return m;

fail:
	saved = errno;
	destroy(m);
	errno = saved;
	return NULL;
}

struct msb_metrics *
msb_metrics_open_env(const struct msb_env *env)
{
	bool stream = env->kind == MSB_APP_STREAM;
	struct msb_metrics *m = msb_metrics_open(env->metrics_endpoint,
	    stream ? "stream" : "batch", env->instance);

	if (m == NULL)
		return NULL;
	/* The monitor files a stream app's reports under its stream. */
	if ((env->tenant != NULL &&
	    (m->m_tenant = strdup(env->tenant)) == NULL) ||
	    (stream && env->stream != NULL &&
	    (m->m_stream = strdup(env->stream)) == NULL)) {
		destroy(m);
		errno = ENOMEM;
		return NULL;
	}
	return m;
}

void
msb_metrics_set_interval(struct msb_metrics *m, uint32_t interval_ms)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->m_lock);
	m->m_interval = interval_ms;
	pthread_mutex_unlock(&m->m_lock);
}

static int flush_locked(struct msb_metrics *);

/* True when add and tick send: an interval since the last report tried. */
static bool
due(const struct msb_metrics *m)
{
	return m->m_interval > 0 && m->m_sock != NULL &&
	    msb__now_ms() - m->m_tried >= (int64_t)m->m_interval;
}

void
msb_metrics_add(struct msb_metrics *m, enum msb_metric metric, uint64_t n)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->m_lock);
	switch (metric) {
	case MSB_M_MESSAGES:
		m->m_messages += n;
		break;
	case MSB_M_ROWS:
		m->m_rows += n;
		break;
	case MSB_M_BYTES:
		m->m_bytes += n;
		break;
	case MSB_M_ERRORS:
		m->m_errors += n;
		break;
	case MSB_M_INGEST_US:
		m->m_ingest_sum += n;
		if (n > m->m_ingest_max)
			m->m_ingest_max = n;
		break;
	}
	if (due(m))
		flush_locked(m);
	pthread_mutex_unlock(&m->m_lock);
}

static void
reset(struct msb_metrics *m, int64_t now)
{
	m->m_window_start = now;
	m->m_messages = m->m_rows = m->m_bytes = m->m_errors = 0;
	m->m_ingest_sum = m->m_ingest_max = 0;
	/* A rule that takes a slot next window adds to its count: zero it. */
	memset(m->m_rules, 0, sizeof(m->m_rules));
	m->m_nrules = 0;
}

/* Counters are uint64_t; BSON and JSON numbers are int64_t. */
static int64_t
clamp(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* Sends without waiting, except for a connection being made. */
static int
send_report(struct msb_metrics *m, const char *json, size_t len)
{
	int rc, tries = 0;

	do {
		do
			rc = zmq_send(m->m_sock, json, len, ZMQ_DONTWAIT);
		while (rc == -1 && errno == EINTR);
	} while (rc == -1 && errno == EAGAIN && tries++ < 1 &&
	    m->m_link != LINK_UP && await_link(m));
	return rc;
}

/* msb_metrics_flush with m_lock held. */
static int
flush_locked(struct msb_metrics *m)
{
	bson_t doc = BSON_INITIALIZER;
	int64_t now;
	char *json;
	size_t len;
	int rc, saved;

	now = msb__now_ms();
	if (m->m_sock == NULL) {
		reset(m, now);
		return MSB_OK;
	}
	/* Sent or not, add and tick try the next an interval from now. */
	m->m_tried = now;
	BSON_APPEND_INT32(&doc, "v", 1);
	if (m->m_tenant != NULL)
		BSON_APPEND_UTF8(&doc, "tenant", m->m_tenant);
	BSON_APPEND_UTF8(&doc, "app", m->m_app);
	if (m->m_stream != NULL)
		BSON_APPEND_UTF8(&doc, "stream", m->m_stream);
	BSON_APPEND_UTF8(&doc, "instance", m->m_instance);
	BSON_APPEND_INT64(&doc, "window_ms", now - m->m_window_start);
	BSON_APPEND_INT64(&doc, "messages", clamp(m->m_messages));
	BSON_APPEND_INT64(&doc, "rows", clamp(m->m_rows));
	BSON_APPEND_INT64(&doc, "bytes", clamp(m->m_bytes));
	BSON_APPEND_INT64(&doc, "ingest_us_sum", clamp(m->m_ingest_sum));
	BSON_APPEND_INT64(&doc, "ingest_us_max", clamp(m->m_ingest_max));
	BSON_APPEND_INT64(&doc, "errors", clamp(m->m_errors));
	BSON_APPEND_INT64(&doc, "dropped", clamp(m->m_unsent));
	if (m->m_nrules > 0) {
		bson_t q;

		BSON_APPEND_DOCUMENT_BEGIN(&doc, "quality", &q);
		for (size_t k = 0; k < m->m_nrules; k++)
			BSON_APPEND_INT64(&q, m->m_rules[k].name,
			    clamp(m->m_rules[k].n));
		bson_append_document_end(&doc, &q);
	}
	json = bson_as_relaxed_extended_json(&doc, &len);
	bson_destroy(&doc);
	if (json == NULL) {
		errno = EINVAL;
		return MSB_ERROR;
	}
	rc = send_report(m, json, len);
	saved = errno;
	bson_free(json);
	if (rc == -1) {
		/* Keep the figures (and window): the next report has them. */
		__atomic_add_fetch(&m->m_dropped, 1, __ATOMIC_RELAXED);
		m->m_unsent++;
		errno = saved;
		return saved == EAGAIN ? MSB_TEMPFAIL : MSB_ERROR;
	}
	__atomic_add_fetch(&m->m_sent, 1, __ATOMIC_RELAXED);
	m->m_unsent = 0;
	reset(m, now);
	return MSB_OK;
}

int
msb_metrics_flush(struct msb_metrics *m)
{
	int rc;

	if (m == NULL)
		return MSB_OK;
	pthread_mutex_lock(&m->m_lock);
	rc = flush_locked(m);
	pthread_mutex_unlock(&m->m_lock);
	return rc;
}

int
msb_metrics_tick(struct msb_metrics *m)
{
	int rc = MSB_OK;

	if (m == NULL)
		return MSB_OK;
	pthread_mutex_lock(&m->m_lock);
	if (due(m))
		rc = flush_locked(m);
	pthread_mutex_unlock(&m->m_lock);
	return rc;
}

void
msb_metrics_counts(const struct msb_metrics *m, uint64_t *sent,
    uint64_t *dropped)
{
	/* Atomic, not under m_lock: the handle is const here. */
	if (sent != NULL)
		*sent = m != NULL ?
		    __atomic_load_n(&m->m_sent, __ATOMIC_RELAXED) : 0;
	if (dropped != NULL)
		*dropped = m != NULL ?
		    __atomic_load_n(&m->m_dropped, __ATOMIC_RELAXED) : 0;
}

void
msb_metrics_close(struct msb_metrics *m)
{
	int linger = CLOSE_LINGER_MS;

	if (m == NULL)
		return;
	/*
	 * The last report matters most for a batch app. It was queued only
	 * if a monitor is connected, and then it is worth a short wait;
	 * with no monitor nothing is queued and closing returns at once.
	 */
	if (m->m_sock != NULL && msb_metrics_flush(m) == MSB_OK)
		zmq_setsockopt(m->m_sock, ZMQ_LINGER, &linger,
		    sizeof(linger));
	destroy(m);
}
