#include "bucket.h"

bool
bucket_take(struct bucket *b, double rate, uint64_t now_ms)
{
	if (rate <= 0)
		return true;
	/* A clock read earlier elsewhere may be behind: nothing to add. */
	if (now_ms > b->b_ms)
		b->b_tokens += rate * (double)(now_ms - b->b_ms) / 1000.0;
	if (b->b_tokens > rate)
		b->b_tokens = rate;
	if (now_ms > b->b_ms)
		b->b_ms = now_ms;
	if (b->b_tokens < 1.0)
		return false;
	b->b_tokens -= 1.0;
	return true;
}
