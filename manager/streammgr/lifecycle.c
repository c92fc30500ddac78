#include "lifecycle.h"

#include <stddef.h>
#include <sys/wait.h>

#include "app.h"
#include "smgr.h"

/* ---- instances ----------------------------------------------------- */

static enum inst_action
stop(enum inst_state *st)
{
	*st = IN_STOPPING;
	return IA_TERM;
}

enum inst_action
lifecycle_instance(enum inst_state *st, enum inst_event ev, uint32_t inflight)
{
	if (*st == IN_GONE)	/* reaped: its pid may be another's now */
		return IA_NONE;
	switch (ev) {
	case IE_HELLO:
		if (*st != IN_STARTING)
			return IA_NONE;
		*st = IN_READY;
		return IA_DISARM;
	case IE_BYE:
		if (*st != IN_STARTING && *st != IN_READY)
			return IA_NONE;
		*st = IN_LEAVING;
		return IA_WAIT;
	case IE_DRAIN:
		/* Not connected yet: it holds nothing, stop it at once. */
		if (*st == IN_STARTING)
			return stop(st);
		if (*st != IN_READY && *st != IN_LEAVING)
			return IA_NONE;
		*st = IN_DRAINING;
		return inflight == 0 ? stop(st) : IA_NONE;
	case IE_SETTLED:
		return *st == IN_DRAINING && inflight == 0 ? stop(st) : IA_NONE;
	case IE_STOP:
		return *st == IN_STOPPING ? IA_NONE : stop(st);
	case IE_TIMEOUT:
		/* One that said no HELLO within start_timeout, or a leaver
		 * (drained since, perhaps) that did not exit: SIGTERM; one
		 * that SIGTERM did not stop either: SIGKILL. */
		if (*st == IN_STARTING || *st == IN_LEAVING ||
		    *st == IN_DRAINING)
			return stop(st);
		return *st == IN_STOPPING ? IA_KILL : IA_NONE;
	case IE_EXIT:
		*st = IN_GONE;
		return IA_NONE;
	case IE_NEVENTS:
		break;
	}
	return IA_NONE;
}

bool
lifecycle_inst_running(enum inst_state st)
{
	return st == IN_STARTING || st == IN_READY;
}

bool
lifecycle_inst_takes(enum inst_state st)
{
	return st == IN_READY;
}

const char *
lifecycle_inst_name(enum inst_state st)
{
	static const char *const names[IN_NSTATES] = {
		[IN_STARTING] = "starting", [IN_READY] = "ready",
		[IN_LEAVING] = "leaving", [IN_DRAINING] = "draining",
		[IN_STOPPING] = "stopping", [IN_GONE] = "gone",
	};

	return st < IN_NSTATES ? names[st] : "?";
}

int
lifecycle_running(const struct stream *s)
{
	const struct instance *i;
	int n = 0;

	TAILQ_FOREACH(i, &s->s_instances, i_entry)
		if (lifecycle_inst_running(i->i_state))
			n++;
	return n;
}

int
lifecycle_starts(int target, int running, int leaving, int max)
{
	int n = target - running;

	if (max < target)	/* never fewer than target for want of room */
		max = target;
	if (n > max - running - leaving)
		n = max - running - leaving;
	return n > 0 ? n : 0;
}

/* ---- streams ------------------------------------------------------- */

static uint64_t
at_least_min(uint64_t ms)
{
	return ms < LIFECYCLE_BACKOFF_MIN_MS ? LIFECYCLE_BACKOFF_MIN_MS : ms;
}

/* A quick exit: the next start waits backoff_ms, doubled per exit in a
 * row up to backoff_max_ms (both at least LIFECYCLE_BACKOFF_MIN_MS);
 * enough of them in a row are a crash loop. */
static unsigned
exited_quickly(struct sv *sv, uint64_t now, const struct sv_params *p)
{
	uint64_t delay = at_least_min(p->backoff_ms);
	uint64_t max = at_least_min(p->backoff_max_ms);

	sv->sv_fast_failures++;
	for (int k = 1; k < sv->sv_fast_failures && delay < max; k++)
		delay *= 2;
	if (delay > max)
		delay = max;
	sv->sv_delay_ms = delay;
	sv->sv_backoff_until = now + delay;
	if (sv->sv_fast_failures < p->crashloop_restarts || sv->sv_crashloop)
		return 0;
	sv->sv_crashloop = true;
	return SX_CRASHLOOP;
}

