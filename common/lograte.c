#include "lograte.h"

bool
lograte_due(struct lograte *lr, uint64_t now_ms, uint64_t *unlogged)
{
	/* A clock read earlier elsewhere may be behind the last line's. */
	if (lr->lr_last_ms != 0 && (now_ms < lr->lr_last_ms ||
	    now_ms - lr->lr_last_ms < LOGRATE_EVERY_MS)) {
		lr->lr_unlogged++;
		return false;
	}
	*unlogged = lr->lr_unlogged;
	lr->lr_last_ms = now_ms;
	lr->lr_unlogged = 0;
	return true;
}
