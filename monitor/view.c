#include "view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bson/bson.h>

#include "clock.h"
#include "smgrctl.h"
#include "dash.h"
#include "log.h"
#include "mtenant.h"
#include "units.h"

/* Instances remembered per stream (each one's last report). */
#define INSTS_MAX	1024

/* ---- reports ------------------------------------------------------- */

static void
agg_add(struct magg *g, const struct report *r)
{
	g->g_reports++;
	g->g_messages += (uint64_t)r->r_messages;
	g->g_rows += (uint64_t)r->r_rows;
	g->g_bytes += (uint64_t)r->r_bytes;
	g->g_errors += (uint64_t)r->r_errors;
	g->g_ingest_us_sum += (uint64_t)r->r_ingest_us_sum;
	if ((uint64_t)r->r_ingest_us_max > g->g_ingest_us_max)
		g->g_ingest_us_max = (uint64_t)r->r_ingest_us_max;
}

/* Keeps r among its instance's recent reports; the oldest goes when full. */
static void
inst_update(struct mstream *s, const struct report *r, uint64_t now)
{
	struct minst *i;
	size_t n = 0;

	TAILQ_FOREACH(i, &s->ms_insts, mi_entry) {
		if (strcmp(i->mi_id, r->r_instance) == 0)
			break;
		n++;
	}
	if (i != NULL)
		TAILQ_REMOVE(&s->ms_insts, i, mi_entry);
	else if (n >= INSTS_MAX) {
		i = TAILQ_FIRST(&s->ms_insts);
		TAILQ_REMOVE(&s->ms_insts, i, mi_entry);
	} else if ((i = calloc(1, sizeof(*i))) == NULL)
		fatal("%s: calloc", __func__);
	if (strcmp(i->mi_id, r->r_instance) != 0) {
		memset(i, 0, sizeof(*i));
		snprintf(i->mi_id, sizeof(i->mi_id), "%s", r->r_instance);
	}
	i->mi_at_ms = now;
	i->mi_when[i->mi_next] = now;
	i->mi_messages[i->mi_next] = r->r_messages;
	i->mi_ingest_us[i->mi_next] = r->r_ingest_us_sum;
	i->mi_next = (i->mi_next + 1) % MINST_KEEP;
	/* Most recent last: the oldest is at the head. */
	TAILQ_INSERT_TAIL(&s->ms_insts, i, mi_entry);
}

static void
record_report(struct mtenant *t, const struct report *r)
{
	bson_t doc = BSON_INITIALIZER;

	BSON_APPEND_UTF8(&doc, "tenant", t->mt_id);
	report_append(r, &doc);
	dash_record(t->mt_mon->m_dash, "report", &doc);
	bson_destroy(&doc);
}

enum report_verdict
view_report(struct mtenant *t, const struct report *r, char *why,
    size_t whylen)
{
	struct mstream *s = NULL;

	if (r->r_stream[0] != '\0' &&
	    (s = mtenant_stream(t, r->r_stream)) == NULL) {
		snprintf(why, whylen, "stream \"%s\" is not one of %s's",
		    r->r_stream, t->mt_id);
		return REPORT_INCONSISTENT;
	}
	if (s != NULL) {
		agg_add(&s->ms_total, r);
		agg_add(&s->ms_tick, r);
		inst_update(s, r, clock_mono_ms());
	} else {
		agg_add(&t->mt_batch_total, r);
		agg_add(&t->mt_batch_tick, r);
	}
	record_report(t, r);
	return REPORT_OK;
}

double
view_ingest_us(const struct mstream *s, uint64_t now_ms)
{
	uint64_t ttl = s->ms_tenant->mt_mon->m_conf->p_monitor.pm_report_ttl_ms;
	double sum = 0, msgs = 0;
	const struct minst *i;

	TAILQ_FOREACH(i, &s->ms_insts, mi_entry)
		for (int k = 0; k < MINST_KEEP; k++) {
			if (i->mi_when[k] == 0 || now_ms - i->mi_when[k] > ttl)
				continue;
			sum += (double)i->mi_ingest_us[k];
			msgs += (double)i->mi_messages[k];
		}
	/* Apps that do not time their work report no ingest time at all. */
	return msgs > 0 && sum > 0 ? sum / msgs : -1;
}

/* ---- statistics and decisions -------------------------------------- */

bool
view_stats_fresh(const struct mon *m, const struct mstream *s,
    uint64_t now_ms)
{
	uint64_t every = m->m_conf->p_stream.ps_stats_interval_ms;

	return s->ms_have_stats && now_ms - s->ms_stats_ms <= 3 * every + 1000;
}

