/*
 * Unit tests for manager/streammgr/lifecycle.c: every instance state ×
 * event, every supervisor state × event, the crash-loop backoff (and its
 * floor), drain, stop, retire on reload and shutdown, what the states
 * allow (deliveries, starts, new messages), how many starts leavers
 * leave room for, and an app that never says HELLO.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "lifecycle.h"

/* ---- instances ----------------------------------------------------- */

struct inst_case {
	enum inst_state	 from;
	enum inst_event	 ev;
	uint32_t	 inflight;
	enum inst_state	 to;
	enum inst_action act;
};

#define S_ IN_STARTING
#define R_ IN_READY
#define L_ IN_LEAVING
#define D_ IN_DRAINING
#define P_ IN_STOPPING
#define G_ IN_GONE

/* The whole table: every state × event (inflight 0 and 3 where it
 * matters). */
static const struct inst_case inst_table[] = {
	/* In time: its start_timeout is off. */
	{ S_, IE_HELLO, 0, R_, IA_DISARM },
	{ R_, IE_HELLO, 0, R_, IA_NONE },
	{ L_, IE_HELLO, 0, L_, IA_NONE },
	{ D_, IE_HELLO, 3, D_, IA_NONE },
	{ P_, IE_HELLO, 0, P_, IA_NONE },
	{ G_, IE_HELLO, 0, G_, IA_NONE },

	/* Leaving: it has stop_timeout to exit (IE_TIMEOUT then). */
	{ S_, IE_BYE, 0, L_, IA_WAIT },
	{ R_, IE_BYE, 3, L_, IA_WAIT },
	{ L_, IE_BYE, 0, L_, IA_NONE },
	{ D_, IE_BYE, 3, D_, IA_NONE },
	{ P_, IE_BYE, 0, P_, IA_NONE },
	{ G_, IE_BYE, 0, G_, IA_NONE },

	{ S_, IE_DRAIN, 0, P_, IA_TERM },
	{ R_, IE_DRAIN, 3, D_, IA_NONE },
	{ R_, IE_DRAIN, 0, P_, IA_TERM },
	{ L_, IE_DRAIN, 3, D_, IA_NONE },
	{ L_, IE_DRAIN, 0, P_, IA_TERM },
	{ D_, IE_DRAIN, 3, D_, IA_NONE },
	{ P_, IE_DRAIN, 0, P_, IA_NONE },
	{ G_, IE_DRAIN, 0, G_, IA_NONE },

	{ S_, IE_SETTLED, 0, S_, IA_NONE },
	{ R_, IE_SETTLED, 0, R_, IA_NONE },
	{ L_, IE_SETTLED, 0, L_, IA_NONE },
	{ D_, IE_SETTLED, 3, D_, IA_NONE },
	{ D_, IE_SETTLED, 0, P_, IA_TERM },
	{ P_, IE_SETTLED, 0, P_, IA_NONE },
	/* A reaped instance's messages are given back: nothing more. */
	{ G_, IE_SETTLED, 0, G_, IA_NONE },

	{ S_, IE_STOP, 0, P_, IA_TERM },
	{ R_, IE_STOP, 3, P_, IA_TERM },
	{ L_, IE_STOP, 0, P_, IA_TERM },
	{ D_, IE_STOP, 3, P_, IA_TERM },
	{ P_, IE_STOP, 0, P_, IA_NONE },
	{ G_, IE_STOP, 0, G_, IA_NONE },

	/* Armed at the start (start_timeout), on BYE (a leaver, drained
	 * since or not) and on SIGTERM: one with no HELLO yet, or a leaver
	 * still there, gets SIGTERM, then SIGKILL. */
	{ S_, IE_TIMEOUT, 0, P_, IA_TERM },
	{ R_, IE_TIMEOUT, 3, R_, IA_NONE },
	{ L_, IE_TIMEOUT, 3, P_, IA_TERM },
	{ L_, IE_TIMEOUT, 0, P_, IA_TERM },
	{ D_, IE_TIMEOUT, 3, P_, IA_TERM },
	{ P_, IE_TIMEOUT, 0, P_, IA_KILL },
	{ G_, IE_TIMEOUT, 0, G_, IA_NONE },

	{ S_, IE_EXIT, 0, G_, IA_NONE },
	{ R_, IE_EXIT, 3, G_, IA_NONE },
	{ L_, IE_EXIT, 0, G_, IA_NONE },
	{ D_, IE_EXIT, 3, G_, IA_NONE },
	{ P_, IE_EXIT, 0, G_, IA_NONE },
	{ G_, IE_EXIT, 0, G_, IA_NONE },
};

