#include "collect.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zmq.h>

#include "clock.h"
#include "log.h"
#include "state.h"
#include "view.h"

#define BUDGET		256		/* reports per tenant per turn */
/*
 * Larger messages make ZeroMQ drop the connection before we see them;
 * between max_report_size and this they are counted as oversized.
 */
#define WIRE_MAX	(1 << 20)

static void
drop(struct mtenant *t, enum report_verdict v, const char *why)
{
	t->mt_dropped[v]++;
	t->mt_dropped_tick[v]++;
	log_debug("tenant %s: report dropped (%s): %s", t->mt_id,
	    report_verdict_name(v), why);
}

/*
 * Reports over the tenant's max_reports_per_second are dropped before
 * they are even parsed, and without a line each: every report taken is a
 * line of metrics.jsonl, which all tenants share, so one tenant's flood
 * would rotate the others' records out of it. BUDGET per turn only keeps
 * the loop fair. The dashboard says how many, once per interval.
 */
static bool
over_rate(struct mtenant *t)
{
	const struct conf_platform_monitor *pm = &t->mt_mon->m_conf->p_monitor;

	if (bucket_take(&t->mt_rate, (double)pm->pm_max_reports_per_second,
	    (uint64_t)clock_mono_ms()))
		return false;
	t->mt_dropped[REPORT_RATE_LIMITED]++;
	t->mt_dropped_tick[REPORT_RATE_LIMITED]++;
	return true;
}

/* Checks one single-frame report and hands it on, or counts it dropped. */
static void
take(struct mtenant *t, const char *data, size_t len)
{
	size_t max = (size_t)t->mt_mon->m_conf->p_monitor.pm_max_report_size;
	enum report_verdict v;
	struct report r;
	char why[256];

	if (over_rate(t))
		return;
	v = report_parse(data, len, max, t->mt_id, &r, why, sizeof(why));
	if (v == REPORT_OK)
		v = view_report(t, &r, why, sizeof(why));
	if (v != REPORT_OK)
		drop(t, v, why);
}

static void
on_reports(void *sock, void *arg)
{
	struct mtenant *t = arg;

	for (int n = 0; n < BUDGET; n++) {
		zmq_msg_t msg;
		int frames = 0;
		bool more;

		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&msg);
			return;
		}
		more = zmq_msg_more(&msg);
		if (!more)
			take(t, zmq_msg_data(&msg), zmq_msg_size(&msg));
		/* A report is one frame: a multipart message is not one. */
		while (more) {
			zmq_msg_close(&msg);
			zmq_msg_init(&msg);
			if (zmq_msg_recv(&msg, sock, 0) < 0)
				break;
			more = zmq_msg_more(&msg);
			frames++;
		}
		if (frames > 0)
			drop(t, REPORT_MALFORMED, "a message of several frames");
		zmq_msg_close(&msg);
	}
}

static char *
endpoint(const struct mtenant *t, char **pathp)
{
	char *ep;

	*pathp = state_path(t->mt_mon->m_conf, "run/%s/metrics.sock",
	    t->mt_id);
	if (asprintf(&ep, "ipc://%s", *pathp) < 0)
		fatal("%s: asprintf", __func__);
	return ep;
}

int
collect_open(struct mtenant *t, char *err, size_t errlen)
{
	struct mon *m = t->mt_mon;
	int64_t wire_max = WIRE_MAX;
	int zero = 0, rc = -1;
	char *path, *ep;

	if (state_prepare_tenant(m->m_conf, t->mt_conf, err, errlen) < 0)
		return -1;
	ep = endpoint(t, &path);
	if ((t->mt_pull = zmq_socket(m->m_zctx, ZMQ_PULL)) == NULL)
		fatalx("%s: zmq_socket: %s", __func__, zmq_strerror(errno));
	if (zmq_setsockopt(t->mt_pull, ZMQ_LINGER, &zero, sizeof(zero)) < 0 ||
	    zmq_setsockopt(t->mt_pull, ZMQ_MAXMSGSIZE, &wire_max,
	    sizeof(wire_max)) < 0)
		fatalx("%s: zmq_setsockopt: %s", __func__, zmq_strerror(errno));
	if (zmq_bind(t->mt_pull, ep) < 0) {
		snprintf(err, errlen, "bind %s: %s", ep, zmq_strerror(errno));
		collect_close(t);
		goto out;
	}
	/*
	 * Connecting needs write access to the socket file; who may connect
	 * is decided by run/<tenant>/, 0700 and the tenant's. The folder is
	 * the tenant's: a symlink put there in the meantime is not followed
	 * (chmod would make its target, anywhere, writable by all).
	 */
	if (fchmodat(AT_FDCWD, path, 0666, AT_SYMLINK_NOFOLLOW) < 0)
		log_warn("chmod %s", path);
	if ((t->mt_ev = zevent_new(m->m_base, t->mt_pull, on_reports,
	    t)) == NULL)
		fatalx("%s: cannot watch %s", __func__, ep);
	rc = 0;
out:
	free(ep);
	free(path);
	return rc;
}

void
collect_close(struct mtenant *t)
{
	zevent_free(t->mt_ev);
	t->mt_ev = NULL;
	if (t->mt_pull != NULL)
		zmq_close(t->mt_pull);
	t->mt_pull = NULL;
}
