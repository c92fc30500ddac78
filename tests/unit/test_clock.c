/*
 * Unit tests for common/clock.c: a timer armed with clock_timer_in on a
 * base from clock_event_base never fires before its time has passed on
 * the monotonic clock, even when the loop's cached time is refreshed
 * again later in the same turn (as batchmgr does when it arms several
 * timers). On libevent's default base, whose cache is the coarse clock,
 * most such timers fire up to a tick early (a 200 ms retry backoff was
 * recorded as 197 ms).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <event2/event.h>

#include "clock.h"

#define DELAY_MS	20
#define ROUNDS		50
/* libevent keeps times in microseconds: a deadline may be one short. */
#define SLACK_NS	1000

struct round {
	struct event	*r_ev;
	int64_t		 r_armed_ns;
	int		 r_done;
	int		 r_early;
	int64_t		 r_worst_ns;
};

/* Arms the timer, then works on for 2.5 ms (past a 4 ms tick more often
 * than not) and refreshes the cache. */
static void
arm(struct round *r)
{
	int64_t t;

	r->r_armed_ns = clock_mono_ns();
	assert_int_equal(clock_timer_in(r->r_ev, DELAY_MS), 0);
	for (t = clock_mono_ns(); clock_mono_ns() - t < 2500000;)
		;
	event_base_update_cache_time(event_get_base(r->r_ev));
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct round *r = arg;
	int64_t took = clock_mono_ns() - r->r_armed_ns;

	(void)fd;
	(void)what;
	if (took < (int64_t)DELAY_MS * 1000000 - SLACK_NS) {
		r->r_early++;
		if ((int64_t)DELAY_MS * 1000000 - took > r->r_worst_ns)
			r->r_worst_ns = (int64_t)DELAY_MS * 1000000 - took;
	}
	if (++r->r_done < ROUNDS)
		arm(r);
}

static void
test_timer_never_early(void **state)
{
	struct event_base *base = clock_event_base();
	struct round r = { 0 };

	(void)state;
	assert_non_null(base);
	r.r_ev = evtimer_new(base, on_timer, &r);
	assert_non_null(r.r_ev);
	arm(&r);
	assert_int_equal(event_base_dispatch(base), 1);	/* nothing left */
	assert_int_equal(r.r_done, ROUNDS);
	if (r.r_early > 0)
		fail_msg("%d of %d timers fired early, by up to %lld us",
		    r.r_early, ROUNDS, (long long)(r.r_worst_ns / 1000));
	event_free(r.r_ev);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timer_never_early),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
