#include "batch.h"

#include <time.h>

#include "log.h"

void
batch_record(struct batch *b, const struct record *r)
{
	if (record_append(b->b_ingest_fd, r) < 0)
		log_warn("append to log/ingest.jsonl (tenant %s, file %s)",
		    r->r_tenant, r->r_file);
}

int64_t
batch_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timeval
batch_tv(uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	return tv;
}
