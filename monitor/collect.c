#include "collect.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "log.h"
#include "state.h"
#include "view.h"
#include "zrouter.h"

#define BUDGET		256	/* reports per connection per turn */
/*
 * A larger frame, or message, cuts the connection before we see it;
 * between max_report_size and this, reports are counted as oversized.
 */
#define WIRE_MAX	((size_t)1 << 20)
#define PONGS_MAX	((size_t)64 << 10) /* all a PULL sends */
/* Reports partway, the tenant's apps together (one may hold a whole). */
#define PARTWAY_MAX	((size_t)4 << 20)

static void
drop(struct mtenant *t, enum report_verdict v, const char *why)
{
	t->mt_dropped[v]++;
	t->mt_dropped_tick[v]++;
	log_debug("tenant %s: report dropped (%s): %s", t->mt_id,
	    report_verdict_name(v), why);
}

/*
 * Reports over the tenant's max_reports_per_second, or past its
 * max_report_bytes_per_second, are dropped before they are even parsed,
 * and without a line each: every report taken is a line of metrics.jsonl,
 * which all tenants share, so one tenant's flood (of many reports, or of
 * large ones) would rotate the others' records out of it. BUDGET per turn
 * only keeps the loop fair. The dashboard says how many, once per
 * interval.
 */
static bool
over_rate(struct mtenant *t, size_t len)
{
	const struct conf_platform_monitor *pm = &t->mt_mon->m_conf->p_monitor;
	uint64_t now = (uint64_t)clock_mono_ms();
	enum report_verdict v = REPORT_BYTE_LIMITED;

	if (bucket_room(&t->mt_bytes, (double)pm->pm_max_report_bytes, now) >=
	    len) {
		v = REPORT_RATE_LIMITED;
		if (bucket_take(&t->mt_rate,
		    (double)pm->pm_max_reports_per_second, now)) {
			bucket_spend(&t->mt_bytes, len);
			return false;
		}
	}
	t->mt_dropped[v]++;
	t->mt_dropped_tick[v]++;
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

	/* Before the rates: an oversized report is called so, and takes
	 * none of the tenant's bytes a second. */
	if ((v = report_size(len, max, why, sizeof(why))) != REPORT_OK) {
		drop(t, v, why);
		return;
	}
	if (over_rate(t, len))
		return;
	v = report_parse(data, len, max, t->mt_id, &r, why, sizeof(why));
	if (v == REPORT_OK)
		v = view_report(t, &r, why, sizeof(why));
	if (v != REPORT_OK)
		drop(t, v, why);
}

/* A report is one frame: a multipart message is not one. */
static bool
on_report(void *arg, const unsigned char *rid, size_t ridlen,
    const struct zmtp_msg *m)
{
	struct mtenant *t = arg;

	(void)rid;
	(void)ridlen;
	if (m->zm_nframes == 1)
		take(t, m->zm_f[0].data, m->zm_f[0].len);
	else
		drop(t, REPORT_MALFORMED, "a message of several frames");
	return true;
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
	const struct zrouter_conf conf = {
		.zc_frame_max = WIRE_MAX,
		.zc_out_max = PONGS_MAX,
		.zc_budget = BUDGET,
		.zc_handshake_ms = 30000,	/* libzmq's default */
		.zc_in_max = PARTWAY_MAX,
		.zc_pull = true,
		.zc_msg_cb = on_report,
		.zc_arg = t,
	};
	int rc = -1;
	char *path, *ep;

	if (state_prepare_tenant(m->m_conf, t->mt_conf, err, errlen) < 0)
		return -1;
	ep = endpoint(t, &path);
	if ((t->mt_pull = zrouter_bind(m->m_base, ep, &conf, err,
	    errlen)) == NULL)
		goto out;
	/*
	 * Connecting needs write access to the socket file; who may connect
	 * is decided by run/<tenant>/, 0700 and the tenant's. The folder is
	 * the tenant's: a symlink put there in the meantime is not followed
	 * (chmod would make its target, anywhere, writable by all).
	 */
	if (fchmodat(AT_FDCWD, path, 0666, AT_SYMLINK_NOFOLLOW) < 0)
		log_warn("chmod %s", path);
	rc = 0;
out:
	free(ep);
	free(path);
	return rc;
}

void
collect_close(struct mtenant *t)
{
	zrouter_free(t->mt_pull);
	t->mt_pull = NULL;
}
