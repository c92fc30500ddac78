#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app.h"
#include "clock.h"
#include "scontrol.h"
#include "log.h"
#include "spawn.h"
#include "state.h"
#include "stream.h"

static void on_restart(evutil_socket_t, short, void *);
static void on_kill(evutil_socket_t, short, void *);

static bool
leaving(const struct instance *i)
{
	return i->i_state == IN_DRAINING || i->i_state == IN_STOPPING ||
	    i->i_bye;
}

int
supervise_running(const struct stream *s)
{
	const struct instance *i;
	int n = 0;

	TAILQ_FOREACH(i, &s->s_instances, i_entry)
		if (!leaving(i))
			n++;
	return n;
}

int
supervise_count_all(const struct smgr *m)
{
	const struct stream *s;
	const struct instance *i;
	int n = 0;

	TAILQ_FOREACH(s, &m->m_streams, s_entry)
		TAILQ_FOREACH(i, &s->s_instances, i_entry)
			n++;
	return n;
}

int
supervise_target(const struct stream *s)
{
	/* Shutting down: keep delivering what is queued, then stop. */
	if (s->s_mgr->m_stopping || s->s_retiring)
		return stream_idle(s) ? 0 : supervise_running(s);
	switch (s->s_state) {
	case ST_RUNNING:
	case ST_DRAINING:
		return s->s_desired;
	default:
		return 0;
	}
}

struct instance *
supervise_find_id(struct stream *s, const char *id)
{
	struct instance *i;

	TAILQ_FOREACH(i, &s->s_instances, i_entry)
		if (strcmp(i->i_id, id) == 0)
			return i;
	return NULL;
}

/* A quick crash, or a start that failed: later restarts wait longer. */
static void
note_fast_failure(struct stream *s)
{
	const struct conf_platform_stream *ps = &s->s_mgr->m_conf->p_stream;
	uint64_t delay = ps->ps_restart_backoff_ms;

	s->s_fast_failures++;
	for (int k = 1; k < s->s_fast_failures && delay < ps->
	    ps_restart_backoff_max_ms; k++)
		delay *= 2;
	if (delay > ps->ps_restart_backoff_max_ms)
		delay = ps->ps_restart_backoff_max_ms;
	s->s_backoff_until = clock_mono_ms() + delay;
	if (s->s_fast_failures >= ps->ps_crashloop_restarts &&
	    !s->s_crashloop) {
		char detail[96];

		s->s_crashloop = true;
		snprintf(detail, sizeof(detail), "%d quick exits in a row; "
		    "next restart in %llu ms", s->s_fast_failures,
		    (unsigned long long)delay);
		log_warnx("tenant %s: stream %s: crash loop: %s", s->s_tid,
		    s->s_name, detail);
		scontrol_event(s, "crashloop", detail);
	}
}