static void
record_decision(struct mstream *s, const struct policy_decision *d, int from,
    const char *error)
{
	bson_t doc = BSON_INITIALIZER;

	BSON_APPEND_UTF8(&doc, "tenant", s->ms_tenant->mt_id);
	BSON_APPEND_UTF8(&doc, "stream", s->ms_name);
	BSON_APPEND_UTF8(&doc, "action", d->pd_action == PA_UP ? "scale-up" :
	    "scale-down");
	BSON_APPEND_INT32(&doc, "from", from);
	BSON_APPEND_INT32(&doc, "to", d->pd_desired);
	BSON_APPEND_UTF8(&doc, "reason", d->pd_reason);
	BSON_APPEND_INT64(&doc, "backlog", s->ms_stats.st_backlog);
	BSON_APPEND_INT64(&doc, "inflight", s->ms_stats.st_inflight);
	BSON_APPEND_DOUBLE(&doc, "ingest_us", s->ms_ingest_us);
	BSON_APPEND_BOOL(&doc, "sent", error == NULL);
	if (error != NULL)
		BSON_APPEND_UTF8(&doc, "error", error);
	dash_record(s->ms_tenant->mt_mon->m_dash, "decision", &doc);
	bson_destroy(&doc);
}

/* Asks streammgr for the decided count; the cooldown starts when sent. */
static void
apply(struct mstream *s, const struct policy_decision *d, uint64_t now)
{
	struct mon *m = s->ms_tenant->mt_mon;
	int from = (int)s->ms_stats.st_desired;
	const char *kind = d->pd_action == PA_UP ? "scale-up" : "scale-down";
	char reason[256], err[256];
	bool sent;

	snprintf(reason, sizeof(reason), "monitor: %s", d->pd_reason);
	sent = smgrctl_request(m->m_ctl, "scale", s->ms_tenant->mt_id, s->ms_name,
	    d->pd_desired, reason, err, sizeof(err)) == 0;
	m->m_decisions++;
	record_decision(s, d, from, sent ? NULL : err);
	if (!sent) {
		m->m_ctl_failures++;
		dash_line(m->m_dash, s->ms_tenant->mt_id, s->ms_name,
		    "scale-failed", "%d->%d %s (%s)", from, d->pd_desired,
		    d->pd_reason, err);
		return;
	}
	policy_changed(&s->ms_policy, now);
	if (d->pd_action == PA_UP)
		s->ms_ups++;
	else
		s->ms_downs++;
	dash_line(m->m_dash, s->ms_tenant->mt_id, s->ms_name, kind,
	    "%d->%d %s", from, d->pd_desired, d->pd_reason);
	log_info("tenant %s: stream %s: %s %d -> %d: %s", s->ms_tenant->mt_id,
	    s->ms_name, kind, from, d->pd_desired, d->pd_reason);
}

static void
decide(struct mstream *s, uint64_t now)
{
	struct policy_params pp;
	struct policy_input in;
	struct policy_decision d;

	s->ms_ingest_us = view_ingest_us(s, now);
	if (!s->ms_conf->s_scaling.sc_enabled)
		return;
	/* Stopped, draining, crash-looping or failed: not the policy's. */
	if (strcmp(s->ms_stats.st_state, "running") != 0) {
		s->ms_policy.ps_low = false;
		return;
	}
	policy_params_from_conf(s->ms_conf, &pp);
	in.pi_current = (int)s->ms_stats.st_desired;
	/*
	 * Work not done yet: what waits and what the instances hold. With
	 * credit an instance takes many messages at once, so the waiting
	 * ones alone would hide the load.
	 */
	in.pi_backlog = s->ms_stats.st_backlog + s->ms_stats.st_inflight;
	in.pi_ingest_us = s->ms_ingest_us;
	policy_decide(&pp, &s->ms_policy, &in, now, &d);
	s->ms_last = d;
	if (d.pd_action != PA_KEEP)
		apply(s, &d, now);
}

/* A counter's growth since the last statistics (streammgr restarted: all). */
static int64_t
delta(int64_t now, int64_t before)
{
	return now >= before ? now - before : now;
}

/*
 * Messages refused for the stream's quotas (max_message_size,
 * max_messages_per_second, max_queue_bytes) are violations; refusals
 * while draining or for a full disk are not the tenant's doing. When they go on for the profile's pause_after, the
 * monitor drains the stream: new messages are refused, the backlog is
 * delivered, and `mysimbdp start` resumes it.
 */
