/*
 * The lives of a stream's instances and of the stream's supervisor, as
 * two transition functions with no side effects (s6's way: the state and
 * an event give the next state and what to do; supervise.c does it).
 * Every state change of an instance or of a stream goes through here.
 */
#ifndef MYSIMBDP_LIFECYCLE_H
#define MYSIMBDP_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * An instance: STARTING (spawned, no HELLO yet) -> READY (gets
 * deliveries) -> LEAVING (it said BYE, or its connection is gone: no
 * deliveries; it has stop_timeout to exit by itself) or DRAINING (scaled
 * down: no new deliveries, SIGTERM once it holds none) -> STOPPING
 * (SIGTERM sent; SIGKILL after stop_timeout) -> GONE (reaped). A leaver
 * still there after its stop_timeout is stopped as if it lingered on
 * purpose: an app stuck after its BYE would otherwise run for ever. One
 * still STARTING after start_timeout is stopped too: it would otherwise
 * hold its place in the desired count for ever, with no delivery.
 */
enum inst_state { IN_STARTING, IN_READY, IN_LEAVING, IN_DRAINING,
	IN_STOPPING, IN_GONE, IN_NSTATES };

enum inst_event {
	IE_HELLO,	/* it connected and gave its credit */
	IE_BYE,		/* it asked for no more, or cannot be sent to */
	IE_DRAIN,	/* one too many: let it finish, then stop it */
	IE_SETTLED,	/* one of its messages was acked, nacked or timed out */
	IE_STOP,	/* stop now (shutdown grace over, stream stopped) */
	IE_TIMEOUT,	/* start_timeout passed since its start (no HELLO),
			   or stop_timeout since its BYE or its SIGTERM */
	IE_EXIT,	/* reaped */
	IE_NEVENTS
};

/* What the supervisor does after a transition. */
enum inst_action {
	IA_NONE,
	IA_WAIT,	/* give it stop_timeout to exit (IE_TIMEOUT then) */
	IA_TERM,	/* SIGTERM now, IE_TIMEOUT after stop_timeout */
	IA_KILL,	/* SIGKILL to its process group */
	IA_DISARM,	/* it said HELLO: no IE_TIMEOUT for start_timeout */
};

/* Moves *st on ev; inflight is what the instance holds now. */
enum inst_action lifecycle_instance(enum inst_state *st, enum inst_event ev,
    uint32_t inflight);

/* Counted as running toward the desired count. */
bool lifecycle_inst_running(enum inst_state st);

/* May be given messages (within its credit). */
bool lifecycle_inst_takes(enum inst_state st);

/* As status shows it. */
const char *lifecycle_inst_name(enum inst_state st);

struct stream;

/* How many of s's instances are running. */
int lifecycle_running(const struct stream *s);

/*
 * How many instances to start now, toward target, without more than max
 * processes: those leaving (they said BYE and have not exited yet) count,
 * so an app that says BYE and lingers is not replaced without bound,
 * while one that leaves with room to spare is replaced at once.
 */
int lifecycle_starts(int target, int running, int leaving, int max);

/*
 * A stream's supervisor: RUNNING keeps `desired` instances (with restart
 * backoff and crash-loop detection); STOPPED keeps none (messages are
 * still accepted and wait); DRAINING refuses new messages and keeps its
 * instances until the queue is empty, then DRAINED (none); FAILED: the
 * app exited 125, none until `start`. RETIRING (profile removed) and
 * SHUTDOWN (streammgr stopping) refuse new messages, deliver what is
 * queued with the instances there are, then stop them; nothing leaves
 * those two.
 */
enum sv_state { SV_RUNNING, SV_STOPPED, SV_DRAINING, SV_DRAINED, SV_FAILED,
	SV_RETIRING, SV_SHUTDOWN, SV_NSTATES };

enum sv_event {
	SE_START,		/* operator: start */
	SE_STOP,		/* operator: stop */
	SE_DRAIN,		/* operator: drain */
	SE_RETIRE,		/* reload: the profile is gone */
	SE_REVIVE,		/* reload: the profile is back while retiring */
	SE_SHUTDOWN,		/* SIGTERM */
	SE_IDLE,		/* the queue holds nothing now */
	SE_QUICK_EXIT,		/* an instance died before min_uptime, could
				   not be started, or was stopped for no
				   HELLO within start_timeout */
	SE_LATE_EXIT,		/* an instance died after a stable run (which
				   ends a crash loop as SE_STABLE does) */
	SE_PERMANENT_EXIT,	/* an instance exited 125 */
	SE_STABLE,		/* an instance has been up min_uptime */
	SE_NEVENTS
};

struct sv_params {
	uint64_t	 backoff_ms;		/* after the first quick exit */
	uint64_t	 backoff_max_ms;
	int		 crashloop_restarts;	/* quick exits in a row */
};

struct sv {
	enum sv_state	 sv_state;
	bool		 sv_crashloop;
	int		 sv_fast_failures;	/* quick exits in a row */
	uint64_t	 sv_delay_ms;		/* the last backoff */
	uint64_t	 sv_backoff_until;	/* monotonic ms; no start before */
};

/* What the supervisor reports after a transition (bits). */
#define SX_CRASHLOOP	0x01	/* a crash loop began */
#define SX_RECOVERED	0x02	/* a crash loop ended */
#define SX_FAILED	0x04	/* the app asked not to be restarted */
#define SX_DRAINED	0x08	/* a drain is complete */

/* Moves sv on ev at monotonic time now; idle: the queue holds nothing.
 * Returns SX_* bits. */
unsigned lifecycle_stream(struct sv *sv, enum sv_event ev, bool idle,
    uint64_t now, const struct sv_params *p);

/* How many instances the stream should have: desired when it runs or
 * drains, none when stopped, and while retiring or shutting down the
 * running ones until the queue is empty. */
int lifecycle_target(const struct sv *sv, int desired, int running,
    bool idle);

/* The shortest wait after a quick exit, whatever restart_backoff says:
 * a start that fails at once (the app cannot be executed) would
 * otherwise be tried again without end. */
#define LIFECYCLE_BACKOFF_MIN_MS 10

/* New instances may be started now (none while retiring or shutting
 * down, none before the backoff is over). */
bool lifecycle_may_start(const struct sv *sv, uint64_t now);

/* NULL when new messages are taken, else the reply: THROTTLE, as both
 * refusals pass (a start, a restart): the producer sends again later. */
const char *lifecycle_refusal(const struct sv *sv);

/* As status shows it ("crashloop" for a running one in a crash loop). */
const char *lifecycle_stream_name(const struct sv *sv);

/* Which event an instance's exit is for the stream (SE_NEVENTS when none:
 * it was asked to stop); status as from waitpid. no_hello: it was
 * stopped for no HELLO within start_timeout, a failed start however
 * long that took. */
enum sv_event lifecycle_exit_event(bool asked, bool no_hello, int status,
    uint64_t uptime_ms, uint64_t min_uptime_ms);

#endif
