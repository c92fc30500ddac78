#include "bcontrol.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bson/bson.h>
#include <zmq.h>

#include "applog.h"
#include "check.h"
#include "clock.h"
#include "ctlsock.h"
#include "jsonline.h"
#include "log.h"
#include "record.h"
#include "state.h"
#include "tenant.h"
#include "zap.h"

/* What a tenant holds, counted for one reply. */
struct holding {
	int64_t		 h_incoming;	/* files waiting in incoming/ */
	int64_t		 h_queued;	/* claimed, waiting for a slot */
	int64_t		 h_running;
	int64_t		 h_retrying;	/* waiting out a retry's backoff */
};

/*
 * Files in incoming/[dataset] not claimed yet: regular files whose name
 * says they are complete (partial ones are still being delivered).
 * Dataset folders are counted into when dataset is "".
 */
static int64_t
count_incoming(struct tenant *t, const char *dataset)
{
	int dfd = tenant_open_area(t, AREA_INCOMING, dataset, false);
	struct dirent *de;
	int64_t n = 0;
	DIR *d;

	if (dfd < 0 || (d = fdopendir(dfd)) == NULL) {
		if (dfd >= 0)
			close(dfd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		unsigned char type;

		if (de->d_name[0] == '.')
			continue;
		type = state_entry_type(dirfd(d), de);
		if (type == DT_DIR && *dataset == '\0')
			n += count_incoming(t, de->d_name);
		else if (type == DT_REG && !check_name_partial(de->d_name))
			n++;
	}
	closedir(d);
	return n;
}

static void
count_jobs(const struct batch *b, const struct tenant *t, struct holding *h)
{
	const struct job *j;

	TAILQ_FOREACH(j, &b->b_jobs, j_entry) {
		if (j->j_tenant != t)
			continue;
		switch (j->j_state) {
		case JOB_QUEUED:
			h->h_queued++;
			break;
		case JOB_DECRYPTING:
		case JOB_RUNNING:
			h->h_running++;
			break;
		case JOB_BACKOFF:
		case JOB_RECORDING:
			h->h_retrying++;
			break;
		}
	}
}

static const char *
tenant_state(const struct batch *b, const struct tenant *t)
{
	if (b->b_stopping)
		return "stopping";
	return t->t_retired ? "retired" : "active";
}

/* The tenant's running jobs: which file, app, pid, attempt, since when. */
static void
append_jobs(const struct batch *b, const struct tenant *t, bson_t *doc)
{
	int64_t now = record_now_ms();
	const struct job *j;
	bson_t arr, item;
	char key[16];
	uint32_t n = 0;

	BSON_APPEND_ARRAY_BEGIN(doc, "jobs", &arr);
	TAILQ_FOREACH(j, &b->b_running, j_run_entry) {
		if (j->j_tenant != t)
			continue;
		snprintf(key, sizeof(key), "%u", n++);
		BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &item);
		/* Names as the tenant gave them, as its records show them. */
		jsonline_append_text(&item, "job", j->j_id);
		jsonline_append_text(&item, "dataset", j->j_dataset);
		jsonline_append_text(&item, "file", j->j_name);
		jsonline_append_text(&item, "app", j->j_app->a_name);
		BSON_APPEND_INT32(&item, "pid", (int32_t)j->j_pid);
		BSON_APPEND_INT32(&item, "attempt", j->j_attempt);
		BSON_APPEND_INT64(&item, "bytes", (int64_t)j->j_bytes);
		BSON_APPEND_INT64(&item, "running_ms", now - j->j_start_ms);
		BSON_APPEND_BOOL(&item, "timed_out", j->j_timed_out);
		bson_append_document_end(&arr, &item);
	}
	bson_append_array_end(doc, &arr);
}

/* One tenant's figures; adds them to the platform's in *sum. */
static void
append_tenant(const struct batch *b, struct tenant *t, bson_t *doc,
    struct holding *sum)
{
	const struct conf_batch *cb = &t->t_conf->t_batch;
	struct holding h = { 0 };

