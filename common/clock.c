#include "clock.h"

#include <event2/event.h>
#include <time.h>

int64_t
clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
clock_mono_ms(void)
{
	return clock_mono_ns() / 1000000;
}

struct event_base *
clock_event_base(void)
{
	struct event_config *cfg;
	struct event_base *base;

	if ((cfg = event_config_new()) == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

int
clock_timer_in(struct event *ev, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };

	/* A callback may run long after its turn began (a reap, a record,
	 * a spawn): a retry's backoff counts from when it was decided. */
	event_base_update_cache_time(event_get_base(ev));
	return event_add(ev, &tv);
}
