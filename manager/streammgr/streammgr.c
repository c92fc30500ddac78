/*
 * streammgr: the messaging system of the platform and the supervisor of
 * tenants' stream apps.
 *
 * The main loop is libevent's: the ZeroMQ sockets of every stream and the
 * control socket feed stream.c and scontrol.c, SIGCHLD feeds supervise.c,
 * SIGHUP reloads profiles, SIGTERM/SIGINT shut down.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "applog.h"
#include "build_config.h"
#include "clock.h"
#include "conf.h"
#include "remote.h"
#include "scontrol.h"
#include "cgroup.h"
#include "daemon.h"
#include "log.h"
#include "record.h"
#include "smgr.h"
#include "spawn.h"
#include "state.h"
#include "discard.h"
#include "syncer.h"
#include "stream.h"
#include "supervise.h"

/* Starts serving s, a new stream or subscription. */
static void
serve(struct smgr *m, struct stream *s)
{
	const struct conf_instances *in = &s->s_conf->s_instances;

	TAILQ_INSERT_TAIL(&m->m_streams, s, s_entry);
	streamidx_add(&m->m_index, &s->s_idx, s->s_tid, s->s_name, s);
	log_info("tenant %s: %s %s: serving (instances %lld..%lld, %lld at "
	    "start)", s->s_tid, s->s_source ? "subscription" : "stream",
	    s->s_name, (long long)in->i_min, (long long)in->i_max,
	    (long long)in->i_initial);
	supervise_reconcile(s);
}

/* Stops serving s and frees it. */
static void
unserve(struct smgr *m, struct stream *s)
{
	TAILQ_REMOVE(&m->m_streams, s, s_entry);
	streamidx_remove(&m->m_index, &s->s_idx);
	stream_free(s);
}

/* The subscriptions a reload added to running stream s. */
static void
add_subs(struct smgr *m, struct conf_tenant *t, struct stream *s,
    const struct conf_stream *c)
{
	char err[512];

	if (s->s_sv.sv_state == SV_RETIRING)
		return;
	for (size_t k = 0; k < c->s_nsubs; k++) {
		const struct conf_stream *sc = &c->s_subs[k];
		struct stream *sub;

		if (stream_find(m, t->t_id, sc->s_name) != NULL)
			continue;
		if ((sub = stream_add_sub(s, t, sc, err, sizeof(err))) == NULL) {
			log_warnx("tenant %s: subscription %s: %s; not served",
			    t->t_id, sc->s_name, err);
			continue;
		}
		serve(m, sub);
	}
}

/* Creates the streams of a tenant; a tenant that fails is logged, skipped. */
static void
add_streams(struct smgr *m, struct conf_tenant *t)
{
	char err[512];

	if (t->t_nstreams == 0)
		return;
	if (state_prepare_tenant(m->m_conf, t, err, sizeof(err)) < 0) {
		log_warnx("tenant %s: %s; its streams are not served",
		    t->t_id, err);
		return;
	}
	for (size_t k = 0; k < t->t_nstreams; k++) {
		const struct conf_stream *c = &t->t_streams[k];
		struct stream *s;

		if ((s = stream_find(m, t->t_id, c->s_name)) != NULL) {
			add_subs(m, t, s, c);
			continue;
		}
		if ((s = stream_new(m, t, c, err, sizeof(err))) == NULL) {
			log_warnx("tenant %s: stream %s: %s; not served",
			    t->t_id, c->s_name, err);
			continue;
		}
		serve(m, s);
		for (size_t j = 0; j < s->s_nsubs; j++)
			serve(m, s->s_subs[j]);
	}
}

/* Frees streams that were retired and have nothing left. */
static void
collect_retired(struct smgr *m)
{
	struct stream *s, *next;

	TAILQ_FOREACH_SAFE(s, &m->m_streams, s_entry, next) {
		if (s->s_sv.sv_state != SV_RETIRING ||
		    !TAILQ_EMPTY(&s->s_instances) ||
		    !queue_idle(&s->s_queue) || s->s_nsubs > 0)
			continue;
		log_info("tenant %s: stream %s: retired", s->s_tid, s->s_name);
		unserve(m, s);
	}
}

/*
 * stream.max_memory, or 40% of the machine's memory where it is 0 (as
 * RabbitMQ's default high watermark): what every stream's queue may hold
 * together before producers hear THROTTLE no-memory.
 */
static void
set_max_memory(struct smgr *m)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	uint64_t max = m->m_conf->p_stream.ps_max_memory;

	if (max == 0)
		max = pages > 0 && size > 0 ?
		    (uint64_t)pages * (uint64_t)size / 5 * 2 : INT64_MAX;
	if (max != m->m_max_memory)
		log_info("queues may hold %" PRIu64 " bytes in memory "
		    "(stream.max_memory)", max);
	m->m_max_memory = max;
}

