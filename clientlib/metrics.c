/*
 * Metric reports to the monitor, over a ZeroMQ PUSH (zmtp.c: ZMTP spoken
 * in the app's thread, no libzmq).
 *
 * Reporting must never slow or stop ingestion, so nothing here waits:
 *  - with no monitor listening, the connect fails at once and the report
 *    is dropped; the next report tries to connect again;
 *  - a report is taken only when nothing waits before it: one the
 *    socket does not take whole (a monitor that does not read, or one
 *    whose handshake is not over: below) waits in the app, for the next
 *    report or close, and the reports tried meanwhile are dropped. A
 *    monitor that falls behind costs dropped reports, not a blocked app,
 *    nor reports piling up in it (nothing here runs between calls);
 *  - closing waits at most CLOSE_LINGER_MS for what waits, and only
 *    when something does.
 * A dropped report is counted, and its figures are kept for the next one,
 * so the monitor still sees every row once it is back. That next one is
 * tried an interval later, not at the next add: with the monitor away or
 * behind, a report built and sent at every add cost the app microseconds
 * a row, and counted calls, not reports, as dropped. An explicit flush,
 * and close, still try at once.
 *
 * A unix socket's connect completes in the kernel, so "no monitor" is
 * known at once. One wait is allowed: a report waits for the monitor's
 * side of the handshake (zmtp.c: libzmq takes no message before it),
 * at most HANDSHAKE_WAIT_MS over the handle's life; not done in time,
 * the report stays queued for the next report, or for close. A monitor
 * that restarted is found again at the next report: its old connection
 * reads as closed, and a new one is made.
 *
 * A handle may be shared between threads, and the library itself shares
 * one: the sinks of every thread count their quality refusals into the
 * process's handle. A mutex in the handle covers its counters, the
 * rules' slots and the connection; a sink's refusal waits at most for a
 * report being built and sent.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mysimbdp-internal.h"
#include "zmtp.h"

#define OUT_MAX 0		/* no report waits behind another */
#define FRAME_MAX 4096		/* the monitor sends only its handshake */
#define DEFAULT_INTERVAL_MS 1000
#define CLOSE_LINGER_MS 1000
#define MAX_INSTANCE 80	/* the monitor's REPORT_INSTANCE_MAX */
#define HANDSHAKE_WAIT_MS 1000
#define MAX_RULES 16	/* the monitor's REPORT_RULES_MAX */
#define RULE_NAME_MAX 32

struct msb_metrics {
	pthread_mutex_t	 m_lock;	/* every member below but m_sent and
					   m_dropped, read by counts (__atomic) */
	struct zmtp	*m_z;		/* NULL: counting only */
	char		*m_endpoint;
	int64_t		 m_wait_left;	/* ms of HANDSHAKE_WAIT_MS left */
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
destroy(struct msb_metrics *m, int linger_ms)
{
	pthread_mutex_lock(&reporting_lock);
	if (reporting == m)
		reporting = NULL;
	pthread_mutex_unlock(&reporting_lock);
	zmtp_free(m->m_z, linger_ms);
	free(m->m_endpoint);
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

struct msb_metrics *
msb_metrics_open(const char *endpoint, const char *app, const char *instance)
{
	struct msb_metrics *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	pthread_mutex_init(&m->m_lock, NULL);
	m->m_app = strdup(app != NULL ? app : "batch");
	m->m_instance = instance_id(instance);
	if (m->m_app == NULL || m->m_instance == NULL) {
		destroy(m, 0);
		errno = ENOMEM;
		return NULL;
	}
	m->m_interval = DEFAULT_INTERVAL_MS;
	m->m_window_start = m->m_tried = msb__now_ms();
	m->m_wait_left = HANDSHAKE_WAIT_MS;
	if (endpoint == NULL || *endpoint == '\0')
		return m;
	if (strncmp(endpoint, "ipc://", 6) != 0) {
		destroy(m, 0);
		errno = EINVAL;		/* the monitor listens on ipc only */
		return NULL;
	}
	if ((m->m_endpoint = strdup(endpoint)) == NULL ||
	    (m->m_z = zmtp_new(ZMTP_PUSH, FRAME_MAX, OUT_MAX)) == NULL) {
		destroy(m, 0);
		errno = ENOMEM;
		return NULL;
	}
	/* Not there yet: the first report tries again. */
	if (zmtp_connect(m->m_z, endpoint) == -1 && errno == EINVAL) {
		destroy(m, 0);
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&reporting_lock);
	reporting = m;
	pthread_mutex_unlock(&reporting_lock);
	return m;
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
		destroy(m, 0);
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
	return m->m_interval > 0 && m->m_z != NULL &&
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

/*
 * The connection, made again if the monitor closed it (a restart) or
 * was not there: first what the monitor sent is read (its handshake
 * checked, a PING answered, its close seen). Returns 0, or -1 (errno).
 */
static int
link_up(struct msb_metrics *m)
{
	struct zmtp_msg in;

	while (zmtp_connected(m->m_z) && zmtp_recv(m->m_z, &in) == 0)
		;	/* cannot be: a PULL sends no message (EPROTO) */
	if (zmtp_connected(m->m_z))
		return 0;
	return zmtp_connect(m->m_z, m->m_endpoint);
}

/*
 * Sends without waiting but for the handshake (m_wait_left). Returns 0
 * (sent, or queued until the handshake is over), or -1 (errno).
 */
static int
send_report(struct msb_metrics *m, const char *json, size_t len)
{
	struct zmtp_frame iov = { json, len };
	int64_t start;

	if (link_up(m) == -1 || zmtp_send(m->m_z, &iov, 1) == -1)
		return -1;
	if (!zmtp_ready(m->m_z) && m->m_wait_left > 0) {
		start = msb__now_ms();
		if (zmtp_handshake(m->m_z, (int)m->m_wait_left) == -1 &&
		    errno != ETIMEDOUT)
			return -1;	/* the report went with the connection */
		m->m_wait_left -= msb__now_ms() - start;
	}
	return 0;
}

/*
 * A report not sent: MSB_TEMPFAIL when no monitor is there, its queue is
 * full or its connection ended (the next report tries again), else
 * MSB_ERROR.
 */
static int
dropped_rc(int e)
{
	switch (e) {
	case EAGAIN:
	case ENOENT:
	case ECONNREFUSED:
	case ECONNRESET:
	case EPIPE:
	case ENOTCONN:
		return MSB_TEMPFAIL;
	default:
		return msb__errno_rc(e);
	}
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
	if (m->m_z == NULL) {
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
		return dropped_rc(saved);
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
	int linger = 0;

	if (m == NULL)
		return;
	/*
	 * The last report matters most for a batch app: what the socket
	 * has not taken yet (it, or one before it) is worth a short wait to
	 * go out. With no monitor nothing waits, and closing returns at
	 * once.
	 */
	if (m->m_z != NULL) {
		msb_metrics_flush(m);
		if (zmtp_pending(m->m_z))
			linger = CLOSE_LINGER_MS;
	}
	destroy(m, linger);
}
