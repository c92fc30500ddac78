#include "scontrol.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bson/bson.h>
#include <zmq.h>

#include "applog.h"
#include "clock.h"
#include "ctlsock.h"
#include "lifecycle.h"
#include "log.h"
#include "publish.h"
#include "queue.h"
#include "remote.h"
#include "state.h"
#include "stream.h"
#include "supervise.h"

#define REASON_MAX	200

static int handle(const bson_t *, bson_t *, char *, size_t, void *);

int
scontrol_init(struct smgr *m, char *err, size_t errlen)
{
	char *ctl = state_path(m->m_conf, "run/streammgr.ctl");
	char *pub = state_path(m->m_conf, "run/streammgr.pub");
	int rc = -1;

	if ((m->m_ctl = ctlsock_open(m->m_base, m->m_zctx, ctl, handle, m,
	    err, errlen)) != NULL &&
	    (m->m_pub = ctlsock_bind(m->m_zctx, ZMQ_PUB, pub, err,
	    errlen)) != NULL)
		rc = 0;
	free(ctl);
	free(pub);
	return rc;
}

void
scontrol_free(struct smgr *m)
{
	ctlsock_close(m->m_ctl);
	if (m->m_pub)
		zmq_close(m->m_pub);
	m->m_ctl = NULL;
	m->m_pub = NULL;
}

/* ---- statistics ---------------------------------------------------- */

static void
append_instances(const struct stream *s, bson_t *doc)
{
	uint64_t now = clock_mono_ms();
	const struct instance *i;
	bson_t arr, item;
	char key[16];
	uint32_t n = 0;

	BSON_APPEND_ARRAY_BEGIN(doc, "instances", &arr);
	TAILQ_FOREACH(i, &s->s_instances, i_entry) {
		snprintf(key, sizeof(key), "%u", n++);
		BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &item);
		BSON_APPEND_UTF8(&item, "id", i->i_id);
		BSON_APPEND_INT32(&item, "pid", (int32_t)i->i_pid);
		BSON_APPEND_UTF8(&item, "state", lifecycle_inst_name(i->i_state));
		BSON_APPEND_INT64(&item, "inflight", i->i_inflight);
		BSON_APPEND_INT64(&item, "credit", i->i_credit);
		BSON_APPEND_BOOL(&item, "batch", i->i_batch);
		BSON_APPEND_INT64(&item, "acked", (int64_t)i->i_acked);
		BSON_APPEND_INT64(&item, "stray_acks",
		    (int64_t)i->i_stray_acks);
		BSON_APPEND_INT64(&item, "uptime_ms",
		    (int64_t)(now - i->i_started_ms));
		bson_append_document_end(&arr, &item);
	}
	bson_append_array_end(doc, &arr);
}

/* Quality rejections per rule since streammgr started. */
static void
append_rules(const struct squality *sq, bson_t *doc)
{
	bson_t rules;

	BSON_APPEND_DOCUMENT_BEGIN(doc, "quality_rules", &rules);
	for (size_t i = 0; i < sq->sq_nrules; i++)
		BSON_APPEND_INT64(&rules, sq->sq_rules[i].rc_name,
		    (int64_t)sq->sq_rules[i].rc_n);
	bson_append_document_end(doc, &rules);
}

/* The queue on disk and what the last start recovered. */
static void
append_disk(const struct stream *s, bson_t *doc)
{
	const struct stream *root = s->s_source ? s->s_source : s;
	const struct journal_report *r = &root->s_recovery;
	uint64_t segments, bytes;
	bson_t sub;

	journal_usage(root->s_journal, &segments, &bytes);
	BSON_APPEND_UTF8(doc, "durability", s->s_conf->s_durability);
	BSON_APPEND_INT64(doc, "disk_segments", (int64_t)segments);
	BSON_APPEND_INT64(doc, "disk_bytes", (int64_t)bytes);
	BSON_APPEND_DOCUMENT_BEGIN(doc, "recovered", &sub);
	BSON_APPEND_INT64(&sub, "messages", (int64_t)r->r_messages);
	BSON_APPEND_INT64(&sub, "torn_bytes", (int64_t)r->r_torn_bytes);
	BSON_APPEND_INT64(&sub, "damaged_segments", (int64_t)r->r_damaged);
	BSON_APPEND_INT64(&sub, "damaged_kept", (int64_t)r->r_kept);
	BSON_APPEND_INT64(&sub, "bad_bytes", (int64_t)r->r_bad_bytes);
	BSON_APPEND_INT64(&sub, "lost", (int64_t)r->r_lost);
	BSON_APPEND_INT64(&sub, "uncounted", (int64_t)r->r_uncounted);
	bson_append_document_end(doc, &sub);
}

