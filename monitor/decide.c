#include "decide.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <bson/bson.h>

#include "dash.h"
#include "log.h"
#include "mtenant.h"
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
 * Asks streammgr to drain s (the pause) while it runs and no drain is
 * asked or taken; reason says why. It is paused once streammgr says ok
 * (pause_done); a drain that fails leaves it to the next statistics.
 */
static void
pause_stream(struct mstream *s, const char *reason)
{
	struct mon *m = s->ms_tenant->mt_mon;
	const struct conf_stream *of = s->ms_conf->s_parent;
	struct mstream *p;
	char err[256], why[300];

	/* A subscription has no intake of its own: draining it would only
	 * stop its copies, so its stream's intake is paused instead. */
	if (of != NULL && (p = mtenant_stream(s->ms_tenant, of->s_name)) !=
	    NULL) {
		snprintf(why, sizeof(why), "subscription %s: %s", s->ms_name,
		    reason);
		reason = why;
		s = p;
	}
	if (s->ms_pause != MP_NONE || strcmp(s->ms_stats.st_state,
	    "running") != 0)
		return;
	if (smgrctl_request(m->m_ctl, "drain", s->ms_tenant->mt_id, s->ms_name,
	    -1, reason, err, sizeof(err)) < 0) {
		m->m_ctl_failures++;
		dash_line(m->m_dash, s->ms_tenant->mt_id, s->ms_name,
		    "pause-failed", "%s (%s)", reason, err);
		return;
	}
	s->ms_pause = MP_ASKED;
	snprintf(s->ms_pause_why, sizeof(s->ms_pause_why), "%s", reason);
}

/* What became of the drain asked for s: paused, or not (yet). */
static void
pause_done(struct mstream *s, bool ok)
{
	struct mon *m = s->ms_tenant->mt_mon;

	if (s->ms_pause != MP_ASKED)
		return;
	if (!ok) {
		s->ms_pause = MP_NONE;
		return;
	}
	s->ms_pause = MP_PAUSED;
	dash_line(m->m_dash, s->ms_tenant->mt_id, s->ms_name, "pause",
	    "intake paused (drain): %s; `mysimbdp start %s --stream %s` "
	    "resumes it", s->ms_pause_why, s->ms_tenant->mt_id, s->ms_name);
	log_warnx("tenant %s: stream %s: intake paused: %s",
	    s->ms_tenant->mt_id, s->ms_name, s->ms_pause_why);
}

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
	uint64_t after = s->ms_conf->s_scaling.sc_pause_after_ms;
	char reason[160], d[32];

	if (refused <= 0) {
		s->ms_violating_ms = 0;
		return;
	}
	if (s->ms_violating_ms == 0)
		s->ms_violating_ms = now;
	if (after == 0 || now - s->ms_violating_ms < after)
		return;
	units_fmt_duration(after, d, sizeof(d));
	snprintf(reason, sizeof(reason), "monitor: messages refused for %s "
	    "(pause_after)", d);
	pause_stream(s, reason);
}

/*
 * A stream's data quality (docs/quality.md): the share of its settled
 * messages (acked or dead-lettered) that an instance rejected for a
 * quality rule, over each window. Over max_rejected_percent, a violation
 * (dashboard and metrics.jsonl), and with pause the stream is drained.
 */
static void
check_quality(struct mstream *s, uint64_t now)
{
	const struct conf_quality *q = &s->ms_conf->s_quality;
	struct mon *m = s->ms_tenant->mt_mon;
	int64_t settled = s->ms_qwin_settled, refused = s->ms_qwin_refused;
	char reason[200], d[32];
	bson_t rec = BSON_INITIALIZER;

	if (!q->q_enabled || q->q_max_rejected_percent >= 100) {
		s->ms_qwin_ms = 0;
		return;
	}
	if (s->ms_qwin_ms == 0 || now - s->ms_qwin_ms < q->q_window_ms) {
		if (s->ms_qwin_ms == 0) {
			s->ms_qwin_ms = now;
			s->ms_qwin_settled = s->ms_qwin_refused = 0;
		}
		return;
	}
	s->ms_qwin_ms = now;
	s->ms_qwin_settled = s->ms_qwin_refused = 0;
	if (settled <= 0 || refused * 100 <= q->q_max_rejected_percent *
	    settled)
		return;
	units_fmt_duration(q->q_window_ms, d, sizeof(d));
	snprintf(reason, sizeof(reason), "monitor: quality: %" PRId64 " of "
	    "%" PRId64 " messages (%.1f%%) refused by quality rules in %s, "
	    "over max_rejected_percent %" PRId64, refused, settled,
	    100.0 * (double)refused / (double)settled, d,
	    q->q_max_rejected_percent);
	dash_line(m->m_dash, s->ms_tenant->mt_id, s->ms_name,
	    "quality-violation", "%s", reason + strlen("monitor: "));
	BSON_APPEND_UTF8(&rec, "tenant", s->ms_tenant->mt_id);
	BSON_APPEND_UTF8(&rec, "stream", s->ms_name);
	BSON_APPEND_INT64(&rec, "settled", settled);
	BSON_APPEND_INT64(&rec, "refused", refused);
	BSON_APPEND_INT64(&rec, "max_rejected_percent",
	    q->q_max_rejected_percent);
	BSON_APPEND_INT64(&rec, "window_ms", (int64_t)q->q_window_ms);
	dash_record(m->m_dash, "quality-violation", &rec);
	bson_destroy(&rec);
	if (q->q_pause)
		pause_stream(s, reason);
}

void
decide_stats(struct mstream *s, uint64_t now)
{
	/* Started again (by an operator) after a pause. */
	if (s->ms_pause == MP_PAUSED && strcmp(s->ms_stats.st_state,
	    "running") == 0 && strcmp(s->ms_prev.st_state, "running") != 0) {
		s->ms_pause = MP_NONE;
		s->ms_violating_ms = 0;
	}
	check_violation(s, view_quota_refusals(s), now);
	check_quality(s, now);
	run_policy(s, now);
}

void
decide_ctl_done(struct mon *m, const char *cmd, const char *tenant,
    const char *stream, bool ok, const char *detail)
{
	struct mtenant *t;
	struct mstream *s;

	/* The stream may have gone with its profile while it waited. */
	if (strcmp(cmd, "drain") == 0 && (t = mtenant_find(m, tenant)) !=
	    NULL && (s = mtenant_stream(t, stream)) != NULL)
		pause_done(s, ok);
	if (ok)
		return;
	m->m_ctl_failures++;
	dash_line(m->m_dash, tenant, stream, "request-failed", "%s: %s", cmd,
	    detail);
	log_warnx("tenant %s: stream %s: %s request: %s", tenant, stream, cmd,
	    detail);
}
