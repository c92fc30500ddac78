/*
 * A token bucket holding one second's worth of a rate, refilled
 * continuously: a burst of `rate` is taken at once, then `rate` a second.
 * streammgr's max_messages_per_second and the monitor's
 * max_reports_per_second. Pure: the clock is passed in.
 */
#ifndef MYSIMBDP_BUCKET_H
#define MYSIMBDP_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

/* Zeroed, a bucket is full at its first take. */
struct bucket {
	double		 b_tokens;
	uint64_t	 b_ms;		/* when last refilled */
};

/*
 * Takes one token at now_ms (monotonic) for a rate per second. Returns
 * true, or false when the rate is used up (nothing taken). A rate of 0
 * or less is no limit: always true.
 */
bool bucket_take(struct bucket *b, double rate, uint64_t now_ms);

#endif
