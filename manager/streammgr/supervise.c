#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app.h"
#include "clock.h"
#include "log.h"
#include "publish.h"
#include "quality.h"
#include "spawn.h"
#include "state.h"
#include "units.h"

static void on_restart(evutil_socket_t, short, void *);
static void on_kill(evutil_socket_t, short, void *);

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

static bool
idle(const struct stream *s)
{
	return queue_idle(&s->s_queue);
}

static struct sv_params
params(const struct stream *s)
{
	const struct conf_platform_stream *ps = &s->s_mgr->m_conf->p_stream;

	return (struct sv_params){
		.backoff_ms = ps->ps_restart_backoff_ms,
		.backoff_max_ms = ps->ps_restart_backoff_max_ms,
		.crashloop_restarts = ps->ps_crashloop_restarts,
	};
}

/* Says what a transition of the stream's supervisor changed. */
static void
report(struct stream *s, unsigned sx, const char *detail)
{
	const struct sv *sv = &s->s_sv;

	if (sx & SX_CRASHLOOP) {
		char what[96];

		snprintf(what, sizeof(what), "%d quick exits in a row; next "
		    "restart in %llu ms", sv->sv_fast_failures,
		    (unsigned long long)sv->sv_delay_ms);
		log_warnx("tenant %s: stream %s: crash loop: %s", s->s_tid,
		    s->s_name, what);
		publish_event(s, "crashloop", what);
	}
	if (sx & SX_RECOVERED)
		log_info("tenant %s: stream %s: crash loop over: %s",
		    s->s_tid, s->s_name, detail);
	if (sx & SX_FAILED) {
		log_warnx("tenant %s: stream %s: the app exited %d: failed, "
		    "not restarted until `mysimbdp start`", s->s_tid,
		    s->s_name, APP_EXIT_PERMANENT);
		publish_event(s, "failed", detail);
	}
	if (sx & SX_DRAINED) {
		log_info("tenant %s: stream %s: drained", s->s_tid, s->s_name);
		publish_event(s, "drained", "");
	}
}

/* One transition of the stream's supervisor, reported; no reconcile. */
static void
apply(struct stream *s, enum sv_event ev, const char *detail)
{
	struct sv_params p = params(s);

	report(s, lifecycle_stream(&s->s_sv, ev, idle(s), clock_mono_ms(), &p),
	    detail);
}