/* One stream's figures, as status answers and the PUB socket sends. */
static void
stats_doc(const struct stream *s, bson_t *doc)
{
	const struct conf_instances *in = &s->s_conf->s_instances;
	const struct stream_counters *n = &s->s_n;

	publish_append_time(doc);
	BSON_APPEND_UTF8(doc, "tenant", s->s_tid);
	BSON_APPEND_UTF8(doc, "stream", s->s_name);
	BSON_APPEND_UTF8(doc, "state", lifecycle_stream_name(&s->s_sv));
	BSON_APPEND_INT32(doc, "desired", s->s_desired);
	BSON_APPEND_INT32(doc, "running", lifecycle_running(s));
	BSON_APPEND_INT32(doc, "min", (int32_t)in->i_min);
	BSON_APPEND_INT32(doc, "max", (int32_t)in->i_max);
	BSON_APPEND_INT64(doc, "backlog", (int64_t)s->s_queue.q_pending);
	BSON_APPEND_INT64(doc, "inflight", (int64_t)s->s_queue.q_ninflight);
	BSON_APPEND_INT64(doc, "queue_bytes", (int64_t)s->s_queue.q_bytes);
	BSON_APPEND_INT64(doc, "lag", (int64_t)stream_lag(s));
	if (s->s_source != NULL)
		BSON_APPEND_UTF8(doc, "subscription_of", s->s_source->s_name);
	BSON_APPEND_DOUBLE(doc, "in_rate", s->s_in_rate);
	BSON_APPEND_DOUBLE(doc, "out_rate", s->s_out_rate);
	BSON_APPEND_INT64(doc, "accepted", (int64_t)n->accepted);
	BSON_APPEND_INT64(doc, "batches", (int64_t)n->batches);
	BSON_APPEND_INT64(doc, "acked", (int64_t)n->acked);
	BSON_APPEND_INT64(doc, "redelivered", (int64_t)n->redelivered);
	BSON_APPEND_INT64(doc, "dead_letters", (int64_t)n->dead_letters);
	BSON_APPEND_INT64(doc, "quality_rejected",
	    (int64_t)n->quality_rejected);
	BSON_APPEND_INT64(doc, "rejected", (int64_t)n->rejected);
	BSON_APPEND_INT64(doc, "throttled", (int64_t)n->throttled);
	BSON_APPEND_INT64(doc, "too_large", (int64_t)n->too_large);
	BSON_APPEND_INT64(doc, "rate_limited", (int64_t)n->rate_limited);
	BSON_APPEND_INT64(doc, "queue_full", (int64_t)n->queue_full);
	BSON_APPEND_INT64(doc, "no_space", (int64_t)n->no_space);
	BSON_APPEND_INT64(doc, "no_memory", (int64_t)n->no_memory);
	BSON_APPEND_INT64(doc, "restarts", (int64_t)n->restarts);
	BSON_APPEND_INT64(doc, "stray_acks", (int64_t)n->stray_acks);
	append_rules(&s->s_quality, doc);
	append_disk(s, doc);
	append_instances(s, doc);
}

void
scontrol_publish_stats(struct smgr *m)
{
	uint64_t now = clock_mono_ms();
	struct stream *s;

	TAILQ_FOREACH(s, &m->m_streams, s_entry) {
		double secs = (double)(now - s->s_last_tick_ms) / 1000.0;
		bson_t doc = BSON_INITIALIZER;

		if (secs > 0) {
			s->s_in_rate = (double)(s->s_n.accepted -
			    s->s_last.accepted) / secs;
			s->s_out_rate = (double)(s->s_n.acked -
			    s->s_last.acked) / secs;
		}
		s->s_last = s->s_n;
		s->s_last_tick_ms = now;
		stats_doc(s, &doc);
		publish_doc(m, "stats", s, &doc);
		bson_destroy(&doc);
	}
}

/* ---- requests ------------------------------------------------------ */

#define IDS_MAX 1000

