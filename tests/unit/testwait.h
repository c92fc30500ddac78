/*
 * Waits in the unit tests that run an event loop in turns: every wait
 * ends at a deadline only a hang crosses, 5 s x MYSIMBDP_TEST_TIME_FACTOR
 * (as the integration tests' factor, docs/testing.md). Include after
 * <cmocka.h>.
 */
#ifndef MYSIMBDP_TESTWAIT_H
#define MYSIMBDP_TESTWAIT_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#define WAIT_MS		5000

static inline int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* When a wait begun now fails. */
static inline int64_t
deadline(void)
{
	const char *f = getenv("MYSIMBDP_TEST_TIME_FACTOR");
	long factor = f != NULL ? strtol(f, NULL, 10) : 1;

	return now_ms() + WAIT_MS * (factor > 0 && factor < 100 ? factor : 1);
}

static inline void
check_deadline(int64_t until)
{
	if (now_ms() >= until)
		fail_msg("timed out (a wait of %d ms x time factor)", WAIT_MS);
}

/* One turn of base's loop, ms at most. */
static inline void
loop_turn(struct event_base *base, int ms)
{
	const struct timeval tv = { 0, ms * 1000 };

	event_base_loopexit(base, &tv);
	event_base_loop(base, EVLOOP_ONCE);
}

#endif
