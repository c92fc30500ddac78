#include "bucket.h"

#include <math.h>

uint64_t
bucket_room(struct bucket *b, double rate, uint64_t now_ms)
{
	if (rate <= 0) {
		*b = (struct bucket){ 0 };
		return UINT64_MAX;
	}
	/* A clock read earlier elsewhere may be behind: nothing to add. */
	if (now_ms > b->b_ms)
		b->b_tokens += rate * (double)(now_ms - b->b_ms) / 1000.0;
	if (b->b_tokens > rate)
		b->b_tokens = rate;
	if (now_ms > b->b_ms)
		b->b_ms = now_ms;
	return b->b_tokens < 1.0 ? 0 : (uint64_t)b->b_tokens;
}

void
bucket_spend(struct bucket *b, uint64_t n)
{
	b->b_tokens -= (double)n;
}

uint64_t
bucket_wait_ms(const struct bucket *b, double rate, uint64_t n)
{
	double want = (double)n;

	if (rate <= 0)
		return 0;
	if (want > rate)
		want = rate;
	if (b->b_tokens >= want)
		return 0;
	return (uint64_t)ceil((want - b->b_tokens) * 1000.0 / rate);
}

bool
bucket_take(struct bucket *b, double rate, uint64_t now_ms)
{
	if (bucket_room(b, rate, now_ms) == 0)
		return false;
	bucket_spend(b, 1);
	return true;
}