static void
test_instance_table(void **state)
{
	bool seen[IN_NSTATES][IE_NEVENTS] = { { false } };

	(void)state;
	for (size_t k = 0; k < sizeof(inst_table) / sizeof(inst_table[0]);
	    k++) {
		const struct inst_case *c = &inst_table[k];
		enum inst_state st = c->from;
		enum inst_action a = lifecycle_instance(&st, c->ev,
		    c->inflight);

		if (st != c->to || a != c->act)
			fail_msg("case %zu: state %d event %d inflight %u: "
			    "got state %d action %d, want %d %d", k, c->from,
			    c->ev, c->inflight, st, a, c->to, c->act);
		seen[c->from][c->ev] = true;
	}
	for (int s = 0; s < IN_NSTATES; s++)
		for (int e = 0; e < IE_NEVENTS; e++)
			if (!seen[s][e])
				fail_msg("state %d event %d: not in the table",
				    s, e);
}

static void
test_instance_properties(void **state)
{
	(void)state;
	/* Only these count toward the desired count. */
	assert_true(lifecycle_inst_running(IN_STARTING));
	assert_true(lifecycle_inst_running(IN_READY));
	assert_false(lifecycle_inst_running(IN_LEAVING));
	assert_false(lifecycle_inst_running(IN_DRAINING));
	assert_false(lifecycle_inst_running(IN_STOPPING));
	assert_false(lifecycle_inst_running(IN_GONE));
	/* Only a ready one gets messages. */
	for (int s = 0; s < IN_NSTATES; s++)
		assert_int_equal(lifecycle_inst_takes(s), s == IN_READY);
	/* Told apart: a leaver goes by itself, a drained one is stopped. */
	assert_string_equal(lifecycle_inst_name(IN_LEAVING), "leaving");
	assert_string_equal(lifecycle_inst_name(IN_DRAINING), "draining");
	assert_string_equal(lifecycle_inst_name(IN_READY), "ready");
}

/* ---- streams ------------------------------------------------------- */

static const struct sv_params P = {
	.backoff_ms = 100,
	.backoff_max_ms = 1000,
	.crashloop_restarts = 3,
};

#define RUN SV_RUNNING
#define STP SV_STOPPED
#define DRN SV_DRAINING
#define DRD SV_DRAINED
#define FLD SV_FAILED
#define RET SV_RETIRING
#define SHT SV_SHUTDOWN

struct sv_case {
	enum sv_state	 from;
	enum sv_event	 ev;
	bool		 idle;
	enum sv_state	 to;
	unsigned	 sx;
};

/* Every state × event (idle and not where it matters). Exits are counted
 * in the backoff tests; here only the state and the reports. */