static int
spawn_instance(struct stream *s)
{
	struct smgr *m = s->s_mgr;
	struct instance *i = calloc(1, sizeof(*i));
	char log[TENANT_ID_MAX + sizeof("stream-")], *endpoint;
	struct app_spec spec;
	struct app app;
	const char *stage;
	int rc, err;

	if (i == NULL)
		fatal("%s: calloc", __func__);
	i->i_stream = s;
	snprintf(i->i_id, sizeof(i->i_id), "%s-%u", s->s_name,
	    ++s->s_next_num);
	snprintf(log, sizeof(log), "stream-%s", s->s_name);
	endpoint = stream_endpoint(m, s->s_tid, s->s_name, "work");
	spec = (struct app_spec){
		.as_platform = m->m_conf,
		.as_base = m->m_base,
		.as_tenant = s->s_tenant,
		.as_argv = s->s_conf->s_argv,
		.as_limits = &s->s_conf->s_limits,
		.as_instance = i->i_id,
		.as_log = log,
		.as_stream_endpoint = endpoint,
		.as_stream = s->s_name,
	};
	rc = app_start(&spec, &app, &stage);
	err = errno;
	free(endpoint);
	if (rc < 0) {
		log_warnx("tenant %s: stream %s: cannot start %s: %s: %s",
		    s->s_tid, s->s_name, s->s_conf->s_argv[0], stage,
		    strerror(err));
		free(i);
		note_fast_failure(s);
		return -1;
	}
	i->i_pid = app.ap_pid;
	i->i_leaf = app.ap_leaf;
	i->i_state = IN_STARTING;
	i->i_started_ms = clock_mono_ms();
	if ((i->i_kill_ev = evtimer_new(m->m_base, on_kill, i)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	TAILQ_INSERT_TAIL(&s->s_instances, i, i_entry);
	log_info("tenant %s: stream %s: started instance %s (pid %d)",
	    s->s_tid, s->s_name, i->i_id, (int)i->i_pid);
	return 0;
}

static void
stop_instance(struct instance *i)
{
	struct stream *s = i->i_stream;

	if (i->i_state == IN_STOPPING)
		return;
	i->i_state = IN_STOPPING;
	log_info("tenant %s: stream %s: stopping instance %s (pid %d)",
	    s->s_tid, s->s_name, i->i_id, (int)i->i_pid);
	if (spawn_signal_group(i->i_pid, SIGTERM) < 0 && errno != ESRCH)
		log_warn("tenant %s: kill %d", s->s_tid, (int)i->i_pid);
	clock_timer_in(i->i_kill_ev, s->s_conf->s_stop_timeout_ms);
}

static void
on_kill(evutil_socket_t fd, short what, void *arg)
{
	struct instance *i = arg;

	(void)fd;
	(void)what;
	log_warnx("tenant %s: stream %s: instance %s did not stop within "
	    "stop_timeout: SIGKILL", i->i_stream->s_tid, i->i_stream->s_name,
	    i->i_id);
	spawn_signal_group(i->i_pid, SIGKILL);
}

void
supervise_check_drained(struct instance *i)
{
	if (i->i_state == IN_DRAINING && i->i_inflight == 0)
		stop_instance(i);
}

/*
 * Scale-down victim: one that has not said HELLO yet (it holds nothing),
 * else the ready one holding the least, the newest among equals.
 */
static struct instance *
pick_victim(struct stream *s)
{
	struct instance *i, *best = NULL;

	TAILQ_FOREACH(i, &s->s_instances, i_entry) {
		if (leaving(i))
			continue;
		if (i->i_state == IN_STARTING)
			return i;
		if (best == NULL || i->i_inflight <= best->i_inflight)
			best = i;
	}
	return best;
}

static void
drain_instance(struct instance *i)
{
	if (i->i_state == IN_STARTING) {
		stop_instance(i);
		return;
	}
	i->i_state = IN_DRAINING;
	log_debug("tenant %s: stream %s: draining instance %s (%u in flight)",
	    i->i_stream->s_tid, i->i_stream->s_name, i->i_id, i->i_inflight);
	supervise_check_drained(i);
}

void
supervise_reconcile(struct stream *s)
{
	int target = supervise_target(s), running = supervise_running(s);
	uint64_t now;

	while (running > target) {
		drain_instance(pick_victim(s));
		running--;
	}
	if (running >= target || s->s_mgr->m_stopping || s->s_retiring)
		return;
	now = clock_mono_ms();
	if (s->s_backoff_until > now) {
		if (s->s_restart_ev == NULL &&
		    (s->s_restart_ev = evtimer_new(s->s_mgr->m_base, on_restart,
		    s)) == NULL)
			fatalx("%s: evtimer_new", __func__);
		if (!evtimer_pending(s->s_restart_ev, NULL))
			clock_timer_in(s->s_restart_ev, s->s_backoff_until - now);
		return;
	}
	while (running < target && spawn_instance(s) == 0)
		running++;
	if (running < target)	/* a start failed: try again after backoff */
		supervise_reconcile(s);
}

static void
on_restart(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	supervise_reconcile(arg);
}

void
supervise_stop_all(struct stream *s)
{
	struct instance *i;

	TAILQ_FOREACH(i, &s->s_instances, i_entry)
		stop_instance(i);
}

void
supervise_tick(struct stream *s)
{
	const struct conf_platform_stream *ps = &s->s_mgr->m_conf->p_stream;
	uint64_t now = clock_mono_ms();
	struct instance *i;

	if (s->s_fast_failures == 0)
		return;
	TAILQ_FOREACH(i, &s->s_instances, i_entry)
		if (i->i_state == IN_READY &&
		    now - i->i_started_ms >= ps->ps_min_uptime_ms) {
			if (s->s_crashloop)
				log_info("tenant %s: stream %s: crash loop "
				    "over: %s runs stably", s->s_tid, s->s_name,
				    i->i_id);
			s->s_fast_failures = 0;
			s->s_crashloop = false;
			return;
		}
}

static struct instance *
find_pid(struct smgr *m, pid_t pid)
{
	struct stream *s;
	struct instance *i;

	TAILQ_FOREACH(s, &m->m_streams, s_entry)
		TAILQ_FOREACH(i, &s->s_instances, i_entry)
			if (i->i_pid == pid)
				return i;
	return NULL;
}

/* An instance is gone: give back what it held, then decide on a restart. */
static void
instance_gone(struct instance *i, int status)
{
	struct stream *s = i->i_stream;
	const struct conf_platform_stream *ps = &s->s_mgr->m_conf->p_stream;
	bool asked = i->i_state == IN_STOPPING;
	uint64_t uptime = clock_mono_ms() - i->i_started_ms;
	char how[96];

	app_describe_exit(status, how, sizeof(how));
	if (asked)
		log_info("tenant %s: stream %s: instance %s (pid %d) %s",
		    s->s_tid, s->s_name, i->i_id, (int)i->i_pid, how);
	else
		log_warnx("tenant %s: stream %s: instance %s (pid %d) %s after "
		    "%llu ms, holding %u message%s", s->s_tid, s->s_name,
		    i->i_id, (int)i->i_pid, how, (unsigned long long)uptime,
		    i->i_inflight, i->i_inflight == 1 ? "" : "s");
	TAILQ_REMOVE(&s->s_instances, i, i_entry);
	if (s->s_rr == i)
		s->s_rr = NULL;
	/* Its pid is reaped: nothing may signal it any more. */
	i->i_state = IN_STOPPING;
	stream_release(s, i, "instance died");
	event_free(i->i_kill_ev);
	if (!asked) {
		scontrol_event(s, "instance-exit", how);
		s->s_n.restarts++;
		if (WIFEXITED(status) && WEXITSTATUS(status) ==
		    APP_EXIT_PERMANENT) {
			s->s_state = ST_FAILED;
			log_warnx("tenant %s: stream %s: the app exited %d: "
			    "failed, not restarted until `mysimbdp start`",
			    s->s_tid, s->s_name, APP_EXIT_PERMANENT);
			scontrol_event(s, "failed", how);
		} else if (uptime < ps->ps_min_uptime_ms)
			note_fast_failure(s);
		else
			s->s_fast_failures = 0;
	}
	free(i);
	supervise_reconcile(s);
}

static bool
reap_find(pid_t pid, struct app_found *f, void *arg)
{
	struct instance *i = find_pid(arg, pid);

	if (i == NULL)
		return false;
	f->af_run = i;
	f->af_leaf = &i->i_leaf;
	return true;
}

static void
reap_exited(void *run, int status, const struct rusage *ru, void *arg)
{
	(void)ru;
	(void)arg;
	instance_gone(run, status);
}

void
supervise_reap(struct smgr *m)
{
	const struct app_reaper r = {
		.ar_find = reap_find,
		.ar_exited = reap_exited,
		.ar_arg = m,
	};

	app_reap(&r);
}
