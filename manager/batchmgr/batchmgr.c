/*
 * batchmgr: runs tenants' batch apps on the files they stage.
 *
 * The main loop is libevent's: inotify and timers feed staging.c, SIGCHLD
 * feeds job.c, the control socket feeds bcontrol.c, SIGHUP reloads
 * profiles, SIGTERM/SIGINT shut down.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applog.h"
#include "batch.h"
#include "bcontrol.h"
#include "build_config.h"
#include "clock.h"
#include "conf.h"
#include "cgroup.h"
#include "daemon.h"
#include "staging.h"
#include "job.h"
#include "log.h"
#include "spawn.h"
#include "state.h"
#include "tenant.h"


/* Frees everything, so that leak checkers see only real leaks. */
static void
teardown(struct batch *b)
{
	struct tenant *t, *next;

	TAILQ_FOREACH_SAFE(t, &b->b_tenants, t_entry, next) {
		/* Read first: a retired tenant's last job, forgotten, frees
		 * it (tenant_release). */
		bool retired = t->t_retired;

		staging_tenant_stop(b, t);
		job_forget_tenant(b, t);
		if (!retired)
			tenant_retire(t);
	}
	staging_free(b);
	bcontrol_free(b);
	if (b->b_stop_ev)
		event_free(b->b_stop_ev);
	close(b->b_ingest_fd);
	close(b->b_quality_fd);
	conf_platform_free(b->b_conf);
	free(b->b_conf_file);
}

static void
add_tenant(struct batch *b, struct conf_tenant *conf)
{
	struct tenant *t = tenant_new(b, conf);

	if (t != NULL)
		staging_tenant_start(b, t);
}

/*
 * SIGHUP: reread everything. A platform file with errors changes nothing;
 * a tenant file with errors keeps that tenant's previous profile; the
 * others are added, updated or retired without touching running jobs.
 */
/* daemon_known_fn: the tenant has a profile in force here. */
static bool
runs_tenant(void *arg, const char *id)
{
	struct tenant *t = tenant_find(arg, id);

	return t != NULL && !t->t_retired;
}

static void
reload(struct batch *b)
{
	struct conf_platform *p;
	struct conf_tenant_set set;
	struct tenant *t, *next;

	if (daemon_reload("batchmgr", b->b_conf_file, b->b_conf, &p, &set,
	    runs_tenant, b) < 0)
		return;
	conf_platform_free(b->b_conf);
	b->b_conf = p;
	b->b_sched.s_workers = (int)p->p_batch.pb_workers;

	TAILQ_FOREACH_SAFE(t, &b->b_tenants, t_entry, next) {
		if (t->t_retired || conf_tenant_set_failed(&set, t->t_id) ||
		    conf_tenant_set_find(&set, t->t_id) != NULL)
			continue;
		log_info("tenant %s: profile removed; retiring", t->t_id);
		staging_tenant_stop(b, t);
		job_forget_tenant(b, t);
		tenant_retire(t);
	}
	for (size_t i = 0; i < set.ts_count; i++) {
		struct conf_tenant *c = set.ts_tenants[i];

		if ((t = tenant_find(b, c->t_id)) != NULL)
			tenant_set_conf(t, c);
		else {
			log_info("tenant %s: added", c->t_id);
			add_tenant(b, c);
		}
	}
	conf_tenant_set_free(&set);
	job_dispatch(b);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct batch *b = arg;

	switch (sig) {
	case SIGCHLD:
		job_reap(b);
		break;
	case SIGHUP:
		if (!b->b_stopping)
			reload(b);
		return;
	case SIGTERM:
	case SIGINT:
		if (b->b_stopping)
			return;
		log_info("stopping: %d job%s still running", job_running(b),
		    job_running(b) == 1 ? "" : "s");
		staging_stop(b);
		job_shutdown(b);
		break;
	}
	if (b->b_stopping && job_running(b) == 0)
		event_base_loopexit(b->b_base, NULL);
}

/* log/NAME for appending; exits when it cannot be opened. */
static int
open_log(struct batch *b, const char *name)
{
	char *path = state_path(b->b_conf, "log/%s", name);
	int fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		fprintf(stderr, "batchmgr: open %s: %s\n", path, strerror(errno));
		exit(EX_CANTCREAT);
	}
	free(path);
	return fd;
}

static void
open_ingest_log(struct batch *b)
{
	b->b_ingest_fd = open_log(b, "ingest.jsonl");
	b->b_quality_fd = open_log(b, "quality.jsonl");
}

int
main(int argc, char *argv[])
{
	static const int sigs[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT };
	struct daemon_signals sigev;
	struct conf_tenant_set set = { 0 };
	struct batch b = { 0 };
	char err[512];

	/* One batchmgr per state dir: two would run the same files twice. */
	b.b_conf_file = daemon_start("batchmgr", argc, argv, &b.b_conf, &set);
	cgroup_init("batchmgr", b.b_conf->p_state_dir);
	open_ingest_log(&b);
	b.b_boot_ms = record_now_ms();
	TAILQ_INIT(&b.b_tenants);
	TAILQ_INIT(&b.b_jobs);
	TAILQ_INIT(&b.b_running);
	sched_init(&b.b_sched, (int)b.b_conf->p_batch.pb_workers);
	if ((b.b_base = clock_event_base()) == NULL)
		fatalx("clock_event_base");
	daemon_signals(&sigev, b.b_base, sigs, sizeof(sigs) / sizeof(sigs[0]),
	    on_signal, &b);
	if (staging_init(&b) < 0)
		return 1;
	if (bcontrol_init(&b, err, sizeof(err)) < 0) {
		fprintf(stderr, "batchmgr: %s\n", err);
		return EX_UNAVAILABLE;
	}
	for (size_t i = 0; i < set.ts_count; i++)
		add_tenant(&b, set.ts_tenants[i]);
	conf_tenant_set_free(&set);
	log_info("started: %lld workers, state in %s",
	    (long long)b.b_conf->p_batch.pb_workers, b.b_conf->p_state_dir);
	daemon_short_slice();

	event_base_dispatch(b.b_base);

	log_info("stopped");
	cgroup_cleanup();
	teardown(&b);
	daemon_signals_free(&sigev);
	applog_shutdown();
	event_base_free(b.b_base);
	libevent_global_shutdown();
	return 0;
}
