#include "dashline.h"

#include <stdio.h>
#include <string.h>

#include "dash.h"
#include "log.h"
#include "mtenant.h"
#include "view.h"

static void
fmt_us(double us, char *buf, size_t len)
{
	if (us < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.2fms", us / 1000.0);
}

/* The interval's line of a stream. */
static void
stream_line(struct mon *m, struct mstream *s, uint64_t now)
{
	const struct mstats *st = &s->ms_stats;
	const struct conf_instances *in = &s->ms_conf->s_instances;
	const struct magg *g = &s->ms_tick;
	char avg[32], max[32];

	fmt_us(g->g_messages && g->g_ingest_us_sum ?
	    (double)g->g_ingest_us_sum / (double)g->g_messages : -1, avg,
	    sizeof(avg));
	fmt_us(g->g_messages && g->g_ingest_us_sum ?
	    (double)g->g_ingest_us_max : -1, max, sizeof(max));
	if (!view_stats_fresh(m, s, now)) {
		dash_line(m->m_dash, s->ms_tenant->mt_id, s->ms_name, "stat",
		    "state=unknown instances=?/? range=%lld..%lld "
		    "ingest_avg=%s ingest_max=%s messages=%llu errors=%llu "
		    "reports=%llu (no statistics from streammgr)",
		    (long long)in->i_min, (long long)in->i_max, avg, max,
		    (unsigned long long)g->g_messages,
		    (unsigned long long)g->g_errors,
		    (unsigned long long)g->g_reports);
		return;
	}
	dash_line(m->m_dash, s->ms_tenant->mt_id, s->ms_name, "stat",
	    "state=%s instances=%lld/%lld range=%lld..%lld in=%.1f/s "
	    "out=%.1f/s backlog=%lld inflight=%lld lag=%lld ingest_avg=%s "
	    "ingest_max=%s messages=%llu errors=%llu reports=%llu",
	    st->st_state, (long long)st->st_running,
	    (long long)st->st_desired, (long long)st->st_min,
	    (long long)st->st_max, st->st_in_rate, st->st_out_rate,
	    (long long)st->st_backlog, (long long)st->st_inflight,
	    (long long)st->st_lag, avg, max,
	    (unsigned long long)g->g_messages, (unsigned long long)g->g_errors,
	    (unsigned long long)g->g_reports);
}

/* Violation and dead-letter lines, when the interval had any. */
static void
stream_events(struct mon *m, struct mstream *s)
{
	const char *t = s->ms_tenant->mt_id;

	if (s->ms_tick_rejected > 0 || s->ms_tick_throttled > 0)
		dash_line(m->m_dash, t, s->ms_name, "violation",
		    "refused=%lld rejected=%lld throttled=%lld "
		    "queue_bytes=%lld max_queue_bytes=%llu",
		    (long long)(s->ms_tick_rejected + s->ms_tick_throttled),
		    (long long)s->ms_tick_rejected,
		    (long long)s->ms_tick_throttled,
		    (long long)s->ms_stats.st_queue_bytes,
		    (unsigned long long)s->ms_conf->s_max_queue_bytes);
	if (s->ms_tick_dead > 0)
		dash_line(m->m_dash, t, s->ms_name, "dead-letters",
		    "count=%lld total=%lld (queue/%s/%s/dead-letters.jsonl)",
		    (long long)s->ms_tick_dead,
		    (long long)s->ms_stats.st_dead_letters, t, s->ms_name);
	s->ms_tick_rejected = s->ms_tick_throttled = s->ms_tick_dead = 0;
}

/*
 * Reports dropped as verdict v, over the setting (its value in text):
 * said in the log when an interval with some follows one without, not
 * once per report; *said remembers.
 */
static void
limited(const struct mtenant *t, enum report_verdict v, const char *setting,
    const char *value, bool *said)
{
	uint64_t n = t->mt_dropped_tick[v];

	if (n > 0 && !*said)
		log_warnx("tenant %s: over monitor.%s (%s): %llu reports "
		    "dropped, and more until the rate falls", t->mt_id,
		    setting, value, (unsigned long long)n);
	*said = n > 0;
}

static void
rate_limited(struct mon *m, struct mtenant *t)
{
	const struct conf_platform_monitor *pm = &m->m_conf->p_monitor;
	char count[24], bytes[24];

	snprintf(count, sizeof(count), "%lld",
	    (long long)pm->pm_max_reports_per_second);
	snprintf(bytes, sizeof(bytes), "%llu bytes",
	    (unsigned long long)pm->pm_max_report_bytes);
	limited(t, REPORT_RATE_LIMITED, "max_reports_per_second", count,
	    &t->mt_limited);
	limited(t, REPORT_BYTE_LIMITED, "max_report_bytes_per_second", bytes,
	    &t->mt_byte_limited);
}

/* The tenant's batch reports and dropped reports of the interval. */
static void
tenant_lines(struct mon *m, struct mtenant *t)
{
	const struct magg *g = &t->mt_batch_tick;
	char text[256] = "", avg[32];
	size_t n = 0;

	if (g->g_reports > 0) {
		fmt_us(g->g_rows && g->g_ingest_us_sum ?
		    (double)g->g_ingest_us_sum / (double)g->g_rows : -1, avg,
		    sizeof(avg));
		dash_line(m->m_dash, t->mt_id, "-", "batch", "reports=%llu "
		    "rows=%llu bytes=%llu errors=%llu ingest_avg=%s/row",
		    (unsigned long long)g->g_reports,
		    (unsigned long long)g->g_rows,
		    (unsigned long long)g->g_bytes,
		    (unsigned long long)g->g_errors, avg);
	}
	for (int v = REPORT_OK + 1; v < REPORT_NVERDICTS; v++)
		if (t->mt_dropped_tick[v] > 0 && n < sizeof(text))
			n += (size_t)snprintf(text + n, sizeof(text) - n,
			    "%s%s=%llu", n ? " " : "", report_verdict_name(
			    (enum report_verdict)v),
			    (unsigned long long)t->mt_dropped_tick[v]);
	if (n > 0)
		dash_line(m->m_dash, t->mt_id, "-", "dropped", "%s", text);
	rate_limited(m, t);
	memset(&t->mt_batch_tick, 0, sizeof(t->mt_batch_tick));
	memset(t->mt_dropped_tick, 0, sizeof(t->mt_dropped_tick));
}

void
dashline_tick(struct mon *m, uint64_t now_ms)
{
	struct mtenant *t;
	struct mstream *s;

	TAILQ_FOREACH(t, &m->m_tenants, mt_entry) {
		TAILQ_FOREACH(s, &t->mt_streams, ms_entry) {
			stream_line(m, s, now_ms);
			stream_events(m, s);
			memset(&s->ms_tick, 0, sizeof(s->ms_tick));
		}
		tenant_lines(m, t);
	}
}

void
dashline_event(struct mon *m, const char *tenant, const char *stream,
    const char *event, const char *detail)
{
	if (mtenant_find(m, tenant) == NULL)
		return;
	/* Dead letters come one event each: the interval's line counts them. */
	if (strcmp(event, "dead-letter") == 0)
		return;
	dash_line(m->m_dash, tenant, stream, strcmp(event, "scale") == 0 ?
	    "scaled" : event, "%s", detail);
}
