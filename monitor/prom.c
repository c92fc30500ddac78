#include "prom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "httpget.h"
#include "log.h"
#include "view.h"

#define PROM_HEAD_MAX		8192	/* bytes of a request's head */
#define PROM_DEADLINE_MS	10000	/* a request read and answered */
#define PROM_CONNS_MAX		32	/* open at once; more wait */

struct prom {
	struct mon	*p_mon;
	struct httpget	*p_http;
};

enum src { SRC_STATS, SRC_RATE, SRC_TOTAL };

/* One family of per-stream series and where its value is found. */
struct family {
	const char	*f_name;
	const char	*f_type;
	const char	*f_help;
	enum src	 f_src;
	size_t		 f_off;	/* in struct mstats, or struct magg */
	double		 f_scale;	/* to the unit the name says */
};

#define STATS(n, t, h, m) \
	{ n, t, h, SRC_STATS, offsetof(struct mstats, m), 1 }
#define RATE(n, h, m) \
	{ n, "gauge", h, SRC_RATE, offsetof(struct mstats, m), 1 }
#define TOTAL(n, h, m, k) \
	{ n, "counter", h, SRC_TOTAL, offsetof(struct magg, m), k }

static const struct family families[] = {
	STATS("mysimbdp_stream_instances_running", "gauge",
	    "Instances of the stream app running.", st_running),
	STATS("mysimbdp_stream_instances_desired", "gauge",
	    "Instances streammgr keeps (the last scale).", st_desired),
	STATS("mysimbdp_stream_instances_min", "gauge",
	    "Fewest instances the profile allows.", st_min),
	STATS("mysimbdp_stream_instances_max", "gauge",
	    "Most instances the profile allows.", st_max),
	STATS("mysimbdp_stream_backlog", "gauge",
	    "Messages waiting for a delivery.", st_backlog),
	STATS("mysimbdp_stream_inflight", "gauge",
	    "Messages delivered and not acked yet.", st_inflight),
	STATS("mysimbdp_stream_lag", "gauge",
	    "Messages accepted since the oldest one the stream (or "
	    "subscription) holds.", st_lag),
	STATS("mysimbdp_stream_queue_bytes", "gauge",
	    "Payload bytes the stream's queue holds.", st_queue_bytes),
	RATE("mysimbdp_stream_in_rate", "Messages accepted per second.",
	    st_in_rate),
	RATE("mysimbdp_stream_out_rate", "Messages acked per second.",
	    st_out_rate),
	STATS("mysimbdp_stream_accepted_total", "counter",
	    "Messages accepted since streammgr started.", st_accepted),
	STATS("mysimbdp_stream_acked_total", "counter",
	    "Messages acked since streammgr started.", st_acked),
	STATS("mysimbdp_stream_redelivered_total", "counter",
	    "Deliveries made again since streammgr started.", st_redelivered),
	STATS("mysimbdp_stream_dead_letters_total", "counter",
	    "Messages given up on since streammgr started.", st_dead_letters),
	STATS("mysimbdp_stream_rejected_total", "counter",
	    "Messages refused (REJECT) since streammgr started.", st_rejected),
	STATS("mysimbdp_stream_throttled_total", "counter",
	    "Messages refused with THROTTLE since streammgr started.",
	    st_throttled),
	STATS("mysimbdp_stream_restarts_total", "counter",
	    "Instance restarts since streammgr started.", st_restarts),
	TOTAL("mysimbdp_stream_reports_total",
	    "Reports received from the stream's instances.", g_reports, 1),
	TOTAL("mysimbdp_stream_messages_total",
	    "Messages the instances reported processed.", g_messages, 1),
	TOTAL("mysimbdp_stream_rows_total",
	    "Rows the instances reported written.", g_rows, 1),
	TOTAL("mysimbdp_stream_bytes_total",
	    "Bytes the instances reported processed.", g_bytes, 1),
	TOTAL("mysimbdp_stream_errors_total",
	    "Errors the instances reported.", g_errors, 1),
	TOTAL("mysimbdp_stream_ingest_seconds_total",
	    "Time the instances reported spent ingesting.", g_ingest_us_sum,
	    1e-6),
};
#define NFAMILIES (sizeof(families) / sizeof(families[0]))

