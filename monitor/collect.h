/*
 * The metric intake: one PULL socket per tenant (our own, zrouter.h) at
 * run/<tenant>/metrics.sock, the endpoint given to every app of that
 * tenant as ZMQ_METRICS_ENDPOINT. run/<tenant>/ is the tenant's own
 * (0700), so the endpoint a report arrives on says whose it is. Every
 * report is checked (report.c); what fails is counted by verdict and
 * dropped.
 */
#ifndef MYSIMBDP_MONITOR_COLLECT_H
#define MYSIMBDP_MONITOR_COLLECT_H

#include <stddef.h>

#include "mon.h"

/*
 * Prepares run/<tenant>/ and binds the tenant's socket. Returns 0, or -1
 * with the reason in err (the tenant is then not listened to).
 */
int collect_open(struct mtenant *t, char *err, size_t errlen);

/* Closes the tenant's socket and removes its file. */
void collect_close(struct mtenant *t);

#endif
