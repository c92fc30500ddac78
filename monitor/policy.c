/*
 * HPA-like scaling (see policy.h). Kubernetes' documented rule is
 * desiredReplicas = ceil(currentReplicas * currentMetric / targetMetric),
 * skipped when the ratio is within the tolerance (0.1 by default), with
 * scale-up at once and scale-down over a stabilisation window (the
 * highest recommendation in it). The cooldown is mysimbdp's: no two
 * changes closer than it, so a burst cannot make instances come and go.
 */
#include "policy.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "units.h"

/* One metric's recommendation and why. */
struct rec {
	int		 r_count;
	char		 r_why[120];
};

void
policy_params_from_conf(const struct conf_stream *c, struct policy_params *pp)
{
	const struct conf_scaling *sc = &c->s_scaling;

	memset(pp, 0, sizeof(*pp));
	pp->pp_min = (int)c->s_instances.i_min;
	pp->pp_max = (int)c->s_instances.i_max;
	pp->pp_target_backlog = sc->sc_target_backlog;
	pp->pp_max_ingest_us = (double)sc->sc_max_ingest_time_ms * 1000.0;
	pp->pp_tolerance_pct = (int)sc->sc_tolerance_pct;
	pp->pp_down_delay_ms = sc->sc_scale_down_delay_ms;
	pp->pp_cooldown_ms = sc->sc_cooldown_ms;
}

static bool
within_tolerance(double ratio, int pct)
{
	return fabs(ratio - 1.0) <= (double)pct / 100.0;
}

static int
clamp(int64_t n, int lo, int hi)
{
	return n < lo ? lo : n > hi ? hi : (int)n;
}

/*
 * Messages not acked yet (waiting and in flight) per instance against
 * the target. ceil(current * (backlog /
 * current) / target) is ceil(backlog / target), computed in integers; a
 * stream at zero instances with a backlog gets what the backlog needs.
 */
static void
rec_backlog(const struct policy_params *pp, const struct policy_input *in,
    struct rec *r)
{
	int64_t t = pp->pp_target_backlog, b = in->pi_backlog < 0 ? 0 :
	    in->pi_backlog, need = b / t + (b % t != 0);
	double per = in->pi_current > 0 ? (double)b / in->pi_current :
	    (double)b;

	if (in->pi_current > 0 && within_tolerance(per / (double)t,
	    pp->pp_tolerance_pct))
		r->r_count = in->pi_current;
	else
		r->r_count = need > 1 << 20 ? 1 << 20 : (int)need;
	snprintf(r->r_why, sizeof(r->r_why), "unacked %lld (%.0f/instance, "
	    "target %lld)", (long long)b, per, (long long)t);
}

/* Average ingest time per message against the profile's maximum. */
static void
rec_ingest(const struct policy_params *pp, const struct policy_input *in,
    struct rec *r)
{
	double ratio = in->pi_ingest_us / pp->pp_max_ingest_us;
	double want = ceil((double)in->pi_current * ratio);

	if (within_tolerance(ratio, pp->pp_tolerance_pct))
		r->r_count = in->pi_current;
	else
		r->r_count = want > (double)(1 << 20) ? 1 << 20 : (int)want;
	snprintf(r->r_why, sizeof(r->r_why), "ingest time %.2fms/message, "
	    "max %.2fms", in->pi_ingest_us / 1000.0,
	    pp->pp_max_ingest_us / 1000.0);
}

/* The highest recommendation of the metrics that have data. */
static void
recommend(const struct policy_params *pp, const struct policy_input *in,
    struct rec *best)
{
	struct rec r;
	bool any = false;

	memset(best, 0, sizeof(*best));
	if (pp->pp_target_backlog > 0) {
		rec_backlog(pp, in, best);
		any = true;
	}
	if (pp->pp_max_ingest_us > 0 && in->pi_ingest_us >= 0 &&
	    in->pi_current > 0) {
		rec_ingest(pp, in, &r);
		if (!any || r.r_count > best->r_count)
			*best = r;
		any = true;
	}
	if (!any) {
		best->r_count = in->pi_current;
		snprintf(best->r_why, sizeof(best->r_why), "no metric");
	}
}

static bool
cooling(const struct policy_params *pp, const struct policy_state *st,
    uint64_t now)
{
	return st->ps_changed && now - st->ps_changed_ms < pp->pp_cooldown_ms;
}

/* No change; the reason is prefix and the metric's why. */
static void
keep(struct policy_decision *d, int current, const char *prefix,
    const char *why)
{
	d->pd_action = PA_KEEP;
	d->pd_desired = current;
	snprintf(d->pd_reason, sizeof(d->pd_reason), "%s%s", prefix, why);
}

/* Scale-down: only once every recommendation for the delay was lower. */
static void
decide_down(const struct policy_params *pp, struct policy_state *st,
    const struct policy_input *in, uint64_t now, const struct rec *r,
    struct policy_decision *d)
{
	char delay[32];

	/* A count changed elsewhere (an operator, a reload) starts the
	 * window over: what was low for the old count may not be lower
	 * than the new one. */
	if (!st->ps_low || st->ps_low_current != in->pi_current) {
		st->ps_low = true;
		st->ps_low_since_ms = now;
		st->ps_low_max = d->pd_recommended;
		st->ps_low_current = in->pi_current;
	} else if (d->pd_recommended > st->ps_low_max)
		st->ps_low_max = d->pd_recommended;
	if (now - st->ps_low_since_ms < pp->pp_down_delay_ms) {
		keep(d, in->pi_current, "low load, waiting for the scale-down "
		    "delay: ", r->r_why);
		return;
	}
	if (cooling(pp, st, now)) {
		keep(d, in->pi_current, "cooldown: ", r->r_why);
		return;
	}
	units_fmt_duration(pp->pp_down_delay_ms, delay, sizeof(delay));
	d->pd_action = PA_DOWN;
	d->pd_desired = st->ps_low_max;
	snprintf(d->pd_reason, sizeof(d->pd_reason), "%s (low for %s)",
	    r->r_why, delay);
}

void
policy_decide(const struct policy_params *pp, struct policy_state *st,
    const struct policy_input *in, uint64_t now_ms,
    struct policy_decision *d)
{
	struct rec r;

	recommend(pp, in, &r);
	d->pd_recommended = clamp(r.r_count, pp->pp_min, pp->pp_max);
	if (d->pd_recommended < in->pi_current) {
		decide_down(pp, st, in, now_ms, &r, d);
		return;
	}
	st->ps_low = false;
	if (d->pd_recommended == in->pi_current)
		keep(d, in->pi_current, "", r.r_why);
	else if (cooling(pp, st, now_ms))
		keep(d, in->pi_current, "cooldown: ", r.r_why);
	else {
		d->pd_action = PA_UP;
		d->pd_desired = d->pd_recommended;
		snprintf(d->pd_reason, sizeof(d->pd_reason), "%s", r.r_why);
	}
}

void
policy_changed(struct policy_state *st, uint64_t now_ms)
{
	st->ps_changed = true;
	st->ps_changed_ms = now_ms;
	st->ps_low = false;
}