static void
header(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

static void
stream_sample(struct evbuffer *out, const struct family *f,
    const struct mstream *s)
{
	const char *base = f->f_src == SRC_TOTAL ? (const char *)&s->ms_total :
	    (const char *)&s->ms_stats;
	const void *p = base + f->f_off;
	double v;

	if (f->f_src == SRC_TOTAL)
		v = (double)*(const uint64_t *)p;
	else if (f->f_src == SRC_RATE)
		v = *(const double *)p;
	else
		v = (double)*(const int64_t *)p;
	evbuffer_add_printf(out, "%s{tenant=\"%s\",stream=\"%s\"} %.17g\n",
	    f->f_name, s->ms_tenant->mt_id, s->ms_name, v * f->f_scale);
}

static void
rule_samples(struct evbuffer *out, const struct mstream *s)
{
	const struct mrules *r = &s->ms_rules;

	for (size_t i = 0; i < r->r_n; i++)
		evbuffer_add_printf(out, "mysimbdp_stream_quality_rejected_by_"
		    "rule_total{tenant=\"%s\",stream=\"%s\",rule=\"%s\"} "
		    "%llu\n", s->ms_tenant->mt_id, s->ms_name,
		    r->r_slot[i].rc_name, (unsigned long long)r->r_slot[i].rc_n);
}

/* Every per-stream family; statistics only where streammgr sent some. */
static void
render_streams(struct mon *m, struct evbuffer *out, uint64_t now)
{
	const struct mtenant *t;
	const struct mstream *s;

	for (size_t i = 0; i < NFAMILIES; i++) {
		const struct family *f = &families[i];

		header(out, f->f_name, f->f_type, f->f_help);
		TAILQ_FOREACH(t, &m->m_tenants, mt_entry)
			TAILQ_FOREACH(s, &t->mt_streams, ms_entry)
				if (f->f_src == SRC_TOTAL ||
				    view_stats_fresh(m, s, now))
					stream_sample(out, f, s);
	}
	header(out, "mysimbdp_stream_quality_rejected_by_rule_total", "counter",
	    "Messages an instance rejected for a data quality rule, by rule.");
	TAILQ_FOREACH(t, &m->m_tenants, mt_entry)
		TAILQ_FOREACH(s, &t->mt_streams, ms_entry)
			if (view_stats_fresh(m, s, now))
				rule_samples(out, s);
	header(out, "mysimbdp_stream_ingest_time_seconds", "gauge",
	    "Average ingest time per message in the fresh reports.");
	TAILQ_FOREACH(t, &m->m_tenants, mt_entry)
		TAILQ_FOREACH(s, &t->mt_streams, ms_entry)
			if (view_ingest_us(s, now) >= 0)
				evbuffer_add_printf(out, "mysimbdp_stream_"
				    "ingest_time_seconds{tenant=\"%s\","
				    "stream=\"%s\"} %.9g\n", t->mt_id,
				    s->ms_name, view_ingest_us(s, now) / 1e6);
	header(out, "mysimbdp_monitor_scale_requests_total", "counter",
	    "Scale requests the monitor sent, by direction.");
	TAILQ_FOREACH(t, &m->m_tenants, mt_entry)
		TAILQ_FOREACH(s, &t->mt_streams, ms_entry)
			evbuffer_add_printf(out, "mysimbdp_monitor_scale_"
			    "requests_total{tenant=\"%s\",stream=\"%s\","
			    "direction=\"up\"} %llu\nmysimbdp_monitor_scale_"
			    "requests_total{tenant=\"%s\",stream=\"%s\","
			    "direction=\"down\"} %llu\n", t->mt_id,
			    s->ms_name, (unsigned long long)s->ms_ups,
			    t->mt_id, s->ms_name,
			    (unsigned long long)s->ms_downs);
}

/* A family with one series per tenant: a counter of its batch apps. */
static void
tenant_family(struct mon *m, struct evbuffer *out, const char *name,
    const char *help, size_t off)
{
	const struct mtenant *t;

	header(out, name, "counter", help);
	TAILQ_FOREACH(t, &m->m_tenants, mt_entry)
		evbuffer_add_printf(out, "%s{tenant=\"%s\"} %llu\n", name,
		    t->mt_id, (unsigned long long)*(const uint64_t *)(const void *)
		    ((const char *)&t->mt_batch_total + off));
}

/* Per tenant: batch apps' reports and the reports dropped. */
static void
render_tenants(struct mon *m, struct evbuffer *out)
{
	const struct mtenant *t;

	header(out, "mysimbdp_batch_quality_rejected_total", "counter",
	    "Rows the tenant's batch apps refused for a data quality rule, "
	    "by rule.");
	TAILQ_FOREACH(t, &m->m_tenants, mt_entry)
		for (size_t k = 0; k < t->mt_batch_rules.r_n; k++)
			evbuffer_add_printf(out, "mysimbdp_batch_quality_"
			    "rejected_total{tenant=\"%s\",rule=\"%s\"} %llu\n",
			    t->mt_id, t->mt_batch_rules.r_slot[k].rc_name,
			    (unsigned long long)t->mt_batch_rules.r_slot[k].rc_n);

	tenant_family(m, out, "mysimbdp_batch_reports_total",
	    "Reports received from the tenant's batch apps.",
	    offsetof(struct magg, g_reports));
	tenant_family(m, out, "mysimbdp_batch_rows_total",
	    "Rows the tenant's batch apps reported.",
	    offsetof(struct magg, g_rows));
	header(out, "mysimbdp_monitor_reports_dropped_total", "counter",
	    "Reports the monitor dropped, by reason.");
	TAILQ_FOREACH(t, &m->m_tenants, mt_entry)
		for (int v = REPORT_OK + 1; v < REPORT_NVERDICTS; v++)
			evbuffer_add_printf(out, "mysimbdp_monitor_reports_"
			    "dropped_total{tenant=\"%s\",reason=\"%s\"} %llu\n",
			    t->mt_id, report_verdict_name(
			    (enum report_verdict)v),
			    (unsigned long long)t->mt_dropped[v]);
}

/* A counter without labels. */
static void
scalar(struct evbuffer *out, const char *name, const char *help,
    uint64_t v)
{
	header(out, name, "counter", help);
	evbuffer_add_printf(out, "%s %llu\n", name, (unsigned long long)v);
}

/* The monitor's own counters. */
static void
render_monitor(struct mon *m, struct evbuffer *out)
{
	scalar(out, "mysimbdp_monitor_statistics_total",
	    "Statistics messages received from streammgr.", m->m_stats_msgs);
	scalar(out, "mysimbdp_monitor_decisions_total",
	    "Scaling decisions the monitor made.", m->m_decisions);
	scalar(out, "mysimbdp_monitor_control_failures_total",
	    "Requests to streammgr that failed or got no reply.",
	    m->m_ctl_failures);
}

void
prom_render(struct mon *m, struct evbuffer *out)
{
	render_streams(m, out, clock_mono_ms());
	render_tenants(m, out);
	render_monitor(m, out);
}

static void
render(void *arg, struct evbuffer *out)
{
	prom_render(arg, out);
}

struct prom *
prom_new(struct mon *m, char *err, size_t errlen)
{
	const struct conf_platform_monitor *c = &m->m_conf->p_monitor;
	const struct httpget_conf hc = {
		.hc_path = "/metrics",
		.hc_type = "text/plain; version=0.0.4; charset=utf-8",
		.hc_conns_max = PROM_CONNS_MAX,
		.hc_head_max = PROM_HEAD_MAX,
		.hc_deadline_ms = PROM_DEADLINE_MS,
		.hc_render = render,
		.hc_arg = m,
	};
	struct prom *p = calloc(1, sizeof(*p));
	bool v6 = strchr(c->pm_http_address, ':') != NULL;
	char why[256];

	if (p == NULL)
		fatal("%s: calloc", __func__);
	p->p_mon = m;
	if ((p->p_http = httpget_listen(m->m_base, c->pm_http_address,
	    (int)c->pm_http_port, &hc, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "cannot listen on %s%s%s:%lld: %s",
		    v6 ? "[" : "", c->pm_http_address, v6 ? "]" : "",
		    (long long)c->pm_http_port, why);
		free(p);
		return NULL;
	}
	log_info("prometheus: listening on http://%s%s%s:%d/metrics",
	    v6 ? "[" : "", c->pm_http_address, v6 ? "]" : "",
	    httpget_port(p->p_http));
	return p;
}

void
prom_free(struct prom *p)
{
	if (p == NULL)
		return;
	httpget_free(p->p_http);
	free(p);
}