struct request {
	const char	*r_cmd;
	const char	*r_tenant;
	const char	*r_stream;
	int64_t		 r_instances;
	bool		 r_has_instances;
	const char	*r_reason;
	uint64_t	 r_ids[IDS_MAX];	/* requeue */
	size_t		 r_nids;
	bool		 r_has_ids;
};

static int
read_string(bson_iter_t *it, const char **dst, char *err, size_t errlen)
{
	if (!BSON_ITER_HOLDS_UTF8(it))
		return ctlsock_fail(err, errlen, "%s: must be a string",
		    bson_iter_key(it));
	*dst = bson_iter_utf8(it, NULL);
	return 0;
}

/* "ids": an array of positive integers. */
static int
read_ids(bson_iter_t *it, struct request *r, char *err, size_t errlen)
{
	bson_iter_t sub;

	if (!BSON_ITER_HOLDS_ARRAY(it) || !bson_iter_recurse(it, &sub))
		return ctlsock_fail(err, errlen, "ids: must be an array of "
		    "integers");
	while (bson_iter_next(&sub)) {
		int64_t id;

		if (!BSON_ITER_HOLDS_INT32(&sub) &&
		    !BSON_ITER_HOLDS_INT64(&sub))
			return ctlsock_fail(err, errlen, "ids: must be an "
			    "array of integers");
		if ((id = bson_iter_as_int64(&sub)) < 1)
			return ctlsock_fail(err, errlen, "ids: %lld is not an "
			    "id", (long long)id);
		if (r->r_nids == IDS_MAX)
			return ctlsock_fail(err, errlen, "ids: more than %d",
			    IDS_MAX);
		r->r_ids[r->r_nids++] = (uint64_t)id;
	}
	if (r->r_nids == 0)
		return ctlsock_fail(err, errlen, "ids: empty (leave it out "
		    "for all)");
	r->r_has_ids = true;
	return 0;
}

/* What the command takes, checked before any stream is looked at. */
static int
check_command(const struct request *r, char *err, size_t errlen)
{
	static const char *const cmds[] = { "status", "start", "stop",
	    "drain", "scale", "requeue", "reload" };
	size_t k;

	for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]) &&
	    strcmp(r->r_cmd, cmds[k]) != 0; k++)
		;
	if (k == sizeof(cmds) / sizeof(cmds[0]))
		return ctlsock_fail(err, errlen, "cmd: unknown command \"%s\" "
		    "(status, start, stop, drain, scale, requeue, reload)",
		    r->r_cmd);
	if (r->r_has_instances && strcmp(r->r_cmd, "scale") != 0)
		return ctlsock_fail(err, errlen, "%s: instances: only for "
		    "scale", r->r_cmd);
	if (r->r_has_ids && strcmp(r->r_cmd, "requeue") != 0)
		return ctlsock_fail(err, errlen, "%s: ids: only for requeue",
		    r->r_cmd);
	if (r->r_tenant != NULL && strcmp(r->r_cmd, "reload") == 0)
		return ctlsock_fail(err, errlen, "reload: tenant: reload "
		    "rereads every profile");
	if (r->r_tenant == NULL && strcmp(r->r_cmd, "status") != 0 &&
	    strcmp(r->r_cmd, "reload") != 0)
		return ctlsock_fail(err, errlen, "%s: tenant: missing",
		    r->r_cmd);
	return 0;
}

/*
 * Reads the request's fields and checks them against its command; any
 * unknown or mistyped field is an error.
 */
