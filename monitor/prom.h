/*
 * The Prometheus text exposition (format 0.0.4) at
 * http://<monitor.http_address>:<monitor.http_port>/metrics, served by
 * httpget.c in the monitor's loop: per tenant stream gauges and
 * counters from streammgr's statistics and the apps' reports, per tenant
 * the reports dropped by verdict, and the monitor's own counters.
 */
#ifndef MYSIMBDP_MONITOR_PROM_H
#define MYSIMBDP_MONITOR_PROM_H

#include <stddef.h>

#include <event2/buffer.h>

#include "mon.h"

/*
 * Listens on the configured loopback address (port 0: any free port) and
 * logs the URL. Returns NULL with err set when it cannot listen.
 */
struct prom *prom_new(struct mon *m, char *err, size_t errlen);

/* Accepts NULL. */
void prom_free(struct prom *p);

/* Writes the whole exposition into out (exposed for the unit tests). */
void prom_render(struct mon *m, struct evbuffer *out);

#endif
