/*
 * One log line a period at most for a kind of event that may come by the
 * thousand (a refusal, a failed start, a dead letter), the events in
 * between counted and said on the next line: the log stays readable and
 * bounded whatever a tenant sends, and every event is still in the
 * counters and, where there is one, its own record. Pure: the clock is
 * passed in.
 */
#ifndef MYSIMBDP_LOGRATE_H
#define MYSIMBDP_LOGRATE_H

#include <stdbool.h>
#include <stdint.h>

/* The period: a line a second at most, for every kind of event. */
#define LOGRATE_EVERY_MS 1000

/* Zeroed, its first event is logged. */
struct lograte {
	uint64_t	 lr_last_ms;	/* monotonic, of the last line; 0: none */
	uint64_t	 lr_unlogged;	/* events since that line */
};

/*
 * An event at now_ms (monotonic): true when it is to be logged (none
 * was in the last LOGRATE_EVERY_MS), with *unlogged set to the events
 * not logged since the last line; false when it is only counted.
 */
bool lograte_due(struct lograte *lr, uint64_t now_ms, uint64_t *unlogged);

#endif
