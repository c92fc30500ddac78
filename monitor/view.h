/*
 * What the monitor knows of each tenant stream, and what it does with
 * it: reports from the apps summed per stream (or per tenant for batch
 * apps), streammgr's statistics, the policy's decision on each new
 * statistic (policy.c) sent as a scale request (smgrctl.c), constraint
 * violations and the optional pause, and the dashboard lines each
 * monitor.interval (dash.c).
 */
#ifndef MYSIMBDP_MONITOR_VIEW_H
#define MYSIMBDP_MONITOR_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "mon.h"

/*
 * Takes a checked report of tenant t. Returns REPORT_OK, or
 * REPORT_INCONSISTENT with why when it names a stream t does not have.
 */
enum report_verdict view_report(struct mtenant *t, const struct report *r,
    char *why, size_t whylen);

/* Takes a stream's statistics; decides, and asks streammgr for a change. */
void view_stats(struct mon *m, const char *tenant, const char *stream,
    const struct mstats *st);

/* Takes one of streammgr's events: a dashboard line. */
void view_event(struct mon *m, const char *tenant, const char *stream,
    const char *event, const char *detail);

/* Each monitor.interval: the dashboard lines; forgets stale reports. */
void view_tick(struct mon *m);

/* What became of a request to streammgr (smgrctl_done_cb). */
void view_ctl_done(struct mon *m, const char *cmd, const char *tenant,
    const char *stream, bool ok, const char *detail);

/* Average ingest time per message in s's fresh reports; < 0: none. */
double view_ingest_us(const struct mstream *s, uint64_t now_ms);

/* Whether s's statistics are recent enough to show and act on. */
bool view_stats_fresh(const struct mon *m, const struct mstream *s,
    uint64_t now_ms);

#endif
