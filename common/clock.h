/*
 * Time for timeouts, intervals and uptimes: the monotonic clock (never
 * set back), in milliseconds or nanoseconds, and a duration in ms as the
 * timeout of a libevent event. Wall-clock times for records
 * are record_now_ms (record.h).
 */
#ifndef MYSIMBDP_CLOCK_H
#define MYSIMBDP_CLOCK_H

#include <stdint.h>

/* Monotonic milliseconds since an arbitrary point (boot). */
int64_t clock_mono_ms(void);

/* Monotonic nanoseconds since the same point. */
int64_t clock_mono_ns(void);

struct event;
struct event_base;

/*
 * A libevent base whose timers run on the precise monotonic clock, or
 * NULL. By default libevent caches CLOCK_MONOTONIC_COARSE, up to a
 * scheduler tick behind (4 ms here): a timer armed on one cached time
 * and waited for from a later one, refreshed past a tick in the same
 * turn of the loop, fires up to a tick early (a 200 ms retry backoff
 * measured 197 ms between its records; unit-clock).
 */
struct event_base *clock_event_base(void);

/* Adds ev (a timer, or an event with a timeout) to fire in ms from now,
 * not from the time libevent cached when this turn of the loop began:
 * event_add's return value. */
int clock_timer_in(struct event *ev, uint64_t ms);

#endif