static const struct sv_case sv_table[] = {
	{ RUN, SE_START, false, RUN, 0 },
	{ STP, SE_START, false, RUN, 0 },
	{ DRN, SE_START, false, RUN, 0 },
	{ DRD, SE_START, true, RUN, 0 },
	{ FLD, SE_START, false, RUN, 0 },
	{ RET, SE_START, false, RET, 0 },
	{ SHT, SE_START, false, SHT, 0 },

	{ RUN, SE_STOP, false, STP, 0 },
	{ STP, SE_STOP, false, STP, 0 },
	{ DRN, SE_STOP, false, STP, 0 },
	{ DRD, SE_STOP, true, STP, 0 },
	{ FLD, SE_STOP, false, STP, 0 },
	{ RET, SE_STOP, false, RET, 0 },
	{ SHT, SE_STOP, false, SHT, 0 },

	{ RUN, SE_DRAIN, false, DRN, 0 },
	{ RUN, SE_DRAIN, true, DRD, SX_DRAINED },
	{ STP, SE_DRAIN, false, DRN, 0 },
	{ DRN, SE_DRAIN, false, DRN, 0 },
	{ DRD, SE_DRAIN, true, DRD, SX_DRAINED },
	{ FLD, SE_DRAIN, false, DRN, 0 },
	{ RET, SE_DRAIN, false, RET, 0 },
	{ SHT, SE_DRAIN, true, SHT, 0 },

	{ RUN, SE_RETIRE, false, RET, 0 },
	{ STP, SE_RETIRE, false, RET, 0 },
	{ DRN, SE_RETIRE, false, RET, 0 },
	{ DRD, SE_RETIRE, true, RET, 0 },
	{ FLD, SE_RETIRE, false, RET, 0 },
	{ RET, SE_RETIRE, false, RET, 0 },
	{ SHT, SE_RETIRE, false, SHT, 0 },

	/* A profile back before the retiring stream was freed. */
	{ RUN, SE_REVIVE, false, RUN, 0 },
	{ STP, SE_REVIVE, false, STP, 0 },
	{ DRN, SE_REVIVE, false, DRN, 0 },
	{ DRD, SE_REVIVE, true, DRD, 0 },
	{ FLD, SE_REVIVE, false, FLD, 0 },
	{ RET, SE_REVIVE, false, RUN, 0 },
	{ SHT, SE_REVIVE, false, SHT, 0 },

	{ RUN, SE_SHUTDOWN, false, SHT, 0 },
	{ STP, SE_SHUTDOWN, false, SHT, 0 },
	{ DRN, SE_SHUTDOWN, false, SHT, 0 },
	{ DRD, SE_SHUTDOWN, true, SHT, 0 },
	{ FLD, SE_SHUTDOWN, false, SHT, 0 },
	{ RET, SE_SHUTDOWN, false, RET, 0 },
	{ SHT, SE_SHUTDOWN, false, SHT, 0 },

	{ RUN, SE_IDLE, true, RUN, 0 },
	{ STP, SE_IDLE, true, STP, 0 },
	{ DRN, SE_IDLE, true, DRD, SX_DRAINED },
	{ DRD, SE_IDLE, true, DRD, 0 },
	{ FLD, SE_IDLE, true, FLD, 0 },
	{ RET, SE_IDLE, true, RET, 0 },
	{ SHT, SE_IDLE, true, SHT, 0 },

	{ RUN, SE_QUICK_EXIT, false, RUN, 0 },
	{ STP, SE_QUICK_EXIT, false, STP, 0 },
	{ DRN, SE_QUICK_EXIT, false, DRN, 0 },
	{ DRD, SE_QUICK_EXIT, true, DRD, 0 },
	{ FLD, SE_QUICK_EXIT, false, FLD, 0 },
	{ RET, SE_QUICK_EXIT, false, RET, 0 },
	{ SHT, SE_QUICK_EXIT, false, SHT, 0 },

	{ RUN, SE_LATE_EXIT, false, RUN, 0 },
	{ STP, SE_LATE_EXIT, false, STP, 0 },
	{ DRN, SE_LATE_EXIT, false, DRN, 0 },
	{ DRD, SE_LATE_EXIT, true, DRD, 0 },
	{ FLD, SE_LATE_EXIT, false, FLD, 0 },
	{ RET, SE_LATE_EXIT, false, RET, 0 },
	{ SHT, SE_LATE_EXIT, false, SHT, 0 },

	{ RUN, SE_PERMANENT_EXIT, false, FLD, SX_FAILED },
	{ STP, SE_PERMANENT_EXIT, false, FLD, SX_FAILED },
	{ DRN, SE_PERMANENT_EXIT, false, FLD, SX_FAILED },
	{ DRD, SE_PERMANENT_EXIT, true, FLD, SX_FAILED },
	{ FLD, SE_PERMANENT_EXIT, false, FLD, SX_FAILED },
	/* Retiring and shutting down end only with the stream. */
	{ RET, SE_PERMANENT_EXIT, false, RET, 0 },
	{ SHT, SE_PERMANENT_EXIT, false, SHT, 0 },

	{ RUN, SE_STABLE, false, RUN, 0 },
	{ STP, SE_STABLE, false, STP, 0 },
	{ DRN, SE_STABLE, false, DRN, 0 },
	{ DRD, SE_STABLE, true, DRD, 0 },
	{ FLD, SE_STABLE, false, FLD, 0 },
	{ RET, SE_STABLE, false, RET, 0 },
	{ SHT, SE_STABLE, false, SHT, 0 },
};

