#include "decide.h"

#include <stdio.h>
#include <string.h>

#include <bson/bson.h>

#include "dash.h"
#include "log.h"
#include "smgrctl.h"
#include "units.h"
#include "view.h"

/* ---- the policy ---------------------------------------------------- */

/* The dashboard's and the record's name of a change. */
static const char *
action_name(const struct policy_decision *d)
{
	return d->pd_action == PA_UP ? "scale-up" : "scale-down";
}

static void
record_decision(struct mstream *s, const struct policy_decision *d, int from,
    const char *error)
{
	bson_t doc = BSON_INITIALIZER;

	BSON_APPEND_UTF8(&doc, "tenant", s->ms_tenant->mt_id);
	BSON_APPEND_UTF8(&doc, "stream", s->ms_name);
	BSON_APPEND_UTF8(&doc, "action", action_name(d));
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
	const char *kind = action_name(d);
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

/*
 * Takes the ingest time the decision reads; then, on a running stream
 * whose profile scales, the policy's decision, sent when it is a change.
 */
static void
run_policy(struct mstream *s, uint64_t now)
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

/* ---- violations and the pause -------------------------------------- */

/*
 * Messages refused for the stream's quotas (max_message_size,
 * max_messages_per_second, max_queue_bytes) are violations; refusals
 * while draining or for a full disk are not the tenant's doing. When
 * they go on for the profile's pause_after, the monitor drains the
 * stream: new messages are refused, the backlog is delivered, and
 * `mysimbdp start` resumes it.
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
decide_stats(struct mstream *s, uint64_t now)
{
	/* Started again (by an operator) after a pause. */
	if (s->ms_paused && strcmp(s->ms_stats.st_state, "running") == 0 &&
	    strcmp(s->ms_prev.st_state, "running") != 0) {
		s->ms_paused = false;
		s->ms_violating_ms = 0;
	}
	check_violation(s, view_quota_refusals(s), now);
	run_policy(s, now);
}

void
decide_ctl_done(struct mon *m, const char *cmd, const char *tenant,
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
