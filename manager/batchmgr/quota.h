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
 * Whether a file of bytes at now_ms fits the window, without counting it
 * or changing q. Returns NULL, or the reason for refusal (written into buf).
 */
const char *quota_check(const struct quota *q, const struct conf_quota *c,
    int64_t now_ms, uint64_t bytes, char *buf, size_t len);

/* Counts a file of bytes accepted at now_ms (after quota_check said yes). */
void quota_count(struct quota *q, const struct conf_quota *c, int64_t now_ms,
    uint64_t bytes);

/*
 * quota_check, then quota_count when the file fits. Returns NULL, or the
 * reason for refusal (written into buf).
 */
const char *quota_admit(struct quota *q, const struct conf_quota *c,
    int64_t now_ms, uint64_t bytes, char *buf, size_t len);

void quota_free(struct quota *q);

#endif
