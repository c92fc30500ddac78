#include "batch.h"

#include <time.h>

#include "log.h"

void
batch_record(struct batch *b, const struct record *r)
{
	if (record_append(b->b_ingest_fd, r) < 0)
		log_warn("append to log/ingest.jsonl (tenant %s, file %s)",
		    r->r_tenant, r->r_file);
	if (record_append_quality(b->b_quality_fd, r) < 0)
		log_warn("append to log/quality.jsonl (tenant %s, file %s)",
		    r->r_tenant, r->r_file);
}