static int
parse_request(const bson_t *doc, struct request *r, char *err, size_t errlen)
{
	static const char *const fields[] = { "cmd", "tenant", "stream",
	    "reason", "instances", "ids" };
	unsigned seen = 0;
	bson_iter_t it;

	memset(r, 0, sizeof(*r));
	if (!bson_iter_init(&it, doc))
		return ctlsock_fail(err, errlen, "not a JSON object");
	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);
		size_t f;
		int rc = 0;

		for (f = 0; f < sizeof(fields) / sizeof(fields[0]) &&
		    strcmp(key, fields[f]) != 0; f++)
			;
		if (f == sizeof(fields) / sizeof(fields[0]))
			return ctlsock_fail(err, errlen, "%s: unknown field",
			    key);
		/* Which one would count is anyone's guess: neither. */
		if (seen & 1u << f)
			return ctlsock_fail(err, errlen, "%s: given twice",
			    key);
		seen |= 1u << f;
		if (strcmp(key, "cmd") == 0)
			rc = read_string(&it, &r->r_cmd, err, errlen);
		else if (strcmp(key, "tenant") == 0)
			rc = read_string(&it, &r->r_tenant, err, errlen);
		else if (strcmp(key, "stream") == 0)
			rc = read_string(&it, &r->r_stream, err, errlen);
		else if (strcmp(key, "reason") == 0)
			rc = read_string(&it, &r->r_reason, err, errlen);
		else if (strcmp(key, "instances") == 0) {
			if (!BSON_ITER_HOLDS_INT32(&it) &&
			    !BSON_ITER_HOLDS_INT64(&it))
				return ctlsock_fail(err, errlen, "instances: "
				    "must be an integer");
			r->r_instances = bson_iter_as_int64(&it);
			r->r_has_instances = true;
		} else	/* ids */
			rc = read_ids(&it, r, err, errlen);
		if (rc < 0)
			return -1;
	}
	if (r->r_cmd == NULL)
		return ctlsock_fail(err, errlen, "cmd: missing");
	if (r->r_reason && strlen(r->r_reason) > REASON_MAX)
		return ctlsock_fail(err, errlen, "reason: longer than %d bytes",
		    REASON_MAX);
	return check_command(r, err, errlen);
}

int
scontrol_check(const bson_t *doc, char *err, size_t errlen)
{
	struct request r;

	return parse_request(doc, &r, err, errlen);
}

/*
 * The streams a request names: all of them for status without a tenant,
 * else the tenant's (one when "stream" is given). Returns how many were
 * put in *out (every one: status lists them all; free it), or -1 with
 * err.
 */
static int
select_streams(struct smgr *m, const struct request *r,
    struct stream ***out, char *err, size_t errlen)
{
	struct stream *s, **v = NULL;
	bool tenant_known = false;
	size_t cap = 0;
	int n = 0;

	TAILQ_FOREACH(s, &m->m_streams, s_entry) {
		if (s->s_sv.sv_state == SV_RETIRING)
			continue;
		if (r->r_tenant && strcmp(s->s_tid, r->r_tenant) != 0)
			continue;
		tenant_known = true;
		if (r->r_stream && strcmp(s->s_name, r->r_stream) != 0)
			continue;
		if ((size_t)n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((v = reallocarray(v, cap, sizeof(*v))) == NULL)
				fatal("%s: reallocarray", __func__);
		}
		v[n++] = s;
	}
	*out = v;
	if (r->r_tenant && !tenant_known)
		return ctlsock_fail(err, errlen, "%s: unknown tenant \"%s\" "
		    "(or it has no streams)", r->r_cmd, r->r_tenant);
	if (r->r_stream && n == 0)
		return ctlsock_fail(err, errlen, "%s: tenant %s has no stream "
		    "\"%s\"", r->r_cmd, r->r_tenant ? r->r_tenant : "?",
		    r->r_stream);
	return n;
}

static void
reply_streams(struct stream **v, int n, bson_t *reply)
{
	bson_t arr, item;
	char key[16];

	BSON_APPEND_ARRAY_BEGIN(reply, "streams", &arr);
	for (int k = 0; k < n; k++) {
		snprintf(key, sizeof(key), "%d", k);
		BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &item);
		stats_doc(v[k], &item);
		bson_append_document_end(&arr, &item);
	}
	bson_append_array_end(reply, &arr);
}

static int
do_scale(struct stream *s, const struct request *r, bson_t *reply, char *err,
    size_t errlen)
{
	const struct conf_instances *in = &s->s_conf->s_instances;
	int64_t want = r->r_instances;
	int previous = s->s_desired, desired;
	const char *reason = r->r_reason ? r->r_reason : "";
	char detail[REASON_MAX + 64];

	if (!r->r_has_instances)
		return ctlsock_fail(err, errlen, "scale: instances: missing");
	if (want < 0)
		return ctlsock_fail(err, errlen, "scale: instances: must not "
		    "be negative");
	desired = (int)(want < in->i_min ? in->i_min :
	    want > in->i_max ? in->i_max : want);
	s->s_desired = desired;
	if (desired != previous) {
		snprintf(detail, sizeof(detail), "%d -> %d: %s", previous,
		    desired, reason);
		log_info("tenant %s: stream %s: scale %s", s->s_tid, s->s_name,
		    detail);
		publish_event(s, "scale", detail);
	}
	supervise_reconcile(s);
	BSON_APPEND_UTF8(reply, "tenant", s->s_tid);
	BSON_APPEND_UTF8(reply, "stream", s->s_name);
	BSON_APPEND_INT32(reply, "previous", previous);
	BSON_APPEND_INT32(reply, "desired", desired);
	BSON_APPEND_BOOL(reply, "clamped", desired != want);
	return 0;
}