static unsigned
stable(struct sv *sv)
{
	unsigned sx = sv->sv_crashloop ? SX_RECOVERED : 0;

	sv->sv_fast_failures = 0;
	sv->sv_crashloop = false;
	return sx;
}

static unsigned
go(struct sv *sv, enum sv_state to, bool idle)
{
	if (to == SV_DRAINING && idle) {
		sv->sv_state = SV_DRAINED;
		return SX_DRAINED;
	}
	sv->sv_state = to;
	return 0;
}

unsigned
lifecycle_stream(struct sv *sv, enum sv_event ev, bool idle, uint64_t now,
    const struct sv_params *p)
{
	/* Retiring ends with the stream, unless its profile comes back
	 * first; shutting down only with the stream. */
	if (ev == SE_REVIVE) {
		if (sv->sv_state == SV_RETIRING)
			*sv = (struct sv){ .sv_state = SV_RUNNING };
		return 0;
	}
	if (sv->sv_state == SV_RETIRING || sv->sv_state == SV_SHUTDOWN)
		return 0;
	switch (ev) {
	case SE_START:
		*sv = (struct sv){ .sv_state = SV_RUNNING };
		return 0;
	case SE_STOP:
		return go(sv, SV_STOPPED, idle);
	case SE_DRAIN:
		return go(sv, SV_DRAINING, idle);
	case SE_RETIRE:
		return go(sv, SV_RETIRING, idle);
	case SE_REVIVE:		/* above */
		break;
	case SE_SHUTDOWN:
		return go(sv, SV_SHUTDOWN, idle);
	case SE_IDLE:
		return sv->sv_state == SV_DRAINING ? go(sv, SV_DRAINING, true) :
		    0;
	case SE_QUICK_EXIT:
		return exited_quickly(sv, now, p);
	case SE_LATE_EXIT:	/* it ran min_uptime: as stable as a tick sees */
		return stable(sv);
	case SE_PERMANENT_EXIT:
		sv->sv_state = SV_FAILED;
		return SX_FAILED;
	case SE_STABLE:
		return stable(sv);
	case SE_NEVENTS:
		break;
	}
	return 0;
}

int
lifecycle_target(const struct sv *sv, int desired, int running, bool idle)
{
	switch (sv->sv_state) {
	case SV_RUNNING:
	case SV_DRAINING:
		return desired;
	case SV_RETIRING:
	case SV_SHUTDOWN:
		return idle ? 0 : running;
	default:
		return 0;
	}
}

bool
lifecycle_may_start(const struct sv *sv, uint64_t now)
{
	return sv->sv_state != SV_RETIRING && sv->sv_state != SV_SHUTDOWN &&
	    sv->sv_backoff_until <= now;
}

const char *
lifecycle_refusal(const struct sv *sv)
{
	switch (sv->sv_state) {
	case SV_RETIRING:
	case SV_SHUTDOWN:
		return "THROTTLE stopping: streammgr is shutting down";
	case SV_DRAINING:
	case SV_DRAINED:
		return "THROTTLE draining: the stream takes no new messages "
		    "until it is started";
	default:
		return NULL;
	}
}

const char *
lifecycle_stream_name(const struct sv *sv)
{
	static const char *const names[SV_NSTATES] = {
		[SV_RUNNING] = "running", [SV_STOPPED] = "stopped",
		[SV_DRAINING] = "draining", [SV_DRAINED] = "drained",
		[SV_FAILED] = "failed", [SV_RETIRING] = "retiring",
		[SV_SHUTDOWN] = "stopping",
	};

	if (sv->sv_state == SV_RUNNING && sv->sv_crashloop)
		return "crashloop";
	return sv->sv_state < SV_NSTATES ? names[sv->sv_state] : "?";
}

enum sv_event
lifecycle_exit_event(bool asked, bool no_hello, int status,
    uint64_t uptime_ms, uint64_t min_uptime_ms)
{
	if (asked)
		return SE_NEVENTS;
	if (WIFEXITED(status) && WEXITSTATUS(status) == APP_EXIT_PERMANENT)
		return SE_PERMANENT_EXIT;
	/* Never a stable run, whatever start_timeout is next to
	 * min_uptime: an app that never says HELLO backs off and is a
	 * crash loop, as one that crashes at once is. */
	if (no_hello)
		return SE_QUICK_EXIT;
	return uptime_ms < min_uptime_ms ? SE_QUICK_EXIT : SE_LATE_EXIT;
}