static void
test_stream_table(void **state)
{
	bool seen[SV_NSTATES][SE_NEVENTS] = { { false } };

	(void)state;
	for (size_t k = 0; k < sizeof(sv_table) / sizeof(sv_table[0]); k++) {
		const struct sv_case *c = &sv_table[k];
		struct sv sv = { .sv_state = c->from };
		unsigned sx = lifecycle_stream(&sv, c->ev, c->idle, 5000, &P);

		if (sv.sv_state != c->to || sx != c->sx)
			fail_msg("case %zu: state %d event %d idle %d: got "
			    "state %d reports %#x, want %d %#x", k, c->from,
			    c->ev, c->idle, sv.sv_state, sx, c->to, c->sx);
		seen[c->from][c->ev] = true;
	}
	for (int s = 0; s < SV_NSTATES; s++)
		for (int e = 0; e < SE_NEVENTS; e++)
			if (!seen[s][e])
				fail_msg("state %d event %d: not in the table",
				    s, e);
}

/* Quick exits double the wait up to the cap; the third in a row is a
 * crash loop, reported once; a stable instance ends it. */
static void
test_crashloop_backoff(void **state)
{
	static const uint64_t delays[] = { 100, 200, 400, 800, 1000, 1000 };
	struct sv sv = { .sv_state = SV_RUNNING };
	uint64_t now = 10000;

	(void)state;
	for (size_t k = 0; k < sizeof(delays) / sizeof(delays[0]); k++) {
		unsigned sx = lifecycle_stream(&sv, SE_QUICK_EXIT, false, now,
		    &P);

		assert_int_equal(sv.sv_fast_failures, (int)k + 1);
		assert_int_equal(sv.sv_delay_ms, delays[k]);
		assert_int_equal(sv.sv_backoff_until, now + delays[k]);
		assert_int_equal(sx, k == 2 ? SX_CRASHLOOP : 0);
		assert_int_equal(sv.sv_crashloop, k >= 2);
		/* No start before the backoff is over. */
		assert_false(lifecycle_may_start(&sv, now + delays[k] - 1));
		assert_true(lifecycle_may_start(&sv, now + delays[k]));
		now += delays[k];
	}
	assert_string_equal(lifecycle_stream_name(&sv), "crashloop");
	assert_int_equal(lifecycle_stream(&sv, SE_STABLE, false, now, &P),
	    SX_RECOVERED);
	assert_false(sv.sv_crashloop);
	assert_int_equal(sv.sv_fast_failures, 0);
	assert_string_equal(lifecycle_stream_name(&sv), "running");
	/* The next quick exit starts over at the first delay. */
	lifecycle_stream(&sv, SE_QUICK_EXIT, false, now, &P);
	assert_int_equal(sv.sv_delay_ms, 100);
	/* A stable run before the crash also starts over. */
	lifecycle_stream(&sv, SE_LATE_EXIT, false, now, &P);
	assert_int_equal(sv.sv_fast_failures, 0);
	assert_int_equal(lifecycle_stream(&sv, SE_STABLE, false, now, &P), 0);
}

