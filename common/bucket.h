/*
 * A token bucket holding one second's worth of a rate, refilled
 * continuously: a burst of `rate` is taken at once, then `rate` a second.
 * streammgr's max_messages_per_second, the monitor's
 * max_reports_per_second and app_logs.rate (bytes a second). Pure: the
 * clock is passed in.
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

/*
 * Refills b at now_ms and returns how many whole tokens it holds, for a
 * take of any size up to that (bucket_spend). A rate of 0 or less is no
 * limit: UINT64_MAX, and the bucket starts full when a limit comes.
 */
uint64_t bucket_room(struct bucket *b, double rate, uint64_t now_ms);

/* Takes n of the tokens bucket_room said b holds. */
void bucket_spend(struct bucket *b, uint64_t n);

/*
 * Milliseconds after b's last refill until it holds n tokens (at most
 * its capacity, the rate), rounded up: 0 when it holds them already.
 * A rate of 0 or less: 0.
 */
uint64_t bucket_wait_ms(const struct bucket *b, double rate, uint64_t n);

#endif
