/*
 * Per-tenant intake quota: at most max_files files and max_bytes bytes
 * accepted within any sliding window of the profile's length.
 */
#ifndef MYSIMBDP_QUOTA_H
#define MYSIMBDP_QUOTA_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

struct quota_entry {
	int64_t		 qe_time_ms;
	uint64_t	 qe_bytes;
};

struct quota {
	struct quota_entry *q_ring;	/* accepted files, oldest at q_head */
	size_t		 q_head, q_count, q_cap;
	uint64_t	 q_bytes;	/* sum over the ring */
};

/*
 * Admits a file of bytes at now_ms if the window allows it, and counts it.
 * Returns NULL, or the reason for refusal (written into buf).
 */
const char *quota_admit(struct quota *q, const struct conf_quota *c,
    int64_t now_ms, uint64_t bytes, char *buf, size_t len);

void quota_free(struct quota *q);

#endif