/* An instance that ran min_uptime and then died ends a crash loop, as a
 * stable one seen by the tick does: it may die before any tick sees it
 * ready, and the next ones, all stable, must not leave the stream
 * "crashloop" for good (the monitor scales only "running" streams). */
static void
test_late_exit_ends_crashloop(void **state)
{
	struct sv sv = { .sv_state = SV_RUNNING };

	(void)state;
	for (int k = 0; k < 3; k++)
		lifecycle_stream(&sv, SE_QUICK_EXIT, false, 0, &P);
	assert_string_equal(lifecycle_stream_name(&sv), "crashloop");
	assert_int_equal(lifecycle_stream(&sv, SE_LATE_EXIT, false, 0, &P),
	    SX_RECOVERED);
	assert_false(sv.sv_crashloop);
	assert_int_equal(sv.sv_fast_failures, 0);
	assert_string_equal(lifecycle_stream_name(&sv), "running");
	/* Reported once. */
	assert_int_equal(lifecycle_stream(&sv, SE_LATE_EXIT, false, 0, &P), 0);
}

/* restart_backoff (or its max) "0s": a start that fails at once is
 * tried again after LIFECYCLE_BACKOFF_MIN_MS, doubling up to the max,
 * never at once (supervise.c would try again without end). */
static void
test_backoff_floor(void **state)
{
	static const struct sv_params zero = { 0, 1000, 3 };
	static const struct sv_params zero_max = { 100, 0, 3 };
	struct sv sv = { .sv_state = SV_RUNNING };
	uint64_t want = LIFECYCLE_BACKOFF_MIN_MS;

	(void)state;
	for (int k = 0; k < 12; k++) {
		lifecycle_stream(&sv, SE_QUICK_EXIT, false, 5000, &zero);
		assert_int_equal(sv.sv_delay_ms, want);
		assert_false(lifecycle_may_start(&sv, 5000));
		want = want * 2 > 1000 ? 1000 : want * 2;
	}
	sv = (struct sv){ .sv_state = SV_RUNNING };
	for (int k = 0; k < 4; k++) {
		lifecycle_stream(&sv, SE_QUICK_EXIT, false, 5000, &zero_max);
		assert_int_equal(sv.sv_delay_ms, LIFECYCLE_BACKOFF_MIN_MS);
		assert_false(lifecycle_may_start(&sv, 5000));
	}
}

/* Leavers (BYE, not gone yet) count against max: a replacement starts at
 * once while there is room, else waits for a leaver's exit. */
static void
test_starts(void **state)
{
	(void)state;
	/* target, running, leaving, max */
	assert_int_equal(lifecycle_starts(2, 0, 0, 4), 2);
	assert_int_equal(lifecycle_starts(1, 0, 1, 2), 1);
	assert_int_equal(lifecycle_starts(1, 0, 1, 1), 0);
	assert_int_equal(lifecycle_starts(1, 1, 5, 1), 0);
	assert_int_equal(lifecycle_starts(3, 1, 2, 4), 1);
	assert_int_equal(lifecycle_starts(3, 3, 0, 4), 0);
	assert_int_equal(lifecycle_starts(0, 2, 0, 4), 0);
	/* Never fewer than target for a max below it (a reload). */
	assert_int_equal(lifecycle_starts(3, 0, 0, 2), 3);
	assert_int_equal(lifecycle_starts(3, 0, 1, 2), 2);
}

/* `start` clears a crash loop, its backoff and a failure. */
static void
test_start_clears(void **state)
{
	struct sv sv = { .sv_state = SV_RUNNING };

	(void)state;
	for (int k = 0; k < 4; k++)
		lifecycle_stream(&sv, SE_QUICK_EXIT, false, 0, &P);
	lifecycle_stream(&sv, SE_PERMANENT_EXIT, false, 0, &P);
	assert_string_equal(lifecycle_stream_name(&sv), "failed");
	assert_int_equal(lifecycle_target(&sv, 3, 1, false), 0);
	lifecycle_stream(&sv, SE_START, false, 0, &P);
	assert_int_equal(sv.sv_state, SV_RUNNING);
	assert_false(sv.sv_crashloop);
	assert_int_equal(sv.sv_fast_failures, 0);
	assert_true(lifecycle_may_start(&sv, 0));
	assert_int_equal(lifecycle_target(&sv, 3, 1, false), 3);
}

