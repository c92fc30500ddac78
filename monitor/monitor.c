/*
 * monitor: receives the metric reports of tenants' apps and streammgr's
 * statistics, decides per tenant stream how many instances it should run
 * and tells streammgr, and writes the dashboard (log/monitor.log), the
 * record of reports and decisions (log/metrics.jsonl) and a Prometheus
 * endpoint.
 *
 * The main loop is libevent's: each tenant's metric socket feeds
 * collect.c, streammgr's statistics feed feed.c, both update view.c, and
 * decide.c acts on each new statistic; a timer writes the dashboard
 * (dashline.c) each monitor.interval; SIGHUP reloads the profiles,
 * SIGTERM/SIGINT stop. Nothing here waits for streammgr.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "conf.h"
#include "clock.h"
#include "ship.h"
#include "smgrctl.h"
#include "daemon.h"
#include "dash.h"
#include "dashline.h"
#include "decide.h"
#include "feed.h"
#include "log.h"
#include "mon.h"
#include "mtenant.h"
#include "prom.h"
#include "view.h"

static void
add_tenants(struct mon *m, struct conf_tenant_set *set)
{
	for (size_t i = 0; i < set->ts_count; i++)
		if (mtenant_find(m, set->ts_tenants[i]->t_id) == NULL)
			mtenant_new(m, set->ts_tenants[i]);
}

static void
arm_tick(struct mon *m)
{
	if (clock_timer_in(m->m_tick_ev, m->m_conf->p_monitor.pm_interval_ms) < 0)
		fatalx("%s: cannot start the dashboard timer", __func__);
}

/* HTTP settings take a restart: the socket is bound once. */
static void
warn_http_change(const struct conf_platform_monitor *a,
    const struct conf_platform_monitor *b)
{
	if (a->pm_http != b->pm_http || a->pm_http_port != b->pm_http_port ||
	    strcmp(a->pm_http_address, b->pm_http_address) != 0)
		log_warnx("monitor.http settings changed: restart the monitor "
		    "to use them");
}

/*
 * SIGHUP: reread everything. A platform file with errors changes
 * nothing; a tenant file with errors keeps that tenant as it is; a
 * tenant whose file is gone is no longer listened to.
 */
/* daemon_known_fn: the monitor watches the tenant. */
static bool
knows_tenant(void *arg, const char *id)
{
	return mtenant_find(arg, id) != NULL;
}

static void
reload(struct mon *m)
{
	struct conf_tenant_set set;
	struct conf_platform *p;
	struct mtenant *t, *next;
	struct dash *d;
	char err[512];

	if (daemon_reload("monitor", m->m_conf_file, m->m_conf, &p, &set,
	    knows_tenant, m) < 0)
		return;
	warn_http_change(&m->m_conf->p_monitor, &p->p_monitor);
	/* Opened again, the dashboard's files (shared, not reopened) take
	 * the new monitor.logs. */
	if ((d = dash_open(p, err, sizeof(err))) == NULL)
		log_warnx("reload: %s; monitor.logs unchanged", err);
	else {
		dash_close(m->m_dash);
		m->m_dash = d;
	}
	conf_platform_free(m->m_conf);
	m->m_conf = p;
	TAILQ_FOREACH_SAFE(t, &m->m_tenants, mt_entry, next) {
		struct conf_tenant *c = conf_tenant_set_find(&set, t->mt_id);

		if (c != NULL)
			mtenant_update(t, c);
		else if (!conf_tenant_set_failed(&set, t->mt_id)) {
			log_info("tenant %s: profile removed; no longer "
			    "listening", t->mt_id);
			mtenant_free(t);
		}
	}
	add_tenants(m, &set);
	conf_tenant_set_free(&set);
	arm_tick(m);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct mon *m = arg;
	uint64_t now = clock_mono_ms();

	(void)fd;
	(void)what;
	view_expire(m, now);
	dashline_tick(m, now);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct mon *m = arg;

	(void)what;
	if (sig == SIGHUP)
		reload(m);
	else
		event_base_loopexit(m->m_base, NULL);
}

static void
teardown(struct mon *m)
{
	struct mtenant *t;

	while ((t = TAILQ_FIRST(&m->m_tenants)) != NULL)
		mtenant_free(t);
	ship_stop(m->m_ship);
	prom_free(m->m_prom);
	smgrctl_free(m->m_ctl);
	feed_free(m->m_feed);
	if (m->m_tick_ev != NULL)
		event_free(m->m_tick_ev);
	dash_close(m->m_dash);
	zmq_ctx_term(m->m_zctx);
	conf_platform_free(m->m_conf);
	free(m->m_conf_file);
}

/* The sockets, files and timer; exits 73 or 69 when one cannot be had. */
static void
start(struct mon *m, struct conf_tenant_set *set)
{
	char err[512];

	if ((m->m_dash = dash_open(m->m_conf, err, sizeof(err))) == NULL) {
		fprintf(stderr, "monitor: %s\n", err);
		exit(EX_CANTCREAT);
	}
	if (m->m_conf->p_monitor.pm_http &&
	    (m->m_prom = prom_new(m, err, sizeof(err))) == NULL) {
		fprintf(stderr, "monitor: prometheus: %s\n", err);
		exit(EX_UNAVAILABLE);
	}
	m->m_feed = feed_new(m);
	m->m_ctl = smgrctl_new(m, decide_ctl_done);
	/* Its URL and database are the start's: a reload keeps them. */
	m->m_ship = ship_start(m->m_conf);
	add_tenants(m, set);
	if ((m->m_tick_ev = event_new(m->m_base, -1, EV_PERSIST, on_tick,
	    m)) == NULL)
		fatalx("%s: event_new", __func__);
	arm_tick(m);
}

int
main(int argc, char *argv[])
{
	static const int sigs[] = { SIGHUP, SIGTERM, SIGINT };
	struct daemon_signals sigev;
	struct conf_tenant_set set = { 0 };
	struct mon m = { 0 };

	/* One monitor per state dir: two would bind the same sockets. */
	m.m_conf_file = daemon_start("monitor", argc, argv, &m.m_conf, &set);
	TAILQ_INIT(&m.m_tenants);
	if ((m.m_base = clock_event_base()) == NULL)
		fatalx("clock_event_base");
	/* Before the first thread (libzmq's). */
	daemon_signals(&sigev, m.m_base, sigs, sizeof(sigs) / sizeof(sigs[0]),
	    on_signal, &m);
	if ((m.m_zctx = zevent_context()) == NULL)
		fatalx("zmq_ctx_new: %s", zmq_strerror(errno));
	start(&m, &set);
	conf_tenant_set_free(&set);
	log_info("started: state in %s", m.m_conf->p_state_dir);

	event_base_dispatch(m.m_base);

	log_info("stopped");
	teardown(&m);
	daemon_signals_free(&sigev);
	event_base_free(m.m_base);
	libevent_global_shutdown();
	return 0;
}
