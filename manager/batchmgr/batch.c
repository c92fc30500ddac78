#include "batch.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "log.h"

int
batch_record(struct batch *b, const struct record *r)
{
	if (record_append(b->b_ingest_fd, r) < 0) {
		/* A full disk fails every record, each tried again later:
		 * the first failure warns, the rest until one works are
		 * debug lines. */
		if (b->b_record_failing)
			log_debug("append to log/ingest.jsonl (tenant %s, file "
			    "%s, %s): %s", r->r_tenant, r->r_file, r->r_status,
			    strerror(errno));
		else
			log_warn("append to log/ingest.jsonl (tenant %s, file "
			    "%s, %s): files wait where they are until their "
			    "record is written", r->r_tenant, r->r_file,
			    r->r_status);
		b->b_record_failing = true;
		return -1;
	}
	if (b->b_record_failing)
		log_info("log/ingest.jsonl: records are written again");
	b->b_record_failing = false;
	if (record_append_quality(b->b_quality_fd, r) < 0)
		log_warn("append to log/quality.jsonl (tenant %s, file %s)",
		    r->r_tenant, r->r_file);
	return 0;
}