static void
check_violation(struct mstream *s, int64_t refused, uint64_t now)
{
	struct mon *m = s->ms_tenant->mt_mon;
	uint64_t after = s->ms_conf->s_scaling.sc_pause_after_ms;
	char reason[160], err[256], d[32];

	if (refused <= 0) {
		s->ms_violating_ms = 0;
		return;
	}
	if (s->ms_violating_ms == 0)
		s->ms_violating_ms = now;
	if (after == 0 || s->ms_paused || now - s->ms_violating_ms < after ||
	    strcmp(s->ms_stats.st_state, "running") != 0)
		return;
	units_fmt_duration(after, d, sizeof(d));
	snprintf(reason, sizeof(reason), "monitor: messages refused for %s "
	    "(pause_after)", d);
	if (smgrctl_request(m->m_ctl, "drain", s->ms_tenant->mt_id, s->ms_name,
	    -1, reason, err, sizeof(err)) < 0) {
		m->m_ctl_failures++;
		dash_line(m->m_dash, s->ms_tenant->mt_id, s->ms_name,
		    "pause-failed", "%s (%s)", reason, err);
		return;
	}
	s->ms_paused = true;
	dash_line(m->m_dash, s->ms_tenant->mt_id, s->ms_name, "pause",
	    "intake paused (drain): %s; `mysimbdp start %s --stream %s` "
	    "resumes it", reason, s->ms_tenant->mt_id, s->ms_name);
	log_warnx("tenant %s: stream %s: intake paused: %s",
	    s->ms_tenant->mt_id, s->ms_name, reason);
}

void
view_stats(struct mon *m, const char *tenant, const char *stream,
    const struct mstats *st)
{
	struct mtenant *t = mtenant_find(m, tenant);
	struct mstream *s = t ? mtenant_stream(t, stream) : NULL;
	uint64_t now = clock_mono_ms();
	int64_t rejected, throttled, violations;

	if (s == NULL) {
		log_debug("statistics of %s/%s: not in the profiles", tenant,
		    stream);
		return;
	}
	s->ms_prev = s->ms_have_stats ? s->ms_stats : *st;
	s->ms_stats = *st;
	s->ms_have_stats = true;
	s->ms_stats_ms = now;
	rejected = delta(st->st_rejected, s->ms_prev.st_rejected);
	throttled = delta(st->st_throttled, s->ms_prev.st_throttled);
	violations = delta(st->st_too_large, s->ms_prev.st_too_large) +
	    delta(st->st_rate_limited, s->ms_prev.st_rate_limited) +
	    delta(st->st_queue_full, s->ms_prev.st_queue_full);
	s->ms_tick_rejected += rejected;
	s->ms_tick_throttled += throttled;
	s->ms_tick_dead += delta(st->st_dead_letters,
	    s->ms_prev.st_dead_letters);
	/* Started again (by an operator) after a pause. */
	if (s->ms_paused && strcmp(st->st_state, "running") == 0 &&
	    strcmp(s->ms_prev.st_state, "running") != 0) {
		s->ms_paused = false;
		s->ms_violating_ms = 0;
	}
	check_violation(s, violations, now);
	decide(s, now);
}

void
view_event(struct mon *m, const char *tenant, const char *stream,
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

void
view_ctl_done(struct mon *m, const char *cmd, const char *tenant,
    const char *stream, bool ok, const char *detail)
{
	if (ok)
		return;
	m->m_ctl_failures++;
	dash_line(m->m_dash, tenant, stream, "request-failed", "%s: %s", cmd,
	    detail);
	log_warnx("tenant %s: stream %s: %s request: %s", tenant, stream, cmd,
	    detail);
}

/* ---- the dashboard ------------------------------------------------- */

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
	    "out=%.1f/s backlog=%lld inflight=%lld ingest_avg=%s "
	    "ingest_max=%s messages=%llu errors=%llu reports=%llu",
	    st->st_state, (long long)st->st_running,
	    (long long)st->st_desired, (long long)st->st_min,
	    (long long)st->st_max, st->st_in_rate, st->st_out_rate,
	    (long long)st->st_backlog, (long long)st->st_inflight, avg, max,
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
	memset(&t->mt_batch_tick, 0, sizeof(t->mt_batch_tick));
	memset(t->mt_dropped_tick, 0, sizeof(t->mt_dropped_tick));
}

/* Forgets instances that have not reported for report_ttl. */
static void
expire(struct mon *m, struct mstream *s, uint64_t now)
{
	uint64_t ttl = m->m_conf->p_monitor.pm_report_ttl_ms;
	struct minst *i;

	while ((i = TAILQ_FIRST(&s->ms_insts)) != NULL &&
	    now - i->mi_at_ms > ttl) {
		TAILQ_REMOVE(&s->ms_insts, i, mi_entry);
		free(i);
	}
}

void
view_tick(struct mon *m)
{
	uint64_t now = clock_mono_ms();
	struct mtenant *t;
	struct mstream *s;

	TAILQ_FOREACH(t, &m->m_tenants, mt_entry) {
		TAILQ_FOREACH(s, &t->mt_streams, ms_entry) {
			expire(m, s, now);
			stream_line(m, s, now);
			stream_events(m, s);
			memset(&s->ms_tick, 0, sizeof(s->ms_tick));
		}
		tenant_lines(m, t);
	}
}