/* Drain: refuse new messages, keep the instances while anything is
 * queued, none once drained. */
static void
test_drain(void **state)
{
	struct sv sv = { .sv_state = SV_RUNNING };

	(void)state;
	assert_null(lifecycle_refusal(&sv));
	assert_int_equal(lifecycle_stream(&sv, SE_DRAIN, false, 0, &P), 0);
	assert_string_equal(lifecycle_refusal(&sv),
	    "THROTTLE draining: the stream takes no new messages until it "
	    "is started");
	assert_int_equal(lifecycle_target(&sv, 2, 2, false), 2);
	assert_int_equal(lifecycle_stream(&sv, SE_IDLE, true, 0, &P),
	    SX_DRAINED);
	assert_string_equal(lifecycle_stream_name(&sv), "drained");
	assert_int_equal(lifecycle_target(&sv, 2, 2, true), 0);
	assert_non_null(lifecycle_refusal(&sv));
	lifecycle_stream(&sv, SE_START, true, 0, &P);
	assert_null(lifecycle_refusal(&sv));
}

/* Stop keeps accepting messages, with no instance. */
static void
test_stop(void **state)
{
	struct sv sv = { .sv_state = SV_RUNNING };

	(void)state;
	lifecycle_stream(&sv, SE_STOP, false, 0, &P);
	assert_string_equal(lifecycle_stream_name(&sv), "stopped");
	assert_null(lifecycle_refusal(&sv));
	assert_int_equal(lifecycle_target(&sv, 2, 2, false), 0);
}

/* Retired on reload, or shut down: refuse new messages, deliver what is
 * queued with the instances there are (no new one), then none. */
static void
test_retire_and_shutdown(void **state)
{
	static const enum sv_event evs[] = { SE_RETIRE, SE_SHUTDOWN };

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		struct sv sv = { .sv_state = SV_RUNNING };

		lifecycle_stream(&sv, evs[k], false, 0, &P);
		assert_string_equal(lifecycle_refusal(&sv),
		    "THROTTLE stopping: streammgr is shutting down");
		assert_false(lifecycle_may_start(&sv, 0));
		assert_int_equal(lifecycle_target(&sv, 4, 2, false), 2);
		assert_int_equal(lifecycle_target(&sv, 4, 2, true), 0);
		/* An exit 125 now changes nothing. */
		assert_int_equal(lifecycle_stream(&sv, SE_PERMANENT_EXIT,
		    false, 0, &P), 0);
		assert_int_equal(lifecycle_target(&sv, 4, 1, false), 1);
	}
}

/* A profile back before the retiring stream was freed: it runs again;
 * nothing else revives a stream, and shutting down stays so. */
static void
test_revive(void **state)
{
	struct sv sv = { .sv_state = SV_RUNNING };

	(void)state;
	lifecycle_stream(&sv, SE_RETIRE, false, 0, &P);
	assert_false(lifecycle_may_start(&sv, 0));
	assert_int_equal(lifecycle_stream(&sv, SE_START, false, 0, &P), 0);
	assert_int_equal(sv.sv_state, SV_RETIRING);
	assert_int_equal(lifecycle_stream(&sv, SE_REVIVE, false, 0, &P), 0);
	assert_int_equal(sv.sv_state, SV_RUNNING);
	assert_null(lifecycle_refusal(&sv));
	assert_true(lifecycle_may_start(&sv, 0));
	assert_int_equal(lifecycle_target(&sv, 4, 2, false), 4);
	lifecycle_stream(&sv, SE_STOP, false, 0, &P);
	lifecycle_stream(&sv, SE_REVIVE, false, 0, &P);
	assert_int_equal(sv.sv_state, SV_STOPPED);
	sv = (struct sv){ .sv_state = SV_SHUTDOWN };
	lifecycle_stream(&sv, SE_REVIVE, false, 0, &P);
	assert_int_equal(sv.sv_state, SV_SHUTDOWN);
}