/*
 * SIGHUP: reread everything. A platform file with errors changes nothing;
 * a tenant file with errors keeps that tenant's streams as they are.
 * A stream whose profile is gone is retired: it refuses new messages,
 * delivers what it holds, stops its instances and is freed.
 */
/* daemon_known_fn: a stream of the tenant runs here. */
static bool
runs_tenant(void *arg, const char *id)
{
	struct smgr *m = arg;
	struct stream *s;

	TAILQ_FOREACH(s, &m->m_streams, s_entry)
		if (strcmp(s->s_tid, id) == 0 &&
		    s->s_sv.sv_state != SV_RETIRING)
			return true;
	return false;
}

static void
reload(struct smgr *m)
{
	struct conf_platform *p;
	struct conf_tenant_set set;
	struct stream *s;

	if (daemon_reload("streammgr", m->m_conf_file, m->m_conf, &p, &set,
	    runs_tenant, m) < 0)
		return;
	conf_platform_free(m->m_conf);
	m->m_conf = p;
	set_max_memory(m);

	TAILQ_FOREACH(s, &m->m_streams, s_entry) {
		struct conf_tenant *t = conf_tenant_set_find(&set, s->s_tid);
		const struct conf_stream *c = t ? conf_stream_find(t,
		    s->s_name) : NULL;

		if (conf_tenant_set_failed(&set, s->s_tid))
			continue;
		if (s->s_sv.sv_state == SV_RETIRING) {
			/* Back before it was freed: it serves again. */
			if (c != NULL)
				stream_revive(s, t, c);
			continue;
		}
		if (c != NULL) {
			stream_set_conf(s, t, c);
			supervise_reconcile(s);
			continue;
		}
		if (s->s_source != NULL && t != NULL &&
		    conf_stream_find(t, s->s_source->s_name) != NULL) {
			/* Only the subscription is gone: what it holds is of
			 * no use to anyone (docs/architecture.md, "Fan-out"). */
			log_info("tenant %s: subscription %s: removed from the "
			    "profile; releasing what it holds", s->s_tid,
			    s->s_name);
			supervise_event(s, SE_RETIRE);
			stream_abandon(s);
			continue;
		}
		log_info("tenant %s: stream %s: profile removed; retiring",
		    s->s_tid, s->s_name);
		supervise_event(s, SE_RETIRE);
	}
	for (size_t i = 0; i < set.ts_count; i++)
		add_streams(m, set.ts_tenants[i]);
	conf_tenant_set_free(&set);
	collect_retired(m);
	remote_reloaded(m);
}

/* The stream's line of log/quality.jsonl for the interval, if any. */
static void
quality_line(struct smgr *m, struct stream *s)
{
	if (squality_flush(&s->s_quality, &s->s_conf->s_quality,
	    m->m_quality_fd, s->s_tid, s->s_name, s->s_n.acked +
	    s->s_n.dead_letters, s->s_n.quality_rejected) < 0)
		log_warn("tenant %s: stream %s: append to log/quality.jsonl",
		    s->s_tid, s->s_name);
}

/* queue_trim, timed: the loop waits for it (streammgr -v says how long). */
static void
trim_heap(void)
{
	int64_t t0 = clock_mono_ns();

	if (queue_trim())
		log_debug("queues hold %" PRIu64 " bytes: heap trimmed in "
		    "%.1f ms", queue_memory(),
		    (double)(clock_mono_ns() - t0) / 1e6);
}

static void
on_stats(evutil_socket_t fd, short what, void *arg)
{
	struct smgr *m = arg;
	struct stream *s;

	(void)fd;
	(void)what;
	TAILQ_FOREACH(s, &m->m_streams, s_entry) {
		supervise_tick(s);
		quality_line(m, s);
	}
	scontrol_publish_stats(m);
	collect_retired(m);
	trim_heap();
}

static void
on_grace(evutil_socket_t fd, short what, void *arg)
{
	struct smgr *m = arg;
	struct stream *s;

	(void)fd;
	(void)what;
	log_warnx("shutdown_grace is over: stopping every instance");
	TAILQ_FOREACH(s, &m->m_streams, s_entry)
		supervise_stop_all(s);
}

/*
 * SIGTERM: refuse new messages, let the instances finish what is queued
 * (the queue is in memory), stop each stream's instances once it is idle
 * or when shutdown_grace is over, and exit when none is left.
 */
