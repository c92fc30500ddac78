/*
 * What the monitor knows of each tenant stream: the reports of its apps
 * summed per stream (or per tenant for batch apps), each instance's
 * recent reports for the ingest-time average, and streammgr's latest
 * statistics with what the counters grew by since the ones before.
 * Nothing here decides (decide.c) or writes a dashboard line
 * (dashline.c); reports go to log/metrics.jsonl as they come.
 */
#ifndef MYSIMBDP_MONITOR_VIEW_H
#define MYSIMBDP_MONITOR_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mon.h"

/*
 * Takes a checked report of tenant t. Returns REPORT_OK, or
 * REPORT_INCONSISTENT with why when it names a stream t does not have.
 */
enum report_verdict view_report(struct mtenant *t, const struct report *r,
    char *why, size_t whylen);

/*
 * Takes a stream's statistics and their quality rules, received at now
 * (monotonic ms), and adds the refusals and dead letters since the ones
 * before to the interval's counts: every REJECT, and the THROTTLEs the
 * tenant caused (rate, queue-full; not those for draining, stopping or
 * a full disk). Returns the stream, or NULL when no
 * profile has it.
 */
struct mstream *view_stats(struct mon *m, const char *tenant,
    const char *stream, const struct mstats *st, const struct mrules *rules,
    uint64_t now);

/*
 * Messages refused for s's quotas (too large, rate limited, queue full)
 * between its last two statistics.
 */
int64_t view_quota_refusals(const struct mstream *s);

/* Forgets the instances that have not reported for monitor.report_ttl. */
void view_expire(struct mon *m, uint64_t now_ms);

/* Average ingest time per message in s's fresh reports; < 0: none. */
double view_ingest_us(const struct mstream *s, uint64_t now_ms);

/* Whether s's statistics are recent enough to show and act on. */
bool view_stats_fresh(const struct mon *m, const struct mstream *s,
    uint64_t now_ms);

#endif