static int
do_requeue(struct stream *s, const struct request *r, bson_t *reply,
    char *err, size_t errlen)
{
	struct requeue_result res;

	if (stream_requeue(s, r->r_ids, r->r_nids, &res, err, errlen) < 0)
		return -1;
	BSON_APPEND_UTF8(reply, "tenant", s->s_tid);
	BSON_APPEND_UTF8(reply, "stream", s->s_name);
	BSON_APPEND_INT64(reply, "requeued", (int64_t)res.rq_requeued);
	if (res.rq_left > 0) {
		BSON_APPEND_INT64(reply, "left", (int64_t)res.rq_left);
		BSON_APPEND_UTF8(reply, "full", res.rq_full);
	}
	if (res.rq_never > 0)
		BSON_APPEND_INT64(reply, "too_large", (int64_t)res.rq_never);
	/* Queued, and still in the file: the operator must know. */
	if (res.rq_kept)
		BSON_APPEND_UTF8(reply, "still_in_file", err);
	return 0;
}

/*
 * Carries out a parsed (and checked) request, filling reply. Returns 0 or
 * -1 (err).
 */
static int
execute(struct smgr *m, const struct request *r, bson_t *reply, char *err,
    size_t errlen)
{
	struct stream **v;
	bool status = strcmp(r->r_cmd, "status") == 0;
	bool scale = strcmp(r->r_cmd, "scale") == 0;
	enum sv_event act = SE_NEVENTS;
	int n, rc = 0;

	if (strcmp(r->r_cmd, "start") == 0)
		act = SE_START;
	else if (strcmp(r->r_cmd, "stop") == 0)
		act = SE_STOP;
	else if (strcmp(r->r_cmd, "drain") == 0)
		act = SE_DRAIN;
	if (strcmp(r->r_cmd, "reload") == 0) {
		/* SIGHUP's path, once this turn of the loop is over. */
		log_info("reload (control request)");
		raise(SIGHUP);
		BSON_APPEND_BOOL(reply, "reloading", true);
		return 0;
	}
	n = select_streams(m, r, &v, err, errlen);
	if (n < 0)
		rc = -1;
	else if (status) {
		reply_streams(v, n, reply);
		/* The node's bound on what its queues hold, every tenant's. */
		BSON_APPEND_INT64(reply, "queue_memory",
		    (int64_t)queue_memory());
		BSON_APPEND_INT64(reply, "max_memory", (int64_t)m->m_max_memory);
		remote_stats(m, reply);
		applog_status(reply, r->r_tenant);
	} else if (act == SE_NEVENTS) {	/* scale, requeue: one stream */
		if (n != 1)
			rc = ctlsock_fail(err, errlen, "%s: tenant %s has %d "
			    "streams: name one with \"stream\"", r->r_cmd,
			    r->r_tenant, n);
		else
			rc = scale ? do_scale(v[0], r, reply, err, errlen) :
			    do_requeue(v[0], r, reply, err, errlen);
	} else {
		for (int k = 0; k < n; k++) {
			log_info("tenant %s: stream %s: %s (control request)",
			    v[k]->s_tid, v[k]->s_name, r->r_cmd);
			supervise_event(v[k], act);
		}
		reply_streams(v, n, reply);
	}
	free(v);
	return rc;
}

/* A parsed request, carried out: the handler of the control socket. */
static int
handle(const bson_t *doc, bson_t *reply, char *err, size_t errlen,
    void *arg)
{
	struct request r;

	if (parse_request(doc, &r, err, errlen) < 0)
		return -1;
	return execute(arg, &r, reply, err, errlen);
}

char *
scontrol_handle(struct smgr *m, const char *req, size_t len)
{
	return ctlsock_answer(req, len, handle, m);
}