static void
test_exit_event(void **state)
{
	(void)state;
	/* Asked to stop: no event for the stream. */
	assert_int_equal(lifecycle_exit_event(true, false, 0, 10, 500),
	    SE_NEVENTS);
	assert_int_equal(lifecycle_exit_event(false, false, 125 << 8, 9000,
	    500), SE_PERMANENT_EXIT);
	assert_int_equal(lifecycle_exit_event(false, false, 1 << 8, 10, 500),
	    SE_QUICK_EXIT);
	assert_int_equal(lifecycle_exit_event(false, false, SIGKILL, 499,
	    500), SE_QUICK_EXIT);
	assert_int_equal(lifecycle_exit_event(false, false, 0, 500, 500),
	    SE_LATE_EXIT);
	/* Stopped for no HELLO: a quick exit however long it ran (an
	 * exit 125 is still the app's word). */
	assert_int_equal(lifecycle_exit_event(false, true, SIGTERM, 30000,
	    500), SE_QUICK_EXIT);
	assert_int_equal(lifecycle_exit_event(false, true, SIGKILL, 10, 500),
	    SE_QUICK_EXIT);
	assert_int_equal(lifecycle_exit_event(false, true, 125 << 8, 30000,
	    500), SE_PERMANENT_EXIT);
}

/* An app that never says HELLO: each instance is stopped at its
 * start_timeout (SIGTERM, SIGKILL a stop_timeout later), and each exit,
 * though long after min_uptime, is a quick one: the stream backs off
 * and is a crash loop, as with an app that crashes at once. One that
 * says HELLO in time is never stopped by its timer. */
static void
test_no_hello(void **state)
{
	struct sv sv = { .sv_state = SV_RUNNING };
	enum inst_state st;
	unsigned sx = 0;

	(void)state;
	for (int k = 0; k < P.crashloop_restarts; k++) {
		st = IN_STARTING;
		assert_int_equal(lifecycle_instance(&st, IE_TIMEOUT, 0),
		    IA_TERM);
		assert_int_equal(st, IN_STOPPING);
		assert_false(lifecycle_inst_running(st));
		/* A late HELLO changes nothing. */
		assert_int_equal(lifecycle_instance(&st, IE_HELLO, 0), IA_NONE);
		assert_int_equal(st, IN_STOPPING);
		assert_int_equal(lifecycle_instance(&st, IE_TIMEOUT, 0),
		    IA_KILL);
		lifecycle_instance(&st, IE_EXIT, 0);
		assert_int_equal(st, IN_GONE);
		sx = lifecycle_stream(&sv, lifecycle_exit_event(false, true,
		    SIGKILL, 30000 + 10000, 1000), false, 0, &P);
		assert_int_equal(sv.sv_fast_failures, k + 1);
		assert_false(lifecycle_may_start(&sv, 0));
	}
	assert_int_equal(sx, SX_CRASHLOOP);
	assert_string_equal(lifecycle_stream_name(&sv), "crashloop");

	st = IN_STARTING;
	assert_int_equal(lifecycle_instance(&st, IE_HELLO, 0), IA_DISARM);
	assert_int_equal(lifecycle_instance(&st, IE_TIMEOUT, 3), IA_NONE);
	assert_int_equal(st, IN_READY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_instance_table),
		cmocka_unit_test(test_instance_properties),
		cmocka_unit_test(test_stream_table),
		cmocka_unit_test(test_crashloop_backoff),
		cmocka_unit_test(test_late_exit_ends_crashloop),
		cmocka_unit_test(test_backoff_floor),
		cmocka_unit_test(test_starts),
		cmocka_unit_test(test_start_clears),
		cmocka_unit_test(test_drain),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_retire_and_shutdown),
		cmocka_unit_test(test_revive),
		cmocka_unit_test(test_exit_event),
		cmocka_unit_test(test_no_hello),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
