/*
 * The dashboard's lines that are not a decision's (decide.c writes
 * those): each monitor.interval a "stat" line per tenant stream, its
 * "violation" and "dead-letters" lines when the interval had any, a
 * tenant's "batch" and "dropped" lines; and a line per streammgr event.
 * The counts "since the last dashboard line" (ms_tick, mt_batch_tick,
 * ...) start again from 0 once written. Formats in docs/architecture.md,
 * "The dashboard"; dash.c writes the lines.
 */
#ifndef MYSIMBDP_MONITOR_DASHLINE_H
#define MYSIMBDP_MONITOR_DASHLINE_H

#include <stdint.h>

#include "mon.h"

/* Each monitor.interval: the lines of every tenant, at now (monotonic). */
void dashline_tick(struct mon *m, uint64_t now_ms);

/* Takes one of streammgr's events: a dashboard line. */
void dashline_event(struct mon *m, const char *tenant, const char *stream,
    const char *event, const char *detail);

#endif
