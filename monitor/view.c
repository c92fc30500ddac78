#include "view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bson/bson.h>

#include "clock.h"
#include "dash.h"
#include "log.h"
#include "mtenant.h"

/* Instances remembered per stream (each one's last report). */
#define INSTS_MAX	1024

/* ---- reports ------------------------------------------------------- */

/*
 * Adds a report's figures to g. Its counts by rule are kept for a batch
 * app only (view_report); a stream's come from streammgr's statistics.
 */
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
		for (size_t k = 0; k < r->r_nrules; k++)
			(void)rule_count_add(t->mt_batch_rules.r_slot,
			    &t->mt_batch_rules.r_n, MRULES,
			    r->r_rules[k].rr_name,
			    (uint64_t)r->r_rules[k].rr_rejected);
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

/* ---- statistics ---------------------------------------------------- */

bool
view_stats_fresh(const struct mon *m, const struct mstream *s,
    uint64_t now_ms)
{
	uint64_t every = m->m_conf->p_stream.ps_stats_interval_ms;

	return s->ms_have_stats && now_ms - s->ms_stats_ms <= 3 * every + 1000;
}

/* A counter's growth since the last statistics (streammgr restarted: all). */
static int64_t
delta(int64_t now, int64_t before)
{
	return now >= before ? now - before : now;
}

/*
 * The THROTTLEs that are the tenant's doing: over its rate or its queue
 * quota. streammgr's `throttled` also counts those while draining or
 * stopping and for a full disk, which the tenant did not cause.
 */
static int64_t
tenant_throttles(const struct mstats *st, const struct mstats *prev)
{
	return delta(st->st_rate_limited, prev->st_rate_limited) +
	    delta(st->st_queue_full, prev->st_queue_full);
}

struct mstream *
view_stats(struct mon *m, const char *tenant, const char *stream,
    const struct mstats *st, const struct mrules *rules, uint64_t now)
{
	struct mtenant *t = mtenant_find(m, tenant);
	struct mstream *s = t ? mtenant_stream(t, stream) : NULL;

	if (s == NULL) {
		log_debug("statistics of %s/%s: not in the profiles", tenant,
		    stream);
		return NULL;
	}
	s->ms_prev = s->ms_have_stats ? s->ms_stats : *st;
	s->ms_stats = *st;
	s->ms_rules = *rules;
	s->ms_have_stats = true;
	s->ms_stats_ms = now;
	s->ms_tick_rejected += delta(st->st_rejected, s->ms_prev.st_rejected);
	/* A refusal for a subscription's backlog is also counted on its
	 * stream, whose line says it: the subscription's would say it
	 * again for messages it never got. */
	s->ms_tick_throttled += s->ms_conf != NULL &&
	    s->ms_conf->s_parent != NULL ?
	    delta(st->st_rate_limited, s->ms_prev.st_rate_limited) :
	    tenant_throttles(st, &s->ms_prev);
	s->ms_tick_dead += delta(st->st_dead_letters,
	    s->ms_prev.st_dead_letters);
	s->ms_qwin_settled += delta(st->st_acked, s->ms_prev.st_acked) +
	    delta(st->st_dead_letters, s->ms_prev.st_dead_letters);
	s->ms_qwin_refused += delta(st->st_quality_rejected,
	    s->ms_prev.st_quality_rejected);
	return s;
}

int64_t
view_quota_refusals(const struct mstream *s)
{
	const struct mstats *st = &s->ms_stats, *prev = &s->ms_prev;

	return delta(st->st_too_large, prev->st_too_large) +
	    tenant_throttles(st, prev);
}

/* Forgets s's instances that have not reported for report_ttl. */
static void
expire(struct mstream *s, uint64_t ttl, uint64_t now)
{
	struct minst *i;

	while ((i = TAILQ_FIRST(&s->ms_insts)) != NULL &&
	    now - i->mi_at_ms > ttl) {
		TAILQ_REMOVE(&s->ms_insts, i, mi_entry);
		free(i);
	}
}

void
view_expire(struct mon *m, uint64_t now_ms)
{
	uint64_t ttl = m->m_conf->p_monitor.pm_report_ttl_ms;
	struct mtenant *t;
	struct mstream *s;

	TAILQ_FOREACH(t, &m->m_tenants, mt_entry)
		TAILQ_FOREACH(s, &t->mt_streams, ms_entry)
			expire(s, ttl, now_ms);
}