	h.h_incoming = t->t_retired ? 0 : count_incoming(t, "");
	count_jobs(b, t, &h);
	BSON_APPEND_UTF8(doc, "tenant", t->t_id);
	BSON_APPEND_UTF8(doc, "state", tenant_state(b, t));
	BSON_APPEND_INT64(doc, "incoming", h.h_incoming);
	BSON_APPEND_INT64(doc, "queued", h.h_queued);
	BSON_APPEND_INT64(doc, "running", h.h_running);
	BSON_APPEND_INT64(doc, "retry_waiting", h.h_retrying);
	BSON_APPEND_INT64(doc, "max_concurrent", cb->b_max_concurrent);
	BSON_APPEND_INT64(doc, "weight", cb->b_weight);
	BSON_APPEND_INT64(doc, "apps", (int64_t)cb->b_napps);
	append_jobs(b, t, doc);
	sum->h_incoming += h.h_incoming;
	sum->h_queued += h.h_queued;
	sum->h_running += h.h_running;
	sum->h_retrying += h.h_retrying;
}

static void
status(struct batch *b, bson_t *reply)
{
	struct holding sum = { 0 };
	struct tenant *t;
	bson_t arr, item;
	char key[16], when[32];
	uint32_t n = 0;

	record_fmt_time(record_now_ms(), when, sizeof(when));
	BSON_APPEND_UTF8(reply, "time", when);
	BSON_APPEND_INT32(reply, "pid", (int32_t)getpid());
	BSON_APPEND_INT64(reply, "uptime_ms", record_now_ms() - b->b_boot_ms);
	BSON_APPEND_BOOL(reply, "stopping", b->b_stopping);
	BSON_APPEND_ARRAY_BEGIN(reply, "tenants", &arr);
	TAILQ_FOREACH(t, &b->b_tenants, t_entry) {
		snprintf(key, sizeof(key), "%u", n++);
		BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &item);
		append_tenant(b, t, &item, &sum);
		bson_append_document_end(&arr, &item);
	}
	bson_append_array_end(reply, &arr);
	BSON_APPEND_INT32(reply, "workers", b->b_sched.s_workers);
	BSON_APPEND_INT32(reply, "busy", b->b_nrunning);
	BSON_APPEND_INT64(reply, "incoming", sum.h_incoming);
	BSON_APPEND_INT64(reply, "queued", sum.h_queued);
	BSON_APPEND_INT64(reply, "retry_waiting", sum.h_retrying);
	applog_status(reply, NULL);
}

/* {"cmd":"status"}: any other field or command is refused. */
static int
handle(const bson_t *req, bson_t *reply, char *err, size_t errlen,
    void *arg)
{
	const char *cmd = NULL;
	bson_iter_t it;

	if (!bson_iter_init(&it, req))
		return ctlsock_fail(err, errlen, "not a JSON object");
	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "cmd") != 0)
			return ctlsock_fail(err, errlen, "%s: unknown field",
			    key);
		if (cmd != NULL)
			return ctlsock_fail(err, errlen, "cmd: given twice");
		if (!BSON_ITER_HOLDS_UTF8(&it))
			return ctlsock_fail(err, errlen, "cmd: must be a "
			    "string");
		cmd = bson_iter_utf8(&it, NULL);
	}
	if (cmd == NULL)
		return ctlsock_fail(err, errlen, "cmd: missing");
	if (strcmp(cmd, "reload") == 0) {
		/* SIGHUP's path, once this turn of the loop is over. */
		log_info("reload (control request)");
		raise(SIGHUP);
		BSON_APPEND_BOOL(reply, "reloading", true);
		return 0;
	}
	if (strcmp(cmd, "status") != 0)
		return ctlsock_fail(err, errlen, "cmd: unknown command \"%s\" "
		    "(batchmgr answers status and reload)", cmd);
	status(arg, reply);
	return 0;
}

