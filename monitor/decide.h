/*
 * What the monitor does with each new statistic of a stream (view.c
 * has stored it): the policy's decision (policy.c) on a running stream
 * whose profile has a scaling group, sent to streammgr as a scale
 * request (smgrctl.c); messages refused for the stream's quotas as a
 * violation, and past the profile's pause_after a drain request (the
 * pause). Each request, and each that fails, is a dashboard line and a
 * record in log/metrics.jsonl.
 */
#ifndef MYSIMBDP_MONITOR_DECIDE_H
#define MYSIMBDP_MONITOR_DECIDE_H

#include <stdbool.h>
#include <stdint.h>

#include "mon.h"

/*
 * Acts on s's statistics, just taken by view_stats() at now (monotonic
 * ms): a pause ends when an operator started the stream again, the
 * violation check, then the policy.
 */
void decide_stats(struct mstream *s, uint64_t now);

/* What became of a request to streammgr (smgrctl_done_cb). */
void decide_ctl_done(struct mon *m, const char *cmd, const char *tenant,
    const char *stream, bool ok, const char *detail);

#endif