void
supervise_event(struct stream *s, enum sv_event ev)
{
	apply(s, ev, "");
	supervise_reconcile(s);
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

/*
 * A start failed: a quick exit, as the app's own would be. Logged at
 * most once a second (lograte): at restart_backoff_max "0s" starts are
 * tried every LIFECYCLE_BACKOFF_MIN_MS.
 */
static void
start_failed(struct stream *s, const char *why)
{
	uint64_t unreported;
	char more[64] = "";

	if (lograte_due(&s->s_start_failed, clock_mono_ms(), &unreported)) {
		if (unreported > 0)
			snprintf(more, sizeof(more), " (%" PRIu64 " more failed "
			    "since the last report)", unreported);
		log_warnx("tenant %s: stream %s: cannot start an instance: "
		    "%s%s", s->s_tid, s->s_name, why, more);
	}
	apply(s, SE_QUICK_EXIT, why);
}

static int
spawn_instance(struct stream *s)
{
	struct smgr *m = s->s_mgr;
	struct instance *i = calloc(1, sizeof(*i));
	char log[STREAM_NAME_MAX + sizeof("stream-")], *endpoint, *rules;
	struct app_spec spec;
	struct app app;
	const char *stage;
	char why[512];
	unsigned num;
	int rc, err;

	if (i == NULL)
		fatal("%s: calloc", __func__);
	/* A number not reserved durably could come back after a crash. */
	if ((rc = instnum_next(&s->s_instnum, &num, why, sizeof(why))) ==
	    -1) {
		free(i);
		start_failed(s, why);
		return -1;
	}
	if (rc == 1)	/* once a block: the disk is full */
		log_info("tenant %s: stream %s: instance numbers reserved "
		    "in place: %s", s->s_tid, s->s_name, why);
	i->i_stream = s;
	snprintf(i->i_id, sizeof(i->i_id), "%s-%u", s->s_name, num);
	snprintf(log, sizeof(log), "stream-%s", s->s_name);
	endpoint = state_endpoint(m->m_conf, "run/%s/%s.work", s->s_tid,
	    s->s_name);
	rules = s->s_conf->s_quality.q_enabled ?
	    quality_json(&s->s_conf->s_quality) : NULL;
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
		.as_quality = rules,
	};
	rc = app_start(&spec, &app, &stage);
	err = errno;
	free(endpoint);
	free(rules);
	if (rc < 0) {
		char how[160];

		snprintf(how, sizeof(how), "%s: %s: %s", s->s_conf->s_argv[0],
		    stage, strerror(err));
		free(i);
		start_failed(s, how);
		return -1;
	}
	i->i_pid = app.ap_pid;
	i->i_leaf = app.ap_leaf;
	i->i_log = app.ap_log;
	i->i_state = IN_STARTING;
	i->i_started_ms = clock_mono_ms();
	if ((i->i_kill_ev = evtimer_new(m->m_base, on_kill, i)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	/* IE_TIMEOUT unless its HELLO (IA_DISARM) or a stop comes first. */
	clock_timer_in(i->i_kill_ev, s->s_conf->s_start_timeout_ms);
	TAILQ_INSERT_TAIL(&s->s_instances, i, i_entry);
	log_info("tenant %s: stream %s: started instance %s (pid %d)",
	    s->s_tid, s->s_name, i->i_id, (int)i->i_pid);
	return 0;
}

static struct event *
restart_ev(struct stream *s)
{
	if (s->s_restart_ev == NULL && (s->s_restart_ev = evtimer_new(
	    s->s_mgr->m_base, on_restart, s)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	return s->s_restart_ev;
}

/* SIGTERM to its process group now, IE_TIMEOUT after stop_timeout. */
static void
terminate(struct instance *i)
{
	struct stream *s = i->i_stream;

	log_info("tenant %s: stream %s: stopping instance %s (pid %d)",
	    s->s_tid, s->s_name, i->i_id, (int)i->i_pid);
	if (spawn_signal_group(i->i_pid, SIGTERM) < 0 && errno != ESRCH)
		log_warn("tenant %s: kill %d", s->s_tid, (int)i->i_pid);
	clock_timer_in(i->i_kill_ev, s->s_conf->s_stop_timeout_ms);
}

static void
on_kill(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	supervise_instance(arg, IE_TIMEOUT);
}

/* IE_TIMEOUT stops it (IA_TERM): a failure, said and remembered for its
 * exit; was: its state before. */
static void
timed_out(struct instance *i, enum inst_state was)
{
	struct stream *s = i->i_stream;

	if (was == IN_STARTING) {
		char limit[32];

		units_fmt_duration(s->s_conf->s_start_timeout_ms, limit,
		    sizeof(limit));
		log_warnx("tenant %s: stream %s: instance %s (pid %d) did not "
		    "say HELLO within start_timeout (%s): a failed start",
		    s->s_tid, s->s_name, i->i_id, (int)i->i_pid, limit);
		i->i_no_hello = true;
		return;
	}
	log_warnx("tenant %s: stream %s: instance %s did not exit within "
	    "stop_timeout of its BYE", s->s_tid, s->s_name, i->i_id);
	i->i_lingered = true;
}

void
supervise_instance(struct instance *i, enum inst_event ev)
{
	struct stream *s = i->i_stream;
	enum inst_state was = i->i_state;

	if (ev == IE_DRAIN)
		log_debug("tenant %s: stream %s: draining instance %s (%u in "
		    "flight)", s->s_tid, s->s_name, i->i_id, i->i_inflight);
	switch (lifecycle_instance(&i->i_state, ev, i->i_inflight)) {
	case IA_NONE:
		break;
	case IA_DISARM:
		evtimer_del(i->i_kill_ev);
		break;
	case IA_WAIT:
		/* It exits by itself, or is stopped after stop_timeout; a
		 * replacement may start now (supervise_reconcile), but not
		 * from inside stream.c's delivery loop. */
		clock_timer_in(i->i_kill_ev, s->s_conf->s_stop_timeout_ms);
		clock_timer_in(restart_ev(s), 0);
		break;
	case IA_TERM:
		if (ev == IE_TIMEOUT)
			timed_out(i, was);
		terminate(i);
		break;
	case IA_KILL:
		log_warnx("tenant %s: stream %s: instance %s did not stop "
		    "within stop_timeout: SIGKILL", s->s_tid, s->s_name,
		    i->i_id);
		spawn_signal_group(i->i_pid, SIGKILL);
		break;
	}
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
		if (!lifecycle_inst_running(i->i_state))
			continue;
		if (i->i_state == IN_STARTING)
			return i;
		if (best == NULL || i->i_inflight <= best->i_inflight)
			best = i;
	}
	return best;
}

/* Starts new instances once the backoff is over, from a timer. */
static void
restart_later(struct stream *s)
{
	uint64_t now = clock_mono_ms(), until = s->s_sv.sv_backoff_until;

	if (!evtimer_pending(restart_ev(s), NULL))
		clock_timer_in(s->s_restart_ev, until > now ? until - now : 0);
}

/* Instances that said BYE (or could not be sent to) and are still there,
 * those stopped for lingering after it included, and those stopped for
 * no HELLO: processes still, and their replacement waits for the
 * backoff their exit sets, unless max leaves room. */
static int
leaving(const struct stream *s)
{
	const struct instance *i;
	int n = 0;

	TAILQ_FOREACH(i, &s->s_instances, i_entry)
		if (i->i_state == IN_LEAVING || i->i_lingered ||
		    i->i_no_hello)
			n++;
	return n;
}

/* With no instance wanted, those leaving go too: drained as the others
 * (SIGTERM once they hold nothing), not left to their stop_timeout. */
static void
drain_leaving(struct stream *s)
{
	struct instance *i;

	TAILQ_FOREACH(i, &s->s_instances, i_entry)
		if (i->i_state == IN_LEAVING)
			supervise_instance(i, IE_DRAIN);
}

void
supervise_reconcile(struct stream *s)
{
	int running = lifecycle_running(s);
	int target = lifecycle_target(&s->s_sv, s->s_desired, running,
	    idle(s));
	int starts;

	if (target == 0)
		drain_leaving(s);
	while (running > target) {
		supervise_instance(pick_victim(s), IE_DRAIN);
		running--;
	}
	/* Held off by leavers: their exits reconcile again. */
	starts = lifecycle_starts(target, running, leaving(s),
	    (int)s->s_conf->s_instances.i_max);
	if (starts == 0)
		return;
	if (!lifecycle_may_start(&s->s_sv, clock_mono_ms())) {
		if (s->s_sv.sv_state != SV_RETIRING &&
		    s->s_sv.sv_state != SV_SHUTDOWN)
			restart_later(s);
		return;
	}
	while (starts > 0 && spawn_instance(s) == 0)
		starts--;
	/* A start failed: it was a quick exit, with its backoff; never
	 * again from here, which at a backoff of 0 had no end. */
	if (starts > 0)
		restart_later(s);
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
		supervise_instance(i, IE_STOP);
}

void
supervise_tick(struct stream *s)
{
	uint64_t min_uptime = s->s_mgr->m_conf->p_stream.ps_min_uptime_ms;
	uint64_t now = clock_mono_ms();
	struct instance *i;
	char detail[INSTANCE_ID_MAX + 32];

	if (!s->s_sv.sv_crashloop && s->s_sv.sv_fast_failures == 0)
		return;
	TAILQ_FOREACH(i, &s->s_instances, i_entry)
		if (i->i_state == IN_READY &&
		    now - i->i_started_ms >= min_uptime) {
			snprintf(detail, sizeof(detail), "instance %s runs "
			    "stably", i->i_id);
			apply(s, SE_STABLE, detail);
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
instance_gone(struct instance *i, int status, supervise_release_fn *release)
{
	struct stream *s = i->i_stream;
	/* One that lingered after its BYE, or said no HELLO in time, was
	 * not asked: it failed. */
	bool asked = i->i_state == IN_STOPPING && !i->i_lingered &&
	    !i->i_no_hello;
	uint64_t uptime = clock_mono_ms() - i->i_started_ms;
	enum sv_event ev = lifecycle_exit_event(asked, i->i_no_hello, status,
	    uptime, s->s_mgr->m_conf->p_stream.ps_min_uptime_ms);
	char how[96], detail[INSTANCE_ID_MAX + 160];

	app_describe_exit(status, how, sizeof(how));
	/* A late exit may end a crash loop: say which instance ran. */
	if (ev == SE_LATE_EXIT)
		snprintf(detail, sizeof(detail), "instance %s ran %llu ms, "
		    "then %s", i->i_id, (unsigned long long)uptime, how);
	else
		snprintf(detail, sizeof(detail), "%s", how);
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
	lifecycle_instance(&i->i_state, IE_EXIT, 0);
	release(s, i, "instance died");
	event_free(i->i_kill_ev);
	free(i);
	if (!asked) {
		publish_event(s, "instance-exit", how);
		s->s_n.restarts++;
	}
	if (ev != SE_NEVENTS)
		apply(s, ev, detail);
	supervise_reconcile(s);
}

struct reaping {
	struct smgr		*r_mgr;
	supervise_release_fn	*r_release;
};

static bool
reap_find(pid_t pid, struct app_found *f, void *arg)
{
	struct reaping *r = arg;
	struct instance *i = find_pid(r->r_mgr, pid);

	if (i == NULL)
		return false;
	f->af_run = i;
	f->af_leaf = &i->i_leaf;
	f->af_log = &i->i_log;
	return true;
}

static void
reap_exited(void *run, int status, const struct rusage *ru, void *arg)
{
	struct reaping *r = arg;

	(void)ru;
	instance_gone(run, status, r->r_release);
}

void
supervise_reap(struct smgr *m, supervise_release_fn *release)
{
	struct reaping reaping = { m, release };
	const struct app_reaper r = {
		.ar_find = reap_find,
		.ar_exited = reap_exited,
		.ar_arg = &reaping,
	};

	app_reap(&r);
}