/* zap_decide_fn: an operator's key that the platform file lists. */
static bool
decide(void *arg, const char *domain, const char *key, const char *address,
    char *user, size_t userlen)
{
	struct batch *b = arg;
	uint64_t now = clock_mono_ms();

	if (strcmp(domain, ZAP_OPERATORS) == 0 &&
	    zap_key_listed(b->b_conf->p_remote.pr_operator_keys, key)) {
		log_info("remote: %s: operator key %s let in", address, key);
		snprintf(user, userlen, "%s", key);
		return true;
	}
	/* At most one line a second, whatever a scanner tries. */
	if (now - b->b_refused_ms >= 1000) {
		log_warnx("remote: %s: key %s is not one of "
		    "remote.operator_keys", address, key);
		b->b_refused_ms = now;
	}
	return false;
}

/*
 * ctlsock_allow_fn: an operator's key, checked again at each request so
 * that a reload that removes it also stops a connection made before.
 */
static int
operator_allowed(void *arg, const char *key, char *err, size_t errlen)
{
	struct batch *b = arg;
	uint64_t now = clock_mono_ms();

	if (key != NULL &&
	    zap_key_listed(b->b_conf->p_remote.pr_operator_keys, key))
		return 0;
	if (now - b->b_refused_ms >= 1000) {
		log_warnx("remote: a request from key %s, no longer one of "
		    "remote.operator_keys", key ? key : "(none)");
		b->b_refused_ms = now;
	}
	return ctlsock_fail(err, errlen, "operator key %s is not one of "
	    "remote.operator_keys", key ? key : "(none)");
}

/*
 * With remote.operator_keys, the control socket also listens for them
 * at remote.listen's PORT + 2, CURVE only.
 */
static int
open_remote(struct batch *b, char *err, size_t errlen)
{
	const struct conf_platform_remote *c = &b->b_conf->p_remote;
	char *ep, berr[300];
	struct curvekey k;
	void *sock;

	if (c->pr_operator_keys == NULL || c->pr_operator_keys[0] == NULL)
		return 0;
	if (zap_server_key(b->b_conf, &k, err, errlen) < 0)
		return -1;
	b->b_zap = zap_open(b->b_base, b->b_zctx, decide, b);
	ep = conf_remote_endpoint(c->pr_listen, CONF_CONTROL_BATCHMGR);
	sock = zap_curve_router(b->b_zctx, &k, ZAP_OPERATORS,
	    CTLSOCK_REQ_MAX + ZAP_FRAME_SLACK, ep, berr, sizeof(berr));
	explicit_bzero(&k, sizeof(k));
	if (sock == NULL) {
		snprintf(err, errlen, "%s: remote.operator_keys: control "
		    "socket: %s", b->b_conf->p_file, berr);
		free(ep);
		return -1;
	}
	if (ctlsock_add_remote(b->b_ctl, b->b_base, sock, operator_allowed,
	    b) < 0)
		fatalx("%s: cannot watch the control socket", __func__);
	log_info("remote: operators on %s (CURVE)", ep);
	free(ep);
	return 0;
}

int
bcontrol_init(struct batch *b, char *err, size_t errlen)
{
	char *path;

	if ((b->b_zctx = zmq_ctx_new()) == NULL) {
		snprintf(err, errlen, "zmq_ctx_new: %s", zmq_strerror(errno));
		return -1;
	}
	path = state_path(b->b_conf, "run/batchmgr.ctl");
	b->b_ctl = ctlsock_open(b->b_base, b->b_zctx, path, handle, b, err,
	    errlen);
	free(path);
	if (b->b_ctl == NULL)
		return -1;
	return open_remote(b, err, errlen);
}

void
bcontrol_free(struct batch *b)
{
	ctlsock_close(b->b_ctl);
	b->b_ctl = NULL;
	zap_close(b->b_zap);
	b->b_zap = NULL;
	if (b->b_zctx)
		zmq_ctx_term(b->b_zctx);
	b->b_zctx = NULL;
}