static void
shutdown_start(struct smgr *m)
{
	struct stream *s;

	m->m_stopping = true;
	log_info("stopping: %d instance%s running", supervise_count_all(m),
	    supervise_count_all(m) == 1 ? "" : "s");
	if ((m->m_grace_ev = evtimer_new(m->m_base, on_grace, m)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	clock_timer_in(m->m_grace_ev, m->m_conf->p_stream.ps_shutdown_grace_ms);
	/* Each stream stops its instances once its queue is empty. */
	TAILQ_FOREACH(s, &m->m_streams, s_entry)
		supervise_event(s, SE_SHUTDOWN);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct smgr *m = arg;

	(void)what;
	switch (sig) {
	case SIGCHLD:
		supervise_reap(m, stream_release);
		collect_retired(m);
		break;
	case SIGHUP:
		if (!m->m_stopping)
			reload(m);
		return;
	case SIGTERM:
	case SIGINT:
		if (!m->m_stopping)
			shutdown_start(m);
		break;
	}
	if (m->m_stopping && supervise_count_all(m) == 0)
		event_base_loopexit(m->m_base, NULL);
}

static void
teardown(struct smgr *m)
{
	struct stream *s, *next;

	TAILQ_FOREACH(s, &m->m_streams, s_entry)
		quality_line(m, s);
	/* Subscriptions first: their stream holds the journal. */
	TAILQ_FOREACH_SAFE(s, &m->m_streams, s_entry, next)
		if (s->s_source != NULL)
			unserve(m, s);
	TAILQ_FOREACH_SAFE(s, &m->m_streams, s_entry, next)
		unserve(m, s);
	streamidx_free(&m->m_index);
	remote_stop(m);
	scontrol_free(m);
	if (m->m_stats_ev)
		event_free(m->m_stats_ev);
	if (m->m_grace_ev)
		event_free(m->m_grace_ev);
	zmq_ctx_term(m->m_zctx);
	if (m->m_quality_fd >= 0)
		close(m->m_quality_fd);
	conf_platform_free(m->m_conf);
	free(m->m_conf_file);
	free(m->m_scratch);
}

/* log/quality.jsonl, appended to by batchmgr too (whole lines). */
static int
open_quality_log(const struct conf_platform *p)
{
	char *path = state_path(p, "log/quality.jsonl");
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0) {
		fprintf(stderr, "streammgr: open %s: %s\n", path,
		    strerror(errno));
		exit(EX_CANTCREAT);
	}
	free(path);
	return fd;
}

int
main(int argc, char *argv[])
{
	static const int sigs[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT };
	struct daemon_signals sigev;
	struct conf_tenant_set set = { 0 };
	struct smgr m = { 0 };
	char err[512];

	/* One streammgr per state dir: two would bind the same sockets. */
	m.m_conf_file = daemon_start("streammgr", argc, argv, &m.m_conf, &set);
	cgroup_init("streammgr", m.m_conf->p_state_dir);
	m.m_boot_ms = (uint64_t)record_now_ms();
	set_max_memory(&m);
	m.m_quality_fd = open_quality_log(m.m_conf);
	TAILQ_INIT(&m.m_streams);
	if (streamidx_init(&m.m_index) < 0)
		fatalx("streamidx_init: out of memory");
	if ((m.m_base = clock_event_base()) == NULL)
		fatalx("clock_event_base");
	/* Before the first thread (libzmq's). */
	daemon_signals(&sigev, m.m_base, sigs, sizeof(sigs) / sizeof(sigs[0]),
	    on_signal, &m);
	if ((m.m_zctx = zevent_context()) == NULL)
		fatalx("zmq_ctx_new: %s", zmq_strerror(errno));
	/* Segments done with are unlinked off the loop (discard.h). */
	if (discard_start() < 0)
		log_warn("discard_start: segments are unlinked on the loop");
	/* fsync's OKs wait for a sync off the loop (syncer.h). */
	if (syncer_start(m.m_base) < 0)
		log_warn("syncer_start: queues are synced on the loop");
	if (scontrol_init(&m, err, sizeof(err)) < 0) {
		fprintf(stderr, "streammgr: %s\n", err);
		return EX_UNAVAILABLE;
	}
	/* Before any stream: a bad key starts nothing. */
	if (remote_start(&m, &set, err, sizeof(err)) < 0) {
		fprintf(stderr, "streammgr: %s\n", err);
		conf_tenant_set_free(&set);
		teardown(&m);
		daemon_signals_free(&sigev);
		event_base_free(m.m_base);
		return EX_CONFIG;
	}
	for (size_t i = 0; i < set.ts_count; i++)
		add_streams(&m, set.ts_tenants[i]);
	conf_tenant_set_free(&set);

	m.m_stats_ev = event_new(m.m_base, -1, EV_PERSIST, on_stats, &m);
	if (m.m_stats_ev == NULL || clock_timer_in(m.m_stats_ev,
	    m.m_conf->p_stream.ps_stats_interval_ms) < 0)
		fatalx("cannot start the statistics timer");
	log_info("started: state in %s", m.m_conf->p_state_dir);

	event_base_dispatch(m.m_base);

	log_info("stopped");
	discard_wait();
	cgroup_cleanup();
	teardown(&m);
	syncer_stop();
	daemon_signals_free(&sigev);
	applog_shutdown();
	event_base_free(m.m_base);
	libevent_global_shutdown();
	return 0;
}
