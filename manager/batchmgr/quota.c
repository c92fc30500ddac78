#include "quota.h"

#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "units.h"

static void
expire(struct quota *q, int64_t horizon)
{
	while (q->q_count && q->q_ring[q->q_head].qe_time_ms <= horizon) {
		q->q_bytes -= q->q_ring[q->q_head].qe_bytes;
		q->q_head = (q->q_head + 1) % q->q_cap;
		q->q_count--;
	}
}

static void
push(struct quota *q, int64_t now_ms, uint64_t bytes)
{
	if (q->q_count == q->q_cap) {
		size_t cap = q->q_cap ? q->q_cap * 2 : 64;
		struct quota_entry *ring = malloc(cap * sizeof(*ring));

		if (ring == NULL)
			fatal("%s: malloc", __func__);
		for (size_t i = 0; i < q->q_count; i++)
			ring[i] = q->q_ring[(q->q_head + i) % q->q_cap];
		free(q->q_ring);
		q->q_ring = ring;
		q->q_head = 0;
		q->q_cap = cap;
	}
	q->q_ring[(q->q_head + q->q_count) % q->q_cap] =
	    (struct quota_entry){ now_ms, bytes };
	q->q_count++;
	q->q_bytes += bytes;
}

/* Files and bytes counted at or before horizon, which the window has left. */
static void
expired(const struct quota *q, int64_t horizon, size_t *files, uint64_t *bytes)
{
	const struct quota_entry *e;

	*files = 0;
	*bytes = 0;
	while (*files < q->q_count) {
		e = &q->q_ring[(q->q_head + *files) % q->q_cap];
		if (e->qe_time_ms > horizon)
			break;
		*bytes += e->qe_bytes;
		(*files)++;
	}
}

const char *
quota_check(const struct quota *q, const struct conf_quota *c, int64_t now_ms,
    uint64_t bytes, char *buf, size_t len)
{
	char win[32], a[32], b[32];
	size_t gone, files;
	uint64_t gone_bytes, held;

	expired(q, now_ms - (int64_t)c->q_window_ms, &gone, &gone_bytes);
	files = q->q_count - gone;
	held = q->q_bytes - gone_bytes;
	units_fmt_duration(c->q_window_ms, win, sizeof(win));
	if (c->q_max_files && (int64_t)files >= c->q_max_files) {
		snprintf(buf, len, "quota-files: %zu files accepted in the last "
		    "%s (max_files %lld)", files, win,
		    (long long)c->q_max_files);
		return buf;
	}
	if (c->q_max_bytes && held + bytes > c->q_max_bytes) {
		snprintf(buf, len, "quota-bytes: %s accepted in the last %s, "
		    "this file would pass max_bytes %s",
		    units_fmt_size(held, a, sizeof(a)), win,
		    units_fmt_size(c->q_max_bytes, b, sizeof(b)));
		return buf;
	}
	return NULL;
}

void
quota_count(struct quota *q, const struct conf_quota *c, int64_t now_ms,
    uint64_t bytes)
{
	expire(q, now_ms - (int64_t)c->q_window_ms);
	/* Without limits there is nothing to remember. */
	if (c->q_max_files || c->q_max_bytes)
		push(q, now_ms, bytes);
}

const char *
quota_admit(struct quota *q, const struct conf_quota *c, int64_t now_ms,
    uint64_t bytes, char *buf, size_t len)
{
	const char *why = quota_check(q, c, now_ms, bytes, buf, len);

	if (why == NULL)
		quota_count(q, c, now_ms, bytes);
	return why;
}

void
quota_free(struct quota *q)
{
	free(q->q_ring);
	*q = (struct quota){ 0 };
}
